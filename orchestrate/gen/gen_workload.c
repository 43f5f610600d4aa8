/* gen_workload.c - tiny-file and large-file workloads (gen_workload.h).
 * Times are spread over a year so that tools preserving mtimes have real
 * work to do; content is unique per file (the writer's header). */
#include "gen_workload.h"

#include <stdio.h>

#include "gen_write.h"

#define WL_T0 1262304000ll /* 2010-01-01 */

static pm_time wl_when(po_rng *r) {
  pm_time t;
  t.sec = WL_T0 + (int64_t)po_rng_below(r, 365ll * 86400);
  t.nsec = (int32_t)po_rng_below(r, 1000000000);
  return t;
}

int bench_gen_tiny(const char *root, uint64_t files, uint32_t seed,
                   bool quiet, po_gen_stats *st) {
  po_rng r;
  po_rng_seed(&r, seed, 2);
  /* The byte total is drawn up front so that the progress line has it. */
  uint64_t total = 0;
  for (uint64_t i = 0; i < files; i++)
    total += 1 + po_rng_below(&r, BENCH_TINY_MAX);
  po_rng_seed(&r, seed, 2);
  po_writer *w;
  int rc = po_writer_open(&w, root, seed, quiet, "generate", files, total);
  char rel[64];
  for (uint64_t i = 0; !rc && i < files; i++) {
    uint64_t size = 1 + po_rng_below(&r, BENCH_TINY_MAX);
    if (i % BENCH_TINY_PER_DIR == 0) {
      snprintf(rel, sizeof rel, "d%04llu",
               (unsigned long long)(i / BENCH_TINY_PER_DIR));
      rc = po_writer_dir(w, rel, 0755, wl_when(&r));
      if (rc) break;
    }
    snprintf(rel, sizeof rel, "d%04llu/f%07llu.dat",
             (unsigned long long)(i / BENCH_TINY_PER_DIR),
             (unsigned long long)i);
    pm_time t = wl_when(&r);
    rc = po_writer_file(w, rel, size, 0644, t, i + 1, PO_CONTENT_BINARY);
  }
  int crc = po_writer_close(w, st);
  return rc ? rc : crc;
}

int bench_gen_large(const char *root, uint64_t files, uint64_t size,
                    uint32_t seed, bool quiet, po_gen_stats *st) {
  po_rng r;
  po_rng_seed(&r, seed, 3);
  po_writer *w;
  int rc = po_writer_open(&w, root, seed, quiet, "generate", files,
                          files * size);
  char rel[64];
  for (uint64_t i = 0; !rc && i < files; i++) {
    snprintf(rel, sizeof rel, "LARGE%02llu.BIN", (unsigned long long)i);
    pm_time t = wl_when(&r);
    rc = po_writer_file(w, rel, size, 0644, t, i + 1, PO_CONTENT_BINARY);
  }
  int crc = po_writer_close(w, st);
  return rc ? rc : crc;
}
