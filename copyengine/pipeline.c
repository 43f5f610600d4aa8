/* pipeline.c - the read-hash-write pipeline of one file's chunks.
 *
 * A worker keeps many files, and several chunks of each large file, in
 * flight on its I/O context. Reads complete in any order; the file's
 * XXH3-128 is fed strictly in file order from the chunks as they become
 * contiguous (so the hash is of the exact bytes read for the copy), and
 * each chunk is written as soon as it is hashed. A short read or write is
 * resubmitted for the rest; a read that returns 0 before the expected
 * size means the source shrank. The holes of a sparse file are hashed as
 * zeros and not written. Whether a request goes uncached, and its shape
 * then, is uncached.c's. */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "worker_internal.h"

void ce_chunk_submit(worker *w, chunk *ch) {
  int q = w->c->eng->queue(w->io, &ch->req);
  if (q == PM_Q_QUEUED) {
    ch->f->inflight++;
    return;
  }
  if (q == PM_Q_BUSY) {
    ch->f->inflight++;
    ch->next = w->backlog;
    w->backlog = ch;
    return;
  }
  /* PM_Q_COMPLETED or an error: finish it through the normal path. */
  ch->f->inflight++;
  if (q < 0) {
    ch->req.res = q;
    ch->req.oserr = pm_oserr_of(q);
  }
  ch->next = w->backlog; /* handled as completed by the loop */
  ch->req.udata = NULL;  /* marks "already complete" */
  w->backlog = ch;
}

void ce_chunk_free(worker *w, chunk *ch) {
  w->chunks_out--;
  w->bytes_out -= ch->len;
  ce_bufpool_put(&w->bufs, ch->buf, ch->bufcap);
  free(ch);
}

static void issue_write(worker *w, chunk *ch) {
  fstate *f = ch->f;
  ch->writing = true;
  ch->done = 0;
  ch->epoch = f->epoch;
  f->inflight_epoch[f->epoch % EPOCH_RING]++;
  ch->req.op = PM_IO_WRITE;
  ch->req.fd = f->dfd;
  ch->wlen = ch->len;
  ce_uncached_write(f, ch);
  ch->req.buf = ch->buf;
  ch->req.len = ch->wlen;
  ch->req.off = ch->off;
  ch->req.udata = ch;
  ce_chunk_submit(w, ch);
}

static void try_hash(worker *w, fstate *f) {
  while (f->ready && f->ready->off == f->hashed_off) {
    chunk *ch = f->ready;
    f->ready = ch->next;
    const void *data = ch->hole ? (const void *)w->zeros : ch->buf;
    if (!f->err) {
      pm_hasher_update(f->h, data, ch->len);
      if (f->ck) pm_hasher_update(f->ck, data, ch->len);
    }
    atomic_fetch_add(&w->c->hashed, ch->len);
    f->hashed_off += ch->len;
    if (ch->hole || f->err || f->hash_only) {
      ce_chunk_free(w, ch);
    } else {
      issue_write(w, ch);
    }
    ce_ckpt_maybe_create(w, f);
  }
}

static void ready_insert(fstate *f, chunk *ch) {
  chunk **pp = &f->ready;
  while (*pp && (*pp)->off < ch->off) pp = &(*pp)->next;
  ch->next = *pp;
  *pp = ch;
}

/* Issues the next chunk of f; false when nothing more can go now. */
bool ce_issue_chunk(worker *w, fstate *f) {
  ce_ctx *c = w->c;
  if (f->err || f->issue_off >= f->st.size) return false;
  uint64_t off = f->issue_off;
  uint64_t len = f->st.size - off;
  unsigned longest = ce_uncached_chunk(c, f);
  if (len > longest) len = longest;
  bool hole = false;
  if (f->sparse) {
    if (off >= f->data_end) {
      int64_t d = pm_fs_seek(c->fs, f->sfd, off, false);
      if (d == PM_ENXIO) d = (int64_t)f->st.size;
      if (d < 0) {
        file_fail_at(f, "find data in", (int)d, true);
        return false;
      }
      if ((uint64_t)d > off) {
        hole = true;
        if ((uint64_t)d - off < len) len = (uint64_t)d - off;
      } else {
        int64_t h = pm_fs_seek(c->fs, f->sfd, off, true);
        f->data_end = h < 0 ? f->st.size : (uint64_t)h;
      }
    }
    if (!hole && f->data_end - off < len) len = f->data_end - off;
  }
  chunk *ch = pm_xcalloc(1, sizeof *ch);
  ch->f = f;
  ch->off = off;
  ch->len = (uint32_t)len;
  ch->hole = hole;
  w->chunks_out++;
  w->bytes_out += len;
  f->issue_off += len;
  if (hole) {
    ready_insert(f, ch);
    try_hash(w, f);
    return true;
  }
  /* Room for an uncached read or write of the tail rounded up. */
  ch->bufcap =
      f->direct || f->sdirect ? ce_uncached_round(len) : (uint32_t)len;
  ch->buf = ce_bufpool_get(&w->bufs, ch->bufcap);
  ch->req.op = PM_IO_READ;
  ch->req.fd = f->sfd;
  ch->req.buf = ch->buf;
  ch->req.len = (uint32_t)len;
  ce_uncached_read(f, ch);
  ch->req.off = off;
  ch->req.udata = ch;
  ce_chunk_submit(w, ch);
  return true;
}

void ce_on_complete(worker *w, chunk *ch) {
  fstate *f = ch->f;
  f->inflight--;
  int64_t res = ch->req.res;
  if (ch->is_sync) {
    if ((res == PM_EINTR || res == PM_EAGAIN) && ch->retries < 10) {
      ch->retries++;
      ce_chunk_submit(w, ch);
      return;
    }
    if (res < 0) {
      pm_oserr_set(ch->req.oserr);
      file_fail(f, "flush to disk", (int)res);
    } else {
      f->synced = true;
    }
    ce_chunk_free(w, ch);
    return;
  }
  if (ch->writing) f->inflight_epoch[ch->epoch % EPOCH_RING]--;
  if (res == PM_EINVAL && ce_uncached_refused(f, ch)) {
    ce_chunk_submit(w, ch);
    return;
  }
  if ((res == PM_EINTR || res == PM_EAGAIN) && ch->retries < 10 && !f->err) {
    /* Transient: submit the same request again. */
    ch->retries++;
    if (ch->writing) f->inflight_epoch[ch->epoch % EPOCH_RING]++;
    ce_chunk_submit(w, ch);
    return;
  }
  if (res < 0) {
    pm_oserr_set(ch->req.oserr);
    file_fail_at(f, ch->writing ? "write" : "read", (int)res, !ch->writing);
    ce_chunk_free(w, ch);
    return;
  }
  if (res == 0) {
    if (ch->writing) {
      file_fail_logic(f, "write (no progress)", PM_EIO, false);
    } else {
      /* End of file before the size fstat gave: the source shrank. */
      file_fail_logic(f, "copy (it shrank while being read)", PM_ECHANGED,
                      true);
    }
    ce_chunk_free(w, ch);
    return;
  }
  ch->done += (uint32_t)res;
  uint32_t want = ch->writing ? ch->wlen : ch->len;
  if (!ch->writing && ch->done > ch->len) ch->done = ch->len; /* it grew */
  if (ch->done < want) {
    ch->req.buf = ch->buf + ch->done;
    ch->req.len = want - ch->done;
    ch->req.off = ch->off + ch->done;
    if (ce_uncached_short(f, ch)) {
      ce_chunk_free(w, ch);
      if (f->npend) ce_ckpt_drain(w, f);
      return;
    }
    if (!f->err) {
      /* Still in flight: its checkpoint must keep waiting for it. */
      if (ch->writing) f->inflight_epoch[ch->epoch % EPOCH_RING]++;
      ce_chunk_submit(w, ch);
      return;
    }
    ce_chunk_free(w, ch);
    return;
  }
  if (ch->writing) {
    ce_chunk_free(w, ch);
    if (f->npend) ce_ckpt_drain(w, f);
    return;
  }
  if (f->err) {
    ce_chunk_free(w, ch);
    return;
  }
  ready_insert(f, ch);
  try_hash(w, f);
}
