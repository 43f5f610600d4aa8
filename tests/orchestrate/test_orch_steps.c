/* test_orch_steps.c - the step table (orchestrate/steps.c) and its two
 * walks: the table is whole (names and journal numbers distinct, every
 * undo named, the downtime one stretch from the step that stops the
 * services to the one that starts them, with the copy inside); `move`
 * runs the steps in the table's order, and `rollback` runs the undos in
 * the reverse order, whichever step the move stopped at (a move failed
 * at each step in turn), each time giving the host back byte for byte.
 * The expected orders are read from the table, never written out here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch_testlib.h"
#include "testutil.h"
#include "util.h"

static int serial;

static void test_orch_steps_table_whole(void **state) {
  (void)state;
  orch_journal j;
  const size_t ids = sizeof j.step_done / sizeof j.step_done[0];
  int opens = -1, closes = -1, copy = -1;
  for (int k = 0; k < ORCH_NSTEPS; k++) {
    const orch_step *s = &orch_steps[k];
    assert_non_null(s->name);
    assert_non_null(s->text);
    assert_non_null(s->run);
    assert_string_equal(orch_step_name(k), s->name);
    assert_string_equal(orch_step_text(k), s->text);
    /* An undo has a line of its own in the rollback's report. */
    assert_true((s->undo == NULL) == (s->undo_name == NULL));
    /* The step journal keeps one flag per number. */
    assert_true(s->journal_id < ids);
    for (int i = 0; i < k; i++) {
      assert_string_not_equal(orch_steps[i].name, s->name);
      assert_int_not_equal(orch_steps[i].journal_id, s->journal_id);
    }
    if (s->window == ORCH_W_OPENS) {
      assert_int_equal(opens, -1);
      opens = k;
    } else if (s->window == ORCH_W_CLOSES) {
      assert_int_equal(closes, -1);
      closes = k;
    } else if (s->window == ORCH_W_COPY) {
      assert_int_equal(copy, -1);
      copy = k;
    }
  }
  /* One stretch of downtime with the copy in it: before it only steps
   * marked before, after it only steps marked after. */
  assert_true(opens >= 0 && opens < copy && copy < closes);
  for (int k = 0; k < ORCH_NSTEPS; k++) {
    orch_window w = orch_steps[k].window;
    if (k < opens) assert_int_equal(w, ORCH_W_BEFORE);
    if (k > opens && k < closes) assert_true(w == ORCH_W_INSIDE || k == copy);
    if (k > closes) assert_int_equal(w, ORCH_W_AFTER);
  }
  /* The steps that stop and start the services are each other's undo. */
  assert_string_equal(orch_steps[opens].undo_name, orch_steps[closes].name);
  assert_string_equal(orch_steps[closes].undo_name, orch_steps[opens].name);
}

/* The names in the report's step lines: "  [ k/N] NAME ..." for the
 * move, "  NAME done|FAILED ..." for the rollback. */
static size_t report_names(FILE *f, bool move, char names[][64],
                           size_t cap) {
  rewind(f);
  char line[4096];
  size_t n = 0;
  while (fgets(line, sizeof line, f)) {
    char name[64], res[16];
    int k, of;
    if (move) {
      if (sscanf(line, "  [%d/%d] %63s %15s", &k, &of, name, res) != 4)
        continue;
      assert_int_equal(k, (int)n + 1);
      assert_int_equal(of, ORCH_NSTEPS);
    } else {
      if (strncmp(line, "  ", 2) ||
          sscanf(line, "  %63s %15s", name, res) != 2)
        continue;
    }
    assert_true(n < cap);
    snprintf(names[n++], 64, "%s", name);
  }
  return n;
}

/* Rolls the move on `dir` back with the report in a file, and checks its
 * lines: every undo of the table, last step first. */
static void rollback_reversed(const char *dir, const ot_snapshot *s0) {
  orch_options o;
  ot_move_options(&o);
  o.remove_copy = true;
  FILE *f = tmpfile();
  assert_non_null(f);
  o.out = f;
  pm_host *h = ot_open(dir);
  assert_int_equal(ot_rollback(h, &o), OT_DONE);
  pm_host_close(h);
  char got[ORCH_NSTEPS][64];
  size_t n = report_names(f, false, got, ORCH_NSTEPS);
  fclose(f);
  size_t i = 0;
  for (int k = ORCH_NSTEPS; k-- > 0;) {
    if (!orch_steps[k].undo) continue;
    assert_true(i < n);
    assert_string_equal(got[i], orch_steps[k].undo_name);
    i++;
  }
  assert_int_equal(i, n);
  ot_snapshot s1;
  ot_snap(dir, &s1);
  ot_assert_same(s0, &s1);
  ot_snap_free(&s1);
}

static void test_orch_steps_move_forward_rollback_backward(void **state) {
  (void)state;
  char *dir = pm_xasprintf("%s/h%d", ot_scratch(), serial++);
  orch_sim_options so;
  ot_sim_options(&so, dir);
  ot_make_host(&so);
  ot_snapshot s0;
  ot_snap(dir, &s0);
  orch_options o;
  ot_kb_move_options(&o);
  FILE *f = tmpfile();
  assert_non_null(f);
  o.out = f;
  pm_host *h = ot_open(dir);
  assert_int_equal(ot_move(h, &o), OT_DONE);
  pm_host_close(h);
  char got[ORCH_NSTEPS][64];
  assert_int_equal(report_names(f, true, got, ORCH_NSTEPS), ORCH_NSTEPS);
  fclose(f);
  for (int k = 0; k < ORCH_NSTEPS; k++)
    assert_string_equal(got[k], orch_steps[k].name);
  rollback_reversed(dir, &s0);
  ot_snap_free(&s0);
  pm_sim_kill_all(dir);
  free(dir);
}

/* A move that fails at step k (the first side effect after its "begin"
 * record) leaves the later steps undone; the rollback still runs every
 * undo in reverse order, and each finds what is left to undo. */
static void test_orch_steps_rollback_after_each_step(void **state) {
  (void)state;
  for (int k = 0; k < ORCH_NSTEPS; k++) {
    char *dir = pm_xasprintf("%s/h%d", ot_scratch(), serial++);
    orch_sim_options so;
    ot_sim_options(&so, dir);
    ot_make_host(&so);
    ot_snapshot s0;
    ot_snap(dir, &s0);
    orch_options o;
    ot_kb_move_options(&o);
    pm_host *h = ot_open(dir);
    ot_move_failing_at_step(h, &o, k, true, true);
    pm_host_close(h);
    rollback_reversed(dir, &s0);
    ot_snap_free(&s0);
    pm_sim_kill_all(dir);
    tu_sh("rm -rf '%s'", dir);
    free(dir);
  }
}

int main(void) {
  ot_no_verify = true;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_orch_steps_table_whole),
      cmocka_unit_test(test_orch_steps_move_forward_rollback_backward),
      cmocka_unit_test(test_orch_steps_rollback_after_each_step),
  };
  return cmocka_run_group_tests(tests, ot_group_setup, ot_group_teardown);
}
