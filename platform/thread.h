/* thread.h - threads, mutexes, condition variables and one-time
 * initialisation for every module of pomove.
 *
 * The copy engine, the audits and the I/O engines use only this layer,
 * never pthreads or Win32 directly, because the product runs on Windows
 * 2000: mingw-w64's winpthreads imports GetTickCount64 (Vista) and
 * AddVectoredExceptionHandler (XP), so a pthread-based pomove.exe does
 * not even load there, and Windows 2000 has no SRWLOCK,
 * CONDITION_VARIABLE or InitOnce. The POSIX backend is a thin veneer over
 * pthreads (so TSan understands it); the Win32 backend is built from what
 * Windows 2000 has: CRITICAL_SECTION, auto-reset events, _beginthreadex
 * and Interlocked*. The types are defined by the backend's header so that
 * they can be embedded in structures.
 *
 * Resource failures while creating a mutex or condition are fatal (as
 * pm_xmalloc is): they mean the process is out of memory. Waiting never
 * fails. Any module may include this header. */
#ifndef POMOVE_THREAD_H
#define POMOVE_THREAD_H

#include <stdint.h>

#if defined(_WIN32)
#include "thread_win32.h"
#else
#include "thread_posix.h"
#endif

typedef void (*pm_thread_fn)(void *arg);

/* Starts fn(arg) on a new thread. 0, or a PM_E* code (PM_EAGAIN when the
 * OS has no more threads to give; the OS code is recorded). */
int pm_thread_create(pm_thread *t, pm_thread_fn fn, void *arg);
/* Waits for the thread to return and releases it. */
void pm_thread_join(pm_thread *t);

/* A non-recursive mutex. */
void pm_mutex_init(pm_mutex *m);
void pm_mutex_destroy(pm_mutex *m);
void pm_mutex_lock(pm_mutex *m);
void pm_mutex_unlock(pm_mutex *m);

/* A condition variable used with one pm_mutex at a time. Wake-ups may be
 * spurious: callers wait in a loop on their predicate. */
void pm_cond_init(pm_cond *c);
void pm_cond_destroy(pm_cond *c);
void pm_cond_signal(pm_cond *c);
void pm_cond_broadcast(pm_cond *c);
void pm_cond_wait(pm_cond *c, pm_mutex *m);
/* Waits at most timeout_ns (relative, on a monotonic clock, so a change of
 * the wall clock neither shortens nor stretches it). 0 when woken (or
 * spuriously), PM_ETIMEDOUT when the time ran out. The mutex is held again
 * on return in both cases. */
int pm_cond_timedwait(pm_cond *c, pm_mutex *m, uint64_t timeout_ns);

/* Runs fn exactly once per pm_once object, however many threads call it
 * at once; every caller returns after fn has finished. Initialise the
 * object with PM_ONCE_INIT. This is how a static mutex is made: Windows
 * has no static initialiser for a critical section. */
void pm_once(pm_once_t *once, void (*fn)(void));

#endif
