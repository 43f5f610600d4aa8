/* ctx.c - the state every thread of a copy shares (engine_internal.h's
 * ce_ctx), at the bottom of the copy engine's layers: whether the copy is
 * interrupted, the bounded file queue from the walker to the workers, the
 * signal that wakes ce_copy() when a thread ends, and the counting of
 * errors. It calls no other file of the engine, so that every file may
 * call it (see the layering in engine_internal.h). */
#include <stdlib.h>

#include "engine_internal.h"
#include "sys.h"
#include "util.h"

bool ce_interrupted(const ce_ctx *c) {
  return (c->o->interrupt && *c->o->interrupt) || atomic_load(&c->fatal);
}

void ce_signal_done(ce_ctx *c) {
  pm_mutex_lock(&c->donemu);
  pm_cond_broadcast(&c->donecv);
  pm_mutex_unlock(&c->donemu);
}

/* The queue's length as it was a moment ago, without the queue's lock:
 * a listing thread of an update asks at every file it lists whether the
 * workers have enough waiting (walk.c), and took the lock the workers
 * pop under 100,000 times for a number that may change as soon as it is
 * read anyway. qlen changes under qmu only, so the lock-holders' own
 * reads and writes below need no atomic read-modify-write. */
size_t ce_queue_len(ce_ctx *c) {
  return atomic_load_explicit(&c->qlen, memory_order_relaxed);
}

static void qlen_set(ce_ctx *c, size_t n) {
  atomic_store_explicit(&c->qlen, n, memory_order_relaxed);
}

void ce_queue_push_run(ce_ctx *c, ce_task *head, ce_task *tail, size_t n) {
  pm_mutex_lock(&c->qmu);
  while (ce_queue_len(c) >= c->qcap && !ce_interrupted(c))
    pm_cond_wait(&c->qnotfull, &c->qmu);
  tail->next = NULL;
  if (c->qtail)
    c->qtail->next = head;
  else
    c->qhead = head;
  c->qtail = tail;
  qlen_set(c, ce_queue_len(c) + n);
  /* One task wakes one worker; a run, all of them. */
  if (n == 1)
    pm_cond_signal(&c->qnotempty);
  else
    pm_cond_broadcast(&c->qnotempty);
  pm_mutex_unlock(&c->qmu);
}

void ce_queue_push(ce_ctx *c, ce_task *t) { ce_queue_push_run(c, t, t, 1); }

/* The walker, waiting for room in a full queue, is woken once the queue
 * is down to half: woken at every pop, it pushed one task and waited
 * again, two switches of thread per file while the workers were the
 * slower side (an update's carried-over files). */
static void popped(ce_ctx *c) {
  size_t n = ce_queue_len(c) - 1;
  qlen_set(c, n);
  if (n <= c->qcap / 2) pm_cond_signal(&c->qnotfull);
}

ce_task *ce_queue_pop(ce_ctx *c, bool wait) {
  pm_mutex_lock(&c->qmu);
  while (wait && !c->qhead && !c->qclosed)
    pm_cond_wait(&c->qnotempty, &c->qmu);
  ce_task *t = c->qhead;
  if (t) {
    c->qhead = t->next;
    if (!c->qhead) c->qtail = NULL;
    popped(c);
  }
  pm_mutex_unlock(&c->qmu);
  return t;
}

ce_task *ce_queue_pop_timed(ce_ctx *c, uint64_t timeout_ns, bool *closed) {
  uint64_t end = pm_now_ns() + timeout_ns;
  pm_mutex_lock(&c->qmu);
  /* The walker signals a push, and ce_copy's thread broadcasts on an
   * interrupt; once the queue is closed nothing does, and this is a plain
   * sleep of timeout_ns. */
  while (!c->qhead && !ce_interrupted(c)) {
    uint64_t now = pm_now_ns();
    if (now >= end) break;
    pm_cond_timedwait(&c->qnotempty, &c->qmu, end - now);
  }
  ce_task *t = c->qhead;
  if (t) {
    c->qhead = t->next;
    if (!c->qhead) c->qtail = NULL;
    popped(c);
  }
  *closed = !t && c->qclosed;
  pm_mutex_unlock(&c->qmu);
  return t;
}

/* No task will come any more: wakes the workers waiting for one. */
void ce_queue_close(ce_ctx *c) {
  pm_mutex_lock(&c->qmu);
  c->qclosed = true;
  pm_cond_broadcast(&c->qnotempty);
  pm_mutex_unlock(&c->qmu);
}

/* Wakes threads blocked on the queue (interrupt, fatal error). */
void ce_queue_wake(ce_ctx *c) {
  pm_mutex_lock(&c->qmu);
  pm_cond_broadcast(&c->qnotfull);
  pm_cond_broadcast(&c->qnotempty);
  pm_mutex_unlock(&c->qmu);
}

void ce_count_error(ce_ctx *c, const char *op, const char *path, int err) {
  if (err == PM_ELOOP) {
    /* The *_at calls refuse a symlink in any component of a path below
     * the roots: say so, since the OS's wording suggests a loop. */
    char *shown = pm_display_path(path ? path : "");
    pm_report_errorf(err, "%s '%s' (a symbolic link stands in its path; "
                          "pomove does not follow it)", op, shown);
    free(shown);
  } else {
    pm_report_error(op, path, err);
  }
  atomic_fetch_add(&c->errors, 1);
  /* A full or read-only destination will fail every further write: stop
   * early and leave a state that a rerun resumes. */
  if (err == PM_ENOSPC || err == PM_EDQUOT || err == PM_EROFS) {
    int expected = 0;
    atomic_compare_exchange_strong(&c->fatal, &expected, err);
  }
}
