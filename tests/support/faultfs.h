/* faultfs.h - a fault-injecting file-system table and I/O engine for
 * tests, after SQLite's test_vfs.c: wraps a parent table, counts calls by
 * kind, and fails the Nth call of a chosen kind with a chosen error, once
 * or persistently. It can also cap every read and write to a few bytes to
 * exercise short transfers. Not thread-aware beyond atomic counters: the
 * copy engine's workers may call it concurrently. The calls beneath a
 * directory handle (open_at ...) are counted with their path forms. */
#ifndef POMOVE_FAULTFS_H
#define POMOVE_FAULTFS_H

#include <stdbool.h>
#include <stddef.h>

#include "platform.h"

typedef enum fault_kind {
  FK_OPEN,
  FK_READ,
  FK_WRITE,
  FK_FSYNC,
  FK_MKDIR,
  FK_RENAME,
  FK_META, /* chmod, chown, utimes, xattr set/remove, truncate, link, symlink */
  FK_LIST, /* opendir, readdir */
  FK_STAT,
  FK_ANY, /* every call above */
  FK_NKINDS
} fault_kind;

typedef struct fault_plan {
  fault_kind kind;
  unsigned long nth; /* 1-based; 0 = never fail */
  int err;           /* PM_E* to return */
  bool persistent;   /* keep failing after the Nth */
  unsigned short_io; /* cap on bytes per read/write; 0 = none */
  /* The engine's write number corrupt_nth (1-based; 0 = none) succeeds
   * but flips a byte of what it writes: a silent corruption that only a
   * verifying re-read can find. */
  unsigned long corrupt_nth;
} fault_plan;

/* Installs the plan and resets the counters. parent NULL: native. */
void faultfs_setup(const pm_fs *parent, const fault_plan *plan);
const pm_fs *faultfs_ops(void);
/* An engine that counts and fails READ/WRITE/FSYNC requests the same way,
 * then hands the rest to `parent` (initialised with the unwrapped fs, so
 * the pool engine does not count a call twice). */
const pm_io_engine_ops *faultfs_engine(const pm_io_engine_ops *parent);
unsigned long faultfs_calls(fault_kind kind);
/* A function called before every open, stat, opendir and mkdir (path form
 * and beneath-a-handle form alike) is counted or delegated, with the op's
 * name ("open", "stat", "opendir", "mkdir"), the path or the relative path
 * it was given, and the open flags (0 for the others). Tests use it to
 * change the tree at the moment the engine first touches an entry.
 * faultfs_setup() clears it. */
typedef void (*faultfs_hook_fn)(const char *op, const char *path, int flags,
                                void *arg);
void faultfs_set_hook(faultfs_hook_fn fn, void *arg);
bool faultfs_fired(void);
const char *faultfs_kind_name(fault_kind kind);

#endif
