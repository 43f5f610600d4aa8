/* engine_iocp.c - the overlapped-I/O engine of the Win32 build: ReadFile and
 * WriteFile on handles opened with FILE_FLAG_OVERLAPPED, completed through
 * one I/O completion port per context (fio's engines/windowsaio.c is the
 * model). Everything it does exists in Windows 2000; the Vista calls that
 * would make it simpler are avoided on purpose:
 *
 * - No SetFileCompletionNotificationModes: a ReadFile or WriteFile that
 *   returns TRUE has still queued its completion packet. queue() answers
 *   PM_Q_QUEUED for it exactly as for ERROR_IO_PENDING, and the packet
 *   completes it: one report per request. A call that fails at once (any
 *   error but ERROR_IO_PENDING, an NT_ERROR status) queues no packet, so
 *   that request is completed by queue() itself (PM_Q_COMPLETED), unless
 *   the error says too much is in flight for the system (too many
 *   outstanding requests, pages of an unbuffered one that cannot be
 *   locked) while this context has requests outstanding: then queue()
 *   answers PM_Q_BUSY and the caller queues it again after a reap.
 * - No GetQueuedCompletionStatusEx: getevents() waits in
 *   GetQueuedCompletionStatus for the first packet and takes the rest with
 *   zero-timeout polls. ERROR_HANDLE_EOF, from ReadFile itself or in the
 *   packet, is a read of 0 bytes.
 * - No asynchronous flush exists: PM_IO_FSYNC and PM_IO_FDATASYNC run
 *   FlushFileBuffers on a helper thread of the context (platform/thread.h,
 *   up to HELPERS of them, started when first needed), which posts the
 *   result to the context's port with PostQueuedCompletionStatus.
 * - No CancelIoEx: cleanup() calls CancelIo on each handle with a request
 *   in flight, then drains the port until every outstanding request has
 *   come back, and only then frees anything. CancelIo cancels the I/O that
 *   the calling thread issued on that handle, all of it: when cleanup()
 *   runs on the thread that queued the requests (the usual case: a context
 *   is used by one thread at a time), they come back at once as
 *   ERROR_OPERATION_ABORTED; requests another thread queued are waited for
 *   (disk I/O always ends). It also cancels that thread's requests of
 *   other contexts on the same handle, which come back to their own
 *   context as PM_ECANCELED.
 *
 * Handles and ports. A handle (a file object) can be associated with one
 * completion port only, once, for as long as it is open; a second
 * CreateIoCompletionPort on it fails with ERROR_INVALID_PARAMETER, whatever
 * port it names. queue() associates the handle of every request with the
 * context's port (one cheap call; a failure with 87 means "already"), and
 * a process-wide table remembers which context made the last successful
 * association of each handle value. That record is right whenever the
 * association fails on an overlapped handle: every association in the
 * process is made here, and the association of a new overlapped file
 * object (a handle value reused after a close) succeeds and overwrites the
 * stale record, under the same lock as the call. A synchronous handle is
 * refused with the same ERROR_INVALID_PARAMETER, so when the record says
 * "this context" the handle's mode is asked too (NtQueryInformationFile,
 * FileModeInformation): the value may have been closed and given to a
 * synchronous handle since, whose I/O would queue no packet at all. Requests on a handle whose packets go to another context's
 * port (a file used by two contexts, or by a new context after the one
 * that first used it was cleaned up, whose port is gone), or on a handle
 * opened without FILE_FLAG_OVERLAPPED (no port takes one: the association
 * fails with 87 and no record names this context), are served by the
 * helper threads instead: they issue the request with the low bit of
 * hEvent set, so that no packet is queued anywhere, wait for its event and
 * post the result to this context's port. The copy engine opens its files
 * per worker and never takes this slower path; the contract suite does. A
 * record lost to a collision in the table only sends a handle down that
 * path too. The caller's own synchronous reads and writes on an associated
 * handle (the file-system table's pread/pwrite) must set the low bit of
 * their hEvent (fs_win32.c does), or their packets reach the port: a
 * packet whose OVERLAPPED is not one of the context's is dropped unread.
 *
 * Unbuffered handles (FILE_FLAG_NO_BUFFERING) need sector-aligned offsets,
 * lengths and buffers; the engine passes the request as it is, and
 * Windows' ERROR_INVALID_PARAMETER comes back as PM_EINVAL with oserr 87
 * (Wine does not check, tests/platform/test_engine_iocp.c does).
 *
 * Every Win32 call with a side effect goes through pmw_iocp (iocp.h). */
#include <stdlib.h>
#include <string.h>

#include "iocp.h"
#include "thread.h"
#include "util.h"
#include "win32.h"

#define HELPERS 4
/* The completion key of the packets ReadFile and WriteFile queue; helpers
 * post theirs with KEY_POSTED. */
#define KEY_IO PMW_IOCP_KEY_IO
#define KEY_POSTED 0x11

const pmw_iocp_api pmw_iocp_real = {
    .read_file = ReadFile,
    .write_file = WriteFile,
    .get_status = GetQueuedCompletionStatus,
    .post_status = PostQueuedCompletionStatus,
    .create_port = CreateIoCompletionPort,
    .flush = FlushFileBuffers,
    .cancel_io = CancelIo,
    .get_result = GetOverlappedResult,
    .query_file = NtQueryInformationFile,
};
pmw_iocp_api pmw_iocp = {
    .read_file = ReadFile,
    .write_file = WriteFile,
    .get_status = GetQueuedCompletionStatus,
    .post_status = PostQueuedCompletionStatus,
    .create_port = CreateIoCompletionPort,
    .flush = FlushFileBuffers,
    .cancel_io = CancelIo,
    .get_result = GetOverlappedResult,
    .query_file = NtQueryInformationFile,
};

enum { SLOT_FREE, SLOT_PORT, SLOT_JOB };

/* One request in flight. The OVERLAPPED comes first: a packet's
 * OVERLAPPED pointer is the slot. */
typedef struct slot {
  OVERLAPPED ov;
  pm_io_req *req;
  int kind;
  DWORD bytes, err; /* a helper's result (SLOT_JOB) */
  struct slot *next; /* free list, helper queue */
} slot;

struct pm_io_ctx {
  HANDLE port;
  LONG id;
  unsigned depth, outstanding;
  slot *slots, *free;
  /* The helper threads and their queue of jobs (flushes, and I/O on
   * handles whose packets go to another port). */
  pm_mutex mu;
  pm_cond work;
  slot *jobs, *jobs_tail;
  unsigned njobs, nhelpers, idle;
  bool stop;
  pm_thread helpers[HELPERS];
};

/* ---- Which context's port each handle is associated with ---- */

#define OWNERS 4096
static struct owner {
  HANDLE h;
  LONG id;
} owners[OWNERS];
static pm_mutex owners_mu;
static pm_once_t owners_once = PM_ONCE_INIT;
static volatile LONG next_id;

static void owners_init(void) { pm_mutex_init(&owners_mu); }

static struct owner *owner_of(HANDLE h) {
  /* Handle values are multiples of 4. */
  return &owners[((uintptr_t)h >> 2) % OWNERS];
}

/* Whether h was opened for overlapped I/O (FileModeInformation has
 * neither FILE_SYNCHRONOUS_IO_ALERT nor _NONALERT); false when the OS does
 * not say. */
static bool overlapped(HANDLE h) {
  IO_STATUS_BLOCK iosb;
  ULONG mode = 0;
  const int file_mode_information = 16; /* NT 3.1's FILE_MODE_INFORMATION */
  if (pmw_iocp.query_file(h, &iosb, &mode, sizeof mode,
                          (FILE_INFORMATION_CLASS)file_mode_information) < 0)
    return false;
  return !(mode & 0x30); /* FILE_SYNCHRONOUS_IO_ALERT | _NONALERT */
}

/* 1 when the packets of h's I/O reach c's port, 0 when they go elsewhere
 * (or nowhere), or a PM_E* code (with *err) when h cannot be associated
 * at all. */
static int associate(pm_io_ctx *c, HANDLE h, DWORD *err) {
  int rc;
  pm_mutex_lock(&owners_mu);
  struct owner *o = owner_of(h);
  if (pmw_iocp.create_port(h, c->port, KEY_IO, 0)) {
    o->h = h;
    o->id = c->id;
    rc = 1;
  } else {
    *err = GetLastError();
    if (*err == ERROR_INVALID_PARAMETER) {
      rc = o->h == h && o->id == c->id;
      /* A synchronous handle is refused with the same code: the value
       * recorded may have been closed and given to one since. */
      if (rc && !overlapped(h)) {
        o->id = 0;
        rc = 0;
      }
    } else {
      rc = pmw_error_of(*err);
    }
  }
  pm_mutex_unlock(&owners_mu);
  return rc;
}

/* ---- Results ---- */

static void finish(pm_io_req *req, BOOL ok, DWORD bytes, DWORD err) {
  if (ok) {
    req->res = req->op == PM_IO_READ || req->op == PM_IO_WRITE ? bytes : 0;
    req->oserr = 0;
  } else if (req->op == PM_IO_READ && err == ERROR_HANDLE_EOF) {
    req->res = 0; /* at or past the end */
    req->oserr = 0;
  } else {
    req->res = pmw_error_of(err);
    req->oserr = (int)err;
  }
}

static void slot_put(pm_io_ctx *c, slot *s) {
  s->kind = SLOT_FREE;
  s->req = NULL;
  s->next = c->free;
  c->free = s;
}

/* The slot a packet's OVERLAPPED belongs to, or NULL for one that is not
 * this context's (someone's synchronous I/O on an associated handle that
 * did not mask its packet). */
static slot *slot_of(pm_io_ctx *c, OVERLAPPED *ov) {
  uintptr_t p = (uintptr_t)ov, lo = (uintptr_t)c->slots;
  if (p < lo || p >= lo + (uintptr_t)c->depth * sizeof(slot)) return NULL;
  if ((p - lo) % sizeof(slot)) return NULL;
  slot *s = (slot *)ov;
  return s->kind == SLOT_FREE ? NULL : s;
}

/* ---- Helper threads ---- */

static void offset_set(OVERLAPPED *ov, uint64_t off) {
  ov->Offset = (DWORD)off;
  ov->OffsetHigh = (DWORD)(off >> 32);
}

/* Runs a job on the helper thread: a flush, or a read or write whose
 * packet would go to another port, issued with no packet and waited for
 * on the helper's event. */
static void run_job(slot *s, HANDLE ev) {
  pm_io_req *req = s->req;
  HANDLE h = (HANDLE)req->fd;
  BOOL ok;
  DWORD n = 0;
  if (req->op == PM_IO_FSYNC || req->op == PM_IO_FDATASYNC) {
    ok = pmw_iocp.flush(h);
  } else {
    OVERLAPPED o;
    memset(&o, 0, sizeof o);
    offset_set(&o, req->off);
    /* The low bit keeps the completion off any port. */
    o.hEvent = (HANDLE)((uintptr_t)ev | 1);
    ResetEvent(ev);
    DWORD done = 0;
    ok = req->op == PM_IO_READ
             ? pmw_iocp.read_file(h, req->buf, req->len, &done, &o)
             : pmw_iocp.write_file(h, req->buf, req->len, &done, &o);
    if (ok) {
      n = done; /* a synchronous handle, or the cache */
    } else if (GetLastError() == ERROR_IO_PENDING) {
      WaitForSingleObject(ev, INFINITE);
      ok = pmw_iocp.get_result(h, &o, &n, FALSE);
    }
  }
  s->err = ok ? 0 : GetLastError();
  s->bytes = n;
}

static void helper(void *arg) {
  pm_io_ctx *c = arg;
  /* Manual-reset, so that a completion before the wait is not lost. */
  HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  pm_mutex_lock(&c->mu);
  for (;;) {
    while (!c->jobs && !c->stop) {
      c->idle++;
      pm_cond_wait(&c->work, &c->mu);
      c->idle--;
    }
    if (!c->jobs) break; /* stopping, and nothing left */
    slot *s = c->jobs;
    c->jobs = s->next;
    if (!c->jobs) c->jobs_tail = NULL;
    c->njobs--;
    pm_mutex_unlock(&c->mu);
    if (ev || s->req->op == PM_IO_FSYNC || s->req->op == PM_IO_FDATASYNC) {
      run_job(s, ev);
    } else {
      s->err = ERROR_NOT_ENOUGH_MEMORY; /* no event for the wait */
      s->bytes = 0;
    }
    /* The completion must arrive: a post fails only when the system is
     * out of resources, which passes. */
    while (!pmw_iocp.post_status(c->port, s->bytes, KEY_POSTED, &s->ov))
      Sleep(10);
    pm_mutex_lock(&c->mu);
  }
  pm_mutex_unlock(&c->mu);
  if (ev) CloseHandle(ev);
}

/* Hands s to a helper, starting one when more jobs wait than helpers are
 * idle (up to HELPERS). 0, or a PM_E* code when no helper runs at all. */
static int job_push(pm_io_ctx *c, slot *s) {
  pm_mutex_lock(&c->mu);
  if (c->njobs >= c->idle && c->nhelpers < HELPERS) {
    int rc = pm_thread_create(&c->helpers[c->nhelpers], helper, c);
    if (rc == 0) {
      c->nhelpers++;
    } else if (!c->nhelpers) {
      pm_mutex_unlock(&c->mu);
      return rc;
    }
  }
  s->kind = SLOT_JOB;
  s->next = NULL;
  if (c->jobs_tail) c->jobs_tail->next = s;
  else c->jobs = s;
  c->jobs_tail = s;
  c->njobs++;
  pm_cond_signal(&c->work);
  pm_mutex_unlock(&c->mu);
  return 0;
}

/* ---- The engine ---- */

/* A port can be made (it cannot on Windows 9x, nor when the system is out
 * of resources): then the pool engine is the default instead. */
static int iocp_probe(void) {
  HANDLE port = pmw_iocp.create_port(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (!port) return pmw_fail_last();
  CloseHandle(port);
  return 0;
}

static void iocp_cleanup(pm_io_ctx *c);

static int iocp_init(const pm_fs *fs, unsigned depth, pm_io_ctx **out) {
  (void)fs;
  pm_once(&owners_once, owners_init);
  if (depth < 2) depth = 2;
  HANDLE port = pmw_iocp.create_port(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (!port) return pmw_fail_last();
  pm_io_ctx *c = pm_xcalloc(1, sizeof *c);
  c->port = port;
  c->id = InterlockedIncrement(&next_id);
  c->depth = depth;
  c->slots = pm_xcalloc(depth, sizeof *c->slots);
  for (unsigned i = depth; i-- > 0;) slot_put(c, &c->slots[i]);
  pm_mutex_init(&c->mu);
  pm_cond_init(&c->work);
  *out = c;
  return 0;
}

/* The errors with which ReadFile and WriteFile refuse a request because
 * too many are in flight (MSDN: ERROR_INVALID_USER_BUFFER and
 * ERROR_NOT_ENOUGH_MEMORY "too many outstanding asynchronous I/O
 * requests"), or the pages of a large unbuffered one cannot be locked
 * (the working-set and pool errors of NT). */
static bool out_of_resources(DWORD err) {
  switch (err) {
  case ERROR_INVALID_USER_BUFFER:
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_NOT_ENOUGH_QUOTA:
  case ERROR_NO_SYSTEM_RESOURCES:
  case ERROR_NONPAGED_SYSTEM_RESOURCES:
  case ERROR_PAGED_SYSTEM_RESOURCES:
  case ERROR_WORKING_SET_QUOTA: return true;
  default: return false;
  }
}

static int iocp_queue(pm_io_ctx *c, pm_io_req *req) {
  if (req->op < PM_IO_READ || req->op > PM_IO_FDATASYNC) return PM_EINVAL;
  if (c->outstanding >= c->depth || !c->free) return PM_Q_BUSY;
  HANDLE h = (HANDLE)req->fd;
  if (req->fd == PM_FD_INVALID) {
    /* INVALID_HANDLE_VALUE is also the current process's pseudo-handle:
     * never hand it to the OS as a file. */
    finish(req, FALSE, 0, ERROR_INVALID_HANDLE);
    return PM_Q_COMPLETED;
  }
  slot *s = c->free;
  c->free = s->next;
  memset(&s->ov, 0, sizeof s->ov);
  s->req = req;
  s->bytes = s->err = 0;
  if (req->op == PM_IO_FSYNC || req->op == PM_IO_FDATASYNC) {
    int rc = job_push(c, s);
    if (rc) {
      slot_put(c, s);
      return rc;
    }
    c->outstanding++;
    return PM_Q_QUEUED;
  }
  DWORD err = 0;
  int own = associate(c, h, &err);
  if (own < 0) {
    slot_put(c, s);
    finish(req, FALSE, 0, err);
    return PM_Q_COMPLETED;
  }
  if (!own) {
    /* Its packets would go to another context's port. */
    int rc = job_push(c, s);
    if (rc) {
      slot_put(c, s);
      return rc;
    }
    c->outstanding++;
    return PM_Q_QUEUED;
  }
  s->kind = SLOT_PORT;
  offset_set(&s->ov, req->off);
  DWORD done = 0;
  BOOL ok = req->op == PM_IO_READ
                ? pmw_iocp.read_file(h, req->buf, req->len, &done, &s->ov)
                : pmw_iocp.write_file(h, req->buf, req->len, &done, &s->ov);
  /* TRUE (completed already) still queues a packet on Windows 2000: the
   * packet reports it, as it does a pending one. */
  if (ok || (err = GetLastError()) == ERROR_IO_PENDING) {
    c->outstanding++;
    return PM_Q_QUEUED;
  }
  slot_put(c, s);
  if (c->outstanding && out_of_resources(err)) {
    /* Too much in flight for the system right now: the caller reaps and
     * queues it again. */
    return PM_Q_BUSY;
  }
  finish(req, FALSE, 0, err);
  return PM_Q_COMPLETED;
}

/* Every request is issued by queue(). */
static int iocp_commit(pm_io_ctx *c) {
  (void)c;
  return 0;
}

/* Takes one packet: waits up to `ms`. 1 with *out set (or NULL for a
 * packet that was not this context's), 0 when the wait ran out, or a
 * PM_E* code when the port itself failed. The request's result is filled
 * in when `report` (cleanup() only collects its slots). */
static int take(pm_io_ctx *c, DWORD ms, bool report, slot **out) {
  DWORD n = 0;
  ULONG_PTR key = 0;
  OVERLAPPED *ov = NULL;
  BOOL ok = pmw_iocp.get_status(c->port, &n, &key, &ov, ms);
  DWORD err = ok ? 0 : GetLastError();
  *out = NULL;
  if (!ov) {
    /* No packet: the wait ran out, or the port failed. */
    if (!ok && err == WAIT_TIMEOUT) return 0;
    return ok ? 1 : pmw_fail(err);
  }
  slot *s = slot_of(c, ov);
  if (!s) return 1;
  if (report && s->kind == SLOT_JOB)
    finish(s->req, s->err == 0, s->bytes, s->err);
  else if (report) /* FALSE with a packet: the I/O failed */
    finish(s->req, ok, n, err);
  *out = s;
  return 1;
}

static int iocp_getevents(pm_io_ctx *c, unsigned min, unsigned max,
                          pm_io_req **events) {
  unsigned got = 0;
  if (min > c->outstanding) min = c->outstanding;
  while (got < max && c->outstanding) {
    slot *s;
    int r = take(c, got < min ? INFINITE : 0, true, &s);
    if (r < 0) return got ? (int)got : r;
    if (r == 0) break;
    if (!s) continue;
    events[got++] = s->req;
    c->outstanding--;
    slot_put(c, s);
  }
  return (int)got;
}

static void iocp_cleanup(pm_io_ctx *c) {
  if (!c) return;
  /* Jobs no helper has started are dropped; the ones running finish. */
  pm_mutex_lock(&c->mu);
  while (c->jobs) {
    slot *s = c->jobs;
    c->jobs = s->next;
    slot_put(c, s);
    c->outstanding--;
  }
  c->jobs_tail = NULL;
  c->njobs = 0;
  pm_mutex_unlock(&c->mu);
  for (unsigned i = 0; i < c->depth; i++)
    if (c->slots[i].kind == SLOT_PORT)
      pmw_iocp.cancel_io((HANDLE)c->slots[i].req->fd);
  while (c->outstanding) {
    slot *s;
    int r = take(c, INFINITE, false, &s);
    if (r < 0) {
      /* The port failed: what is in flight may still land in the slots
       * and the buffers, so nothing is freed (a leak, never a write into
       * freed memory). */
      return;
    }
    if (!s) continue;
    c->outstanding--;
    slot_put(c, s);
  }
  pm_mutex_lock(&c->mu);
  c->stop = true;
  pm_cond_broadcast(&c->work);
  pm_mutex_unlock(&c->mu);
  for (unsigned i = 0; i < c->nhelpers; i++) pm_thread_join(&c->helpers[i]);
  pm_cond_destroy(&c->work);
  pm_mutex_destroy(&c->mu);
  CloseHandle(c->port);
  free(c->slots);
  free(c);
}

const pm_io_engine_ops pmw_engine_iocp = {
    .name = "iocp",
    .probe = iocp_probe,
    .init = iocp_init,
    .queue = iocp_queue,
    .commit = iocp_commit,
    .getevents = iocp_getevents,
    .cleanup = iocp_cleanup,
};
