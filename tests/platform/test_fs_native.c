/* test_fs_native.c - the native file-system table: every slot filled, and
 * `cached`, which the copy engine asks before it reads a large file
 * uncached: a page written and read is in the cache; dropped, it is not
 * (where the file system lets its pages be dropped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "testutil.h"
#include "util.h"

static void test_fs_native_table_complete(void **state) {
  (void)state;
  assert_int_equal(pm_fs_validate(pm_fs_native()), 0);
}

static void test_fs_native_cached(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  const char *b = tu_scratch();
  char *p = pm_xasprintf("%s/f", b);
  tu_write_pattern(p, 1 << 20, 3);
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, p, PM_O_RDONLY, 0, &fd), 0);
  char buf[4096];
  assert_int_equal(pm_fs_pread(fs, fd, buf, sizeof buf, 0), (int64_t)sizeof buf);
  int rc = pm_fs_cached(fs, fd, 0);
  if (rc == PM_ENOTSUP) {
    printf("  the OS cannot tell what is cached here: not checked\n");
  } else {
    assert_int_equal(rc, PM_OK);
    /* Flushed and dropped: a read would have to go to the medium. tmpfs
     * keeps its pages whatever is asked. */
    assert_int_equal(pm_fs_fsync(fs, fd, false), 0);
    assert_int_equal(pm_fs_drop_cache(fs, fd, 0, 0), 0);
    pm_fsinfo fi;
    assert_int_equal(pm_fs_fsinfo(fs, p, &fi), 0);
    rc = pm_fs_cached(fs, fd, 512 * 1024);
    if (strcmp(fi.type, "tmpfs") != 0)
      assert_int_equal(rc, PM_EAGAIN);
    else
      printf("  %s is on tmpfs: its pages cannot be dropped\n", b);
    assert_int_equal(pm_fs_pread(fs, fd, buf, sizeof buf, 512 * 1024),
                     (int64_t)sizeof buf);
    assert_int_equal(pm_fs_cached(fs, fd, 512 * 1024), PM_OK);
  }
  /* Past the end is not an error. */
  rc = pm_fs_cached(fs, fd, 10 << 20);
  assert_true(rc == PM_OK || rc == PM_ENOTSUP);
  pm_fs_close(fs, fd);
  free(p);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fs_native_table_complete),
      cmocka_unit_test(test_fs_native_cached),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
