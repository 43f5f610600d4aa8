/* thread_posix.c - thread.h on pthreads. Conditions wait on
 * CLOCK_MONOTONIC so that a timed wait is a relative time, as on Windows;
 * the engine's deadlines used to be CLOCK_REALTIME absolute times. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "platform.h"
#include "thread.h"
#include "util.h"

typedef struct start {
  pm_thread_fn fn;
  void *arg;
} start;

static void *trampoline(void *p) {
  start s = *(start *)p;
  free(p);
  s.fn(s.arg);
  return NULL;
}

int pm_thread_create(pm_thread *t, pm_thread_fn fn, void *arg) {
  start *s = pm_xmalloc(sizeof *s);
  s->fn = fn;
  s->arg = arg;
  int e = pthread_create(&t->t, NULL, trampoline, s);
  if (e) {
    free(s);
    pm_oserr_set(e);
    return e == EAGAIN ? PM_EAGAIN : PM_ENOMEM;
  }
  return 0;
}

void pm_thread_join(pm_thread *t) {
  if (pthread_join(t->t, NULL)) abort();
}

void pm_mutex_init(pm_mutex *m) {
  if (pthread_mutex_init(m, NULL)) abort();
}
void pm_mutex_destroy(pm_mutex *m) { pthread_mutex_destroy(m); }
void pm_mutex_lock(pm_mutex *m) {
  if (pthread_mutex_lock(m)) abort();
}
void pm_mutex_unlock(pm_mutex *m) {
  if (pthread_mutex_unlock(m)) abort();
}

void pm_cond_init(pm_cond *c) {
  pthread_condattr_t a;
  if (pthread_condattr_init(&a) ||
      pthread_condattr_setclock(&a, CLOCK_MONOTONIC) ||
      pthread_cond_init(c, &a))
    abort();
  pthread_condattr_destroy(&a);
}
void pm_cond_destroy(pm_cond *c) { pthread_cond_destroy(c); }
void pm_cond_signal(pm_cond *c) { pthread_cond_signal(c); }
void pm_cond_broadcast(pm_cond *c) { pthread_cond_broadcast(c); }
void pm_cond_wait(pm_cond *c, pm_mutex *m) {
  if (pthread_cond_wait(c, m)) abort();
}

int pm_cond_timedwait(pm_cond *c, pm_mutex *m, uint64_t timeout_ns) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t ns = (uint64_t)ts.tv_nsec + timeout_ns % 1000000000u;
  ts.tv_sec += (time_t)(timeout_ns / 1000000000u + ns / 1000000000u);
  ts.tv_nsec = (long)(ns % 1000000000u);
  int e = pthread_cond_timedwait(c, m, &ts);
  if (e == ETIMEDOUT) return PM_ETIMEDOUT;
  if (e) abort();
  return 0;
}

void pm_once(pm_once_t *once, void (*fn)(void)) {
  if (pthread_once(once, fn)) abort();
}
