/* engine_internal.h - shared state of the copy engine's threads (private
 * to copyengine/). The walker lists directories and feeds a bounded queue
 * of file tasks; workers copy files on their own I/O context; directories
 * get their metadata when their last child is done.
 *
 * Layers. The files of the copy engine call each other one way: a file
 * calls only files on the lines below its own (and verify/ and
 * platform/), never one on its own line or above. Where a lower file must
 * reach up (a thread's entry point, ce_walker_main and ce_worker_main),
 * the upper file passes a function pointer down instead. The list is the
 * one place this order is kept: tests/copyengine/check_layers.sh reads
 * it and checks every object file of pm_copyengine with nm (the CTest
 * test_copy_layers); a new file must be given its line here.
 *
 * layers: begin
 *   engine.c       ce_copy(): preflight, set-up, threads, the end of a copy
 *   walk.c         the walker thread: lists SRC, makes directories, queues
 *   worker.c       the worker thread's loop
 *   file.c         a file from its open to its end: start, finish, reap
 *   update.c       an update's decision per file (carry over, hash, copy)
 *   busy.c         files held by another program, tried again later
 *   hardlinks.c    hard-link groups: the first path copied, others linked
 *   pipeline.c     chunks: read, hash in file order, write, complete
 *   checkpoint.c   checkpoints of large files, and resuming from them
 *   commit.c       batches of complete files and the committer thread
 *   uncached.c     the uncached-I/O policy (O_DIRECT, NO_BUFFERING)
 *   meta.c         xattrs, named streams, directory metadata
 *   ctx.c          the shared state: interrupt, queue, error counts
 *   journal.c      the copy's journal (resume after a crash)
 *   state.c preflight.c bufpool.c   the state records, preflight, buffers
 * layers: end
 */
#ifndef POMOVE_ENGINE_INTERNAL_H
#define POMOVE_ENGINE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "copyengine.h"
#include "hash.h"
#include "journal.h"
#include "manifest.h"
#include "platform.h"
#include "state.h"
#include "thread.h"

typedef struct ce_dnode {
  struct ce_dnode *parent;
  char *rel; /* "" for the root */
  pm_stat st;
  atomic_long pending; /* listing reference + children not yet done */
  bool created;        /* the destination directory exists */
  bool made;           /* ... and this run made it (private: mkdir 0700) */
} ce_dnode;

typedef struct ce_task {
  struct ce_task *next;
  ce_dnode *dir;
  char *rel;
  unsigned attempts;
  bool force_copy; /* an update found its data changed: copy, no checks */
  bool fast_tried; /* the walker's ce_update_unchanged said no */
  /* Held by another program (PM_EBUSY): the file is put aside on its
   * worker's busy list and tried again from busy_next_ns on, until
   * busy_wait_ns after busy_since_ns. busy_tries 0: never found busy. */
  unsigned busy_tries;
  uint64_t busy_since_ns, busy_next_ns;
  /* The hard-link group whose first path this file is, kept while it
   * waits (its other paths wait for it), or NULL. */
  struct ce_hardlink *busy_hl;
} ce_task;

typedef struct ce_hardlink ce_hardlink;

typedef struct ce_ctx {
  const ce_options *o;
  const pm_fs *fs;
  const pm_io_engine_ops *eng;
  char *src, *dst;
  /* The roots, opened once: every entry is reached beneath them with the
   * fs table's *_at calls, which follow no symlink in any component, so
   * that a directory swapped for a symlink while the copy runs cannot lead
   * a read out of SRC or a write out of DST. c->src and c->dst serve only
   * to name entries in reports. dst_fd also serves syncfs. */
  pm_fd src_fd, dst_fd;
  bool sync_fs;  /* batches are made durable by one syncfs each */
  bool no_syncfs; /* the platform has no syncfs here: flush every file */
  bool root_user;
  uint32_t euid, egid;
  unsigned chunk, chunks_per_file, files_per_worker;
  uint64_t budget; /* bytes in flight per worker */
  uint64_t ubudget; /* the same while it copies a file uncached (>= budget) */
  unsigned uchunk;  /* chunk of a file copied uncached (>= chunk) */
  unsigned batch_files;
  uint64_t batch_bytes, ckpt_bytes;
  uint64_t direct_min; /* UINT64_MAX: no uncached writes */
  uint32_t cmask;      /* pm_create_mask(): bits creation strips */
  bool exact_modes;    /* a new file's mode given at creation sticks */

  pm_mutex qmu;
  pm_cond qnotempty, qnotfull;
  ce_task *qhead, *qtail;
  /* Changed under qmu only; read without it by ce_queue_len (a listing
   * thread of an update asks at every file it lists). */
  atomic_size_t qlen;
  size_t qcap;
  bool qclosed;
  unsigned idle_workers;

  pm_mutex hlmu;
  ce_hardlink **hl;
  size_t hlcap, hlcount;

  pm_manifest_writer *mw;
  ce_journal *j;
  /* An update: the state the last copy left (NULL when adopting a tree
   * with --checksum), and the state this run writes (NULL without a
   * manifest). */
  bool update, adopt;
  bool resumed; /* records of an earlier run were loaded from the journal */
  int64_t racy_ns;
  const ce_state *old_state;
  ce_state_writer *sw;
  atomic_bool xattr_unsupported;
  atomic_bool streams_unsupported; /* streams_list said PM_ENOTSUP once */

  atomic_uint_least64_t files, dirs, symlinks, hardlinks, specials, bytes,
      hashed, skipped, errors, seen_files, resumed_files, resumed_bytes, rewritten,
      verified, mismatches, copied, unchanged, metaonly, deleted, racy,
      left, busy;
  atomic_bool walk_done;
  atomic_uint running; /* workers still running */
  pm_mutex donemu;
  pm_cond donecv; /* a worker or the walker ended */
  atomic_int fatal; /* a PM_E* that stops the whole copy (ENOSPC ...) */
} ce_ctx;

/* ---- ctx.c: the shared state ---- */
/* Whether the copy should stop: interrupted, or a fatal error. */
bool ce_interrupted(const ce_ctx *c);
/* Reports a failed operation on path and counts it; a full or read-only
 * destination makes the error fatal. */
void ce_count_error(ce_ctx *c, const char *op, const char *path, int err);
/* The file queue from the walker to the workers. */
void ce_queue_push(ce_ctx *c, ce_task *t);
/* Queues the n tasks linked from head to tail at once, in that order
 * (a run of one directory's files: a worker keeps its directory handles
 * from one to the next). */
void ce_queue_push_run(ce_ctx *c, ce_task *head, ce_task *tail, size_t n);
/* The tasks waiting in the queue now. */
size_t ce_queue_len(ce_ctx *c);
ce_task *ce_queue_pop(ce_ctx *c, bool wait);
/* Waits at most timeout_ns for a task (less when the copy is interrupted);
 * NULL when none came. *closed is set when the queue is closed and empty:
 * no task will come any more. */
ce_task *ce_queue_pop_timed(ce_ctx *c, uint64_t timeout_ns, bool *closed);
/* The walker is done: no task will come any more. */
void ce_queue_close(ce_ctx *c);
/* Wakes threads blocked on the queue (interrupt, fatal error). */
void ce_queue_wake(ce_ctx *c);
/* Wakes the thread waiting in ce_copy() for the end. */
void ce_signal_done(ce_ctx *c);

/* ---- the threads ce_copy() starts ---- */
/* The walker (walk.c) and the workers (worker.c). */
void ce_walker_main(void *arg);
void ce_worker_main(void *arg);
/* The hard-link groups met by the workers (hardlinks.c). */
void ce_hardlinks_free(ce_ctx *c);

/* ---- update.c: an update's untouched-file decision ---- */
/* rel's entry `leaf` beneath the SRC and DST directory handles sdir and
 * ddir: true when both ends are as the old state records them and the
 * file was carried over (manifest line and state record written, counted
 * as unchanged); false when it needs the full decision of a worker. Any
 * thread may call it. */
bool ce_update_unchanged(ce_ctx *c, const char *rel, pm_fd sdir, pm_fd ddir,
                         const char *leaf);

/* ---- meta.c: metadata of a finished entry ---- */
/* A child of d is done (or d's own listing): the last one applies d's
 * metadata and releases its parent in turn. */
void ce_dnode_release(ce_ctx *c, ce_dnode *d);
/* Copies the extended attributes of srel beneath the handle sdir to drel
 * beneath ddir; sp and dp name them in reports. An open file passes its
 * own handles and "" (no path lookup at all). With `prune` (an entry
 * pomove did not create in this run), attributes of drel that srel does
 * not have are removed. */
int ce_copy_xattrs(ce_ctx *c, pm_fd sdir, const char *srel, pm_fd ddir,
                   const char *drel, const char *sp, const char *dp,
                   bool prune);
void ce_apply_dir_meta(ce_ctx *c, ce_dnode *d);
/* Copies the named data streams (NTFS alternate data streams) of the
 * file open at sfd to the file open at dfd, each whole and by handle;
 * with `sync`, flushes each stream written. With `reconcile` (a copy
 * that was there before this run: an update's, a resumed one), the
 * copy's streams that the source no longer has are removed, and a
 * read-only copy is made writable first when it has streams to write or
 * remove. 0, or the PM_E* code of the first failure, *op then naming it
 * ("copy stream 'NAME' of", malloc'd) and *on_src whether it was the
 * source's. A file system without streams (PM_ENOTSUP) makes this do
 * nothing from then on. */
int ce_copy_streams(ce_ctx *c, pm_fd sfd, pm_fd dfd, bool sync,
                    bool reconcile, char **op, bool *on_src);

#endif
