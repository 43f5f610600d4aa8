/* PLACEHOLDER while the engine is written. */
#include <stdio.h>
#include "../orchestrate/commands.h"
int ce_cmd_copy(int argc, char **argv) { (void)argc; fprintf(stderr, "pomove: %s: not built yet\n", argv[0]); return 3; }
