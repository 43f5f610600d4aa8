/* fs_linux.c - the Linux file-system table.
 *
 * Paths of any length are accepted: a path longer than the kernel's
 * PATH_MAX is reached by opening its directories a piece at a time with
 * O_PATH and acting on the last component with the *at system call, so
 * the copy engine never needs to know about the limit. EINTR is retried
 * here; every other errno is translated once by pm__from_errno(). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/magic.h>

#include "linux.h"
#include "platform.h"
#include "util.h"

/* Longest piece handed to one syscall; below PATH_MAX with room. */
#define PIECE_MAX (PATH_MAX - 256)

static int fail(void) { return pm__from_errno(errno); }

/* A path resolved to (dirfd, name). For short paths dirfd is AT_FDCWD and
 * name the path itself. */
typedef struct lpath {
  int dirfd;
  const char *name;
  char *own; /* copy of the path when split */
} lpath;

static int lpath_open(const char *path, lpath *lp) {
  lp->dirfd = AT_FDCWD;
  lp->name = path;
  lp->own = NULL;
  size_t len = strlen(path);
  if (len < PIECE_MAX) return 0;
  char *p = pm_xstrdup(path);
  lp->own = p;
  char *last = strrchr(p, '/');
  if (!last || last == p) {
    errno = ENAMETOOLONG;
    return -1;
  }
  *last = '\0';
  lp->name = last + 1;
  if (strlen(lp->name) >= NAME_MAX + 1) {
    errno = ENAMETOOLONG;
    return -1;
  }
  /* Open the parent piece by piece: each piece ends at a '/' and is
   * shorter than PIECE_MAX. */
  int dfd = AT_FDCWD;
  char *cur = p;
  if (*cur == '/') {
    dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -1;
    cur++;
  }
  while (*cur) {
    size_t rest = strlen(cur);
    char *end = cur + rest;
    if (rest >= PIECE_MAX) {
      end = cur + PIECE_MAX;
      while (end > cur && *end != '/') end--;
      if (end == cur) {
        errno = ENAMETOOLONG;
        if (dfd != AT_FDCWD) close(dfd);
        return -1;
      }
    }
    char save = *end;
    *end = '\0';
    int nfd = openat(dfd, cur, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int e = errno;
    *end = save;
    if (dfd != AT_FDCWD) close(dfd);
    if (nfd < 0) {
      errno = e;
      return -1;
    }
    dfd = nfd;
    cur = *end ? end + 1 : end;
  }
  lp->dirfd = dfd;
  return 0;
}

static void lpath_close(lpath *lp) {
  if (lp->dirfd != AT_FDCWD && lp->dirfd >= 0) close(lp->dirfd);
  free(lp->own);
  lp->own = NULL;
}

static int lx_open(const char *path, int flags, uint32_t mode, pm_fd *out) {
  int f = O_CLOEXEC;
  switch (flags & PM_O_ACCMODE) {
  case PM_O_WRONLY: f |= O_WRONLY; break;
  case PM_O_RDWR: f |= O_RDWR; break;
  default: f |= O_RDONLY; break;
  }
  if (flags & PM_O_CREAT) f |= O_CREAT;
  if (flags & PM_O_EXCL) f |= O_EXCL;
  if (flags & PM_O_TRUNC) f |= O_TRUNC;
  if (flags & PM_O_DIRECT) f |= O_DIRECT;
  if (flags & PM_O_NOFOLLOW) f |= O_NOFOLLOW;
  if (flags & PM_O_DIRECTORY) f |= O_DIRECTORY;
  if (flags & PM_O_APPEND) f |= O_APPEND;
  /* O_NONBLOCK makes an open of a FIFO return at once instead of waiting
   * for a writer; it changes nothing for reads of a regular file. */
  if (flags & PM_O_REGULAR) f |= O_NONBLOCK;
  lpath lp;
  if (lpath_open(path, &lp) < 0) {
    int rc = fail();
    lpath_close(&lp);
    return rc;
  }
  int fd;
  for (;;) {
    fd = openat(lp.dirfd, lp.name, f | ((flags & PM_O_NOATIME) ? O_NOATIME : 0),
                (mode_t)mode);
    /* O_NOATIME is refused for files we do not own: drop it. */
    if (fd < 0 && errno == EPERM && (flags & PM_O_NOATIME)) {
      flags &= ~PM_O_NOATIME;
      continue;
    }
    if (fd < 0 && errno == EINTR) continue;
    break;
  }
  int rc = fd < 0 ? fail() : 0;
  lpath_close(&lp);
  if (rc) return rc;
  if (flags & PM_O_REGULAR) {
    struct stat s;
    if (fstat(fd, &s) < 0) {
      rc = fail();
      close(fd);
      return rc;
    }
    if (!S_ISREG(s.st_mode)) {
      close(fd);
      pm_oserr_set(0);
      return PM_ESPECIAL;
    }
  }
  *out = fd;
  return 0;
}

static int lx_close(pm_fd fd) {
  /* Linux releases the fd even when close reports EINTR: never retry. */
  if (close((int)fd) < 0 && errno != EINTR) return fail();
  return 0;
}

static int64_t lx_pread(pm_fd fd, void *buf, size_t len, uint64_t off) {
  ssize_t n;
  do n = pread((int)fd, buf, len, (off_t)off);
  while (n < 0 && errno == EINTR);
  return n < 0 ? fail() : n;
}

static int64_t lx_pwrite(pm_fd fd, const void *buf, size_t len, uint64_t off) {
  ssize_t n;
  do n = pwrite((int)fd, buf, len, (off_t)off);
  while (n < 0 && errno == EINTR);
  return n < 0 ? fail() : n;
}

static int lx_fsync(pm_fd fd, bool data_only) {
  int r;
  do r = data_only ? fdatasync((int)fd) : fsync((int)fd);
  while (r < 0 && errno == EINTR);
  return r < 0 ? fail() : 0;
}

static int lx_ftruncate(pm_fd fd, uint64_t size) {
  int r;
  do r = ftruncate((int)fd, (off_t)size);
  while (r < 0 && errno == EINTR);
  return r < 0 ? fail() : 0;
}

static pm_ftype mode_type(mode_t m) {
  switch (m & S_IFMT) {
  case S_IFREG: return PM_T_FILE;
  case S_IFDIR: return PM_T_DIR;
  case S_IFLNK: return PM_T_SYMLINK;
  case S_IFIFO: return PM_T_FIFO;
  case S_IFSOCK: return PM_T_SOCK;
  case S_IFCHR: return PM_T_CHR;
  case S_IFBLK: return PM_T_BLK;
  default: return PM_T_UNKNOWN;
  }
}

static void fill_stat(const struct stat *s, pm_stat *st) {
  memset(st, 0, sizeof *st);
  st->type = mode_type(s->st_mode);
  st->mode = s->st_mode & 07777;
  st->uid = s->st_uid;
  st->gid = s->st_gid;
  st->size = (uint64_t)s->st_size;
  st->blocks512 = (uint64_t)s->st_blocks;
  st->dev = s->st_dev;
  st->ino = s->st_ino;
  st->nlink = s->st_nlink;
  st->rdev = s->st_rdev;
  st->atime.sec = s->st_atim.tv_sec;
  st->atime.nsec = (int32_t)s->st_atim.tv_nsec;
  st->mtime.sec = s->st_mtim.tv_sec;
  st->mtime.nsec = (int32_t)s->st_mtim.tv_nsec;
  st->ctime.sec = s->st_ctim.tv_sec;
  st->ctime.nsec = (int32_t)s->st_ctim.tv_nsec;
}

static int lx_fstat(pm_fd fd, pm_stat *st) {
  struct stat s;
  if (fstat((int)fd, &s) < 0) return fail();
  fill_stat(&s, st);
  return 0;
}

/* Runs an *at call on a path of any length. */
#define WITH_LPATH(path, call)                                            \
  do {                                                                    \
    lpath lp_;                                                            \
    int r_;                                                               \
    if (lpath_open((path), &lp_) < 0) {                                   \
      r_ = fail();                                                        \
      lpath_close(&lp_);                                                  \
      return r_;                                                          \
    }                                                                     \
    int dfd = lp_.dirfd;                                                  \
    const char *nm = lp_.name;                                            \
    do r_ = (call);                                                       \
    while (r_ < 0 && errno == EINTR);                                     \
    r_ = r_ < 0 ? fail() : 0;                                             \
    lpath_close(&lp_);                                                    \
    return r_;                                                            \
  } while (0)

static int lx_stat(const char *path, bool follow, pm_stat *st) {
  struct stat s;
  lpath lp;
  if (lpath_open(path, &lp) < 0) {
    int rc = fail();
    lpath_close(&lp);
    return rc;
  }
  int r = fstatat(lp.dirfd, lp.name, &s, follow ? 0 : AT_SYMLINK_NOFOLLOW);
  int rc = r < 0 ? fail() : 0;
  lpath_close(&lp);
  if (!rc) fill_stat(&s, st);
  return rc;
}

struct pm_dir {
  DIR *d;
};

static int lx_opendir(const char *path, pm_dir **out) {
  pm_fd fd = PM_FD_INVALID;
  int rc = lx_open(path, PM_O_RDONLY | PM_O_DIRECTORY | PM_O_NOATIME, 0, &fd);
  if (rc) return rc;
  DIR *d = fdopendir((int)fd);
  if (!d) {
    rc = fail();
    close((int)fd);
    return rc;
  }
  pm_dir *pd = pm_xmalloc(sizeof *pd);
  pd->d = d;
  *out = pd;
  return 0;
}

static int lx_readdir(pm_dir *pd, pm_dirent *ent) {
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(pd->d);
    if (!de) return errno ? fail() : 0;
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    ent->name = de->d_name;
    ent->ino = de->d_ino;
    switch (de->d_type) {
    case DT_REG: ent->type = PM_T_FILE; break;
    case DT_DIR: ent->type = PM_T_DIR; break;
    case DT_LNK: ent->type = PM_T_SYMLINK; break;
    case DT_FIFO: ent->type = PM_T_FIFO; break;
    case DT_SOCK: ent->type = PM_T_SOCK; break;
    case DT_CHR: ent->type = PM_T_CHR; break;
    case DT_BLK: ent->type = PM_T_BLK; break;
    default: ent->type = PM_T_UNKNOWN; break;
    }
    return 1;
  }
}

static void lx_closedir(pm_dir *pd) {
  if (!pd) return;
  closedir(pd->d);
  free(pd);
}

static int lx_mkdir(const char *path, uint32_t mode) {
  WITH_LPATH(path, mkdirat(dfd, nm, (mode_t)mode));
}

static int lx_rmdir(const char *path) {
  WITH_LPATH(path, unlinkat(dfd, nm, AT_REMOVEDIR));
}

static int lx_unlink(const char *path) { WITH_LPATH(path, unlinkat(dfd, nm, 0)); }

static int two_paths(const char *a, const char *b, int which) {
  lpath la, lb;
  int rc;
  if (lpath_open(a, &la) < 0) {
    rc = fail();
    lpath_close(&la);
    return rc;
  }
  if (lpath_open(b, &lb) < 0) {
    rc = fail();
    lpath_close(&la);
    lpath_close(&lb);
    return rc;
  }
  int r;
  do r = which == 0 ? renameat(la.dirfd, la.name, lb.dirfd, lb.name)
                    : linkat(la.dirfd, la.name, lb.dirfd, lb.name, 0);
  while (r < 0 && errno == EINTR);
  rc = r < 0 ? fail() : 0;
  lpath_close(&la);
  lpath_close(&lb);
  return rc;
}

static int lx_rename(const char *from, const char *to) {
  return two_paths(from, to, 0);
}

static int lx_link(const char *existing, const char *newpath) {
  return two_paths(existing, newpath, 1);
}

static int lx_symlink(const char *target, const char *linkpath) {
  WITH_LPATH(linkpath, symlinkat(target, dfd, nm));
}

static int lx_readlink(const char *path, char *buf, size_t cap, size_t *len) {
  lpath lp;
  if (lpath_open(path, &lp) < 0) {
    int rc = fail();
    lpath_close(&lp);
    return rc;
  }
  ssize_t n = readlinkat(lp.dirfd, lp.name, buf, cap);
  int rc = n < 0 ? fail() : 0;
  lpath_close(&lp);
  if (rc) return rc;
  if ((size_t)n >= cap) {
    pm_oserr_set(0); /* no OS call failed: leave no stale code */
    return PM_ERANGE;
  }
  buf[n] = '\0';
  *len = (size_t)n;
  return 0;
}

static int lx_mknod(const char *path, pm_ftype type, uint32_t mode,
                    uint64_t rdev) {
  mode_t m = (mode_t)mode;
  switch (type) {
  case PM_T_FIFO: m |= S_IFIFO; break;
  case PM_T_SOCK: m |= S_IFSOCK; break;
  case PM_T_CHR: m |= S_IFCHR; break;
  case PM_T_BLK: m |= S_IFBLK; break;
  default: return PM_EINVAL;
  }
  WITH_LPATH(path, mknodat(dfd, nm, m, (dev_t)rdev));
}

static int lx_fchmod(pm_fd fd, uint32_t mode) {
  return fchmod((int)fd, (mode_t)mode) < 0 ? fail() : 0;
}

static int lx_chmod(const char *path, uint32_t mode) {
  WITH_LPATH(path, fchmodat(dfd, nm, (mode_t)mode, 0));
}

static int lx_fchown(pm_fd fd, uint32_t uid, uint32_t gid) {
  return fchown((int)fd, uid, gid) < 0 ? fail() : 0;
}

static int lx_chown(const char *path, uint32_t uid, uint32_t gid, bool follow) {
  WITH_LPATH(path, fchownat(dfd, nm, uid, gid, follow ? 0 : AT_SYMLINK_NOFOLLOW));
}

static void to_ts(struct timespec ts[2], const pm_time *a, const pm_time *m) {
  ts[0].tv_sec = a ? a->sec : 0;
  ts[0].tv_nsec = a ? a->nsec : UTIME_OMIT;
  ts[1].tv_sec = m ? m->sec : 0;
  ts[1].tv_nsec = m ? m->nsec : UTIME_OMIT;
}

static int lx_futimes(pm_fd fd, const pm_time *atime, const pm_time *mtime) {
  struct timespec ts[2];
  to_ts(ts, atime, mtime);
  return futimens((int)fd, ts) < 0 ? fail() : 0;
}

static int lx_utimes(const char *path, const pm_time *atime,
                     const pm_time *mtime, bool follow) {
  struct timespec ts[2];
  to_ts(ts, atime, mtime);
  WITH_LPATH(path, utimensat(dfd, nm, ts, follow ? 0 : AT_SYMLINK_NOFOLLOW));
}

/* xattr calls have no *at form: a long path goes through an O_PATH fd and
 * its /proc/self/fd name. */
typedef struct xpath {
  int fd;
  char proc[64];
  const char *use;
} xpath;

static int xpath_open(const char *path, bool follow, xpath *xp) {
  xp->fd = -1;
  xp->use = path;
  if (strlen(path) < PIECE_MAX) return 0;
  lpath lp;
  if (lpath_open(path, &lp) < 0) {
    int rc = fail();
    lpath_close(&lp);
    return rc;
  }
  xp->fd = openat(lp.dirfd, lp.name,
                  O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  int rc = xp->fd < 0 ? fail() : 0;
  lpath_close(&lp);
  if (rc) return rc;
  snprintf(xp->proc, sizeof xp->proc, "/proc/self/fd/%d", xp->fd);
  xp->use = xp->proc;
  return 0;
}

static void xpath_close(xpath *xp) {
  if (xp->fd >= 0) close(xp->fd);
}

static int lx_xattr_list(const char *path, bool follow, char *buf, size_t cap,
                         size_t *len) {
  xpath xp;
  PM_TRY(xpath_open(path, follow, &xp));
  ssize_t n = (follow || xp.fd >= 0) ? listxattr(xp.use, buf, cap)
                                     : llistxattr(xp.use, buf, cap);
  int rc = n < 0 ? fail() : 0;
  xpath_close(&xp);
  if (!rc) *len = (size_t)n;
  return rc;
}

static int lx_xattr_get(const char *path, bool follow, const char *name,
                        void *buf, size_t cap, size_t *len) {
  xpath xp;
  PM_TRY(xpath_open(path, follow, &xp));
  ssize_t n = (follow || xp.fd >= 0) ? getxattr(xp.use, name, buf, cap)
                                     : lgetxattr(xp.use, name, buf, cap);
  int rc = n < 0 ? fail() : 0;
  xpath_close(&xp);
  if (!rc) *len = (size_t)n;
  return rc;
}

static int lx_xattr_set(const char *path, bool follow, const char *name,
                        const void *val, size_t len) {
  xpath xp;
  PM_TRY(xpath_open(path, follow, &xp));
  int r = (follow || xp.fd >= 0) ? setxattr(xp.use, name, val, len, 0)
                                 : lsetxattr(xp.use, name, val, len, 0);
  int rc = r < 0 ? fail() : 0;
  xpath_close(&xp);
  return rc;
}

static int64_t lx_seek(pm_fd fd, uint64_t off, bool hole) {
  off_t r = lseek((int)fd, (off_t)off, hole ? SEEK_HOLE : SEEK_DATA);
  return r < 0 ? fail() : (int64_t)r;
}

static int lx_syncfs(pm_fd fd) {
  return syncfs((int)fd) < 0 ? fail() : 0;
}

static const char *fs_type_name(long magic) {
  switch ((unsigned long)magic) {
  case EXT4_SUPER_MAGIC: return "ext4";
  case TMPFS_MAGIC: return "tmpfs";
  case BTRFS_SUPER_MAGIC: return "btrfs";
  case XFS_SUPER_MAGIC: return "xfs";
  case MSDOS_SUPER_MAGIC: return "vfat";
  case NFS_SUPER_MAGIC: return "nfs";
  case OVERLAYFS_SUPER_MAGIC: return "overlay";
  case 0x5346544e: return "ntfs";
  case 0x2011BAB0: return "exfat";
  default: return "unknown";
  }
}

static int lx_fsinfo(const char *path, pm_fsinfo *info) {
  pm_fd fd = PM_FD_INVALID;
  int rc = lx_open(path, PM_O_RDONLY, 0, &fd);
  if (rc) return rc;
  struct statfs sf;
  struct stat s;
  if (fstatfs((int)fd, &sf) < 0 || fstat((int)fd, &s) < 0) {
    rc = fail();
    close((int)fd);
    return rc;
  }
  close((int)fd);
  memset(info, 0, sizeof *info);
  snprintf(info->type, sizeof info->type, "%s", fs_type_name(sf.f_type));
  info->total_bytes = (uint64_t)sf.f_blocks * (uint64_t)sf.f_bsize;
  info->free_bytes = (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize;
  info->block_size = (uint32_t)sf.f_bsize;
  info->dev = s.st_dev;
  return 0;
}

static int lx_realpath(const char *path, char *buf, size_t cap) {
  char *r = realpath(path, NULL);
  if (!r) return fail();
  size_t n = strlen(r);
  if (n >= cap) {
    free(r);
    pm_oserr_set(0); /* no OS call failed: leave no stale code */
    return PM_ENAMETOOLONG;
  }
  memcpy(buf, r, n + 1);
  free(r);
  return 0;
}

static int lx_drop_cache(pm_fd fd, uint64_t off, uint64_t len) {
  int r = posix_fadvise((int)fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
  return r ? pm__from_errno(r) : 0;
}

static int lx_cached(pm_fd fd, uint64_t off) {
  /* A read that must not wait (RWF_NOWAIT, Linux 4.14) of one byte:
   * EAGAIN when its page would have to come from the medium. */
  char b;
  struct iovec iov = {.iov_base = &b, .iov_len = 1};
  ssize_t r = preadv2((int)fd, &iov, 1, (off_t)off, RWF_NOWAIT);
  if (r >= 0) return 0;
  if (errno == EAGAIN) return PM_EAGAIN;
  if (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)
    return PM_ENOTSUP;
  return pm__from_errno(errno);
}

static const pm_fs_ops linux_fs = {
    .name = "linux",
    .open = lx_open,
    .close = lx_close,
    .pread = lx_pread,
    .pwrite = lx_pwrite,
    .fsync = lx_fsync,
    .ftruncate = lx_ftruncate,
    .fstat = lx_fstat,
    .stat = lx_stat,
    .opendir = lx_opendir,
    .readdir = lx_readdir,
    .closedir = lx_closedir,
    .mkdir = lx_mkdir,
    .rmdir = lx_rmdir,
    .unlink = lx_unlink,
    .rename = lx_rename,
    .link = lx_link,
    .symlink = lx_symlink,
    .readlink = lx_readlink,
    .mknod = lx_mknod,
    .fchmod = lx_fchmod,
    .chmod = lx_chmod,
    .fchown = lx_fchown,
    .chown = lx_chown,
    .futimes = lx_futimes,
    .utimes = lx_utimes,
    .xattr_list = lx_xattr_list,
    .xattr_get = lx_xattr_get,
    .xattr_set = lx_xattr_set,
    .seek = lx_seek,
    .syncfs = lx_syncfs,
    .fsinfo = lx_fsinfo,
    .realpath = lx_realpath,
    .drop_cache = lx_drop_cache,
    .cached = lx_cached,
};

const pm_fs_ops *pm_fs_native(void) { return &linux_fs; }
