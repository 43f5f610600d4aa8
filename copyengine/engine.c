/* engine.c - ce_copy(): preflight, setting up the shared state (its
 * operations are ctx.c's), starting the walker and worker threads,
 * progress, and the end of a copy (final flush, manifest, journal). The
 * engine's top layer (engine_internal.h): it calls the other files, and
 * none of them calls it (`pomove copy`, orchestrate/cli/cmd_copy.c, and
 * the move's steps do). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"
#include "preflight.h"
#include "sidefile.h"
#include "state.h"
#include "sys.h"
#include "util.h"

#define QUEUE_CAP 8192

void ce_options_init(ce_options *o) {
  memset(o, 0, sizeof *o);
  o->verify_retries = 1;
  o->journal = true;
  o->busy_wait_ns = CE_BUSY_WAIT_DEFAULT;
}

/* Drops the tasks left in the queue once every thread that could take
 * them has been joined. */
static void queue_drop(ce_ctx *c) {
  ce_task *t;
  while ((t = ce_queue_pop(c, false))) {
    ce_dnode_release(c, t->dir);
    free(t->rel);
    free(t);
  }
}

static void snapshot(ce_ctx *c, ce_progress_info *p) {
  p->files_done = atomic_load(&c->files);
  p->bytes_done = atomic_load(&c->bytes) + atomic_load(&c->resumed_bytes);
  p->files_seen = atomic_load(&c->seen_files);
  p->bytes_seen = 0;
  p->walk_done = atomic_load(&c->walk_done);
  p->errors = atomic_load(&c->errors);
}

/* The options that change what a copy produces: a journal written with
 * other ones is refused. */
static char *options_signature(const ce_options *o) {
  return pm_xasprintf("specials=%d verify=%d", o->specials ? 1 : 0,
                      o->verify ? 1 : 0);
}

/* DST made absolute and canonical, as preflight makes it (for a new DST:
 * its parent's canonical path and its name), so that every spelling of
 * one DST names one lock file; NULL when it cannot be (then preflight
 * reports why). */
static char *dst_canonical(const pm_fs *fs, const char *dst) {
  char buf[8192];
  if (pm_fs_realpath(fs, dst, buf, sizeof buf) == 0) return pm_xstrdup(buf);
  char *parent, *name;
  pm_path_split(dst, &parent, &name);
  char *res = NULL;
  if (*name && strcmp(name, ".") && strcmp(name, "..") &&
      pm_fs_realpath(fs, parent, buf, sizeof buf) == 0)
    res = pm_path_join(buf, name);
  free(parent);
  free(name);
  return res;
}

int ce_copy(const ce_options *opts, ce_result *res) {
  ce_options o = *opts;
  memset(res, 0, sizeof *res);
  uint64_t t0 = pm_now_ns();
  const pm_fs *fs = o.fs ? o.fs : pm_fs_native();
  int rc = pm_fs_validate(fs);
  if (rc) return rc;
  const pm_io_engine_ops *eng = o.engine;
  if (!eng) {
    char why[256];
    eng = pm_io_engine_default(why, sizeof why);
    if (!eng) {
      pm_report_errorf(PM_ENOTSUP, "no I/O engine is usable");
      return PM_ENOTSUP;
    }
    if (why[0]) pm_warnf("%s; using the %s engine", why, eng->name);
  } else if ((rc = eng->probe()) != 0) {
    pm_report_errorf(rc, "the %s I/O engine is unavailable here", eng->name);
    return rc;
  }
  snprintf(res->engine, sizeof res->engine, "%s", eng->name);

  /* One copy into a DST at a time: the lock file beside DST is taken
   * before anything else looks at DST, and held to the end. */
  pm_sidelock lock = {.fd = PM_FD_INVALID, .path = NULL};
  char *base = dst_canonical(fs, o.dst);
  if (base) {
    char *lpath = pm_xasprintf("%s.pomove-lock", base);
    rc = pm_side_lock(fs, lpath, "lock file", &lock);
    free(lpath);
    if (rc) {
      free(base);
      res->refused = pm_side_refused(rc);
      return rc;
    }
  }

  /* The state of the copy, beside its manifest. Its presence makes a run
   * an update: `--update`, or the same command run again after a copy
   * finished (DST exists and holds a copy of this SRC then). */
  char *spath = NULL;
  bool update = false;
  if (!o.no_manifest && (o.state_path || o.manifest_path || base)) {
    if (o.state_path) {
      spath = pm_xstrdup(o.state_path);
    } else {
      char *m = o.manifest_path ? pm_xstrdup(o.manifest_path)
                                : pm_xasprintf("%s.xxh128", base);
      spath = ce_state_path_for(m);
      free(m);
    }
  }
  /* What killed runs into this DST left beside it: the temporaries of
   * its side files whose writer (the pid in the name) has ended. The
   * lock is ours, so no other copy into DST is writing them. */
  if (base) {
    char *m = o.manifest_path ? pm_xstrdup(o.manifest_path)
                              : pm_xasprintf("%s.xxh128", base);
    char *j = o.journal_path ? pm_xstrdup(o.journal_path)
                             : pm_xasprintf("%s.pomove-journal", base);
    pm_side_sweep(fs, m, "manifest");
    pm_side_sweep(fs, j, "journal");
    if (spath) pm_side_sweep(fs, spath, "state");
    free(j);
    free(m);
  }
  {
    pm_stat sst, dst_st;
    bool have_state = spath && pm_fs_stat(fs, spath, false, &sst) == 0;
    if (o.update) {
      update = true;
      if (!have_state && !o.checksum) {
        char *shown = pm_display_path(o.dst);
        pm_oserr_set(0);
        pm_report_errorf(
            PM_ESTATE,
            "cannot update '%s': %s, so pomove cannot tell which files are "
            "unchanged; use --update --checksum to adopt the tree by "
            "hashing both sides, or copy into a new directory",
            shown,
            o.no_manifest ? "--no-manifest keeps no state"
                          : "it has no state from an earlier pomove copy "
                            "beside its manifest");
        free(shown);
        free(spath);
        free(base);
        pm_side_unlock(fs, &lock);
        res->refused = true;
        return PM_ESTATE;
      }
    } else if (have_state && !o.restart && !o.merge &&
               pm_fs_stat(fs, o.dst, true, &dst_st) == 0 &&
               dst_st.type == PM_T_DIR) {
      update = true;
      char *shown = pm_display_path(o.dst);
      pm_warnf("'%s' holds a finished copy (state '%s'): bringing it up to "
               "date",
               shown, spath);
      free(shown);
    }
  }
  free(base);

  /* An existing journal for this destination means "resume": the
   * destination is expected to be non-empty then. */
  ce_roots roots;
  char *jpath = NULL;
  bool have_journal = false;
  if (o.journal) {
    char *dst_abs = NULL;
    char buf[8192];
    if (pm_fs_realpath(fs, o.dst, buf, sizeof buf) == 0) dst_abs = pm_xstrdup(buf);
    if (o.journal_path)
      jpath = pm_xstrdup(o.journal_path);
    else if (dst_abs)
      jpath = pm_xasprintf("%s.pomove-journal", dst_abs);
    pm_stat jst;
    have_journal = jpath && !o.restart && pm_fs_stat(fs, jpath, false, &jst) == 0;
    free(dst_abs);
  }
  rc = ce_preflight(fs, o.src, o.dst, o.merge || have_journal || update,
                    &roots);
  if (rc) {
    if (rc == PM_EEXIST && !o.no_manifest) {
      /* A published manifest and no journal: the copy into DST finished
       * (it may have been killed after its last step). Say how to check. */
      char *m = o.manifest_path ? pm_xstrdup(o.manifest_path)
                                : pm_xasprintf("%s.xxh128", o.dst);
      pm_stat mst;
      if (pm_fs_stat(fs, m, false, &mst) == 0)
        pm_warnf("'%s' is there, so a copy into '%s' finished; check it "
                 "with: pomove verify --manifest '%s' '%s'",
                 m, o.dst, m, o.dst);
      free(m);
    }
    free(jpath);
    free(spath);
    pm_side_unlock(fs, &lock);
    res->refused = true;
    return rc;
  }
  ce_state *old_state = NULL;
  if (update && spath) {
    /* With --checksum a damaged state is not needed: every file is
     * hashed on both sides, as when adopting a tree. */
    rc = ce_state_load(fs, spath, roots.src, !o.checksum, &old_state);
    if (rc && !((rc == PM_ENOENT || rc == PM_EFORMAT) && o.checksum)) {
      /* Damaged, another source's, or a link planted at its name. */
      if (rc == PM_ENOENT) {
        pm_oserr_set(0);
        pm_report_errorf(PM_ESTATE, "state '%s' went away", spath);
      }
      free(jpath);
      free(spath);
      ce_roots_free(&roots);
      pm_side_unlock(fs, &lock);
      res->refused = rc == PM_ENOENT || rc == PM_EFORMAT || rc == PM_ESTATE ||
                     pm_side_refused(rc);
      return rc == PM_ENOENT ? PM_ESTATE : rc;
    }
    rc = 0;
  }
  res->update = update;
  if (o.journal && !jpath)
    jpath = o.journal_path ? pm_xstrdup(o.journal_path)
                           : pm_xasprintf("%s.pomove-journal", roots.dst);

  ce_ctx *c = pm_xcalloc(1, sizeof *c);
  c->o = &o;
  c->fs = fs;
  c->eng = eng;
  c->src = roots.src;
  c->dst = roots.dst;
  c->src_fd = c->dst_fd = PM_FD_INVALID;
  c->update = update;
  c->old_state = old_state;
  c->adopt = update && !old_state;
  c->racy_ns = o.racy_ns;
  if (!c->racy_ns) {
    /* FAT keeps mtimes to 2 s; 1 s is safe for every other file system
     * (the coarsest others keep whole seconds). */
    pm_fsinfo fi;
    bool fat = pm_fs_fsinfo(fs, c->src, &fi) == 0 &&
               (strstr(fi.type, "fat") || strstr(fi.type, "FAT") ||
                strstr(fi.type, "msdos"));
    c->racy_ns = fat ? 2000000000LL : 1000000000LL;
  }
  /* Owners are copied only where the process may give files any owner
   * (root on POSIX; SeRestorePrivilege on Windows). */
  pm_identity id;
  pm_identity_get(&id);
  c->root_user = id.can_set_owner;
  c->cmask = pm_create_mask();
  c->euid = id.uid;
  c->egid = id.gid;
  c->chunk = o.chunk_size ? o.chunk_size : 1u << 20;
  c->chunks_per_file = o.chunks_in_flight ? o.chunks_in_flight : 4;
  c->files_per_worker = o.files_in_flight ? o.files_in_flight : 64;
  c->budget = o.inflight_bytes ? o.inflight_bytes : 16ull << 20;
  if (c->budget < 4ull * c->chunk) c->budget = 4ull * c->chunk;
  c->ubudget = o.inflight_bytes ? c->budget : CE_UNCACHED_INFLIGHT_DEFAULT;
  if (c->ubudget < c->budget) c->ubudget = c->budget;
  c->uchunk = o.chunk_size ? c->chunk : CE_UNCACHED_CHUNK_DEFAULT;
  if (c->uchunk < c->chunk) c->uchunk = c->chunk;
  /* Each batch costs a syncfs, and on a journaled file system (ext4 with
   * its journal) a syncfs forces two journal commits and waits for them:
   * at 512 files a batch, the 100,000-file postoffice made ~300 commits,
   * three times the floor's (pm_floor: a syncfs per 64 MiB), where 2048
   * files (~60 MiB of it) make ~90 (session 10). A finished file waits
   * for its flush as a path alone (file.c), so the larger batch costs
   * little memory. With --verify a waiting file keeps its task for a
   * re-copy and its batch is re-read at once: 512 there. */
  c->batch_files = o.batch_files ? o.batch_files : o.verify ? 512 : 2048;
  c->batch_bytes = o.batch_bytes ? o.batch_bytes : 256ull << 20;
  c->ckpt_bytes = o.checkpoint_bytes ? o.checkpoint_bytes : 64ull << 20;
  c->direct_min = o.direct_min ? o.direct_min : CE_DIRECT_MIN_DEFAULT;
  /* Uncached writes go chunk by chunk at aligned offsets. */
  if (c->chunk % 4096) c->direct_min = UINT64_MAX;
  c->qcap = QUEUE_CAP;
  pm_mutex_init(&c->qmu);
  pm_cond_init(&c->qnotempty);
  pm_cond_init(&c->qnotfull);
  pm_mutex_init(&c->hlmu);
  pm_mutex_init(&c->donemu);
  pm_cond_init(&c->donecv);

  char *manifest = NULL;
  pm_thread walker;
  pm_thread *workers = NULL;
  unsigned nworkers = 0;
  bool resumed = false;

  if (!roots.dst_exists) {
    rc = pm_fs_mkdir(fs, c->dst, 0700);
    if (rc) {
      pm_report_error("create destination directory", c->dst, rc);
      goto out;
    }
  }
  rc = pm_fs_open(fs, c->dst, PM_O_RDONLY | PM_O_DIRECTORY, 0, &c->dst_fd);
  if (rc) {
    pm_report_error("open destination directory", c->dst, rc);
    goto out;
  }
  /* Both roots are held from here on; see engine_internal.h. */
  rc = pm_fs_open(fs, c->src, PM_O_RDONLY | PM_O_DIRECTORY, 0, &c->src_fd);
  if (rc) {
    pm_report_error("open source directory", c->src, rc);
    goto out;
  }
  {
    /* Where something besides the umask decides a new file's mode (a
     * default ACL on Linux: the platform says), every file gets an
     * explicit chmod. The directories pomove creates inherit DST's; with
     * --merge, existing ones below DST may have their own. */
    c->exact_modes = !o.merge && pm_create_mode_exact(fs, c->dst);
  }
  {
    /* One flush per batch, where the platform has one: try it now.
     * Without one (Windows without administrator rights, a network
     * drive) every file is flushed on its own, journal or not, so that
     * the copy is durable before its manifest is published. */
    int src = pm_fs_syncfs(fs, c->dst_fd);
    c->no_syncfs = src == PM_ENOTSUP;
    c->sync_fs = (o.journal || o.verify) && o.sync_mode == CE_SYNC_FS &&
                 !c->no_syncfs;
  }
  if (o.journal) {
    char *sig = options_signature(&o);
    ce_journal_stats js;
    rc = ce_journal_open(fs, jpath, c->src, c->dst, sig, o.restart, &c->j,
                         &resumed, &js);
    free(sig);
    if (rc) {
      /* A journal that cannot be used as it is (another copy's, not a
       * journal, a link, a directory, not ours) was reported with what
       * to do; running the same command again would not help. */
      res->refused = ce_journal_refused(rc);
      goto out;
    }
    c->resumed = resumed;
    /* With a syncfs per batch the journal's records ride on the next
     * batch's flush, or on the final one (commit.c). */
    if (c->sync_fs) ce_journal_defer_flush(c->j, c->dst_fd);
    if (resumed)
      pm_warnf("resuming the copy recorded in '%s' (%llu files done%s)", jpath,
               (unsigned long long)js.files,
               js.torn_tail ? "; an incomplete last record was ignored" : "");
  }
  if (!o.no_manifest) {
    manifest = o.manifest_path ? pm_xstrdup(o.manifest_path)
                               : pm_xasprintf("%s.xxh128", c->dst);
    /* Written under a temporary name of its own (reported on failure). */
    rc = pm_manifest_writer_open_fs(fs, manifest, &c->mw);
    if (rc) {
      res->refused = pm_side_refused(rc);
      goto out;
    }
    if (spath) {
      rc = ce_state_writer_open(fs, spath, c->src, c->dst, &c->sw);
      if (rc) {
        res->refused = pm_side_refused(rc);
        goto out;
      }
    }
  }

  nworkers = o.threads ? o.threads : pm_cpu_count();
  if (nworkers > 64) nworkers = 64;
  workers = pm_xcalloc(nworkers, sizeof *workers);
  rc = pm_thread_create(&walker, ce_walker_main, c);
  if (rc) {
    pm_report_errorf(rc, "start the walker thread");
    goto out;
  }
  unsigned started = 0;
  int trc = 0;
  atomic_store(&c->running, nworkers);
  for (; started < nworkers; started++)
    if ((trc = pm_thread_create(&workers[started], ce_worker_main, c))) break;
  if (started == 0) {
    /* Without a worker nobody drains the queue: stop the walker. */
    int expected = 0;
    atomic_compare_exchange_strong(&c->fatal, &expected, trc);
    ce_queue_wake(c);
    pm_thread_join(&walker);
    queue_drop(c);
    rc = trc;
    pm_report_errorf(rc, "start the worker threads");
    goto out;
  }
  atomic_fetch_sub(&c->running, nworkers - started);
  nworkers = started;

  /* The calling thread reports progress and watches for interrupts. */
  for (;;) {
    ce_progress_info p;
    snapshot(c, &p);
    if (o.progress) o.progress(&p, o.progress_arg);
    if (ce_interrupted(c)) ce_queue_wake(c);
    /* Sleep until a worker ends or the next progress tick. */
    pm_mutex_lock(&c->donemu);
    if (!(atomic_load(&c->walk_done) && atomic_load(&c->running) == 0)) {
      pm_cond_timedwait(&c->donecv, &c->donemu, 50 * 1000000ull); /* 50 ms */
    }
    pm_mutex_unlock(&c->donemu);
    if (atomic_load(&c->walk_done) && atomic_load(&c->running) == 0) break;
  }
  pm_thread_join(&walker);
  for (unsigned i = 0; i < nworkers; i++) pm_thread_join(&workers[i]);
  /* After an interrupt the walker may push the file it had just read
   * after the last worker drained the queue and ended (a push does not
   * wait for room then): those tasks are dropped here, not leaked. */
  queue_drop(c);
  {
    ce_progress_info p;
    snapshot(c, &p);
    if (o.progress) o.progress(&p, o.progress_arg);
  }
  rc = PM_OK;
  int fatal = atomic_load(&c->fatal);
  bool interrupted = o.interrupt && *o.interrupt;

  /* Make everything durable before the manifest is published (each file
   * was, where there is no whole-volume flush). */
  if (!fatal && !c->no_syncfs) {
    int src = pm_fs_syncfs(fs, c->dst_fd);
    if (src) {
      ce_count_error(c, "flush to disk", c->dst, src);
      fatal = src;
    }
  }
  if (c->mw) {
    /* Published only after a copy that ran to its end; otherwise its
     * temporary file is removed (a rerun writes it again). */
    bool publish = !fatal && !interrupted;
    int mrc = publish ? pm_manifest_writer_publish(c->mw)
                      : pm_manifest_writer_close(c->mw);
    c->mw = NULL;
    if (mrc && !pm_side_refused(mrc)) {
      pm_report_error("write manifest", manifest, mrc);
      if (!fatal) fatal = mrc;
    } else if (mrc) {
      /* A link or other file put at the name during the copy: reported
       * by the publish. */
      if (!fatal) fatal = mrc;
    } else if (publish) {
      snprintf(res->manifest, sizeof res->manifest, "%s", manifest);
    }
  }
  if (c->sw) {
    /* Published with the manifest it describes, never without it. */
    if (res->manifest[0]) {
      int src = ce_state_writer_publish(c->sw);
      if (src && !fatal) fatal = src;
      if (!src) snprintf(res->state, sizeof res->state, "%s", spath);
    } else {
      ce_state_writer_discard(c->sw);
    }
    c->sw = NULL;
  }
  if (fatal) rc = fatal;
  res->interrupted = interrupted;
out:
  if (c->j) {
    /* A finished copy needs no journal; an unfinished one keeps it. */
    bool complete = rc == PM_OK && !res->interrupted &&
                    atomic_load(&c->errors) == 0;
    int jrc = ce_journal_close(c->j, complete);
    if (jrc && rc == PM_OK) rc = jrc;
    c->j = NULL;
  }
  if (c->mw) pm_manifest_writer_close(c->mw);
  ce_state_writer_discard(c->sw);
  ce_state_free(old_state);
  if (c->dst_fd != PM_FD_INVALID) pm_fs_close(fs, c->dst_fd);
  if (c->src_fd != PM_FD_INVALID) pm_fs_close(fs, c->src_fd);
  pm_side_unlock(fs, &lock);
  res->files = atomic_load(&c->files);
  res->dirs = atomic_load(&c->dirs);
  res->symlinks = atomic_load(&c->symlinks);
  res->hardlinks = atomic_load(&c->hardlinks);
  res->specials = atomic_load(&c->specials);
  res->bytes = atomic_load(&c->bytes);
  res->bytes_hashed = atomic_load(&c->hashed);
  res->skipped = atomic_load(&c->skipped);
  res->errors = atomic_load(&c->errors);
  res->resumed_files_skipped = atomic_load(&c->resumed_files);
  res->resumed_bytes_skipped = atomic_load(&c->resumed_bytes);
  res->rewritten_bytes = atomic_load(&c->rewritten);
  res->verified_files = atomic_load(&c->verified);
  res->verify_mismatches = atomic_load(&c->mismatches);
  res->copied = atomic_load(&c->copied);
  res->skipped_unchanged = atomic_load(&c->unchanged);
  res->metadata_only = atomic_load(&c->metaonly);
  res->deleted = atomic_load(&c->deleted);
  res->racy_rehashed = atomic_load(&c->racy);
  res->left_for_next_pass = atomic_load(&c->left);
  res->busy_waited = atomic_load(&c->busy);
  res->seconds = (double)(pm_now_ns() - t0) / 1e9;
  ce_hardlinks_free(c);
  pm_mutex_destroy(&c->qmu);
  pm_cond_destroy(&c->qnotempty);
  pm_cond_destroy(&c->qnotfull);
  pm_mutex_destroy(&c->hlmu);
  pm_mutex_destroy(&c->donemu);
  pm_cond_destroy(&c->donecv);
  free(workers);
  free(manifest);
  free(jpath);
  free(spath);
  ce_roots_free(&roots);
  free(c);
  return rc;
}
