/* test_reread.c - vf_hash_file_uncached: the hash and size of files
 * around the O_DIRECT alignment and buffer sizes, the method chosen on a
 * file system that takes O_DIRECT (the scratch directory) and on tmpfs
 * (which refuses it), the fallback through a table that refuses
 * O_DIRECT, and errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#include "faultlayer.h"
#include "platform.h"
#include "reread.h"
#include "sys.h"
#include "testutil.h"

static const uint64_t sizes[] = {0,        1,           511,
                                 4095,     4096,        4097,
                                 65536,    1048575,     1048576,
                                 1048577,  3 * 1048576 + 12345};

static void check_file(const pm_fs *fs, const char *path, uint64_t size,
                       int want_method) {
  size_t len;
  char *data = tu_read_all(path, &len);
  assert_non_null(data);
  assert_int_equal(len, size);
  pm_hash128 want = pm_hash_buffer(data, len), got;
  free(data);
  uint64_t got_size = 12345678;
  int method = -1;
  assert_int_equal(vf_hash_file_uncached(fs, path, &got, &got_size, &method),
                   0);
  assert_int_equal(got_size, size);
  assert_true(pm_hash_equal(&want, &got));
  if (want_method >= 0) assert_int_equal(method, want_method);
}

/* Whether the scratch file system takes O_DIRECT (ext4, xfs, btrfs do). */
static int direct_ok(const char *dir) {
  char p[4096];
  snprintf(p, sizeof p, "%s/probe", dir);
  tu_write_text(p, "x");
  pm_fd fd;
  int rc = pm_fs_open(pm_fs_native(), p, PM_O_RDONLY | PM_O_DIRECT, 0, &fd);
  if (!rc) pm_fs_close(pm_fs_native(), fd);
  return rc == 0;
}

static void test_reread_sizes_native(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  int want = direct_ok(dir) ? VF_REREAD_DIRECT : VF_REREAD_DROPCACHE;
  printf("scratch %s: expecting %s\n", dir, vf_reread_method_name(want));
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/f%zu", dir, i);
    tu_write_pattern(p, sizes[i], (uint32_t)i + 1);
    check_file(pm_fs_native(), p, sizes[i], want);
  }
  tu_cleanup();
}

/* tmpfs refuses O_DIRECT at open: the fallback must be taken. */
static void test_reread_tmpfs_fallback(void **state) {
  (void)state;
  struct statfs sf;
  if (statfs("/dev/shm", &sf) != 0 || sf.f_type != 0x01021994) {
    skip(); /* no tmpfs at /dev/shm here */
    return;
  }
  char dir[] = "/dev/shm/pomove-reread-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char p[4096];
  snprintf(p, sizeof p, "%s/f", dir);
  tu_write_pattern(p, 1048576 + 7, 9);
  int direct = 1;
  pm_fd fd;
  if (pm_fs_open(pm_fs_native(), p, PM_O_RDONLY | PM_O_DIRECT, 0, &fd) == 0) {
    /* Kernels from 6.6 on accept O_DIRECT on tmpfs. */
    pm_fs_close(pm_fs_native(), fd);
    direct = 0;
  }
  check_file(pm_fs_native(), p, 1048576 + 7,
             direct ? VF_REREAD_DROPCACHE : VF_REREAD_DIRECT);
  tu_sh("rm -rf '%s'", dir);
}

/* Everything goes through the table: a table that refuses O_DIRECT gets
 * fsync and drop_cache, then plain reads. */
static void test_reread_fallback_through_table(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  fl_rule r = {.refuse_flags = PM_O_DIRECT};
  fl_layer *L = fl_new(NULL, &r);
  const pm_fs *fs = fl_fs(L);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/f%zu", dir, i);
    tu_write_pattern(p, sizes[i], (uint32_t)i + 100);
    check_file(fs, p, sizes[i], VF_REREAD_DROPCACHE);
  }
  size_t n = sizeof sizes / sizeof sizes[0];
  assert_int_equal(fl_refused(L), n);
  assert_int_equal(fl_calls(L, FL_OPEN), 2 * n);
  assert_int_equal(fl_calls(L, FL_FSYNC), n);
  assert_int_equal(fl_calls(L, FL_CACHE), n);
  assert_true(fl_calls(L, FL_READ) >= n);
  fl_free(L);
  tu_cleanup();
}

/* Short reads from the table (a read returning less than asked) must
 * still hash the whole file, with O_DIRECT and without. */
static void test_reread_short_reads(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  for (int refuse = 0; refuse < 2; refuse++) {
    fl_rule r = {.short_io = 8192, .refuse_flags = refuse ? PM_O_DIRECT : 0};
    fl_layer *L = fl_new(NULL, &r);
    char p[4096];
    snprintf(p, sizeof p, "%s/s%d", dir, refuse);
    tu_write_pattern(p, 100000, 5);
    check_file(fl_fs(L), p, 100000, -1);
    fl_free(L);
  }
  tu_cleanup();
}

static void test_reread_errors(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char p[4096];
  snprintf(p, sizeof p, "%s/missing", dir);
  pm_hash128 h;
  uint64_t size;
  int method;
  assert_int_equal(
      vf_hash_file_uncached(pm_fs_native(), p, &h, &size, &method),
      PM_ENOENT);
  snprintf(p, sizeof p, "%s/bad", dir);
  tu_write_pattern(p, 300000, 1);
  fl_rule r = {.ops = FL_MASK(FL_READ),
               .nth = 1,
               .persistent = true,
               .err = PM_EIO,
               .oserr = 5,
               .path = "/bad",
               .path_match = FL_PATH_SUFFIX,
               .off_set = true,
               .off = 200000};
  fl_layer *L = fl_new(NULL, &r);
  assert_int_equal(vf_hash_file_uncached(fl_fs(L), p, &h, &size, &method),
                   PM_EIO);
  fl_free(L);
  assert_string_equal(vf_reread_method_name(VF_REREAD_DIRECT), "O_DIRECT");
  tu_cleanup();
}

/* With the size known (a copy's re-read), a file is read with one request
 * to the medium: the read that returns less than asked has met the end,
 * and the file's size says so without reading the tail block again only
 * to get 0 bytes. A file longer than the size it was expected to have is
 * still read whole, and one shorter gives its own size. */
static void test_reread_one_read_per_file(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  fl_rule r = {0};
  fl_layer *L = fl_new(NULL, &r);
  const pm_fs *fs = fl_fs(L);
  void *buf = pm_aligned_alloc(VF_REREAD_ALIGN, 1u << 20);
  assert_non_null(buf);
  static const uint64_t one[] = {1, 3245, 4095, 4096, 4097, 65536, 100000};
  for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/o%zu", dir, i);
    tu_write_pattern(p, one[i], (uint32_t)i + 7);
    unsigned long before = fl_calls(L, FL_READ);
    pm_hash128 h;
    uint64_t size = 0;
    int method;
    assert_int_equal(vf_hash_file_uncached_at(fs, PM_FD_INVALID, p, buf,
                                              1u << 20, one[i], &h, &size,
                                              &method),
                     0);
    assert_int_equal(size, one[i]);
    printf("%llu bytes: %lu read(s)\n", (unsigned long long)one[i],
           fl_calls(L, FL_READ) - before);
    assert_int_equal(fl_calls(L, FL_READ) - before, 1);
    size_t len;
    char *data = tu_read_all(p, &len);
    pm_hash128 want = pm_hash_buffer(data, len);
    free(data);
    assert_true(pm_hash_equal(&want, &h));
  }
  /* Expected 5000 bytes, the file has 300000 (or 3000): hashed whole. */
  static const uint64_t real[] = {300000, 3000};
  for (size_t i = 0; i < 2; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/g%zu", dir, i);
    tu_write_pattern(p, real[i], 3);
    pm_hash128 h;
    uint64_t size = 0;
    int method;
    assert_int_equal(vf_hash_file_uncached_at(fs, PM_FD_INVALID, p, buf,
                                              1u << 20, 5000, &h, &size,
                                              &method),
                     0);
    assert_int_equal(size, real[i]);
    size_t len;
    char *data = tu_read_all(p, &len);
    pm_hash128 want = pm_hash_buffer(data, len);
    free(data);
    assert_true(pm_hash_equal(&want, &h));
  }
  pm_aligned_free(buf);
  fl_free(L);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reread_sizes_native),
      cmocka_unit_test(test_reread_tmpfs_fallback),
      cmocka_unit_test(test_reread_fallback_through_table),
      cmocka_unit_test(test_reread_short_reads),
      cmocka_unit_test(test_reread_errors),
      cmocka_unit_test(test_reread_one_read_per_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
