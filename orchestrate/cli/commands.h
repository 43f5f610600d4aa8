/* commands.h - the subcommands of `pomove` (one cmd_*.c each in this
 * folder, the CLI; the work is in the libraries) and the helpers they
 * share. Each command takes argv without the program name (argv[0] is the
 * command name) and returns a process exit code (PM_EXIT_* in cli.h).
 * Included by this folder only: no library includes a CLI header. */
#ifndef POMOVE_COMMANDS_H
#define POMOVE_COMMANDS_H

#include "host.h"
#include "orch.h"

int ce_cmd_copy(int argc, char **argv);          /* cmd_copy.c */
int vf_cmd_verify(int argc, char **argv);        /* cmd_verify.c */
int vf_cmd_hash(int argc, char **argv);          /* cmd_hash.c */
int bench_cmd_gen(int argc, char **argv);        /* cmd_gen.c */
int orch_cmd_move(int argc, char **argv);        /* cmd_move.c */
int orch_cmd_plan(int argc, char **argv);        /* cmd_move.c */
int orch_cmd_rollback(int argc, char **argv);    /* cmd_move.c */
int orch_cmd_stage(int argc, char **argv);       /* cmd_move.c */
int orch_cmd_check(int argc, char **argv);       /* cmd_check.c */
int orch_cmd_sim_create(int argc, char **argv);  /* cmd_sim.c */
int orch_cmd_remove_old(int argc, char **argv);  /* cmd_remove_old.c */

/* Command-line helper: when argv[*i] is "--name" or "--name=VALUE",
 * returns VALUE (taking the next argument for the first form and
 * advancing *i) or "" when it is missing; NULL when argv[*i] is another
 * option. */
const char *orch_cli_value(int argc, char **argv, int *i, const char *name);
/* Opens --host SPEC, reporting a failure; 0 or a PM_EXIT_* code. */
int orch_cli_open_host(const char *spec, pm_host **h);
/* What the commands that act on a host do first: *out, where the report
 * goes, set to stdout (with `quiet`, nothing unless `json`), the host
 * opened, Ctrl-C and SIGTERM caught. 0 or a PM_EXIT_* code (the host is
 * then not open). */
int orch_cli_start(const char *spec, bool quiet, bool json, FILE **out,
                   pm_host **h);
/* The exit code of an orchestrate command (orch.h) that returned rc and
 * *res: cli_exit_code (cli.h) of its outcome. */
int orch_cli_exit(int rc, const orch_result *res);

#endif
