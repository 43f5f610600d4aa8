/* faultlayer.c - see faultlayer.h. */
#include "faultlayer.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "thread.h"
#include "util.h"

/* The path each open handle was opened with. */
typedef struct fl_handle {
  pm_fd fd;
  char *path;
} fl_handle;

struct fl_layer {
  pm_fs fs; /* what the code under test calls: ops fl_ops, ctx this */
  const pm_fs *parent;
  fl_rule rule;
  char *rule_path; /* rule.path's copy */
  atomic_ulong calls[FL_NOPS], engine_calls[FL_NOPS];
  atomic_ulong matched, reads_matched, writes_matched, refused;
  atomic_bool fired;
  fl_hook_fn hook;
  void *hook_arg;
  pm_mutex mu; /* guards handles */
  fl_handle *handles;
  size_t nhandles, caphandles;
};

/* A call's path: borrowed, or built (owned) for a call on a handle. */
typedef struct fl_target {
  const char *path;
  char *owned;
} fl_target;

static fl_target fl_target_path(const char *path) {
  fl_target t = {path, NULL};
  return t;
}

/* A copy of the path recorded for fd, or NULL. */
static char *handle_path(fl_layer *L, pm_fd fd) {
  char *p = NULL;
  pm_mutex_lock(&L->mu);
  for (size_t i = 0; i < L->nhandles; i++)
    if (L->handles[i].fd == fd) {
      p = pm_xstrdup(L->handles[i].path);
      break;
    }
  pm_mutex_unlock(&L->mu);
  return p;
}

static void handle_set(fl_layer *L, pm_fd fd, const char *path) {
  pm_mutex_lock(&L->mu);
  size_t i = 0;
  while (i < L->nhandles && L->handles[i].fd != fd) i++;
  if (i == L->nhandles) {
    if (L->nhandles == L->caphandles) {
      L->caphandles = L->caphandles ? 2 * L->caphandles : 64;
      L->handles = pm_xrealloc(L->handles, L->caphandles * sizeof *L->handles);
    }
    L->handles[i].fd = fd;
    L->handles[i].path = NULL;
    L->nhandles++;
  }
  free(L->handles[i].path);
  L->handles[i].path = pm_xstrdup(path);
  pm_mutex_unlock(&L->mu);
}

static void handle_drop(fl_layer *L, pm_fd fd) {
  pm_mutex_lock(&L->mu);
  for (size_t i = 0; i < L->nhandles; i++)
    if (L->handles[i].fd == fd) {
      free(L->handles[i].path);
      L->handles[i] = L->handles[--L->nhandles];
      break;
    }
  pm_mutex_unlock(&L->mu);
}

static fl_target fl_target_fd(fl_layer *L, pm_fd fd) {
  fl_target t = {NULL, NULL};
  if (L->rule.path) t.path = t.owned = handle_path(L, fd);
  return t;
}

static char *path_at(fl_layer *L, pm_fd dir, const char *rel) {
  char *d = handle_path(L, dir);
  char *p = pm_xasprintf("%s/%s", d ? d : "", rel);
  free(d);
  return p;
}

static fl_target fl_target_at(fl_layer *L, pm_fd dir, const char *rel) {
  fl_target t = {NULL, NULL};
  if (L->rule.path) t.path = t.owned = path_at(L, dir, rel);
  return t;
}

static void fl_target_free(fl_target *t) { free(t->owned); }

static void fl_count(fl_layer *L, fl_op op) {
  atomic_fetch_add(&L->calls[op], 1);
}

/* Whether a call with this target (and, for a read or write, reaching
 * off_end) is one the rule counts. */
static bool matches(const fl_layer *L, fl_op op, const fl_target *t,
                    uint64_t off_end) {
  const fl_rule *r = &L->rule;
  if (op >= FL_CLOSE || !(r->ops & FL_MASK(op))) return false;
  if (r->path) {
    if (!t->path) return false;
    size_t n = strlen(t->path), k = strlen(r->path);
    bool ok = r->path_match == FL_PATH_PREFIX ? !strncmp(t->path, r->path, k)
              : r->path_match == FL_PATH_SUFFIX
                  ? n >= k && !strcmp(t->path + n - k, r->path)
                  : strstr(t->path, r->path) != NULL;
    if (!ok) return false;
  }
  if (r->off_set && (op == FL_READ || op == FL_WRITE) && off_end <= r->off)
    return false;
  return true;
}

/* Counts a call; returns the error to inject, or 0. *nth_out (may be
 * NULL) receives a matching read's or write's own number among matching
 * reads or writes (0 when it did not match): reading a counter again
 * later would see other threads' calls. */
static int fl_hit_n(fl_layer *L, fl_op op, const fl_target *t, uint64_t off_end,
                    unsigned long *nth_out) {
  fl_count(L, op);
  if (nth_out) *nth_out = 0;
  if (!matches(L, op, t, off_end)) return 0;
  unsigned long n = atomic_fetch_add(&L->matched, 1) + 1;
  if (nth_out && op == FL_READ)
    *nth_out = atomic_fetch_add(&L->reads_matched, 1) + 1;
  if (nth_out && op == FL_WRITE)
    *nth_out = atomic_fetch_add(&L->writes_matched, 1) + 1;
  const fl_rule *r = &L->rule;
  if (r->nth && (n == r->nth || (r->persistent && n > r->nth))) {
    atomic_store(&L->fired, true);
    pm_oserr_set(r->oserr);
    return r->err;
  }
  return 0;
}

static int fl_hit(fl_layer *L, fl_op op, const fl_target *t, uint64_t off_end) {
  return fl_hit_n(L, op, t, off_end, NULL);
}

/* The check a counted slot makes before it forwards: the test's hook
 * first, for the calls that offer it one (`hook` names the call; NULL:
 * none), whose answer, when not 0, is the call's and is counted under
 * op; then the rule, against the call's path, the path beneath its
 * directory handle, or the path its handle was opened by. 0 lets the
 * call through. */
static int gate_hook(fl_layer *L, fl_op op, const char *hook,
                     const char *path) {
  if (!hook || !L->hook) return 0;
  int h = L->hook(hook, path, 0, L->hook_arg);
  if (h) fl_count(L, op);
  return h;
}

static int gate_target(fl_layer *L, fl_op op, fl_target t) {
  int e = fl_hit(L, op, &t, 0);
  fl_target_free(&t);
  return e;
}

static int gate_path(fl_layer *L, fl_op op, const char *hook,
                     const char *path) {
  int h = gate_hook(L, op, hook, path);
  return h ? h : gate_target(L, op, fl_target_path(path));
}

static int gate_at(fl_layer *L, fl_op op, const char *hook, pm_fd dir,
                   const char *rel) {
  int h = gate_hook(L, op, hook, rel);
  return h ? h : gate_target(L, op, fl_target_at(L, dir, rel));
}

static int gate_fd(fl_layer *L, fl_op op, pm_fd fd) {
  return gate_target(L, op, fl_target_fd(L, fd));
}

static int refuse(fl_layer *L, int flags) {
  if (!(flags & L->rule.refuse_flags)) return 0;
  atomic_fetch_add(&L->refused, 1);
  pm_oserr_set(0);
  return L->rule.refuse_err;
}

/* ---- the slots that do more than count and forward ---- */

static int l_open(const pm_fs *self, const char *path, int flags, uint32_t mode,
                  pm_fd *out) {
  fl_layer *L = self->ctx;
  int e = L->hook ? L->hook("open", path, flags, L->hook_arg) : 0;
  fl_target t = fl_target_path(path);
  if (e) fl_count(L, FL_OPEN);
  if (!e) e = fl_hit(L, FL_OPEN, &t, 0);
  if (!e) e = refuse(L, flags);
  if (e) return e;
  int rc = pm_fs_open(L->parent, path, flags, mode, out);
  if (!rc) handle_set(L, *out, path);
  return rc;
}

static int l_open_at(const pm_fs *self, pm_fd dir, const char *rel, int flags,
                     uint32_t mode, pm_fd *out) {
  fl_layer *L = self->ctx;
  int e = L->hook ? L->hook("open_at", rel, flags, L->hook_arg) : 0;
  char *full = path_at(L, dir, rel);
  fl_target t = fl_target_path(full);
  if (e) fl_count(L, FL_OPEN);
  if (!e) e = fl_hit(L, FL_OPEN, &t, 0);
  if (!e) e = refuse(L, flags);
  int rc = e ? e : pm_fs_open_at(L->parent, dir, rel, flags, mode, out);
  if (!rc) handle_set(L, *out, full);
  free(full);
  return rc;
}

/* "FILE:NAME", the path a stream's calls are matched and known by. */
static char *stream_path(fl_layer *L, pm_fd fd, const char *name) {
  char *d = handle_path(L, fd);
  char *full = pm_xasprintf("%s:%s", d ? d : "", name);
  free(d);
  return full;
}

static int l_stream_open(const pm_fs *self, pm_fd fd, const char *name,
                         int flags, uint32_t mode, pm_fd *out) {
  fl_layer *L = self->ctx;
  char *full = stream_path(L, fd, name);
  fl_target t = fl_target_path(full);
  int e = fl_hit(L, FL_OPEN, &t, 0);
  if (!e) e = refuse(L, flags);
  int rc = e ? e : pm_fs_stream_open(L->parent, fd, name, flags, mode, out);
  if (!rc) handle_set(L, *out, full);
  free(full);
  return rc;
}

/* A removal changes the file: counted and failed as FL_META. */
static int l_stream_remove(const pm_fs *self, pm_fd fd, const char *name) {
  fl_layer *L = self->ctx;
  char *full = stream_path(L, fd, name);
  fl_target t = fl_target_path(full);
  int e = fl_hit(L, FL_META, &t, 0);
  free(full);
  return e ? e : pm_fs_stream_remove(L->parent, fd, name);
}

static int l_close(const pm_fs *self, pm_fd fd) {
  fl_layer *L = self->ctx;
  fl_count(L, FL_CLOSE);
  handle_drop(L, fd);
  return pm_fs_close(L->parent, fd);
}

static void l_closedir(const pm_fs *self, pm_dir *d) {
  fl_layer *L = self->ctx;
  fl_count(L, FL_CLOSE);
  pm_fs_closedir(L->parent, d);
}

static int l_opendir(const pm_fs *self, const char *path, pm_dir **out) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_LIST, "opendir", path);
  if (e) return e;
  return pm_fs_opendir(L->parent, path, out);
}

static int l_opendir_at(const pm_fs *self, pm_fd dir, const char *rel,
                        pm_dir **out) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_LIST, "opendir_at", dir, rel);
  if (e) return e;
  return pm_fs_opendir_at(L->parent, dir, rel, out);
}

static int64_t l_pread(const pm_fs *self, pm_fd fd, void *buf, size_t len,
                       uint64_t off) {
  fl_layer *L = self->ctx;
  fl_target t = fl_target_fd(L, fd);
  unsigned long nth;
  int e = fl_hit_n(L, FL_READ, &t, off + len, &nth);
  fl_target_free(&t);
  if (e) return e;
  if (L->rule.short_io && len > L->rule.short_io) len = L->rule.short_io;
  int64_t n = pm_fs_pread(L->parent, fd, buf, len, off);
  if (n > 0 && nth && nth == L->rule.corrupt_read_nth) {
    ((unsigned char *)buf)[0] ^= 0x5A;
    atomic_store(&L->fired, true);
  }
  return n;
}

static int64_t l_pwrite(const pm_fs *self, pm_fd fd, const void *buf,
                        size_t len, uint64_t off) {
  fl_layer *L = self->ctx;
  fl_target t = fl_target_fd(L, fd);
  unsigned long nth;
  int e = fl_hit_n(L, FL_WRITE, &t, off + len, &nth);
  fl_target_free(&t);
  if (e) return e;
  if (L->rule.short_io && len > L->rule.short_io) len = L->rule.short_io;
  if (len > 0 && nth && nth == L->rule.corrupt_write_nth) {
    /* The caller's buffer is const: write a flipped copy. */
    unsigned char *copy = pm_xmalloc(len);
    memcpy(copy, buf, len);
    copy[0] ^= 0x5A;
    atomic_store(&L->fired, true);
    int64_t n = pm_fs_pwrite(L->parent, fd, copy, len, off);
    free(copy);
    return n;
  }
  return pm_fs_pwrite(L->parent, fd, buf, len, off);
}

/* ---- the slots that count and forward (generated from platform.h's
 * table, then kept by hand) ---- */

static int l_fsync(const pm_fs *self, pm_fd fd, bool data_only) {
  fl_layer *L = self->ctx;
  int e = gate_fd(L, FL_FSYNC, fd);
  if (e) return e;
  return pm_fs_fsync(L->parent, fd, data_only);
}
static int l_ftruncate(const pm_fs *self, pm_fd fd, uint64_t size) {
  fl_layer *L = self->ctx;
  int e = gate_fd(L, FL_META, fd);
  if (e) return e;
  return pm_fs_ftruncate(L->parent, fd, size);
}
static int l_fstat(const pm_fs *self, pm_fd fd, pm_stat *st) {
  fl_layer *L = self->ctx;
  int e = gate_fd(L, FL_STAT, fd);
  if (e) return e;
  return pm_fs_fstat(L->parent, fd, st);
}
static int l_stat(const pm_fs *self, const char *path, bool follow,
                  pm_stat *st) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_STAT, "stat", path);
  if (e) return e;
  return pm_fs_stat(L->parent, path, follow, st);
}
static int l_readdir(const pm_fs *self, pm_dir *d, pm_dirent *ent) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_LIST, NULL, NULL);
  if (e) return e;
  return pm_fs_readdir(L->parent, d, ent);
}
static int l_mkdir(const pm_fs *self, const char *path, uint32_t mode) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_MKDIR, "mkdir", path);
  if (e) return e;
  return pm_fs_mkdir(L->parent, path, mode);
}
static int l_rmdir(const pm_fs *self, const char *path) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_META, "rmdir", path);
  if (e) return e;
  return pm_fs_rmdir(L->parent, path);
}
static int l_unlink(const pm_fs *self, const char *path) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_META, "unlink", path);
  if (e) return e;
  return pm_fs_unlink(L->parent, path);
}
static int l_rename(const pm_fs *self, const char *from, const char *to) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_RENAME, "rename", to);
  if (e) return e;
  return pm_fs_rename(L->parent, from, to);
}
static int l_link(const pm_fs *self, const char *existing,
                  const char *newpath) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_META, NULL, newpath);
  if (e) return e;
  return pm_fs_link(L->parent, existing, newpath);
}
static int l_symlink(const pm_fs *self, const char *target,
                     const char *linkpath) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_META, NULL, linkpath);
  if (e) return e;
  return pm_fs_symlink(L->parent, target, linkpath);
}
static int l_readlink(const pm_fs *self, const char *path, char *buf,
                      size_t cap, size_t *len) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_STAT, NULL, path);
  if (e) return e;
  return pm_fs_readlink(L->parent, path, buf, cap, len);
}
static int l_mknod(const pm_fs *self, const char *path, pm_ftype type,
                   uint32_t mode, uint64_t rdev) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_META, NULL, path);
  if (e) return e;
  return pm_fs_mknod(L->parent, path, type, mode, rdev);
}
static int l_fchmod(const pm_fs *self, pm_fd fd, uint32_t mode) {
  fl_layer *L = self->ctx;
  int e = gate_fd(L, FL_META, fd);
  if (e) return e;
  return pm_fs_fchmod(L->parent, fd, mode);
}
static int l_chmod(const pm_fs *self, const char *path, uint32_t mode) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_META, NULL, path);
  if (e) return e;
  return pm_fs_chmod(L->parent, path, mode);
}
static int l_fchown(const pm_fs *self, pm_fd fd, uint32_t uid, uint32_t gid) {
  fl_layer *L = self->ctx;
  int e = gate_fd(L, FL_META, fd);
  if (e) return e;
  return pm_fs_fchown(L->parent, fd, uid, gid);
}
static int l_chown(const pm_fs *self, const char *path, uint32_t uid,
                   uint32_t gid, bool follow) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_META, NULL, path);
  if (e) return e;
  return pm_fs_chown(L->parent, path, uid, gid, follow);
}
static int l_futimes(const pm_fs *self, pm_fd fd, const pm_time *atime,
                     const pm_time *mtime) {
  fl_layer *L = self->ctx;
  int e = gate_fd(L, FL_META, fd);
  if (e) return e;
  return pm_fs_futimes(L->parent, fd, atime, mtime);
}
static int l_utimes(const pm_fs *self, const char *path, const pm_time *atime,
                    const pm_time *mtime, bool follow) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_META, NULL, path);
  if (e) return e;
  return pm_fs_utimes(L->parent, path, atime, mtime, follow);
}
static int l_xattr_list(const pm_fs *self, const char *path, bool follow,
                        char *buf, size_t cap, size_t *len) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_STAT, NULL, path);
  if (e) return e;
  return pm_fs_xattr_list(L->parent, path, follow, buf, cap, len);
}
static int l_xattr_get(const pm_fs *self, const char *path, bool follow,
                       const char *name, void *buf, size_t cap, size_t *len) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_STAT, NULL, path);
  if (e) return e;
  return pm_fs_xattr_get(L->parent, path, follow, name, buf, cap, len);
}
static int l_xattr_set(const pm_fs *self, const char *path, bool follow,
                       const char *name, const void *val, size_t len) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_META, NULL, path);
  if (e) return e;
  return pm_fs_xattr_set(L->parent, path, follow, name, val, len);
}
static int64_t l_seek(const pm_fs *self, pm_fd fd, uint64_t off, bool hole) {
  fl_layer *L = self->ctx;
  int e = gate_fd(L, FL_STAT, fd);
  if (e) return e;
  return pm_fs_seek(L->parent, fd, off, hole);
}
static int l_syncfs(const pm_fs *self, pm_fd fd) {
  fl_layer *L = self->ctx;
  int e = gate_fd(L, FL_FSYNC, fd);
  if (e) return e;
  return pm_fs_syncfs(L->parent, fd);
}
static int l_fsinfo(const pm_fs *self, const char *path, pm_fsinfo *info) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_INFO, NULL, path);
  if (e) return e;
  return pm_fs_fsinfo(L->parent, path, info);
}
static int l_realpath(const pm_fs *self, const char *path, char *buf,
                      size_t cap) {
  fl_layer *L = self->ctx;
  int e = gate_path(L, FL_INFO, NULL, path);
  if (e) return e;
  return pm_fs_realpath(L->parent, path, buf, cap);
}
static int l_drop_cache(const pm_fs *self, pm_fd fd, uint64_t off,
                        uint64_t len) {
  fl_layer *L = self->ctx;
  int e = gate_fd(L, FL_CACHE, fd);
  if (e) return e;
  return pm_fs_drop_cache(L->parent, fd, off, len);
}
static int l_cached(const pm_fs *self, pm_fd fd, uint64_t off) {
  fl_layer *L = self->ctx;
  int e = gate_fd(L, FL_CACHE, fd);
  if (e) return e;
  return pm_fs_cached(L->parent, fd, off);
}
static int l_phys_pos(const pm_fs *self, pm_fd fd, uint64_t *pos) {
  fl_layer *L = self->ctx;
  int e = gate_fd(L, FL_INFO, fd);
  if (e) return e;
  return pm_fs_phys_pos(L->parent, fd, pos);
}
static int l_stat_at(const pm_fs *self, pm_fd dir, const char *rel,
                     pm_stat *st) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_STAT, "stat_at", dir, rel);
  if (e) return e;
  return pm_fs_stat_at(L->parent, dir, rel, st);
}
static int l_mkdir_at(const pm_fs *self, pm_fd dir, const char *rel,
                      uint32_t mode) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_MKDIR, "mkdir_at", dir, rel);
  if (e) return e;
  return pm_fs_mkdir_at(L->parent, dir, rel, mode);
}
static int l_symlink_at(const pm_fs *self, const char *target, pm_fd dir,
                        const char *rel) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_META, NULL, dir, rel);
  if (e) return e;
  return pm_fs_symlink_at(L->parent, target, dir, rel);
}
static int l_link_at(const pm_fs *self, pm_fd odir, const char *orel,
                     pm_fd ndir, const char *nrel) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_META, NULL, ndir, nrel);
  if (e) return e;
  return pm_fs_link_at(L->parent, odir, orel, ndir, nrel);
}
static int l_mknod_at(const pm_fs *self, pm_fd dir, const char *rel,
                      pm_ftype type, uint32_t mode, uint64_t rdev) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_META, NULL, dir, rel);
  if (e) return e;
  return pm_fs_mknod_at(L->parent, dir, rel, type, mode, rdev);
}
static int l_readlink_at(const pm_fs *self, pm_fd dir, const char *rel,
                         char *buf, size_t cap, size_t *len) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_STAT, NULL, dir, rel);
  if (e) return e;
  return pm_fs_readlink_at(L->parent, dir, rel, buf, cap, len);
}
static int l_unlink_at(const pm_fs *self, pm_fd dir, const char *rel) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_META, "unlink_at", dir, rel);
  if (e) return e;
  return pm_fs_unlink_at(L->parent, dir, rel);
}
static int l_rmdir_at(const pm_fs *self, pm_fd dir, const char *rel) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_META, "rmdir_at", dir, rel);
  if (e) return e;
  return pm_fs_rmdir_at(L->parent, dir, rel);
}
static int l_chmod_at(const pm_fs *self, pm_fd dir, const char *rel,
                      uint32_t mode) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_META, NULL, dir, rel);
  if (e) return e;
  return pm_fs_chmod_at(L->parent, dir, rel, mode);
}
static int l_chown_at(const pm_fs *self, pm_fd dir, const char *rel,
                      uint32_t uid, uint32_t gid) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_META, NULL, dir, rel);
  if (e) return e;
  return pm_fs_chown_at(L->parent, dir, rel, uid, gid);
}
static int l_utimes_at(const pm_fs *self, pm_fd dir, const char *rel,
                       const pm_time *atime, const pm_time *mtime) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_META, NULL, dir, rel);
  if (e) return e;
  return pm_fs_utimes_at(L->parent, dir, rel, atime, mtime);
}
static int l_xattr_list_at(const pm_fs *self, pm_fd dir, const char *rel,
                           char *buf, size_t cap, size_t *len) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_STAT, NULL, dir, rel);
  if (e) return e;
  return pm_fs_xattr_list_at(L->parent, dir, rel, buf, cap, len);
}
static int l_xattr_get_at(const pm_fs *self, pm_fd dir, const char *rel,
                          const char *name, void *buf, size_t cap,
                          size_t *len) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_STAT, NULL, dir, rel);
  if (e) return e;
  return pm_fs_xattr_get_at(L->parent, dir, rel, name, buf, cap, len);
}
static int l_xattr_set_at(const pm_fs *self, pm_fd dir, const char *rel,
                          const char *name, const void *val, size_t len) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_META, NULL, dir, rel);
  if (e) return e;
  return pm_fs_xattr_set_at(L->parent, dir, rel, name, val, len);
}
static int l_xattr_remove_at(const pm_fs *self, pm_fd dir, const char *rel,
                             const char *name) {
  fl_layer *L = self->ctx;
  int e = gate_at(L, FL_META, NULL, dir, rel);
  if (e) return e;
  return pm_fs_xattr_remove_at(L->parent, dir, rel, name);
}
static int l_lock(const pm_fs *self, pm_fd fd) {
  fl_layer *L = self->ctx;
  int e = gate_fd(L, FL_META, fd);
  if (e) return e;
  return pm_fs_lock(L->parent, fd);
}
static int l_streams_list(const pm_fs *self, pm_fd fd, char *buf, size_t cap,
                          size_t *len) {
  fl_layer *L = self->ctx;
  int e = gate_fd(L, FL_STAT, fd);
  if (e) return e;
  return pm_fs_streams_list(L->parent, fd, buf, cap, len);
}

static const pm_fs_ops fl_ops = {
    .name = "faultlayer",
    .open = l_open,
    .close = l_close,
    .pread = l_pread,
    .pwrite = l_pwrite,
    .fsync = l_fsync,
    .ftruncate = l_ftruncate,
    .fstat = l_fstat,
    .stat = l_stat,
    .opendir = l_opendir,
    .readdir = l_readdir,
    .closedir = l_closedir,
    .mkdir = l_mkdir,
    .rmdir = l_rmdir,
    .unlink = l_unlink,
    .rename = l_rename,
    .link = l_link,
    .symlink = l_symlink,
    .readlink = l_readlink,
    .mknod = l_mknod,
    .fchmod = l_fchmod,
    .chmod = l_chmod,
    .fchown = l_fchown,
    .chown = l_chown,
    .futimes = l_futimes,
    .utimes = l_utimes,
    .xattr_list = l_xattr_list,
    .xattr_get = l_xattr_get,
    .xattr_set = l_xattr_set,
    .seek = l_seek,
    .syncfs = l_syncfs,
    .fsinfo = l_fsinfo,
    .realpath = l_realpath,
    .drop_cache = l_drop_cache,
    .cached = l_cached,
    .phys_pos = l_phys_pos,
    .open_at = l_open_at,
    .stat_at = l_stat_at,
    .opendir_at = l_opendir_at,
    .mkdir_at = l_mkdir_at,
    .symlink_at = l_symlink_at,
    .link_at = l_link_at,
    .mknod_at = l_mknod_at,
    .readlink_at = l_readlink_at,
    .unlink_at = l_unlink_at,
    .rmdir_at = l_rmdir_at,
    .chmod_at = l_chmod_at,
    .chown_at = l_chown_at,
    .utimes_at = l_utimes_at,
    .xattr_list_at = l_xattr_list_at,
    .xattr_get_at = l_xattr_get_at,
    .xattr_set_at = l_xattr_set_at,
    .xattr_remove_at = l_xattr_remove_at,
    .lock = l_lock,
    .streams_list = l_streams_list,
    .stream_open = l_stream_open,
    .stream_remove = l_stream_remove,
};

fl_layer *fl_new(const pm_fs *parent, const fl_rule *rule) {
  fl_layer *L = pm_xcalloc(1, sizeof *L);
  L->fs.ops = &fl_ops;
  L->fs.ctx = L;
  L->parent = parent ? parent : pm_fs_native();
  if (rule) L->rule = *rule;
  if (L->rule.path) L->rule.path = L->rule_path = pm_xstrdup(L->rule.path);
  if (!L->rule.err) L->rule.err = PM_EIO;
  if (!L->rule.refuse_err) L->rule.refuse_err = PM_EINVAL;
  pm_mutex_init(&L->mu);
  return L;
}

void fl_free(fl_layer *L) {
  if (!L) return;
  for (size_t i = 0; i < L->nhandles; i++) free(L->handles[i].path);
  free(L->handles);
  free(L->rule_path);
  pm_mutex_destroy(&L->mu);
  free(L);
}

const pm_fs *fl_fs(fl_layer *L) { return &L->fs; }

unsigned long fl_calls(const fl_layer *L, fl_op op) {
  return op < FL_NOPS ? atomic_load(&((fl_layer *)L)->calls[op]) : 0;
}
unsigned long fl_matched(const fl_layer *L) {
  return atomic_load(&((fl_layer *)L)->matched);
}
bool fl_fired(const fl_layer *L) {
  return atomic_load(&((fl_layer *)L)->fired);
}
unsigned long fl_refused(const fl_layer *L) {
  return atomic_load(&((fl_layer *)L)->refused);
}

const char *fl_op_name(fl_op op) {
  static const char *const names[FL_NOPS] = {
      "open",     "read", "write", "fsync", "mkdir", "rename",
      "metadata", "list", "stat",  "close", "cache", "info"};
  return op < FL_NOPS ? names[op] : "?";
}

void fl_set_hook(fl_layer *L, fl_hook_fn fn, void *arg) {
  L->hook = fn;
  L->hook_arg = arg;
}

bool fl_op_is(const char *op, const char *name) {
  size_t n = strlen(name);
  return !strncmp(op, name, n) && (!op[n] || !strcmp(op + n, "_at"));
}

unsigned long fl_engine_calls(const fl_layer *L, fl_op op) {
  return op < FL_NOPS ? atomic_load(&((fl_layer *)L)->engine_calls[op]) : 0;
}

/* ---- the engine wrapper ----
 *
 * Engine tables carry no context, so the wrapper's context finds the
 * layer: init gets the layer's file system and returns a context of its
 * own holding the layer and the parent engine's context. */

struct pm_io_ctx {
  fl_layer *L;
  const pm_io_engine_ops *parent;
  pm_io_ctx *inner;
  pm_io_req *corrupt; /* the read to corrupt when it comes back */
};

/* One wrapper table per parent engine compiled in, so that init knows
 * which engine it wraps: the tables differ only in their init. */
#define FL_ENGINE_MAX 4
static const pm_io_engine_ops *fl_eparent[FL_ENGINE_MAX];

static int e_init_with(int i, const pm_fs *fs, unsigned depth,
                       pm_io_ctx **out) {
  if (!fs || fs->ops != &fl_ops) return PM_EINVAL;
  fl_layer *L = fs->ctx;
  pm_io_ctx *c = pm_xcalloc(1, sizeof *c);
  c->L = L;
  c->parent = fl_eparent[i];
  int rc = c->parent->init(L->parent, depth, &c->inner);
  if (rc) {
    free(c);
    return rc;
  }
  *out = c;
  return 0;
}
#define FL_E_INIT(i)                                                 \
  static int e_init##i(const pm_fs *fs, unsigned d, pm_io_ctx **o) { \
    return e_init_with(i, fs, d, o);                                 \
  }                                                                  \
  static int e_probe##i(void) { return fl_eparent[i]->probe(); }
FL_E_INIT(0)
FL_E_INIT(1)
FL_E_INIT(2)
FL_E_INIT(3)

static void e_corrupt_read(fl_layer *L, pm_io_req *req) {
  if (req->res <= 0) return;
  ((unsigned char *)req->buf)[0] ^= 0x5A;
  atomic_store(&L->fired, true);
}

static int e_queue(pm_io_ctx *c, pm_io_req *req) {
  fl_layer *L = c->L;
  fl_op op = req->op == PM_IO_READ    ? FL_READ
             : req->op == PM_IO_WRITE ? FL_WRITE
                                      : FL_FSYNC;
  atomic_fetch_add(&L->engine_calls[op], 1);
  fl_target t = fl_target_fd(L, req->fd);
  unsigned long nth;
  int e = fl_hit_n(L, op, &t, req->off + req->len, &nth);
  fl_target_free(&t);
  if (e) {
    req->res = e;
    req->oserr = L->rule.oserr;
    return PM_Q_COMPLETED;
  }
  /* The request's own number decides: two workers queueing at once must
   * not both see the count at the Nth. The engine writes from the
   * caller's buffer, which the caller may reuse: flipping it in place is
   * what a corrupting medium would show a later re-read. */
  if (op == FL_WRITE && nth && nth == L->rule.corrupt_write_nth &&
      req->len > 0) {
    ((unsigned char *)req->buf)[0] ^= 0x5A;
    atomic_store(&L->fired, true);
  }
  if (L->rule.short_io && (op == FL_READ || op == FL_WRITE) &&
      req->len > L->rule.short_io)
    req->len = L->rule.short_io;
  int q = c->parent->queue(c->inner, req);
  /* The Nth read returns one byte flipped, as the table's pread does:
   * what the medium gives differs from what was written. */
  if (op == FL_READ && nth && nth == L->rule.corrupt_read_nth) {
    if (q == PM_Q_COMPLETED)
      e_corrupt_read(L, req);
    else if (q == PM_Q_QUEUED)
      c->corrupt = req;
  }
  return q;
}
static int e_commit(pm_io_ctx *c) { return c->parent->commit(c->inner); }
static int e_getevents(pm_io_ctx *c, unsigned mn, unsigned mx, pm_io_req **ev) {
  int n = c->parent->getevents(c->inner, mn, mx, ev);
  for (int i = 0; i < n && c->corrupt; i++)
    if (ev[i] == c->corrupt) {
      e_corrupt_read(c->L, ev[i]);
      c->corrupt = NULL;
    }
  return n;
}
static void e_cleanup(pm_io_ctx *c) {
  c->parent->cleanup(c->inner);
  free(c);
}

#define FL_E_TABLE(i)                                               \
  {                                                                 \
    .name = "faultlayer", .probe = e_probe##i, .init = e_init##i,   \
    .queue = e_queue, .commit = e_commit, .getevents = e_getevents, \
    .cleanup = e_cleanup                                            \
  }
static const pm_io_engine_ops fl_etables[FL_ENGINE_MAX] = {
    FL_E_TABLE(0), FL_E_TABLE(1), FL_E_TABLE(2), FL_E_TABLE(3)};

static pm_mutex fl_emu;
static pm_once_t fl_emu_once = PM_ONCE_INIT;
static void fl_emu_init(void) { pm_mutex_init(&fl_emu); }

const pm_io_engine_ops *fl_engine(const pm_io_engine_ops *parent) {
  pm_once(&fl_emu_once, fl_emu_init);
  pm_mutex_lock(&fl_emu);
  int i = 0;
  while (i < FL_ENGINE_MAX && fl_eparent[i] && fl_eparent[i] != parent) i++;
  if (i == FL_ENGINE_MAX) abort(); /* more engines than tables */
  fl_eparent[i] = parent;
  pm_mutex_unlock(&fl_emu);
  return &fl_etables[i];
}
