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

/* ---- vf_rereader: a batch through an I/O engine ---- */

static const pm_io_engine_ops *const *rr_engines;

static pm_hash128 hash_of_file(const char *p, uint64_t *size) {
  size_t len;
  char *data = tu_read_all(p, &len);
  assert_non_null(data);
  pm_hash128 h = pm_hash_buffer(data, len);
  free(data);
  *size = len;
  return h;
}

/* Files of every size around the chunk and the alignment, a skipped
 * entry, a missing file, and files whose expected size is wrong (longer
 * and shorter on disk): each result as vf_hash_file_uncached_at gives it,
 * with every engine, at depth 1, 3 (a 3 MiB file's 48 chunks through 3
 * slots, completed in any order) and 64, through fl_engine (which counts
 * the engine's reads and the table's). */
static void test_rereader_batch(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  static const uint64_t sz[] = {0,      1,      511,     4095,    4096,
                                4097,   65535,  65536,   65537,   200000,
                                262144, 1048577, 3 * 1048576 + 12345};
  enum { NS = sizeof sz / sizeof sz[0] };
  enum { N = NS + 4 };
  char names[N][32];
  vf_reread_item items[N];
  for (size_t i = 0; i < NS; i++) {
    snprintf(names[i], sizeof names[i], "b%zu", i);
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    tu_write_pattern(p, sz[i], (uint32_t)i + 40);
    items[i] = (vf_reread_item){.rel = names[i], .size = sz[i]};
  }
  snprintf(names[NS], 32, "missing");
  items[NS] = (vf_reread_item){.rel = names[NS], .size = 10};
  snprintf(names[NS + 1], 32, "b3");
  items[NS + 1] = (vf_reread_item){.rel = names[NS + 1], .skip = true};
  /* Expected 5000 and 70000 bytes: the files have 300000 and 3000. */
  snprintf(names[NS + 2], 32, "longer");
  snprintf(names[NS + 3], 32, "shorter");
  char p[4096];
  snprintf(p, sizeof p, "%s/longer", dir);
  tu_write_pattern(p, 300000, 77);
  snprintf(p, sizeof p, "%s/shorter", dir);
  tu_write_pattern(p, 3000, 78);
  items[NS + 2] = (vf_reread_item){.rel = names[NS + 2], .size = 5000};
  items[NS + 3] = (vf_reread_item){.rel = names[NS + 3], .size = 70000};
  pm_fd d;
  int engines = 0;
  for (const pm_io_engine_ops *const *e = rr_engines; *e; e++) {
    if ((*e)->probe() != 0) continue;
    engines++;
    static const unsigned depths[] = {1, 3, 64};
    for (size_t di = 0; di < 3; di++) {
      fl_layer *L = fl_new(NULL, NULL);
      const pm_fs *fs = fl_fs(L);
      assert_int_equal(
          pm_fs_open(fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &d), 0);
      int rc = -1;
      vf_rereader *r = vf_rereader_new(fs, fl_engine(*e), depths[di], &rc);
      assert_non_null(r);
      assert_int_equal(rc, 0);
      /* Twice: the re-reader is reused from batch to batch. */
      for (int round = 0; round < 2; round++) {
        unsigned long t0 = fl_calls(L, FL_READ),
                      e0 = fl_engine_calls(L, FL_READ);
        vf_reread_result *out = vf_rereader_run(r, d, items, N);
        for (size_t i = 0; i < N; i++) {
          if (items[i].skip) {
            assert_int_equal(out[i].rc, 0);
            assert_int_equal(out[i].size, 0);
            continue;
          }
          snprintf(p, sizeof p, "%s/%s", dir, names[i]);
          if (i == NS) {
            assert_int_equal(out[i].rc, PM_ENOENT);
            continue;
          }
          assert_int_equal(out[i].rc, 0);
          uint64_t want_size;
          pm_hash128 want = hash_of_file(p, &want_size);
          assert_int_equal(out[i].size, want_size);
          assert_true(pm_hash_equal(&out[i].hash, &want));
        }
        free(out);
        /* The engine reads each file of the expected size in
         * ceil(size / chunk) requests; only the two files of another
         * size go through the table. */
        unsigned long want_reads = 0;
        for (size_t i = 0; i < NS; i++)
          want_reads += (sz[i] + VF_REREADER_CHUNK - 1) / VF_REREADER_CHUNK;
        unsigned long er = fl_engine_calls(L, FL_READ) - e0,
                      tr = fl_calls(L, FL_READ) - t0 - er;
        /* + the first chunk of each wrong size, and the later chunks
         * of the shorter one (70000 bytes expected) that were queued
         * before the first came back. */
        unsigned long shorter = (70000 + VF_REREADER_CHUNK - 1) / VF_REREADER_CHUNK;
        printf("%s depth %u: %lu engine reads (want %lu + 2 to %lu), %lu table\n",
               (*e)->name, depths[di], er, want_reads, 1 + shorter, tr);
        assert_true(er >= want_reads + 2 && er <= want_reads + 1 + shorter);
        assert_true(tr >= 2);
      }
      vf_rereader_free(r);
      pm_fs_close(fs, d);
      fl_free(L);
    }
  }
  if (!engines) skip();
  tu_cleanup();
}

/* The paths a batch leaves to vf_hash_file_uncached_at, and errors: a
 * table that refuses O_DIRECT (every file by flush and drop), one whose
 * reads come back short (split reads), and a read error at an offset of
 * one file (its PM_E* code and OS code; the others intact). */
static void test_rereader_fallbacks_and_errors(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  static const uint64_t sz[] = {0, 4096, 100000, 1048577};
  enum { N = sizeof sz / sizeof sz[0] };
  char names[N][16];
  vf_reread_item items[N];
  for (size_t i = 0; i < N; i++) {
    snprintf(names[i], sizeof names[i], "e%zu", i);
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    tu_write_pattern(p, sz[i], (uint32_t)i + 90);
    items[i] = (vf_reread_item){.rel = names[i], .size = sz[i]};
  }
  int engines = 0;
  for (const pm_io_engine_ops *const *e = rr_engines; *e; e++) {
    if ((*e)->probe() != 0) continue;
    engines++;
    for (int k = 0; k < 3; k++) {
      fl_rule rule = {0};
      if (k == 0) rule.refuse_flags = PM_O_DIRECT;
      if (k == 1) rule.short_io = 8192;
      if (k == 2) {
        rule = (fl_rule){.ops = FL_MASK(FL_READ),
                         .nth = 1,
                         .persistent = true,
                         .err = PM_EIO,
                         .oserr = 5,
                         .path = "/e3",
                         .path_match = FL_PATH_SUFFIX,
                         .off_set = true,
                         .off = 200000};
      }
      fl_layer *L = fl_new(NULL, &rule);
      const pm_fs *fs = fl_fs(L);
      pm_fd d;
      assert_int_equal(
          pm_fs_open(fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &d), 0);
      int rc;
      vf_rereader *r = vf_rereader_new(fs, fl_engine(*e), 8, &rc);
      assert_non_null(r);
      vf_reread_result *out = vf_rereader_run(r, d, items, N);
      for (size_t i = 0; i < N; i++) {
        if (k == 2 && i == 3) {
          assert_int_equal(out[i].rc, PM_EIO);
          assert_int_equal(out[i].oserr, 5);
          continue;
        }
        assert_int_equal(out[i].rc, 0);
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        uint64_t want_size;
        pm_hash128 want = hash_of_file(p, &want_size);
        assert_int_equal(out[i].size, want_size);
        assert_true(pm_hash_equal(&out[i].hash, &want));
      }
      free(out);
      if (k == 0) {
        assert_int_equal(fl_calls(L, FL_FSYNC), N);
        assert_int_equal(fl_calls(L, FL_CACHE), N);
        assert_int_equal(fl_engine_calls(L, FL_READ), 0);
      }
      vf_rereader_free(r);
      pm_fs_close(fs, d);
      fl_free(L);
    }
  }
  if (!engines) skip();
  tu_cleanup();
}

/* What the medium returns is what is hashed: the engine's read of one
 * file comes back with a byte flipped (fl_rule.corrupt_read_nth), and
 * that file's hash differs from the file's bytes while the others'
 * match. A re-read that hashed a cached copy or skipped the read would
 * give the right hash and fail this. */
static void test_rereader_hashes_what_is_read(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char names[3][8] = {"c0", "c1", "c2"};
  vf_reread_item items[3];
  for (int i = 0; i < 3; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    tu_write_pattern(p, 30000, (uint32_t)i + 1);
    items[i] = (vf_reread_item){.rel = names[i], .size = 30000};
  }
  int engines = 0;
  for (const pm_io_engine_ops *const *e = rr_engines; *e; e++) {
    if ((*e)->probe() != 0) continue;
    engines++;
    fl_rule rule = {.ops = FL_MASK(FL_READ),
                    .path = "/c1",
                    .path_match = FL_PATH_SUFFIX,
                    .corrupt_read_nth = 1};
    fl_layer *L = fl_new(NULL, &rule);
    const pm_fs *fs = fl_fs(L);
    pm_fd d;
    assert_int_equal(pm_fs_open(fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &d),
                     0);
    int rc;
    vf_rereader *r = vf_rereader_new(fs, fl_engine(*e), 4, &rc);
    assert_non_null(r);
    vf_reread_result *out = vf_rereader_run(r, d, items, 3);
    assert_true(fl_fired(L));
    for (int i = 0; i < 3; i++) {
      char p[4096];
      snprintf(p, sizeof p, "%s/%s", dir, names[i]);
      uint64_t n;
      pm_hash128 want = hash_of_file(p, &n);
      assert_int_equal(out[i].rc, 0);
      assert_int_equal(out[i].size, 30000);
      assert_int_equal(pm_hash_equal(&out[i].hash, &want), i != 1);
    }
    free(out);
    vf_rereader_free(r);
    pm_fs_close(fs, d);
    fl_free(L);
  }
  if (!engines) skip();
  tu_cleanup();
}

/* vf_reread_item.order: the files are opened in ascending order of it
 * (ties in item order), through the engine and by the blocking threads,
 * and every result stays with its item. The opens are recorded by a
 * hook; the files' sizes differ so that a result given to the wrong item
 * fails its hash and size. */
typedef struct open_log {
  char rel[16][16];
  size_t n;
} open_log;

static int log_open(const char *op, const char *path, int flags, void *arg) {
  open_log *lg = arg;
  /* The direct open each file starts with (the fallback opens again). */
  if (fl_op_is(op, "open") && (flags & PM_O_DIRECT) && lg->n < 16) {
    const char *base = strrchr(path, '/');
    snprintf(lg->rel[lg->n++], sizeof lg->rel[0], "%s", base ? base + 1 : path);
  }
  return 0;
}

static void test_rereader_order(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  enum { N = 6 };
  /* Opened in the order o3 (order 1), o0 o5 (2, in item order), o1 (7),
   * o4 (9), o2 (40). */
  static const uint64_t order[N] = {2, 7, 40, 1, 9, 2};
  static const char *want_open[N] = {"o3", "o0", "o5", "o1", "o4", "o2"};
  char names[N][8];
  vf_reread_item items[N];
  for (size_t i = 0; i < N; i++) {
    snprintf(names[i], sizeof names[i], "o%zu", i);
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    tu_write_pattern(p, 1000 + 70000 * i, (uint32_t)i + 7);
    items[i] = (vf_reread_item){
        .rel = names[i], .size = 1000 + 70000 * i, .order = order[i]};
  }
  /* Every engine, then the blocking threads (one thread: a fixed order). */
  const pm_io_engine_ops *const *e = rr_engines;
  for (;; e++) {
    if (*e && (*e)->probe() != 0) continue;
    fl_layer *L = fl_new(NULL, NULL);
    const pm_fs *fs = fl_fs(L);
    pm_fd d;
    assert_int_equal(pm_fs_open(fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &d),
                     0);
    open_log lg = {0};
    fl_set_hook(L, log_open, &lg);
    vf_reread_result *out;
    vf_rereader *r = NULL;
    if (*e) {
      int rc;
      r = vf_rereader_new(fs, fl_engine(*e), 4, &rc);
      assert_non_null(r);
      out = vf_rereader_run(r, d, items, N);
    } else {
      out = vf_reread_batch(fs, d, items, N, 1);
    }
    fl_set_hook(L, NULL, NULL);
    assert_int_equal(lg.n, N);
    for (size_t j = 0; j < N; j++) assert_string_equal(lg.rel[j], want_open[j]);
    for (size_t i = 0; i < N; i++) {
      char p[4096];
      snprintf(p, sizeof p, "%s/%s", dir, names[i]);
      uint64_t want_size;
      pm_hash128 want = hash_of_file(p, &want_size);
      assert_int_equal(out[i].rc, 0);
      assert_int_equal(out[i].size, want_size);
      assert_true(pm_hash_equal(&out[i].hash, &want));
    }
    free(out);
    vf_rereader_free(r);
    pm_fs_close(fs, d);
    fl_free(L);
    if (!*e) break;
  }
  tu_cleanup();
}

/* vf_rereader_disk_order: the files are opened ahead and read in the
 * order of where they begin on the disk (pm_fs_phys_pos), a file that
 * cannot be placed first, and every result stays with its item. The
 * places come from a table that gives each file (known by its size) a
 * made-up one; the order of the reads from an engine that notes the file
 * of each read it is given. */
enum { DN = 6 };
static pm_fs_ops disk_ops;
static const pm_fs disk_fs = {&disk_ops, NULL};
static int disk_seen[DN], disk_nseen;

static int disk_index(pm_fd fd) {
  pm_stat st;
  if (pm_fs_fstat(pm_fs_native(), fd, &st)) return -1;
  int i = (int)((st.size - 1000) / 70000);
  return i >= 0 && i < DN ? i : -1;
}

static int disk_phys_pos(const pm_fs *self PM_UNUSED, pm_fd fd,
                         uint64_t *pos) {
  /* o2 has no place; the rest read o1 o4 o3 o5 o0. */
  static const uint64_t place[DN] = {50, 10, 0, 30, 20, 40};
  int i = disk_index(fd);
  if (i < 0) return PM_EINVAL;
  if (!place[i]) return PM_ENODATA;
  *pos = place[i] << 20;
  return 0;
}

/* An engine that passes every call to spy_parent (an engine of this
 * machine, on the native file system) and shows each request queued to
 * spy_on_queue with what the parent answered. */
static const pm_io_engine_ops *spy_parent;
static void (*spy_on_queue)(pm_io_req *req, int q);
static int spy_probe(void) { return spy_parent->probe(); }
static int spy_init(const pm_fs *fs, unsigned depth, pm_io_ctx **out) {
  (void)fs;
  return spy_parent->init(pm_fs_native(), depth, out);
}
static int spy_queue(pm_io_ctx *ctx, pm_io_req *req) {
  int q = spy_parent->queue(ctx, req);
  spy_on_queue(req, q);
  return q;
}
static int spy_commit(pm_io_ctx *ctx) { return spy_parent->commit(ctx); }
static int spy_getevents(pm_io_ctx *ctx, unsigned min, unsigned max,
                         pm_io_req **ev) {
  return spy_parent->getevents(ctx, min, max, ev);
}
static void spy_cleanup(pm_io_ctx *ctx) { spy_parent->cleanup(ctx); }
static const pm_io_engine_ops spy_engine = {
    "spy", spy_probe, spy_init, spy_queue, spy_commit, spy_getevents,
    spy_cleanup};

/* Every result of a re-read of items beneath dir is its file's size and
 * hash. */
static void check_results(const char *dir, const vf_reread_item *items,
                          size_t n, const vf_reread_result *out) {
  for (size_t i = 0; i < n; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, items[i].rel);
    uint64_t want_size;
    pm_hash128 h = hash_of_file(p, &want_size);
    assert_int_equal(out[i].rc, 0);
    assert_int_equal(out[i].size, want_size);
    assert_true(pm_hash_equal(&out[i].hash, &h));
  }
}

static void disk_on_queue(pm_io_req *req, int q) {
  (void)q;
  int i = disk_index(req->fd);
  bool seen = false;
  for (int k = 0; k < disk_nseen; k++) seen |= disk_seen[k] == i;
  if (!seen && disk_nseen < DN) disk_seen[disk_nseen++] = i;
}

static void test_rereader_disk_order(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  if (!direct_ok(dir)) {
    tu_cleanup();
    skip();
  }
  static const int want[DN] = {2, 1, 4, 3, 5, 0};
  char names[DN][8];
  vf_reread_item items[DN];
  for (size_t i = 0; i < DN; i++) {
    snprintf(names[i], sizeof names[i], "o%zu", i);
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    tu_write_pattern(p, 1000 + 70000 * i, (uint32_t)i + 9);
    items[i] = (vf_reread_item){.rel = names[i], .size = 1000 + 70000 * i};
  }
  disk_ops = *pm_fs_native()->ops;
  disk_ops.phys_pos = disk_phys_pos;
  bool any = false;
  for (const pm_io_engine_ops *const *e = rr_engines; *e; e++) {
    if ((*e)->probe() != 0) continue;
    any = true;
    spy_parent = *e;
    spy_on_queue = disk_on_queue;
    pm_fd d;
    assert_int_equal(
        pm_fs_open(&disk_fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &d), 0);
    int rc;
    vf_rereader *r = vf_rereader_new(&disk_fs, &spy_engine, 4, &rc);
    assert_non_null(r);
    vf_rereader_disk_order(r, true);
    disk_nseen = 0;
    vf_reread_result *out = vf_rereader_run(r, d, items, DN);
    assert_int_equal(disk_nseen, DN);
    for (int j = 0; j < DN; j++) assert_int_equal(disk_seen[j], want[j]);
    check_results(dir, items, DN, out);
    free(out);
    vf_rereader_free(r);
    pm_fs_close(&disk_fs, d);
  }
  tu_cleanup();
  if (!any) skip();
}

/* vf_rereader_disk_order opens the next group of files while the reads
 * of the current one are in flight (a few files at each wait for the
 * engine), not all at once when the current group is used up, when the
 * device had nothing of the re-read to do. More files than a group holds
 * (RR_GROUP, 4096); an engine that counts the reads queued, a table that
 * notes that count at each direct open: without the opens ahead, every
 * open of the second group sees one count (every read of the first group
 * queued, none since), with them many. */
static pm_fs_ops ahead_ops;
static const pm_fs ahead_fs = {&ahead_ops, NULL};
static unsigned ahead_queued, ahead_nseen;
static unsigned ahead_seen[64]; /* distinct counts seen at opens, > 0 */

static int ahead_open_at(const pm_fs *self PM_UNUSED, pm_fd dir,
                         const char *rel, int flags, uint32_t mode,
                         pm_fd *out) {
  if ((flags & PM_O_DIRECT) && ahead_queued) {
    bool seen = false;
    for (unsigned k = 0; k < ahead_nseen; k++)
      seen |= ahead_seen[k] == ahead_queued;
    if (!seen && ahead_nseen < 64) ahead_seen[ahead_nseen++] = ahead_queued;
  }
  return pm_fs_native()->ops->open_at(pm_fs_native(), dir, rel, flags, mode,
                                      out);
}

static void ahead_on_queue(pm_io_req *req, int q) {
  (void)req;
  if (q != PM_Q_BUSY) ahead_queued++;
}

static void test_rereader_disk_order_opens_ahead(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  if (!direct_ok(dir)) {
    tu_cleanup();
    skip();
  }
  enum { AN = 4096 + 300 };
  char(*names)[16] = calloc(AN, sizeof *names);
  vf_reread_item *items = calloc(AN, sizeof *items);
  assert_non_null(names);
  assert_non_null(items);
  for (size_t i = 0; i < AN; i++) {
    snprintf(names[i], sizeof names[i], "a%zu", i);
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    tu_write_pattern(p, 100 + i % 900, (uint32_t)i);
    items[i] = (vf_reread_item){.rel = names[i], .size = 100 + i % 900};
  }
  ahead_ops = *pm_fs_native()->ops;
  ahead_ops.open_at = ahead_open_at;
  bool any = false;
  for (const pm_io_engine_ops *const *e = rr_engines; *e; e++) {
    if ((*e)->probe() != 0) continue;
    any = true;
    spy_parent = *e;
    spy_on_queue = ahead_on_queue;
    pm_fd d;
    assert_int_equal(
        pm_fs_open(&ahead_fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &d), 0);
    int rc;
    vf_rereader *r = vf_rereader_new(&ahead_fs, &spy_engine, 8, &rc);
    assert_non_null(r);
    vf_rereader_disk_order(r, true);
    ahead_queued = ahead_nseen = 0;
    vf_reread_result *out = vf_rereader_run(r, d, items, AN);
    assert_int_equal(ahead_queued, AN); /* one read a file */
    if (ahead_nseen < 2)
      fail_msg("engine %s: the second group's opens saw %u count(s) of "
               "reads queued: opened only once the first was used up",
               (*e)->name, ahead_nseen);
    check_results(dir, items, AN, out);
    free(out);
    vf_rereader_free(r);
    pm_fs_close(&ahead_fs, d);
  }
  free(names);
  free(items);
  tu_cleanup();
  if (!any) skip();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reread_sizes_native),
      cmocka_unit_test(test_reread_tmpfs_fallback),
      cmocka_unit_test(test_reread_fallback_through_table),
      cmocka_unit_test(test_reread_short_reads),
      cmocka_unit_test(test_reread_errors),
      cmocka_unit_test(test_reread_one_read_per_file),
      cmocka_unit_test(test_rereader_batch),
      cmocka_unit_test(test_rereader_fallbacks_and_errors),
      cmocka_unit_test(test_rereader_hashes_what_is_read),
      cmocka_unit_test(test_rereader_order),
      cmocka_unit_test(test_rereader_disk_order),
      cmocka_unit_test(test_rereader_disk_order_opens_ahead),
  };
  rr_engines = pm_io_engines();
  return cmocka_run_group_tests(tests, NULL, NULL);
}
