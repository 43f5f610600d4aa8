/* engine_pool.c - the portable thread-pool engine. Requests run as
 * synchronous calls of the file-system table on a few worker threads, so
 * the same pipeline runs where io_uring (or IOCP) is unavailable, and a
 * fault-injecting table sees every call. */
#include <stdlib.h>

#include "platform.h"
#include "thread.h"
#include "util.h"

#define POOL_THREADS 4

typedef struct qnode {
  pm_io_req *req;
  struct qnode *next;
} qnode;

struct pm_io_ctx {
  const pm_fs *fs;
  unsigned depth, outstanding;
  pm_mutex mu;
  pm_cond work, done;
  pm_io_req **pending; /* queued, not committed */
  unsigned npending;
  pm_io_req **runq; /* committed, waiting for a worker (ring) */
  unsigned rhead, rcount;
  pm_io_req **doneq; /* completed (ring) */
  unsigned dhead, dcount;
  bool stop;
  pm_thread th[POOL_THREADS];
  unsigned nth;
};

static int pool_probe(void) { return 0; }

static void execute(const pm_fs *fs, pm_io_req *req) {
  int64_t r;
  switch (req->op) {
  case PM_IO_READ: r = pm_fs_pread(fs, req->fd, req->buf, req->len, req->off); break;
  case PM_IO_WRITE: r = pm_fs_pwrite(fs, req->fd, req->buf, req->len, req->off); break;
  default: r = pm_fs_fsync(fs, req->fd, req->op == PM_IO_FDATASYNC); break;
  }
  req->res = r;
  req->oserr = r < 0 ? pm_oserr_of((int)r) : 0;
}

static void worker(void *arg) {
  pm_io_ctx *c = arg;
  pm_mutex_lock(&c->mu);
  for (;;) {
    while (!c->stop && c->rcount == 0) pm_cond_wait(&c->work, &c->mu);
    if (c->stop) break;
    pm_io_req *req = c->runq[c->rhead];
    c->rhead = (c->rhead + 1) % c->depth;
    c->rcount--;
    pm_mutex_unlock(&c->mu);
    execute(c->fs, req);
    pm_mutex_lock(&c->mu);
    c->doneq[(c->dhead + c->dcount) % c->depth] = req;
    c->dcount++;
    pm_cond_signal(&c->done);
  }
  pm_mutex_unlock(&c->mu);
}

static void pool_cleanup(pm_io_ctx *c);

static int pool_init(const pm_fs *fs, unsigned depth, pm_io_ctx **out) {
  pm_io_ctx *c = pm_xcalloc(1, sizeof *c);
  if (depth < 2) depth = 2;
  c->fs = fs;
  c->depth = depth;
  pm_mutex_init(&c->mu);
  pm_cond_init(&c->work);
  pm_cond_init(&c->done);
  c->pending = pm_xcalloc(depth, sizeof *c->pending);
  c->runq = pm_xcalloc(depth, sizeof *c->runq);
  c->doneq = pm_xcalloc(depth, sizeof *c->doneq);
  unsigned n = depth < POOL_THREADS ? depth : POOL_THREADS;
  for (unsigned i = 0; i < n; i++) {
    int rc = pm_thread_create(&c->th[i], worker, c);
    if (rc) {
      pool_cleanup(c);
      return rc;
    }
    c->nth++;
  }
  *out = c;
  return 0;
}

static int pool_queue(pm_io_ctx *c, pm_io_req *req) {
  if (req->op < PM_IO_READ || req->op > PM_IO_FDATASYNC) return PM_EINVAL;
  if (c->outstanding >= c->depth) return PM_Q_BUSY;
  c->pending[c->npending++] = req;
  c->outstanding++;
  return PM_Q_QUEUED;
}

static int pool_commit(pm_io_ctx *c) {
  if (!c->npending) return 0;
  pm_mutex_lock(&c->mu);
  for (unsigned i = 0; i < c->npending; i++) {
    c->runq[(c->rhead + c->rcount) % c->depth] = c->pending[i];
    c->rcount++;
  }
  c->npending = 0;
  pm_cond_broadcast(&c->work);
  pm_mutex_unlock(&c->mu);
  return 0;
}

static int pool_getevents(pm_io_ctx *c, unsigned min, unsigned max,
                          pm_io_req **events) {
  PM_TRY(pool_commit(c));
  unsigned got = 0;
  pm_mutex_lock(&c->mu);
  if (min > c->outstanding) min = c->outstanding;
  while (got < max) {
    while (c->dcount == 0 && got < min) pm_cond_wait(&c->done, &c->mu);
    if (c->dcount == 0) break;
    events[got++] = c->doneq[c->dhead];
    c->dhead = (c->dhead + 1) % c->depth;
    c->dcount--;
    c->outstanding--;
  }
  pm_mutex_unlock(&c->mu);
  return (int)got;
}

static void pool_cleanup(pm_io_ctx *c) {
  if (!c) return;
  pm_mutex_lock(&c->mu);
  c->stop = true;
  pm_cond_broadcast(&c->work);
  pm_mutex_unlock(&c->mu);
  for (unsigned i = 0; i < c->nth; i++) pm_thread_join(&c->th[i]);
  pm_mutex_destroy(&c->mu);
  pm_cond_destroy(&c->work);
  pm_cond_destroy(&c->done);
  free(c->pending);
  free(c->runq);
  free(c->doneq);
  free(c);
}

const pm_io_engine_ops pm__engine_pool = {
    .name = "pool",
    .probe = pool_probe,
    .init = pool_init,
    .queue = pool_queue,
    .commit = pool_commit,
    .getevents = pool_getevents,
    .cleanup = pool_cleanup,
};
