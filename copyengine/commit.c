/* commit.c - batches of complete files and the committer of the copy
 * engine. With a journal or --verify, complete files (and checkpoints of
 * large ones) are collected in batches that a committer thread per worker
 * makes durable (one syncfs, or with --sync file each file's own
 * fdatasync, queued on the engine like its writes), verifies (with
 * --verify: the copies re-read from the medium by verify/reread.c), adds
 * to the manifest and records in the journal with one journal flush,
 * while the worker goes on copying. Without them a batch is committed by
 * the worker itself. */
#include <stdlib.h>

#include "reread.h"
#include "sys.h"
#include "util.h"
#include "worker_internal.h"

#define BATCH_NS 1000000000ull

/* ---- batches ---- */

void ce_batch_add(worker *w, char *rel, const ce_jident *id,
                  const pm_hash128 *h, ce_task *t, const ce_srec *sr) {
  if (w->nbatch == w->capbatch) {
    w->capbatch = w->capbatch ? w->capbatch * 2 : 64;
    w->batch = pm_xrealloc(w->batch, w->capbatch * sizeof *w->batch);
  }
  if (!w->nbatch) w->batch_start_ns = pm_now_ns();
  pending *p = &w->batch[w->nbatch++];
  p->rel = rel;
  p->id = *id;
  p->hash = *h;
  p->t = t;
  p->ckpt = false;
  p->wrote = false;
  p->has_sr = sr != NULL;
  if (sr) p->sr = *sr;
  w->batch_bytes += id->size;
}

void ce_batch_add_ckpt(worker *w, const fstate *f, const ckpt *k) {
  ce_jident id = ident_of(&f->st);
  ce_batch_add(w, pm_xstrdup(f->t->rel), &id, &k->hash, NULL, NULL);
  pending *p = &w->batch[w->nbatch - 1];
  p->ckpt = true;
  p->off = k->off;
  p->len = k->len;
  w->batch_bytes += k->len - id.size;
}

/* ---- verification: the batch's copies are re-read from the medium.
 * The committer re-reads through its own context of the copy's I/O
 * engine (vf_rereader: up to REREAD_DEPTH reads in flight, so that the
 * disk sees a deep queue of re-reads, as it sees the copy's writes); a
 * batch committed by the worker itself, or a committer whose engine
 * could not start, uses a few blocking threads (vf_reread_batch). ---- */

/* Reads in flight per committer. Session 8's 4 blocking threads per
 * committer kept the re-read the critical path of a --verify copy. */
#define REREAD_DEPTH 64
#define REREAD_THREADS 4

/* The batch is re-read in the copies' inode order where the state
 * record gives it (vf_reread_item.order), so that more neighbouring
 * re-reads are neighbours on the disk, which the block layer merges into
 * one request. It gains little: on one fixed layout 100-104k device reads
 * for 100,000 files became 96-97k, since ext4 places data in writeback
 * order (small files apart from large ones), not in inode order; in
 * physical order a batch of 512 still took 82-86k, the whole tree 4-7k
 * (pm_reread_bench ... phys, session 9). The results come back in item
 * order. */
static vf_reread_result *reread_batch(ce_ctx *c, vf_rereader *rr,
                                      const pending *items, size_t n) {
  vf_reread_item *v = pm_xcalloc(n ? n : 1, sizeof *v);
  for (size_t i = 0; i < n; i++) {
    v[i].rel = items[i].rel;
    v[i].size = items[i].id.size;
    v[i].order = items[i].has_sr ? items[i].sr.dino : 0;
    v[i].skip = items[i].ckpt; /* a checkpoint, not a whole file */
  }
  vf_reread_result *out =
      rr ? vf_rereader_run(rr, c->dst_fd, v, n)
         : vf_reread_batch(c->fs, c->dst_fd, v, n, REREAD_THREADS);
  free(v);
  return out;
}

/* Makes a batch of complete files durable (one syncfs, unless each file
 * had its own fdatasync), re-reads them with --verify, and records them:
 * manifest lines, then journal records with one journal flush. Files to
 * copy again after a mismatch are pushed on *retry. Frees the items. */
static void commit_items(ce_ctx *c, vf_rereader *reader, pending *items,
                         size_t n, ce_task **retry) {
  int rc = 0;
  if (n && c->sync_fs) {
    rc = pm_fs_syncfs(c->fs, c->dst_fd);
    if (rc) ce_count_error(c, "flush to disk (syncfs)", c->dst, rc);
  }
  ce_jfile *jf = pm_xcalloc(n ? n : 1, sizeof *jf);
  ce_jchunk *jc = pm_xcalloc(n ? n : 1, sizeof *jc);
  size_t nj = 0, nc = 0;
  vf_reread_result *rr = NULL;
  if (c->o->verify && !rc && n) rr = reread_batch(c, reader, items, n);
  for (size_t i = 0; i < n && !rc; i++) {
    pending *p = &items[i];
    if (p->ckpt) {
      jc[nc].rel = p->rel;
      jc[nc].id = p->id;
      jc[nc].off = p->off;
      jc[nc].len = p->len;
      jc[nc].hash = p->hash;
      nc++;
      continue;
    }
    if (rr) {
      char *dp = pm_path_join(c->dst, p->rel);
      int vrc = rr[i].rc;
      atomic_fetch_add(&c->verified, 1);
      if (vrc) {
        pm_oserr_set(rr[i].oserr);
        ce_count_error(c, "re-read for verification", dp, vrc);
        free(dp);
        continue;
      }
      if (rr[i].size != p->id.size || !pm_hash_equal(&rr[i].hash, &p->hash)) {
        atomic_fetch_add(&c->mismatches, 1);
        if (p->t && p->t->attempts < c->o->verify_retries) {
          char *shown = pm_display_path(dp);
          pm_warnf("verification of '%s' failed (hash of the copy differs "
                   "from the source's): copying it again",
                   shown);
          free(shown);
          p->t->attempts++;
          /* The copy is what differs: an update must not trust it. */
          p->t->force_copy = true;
          p->t->next = *retry;
          *retry = p->t;
          p->t = NULL;
          /* Re-copy counts its own bytes and file again. */
          atomic_fetch_sub(&c->files, 1);
          if (p->wrote) {
            atomic_fetch_sub(&c->bytes, p->id.size);
            atomic_fetch_sub(&c->copied, 1);
          }
        } else {
          pm_oserr_set(0);
          ce_count_error(c, "verify copy", dp, PM_ECORRUPT);
        }
        free(dp);
        continue;
      }
      free(dp);
    }
    if (c->mw) {
      int mrc = pm_manifest_writer_add(c->mw, p->rel, &p->hash);
      if (mrc) ce_count_error(c, "write manifest line for", p->rel, mrc);
    }
    if (c->sw && p->has_sr) {
      int src = ce_state_writer_add(c->sw, p->rel, &p->sr);
      if (src) ce_count_error(c, "write state record for", p->rel, src);
    }
    jf[nj].rel = p->rel;
    jf[nj].id = p->id;
    jf[nj].hash = p->hash;
    jf[nj].sr = p->has_sr ? &p->sr : NULL;
    nj++;
  }
  if (c->j && (nj || nc)) {
    int jrc = ce_journal_add(c->j, jc, nc, jf, nj);
    if (jrc) ce_count_error(c, "write journal", c->dst, jrc);
  }
  free(jf);
  free(jc);
  free(rr);
  for (size_t i = 0; i < n; i++) {
    free(items[i].rel);
    task_free(items[i].t);
  }
}

/* ---- the committer: a worker hands its full batches to its own
 * committer thread, so that the flush to disk and the verifying re-reads
 * overlap the worker's copying instead of stalling it. At most
 * COMMIT_DEPTH batches are handed over and not yet committed: a crash
 * loses no more than that to a rerun. ---- */

#define COMMIT_DEPTH 2

typedef struct cbatch {
  struct cbatch *next;
  pending *items;
  size_t n;
} cbatch;

struct committer {
  ce_ctx *c;
  pm_thread th;
  pm_mutex mu;
  pm_cond cv; /* a batch was queued, committed, or stop was set */
  cbatch *head, *tail;
  unsigned handed; /* queued or being committed */
  bool stop;
  ce_task *retry; /* returned for a re-copy; under mu */
  vf_rereader *reader; /* --verify: the committer's own; may be NULL */
};

static void committer_main(void *arg) {
  committer *cm = arg;
  if (cm->c->o->verify) {
    int rc;
    cm->reader = vf_rereader_new(cm->c->fs, cm->c->eng, REREAD_DEPTH, &rc);
  }
  pm_mutex_lock(&cm->mu);
  for (;;) {
    while (!cm->head && !cm->stop) pm_cond_wait(&cm->cv, &cm->mu);
    cbatch *b = cm->head;
    if (!b) break;
    cm->head = b->next;
    if (!cm->head) cm->tail = NULL;
    pm_mutex_unlock(&cm->mu);
    ce_task *retry = NULL;
    commit_items(cm->c, cm->reader, b->items, b->n, &retry);
    free(b->items);
    free(b);
    pm_mutex_lock(&cm->mu);
    tasks_move(&cm->retry, &retry);
    cm->handed--;
    pm_cond_broadcast(&cm->cv);
  }
  pm_mutex_unlock(&cm->mu);
  vf_rereader_free(cm->reader);
}

committer *ce_committer_start(ce_ctx *c) {
  committer *cm = pm_xcalloc(1, sizeof *cm);
  cm->c = c;
  pm_mutex_init(&cm->mu);
  pm_cond_init(&cm->cv);
  if (pm_thread_create(&cm->th, committer_main, cm)) {
    /* Commit in the worker itself. */
    pm_cond_destroy(&cm->cv);
    pm_mutex_destroy(&cm->mu);
    free(cm);
    return NULL;
  }
  return cm;
}

/* Waits until every handed batch is committed, and takes the tasks it
 * returned for a re-copy. */
void ce_committer_drain(committer *cm, ce_task **retry) {
  pm_mutex_lock(&cm->mu);
  while (cm->handed) pm_cond_wait(&cm->cv, &cm->mu);
  tasks_move(retry, &cm->retry);
  pm_mutex_unlock(&cm->mu);
}

void ce_committer_stop(committer *cm) {
  if (!cm) return;
  pm_mutex_lock(&cm->mu);
  cm->stop = true;
  pm_cond_broadcast(&cm->cv);
  pm_mutex_unlock(&cm->mu);
  pm_thread_join(&cm->th);
  /* Returned tasks nobody will copy again (the worker is stopping). */
  tasks_drop(cm->c, &cm->retry);
  pm_cond_destroy(&cm->cv);
  pm_mutex_destroy(&cm->mu);
  free(cm);
}

void ce_flush_batch(worker *w) {
  if (!w->nbatch) return;
  if (!w->cm) {
    commit_items(w->c, NULL, w->batch, w->nbatch, &w->retry);
  } else {
    cbatch *b = pm_xcalloc(1, sizeof *b);
    b->items = w->batch;
    b->n = w->nbatch;
    w->batch = NULL;
    w->capbatch = 0;
    committer *cm = w->cm;
    pm_mutex_lock(&cm->mu);
    while (cm->handed >= COMMIT_DEPTH) pm_cond_wait(&cm->cv, &cm->mu);
    if (cm->tail)
      cm->tail->next = b;
    else
      cm->head = b;
    cm->tail = b;
    cm->handed++;
    /* Take what it returned meanwhile. */
    tasks_move(&w->retry, &cm->retry);
    pm_cond_broadcast(&cm->cv);
    pm_mutex_unlock(&cm->mu);
  }
  w->nbatch = 0;
  w->batch_bytes = 0;
}

void ce_maybe_flush(worker *w, bool force) {
  if (!w->nbatch) return;
  if (force || w->nbatch >= w->c->batch_files ||
      w->batch_bytes >= w->c->batch_bytes ||
      pm_now_ns() - w->batch_start_ns >= BATCH_NS)
    ce_flush_batch(w);
}
