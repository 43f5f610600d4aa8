/* fileutil.c - whole-file chores over a pm_fs_ops table (see fileutil.h):
 * reading and writing whole files, atomic replacement, mkdir -p, tree
 * removal beneath a handle, copying one file. Only the table is used, so
 * every backend and every fault-injecting wrapper gets the same
 * behaviour; nothing here reports. */
#include "fileutil.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "sys.h"
#include "util.h"

static atomic_uint tmp_counter;

int pm_file_write_all(const pm_fs *fs, pm_fd fd, const void *buf,
                      size_t len, uint64_t off) {
  const uint8_t *p = buf;
  while (len) {
    int64_t n = pm_fs_pwrite(fs, fd, p, len, off);
    if (n < 0) return (int)n;
    if (n == 0) { /* no progress and no error: do not spin */
      pm_oserr_set(0);
      return PM_EIO;
    }
    p += n;
    len -= (size_t)n;
    off += (uint64_t)n;
  }
  return 0;
}

int pm_file_open_regular(const pm_fs *fs, const char *path, int flags,
                         uint32_t mode, pm_fd *out) {
  return pm_fs_open(fs, path, flags | PM_O_NOFOLLOW | PM_O_REGULAR, mode, out);
}

int pm_file_read_fd(const pm_fs *fs, pm_fd fd, size_t max, char **out,
                    size_t *len) {
  *out = NULL;
  *len = 0;
  pm_stat st;
  int rc = pm_fs_fstat(fs, fd, &st);
  if (rc) return rc;
  if (st.size > max || st.size > SIZE_MAX - 1) {
    pm_oserr_set(0);
    return PM_EFBIG;
  }
  size_t size = (size_t)st.size, got = 0;
  char *b = pm_xmalloc(size + 1);
  while (got < size) {
    int64_t n = pm_fs_pread(fs, fd, b + got, size - got, got);
    if (n < 0) {
      rc = (int)n;
      break;
    }
    if (n == 0) { /* it shrank while read: not the whole file */
      pm_oserr_set(0);
      rc = PM_ESHORT;
      break;
    }
    got += (size_t)n;
  }
  if (rc == 0) {
    /* A file that grew while read would leave bytes unaccounted for. */
    char extra;
    int64_t n = pm_fs_pread(fs, fd, &extra, 1, got);
    if (n < 0) {
      rc = (int)n;
    } else if (n > 0) {
      pm_oserr_set(0);
      rc = PM_ECHANGED;
    }
  }
  if (rc) {
    free(b);
    return rc;
  }
  b[got] = '\0';
  *out = b;
  *len = got;
  return 0;
}

int pm_file_read(const pm_fs *fs, const char *path, size_t max,
                 char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  pm_fd fd;
  int rc = pm_file_open_regular(fs, path, PM_O_RDONLY, 0, &fd);
  if (rc) return rc;
  rc = pm_file_read_fd(fs, fd, max, out, len);
  if (rc) {
    int keep = pm_oserr_last();
    pm_fs_close(fs, fd);
    pm_oserr_set(keep);
  } else {
    pm_fs_close(fs, fd);
  }
  return rc;
}

int pm_file_create_temp(const pm_fs *fs, const char *path, int flags,
                        uint32_t mode, pm_fd *fd, char **tmp) {
  *fd = PM_FD_INVALID;
  *tmp = NULL;
  uint32_t pid = pm_process_id();
  for (int i = 0; i < PM_FILE_TEMP_TRIES; i++) {
    /* The clock's low bits make the next free name hard to guess; the
     * counter keeps two names of this process apart. Guessing matters
     * little: O_EXCL|O_NOFOLLOW opens nothing that is already there. */
    unsigned n = atomic_fetch_add(&tmp_counter, 1);
    unsigned salt = (unsigned)(pm_now_ns() & 0xFFFFFu);
    char *name = pm_xasprintf("%s.tmp-%u-%u%05x", path, pid, n, salt);
    int rc = pm_fs_open(fs, name,
                      (flags & PM_O_ACCMODE) | PM_O_CREAT | PM_O_EXCL |
                          PM_O_NOFOLLOW,
                      mode, fd);
    if (rc != PM_EEXIST) {
      *tmp = name; /* on failure too, for the caller's report */
      return rc;
    }
    free(name);
  }
  pm_oserr_set(0);
  return PM_EEXIST;
}

/* The code a name holding something other than a regular file is
 * refused with. */
static int type_err(pm_ftype t) {
  return t == PM_T_SYMLINK ? PM_ELOOP
         : t == PM_T_DIR   ? PM_EISDIR
                           : PM_ESPECIAL;
}

/* Syncs the folder holding `path`, so that a rename or a new name in it
 * survives a crash. A file system or OS that cannot sync a folder, or a
 * folder this user may list but not open so (PM_EINVAL, PM_ENOTSUP,
 * PM_EACCES, PM_EPERM, PM_EBADF), has nothing more to offer: not an
 * error, since the rename has happened and a caller told otherwise would
 * take the old file for still in place. */
static int sync_parent(const pm_fs *fs, const char *path) {
  char *parent, *name;
  pm_path_split(path, &parent, &name);
  pm_fd d;
  int rc = pm_fs_open(fs, parent, PM_O_RDONLY | PM_O_DIRECTORY, 0, &d);
  if (rc == 0) {
    rc = pm_fs_fsync(fs, d, false);
    int keep = pm_oserr_last();
    pm_fs_close(fs, d);
    pm_oserr_set(keep);
  }
  if (rc == PM_EINVAL || rc == PM_ENOTSUP || rc == PM_EACCES ||
      rc == PM_EPERM || rc == PM_EBADF)
    rc = 0;
  free(parent);
  free(name);
  return rc;
}

int pm_file_write_atomic(const pm_fs *fs, const char *path,
                         const void *data, size_t len, uint32_t mode,
                         unsigned flags) {
  /* What the rename would replace must be a regular file (or nothing): a
   * symlink there is refused, not replaced and not followed. */
  pm_stat st;
  int rc = pm_fs_stat(fs, path, false, &st);
  if (rc == 0 && st.type != PM_T_FILE) {
    pm_oserr_set(0);
    return type_err(st.type);
  }
  if (rc < 0 && rc != PM_ENOENT) return rc;
  pm_fd fd;
  char *tmp;
  rc = pm_file_create_temp(fs, path, PM_O_WRONLY, mode, &fd, &tmp);
  if (rc) {
    free(tmp);
    return rc;
  }
  rc = pm_file_write_all(fs, fd, data, len, 0);
  if (rc == 0 && (flags & PM_FILE_SYNC)) rc = pm_fs_fsync(fs, fd, false);
  int rc2 = pm_fs_close(fs, fd);
  if (rc == 0) rc = rc2;
  if (rc == 0) rc = pm_fs_rename(fs, tmp, path);
  if (rc < 0) {
    /* The temporary is ours (created with O_EXCL): removing it is safe.
     * The code reported is the failure's, not the removal's. */
    int keep = pm_oserr_last();
    pm_fs_unlink(fs, tmp);
    pm_oserr_set(keep);
  } else if (flags & PM_FILE_SYNC) {
    rc = sync_parent(fs, path);
  }
  free(tmp);
  return rc;
}

int pm_file_mkdirs(const pm_fs *fs, const char *path, uint32_t mode,
                   uint64_t *made) {
  char *p = pm_xstrdup(path);
  size_t root = pm_path_root_len(p);
  int rc = 0;
  for (char *s = p + root;; s++) {
    if (*s != '/' && *s) continue;
    char c = *s;
    *s = '\0';
    /* Empty components ("a//b", a trailing '/') make nothing. */
    if (s > p + root && s[-1] != '/') {
      rc = pm_fs_mkdir(fs, p, mode);
      if (rc == 0) {
        if (made) ++*made;
      } else {
        /* Exists (or the OS refuses to say, as mkdir of a folder one may
         * not write does on some systems): fine when it is a folder. */
        int keep = pm_oserr_last();
        pm_stat st;
        if (pm_fs_stat(fs, p, true, &st) == 0) {
          rc = st.type == PM_T_DIR ? 0 : PM_ENOTDIR;
          if (rc) pm_oserr_set(0);
        } else {
          pm_oserr_set(keep);
        }
      }
    }
    *s = c;
    if (rc || !c) break;
  }
  free(p);
  return rc;
}

/* Removes what lies under `rel` of the folder handle `root` (rel "" for
 * root itself: its contents only), never following a link: each entry is
 * reached beneath root, a symlink removed itself. */
static int remove_under(const pm_fs *fs, pm_fd root, const char *rel,
                        char **failed) {
  pm_dir *d;
  int rc = pm_fs_opendir_at(fs, root, rel, &d);
  if (rc) {
    if (failed) *failed = pm_xstrdup(rel);
    return rc;
  }
  pm_strlist names = {0};
  pm_dirent e;
  while ((rc = pm_fs_readdir(fs, d, &e)) > 0)
    if (strcmp(e.name, ".") && strcmp(e.name, ".."))
      pm_strlist_add(&names, e.name);
  pm_fs_closedir(fs, d);
  if (rc < 0 && failed) *failed = pm_xstrdup(rel);
  if (rc > 0) rc = 0;
  for (size_t i = 0; i < names.n && rc == 0; i++) {
    /* Ctrl-C: stop between entries; what is left is removed by a rerun
     * as it would have been now. */
    if (pm_interrupted()) {
      pm_oserr_set(0);
      rc = PM_ECANCELED;
      break;
    }
    char *c = *rel ? pm_xasprintf("%s/%s", rel, names.v[i])
                   : pm_xstrdup(names.v[i]);
    pm_stat st;
    rc = pm_fs_stat_at(fs, root, c, &st);
    if (rc == 0 && st.type == PM_T_DIR) {
      rc = remove_under(fs, root, c, failed);
      if (rc == 0) rc = pm_fs_rmdir_at(fs, root, c);
    } else if (rc == 0) {
      rc = pm_fs_unlink_at(fs, root, c);
    }
    if (rc == PM_ENOENT) rc = 0; /* gone meanwhile */
    if (rc && failed && !*failed) *failed = c;
    else free(c);
  }
  pm_strlist_free(&names);
  return rc;
}

int pm_file_remove_tree(const pm_fs *fs, const char *path,
                        char **failed) {
  if (failed) *failed = NULL;
  pm_stat st;
  int rc = pm_fs_stat(fs, path, false, &st);
  if (rc == PM_ENOENT) return 0;
  if (rc == 0 && st.type != PM_T_DIR) {
    /* A file, or a link: the name itself goes, never what it points to. */
    rc = pm_fs_unlink(fs, path);
    if (rc == PM_ENOENT) rc = 0;
  } else if (rc == 0) {
    pm_fd root;
    rc = pm_fs_open(fs, path, PM_O_RDONLY | PM_O_DIRECTORY | PM_O_NOFOLLOW, 0,
                  &root);
    if (rc == 0) {
      char *rel = NULL;
      rc = remove_under(fs, root, "", &rel);
      int keep = pm_oserr_last();
      pm_fs_close(fs, root);
      pm_oserr_set(keep);
      if (rc && failed) *failed = rel && *rel ? pm_path_join(path, rel)
                                              : pm_xstrdup(path);
      free(rel);
      if (rc) return rc;
      rc = pm_fs_rmdir(fs, path);
      if (rc == PM_ENOENT) rc = 0;
    }
  }
  if (rc && failed && !*failed) *failed = pm_xstrdup(path);
  return rc;
}

int pm_file_copy_fd(const pm_fs *fs, pm_fd in, pm_fd out,
                    uint64_t *copied) {
  enum { BUFSZ = 1 << 16 };
  char *buf = pm_xmalloc(BUFSZ);
  uint64_t off = 0;
  int rc = 0;
  for (;;) {
    int64_t n = pm_fs_pread(fs, in, buf, BUFSZ, off);
    if (n <= 0) {
      if (n < 0) rc = (int)n;
      break;
    }
    rc = pm_file_write_all(fs, out, buf, (size_t)n, off);
    if (rc) break;
    off += (uint64_t)n;
  }
  free(buf);
  if (copied) *copied = off;
  return rc;
}

int pm_file_copy(const pm_fs *fs, const char *src, const char *dst,
                 unsigned flags) {
  pm_fd in, out;
  int rc = pm_file_open_regular(fs, src, PM_O_RDONLY, 0, &in);
  if (rc) return rc;
  pm_stat st;
  rc = pm_fs_fstat(fs, in, &st);
  if (rc == 0)
    rc = pm_fs_open(fs, dst, PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL | PM_O_NOFOLLOW,
                  st.mode & 07777, &out);
  if (rc) {
    int keep = pm_oserr_last();
    pm_fs_close(fs, in);
    pm_oserr_set(keep);
    return rc;
  }
  rc = pm_file_copy_fd(fs, in, out, NULL);
  if (rc == 0) rc = pm_fs_fchmod(fs, out, st.mode & 07777);
  if (rc == 0) rc = pm_fs_futimes(fs, out, &st.atime, &st.mtime);
  if (rc == 0 && (flags & PM_FILE_SYNC)) rc = pm_fs_fsync(fs, out, false);
  int keep = pm_oserr_last();
  int rc2 = pm_fs_close(fs, out);
  if (rc == 0) rc = rc2;
  else pm_oserr_set(keep);
  pm_fs_close(fs, in);
  if (rc) {
    keep = pm_oserr_last();
    pm_fs_unlink(fs, dst); /* ours: created with O_EXCL */
    pm_oserr_set(keep);
  }
  if (rc == 0 && (flags & PM_FILE_SYNC)) rc = sync_parent(fs, dst);
  return rc;
}
