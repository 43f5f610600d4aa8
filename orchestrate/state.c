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
#include "sidefile.h"
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

/* ---- The state folder's lock, and what killed runs left in it ---- */

/* "NAME.<16 hex>.tmp": the temporaries older pomove versions wrote the
 * plan, the stage record and the registry backups under (pm_statefile_
 * write, before fileutil.c). They carry no pid, so only a process that
 * holds the state lock may take them for abandoned. */
static bool old_temp_name(const char *name) {
  size_t n = strlen(name);
  if (n < 1 + 1 + 16 + 4 || strcmp(name + n - 4, ".tmp")) return false;
  const char *h = name + n - 4 - 16;
  if (h[-1] != '.') return false;
  for (int i = 0; i < 16; i++)
    if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
      return false;
  return true;
}

/* Removes the abandoned temporaries directly in folder `rel` of `dir`
 * ("" for dir itself): the old names, and "<name>.tmp-<pid>-<n>" whose
 * pid has ended. Regular files only, looked at and removed beneath the
 * handle (stat_at and unlink_at act on a link itself, never on what it
 * points to). Returns the number removed. */
static int sweep_in(const pm_fs *fs, pm_fd dir, const char *base,
                    const char *rel) {
  pm_dir *d;
  if (pm_fs_opendir_at(fs, dir, rel, &d)) return 0;
  pm_strlist names = {0};
  pm_dirent e;
  while (pm_fs_readdir(fs, d, &e) > 0) {
    uint32_t pid = pm_side_temp_pid(e.name);
    if (old_temp_name(e.name) ||
        (pid && pid != pm_process_id() && !pm_process_alive(pid)))
      pm_strlist_add(&names, e.name);
  }
  pm_fs_closedir(fs, d);
  int removed = 0;
  for (size_t i = 0; i < names.n; i++) {
    char *r = *rel ? pm_xasprintf("%s/%s", rel, names.v[i])
                   : pm_xstrdup(names.v[i]);
    pm_stat st;
    if (pm_fs_stat_at(fs, dir, r, &st) == 0 && st.type == PM_T_FILE &&
        pm_fs_unlink_at(fs, dir, r) == 0) {
      char *full = pm_path_join(base, r);
      char *shown = pm_display_path(full);
      uint32_t pid = pm_side_temp_pid(names.v[i]);
      if (pid)
        pm_warnf("removed '%s', a temporary file of the move's state left "
                 "by pomove process %u, which has ended",
                 shown, (unsigned)pid);
      else
        pm_warnf("removed '%s', a temporary file of the move's state that "
                 "an older pomove left (this process holds the state lock, "
                 "so no other pomove is writing it)",
                 shown);
      free(shown);
      free(full);
      removed++;
    }
    free(r);
  }
  pm_strlist_free(&names);
  return removed;
}

int orch_state_sweep(const pm_fs *fs, const char *base) {
  pm_fd dir;
  int rc = pm_fs_open(fs, base, PM_O_RDONLY | PM_O_DIRECTORY | PM_O_NOFOLLOW,
                      0, &dir);
  if (rc) return rc;
  int removed = sweep_in(fs, dir, base, "");
  /* One level down: current/ and the archived move-* folders, which hold
   * the plan and the registry backup. */
  pm_dir *d;
  pm_strlist subs = {0};
  if (pm_fs_opendir_at(fs, dir, "", &d) == 0) {
    pm_dirent e;
    while (pm_fs_readdir(fs, d, &e) > 0)
      if (strcmp(e.name, ".") && strcmp(e.name, ".."))
        pm_strlist_add(&subs, e.name);
    pm_fs_closedir(fs, d);
  }
  for (size_t i = 0; i < subs.n; i++) {
    pm_stat st;
    if (pm_fs_stat_at(fs, dir, subs.v[i], &st) == 0 && st.type == PM_T_DIR)
      removed += sweep_in(fs, dir, base, subs.v[i]);
  }
  pm_strlist_free(&subs);
  pm_fs_close(fs, dir);
  return removed;
}

int orch_state_lock(pm_host *h, const char *state_dir, bool create,
                    pm_sidelock *lk) {
  lk->fd = PM_FD_INVALID;
  lk->path = NULL;
  const char *base = state_dir ? state_dir : h->state_dir;
  pm_stat st;
  int rc = pm_fs_stat(h->fs, base, true, &st);
  if (rc == PM_ENOENT && !create) return 0; /* nothing to guard yet */
  if (rc == PM_ENOENT) {
    rc = pm_file_mkdirs(h->fs, base, 0755, NULL);
    if (rc) {
      pm_report_error("create the state folder", base, rc);
      return rc;
    }
  } else if (rc) {
    pm_report_error("look at the state folder", base, rc);
    return rc;
  }
  char *path = pm_path_join(base, "lock");
  rc = pm_side_lock(h->fs, path, "state lock file", lk);
  free(path);
  if (rc == 0) orch_state_sweep(h->fs, base);
  return rc;
}

void orch_state_unlock(pm_host *h, pm_sidelock *lk) {
  pm_side_unlock(h->fs, lk);
}
