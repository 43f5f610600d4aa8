/* test_engine_iocp.c - the completion-port engine (platform/win32/
 * engine_iocp.c) against the Windows behaviours that Wine never shows,
 * injected through the engine's table of Win32 calls (pmw_iocp, iocp.h).
 * Windows only; the contract every engine keeps is test_engine_contract.c.
 *
 * - sync_completion: on Windows 2000 a ReadFile or WriteFile that returns
 *   TRUE has still queued its packet (no SetFileCompletionNotificationModes
 *   before Vista). A wrapper waits for every other request to complete
 *   and then answers TRUE, and answers a read at or past the end with
 *   ERROR_HANDLE_EOF at once, as Windows does for a cached file: every
 *   request still comes back exactly once, with the right bytes.
 * - misaligned_unbuffered: Windows refuses an unbuffered request whose
 *   offset, length or buffer is not a multiple of the sector size with
 *   ERROR_INVALID_PARAMETER (Wine takes it). A wrapper that refuses them
 *   as Windows does: the engine reports PM_EINVAL with oserr 87, and the
 *   aligned requests (a file's short tail read with its length rounded up
 *   included) go through.
 * - copy_unbuffered: the copy engine, with the same wrapper, copies files
 *   with ragged tails through uncached handles and sends no request Windows
 *   would refuse (skipped while the Win32 table cannot open_at or list).
 * - faults: a WriteFile failing at once with ERROR_DISK_FULL (PM_ENOSPC,
 *   oserr 112), a ReadFile failing at once with ERROR_CRC (PM_EIO, 23),
 *   a failure packet (GetQueuedCompletionStatus FALSE with an
 *   OVERLAPPED), ERROR_INVALID_USER_BUFFER (too many requests in flight:
 *   BUSY while some are outstanding), a PostQueuedCompletionStatus that
 *   fails once (the flush still comes back once), CreateIoCompletionPort
 *   failing in init() and probe() (the pool engine is the default then).
 * - shared_handle: a handle used by two contexts at once, and by contexts
 *   created after the first one was cleaned up (its port gone), works.
 * - stale_handle: a handle value the context associated, closed and
 *   reused by the OS for a synchronous handle (which no port takes), and
 *   then for an overlapped one again: both read right.
 * - cleanup_in_flight: cleanup() with reads and writes in flight and
 *   flushes queued returns, and nothing lands in the buffers afterwards.
 * - cleanup_waits: the same with reads a wrapper issues 300 ms late (a
 *   slow disk; under Wine a file read is done before ReadFile returns):
 *   cleanup() waits for them.
 *
 * The files are made with CreateFileW(FILE_FLAG_OVERLAPPED) in a scratch
 * folder of the temporary directory, so that the cases need nothing else
 * from the Win32 backend. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include <cmocka.h>

#include "copyengine.h"
#include "platform.h"
#include "util.h"
#include "win32/iocp.h"

#define SECTOR 4096u

/* ---- scratch files ---- */

static wchar_t scratch[MAX_PATH];
static unsigned nfiles;

static void scratch_make(void) {
  wchar_t tmp[MAX_PATH];
  DWORD n = GetTempPathW(MAX_PATH, tmp);
  assert_true(n > 0 && n < MAX_PATH - 40);
  static unsigned serial;
  swprintf(scratch, MAX_PATH, L"%lsiocp-%lu-%lu-%u", tmp,
           (unsigned long)GetCurrentProcessId(), (unsigned long)GetTickCount(),
           ++serial);
  assert_true(CreateDirectoryW(scratch, NULL));
  nfiles = 0;
}

/* Removes what scratch_make made; again after a case did is harmless. */
static void scratch_remove(void) {
  wchar_t p[MAX_PATH];
  if (!scratch[0]) return;
  for (unsigned i = 0; i < nfiles; i++) {
    swprintf(p, MAX_PATH, L"%ls\\f%u", scratch, i);
    DeleteFileW(p);
  }
  RemoveDirectoryW(scratch);
}

static unsigned char pattern_byte(uint64_t off) {
  return (unsigned char)((off * 2654435761u) >> 13 ^ off);
}

/* A new file of `size` pattern bytes, open for reading and writing with
 * FILE_FLAG_OVERLAPPED (and FILE_FLAG_NO_BUFFERING when `unbuffered`). */
static pm_fd file_new(uint64_t size, bool unbuffered) {
  wchar_t p[MAX_PATH];
  swprintf(p, MAX_PATH, L"%ls\\f%u", scratch, nfiles++);
  HANDLE h = CreateFileW(p, GENERIC_READ | GENERIC_WRITE,
                         FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                         CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
  assert_true(h != INVALID_HANDLE_VALUE);
  unsigned char *buf = malloc(65536);
  for (uint64_t off = 0; off < size; off += 65536) {
    DWORD n = size - off < 65536 ? (DWORD)(size - off) : 65536, done = 0;
    for (DWORD i = 0; i < n; i++) buf[i] = pattern_byte(off + i);
    assert_true(WriteFile(h, buf, n, &done, NULL));
    assert_int_equal(done, n);
  }
  free(buf);
  CloseHandle(h);
  h = CreateFileW(p, GENERIC_READ | GENERIC_WRITE,
                  FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                  FILE_FLAG_OVERLAPPED |
                      (unbuffered ? FILE_FLAG_NO_BUFFERING : 0),
                  NULL);
  assert_true(h != INVALID_HANDLE_VALUE);
  return (pm_fd)h;
}

/* The same, opened again without FILE_FLAG_OVERLAPPED: a synchronous
 * handle, which no completion port takes. */
static pm_fd file_reopen_sync(unsigned i) {
  wchar_t p[MAX_PATH];
  swprintf(p, MAX_PATH, L"%ls\\f%u", scratch, i);
  HANDLE h = CreateFileW(p, GENERIC_READ | GENERIC_WRITE,
                         FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                         OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
  assert_true(h != INVALID_HANDLE_VALUE);
  return (pm_fd)h;
}

/* Reads the file back without the engine (an event whose low bit keeps
 * the packet off the engine's port). */
static void file_read(pm_fd fd, void *buf, DWORD len, uint64_t off) {
  OVERLAPPED o;
  memset(&o, 0, sizeof o);
  o.Offset = (DWORD)off;
  o.OffsetHigh = (DWORD)(off >> 32);
  HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  o.hEvent = (HANDLE)((uintptr_t)ev | 1);
  DWORD n = 0;
  if (!ReadFile((HANDLE)fd, buf, len, &n, &o))
    assert_int_equal(GetLastError(), ERROR_IO_PENDING);
  assert_true(GetOverlappedResult((HANDLE)fd, &o, &n, TRUE));
  assert_int_equal(n, len);
  CloseHandle(ev);
}

/* ---- every request back exactly once ---- */

typedef struct tracker {
  pm_io_req *reqs;
  unsigned n, outstanding, max_outstanding, busy;
  unsigned char *back, *sent;
} tracker;

static void tracker_init(tracker *t, unsigned n) {
  memset(t, 0, sizeof *t);
  t->reqs = calloc(n, sizeof *t->reqs);
  t->back = calloc(n, 1);
  t->sent = calloc(n, 1);
  t->n = n;
}

static void tracker_free(tracker *t) {
  free(t->reqs);
  free(t->back);
  free(t->sent);
}

static void came_back(tracker *t, pm_io_req *r) {
  if (r < t->reqs || r >= t->reqs + t->n) {
    print_error("a request that was never queued came back (%p)\n",
                (void *)r);
    fail();
  }
  unsigned i = (unsigned)(r - t->reqs);
  if (t->back[i]) {
    print_error("request %u came back twice\n", i);
    fail();
  }
  t->back[i] = 1;
}

static const pm_io_engine_ops *E;

/* A getevents() that waits for a packet which went to another port never
 * returns: the watchdog ends the test instead of hanging it. */
static volatile DWORD watch_since; /* GetTickCount() at the wait, or 0 */
static HANDLE watch_thread;

static DWORD WINAPI watchdog(void *arg) {
  (void)arg;
  for (;;) {
    Sleep(1000);
    DWORD t = watch_since;
    if (t && GetTickCount() - t > 30000) {
      fprintf(stderr, "getevents() has waited for 30 s: a completion was "
                      "lost\n");
      fflush(stderr);
      ExitProcess(1);
    }
  }
  return 0;
}

static int reap_guarded(pm_io_ctx *c, unsigned min, unsigned max,
                        pm_io_req **ev) {
  if (!watch_thread)
    watch_thread = CreateThread(NULL, 0, watchdog, NULL, 0, NULL);
  watch_since = GetTickCount() | 1;
  int got = E->getevents(c, min, max, ev);
  watch_since = 0;
  return got;
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

/* Queues request i, reaping while the engine is full. */
static void submit(pm_io_ctx *c, tracker *t, unsigned i) {
  t->sent[i] = 1;
  for (;;) {
    int q = E->queue(c, &t->reqs[i]);
    if (q == PM_Q_COMPLETED) {
      came_back(t, &t->reqs[i]);
      return;
    }
    if (q == PM_Q_QUEUED) {
      if (++t->outstanding > t->max_outstanding)
        t->max_outstanding = t->outstanding;
      return;
    }
    if (q != PM_Q_BUSY) {
      print_error("queue() answered %d (%s)\n", q, pm_errname(q));
      fail();
    }
    t->busy++;
    pm_io_req *ev[64];
    int got = reap_guarded(c, 1, 64, ev);
    assert_true(got >= 1);
    for (int k = 0; k < got; k++) came_back(t, ev[k]);
    t->outstanding -= (unsigned)got;
  }
}

static void drain(pm_io_ctx *c, tracker *t) {
  pm_io_req *ev[64];
  assert_int_equal(E->commit(c), 0);
  while (t->outstanding) {
    int got = reap_guarded(c, 1, 64, ev);
    assert_true(got >= 1 && (unsigned)got <= t->outstanding);
    for (int k = 0; k < got; k++) came_back(t, ev[k]);
    t->outstanding -= (unsigned)got;
  }
  /* Nothing more comes: no request is reported twice. */
  assert_int_equal(E->getevents(c, 0, 64, ev), 0);
  assert_int_equal(E->getevents(c, 1, 64, ev), 0);
  for (unsigned i = 0; i < t->n; i++)
    if (t->back[i] != t->sent[i]) {
      print_error("request %u never came back\n", i);
      fail();
    }
}

static pm_io_ctx *ctx_new(unsigned depth) {
  pm_io_ctx *c = NULL;
  assert_int_equal(E->init(NULL, depth, &c), 0);
  assert_non_null(c);
  return c;
}

/* ---- wrappers of the Win32 calls ---- */

static pmw_iocp_api saved;
static volatile LONG calls, synced, eofs, refused, faults;
static int fail_every;  /* 1 in n calls of the wrapped kind fails */
static DWORD fail_code; /* with this code */

static void wrap_begin(void) {
  saved = pmw_iocp;
  calls = synced = eofs = refused = faults = 0;
}

static void wrap_end(void) { pmw_iocp = saved; }

static uint64_t ov_offset(const OVERLAPPED *ov) {
  return (uint64_t)ov->OffsetHigh << 32 | ov->Offset;
}

/* Windows 2000: a request the file system completes at once returns TRUE
 * and still queues its packet. Every other call waits for the request
 * (Wine always answers ERROR_IO_PENDING) and then says TRUE; a read at or
 * past the end fails at once with ERROR_HANDLE_EOF and queues nothing. */
static BOOL finish_sync(BOOL ok, LPDWORD done, LPOVERLAPPED ov) {
  if (ok || GetLastError() != ERROR_IO_PENDING) return ok;
  if (InterlockedIncrement(&calls) % 2) {
    SetLastError(ERROR_IO_PENDING);
    return FALSE;
  }
  DWORD t0 = GetTickCount();
  while (!HasOverlappedIoCompleted(ov)) {
    assert_true(GetTickCount() - t0 < 10000);
    Sleep(0);
  }
  if (ov->Internal != 0) { /* failed: it stays a pending one */
    SetLastError(ERROR_IO_PENDING);
    return FALSE;
  }
  if (done) *done = (DWORD)ov->InternalHigh;
  InterlockedIncrement(&synced);
  return TRUE;
}

static BOOL WINAPI sync_read(HANDLE h, LPVOID buf, DWORD len, LPDWORD done,
                             LPOVERLAPPED ov) {
  LARGE_INTEGER size;
  if (GetFileSizeEx(h, &size) && ov_offset(ov) >= (uint64_t)size.QuadPart) {
    InterlockedIncrement(&eofs);
    SetLastError(ERROR_HANDLE_EOF);
    return FALSE;
  }
  return finish_sync(pmw_iocp_real.read_file(h, buf, len, done, ov), done, ov);
}

static BOOL WINAPI sync_write(HANDLE h, LPCVOID buf, DWORD len, LPDWORD done,
                              LPOVERLAPPED ov) {
  return finish_sync(pmw_iocp_real.write_file(h, buf, len, done, ov), done,
                     ov);
}

/* Whether h was opened with FILE_FLAG_NO_BUFFERING, as the OS records it
 * (FileModeInformation, NT 3.1's native API). */
typedef LONG(NTAPI *query_fn)(HANDLE, void *, void *, ULONG, int);
static bool unbuffered(HANDLE h) {
  static query_fn q;
  if (!q)
    q = (query_fn)(void (*)(void))GetProcAddress(
        GetModuleHandleW(L"ntdll.dll"), "NtQueryInformationFile");
  assert_non_null(q);
  struct {
    void *p;
    ULONG_PTR n;
  } iosb;
  ULONG mode = 0;
  const int file_mode_information = 16;
  assert_int_equal(q(h, &iosb, &mode, sizeof mode, file_mode_information), 0);
  return mode & 0x8; /* FILE_NO_INTERMEDIATE_BUFFERING */
}

/* Windows refuses an unbuffered request that is not sector-aligned. */
static volatile LONG unbuffered_calls;
static bool misaligned(HANDLE h, const void *buf, DWORD len,
                       const OVERLAPPED *ov) {
  if (!unbuffered(h)) return false;
  InterlockedIncrement(&unbuffered_calls);
  if (ov_offset(ov) % SECTOR == 0 && len % SECTOR == 0 &&
      (uintptr_t)buf % SECTOR == 0)
    return false;
  InterlockedIncrement(&refused);
  SetLastError(ERROR_INVALID_PARAMETER);
  return true;
}

static BOOL WINAPI strict_read(HANDLE h, LPVOID buf, DWORD len, LPDWORD done,
                               LPOVERLAPPED ov) {
  if (misaligned(h, buf, len, ov)) return FALSE;
  return pmw_iocp_real.read_file(h, buf, len, done, ov);
}

static BOOL WINAPI strict_write(HANDLE h, LPCVOID buf, DWORD len,
                                LPDWORD done, LPOVERLAPPED ov) {
  if (misaligned(h, buf, len, ov)) return FALSE;
  return pmw_iocp_real.write_file(h, buf, len, done, ov);
}

/* One call in fail_every fails at once with fail_code. */
static BOOL WINAPI failing_read(HANDLE h, LPVOID buf, DWORD len, LPDWORD done,
                                LPOVERLAPPED ov) {
  if (InterlockedIncrement(&calls) % fail_every == 0) {
    InterlockedIncrement(&faults);
    SetLastError(fail_code);
    return FALSE;
  }
  return pmw_iocp_real.read_file(h, buf, len, done, ov);
}

static BOOL WINAPI failing_write(HANDLE h, LPCVOID buf, DWORD len,
                                 LPDWORD done, LPOVERLAPPED ov) {
  if (InterlockedIncrement(&calls) % fail_every == 0) {
    InterlockedIncrement(&faults);
    SetLastError(fail_code);
    return FALSE;
  }
  return pmw_iocp_real.write_file(h, buf, len, done, ov);
}

/* One packet in fail_every is turned into a failure packet: FALSE with
 * the OVERLAPPED and fail_code, as Windows reports an I/O that failed
 * after it was queued. */
static BOOL WINAPI failing_status(HANDLE port, LPDWORD bytes, PULONG_PTR key,
                                  LPOVERLAPPED *ov, DWORD ms) {
  BOOL ok = pmw_iocp_real.get_status(port, bytes, key, ov, ms);
  if (ok && *ov && *key == PMW_IOCP_KEY_IO &&
      InterlockedIncrement(&calls) % fail_every == 0) {
    InterlockedIncrement(&faults);
    *bytes = 0;
    SetLastError(fail_code);
    return FALSE;
  }
  return ok;
}

/* Every other call is refused as Windows refuses a request when too many
 * are in flight. */
static BOOL WINAPI crowded_read(HANDLE h, LPVOID buf, DWORD len,
                                LPDWORD done, LPOVERLAPPED ov) {
  if (InterlockedIncrement(&calls) % 2 == 0) {
    InterlockedIncrement(&faults);
    SetLastError(ERROR_INVALID_USER_BUFFER);
    return FALSE;
  }
  return pmw_iocp_real.read_file(h, buf, len, done, ov);
}

static BOOL WINAPI failing_post(HANDLE port, DWORD bytes, ULONG_PTR key,
                                LPOVERLAPPED ov) {
  if (InterlockedIncrement(&calls) == 1) {
    InterlockedIncrement(&faults);
    SetLastError(ERROR_NO_SYSTEM_RESOURCES);
    return FALSE;
  }
  return pmw_iocp_real.post_status(port, bytes, key, ov);
}

static HANDLE WINAPI failing_port(HANDLE h, HANDLE port, ULONG_PTR key,
                                  DWORD threads) {
  SetLastError(ERROR_NOT_ENOUGH_MEMORY);
  return NULL;
}

/* Requests issued late: the wrapper answers ERROR_IO_PENDING and a thread
 * makes the real call DEFER_MS later, with the same OVERLAPPED, so that the
 * packet (and the bytes) arrive long after queue() returned, as a slow
 * disk's would. Under Wine a read of a file completes before ReadFile
 * returns, which no cleanup() could get wrong. */
#define DEFER_MS 300
#define DEFER_MAX 256
static struct deferred {
  HANDLE h;
  void *buf;
  DWORD len;
  OVERLAPPED *ov;
  bool write;
  DWORD due;
} defq[DEFER_MAX];
static volatile LONG defn, defdone;
static CRITICAL_SECTION defmu;

static DWORD WINAPI defer_thread(void *arg) {
  (void)arg;
  for (;;) {
    EnterCriticalSection(&defmu);
    LONG i = defdone, n = defn;
    LeaveCriticalSection(&defmu);
    if (i == n) {
      Sleep(5);
      continue;
    }
    struct deferred d = defq[i % DEFER_MAX];
    while ((LONG)(GetTickCount() - d.due) < 0) Sleep(5);
    DWORD done = 0;
    if (d.write)
      pmw_iocp_real.write_file(d.h, d.buf, d.len, &done, d.ov);
    else
      pmw_iocp_real.read_file(d.h, d.buf, d.len, &done, d.ov);
    InterlockedIncrement(&defdone);
  }
  return 0;
}

static BOOL defer(HANDLE h, const void *buf, DWORD len, LPOVERLAPPED ov,
                  bool write) {
  static HANDLE th;
  if (!th) th = CreateThread(NULL, 0, defer_thread, NULL, 0, NULL);
  EnterCriticalSection(&defmu);
  assert_true(defn - defdone < DEFER_MAX);
  struct deferred *d = &defq[defn % DEFER_MAX];
  d->h = h;
  d->buf = (void *)buf;
  d->len = len;
  d->ov = ov;
  d->write = write;
  d->due = GetTickCount() + DEFER_MS;
  defn++;
  LeaveCriticalSection(&defmu);
  SetLastError(ERROR_IO_PENDING);
  return FALSE;
}

static BOOL WINAPI deferred_read(HANDLE h, LPVOID buf, DWORD len, LPDWORD done,
                                 LPOVERLAPPED ov) {
  (void)done;
  return defer(h, buf, len, ov, false);
}

static BOOL WINAPI deferred_write(HANDLE h, LPCVOID buf, DWORD len,
                                  LPDWORD done, LPOVERLAPPED ov) {
  (void)done;
  return defer(h, buf, len, ov, true);
}

/* ---- cases ---- */

/* Whatever a failed case left, the next one starts from the real calls. */
static int teardown(void **state) {
  (void)state;
  pmw_iocp = pmw_iocp_real;
  scratch_remove();
  return 0;
}

static void setup_each(void) {
  E = &pmw_engine_iocp;
  assert_ptr_equal(pm_io_engine_find("iocp"), E);
  assert_ptr_equal(pm_io_engines()[0], E); /* preferred */
  assert_int_equal(pm_io_engine_validate(E), 0);
  assert_int_equal(E->probe(), 0);
  scratch_make();
}

static void test_engine_iocp_sync_completion(void **state) {
  (void)state;
  setup_each();
  const unsigned depth = 8, bs = 4096, nblk = 64, n = 3 * nblk + 8;
  const uint64_t size = (uint64_t)nblk * bs - 100;
  pm_fd src = file_new(size, false), dst = file_new(0, false);
  unsigned char *mem = malloc((size_t)nblk * bs * 2);
  unsigned char *back = mem + (size_t)nblk * bs;
  memset(mem, 0, (size_t)nblk * bs * 2);
  wrap_begin();
  pmw_iocp.read_file = sync_read;
  pmw_iocp.write_file = sync_write;
  pm_io_ctx *c = ctx_new(depth);
  tracker t;
  tracker_init(&t, n);
  /* Reads of the whole file (the last one short), reads at and past the
   * end, then the same bytes written to another file and read back. */
  for (unsigned i = 0; i < nblk; i++)
    set_req(&t.reqs[i], PM_IO_READ, src, mem + (size_t)i * bs, bs,
            (uint64_t)i * bs);
  for (unsigned i = 0; i < 8; i++)
    set_req(&t.reqs[nblk + i], PM_IO_READ, src, back, bs,
            size + (uint64_t)i * 1000);
  for (unsigned i = 0; i < nblk + 8; i++) submit(c, &t, i);
  drain(c, &t);
  for (unsigned i = 0; i < nblk; i++)
    assert_int_equal(t.reqs[i].res, i + 1 < nblk ? bs : bs - 100);
  for (unsigned i = 0; i < 8; i++) {
    assert_int_equal(t.reqs[nblk + i].res, 0);
    assert_int_equal(t.reqs[nblk + i].oserr, 0);
  }
  for (uint64_t k = 0; k < size; k++)
    if (mem[k] != pattern_byte(k)) {
      print_error("byte %llu read wrong\n", (unsigned long long)k);
      fail();
    }
  for (unsigned i = 0; i < nblk; i++) {
    unsigned r = nblk + 8 + i;
    set_req(&t.reqs[r], PM_IO_WRITE, dst, mem + (size_t)i * bs,
            i + 1 < nblk ? bs : bs - 100, (uint64_t)i * bs);
    submit(c, &t, r);
  }
  drain(c, &t);
  for (unsigned i = 0; i < nblk; i++)
    assert_int_equal(t.reqs[nblk + 8 + i].res, i + 1 < nblk ? bs : bs - 100);
  for (unsigned i = 0; i < nblk; i++) {
    unsigned r = 2 * nblk + 8 + i;
    set_req(&t.reqs[r], PM_IO_READ, dst, back + (size_t)i * bs, bs,
            (uint64_t)i * bs);
    submit(c, &t, r);
  }
  drain(c, &t);
  assert_memory_equal(back, mem, (size_t)size);
  print_message("    %ld of %ld pending calls completed synchronously, %ld "
                "reads failed at once with ERROR_HANDLE_EOF\n",
                (long)synced, (long)calls, (long)eofs);
  assert_true(synced >= (LONG)nblk);
  assert_true(eofs >= 8);
  E->cleanup(c);
  wrap_end();
  tracker_free(&t);
  free(mem);
  CloseHandle((HANDLE)src);
  CloseHandle((HANDLE)dst);
  scratch_remove();
}

static void test_engine_iocp_misaligned_unbuffered(void **state) {
  (void)state;
  setup_each();
  const uint64_t size = 5 * SECTOR + 123; /* a short tail */
  pm_fd fd = file_new(size, true), cached = file_new(size, false);
  unsigned char *raw = malloc(8 * SECTOR * 2);
  uintptr_t up = ((uintptr_t)raw + SECTOR - 1) & ~(uintptr_t)(SECTOR - 1);
  unsigned char *buf = (unsigned char *)up;
  wrap_begin();
  pmw_iocp.read_file = strict_read;
  pmw_iocp.write_file = strict_write;
  pm_io_ctx *c = ctx_new(8);
  tracker t;
  tracker_init(&t, 8);
  set_req(&t.reqs[0], PM_IO_READ, fd, buf, 4 * SECTOR, 0);      /* aligned */
  set_req(&t.reqs[1], PM_IO_READ, fd, buf, SECTOR, 512);        /* offset */
  set_req(&t.reqs[2], PM_IO_READ, fd, buf, SECTOR - 512, 0);    /* length */
  set_req(&t.reqs[3], PM_IO_READ, fd, buf + 512, SECTOR, 0);    /* buffer */
  set_req(&t.reqs[4], PM_IO_WRITE, fd, buf, 100, 5 * SECTOR);   /* a tail */
  /* The tail the way the copy engine asks for it: rounded up. */
  set_req(&t.reqs[5], PM_IO_READ, fd, buf + 4 * SECTOR, 2 * SECTOR,
          4 * SECTOR);
  /* A cached handle takes anything. */
  set_req(&t.reqs[6], PM_IO_READ, cached, buf + 512, 1000, 7);
  set_req(&t.reqs[7], PM_IO_READ, fd, buf, SECTOR, 6 * SECTOR); /* past */
  for (unsigned i = 0; i < 8; i++) submit(c, &t, i);
  drain(c, &t);
  assert_int_equal(t.reqs[0].res, 4 * SECTOR);
  for (unsigned i = 1; i <= 4; i++) {
    if (t.reqs[i].res != PM_EINVAL || t.reqs[i].oserr != 87) {
      print_error("misaligned request %u: res %lld (%s), oserr %d\n", i,
                  (long long)t.reqs[i].res, pm_errname((int)t.reqs[i].res),
                  t.reqs[i].oserr);
      fail();
    }
  }
  assert_int_equal(t.reqs[5].res, SECTOR + 123);
  assert_int_equal(t.reqs[6].res, 1000);
  assert_int_equal(t.reqs[7].res, 0);
  assert_int_equal(refused, 4);
  E->cleanup(c);
  wrap_end();
  tracker_free(&t);
  free(raw);
  CloseHandle((HANDLE)fd);
  CloseHandle((HANDLE)cached);
  scratch_remove();
}

/* Runs n requests of one op through a wrapper that fails one in
 * fail_every; checks each comes back once, the failed ones with code. */
static void run_faulty(int op, unsigned n, int want_res, DWORD code,
                       bool eof_reads_zero) {
  const unsigned bs = 4096;
  pm_fd fd = file_new((uint64_t)n * bs, false);
  unsigned char *mem = calloc(n, bs);
  pm_io_ctx *c = ctx_new(8);
  tracker t;
  tracker_init(&t, n);
  for (unsigned i = 0; i < n; i++) {
    set_req(&t.reqs[i], op, fd, mem + (size_t)i * bs, bs, (uint64_t)i * bs);
    submit(c, &t, i);
  }
  drain(c, &t);
  unsigned failed = 0;
  for (unsigned i = 0; i < n; i++) {
    if (t.reqs[i].res == bs) continue;
    if (eof_reads_zero) {
      assert_int_equal(t.reqs[i].res, 0);
      assert_int_equal(t.reqs[i].oserr, 0);
    } else {
      if (t.reqs[i].res != want_res || t.reqs[i].oserr != (int)code) {
        print_error("request %u: res %lld (%s), oserr %d\n", i,
                    (long long)t.reqs[i].res, pm_errname((int)t.reqs[i].res),
                    t.reqs[i].oserr);
        fail();
      }
    }
    failed++;
  }
  print_message("    %u of %u requests failed as injected (%ld faults)\n",
                failed, n, (long)faults);
  assert_int_equal(failed, faults);
  assert_true(failed >= n / fail_every - 1);
  E->cleanup(c);
  free(mem);
  tracker_free(&t);
  CloseHandle((HANDLE)fd);
}

static void test_engine_iocp_faults(void **state) {
  (void)state;
  setup_each();
  wrap_begin();
  fail_every = 3;
  /* Failing at once. */
  pmw_iocp.write_file = failing_write;
  fail_code = ERROR_DISK_FULL;
  run_faulty(PM_IO_WRITE, 30, PM_ENOSPC, ERROR_DISK_FULL, false);
  wrap_end();
  wrap_begin();
  pmw_iocp.read_file = failing_read;
  fail_code = ERROR_CRC;
  run_faulty(PM_IO_READ, 30, PM_EIO, ERROR_CRC, false);
  wrap_end();
  /* Failing in the packet. */
  wrap_begin();
  pmw_iocp.get_status = failing_status;
  fail_code = ERROR_DISK_FULL;
  run_faulty(PM_IO_WRITE, 30, PM_ENOSPC, ERROR_DISK_FULL, false);
  wrap_end();
  wrap_begin();
  pmw_iocp.get_status = failing_status;
  fail_code = ERROR_HANDLE_EOF;
  run_faulty(PM_IO_READ, 30, 0, 0, true);
  wrap_end();

  /* Too many requests in flight for the system: with requests
   * outstanding, queue() says BUSY and the request goes again after a
   * reap; with none, there is nothing to wait for and it fails. */
  wrap_begin();
  pmw_iocp.read_file = crowded_read;
  {
    const unsigned n = 40, bs = 4096;
    pm_fd rfd = file_new((uint64_t)n * bs, false);
    unsigned char *mem = calloc(n, bs);
    pm_io_ctx *rc_ = ctx_new(8);
    tracker rt;
    tracker_init(&rt, n + 1);
    for (unsigned i = 0; i < n; i++) {
      set_req(&rt.reqs[i], PM_IO_READ, rfd, mem + (size_t)i * bs, bs,
              (uint64_t)i * bs);
      submit(rc_, &rt, i);
    }
    drain(rc_, &rt);
    for (unsigned i = 0; i < n; i++) assert_int_equal(rt.reqs[i].res, bs);
    print_message("    %u BUSY answers for %ld refusals\n", rt.busy,
                  (long)faults);
    assert_true(rt.busy > 0);
    assert_int_equal(rt.busy, faults);
    /* Nothing outstanding: the refusal is the request's result. */
    calls = 1;
    set_req(&rt.reqs[n], PM_IO_READ, rfd, mem, bs, 0);
    assert_int_equal(E->queue(rc_, &rt.reqs[n]), PM_Q_COMPLETED);
    assert_true(rt.reqs[n].res < 0);
    assert_int_equal(rt.reqs[n].oserr, ERROR_INVALID_USER_BUFFER);
    E->cleanup(rc_);
    tracker_free(&rt);
    free(mem);
    CloseHandle((HANDLE)rfd);
  }
  wrap_end();

  /* A flush whose post fails once still comes back, once. */
  wrap_begin();
  pmw_iocp.post_status = failing_post;
  pm_fd fd = file_new(10000, false);
  pm_io_ctx *c = ctx_new(4);
  tracker t;
  tracker_init(&t, 3);
  set_req(&t.reqs[0], PM_IO_FSYNC, fd, NULL, 0, 0);
  set_req(&t.reqs[1], PM_IO_FDATASYNC, fd, NULL, 0, 0);
  set_req(&t.reqs[2], PM_IO_FSYNC, PM_FD_INVALID, NULL, 0, 0);
  for (unsigned i = 0; i < 3; i++) submit(c, &t, i);
  drain(c, &t);
  assert_int_equal(t.reqs[0].res, 0);
  assert_int_equal(t.reqs[1].res, 0);
  assert_int_equal(t.reqs[2].res, PM_EBADF);
  assert_int_equal(t.reqs[2].oserr, ERROR_INVALID_HANDLE);
  assert_int_equal(faults, 1);
  E->cleanup(c);
  tracker_free(&t);
  CloseHandle((HANDLE)fd);
  wrap_end();

  /* No port: init fails cleanly with the OS's code. */
  wrap_begin();
  pmw_iocp.create_port = failing_port;
  c = NULL;
  int rc = E->init(NULL, 4, &c);
  assert_int_equal(rc, PM_ENOMEM);
  assert_int_equal(pm_oserr_of(rc), ERROR_NOT_ENOUGH_MEMORY);
  /* and the probe says so: the pool engine is the default then. */
  assert_int_equal(E->probe(), PM_ENOMEM);
  char why[200];
  assert_ptr_equal(pm_io_engine_default(why, sizeof why),
                   pm_io_engine_find("pool"));
  print_message("    %s\n", why);
  assert_non_null(strstr(why, "iocp"));
  wrap_end();
  scratch_remove();
}

static void test_engine_iocp_shared_handle(void **state) {
  (void)state;
  setup_each();
  const unsigned depth = 8, bs = 4096;
  pm_fd fd = file_new(depth * bs, false);
  unsigned char *mem = malloc(2 * depth * bs);
  for (int round = 0; round < 3; round++) {
    /* Round 0: the first context to see fd is a; rounds 1 and 2 are new
     * contexts after a and b were cleaned up. */
    pm_io_ctx *a = ctx_new(depth), *b = ctx_new(depth);
    tracker ta, tb;
    tracker_init(&ta, depth);
    tracker_init(&tb, depth);
    memset(mem, 0, 2 * depth * bs);
    for (unsigned i = 0; i < depth; i++) {
      set_req(&ta.reqs[i], PM_IO_READ, fd, mem + i * bs, bs, i * bs);
      set_req(&tb.reqs[i], PM_IO_READ, fd, mem + (depth + i) * bs, bs,
              i * bs);
      submit(a, &ta, i);
      submit(b, &tb, i);
    }
    /* b first: a's packets must not be needed for b's to come. */
    drain(b, &tb);
    drain(a, &ta);
    for (unsigned i = 0; i < 2 * depth * bs; i++)
      if (mem[i] != pattern_byte(i % (depth * bs))) {
        print_error("round %d: byte %u read wrong\n", round, i);
        fail();
      }
    E->cleanup(a);
    E->cleanup(b);
    tracker_free(&ta);
    tracker_free(&tb);
  }
  free(mem);
  CloseHandle((HANDLE)fd);
  scratch_remove();
}

static void test_engine_iocp_cleanup_in_flight(void **state) {
  (void)state;
  setup_each();
  const unsigned depth = 32, bs = 256 * 1024;
  const uint64_t size = (uint64_t)depth * bs;
  pm_fd fd = file_new(size, false);
  unsigned char *mem = malloc(2 * size);
  for (int round = 0; round < 3; round++) {
    /* Rounds 1 and 2 run on contexts that do not own fd's port: its
     * owner, round 0's, is gone. */
    pm_io_ctx *c = ctx_new(depth * 2 + 4);
    tracker t;
    tracker_init(&t, depth * 2 + 4);
    memset(mem, 0, 2 * size);
    for (unsigned i = 0; i < depth; i++) {
      set_req(&t.reqs[i], PM_IO_READ, fd, mem + (size_t)i * bs, bs,
              (uint64_t)i * bs);
      set_req(&t.reqs[depth + i], PM_IO_WRITE, fd, mem + size + (size_t)i * bs,
              bs, size + (uint64_t)i * bs);
    }
    for (unsigned i = 0; i < 4; i++)
      set_req(&t.reqs[2 * depth + i], PM_IO_FSYNC, fd, NULL, 0, 0);
    for (unsigned i = 0; i < depth * 2 + 4; i++) submit(c, &t, i);
    DWORD t0 = GetTickCount();
    E->cleanup(c);
    DWORD took = GetTickCount() - t0;
    print_message("    round %d: cleanup took %lu ms\n", round,
                  (unsigned long)took);
    assert_true(took < 10000);
    memset(mem, 0xA5, size);
    Sleep(300);
    for (uint64_t i = 0; i < size; i++)
      if (mem[i] != 0xA5) {
        print_error("byte %llu changed after cleanup (round %d)\n",
                    (unsigned long long)i, round);
        fail();
      }
    tracker_free(&t);
  }
  /* The file still reads right through a fresh context. */
  pm_io_ctx *c = ctx_new(4);
  tracker t;
  tracker_init(&t, 1);
  set_req(&t.reqs[0], PM_IO_READ, fd, mem, bs, bs);
  submit(c, &t, 0);
  drain(c, &t);
  assert_int_equal(t.reqs[0].res, bs);
  for (unsigned k = 0; k < bs; k++)
    assert_int_equal(mem[k], pattern_byte(bs + k));
  E->cleanup(c);
  tracker_free(&t);
  unsigned char check[16];
  file_read(fd, check, sizeof check, 0);
  for (unsigned k = 0; k < sizeof check; k++)
    assert_int_equal(check[k], pattern_byte(k));
  free(mem);
  CloseHandle((HANDLE)fd);
  scratch_remove();
}

/* cleanup() returns only when every request has come back, even the ones
 * the disk is slow with: nothing lands in a buffer after it returns. */
static void test_engine_iocp_cleanup_waits(void **state) {
  (void)state;
  setup_each();
  InitializeCriticalSection(&defmu);
  const unsigned n = 16, bs = 65536;
  pm_fd fd = file_new((uint64_t)n * bs, false);
  unsigned char *mem = malloc((size_t)n * bs);
  wrap_begin();
  pmw_iocp.read_file = deferred_read;
  pmw_iocp.write_file = deferred_write;
  pm_io_ctx *c = ctx_new(n + 1);
  tracker t;
  tracker_init(&t, n + 1);
  memset(mem, 0, (size_t)n * bs);
  for (unsigned i = 0; i < n; i++) {
    set_req(&t.reqs[i], PM_IO_READ, fd, mem + (size_t)i * bs, bs,
            (uint64_t)i * bs);
    submit(c, &t, i);
  }
  set_req(&t.reqs[n], PM_IO_FSYNC, fd, NULL, 0, 0);
  submit(c, &t, n);
  DWORD t0 = GetTickCount();
  E->cleanup(c);
  DWORD took = GetTickCount() - t0;
  print_message("    cleanup took %lu ms (the reads were issued %d ms "
                "late)\n", (unsigned long)took, DEFER_MS);
  memset(mem, 0xA5, (size_t)n * bs);
  Sleep(2 * DEFER_MS);
  for (size_t i = 0; i < (size_t)n * bs; i++)
    if (mem[i] != 0xA5) {
      print_error("byte %zu changed after cleanup returned\n", i);
      fail();
    }
  assert_int_equal(defdone, defn);
  assert_true(took < 10000);
  wrap_end();
  tracker_free(&t);
  free(mem);
  CloseHandle((HANDLE)fd);
  scratch_remove();
}

/* A handle value the context associated, closed, and given by the OS to a
 * synchronous handle of another file: the engine must not take the value
 * for one on its port (no packet would ever come), and must take the next
 * overlapped file at that value on its port again. */
static void test_engine_iocp_stale_handle(void **state) {
  (void)state;
  setup_each();
  const unsigned bs = 4096;
  pm_fd a = file_new(2 * bs, false);
  unsigned first = nfiles - 1;
  pm_fd b0 = file_new(3 * bs, false);
  unsigned second = nfiles - 1;
  CloseHandle((HANDLE)b0);
  unsigned char *mem = malloc(3 * bs);
  pm_io_ctx *c = ctx_new(4);
  tracker t;
  tracker_init(&t, 3);
  set_req(&t.reqs[0], PM_IO_READ, a, mem, bs, bs);
  submit(c, &t, 0);
  drain(c, &t);
  assert_int_equal(t.reqs[0].res, bs);
  CloseHandle((HANDLE)a);
  pm_fd b = file_reopen_sync(second);
  if (b != a) {
    print_message("    the OS gave the synchronous handle another value: "
                  "nothing to check\n");
    CloseHandle((HANDLE)b);
    E->cleanup(c);
    tracker_free(&t);
    free(mem);
    skip();
  }
  set_req(&t.reqs[1], PM_IO_READ, b, mem, 3 * bs, 0);
  submit(c, &t, 1);
  drain(c, &t);
  assert_int_equal(t.reqs[1].res, 3 * bs);
  for (unsigned k = 0; k < 3 * bs; k++)
    assert_int_equal(mem[k], pattern_byte(k));
  CloseHandle((HANDLE)b);
  /* And an overlapped handle at that value again. */
  wchar_t p[MAX_PATH];
  swprintf(p, MAX_PATH, L"%ls\\f%u", scratch, first);
  HANDLE h = CreateFileW(p, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE,
                         NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
  assert_true(h != INVALID_HANDLE_VALUE);
  set_req(&t.reqs[2], PM_IO_READ, (pm_fd)h, mem, bs, bs);
  submit(c, &t, 2);
  drain(c, &t);
  assert_int_equal(t.reqs[2].res, bs);
  for (unsigned k = 0; k < bs; k++)
    assert_int_equal(mem[k], pattern_byte(bs + k));
  E->cleanup(c);
  CloseHandle(h);
  tracker_free(&t);
  free(mem);
  scratch_remove();
}

/* The copy engine on Windows: with the strict wrapper in place, a copy of
 * files with ragged tails through uncached handles, verified by re-reading
 * them, sends no request that Windows would refuse (it would fall back to the cache and still copy
 * right, so only the count shows it), and the copy is identical. The
 * source is taken as not in the cache, so both ends go uncached. */
static const pm_fs *native;
static int never_cached(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t off) {
  (void)fd;
  (void)off;
  return PM_EAGAIN;
}

/* Flushing a whole volume is not what this case checks (and Wine cannot):
 * the copy's final syncfs succeeds without doing it. */
static int no_syncfs(const pm_fs *self PM_UNUSED, pm_fd fd) {
  (void)fd;
  return 0;
}

static char *utf8_of(const wchar_t *w) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  char *s = malloc((size_t)n);
  WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
  return s;
}

static void test_engine_iocp_copy_unbuffered(void **state) {
  (void)state;
  setup_each();
  native = pm_fs_native();
  char *base = utf8_of(scratch);
  char *src = pm_xasprintf("%s/src", base), *dst = pm_xasprintf("%s/dst", base);
  assert_int_equal(pm_fs_mkdir(native, src, 0755), 0);
  /* The copy engine opens every file beneath its directory handles. */
  pm_fd dir;
  assert_int_equal(pm_fs_open(native, src, PM_O_RDONLY | PM_O_DIRECTORY, 0, &dir),
                   0);
  pm_fd probe;
  int prc = pm_fs_open_at(native, dir, "probe", PM_O_WRONLY | PM_O_CREAT, 0644,
                            &probe);
  /* And lists directories, as every copy does. */
  pm_dir *d = NULL;
  pm_dirent ent;
  int lrc = pm_fs_opendir_at(native, dir, "", &d);
  if (lrc == 0) {
    lrc = pm_fs_readdir(native, d, &ent);
    pm_fs_closedir(native, d);
  }
  pm_fs_close(native, dir);
  if (prc == PM_ENOTSUP || lrc == PM_ENOTSUP) {
    print_message("    the Win32 table cannot copy yet (open_at %s, "
                  "readdir %s): skipped\n",
                  pm_errname(prc), pm_errname(lrc));
    if (prc == 0) {
      pm_fs_close(native, probe);
      char *pp = pm_xasprintf("%s/probe", src);
      pm_fs_unlink(native, pp);
      free(pp);
    }
    pm_fs_rmdir(native, src);
    skip();
  }
  assert_int_equal(prc, 0);
  pm_fs_close(native, probe);
  char *pp = pm_xasprintf("%s/probe", src);
  assert_int_equal(pm_fs_unlink(native, pp), 0);
  free(pp);
  const uint64_t sizes[] = {20000, SECTOR * 5 + 1, 8192 * 9 + 7,
                            65536 * 3 + 4095, 1048576 + 123};
  const unsigned nsizes = sizeof sizes / sizeof sizes[0];
  unsigned char *buf = malloc(1048576 + 123);
  for (unsigned i = 0; i < nsizes; i++) {
    char *p = pm_xasprintf("%s/f%u", src, i);
    pm_fd fd;
    assert_int_equal(pm_fs_open(native, p, PM_O_WRONLY | PM_O_CREAT, 0644, &fd), 0);
    for (uint64_t k = 0; k < sizes[i]; k++) buf[k] = pattern_byte(k + i);
    assert_int_equal(pm_fs_pwrite(native, fd, buf, sizes[i], 0), (int64_t)sizes[i]);
    assert_int_equal(pm_fs_close(native, fd), 0);
    free(p);
  }
  pm_fs_ops ops = *native->ops;
  ops.cached = never_cached;
  ops.syncfs = no_syncfs;
  const pm_fs fs = {&ops, NULL};
  wrap_begin();
  pmw_iocp.read_file = strict_read;
  pmw_iocp.write_file = strict_write;
  const unsigned chunks[] = {8192, 65536, 1048576};
  for (unsigned k = 0; k < 3; k++) {
    refused = unbuffered_calls = 0;
    ce_options o;
    ce_options_init(&o);
    o.src = src;
    o.dst = dst;
    o.fs = &fs;
    o.engine = E;
    o.threads = 2;
    o.chunk_size = chunks[k];
    o.direct_min = 16384;
    o.no_manifest = true;
    o.journal = false;
    o.merge = true;
    /* And --verify: the committers' re-reads (vf_rereader, through the
     * same engine on handles opened with NO_BUFFERING) must be aligned
     * too. */
    o.verify = true;
    pm_set_quiet(true);
    ce_result r;
    assert_int_equal(ce_copy(&o, &r), 0);
    assert_int_equal(r.errors, 0);
    print_message("    chunk %u: %llu files, %llu verified, %ld unbuffered "
                  "requests, %ld misaligned\n",
                  chunks[k], (unsigned long long)r.files,
                  (unsigned long long)r.verified_files,
                  (long)unbuffered_calls, (long)refused);
    assert_int_equal(r.verified_files, nsizes);
    assert_int_equal(r.verify_mismatches, 0);
    /* Uncached handles were used (the table opened them so), and no
     * request on one was refused. */
    assert_true(unbuffered_calls > 0);
    assert_int_equal(refused, 0);
    for (unsigned i = 0; i < nsizes; i++) {
      char *p = pm_xasprintf("%s/f%u", dst, i);
      pm_fd fd;
      assert_int_equal(pm_fs_open(native, p, PM_O_RDONLY, 0, &fd), 0);
      pm_stat st;
      assert_int_equal(pm_fs_fstat(native, fd, &st), 0);
      assert_int_equal(st.size, sizes[i]);
      memset(buf, 0, sizes[i]);
      assert_int_equal(pm_fs_pread(native, fd, buf, sizes[i], 0),
                       (int64_t)sizes[i]);
      for (uint64_t b = 0; b < sizes[i]; b++)
        if (buf[b] != pattern_byte(b + i)) {
          print_error("f%u: byte %llu differs\n", i, (unsigned long long)b);
          fail();
        }
      pm_fs_close(native, fd);
      free(p);
    }
  }
  wrap_end();
  for (unsigned i = 0; i < nsizes; i++) {
    char *p = pm_xasprintf("%s/f%u", src, i);
    char *q = pm_xasprintf("%s/f%u", dst, i);
    pm_fs_unlink(native, p);
    pm_fs_unlink(native, q);
    free(p);
    free(q);
  }
  pm_fs_rmdir(native, src);
  pm_fs_rmdir(native, dst);
  free(buf);
  free(src);
  free(dst);
  free(base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_engine_iocp_sync_completion, teardown),
      cmocka_unit_test_teardown(test_engine_iocp_misaligned_unbuffered,
                                teardown),
      cmocka_unit_test_teardown(test_engine_iocp_faults, teardown),
      cmocka_unit_test_teardown(test_engine_iocp_shared_handle, teardown),
      cmocka_unit_test_teardown(test_engine_iocp_stale_handle, teardown),
      cmocka_unit_test_teardown(test_engine_iocp_cleanup_in_flight, teardown),
      cmocka_unit_test_teardown(test_engine_iocp_cleanup_waits, teardown),
      cmocka_unit_test_teardown(test_engine_iocp_copy_unbuffered, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
