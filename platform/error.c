/* error.c - names and messages of the PM_E* codes (from the one list in
 * platform.h) and the per-thread OS error that backends record. */
#include "platform.h"

/* The last OS code recorded on this thread and the PM_E* error it came
 * with; ANY_ERR when it was set for whatever error is reported next. */
#define ANY_ERR 1
static _Thread_local struct {
  int err;
  int oserr;
} last;

int pm_oserr_last(void) { return last.oserr; }
void pm_oserr_set(int oserr) {
  last.err = ANY_ERR;
  last.oserr = oserr;
}
void pm_oserr_record(int err, int oserr) {
  last.err = err;
  last.oserr = oserr;
}
int pm_oserr_of(int err) {
  if (err >= 0) return 0;
  return last.err == err || last.err == ANY_ERR ? last.oserr : 0;
}

const char *pm_strerror(int err) {
  switch (err) {
  case PM_OK:
    return "success";
#define PM_X_(name, msg) \
  case PM_E##name:       \
    return msg;
    PM_ERROR_LIST(PM_X_)
#undef PM_X_
  default:
    return "unknown error";
  }
}

const char *pm_errname(int err) {
  switch (err) {
  case PM_OK:
    return "OK";
#define PM_X_(name, msg) \
  case PM_E##name:       \
    return "E" #name;
    PM_ERROR_LIST(PM_X_)
#undef PM_X_
  default:
    return "EUNKNOWN";
  }
}

const char *pm_ftype_name(pm_ftype t) {
  switch (t) {
  case PM_T_FILE: return "file";
  case PM_T_DIR: return "directory";
  case PM_T_SYMLINK: return "symlink";
  case PM_T_FIFO: return "fifo";
  case PM_T_SOCK: return "socket";
  case PM_T_CHR: return "character device";
  case PM_T_BLK: return "block device";
  default: return "unknown";
  }
}

int pm_fs_validate(const pm_fs *fs) {
  if (!fs || !fs->ops || !fs->ops->name) return PM_EINVAL;
  const pm_fs_ops *ops = fs->ops;
  /* The table is all function pointers after `name`. */
  const void *const *slot = (const void *const *)(const void *)&ops->open;
  size_t n = (sizeof *ops - offsetof(pm_fs_ops, open)) / sizeof(void *);
  for (size_t i = 0; i < n; i++)
    if (!slot[i]) return PM_EINVAL;
  return PM_OK;
}

int pm_io_engine_validate(const pm_io_engine_ops *e) {
  if (!e || !e->name || !e->probe || !e->init || !e->queue || !e->commit ||
      !e->getevents || !e->cleanup)
    return PM_EINVAL;
  return PM_OK;
}
