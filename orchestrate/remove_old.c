/* remove_old.c - `pomove remove-old`: the one command that deletes the old
 * connector postoffice after a move. The move itself never does. It
 * refuses unless the move completed (and was not rolled back) and the old
 * tree still audits identical to the copy's manifest with no extra files:
 * a tree that changed since the copy (a service left running, or a
 * service pack that recreated Msmcon there, Q240208) is kept. */
#include <stdlib.h>
#include <string.h>

#include "../orchestrate/commands.h"
#include "audit.h"
#include "orch.h"
#include "report.h"
#include "sys.h"
#include "util.h"

int orch_remove_old(pm_host *h, const orch_remove_options *o) {
  FILE *out = o->out ? o->out : stdout;
  char *state = orch_state_current(h, o->state_dir);
  char *plan_path = pm_path_join(state, "plan");
  char *journal_path = pm_path_join(state, "journal");
  char *manifest = pm_path_join(state, "copy.xxh128");
  orch_plan plan;
  memset(&plan, 0, sizeof plan);
  orch_journal j;
  memset(&j, 0, sizeof j);
  vf_report *rep = NULL;
  int exit_code = PM_EXIT_USAGE;
  int rc = orch_plan_load(h, plan_path, &plan);
  if (rc) {
    pm_report_errorf(rc, "no move recorded in '%s' (nothing to remove)",
                     state);
    goto out;
  }
  rc = orch_journal_open(h->fs, journal_path, &j);
  if (rc) {
    pm_report_error("read step journal", journal_path, rc);
    exit_code = PM_EXIT_FAILED;
    goto out;
  }
  pm_oserr_set(0);
  if (!j.move_done || j.rollback_begun) {
    pm_report_errorf(PM_ESTATE,
                     "the move in '%s' %s: the old tree '%s' is still the "
                     "postoffice of record and is kept",
                     state, j.rollback_begun ? "was rolled back" : "is not complete",
                     plan.from);
    goto out;
  }
  if (pm_path_within(plan.from_native, plan.to_native) ||
      pm_path_within(plan.to_native, plan.from_native)) {
    pm_report_errorf(PM_EINVAL, "the old tree '%s' and the copy '%s' overlap",
                     plan.from, plan.to);
    goto out;
  }
  pm_stat st;
  rc = h->fs->stat(plan.from_native, false, &st);
  if (rc == PM_ENOENT) {
    fprintf(out, "The old tree %s is already gone.\n", plan.from);
    exit_code = PM_EXIT_OK;
    goto out;
  }
  /* The audit: every file the copy recorded is there, unchanged, and
   * nothing else is. */
  vf_audit_opts ao;
  memset(&ao, 0, sizeof ao);
  ao.fs = h->fs;
  ao.extra = true;
  ao.progress_mode =
      o->json || pm_quiet() ? PM_PROGRESS_OFF : PM_PROGRESS_AUTO;
  rep = vf_report_new(VF_MODE_MANIFEST, 10);
  uint64_t t0 = pm_now_ns();
  rc = vf_audit_manifest(&ao, manifest, plan.from_native, rep);
  vf_report_info info = {.a = manifest, .b = plan.from_native,
                         .engine = ao.engine_used, .threads = ao.threads_used,
                         .seconds = (double)(pm_now_ns() - t0) / 1e9,
                         .complete = rc == 0, .show = 10,
                         .malformed = ao.malformed};
  if (!o->json) vf_report_print_human(rep, &info, out);
  if (pm_interrupted()) {
    fprintf(stderr, "pomove remove-old: interrupted during the audit; "
                    "nothing was removed, run it again\n");
    exit_code = PM_EXIT_INTERRUPTED;
    goto out;
  }
  uint64_t diffs = vf_report_differences(rep) + ao.malformed;
  /* A removal that was interrupted (remove-old-begin recorded) resumes:
   * the files it already removed are missing by design. Everything still
   * there must still match, and nothing may have been added. */
  if (j.old_removed) {
    uint64_t gone = vf_report_count(rep, VF_MISSING);
    diffs -= gone < diffs ? gone : diffs;
    if (!o->json)
      fprintf(out, "Resuming an interrupted removal: %llu files already "
                   "removed.\n", (unsigned long long)gone);
  }
  if (rc || diffs) {
    if (o->json) {
      fprintf(out, "{\"command\":\"remove-old\",\"result\":\"kept\","
                   "\"differences\":%llu,\"audit\":",
              (unsigned long long)diffs);
      vf_report_print_json(rep, &info, out);
      fputs("}\n", out);
    }
    pm_oserr_set(0);
    pm_report_errorf(rc ? rc : PM_ECHANGED,
                     "the old tree '%s' does not match the copy's manifest "
                     "(%llu differences): it is kept",
                     plan.from, (unsigned long long)diffs);
    exit_code = rc ? PM_EXIT_FAILED : PM_EXIT_PARTIAL;
    goto out;
  }
  if (o->dry_run) {
    fprintf(out, "The old tree %s audits clean and would be removed.\n",
            plan.from);
    exit_code = PM_EXIT_OK;
    goto out;
  }
  rc = orch_journal_add(&j, "remove-old-begin", -1);
  if (!rc) rc = orch_remove_tree(h->fs, plan.from_native);
  if (rc == PM_ECANCELED) {
    fprintf(stderr, "pomove remove-old: interrupted; what is left of the "
                    "old tree is still covered by the manifest: run "
                    "remove-old again to finish\n");
    exit_code = PM_EXIT_INTERRUPTED;
    goto out;
  }
  if (rc) {
    pm_report_error("remove the old tree", plan.from_native, rc);
    fprintf(stderr, "pomove: what is left of the old tree is still "
                    "covered by the manifest; run remove-old again.\n");
    exit_code = PM_EXIT_FAILED;
    goto out;
  }
  rc = orch_journal_add(&j, "remove-old-done", -1);
  if (rc) pm_report_error("write step journal", journal_path, rc);
  if (o->json)
    fprintf(out, "{\"command\":\"remove-old\",\"result\":\"removed\","
                 "\"path\":");
  if (o->json) {
    pm_json_string(out, plan.from);
    fputs("}\n", out);
  } else {
    fprintf(out, "Removed the old tree %s (it matched the copy's manifest "
                 "%s).\n",
            plan.from, manifest);
  }
  exit_code = PM_EXIT_OK;
out:
  if (rep) vf_report_free(rep);
  if (j.path) orch_journal_close(&j);
  orch_plan_free(&plan);
  free(manifest);
  free(journal_path);
  free(plan_path);
  free(state);
  return exit_code;
}

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
  if (quiet) {
    pm_set_quiet(true);
    if (!o.json) o.out = pm_null_stream();
  }
  pm_host *h;
  int rc = orch_cli_open_host(host, &h);
  if (rc) return rc;
  pm_interrupt_catch();
  rc = orch_remove_old(h, &o);
  pm_host_close(h);
  return rc;
}
