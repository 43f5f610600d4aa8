/* test_copy_dirmode.c - a directory being filled is private (mkdir 0700)
 * and its mode is set when its contents are done, also where the mode
 * read back says nothing. Windows reads every directory's mode back as
 * 0777 whatever its descriptor says, so "the mode already matches" proves
 * nothing there; the engine must still chmod a directory it made. On
 * Linux this is invisible, so a table over the native file system reads
 * directories back the way Windows does, and the test looks at the real
 * modes underneath: a directory the copy skipped stays 0700. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "copyengine.h"
#include "testutil.h"
#include "util.h"

static pm_fs_ops win_ops;
static const pm_fs win_fs = {&win_ops, NULL};
/* chmod_at calls on "a" (there before an update) and "a/new" (made by it). */
static atomic_uint chmod_a, chmod_new;

/* A directory's mode as Windows reports it. */
static int as_windows(int rc, pm_stat *st) {
  if (rc == 0 && st->type == PM_T_DIR) st->mode = 0777;
  return rc;
}

static int win_stat(const pm_fs *self PM_UNUSED, const char *p, bool follow,
                    pm_stat *st) {
  return as_windows(pm_fs_stat(pm_fs_native(), p, follow, st), st);
}

static int win_fstat(const pm_fs *self PM_UNUSED, pm_fd fd, pm_stat *st) {
  return as_windows(pm_fs_fstat(pm_fs_native(), fd, st), st);
}

static int win_stat_at(const pm_fs *self PM_UNUSED, pm_fd dir,
                       const char *rel, pm_stat *st) {
  return as_windows(pm_fs_stat_at(pm_fs_native(), dir, rel, st), st);
}

static int win_chmod_at(const pm_fs *self PM_UNUSED, pm_fd dir,
                        const char *rel, uint32_t mode) {
  if (strcmp(rel, "a") == 0) atomic_fetch_add(&chmod_a, 1);
  if (strcmp(rel, "a/new") == 0) atomic_fetch_add(&chmod_new, 1);
  return pm_fs_chmod_at(pm_fs_native(), dir, rel, mode);
}

static int setup(void **state PM_UNUSED) {
  win_ops = *pm_fs_native()->ops;
  win_ops.name = "windows-modes";
  win_ops.stat = win_stat;
  win_ops.fstat = win_fstat;
  win_ops.stat_at = win_stat_at;
  win_ops.chmod_at = win_chmod_at;
  return pm_fs_validate(&win_fs) == 0 ? 0 : -1;
}

static ce_options opts(const char *src, const char *dst) {
  ce_options o;
  ce_options_init(&o);
  o.src = src;
  o.dst = dst;
  o.fs = &win_fs;
  o.threads = 2;
  o.journal = true;
  return o;
}

/* The real permission bits of a directory, beneath the table. */
static unsigned real_mode(const char *base, const char *rel) {
  char *p = pm_path_join(base, rel);
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  free(p);
  return (unsigned)(st.st_mode & 07777);
}

static void test_dir_mode_set_when_readback_says_nothing(void **state) {
  (void)state;
  const char *b = tu_scratch();
  char *src = pm_path_join(b, "src"), *dst = pm_path_join(b, "dst");
  assert_int_equal(tu_sh("mkdir -p '%s/a/b' && echo x > '%s/a/b/f' && "
                         "chmod 0777 '%s' '%s/a' '%s/a/b'",
                         src, src, src, src, src), 0);
  ce_options o = opts(src, dst);
  ce_result r;
  assert_int_equal(ce_copy(&o, &r), 0);
  assert_int_equal(r.errors, 0);
  /* Every directory made private while filled ends with the source's
   * mode, though the table read 0777 back from the start. */
  assert_int_equal(real_mode(dst, "a"), 0777);
  assert_int_equal(real_mode(dst, "a/b"), 0777);
  assert_true(atomic_load(&chmod_a) >= 1);

  /* An update: the directory it makes is chmodded; the one that was
   * there and reads back as the source's is left alone (a chmod would
   * only move its change time, on every pass). */
  assert_int_equal(tu_sh("mkdir '%s/a/new' && echo y > '%s/a/new/g' && "
                         "chmod 0777 '%s/a/new'", src, src, src), 0);
  atomic_store(&chmod_a, 0);
  atomic_store(&chmod_new, 0);
  o = opts(src, dst);
  o.update = true;
  assert_int_equal(ce_copy(&o, &r), 0);
  assert_int_equal(r.errors, 0);
  assert_int_equal(real_mode(dst, "a/new"), 0777);
  assert_int_equal(atomic_load(&chmod_new), 1);
  assert_int_equal(atomic_load(&chmod_a), 0);
  assert_int_equal(real_mode(dst, "a"), 0777);
  free(src);
  free(dst);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dir_mode_set_when_readback_says_nothing),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
