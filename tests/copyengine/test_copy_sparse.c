/* test_copy_sparse.c - the copy engine's part of keeping a sparse file
 * sparse where the destination must be told (Windows: PM_O_SPARSE makes
 * the open mark the copy sparse before anything is written). A table
 * over the native one records the flags of every open of DST. Checked:
 * the copy of a file with holes is opened with PM_O_SPARSE and keeps its
 * holes; a dense file is not; a file with fewer blocks than its size but
 * no hole (NTFS compression, faked here through fstat) is not, since its
 * copy would be marked sparse for nothing; a re-copy over an existing
 * file (--merge) passes the flag too. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "copyengine.h"
#include "testutil.h"
#include "util.h"

static const pm_fs *native;
static pm_fs_ops rec_ops;
static const pm_fs rec_fs = {&rec_ops, NULL};

/* The flags of the last write open of each of DST's files, by leaf. */
static const char *const leaves[] = {"holes", "dense", "packed"};
enum { NLEAVES = 3 };
static atomic_int open_flags[NLEAVES];
/* fstat reports "packed" with a quarter of its blocks. */
static atomic_uint_fast64_t packed_ino;

static int leaf_index(const char *rel) {
  const char *s = strrchr(rel, '/');
  s = s ? s + 1 : rel;
  for (int i = 0; i < NLEAVES; i++)
    if (!strcmp(s, leaves[i])) return i;
  return -1;
}

static int r_open_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                     int flags, uint32_t mode, pm_fd *out) {
  int i = leaf_index(rel);
  if (i >= 0 && (flags & PM_O_ACCMODE) != PM_O_RDONLY)
    atomic_store(&open_flags[i], flags);
  return pm_fs_open_at(native, dir, rel, flags, mode, out);
}

static int r_fstat(const pm_fs *self PM_UNUSED, pm_fd fd, pm_stat *st) {
  int rc = pm_fs_fstat(native, fd, st);
  if (!rc && st->ino == atomic_load(&packed_ino)) st->blocks512 /= 4;
  return rc;
}

static void setup_fs(void) {
  native = pm_fs_native();
  rec_ops = *native->ops;
  rec_ops.name = "sparse-recorder";
  rec_ops.open_at = r_open_at;
  rec_ops.fstat = r_fstat;
  for (int i = 0; i < NLEAVES; i++) atomic_store(&open_flags[i], -1);
}

static int run_copy(const char *src, const char *dst, bool merge) {
  ce_options o;
  ce_options_init(&o);
  o.src = src;
  o.dst = dst;
  o.fs = &rec_fs;
  o.engine = pm_io_engine_find("pool");
  o.threads = 2;
  o.chunk_size = 65536;
  o.merge = merge;
  ce_result r;
  return ce_copy(&o, &r);
}

static void test_copy_sparse_flag(void **state) {
  (void)state;
  setup_fs();
  const char *base = tu_scratch();
  char *src = pm_xasprintf("%s/src", base), *dst = pm_xasprintf("%s/dst", base);
  assert_int_equal(tu_sh("mkdir -p '%s' && cd '%s' && "
                         "truncate -s 8M holes && "
                         "printf data | dd of=holes bs=1 seek=4000000 "
                         "conv=notrunc 2>/dev/null && "
                         "head -c 300000 /dev/urandom > dense && "
                         "head -c 400000 /dev/urandom > packed",
                         src, src),
                   0);
  if (tu_sh("test $(stat -c %%b '%s/holes') -lt 100", src)) {
    print_message("  no holes on this file system: skipped\n");
    tu_cleanup();
    skip();
  }
  pm_stat st;
  assert_int_equal(
      pm_fs_stat(native, pm_xasprintf("%s/packed", src), true, &st), 0);
  atomic_store(&packed_ino, st.ino);

  assert_int_equal(run_copy(src, dst, false), 0);
  assert_true(atomic_load(&open_flags[0]) & PM_O_SPARSE);
  assert_false(atomic_load(&open_flags[1]) & PM_O_SPARSE);
  assert_false(atomic_load(&open_flags[2]) & PM_O_SPARSE);
  assert_int_equal(tu_sh("cmp '%s/holes' '%s/holes' && cmp '%s/packed' "
                         "'%s/packed' && test $(stat -c %%b '%s/holes') -lt "
                         "100",
                         src, dst, src, dst, dst),
                   0);

  /* Again over the copy: the files that exist are opened again, the
   * sparse one with the flag. */
  for (int i = 0; i < NLEAVES; i++) atomic_store(&open_flags[i], -1);
  assert_int_equal(tu_sh("printf x >> '%s/holes'", src), 0);
  assert_int_equal(run_copy(src, dst, true), 0);
  assert_true(atomic_load(&open_flags[0]) & PM_O_SPARSE);
  assert_int_equal(tu_sh("cmp '%s/holes' '%s/holes'", src, dst), 0);
  tu_cleanup();
  free(src);
  free(dst);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_copy_sparse_flag),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
