/* testutil_posix.c - see testutil.h: scratch directories and commands on
 * Linux (mkdtemp, /bin/sh). testutil_win32.c is the Windows side. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

FILE *tu_tmpfile(void) { return tmpfile(); }

void tu_setenv(const char *name, const char *value) {
  if (value ? setenv(name, value, 1) : unsetenv(name)) abort();
}

int tu_is_root(void) { return geteuid() == 0; }

int tu_under_wine(void) { return 0; }

unsigned tu_dead_pid(void) {
  pid_t p = fork();
  if (p < 0) {
    perror("tu_dead_pid: fork");
    abort();
  }
  if (p == 0) _exit(0);
  while (waitpid(p, NULL, 0) < 0) {
    if (errno != EINTR) {
      perror("tu_dead_pid: waitpid");
      abort();
    }
  }
  return (unsigned)p;
}
