/* memfs.c - the in-memory file-system table of the fuzz harnesses (see
 * memfs.h). Files live in a small fixed array; a handle is an index into
 * a small fixed array of open files. Errors come back as the PM_E* codes
 * the native table would give, so a parser takes the same paths as on a
 * real disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzcheck.h"
#include "memfs.h"

#define MAXFILES 8
#define MAXFDS 8

typedef struct mfile {
  char *name; /* NULL: free slot */
  uint8_t *data;
  size_t len, cap;
} mfile;

typedef struct mfd {
  int file; /* index into files, -1: free, ROOT_DIR: the folder */
  int flags;
} mfd;

/* The files live in one folder, ".": the parent of every relative name.
 * It can be opened (PM_O_DIRECTORY) and synced, as a writer that makes a
 * rename durable does, and holds nothing else. */
#define ROOT_DIR (-2)

static bool is_root(const char *path) {
  return !strcmp(path, ".") || !strcmp(path, "./") || !*path;
}

static mfile files[MAXFILES];
static mfd fds[MAXFDS] = {{-1, 0}, {-1, 0}, {-1, 0}, {-1, 0},
                          {-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}};

static int find(const char *path) {
  for (int i = 0; i < MAXFILES; i++)
    if (files[i].name && !strcmp(files[i].name, path)) return i;
  return -1;
}

static void drop(int i) {
  free(files[i].name);
  free(files[i].data);
  memset(&files[i], 0, sizeof files[i]);
}

static int create(const char *path) {
  for (int i = 0; i < MAXFILES; i++) {
    if (files[i].name) continue;
    files[i].name = strdup(path);
    if (!files[i].name) abort();
    return i;
  }
  return PM_ENOSPC;
}

static int reserve(mfile *f, size_t need) {
  if (need <= f->cap) return 0;
  /* A journal writer may ask for an offset far past the end; a harness
   * input is small, so anything beyond 64 MiB is a bug worth seeing. */
  if (need > (size_t)64 << 20) return PM_EFBIG;
  size_t cap = f->cap ? f->cap : 256;
  while (cap < need) cap *= 2;
  uint8_t *d = realloc(f->data, cap);
  if (!d) abort();
  f->data = d;
  f->cap = cap;
  return 0;
}

void fz_memfs_reset(void) {
  for (int i = 0; i < MAXFILES; i++) drop(i);
  for (int i = 0; i < MAXFDS; i++) fds[i].file = -1;
}

void fz_memfs_put(const char *path, const void *data, size_t len) {
  int i = find(path);
  if (i < 0) i = create(path);
  FZ_CHECK(i >= 0, "memfs: too many files");
  files[i].len = 0;
  FZ_CHECK(reserve(&files[i], len ? len : 1) == 0, "memfs: input too big");
  if (len) memcpy(files[i].data, data, len);
  files[i].len = len;
}

const uint8_t *fz_memfs_get(const char *path, size_t *len) {
  int i = find(path);
  if (i < 0) return NULL;
  *len = files[i].len;
  /* Never NULL for an existing empty file. */
  return files[i].data ? files[i].data : (const uint8_t *)"";
}

unsigned fz_memfs_open_count(void) {
  unsigned n = 0;
  for (int i = 0; i < MAXFDS; i++) n += fds[i].file != -1;
  return n;
}

static mfile *file_of(pm_fd fd) {
  if (fd < 0 || fd >= MAXFDS || fds[fd].file < 0) return NULL;
  return &files[fds[fd].file];
}

static bool is_root_fd(pm_fd fd) {
  return fd >= 0 && fd < MAXFDS && fds[fd].file == ROOT_DIR;
}

static int m_open(const pm_fs *self PM_UNUSED, const char *path, int flags,
                  uint32_t mode, pm_fd *out) {
  (void)mode;
  if ((flags & PM_O_DIRECTORY) && is_root(path)) {
    if ((flags & PM_O_ACCMODE) != PM_O_RDONLY) return PM_EISDIR;
    for (int k = 0; k < MAXFDS; k++) {
      if (fds[k].file != -1) continue;
      fds[k].file = ROOT_DIR;
      fds[k].flags = flags;
      *out = k;
      return 0;
    }
    return PM_EMFILE;
  }
  int i = find(path);
  if (i >= 0 && (flags & PM_O_CREAT) && (flags & PM_O_EXCL)) return PM_EEXIST;
  if (i < 0) {
    if (!(flags & PM_O_CREAT)) return PM_ENOENT;
    i = create(path);
    if (i < 0) return i;
  }
  if (flags & PM_O_DIRECTORY) return PM_ENOTDIR;
  for (int k = 0; k < MAXFDS; k++) {
    if (fds[k].file >= 0) continue;
    fds[k].file = i;
    fds[k].flags = flags;
    if ((flags & PM_O_TRUNC) && (flags & PM_O_ACCMODE) != PM_O_RDONLY)
      files[i].len = 0;
    *out = k;
    return 0;
  }
  return PM_EMFILE;
}

static int m_close(const pm_fs *self PM_UNUSED, pm_fd fd) {
  if (!file_of(fd) && !is_root_fd(fd)) return PM_EBADF;
  fds[fd].file = -1;
  return 0;
}

static int64_t m_pread(const pm_fs *self PM_UNUSED, pm_fd fd, void *buf,
                       size_t len, uint64_t off) {
  mfile *f = file_of(fd);
  if (!f) return PM_EBADF;
  if ((fds[fd].flags & PM_O_ACCMODE) == PM_O_WRONLY) return PM_EBADF;
  if (off >= f->len) return 0;
  size_t n = f->len - (size_t)off;
  if (n > len) n = len;
  memcpy(buf, f->data + off, n);
  return (int64_t)n;
}

static int64_t m_pwrite(const pm_fs *self PM_UNUSED, pm_fd fd, const void *buf,
                        size_t len, uint64_t off) {
  mfile *f = file_of(fd);
  if (!f) return PM_EBADF;
  if ((fds[fd].flags & PM_O_ACCMODE) == PM_O_RDONLY) return PM_EBADF;
  if (off > ((uint64_t)64 << 20)) return PM_EFBIG;
  int rc = reserve(f, (size_t)off + len);
  if (rc) return rc;
  if (off > f->len) memset(f->data + f->len, 0, (size_t)off - f->len);
  memcpy(f->data + off, buf, len);
  if ((size_t)off + len > f->len) f->len = (size_t)off + len;
  return (int64_t)len;
}

static int m_fsync(const pm_fs *self PM_UNUSED, pm_fd fd, bool data_only) {
  (void)data_only;
  return file_of(fd) || is_root_fd(fd) ? 0 : PM_EBADF;
}

static int m_ftruncate(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t size) {
  mfile *f = file_of(fd);
  if (!f) return PM_EBADF;
  if ((fds[fd].flags & PM_O_ACCMODE) == PM_O_RDONLY) return PM_EINVAL;
  if (size > ((uint64_t)64 << 20)) return PM_EFBIG;
  int rc = reserve(f, (size_t)size);
  if (rc) return rc;
  if (size > f->len) memset(f->data + f->len, 0, (size_t)size - f->len);
  f->len = (size_t)size;
  return 0;
}

static void fill_stat(const mfile *f, pm_stat *st) {
  memset(st, 0, sizeof *st);
  st->type = PM_T_FILE;
  st->mode = 0600;
  st->size = f->len;
  st->nlink = 1;
  st->ino = (uint64_t)(f - files) + 1;
}

static int m_fstat(const pm_fs *self PM_UNUSED, pm_fd fd, pm_stat *st) {
  mfile *f = file_of(fd);
  if (!f) return PM_EBADF;
  fill_stat(f, st);
  return 0;
}

static int m_stat(const pm_fs *self PM_UNUSED, const char *path, bool follow,
                  pm_stat *st) {
  (void)follow;
  int i = find(path);
  if (i < 0) return PM_ENOENT;
  fill_stat(&files[i], st);
  return 0;
}

static int m_unlink(const pm_fs *self PM_UNUSED, const char *path) {
  int i = find(path);
  if (i < 0) return PM_ENOENT;
  for (int k = 0; k < MAXFDS; k++)
    if (fds[k].file == i) return PM_EBUSY; /* never needed by a parser */
  drop(i);
  return 0;
}

static int m_rename(const pm_fs *self PM_UNUSED, const char *from,
                    const char *to) {
  int i = find(from);
  if (i < 0) return PM_ENOENT;
  int j = find(to);
  if (j == i) return 0;
  if (j >= 0) {
    for (int k = 0; k < MAXFDS; k++)
      if (fds[k].file == j) return PM_EBUSY;
    drop(j);
  }
  char *n = strdup(to);
  if (!n) abort();
  free(files[i].name);
  files[i].name = n;
  return 0;
}

/* Everything else: not a slot a parser of state files needs. */
static int no_opendir(const pm_fs *self PM_UNUSED, const char *p, pm_dir **o) {
  (void)p, (void)o;
  return PM_ENOTSUP;
}
static int no_readdir(const pm_fs *self PM_UNUSED, pm_dir *d, pm_dirent *e) {
  (void)d, (void)e;
  return PM_ENOTSUP;
}
static void no_closedir(const pm_fs *self PM_UNUSED, pm_dir *d) { (void)d; }
static int no_path_mode(const pm_fs *self PM_UNUSED, const char *p,
                        uint32_t m) {
  (void)p, (void)m;
  return PM_ENOTSUP;
}
static int no_path(const pm_fs *self PM_UNUSED, const char *p) {
  (void)p;
  return PM_ENOTSUP;
}
static int no_2path(const pm_fs *self PM_UNUSED, const char *a, const char *b) {
  (void)a, (void)b;
  return PM_ENOTSUP;
}
static int no_readlink(const pm_fs *self PM_UNUSED, const char *p, char *b,
                       size_t c, size_t *l) {
  (void)p, (void)b, (void)c, (void)l;
  return PM_ENOTSUP;
}
static int no_mknod(const pm_fs *self PM_UNUSED, const char *p, pm_ftype t,
                    uint32_t m, uint64_t r) {
  (void)p, (void)t, (void)m, (void)r;
  return PM_ENOTSUP;
}
static int no_fchmod(const pm_fs *self PM_UNUSED, pm_fd fd, uint32_t m) {
  (void)fd, (void)m;
  return PM_ENOTSUP;
}
static int no_fchown(const pm_fs *self PM_UNUSED, pm_fd fd, uint32_t u,
                     uint32_t g) {
  (void)fd, (void)u, (void)g;
  return PM_ENOTSUP;
}
static int no_chown(const pm_fs *self PM_UNUSED, const char *p, uint32_t u,
                    uint32_t g, bool f) {
  (void)p, (void)u, (void)g, (void)f;
  return PM_ENOTSUP;
}
static int no_futimes(const pm_fs *self PM_UNUSED, pm_fd fd, const pm_time *a,
                      const pm_time *m) {
  (void)fd, (void)a, (void)m;
  return PM_ENOTSUP;
}
static int no_utimes(const pm_fs *self PM_UNUSED, const char *p,
                     const pm_time *a, const pm_time *m, bool f) {
  (void)p, (void)a, (void)m, (void)f;
  return PM_ENOTSUP;
}
static int no_xlist(const pm_fs *self PM_UNUSED, const char *p, bool f, char *b,
                    size_t c, size_t *l) {
  (void)p, (void)f, (void)b, (void)c, (void)l;
  return PM_ENOTSUP;
}
static int no_xget(const pm_fs *self PM_UNUSED, const char *p, bool f,
                   const char *n, void *b, size_t c, size_t *l) {
  (void)p, (void)f, (void)n, (void)b, (void)c, (void)l;
  return PM_ENOTSUP;
}
static int no_xset(const pm_fs *self PM_UNUSED, const char *p, bool f,
                   const char *n, const void *v, size_t l) {
  (void)p, (void)f, (void)n, (void)v, (void)l;
  return PM_ENOTSUP;
}
static int64_t no_seek(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t off,
                       bool hole) {
  (void)fd, (void)off, (void)hole;
  return PM_ENOTSUP;
}
static int no_syncfs(const pm_fs *self PM_UNUSED, pm_fd fd) {
  (void)fd;
  return PM_ENOTSUP;
}
static int no_fsinfo(const pm_fs *self PM_UNUSED, const char *p, pm_fsinfo *i) {
  (void)p, (void)i;
  return PM_ENOTSUP;
}
static int no_realpath(const pm_fs *self PM_UNUSED, const char *p, char *b,
                       size_t c) {
  (void)p, (void)b, (void)c;
  return PM_ENOTSUP;
}
static int no_drop(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t off,
                   uint64_t len) {
  (void)fd, (void)off, (void)len;
  return PM_ENOTSUP;
}
static int no_cached(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t off) {
  (void)fd, (void)off;
  return PM_ENOTSUP;
}

static int no_phys_pos(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t *pos) {
  (void)fd, (void)pos;
  return PM_ENOTSUP;
}

static const pm_fs_ops memfs_ops = {
    .name = "fuzz-memfs",
    .open = m_open,
    .close = m_close,
    .pread = m_pread,
    .pwrite = m_pwrite,
    .fsync = m_fsync,
    .ftruncate = m_ftruncate,
    .fstat = m_fstat,
    .stat = m_stat,
    .opendir = no_opendir,
    .readdir = no_readdir,
    .closedir = no_closedir,
    .mkdir = no_path_mode,
    .rmdir = no_path,
    .unlink = m_unlink,
    .rename = m_rename,
    .link = no_2path,
    .symlink = no_2path,
    .readlink = no_readlink,
    .mknod = no_mknod,
    .fchmod = no_fchmod,
    .chmod = no_path_mode,
    .fchown = no_fchown,
    .chown = no_chown,
    .futimes = no_futimes,
    .utimes = no_utimes,
    .xattr_list = no_xlist,
    .xattr_get = no_xget,
    .xattr_set = no_xset,
    .seek = no_seek,
    .syncfs = no_syncfs,
    .fsinfo = no_fsinfo,
    .realpath = no_realpath,
    .drop_cache = no_drop,
    .cached = no_cached,
    .phys_pos = no_phys_pos,
};

static const pm_fs memfs = {&memfs_ops, NULL};

const pm_fs *fz_memfs(void) { return &memfs; }

static FILE *real_err;

FILE *fz_err(void) { return real_err ? real_err : stderr; }

void fz_quiet_reports(void) {
  if (real_err) return;
  real_err = stderr;
  const char *v = getenv("POMOVE_FUZZ_VERBOSE");
  if (v && *v && strcmp(v, "0")) return;
  FILE *null = fopen("/dev/null", "w");
  /* glibc's stderr is an assignable variable; the parsers' reports go
   * through it, libFuzzer captured its own copy at start-up. */
  if (null) stderr = null;
}
