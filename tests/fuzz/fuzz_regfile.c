/* fuzz_regfile.c - libFuzzer harness of the REGEDIT5 .reg reader
 * (platform/regfile.c), fed through pm_regtree_load and an in-memory
 * file-system table. Beyond "no crash" it checks:
 *  - a refusal is PM_EFORMAT with a message naming the line;
 *  - nothing accepted is silently cut short: an accepted file holds no
 *    U+0000 (the format has no place for one outside hex data, which is
 *    written as digits), a UTF-16 file no odd trailing byte, and a key
 *    appended after the input is found after parsing input + key (a
 *    parser that stopped early would not see it);
 *  - the round trip: format(parse(x)) is read back without error and
 *    formats to the same bytes, i.e. parse(format(t)) == t for every tree
 *    t the reader accepts (the writer is deterministic and writes every
 *    key and value, so equal text means equal trees). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzcheck.h"
#include "host.h"
#include "memfs.h"

#define SENTINEL "HKEY_LOCAL_MACHINE\\FUZZ\\Sentinel"

/* Shows formatted text (UTF-16LE with BOM and CRLF) readably: the low
 * byte of each unit, line ends as '\n', other units as \uXXXX. */
static void dump_text(const char *what, const uint8_t *b, size_t n) {
  fprintf(fz_err(), "%s (%zu bytes):\n", what, n);
  for (size_t i = 2; i + 1 < n && i < 8192; i += 2) {
    unsigned u = b[i] | (unsigned)b[i + 1] << 8;
    if (u == '\r') continue;
    if (u == '\n' || (u >= 0x20 && u < 0x7F))
      fputc((int)u, fz_err());
    else
      fprintf(fz_err(), "\\u%04X", u);
  }
  fprintf(fz_err(), "\n");
}

/* Input followed by a line with a new key, in the input's encoding. */
static uint8_t *with_sentinel(const uint8_t *data, size_t size, bool utf16,
                              size_t *out_len) {
  static const char line[] = "\r\n[" SENTINEL "]\r\n";
  size_t ll = sizeof line - 1, add = utf16 ? 2 * ll : ll;
  uint8_t *b = malloc(size + add);
  if (!b) abort();
  memcpy(b, data, size);
  for (size_t i = 0; i < ll; i++) {
    if (utf16) {
      b[size + 2 * i] = (uint8_t)line[i];
      b[size + 2 * i + 1] = 0;
    } else {
      b[size + i] = (uint8_t)line[i];
    }
  }
  *out_len = size + add;
  return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_memfs_reset();
  fz_memfs_put("registry.reg", data, size);
  pm_regtree *t = NULL;
  char err[512] = "";
  int rc = pm_regtree_load(fz_memfs(), "registry.reg", &t, err, sizeof err);
  FZ_CHECK(fz_memfs_open_count() == 0, "the reader left a file open");
  if (rc) {
    FZ_CHECK(rc == PM_EFORMAT, "refused with %s, not PM_EFORMAT",
             pm_errname(rc));
    FZ_CHECK(t == NULL, "a refused load returned a tree");
    FZ_CHECK(!strncmp(err, "line ", 5), "the error names no line: '%s'",
             err);
    return 0;
  }
  FZ_CHECK(t != NULL, "an accepted load returned no tree");

  /* Every byte accounted for. */
  bool utf16 = size >= 2 && data[0] == 0xFF && data[1] == 0xFE;
  if (utf16) {
    FZ_CHECK(size % 2 == 0, "a UTF-16 file with an odd trailing byte was "
                            "accepted");
    for (size_t i = 2; i + 1 < size; i += 2)
      FZ_CHECK(data[i] || data[i + 1],
               "a U+0000 at byte %zu was accepted (what follows it is "
               "never read)", i);
  } else {
    const uint8_t *nul = memchr(data, 0, size);
    FZ_CHECK(!nul, "a NUL byte at offset %zu was accepted (what follows "
                   "it is never read)", (size_t)(nul - data));
  }
  size_t slen;
  uint8_t *s = with_sentinel(data, size, utf16, &slen);
  pm_regtree *ts = pm_regtree_new();
  if (pm_regtree_parse(ts, s, slen, NULL, 0) == 0)
    FZ_CHECK(pm_regtree_has_key(ts, SENTINEL),
             "a key after the accepted input was not read: the parse "
             "stopped before the end of the file");
  pm_regtree_free(ts);
  free(s);

  /* Round trip. */
  uint8_t *f1, *f2;
  size_t l1, l2;
  pm_regtree_format(t, &f1, &l1);
  pm_regtree *t2 = pm_regtree_new();
  rc = pm_regtree_parse(t2, f1, l1, err, sizeof err);
  if (rc) dump_text("formatted", f1, l1);
  FZ_CHECK(rc == 0, "the reader refuses what the writer wrote: %s", err);
  pm_regtree_format(t2, &f2, &l2);
  if (l1 != l2 || memcmp(f1, f2, l1)) {
    dump_text("format(parse(x))", f1, l1);
    dump_text("format(parse(format(parse(x))))", f2, l2);
  }
  FZ_CHECK(l1 == l2 && !memcmp(f1, f2, l1),
           "parse(format(t)) != t for an accepted tree t");
  free(f1);
  free(f2);
  pm_regtree_free(t2);
  pm_regtree_free(t);
  return 0;
}
