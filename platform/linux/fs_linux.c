/* fs_linux.c - the Linux file-system table.
 *
 * Paths of any length are accepted: a path longer than the kernel's
 * PATH_MAX is reached by opening its directories a piece at a time with
 * O_PATH and acting on the last component with the *at system call, so
 * the copy engine never needs to know about the limit. EINTR is retried
 * here; every other errno is translated once by pm__from_errno().
 *
 * The *_at calls resolve a relative path beneath a directory fd with no
 * symbolic link followed in any component (see platform.h): openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it (5.6), else
 * one component at a time with O_PATH | O_NOFOLLOW. The environment
 * variable POMOVE_NO_OPENAT2=1 forces the component walk, so that tests
 * (and a suspicious administrator) can exercise it on a kernel with
 * openat2. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>

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

/* The end of a PM_O_REGULAR open (made with O_NONBLOCK, so that a FIFO did
 * not block it): anything but a regular file is closed and refused; a
 * regular file gets O_NONBLOCK cleared again (F_SETFL with the status
 * flags it was opened with, `oflags`), since io_uring completes a read of
 * an O_NONBLOCK file with EAGAIN, instead of waiting, on a file system
 * that does not support non-waiting reads. */
static int regular_only(int fd, int oflags) {
  struct stat s;
  int rc = 0;
  if (fstat(fd, &s) < 0) {
    rc = fail();
  } else if (!S_ISREG(s.st_mode)) {
    pm_oserr_set(0);
    rc = PM_ESPECIAL;
  } else {
    if (fcntl(fd, F_SETFL, oflags & (O_APPEND | O_DIRECT | O_NOATIME)) < 0)
      rc = fail();
  }
  if (rc) close(fd);
  return rc;
}

/* The open(2) flags of PM_O_* flags, without O_CLOEXEC and O_NOFOLLOW
 * (each caller adds them). O_NONBLOCK for PM_O_REGULAR makes an open of
 * a FIFO return at once instead of waiting for a writer; it changes
 * nothing for reads of a regular file. */
static int oflags_of(int flags) {
  int f = 0;
  switch (flags & PM_O_ACCMODE) {
  case PM_O_WRONLY: f |= O_WRONLY; break;
  case PM_O_RDWR: f |= O_RDWR; break;
  default: f |= O_RDONLY; break;
  }
  if (flags & PM_O_CREAT) f |= O_CREAT;
  if (flags & PM_O_EXCL) f |= O_EXCL;
  if (flags & PM_O_TRUNC) f |= O_TRUNC;
  if (flags & PM_O_DIRECT) f |= O_DIRECT;
  if (flags & PM_O_DIRECTORY) f |= O_DIRECTORY;
  if (flags & PM_O_APPEND) f |= O_APPEND;
  if (flags & PM_O_REGULAR) f |= O_NONBLOCK;
  return f;
}

static int lx_open(const pm_fs *self PM_UNUSED, const char *path, int flags,
                   uint32_t mode, pm_fd *out) {
  int f = O_CLOEXEC | oflags_of(flags);
  if (flags & PM_O_NOFOLLOW) f |= O_NOFOLLOW;
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
  if (flags & PM_O_REGULAR)
    PM_TRY(regular_only(fd, f | ((flags & PM_O_NOATIME) ? O_NOATIME : 0)));
  *out = fd;
  return 0;
}

static int lx_close(const pm_fs *self PM_UNUSED, pm_fd fd) {
  /* Linux releases the fd even when close reports EINTR: never retry. */
  if (close((int)fd) < 0 && errno != EINTR) return fail();
  return 0;
}

static int64_t lx_pread(const pm_fs *self PM_UNUSED, pm_fd fd, void *buf,
                        size_t len, uint64_t off) {
  ssize_t n;
  do n = pread((int)fd, buf, len, (off_t)off);
  while (n < 0 && errno == EINTR);
  return n < 0 ? fail() : n;
}

static int64_t lx_pwrite(const pm_fs *self PM_UNUSED, pm_fd fd, const void *buf,
                         size_t len, uint64_t off) {
  ssize_t n;
  do n = pwrite((int)fd, buf, len, (off_t)off);
  while (n < 0 && errno == EINTR);
  return n < 0 ? fail() : n;
}

static int lx_fsync(const pm_fs *self PM_UNUSED, pm_fd fd, bool data_only) {
  int r;
  do r = data_only ? fdatasync((int)fd) : fsync((int)fd);
  while (r < 0 && errno == EINTR);
  return r < 0 ? fail() : 0;
}

static int lx_ftruncate(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t size) {
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

static int lx_fstat(const pm_fs *self PM_UNUSED, pm_fd fd, pm_stat *st) {
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

static int lx_stat(const pm_fs *self PM_UNUSED, const char *path, bool follow,
                   pm_stat *st) {
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

/* A directory being listed: its fd and a buffer of getdents64 records.
 * glibc's fdopendir costs three calls per directory on top of the open
 * (an fstat for the type and fcntl F_GETFL and F_SETFD for the flags),
 * all of which our own open has settled already: O_DIRECTORY, read
 * access and O_CLOEXEC. */
struct pm_dir {
  int fd;
  bool eof;
  size_t pos, end;
  _Alignas(8) char buf[32768];
};

/* Turns an open directory fd into a pm_dir (which then owns it). */
static int dir_of_fd(pm_fd fd, pm_dir **out) {
  pm_dir *pd = pm_xmalloc(sizeof *pd);
  pd->fd = (int)fd;
  pd->eof = false;
  pd->pos = pd->end = 0;
  *out = pd;
  return 0;
}

static int lx_opendir(const pm_fs *self PM_UNUSED, const char *path,
                      pm_dir **out) {
  pm_fd fd = PM_FD_INVALID;
  int rc =
      lx_open(self, path, PM_O_RDONLY | PM_O_DIRECTORY | PM_O_NOATIME, 0, &fd);
  if (rc) return rc;
  return dir_of_fd(fd, out);
}

static int lx_readdir(const pm_fs *self PM_UNUSED, pm_dir *pd, pm_dirent *ent) {
  for (;;) {
    if (pd->pos >= pd->end) {
      if (pd->eof) return 0;
      ssize_t n;
      do n = getdents64(pd->fd, pd->buf, sizeof pd->buf);
      while (n < 0 && errno == EINTR);
      if (n < 0) return fail();
      if (n == 0) {
        pd->eof = true;
        return 0;
      }
      pd->pos = 0;
      pd->end = (size_t)n;
    }
    struct dirent64 *de = (struct dirent64 *)(void *)(pd->buf + pd->pos);
    pd->pos += de->d_reclen;
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

static void lx_closedir(const pm_fs *self PM_UNUSED, pm_dir *pd) {
  if (!pd) return;
  close(pd->fd);
  free(pd);
}

static int lx_mkdir(const pm_fs *self PM_UNUSED, const char *path,
                    uint32_t mode) {
  WITH_LPATH(path, mkdirat(dfd, nm, (mode_t)mode));
}

static int lx_rmdir(const pm_fs *self PM_UNUSED, const char *path) {
  WITH_LPATH(path, unlinkat(dfd, nm, AT_REMOVEDIR));
}

static int lx_unlink(const pm_fs *self PM_UNUSED, const char *path) {
  WITH_LPATH(path, unlinkat(dfd, nm, 0));
}

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

static int lx_rename(const pm_fs *self PM_UNUSED, const char *from,
                     const char *to) {
  return two_paths(from, to, 0);
}

static int lx_link(const pm_fs *self PM_UNUSED, const char *existing,
                   const char *newpath) {
  return two_paths(existing, newpath, 1);
}

static int lx_symlink(const pm_fs *self PM_UNUSED, const char *target,
                      const char *linkpath) {
  WITH_LPATH(linkpath, symlinkat(target, dfd, nm));
}

static int lx_readlink(const pm_fs *self PM_UNUSED, const char *path, char *buf,
                       size_t cap, size_t *len) {
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

static int lx_mknod(const pm_fs *self PM_UNUSED, const char *path,
                    pm_ftype type, uint32_t mode, uint64_t rdev) {
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

static int lx_fchmod(const pm_fs *self PM_UNUSED, pm_fd fd, uint32_t mode) {
  return fchmod((int)fd, (mode_t)mode) < 0 ? fail() : 0;
}

static int lx_chmod(const pm_fs *self PM_UNUSED, const char *path,
                    uint32_t mode) {
  WITH_LPATH(path, fchmodat(dfd, nm, (mode_t)mode, 0));
}

static int lx_fchown(const pm_fs *self PM_UNUSED, pm_fd fd, uint32_t uid,
                     uint32_t gid) {
  return fchown((int)fd, uid, gid) < 0 ? fail() : 0;
}

static int lx_chown(const pm_fs *self PM_UNUSED, const char *path, uint32_t uid,
                    uint32_t gid, bool follow) {
  WITH_LPATH(path, fchownat(dfd, nm, uid, gid, follow ? 0 : AT_SYMLINK_NOFOLLOW));
}

static void to_ts(struct timespec ts[2], const pm_time *a, const pm_time *m) {
  ts[0].tv_sec = a ? a->sec : 0;
  ts[0].tv_nsec = a ? a->nsec : UTIME_OMIT;
  ts[1].tv_sec = m ? m->sec : 0;
  ts[1].tv_nsec = m ? m->nsec : UTIME_OMIT;
}

static int lx_futimes(const pm_fs *self PM_UNUSED, pm_fd fd,
                      const pm_time *atime, const pm_time *mtime) {
  struct timespec ts[2];
  to_ts(ts, atime, mtime);
  return futimens((int)fd, ts) < 0 ? fail() : 0;
}

static int lx_utimes(const pm_fs *self PM_UNUSED, const char *path,
                     const pm_time *atime, const pm_time *mtime, bool follow) {
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

static int lx_xattr_list(const pm_fs *self PM_UNUSED, const char *path,
                         bool follow, char *buf, size_t cap, size_t *len) {
  xpath xp;
  PM_TRY(xpath_open(path, follow, &xp));
  ssize_t n = (follow || xp.fd >= 0) ? listxattr(xp.use, buf, cap)
                                     : llistxattr(xp.use, buf, cap);
  int rc = n < 0 ? fail() : 0;
  xpath_close(&xp);
  if (!rc) *len = (size_t)n;
  return rc;
}

static int lx_xattr_get(const pm_fs *self PM_UNUSED, const char *path,
                        bool follow, const char *name, void *buf, size_t cap,
                        size_t *len) {
  xpath xp;
  PM_TRY(xpath_open(path, follow, &xp));
  ssize_t n = (follow || xp.fd >= 0) ? getxattr(xp.use, name, buf, cap)
                                     : lgetxattr(xp.use, name, buf, cap);
  int rc = n < 0 ? fail() : 0;
  xpath_close(&xp);
  if (!rc) *len = (size_t)n;
  return rc;
}

static int lx_xattr_set(const pm_fs *self PM_UNUSED, const char *path,
                        bool follow, const char *name, const void *val,
                        size_t len) {
  xpath xp;
  PM_TRY(xpath_open(path, follow, &xp));
  int r = (follow || xp.fd >= 0) ? setxattr(xp.use, name, val, len, 0)
                                 : lsetxattr(xp.use, name, val, len, 0);
  int rc = r < 0 ? fail() : 0;
  xpath_close(&xp);
  return rc;
}

static int64_t lx_seek(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t off,
                       bool hole) {
  off_t r = lseek((int)fd, (off_t)off, hole ? SEEK_HOLE : SEEK_DATA);
  return r < 0 ? fail() : (int64_t)r;
}

static int lx_syncfs(const pm_fs *self PM_UNUSED, pm_fd fd) {
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

static int lx_fsinfo(const pm_fs *self PM_UNUSED, const char *path,
                     pm_fsinfo *info) {
  pm_fd fd = PM_FD_INVALID;
  int rc = lx_open(self, path, PM_O_RDONLY, 0, &fd);
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

/* The name of entry (dev, ino) in the directory open at pfd, found by
 * device and inode as getcwd() does: d_ino first, then, for a mount point
 * (whose d_ino is that of the directory underneath), by fstatat of every
 * directory entry. Returns a malloc'd name or NULL with errno set. */
static char *name_in_parent(int pfd, dev_t dev, ino_t ino) {
  for (int pass = 0; pass < 2; pass++) {
    int dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
    if (!d) {
      if (dfd >= 0) close(dfd);
      return NULL;
    }
    struct dirent *e;
    char *found = NULL;
    while (!found && (errno = 0, e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      if (pass == 0 && e->d_ino != ino) continue;
      if (pass == 1 && e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
        continue;
      struct stat s;
      if (fstatat(pfd, e->d_name, &s, AT_SYMLINK_NOFOLLOW) == 0 &&
          s.st_dev == dev && s.st_ino == ino)
        found = pm_xstrdup(e->d_name);
    }
    closedir(d);
    if (found) return found;
  }
  errno = ENOENT; /* the directory was moved away meanwhile */
  return NULL;
}

/* realpath() for a result longer than PATH_MAX, which glibc refuses: the
 * path is opened piece by piece (lpath) with its symlinks followed as
 * realpath follows them, and the name is rebuilt by walking up with "..".
 * Only a directory can be walked up from, so a path naming a file is
 * resolved as its parent's real path plus its own name (a symlink as the
 * last component is read and resolved again, at most 40 times). */
static int long_realpath(const char *path, char *buf, size_t cap, int hops) {
  if (hops > 40) {
    errno = ELOOP;
    return -1;
  }
  lpath lp;
  if (lpath_open(path, &lp) < 0) {
    lpath_close(&lp);
    return -1;
  }
  struct stat ls;
  if (fstatat(lp.dirfd, lp.name, &ls, AT_SYMLINK_NOFOLLOW) < 0) {
    lpath_close(&lp);
    return -1;
  }
  if (S_ISLNK(ls.st_mode) || !S_ISDIR(ls.st_mode)) {
    /* parent's real path + name, or + the link's target */
    char *copy = pm_xstrdup(path);
    char *slash = strrchr(copy, '/');
    const char *name = slash ? slash + 1 : copy;
    char *parent = slash ? (slash == copy ? pm_xstrdup("/")
                                          : pm_xasprintf("%.*s",
                                                         (int)(slash - copy),
                                                         copy))
                         : pm_xstrdup(".");
    int r = -1;
    if (S_ISLNK(ls.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlinkat(lp.dirfd, lp.name, target, sizeof target - 1);
      if (n >= 0) {
        target[n] = '\0';
        char *next = target[0] == '/' ? pm_xstrdup(target)
                                      : pm_xasprintf("%s/%s", parent, target);
        r = long_realpath(next, buf, cap, hops + 1);
        free(next);
      }
    } else {
      r = long_realpath(parent, buf, cap, hops);
      if (r == 0) {
        size_t n = strlen(buf), k = strlen(name);
        bool root = n == 1;
        if (n + !root + k + 1 > cap) {
          errno = ENAMETOOLONG;
          r = -1;
        } else {
          if (!root) buf[n++] = '/';
          memcpy(buf + n, name, k + 1);
        }
      }
    }
    free(parent);
    free(copy);
    lpath_close(&lp);
    return r;
  }
  int cur = openat(lp.dirfd, lp.name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  lpath_close(&lp);
  if (cur < 0) return -1;
  /* Built from the end of buf towards its start. */
  size_t at = cap;
  if (at == 0) {
    close(cur);
    errno = ENAMETOOLONG;
    return -1;
  }
  buf[--at] = '\0';
  for (;;) {
    struct stat cs, ps;
    int pfd = -1;
    if (fstat(cur, &cs) < 0 ||
        (pfd = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        fstat(pfd, &ps) < 0) {
      int e = errno;
      if (pfd >= 0) close(pfd);
      close(cur);
      errno = e;
      return -1;
    }
    if (ps.st_dev == cs.st_dev && ps.st_ino == cs.st_ino) {
      close(pfd);
      break; /* "/" is its own parent */
    }
    char *name = name_in_parent(pfd, cs.st_dev, cs.st_ino);
    close(cur);
    cur = pfd;
    if (!name) {
      int e = errno;
      close(cur);
      errno = e;
      return -1;
    }
    size_t k = strlen(name);
    if (k + 1 > at) {
      free(name);
      close(cur);
      errno = ENAMETOOLONG;
      return -1;
    }
    at -= k;
    memcpy(buf + at, name, k);
    buf[--at] = '/';
    free(name);
  }
  close(cur);
  if (buf[at] == '\0') {
    if (at == 0) {
      errno = ENAMETOOLONG;
      return -1;
    }
    buf[--at] = '/'; /* the root itself */
  }
  memmove(buf, buf + at, cap - at);
  return 0;
}

static int lx_realpath(const pm_fs *self PM_UNUSED, const char *path, char *buf,
                       size_t cap) {
  char *r = realpath(path, NULL);
  if (!r && errno == ENAMETOOLONG) {
    if (long_realpath(path, buf, cap, 0) < 0) return fail();
    return 0;
  }
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

static int lx_drop_cache(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t off,
                         uint64_t len) {
  int r = posix_fadvise((int)fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
  return r ? pm__from_errno(r) : 0;
}

/* FIEMAP asked for one extent: the first. FIEMAP_FLAG_SYNC is not
 * asked (it would write the file back); a file whose data are not yet
 * allocated (delayed allocation) has an extent flagged DELALLOC, whose
 * place means nothing: PM_ENODATA, as for a file with no extent. */
static int lx_phys_pos(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t *pos) {
  union {
    struct fiemap fm;
    char raw[sizeof(struct fiemap) + sizeof(struct fiemap_extent)];
  } u;
  memset(&u, 0, sizeof u);
  u.fm.fm_length = ~(uint64_t)0;
  u.fm.fm_extent_count = 1;
  if (ioctl((int)fd, FS_IOC_FIEMAP, &u.fm) != 0) {
    if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EINVAL)
      return PM_ENOTSUP;
    return pm__from_errno(errno);
  }
  const struct fiemap_extent *e = &u.fm.fm_extents[0];
  if (!u.fm.fm_mapped_extents ||
      (e->fe_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |
                      FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED)))
    return PM_ENODATA;
  *pos = e->fe_physical;
  return 0;
}

static int lx_cached(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t off) {
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

/* ---- beneath a directory fd ---- */

/* 1 openat2 works, 0 the kernel has none (ENOSYS); starts unknown (-1). */
static atomic_int have_openat2 = -1;

static bool use_openat2(void) {
  const char *e = getenv("POMOVE_NO_OPENAT2");
  if (e && *e && strcmp(e, "0") != 0) return false;
  return atomic_load(&have_openat2) != 0;
}

/* Refuses what could name something outside `dir` before any syscall: an
 * absolute path and a ".." component (EXDEV, as openat2 reports an escape). */
static int rel_check(const char *rel) {
  if (rel[0] == '/') return EXDEV;
  for (const char *p = rel; *p;) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.') return EXDEV;
    if (n > NAME_MAX) return ENAMETOOLONG;
    p += n;
    while (*p == '/') p++;
  }
  return 0;
}

/* After an open failed on a component with ENOTDIR or ELOOP: say ELOOP when
 * the component is a symbolic link, so that the caller can report it. */
static int why_not(int dfd, const char *name, int e) {
  struct stat s;
  if ((e == ENOTDIR || e == ELOOP) &&
      fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(s.st_mode))
    return ELOOP;
  return e;
}

static int call_openat2(int dfd, const char *rel, int oflags, mode_t mode) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(unsigned)oflags;
  how.mode = (oflags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long r;
  int tries = 0;
  do r = syscall(SYS_openat2, dfd, rel, &how, sizeof how);
  /* EAGAIN: a concurrent rename made the kernel unsure; it asks for a
   * retry. */
  while (r < 0 && (errno == EINTR || (errno == EAGAIN && ++tries < 16)));
  return (int)r;
}

/* One piece (shorter than PATH_MAX, no ".."): returns an fd or -1/errno. */
static int piece_open(int dfd, const char *rel, int oflags, mode_t mode) {
  if (use_openat2()) {
    int fd = call_openat2(dfd, rel, oflags, mode);
    if (fd < 0 && errno == ENOTDIR && (oflags & O_DIRECTORY)) {
      /* A symlink as the last component is not followed (O_NOFOLLOW), so
       * RESOLVE_NO_SYMLINKS does not see it and O_DIRECTORY refuses it:
       * look at the entry itself to report it as the symlink it is. */
      int lfd = call_openat2(dfd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
      struct stat s;
      bool link = lfd >= 0 && fstat(lfd, &s) == 0 && S_ISLNK(s.st_mode);
      if (lfd >= 0) close(lfd);
      errno = link ? ELOOP : ENOTDIR;
      return -1;
    }
    if (fd >= 0 || errno != ENOSYS) return fd;
    atomic_store(&have_openat2, 0);
  }
  /* The component walk: every directory is opened O_PATH | O_NOFOLLOW
   * relative to the one before, so a symlink anywhere fails. */
  char *p = pm_xstrdup(rel);
  int cur = dfd, fd = -1, e = 0;
  char *s = p;
  for (;;) {
    /* Split at the first '/' and skip the rest of a run of them: a name
     * handed to openat never ends in '/', which would follow a symlink
     * despite O_NOFOLLOW. */
    char *end = strchr(s, '/'), *next = NULL;
    if (end) {
      *end = '\0';
      next = end + 1;
      while (*next == '/') next++;
    }
    bool last = !next || !*next;
    const char *name = *s ? s : ".";
    if (last) {
      do fd = openat(cur, name, oflags | O_NOFOLLOW, mode);
      while (fd < 0 && errno == EINTR);
      if (fd < 0) e = why_not(cur, name, errno);
      break;
    }
    int nfd;
    do nfd = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    while (nfd < 0 && errno == EINTR);
    if (nfd < 0) {
      e = why_not(cur, name, errno);
      break;
    }
    if (cur != dfd) close(cur);
    cur = nfd;
    s = next;
  }
  if (cur != dfd) close(cur);
  free(p);
  if (fd < 0) errno = e;
  return fd;
}

/* Opens rel beneath dfd with oflags (O_NOFOLLOW implied): pieces of a path
 * longer than PATH_MAX are opened as directories one after the other.
 * Returns an fd or -1 with errno set. */
static int beneath_open(int dfd, const char *rel, int oflags, mode_t mode) {
  int e = rel_check(rel);
  if (e) {
    errno = e;
    return -1;
  }
  if (!*rel) rel = ".";
  oflags |= O_NOFOLLOW | O_CLOEXEC;
  size_t len = strlen(rel);
  if (len < PIECE_MAX) return piece_open(dfd, rel, oflags, mode);
  char *p = pm_xstrdup(rel);
  int cur = dfd, fd = -1;
  char *s = p;
  for (;;) {
    size_t rest = strlen(s);
    if (rest < PIECE_MAX) {
      fd = piece_open(cur, s, oflags, mode);
      break;
    }
    char *end = s + PIECE_MAX;
    while (end > s && *end != '/') end--;
    if (end == s) {
      errno = ENAMETOOLONG;
      break;
    }
    *end = '\0';
    int nfd = piece_open(cur, s, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (nfd < 0) break;
    if (cur != dfd) close(cur);
    cur = nfd;
    s = end + 1;
    while (*s == '/') s++;
  }
  e = errno;
  if (cur != dfd) close(cur);
  free(p);
  errno = e;
  return fd;
}

/* rel split into (parent fd, last component). The parent is opened beneath
 * dfd (O_PATH) when rel has more than one component, else it is dfd. An
 * empty rel gives an empty leaf: the call acts on dfd itself. */
typedef struct bpath {
  int pfd;
  const char *leaf;
  char *own;
  bool opened;
} bpath;

static int bpath_open(int dfd, const char *rel, bpath *b) {
  b->pfd = dfd;
  b->own = NULL;
  b->opened = false;
  b->leaf = rel;
  int e = rel_check(rel);
  if (e) {
    errno = e;
    return -1;
  }
  char *p = pm_xstrdup(rel);
  b->own = p;
  size_t n = strlen(p);
  while (n > 0 && p[n - 1] == '/') p[--n] = '\0';
  char *last = strrchr(p, '/');
  if (!last) {
    b->leaf = (n == 1 && p[0] == '.') ? "" : p;
    return 0;
  }
  *last = '\0';
  b->leaf = last + 1;
  if (!strcmp(b->leaf, ".")) {
    errno = EINVAL;
    return -1;
  }
  int fd = beneath_open(dfd, p, O_PATH | O_DIRECTORY, 0);
  if (fd < 0) return -1;
  b->pfd = fd;
  b->opened = true;
  return 0;
}

static void bpath_close(bpath *b) {
  if (b->opened) close(b->pfd);
  free(b->own);
  b->own = NULL;
}

/* Runs `call` (which may use pfd and leaf) on rel beneath dir; a call that
 * needs a leaf fails with EINVAL when rel is empty. */
#define WITH_BPATH(dir, rel, need_leaf, call)                             \
  do {                                                                    \
    bpath b_;                                                             \
    int r_;                                                               \
    if (bpath_open((int)(dir), (rel), &b_) < 0) {                         \
      r_ = fail();                                                        \
      bpath_close(&b_);                                                   \
      return r_;                                                          \
    }                                                                     \
    int pfd = b_.pfd;                                                     \
    const char *leaf = b_.leaf;                                           \
    if ((need_leaf) && !*leaf) {                                          \
      bpath_close(&b_);                                                   \
      return PM_EINVAL;                                                   \
    }                                                                     \
    do r_ = (call);                                                       \
    while (r_ < 0 && errno == EINTR);                                     \
    r_ = r_ < 0 ? pm__from_errno(why_not(pfd, leaf, errno)) : 0;          \
    bpath_close(&b_);                                                     \
    return r_;                                                            \
  } while (0)

static int lx_open_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                      int flags, uint32_t mode, pm_fd *out) {
  int f = oflags_of(flags);
  int fd;
  for (;;) {
    fd = beneath_open((int)dir, rel, f | ((flags & PM_O_NOATIME) ? O_NOATIME : 0),
                      (mode_t)mode);
    if (fd < 0 && errno == EPERM && (flags & PM_O_NOATIME)) {
      flags &= ~PM_O_NOATIME;
      continue;
    }
    break;
  }
  if (fd < 0) return fail();
  if (flags & PM_O_REGULAR)
    PM_TRY(regular_only(fd, f | ((flags & PM_O_NOATIME) ? O_NOATIME : 0)));
  *out = fd;
  return 0;
}

static int lx_stat_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                      pm_stat *st) {
  struct stat s;
  bpath b;
  if (bpath_open((int)dir, rel, &b) < 0) {
    int rc = fail();
    bpath_close(&b);
    return rc;
  }
  int r = *b.leaf ? fstatat(b.pfd, b.leaf, &s, AT_SYMLINK_NOFOLLOW)
                  : fstat(b.pfd, &s);
  int rc = r < 0 ? fail() : 0;
  bpath_close(&b);
  if (!rc) fill_stat(&s, st);
  return rc;
}

static int lx_opendir_at(const pm_fs *self PM_UNUSED, pm_fd dir,
                         const char *rel, pm_dir **out) {
  pm_fd fd = PM_FD_INVALID;
  int rc = lx_open_at(self, dir, rel,
                      PM_O_RDONLY | PM_O_DIRECTORY | PM_O_NOATIME, 0, &fd);
  if (rc) return rc;
  return dir_of_fd(fd, out);
}

static int lx_mkdir_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                       uint32_t mode) {
  WITH_BPATH(dir, rel, true, mkdirat(pfd, leaf, (mode_t)mode));
}

static int lx_symlink_at(const pm_fs *self PM_UNUSED, const char *target,
                         pm_fd dir, const char *rel) {
  WITH_BPATH(dir, rel, true, symlinkat(target, pfd, leaf));
}

static int lx_link_at(const pm_fs *self PM_UNUSED, pm_fd odir, const char *orel,
                      pm_fd ndir, const char *nrel) {
  bpath a, b;
  int rc;
  if (bpath_open((int)odir, orel, &a) < 0) {
    rc = fail();
    bpath_close(&a);
    return rc;
  }
  if (bpath_open((int)ndir, nrel, &b) < 0) {
    rc = fail();
    bpath_close(&a);
    bpath_close(&b);
    return rc;
  }
  int r = -1;
  if (!*a.leaf || !*b.leaf) errno = EINVAL;
  /* Flags 0: a symlink at orel is linked itself, never followed. */
  else
    do r = linkat(a.pfd, a.leaf, b.pfd, b.leaf, 0);
    while (r < 0 && errno == EINTR);
  rc = r < 0 ? fail() : 0;
  bpath_close(&a);
  bpath_close(&b);
  return rc;
}

static int lx_mknod_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                       pm_ftype type, uint32_t mode, uint64_t rdev) {
  mode_t m = (mode_t)mode;
  switch (type) {
  case PM_T_FIFO: m |= S_IFIFO; break;
  case PM_T_SOCK: m |= S_IFSOCK; break;
  case PM_T_CHR: m |= S_IFCHR; break;
  case PM_T_BLK: m |= S_IFBLK; break;
  default: return PM_EINVAL;
  }
  WITH_BPATH(dir, rel, true, mknodat(pfd, leaf, m, (dev_t)rdev));
}

static int lx_readlink_at(const pm_fs *self PM_UNUSED, pm_fd dir,
                          const char *rel, char *buf, size_t cap, size_t *len) {
  bpath b;
  if (bpath_open((int)dir, rel, &b) < 0) {
    int rc = fail();
    bpath_close(&b);
    return rc;
  }
  ssize_t n = -1;
  if (!*b.leaf) errno = EINVAL;
  else n = readlinkat(b.pfd, b.leaf, buf, cap);
  int rc = n < 0 ? fail() : 0;
  bpath_close(&b);
  if (rc) return rc;
  if ((size_t)n >= cap) return PM_ERANGE;
  buf[n] = '\0';
  *len = (size_t)n;
  return 0;
}

static int lx_unlink_at(const pm_fs *self PM_UNUSED, pm_fd dir,
                        const char *rel) {
  WITH_BPATH(dir, rel, true, unlinkat(pfd, leaf, 0));
}

/* unlinkat(AT_REMOVEDIR) acts on the last component itself: a symlink
 * there fails with ENOTDIR, it is never followed. */
static int lx_rmdir_at(const pm_fs *self PM_UNUSED, pm_fd dir,
                       const char *rel) {
  WITH_BPATH(dir, rel, true, unlinkat(pfd, leaf, AT_REMOVEDIR));
}

/* chmod has no "do not follow" form before fchmodat2 (Linux 6.6, not in
 * this glibc): open the entry itself with O_PATH | O_NOFOLLOW, refuse a
 * symlink, and change the mode through the fd's /proc name, which names
 * the object the fd holds and nothing else. */
static int lx_chmod_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                       uint32_t mode) {
  /* An empty rel: the handle's own object, which may be a file. */
  int fd = *rel ? beneath_open((int)dir, rel, O_PATH, 0) : dup((int)dir);
  if (fd < 0) return fail();
  struct stat s;
  int rc = 0;
  if (fstat(fd, &s) < 0) {
    rc = fail();
  } else if (S_ISLNK(s.st_mode)) {
    rc = pm__from_errno(ELOOP);
  } else {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int r;
    do r = chmod(proc, (mode_t)mode);
    while (r < 0 && errno == EINTR);
    if (r < 0) rc = fail();
  }
  close(fd);
  return rc;
}

static int lx_chown_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                       uint32_t uid, uint32_t gid) {
  WITH_BPATH(dir, rel, false,
             fchownat(pfd, leaf, uid, gid,
                      *leaf ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH));
}

static int lx_utimes_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                        const pm_time *atime, const pm_time *mtime) {
  struct timespec ts[2];
  to_ts(ts, atime, mtime);
  WITH_BPATH(dir, rel, false,
             *leaf ? utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW)
                   : futimens(pfd, ts));
}

/* The xattr calls have no *at form before Linux 6.13: the entry is named
 * through its parent's /proc fd name and the l* calls, which do not follow
 * the last component; the parent itself was resolved beneath dir. */
typedef struct bxpath {
  bpath b;
  char proc[PATH_MAX];
  bool follow; /* the entry is dir itself: follow the /proc magic link */
} bxpath;

static int bxpath_open(pm_fd dir, const char *rel, bxpath *x) {
  if (bpath_open((int)dir, rel, &x->b) < 0) {
    int rc = fail();
    bpath_close(&x->b);
    return rc;
  }
  x->follow = !*x->b.leaf;
  if (x->follow)
    snprintf(x->proc, sizeof x->proc, "/proc/self/fd/%d", x->b.pfd);
  else
    snprintf(x->proc, sizeof x->proc, "/proc/self/fd/%d/%s", x->b.pfd,
             x->b.leaf);
  return 0;
}

/* An empty rel names the handle's own object: the f* calls act on the
 * descriptor itself, without the path lookup through /proc that costs a
 * walk of procfs and its magic link on every file the copy finishes. An
 * O_PATH descriptor refuses them (EBADF): that one still goes by its /proc
 * name. fd_xattr_done() is true when the f* call answered. */
static bool fd_xattr_done(const char *rel, ssize_t n) {
  return !*rel && (n >= 0 || errno != EBADF);
}

static int lx_xattr_list_at(const pm_fs *self PM_UNUSED, pm_fd dir,
                            const char *rel, char *buf, size_t cap,
                            size_t *len) {
  if (!*rel) {
    ssize_t n = flistxattr((int)dir, buf, cap);
    if (fd_xattr_done(rel, n)) {
      if (n < 0) return fail();
      *len = (size_t)n;
      return 0;
    }
  }
  bxpath x;
  PM_TRY(bxpath_open(dir, rel, &x));
  ssize_t n = x.follow ? listxattr(x.proc, buf, cap)
                       : llistxattr(x.proc, buf, cap);
  int rc = n < 0 ? fail() : 0;
  bpath_close(&x.b);
  if (!rc) *len = (size_t)n;
  return rc;
}

static int lx_xattr_get_at(const pm_fs *self PM_UNUSED, pm_fd dir,
                           const char *rel, const char *name, void *buf,
                           size_t cap, size_t *len) {
  if (!*rel) {
    ssize_t n = fgetxattr((int)dir, name, buf, cap);
    if (fd_xattr_done(rel, n)) {
      if (n < 0) return fail();
      *len = (size_t)n;
      return 0;
    }
  }
  bxpath x;
  PM_TRY(bxpath_open(dir, rel, &x));
  ssize_t n = x.follow ? getxattr(x.proc, name, buf, cap)
                       : lgetxattr(x.proc, name, buf, cap);
  int rc = n < 0 ? fail() : 0;
  bpath_close(&x.b);
  if (!rc) *len = (size_t)n;
  return rc;
}

static int lx_xattr_set_at(const pm_fs *self PM_UNUSED, pm_fd dir,
                           const char *rel, const char *name, const void *val,
                           size_t len) {
  if (!*rel) {
    int r = fsetxattr((int)dir, name, val, len, 0);
    if (fd_xattr_done(rel, r)) return r < 0 ? fail() : 0;
  }
  bxpath x;
  PM_TRY(bxpath_open(dir, rel, &x));
  int r = x.follow ? setxattr(x.proc, name, val, len, 0)
                   : lsetxattr(x.proc, name, val, len, 0);
  int rc = r < 0 ? fail() : 0;
  bpath_close(&x.b);
  return rc;
}

static int lx_xattr_remove_at(const pm_fs *self PM_UNUSED, pm_fd dir,
                              const char *rel, const char *name) {
  if (!*rel) {
    int r = fremovexattr((int)dir, name);
    if (fd_xattr_done(rel, r)) return r < 0 ? fail() : 0;
  }
  bxpath x;
  PM_TRY(bxpath_open(dir, rel, &x));
  int r = x.follow ? removexattr(x.proc, name) : lremovexattr(x.proc, name);
  int rc = r < 0 ? fail() : 0;
  bpath_close(&x.b);
  return rc;
}

static int lx_lock(const pm_fs *self PM_UNUSED, pm_fd fd) {
  /* An open file description lock: it belongs to this open of the file
   * (not to the process, as a classic POSIX lock would, which any close
   * of any fd of the file would drop) and goes with the last close. */
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  int r;
  do r = fcntl((int)fd, F_OFD_SETLK, &fl);
  while (r < 0 && errno == EINTR);
  if (r == 0) return 0;
  if (errno == EAGAIN || errno == EACCES) {
    pm_oserr_record(PM_EBUSY, errno);
    return PM_EBUSY;
  }
  return fail();
}

/* Linux file systems have no named data streams (NTFS's, through
 * ntfs-3g, appear as xattrs, which the xattr pass copies). */
static int lx_streams_list(const pm_fs *self PM_UNUSED, pm_fd fd, char *buf,
                           size_t cap, size_t *len) {
  (void)fd, (void)buf, (void)cap;
  *len = 0;
  pm_oserr_record(PM_ENOTSUP, 0);
  return PM_ENOTSUP;
}

static int lx_stream_open(const pm_fs *self PM_UNUSED, pm_fd fd,
                          const char *name, int flags, uint32_t mode,
                          pm_fd *out) {
  (void)fd, (void)name, (void)flags, (void)mode;
  *out = PM_FD_INVALID;
  pm_oserr_record(PM_ENOTSUP, 0);
  return PM_ENOTSUP;
}

static int lx_stream_remove(const pm_fs *self PM_UNUSED, pm_fd fd,
                            const char *name) {
  (void)fd, (void)name;
  pm_oserr_record(PM_ENOTSUP, 0);
  return PM_ENOTSUP;
}

static const pm_fs_ops linux_ops = {
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
    .phys_pos = lx_phys_pos,
    .open_at = lx_open_at,
    .stat_at = lx_stat_at,
    .opendir_at = lx_opendir_at,
    .mkdir_at = lx_mkdir_at,
    .symlink_at = lx_symlink_at,
    .link_at = lx_link_at,
    .mknod_at = lx_mknod_at,
    .readlink_at = lx_readlink_at,
    .unlink_at = lx_unlink_at,
    .rmdir_at = lx_rmdir_at,
    .chmod_at = lx_chmod_at,
    .chown_at = lx_chown_at,
    .utimes_at = lx_utimes_at,
    .xattr_list_at = lx_xattr_list_at,
    .xattr_get_at = lx_xattr_get_at,
    .xattr_set_at = lx_xattr_set_at,
    .xattr_remove_at = lx_xattr_remove_at,
    .lock = lx_lock,
    .streams_list = lx_streams_list,
    .stream_open = lx_stream_open,
    .stream_remove = lx_stream_remove,
};

static const pm_fs linux_fs = {&linux_ops, NULL};

const pm_fs *pm_fs_native(void) { return &linux_fs; }
