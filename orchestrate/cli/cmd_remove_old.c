/* cmd_remove_old.c - the command line of `pomove remove-old`: options,
 * help and opening the host. The audit and the removal are in
 * ../remove_old.c (orch_remove_old). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "orch.h"
#include "sys.h"
#include "util.h"

static const char remove_help[] =
    "usage: pomove remove-old --host SPEC [--state DIR] [--dry-run] [--json] [-q]\n"
    "\n"
    "Deletes the old Connect\\Msmcon after a completed move. The move never\n"
    "deletes it; this command does, and only when the move completed (and\n"
    "was not rolled back) and the old tree still audits identical to the\n"
    "copy's manifest with no extra files. A tree that changed since the\n"
    "copy is kept and the differences are listed.\n"
    "\n"
    "Options:\n"
    "  --host SPEC   the host: local (this machine; the default on\n"
    "                Windows) or sim:DIR (Linux: the simulated host)\n"
    "  --state DIR   the move's state folder (default: the host's)\n"
    "  --dry-run     audit only; remove nothing\n"
    "  --json        machine-readable result (also with -q)\n"
    "  -q, --quiet   no progress, no report on stdout (errors are still\n"
    "                shown)\n"
    "\n"
    "Exit codes: 0 removed (or already gone, or --dry-run clean); 1 the old\n"
    "tree differs from the manifest and was kept; 2 no completed move or bad\n"
    "arguments; 3 the audit or the removal failed (run it again); 130\n"
    "interrupted (Ctrl-C or SIGTERM; run it again: an interrupted removal\n"
    "continues, the files still there audited as before).\n";

int orch_cmd_remove_old(int argc, char **argv) {
  orch_remove_options o;
  memset(&o, 0, sizeof o);
  const char *host = NULL;
  bool quiet = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(remove_help, stdout);
      return PM_EXIT_OK;
    }
    if ((v = orch_cli_value(argc, argv, &i, "host"))) host = v;
    else if ((v = orch_cli_value(argc, argv, &i, "state"))) o.state_dir = v;
    else if (!strcmp(a, "--dry-run")) o.dry_run = true;
    else if (!strcmp(a, "--json")) o.json = true;
    else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) quiet = true;
    else {
      pm_report_errorf(PM_EINVAL, "%s: unknown option '%s' (see --help)",
                       argv[0], a);
      return PM_EXIT_USAGE;
    }
    if (v && !*v) {
      pm_report_errorf(PM_EINVAL, "%s: option '%s' needs a value", argv[0], a);
      return PM_EXIT_USAGE;
    }
  }
  pm_host *h;
  int rc = orch_cli_start(host, quiet, o.json, &o.out, &h);
  if (rc) return rc;
  orch_result res;
  memset(&res, 0, sizeof res);
  /* The state lock, as move and rollback take it. */
  pm_sidelock lk = {.fd = PM_FD_INVALID};
  rc = orch_state_lock(h, o.state_dir, false, &lk);
  if (rc) {
    pm_host_close(h);
    res.refused = rc == PM_EBUSY || pm_side_refused(rc);
    return orch_cli_exit(rc, &res);
  }
  rc = orch_remove_old(h, &o, &res);
  orch_state_unlock(h, &lk);
  pm_host_close(h);
  return orch_cli_exit(rc, &res);
}
