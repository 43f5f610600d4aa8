/* cli.h - what the command files of this folder share besides the command
 * table (commands.h): the exit codes and the one function that chooses
 * them, where the program's output goes (the report sink and the
 * progress drawer it installs in the libraries) and the option parsers
 * of sizes and seconds. Included by orchestrate/cli/ and its tests only:
 * no library includes it. */
#ifndef POMOVE_CLI_H
#define POMOVE_CLI_H

#include <stdbool.h>
#include <stdint.h>

/* Exit codes of the pomove command (README and every --help list them).
 * The libraries never see them: they return 0 or a PM_E* code and say in
 * a result what else happened, and cli_exit_code() below makes the exit
 * code of that. */
enum {
  PM_EXIT_OK = 0,         /* everything done / identical */
  PM_EXIT_PARTIAL = 1,    /* done, but some entries failed or differ */
  PM_EXIT_USAGE = 2,      /* bad command line or unusable arguments */
  PM_EXIT_FAILED = 3,     /* could not complete */
  PM_EXIT_INTERRUPTED = 130
};

/* What a command learned from its library besides the return code, as
 * the library's result (ce_result, orch_result, ...) says it. */
typedef struct cli_outcome {
  /* Not started: an argument or the state of a tree, a host or a move
   * forbids it (reported); nothing was changed. */
  bool refused;
  /* Stopped by Ctrl-C or SIGTERM at a point a rerun continues from. */
  bool interrupted;
  /* Finished, but some entries failed or differ (each reported). */
  bool partial;
} cli_outcome;

/* The exit code of a command whose library returned `rc` (0 or a PM_E*)
 * with `out`: PM_EXIT_USAGE when refused, else PM_EXIT_INTERRUPTED when
 * interrupted, else PM_EXIT_FAILED for any other error, else
 * PM_EXIT_PARTIAL when partial, else PM_EXIT_OK. Every command maps its
 * library's outcome here; only option parsing, which no library sees,
 * returns PM_EXIT_USAGE (or PM_EXIT_OK for --help) by itself. */
int cli_exit_code(int rc, cli_outcome out);

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
