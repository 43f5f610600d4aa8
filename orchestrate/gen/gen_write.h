/* gen_write.h - the fast, deterministic tree writer shared by the
 * generators of orchestrate/gen/ (the postoffice, the tiny-file and the
 * large-file workloads).
 * Content comes from a random pool filled once per run from the seed, so
 * writing a file costs a memcpy of its first chunk and pwrites straight
 * from the pool for the rest. Every call goes through the platform fs
 * table; the first error is reported (operation, path, OS error) and
 * returned, and later calls do nothing. Internal to orchestrate/gen/. */
#ifndef POMOVE_GEN_WRITE_H
#define POMOVE_GEN_WRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "gen_postoffice.h"
#include "platform.h"
#include "util.h"

/* ---- Deterministic random numbers ----
 * splitmix64 spreads a seed into independent streams; xorshift64* draws.
 * Both are a few instructions, so a million-file plan costs nothing. */
typedef struct po_rng {
  uint64_t s;
} po_rng;

uint64_t po_splitmix64(uint64_t *state);
void po_rng_seed(po_rng *r, uint64_t seed, uint64_t stream);
uint64_t po_rng_next(po_rng *r);
/* Uniform in [0, n) (n > 0). */
uint64_t po_rng_below(po_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double po_rng_unit(po_rng *r);
/* Log-normal with the given median and sigma, clamped to [lo, hi]. */
uint64_t po_rng_lognormal(po_rng *r, double median, double sigma, uint64_t lo,
                          uint64_t hi);

typedef enum po_content { PO_CONTENT_BINARY, PO_CONTENT_TEXT } po_content;

typedef struct po_writer po_writer;

/* Creates `root` (and missing parents); refuses a root that exists and is
 * not an empty directory (PM_EEXIST / PM_ENOTDIR, reported). `label` names
 * the progress line; totals may be 0 when unknown. */
int po_writer_open(po_writer **out, const char *root, uint32_t seed,
                   bool quiet, const char *label, uint64_t files_total,
                   uint64_t bytes_total);
/* `rel` is '/'-separated below root. The directory's mode and times are
 * applied by po_writer_close, after its contents. */
int po_writer_dir(po_writer *w, const char *rel, uint32_t mode,
                  pm_time mtime);
/* Writes a file of exactly `size` bytes whose content depends only on
 * `content_seed` (and the run's seed), then sets its mode and times. */
int po_writer_file(po_writer *w, const char *rel, uint64_t size,
                   uint32_t mode, pm_time mtime, uint64_t content_seed,
                   po_content kind);
/* Applies directory metadata, finishes progress, fills *st (may be NULL)
 * and frees the writer. Returns the first error of the run, or 0. */
int po_writer_close(po_writer *w, po_gen_stats *st);

#endif
