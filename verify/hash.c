/* hash.c - XXH3-128 through libxxhash's streaming API (inlined from the
 * packaged header), written in canonical big-endian form. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdbool.h>
#include <string.h>

#include "hash.h"
#include "platform.h"
#include "util.h"

struct pm_hasher {
  XXH3_state_t st;
  bool avx2; /* update through hash_avx2.c */
};

pm_hasher *pm_hasher_create(void) {
  /* XXH3_state_t wants 64-byte alignment. */
  pm_hasher *h = XXH_alignedMalloc(sizeof *h, 64);
  if (!h) {
    pm_report_notef("pomove: out of memory\n");
    abort();
  }
  pm_hasher_reset(h);
#ifdef POMOVE_XXH_AVX2
  h->avx2 = __builtin_cpu_supports("avx2");
#else
  h->avx2 = false;
#endif
  return h;
}

void pm_hasher_free(pm_hasher *h) {
  if (h) XXH_alignedFree(h);
}

void pm_hasher_reset(pm_hasher *h) { XXH3_128bits_reset(&h->st); }

void pm_hasher_update(pm_hasher *h, const void *data, size_t len) {
#ifdef POMOVE_XXH_AVX2
  if (h->avx2) {
    pm__xxh3_128_update_avx2(&h->st, data, len);
    return;
  }
#endif
  XXH3_128bits_update(&h->st, data, len);
}

static pm_hash128 canon(XXH128_hash_t v) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, v);
  pm_hash128 out;
  memcpy(out.b, c.digest, 16);
  return out;
}

pm_hash128 pm_hasher_digest(const pm_hasher *h) {
  return canon(XXH3_128bits_digest(&h->st));
}

pm_hash128 pm_hash_buffer(const void *data, size_t len) {
  return canon(XXH3_128bits(data, len));
}

void pm_hash_hex(const pm_hash128 *h, char out[33]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) {
    out[2 * i] = hex[h->b[i] >> 4];
    out[2 * i + 1] = hex[h->b[i] & 15];
  }
  out[32] = '\0';
}

/* Hex digit values, -1 for any other byte: a manifest line's 32 digits
 * are parsed by table, not by three range tests each (the parse showed
 * in a warm manifest check's profile). */
static const signed char hexv[256] = {
    ['0'] = 0 + 1,  ['1'] = 1 + 1,  ['2'] = 2 + 1,  ['3'] = 3 + 1,
    ['4'] = 4 + 1,  ['5'] = 5 + 1,  ['6'] = 6 + 1,  ['7'] = 7 + 1,
    ['8'] = 8 + 1,  ['9'] = 9 + 1,  ['a'] = 10 + 1, ['b'] = 11 + 1,
    ['c'] = 12 + 1, ['d'] = 13 + 1, ['e'] = 14 + 1, ['f'] = 15 + 1,
    ['A'] = 10 + 1, ['B'] = 11 + 1, ['C'] = 12 + 1, ['D'] = 13 + 1,
    ['E'] = 14 + 1, ['F'] = 15 + 1};

int pm_hash_parse(const char *hex, pm_hash128 *out) {
  /* Stored plus one, so that every other byte is 0 in the table. */
  int bad = 0;
  for (int i = 0; i < 16; i++) {
    int hi = hexv[(unsigned char)hex[2 * i]] - 1;
    int lo = hi < 0 ? -1 : hexv[(unsigned char)hex[2 * i + 1]] - 1;
    bad |= hi | lo;
    if (bad < 0) return PM_EFORMAT;
    out->b[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

int pm_hash_equal(const pm_hash128 *a, const pm_hash128 *b) {
  return memcmp(a->b, b->b, 16) == 0;
}
