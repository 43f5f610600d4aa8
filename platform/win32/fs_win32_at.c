/* fs_win32_at.c - the file-system operations beneath a directory handle
 * on Windows, and directory listing on a handle.
 *
 * PLACEHOLDER: every slot fails with PM_ENOTSUP until the native-API
 * implementation (NtCreateFile relative to RootDirectory, one component
 * at a time, FILE_OPEN_REPARSE_POINT; NtQueryDirectoryFile) replaces this
 * file. */
#include <windows.h>

#include "platform.h"
#include "win32.h"

int pmw_open_at(pm_fd dir, const char *rel, int flags, uint32_t mode, pm_fd *out) {
  (void)dir;
  (void)rel;
  (void)flags;
  (void)mode;
  (void)out;
  return PM_ENOTSUP;
}

int pmw_stat_at(pm_fd dir, const char *rel, pm_stat *st) {
  (void)dir;
  (void)rel;
  (void)st;
  return PM_ENOTSUP;
}

int pmw_opendir_at(pm_fd dir, const char *rel, pm_dir **out) {
  (void)dir;
  (void)rel;
  (void)out;
  return PM_ENOTSUP;
}

int pmw_mkdir_at(pm_fd dir, const char *rel, uint32_t mode) {
  (void)dir;
  (void)rel;
  (void)mode;
  return PM_ENOTSUP;
}

int pmw_symlink_at(const char *target, pm_fd dir, const char *rel) {
  (void)target;
  (void)dir;
  (void)rel;
  return PM_ENOTSUP;
}

int pmw_link_at(pm_fd odir, const char *orel, pm_fd ndir, const char *nrel) {
  (void)odir;
  (void)orel;
  (void)ndir;
  (void)nrel;
  return PM_ENOTSUP;
}

int pmw_mknod_at(pm_fd dir, const char *rel, pm_ftype type, uint32_t mode, uint64_t rdev) {
  (void)dir;
  (void)rel;
  (void)type;
  (void)mode;
  (void)rdev;
  return PM_ENOTSUP;
}

int pmw_readlink_at(pm_fd dir, const char *rel, char *buf, size_t cap, size_t *len) {
  (void)dir;
  (void)rel;
  (void)buf;
  (void)cap;
  (void)len;
  return PM_ENOTSUP;
}

int pmw_unlink_at(pm_fd dir, const char *rel) {
  (void)dir;
  (void)rel;
  return PM_ENOTSUP;
}

int pmw_rmdir_at(pm_fd dir, const char *rel) {
  (void)dir;
  (void)rel;
  return PM_ENOTSUP;
}

int pmw_chmod_at(pm_fd dir, const char *rel, uint32_t mode) {
  (void)dir;
  (void)rel;
  (void)mode;
  return PM_ENOTSUP;
}

int pmw_chown_at(pm_fd dir, const char *rel, uint32_t uid, uint32_t gid) {
  (void)dir;
  (void)rel;
  (void)uid;
  (void)gid;
  return PM_ENOTSUP;
}

int pmw_utimes_at(pm_fd dir, const char *rel, const pm_time *atime, const pm_time *mtime) {
  (void)dir;
  (void)rel;
  (void)atime;
  (void)mtime;
  return PM_ENOTSUP;
}

int pmw_xattr_list_at(pm_fd dir, const char *rel, char *buf, size_t cap, size_t *len) {
  (void)dir;
  (void)rel;
  (void)buf;
  (void)cap;
  (void)len;
  return PM_ENOTSUP;
}

int pmw_xattr_get_at(pm_fd dir, const char *rel, const char *name, void *buf, size_t cap, size_t *len) {
  (void)dir;
  (void)rel;
  (void)name;
  (void)buf;
  (void)cap;
  (void)len;
  return PM_ENOTSUP;
}

int pmw_xattr_set_at(pm_fd dir, const char *rel, const char *name, const void *val, size_t len) {
  (void)dir;
  (void)rel;
  (void)name;
  (void)val;
  (void)len;
  return PM_ENOTSUP;
}

int pmw_xattr_remove_at(pm_fd dir, const char *rel, const char *name) {
  (void)dir;
  (void)rel;
  (void)name;
  return PM_ENOTSUP;
}

int pmw_opendir_handle(HANDLE h, pm_dir **out) {
  (void)h;
  *out = NULL;
  return PM_ENOTSUP;
}

int pmw_readdir(pm_dir *d, pm_dirent *ent) {
  (void)d;
  (void)ent;
  return PM_ENOTSUP;
}

void pmw_closedir(pm_dir *d) { (void)d; }
