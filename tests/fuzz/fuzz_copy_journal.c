/* fuzz_copy_journal.c - libFuzzer harness of the copy's resume journal
 * (copyengine/journal.c: ce_journal_open loads and replays it), through an
 * in-memory file-system table. Every record carries a checksum, which a
 * mutation almost never keeps right, so each input is tried twice: as it
 * is, and with the checksum of every whole record recomputed (so that the
 * replay behind the checksum is reached). The source, destination and
 * options are taken from the input's own header record when it has one,
 * so that the journal is taken as this copy's. Beyond "no crash":
 *  - a refusal is PM_EFORMAT (not a journal) or PM_ESTATE (another
 *    copy's); an empty file starts a new journal;
 *  - an accepted journal agrees with the format (journal.c's header
 *    comment) walked independently here: as many records as whole,
 *    checked records from the start, a torn tail flagged exactly when
 *    bytes follow them, and the file cut to exactly those records;
 *  - file and checkpoint counts fit the records: a file record per
 *    'F' record, no more checkpoints than 'C' records;
 *  - nothing is lost after a resume: a record appended to the accepted
 *    journal, and every record before it, are there when it is opened
 *    again, with no torn tail. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzcheck.h"
#include "hash.h"
#include "journal.h"
#include "memfs.h"

#define JPATH "dst.pomove-journal"
#define IDENT_BYTES 36

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* The independent walk: records and where they end. */
typedef struct walk {
  bool magic;
  uint64_t records, f_records /* 'F' and 'U' */, c_records, end;
  bool first_is_header;
} walk;

static walk walk_journal(const uint8_t *b, size_t n) {
  walk w = {0};
  w.magic = n >= 8 && !memcmp(b, "POMVJNL1", 8);
  if (!w.magic) return w;
  size_t pos = 8;
  while (pos + 5 <= n) {
    uint64_t plen = get_u32(b + pos);
    if (pos + 5 + plen + 8 > n) break;
    pm_hash128 h = pm_hash_buffer(b + pos, 5 + (size_t)plen);
    if (memcmp(h.b, b + pos + 5 + plen, 8)) break;
    char type = (char)b[pos + 4];
    if (w.records == 0) w.first_is_header = type == 'H';
    else if (type == 'F' && plen >= IDENT_BYTES + 16) w.f_records++;
    /* A finished file with the identities an update decides by. */
    else if (type == 'U' && plen >= IDENT_BYTES + 16 + CE_SREC_BYTES)
      w.f_records++;
    else if (type == 'C' && plen >= IDENT_BYTES + 32) w.c_records++;
    w.records++;
    pos += 5 + (size_t)plen + 8;
  }
  w.end = pos;
  return w;
}

/* Recomputes the checksum of every whole record; true when it changed
 * anything. */
static bool repair(uint8_t *b, size_t n) {
  if (n < 8 || memcmp(b, "POMVJNL1", 8)) return false;
  bool changed = false;
  size_t pos = 8;
  while (pos + 5 <= n) {
    uint64_t plen = get_u32(b + pos);
    if (pos + 5 + plen + 8 > n) break;
    pm_hash128 h = pm_hash_buffer(b + pos, 5 + (size_t)plen);
    if (memcmp(h.b, b + pos + 5 + plen, 8)) {
      memcpy(b + pos + 5 + plen, h.b, 8);
      changed = true;
    }
    pos += 5 + (size_t)plen + 8;
  }
  return changed;
}

/* src, dst and options from a header record of exactly three strings. */
static void header_of(const uint8_t *b, size_t n, char **src, char **dst,
                      char **sig) {
  *src = *dst = *sig = NULL;
  if (n < 8 + 5 || memcmp(b, "POMVJNL1", 8) || b[12] != 'H') return;
  uint64_t plen = get_u32(b + 8);
  if (13 + plen > n || plen < 3) return;
  const char *p = (const char *)b + 13;
  size_t l1 = strnlen(p, plen);
  if (l1 >= plen) return;
  size_t l2 = strnlen(p + l1 + 1, plen - l1 - 1);
  if (l1 + 1 + l2 >= plen) return;
  size_t l3 = strnlen(p + l1 + l2 + 2, plen - l1 - l2 - 2);
  if (l1 + l2 + l3 + 3 != plen) return;
  *src = strndup(p, l1);
  *dst = strndup(p + l1 + 1, l2);
  *sig = strndup(p + l1 + l2 + 2, l3);
  if (!*src || !*dst || !*sig) abort();
}

static void one(const uint8_t *data, size_t size) {
  fz_memfs_reset();
  fz_memfs_put(JPATH, data, size);
  char *src, *dst, *sig;
  header_of(data, size, &src, &dst, &sig);
  const char *s = src ? src : "/fuzz/src", *d = dst ? dst : "/fuzz/dst",
             *g = sig ? sig : "verify=1";
  walk w = walk_journal(data, size);
  ce_journal *j = NULL;
  bool resumed;
  ce_journal_stats st;
  int rc = ce_journal_open(fz_memfs(), JPATH, s, d, g, false, &j, &resumed,
                           &st);
  if (rc) {
    FZ_CHECK(fz_memfs_open_count() == 0, "a refused journal left a file "
                                         "open");
    FZ_CHECK(rc == PM_EFORMAT || rc == PM_ESTATE, "refused with %s",
             pm_errname(rc));
    FZ_CHECK(size > 0, "an empty journal was refused");
    if (rc == PM_ESTATE)
      FZ_CHECK(w.magic && w.records > 0 && w.first_is_header,
               "another copy's journal, yet no header record");
    goto out;
  }
  FZ_CHECK(j != NULL, "accepted without a journal");
  size_t len;
  const uint8_t *now = fz_memfs_get(JPATH, &len);
  FZ_CHECK(now != NULL, "the journal file is gone");
  if (size == 0) {
    FZ_CHECK(st.records == 0 && !resumed, "an empty file had records");
  } else {
    FZ_CHECK(w.magic && w.records > 0 && w.first_is_header,
             "accepted without magic and a header record");
    FZ_CHECK(st.records == w.records,
             "loaded %llu records, the file holds %llu whole ones",
             (unsigned long long)st.records,
             (unsigned long long)w.records);
    FZ_CHECK(st.torn_tail == (w.end < size),
             "torn tail %d, but the records end at %llu of %zu bytes",
             st.torn_tail, (unsigned long long)w.end, size);
    FZ_CHECK(len == w.end, "the journal is %zu bytes after loading, its "
                           "records end at %llu", len,
             (unsigned long long)w.end);
    FZ_CHECK(!memcmp(now, data, len), "loading changed the records");
    FZ_CHECK(st.files == w.f_records, "%llu files for %llu 'F' and 'U' records",
             (unsigned long long)st.files,
             (unsigned long long)w.f_records);
    FZ_CHECK(st.chunks <= w.c_records, "%llu checkpoints for %llu 'C' "
                                       "records",
             (unsigned long long)st.chunks,
             (unsigned long long)w.c_records);
    FZ_CHECK(resumed == (st.records > 1), "resumed flag wrong");
  }
  /* A resume appends: that record and all before it must load again. */
  ce_jfile f = {.rel = "fuzz/appended",
                .id = {.size = 7, .ino = 1, .dev = 2, .mtime_sec = 3}};
  f.hash = pm_hash_buffer("fuzz", 4);
  FZ_CHECK(ce_journal_add_files(j, &f, 1) == 0, "append failed");
  FZ_CHECK(ce_journal_close(j, false) == 0, "close failed");
  j = NULL;
  FZ_CHECK(fz_memfs_open_count() == 0, "the journal left a file open");
  now = fz_memfs_get(JPATH, &len);
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) abort();
  memcpy(copy, now, len);
  walk w2 = walk_journal(copy, len);
  uint64_t before = size == 0 ? 1 : w.records;
  ce_journal_stats st2;
  rc = ce_journal_open(fz_memfs(), JPATH, s, d, g, false, &j, &resumed,
                       &st2);
  FZ_CHECK(rc == 0, "the journal refuses itself after an append: %s",
           pm_errname(rc));
  FZ_CHECK(!st2.torn_tail && w2.end == len,
           "the appended journal has a torn tail");
  FZ_CHECK(st2.records == before + 1, "%llu records after appending to %llu",
           (unsigned long long)st2.records, (unsigned long long)before);
  const ce_jentry *e = ce_journal_lookup(j, "fuzz/appended");
  FZ_CHECK(e && e->done && ce_jident_equal(&e->id, &f.id) &&
               pm_hash_equal(&e->hash, &f.hash),
           "the appended record is not found as written");
  free(copy);
out:
  if (j) ce_journal_close(j, false);
  free(src);
  free(dst);
  free(sig);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fz_quiet_reports();
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
