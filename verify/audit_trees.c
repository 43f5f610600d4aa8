/* audit_trees.c - `pomove verify SRC DST`: the audit of an existing copy.
 *
 * The walk goes level by level: for a directory present on both sides it
 * reads both listings, sorts them by name and merges them, so memory is
 * bounded by the largest directory (times the depth), not by the tree.
 * Regular files found on both sides become pair jobs on the hashing pool
 * (both sides open and fstat'ed by a worker; read only when the sizes
 * agree); everything else is judged on the walking thread.
 *
 * Every path below the two roots lands in exactly one category. When a
 * path is a directory on one side only (missing, extra, or type differs),
 * every entry below it is counted as missing (SRC side) or extra (DST
 * side), so the counts add up to the number of distinct paths. A
 * directory that cannot be listed is unreadable and its contents are not
 * counted (they cannot be known). */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_int.h"
#include "hashpool.h"
#include "listing.h"
#include "thread.h"
#include "util.h"

/* ---- hard-link groups: (dev, ino) on one side -> (dev, ino) on the
 * other, for files whose link count is above one ---- */

typedef struct lkey {
  uint64_t dev, ino;
} lkey;

typedef struct lslot {
  lkey k, v;
  bool used;
} lslot;

typedef struct lmap {
  lslot *s;
  size_t cap, n;
} lmap;

static size_t lhash(lkey k) {
  uint64_t x = k.ino * 0x9E3779B97F4A7C15ull ^ k.dev * 0xC2B2AE3D27D4EB4Full;
  return (size_t)(x ^ (x >> 29));
}

static lslot *lmap_find(lmap *m, lkey k) {
  if (!m->cap) return NULL;
  for (size_t i = lhash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (!m->s[i].used) return NULL;
    if (m->s[i].k.dev == k.dev && m->s[i].k.ino == k.ino) return &m->s[i];
  }
}

static void lmap_put(lmap *m, lkey k, lkey v) {
  if ((m->n + 1) * 2 > m->cap) {
    lmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->s = pm_xcalloc(m->cap, sizeof *m->s);
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
      if (old.s[i].used) lmap_put(m, old.s[i].k, old.s[i].v);
    free(old.s);
  }
  size_t i = lhash(k) & (m->cap - 1);
  while (m->s[i].used) i = (i + 1) & (m->cap - 1);
  m->s[i].used = true;
  m->s[i].k = k;
  m->s[i].v = v;
  m->n++;
}

/* ---- the walk ---- */

typedef struct item {
  char *name;
  pm_ftype t[2];
  bool has[2];
} item;

enum { F_BOTH, F_SRC_ONLY, F_DST_ONLY };

typedef struct frame {
  int kind;
  char *rel; /* "" at the roots */
  item *items;
  size_t n, i;
} frame;

typedef struct actx {
  vf_audit_opts *o;
  const pm_fs *fs;
  vf_report *rep;
  const char *root[2];
  /* The roots, opened once: every entry is reached beneath them with the
   * fs table's *_at calls, so that a directory swapped for a symlink while
   * the audit runs cannot make it read outside SRC or DST. */
  pm_fd rootfd[2];
  vf_pool *pool;
  pm_progress prog;
  frame *stack;
  size_t depth, cap;
  uint64_t entries[2];
  pm_mutex link_mu;
  lmap links[2];
} actx;

static const char *const side_name[2] = {"SRC", "DST"};

static void tick(void *arg) {
  actx *c = arg;
  vf__progress_tick(c->pool, &c->prog);
}

static char *full_path(actx *c, int side, const char *rel) {
  return pm_path_join(c->root[side], rel);
}

static void report_os(const char *op, const char *path, int err, int oserr) {
  /* Handed back unread after Ctrl-C: the command reports the interrupt. */
  if (err == PM_ECANCELED) return;
  vf__report_error(op, path, err, oserr);
}

/* Converts a listing into items of one side. */
static item *items_from(vf_listing *l, int side) {
  item *it = pm_xcalloc(l->n ? l->n : 1, sizeof *it);
  for (size_t i = 0; i < l->n; i++) {
    it[i].name = l->e[i].name; /* moved */
    it[i].t[side] = l->e[i].type;
    it[i].has[side] = true;
  }
  free(l->e);
  l->e = NULL;
  return it;
}

/* Merges two name-sorted listings; takes their names. */
static item *merge(vf_listing *a, vf_listing *b, size_t *n) {
  item *it = pm_xcalloc(a->n + b->n + 1, sizeof *it);
  size_t i = 0, j = 0, k = 0;
  while (i < a->n || j < b->n) {
    int cmp = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->e[i].name, b->e[j].name);
    if (cmp <= 0) {
      it[k].name = a->e[i].name;
      it[k].t[0] = a->e[i].type;
      it[k].has[0] = true;
      i++;
    }
    if (cmp >= 0) {
      if (cmp == 0)
        free(b->e[j].name);
      else
        it[k].name = b->e[j].name;
      it[k].t[1] = b->e[j].type;
      it[k].has[1] = true;
      j++;
    }
    k++;
  }
  free(a->e);
  free(b->e);
  a->e = b->e = NULL;
  *n = k;
  return it;
}

static void push(actx *c, int kind, char *rel, item *items, size_t n) {
  if (c->depth == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 16;
    c->stack = pm_xrealloc(c->stack, c->cap * sizeof *c->stack);
  }
  frame *f = &c->stack[c->depth++];
  f->kind = kind;
  f->rel = rel;
  f->items = items;
  f->n = n;
  f->i = 0;
  for (size_t i = 0; i < n; i++)
    for (int s = 0; s < 2; s++) c->entries[s] += items[i].has[s];
}

static void pop(actx *c) {
  frame *f = &c->stack[--c->depth];
  for (size_t i = f->i; i < f->n; i++) free(f->items[i].name);
  free(f->items);
  free(f->rel);
}

/* A directory present on one side only: everything below it is missing
 * (side 0) or extra (side 1). */
static void push_one_side(actx *c, int side, const char *rel) {
  char *p = full_path(c, side, rel);
  vf_listing l;
  const char *op;
  int rc = vf_list_dir_at(c->fs, c->rootfd[side], rel, VF_SORT_NAME, &l, &op);
  if (rc) {
    /* The directory itself is already counted; its contents cannot be. */
    report_os(op, p, rc, pm_oserr_last());
    free(p);
    return;
  }
  free(p);
  size_t n = l.n;
  push(c, side == 0 ? F_SRC_ONLY : F_DST_ONLY, pm_xstrdup(rel),
       items_from(&l, side), n);
}

static void judge_dirs(actx *c, const char *rel) {
  pm_stat st[2];
  char detail[1024];
  vf_listing l[2] = {{0}, {0}};
  for (int s = 0; s < 2; s++) {
    char *p = full_path(c, s, rel);
    int rc = pm_fs_stat_at(c->fs, c->rootfd[s], rel, &st[s]);
    const char *op = "stat";
    if (!rc)
      rc = vf_list_dir_at(c->fs, c->rootfd[s], rel, VF_SORT_NAME, &l[s], &op);
    if (rc) {
      report_os(op, p, rc, pm_oserr_last());
      snprintf(detail, sizeof detail, "%s %s: %s (%s)", side_name[s], op,
               pm_strerror(rc), pm_errname(rc));
      vf_report_add(c->rep, VF_UNREADABLE, rel, detail);
      free(p);
      vf_listing_free(&l[0]);
      vf_listing_free(&l[1]);
      return;
    }
    free(p);
  }
  if (vf__meta_differs(c->o->compare, c->o->time_tolerance_ns, PM_T_DIR,
                       &st[0], &st[1], detail, sizeof detail))
    vf_report_add(c->rep, VF_META, rel, detail);
  else
    vf_report_add(c->rep, VF_IDENTICAL, rel, NULL);
  size_t n;
  item *it = merge(&l[0], &l[1], &n);
  push(c, F_BOTH, pm_xstrdup(rel), it, n);
}

static void judge_symlinks(actx *c, const char *rel) {
  pm_stat st[2];
  char *target[2] = {NULL, NULL};
  char detail[1024];
  for (int s = 0; s < 2; s++) {
    char *p = full_path(c, s, rel);
    size_t cap = 65536, len;
    target[s] = pm_xmalloc(cap);
    const char *op = "stat";
    int rc = pm_fs_stat_at(c->fs, c->rootfd[s], rel, &st[s]);
    if (!rc) {
      op = "read symlink";
      rc = pm_fs_readlink_at(c->fs, c->rootfd[s], rel, target[s], cap, &len);
    }
    if (rc) {
      report_os(op, p, rc, pm_oserr_last());
      snprintf(detail, sizeof detail, "%s %s: %s (%s)", side_name[s], op,
               pm_strerror(rc), pm_errname(rc));
      vf_report_add(c->rep, VF_UNREADABLE, rel, detail);
      free(p);
      free(target[0]);
      free(target[1]);
      return;
    }
    free(p);
  }
  if (strcmp(target[0], target[1])) {
    char *a = pm_display_path(target[0]), *b = pm_display_path(target[1]);
    vf_report_addf(c->rep, VF_CONTENT, rel, "symlink target '%s' vs '%s'", a,
                   b);
    free(a);
    free(b);
  } else if (vf__meta_differs(c->o->compare, c->o->time_tolerance_ns,
                              PM_T_SYMLINK, &st[0], &st[1], detail,
                              sizeof detail)) {
    vf_report_add(c->rep, VF_META, rel, detail);
  } else {
    vf_report_add(c->rep, VF_IDENTICAL, rel, NULL);
  }
  free(target[0]);
  free(target[1]);
}

static void judge_specials(actx *c, const char *rel, pm_ftype t) {
  pm_stat st[2];
  char detail[1024];
  for (int s = 0; s < 2; s++) {
    char *p = full_path(c, s, rel);
    int rc = pm_fs_stat_at(c->fs, c->rootfd[s], rel, &st[s]);
    if (rc) {
      report_os("stat", p, rc, pm_oserr_last());
      snprintf(detail, sizeof detail, "%s stat: %s (%s)", side_name[s],
               pm_strerror(rc), pm_errname(rc));
      vf_report_add(c->rep, VF_UNREADABLE, rel, detail);
      free(p);
      return;
    }
    free(p);
  }
  if (st[0].type != st[1].type)
    vf_report_addf(c->rep, VF_TYPE, rel, "%s in SRC, %s in DST",
                   pm_ftype_name(st[0].type), pm_ftype_name(st[1].type));
  else if ((t == PM_T_CHR || t == PM_T_BLK) && st[0].rdev != st[1].rdev)
    vf_report_add(c->rep, VF_CONTENT, rel, "device numbers differ");
  else if (vf__meta_differs(c->o->compare, c->o->time_tolerance_ns, t,
                            &st[0], &st[1], detail, sizeof detail))
    vf_report_add(c->rep, VF_META, rel, detail);
  else
    vf_report_add(c->rep, VF_IDENTICAL, rel, NULL);
}

/* Hard-link groups must match: two paths share an inode in SRC exactly
 * when they share one in DST. The first path of a group defines the
 * pairing; a later path that pairs differently is reported. */
static bool links_differ(actx *c, const pm_stat *a, const pm_stat *b) {
  if (a->nlink < 2 && b->nlink < 2) return false;
  lkey ka = {a->dev, a->ino}, kb = {b->dev, b->ino};
  bool differ = false;
  pm_mutex_lock(&c->link_mu);
  lslot *x = lmap_find(&c->links[0], ka);
  lslot *y = lmap_find(&c->links[1], kb);
  if (x && (x->v.dev != kb.dev || x->v.ino != kb.ino)) differ = true;
  if (y && (y->v.dev != ka.dev || y->v.ino != ka.ino)) differ = true;
  if (!x && a->nlink > 1) lmap_put(&c->links[0], ka, kb);
  if (!y && b->nlink > 1) lmap_put(&c->links[1], kb, ka);
  pm_mutex_unlock(&c->link_mu);
  return differ;
}

/* Runs on a worker thread when both sides of a file pair are done. */
static void pair_done(vf_job *j, void *arg) {
  actx *c = arg;
  const char *rel = j->udata;
  vf_side *a = &j->side[0], *b = &j->side[1];
  char detail[1024];
  int cat;
  if (a->err == PM_ECANCELED || b->err == PM_ECANCELED) {
    /* Interrupted: not judged, not counted. */
    free(j->udata);
    vf_job_free(j);
    return;
  }
  if (!a->stat_ok || !b->stat_ok) {
    /* Could not open or stat a side. */
    const vf_side *bad = !a->stat_ok ? a : b;
    vf__describe_err(bad == a ? "SRC" : "DST", bad, detail, sizeof detail);
    report_os(bad->op, bad->path, bad->err, bad->oserr);
    cat = VF_UNREADABLE;
  } else if (a->st.type != PM_T_FILE || b->st.type != PM_T_FILE) {
    snprintf(detail, sizeof detail, "%s in SRC, %s in DST (changed during "
             "the audit)", pm_ftype_name(a->st.type),
             pm_ftype_name(b->st.type));
    cat = VF_TYPE;
  } else if (a->st.size != b->st.size) {
    snprintf(detail, sizeof detail, "%llu bytes in SRC, %llu in DST",
             (unsigned long long)a->st.size, (unsigned long long)b->st.size);
    cat = VF_SIZE;
  } else if (a->err || b->err) {
    /* A read failed; pairs of different sizes are never read. */
    const vf_side *bad = a->err ? a : b;
    vf__describe_err(bad == a ? "SRC" : "DST", bad, detail, sizeof detail);
    report_os(bad->op, bad->path, bad->err, bad->oserr);
    cat = VF_UNREADABLE;
  } else if (!pm_hash_equal(&a->hash, &b->hash)) {
    char ha[33], hb[33];
    pm_hash_hex(&a->hash, ha);
    pm_hash_hex(&b->hash, hb);
    snprintf(detail, sizeof detail, "XXH128 %s in SRC, %s in DST", ha, hb);
    cat = VF_CONTENT;
  } else {
    bool meta = vf__meta_differs(c->o->compare, c->o->time_tolerance_ns,
                                 PM_T_FILE, &a->st, &b->st, detail,
                                 sizeof detail);
    if ((c->o->compare & VF_CMP_LINKS) && links_differ(c, &a->st, &b->st)) {
      size_t u = strlen(detail);
      snprintf(detail + u, sizeof detail - u, "%shard-link group differs",
               u ? "; " : "");
      meta = true;
    }
    cat = meta ? VF_META : VF_IDENTICAL;
  }
  vf_report_add(c->rep, cat, rel, cat == VF_IDENTICAL ? NULL : detail);
  free(j->udata);
  vf_job_free(j);
}

static void step(actx *c) {
  frame *f = &c->stack[c->depth - 1];
  if (f->i == f->n) {
    pop(c);
    return;
  }
  item *it = &f->items[f->i++];
  char *rel = pm_path_join(f->rel, it->name);
  free(it->name);
  it->name = NULL;
  if (f->kind != F_BOTH || !it->has[0] || !it->has[1]) {
    int side = it->has[0] ? 0 : 1;
    vf_report_addf(c->rep, side == 0 ? VF_MISSING : VF_EXTRA, rel, "%s",
                   pm_ftype_name(it->t[side]));
    if (it->t[side] == PM_T_DIR) push_one_side(c, side, rel);
    free(rel);
    return;
  }
  pm_ftype ts = it->t[0], td = it->t[1];
  if (ts != td) {
    vf_report_addf(c->rep, VF_TYPE, rel, "%s in SRC, %s in DST",
                   pm_ftype_name(ts), pm_ftype_name(td));
    /* Pushed in this order so that SRC's subtree is walked first. */
    if (td == PM_T_DIR) push_one_side(c, 1, rel);
    if (ts == PM_T_DIR) push_one_side(c, 0, rel);
  } else if (ts == PM_T_FILE) {
    char *a = full_path(c, 0, rel), *b = full_path(c, 1, rel);
    vf_job *j = vf_job_new2(a, b, true);
    vf_job_beneath(j, 0, c->rootfd[0], rel);
    vf_job_beneath(j, 1, c->rootfd[1], rel);
    free(a);
    free(b);
    j->udata = rel;
    vf_pool_submit(c->pool, j);
    return; /* rel now belongs to the job */
  } else if (ts == PM_T_DIR) {
    judge_dirs(c, rel);
  } else if (ts == PM_T_SYMLINK) {
    judge_symlinks(c, rel);
  } else {
    judge_specials(c, rel, ts);
  }
  free(rel);
}

int vf_audit_trees(vf_audit_opts *o, const char *src, const char *dst,
                   vf_report *rep) {
  actx c = {0};
  c.o = o;
  c.fs = o->fs ? o->fs : pm_fs_native();
  c.rep = rep;
  c.root[0] = src;
  c.root[1] = dst;
  pm_mutex_init(&c.link_mu);
  int rc = 0;
  vf_listing l[2] = {{0}, {0}};
  c.rootfd[0] = c.rootfd[1] = PM_FD_INVALID;
  for (int s = 0; s < 2 && !rc; s++) {
    rc = vf__open_root(c.fs, c.root[s], &c.rootfd[s]);
    if (!rc) {
      const char *op;
      rc = vf_list_dir_at(c.fs, c.rootfd[s], "", VF_SORT_NAME, &l[s], &op);
      if (rc) vf__report_error(op, c.root[s], rc, pm_oserr_last());
    }
  }
  if (!rc) rc = vf__audit_pool_start(o, c.fs, pair_done, tick, &c, &c.pool);
  if (rc) {
    vf_listing_free(&l[0]);
    vf_listing_free(&l[1]);
    for (int s = 0; s < 2; s++)
      if (c.rootfd[s] != PM_FD_INVALID) pm_fs_close(c.fs, c.rootfd[s]);
    pm_mutex_destroy(&c.link_mu);
    return rc;
  }
  pm_progress_init(&c.prog, "verify", o->progress_mode);
  size_t n;
  item *it = merge(&l[0], &l[1], &n);
  push(&c, F_BOTH, pm_xstrdup(""), it, n);
  while (c.depth && !(o->interrupt && *o->interrupt)) {
    step(&c);
    tick(&c);
  }
  while (c.depth) pop(&c);
  uint64_t files, bytes;
  rc = vf_pool_finish(c.pool, &files, &bytes);
  if (!rc && o->interrupt && *o->interrupt) rc = PM_ECANCELED;
  pm_progress_finish(&c.prog);
  vf_report_set_hashed(rep, files, bytes);
  free(c.stack);
  free(c.links[0].s);
  free(c.links[1].s);
  pm_mutex_destroy(&c.link_mu);
  /* After vf_pool_finish: no job opens beneath them any more. */
  pm_fs_close(c.fs, c.rootfd[0]);
  pm_fs_close(c.fs, c.rootfd[1]);
  vf_report_add_side_entries(rep, c.entries[0], c.entries[1]);
  if (!rc && o->interrupt && *o->interrupt) rc = PM_ECANCELED;
  return rc;
}
