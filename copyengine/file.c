/* file.c - one file of the copy engine, from its open to its end.
 *
 * A file is started (ce_start_file) by opening both ends beneath the
 * directory handles of its parent, after the cheap decisions that may
 * finish it at once: an update's (update.c), a hard link's (hardlinks.c),
 * a journal's (done in an earlier run, or resumed from its checkpoints).
 * A file is created private (0600), or with its final mode where that is
 * an ordinary one (see ce_start_file), and gets its final owner, mode,
 * attributes and times only when its body is complete (finish_file),
 * before it joins its worker's batch. With a journal or --verify a file
 * must be durable before it is recorded: with --sync file its own
 * fdatasync goes through the engine like its writes (issue_sync). A file
 * that failed is reported here, or put aside when another program holds
 * it (busy.c), or copied again when it changed while being read. */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "worker_internal.h"

static bool same_version(const pm_stat *a, const pm_stat *b) {
  return a->size == b->size && a->mtime.sec == b->mtime.sec &&
         a->mtime.nsec == b->mtime.nsec && a->ctime.sec == b->ctime.sec &&
         a->ctime.nsec == b->ctime.nsec && a->ino == b->ino;
}

static void finish_file(worker *w, fstate *f) {
  ce_ctx *c = w->c;
  int rc;
  while (f->ready) {
    chunk *ch = f->ready;
    f->ready = ch->next;
    ce_chunk_free(w, ch);
  }
  if (!f->err && f->npend) ce_ckpt_drain(w, f);
  if (!f->err) {
    pm_stat now;
    rc = pm_fs_fstat(c->fs, f->sfd, &now);
    if (rc)
      file_fail_at(f, "read metadata of", rc, true);
    else if (!same_version(&now, &f->st))
      file_fail_logic(f, "copy (it changed while being read)", PM_ECHANGED,
                      true);
  }
  ce_uncached_close(w, f);
  if (!f->err && f->hash_only) {
    pm_hash128 got = pm_hasher_digest(f->h);
    if (!pm_hash_equal(&got, &f->expect)) {
      /* Its data changed although its size did not: copy it. The task
       * keeps its directory; a hard-link group keeps waiting for it. */
      if (f->sfd != PM_FD_INVALID) pm_fs_close(c->fs, f->sfd);
      if (f->dfd != PM_FD_INVALID) pm_fs_close(c->fs, f->dfd);
      if (f->was_racy) atomic_fetch_add(&c->racy, 1);
      f->t->force_copy = true;
      f->t->next = w->retry;
      w->retry = f->t;
      fstate_free(f);
      return;
    }
  }
  if (!f->err && f->adopt) {
    /* The hash is the group's: the path joins the group's copy. */
    rc = ce_hl_link(c, f->adopt, f->t->rel);
    if (rc) file_fail(f, "create hard link", rc);
  }
  if (!f->err && !f->hash_only && (f->sparse || f->resumed || f->padded) &&
      !f->truncated) {
    rc = pm_fs_ftruncate(c->fs, f->dfd, f->st.size);
    if (rc) file_fail(f, "set size of", rc);
  }
  /* Its named data streams (NTFS), once its data are in place and before
   * its mode, which may make it read-only. A file flushed on its own is
   * flushed with its streams. Also when only its metadata are set again
   * (hash_only): a stream written or removed alone moves the file's
   * change time, not its data; the copy then loses streams the source
   * no longer has. */
  if (!f->err) {
    bool on_src;
    bool sync = (c->j || c->o->verify || c->no_syncfs) && !c->sync_fs;
    rc = ce_copy_streams(c, f->sfd, f->dfd, sync, !f->fresh, &f->errop_buf,
                         &on_src);
    if (rc) file_fail_at(f, f->errop_buf, rc, on_src);
  }
  /* A new file already belongs to us (its directory has no setgid bit
   * while the copy runs): only a different owner needs the call. */
  if (!f->err && c->root_user &&
      (f->st.uid != c->euid || f->st.gid != c->egid || !f->fresh)) {
    rc = pm_fs_fchown(c->fs, f->dfd, f->st.uid, f->st.gid);
    if (rc) file_fail(f, "set owner of", rc);
  }
  if (!f->err && !f->mode_set) {
    rc = pm_fs_fchmod(c->fs, f->dfd, f->st.mode & 07777);
    if (rc) file_fail(f, "set mode of", rc);
  }
  if (!f->err)
    ce_copy_xattrs(c, f->sfd, "", f->dfd, "", f->sp, f->dp, !f->fresh);
  if (!f->err) {
    rc = pm_fs_futimes(c->fs, f->dfd, &f->st.atime, &f->st.mtime);
    if (rc) file_fail(f, "set times of", rc);
  }
  /* The state record: the source as read, the copy as it is now that its
   * times are set, and (its change time) when that was. */
  ce_srec sr;
  bool has_sr = false;
  if (!f->err && c->sw) {
    pm_stat dst_st;
    if (pm_fs_fstat(c->fs, f->dfd, &dst_st) == 0) {
      ce_srec_set_src(&sr, &f->st);
      ce_srec_set_dst(&sr, &dst_st);
      has_sr = true;
    }
  }
  if (f->sfd != PM_FD_INVALID) pm_fs_close(c->fs, f->sfd);
  if (f->dfd != PM_FD_INVALID) {
    rc = pm_fs_close(c->fs, f->dfd);
    if (rc) file_fail(f, "close", rc);
  }
  ce_task *t = f->t;
  if (f->err == PM_EBUSY && ce_busy_later(w, t, f->hl)) {
    /* Held by another program: at its open, or a locked range at a read
     * or write. What was written is replaced when it is tried again, as
     * after a change (checkpoints already recorded are kept). */
    fstate_free(f);
    return;
  }
  if (f->err == PM_ECHANGED && t->attempts < 2 && !ce_interrupted(c)) {
    /* Copy it again from the start; a file that keeps changing is an
     * error after the third try. */
    t->attempts++;
    t->next = w->retry;
    w->retry = t;
    if (f->hl) ce_hl_settle(w, f->hl, false, NULL, NULL, NULL);
    fstate_free(f);
    return;
  }
  if (f->err && c->o->live &&
      (f->err == PM_ECHANGED || (f->err == PM_ENOENT && f->err_on_src))) {
    /* Staging a live tree: a file that kept changing, or went away, is
     * for the next pass to copy; it is listed, not failed. */
    char *shown = pm_display_path(f->sp);
    pm_warnf("'%s' %s: left for the next pass", shown,
             f->err == PM_ENOENT ? "went away" : "kept changing while read");
    free(shown);
    atomic_fetch_add(&c->left, 1);
    if (f->hl) ce_hl_settle(w, f->hl, false, NULL, NULL, NULL);
    ce_dnode_release(c, t->dir);
    task_free(t);
  } else if (f->err == PM_EBUSY) {
    ce_busy_report(c, f);
    if (f->hl) ce_hl_settle(w, f->hl, false, NULL, NULL, NULL);
    ce_dnode_release(c, t->dir);
    task_free(t);
  } else if (f->err) {
    if (f->err != PM_ECANCELED) {
      pm_oserr_set(f->err_os);
      ce_count_error(c, f->errop, f->err_on_src ? f->sp : f->dp, f->err);
    }
    if (f->hl) ce_hl_settle(w, f->hl, false, NULL, NULL, NULL);
    ce_dnode_release(c, t->dir);
    task_free(t);
  } else {
    pm_hash128 h = pm_hasher_digest(f->h);
    ce_jident id = ident_of(&f->st);
    atomic_fetch_add(&c->files, 1);
    if (f->hash_only) {
      /* Nothing written: the data were as recorded. */
      if (f->was_racy) atomic_fetch_add(&c->racy, 1);
      atomic_fetch_add(f->src_same ? &c->unchanged : &c->metaonly, 1);
    } else {
      atomic_fetch_add(&c->bytes, f->st.size);
      atomic_fetch_add(&c->copied, 1);
      atomic_fetch_add(&c->rewritten, f->found_on_disk < f->st.size
                                          ? f->found_on_disk
                                          : f->st.size);
    }
    if (has_sr) sr.hash = h;
    if (f->hl) ce_hl_settle(w, f->hl, true, &h, &id, has_sr ? &sr : NULL);
    ce_dnode_release(c, t->dir);
    t->dir = NULL;
    /* The batch keeps the path alone; ce_batch_add frees the task (with
     * --verify after taking its attempts, for a re-copy). */
    char *rel = t->rel;
    t->rel = NULL;
    ce_batch_add(w, rel, &id, &h, t, has_sr ? &sr : NULL);
    w->batch[w->nbatch - 1].wrote = !f->hash_only;
  }
  fstate_free(f);
}

void ce_dircache_drop(worker *w) {
  if (!w->dc_rel) return;
  pm_fs_close(w->c->fs, w->dc_src);
  pm_fs_close(w->c->fs, w->dc_dst);
  free(w->dc_rel);
  w->dc_rel = NULL;
}

/* The handles of the SRC and DST directories that hold rel, and rel's
 * last component. 0, or the PM_E* of the open that failed (*on_src says
 * on which side). */
static int parent_dirs(worker *w, const char *rel, pm_fd *sdir, pm_fd *ddir,
                       const char **leaf, bool *on_src) {
  ce_ctx *c = w->c;
  const char *slash = strrchr(rel, '/');
  if (!slash) {
    *sdir = c->src_fd;
    *ddir = c->dst_fd;
    *leaf = rel;
    return 0;
  }
  size_t n = (size_t)(slash - rel);
  *leaf = slash + 1;
  if (!w->dc_rel || strlen(w->dc_rel) != n || memcmp(w->dc_rel, rel, n)) {
    ce_dircache_drop(w);
    char *parent = pm_xmalloc(n + 1);
    memcpy(parent, rel, n);
    parent[n] = '\0';
    pm_fd s, d;
    int rc = pm_fs_open_at(c->fs, c->src_fd, parent, PM_O_RDONLY | PM_O_DIRECTORY, 0,
                            &s);
    if (!rc) {
      rc = pm_fs_open_at(c->fs, c->dst_fd, parent, PM_O_RDONLY | PM_O_DIRECTORY, 0,
                          &d);
      if (rc) {
        pm_fs_close(c->fs, s);
        *on_src = false;
      }
    } else {
      *on_src = true;
    }
    if (rc) {
      free(parent);
      return rc;
    }
    w->dc_rel = parent;
    w->dc_src = s;
    w->dc_dst = d;
  }
  *sdir = w->dc_src;
  *ddir = w->dc_dst;
  return 0;
}

static int open_dst(ce_ctx *c, pm_fd dir, const char *rel, bool trunc,
                    int sparse, pm_fd *fd) {
  /* A resumed file is read back to check its checkpoints: open it RDWR. */
  int flags = (trunc ? PM_O_WRONLY | PM_O_TRUNC : PM_O_RDWR) | PM_O_CREAT |
              PM_O_NOFOLLOW | sparse;
  int rc = pm_fs_open_at(c->fs, dir, rel, flags, 0600, fd);
  if (rc == PM_EACCES || rc == PM_EPERM) {
    /* A read-only file left by an earlier run (merge, resume, re-copy). */
    if (pm_fs_chmod_at(c->fs, dir, rel, 0600) == 0)
      rc = pm_fs_open_at(c->fs, dir, rel, flags, 0600, fd);
  } else if (rc == PM_ELOOP || rc == PM_EISDIR) {
    /* Something else stands where the file goes: a symlink there is
     * replaced (stat_at fails with PM_ELOOP when the symlink is in a
     * directory above it instead, which stays an error), a directory is an
     * error the user must resolve. */
    pm_stat st;
    if (pm_fs_stat_at(c->fs, dir, rel, &st) == 0 &&
        st.type == PM_T_SYMLINK && pm_fs_unlink_at(c->fs, dir, rel) == 0)
      rc = pm_fs_open_at(c->fs, dir, rel, flags, 0600, fd);
  }
  return rc;
}

/* Starts a file: opens both ends, handles resume and hard links. The
 * file is either added to the active list or finished at once. */
void ce_start_file(worker *w, ce_task *t) {
  ce_ctx *c = w->c;
  pm_fd sdir = PM_FD_INVALID, ddir = PM_FD_INVALID;
  const char *leaf = NULL;
  bool psrc = false;
  /* A file tried again after it was busy may be the first path of a
   * hard-link group whose other paths wait for it: it is settled like
   * any first path, whatever happens to the file now. */
  ce_hlentry *held = t->busy_hl ? &t->busy_hl->e : NULL;
  t->busy_hl = NULL;
  int rc = parent_dirs(w, t->rel, &sdir, &ddir, &leaf, &psrc);
  if (!rc && !held && c->update && !t->force_copy &&
      ce_update_fast(w, t, sdir, ddir, leaf))
    return;
  fstate *f = pm_xcalloc(1, sizeof *f);
  f->t = t;
  f->hl = held;
  f->sfd = f->dfd = f->ddfd = f->sdfd = PM_FD_INVALID;
  f->sp = pm_path_join(c->src, t->rel);
  f->dp = pm_path_join(c->dst, t->rel);
  f->h = pm_hasher_create();
  /* PM_O_REGULAR (below): a FIFO or device put where the walk saw a file
   * must not block the worker on its open or its reads. */
  if (rc) {
    file_fail_at(f, "open the directory of", rc, psrc);
    finish_file(w, f);
    return;
  }
  rc = pm_fs_open_at(c->fs, sdir, leaf,
                          PM_O_RDONLY | PM_O_NOFOLLOW | PM_O_NOATIME |
                              PM_O_REGULAR,
                          0, &f->sfd);
  if (rc) {
    file_fail_at(f,
                 rc == PM_ESPECIAL
                     ? "copy (special file where a regular file was listed)"
                     : "open",
                 rc, true);
    finish_file(w, f);
    return;
  }
  rc = pm_fs_fstat(c->fs, f->sfd, &f->st);
  if (rc) {
    file_fail_at(f, "read metadata of", rc, true);
    finish_file(w, f);
    return;
  }
  if (f->st.type != PM_T_FILE) {
    /* Replaced by something else since the walk listed it. */
    file_fail_logic(f, "copy (it changed type while being copied)",
                    PM_ECHANGED, true);
    finish_file(w, f);
    return;
  }
  if (f->st.nlink > 1 && ce_hl_join(w, f)) return;
  ce_jident id = ident_of(&f->st);
  bool trunc = true;
  const ce_jentry *je =
      c->j && !t->force_copy ? ce_journal_lookup(c->j, t->rel) : NULL;
  if (je && ce_jident_equal(&je->id, &id)) {
    if (je->done) {
      pm_stat dst_st;
      /* With its state record the change time of the source and the
       * whole identity of the copy are checked too. */
      if (pm_fs_stat_at(c->fs, ddir, leaf, &dst_st) == 0 &&
          dst_st.type == PM_T_FILE && dst_st.size == f->st.size &&
          dst_st.mtime.sec == f->st.mtime.sec &&
          dst_st.mtime.nsec == f->st.mtime.nsec &&
          (!je->has_sr || (ce_srec_src_equal(&je->sr, &f->st) &&
                           ce_srec_dst_equal(&je->sr, &dst_st)))) {
        /* Done in an earlier run, durable, and unchanged since. */
        atomic_fetch_add(&c->resumed_files, 1);
        atomic_fetch_add(&c->resumed_bytes, f->st.size);
        atomic_fetch_add(&c->files, 1);
        pm_fs_close(c->fs, f->sfd);
        if (f->hl)
          ce_hl_settle(w, f->hl, true, &je->hash, &id,
                       je->has_sr ? &je->sr : NULL);
        if (c->mw) pm_manifest_writer_add(c->mw, t->rel, &je->hash);
        if (c->sw && je->has_sr) {
          int src = ce_state_writer_add(c->sw, t->rel, &je->sr);
          if (src) ce_count_error(c, "write state record for", t->rel, src);
        }
        ce_dnode_release(c, t->dir);
        task_free(t);
        fstate_free(f);
        return;
      }
    } else if (je->nchunks) {
      trunc = false;
    }
  }
  if (c->update && !t->force_copy && trunc) {
    if (ce_update_check(w, f, ddir, leaf)) return;
    if (f->hash_only) {
      /* The copy is opened only to take the new metadata. */
      rc = f->adopt ? pm_fs_open_at(c->fs, c->dst_fd, f->adopt,
                                    PM_O_RDONLY | PM_O_NOFOLLOW |
                                        PM_O_REGULAR,
                                    0, &f->dfd)
                    : pm_fs_open_at(c->fs, ddir, leaf,
                                    PM_O_RDONLY | PM_O_NOFOLLOW |
                                        PM_O_REGULAR,
                                    0, &f->dfd);
      if (rc) {
        f->dfd = PM_FD_INVALID;
        f->hash_only = false;
        free(f->adopt);
        f->adopt = NULL;
      } else {
        goto admit;
      }
    }
  }
  /* A source with a hole before its end (fewer blocks than its size may
   * also mean compression) gives a copy opened with PM_O_SPARSE, which
   * Windows marks sparse before its holes are skipped (pipeline.c). */
  f->sparse = f->st.size > 0 && f->st.blocks512 * 512 < f->st.size;
  int sparse = f->sparse && pm_fs_seek(c->fs, f->sfd, 0, true) <
                                (int64_t)f->st.size
                   ? PM_O_SPARSE
                   : 0;
  /* The common case, a new file, costs one open: O_EXCL tells us nothing
   * was there. Only when something was (merge, resume, re-copy) do we look
   * at it and take the slower path. */
  rc = PM_EEXIST;
  if (trunc) {
    /* An ordinary mode (the owner may read and write; nobody else may
     * write; no set-id or sticky bit; nothing the umask strips) is given
     * at creation, which saves an fchmod per file. Anything else starts
     * private and gets its mode when the data is in. */
    uint32_t mode = f->st.mode & 07777;
    bool exact = c->exact_modes && (mode & 0600) == 0600 &&
                 !(mode & 07022) && !(mode & c->cmask);
    rc = pm_fs_open_at(c->fs, ddir, leaf,
                        PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL | PM_O_NOFOLLOW |
                            sparse,
                        exact ? mode : 0600, &f->dfd);
    f->fresh = rc == 0;
    f->mode_set = f->fresh && exact;
  }
  if (rc == PM_EEXIST) {
    if (c->j && (!c->update || c->resumed)) {
      /* What a crash left on disk unrecorded is written again: count it
       * so a resumed run can show it stayed within what was in flight.
       * (An update that is not resumed replaces old copies: not that.) */
      pm_stat old;
      if (pm_fs_stat_at(c->fs, ddir, leaf, &old) == 0 &&
          old.type == PM_T_FILE)
        /* What was written, not the size: an uncached copy is given its
         * size before its first write (uncached.c), holes and all. */
        f->found_on_disk = old.blocks512 * 512 < old.size
                               ? old.blocks512 * 512
                               : old.size;
    }
    rc = open_dst(c, ddir, leaf, trunc, sparse, &f->dfd);
  }
  if (rc) {
    file_fail(f, "create", rc);
    finish_file(w, f);
    return;
  }
  if (!trunc) {
    uint64_t good = ce_resume_prefix(w, f, je);
    f->found_on_disk = f->found_on_disk > good ? f->found_on_disk - good : 0;
    f->issue_off = f->hashed_off = good;
    f->resumed = true;
    atomic_fetch_add(&c->resumed_bytes, good);
    if (!good) pm_hasher_reset(f->h);
  }
admit:
  f->sparse = f->st.size > 0 && f->st.blocks512 * 512 < f->st.size;
  ce_uncached_open(w, f, sdir, ddir, leaf);
  ce_ckpt_start(w, f);
  if (f->st.size == f->issue_off) {
    finish_file(w, f);
    return;
  }
  f->next = w->active;
  w->active = f;
  w->nactive++;
}

static bool data_done(const fstate *f) {
  return f->issue_off >= f->st.size && f->hashed_off >= f->st.size &&
         !f->ready;
}

/* With a journal or --verify a file must be durable before it is recorded
 * or re-read. With --sync file its fdatasync goes through the engine like
 * its writes, so many files' flushes are in flight at once (the file
 * system groups them) and no flush waits for unrelated data, as a syncfs
 * would. With --sync fs (the default) the committer's one syncfs per
 * batch does it, which is far cheaper per small file. */
static void issue_sync(worker *w, fstate *f) {
  ce_ctx *c = w->c;
  f->sync_issued = true;
  if (f->sparse || f->resumed || f->padded) {
    /* The size is part of what must be durable. */
    int rc = pm_fs_ftruncate(c->fs, f->dfd, f->st.size);
    if (rc) {
      file_fail(f, "set size of", rc);
      return;
    }
    f->truncated = true;
  }
  chunk *ch = pm_xcalloc(1, sizeof *ch);
  ch->f = f;
  ch->is_sync = true;
  ch->req.op = PM_IO_FDATASYNC;
  ch->req.fd = f->dfd;
  ch->req.udata = ch;
  w->chunks_out++;
  ce_chunk_submit(w, ch);
}

static bool file_done(worker *w, fstate *f) {
  if (f->inflight) return false;
  if (f->err) return true;
  if (!data_done(f)) return false;
  if (f->hash_only ||
      !(w->c->j || w->c->o->verify || w->c->no_syncfs) || w->c->sync_fs ||
      f->synced)
    return true;
  if (!f->sync_issued) issue_sync(w, f);
  return f->err && !f->inflight;
}

void ce_reap_finished(worker *w) {
  fstate **pp = &w->active;
  while (*pp) {
    fstate *f = *pp;
    if (file_done(w, f)) {
      *pp = f->next;
      w->nactive--;
      finish_file(w, f);
    } else {
      pp = &f->next;
    }
  }
}

void ce_cancel_active(worker *w) {
  for (fstate *f = w->active; f; f = f->next) file_fail(f, "copy", PM_ECANCELED);
}
