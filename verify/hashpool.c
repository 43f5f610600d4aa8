/* hashpool.c - see hashpool.h. The shape follows liburing's io_uring-cp
 * example: each worker caps its requests in flight, submits once per
 * round, waits for one completion and takes whatever else is ready, and
 * resubmits the rest of a short read. A read that returns 0 before the
 * size fstat gave means the file shrank while it was read: that is
 * reported as an error of that file, never looped on.
 *
 * Memory is bounded: the job queue has a fixed capacity, each worker has
 * a fixed number of file slots and of chunk buffers. A worker only takes
 * a new file when it has a free slot, and a file only gets a new chunk
 * when a buffer is free. Deadlock cannot happen: a buffer is either in
 * flight, or holds a finished chunk that waits only for an earlier chunk
 * of the same file, which is in flight. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "hashpool.h"
#include "sys.h"
#include "thread.h"
#include "util.h"

#define BUF_ALIGN 4096
#define RING_DEPTH 128
#define UNKNOWN_EOF UINT64_MAX
/* Bytes of follow-on chunks queued per submission round (see
 * submit_round). */
#define ROUND_BUDGET (256u * 1024u)

enum { C_FREE, C_SUBMIT, C_FLIGHT, C_DONE };

typedef struct stream stream;

typedef struct chunk {
  pm_io_req req;
  stream *s;
  char *buf;
  uint64_t off;
  uint32_t want, got;
  int state;
} chunk;

struct stream {
  vf_side *side;
  pm_fd fd;
  bool active; /* open, with reading or hashing still to do */
  bool failed;
  /* End of the data: the size fstat gave, or (no_stat) UNKNOWN_EOF until
   * a read returns 0. */
  uint64_t eof, next_off;
  bool sized;     /* eof came from fstat: a read of 0 before it is an error */
  bool full_seen; /* no_stat: a full chunk came back, so read ahead */
  bool short_end; /* the job's short_end */
  uint64_t hashed;
  pm_hasher *h;
  chunk *ring;
  unsigned head, count, inflight;
};

typedef struct slot {
  vf_job *job;
  stream s[2];
} slot;

typedef struct worker {
  vf_pool *p;
  pm_thread th;
  pm_io_ctx *io;
  slot *slots;
  unsigned nbusy;
  char **freebufs;
  unsigned nfree, nalloc, maxbufs;
  unsigned inflight;
  pm_io_req **events;
  vf_job **taken; /* jobs just popped */
  int fatal; /* engine failure: fail everything from now on */
} worker;

struct vf_pool {
  vf_pool_opts o;
  const pm_fs *fs;
  const pm_io_engine_ops *eng;
  pm_mutex mu;
  pm_cond not_full, not_empty, idle;
  vf_job **q;
  unsigned qcap, qhead, qcount;
  vf_job **batch; /* the submitter's, not yet in q */
  unsigned nbatch, batchcap;
  /* Room the submitter waits for before it refills the queue (a batch,
   * or the whole queue when it is smaller), so that it wakes once per
   * batch, not once per worker's pop. */
  unsigned refill;
  bool closed;
  unsigned running;
  worker *w;
  unsigned nth;
  unsigned nslots, cpf, chunk;
  atomic_uint_fast64_t files_done, bytes_done;
  int fatal;
};

/* ---- jobs ---- */

vf_job *vf_job_new1(const char *path) {
  vf_job *j = pm_xcalloc(1, sizeof *j);
  j->nsides = 1;
  j->side[0].path = pm_xstrdup(path);
  return j;
}

vf_job *vf_job_new2(const char *a, const char *b, bool size_gate) {
  vf_job *j = pm_xcalloc(1, sizeof *j);
  j->nsides = 2;
  j->size_gate = size_gate;
  j->side[0].path = pm_xstrdup(a);
  j->side[1].path = pm_xstrdup(b);
  return j;
}

vf_job *vf_job_new_beneath(pm_fd dir, const char *rel) {
  size_t n = strlen(rel) + 1;
  vf_job *j = pm_xcalloc(1, sizeof *j + n);
  j->nsides = 1;
  j->rel_inline = true;
  j->side[0].rel = memcpy((char *)(j + 1), rel, n);
  j->side[0].dir = dir;
  return j;
}

void vf_job_free(vf_job *job) {
  if (!job) return;
  free(job->side[0].path);
  free(job->side[1].path);
  if (!job->rel_inline) free(job->side[0].rel);
  free(job->side[1].rel);
  free(job);
}

void vf_job_beneath(vf_job *job, unsigned side, pm_fd dir, const char *rel) {
  if (side == 0 && job->rel_inline) job->rel_inline = false;
  else free(job->side[side].rel);
  job->side[side].rel = pm_xstrdup(rel);
  job->side[side].dir = dir;
}

unsigned vf_pool_default_threads(void) {
  unsigned n = 2 * pm_cpu_count();
  return n < 4 ? 4 : n > 64 ? 64 : n;
}

/* ---- buffers ---- */

static char *buf_get(worker *w) {
  if (w->nfree) return w->freebufs[--w->nfree];
  if (w->nalloc >= w->maxbufs) return NULL;
  void *b = pm_aligned_alloc(BUF_ALIGN, w->p->chunk);
  if (!b) return NULL;
  w->nalloc++;
  return b;
}

static void buf_put(worker *w, char *b) { w->freebufs[w->nfree++] = b; }

/* ---- streams ---- */

static void side_fail(vf_side *sd, int err, const char *op, int oserr) {
  if (sd->err) return; /* keep the first cause */
  sd->err = err;
  sd->op = op;
  sd->oserr = oserr;
}

static void slot_maybe_done(worker *w, slot *sl) {
  vf_job *j = sl->job;
  for (unsigned i = 0; i < j->nsides; i++)
    if (sl->s[i].active) return;
  vf_pool *p = w->p;
  for (unsigned i = 0; i < j->nsides; i++)
    if (j->side[i].hashed) atomic_fetch_add(&p->files_done, 1);
  sl->job = NULL;
  w->nbusy--;
  p->o.done(j, p->o.arg);
}

/* Closes a stream whose reads are all back. */
static void stream_end(worker *w, stream *s) {
  for (unsigned i = 0; i < s->count; i++) {
    chunk *c = &s->ring[(s->head + i) % w->p->cpf];
    if (c->buf) buf_put(w, c->buf);
    c->buf = NULL;
    c->state = C_FREE;
  }
  s->count = 0;
  s->head = 0;
  pm_fs_close(w->p->fs, s->fd);
  s->active = false;
}

static void stream_fail(worker *w, stream *s, int err, const char *op,
                        int oserr) {
  side_fail(s->side, err, op, oserr);
  s->failed = true;
  (void)w;
}

/* Hashes the chunks at the head of the ring that are complete, in file
 * order; ends the stream when everything is read and hashed, or when it
 * failed and nothing of it is in flight any more. */
static void stream_advance(worker *w, slot *sl, stream *s) {
  vf_pool *p = w->p;
  if (s->failed) {
    if (s->inflight == 0) {
      stream_end(w, s);
      slot_maybe_done(w, sl);
    }
    return;
  }
  while (s->count) {
    chunk *c = &s->ring[s->head];
    if (c->state != C_DONE) break;
    /* Past the end found by an earlier chunk: the file grew while it was
     * read; the hash covers the data up to the end first seen. */
    if (c->off < s->eof) {
      pm_hasher_update(s->h, c->buf, c->got);
      s->hashed += c->got;
      atomic_fetch_add(&p->bytes_done, c->got);
    }
    buf_put(w, c->buf);
    c->buf = NULL;
    c->state = C_FREE;
    s->head = (s->head + 1) % p->cpf;
    s->count--;
  }
  if (s->count == 0 && s->next_off >= s->eof) {
    s->side->hash = pm_hasher_digest(s->h);
    s->side->hashed = true;
    s->side->bytes = s->hashed;
    stream_end(w, s);
    slot_maybe_done(w, sl);
  }
}

static bool interrupted(const vf_pool *p) {
  return p->o.interrupt && *p->o.interrupt;
}

static slot *slot_of(worker *w, stream *s) {
  /* Streams live inside their slot; find it by address. */
  size_t idx = (size_t)((char *)s - (char *)w->slots) / sizeof(slot);
  return &w->slots[idx];
}

static void on_complete(worker *w, chunk *c, bool was_flight) {
  stream *s = c->s;
  if (was_flight) {
    s->inflight--;
    w->inflight--;
  }
  int64_t res = c->req.res;
  if (s->failed) {
    /* The stream is being torn down: this chunk's buffer is free now. */
    c->state = C_DONE;
  } else if (res < 0) {
    stream_fail(w, s, (int)res, "read", c->req.oserr);
    c->state = C_DONE;
  } else if (res == 0 && s->sized) {
    /* Less data than fstat said: the file shrank while it was read. */
    stream_fail(w, s, PM_ESHORT, "read", 0);
    c->state = C_DONE;
  } else if (res == 0) {
    /* Size not asked for: this is the end of the file. */
    if (c->off + c->got < s->eof) s->eof = c->off + c->got;
    if (s->next_off > s->eof) s->next_off = s->eof;
    c->state = C_DONE;
  } else {
    c->got += (uint32_t)res;
    if (c->got == c->want) s->full_seen = true;
    c->state = c->got < c->want ? C_SUBMIT : C_DONE;
    if (c->state == C_SUBMIT && s->short_end) {
      /* Taken as the end (vf_job.short_end): no read to find it. */
      if (c->off + c->got < s->eof) s->eof = c->off + c->got;
      if (s->next_off > s->eof) s->next_off = s->eof;
      s->side->short_ended = true;
      c->state = C_DONE;
    }
  }
  stream_advance(w, slot_of(w, s), s);
}

/* Opens and stats each side of a job; returns when the job either needs
 * reads or is finished. */
static void job_start(worker *w, slot *sl, vf_job *j) {
  vf_pool *p = w->p;
  const pm_fs *fs = p->fs;
  sl->job = j;
  w->nbusy++;
  for (unsigned i = 0; i < j->nsides; i++) {
    stream *s = &sl->s[i];
    vf_side *sd = &j->side[i];
    s->side = sd;
    s->active = false;
    s->failed = false;
    s->head = s->count = s->inflight = 0;
    if (w->fatal) {
      side_fail(sd, w->fatal, "read", 0);
      continue;
    }
    if (interrupted(p)) {
      side_fail(sd, PM_ECANCELED, "open", 0);
      continue;
    }
    /* O_NOATIME: an audit must leave the trees as it found them.
     * PM_O_REGULAR: a FIFO or device put where a file was is reported by
     * its type; an open never waits for a FIFO's writer. A side set by
     * vf_job_beneath is opened beneath its directory handle: no symlink
     * is followed in any component (PM_ELOOP), so no read leaves the
     * tree whatever is swapped meanwhile. */
    int oflags = PM_O_RDONLY | PM_O_NOATIME | PM_O_REGULAR |
                 (j->follow ? 0 : PM_O_NOFOLLOW);
    int rc = sd->rel ? pm_fs_open_at(fs, sd->dir, sd->rel, oflags, 0, &s->fd)
                     : pm_fs_open(fs, sd->path, oflags, 0, &s->fd);
    if (rc == PM_ESPECIAL) {
      /* Learn what it is for the caller's verdict (a FIFO in one tree
       * and a file in the other is a type difference). */
      int src = sd->rel ? pm_fs_stat_at(fs, sd->dir, sd->rel, &sd->st)
                        : pm_fs_stat(fs, sd->path, j->follow, &sd->st);
      if (!src && sd->st.type != PM_T_FILE) {
        sd->stat_ok = true;
        continue;
      }
      pm_oserr_set(0);
    }
    if (rc) {
      side_fail(sd, rc, "open", pm_oserr_last());
      continue;
    }
    s->next_off = 0;
    s->hashed = 0;
    s->full_seen = false;
    s->short_end = false;
    pm_hasher_reset(s->h);
    if (j->no_stat) {
      /* One syscall less per file: the end is found by reading. A
       * directory met here fails its read with PM_EISDIR. */
      s->active = true;
      s->sized = false;
      s->short_end = j->short_end;
      s->eof = UNKNOWN_EOF;
      continue;
    }
    rc = pm_fs_fstat(fs, s->fd, &sd->st);
    if (rc) {
      side_fail(sd, rc, "stat", pm_oserr_last());
      pm_fs_close(fs, s->fd);
      continue;
    }
    sd->stat_ok = true;
    if (sd->st.type != PM_T_FILE) {
      /* Replaced by something else since the walk: the caller judges by
       * st.type; nothing to read. */
      pm_fs_close(fs, s->fd);
      continue;
    }
    s->active = true;
    s->sized = true;
    s->eof = sd->st.size;
  }
  if (j->nsides == 2 && j->size_gate && sl->s[0].active && sl->s[1].active &&
      j->side[0].st.size != j->side[1].st.size) {
    for (unsigned i = 0; i < 2; i++) {
      pm_fs_close(fs, sl->s[i].fd);
      sl->s[i].active = false;
    }
  }
  /* Empty files are hashed here. Either call may finish the job and hand
   * it to the callback, after which j must not be touched. */
  unsigned nsides = j->nsides;
  for (unsigned i = 0; i < nsides && sl->job == j; i++)
    if (sl->s[i].active && sl->s[i].eof == 0) stream_advance(w, sl, &sl->s[i]);
  if (sl->job == j) slot_maybe_done(w, sl);
}

/* Queues one chunk. Returns false when the engine is full. */
static bool chunk_queue(worker *w, chunk *c) {
  stream *s = c->s;
  c->req.op = PM_IO_READ;
  c->req.fd = s->fd;
  c->req.buf = c->buf + c->got;
  c->req.len = c->want - c->got;
  c->req.off = c->off + c->got;
  c->req.res = 0;
  c->req.oserr = 0;
  c->req.udata = c;
  int rc = w->p->eng->queue(w->io, &c->req);
  if (rc == PM_Q_BUSY) return false;
  if (rc == PM_Q_QUEUED) {
    c->state = C_FLIGHT;
    s->inflight++;
    w->inflight++;
    return true;
  }
  if (rc < 0) {
    c->req.res = rc;
    c->req.oserr = pm_oserr_last();
  }
  /* PM_Q_COMPLETED (a synchronous engine) or a refusal: done already. */
  on_complete(w, c, false);
  return true;
}

/* Gives every active stream its reads, oldest slot first. Returns false
 * when the engine is full. */
static bool submit_round(worker *w) {
  vf_pool *p = w->p;
  uint64_t budget = ROUND_BUDGET;
  if (interrupted(p)) {
    /* Stop reading: no new chunks; a stream ends as soon as its reads in
     * flight are back (stream_advance), and its job goes to the
     * callback as canceled. */
    for (unsigned k = 0; k < p->nslots; k++) {
      slot *sl = &w->slots[k];
      for (unsigned i = 0; sl->job && i < sl->job->nsides; i++) {
        stream *s = &sl->s[i];
        if (!s->active || s->failed) continue;
        stream_fail(w, s, PM_ECANCELED, "read", 0);
        stream_advance(w, sl, s);
      }
    }
    return true;
  }
  /* Set when no buffer is free: no new chunk for anyone this round, but
   * the rest of partial reads (C_SUBMIT) of every slot are still queued,
   * since those are what frees buffers (stopping the round there left
   * every buffer in a partial chunk with nothing in flight: a busy loop). */
  bool nobuf = false;
  for (unsigned k = 0; k < p->nslots; k++) {
    slot *sl = &w->slots[k];
    if (!sl->job) continue;
    for (unsigned i = 0; sl->job && i < sl->job->nsides; i++) {
      stream *s = &sl->s[i];
      if (!s->active || s->failed) continue;
      for (unsigned n = 0; n < s->count && s->active && !s->failed; n++) {
        chunk *c = &s->ring[(s->head + n) % p->cpf];
        if (c->state == C_SUBMIT && !chunk_queue(w, c)) return false;
      }
      if (nobuf) continue;
      /* Without a size, one read at a time until a full chunk shows the
       * file is large: small files then cost one read, not cpf. */
      unsigned limit = s->sized || s->full_seen ? p->cpf : 1;
      while (s->active && !s->failed && s->count < limit &&
             s->next_off < s->eof) {
        /* Cache budget: the reads of one round complete at once when the
         * data is cached, and are hashed right after; keeping a round
         * small keeps the bytes in the CPU cache between the kernel's
         * copy and the hash. A file's first read is not counted, so many
         * small files still go out together (and stay in flight when the
         * cache is cold). */
        if (s->next_off > 0 && budget < p->chunk) break;
        char *b = buf_get(w);
        if (!b) {
          nobuf = true; /* chunks in flight or partial will free some */
          break;
        }
        chunk *c = &s->ring[(s->head + s->count) % p->cpf];
        c->s = s;
        c->buf = b;
        c->off = s->next_off;
        uint64_t left = s->eof - s->next_off;
        c->want = left < p->chunk ? (uint32_t)left : p->chunk;
        c->got = 0;
        c->state = C_SUBMIT;
        s->count++;
        if (c->off > 0) budget -= c->want < budget ? c->want : budget;
        s->next_off += c->want;
        if (!chunk_queue(w, c)) return false;
      }
    }
  }
  return true;
}

/* ---- the job queue ---- */

/* Takes up to `max` jobs in one go: one lock per batch, not per file,
 * keeps the queue's mutex out of the way when files are small. */
static unsigned pop(vf_pool *p, bool block, vf_job **out, unsigned max) {
  pm_mutex_lock(&p->mu);
  while (block && p->qcount == 0 && !p->closed)
    pm_cond_wait(&p->not_empty, &p->mu);
  unsigned n = 0;
  while (n < max && p->qcount) {
    out[n++] = p->q[p->qhead];
    p->qhead = (p->qhead + 1) % p->qcap;
    p->qcount--;
  }
  /* Wake the submitter only when a batch fits (it waits for that much
   * room): most pops take a few jobs and leave the queue nearly full. */
  if (n && p->qcap - p->qcount >= p->refill) pm_cond_signal(&p->not_full);
  pm_mutex_unlock(&p->mu);
  return n;
}

/* The engine broke (getevents failed): whatever is in flight will never
 * come back, so its buffers are abandoned, and every job of this worker,
 * now and later, fails with the engine's error. */
static void worker_break(worker *w, int err) {
  vf_pool *p = w->p;
  w->fatal = err;
  pm_mutex_lock(&p->mu);
  if (!p->fatal) p->fatal = err;
  pm_mutex_unlock(&p->mu);
  pm_report_errorf(err, "the %s I/O engine failed; files still being read "
                        "are reported unreadable", p->eng->name);
  for (unsigned k = 0; k < p->nslots; k++) {
    slot *sl = &w->slots[k];
    if (!sl->job) continue;
    for (unsigned i = 0; i < sl->job->nsides; i++) {
      stream *s = &sl->s[i];
      if (!s->active) continue;
      side_fail(s->side, err, "read", 0);
      pm_fs_close(p->fs, s->fd);
      s->active = false;
      s->count = s->inflight = 0;
    }
    slot_maybe_done(w, sl);
  }
  w->inflight = 0;
}

static void worker_main(void *arg) {
  worker *w = arg;
  vf_pool *p = w->p;
  for (;;) {
    if (w->nbusy < p->nslots) {
      unsigned n = pop(p, w->nbusy == 0, w->taken, p->nslots - w->nbusy);
      unsigned k = 0;
      for (unsigned i = 0; i < n; i++) {
        while (w->slots[k].job) k++;
        job_start(w, &w->slots[k], w->taken[i]);
      }
    }
    if (w->nbusy == 0) {
      pm_mutex_lock(&p->mu);
      bool over = p->closed && p->qcount == 0;
      pm_mutex_unlock(&p->mu);
      if (over) break;
      continue;
    }
    if (w->fatal) continue; /* job_start failed them all already */
    submit_round(w);
    int rc = p->eng->commit(w->io);
    if (rc < 0) {
      worker_break(w, rc);
      continue;
    }
    if (w->inflight == 0) continue;
    int n = p->eng->getevents(w->io, 1, RING_DEPTH, w->events);
    if (n < 0) {
      worker_break(w, n);
      continue;
    }
    for (int i = 0; i < n; i++) on_complete(w, w->events[i]->udata, true);
  }
  pm_mutex_lock(&p->mu);
  p->running--;
  pm_cond_broadcast(&p->idle);
  pm_mutex_unlock(&p->mu);
}

/* ---- the pool ---- */

static void worker_free(worker *w) {
  vf_pool *p = w->p;
  if (w->io) p->eng->cleanup(w->io);
  if (w->slots)
    for (unsigned k = 0; k < p->nslots; k++)
      for (unsigned i = 0; i < 2; i++) {
        pm_hasher_free(w->slots[k].s[i].h);
        free(w->slots[k].s[i].ring);
      }
  free(w->slots);
  if (!w->fatal)
    for (unsigned i = 0; i < w->nfree; i++) pm_aligned_free(w->freebufs[i]);
  free(w->freebufs);
  free(w->events);
  free(w->taken);
}

int vf_pool_create(const vf_pool_opts *o, vf_pool **out) {
  vf_pool *p = pm_xcalloc(1, sizeof *p);
  p->o = *o;
  p->fs = o->fs ? o->fs : pm_fs_native();
  p->eng = o->engine ? o->engine : pm_io_engine_default(NULL, 0);
  if (!p->eng) {
    free(p);
    return PM_ENOTSUP;
  }
  p->nth = o->threads ? o->threads : vf_pool_default_threads();
  p->nslots = o->files_per_thread ? o->files_per_thread : 32;
  p->cpf = o->chunks_per_file ? o->chunks_per_file : 4;
  p->chunk = o->chunk_size ? o->chunk_size : 131072;
  /* Keep chunks aligned so that the buffers could serve O_DIRECT. */
  p->chunk = (p->chunk + BUF_ALIGN - 1) & ~(unsigned)(BUF_ALIGN - 1);
  p->qcap = p->nth * p->nslots * 2;
  p->q = pm_xcalloc(p->qcap, sizeof *p->q);
  p->batchcap = 32;
  p->batch = pm_xcalloc(p->batchcap, sizeof *p->batch);
  p->refill = p->batchcap < p->qcap ? p->batchcap : p->qcap;
  pm_mutex_init(&p->mu);
  pm_cond_init(&p->not_full);
  pm_cond_init(&p->not_empty);
  pm_cond_init(&p->idle);
  atomic_init(&p->files_done, 0);
  atomic_init(&p->bytes_done, 0);
  p->w = pm_xcalloc(p->nth, sizeof *p->w);
  int rc = 0;
  for (unsigned t = 0; t < p->nth && !rc; t++) {
    worker *w = &p->w[t];
    w->p = p;
    rc = p->eng->init(p->fs, RING_DEPTH, &w->io);
    if (rc) {
      w->io = NULL;
      break;
    }
    w->slots = pm_xcalloc(p->nslots, sizeof *w->slots);
    for (unsigned k = 0; k < p->nslots; k++)
      for (unsigned i = 0; i < 2; i++) {
        w->slots[k].s[i].h = pm_hasher_create();
        w->slots[k].s[i].ring = pm_xcalloc(p->cpf, sizeof(chunk));
      }
    /* One buffer per slot for small files, plus room for a few large
     * files to have all their chunks in flight. */
    w->maxbufs = p->nslots + 2 * p->cpf;
    w->freebufs = pm_xcalloc(w->maxbufs, sizeof(char *));
    w->events = pm_xcalloc(RING_DEPTH, sizeof *w->events);
    w->taken = pm_xcalloc(p->nslots, sizeof *w->taken);
  }
  for (unsigned t = 0; t < p->nth && !rc; t++) {
    rc = pm_thread_create(&p->w[t].th, worker_main, &p->w[t]);
    if (rc) {
      /* Let the ones already started finish an empty queue. */
      pm_mutex_lock(&p->mu);
      p->closed = true;
      pm_cond_broadcast(&p->not_empty);
      pm_mutex_unlock(&p->mu);
      for (unsigned k = 0; k < t; k++) pm_thread_join(&p->w[k].th);
      break;
    }
    pm_mutex_lock(&p->mu);
    p->running++;
    pm_mutex_unlock(&p->mu);
  }
  if (rc) {
    for (unsigned t = 0; t < p->nth; t++)
      if (p->w[t].p) worker_free(&p->w[t]);
    /* On Windows these hold a critical section and events. */
    pm_mutex_destroy(&p->mu);
    pm_cond_destroy(&p->not_full);
    pm_cond_destroy(&p->not_empty);
    pm_cond_destroy(&p->idle);
    free(p->w);
    free(p->q);
    free(p->batch);
    free(p);
    return rc;
  }
  *out = p;
  return 0;
}

/* How long the submitter sleeps between progress ticks while it waits. */
#define TICK_NS (100 * 1000000ull) /* 100 ms */

/* Moves the submitter's batch into the queue, waiting for room. */
void vf_pool_flush(vf_pool *p) {
  unsigned done = 0;
  pm_mutex_lock(&p->mu);
  while (done < p->nbatch) {
    unsigned want = p->nbatch - done;
    if (want > p->refill) want = p->refill;
    while (p->qcap - p->qcount < want) {
      pm_cond_timedwait(&p->not_full, &p->mu, TICK_NS);
      if (p->qcap - p->qcount < want && p->o.tick) {
        pm_mutex_unlock(&p->mu);
        p->o.tick(p->o.arg);
        pm_mutex_lock(&p->mu);
      }
    }
    while (done < p->nbatch && p->qcount < p->qcap) {
      p->q[(p->qhead + p->qcount) % p->qcap] = p->batch[done++];
      p->qcount++;
    }
    pm_cond_broadcast(&p->not_empty);
  }
  pm_mutex_unlock(&p->mu);
  p->nbatch = 0;
}

void vf_pool_submit(vf_pool *p, vf_job *job) {
  p->batch[p->nbatch++] = job;
  if (p->nbatch == p->batchcap) vf_pool_flush(p);
}

int vf_pool_finish(vf_pool *p, uint64_t *files, uint64_t *bytes) {
  vf_pool_flush(p);
  pm_mutex_lock(&p->mu);
  p->closed = true;
  pm_cond_broadcast(&p->not_empty);
  while (p->running > 0) {
    pm_cond_timedwait(&p->idle, &p->mu, TICK_NS);
    if (p->running > 0 && p->o.tick) {
      pm_mutex_unlock(&p->mu);
      p->o.tick(p->o.arg);
      pm_mutex_lock(&p->mu);
    }
  }
  pm_mutex_unlock(&p->mu);
  for (unsigned t = 0; t < p->nth; t++) pm_thread_join(&p->w[t].th);
  int rc = p->fatal;
  if (files) *files = atomic_load(&p->files_done);
  if (bytes) *bytes = atomic_load(&p->bytes_done);
  for (unsigned t = 0; t < p->nth; t++) worker_free(&p->w[t]);
  pm_mutex_destroy(&p->mu);
  pm_cond_destroy(&p->not_full);
  pm_cond_destroy(&p->not_empty);
  pm_cond_destroy(&p->idle);
  free(p->w);
  free(p->q);
  free(p->batch);
  free(p);
  return rc;
}

void vf_pool_counts(vf_pool *p, uint64_t *files, uint64_t *bytes) {
  *files = atomic_load(&p->files_done);
  *bytes = atomic_load(&p->bytes_done);
}

const char *vf_pool_engine_name(const vf_pool *p) { return p->eng->name; }
unsigned vf_pool_threads(const vf_pool *p) { return p->nth; }
