/* floor.c - pm_floor, the benchmark's floor (issue 17): how fast this Linux
 * host can copy a tree's directories and files and make them durable, with
 * nothing else in the way. Timed: it makes DST's directories in walk order
 * (parents first), then on N threads reads every file from SRC into the
 * thread's one reused buffer and writes it from there (files of
 * --direct-min bytes or more with O_DIRECT), in pieces of at most the
 * buffer (--buffer, one read and one write a piece), closes them, while a
 * flusher thread runs a syncfs of DST's file system after every
 * --flush-every bytes written, and finally flushes what is left with one
 * more syncfs. It prints the seconds of create+write and of that last
 * flush, and the CPU of the timed part; bench/run.sh divides every
 * copier's time by this floor.
 *
 * Why a reused buffer (session 9): up to session 8 the floor read all of
 * SRC, untimed, into one arena of up to half the memory and wrote every
 * file from there. On the 100,000-file postoffice that made it slower
 * than pomove (6.13 s against 5.14 s): each file's bytes were cold in the
 * CPU caches and the TLB (a 2.86 GiB arena), where a copier reads each
 * file into a few MiB of buffers it reuses, still warm when it writes
 * them. The same floor reading each file while timed into a reused buffer
 * was faster in 3 alternated runs (8.4-9.6 s against 11.6-13.3 s). A copy
 * must read its source; the floor now does too, the way a copy would at
 * the least (one read of the file, or of a buffer's worth, then one
 * write), so that "/ floor" is how far a tool is from what the OS allows.
 * The buffer is allocated and faulted in before the clock starts, 2 MiB
 * aligned and offered to the kernel as huge pages (MADV_HUGEPAGE): an
 * O_DIRECT request is then built from large physically contiguous
 * segments and the loop device takes 1.25 MiB a request instead of the
 * 512 KiB that 128 segments of scattered 4 KiB pages make.
 *
 * Why the flusher: up to session 7 the floor flushed only at the end, so
 * the disk sat idle while files were created and then wrote them all
 * while nothing else ran, where a copier that makes its files durable
 * batch by batch (pomove) keeps the disk busy all along.
 *
 * It is a measuring tool, not part of pomove: it calls POSIX directly (the
 * platform layer's wrappers are for code that must also run on Windows and
 * under fault injection; here the raw system-call cost is the point), links
 * nothing of the engine, and is built on Linux only. What it leaves out on
 * purpose, so that it stays a lower bound for any real copier: hashing,
 * times, owners, extended attributes, and directory modes (directories are
 * made writable by their owner). File contents and file permission bits
 * (less the umask) are the source's, so `diff -r SRC DST` finds nothing.
 *
 * Exit codes: 0 done; 2 usage, SRC unreadable or DST already exists;
 * 3 a create, read, write, close or flush failed (named with path and OS
 * error). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_ALIGN 4096u
/* pomove's own threshold for uncached I/O (copyengine); the floor uses the
 * same so that both pay the same kind of write for the same file. */
#define FLOOR_DIRECT_MIN_DEFAULT (16u << 20)
/* Each thread's reused buffer: a file is read and written in pieces of
 * at most this. 64 MiB keeps the loop device's queue (128 requests of
 * 1.25 MiB) about half full per writing thread during a large file's
 * write. */
#define FLOOR_BUFFER_DEFAULT (64u << 20)
#define FLOOR_HUGE (2u << 20)
/* While the writers run, a flusher thread starts a syncfs of DST each
 * time this many more bytes (files rounded up to 4 KiB) were written,
 * so that the disk writes the first files while later ones are created,
 * as a copier that makes its files durable batch by batch does; the
 * last syncfs then has only the rest to write. 0: one syncfs at the end
 * only (the floor of sessions 7 and before, whose flush of a 2.86 GiB
 * postoffice came after all its writes and made it slower than pomove). */
#define FLOOR_FLUSH_EVERY_DEFAULT (64u << 20)
/* Cap of a single write: Linux moves at most 0x7ffff000 bytes a call. */
#define FLOOR_WRITE_MAX (1u << 30)

enum { E_DIR, E_FILE, E_LINK };

typedef struct floor_entry {
  int type;
  mode_t mode;
  uint64_t size;
  char *rel;      /* path relative to SRC and DST */
  char *target;   /* symlink target */
} floor_entry;

static floor_entry *g_ent;
static size_t g_nent, g_cap;
static size_t g_srclen;
static int g_walk_err;
static char g_walk_path[PATH_MAX];

static int g_dstfd = -1, g_srcfd = -1;
static uint64_t g_buffer = FLOOR_BUFFER_DEFAULT;
static char **g_bufs;
static uint64_t g_direct_min = FLOOR_DIRECT_MIN_DEFAULT;
static bool g_no_direct;
static atomic_size_t g_next;
static atomic_int g_failed;
static pthread_mutex_t g_err_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_fast64_t g_direct_files;
/* The overlapped flush (see flusher()): bytes written so far, whether
 * the writers are done, and how many syncfs calls ran meanwhile. */
static uint64_t g_flush_every = FLOOR_FLUSH_EVERY_DEFAULT;
static atomic_uint_fast64_t g_written;
static atomic_bool g_writers_done;
static uint64_t g_overlap_flushes;

static void usage(FILE *f) {
  fprintf(f,
          "usage: pm_floor [options] SRC DST\n"
          "\n"
          "The benchmark floor: copies SRC's directories and files to DST\n"
          "(which must not exist) as fast as the OS allows. Timed:\n"
          "directories first, then on N threads each file read from SRC\n"
          "into the thread's reused buffer and written from it (one read\n"
          "and one write per --buffer bytes; O_DIRECT writes from\n"
          "--direct-min bytes), closed, with a syncfs of DST's file system\n"
          "every --flush-every bytes meanwhile; then a last syncfs.\n"
          "Times, owners and directory modes are not copied; nothing is\n"
          "hashed.\n"
          "\n"
          "  --threads N         writer threads (default: online CPUs)\n"
          "  --direct-min BYTES  O_DIRECT for files of this size or more\n"
          "                      (default 16777216)\n"
          "  --no-direct         never O_DIRECT\n"
          "  --flush-every BYTES while writing, a syncfs of DST after every\n"
          "                      BYTES written (default 67108864), so the\n"
          "                      disk works while files are created; 0: one\n"
          "                      syncfs at the end only\n"
          "  --buffer BYTES      each thread's reused buffer, a multiple of\n"
          "                      4096 from 4096 to 1 GiB (default 67108864);\n"
          "                      allocated and faulted in before the clock\n"
          "                      starts\n"
          "  --help              this text\n"
          "\n"
          "Prints key/value lines: files, dirs, links, bytes, threads,\n"
          "direct, buffer, overlap_flushes, create_write_s, flush_s,\n"
          "total_s, user_s, sys_s (flush_s: the last syncfs, after the writes).\n"
          "Exit codes: 0 done; 2 usage, unreadable SRC or existing DST;\n"
          "3 a create, write, close or flush failed.\n");
}

static void report(const char *op, const char *rel, int err) {
  pthread_mutex_lock(&g_err_lock);
  fprintf(stderr, "pm_floor: %s %s: %s (errno %d)\n", op, rel, strerror(err), err);
  pthread_mutex_unlock(&g_err_lock);
  atomic_store(&g_failed, 1);
}

static bool parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-') return false;
  *out = v;
  return true;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static int walk_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)ftw;
  if (flag == FTW_DNR || flag == FTW_NS) {
    snprintf(g_walk_path, sizeof g_walk_path, "%s", path);
    g_walk_err = errno ? errno : EACCES;
    return 1;
  }
  if (strlen(path) == g_srclen) return 0; /* SRC itself: DST is made apart */
  if (g_nent == g_cap) {
    g_cap = g_cap ? 2 * g_cap : 1024;
    floor_entry *n = realloc(g_ent, g_cap * sizeof *n);
    if (!n) {
      g_walk_err = ENOMEM;
      snprintf(g_walk_path, sizeof g_walk_path, "%s", path);
      return 1;
    }
    g_ent = n;
  }
  floor_entry *e = &g_ent[g_nent];
  memset(e, 0, sizeof *e);
  e->mode = st->st_mode & 07777;
  e->size = (uint64_t)st->st_size;
  if (S_ISDIR(st->st_mode)) {
    e->type = E_DIR;
  } else if (S_ISREG(st->st_mode)) {
    e->type = E_FILE;
  } else if (S_ISLNK(st->st_mode)) {
    e->type = E_LINK;
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0) {
      g_walk_err = errno;
      snprintf(g_walk_path, sizeof g_walk_path, "%s", path);
      return 1;
    }
    buf[n] = '\0';
    e->target = strdup(buf);
  } else {
    /* A FIFO or device in a benchmark tree is a mistake in the tree. */
    g_walk_err = ENOTSUP;
    snprintf(g_walk_path, sizeof g_walk_path, "%s (not a file, directory or link)", path);
    return 1;
  }
  e->rel = strdup(path + g_srclen + 1);
  if (!e->rel || (e->type == E_LINK && !e->target)) {
    g_walk_err = ENOMEM;
    snprintf(g_walk_path, sizeof g_walk_path, "%s", path);
    return 1;
  }
  g_nent++;
  return 0;
}

/* Reads exactly len bytes of fd at off into buf; false when the file ended
 * early (it changed since the walk) or on error (errno set). */
static bool read_full(int fd, char *buf, uint64_t len, uint64_t off) {
  while (len > 0) {
    ssize_t n = pread(fd, buf, len > FLOOR_WRITE_MAX ? FLOOR_WRITE_MAX : (size_t)len, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) {
      errno = EIO;
      return false;
    }
    buf += n;
    off += (uint64_t)n;
    len -= (uint64_t)n;
  }
  return true;
}

/* Writes len bytes at off; with O_DIRECT set on fd, len must be aligned
 * (short writes of an uncached write stay aligned in practice; a misaligned
 * rest fails with EINVAL and is reported, never hidden). */
static bool write_full(int fd, const char *buf, uint64_t len, uint64_t off) {
  while (len > 0) {
    ssize_t n = pwrite(fd, buf, len > FLOOR_WRITE_MAX ? FLOOR_WRITE_MAX : (size_t)len, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) {
      errno = EIO;
      return false;
    }
    buf += n;
    off += (uint64_t)n;
    len -= (uint64_t)n;
  }
  return true;
}

/* Opens DST/rel for writing, uncached when asked and the file system
 * allows it (tmpfs refuses O_DIRECT with EINVAL: then cached). */
static int open_out(const floor_entry *e, bool *direct) {
  int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW;
  if (*direct) {
    int fd = openat(g_dstfd, e->rel, flags | O_DIRECT, e->mode);
    if (fd >= 0 || errno != EINVAL) return fd;
    *direct = false;
  }
  return openat(g_dstfd, e->rel, flags, e->mode);
}

/* Writes the aligned head of a file with O_DIRECT on, then drops O_DIRECT
 * for the unaligned tail. */
static bool write_direct(int fd, const char *buf, uint64_t len, uint64_t off) {
  uint64_t head = len & ~(uint64_t)(FLOOR_ALIGN - 1);
  if (head && !write_full(fd, buf, head, off)) return false;
  if (head == len) return true;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_DIRECT) < 0) return false;
  return write_full(fd, buf + head, len - head, off + head);
}

/* Copies one file: read from SRC into buf, written from there, a
 * buffer's worth at a time. */
static void copy_one(const floor_entry *e, char *buf) {
  bool direct = !g_no_direct && e->size >= g_direct_min;
  int in = -1;
  if (e->size > 0) {
    in = openat(g_srcfd, e->rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0) {
      report("open source", e->rel, errno);
      return;
    }
  }
  int fd = open_out(e, &direct);
  if (fd < 0) {
    report("create", e->rel, errno);
    if (in >= 0) close(in);
    return;
  }
  if (direct) atomic_fetch_add(&g_direct_files, 1);
  bool ok = true;
  const char *op = "write";
  for (uint64_t off = 0; ok && off < e->size; off += g_buffer) {
    uint64_t n = e->size - off < g_buffer ? e->size - off : g_buffer;
    if (!read_full(in, buf, n, off)) {
      ok = false;
      op = "read source";
      break;
    }
    /* write_direct clears O_DIRECT only on the last, unaligned piece. */
    ok = direct ? write_direct(fd, buf, n, off) : write_full(fd, buf, n, off);
  }
  if (in >= 0) close(in);
  if (!ok) report(op, e->rel, errno);
  if (close(fd) != 0 && ok) report("close", e->rel, errno);
  atomic_fetch_add(&g_written, (e->size + FLOOR_ALIGN - 1) & ~(uint64_t)(FLOOR_ALIGN - 1));
}

/* Starts a syncfs of DST each time --flush-every more bytes were written,
 * until the writers are done. A syncfs writes back whatever is dirty on
 * the file system at that moment and waits for it, while the writers go
 * on creating files. */
static void *flusher(void *arg) {
  (void)arg;
  uint64_t last = 0;
  while (!atomic_load(&g_writers_done)) {
    uint64_t now = atomic_load(&g_written);
    if (now - last < g_flush_every) {
      struct timespec ts = {0, 2 * 1000 * 1000};
      nanosleep(&ts, NULL);
      continue;
    }
    last = now;
    if (syncfs(g_dstfd) != 0) {
      report("syncfs", "(while writing)", errno);
      break;
    }
    g_overlap_flushes++;
  }
  return NULL;
}

static void *worker(void *arg) {
  char *buf = arg;
  for (;;) {
    size_t i = atomic_fetch_add(&g_next, 1);
    if (i >= g_nent || atomic_load(&g_failed)) break;
    const floor_entry *e = &g_ent[i];
    if (e->type == E_FILE) copy_one(e, buf);
  }
  return NULL;
}

/* A thread's buffer: 2 MiB aligned, offered as huge pages, faulted in. */
static char *buffer_new(void) {
  size_t len = (size_t)((g_buffer + FLOOR_HUGE - 1) & ~(uint64_t)(FLOOR_HUGE - 1));
  void *p = NULL;
  if (posix_memalign(&p, FLOOR_HUGE, len) != 0) return NULL;
  (void)madvise(p, len, MADV_HUGEPAGE); /* a hint: refused, 4 KiB pages */
  memset(p, 0, len);
  return p;
}

int main(int argc, char **argv) {
  uint64_t threads = (uint64_t)sysconf(_SC_NPROCESSORS_ONLN);
  const char *src = NULL, *dst = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--threads") && i + 1 < argc) {
      if (!parse_u64(argv[++i], &threads) || threads < 1 || threads > 1024) {
        fprintf(stderr, "pm_floor: --threads needs a number from 1 to 1024\n");
        return 2;
      }
    } else if (!strcmp(a, "--direct-min") && i + 1 < argc) {
      if (!parse_u64(argv[++i], &g_direct_min)) {
        fprintf(stderr, "pm_floor: --direct-min needs a byte count\n");
        return 2;
      }
    } else if (!strcmp(a, "--buffer") && i + 1 < argc) {
      if (!parse_u64(argv[++i], &g_buffer) || g_buffer < FLOOR_ALIGN ||
          g_buffer > FLOOR_WRITE_MAX || g_buffer % FLOOR_ALIGN != 0) {
        fprintf(stderr, "pm_floor: --buffer needs a multiple of 4096 from 4096 to 1073741824\n");
        return 2;
      }
    } else if (!strcmp(a, "--flush-every") && i + 1 < argc) {
      if (!parse_u64(argv[++i], &g_flush_every)) {
        fprintf(stderr, "pm_floor: --flush-every needs a byte count\n");
        return 2;
      }
    } else if (!strcmp(a, "--no-direct")) {
      g_no_direct = true;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "pm_floor: unknown or incomplete option '%s'\n", a);
      usage(stderr);
      return 2;
    } else if (!src) {
      src = a;
    } else if (!dst) {
      dst = a;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (!src || !dst) {
    usage(stderr);
    return 2;
  }
  if (threads < 1) threads = 1;

  /* Strip trailing slashes so that SRC's length cuts every walked path. */
  char srcbuf[PATH_MAX];
  snprintf(srcbuf, sizeof srcbuf, "%s", src);
  size_t sl = strlen(srcbuf);
  while (sl > 1 && srcbuf[sl - 1] == '/') srcbuf[--sl] = '\0';
  struct stat st;
  if (stat(srcbuf, &st) != 0) {
    int err = errno;
    fprintf(stderr, "pm_floor: stat %s: %s (errno %d)\n", srcbuf, strerror(err), err);
    return 2;
  }
  if (!S_ISDIR(st.st_mode)) {
    fprintf(stderr, "pm_floor: %s: not a directory\n", srcbuf);
    return 2;
  }
  if (lstat(dst, &st) == 0) {
    fprintf(stderr, "pm_floor: %s: already exists\n", dst);
    return 2;
  }
  if (errno != ENOENT) {
    int err = errno;
    fprintf(stderr, "pm_floor: lstat %s: %s (errno %d)\n", dst, strerror(err), err);
    return 2;
  }

  g_srclen = sl;
  if (nftw(srcbuf, walk_cb, 64, FTW_PHYS) != 0 || g_walk_err) {
    int err = g_walk_err ? g_walk_err : errno;
    fprintf(stderr, "pm_floor: walk %s: %s (errno %d)\n", g_walk_err ? g_walk_path : srcbuf,
            strerror(err), err);
    return 2;
  }
  g_srcfd = open(srcbuf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (g_srcfd < 0) {
    int err = errno;
    fprintf(stderr, "pm_floor: open %s: %s (errno %d)\n", srcbuf, strerror(err), err);
    return 2;
  }

  uint64_t files = 0, dirs = 0, links = 0, bytes = 0;
  for (size_t i = 0; i < g_nent; i++) {
    const floor_entry *e = &g_ent[i];
    if (e->type == E_DIR) dirs++;
    if (e->type == E_LINK) links++;
    if (e->type != E_FILE) continue;
    files++;
    bytes += e->size;
  }
  /* ---- untimed: each thread's buffer, faulted in (a copier's buffers
   * are warm after its first files) ---- */
  g_bufs = calloc((size_t)threads, sizeof *g_bufs);
  if (!g_bufs) {
    fprintf(stderr, "pm_floor: out of memory\n");
    return 2;
  }
  for (uint64_t i = 0; i < threads; i++) {
    if (!(g_bufs[i] = buffer_new())) {
      fprintf(stderr, "pm_floor: cannot allocate %" PRIu64 " bytes for thread %" PRIu64 "'s buffer\n",
              g_buffer, i);
      return 2;
    }
  }

  /* ---- timed: directories, then files on N threads, then the flush ---- */
  struct rusage ru0, ru2;
  getrusage(RUSAGE_SELF, &ru0);
  double t0 = now_s();
  if (mkdir(dst, 0755) != 0) {
    report("mkdir", dst, errno);
    return 3;
  }
  g_dstfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (g_dstfd < 0) {
    report("open", dst, errno);
    return 3;
  }
  /* nftw visits a directory before its contents: parents come first. */
  for (size_t i = 0; i < g_nent; i++) {
    const floor_entry *e = &g_ent[i];
    if (e->type == E_DIR && mkdirat(g_dstfd, e->rel, e->mode | S_IRWXU) != 0) {
      report("mkdir", e->rel, errno);
      return 3;
    }
    if (e->type == E_LINK && symlinkat(e->target, g_dstfd, e->rel) != 0) {
      report("symlink", e->rel, errno);
      return 3;
    }
  }
  pthread_t *tids = calloc((size_t)threads, sizeof *tids);
  if (!tids) {
    report("allocate", "threads", ENOMEM);
    return 3;
  }
  pthread_t ftid;
  bool flushing = g_flush_every > 0;
  if (flushing && pthread_create(&ftid, NULL, flusher, NULL) != 0) {
    report("start", "the flusher thread", EAGAIN);
    return 3;
  }
  uint64_t started = 0;
  for (; started < threads; started++) {
    int rc = pthread_create(&tids[started], NULL, worker, g_bufs[started]);
    if (rc != 0) {
      /* Fewer threads still finish the work; say so, since the figure
       * then is not the floor for the asked thread count. */
      fprintf(stderr, "pm_floor: only %" PRIu64 " threads started: %s\n", started, strerror(rc));
      break;
    }
  }
  if (started == 0) worker(g_bufs[0]);
  for (uint64_t i = 0; i < started; i++) pthread_join(tids[i], NULL);
  free(tids);
  atomic_store(&g_writers_done, true);
  if (flushing) pthread_join(ftid, NULL);
  double t1 = now_s();
  if (atomic_load(&g_failed)) return 3;
  if (syncfs(g_dstfd) != 0) {
    report("syncfs", dst, errno);
    return 3;
  }
  double t2 = now_s();
  getrusage(RUSAGE_SELF, &ru2);
  close(g_dstfd);

  printf("files %" PRIu64 "\ndirs %" PRIu64 "\nlinks %" PRIu64 "\nbytes %" PRIu64
         "\nthreads %" PRIu64 "\ndirect %" PRIu64 "\nbuffer %" PRIu64
         "\noverlap_flushes %" PRIu64 "\n",
         files, dirs, links, bytes, started ? started : 1,
         (uint64_t)atomic_load(&g_direct_files), g_buffer, g_overlap_flushes);
  printf("create_write_s %.6f\nflush_s %.6f\ntotal_s %.6f\n", t1 - t0, t2 - t1, t2 - t0);
  printf("user_s %.6f\nsys_s %.6f\n", tv_s(ru2.ru_utime) - tv_s(ru0.ru_utime),
         tv_s(ru2.ru_stime) - tv_s(ru0.ru_stime));
  for (uint64_t i = 0; i < threads; i++) free(g_bufs[i]);
  free(g_bufs);
  close(g_srcfd);
  for (size_t i = 0; i < g_nent; i++) {
    free(g_ent[i].rel);
    free(g_ent[i].target);
  }
  free(g_ent);
  return 0;
}
