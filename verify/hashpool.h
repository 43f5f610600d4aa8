/* hashpool.h - the parallel hashing pipeline shared by `pomove hash` and
 * the audits. A job names one file (or a pair of files, SRC and DST side)
 * to open, stat and hash. Jobs go into a bounded queue; worker threads,
 * each with its own I/O engine context, keep many files open at once and
 * several chunks of each large file in flight, and hash each file's
 * chunks in order (XXH3 streaming wants in-order updates). When a job is
 * finished the pool calls the `done` callback on the worker thread; the
 * callback owns the job from then on. Owner: verify/. */
#ifndef VF_HASHPOOL_H
#define VF_HASHPOOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hash.h"
#include "platform.h"

/* What the pool learnt about one file. Every open asks for a regular
 * file (PM_O_REGULAR), so a FIFO or device never blocks a worker: such a
 * side ends with stat_ok set, st.type saying what it is, and nothing
 * read. */
typedef struct vf_side {
  /* Full path; owned by the job (vf_job_free frees it). NULL for a job of
   * vf_job_new_beneath: its caller names the file in reports. */
  char *path;
  /* When set (vf_job_beneath), the file opened is `rel` beneath the
   * directory handle `dir` (the fs table's open_at: no symlink followed in
   * any component), and `path` only names it in reports. Owned. */
  char *rel;
  pm_fd dir;
  int err;        /* 0 or the PM_E* code of the failed operation */
  const char *op; /* "open", "stat" or "read" when err != 0 */
  int oserr;      /* the OS's own code when err != 0 */
  bool stat_ok;   /* st is valid (the file was opened and fstat'ed) */
  pm_stat st;
  bool hashed; /* hash covers the st.size bytes read */
  /* The end was taken from a short read (vf_job.short_end), never
   * confirmed by a read of 0. */
  bool short_ended;
  pm_hash128 hash;
  uint64_t bytes; /* bytes read and hashed */
} vf_side;

typedef struct vf_job {
  unsigned nsides; /* 1 or 2 */
  /* With two sides: read neither when both are regular files of
   * different sizes (the verdict "size differs" needs no hash). */
  bool size_gate;
  /* Open through a symlink in the last component; otherwise a symlink
   * met at open is an error (PM_ELOOP). */
  bool follow;
  /* Skip fstat (one syscall less per file) and read until a read returns
   * 0: for manifests, where only the bytes matter. stat_ok stays false,
   * and a directory fails its read with PM_EISDIR. */
  bool no_stat;
  /* With no_stat: a read that returns less than it asked for ends the
   * file, so that a small file costs one read instead of two (the second
   * only finding the end). The kernel returns a short read of a regular
   * file only at its end (io_uring retries a short buffered read itself),
   * or with an error right after partial data; a caller that sets this
   * must confirm a surprising result (side.short_ended): the manifest
   * audit reads a mismatching file again to a read of 0. */
  bool short_end;
  vf_side side[2];
  uint64_t seq; /* the caller's (e.g. output order) */
  void *udata;  /* the caller's */
  bool rel_inline; /* side[0].rel lives in the job's own allocation */
} vf_job;

/* A job for one path (copied) or two; free with vf_job_free. */
vf_job *vf_job_new1(const char *path);
vf_job *vf_job_new2(const char *path_a, const char *path_b, bool size_gate);
void vf_job_free(vf_job *job);
/* A one-side job that opens `rel` (copied) beneath `dir`, with no path:
 * one allocation per job, for the manifest audit's many small files. */
vf_job *vf_job_new_beneath(pm_fd dir, const char *rel);
/* Makes side `side` of a job open `rel` beneath `dir` (see vf_side). */
void vf_job_beneath(vf_job *job, unsigned side, pm_fd dir, const char *rel);

typedef struct vf_pool vf_pool;

typedef struct vf_pool_opts {
  const pm_fs *fs;            /* NULL: pm_fs_native() */
  const pm_io_engine_ops *engine; /* NULL: pm_io_engine_default() */
  unsigned threads;               /* 0: default (see vf_pool_default_threads) */
  unsigned files_per_thread;      /* 0: 32 */
  unsigned chunk_size;            /* 0: 256 KiB */
  unsigned chunks_per_file;       /* 0: 4 */
  /* Called on a worker thread for every finished job; may be called from
   * several threads at once. */
  void (*done)(vf_job *job, void *arg);
  void *arg;
  /* Called on the submitting thread about every 100 ms while it waits in
   * vf_pool_submit or vf_pool_finish (progress lines). May be NULL. */
  void (*tick)(void *arg);
  /* Set non-zero (by a signal handler) to stop: jobs not yet started and
   * files being read end with err PM_ECANCELED at once, without waiting
   * for their reads; the callback still gets every job. May be NULL. */
  atomic_int *interrupt;
} vf_pool_opts;

/* Default worker count: more threads than CPUs, because opening and
 * stat'ing files are synchronous calls that wait for the disk when the
 * cache is cold, and only threads overlap those waits. */
unsigned vf_pool_default_threads(void);

/* Starts the workers, each with its own engine context. Returns 0 or the
 * PM_E* code of the engine's init (reported by the caller). */
int vf_pool_create(const vf_pool_opts *o, vf_pool **out);
/* Queues a job; blocks while the queue is full. Jobs are handed to the
 * workers in batches: vf_pool_flush (or vf_pool_finish) hands over a
 * partial batch. Only one thread submits. */
void vf_pool_submit(vf_pool *p, vf_job *job);
void vf_pool_flush(vf_pool *p);
/* Waits for every queued job to be done, stops the workers and frees the
 * pool; *files and *bytes (may be NULL) get the final vf_pool_counts.
 * Returns 0, or the PM_E* code of an engine failure that stopped a
 * worker (its jobs were then reported as failed reads). */
int vf_pool_finish(vf_pool *p, uint64_t *files, uint64_t *bytes);

/* Running totals of sides read and hashed, and of their bytes; any
 * thread. */
void vf_pool_counts(vf_pool *p, uint64_t *files, uint64_t *bytes);
const char *vf_pool_engine_name(const vf_pool *p);
unsigned vf_pool_threads(const vf_pool *p);

#endif
