/* faultfs.c - see faultfs.h. */
#include "faultfs.h"

#include <stdatomic.h>
#include <string.h>

static const pm_fs *parent;
static fault_plan plan;
static atomic_ulong counts[FK_NKINDS];
static atomic_bool fired;
static faultfs_hook_fn hook;
static void *hook_arg;

void faultfs_setup(const pm_fs *p, const fault_plan *pl) {
  parent = p ? p : pm_fs_native();
  memset(&plan, 0, sizeof plan);
  if (pl) plan = *pl;
  for (int i = 0; i < FK_NKINDS; i++) atomic_store(&counts[i], 0);
  atomic_store(&fired, false);
  hook = NULL;
  hook_arg = NULL;
}

void faultfs_set_hook(faultfs_hook_fn fn, void *arg) {
  hook = fn;
  hook_arg = arg;
}

unsigned long faultfs_calls(fault_kind k) { return atomic_load(&counts[k]); }
bool faultfs_fired(void) { return atomic_load(&fired); }

const char *faultfs_kind_name(fault_kind k) {
  static const char *names[] = {"open", "read",  "write", "fsync",
                                "mkdir", "rename", "metadata", "list",
                                "stat", "any"};
  return k < FK_NKINDS ? names[k] : "?";
}

/* Counts a call of kind k; returns the error to inject, or 0. *nth_out
 * (may be NULL) receives this call's own number among calls of kind k:
 * reading the counter again later would see other threads' calls. */
static int hit_n(fault_kind k, unsigned long *nth_out) {
  unsigned long n = atomic_fetch_add(&counts[k], 1) + 1;
  if (nth_out) *nth_out = n;
  unsigned long any = atomic_fetch_add(&counts[FK_ANY], 1) + 1;
  if (!plan.nth) return 0;
  unsigned long cmp = plan.kind == FK_ANY ? any : (plan.kind == k ? n : 0);
  if (!cmp) return 0;
  if (cmp == plan.nth || (plan.persistent && cmp > plan.nth)) {
    atomic_store(&fired, true);
    pm_oserr_set(0);
    return plan.err;
  }
  return 0;
}

static int hit(fault_kind k) { return hit_n(k, NULL); }

#define INJECT(kind)               \
  do {                             \
    int e_ = hit(kind);            \
    if (e_) return e_;             \
  } while (0)

/* The hook sees a call before it is counted or delegated. */
#define HOOK(op, name, fl)                                   \
  do {                                                       \
    if (hook) hook(op, name, fl, hook_arg);                  \
  } while (0)

static int f_open(const pm_fs *self PM_UNUSED, const char *p, int fl,
                  uint32_t m, pm_fd *o) {
  HOOK("open", p, fl);
  INJECT(FK_OPEN);
  return pm_fs_open(parent, p, fl, m, o);
}
static int f_close(const pm_fs *self PM_UNUSED, pm_fd fd) {
  return pm_fs_close(parent, fd);
}
static int64_t f_pread(const pm_fs *self PM_UNUSED, pm_fd fd, void *b, size_t l,
                       uint64_t off) {
  INJECT(FK_READ);
  if (plan.short_io && l > plan.short_io) l = plan.short_io;
  return pm_fs_pread(parent, fd, b, l, off);
}
static int64_t f_pwrite(const pm_fs *self PM_UNUSED, pm_fd fd, const void *b,
                        size_t l, uint64_t off) {
  INJECT(FK_WRITE);
  if (plan.short_io && l > plan.short_io) l = plan.short_io;
  return pm_fs_pwrite(parent, fd, b, l, off);
}
static int f_fsync(const pm_fs *self PM_UNUSED, pm_fd fd, bool d) {
  INJECT(FK_FSYNC);
  return pm_fs_fsync(parent, fd, d);
}
static int f_ftruncate(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t s) {
  INJECT(FK_META);
  return pm_fs_ftruncate(parent, fd, s);
}
static int f_fstat(const pm_fs *self PM_UNUSED, pm_fd fd, pm_stat *st) {
  INJECT(FK_STAT);
  return pm_fs_fstat(parent, fd, st);
}
static int f_stat(const pm_fs *self PM_UNUSED, const char *p, bool f,
                  pm_stat *st) {
  HOOK("stat", p, 0);
  INJECT(FK_STAT);
  return pm_fs_stat(parent, p, f, st);
}
static int f_opendir(const pm_fs *self PM_UNUSED, const char *p, pm_dir **o) {
  HOOK("opendir", p, 0);
  INJECT(FK_LIST);
  return pm_fs_opendir(parent, p, o);
}
static int f_readdir(const pm_fs *self PM_UNUSED, pm_dir *d, pm_dirent *e) {
  INJECT(FK_LIST);
  return pm_fs_readdir(parent, d, e);
}
static void f_closedir(const pm_fs *self PM_UNUSED, pm_dir *d) {
  pm_fs_closedir(parent, d);
}
static int f_mkdir(const pm_fs *self PM_UNUSED, const char *p, uint32_t m) {
  HOOK("mkdir", p, 0);
  INJECT(FK_MKDIR);
  return pm_fs_mkdir(parent, p, m);
}
static int f_rmdir(const pm_fs *self PM_UNUSED, const char *p) {
  INJECT(FK_META);
  return pm_fs_rmdir(parent, p);
}
static int f_unlink(const pm_fs *self PM_UNUSED, const char *p) {
  INJECT(FK_META);
  return pm_fs_unlink(parent, p);
}
static int f_rename(const pm_fs *self PM_UNUSED, const char *a, const char *b) {
  INJECT(FK_RENAME);
  return pm_fs_rename(parent, a, b);
}
static int f_link(const pm_fs *self PM_UNUSED, const char *a, const char *b) {
  INJECT(FK_META);
  return pm_fs_link(parent, a, b);
}
static int f_symlink(const pm_fs *self PM_UNUSED, const char *a,
                     const char *b) {
  INJECT(FK_META);
  return pm_fs_symlink(parent, a, b);
}
static int f_readlink(const pm_fs *self PM_UNUSED, const char *p, char *b,
                      size_t c, size_t *l) {
  INJECT(FK_STAT);
  return pm_fs_readlink(parent, p, b, c, l);
}
static int f_mknod(const pm_fs *self PM_UNUSED, const char *p, pm_ftype t,
                   uint32_t m, uint64_t r) {
  INJECT(FK_META);
  return pm_fs_mknod(parent, p, t, m, r);
}
static int f_fchmod(const pm_fs *self PM_UNUSED, pm_fd fd, uint32_t m) {
  INJECT(FK_META);
  return pm_fs_fchmod(parent, fd, m);
}
static int f_chmod(const pm_fs *self PM_UNUSED, const char *p, uint32_t m) {
  INJECT(FK_META);
  return pm_fs_chmod(parent, p, m);
}
static int f_fchown(const pm_fs *self PM_UNUSED, pm_fd fd, uint32_t u,
                    uint32_t g) {
  INJECT(FK_META);
  return pm_fs_fchown(parent, fd, u, g);
}
static int f_chown(const pm_fs *self PM_UNUSED, const char *p, uint32_t u,
                   uint32_t g, bool f) {
  INJECT(FK_META);
  return pm_fs_chown(parent, p, u, g, f);
}
static int f_futimes(const pm_fs *self PM_UNUSED, pm_fd fd, const pm_time *a,
                     const pm_time *m) {
  INJECT(FK_META);
  return pm_fs_futimes(parent, fd, a, m);
}
static int f_utimes(const pm_fs *self PM_UNUSED, const char *p,
                    const pm_time *a, const pm_time *m, bool f) {
  INJECT(FK_META);
  return pm_fs_utimes(parent, p, a, m, f);
}
static int f_xattr_list(const pm_fs *self PM_UNUSED, const char *p, bool f,
                        char *b, size_t c, size_t *l) {
  INJECT(FK_STAT);
  return pm_fs_xattr_list(parent, p, f, b, c, l);
}
static int f_xattr_get(const pm_fs *self PM_UNUSED, const char *p, bool f,
                       const char *n, void *b, size_t c, size_t *l) {
  INJECT(FK_STAT);
  return pm_fs_xattr_get(parent, p, f, n, b, c, l);
}
static int f_xattr_set(const pm_fs *self PM_UNUSED, const char *p, bool f,
                       const char *n, const void *v, size_t l) {
  INJECT(FK_META);
  return pm_fs_xattr_set(parent, p, f, n, v, l);
}
static int64_t f_seek(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t o,
                      bool h) {
  INJECT(FK_STAT);
  return pm_fs_seek(parent, fd, o, h);
}
static int f_syncfs(const pm_fs *self PM_UNUSED, pm_fd fd) {
  INJECT(FK_FSYNC);
  return pm_fs_syncfs(parent, fd);
}
static int f_fsinfo(const pm_fs *self PM_UNUSED, const char *p, pm_fsinfo *i) {
  return pm_fs_fsinfo(parent, p, i);
}
static int f_realpath(const pm_fs *self PM_UNUSED, const char *p, char *b,
                      size_t c) {
  return pm_fs_realpath(parent, p, b, c);
}
static int f_drop_cache(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t o,
                        uint64_t l) {
  return pm_fs_drop_cache(parent, fd, o, l);
}

static int f_cached(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t o) {
  return pm_fs_cached(parent, fd, o);
}
static int f_lock(const pm_fs *self PM_UNUSED, pm_fd fd) {
  INJECT(FK_META);
  return pm_fs_lock(parent, fd);
}

/* The calls beneath a directory handle count as their path forms do. */
static int f_open_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r,
                     int fl, uint32_t m, pm_fd *o) {
  HOOK("open", r, fl);
  INJECT(FK_OPEN);
  return pm_fs_open_at(parent, d, r, fl, m, o);
}
static int f_stat_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r,
                     pm_stat *st) {
  HOOK("stat", r, 0);
  INJECT(FK_STAT);
  return pm_fs_stat_at(parent, d, r, st);
}
static int f_opendir_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r,
                        pm_dir **o) {
  HOOK("opendir", r, 0);
  INJECT(FK_LIST);
  return pm_fs_opendir_at(parent, d, r, o);
}
static int f_mkdir_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r,
                      uint32_t m) {
  HOOK("mkdir", r, 0);
  INJECT(FK_MKDIR);
  return pm_fs_mkdir_at(parent, d, r, m);
}
static int f_symlink_at(const pm_fs *self PM_UNUSED, const char *t, pm_fd d,
                        const char *r) {
  INJECT(FK_META);
  return pm_fs_symlink_at(parent, t, d, r);
}
static int f_link_at(const pm_fs *self PM_UNUSED, pm_fd od, const char *orl,
                     pm_fd nd, const char *nr) {
  INJECT(FK_META);
  return pm_fs_link_at(parent, od, orl, nd, nr);
}
static int f_mknod_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r,
                      pm_ftype t, uint32_t m, uint64_t rd) {
  INJECT(FK_META);
  return pm_fs_mknod_at(parent, d, r, t, m, rd);
}
static int f_readlink_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r,
                         char *b, size_t c, size_t *l) {
  INJECT(FK_STAT);
  return pm_fs_readlink_at(parent, d, r, b, c, l);
}
static int f_unlink_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r) {
  INJECT(FK_META);
  return pm_fs_unlink_at(parent, d, r);
}
static int f_rmdir_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r) {
  INJECT(FK_META);
  return pm_fs_rmdir_at(parent, d, r);
}
static int f_chmod_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r,
                      uint32_t m) {
  INJECT(FK_META);
  return pm_fs_chmod_at(parent, d, r, m);
}
static int f_chown_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r,
                      uint32_t u, uint32_t g) {
  INJECT(FK_META);
  return pm_fs_chown_at(parent, d, r, u, g);
}
static int f_utimes_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r,
                       const pm_time *a, const pm_time *m) {
  INJECT(FK_META);
  return pm_fs_utimes_at(parent, d, r, a, m);
}
static int f_xattr_list_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r,
                           char *b, size_t c, size_t *l) {
  INJECT(FK_STAT);
  return pm_fs_xattr_list_at(parent, d, r, b, c, l);
}
static int f_xattr_get_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r,
                          const char *n, void *b, size_t c, size_t *l) {
  INJECT(FK_STAT);
  return pm_fs_xattr_get_at(parent, d, r, n, b, c, l);
}
static int f_xattr_set_at(const pm_fs *self PM_UNUSED, pm_fd d, const char *r,
                          const char *n, const void *v, size_t l) {
  INJECT(FK_META);
  return pm_fs_xattr_set_at(parent, d, r, n, v, l);
}
static int f_xattr_remove_at(const pm_fs *self PM_UNUSED, pm_fd d,
                             const char *r, const char *n) {
  INJECT(FK_META);
  return pm_fs_xattr_remove_at(parent, d, r, n);
}

/* A stream is listed as a file's metadata is, and opened as a file is
 * (its reads and writes are the table's pread and pwrite, counted there). */
static int f_streams_list(const pm_fs *self PM_UNUSED, pm_fd fd, char *b,
                          size_t c, size_t *l) {
  INJECT(FK_STAT);
  return pm_fs_streams_list(parent, fd, b, c, l);
}
static int f_stream_open(const pm_fs *self PM_UNUSED, pm_fd fd, const char *n,
                         int fl, uint32_t m, pm_fd *o) {
  INJECT(FK_OPEN);
  return pm_fs_stream_open(parent, fd, n, fl, m, o);
}

static const pm_fs_ops fault_ops = {
    .name = "faultfs",
    .open = f_open,
    .close = f_close,
    .pread = f_pread,
    .pwrite = f_pwrite,
    .fsync = f_fsync,
    .ftruncate = f_ftruncate,
    .fstat = f_fstat,
    .stat = f_stat,
    .opendir = f_opendir,
    .readdir = f_readdir,
    .closedir = f_closedir,
    .mkdir = f_mkdir,
    .rmdir = f_rmdir,
    .unlink = f_unlink,
    .rename = f_rename,
    .link = f_link,
    .symlink = f_symlink,
    .readlink = f_readlink,
    .mknod = f_mknod,
    .fchmod = f_fchmod,
    .chmod = f_chmod,
    .fchown = f_fchown,
    .chown = f_chown,
    .futimes = f_futimes,
    .utimes = f_utimes,
    .xattr_list = f_xattr_list,
    .xattr_get = f_xattr_get,
    .xattr_set = f_xattr_set,
    .seek = f_seek,
    .syncfs = f_syncfs,
    .fsinfo = f_fsinfo,
    .realpath = f_realpath,
    .drop_cache = f_drop_cache,
    .cached = f_cached,
    .open_at = f_open_at,
    .stat_at = f_stat_at,
    .opendir_at = f_opendir_at,
    .mkdir_at = f_mkdir_at,
    .symlink_at = f_symlink_at,
    .link_at = f_link_at,
    .mknod_at = f_mknod_at,
    .readlink_at = f_readlink_at,
    .unlink_at = f_unlink_at,
    .rmdir_at = f_rmdir_at,
    .chmod_at = f_chmod_at,
    .chown_at = f_chown_at,
    .utimes_at = f_utimes_at,
    .xattr_list_at = f_xattr_list_at,
    .xattr_get_at = f_xattr_get_at,
    .xattr_set_at = f_xattr_set_at,
    .xattr_remove_at = f_xattr_remove_at,
    .lock = f_lock,
    .streams_list = f_streams_list,
    .stream_open = f_stream_open,
};

static const pm_fs fault_fs = {&fault_ops, NULL};

const pm_fs *faultfs_ops(void) { return &fault_fs; }

/* ---- engine wrapper ---- */

static const pm_io_engine_ops *eparent;

static int e_probe(void) { return eparent->probe(); }
static int e_init(const pm_fs *fs, unsigned depth, pm_io_ctx **out) {
  (void)fs;
  return eparent->init(parent, depth, out);
}
static int e_queue(pm_io_ctx *c, pm_io_req *req) {
  fault_kind k = req->op == PM_IO_READ    ? FK_READ
                 : req->op == PM_IO_WRITE ? FK_WRITE
                                          : FK_FSYNC;
  unsigned long nth;
  int e = hit_n(k, &nth);
  if (e) {
    req->res = e;
    req->oserr = 0;
    return PM_Q_COMPLETED;
  }
  /* This request's own number decides: two workers queueing at once must
   * not both see the count at corrupt_nth (a flake seen under TSan). */
  if (k == FK_WRITE && plan.corrupt_nth && nth == plan.corrupt_nth &&
      req->len > 0) {
    ((unsigned char *)req->buf)[0] ^= 0x5A;
    atomic_store(&fired, true);
  }
  if (plan.short_io && (k == FK_READ || k == FK_WRITE) &&
      req->len > plan.short_io)
    req->len = plan.short_io;
  return eparent->queue(c, req);
}
static int e_commit(pm_io_ctx *c) { return eparent->commit(c); }
static int e_getevents(pm_io_ctx *c, unsigned mn, unsigned mx,
                       pm_io_req **ev) {
  return eparent->getevents(c, mn, mx, ev);
}
static void e_cleanup(pm_io_ctx *c) { eparent->cleanup(c); }

static pm_io_engine_ops fault_engine = {.name = "fault",
                                        .probe = e_probe,
                                        .init = e_init,
                                        .queue = e_queue,
                                        .commit = e_commit,
                                        .getevents = e_getevents,
                                        .cleanup = e_cleanup};

const pm_io_engine_ops *faultfs_engine(const pm_io_engine_ops *p) {
  eparent = p;
  return &fault_engine;
}
