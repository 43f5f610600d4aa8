/* listing.h - one directory's entries, read whole and sorted, for the
 * level-by-level walks of the audits and of `pomove hash`: memory stays
 * bounded by the largest directory times the depth, never by the tree;
 * and the depth-first walk in path order built on them (vf_walk), shared
 * by `pomove hash` and the manifest audit's search for extra files.
 * Owner: verify/. */
#ifndef VF_LISTING_H
#define VF_LISTING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "platform.h"

typedef struct vf_dirent {
  char *name;
  pm_ftype type; /* never PM_T_UNKNOWN: resolved with lstat when needed */
} vf_dirent;

typedef struct vf_listing {
  vf_dirent *e;
  size_t n;
} vf_listing;

enum {
  VF_SORT_NAME, /* plain byte order of names (for merging two listings) */
  /* Byte order of the full paths a depth-first walk produces: a directory
   * sorts as its name followed by '/', so "a.b" comes before "a/x". */
  VF_SORT_PATH
};

/* Reads directory `path`. 0 or PM_E*; on error *op names the failed
 * call ("open directory", "read directory", "stat"). */
int vf_list_dir(const pm_fs *fs, const char *path, int sort,
                vf_listing *out, const char **op);
/* The same for `rel` beneath the directory handle `dir`, with the fs
 * table's *_at calls (no symlink followed in any component). */
int vf_list_dir_at(const pm_fs *fs, pm_fd dir, const char *rel, int sort,
                   vf_listing *out, const char **op);
void vf_listing_free(vf_listing *l);

/* A depth-first walk of a tree in VF_SORT_PATH order: the relative paths
 * come out in byte order of the whole path, as `LC_ALL=C sort` puts them.
 * One directory's listing per level is kept. */
typedef struct vf_walk vf_walk;

typedef struct vf_walk_item {
  /* Relative to the root ("" for the root itself), '/' separated; owned
   * by the walk and valid until the next vf_walk_next. */
  const char *rel;
  pm_ftype type; /* VF_WALK_ENTRY: what it is (never PM_T_DIR) */
  /* VF_WALK_UNLISTED: the PM_E* code, the failed call ("open directory",
   * "read directory", "stat") and the OS's own code. */
  int err;
  const char *op;
  int oserr;
} vf_walk_item;

enum {
  VF_WALK_END = 0,  /* the whole tree was walked, or the walk was stopped */
  VF_WALK_DIR,      /* a directory was listed (the root first); its
                     * entries follow */
  VF_WALK_UNLISTED, /* a directory could not be listed: nothing below it
                     * is walked (reporting it is the caller's) */
  VF_WALK_ENTRY     /* anything that is not a directory */
};

/* Starts a walk of the tree at `root`. With `dir` a handle on root, every
 * directory is listed beneath it (vf_list_dir_at: no symlink followed in
 * any component, so a directory swapped for a symlink cannot lead the
 * walk out); with PM_FD_INVALID, by path. `root` is copied; `dir` stays
 * the caller's. When `interrupt` (may be NULL) is set, the next
 * vf_walk_next ends the walk without listing anything more. */
vf_walk *vf_walk_new(const pm_fs *fs, pm_fd dir, const char *root,
                     atomic_int *interrupt);
/* The next step: VF_WALK_* with *it filled. */
int vf_walk_next(vf_walk *w, vf_walk_item *it);
void vf_walk_free(vf_walk *w);

/* The comparison behind VF_SORT_PATH; exposed for tests. */
int vf_path_order_cmp(const char *a, bool a_dir, const char *b, bool b_dir);

#endif
