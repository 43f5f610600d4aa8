/* reread.c - hashes a file as it is on the medium rather than as the page
 * cache holds it, for `pomove copy --verify`. O_DIRECT is preferred: it
 * reads the device without touching the cache. File systems that refuse
 * it (tmpfs, some FUSE and network file systems answer EINVAL at open)
 * get the fallback: flush the file so that no page is dirty, ask the
 * kernel to drop its pages, and read it normally, which then has to come
 * from the medium. Every call goes through the pm_fs_ops table so that a
 * test can wrap it. Both opens ask for a regular file (PM_O_REGULAR): a
 * FIFO put in a file's place fails with PM_ESPECIAL instead of blocking.
 * vf_reread_batch re-reads the files of a copy's batch with a few
 * threads at once; vf_rereader re-reads them through an I/O engine with
 * many reads in flight (the committers of `copy --verify` use it). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "reread.h"
#include "sys.h"
#include "thread.h"
#include "util.h"

/* O_DIRECT wants buffer, offset and length aligned to the logical block
 * size; 4096 covers every device in use (512e and 4Kn). */
#define ALIGN 4096u
#define BUFSZ (1024u * 1024u)

const char *vf_reread_method_name(int method) {
  switch (method) {
  case VF_REREAD_DIRECT: return "O_DIRECT";
  case VF_REREAD_DROPCACHE: return "flush and drop cache";
  default: return "unknown";
  }
}

/* Reads the whole file from `fd` and hashes it. With O_DIRECT every read
 * starts at an aligned offset with an aligned length; the read that meets
 * the end of the file returns short, and only the bytes it returned are
 * hashed. Should a read in the middle return a count that is not a
 * multiple of the alignment, the next read restarts at the aligned offset
 * below and the bytes already hashed are skipped. */
static int hash_fd(const pm_fs *fs, pm_fd fd, bool direct, void *buf,
                   size_t bufsz, uint64_t hint, pm_hash128 *out,
                   uint64_t *size) {
  pm_hasher *h = pm_hasher_create();
  uint64_t hashed = 0;
  int rc = 0;
  for (;;) {
    uint64_t off = direct ? hashed & ~(uint64_t)(ALIGN - 1) : hashed;
    /* Ask for no more than the expected rest and a byte (rounded up to the
     * alignment): a direct read past the end costs the kernel as much as
     * a read of data. */
    size_t len = bufsz;
    if (hint) {
      uint64_t want = hint > off ? hint - off + 1 : 1;
      want = (want + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
      if (want < len) len = (size_t)want;
    }
    int64_t n = pm_fs_pread(fs, fd, buf, len, off);
    if (n < 0) {
      rc = (int)n;
      break;
    }
    if ((uint64_t)n <= hashed - off) break; /* end of file */
    size_t skip = (size_t)(hashed - off);
    pm_hasher_update(h, (char *)buf + skip, (size_t)n - skip);
    hashed = off + (uint64_t)n;
    /* A read that returned less than asked has, on any local file
     * system, met the end; the file's size says so without another
     * read. That read would cost a second request to the medium per
     * small file (the tail block read again only to see 0 more bytes):
     * twice the disk requests of a --verify re-read of a postoffice,
     * whose median file is one block. A short read anywhere else (a
     * table that splits reads) goes on as before. */
    if ((size_t)n < len) {
      pm_stat st;
      if (pm_fs_fstat(fs, fd, &st) == 0 && st.size == hashed) break;
    }
  }
  if (!rc) {
    *out = pm_hasher_digest(h);
    *size = hashed;
  }
  pm_hasher_free(h);
  return rc;
}

int vf_hash_file_uncached(const pm_fs *fs, const char *path,
                          pm_hash128 *out, uint64_t *size, int *method) {
  void *buf = pm_aligned_alloc(ALIGN, BUFSZ);
  if (!buf) return PM_ENOMEM;
  int rc =
      vf_hash_file_uncached_buf(fs, path, buf, BUFSZ, 0, out, size, method);
  pm_aligned_free(buf);
  return rc;
}

/* path alone, or rel beneath dir (see vf_hash_file_uncached_at). */
static int open_one(const pm_fs *fs, pm_fd dir, const char *path,
                    int flags, pm_fd *fd) {
  /* PM_O_REGULAR: a FIFO put in the file's place fails the open instead
   * of blocking the re-read. */
  flags |= PM_O_RDONLY | PM_O_NOFOLLOW | PM_O_REGULAR;
  return dir == PM_FD_INVALID ? pm_fs_open(fs, path, flags, 0, fd)
                              : pm_fs_open_at(fs, dir, path, flags, 0, fd);
}

int vf_hash_file_uncached_buf(const pm_fs *fs, const char *path,
                              void *buf, size_t bufsz, uint64_t size_hint,
                              pm_hash128 *out, uint64_t *size, int *method) {
  return vf_hash_file_uncached_at(fs, PM_FD_INVALID, path, buf, bufsz,
                                  size_hint, out, size, method);
}

int vf_hash_file_uncached_at(const pm_fs *fs, pm_fd dir, const char *path,
                             void *buf, size_t bufsz, uint64_t size_hint,
                             pm_hash128 *out, uint64_t *size, int *method) {
  pm_fd fd;
  int rc = open_one(fs, dir, path, PM_O_DIRECT, &fd);
  if (rc == 0) {
    *method = VF_REREAD_DIRECT;
    rc = hash_fd(fs, fd, true, buf, bufsz, size_hint, out, size);
    int rc2 = pm_fs_close(fs, fd);
    /* A read refused with EINVAL under O_DIRECT (a device whose logical
     * block is larger than ALIGN, or a file system that accepts the flag
     * at open and refuses it later) falls through to the other method. */
    if (rc != PM_EINVAL) return rc ? rc : rc2;
  } else if (rc != PM_EINVAL && rc != PM_ENOTSUP) {
    return rc;
  }
  /* fsync on a read-only descriptor is fine on Linux; a Win32 backend
   * whose FlushFileBuffers wants write access handles that inside its
   * fsync slot. */
  PM_TRY(open_one(fs, dir, path, 0, &fd));
  *method = VF_REREAD_DROPCACHE;
  rc = pm_fs_fsync(fs, fd, true);
  /* Dirty pages are not dropped, hence the flush first. */
  if (!rc) rc = pm_fs_drop_cache(fs, fd, 0, 0);
  if (!rc) rc = hash_fd(fs, fd, false, buf, bufsz, size_hint, out, size);
  int rc2 = pm_fs_close(fs, fd);
  return rc ? rc : rc2;
}

/* ---- the order of a batch's re-reads ---- */

typedef struct order_key {
  uint64_t order;
  size_t i;
} order_key;

static int order_cmp(const void *a, const void *b) {
  const order_key *x = a, *y = b;
  if (x->order != y->order) return x->order < y->order ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* The items' indexes in the order to re-read them (see vf_reread_item),
 * malloc'd. */
static size_t *order_of(const vf_reread_item *items, size_t n) {
  size_t *perm = pm_xcalloc(n ? n : 1, sizeof *perm);
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    perm[i] = i;
    if (items[i].order) any = true;
  }
  if (!any) return perm;
  order_key *k = pm_xcalloc(n, sizeof *k);
  for (size_t i = 0; i < n; i++) k[i] = (order_key){items[i].order, i};
  qsort(k, n, sizeof *k, order_cmp);
  for (size_t j = 0; j < n; j++) perm[j] = k[j].i;
  free(k);
  return perm;
}

/* ---- a batch re-read by a team of threads ---- */

typedef struct reread_team {
  const pm_fs *fs;
  pm_fd dir;
  const vf_reread_item *items;
  vf_reread_result *out;
  const size_t *perm; /* the order to take them in */
  size_t n;
  atomic_size_t next;
} reread_team;

static void reread_main(void *arg) {
  reread_team *t = arg;
  void *buf = pm_aligned_alloc(VF_REREAD_ALIGN, BUFSZ);
  for (;;) {
    size_t j = atomic_fetch_add(&t->next, 1);
    if (j >= t->n) break;
    size_t i = t->perm[j];
    if (t->items[i].skip) continue;
    if (!buf) {
      t->out[i].rc = PM_ENOMEM;
      t->out[i].oserr = 0;
      continue;
    }
    int method;
    t->out[i].rc = vf_hash_file_uncached_at(
        t->fs, t->dir, t->items[i].rel, buf, BUFSZ, t->items[i].size,
        &t->out[i].hash, &t->out[i].size, &method);
    t->out[i].oserr = t->out[i].rc ? pm_oserr_of(t->out[i].rc) : 0;
  }
  pm_aligned_free(buf);
}

#define REREAD_MAX_THREADS 64

vf_reread_result *vf_reread_batch(const pm_fs *fs, pm_fd dir,
                                  const vf_reread_item *items, size_t n,
                                  unsigned threads) {
  reread_team t = {.fs = fs, .dir = dir, .items = items, .n = n};
  t.out = pm_xcalloc(n ? n : 1, sizeof *t.out);
  size_t *perm = order_of(items, n);
  t.perm = perm;
  atomic_init(&t.next, 0);
  pm_thread th[REREAD_MAX_THREADS];
  if (threads > REREAD_MAX_THREADS) threads = REREAD_MAX_THREADS;
  size_t nth = n < threads ? n : threads, started = 0;
  for (; started + 1 < nth; started++)
    if (pm_thread_create(&th[started], reread_main, &t)) break;
  reread_main(&t); /* this thread takes part too */
  for (size_t i = 0; i < started; i++) pm_thread_join(&th[i]);
  free(perm);
  return t.out;
}

/* ---- a batch re-read through an I/O engine (vf_rereader) ----
 *
 * depth slots, each a request and a VF_REREADER_CHUNK buffer, and as
 * many file records. Files are opened one after the other; each file's
 * reads are queued in offset order (one for a small file, several for a
 * large one) while slots are free, and come back in any order: a file's
 * slots are kept in a list in offset order and hashed from its head as
 * far as they are complete, so that a slot holding a later chunk waits
 * only for an earlier chunk of the same file, which is in flight. */

typedef struct rr_slot rr_slot;

/* A file opened ahead, with its place on the disk (has_pos false: none
 * known, read first, in the order it was opened). */
typedef struct rr_open {
  size_t item, seq; /* seq: its place in the opening order */
  pm_fd fd;
  uint64_t pos;
  bool has_pos;
} rr_open;

/* Files opened ahead in the disk's order: at most this many at once,
 * and a quarter of pm_open_files_max() (fewer where the process runs out
 * of descriptors all the same). */
#define RR_GROUP 4096
/* Files of the next group opened at each wait for the engine. */
#define RR_AHEAD 16

typedef struct rr_file {
  size_t item;
  pm_fd fd;
  bool used;
  pm_hasher *h;
  uint64_t size;   /* expected */
  uint64_t end;    /* size rounded up to the alignment: reads cover it */
  uint64_t issued; /* next offset to queue */
  uint64_t hashed;
  unsigned inflight; /* slots in its list */
  int rc, oserr;
  bool redo; /* re-read by vf_hash_file_uncached_at */
  rr_slot *head, *tail;
  struct rr_file *next_free;
} rr_file;

struct rr_slot {
  pm_io_req req;
  uint32_t len; /* asked (a wrapping table may shorten req.len) */
  bool done;
  rr_file *f;
  void *buf;
  rr_slot *next; /* in its file's list, or the free list */
};

struct vf_rereader {
  const pm_fs *fs;
  const pm_io_engine_ops *eng;
  pm_io_ctx *io; /* NULL after an engine failure it could not restart */
  unsigned depth, outstanding;
  void *arena;
  rr_slot *slots, *free_slots;
  rr_file *files, *free_files;
  pm_io_req **events;
  void *fbuf; /* vf_hash_file_uncached_at's buffer, made when needed */
  /* In the disk's order (vf_rereader_disk_order): the group of files
   * opened ahead, sorted by where they begin on the disk. */
  bool disk_order, no_pos;
  struct rr_open *group;
  size_t ngroup, gnext;
  /* The next group, opened while the reads of this one are in flight
   * (nnext of them so far), and the size of a group in this run. */
  struct rr_open *next_group;
  size_t nnext, gcap;
  /* The batch being re-read. */
  pm_fd dir;
  const vf_reread_item *items;
  vf_reread_result *out;
};

vf_rereader *vf_rereader_new(const pm_fs *fs, const pm_io_engine_ops *eng,
                             unsigned depth, int *rc) {
  if (depth < 1) depth = 1;
  vf_rereader *r = pm_xcalloc(1, sizeof *r);
  r->fs = fs;
  r->eng = eng;
  r->depth = depth;
  r->arena = pm_aligned_alloc(ALIGN, (size_t)depth * VF_REREADER_CHUNK);
  *rc = r->arena ? eng->init(fs, depth, &r->io) : PM_ENOMEM;
  if (*rc) {
    pm_aligned_free(r->arena);
    free(r);
    return NULL;
  }
  r->slots = pm_xcalloc(depth, sizeof *r->slots);
  r->files = pm_xcalloc(depth, sizeof *r->files);
  r->events = pm_xcalloc(depth, sizeof *r->events);
  for (unsigned i = depth; i-- > 0;) {
    r->slots[i].buf = (char *)r->arena + (size_t)i * VF_REREADER_CHUNK;
    r->slots[i].next = r->free_slots;
    r->free_slots = &r->slots[i];
    r->files[i].h = pm_hasher_create();
    r->files[i].next_free = r->free_files;
    r->free_files = &r->files[i];
  }
  return r;
}

void vf_rereader_free(vf_rereader *r) {
  if (!r) return;
  if (r->io) r->eng->cleanup(r->io);
  for (unsigned i = 0; i < r->depth; i++) pm_hasher_free(r->files[i].h);
  free(r->slots);
  free(r->files);
  free(r->events);
  pm_aligned_free(r->arena);
  pm_aligned_free(r->fbuf);
  free(r->group);
  free(r->next_group);
  free(r);
}

void vf_rereader_disk_order(vf_rereader *r, bool on) { r->disk_order = on; }

/* The file re-read whole by the one-file path, which takes the fallback
 * where O_DIRECT is refused and reads a file of any size whole. */
static void rr_redo(vf_rereader *r, size_t i) {
  vf_reread_result *o = &r->out[i];
  memset(o, 0, sizeof *o);
  if (!r->fbuf) r->fbuf = pm_aligned_alloc(ALIGN, BUFSZ);
  if (!r->fbuf) {
    o->rc = PM_ENOMEM;
    return;
  }
  int method;
  o->rc = vf_hash_file_uncached_at(r->fs, r->dir, r->items[i].rel, r->fbuf,
                                   BUFSZ, r->items[i].size, &o->hash,
                                   &o->size, &method);
  o->oserr = o->rc ? pm_oserr_of(o->rc) : 0;
}

/* All of f's reads are back: its size checked, its result written. */
static void rr_finish(vf_rereader *r, rr_file *f) {
  vf_reread_result *o = &r->out[f->item];
  int rc = f->rc, oserr = f->oserr;
  if (!rc && !f->redo) {
    pm_stat st;
    int src = pm_fs_fstat(r->fs, f->fd, &st);
    if (src) {
      rc = src;
      oserr = pm_oserr_of(src);
    } else if (st.size != f->hashed) {
      f->redo = true; /* longer than its reads, or shorter (redo says) */
    }
  }
  int crc = pm_fs_close(r->fs, f->fd);
  if (!rc && crc) {
    rc = crc;
    oserr = pm_oserr_of(crc);
  }
  if (f->redo) {
    rr_redo(r, f->item);
  } else if (rc) {
    o->rc = rc;
    o->oserr = oserr;
  } else {
    o->hash = pm_hasher_digest(f->h);
    o->size = f->hashed;
  }
  f->used = false;
  f->next_free = r->free_files;
  r->free_files = f;
}

/* A read of f came back: hash what is complete from the head of f's list
 * on, and finish f when nothing is left to queue or to hash. */
static void rr_complete(vf_rereader *r, rr_slot *s) {
  rr_file *f = s->f;
  s->done = true;
  while (f->head && f->head->done) {
    rr_slot *h = f->head;
    f->head = h->next;
    if (!f->head) f->tail = NULL;
    f->inflight--;
    int64_t res = h->req.res;
    if (!f->rc && !f->redo) {
      if (res == PM_EINVAL) {
        f->redo = true; /* O_DIRECT refused at the read */
      } else if (res < 0) {
        f->rc = (int)res;
        f->oserr = h->req.oserr;
      } else {
        /* Exactly the bytes the expected size leaves in this chunk;
         * anything else (the file changed size, a table that splits
         * reads) is left to the one-file path. */
        uint64_t want = f->size - h->req.off;
        if (want > h->len) want = h->len;
        if ((uint64_t)res != want) {
          f->redo = true;
        } else {
          pm_hasher_update(f->h, h->buf, (size_t)res);
          f->hashed += (uint64_t)res;
        }
      }
    }
    h->f = NULL;
    h->next = r->free_slots;
    r->free_slots = h;
  }
  if (!f->inflight && f->issued >= f->end) rr_finish(r, f);
}

/* Opens item i: the file record to queue reads for, or NULL when the
 * item is already done with (an error, the fallback, an empty file). */
/* Opens item i with O_DIRECT: 0 with *fd, or the item is done with (the
 * fallback, an error) and 1 is returned; PM_EMFILE (nothing done) when
 * `ahead` says the caller can come back to it with fewer files open. */
static int rr_open_item(vf_rereader *r, size_t i, bool ahead, pm_fd *fd) {
  int rc = open_one(r->fs, r->dir, r->items[i].rel, PM_O_DIRECT, fd);
  if (!rc) return 0;
  if (rc == PM_EMFILE && ahead) return rc;
  if (rc == PM_EINVAL || rc == PM_ENOTSUP) {
    rr_redo(r, i);
    return 1;
  }
  r->out[i].rc = rc;
  r->out[i].oserr = pm_oserr_of(rc);
  return 1;
}

static rr_file *rr_start(vf_rereader *r, size_t i, pm_fd fd) {
  rr_file *f = r->free_files;
  r->free_files = f->next_free;
  f->used = true;
  f->item = i;
  f->fd = fd;
  pm_hasher_reset(f->h);
  f->size = r->items[i].size;
  f->end = (f->size + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
  f->issued = f->hashed = 0;
  f->inflight = 0;
  f->rc = f->oserr = 0;
  f->redo = false;
  f->head = f->tail = NULL;
  if (!f->end) {
    rr_finish(r, f);
    return NULL;
  }
  return f;
}

static int pos_cmp(const void *a, const void *b) {
  const rr_open *x = a, *y = b;
  if (x->has_pos != y->has_pos) return x->has_pos ? 1 : -1;
  if (x->has_pos && x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq; /* else as opened */
}

/* Files opened ahead in the disk's order come in groups: the items
 * from perm[*next] on are opened into the next group (up to gcap, or
 * until the process has no descriptor left with one file open at least)
 * and each is asked where it begins on the disk; when the group being
 * read is used up, the next one is sorted by that and read: the reads of
 * neighbouring files then reach the device together and the block layer
 * merges them. A table that cannot tell (PM_ENOTSUP) is not asked again;
 * files it cannot place are read first; files at one place (or none)
 * keep the order they were opened in.
 *
 * The next group is opened while the reads of the current one are in
 * flight, a few files at each wait for the engine (rr_open_ahead), not
 * all at once when the current group is used up: the opens and FIEMAPs
 * were about a third of the re-read's CPU samples (perf, pm_reread_bench
 * ... disk, 100,000 files), during which no read was in flight. */

/* The size of a group: at most RR_GROUP and an eighth of what the
 * process may open (two groups may be open at once, and the copy's
 * workers open files too). */
static size_t rr_group_cap(void) {
  size_t cap = pm_open_files_max() / 8;
  if (cap > RR_GROUP) cap = RR_GROUP;
  if (cap < 16) cap = 16;
  return cap;
}

/* Opens up to `count` more items into the next group. False when that
 * group is complete (full, no item left, or out of descriptors). Out of
 * descriptors, the item is left for later (PM_EMFILE is no failure) when
 * `early` says that the current group still holds files or when the next
 * one holds some already. */
static bool rr_open_ahead(vf_rereader *r, const size_t *perm, size_t n,
                          size_t *next, size_t count, bool early) {
  if (!r->next_group) r->next_group = pm_xcalloc(RR_GROUP, sizeof *r->group);
  while (count && *next < n && r->nnext < r->gcap) {
    size_t i = perm[*next];
    if (r->items[i].skip) {
      (*next)++;
      continue;
    }
    pm_fd fd;
    int rc = rr_open_item(r, i, early || r->nnext > 0, &fd);
    if (rc == PM_EMFILE) return false;
    (*next)++;
    count--;
    if (rc) continue;
    rr_open *o = &r->next_group[r->nnext++];
    o->item = i;
    o->seq = r->nnext - 1;
    o->fd = fd;
    o->has_pos = false;
    if (!r->no_pos) {
      int prc = pm_fs_phys_pos(r->fs, fd, &o->pos);
      if (prc == PM_ENOTSUP) r->no_pos = true;
      o->has_pos = prc == 0;
    }
  }
  return *next < n && r->nnext < r->gcap;
}

/* The current group is used up: the next one is completed, sorted and
 * made the current one. */
static void rr_open_group(vf_rereader *r, const size_t *perm, size_t n,
                          size_t *next) {
  if (!r->group) r->group = pm_xcalloc(RR_GROUP, sizeof *r->group);
  while (rr_open_ahead(r, perm, n, next, RR_GROUP, false)) {
  }
  rr_open *t = r->group;
  r->group = r->next_group;
  r->next_group = t;
  r->ngroup = r->nnext;
  r->nnext = 0;
  r->gnext = 0;
  qsort(r->group, r->ngroup, sizeof *r->group, pos_cmp);
}

/* The engine failed as a whole (commit or getevents): its context is
 * cleaned up, which drains or cancels every read in flight, and every
 * file open is re-read by the one-file path; a new context is made for
 * what follows, or none (then every file takes the one-file path). */
static void rr_engine_failed(vf_rereader *r) {
  r->eng->cleanup(r->io);
  r->io = NULL;
  r->outstanding = 0;
  for (unsigned i = 0; i < r->depth; i++) {
    rr_slot *s = &r->slots[i];
    if (s->f) {
      s->f = NULL;
      s->next = r->free_slots;
      r->free_slots = s;
    }
  }
  for (unsigned i = 0; i < r->depth; i++) {
    rr_file *f = &r->files[i];
    if (!f->used) continue;
    f->head = f->tail = NULL;
    f->inflight = 0;
    f->issued = f->end;
    f->redo = true;
    rr_finish(r, f);
  }
  if (r->eng->init(r->fs, r->depth, &r->io)) r->io = NULL;
}

vf_reread_result *vf_rereader_run(vf_rereader *r, pm_fd dir,
                                  const vf_reread_item *items, size_t n) {
  r->dir = dir;
  r->items = items;
  r->out = pm_xcalloc(n ? n : 1, sizeof *r->out);
  size_t *perm = order_of(items, n);
  size_t next = 0; /* in perm */
  rr_file *cur = NULL; /* the file whose reads are being queued */
  r->ngroup = r->gnext = r->nnext = 0;
  r->gcap = rr_group_cap();
  for (;;) {
    if (!r->io) { /* no engine: each file by the one-file path */
      for (; r->gnext < r->ngroup; r->gnext++) {
        (void)pm_fs_close(r->fs, r->group[r->gnext].fd);
        rr_redo(r, r->group[r->gnext].item);
      }
      for (size_t j = 0; j < r->nnext; j++) {
        (void)pm_fs_close(r->fs, r->next_group[j].fd);
        rr_redo(r, r->next_group[j].item);
      }
      r->nnext = 0;
      for (; next < n; next++)
        if (!items[perm[next]].skip) rr_redo(r, perm[next]);
      break;
    }
    bool busy = false;
    while (r->free_slots && !busy) {
      if (!cur) {
        if (!r->free_files) break;
        if (r->disk_order) {
          if (r->gnext >= r->ngroup) {
            if (next >= n && !r->nnext) break;
            rr_open_group(r, perm, n, &next);
            continue;
          }
          rr_open *o = &r->group[r->gnext++];
          cur = rr_start(r, o->item, o->fd);
          continue;
        }
        if (next >= n) break;
        size_t i = perm[next++];
        pm_fd fd;
        if (!items[i].skip && !rr_open_item(r, i, false, &fd))
          cur = rr_start(r, i, fd);
        continue;
      }
      if (cur->rc || cur->redo) { /* no use reading the rest */
        cur->issued = cur->end;
        if (!cur->inflight) rr_finish(r, cur);
        cur = NULL;
        continue;
      }
      rr_slot *s = r->free_slots;
      uint64_t left = cur->end - cur->issued;
      s->len = left < VF_REREADER_CHUNK ? (uint32_t)left : VF_REREADER_CHUNK;
      s->req = (pm_io_req){.op = PM_IO_READ,
                           .fd = cur->fd,
                           .buf = s->buf,
                           .len = s->len,
                           .off = cur->issued,
                           .udata = s};
      int q = r->eng->queue(r->io, &s->req);
      if (q == PM_Q_BUSY) {
        busy = true;
        if (!r->outstanding) {
          /* Nothing in flight to wait for: this file by the one-file
           * path rather than a wait that cannot end. */
          cur->redo = true;
          cur->issued = cur->end;
          if (!cur->inflight) rr_finish(r, cur);
          cur = NULL;
          busy = false;
        }
        continue;
      }
      r->free_slots = s->next;
      s->f = cur;
      s->done = false;
      s->next = NULL;
      if (cur->tail)
        cur->tail->next = s;
      else
        cur->head = s;
      cur->tail = s;
      cur->inflight++;
      cur->issued += s->len;
      if (cur->issued >= cur->end) cur = NULL;
      if (q == PM_Q_QUEUED) {
        r->outstanding++;
      } else {
        if (q < 0) { /* refused: as a read that failed */
          s->req.res = q;
          s->req.oserr = pm_oserr_of(q);
        }
        rr_complete(r, s);
      }
    }
    if (!r->outstanding) {
      if (!cur && next >= n && r->gnext >= r->ngroup && !r->nnext) break;
      continue;
    }
    int rc = r->eng->commit(r->io);
    /* The reads are on their way: open a few files of the next group
     * meanwhile (their completions wait in the ring). */
    if (r->disk_order && rc >= 0)
      (void)rr_open_ahead(r, perm, n, &next, RR_AHEAD, true);
    int k = rc < 0 ? rc : r->eng->getevents(r->io, 1, r->depth, r->events);
    if (k < 0) {
      cur = NULL; /* rr_engine_failed re-reads it with the others */
      rr_engine_failed(r);
      continue;
    }
    for (int e = 0; e < k; e++) {
      r->outstanding--;
      rr_complete(r, r->events[e]->udata);
    }
  }
  free(perm);
  vf_reread_result *out = r->out;
  r->out = NULL;
  r->items = NULL;
  return out;
}
