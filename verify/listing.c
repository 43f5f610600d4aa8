/* listing.c - see listing.h. */
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "util.h"

int vf_path_order_cmp(const char *a, bool a_dir, const char *b, bool b_dir) {
  const unsigned char *x = (const unsigned char *)a;
  const unsigned char *y = (const unsigned char *)b;
  while (*x && *x == *y) {
    x++;
    y++;
  }
  /* At the end of a name its sort key continues with '/' for a directory
   * and ends for anything else. */
  int cx = *x ? *x : a_dir ? '/' : 0;
  int cy = *y ? *y : b_dir ? '/' : 0;
  if (cx != cy) return cx < cy ? -1 : 1;
  /* Equal so far: one name was a prefix of the other and its '/' matched
   * a '/' of the other, which no name holds; or both names are equal. */
  return *x ? 1 : *y ? -1 : 0;
}

static int cmp_name(const void *pa, const void *pb) {
  const vf_dirent *a = pa, *b = pb;
  return strcmp(a->name, b->name);
}

static int cmp_path(const void *pa, const void *pb) {
  const vf_dirent *a = pa, *b = pb;
  return vf_path_order_cmp(a->name, a->type == PM_T_DIR, b->name,
                           b->type == PM_T_DIR);
}

void vf_listing_free(vf_listing *l) {
  for (size_t i = 0; i < l->n; i++) free(l->e[i].name);
  free(l->e);
  l->e = NULL;
  l->n = 0;
}

int vf_list_dir(const pm_fs *fs, const char *path, int sort,
                vf_listing *out, const char **op) {
  return vf_list_dir_at(fs, PM_FD_INVALID, path, sort, out, op);
}

/* dir PM_FD_INVALID: `path` is a plain path (vf_list_dir). */
int vf_list_dir_at(const pm_fs *fs, pm_fd dir, const char *path, int sort,
                   vf_listing *out, const char **op) {
  out->e = NULL;
  out->n = 0;
  pm_dir *d;
  bool at = dir != PM_FD_INVALID;
  int rc = at ? pm_fs_opendir_at(fs, dir, path, &d) : pm_fs_opendir(fs, path, &d);
  if (rc) {
    *op = "open directory";
    return rc;
  }
  size_t cap = 0;
  pm_dirent de;
  while ((rc = pm_fs_readdir(fs, d, &de)) > 0) {
    if (out->n == cap) {
      cap = cap ? cap * 2 : 64;
      out->e = pm_xrealloc(out->e, cap * sizeof *out->e);
    }
    out->e[out->n].name = pm_xstrdup(de.name);
    out->e[out->n].type = de.type;
    out->n++;
  }
  pm_fs_closedir(fs, d);
  if (rc < 0) {
    *op = "read directory";
    vf_listing_free(out);
    return rc;
  }
  for (size_t i = 0; i < out->n; i++) {
    if (out->e[i].type != PM_T_UNKNOWN) continue;
    /* Some file systems do not fill d_type. */
    char *p = pm_path_join(path, out->e[i].name);
    pm_stat st;
    rc = at ? pm_fs_stat_at(fs, dir, p, &st) : pm_fs_stat(fs, p, false, &st);
    free(p);
    if (rc == PM_ENOENT) {
      /* Gone since readdir: as if it had never been listed. */
      free(out->e[i].name);
      out->e[i--] = out->e[--out->n];
      continue;
    }
    if (rc) {
      *op = "stat";
      vf_listing_free(out);
      return rc;
    }
    out->e[i].type = st.type;
  }
  if (out->n > 1)
    qsort(out->e, out->n, sizeof *out->e,
          sort == VF_SORT_PATH ? cmp_path : cmp_name);
  return 0;
}

/* ---- the walk ---- */

typedef struct wframe {
  char *rel;
  vf_listing l;
  size_t i;
} wframe;

struct vf_walk {
  const pm_fs *fs;
  pm_fd dir;
  char *root;
  atomic_int *interrupt;
  wframe *st;
  size_t depth, cap;
  char *pending; /* a directory to list at the next step */
  char *cur;     /* the entry or unlisted directory handed out last */
};

vf_walk *vf_walk_new(const pm_fs *fs, pm_fd dir, const char *root,
                     atomic_int *interrupt) {
  vf_walk *w = pm_xcalloc(1, sizeof *w);
  w->fs = fs;
  w->dir = dir;
  w->root = pm_xstrdup(root);
  w->interrupt = interrupt;
  w->pending = pm_xstrdup("");
  return w;
}

static void walk_pop(vf_walk *w) {
  wframe *f = &w->st[--w->depth];
  vf_listing_free(&f->l);
  free(f->rel);
}

int vf_walk_next(vf_walk *w, vf_walk_item *it) {
  free(w->cur);
  w->cur = NULL;
  for (;;) {
    if (w->interrupt && *w->interrupt) {
      /* Ctrl-C: unwind without listing anything more. */
      free(w->pending);
      w->pending = NULL;
      while (w->depth) walk_pop(w);
      return VF_WALK_END;
    }
    if (w->pending) {
      char *rel = w->pending;
      w->pending = NULL;
      vf_listing l;
      const char *op;
      int rc;
      if (w->dir != PM_FD_INVALID) {
        rc = vf_list_dir_at(w->fs, w->dir, rel, VF_SORT_PATH, &l, &op);
      } else {
        char *p = pm_path_join(w->root, rel);
        rc = vf_list_dir(w->fs, p, VF_SORT_PATH, &l, &op);
        free(p);
      }
      it->rel = rel;
      if (rc) {
        it->err = rc;
        it->op = op;
        it->oserr = pm_oserr_last();
        w->cur = rel;
        return VF_WALK_UNLISTED;
      }
      if (w->depth == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->st = pm_xrealloc(w->st, w->cap * sizeof *w->st);
      }
      w->st[w->depth++] = (wframe){rel, l, 0};
      return VF_WALK_DIR;
    }
    if (!w->depth) return VF_WALK_END;
    wframe *f = &w->st[w->depth - 1];
    if (f->i == f->l.n) {
      walk_pop(w);
      continue;
    }
    vf_dirent *e = &f->l.e[f->i++];
    char *r = pm_path_join(f->rel, e->name);
    if (e->type == PM_T_DIR) {
      w->pending = r;
      continue;
    }
    w->cur = r;
    it->rel = r;
    it->type = e->type;
    return VF_WALK_ENTRY;
  }
}

void vf_walk_free(vf_walk *w) {
  if (!w) return;
  while (w->depth) walk_pop(w);
  free(w->st);
  free(w->pending);
  free(w->cur);
  free(w->root);
  free(w);
}
