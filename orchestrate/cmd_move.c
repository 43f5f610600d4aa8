/* PLACEHOLDER: replaced by the module's owner. */
#include <stdio.h>
#include "../orchestrate/commands.h"
int orch_cmd_move(int argc, char **argv) { (void)argc; fprintf(stderr, "pomove: %s: not built yet\n", argv[0]); return 3; }
int orch_cmd_plan(int argc, char **argv) { (void)argc; fprintf(stderr, "pomove: %s: not built yet\n", argv[0]); return 3; }
int orch_cmd_rollback(int argc, char **argv) { (void)argc; fprintf(stderr, "pomove: %s: not built yet\n", argv[0]); return 3; }
