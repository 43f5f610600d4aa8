/* journal.c - the append-only resume journal (see journal.h).
 *
 * File layout: the magic "POMVJNL1", then records
 *   u32 payload length | u8 type | payload | 8 bytes of XXH3-128(len,
 *   type, payload)
 * Types: 'H' header (src NUL dst NUL options NUL), 'F' file done,
 * 'U' file done with its whole state record (state.h) after the hash,
 * 'C' checkpoint of a large file. Integers are little-endian. Loading stops
 * at the first record that is short or fails its checksum: that is the
 * torn tail of a crash, and it is cut off before anything is appended. */
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "le.h"
#include "sidefile.h"
#include "thread.h"
#include "util.h"

#define MAGIC "POMVJNL1"
#define IDENT_BYTES (8 + 8 + 8 + 8 + 4)

typedef struct slot {
  pm_hash128 key; /* XXH3-128 of the relative path */
  bool used;
  ce_jentry e;
} slot;

struct ce_journal {
  const pm_fs *fs;
  pm_fd fd;
  char *path;
  uint64_t end;
  pm_mutex mu;
  /* ce_journal_defer_flush: records wait for the caller's flush of the
   * file system; `unflushed` says some were written since the last. */
  bool deferred, unflushed;
  slot *tab;
  size_t cap, count;
};

bool ce_jident_equal(const ce_jident *a, const ce_jident *b) {
  return a->size == b->size && a->ino == b->ino && a->dev == b->dev &&
         a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec;
}

static void put_ident(unsigned char *p, const ce_jident *id) {
  put_u64(p, id->size);
  put_u64(p + 8, id->ino);
  put_u64(p + 16, id->dev);
  put_u64(p + 24, (uint64_t)id->mtime_sec);
  put_u32(p + 32, (uint32_t)id->mtime_nsec);
}

static void get_ident(const unsigned char *p, ce_jident *id) {
  id->size = get_u64(p);
  id->ino = get_u64(p + 8);
  id->dev = get_u64(p + 16);
  id->mtime_sec = (int64_t)get_u64(p + 24);
  id->mtime_nsec = (int32_t)get_u32(p + 32);
}

/* Appends one framed record to buf (growing it). */
static void frame(unsigned char **buf, size_t *len, size_t *cap, char type,
                  const unsigned char *payload, size_t plen) {
  size_t need = *len + 5 + plen + 8;
  if (need > *cap) {
    *cap = need * 2;
    *buf = pm_xrealloc(*buf, *cap);
  }
  unsigned char *r = *buf + *len;
  put_u32(r, (uint32_t)plen);
  r[4] = (unsigned char)type;
  memcpy(r + 5, payload, plen);
  pm_hash128 h = pm_hash_buffer(r, 5 + plen);
  memcpy(r + 5 + plen, h.b, 8);
  *len = need;
}

static size_t key_slot(const ce_journal *j, const pm_hash128 *k) {
  uint64_t v;
  memcpy(&v, k->b, 8);
  return (size_t)v & (j->cap - 1);
}

static slot *lookup_key(ce_journal *j, const pm_hash128 *k, bool add) {
  if (add && (j->count + 1) * 2 > j->cap) {
    size_t ncap = j->cap ? j->cap * 2 : 1024;
    slot *old = j->tab;
    size_t ocap = j->cap;
    j->tab = pm_xcalloc(ncap, sizeof *j->tab);
    j->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
      if (!old[i].used) continue;
      size_t s = key_slot(j, &old[i].key);
      while (j->tab[s].used) s = (s + 1) & (j->cap - 1);
      j->tab[s] = old[i];
    }
    free(old);
  }
  if (!j->cap) return NULL;
  size_t s = key_slot(j, k);
  while (j->tab[s].used) {
    if (pm_hash_equal(&j->tab[s].key, k)) return &j->tab[s];
    s = (s + 1) & (j->cap - 1);
  }
  if (!add) return NULL;
  j->tab[s].used = true;
  j->tab[s].key = *k;
  j->count++;
  return &j->tab[s];
}

static pm_hash128 rel_key(const char *rel, size_t len) {
  return pm_hash_buffer(rel, len);
}

/* Applies one loaded record to the table. */
static void apply(ce_journal *j, char type, const unsigned char *p,
                  size_t plen, ce_journal_stats *st) {
  if (type == 'F' && plen >= IDENT_BYTES + 16) {
    pm_hash128 k = rel_key((const char *)p + IDENT_BYTES + 16,
                           plen - IDENT_BYTES - 16);
    slot *s = lookup_key(j, &k, true);
    free(s->e.chunks);
    memset(&s->e, 0, sizeof s->e);
    s->e.done = true;
    get_ident(p, &s->e.id);
    memcpy(s->e.hash.b, p + IDENT_BYTES, 16);
    st->files++;
  } else if (type == 'U' && plen >= IDENT_BYTES + 16 + CE_SREC_BYTES) {
    size_t fixed = IDENT_BYTES + 16 + CE_SREC_BYTES;
    pm_hash128 k = rel_key((const char *)p + fixed, plen - fixed);
    slot *s = lookup_key(j, &k, true);
    free(s->e.chunks);
    memset(&s->e, 0, sizeof s->e);
    s->e.done = true;
    get_ident(p, &s->e.id);
    memcpy(s->e.hash.b, p + IDENT_BYTES, 16);
    s->e.has_sr = true;
    ce_srec_get(p + IDENT_BYTES + 16, &s->e.sr);
    st->files++;
  } else if (type == 'C' && plen >= IDENT_BYTES + 32) {
    pm_hash128 k = rel_key((const char *)p + IDENT_BYTES + 32,
                           plen - IDENT_BYTES - 32);
    slot *s = lookup_key(j, &k, true);
    ce_jident id;
    get_ident(p, &id);
    uint64_t off = get_u64(p + IDENT_BYTES), len = get_u64(p + IDENT_BYTES + 8);
    /* A checkpoint of another version of the file, or one that does not
     * continue the previous ones, starts the list again. */
    if (s->e.done || !ce_jident_equal(&s->e.id, &id) || off == 0) {
      free(s->e.chunks);
      memset(&s->e, 0, sizeof s->e);
      s->e.id = id;
    }
    uint64_t expect = s->e.nchunks ? s->e.chunks[s->e.nchunks - 1].off +
                                         s->e.chunks[s->e.nchunks - 1].len
                                   : 0;
    if (off != expect) return;
    s->e.chunks = pm_xrealloc(s->e.chunks,
                              (s->e.nchunks + 1) * sizeof *s->e.chunks);
    s->e.chunks[s->e.nchunks].off = off;
    s->e.chunks[s->e.nchunks].len = len;
    memcpy(s->e.chunks[s->e.nchunks].hash.b, p + IDENT_BYTES + 16, 16);
    s->e.nchunks++;
    st->chunks++;
  }
}

static void journal_free(ce_journal *j) {
  for (size_t i = 0; i < j->cap; i++)
    if (j->tab[i].used) free(j->tab[i].e.chunks);
  free(j->tab);
  free(j->path);
  pm_mutex_destroy(&j->mu);
  free(j);
}

static int write_all(ce_journal *j, const unsigned char *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    int64_t n = pm_fs_pwrite(j->fs, j->fd, buf + done, len - done, j->end);
    if (n < 0) return (int)n;
    if (n == 0) return PM_EIO;
    done += (size_t)n;
    j->end += (uint64_t)n;
  }
  return 0;
}

/* Reads the whole journal; returns 0, PM_ESTATE (other copy) or an I/O
 * error. */
static int load(ce_journal *j, const char *src, const char *dst,
                const char *sig, ce_journal_stats *st, bool *matches) {
  pm_stat fst;
  PM_TRY(pm_fs_fstat(j->fs, j->fd, &fst));
  *matches = false;
  if (fst.size == 0) return 0;
  unsigned char *buf = pm_xmalloc(fst.size);
  uint64_t got = 0;
  while (got < fst.size) {
    int64_t n = pm_fs_pread(j->fs, j->fd, buf + got, fst.size - got, got);
    if (n < 0) {
      free(buf);
      return (int)n;
    }
    if (n == 0) break;
    got += (uint64_t)n;
  }
  size_t pos = 8;
  bool header_ok = false;
  if (got < 8 || memcmp(buf, MAGIC, 8) != 0) {
    free(buf);
    return PM_EFORMAT;
  }
  while (pos + 5 <= got) {
    uint32_t plen = get_u32(buf + pos);
    if (pos + 5 + plen + 8 > got) break;
    pm_hash128 h = pm_hash_buffer(buf + pos, 5 + plen);
    if (memcmp(h.b, buf + pos + 5 + plen, 8) != 0) break;
    char type = (char)buf[pos + 4];
    const unsigned char *p = buf + pos + 5;
    if (!header_ok) {
      if (type != 'H') break;
      size_t ls = strlen(src), ld = strlen(dst), lg = strlen(sig);
      *matches = plen == ls + ld + lg + 3 && !memcmp(p, src, ls + 1) &&
                 !memcmp(p + ls + 1, dst, ld + 1) &&
                 !memcmp(p + ls + ld + 2, sig, lg + 1);
      header_ok = true;
      if (!*matches) {
        free(buf);
        return PM_ESTATE;
      }
    } else {
      apply(j, type, p, plen, st);
    }
    st->records++;
    pos += 5 + plen + 8;
  }
  free(buf);
  if (!header_ok) return PM_EFORMAT;
  if (pos < got) {
    st->torn_tail = true;
    PM_TRY(pm_fs_ftruncate(j->fs, j->fd, pos));
  }
  j->end = pos;
  return 0;
}

bool ce_journal_refused(int err) {
  return err == PM_ESTATE || err == PM_EFORMAT || pm_side_refused(err);
}

/* Writes the magic and the header to an empty journal and makes them
 * durable, before any copy starts. */
static int start_journal(ce_journal *j, const char *src, const char *dst,
                         const char *opts_sig) {
  j->end = 0;
  size_t ls = strlen(src), ld = strlen(dst), lg = strlen(opts_sig);
  size_t plen = ls + ld + lg + 3;
  unsigned char *payload = pm_xmalloc(plen);
  memcpy(payload, src, ls + 1);
  memcpy(payload + ls + 1, dst, ld + 1);
  memcpy(payload + ls + ld + 2, opts_sig, lg + 1);
  unsigned char *buf = pm_xmalloc(8);
  size_t len = 8, cap = 8;
  memcpy(buf, MAGIC, 8);
  frame(&buf, &len, &cap, 'H', payload, plen);
  free(payload);
  int rc = write_all(j, buf, len);
  free(buf);
  if (!rc) rc = pm_fs_fsync(j->fs, j->fd, true);
  return rc;
}

int ce_journal_open(const pm_fs *fs, const char *path, const char *src,
                    const char *dst, const char *opts_sig, bool restart,
                    ce_journal **out, bool *resumed, ce_journal_stats *st) {
  memset(st, 0, sizeof *st);
  *resumed = false;
  ce_journal *j = pm_xcalloc(1, sizeof *j);
  j->fs = fs;
  j->fd = PM_FD_INVALID;
  j->path = pm_xstrdup(path);
  pm_mutex_init(&j->mu);
  /* An existing journal is continued only if it is a regular file of
   * ours with one link, opened without following a link or waiting on a
   * FIFO; a new one (or --restart) is written under a temporary name and
   * renamed over the old, so that nothing planted at the name is ever
   * opened or truncated. */
  int rc = PM_ENOENT;
  if (!restart)
    rc = pm_side_open(fs, path, "journal",
                      ", or use --restart to start a new journal", PM_O_RDWR,
                      &j->fd);
  if (rc && rc != PM_ENOENT) {
    journal_free(j);
    return rc;
  }
  bool matches = false;
  if (!rc) {
    rc = load(j, src, dst, opts_sig, st, &matches);
    if (rc == PM_ESTATE) {
      pm_oserr_set(0);
      pm_report_errorf(rc,
                       "journal '%s' belongs to a copy with another source, "
                       "destination or options; rerun that copy, or use "
                       "--restart to discard the journal",
                       path);
    } else if (rc == PM_EFORMAT) {
      pm_oserr_set(0);
      pm_report_errorf(rc,
                       "'%s' is not a pomove journal; remove it or use "
                       "--restart",
                       path);
    } else if (rc) {
      pm_report_error("read journal", path, rc);
    }
    if (rc) {
      pm_fs_close(fs, j->fd);
      journal_free(j);
      return rc;
    }
    if (!matches) {
      /* An empty journal of ours (a crash before its header was
       * durable): start it again in place. */
      rc = pm_fs_ftruncate(fs, j->fd, 0);
      if (!rc) rc = start_journal(j, src, dst, opts_sig);
      if (rc) {
        pm_report_error("write journal", path, rc);
        pm_fs_close(fs, j->fd);
        journal_free(j);
        return rc;
      }
    } else {
      *resumed = st->records > 1;
    }
    *out = j;
    return 0;
  }
  pm_sidefile sf;
  rc = pm_side_create(fs, path, "journal", 0600, &sf);
  if (rc) {
    journal_free(j);
    return rc;
  }
  j->fd = sf.fd;
  rc = start_journal(j, src, dst, opts_sig);
  if (rc) {
    pm_report_error("write journal", sf.tmp, rc);
    pm_side_discard(fs, &sf);
    journal_free(j);
    return rc;
  }
  /* The file stays open across the rename: records go on being appended
   * to it under its final name. */
  rc = pm_side_publish(fs, &sf, "journal");
  if (rc) {
    journal_free(j);
    return rc;
  }
  free(sf.path);
  *out = j;
  return 0;
}

const ce_jentry *ce_journal_lookup(ce_journal *j, const char *rel) {
  pm_hash128 k = rel_key(rel, strlen(rel));
  slot *s = lookup_key(j, &k, false);
  return s ? &s->e : NULL;
}

static void frame_chunk(unsigned char **buf, size_t *len, size_t *cap,
                        const ce_jchunk *c) {
  size_t rl = strlen(c->rel);
  size_t plen = IDENT_BYTES + 32 + rl;
  unsigned char *payload = pm_xmalloc(plen);
  put_ident(payload, &c->id);
  put_u64(payload + IDENT_BYTES, c->off);
  put_u64(payload + IDENT_BYTES + 8, c->len);
  memcpy(payload + IDENT_BYTES + 16, c->hash.b, 16);
  memcpy(payload + IDENT_BYTES + 32, c->rel, rl);
  frame(buf, len, cap, 'C', payload, plen);
  free(payload);
}

static void frame_file(unsigned char **buf, size_t *len, size_t *cap,
                       const ce_jfile *f) {
  size_t rl = strlen(f->rel);
  size_t fixed = IDENT_BYTES + 16 + (f->sr ? CE_SREC_BYTES : 0);
  size_t plen = fixed + rl;
  unsigned char *payload = pm_xmalloc(plen);
  put_ident(payload, &f->id);
  memcpy(payload + IDENT_BYTES, f->hash.b, 16);
  if (f->sr) ce_srec_put(payload + IDENT_BYTES + 16, f->sr);
  memcpy(payload + fixed, f->rel, rl);
  frame(buf, len, cap, f->sr ? 'U' : 'F', payload, plen);
  free(payload);
}

int ce_journal_add(ce_journal *j, const ce_jchunk *c, size_t nc,
                   const ce_jfile *f, size_t nf) {
  unsigned char *buf = NULL;
  size_t len = 0, cap = 0;
  for (size_t i = 0; i < nc; i++) frame_chunk(&buf, &len, &cap, &c[i]);
  for (size_t i = 0; i < nf; i++) frame_file(&buf, &len, &cap, &f[i]);
  if (!len) return 0;
  pm_mutex_lock(&j->mu);
  int rc = write_all(j, buf, len);
  if (!rc && j->deferred)
    j->unflushed = true;
  else if (!rc)
    rc = pm_fs_fsync(j->fs, j->fd, true);
  pm_mutex_unlock(&j->mu);
  free(buf);
  return rc;
}

bool ce_journal_defer_flush(ce_journal *j, pm_fd dir) {
  pm_stat js, ds;
  if (pm_fs_fstat(j->fs, j->fd, &js) || pm_fs_fstat(j->fs, dir, &ds) ||
      js.dev != ds.dev)
    return false;
  pm_mutex_lock(&j->mu);
  j->deferred = true;
  pm_mutex_unlock(&j->mu);
  return true;
}

int ce_journal_add_files(ce_journal *j, const ce_jfile *f, size_t n) {
  return ce_journal_add(j, NULL, 0, f, n);
}

int ce_journal_add_chunk(ce_journal *j, const ce_jchunk *c) {
  return ce_journal_add(j, c, 1, NULL, 0);
}

int ce_journal_close(ce_journal *j, bool remove) {
  if (!j) return 0;
  /* A journal kept for a rerun has every record on the medium, whether
   * or not the caller's last flush came (a fatal error skips it). */
  int rc = j->unflushed && !remove ? pm_fs_fsync(j->fs, j->fd, true) : 0;
  int crc = pm_fs_close(j->fs, j->fd);
  if (!rc) rc = crc;
  if (remove) {
    int urc = pm_fs_unlink(j->fs, j->path);
    if (urc) {
      pm_report_error("remove journal", j->path, urc);
      if (!rc) rc = urc;
    }
  }
  journal_free(j);
  return rc;
}
