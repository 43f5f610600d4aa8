/* move.c - `move` and `rollback`: the two walks of the step table
 * (steps.c), forward for the move with the step journal around each step
 * and resume, backward for the rollback; and the move's report (text and
 * JSON, with the downtime and its parts). */
#include <stdlib.h>
#include <string.h>

#include "copyengine.h"
#include "fileutil.h"
#include "orch.h"
#include "steps.h"
#include "sys.h"
#include "util.h"

void orch_options_init(orch_options *o) {
  memset(o, 0, sizeof *o);
  o->stop_timeout_ms = 120000;
  o->start_timeout_ms = 120000;
  o->progress_mode = PM_PROGRESS_AUTO;
}

/* ---- output ---- */

/* The downtime: from the moment the first service was asked to stop to
 * the moment the last one was running again, measured when this run did
 * both (a resumed move spans runs and has no single figure). Its parts,
 * by the table's windows: stopping (the step that opens it,
 * stop-services), the copy (the delta pass after a stage, or the whole
 * copy; the default re-reads of copied files happen within it), the
 * --verify-all audit, starting (the step that closes it,
 * start-services) and the other steps between (unshare, create-target,
 * share, registry, mac-volume) and the journal records around them, so
 * that the parts add up to the whole. */
typedef struct downtime {
  bool known;
  double total, stopping, copy, verify, starting, other;
} downtime;

static downtime downtime_of(const orch_run *r) {
  downtime d;
  memset(&d, 0, sizeof d);
  const orch_step_result *st = NULL, *sa = NULL, *sc = NULL;
  for (int k = 0; k < ORCH_NSTEPS; k++) {
    orch_window w = orch_steps[k].window;
    if (w == ORCH_W_OPENS) st = &r->res[k];
    else if (w == ORCH_W_CLOSES) sa = &r->res[k];
    else if (w == ORCH_W_COPY) sc = &r->res[k];
  }
  if (!st || !sa || !sc || st->status != 1 || sa->status != 1 ||
      sc->status != 1)
    return d;
  d.known = true;
  d.total = (double)(sa->t_end - st->t_begin) / 1e9;
  d.stopping = (double)(st->t_end - st->t_begin) / 1e9;
  d.starting = (double)(sa->t_end - sa->t_begin) / 1e9;
  d.verify = r->verify_s;
  d.copy = (double)(sc->t_end - sc->t_begin) / 1e9 - d.verify;
  d.other = d.total - d.stopping - d.copy - d.verify - d.starting;
  if (d.other < 0) d.other = 0;
  return d;
}

static void print_step(orch_run *r, int k, int status, double secs,
                       const char *detail) {
  if (r->o->json) return;
  char t[32];
  const char *res = status == 1 ? "done" : status == 2 ? "skipped" : "FAILED";
  fprintf(r->out, "  [%2d/%d] %-16s %-7s %7s  %s\n", k + 1, ORCH_NSTEPS,
          orch_steps[k].name, res, pm_fmt_duration(secs, t, sizeof t),
          detail);
  fflush(r->out);
}

static void print_json(orch_run *r, const char *cmd, const char *result,
                       int failed, double secs) {
  FILE *o = r->out;
  fprintf(o, "{\"command\":\"%s\",\"result\":\"%s\",\"seconds\":%.3f", cmd,
          result, secs);
  if (failed >= 0)
    fprintf(o, ",\"failed_step\":\"%s\"", orch_step_name(failed));
  fputs(",\"state\":", o);
  pm_json_string(o, r->state);
  fputs(",\"steps\":[", o);
  bool first = true;
  for (int k = 0; k < ORCH_NSTEPS; k++) {
    if (!r->res[k].status) continue;
    fprintf(o, "%s{\"name\":\"%s\",\"result\":\"%s\",\"seconds\":%.3f,"
               "\"detail\":",
            first ? "" : ",", orch_steps[k].name,
            r->res[k].status == 1   ? "done"
            : r->res[k].status == 2 ? "skipped"
                                    : "failed",
            r->res[k].seconds);
    pm_json_string(o, r->res[k].detail);
    fputs("}", o);
    first = false;
  }
  fputs("]", o);
  if (r->copied)
    fprintf(o, ",\"copy\":{\"files\":%llu,\"bytes\":%llu,\"verified\":%llu,"
               "\"seconds\":%.3f,\"staged\":%s,\"copied\":%llu,"
               "\"skipped_unchanged\":%llu,\"metadata_only\":%llu,"
               "\"deleted\":%llu,\"verify_all\":%s,"
               "\"verify_all_files\":%llu}",
            (unsigned long long)r->copy.files,
            (unsigned long long)r->copy.bytes,
            (unsigned long long)r->copy.verified_files, r->copy.seconds,
            r->staged ? "true" : "false",
            (unsigned long long)r->copy.copied,
            (unsigned long long)r->copy.skipped_unchanged,
            (unsigned long long)r->copy.metadata_only,
            (unsigned long long)r->copy.deleted,
            r->verified_all ? "true" : "false",
            (unsigned long long)r->verify_all_files);
  downtime d = downtime_of(r);
  if (d.known)
    fprintf(o, ",\"downtime\":{\"seconds\":%.3f,\"stopping\":%.3f,"
               "\"copy\":%.3f,\"verification\":%.3f,\"starting\":%.3f,"
               "\"other_steps\":%.3f}",
            d.total, d.stopping, d.copy, d.verify, d.starting, d.other);
  fputs(",\"plan\":", o);
  orch_plan_json(r->p, o);
  fputs("}\n", o);
}

static int archive_current(pm_host *h, const char *cur, const char *base) {
  pm_utc now;
  pm_utc_from_seconds(pm_wall_seconds(), &now);
  char stamp[32];
  snprintf(stamp, sizeof stamp, "%04d%02d%02d-%02d%02d%02d", now.year,
           now.month, now.day, now.hour, now.min, now.sec);
  for (int i = 0; i < 100; i++) {
    char *dst = pm_xasprintf("%s/move-%s%s%.0d", base, stamp, i ? "-" : "", i);
    pm_stat st;
    int rc = pm_fs_stat(h->fs, dst, false, &st) == PM_ENOENT
                 ? pm_fs_rename(h->fs, cur, dst)
                 : PM_EEXIST;
    free(dst);
    if (rc != PM_EEXIST) return rc;
  }
  return PM_EEXIST;
}

/* ---- the move ---- */

/* A run of a move or a rollback on h with o, its plan in *plan. */
static void run_init(orch_run *r, pm_host *h, const orch_options *o,
                     orch_plan *plan, orch_result *res) {
  memset(res, 0, sizeof *res);
  memset(r, 0, sizeof *r);
  r->h = h;
  r->o = o;
  r->out = o->out ? o->out : stdout;
  memset(plan, 0, sizeof *plan);
  r->p = plan;
}

int orch_move(pm_host *h, const orch_options *o, orch_result *res) {
  orch_run r;
  orch_plan plan;
  run_init(&r, h, o, &plan, res);
  const char *base = o->state_dir ? o->state_dir : h->state_dir;
  r.state = orch_state_current(h, o->state_dir);
  char *plan_path = pm_path_join(r.state, "plan");
  char *journal_path = pm_path_join(r.state, "journal");
  int rc;
  uint64_t t0 = pm_now_ns();

  pm_stat st;
  bool have_state = pm_fs_stat(h->fs, plan_path, false, &st) == 0;
  if (have_state) {
    rc = orch_journal_open(h->fs, journal_path, &r.j);
    if (rc < 0) {
      pm_report_error("read step journal", journal_path, rc);
      goto out;
    }
  }
  if (o->resume) {
    if (!have_state) {
      pm_report_errorf(PM_ENOENT, "move --resume: no move in progress (no "
                                  "plan in %s)", r.state);
      res->refused = true;
      rc = PM_ENOENT;
      goto out;
    }
    if (r.j.rollback_begun) {
      pm_report_errorf(PM_ESTATE, "move --resume: a rollback of this move "
                                  "was started; run pomove rollback to "
                                  "finish it");
      res->refused = true;
      rc = PM_ESTATE;
      goto out;
    }
    if (r.j.move_done) {
      if (!o->json) fprintf(r.out, "The move recorded in %s is complete.\n",
                            r.state);
      rc = 0;
      goto out;
    }
    rc = orch_plan_load(h, plan_path, &plan);
    if (rc < 0) {
      pm_report_error("read move plan", plan_path, rc);
      goto out;
    }
  } else {
    if (have_state && !r.j.move_done && !r.j.rollback_done && !o->dry_run) {
      pm_report_errorf(PM_ESTATE,
                       "move: a move is in progress (%s): continue it with "
                       "`pomove move --resume` or undo it with `pomove "
                       "rollback`",
                       r.state);
      res->refused = true;
      rc = PM_ESTATE;
      goto out;
    }
    rc = orch_plan_build(h, o, &plan, res);
    if (rc < 0) goto out;
    if (o->dry_run) {
      if (o->json) {
        orch_plan_json(&plan, r.out);
        fputc('\n', r.out);
      } else {
        orch_plan_print(&plan, r.out);
        if (plan.staged) orch_stage_print(&plan.stage, r.out);
        fprintf(r.out, "\nNothing was changed (plan only).\n");
      }
      goto out;
    }
    if (have_state) {
      orch_journal_close(&r.j);
      rc = archive_current(h, r.state, base);
      if (rc < 0) {
        pm_report_error("archive the previous move's state", r.state, rc);
        goto out;
      }
    }
    rc = orch_mkdirs(h->fs, r.state);
    if (rc < 0) goto out;
    rc = orch_plan_save(h, plan_path, &plan);
    if (rc < 0) {
      pm_report_error("write move plan", plan_path, rc);
      goto out;
    }
    rc = orch_journal_open(h->fs, journal_path, &r.j);
    if (rc == 0) rc = orch_journal_add(&r.j, "start", -1);
    if (rc < 0) {
      pm_report_error("write step journal", journal_path, rc);
      goto out;
    }
    if (!o->json) {
      orch_plan_print(&plan, r.out);
      fprintf(r.out, "\nMoving (state in %s):\n", r.state);
    }
  }
  if (o->resume && !o->json)
    fprintf(r.out, "Resuming the move %s -> %s (state in %s):\n", plan.from,
                   plan.to, r.state);

  /* The table forward: a step the journal shows done is skipped, the
   * others run between their "begin" and "done" records. A step done
   * before whose work no longer holds on the host (a registry value
   * changed or deleted since: a crash, another program, the service
   * manager writing its own copy back) runs again: the journal says what
   * was done, not what still is. */
  int failed = -1;
  for (int k = 0; k < ORCH_NSTEPS; k++) {
    const orch_step *s = &orch_steps[k];
    if (r.j.step_done[s->journal_id]) {
      size_t gone = s->undone ? s->undone(&r) : 0;
      if (gone == 0) {
        r.res[k].status = 2;
        orch_strf(r.res[k].detail, sizeof r.res[k].detail, "done before");
        print_step(&r, k, 2, 0, "done before");
        continue;
      }
      if (!o->json)
        fprintf(r.out, "  (%s was done before, but %zu of its values no "
                       "longer hold: it runs again)\n",
                s->name, gone);
    }
    if (o->interrupt && *o->interrupt) {
      failed = k;
      rc = PM_ECANCELED;
      break;
    }
    rc = orch_journal_add(&r.j, "begin", (int)s->journal_id);
    uint64_t ts = pm_now_ns();
    r.res[k].t_begin = ts;
    r.detail[0] = '\0';
    if (rc < 0)
      pm_report_error("write step journal", journal_path, rc);
    else
      rc = s->run(&r);
    if (rc == 0) {
      rc = orch_journal_add(&r.j, "done", (int)s->journal_id);
      if (rc < 0) pm_report_error("write step journal", journal_path, rc);
    }
    r.res[k].t_end = pm_now_ns();
    r.res[k].seconds = orch_since(ts);
    orch_strf(r.res[k].detail, sizeof r.res[k].detail, "%s", r.detail);
    if (rc < 0) {
      r.res[k].status = -1;
      orch_journal_add(&r.j, "failed", (int)s->journal_id);
      print_step(&r, k, -1, r.res[k].seconds, r.detail);
      failed = k;
      break;
    }
    r.res[k].status = 1;
    print_step(&r, k, 1, r.res[k].seconds, r.detail);
  }
  if (failed < 0) {
    rc = orch_journal_add(&r.j, "move-done", -1);
    if (rc < 0) {
      pm_report_error("write step journal", journal_path, rc);
      failed = ORCH_NSTEPS - 1;
    }
  }
  double secs = orch_since(t0);
  if (o->json) {
    print_json(&r, "move", failed < 0 ? "ok" : "failed", failed, secs);
  } else if (failed < 0) {
    char t[32], b[32];
    fprintf(r.out, "\nMove complete in %s: %s -> %s\n",
            pm_fmt_duration(secs, t, sizeof t), plan.from, plan.to);
    if (r.copied && r.staged)
      fprintf(r.out, "  copied    final pass after the stage: %llu files "
                     "copied (%s)%s, %llu unchanged (checked against their "
                     "recorded identity%s), %llu removed\n",
              (unsigned long long)r.copy.copied,
              pm_fmt_bytes(r.copy.bytes, b, sizeof b),
              o->no_verify ? "" : " and re-read",
              (unsigned long long)r.copy.skipped_unchanged,
              r.verified_all ? ", then every file re-read" : "",
              (unsigned long long)r.copy.deleted);
    else if (r.copied)
      fprintf(r.out, "  copied    %llu files, %s%s\n",
              (unsigned long long)r.copy.files,
              pm_fmt_bytes(r.copy.bytes, b, sizeof b),
              o->no_verify ? "" : ", each re-read and compared");
    if (r.copied && r.copy.manifest[0])
      fprintf(r.out, "  manifest  %s (the copy's hashes)\n", r.copy.manifest);
    downtime d = downtime_of(&r);
    if (d.known) {
      char a[32], b1[32], c[32], e[32], f[32], g[32];
      fprintf(r.out,
              "  downtime  %s from the first service stopped to the last "
              "started: stopping %s, %s %s, verification %s, starting %s, "
              "other steps %s\n",
              pm_fmt_duration(d.total, a, sizeof a),
              pm_fmt_duration(d.stopping, b1, sizeof b1),
              r.staged ? "final delta pass" : "copy",
              pm_fmt_duration(d.copy, c, sizeof c),
              pm_fmt_duration(d.verify, e, sizeof e),
              pm_fmt_duration(d.starting, f, sizeof f),
              pm_fmt_duration(d.other, g, sizeof g));
    }
    fprintf(r.out, "  started   ");
    for (size_t i = plan.nsvcs; i-- > 0;)
      fprintf(r.out, "%s%s", plan.svcs[i].name, i ? ", " : "\n");
    if (!plan.nsvcs) fprintf(r.out, "none\n");
    if (plan.have_share)
      fprintf(r.out, "  share     %s -> %s\\Maildata (remark and security "
                     "descriptor kept)\n",
              plan.share.name, plan.to);
    fprintf(r.out, "  registry  %zu values rewritten, types kept; backup %s/"
                   "backup.reg\n",
            plan.nvals, r.state);
    fprintf(r.out, "  old tree  %s is left in place; `pomove rollback` "
                   "undoes the move\n",
            plan.from);
  } else {
    pm_report_notef(
            "pomove: step %d (%s) %s. Continue with `pomove move "
            "--host %s --resume` or undo with `pomove rollback --host %s`.\n",
            failed + 1, orch_step_name(failed),
            rc == PM_ECANCELED ? "interrupted" : "failed", h->name, h->name);
  }
  if (failed < 0)
    rc = 0;
  else if (rc == PM_ECANCELED)
    res->interrupted = true;
out:
  orch_journal_close(&r.j);
  orch_plan_free(&plan);
  free(plan_path);
  free(journal_path);
  free(r.state);
  return rc;
}

/* ---- rollback ---- */

/* Ctrl-C during a rollback: stop between its phases (each is redone or
 * found done by the next run). */
static bool rb_interrupted(orch_run *r, int *rc) {
  if (!r->o->interrupt || !*r->o->interrupt) return false;
  *rc = PM_ECANCELED;
  return true;
}

static void rb_line(orch_run *r, const char *name, int rc, double secs,
                    const char *detail) {
  if (r->o->json) return;
  char t[32];
  fprintf(r->out, "  %-16s %-7s %7s  %s\n", name, rc < 0 ? "FAILED" : "done",
          pm_fmt_duration(secs, t, sizeof t), detail);
  fflush(r->out);
}

int orch_rollback(pm_host *h, const orch_options *o, orch_result *res) {
  orch_run r;
  orch_plan plan;
  run_init(&r, h, o, &plan, res);
  r.state = orch_state_current(h, o->state_dir);
  char *plan_path = pm_path_join(r.state, "plan");
  char *journal_path = pm_path_join(r.state, "journal");
  uint64_t t0 = pm_now_ns();
  int rc = orch_plan_load(h, plan_path, &plan);
  if (rc == PM_ENOENT) {
    pm_report_errorf(rc, "rollback: no move to roll back (no plan in %s)",
                     r.state);
    res->refused = true;
    goto out;
  }
  if (rc < 0) {
    pm_report_error("read move plan", plan_path, rc);
    goto out;
  }
  rc = orch_journal_open(h->fs, journal_path, &r.j);
  if (rc < 0) {
    pm_report_error("read step journal", journal_path, rc);
    goto out;
  }
  if (r.j.rollback_done) {
    if (!o->json)
      fprintf(r.out, "The move in %s was already rolled back.\n", r.state);
    goto out;
  }
  if (r.j.old_removed) {
    /* A refusal: there is no earlier state to return to. */
    res->refused = true;
    rc = PM_ESTATE;
    pm_oserr_set(0);
    pm_report_errorf(rc,
                     "the old tree %s was removed by `pomove remove-old`: "
                     "there is nothing to roll back to",
                     plan.from);
    goto out;
  }
  rc = orch_journal_add(&r.j, "rollback-begin", -1);
  if (rc < 0) {
    pm_report_error("write step journal", journal_path, rc);
    goto out;
  }
  if (!o->json)
    fprintf(r.out, "Rolling back the move %s -> %s:\n", plan.from, plan.to);

  /* The table backward: every step's undo, whether or not the step ran
   * (each looks at the host and does what is left to undo). */
  rc = 0;
  bool first = true;
  for (int k = ORCH_NSTEPS; k-- > 0;) {
    const orch_step *s = &orch_steps[k];
    if (!s->undo) continue;
    if (!first && rb_interrupted(&r, &rc)) goto failed;
    first = false;
    uint64_t ts = pm_now_ns();
    r.detail[0] = '\0';
    rc = s->undo(&r);
    rb_line(&r, s->undo_name, rc, orch_since(ts), r.detail);
    if (rc < 0) goto failed;
  }

  if (rb_interrupted(&r, &rc)) goto failed;
  rc = orch_journal_add(&r.j, "rollback-done", -1);
  if (rc < 0) {
    pm_report_error("write step journal", journal_path, rc);
    goto failed;
  }
  if (o->json) {
    fprintf(r.out, "{\"command\":\"rollback\",\"result\":\"ok\","
                   "\"seconds\":%.3f,\"values_restored\":%zu,\"plan\":",
            orch_since(t0), r.values_restored);
    orch_plan_json(&plan, r.out);
    fputs("}\n", r.out);
  } else {
    char t[32];
    fprintf(r.out, "Rollback complete in %s: the host is as before the "
                   "move.\n",
            pm_fmt_duration(orch_since(t0), t, sizeof t));
  }
  goto out;
failed:
  if (o->json)
    fprintf(r.out, "{\"command\":\"rollback\",\"result\":\"%s\"}\n",
            rc == PM_ECANCELED ? "interrupted" : "failed");
  pm_report_notef("pomove: rollback %s; run it again.\n",
                  rc == PM_ECANCELED ? "interrupted" : "did not finish");
  res->interrupted = rc == PM_ECANCELED;
out:
  orch_journal_close(&r.j);
  orch_plan_free(&plan);
  free(plan_path);
  free(journal_path);
  free(r.state);
  return rc;
}
