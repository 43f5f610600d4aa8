/* checkpoint.c - checkpoints of large files, and resuming from them.
 * With a journal, a file larger than twice --checkpoint-bytes is hashed
 * in segments besides its whole hash: each segment whose writes are all
 * done is made durable (fdatasync, or the batch's syncfs) and recorded in
 * the journal as a checkpoint (offset, length, hash). A rerun after a
 * crash checks the recorded prefix against the bytes on disk and copies
 * only the rest. The writes of each segment are counted by epoch
 * (fstate's inflight_epoch ring), so that a checkpoint is recorded only
 * when no write of it or before it is in flight. */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "worker_internal.h"

/* Gives f a segment hasher when its checkpoints are recorded. */
void ce_ckpt_start(worker *w, fstate *f) {
  ce_ctx *c = w->c;
  if (c->j && !f->hash_only && f->st.size > 2 * c->ckpt_bytes) {
    f->ck = pm_hasher_create();
    f->ck_start = f->hashed_off;
  }
}

void ce_ckpt_maybe_create(worker *w, fstate *f) {
  ce_ctx *c = w->c;
  if (!f->ck) return;
  uint64_t seg = f->hashed_off - f->ck_start;
  if (seg < c->ckpt_bytes || f->hashed_off >= f->st.size) return;
  if (f->npend == CKPT_MAX) return; /* the segment just grows */
  ckpt *k = &f->pend[f->npend++];
  k->off = f->ck_start;
  k->len = seg;
  k->hash = pm_hasher_digest(f->ck);
  k->epoch = f->epoch;
  f->epoch++;
  f->inflight_epoch[f->epoch % EPOCH_RING] = 0;
  pm_hasher_reset(f->ck);
  f->ck_start = f->hashed_off;
}

/* Records checkpoints whose writes are all done: fdatasync, then the
 * journal. */
void ce_ckpt_drain(worker *w, fstate *f) {
  ce_ctx *c = w->c;
  while (f->npend && !f->err) {
    ckpt *k = &f->pend[0];
    unsigned first = k == f->pend && f->npend ? k->epoch : 0;
    bool ready = true;
    for (unsigned e = 0; e <= first; e++) {
      if (first - e >= EPOCH_RING) break;
      if (f->inflight_epoch[(first - e) % EPOCH_RING]) {
        ready = false;
        break;
      }
    }
    if (!ready) return;
    if (c->sync_fs) {
      /* The batch's syncfs makes it durable before it is recorded. */
      ce_batch_add_ckpt(w, f, k);
      memmove(f->pend, f->pend + 1, (f->npend - 1) * sizeof *f->pend);
      f->npend--;
      continue;
    }
    int rc = pm_fs_fsync(c->fs, f->dfd, true);
    if (rc) {
      file_fail(f, "flush to disk", rc);
      return;
    }
    ce_jchunk jc = {.rel = f->t->rel, .id = ident_of(&f->st), .off = k->off,
                    .len = k->len, .hash = k->hash};
    rc = ce_journal_add_chunk(c->j, &jc);
    if (rc) {
      file_fail(f, "write journal for", rc);
      return;
    }
    memmove(f->pend, f->pend + 1, (f->npend - 1) * sizeof *f->pend);
    f->npend--;
  }
}

/* Checks a journal checkpoint prefix of a large file against the bytes on
 * disk; returns how many leading bytes are verified and feeds them into
 * the file's hash. */
uint64_t ce_resume_prefix(worker *w, fstate *f, const ce_jentry *je) {
  ce_ctx *c = w->c;
  uint64_t good = 0;
  char *buf = pm_xmalloc(c->chunk);
  pm_hasher *seg = pm_hasher_create();
  for (size_t i = 0; i < je->nchunks; i++) {
    if (je->chunks[i].off != good) break;
    pm_hasher_reset(seg);
    pm_hasher *tmp = pm_hasher_create();
    /* Hash the segment; feed it to the file hash only if it matches. */
    uint64_t o = je->chunks[i].off, end = o + je->chunks[i].len;
    bool ok = true;
    while (o < end) {
      uint64_t n = end - o < c->chunk ? end - o : c->chunk;
      int64_t r = pm_fs_pread(c->fs, f->dfd, buf, (size_t)n, o);
      if (r <= 0) {
        ok = false;
        break;
      }
      pm_hasher_update(seg, buf, (size_t)r);
      o += (uint64_t)r;
    }
    pm_hash128 got = pm_hasher_digest(seg);
    if (!ok || !pm_hash_equal(&got, &je->chunks[i].hash)) {
      pm_hasher_free(tmp);
      break;
    }
    /* Verified: stream the same bytes into the file hash. */
    o = je->chunks[i].off;
    while (o < end) {
      uint64_t n = end - o < c->chunk ? end - o : c->chunk;
      int64_t r = pm_fs_pread(c->fs, f->dfd, buf, (size_t)n, o);
      if (r <= 0) break;
      pm_hasher_update(f->h, buf, (size_t)r);
      o += (uint64_t)r;
    }
    pm_hasher_free(tmp);
    if (o != end) break;
    good = end;
  }
  pm_hasher_free(seg);
  free(buf);
  return good;
}
