/* test_fault_layer.c - the one fault layer (tests/support/faultlayer.h):
 * its rule (operation mask, Nth once or persistently, path and offset
 * targets, refused open flags, short transfers, silent corruption), its
 * counters, two layers stacked, and two layers at once on two threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultlayer.h"
#include "platform.h"
#include "testutil.h"
#include "thread.h"
#include "util.h"

static char *file_in(const char *dir, const char *name, const char *text) {
  char *p = pm_xasprintf("%s/%s", dir, name);
  const pm_fs *fs = pm_fs_native();
  pm_fd fd;
  assert_int_equal(
      pm_fs_open(fs, p, PM_O_WRONLY | PM_O_CREAT | PM_O_TRUNC, 0644, &fd), 0);
  size_t n = strlen(text);
  assert_int_equal(pm_fs_pwrite(fs, fd, text, n, 0), (int64_t)n);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  return p;
}

/* Opens p read-only through fs: 0 or the error; closes what it opened. */
static int try_open(const pm_fs *fs, const char *p) {
  pm_fd fd;
  int rc = pm_fs_open(fs, p, PM_O_RDONLY, 0, &fd);
  if (!rc) assert_int_equal(pm_fs_close(fs, fd), 0);
  return rc;
}

static void test_fault_layer_nth_once_and_persistent(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *a = file_in(dir, "a", "x");
  fl_rule once = {.ops = FL_MASK(FL_OPEN), .nth = 2, .err = PM_EACCES};
  fl_layer *L = fl_new(NULL, &once);
  const pm_fs *fs = fl_fs(L);
  assert_int_equal(pm_fs_validate(fs), 0);
  assert_int_equal(try_open(fs, a), 0);
  assert_false(fl_fired(L));
  assert_int_equal(try_open(fs, a), PM_EACCES);
  assert_true(fl_fired(L));
  assert_int_equal(try_open(fs, a), 0);
  assert_int_equal(fl_calls(L, FL_OPEN), 3);
  assert_int_equal(fl_calls(L, FL_CLOSE), 2);
  assert_int_equal(fl_matched(L), 3);
  pm_stat st;
  assert_int_equal(pm_fs_stat(fs, a, true, &st), 0); /* not in the mask */
  assert_int_equal(fl_calls(L, FL_STAT), 1);
  fl_free(L);

  fl_rule pers = {.ops = FL_MASK(FL_OPEN) | FL_MASK(FL_STAT), .nth = 2,
                  .persistent = true, .oserr = 5};
  L = fl_new(NULL, &pers);
  fs = fl_fs(L);
  assert_int_equal(try_open(fs, a), 0);
  assert_int_equal(pm_fs_stat(fs, a, true, &st), PM_EIO);
  assert_int_equal(pm_oserr_last(), 5);
  assert_int_equal(try_open(fs, a), PM_EIO);
  assert_int_equal(try_open(fs, a), PM_EIO);
  fl_free(L);
  free(a);
  tu_cleanup();
}

static void test_fault_layer_path_and_offset_targets(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *a = file_in(dir, "keep", "0123456789");
  char *b = file_in(dir, "target", "0123456789");
  /* Substring: only calls on "target" count, through a directory handle
   * (open_at) as well as by path. */
  fl_rule r = {.ops = FL_ALL, .nth = 1, .persistent = true, .path = "target"};
  fl_layer *L = fl_new(NULL, &r);
  const pm_fs *fs = fl_fs(L);
  assert_int_equal(try_open(fs, a), 0);
  assert_int_equal(try_open(fs, b), PM_EIO);
  pm_fd d, fd;
  assert_int_equal(pm_fs_open(fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &d), 0);
  assert_int_equal(pm_fs_open_at(fs, d, "keep", PM_O_RDONLY, 0, &fd), 0);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  assert_int_equal(pm_fs_open_at(fs, d, "target", PM_O_RDONLY, 0, &fd),
                   PM_EIO);
  pm_stat st;
  assert_int_equal(pm_fs_stat_at(fs, d, "target", &st), PM_EIO);
  assert_int_equal(pm_fs_stat_at(fs, d, "keep", &st), 0);
  assert_int_equal(pm_fs_close(fs, d), 0);
  fl_free(L);

  /* Prefix: the directory's own path is a prefix of both. */
  char *pre = pm_xasprintf("%s/tar", dir);
  fl_rule rp = {.ops = FL_MASK(FL_OPEN), .nth = 1, .persistent = true,
                .path = pre, .path_match = FL_PATH_PREFIX};
  L = fl_new(NULL, &rp);
  fs = fl_fs(L);
  assert_int_equal(try_open(fs, a), 0);
  assert_int_equal(try_open(fs, b), PM_EIO);
  fl_free(L);
  fl_rule rs = {.ops = FL_MASK(FL_OPEN), .nth = 1, .path = "tar",
                .path_match = FL_PATH_PREFIX};
  L = fl_new(NULL, &rs);
  assert_int_equal(try_open(fl_fs(L), b), 0); /* "tar" is no prefix */
  fl_free(L);
  free(pre);

  /* Offset: reads of the target reaching past byte 5 fail. */
  fl_rule ro = {.ops = FL_MASK(FL_READ), .nth = 1, .persistent = true,
                .path = "target", .off_set = true, .off = 5};
  L = fl_new(NULL, &ro);
  fs = fl_fs(L);
  char buf[16];
  assert_int_equal(pm_fs_open(fs, b, PM_O_RDONLY, 0, &fd), 0);
  assert_int_equal(pm_fs_pread(fs, fd, buf, 5, 0), 5);
  assert_int_equal(pm_fs_pread(fs, fd, buf, 5, 3), PM_EIO);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  assert_int_equal(pm_fs_open(fs, a, PM_O_RDONLY, 0, &fd), 0);
  assert_int_equal(pm_fs_pread(fs, fd, buf, 10, 0), 10);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  assert_int_equal(fl_calls(L, FL_READ), 3);
  fl_free(L);
  free(a);
  free(b);
  tu_cleanup();
}

static void test_fault_layer_refuse_short_corrupt(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *a = file_in(dir, "a", "abcdefghij");
  fl_rule r = {.refuse_flags = PM_O_DIRECT, .short_io = 3,
               .ops = FL_MASK(FL_READ) | FL_MASK(FL_WRITE),
               .corrupt_read_nth = 2, .corrupt_write_nth = 1};
  fl_layer *L = fl_new(NULL, &r);
  const pm_fs *fs = fl_fs(L);
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, a, PM_O_RDWR | PM_O_DIRECT, 0, &fd),
                   PM_EINVAL);
  assert_int_equal(fl_refused(L), 1);
  assert_int_equal(pm_fs_open(fs, a, PM_O_RDWR, 0, &fd), 0);
  char buf[16] = {0};
  assert_int_equal(pm_fs_pread(fs, fd, buf, 10, 0), 3); /* short */
  assert_memory_equal(buf, "abc", 3);
  assert_false(fl_fired(L));
  assert_int_equal(pm_fs_pread(fs, fd, buf, 10, 3), 3); /* corrupted */
  assert_int_equal((unsigned char)buf[0], (unsigned char)('d' ^ 0x5A));
  assert_memory_equal(buf + 1, "ef", 2);
  assert_true(fl_fired(L));
  const char w[] = "XYZW";
  assert_int_equal(pm_fs_pwrite(fs, fd, w, 4, 0), 3); /* short, corrupted */
  assert_memory_equal(w, "XYZW", 4);                   /* caller's intact */
  assert_int_equal(pm_fs_close(fs, fd), 0);
  /* Read back beneath the layer. */
  const pm_fs *nat = pm_fs_native();
  assert_int_equal(pm_fs_open(nat, a, PM_O_RDONLY, 0, &fd), 0);
  assert_int_equal(pm_fs_pread(nat, fd, buf, 10, 0), 10);
  assert_int_equal((unsigned char)buf[0], (unsigned char)('X' ^ 0x5A));
  assert_memory_equal(buf + 1, "YZdefghij", 9);
  assert_int_equal(pm_fs_close(nat, fd), 0);
  fl_free(L);
  free(a);
  tu_cleanup();
}

static void test_fault_layer_stacks(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *a = file_in(dir, "a", "x");
  char *b = file_in(dir, "b", "x");
  fl_rule ri = {.ops = FL_MASK(FL_WRITE), .nth = 3, .err = PM_ENOSPC};
  fl_layer *inner = fl_new(NULL, &ri);
  fl_rule ro = {.ops = FL_MASK(FL_OPEN), .nth = 1, .path = "/b"};
  fl_layer *outer = fl_new(fl_fs(inner), &ro);
  const pm_fs *fs = fl_fs(outer);
  assert_int_equal(try_open(fs, b), PM_EIO); /* the outer fails it... */
  assert_int_equal(fl_calls(inner, FL_OPEN), 0); /* ...before the inner */
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, a, PM_O_WRONLY, 0, &fd), 0);
  assert_int_equal(fl_calls(inner, FL_OPEN), 1);
  assert_int_equal(pm_fs_pwrite(fs, fd, "1", 1, 0), 1);
  assert_int_equal(pm_fs_pwrite(fs, fd, "2", 1, 1), 1);
  assert_int_equal(pm_fs_pwrite(fs, fd, "3", 1, 2), PM_ENOSPC);
  assert_int_equal(pm_fs_pwrite(fs, fd, "4", 1, 2), 1);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  assert_int_equal(fl_calls(outer, FL_WRITE), 4);
  assert_int_equal(fl_calls(inner, FL_WRITE), 4);
  assert_true(fl_fired(inner));
  assert_true(fl_fired(outer));
  fl_free(outer);
  fl_free(inner);
  free(a);
  free(b);
  tu_cleanup();
}

/* Two layers, each with its own rule, driven at once from two threads:
 * each fails exactly its own Nth call and counts only its own calls. */
typedef struct worker {
  fl_layer *L;
  const char *path;
  int calls;
  unsigned long nth;
  int failed_at; /* the call number that failed; 0 none; -1 more than one */
} worker;

static void work(void *arg) {
  worker *w = arg;
  for (int i = 1; i <= w->calls; i++) {
    int rc = try_open(fl_fs(w->L), w->path);
    if (rc) w->failed_at = w->failed_at ? -1 : i;
  }
}

static void test_fault_layer_two_at_once(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *a = file_in(dir, "a", "x");
  char *b = file_in(dir, "b", "x");
  worker w[2] = {{NULL, a, 2000, 700, 0}, {NULL, b, 2000, 1300, 0}};
  pm_thread t[2];
  for (int i = 0; i < 2; i++) {
    fl_rule r = {.ops = FL_MASK(FL_OPEN), .nth = w[i].nth};
    w[i].L = fl_new(NULL, &r);
  }
  for (int i = 0; i < 2; i++)
    assert_int_equal(pm_thread_create(&t[i], work, &w[i]), 0);
  for (int i = 0; i < 2; i++) pm_thread_join(&t[i]);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(w[i].failed_at, (int)w[i].nth);
    assert_int_equal(fl_calls(w[i].L, FL_OPEN), 2000);
    assert_int_equal(fl_calls(w[i].L, FL_CLOSE), 1999);
    fl_free(w[i].L);
  }
  free(a);
  free(b);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fault_layer_nth_once_and_persistent),
      cmocka_unit_test(test_fault_layer_path_and_offset_targets),
      cmocka_unit_test(test_fault_layer_refuse_short_corrupt),
      cmocka_unit_test(test_fault_layer_stacks),
      cmocka_unit_test(test_fault_layer_two_at_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
