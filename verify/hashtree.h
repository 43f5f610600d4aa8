/* hashtree.h - the work behind `pomove hash DIR`: a manifest of a tree,
 * what `xxh128sum` does for a list of files, but recursive and parallel.
 * Reads through the pm_fs table given (so tests can inject faults) and
 * never modifies the tree; the only file it writes is the manifest.
 * Owner: verify/; the command line (orchestrate/cli/cmd_hash.c) parses
 * the options, prints the summary and maps the outcome to an exit code. */
#ifndef VF_HASHTREE_H
#define VF_HASHTREE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "platform.h"

typedef struct vf_hash_opts {
  const pm_fs *fs;                /* NULL: pm_fs_native() */
  const pm_io_engine_ops *engine; /* NULL: pm_io_engine_default() */
  unsigned threads;               /* 0: vf_pool_default_threads() */
  /* The manifest file, or NULL to write the lines to `out`. The file is
   * written under a temporary name beside it and put in place only when
   * it is whole (manifest.h): never when a write failed or `interrupt`
   * stopped the run. When it lies inside DIR it (and its temporary name)
   * is left out of the manifest. */
  const char *output;
  FILE *out;         /* with output NULL: the lines' stream (NULL: stdout) */
  int progress_mode; /* PM_PROGRESS_*; the label is "hash" */
  /* Set non-zero (signal handler) to stop within moments: the run then
   * returns PM_ECANCELED. May be NULL. */
  atomic_int *interrupt;
} vf_hash_opts;

typedef struct vf_hash_result {
  /* The walk ran (the counts and the engine are valid, also when an
   * error is returned after it); false when DIR, the manifest file or
   * the engine could not be set up. */
  bool walked;
  /* With an error return: DIR or the manifest file is unusable as given
   * (not a readable directory; a symlink, directory or special file at
   * the manifest's name): the caller's argument, not a failure. */
  bool bad_argument;
  uint64_t files;       /* regular files hashed: one line each */
  uint64_t bytes;       /* their bytes */
  uint64_t directories; /* directories listed, DIR included */
  uint64_t skipped;     /* symlinks and special files: no line */
  uint64_t errors;      /* files or directories that could not be read */
  char engine_used[16];
  unsigned threads_used;
  double seconds; /* from the start of the hashing to its end */
} vf_hash_result;

/* Writes the XXH3-128 manifest of every regular file under `dir`, paths
 * relative to `dir`, in byte order of the whole path (listing.h,
 * VF_SORT_PATH): two manifests of similar trees diff cleanly, and
 * `LC_ALL=C sort` leaves the output unchanged. Files are hashed on the
 * hashing pool in any order; a bounded reorder window puts the lines back
 * in walk order. A file that cannot be read, or turned into a FIFO or
 * device before it was opened (never waited on), and a directory that
 * cannot be listed are reported on stderr and counted in res->errors;
 * the run goes on. Fills *res and returns 0 when the tree was walked to
 * its end and the manifest written whole; PM_ECANCELED when o->interrupt
 * stopped it; else the PM_E* code of what stopped it (DIR unusable, the
 * manifest not writable, an engine failure), reported on stderr with the
 * operation and the path. */
int vf_hash_tree(const vf_hash_opts *o, const char *dir,
                 vf_hash_result *res);

#endif
