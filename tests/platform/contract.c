/* contract.c - see contract.h. */
#include "contract.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "platform.h"
#include "thread.h"
#include "util.h"

struct ct_watchdog {
  pm_thread th;
  pm_mutex mu;
  pm_cond cv;
  bool stopped;
  uint64_t deadline_ns;
  const char *what;
};

static void watchdog_main(void *arg) {
  ct_watchdog *w = arg;
  pm_mutex_lock(&w->mu);
  while (!w->stopped) {
    uint64_t now = pm_now_ns();
    if (now >= w->deadline_ns) {
      fprintf(stderr, "watchdog: %s did not return in time: the call blocks\n",
              w->what);
      fflush(stderr);
      _Exit(1);
    }
    pm_cond_timedwait(&w->cv, &w->mu, w->deadline_ns - now);
  }
  pm_mutex_unlock(&w->mu);
}

ct_watchdog *ct_watchdog_start(double seconds, const char *what) {
  ct_watchdog *w = pm_xcalloc(1, sizeof *w);
  pm_mutex_init(&w->mu);
  pm_cond_init(&w->cv);
  w->what = what;
  w->deadline_ns = pm_now_ns() + (uint64_t)(seconds * 1e9);
  if (pm_thread_create(&w->th, watchdog_main, w) != 0) {
    fprintf(stderr, "watchdog: cannot start a thread\n");
    abort();
  }
  return w;
}

void ct_watchdog_stop(ct_watchdog *w) {
  pm_mutex_lock(&w->mu);
  w->stopped = true;
  pm_cond_signal(&w->cv);
  pm_mutex_unlock(&w->mu);
  pm_thread_join(&w->th);
  pm_cond_destroy(&w->cv);
  pm_mutex_destroy(&w->mu);
  free(w);
}

static void **strings;
static size_t nstrings, capstrings;

static void keep(void *p);

void *ct_alloc(size_t n) {
  void *p = pm_xcalloc(1, n);
  keep(p);
  return p;
}

char *ct_str(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) abort();
  char *s = pm_xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  keep(s);
  return s;
}

static void keep(void *p) {
  if (nstrings == capstrings) {
    capstrings = capstrings ? capstrings * 2 : 64;
    strings = pm_xrealloc(strings, capstrings * sizeof *strings);
  }
  strings[nstrings++] = p;
}

void ct_strings_free(void) {
  for (size_t i = 0; i < nstrings; i++) free(strings[i]);
  free(strings);
  strings = NULL;
  nstrings = capstrings = 0;
}

void ct_sleep_ms(unsigned ms) {
  pm_mutex mu;
  pm_cond cv;
  pm_mutex_init(&mu);
  pm_cond_init(&cv);
  uint64_t end = pm_now_ns() + (uint64_t)ms * 1000000u;
  pm_mutex_lock(&mu);
  for (uint64_t now; (now = pm_now_ns()) < end;)
    pm_cond_timedwait(&cv, &mu, end - now);
  pm_mutex_unlock(&mu);
  pm_cond_destroy(&cv);
  pm_mutex_destroy(&mu);
}
