/* syncfs.c - the one flush of DST's file system that the committers
 * share (group commit). Each committer used to run its own syncfs per
 * batch, so two batches ready together cost two flushes in parallel; on
 * a journaled file system (ext4 with its journal) each forces a journal
 * commit, with a cache flush before and after its commit record, and
 * waits for it. Here a flush covers every batch handed to it before it
 * started: a committer whose batch is ready while another's flush runs
 * waits for the next one, and every committer waiting then is served by
 * that one flush. Used by commit.c; the caller is a committer (or a
 * worker committing its own batch) of an engine with c->sync_fs. */
#include "engine_internal.h"

void ce_sync_init(ce_sync *s) {
  pm_mutex_init(&s->mu);
  pm_cond_init(&s->cv);
  s->started = s->done = s->failed_gen = 0;
  s->failed_rc = 0;
  s->running = false;
  s->waiting = 0;
  s->flushes = 0;
}

void ce_sync_destroy(ce_sync *s) {
  pm_cond_destroy(&s->cv);
  pm_mutex_destroy(&s->mu);
}

int ce_sync_dst(ce_ctx *c) {
  ce_sync *s = &c->dsync;
  pm_mutex_lock(&s->mu);
  /* What the caller wrote is complete now: any flush that starts from
   * here on covers it, the one that runs now may not. */
  uint64_t want = s->started + 1;
  while (s->done < want) {
    if (s->running) {
      s->waiting++;
      pm_cond_wait(&s->cv, &s->mu);
      s->waiting--;
      continue;
    }
    uint64_t gen = ++s->started;
    s->running = true;
    s->flushes++;
    pm_mutex_unlock(&s->mu);
    int rc = pm_fs_syncfs(c->fs, c->dst_fd);
    pm_mutex_lock(&s->mu);
    s->running = false;
    s->done = gen;
    if (rc) {
      s->failed_gen = gen;
      s->failed_rc = rc;
    }
    pm_cond_broadcast(&s->cv);
  }
  /* A flush that failed from the caller's on may have lost its data
   * (Linux reports a writeback error to one syncfs of a descriptor
   * only): every caller it covered fails with it. */
  int rc = s->failed_gen >= want ? s->failed_rc : 0;
  pm_mutex_unlock(&s->mu);
  return rc;
}
