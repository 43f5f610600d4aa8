/* cli.h - what the command files of this folder share besides the command
 * table (commands.h): where the program's output goes (the report sink
 * and the progress drawer it installs in the libraries) and the option
 * parsers of sizes and seconds. Included by orchestrate/cli/ and its
 * tests only: no library includes it. */
#ifndef POMOVE_CLI_H
#define POMOVE_CLI_H

#include <stdint.h>

/* Installs the command line's report sink and progress drawer (util.h):
 * reports and progress lines go to stderr, progress redrawn in place on
 * a terminal and as a plain line otherwise. Called by main() before a
 * command runs. */
void cli_output_init(void);

/* Flags of pm_cli_size. */
enum {
  PM_SIZE_OFF = 1 << 0,   /* "off" is accepted and gives UINT64_MAX */
  PM_SIZE_COUNT = 1 << 1, /* a count that takes the same suffixes */
  PM_SIZE_PLAIN = 1 << 2  /* a count of plain digits, no suffix */
};
/* Parses option `opt` of command `cmd` ("copy", "--chunk-size") with
 * pm_size_parse (util.h) and checks it lies in [min, max]. Returns 0, or
 * prints one line naming the command, the option and the value to stderr
 * and returns PM_EXIT_USAGE (so a caller writes
 * `if ((rc = pm_cli_size(...))) return rc;`). */
int pm_cli_size(const char *cmd, const char *opt, const char *val,
                uint64_t min, uint64_t max, unsigned flags, uint64_t *out);
/* Seconds, with an optional fraction ("2", "0.5"), from 0 to max_s.
 * Same contract as pm_cli_size. */
int pm_cli_seconds(const char *cmd, const char *opt, const char *val,
                   double max_s, double *secs);

#endif
