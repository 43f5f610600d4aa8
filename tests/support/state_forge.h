/* state_forge.h - for tests only: changes the recorded hash of one file
 * in a copy's state file (DST.pomove-state) and re-seals its record, so
 * that the state lies about a file whose data and metadata are unchanged:
 * what only --checksum can catch. Knows the record framing of
 * copyengine/state.c (length, type 'S', fixed part of CE_SREC_BYTES with
 * the hash at offset 96, the path, an 8-byte XXH3 seal). */
#ifndef POMOVE_TEST_STATE_FORGE_H
#define POMOVE_TEST_STATE_FORGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "testutil.h"

/* Changes the recorded hash of `rel` in a state file and re-frames the
 * record, so that the state is sound but says the file held other data:
 * what a change that kept size, mtime and ctime would look like. */
static inline void state_forge_hash(const char *path, const char *rel) {
  size_t len;
  unsigned char *buf = (unsigned char *)tu_read_all(path, &len);
  assert_non_null(buf);
  size_t pos = 8;
  bool done = false;
  const size_t srec = 112; /* CE_SREC_BYTES */
  while (pos + 13 <= len) {
    uint32_t plen = (uint32_t)buf[pos] | (uint32_t)buf[pos + 1] << 8 |
                    (uint32_t)buf[pos + 2] << 16 | (uint32_t)buf[pos + 3] << 24;
    unsigned char *p = buf + pos + 5;
    if (buf[pos + 4] == 'S' && plen - srec == strlen(rel) &&
        !memcmp(p + srec, rel, strlen(rel))) {
      p[96] ^= 0xff; /* the first byte of the hash */
      pm_hash128 h = pm_hash_buffer(buf + pos, 5 + plen);
      memcpy(buf + pos + 5 + plen, h.b, 8);
      done = true;
    }
    pos += 5 + plen + 8;
  }
  assert_true(done);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, len, f), len);
  fclose(f);
  free(buf);
}

/* Leaves the records of a hard-link group's paths (rels, all names of the
 * same length) as a copy whose group met `keep` first would have left
 * them before every path of a group got a record: `keep` holds the
 * group's record (one of the others' renamed to it when it had none) and
 * every other path's record is renamed to a name that is no file (its
 * first byte made '~'), so that no path but `keep` has one. */
static inline void state_forge_group_on(const char *path, const char **rels,
                                        size_t n, const char *keep) {
  size_t len;
  unsigned char *buf = (unsigned char *)tu_read_all(path, &len);
  assert_non_null(buf);
  const size_t srec = 112; /* CE_SREC_BYTES */
  bool kept = false;
  for (int pass = 0; pass < 2; pass++) {
    /* Pass 0 finds whether keep has a record; pass 1 renames. */
    size_t pos = 8;
    while (pos + 13 <= len) {
      uint32_t plen = (uint32_t)buf[pos] | (uint32_t)buf[pos + 1] << 8 |
                      (uint32_t)buf[pos + 2] << 16 |
                      (uint32_t)buf[pos + 3] << 24;
      unsigned char *p = buf + pos + 5;
      for (size_t i = 0; buf[pos + 4] == 'S' && i < n; i++) {
        size_t rl = strlen(rels[i]);
        if (plen - srec != rl || memcmp(p + srec, rels[i], rl)) continue;
        bool is_keep = !strcmp(rels[i], keep);
        if (pass == 0) {
          if (is_keep) kept = true;
          break;
        }
        if (is_keep) break;
        assert_int_equal(strlen(keep), rl);
        if (!kept) {
          memcpy(p + srec, keep, rl);
          kept = true;
        } else {
          p[srec] = '~';
        }
        pm_hash128 h = pm_hash_buffer(buf + pos, 5 + plen);
        memcpy(buf + pos + 5 + plen, h.b, 8);
        break;
      }
      pos += 5 + plen + 8;
    }
  }
  assert_true(kept);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, len, f), len);
  fclose(f);
  free(buf);
}

#endif
