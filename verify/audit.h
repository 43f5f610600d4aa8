/* audit.h - the two audits behind `pomove verify`: a copy against its
 * source tree, and a tree against a manifest. Both read through the
 * pm_fs_ops table given (so tests can inject faults), hash in parallel on
 * the hashing pool, never modify what they read (O_NOATIME, no writes),
 * and file every entry in exactly one category of the report. Owner:
 * verify/. */
#ifndef VF_AUDIT_H
#define VF_AUDIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "platform.h"
#include "report.h"

/* Metadata compared by the trees audit (--compare). */
enum {
  VF_CMP_MODE = 1 << 0,  /* permission bits (not for symlinks) */
  VF_CMP_OWNER = 1 << 1, /* uid and gid */
  VF_CMP_MTIME = 1 << 2, /* modification time, within the tolerance */
  VF_CMP_LINKS = 1 << 3, /* hard-link groups */
  VF_CMP_DEFAULT = VF_CMP_MODE | VF_CMP_OWNER | VF_CMP_MTIME | VF_CMP_LINKS
};

/* Parses "mode,owner,mtime,links" (or "none", "all"); 0 or PM_EINVAL. */
int vf_compare_parse(const char *list, unsigned *out);

typedef struct vf_audit_opts {
  const pm_fs *fs;            /* NULL: pm_fs_native() */
  const pm_io_engine_ops *engine; /* NULL: pm_io_engine_default() */
  unsigned threads;               /* 0: vf_pool_default_threads() */
  unsigned compare;               /* VF_CMP_* bits */
  int64_t time_tolerance_ns;      /* |mtime difference| allowed */
  bool extra;                     /* manifest mode: look for extra files */
  int progress_mode;              /* PM_PROGRESS_* */
  /* Set non-zero (signal handler) to stop early: the audit then returns
   * PM_ECANCELED. May be NULL. */
  atomic_int *interrupt;
  /* Out: what ran. */
  char engine_used[16];
  unsigned threads_used;
  uint64_t malformed; /* manifest lines that could not be parsed */
  uint64_t listed;    /* manifest lines that name a file */
} vf_audit_opts;

/* Both return 0 when the audit ran to its end (differences are in the
 * report), or the PM_E* code of what stopped it; that error has been
 * reported on stderr with the operation and the path. The manifest audit
 * returns PM_EFORMAT when the manifest is another tool's (md5sum,
 * sha256sum, xxhsum -H1 ...): the line and the format seen are named;
 * PM_ECANCELED when o->interrupt stopped it. */
int vf_audit_trees(vf_audit_opts *o, const char *src, const char *dst,
                   vf_report *rep);
int vf_audit_manifest(vf_audit_opts *o, const char *manifest, const char *dir,
                      vf_report *rep);

/* Shared by the commands: "io_uring" / "pool" -> engine, or NULL with a
 * message on stderr. */
const pm_io_engine_ops *vf_engine_pick(const char *name);

#endif
