/* gen_write.c - see gen_write.h. The pool design keeps generation at
 * page-cache speed: a 4 MiB block of xorshift output is made once, and a
 * file's chunks are slices of it at offsets drawn from the file's own
 * stream, with a 16-byte per-file header so that no two files share a
 * hash even when they are small. */
#include "gen_write.h"
#include "fileutil.h"
#include "sys.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
  POOL_BYTES = 4u << 20,  /* distinct random content */
  CHUNK_BYTES = 1u << 20, /* one pwrite; pool holds POOL + CHUNK bytes */
  HEADER_BYTES = 16
};

uint64_t po_splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void po_rng_seed(po_rng *r, uint64_t seed, uint64_t stream) {
  uint64_t st = seed * 0xD1342543DE82EF95ull + stream;
  r->s = po_splitmix64(&st);
  if (r->s == 0) r->s = 0x2545F4914F6CDD1Dull; /* xorshift must not be 0 */
}

uint64_t po_rng_next(po_rng *r) {
  uint64_t x = r->s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

uint64_t po_rng_below(po_rng *r, uint64_t n) {
  /* The modulo bias is below 2^-40 for the ranges used here. */
  return po_rng_next(r) % n;
}

double po_rng_unit(po_rng *r) {
  return (double)(po_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t po_rng_lognormal(po_rng *r, double median, double sigma, uint64_t lo,
                          uint64_t hi) {
  /* Box-Muller; 1 - u keeps log() away from 0. */
  double u1 = 1.0 - po_rng_unit(r), u2 = po_rng_unit(r);
  double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
  double v = median * exp(sigma * z);
  if (v < (double)lo) return lo;
  if (v > (double)hi) return hi;
  return (uint64_t)v;
}

typedef struct po_dirmeta {
  char *rel;
  uint32_t mode;
  pm_time mtime;
} po_dirmeta;

struct po_writer {
  const pm_fs *fs;
  char *root;
  uint64_t seed;
  uint8_t *pool, *text, *buf;
  po_dirmeta *dirs;
  size_t ndirs, capdirs;
  pm_progress prog;
  po_gen_stats st;
  int err;
};

static void fill_pools(po_writer *w) {
  po_rng r;
  po_rng_seed(&r, w->seed, 0x504F4F4Cull);
  size_t n = (size_t)POOL_BYTES + CHUNK_BYTES;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = po_rng_next(&r);
    memcpy(w->pool + i, &v, 8);
  }
  /* Text files (INI, LOG, INF ...) get printable lines so that they look
   * like what they are; word lengths and line breaks come from the pool. */
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ";
  size_t col = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t b = w->pool[i];
    if (col >= 40 && b < 16) {
      w->text[i++] = '\r'; /* DOS line ends: these are NT-era files */
      if (i < n) w->text[i] = '\n';
      col = 0;
      continue;
    }
    w->text[i] = (uint8_t)alphabet[b % (sizeof alphabet - 1)];
    col++;
  }
}

static char *full_path(const po_writer *w, const char *rel) {
  return rel[0] ? pm_path_join(w->root, rel) : pm_xstrdup(w->root);
}

static int fail(po_writer *w, const char *op, const char *path, int rc) {
  if (!w->err) {
    pm_progress_finish(&w->prog);
    pm_report_error(op, path, rc);
    w->err = rc;
  }
  return rc;
}

/* mkdir -p for the root's parents and the root itself. */
static int make_root(po_writer *w) {
  const pm_fs *fs = w->fs;
  pm_stat st;
  int rc = pm_fs_stat(fs, w->root, true, &st);
  if (rc == 0) {
    if (st.type != PM_T_DIR) {
      pm_oserr_set(0);
      return fail(w, "create tree at", w->root, PM_ENOTDIR);
    }
    pm_dir *d;
    rc = pm_fs_opendir(fs, w->root, &d);
    if (rc) return fail(w, "open directory", w->root, rc);
    pm_dirent ent;
    rc = pm_fs_readdir(fs, d, &ent);
    pm_fs_closedir(fs, d);
    if (rc < 0) return fail(w, "read directory", w->root, rc);
    if (rc > 0) {
      pm_oserr_set(0);
      return fail(w, "create tree in non-empty directory", w->root,
                  PM_EEXIST);
    }
    return 0;
  }
  if (rc != PM_ENOENT) return fail(w, "stat", w->root, rc);
  rc = pm_file_mkdirs(fs, w->root, 0755, NULL);
  return rc ? fail(w, "create directory", w->root, rc) : 0;
}

int po_writer_open(po_writer **out, const char *root, uint32_t seed,
                   bool quiet, const char *label, uint64_t files_total,
                   uint64_t bytes_total) {
  po_writer *w = pm_xcalloc(1, sizeof *w);
  w->fs = pm_fs_native();
  w->root = pm_xstrdup(root);
  /* Strip trailing slashes so that joined paths read cleanly. */
  for (size_t n = strlen(w->root); n > 1 && w->root[n - 1] == '/'; n--)
    w->root[n - 1] = '\0';
  w->seed = seed;
  pm_progress_init(&w->prog, label, quiet ? PM_PROGRESS_OFF : PM_PROGRESS_AUTO);
  w->prog.files_total = files_total;
  w->prog.bytes_total = bytes_total;
  *out = w;
  if (make_root(w)) return w->err;
  w->pool = pm_xmalloc((size_t)POOL_BYTES + CHUNK_BYTES);
  w->text = pm_xmalloc((size_t)POOL_BYTES + CHUNK_BYTES);
  w->buf = pm_xmalloc(CHUNK_BYTES);
  fill_pools(w);
  return 0;
}

/* Ctrl-C: stop before the next directory, file or chunk. Not an error
 * to report: the command says it was interrupted. */
static bool stop_requested(po_writer *w) {
  if (!w->err && pm_interrupted()) {
    pm_progress_finish(&w->prog);
    w->err = PM_ECANCELED;
  }
  return w->err != 0;
}

int po_writer_dir(po_writer *w, const char *rel, uint32_t mode,
                  pm_time mtime) {
  if (stop_requested(w)) return w->err;
  if (rel[0]) {
    char *path = full_path(w, rel);
    int rc = pm_fs_mkdir(w->fs, path, 0755);
    if (rc) {
      fail(w, "create directory", path, rc);
      free(path);
      return rc;
    }
    free(path);
    w->st.dirs++;
  }
  if (w->ndirs == w->capdirs) {
    w->capdirs = w->capdirs ? w->capdirs * 2 : 64;
    w->dirs = pm_xrealloc(w->dirs, w->capdirs * sizeof *w->dirs);
  }
  w->dirs[w->ndirs++] = (po_dirmeta){pm_xstrdup(rel), mode, mtime};
  return 0;
}

static int write_all(po_writer *w, pm_fd fd, const uint8_t *p, size_t n,
                     uint64_t off, const char *path) {
  int rc = pm_file_write_all(w->fs, fd, p, n, off);
  return rc ? fail(w, "write", path, rc) : 0;
}

int po_writer_file(po_writer *w, const char *rel, uint64_t size,
                   uint32_t mode, pm_time mtime, uint64_t content_seed,
                   po_content kind) {
  if (stop_requested(w)) return w->err;
  char *path = full_path(w, rel);
  pm_fd fd;
  int rc = pm_fs_open(w->fs, path, PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL, 0600, &fd);
  if (rc) {
    fail(w, "create file", path, rc);
    free(path);
    return rc;
  }
  po_rng r;
  po_rng_seed(&r, w->seed, content_seed);
  const uint8_t *pool = kind == PO_CONTENT_TEXT ? w->text : w->pool;
  for (uint64_t off = 0; off < size && !rc;) {
    size_t n = size - off < CHUNK_BYTES ? (size_t)(size - off) : CHUNK_BYTES;
    const uint8_t *src = pool + po_rng_below(&r, POOL_BYTES);
    if (off == 0 && kind == PO_CONTENT_BINARY) {
      /* A per-file header makes every file's content unique. */
      memcpy(w->buf, src, n);
      for (size_t i = 0; i < HEADER_BYTES && i < n; i += 8) {
        uint64_t v = po_rng_next(&r);
        memcpy(w->buf + i, &v, n - i < 8 ? n - i : 8);
      }
      src = w->buf;
    }
    rc = write_all(w, fd, src, n, off, path);
    off += n;
    if (!rc && off < size && stop_requested(w)) rc = w->err;
  }
  /* The mode is set explicitly (not through open's mode) so that the
   * tree does not depend on the caller's umask. */
  if (!rc && (rc = pm_fs_fchmod(w->fs, fd, mode)) != 0) fail(w, "chmod", path, rc);
  if (!rc && (rc = pm_fs_futimes(w->fs, fd, &mtime, &mtime)) != 0)
    fail(w, "set times of", path, rc);
  int crc = pm_fs_close(w->fs, fd);
  if (!rc && crc) rc = fail(w, "close", path, crc);
  free(path);
  if (rc) return rc;
  w->st.files++;
  w->st.bytes += size;
  pm_progress_update(&w->prog, w->st.files, w->st.bytes, false);
  return 0;
}

int po_writer_close(po_writer *w, po_gen_stats *st) {
  /* Children were recorded after their parents: walking backwards sets a
   * directory's times after everything below it was created. */
  for (size_t i = w->ndirs; i-- > 0;) {
    po_dirmeta *d = &w->dirs[i];
    if (!w->err) {
      char *path = full_path(w, d->rel);
      int rc = pm_fs_chmod(w->fs, path, d->mode);
      if (rc) fail(w, "chmod", path, rc);
      else if ((rc = pm_fs_utimes(w->fs, path, &d->mtime, &d->mtime, false)) != 0)
        fail(w, "set times of", path, rc);
      free(path);
    }
    free(d->rel);
  }
  /* A closing line only when periodic lines were shown: small trees stay
   * silent. */
  if (!w->err && w->prog.drawn)
    pm_progress_update(&w->prog, w->st.files, w->st.bytes, true);
  pm_progress_finish(&w->prog);
  int err = w->err;
  if (st) *st = w->st;
  free(w->dirs);
  free(w->pool);
  free(w->text);
  free(w->buf);
  free(w->root);
  free(w);
  return err;
}
