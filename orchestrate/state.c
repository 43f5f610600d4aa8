/* state.c - the state folder of a move (<state>/current: the plan, the
 * step journal, the registry backup, the copy's journal and manifest):
 * where it is, and the two things its own text files share, reading one
 * whole and the XXH3-128 that ends the plan and every journal record.
 * Used by plan.c and step_journal.c. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "orch.h"
#include "sys.h"
#include "util.h"

char *orch_state_current(pm_host *h, const char *state_dir) {
  return pm_path_join(state_dir ? state_dir : h->state_dir, "current");
}

/* Reads a state file whole, never through a symlink (pm_statefile_open);
 * PM_ESHORT when it shrinks while read. The text is NUL-terminated for
 * convenience, but may hold NUL bytes of its own: callers use *len. */
int orch_state_read(const pm_fs_ops *fs, const char *path, char **out,
                    size_t *len) {
  pm_fd fd;
  *out = NULL;
  *len = 0;
  PM_TRY(pm_statefile_open(fs, path, PM_O_RDONLY, 0, &fd));
  pm_stat st;
  int rc = fs->fstat(fd, &st);
  if (rc == 0) {
    char *b = pm_xmalloc(st.size + 1);
    size_t got = 0;
    while (got < st.size) {
      int64_t n = fs->pread(fd, b + got, st.size - got, got);
      if (n < 0) {
        rc = (int)n;
        break;
      }
      if (n == 0) {
        pm_oserr_set(0);
        rc = PM_ESHORT;
        break;
      }
      got += (size_t)n;
    }
    b[got] = '\0';
    if (rc == 0) {
      *out = b;
      *len = got;
    } else {
      free(b);
    }
  }
  fs->close(fd);
  return rc;
}

void orch_state_hash_hex(const char *s, size_t len, char out[33]) {
  pm_hash128 h = pm_hash_buffer(s, len);
  pm_hash_hex(&h, out);
}
