/* preflight.c - refuses copies that would go wrong before any byte moves:
 * a missing source, a destination inside the source (the copy would feed
 * on itself), a source inside the destination, both the same directory
 * reached two ways, or a non-empty destination without --merge.
 * Containment is checked by device and inode up the parent chain, so a
 * bind mount or a symlinked path cannot hide it. */
#include <stdlib.h>
#include <string.h>

#include "preflight.h"
#include "util.h"

/* True when the directory `dir` (canonical) is `anc` or lies below it,
 * comparing (dev, ino) of each ancestor of dir with anc's. */
static bool below(const pm_fs *fs, const char *dir, const pm_stat *anc) {
  char *p = pm_xstrdup(dir);
  bool found = false;
  for (;;) {
    pm_stat st;
    if (pm_fs_stat(fs, p, true, &st) == 0 && st.dev == anc->dev &&
        st.ino == anc->ino) {
      found = true;
      break;
    }
    /* Up one level; the root (on Windows "C:/" or a share) is the
     * last one looked at. */
    char *parent, *name;
    pm_path_split(p, &parent, &name);
    bool top = !*name || !strcmp(parent, ".");
    free(name);
    free(p);
    p = parent;
    if (top) break;
  }
  free(p);
  return found;
}

static char *canonical(const pm_fs *fs, const char *path, int *err) {
  char buf[8192];
  int rc = pm_fs_realpath(fs, path, buf, sizeof buf);
  if (rc) {
    *err = rc;
    return NULL;
  }
  return pm_xstrdup(buf);
}

void ce_roots_free(ce_roots *r) {
  free(r->src);
  free(r->dst);
  r->src = r->dst = NULL;
}

int ce_preflight(const pm_fs *fs, const char *src, const char *dst,
                 bool merge, ce_roots *roots) {
  memset(roots, 0, sizeof *roots);
  int rc = pm_fs_stat(fs, src, true, &roots->src_st);
  if (rc) {
    pm_report_error("read source directory", src, rc);
    return rc;
  }
  if (roots->src_st.type != PM_T_DIR) {
    pm_oserr_set(0);
    pm_report_error("use as source directory", src, PM_ENOTDIR);
    return PM_ENOTDIR;
  }
  roots->src = canonical(fs, src, &rc);
  if (!roots->src) {
    pm_report_error("resolve source path", src, rc);
    return rc;
  }

  pm_stat dst_st;
  rc = pm_fs_stat(fs, dst, true, &dst_st);
  if (rc == 0) {
    if (dst_st.type != PM_T_DIR) {
      pm_oserr_set(0);
      pm_report_error("use as destination directory", dst, PM_ENOTDIR);
      ce_roots_free(roots);
      return PM_ENOTDIR;
    }
    roots->dst_exists = true;
    roots->dst = canonical(fs, dst, &rc);
  } else if (rc == PM_ENOENT) {
    /* A new DST: its parent must exist; canonicalise the parent. */
    char *parent, *name;
    pm_path_split(dst, &parent, &name);
    if (!strcmp(name, ".") || !strcmp(name, "..") || !*name) {
      pm_oserr_set(0);
      pm_report_error("use as destination directory", dst, PM_EINVAL);
      free(parent);
      free(name);
      ce_roots_free(roots);
      return PM_EINVAL;
    }
    char *cparent = canonical(fs, parent, &rc);
    if (!cparent) {
      pm_report_error("find the parent of the destination", dst, rc);
      free(parent);
      free(name);
      ce_roots_free(roots);
      return rc;
    }
    roots->dst = pm_path_join(cparent, name);
    /* The new directory would be created inside its parent: if that
     * parent is SRC or below it, DST is inside SRC. */
    if (below(fs, cparent, &roots->src_st)) {
      pm_oserr_set(0);
      pm_report_errorf(PM_EINVAL,
                       "destination '%s' lies inside the source '%s'", dst,
                       src);
      free(cparent);
      free(parent);
      free(name);
      ce_roots_free(roots);
      return PM_EINVAL;
    }
    free(cparent);
    free(parent);
    free(name);
    return 0;
  } else {
    pm_report_error("read destination directory", dst, rc);
    ce_roots_free(roots);
    return rc;
  }
  if (!roots->dst) {
    pm_report_error("resolve destination path", dst, rc);
    ce_roots_free(roots);
    return rc;
  }
  pm_oserr_set(0);
  if (dst_st.dev == roots->src_st.dev && dst_st.ino == roots->src_st.ino) {
    pm_report_errorf(PM_EINVAL,
                     "source '%s' and destination '%s' are the same directory",
                     src, dst);
    ce_roots_free(roots);
    return PM_EINVAL;
  }
  if (below(fs, roots->dst, &roots->src_st)) {
    pm_report_errorf(PM_EINVAL, "destination '%s' lies inside the source '%s'",
                     dst, src);
    ce_roots_free(roots);
    return PM_EINVAL;
  }
  if (below(fs, roots->src, &dst_st)) {
    pm_report_errorf(PM_EINVAL, "source '%s' lies inside the destination '%s'",
                     src, dst);
    ce_roots_free(roots);
    return PM_EINVAL;
  }
  if (!merge) {
    pm_dir *d;
    rc = pm_fs_opendir(fs, roots->dst, &d);
    if (rc) {
      pm_report_error("list destination directory", dst, rc);
      ce_roots_free(roots);
      return rc;
    }
    pm_dirent ent;
    int r = pm_fs_readdir(fs, d, &ent);
    pm_fs_closedir(fs, d);
    if (r > 0) {
      pm_oserr_set(0);
      pm_report_errorf(PM_EEXIST,
                       "destination '%s' is not empty (use --merge to copy "
                       "into it; an interrupted copy resumes without it while "
                       "its journal DST.pomove-journal is there)",
                       dst);
      ce_roots_free(roots);
      return PM_EEXIST;
    }
  }
  return 0;
}
