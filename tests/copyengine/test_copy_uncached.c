/* test_copy_uncached.c - how much of a large (uncached) file the copy
 * engine keeps in flight. A disk streams only with many MiB in flight;
 * the engine's four chunks a file gave 4 MiB. An uncached file may now
 * fill its worker's in-flight budget, and a worker that has just started
 * one takes no other file before that file's chunks are issued (so that
 * the next large file is left to another worker instead of all of them
 * being admitted at once, with nothing in flight yet, by the first).
 *
 * The copy gets its size before its first uncached write, so that no
 * write extends the file: such a write is made alone and waited for
 * (ext4's exclusive inode lock; NTFS's synchronous extending writes).
 *
 * A table marks the descriptors the engine opens uncached (opened cached
 * underneath, so that the scratch file system's O_DIRECT does not
 * matter) and says the source is not in the cache, so that both ends go
 * uncached; an engine wrapper counts the requests outstanding on such
 * descriptors (queued and not yet returned by getevents). Every engine.
 *
 * Without --inflight-bytes, a worker copying a file uncached may have 32
 * MiB in flight (CE_UNCACHED_INFLIGHT_DEFAULT), not the ordinary 16 MiB:
 * the loop device under the benchmark saw a queue of 20-35 requests with
 * 16 MiB, against pm_floor's 85-126 (session 9). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copyengine.h"
#include "testutil.h"
#include "util.h"

#define MAXFD 4096
#define CHUNK (1u << 20)
#define BUDGET (8u << 20)
#define FILE_SIZE (24u << 20)
/* A ragged tail: the last chunk padded, the file cut to size. */
static uint64_t final_size;

static atomic_uchar direct[MAXFD];
static atomic_int outstanding[MAXFD];
static atomic_int queued_total, max_out, queued_at_second;
static atomic_int extending_writes, max_len;
static atomic_int started; /* 0, the first file's digit, -1 both */
static const pm_fs *real;
static pm_fs_ops ops;
static const pm_fs fs = {&ops, NULL};
static const pm_io_engine_ops *inner;
static pm_io_engine_ops engine;

static bool is_direct(pm_fd fd) {
  return fd >= 0 && fd < MAXFD && atomic_load(&direct[fd]);
}

static int s_open_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                     int flags, uint32_t mode, pm_fd *out) {
  /* The first open of a source file (before its uncached one). */
  bool first_src_open = (flags & PM_O_ACCMODE) == PM_O_RDONLY &&
                        !(flags & (PM_O_DIRECT | PM_O_DIRECTORY)) &&
                        strncmp(rel, "big", 3) == 0;
  if (first_src_open) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&started, &expected, rel[3])) {
      /* The first file: time for the walker to queue the other beside
       * it, so that a worker that takes every file it finds takes that
       * one now. */
      usleep(200 * 1000);
    } else if (expected != rel[3] &&
               atomic_compare_exchange_strong(&started, &expected, -1)) {
      atomic_store(&queued_at_second, atomic_load(&queued_total));
    }
  }
  int rc = pm_fs_open_at(real, dir, rel, flags & ~PM_O_DIRECT, mode, out);
  if (rc == 0 && *out >= 0 && *out < MAXFD)
    atomic_store(&direct[*out], (flags & PM_O_DIRECT) != 0);
  return rc;
}

static int s_close(const pm_fs *self PM_UNUSED, pm_fd fd) {
  if (fd >= 0 && fd < MAXFD) atomic_store(&direct[fd], 0);
  return pm_fs_close(real, fd);
}

/* The source is never in the cache here, so its reads go uncached too. */
static int s_cached(const pm_fs *self PM_UNUSED, pm_fd fd PM_UNUSED,
                    uint64_t off PM_UNUSED) {
  return PM_EAGAIN;
}

static void count(pm_io_req *req, int d) {
  if ((req->op != PM_IO_READ && req->op != PM_IO_WRITE) || !is_direct(req->fd))
    return;
  int n = atomic_fetch_add(&outstanding[req->fd], d) + d;
  if (d > 0) atomic_fetch_add(&queued_total, 1);
  int l = atomic_load(&max_len);
  while (d > 0 && (int)req->len > l &&
         !atomic_compare_exchange_weak(&max_len, &l, (int)req->len)) {
  }
  int m = atomic_load(&max_out);
  while (n > m && !atomic_compare_exchange_weak(&max_out, &m, n)) {
  }
}

static int e_queue(pm_io_ctx *c, pm_io_req *req) {
  pm_stat st;
  if (req->op == PM_IO_WRITE && is_direct(req->fd) &&
      pm_fs_fstat(real, req->fd, &st) == 0 && st.size < final_size)
    atomic_fetch_add(&extending_writes, 1);
  int q = inner->queue(c, req);
  if (q == PM_Q_QUEUED) count(req, 1);
  return q;
}

static int e_getevents(pm_io_ctx *c, unsigned min, unsigned max,
                       pm_io_req **events) {
  int n = inner->getevents(c, min, max, events);
  for (int i = 0; i < n; i++) count(events[i], -1);
  return n;
}

static void tables_for(const pm_io_engine_ops *e) {
  real = pm_fs_native();
  ops = *real->ops;
  ops.open_at = s_open_at;
  ops.close = s_close;
  ops.cached = s_cached;
  inner = e;
  engine = *e;
  engine.queue = e_queue;
  engine.getevents = e_getevents;
}

/* Copies two files of size bytes (+ 777) with inflight_bytes and
 * chunk_size (0: the defaults) on one worker; each engine's most requests
 * in flight on one uncached file must be expect, each of at most
 * expect_len bytes and one of that length. */
static void copy_two(uint64_t size, uint64_t inflight_bytes, unsigned chunk_size,
                     int expect, int expect_len) {
  final_size = size + 777;
  const char *base = tu_scratch();
  char src[4096], dst[4096];
  snprintf(src, sizeof src, "%s/src", base);
  snprintf(dst, sizeof dst, "%s/dst", base);
  mkdir(src, 0755);
  for (int i = 1; i <= 2; i++) {
    char name[4200];
    snprintf(name, sizeof name, "%s/big%d", src, i);
    tu_write_pattern(name, (size_t)final_size, (uint32_t)i);
  }
  unsigned ran = 0;
  for (const pm_io_engine_ops *const *e = pm_io_engines(); *e; e++) {
    if ((*e)->probe() != 0) continue;
    tables_for(*e);
    atomic_store(&max_out, 0);
    atomic_store(&queued_total, 0);
    atomic_store(&queued_at_second, -1);
    atomic_store(&started, 0);
    atomic_store(&extending_writes, 0);
    atomic_store(&max_len, 0);
    tu_sh("rm -rf '%s' '%s.xxh128' '%s.pomove-journal'", dst, dst, dst);
    ce_options o;
    ce_options_init(&o);
    o.src = src;
    o.dst = dst;
    o.fs = &fs;
    o.engine = &engine;
    /* One worker: which file it takes when is then the engine's policy,
     * not a race between workers. */
    o.threads = 1;
    o.chunk_size = chunk_size;
    o.inflight_bytes = inflight_bytes;
    o.direct_min = CHUNK;
    o.journal = true;
    pm_set_quiet(true);
    ce_result r;
    assert_int_equal(ce_copy(&o, &r), 0);
    assert_int_equal(r.errors, 0);
    assert_int_equal(
        tu_sh("diff -r '%s' '%s' && cd '%s' && xxh128sum -c --quiet "
              "../dst.xxh128",
              src, dst, dst),
        0);
    printf("  %s: at most %d uncached requests in flight on one file "
           "(budget %d chunks); %d queued before the second file was "
           "opened; %d uncached writes to a file shorter than its size\n",
           (*e)->name, atomic_load(&max_out), expect,
           atomic_load(&queued_at_second), atomic_load(&extending_writes));
    /* The whole budget on one file (four chunks before), and the second
     * file started only once the first one's chunks were issued. */
    assert_int_equal(atomic_load(&max_out), expect);
    assert_int_equal(atomic_load(&max_len), expect_len);
    assert_true(atomic_load(&queued_at_second) >= expect);
    /* The copy had its size before its first write: no uncached write
     * extended it (ext4 and NTFS make such a write alone, and wait). */
    assert_int_equal(atomic_load(&extending_writes), 0);
    ran++;
  }
  if (!ran) skip();
  tu_cleanup();
}

/* --inflight-bytes given: the whole of it on one uncached file. */
static void test_copy_uncached_inflight(void **state) {
  (void)state;
  copy_two(FILE_SIZE, BUDGET, CHUNK, BUDGET / CHUNK, CHUNK);
}

/* The defaults: 32 MiB on an uncached file (16 MiB before), in chunks of
 * 2 MiB (1 MiB before); with --chunk-size given, chunks of that size. */
static void test_copy_uncached_default_inflight(void **state) {
  (void)state;
  copy_two(80u << 20, 0, CHUNK, (int)(CE_UNCACHED_INFLIGHT_DEFAULT / CHUNK), CHUNK);
  copy_two(80u << 20, 0, 0,
           (int)(CE_UNCACHED_INFLIGHT_DEFAULT / CE_UNCACHED_CHUNK_DEFAULT),
           (int)CE_UNCACHED_CHUNK_DEFAULT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_copy_uncached_inflight),
      cmocka_unit_test(test_copy_uncached_default_inflight),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
