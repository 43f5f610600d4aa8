/* test_own_cmocka.c - checks pomove's cmocka stand-in (cmocka.h here)
 * without trusting it: a group of tests with known outcomes runs, its
 * return value and the fixtures' call order are compared by hand, and its
 * error output (stderr, redirected to a file) must name each failing
 * file:line and the compared values. Built wherever the stand-in is
 * (Windows builds; Linux with -DPOMOVE_OWN_CMOCKA=ON, and always on Linux
 * as a plain executable so a change to the stand-in is tested there). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmocka.h"

static char order[256];
static int after_fail; /* set if code after a failed assertion ran */

static void note(const char *s) {
  strncat(order, s, sizeof order - strlen(order) - 1);
}

static void t_pass(void **state) {
  (void)state;
  note("P");
  assert_true(1);
  assert_false(0);
  assert_int_equal(-1, -1);
  assert_int_not_equal(1, 2);
  assert_string_equal("a", "a");
  assert_string_not_equal("a", "b");
  assert_memory_equal("abc", "abc", 3);
  assert_non_null(order);
  assert_null(NULL);
  assert_ptr_equal(order, order);
}
static void t_int(void **state) {
  (void)state;
  note("I");
  assert_int_equal(3, -4);
  after_fail = 1;
}
static void t_skip(void **state) {
  (void)state;
  note("S");
  skip();
  after_fail = 1;
}
static void t_str(void **state) {
  (void)state;
  assert_string_equal("ab", "ac");
  after_fail = 1;
}
static void t_mem(void **state) {
  (void)state;
  assert_memory_equal("abc", "abd", 3);
  after_fail = 1;
}
static void t_null(void **state) {
  (void)state;
  char *p = NULL;
  assert_non_null(p);
  after_fail = 1;
}
static void t_msg(void **state) {
  (void)state;
  fail_msg("boom %d", 5);
}
static int su_fail(void **state) {
  (void)state;
  note("u");
  return 1;
}
static void t_never(void **state) {
  (void)state;
  note("N");
}
static int td(void **state) {
  note(*state == (void *)7 ? "t7" : "t?");
  return 0;
}
static int td_fail(void **state) {
  (void)state;
  note("T");
  return -1;
}
static void t_state(void **state) {
  note(*state == (void *)7 ? "G" : "g");
  assert_ptr_equal(*state, (void *)7);
}
static void t_prestate(void **state) {
  note(*state == (void *)9 ? "R" : "r");
}
static int gs(void **state) {
  note("[");
  *state = (void *)7;
  return 0;
}
static int gt(void **state) {
  note(*state == (void *)7 ? "]" : "}");
  return 0;
}
static int gs_fail(void **state) {
  (void)state;
  return 1;
}

static int bad, good;
static void check(int ok, const char *what) {
  printf("%s: %s\n", ok ? "ok" : "NOT OK", what);
  if (ok)
    good++;
  else
    bad++;
}

int main(void) {
  static const char errfile[] = "test_own_cmocka.err";
  if (!freopen(errfile, "w", stderr)) {
    perror(errfile);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_pass),
      cmocka_unit_test_teardown(t_int, td),
      cmocka_unit_test(t_skip),
      cmocka_unit_test(t_str),
      cmocka_unit_test(t_mem),
      cmocka_unit_test(t_null),
      cmocka_unit_test(t_msg),
      cmocka_unit_test_setup(t_never, su_fail),
      cmocka_unit_test_teardown(t_pass, td_fail),
      cmocka_unit_test(t_state),
      cmocka_unit_test_prestate(t_prestate, (void *)9),
  };
  int rc = cmocka_run_group_tests(tests, gs, gt);
  /* 5 failed (int, str, mem, null, msg) + 2 erred (setup, teardown). */
  check(rc == 7, "group returns failed + erred, not skipped");
  check(!after_fail, "a failed assertion or skip() leaves the test");
  check(strcmp(order, "[PIt7SuPTGR]") == 0,
        "fixtures run in order with the group state");
  printf("order: %s\n", order);

  const struct CMUnitTest one[] = {cmocka_unit_test(t_pass)};
  order[0] = '\0';
  rc = cmocka_run_group_tests_name("broken", one, gs_fail, NULL);
  check(rc == 1 && order[0] == '\0', "a failed group setup runs nothing");

  fflush(stderr);
  FILE *f = fopen(errfile, "rb");
  char err[8192] = "";
  size_t n = f ? fread(err, 1, sizeof err - 1, f) : 0;
  err[n] = '\0';
  if (f) fclose(f);
  check(strstr(err, "3 (0x3) != -4 (0xfffffffffffffffc)") != NULL,
        "int values shown");
  check(strstr(err, "\"ab\" != \"ac\"") != NULL, "strings shown");
  check(strstr(err, "difference at offset 2 0x63 0x64") != NULL,
        "memory difference shown");
  check(strstr(err, "p is NULL") != NULL, "expression shown");
  check(strstr(err, "ERROR: boom 5") != NULL, "fail_msg text shown");
  check(strstr(err, "test_own_cmocka.c:") != NULL &&
            strstr(err, ": error: Failure!") != NULL,
        "file:line named");
  check(strstr(err, "Test setup failed") && strstr(err, "Test teardown failed"),
        "fixture failures named");
  if (bad) printf("--- error output of the group:\n%s", err);
  remove(errfile);
  printf("%d passed, %d failed\n", good, bad);
  return bad ? 1 : 0;
}
