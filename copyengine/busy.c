/* busy.c - files held by another program, for the copy engine.
 *
 * On Windows a file that a service or a virus scanner holds open without
 * sharing fails its open with a sharing violation, and a range of it
 * locked by another program fails a read with a lock violation: both come
 * here as PM_EBUSY. Such a file is not failed at once: it is put aside on
 * its worker's busy list, its handles and buffers released, and tried
 * again from the start after 100 ms, then twice as long each time up to
 * 5 s, while the worker copies other files, until busy_wait_ns after it
 * was first found busy. Only then is it an error, naming the file and
 * how long pomove waited (robocopy's default is a million retries 30 s
 * apart: a held file stalls it for a year). SQLite's winRetryIoerr does
 * the same for its own files. */
#include <stdlib.h>

#include "util.h"
#include "worker_internal.h"

#define BUSY_FIRST_NS 100000000ull /* 100 ms */
#define BUSY_CAP_NS 5000000000ull  /* 5 s */
/* The longest an idle worker with only busy files sleeps, so that it
 * sees an interrupt and new files in good time. */
#define BUSY_POLL_NS 100000000ull

/* Puts t on w's busy list to be tried again later. False when it has
 * waited its time, or the options say not to wait: the caller reports
 * it. hl: the hard-link group t is the first path of (its other paths go
 * on waiting for it), or NULL. An interrupted copy puts every file aside:
 * the loop drops them with the queued ones. */
bool ce_busy_later(worker *w, ce_task *t, ce_hlentry *hl) {
  ce_ctx *c = w->c;
  uint64_t wait = c->o->busy_wait_ns > 0 ? (uint64_t)c->o->busy_wait_ns : 0;
  if (!wait) return false;
  uint64_t now = pm_now_ns();
  if (!t->busy_tries) {
    t->busy_since_ns = now;
    atomic_fetch_add(&c->busy, 1);
  } else if (now - t->busy_since_ns >= wait && !ce_interrupted(c)) {
    return false;
  }
  uint64_t delay = BUSY_FIRST_NS;
  for (unsigned i = 0; i < t->busy_tries && delay < BUSY_CAP_NS; i++)
    delay *= 2;
  if (delay > BUSY_CAP_NS) delay = BUSY_CAP_NS;
  t->busy_tries++;
  /* The last try is made when the wait ends, not a backoff step later. */
  uint64_t end = t->busy_since_ns + wait;
  t->busy_next_ns = now + delay < end ? now + delay : end;
  t->busy_hl = (ce_hardlink *)hl; /* hl is the first member */
  ce_task **pp = &w->busy;
  while (*pp && (*pp)->busy_next_ns <= t->busy_next_ns) pp = &(*pp)->next;
  t->next = *pp;
  *pp = t;
  return true;
}

/* Drops the files put aside (an interrupted or stopping worker): a rerun
 * copies them. */
void ce_busy_drop(worker *w) {
  while (w->busy) {
    ce_task *t = w->busy;
    w->busy = t->next;
    if (t->busy_hl)
      ce_hl_settle(w, &t->busy_hl->e, false, NULL, NULL, NULL);
    ce_dnode_release(w->c, t->dir);
    task_free(t);
  }
}

/* How long an idle worker whose only work is its busy list may sleep. */
uint64_t ce_busy_sleep_ns(const worker *w) {
  uint64_t now = pm_now_ns(), next = w->busy->busy_next_ns;
  uint64_t d = next > now ? next - now : 0;
  return d < BUSY_POLL_NS ? d : BUSY_POLL_NS;
}

/* Reports a file still busy when its wait ran out (or with no wait):
 * the operation, the file, that another program holds it, for how long
 * pomove waited and the option that sets it. */
void ce_busy_report(ce_ctx *c, const fstate *f) {
  const ce_task *t = f->t;
  char *op;
  if (t->busy_tries) {
    char d[32];
    double waited = (double)(pm_now_ns() - t->busy_since_ns) / 1e9;
    op = pm_xasprintf("%s (held by another program; pomove tried %u times "
                      "over %s, --busy-wait sets how long it waits)",
                      f->errop, t->busy_tries + 1,
                      pm_fmt_duration(waited, d, sizeof d));
  } else {
    op = pm_xasprintf("%s (held by another program; not waited for, as "
                      "--busy-wait is 0)",
                      f->errop);
  }
  pm_oserr_set(f->err_os);
  ce_count_error(c, op, f->err_on_src ? f->sp : f->dp, f->err);
  free(op);
}
