/* uncached.c - the uncached-I/O policy of the copy engine: which data go
 * past the OS's cache, and the shape of their requests. A large file's
 * data go uncached on a second descriptor at each end where the file
 * system takes it (O_DIRECT on Linux, FILE_FLAG_NO_BUFFERING on
 * Windows): a large move gains nothing from filling the cache with a
 * source it is leaving and a copy nobody reads yet.
 *
 * What differs between the OSes is what they refuse: both want the
 * offset, the length and the buffer aligned (DIRECT_ALIGN, 4096, covers
 * every sector size in use); Linux answers EINVAL for a misaligned
 * request on most file systems and accepts it on some (tmpfs refuses the
 * open instead); Windows fails every misaligned NO_BUFFERING request with
 * ERROR_INVALID_PARAMETER (87), which reaches here as PM_EINVAL too, and
 * Wine does not enforce the rule at all (test_engine_iocp's strict
 * wrapper does). So: the last chunk of a write is padded to the
 * alignment and cut off again by the truncate to the file's size, the
 * tail of a read is asked for rounded up (the read stops at the end), a
 * request refused all the same sends the file on through the cache, and
 * the rest of a short uncached transfer goes through the cache. file.c
 * opens and closes the descriptors; pipeline.c shapes each request.
 *
 * How much of a large file is in flight is this file's too. A disk
 * wants many MiB in flight to stream (pm_floor, which writes each file
 * with one O_DIRECT write, keeps the loop device's whole queue busy;
 * O_DIRECT writes of 16 MiB in flight here were slower than of 64); with the
 * engine's four chunks a file, 4 MiB were. So an uncached file may fill
 * its worker's whole in-flight budget (ce_uncached_chunks), and a worker
 * that has just started one takes no other file until the file's chunks
 * are issued (ce_uncached_streams): the next large file goes to another
 * worker, as pm_floor writes two files at once on two threads, instead
 * of one worker taking all of them at its first admission (nothing in
 * flight yet, so the budget did not stop it) while the others idle.
 * Each worker's buffers are capped by the budget (bufpool).
 *
 * How much is enough (session 9, 4 x 1 GiB warm, DST on a loop device
 * that takes requests of at most 1.25 MiB and queues 128): with 16 MiB a
 * worker the device saw a queue of 20-35 requests, pm_floor's writes
 * 85-126, and pomove took 1.5-1.6x the floor's time; with 64 MiB the
 * queue was 78-118. Once the chunks were 2 MiB (below), 32 MiB a worker
 * (a queue of 36-54) was as fast as 64 MiB (7 alternated runs each,
 * medians within the noise of the loaded machine) and faster than 16 MiB
 * (4 runs: 2.20 s against 2.69 s). So a worker copying a file uncached
 * may have CE_UNCACHED_INFLIGHT_DEFAULT (32 MiB) in flight (c->ubudget),
 * any other file the ordinary budget (16 MiB: small files gain nothing
 * from more, and the postoffice's peak RSS target is 64 MiB); an
 * explicit --inflight-bytes sets both. The cost is memory on large files
 * only: peak RSS 67 MiB on 4 x 1 GiB (35 MiB before; 131 MiB at 64).
 *
 * And the size of the requests: a request the loop device takes is at
 * most 128 segments of physically contiguous memory, so a 1 MiB buffer
 * of scattered 4 KiB pages reached it as two or three requests of 512
 * KiB or less (the same run gave a mean of 500 KiB or of 980 KiB, as the
 * pages fell), where pm_floor's huge buffer made 1.25 MiB ones; with the
 * disk busy all along, the run took as long as its requests. So an
 * uncached file's chunks are 2 MiB (CE_UNCACHED_CHUNK_DEFAULT, unless
 * --chunk-size is given), each one buffer that Linux backs with one huge
 * page (pm_aligned_alloc), half the requests to issue and complete. */
#include <string.h>

#include "worker_internal.h"

/* Closes f's uncached descriptors, once no request uses them. */
void ce_uncached_close(worker *w, fstate *f) {
  f->direct = f->sdirect = false;
  if (f->ddfd != PM_FD_INVALID) pm_fs_close(w->c->fs, f->ddfd);
  if (f->sdfd != PM_FD_INVALID) pm_fs_close(w->c->fs, f->sdfd);
  f->ddfd = f->sdfd = PM_FD_INVALID;
}

uint32_t ce_uncached_round(uint64_t len) {
  return (uint32_t)((len + DIRECT_ALIGN - 1) & ~(uint64_t)(DIRECT_ALIGN - 1));
}

uint64_t ce_uncached_budget(const ce_ctx *c, const fstate *f) {
  return ce_uncached_streams(f) ? c->ubudget : c->budget;
}

unsigned ce_uncached_chunk(const ce_ctx *c, const fstate *f) {
  return ce_uncached_streams(f) ? c->uchunk : c->chunk;
}

unsigned ce_uncached_chunks(const ce_ctx *c, const fstate *f) {
  if (!ce_uncached_streams(f)) return c->chunks_per_file;
  uint64_t n = c->ubudget / c->uchunk;
  return n > c->chunks_per_file ? (unsigned)(n < 4096 ? n : 4096)
                                : c->chunks_per_file;
}

bool ce_uncached_streams(const fstate *f) { return f->direct || f->sdirect; }

/* Opens f's uncached descriptors, when f is large enough and the file
 * system takes them; f->direct and f->sdirect say which it got. */
void ce_uncached_open(worker *w, fstate *f, pm_fd sdir, pm_fd ddir,
                      const char *leaf) {
  ce_ctx *c = w->c;
  if (f->hash_only || f->sparse || f->st.size < c->direct_min ||
      f->issue_off % DIRECT_ALIGN != 0)
    return;
  /* A second, uncached descriptor for the data; where the file system
   * refuses one, the file is written through the cache. */
  if (pm_fs_open_at(c->fs, ddir, leaf,
                     PM_O_WRONLY | PM_O_DIRECT | PM_O_NOFOLLOW, 0,
                     &f->ddfd) == 0) {
    f->direct = true;
    /* The copy is given its size before its first write. An uncached
     * write past the end of a file is one the file system makes alone
     * and waits for: ext4 takes the inode's lock exclusively for it and
     * completes it before the next one starts (perf on 4 x 1 GiB: 17% of
     * all samples were io-wq threads spinning on that lock, and the
     * chunks in flight on one file went to the disk one at a time);
     * NTFS, too, makes a write that extends a file synchronous. Within
     * the size, writes are submitted and complete side by side. Best
     * effort: where the size cannot be set, the writes still work, as
     * they did before. The padded last chunk reaches past the size and
     * is cut off as before (finish_file). */
    if (f->st.size > f->issue_off)
      (void)pm_fs_ftruncate(c->fs, f->ddfd, f->st.size);
  } else {
    f->ddfd = PM_FD_INVALID;
  }
  /* And one for reading SRC, if it is still the file we opened: a
   * large move gains nothing from filling the cache with a source it is
   * leaving. A source already in the cache (its first, middle and last
   * pages, as far as the OS tells) is read from there. */
  pm_stat sst;
  bool in_cache = pm_fs_cached(c->fs, f->sfd, 0) == PM_OK &&
                  pm_fs_cached(c->fs, f->sfd, f->st.size / 2) == PM_OK &&
                  pm_fs_cached(c->fs, f->sfd, f->st.size - 1) == PM_OK;
  if (!in_cache &&
      pm_fs_open_at(c->fs, sdir, leaf,
                     PM_O_RDONLY | PM_O_DIRECT | PM_O_NOFOLLOW |
                         PM_O_NOATIME | PM_O_REGULAR,
                     0, &f->sdfd) == 0) {
    if (pm_fs_fstat(c->fs, f->sdfd, &sst) == 0 && sst.dev == f->st.dev &&
        sst.ino == f->st.ino) {
      f->sdirect = true;
    } else {
      pm_fs_close(c->fs, f->sdfd);
      f->sdfd = PM_FD_INVALID;
    }
  } else {
    f->sdfd = PM_FD_INVALID;
  }
}

/* A write of ch's data: uncached when its file writes so and its offset
 * is aligned. The last chunk is padded with zeros, cut off again by the
 * truncate to the file's size. */
void ce_uncached_write(fstate *f, chunk *ch) {
  if (f->direct && ch->off % DIRECT_ALIGN == 0) {
    /* Uncached: the offset, the length and the buffer must be aligned. */
    ch->wlen = ce_uncached_round(ch->len);
    if (ch->wlen > ch->len) {
      memset(ch->buf + ch->len, 0, ch->wlen - ch->len);
      f->padded = true;
    }
    ch->req.fd = f->ddfd;
  }
}

/* A read of ch (req.len the chunk's length): uncached when its file
 * reads so and its offset is aligned. */
void ce_uncached_read(fstate *f, chunk *ch) {
  if (f->sdirect && ch->off % DIRECT_ALIGN == 0) {
    /* The tail is asked for rounded up: the read stops at the end. */
    ch->req.fd = f->sdfd;
    ch->req.len = ce_uncached_round(ch->len);
  }
}

/* A request that came back PM_EINVAL: when it went uncached, before any
 * byte moved, the file system takes no uncached I/O of this shape after
 * all, and ch is made to go through the cache (true: submit it again). */
bool ce_uncached_refused(fstate *f, chunk *ch) {
  if (!(ch->done == 0 && !f->err &&
        ch->req.fd != (ch->writing ? f->dfd : f->sfd)))
    return false;
  /* This file goes on through the cache (requests already in flight on
   * the uncached descriptor come back here too). */
  if (ch->writing) {
    f->direct = false;
    ch->req.fd = f->dfd;
    ch->req.len = ch->wlen = ch->len;
    f->inflight_epoch[ch->epoch % EPOCH_RING]++;
  } else {
    f->sdirect = false;
    ch->req.fd = f->sfd;
    ch->req.len = ch->len;
  }
  return true;
}

/* ch came back short with the rest set up in its request: an uncached
 * rest goes through the cache instead. True when nothing is left to write
 * (a padded write that stopped in its padding). */
bool ce_uncached_short(fstate *f, chunk *ch) {
  if (!ch->writing && ch->req.fd != f->sfd) {
    /* A short uncached read: the rest through the cache. */
    ch->req.fd = f->sfd;
  } else if (ch->writing && ch->req.fd != f->dfd) {
    /* A short uncached write: the rest, unpadded, through the cache
     * (its offset need not be aligned any more). */
    ch->req.fd = f->dfd;
    ch->req.len = ch->done < ch->len ? ch->len - ch->done : 0;
    ch->wlen = ch->done < ch->len ? ch->len : ch->done;
    if (!ch->req.len) return true;
  }
  return false;
}
