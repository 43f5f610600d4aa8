/* test_copy_faults.c - SQLite's ioerr loop applied to the copy engine:
 * fail operation n of a kind (once, then persistently) for n = 1, 2, ...
 * until a run completes untouched. Every run must either succeed with an
 * identical tree or report failure; a rerun without faults must then
 * resume from the journal, succeed, and leave a tree identical to the
 * source, content and metadata. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "copyengine.h"
#include "faultlayer.h"
#include "testutil.h"
#include "util.h"

static char *src, *dst, *base;

static void make_tree(void) {
  base = strdup(tu_scratch());
  if (asprintf(&src, "%s/src", base) < 0 || asprintf(&dst, "%s/dst", base) < 0)
    abort();
  assert_int_equal(
      tu_sh("set -e; mkdir -p '%s/d1/d2' '%s/empty'; cd '%s';"
            "head -c 40000 /dev/urandom > d1/big; head -c 9000 /dev/urandom > "
            "d1/d2/mid; echo a > small; : > zero; ln -s small link; "
            "ln small hardlink; chmod 0640 d1/d2/mid; chmod 0555 d1/d2; "
            "touch -d '2001-02-03 04:05:06.123456789' d1/big d1",
            src, src, src),
      0);
}

/* Content and metadata equal, and the manifest checks out. */
static int identical(void) {
  return tu_sh(
      "set -e; diff -r --no-dereference '%s' '%s' >/dev/null;"
      "(cd '%s' && find . -printf '%%p %%y %%m %%s %%T@ %%l\\n' | sort) > "
      "'%s/a.txt';"
      "(cd '%s' && find . -printf '%%p %%y %%m %%s %%T@ %%l\\n' | sort) > "
      "'%s/b.txt';"
      "cmp -s '%s/a.txt' '%s/b.txt';"
      "cd '%s' && xxh128sum -c --quiet ../dst.xxh128 >/dev/null",
      src, dst, src, base, dst, base, base, base, dst);
}

static void reset_dst(void) {
  tu_sh("chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s' '%s.xxh128' "
        "'%s.xxh128.tmp' '%s.pomove-journal'",
        dst, dst, dst, dst, dst);
}

static int sync_mode = CE_SYNC_FS;

static int run_copy(const pm_fs *fs, const pm_io_engine_ops *eng,
                    ce_result *r) {
  ce_options o;
  ce_options_init(&o);
  o.src = src;
  o.dst = dst;
  o.fs = fs;
  o.engine = eng;
  o.threads = 2;
  o.chunk_size = 4096;
  o.checkpoint_bytes = 8192;
  o.batch_files = 2;
  o.sync_mode = sync_mode;
  o.direct_min = 32768; /* d1/big is written uncached where DST allows */
  pm_set_quiet(true);
  return ce_copy(&o, r);
}

/* The name of a mask of one operation, or "any". */
static const char *ops_name(unsigned ops) {
  for (int k = 0; k < FL_NOPS; k++)
    if (ops == FL_MASK(k)) return fl_op_name((fl_op)k);
  return "any";
}

/* The loop for the operations in `ops`; returns how many runs fired a
 * fault. */
static unsigned fault_loop(const pm_io_engine_ops *eng, unsigned ops,
                           bool persistent, int err) {
  unsigned fired_runs = 0;
  const char *kind = ops_name(ops);
  for (unsigned long n = 1; n < 5000; n++) {
    reset_dst();
    fl_rule p = {.ops = ops, .nth = n, .err = err, .persistent = persistent};
    fl_layer *L = fl_new(NULL, &p);
    ce_result r;
    int rc = run_copy(fl_fs(L), fl_engine(eng), &r);
    bool fired = fl_fired(L);
    fl_free(L);
    if (rc == 0 && r.errors == 0) {
      /* Success is only allowed with an intact copy. */
      if (identical() != 0)
        fail_msg("%s fault #%lu (%s): success with a damaged copy",
                 kind, n, persistent ? "persistent" : "once");
    }
    if (!fired) {
      assert_int_equal(rc, 0);
      assert_int_equal(r.errors, 0);
      break;
    }
    fired_runs++;
    if (rc == 0 && r.errors == 0) continue; /* the fault did no harm */
    /* Rerun without faults: resumes and completes. */
    L = fl_new(NULL, NULL);
    ce_result r2;
    int rc2 = run_copy(fl_fs(L), fl_engine(eng), &r2);
    fl_free(L);
    if (rc2 != 0 || r2.errors != 0 || identical() != 0)
      fail_msg("%s fault #%lu (%s, first run rc %d errors %llu): the rerun "
               "did not complete cleanly (rc %d, errors %llu)",
               kind, n, persistent ? "persistent" : "once",
               rc, (unsigned long long)r.errors, rc2,
               (unsigned long long)r2.errors);
    assert_int_equal(tu_sh("test ! -e '%s.pomove-journal'", dst), 0);
  }
  printf("  %s faults (%s): %u runs hit a fault\n", kind,
         persistent ? "persistent" : "once", fired_runs);
  return fired_runs;
}

static const pm_io_engine_ops *engine;

static void test_copy_faults_each_call_once(void **state) {
  (void)state;
  unsigned runs = fault_loop(engine, FL_ALL, false, PM_EIO);
  assert_true(runs > 20);
}

static void test_copy_faults_persistent_by_kind(void **state) {
  (void)state;
  for (int k = FL_OPEN; k <= FL_STAT; k++) {
    int err = k == FL_WRITE ? PM_ENOSPC : PM_EIO;
    unsigned runs = fault_loop(engine, FL_MASK(k), true, err);
    if (k == FL_OPEN || k == FL_READ || k == FL_WRITE || k == FL_META ||
        k == FL_LIST || k == FL_STAT || k == FL_MKDIR)
      assert_true(runs > 0);
  }
}

/* The default makes batches durable with one syncfs each; --sync file
 * queues an fdatasync per file on the engine: its failures, once and
 * persistent, must leave the same guarantees. */
static void test_copy_faults_sync_per_file(void **state) {
  (void)state;
  sync_mode = CE_SYNC_FILE;
  unsigned once = fault_loop(engine, FL_MASK(FL_FSYNC), false, PM_EIO);
  unsigned persistent = fault_loop(engine, FL_MASK(FL_FSYNC), true, PM_EIO);
  sync_mode = CE_SYNC_FS;
  /* Every file's own flush is a call that can fail. */
  assert_true(once > 5);
  assert_true(persistent > 0);
}

static void test_copy_faults_transient_eintr(void **state) {
  (void)state;
  /* A single EINTR or EAGAIN from the I/O layer is retried: every run
   * completes as if nothing happened. */
  for (unsigned long n = 1; n < 40; n++) {
    reset_dst();
    fl_rule p = {.ops = FL_MASK(FL_READ), .nth = n,
                 .err = n % 2 ? PM_EAGAIN : PM_EINTR};
    fl_layer *L = fl_new(NULL, &p);
    ce_result r;
    assert_int_equal(run_copy(fl_fs(L), fl_engine(engine), &r), 0);
    assert_int_equal(r.errors, 0);
    assert_int_equal(identical(), 0);
    bool fired = fl_fired(L);
    fl_free(L);
    if (!fired) break;
  }
}

int main(void) {
  make_tree();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_copy_faults_each_call_once),
      cmocka_unit_test(test_copy_faults_persistent_by_kind),
      cmocka_unit_test(test_copy_faults_sync_per_file),
      cmocka_unit_test(test_copy_faults_transient_eintr),
  };
  int failed = 0, ran = 0;
  for (const pm_io_engine_ops *const *e = pm_io_engines(); *e; e++) {
    if ((*e)->probe() != 0) {
      printf("engine %s unavailable here: its tests are skipped\n",
             (*e)->name);
      continue;
    }
    engine = *e;
    char group[64];
    snprintf(group, sizeof group, "copy faults (%s)", (*e)->name);
    failed += cmocka_run_group_tests_name(group, tests, NULL, NULL);
    ran++;
  }
  tu_cleanup();
  free(src);
  free(dst);
  free(base);
  if (!ran) return TU_SKIP_CODE;
  return failed ? 1 : 0;
}
