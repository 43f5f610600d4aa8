/* test_thread.c - the thread layer (platform/thread.h) under cmocka; the
 * cases live in thread_cases.h so that the Win32 backend runs the same
 * bodies under Wine. Runs under TSan (label "threaded"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "thread_cases.h"

#define CASE(fn)                                      \
  static void test_thread_##fn(void **state) {        \
    (void)state;                                      \
    const char *why = tc_##fn();                      \
    if (why) fail_msg("%s", why);                     \
  }

CASE(mutex_excludes)
CASE(cond_hands_over)
CASE(timedwait_times_out)
CASE(timedwait_wakes)
CASE(once_runs_once)

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_thread_mutex_excludes),
      cmocka_unit_test(test_thread_cond_hands_over),
      cmocka_unit_test(test_thread_timedwait_times_out),
      cmocka_unit_test(test_thread_timedwait_wakes),
      cmocka_unit_test(test_thread_once_runs_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
