/* manifest_write.c - writes manifests in xxh128sum's GNU format. A name
 * that a line cannot carry raw is escaped the way xxhsum (0.8.2 and
 * later) does it: the line starts with a backslash and the name has "\n"
 * for a newline, "\r" for a carriage return and "\\" for a backslash.
 * Such names are those holding a newline (it would end the line) and
 * those ending in a carriage return (the reader takes a CR before the
 * newline for a CRLF line end). Every other name is written raw, even
 * with backslashes or a carriage return inside: every xxhsum version
 * reads such a line literally, while Debian 12's xxh128sum 0.8.1 rejects
 * escaped lines. xxhsum 0.8.2+ escapes a little more (any backslash or
 * CR); both forms read back the same with either tool.
 * Lines are buffered and written whole under a lock, so worker threads
 * can add entries as files complete. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "platform.h"
#include "util.h"

#define WBUF (256 * 1024)

struct pm_manifest_writer {
  const pm_fs_ops *fs;
  pm_fd fd;
  char *path;
  pthread_mutex_t mu;
  char *buf;
  size_t used;
  uint64_t off;
  int err;
  int oserr; /* the OS's code behind err, for the caller's report */
};

char *pm_manifest_format_line(const char *relpath, const pm_hash128 *h) {
  size_t n = strlen(relpath), extra = 0;
  bool esc = strchr(relpath, '\n') != NULL || (n && relpath[n - 1] == '\r');
  if (esc)
    for (const char *p = relpath; *p; p++)
      extra += (*p == '\n' || *p == '\r' || *p == '\\');
  char *line = pm_xmalloc(1 + 32 + 2 + n + extra + 2);
  char *o = line;
  if (esc) *o++ = '\\';
  pm_hash_hex(h, o);
  o += 32;
  *o++ = ' ';
  *o++ = ' ';
  for (const char *p = relpath; *p; p++) {
    if (esc && *p == '\n') {
      *o++ = '\\';
      *o++ = 'n';
    } else if (esc && *p == '\r') {
      *o++ = '\\';
      *o++ = 'r';
    } else if (esc && *p == '\\') {
      *o++ = '\\';
      *o++ = '\\';
    } else {
      *o++ = *p;
    }
  }
  *o++ = '\n';
  *o = '\0';
  return line;
}

int pm_manifest_writer_open(const char *path, pm_manifest_writer **out) {
  return pm_manifest_writer_open_fs(pm_fs_native(), path, out);
}

int pm_manifest_writer_open_fs(const pm_fs_ops *fs, const char *path,
                               pm_manifest_writer **out) {
  pm_fd fd;
  int rc = fs->open(path, PM_O_WRONLY | PM_O_CREAT | PM_O_TRUNC, 0644, &fd);
  if (rc) return rc;
  pm_manifest_writer *w = pm_xcalloc(1, sizeof *w);
  w->fs = fs;
  w->fd = fd;
  w->path = pm_xstrdup(path);
  w->buf = pm_xmalloc(WBUF);
  pthread_mutex_init(&w->mu, NULL);
  *out = w;
  return 0;
}

static int flush_locked(pm_manifest_writer *w) {
  size_t done = 0;
  while (done < w->used && !w->err) {
    int64_t n = w->fs->pwrite(w->fd, w->buf + done, w->used - done, w->off);
    if (n < 0) {
      w->err = (int)n;
      w->oserr = pm_oserr_last();
      break;
    }
    if (n == 0) {
      w->err = PM_EIO;
      w->oserr = 0;
      break;
    }
    done += (size_t)n;
    w->off += (uint64_t)n;
  }
  w->used = 0;
  return w->err;
}

int pm_manifest_writer_add(pm_manifest_writer *w, const char *relpath,
                           const pm_hash128 *h) {
  char *line = pm_manifest_format_line(relpath, h);
  size_t n = strlen(line);
  pthread_mutex_lock(&w->mu);
  int rc = w->err;
  if (!rc && w->used + n > WBUF) rc = flush_locked(w);
  if (!rc && n > WBUF) {
    /* A line longer than the buffer (a very long path) goes straight out. */
    size_t done = 0;
    while (done < n && !rc) {
      int64_t k = w->fs->pwrite(w->fd, line + done, n - done, w->off);
      if (k <= 0) {
        rc = w->err = k < 0 ? (int)k : PM_EIO;
        w->oserr = k < 0 ? pm_oserr_last() : 0;
      } else {
        done += (size_t)k;
        w->off += (uint64_t)k;
      }
    }
  } else if (!rc) {
    memcpy(w->buf + w->used, line, n);
    w->used += n;
  }
  pthread_mutex_unlock(&w->mu);
  free(line);
  return rc;
}

int pm_manifest_writer_close(pm_manifest_writer *w) {
  if (!w) return 0;
  pthread_mutex_lock(&w->mu);
  int rc = flush_locked(w);
  int oserr = w->oserr;
  pthread_mutex_unlock(&w->mu);
  if (!rc) {
    rc = w->fs->fsync(w->fd, false);
    if (rc) oserr = pm_oserr_last();
  }
  int rc2 = w->fs->close(w->fd);
  if (!rc && rc2) {
    rc = rc2;
    oserr = pm_oserr_last();
  }
  /* The caller reports rc: leave it the OS code of that failure, not of
   * whatever ran last on this thread. */
  if (rc) pm_oserr_set(oserr);
  pthread_mutex_destroy(&w->mu);
  free(w->buf);
  free(w->path);
  free(w);
  return rc;
}
