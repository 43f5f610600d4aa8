/* beneath.c - opening a path named by a manifest without leaving the tree.
 * A manifest is input pomove did not necessarily write: a line may name
 * "/etc/shadow", "../x", or a path through a symlink that points out of
 * DIR. Reading such a file and printing its hash would make `verify
 * --manifest` a hash oracle for any file the user can read. So a path is
 * first checked by its syntax (vf_rel_check: relative, no "." or ".."
 * component, no empty component), then opened by vf_open_beneath, which
 * refuses a symlink in any component, the last one included.
 *
 * vf_open_beneath uses only the pm_fs_ops table as it is today, which
 * opens by path: it lstat()s each component from the root down and
 * refuses a symlink, opens the last one with PM_O_NOFOLLOW|PM_O_REGULAR,
 * checks with fstat that the handle is the file it lstat()ed, and then
 * lstat()s the directories again to see that none was swapped meanwhile.
 * That leaves a window (a directory swapped for a symlink and back
 * between the two passes) that only a real dir-relative open closes.
 * When the platform table offers one (openat2 with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS on Linux, a handle-relative open with
 * FILE_FLAG_OPEN_REPARSE_POINT on Windows), this function becomes that
 * single call and keeps its contract. Owner: verify/. */
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "util.h"

const char *vf_rel_check(const char *rel) {
  if (!rel[0]) return "empty path";
  if (rel[0] == '/') return "absolute path";
  for (const char *p = rel;;) {
    size_t n = strcspn(p, "/");
    if (n == 0) return "empty path component (\"//\" or a trailing \"/\")";
    if (n == 1 && p[0] == '.') return "\".\" component";
    if (n == 2 && p[0] == '.' && p[1] == '.') return "\"..\" component";
    if (!p[n]) return NULL;
    p += n + 1;
  }
}

/* lstat()s root/rel[0..end) for every component before the last, and
 * records each directory's identity in ids (2 per level). */
static int check_dirs(const pm_fs_ops *fs, const char *root, const char *rel,
                      uint64_t *ids, size_t *ndirs, bool compare) {
  size_t k = 0;
  for (const char *slash = strchr(rel, '/'); slash;
       slash = strchr(slash + 1, '/')) {
    char *part = pm_xasprintf("%.*s", (int)(slash - rel), rel);
    char *p = pm_path_join(root, part);
    free(part);
    pm_stat st;
    int rc = fs->stat(p, false, &st);
    free(p);
    if (rc) return rc;
    if (st.type == PM_T_SYMLINK) return PM_ELOOP;
    if (st.type != PM_T_DIR) {
      pm_oserr_set(0);
      return PM_ENOTDIR;
    }
    if (compare) {
      if (ids[2 * k] != st.dev || ids[2 * k + 1] != st.ino) return PM_ECHANGED;
    } else {
      ids[2 * k] = st.dev;
      ids[2 * k + 1] = st.ino;
    }
    k++;
  }
  *ndirs = k;
  return 0;
}

int vf_open_beneath(const pm_fs_ops *fs, const char *root, const char *rel,
                    int flags, pm_fd *out, pm_stat *leaf, bool *leaf_ok) {
  *leaf_ok = false;
  if (vf_rel_check(rel)) {
    pm_oserr_set(0);
    return PM_EPERM;
  }
  size_t depth = 1;
  for (const char *p = rel; *p; p++) depth += *p == '/';
  uint64_t *ids = pm_xmalloc(2 * depth * sizeof *ids);
  size_t ndirs = 0;
  char *path = pm_path_join(root, rel);
  pm_fd fd = PM_FD_INVALID;
  int rc = check_dirs(fs, root, rel, ids, &ndirs, false);
  if (!rc) rc = fs->stat(path, false, leaf);
  if (!rc) {
    *leaf_ok = true;
    if (leaf->type == PM_T_SYMLINK) rc = PM_ELOOP;
    else if (leaf->type != PM_T_FILE) rc = PM_ESPECIAL; /* never opened */
  }
  if (!rc)
    rc = fs->open(path, flags | PM_O_NOFOLLOW | PM_O_REGULAR, 0, &fd);
  if (!rc) {
    pm_stat got;
    rc = fs->fstat(fd, &got);
    if (!rc && (got.dev != leaf->dev || got.ino != leaf->ino))
      rc = PM_ECHANGED;
    /* A directory swapped for a symlink after the first pass and before
     * the open shows here (unless it was swapped back already). */
    if (!rc) rc = check_dirs(fs, root, rel, ids, &ndirs, true);
    if (rc) {
      int oserr = pm_oserr_last();
      fs->close(fd);
      pm_oserr_set(oserr);
    }
  }
  if (rc == PM_ECHANGED || rc == PM_ELOOP || rc == PM_ESPECIAL)
    pm_oserr_set(0); /* verdicts of pomove, not OS failures */
  free(ids);
  free(path);
  if (!rc) *out = fd;
  return rc;
}
