/* sim_host.c - the simulated Windows host of the Linux harness
 * (`--host sim:DIR`), behind the tables of host.h.
 *
 * DIR holds:
 *   host.ini      drives (letter, file-system type, optional free space),
 *                 default delays, per-service behaviour (delays, a service
 *                 that ignores the stop control, one that fails to start)
 *   drives/C ...  the folder behind each drive letter
 *   registry.reg  the whole registry, REGEDIT5 (regfile.c), rewritten on
 *                 every change
 *   shares.txt    the shares (SHARE_INFO_502 with the SD as SDDL)
 *   services.txt  which services run (pid, when start completes) or are
 *                 stopping (when the stop completes)
 *   services.log  every stop and start request the simulated SCM got, in
 *                 order, with its time, when it completes, and whether it
 *                 was refused (pm_sim_service_log reads it): what a test
 *                 checks the order and the concurrency of requests with
 *   host.lock     held while a pomove process has the host open
 *   pomove/       where pomove keeps the state of a move by default
 *
 * Service configuration lives in the registry, as on Windows: a service is
 * a key under Services with a Type value; ImagePath, Start and
 * DependOnService are read from it. Starting a service checks the ImagePath
 * file exists (the SCM's ERROR_FILE_NOT_FOUND) and its dependencies run,
 * then spawns a small shell process (service_script) that keeps files of
 * its postoffice open and rewrites one every touch_ms, so that a copy made
 * while the service runs sees its source change. That process ends by
 * itself when its line in services.txt goes away or DIR disappears, so a
 * test cannot leave it behind for long; stop and pm_sim_kill_all() signal
 * it. Error codes are the Win32 ones, through pm_oserr_set(). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileutil.h"
#include "host.h"
#include "util.h"

#define SERVICES_KEY "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services"

/* Win32 error numbers the simulator reports. */
enum {
  W_FILE_NOT_FOUND = 2,
  W_PATH_NOT_FOUND = 3,
  W_INVALID_PARAMETER = 87,
  W_DEPENDENT_SERVICES_RUNNING = 1051,
  W_SERVICE_REQUEST_TIMEOUT = 1053,
  W_SERVICE_ALREADY_RUNNING = 1056,
  W_SERVICE_DOES_NOT_EXIST = 1060,
  W_SERVICE_NOT_ACTIVE = 1062,
  W_SERVICE_DEPENDENCY_FAIL = 1068,
  W_INVALID_SECURITY_DESCR = 1338,
  W_NERR_DUPLICATE_SHARE = 2118,
  W_NERR_NET_NAME_NOT_FOUND = 2310
};

static int werr(int pmerr, int win) {
  pm_oserr_set(win);
  return pmerr;
}

/* ---- host.ini ---- */

typedef struct ini_ent {
  char *section, *key, *value;
} ini_ent;

typedef struct ini {
  ini_ent *e;
  size_t n, cap;
} ini;

static void ini_free(ini *f) {
  for (size_t i = 0; i < f->n; i++) {
    free(f->e[i].section);
    free(f->e[i].key);
    free(f->e[i].value);
  }
  free(f->e);
  memset(f, 0, sizeof *f);
}

static void ini_add(ini *f, const char *sec, const char *key,
                    const char *val) {
  if (f->n == f->cap) {
    f->cap = f->cap ? f->cap * 2 : 32;
    f->e = pm_xrealloc(f->e, f->cap * sizeof *f->e);
  }
  f->e[f->n].section = pm_xstrdup(sec);
  f->e[f->n].key = pm_xstrdup(key);
  f->e[f->n].value = pm_xstrdup(val);
  f->n++;
}

static const char *ini_get(const ini *f, const char *sec, const char *key) {
  for (size_t i = 0; i < f->n; i++)
    if (!pm_wstrcasecmp(f->e[i].section, sec) &&
        !pm_wstrcasecmp(f->e[i].key, key))
      return f->e[i].value;
  return NULL;
}

/* The simulator's text files are read whole, never through a symlink,
 * and every byte is accounted for: a NUL byte or a last line without its
 * newline (a truncated file) is a format error naming the file and line,
 * left for pm_host_open_detail(). Lines are then taken with next_line. */
static int read_text(const char *path, char **out) {
  *out = NULL;
  char *b;
  size_t got;
  int rc = pm_file_read(pm_fs_native(), path, (size_t)64 << 20, &b, &got);
  if (rc == PM_ENOENT) return werr(PM_ENOENT, W_FILE_NOT_FOUND);
  if (rc < 0) {
    int oserr = pm_oserr_last();
    pm__host_open_detail_set("%s: %s", path, pm_strerror(rc));
    return werr(rc, oserr);
  }
  unsigned long ln = 1;
  for (size_t i = 0; rc == 0 && i < got; i++) {
    if (!b[i]) {
      pm__host_open_detail_set("%s line %lu: NUL byte", path, ln);
      rc = werr(PM_EFORMAT, 0);
    }
    ln += b[i] == '\n';
  }
  if (rc == 0 && got && b[got - 1] != '\n') {
    pm__host_open_detail_set("%s line %lu: the file ends inside a line (no "
                             "line end: truncated?)", path, ln);
    rc = werr(PM_EFORMAT, 0);
  }
  if (rc < 0) {
    free(b);
    return rc;
  }
  b[got] = '\0';
  *out = b;
  return 0;
}

/* The next line of a text from read_text (its newline and a CR before it
 * removed), or NULL at the end. */
static char *next_line(char **cur) {
  char *l = *cur;
  if (!*l) return NULL;
  char *nl = strchr(l, '\n');
  *nl = '\0';
  *cur = nl + 1;
  if (nl > l && nl[-1] == '\r') nl[-1] = '\0';
  return l;
}

static int bad_line(const char *path, unsigned long ln, const char *what) {
  pm__host_open_detail_set("%s line %lu: %s", path, ln, what);
  return werr(PM_EFORMAT, 0);
}

static int ini_load(const char *path, ini *f) {
  memset(f, 0, sizeof *f);
  char *text, *cur;
  PM_TRY(read_text(path, &text));
  cur = text;
  char *sec = pm_xstrdup("");
  char *line;
  unsigned long ln = 0;
  int rc = 0;
  while (rc == 0 && (line = next_line(&cur)) != NULL) {
    ln++;
    if (!line[0] || line[0] == ';' || line[0] == '#') continue;
    size_t l = strlen(line);
    if (line[0] == '[') {
      if (line[l - 1] != ']') {
        rc = bad_line(path, ln, "']' missing at the end of the section");
        break;
      }
      line[l - 1] = '\0';
      free(sec);
      sec = pm_xstrdup(line + 1);
      continue;
    }
    char *eq = strchr(line, '=');
    if (!eq) {
      rc = bad_line(path, ln, "neither [section] nor key=value");
      break;
    }
    *eq = '\0';
    ini_add(f, sec, line, eq + 1);
  }
  free(sec);
  free(text);
  if (rc < 0) ini_free(f);
  return rc;
}

/* The simulator's files are replaced whole by a rename; they are not
 * synced, since the simulated machine never loses power. */
static int write_atomic(const char *path, const char *data, size_t len) {
  return pm_file_write_atomic(pm_fs_native(), path, data, len, 0644, 0);
}

static int ini_save(const char *path, const ini *f) {
  char *buf = pm_xstrdup("; pomove simulated Windows host\n");
  const char *cur = NULL;
  for (size_t i = 0; i < f->n; i++) {
    char *next;
    if (!cur || strcmp(cur, f->e[i].section)) {
      cur = f->e[i].section;
      next = pm_xasprintf("%s\n[%s]\n", buf, cur);
      free(buf);
      buf = next;
    }
    next = pm_xasprintf("%s%s=%s\n", buf, f->e[i].key, f->e[i].value);
    free(buf);
    buf = next;
  }
  int rc = write_atomic(path, buf, strlen(buf));
  free(buf);
  return rc;
}

/* Sets (or with an empty value removes) a key, keeping sections together. */
static void ini_set(ini *f, const char *sec, const char *key,
                    const char *val) {
  for (size_t i = 0; i < f->n; i++) {
    if (!pm_wstrcasecmp(f->e[i].section, sec) &&
        !pm_wstrcasecmp(f->e[i].key, key)) {
      free(f->e[i].value);
      if (*val) {
        f->e[i].value = pm_xstrdup(val);
      } else {
        free(f->e[i].section);
        free(f->e[i].key);
        memmove(&f->e[i], &f->e[i + 1], (f->n - i - 1) * sizeof *f->e);
        f->n--;
      }
      return;
    }
  }
  if (!*val) return;
  size_t last = f->n;
  for (size_t i = 0; i < f->n; i++)
    if (!pm_wstrcasecmp(f->e[i].section, sec)) last = i + 1;
  ini_add(f, sec, key, val);
  if (last < f->n - 1) {
    ini_ent e = f->e[f->n - 1];
    memmove(&f->e[last + 1], &f->e[last], (f->n - 1 - last) * sizeof e);
    f->e[last] = e;
  }
}

/* ---- the context ---- */

typedef struct svc_run {
  char *name;
  int stopping; /* 0 running, 1 stop requested */
  long pid;     /* 0: no simulated process */
  uint64_t t_ns; /* running: start completes; stopping: stop completes */
} svc_run;

typedef struct sim {
  char *dir;
  int lock_fd;
  ini cfg;
  pm_regtree *reg;
  pm_share_info *shares;
  size_t nshares;
  svc_run *run;
  size_t nrun;
} sim;

static char *sim_path(const sim *s, const char *name) {
  return pm_xasprintf("%s/%s", s->dir, name);
}

static unsigned cfg_uint(const sim *s, const char *svc, const char *key,
                         unsigned def) {
  char sec[PM_HOST_NAME_MAX + 16];
  snprintf(sec, sizeof sec, "service %s", svc);
  const char *v = ini_get(&s->cfg, sec, key);
  if (!v) v = ini_get(&s->cfg, "host", key);
  return v ? (unsigned)strtoul(v, NULL, 10) : def;
}

static const char *cfg_str(const sim *s, const char *svc, const char *key) {
  char sec[PM_HOST_NAME_MAX + 16];
  snprintf(sec, sizeof sec, "service %s", svc);
  return ini_get(&s->cfg, sec, key);
}

/* Text fields of shares.txt and services.txt are %-escaped. */
static void esc(char *out, size_t cap, const char *in) {
  size_t n = 0;
  for (; *in && n + 4 < cap; in++) {
    unsigned char c = (unsigned char)*in;
    if (c == '%' || c == '\t' || c == '\n' || c == '\r')
      n += (size_t)snprintf(out + n, cap - n, "%%%02X", c);
    else
      out[n++] = (char)c;
  }
  out[n] = '\0';
}

static int hexdig(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                : -1;
}

/* Undoes esc(); false when a '%' is not followed by two hex digits or
 * stands for a NUL, or a raw tab is left (the field would not be one). */
static bool unesc(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (*s == '%') {
      int hi = hexdig(s[1]), lo = hi < 0 ? -1 : hexdig(s[2]);
      if (lo < 0 || (hi == 0 && lo == 0)) return false;
      *o++ = (char)(hi * 16 + lo);
      s += 2;
    } else if (*s == '\t') {
      return false;
    } else {
      *o++ = *s;
    }
  }
  *o = '\0';
  return true;
}

/* A decimal number filling the whole field. */
static bool num_field(const char *s, unsigned long long max,
                      unsigned long long *out) {
  if (!*s) return false;
  unsigned long long v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    unsigned d = (unsigned)(*s - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

/* Copies a field into a fixed one; false when it does not fit. */
static bool fit(char *dst, size_t cap, const char *src) {
  size_t l = strlen(src);
  if (l >= cap) return false;
  memcpy(dst, src, l + 1);
  return true;
}

static int split_tabs(char *line, char **f, int max) {
  int n = 0;
  f[n++] = line;
  for (char *p = line; *p && n < max; p++)
    if (*p == '\t') {
      *p = '\0';
      f[n++] = p + 1;
    }
  return n;
}

static int load_shares(sim *s) {
  char *path = sim_path(s, "shares.txt");
  s->nshares = 0;
  char *text, *cur, *line;
  int rc = read_text(path, &text);
  if (rc == PM_ENOENT) rc = 0, text = NULL;
  unsigned long ln = 0;
  cur = text;
  while (rc == 0 && text && (line = next_line(&cur)) != NULL) {
    ln++;
    char *f[6];
    bool ok = split_tabs(line, f, 6) == 6;
    for (int i = 0; ok && i < 6; i++) ok = unesc(f[i]);
    pm_share_info sh;
    memset(&sh, 0, sizeof sh);
    unsigned long long ty, mu;
    ok = ok && num_field(f[1], 0xFFFFFFFFu, &ty) &&
         num_field(f[2], 0xFFFFFFFFu, &mu) &&
         fit(sh.name, sizeof sh.name, f[0]) && sh.name[0] &&
         fit(sh.path, sizeof sh.path, f[3]) &&
         fit(sh.remark, sizeof sh.remark, f[4]) &&
         fit(sh.sddl, sizeof sh.sddl, f[5]);
    if (!ok) {
      rc = bad_line(path, ln, "not a share (name, type, max uses, path, "
                              "remark, SDDL; tab-separated, %-escaped)");
      break;
    }
    sh.type = (uint32_t)ty;
    sh.max_uses = (uint32_t)mu;
    s->shares = pm_xrealloc(s->shares, (s->nshares + 1) * sizeof *s->shares);
    s->shares[s->nshares++] = sh;
  }
  free(text);
  free(path);
  return rc;
}

static int cmp_share(const void *a, const void *b) {
  return pm_wstrcasecmp(((const pm_share_info *)a)->name,
                        ((const pm_share_info *)b)->name);
}

static int save_shares(sim *s) {
  /* Sorted by name, so removing and re-adding a share gives the same
   * bytes. */
  qsort(s->shares, s->nshares, sizeof *s->shares, cmp_share);
  size_t cap = 256 + s->nshares * 8192, n = 0;
  char *buf = pm_xmalloc(cap);
  buf[0] = '\0';
  for (size_t i = 0; i < s->nshares; i++) {
    const pm_share_info *sh = &s->shares[i];
    char a[PM_HOST_NAME_MAX * 4], p[PM_HOST_PATH_MAX * 4],
        r[PM_HOST_NAME_MAX * 4], d[PM_HOST_TEXT_MAX * 4];
    esc(a, sizeof a, sh->name);
    esc(p, sizeof p, sh->path);
    esc(r, sizeof r, sh->remark);
    esc(d, sizeof d, sh->sddl);
    n += (size_t)snprintf(buf + n, cap - n, "%s\t%u\t%u\t%s\t%s\t%s\n", a,
                          sh->type, sh->max_uses, p, r, d);
  }
  char *path = sim_path(s, "shares.txt");
  int rc = write_atomic(path, buf, n);
  free(path);
  free(buf);
  return rc;
}

static void free_run(sim *s) {
  for (size_t i = 0; i < s->nrun; i++) free(s->run[i].name);
  free(s->run);
  s->run = NULL;
  s->nrun = 0;
}

/* services.txt; a missing file is no service running. On a format error
 * the lines read before it are in *out. */
static int load_run_file(const char *path, svc_run **out, size_t *nout) {
  *out = NULL;
  *nout = 0;
  char *text, *cur, *line;
  int rc = read_text(path, &text);
  if (rc == PM_ENOENT) return 0;
  unsigned long ln = 0;
  cur = text;
  while (rc == 0 && (line = next_line(&cur)) != NULL) {
    ln++;
    char *f[4];
    unsigned long long pid, t;
    bool ok = split_tabs(line, f, 4) == 4 && unesc(f[0]) && f[0][0] &&
              (!strcmp(f[1], "running") || !strcmp(f[1], "stopping")) &&
              num_field(f[2], 0x7FFFFFFF, &pid) &&
              num_field(f[3], ~0ull, &t);
    if (!ok) {
      rc = bad_line(path, ln, "not a service state (name, running or "
                              "stopping, pid, time; tab-separated)");
      break;
    }
    *out = pm_xrealloc(*out, (*nout + 1) * sizeof **out);
    svc_run *r = &(*out)[(*nout)++];
    r->name = pm_xstrdup(f[0]);
    r->stopping = !strcmp(f[1], "stopping");
    r->pid = (long)pid;
    r->t_ns = t;
  }
  free(text);
  return rc;
}

static int save_run(sim *s) {
  size_t cap = 64 + s->nrun * 1200, n = 0;
  char *buf = pm_xmalloc(cap);
  buf[0] = '\0';
  for (size_t i = 0; i < s->nrun; i++) {
    char a[PM_HOST_NAME_MAX * 4];
    esc(a, sizeof a, s->run[i].name);
    n += (size_t)snprintf(buf + n, cap - n, "%s\t%s\t%ld\t%llu\n", a,
                          s->run[i].stopping ? "stopping" : "running",
                          s->run[i].pid,
                          (unsigned long long)s->run[i].t_ns);
  }
  char *path = sim_path(s, "services.txt");
  int rc = write_atomic(path, buf, n);
  free(path);
  free(buf);
  return rc;
}

static svc_run *find_run(sim *s, const char *name) {
  for (size_t i = 0; i < s->nrun; i++)
    if (!pm_wstrcasecmp(s->run[i].name, name)) return &s->run[i];
  return NULL;
}

static void drop_run(sim *s, svc_run *r) {
  size_t i = (size_t)(r - s->run);
  free(r->name);
  memmove(&s->run[i], &s->run[i + 1], (s->nrun - i - 1) * sizeof *r);
  s->nrun--;
}

/* True while the process exists and is not a zombie. */
static bool alive(long pid) {
  if (pid <= 0) return false;
  if (kill((pid_t)pid, 0) != 0) return false;
  char p[64], buf[512];
  snprintf(p, sizeof p, "/proc/%ld/stat", pid);
  FILE *fp = fopen(p, "r");
  if (!fp) return true;
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  fclose(fp);
  buf[n] = '\0';
  char *rp = strrchr(buf, ')');
  return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

static void end_process(long pid) {
  if (pid <= 0) return;
  if (alive(pid)) {
    kill((pid_t)-pid, SIGKILL); /* the group: the script and its sleep */
    kill((pid_t)pid, SIGKILL);
  }
  /* Reap it when it is this process's child (ECHILD otherwise), so a
   * long-running test collects no zombies. */
  int st;
  waitpid((pid_t)pid, &st, 0);
}

/* Completes stops whose time has come and forgets services whose process
 * died, as the SCM would notice. Saves when anything changed. */
static int refresh(sim *s) {
  uint64_t now = pm_now_ns();
  bool changed = false;
  for (size_t i = 0; i < s->nrun;) {
    svc_run *r = &s->run[i];
    bool gone = (r->stopping && r->t_ns <= now) ||
                (r->pid > 0 && !alive(r->pid));
    if (gone) {
      end_process(r->pid);
      drop_run(s, r);
      changed = true;
    } else {
      i++;
    }
  }
  return changed ? save_run(s) : 0;
}

static int save_reg(sim *s) {
  char *path = sim_path(s, "registry.reg");
  uint8_t *data;
  size_t len;
  pm_regtree_format(s->reg, &data, &len);
  int rc = write_atomic(path, (const char *)data, len);
  free(data);
  free(path);
  return rc;
}

/* ---- volumes ---- */

static char drive_of(const char *winpath) {
  if (!winpath[0] || winpath[1] != ':') return 0;
  char c = winpath[0];
  if (c >= 'a' && c <= 'z') c = (char)(c - 32);
  return c >= 'A' && c <= 'Z' ? c : 0;
}

static const char *drive_cfg(const sim *s, char letter, const char *key) {
  char sec[16];
  snprintf(sec, sizeof sec, "drive %c", letter);
  return ini_get(&s->cfg, sec, key);
}

static int vol_native(pm_host *h, const char *winpath, char *buf,
                      size_t cap) {
  sim *s = h->ctx;
  char d = drive_of(winpath);
  if (!d || !drive_cfg(s, d, "fs")) return werr(PM_ENOENT, W_PATH_NOT_FOUND);
  char *cur = pm_xasprintf("%s/drives/%c", s->dir, d);
  const char *p = winpath + 2;
  bool exists = true;
  while (*p) {
    while (*p == '\\' || *p == '/') p++;
    if (!*p) break;
    size_t cl = strcspn(p, "\\/");
    char *comp = pm_xmalloc(cl + 1);
    memcpy(comp, p, cl);
    comp[cl] = '\0';
    p += cl;
    if (!strcmp(comp, ".") ) {
      free(comp);
      continue;
    }
    if (!strcmp(comp, "..")) {
      free(comp);
      free(cur);
      return werr(PM_EINVAL, W_INVALID_PARAMETER);
    }
    /* Windows names are case-insensitive: take the existing spelling. */
    char *match = NULL;
    pm_dir *dir;
    if (exists && pm_fs_opendir(h->fs, cur, &dir) == 0) {
      pm_dirent ent;
      while (pm_fs_readdir(h->fs, dir, &ent) > 0) {
        if (!strcmp(ent.name, comp)) {
          free(match);
          match = pm_xstrdup(ent.name);
          break;
        }
        if (!match && !pm_wstrcasecmp(ent.name, comp))
          match = pm_xstrdup(ent.name);
      }
      pm_fs_closedir(h->fs, dir);
    }
    if (!match) exists = false;
    char *next = pm_path_join(cur, match ? match : comp);
    free(match);
    free(comp);
    free(cur);
    cur = next;
  }
  int rc = 0;
  if (strlen(cur) + 1 > cap)
    rc = werr(PM_ENAMETOOLONG, 206);
  else
    memcpy(buf, cur, strlen(cur) + 1);
  free(cur);
  return rc;
}

static int vol_info(pm_host *h, const char *winpath, pm_vol_info *out) {
  sim *s = h->ctx;
  memset(out, 0, sizeof *out);
  char d = drive_of(winpath);
  const char *fs = d ? drive_cfg(s, d, "fs") : NULL;
  if (!fs) return werr(PM_ENOENT, W_PATH_NOT_FOUND);
  snprintf(out->fs_type, sizeof out->fs_type, "%s", fs);
  char *root = pm_xasprintf("%s/drives/%c", s->dir, d);
  pm_fsinfo fi;
  int rc = pm_fs_fsinfo(h->fs, root, &fi);
  free(root);
  if (rc < 0) return rc;
  out->total_bytes = fi.total_bytes;
  out->free_bytes = fi.free_bytes;
  const char *decl = drive_cfg(s, d, "free");
  if (decl && strtoull(decl, NULL, 10) > 0) {
    out->free_bytes = strtoull(decl, NULL, 10);
    if (out->total_bytes < out->free_bytes) out->total_bytes = out->free_bytes;
  }
  return 0;
}

/* ---- registry ---- */

static int reg_subkeys(pm_host *h, const char *key, pm_strlist *out) {
  sim *s = h->ctx;
  int rc = pm_regtree_subkeys(s->reg, key, out);
  return rc < 0 ? werr(rc, W_FILE_NOT_FOUND) : rc;
}

static int reg_values(pm_host *h, const char *key, pm_strlist *out) {
  sim *s = h->ctx;
  int rc = pm_regtree_values(s->reg, key, out);
  return rc < 0 ? werr(rc, W_FILE_NOT_FOUND) : rc;
}

static int reg_get(pm_host *h, const char *key, const char *name,
                   pm_reg_value *out) {
  sim *s = h->ctx;
  int rc = pm_regtree_get(s->reg, key, name, out);
  return rc < 0 ? werr(rc, W_FILE_NOT_FOUND) : rc;
}

static int reg_set(pm_host *h, const char *key, const char *name,
                   const pm_reg_value *v) {
  sim *s = h->ctx;
  if (!pm_regtree_has_key(s->reg, key)) return werr(PM_ENOENT, W_FILE_NOT_FOUND);
  /* A name the registry file cannot carry is refused, not written as
   * something else. */
  if (pm_regtree_set(s->reg, key, name, v) < 0)
    return werr(PM_EINVAL, W_INVALID_PARAMETER);
  return save_reg(s);
}

static int reg_del(pm_host *h, const char *key, const char *name) {
  sim *s = h->ctx;
  int rc = pm_regtree_del(s->reg, key, name);
  if (rc < 0) return werr(rc, W_FILE_NOT_FOUND);
  return save_reg(s);
}

/* ---- shares ---- */

static pm_share_info *find_share(sim *s, const char *name) {
  for (size_t i = 0; i < s->nshares; i++)
    if (!pm_wstrcasecmp(s->shares[i].name, name)) return &s->shares[i];
  return NULL;
}

static int share_list(pm_host *h, pm_strlist *names) {
  sim *s = h->ctx;
  for (size_t i = 0; i < s->nshares; i++)
    pm_strlist_add(names, s->shares[i].name);
  return 0;
}

static int share_get(pm_host *h, const char *name, pm_share_info *out) {
  sim *s = h->ctx;
  pm_share_info *sh = find_share(s, name);
  if (!sh) return werr(PM_ENOENT, W_NERR_NET_NAME_NOT_FOUND);
  *out = *sh;
  return 0;
}

static int share_add(pm_host *h, const pm_share_info *in) {
  sim *s = h->ctx;
  if (!in->name[0]) return werr(PM_EINVAL, W_INVALID_PARAMETER);
  if (find_share(s, in->name))
    return werr(PM_EEXIST, W_NERR_DUPLICATE_SHARE);
  /* NetShareAdd checks the security descriptor and the folder. */
  if (in->sddl[0] && strncmp(in->sddl, "O:", 2) && strncmp(in->sddl, "D:", 2))
    return werr(PM_EINVAL, W_INVALID_SECURITY_DESCR);
  char native[PM_HOST_PATH_MAX * 4];
  PM_TRY(vol_native(h, in->path, native, sizeof native));
  pm_stat st;
  if (pm_fs_stat(h->fs, native, true, &st) < 0 || st.type != PM_T_DIR)
    return werr(PM_ENOENT, W_PATH_NOT_FOUND);
  s->shares = pm_xrealloc(s->shares, (s->nshares + 1) * sizeof *s->shares);
  s->shares[s->nshares++] = *in;
  return save_shares(s);
}

static int share_del(pm_host *h, const char *name) {
  sim *s = h->ctx;
  pm_share_info *sh = find_share(s, name);
  if (!sh) return werr(PM_ENOENT, W_NERR_NET_NAME_NOT_FOUND);
  size_t i = (size_t)(sh - s->shares);
  memmove(&s->shares[i], &s->shares[i + 1],
          (s->nshares - i - 1) * sizeof *sh);
  s->nshares--;
  return save_shares(s);
}

/* ---- services ---- */

/* One line of services.log: request time, "stop" / "start" /
 * "stop-refused" / "start-refused", the service, when it completes (0:
 * never, or refused), and for a refusal the service that caused it (a
 * dependent still active, a dependency not running). Appended, one
 * write(2) each, so that several processes' lines do not mix. */
static int log_request(sim *s, const char *event, const char *name,
                       uint64_t done, const char *other) {
  char a[PM_HOST_NAME_MAX * 4], b[PM_HOST_NAME_MAX * 4];
  esc(a, sizeof a, name);
  esc(b, sizeof b, other ? other : "");
  char *line = pm_xasprintf("%llu\t%s\t%s\t%llu\t%s\n",
                            (unsigned long long)pm_now_ns(), event, a,
                            (unsigned long long)done, b);
  char *path = sim_path(s, "services.log");
  int rc = 0;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  size_t len = strlen(line);
  if (fd < 0 || write(fd, line, len) != (ssize_t)len)
    rc = werr(PM_EIO, errno);
  if (fd >= 0) close(fd);
  free(path);
  free(line);
  return rc;
}

static char *svc_key(const char *name) {
  return pm_xasprintf("%s\\%s", SERVICES_KEY, name);
}

static bool is_service(sim *s, const char *name) {
  char *k = svc_key(name);
  pm_reg_value v = {0};
  bool yes = pm_regtree_get(s->reg, k, "Type", &v) == 0;
  pm_reg_value_free(&v);
  free(k);
  return yes;
}

static uint32_t reg_dword(sim *s, const char *key, const char *name) {
  pm_reg_value v = {0};
  uint32_t d = 0;
  if (pm_regtree_get(s->reg, key, name, &v) == 0 && v.len == 4)
    d = (uint32_t)v.data[0] | (uint32_t)v.data[1] << 8 |
        (uint32_t)v.data[2] << 16 | (uint32_t)v.data[3] << 24;
  pm_reg_value_free(&v);
  return d;
}

static int svc_list(pm_host *h, pm_strlist *names) {
  sim *s = h->ctx;
  pm_strlist keys = {0};
  pm_regtree_subkeys(s->reg, SERVICES_KEY, &keys);
  for (size_t i = 0; i < keys.n; i++)
    if (is_service(s, keys.v[i])) pm_strlist_add(names, keys.v[i]);
  pm_strlist_free(&keys);
  return 0;
}

static pm_svc_state state_of(sim *s, const char *name, long *pid) {
  svc_run *r = find_run(s, name);
  *pid = r ? r->pid : 0;
  if (!r) return PM_SVC_STOPPED;
  if (r->stopping) return PM_SVC_STOP_PENDING;
  return r->t_ns > pm_now_ns() ? PM_SVC_START_PENDING : PM_SVC_RUNNING;
}

static int svc_query(pm_host *h, const char *name, pm_svc_info *out) {
  sim *s = h->ctx;
  memset(out, 0, sizeof *out);
  if (!is_service(s, name)) return werr(PM_ENOENT, W_SERVICE_DOES_NOT_EXIST);
  PM_TRY(refresh(s));
  char *k = svc_key(name);
  /* The registry's spelling of the name, as the SCM returns it. */
  pm_strlist keys = {0};
  pm_regtree_subkeys(s->reg, SERVICES_KEY, &keys);
  snprintf(out->name, sizeof out->name, "%s", name);
  for (size_t i = 0; i < keys.n; i++)
    if (!pm_wstrcasecmp(keys.v[i], name))
      snprintf(out->name, sizeof out->name, "%s", keys.v[i]);
  pm_strlist_free(&keys);
  pm_reg_value v = {0};
  if (pm_regtree_get(s->reg, k, "ImagePath", &v) == 0) {
    char *str = pm_reg_value_str(&v);
    if (str) snprintf(out->image_path, sizeof out->image_path, "%s", str);
    free(str);
  }
  pm_reg_value_free(&v);
  out->type = reg_dword(s, k, "Type");
  out->start_type = reg_dword(s, k, "Start");
  if (pm_regtree_get(s->reg, k, "DependOnService", &v) == 0) {
    pm_strlist deps = {0};
    pm_reg_value_multi(&v, &deps);
    size_t n = 0;
    for (size_t i = 0; i < deps.n; i++) {
      size_t l = strlen(deps.v[i]);
      if (n + l + 2 > sizeof out->deps) break;
      memcpy(out->deps + n, deps.v[i], l + 1);
      n += l + 1;
    }
    out->deps[n] = '\0';
    pm_strlist_free(&deps);
  }
  pm_reg_value_free(&v);
  free(k);
  long pid;
  out->state = state_of(s, out->name, &pid);
  out->pid = (uint32_t)(pid > 0 ? pid : 0);
  return 0;
}

static bool depends_on(const pm_svc_info *si, const char *name) {
  for (const char *d = si->deps; *d; d += strlen(d) + 1)
    if (!pm_wstrcasecmp(d, name)) return true;
  return false;
}

static int svc_stop(pm_host *h, const char *name) {
  sim *s = h->ctx;
  pm_svc_info si;
  PM_TRY(svc_query(h, name, &si));
  if (si.state == PM_SVC_STOPPED)
    return werr(PM_ESTATE, W_SERVICE_NOT_ACTIVE);
  if (si.state == PM_SVC_STOP_PENDING) return 0;
  /* The SCM refuses to stop a service that running services depend on. */
  pm_strlist all = {0};
  svc_list(h, &all);
  int rc = 0;
  for (size_t i = 0; i < all.n && !rc; i++) {
    pm_svc_info o;
    if (svc_query(h, all.v[i], &o) == 0 && o.state != PM_SVC_STOPPED &&
        depends_on(&o, si.name)) {
      PM_TRY(log_request(s, "stop-refused", si.name, 0, o.name));
      rc = werr(PM_EBUSY, W_DEPENDENT_SERVICES_RUNNING);
    }
  }
  pm_strlist_free(&all);
  if (rc) return rc;
  const char *mode = cfg_str(s, si.name, "stop");
  if (mode && !strcmp(mode, "ignore")) /* it never stops */
    return log_request(s, "stop", si.name, 0, NULL);
  svc_run *r = find_run(s, si.name);
  r->stopping = 1;
  r->t_ns = pm_now_ns() +
            (uint64_t)cfg_uint(s, si.name, "stop_delay_ms", 0) * 1000000u;
  PM_TRY(log_request(s, "stop", si.name, r->t_ns, NULL));
  PM_TRY(save_run(s));
  return refresh(s);
}

/* The file an ImagePath runs: quotes and arguments dropped,
 * %SystemRoot% expanded. */
static void image_file(const sim *s, const char *image, char *out,
                       size_t cap) {
  char tmp[PM_HOST_PATH_MAX];
  if (image[0] == '"') {
    const char *end = strchr(image + 1, '"');
    size_t l = end ? (size_t)(end - image - 1) : strlen(image + 1);
    snprintf(tmp, sizeof tmp, "%.*s", (int)l, image + 1);
  } else {
    snprintf(tmp, sizeof tmp, "%s", image);
    /* An unquoted path ends at the first blank after ".exe". */
    char *dot = NULL;
    for (char *p = tmp; *p; p++)
      if (pm_wprefix(p, ".exe") && (p[4] == ' ' || !p[4])) dot = p;
    if (dot) dot[4] = '\0';
  }
  const char *root = ini_get(&s->cfg, "host", "systemroot");
  if (pm_wprefix(tmp, "%SystemRoot%"))
    snprintf(out, cap, "%s%s", root ? root : "C:\\WINNT", tmp + 12);
  else
    snprintf(out, cap, "%s", tmp);
}

/* The body of a running simulated service, a small POSIX shell script (so
 * that starting one is a cheap posix_spawn, not a fork of pomove or of a
 * test with its sanitizer heap): it keeps the program file and a global
 * file of its postoffice open, and every tick rewrites the first byte of
 * GLB\CONTROL.GLB with itself, so the data stays and the modification time
 * moves, as a live postoffice's would. It ends by itself when its line in
 * services.txt is gone (stopped, or killed and noticed), when the host
 * folder disappears, or after a maximum life, so no test can leave it
 * behind for long. */
static const char service_script[] =
    "dir=$1 name=$2 exe=$3 tick=$4 max=$5\n"
    "exec 3<\"$exe\"\n"
    "glb=${exe%/*}; glb=${glb%/*}/Maildata/GLB\n"
    "exec 4<\"$glb/MASTER.GLB\" 2>/dev/null\n"
    "me=$$ n=0 seen=0\n"
    "while [ $n -lt \"$max\" ]; do\n"
    "  sleep \"$tick\"\n"
    "  [ -d \"$dir\" ] || exit 0\n"
    "  if grep -qF \"$name\trunning\t$me\t\" \"$dir/services.txt\" ||\n"
    "     grep -qF \"$name\tstopping\t$me\t\" \"$dir/services.txt\"; then\n"
    "    seen=1\n"
    "  elif [ $seen = 1 ] || [ $n -gt 50 ]; then exit 0; fi\n"
    "  dd if=\"$glb/CONTROL.GLB\" of=\"$glb/CONTROL.GLB\" bs=1 count=1 \\\n"
    "    conv=notrunc 2>/dev/null\n"
    "  n=$((n+1))\n"
    "done\n";

static int spawn_service(sim *s, const char *name, const char *exe_native,
                         long *pid_out) {
  unsigned touch = cfg_uint(s, name, "touch_ms", 200);
  if (touch < 10) touch = 10;
  const char *life = getenv("POMOVE_SIM_MAX_LIFE_S");
  unsigned long max_ticks =
      (life ? strtoul(life, NULL, 10) : 3600) * 1000ul / touch + 1;
  char tick[32], max[32];
  snprintf(tick, sizeof tick, "%u.%03u", touch / 1000, touch % 1000);
  snprintf(max, sizeof max, "%lu", max_ticks);
  char *argv[] = {"/bin/sh", "-c",    (char *)service_script,
                  "pomove-simsvc", s->dir, (char *)name,
                  (char *)exe_native, tick, max, NULL};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_init(&at);
  /* Its own session: pomove's terminal signals do not reach it, and the
   * whole group (the script and its sleep) is signalled at once. */
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
  pid_t pid;
  extern char **environ;
  int e = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (e != 0) return werr(PM_EAGAIN, e);
  *pid_out = pid;
  return 0;
}

static int svc_start(pm_host *h, const char *name) {
  sim *s = h->ctx;
  pm_svc_info si;
  PM_TRY(svc_query(h, name, &si));
  if (si.state != PM_SVC_STOPPED)
    return werr(PM_ESTATE, W_SERVICE_ALREADY_RUNNING);
  for (const char *d = si.deps; *d; d += strlen(d) + 1) {
    pm_svc_info dep;
    if (svc_query(h, d, &dep) < 0 || dep.state != PM_SVC_RUNNING) {
      PM_TRY(log_request(s, "start-refused", si.name, 0, d));
      return werr(PM_ESTATE, W_SERVICE_DEPENDENCY_FAIL);
    }
  }
  char file[PM_HOST_PATH_MAX], native[PM_HOST_PATH_MAX * 4];
  image_file(s, si.image_path, file, sizeof file);
  pm_stat st;
  if (vol_native(h, file, native, sizeof native) < 0 ||
      pm_fs_stat(h->fs, native, true, &st) < 0 || st.type != PM_T_FILE)
    return werr(PM_ENOENT, W_FILE_NOT_FOUND);
  const char *mode = cfg_str(s, si.name, "start");
  if (mode && !strcmp(mode, "fail"))
    return werr(PM_EIO, W_SERVICE_REQUEST_TIMEOUT);
  long pid = 0;
  PM_TRY(spawn_service(s, si.name, native, &pid));
  s->run = pm_xrealloc(s->run, (s->nrun + 1) * sizeof *s->run);
  svc_run *r = &s->run[s->nrun++];
  r->name = pm_xstrdup(si.name);
  r->stopping = 0;
  r->pid = pid;
  r->t_ns = pm_now_ns() +
            (uint64_t)cfg_uint(s, si.name, "start_delay_ms", 0) * 1000000u;
  PM_TRY(log_request(s, "start", si.name, r->t_ns, NULL));
  return save_run(s);
}

static int svc_wait(pm_host *h, const char *name, pm_svc_state want,
                    unsigned timeout_ms, pm_svc_state *seen) {
  uint64_t end = pm_now_ns() + (uint64_t)timeout_ms * 1000000u;
  for (;;) {
    pm_svc_info si;
    PM_TRY(svc_query(h, name, &si));
    if (seen) *seen = si.state;
    if (si.state == want) return 0;
    if (pm_now_ns() >= end) return werr(PM_ETIMEDOUT, 1460);
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

static int svc_set_image_path(pm_host *h, const char *name,
                              const char *path) {
  sim *s = h->ctx;
  if (!is_service(s, name)) return werr(PM_ENOENT, W_SERVICE_DOES_NOT_EXIST);
  char *k = svc_key(name);
  pm_reg_value v;
  pm_reg_value_set_str(&v, PM_REG_EXPAND_SZ, path);
  int src = pm_regtree_set(s->reg, k, "ImagePath", &v);
  pm_reg_value_free(&v);
  if (src < 0) return werr(PM_EINVAL, W_INVALID_PARAMETER);
  free(k);
  return save_reg(s);
}

static const pm_svc_ops sim_svc = {svc_list, svc_query, svc_stop,
                                   svc_start, svc_wait, svc_set_image_path};
static const pm_share_ops sim_share = {share_list, share_get, share_add,
                                       share_del};
static const pm_reg_ops sim_reg = {reg_subkeys, reg_values, reg_get, reg_set,
                                   reg_del};
static const pm_vol_ops sim_vol = {vol_info, vol_native};

/* ---- open / close ---- */

static void sim_free(sim *s) {
  if (s->lock_fd >= 0) close(s->lock_fd);
  ini_free(&s->cfg);
  pm_regtree_free(s->reg);
  free(s->shares);
  free_run(s);
  free(s->dir);
  free(s);
}

static void sim_close(pm_host *h) {
  sim_free(h->ctx);
  free(h);
}

static int sim_open(const char *arg, pm_host **out) {
  if (!arg[0]) return werr(PM_EINVAL, W_INVALID_PARAMETER);
  sim *s = pm_xcalloc(1, sizeof *s);
  s->lock_fd = -1;
  char real[4096];
  if (!realpath(arg, real)) {
    int e = errno;
    free(s);
    return werr(e == ENOENT ? PM_ENOENT : PM_EIO, e);
  }
  s->dir = pm_xstrdup(real);
  char *ini_path = sim_path(s, "host.ini");
  int rc = ini_load(ini_path, &s->cfg);
  free(ini_path);
  if (rc < 0) {
    sim_free(s);
    return rc;
  }
  /* One pomove at a time. A service process forked a moment ago may still
   * hold the lock descriptor until it closes it: retry briefly. */
  char *lock = sim_path(s, "host.lock");
  s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  free(lock);
  rc = s->lock_fd < 0 ? werr(PM_EIO, errno) : PM_EBUSY;
  for (int i = 0; i < 400 && rc == PM_EBUSY; i++) {
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0)
      rc = 0;
    else {
      struct timespec ts = {0, 5 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  if (rc == PM_EBUSY) pm_oserr_set(32); /* ERROR_SHARING_VIOLATION */
  if (rc == 0) {
    char *rp = sim_path(s, "registry.reg");
    char err[256];
    rc = pm_regtree_load(pm_fs_native(), rp, &s->reg, err, sizeof err);
    /* Nothing is written from a registry that was not read whole: the
     * host does not open, and says which line it could not read. */
    if (rc < 0)
      pm__host_open_detail_set("%s%s%s", rp, err[0] ? " " : ": ",
                               err[0] ? err : pm_strerror(rc));
    free(rp);
  }
  if (rc == 0) rc = load_shares(s);
  if (rc == 0) {
    char *sp = sim_path(s, "services.txt");
    rc = load_run_file(sp, &s->run, &s->nrun);
    free(sp);
    if (rc == 0) rc = refresh(s);
  }
  if (rc < 0) {
    sim_free(s);
    return rc;
  }
  pm_host *h = pm_xcalloc(1, sizeof *h);
  h->svc = &sim_svc;
  h->share = &sim_share;
  h->reg = &sim_reg;
  h->vol = &sim_vol;
  h->fs = pm_fs_native();
  h->ctx = s;
  h->close = sim_close;
  snprintf(h->state_dir, sizeof h->state_dir, "%s/pomove", s->dir);
  *out = h;
  return 0;
}

static const pm_host_backend sim_backend = {"sim", sim_open, false};
static const pm_host_backend *const backends[] = {&sim_backend, NULL};

const pm_host_backend *const *pm__host_backends(void) { return backends; }

const char *pm_host_known_specs(void) {
  return "sim:DIR, the simulated Windows host";
}

/* ---- creating a host ---- */

int pm_sim_init(const char *dir, const pm_sim_config *cfg) {
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) return werr(PM_EIO, errno);
  DIR *d = opendir(dir);
  if (!d) return werr(PM_EIO, errno);
  struct dirent *e;
  bool empty = true;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = false;
  closedir(d);
  if (!empty) return werr(PM_EEXIST, EEXIST);
  ini f = {0};
  char tmp[32];
  ini_add(&f, "host", "computer", "EXCH55");
  ini_add(&f, "host", "systemroot", "C:\\WINNT");
  snprintf(tmp, sizeof tmp, "%u", cfg->start_delay_ms);
  ini_add(&f, "host", "start_delay_ms", tmp);
  snprintf(tmp, sizeof tmp, "%u", cfg->stop_delay_ms);
  ini_add(&f, "host", "stop_delay_ms", tmp);
  snprintf(tmp, sizeof tmp, "%u", cfg->touch_ms);
  ini_add(&f, "host", "touch_ms", tmp);
  char *p = pm_xasprintf("%s/host.ini", dir);
  int rc = ini_save(p, &f);
  free(p);
  ini_free(&f);
  if (rc < 0) return rc;
  p = pm_xasprintf("%s/drives", dir);
  if (mkdir(p, 0755) != 0) rc = werr(PM_EIO, errno);
  free(p);
  if (rc < 0) return rc;
  pm_regtree *t = pm_regtree_new();
  p = pm_xasprintf("%s/registry.reg", dir);
  rc = pm_regtree_save(pm_fs_native(), p, t);
  free(p);
  pm_regtree_free(t);
  if (rc < 0) return rc;
  p = pm_xasprintf("%s/shares.txt", dir);
  rc = write_atomic(p, "", 0);
  free(p);
  if (rc < 0) return rc;
  p = pm_xasprintf("%s/services.txt", dir);
  rc = write_atomic(p, "", 0);
  free(p);
  return rc;
}

static int edit_ini(const char *dir, const char *sec, const char *key,
                    const char *val) {
  char *p = pm_xasprintf("%s/host.ini", dir);
  ini f;
  int rc = ini_load(p, &f);
  if (rc == 0) {
    ini_set(&f, sec, key, val);
    rc = ini_save(p, &f);
  }
  ini_free(&f);
  free(p);
  return rc;
}

int pm_sim_add_drive(const char *dir, char letter, const char *fs_type,
                     uint64_t free_bytes) {
  if (letter >= 'a' && letter <= 'z') letter = (char)(letter - 32);
  if (letter < 'A' || letter > 'Z') return werr(PM_EINVAL, W_INVALID_PARAMETER);
  char sec[16], tmp[32];
  snprintf(sec, sizeof sec, "drive %c", letter);
  PM_TRY(edit_ini(dir, sec, "fs", fs_type));
  snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)free_bytes);
  PM_TRY(edit_ini(dir, sec, "free", free_bytes ? tmp : ""));
  char *p = pm_xasprintf("%s/drives/%c", dir, letter);
  int rc = mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : werr(PM_EIO, errno);
  free(p);
  return rc;
}

int pm_sim_set_service_option(const char *dir, const char *service,
                              const char *key, const char *value) {
  char sec[PM_HOST_NAME_MAX + 16];
  snprintf(sec, sizeof sec, "service %s", service);
  return edit_ini(dir, sec, key, value);
}

int pm_sim_mark_running(pm_host *h, const char *service) {
  sim *s = h->ctx;
  if (!is_service(s, service))
    return werr(PM_ENOENT, W_SERVICE_DOES_NOT_EXIST);
  if (find_run(s, service)) return 0;
  s->run = pm_xrealloc(s->run, (s->nrun + 1) * sizeof *s->run);
  svc_run *r = &s->run[s->nrun++];
  r->name = pm_xstrdup(service);
  r->stopping = 0;
  r->pid = 0;
  r->t_ns = 0;
  return save_run(s);
}

int pm_sim_service_log(const char *dir, pm_sim_request **out, size_t *n) {
  *out = NULL;
  *n = 0;
  char *path = pm_xasprintf("%s/services.log", dir);
  char *text, *cur, *line;
  int rc = read_text(path, &text);
  if (rc == PM_ENOENT) {
    free(path);
    return 0;
  }
  unsigned long ln = 0;
  cur = text;
  while (rc == 0 && (line = next_line(&cur)) != NULL) {
    ln++;
    char *f[5];
    unsigned long long t, done;
    pm_sim_request q;
    memset(&q, 0, sizeof q);
    bool ok = split_tabs(line, f, 5) == 5 && num_field(f[0], ~0ull, &t) &&
              num_field(f[3], ~0ull, &done) && unesc(f[2]) && f[2][0] &&
              unesc(f[4]) && fit(q.name, sizeof q.name, f[2]) &&
              fit(q.other, sizeof q.other, f[4]);
    if (ok && !strcmp(f[1], "stop")) q.stop = true;
    else if (ok && !strcmp(f[1], "stop-refused")) q.stop = q.refused = true;
    else if (ok && !strcmp(f[1], "start-refused")) q.refused = true;
    else if (!ok || strcmp(f[1], "start")) {
      rc = bad_line(path, ln, "not a service request (time, stop, start, "
                              "stop-refused or start-refused, service, "
                              "time done, other service; tab-separated)");
      break;
    }
    q.t_ns = t;
    q.done_ns = done;
    *out = pm_xrealloc(*out, (*n + 1) * sizeof **out);
    (*out)[(*n)++] = q;
  }
  free(text);
  free(path);
  return rc;
}

int pm_sim_kill_all(const char *dir) {
  char *p = pm_xasprintf("%s/services.txt", dir);
  svc_run *run;
  size_t n;
  /* Every process named before a damaged line is ended; the file is then
   * not rewritten, since it was not read whole. */
  bool whole = load_run_file(p, &run, &n) == 0;
  int count = 0;
  sim tmp = {0};
  tmp.dir = pm_xstrdup(dir);
  for (size_t i = 0; i < n; i++) {
    if (run[i].pid > 0) {
      if (alive(run[i].pid)) count++;
      end_process(run[i].pid);
      free(run[i].name);
    } else {
      tmp.run = pm_xrealloc(tmp.run, (tmp.nrun + 1) * sizeof *tmp.run);
      tmp.run[tmp.nrun++] = run[i];
    }
  }
  free(run);
  if (n && whole) save_run(&tmp);
  free_run(&tmp);
  free(tmp.dir);
  free(p);
  return count;
}

/* ---- the service process ---- */
