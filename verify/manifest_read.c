/* manifest_read.c - reads manifests written by pomove and by xxh128sum:
 * GNU style ("<hex>  <name>", also "<hex> *<name>" as md5sum's binary
 * marker), BSD style ("XXH128 (<name>) = <hex>", xxh128sum --tag), and
 * xxhsum's escaping (a line that starts with a backslash has "\n" for a
 * newline, "\r" for a carriage return and "\\" for a backslash in its
 * name). CRLF line ends are accepted, so a manifest that went through a
 * Windows editor still reads; a name that ends in a carriage return is
 * therefore only read from an escaped line, and the writer escapes such
 * names (manifest_write.c). Blank lines are skipped. Only XXH128 (32 hex
 * digits) is accepted: a line of another algorithm is a format error that
 * names the algorithm, not a silent mismatch. Every byte is accounted
 * for: a NUL byte, a last line without its newline and an over-long line
 * are format errors of their line, never a silent stop. */
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "platform.h"
#include "util.h"

#define HEXLEN 32
#define RBUF (256 * 1024)

/* Unescapes name[0..len) into a malloc'd string. Returns NULL for an
 * escape other than \n, \r and \\ (a line we do not understand). The
 * caller has refused NUL bytes already. */
static char *unescape(const char *name, size_t len, bool escaped) {
  char *out = pm_xmalloc(len + 1), *o = out;
  if (!escaped) {
    memcpy(out, name, len);
    out[len] = '\0';
    return out;
  }
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    if (escaped && c == '\\') {
      if (i + 1 >= len) {
        free(out);
        return NULL;
      }
      c = name[++i];
      if (c == 'n')
        c = '\n';
      else if (c == 'r')
        c = '\r';
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

/* By table: every line's 32 digits pass here. */
static const bool hexdigit[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1,
    ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['A'] = 1, ['B'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1};

static bool is_hex(char c) { return hexdigit[(unsigned char)c]; }

static size_t hex_run(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && is_hex(s[i])) i++;
  return i;
}

/* What a GNU-style line with `n` hex digits was written by, when it is
 * not XXH128 (sha*sum, b2sum, xxhsum -H0/-H1). NULL when unknown. */
static const char *gnu_algorithm(size_t n) {
  switch (n) {
  case 8: return "an XXH32 checksum (xxhsum -H0), not XXH128";
  case 16: return "an XXH64 checksum (xxhsum -H1), not XXH128";
  case 40: return "a SHA-1 checksum (sha1sum), not XXH128";
  case 56: return "a SHA-224 checksum (sha224sum), not XXH128";
  case 64: return "a SHA-256 checksum (sha256sum), not XXH128";
  case 96: return "a SHA-384 checksum (sha384sum), not XXH128";
  case 128: return "a SHA-512 or BLAKE2b checksum (sha512sum, b2sum), not XXH128";
  default: return NULL;
  }
}

/* BSD-style tags of other tools ("MD5 (name) = hex"). */
static const char *bsd_algorithm(const char *line, size_t len) {
  static const struct {
    const char *tag, *why;
  } tags[] = {
      {"MD5 (", "a BSD-style MD5 line (md5sum --tag), not XXH128"},
      {"SHA1 (", "a BSD-style SHA-1 line (sha1sum --tag), not XXH128"},
      {"SHA224 (", "a BSD-style SHA-224 line (sha224sum --tag), not XXH128"},
      {"SHA256 (", "a BSD-style SHA-256 line (sha256sum --tag), not XXH128"},
      {"SHA384 (", "a BSD-style SHA-384 line (sha384sum --tag), not XXH128"},
      {"SHA512 (", "a BSD-style SHA-512 line (sha512sum --tag), not XXH128"},
      {"BLAKE2b (", "a BSD-style BLAKE2b line (b2sum --tag), not XXH128"},
      {"XXH32 (", "a BSD-style XXH32 line (xxhsum -H0 --tag), not XXH128"},
      {"XXH64 (", "a BSD-style XXH64 line (xxhsum -H1 --tag), not XXH128"},
      {"XXH3 (", "a BSD-style XXH3 line (xxhsum -H3 --tag), not XXH128"},
      {"XXH128_LE (", "a little-endian XXH128 line (xxhsum --little-endian), "
                      "which pomove does not read"},
  };
  for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
    size_t t = strlen(tags[i].tag);
    if (len <= t || memcmp(line, tags[i].tag, t)) continue;
    /* memmem is not in every C library this builds with. */
    for (size_t k = t; k + 4 <= len; k++)
      if (!memcmp(line + k, ") = ", 4)) return tags[i].why;
  }
  return NULL;
}

int pm_manifest_parse_line_why(const char *line, size_t len, char **path_out,
                               pm_hash128 *h, const char **why_out,
                               bool *other_out) {
  const char *why_dummy;
  bool other_dummy;
  const char **why = why_out ? why_out : &why_dummy;
  bool *other = other_out ? other_out : &other_dummy;
  *why = "not an XXH128 checksum line";
  *other = false;
  /* No name can hold a NUL, and a hash never does: a NUL byte is damage
   * (or a binary file), and the line is refused whole. */
  if (memchr(line, '\0', len)) {
    *why = "holds a NUL byte";
    return PM_EFORMAT;
  }
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
    if (memcmp(hex - 4, ") = ", 4) || hex_run(hex, HEXLEN) != HEXLEN) {
      *why = "a BSD-style XXH128 line without \") = <32 hex digits>\" at its end";
      return PM_EFORMAT;
    }
    name = line + taglen;
    namelen = (size_t)(hex - 4 - name);
  } else {
    size_t n = hex_run(line, len);
    bool sep = len >= n + 2 && line[n] == ' ' &&
               (line[n + 1] == ' ' || line[n + 1] == '*');
    /* The usual line, 32 hex digits and a separator, cannot start with
     * another tool's tag (each has a non-hex letter or a blank in its
     * first 9 bytes): no need to look for one. */
    const char *bsd = n == HEXLEN && sep ? NULL : bsd_algorithm(line, len);
    if (bsd) {
      *why = bsd;
      *other = true;
      return PM_EFORMAT;
    }
    if (n == 0 && len > 21 && !memcmp(line, "XXH3_", 5) &&
        hex_run(line + 5, len - 5) == 16 && line[21] == ' ') {
      *why = "an XXH3 64-bit checksum (xxhsum -H3), not XXH128";
      *other = true;
      return PM_EFORMAT;
    }
    if (n != HEXLEN) {
      const char *g = sep ? gnu_algorithm(n) : NULL;
      if (g) {
        *why = g;
        *other = true;
      }
      return PM_EFORMAT;
    }
    if (!sep) {
      *why = "32 hex digits not followed by two spaces (or \" *\") and a name";
      return PM_EFORMAT;
    }
    hex = line;
    name = line + HEXLEN + 2;
    namelen = len - HEXLEN - 2;
  }
  if (namelen == 0) {
    *why = "has no file name";
    return PM_EFORMAT;
  }
  pm_hash128 tmp;
  if (pm_hash_parse(hex, &tmp)) return PM_EFORMAT;
  char *p = unescape(name, namelen, escaped);
  if (!p) {
    *why = "an escaped name with a backslash sequence other than \\n, \\r "
           "or \\\\";
    return PM_EFORMAT;
  }
  *h = tmp;
  *path_out = p;
  return 0;
}

int pm_manifest_parse_line(const char *line, size_t len, char **path_out,
                           pm_hash128 *h) {
  return pm_manifest_parse_line_why(line, len, path_out, h, NULL, NULL);
}

struct pm_manifest_reader {
  const pm_fs *fs;
  pm_fd fd;
  uint64_t off;    /* file offset of the next read */
  char *buf;       /* holds the current unparsed bytes */
  size_t cap, start, end;
  bool eof;
  bool discard;    /* skipping the rest of an over-long line */
  unsigned line;
  char *cur;       /* path of the last entry returned */
};

int pm_manifest_reader_open(const pm_fs *fs, const char *path,
                            pm_manifest_reader **out) {
  pm_fd fd;
  /* PM_O_REGULAR: a FIFO given as the manifest must not hang the audit. */
  PM_TRY(pm_fs_open(fs, path, PM_O_RDONLY | PM_O_REGULAR, 0, &fd));
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
    /* One line longer than the buffer (deep paths): grow, up to the
     * line limit (next() never lets a line grow past it). */
    r->cap *= 2;
    r->buf = pm_xrealloc(r->buf, r->cap);
  }
  int64_t n = pm_fs_pread(r->fs, r->fd, r->buf + r->end, r->cap - r->end, r->off);
  if (n < 0) return (int)n;
  if (n == 0) r->eof = true;
  r->end += (size_t)n;
  r->off += (uint64_t)n;
  return 0;
}

int pm_manifest_reader_next(pm_manifest_reader *r, pm_manifest_entry *e) {
  free(r->cur);
  r->cur = NULL;
  e->path = NULL;
  e->why = NULL;
  e->other_algorithm = false;
  for (;;) {
    char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
    if (r->discard) {
      /* The rest of a line that was too long: drop it up to its end, then
       * report the line once. */
      if (!nl && !r->eof) {
        r->start = r->end;
        PM_TRY(fill(r));
        continue;
      }
      r->start = nl ? (size_t)(nl - r->buf) + 1 : r->end;
      r->discard = false;
      e->line = r->line;
      e->why = "is longer than 1 MiB";
      return PM_EFORMAT;
    }
    if (!nl && !r->eof) {
      if (r->end - r->start > PM_MANIFEST_MAX_LINE) {
        r->line++;
        r->discard = true;
        continue;
      }
      PM_TRY(fill(r));
      continue;
    }
    if (!nl && r->start == r->end) return 0; /* clean end */
    size_t len = nl ? (size_t)(nl - (r->buf + r->start)) : r->end - r->start;
    const char *line = r->buf + r->start;
    r->start += len + (nl ? 1 : 0);
    r->line++;
    e->line = r->line;
    if (!nl) {
      /* pomove and xxh128sum end every line with a newline: a last line
       * without one may be cut short (a name cut in two names another
       * file), so it is not checked. */
      e->why = "is the last line and has no newline: the manifest may be "
               "cut short";
      return PM_EFORMAT;
    }
    if (len > PM_MANIFEST_MAX_LINE) {
      e->why = "is longer than 1 MiB";
      return PM_EFORMAT;
    }
    if (len == 0 || (len == 1 && line[0] == '\r')) continue;
    int rc = pm_manifest_parse_line_why(line, len, &r->cur, &e->hash, &e->why,
                                        &e->other_algorithm);
    if (rc) return rc;
    e->path = r->cur;
    return 1;
  }
}

void pm_manifest_reader_close(pm_manifest_reader *r) {
  if (!r) return;
  pm_fs_close(r->fs, r->fd);
  free(r->cur);
  free(r->buf);
  free(r);
}
