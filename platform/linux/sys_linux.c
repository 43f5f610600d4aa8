/* sys_linux.c - small system queries of the Linux backend and the errno
 * translator (the only one on this platform). */
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

#include "linux.h"
#include "platform.h"
#include "sys.h"
#include "util.h"

extern const pm_io_engine_ops pm__engine_pool;

static int map_errno(int e) {
  switch (e) {
  case 0: return PM_OK;
  case ENOENT: return PM_ENOENT;
  case EACCES: return PM_EACCES;
  case EPERM: return PM_EPERM;
  case EEXIST: return PM_EEXIST;
  case ENOTDIR: return PM_ENOTDIR;
  case EISDIR: return PM_EISDIR;
  case ENOTEMPTY: return PM_ENOTEMPTY;
  case ENOSPC: return PM_ENOSPC;
  case EDQUOT: return PM_EDQUOT;
  case EIO: return PM_EIO;
  case EINTR: return PM_EINTR;
  case EAGAIN: return PM_EAGAIN;
  case EBUSY: case ETXTBSY: return PM_EBUSY;
  case ENAMETOOLONG: return PM_ENAMETOOLONG;
  case ELOOP: return PM_ELOOP;
  case EXDEV: return PM_EXDEV;
  case EINVAL: return PM_EINVAL;
  case ENOMEM: return PM_ENOMEM;
  case ENOTSUP: return PM_ENOTSUP;
  case ENOSYS: return PM_ENOTSUP;
  case EMFILE: case ENFILE: return PM_EMFILE;
  case EROFS: return PM_EROFS;
  case EBADF: return PM_EBADF;
  case EFBIG: return PM_EFBIG;
  case ENXIO: return PM_ENXIO;
  case ENODATA: return PM_ENODATA;
  case ERANGE: return PM_ERANGE;
  case ETIMEDOUT: return PM_ETIMEDOUT;
  case ECANCELED: return PM_ECANCELED;
  default: return PM_EUNKNOWN;
  }
}

int pm__from_errno(int e) {
  int err = map_errno(e);
  pm_oserr_record(err, e);
  return err;
}

uint32_t pm_create_mask(void) {
  /* /proc/self/status has it since Linux 4.7; umask() would change it,
   * for a moment, under every other thread of the process. */
  FILE *f = fopen("/proc/self/status", "re");
  if (f) {
    char line[256];
    unsigned m;
    while (fgets(line, sizeof line, f)) {
      if (sscanf(line, "Umask: %o", &m) == 1) {
        fclose(f);
        return m & 0777;
      }
    }
    fclose(f);
  }
  mode_t m = umask(022);
  umask(m);
  return (uint32_t)m & 0777;
}

bool pm_create_mode_exact(const pm_fs *fs, const char *dir) {
  size_t alen = 0;
  int arc = pm_fs_xattr_get(fs, dir, true, "system.posix_acl_default", NULL, 0,
                          &alen);
  return arc == PM_ENODATA || arc == PM_ENOTSUP;
}

unsigned pm_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}

unsigned pm_open_files_max(void) {
  static atomic_uint cached;
  unsigned n = atomic_load(&cached);
  if (n) return n;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  rlim_t want = rl.rlim_max;
  if (want == RLIM_INFINITY || want > 1048576) want = 1048576;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    struct rlimit up = {want, rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl.rlim_cur = want;
  }
  n = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1048576
          ? 1048576u
          : (unsigned)rl.rlim_cur;
  if (!n) n = 1;
  atomic_store(&cached, n);
  return n;
}

uint64_t pm_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool pm_isatty(int fdno) { return isatty(fdno) == 1; }

size_t pm_path_root_len(const char *path) { return path[0] == '/' ? 1 : 0; }

char *pm_path_fold(const char *path) { return strdup(path); }

/* argv is already the bytes the user typed, and the terminal shows UTF-8
 * as it is: nothing to convert. */
int pm_args_utf8(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  return 0;
}

void pm_stdio_init(void) {}

FILE *pm_fopen(const char *path, const char *mode) {
  return fopen(path, mode);
}

FILE *pm_null_stream(void) {
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  static FILE *null_stream;
  pthread_mutex_lock(&mu);
  if (!null_stream) null_stream = fopen("/dev/null", "w");
  pthread_mutex_unlock(&mu);
  return null_stream;
}

uint32_t pm_process_id(void) { return (uint32_t)getpid(); }

bool pm_process_alive(uint32_t pid) {
  /* pid_t is signed: an id past its range is nobody's, but a negative
   * one would name a process group, so it is never passed to kill. */
  if (pid == 0 || pid > (uint32_t)INT32_MAX) return pid == 0;
  return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

uint32_t pm_user_id(void) { return (uint32_t)geteuid(); }

void pm_host_name(char *buf, size_t cap) {
  if (!cap) return;
  if (gethostname(buf, cap) != 0 || !buf[0]) snprintf(buf, cap, "?");
  buf[cap - 1] = '\0';
}

void pm_utc_now(char *buf, size_t cap) {
  time_t t = time(NULL);
  struct tm tm;
  if (!gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(buf, cap, "?");
}

/* io_uring first where it was built (POMOVE_HAVE_URING: liburing found
 * at build time); the pool engine always. */
static const pm_io_engine_ops *const engines[] = {
#ifdef POMOVE_HAVE_URING
    &pm__engine_uring,
#endif
    &pm__engine_pool, NULL};

const pm_io_engine_ops *const *pm_io_engines(void) { return engines; }

/* ---- sys.h ---- */

#define HUGE_PAGE ((size_t)2 << 20)

void *pm_aligned_alloc(size_t align, size_t size) {
  void *p = NULL;
  bool huge = size && size % HUGE_PAGE == 0;
  if (huge && align < HUGE_PAGE) align = HUGE_PAGE;
  if (posix_memalign(&p, align, size ? size : 1) != 0) return NULL;
  /* A hint: where THP is off, 4 KiB pages as before. */
  if (huge) (void)madvise(p, size, MADV_HUGEPAGE);
  return p;
}

void pm_aligned_free(void *p) { free(p); }

void pm_identity_get(pm_identity *out) {
  out->uid = (uint32_t)geteuid();
  out->gid = (uint32_t)getegid();
  out->privileged = out->uid == 0;
  out->can_set_owner = out->uid == 0;
}

int64_t pm_wall_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec;
}
/* Written by the signal handler, read by every thread: an atomic, so that
 * the read in a worker is not a data race (a lock-free atomic is
 * async-signal-safe, C11 7.14.1.1). */
static atomic_int interrupt_flag;

static void on_interrupt(int sig) {
  /* A handler must leave errno as it found it: the signal may land
   * between a failed call and the read of its errno. */
  int saved = errno;
  if (atomic_load(&interrupt_flag)) {
    /* The second signal: the default action, now. */
    signal(sig, SIG_DFL);
    raise(sig);
    errno = saved;
    return;
  }
  atomic_store(&interrupt_flag, 1);
  errno = saved;
}

void pm_interrupt_catch(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_interrupt;
  /* SA_RESTART: a read or write that the signal lands in is restarted,
   * never failed with EINTR and reported as an I/O error; the loops see
   * the flag between calls. */
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

bool pm_interrupted(void) { return atomic_load(&interrupt_flag) != 0; }

atomic_int *pm_interrupt_flag(void) { return &interrupt_flag; }
