/* hardlinks.c - hard-link groups of the copy engine. The first path of a
 * group met by any worker is copied; the others are linked to it in DST
 * and take its hash and its state record when it is done (paths met while
 * it is still being copied wait on its entry, their directory held open):
 * every path of a group has a record, so that the next update finds the
 * group unchanged whichever path it meets first. The groups are a
 * hash table of (dev, ino) in the shared state, under c->hlmu. */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "worker_internal.h"

static ce_hlentry *hl_find_or_add(ce_ctx *c, uint64_t dev, uint64_t ino,
                                  const char *rel, bool *created) {
  if (c->hlcount * 2 >= c->hlcap) {
    size_t ncap = c->hlcap ? c->hlcap * 2 : 256;
    ce_hardlink **n = pm_xcalloc(ncap, sizeof *n);
    for (size_t i = 0; i < c->hlcap; i++) {
      ce_hardlink *h = c->hl[i];
      if (!h) continue;
      size_t k = (h->e.ino * 0x9E3779B97F4A7C15ull ^ h->e.dev) & (ncap - 1);
      while (n[k]) k = (k + 1) & (ncap - 1);
      n[k] = h;
    }
    free(c->hl);
    c->hl = n;
    c->hlcap = ncap;
  }
  size_t k = (ino * 0x9E3779B97F4A7C15ull ^ dev) & (c->hlcap - 1);
  while (c->hl[k]) {
    if (c->hl[k]->e.ino == ino && c->hl[k]->e.dev == dev) {
      *created = false;
      return &c->hl[k]->e;
    }
    k = (k + 1) & (c->hlcap - 1);
  }
  ce_hardlink *h = pm_xcalloc(1, sizeof *h);
  h->e.dev = dev;
  h->e.ino = ino;
  h->e.rel = pm_xstrdup(rel);
  c->hl[k] = h;
  c->hlcount++;
  *created = true;
  return &h->e;
}

void ce_hardlinks_free(ce_ctx *c) {
  for (size_t i = 0; i < c->hlcap; i++) {
    ce_hardlink *h = c->hl[i];
    if (!h) continue;
    for (size_t k = 0; k < h->e.nwaiting; k++) free(h->e.waiting[k].rel);
    free(h->e.waiting);
    free(h->e.rel);
    free(h);
  }
  free(c->hl);
  c->hl = NULL;
  c->hlcap = c->hlcount = 0;
}

/* Makes DST's `rel` a hard link of DST's `first`. An entry already there
 * is replaced, unless it is that very file (an update or a resumed run
 * finds the group linked already): relinking it would only change its
 * change time, which the next update reads as a change by hand. */
int ce_hl_link(ce_ctx *c, const char *first, const char *rel) {
  int lrc = pm_fs_link_at(c->fs, c->dst_fd, first, c->dst_fd, rel);
  if (lrc != PM_EEXIST) return lrc;
  pm_stat a, b;
  if (pm_fs_stat_at(c->fs, c->dst_fd, first, &a) == 0 &&
      pm_fs_stat_at(c->fs, c->dst_fd, rel, &b) == 0 && a.type == PM_T_FILE &&
      b.type == PM_T_FILE && a.dev == b.dev && a.ino == b.ino)
    return 0;
  if (pm_fs_unlink_at(c->fs, c->dst_fd, rel)) return PM_EEXIST;
  return pm_fs_link_at(c->fs, c->dst_fd, first, c->dst_fd, rel);
}

/* Links the paths that waited for a hard-link group's first path and
 * passes them its hash and state record; or, when the first failed,
 * fails them. */
void ce_hl_settle(worker *w, ce_hlentry *e, bool ok, const pm_hash128 *h,
                  const ce_jident *id, const ce_srec *sr) {
  ce_ctx *c = w->c;
  pm_mutex_lock(&c->hlmu);
  e->state = ok ? 1 : 2;
  e->has_sr = ok && sr;
  if (ok) {
    e->hash = *h;
    e->id = *id;
    if (sr) e->sr = *sr;
  }
  struct hlwait *waiting = e->waiting;
  size_t n = e->nwaiting;
  e->waiting = NULL;
  e->nwaiting = 0;
  char *first = pm_xstrdup(e->rel);
  pm_mutex_unlock(&c->hlmu);
  for (size_t i = 0; i < n; i++) {
    char *dp = pm_path_join(c->dst, waiting[i].rel);
    if (ok) {
      int lrc = ce_hl_link(c, first, waiting[i].rel);
      if (lrc) {
        ce_count_error(c, "create hard link", dp, lrc);
        free(waiting[i].rel);
      } else {
        atomic_fetch_add(&c->hardlinks, 1);
        ce_batch_add(w, waiting[i].rel, id, h, NULL, sr);
      }
    } else {
      /* A first path dropped or cancelled by an interrupt did not fail:
       * its group is simply not done, and the rerun links it. */
      if (!ce_interrupted(c)) {
        pm_oserr_set(0);
        ce_count_error(c, "complete hard link (its first path failed)", dp,
                       PM_EIO);
      }
      free(waiting[i].rel);
    }
    free(dp);
    ce_dnode_release(c, waiting[i].dir);
  }
  free(first);
  free(waiting);
}

/* A file with more than one link (f->st.nlink > 1) meets its group:
 * the first path met is copied (f->hl is set to its group, false); any
 * other path is linked to the first, now or when the first is done, and
 * is then finished here: true, with f and its task freed. */
bool ce_hl_join(worker *w, fstate *f) {
  ce_ctx *c = w->c;
  ce_task *t = f->t;
  bool created;
  pm_mutex_lock(&c->hlmu);
  ce_hlentry *e = hl_find_or_add(c, f->st.dev, f->st.ino, t->rel, &created);
  if (!created && !strcmp(e->rel, t->rel)) {
    /* The first path itself, copied again after a failed try. */
    e->state = 0;
    e->has_sr = false;
    created = true;
  }
  if (created) {
    f->hl = e;
    pm_mutex_unlock(&c->hlmu);
  } else {
    int state = e->state;
    pm_hash128 h = e->hash;
    ce_jident hid = e->id;
    bool has_sr = e->has_sr;
    ce_srec sr;
    if (has_sr) sr = e->sr;
    int lrc = 0;
    if (state == 0) {
      /* The first path is still being copied (its file may not even
       * exist yet): link when it is done, keeping the directory open. */
      e->waiting = pm_xrealloc(e->waiting,
                               (e->nwaiting + 1) * sizeof *e->waiting);
      e->waiting[e->nwaiting].rel = pm_xstrdup(t->rel);
      e->waiting[e->nwaiting].dir = t->dir;
      e->nwaiting++;
    } else if (state == 1) {
      lrc = ce_hl_link(c, e->rel, t->rel);
    }
    pm_mutex_unlock(&c->hlmu);
    pm_fs_close(c->fs, f->sfd);
    /* Another group's path now (the file was replaced while it was
     * busy): the paths that waited for it are not linked to this one. */
    if (f->hl) ce_hl_settle(w, f->hl, false, NULL, NULL, NULL);
    if (state == 1) {
      if (lrc) {
        ce_count_error(c, "create hard link", f->dp, lrc);
      } else {
        atomic_fetch_add(&c->hardlinks, 1);
        ce_batch_add(w, pm_xstrdup(t->rel), &hid, &h, NULL,
                     has_sr ? &sr : NULL);
      }
    } else if (state == 2) {
      pm_oserr_set(0);
      ce_count_error(c, "complete hard link (its first path failed)",
                     f->dp, PM_EIO);
    }
    if (state != 0) ce_dnode_release(c, t->dir);
    task_free(t);
    fstate_free(f);
    return true;
  }
  return false;
}
