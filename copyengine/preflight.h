/* preflight.h - checks of SRC and DST before a copy starts (private to
 * copyengine/). */
#ifndef POMOVE_PREFLIGHT_H
#define POMOVE_PREFLIGHT_H

#include <stdbool.h>

#include "platform.h"

typedef struct ce_roots {
  char *src; /* canonical */
  char *dst; /* canonical (parent canonical + name when DST is new) */
  pm_stat src_st;
  bool dst_exists;
} ce_roots;

/* Resolves and checks SRC and DST: SRC exists and is a directory; DST is
 * not SRC (also through symlinks or bind mounts), not inside SRC, does not
 * contain SRC, and is absent or an empty directory (or any directory when
 * merge is set). Reports the problem and returns PM_E*; on success fills
 * roots (free with ce_roots_free). */
int ce_preflight(const pm_fs *fs, const char *src, const char *dst,
                 bool merge, ce_roots *roots);
void ce_roots_free(ce_roots *r);

#endif
