/* md5.h - MD5 (RFC 1321), only to recognise a manifest written by md5sum:
 * its lines look exactly like XXH128 lines (32 hex digits, two spaces, a
 * name), so only the files' MD5 can tell them apart. Not for security.
 * Owner: verify/. */
#ifndef VF_MD5_H
#define VF_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct vf_md5 {
  uint32_t h[4];
  uint64_t len;
  uint8_t buf[64];
} vf_md5;

void vf_md5_init(vf_md5 *m);
void vf_md5_update(vf_md5 *m, const void *data, size_t n);
void vf_md5_final(vf_md5 *m, uint8_t out[16]);

#endif
