/* walk.c - the directory walker of the copy engine.
 *
 * One thread lists directories depth first; an update has WALK_THREADS
 * of them, taking directories from one stack, each listing one directory
 * (its DST side included) at a time, and never one of the subtrees that
 * a listing removes from DST (those are not on the stack). Subdirectories
 * are created in the destination at once (private, so that a half-copied
 * tree is not served to anyone) and pushed on the stack; regular files go
 * to the bounded file queue that the workers drain; symlinks and special
 * files are cheap and made here. A directory's own metadata is applied
 * by ce_dnode_release() when its last child is done.
 *
 * An update (`copy --update`) also lists each destination directory:
 * an entry whose type differs from the source's (a file that became a
 * directory, and back) is removed before the source's is made, and with
 * --delete the entries the source no longer has are removed, once the
 * source directory was listed to its end. Removal goes through the
 * dir-relative calls beneath DST's handle and never follows a link.
 * While the workers have tasks waiting, an update's listing thread
 * carries over the untouched files it lists itself (ce_update_unchanged,
 * see list_dir) instead of queueing them. An update's listing threads
 * take the subdirectories that have subdirectories first, then the
 * larger (order_found), so that the walk does not end with one thread
 * alone on a large directory. */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "util.h"

/* Threads listing directories in an update (the walker and helpers). */
#define WALK_THREADS 4
/* Files an update's listing thread queues at once (see list_dir). */
#define WALK_RUN 32

typedef struct dstack {
  ce_dnode **v;
  size_t n, cap;
} dstack;

static void push(dstack *s, ce_dnode *d) {
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 64;
    s->v = pm_xrealloc(s->v, s->cap * sizeof *s->v);
  }
  s->v[s->n++] = d;
}

static ce_dnode *new_dnode(ce_dnode *parent, char *rel, const pm_stat *st) {
  ce_dnode *d = pm_xcalloc(1, sizeof *d);
  d->parent = parent;
  d->rel = rel;
  d->st = *st;
  atomic_init(&d->pending, 1);
  if (parent) atomic_fetch_add(&parent->pending, 1);
  return d;
}

/* mkdir that accepts an existing directory (merge, resume); *made tells
 * whether this call made it. */
static int make_dir(ce_ctx *c, const char *rel, bool *made) {
  int rc = pm_fs_mkdir_at(c->fs, c->dst_fd, rel, 0700);
  *made = rc == 0;
  if (rc == PM_EEXIST) {
    pm_stat st;
    if (pm_fs_stat_at(c->fs, c->dst_fd, rel, &st) == 0 && st.type == PM_T_DIR)
      return 0;
  }
  return rc;
}

static void copy_symlink(ce_ctx *c, const char *rel, const pm_stat *st) {
  char *sp = pm_path_join(c->src, rel), *dp = pm_path_join(c->dst, rel);
  char target[65536];
  size_t len;
  int rc = pm_fs_readlink_at(c->fs, c->src_fd, rel, target, sizeof target, &len);
  if (rc) {
    ce_count_error(c, "read symlink", sp, rc);
    goto out;
  }
  rc = pm_fs_symlink_at(c->fs, target, c->dst_fd, rel);
  /* A link kept from an earlier pass is given only what it lacks: setting
   * its owner or times again would change its ctime. */
  pm_stat dst_st;
  bool kept = false;
  if (rc == PM_EEXIST) {
    /* Merge or resume: an existing link with the same target is kept,
     * anything else that is not a directory is replaced. */
    char old[65536];
    size_t olen;
    if (pm_fs_stat_at(c->fs, c->dst_fd, rel, &dst_st) == 0 &&
        dst_st.type == PM_T_SYMLINK &&
        pm_fs_readlink_at(c->fs, c->dst_fd, rel, old, sizeof old, &olen) == 0 &&
        olen == len && !memcmp(old, target, len)) {
      rc = 0;
      kept = true;
    } else if (pm_fs_unlink_at(c->fs, c->dst_fd, rel) == 0) {
      rc = pm_fs_symlink_at(c->fs, target, c->dst_fd, rel);
    }
  }
  if (rc) {
    ce_count_error(c, "create symlink", dp, rc);
    goto out;
  }
  if (c->root_user &&
      !(kept && dst_st.uid == st->uid && dst_st.gid == st->gid)) {
    rc = pm_fs_chown_at(c->fs, c->dst_fd, rel, st->uid, st->gid);
    if (rc) ce_count_error(c, "set owner of symlink", dp, rc);
  }
  /* A link created just now has nothing to remove; a kept one may carry
   * attributes the source has lost, and keeps those it has. */
  ce_copy_xattrs(c, c->src_fd, rel, c->dst_fd, rel, sp, dp, kept);
  if (!(kept && dst_st.mtime.sec == st->mtime.sec &&
        dst_st.mtime.nsec == st->mtime.nsec)) {
    rc = pm_fs_utimes_at(c->fs, c->dst_fd, rel, &st->atime, &st->mtime);
    if (rc && rc != PM_ENOTSUP) ce_count_error(c, "set times of symlink", dp, rc);
  }
  atomic_fetch_add(&c->symlinks, 1);
out:
  free(sp);
  free(dp);
}

static void copy_special(ce_ctx *c, const char *rel, const pm_stat *st) {
  char *sp = pm_path_join(c->src, rel);
  if (!c->o->specials) {
    char *shown = pm_display_path(sp);
    pm_warnf("skipping %s '%s' (use --specials to create it)",
             pm_ftype_name(st->type), shown);
    free(shown);
    atomic_fetch_add(&c->skipped, 1);
    free(sp);
    return;
  }
  char *dp = pm_path_join(c->dst, rel);
  int rc = pm_fs_mknod_at(c->fs, c->dst_fd, rel, st->type, st->mode & 07777, st->rdev);
  if (rc == PM_EEXIST && pm_fs_unlink_at(c->fs, c->dst_fd, rel) == 0)
    rc = pm_fs_mknod_at(c->fs, c->dst_fd, rel, st->type, st->mode & 07777, st->rdev);
  if (rc) {
    ce_count_error(c, "create special file", dp, rc);
  } else {
    if (c->root_user) pm_fs_chown_at(c->fs, c->dst_fd, rel, st->uid, st->gid);
    pm_fs_chmod_at(c->fs, c->dst_fd, rel, st->mode & 07777);
    pm_fs_utimes_at(c->fs, c->dst_fd, rel, &st->atime, &st->mtime);
    atomic_fetch_add(&c->specials, 1);
  }
  free(dp);
  free(sp);
}

/* ---- an update's listing of the destination ---- */

typedef struct dent {
  char *name;
  uint64_t hash; /* name_hash(name) */
  pm_ftype type; /* PM_T_UNKNOWN until looked at */
  bool seen;     /* the source has it too */
} dent;

/* A destination directory's names in the order listed, with a table by
 * name: the listing looks up every name of the source directory in it
 * (sorted names and a binary search cost 13 string compares a name in a
 * directory of 8,000, 1.3 % of a cold update's CPU). */
typedef struct dlist {
  dent *v;
  size_t n, cap;
  uint32_t *tab; /* 1 + index in v; 0: free. tcap slots, a power of 2 */
  size_t tcap;
  bool ok; /* listed to its end */
} dlist;

/* FNV-1a, 64 bits: names are short, and only equal ones are compared. */
static uint64_t name_hash(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return h;
}

static void dlist_free(dlist *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i].name);
  free(l->v);
  free(l->tab);
  memset(l, 0, sizeof *l);
}

/* The names in the destination directory rel, and their table. */
static int dlist_read(ce_ctx *c, const char *rel, dlist *l) {
  memset(l, 0, sizeof *l);
  pm_dir *dir;
  int rc = pm_fs_opendir_at(c->fs, c->dst_fd, rel, &dir);
  if (rc) return rc;
  pm_dirent ent;
  while ((rc = pm_fs_readdir(c->fs, dir, &ent)) > 0) {
    if (l->n == l->cap) {
      l->cap = l->cap ? 2 * l->cap : 64;
      l->v = pm_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n].name = pm_xstrdup(ent.name);
    l->v[l->n].hash = name_hash(ent.name);
    l->v[l->n].type = ent.type;
    l->v[l->n].seen = false;
    l->n++;
  }
  pm_fs_closedir(c->fs, dir);
  if (rc < 0) {
    dlist_free(l);
    return rc;
  }
  /* At most half full. */
  l->tcap = 16;
  while (l->tcap < 2 * l->n) l->tcap *= 2;
  l->tab = pm_xcalloc(l->tcap, sizeof *l->tab);
  for (size_t i = 0; i < l->n; i++) {
    size_t k = (size_t)l->v[i].hash & (l->tcap - 1);
    while (l->tab[k]) k = (k + 1) & (l->tcap - 1);
    l->tab[k] = (uint32_t)(i + 1);
  }
  l->ok = true;
  return 0;
}

static dent *dlist_find(dlist *l, const char *name) {
  if (!l->ok || !l->n) return NULL;
  uint64_t h = name_hash(name);
  for (size_t k = (size_t)h & (l->tcap - 1); l->tab[k];
       k = (k + 1) & (l->tcap - 1)) {
    dent *e = &l->v[l->tab[k] - 1];
    if (e->hash == h && !strcmp(e->name, name)) return e;
  }
  return NULL;
}

/* Removes rel beneath DST, a directory with everything in it; counts
 * what it removed, reports what it could not. */
static void remove_tree(ce_ctx *c, const char *rel) {
  pm_stat st;
  int rc = pm_fs_stat_at(c->fs, c->dst_fd, rel, &st);
  if (rc == PM_ENOENT) return;
  char *dp = pm_path_join(c->dst, rel);
  if (rc) {
    ce_count_error(c, "read metadata of", dp, rc);
    free(dp);
    return;
  }
  if (st.type != PM_T_DIR) {
    rc = pm_fs_unlink_at(c->fs, c->dst_fd, rel);
    if (rc && rc != PM_ENOENT)
      ce_count_error(c, "remove", dp, rc);
    else if (!rc)
      atomic_fetch_add(&c->deleted, 1);
    free(dp);
    return;
  }
  /* A read-only directory of the old copy refuses to lose its children:
   * it goes anyway, so it may first be made writable. */
  if ((st.mode & 0700) != 0700) pm_fs_chmod_at(c->fs, c->dst_fd, rel, 0700);
  dlist l;
  rc = dlist_read(c, rel, &l);
  if (rc) {
    ce_count_error(c, "list directory", dp, rc);
    free(dp);
    return;
  }
  for (size_t i = 0; i < l.n && !ce_interrupted(c); i++) {
    char *crel = pm_path_join(rel, l.v[i].name);
    remove_tree(c, crel);
    free(crel);
  }
  dlist_free(&l);
  if (!ce_interrupted(c)) {
    rc = pm_fs_rmdir_at(c->fs, c->dst_fd, rel);
    if (rc && rc != PM_ENOENT)
      ce_count_error(c, "remove directory", dp, rc);
    else if (!rc)
      atomic_fetch_add(&c->deleted, 1);
  }
  free(dp);
}

/* The source has `name` (at rel) of type t: what the destination has
 * there of another type is removed, so that the source's can be made. */
static void reconcile(ce_ctx *c, dlist *l, const char *name, const char *rel,
                      pm_ftype t) {
  dent *e = dlist_find(l, name);
  if (!e) return;
  if (e->type == PM_T_UNKNOWN) {
    pm_stat st;
    if (pm_fs_stat_at(c->fs, c->dst_fd, rel, &st) != 0) return;
    e->type = st.type;
  }
  if (e->type != t) remove_tree(c, rel);
}

/* A run of file tasks of one directory, queued together. */
typedef struct trun {
  ce_task *head, *tail;
  size_t n;
} trun;

static void run_add(trun *r, ce_task *t) {
  t->next = NULL;
  if (r->tail)
    r->tail->next = t;
  else
    r->head = t;
  r->tail = t;
  r->n++;
}

static void run_push(ce_ctx *c, trun *r) {
  ce_queue_push_run(c, r->head, r->tail, r->n);
  memset(r, 0, sizeof *r);
}

static void list_dir(ce_ctx *c, ce_dnode *d, dstack *stack) {
  char *sp = pm_path_join(c->src, d->rel);
  pm_dir *dir;
  int rc = pm_fs_opendir_at(c->fs, c->src_fd, d->rel, &dir);
  if (rc) {
    ce_count_error(c, "list directory", sp, rc);
    free(sp);
    return;
  }
  dlist dl = {0};
  if (c->update && d->created) {
    int lrc = dlist_read(c, d->rel, &dl);
    if (lrc) {
      char *dp = pm_path_join(c->dst, d->rel);
      ce_count_error(c, "list directory", dp, lrc);
      free(dp);
    }
  }
  /* While the workers have tasks waiting (two each), an update's listing
   * thread decides the next file itself, if nobody touched it (the two
   * stats of ce_update_unchanged, beneath this directory's handles,
   * opened at its first file), instead of queueing it or sleeping on a
   * full queue: the listing threads' lookups add to the workers' (a cold
   * pass waits for inode blocks, several at a time), and such a file is
   * never made a task. A listing thread slower than the workers lets the
   * queue run low and queues again, so one large directory is not left
   * to one thread. What it cannot carry over is queued, and its worker
   * does not ask the same two stats again. */
  bool fast = c->update && d->created && c->old_state && !c->o->checksum;
  bool fast_open = false;
  /* Queued in runs (WALK_RUN): tasks of several listing threads queued
   * one by one alternate between directories, and a worker then opens
   * its two directory handles again for almost every file. */
  trun run = {0};
  pm_fd fsrc = c->src_fd, fdst = c->dst_fd;
  pm_dirent ent;
  while (!ce_interrupted(c) && (rc = pm_fs_readdir(c->fs, dir, &ent)) > 0) {
    char *rel = pm_path_join(d->rel, ent.name);
    if (dl.ok) {
      /* Seen before anything can fail: an entry of the source that could
       * not be looked at is not one that is gone. */
      dent *e = dlist_find(&dl, ent.name);
      if (e) e->seen = true;
    }
    pm_stat st;
    memset(&st, 0, sizeof st);
    st.type = ent.type;
    /* Files are stat'ed by the worker on the open descriptor; everything
     * else needs its metadata here. */
    if (ent.type != PM_T_FILE) {
      char *ep = pm_path_join(c->src, rel);
      int src = pm_fs_stat_at(c->fs, c->src_fd, rel, &st);
      if (src) {
        ce_count_error(c, "read metadata of", ep, src);
        free(ep);
        free(rel);
        continue;
      }
      free(ep);
    }
    if (dl.ok) reconcile(c, &dl, ent.name, rel, st.type);
    switch (st.type) {
    case PM_T_FILE: {
      if (fast && !fast_open && *d->rel) {
        /* Without both handles the workers decide, and report. */
        fast = pm_fs_open_at(c->fs, c->src_fd, d->rel,
                             PM_O_RDONLY | PM_O_DIRECTORY, 0, &fsrc) == 0;
        if (fast && pm_fs_open_at(c->fs, c->dst_fd, d->rel,
                                  PM_O_RDONLY | PM_O_DIRECTORY, 0, &fdst)) {
          pm_fs_close(c->fs, fsrc);
          fast = false;
        }
        fast_open = fast;
      }
      atomic_fetch_add(&c->seen_files, 1);
      bool tried = fast && !run.n &&
                   ce_queue_len(c) >= 2 * (size_t)atomic_load(&c->running);
      if (tried && ce_update_unchanged(c, rel, fsrc, fdst, ent.name)) {
        free(rel);
        continue;
      }
      ce_task *t = pm_xcalloc(1, sizeof *t);
      t->dir = d;
      t->rel = rel;
      t->fast_tried = tried;
      atomic_fetch_add(&d->pending, 1);
      if (!fast) {
        ce_queue_push(c, t);
        continue; /* rel is owned by the task */
      }
      run_add(&run, t);
      if (run.n == WALK_RUN) run_push(c, &run);
      continue;
    }
    case PM_T_DIR: {
      char *dp = pm_path_join(c->dst, rel);
      bool made = false;
      int mrc = d->created ? make_dir(c, rel, &made) : PM_ENOENT;
      if (mrc) {
        if (d->created) ce_count_error(c, "create directory", dp, mrc);
        free(dp);
        free(rel);
        continue;
      }
      free(dp);
      ce_dnode *child = new_dnode(d, rel, &st);
      child->created = true;
      child->made = made;
      push(stack, child);
      continue;
    }
    case PM_T_SYMLINK:
      copy_symlink(c, rel, &st);
      break;
    default:
      copy_special(c, rel, &st);
      break;
    }
    free(rel);
  }
  if (run.n) run_push(c, &run);
  if (rc < 0) ce_count_error(c, "list directory", sp, rc);
  pm_fs_closedir(c->fs, dir);
  if (fast_open) {
    pm_fs_close(c->fs, fsrc);
    pm_fs_close(c->fs, fdst);
  }
  /* Only a source directory listed to its end says what is gone. */
  if (dl.ok && c->o->delete_gone && rc == 0 && !ce_interrupted(c)) {
    for (size_t i = 0; i < dl.n && !ce_interrupted(c); i++) {
      if (dl.v[i].seen) continue;
      char *rel = pm_path_join(d->rel, dl.v[i].name);
      remove_tree(c, rel);
      free(rel);
    }
  }
  dlist_free(&dl);
  free(sp);
}

/* The directories still to list, shared by the listing threads of a
 * walk: a thread takes one, lists it, and puts the subdirectories it
 * found back; the walk is over once the stack is empty and no thread is
 * listing (a thread listing may still find more). */
typedef struct walk {
  ce_ctx *c;
  pm_mutex mu;
  pm_cond cv;
  dstack stack;
  unsigned busy; /* threads listing a directory */
} walk;

/* Whether subdirectory a of a listing is better listed before b: one
 * that has subdirectories of its own first (a directory's link count is 2
 * + its subdirectories where the file system counts them; they add to
 * the work the listing threads share out), then the larger (its size
 * grows with its entries). An update's walk ended with one thread
 * listing the largest directory of the postoffice (Maildata/P1, 8,000
 * files), met last among its siblings, while the others had nothing to
 * list: most of a cold pass's last 0.1 s. */
static bool list_before(const ce_dnode *a, const ce_dnode *b) {
  bool sa = a->st.nlink > 2, sb = b->st.nlink > 2;
  if (sa != sb) return sa;
  return a->st.size > b->st.size;
}

/* Puts the subdirectories one listing found in the order they are to be
 * pushed: the one to list first last (it is taken first). Stable, so that
 * where the file system tells nothing (equal counts and sizes) the order
 * stays as listed; insertion sort, as a directory has few. */
static void order_found(dstack *f) {
  for (size_t i = 1; i < f->n; i++) {
    ce_dnode *d = f->v[i];
    size_t j = i;
    while (j > 0 && list_before(f->v[j - 1], d)) {
      f->v[j] = f->v[j - 1];
      j--;
    }
    f->v[j] = d;
  }
}

static void walk_thread(void *arg) {
  walk *wk = arg;
  ce_ctx *c = wk->c;
  dstack found = {0};
  for (;;) {
    pm_mutex_lock(&wk->mu);
    /* Every thread that ends a listing broadcasts, and an interrupted
     * one ends its listing soon (nor does the queue hold it then). */
    while (!wk->stack.n && wk->busy) pm_cond_wait(&wk->cv, &wk->mu);
    if (!wk->stack.n) {
      pm_cond_broadcast(&wk->cv);
      pm_mutex_unlock(&wk->mu);
      break;
    }
    ce_dnode *d = wk->stack.v[--wk->stack.n];
    wk->busy++;
    pm_mutex_unlock(&wk->mu);
    if (!ce_interrupted(c)) list_dir(c, d, &found);
    ce_dnode_release(c, d);
    if (c->update) order_found(&found);
    pm_mutex_lock(&wk->mu);
    /* The last is taken first, as by one thread's depth-first walk. */
    for (size_t i = 0; i < found.n; i++) push(&wk->stack, found.v[i]);
    found.n = 0;
    wk->busy--;
    pm_cond_broadcast(&wk->cv);
    pm_mutex_unlock(&wk->mu);
  }
  free(found.v);
}

void ce_walker_main(void *arg) {
  ce_ctx *c = arg;
  walk wk = {.c = c};
  pm_mutex_init(&wk.mu);
  pm_cond_init(&wk.cv);
  ce_dnode *root = new_dnode(NULL, pm_xstrdup(""), &(pm_stat){0});
  int rc = pm_fs_fstat(c->fs, c->src_fd, &root->st);
  root->created = true;
  if (rc) ce_count_error(c, "read metadata of", c->src, rc);
  push(&wk.stack, root);
  /* An update lists SRC and DST directories several at a time: most of a
   * cold update's time is waiting for directory blocks, read one at a
   * time by each listing, and a disk serves several at once. */
  pm_thread helpers[WALK_THREADS - 1];
  unsigned nh = 0;
  if (c->update)
    while (nh < WALK_THREADS - 1 &&
           pm_thread_create(&helpers[nh], walk_thread, &wk) == 0)
      nh++;
  walk_thread(&wk);
  for (unsigned i = 0; i < nh; i++) pm_thread_join(&helpers[i]);
  free(wk.stack.v);
  pm_cond_destroy(&wk.cv);
  pm_mutex_destroy(&wk.mu);
  ce_queue_close(c);
  atomic_store(&c->walk_done, true);
  ce_signal_done(c);
}
