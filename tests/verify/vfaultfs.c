/* vfaultfs.c - see vfaultfs.h. Thread-safe: the hashing workers call it. */
#include "vfaultfs.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thread.h"

#define MAXFD 4096

static vfault_cfg cfg;
static const pm_fs *base;
static pm_fs_ops table;
static const pm_fs obj = {&table, NULL};
static atomic_uchar bad_read_fd[MAXFD];
static atomic_ulong n_opens, n_direct, n_preads, n_fsyncs, n_drops, n_watched;
/* The path each open directory handle was opened with, for open_at. */
static char *dir_path[MAXFD];
/* The thread layer has no static initialiser (Windows has none for a
 * critical section): the lock is made on first use. */
static pm_mutex dir_mu;
static pm_once_t dir_mu_once = PM_ONCE_INIT;
static void dir_mu_init(void) { pm_mutex_init(&dir_mu); }
static void dir_mu_lock(void) {
  pm_once(&dir_mu_once, dir_mu_init);
  pm_mutex_lock(&dir_mu);
}

static int ends_with(const char *s, const char *suf) {
  if (!suf) return 0;
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcmp(s + a - b, suf);
}

static int f_open(const pm_fs *self PM_UNUSED, const char *path, int flags,
                  uint32_t mode, pm_fd *out) {
  atomic_fetch_add(&n_opens, 1);
  if (cfg.watch && strstr(path, cfg.watch)) atomic_fetch_add(&n_watched, 1);
  if (flags & PM_O_DIRECT) {
    atomic_fetch_add(&n_direct, 1);
    if (cfg.refuse_direct) return PM_EINVAL;
  }
  if (ends_with(path, cfg.open_fail_suffix)) {
    pm_oserr_set(13);
    return cfg.open_fail_err;
  }
  int rc = pm_fs_open(base, path, flags, mode, out);
  if (!rc && *out >= 0 && *out < MAXFD)
    atomic_store(&bad_read_fd[*out], ends_with(path, cfg.read_fail_suffix));
  if (!rc && (flags & PM_O_DIRECTORY) && *out >= 0 && *out < MAXFD) {
    dir_mu_lock();
    free(dir_path[*out]);
    dir_path[*out] = strdup(path);
    pm_mutex_unlock(&dir_mu);
  }
  return rc;
}

/* The audits open files beneath their root handles: the same faults, by
 * the suffix of the path the handle's own path and rel make. */
static int f_open_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                     int flags, uint32_t mode, pm_fd *out) {
  atomic_fetch_add(&n_opens, 1);
  if (flags & PM_O_DIRECT) {
    atomic_fetch_add(&n_direct, 1);
    if (cfg.refuse_direct) return PM_EINVAL;
  }
  char full[8192];
  dir_mu_lock();
  snprintf(full, sizeof full, "%s/%s",
           dir >= 0 && dir < MAXFD && dir_path[dir] ? dir_path[dir] : "", rel);
  pm_mutex_unlock(&dir_mu);
  if (ends_with(full, cfg.open_fail_suffix)) {
    pm_oserr_set(13);
    return cfg.open_fail_err;
  }
  int rc = pm_fs_open_at(base, dir, rel, flags, mode, out);
  if (!rc && *out >= 0 && *out < MAXFD)
    atomic_store(&bad_read_fd[*out], ends_with(full, cfg.read_fail_suffix));
  return rc;
}

static int f_close(const pm_fs *self PM_UNUSED, pm_fd fd) {
  if (fd >= 0 && fd < MAXFD) {
    atomic_store(&bad_read_fd[fd], 0);
    dir_mu_lock();
    free(dir_path[fd]);
    dir_path[fd] = NULL;
    pm_mutex_unlock(&dir_mu);
  }
  return pm_fs_close(base, fd);
}

static int64_t f_pread(const pm_fs *self PM_UNUSED, pm_fd fd, void *buf,
                       size_t len, uint64_t off) {
  atomic_fetch_add(&n_preads, 1);
  if (fd >= 0 && fd < MAXFD && atomic_load(&bad_read_fd[fd]) &&
      off + len > cfg.read_fail_off) {
    pm_oserr_set(5);
    return cfg.read_fail_err;
  }
  if (cfg.short_reads && len > cfg.short_reads) len = cfg.short_reads;
  return pm_fs_pread(base, fd, buf, len, off);
}

static int f_fsync(const pm_fs *self PM_UNUSED, pm_fd fd, bool data_only) {
  atomic_fetch_add(&n_fsyncs, 1);
  return pm_fs_fsync(base, fd, data_only);
}

static int f_drop_cache(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t off,
                        uint64_t len) {
  atomic_fetch_add(&n_drops, 1);
  return pm_fs_drop_cache(base, fd, off, len);
}

const pm_fs *vfault_setup(const vfault_cfg *c) {
  base = pm_fs_native();
  cfg = *c;
  table = *base->ops;
  table.name = "faultfs";
  table.open = f_open;
  table.open_at = f_open_at;
  table.close = f_close;
  table.pread = f_pread;
  table.fsync = f_fsync;
  table.drop_cache = f_drop_cache;
  for (int i = 0; i < MAXFD; i++) atomic_store(&bad_read_fd[i], 0);
  atomic_store(&n_opens, 0);
  atomic_store(&n_direct, 0);
  atomic_store(&n_preads, 0);
  atomic_store(&n_fsyncs, 0);
  atomic_store(&n_drops, 0);
  atomic_store(&n_watched, 0);
  return &obj;
}

vfault_counts vfault_get_counts(void) {
  vfault_counts k = {atomic_load(&n_opens), atomic_load(&n_direct),
                      atomic_load(&n_preads), atomic_load(&n_fsyncs),
                      atomic_load(&n_drops), atomic_load(&n_watched)};
  return k;
}
