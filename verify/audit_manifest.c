/* audit_manifest.c - `pomove verify --manifest FILE DIR`: checks a tree
 * against a manifest written by pomove or by xxh128sum (GNU or --tag
 * style). The manifest is streamed: each line becomes a job on the
 * hashing pool as it is read, so memory does not grow with the manifest
 * unless --extra is asked for; then the set of listed paths is kept to
 * find the files the manifest does not list.
 *
 * Paths are taken relative to DIR, as `xxh128sum -c` run in DIR takes
 * them; leading "./" is dropped (manifests made with `find . -type f`).
 * Unlike xxh128sum, a line never makes pomove read outside DIR: a path
 * that is absolute, has a "." or ".." component or an empty one, or goes
 * through a symlink (any component, the last one included) is filed as
 * "unsafe path" and never opened, and no hash is printed for it; else
 * the audit would be a hash oracle for any file the user can read
 * (beneath.c). Categories: identical, missing (no such file), changed
 * (another hash, or no longer a regular file: a FIFO or device is
 * reported, never opened), unreadable, unsafe path, and with --extra,
 * extra (regular files under DIR that no line names).
 *
 * A manifest of another tool is refused as a whole with the line and the
 * format seen: other algorithms by their line shape (manifest_read.c),
 * md5sum's by content, since its lines look exactly like XXH128 lines:
 * when one of the first entries whose hash differs has the expected
 * value as its MD5, the manifest is md5sum's. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_int.h"
#include "hashpool.h"
#include "listing.h"
#include "manifest.h"
#include "md5.h"
#include "thread.h"
#include "util.h"

/* Mismatched entries whose MD5 is computed to recognise an md5sum
 * manifest: a few are enough, as every entry of such a manifest
 * mismatches. */
#define MD5_PROBES 4

/* ---- a set of paths (for --extra) ---- */

typedef struct pset {
  char **s;
  size_t cap, n;
} pset;

static size_t shash(const char *p) {
  uint64_t h = 1469598103934665603ull;
  for (; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  return (size_t)h;
}

static bool pset_has(const pset *ps, const char *p) {
  if (!ps->cap) return false;
  for (size_t i = shash(p) & (ps->cap - 1);; i = (i + 1) & (ps->cap - 1)) {
    if (!ps->s[i]) return false;
    if (!strcmp(ps->s[i], p)) return true;
  }
}

static void pset_add(pset *ps, const char *p) {
  if (pset_has(ps, p)) return;
  if ((ps->n + 1) * 2 > ps->cap) {
    pset old = *ps;
    ps->cap = old.cap ? old.cap * 2 : 1024;
    ps->s = pm_xcalloc(ps->cap, sizeof *ps->s);
    ps->n = 0;
    for (size_t i = 0; i < old.cap; i++)
      if (old.s[i]) {
        size_t k = shash(old.s[i]) & (ps->cap - 1);
        while (ps->s[k]) k = (k + 1) & (ps->cap - 1);
        ps->s[k] = old.s[i];
        ps->n++;
      }
    free(old.s);
  }
  size_t k = shash(p) & (ps->cap - 1);
  while (ps->s[k]) k = (k + 1) & (ps->cap - 1);
  ps->s[k] = pm_xstrdup(p);
  ps->n++;
}

static void pset_free(pset *ps) {
  for (size_t i = 0; i < ps->cap; i++) free(ps->s[i]);
  free(ps->s);
}

/* ---- the audit ---- */

/* A directory handle shared by consecutive lines of one parent
 * directory (see submit_line). Freed by the last job that holds it. */
typedef struct mparent {
  pm_fd fd;
  atomic_uint refs;
} mparent;

typedef struct mjob {
  pm_hash128 expect;
  unsigned line;
  mparent *parent; /* the handle the file is opened beneath; NULL: DIR */
  char rel[];      /* the line's path, relative to DIR */
} mjob;

typedef struct mctx {
  vf_audit_opts *o;
  const pm_fs *fs;
  const char *dir;
  vf_report *rep;
  vf_pool *pool;
  pm_progress prog;
  atomic_uint md5_probes;
  pm_mutex mu;
  unsigned md5_line; /* first line found to hold an MD5; 0 none */
  pm_fd dirfd;       /* DIR, opened once: every entry is opened beneath it */
  /* The parent directory of the last line submitted (submitting thread
   * only): its path relative to DIR, the lines in a row that had it, and
   * its handle once opened (NULL before, or when opening it failed). */
  char *par_rel;
  size_t par_len;
  unsigned par_run;
  bool par_failed;
  mparent *par;
  atomic_uint parents_live; /* parent handles open (par and in jobs) */
} mctx;

/* Parent handles open at once at most: lines of one directory in a row
 * share one, so a sorted manifest has one or two open; a manifest whose
 * lines jump between directories falls back to opening from DIR rather
 * than hold a handle per job in flight. */
#define MAX_PARENTS 16

static void parent_put(mctx *c, mparent *mp) {
  if (!mp || atomic_fetch_sub(&mp->refs, 1) != 1) return;
  pm_fs_close(c->fs, mp->fd);
  atomic_fetch_sub(&c->parents_live, 1);
  free(mp);
}

/* Where the file of line `rel` is opened from: a handle on its parent
 * directory, when the line before had the same parent, so that the open
 * resolves one component instead of the whole path (a manifest is sorted
 * by path: a postoffice's 100,000 lines have 55 parents). The parent is
 * opened beneath DIR by open_at (no symlink followed in any component),
 * so the one component then opened beneath it (open_at again: a symlink
 * there is refused too) is what a whole-path open beneath DIR would have
 * reached at that moment. A directory swapped for a link after the handle
 * is open is not followed: the handle keeps the directory it opened, as
 * the copy's and the trees audit's walks keep theirs. Returns the handle
 * (a reference for the job) and sets *leaf, or NULL: open rel beneath
 * DIR. */
static mparent *parent_for(mctx *c, const char *rel, const char **leaf) {
  const char *slash = strrchr(rel, '/');
  if (!slash) return NULL; /* DIR itself is the parent */
  size_t n = (size_t)(slash - rel);
  if (c->par_rel && c->par_len == n && !memcmp(c->par_rel, rel, n)) {
    c->par_run++;
  } else {
    parent_put(c, c->par);
    c->par = NULL;
    free(c->par_rel);
    c->par_rel = pm_xmalloc(n + 1);
    memcpy(c->par_rel, rel, n);
    c->par_rel[n] = '\0';
    c->par_len = n;
    c->par_run = 1;
    c->par_failed = false;
  }
  if (!c->par && !c->par_failed && c->par_run >= 2 &&
      atomic_load(&c->parents_live) < MAX_PARENTS) {
    pm_fd fd;
    /* Any failure (missing, a link, not a directory ...) is left to the
     * whole-path opens of its lines, which report it as before. */
    if (pm_fs_open_at(c->fs, c->dirfd, c->par_rel,
                      PM_O_RDONLY | PM_O_DIRECTORY | PM_O_NOFOLLOW, 0, &fd)) {
      c->par_failed = true;
    } else {
      c->par = pm_xmalloc(sizeof *c->par);
      c->par->fd = fd;
      atomic_init(&c->par->refs, 1); /* the submitter's */
      atomic_fetch_add(&c->parents_live, 1);
    }
  }
  if (!c->par) return NULL;
  atomic_fetch_add(&c->par->refs, 1);
  *leaf = slash + 1;
  return c->par;
}

/* Whether the file's MD5 is the expected value: the manifest is then
 * md5sum's. Opened beneath DIR like every manifest entry. */
static bool md5_matches(mctx *c, const mjob *m) {
  pm_fd fd;
  pm_stat st;
  bool leaf_ok;
  if (vf_open_beneath(c->fs, c->dirfd, m->rel, PM_O_NOATIME, &fd, &st,
                      &leaf_ok))
    return false;
  vf_md5 md;
  vf_md5_init(&md);
  char *buf = pm_xmalloc(65536);
  uint64_t off = 0;
  int64_t n;
  while ((n = pm_fs_pread(c->fs, fd, buf, 65536, off)) > 0) {
    vf_md5_update(&md, buf, (size_t)n);
    off += (uint64_t)n;
  }
  free(buf);
  pm_fs_close(c->fs, fd);
  if (n < 0) return false;
  uint8_t d[16];
  vf_md5_final(&md, d);
  return !memcmp(d, m->expect.b, 16);
}

/* A file whose end a short read gave (vf_job.short_end) and whose hash
 * differs: read it again, whole, to a read of 0, and judge by that
 * reading, so that an error right after partial data (or a short read
 * that was not the end) is reported as what it is, never as a
 * difference. Rare: only mismatching files pay it. */
static void confirm_mismatch(mctx *c, const mjob *m, vf_side *s) {
  pm_fd fd;
  pm_stat st;
  bool leaf_ok;
  s->hashed = false;
  int rc = vf_open_beneath(c->fs, c->dirfd, m->rel, PM_O_NOATIME, &fd, &st,
                           &leaf_ok);
  if (rc) {
    if (leaf_ok) {
      s->stat_ok = true; /* replaced by a FIFO, a device ...: its type */
      s->st = st;
    } else {
      s->err = rc;
      s->op = "open";
      s->oserr = pm_oserr_last();
    }
    return;
  }
  pm_hasher *h = pm_hasher_create();
  char *buf = pm_xmalloc(65536);
  uint64_t off = 0;
  int64_t n;
  while ((n = pm_fs_pread(c->fs, fd, buf, 65536, off)) > 0) {
    pm_hasher_update(h, buf, (size_t)n);
    off += (uint64_t)n;
  }
  if (n < 0) {
    s->err = (int)n;
    s->op = "read";
    s->oserr = pm_oserr_last();
  } else {
    s->hash = pm_hasher_digest(h);
    s->hashed = true;
    s->bytes = off;
    s->short_ended = false;
  }
  free(buf);
  pm_hasher_free(h);
  pm_fs_close(c->fs, fd);
}

static void tick(void *arg) {
  mctx *c = arg;
  vf__progress_tick(c->pool, &c->prog);
}

static void entry_done(vf_job *j, void *arg) {
  mctx *c = arg;
  mjob *m = j->udata;
  vf_side *s = &j->side[0];
  char detail[1024];
  int cat;
  if (s->err == PM_ECANCELED) {
    /* Interrupted: not checked, not counted. */
    parent_put(c, m->parent);
    free(m);
    vf_job_free(j);
    return;
  }
  if (!s->err && s->hashed && s->short_ended &&
      !pm_hash_equal(&s->hash, &m->expect))
    confirm_mismatch(c, m, s);
  if (s->err == PM_ELOOP) {
    /* The open beneath DIR met a symlink: its target was never opened. */
    cat = VF_UNSAFE;
    snprintf(detail, sizeof detail,
             "goes through a symbolic link: not opened");
  } else if (s->stat_ok && s->st.type != PM_T_FILE) {
    cat = VF_CONTENT;
    if (s->st.type == PM_T_DIR)
      snprintf(detail, sizeof detail, "is a directory now, not a file");
    else
      snprintf(detail, sizeof detail,
               "is a %s now, not a regular file: not opened",
               pm_ftype_name(s->st.type));
  } else if (!s->stat_ok && (s->err == PM_ENOENT || s->err == PM_ENOTDIR)) {
    cat = VF_MISSING;
    snprintf(detail, sizeof detail, "no such file");
  } else if (s->err == PM_EISDIR) {
    cat = VF_CONTENT;
    snprintf(detail, sizeof detail, "is a directory now, not a file");
  } else if (s->err == PM_ECHANGED) {
    cat = VF_UNREADABLE;
    snprintf(detail, sizeof detail,
             "changed while it was being opened: not read");
  } else if (s->err) {
    vf__describe_err("", s, detail, sizeof detail);
    /* Handed back unread after Ctrl-C: the command reports the interrupt. */
    if (s->err != PM_ECANCELED) {
      /* The job has no path (vf_job_new_beneath): name the file here. */
      char *path = pm_path_join(c->dir, m->rel);
      vf__report_error(s->op, path, s->err, s->oserr);
      free(path);
    }
    cat = VF_UNREADABLE;
  } else if (!pm_hash_equal(&s->hash, &m->expect)) {
    char he[33], hg[33];
    pm_hash_hex(&m->expect, he);
    pm_hash_hex(&s->hash, hg);
    snprintf(detail, sizeof detail, "XXH128 %s expected, %s found", he, hg);
    cat = VF_CONTENT;
    if (atomic_fetch_add(&c->md5_probes, 1) < MD5_PROBES && md5_matches(c, m)) {
      pm_mutex_lock(&c->mu);
      if (!c->md5_line || m->line < c->md5_line) c->md5_line = m->line;
      pm_mutex_unlock(&c->mu);
    }
  } else {
    cat = VF_IDENTICAL;
  }
  vf_report_add(c->rep, cat, m->rel, cat == VF_IDENTICAL ? NULL : detail);
  parent_put(c, m->parent);
  free(m);
  vf_job_free(j);
}

/* Walks DIR for regular files the manifest does not list. */
static void find_extra(mctx *c, const char *dir, const pset *listed) {
  vf_walk *w = vf_walk_new(c->fs, PM_FD_INVALID, dir, c->o->interrupt);
  vf_walk_item it;
  int k;
  while ((k = vf_walk_next(w, &it)) != VF_WALK_END) {
    if (k == VF_WALK_UNLISTED) {
      char *p = pm_path_join(dir, it.rel);
      vf__report_error(it.op, p, it.err, it.oserr);
      free(p);
      vf_report_addf(c->rep, VF_UNREADABLE, it.rel[0] ? it.rel : ".",
                     "%s: %s (%s); not searched for extra files", it.op,
                     pm_strerror(it.err), pm_errname(it.err));
    } else if (k == VF_WALK_ENTRY && it.type == PM_T_FILE &&
               !pset_has(listed, it.rel)) {
      vf_report_add(c->rep, VF_EXTRA, it.rel, "not in the manifest");
    }
  }
  vf_walk_free(w);
}

static bool stop_asked(const vf_audit_opts *o) {
  return o->interrupt && *o->interrupt;
}

int vf_audit_manifest(vf_audit_opts *o, const char *manifest, const char *dir,
                      vf_report *rep) {
  mctx c = {0};
  c.o = o;
  c.fs = o->fs ? o->fs : pm_fs_native();
  c.dir = dir;
  c.rep = rep;
  o->malformed = 0;
  o->listed = 0;
  int rc = vf__open_root(c.fs, dir, &c.dirfd);
  if (rc) return rc;
  pm_manifest_reader *mr;
  rc = pm_manifest_reader_open(c.fs, manifest, &mr);
  if (rc) {
    vf__report_error("open manifest", manifest, rc,
                     rc == PM_ESPECIAL ? 0 : pm_oserr_last());
    pm_fs_close(c.fs, c.dirfd);
    return rc;
  }
  rc = vf__audit_pool_start(o, c.fs, entry_done, tick, &c, &c.pool);
  if (rc) {
    pm_manifest_reader_close(mr);
    pm_fs_close(c.fs, c.dirfd);
    return rc;
  }
  pm_mutex_init(&c.mu);
  atomic_init(&c.md5_probes, 0);
  atomic_init(&c.parents_live, 0);
  pm_progress_init(&c.prog, "verify", o->progress_mode);
  pset listed = {0};
  pm_manifest_entry e;
  int r;
  char *shown = pm_display_path(manifest);
  while ((r = pm_manifest_reader_next(mr, &e)) != 0) {
    if (stop_asked(o)) {
      rc = PM_ECANCELED;
      break;
    }
    if (r == PM_EFORMAT && e.other_algorithm) {
      /* Not a manifest pomove can check: none of its lines would mean
       * what they seem to. */
      pm_oserr_set(0);
      pm_report_errorf(PM_EFORMAT, "manifest '%s' line %u: %s", shown, e.line,
                       e.why);
      rc = PM_EFORMAT;
      break;
    }
    if (r == PM_EFORMAT) {
      o->malformed++;
      pm_warnf("manifest '%s' line %u: %s; skipped", shown, e.line,
               e.why ? e.why : "not a valid XXH128 line");
      continue;
    }
    if (r < 0) {
      vf__report_error("read manifest", manifest, r, pm_oserr_last());
      rc = r;
      break;
    }
    o->listed++;
    const char *rel = e.path;
    while (rel[0] == '.' && rel[1] == '/') rel += 2;
    const char *unsafe = vf_rel_check(rel);
    if (unsafe) {
      /* Never opened, never hashed: no "found" hash to print. */
      vf_report_addf(rep, VF_UNSAFE, e.path, "%s: not opened", unsafe);
      continue;
    }
    size_t rl = strlen(rel) + 1;
    mjob *m = pm_xmalloc(sizeof *m + rl);
    memcpy(m->rel, rel, rl);
    m->expect = e.hash;
    m->line = e.line;
    if (o->extra) pset_add(&listed, rel);
    const char *leaf = NULL;
    m->parent = parent_for(&c, m->rel, &leaf);
    vf_job *j = m->parent ? vf_job_new_beneath(m->parent->fd, leaf)
                          : vf_job_new_beneath(c.dirfd, m->rel);
    j->no_stat = true;
    j->short_end = true; /* a mismatch is confirmed (confirm_mismatch) */
    j->udata = m;
    vf_pool_submit(c.pool, j);
    tick(&c);
  }
  pm_manifest_reader_close(mr);
  /* The jobs hold their own references. */
  parent_put(&c, c.par);
  c.par = NULL;
  free(c.par_rel);
  uint64_t files, bytes;
  int prc = vf_pool_finish(c.pool, &files, &bytes);
  if (!rc) rc = prc;
  if (!rc && stop_asked(o)) rc = PM_ECANCELED;
  pm_progress_finish(&c.prog);
  vf_report_set_hashed(rep, files, bytes);
  if (!rc && c.md5_line) {
    pm_oserr_set(0);
    pm_report_errorf(PM_EFORMAT,
                     "manifest '%s' line %u: the checksum is the file's MD5: "
                     "an md5sum manifest, not XXH128 (pomove reads xxh128sum "
                     "manifests only)",
                     shown, c.md5_line);
    rc = PM_EFORMAT;
  }
  free(shown);
  if (!rc && o->extra && !stop_asked(o)) find_extra(&c, dir, &listed);
  pset_free(&listed);
  pm_mutex_destroy(&c.mu);
  pm_fs_close(c.fs, c.dirfd);
  return rc;
}
