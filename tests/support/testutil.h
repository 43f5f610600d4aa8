/* testutil.h - support for pomove's cmocka tests: scratch directories,
 * running the pomove binary and other tools, writing files, skipping. */
#ifndef POMOVE_TESTUTIL_H
#define POMOVE_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include "platform.h"

#define TU_SKIP_CODE 77

/* Creates a fresh scratch directory under $TMPDIR (default /tmp) and
 * returns its path; removed by tu_cleanup() unless POMOVE_KEEP_TMP is set. */
const char *tu_scratch(void);
void tu_cleanup(void);

/* Runs a shell command built from fmt; returns its exit status (or -1).
 * Output goes to the test's output unless redirected in the command. */
int tu_sh(const char *fmt, ...) PM_PRINTF_FMT(1, 2);
/* Like tu_sh but captures stdout into a malloc'd string (*out). */
int tu_sh_out(char **out, const char *fmt, ...)
    PM_PRINTF_FMT(2, 3);

/* An anonymous temporary file, open for reading and writing, removed
 * when closed (the OS's temporary folder). */
FILE *tu_tmpfile(void);
/* The null device, for silencing a stream. */
#ifdef _WIN32
#define TU_NULL_DEVICE "NUL"
#else
#define TU_NULL_DEVICE "/dev/null"
#endif

#ifndef _WIN32
/* The pid of a process that has ended (forked, exited and reaped): for
 * tests of what is left behind by a process that is gone. */
unsigned tu_dead_pid(void);
#endif

/* Sets the environment variable name to value, or removes it (NULL). */
void tu_setenv(const char *name, const char *value);

/* The pomove binary under test. */
const char *tu_pomove(void);

/* Writes `len` bytes of a deterministic pattern seeded by `seed`. */
void tu_write_pattern(const char *path, uint64_t len, uint32_t seed);
void tu_write_text(const char *path, const char *text);
char *tu_read_all(const char *path, size_t *len);

/* Exits 77 (skipped) with a reason when cond is false. */
void tu_require(int cond, const char *why);
int tu_is_root(void);
/* Whether this Windows program runs under Wine (ntdll exports
 * wine_get_version), whose limits a test may have to allow for: Unix
 * paths under PATH_MAX, UTF-8 Unix names. 0 on other OSes. */
int tu_under_wine(void);

#endif
