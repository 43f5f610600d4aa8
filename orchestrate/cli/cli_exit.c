/* cli_exit.c - the one place where a command's outcome becomes its exit
 * code (README "Exit codes"): the libraries below return 0 or a PM_E*
 * code and a result that says whether they refused, were interrupted or
 * finished with some entries failed; the command files hand both here. */
#include "cli.h"

int cli_exit_code(int rc, cli_outcome out) {
  /* A refusal is checked first: a library refuses with the error that
   * says why (PM_EINVAL, PM_ESTATE, ...), which must not read as a
   * failure to complete. */
  if (out.refused) return PM_EXIT_USAGE;
  if (out.interrupted) return PM_EXIT_INTERRUPTED;
  if (rc < 0) return PM_EXIT_FAILED;
  return out.partial ? PM_EXIT_PARTIAL : PM_EXIT_OK;
}
