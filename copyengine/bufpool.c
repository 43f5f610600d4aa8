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

void ce_bufpool_init(ce_bufpool *p, size_t cap) {
  memset(p, 0, sizeof *p);
  p->cap = cap;
}

void *ce_bufpool_get(ce_bufpool *p, size_t len) {
  unsigned k = size_class(len ? len : 1);
  if (k < CE_BUFPOOL_CLASSES && p->free[k]) {
    void *b = p->free[k];
    memcpy(&p->free[k], b, sizeof(void *));
    p->cached -= (size_t)1 << (MIN_SHIFT + k);
    return b;
  }
  size_t sz = k < CE_BUFPOOL_CLASSES ? (size_t)1 << (MIN_SHIFT + k) : len;
  /* Aligned for unbuffered I/O; freed with pm_aligned_free only. */
  void *b = pm_aligned_alloc(4096, sz);
  if (!b) {
    pm_report_notef("pomove: out of memory (%zu bytes for an I/O buffer)\n",
                    sz);
    abort();
  }
  return b;
}

void ce_bufpool_put(ce_bufpool *p, void *buf, size_t len) {
  if (!buf) return;
  unsigned k = size_class(len ? len : 1);
  size_t sz = (size_t)1 << (MIN_SHIFT + k);
  if (k >= CE_BUFPOOL_CLASSES || p->cached + sz > p->cap) {
    pm_aligned_free(buf);
    return;
  }
  memcpy(buf, &p->free[k], sizeof(void *));
  p->free[k] = buf;
  p->cached += sz;
}

void ce_bufpool_destroy(ce_bufpool *p) {
  for (unsigned k = 0; k < CE_BUFPOOL_CLASSES; k++) {
    void *b = p->free[k];
    while (b) {
      void *next;
      memcpy(&next, b, sizeof next);
      pm_aligned_free(b);
      b = next;
    }
    p->free[k] = NULL;
  }
  p->cached = 0;
}
