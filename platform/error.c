/* error.c - names and messages of the PM_E* codes (from the one list in
 * platform.h) and the per-thread OS error that backends record. */
#include "platform.h"

static _Thread_local int last_oserr;

int pm_oserr_last(void) { return last_oserr; }
void pm_oserr_set(int oserr) { last_oserr = oserr; }

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

int pm_fs_validate(const pm_fs_ops *fs) {
  if (!fs || !fs->name) return PM_EINVAL;
  /* The table is all function pointers after `name`. */
  const void *const *slot = (const void *const *)(const void *)&fs->open;
  size_t n = (sizeof *fs - offsetof(pm_fs_ops, open)) / sizeof(void *);
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
