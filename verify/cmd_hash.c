/* PLACEHOLDER: replaced by the module's owner. */
#include <stdio.h>
#include "../orchestrate/commands.h"
int vf_cmd_hash(int argc, char **argv) { (void)argc; fprintf(stderr, "pomove: %s: not built yet\n", argv[0]); return 3; }
