/* audit_manifest.c - `pomove verify --manifest FILE DIR`: checks a tree
 * against a manifest written by pomove or by xxh128sum (GNU or --tag
 * style). The manifest is streamed: each line becomes a job on the
 * hashing pool as it is read, so memory does not grow with the manifest
 * unless --extra is asked for; then the set of listed paths is kept to
 * find the files the manifest does not list.
 *
 * Paths are taken relative to DIR, as `xxh128sum -c` run in DIR takes
 * them; leading "./" is dropped (manifests made with `find . -type f`);
 * absolute paths are used as they are. Symlinks are followed, as
 * xxh128sum follows them. Categories: identical, missing (no such file),
 * changed (another hash, or no longer a regular file), unreadable, and
 * with --extra, extra (regular files under DIR that no line names). */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_int.h"
#include "hashpool.h"
#include "listing.h"
#include "manifest.h"
#include "util.h"

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

typedef struct mjob {
  char *rel;
  pm_hash128 expect;
} mjob;

typedef struct mctx {
  vf_audit_opts *o;
  const pm_fs_ops *fs;
  vf_report *rep;
  vf_pool *pool;
  pm_progress prog;
} mctx;

static void tick(void *arg) {
  mctx *c = arg;
  uint64_t files, bytes;
  vf_pool_counts(c->pool, &files, &bytes);
  pm_progress_update(&c->prog, files, bytes, false);
}

static void entry_done(vf_job *j, void *arg) {
  mctx *c = arg;
  mjob *m = j->udata;
  vf_side *s = &j->side[0];
  char detail[1024];
  int cat;
  if (!s->stat_ok && (s->err == PM_ENOENT || s->err == PM_ENOTDIR)) {
    cat = VF_MISSING;
    snprintf(detail, sizeof detail, "no such file");
  } else if (s->err == PM_EISDIR) {
    cat = VF_CONTENT;
    snprintf(detail, sizeof detail, "is a directory now, not a file");
  } else if (s->err) {
    vf__describe_err("", s, detail, sizeof detail);
    pm_oserr_set(s->oserr);
    /* Handed back unread after Ctrl-C: the command reports the interrupt. */
    if (s->err != PM_ECANCELED) pm_report_error(s->op, s->path, s->err);
    cat = VF_UNREADABLE;
  } else if (!pm_hash_equal(&s->hash, &m->expect)) {
    char he[33], hg[33];
    pm_hash_hex(&m->expect, he);
    pm_hash_hex(&s->hash, hg);
    snprintf(detail, sizeof detail, "XXH128 %s expected, %s found", he, hg);
    cat = VF_CONTENT;
  } else {
    cat = VF_IDENTICAL;
  }
  vf_report_add(c->rep, cat, m->rel, cat == VF_IDENTICAL ? NULL : detail);
  free(m->rel);
  free(m);
  vf_job_free(j);
}

/* Walks DIR for regular files the manifest does not list. */
static int find_extra(mctx *c, const char *dir, const pset *listed) {
  typedef struct fr {
    char *rel;
    vf_listing l;
    size_t i;
  } fr;
  fr *st = NULL;
  size_t depth = 0, cap = 0;
  int rc = 0;
  char *first = pm_xstrdup("");
  for (char *rel = first; rel;) {
    char *p = pm_path_join(dir, rel);
    vf_listing l;
    const char *op;
    int lrc = vf_list_dir(c->fs, p, VF_SORT_PATH, &l, &op);
    if (lrc) {
      pm_report_error(op, p, lrc);
      vf_report_addf(c->rep, VF_UNREADABLE, rel[0] ? rel : ".",
                     "%s: %s (%s); not searched for extra files", op,
                     pm_strerror(lrc), pm_errname(lrc));
      free(rel);
    } else {
      if (depth == cap) {
        cap = cap ? cap * 2 : 16;
        st = pm_xrealloc(st, cap * sizeof *st);
      }
      st[depth++] = (fr){rel, l, 0};
    }
    free(p);
    rel = NULL;
    while (depth && !rel) {
      fr *f = &st[depth - 1];
      /* Ctrl-C unwinds the walk without going further. */
      if (f->i == f->l.n || pm_interrupted()) {
        vf_listing_free(&f->l);
        free(f->rel);
        depth--;
        continue;
      }
      vf_dirent *e = &f->l.e[f->i++];
      char *r = pm_path_join(f->rel, e->name);
      if (e->type == PM_T_DIR) {
        rel = r;
      } else {
        if (e->type == PM_T_FILE && !pset_has(listed, r))
          vf_report_add(c->rep, VF_EXTRA, r, "not in the manifest");
        free(r);
      }
    }
  }
  free(st);
  return rc;
}

int vf_audit_manifest(vf_audit_opts *o, const char *manifest, const char *dir,
                      vf_report *rep) {
  mctx c = {0};
  c.o = o;
  c.fs = o->fs ? o->fs : pm_fs_native();
  c.rep = rep;
  pm_stat st;
  int rc = c.fs->stat(dir, true, &st);
  if (!rc && st.type != PM_T_DIR) rc = PM_ENOTDIR;
  if (rc) {
    pm_report_error("stat", dir, rc);
    return rc;
  }
  pm_manifest_reader *mr;
  rc = pm_manifest_reader_open(manifest, &mr);
  if (rc) {
    pm_report_error("open manifest", manifest, rc);
    return rc;
  }
  rc = vf__audit_pool_start(o, c.fs, entry_done, tick, &c, &c.pool);
  if (rc) {
    pm_manifest_reader_close(mr);
    return rc;
  }
  pm_progress_init(&c.prog, "verify", o->progress_mode);
  pset listed = {0};
  pm_manifest_entry e;
  int r;
  o->malformed = 0;
  /* Ctrl-C stops the reading of the manifest; the pool then drains. */
  while (!pm_interrupted() && (r = pm_manifest_reader_next(mr, &e)) != 0) {
    if (r == PM_EFORMAT) {
      o->malformed++;
      char *shown = pm_display_path(manifest);
      pm_warnf("manifest '%s' line %u: not a valid XXH128 line, skipped",
               shown, e.line);
      free(shown);
      continue;
    }
    if (r < 0) {
      pm_report_error("read manifest", manifest, r);
      rc = r;
      break;
    }
    const char *rel = e.path;
    while (rel[0] == '.' && rel[1] == '/') rel += 2;
    mjob *m = pm_xmalloc(sizeof *m);
    m->rel = pm_xstrdup(rel);
    m->expect = e.hash;
    if (o->extra) pset_add(&listed, rel);
    char *p = rel[0] == '/' ? pm_xstrdup(rel) : pm_path_join(dir, rel);
    vf_job *j = vf_job_new1(p);
    free(p);
    j->follow = true;
    j->no_stat = true;
    j->udata = m;
    vf_pool_submit(c.pool, j);
    tick(&c);
  }
  pm_manifest_reader_close(mr);
  uint64_t files, bytes;
  int prc = vf_pool_finish(c.pool, &files, &bytes);
  if (!rc) rc = prc;
  pm_progress_finish(&c.prog);
  vf_report_set_hashed(rep, files, bytes);
  if (!rc && o->extra && !pm_interrupted())
    rc = find_extra(&c, dir, &listed);
  pset_free(&listed);
  if (!rc && pm_interrupted()) rc = PM_ECANCELED;
  return rc;
}
