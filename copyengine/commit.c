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
#include <string.h>

#include "reread.h"
#include "sys.h"
#include "util.h"
#include "worker_internal.h"

#define BATCH_NS 1000000000ull

/* ---- batches ---- */

/* The source's identity as a state record keeps it. */
static ce_jident srec_ident(const ce_srec *r) {
  ce_jident id = {.size = r->ssize, .ino = r->sino, .dev = r->sdev,
                  .mtime_sec = r->smtime.sec, .mtime_nsec = r->smtime.nsec};
  return id;
}

/* A pending entry's identity, hash and state record (NULL: none). */
static ce_jident pending_id(const pending *p) {
  return p->kind == PK_SR ? srec_ident(&p->u.sr) : p->u.k.id;
}

static pm_hash128 pending_hash(const pending *p) {
  return p->kind == PK_SR ? p->u.sr.hash : p->u.k.hash;
}

static const ce_srec *pending_sr(const pending *p) {
  return p->kind == PK_SR ? &p->u.sr : p->kind == PK_FILE ? p->u.k.sr : NULL;
}

/* The copy's inode (the re-read's order), 0 when unknown. */
static uint64_t pending_dino(const pending *p) {
  const ce_srec *r = pending_sr(p);
  return r ? r->dino : 0;
}

/* What the re-read of p is given: a checkpoint is not a whole file and
 * is skipped; the copy's inode orders the reads. */
static vf_reread_item reread_item(const pending *p) {
  vf_reread_item it = {.rel = p->rel,
                       .size = pending_id(p).size,
                       .order = pending_dino(p),
                       .skip = p->kind == PK_CKPT};
  return it;
}

static void pending_free(pending *p) {
  free(p->rel);
  if (p->kind == PK_FILE) free(p->u.k.sr);
}

static pending *batch_push(worker *w) {
  if (w->nbatch == w->capbatch) {
    /* A batch's files at once (then doubled for checkpoints): the array
     * is not copied on its way up to its size. */
    size_t first = w->c->batch_files > 64 ? w->c->batch_files : 64;
    w->capbatch = w->capbatch ? w->capbatch * 2 : first;
    w->batch = pm_xrealloc(w->batch, w->capbatch * sizeof *w->batch);
  }
  if (!w->nbatch) w->batch_start_ns = pm_now_ns();
  pending *p = &w->batch[w->nbatch++];
  memset(p, 0, sizeof *p);
  return p;
}

void ce_batch_add(worker *w, char *rel, const ce_jident *id,
                  const pm_hash128 *h, ce_task *t, const ce_srec *sr) {
  pending *p = batch_push(w);
  p->rel = rel;
  if (t && w->c->o->verify) {
    p->retry = true;
    p->attempts = t->attempts;
  }
  task_free(t);
  /* The record alone when it holds this identity and hash. */
  ce_jident sid = sr ? srec_ident(sr) : *id;
  if (sr && ce_jident_equal(&sid, id) && pm_hash_equal(&sr->hash, h)) {
    p->kind = PK_SR;
    p->u.sr = *sr;
  } else {
    p->kind = PK_FILE;
    p->u.k.id = *id;
    p->u.k.hash = *h;
    if (sr) {
      p->u.k.sr = pm_xmalloc(sizeof *sr);
      *p->u.k.sr = *sr;
    }
  }
  w->batch_bytes += id->size;
}

void ce_batch_add_ckpt(worker *w, const fstate *f, const ckpt *k) {
  pending *p = batch_push(w);
  p->rel = pm_xstrdup(f->t->rel);
  p->kind = PK_CKPT;
  p->u.k.id = ident_of(&f->st);
  p->u.k.hash = k->hash;
  p->u.k.off = k->off;
  p->u.k.len = k->len;
  w->batch_bytes += k->len;
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
  for (size_t i = 0; i < n; i++) v[i] = reread_item(&items[i]);
  vf_reread_result *out =
      rr ? vf_rereader_run(rr, c->dst_fd, v, n)
         : vf_reread_batch(c->fs, c->dst_fd, v, n, REREAD_THREADS);
  free(v);
  return out;
}

/* Makes a batch durable: one syncfs, unless each file had its own
 * fdatasync. 0 or the PM_E* code (reported). */
static int sync_items(ce_ctx *c, size_t n) {
  int rc = 0;
  if (n && c->sync_fs) {
    rc = pm_fs_syncfs(c->fs, c->dst_fd);
    if (rc) ce_count_error(c, "flush to disk (syncfs)", c->dst, rc);
  }
  return rc;
}

/* Records a batch made durable (rc 0; otherwise nothing is recorded):
 * with --verify, rr holds the re-read of each item, and a file is
 * recorded only when its copy read back as the source's hash; manifest
 * lines, then journal records with one journal flush. Files to copy
 * again after a mismatch are pushed on *retry. Frees the items. */
static void record_items(ce_ctx *c, pending *items, size_t n,
                         const vf_reread_result *rr, int rc,
                         ce_task **retry) {
  ce_jfile *jf = pm_xcalloc(n ? n : 1, sizeof *jf);
  ce_jchunk *jc = pm_xcalloc(n ? n : 1, sizeof *jc);
  size_t nj = 0, nc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    pending *p = &items[i];
    ce_jident id = pending_id(p);
    pm_hash128 hash = pending_hash(p);
    if (p->kind == PK_CKPT) {
      jc[nc].rel = p->rel;
      jc[nc].id = id;
      jc[nc].off = p->u.k.off;
      jc[nc].len = p->u.k.len;
      jc[nc].hash = hash;
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
      if (rr[i].size != id.size || !pm_hash_equal(&rr[i].hash, &hash)) {
        atomic_fetch_add(&c->mismatches, 1);
        if (p->retry && p->attempts < c->o->verify_retries) {
          char *shown = pm_display_path(dp);
          pm_warnf("verification of '%s' failed (hash of the copy differs "
                   "from the source's): copying it again",
                   shown);
          free(shown);
          /* A new task for the path (the one that copied it was freed
           * when the file joined its batch, its directory released). */
          ce_task *t = pm_xcalloc(1, sizeof *t);
          t->rel = p->rel;
          p->rel = NULL;
          t->attempts = p->attempts + 1;
          /* The copy is what differs: an update must not trust it. */
          t->force_copy = true;
          t->next = *retry;
          *retry = t;
          /* Re-copy counts its own bytes and file again. */
          atomic_fetch_sub(&c->files, 1);
          if (p->wrote) {
            atomic_fetch_sub(&c->bytes, id.size);
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
    const ce_srec *sr = pending_sr(p);
    if (c->mw) {
      int mrc = pm_manifest_writer_add(c->mw, p->rel, &hash);
      if (mrc) ce_count_error(c, "write manifest line for", p->rel, mrc);
    }
    if (c->sw && sr) {
      int src = ce_state_writer_add(c->sw, p->rel, sr);
      if (src) ce_count_error(c, "write state record for", p->rel, src);
    }
    jf[nj].rel = p->rel;
    jf[nj].id = id;
    jf[nj].hash = hash;
    jf[nj].sr = sr;
    nj++;
  }
  if (c->j && (nj || nc)) {
    int jrc = ce_journal_add(c->j, jc, nc, jf, nj);
    if (jrc) ce_count_error(c, "write journal", c->dst, jrc);
  }
  free(jf);
  free(jc);
  for (size_t i = 0; i < n; i++) pending_free(&items[i]);
}

/* A whole batch in one thread: durable, re-read with --verify (reader,
 * or blocking threads when NULL), recorded. Frees the items. */
static void commit_items(ce_ctx *c, vf_rereader *reader, pending *items,
                         size_t n, ce_task **retry) {
  int rc = sync_items(c, n);
  vf_reread_result *rr = NULL;
  if (c->o->verify && !rc && n) rr = reread_batch(c, reader, items, n);
  record_items(c, items, n, rr, rc, retry);
  free(rr);
}

/* ---- the committer: a worker hands its full batches to its own
 * committer thread, so that the flush to disk and the verifying re-reads
 * overlap the worker's copying instead of stalling it. At most
 * COMMIT_DEPTH batches (VERIFY_DEPTH with --verify) are handed over and
 * not yet recorded: a crash loses no more than that to a rerun.
 *
 * With --verify the committers share one verifier thread (below): a
 * committer makes its batch durable and hands it on, then goes on to the
 * syncfs of its next batch while the verifier re-reads; the verifier
 * gathers the durable batches of every committer into one window and
 * re-reads it in one run, then records each batch. ---- */

#define COMMIT_DEPTH 2
/* With --verify a worker may have this many batches handed over and not
 * yet recorded, so that the verifier's windows can span several batches
 * of both workers (a crash may then rewrite up to VERIFY_DEPTH + 1
 * batches per worker). 8 rather than 4: with 4 the workers waited for
 * their committers while the verifier re-read (quiet A/B on the 100,000-
 * file postoffice, 3 runs: 6.43 s against 7.94 s, peak RSS 66.7 against
 * 63.9 MiB; 16 gave 6.68 s and 71.3 MiB). The batches waiting hold about
 * 200 bytes per file (a 144-byte entry and the path; session 11, from
 * about 430 with the task kept for a re-copy). 2048-file batches with
 * --verify (a quarter of the syncfs: 54 device flushes instead of 199)
 * were no faster: loaded machine, 4 alternated runs each
 * (bench/abcopy.sh), median wall 9.72 against 9.12 s, CPU 8.64 against
 * 7.87 s, peak RSS 64.2 against 59.0 MiB. */
#define VERIFY_DEPTH 8
/* The verifier starts a window when it holds this many files or bytes,
 * when a worker or committer waits for it, or WINDOW_NS after its first
 * batch came. Measured with pm_reread_bench on a copy of the 100k-file
 * postoffice (session 10): the device read requests of the re-read fall
 * with the window, in inode order 88.6k (512 files), 77k (1024), 48k
 * (4096), since ext4 allocates the data of both workers' files
 * interleaved in writeback order and only a window that covers both
 * re-reads a stretch of the disk whole; read in the disk's order
 * (vf_rereader_disk_order) 4096 files took 31k where inode order took
 * 95k on another copy. In whole copies (bench/abcopy.sh): 5-6k device
 * reads against 19-87k before. */
#define WINDOW_FILES 4096
#define WINDOW_BYTES (512ull << 20)
#define WINDOW_NS 1000000000ull

typedef struct cbatch {
  struct cbatch *next;
  struct committer *cm; /* whose batch (the verifier's queue) */
  pending *items;
  size_t n;
} cbatch;

typedef struct ce_verifier {
  ce_ctx *c;
  pm_thread th;
  pm_mutex mu;
  pm_cond cv; /* a batch was queued, a waiter came, or stop was set */
  cbatch *head, *tail;
  size_t qfiles;
  uint64_t qbytes, qsince_ns;
  unsigned urgent; /* threads waiting for a batch to be recorded */
  bool stop;
  vf_rereader *reader; /* may be NULL: blocking threads then */
} ce_verifier;

struct committer {
  ce_ctx *c;
  pm_thread th;
  pm_mutex mu;
  pm_cond cv; /* a batch was queued, committed, or stop was set */
  cbatch *head, *tail;
  unsigned handed; /* queued, being committed, or at the verifier */
  unsigned depth;
  bool stop;
  ce_task *retry; /* returned for a re-copy; under mu */
  vf_rereader *reader; /* --verify without a verifier: its own */
  ce_verifier *ver;    /* --verify: the shared one, or NULL */
};

/* Says that the caller waits (+1) or no longer waits (-1) for the
 * verifier to record a batch, so that it starts its window now. */
static void verifier_urgent(ce_verifier *v, int d) {
  if (!v) return;
  pm_mutex_lock(&v->mu);
  v->urgent = (unsigned)((int)v->urgent + d);
  pm_cond_broadcast(&v->cv);
  pm_mutex_unlock(&v->mu);
}

/* Waits on cm->cv (cm->mu held) while the verifier is told it is
 * waited for. */
static void committer_wait(committer *cm) {
  verifier_urgent(cm->ver, 1);
  pm_cond_wait(&cm->cv, &cm->mu);
  verifier_urgent(cm->ver, -1);
}

/* One window: the batches taken, re-read as one list of items in the
 * copies' inode order, then recorded batch by batch in the order they
 * came, each handed back to its committer. */
/* A handed batch is recorded: its files to copy again go to its
 * committer's retries, and the committer (waiting for room, or for the
 * end) is told. Called with cm->mu held; frees the batch. */
static void batch_done_locked(committer *cm, cbatch *b, ce_task **retry) {
  free(b->items);
  free(b);
  tasks_move(&cm->retry, retry);
  cm->handed--;
  pm_cond_broadcast(&cm->cv);
}

static void verify_window(ce_verifier *v, cbatch *list) {
  ce_ctx *c = v->c;
  size_t n = 0;
  for (cbatch *b = list; b; b = b->next) n += b->n;
  vf_reread_item *it = pm_xcalloc(n ? n : 1, sizeof *it);
  size_t k = 0;
  for (cbatch *b = list; b; b = b->next)
    for (size_t i = 0; i < b->n; i++) it[k++] = reread_item(&b->items[i]);
  vf_reread_result *out =
      !n ? NULL
      : v->reader ? vf_rereader_run(v->reader, c->dst_fd, it, n)
                  : vf_reread_batch(c->fs, c->dst_fd, it, n, REREAD_THREADS);
  free(it);
  k = 0;
  while (list) {
    cbatch *b = list;
    list = b->next;
    ce_task *retry = NULL;
    record_items(c, b->items, b->n, out ? out + k : NULL, 0, &retry);
    k += b->n;
    committer *cm = b->cm;
    pm_mutex_lock(&cm->mu);
    batch_done_locked(cm, b, &retry);
    pm_mutex_unlock(&cm->mu);
  }
  free(out);
}

static void verifier_main(void *arg) {
  ce_verifier *v = arg;
  int rc;
  v->reader = vf_rereader_new(v->c->fs, v->c->eng, REREAD_DEPTH, &rc);
  if (v->reader) vf_rereader_disk_order(v->reader, true);
  pm_mutex_lock(&v->mu);
  for (;;) {
    if (!v->head) {
      if (v->stop) break;
      pm_cond_wait(&v->cv, &v->mu);
      continue;
    }
    uint64_t age = pm_now_ns() - v->qsince_ns;
    if (!v->stop && !v->urgent && v->qfiles < WINDOW_FILES &&
        v->qbytes < WINDOW_BYTES && age < WINDOW_NS) {
      (void)pm_cond_timedwait(&v->cv, &v->mu, WINDOW_NS - age);
      continue;
    }
    cbatch *list = v->head;
    v->head = v->tail = NULL;
    v->qfiles = 0;
    v->qbytes = 0;
    pm_mutex_unlock(&v->mu);
    verify_window(v, list);
    pm_mutex_lock(&v->mu);
  }
  pm_mutex_unlock(&v->mu);
  vf_rereader_free(v->reader);
}

/* Queues a durable batch for the verifier. */
static void verifier_push(ce_verifier *v, cbatch *b) {
  b->next = NULL;
  pm_mutex_lock(&v->mu);
  if (!v->head) v->qsince_ns = pm_now_ns();
  if (v->tail)
    v->tail->next = b;
  else
    v->head = b;
  v->tail = b;
  for (size_t i = 0; i < b->n; i++)
    if (b->items[i].kind != PK_CKPT) {
      v->qfiles++;
      v->qbytes += pending_id(&b->items[i]).size;
    }
  pm_cond_broadcast(&v->cv);
  pm_mutex_unlock(&v->mu);
}

/* The copy's verifier, started by its first committer; NULL when no
 * thread could be started (each committer then re-reads its own). */
static ce_verifier *verifier_get(ce_ctx *c) {
  pm_mutex_lock(&c->qmu);
  ce_verifier *v = c->verifier;
  if (!v) {
    v = pm_xcalloc(1, sizeof *v);
    v->c = c;
    pm_mutex_init(&v->mu);
    pm_cond_init(&v->cv);
    if (pm_thread_create(&v->th, verifier_main, v)) {
      pm_cond_destroy(&v->cv);
      pm_mutex_destroy(&v->mu);
      free(v);
      v = NULL;
    }
    c->verifier = v;
  }
  if (v) c->verifier_refs++;
  pm_mutex_unlock(&c->qmu);
  return v;
}

/* A committer is done with the verifier (every batch of it recorded);
 * the last one stops and frees it. */
static void verifier_put(ce_ctx *c, ce_verifier *v) {
  if (!v) return;
  pm_mutex_lock(&c->qmu);
  bool last = --c->verifier_refs == 0;
  if (last) c->verifier = NULL;
  pm_mutex_unlock(&c->qmu);
  if (!last) return;
  pm_mutex_lock(&v->mu);
  v->stop = true;
  pm_cond_broadcast(&v->cv);
  pm_mutex_unlock(&v->mu);
  pm_thread_join(&v->th);
  pm_cond_destroy(&v->cv);
  pm_mutex_destroy(&v->mu);
  free(v);
}

static void committer_main(void *arg) {
  committer *cm = arg;
  if (cm->c->o->verify && !cm->ver) {
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
    if (cm->ver) {
      /* Durable here, re-read and recorded by the verifier, which
       * counts it off `handed`; a batch that could not be made durable
       * is recorded by nobody. */
      int rc = sync_items(cm->c, b->n);
      if (!rc) {
        b->cm = cm;
        verifier_push(cm->ver, b);
        pm_mutex_lock(&cm->mu);
        continue;
      }
      record_items(cm->c, b->items, b->n, NULL, rc, &retry);
    } else {
      commit_items(cm->c, cm->reader, b->items, b->n, &retry);
    }
    pm_mutex_lock(&cm->mu);
    batch_done_locked(cm, b, &retry);
  }
  pm_mutex_unlock(&cm->mu);
  vf_rereader_free(cm->reader);
}

committer *ce_committer_start(ce_ctx *c) {
  committer *cm = pm_xcalloc(1, sizeof *cm);
  cm->c = c;
  cm->depth = COMMIT_DEPTH;
  if (c->o->verify) {
    cm->ver = verifier_get(c);
    if (cm->ver) cm->depth = VERIFY_DEPTH;
  }
  pm_mutex_init(&cm->mu);
  pm_cond_init(&cm->cv);
  if (pm_thread_create(&cm->th, committer_main, cm)) {
    /* Commit in the worker itself. */
    verifier_put(c, cm->ver);
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
  while (cm->handed) committer_wait(cm);
  tasks_move(retry, &cm->retry);
  pm_mutex_unlock(&cm->mu);
}

void ce_committer_stop(committer *cm) {
  if (!cm) return;
  pm_mutex_lock(&cm->mu);
  cm->stop = true;
  pm_cond_broadcast(&cm->cv);
  /* Batches at the verifier are recorded before it is let go. */
  while (cm->handed) committer_wait(cm);
  pm_mutex_unlock(&cm->mu);
  pm_thread_join(&cm->th);
  verifier_put(cm->c, cm->ver);
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
    while (cm->handed >= cm->depth) committer_wait(cm);
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
