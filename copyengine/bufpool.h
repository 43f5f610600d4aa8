/* bufpool.h - a worker's cache of I/O buffers.
 *
 * Chunk buffers are taken and given back at the rate files are copied
 * (hundreds of thousands a run). Freed to malloc they go back to the
 * system and every new one is faulted in and zeroed by the kernel on its
 * first read: that showed as about 8% of a copy's CPU. The pool keeps
 * freed buffers, page aligned, in power-of-two size classes from 4 KiB
 * to the chunk size, up to a cap of cached bytes. One pool per worker
 * thread: no locking. */
#ifndef POMOVE_BUFPOOL_H
#define POMOVE_BUFPOOL_H

#include <stddef.h>

#define CE_BUFPOOL_CLASSES 24

typedef struct ce_bufpool {
  void *free[CE_BUFPOOL_CLASSES];
  size_t cached, cap;
} ce_bufpool;

/* cap: most bytes kept in the cache; more freed buffers go to free(). */
void ce_bufpool_init(ce_bufpool *p, size_t cap);
/* A buffer of at least len bytes (len > 0), 4096-aligned; aborts like
 * pm_xmalloc when memory is exhausted. */
void *ce_bufpool_get(ce_bufpool *p, size_t len);
/* Gives back a buffer from ce_bufpool_get(p, len) with the same len. */
void ce_bufpool_put(ce_bufpool *p, void *buf, size_t len);
void ce_bufpool_destroy(ce_bufpool *p);

#endif
