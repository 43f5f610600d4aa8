/* main.c - the pomove command line: dispatches to the subcommands listed
 * in commands.h. Global help and the exit-code table live here. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "sys.h"
#include "util.h"

typedef struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"copy", ce_cmd_copy,
     "copy a tree in parallel, hashing it and writing a manifest"},
    {"verify", vf_cmd_verify,
     "audit a copy against its source tree or against a manifest"},
    {"hash", vf_cmd_hash, "write an xxh128sum manifest of a tree"},
    {"move", orch_cmd_move,
     "move the MS Mail connector postoffice (KB Q171259) end to end"},
    {"plan", orch_cmd_plan, "print the plan of a move; changes nothing"},
    {"stage", orch_cmd_stage,
     "pre-copy the postoffice while the services run (then `move`)"},
    {"rollback", orch_cmd_rollback,
     "return a host to its state before a move"},
    {"remove-old", orch_cmd_remove_old,
     "delete the old postoffice after a move, once it audits clean"},
    {"check", orch_cmd_check,
     "check (and --repair) a host after an earlier move"},
/* The simulated host is part of the Linux harness only (the build defines
 * POMOVE_HAVE_SIM where platform/sim is compiled). */
#ifdef POMOVE_HAVE_SIM
    {"sim-create", orch_cmd_sim_create,
     "create a simulated Exchange 5.5 host with a sample postoffice"},
#endif
    {"gen-postoffice", bench_cmd_gen,
     "generate a realistic connector postoffice tree"},
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: pomove <command> [options]\n"
          "       pomove <command> --help\n\n"
          "Commands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-15s %s\n", commands[i].name, commands[i].summary);
  fprintf(out,
          "\nExit codes:\n"
          "  0    success (copy complete; audit found the trees identical)\n"
          "  1    finished, but some entries failed or differ\n"
          "  2    usage error: bad option or unusable argument\n"
          "  3    could not complete (fatal I/O or host error)\n"
          "  130  interrupted (a rerun resumes)\n");
}

int main(int argc, char **argv) {
  /* Before anything reads argv or prints: the arguments in UTF-8 (Windows
   * passes them in its ANSI code page), and the standard streams as
   * pomove writes them (sys.h). */
  if (pm_args_utf8(&argc, &argv) < 0) {
    fprintf(stderr, "pomove: cannot read the command line as Unicode\n");
    return PM_EXIT_FAILED;
  }
  pm_stdio_init();
  /* Reports and progress of the libraries come here (cli_output.c). */
  cli_output_init();
  /* Ctrl-C and SIGTERM are caught from the start, not only once a command
   * has parsed its options and opened its host: a signal that lands
   * during that (which can take a while on a loaded machine) then sets
   * the flag the command's work looks at first, and the command stops
   * with exit 130 like any other interrupted run, instead of dying of
   * the signal. Each command installs the same catch again before its
   * work (idempotent). */
  pm_interrupt_catch();
  if (argc < 2) {
    usage(stderr);
    return PM_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(stdout);
    return PM_EXIT_OK;
  }
  if (!strcmp(cmd, "--version")) {
    printf("pomove %s\n", POMOVE_VERSION);
    return PM_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(cmd, commands[i].name))
      return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "pomove: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return PM_EXIT_USAGE;
}
