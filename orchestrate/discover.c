/* discover.c - what exists where on the host, read before anything
 * changes: the connector services (MSExchangeMSMI, MSExchangeATMTA, every
 * PC MTA instance found by its ImagePath under the old Msmcon), every
 * registry value under their service and event-log keys that points into
 * the old Msmcon (not only the KB's five), the Services for Macintosh
 * volume, the share of a folder with its security descriptor, the size of
 * a tree and what an existing destination holds; and the path rules
 * (Msmcon from a command-line argument, a value's paths rewritten). It
 * changes nothing and decides nothing: the move's plan (plan.c) and
 * `check` (check.c) both build on it. */
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "orch.h"
#include "util.h"

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

static void add_value(orch_plan *p, const char *key, const char *name,
                      int kind, const pm_reg_value *old,
                      const pm_reg_value *nv) {
  for (size_t i = 0; i < p->nvals; i++)
    if (!pm_wstrcasecmp(p->vals[i].key, key) &&
        !pm_wstrcasecmp(p->vals[i].name, name))
      return;
  orch_value *v = orch_plan_add_value(p, key, name, kind);
  pm_reg_value_copy(&v->old, old);
  pm_reg_value_copy(&v->new_, nv);
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

/* Keeps in each service's deps only the services of the plan (with the
 * plan's spelling), and gives ATMTA its dependency on MSMI where the
 * registry does not list it: Q143380's order holds either way. */
static void plan_deps(orch_plan *p) {
  const char *msmi = NULL;
  for (size_t i = 0; i < p->nsvcs; i++)
    if (p->svcs[i].role == ORCH_ROLE_MSMI) msmi = p->svcs[i].name;
  for (size_t i = 0; i < p->nsvcs; i++) {
    orch_service *s = &p->svcs[i];
    char kept[sizeof s->deps];
    size_t n = 0;
    bool has_msmi = false;
    for (const char *d = s->deps; *d; d += strlen(d) + 1)
      for (size_t k = 0; k < p->nsvcs; k++) {
        if (k == i || pm_wstrcasecmp(d, p->svcs[k].name)) continue;
        size_t l = strlen(p->svcs[k].name);
        if (n + l + 2 > sizeof kept) break;
        memcpy(kept + n, p->svcs[k].name, l + 1);
        n += l + 1;
        if (p->svcs[k].name == msmi) has_msmi = true;
        break;
      }
    if (s->role == ORCH_ROLE_ATMTA && msmi && !has_msmi &&
        n + strlen(msmi) + 2 <= sizeof kept) {
      memcpy(kept + n, msmi, strlen(msmi) + 1);
      n += strlen(msmi) + 1;
    }
    kept[n] = '\0';
    memcpy(s->deps, kept, n + 1);
  }
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

int orch_measure_tree(const pm_fs *fs, const char *path,
                      orch_tree_size *t) {
  pm_dir *d;
  int rc = pm_fs_opendir(fs, path, &d);
  if (rc < 0) {
    pm_report_error("read folder", path, rc);
    return rc;
  }
  t->dirs++;
  t->alloc += 4096;
  pm_dirent e;
  while ((rc = pm_fs_readdir(fs, d, &e)) > 0) {
    if (!strcmp(e.name, ".") || !strcmp(e.name, "..")) continue;
    char *c = pm_path_join(path, e.name);
    pm_stat st;
    rc = pm_fs_stat(fs, c, false, &st);
    if (rc < 0) {
      pm_report_error("stat", c, rc);
    } else if (st.type == PM_T_DIR) {
      rc = orch_measure_tree(fs, c, t);
    } else {
      t->files++;
      t->bytes += st.size;
      /* NTFS clusters of 4 KiB: what the copy will take at least. */
      t->alloc += (st.size + 4095) / 4096 * 4096;
    }
    free(c);
    if (rc < 0) break;
  }
  pm_fs_closedir(fs, d);
  return rc < 0 ? rc : 0;
}

/* MASTER.GLB is a few KiB; 16 MiB is no postoffice's. */
static int read_file_small(const pm_fs *fs, const char *path,
                           char **buf, size_t *len) {
  return pm_file_read(fs, path, (size_t)1 << 24, buf, len);
}

/* Compared by MASTER.GLB, the postoffice's identity record. */
int orch_target_kind(const pm_fs *fs, const char *src,
                     const char *dst) {
  pm_dir *d;
  if (pm_fs_opendir(fs, dst, &d) < 0) return 0;
  pm_dirent e;
  bool empty = true;
  while (pm_fs_readdir(fs, d, &e) > 0)
    if (strcmp(e.name, ".") && strcmp(e.name, "..")) empty = false;
  pm_fs_closedir(fs, d);
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
    if (pm_fs_stat(fs, m, false, &st) == PM_ENOENT) kind = 1;
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
    /* All of them for now; plan_deps() keeps those of the plan. */
    memcpy(s->deps, si.deps, sizeof s->deps);
    s->deps[sizeof s->deps - 2] = s->deps[sizeof s->deps - 1] = '\0';
  }
  pm_strlist_free(&names);
  if (rc < 0) return rc;
  plan_deps(p);
  orch_sort_services(h, p->svcs, p->nsvcs);
  return 0;
}

bool orch_service_needs(const orch_plan *p, size_t a, size_t b) {
  if (a == b || a >= p->nsvcs || b >= p->nsvcs) return false;
  if (p->deps_unknown) return a < b;
  /* Depth-first over the plan's services, each visited once (a cycle,
   * which the SCM would not start either, ends the search). */
  bool *seen = pm_xcalloc(p->nsvcs, sizeof *seen);
  size_t *stack = pm_xmalloc(p->nsvcs * sizeof *stack);
  size_t top = 0;
  bool found = false;
  stack[top++] = a;
  seen[a] = true;
  while (top && !found) {
    const orch_service *s = &p->svcs[stack[--top]];
    for (const char *d = s->deps; *d && !found; d += strlen(d) + 1)
      for (size_t k = 0; k < p->nsvcs; k++) {
        if (seen[k] || pm_wstrcasecmp(d, p->svcs[k].name)) continue;
        if (k == b) found = true;
        seen[k] = true;
        stack[top++] = k;
      }
  }
  free(seen);
  free(stack);
  return found;
}

unsigned orch_service_waves(const orch_plan *p, const bool *in, bool stop,
                            unsigned *wave) {
  size_t n = p->nsvcs, left = 0;
  for (size_t i = 0; i < n; i++) {
    wave[i] = 0;
    if (in[i]) left++;
  }
  /* needs[i * n + j]: i depends on j. */
  bool *needs = pm_xcalloc(n * n + 1, sizeof *needs);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      needs[i * n + j] = in[i] && in[j] && orch_service_needs(p, i, j);
  unsigned w = 0;
  while (left) {
    w++;
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
      if (!in[i] || wave[i]) continue;
      /* Blocked by a service of the set not in an earlier wave: when
       * stopping, one that depends on i; when starting, one i depends
       * on. */
      bool ready = true;
      for (size_t j = 0; j < n && ready; j++)
        if (j != i && in[j] && (!wave[j] || wave[j] == w) &&
            (stop ? needs[j * n + i] : needs[i * n + j]))
          ready = false;
      if (ready) {
        wave[i] = w;
        got++;
      }
    }
    if (!got) {
      /* A cycle: the first left in stop order (the last, starting) goes
       * alone, so that every service is still driven. */
      for (size_t k = 0; k < n; k++) {
        size_t i = stop ? k : n - 1 - k;
        if (in[i] && !wave[i]) {
          wave[i] = w;
          got = 1;
          break;
        }
      }
    }
    left -= got;
  }
  free(needs);
  return w;
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

int orch_find_share(pm_host *h, const char *folder, pm_share_info *out) {
  pm_strlist shares = {0};
  int rc = h->share->list(h, &shares);
  if (rc < 0) {
    pm_report_error("list shares", h->name, rc);
    return rc;
  }
  bool found = false;
  for (size_t i = 0; i < shares.n; i++) {
    pm_share_info si;
    if (h->share->get(h, shares.v[i], &si) < 0) continue;
    char path[PM_HOST_PATH_MAX];
    snprintf(path, sizeof path, "%s", si.path);
    strip_bs(path);
    if (pm_wstrcasecmp(path, folder)) continue;
    /* Several shares of the folder: Maildat$ is the one the KB means. */
    if (!found || !pm_wstrcasecmp(si.name, "Maildat$")) {
      *out = si;
      found = true;
    }
  }
  pm_strlist_free(&shares);
  return found ? 1 : 0;
}
