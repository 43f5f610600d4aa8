/* test_copy_aligned.c - the copy engine never sends an uncached request
 * that Windows would refuse. A handle opened with FILE_FLAG_NO_BUFFERING
 * (PM_O_DIRECT) takes only reads and writes whose offset, length and
 * buffer are multiples of the sector size; Windows answers anything else
 * with ERROR_INVALID_PARAMETER, Wine and tmpfs take it. The copy engine
 * falls back to the cache on PM_EINVAL, so a misaligned request would not
 * fail a copy: it would quietly make every large file slow. Here a table
 * marks every descriptor the engine opens uncached (opened cached
 * underneath, so that the check does not depend on the scratch file
 * system's O_DIRECT) and an engine wrapper and the table's pread/pwrite
 * refuse, count and name any misaligned request on one, as Windows does
 * with 4096-byte sectors. Files with ragged tails (the classic trap: a
 * last chunk shorter than a sector), one exactly aligned, several chunk
 * sizes, with and without --verify's re-read, every engine. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "copyengine.h"
#include "testutil.h"
#include "util.h"

#define SECTOR 4096u
#define MAXFD 4096

static atomic_uchar direct[MAXFD];
static atomic_uint direct_opens, direct_reqs, misaligned;
static const pm_fs *real;
static pm_fs_ops strict_ops;
static const pm_fs strict_fs = {&strict_ops, NULL};
static const pm_io_engine_ops *inner;
static pm_io_engine_ops strict_engine;

static bool is_direct(pm_fd fd) {
  return fd >= 0 && fd < MAXFD && atomic_load(&direct[fd]);
}

static void mark(pm_fd fd, bool on) {
  if (fd >= 0 && fd < MAXFD) atomic_store(&direct[fd], on);
}

/* True (and counted, and named) when the request is one Windows refuses. */
static bool refused(const char *what, pm_fd fd, const void *buf, uint64_t len,
                    uint64_t off) {
  if (!is_direct(fd)) return false;
  atomic_fetch_add(&direct_reqs, 1);
  if (off % SECTOR == 0 && len % SECTOR == 0 &&
      (uintptr_t)buf % SECTOR == 0)
    return false;
  atomic_fetch_add(&misaligned, 1);
  fprintf(stderr, "misaligned uncached %s: offset %llu, length %llu, "
                  "buffer %% %u = %u\n",
          what, (unsigned long long)off, (unsigned long long)len, SECTOR,
          (unsigned)((uintptr_t)buf % SECTOR));
  return true;
}

static int s_open(const pm_fs *self PM_UNUSED, const char *p, int flags,
                  uint32_t mode, pm_fd *out) {
  int rc = pm_fs_open(real, p, flags & ~PM_O_DIRECT, mode, out);
  if (rc == 0) {
    mark(*out, flags & PM_O_DIRECT);
    if (flags & PM_O_DIRECT) atomic_fetch_add(&direct_opens, 1);
  }
  return rc;
}

static int s_open_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                     int flags, uint32_t mode, pm_fd *out) {
  int rc = pm_fs_open_at(real, dir, rel, flags & ~PM_O_DIRECT, mode, out);
  if (rc == 0) {
    mark(*out, flags & PM_O_DIRECT);
    if (flags & PM_O_DIRECT) atomic_fetch_add(&direct_opens, 1);
  }
  return rc;
}

static int s_close(const pm_fs *self PM_UNUSED, pm_fd fd) {
  mark(fd, false);
  return pm_fs_close(real, fd);
}

static int64_t s_pread(const pm_fs *self PM_UNUSED, pm_fd fd, void *buf,
                       size_t len, uint64_t off) {
  if (refused("pread", fd, buf, len, off)) return PM_EINVAL;
  return pm_fs_pread(real, fd, buf, len, off);
}

static int64_t s_pwrite(const pm_fs *self PM_UNUSED, pm_fd fd, const void *buf,
                        size_t len, uint64_t off) {
  if (refused("pwrite", fd, buf, len, off)) return PM_EINVAL;
  return pm_fs_pwrite(real, fd, buf, len, off);
}

/* The source is never in the cache here, so its reads go uncached too. */
static int s_cached(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t off) {
  (void)fd;
  (void)off;
  return PM_EAGAIN;
}

static int e_queue(pm_io_ctx *c, pm_io_req *req) {
  if ((req->op == PM_IO_READ || req->op == PM_IO_WRITE) &&
      refused(req->op == PM_IO_READ ? "read" : "write", req->fd, req->buf,
              req->len, req->off)) {
    req->res = PM_EINVAL;
    req->oserr = 22;
    return PM_Q_COMPLETED;
  }
  return inner->queue(c, req);
}

static void tables_for(const pm_io_engine_ops *e) {
  real = pm_fs_native();
  strict_ops = *real->ops;
  strict_ops.open = s_open;
  strict_ops.open_at = s_open_at;
  strict_ops.close = s_close;
  strict_ops.pread = s_pread;
  strict_ops.pwrite = s_pwrite;
  strict_ops.cached = s_cached;
  inner = e;
  strict_engine = *e;
  strict_engine.queue = e_queue;
}

static void test_copy_aligned_uncached(void **state) {
  (void)state;
  const char *base = tu_scratch();
  char src[4096], dst[4096];
  snprintf(src, sizeof src, "%s/src", base);
  snprintf(dst, sizeof dst, "%s/dst", base);
  mkdir(src, 0755);
  /* Ragged tails of every kind, a file shorter than one chunk, and one
   * exactly a whole number of sectors. */
  const uint64_t sizes[] = {20000,          SECTOR * 5 + 1,  8192 * 9 + 7,
                            8192 * 4,       65536 * 3 + 4095, 65536 * 2 + 512,
                            1048576 + 123};
  const size_t nsizes = sizeof sizes / sizeof sizes[0];
  for (size_t i = 0; i < nsizes; i++) {
    char name[4200];
    snprintf(name, sizeof name, "%s/f%zu", src, i);
    tu_write_pattern(name, sizes[i], (uint32_t)i + 3);
  }
  const unsigned chunks[] = {8192, 65536, 1048576};
  unsigned ran = 0;
  for (const pm_io_engine_ops *const *e = pm_io_engines(); *e; e++) {
    if ((*e)->probe() != 0) continue;
    tables_for(*e);
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
      for (int verify = 0; verify < 2; verify++) {
        atomic_store(&direct_opens, 0);
        atomic_store(&direct_reqs, 0);
        atomic_store(&misaligned, 0);
        tu_sh("rm -rf '%s' '%s.xxh128' '%s.pomove-journal'", dst, dst, dst);
        ce_options o;
        ce_options_init(&o);
        o.src = src;
        o.dst = dst;
        o.fs = &strict_fs;
        o.engine = &strict_engine;
        o.threads = 2;
        o.chunk_size = chunks[k];
        o.direct_min = 16384;
        o.journal = true;
        o.checkpoint_bytes = 65536;
        o.verify = verify;
        pm_set_quiet(true);
        ce_result r;
        assert_int_equal(ce_copy(&o, &r), 0);
        assert_int_equal(r.errors, 0);
        assert_int_equal(
            tu_sh("diff -r '%s' '%s' && cd '%s' && xxh128sum -c --quiet "
                  "../dst.xxh128",
                  src, dst, dst),
            0);
        printf("  %s, chunk %u%s: %u uncached opens, %u uncached requests, "
               "%u misaligned\n",
               (*e)->name, chunks[k], verify ? ", --verify" : "",
               atomic_load(&direct_opens), atomic_load(&direct_reqs),
               atomic_load(&misaligned));
        /* Both ends of every file went uncached, and nothing misaligned
         * was sent. */
        assert_true(atomic_load(&direct_opens) >= 2 * nsizes);
        assert_true(atomic_load(&direct_reqs) > 0);
        assert_int_equal(atomic_load(&misaligned), 0);
      }
    }
    ran++;
  }
  if (!ran) skip();
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_copy_aligned_uncached),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
