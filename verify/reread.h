/* reread.h - hashing a file as it is on the medium, not as the page cache
 * holds it: used by `pomove copy --verify` and the audits. Owner: verify/. */
#ifndef POMOVE_REREAD_H
#define POMOVE_REREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "platform.h"

enum vf_reread_method { VF_REREAD_DIRECT, VF_REREAD_DROPCACHE };

/* Re-reads `path` and hashes it: with O_DIRECT where the file system
 * supports it, otherwise after flushing the file and dropping its cached
 * pages. *method says which was used; *size gets the bytes read.
 * Returns 0 or a PM_E* code. Thread-safe. */
int vf_hash_file_uncached(const pm_fs *fs, const char *path,
                          pm_hash128 *out, uint64_t *size, int *method);

/* The same with the caller's buffer: `buf` 4096-aligned, `bufsz` a
 * non-zero multiple of 4096. For callers that re-read many files: a
 * buffer allocated per file is mapped and unmapped each time, and with
 * many threads that contends on the process's address space. size_hint,
 * the size the file is expected to have (0: unknown), keeps each read
 * from asking for much more than is left; any size is still read whole. */
#define VF_REREAD_ALIGN 4096u
int vf_hash_file_uncached_buf(const pm_fs *fs, const char *path,
                              void *buf, size_t bufsz, uint64_t size_hint,
                              pm_hash128 *out, uint64_t *size, int *method);

/* The same for `rel` resolved beneath the directory handle `dir` with the
 * fs table's open_at (no symlink followed in any component); dir
 * PM_FD_INVALID: `rel` is a plain path, as above. */
int vf_hash_file_uncached_at(const pm_fs *fs, pm_fd dir, const char *rel,
                             void *buf, size_t bufsz, uint64_t size_hint,
                             pm_hash128 *out, uint64_t *size, int *method);

const char *vf_reread_method_name(int method);

/* One file of a batch to re-read: `rel` beneath the batch's directory,
 * its expected size (the size hint above); `skip` leaves its result
 * zeroed (a batch may hold entries that are not whole files). `order`:
 * files are opened and read in ascending order of it (ties, and 0 for
 * every file, in item order); the results stay in item order. A copy
 * gives its inode number: the file system allocates neighbouring inodes'
 * data side by side, so that neighbouring re-reads reach the device
 * together and the block layer merges them into one request. */
typedef struct vf_reread_item {
  const char *rel;
  uint64_t size;
  uint64_t order;
  bool skip;
} vf_reread_item;

/* What the re-read of one file gave: rc 0 with its hash and the bytes
 * read, or the PM_E* code of the failure and the OS's own code. */
typedef struct vf_reread_result {
  int rc, oserr;
  uint64_t size;
  pm_hash128 hash;
} vf_reread_result;

/* Re-reads n files beneath `dir` with vf_hash_file_uncached_at, up to
 * `threads` at once (the calling thread is one of them; fewer when a
 * thread cannot be started), so that the waits for the disk overlap.
 * Returns n results in the items' order, malloc'd: the caller frees
 * them. Out of memory for a thread's buffer fails its files with
 * PM_ENOMEM. */
vf_reread_result *vf_reread_batch(const pm_fs *fs, pm_fd dir,
                                  const vf_reread_item *items, size_t n,
                                  unsigned threads);

/* ---- a batch re-read through an I/O engine ----
 *
 * The same results as vf_reread_batch, with the reads queued on an I/O
 * engine (io_uring, IOCP, the thread pool) instead of issued by a few
 * blocking threads: up to `depth` reads in flight at once, so that the
 * disk sees a deep queue of re-reads. The calling thread opens each file
 * with O_DIRECT (FILE_FLAG_NO_BUFFERING), queues its reads (aligned
 * offsets and lengths, at most VF_REREADER_CHUNK each, several per large
 * file), hashes their bytes in file order as they come back, and checks
 * with fstat that the file ends where its reads ended. A file whose
 * direct open or read is refused (PM_EINVAL, PM_ENOTSUP), or whose reads
 * end anywhere but at the size it is expected to have and fstat gives,
 * is re-read again by vf_hash_file_uncached_at (the flush-and-drop
 * fallback, a file that changed size, a table that splits reads), so the
 * results are exactly what vf_hash_file_uncached_at would give. One
 * re-reader per thread; it keeps its engine context and buffers between
 * batches. */
/* 32 KiB: with a window read in the disk's order, neighbouring reads
 * merge in the block layer whatever their size, and 64 slots of 32 KiB
 * (a 2 MiB arena) kept peak RSS 1.5 MiB lower than 64 KiB slots. */
#define VF_REREADER_CHUNK (32u * 1024u)
typedef struct vf_rereader vf_rereader;

/* NULL when the engine cannot be started (the caller re-reads with
 * vf_reread_batch instead); the engine's code in *rc. */
vf_rereader *vf_rereader_new(const pm_fs *fs, const pm_io_engine_ops *eng,
                             unsigned depth, int *rc);
void vf_rereader_free(vf_rereader *r);
/* on: each run opens its files ahead (up to 4,096 at once, in the
 * items' order) and reads them in the order of where they begin on the
 * disk (pm_fs_phys_pos), so that the reads of neighbouring files reach
 * the device together and merge; files it cannot place are read first.
 * Off (the default): opened and read one after the other in the items'
 * order. */
void vf_rereader_disk_order(vf_rereader *r, bool on);
/* Re-reads n files beneath `dir`; n results in the items' order,
 * malloc'd (the caller frees them). */
vf_reread_result *vf_rereader_run(vf_rereader *r, pm_fd dir,
                                  const vf_reread_item *items, size_t n);

#endif
