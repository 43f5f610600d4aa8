/* state.c - the state folder of a move (<state>/current: the plan, the
 * step journal, the registry backup, the copy's journal and manifest):
 * where it is, and the two things its own text files share, reading one
 * whole and the XXH3-128 that ends the plan and every journal record.
 * Used by plan.c and step_journal.c. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "fileutil.h"
#include "orch.h"
#include "sys.h"
#include "util.h"

char *orch_state_current(pm_host *h, const char *state_dir) {
  return pm_path_join(state_dir ? state_dir : h->state_dir, "current");
}

/* State files are read whole, never through a symlink (fileutil.h:
 * bounded, short reads asked again, PM_ESHORT/PM_ECHANGED when the file
 * changes while read). The text is NUL-terminated for convenience, but
 * may hold NUL bytes of its own: callers use *len. */
#define STATE_MAX ((size_t)256 << 20)

int orch_state_read(const pm_fs *fs, const char *path, char **out,
                    size_t *len) {
  return pm_file_read(fs, path, STATE_MAX, out, len);
}

void orch_state_hash_hex(const char *s, size_t len, char out[33]) {
  pm_hash128 h = pm_hash_buffer(s, len);
  pm_hash_hex(&h, out);
}
