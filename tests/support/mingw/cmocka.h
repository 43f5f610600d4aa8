/* cmocka.h - pomove's own stand-in for the cmocka unit-test library, for
 * the Windows (mingw-w64) test builds: Debian ships no mingw cmocka and no
 * third-party code is copied into the tree. It implements exactly the
 * part of cmocka's API that tests/ uses, with cmocka's semantics:
 *
 *  - every test of a group runs; a failed assertion, fail() or skip()
 *    leaves only the current test (setjmp/longjmp back to the runner);
 *  - per-test setup and teardown (int fn(void **state)); teardown runs
 *    after the test whether it passed or not; a non-zero setup or
 *    teardown is an error of that test; setup skipping skips the test;
 *  - group setup/teardown; a test without an initial state gets the
 *    group state; a group setup that fails errs every test of the group;
 *  - cmocka_run_group_tests() returns the number of failed and erred
 *    tests (skipped ones do not count), capped at 76 so that main's
 *    return value never reads as CTest's skip code (77) nor wraps to 0;
 *  - output in cmocka's "standard" form: [ RUN ]/[ OK ]/[ FAILED ]/
 *    [ SKIPPED ] lines on stdout, the failing file:line and the compared
 *    values on stderr.
 *
 * Not implemented (tests/ does not use them): mocks (will_return, mock,
 * expect_*), the test allocator, signal/exception catching (a crash ends
 * the executable, which CTest reports as failed), test filters, XML/TAP
 * output. An assertion must fail on the thread that runs the test (as
 * with cmocka, the longjmp cannot cross threads).
 *
 * The same files build on Linux with -DPOMOVE_OWN_CMOCKA=ON, so the
 * Linux suites can check the stand-in against the real cmocka. */
#ifndef POMOVE_OWN_CMOCKA_H
#define POMOVE_OWN_CMOCKA_H

#include <stddef.h>
#include <stdint.h>

#if defined(__MINGW32__)
#define CMOCKA_PRINTF_FMT(a, b) __attribute__((format(gnu_printf, a, b)))
#else
#define CMOCKA_PRINTF_FMT(a, b) __attribute__((format(printf, a, b)))
#endif
#define CMOCKA_NORETURN __attribute__((noreturn))

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
  const char *name;
  CMUnitTestFunction test_func;
  CMFixtureFunction setup_func;
  CMFixtureFunction teardown_func;
  void *initial_state;
};

#define cmocka_unit_test(f) {#f, f, NULL, NULL, NULL}
#define cmocka_unit_test_setup(f, setup) {#f, f, setup, NULL, NULL}
#define cmocka_unit_test_teardown(f, teardown) {#f, f, NULL, teardown, NULL}
#define cmocka_unit_test_setup_teardown(f, setup, teardown) \
  {#f, f, setup, teardown, NULL}
#define cmocka_unit_test_prestate(f, state) {#f, f, NULL, NULL, state}
#define cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, state) \
  {#f, f, setup, teardown, state}

int pm_cmocka_run_group(const char *group_name, const struct CMUnitTest *tests,
                        size_t count, CMFixtureFunction group_setup,
                        CMFixtureFunction group_teardown);

#define cmocka_run_group_tests(tests, group_setup, group_teardown)          \
  pm_cmocka_run_group(#tests, tests, sizeof(tests) / sizeof((tests)[0]), \
                      group_setup, group_teardown)
#define cmocka_run_group_tests_name(name, tests, group_setup, group_teardown) \
  pm_cmocka_run_group(name, tests, sizeof(tests) / sizeof((tests)[0]),    \
                      group_setup, group_teardown)

/* Assertions. Values are compared as cmocka does: integers and pointers
 * widened to uintmax_t. */
void pm_cmocka_true(int result, const char *expr, const char *file, int line);
void pm_cmocka_false(int result, const char *expr, const char *file, int line);
void pm_cmocka_non_null(uintptr_t p, const char *expr, const char *file,
                        int line);
void pm_cmocka_null(uintptr_t p, const char *expr, const char *file, int line);
void pm_cmocka_int(uintmax_t a, uintmax_t b, int want_equal, const char *file,
                   int line);
void pm_cmocka_ptr(uintptr_t a, uintptr_t b, int want_equal, const char *file,
                   int line);
void pm_cmocka_string(const char *a, const char *b, int want_equal,
                      const char *file, int line);
void pm_cmocka_memory(const void *a, const void *b, size_t size,
                      const char *file, int line);
CMOCKA_NORETURN void pm_cmocka_fail(const char *file, int line);
CMOCKA_NORETURN void pm_cmocka_skip(const char *file, int line);

/* !! rather than a cast: c may be a pointer, narrower than uintmax_t. */
#define assert_true(c) pm_cmocka_true(!!(c), #c, __FILE__, __LINE__)
#define assert_false(c) pm_cmocka_false(!!(c), #c, __FILE__, __LINE__)
/* Pointers travel as uintptr_t, as in cmocka: passed as pointers, gcc's
 * -Wdangling-pointer misreads some callers (a pointer into a buffer that
 * a later realloc may move is still a fine thing to test for NULL). */
#define assert_non_null(p) \
  pm_cmocka_non_null((uintptr_t)(p), #p, __FILE__, __LINE__)
#define assert_null(p) pm_cmocka_null((uintptr_t)(p), #p, __FILE__, __LINE__)
#define assert_int_equal(a, b) \
  pm_cmocka_int((uintmax_t)(a), (uintmax_t)(b), 1, __FILE__, __LINE__)
#define assert_int_not_equal(a, b) \
  pm_cmocka_int((uintmax_t)(a), (uintmax_t)(b), 0, __FILE__, __LINE__)
#define assert_ptr_equal(a, b) \
  pm_cmocka_ptr((uintptr_t)(a), (uintptr_t)(b), 1, __FILE__, __LINE__)
#define assert_ptr_not_equal(a, b) \
  pm_cmocka_ptr((uintptr_t)(a), (uintptr_t)(b), 0, __FILE__, __LINE__)
#define assert_string_equal(a, b) \
  pm_cmocka_string((a), (b), 1, __FILE__, __LINE__)
#define assert_string_not_equal(a, b) \
  pm_cmocka_string((a), (b), 0, __FILE__, __LINE__)
#define assert_memory_equal(a, b, size) \
  pm_cmocka_memory((a), (b), (size), __FILE__, __LINE__)

#define fail() pm_cmocka_fail(__FILE__, __LINE__)
#define skip() pm_cmocka_skip(__FILE__, __LINE__)
/* As cmocka: msg is a string literal. */
#define fail_msg(msg, ...)                           \
  do {                                               \
    print_error("ERROR: " msg "\n", ##__VA_ARGS__); \
    fail();                                          \
  } while (0)

void print_message(const char *format, ...) CMOCKA_PRINTF_FMT(1, 2);
void print_error(const char *format, ...) CMOCKA_PRINTF_FMT(1, 2);

#endif
