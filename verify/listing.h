/* listing.h - one directory's entries, read whole and sorted, for the
 * level-by-level walks of the audits and of `pomove hash`: memory stays
 * bounded by the largest directory times the depth, never by the tree.
 * Owner: verify/. */
#ifndef VF_LISTING_H
#define VF_LISTING_H

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

/* The comparison behind VF_SORT_PATH; exposed for tests. */
int vf_path_order_cmp(const char *a, bool a_dir, const char *b, bool b_dir);

#endif
