/* cmd_check.c - the command line of `pomove check` (check.c does the
 * work). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "orch.h"
#include "sys.h"
#include "util.h"

static const char help[] =
    "usage: pomove check --host SPEC --expect PATH [--repair] [--json] [-q]\n"
    "\n"
    "Checks a host after an earlier move, or after an Exchange service pack\n"
    "reset it (KB Q240208): every registry value of the connector services,\n"
    "their event-log sources and the Macintosh volumes that points at a\n"
    "Msmcon other than PATH, a missing Maildat$ share, Bin files older than\n"
    "the default location's. --repair fixes what it reports, writing a .reg\n"
    "backup of the values first and stopping the connector services around\n"
    "the change.\n"
    "\n"
    "  --host SPEC          the Windows host: local (this machine; the\n"
    "                       default on Windows) or sim:DIR (Linux: the\n"
    "                       simulated host)\n"
    "  --expect PATH        where the postoffice should be: D:, D:\\ExchSrvr\n"
    "                       or D:\\ExchSrvr\\Connect\\Msmcon\n"
    "  --repair             fix the findings (not while a move, stage,\n"
    "                       rollback or other repair holds the state\n"
    "                       folder's lock)\n"
    "  --state DIR          where backups go (default: the host's)\n"
    "  --stop-timeout S     seconds to wait for a service to stop (120)\n"
    "  --start-timeout S    seconds to wait for a service to start (120)\n"
    "  --json               print the result as JSON (also with -q)\n"
    "  -q, --quiet          no report on stdout, no warnings; the exit code\n"
    "                       tells (errors are still shown)\n"
    "\n"
    "Exit codes: 0 nothing found (or all repaired); 1 findings remain;\n"
    "2 bad arguments, or a repair refused because another pomove holds\n"
    "the state folder; 3 the check or the repair failed; 130 interrupted\n"
    "(Ctrl-C or SIGTERM; run it again).\n";

int orch_cmd_check(int argc, char **argv) {
  orch_check_options o;
  memset(&o, 0, sizeof o);
  o.stop_timeout_ms = o.start_timeout_ms = 120000;
  const char *host = NULL;
  bool quiet = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(help, stdout);
      return PM_EXIT_OK;
    }
    if ((v = orch_cli_value(argc, argv, &i, "host"))) host = v;
    else if ((v = orch_cli_value(argc, argv, &i, "expect"))) o.expect = v;
    else if ((v = orch_cli_value(argc, argv, &i, "state"))) o.state_dir = v;
    else if ((v = orch_cli_value(argc, argv, &i, "stop-timeout")) ||
             (v = orch_cli_value(argc, argv, &i, "start-timeout"))) {
      double s = 0;
      bool stop = !strncmp(a, "--stop", 6);
      if (*v && pm_cli_seconds("check", stop ? "--stop-timeout"
                                             : "--start-timeout",
                               v, 86400, &s))
        return PM_EXIT_USAGE;
      *(stop ? &o.stop_timeout_ms : &o.start_timeout_ms) =
          (unsigned)(s * 1000);
    }
    else if (!strcmp(a, "--repair")) o.repair = true;
    else if (!strcmp(a, "--json")) o.json = true;
    else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) quiet = true;
    else {
      pm_report_errorf(PM_EINVAL, "check: unknown option '%s' (see --help)",
                       a);
      return PM_EXIT_USAGE;
    }
    if (v && !*v) {
      pm_report_errorf(PM_EINVAL, "check: option '%s' needs a value", a);
      return PM_EXIT_USAGE;
    }
  }
  if (!o.expect) {
    pm_report_errorf(PM_EINVAL, "check: --expect is required (see --help)");
    return PM_EXIT_USAGE;
  }
  pm_host *h;
  int rc = orch_cli_start(host, quiet, o.json, &o.out, &h);
  if (rc) return rc;
  orch_result res;
  /* A repair writes its backup into the state folder and changes what a
   * move changes: it takes the moves' state lock, so that it never runs
   * beside a move, stage or rollback. A bare check changes nothing. */
  pm_sidelock lk = {.fd = PM_FD_INVALID};
  if (o.repair) {
    rc = orch_state_lock(h, o.state_dir, true, &lk);
    if (rc) {
      pm_host_close(h);
      res = (orch_result){.refused = rc == PM_EBUSY || pm_side_refused(rc)};
      return orch_cli_exit(rc, &res);
    }
  }
  rc = orch_check(h, &o, &res);
  orch_state_unlock(h, &lk);
  pm_host_close(h);
  /* The audit and the repair stop at Ctrl-C without telling it apart
   * from an error; whatever they returned, the command was interrupted. */
  if (pm_interrupted()) {
    fprintf(stderr, "pomove check: interrupted; run it again (a repair "
                    "continues where it stopped)\n");
    res = (orch_result){.interrupted = true};
  }
  return orch_cli_exit(rc, &res);
}
