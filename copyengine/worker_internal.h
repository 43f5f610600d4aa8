/* worker_internal.h - the state of one worker thread of the copy engine
 * and of the files it has in flight (private to copyengine/): the worker,
 * a file being copied (fstate), a chunk of it (chunk), a checkpoint of a
 * large file (ckpt), a complete file waiting in a batch (pending) and a
 * hard-link group (ce_hlentry), with the small helpers every worker-side
 * file shares. The functions of each worker-side file are declared here
 * by file; engine_internal.h says which file may call which. */
#ifndef POMOVE_WORKER_INTERNAL_H
#define POMOVE_WORKER_INTERNAL_H

#include <stdlib.h>

#include "bufpool.h"
#include "engine_internal.h"

#define CKPT_MAX 16
#define EPOCH_RING 32
#define DIRECT_ALIGN 4096u /* of uncached I/O: offset, length, buffer */

/* ---- hard links: the first path of a group is copied, the others are
 * linked to it and take its hash when it is done. ---- */

typedef struct ce_hlentry {
  uint64_t dev, ino;
  char *rel; /* the first path */
  int state; /* 0 copying, 1 done, 2 failed */
  pm_hash128 hash;
  ce_jident id;
  /* The first path's state record once it is done (has_sr): every path of
   * the group gets it, so that the next pass finds a record on whichever
   * path it meets first. The same source and copy (one inode on each
   * side), so the same record under another name. */
  bool has_sr;
  ce_srec sr;
  /* Paths of the group met while the first was still being copied: they
   * are linked, and their directory released, when it is done. */
  struct hlwait {
    char *rel;
    ce_dnode *dir;
  } *waiting;
  size_t nwaiting;
} ce_hlentry;

struct ce_hardlink {
  ce_hlentry e;
};

typedef struct fstate fstate;
typedef struct committer committer;

typedef struct chunk {
  pm_io_req req;
  fstate *f;
  uint64_t off;
  uint32_t len, done;
  uint32_t wlen; /* bytes the write asks for: len, or len padded for ddfd */
  char *buf;
  uint32_t bufcap; /* what buf was taken from the pool with */
  bool hole, writing, is_sync;
  unsigned epoch, retries;
  struct chunk *next;
} chunk;

typedef struct ckpt {
  uint64_t off, len;
  pm_hash128 hash;
  unsigned epoch;
} ckpt;

struct fstate {
  fstate *next;
  ce_task *t;
  char *sp, *dp;
  pm_fd sfd, dfd;
  pm_fd ddfd;  /* DST opened uncached for a large file's data, or invalid */
  bool direct; /* new writes go to ddfd (off after a refused one) */
  pm_fd sdfd;  /* SRC opened uncached, the same way, for its reads */
  bool sdirect;
  bool padded; /* an uncached tail write ran past the size: truncate */
  pm_stat st;
  uint64_t issue_off, hashed_off, data_end;
  bool sparse, resumed;
  unsigned inflight;
  chunk *ready;
  pm_hasher *h;
  int err;
  const char *errop;
  char *errop_buf; /* errop when it was made for this file (a stream's) */
  bool err_on_src; /* the failed operation was on the source */
  int err_os;      /* the OS's code for it, reported with it */
  /* checkpoints (journal on, large files) */
  pm_hasher *ck;
  uint64_t ck_start;
  unsigned epoch, inflight_epoch[EPOCH_RING];
  ckpt pend[CKPT_MAX];
  unsigned npend;
  struct ce_hlentry *hl; /* this file is the first of a hard-link group */
  uint64_t found_on_disk;  /* unrecorded bytes an earlier run left */
  bool fresh;              /* the destination file was created by us */
  bool mode_set;           /* ... with its final mode, which stuck */
  bool sync_issued, synced, truncated;
  /* An update found the file's identity changed (or racy, or --checksum)
   * but not its size: its source is only read and hashed, and when the
   * hash is `expect` the copy just gets the new metadata (dfd is then a
   * read-only handle on the copy); otherwise it is copied again. */
  bool hash_only, src_same, was_racy;
  pm_hash128 expect;
  /* With hash_only: the copy is the group's copy at this other path of
   * DST (the path met has none yet); the path is linked to it once the
   * hash is as expected. */
  char *adopt;
};

typedef struct pending {
  char *rel;
  /* kind PK_SR: the state record alone, whose source half is the
   * identity and whose hash is the file's (what a finished file with a
   * state record has: 128 bytes instead of 184 for the three). PK_FILE and
   * PK_CKPT: the identity and hash, for a checkpoint (a range of a large
   * file: off, len, hash of that range; with --sync fs its bytes are made
   * durable by the batch's syncfs too, and the worker never waits for a
   * flush) also off and len; a PK_FILE's state record, when it does not
   * carry that identity and hash, is kept aside in sr. Read them with
   * pending_id(), pending_hash(), pending_sr() (commit.c). */
  union {
    ce_srec sr;
    struct {
      ce_jident id;
      pm_hash128 hash;
      uint64_t off, len;
      ce_srec *sr;
    } k;
  } u;
  /* A file copied by a task can be copied again after a verify mismatch
   * (retry): the task itself is not kept (it was about 150 bytes a file
   * with its path), only its attempts; commit.c makes a new one. */
  uint32_t attempts;
  uint8_t kind;
  bool retry;
  bool wrote; /* its data were written by this run */
} pending;
enum { PK_FILE, PK_SR, PK_CKPT };

typedef struct worker {
  ce_ctx *c;
  pm_io_ctx *io;
  unsigned depth, chunks_out;
  uint64_t bytes_out;
  fstate *active;
  unsigned nactive;
  chunk *backlog; /* requests the engine said BUSY to */
  ce_task *retry;
  /* Files held by another program, to be tried again: sorted by
   * busy_next_ns, the earliest first (see busy_later). */
  ce_task *busy;
  pending *batch;
  size_t nbatch, capbatch;
  uint64_t batch_bytes, batch_start_ns;
  char *zeros;
  pm_io_req **events;
  ce_bufpool bufs;
  struct committer *cm; /* NULL: batches are committed in this thread */
  /* The SRC and DST directories of the last file started, opened beneath
   * the roots. The walker queues the files of a directory together, so
   * most files are opened by their name relative to these: one lookup,
   * where a path from the root costs one per component on a backend that
   * walks components (Linux without openat2, Win32). NULL rel: none. */
  char *dc_rel;
  pm_fd dc_src, dc_dst;
} worker;

/* ---- helpers shared by the worker-side files (inline: they belong to
 * no layer) ---- */

static inline ce_jident ident_of(const pm_stat *st) {
  ce_jident id = {.size = st->size, .ino = st->ino, .dev = st->dev,
                  .mtime_sec = st->mtime.sec, .mtime_nsec = st->mtime.nsec};
  return id;
}

static inline void task_free(ce_task *t) {
  if (!t) return;
  free(t->rel);
  free(t);
}

/* Moves every task of *from onto *to. */
static inline void tasks_move(ce_task **to, ce_task **from) {
  while (*from) {
    ce_task *t = *from;
    *from = t->next;
    t->next = *to;
    *to = t;
  }
}

/* Drops a list of tasks nobody will copy, releasing their directories. */
static inline void tasks_drop(ce_ctx *c, ce_task **list) {
  while (*list) {
    ce_task *t = *list;
    *list = t->next;
    ce_dnode_release(c, t->dir);
    task_free(t);
  }
}

static inline void file_fail_at(fstate *f, const char *op, int err,
                                bool on_src) {
  if (!f->err) {
    f->err = err;
    f->errop = op;
    f->err_on_src = on_src;
    f->err_os = pm_oserr_of(err);
  }
}

/* Failures on the destination unless said otherwise. */
static inline void file_fail(fstate *f, const char *op, int err) {
  file_fail_at(f, op, err, false);
}

/* A failure the OS did not report (a changed source, a short file). */
static inline void file_fail_logic(fstate *f, const char *op, int err,
                                   bool on_src) {
  pm_oserr_set(0);
  file_fail_at(f, op, err, on_src);
}

static inline void fstate_free(fstate *f) {
  free(f->errop_buf);
  free(f->adopt);
  free(f->sp);
  free(f->dp);
  pm_hasher_free(f->h);
  pm_hasher_free(f->ck);
  free(f);
}

/* The functions each worker-side file gives the files above it, in the
 * order of the layers (engine_internal.h): a file calls only those
 * declared after its own. */

/* ---- file.c: a file from its open to its end ---- */
/* Starts a file: opens both ends, handles resume and hard links. The
 * file is either added to w's active list or finished at once. */
void ce_start_file(worker *w, ce_task *t);
/* Finishes the active files that are done. */
void ce_reap_finished(worker *w);
/* Fails the active files (the copy stops). */
void ce_cancel_active(worker *w);
/* Closes the handles on the last file's parent directories. */
void ce_dircache_drop(worker *w);

/* ---- update.c: an update's decision per file ---- */
/* The common case decided from two stats beneath the directory handles,
 * before anything is opened: true when t was carried over (and freed). */
bool ce_update_fast(worker *w, ce_task *t, pm_fd sdir, pm_fd ddir,
                    const char *leaf);
/* The full decision on the open source: true when f was carried over
 * (f and its task freed); false to copy it, f->hash_only set when its
 * source is to be hashed first and copied only if it differs. */
bool ce_update_check(worker *w, fstate *f, pm_fd ddir, const char *leaf);

/* ---- busy.c: files held by another program ---- */
/* Puts t on w's busy list to be tried again later; false when it has
 * waited its time (the caller reports it). hl: the hard-link group t is
 * the first path of, or NULL. */
bool ce_busy_later(worker *w, ce_task *t, ce_hlentry *hl);
/* Drops the files put aside (an interrupted or stopping worker). */
void ce_busy_drop(worker *w);
/* How long an idle worker whose only work is its busy list may sleep. */
uint64_t ce_busy_sleep_ns(const worker *w);
/* Reports a file still busy when its wait ran out. */
void ce_busy_report(ce_ctx *c, const fstate *f);

/* ---- hardlinks.c: hard-link groups ---- */
/* f (nlink > 1) meets its group: false when f is the group's first path
 * (f->hl set; copy it), true when f was linked to the first or waits for
 * it (f and its task are then freed). */
bool ce_hl_join(worker *w, fstate *f);
/* The first path of group e is done (ok, with its hash, identity and
 * state record, NULL when none) or failed: links the paths that waited
 * for it and passes them its hash and record, or fails them. */
void ce_hl_settle(worker *w, ce_hlentry *e, bool ok, const pm_hash128 *h,
                  const ce_jident *id, const ce_srec *sr);
/* Makes DST's rel a hard link of DST's first (both relative to DST),
 * leaving it when it is that file already; 0 or PM_E*. */
int ce_hl_link(ce_ctx *c, const char *first, const char *rel);

/* ---- pipeline.c: a file's chunks ---- */
/* Queues ch on the engine; a request the engine is too busy for, or
 * completed at once, waits on w's backlog for the loop. */
void ce_chunk_submit(worker *w, chunk *ch);
/* Gives ch's buffer back to w's pool and frees ch. */
void ce_chunk_free(worker *w, chunk *ch);
/* Issues the next chunk of f; false when nothing more can go now. */
bool ce_issue_chunk(worker *w, fstate *f);
/* A request of ch came back (from the engine or the backlog). */
void ce_on_complete(worker *w, chunk *ch);

/* ---- checkpoint.c: checkpoints of large files and resume ---- */
/* Gives f a segment hasher when its checkpoints are to be recorded. */
void ce_ckpt_start(worker *w, fstate *f);
/* Closes the segment hashed so far as a checkpoint when it is long
 * enough. */
void ce_ckpt_maybe_create(worker *w, fstate *f);
/* Records the checkpoints whose writes are all done. */
void ce_ckpt_drain(worker *w, fstate *f);
/* How many leading bytes of the copy the journal entry's checkpoints
 * verify; they are fed into f's hash. */
uint64_t ce_resume_prefix(worker *w, fstate *f, const ce_jentry *je);

/* ---- commit.c: batches and the committer ---- */
/* Adds a complete file to w's batch (rel is the batch's from then on; t,
 * the task that copied it, or NULL: freed here, with --verify its
 * attempts kept for a re-copy after a mismatch; sr its state record or
 * NULL). */
void ce_batch_add(worker *w, char *rel, const ce_jident *id,
                  const pm_hash128 *h, ce_task *t, const ce_srec *sr);
/* Adds a checkpoint of f, made durable by the batch's syncfs. */
void ce_batch_add_ckpt(worker *w, const fstate *f, const ckpt *k);
/* A committer thread for w's batches; NULL when none could be started
 * (the worker then commits its batches itself). */
committer *ce_committer_start(ce_ctx *c);
/* Waits until every handed batch is committed; takes the tasks returned
 * for a re-copy onto *retry. */
void ce_committer_drain(committer *cm, ce_task **retry);
/* Commits what is handed, ends the thread, frees cm (NULL: nothing). */
void ce_committer_stop(committer *cm);
/* Hands w's batch over (or commits it) now; ce_maybe_flush when it is
 * full or old enough, or with `force`. */
void ce_flush_batch(worker *w);
void ce_maybe_flush(worker *w, bool force);

/* ---- uncached.c: the uncached-I/O policy ---- */
/* Opens f's uncached descriptors where f is large and the file system
 * takes them; ce_uncached_close closes them. */
void ce_uncached_open(worker *w, fstate *f, pm_fd sdir, pm_fd ddir,
                      const char *leaf);
void ce_uncached_close(worker *w, fstate *f);
/* len rounded up to the alignment of uncached I/O. */
uint32_t ce_uncached_round(uint64_t len);
/* Shape ch's write or read as uncached where its file and offset allow. */
void ce_uncached_write(fstate *f, chunk *ch);
void ce_uncached_read(fstate *f, chunk *ch);
/* ch came back PM_EINVAL: true when it was uncached and is now set to go
 * through the cache (submit it again). */
bool ce_uncached_refused(fstate *f, chunk *ch);
/* ch came back short: an uncached rest goes through the cache; true when
 * nothing is left to write. */
bool ce_uncached_short(fstate *f, chunk *ch);
/* How many chunks of f may be in flight at once: an uncached file may
 * fill its worker's budget, any other file chunks_per_file. */
unsigned ce_uncached_chunks(const ce_ctx *c, const fstate *f);
/* The bytes its worker may have in flight while it issues f's chunks:
 * c->ubudget for a file copied uncached, c->budget for any other. */
uint64_t ce_uncached_budget(const ce_ctx *c, const fstate *f);
/* The longest chunk of f: c->uchunk for a file copied uncached, c->chunk
 * for any other. */
unsigned ce_uncached_chunk(const ce_ctx *c, const fstate *f);
/* Whether f goes uncached at either end: a file that wants the whole
 * budget, so that its worker takes no further file before f's chunks are
 * issued, and leaves the next large file to an idle worker. */
bool ce_uncached_streams(const fstate *f);

#endif
