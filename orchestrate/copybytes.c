/* copybytes.c - orch_copy_bytes (see orch.h). */
#include <stdlib.h>

#include "orch.h"
#include "util.h"

int orch_copy_bytes(const pm_fs_ops *fs, pm_fd in, pm_fd out) {
  enum { BUFSZ = 1 << 16 };
  char *buf = pm_xmalloc(BUFSZ);
  uint64_t off = 0;
  int rc = 0;
  for (;;) {
    int64_t n = fs->pread(in, buf, BUFSZ, off);
    if (n <= 0) {
      if (n < 0) rc = (int)n;
      break;
    }
    int64_t w = fs->pwrite(out, buf, (size_t)n, off);
    if (w != n) {
      rc = w < 0 ? (int)w : PM_EIO;
      break;
    }
    off += (uint64_t)n;
  }
  free(buf);
  return rc;
}
