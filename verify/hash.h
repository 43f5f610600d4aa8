/* hash.h - XXH3-128 of file contents, in the canonical (big-endian) form
 * that xxh128sum prints. A thin wrapper over libxxhash's streaming API so
 * that no other module includes xxhash.h. */
#ifndef POMOVE_HASH_H
#define POMOVE_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct pm_hash128 {
  uint8_t b[16]; /* canonical big-endian bytes */
} pm_hash128;

typedef struct pm_hasher pm_hasher; /* opaque streaming state */

pm_hasher *pm_hasher_create(void);
void pm_hasher_free(pm_hasher *h);
void pm_hasher_reset(pm_hasher *h);
void pm_hasher_update(pm_hasher *h, const void *data, size_t len);
pm_hash128 pm_hasher_digest(const pm_hasher *h);

pm_hash128 pm_hash_buffer(const void *data, size_t len);

/* 32 lower-case hex digits and a NUL into out[33]. */
void pm_hash_hex(const pm_hash128 *h, char out[33]);
/* Parses 32 hex digits (either case); 0 or PM_EFORMAT. */
int pm_hash_parse(const char *hex, pm_hash128 *out);
int pm_hash_equal(const pm_hash128 *a, const pm_hash128 *b);

/* XXH3-128's update built for AVX2 (hash_avx2.c, x86-64 Linux builds
 * only); pm_hasher_update calls it where the CPU has AVX2. Internal. */
void pm__xxh3_128_update_avx2(void *state, const void *data, size_t len);

#endif
