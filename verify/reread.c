/* reread.c - hashes a file as the medium holds it: O_DIRECT where the file
 * system supports it, otherwise flush and drop the cached pages first. */
#include <stdlib.h>
#include <string.h>

#include "reread.h"
#include "util.h"

#define RR_BUF (1u << 20)
#define RR_ALIGN 4096

const char *vf_reread_method_name(int method) {
  return method == VF_REREAD_DIRECT ? "O_DIRECT" : "flush and drop cache";
}

int vf_hash_file_uncached(const pm_fs_ops *fs, const char *path,
                          pm_hash128 *out, uint64_t *size, int *method) {
  pm_fd fd;
  int rc = fs->open(path, PM_O_RDONLY | PM_O_DIRECT | PM_O_NOFOLLOW, 0, &fd);
  *method = VF_REREAD_DIRECT;
  if (rc == PM_EINVAL || rc == PM_ENOTSUP) {
    /* tmpfs and some others refuse O_DIRECT. */
    rc = fs->open(path, PM_O_RDONLY | PM_O_NOFOLLOW, 0, &fd);
    if (rc) return rc;
    *method = VF_REREAD_DROPCACHE;
    rc = fs->fsync(fd, true);
    if (!rc) rc = fs->drop_cache(fd, 0, 0);
    if (rc) {
      fs->close(fd);
      return rc;
    }
  } else if (rc) {
    return rc;
  }
  void *buf = NULL;
  if (posix_memalign(&buf, RR_ALIGN, RR_BUF) != 0) {
    fs->close(fd);
    return PM_ENOMEM;
  }
  pm_hasher *h = pm_hasher_create();
  uint64_t off = 0;
  for (;;) {
    int64_t n = fs->pread(fd, buf, RR_BUF, off);
    if (n < 0) {
      rc = (int)n;
      break;
    }
    if (n == 0) break;
    pm_hasher_update(h, buf, (size_t)n);
    off += (uint64_t)n;
    /* O_DIRECT returns a short read only at the end of the file. */
    if ((uint64_t)n < RR_BUF) break;
  }
  if (!rc) {
    *out = pm_hasher_digest(h);
    *size = off;
  }
  pm_hasher_free(h);
  free(buf);
  int crc = fs->close(fd);
  return rc ? rc : crc;
}
