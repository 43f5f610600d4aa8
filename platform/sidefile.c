/* sidefile.c - creating, publishing, reopening and locking the files
 * pomove keeps beside a tree without ever following what somebody planted
 * at their names (see sidefile.h). Only the pm_fs_ops table is used, so
 * that every backend and every test wrapper gets the same behaviour. */
#include "sidefile.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "host.h"
#include "sys.h"
#include "util.h"

bool pm_side_refused(int err) {
  return err == PM_ELOOP || err == PM_EISDIR || err == PM_ESPECIAL ||
         err == PM_ESTATE || err == PM_EBUSY || err == PM_EACCES ||
         err == PM_EPERM || err == PM_ENOTDIR || err == PM_EFORMAT;
}

/* The code a side file of type t is refused with. */
static int type_err(pm_ftype t) {
  return t == PM_T_SYMLINK ? PM_ELOOP
         : t == PM_T_DIR   ? PM_EISDIR
                           : PM_ESPECIAL;
}

static void refuse_type(const char *what, const char *path, pm_ftype t,
                        const char *fix) {
  char *shown = pm_display_path(path);
  pm_oserr_set(0);
  pm_report_errorf(type_err(t),
                   "%s '%s' is a %s, not a file pomove wrote; pomove never "
                   "opens or replaces its own files through a link or "
                   "another kind of file: remove '%s'%s and run the command "
                   "again",
                   what, shown, pm_ftype_name(t), shown, fix ? fix : "");
  free(shown);
}

/* Whatever is at `path` must be absent or a regular file. */
static int check_name(const pm_fs *fs, const char *path, const char *what,
                      const char *fix) {
  pm_stat st;
  int rc = pm_fs_stat(fs, path, false, &st);
  if (rc == PM_ENOENT) return 0;
  if (rc) {
    char *op = pm_xasprintf("look at %s", what);
    pm_report_error(op, path, rc);
    free(op);
    return rc;
  }
  if (st.type == PM_T_FILE) return 0;
  refuse_type(what, path, st.type, fix);
  return type_err(st.type);
}

int pm_side_create(const pm_fs *fs, const char *path, const char *what,
                   uint32_t mode, pm_sidefile *sf) {
  memset(sf, 0, sizeof *sf);
  sf->fd = PM_FD_INVALID;
  int rc = check_name(fs, path, what, NULL);
  if (rc) return rc;
  pm_fd fd;
  char *tmp;
  rc = pm_file_create_temp(fs, path, PM_O_RDWR, mode, &fd, &tmp);
  if (rc == 0) {
    sf->fd = fd;
    sf->tmp = tmp;
    sf->path = pm_xstrdup(path);
    return 0;
  }
  if (rc != PM_EEXIST) {
    char *op = pm_xasprintf("create %s", what);
    pm_report_error(op, tmp, rc);
    free(tmp);
    free(op);
    return rc;
  }
  char *shown = pm_display_path(path);
  pm_oserr_set(0);
  pm_report_errorf(PM_EEXIST,
                   "create %s '%s': %d temporary names beside it are all "
                   "taken; remove the files named '%s.tmp-*'",
                   what, shown, PM_FILE_TEMP_TRIES, shown);
  free(shown);
  return PM_EEXIST;
}

int pm_side_publish(const pm_fs *fs, pm_sidefile *sf, const char *what) {
  /* rename() replaces the name itself, never what a link there points
   * to: the check is for a clear message, not for safety. */
  int rc = check_name(fs, sf->path, what, NULL);
  if (!rc) {
    rc = pm_fs_rename(fs, sf->tmp, sf->path);
    if (rc) {
      char *op = pm_xasprintf("rename %s into place", what);
      pm_report_error(op, sf->path, rc);
      free(op);
    }
  }
  if (rc) {
    pm_side_discard(fs, sf);
    return rc;
  }
  free(sf->tmp);
  sf->tmp = NULL;
  return 0;
}

void pm_side_discard(const pm_fs *fs, pm_sidefile *sf) {
  if (sf->fd != PM_FD_INVALID) pm_fs_close(fs, sf->fd);
  sf->fd = PM_FD_INVALID;
  if (sf->tmp) pm_fs_unlink(fs, sf->tmp);
  free(sf->tmp);
  free(sf->path);
  sf->tmp = sf->path = NULL;
}

int pm_side_close(const pm_fs *fs, pm_sidefile *sf) {
  int rc = 0;
  if (sf->fd != PM_FD_INVALID) rc = pm_fs_close(fs, sf->fd);
  sf->fd = PM_FD_INVALID;
  free(sf->tmp);
  free(sf->path);
  sf->tmp = sf->path = NULL;
  return rc;
}

/* Opens without following a link or waiting on a FIFO; checks the type
 * and the owner on the handle, and the link count when `links` is set. */
static int open_checked(const pm_fs *fs, const char *path,
                        const char *what, const char *fix, int flags,
                        bool links, pm_fd *out) {
  pm_fd fd;
  int rc = pm_fs_open(fs, path,
                    (flags & PM_O_ACCMODE) | PM_O_NOFOLLOW | PM_O_REGULAR, 0,
                    &fd);
  if (rc == PM_ENOENT) return rc;
  if (rc == PM_ELOOP || rc == PM_EISDIR || rc == PM_ESPECIAL ||
      rc == PM_ENXIO) {
    /* Name what is there rather than the open's error. */
    pm_stat st;
    if (pm_fs_stat(fs, path, false, &st) == 0 && st.type != PM_T_FILE) {
      refuse_type(what, path, st.type, fix);
      return type_err(st.type);
    }
  }
  if (rc) {
    char *op = pm_xasprintf("open %s", what);
    char *shown = pm_display_path(path);
    pm_report_errorf(rc, "%s '%s' (remove it%s, or fix its permissions)", op,
                     shown, fix ? fix : "");
    free(shown);
    free(op);
    return rc;
  }
  pm_stat st;
  rc = pm_fs_fstat(fs, fd, &st);
  if (rc) {
    char *op = pm_xasprintf("read metadata of %s", what);
    pm_report_error(op, path, rc);
    free(op);
    pm_fs_close(fs, fd);
    return rc;
  }
  uint32_t me = pm_user_id();
  const char *why = NULL;
  char buf[96];
  if (links && st.nlink != 1) {
    snprintf(buf, sizeof buf, "has %llu links (a hard link to another file?)",
             (unsigned long long)st.nlink);
    why = buf;
  } else if (st.uid != me && st.uid != 0) {
    snprintf(buf, sizeof buf, "belongs to user %u, not to this user (%u)",
             (unsigned)st.uid, (unsigned)me);
    why = buf;
  }
  if (why) {
    char *shown = pm_display_path(path);
    pm_oserr_set(0);
    pm_report_errorf(PM_ESTATE,
                     "%s '%s' %s: pomove does not continue a file it may not "
                     "have written; remove '%s'%s and run the command again",
                     what, shown, why, shown, fix ? fix : "");
    free(shown);
    pm_fs_close(fs, fd);
    return PM_ESTATE;
  }
  *out = fd;
  return 0;
}

/* The pid of a temporary name "<base>.tmp-<pid>-<n>" (n: decimal digits
 * then 5 hex digits, so at least 6 lower-case hex digits), or 0 when
 * `name` is not exactly such a name. */
static uint32_t temp_pid(const char *name, const char *base) {
  size_t bl = strlen(base);
  if (strncmp(name, base, bl) || strncmp(name + bl, ".tmp-", 5)) return 0;
  const char *p = name + bl + 5;
  uint64_t pid = 0;
  size_t digits = 0;
  for (; *p >= '0' && *p <= '9'; p++, digits++) {
    pid = pid * 10 + (uint64_t)(*p - '0');
    if (pid > UINT32_MAX) return 0;
  }
  if (!digits || (digits > 1 && p[-(ptrdiff_t)digits] == '0') || *p != '-')
    return 0;
  size_t hex = 0;
  for (p++; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++) hex++;
  return hex >= 6 && !*p ? (uint32_t)pid : 0;
}

uint32_t pm_side_temp_pid(const char *name) {
  /* The pid part holds no '.', so only the last ".tmp-" can start it. */
  const char *t = NULL;
  for (const char *p = strstr(name, ".tmp-"); p; p = strstr(p + 1, ".tmp-"))
    t = p;
  if (!t || t == name) return 0;
  char *base = pm_xasprintf("%.*s", (int)(t - name), name);
  uint32_t pid = temp_pid(name, base);
  free(base);
  return pid;
}

int pm_side_sweep(const pm_fs *fs, const char *path, const char *what) {
  char *parent, *base;
  pm_path_split(path, &parent, &base);
  pm_fd dir = PM_FD_INVALID;
  pm_dir *d = NULL;
  int rc = *base ? 0 : PM_EINVAL;
  if (!rc) rc = pm_fs_open(fs, parent, PM_O_RDONLY | PM_O_DIRECTORY, 0, &dir);
  if (!rc) rc = pm_fs_opendir_at(fs, dir, "", &d);
  pm_strlist names = {0};
  if (!rc) {
    pm_dirent e;
    while ((rc = pm_fs_readdir(fs, d, &e)) > 0)
      if (temp_pid(e.name, base)) pm_strlist_add(&names, e.name);
    pm_fs_closedir(fs, d);
  }
  uint32_t me = pm_process_id();
  int removed = 0;
  for (size_t i = 0; rc == 0 && i < names.n; i++) {
    uint32_t pid = temp_pid(names.v[i], base);
    pm_stat st;
    if (pid == me || pm_process_alive(pid)) continue;
    if (pm_fs_stat_at(fs, dir, names.v[i], &st) || st.type != PM_T_FILE) continue;
    /* unlink_at removes the name itself: were the file swapped for a
     * link since the look, the link would go, never what it points to. */
    if (pm_fs_unlink_at(fs, dir, names.v[i])) continue;
    char *full = pm_path_join(parent, names.v[i]);
    char *shown = pm_display_path(full);
    pm_warnf("removed '%s', a temporary %s left by pomove process %u, "
             "which has ended",
             shown, what, (unsigned)pid);
    free(shown);
    free(full);
    removed++;
  }
  pm_strlist_free(&names);
  if (dir != PM_FD_INVALID) pm_fs_close(fs, dir);
  free(parent);
  free(base);
  return rc < 0 ? rc : removed;
}

int pm_side_open(const pm_fs *fs, const char *path, const char *what,
                 const char *fix, int flags, pm_fd *out) {
  return open_checked(fs, path, what, fix, flags, true, out);
}

/* ---- lock files ---- */

static int write_holder(const pm_fs *fs, pm_fd fd) {
  char host[256], when[64];
  pm_host_name(host, sizeof host);
  pm_utc_now(when, sizeof when);
  char *text = pm_xasprintf("pid %u\nhost %s\nstarted %s\n", pm_process_id(),
                            host, when);
  int rc = pm_fs_ftruncate(fs, fd, 0);
  if (!rc) rc = pm_file_write_all(fs, fd, text, strlen(text), 0);
  free(text);
  return rc;
}

/* "pid 12, host h, started T" from what a holder wrote (any bytes). */
static char *describe_holder(const pm_fs *fs, pm_fd fd) {
  char raw[512];
  int64_t n = pm_fs_pread(fs, fd, raw, sizeof raw - 1, 0);
  if (n <= 0) return pm_xstrdup("it has not written its name yet");
  raw[n] = '\0';
  size_t len = strlen(raw);
  while (len && raw[len - 1] == '\n') raw[--len] = '\0';
  for (char *p = raw; *p; p++)
    if (*p == '\n') *p = ',';
  char *shown = pm_display_path(raw);
  /* "pid 1,host h" reads better with a space after each comma. */
  size_t commas = 0;
  for (char *p = shown; *p; p++) commas += *p == ',';
  char *out = pm_xmalloc(strlen(shown) + commas + 1), *o = out;
  for (char *p = shown; *p; p++) {
    *o++ = *p;
    if (*p == ',') *o++ = ' ';
  }
  *o = '\0';
  free(shown);
  return out;
}

int pm_side_lock(const pm_fs *fs, const char *path, const char *what,
                 pm_sidelock *lk) {
  lk->fd = PM_FD_INVALID;
  lk->path = NULL;
  /* Each turn either takes the lock, is refused, or saw the file replaced
   * or removed by a holder that was just finishing: then it looks again. */
  for (int turn = 0; turn < 100; turn++) {
    /* A new lock file is created at its name directly, with O_EXCL and
     * O_NOFOLLOW: nothing planted there is opened, and no temporary name
     * or second link is ever left behind by a crash. It is empty until
     * its holder has written itself in, which a reader says. */
    pm_fd fd;
    int rc = pm_fs_open(fs, path,
                      PM_O_RDWR | PM_O_CREAT | PM_O_EXCL | PM_O_NOFOLLOW,
                      0644, &fd);
    if (rc == PM_EEXIST)
      rc = open_checked(fs, path, what, NULL, PM_O_RDWR, false, &fd);
    else if (rc) {
      char *op = pm_xasprintf("create %s", what);
      pm_report_error(op, path, rc);
      free(op);
      return rc;
    }
    if (rc == PM_ENOENT) continue; /* removed meanwhile: create it */
    if (rc) return rc;
    rc = pm_fs_lock(fs, fd);
    if (rc == PM_EBUSY) {
      char *who = describe_holder(fs, fd);
      char *shown = pm_display_path(path);
      pm_oserr_set(0);
      pm_report_errorf(PM_EBUSY,
                       "another pomove process is working on this "
                       "destination (%s; %s '%s'): wait for it to end, or "
                       "stop it. The OS releases the lock when that process "
                       "ends, even if it is killed, so the file need not be "
                       "removed",
                       who, what, shown);
      free(shown);
      free(who);
      pm_fs_close(fs, fd);
      return PM_EBUSY;
    }
    if (rc) {
      char *op = pm_xasprintf("lock %s", what);
      pm_report_error(op, path, rc);
      free(op);
      pm_fs_close(fs, fd);
      return rc;
    }
    /* Ours: but only if the name still leads to the file locked (a
     * finishing holder removes it) and nobody linked it elsewhere. */
    pm_stat a, b;
    if (pm_fs_fstat(fs, fd, &a) == 0 && pm_fs_stat(fs, path, false, &b) == 0 &&
        a.dev == b.dev && a.ino == b.ino) {
      if (a.nlink != 1) {
        char *shown = pm_display_path(path);
        pm_oserr_set(0);
        pm_report_errorf(PM_ESTATE,
                         "%s '%s' has %llu links (a hard link to another "
                         "file?): pomove does not write into it; remove it "
                         "and run the command again",
                         what, shown, (unsigned long long)a.nlink);
        free(shown);
        pm_fs_close(fs, fd);
        return PM_ESTATE;
      }
      rc = write_holder(fs, fd);
      if (rc) {
        char *op = pm_xasprintf("write %s", what);
        pm_report_error(op, path, rc);
        free(op);
        pm_fs_close(fs, fd);
        return rc;
      }
      lk->fd = fd;
      lk->path = pm_xstrdup(path);
      return 0;
    }
    pm_fs_close(fs, fd);
  }
  char *shown = pm_display_path(path);
  pm_oserr_set(0);
  pm_report_errorf(PM_EBUSY,
                   "%s '%s' keeps being replaced by another process; stop "
                   "the other pomove and run the command again",
                   what, shown);
  free(shown);
  return PM_EBUSY;
}

void pm_side_unlock(const pm_fs *fs, pm_sidelock *lk) {
  if (lk->fd == PM_FD_INVALID) return;
  /* Removed while still locked, and only if the name is still ours, so
   * that a lock another process has since made is never removed. */
  pm_stat a, b;
  if (pm_fs_fstat(fs, lk->fd, &a) == 0 && pm_fs_stat(fs, lk->path, false, &b) == 0 &&
      a.dev == b.dev && a.ino == b.ino)
    pm_fs_unlink(fs, lk->path);
  pm_fs_close(fs, lk->fd);
  lk->fd = PM_FD_INVALID;
  free(lk->path);
  lk->path = NULL;
}
