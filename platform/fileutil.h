/* fileutil.h - the one place for whole-file chores over a pm_fs_ops table:
 * read a regular file whole, write all of a buffer, replace a file
 * atomically, make a folder and its parents, remove a tree, copy one
 * file's bytes. Before this module each command carried its own copy, and
 * two of them took a short read or write for the whole transfer.
 *
 * Every function goes through the table the caller gives, so a test can
 * wrap it and inject faults (short transfers, a full disk). None of them
 * reports anything: each returns 0 (or a count) or a negative PM_E* code,
 * with the OS's own code recorded as the table's call left it; the caller
 * names the file and what it was for. Short reads and writes are always
 * asked again for the rest (platform.h allows any call to transfer less
 * than asked). Any module may include this header. */
#ifndef POMOVE_FILEUTIL_H
#define POMOVE_FILEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"

/* Writes all `len` bytes of buf at `off` of fd, asking again after each
 * short write; a write that transfers nothing is PM_EIO. */
int pm_file_write_all(const pm_fs *fs, pm_fd fd, const void *buf,
                      size_t len, uint64_t off);

/* Opens the regular file at `path` never through a symlink and never
 * waiting on a FIFO or device (PM_O_NOFOLLOW | PM_O_REGULAR added to
 * `flags`): a symlink is PM_ELOOP, anything but a regular file
 * PM_ESPECIAL (or PM_EISDIR). With PM_O_CREAT a new file is made, never
 * through a link. */
int pm_file_open_regular(const pm_fs *fs, const char *path, int flags,
                         uint32_t mode, pm_fd *out);

/* Reads the file open at fd whole, from offset 0: the size fstat gives,
 * at most `max` bytes (PM_EFBIG beyond). *out is malloc'd with a NUL
 * after the data (the data may hold NULs of its own: use *len); on
 * failure *out is NULL and *len 0. PM_ESHORT when the file ends before
 * the size fstat gave (it shrank while read), PM_ECHANGED when it has
 * more (it grew): either way the bytes are not the file's. */
int pm_file_read_fd(const pm_fs *fs, pm_fd fd, size_t max, char **out,
                    size_t *len);
/* pm_file_read_fd of the regular file at `path`, opened as
 * pm_file_open_regular does (never through a symlink: PM_ELOOP). */
int pm_file_read(const pm_fs *fs, const char *path, size_t max,
                 char **out, size_t *len);

/* Candidate temporary names pm_file_create_temp tries before giving up. */
#define PM_FILE_TEMP_TRIES 1000

/* Creates a new file for writing beside `path`, at the name
 * "<path>.tmp-<pid>-<n>" (pid this process's id in decimal; n decimal
 * digits then 5 hex digits), with PM_O_CREAT | PM_O_EXCL | PM_O_NOFOLLOW,
 * the access mode of `flags` and permission bits `mode`: whatever is at a
 * candidate name (planted, or left by a killed run) is never opened, and
 * the next name is tried. The pid lets a later run tell a killed writer's
 * leftovers from a live one's (pm_side_sweep). Returns 0 with *fd open
 * and *tmp the name (malloc'd); PM_EEXIST (*tmp NULL) when all
 * PM_FILE_TEMP_TRIES names are taken; another failure of the open with
 * *tmp the name it failed at (malloc'd, for the caller's report). */
int pm_file_create_temp(const pm_fs *fs, const char *path, int flags,
                        uint32_t mode, pm_fd *fd, char **tmp);

enum {
  PM_FILE_SYNC = 1 /* fsync the file before the rename, its folder after */
};

/* Replaces `path` whole with `len` bytes of data: refused when something
 * other than a regular file is at `path` (a symlink: PM_ELOOP, never
 * followed nor replaced; a folder: PM_EISDIR; else PM_ESPECIAL); else the
 * bytes go to a new temporary beside it (pm_file_create_temp, mode
 * `mode`), which is synced with PM_FILE_SYNC and renamed over `path`
 * (then the folder holding it is synced, so that the rename survives a
 * crash). On any failure before the rename the old file is left as it
 * was and the temporary is removed; an I/O error syncing the folder after
 * it is returned with the new file in place (an OS or file system that
 * cannot sync a folder is not an error). */
int pm_file_write_atomic(const pm_fs *fs, const char *path,
                         const void *data, size_t len, uint32_t mode,
                         unsigned flags);

/* Makes the folder `path` and every missing parent (mode `mode`); a
 * component that exists must be a folder (or a symlink to one, as mkdir
 * -p takes it): PM_ENOTDIR otherwise. *made (may be NULL) is increased by
 * the number of folders made. The root of the path (pm_path_root_len) is
 * never made. */
int pm_file_mkdirs(const pm_fs *fs, const char *path, uint32_t mode,
                   uint64_t *made);

/* Removes `path` and, when it is a folder, everything in it, depth first.
 * Nothing but the tree is ever touched: a symlink met anywhere in it (or
 * given as `path`) is removed itself, never followed, and every entry is
 * reached beneath a handle on the root (the *_at calls), so that a folder
 * swapped for a link while this runs leads nowhere outside. An absent
 * `path`, or an entry gone meanwhile, counts as removed. Stops between
 * entries when pm_interrupted() (PM_ECANCELED): a later call removes the
 * rest. On failure *failed (may be NULL) receives the path of the entry
 * that failed, malloc'd, for the caller's report. */
int pm_file_remove_tree(const pm_fs *fs, const char *path,
                        char **failed);

/* Copies the bytes of the file open at `in` (from offset 0 to its end)
 * to `out` at the same offsets, asking again after every short read and
 * write. *copied (may be NULL) receives the byte count. */
int pm_file_copy_fd(const pm_fs *fs, pm_fd in, pm_fd out,
                    uint64_t *copied);

/* Copies the regular file `src` (never through a symlink: PM_ELOOP) to
 * the new file `dst`, created with PM_O_CREAT | PM_O_EXCL |
 * PM_O_NOFOLLOW (anything at `dst` is PM_EEXIST, never written through),
 * with src's permission bits and modification and access times; synced
 * with PM_FILE_SYNC. On failure a `dst` it created is removed. */
int pm_file_copy(const pm_fs *fs, const char *src, const char *dst,
                 unsigned flags);

#endif
