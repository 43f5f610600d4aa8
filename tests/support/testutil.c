/* testutil.c - see testutil.h: the portable part; scratch directories and
 * commands are in testutil_posix.c / testutil_win32.c (chosen by
 * tests/CMakeLists.txt). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tu_pomove(void) {
  const char *e = getenv("POMOVE_BIN");
  return e && *e ? e : POMOVE_BIN;
}

void tu_write_pattern(const char *path, uint64_t len, uint32_t seed) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    abort();
  }
  uint32_t x = seed * 2654435761u + 1;
  char buf[65536];
  while (len) {
    size_t n = len < sizeof buf ? (size_t)len : sizeof buf;
    for (size_t i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      buf[i] = (char)(x >> 24);
    }
    fwrite(buf, 1, n, f);
    len -= n;
  }
  fclose(f);
}

void tu_write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    abort();
  }
  fputs(text, f);
  fclose(f);
}

char *tu_read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0, k;
  char *buf = malloc(cap);
  while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += k;
    if (cap - n < 2) buf = realloc(buf, cap *= 2);
  }
  buf[n] = '\0';
  fclose(f);
  if (len) *len = n;
  return buf;
}

void tu_require(int cond, const char *why) {
  if (cond) return;
  printf("SKIPPED: %s\n", why);
  fflush(stdout);
  exit(TU_SKIP_CODE);
}

