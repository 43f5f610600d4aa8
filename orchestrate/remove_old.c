/* remove_old.c - `pomove remove-old` (its command line is in
 * cli/cmd_remove_old.c): the one command that deletes the old connector
 * postoffice after a move. The move itself never does. It
 * refuses unless the move completed (and was not rolled back) and the old
 * tree still audits identical to the copy's manifest with no extra files:
 * a tree that changed since the copy (a service left running, or a
 * service pack that recreated Msmcon there, Q240208) is kept. */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "orch.h"
#include "report.h"
#include "sys.h"
#include "util.h"

int orch_remove_old(pm_host *h, const orch_remove_options *o,
                    orch_result *res) {
  memset(res, 0, sizeof *res);
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
  int rc = orch_plan_load(h, plan_path, &plan);
  if (rc) {
    pm_report_errorf(rc, "no move recorded in '%s' (nothing to remove)",
                     state);
    res->refused = true;
    goto out;
  }
  rc = orch_journal_open(h->fs, journal_path, &j);
  if (rc) {
    pm_report_error("read step journal", journal_path, rc);
    goto out;
  }
  pm_oserr_set(0);
  if (!j.move_done || j.rollback_begun) {
    rc = PM_ESTATE;
    res->refused = true;
    pm_report_errorf(rc,
                     "the move in '%s' %s: the old tree '%s' is still the "
                     "postoffice of record and is kept",
                     state, j.rollback_begun ? "was rolled back" : "is not complete",
                     plan.from);
    goto out;
  }
  if (pm_path_within(plan.from_native, plan.to_native) ||
      pm_path_within(plan.to_native, plan.from_native)) {
    rc = PM_EINVAL;
    res->refused = true;
    pm_report_errorf(rc, "the old tree '%s' and the copy '%s' overlap",
                     plan.from, plan.to);
    goto out;
  }
  pm_stat st;
  rc = pm_fs_stat(h->fs, plan.from_native, false, &st);
  if (rc == PM_ENOENT) {
    fprintf(out, "The old tree %s is already gone.\n", plan.from);
    rc = 0;
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
    pm_report_notef("pomove remove-old: interrupted during the audit; "
                    "nothing was removed, run it again\n");
    rc = PM_ECANCELED;
    res->interrupted = true;
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
    /* Differences (and no error): the command did its work, which was
     * to keep the tree. */
    res->partial = rc == 0;
    goto out;
  }
  if (o->dry_run) {
    fprintf(out, "The old tree %s audits clean and would be removed.\n",
            plan.from);
    goto out;
  }
  rc = orch_journal_add(&j, "remove-old-begin", -1);
  if (!rc) rc = orch_remove_tree(h->fs, plan.from_native);
  if (rc == PM_ECANCELED) {
    pm_report_notef("pomove remove-old: interrupted; what is left of the "
                    "old tree is still covered by the manifest: run "
                    "remove-old again to finish\n");
    res->interrupted = true;
    goto out;
  }
  if (rc) {
    pm_report_error("remove the old tree", plan.from_native, rc);
    pm_report_notef("pomove: what is left of the old tree is still "
                    "covered by the manifest; run remove-old again.\n");
    goto out;
  }
  /* The tree is gone: a journal that cannot say so is reported, and the
   * next remove-old finds the tree gone. */
  int jr = orch_journal_add(&j, "remove-old-done", -1);
  if (jr) pm_report_error("write step journal", journal_path, jr);
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
  rc = 0;
out:
  if (rep) vf_report_free(rep);
  if (j.path) orch_journal_close(&j);
  orch_plan_free(&plan);
  free(manifest);
  free(journal_path);
  free(plan_path);
  free(state);
  return rc;
}
