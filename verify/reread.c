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
 * threads at once. */
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

/* ---- a batch re-read by a team of threads ---- */

typedef struct reread_team {
  const pm_fs *fs;
  pm_fd dir;
  const vf_reread_item *items;
  vf_reread_result *out;
  size_t n;
  atomic_size_t next;
} reread_team;

static void reread_main(void *arg) {
  reread_team *t = arg;
  void *buf = pm_aligned_alloc(VF_REREAD_ALIGN, BUFSZ);
  for (;;) {
    size_t i = atomic_fetch_add(&t->next, 1);
    if (i >= t->n) break;
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
  atomic_init(&t.next, 0);
  pm_thread th[REREAD_MAX_THREADS];
  if (threads > REREAD_MAX_THREADS) threads = REREAD_MAX_THREADS;
  size_t nth = n < threads ? n : threads, started = 0;
  for (; started + 1 < nth; started++)
    if (pm_thread_create(&th[started], reread_main, &t)) break;
  reread_main(&t); /* this thread takes part too */
  for (size_t i = 0; i < started; i++) pm_thread_join(&th[i]);
  return t.out;
}
