/* fuzz_step_journal.c - libFuzzer harness of the move's step journal
 * reader (orchestrate/step_journal.c: orch_journal_open replays it), through
 * an in-memory file-system table. Each record is a line ending with the
 * XXH3-128 of its text, which a mutation almost never keeps right, so
 * each input is tried twice: as it is, and with the hash of every line
 * that ends in 32 characters recomputed. Beyond "no crash":
 *  - a refusal is PM_ECORRUPT or PM_EFORMAT;
 *  - every byte is accounted for: the checked records end at a line end;
 *    they hold no NUL byte; what follows them is at most one record (a
 *    torn last record: no line end before its last byte), never several
 *    lines dropped without a word;
 *  - a resume appends: after an append the journal reads back whole, with
 *    the new record's step done, the sequence number one higher, and
 *    everything the earlier records said still said. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzcheck.h"
#include "hash.h"
#include "memfs.h"
#include "orch.h"

#define JPATH "journal"

static bool repair(uint8_t *b, size_t n) {
  bool changed = false;
  for (size_t i = 0; i < n;) {
    uint8_t *nl = memchr(b + i, '\n', n - i);
    size_t len = nl ? (size_t)(nl - (b + i)) : n - i;
    uint8_t *line = b + i, *sp = NULL;
    for (size_t k = len; k-- > 0;)
      if (line[k] == ' ') {
        sp = line + k;
        break;
      }
    if (sp && (size_t)(line + len - (sp + 1)) == 32) {
      pm_hash128 h = pm_hash_buffer(line, (size_t)(sp - line));
      char hex[33];
      pm_hash_hex(&h, hex);
      if (memcmp(sp + 1, hex, 32)) {
        memcpy(sp + 1, hex, 32);
        changed = true;
      }
    }
    i += len + 1;
  }
  return changed;
}

static void one(const uint8_t *data, size_t size) {
  fz_memfs_reset();
  fz_memfs_put(JPATH, data, size);
  orch_journal j;
  int rc = orch_journal_open(fz_memfs(), JPATH, &j);
  FZ_CHECK(fz_memfs_open_count() == 0, "the reader left a file open");
  if (rc) {
    FZ_CHECK(rc == PM_ECORRUPT || rc == PM_EFORMAT, "refused with %s",
             pm_errname(rc));
    orch_journal_close(&j);
    return;
  }
  uint64_t v = j.valid_len;
  FZ_CHECK(v <= size, "valid_len %llu beyond the file's %zu bytes",
           (unsigned long long)v, size);
  FZ_CHECK(v == 0 || data[v - 1] == '\n',
           "the checked records do not end at a line end");
  const uint8_t *nul = memchr(data, 0, (size_t)v);
  FZ_CHECK(!nul, "a NUL byte at offset %zu inside the accepted records",
           (size_t)(nul - data));
  const uint8_t *tail = data + v;
  size_t tlen = size - (size_t)v;
  const uint8_t *nl = tlen ? memchr(tail, '\n', tlen) : NULL;
  FZ_CHECK(!nl || nl == tail + tlen - 1,
           "accepted, but %zu bytes after the records at offset %llu hold "
           "more than one record: they were dropped without a word",
           tlen, (unsigned long long)v);

  /* Append, then read again. */
  orch_journal before = j;
  rc = orch_journal_add(&j, "done", 7);
  FZ_CHECK(rc == 0, "append failed: %s", pm_errname(rc));
  size_t len;
  const uint8_t *now = fz_memfs_get(JPATH, &len);
  FZ_CHECK(now && len == j.valid_len, "after an append the file is %zu "
                                      "bytes, the records %llu",
           len, (unsigned long long)j.valid_len);
  FZ_CHECK(!memcmp(now, data, (size_t)v),
           "the append changed earlier records");
  orch_journal_close(&j);
  orch_journal k;
  rc = orch_journal_open(fz_memfs(), JPATH, &k);
  FZ_CHECK(rc == 0, "the journal refuses itself after an append: %s",
           pm_errname(rc));
  FZ_CHECK(k.valid_len == len, "after an append %llu of %zu bytes read",
           (unsigned long long)k.valid_len, len);
  FZ_CHECK(k.seq == before.seq + 1, "sequence %u after %u", k.seq,
           before.seq);
  FZ_CHECK(k.step_done[7] == 1, "the appended step is not done");
  FZ_CHECK(k.started == before.started && k.move_done == before.move_done &&
               k.rollback_begun == before.rollback_begun &&
               k.rollback_done == before.rollback_done &&
               k.old_removed == before.old_removed,
           "a flag changed in the append");
  for (int i = 0; i < 32; i++)
    FZ_CHECK(i == 7 || k.step_done[i] == before.step_done[i],
             "step %d changed in the append", i);
  orch_journal_close(&k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size);
  uint8_t *fixed = malloc(size ? size : 1);
  if (!fixed) abort();
  memcpy(fixed, data, size);
  if (repair(fixed, size)) one(fixed, size);
  free(fixed);
  return 0;
}
