/* update.c - `copy --update`: what each file needs.
 *
 * An update decides what a file needs, from the state the last copy left
 * and the two ends as they are now, without reading any data:
 * - both ends as recorded, and the read not racy: nothing (the manifest
 *   line and the state record are carried over); returns true, done;
 * - the copy not as recorded (changed by hand, removed): copied again;
 *   but one whose change time alone moved (a link made or removed, a
 *   chmod) is hashed, and when its data are as recorded it is treated as
 *   the next case, its metadata set again;
 * - a hard-link group's first path met without a record of its own
 *   (another path of the group has it, or it is a link added since):
 *   another path's record of the same source serves, the path linked to
 *   the group's copy (update_check's group_record);
 * - the source's size changed: copied again;
 * - otherwise (identity changed, racy, --checksum): the source is hashed
 *   (f->hash_only), and copied only when the hash differs.
 * Adopting a tree (--checksum, no state), a copy of the source's size is
 * hashed here and the source compared with it the same way.
 * ce_update_unchanged decides the common case from two stats before
 * anything is opened (on a listing thread, or a worker's through
 * ce_update_fast); ce_update_check decides on the open source. */
#include <stdlib.h>
#include <string.h>

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
static void carry_over(ce_ctx *c, const char *rel, const ce_srec *se) {
  atomic_fetch_add(&c->unchanged, 1);
  atomic_fetch_add(&c->files, 1);
  if (c->mw) {
    int mrc = pm_manifest_writer_add(c->mw, rel, &se->hash);
    if (mrc) ce_count_error(c, "write manifest line for", rel, mrc);
  }
  if (c->sw) {
    int src = ce_state_writer_add(c->sw, rel, se);
    if (src) ce_count_error(c, "write state record for", rel, src);
  }
}

/* The common case of an update, a file nobody touched since the last
 * pass, decided from two stats by name beneath the directory handles,
 * before anything is opened: true when the file was carried over.
 * Anything else (no record, a journal entry of an interrupted run, a hard
 * link, a change, a racy record, --checksum) returns false and takes the
 * full path through update_check on an open descriptor, which decides it
 * again and says why. A stat that races with a change answers for the
 * moment it was made, as update_check's fstat does: the record keeps what
 * was seen, and a change made after the stat is the next pass's. The
 * walker calls it on the entries it lists (walk.c), the workers on a task
 * the walker did not try. Thread-safe: the old state and the journal's
 * table are only read, the writers lock. */
bool ce_update_unchanged(ce_ctx *c, const char *rel, pm_fd sdir, pm_fd ddir,
                         const char *leaf) {
  if (c->o->checksum || !c->old_state) return false;
  if (c->j && ce_journal_lookup(c->j, rel)) return false;
  ce_srec rec;
  const ce_srec *se = ce_state_lookup(c->old_state, rel, &rec);
  if (!se || ce_srec_racy(se, c->racy_ns)) return false;
  pm_stat src, dst;
  if (pm_fs_stat_at(c->fs, sdir, leaf, &src) || src.type != PM_T_FILE ||
      src.nlink > 1 || !ce_srec_src_equal(se, &src))
    return false;
  if (pm_fs_stat_at(c->fs, ddir, leaf, &dst) || !dst_as_recorded(se, &src, &dst))
    return false;
  carry_over(c, rel, se);
  return true;
}

/* ce_update_unchanged for a worker's task, unless the walker tried it
 * already (its two stats said no: they are not asked twice). */
bool ce_update_fast(worker *w, ce_task *t, pm_fd sdir, pm_fd ddir,
                        const char *leaf) {
  ce_ctx *c = w->c;
  if (t->fast_tried || !ce_update_unchanged(c, t->rel, sdir, ddir, leaf))
    return false;
  ce_dnode_release(c, t->dir);
  task_free(t);
  return true;
}

/* A copy whose size, mtime and identity are as recorded but whose change
 * time is not. A link made or removed since changes it (on either side:
 * a link of the source removed by hand, its copy's removed by --delete,
 * perhaps after this file's record was taken), and so does a chmod or an
 * attribute set by hand; so may a write that put the mtime back. The copy
 * is trusted only once its data hash as recorded (and is then given the
 * source's metadata again): reading it costs less than copying it. */
static bool dst_same_data(ce_ctx *c, const ce_srec *se, const pm_stat *dst,
                          pm_fd ddir, const char *leaf) {
  if (dst->type != PM_T_FILE || !ce_srec_dst_equal(se, dst)) return false;
  pm_hash128 h;
  return hash_copy(c, ddir, leaf, dst->size, &h) == 0 &&
         pm_hash_equal(&h, &se->hash);
}

/* The first path met of a hard-link group that has no record of its own:
 * the last pass met another path of the group first (before every path
 * got a record), or this path is a link added since. Another path's
 * record serves when it is of this source with its size and mtime (its
 * change time moves with every link), and the group's copy at that path
 * of DST is still as recorded; *orel is that path. */
static const ce_srec *group_record(ce_ctx *c, const fstate *f,
                                   const char **orel, ce_srec *out) {
  size_t it = 0;
  const ce_srec *ge;
  while ((ge = ce_state_lookup_src(c->old_state, f->st.dev, f->st.ino, &it,
                                   orel, out))) {
    if (!strcmp(*orel, f->t->rel) || ge->ssize != f->st.size ||
        ge->smtime.sec != f->st.mtime.sec ||
        ge->smtime.nsec != f->st.mtime.nsec)
      continue;
    pm_stat od;
    if (pm_fs_stat_at(c->fs, c->dst_fd, *orel, &od) == 0 &&
        dst_as_recorded(ge, &f->st, &od))
      return ge;
  }
  return NULL;
}

/* The full decision, on the open source (f->st): true when the file was
 * carried over (f and its task are freed); false to copy it, with
 * f->hash_only set when its source is only to be hashed first. */
bool ce_update_check(worker *w, fstate *f, pm_fd ddir, const char *leaf) {
  ce_ctx *c = w->c;
  ce_task *t = f->t;
  ce_srec rec, grec;
  const ce_srec *se = ce_state_lookup(c->old_state, t->rel, &rec);
  pm_stat dst;
  bool dst_file =
      pm_fs_stat_at(c->fs, ddir, leaf, &dst) == 0 && dst.type == PM_T_FILE;
  const char *orel = NULL;
  const ce_srec *ge = !se && f->hl ? group_record(c, f, &orel, &grec) : NULL;
  if (ge) {
    bool src_same = ce_srec_src_equal(ge, &f->st);
    bool racy = ce_srec_racy(ge, c->racy_ns);
    if (dst_file && ce_srec_dst_equal(ge, &dst)) {
      /* Linked to the group's copy already: that is its record. */
      se = ge;
    } else if (src_same && !racy && !c->o->checksum) {
      /* Nothing changed in the source: the path joins the copy. */
      int lrc = ce_hl_link(c, orel, t->rel);
      if (lrc == 0 && pm_fs_stat_at(c->fs, ddir, leaf, &dst) == 0 &&
          dst.type == PM_T_FILE) {
        dst_file = true;
        se = ge;
      }
    } else {
      /* The source is hashed against the group's copy, and the path
       * linked to that copy only when the data are the same. */
      f->hash_only = true;
      f->src_same = src_same;
      f->was_racy = src_same && racy;
      f->expect = ge->hash;
      f->adopt = pm_xstrdup(orel);
      return false;
    }
  }
  if (se) {
    bool as_recorded = dst_file && dst_as_recorded(se, &f->st, &dst);
    bool relinked = dst_file && !as_recorded &&
                    dst_same_data(c, se, &dst, ddir, leaf);
    bool dst_same = as_recorded || relinked;
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
    /* A copy trusted by its hash is given the source's metadata again
     * (hash_only), in case more than its links changed. */
    if (src_same && !racy && !c->o->checksum && !relinked) {
      pm_fs_close(c->fs, f->sfd);
      f->sfd = PM_FD_INVALID;
      ce_jident id = ident_of(&f->st);
      if (f->hl) ce_hl_settle(w, f->hl, true, &se->hash, &id, se);
      carry_over(c, t->rel, se);
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
