/* test_engine_uring.c - what the io_uring engine does beyond the engine
 * contract (test_engine_contract covers that): a write of at most 64 KiB
 * is made at once in queue() and comes back PM_Q_COMPLETED with its
 * result; a larger one, and reads, go on the ring (PM_Q_QUEUED); with
 * POMOVE_URING_INLINE=0 every write goes on the ring. Skipped (77) where
 * the engine is not compiled in or the kernel refuses io_uring. */
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "testutil.h"
#include "util.h"

static const pm_io_engine_ops *eng;

static void write_twice(bool inline_on) {
  const pm_fs *fs = pm_fs_native();
  char *path = pm_path_join(tu_scratch(), inline_on ? "w1" : "w0");
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, path, PM_O_RDWR | PM_O_CREAT, 0600, &fd), 0);
  tu_setenv("POMOVE_URING_INLINE", inline_on ? NULL : "0");
  pm_io_ctx *io;
  assert_int_equal(eng->init(fs, 8, &io), 0);
  tu_setenv("POMOVE_URING_INLINE", NULL);
  size_t big = 256 << 10;
  char *buf = malloc(big);
  memset(buf, 'x', big);
  pm_io_req small = {.op = PM_IO_WRITE, .fd = fd, .buf = buf, .len = 65536};
  pm_io_req large = {.op = PM_IO_WRITE, .fd = fd, .buf = buf,
                     .len = (uint32_t)big, .off = 65536};
  int q = eng->queue(io, &small);
  if (inline_on) {
    assert_int_equal(q, PM_Q_COMPLETED);
    assert_int_equal(small.res, 65536);
  } else {
    assert_int_equal(q, PM_Q_QUEUED);
  }
  assert_int_equal(eng->queue(io, &large), PM_Q_QUEUED);
  assert_int_equal(eng->commit(io), 0);
  pm_io_req *ev[4];
  int want = inline_on ? 1 : 2, got = 0;
  while (got < want) {
    int n = eng->getevents(io, 1, 4, ev);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) assert_true(ev[i]->res > 0);
    got += n;
  }
  assert_int_equal(got, want);
  eng->cleanup(io);
  pm_stat st;
  assert_int_equal(pm_fs_fstat(fs, fd, &st), 0);
  assert_int_equal(st.size, 65536 + big);
  pm_fs_close(fs, fd);
  free(buf);
  free(path);
}

static void test_uring_small_write_at_once(void **state) {
  (void)state;
  write_twice(true);
}

static void test_uring_inline_off(void **state) {
  (void)state;
  write_twice(false);
}

int main(void) {
  eng = pm_io_engine_find("io_uring");
  tu_require(eng != NULL, "the io_uring engine is not compiled in");
  tu_require(eng->probe() == 0, "the kernel refuses io_uring");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uring_small_write_at_once),
      cmocka_unit_test(test_uring_inline_off),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tu_cleanup();
  return rc;
}
