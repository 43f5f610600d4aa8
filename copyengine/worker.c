/* worker.c - the worker threads of the copy engine: the loop.
 *
 * Each worker thread owns one I/O context and keeps many files, and
 * several chunks of each large file, in flight (pipeline.c). Its loop
 * admits files from the queue (or from its own lists: files to copy
 * again, files held by another program, busy.c) while the in-flight
 * budget allows, starts them (file.c), issues chunks round robin over the
 * active files, waits for completions, finishes the files that are done
 * and hands complete files to its batch (commit.c). With a journal or
 * --verify a committer thread per worker commits the batches, and a
 * worker that is done waits for it, as a file may yet fail its
 * verification and be copied again. */
#include <stdlib.h>
#include <string.h>

#include "sys.h"
#include "util.h"
#include "worker_internal.h"

void ce_worker_main(void *arg) {
  ce_ctx *c = arg;
  worker w = {.c = c};
  w.depth = 128;
  int rc = c->eng->init(c->fs, w.depth, &w.io);
  if (rc) {
    pm_report_errorf(rc, "start the %s I/O engine", c->eng->name);
    int expected = 0;
    atomic_compare_exchange_strong(&c->fatal, &expected, rc);
    /* Keep draining the queue so the walker never blocks forever. */
    ce_task *t;
    while ((t = ce_queue_pop(c, true))) {
      ce_dnode_release(c, t->dir);
      task_free(t);
    }
    atomic_fetch_sub(&c->running, 1);
    ce_signal_done(c);
    return;
  }
  w.zeros = pm_xcalloc(1, c->chunk);
  /* The pool holds at most the in-flight budget and one chunk, out and
   * cached together (bufpool.h): less than the budget plus half of it in
   * cache that it held before, and buffers back from a burst are kept. */
  ce_bufpool_init(&w.bufs, c->budget + c->chunk);
  if (c->j || c->o->verify) w.cm = ce_committer_start(c);
  w.events = pm_xcalloc(w.depth, sizeof *w.events);
  bool queue_done = false;
  for (;;) {
    bool stopping = ce_interrupted(c);
    if (stopping) ce_cancel_active(&w);
    /* Admit new files while there is room. */
    while (!stopping && w.nactive < c->files_per_worker &&
           w.bytes_out < c->budget && w.chunks_out + 2 < w.depth) {
      ce_task *t = NULL;
      bool idle = w.nactive == 0 && !w.backlog;
      if (w.busy && w.busy->busy_next_ns <= pm_now_ns()) {
        /* A file held by another program, due for another try. */
        t = w.busy;
        w.busy = t->next;
      } else if (w.retry) {
        t = w.retry;
        w.retry = t->next;
      } else if (idle && w.busy) {
        /* Nothing to do but wait for a busy file: sleep until it is due
         * (at most BUSY_POLL_NS, for an interrupt), taking a new file
         * from the queue the moment one comes. Never a blocking pop
         * here: the busy files would wait for the walker. */
        ce_maybe_flush(&w, true);
        bool closed = false;
        t = ce_queue_pop_timed(c, ce_busy_sleep_ns(&w), &closed);
        if (closed) queue_done = true;
        if (!t) break; /* the loop comes back here */
      } else if (!queue_done) {
        t = ce_queue_pop(c, false);
        if (!t && idle) {
          /* About to wait for the walker: what is done is handed over
           * first. Only then: a worker whose files all finished within
           * one turn of this loop (small files on a warm cache) is idle
           * for an instant at every turn, and flushing there cut its
           * batches to files_per_worker files, each with its own syncfs
           * and journal flush (784 of each for 50,000 tiny files). */
          ce_maybe_flush(&w, true);
          t = ce_queue_pop(c, true);
          if (!t) queue_done = true;
        }
      }
      if (!t) break;
      t->next = NULL;
      fstate *head = w.active;
      ce_start_file(&w, t);
      /* A large file fills the budget once its chunks are issued: take
       * no other file before (uncached.c). */
      if (w.active != head && ce_uncached_streams(w.active)) break;
    }
    if (stopping) {
      /* Drop queued tasks of an interrupted copy. */
      ce_task *t;
      tasks_drop(c, &w.retry);
      ce_busy_drop(&w);
      while (!queue_done && (t = ce_queue_pop(c, false))) {
        ce_dnode_release(c, t->dir);
        task_free(t);
      }
    }
    /* Issue chunks round robin over the active files. */
    bool more = true;
    /* The interrupt is polled here too: the holes of a sparse file are
     * hashed right in this loop, without a trip through the engine, and
     * a large one would otherwise keep it busy for seconds. */
    while (more && !ce_interrupted(c) && w.bytes_out < c->ubudget &&
           w.chunks_out + 1 < w.depth) {
      more = false;
      for (fstate *f = w.active; f; f = f->next) {
        unsigned per = f->inflight + (f->ready ? 1 : 0);
        if (per >= ce_uncached_chunks(c, f)) continue;
        if (w.chunks_out + 1 >= w.depth) break;
        if (w.bytes_out >= ce_uncached_budget(c, f)) continue;
        if (ce_issue_chunk(&w, f)) more = true;
      }
    }
    /* Requests that finished without the engine (fault injection,
     * immediate completions) and BUSY ones to retry. */
    chunk *bl = w.backlog;
    w.backlog = NULL;
    while (bl) {
      chunk *ch = bl;
      bl = ch->next;
      if (!ch->req.udata) {
        ch->req.udata = ch;
        ce_on_complete(&w, ch);
      } else {
        ch->f->inflight--;
        ce_chunk_submit(&w, ch);
      }
    }
    ce_reap_finished(&w);
    /* A full or old batch is handed over here too: a worker whose files
     * all finish within one turn (small files, warm cache) has nothing in
     * flight and never reaches the check after getevents, and its batch
     * would grow past --batch-files/--batch-bytes (what a crash may lose)
     * until it next waits for the walker. */
    ce_maybe_flush(&w, false);
    unsigned inflight = 0;
    for (fstate *f = w.active; f; f = f->next) inflight += f->inflight;
    if (w.nactive == 0 && !w.retry && !w.backlog && !w.busy &&
        (queue_done || stopping)) {
      if (!w.cm || stopping) break;
      /* Done here, but a file may yet fail its verification: wait for
       * the committer and copy such files again. */
      ce_flush_batch(&w);
      ce_committer_drain(w.cm, &w.retry);
      if (!w.retry) break;
      continue;
    }
    if (inflight == 0) continue;
    rc = c->eng->commit(w.io);
    if (rc) {
      pm_report_errorf(rc, "submit I/O to the %s engine", c->eng->name);
      int expected = 0;
      atomic_compare_exchange_strong(&c->fatal, &expected, rc);
    }
    int n = c->eng->getevents(w.io, 1, w.depth, w.events);
    if (n < 0) {
      pm_report_errorf(n, "wait for I/O on the %s engine", c->eng->name);
      int expected = 0;
      atomic_compare_exchange_strong(&c->fatal, &expected, n);
      break;
    }
    for (int i = 0; i < n; i++) ce_on_complete(&w, w.events[i]->udata);
    ce_reap_finished(&w);
    ce_maybe_flush(&w, false);
  }
  ce_maybe_flush(&w, true);
  ce_committer_stop(w.cm);
  w.cm = NULL;
  /* Tasks a stopping worker did not copy again. */
  tasks_drop(c, &w.retry);
  ce_busy_drop(&w);
  ce_dircache_drop(&w);
  atomic_fetch_sub(&c->running, 1);
  ce_signal_done(c);
  free(w.zeros);
  free(w.events);
  free(w.batch);
  c->eng->cleanup(w.io);
  ce_bufpool_destroy(&w.bufs);
}
