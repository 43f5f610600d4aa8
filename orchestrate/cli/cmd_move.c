/* cmd_move.c - the command lines of `pomove move`, `pomove plan`,
 * `pomove stage` and `pomove rollback`: option parsing, help, opening the
 * host, and the exit code (cli_exit_code of what the library says). The
 * work is in plan.c, steps.c, move.c, stage.c and step_journal.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "orch.h"
#include "sys.h"
#include "util.h"

const char *orch_cli_value(int argc, char **argv, int *i, const char *name) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, "--", 2) || strncmp(a + 2, name, n)) return NULL;
  if (a[2 + n] == '=') return a + 3 + n;
  if (a[2 + n]) return NULL;
  if (*i + 1 >= argc) return "";
  return argv[++*i];
}

int orch_cli_open_host(const char *spec, pm_host **h) {
  /* Without --host, the platform's default (Windows: this machine). */
  if (!spec) spec = pm_host_default_spec();
  if (!spec) {
    pm_report_errorf(PM_EINVAL, "--host is required (this build knows %s)",
                     pm_host_known_specs());
    return PM_EXIT_USAGE;
  }
  int rc = pm_host_open(spec, h);
  if (rc == PM_EINVAL && !pm_host_open_detail()[0]) {
    pm_report_errorf(rc, "unknown host '%s' (this build knows %s)", spec,
                     pm_host_known_specs());
    return PM_EXIT_USAGE;
  }
  if (rc == PM_EBUSY) {
    pm_report_errorf(rc, "host '%s' is in use by another pomove", spec);
    return PM_EXIT_FAILED;
  }
  if (rc < 0) {
    /* The backend may say which of its files and which line it could not
     * read; a host it cannot read whole is not used at all. */
    const char *d = pm_host_open_detail();
    if (d[0])
      pm_report_errorf(rc, "open host %s: %s", spec, d);
    else
      pm_report_error("open host", spec, rc);
    return PM_EXIT_USAGE;
  }
  return 0;
}

int orch_cli_start(const char *spec, bool quiet, bool json, FILE **out,
                   pm_host **h) {
  *out = stdout; /* the report; the library writes where it is told */
  if (quiet) {
    pm_set_quiet(true);
    if (!json) *out = pm_null_stream();
  }
  int rc = orch_cli_open_host(spec, h);
  if (rc) return rc;
  pm_interrupt_catch();
  return 0;
}

int orch_cli_exit(int rc, const orch_result *res) {
  return cli_exit_code(rc, (cli_outcome){.refused = res->refused,
                                         .interrupted = res->interrupted,
                                         .partial = res->partial});
}

static const char move_help[] =
    "usage: pomove move --host SPEC --from PATH --to PATH [options]\n"
    "       pomove move --host SPEC --resume [options]\n"
    "       pomove plan --host SPEC --from PATH --to PATH [--json]\n"
    "\n"
    "Moves the MS Mail Connector postoffice (KB Q171259) and everything\n"
    "that points at it: stops the connector services (ATMTA, PC MTA\n"
    "instances, MSMI), unshares Maildat$, copies Connect\\Msmcon with the\n"
    "copy engine (verified, resumable), re-creates the share with its\n"
    "remark and security descriptor, rewrites every registry value under\n"
    "the affected service and event-log keys (types kept, a .reg backup\n"
    "first), re-points the Macintosh volume, restarts the services and\n"
    "checks the result. The old tree is never deleted. `plan` (or\n"
    "--dry-run) prints the plan and changes nothing, and shows what\n"
    "`pomove stage` staged. After a stage the copy step is a final delta\n"
    "pass over the staged copy (changed files copied and re-read, removed\n"
    "ones deleted); the report gives the downtime.\n"
    "\n"
    "  --host SPEC          the Windows host: local (this machine; the\n"
    "                       default on Windows) or sim:DIR (Linux: the\n"
    "                       simulated host)\n"
    "  --from PATH          the Exchange path (C:\\exchsrvr) or its\n"
    "                       Connect\\Msmcon\n"
    "  --to PATH            the new drive (D:) or ExchSrvr folder\n"
    "  --resume             continue an interrupted or failed move\n"
    "  --dry-run            print the plan only\n"
    "  --state DIR          where the plan, step journal and backup live\n"
    "                       (default: the host's; sim: DIR/pomove)\n"
    "  --stop-timeout S     seconds to wait for a service to stop (120)\n"
    "  --start-timeout S    seconds to wait for a service to start (120)\n"
    "  --threads N          copy threads (default: number of CPUs)\n"
    "  --busy-wait S        how long the copy waits for a file another\n"
    "                       program holds, 0 to 3600 (default 30; see copy)\n"
    "  --no-verify          do not re-read the copy to compare it\n"
    "  --verify-all         after a stage: also re-read every file the\n"
    "                       final pass skipped (default: only the files it\n"
    "                       copied are re-read; skipped ones are checked\n"
    "                       against their recorded identity)\n"
    "  --checksum           after a stage: the final pass reads and hashes\n"
    "                       every source file, whatever its metadata say\n"
    "                       (for a FAT source, which keeps no change time)\n"
    "  --progress MODE      auto, tty, plain or off (copy progress)\n"
    "  --json               print the result as JSON (also with -q)\n"
    "  -q, --quiet          no progress, no warnings, no report on stdout\n"
    "                       (errors are still shown)\n"
    "\n"
    "Exit codes: 0 moved (or plan printed); 2 bad arguments or the\n"
    "destination was refused (not NTFS, no room, inside the source,\n"
    "another postoffice there) or a move is already in progress; 3 a step\n"
    "failed (the host is left for --resume or rollback); 130 interrupted\n"
    "(Ctrl-C or SIGTERM stops it between steps, or within the copy, in a\n"
    "second or two; continue with --resume or undo with rollback).\n";

static const char rollback_help[] =
    "usage: pomove rollback --host SPEC [--remove-copy] [options]\n"
    "\n"
    "Returns the host to its state before the last move, from the plan\n"
    "saved when the move began: registry values with their types, the\n"
    "share with its remark and security descriptor, the Macintosh volume,\n"
    "and the services as they were. The copy is left in place unless\n"
    "--remove-copy is given; the old tree is never touched. Running it\n"
    "again after a failure continues.\n"
    "\n"
    "  --host SPEC          the Windows host: local (this machine; the\n"
    "                       default on Windows) or sim:DIR (Linux: the\n"
    "                       simulated host)\n"
    "  --state DIR          the move's state folder (default: the host's)\n"
    "  --remove-copy        delete the new Connect\\Msmcon copy\n"
    "  --stop-timeout S     seconds to wait for a service to stop (120)\n"
    "  --start-timeout S    seconds to wait for a service to start (120)\n"
    "  --json               print the result as JSON (also with -q)\n"
    "  -q, --quiet          no warnings, no report on stdout (errors are\n"
    "                       still shown)\n"
    "\n"
    "Exit codes: 0 rolled back (or nothing left to roll back); 2 no move\n"
    "to roll back or bad arguments; 3 a step failed (run it again); 130\n"
    "interrupted (Ctrl-C or SIGTERM; run it again to finish).\n";

static const char stage_help[] =
    "usage: pomove stage --host SPEC --from PATH --to PATH [options]\n"
    "       pomove stage --host SPEC --discard [options]\n"
    "\n"
    "The first phase of a two-phase move: copies Connect\\Msmcon to its\n"
    "new place while the connector services run and Maildat$ is shared.\n"
    "Changes no service, share or registry value. The first run is a full\n"
    "copy, each later run a delta pass; files the services write while\n"
    "they are read are left for the next pass and counted. What was staged\n"
    "is recorded in the state folder (DIR/pomove/stage on a simulated\n"
    "host); `pomove plan` shows it and `pomove move` then stops the\n"
    "services and finishes with a short verified delta pass. A killed\n"
    "stage continues when run again.\n"
    "\n"
    "  --host SPEC          the Windows host: local (this machine; the\n"
    "                       default on Windows) or sim:DIR (Linux: the\n"
    "                       simulated host)\n"
    "  --from PATH          the Exchange path (C:\\exchsrvr) or its\n"
    "                       Connect\\Msmcon\n"
    "  --to PATH            the new drive (D:) or ExchSrvr folder\n"
    "  --discard            remove the staged copy (never following a\n"
    "                       link inside it) and its record\n"
    "  --state DIR          where the stage is recorded\n"
    "  --threads N          copy threads (default: number of CPUs)\n"
    "  --busy-wait S        how long a pass waits for a file another\n"
    "                       program holds, 0 to 3600 (default 30; see copy)\n"
    "  --no-verify          do not re-read what each pass copies\n"
    "  --json               print the result as JSON\n"
    "  -q, --quiet          no report on stdout (errors are still shown)\n"
    "\n"
    "Exit codes: 0 staged (or discarded); 1 some files could not be\n"
    "copied (the next pass or the move copies them); 2 bad arguments, a\n"
    "refused destination, another stage there, or a move in progress;\n"
    "3 the pass could not complete; 130 interrupted (run it again).\n";

static int parse_timeout(const char *cmd, const char *v, const char *opt,
                         unsigned *ms) {
  double s;
  int rc = pm_cli_seconds(cmd, opt, v, 86400, &s);
  if (!rc) *ms = (unsigned)(s * 1000);
  return rc;
}

/* mode: 0 move, 1 plan, 2 rollback, 3 stage */
static int run_cmd(int argc, char **argv, int mode) {
  orch_options o;
  orch_options_init(&o);
  const char *host = NULL;
  bool quiet = false, discard = false;
  o.dry_run = mode == 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(mode == 2 ? rollback_help : mode == 3 ? stage_help : move_help,
            stdout);
      return PM_EXIT_OK;
    }
    if ((v = orch_cli_value(argc, argv, &i, "host"))) host = v;
    else if (mode != 2 && (v = orch_cli_value(argc, argv, &i, "from")))
      o.from = v;
    else if (mode != 2 && (v = orch_cli_value(argc, argv, &i, "to"))) o.to = v;
    else if ((v = orch_cli_value(argc, argv, &i, "state"))) o.state_dir = v;
    else if ((v = orch_cli_value(argc, argv, &i, "stop-timeout"))) {
      if (*v && parse_timeout(argv[0], v, "--stop-timeout",
                              &o.stop_timeout_ms))
        return PM_EXIT_USAGE;
    } else if ((v = orch_cli_value(argc, argv, &i, "start-timeout"))) {
      if (*v && parse_timeout(argv[0], v, "--start-timeout",
                              &o.start_timeout_ms))
        return PM_EXIT_USAGE;
    } else if (mode != 2 && (v = orch_cli_value(argc, argv, &i, "threads"))) {
      uint64_t n = 0;
      if (*v && pm_cli_size(argv[0], "--threads", v, 1, 64, PM_SIZE_PLAIN,
                            &n))
        return PM_EXIT_USAGE;
      o.threads = (unsigned)n;
    } else if (mode != 2 &&
               (v = orch_cli_value(argc, argv, &i, "busy-wait"))) {
      double s = 0;
      if (*v && pm_cli_seconds(argv[0], "--busy-wait", v, 3600, &s))
        return PM_EXIT_USAGE;
      o.busy_wait_set = true;
      o.busy_wait_ns = (int64_t)(s * 1e9 + 0.5);
    } else if (mode != 2 && (v = orch_cli_value(argc, argv, &i, "progress"))) {
      if (!strcmp(v, "auto")) o.progress_mode = PM_PROGRESS_AUTO;
      else if (!strcmp(v, "tty")) o.progress_mode = PM_PROGRESS_TTY;
      else if (!strcmp(v, "plain")) o.progress_mode = PM_PROGRESS_PLAIN;
      else if (!strcmp(v, "off")) o.progress_mode = PM_PROGRESS_OFF;
      else {
        pm_report_errorf(PM_EINVAL, "--progress: '%s' is not auto, tty, "
                                    "plain or off", v);
        return PM_EXIT_USAGE;
      }
    } else if (mode == 0 && !strcmp(a, "--resume")) o.resume = true;
    else if (mode == 0 && !strcmp(a, "--dry-run")) o.dry_run = true;
    else if (mode != 2 && !strcmp(a, "--no-verify")) o.no_verify = true;
    else if (mode == 0 && !strcmp(a, "--verify-all")) o.verify_all = true;
    else if (mode == 0 && !strcmp(a, "--checksum")) o.checksum = true;
    else if (mode == 3 && !strcmp(a, "--discard")) discard = true;
    else if (mode == 2 && !strcmp(a, "--remove-copy")) o.remove_copy = true;
    else if (!strcmp(a, "--json")) o.json = true;
    else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) quiet = true;
    else {
      pm_report_errorf(PM_EINVAL, "%s: unknown option '%s' (see --help)",
                       argv[0], a);
      return PM_EXIT_USAGE;
    }
    if (v && !*v) {
      pm_report_errorf(PM_EINVAL, "%s: option '%s' needs a value", argv[0],
                       a);
      return PM_EXIT_USAGE;
    }
  }
  if (mode != 2 && !o.resume && !discard && (!o.from || !o.to)) {
    pm_report_errorf(PM_EINVAL, "%s: --from and --to are required (see "
                                "--help)", argv[0]);
    return PM_EXIT_USAGE;
  }
  /* -q: no progress, no warnings, no report on stdout (--json still
   * prints); errors go to stderr whatever happens. */
  if (quiet) o.progress_mode = PM_PROGRESS_OFF;
  pm_host *h;
  int rc = orch_cli_start(host, quiet, o.json, &o.out, &h);
  if (rc) return rc;
  o.interrupt = pm_interrupt_flag();
  orch_result res;
  memset(&res, 0, sizeof res);
  /* One pomove per state folder; a plan changes nothing and takes none. */
  pm_sidelock lk = {.fd = PM_FD_INVALID};
  if (!o.dry_run) {
    rc = orch_state_lock(h, o.state_dir,
                         mode != 2 && !o.resume && !discard, &lk);
    if (rc) {
      pm_host_close(h);
      res.refused = rc == PM_EBUSY || pm_side_refused(rc);
      return orch_cli_exit(rc, &res);
    }
  }
  rc = mode == 2   ? orch_rollback(h, &o, &res)
       : mode == 3 ? orch_stage_cmd(h, &o, discard, &res)
                   : orch_move(h, &o, &res);
  orch_state_unlock(h, &lk);
  pm_host_close(h);
  return orch_cli_exit(rc, &res);
}

int orch_cmd_move(int argc, char **argv) { return run_cmd(argc, argv, 0); }
int orch_cmd_plan(int argc, char **argv) { return run_cmd(argc, argv, 1); }
int orch_cmd_stage(int argc, char **argv) { return run_cmd(argc, argv, 3); }
int orch_cmd_rollback(int argc, char **argv) {
  return run_cmd(argc, argv, 2);
}
