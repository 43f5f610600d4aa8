/* util.h - small helpers shared by every module: path strings, error
 * reports that name the operation, the path and the OS error, the
 * progress line, and the one propagation macro. No OS calls with side
 * effects live here except writing to stderr. */
#ifndef POMOVE_UTIL_H
#define POMOVE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "platform.h"

#define PM_TRY(expr)                                                     \
  do {                                                                   \
    int pm_try_rc_ = (expr);                                             \
    if (pm_try_rc_ < 0) return pm_try_rc_;                               \
  } while (0)

/* Exit codes of the pomove command (README and --help list them). */
enum {
  PM_EXIT_OK = 0,         /* everything done / identical */
  PM_EXIT_PARTIAL = 1,    /* done, but some entries failed or differ */
  PM_EXIT_USAGE = 2,      /* bad command line or unusable arguments */
  PM_EXIT_FAILED = 3,     /* could not complete */
  PM_EXIT_INTERRUPTED = 130
};

/* Allocation that aborts on failure: out of memory in a copier with
 * bounded memory is a programmer error, not an I/O error. */
void *pm_xmalloc(size_t n);
void *pm_xcalloc(size_t n, size_t size);
void *pm_xrealloc(void *p, size_t n);
char *pm_xstrdup(const char *s);
char *pm_xasprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* "a" + "/" + "b"; b may be empty (returns a copy of a). Caller frees. */
char *pm_path_join(const char *a, const char *b);
/* True when `inner` equals `outer` or lies below it (both canonical). */
bool pm_path_within(const char *outer, const char *inner);

/* Error reporting: "pomove: <op> '<path>': <message> (<ERRNAME>, OS error
 * N)", where N is the OS code recorded with `err` on this thread
 * (pm_oserr_of), and nothing when none was. Thread-safe; lines are written
 * whole. */
void pm_report_error(const char *op, const char *path, int err);
void pm_report_errorf(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pm_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Quiet mode silences warnings, never errors. */
void pm_set_quiet(bool quiet);

/* Escapes a path for display (control bytes and invalid UTF-8 as \xNN). */
char *pm_display_path(const char *path);

/* Human formatting into caller buffers. */
const char *pm_fmt_bytes(uint64_t bytes, char *buf, size_t cap);
const char *pm_fmt_duration(double seconds, char *buf, size_t cap);

/* Progress reporter: on a terminal a line redrawn in place at most ~10
 * times a second; otherwise a plain line every `interval` seconds; nothing
 * in quiet mode. */
typedef struct pm_progress {
  const char *label;
  int mode; /* PM_PROGRESS_* */
  double interval;
  uint64_t start_ns, last_ns;
  uint64_t files_total, bytes_total; /* 0 when not known yet */
  bool drawn;
} pm_progress;

enum { PM_PROGRESS_AUTO, PM_PROGRESS_TTY, PM_PROGRESS_PLAIN, PM_PROGRESS_OFF };

void pm_progress_init(pm_progress *p, const char *label, int mode);
/* Call often; it rate-limits itself. */
void pm_progress_update(pm_progress *p, uint64_t files, uint64_t bytes,
                        bool force);
/* Clears the in-place line. */
void pm_progress_finish(pm_progress *p);

/* JSON string output with escaping (paths may hold any byte). */
void pm_json_string(FILE *out, const char *s);

#endif
