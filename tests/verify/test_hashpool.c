/* test_hashpool.c - the parallel hashing pool, once per I/O engine: the
 * hashes of many files whose sizes straddle chunk boundaries (tiny chunks
 * so that every file has many chunks in flight and in-order hashing is
 * exercised), pair jobs with the size gate, short reads resubmitted
 * (or taken as the end, short_end),
 * read and open failures reported per file, and the counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thread.h"
#include "faultlayer.h"
#include "hashpool.h"
#include "testutil.h"

#define NFILES 300

typedef struct collect {
  pm_mutex mu;
  vf_job *jobs[NFILES + 8];
  unsigned n;
} collect;

static void on_done(vf_job *j, void *arg) {
  collect *c = arg;
  pm_mutex_lock(&c->mu);
  assert_null(c->jobs[j->seq]);
  c->jobs[j->seq] = j;
  c->n++;
  pm_mutex_unlock(&c->mu);
}

static const pm_io_engine_ops *engine_or_skip(void **state) {
  const char *name = *state;
  const pm_io_engine_ops *e = pm_io_engine_find(name);
  if (!e || e->probe() != 0) {
    printf("engine %s not usable here: skipped\n", name);
    return NULL;
  }
  return e;
}

static uint64_t size_of(unsigned i) {
  /* 0, around multiples of the 4096-byte chunk, and a few larger. */
  static const uint64_t fixed[] = {0, 1, 4095, 4096, 4097, 8192, 12287, 12288,
                                   12289, 65536, 100000, 1000000};
  if (i < sizeof fixed / sizeof fixed[0]) return fixed[i];
  return (i * 7919u) % 40000u;
}

static void run_files_end(const pm_fs *fs, const pm_io_engine_ops *e,
                          const char *dir, unsigned threads, bool no_stat,
                          bool short_end) {
  collect c = {.n = 0};
  pm_mutex_init(&c.mu);
  memset(c.jobs, 0, sizeof c.jobs);
  vf_pool_opts o = {.fs = fs,
                    .engine = e,
                    .threads = threads,
                    .files_per_thread = 5,
                    .chunk_size = 4096,
                    .chunks_per_file = 3,
                    .done = on_done,
                    .arg = &c};
  vf_pool *p;
  assert_int_equal(vf_pool_create(&o, &p), 0);
  assert_string_equal(vf_pool_engine_name(p), e->name);
  uint64_t total = 0;
  for (unsigned i = 0; i < NFILES; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/f%u", dir, i);
    vf_job *j = vf_job_new1(path);
    j->seq = i;
    j->no_stat = no_stat;
    j->short_end = short_end;
    vf_pool_submit(p, j);
    total += size_of(i);
  }
  uint64_t files, bytes;
  assert_int_equal(vf_pool_finish(p, &files, &bytes), 0);
  assert_int_equal(c.n, NFILES);
  assert_int_equal(files, NFILES);
  assert_int_equal(bytes, total);
  for (unsigned i = 0; i < NFILES; i++) {
    vf_job *j = c.jobs[i];
    char path[4096];
    snprintf(path, sizeof path, "%s/f%u", dir, i);
    size_t len;
    char *data = tu_read_all(path, &len);
    pm_hash128 want = pm_hash_buffer(data, len);
    free(data);
    assert_int_equal(j->side[0].err, 0);
    assert_true(j->side[0].stat_ok == !no_stat);
    assert_true(j->side[0].hashed);
    assert_int_equal(j->side[0].bytes, size_of(i));
    if (!no_stat) assert_int_equal(j->side[0].st.size, size_of(i));
    if (!pm_hash_equal(&want, &j->side[0].hash))
      fail_msg("wrong hash for %s (%llu bytes)", path,
               (unsigned long long)size_of(i));
    vf_job_free(j);
  }
  pm_mutex_destroy(&c.mu);
}

static void run_files(const pm_fs *fs, const pm_io_engine_ops *e,
                      const char *dir, unsigned threads, bool no_stat) {
  run_files_end(fs, e, dir, threads, no_stat, false);
}

static void make_files(const char *dir) {
  for (unsigned i = 0; i < NFILES; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/f%u", dir, i);
    tu_write_pattern(path, size_of(i), i + 1);
  }
}

static void test_hashpool_hashes_in_order(void **state) {
  const pm_io_engine_ops *e = engine_or_skip(state);
  if (!e) {
    skip();
    return;
  }
  const char *dir = tu_scratch();
  make_files(dir);
  run_files(pm_fs_native(), e, dir, 3, false);
  run_files(pm_fs_native(), e, dir, 1, false);
  /* Without fstat: the end is found by reading. */
  run_files(pm_fs_native(), e, dir, 3, true);
  run_files(pm_fs_native(), e, dir, 1, true);
  tu_cleanup();
}

/* The pool engine reads through the table, so short reads from the table
 * reach the pool's resubmission path. (io_uring reads in the kernel; the
 * table's pread is not involved there.) */
static void test_hashpool_short_reads(void **state) {
  const pm_io_engine_ops *e = engine_or_skip(state);
  if (!e) {
    skip();
    return;
  }
  const char *dir = tu_scratch();
  make_files(dir);
  fl_rule r = {.short_io = 1000};
  fl_layer *L = fl_new(NULL, &r);
  run_files(fl_fs(L), e, dir, 2, false);
  run_files(fl_fs(L), e, dir, 2, true);
  fl_free(L);
  tu_cleanup();
}

static void test_hashpool_pairs_and_errors(void **state) {
  const pm_io_engine_ops *e = engine_or_skip(state);
  if (!e) {
    skip();
    return;
  }
  const char *dir = tu_scratch();
  char a[4096], b[4096], c2[4096], big[4096], locked[4096], none[4096];
  snprintf(a, sizeof a, "%s/a", dir);
  snprintf(b, sizeof b, "%s/b", dir);
  snprintf(c2, sizeof c2, "%s/c", dir);
  snprintf(big, sizeof big, "%s/big", dir);
  snprintf(locked, sizeof locked, "%s/locked", dir);
  snprintf(none, sizeof none, "%s/none", dir);
  tu_write_pattern(a, 50000, 1);
  tu_write_pattern(b, 50000, 2);
  tu_write_pattern(c2, 40000, 1);
  tu_write_pattern(big, 200000, 3);
  tu_write_pattern(locked, 10, 4);
  /* Reads of "big" fail from 100000 on (pool engine only: io_uring does
   * not read through the table); opening "locked" is refused. */
  bool pool = !strcmp(e->name, "pool");
  fl_rule rr = {.ops = pool ? FL_MASK(FL_READ) : 0,
                .nth = 1,
                .persistent = true,
                .err = PM_EIO,
                .oserr = 5,
                .path = "/big",
                .path_match = FL_PATH_SUFFIX,
                .off_set = true,
                .off = 100000};
  fl_rule ro = {.ops = FL_MASK(FL_OPEN),
                .nth = 1,
                .persistent = true,
                .err = PM_EACCES,
                .oserr = 13,
                .path = "/locked",
                .path_match = FL_PATH_SUFFIX};
  fl_layer *reads = fl_new(NULL, &rr), *opens = fl_new(fl_fs(reads), &ro);
  collect col = {.n = 0};
  pm_mutex_init(&col.mu);
  memset(col.jobs, 0, sizeof col.jobs);
  vf_pool_opts o = {.fs = fl_fs(opens),
                    .engine = e,
                    .threads = 2,
                    .chunk_size = 8192,
                    .done = on_done,
                    .arg = &col};
  vf_pool *p;
  assert_int_equal(vf_pool_create(&o, &p), 0);
  vf_job *j;
  j = vf_job_new2(a, b, true); /* same size: both read */
  j->seq = 0;
  vf_pool_submit(p, j);
  j = vf_job_new2(a, c2, true); /* sizes differ: neither read */
  j->seq = 1;
  vf_pool_submit(p, j);
  j = vf_job_new2(a, c2, false); /* no gate: both read */
  j->seq = 2;
  vf_pool_submit(p, j);
  j = vf_job_new1(big);
  j->seq = 3;
  vf_pool_submit(p, j);
  j = vf_job_new2(a, locked, true);
  j->seq = 4;
  vf_pool_submit(p, j);
  j = vf_job_new1(none);
  j->seq = 5;
  vf_pool_submit(p, j);
  uint64_t files, bytes;
  assert_int_equal(vf_pool_finish(p, &files, &bytes), 0);
  assert_int_equal(col.n, 6);

  j = col.jobs[0];
  assert_true(j->side[0].hashed && j->side[1].hashed);
  assert_false(pm_hash_equal(&j->side[0].hash, &j->side[1].hash));
  j = col.jobs[1];
  assert_true(j->side[0].stat_ok && j->side[1].stat_ok);
  assert_false(j->side[0].hashed || j->side[1].hashed);
  assert_int_equal(j->side[0].st.size, 50000);
  assert_int_equal(j->side[1].st.size, 40000);
  j = col.jobs[2];
  assert_true(j->side[0].hashed && j->side[1].hashed);
  j = col.jobs[3];
  if (pool) {
    assert_int_equal(j->side[0].err, PM_EIO);
    assert_string_equal(j->side[0].op, "read");
    assert_false(j->side[0].hashed);
  } else {
    assert_true(j->side[0].hashed);
  }
  j = col.jobs[4];
  assert_true(j->side[0].hashed);
  assert_int_equal(j->side[1].err, PM_EACCES);
  assert_string_equal(j->side[1].op, "open");
  assert_false(j->side[1].stat_ok);
  j = col.jobs[5];
  assert_int_equal(j->side[0].err, PM_ENOENT);
  /* Sides hashed: 2 + 0 + 2 + (pool ? 0 : 1) + 1. */
  assert_int_equal(files, pool ? 5 : 6);
  for (int i = 0; i < 6; i++) vf_job_free(col.jobs[i]);
  fl_free(opens);
  fl_free(reads);
  pm_mutex_destroy(&col.mu);
  tu_cleanup();
}

/* short_end: the whole file is still hashed when reads are short only at
 * the end (sizes at and around chunk multiples included), a small file
 * costs one read instead of two, and a short read that is not the end
 * ends the side early with short_ended set, for the caller to confirm. */
static void test_hashpool_short_end(void **state) {
  const pm_io_engine_ops *e = engine_or_skip(state);
  if (!e) {
    skip();
    return;
  }
  const char *dir = tu_scratch();
  make_files(dir);
  run_files_end(pm_fs_native(), e, dir, 3, true, true);
  char path[4096];
  snprintf(path, sizeof path, "%s/small", dir);
  tu_write_pattern(path, 3000, 9);
  for (int k = 0; k < 3; k++) {
    /* k 0: without short_end; 1: with it; 2: with it and reads capped
     * at 1000 bytes. */
    fl_rule r = {.short_io = k == 2 ? 1000 : 0};
    fl_layer *L = fl_new(NULL, &r);
    collect col = {.n = 0};
    pm_mutex_init(&col.mu);
    memset(col.jobs, 0, sizeof col.jobs);
    vf_pool_opts o = {.fs = fl_fs(L),
                      .engine = fl_engine(e),
                      .threads = 1,
                      .done = on_done,
                      .arg = &col};
    vf_pool *p;
    assert_int_equal(vf_pool_create(&o, &p), 0);
    vf_job *j = vf_job_new1(path);
    j->no_stat = true;
    j->short_end = k > 0;
    vf_pool_submit(p, j);
    assert_int_equal(vf_pool_finish(p, NULL, NULL), 0);
    j = col.jobs[0];
    assert_non_null(j);
    assert_int_equal(j->side[0].err, 0);
    assert_true(j->side[0].hashed);
    assert_int_equal(fl_engine_calls(L, FL_READ), k == 1 ? 1 : k == 0 ? 2 : 1);
    assert_int_equal(j->side[0].bytes, k == 2 ? 1000 : 3000);
    assert_true(j->side[0].short_ended == (k > 0));
    vf_job_free(j);
    pm_mutex_destroy(&col.mu);
    fl_free(L);
  }
  tu_cleanup();
}

int main(void) {
  static char uring[] = "io_uring", pool[] = "pool";
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_prestate(test_hashpool_hashes_in_order, uring),
      cmocka_unit_test_prestate(test_hashpool_hashes_in_order, pool),
      cmocka_unit_test_prestate(test_hashpool_short_reads, uring),
      cmocka_unit_test_prestate(test_hashpool_short_reads, pool),
      cmocka_unit_test_prestate(test_hashpool_pairs_and_errors, uring),
      cmocka_unit_test_prestate(test_hashpool_pairs_and_errors, pool),
      cmocka_unit_test_prestate(test_hashpool_short_end, uring),
      cmocka_unit_test_prestate(test_hashpool_short_end, pool),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
