/* discover.c - what a move will touch, found before anything changes:
 * the connector services (MSExchangeMSMI, MSExchangeATMTA, every PC MTA
 * instance found by its ImagePath under the old Msmcon), every registry
 * value under their service and event-log keys that points into the old
 * Msmcon (not only the KB's five), the Maildat$ share with its security
 * descriptor, the Services for Macintosh volume; then the destination
 * checks (NTFS, room, not inside the source, no other postoffice there). */
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "orch.h"
#include "util.h"

void orch_options_init(orch_options *o) {
  memset(o, 0, sizeof *o);
  o->stop_timeout_ms = 120000;
  o->start_timeout_ms = 120000;
  o->progress_mode = PM_PROGRESS_AUTO;
}

static void strip_bs(char *s) {
  size_t n = strlen(s);
  while (n > 3 && s[n - 1] == '\\') s[--n] = '\0';
  if (n == 3 && s[2] == '\\') s[2] = '\0';
}

static bool ends_with_msmcon(const char *s) {
  size_t n = strlen(s), m = strlen("\\Connect\\Msmcon");
  return n >= m && !pm_wstrcasecmp(s + n - m, "\\Connect\\Msmcon");
}

static bool drive_path(const char *s) {
  return ((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')) &&
         s[1] == ':' && (s[2] == '\0' || s[2] == '\\');
}

/* A host path given on the command line, with '/' read as the separator
 * it is on Windows ("C:/exchsrvr"; pomove.exe turns a typed '\\' into '/'
 * as it reads its arguments). */
static bool host_arg(const char *arg, char *tmp, size_t cap, size_t room) {
  if (strlen(arg) + room >= cap) return false;
  snprintf(tmp, cap, "%s", arg);
  for (char *c = tmp; *c; c++)
    if (*c == '/') *c = '\\';
  return drive_path(tmp);
}

int orch_msmcon_from(const char *arg, char *out, size_t cap) {
  char tmp[PM_HOST_PATH_MAX];
  if (!host_arg(arg, tmp, sizeof tmp, 20)) return PM_EINVAL;
  strip_bs(tmp);
  if (strlen(tmp) == 2) return PM_EINVAL; /* a bare drive is no Exchange path */
  if (ends_with_msmcon(tmp))
    snprintf(out, cap, "%s", tmp);
  else
    snprintf(out, cap, "%s\\Connect\\Msmcon", tmp);
  return 0;
}

int orch_msmcon_to(const char *arg, char *out, size_t cap) {
  char tmp[PM_HOST_PATH_MAX];
  if (!host_arg(arg, tmp, sizeof tmp, 30)) return PM_EINVAL;
  strip_bs(tmp);
  if (ends_with_msmcon(tmp))
    snprintf(out, cap, "%s", tmp);
  else if (strlen(tmp) == 2)
    snprintf(out, cap, "%s\\ExchSrvr\\Connect\\Msmcon", tmp);
  else
    snprintf(out, cap, "%s\\Connect\\Msmcon", tmp);
  return 0;
}

/* ---- rewriting ---- */

/* End of the "...\Connect\Msmcon" location in s (which must start with a
 * drive path), or 0 when s holds none. */
static size_t msmcon_end(const char *s) {
  if (!drive_path(s)) return 0;
  static const char pat[] = "\\Connect\\Msmcon";
  size_t m = sizeof pat - 1;
  for (size_t i = 0; s[i]; i++)
    if (pm_wprefix(s + i, pat) && (s[i + m] == '\\' || s[i + m] == '\0'))
      return i + m;
  return 0;
}

/* Rewrites one path-ish segment; appends the result to *o. */
static bool rewrite_seg(const char *seg, size_t len, const char *from,
                        const char *to, char **o) {
  char *s = pm_xmalloc(len + 1);
  memcpy(s, seg, len);
  s[len] = '\0';
  size_t skip = 0;
  if (pm_wprefix(s, "Path=")) skip = 5;
  if (s[skip] == '"') skip++;
  const char *p = s + skip;
  size_t plen = 0;
  if (from) {
    if (pm_wpath_under(p, from)) plen = strlen(from);
  } else {
    size_t e = msmcon_end(p);
    if (e) {
      char *cur = pm_xmalloc(e + 1);
      memcpy(cur, p, e);
      cur[e] = '\0';
      if (pm_wstrcasecmp(cur, to)) plen = e;
      free(cur);
    }
  }
  char *n;
  if (plen)
    n = pm_xasprintf("%s%.*s%s%s", *o, (int)skip, s, to, p + plen);
  else
    n = pm_xasprintf("%s%s", *o, s);
  free(*o);
  *o = n;
  free(s);
  return plen > 0;
}

static bool rewrite_str(const char *s, const char *from, const char *to,
                        char **out) {
  char *o = pm_xstrdup("");
  bool changed = false;
  /* Event-log message files may be ';'-separated lists. */
  for (;;) {
    size_t l = strcspn(s, ";");
    changed |= rewrite_seg(s, l, from, to, &o);
    if (!s[l]) break;
    char *n = pm_xasprintf("%s;", o);
    free(o);
    o = n;
    s += l + 1;
  }
  *out = o;
  return changed;
}

bool orch_rewrite_value(const pm_reg_value *v, const char *from,
                        const char *to, pm_reg_value *out) {
  memset(out, 0, sizeof *out);
  if (v->type == PM_REG_MULTI_SZ) {
    pm_strlist in = {0}, res = {0};
    pm_reg_value_multi(v, &in);
    bool changed = false;
    for (size_t i = 0; i < in.n; i++) {
      char *n;
      changed |= rewrite_str(in.v[i], from, to, &n);
      pm_strlist_add(&res, n);
      free(n);
    }
    if (changed) pm_reg_value_set_multi(out, &res);
    pm_strlist_free(&in);
    pm_strlist_free(&res);
    return changed;
  }
  char *s = pm_reg_value_str(v);
  if (!s) return false;
  char *n;
  bool changed = rewrite_str(s, from, to, &n);
  if (changed) pm_reg_value_set_str(out, v->type, n);
  free(s);
  free(n);
  return changed;
}

/* ---- discovery ---- */

void orch_plan_free(orch_plan *p) {
  for (size_t i = 0; i < p->nvals; i++) {
    free(p->vals[i].key);
    free(p->vals[i].name);
    free(p->vals[i].service);
    pm_reg_value_free(&p->vals[i].old);
    pm_reg_value_free(&p->vals[i].new_);
  }
  free(p->vals);
  free(p->svcs);
  memset(p, 0, sizeof *p);
}

static void add_value(orch_plan *p, const char *key, const char *name,
                      int kind, const pm_reg_value *old,
                      const pm_reg_value *nv) {
  for (size_t i = 0; i < p->nvals; i++)
    if (!pm_wstrcasecmp(p->vals[i].key, key) &&
        !pm_wstrcasecmp(p->vals[i].name, name))
      return;
  p->vals = pm_xrealloc(p->vals, (p->nvals + 1) * sizeof *p->vals);
  orch_value *v = &p->vals[p->nvals++];
  memset(v, 0, sizeof *v);
  v->key = pm_xstrdup(key);
  v->name = pm_xstrdup(name);
  v->kind = kind;
  pm_reg_value_copy(&v->old, old);
  pm_reg_value_copy(&v->new_, nv);
  /* ImagePath directly under a service key goes through the SCM. */
  size_t sk = strlen(ORCH_SERVICES_KEY);
  if (!pm_wstrcasecmp(name, "ImagePath") && pm_wprefix(key, ORCH_SERVICES_KEY) &&
      key[sk] == '\\' && !strchr(key + sk + 1, '\\')) {
    v->image_path = true;
    v->service = pm_xstrdup(key + sk + 1);
  }
}

/* Collects every value under `key` (recursively) that points into `from`.
 * A missing key is not an error. */
static int scan_key(pm_host *h, const char *key, int kind, const char *from,
                    const char *to, orch_plan *p) {
  pm_strlist names = {0};
  int rc = h->reg->values(h, key, &names);
  if (rc == PM_ENOENT) return 0;
  if (rc < 0) {
    pm_report_error("read registry key", key, rc);
    return rc;
  }
  for (size_t i = 0; i < names.n && rc >= 0; i++) {
    pm_reg_value v = {0}, nv = {0};
    rc = h->reg->get(h, key, names.v[i], &v);
    if (rc < 0) {
      char *what = pm_xasprintf("%s\\%s", key, names.v[i]);
      pm_report_error("read registry value", what, rc);
      free(what);
    } else if (orch_rewrite_value(&v, from, to, &nv)) {
      add_value(p, key, names.v[i], kind, &v, &nv);
    }
    pm_reg_value_free(&v);
    pm_reg_value_free(&nv);
  }
  pm_strlist_free(&names);
  if (rc < 0) return rc;
  pm_strlist sub = {0};
  rc = h->reg->subkeys(h, key, &sub);
  if (rc == PM_ENOENT) rc = 0;
  for (size_t i = 0; i < sub.n && rc >= 0; i++) {
    char *k = pm_xasprintf("%s\\%s", key, sub.v[i]);
    rc = scan_key(h, k, kind, from, to, p);
    free(k);
  }
  pm_strlist_free(&sub);
  return rc;
}

/* The file an ImagePath names (quotes and arguments dropped). */
static void image_file(const char *image, char *out, size_t cap) {
  if (image[0] == '"') {
    const char *end = strchr(image + 1, '"');
    size_t l = end ? (size_t)(end - image - 1) : strlen(image + 1);
    snprintf(out, cap, "%.*s", (int)l, image + 1);
  } else {
    snprintf(out, cap, "%s", image);
  }
}

static bool svc_depends(pm_host *h, const char *a, const char *b) {
  pm_svc_info si;
  if (h->svc->query(h, a, &si) < 0) return false;
  for (const char *d = si.deps; *d; d += strlen(d) + 1)
    if (!pm_wstrcasecmp(d, b)) return true;
  return false;
}

static int cmp_svc(const void *a, const void *b) {
  const orch_service *x = a, *y = b;
  if (x->role != y->role) return x->role - y->role;
  return pm_wstrcasecmp(x->name, y->name);
}

void orch_sort_services(pm_host *h, orch_service *s, size_t n) {
  qsort(s, n, sizeof *s, cmp_svc);
  /* Dependents stop before what they depend on: a selection over the
   * role order that never picks a service another remaining one needs. */
  for (size_t i = 0; i < n; i++) {
    size_t pick = i;
    for (size_t c = i; c < n; c++) {
      bool needed = false;
      for (size_t o = i; o < n && !needed; o++)
        if (o != c && svc_depends(h, s[o].name, s[c].name)) needed = true;
      if (!needed) {
        pick = c;
        break;
      }
    }
    orch_service t = s[pick];
    memmove(&s[i + 1], &s[i], (pick - i) * sizeof t);
    s[i] = t;
  }
}

typedef struct tree_size {
  uint64_t files, dirs, bytes, alloc;
} tree_size;

static int measure(const pm_fs_ops *fs, const char *path, tree_size *t) {
  pm_dir *d;
  int rc = fs->opendir(path, &d);
  if (rc < 0) {
    pm_report_error("read folder", path, rc);
    return rc;
  }
  t->dirs++;
  t->alloc += 4096;
  pm_dirent e;
  while ((rc = fs->readdir(d, &e)) > 0) {
    if (!strcmp(e.name, ".") || !strcmp(e.name, "..")) continue;
    char *c = pm_path_join(path, e.name);
    pm_stat st;
    rc = fs->stat(c, false, &st);
    if (rc < 0) {
      pm_report_error("stat", c, rc);
    } else if (st.type == PM_T_DIR) {
      rc = measure(fs, c, t);
    } else {
      t->files++;
      t->bytes += st.size;
      /* NTFS clusters of 4 KiB: what the copy will take at least. */
      t->alloc += (st.size + 4095) / 4096 * 4096;
    }
    free(c);
    if (rc < 0) break;
  }
  fs->closedir(d);
  return rc < 0 ? rc : 0;
}

/* MASTER.GLB is a few KiB; 16 MiB is no postoffice's. */
static int read_file_small(const pm_fs_ops *fs, const char *path,
                           char **buf, size_t *len) {
  return pm_file_read(fs, path, (size_t)1 << 24, buf, len);
}

/* Does the existing folder `dst` hold this postoffice (an earlier partial
 * copy) or another one? Compared by MASTER.GLB, the postoffice's identity
 * record. Returns 1 same, 0 empty, -1 different. */
static int target_kind(const pm_fs_ops *fs, const char *src,
                       const char *dst) {
  pm_dir *d;
  if (fs->opendir(dst, &d) < 0) return 0;
  pm_dirent e;
  bool empty = true;
  while (fs->readdir(d, &e) > 0)
    if (strcmp(e.name, ".") && strcmp(e.name, "..")) empty = false;
  fs->closedir(d);
  if (empty) return 0;
  char *a = pm_path_join(src, "Maildata/GLB/MASTER.GLB");
  char *b = pm_path_join(dst, "Maildata/GLB/MASTER.GLB");
  char *ba = NULL, *bb = NULL;
  size_t la = 0, lb = 0;
  int ra = read_file_small(fs, a, &ba, &la);
  int rb = read_file_small(fs, b, &bb, &lb);
  int kind = -1;
  if (ra == 0 && rb == 0 && la == lb && !memcmp(ba, bb, la)) kind = 1;
  /* Copied directories without the GLB file yet: the copy was cut early,
   * so only a folder with no Maildata\GLB of its own may be completed. */
  if (ra == 0 && rb == PM_ENOENT) {
    char *m = pm_path_join(dst, "Maildata/GLB");
    pm_stat st;
    if (fs->stat(m, false, &st) == PM_ENOENT) kind = 1;
    free(m);
  }
  free(ba);
  free(bb);
  free(a);
  free(b);
  return kind;
}

int orch_find_services(pm_host *h, const char *from, orch_plan *p) {
  pm_strlist names = {0};
  int rc = h->svc->list(h, &names);
  if (rc < 0) {
    pm_report_error("list services", h->name, rc);
    return rc;
  }
  for (size_t i = 0; i < names.n && rc >= 0; i++) {
    pm_svc_info si;
    rc = h->svc->query(h, names.v[i], &si);
    if (rc < 0) {
      pm_report_error("query service", names.v[i], rc);
      break;
    }
    char file[PM_HOST_PATH_MAX];
    image_file(si.image_path, file, sizeof file);
    if (from ? !pm_wpath_under(file, from) : !msmcon_end(file)) continue;
    p->svcs = pm_xrealloc(p->svcs, (p->nsvcs + 1) * sizeof *p->svcs);
    orch_service *s = &p->svcs[p->nsvcs++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", si.name);
    s->role = !pm_wstrcasecmp(si.name, "MSExchangeMSMI")    ? ORCH_ROLE_MSMI
              : !pm_wstrcasecmp(si.name, "MSExchangeATMTA") ? ORCH_ROLE_ATMTA
                                                            : ORCH_ROLE_PCMTA;
    s->was_running = si.state == PM_SVC_RUNNING ||
                     si.state == PM_SVC_START_PENDING;
  }
  pm_strlist_free(&names);
  if (rc < 0) return rc;
  orch_sort_services(h, p->svcs, p->nsvcs);
  return 0;
}

int orch_collect_values(pm_host *h, const char *from, const char *to,
                        orch_plan *p) {
  /* Values under the service keys, MSExchangePCMTA's, their event-log
   * sources, and the Macintosh volumes. */
  pm_strlist keys = {0};
  for (size_t i = 0; i < p->nsvcs; i++) pm_strlist_add(&keys, p->svcs[i].name);
  pm_strlist_add(&keys, "MSExchangePCMTA");
  pm_strlist_add(&keys, "MSExchangeATMTA");
  int rc = 0;
  for (size_t i = 0; i < keys.n && rc >= 0; i++) {
    char *k = pm_xasprintf("%s\\%s", ORCH_SERVICES_KEY, keys.v[i]);
    rc = scan_key(h, k, ORCH_V_SERVICE, from, to, p);
    free(k);
  }
  for (size_t i = 0; i < keys.n && rc >= 0; i++) {
    char *k = pm_xasprintf("%s\\%s", ORCH_EVENTLOG_KEY, keys.v[i]);
    rc = scan_key(h, k, ORCH_V_EVENTLOG, from, to, p);
    free(k);
  }
  pm_strlist_free(&keys);
  if (rc >= 0) rc = scan_key(h, ORCH_MACVOL_KEY, ORCH_V_MACVOL, from, to, p);
  return rc < 0 ? rc : 0;
}

int orch_discover(pm_host *h, const orch_options *o, orch_plan *p) {
  memset(p, 0, sizeof *p);
  if (!o->from || !o->to) {
    pm_report_errorf(PM_EINVAL, "move: --from and --to are required");
    return PM_EXIT_USAGE;
  }
  if (orch_msmcon_from(o->from, p->from, sizeof p->from) < 0) {
    pm_report_errorf(PM_EINVAL,
                     "move: --from '%s' is not an Exchange path such as "
                     "C:\\exchsrvr or C:\\exchsrvr\\Connect\\Msmcon",
                     o->from);
    return PM_EXIT_USAGE;
  }
  if (orch_msmcon_to(o->to, p->to, sizeof p->to) < 0) {
    pm_report_errorf(PM_EINVAL,
                     "move: --to '%s' is not a drive or path such as D: or "
                     "D:\\ExchSrvr",
                     o->to);
    return PM_EXIT_USAGE;
  }
  int rc = h->vol->native_path(h, p->from, p->from_native,
                               sizeof p->from_native);
  pm_stat st;
  char *md = NULL;
  if (rc == 0) {
    md = pm_path_join(p->from_native, "Maildata");
    rc = h->fs->stat(md, true, &st);
    if (rc == 0 && st.type != PM_T_DIR) rc = PM_ENOTDIR;
  }
  if (rc < 0) {
    pm_report_errorf(rc, "move: no connector postoffice at %s (its Maildata "
                         "folder cannot be read: %s)",
                     p->from, pm_strerror(rc));
    free(md);
    return PM_EXIT_USAGE;
  }
  free(md);
  rc = h->vol->native_path(h, p->to, p->to_native, sizeof p->to_native);
  if (rc < 0) {
    pm_report_errorf(rc, "move: destination %s: %s", p->to, pm_strerror(rc));
    return PM_EXIT_USAGE;
  }
  if (pm_wpath_under(p->to, p->from) || pm_wpath_under(p->from, p->to)) {
    pm_report_errorf(PM_EINVAL,
                     "move: the destination %s lies inside the postoffice "
                     "%s (or contains it)",
                     p->to, p->from);
    return PM_EXIT_USAGE;
  }

  rc = orch_find_services(h, p->from, p);
  if (rc < 0) return PM_EXIT_FAILED;
  bool have_msmi = false;
  for (size_t i = 0; i < p->nsvcs; i++)
    have_msmi |= p->svcs[i].role == ORCH_ROLE_MSMI;
  if (!have_msmi) {
    pm_report_errorf(PM_ENOENT,
                     "move: no MSExchangeMSMI service runs from %s\\Bin: is "
                     "this the connector postoffice in use?",
                     p->from);
    return PM_EXIT_USAGE;
  }
  if (orch_collect_values(h, p->from, p->to, p) < 0) return PM_EXIT_FAILED;

  /* The share of the old Maildata. */
  char *maildata = pm_xasprintf("%s\\Maildata", p->from);
  pm_strlist shares = {0};
  rc = h->share->list(h, &shares);
  if (rc < 0) {
    pm_report_error("list shares", h->name, rc);
    free(maildata);
    return PM_EXIT_FAILED;
  }
  for (size_t i = 0; i < shares.n; i++) {
    pm_share_info si;
    if (h->share->get(h, shares.v[i], &si) < 0) continue;
    char path[PM_HOST_PATH_MAX];
    snprintf(path, sizeof path, "%s", si.path);
    strip_bs(path);
    if (pm_wstrcasecmp(path, maildata)) continue;
    /* Several shares of the folder: Maildat$ is the one the KB means. */
    if (!p->have_share || !pm_wstrcasecmp(si.name, "Maildat$")) {
      p->share = si;
      p->have_share = true;
    }
  }
  pm_strlist_free(&shares);
  free(maildata);

  /* Destination checks. */
  pm_vol_info vi;
  rc = h->vol->info(h, p->to, &vi);
  if (rc < 0) {
    pm_report_errorf(rc, "move: cannot read the volume of %s: %s", p->to,
                     pm_strerror(rc));
    return PM_EXIT_USAGE;
  }
  if (pm_wstrcasecmp(vi.fs_type, "NTFS")) {
    pm_report_errorf(PM_EINVAL,
                     "move: the destination %.2s is %s; the connector "
                     "postoffice must move to an NTFS volume (KB Q171259)",
                     p->to, vi.fs_type);
    return PM_EXIT_USAGE;
  }
  tree_size ts = {0};
  if (measure(h->fs, p->from_native, &ts) < 0) return PM_EXIT_FAILED;
  p->files = ts.files;
  p->dirs = ts.dirs;
  p->bytes = ts.bytes;
  int tk = target_kind(h->fs, p->from_native, p->to_native);
  /* A staged copy of this postoffice is ours whatever the services have
   * written since (the move's final pass brings it up to date). */
  orch_stage sg;
  int sr = orch_stage_load(h, o->state_dir, &sg);
  if (sr < 0 && sr != PM_ENOENT) return PM_EXIT_USAGE;
  if (sr == 0 && !strcmp(sg.from_native, p->from_native) &&
      !strcmp(sg.to_native, p->to_native)) {
    p->staged = sg.passes > 0;
    p->stage = sg;
    if (o->dry_run && p->staged) orch_stage_changed(h, &p->stage);
    tk = 1;
  }
  if (tk < 0) {
    pm_report_errorf(PM_EEXIST,
                     "move: %s already holds a different postoffice (or "
                     "other files); choose another destination",
                     p->to);
    return PM_EXIT_USAGE;
  }
  p->target_existed = tk == 1;
  if (!p->target_existed && vi.free_bytes < ts.alloc) {
    char a[32], b[32];
    pm_report_errorf(PM_ENOSPC,
                     "move: the destination %.2s has %s free; the postoffice "
                     "needs %s",
                     p->to, pm_fmt_bytes(vi.free_bytes, a, sizeof a),
                     pm_fmt_bytes(ts.alloc, b, sizeof b));
    return PM_EXIT_USAGE;
  }
  return 0;
}

/* ---- printing ---- */

static const char *role_name(int r) {
  return r == ORCH_ROLE_MSMI    ? "MS Mail Connector Interchange"
         : r == ORCH_ROLE_ATMTA ? "MS Mail Connector (AppleTalk) MTA"
                                : "PC MTA instance";
}

static const char *kind_name(int k) {
  return k == ORCH_V_EVENTLOG ? "event log"
         : k == ORCH_V_MACVOL ? "Macintosh volume"
                              : "service";
}

const char *orch_short_key(const char *key) {
  static const char pre[] = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\";
  return pm_wprefix(key, pre) ? key + sizeof pre - 1 : key;
}

void orch_plan_print(const orch_plan *p, FILE *out) {
  char b[32];
  fprintf(out, "Move of the MS Mail connector postoffice (KB Q171259)\n");
  fprintf(out, "  from  %s\n  to    %s\n", p->from, p->to);
  fprintf(out, "  tree  %llu files in %llu folders, %s%s\n",
          (unsigned long long)p->files, (unsigned long long)p->dirs,
          pm_fmt_bytes(p->bytes, b, sizeof b),
          p->target_existed ? " (an earlier partial copy is completed)" : "");
  fprintf(out, "\nServices, in stop order (started in the reverse order):\n");
  for (size_t i = 0; i < p->nsvcs; i++)
    fprintf(out, "  %zu. %-32s %-34s %s\n", i + 1, p->svcs[i].name,
            role_name(p->svcs[i].role),
            p->svcs[i].was_running ? "running" : "stopped (left stopped)");
  fprintf(out, "\nShare:\n");
  if (p->have_share)
    fprintf(out,
            "  %s  %s -> %s\\Maildata\n    remark \"%s\"\n    security "
            "descriptor %s\n",
            p->share.name, p->share.path, p->to, p->share.remark,
            p->share.sddl);
  else
    fprintf(out, "  none shares %s\\Maildata: no share is moved\n", p->from);
  fprintf(out, "\nRegistry values under HKLM\\SYSTEM\\CurrentControlSet "
               "(type kept):\n");
  for (size_t i = 0; i < p->nvals; i++) {
    const orch_value *v = &p->vals[i];
    char *o = pm_reg_value_display(&v->old), *n = pm_reg_value_display(&v->new_);
    fprintf(out, "  %s  \"%s\"  %s, %s\n      %s\n   -> %s\n",
            orch_short_key(v->key), v->name, pm_reg_type_name(v->old.type),
            kind_name(v->kind), o, n);
    free(o);
    free(n);
  }
  bool mac = false;
  for (size_t i = 0; i < p->nvals; i++) mac |= p->vals[i].kind == ORCH_V_MACVOL;
  if (!mac) fprintf(out, "  (no Macintosh volume points at Maildata)\n");
  fprintf(out, "\nSteps:\n");
  for (int k = 0; k < ORCH_NSTEPS; k++)
    fprintf(out, "  %2d. %-16s %s\n", k + 1, orch_step_name(k),
            orch_step_text(k));
}

void orch_plan_json(const orch_plan *p, FILE *out) {
  fputs("{\"from\":", out);
  pm_json_string(out, p->from);
  fputs(",\"to\":", out);
  pm_json_string(out, p->to);
  fprintf(out, ",\"files\":%llu,\"dirs\":%llu,\"bytes\":%llu",
          (unsigned long long)p->files, (unsigned long long)p->dirs,
          (unsigned long long)p->bytes);
  fputs(",\"services\":[", out);
  for (size_t i = 0; i < p->nsvcs; i++) {
    fputs(i ? ",{\"name\":" : "{\"name\":", out);
    pm_json_string(out, p->svcs[i].name);
    fprintf(out, ",\"role\":\"%s\",\"was_running\":%s}",
            p->svcs[i].role == ORCH_ROLE_MSMI    ? "msmi"
            : p->svcs[i].role == ORCH_ROLE_ATMTA ? "atmta"
                                                 : "pcmta",
            p->svcs[i].was_running ? "true" : "false");
  }
  fputs("],\"share\":", out);
  if (p->have_share) {
    fputs("{\"name\":", out);
    pm_json_string(out, p->share.name);
    fputs(",\"path\":", out);
    pm_json_string(out, p->share.path);
    fputs(",\"remark\":", out);
    pm_json_string(out, p->share.remark);
    fputs(",\"sddl\":", out);
    pm_json_string(out, p->share.sddl);
    fputs("}", out);
  } else {
    fputs("null", out);
  }
  fputs(",\"values\":[", out);
  for (size_t i = 0; i < p->nvals; i++) {
    const orch_value *v = &p->vals[i];
    char *o = pm_reg_value_display(&v->old), *n = pm_reg_value_display(&v->new_);
    fputs(i ? ",{\"key\":" : "{\"key\":", out);
    pm_json_string(out, v->key);
    fputs(",\"name\":", out);
    pm_json_string(out, v->name);
    fprintf(out, ",\"type\":\"%s\",\"kind\":\"%s\",\"old\":",
            pm_reg_type_name(v->old.type), kind_name(v->kind));
    pm_json_string(out, o);
    fputs(",\"new\":", out);
    pm_json_string(out, n);
    fputs("}", out);
    free(o);
    free(n);
  }
  fputs("],\"steps\":[", out);
  for (int k = 0; k < ORCH_NSTEPS; k++)
    fprintf(out, "%s\"%s\"", k ? "," : "", orch_step_name(k));
  fputs("]", out);
  if (p->staged) {
    fputs(",\"staged\":", out);
    orch_stage_json(&p->stage, out);
  }
  fputs("}", out);
}
