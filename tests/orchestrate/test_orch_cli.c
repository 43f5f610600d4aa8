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

/* remove-old: refused before a move, keeps an old tree that changed since
 * the copy, removes a clean one, and then rollback has nothing to return
 * to. */
static void test_orch_cli_remove_old(void **state) {
  (void)state;
  const char *P = tu_pomove();
  char h[4200];
  snprintf(h, sizeof h, "%s/rmold", scratch);
  const char *old = "drives/C/exchsrvr/Connect/Msmcon";
  assert_int_equal(tu_sh("'%s' sim-create '%s' --files 100 >/dev/null", P, h),
                   0);
  assert_int_equal(tu_sh("'%s' remove-old --host 'sim:%s' 2>/dev/null", P, h),
                   2);
  assert_int_equal(tu_sh("'%s' move --host 'sim:%s' --from 'C:\\exchsrvr' "
                         "--to 'D:' >/dev/null",
                         P, h),
                   0);
  assert_int_equal(tu_sh("'%s' remove-old --host 'sim:%s' --dry-run "
                         ">/dev/null && test -d '%s/%s'",
                         P, h, h, old),
                   0);
  /* A file that appeared in the old tree after the copy: kept. */
  assert_int_equal(tu_sh("echo new > '%s/%s/Maildata/LATE.MAI' && "
                         "'%s' remove-old --host 'sim:%s' >/dev/null 2>&1; "
                         "r=$?; test -d '%s/%s' && exit $r",
                         h, old, P, h, h, old),
                   1);
  assert_int_equal(tu_sh("rm '%s/%s/Maildata/LATE.MAI' && '%s' remove-old "
                         "--host 'sim:%s' --json | grep -q '\"removed\"' && "
                         "test ! -e '%s/%s' && test -d '%s/drives/D/ExchSrvr/"
                         "Connect/Msmcon/Maildata'",
                         h, old, P, h, h, old, h),
                   0);
  assert_int_equal(tu_sh("'%s' rollback --host 'sim:%s' 2>&1 | grep -q "
                         "'nothing to roll back to'",
                         P, h),
                   0);
  assert_int_equal(tu_sh("'%s' rollback --host 'sim:%s' 2>/dev/null", P, h), 2);
  assert_int_equal(tu_sh("'%s' remove-old --help | grep -q 'Exit codes'", P), 0);
  pm_sim_kill_all(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_orch_cli_demo_path),
      cmocka_unit_test(test_orch_cli_refusals),
      cmocka_unit_test(test_orch_cli_remove_old),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
