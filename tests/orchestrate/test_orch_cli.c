/* test_orch_cli.c - the pomove command lines of this module, run as a
 * person runs them: sim-create, plan, move (--json), check, rollback,
 * their exit codes, and the messages of refused arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "testutil.h"

static const char *scratch;
static char dir[4096];

static int setup(void **state) {
  (void)state;
  scratch = tu_scratch();
  snprintf(dir, sizeof dir, "%s/host", scratch);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  pm_sim_kill_all(dir);
  char fat[4200];
  snprintf(fat, sizeof fat, "%s/fat", scratch);
  pm_sim_kill_all(fat);
  tu_cleanup();
  return 0;
}

static void test_orch_cli_demo_path(void **state) {
  (void)state;
  const char *P = tu_pomove();
  char *out = NULL;
  assert_int_equal(tu_sh_out(&out, "'%s' sim-create '%s' --files 120 "
                                   "--start-delay 1 --stop-delay 1", P, dir),
                   0);
  assert_non_null(strstr(out, "Next: pomove move --host sim:"));
  free(out);
  assert_int_equal(tu_sh("'%s' sim-create '%s' >/dev/null 2>&1", P, dir), 2);
  assert_int_equal(tu_sh_out(&out, "'%s' plan --host 'sim:%s' --from "
                                   "'C:\\exchsrvr' --to 'D:'", P, dir),
                   0);
  assert_non_null(strstr(out, "MSExchangeATMTA"));
  assert_non_null(strstr(out, "Nothing was changed"));
  free(out);
  assert_int_equal(tu_sh_out(&out, "'%s' move --host 'sim:%s' --from "
                                   "'C:\\exchsrvr' --to 'D:' --json", P, dir),
                   0);
  assert_non_null(strstr(out, "\"command\":\"move\",\"result\":\"ok\""));
  assert_non_null(strstr(out, "\"name\":\"post-check\",\"result\":\"done\""));
  free(out);
  assert_int_equal(tu_sh("'%s' check --host 'sim:%s' --expect 'D:' "
                         ">/dev/null", P, dir), 0);
  assert_int_equal(tu_sh("'%s' move --host 'sim:%s' --resume >/dev/null", P,
                         dir), 0);
  assert_int_equal(tu_sh_out(&out, "'%s' rollback --host 'sim:%s'", P, dir),
                   0);
  assert_non_null(strstr(out, "Rollback complete"));
  free(out);
  assert_int_equal(tu_sh("'%s' check --host 'sim:%s' --expect 'D:' "
                         ">/dev/null", P, dir), 1);
  assert_int_equal(tu_sh("'%s' rollback --host 'sim:%s' >/dev/null", P, dir),
                   0);
}

static void test_orch_cli_refusals(void **state) {
  (void)state;
  const char *P = tu_pomove();
  char *out = NULL;
  assert_int_equal(tu_sh("'%s' move --help | grep -q 'Exit codes'", P), 0);
  assert_int_equal(tu_sh("'%s' rollback --help | grep -q remove-copy", P), 0);
  assert_int_equal(tu_sh("'%s' check --help | grep -q Q240208", P), 0);
  assert_int_equal(tu_sh("'%s' sim-create --help | grep -q dest-fs", P), 0);
  assert_int_equal(tu_sh("'%s' move --from C: --to D: 2>/dev/null", P), 2);
  assert_int_equal(tu_sh("'%s' move --host nosuch: --from 'C:\\x' --to D: "
                         "2>/dev/null", P), 2);
  assert_int_equal(tu_sh("'%s' move --bogus 2>/dev/null", P), 2);
  assert_int_equal(tu_sh("'%s' rollback --host 'sim:%s/none' 2>/dev/null", P,
                         scratch), 2);
  assert_int_equal(tu_sh("'%s' sim-create '%s/fat' --files 80 --dest-fs FAT "
                         "--quiet --start-delay 1 --stop-delay 1", P, scratch),
                   0);
  assert_int_equal(tu_sh_out(&out, "'%s' move --host 'sim:%s/fat' --from "
                                   "'C:\\exchsrvr' --to D: 2>&1", P, scratch),
                   2);
  assert_non_null(strstr(out, "is FAT"));
  assert_non_null(strstr(out, "NTFS"));
  free(out);
  assert_int_equal(tu_sh("'%s' move --host 'sim:%s/fat' --resume 2>/dev/null",
                         P, scratch), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_orch_cli_demo_path),
      cmocka_unit_test(test_orch_cli_refusals),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
