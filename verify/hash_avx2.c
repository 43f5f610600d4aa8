/* hash_avx2.c - XXH3-128's streaming update compiled for AVX2 (this file
 * alone is built with -mavx2; verify/CMakeLists.txt adds it on x86-64
 * Linux only). hash.c calls it when the CPU and the OS support AVX2
 * (__builtin_cpu_supports checks both); the generic build's SSE2 code
 * hashes about half as fast, and a warm audit spends a tenth of its
 * CPU there. Windows builds never have it: Windows 2000 does not save
 * the AVX registers across a context switch. Every XXH3 variant gives
 * the same hash, so the state may pass between this and hash.c. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "hash.h"

void pm__xxh3_128_update_avx2(void *state, const void *data, size_t len) {
  XXH3_128bits_update(state, data, len);
}
