/* update.c - `copy --update`: what each file needs.
 *
 * An update decides what a file needs, from the state the last copy left
 * and the two ends as they are now, without reading any data:
 * - both ends as recorded, and the read not racy: nothing (the manifest
 *   line and the state record are carried over); returns true, done;
 * - the copy not as recorded (changed by hand, removed): copied again;
 * - the source's size changed: copied again;
 * - otherwise (identity changed, racy, --checksum): the source is hashed
 *   (f->hash_only), and copied only when the hash differs.
 * Adopting a tree (--checksum, no state), a copy of the source's size is
 * hashed here and the source compared with it the same way.
 * ce_update_fast decides the common case from two stats before anything
 * is opened; ce_update_check decides on the open source. */
#include <stdlib.h>

#include "util.h"
#include "worker_internal.h"

/* Hashes the copy rel beneath ddir (an update adopting an existing tree
 * with --checksum); 0 or PM_E*. */
static int hash_copy(ce_ctx *c, pm_fd ddir, const char *leaf, uint64_t size,
                     pm_hash128 *out) {
  pm_fd fd;
  int rc = pm_fs_open_at(c->fs, ddir, leaf,
                          PM_O_RDONLY | PM_O_NOFOLLOW | PM_O_REGULAR, 0, &fd);
  if (rc) return rc;
  pm_hasher *h = pm_hasher_create();
  char *buf = pm_xmalloc(c->chunk);
  uint64_t off = 0;
  while (off < size) {
    uint64_t n = size - off < c->chunk ? size - off : c->chunk;
    int64_t r = pm_fs_pread(c->fs, fd, buf, (size_t)n, off);
    if (r <= 0) {
      rc = r < 0 ? (int)r : PM_ESHORT;
      break;
    }
    pm_hasher_update(h, buf, (size_t)r);
    off += (uint64_t)r;
  }
  *out = pm_hasher_digest(h);
  pm_hasher_free(h);
  free(buf);
  pm_fs_close(c->fs, fd);
  return rc;
}

/* Whether the copy is the one the last pass left: as recorded, and its
 * change time the moment recorded as read_at, unless somebody wrote to it
 * or changed its metadata since (or linked it: a hard-link group's links
 * change it, so its ctime is not asked). */
static bool dst_as_recorded(const ce_srec *se, const pm_stat *src,
                            const pm_stat *dst) {
  return dst->type == PM_T_FILE && ce_srec_dst_equal(se, dst) &&
         (src->nlink > 1 || (dst->ctime.sec == se->read_at.sec &&
                             dst->ctime.nsec == se->read_at.nsec));
}

/* Counts a file found unchanged and carries its manifest line and state
 * record over to the new pass. */
static void carry_over(ce_ctx *c, const ce_task *t, const ce_srec *se) {
  atomic_fetch_add(&c->unchanged, 1);
  atomic_fetch_add(&c->files, 1);
  if (c->mw) {
    int mrc = pm_manifest_writer_add(c->mw, t->rel, &se->hash);
    if (mrc) ce_count_error(c, "write manifest line for", t->rel, mrc);
  }
  if (c->sw) {
    int src = ce_state_writer_add(c->sw, t->rel, se);
    if (src) ce_count_error(c, "write state record for", t->rel, src);
  }
}

/* The common case of an update, a file nobody touched since the last
 * pass, decided from two stats by name beneath the directory handles,
 * before anything is opened: true when the file was carried over (the
 * task is done and freed). Anything else (no record, a journal entry of
 * an interrupted run, a hard link, a change, a racy record, --checksum)
 * returns false and takes the full path through update_check on an open
 * descriptor, which decides it again and says why. A stat that races
 * with a change answers for the moment it was made, as update_check's
 * fstat does: the record keeps what was seen, and a change made after
 * the stat is the next pass's. */
bool ce_update_fast(worker *w, ce_task *t, pm_fd sdir, pm_fd ddir,
                        const char *leaf) {
  ce_ctx *c = w->c;
  if (c->o->checksum || !c->old_state) return false;
  if (c->j && ce_journal_lookup(c->j, t->rel)) return false;
  const ce_srec *se = ce_state_lookup(c->old_state, t->rel);
  if (!se || ce_srec_racy(se, c->racy_ns)) return false;
  pm_stat src, dst;
  if (pm_fs_stat_at(c->fs, sdir, leaf, &src) || src.type != PM_T_FILE ||
      src.nlink > 1 || !ce_srec_src_equal(se, &src))
    return false;
  if (pm_fs_stat_at(c->fs, ddir, leaf, &dst) || !dst_as_recorded(se, &src, &dst))
    return false;
  carry_over(c, t, se);
  ce_dnode_release(c, t->dir);
  task_free(t);
  return true;
}

/* The full decision, on the open source (f->st): true when the file was
 * carried over (f and its task are freed); false to copy it, with
 * f->hash_only set when its source is only to be hashed first. */
bool ce_update_check(worker *w, fstate *f, pm_fd ddir, const char *leaf) {
  ce_ctx *c = w->c;
  ce_task *t = f->t;
  const ce_srec *se = ce_state_lookup(c->old_state, t->rel);
  pm_stat dst;
  bool dst_file =
      pm_fs_stat_at(c->fs, ddir, leaf, &dst) == 0 && dst.type == PM_T_FILE;
  if (se) {
    bool dst_same = dst_file && dst_as_recorded(se, &f->st, &dst);
    if (!dst_same) {
      /* A resumed run finds the files it was copying when it stopped
       * changed too: no news for the user. */
      if (dst_file && !c->resumed) {
        char *shown = pm_display_path(f->dp);
        pm_warnf("'%s' was changed since the last pass (it is not the copy "
                 "pomove left): copying it again",
                 shown);
        free(shown);
      }
      return false;
    }
    bool src_same = ce_srec_src_equal(se, &f->st);
    bool racy = ce_srec_racy(se, c->racy_ns);
    if (src_same && !racy && !c->o->checksum) {
      pm_fs_close(c->fs, f->sfd);
      f->sfd = PM_FD_INVALID;
      ce_jident id = ident_of(&f->st);
      if (f->hl) ce_hl_settle(w, f->hl, true, &se->hash, &id);
      carry_over(c, t, se);
      ce_dnode_release(c, t->dir);
      task_free(t);
      fstate_free(f);
      return true;
    }
    if (se->ssize != f->st.size) return false;
    f->hash_only = true;
    f->src_same = src_same;
    f->was_racy = src_same && racy;
    f->expect = se->hash;
    return false;
  }
  if (c->adopt && dst_file && dst.size == f->st.size &&
      hash_copy(c, ddir, leaf, dst.size, &f->expect) == 0) {
    f->hash_only = true;
    return false;
  }
  return false;
}
