/* check.c - `pomove check`: audits a host after an earlier move, or after
 * an Exchange service pack put values back to the default drive, created
 * a fresh Msmcon there and unshared the moved Maildat$ (KB Q240208).
 * Findings: every value under the connector service and event-log keys
 * (and the Macintosh volumes) pointing at a Msmcon other than the expected
 * one; no share serving the expected Maildata; Bin files older than the
 * default location's. --repair fixes them, with the same .reg backup as a
 * move, stopping the connector services around the change. */
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "orch.h"
#include "sidefile.h"
#include "sys.h"
#include "util.h"

typedef struct bin_finding {
  char *name;
  char *src, *dst; /* native paths: newer default file, stale one */
} bin_finding;

typedef struct audit {
  orch_plan p; /* svcs: the connector services; vals: wrong values */
  char expect[PM_HOST_PATH_MAX];
  char def[PM_HOST_PATH_MAX]; /* default Msmcon, "" when unknown */
  bool share_ok;
  pm_share_info stray; /* Maildat$ pointing elsewhere, when stray_found */
  bool stray_found;
  bin_finding *bins;
  size_t nbins;
  bool maildata_missing;
} audit;

static void audit_free(audit *a) {
  orch_plan_free(&a->p);
  for (size_t i = 0; i < a->nbins; i++) {
    free(a->bins[i].name);
    free(a->bins[i].src);
    free(a->bins[i].dst);
  }
  free(a->bins);
  memset(a, 0, sizeof *a);
}

static size_t findings(const audit *a) {
  return a->p.nvals + (a->share_ok ? 0 : 1) + a->nbins +
         (a->maildata_missing ? 1 : 0);
}

static int run_audit(pm_host *h, const char *expect, audit *a) {
  memset(a, 0, sizeof *a);
  snprintf(a->expect, sizeof a->expect, "%s", expect);
  pm_reg_value v = {0};
  if (h->reg->get(h, ORCH_SETUP_KEY, "Services", &v) == 0) {
    char *s = pm_reg_value_str(&v);
    if (s) snprintf(a->def, sizeof a->def, "%s\\Connect\\Msmcon", s);
    free(s);
  }
  pm_reg_value_free(&v);
  PM_TRY(orch_find_services(h, NULL, &a->p));
  PM_TRY(orch_collect_values(h, NULL, expect, &a->p));

  char native[PM_HOST_PATH_MAX * 4];
  char *md = pm_xasprintf("%s\\Maildata", expect);
  pm_stat st;
  a->maildata_missing = h->vol->native_path(h, md, native, sizeof native) < 0 ||
                        pm_fs_stat(h->fs, native, true, &st) < 0;
  pm_strlist names = {0};
  int rc = h->share->list(h, &names);
  if (rc < 0) pm_report_error("list shares", h->name, rc);
  for (size_t i = 0; i < names.n && rc == 0; i++) {
    pm_share_info si;
    if (h->share->get(h, names.v[i], &si) < 0) continue;
    if (pm_wpath_under(si.path, md) && strlen(si.path) <= strlen(md) + 1)
      a->share_ok = true;
    else if (!pm_wstrcasecmp(si.name, "Maildat$")) {
      a->stray = si;
      a->stray_found = true;
    }
  }
  pm_strlist_free(&names);
  free(md);
  if (rc < 0) return rc;

  /* Bin files a service pack refreshed at the default location only. */
  if (a->def[0] && pm_wstrcasecmp(a->def, expect)) {
    char dbin[PM_HOST_PATH_MAX], ebin[PM_HOST_PATH_MAX];
    char dn[PM_HOST_PATH_MAX * 4], en[PM_HOST_PATH_MAX * 4];
    orch_strf(dbin, sizeof dbin, "%s\\Bin", a->def);
    orch_strf(ebin, sizeof ebin, "%s\\Bin", expect);
    pm_dir *d;
    if (h->vol->native_path(h, dbin, dn, sizeof dn) == 0 &&
        h->vol->native_path(h, ebin, en, sizeof en) == 0 &&
        pm_fs_opendir(h->fs, dn, &d) == 0) {
      pm_dirent e;
      while (pm_fs_readdir(h->fs, d, &e) > 0) {
        char *sp = pm_path_join(dn, e.name), *dp = pm_path_join(en, e.name);
        pm_stat ss, ds;
        bool stale = false;
        if (pm_fs_stat(h->fs, sp, true, &ss) == 0 && ss.type == PM_T_FILE) {
          if (pm_fs_stat(h->fs, dp, true, &ds) < 0)
            stale = true;
          else
            stale = ds.mtime.sec < ss.mtime.sec;
        }
        if (stale) {
          a->bins = pm_xrealloc(a->bins, (a->nbins + 1) * sizeof *a->bins);
          a->bins[a->nbins].name = pm_xstrdup(e.name);
          a->bins[a->nbins].src = sp;
          a->bins[a->nbins].dst = dp;
          a->nbins++;
        } else {
          free(sp);
          free(dp);
        }
      }
      pm_fs_closedir(h->fs, d);
    }
  }
  return 0;
}

static void print_audit(const audit *a, FILE *out) {
  fprintf(out, "Check of the connector postoffice at %s\n", a->expect);
  if (a->maildata_missing)
    fprintf(out, "  ! %s\\Maildata does not exist\n", a->expect);
  for (size_t i = 0; i < a->p.nvals; i++) {
    const orch_value *v = &a->p.vals[i];
    char *o = pm_reg_value_display(&v->old);
    fprintf(out, "  ! %s \"%s\" (%s) points elsewhere: %s\n",
            orch_short_key(v->key), v->name, pm_reg_type_name(v->old.type),
            o);
    free(o);
  }
  if (!a->share_ok) {
    if (a->stray_found)
      fprintf(out, "  ! no share serves %s\\Maildata (%s shares %s)\n",
              a->expect, a->stray.name, a->stray.path);
    else
      fprintf(out, "  ! no share serves %s\\Maildata (Maildat$ missing)\n",
              a->expect);
  }
  for (size_t i = 0; i < a->nbins; i++)
    fprintf(out, "  ! Bin\\%s is older than (or missing beside) %s\\Bin\\%s\n",
            a->bins[i].name, a->def, a->bins[i].name);
  if (!findings(a)) fprintf(out, "  everything points at %s\n", a->expect);
}

static void json_audit(const audit *a, FILE *out, bool repaired) {
  fputs("{\"command\":\"check\",\"expect\":", out);
  pm_json_string(out, a->expect);
  fprintf(out, ",\"findings\":%zu,\"repaired\":%s,\"maildata_missing\":%s,"
               "\"share_ok\":%s,\"values\":[",
          findings(a), repaired ? "true" : "false",
          a->maildata_missing ? "true" : "false",
          a->share_ok ? "true" : "false");
  for (size_t i = 0; i < a->p.nvals; i++) {
    char *o = pm_reg_value_display(&a->p.vals[i].old);
    fputs(i ? ",{\"key\":" : "{\"key\":", out);
    pm_json_string(out, a->p.vals[i].key);
    fputs(",\"name\":", out);
    pm_json_string(out, a->p.vals[i].name);
    fputs(",\"data\":", out);
    pm_json_string(out, o);
    fputs("}", out);
    free(o);
  }
  fputs("],\"stale_bin\":[", out);
  for (size_t i = 0; i < a->nbins; i++) {
    if (i) fputc(',', out);
    pm_json_string(out, a->bins[i].name);
  }
  fputs("]}\n", out);
}

/* Copies a Bin file from the old place to the new one. The new file is
 * created under a temporary name of its own (O_EXCL, no symlink followed)
 * and renamed over dst only when its bytes are durable, so a symlink
 * planted at either name is never written through (sidefile.h). */
static int copy_file(const pm_fs *fs, const char *src, const char *dst) {
  pm_fd in;
  PM_TRY(pm_fs_open(fs, src, PM_O_RDONLY | PM_O_NOFOLLOW | PM_O_REGULAR, 0, &in));
  pm_stat st;
  int rc = pm_fs_fstat(fs, in, &st);
  pm_sidefile sf;
  if (rc == 0) rc = pm_side_create(fs, dst, "repaired Bin file", st.mode, &sf);
  if (rc < 0) {
    pm_fs_close(fs, in);
    return rc;
  }
  rc = pm_file_copy_fd(fs, in, sf.fd, NULL);
  if (rc == 0) rc = pm_fs_futimes(fs, sf.fd, &st.atime, &st.mtime);
  if (rc == 0) rc = pm_fs_fsync(fs, sf.fd, false);
  pm_fs_close(fs, in);
  if (rc < 0) {
    pm_side_discard(fs, &sf);
    return rc;
  }
  rc = pm_side_publish(fs, &sf, "repaired Bin file");
  if (rc < 0) return rc; /* reported; the temporary was removed */
  return pm_side_close(fs, &sf);
}

static int repair(pm_host *h, const orch_check_options *o, audit *a,
                  FILE *out) {
  unsigned stop_ms = o->stop_timeout_ms, start_ms = o->start_timeout_ms;
  int rc = 0;
  if (a->maildata_missing) {
    pm_report_errorf(PM_ENOENT, "check --repair: %s\\Maildata does not exist; "
                                "nothing to point at", a->expect);
    return PM_ENOENT;
  }
  /* The backup first, beside the moves' state. */
  const char *base = o->state_dir ? o->state_dir : h->state_dir;
  char stamp[32];
  pm_utc now;
  pm_utc_from_seconds(pm_wall_seconds(), &now);
  snprintf(stamp, sizeof stamp, "%04d%02d%02d-%02d%02d%02d", now.year,
           now.month, now.day, now.hour, now.min, now.sec);
  char *backup = pm_xasprintf("%s/check-%s.reg", base, stamp);
  if (a->p.nvals) {
    rc = pm_fs_mkdir(h->fs, base, 0755);
    if (rc == PM_EEXIST) rc = 0;
    pm_regtree *t = pm_regtree_new();
    for (size_t i = 0; i < a->p.nvals; i++)
      pm_regtree_set(t, a->p.vals[i].key, a->p.vals[i].name,
                     &a->p.vals[i].old);
    if (rc == 0) rc = pm_regtree_save(h->fs, backup, t);
    pm_regtree_free(t);
    if (rc < 0) {
      pm_report_error("write registry backup", backup, rc);
      free(backup);
      return rc;
    }
    if (!o->json) fprintf(out, "  backup of %zu values: %s\n", a->p.nvals,
                          backup);
  }
  free(backup);
  bool services = a->p.nvals || a->nbins;
  /* The services that run are stopped around the change in dependency
   * waves, as a move stops them, and started again the same way. */
  bool *ran = pm_xcalloc(a->p.nsvcs + 1, sizeof *ran);
  bool any = false;
  if (services) {
    int n = orch_services_running(h, &a->p, ran);
    if (n < 0) rc = n;
    any = n > 0;
  }
  orch_waves_result wr;
  if (rc == 0 && any)
    rc = orch_drive_waves(h, &a->p, ran, PM_SVC_STOPPED, stop_ms, start_ms,
                          &wr);
  for (size_t i = 0; i < a->p.nvals && rc == 0; i++)
    rc = orch_set_value(h, &a->p.vals[i], &a->p.vals[i].new_);
  for (size_t i = 0; i < a->nbins && rc == 0; i++) {
    rc = copy_file(h->fs, a->bins[i].src, a->bins[i].dst);
    if (rc < 0) pm_report_error("copy newer Bin file", a->bins[i].src, rc);
  }
  if (rc == 0 && !a->share_ok) {
    /* The share as the last move left it, else the Maildat$ a service
     * pack re-pointed, else the defaults of Q147376. */
    pm_share_info sh;
    memset(&sh, 0, sizeof sh);
    orch_plan last;
    char *cur = orch_state_current(h, o->state_dir);
    char *pp = pm_path_join(cur, "plan");
    if (orch_plan_load(h, pp, &last) == 0 && last.have_share) {
      sh = last.share;
      orch_plan_free(&last);
    } else if (a->stray_found) {
      sh = a->stray;
    } else {
      snprintf(sh.name, sizeof sh.name, "Maildat$");
      snprintf(sh.remark, sizeof sh.remark, "Access for MSMI postoffice");
      snprintf(sh.sddl, sizeof sh.sddl, "O:BAG:SYD:(A;;FA;;;WD)(A;;FA;;;BA)");
      sh.max_uses = 0xFFFFFFFFu;
    }
    free(pp);
    free(cur);
    orch_strf(sh.path, sizeof sh.path, "%s\\Maildata", a->expect);
    pm_share_info old;
    if (h->share->get(h, sh.name, &old) == 0) rc = h->share->del(h, sh.name);
    if (rc == 0) rc = h->share->add(h, &sh);
    if (rc < 0) pm_report_error("share", sh.path, rc);
  }
  if (any) {
    int r2 = orch_drive_waves(h, &a->p, ran, PM_SVC_RUNNING, stop_ms,
                              start_ms, &wr);
    if (rc == 0) rc = r2;
  }
  free(ran);
  return rc;
}

int orch_check(pm_host *h, const orch_check_options *o, orch_result *res) {
  memset(res, 0, sizeof *res);
  FILE *out = o->out ? o->out : stdout;
  char expect[PM_HOST_PATH_MAX];
  if (!o->expect || orch_msmcon_to(o->expect, expect, sizeof expect) < 0) {
    pm_report_errorf(PM_EINVAL, "check: --expect '%s' is not a drive or path "
                                "such as D: or D:\\ExchSrvr",
                     o->expect ? o->expect : "");
    res->refused = true;
    return PM_EINVAL;
  }
  audit a;
  int rc = run_audit(h, expect, &a);
  if (rc < 0) {
    audit_free(&a);
    return rc;
  }
  if (!o->repair || !findings(&a)) {
    if (o->json)
      json_audit(&a, out, false);
    else
      print_audit(&a, out);
    res->partial = findings(&a) > 0;
    audit_free(&a);
    return 0;
  }
  if (!o->json) print_audit(&a, out);
  if (!o->json) fprintf(out, "Repairing:\n");
  rc = repair(h, o, &a, out);
  audit_free(&a);
  if (rc < 0) return rc;
  rc = run_audit(h, expect, &a);
  if (rc < 0) {
    audit_free(&a);
    return rc;
  }
  if (o->json)
    json_audit(&a, out, true);
  else {
    fprintf(out, "After the repair:\n");
    print_audit(&a, out);
  }
  res->partial = findings(&a) > 0;
  audit_free(&a);
  return 0;
}
