/* copyengine.h - the parallel, checksummed tree copier.
 *
 * ce_copy() copies the tree SRC to DST: a parallel walk feeds bounded
 * queues; worker threads keep many small files and several chunks of each
 * large file in flight on an asynchronous I/O engine; every file's
 * XXH3-128 is computed on the bytes read for the copy; a manifest of the
 * copied tree is written in xxh128sum's format. Callers: the `pomove copy`
 * command and the orchestrated move. */
#ifndef POMOVE_COPYENGINE_H
#define POMOVE_COPYENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "platform.h"

typedef struct ce_progress_info {
  uint64_t files_done, bytes_done;
  uint64_t files_seen, bytes_seen; /* found by the walk so far */
  bool walk_done;
  uint64_t errors;
} ce_progress_info;

enum { CE_SYNC_FS = 0, CE_SYNC_FILE = 1 };

#define CE_DIRECT_MIN_DEFAULT (16ull << 20)
/* Bytes in flight per worker while it copies a file uncached (uncached.c),
 * unless inflight_bytes is given. */
#define CE_UNCACHED_INFLIGHT_DEFAULT (32ull << 20)
/* Chunk of a file copied uncached, unless chunk_size is given: one huge
 * page of buffer (see pm_aligned_alloc). */
#define CE_UNCACHED_CHUNK_DEFAULT (2u << 20)
#define CE_BUSY_WAIT_DEFAULT (30ll * 1000000000ll) /* 30 s */

typedef struct ce_options {
  const char *src;
  const char *dst;
  const pm_fs *fs;             /* NULL: pm_fs_native() */
  const pm_io_engine_ops *engine;  /* NULL: pm_io_engine_default() */
  unsigned threads;                /* 0: number of CPUs */
  unsigned files_in_flight;        /* per worker; 0: default */
  unsigned chunk_size;             /* bytes; 0: default (1 MiB) */
  unsigned chunks_in_flight;       /* per large file; 0: default */
  const char *manifest_path;       /* NULL: default "<DST>.xxh128" */
  bool no_manifest;
  bool merge;       /* allow a non-empty DST */
  bool specials;    /* create FIFOs, sockets, devices instead of skipping */
  bool verify;      /* re-read each copy from the medium and compare */
  unsigned verify_retries; /* copies again after a mismatch (default 1) */
  bool journal;     /* resumable (default on in the CLI) */
  const char *journal_path; /* NULL: default "<DST>.pomove-journal" */
  bool restart;     /* ignore an existing journal */
  /* Durability batches: a batch is flushed (one syncfs, then journal
   * records) after this many files or bytes, or after a second; large
   * files are checkpointed every checkpoint_bytes. 0: defaults (2048
   * files, 512 with verify; 256 MiB; 64 MiB). Smaller values bound what
   * a crash makes a rerun write again. */
  unsigned batch_files;
  uint64_t batch_bytes;
  uint64_t checkpoint_bytes;
  uint64_t inflight_bytes; /* buffer bytes in flight per worker; 0: 16 MiB,
                              32 MiB for an uncached file (uncached.c) */
  /* How complete files are made durable before they are recorded (with a
   * journal or --verify): CE_SYNC_FS, one flush of the destination's file
   * system per batch (the default; falls back to CE_SYNC_FILE where the
   * platform has no such flush), or CE_SYNC_FILE, an fdatasync per file,
   * queued on the engine, which never waits for other programs' data. */
  int sync_mode;
  /* Files of at least this many bytes have their data read and written
   * uncached (O_DIRECT; FILE_FLAG_NO_BUFFERING on Windows), between the
   * medium and the chunk buffers, where the file systems take it. 0: default
   * (CE_DIRECT_MIN_DEFAULT); UINT64_MAX: never. */
  uint64_t direct_min;
  /* Bring an existing copy up to date (`copy --update`): a file whose
   * source and copy both match the state the last copy left
   * (ce_state_path_for()) is skipped without being read; a changed one is
   * read and copied again, or only gets its new metadata when its data
   * hash as recorded. Refused (PM_ESTATE, res->refused) when DST has no
   * state, unless `checksum` is set: then the existing tree is adopted by
   * hashing both sides. A run without `update` into a DST that has a
   * state of the same SRC is an update too (a rerun of a finished copy). */
  bool update;
  bool delete_gone; /* with update: remove entries of DST gone from SRC */
  bool checksum;    /* with update: hash every source file, trust no stat */
  /* A file that keeps changing while it is read (or vanishes) is left for
   * the next pass and counted, not failed: for staging a live tree. */
  bool live;
  const char *state_path; /* NULL: beside the manifest (state.h) */
  /* How close to the moment of its read a file's mtime or ctime may be
   * before the file counts as "racy" and is hashed again by the next
   * update. 0: by the source's file system (FAT 2 s, others 1 s). */
  int64_t racy_ns;
  /* A file another program holds (PM_EBUSY: on Windows a sharing
   * violation at its open, or a byte range it locked at a read) is put
   * aside and tried again, after 100 ms, then twice as long each time up
   * to 5 s, while the worker copies other files; this long after it was
   * first found busy it is reported as an error. 0: reported at once.
   * ce_options_init gives CE_BUSY_WAIT_DEFAULT. */
  int64_t busy_wait_ns;
  /* Called from one thread at a time, at most every few ms. */
  void (*progress)(const ce_progress_info *info, void *arg);
  void *progress_arg;
  atomic_int *interrupt; /* set non-zero to stop early (signal handler) */
} ce_options;

typedef struct ce_result {
  uint64_t files, dirs, symlinks, hardlinks, specials;
  uint64_t bytes;          /* file bytes written */
  uint64_t bytes_hashed;
  uint64_t skipped;        /* specials skipped, unsupported types */
  uint64_t errors;         /* entries that failed */
  uint64_t resumed_files_skipped, resumed_bytes_skipped;
  uint64_t rewritten_bytes; /* bytes a resumed run found on disk but not
                               recorded as durable, and wrote again */
  uint64_t verified_files, verify_mismatches;
  /* An update's accounting (also of a plain run: then all are 0 but
   * copied). copied: files whose data were written this run. */
  uint64_t copied, skipped_unchanged, metadata_only, deleted, racy_rehashed,
      left_for_next_pass;
  /* Files found held by another program (PM_EBUSY) and waited for; those
   * still held when busy_wait_ns ran out are in errors too. */
  uint64_t busy_waited;
  bool update; /* ran as an update of an earlier copy */
  char state[4096]; /* the state published, or "" */
  double seconds;
  char engine[16];
  char manifest[4096];
  bool interrupted;
  bool refused; /* SRC/DST unusable: nothing was copied */
} ce_result;

/* Fills defaults into a zeroed options struct. */
void ce_options_init(ce_options *o);

/* Returns PM_OK when every entry was copied; a PM_E* code when the copy
 * could not start or could not finish (reported on stderr with path,
 * operation and OS error). Per-entry failures are reported, counted in
 * res->errors, and do not stop the copy; the return is then PM_OK and the
 * caller decides the exit code from res->errors. */
int ce_copy(const ce_options *o, ce_result *res);

#endif
