/* test_cli_common.c - what every pomove command line shares: a size or
 * count option that is refused names the command, the option and the
 * value and exits 2 (one test per command), and -q leaves stdout and
 * stderr empty on success (with --json only the JSON) while errors still
 * show. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "testutil.h"

static const char *scratch;

static int setup(void **state) {
  (void)state;
  scratch = tu_scratch();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char h[4200];
  snprintf(h, sizeof h, "%s/host", scratch);
  pm_sim_kill_all(h);
  tu_cleanup();
  return 0;
}

/* Runs `pomove ARGS` expecting exit 2 and a message that starts with
 * "pomove CMD: OPT: "VALUE"". */
static void refused(const char *cmd, const char *opt, const char *value,
                    const char *rest) {
  char *out = NULL;
  int rc = tu_sh_out(&out, "'%s' %s %s '%s' %s 2>&1 >/dev/null", tu_pomove(),
                     cmd, opt, value, rest);
  char want[256];
  snprintf(want, sizeof want, "pomove %s: %s: \"%s\"", cmd, opt, value);
  if (rc != 2 || !strstr(out, want))
    fail_msg("%s %s %s: exit %d, said: %s", cmd, opt, value, rc, out);
  free(out);
}

static void test_cli_common_copy_option_named(void **state) {
  (void)state;
  refused("copy", "--chunk-size", "12Q", "a b");
  refused("copy", "--chunk-size", "1G", "a b");
  refused("copy", "--inflight-bytes", "1K", "a b"); /* was clamped */
  refused("copy", "--batch-bytes", "20000000T", "a b");
  refused("copy", "--checkpoint-bytes", "1.5M", "a b");
  refused("copy", "--uncached-min", "offf", "a b");
  refused("copy", "--threads", "4x", "a b");
  refused("copy", "--files-in-flight", "5000", "a b"); /* was clamped */
  refused("copy", "--batch-files", "-1", "a b");
}

static void test_cli_common_verify_hash_option_named(void **state) {
  (void)state;
  refused("verify", "--threads", "0x", "a b");
  refused("verify", "--show", "1K", "a b");
  refused("verify", "--time-tolerance", "1e3", "a b");
  refused("hash", "--threads", "9999", "a");
}

static void test_cli_common_orch_option_named(void **state) {
  (void)state;
  refused("move", "--threads", "abc", "--host sim:/nonexistent");
  refused("plan", "--stop-timeout", "x", "--host sim:/nonexistent");
  refused("rollback", "--start-timeout", "-3", "--host sim:/nonexistent");
  refused("check", "--stop-timeout", "soon", "--host sim:/x --expect D:");
  refused("sim-create", "--dest-free", "1Q", "/nonexistent/x");
  refused("sim-create", "--files", "99999999999999999999999", "/x");
  refused("sim-create", "--touch", "0", "/nonexistent/x");
}

static void test_cli_common_gen_option_named(void **state) {
  (void)state;
  refused("gen-postoffice", "--size", "1.5Q", "/nonexistent/x");
  refused("gen-postoffice", "--large-size", "20000000T", "/nonexistent/x");
  refused("gen-postoffice", "--files", "0", "/nonexistent/x");
  refused("gen-postoffice", "--seed", "4G", "/nonexistent/x");
}

/* Runs a command that must succeed silently: exit `code`, stderr empty,
 * stdout empty (or starting with '{' when json). */
static void silent(int code, bool json, const char *fmt, const char *a,
                   const char *b) {
  char cmd[8192], *out = NULL;
  snprintf(cmd, sizeof cmd, fmt, a, b);
  char errf[4200];
  snprintf(errf, sizeof errf, "%s/stderr", scratch);
  int rc = tu_sh_out(&out, "'%s' %s 2>'%s'", tu_pomove(), cmd, errf);
  size_t elen = 0;
  char *err = tu_read_all(errf, &elen);
  if (rc != code || elen || (json ? out[0] != '{' : out[0] != '\0'))
    fail_msg("pomove %s: exit %d (want %d), stdout '%s', stderr '%s'", cmd,
             rc, code, out, err);
  free(err);
  free(out);
}

static void test_cli_common_quiet_every_command(void **state) {
  (void)state;
  char src[4200], dst[4200], host[4200];
  snprintf(src, sizeof src, "%s/src", scratch);
  snprintf(dst, sizeof dst, "%s/dst", scratch);
  snprintf(host, sizeof host, "%s/host", scratch);
  silent(0, false, "gen-postoffice -q '%s' --files 120%s", src, "");
  silent(0, false, "copy -q '%s' '%s'", src, dst);
  silent(0, false, "verify -q '%s' '%s'", src, dst);
  silent(0, true, "verify -q --json '%s' '%s'", src, dst);
  silent(0, false, "verify -q --manifest '%s.xxh128' '%s'", dst, dst);
  silent(0, true, "hash -q --json -o '%s/m' '%s'", scratch, src);
  silent(0, false, "sim-create -q '%s' --files 100 --start-delay 1 "
                   "--stop-delay 1%s", host, "");
  silent(0, false, "plan -q --host 'sim:%s' --from 'C:\\exchsrvr' --to D:%s",
         host, "");
  silent(0, false, "move -q --host 'sim:%s' --from 'C:\\exchsrvr' --to D:%s",
         host, "");
  silent(0, false, "check -q --host 'sim:%s' --expect D:%s", host, "");
  silent(0, true, "check -q --json --host 'sim:%s' --expect D:%s", host, "");
  silent(0, false, "remove-old -q --dry-run --host 'sim:%s'%s", host, "");
  silent(0, true, "rollback -q --json --host 'sim:%s'%s", host, "");
  silent(0, false, "rollback -q --host 'sim:%s'%s", host, "");
  /* -q never hides an error, nor a difference. */
  char *out = NULL;
  assert_int_equal(tu_sh_out(&out, "'%s' copy -q '%s/none' '%s/d2' 2>&1",
                             tu_pomove(), scratch, scratch), 2);
  assert_non_null(strstr(out, "none"));
  free(out);
  char f[4300];
  snprintf(f, sizeof f, "%s/Maildata/extra.dat", dst);
  tu_write_text(f, "x");
  assert_int_equal(tu_sh_out(&out, "'%s' verify -q '%s' '%s' 2>/dev/null",
                             tu_pomove(), src, dst), 1);
  assert_non_null(strstr(out, "extra.dat"));
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cli_common_copy_option_named),
      cmocka_unit_test(test_cli_common_verify_hash_option_named),
      cmocka_unit_test(test_cli_common_orch_option_named),
      cmocka_unit_test(test_cli_common_gen_option_named),
      cmocka_unit_test(test_cli_common_quiet_every_command),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
