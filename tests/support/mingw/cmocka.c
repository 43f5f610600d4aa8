/* cmocka.c - pomove's stand-in for cmocka's runner and assertions; see
 * cmocka.h for what it implements and why it exists. */
#include "cmocka.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The test being run: where a failing assertion jumps to, and whether it
 * asked to be skipped. Tests run one at a time, on the main thread. */
static jmp_buf *run_jump;
static int run_skipped;

void print_message(const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  vfprintf(stdout, format, ap);
  va_end(ap);
  fflush(stdout);
}

void print_error(const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  vfprintf(stderr, format, ap);
  va_end(ap);
  fflush(stderr);
}

/* Leaves the current test; outside a test (an assertion in main) there is
 * nothing to return to, so the executable fails. */
CMOCKA_NORETURN static void leave_test(void) {
  fflush(stdout);
  fflush(stderr);
  if (run_jump) longjmp(*run_jump, 1);
  fprintf(stderr, "[  ERROR   ] --- assertion failed outside a test\n");
  exit(1);
}

void pm_cmocka_fail(const char *file, int line) {
  print_error("[   LINE   ] --- %s:%d: error: Failure!\n", file, line);
  leave_test();
}

void pm_cmocka_skip(const char *file, int line) {
  run_skipped = 1;
  (void)file;
  (void)line;
  leave_test();
}

void pm_cmocka_true(int result, const char *expr, const char *file,
                    int line) {
  if (result) return;
  print_error("[  ERROR   ] --- %s\n", expr);
  pm_cmocka_fail(file, line);
}

void pm_cmocka_false(int result, const char *expr, const char *file,
                     int line) {
  if (!result) return;
  print_error("[  ERROR   ] --- !(%s)\n", expr);
  pm_cmocka_fail(file, line);
}

void pm_cmocka_non_null(uintptr_t p, const char *expr, const char *file,
                        int line) {
  if (p) return;
  print_error("[  ERROR   ] --- %s is NULL\n", expr);
  pm_cmocka_fail(file, line);
}

void pm_cmocka_null(uintptr_t p, const char *expr, const char *file,
                    int line) {
  if (!p) return;
  print_error("[  ERROR   ] --- %s is %#" PRIxPTR ", not NULL\n", expr, p);
  pm_cmocka_fail(file, line);
}

/* Shows a value both ways: tests compare signed and unsigned quantities
 * through the same uintmax_t, as cmocka does. */
void pm_cmocka_int(uintmax_t a, uintmax_t b, int want_equal, const char *file,
                   int line) {
  if ((a == b) == (want_equal != 0)) return;
  print_error("[  ERROR   ] --- %" PRIdMAX " (%#" PRIxMAX ") %s %" PRIdMAX
              " (%#" PRIxMAX ")\n",
              (intmax_t)a, a, want_equal ? "!=" : "==", (intmax_t)b, b);
  pm_cmocka_fail(file, line);
}

void pm_cmocka_ptr(uintptr_t a, uintptr_t b, int want_equal, const char *file,
                   int line) {
  if ((a == b) == (want_equal != 0)) return;
  print_error("[  ERROR   ] --- %#" PRIxPTR " %s %#" PRIxPTR "\n", a,
              want_equal ? "!=" : "==", b);
  pm_cmocka_fail(file, line);
}

void pm_cmocka_string(const char *a, const char *b, int want_equal,
                      const char *file, int line) {
  int equal = (a && b) ? strcmp(a, b) == 0 : a == b;
  if (equal == (want_equal != 0)) return;
  print_error("[  ERROR   ] --- \"%s\" %s \"%s\"\n", a ? a : "(null)",
              want_equal ? "!=" : "==", b ? b : "(null)");
  pm_cmocka_fail(file, line);
}

void pm_cmocka_memory(const void *a, const void *b, size_t size,
                      const char *file, int line) {
  if (!a || !b) {
    print_error("[  ERROR   ] --- memory compared with NULL (%p, %p)\n", a,
                b);
    pm_cmocka_fail(file, line);
  }
  const unsigned char *x = a, *y = b;
  size_t differ = 0;
  for (size_t i = 0; i < size; i++) {
    if (x[i] == y[i]) continue;
    if (differ < 16)
      print_error("[  ERROR   ] --- difference at offset %zu 0x%02x 0x%02x\n",
                  i, x[i], y[i]);
    differ++;
  }
  if (!differ) return;
  print_error("%zu of %zu bytes of %p and %p differ\n", differ, size, a, b);
  pm_cmocka_fail(file, line);
}

enum outcome { PASSED, FAILED, SKIPPED, ERRED };

/* Runs fn (a test when test != NULL, else fixture) under a jump point.
 * Returns 0 when it returned normally (a fixture: and returned 0). */
static int run_guarded(CMUnitTestFunction test, CMFixtureFunction fixture,
                       void **state, int *skipped) {
  jmp_buf here;
  /* volatile: rc is written after setjmp and read after the longjmp. */
  volatile int rc = 1;
  run_skipped = 0;
  run_jump = &here;
  if (setjmp(here) == 0) {
    if (test) {
      test(state);
      rc = 0;
    } else {
      rc = fixture(state);
    }
  }
  run_jump = NULL;
  *skipped = run_skipped;
  run_skipped = 0;
  return rc;
}

static enum outcome run_one(const struct CMUnitTest *t, void *group_state) {
  void *state = t->initial_state ? t->initial_state : group_state;
  int skipped = 0;
  if (t->setup_func && run_guarded(NULL, t->setup_func, &state, &skipped)) {
    if (skipped) return SKIPPED;
    print_error("Could not run test: Test setup failed\n");
    return ERRED;
  }
  enum outcome out = PASSED;
  if (run_guarded(t->test_func, NULL, &state, &skipped))
    out = skipped ? SKIPPED : FAILED;
  if (t->teardown_func &&
      run_guarded(NULL, t->teardown_func, &state, &skipped)) {
    print_error("Could not run test: Test teardown failed\n");
    out = ERRED;
  }
  return out;
}

static void list(const char *tag, const struct CMUnitTest *tests,
                 const enum outcome *outs, size_t count, enum outcome a,
                 enum outcome b) {
  for (size_t i = 0; i < count; i++)
    if (outs[i] == a || outs[i] == b) printf("[%s] %s\n", tag, tests[i].name);
}

int pm_cmocka_run_group(const char *group_name, const struct CMUnitTest *tests,
                        size_t count, CMFixtureFunction group_setup,
                        CMFixtureFunction group_teardown) {
  enum outcome *outs = calloc(count ? count : 1, sizeof *outs);
  if (!outs) abort();
  size_t passed = 0, failed = 0, skipped = 0, erred = 0;
  void *group_state = NULL;
  int skip_dummy;

  printf("[==========] %s: Running %zu test(s).\n", group_name, count);
  fflush(stdout);
  int setup_ok = !group_setup ||
                 run_guarded(NULL, group_setup, &group_state, &skip_dummy) == 0;
  if (!setup_ok) {
    print_error("[  ERROR   ] --- %s: group setup failed\n", group_name);
    for (size_t i = 0; i < count; i++) outs[i] = ERRED;
    erred = count ? count : 1;
  } else {
    for (size_t i = 0; i < count; i++) {
      printf("[ RUN      ] %s\n", tests[i].name);
      fflush(stdout);
      outs[i] = run_one(&tests[i], group_state);
      static const char *const tag[] = {"       OK ", "  FAILED  ",
                                        "  SKIPPED ", "  ERROR   "};
      printf("[%s] %s\n", tag[outs[i]], tests[i].name);
      fflush(stdout);
      passed += outs[i] == PASSED;
      failed += outs[i] == FAILED;
      skipped += outs[i] == SKIPPED;
      erred += outs[i] == ERRED;
    }
    if (group_teardown &&
        run_guarded(NULL, group_teardown, &group_state, &skip_dummy)) {
      print_error("[  ERROR   ] --- %s: group teardown failed\n", group_name);
      erred++;
    }
  }

  printf("[==========] %s: %zu test(s) run.\n", group_name,
         setup_ok ? count : 0);
  printf("[  PASSED  ] %zu test(s).\n", passed);
  if (skipped) {
    printf("[  SKIPPED ] %zu test(s), listed below:\n", skipped);
    list("  SKIPPED ", tests, outs, count, SKIPPED, SKIPPED);
    printf("\n %zu SKIPPED TEST(S)\n", skipped);
  }
  if (failed + erred) {
    printf("[  FAILED  ] %zu test(s), listed below:\n", failed + erred);
    list("  FAILED  ", tests, outs, count, FAILED, ERRED);
    printf("\n %zu FAILED TEST(S)\n", failed + erred);
  }
  fflush(stdout);
  free(outs);
  size_t bad = failed + erred;
  return bad > 76 ? 76 : (int)bad;
}
