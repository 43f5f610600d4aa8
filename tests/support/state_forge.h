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

#endif
