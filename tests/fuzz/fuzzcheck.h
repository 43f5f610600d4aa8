/* fuzzcheck.h - the invariant check of the fuzz harnesses (tests/fuzz/
 * only). A broken invariant prints where and what, then aborts, which
 * libFuzzer reports as a crash and saves the input as crash-<sha1>.
 * An assert() would vanish under NDEBUG; this never does. */
#ifndef POMOVE_FUZZ_CHECK_H
#define POMOVE_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FZ_CHECK(cond, ...)                                              \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(fz_err(), "%s:%d: invariant broken: %s\n  ", __FILE__,     \
              __LINE__, #cond);                                          \
      fprintf(fz_err(), __VA_ARGS__);                                    \
      fprintf(fz_err(), "\n");                                           \
      fflush(fz_err());                                                  \
      abort();                                                           \
    }                                                                    \
  } while (0)

/* Where the harness's own messages go: the real standard error, even
 * after fz_quiet_reports() pointed the parsers' reports elsewhere. */
FILE *fz_err(void);
/* The copy journal reports every refused journal on stderr; thousands
 * of inputs a second would bury libFuzzer's own output. This points the
 * C `stderr` stream at /dev/null (set POMOVE_FUZZ_VERBOSE=1 to keep it).
 * Sanitizer and libFuzzer reports write to file descriptor 2 directly
 * and are not affected. */
void fz_quiet_reports(void);

#endif
