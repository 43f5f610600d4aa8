/* move.c - the steps of the move, the step journal around them, resume and
 * rollback.
 *
 * Every step is idempotent, so that after a crash or a failed step
 * `move --resume` simply runs the first step the journal does not show as
 * done again. The plan saved before the first step holds the original
 * value of everything the move changes (registry bytes and types, the
 * share with its security descriptor, which services ran), so rollback
 * needs nothing else. The move never deletes the old tree. */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "copyengine.h"
#include "fileutil.h"
#include "orch.h"
#include "sys.h"
#include "report.h"
#include "util.h"

enum {
  S_BACKUP,
  S_STOP,
  S_UNSHARE,
  S_MKDIR,
  S_COPY,
  S_SHARE,
  S_REGISTRY,
  S_MACVOL,
  S_START,
  S_POSTCHECK
};

static const char *const step_names[ORCH_NSTEPS] = {
    "backup-registry", "stop-services", "unshare",        "create-target",
    "copy",            "share",         "registry",       "mac-volume",
    "start-services",  "post-check"};

static const char *const step_text[ORCH_NSTEPS] = {
    "write a .reg backup of every value about to change",
    "stop the connector services in dependency order",
    "stop sharing the old Maildata",
    "create ExchSrvr\\Connect on the new volume",
    "copy Connect\\Msmcon (verified, resumable)",
    "share the new Maildata with the original name, remark and SD",
    "rewrite the registry values, keeping each type",
    "re-point the Services for Macintosh volume",
    "start the services in reverse order",
    "check paths, share and services"};

const char *orch_step_name(int step) {
  return step >= 0 && step < ORCH_NSTEPS ? step_names[step] : "?";
}

const char *orch_step_text(int step) {
  return step >= 0 && step < ORCH_NSTEPS ? step_text[step] : "?";
}

typedef struct step_result {
  int status; /* 0 not run, 1 done, 2 skipped (done earlier), -1 failed */
  double seconds;
  uint64_t t_begin, t_end; /* pm_now_ns() around the step, this run */
  char detail[512];
} step_result;

typedef struct run {
  pm_host *h;
  const orch_options *o;
  orch_plan *p;
  FILE *out;
  char *state;
  orch_journal j;
  step_result res[ORCH_NSTEPS];
  char detail[512];
  ce_result copy;
  bool copied;
  pm_progress prog;
  /* A stage preceded the move: the copy step was its final delta pass. */
  bool staged;
  double delta_s, verify_s; /* the copy step's two phases */
  bool verified_all;
  uint64_t verify_all_files;
} run;

/* ---- helpers ---- */

static int mkdirs(const pm_fs_ops *fs, const char *path) {
  int rc = pm_file_mkdirs(fs, path, 0755, NULL);
  if (rc < 0) pm_report_error("create folder", path, rc);
  return rc;
}

char *orch_state_current(pm_host *h, const char *state_dir) {
  return pm_path_join(state_dir ? state_dir : h->state_dir, "current");
}

static double since(uint64_t t0) { return (double)(pm_now_ns() - t0) / 1e9; }

static const char *svc_timeout_text(unsigned ms, char *buf, size_t cap) {
  snprintf(buf, cap, "%.1fs", ms / 1000.0);
  return buf;
}

static int wait_state(pm_host *h, const char *name, pm_svc_state want,
                      unsigned timeout) {
  pm_svc_state seen = PM_SVC_UNKNOWN;
  int rc = h->svc->wait(h, name, want, timeout, &seen);
  if (rc == PM_ETIMEDOUT) {
    char t[32];
    pm_report_errorf(rc, "service '%s' did not %s within %s (still %s)",
                     name, want == PM_SVC_STOPPED ? "stop" : "start",
                     svc_timeout_text(timeout, t, sizeof t),
                     pm_svc_state_name(seen));
  } else if (rc < 0) {
    pm_report_error("wait for service", name, rc);
  }
  return rc;
}

/* Brings a service to `want` (stopped or running): a transition the
 * other way that is under way is let finish first, and one this way that
 * is under way is only waited for. */
static int drive_service(pm_host *h, const char *name, pm_svc_state want,
                         unsigned stop_ms, unsigned start_ms) {
  bool stop = want == PM_SVC_STOPPED;
  pm_svc_state other = stop ? PM_SVC_RUNNING : PM_SVC_STOPPED;
  pm_svc_state other_pending = stop ? PM_SVC_START_PENDING : PM_SVC_STOP_PENDING;
  pm_svc_state want_pending = stop ? PM_SVC_STOP_PENDING : PM_SVC_START_PENDING;
  pm_svc_info si;
  int rc = h->svc->query(h, name, &si);
  if (rc < 0) {
    pm_report_error("query service", name, rc);
    return rc;
  }
  if (si.state == want) return 0;
  if (si.state == other_pending)
    PM_TRY(wait_state(h, name, other, stop ? start_ms : stop_ms));
  if (si.state != want_pending) {
    rc = stop ? h->svc->stop(h, name) : h->svc->start(h, name);
    if (rc < 0) {
      if (stop)
        pm_report_error("stop service", name, rc);
      else
        pm_report_errorf(rc, "start service '%s' (ImagePath %s)", name,
                         si.image_path);
      return rc;
    }
  }
  return wait_state(h, name, want, stop ? stop_ms : start_ms);
}

int orch_stop_service(pm_host *h, const char *name, unsigned stop_ms,
                      unsigned start_ms) {
  return drive_service(h, name, PM_SVC_STOPPED, stop_ms, start_ms);
}

int orch_start_service(pm_host *h, const char *name, unsigned stop_ms,
                       unsigned start_ms) {
  return drive_service(h, name, PM_SVC_RUNNING, stop_ms, start_ms);
}

static int stop_one(run *r, const char *name) {
  return orch_stop_service(r->h, name, r->o->stop_timeout_ms,
                           r->o->start_timeout_ms);
}

static int start_one(run *r, const char *name) {
  return orch_start_service(r->h, name, r->o->stop_timeout_ms,
                            r->o->start_timeout_ms);
}

int orch_set_value(pm_host *h, const orch_value *v, const pm_reg_value *d) {
  char *what = pm_xasprintf("%s\\%s", v->key, v->name);
  int rc = 0;
  if (v->image_path) {
    /* Through the SCM, so that a running SCM sees the new path; it writes
     * REG_EXPAND_SZ, so the value is then rewritten with its own type. */
    char *s = pm_reg_value_str(d);
    if (s) rc = h->svc->set_image_path(h, v->service, s);
    free(s);
    if (rc < 0) pm_report_error("change service ImagePath", v->service, rc);
  }
  if (rc == 0) {
    rc = h->reg->set(h, v->key, v->name, d);
    if (rc < 0) pm_report_error("write registry value", what, rc);
  }
  free(what);
  return rc;
}

/* True when the host does not hold `want` for v: the registry's bytes
 * differ or, for an ImagePath, the service manager's own copy does. The
 * SCM reads ImagePath from the registry only when it starts (at boot),
 * so a value put back behind its back (`reg import` of the backup)
 * leaves it starting the program from the other place. */
static bool value_differs(pm_host *h, const orch_value *v,
                          const pm_reg_value *want) {
  pm_reg_value cur = {0};
  int g = h->reg->get(h, v->key, v->name, &cur);
  bool differs = g < 0 || !pm_reg_value_equal(&cur, want);
  pm_reg_value_free(&cur);
  if (!differs && v->image_path) {
    pm_svc_info si;
    char *s = pm_reg_value_str(want);
    differs = s && (h->svc->query(h, v->service, &si) < 0 ||
                    strcmp(si.image_path, s) != 0);
    free(s);
  }
  return differs;
}

static char *maildata_of(const char *msmcon) {
  return pm_xasprintf("%s\\Maildata", msmcon);
}

/* ---- the steps ---- */

static int st_backup(run *r) {
  pm_regtree *t = pm_regtree_new();
  for (size_t i = 0; i < r->p->nvals; i++)
    pm_regtree_set(t, r->p->vals[i].key, r->p->vals[i].name,
                   &r->p->vals[i].old);
  char *path = pm_path_join(r->state, "backup.reg");
  int rc = pm_regtree_save(r->h->fs, path, t);
  if (rc < 0)
    pm_report_error("write registry backup", path, rc);
  else
    orch_strf(r->detail, sizeof r->detail, "%zu values -> %s", r->p->nvals,
             path);
  free(path);
  pm_regtree_free(t);
  return rc;
}

static int st_stop(run *r) {
  size_t stopped = 0;
  int rc = 0;
  for (size_t i = 0; i < r->p->nsvcs && rc == 0; i++) {
    if (!r->p->svcs[i].was_running) continue;
    rc = stop_one(r, r->p->svcs[i].name);
    if (rc == 0) stopped++;
  }
  if (rc == 0) {
    orch_strf(r->detail, sizeof r->detail, "%zu stopped", stopped);
    return 0;
  }
  /* A service that will not stop: restart the ones already stopped so the
   * mail keeps flowing; nothing else has changed yet. */
  for (size_t i = r->p->nsvcs; i-- > 0;) {
    if (!r->p->svcs[i].was_running) continue;
    pm_svc_info si;
    if (r->h->svc->query(r->h, r->p->svcs[i].name, &si) == 0 &&
        si.state == PM_SVC_STOPPED)
      start_one(r, r->p->svcs[i].name);
  }
  orch_strf(r->detail, sizeof r->detail,
           "services that had stopped were started again; nothing else "
           "was changed");
  return rc;
}

static int st_unshare(run *r) {
  if (!r->p->have_share) {
    orch_strf(r->detail, sizeof r->detail, "no share of the old Maildata");
    return 0;
  }
  pm_share_info cur;
  int rc = r->h->share->get(r->h, r->p->share.name, &cur);
  if (rc == PM_ENOENT) {
    orch_strf(r->detail, sizeof r->detail, "%s already removed",
             r->p->share.name);
    return 0;
  }
  if (rc < 0) {
    pm_report_error("read share", r->p->share.name, rc);
    return rc;
  }
  if (!pm_wpath_under(cur.path, r->p->from)) {
    orch_strf(r->detail, sizeof r->detail, "%s already points at %s",
             cur.name, cur.path);
    return 0;
  }
  rc = r->h->share->del(r->h, r->p->share.name);
  if (rc < 0) {
    pm_report_error("remove share", r->p->share.name, rc);
    return rc;
  }
  orch_strf(r->detail, sizeof r->detail, "%s removed (was %s)",
           r->p->share.name, r->p->share.path);
  return 0;
}

static int st_mkdir(run *r) {
  /* The parent of the new Msmcon: <drive>\ExchSrvr\Connect, including the
   * Connect level the KB's text leaves out. */
  char *parent = pm_xstrdup(r->p->to_native);
  char *sl = strrchr(parent, '/');
  if (sl) *sl = '\0';
  int rc = mkdirs(r->h->fs, parent);
  if (rc == 0) {
    char win[PM_HOST_PATH_MAX];
    snprintf(win, sizeof win, "%s", r->p->to);
    char *bs = strrchr(win, '\\');
    if (bs) *bs = '\0';
    orch_strf(r->detail, sizeof r->detail, "%s", win);
  }
  free(parent);
  return rc;
}

static void copy_progress(const ce_progress_info *info, void *arg) {
  run *r = arg;
  pm_progress_update(&r->prog, info->files_done, info->bytes_done, false);
}

/* --verify-all: every file of the new tree is re-read from the medium and
 * compared with the manifest the copy just wrote (whose hashes are of the
 * source's bytes), and nothing may be missing or extra. */
static int verify_all(run *r, const char *manifest) {
  vf_audit_opts ao;
  memset(&ao, 0, sizeof ao);
  ao.fs = r->h->fs;
  ao.extra = true;
  ao.threads = r->o->threads;
  ao.progress_mode = PM_PROGRESS_OFF;
  ao.interrupt = r->o->interrupt;
  vf_report *rep = vf_report_new(VF_MODE_MANIFEST, 10);
  uint64_t t0 = pm_now_ns();
  int rc = vf_audit_manifest(&ao, manifest, r->p->to_native, rep);
  r->verify_s = since(t0);
  uint64_t diffs = vf_report_differences(rep) + ao.malformed;
  if (rc == 0 && diffs) {
    pm_oserr_set(0);
    pm_report_errorf(PM_ECORRUPT,
                     "copy --verify-all: %llu entries of %s differ from the "
                     "manifest %s",
                     (unsigned long long)diffs, r->p->to_native, manifest);
    rc = PM_ECORRUPT;
  }
  r->verify_all_files = vf_report_count(rep, VF_IDENTICAL);
  r->verified_all = rc == 0;
  vf_report_free(rep);
  return rc;
}

static int st_copy(run *r) {
  /* A running connector holds postoffice files open and writes to them:
   * a service started again since step 2 (by a person, or by the SCM's
   * recovery) is stopped before the copy, never copied around. */
  size_t again = 0;
  for (size_t i = 0; i < r->p->nsvcs; i++) {
    pm_svc_info si;
    int rc = r->h->svc->query(r->h, r->p->svcs[i].name, &si);
    if (rc < 0) {
      pm_report_error("query service", r->p->svcs[i].name, rc);
      return rc;
    }
    if (si.state == PM_SVC_STOPPED) continue;
    pm_warnf("service '%s' is running again; stopping it before the copy",
             si.name);
    PM_TRY(stop_one(r, si.name));
    again++;
  }
  ce_options co;
  ce_options_init(&co);
  co.src = r->p->from_native;
  co.dst = r->p->to_native;
  co.fs = r->h->fs;
  co.threads = r->o->threads;
  if (r->o->busy_wait_set) co.busy_wait_ns = r->o->busy_wait_ns;
  /* The destination may hold the part copied before a crash. */
  co.merge = true;
  co.verify = !r->o->no_verify;
  co.journal = true;
  char *journal = pm_path_join(r->state, "copy.journal");
  char *manifest = pm_path_join(r->state, "copy.xxh128");
  co.journal_path = journal;
  co.manifest_path = manifest;
  /* After `pomove stage`: the final delta pass. The stage's per-file
   * state says what is unchanged (skipped unread when source and copy
   * both match their records); what changed is copied and, with the
   * default verification, re-read from the medium; what is gone from the
   * source is removed. No --live: the services are stopped, nothing may
   * change now, so a file that changes while read is an error. */
  orch_stage sg;
  char *stage_state = NULL;
  int sr = orch_stage_load(r->h, r->o->state_dir, &sg);
  if (sr < 0 && sr != PM_ENOENT) {
    free(journal);
    free(manifest);
    return sr;
  }
  /* A stage whose first pass never finished has no state to update: the
   * copy is then a full one over its partial copy (merge). */
  r->staged = sr == 0 && sg.passes > 0 &&
              !strcmp(sg.from_native, r->p->from_native) &&
              !strcmp(sg.to_native, r->p->to_native);
  if (r->staged) {
    char *sdir = orch_stage_dir(r->h, r->o->state_dir);
    stage_state = pm_path_join(sdir, "copy.pomove-state");
    free(sdir);
    co.update = true;
    co.delete_gone = true;
    co.checksum = r->o->checksum;
    co.state_path = stage_state;
  }
  co.progress = copy_progress;
  co.progress_arg = r;
  co.interrupt = r->o->interrupt;
  int mode = r->o->json ? PM_PROGRESS_OFF : r->o->progress_mode;
  pm_progress_init(&r->prog, "  copy", mode);
  r->prog.files_total = r->p->files;
  r->prog.bytes_total = r->p->bytes;
  memset(&r->copy, 0, sizeof r->copy);
  uint64_t tc = pm_now_ns();
  int rc = ce_copy(&co, &r->copy);
  pm_progress_finish(&r->prog);
  r->delta_s = since(tc);
  free(journal);
  free(stage_state);
  if (rc == 0 && r->copy.interrupted) rc = PM_ECANCELED;
  if (rc == 0 && r->copy.errors) {
    pm_report_errorf(PM_EIO, "copy: %llu entries could not be copied",
                     (unsigned long long)r->copy.errors);
    rc = PM_EIO;
  }
  if (rc == 0 && r->copy.verify_mismatches) {
    pm_report_errorf(PM_ECORRUPT, "copy: %llu files differ after copying",
                     (unsigned long long)r->copy.verify_mismatches);
    rc = PM_ECORRUPT;
  }
  if (rc == 0 && r->o->verify_all) rc = verify_all(r, manifest);
  free(manifest);
  if (rc < 0) return rc;
  r->copied = true;
  char b[32];
  if (r->staged)
    orch_strf(r->detail, sizeof r->detail,
              "final pass after the stage: %llu copied (%s%s), %llu "
              "unchanged, %llu metadata only, %llu removed%s%s%s",
              (unsigned long long)r->copy.copied,
              pm_fmt_bytes(r->copy.bytes, b, sizeof b),
              co.verify ? ", re-read" : "",
              (unsigned long long)r->copy.skipped_unchanged,
              (unsigned long long)r->copy.metadata_only,
              (unsigned long long)r->copy.deleted,
              r->verified_all ? "; every file re-read" : "",
              r->copy.resumed_files_skipped ? ", resumed" : "",
              again ? ", after stopping a service that ran again" : "");
  else
    orch_strf(r->detail, sizeof r->detail, "%llu files, %s%s%s%s",
              (unsigned long long)r->copy.files,
              pm_fmt_bytes(r->copy.bytes, b, sizeof b),
              co.verify ? ", verified" : "",
              r->copy.resumed_files_skipped ? ", resumed" : "",
              again ? ", after stopping a service that ran again" : "");
  return 0;
}

static int st_share(run *r) {
  if (!r->p->have_share) {
    orch_strf(r->detail, sizeof r->detail, "no share to re-create");
    return 0;
  }
  pm_share_info want = r->p->share;
  char *md = maildata_of(r->p->to);
  snprintf(want.path, sizeof want.path, "%s", md);
  free(md);
  pm_share_info cur;
  int rc = r->h->share->get(r->h, want.name, &cur);
  if (rc == 0 && !pm_wstrcasecmp(cur.path, want.path) &&
      !strcmp(cur.sddl, want.sddl) && !strcmp(cur.remark, want.remark)) {
    orch_strf(r->detail, sizeof r->detail, "%s already serves %s", want.name,
             want.path);
    return 0;
  }
  if (rc == 0) rc = r->h->share->del(r->h, want.name);
  if (rc == PM_ENOENT) rc = 0;
  if (rc == 0) rc = r->h->share->add(r->h, &want);
  if (rc < 0) {
    pm_report_error("share", want.path, rc);
    return rc;
  }
  orch_strf(r->detail, sizeof r->detail, "%s -> %s", want.name, want.path);
  return 0;
}

static int set_values(run *r, bool mac) {
  size_t n = 0;
  for (size_t i = 0; i < r->p->nvals; i++) {
    const orch_value *v = &r->p->vals[i];
    if ((v->kind == ORCH_V_MACVOL) != mac) continue;
    PM_TRY(orch_set_value(r->h, v, &v->new_));
    n++;
  }
  if (mac && n == 0)
    orch_strf(r->detail, sizeof r->detail, "no Macintosh volume");
  else
    orch_strf(r->detail, sizeof r->detail, "%zu value%s, types kept", n,
              n == 1 ? "" : "s");
  return 0;
}

static int st_registry(run *r) { return set_values(r, false); }
static int st_macvol(run *r) { return set_values(r, true); }

static int st_start(run *r) {
  size_t started = 0;
  for (size_t i = r->p->nsvcs; i-- > 0;) {
    if (!r->p->svcs[i].was_running) continue;
    PM_TRY(start_one(r, r->p->svcs[i].name));
    started++;
  }
  orch_strf(r->detail, sizeof r->detail, "%zu running", started);
  return 0;
}

/* Every path the new values name must exist on the host. */
static int check_paths(pm_host *h, const orch_plan *p, pm_strlist *missing) {
  size_t checked = 0;
  for (size_t i = 0; i < p->nvals; i++) {
    pm_strlist items = {0};
    const pm_reg_value *v = &p->vals[i].new_;
    if (v->type == PM_REG_MULTI_SZ) {
      pm_reg_value_multi(v, &items);
    } else {
      char *s = pm_reg_value_str(v);
      if (s) {
        char *save = s, *tok;
        while ((tok = pm_strsep(&save, ";")) != NULL) pm_strlist_add(&items, tok);
      }
      free(s);
    }
    for (size_t k = 0; k < items.n; k++) {
      const char *path = items.v[k];
      if (pm_wprefix(path, "Path=")) path += 5;
      if (*path == '"') path++;
      if (!pm_wpath_under(path, p->to)) continue;
      char file[PM_HOST_PATH_MAX];
      snprintf(file, sizeof file, "%s", path);
      file[strcspn(file, "\"")] = '\0';
      char native[PM_HOST_PATH_MAX * 4];
      pm_stat st;
      checked++;
      if (h->vol->native_path(h, file, native, sizeof native) < 0 ||
          h->fs->stat(native, true, &st) < 0)
        pm_strlist_add(missing, file);
    }
    pm_strlist_free(&items);
  }
  return (int)checked;
}

static int st_postcheck(run *r) {
  pm_strlist missing = {0};
  int checked = check_paths(r->h, r->p, &missing);
  int rc = 0;
  for (size_t i = 0; i < missing.n; i++)
    pm_report_errorf(PM_ENOENT, "post-check: %s does not exist",
                     missing.v[i]);
  if (missing.n) rc = PM_ENOENT;
  pm_strlist_free(&missing);
  if (r->p->have_share) {
    pm_share_info cur;
    char *md = maildata_of(r->p->to);
    int src = r->h->share->get(r->h, r->p->share.name, &cur);
    if (src < 0 || pm_wstrcasecmp(cur.path, md)) {
      pm_report_errorf(PM_ENOENT, "post-check: share %s does not serve %s",
                       r->p->share.name, md);
      rc = PM_ENOENT;
    }
    free(md);
  }
  for (size_t i = 0; i < r->p->nsvcs; i++) {
    if (!r->p->svcs[i].was_running) continue;
    pm_svc_info si;
    if (r->h->svc->query(r->h, r->p->svcs[i].name, &si) < 0 ||
        si.state != PM_SVC_RUNNING) {
      pm_report_errorf(PM_ESTATE, "post-check: service '%s' is not running",
                       r->p->svcs[i].name);
      rc = PM_ESTATE;
    }
  }
  if (rc == 0)
    orch_strf(r->detail, sizeof r->detail,
             "%d paths exist, share serves the new Maildata, services run",
             checked);
  return rc;
}

static int (*const step_fn[ORCH_NSTEPS])(run *) = {
    st_backup, st_stop,     st_unshare, st_mkdir, st_copy,
    st_share,  st_registry, st_macvol,  st_start, st_postcheck};

/* ---- output ---- */

/* The downtime: from the moment the first service was asked to stop to
 * the moment the last one was running again, measured when this run did
 * both (a resumed move spans runs and has no single figure). Its parts:
 * stopping (the stop-services step), the copy (the delta pass after a
 * stage, or the whole copy; the default re-reads of copied files happen
 * within it), the --verify-all audit, starting (start-services) and the
 * other steps between (unshare, create-target, share, registry,
 * mac-volume) and the journal records around them, so that the parts add
 * up to the whole. */
typedef struct downtime {
  bool known;
  double total, stopping, copy, verify, starting, other;
} downtime;

static downtime downtime_of(const run *r) {
  downtime d;
  memset(&d, 0, sizeof d);
  const step_result *st = &r->res[S_STOP], *sa = &r->res[S_START];
  if (st->status != 1 || sa->status != 1 || r->res[S_COPY].status != 1)
    return d;
  d.known = true;
  d.total = (double)(sa->t_end - st->t_begin) / 1e9;
  d.stopping = (double)(st->t_end - st->t_begin) / 1e9;
  d.starting = (double)(sa->t_end - sa->t_begin) / 1e9;
  d.verify = r->verify_s;
  d.copy = (double)(r->res[S_COPY].t_end - r->res[S_COPY].t_begin) / 1e9 -
           d.verify;
  d.other = d.total - d.stopping - d.copy - d.verify - d.starting;
  if (d.other < 0) d.other = 0;
  return d;
}

static void print_step(run *r, int k, int status, double secs,
                       const char *detail) {
  if (r->o->json) return;
  char t[32];
  const char *res = status == 1 ? "done" : status == 2 ? "skipped" : "FAILED";
  fprintf(r->out, "  [%2d/%d] %-16s %-7s %7s  %s\n", k + 1, ORCH_NSTEPS,
          step_names[k], res, pm_fmt_duration(secs, t, sizeof t), detail);
  fflush(r->out);
}

static void print_json(run *r, const char *cmd, const char *result,
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
            first ? "" : ",", step_names[k],
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
    int rc = h->fs->stat(dst, false, &st) == PM_ENOENT
                 ? h->fs->rename(cur, dst)
                 : PM_EEXIST;
    free(dst);
    if (rc != PM_EEXIST) return rc;
  }
  return PM_EEXIST;
}

/* ---- the move ---- */

int orch_move(pm_host *h, const orch_options *o) {
  run r;
  memset(&r, 0, sizeof r);
  r.h = h;
  r.o = o;
  r.out = o->out ? o->out : stdout;
  orch_plan plan;
  memset(&plan, 0, sizeof plan);
  r.p = &plan;
  const char *base = o->state_dir ? o->state_dir : h->state_dir;
  r.state = orch_state_current(h, o->state_dir);
  char *plan_path = pm_path_join(r.state, "plan");
  char *journal_path = pm_path_join(r.state, "journal");
  int exit_code = PM_EXIT_FAILED;
  int rc;
  uint64_t t0 = pm_now_ns();

  pm_stat st;
  bool have_state = h->fs->stat(plan_path, false, &st) == 0;
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
      exit_code = PM_EXIT_USAGE;
      goto out;
    }
    if (r.j.rollback_begun) {
      pm_report_errorf(PM_ESTATE, "move --resume: a rollback of this move "
                                  "was started; run pomove rollback to "
                                  "finish it");
      exit_code = PM_EXIT_USAGE;
      goto out;
    }
    if (r.j.move_done) {
      if (!o->json) fprintf(r.out, "The move recorded in %s is complete.\n",
                            r.state);
      exit_code = PM_EXIT_OK;
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
      exit_code = PM_EXIT_USAGE;
      goto out;
    }
    exit_code = orch_discover(h, o, &plan);
    if (exit_code) goto out;
    exit_code = PM_EXIT_FAILED;
    if (o->dry_run) {
      if (o->json) {
        orch_plan_json(&plan, r.out);
        fputc('\n', r.out);
      } else {
        orch_plan_print(&plan, r.out);
        if (plan.staged) orch_stage_print(&plan.stage, r.out);
        fprintf(r.out, "\nNothing was changed (plan only).\n");
      }
      exit_code = PM_EXIT_OK;
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
    if (mkdirs(h->fs, r.state) < 0) goto out;
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

  int failed = -1;
  for (int k = 0; k < ORCH_NSTEPS; k++) {
    if (r.j.step_done[k]) {
      r.res[k].status = 2;
      orch_strf(r.res[k].detail, sizeof r.res[k].detail, "done before");
      print_step(&r, k, 2, 0, "done before");
      continue;
    }
    if (o->interrupt && *o->interrupt) {
      failed = k;
      rc = PM_ECANCELED;
      break;
    }
    rc = orch_journal_add(&r.j, "begin", k);
    uint64_t ts = pm_now_ns();
    r.res[k].t_begin = ts;
    r.detail[0] = '\0';
    if (rc < 0)
      pm_report_error("write step journal", journal_path, rc);
    else
      rc = step_fn[k](&r);
    if (rc == 0) {
      rc = orch_journal_add(&r.j, "done", k);
      if (rc < 0) pm_report_error("write step journal", journal_path, rc);
    }
    r.res[k].t_end = pm_now_ns();
    r.res[k].seconds = since(ts);
    orch_strf(r.res[k].detail, sizeof r.res[k].detail, "%s", r.detail);
    if (rc < 0) {
      r.res[k].status = -1;
      orch_journal_add(&r.j, "failed", k);
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
  double secs = since(t0);
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
  exit_code = failed < 0 ? PM_EXIT_OK
              : rc == PM_ECANCELED ? PM_EXIT_INTERRUPTED
                                   : PM_EXIT_FAILED;
out:
  orch_journal_close(&r.j);
  orch_plan_free(&plan);
  free(plan_path);
  free(journal_path);
  free(r.state);
  return exit_code;
}

/* ---- rollback ---- */

int orch_remove_tree(const pm_fs_ops *fs, const char *path) {
  /* Ctrl-C stops it between entries; what is left is removed by a rerun
   * (rollback --remove-copy, remove-old) as it would have been now. */
  char *failed = NULL;
  int rc = pm_file_remove_tree(fs, path, &failed);
  /* An entry inside is named here; the tree itself, by the caller. */
  if (rc < 0 && rc != PM_ECANCELED && failed && strcmp(failed, path))
    pm_report_error("remove", failed, rc);
  free(failed);
  return rc;
}

/* Ctrl-C during a rollback: stop between its phases (each is redone or
 * found done by the next run). */
static bool rb_interrupted(run *r, int *rc) {
  if (!r->o->interrupt || !*r->o->interrupt) return false;
  *rc = PM_ECANCELED;
  return true;
}

static void rb_line(run *r, const char *name, int rc, double secs,
                    const char *detail) {
  if (r->o->json) return;
  char t[32];
  fprintf(r->out, "  %-16s %-7s %7s  %s\n", name, rc < 0 ? "FAILED" : "done",
          pm_fmt_duration(secs, t, sizeof t), detail);
  fflush(r->out);
}

int orch_rollback(pm_host *h, const orch_options *o) {
  run r;
  memset(&r, 0, sizeof r);
  r.h = h;
  r.o = o;
  r.out = o->out ? o->out : stdout;
  orch_plan plan;
  memset(&plan, 0, sizeof plan);
  r.p = &plan;
  r.state = orch_state_current(h, o->state_dir);
  char *plan_path = pm_path_join(r.state, "plan");
  char *journal_path = pm_path_join(r.state, "journal");
  int exit_code = PM_EXIT_FAILED;
  uint64_t t0 = pm_now_ns();
  int rc = orch_plan_load(h, plan_path, &plan);
  if (rc == PM_ENOENT) {
    pm_report_errorf(rc, "rollback: no move to roll back (no plan in %s)",
                     r.state);
    exit_code = PM_EXIT_USAGE;
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
    exit_code = PM_EXIT_OK;
    goto out;
  }
  if (r.j.old_removed) {
    /* A usage error: there is no earlier state to return to. */
    exit_code = PM_EXIT_USAGE;
    pm_oserr_set(0);
    pm_report_errorf(PM_ESTATE,
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

  /* 1. Which values differ from before? If any, the services must not run
   * from the new place while they are restored. */
  uint64_t ts = pm_now_ns();
  size_t differ = 0;
  for (size_t i = 0; i < plan.nvals; i++)
    if (value_differs(h, &plan.vals[i], &plan.vals[i].old)) differ++;
  size_t stopped = 0;
  rc = 0;
  if (differ) {
    for (size_t i = 0; i < plan.nsvcs && rc == 0; i++) {
      pm_svc_info si;
      rc = h->svc->query(h, plan.svcs[i].name, &si);
      if (rc < 0) pm_report_error("query service", plan.svcs[i].name, rc);
      else if (si.state != PM_SVC_STOPPED) {
        rc = stop_one(&r, plan.svcs[i].name);
        stopped++;
      }
    }
  }
  orch_strf(r.detail, sizeof r.detail, "%zu stopped", stopped);
  rb_line(&r, "stop-services", rc, since(ts), r.detail);
  if (rc < 0) goto failed;

  if (rb_interrupted(&r, &rc)) goto failed;
  /* 2. Registry values back, bytes and types. */
  ts = pm_now_ns();
  for (size_t i = 0; i < plan.nvals && rc == 0; i++)
    if (value_differs(h, &plan.vals[i], &plan.vals[i].old))
      rc = orch_set_value(h, &plan.vals[i], &plan.vals[i].old);
  orch_strf(r.detail, sizeof r.detail, "%zu of %zu values restored", differ,
           plan.nvals);
  rb_line(&r, "registry", rc, since(ts), r.detail);
  if (rc < 0) goto failed;

  if (rb_interrupted(&r, &rc)) goto failed;
  /* 3. The share as it was, security descriptor included. */
  ts = pm_now_ns();
  if (plan.have_share) {
    pm_share_info cur;
    int g = h->share->get(h, plan.share.name, &cur);
    bool same = g == 0 && !strcmp(cur.path, plan.share.path) &&
                !strcmp(cur.remark, plan.share.remark) &&
                !strcmp(cur.sddl, plan.share.sddl) &&
                cur.type == plan.share.type &&
                cur.max_uses == plan.share.max_uses;
    if (g == 0 && !same) {
      rc = h->share->del(h, plan.share.name);
      if (rc < 0) pm_report_error("remove share", plan.share.name, rc);
    } else if (g < 0 && g != PM_ENOENT) {
      rc = g;
      pm_report_error("read share", plan.share.name, rc);
    }
    if (rc == 0 && !same) {
      rc = h->share->add(h, &plan.share);
      if (rc < 0) pm_report_error("share", plan.share.path, rc);
    }
    orch_strf(r.detail, sizeof r.detail, "%s -> %s%s", plan.share.name,
             plan.share.path, same ? " (unchanged)" : "");
  } else {
    orch_strf(r.detail, sizeof r.detail, "no share was moved");
  }
  rb_line(&r, "share", rc, since(ts), r.detail);
  if (rc < 0) goto failed;

  if (rb_interrupted(&r, &rc)) goto failed;
  /* 4. The copy: left in place unless asked, and only what the move made. */
  ts = pm_now_ns();
  if (o->remove_copy && !pm_path_within(plan.from_native, plan.to_native)) {
    rc = orch_remove_tree(h->fs, plan.to_native);
    if (rc < 0) pm_report_error("remove the copy", plan.to_native, rc);
    /* A stage of that copy goes with it: its record would describe a
     * copy that is no longer there. */
    orch_stage sg;
    if (rc == 0 && orch_stage_load(h, o->state_dir, &sg) == 0 &&
        !strcmp(sg.to_native, plan.to_native)) {
      char *sdir = orch_stage_dir(h, o->state_dir);
      rc = orch_remove_beneath(h->fs, sdir);
      if (rc < 0) pm_report_error("remove the stage record", sdir, rc);
      free(sdir);
    }
    orch_strf(r.detail, sizeof r.detail, "%s removed", plan.to);
  } else {
    orch_strf(r.detail, sizeof r.detail, "%s left in place", plan.to);
  }
  rb_line(&r, "copy", rc, since(ts), r.detail);
  if (rc < 0) goto failed;

  if (rb_interrupted(&r, &rc)) goto failed;
  /* 5. Services as they were. */
  ts = pm_now_ns();
  size_t started = 0;
  for (size_t i = plan.nsvcs; i-- > 0 && rc == 0;) {
    if (!plan.svcs[i].was_running) continue;
    rc = start_one(&r, plan.svcs[i].name);
    started++;
  }
  orch_strf(r.detail, sizeof r.detail, "%zu running", started);
  rb_line(&r, "start-services", rc, since(ts), r.detail);
  if (rc < 0) goto failed;

  if (rb_interrupted(&r, &rc)) goto failed;
  rc = orch_journal_add(&r.j, "rollback-done", -1);
  if (rc < 0) {
    pm_report_error("write step journal", journal_path, rc);
    goto failed;
  }
  if (o->json) {
    fprintf(r.out, "{\"command\":\"rollback\",\"result\":\"ok\","
                   "\"seconds\":%.3f,\"values_restored\":%zu,\"plan\":",
            since(t0), differ);
    orch_plan_json(&plan, r.out);
    fputs("}\n", r.out);
  } else {
    char t[32];
    fprintf(r.out, "Rollback complete in %s: the host is as before the "
                   "move.\n",
            pm_fmt_duration(since(t0), t, sizeof t));
  }
  exit_code = PM_EXIT_OK;
  goto out;
failed:
  if (o->json)
    fprintf(r.out, "{\"command\":\"rollback\",\"result\":\"%s\"}\n",
            rc == PM_ECANCELED ? "interrupted" : "failed");
  pm_report_notef("pomove: rollback %s; run it again.\n",
                  rc == PM_ECANCELED ? "interrupted" : "did not finish");
  exit_code = rc == PM_ECANCELED ? PM_EXIT_INTERRUPTED : PM_EXIT_FAILED;
out:
  orch_journal_close(&r.j);
  orch_plan_free(&plan);
  free(plan_path);
  free(journal_path);
  free(r.state);
  return exit_code;
}
