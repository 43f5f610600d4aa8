/* test_cli_size.c - the one parser of size and count options
 * (pm_size_parse in platform/util.c; pm_cli_size, pm_cli_seconds in
 * orchestrate/cli/cli_opts.c): a
 * table of accepted and refused spellings, 64-bit overflow, the option's
 * own range, "off", and that every refusal names the command, the option
 * and the value and asks for exit 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"
#include "testutil.h"
#include "util.h"

static void test_cli_size_accepted(void **state) {
  (void)state;
  static const struct {
    const char *s;
    uint64_t v;
  } good[] = {
      {"0", 0},
      {"1", 1},
      {"4096", 4096},
      {"007", 7},
      {"512B", 512},
      {"512b", 512},
      {"4K", 4096},
      {"4k", 4096},
      {"4KB", 4096},
      {"4kb", 4096},
      {"4KiB", 4096},
      {"4kib", 4096},
      {"4KIB", 4096},
      {"1M", 1048576},
      {"1MiB", 1048576},
      {"1mb", 1048576},
      {"3G", 3ull << 30},
      {"3GiB", 3ull << 30},
      {"2T", 2ull << 40},
      {"2TiB", 2ull << 40},
      {"18446744073709551615", UINT64_MAX},
      {"16777215T", 16777215ull << 40},
      {"17179869183G", 17179869183ull << 30},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    uint64_t v = 12345;
    int rc = pm_size_parse(good[i].s, &v);
    if (rc || v != good[i].v)
      fail_msg("'%s': rc %d value %llu, expected %llu", good[i].s, rc,
               (unsigned long long)v, (unsigned long long)good[i].v);
  }
}

static void test_cli_size_refused(void **state) {
  (void)state;
  static const char *const bad[] = {
      "", " 1", "1 ", "-1", "+1", "1.5G", "1,5G", "0x10", "1e6", "12Q",
      "K", "KiB", "4KK", "4Ki", "4KiBB", "4iB", "4 K", "4BB", "4kB2",
      "off", "inf", "nan", "4P", "4E", "1\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t v = 777;
    int rc = pm_size_parse(bad[i], &v);
    if (rc != PM_EINVAL)
      fail_msg("'%s' accepted or misjudged (rc %d)", bad[i], rc);
    assert_int_equal(v, 777); /* untouched */
  }
  static const char *const big[] = {
      "18446744073709551616", "99999999999999999999999", "16777216T",
      "17179869184G", "17592186044416M", "18014398509481984K",
      "18446744073709551616B"};
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
    uint64_t v = 777;
    int rc = pm_size_parse(big[i], &v);
    if (rc != PM_ERANGE) fail_msg("'%s': rc %d, not PM_ERANGE", big[i], rc);
    assert_int_equal(v, 777);
  }
}

/* Runs pm_cli_size with stderr captured into `msg`. */
static int cli(const char *opt, const char *val, uint64_t min, uint64_t max,
               unsigned flags, uint64_t *v, char *msg, size_t cap) {
  fflush(stderr);
  FILE *f = tu_tmpfile();
  assert_non_null(f);
  int saved = dup(2);
  dup2(fileno(f), 2);
  int rc = pm_cli_size("copy", opt, val, min, max, flags, v);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  rewind(f);
  size_t n = fread(msg, 1, cap - 1, f);
  msg[n] = '\0';
  fclose(f);
  return rc;
}

static void test_cli_size_option_range(void **state) {
  (void)state;
  char msg[512];
  uint64_t v = 0;
  assert_int_equal(cli("--chunk-size", "64K", 4096, 64u << 20, 0, &v, msg,
                       sizeof msg), 0);
  assert_int_equal(v, 65536);
  assert_string_equal(msg, "");
  /* Each refusal: exit 2, one line naming command, option and value. */
  static const struct {
    const char *val;
    unsigned flags;
    const char *says;
  } bad[] = {
      {"12Q", 0, "is not a size"},
      {"1G", 0, "is out of range (use 4 KiB to 64 MiB)"},
      {"4095", 0, "is out of range"},
      {"99999999999999999999", 0, "is out of range"},
      {"1.5M", 0, "is not a size"},
      {"off", 0, "is not a size"},
      {"64K", PM_SIZE_PLAIN, "is not a number"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    v = 42;
    int rc = cli("--chunk-size", bad[i].val, 4096, 64u << 20, bad[i].flags,
                 &v, msg, sizeof msg);
    assert_int_equal(rc, PM_EXIT_USAGE);
    assert_int_equal(v, 42);
    char head[128];
    snprintf(head, sizeof head, "pomove copy: --chunk-size: \"%s\" ",
             bad[i].val);
    if (strncmp(msg, head, strlen(head)) || !strstr(msg, bad[i].says))
      fail_msg("'%s': message '%s'", bad[i].val, msg);
  }
  /* Unbounded options: an overflow says so. */
  assert_int_equal(cli("--batch-bytes", "20000000T", 1, UINT64_MAX, 0, &v,
                       msg, sizeof msg), PM_EXIT_USAGE);
  assert_non_null(strstr(msg, "--batch-bytes: \"20000000T\" is too large"));
  /* "off" only where the option documents it. */
  assert_int_equal(cli("--uncached-min", "off", 1, UINT64_MAX, PM_SIZE_OFF,
                       &v, msg, sizeof msg), 0);
  assert_true(v == UINT64_MAX);
  assert_int_equal(cli("--uncached-min", "0", 1, UINT64_MAX, PM_SIZE_OFF,
                       &v, msg, sizeof msg), PM_EXIT_USAGE);
  assert_non_null(strstr(msg, ", or off"));
  /* A control byte in the value is shown escaped, never raw. */
  assert_int_equal(cli("--chunk-size", "1\x1b[2J", 4096, 1u << 20, 0, &v,
                       msg, sizeof msg), PM_EXIT_USAGE);
  assert_null(strchr(msg, '\x1b'));
}

static void test_cli_size_seconds(void **state) {
  (void)state;
  double s = -1;
  assert_int_equal(pm_cli_seconds("check", "--stop-timeout", "2", 86400, &s),
                   0);
  assert_true(s == 2.0);
  assert_int_equal(pm_cli_seconds("check", "--stop-timeout", "0.5", 86400,
                                  &s), 0);
  assert_true(s == 0.5);
  static const char *const bad[] = {"", "x", "-1", "1e3", "inf", " 1",
                                    "90000", ".", "1..2", "0x10"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fflush(stderr);
    int saved = dup(2);
    int devnull = open(TU_NULL_DEVICE, O_WRONLY);
    dup2(devnull, 2);
    int rc = pm_cli_seconds("check", "--stop-timeout", bad[i], 86400, &s);
    dup2(saved, 2);
    close(saved);
    close(devnull);
    if (rc != PM_EXIT_USAGE) fail_msg("'%s' accepted", bad[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cli_size_accepted),
      cmocka_unit_test(test_cli_size_refused),
      cmocka_unit_test(test_cli_size_option_range),
      cmocka_unit_test(test_cli_size_seconds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
