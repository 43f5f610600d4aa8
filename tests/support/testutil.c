/* testutil.c - see testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch[4096];

const char *tu_scratch(void) {
  if (scratch[0]) {
    tu_cleanup();
  }
  const char *base = getenv("TMPDIR");
  snprintf(scratch, sizeof scratch, "%s/pomove-test-XXXXXX",
           base && *base ? base : "/tmp");
  if (!mkdtemp(scratch)) {
    perror("mkdtemp");
    abort();
  }
  return scratch;
}

void tu_cleanup(void) {
  if (!scratch[0]) return;
  if (!getenv("POMOVE_KEEP_TMP")) {
    char cmd[8400];
    /* chmod first: tests make unreadable directories. */
    snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'",
             scratch, scratch);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", scratch);
  }
  scratch[0] = '\0';
}

static int run(char *cmd) {
  int st = system(cmd);
  if (st == -1) return -1;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int tu_sh(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *cmd = NULL;
  if (vasprintf(&cmd, fmt, ap) < 0) abort();
  va_end(ap);
  int rc = run(cmd);
  free(cmd);
  return rc;
}

int tu_sh_out(char **out, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *cmd = NULL;
  if (vasprintf(&cmd, fmt, ap) < 0) abort();
  va_end(ap);
  FILE *p = popen(cmd, "r");
  free(cmd);
  if (!p) return -1;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  size_t n;
  while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
    len += n;
    if (cap - len < 2) buf = realloc(buf, cap *= 2);
  }
  buf[len] = '\0';
  int st = pclose(p);
  *out = buf;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return -1;
}

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

int tu_is_root(void) { return geteuid() == 0; }
