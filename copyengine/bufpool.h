/* bufpool.h - a worker's cache of I/O buffers.
 *
 * Chunk buffers are taken and given back at the rate files are copied
 * (hundreds of thousands a run). Freed to malloc they go back to the
 * system and every new one is faulted in and zeroed by the kernel on its
 * first read: that showed as about 8% of a copy's CPU. The pool keeps
 * freed buffers, page aligned, in power-of-two size classes from 4 KiB
 * to the chunk size. One pool per worker thread: no locking.
 *
 * The cap bounds what the pool holds, buffers handed out and cached
 * together, not the cache alone: a buffer given back is always kept, and
 * only when a new one must be allocated while the pool holds the cap or
 * more are cached buffers of other classes freed to make room (the class
 * with the most cached bytes first). A cache capped on its own freed the
 * buffers coming back from a burst above the cap, to fault in new ones at
 * the next burst: 1.3 page faults per file of a postoffice copy. */
#ifndef POMOVE_BUFPOOL_H
#define POMOVE_BUFPOOL_H

#include <stddef.h>

#define CE_BUFPOOL_CLASSES 24

typedef struct ce_bufpool {
  void *free[CE_BUFPOOL_CLASSES];
  size_t nfree[CE_BUFPOOL_CLASSES]; /* buffers cached per class */
  size_t cached, out, cap;          /* bytes cached, handed out, the cap */
  size_t allocs;                    /* buffers allocated (for tests) */
} ce_bufpool;

/* cap: the bytes (handed out and cached) above which a new buffer first
 * frees cached ones of other classes. */
void ce_bufpool_init(ce_bufpool *p, size_t cap);
/* A buffer of at least len bytes (len > 0), 4096-aligned; aborts like
 * pm_xmalloc when memory is exhausted. */
void *ce_bufpool_get(ce_bufpool *p, size_t len);
/* Gives back a buffer from ce_bufpool_get(p, len) with the same len. */
void ce_bufpool_put(ce_bufpool *p, void *buf, size_t len);
void ce_bufpool_destroy(ce_bufpool *p);

#endif
