/* manifest_read.c - reads manifests written by pomove and by xxh128sum:
 * GNU style ("<hex>  <name>", also "<hex> *<name>" as md5sum's binary
 * marker), BSD style ("XXH128 (<name>) = <hex>", xxh128sum --tag), and
 * xxhsum's escaping (a line that starts with a backslash has "\n" for a
 * newline and "\\" for a backslash in its name). CRLF line ends are
 * accepted, so a manifest that went through a Windows editor still
 * reads; the price is that a name ending in a carriage return cannot be
 * listed (xxh128sum itself cannot write one either). Blank lines are
 * skipped. Only XXH128 (32 hex digits) is accepted: a manifest of another
 * algorithm is a format error, not a silent mismatch. */
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "platform.h"
#include "util.h"

#define HEXLEN 32
#define RBUF (256 * 1024)

/* Unescapes name[0..len) into a malloc'd string. Returns NULL for an
 * escape other than \n and \\ (a line we do not understand), or for a NUL
 * byte (no file name can hold one). */
static char *unescape(const char *name, size_t len, bool escaped) {
  char *out = pm_xmalloc(len + 1), *o = out;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    if (c == '\0') {
      free(out);
      return NULL;
    }
    if (escaped && c == '\\') {
      if (i + 1 >= len) {
        free(out);
        return NULL;
      }
      c = name[++i];
      if (c == 'n')
        c = '\n';
      else if (c != '\\') {
        free(out);
        return NULL;
      }
    }
    *o++ = c;
  }
  *o = '\0';
  return out;
}

static bool all_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
          (c >= 'A' && c <= 'F')))
      return false;
  }
  return true;
}

int pm_manifest_parse_line(const char *line, size_t len, char **path_out,
                           pm_hash128 *h) {
  if (len && line[len - 1] == '\r') len--;
  bool escaped = false;
  if (len && line[0] == '\\') {
    escaped = true;
    line++;
    len--;
  }
  static const char tag[] = "XXH128 (";
  const size_t taglen = sizeof tag - 1;
  const char *name;
  size_t namelen;
  const char *hex;
  if (len >= taglen && !memcmp(line, tag, taglen)) {
    /* BSD style: the hash has a fixed length, so the name is whatever lies
     * between "XXH128 (" and the final ") = <hex>", even if the name itself
     * holds ") = ". */
    if (len < taglen + 4 + HEXLEN) return PM_EFORMAT;
    hex = line + len - HEXLEN;
    if (memcmp(hex - 4, ") = ", 4)) return PM_EFORMAT;
    name = line + taglen;
    namelen = (size_t)(hex - 4 - name);
  } else {
    if (len < HEXLEN + 3) return PM_EFORMAT;
    hex = line;
    if (line[HEXLEN] != ' ' || (line[HEXLEN + 1] != ' ' && line[HEXLEN + 1] != '*'))
      return PM_EFORMAT;
    name = line + HEXLEN + 2;
    namelen = len - HEXLEN - 2;
  }
  if (namelen == 0 || !all_hex(hex, HEXLEN)) return PM_EFORMAT;
  pm_hash128 tmp;
  if (pm_hash_parse(hex, &tmp)) return PM_EFORMAT;
  char *p = unescape(name, namelen, escaped);
  if (!p) return PM_EFORMAT;
  *h = tmp;
  *path_out = p;
  return 0;
}

struct pm_manifest_reader {
  const pm_fs_ops *fs;
  pm_fd fd;
  uint64_t off;    /* file offset of the next read */
  char *buf;       /* holds the current unparsed bytes */
  size_t cap, start, end;
  bool eof;
  unsigned line;
  char *cur;       /* path of the last entry returned */
};

int pm_manifest_reader_open(const char *path, pm_manifest_reader **out) {
  const pm_fs_ops *fs = pm_fs_native();
  pm_fd fd;
  PM_TRY(fs->open(path, PM_O_RDONLY, 0, &fd));
  pm_manifest_reader *r = pm_xcalloc(1, sizeof *r);
  r->fs = fs;
  r->fd = fd;
  r->cap = RBUF;
  r->buf = pm_xmalloc(r->cap);
  *out = r;
  return 0;
}

/* Makes room and reads more. 0, or PM_E* on a read error. */
static int fill(pm_manifest_reader *r) {
  if (r->start > 0) {
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
  }
  if (r->end == r->cap) {
    /* One line longer than the buffer (deep paths): grow. */
    r->cap *= 2;
    r->buf = pm_xrealloc(r->buf, r->cap);
  }
  int64_t n = r->fs->pread(r->fd, r->buf + r->end, r->cap - r->end, r->off);
  if (n < 0) return (int)n;
  if (n == 0) r->eof = true;
  r->end += (size_t)n;
  r->off += (uint64_t)n;
  return 0;
}

int pm_manifest_reader_next(pm_manifest_reader *r, pm_manifest_entry *e) {
  free(r->cur);
  r->cur = NULL;
  for (;;) {
    char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
    if (!nl && !r->eof) {
      PM_TRY(fill(r));
      continue;
    }
    if (!nl && r->start == r->end) return 0; /* clean end */
    /* The last line may lack its newline. */
    size_t len = nl ? (size_t)(nl - (r->buf + r->start)) : r->end - r->start;
    const char *line = r->buf + r->start;
    r->start += len + (nl ? 1 : 0);
    r->line++;
    if (len == 0 || (len == 1 && line[0] == '\r')) continue;
    e->line = r->line;
    int rc = pm_manifest_parse_line(line, len, &r->cur, &e->hash);
    if (rc) {
      e->path = NULL;
      return rc;
    }
    e->path = r->cur;
    return 1;
  }
}

void pm_manifest_reader_close(pm_manifest_reader *r) {
  if (!r) return;
  r->fs->close(r->fd);
  free(r->cur);
  free(r->buf);
  free(r);
}
