/* thread_win32.c - thread.h on what Windows 2000 exports.
 *
 * Threads start with _beginthreadex (msvcrt.dll of Windows 2000 has it,
 * and it sets up the C runtime's per-thread state, which CreateThread does
 * not). Mutexes are critical sections. Conditions queue their waiters,
 * each on an auto-reset event of its own, so nothing newer than NT 4.0 is
 * needed (CONDITION_VARIABLE and SRWLOCK are Vista, InitOnce is Vista,
 * GetTickCount64 is Vista). */
#include <process.h>
#include <stdlib.h>
#include <windows.h>

#include "platform.h"
#include "thread.h"
#include "util.h"

typedef struct start {
  pm_thread_fn fn;
  void *arg;
} start;

static unsigned __stdcall trampoline(void *p) {
  start s = *(start *)p;
  free(p);
  s.fn(s.arg);
  return 0;
}

int pm_thread_create(pm_thread *t, pm_thread_fn fn, void *arg) {
  start *s = pm_xmalloc(sizeof *s);
  s->fn = fn;
  s->arg = arg;
  uintptr_t h = _beginthreadex(NULL, 0, trampoline, s, 0, NULL);
  if (!h) {
    pm_oserr_set((int)GetLastError());
    free(s);
    return PM_EAGAIN;
  }
  t->h = (HANDLE)h;
  return 0;
}

void pm_thread_join(pm_thread *t) {
  if (WaitForSingleObject(t->h, INFINITE) != WAIT_OBJECT_0) abort();
  CloseHandle(t->h);
  t->h = NULL;
}

void pm_mutex_init(pm_mutex *m) { InitializeCriticalSection(m); }
void pm_mutex_destroy(pm_mutex *m) { DeleteCriticalSection(m); }
void pm_mutex_lock(pm_mutex *m) { EnterCriticalSection(m); }
void pm_mutex_unlock(pm_mutex *m) { LeaveCriticalSection(m); }

struct pm_cond_waiter {
  HANDLE ev;
  struct pm_cond_waiter *next, *prev;
  int queued; /* still in the list: not signalled yet */
};

void pm_cond_init(pm_cond *c) {
  InitializeCriticalSection(&c->lock);
  c->head = c->tail = NULL;
}
void pm_cond_destroy(pm_cond *c) { DeleteCriticalSection(&c->lock); }

static void unlink_waiter(pm_cond *c, struct pm_cond_waiter *w) {
  if (w->prev) w->prev->next = w->next;
  else c->head = w->next;
  if (w->next) w->next->prev = w->prev;
  else c->tail = w->prev;
  w->queued = 0;
}

/* Takes the first waiter off the list and wakes it; the caller holds
 * c->lock. */
static void wake_first(pm_cond *c) {
  struct pm_cond_waiter *w = c->head;
  if (!w) return;
  unlink_waiter(c, w);
  SetEvent(w->ev);
}

void pm_cond_signal(pm_cond *c) {
  EnterCriticalSection(&c->lock);
  wake_first(c);
  LeaveCriticalSection(&c->lock);
}

void pm_cond_broadcast(pm_cond *c) {
  EnterCriticalSection(&c->lock);
  while (c->head) wake_first(c);
  LeaveCriticalSection(&c->lock);
}

static int wait_ms(pm_cond *c, pm_mutex *m, DWORD ms) {
  struct pm_cond_waiter w;
  w.ev = CreateEventW(NULL, FALSE, FALSE, NULL);
  if (!w.ev) abort();
  w.next = NULL;
  EnterCriticalSection(&c->lock);
  /* Queued before the caller's mutex is released, so a signal sent after
   * the caller checked its predicate always finds this waiter. */
  w.prev = c->tail;
  if (c->tail) c->tail->next = &w;
  else c->head = &w;
  c->tail = &w;
  w.queued = 1;
  LeaveCriticalSection(&c->lock);
  LeaveCriticalSection(m);
  DWORD r = WaitForSingleObject(w.ev, ms);
  int rc = 0;
  if (r == WAIT_TIMEOUT) {
    EnterCriticalSection(&c->lock);
    /* A signal that arrived between the time-out and here already took
     * this waiter off the list: it counts as a wake-up, not a time-out,
     * so the signal is not lost for the other waiters. */
    if (w.queued) {
      unlink_waiter(c, &w);
      rc = PM_ETIMEDOUT;
    }
    LeaveCriticalSection(&c->lock);
  } else if (r != WAIT_OBJECT_0) {
    abort();
  }
  CloseHandle(w.ev);
  EnterCriticalSection(m);
  return rc;
}

void pm_cond_wait(pm_cond *c, pm_mutex *m) { (void)wait_ms(c, m, INFINITE); }

int pm_cond_timedwait(pm_cond *c, pm_mutex *m, uint64_t timeout_ns) {
  uint64_t ms = (timeout_ns + 999999u) / 1000000u;
  /* INFINITE is 0xFFFFFFFF: a longer wait is cut just below it, and the
   * caller's loop waits again. */
  if (ms >= INFINITE) ms = INFINITE - 1;
  return wait_ms(c, m, (DWORD)ms);
}

void pm_once(pm_once_t *once, void (*fn)(void)) {
  if (*once == 2) {
    MemoryBarrier();
    return;
  }
  if (InterlockedCompareExchange((LONG volatile *)once, 1, 0) == 0) {
    fn();
    MemoryBarrier();
    InterlockedExchange((LONG volatile *)once, 2);
    return;
  }
  /* Another thread runs fn: wait for it without burning the CPU. */
  while (*once != 2) Sleep(1);
  MemoryBarrier();
}
