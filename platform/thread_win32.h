/* thread_win32.h - the Win32 backend's types for thread.h, built only from
 * what Windows 2000 exports. Include thread.h, not this file. */
#ifndef POMOVE_THREAD_WIN32_H
#define POMOVE_THREAD_WIN32_H

#include <windows.h>

typedef struct pm_thread {
  HANDLE h;
} pm_thread;
typedef CRITICAL_SECTION pm_mutex;

struct pm_cond_waiter;
/* Waiters queue in arrival order, each on an event of its own, so that a
 * signal wakes exactly one thread that was already waiting (the classic
 * event-per-condition emulations of NT 4.0 days either lose wake-ups or
 * wake threads that started waiting after the signal). */
typedef struct pm_cond {
  CRITICAL_SECTION lock;
  struct pm_cond_waiter *head, *tail;
} pm_cond;

/* 0 not started, 1 running, 2 done. */
typedef volatile LONG pm_once_t;
#define PM_ONCE_INIT 0

#endif
