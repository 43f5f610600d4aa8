/* test_bench_floor.c - pm_floor, the benchmark floor (bench/floor.c):
 * floor-copies a small generated postoffice (plus a file larger than the
 * O_DIRECT threshold with an unaligned tail, an empty file and a symlink)
 * through each of its write paths - cached, O_DIRECT, a file larger than
 * the reused buffer (read and written in pieces, the last one unaligned),
 * several threads - and checks the copy with `diff -r` and its printed
 * figures; and that it refuses an existing DST and a bad option (a bad
 * --buffer too) with exit 2. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Value of "key N" in pm_floor's output, or -1. */
static double floor_value(const char *out, const char *key) {
  size_t kl = strlen(key);
  for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (!strncmp(p, key, kl) && p[kl] == ' ') return strtod(p + kl + 1, NULL);
  }
  return -1;
}

static const char *make_source(void) {
  const char *s = tu_scratch();
  int rc = tu_sh("'%s' gen-postoffice '%s/src' --files 150 --quiet", tu_pomove(), s);
  assert_int_equal(rc, 0);
  /* 5 MiB + 3 bytes: over --direct-min 1 MiB, with a tail that an
   * O_DIRECT write cannot carry. */
  char p[4096];
  snprintf(p, sizeof p, "%s/src/extra", s);
  assert_int_equal(tu_sh("mkdir -p '%s/deep/er'", p), 0);
  snprintf(p, sizeof p, "%s/src/extra/deep/er/big.bin", s);
  tu_write_pattern(p, (5u << 20) + 3, 17);
  snprintf(p, sizeof p, "%s/src/extra/empty", s);
  tu_write_text(p, "");
  assert_int_equal(tu_sh("ln -s deep/er/big.bin '%s/src/extra/link'", s), 0);
  return s;
}

static void floor_copy_and_diff(const char *s, const char *opts, bool expect_direct,
                                double expect_buffer) {
  char *out = NULL;
  tu_sh("rm -rf '%s/dst'", s);
  int rc = tu_sh_out(&out, "'%s' %s '%s/src' '%s/dst'", PM_FLOOR_BIN, opts, s, s);
  if (rc != 0) fprintf(stderr, "pm_floor %s: exit %d\n%s\n", opts, rc, out ? out : "");
  assert_int_equal(rc, 0);
  assert_non_null(out);
  /* Identical contents, links and names. */
  assert_int_equal(tu_sh("diff -r --no-dereference '%s/src' '%s/dst'", s, s), 0);
  /* The counts are the tree's. */
  char *n = NULL;
  assert_int_equal(tu_sh_out(&n, "find '%s/src' -type f | wc -l", s), 0);
  assert_true(floor_value(out, "files") == strtod(n, NULL));
  free(n);
  assert_true(floor_value(out, "links") == 1);
  assert_true(floor_value(out, "create_write_s") >= 0);
  assert_true(floor_value(out, "flush_s") >= 0);
  double total = floor_value(out, "total_s");
  assert_true(total >= floor_value(out, "create_write_s"));
  assert_true(floor_value(out, "user_s") >= 0 && floor_value(out, "sys_s") >= 0);
  assert_true(floor_value(out, "overlap_flushes") >= 0);
  if (strstr(opts, "--flush-every 0")) assert_true(floor_value(out, "overlap_flushes") == 0);
  if (expect_direct) assert_true(floor_value(out, "direct") >= 1);
  else assert_true(floor_value(out, "direct") == 0);
  assert_true(floor_value(out, "buffer") == expect_buffer);
  free(out);
}

static void test_bench_floor_copies_identical_tree(void **state) {
  (void)state;
  const char *s = make_source();
  /* Preloaded, cached writes only. */
  floor_copy_and_diff(s, "--no-direct --threads 2", false, 64 << 20);
  /* The big file through O_DIRECT with its tail written cached. On a
   * file system without O_DIRECT (tmpfs) pm_floor falls back and counts
   * no direct file, so only demand it where the scratch dir allows it. */
  bool odirect = tu_sh("dd if=/dev/zero of='%s/probe' bs=4096 count=1 oflag=direct "
                       "2>/dev/null", s) == 0;
  floor_copy_and_diff(s, "--direct-min 1048576", odirect, 64 << 20);
  /* Every non-empty file through O_DIRECT, most of them all tail. */
  floor_copy_and_diff(s, "--direct-min 1", odirect, 64 << 20);
  /* A buffer smaller than most files: each read and written in pieces,
   * the big file's pieces through O_DIRECT and its tail cached. */
  floor_copy_and_diff(s, "--buffer 4096 --threads 3", false, 4096);
  floor_copy_and_diff(s, "--buffer 1052672 --direct-min 1048576 --threads 4", odirect, 1052672);
  /* One syncfs at the end only, and a syncfs after every 4 KiB written
   * while the writers run (the flusher thread beside them). */
  floor_copy_and_diff(s, "--flush-every 0", false, 64 << 20);
  floor_copy_and_diff(s, "--flush-every 4096 --threads 3", false, 64 << 20);
  tu_cleanup();
}

static void test_bench_floor_refuses_bad_use(void **state) {
  (void)state;
  const char *s = tu_scratch();
  assert_int_equal(tu_sh("mkdir -p '%s/src/a' '%s/dst'", s, s), 0);
  /* DST exists: exit 2, nothing written into it. */
  assert_int_equal(tu_sh("'%s' '%s/src' '%s/dst' 2>/dev/null", PM_FLOOR_BIN, s, s), 2);
  assert_int_equal(tu_sh("test -z \"$(ls -A '%s/dst')\"", s), 0);
  assert_int_equal(tu_sh("'%s' --threads 0 '%s/src' '%s/d2' 2>/dev/null", PM_FLOOR_BIN, s, s), 2);
  assert_int_equal(tu_sh("'%s' --bogus '%s/src' '%s/d2' 2>/dev/null", PM_FLOOR_BIN, s, s), 2);
  assert_int_equal(tu_sh("'%s' --buffer 4095 '%s/src' '%s/d2' 2>/dev/null", PM_FLOOR_BIN, s, s), 2);
  assert_int_equal(tu_sh("'%s' --buffer 0 '%s/src' '%s/d2' 2>/dev/null", PM_FLOOR_BIN, s, s), 2);
  assert_int_equal(tu_sh("'%s' '%s/nosuch' '%s/d2' 2>/dev/null", PM_FLOOR_BIN, s, s), 2);
  assert_int_equal(tu_sh("test ! -e '%s/d2'", s), 0);
  assert_int_equal(tu_sh("'%s' --help >/dev/null", PM_FLOOR_BIN), 0);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bench_floor_copies_identical_tree),
      cmocka_unit_test(test_bench_floor_refuses_bad_use),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
