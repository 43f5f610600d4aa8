/* test_cli_exit.c - cli_exit_code (orchestrate/cli/cli_exit.c), the one
 * place where a library's return (0 or a PM_E*) and what its result says
 * become the exit code README and every --help document: 0 done, 1
 * partial, 2 refused, 3 failed, 130 interrupted. The expected codes are
 * written as numbers, so that the table also holds the enum to them. */
#include <stdio.h>

#include "cli.h"
#include "testutil.h"

static void test_cli_exit_table(void **state) {
  (void)state;
  static const struct {
    int rc;
    cli_outcome out;
    int want;
    const char *why;
  } cases[] = {
      {0, {0}, 0, "done"},
      {0, {.partial = true}, 1, "done, some entries failed or differ"},
      {PM_EIO, {0}, 3, "could not complete"},
      {PM_ENOSPC, {.partial = true}, 3,
       "an error ends it: the entries that failed do not matter"},
      {PM_EINVAL, {.refused = true}, 2, "refused"},
      {PM_ESTATE, {.refused = true}, 2, "refused for the state of a move"},
      {PM_ECANCELED, {.interrupted = true}, 130, "interrupted"},
      {PM_ECANCELED, {.interrupted = true, .partial = true}, 130,
       "interrupted after some entries failed"},
      {0, {.interrupted = true}, 130,
       "interrupted after the work ended (check, sim-create)"},
      {PM_ECANCELED, {0}, 3,
       "PM_ECANCELED the library does not call an interruption: a failure"},
      {PM_ESTATE, {.refused = true, .interrupted = true}, 2,
       "a refusal is reported as one even when Ctrl-C came too"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int got = cli_exit_code(cases[i].rc, cases[i].out);
    if (got != cases[i].want)
      fail_msg("%s: rc %d gave exit %d, want %d", cases[i].why, cases[i].rc,
               got, cases[i].want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cli_exit_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
