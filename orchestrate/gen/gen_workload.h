/* gen_workload.h - the benchmark's other workloads, written with the same
 * deterministic, fast writer as the postoffice: many tiny files and a few
 * large ones. Used by `pomove gen-postoffice --tiny/--large` and by
 * bench/run.sh. Owner: orchestrate/gen/ (pm_gen). */
#ifndef POMOVE_GEN_WORKLOAD_H
#define POMOVE_GEN_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "gen_postoffice.h"

/* Files per directory of the tiny-file tree. */
#define BENCH_TINY_PER_DIR 1000u
/* Largest tiny file. */
#define BENCH_TINY_MAX 4096u

/* `files` files of 1..4096 bytes under root/dNNNN/ (at most
 * BENCH_TINY_PER_DIR a directory). 0 or a PM_E* code (reported). */
int bench_gen_tiny(const char *root, uint64_t files, uint32_t seed,
                   bool quiet, po_gen_stats *st);

/* `files` files of exactly `size` bytes each, root/LARGEnn.BIN. */
int bench_gen_large(const char *root, uint64_t files, uint64_t size,
                    uint32_t seed, bool quiet, po_gen_stats *st);

#endif
