/* beneath_links_posix.c - see beneath_links.h: symbolic links, made with
 * the path-based symlink slot of the Linux table (which reaches paths
 * past PATH_MAX), never with the *_at slots the suite tests. */
#include "beneath_links.h"

#include <stdio.h>
#include <stdlib.h>

#include "platform.h"

int bl_link(const char *link, const char *rel, const char *abs, char *expect,
            size_t cap) {
  (void)abs;
  int rc = pm_fs_symlink(pm_fs_native(), rel, link);
  if (rc) {
    fprintf(stderr, "symlink %s: %s\n", link, pm_strerror(rc));
    abort();
  }
  snprintf(expect, cap, "%s", rel);
  return 0;
}

const char *bl_why_not(void) { return "symlink failed"; }
