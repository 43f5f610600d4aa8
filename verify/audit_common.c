/* audit_common.c - pieces shared by the audits, the tree's hashing
 * (hash_tree.c) and the commands: the --compare list, the engine choice,
 * the metadata comparison, the pool's start and its progress tick. */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "audit_int.h"
#include "util.h"

int vf_compare_parse(const char *list, unsigned *out) {
  unsigned bits = 0;
  const char *p = list;
  while (*p) {
    size_t n = strcspn(p, ",");
    if (n == 4 && !strncmp(p, "mode", 4)) bits |= VF_CMP_MODE;
    else if (n == 5 && !strncmp(p, "owner", 5)) bits |= VF_CMP_OWNER;
    else if (n == 5 && !strncmp(p, "mtime", 5)) bits |= VF_CMP_MTIME;
    else if (n == 5 && !strncmp(p, "links", 5)) bits |= VF_CMP_LINKS;
    else if (n == 3 && !strncmp(p, "all", 3)) bits |= VF_CMP_DEFAULT;
    else if (n == 4 && !strncmp(p, "none", 4)) bits |= 0;
    else return PM_EINVAL;
    p += n;
    if (*p == ',') p++;
  }
  *out = bits;
  return 0;
}

const pm_io_engine_ops *vf_engine_pick(const char *name) {
  if (!name) {
    char why[256];
    const pm_io_engine_ops *e = pm_io_engine_default(why, sizeof why);
    if (!e) pm_report_notef("pomove: no usable I/O engine: %s\n", why);
    else if (why[0]) pm_warnf("%s; using the %s engine", why, e->name);
    return e;
  }
  const pm_io_engine_ops *e = pm_io_engine_find(name);
  if (!e) {
    /* One line, written whole. */
    char names[512] = "";
    size_t n = 0;
    for (const pm_io_engine_ops *const *x = pm_io_engines(); *x; x++)
      if (n < sizeof names)
        n += (size_t)snprintf(names + n, sizeof names - n, " %s",
                              (*x)->name);
    pm_report_notef("pomove: unknown engine '%s' (choose from:%s)\n", name,
                    names);
    return NULL;
  }
  int rc = e->probe();
  if (rc) {
    pm_report_errorf(rc, "the %s engine is not usable on this machine", name);
    return NULL;
  }
  return e;
}

bool vf__meta_differs(unsigned cmp, int64_t tol_ns, pm_ftype type,
                      const pm_stat *a, const pm_stat *b, char *detail,
                      size_t cap) {
  size_t used = 0;
  detail[0] = '\0';
#define ADD(...)                                                           \
  do {                                                                     \
    if (used < cap)                                                        \
      used += (size_t)snprintf(detail + used, cap - used, "%s",            \
                               used ? "; " : "");                          \
    if (used < cap)                                                        \
      used += (size_t)snprintf(detail + used, cap - used, __VA_ARGS__);    \
  } while (0)
  /* A symlink's permission bits mean nothing on Linux and cannot be set. */
  if ((cmp & VF_CMP_MODE) && type != PM_T_SYMLINK && a->mode != b->mode)
    ADD("mode %04o vs %04o", (unsigned)a->mode, (unsigned)b->mode);
  if ((cmp & VF_CMP_OWNER) && (a->uid != b->uid || a->gid != b->gid))
    ADD("owner %u:%u vs %u:%u", (unsigned)a->uid, (unsigned)a->gid,
        (unsigned)b->uid, (unsigned)b->gid);
  if (cmp & VF_CMP_MTIME) {
    int64_t d = (a->mtime.sec - b->mtime.sec) * 1000000000LL +
                (a->mtime.nsec - b->mtime.nsec);
    if (d < 0) d = -d;
    if (d > tol_ns)
      ADD("mtime differs by %lld.%09lld s", (long long)(d / 1000000000LL),
          (long long)(d % 1000000000LL));
  }
#undef ADD
  return used > 0;
}

void vf__describe_err(const char *side, const vf_side *s, char *buf,
                      size_t cap) {
  if (s->oserr)
    snprintf(buf, cap, "%s %s: %s (%s, OS error %d)", side, s->op,
             pm_strerror(s->err), pm_errname(s->err), s->oserr);
  else
    snprintf(buf, cap, "%s %s: %s (%s)", side, s->op, pm_strerror(s->err),
             pm_errname(s->err));
}

void vf__report_error(const char *op, const char *path, int err, int oserr) {
  pm_oserr_set(oserr);
  pm_report_error(op, path, err);
}

void vf__progress_tick(vf_pool *pool, pm_progress *prog) {
  uint64_t files, bytes;
  vf_pool_counts(pool, &files, &bytes);
  pm_progress_update(prog, files, bytes, false);
}

int vf__audit_pool_start(vf_audit_opts *o, const pm_fs *fs,
                         void (*done)(vf_job *job, void *arg),
                         void (*tick)(void *arg), void *arg, vf_pool **out) {
  vf_pool_opts po = {.fs = fs,
                     .engine = o->engine,
                     .threads = o->threads,
                     .done = done,
                     .arg = arg,
                     .tick = tick,
                     .interrupt = o->interrupt};
  int rc = vf_pool_create(&po, out);
  if (rc) {
    pm_report_errorf(rc, "cannot start the %s I/O engine",
                     o->engine ? o->engine->name : "default");
    return rc;
  }
  snprintf(o->engine_used, sizeof o->engine_used, "%s",
           vf_pool_engine_name(*out));
  o->threads_used = vf_pool_threads(*out);
  return 0;
}
