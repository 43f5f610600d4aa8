/* test_sys.c - sys.h (aligned buffers, identity, wall clock) and the
 * portable replacements in util.c for gmtime_r and strsep, each checked
 * against the operating system's own answer (sys_oracle.h: the C library
 * they replace on Linux, other Win32 calls on Windows). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sys_oracle.h"

static void test_sys_aligned_alloc(void **state) {
  (void)state;
  size_t aligns[] = {sizeof(void *), 16, 512, 4096, 65536};
  size_t sizes[] = {0, 1, 511, 4096, 1u << 20};
  for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      unsigned char *p = pm_aligned_alloc(aligns[a], sizes[s]);
      assert_non_null(p);
      assert_int_equal((uintptr_t)p % aligns[a], 0);
      /* The whole block is usable (ASan would catch an overrun). */
      memset(p, 0xA5, sizes[s]);
      pm_aligned_free(p);
    }
  }
  pm_aligned_free(NULL);
#ifdef __linux__
  /* A multiple of 2 MiB is 2 MiB aligned (a huge page can back it). */
  for (size_t n = 1; n <= 3; n++) {
    unsigned char *p = pm_aligned_alloc(4096, n << 21);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % ((size_t)2 << 20), 0);
    memset(p, 0x5A, n << 21);
    pm_aligned_free(p);
  }
#endif
}

static void test_sys_identity(void **state) {
  (void)state;
  pm_identity id, want;
  pm_identity_get(&id);
  oracle_identity(&want);
  assert_int_equal(id.uid, want.uid);
  assert_int_equal(id.gid, want.gid);
  assert_int_equal(id.privileged, want.privileged);
  assert_int_equal(id.can_set_owner, want.can_set_owner);
}

static void test_sys_wall_seconds(void **state) {
  (void)state;
  int64_t a = (int64_t)time(NULL);
  int64_t b = pm_wall_seconds();
  assert_true(b >= a && b - a <= 2);
}

/* Returns whether t was checked (it is within the oracle's range). */
static int check_utc(int64_t t) {
  pm_utc want;
  if (!oracle_utc(t, &want)) return 0;
  pm_utc u;
  pm_utc_from_seconds(t, &u);
  if (u.year != want.year || u.month != want.month || u.day != want.day ||
      u.hour != want.hour || u.min != want.min || u.sec != want.sec)
    fail_msg("%lld: got %04d-%02d-%02d %02d:%02d:%02d", (long long)t, u.year,
             u.month, u.day, u.hour, u.min, u.sec);
  return 1;
}

static void test_sys_utc_matches_gmtime(void **state) {
  (void)state;
  int64_t fixed[] = {0, -1, 86399, 86400, 951782400 /* 2000-02-29 */,
                     4107542400 /* 2100-03-01 */, -2208988800 /* 1900 */,
                     2147483647, 253402300799 /* 9999-12-31 */};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    assert_true(check_utc(fixed[i]));
  /* Seconds from 1336 to 2603, from a generator of our own: rand()'s
   * range is 15 bits on Windows. Windows' oracle starts in 1601, so
   * about 79% of these are checked there, all of them on Linux. */
  uint64_t x = 12345;
  int checked = 0;
  for (int i = 0; i < 200000; i++) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    int64_t t = (int64_t)((x >> 16) % 40000000000u) - 20000000000LL;
    checked += check_utc(t);
  }
  assert_true(checked >= 150000);
}

static void test_sys_strsep_matches_libc(void **state) {
  (void)state;
  const char alphabet[] = "ab;\t\n";
  srand(777);
  for (int i = 0; i < 20000; i++) {
    char a[24], b[24];
    int n = rand() % 20;
    for (int k = 0; k < n; k++) a[k] = alphabet[rand() % 5];
    a[n] = '\0';
    memcpy(b, a, sizeof a);
    char *sa = a, *sb = b, *ta, *tb;
    do {
      ta = pm_strsep(&sa, ";\t");
      tb = oracle_strsep(&sb, ";\t");
      assert_int_equal(ta == NULL, tb == NULL);
      if (ta) assert_string_equal(ta, tb);
      assert_int_equal(sa == NULL, sb == NULL);
    } while (ta);
  }
  char *none = NULL;
  assert_null(pm_strsep(&none, ";"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sys_aligned_alloc),
      cmocka_unit_test(test_sys_identity),
      cmocka_unit_test(test_sys_wall_seconds),
      cmocka_unit_test(test_sys_utc_matches_gmtime),
      cmocka_unit_test(test_sys_strsep_matches_libc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
