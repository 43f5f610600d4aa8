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
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "manifest.h"
#include "platform.h"
#include "sidefile.h"
#include "thread.h"
#include "util.h"

#define WBUF (256 * 1024)

struct pm_manifest_writer {
  const pm_fs *fs;
  pm_fd fd;
  pm_sidefile sf;
  pm_mutex mu;
  char *buf;
  size_t used;
  uint64_t off;
  int err, err_os;
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

int pm_manifest_writer_open_fs(const pm_fs *fs, const char *path,
                               pm_manifest_writer **out) {
  /* Written under a temporary name of its own and renamed into place by
   * pm_manifest_writer_publish(): nothing planted at `path` or at a
   * temporary name is ever opened, and an incomplete manifest never
   * appears under the final name. */
  pm_sidefile sf;
  int rc = pm_side_create(fs, path, "manifest", 0644, &sf);
  if (rc) return rc;
  pm_manifest_writer *w = pm_xcalloc(1, sizeof *w);
  w->fs = fs;
  w->sf = sf;
  w->fd = sf.fd;
  w->buf = pm_xmalloc(WBUF);
  pm_mutex_init(&w->mu);
  *out = w;
  return 0;
}

const char *pm_manifest_writer_tmp_path(const pm_manifest_writer *w) {
  return w->sf.tmp;
}

/* Records a write error with its OS code, so that whichever thread
 * reports it later names the right one. */
static void set_err(pm_manifest_writer *w, int err) {
  w->err = err;
  w->err_os = pm_oserr_of(err);
}

/* Returns the stored error with its OS code recorded on this thread. */
static int get_err(const pm_manifest_writer *w) {
  if (w->err) pm_oserr_record(w->err, w->err_os);
  return w->err;
}

static int flush_locked(pm_manifest_writer *w) {
  if (!w->err && w->used) {
    int rc = pm_file_write_all(w->fs, w->fd, w->buf, w->used, w->off);
    if (rc)
      set_err(w, rc);
    else
      w->off += w->used;
  }
  w->used = 0;
  return get_err(w);
}

int pm_manifest_writer_add(pm_manifest_writer *w, const char *relpath,
                           const pm_hash128 *h) {
  char *line = pm_manifest_format_line(relpath, h);
  size_t n = strlen(line);
  pm_mutex_lock(&w->mu);
  int rc = get_err(w);
  if (!rc && w->used + n > WBUF) rc = flush_locked(w);
  if (!rc && n > WBUF) {
    /* A line longer than the buffer (a very long path) goes straight out. */
    rc = pm_file_write_all(w->fs, w->fd, line, n, w->off);
    if (rc) {
      set_err(w, rc);
      rc = get_err(w);
    } else {
      w->off += n;
    }
  } else if (!rc) {
    memcpy(w->buf + w->used, line, n);
    w->used += n;
  }
  pm_mutex_unlock(&w->mu);
  free(line);
  return rc;
}

/* Flushes and makes durable; the first error with its OS code. */
static int finish(pm_manifest_writer *w) {
  pm_mutex_lock(&w->mu);
  int rc = flush_locked(w);
  pm_mutex_unlock(&w->mu);
  if (!rc) rc = pm_fs_fsync(w->fs, w->fd, false);
  return rc;
}

static void writer_free(pm_manifest_writer *w) {
  pm_mutex_destroy(&w->mu);
  free(w->buf);
  free(w);
}

int pm_manifest_writer_publish(pm_manifest_writer *w) {
  int rc = finish(w);
  if (rc) {
    int os = pm_oserr_of(rc);
    pm_side_discard(w->fs, &w->sf);
    pm_oserr_record(rc, os);
    writer_free(w);
    return rc;
  }
  rc = pm_side_publish(w->fs, &w->sf, "manifest");
  if (rc) {
    /* Reported by pm_side_publish, which also removed the file. */
    writer_free(w);
    return rc;
  }
  rc = pm_side_close(w->fs, &w->sf);
  writer_free(w);
  return rc;
}

int pm_manifest_writer_close(pm_manifest_writer *w) {
  if (!w) return 0;
  int rc = finish(w);
  int os = pm_oserr_of(rc);
  pm_side_discard(w->fs, &w->sf);
  if (rc) pm_oserr_record(rc, os);
  writer_free(w);
  return rc;
}
