/* thread_posix.h - the POSIX backend's types for thread.h. Include
 * thread.h, not this file. */
#ifndef POMOVE_THREAD_POSIX_H
#define POMOVE_THREAD_POSIX_H

#include <pthread.h>

typedef struct pm_thread {
  pthread_t t;
} pm_thread;
typedef pthread_mutex_t pm_mutex;
typedef pthread_cond_t pm_cond;
typedef pthread_once_t pm_once_t;
#define PM_ONCE_INIT PTHREAD_ONCE_INIT

#endif
