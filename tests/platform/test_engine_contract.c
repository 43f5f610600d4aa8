/* test_engine_contract.c - the conformance suite of the asynchronous I/O
 * engines (pm_io_engine_ops in platform.h, fio's queue / commit /
 * getevents shape). Every case runs against every engine in
 * pm_io_engines() that probes usable here (the others are named and
 * passed over; a case no engine could run is reported skipped), so the
 * IOCP engine of the Win32 build meets the same suite. The contract
 * points, one case each:
 *
 * - validate: pm_io_engine_validate accepts each engine and refuses one
 *   with a slot empty.
 * - each_request_once: queue() answers PM_Q_COMPLETED, PM_Q_QUEUED or
 *   PM_Q_BUSY, and every request queued comes back exactly once (from
 *   queue() as completed, or from getevents()), never twice, never one
 *   that was not queued; a request queue() refuses (bad op) never comes
 *   back at all.
 * - getevents_min_max: getevents(min, max) returns at least min (capped
 *   at the requests outstanding, so it never waits for what cannot come)
 *   and at most max; with nothing outstanding it returns 0 at once.
 * - pattern: writes and reads at many offsets, depth-many in flight,
 *   move the right bytes (short transfers resubmitted by the caller).
 * - eof: a read at or past the end returns 0; a read spanning the end
 *   returns the bytes up to it.
 * - sync: fsync and fdatasync requests complete with 0.
 * - bad_fd: a request on an invalid handle, or a write on a read-only
 *   one, comes back with res < 0 and the OS's code in oserr.
 * - busy: with depth requests outstanding, queue() says BUSY (or
 *   completes the request itself), never overruns; reaping frees room.
 * - two_contexts: contexts of one engine are independent.
 * - cleanup_in_flight: cleanup() with requests queued and in flight
 *   returns promptly (the engine drains or cancels them), and after it
 *   returns no buffer is written any more.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "platform.h"
#include "testutil.h"
#include "util.h"

typedef void (*engine_case)(const pm_io_engine_ops *e, const pm_fs *fs,
                            const char *dir);

/* Runs one case against every usable engine, each in a fresh scratch
 * directory; skips the test when none could run it. */
static void for_each_engine(engine_case fn) {
  unsigned ran = 0;
  for (const pm_io_engine_ops *const *e = pm_io_engines(); *e; e++) {
    int rc = (*e)->probe();
    if (rc) {
      print_message("  engine %s unusable here (%s, OS error %d): skipped\n",
                    (*e)->name, pm_errname(rc), pm_oserr_last());
      continue;
    }
    print_message("  engine %s\n", (*e)->name);
    const char *dir = tu_scratch();
    fn(*e, pm_fs_native(), dir);
    ct_strings_free();
    tu_cleanup();
    ran++;
  }
  if (!ran) skip();
}

#define ENGINE_CASE(name)                                                  \
  static void case_##name(const pm_io_engine_ops *e, const pm_fs *fs, \
                          const char *dir);                                \
  static void test_engine_contract_##name(void **state) {                  \
    (void)state;                                                           \
    for_each_engine(case_##name);                                          \
  }                                                                        \
  static void case_##name(const pm_io_engine_ops *e, const pm_fs *fs, \
                          const char *dir)

/* ---- bookkeeping: every request comes back exactly once ---- */

typedef struct tracker {
  pm_io_req *reqs;
  unsigned n;
  unsigned char *back; /* times each request came back */
  unsigned outstanding;
  unsigned max_outstanding;
  unsigned busy; /* BUSY answers seen */
} tracker;

static void tracker_init(tracker *t, unsigned n) {
  memset(t, 0, sizeof *t);
  t->reqs = pm_xcalloc(n, sizeof *t->reqs);
  t->back = pm_xcalloc(n, 1);
  t->n = n;
  for (unsigned i = 0; i < n; i++) t->reqs[i].udata = &t->back[i];
}

static void tracker_free(tracker *t) {
  free(t->reqs);
  free(t->back);
}

static void came_back(tracker *t, pm_io_req *r) {
  if (r < t->reqs || r >= t->reqs + t->n) {
    print_error("the engine returned a request that was never queued (%p)\n",
                (void *)r);
    fail();
  }
  unsigned i = (unsigned)(r - t->reqs);
  assert_ptr_equal(r->udata, &t->back[i]);
  if (t->back[i]) {
    print_error("request %u came back twice\n", i);
    fail();
  }
  t->back[i] = 1;
}

/* Queues request i: returns the PM_Q_* answer; a completed request counts
 * as back. */
static int submit(const pm_io_engine_ops *e, pm_io_ctx *c, tracker *t,
                  unsigned i) {
  int q = e->queue(c, &t->reqs[i]);
  switch (q) {
  case PM_Q_COMPLETED: came_back(t, &t->reqs[i]); break;
  case PM_Q_QUEUED:
    t->outstanding++;
    if (t->outstanding > t->max_outstanding)
      t->max_outstanding = t->outstanding;
    break;
  case PM_Q_BUSY: t->busy++; break;
  default:
    print_error("queue() answered %d (%s)\n", q, pm_errname(q));
    fail();
  }
  return q;
}

/* getevents(min, max), checking the count against the contract. */
static unsigned reap(const pm_io_engine_ops *e, pm_io_ctx *c, tracker *t,
                     unsigned min, unsigned max) {
  pm_io_req **ev = pm_xcalloc(max ? max : 1, sizeof *ev);
  ct_watchdog *w = ct_watchdog_start(30, "getevents");
  int got = e->getevents(c, min, max, ev);
  ct_watchdog_stop(w);
  if (got < 0) {
    print_error("getevents: %s\n", pm_errname(got));
    fail();
  }
  unsigned want = min < t->outstanding ? min : t->outstanding;
  if ((unsigned)got < want || (unsigned)got > max) {
    print_error("getevents(%u, %u) with %u outstanding returned %d\n", min,
                max, t->outstanding, got);
    fail();
  }
  for (int i = 0; i < got; i++) came_back(t, ev[i]);
  t->outstanding -= (unsigned)got;
  free(ev);
  return (unsigned)got;
}

static void drain(const pm_io_engine_ops *e, pm_io_ctx *c, tracker *t,
                  unsigned depth) {
  while (t->outstanding) reap(e, c, t, 1, depth);
  /* Nothing is left to report, and asking returns at once. */
  reap(e, c, t, 1, depth);
  assert_int_equal(reap(e, c, t, 0, depth), 0);
}

static void expect_all_back(const tracker *t) {
  for (unsigned i = 0; i < t->n; i++)
    if (t->back[i] != 1) {
      print_error("request %u never came back\n", i);
      fail();
    }
}

static pm_io_ctx *ctx_init(const pm_io_engine_ops *e, const pm_fs *fs,
                           unsigned depth) {
  pm_io_ctx *c = NULL;
  int rc = e->init(fs, depth, &c);
  if (rc) print_error("init: %s\n", pm_errname(rc));
  assert_int_equal(rc, 0);
  assert_non_null(c);
  return c;
}

static unsigned char pattern_byte(uint64_t off) {
  return (unsigned char)((off * 2654435761u) >> 13 ^ off);
}

/* A file of `size` pattern bytes, written through the table. */
static void pattern_file(const pm_fs *fs, const char *path, uint64_t size,
                         pm_fd *out, int flags) {
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, path, PM_O_RDWR | PM_O_CREAT | PM_O_TRUNC, 0644,
                            &fd), 0);
  unsigned char buf[65536];
  for (uint64_t off = 0; off < size; off += sizeof buf) {
    size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = pattern_byte(off + i);
    assert_int_equal(pm_fs_pwrite(fs, fd, buf, n, off), (int64_t)n);
  }
  assert_int_equal(pm_fs_close(fs, fd), 0);
  if (out) assert_int_equal(pm_fs_open(fs, path, flags, 0, out), 0);
}

static void set_req(pm_io_req *r, int op, pm_fd fd, void *buf, uint32_t len,
                    uint64_t off) {
  r->op = op;
  r->fd = fd;
  r->buf = buf;
  r->len = len;
  r->off = off;
  r->res = -77777;
  r->oserr = -77777;
}

/* ---- cases ---- */

ENGINE_CASE(validate) {
  (void)fs;
  (void)dir;
  assert_int_equal(pm_io_engine_validate(e), PM_OK);
  assert_int_equal(pm_io_engine_validate(NULL), PM_EINVAL);
  pm_io_engine_ops copy = *e;
  copy.name = NULL;
  assert_int_equal(pm_io_engine_validate(&copy), PM_EINVAL);
  size_t first = offsetof(pm_io_engine_ops, probe);
  size_t nslots = (sizeof copy - first) / sizeof(void (*)(void));
  for (size_t i = 0; i < nslots; i++) {
    copy = *e;
    memset((char *)&copy + first + i * sizeof(void (*)(void)), 0,
           sizeof(void (*)(void)));
    if (pm_io_engine_validate(&copy) != PM_EINVAL) {
      print_error("slot %zu left empty was accepted\n", i);
      fail();
    }
  }
  /* The engine is found by its name. */
  assert_ptr_equal(pm_io_engine_find(e->name), e);
}

ENGINE_CASE(each_request_once) {
  const unsigned depth = 8, n = 400, bs = 4096;
  char *p = ct_str("%s/f", dir);
  pm_fd fd;
  pattern_file(fs, p, (uint64_t)n * bs, &fd, PM_O_RDONLY);
  pm_io_ctx *c = ctx_init(e, fs, depth);
  tracker t;
  tracker_init(&t, n);
  unsigned char *bufs = pm_xmalloc((size_t)n * bs);

  /* A request with an unknown op is refused by queue() and must leave no
   * trace: it never comes back from getevents. */
  pm_io_req bad;
  set_req(&bad, 99, fd, bufs, bs, 0);
  int q = e->queue(c, &bad);
  assert_true(q < 0);

  for (unsigned i = 0; i < n; i++) {
    /* Offsets in a scrambled order. */
    uint64_t blk = (i * 7919u) % n;
    set_req(&t.reqs[i], PM_IO_READ, fd, bufs + (size_t)i * bs, bs, blk * bs);
    while (submit(e, c, &t, i) == PM_Q_BUSY) {
      assert_int_equal(e->commit(c), 0);
      reap(e, c, &t, 1, depth);
    }
    if (i % 5 == 4) assert_int_equal(e->commit(c), 0);
  }
  assert_int_equal(e->commit(c), 0);
  drain(e, c, &t, depth);
  expect_all_back(&t);
  for (unsigned i = 0; i < n; i++) {
    assert_int_equal(t.reqs[i].res, bs);
    uint64_t off = t.reqs[i].off;
    for (unsigned k = 0; k < bs; k += 509)
      assert_int_equal(bufs[(size_t)i * bs + k], pattern_byte(off + k));
  }
  print_message("    %u requests, up to %u in flight, %u BUSY answers\n", n,
                t.max_outstanding, t.busy);
  assert_true(t.max_outstanding <= depth);
  e->cleanup(c);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  tracker_free(&t);
  free(bufs);
}

ENGINE_CASE(getevents_min_max) {
  const unsigned depth = 16, bs = 4096;
  char *p = ct_str("%s/f", dir);
  pm_fd fd;
  pattern_file(fs, p, (uint64_t)depth * bs, &fd, PM_O_RDONLY);
  pm_io_ctx *c = ctx_init(e, fs, depth);
  tracker t;
  tracker_init(&t, depth);
  unsigned char *bufs = pm_xmalloc((size_t)depth * bs);

  /* Nothing outstanding: every form returns 0 at once. */
  assert_int_equal(reap(e, c, &t, 0, depth), 0);
  assert_int_equal(reap(e, c, &t, 1, depth), 0);
  assert_int_equal(reap(e, c, &t, depth, depth), 0);

  for (unsigned i = 0; i < depth; i++) {
    set_req(&t.reqs[i], PM_IO_READ, fd, bufs + (size_t)i * bs, bs,
            (uint64_t)i * bs);
    assert_int_not_equal(submit(e, c, &t, i), PM_Q_BUSY);
  }
  assert_int_equal(e->commit(c), 0);
  unsigned got = reap(e, c, &t, 5, 7);
  assert_true(got >= 5 && got <= 7);
  if (t.outstanding >= 3) assert_int_equal(reap(e, c, &t, 3, 3), 3);
  if (t.outstanding >= 1) assert_int_equal(reap(e, c, &t, 1, 1), 1);
  /* More asked than outstanding: the rest, without waiting forever. */
  unsigned left = t.outstanding;
  assert_int_equal(reap(e, c, &t, depth * 4, depth * 4), left);
  assert_int_equal(t.outstanding, 0);
  expect_all_back(&t);
  e->cleanup(c);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  tracker_free(&t);
  free(bufs);
}

/* A transfer of a whole buffer in blocks, with short transfers
 * resubmitted for the rest, as the contract asks of callers. */
typedef struct xfer {
  tracker t;
  unsigned *pending; /* blocks whose rest waits to be queued again */
  unsigned npending, complete, resubmits;
  int op;
} xfer;

/* A request came back: the whole block, or its rest goes back in. */
static void xfer_finish(xfer *x, pm_io_req *r) {
  if (r->res < 0) {
    print_error("%s at %llu: %s (OS error %d)\n",
                x->op == PM_IO_READ ? "read" : "write",
                (unsigned long long)r->off, pm_errname((int)r->res),
                r->oserr);
    fail();
  }
  /* Every byte asked for is inside the file: 0 would be a false EOF. */
  assert_true(r->res > 0 && r->res <= r->len);
  if ((uint32_t)r->res < r->len) {
    unsigned b = (unsigned)(r - x->t.reqs);
    x->t.back[b] = 0;
    r->buf = (char *)r->buf + r->res;
    r->off += (uint64_t)r->res;
    r->len -= (uint32_t)r->res;
    x->pending[x->npending++] = b;
    x->resubmits++;
  } else {
    x->complete++;
  }
}

static unsigned gcd(unsigned a, unsigned b) {
  while (b) {
    unsigned r = a % b;
    a = b;
    b = r;
  }
  return a;
}

/* Moves `size` bytes between mem and the file at scrambled offsets in
 * blocks of bs, keeping as many in flight as the engine takes. */
static void transfer(const pm_io_engine_ops *e, pm_io_ctx *c, pm_fd fd,
                     int op, unsigned char *mem, uint64_t size, unsigned bs,
                     unsigned depth) {
  unsigned nblk = (unsigned)((size + bs - 1) / bs);
  xfer x = {.op = op};
  tracker_init(&x.t, nblk);
  x.pending = pm_xcalloc(nblk, sizeof *x.pending);
  unsigned stride = 40503;
  while (gcd(stride, nblk) != 1) stride++;
  unsigned next = 0;
  pm_io_req **ev = pm_xcalloc(depth, sizeof *ev);
  while (x.complete < nblk) {
    for (;;) {
      bool again = x.npending > 0;
      unsigned b;
      if (again) {
        b = x.pending[x.npending - 1];
      } else if (next < nblk) {
        b = (unsigned)(((uint64_t)next * stride) % nblk);
        uint64_t off = (uint64_t)b * bs;
        uint32_t len = (uint32_t)(size - off < bs ? size - off : bs);
        set_req(&x.t.reqs[b], op, fd, mem + off, len, off);
      } else {
        break;
      }
      int q = submit(e, c, &x.t, b);
      if (q == PM_Q_BUSY) break;
      if (again) x.npending--;
      else next++;
      if (q == PM_Q_COMPLETED) xfer_finish(&x, &x.t.reqs[b]);
    }
    assert_int_equal(e->commit(c), 0);
    if (!x.t.outstanding) continue;
    ct_watchdog *w = ct_watchdog_start(30, "getevents");
    int got = e->getevents(c, 1, depth, ev);
    ct_watchdog_stop(w);
    assert_true(got >= 1 && (unsigned)got <= depth);
    for (int k = 0; k < got; k++) {
      came_back(&x.t, ev[k]);
      x.t.outstanding--;
      xfer_finish(&x, ev[k]);
    }
  }
  assert_int_equal(x.t.outstanding, 0);
  if (x.resubmits)
    print_message("    %u short transfers resubmitted\n", x.resubmits);
  print_message("    %s: %u blocks, up to %u in flight\n",
                op == PM_IO_READ ? "read" : "write", nblk,
                x.t.max_outstanding);
  assert_true(x.t.max_outstanding <= depth);
  free(ev);
  free(x.pending);
  tracker_free(&x.t);
}

ENGINE_CASE(pattern) {
  const unsigned depth = 16, bs = 65536;
  const uint64_t size = 4 * 1024 * 1024 + 123; /* 65 blocks, the last short */
  char *p = ct_str("%s/f", dir);
  unsigned char *mem = pm_xmalloc(size);
  for (uint64_t i = 0; i < size; i++) mem[i] = pattern_byte(i);
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, p, PM_O_RDWR | PM_O_CREAT | PM_O_EXCL, 0644, &fd),
                   0);
  pm_io_ctx *c = ctx_init(e, fs, depth);
  transfer(e, c, fd, PM_IO_WRITE, mem, size, bs, depth);
  /* What the engine wrote, read through the table. */
  pm_stat st;
  assert_int_equal(pm_fs_fstat(fs, fd, &st), 0);
  assert_int_equal(st.size, size);
  unsigned char *back = pm_xmalloc(size);
  uint64_t got = 0;
  int64_t r;
  while ((r = pm_fs_pread(fs, fd, back + got, size - got, got)) > 0)
    got += (uint64_t)r;
  assert_int_equal(got, size);
  assert_memory_equal(back, mem, size);
  /* And read back through the engine. */
  memset(back, 0xEE, size);
  transfer(e, c, fd, PM_IO_READ, back, size, bs, depth);
  assert_memory_equal(back, mem, size);
  e->cleanup(c);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  free(mem);
  free(back);
}

ENGINE_CASE(eof) {
  const unsigned depth = 4;
  char *p = ct_str("%s/f", dir);
  pm_fd fd;
  pattern_file(fs, p, 1000, &fd, PM_O_RDONLY);
  pm_io_ctx *c = ctx_init(e, fs, depth);
  tracker t;
  tracker_init(&t, 4);
  unsigned char bufs[4][4096];
  set_req(&t.reqs[0], PM_IO_READ, fd, bufs[0], 100, 1000);    /* at EOF */
  set_req(&t.reqs[1], PM_IO_READ, fd, bufs[1], 4096, 5000);   /* past it */
  set_req(&t.reqs[2], PM_IO_READ, fd, bufs[2], 4096, 900);    /* spanning */
  set_req(&t.reqs[3], PM_IO_READ, fd, bufs[3], 4096, 0);      /* the file */
  for (unsigned i = 0; i < 4; i++)
    assert_int_not_equal(submit(e, c, &t, i), PM_Q_BUSY);
  assert_int_equal(e->commit(c), 0);
  drain(e, c, &t, depth);
  expect_all_back(&t);
  assert_int_equal(t.reqs[0].res, 0);
  assert_int_equal(t.reqs[1].res, 0);
  assert_int_equal(t.reqs[2].res, 100);
  assert_int_equal(t.reqs[3].res, 1000);
  for (unsigned k = 0; k < 100; k++)
    assert_int_equal(bufs[2][k], pattern_byte(900 + k));
  e->cleanup(c);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  tracker_free(&t);
}

ENGINE_CASE(sync) {
  const unsigned depth = 4;
  char *p = ct_str("%s/f", dir);
  pm_fd fd;
  pattern_file(fs, p, 100000, &fd, PM_O_RDWR);
  pm_io_ctx *c = ctx_init(e, fs, depth);
  tracker t;
  tracker_init(&t, 3);
  unsigned char buf[512];
  memset(buf, 1, sizeof buf);
  set_req(&t.reqs[0], PM_IO_WRITE, fd, buf, sizeof buf, 100000);
  assert_int_not_equal(submit(e, c, &t, 0), PM_Q_BUSY);
  drain(e, c, &t, depth);
  assert_int_equal(t.reqs[0].res, (int64_t)sizeof buf);
  set_req(&t.reqs[1], PM_IO_FDATASYNC, fd, NULL, 0, 0);
  set_req(&t.reqs[2], PM_IO_FSYNC, fd, NULL, 0, 0);
  assert_int_not_equal(submit(e, c, &t, 1), PM_Q_BUSY);
  assert_int_not_equal(submit(e, c, &t, 2), PM_Q_BUSY);
  assert_int_equal(e->commit(c), 0);
  drain(e, c, &t, depth);
  expect_all_back(&t);
  assert_int_equal(t.reqs[1].res, 0);
  assert_int_equal(t.reqs[2].res, 0);
  e->cleanup(c);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  tracker_free(&t);
}

ENGINE_CASE(bad_fd) {
  const unsigned depth = 4;
  char *p = ct_str("%s/f", dir);
  pm_fd ro;
  pattern_file(fs, p, 8192, &ro, PM_O_RDONLY);
  pm_io_ctx *c = ctx_init(e, fs, depth);
  tracker t;
  tracker_init(&t, 4);
  unsigned char buf[4][512];
  memset(buf, 0, sizeof buf);
  set_req(&t.reqs[0], PM_IO_READ, PM_FD_INVALID, buf[0], 512, 0);
  set_req(&t.reqs[1], PM_IO_WRITE, PM_FD_INVALID, buf[1], 512, 0);
  set_req(&t.reqs[2], PM_IO_FSYNC, PM_FD_INVALID, NULL, 0, 0);
  set_req(&t.reqs[3], PM_IO_WRITE, ro, buf[3], 512, 0); /* read-only */
  for (unsigned i = 0; i < 4; i++)
    assert_int_not_equal(submit(e, c, &t, i), PM_Q_BUSY);
  assert_int_equal(e->commit(c), 0);
  drain(e, c, &t, depth);
  expect_all_back(&t);
  for (unsigned i = 0; i < 4; i++) {
    if (t.reqs[i].res >= 0 || t.reqs[i].oserr == 0 ||
        t.reqs[i].oserr == -77777) {
      print_error("request %u: res %lld, oserr %d\n", i,
                  (long long)t.reqs[i].res, t.reqs[i].oserr);
      fail();
    }
    assert_true(t.reqs[i].res > PM_E_FIRST_ && t.reqs[i].res < PM_E_LAST_);
  }
  assert_int_equal(t.reqs[0].res, PM_EBADF);
  e->cleanup(c);
  /* The read-only file is untouched. */
  unsigned char back[512];
  assert_int_equal(pm_fs_pread(fs, ro, back, 512, 0), 512);
  for (unsigned k = 0; k < 512; k++) assert_int_equal(back[k], pattern_byte(k));
  assert_int_equal(pm_fs_close(fs, ro), 0);
  tracker_free(&t);
}

ENGINE_CASE(busy) {
  const unsigned depth = 4, n = depth + 6;
  char *p = ct_str("%s/f", dir);
  pm_fd fd;
  pattern_file(fs, p, 65536, &fd, PM_O_RDONLY);
  pm_io_ctx *c = ctx_init(e, fs, depth);
  tracker t;
  tracker_init(&t, n);
  unsigned char (*bufs)[4096] = pm_xmalloc(n * sizeof *bufs);
  int *answer = pm_xcalloc(n, sizeof *answer);
  for (unsigned i = 0; i < n; i++)
    set_req(&t.reqs[i], PM_IO_READ, fd, bufs[i], 4096,
            (uint64_t)i * 4096 % 65536);

  /* Queued and never reaped: once depth are outstanding, queue() takes
   * no more (BUSY, or it completes the request itself). */
  unsigned busy = 0;
  for (unsigned i = 0; i < n; i++) {
    unsigned before = t.outstanding;
    answer[i] = submit(e, c, &t, i);
    if (before >= depth && answer[i] == PM_Q_QUEUED) {
      print_error("request %u queued with %u already outstanding (depth "
                  "%u): the engine overruns\n", i, before, depth);
      fail();
    }
    if (answer[i] == PM_Q_BUSY) busy++;
    /* Committed halfway: what is in flight still counts. */
    if (i == depth / 2) assert_int_equal(e->commit(c), 0);
  }
  assert_true(t.outstanding <= depth);
  print_message("    %u of %u refused BUSY (depth %u)\n", busy, n, depth);
  assert_true(busy > 0 || t.outstanding < depth);
  /* Reaping makes room: every refused request is taken after it. */
  assert_int_equal(e->commit(c), 0);
  for (unsigned i = 0; i < n; i++) {
    if (answer[i] != PM_Q_BUSY) continue;
    while (submit(e, c, &t, i) == PM_Q_BUSY) {
      assert_int_equal(e->commit(c), 0);
      assert_true(reap(e, c, &t, 1, depth) >= 1);
    }
    assert_true(t.outstanding <= depth);
  }
  assert_int_equal(e->commit(c), 0);
  drain(e, c, &t, depth);
  expect_all_back(&t);
  for (unsigned i = 0; i < n; i++) assert_int_equal(t.reqs[i].res, 4096);
  e->cleanup(c);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  tracker_free(&t);
  free(bufs);
  free(answer);
}

ENGINE_CASE(two_contexts) {
  const unsigned depth = 8;
  char *p = ct_str("%s/f", dir);
  pm_fd fd;
  pattern_file(fs, p, 8 * 4096, &fd, PM_O_RDONLY);
  pm_io_ctx *a = ctx_init(e, fs, depth), *b = ctx_init(e, fs, depth);
  tracker ta, tb;
  tracker_init(&ta, depth);
  tracker_init(&tb, depth);
  unsigned char (*bufs)[4096] = pm_xmalloc(2 * depth * sizeof *bufs);
  for (unsigned i = 0; i < depth; i++) {
    set_req(&ta.reqs[i], PM_IO_READ, fd, bufs[i], 4096, i * 4096u);
    set_req(&tb.reqs[i], PM_IO_READ, fd, bufs[depth + i], 4096, i * 4096u);
    assert_int_not_equal(submit(e, a, &ta, i), PM_Q_BUSY);
    assert_int_not_equal(submit(e, b, &tb, i), PM_Q_BUSY);
  }
  assert_int_equal(e->commit(a), 0);
  assert_int_equal(e->commit(b), 0);
  /* Each context returns its own requests only (came_back checks). */
  drain(e, b, &tb, depth);
  drain(e, a, &ta, depth);
  expect_all_back(&ta);
  expect_all_back(&tb);
  e->cleanup(a);
  e->cleanup(b);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  tracker_free(&ta);
  tracker_free(&tb);
  free(bufs);
}

ENGINE_CASE(cleanup_in_flight) {
  const unsigned depth = 64, bs = 256 * 1024;
  const uint64_t size = (uint64_t)depth * bs;
  char *p = ct_str("%s/f", dir);
  pm_fd fd;
  pattern_file(fs, p, size, &fd, PM_O_RDWR);
  unsigned char *mem = pm_xmalloc(2 * size);
  unsigned char *wmem = mem + size;
  memset(wmem, 0x42, size);
  for (int round = 0; round < 3; round++) {
    /* Out of the cache, so that the reads really wait for the disk. */
    assert_int_equal(pm_fs_fsync(fs, fd, false), 0);
    pm_fs_drop_cache(fs, fd, 0, 0);
    pm_io_ctx *c = ctx_init(e, fs, depth * 2);
    tracker t;
    tracker_init(&t, depth * 2);
    for (unsigned i = 0; i < depth; i++) {
      set_req(&t.reqs[i], PM_IO_READ, fd, mem + (size_t)i * bs, bs,
              (uint64_t)i * bs);
      set_req(&t.reqs[depth + i], PM_IO_WRITE, fd, wmem + (size_t)i * bs, bs,
              size + (uint64_t)i * bs);
    }
    memset(mem, 0, size);
    for (unsigned i = 0; i < depth * 2; i++) {
      assert_int_not_equal(submit(e, c, &t, i), PM_Q_BUSY);
      /* The first half in flight, the rest queued but not committed. */
      if (i == depth + depth / 2) assert_int_equal(e->commit(c), 0);
    }
    ct_watchdog *w =
        ct_watchdog_start(10, "cleanup with requests in flight");
    e->cleanup(c);
    ct_watchdog_stop(w);
    /* After cleanup returns nothing may write into the buffers any more:
     * mark them and look again a little later. */
    memset(mem, 0xA5, size);
    ct_sleep_ms(300);
    for (uint64_t i = 0; i < size; i++)
      if (mem[i] != 0xA5) {
        print_error("byte %llu of a read buffer changed after cleanup "
                    "returned (round %d)\n", (unsigned long long)i, round);
        fail();
      }
    tracker_free(&t);
  }
  assert_int_equal(pm_fs_close(fs, fd), 0);
  free(mem);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_engine_contract_validate),
      cmocka_unit_test(test_engine_contract_each_request_once),
      cmocka_unit_test(test_engine_contract_getevents_min_max),
      cmocka_unit_test(test_engine_contract_pattern),
      cmocka_unit_test(test_engine_contract_eof),
      cmocka_unit_test(test_engine_contract_sync),
      cmocka_unit_test(test_engine_contract_bad_fd),
      cmocka_unit_test(test_engine_contract_busy),
      cmocka_unit_test(test_engine_contract_two_contexts),
      cmocka_unit_test(test_engine_contract_cleanup_in_flight),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
