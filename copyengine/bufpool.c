/* bufpool.c - see bufpool.h. */
#include "bufpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"
#include "util.h"

#define MIN_SHIFT 12

static unsigned size_class(size_t len) {
  unsigned k = 0;
  while (((size_t)1 << (MIN_SHIFT + k)) < len) k++;
  return k;
}

static size_t class_size(unsigned k) { return (size_t)1 << (MIN_SHIFT + k); }

void ce_bufpool_init(ce_bufpool *p, size_t cap) {
  memset(p, 0, sizeof *p);
  p->cap = cap;
}

static void *pop(ce_bufpool *p, unsigned k) {
  void *b = p->free[k];
  memcpy(&p->free[k], b, sizeof(void *));
  p->nfree[k]--;
  p->cached -= class_size(k);
  return b;
}

/* Frees cached buffers of classes other than `keep`, the class with the
 * most cached bytes first, until `need` more bytes fit under the cap or
 * nothing else is cached. */
static void make_room(ce_bufpool *p, unsigned keep, size_t need) {
  while (p->out + p->cached + need > p->cap) {
    unsigned best = CE_BUFPOOL_CLASSES;
    size_t most = 0;
    for (unsigned k = 0; k < CE_BUFPOOL_CLASSES; k++) {
      /* Only classes that hold buffers: the size of a class past what
       * size_t can count (32-bit Windows) is never computed. */
      if (k == keep || !p->nfree[k]) continue;
      size_t bytes = p->nfree[k] * class_size(k);
      if (bytes > most) {
        most = bytes;
        best = k;
      }
    }
    if (best == CE_BUFPOOL_CLASSES) return;
    pm_aligned_free(pop(p, best));
  }
}

void *ce_bufpool_get(ce_bufpool *p, size_t len) {
  unsigned k = size_class(len ? len : 1);
  if (k < CE_BUFPOOL_CLASSES && p->free[k]) {
    p->out += class_size(k);
    return pop(p, k);
  }
  size_t sz = k < CE_BUFPOOL_CLASSES ? class_size(k) : len;
  make_room(p, k, sz);
  /* Aligned for unbuffered I/O; freed with pm_aligned_free only. */
  void *b = pm_aligned_alloc(4096, sz);
  if (!b) {
    pm_report_notef("pomove: out of memory (%zu bytes for an I/O buffer)\n",
                    sz);
    abort();
  }
  p->allocs++;
  if (k < CE_BUFPOOL_CLASSES) p->out += sz;
  return b;
}

void ce_bufpool_put(ce_bufpool *p, void *buf, size_t len) {
  if (!buf) return;
  unsigned k = size_class(len ? len : 1);
  if (k >= CE_BUFPOOL_CLASSES) {
    pm_aligned_free(buf);
    return;
  }
  size_t sz = class_size(k);
  p->out -= sz;
  memcpy(buf, &p->free[k], sizeof(void *));
  p->free[k] = buf;
  p->nfree[k]++;
  p->cached += sz;
}

void ce_bufpool_destroy(ce_bufpool *p) {
  for (unsigned k = 0; k < CE_BUFPOOL_CLASSES; k++) {
    while (p->free[k]) pm_aligned_free(pop(p, k));
  }
  p->cached = 0;
}
