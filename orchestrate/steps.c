/* steps.c - the steps of a move as one table (orch_steps): for each its
 * name and the plan's line, the number its step-journal records carry,
 * where it lies in the downtime, the work the move does, and the work a
 * rollback does to undo it. `move` walks the table forward and `rollback`
 * backward (move.c); neither has a sequence of its own.
 *
 * Every step is idempotent, so that after a crash or a failed step
 * `move --resume` simply runs the first step the journal does not show as
 * done again. Every undo is idempotent too: it looks at the host and does
 * only what is left to undo, whichever steps ran, so a rollback needs no
 * journal of its own beyond its begin and end, and runs again after a
 * failure. The plan saved before the first step holds the original value
 * of everything the move changes (registry bytes and types, the share
 * with its security descriptor, which services ran), so rollback needs
 * nothing else. The move never deletes the old tree. */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "copyengine.h"
#include "fileutil.h"
#include "orch.h"
#include "report.h"
#include "steps.h"
#include "sys.h"
#include "util.h"

/* ---- helpers ---- */

int orch_mkdirs(const pm_fs *fs, const char *path) {
  int rc = pm_file_mkdirs(fs, path, 0755, NULL);
  if (rc < 0) pm_report_error("create folder", path, rc);
  return rc;
}

static const char *svc_timeout_text(unsigned ms, char *buf, size_t cap) {
  snprintf(buf, cap, "%.1fs", ms / 1000.0);
  return buf;
}

/* Waits until `deadline` (pm_now_ns()) for the service to reach `want`;
 * `timeout` is the one the report names. */
static int wait_state(pm_host *h, const char *name, pm_svc_state want,
                      uint64_t deadline, unsigned timeout) {
  pm_svc_state seen = PM_SVC_UNKNOWN;
  uint64_t now = pm_now_ns();
  unsigned left = deadline > now
                      ? (unsigned)((deadline - now + 999999u) / 1000000u)
                      : 0;
  int rc = h->svc->wait(h, name, want, left, &seen);
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

static uint64_t deadline_in(unsigned ms) {
  return pm_now_ns() + (uint64_t)ms * 1000000u;
}

/* The first half of bringing a service to `want` (stopped or running):
 * a transition the other way that is under way is let finish first; then
 * the stop or start request is sent, unless one this way is under way
 * already. Returns 1 when the service is at `want` already, 0 when it is
 * on its way (wait for it with wait_state), or a reported PM_E*. */
static int service_request(pm_host *h, const char *name, pm_svc_state want,
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
  if (si.state == want) return 1;
  if (si.state == other_pending) {
    unsigned t = stop ? start_ms : stop_ms;
    PM_TRY(wait_state(h, name, other, deadline_in(t), t));
  }
  if (si.state == want_pending) return 0;
  rc = stop ? h->svc->stop(h, name) : h->svc->start(h, name);
  if (rc < 0) {
    if (stop)
      pm_report_error("stop service", name, rc);
    else
      pm_report_errorf(rc, "start service '%s' (ImagePath %s)", name,
                       si.image_path);
    return rc;
  }
  return 0;
}

/* Brings the plan's services i with in[i] to `want` in dependency waves
 * (orch_service_waves): every service of a wave gets its request, then
 * each is waited for until its own request's time plus its timeout, and
 * only then does the next wave begin. So a service is never asked to stop
 * while a service of the set that depends on it has not stopped, nor to
 * start before those of the set it depends on run (the SCM would refuse
 * both). A wave in which a service fails is still waited for to its
 * end, and no later wave begins: returns the first error (each failure
 * reported, naming its service), 0 when all got there. */
int orch_drive_waves(pm_host *h, const orch_plan *p, const bool *in,
                     pm_svc_state want, unsigned stop_ms, unsigned start_ms,
                     orch_waves_result *res) {
  size_t n = p->nsvcs;
  bool stop = want == PM_SVC_STOPPED;
  unsigned tmo = stop ? stop_ms : start_ms;
  memset(res, 0, sizeof *res);
  unsigned *wave = pm_xcalloc(n + 1, sizeof *wave);
  int *st = pm_xcalloc(n + 1, sizeof *st); /* 1 at want, 2 on its way */
  uint64_t *deadline = pm_xcalloc(n + 1, sizeof *deadline);
  res->waves = orch_service_waves(p, in, stop, wave);
  int rc = 0;
  size_t nf = 0;
  for (unsigned w = 1; w <= res->waves && rc == 0; w++) {
    res->waves_run = w;
    /* Starting in start order (the reverse of the stop order), as the
     * one-at-a-time walk did; the order inside a wave is only that of
     * the requests. */
    for (size_t k = 0; k < n; k++) {
      size_t i = stop ? k : n - 1 - k;
      if (wave[i] != w) continue;
      int q = service_request(h, p->svcs[i].name, want, stop_ms, start_ms);
      deadline[i] = deadline_in(tmo);
      st[i] = q == 1 ? 1 : q == 0 ? 2 : q;
    }
    for (size_t k = 0; k < n; k++) {
      size_t i = stop ? k : n - 1 - k;
      if (wave[i] != w) continue;
      if (st[i] == 2) {
        int q = wait_state(h, p->svcs[i].name, want, deadline[i], tmo);
        st[i] = q == 0 ? 1 : q;
      }
      if (st[i] == 1) {
        res->reached++;
        continue;
      }
      if (rc == 0) rc = st[i];
      size_t l = strlen(res->failed);
      snprintf(res->failed + l, sizeof res->failed - l, "%s'%s'",
               nf++ ? ", " : "", p->svcs[i].name);
    }
  }
  free(wave);
  free(st);
  free(deadline);
  return rc;
}

int orch_services_running(pm_host *h, const orch_plan *p, bool *in) {
  int n = 0;
  for (size_t i = 0; i < p->nsvcs; i++) {
    pm_svc_info si;
    int rc = h->svc->query(h, p->svcs[i].name, &si);
    if (rc < 0) {
      pm_report_error("query service", p->svcs[i].name, rc);
      return rc;
    }
    in[i] = si.state != PM_SVC_STOPPED;
    n += in[i];
  }
  return n;
}

/* The services that ran before the move (the plan's was_running), as a
 * set for drive_waves; caller frees. */
static bool *ran_before(const orch_run *r) {
  bool *in = pm_xcalloc(r->p->nsvcs + 1, sizeof *in);
  for (size_t i = 0; i < r->p->nsvcs; i++) in[i] = r->p->svcs[i].was_running;
  return in;
}

static int drive_waves(orch_run *r, const bool *in, pm_svc_state want,
                       orch_waves_result *res) {
  return orch_drive_waves(r->h, r->p, in, want, r->o->stop_timeout_ms,
                          r->o->start_timeout_ms, res);
}

static const char *waves_text(const orch_waves_result *w, char *buf,
                              size_t cap) {
  snprintf(buf, cap, "in %u wave%s", w->waves, w->waves == 1 ? "" : "s");
  return buf;
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

static int st_backup(orch_run *r) {
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

static int st_stop(orch_run *r) {
  size_t n = r->p->nsvcs;
  bool *in = ran_before(r);
  orch_waves_result wr;
  int rc = drive_waves(r, in, PM_SVC_STOPPED, &wr);
  char t[32];
  if (rc == 0) {
    orch_strf(r->detail, sizeof r->detail, "%zu stopped %s", wr.reached,
              waves_text(&wr, t, sizeof t));
    free(in);
    return 0;
  }
  /* A service that will not stop: restart the ones already stopped (in
   * their start waves; those still running count as running) so the mail
   * keeps flowing; nothing else has changed yet. */
  for (size_t i = 0; i < n; i++) {
    pm_svc_info si;
    in[i] = r->p->svcs[i].was_running &&
            r->h->svc->query(r->h, r->p->svcs[i].name, &si) == 0 &&
            si.state == PM_SVC_STOPPED;
  }
  orch_waves_result again;
  drive_waves(r, in, PM_SVC_RUNNING, &again);
  free(in);
  orch_strf(r->detail, sizeof r->detail,
            "%s did not stop (stop wave %u of %u); the %zu services that "
            "had stopped were started again%s%s; nothing else was changed",
            wr.failed, wr.waves_run, wr.waves, again.reached,
            again.failed[0] ? ", except " : "", again.failed);
  return rc;
}

static int st_unshare(orch_run *r) {
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

static int st_mkdir(orch_run *r) {
  /* The parent of the new Msmcon: <drive>\ExchSrvr\Connect, including the
   * Connect level the KB's text leaves out. */
  char *parent = pm_xstrdup(r->p->to_native);
  char *sl = strrchr(parent, '/');
  if (sl) *sl = '\0';
  int rc = orch_mkdirs(r->h->fs, parent);
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
  orch_run *r = arg;
  pm_progress_update(&r->prog, info->files_done, info->bytes_done, false);
}

/* --verify-all: every file of the new tree is re-read from the medium and
 * compared with the manifest the copy just wrote (whose hashes are of the
 * source's bytes), and nothing may be missing or extra. */
static int verify_all(orch_run *r, const char *manifest) {
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
  r->verify_s = orch_since(t0);
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

static int st_copy(orch_run *r) {
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
    again++;
  }
  if (again) {
    bool *in = pm_xcalloc(r->p->nsvcs + 1, sizeof *in);
    for (size_t i = 0; i < r->p->nsvcs; i++) {
      pm_svc_info si;
      in[i] = r->h->svc->query(r->h, r->p->svcs[i].name, &si) < 0 ||
              si.state != PM_SVC_STOPPED;
    }
    orch_waves_result wr;
    int rc = drive_waves(r, in, PM_SVC_STOPPED, &wr);
    free(in);
    if (rc < 0) return rc;
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
  r->delta_s = orch_since(tc);
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

static int st_share(orch_run *r) {
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

static int set_values(orch_run *r, bool mac) {
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

static int st_registry(orch_run *r) { return set_values(r, false); }
static int st_macvol(orch_run *r) { return set_values(r, true); }

/* How many values of that kind the host does not hold as the plan wants
 * them (bytes, type and, for an ImagePath, the service manager's copy). */
static size_t values_gone(orch_run *r, bool mac) {
  size_t n = 0;
  for (size_t i = 0; i < r->p->nvals; i++) {
    const orch_value *v = &r->p->vals[i];
    if ((v->kind == ORCH_V_MACVOL) != mac) continue;
    if (value_differs(r->h, v, &v->new_)) n++;
  }
  return n;
}
static size_t registry_gone(orch_run *r) { return values_gone(r, false); }
static size_t macvol_gone(orch_run *r) { return values_gone(r, true); }

/* The services that ran before the move, in their start waves. */
static int start_waves(orch_run *r) {
  bool *in = ran_before(r);
  orch_waves_result wr;
  int rc = drive_waves(r, in, PM_SVC_RUNNING, &wr);
  free(in);
  char t[32];
  if (rc == 0)
    orch_strf(r->detail, sizeof r->detail, "%zu running, started %s",
              wr.reached, waves_text(&wr, t, sizeof t));
  else
    orch_strf(r->detail, sizeof r->detail,
              "%s did not start (start wave %u of %u); %zu running",
              wr.failed, wr.waves_run, wr.waves, wr.reached);
  return rc;
}

static int st_start(orch_run *r) { return start_waves(r); }

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
          pm_fs_stat(h->fs, native, true, &st) < 0)
        pm_strlist_add(missing, file);
    }
    pm_strlist_free(&items);
  }
  return (int)checked;
}

static int st_postcheck(orch_run *r) {
  pm_strlist missing = {0};
  int checked = check_paths(r->h, r->p, &missing);
  int rc = 0;
  for (size_t i = 0; i < missing.n; i++)
    pm_report_errorf(PM_ENOENT, "post-check: %s does not exist",
                     missing.v[i]);
  if (missing.n) rc = PM_ENOENT;
  pm_strlist_free(&missing);
  /* Every value as the plan wants it, still: the registry step's work
   * can be undone behind its back, and a connector whose ImagePath is
   * gone does not start again. `move --resume` writes it again. */
  for (size_t i = 0; i < r->p->nvals; i++) {
    const orch_value *v = &r->p->vals[i];
    if (!value_differs(r->h, v, &v->new_)) continue;
    pm_report_errorf(PM_ESTATE, "post-check: %s\\%s does not hold its new "
                                "value",
                     v->key, v->name);
    rc = PM_ESTATE;
  }
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
             "%d paths exist, %zu values hold, share serves the new "
             "Maildata, services run",
             checked, r->p->nvals);
  return rc;
}

/* ---- undoing them (rollback, last step first) ---- */

/* Undoes start-services: while any value differs from before, the
 * services must not run from the new place while the values are given
 * back, so every one that runs is stopped. */
static int un_start(orch_run *r) {
  size_t differ = 0;
  for (size_t i = 0; i < r->p->nvals; i++)
    if (value_differs(r->h, &r->p->vals[i], &r->p->vals[i].old)) differ++;
  size_t stopped = 0;
  int rc = 0;
  if (differ) {
    bool *in = pm_xcalloc(r->p->nsvcs + 1, sizeof *in);
    rc = orch_services_running(r->h, r->p, in);
    if (rc > 0) rc = 0;
    orch_waves_result wr;
    if (rc == 0) {
      rc = drive_waves(r, in, PM_SVC_STOPPED, &wr);
      stopped = wr.reached;
    }
    free(in);
  }
  orch_strf(r->detail, sizeof r->detail, "%zu stopped", stopped);
  return rc;
}

/* Undoes registry and mac-volume: the values of that kind back, bytes and
 * types, where they differ from what the plan recorded. */
static int restore_values(orch_run *r, bool mac) {
  size_t of = 0, restored = 0;
  int rc = 0;
  for (size_t i = 0; i < r->p->nvals; i++) {
    const orch_value *v = &r->p->vals[i];
    if ((v->kind == ORCH_V_MACVOL) != mac) continue;
    of++;
    if (rc == 0 && value_differs(r->h, v, &v->old)) {
      rc = orch_set_value(r->h, v, &v->old);
      if (rc == 0) restored++;
    }
  }
  r->values_restored += restored;
  if (mac && of == 0)
    orch_strf(r->detail, sizeof r->detail, "no Macintosh volume");
  else
    orch_strf(r->detail, sizeof r->detail, "%zu of %zu values restored",
              restored, of);
  return rc;
}

static int un_registry(orch_run *r) { return restore_values(r, false); }
static int un_macvol(orch_run *r) { return restore_values(r, true); }

/* Is the share the one the plan recorded, security descriptor included? */
static bool share_as_before(const pm_share_info *cur,
                            const pm_share_info *was) {
  return !strcmp(cur->path, was->path) && !strcmp(cur->remark, was->remark) &&
         !strcmp(cur->sddl, was->sddl) && cur->type == was->type &&
         cur->max_uses == was->max_uses;
}

/* Undoes share: the share of the recorded name, when it is not the
 * recorded one (it serves the new Maildata), is removed; un_unshare then
 * gives the recorded one back. */
static int un_share(orch_run *r) {
  if (!r->p->have_share) {
    orch_strf(r->detail, sizeof r->detail, "no share was moved");
    return 0;
  }
  const pm_share_info *was = &r->p->share;
  pm_share_info cur;
  int rc = r->h->share->get(r->h, was->name, &cur);
  if (rc == PM_ENOENT) {
    orch_strf(r->detail, sizeof r->detail, "%s is not shared", was->name);
    return 0;
  }
  if (rc < 0) {
    pm_report_error("read share", was->name, rc);
    orch_strf(r->detail, sizeof r->detail, "%s unreadable", was->name);
    return rc;
  }
  if (share_as_before(&cur, was)) {
    orch_strf(r->detail, sizeof r->detail, "%s -> %s (unchanged)", was->name,
              was->path);
    return 0;
  }
  rc = r->h->share->del(r->h, was->name);
  if (rc < 0) pm_report_error("remove share", was->name, rc);
  orch_strf(r->detail, sizeof r->detail, "%s removed (was %s)", was->name,
            cur.path);
  return rc;
}

/* Undoes unshare: the share as it was, security descriptor included. */
static int un_unshare(orch_run *r) {
  int rc = 0;
  if (r->p->have_share) {
    const pm_share_info *was = &r->p->share;
    pm_share_info cur;
    int g = r->h->share->get(r->h, was->name, &cur);
    bool same = g == 0 && share_as_before(&cur, was);
    if (g == 0 && !same) {
      rc = r->h->share->del(r->h, was->name);
      if (rc < 0) pm_report_error("remove share", was->name, rc);
    } else if (g < 0 && g != PM_ENOENT) {
      rc = g;
      pm_report_error("read share", was->name, rc);
    }
    if (rc == 0 && !same) {
      rc = r->h->share->add(r->h, was);
      if (rc < 0) pm_report_error("share", was->path, rc);
    }
    orch_strf(r->detail, sizeof r->detail, "%s -> %s%s", was->name,
              was->path, same ? " (unchanged)" : "");
  } else {
    orch_strf(r->detail, sizeof r->detail, "no share was moved");
  }
  return rc;
}

int orch_remove_tree(const pm_fs *fs, const char *path) {
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

/* Undoes copy: the copy is left in place unless asked (rollback
 * --remove-copy), and then only what the move made. The folders
 * create-target made above it stay. */
static int un_copy(orch_run *r) {
  const orch_plan *p = r->p;
  int rc = 0;
  if (r->o->remove_copy && !pm_path_within(p->from_native, p->to_native)) {
    rc = orch_remove_tree(r->h->fs, p->to_native);
    if (rc < 0) pm_report_error("remove the copy", p->to_native, rc);
    /* A stage of that copy goes with it: its record would describe a
     * copy that is no longer there. */
    orch_stage sg;
    if (rc == 0 && orch_stage_load(r->h, r->o->state_dir, &sg) == 0 &&
        !strcmp(sg.to_native, p->to_native)) {
      char *sdir = orch_stage_dir(r->h, r->o->state_dir);
      rc = orch_remove_beneath(r->h->fs, sdir);
      if (rc < 0) pm_report_error("remove the stage record", sdir, rc);
      free(sdir);
    }
    orch_strf(r->detail, sizeof r->detail, "%s removed", p->to);
  } else {
    orch_strf(r->detail, sizeof r->detail, "%s left in place", p->to);
  }
  return rc;
}

/* Undoes stop-services: the services that ran before the move run again,
 * in their start waves. */
static int un_stop(orch_run *r) { return start_waves(r); }

/* ---- the table ---- */

/* The order is the move's. journal_id is what the step journal records
 * for a step: journals written by an earlier pomove are read by a later
 * one (move --resume), so a step keeps its number for good, wherever its
 * row is. backup-registry, create-target and post-check have nothing to
 * undo: the backup stays as a record, the folders above the copy stay
 * (un_copy removes the copy itself), and the check changed nothing. */
const orch_step orch_steps[] = {
    {.name = "backup-registry",
     .text = "write a .reg backup of every value about to change",
     .journal_id = 0,
     .window = ORCH_W_BEFORE,
     .run = st_backup},
    {.name = "stop-services",
     .text = "stop the connector services in dependency waves",
     .journal_id = 1,
     .window = ORCH_W_OPENS,
     .run = st_stop,
     .undo_name = "start-services",
     .undo = un_stop},
    {.name = "unshare",
     .text = "stop sharing the old Maildata",
     .journal_id = 2,
     .window = ORCH_W_INSIDE,
     .run = st_unshare,
     .undo_name = "share",
     .undo = un_unshare},
    {.name = "create-target",
     .text = "create ExchSrvr\\Connect on the new volume",
     .journal_id = 3,
     .window = ORCH_W_INSIDE,
     .run = st_mkdir},
    {.name = "copy",
     .text = "copy Connect\\Msmcon (verified, resumable)",
     .journal_id = 4,
     .window = ORCH_W_COPY,
     .run = st_copy,
     .undo_name = "copy",
     .undo = un_copy},
    {.name = "share",
     .text = "share the new Maildata with the original name, remark and SD",
     .journal_id = 5,
     .window = ORCH_W_INSIDE,
     .run = st_share,
     .undo_name = "unshare",
     .undo = un_share},
    {.name = "registry",
     .text = "rewrite the registry values, keeping each type",
     .journal_id = 6,
     .window = ORCH_W_INSIDE,
     .run = st_registry,
     .undone = registry_gone,
     .undo_name = "registry",
     .undo = un_registry},
    {.name = "mac-volume",
     .text = "re-point the Services for Macintosh volume",
     .journal_id = 7,
     .window = ORCH_W_INSIDE,
     .run = st_macvol,
     .undone = macvol_gone,
     .undo_name = "mac-volume",
     .undo = un_macvol},
    {.name = "start-services",
     .text = "start the services in dependency waves, the other way",
     .journal_id = 8,
     .window = ORCH_W_CLOSES,
     .run = st_start,
     .undo_name = "stop-services",
     .undo = un_start},
    {.name = "post-check",
     .text = "check paths, values, share and services",
     .journal_id = 9,
     .window = ORCH_W_AFTER,
     .run = st_postcheck},
};

_Static_assert(sizeof orch_steps / sizeof orch_steps[0] == ORCH_NSTEPS,
               "ORCH_NSTEPS counts the rows of orch_steps");

const char *orch_step_name(int step) {
  return step >= 0 && step < ORCH_NSTEPS ? orch_steps[step].name : "?";
}

const char *orch_step_text(int step) {
  return step >= 0 && step < ORCH_NSTEPS ? orch_steps[step].text : "?";
}
