/* cli_layering_link.c - test_cli_layering_link: linked with every object
 * of the libraries (pm_platform, pm_verify, pm_copyengine, pm_gen,
 * pm_orchestrate: whole archives) and without pm_cli, so that the build
 * fails when a library calls into the command line (orchestrate/cli/),
 * as move.c once called orch_strf in cmd_move.c. Running it only says
 * that it linked. */
#include <stdio.h>

int main(void) {
  puts("the libraries link without the command line");
  return 0;
}
