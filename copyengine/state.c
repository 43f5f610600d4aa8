/* state.c - the per-file state a copy leaves for `copy --update` (see
 * state.h).
 *
 * File layout: the magic "POMVSTA1", then records
 *   u32 payload length | u8 type | payload | 8 bytes of XXH3-128(len,
 *   type, payload)
 * Types: 'H' header (source NUL destination NUL), first and once; 'S' one
 * file (a ce_srec, then the relative path); 'E' the end (u64 number of
 * 'S' records), last. Integers are little-endian. Unlike the journal,
 * which may be cut by a crash at any record, the state is published whole
 * by a rename after a flush: so every byte must belong to a sound record,
 * the trailer must be there and count right, and nothing may follow it. */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "sidefile.h"
#include "sys.h"
#include "thread.h"
#include "util.h"

#define MAGIC "POMVSTA1"
#define WBUF (1u << 20)

/* The large blocks of a loaded state (for 100,000 files: the file's
 * bytes 15 MiB, the records 14, the tables 5 and 2) are taken in whole
 * 2 MiB units, which pm_aligned_alloc offers the kernel as huge pages
 * where it has them: on 4 KiB pages their first touch cost a cold update
 * ~10,000 page faults while it loaded the state, before its walk could
 * start. Freed with big_free only. */
#define BIG_UNIT ((size_t)2 << 20)

static void *big_alloc(size_t n) {
  if (n >= BIG_UNIT / 2) n = (n + BIG_UNIT - 1) / BIG_UNIT * BIG_UNIT;
  return pm_xaligned_alloc(64, n);
}

static void *big_calloc(size_t n, size_t size) {
  void *p = big_alloc(n * size);
  memset(p, 0, n * size);
  return p;
}

static void big_free(void *p) { pm_aligned_free(p); }

static void put_time(unsigned char *p, const pm_time *t) {
  put_u64(p, (uint64_t)t->sec);
  put_u32(p + 8, (uint32_t)t->nsec);
}
static void get_time(const unsigned char *p, pm_time *t) {
  t->sec = (int64_t)get_u64(p);
  t->nsec = (int32_t)get_u32(p + 8);
}

void ce_srec_put(unsigned char *p, const ce_srec *r) {
  put_u64(p, r->ssize);
  put_u64(p + 8, r->sdev);
  put_u64(p + 16, r->sino);
  put_time(p + 24, &r->smtime);
  put_time(p + 36, &r->sctime);
  put_u64(p + 48, r->dsize);
  put_u64(p + 56, r->ddev);
  put_u64(p + 64, r->dino);
  put_time(p + 72, &r->dmtime);
  put_time(p + 84, &r->read_at);
  memcpy(p + 96, r->hash.b, 16);
}

void ce_srec_get(const unsigned char *p, ce_srec *r) {
  r->ssize = get_u64(p);
  r->sdev = get_u64(p + 8);
  r->sino = get_u64(p + 16);
  get_time(p + 24, &r->smtime);
  get_time(p + 36, &r->sctime);
  r->dsize = get_u64(p + 48);
  r->ddev = get_u64(p + 56);
  r->dino = get_u64(p + 64);
  get_time(p + 72, &r->dmtime);
  get_time(p + 84, &r->read_at);
  memcpy(r->hash.b, p + 96, 16);
}

void ce_srec_set_src(ce_srec *r, const pm_stat *st) {
  r->ssize = st->size;
  r->sdev = st->dev;
  r->sino = st->ino;
  r->smtime = st->mtime;
  r->sctime = st->ctime;
}

void ce_srec_set_dst(ce_srec *r, const pm_stat *st) {
  r->dsize = st->size;
  r->ddev = st->dev;
  r->dino = st->ino;
  r->dmtime = st->mtime;
  r->read_at = st->ctime;
}

static bool time_eq(const pm_time *a, const pm_time *b) {
  return a->sec == b->sec && a->nsec == b->nsec;
}

bool ce_srec_src_equal(const ce_srec *r, const pm_stat *st) {
  return st->type == PM_T_FILE && r->ssize == st->size &&
         r->sdev == st->dev && r->sino == st->ino &&
         time_eq(&r->smtime, &st->mtime) && time_eq(&r->sctime, &st->ctime);
}

bool ce_srec_dst_equal(const ce_srec *r, const pm_stat *st) {
  return st->type == PM_T_FILE && r->dsize == st->size &&
         r->ddev == st->dev && r->dino == st->ino &&
         time_eq(&r->dmtime, &st->mtime);
}

static int64_t ns_of(const pm_time *t) {
  return t->sec * 1000000000LL + t->nsec;
}

bool ce_srec_racy(const ce_srec *r, int64_t gran_ns) {
  int64_t m = ns_of(&r->smtime), c = ns_of(&r->sctime);
  int64_t last = m > c ? m : c;
  return last > ns_of(&r->read_at) - gran_ns;
}

char *ce_state_path_for(const char *manifest) {
  size_t n = strlen(manifest);
  const char *suf = ".xxh128";
  size_t sl = strlen(suf);
  if (n > sl && !strcmp(manifest + n - sl, suf))
    return pm_xasprintf("%.*s.pomove-state", (int)(n - sl), manifest);
  return pm_xasprintf("%s.pomove-state", manifest);
}

/* ---- loading ---- */

/* The table holds keys and where each record is in the file's bytes:
 * small slots, so that a table of 100,000 files fits in a few MiB and a lookup
 * touches one slot and one record (slots holding whole records made the
 * table 40 MiB, rebuilt at every doubling while the state loaded). */
typedef struct slot {
  pm_hash128 key; /* XXH3-128 of the relative path, as the journal keys */
  uint64_t rec;   /* 1 + the offset of the record's ce_srec bytes in buf;
                     0: free */
} slot;

/* The records stay where the file's bytes were read (buf, kept while
 * the state is): a lookup decodes the one it finds. Decoding all of them
 * into an array of ce_srec while loading, and copying their paths, cost
 * a cold update's loading thread a third of its time (and 18 MiB for
 * 100,000 files) before the walk could start; a lookup decodes its record
 * on a listing thread, where the walk runs in parallel. Each path is
 * NUL-terminated in place, over the first byte of its record's checksum
 * once that was checked. */
struct ce_state {
  slot *tab;
  size_t cap, count;
  unsigned char *buf; /* the file's bytes (big_alloc) */
  /* Besides the table by path, one by the source's (dev, ino): the paths
   * of a hard-link group share it, and a group's first path met by an
   * update that has no record of its own finds the group's copy through
   * another's (update.c). Its entries are slot.rec values; 0 is empty. */
  uint64_t *itab;
  size_t icap;
};

static size_t key_slot(size_t cap, const pm_hash128 *k) {
  uint64_t v;
  memcpy(&v, k->b, 8);
  return (size_t)v & (cap - 1);
}

/* Sizes the table for n records at most half full. */
static void reserve(ce_state *s, size_t n) {
  size_t cap = s->cap ? s->cap : 1024;
  while ((n + 1) * 2 > cap) cap *= 2;
  if (cap != s->cap) {
    slot *old = s->tab;
    size_t ocap = s->cap;
    s->tab = big_calloc(cap, sizeof *s->tab);
    s->cap = cap;
    for (size_t i = 0; i < ocap; i++) {
      if (!old[i].rec) continue;
      size_t k2 = key_slot(cap, &old[i].key);
      while (s->tab[k2].rec) k2 = (k2 + 1) & (cap - 1);
      s->tab[k2] = old[i];
    }
    big_free(old);
  }
}

/* The slot of key k; with add, a new one (its rec to set) when k has
 * none. NULL when k has none and add is false. */
static slot *find_slot(ce_state *s, const pm_hash128 *k, bool add) {
  if (add && (s->count + 2) * 2 > s->cap) reserve(s, s->count + 1);
  if (!s->cap) return NULL;
  size_t i = key_slot(s->cap, k);
  while (s->tab[i].rec) {
    if (pm_hash_equal(&s->tab[i].key, k)) return &s->tab[i];
    i = (i + 1) & (s->cap - 1);
  }
  if (!add) return NULL;
  s->tab[i].key = *k;
  s->count++;
  return &s->tab[i];
}

/* The state file is read in pieces by a thread of its own while the
 * loading thread parses what has come: a cold update waited for all of
 * its bytes (15 MiB for 100,000 files) before it parsed the first
 * record, and parsing takes about as long again. */
#define PIECE (1u << 20)

typedef struct sreader {
  const pm_fs *fs;
  pm_fd fd;
  unsigned char *buf;
  uint64_t size; /* what fstat said */
  pm_mutex mu;
  pm_cond cv;
  uint64_t got; /* bytes of buf read so far */
  bool done;    /* no more will come: the end, a short file or err */
  bool stop;    /* the parse ended early: read no more */
  int err;      /* the PM_E* of a failed read */
} sreader;

static void sreader_main(void *arg) {
  sreader *r = arg;
  uint64_t got = 0;
  int err = 0;
  while (got < r->size) {
    uint64_t want = r->size - got < PIECE ? r->size - got : PIECE;
    int64_t n = pm_fs_pread(r->fs, r->fd, r->buf + got, (size_t)want, got);
    if (n < 0) {
      err = (int)n;
      break;
    }
    if (n == 0) break;
    got += (uint64_t)n;
    pm_mutex_lock(&r->mu);
    r->got = got;
    bool stop = r->stop;
    pm_cond_broadcast(&r->cv);
    pm_mutex_unlock(&r->mu);
    if (stop) break;
  }
  pm_mutex_lock(&r->mu);
  r->got = got;
  r->err = err;
  r->done = true;
  pm_cond_broadcast(&r->cv);
  pm_mutex_unlock(&r->mu);
}

/* Waits until buf holds its first `need` bytes (at most *len): 0, with
 * *avail the bytes there now, and *len cut to what the file held if it
 * ended early (as fstat's size is only what it was); or the PM_E* of
 * the read that failed. */
static int await_bytes(sreader *r, uint64_t need, uint64_t *avail,
                       uint64_t *len) {
  if (need > *len) need = *len;
  if (need <= *avail) return 0;
  pm_mutex_lock(&r->mu);
  while (r->got < need && !r->done) pm_cond_wait(&r->cv, &r->mu);
  *avail = r->got;
  int err = r->got < need ? r->err : 0;
  pm_mutex_unlock(&r->mu);
  if (err) return err;
  if (*avail < need) *len = *avail;
  return 0;
}

/* Reported as an error that refuses the update, or (report false) as a
 * warning of an update that goes on by hashing every file. */
static int damaged(bool report, const char *path, unsigned long recno,
                   uint64_t off, const char *why) {
  if (!report) {
    char *shown = pm_display_path(path);
    pm_warnf("state '%s' is damaged at record %lu (byte %llu): %s; "
             "ignoring it: every file is hashed and compared (--checksum)",
             shown, recno, (unsigned long long)off, why);
    free(shown);
    return PM_EFORMAT;
  }
  char *shown = pm_display_path(path);
  pm_oserr_set(0);
  pm_report_errorf(PM_EFORMAT,
                   "state '%s' is damaged at record %lu (byte %llu): %s; "
                   "it cannot tell which files are unchanged: run with "
                   "--update --checksum (every file is read and compared), "
                   "or remove it",
                   shown, recno, (unsigned long long)off, why);
  free(shown);
  return PM_EFORMAT;
}

/* File records are added to the table a few at a time: the slot of
 * each is asked for from memory (prefetch) when its record is read and
 * filled PENDING records later. A table for 100,000 files (6 MiB) is
 * larger than the caches, and a slot filled at once made the loading
 * thread wait for memory at almost every record: find_rec took 23 of
 * the 81 samples of a cold update's first 60 ms, all of them before the
 * walk starts. Records are added in the order they come (a later record
 * of the same path still replaces an earlier one). */
#define PENDING 16

typedef struct pending {
  pm_hash128 key;
  const unsigned char *rec; /* the record's ce_srec bytes */
  const char *rel;          /* its path, rl bytes, not NUL-terminated */
  size_t rl;
} pending;

#if defined(__GNUC__) || defined(__clang__)
#define prefetch(p) __builtin_prefetch((p), 1)
#else
#define prefetch(p) ((void)(p))
#endif

static void add_pending(ce_state *s, const pending *pend, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const pending *e = &pend[i];
    /* A later record of the same path replaces the earlier one. */
    find_slot(s, &e->key, true)->rec = (uint64_t)(e->rec - s->buf) + 1;
  }
}

/* Parses the file r reads into its buffer, each record once its bytes
 * are there. A failed read returns its PM_E* with *read_err set (the
 * caller reports it). */
static int parse(ce_state *s, const char *path, sreader *rd, const char *src,
                 bool report, bool *read_err) {
  const unsigned char *buf = rd->buf;
  uint64_t len = rd->size, avail = 0;
  int rrc = await_bytes(rd, 8, &avail, &len);
  if (rrc) {
    *read_err = true;
    return rrc;
  }
  if (len < 8 || memcmp(buf, MAGIC, 8) != 0)
    return damaged(report, path, 0, 0, "it does not start as a pomove state");
  /* Room for as many records as the file can hold (the smallest is a
   * file record with a one-byte path); the table grows if more come. */
  uint64_t most = len / (5 + CE_SREC_BYTES + 1 + 8) + 2;
  reserve(s, most < (1u << 22) ? (size_t)most : (size_t)1 << 22);
  uint64_t pos = 8, files = 0;
  unsigned long recno = 0;
  bool header = false, end = false;
  pending pend[PENDING];
  size_t npend = 0;
  while (pos < len) {
    rrc = await_bytes(rd, pos + 5 + 8, &avail, &len);
    if (rrc) {
      *read_err = true;
      return rrc;
    }
    if (pos >= len) break;
    recno++;
    if (end) return damaged(report, path, recno, pos, "bytes follow the last record");
    if (len - pos < 5 + 8)
      return damaged(report, path, recno, pos, "the file ends inside a record");
    uint32_t plen = get_u32(buf + pos);
    rrc = await_bytes(rd, pos + 5 + (uint64_t)plen + 8, &avail, &len);
    if (rrc) {
      *read_err = true;
      return rrc;
    }
    if ((uint64_t)plen > len - pos - 5 - 8)
      return damaged(report, path, recno, pos, "the file ends inside a record");
    pm_hash128 h = pm_hash_buffer(buf + pos, 5 + (size_t)plen);
    if (memcmp(h.b, buf + pos + 5 + plen, 8) != 0)
      return damaged(report, path, recno, pos, "its checksum does not match");
    char type = (char)buf[pos + 4];
    const unsigned char *p = buf + pos + 5;
    if (!header) {
      const unsigned char *nul1 =
          type == 'H' ? memchr(p, 0, plen) : NULL;
      const unsigned char *nul2 =
          nul1 ? memchr(nul1 + 1, 0, plen - (size_t)(nul1 + 1 - p)) : NULL;
      if (!nul2 || nul2 != p + plen - 1)
        return damaged(report, path, recno, pos, "the header is malformed");
      if (strcmp((const char *)p, src) != 0) {
        char *shown = pm_display_path(path);
        char *theirs = pm_display_path((const char *)p);
        char *ours = pm_display_path(src);
        pm_oserr_set(0);
        pm_report_errorf(PM_ESTATE,
                         "state '%s' records a copy of '%s', not of '%s': "
                         "this destination is another tree's copy; choose "
                         "another destination, or remove the state and "
                         "adopt the tree with --update --checksum",
                         shown, theirs, ours);
        free(shown);
        free(theirs);
        free(ours);
        return PM_ESTATE;
      }
      header = true;
    } else if (type == 'S') {
      if (plen <= CE_SREC_BYTES)
        return damaged(report, path, recno, pos, "a file record is too short");
      const char *rel = (const char *)p + CE_SREC_BYTES;
      size_t rl = plen - CE_SREC_BYTES;
      if (memchr(rel, 0, rl))
        return damaged(report, path, recno, pos, "a path holds a NUL byte");
      pending *e = &pend[npend++];
      e->key = pm_hash_buffer(rel, rl);
      /* The path ends here now (see struct ce_state). */
      rd->buf[pos + 5 + plen] = '\0';
      e->rec = p;
      e->rel = rel;
      e->rl = rl;
      if (s->cap) prefetch(&s->tab[key_slot(s->cap, &e->key)]);
      if (npend == PENDING) {
        add_pending(s, pend, npend);
        npend = 0;
      }
      files++;
    } else if (type == 'E') {
      add_pending(s, pend, npend);
      npend = 0;
      if (plen != 8)
        return damaged(report, path, recno, pos, "the last record is malformed");
      if (get_u64(p) != files)
        return damaged(report, path, recno, pos,
                       "it counts another number of files than it holds");
      end = true;
    } else {
      return damaged(report, path, recno, pos, "a record of unknown type");
    }
    pos += 5 + (uint64_t)plen + 8;
  }
  if (!header) return damaged(report, path, 1, 8, "it has no header");
  if (!end)
    return damaged(report, path, recno + 1, pos,
                   "it ends before its last record (it is incomplete)");
  return 0;
}

static size_t ino_slot(size_t cap, uint64_t dev, uint64_t ino) {
  return (size_t)((ino * 0x9E3779B97F4A7C15ull) ^ dev) & (cap - 1);
}

/* The source's (dev, ino) of a record (ce_srec_put's layout). */
static uint64_t rec_sdev(const ce_state *s, uint64_t rec) {
  return get_u64(s->buf + rec - 1 + 8);
}
static uint64_t rec_sino(const ce_state *s, uint64_t rec) {
  return get_u64(s->buf + rec - 1 + 16);
}

/* Fills the table by source identity once the records are read. */
static void index_sources(ce_state *s) {
  s->icap = 16;
  while (s->icap < s->count * 2) s->icap *= 2;
  s->itab = big_calloc(s->icap, sizeof *s->itab);
  for (size_t i = 0; i < s->cap; i++) {
    uint64_t rec = s->tab[i].rec;
    if (!rec) continue;
    size_t k = ino_slot(s->icap, rec_sdev(s, rec), rec_sino(s, rec));
    while (s->itab[k]) k = (k + 1) & (s->icap - 1);
    s->itab[k] = rec;
  }
}

int ce_state_load(const pm_fs *fs, const char *path, const char *src,
                  bool report_damage, ce_state **out) {
  *out = NULL;
  pm_fd fd;
  int rc = pm_side_open(fs, path, "state", NULL, PM_O_RDONLY, &fd);
  if (rc) return rc;
  pm_stat st;
  rc = pm_fs_fstat(fs, fd, &st);
  if (rc) {
    pm_report_error("read metadata of state", path, rc);
    pm_fs_close(fs, fd);
    return rc;
  }
  sreader r = {.fs = fs, .fd = fd, .size = st.size};
  r.buf = big_alloc(st.size ? (size_t)st.size : 1);
  pm_mutex_init(&r.mu);
  pm_cond_init(&r.cv);
  pm_thread reader;
  bool threaded = pm_thread_create(&reader, sreader_main, &r) == 0;
  if (!threaded) sreader_main(&r); /* no thread: read it all first */
  ce_state *s = pm_xcalloc(1, sizeof *s);
  s->buf = r.buf;
  bool read_err = false;
  rc = parse(s, path, &r, src, report_damage, &read_err);
  if (threaded) {
    pm_mutex_lock(&r.mu);
    r.stop = true;
    pm_mutex_unlock(&r.mu);
    pm_thread_join(&reader);
  }
  pm_fs_close(fs, fd);
  pm_cond_destroy(&r.cv);
  pm_mutex_destroy(&r.mu);
  if (read_err) pm_report_error("read state", path, rc);
  if (rc) {
    ce_state_free(s);
    return rc;
  }
  index_sources(s);
  *out = s;
  return 0;
}

const ce_srec *ce_state_lookup_src(const ce_state *s, uint64_t dev,
                                   uint64_t ino, size_t *it,
                                   const char **rel, ce_srec *out) {
  if (!s || !s->itab) return NULL;
  size_t k = *it ? *it : ino_slot(s->icap, dev, ino) + 1;
  /* *it is the table position to look at next, + 1. */
  for (k--; s->itab[k]; k = (k + 1) & (s->icap - 1)) {
    uint64_t rec = s->itab[k];
    if (rec_sdev(s, rec) == dev && rec_sino(s, rec) == ino) {
      *rel = (const char *)s->buf + rec - 1 + CE_SREC_BYTES;
      *it = ((k + 1) & (s->icap - 1)) + 1;
      ce_srec_get(s->buf + rec - 1, out);
      return out;
    }
  }
  return NULL;
}

const ce_srec *ce_state_lookup(const ce_state *s, const char *rel,
                               ce_srec *out) {
  if (!s) return NULL;
  pm_hash128 k = pm_hash_buffer(rel, strlen(rel));
  const slot *e = find_slot((ce_state *)s, &k, false);
  if (!e) return NULL;
  ce_srec_get(s->buf + e->rec - 1, out);
  return out;
}

size_t ce_state_count(const ce_state *s) { return s ? s->count : 0; }

void ce_state_free(ce_state *s) {
  if (!s) return;
  big_free(s->tab);
  big_free(s->itab);
  big_free(s->buf);
  free(s);
}

/* ---- writing ---- */

struct ce_state_writer {
  const pm_fs *fs;
  pm_sidefile sf;
  pm_mutex mu;
  unsigned char *buf;
  size_t len;
  uint64_t off, files;
  int err;
};

static void frame(ce_state_writer *w, char type, const unsigned char *a,
                  size_t alen, const void *b, size_t blen) {
  size_t need = 5 + alen + blen + 8;
  if (w->len + need > WBUF && w->len) {
    /* Flush what is buffered first. */
    size_t done = 0;
    while (!w->err && done < w->len) {
      int64_t n = pm_fs_pwrite(w->fs, w->sf.fd, w->buf + done, w->len - done,
                                w->off);
      if (n <= 0) {
        w->err = n < 0 ? (int)n : PM_EIO;
        break;
      }
      done += (size_t)n;
      w->off += (uint64_t)n;
    }
    w->len = 0;
  }
  if (need > WBUF) {
    /* One record larger than the buffer (a path near the limits). */
    unsigned char *big = pm_xmalloc(need);
    unsigned char *keep = w->buf;
    w->buf = big;
    w->len = 0;
    unsigned char *r = w->buf;
    put_u32(r, (uint32_t)(alen + blen));
    r[4] = (unsigned char)type;
    memcpy(r + 5, a, alen);
    memcpy(r + 5 + alen, b, blen);
    pm_hash128 h = pm_hash_buffer(r, 5 + alen + blen);
    memcpy(r + 5 + alen + blen, h.b, 8);
    size_t done = 0;
    while (!w->err && done < need) {
      int64_t n = pm_fs_pwrite(w->fs, w->sf.fd, big + done, need - done, w->off);
      if (n <= 0) {
        w->err = n < 0 ? (int)n : PM_EIO;
        break;
      }
      done += (size_t)n;
      w->off += (uint64_t)n;
    }
    free(big);
    w->buf = keep;
    return;
  }
  unsigned char *r = w->buf + w->len;
  put_u32(r, (uint32_t)(alen + blen));
  r[4] = (unsigned char)type;
  memcpy(r + 5, a, alen);
  if (blen) memcpy(r + 5 + alen, b, blen);
  pm_hash128 h = pm_hash_buffer(r, 5 + alen + blen);
  memcpy(r + 5 + alen + blen, h.b, 8);
  w->len += need;
}

static int flush_buf(ce_state_writer *w) {
  size_t done = 0;
  while (!w->err && done < w->len) {
    int64_t n = pm_fs_pwrite(w->fs, w->sf.fd, w->buf + done, w->len - done, w->off);
    if (n <= 0) {
      w->err = n < 0 ? (int)n : PM_EIO;
      break;
    }
    done += (size_t)n;
    w->off += (uint64_t)n;
  }
  w->len = 0;
  return w->err;
}

int ce_state_writer_open(const pm_fs *fs, const char *path,
                         const char *src, const char *dst,
                         ce_state_writer **out) {
  *out = NULL;
  ce_state_writer *w = pm_xcalloc(1, sizeof *w);
  w->fs = fs;
  int rc = pm_side_create(fs, path, "state", 0600, &w->sf);
  if (rc) {
    free(w);
    return rc;
  }
  pm_mutex_init(&w->mu);
  w->buf = pm_xmalloc(WBUF);
  memcpy(w->buf, MAGIC, 8);
  w->len = 8;
  size_t ls = strlen(src), ld = strlen(dst);
  unsigned char *hdr = pm_xmalloc(ls + ld + 2);
  memcpy(hdr, src, ls + 1);
  memcpy(hdr + ls + 1, dst, ld + 1);
  frame(w, 'H', hdr, ls + ld + 2, NULL, 0);
  free(hdr);
  *out = w;
  return 0;
}

int ce_state_writer_add(ce_state_writer *w, const char *rel,
                        const ce_srec *r) {
  unsigned char rec[CE_SREC_BYTES];
  ce_srec_put(rec, r);
  pm_mutex_lock(&w->mu);
  frame(w, 'S', rec, sizeof rec, rel, strlen(rel));
  w->files++;
  int rc = w->err;
  pm_mutex_unlock(&w->mu);
  return rc;
}

static void writer_free(ce_state_writer *w) {
  pm_mutex_destroy(&w->mu);
  free(w->buf);
  free(w);
}

int ce_state_writer_publish(ce_state_writer *w) {
  unsigned char cnt[8];
  put_u64(cnt, w->files);
  frame(w, 'E', cnt, 8, NULL, 0);
  int rc = flush_buf(w);
  if (!rc) rc = pm_fs_fsync(w->fs, w->sf.fd, false);
  if (rc) {
    pm_report_error("write state", w->sf.tmp, rc);
    pm_side_discard(w->fs, &w->sf);
    writer_free(w);
    return rc;
  }
  rc = pm_side_publish(w->fs, &w->sf, "state");
  if (!rc) rc = pm_side_close(w->fs, &w->sf);
  writer_free(w);
  return rc;
}

void ce_state_writer_discard(ce_state_writer *w) {
  if (!w) return;
  pm_side_discard(w->fs, &w->sf);
  writer_free(w);
}
