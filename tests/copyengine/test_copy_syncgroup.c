/* test_copy_syncgroup.c - the committers' shared flush of DST
 * (copyengine/syncfs.c, ce_sync_dst). Checked, with a file system whose
 * syncfs the test holds open: a caller is never served by a flush that
 * started before it asked (two calls one after the other make two
 * flushes); callers that ask while a flush runs share the next one (three
 * callers, two flushes), and each returns only after a flush that started
 * after it asked; a failed flush fails every caller it served, and only
 * those. */
#include <string.h>

#include "engine_internal.h"
#include "testutil.h"
#include "thread.h"

/* The fake file system: syncfs number `hold` waits for the test to open
 * the gate; syncfs number `fail` returns PM_EIO. */
typedef struct fake {
  pm_mutex mu;
  pm_cond cv;
  unsigned calls, finished, hold, fail;
  bool entered, open;
} fake;

static int fake_syncfs(const pm_fs *self, pm_fd fd) {
  (void)fd;
  fake *f = self->ctx;
  pm_mutex_lock(&f->mu);
  unsigned n = ++f->calls;
  if (n == f->hold) {
    f->entered = true;
    pm_cond_broadcast(&f->cv);
    while (!f->open) pm_cond_wait(&f->cv, &f->mu);
  }
  f->finished++;
  pm_mutex_unlock(&f->mu);
  return n == f->fail ? PM_EIO : 0;
}

static pm_fs_ops fake_ops;

typedef struct caller {
  ce_ctx *c;
  fake *f;
  pm_thread th;
  int rc;
  unsigned finished_before; /* flushes finished when it asked */
  unsigned finished_after;  /* and when it returned */
} caller;

static void caller_main(void *arg) {
  caller *k = arg;
  pm_mutex_lock(&k->f->mu);
  k->finished_before = k->f->finished;
  pm_mutex_unlock(&k->f->mu);
  k->rc = ce_sync_dst(k->c);
  pm_mutex_lock(&k->f->mu);
  k->finished_after = k->f->finished;
  pm_mutex_unlock(&k->f->mu);
}

static void setup(ce_ctx *c, pm_fs *fs, fake *f, unsigned hold,
                  unsigned fail) {
  memset(f, 0, sizeof *f);
  pm_mutex_init(&f->mu);
  pm_cond_init(&f->cv);
  f->hold = hold;
  f->fail = fail;
  memset(&fake_ops, 0, sizeof fake_ops);
  fake_ops.name = "fake-syncfs";
  fake_ops.syncfs = fake_syncfs;
  fs->ops = &fake_ops;
  fs->ctx = f;
  memset(c, 0, sizeof *c);
  c->fs = fs;
  ce_sync_init(&c->dsync);
}

static void teardown(ce_ctx *c, fake *f) {
  ce_sync_destroy(&c->dsync);
  pm_cond_destroy(&f->cv);
  pm_mutex_destroy(&f->mu);
}

static void sleep_ms(unsigned ms) {
  pm_mutex m;
  pm_cond cv;
  pm_mutex_init(&m);
  pm_cond_init(&cv);
  pm_mutex_lock(&m);
  pm_cond_timedwait(&cv, &m, ms * 1000000ull);
  pm_mutex_unlock(&m);
  pm_cond_destroy(&cv);
  pm_mutex_destroy(&m);
}

/* Waits (at most 10 s) until n callers wait for the running flush. */
static void wait_for_waiters(ce_ctx *c, unsigned n) {
  for (int i = 0; i < 10000; i++) {
    pm_mutex_lock(&c->dsync.mu);
    unsigned w = c->dsync.waiting;
    pm_mutex_unlock(&c->dsync.mu);
    if (w == n) return;
    sleep_ms(1);
  }
  fail_msg("the callers never waited for the running flush");
}

/* First caller in the held flush, two more ask meanwhile, then the gate
 * opens. */
static void run_three(ce_ctx *c, fake *f, caller k[3]) {
  for (int i = 0; i < 3; i++) {
    k[i].c = c;
    k[i].f = f;
  }
  assert_int_equal(pm_thread_create(&k[0].th, caller_main, &k[0]), 0);
  pm_mutex_lock(&f->mu);
  while (!f->entered) pm_cond_wait(&f->cv, &f->mu);
  pm_mutex_unlock(&f->mu);
  assert_int_equal(pm_thread_create(&k[1].th, caller_main, &k[1]), 0);
  assert_int_equal(pm_thread_create(&k[2].th, caller_main, &k[2]), 0);
  wait_for_waiters(c, 2);
  pm_mutex_lock(&f->mu);
  f->open = true;
  pm_cond_broadcast(&f->cv);
  pm_mutex_unlock(&f->mu);
  for (int i = 0; i < 3; i++) pm_thread_join(&k[i].th);
}

static void test_syncgroup_sequential_calls_flush_each(void **state) {
  (void)state;
  ce_ctx c;
  pm_fs fs;
  fake f;
  setup(&c, &fs, &f, 0, 0);
  assert_int_equal(ce_sync_dst(&c), 0);
  assert_int_equal(ce_sync_dst(&c), 0);
  assert_int_equal(f.calls, 2);
  assert_int_equal(c.dsync.flushes, 2);
  teardown(&c, &f);
}

static void test_syncgroup_waiters_share_the_next_flush(void **state) {
  (void)state;
  ce_ctx c;
  pm_fs fs;
  fake f;
  caller k[3];
  memset(k, 0, sizeof k);
  setup(&c, &fs, &f, 1, 0);
  run_three(&c, &f, k);
  /* One flush for the first caller, one shared by the other two. */
  assert_int_equal(f.calls, 2);
  assert_int_equal(c.dsync.flushes, 2);
  for (int i = 0; i < 3; i++) assert_int_equal(k[i].rc, 0);
  /* The two that asked while the first flush ran returned only after the
   * second, which started after they asked. */
  assert_int_equal(k[1].finished_before, 0);
  assert_int_equal(k[2].finished_before, 0);
  assert_int_equal(k[1].finished_after, 2);
  assert_int_equal(k[2].finished_after, 2);
  teardown(&c, &f);
}

static void test_syncgroup_failure_fails_those_it_served(void **state) {
  (void)state;
  ce_ctx c;
  pm_fs fs;
  fake f;
  caller k[3];
  memset(k, 0, sizeof k);
  setup(&c, &fs, &f, 1, 2);
  run_three(&c, &f, k);
  assert_int_equal(f.calls, 2);
  assert_int_equal(k[0].rc, 0);
  assert_int_equal(k[1].rc, PM_EIO);
  assert_int_equal(k[2].rc, PM_EIO);
  /* A later caller is served by a flush of its own, which succeeds. */
  assert_int_equal(ce_sync_dst(&c), 0);
  assert_int_equal(f.calls, 3);
  teardown(&c, &f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_syncgroup_sequential_calls_flush_each),
      cmocka_unit_test(test_syncgroup_waiters_share_the_next_flush),
      cmocka_unit_test(test_syncgroup_failure_fails_those_it_served),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
