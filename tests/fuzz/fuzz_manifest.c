/* fuzz_manifest.c - libFuzzer harness of the manifest reader
 * (verify/manifest_read.c). The reader opens its file by path through the
 * native table, so the input goes into a memfd (memory, no disk) opened
 * as /proc/self/fd/N. Beyond "no crash" it checks:
 *  - every line is accounted for: a manifest read to its end gave one
 *    entry per line that is not blank, with the right line numbers; a
 *    refusal is PM_EFORMAT naming a line of the file;
 *  - an entry has a non-empty name;
 *  - the round trip: the entries written back with the manifest writer's
 *    line formatter (pm_manifest_format_line) read back as the same names
 *    and hashes, in order: pomove always reads what it wrote. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzzcheck.h"
#include "manifest.h"
#include "platform.h"
#include "util.h"

static int mfd = -1;
static char mpath[64];

typedef struct ent {
  char *path;
  pm_hash128 hash;
  unsigned line;
} ent;

typedef struct list {
  ent *v;
  size_t n;
  int rc;         /* 0 read to the end, else the error */
  unsigned eline; /* the line of the error */
} list;

static void list_free(list *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i].path);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static void put_file(const void *b, size_t n) {
  FZ_CHECK(ftruncate(mfd, 0) == 0, "memfd truncate");
  FZ_CHECK(n == 0 || pwrite(mfd, b, n, 0) == (ssize_t)n, "memfd write");
}

static void read_all(list *l) {
  memset(l, 0, sizeof *l);
  pm_manifest_reader *r;
  int rc = pm_manifest_reader_open(pm_fs_native(), mpath, &r);
  FZ_CHECK(rc == 0, "open %s: %s", mpath, pm_errname(rc));
  pm_manifest_entry e = {0};
  for (;;) {
    rc = pm_manifest_reader_next(r, &e);
    if (rc != 1) break;
    FZ_CHECK(e.path != NULL, "an entry without a path");
    l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
    if (!l->v) abort();
    l->v[l->n].path = strdup(e.path);
    l->v[l->n].hash = e.hash;
    l->v[l->n].line = e.line;
    l->n++;
  }
  l->rc = rc;
  if (rc < 0) l->eline = e.line;
  pm_manifest_reader_close(r);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  mfd = memfd_create("pomove-fuzz-manifest", 0);
  if (mfd < 0) {
    perror("memfd_create");
    abort();
  }
  snprintf(mpath, sizeof mpath, "/proc/self/fd/%d", mfd);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  put_file(data, size);
  list a;
  read_all(&a);
  /* The lines of the file as the format defines them: '\n' ends a line,
   * the last may lack it; a line that is empty or a lone CR is blank. */
  unsigned lines = 0, nonblank = 0;
  for (size_t i = 0; i < size;) {
    const uint8_t *nl = memchr(data + i, '\n', size - i);
    size_t len = nl ? (size_t)(nl - (data + i)) : size - i;
    lines++;
    if (!(len == 0 || (len == 1 && data[i] == '\r'))) nonblank++;
    i += len + 1;
  }
  FZ_CHECK(a.rc == 0 || a.rc == PM_EFORMAT, "reader returned %s",
           pm_errname(a.rc));
  for (size_t i = 0; i < a.n; i++) {
    FZ_CHECK(a.v[i].path[0], "an entry with an empty name (line %u)",
             a.v[i].line);
    FZ_CHECK(a.v[i].line >= 1 && a.v[i].line <= lines,
             "entry line %u outside the file's %u lines", a.v[i].line,
             lines);
    FZ_CHECK(i == 0 || a.v[i].line > a.v[i - 1].line,
             "line numbers not increasing");
  }
  if (a.rc) {
    FZ_CHECK(a.eline >= 1 && a.eline <= lines,
             "error at line %u of a %u-line file", a.eline, lines);
    list_free(&a);
    return 0;
  }
  FZ_CHECK(a.n == nonblank,
           "accepted with %zu entries for %u non-blank lines: a line was "
           "skipped", a.n, nonblank);

  /* Round trip through the writer's formatter. */
  char *out = NULL;
  size_t olen = 0;
  for (size_t i = 0; i < a.n; i++) {
    char *line = pm_manifest_format_line(a.v[i].path, &a.v[i].hash);
    size_t l = strlen(line);
    out = realloc(out, olen + l + 1);
    if (!out) abort();
    memcpy(out + olen, line, l);
    olen += l;
    free(line);
  }
  put_file(out, olen);
  list b;
  read_all(&b);
  FZ_CHECK(b.rc == 0, "the reader refuses what the writer wrote (line %u)",
           b.eline);
  FZ_CHECK(b.n == a.n, "wrote %zu entries, read back %zu", a.n, b.n);
  for (size_t i = 0; i < a.n; i++) {
    if (strcmp(a.v[i].path, b.v[i].path)) {
      char *x = pm_display_path(a.v[i].path), *y = pm_display_path(b.v[i].path);
      FZ_CHECK(0, "entry %zu: name '%s' reads back as '%s'", i, x, y);
    }
    FZ_CHECK(pm_hash_equal(&a.v[i].hash, &b.v[i].hash),
             "entry %zu: hash changed in the round trip", i);
  }
  free(out);
  list_free(&a);
  list_free(&b);
  return 0;
}
