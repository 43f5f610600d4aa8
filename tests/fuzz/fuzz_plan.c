/* fuzz_plan.c - libFuzzer harness of the move's plan reader
 * (orchestrate/plan.c: orch_plan_load), through an in-memory
 * file-system table. The plan ends with the XXH3-128 of its text, which a
 * mutation almost never keeps right, so each input is tried twice: as it
 * is, and with that hash recomputed. Beyond "no crash":
 *  - a refusal is PM_EFORMAT or PM_ECORRUPT;
 *  - every byte is accounted for: an accepted plan holds no NUL byte,
 *    ends exactly after its "end <hash>" line, and each path line (from,
 *    to, from_native, to_native) is read whole: its unescaped text, with
 *    %XX escapes that are hex and not %00, equals the field loaded (no
 *    cut at the field's size, no escape read as something else);
 *  - the round trip: the loaded plan saved by orch_plan_save loads again
 *    to an equal plan, and saves to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzcheck.h"
#include "hash.h"
#include "memfs.h"
#include "orch.h"

static bool repair(uint8_t *b, size_t n) {
  const uint8_t *end = memmem(b, n, "\nend ", 5);
  if (!end || (size_t)(end - b) + 5 + 32 > n) return false;
  pm_hash128 h = pm_hash_buffer(b, (size_t)(end - b) + 1);
  char hex[33];
  pm_hash_hex(&h, hex);
  uint8_t *at = b + (end - b) + 5;
  if (!memcmp(at, hex, 32)) return false;
  memcpy(at, hex, 32);
  return true;
}

static int hexv(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The strict reading of one escaped field: NULL when it cannot be read
 * (a bad or NUL escape). Caller frees. */
static char *strict_unesc(const uint8_t *s, size_t n) {
  char *o = malloc(n + 1), *p = o;
  if (!o) abort();
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      *p++ = (char)s[i];
      continue;
    }
    int hi = i + 2 < n ? hexv(s[i + 1]) : -1;
    int lo = hi < 0 ? -1 : hexv(s[i + 2]);
    if (lo < 0 || (hi == 0 && lo == 0)) {
      free(o);
      return NULL;
    }
    *p++ = (char)(hi * 16 + lo);
    i += 2;
  }
  *p = '\0';
  return o;
}

/* Checks the last "<name>\t<field>" line of text[0..n) against `got`. */
static void check_path_line(const uint8_t *text, size_t n, const char *name,
                            const char *got) {
  size_t nl = strlen(name);
  const uint8_t *field = NULL;
  size_t flen = 0;
  for (size_t i = 0; i < n;) {
    const uint8_t *e = memchr(text + i, '\n', n - i);
    size_t len = e ? (size_t)(e - (text + i)) : n - i;
    const uint8_t *line = text + i;
    if (len > nl && !memcmp(line, name, nl) && line[nl] == '\t' &&
        !memchr(line + nl + 1, '\t', len - nl - 1)) {
      field = line + nl + 1;
      flen = len - nl - 1;
    }
    i += len + 1;
  }
  if (!field) return;
  char *want = strict_unesc(field, flen);
  FZ_CHECK(want, "the '%s' line has an escape that cannot be read, yet the "
                 "plan was accepted", name);
  FZ_CHECK(!strcmp(want, got),
           "'%s' reads as '%.60s' (%zu bytes), the file says '%.60s' (%zu "
           "bytes)", name, got, strlen(got), want, strlen(want));
  free(want);
}

static bool val_equal(const pm_reg_value *a, const pm_reg_value *b) {
  return pm_reg_value_equal(a, b);
}

static bool str_equal(const char *a, const char *b) {
  return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_equal(const orch_plan *a, const orch_plan *b) {
  FZ_CHECK(!strcmp(a->from, b->from) && !strcmp(a->to, b->to) &&
               !strcmp(a->from_native, b->from_native) &&
               !strcmp(a->to_native, b->to_native),
           "paths changed in the round trip");
  FZ_CHECK(a->files == b->files && a->dirs == b->dirs &&
               a->bytes == b->bytes && a->target_existed == b->target_existed,
           "tree counts changed in the round trip");
  FZ_CHECK(a->have_share == b->have_share, "share presence changed");
  if (a->have_share)
    FZ_CHECK(!strcmp(a->share.name, b->share.name) &&
                 !strcmp(a->share.path, b->share.path) &&
                 !strcmp(a->share.remark, b->share.remark) &&
                 !strcmp(a->share.sddl, b->share.sddl) &&
                 a->share.type == b->share.type &&
                 a->share.max_uses == b->share.max_uses,
             "the share changed in the round trip");
  FZ_CHECK(a->nsvcs == b->nsvcs, "%zu services became %zu", a->nsvcs,
           b->nsvcs);
  for (size_t i = 0; i < a->nsvcs; i++)
    FZ_CHECK(!strcmp(a->svcs[i].name, b->svcs[i].name) &&
                 a->svcs[i].role == b->svcs[i].role &&
                 a->svcs[i].was_running == b->svcs[i].was_running,
             "service %zu changed in the round trip", i);
  FZ_CHECK(a->nvals == b->nvals, "%zu values became %zu", a->nvals,
           b->nvals);
  for (size_t i = 0; i < a->nvals; i++) {
    const orch_value *x = &a->vals[i], *y = &b->vals[i];
    FZ_CHECK(str_equal(x->key, y->key) && str_equal(x->name, y->name) &&
                 x->kind == y->kind && x->image_path == y->image_path &&
                 str_equal(x->service, y->service) &&
                 val_equal(&x->old, &y->old) && val_equal(&x->new_, &y->new_),
             "value %zu changed in the round trip", i);
  }
}

static pm_host host;

static void one(const uint8_t *data, size_t size) {
  fz_memfs_reset();
  fz_memfs_put("plan", data, size);
  orch_plan p;
  int rc = orch_plan_load(&host, "plan", &p);
  FZ_CHECK(fz_memfs_open_count() == 0, "the reader left a file open");
  if (rc) {
    FZ_CHECK(rc == PM_EFORMAT || rc == PM_ECORRUPT, "refused with %s",
             pm_errname(rc));
    return;
  }
  const uint8_t *nul = memchr(data, 0, size);
  FZ_CHECK(!nul, "a NUL byte at offset %zu in an accepted plan",
           (size_t)(nul - data));
  const uint8_t *end = memmem(data, size, "\nend ", 5);
  FZ_CHECK(end, "accepted without an end line");
  size_t body = (size_t)(end - data) + 1;
  FZ_CHECK(size == body + 4 + 32 + 1 && data[size - 1] == '\n',
           "accepted, but %zu bytes follow the end line",
           size - (body + 4 + 32 < size ? body + 4 + 32 : size));
  check_path_line(data, body, "from", p.from);
  check_path_line(data, body, "to", p.to);
  check_path_line(data, body, "from_native", p.from_native);
  check_path_line(data, body, "to_native", p.to_native);

  /* Round trip. */
  rc = orch_plan_save(&host, "plan2", &p);
  FZ_CHECK(rc == 0, "save failed: %s", pm_errname(rc));
  orch_plan q;
  rc = orch_plan_load(&host, "plan2", &q);
  FZ_CHECK(rc == 0, "the reader refuses what the writer wrote: %s",
           pm_errname(rc));
  check_equal(&p, &q);
  rc = orch_plan_save(&host, "plan3", &q);
  FZ_CHECK(rc == 0, "save failed: %s", pm_errname(rc));
  size_t l2, l3;
  const uint8_t *b2 = fz_memfs_get("plan2", &l2);
  uint8_t *c2 = malloc(l2 ? l2 : 1);
  if (!c2) abort();
  memcpy(c2, b2, l2);
  const uint8_t *b3 = fz_memfs_get("plan3", &l3);
  FZ_CHECK(l2 == l3 && !memcmp(c2, b3, l2),
           "save(load(save(p))) differs from save(p)");
  free(c2);
  orch_plan_free(&q);
  orch_plan_free(&p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  snprintf(host.name, sizeof host.name, "fuzz");
  host.fs = fz_memfs();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size);
  uint8_t *fixed = malloc(size ? size : 1);
  if (!fixed) abort();
  memcpy(fixed, data, size);
  if (repair(fixed, size)) one(fixed, size);
  free(fixed);
  return 0;
}
