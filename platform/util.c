/* util.c - helpers shared by every module: allocation, path strings, error
 * reports and their sink, human formatting, the progress tracker and JSON
 * strings. The drawing of progress is the program's (pm_progress_drawer;
 * orchestrate/cli/cli_output.c). */
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "sys.h"
#include "thread.h"

/* Serialises reports and progress between threads. Windows has no static
 * initialiser for a critical section, so the lock is made on first use. */
static pm_mutex report_lock;
static pm_once_t report_once = PM_ONCE_INIT;
static void report_lock_init(void) { pm_mutex_init(&report_lock); }
static void report_begin(void) {
  pm_once(&report_once, report_lock_init);
  pm_mutex_lock(&report_lock);
}
static bool quiet_mode;

/* The default sink: what every report did before the program could choose
 * (tests that use a library without the command line still see it). */
static void sink_stderr(void *ctx, int kind, const char *text) {
  fputs(text, stderr);
  fflush(stderr);
}
static pm_report_sink report_sink = sink_stderr;
static void *report_ctx;
static pm_progress_drawer drawer;

void pm_report_set_sink(pm_report_sink fn, void *ctx) {
  report_sink = fn ? fn : sink_stderr;
  report_ctx = fn ? ctx : NULL;
}

void pm_progress_set_drawer(const pm_progress_drawer *d) {
  if (d)
    drawer = *d;
  else
    memset(&drawer, 0, sizeof drawer);
}

/* Formats into a line buffer and hands it to the sink under the lock. */
static void report_vsend(int kind, const char *fmt, va_list ap) {
  char line[8448];
  vsnprintf(line, sizeof line, fmt, ap);
  report_begin();
  report_sink(report_ctx, kind, line);
  pm_mutex_unlock(&report_lock);
}

static void report_send(int kind, const char *fmt, ...) PM_PRINTF_FMT(2, 3);
static void report_send(int kind, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report_vsend(kind, fmt, ap);
  va_end(ap);
}

void pm_report_notef(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report_vsend(PM_REPORT_NOTE, fmt, ap);
  va_end(ap);
}

static void oom(void) {
  pm_report_notef("pomove: out of memory\n");
  abort();
}

void *pm_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) oom();
  return p;
}

void *pm_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) oom();
  return p;
}

void *pm_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) oom();
  return q;
}

void *pm_xaligned_alloc(size_t align, size_t size) {
  void *p = pm_aligned_alloc(align, size ? size : 1);
  if (!p) oom();
  return p;
}

char *pm_xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(pm_xmalloc(n), s, n);
}

char *pm_xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) oom();
  char *s = pm_xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

char *pm_path_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (lb == 0) return pm_xstrdup(a);
  bool slash = la > 0 && a[la - 1] != '/';
  char *s = pm_xmalloc(la + slash + lb + 1);
  memcpy(s, a, la);
  if (slash) s[la] = '/';
  memcpy(s + la + slash, b, lb + 1);
  return s;
}

bool pm_path_within(const char *outer, const char *inner) {
  /* Both in the form in which spellings of one path are equal (on
   * Windows: case and separators). */
  char *o = pm_path_fold(outer), *in = pm_path_fold(inner);
  bool within = false;
  if (o && in) {
    size_t root = pm_path_root_len(o);
    size_t lo = strlen(o);
    while (lo > root && o[lo - 1] == '/') lo--;
    if (strncmp(o, in, lo) == 0)
      within = (root > 0 && lo == root) || in[lo] == '\0' || in[lo] == '/';
  }
  free(o);
  free(in);
  return within;
}

void pm_path_split(const char *path, char **parent, char **name) {
  size_t root = pm_path_root_len(path);
  size_t n = strlen(path);
  while (n > root && path[n - 1] == '/') n--;
  size_t i = n;
  while (i > root && path[i - 1] != '/') i--;
  char *nm = pm_xmalloc(n - i + 1);
  memcpy(nm, path + i, n - i);
  nm[n - i] = '\0';
  *name = nm;
  if (i == 0) {
    *parent = pm_xstrdup(".");
    return;
  }
  size_t pl = i;
  while (pl > root && path[pl - 1] == '/') pl--;
  char *pa = pm_xmalloc(pl + 1);
  memcpy(pa, path, pl);
  pa[pl] = '\0';
  *parent = pa;
}

static bool utf8_seq(const unsigned char *s, size_t *len) {
  unsigned c = s[0];
  size_t n;
  unsigned min;
  if (c < 0x80) { *len = 1; return true; }
  if ((c & 0xE0) == 0xC0) { n = 2; min = 0x80; c &= 0x1F; }
  else if ((c & 0xF0) == 0xE0) { n = 3; min = 0x800; c &= 0x0F; }
  else if ((c & 0xF8) == 0xF0) { n = 4; min = 0x10000; c &= 0x07; }
  else return false;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return false;
    c = (c << 6) | (s[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
  *len = n;
  return true;
}

char *pm_display_path(const char *path) {
  size_t n = strlen(path);
  char *out = pm_xmalloc(n * 4 + 1), *o = out;
  const unsigned char *s = (const unsigned char *)path;
  while (*s) {
    size_t len;
    if (*s < 0x20 || *s == 0x7F || !utf8_seq(s, &len)) {
      o += sprintf(o, "\\x%02X", *s);
      s++;
      continue;
    }
    memcpy(o, s, len);
    o += len;
    s += len;
  }
  *o = '\0';
  return out;
}

void pm_set_quiet(bool quiet) { quiet_mode = quiet; }
bool pm_quiet(void) { return quiet_mode; }

void pm_report_error(const char *op, const char *path, int err) {
  char *shown = pm_display_path(path ? path : "");
  pm_report_errorf(err, "%s '%s'", op, shown);
  free(shown);
}

void pm_report_errorf(int err, const char *fmt, ...) {
  char head[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  /* Only the OS code recorded with this very error: a code left by an
   * earlier call, or one that came with another error, would mislead.
   * The record is spent once reported. */
  int os = pm_oserr_of(err);
  pm_oserr_record(0, 0);
  if (os)
    report_send(PM_REPORT_ERROR, "pomove: %s: %s (%s, OS error %d)\n", head,
                pm_strerror(err), pm_errname(err), os);
  else
    report_send(PM_REPORT_ERROR, "pomove: %s: %s (%s)\n", head,
                pm_strerror(err), pm_errname(err));
}

void pm_warnf(const char *fmt, ...) {
  if (quiet_mode) return;
  char msg[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  report_send(PM_REPORT_WARNING, "pomove: %s\n", msg);
}

const char *pm_fmt_bytes(uint64_t bytes, char *buf, size_t cap) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = (double)bytes;
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
  else
    snprintf(buf, cap, "%.1f %s", v, units[u]);
  return buf;
}

const char *pm_fmt_duration(double s, char *buf, size_t cap) {
  if (s < 0) s = 0;
  if (s < 60)
    snprintf(buf, cap, "%.1fs", s);
  else if (s < 3600)
    snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
  else
    snprintf(buf, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
  return buf;
}

void pm_progress_init(pm_progress *p, const char *label, int mode) {
  memset(p, 0, sizeof *p);
  p->label = label;
  if (mode == PM_PROGRESS_AUTO)
    mode = drawer.auto_mode ? drawer.auto_mode(drawer.ctx) : PM_PROGRESS_OFF;
  if (!drawer.draw) mode = PM_PROGRESS_OFF;
  p->mode = mode;
  p->interval = mode == PM_PROGRESS_TTY ? 0.1 : 10.0;
  p->start_ns = p->last_ns = pm_now_ns();
}

void pm_progress_update(pm_progress *p, uint64_t files, uint64_t bytes,
                        bool force) {
  if (p->mode == PM_PROGRESS_OFF) return;
  uint64_t now = pm_now_ns();
  if (!force && (double)(now - p->last_ns) / 1e9 < p->interval) return;
  p->last_ns = now;
  report_begin();
  drawer.draw(drawer.ctx, p, files, bytes, now);
  pm_mutex_unlock(&report_lock);
  p->drawn = true;
}

void pm_progress_finish(pm_progress *p) {
  if (p->mode == PM_PROGRESS_TTY && p->drawn && drawer.clear) {
    report_begin();
    drawer.clear(drawer.ctx, p);
    pm_mutex_unlock(&report_lock);
  }
  p->drawn = false;
}

void pm_json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    size_t len;
    if (*c == '"' || *c == '\\')
      fprintf(out, "\\%c", *c);
    else if (*c == '\n')
      fputs("\\n", out);
    else if (*c == '\t')
      fputs("\\t", out);
    else if (*c < 0x20 || *c == 0x7F)
      fprintf(out, "\\u%04x", *c);
    else if (*c < 0x80)
      fputc(*c, out);
    else if (utf8_seq(c, &len)) {
      fwrite(c, 1, len, out);
      c += len - 1;
    } else {
      /* Not UTF-8: JSON cannot carry the raw byte; show it as U+FFFD
       * preceded by its value so that the name stays recognisable. */
      fprintf(out, "\\\\x%02X", *c);
    }
  }
  fputc('"', out);
}

/* Howard Hinnant's civil_from_days: exact for the proleptic Gregorian
 * calendar, no tables, no C library. */
void pm_utc_from_seconds(int64_t t, pm_utc *out) {
  int64_t days = t / 86400, rem = t % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  out->hour = (int)(rem / 3600);
  out->min = (int)(rem % 3600 / 60);
  out->sec = (int)(rem % 60);
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  out->year = (int)(yoe + era * 400 + (m <= 2));
  out->month = (int)m;
  out->day = (int)d;
}

char *pm_strsep(char **s, const char *delim) {
  char *tok = *s;
  if (!tok) return NULL;
  char *end = tok + strcspn(tok, delim);
  if (*end) {
    *end = '\0';
    *s = end + 1;
  } else {
    *s = NULL;
  }
  return tok;
}

/* ---- command-line numbers ---- */

int pm_size_parse(const char *s, uint64_t *out) {
  const char *p = s;
  uint64_t v = 0;
  bool overflow = false;
  if (*p < '0' || *p > '9') return PM_EINVAL;
  for (; *p >= '0' && *p <= '9'; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) overflow = true;
    else v = v * 10 + d;
  }
  unsigned shift = 0;
  switch (*p) {
  case 'k': case 'K': shift = 10; break;
  case 'm': case 'M': shift = 20; break;
  case 'g': case 'G': shift = 30; break;
  case 't': case 'T': shift = 40; break;
  case 'b': case 'B':
    if (p[1]) return PM_EINVAL;
    break;
  case '\0': break;
  default: return PM_EINVAL;
  }
  if (shift) {
    p++;
    /* "K", "KB" or "KiB", in any case. */
    if ((*p == 'i' || *p == 'I') && (p[1] == 'b' || p[1] == 'B')) p += 2;
    else if (*p == 'b' || *p == 'B') p++;
    if (*p) return PM_EINVAL;
  }
  /* The syntax is checked first, so that "99999999999999999999Q" is
   * reported as not a size rather than as too large. */
  if (overflow || (shift && v > (UINT64_MAX >> shift))) return PM_ERANGE;
  *out = v << shift;
  return 0;
}
