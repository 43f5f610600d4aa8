/* beneath.c - opening a path named by a manifest without leaving the tree.
 * A manifest is input pomove did not necessarily write: a line may name
 * "/etc/shadow", "../x", or a path through a symlink that points out of
 * DIR. Reading such a file and printing its hash would make `verify
 * --manifest` a hash oracle for any file the user can read. So a path is
 * first checked by its syntax (vf_rel_check: relative, no "." or ".."
 * component, no empty component), then opened beneath a handle on DIR by
 * the file-system table's open_at, which follows no symlink in any
 * component, the last one included (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS on Linux; a handle-relative open that refuses
 * reparse points on Windows), so nothing swapped in the tree meanwhile
 * can lead the read outside. vf__open_root opens the handle on DIR that
 * such opens (and the walks listing beneath it) start from. Owner:
 * verify/. */
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

int vf_open_beneath(const pm_fs *fs, pm_fd root, const char *rel,
                    int flags, pm_fd *out, pm_stat *leaf, bool *leaf_ok) {
  *leaf_ok = false;
  if (vf_rel_check(rel)) {
    pm_oserr_set(0);
    return PM_EPERM;
  }
  int rc = pm_fs_open_at(fs, root, rel, flags | PM_O_RDONLY | PM_O_NOFOLLOW |
                                      PM_O_REGULAR, 0, out);
  if (rc == PM_ESPECIAL) {
    /* Say what it is: a FIFO or device is never opened for reading. */
    if (pm_fs_stat_at(fs, root, rel, leaf) == 0) *leaf_ok = true;
    rc = PM_ESPECIAL;
  }
  if (rc == PM_ELOOP || rc == PM_ESPECIAL || rc == PM_EXDEV)
    pm_oserr_set(0); /* verdicts of pomove, not OS failures */
  if (rc == PM_EXDEV) rc = PM_EPERM; /* ".." or absolute: vf_rel_check's */
  return rc;
}

int vf__open_root(const pm_fs *fs, const char *dir, pm_fd *out) {
  *out = PM_FD_INVALID;
  pm_stat st;
  int rc = pm_fs_stat(fs, dir, true, &st);
  int oserr = pm_oserr_last();
  if (!rc && st.type != PM_T_DIR) {
    rc = PM_ENOTDIR;
    oserr = 0; /* pomove's verdict: the stat itself succeeded */
  }
  const char *op = "stat";
  if (!rc) {
    op = "open directory";
    rc = pm_fs_open(fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, out);
    oserr = pm_oserr_last();
  }
  if (rc) {
    *out = PM_FD_INVALID;
    vf__report_error(op, dir, rc, oserr);
  }
  return rc;
}
