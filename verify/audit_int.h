/* audit_int.h - internals shared by the files of verify/ only (the audits,
 * the tree hashing, the pool): never by the command line. */
#ifndef VF_AUDIT_INT_H
#define VF_AUDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hashpool.h"
#include "platform.h"
#include "util.h"

/* Fills `detail` with what differs ("mode 0644 vs 0600; ...") and returns
 * true when something selected in `cmp` differs. Hard links are not
 * judged here (they need the whole group). */
bool vf__meta_differs(unsigned cmp, int64_t tol_ns, pm_ftype type,
                      const pm_stat *a, const pm_stat *b, char *detail,
                      size_t cap);
/* "<side> <op>: <message> (<ERRNAME>, OS error N)". */
void vf__describe_err(const char *side, const vf_side *s, char *buf,
                      size_t cap);

struct vf_audit_opts;
/* Starts the hashing pool of an audit with o's engine and threads, and
 * records in o which were used; reports a failure. */
int vf__audit_pool_start(struct vf_audit_opts *o, const pm_fs *fs,
                         void (*done)(vf_job *job, void *arg),
                         void (*tick)(void *arg), void *arg, vf_pool **out);

/* The pool's tick of the audits and of the tree's hashing: redraws
 * `prog` with the pool's running counts. */
void vf__progress_tick(vf_pool *pool, pm_progress *prog);

/* Why a manifest path may not be opened by its syntax alone: "absolute
 * path", "\"..\" component", "empty path component", "\".\" component",
 * "empty path"; NULL when it is a plain relative path. (beneath.c) */
const char *vf_rel_check(const char *rel);

/* Opens rel for reading beneath the directory handle root, without
 * leaving it: rel must pass vf_rel_check (else PM_EPERM), no component
 * may be a symlink (PM_ELOOP, also for the last one), and only a regular
 * file is opened: anything else is PM_ESPECIAL with *leaf saying what it
 * is when *leaf_ok (it is never read, so a FIFO cannot block). `flags`
 * adds to PM_O_RDONLY (e.g. PM_O_NOATIME). The OS code (pm_oserr_last) is
 * that of the failure returned, 0 for pomove's own verdicts. */
int vf_open_beneath(const pm_fs *fs, pm_fd root, const char *rel,
                    int flags, pm_fd *out, pm_stat *leaf, bool *leaf_ok);

/* Opens the root directory `dir` of a walk (a symlink at `dir` itself is
 * followed: the user named it), for the walk and the opens beneath it:
 * stat (not a directory: PM_ENOTDIR, with no OS code), then open. A
 * failure is reported with the operation, the path and the OS's code,
 * and *out is PM_FD_INVALID. 0 or PM_E*. (beneath.c) */
int vf__open_root(const pm_fs *fs, const char *dir, pm_fd *out);

/* Reports an error with the OS code given (0: none, an error pomove
 * made itself), never whatever code the thread saw last. */
void vf__report_error(const char *op, const char *path, int err, int oserr);

#endif
