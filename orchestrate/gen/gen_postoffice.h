/* gen_postoffice.h - deterministic generator of a realistic MS Mail
 * connector postoffice (the Msmcon tree: Bin and Maildata), with the
 * layout and record sizes of ../shared/DOMAIN.md. Used by
 * `pomove gen-postoffice`, the benchmarks, the tests and the sample
 * simulated host. Owner: orchestrate/gen/ (pm_gen). */
#ifndef POMOVE_GEN_POSTOFFICE_H
#define POMOVE_GEN_POSTOFFICE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct po_gen_options {
  const char *root;   /* the Msmcon folder to create (must not exist or be
                         empty); gets root/Bin and root/Maildata */
  uint64_t files;     /* approximate number of files in all (>= ~60) */
  uint64_t bytes;     /* approximate total size; 0: realistic default for
                         the file count (about 30 KiB a file on average) */
  uint32_t seed;      /* same seed and sizes: byte-identical tree */
  bool with_bin;      /* write Bin\ (Mt.exe, Mtperf.dll ...) */
  bool with_macgate;  /* write Maildata\Macgate\... (AppleTalk side) */
  bool quiet;
} po_gen_options;

typedef struct po_gen_stats {
  uint64_t files, dirs, bytes;
} po_gen_stats;

void po_gen_options_init(po_gen_options *o);
/* 0 or a PM_E* code (reported with path and operation). */
int po_generate(const po_gen_options *o, po_gen_stats *st);

#endif
