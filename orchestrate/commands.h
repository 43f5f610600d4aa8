/* commands.h - the subcommands of `pomove`, each owned by the module that
 * does the work. Each takes argv without the program name (argv[0] is the
 * command name) and returns a process exit code (PM_EXIT_* in util.h). */
#ifndef POMOVE_COMMANDS_H
#define POMOVE_COMMANDS_H

int ce_cmd_copy(int argc, char **argv);          /* copyengine/cmd_copy.c */
int vf_cmd_verify(int argc, char **argv);        /* verify/cmd_verify.c */
int vf_cmd_hash(int argc, char **argv);          /* verify/cmd_hash.c */
int bench_cmd_gen(int argc, char **argv);        /* bench/cmd_gen.c */
int orch_cmd_move(int argc, char **argv);        /* orchestrate/cmd_move.c */
int orch_cmd_plan(int argc, char **argv);        /* orchestrate/cmd_move.c */
int orch_cmd_rollback(int argc, char **argv);    /* orchestrate/cmd_move.c */
int orch_cmd_stage(int argc, char **argv);       /* orchestrate/cmd_move.c */
int orch_cmd_check(int argc, char **argv);       /* orchestrate/cmd_check.c */
int orch_cmd_sim_create(int argc, char **argv);  /* orchestrate/cmd_sim.c */
int orch_cmd_remove_old(int argc, char **argv);  /* orchestrate/remove_old.c */

#endif
