/* test_orch_faults.c - the fault loop of the move (SQLite's ioerr loop):
 * the Nth host call with a side effect fails, for N = 1, 2, ... until a
 * move runs untouched. After a failure once, `move --resume` must
 * complete the move; after a failure from then on (the host lost),
 * `rollback` must leave the registry file, the shares and the services
 * byte-identical to before. Built twice: FAULT_BY_STEP targets each step
 * through the step journal instead (its first side effect, also in the
 * file system and the copy, and the journal record that would mark it
 * done, as a crash right after the step's work). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch_testlib.h"
#include "testutil.h"
#include "util.h"

static int serial;

static char *fresh_host(void) {
  char *dir = pm_xasprintf("%s/h%d", ot_scratch(), serial++);
  orch_sim_options so;
  ot_sim_options(&so, dir);
  ot_make_host(&so);
  return dir;
}

static void drop_host(char *dir) {
  pm_sim_kill_all(dir);
  tu_sh("rm -rf '%s'", dir);
  free(dir);
}

static bool have_plan(const char *dir) {
  return tu_sh("test -f '%s/pomove/current/plan'", dir) == 0;
}

typedef struct fault_spec {
  long fail_at;          /* host-call loop */
  long arm_after, fail_journal; /* step loop */
} fault_spec;

/* Runs the move through a fault host; returns whether the fault fired. */
static bool faulty_move(const char *dir, const fault_spec *fs,
                        bool persistent) {
  orch_options o;
  ot_kb_move_options(&o);
  pm_host *h = ot_open(dir);
  ot_fault f;
  ot_fault_init(&f, h, fs->fail_at, persistent, true, fs->fail_at == 0);
  f.arm_after_journal = fs->arm_after;
  f.fail_journal = fs->fail_journal;
  ot_outcome rc = ot_move(&f.pub, &o);
  ot_fault_fini(&f);
  pm_host_close(h);
  if (!f.fired) {
    assert_int_equal(rc, OT_DONE);
    return false;
  }
  assert_int_equal(rc, OT_FAILED);
  return true;
}

static void rollback_to(const char *dir, const ot_snapshot *s0,
                        ot_outcome want) {
  orch_options o;
  ot_move_options(&o);
  o.remove_copy = true;
  pm_host *h = ot_open(dir);
  assert_int_equal(ot_rollback(h, &o), want);
  pm_host_close(h);
  ot_snapshot s1;
  ot_snap(dir, &s1);
  ot_assert_same(s0, &s1);
  assert_int_not_equal(tu_sh("test -e '%s/drives/D/ExchSrvr/Connect/Msmcon'",
                             dir), 0);
  ot_snap_free(&s1);
}

/* On one host: fault once, then resume (the move completes) and roll the
 * completed move back; then fault from then on (the host lost) and roll
 * back. Both rollbacks must give the host back byte for byte. Returns
 * whether the fault fired. */
static bool fault_cycle(const fault_spec *fs) {
  char *dir = fresh_host();
  ot_snapshot s0;
  ot_snap(dir, &s0);
  bool fired = faulty_move(dir, fs, false);
  if (fired) {
    orch_options o;
    ot_move_options(&o);
    if (have_plan(dir)) {
      o.resume = true;
    } else {
      /* Failed before the plan was kept: nothing may have changed, and a
       * new move starts over. */
      ot_snapshot s1;
      ot_snap(dir, &s1);
      ot_assert_same(&s0, &s1);
      ot_snap_free(&s1);
      o.from = "C:\\exchsrvr";
      o.to = "D:";
    }
    pm_host *h = ot_open(dir);
    assert_int_equal(ot_move(h, &o), OT_DONE);
    pm_host_close(h);
  }
  ot_assert_moved(dir);
  if (fired) {
    rollback_to(dir, &s0, OT_DONE);
    assert_true(faulty_move(dir, fs, true));
    rollback_to(dir, &s0, have_plan(dir) ? OT_DONE : OT_REFUSED);
  }
  ot_snap_free(&s0);
  drop_host(dir);
  return fired;
}

#ifndef FAULT_BY_STEP
static void test_orch_faults_every_host_call(void **state) {
  (void)state;
  long n;
  for (n = 1; n < 1000; n++) {
    fault_spec fs = {n, 0, 0};
    if (!fault_cycle(&fs)) break;
  }
  /* The loop met every call of a whole move: 4 stops, the share removed
   * and added, 18 values (5 through the SCM too), 4 starts. */
  print_message("move survived a fault at each of %ld host calls\n", n - 1);
  assert_true(n - 1 >= 30);
}
#else
static void test_orch_faults_every_step(void **state) {
  (void)state;
  /* Journal opens: 1 "start", then "begin k" is 2 + 2k, "done k" 3 + 2k. */
  for (int k = 0; k < ORCH_NSTEPS; k++) {
    fault_spec first = {0, 2 + 2 * k, 0};
    fault_spec done = {0, 0, 3 + 2 * k};
    assert_true(fault_cycle(&first));
    assert_true(fault_cycle(&done));
  }
}
#endif

int main(void) {
  ot_no_verify = true;
  const struct CMUnitTest tests[] = {
#ifndef FAULT_BY_STEP
      cmocka_unit_test(test_orch_faults_every_host_call),
#else
      cmocka_unit_test(test_orch_faults_every_step),
#endif
  };
  return cmocka_run_group_tests(tests, ot_group_setup, ot_group_teardown);
}
