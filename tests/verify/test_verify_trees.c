/* test_verify_trees.c - `pomove verify SRC DST`, once per I/O engine: a
 * generated tree is copied with `cp -a`, one difference of each kind is
 * injected into the copy, and the --json counts are checked category by
 * category, with the path of every difference. Also: the time tolerance,
 * --compare, --report, exit codes, unreadable entries (chmod 000 when not
 * root; through a fault-injecting table always), and the library call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "faultlayer.h"
#include "report.h"
#include "testutil.h"
#include "util.h"
#include "vtest.h"

/* 1 MiB: four chunks of the default 256 KiB into the file. */
#define CHUNK_EDGE 1048576

static char src[2048], dst[2048];

/* SRC: 42 entries. */
static void make_trees(const char *dir) {
  snprintf(src, sizeof src, "%s/src", dir);
  snprintf(dst, sizeof dst, "%s/dst", dir);
  assert_int_equal(tu_sh("mkdir -p '%s/d1/sub'", src), 0);
  char p[4096];
  for (int i = 0; i < 20; i++) {
    snprintf(p, sizeof p, "%s/d1/small%02d", src, i);
    tu_write_pattern(p, 100 + 37 * i, i);
  }
  for (int i = 0; i < 5; i++) {
    snprintf(p, sizeof p, "%s/d1/sub/g%d", src, i);
    tu_write_pattern(p, 5000, 50 + i);
  }
  const char *bigs[] = {"big1", "big2", "big3"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s", src, bigs[i]);
    tu_write_pattern(p, 3 * 1048576 + 777, 7);
  }
  const char *small[] = {"trunc", "extend", "gone", "mode", "mtime",
                         "replaced", "hl_a", "hl2_a"};
  for (int i = 0; i < 8; i++) {
    snprintf(p, sizeof p, "%s/%s", src, small[i]);
    tu_write_pattern(p, 10000, 80 + i);
  }
  snprintf(p, sizeof p, "%s/emptyfile", src);
  tu_write_text(p, "");
  assert_int_equal(tu_sh("cd '%s' && ln -s d1/small00 link && ln hl_a hl_b "
                         "&& ln hl2_a hl2_b",
                         src),
                   0);
  assert_int_equal(tu_sh("cp -a '%s' '%s'", src, dst), 0);
}

/* Directory mtimes in DST change when entries are added or removed; put
 * them back so that only the injected differences show. */
static void restore_dir_times(void) {
  assert_int_equal(
      tu_sh("cd '%s' && find . -mindepth 1 -type d | while read -r d; do "
            "[ -d '%s'/\"$d\" ] && touch -m -r \"$d\" '%s'/\"$d\"; done; true",
            src, dst, dst),
      0);
}

static void inject_all(void) {
  /* One byte flipped exactly at a chunk boundary and one in the middle
   * of a chunk. */
  assert_int_equal(
      tu_sh("printf '\\377' | dd of='%s/big1' bs=1 seek=%d conv=notrunc "
            "status=none && printf '\\377' | dd of='%s/big2' bs=1 seek=%d "
            "conv=notrunc status=none",
            dst, CHUNK_EDGE, dst, CHUNK_EDGE + 100000),
      0);
  assert_int_equal(
      tu_sh("cd '%s' && truncate -s 5000 trunc && printf more >> extend && "
            "rm gone && printf new > newfile && chmod 600 mode && "
            "touch -m -d '2001-02-03 04:05:06' mtime && ln -sfn d1/small01 "
            "link && rm replaced && mkdir replaced && printf in > "
            "replaced/inner && cp -p hl2_b hl2_b.tmp && mv hl2_b.tmp hl2_b",
            dst),
      0);
  restore_dir_times();
}

static char *run_json(const char *engine, const char *extra, int *rc) {
  char *out = NULL;
  *rc = tu_sh_out(&out, "'%s' verify --json --quiet --engine %s %s '%s' '%s'",
                  tu_pomove(), engine, extra ? extra : "", src, dst);
  return out;
}

static void test_verify_trees_identical(void **state) {
  const char *engine = *state;
  if (!vt_engine_usable(engine)) {
    skip();
    return;
  }
  make_trees(tu_scratch());
  int rc;
  char *j = run_json(engine, NULL, &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(vt_json_num(j, NULL, "entries"), 42);
  assert_int_equal(vt_json_num(j, NULL, "entries_src"), 42);
  assert_int_equal(vt_json_num(j, NULL, "entries_dst"), 42);
  assert_int_equal(vt_json_num(j, "counts", "identical"), 42);
  assert_int_equal(vt_json_num(j, NULL, "differences_total"), 0);
  /* 39 regular files on each side (two pairs of hard links), every one
   * read. */
  assert_int_equal(vt_json_num(j, NULL, "files_hashed"), 78);
  uint64_t bytes = 20 * 100 + 37 * 190 + 5 * 5000 + 3 * (3 * 1048576 + 777) +
                   10 * 10000;
  assert_int_equal(vt_json_num(j, NULL, "bytes_hashed"), 2 * bytes);
  free(j);
  tu_cleanup();
}

static void test_verify_trees_each_difference(void **state) {
  const char *engine = *state;
  if (!vt_engine_usable(engine)) {
    skip();
    return;
  }
  const char *dir = tu_scratch();
  make_trees(dir);
  inject_all();
  int rc;
  char *j = run_json(engine, NULL, &rc);
  assert_int_equal(rc, 1);
  assert_non_null(strstr(j, "\"complete\":true"));
  assert_int_equal(vt_json_num(j, NULL, "entries_src"), 42);
  assert_int_equal(vt_json_num(j, NULL, "entries_dst"), 42 - 1 + 2);
  assert_int_equal(vt_json_num(j, NULL, "entries"), 44);
  assert_int_equal(vt_json_num(j, "counts", "identical"), 32);
  assert_int_equal(vt_json_num(j, "counts", "missing"), 1);
  assert_int_equal(vt_json_num(j, "counts", "extra"), 2);
  assert_int_equal(vt_json_num(j, "counts", "content_differs"), 3);
  assert_int_equal(vt_json_num(j, "counts", "size_differs"), 2);
  assert_int_equal(vt_json_num(j, "counts", "type_differs"), 1);
  assert_int_equal(vt_json_num(j, "counts", "metadata_differs"), 3);
  assert_int_equal(vt_json_num(j, "counts", "unreadable"), 0);
  assert_true(vt_json_has(j, "content_differs", "big1"));
  assert_true(vt_json_has(j, "content_differs", "big2"));
  assert_true(vt_json_has(j, "content_differs", "link"));
  assert_true(vt_json_has(j, "size_differs", "trunc"));
  assert_true(vt_json_has(j, "size_differs", "extend"));
  assert_true(vt_json_has(j, "missing", "gone"));
  assert_true(vt_json_has(j, "extra", "newfile"));
  assert_true(vt_json_has(j, "extra", "replaced/inner"));
  assert_true(vt_json_has(j, "type_differs", "replaced"));
  assert_true(vt_json_has(j, "metadata_differs", "mode"));
  assert_true(vt_json_has(j, "metadata_differs", "mtime"));
  /* Which of hl2_a / hl2_b is flagged depends on completion order. */
  assert_true(vt_json_has(j, "metadata_differs", "hl2_a") ||
              vt_json_has(j, "metadata_differs", "hl2_b"));
  assert_non_null(strstr(j, "hard-link group differs"));
  /* Files read: 39 pairs minus trunc and extend (sizes differ: not
   * read), minus gone and replaced (no pair). */
  assert_int_equal(vt_json_num(j, NULL, "files_hashed"), 2 * (39 - 4));
  free(j);

  /* --report lists every difference, the summary says so. */
  char *out = NULL;
  rc = tu_sh_out(&out, "'%s' verify --quiet --show 3 --engine %s --report "
                       "'%s/report.txt' '%s' '%s'",
                 tu_pomove(), engine, dir, src, dst);
  assert_int_equal(rc, 1);
  assert_non_null(strstr(out, "RESULT: differences found"));
  assert_non_null(strstr(out, "and 9 more, all listed in"));
  free(out);
  assert_int_equal(tu_sh("test $(wc -l < '%s/report.txt') -eq 12", dir), 0);
  assert_int_equal(
      tu_sh("grep -q '^size_differs\ttrunc\t10000 bytes in SRC, 5000 in DST$' "
            "'%s/report.txt'",
            dir),
      0);
  tu_cleanup();
}

static void test_verify_trees_tolerance_and_compare(void **state) {
  const char *engine = *state;
  if (!vt_engine_usable(engine)) {
    skip();
    return;
  }
  make_trees(tu_scratch());
  /* FAT keeps 2-second times: DST's mtime 1.5 s later. */
  assert_int_equal(tu_sh("touch -m -d \"$(date -d @$(( $(stat -c %%Y "
                         "'%s/mtime') )) '+%%F %%T').5\" '%s/mtime' && "
                         "touch -m -d \"$(date -d @$(( $(stat -c %%Y "
                         "'%s/mtime') + 1 )) '+%%F %%T')\" '%s/mtime'",
                         src, src, src, dst),
                   0);
  assert_int_equal(tu_sh("chmod 640 '%s/mode'", dst), 0);
  int rc;
  char *j = run_json(engine, NULL, &rc);
  assert_int_equal(rc, 1);
  assert_int_equal(vt_json_num(j, "counts", "metadata_differs"), 2);
  free(j);
  j = run_json(engine, "--time-tolerance 2", &rc);
  assert_int_equal(vt_json_num(j, "counts", "metadata_differs"), 1);
  assert_true(vt_json_has(j, "metadata_differs", "mode"));
  free(j);
  j = run_json(engine, "--time-tolerance 0.4", &rc);
  assert_int_equal(vt_json_num(j, "counts", "metadata_differs"), 2);
  free(j);
  j = run_json(engine, "--compare owner,mtime", &rc);
  assert_int_equal(vt_json_num(j, "counts", "metadata_differs"), 1);
  assert_true(vt_json_has(j, "metadata_differs", "mtime"));
  free(j);
  j = run_json(engine, "--compare none", &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(vt_json_num(j, "counts", "identical"), 42);
  free(j);
  tu_cleanup();
}

/* chmod 000 makes a file and a directory unreadable, unless we are root:
 * root bypasses permission checks (CAP_DAC_OVERRIDE), so the case cannot
 * be built this way; the fault-injection test below covers it for root. */
static void test_verify_trees_unreadable_chmod(void **state) {
  const char *engine = *state;
  if (tu_is_root()) {
    printf("running as root: permissions do not stop root, so chmod 000 "
           "cannot make a file unreadable (see the fault-injection test)\n");
    skip();
    return;
  }
  if (!vt_engine_usable(engine)) {
    skip();
    return;
  }
  make_trees(tu_scratch());
  assert_int_equal(tu_sh("chmod 000 '%s/gone' '%s/d1/sub' && chmod 000 "
                         "'%s/d1/sub'",
                         dst, dst, src),
                   0);
  int rc;
  char *j = run_json(engine, "--compare owner,mtime,links", &rc);
  assert_int_equal(rc, 1);
  /* d1/sub is unreadable (its 5 files cannot be listed), gone too. */
  assert_int_equal(vt_json_num(j, "counts", "unreadable"), 2);
  assert_int_equal(vt_json_num(j, NULL, "entries"), 42 - 5);
  assert_true(vt_json_has(j, "unreadable", "gone"));
  assert_true(vt_json_has(j, "unreadable", "d1/sub"));
  free(j);
  tu_sh("chmod 755 '%s/d1/sub' '%s/d1/sub'; chmod 644 '%s/gone'", src, dst,
        dst);
  tu_cleanup();
}

/* Unreadable through the table: works as root too. An open refused with
 * EACCES and (pool engine, which reads through the table) a read failing
 * with EIO in the middle of a large file. */
static void test_verify_trees_unreadable_injected(void **state) {
  const char *engine = *state;
  if (!vt_engine_usable(engine)) {
    skip();
    return;
  }
  make_trees(tu_scratch());
  bool pool = !strcmp(engine, "pool");
  char bad_big[4200];
  snprintf(bad_big, sizeof bad_big, "dst/big3");
  fl_rule rr = {.ops = pool ? FL_MASK(FL_READ) : 0,
                .nth = 1,
                .persistent = true,
                .err = PM_EIO,
                .oserr = 5,
                .path = bad_big,
                .path_match = FL_PATH_SUFFIX,
                .off_set = true,
                .off = 2 * 1048576};
  fl_rule ro = {.ops = FL_MASK(FL_OPEN),
                .nth = 1,
                .persistent = true,
                .err = PM_EACCES,
                .oserr = 13,
                .path = "dst/d1/small05",
                .path_match = FL_PATH_SUFFIX};
  fl_layer *reads = fl_new(NULL, &rr), *opens = fl_new(fl_fs(reads), &ro);
  vf_audit_opts o = {0};
  o.fs = fl_fs(opens);
  o.engine = pm_io_engine_find(engine);
  o.threads = 2;
  o.compare = VF_CMP_DEFAULT;
  o.progress_mode = PM_PROGRESS_OFF;
  vf_report *r = vf_report_new(VF_MODE_TREES, 100);
  assert_int_equal(vf_audit_trees(&o, src, dst, r), 0);
  assert_int_equal(vf_report_total(r), 42);
  assert_int_equal(vf_report_count(r, VF_UNREADABLE), pool ? 2 : 1);
  assert_int_equal(vf_report_count(r, VF_IDENTICAL), pool ? 40 : 41);
  assert_string_equal(o.engine_used, engine);
  vf_report_free(r);
  fl_free(opens);
  fl_free(reads);
  tu_cleanup();
}

static void test_verify_trees_usage(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  assert_int_equal(tu_sh("'%s' verify --help > /dev/null", tu_pomove()), 0);
  assert_int_equal(tu_sh("'%s' verify --help | grep -q 'could not complete'",
                         tu_pomove()),
                   0);
  assert_int_equal(tu_sh("'%s' verify 2>/dev/null", tu_pomove()), 2);
  assert_int_equal(tu_sh("'%s' verify a 2>/dev/null", tu_pomove()), 2);
  assert_int_equal(tu_sh("'%s' verify --bogus a b 2>/dev/null", tu_pomove()),
                   2);
  assert_int_equal(
      tu_sh("'%s' verify --compare mode,colour a b 2>/dev/null", tu_pomove()),
      2);
  assert_int_equal(
      tu_sh("'%s' verify --engine nosuch a b 2>/dev/null", tu_pomove()), 2);
  assert_int_equal(
      tu_sh("'%s' verify --time-tolerance x a b 2>/dev/null", tu_pomove()),
      2);
  assert_int_equal(tu_sh("'%s' verify --extra a b 2>/dev/null", tu_pomove()),
                   2);
  /* A root that does not exist: could not complete, and the message names
   * the path, the operation and the error. */
  char *err = NULL;
  int rc = tu_sh_out(&err, "'%s' verify --quiet '%s/nope' '%s' 2>&1",
                     tu_pomove(), dir, dir);
  assert_int_equal(rc, 3);
  assert_non_null(strstr(err, "stat"));
  assert_non_null(strstr(err, "/nope"));
  assert_non_null(strstr(err, "ENOENT"));
  free(err);
  tu_cleanup();
}

int main(void) {
  static char uring[] = "io_uring", pool[] = "pool";
#define BOTH(t) cmocka_unit_test_prestate(t, uring), \
                cmocka_unit_test_prestate(t, pool)
  const struct CMUnitTest tests[] = {
      BOTH(test_verify_trees_identical),
      BOTH(test_verify_trees_each_difference),
      BOTH(test_verify_trees_tolerance_and_compare),
      BOTH(test_verify_trees_unreadable_chmod),
      BOTH(test_verify_trees_unreadable_injected),
      cmocka_unit_test(test_verify_trees_usage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
