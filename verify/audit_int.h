/* audit_int.h - internals shared by the audit files of verify/ only. */
#ifndef VF_AUDIT_INT_H
#define VF_AUDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hashpool.h"
#include "platform.h"

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
int vf__audit_pool_start(struct vf_audit_opts *o, const pm_fs_ops *fs,
                         void (*done)(vf_job *job, void *arg),
                         void (*tick)(void *arg), void *arg, vf_pool **out);

#endif
