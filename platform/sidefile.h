/* sidefile.h - the files pomove keeps beside (or inside) a tree it
 * writes: journals, manifests, lock files, plans, backups.
 *
 * Such a file sits at a name anybody who can write the directory may have
 * planted something at: a symlink to a file outside, a hard link to one, a
 * FIFO that blocks an open forever, a directory. So a side file is never
 * opened by its name without care. A new one is created under a temporary
 * name of its own with O_CREAT|O_EXCL|O_NOFOLLOW semantics (whatever is
 * found at a candidate name is left alone and the next name is tried) and
 * only then renamed (or linked) into place. An existing one that pomove
 * reads or continues (a journal on resume, a lock file) is opened without
 * following a symlink and without waiting on a FIFO, and checked on the
 * opened handle: a regular file with one link, owned by this user or by
 * the administrator. Everything goes through a pm_fs_ops table, so every
 * backend (and every fault-injecting wrapper) gets the same guarantees.
 *
 * Every function here reports its own failures (naming the file, what it
 * is for, what was found and what to do) and returns a PM_E* code; the
 * caller adds nothing. Any module may include this header. */
#ifndef POMOVE_SIDEFILE_H
#define POMOVE_SIDEFILE_H

#include <stdbool.h>

#include "platform.h"

/* A new side file, open for reading and writing under its temporary name
 * until it is published. */
typedef struct pm_sidefile {
  pm_fd fd;
  char *path; /* the name it is published at */
  char *tmp;  /* the name it was created under; NULL once published */
} pm_sidefile;

/* Creates a new empty side file that will be published at `path`, under
 * the temporary name "<path>.tmp-<pid>-<n>" in the same directory, with
 * permission bits `mode`. `what` names the file in reports ("journal",
 * "manifest"). Refused with a report: `path` exists and is not a regular
 * file (a symlink: PM_ELOOP; a directory: PM_EISDIR; a FIFO, socket or
 * device: PM_ESPECIAL). Returns 0 and fills *sf, or a PM_E* code. */
int pm_side_create(const pm_fs *fs, const char *path, const char *what,
                   uint32_t mode, pm_sidefile *sf);

/* Publishes a side file at its name with a rename that replaces what is
 * there (the name itself, never what a link there points to), after
 * checking again that it is not a symlink, directory or special file, so
 * that such a thing is refused with a clear message. The file stays open
 * at sf->fd; on failure (reported) the temporary file is removed and
 * closed. */
int pm_side_publish(const pm_fs *fs, pm_sidefile *sf, const char *what);

/* Closes a side file and, when it was never published, removes its
 * temporary name. */
void pm_side_discard(const pm_fs *fs, pm_sidefile *sf);
/* Closes a published side file (keeps it) and frees the names; returns
 * the close's result. */
int pm_side_close(const pm_fs *fs, pm_sidefile *sf);

/* Opens the existing side file `path` with `flags` (PM_O_RDONLY or
 * PM_O_RDWR, no creation) and checks what was opened. PM_ENOENT, not
 * reported, when nothing is there. Refused with a report naming the file
 * and what to do: a symlink (PM_ELOOP), a directory (PM_EISDIR), a FIFO,
 * socket or device (PM_ESPECIAL; never waited on), a file with more than
 * one link or owned by another user (PM_ESTATE), or one the OS refuses to
 * open (PM_EACCES ...). `fix` completes the advice ("or use --restart");
 * may be NULL. */
int pm_side_open(const pm_fs *fs, const char *path, const char *what,
                 const char *fix, int flags, pm_fd *out);

/* Removes the temporaries that writers which have ended (a run killed
 * before it published or discarded its side file) left beside `path`:
 * the entries of path's folder named exactly "<name>.tmp-<pid>-<n>" as
 * pm_side_create makes them (pm_file_create_temp; name path's last
 * component), whose pid is not this process's and names no live process
 * (pm_process_alive), and which are regular files. Nothing is followed:
 * the folder is listed and each entry looked at (without following) and
 * removed beneath a handle on it (stat_at, unlink_at), so a symlink,
 * folder or special file with such a name is left alone, and so is every
 * other name. Says on stderr (pm_warnf) what was removed and why. Returns
 * the number removed, or a PM_E* code when the folder cannot be read
 * (not reported: leftovers are no reason to fail a command). */
int pm_side_sweep(const pm_fs *fs, const char *path, const char *what);

/* The pid in a temporary name "<name>.tmp-<pid>-<n>" as
 * pm_file_create_temp makes them, whatever <name> (not empty) is; 0 when
 * `name` is not exactly such a name. */
uint32_t pm_side_temp_pid(const char *name);

/* True for the codes pm_side_create/pm_side_open/pm_side_lock refuse a
 * file with (as opposed to a failure of the medium): a command exits 2
 * (unusable argument) on them. */
bool pm_side_refused(int err);

/* An exclusive lock on a lock file beside a tree, held by this process
 * until pm_side_unlock() or its end. */
typedef struct pm_sidelock {
  pm_fd fd;
  char *path;
} pm_sidelock;

/* Takes the lock file `path` with fs->lock: created with O_CREAT|O_EXCL|
 * O_NOFOLLOW when absent, else opened as pm_side_open does (no link
 * followed, no FIFO waited on, a regular file of ours); once locked, one
 * link and still at its name. Then it writes into it this process's id,
 * the host name and the time. When another process holds it: PM_EBUSY, reported with what the
 * file says of the holder (pid, host, start time) and the lock file's
 * name. A lock file left by a process that died holds no lock: it is
 * taken and rewritten. */
int pm_side_lock(const pm_fs *fs, const char *path, const char *what,
                 pm_sidelock *lk);
/* Removes the lock file and releases the lock. */
void pm_side_unlock(const pm_fs *fs, pm_sidelock *lk);

#endif
