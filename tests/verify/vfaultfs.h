/* vfaultfs.h - a pm_fs_ops table for the verify tests that wraps the
 * native one (SQLite's test_vfs shape): it can refuse opens of chosen
 * paths, fail reads of a chosen file from an offset on, cut every read
 * short, refuse O_DIRECT, and counts the calls it saw (and the opens of
 * paths holding a watched string, to prove a file was never opened). */
#ifndef VF_TEST_VFAULTFS_H
#define VF_TEST_VFAULTFS_H

#include <stdint.h>

#include "platform.h"

typedef struct vfault_cfg {
  const char *open_fail_suffix; /* open of a path ending so fails... */
  int open_fail_err;            /* ...with this PM_E* code */
  const char *read_fail_suffix; /* reads of that file at >= offset fail */
  uint64_t read_fail_off;
  int read_fail_err;
  unsigned short_reads; /* >0: a read returns at most this many bytes */
  int refuse_direct;    /* open with PM_O_DIRECT fails with PM_EINVAL */
  const char *watch;    /* opens of paths holding this are counted */
} vfault_cfg;

typedef struct vfault_counts {
  unsigned long opens, direct_opens, preads, fsyncs, drop_caches;
  unsigned long watched_opens; /* opens of paths holding cfg.watch */
} vfault_counts;

/* Installs cfg (copied) and zeroes the counts; returns the table. */
const pm_fs *vfault_setup(const vfault_cfg *cfg);
vfault_counts vfault_get_counts(void);

#endif
