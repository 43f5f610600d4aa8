/* thread_cases.h - the cases of the thread layer's test, written without
 * a test framework so that the same bodies run under cmocka on Linux
 * (test_thread.c) and in a plain runner built with mingw-w64 under Wine,
 * where cmocka is not packaged. Each case returns NULL when it passes and
 * a static sentence naming what went wrong otherwise. Include once, from
 * the file that runs the cases. */
#ifndef POMOVE_THREAD_CASES_H
#define POMOVE_THREAD_CASES_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "platform.h"
#include "thread.h"

#define TC_THREADS 4
#define TC_ROUNDS 20000

typedef struct tc_counter {
  pm_mutex m;
  long value; /* protected by m only: a lost update shows a broken mutex */
} tc_counter;

static void tc_count(void *p) {
  tc_counter *c = p;
  for (int i = 0; i < TC_ROUNDS; i++) {
    pm_mutex_lock(&c->m);
    long v = c->value;
    c->value = v + 1;
    pm_mutex_unlock(&c->m);
  }
}

static const char *tc_mutex_excludes(void) {
  tc_counter c = {.value = 0};
  pm_mutex_init(&c.m);
  pm_thread t[TC_THREADS];
  for (int i = 0; i < TC_THREADS; i++)
    if (pm_thread_create(&t[i], tc_count, &c)) return "thread create failed";
  for (int i = 0; i < TC_THREADS; i++) pm_thread_join(&t[i]);
  pm_mutex_destroy(&c.m);
  return c.value == (long)TC_THREADS * TC_ROUNDS ? NULL
                                                 : "updates were lost";
}

/* A bounded queue handed between producers and consumers through two
 * conditions: every item must arrive exactly once, and nothing may hang
 * (a lost wake-up would leave a consumer waiting for ever). */
typedef struct tc_queue {
  pm_mutex m;
  pm_cond not_empty, not_full;
  int items[8];
  int head, count, produced_done;
  long sum;
  int received;
} tc_queue;

#define TC_ITEMS 5000

static void tc_produce(void *p) {
  tc_queue *q = p;
  for (int i = 1; i <= TC_ITEMS; i++) {
    pm_mutex_lock(&q->m);
    while (q->count == 8) pm_cond_wait(&q->not_full, &q->m);
    q->items[(q->head + q->count) % 8] = i;
    q->count++;
    pm_cond_signal(&q->not_empty);
    pm_mutex_unlock(&q->m);
  }
  pm_mutex_lock(&q->m);
  q->produced_done++;
  pm_cond_broadcast(&q->not_empty);
  pm_mutex_unlock(&q->m);
}

static void tc_consume(void *p) {
  tc_queue *q = p;
  pm_mutex_lock(&q->m);
  for (;;) {
    while (q->count == 0 && q->produced_done < 2)
      pm_cond_wait(&q->not_empty, &q->m);
    if (q->count == 0) break;
    q->sum += q->items[q->head];
    q->received++;
    q->head = (q->head + 1) % 8;
    q->count--;
    pm_cond_signal(&q->not_full);
  }
  pm_mutex_unlock(&q->m);
}

static const char *tc_cond_hands_over(void) {
  tc_queue *q = calloc(1, sizeof *q);
  if (!q) return "out of memory";
  pm_mutex_init(&q->m);
  pm_cond_init(&q->not_empty);
  pm_cond_init(&q->not_full);
  pm_thread t[4];
  int bad = pm_thread_create(&t[0], tc_produce, q) ||
            pm_thread_create(&t[1], tc_produce, q) ||
            pm_thread_create(&t[2], tc_consume, q) ||
            pm_thread_create(&t[3], tc_consume, q);
  if (bad) return "thread create failed";
  for (int i = 0; i < 4; i++) pm_thread_join(&t[i]);
  long want = 2L * TC_ITEMS * (TC_ITEMS + 1) / 2;
  const char *r = NULL;
  if (q->received != 2 * TC_ITEMS) r = "items lost or duplicated";
  else if (q->sum != want) r = "items corrupted";
  pm_cond_destroy(&q->not_empty);
  pm_cond_destroy(&q->not_full);
  pm_mutex_destroy(&q->m);
  free(q);
  return r;
}

/* A timed wait with nobody signalling returns PM_ETIMEDOUT after about the
 * time asked (not at once, not much later). */
static const char *tc_timedwait_times_out(void) {
  pm_mutex m;
  pm_cond c;
  pm_mutex_init(&m);
  pm_cond_init(&c);
  pm_mutex_lock(&m);
  uint64_t t0 = pm_now_ns();
  int rc;
  /* Spurious wake-ups are allowed: wait until the time has run out. */
  do rc = pm_cond_timedwait(&c, &m, 50 * 1000000ull);
  while (rc == 0 && pm_now_ns() - t0 < 50 * 1000000ull);
  uint64_t took = pm_now_ns() - t0;
  pm_mutex_unlock(&m);
  pm_cond_destroy(&c);
  pm_mutex_destroy(&m);
  if (rc != PM_ETIMEDOUT) return "timed wait did not report a time-out";
  if (took < 45 * 1000000ull) return "timed wait returned too early";
  if (took > 5000 * 1000000ull) return "timed wait returned far too late";
  return NULL;
}

typedef struct tc_flag {
  pm_mutex m;
  pm_cond c;
  int set;
} tc_flag;

static void tc_set_flag(void *p) {
  tc_flag *f = p;
  pm_mutex_lock(&f->m);
  f->set = 1;
  pm_cond_signal(&f->c);
  pm_mutex_unlock(&f->m);
}

/* A signal reaches a thread in a long timed wait well before its time. */
static const char *tc_timedwait_wakes(void) {
  tc_flag f = {.set = 0};
  pm_mutex_init(&f.m);
  pm_cond_init(&f.c);
  uint64_t t0 = pm_now_ns();
  pm_mutex_lock(&f.m);
  pm_thread t;
  if (pm_thread_create(&t, tc_set_flag, &f)) return "thread create failed";
  while (!f.set) {
    if (pm_cond_timedwait(&f.c, &f.m, 30ull * 1000000000ull) == PM_ETIMEDOUT)
      break;
  }
  int set = f.set;
  pm_mutex_unlock(&f.m);
  pm_thread_join(&t);
  pm_cond_destroy(&f.c);
  pm_mutex_destroy(&f.m);
  if (!set) return "the signal never arrived";
  if (pm_now_ns() - t0 > 10ull * 1000000000ull) return "the wake-up was late";
  return NULL;
}

static atomic_int tc_once_runs;
static pm_once_t tc_once = PM_ONCE_INIT;
static void tc_once_fn(void) { atomic_fetch_add(&tc_once_runs, 1); }
static void tc_call_once(void *p) {
  (void)p;
  pm_once(&tc_once, tc_once_fn);
  /* Every caller returns after fn has finished. */
  if (atomic_load(&tc_once_runs) != 1) abort();
}

static const char *tc_once_runs_once(void) {
  pm_thread t[TC_THREADS];
  for (int i = 0; i < TC_THREADS; i++)
    if (pm_thread_create(&t[i], tc_call_once, NULL)) return "create failed";
  for (int i = 0; i < TC_THREADS; i++) pm_thread_join(&t[i]);
  pm_once(&tc_once, tc_once_fn);
  return atomic_load(&tc_once_runs) == 1 ? NULL : "once ran more than once";
}

#endif
