/* test_hash_stream.c - pm_hasher's streaming XXH3-128 (the AVX2 build of
 * hash_avx2.c where the CPU has AVX2, else the generic one) against
 * values xxh128sum printed for the same bytes, and against the one-shot
 * pm_hash_buffer (always the generic build), for many sizes fed in
 * uneven pieces: the audits and the copy's manifest depend on every
 * variant giving the same hash. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "platform.h"
#include "testutil.h"

static unsigned char *pattern(size_t n) {
  unsigned char *b = malloc(n ? n : 1);
  assert_non_null(b);
  for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 7 + (i >> 8));
  return b;
}

static void hex_of_stream(const unsigned char *b, size_t n, size_t piece,
                          char hex[33]) {
  pm_hasher *h = pm_hasher_create();
  for (size_t off = 0; off < n;) {
    size_t k = n - off < piece ? n - off : piece;
    pm_hasher_update(h, b + off, k);
    off += k;
    /* Uneven pieces: 1, 2, 3 ... bytes past the stripe and block sizes. */
    piece = piece * 3 / 2 + 1;
  }
  pm_hash128 d = pm_hasher_digest(h);
  pm_hasher_free(h);
  pm_hash_hex(&d, hex);
}

/* Printed by Debian 12's xxh128sum 0.8.1 for pattern(n). */
static void test_hash_stream_known_values(void **state) {
  (void)state;
  static const struct {
    size_t n;
    const char *hex;
  } known[] = {{3000, "79860a2f2a5b1990f8b5749ec75008ab"},
               {(1u << 20) + 13, "4acc2fa8569e11647b785673144c9007"}};
  for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
    unsigned char *b = pattern(known[k].n);
    char hex[33];
    hex_of_stream(b, known[k].n, 1000, hex);
    assert_string_equal(hex, known[k].hex);
    hex_of_stream(b, known[k].n, 131072, hex);
    assert_string_equal(hex, known[k].hex);
    free(b);
  }
}

static void test_hash_stream_matches_one_shot(void **state) {
  (void)state;
  unsigned char *b = pattern(70000);
  for (size_t n = 0; n <= 70000; n = n < 300 ? n + 1 : n * 5 / 4 + 17) {
    for (size_t piece = 1; piece <= 4097; piece = piece * 4 + 1) {
      char got[33], want[33];
      hex_of_stream(b, n, piece, got);
      pm_hash128 one = pm_hash_buffer(b, n);
      pm_hash_hex(&one, want);
      assert_string_equal(got, want);
    }
  }
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_stream_known_values),
      cmocka_unit_test(test_hash_stream_matches_one_shot),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
