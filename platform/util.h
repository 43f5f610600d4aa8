/* util.h - small helpers shared by every module: path strings, error
 * reports that name the operation, the path and the OS error, the
 * progress tracker, and the one propagation macro. No OS calls with side
 * effects live here. Reports go to the one sink the program installs and
 * progress to its drawer (the command line, orchestrate/cli/); only the
 * default sink writes to stderr, so that a library never decides by
 * itself to write to the process's streams. */
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

/* Allocation that aborts on failure: out of memory in a copier with
 * bounded memory is a programmer error, not an I/O error. */
void *pm_xmalloc(size_t n);
void *pm_xcalloc(size_t n, size_t size);
void *pm_xrealloc(void *p, size_t n);
char *pm_xstrdup(const char *s);
/* pm_aligned_alloc (sys.h) that aborts on failure; free with
 * pm_aligned_free. */
void *pm_xaligned_alloc(size_t align, size_t size);
char *pm_xasprintf(const char *fmt, ...)
    PM_PRINTF_FMT(1, 2);

/* "a" + "/" + "b"; b may be empty (returns a copy of a). Caller frees. */
char *pm_path_join(const char *a, const char *b);
/* True when `inner` equals `outer` or lies below it (both canonical). */
bool pm_path_within(const char *outer, const char *inner);
/* Splits a path into its parent and its last name, as dirname and
 * basename do, keeping a root whole (pm_path_root_len): "a/b/" -> "a" and
 * "b"; "/x" -> "/" and "x"; "x" -> "." and "x"; on Windows "C:/x" ->
 * "C:/" and "x", "C:x" -> "C:" and "x". A path that is only a root has
 * the root as parent and the name "". Both malloc'd. */
void pm_path_split(const char *path, char **parent, char **name);

/* Error reporting: "pomove: <op> '<path>': <message> (<ERRNAME>, OS error
 * N)", where N is the OS code recorded with `err` on this thread
 * (pm_oserr_of), and nothing when none was. Thread-safe; lines are written
 * whole. */
void pm_report_error(const char *op, const char *path, int err);
void pm_report_errorf(int err, const char *fmt, ...)
    PM_PRINTF_FMT(2, 3);
void pm_warnf(const char *fmt, ...) PM_PRINTF_FMT(1, 2);
/* A message in the library's own words, written exactly as formatted
 * (fmt carries its "pomove: " and its final newline), shown even in quiet
 * mode: what to do after an interrupted or failed step, out of memory. */
void pm_report_notef(const char *fmt, ...) PM_PRINTF_FMT(1, 2);

/* The sink of every report above. `text` is one or more whole lines, each
 * ending in '\n'; `kind` is PM_REPORT_*. The sink is called with the
 * report lock held, so lines of different threads never mix (and the
 * sink must not report itself). The default, until a program installs
 * its own, writes text to stderr and flushes it. NULL restores it. Set
 * it before any thread starts. */
enum { PM_REPORT_ERROR, PM_REPORT_WARNING, PM_REPORT_NOTE };
typedef void (*pm_report_sink)(void *ctx, int kind, const char *text);
void pm_report_set_sink(pm_report_sink fn, void *ctx);
/* Quiet mode silences warnings, never errors. */
void pm_set_quiet(bool quiet);
bool pm_quiet(void);

/* Escapes a path for display (control bytes and invalid UTF-8 as \xNN). */
char *pm_display_path(const char *path);

/* Human formatting into caller buffers. */
const char *pm_fmt_bytes(uint64_t bytes, char *buf, size_t cap);
const char *pm_fmt_duration(double seconds, char *buf, size_t cap);

/* Progress of a long operation, kept by the library that does it and
 * drawn by the program's drawer (pm_progress_set_drawer; the command line
 * draws a line redrawn in place at most ~10 times a second on a
 * terminal, otherwise a plain line every `interval` seconds). Without a
 * drawer, or in mode PM_PROGRESS_OFF, nothing is drawn. */
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

/* The program's drawer. auto_mode says what PM_PROGRESS_AUTO means
 * (PM_PROGRESS_TTY, _PLAIN or _OFF); draw shows the state of `p` (files
 * and bytes done at now_ns); clear removes an in-place line. Called with
 * the report lock held (pm_report_set_sink). NULL: no drawer. Set it
 * before any thread starts. */
typedef struct pm_progress_drawer {
  int (*auto_mode)(void *ctx);
  void (*draw)(void *ctx, const pm_progress *p, uint64_t files,
               uint64_t bytes, uint64_t now_ns);
  void (*clear)(void *ctx, const pm_progress *p);
  void *ctx;
} pm_progress_drawer;
void pm_progress_set_drawer(const pm_progress_drawer *d);

/* A moment broken down in UTC, computed without the C library (gmtime_r
 * is POSIX; Windows has none), valid for every 64-bit second count whose
 * year fits in an int. */
typedef struct pm_utc {
  int year, month, day; /* month 1..12, day 1..31 */
  int hour, min, sec;
} pm_utc;
void pm_utc_from_seconds(int64_t unix_sec, pm_utc *out);

/* strsep() for every platform: the next token of *s up to any byte of
 * delim, which is overwritten by NUL; *s moves past it, or becomes NULL
 * after the last token. NULL when *s is NULL. */
char *pm_strsep(char **s, const char *delim);
/* Command-line numbers: the one parser of every size and count option.
 *
 * A size is a decimal number of bytes, optionally followed by a unit:
 * K, M, G, T, written alone, with "B" (KB, MB ...) or with "iB" (KiB,
 * MiB ...), in any case ("k", "kib", "KIB"). Every unit is a power of
 * 1024, KB included: Windows, where the product runs, writes KB for 1024
 * bytes, and a size option that meant 1000 for one spelling and 1024 for
 * another would be a trap. A lone "B" means bytes. No sign, no blanks, no
 * fraction. pm_size_parse returns 0, PM_EINVAL (not a size) or PM_ERANGE
 * (more than 2^64 - 1 bytes). */
int pm_size_parse(const char *s, uint64_t *out);

/* JSON string output with escaping (paths may hold any byte). */
void pm_json_string(FILE *out, const char *s);

#endif
