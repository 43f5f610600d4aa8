/* platform.h - the OS boundary of pomove.
 *
 * Every OS call with a side effect goes through one of the function tables
 * declared here (file system, asynchronous I/O engine), so that tests can
 * wrap a table and inject faults, and so that a Win32 backend can slot in
 * beside the Linux one without touching the copy engine. Paths are UTF-8
 * everywhere in this API; a backend converts them if its OS wants another
 * form (UTF-16 with \\?\ on Windows). Any module may include this header.
 *
 * Errors: every function returns 0 (or a non-negative count) on success and
 * a negative PM_E* code on failure. The backend also records the OS's own
 * code (errno, GetLastError) for the calling thread; pm_oserr_last() reads
 * it so that a report can name it.
 */
#ifndef POMOVE_PLATFORM_H
#define POMOVE_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Marks a printf-like function (format string at argument `fmt`, the
 * values from `first`) so that the compiler checks every caller's format.
 * With mingw-w64 plain "printf" means the printf of msvcrt.dll, which
 * knows neither %zu nor %llu; a Windows build uses mingw's own stdio
 * instead (__USE_MINGW_ANSI_STDIO=1, set by CMakeLists.txt), whose
 * formats are GNU's: gnu_printf. */
#if defined(__MINGW32__)
#define PM_PRINTF_FMT(fmt, first) \
  __attribute__((format(gnu_printf, fmt, first)))
#else
#define PM_PRINTF_FMT(fmt, first) __attribute__((format(printf, fmt, first)))
#endif

/* Marks a parameter a function takes for its signature's sake only (the
 * object a file-system slot receives, where the backend needs no
 * context). */
#define PM_UNUSED __attribute__((unused))

/* One list of errors: the enum, pm_errname() and pm_strerror() are built
 * from it. */
#define PM_ERROR_LIST(X)                                                  \
  X(NOENT, "no such file or directory")                                   \
  X(ACCES, "permission denied")                                           \
  X(PERM, "operation not permitted")                                      \
  X(EXIST, "file exists")                                                 \
  X(NOTDIR, "not a directory")                                            \
  X(ISDIR, "is a directory")                                              \
  X(NOTEMPTY, "directory not empty")                                      \
  X(NOSPC, "no space left on device")                                     \
  X(DQUOT, "disk quota exceeded")                                         \
  X(IO, "input/output error")                                             \
  X(INTR, "interrupted system call")                                      \
  X(AGAIN, "resource temporarily unavailable")                            \
  X(BUSY, "file in use by another process")                               \
  X(NAMETOOLONG, "name too long")                                         \
  X(LOOP, "too many levels of symbolic links")                            \
  X(XDEV, "cross-device link")                                            \
  X(INVAL, "invalid argument")                                            \
  X(NOMEM, "out of memory")                                               \
  X(NOTSUP, "operation not supported")                                    \
  X(MFILE, "too many open files")                                         \
  X(ROFS, "read-only file system")                                        \
  X(BADF, "bad file descriptor")                                          \
  X(FBIG, "file too large")                                               \
  X(NXIO, "no such device or address")                                    \
  X(NODATA, "no such attribute")                                          \
  X(RANGE, "result too large")                                            \
  X(TIMEDOUT, "timed out")                                                \
  X(CANCELED, "operation canceled")                                       \
  X(CHANGED, "source changed while it was being copied")                  \
  X(SHORT, "file ended before its expected size")                         \
  X(CORRUPT, "checksum mismatch")                                         \
  X(FORMAT, "malformed input")                                            \
  X(STATE, "operation not valid in the current state")                    \
  X(SPECIAL, "not a regular file (FIFO, socket or device)")               \
  X(UNKNOWN, "unknown error")

enum pm_error {
  PM_OK = 0,
  PM_E_FIRST_ = -1000, /* errors are the negative values after this one */
#define PM_X_(name, msg) PM_E##name,
  PM_ERROR_LIST(PM_X_)
#undef PM_X_
  PM_E_LAST_
};

/* Static strings; never NULL. */
const char *pm_strerror(int err);
const char *pm_errname(int err);

/* The OS's own code behind the last error returned on this thread.
 * A backend records the code together with the PM_E* error it returns
 * (pm_oserr_record), so that a report can tell whether the code belongs to
 * the error it reports: pm_oserr_of(err) gives the code recorded with err,
 * or 0 when the last error recorded on this thread was another one (a
 * later call failed differently, or pomove made the error itself, such as
 * PM_EFORMAT or PM_ESHORT). pm_oserr_set() records a code for whatever
 * error is reported next: the way to hand a code captured on one thread
 * (an I/O request's oserr) to a report on another. A report consumes the
 * record. pm_oserr_last() reads the raw code. */
int pm_oserr_last(void);
void pm_oserr_set(int oserr);
void pm_oserr_record(int err, int oserr);
int pm_oserr_of(int err);

/* A file handle: an fd on POSIX, a HANDLE on Windows. */
typedef intptr_t pm_fd;
#define PM_FD_INVALID ((pm_fd)-1)

typedef enum pm_ftype {
  PM_T_UNKNOWN = 0,
  PM_T_FILE,
  PM_T_DIR,
  PM_T_SYMLINK,
  PM_T_FIFO,
  PM_T_SOCK,
  PM_T_CHR,
  PM_T_BLK
} pm_ftype;

const char *pm_ftype_name(pm_ftype t);

typedef struct pm_time {
  int64_t sec;
  int32_t nsec;
} pm_time;

typedef struct pm_stat {
  pm_ftype type;
  uint32_t mode; /* permission bits, 07777 */
  uint32_t uid, gid;
  uint64_t size;
  uint64_t blocks512; /* allocated 512-byte blocks (sparse detection) */
  uint64_t dev, ino, nlink, rdev;
  pm_time atime, mtime, ctime;
  uint32_t attrs; /* Windows FILE_ATTRIBUTE_* bits; 0 where none */
} pm_stat;

/* Open flags. */
enum {
  PM_O_RDONLY = 0,
  PM_O_WRONLY = 1,
  PM_O_RDWR = 2,
  PM_O_ACCMODE = 3,
  PM_O_CREAT = 1 << 2,
  PM_O_EXCL = 1 << 3,
  PM_O_TRUNC = 1 << 4,
  PM_O_DIRECT = 1 << 5,   /* bypass the cache; PM_EINVAL/NOTSUP where not */
  PM_O_NOFOLLOW = 1 << 6, /* fail with PM_ELOOP on a symlink */
  PM_O_NOATIME = 1 << 7,  /* best effort; silently dropped if refused */
  PM_O_DIRECTORY = 1 << 8,
  PM_O_APPEND = 1 << 9,
  /* The object opened must be a regular file: the open never waits on a
   * FIFO or device (O_NONBLOCK on POSIX; a check of the handle's type on
   * Windows) and fails with PM_ESPECIAL when the object is not a regular
   * file, so that a special file met where a file was listed is reported
   * instead of blocking the command. Reads of the regular file behave as
   * without the flag. */
  PM_O_REGULAR = 1 << 10,
  /* The file will have holes: on Windows an open for writing marks it
   * sparse (FSCTL_SET_SPARSE) before it returns, so that neither a write
   * past a hole nor ftruncate's extension allocates the hole; where the
   * volume refuses (FAT) the file stays ordinary and its holes are
   * allocated, which is not an error. Linux ignores it (a hole never
   * written is never allocated there). A read-only open ignores it. The
   * mark stays with the file: Windows 2000 cannot take it off. */
  PM_O_SPARSE = 1 << 11
};

typedef struct pm_dir pm_dir;

typedef struct pm_dirent {
  const char *name; /* valid until the next readdir/closedir */
  pm_ftype type;    /* PM_T_UNKNOWN when the file system does not say */
  uint64_t ino;
} pm_dirent;

typedef struct pm_fsinfo {
  char type[32];       /* "ext4", "tmpfs", "NTFS", "FAT" ... */
  uint64_t total_bytes;
  uint64_t free_bytes; /* available to this user */
  uint32_t block_size;
  uint64_t dev;
} pm_fsinfo;

/* The rules every file-system table keeps (tests/platform/
 * test_fs_contract.c checks each, against every table compiled in):
 *
 * Paths and names. A path is '/'-separated, interpreted as UTF-8 where
 * the OS wants characters, and of any length (a backend reaches paths past
 * its OS's limit itself: PATH_MAX, MAX_PATH). A name (one component) is
 * any string of 1 to 255 bytes without NUL or '/', other than "." and
 * "..": control bytes, a trailing CR, spaces, dots and bytes that are not
 * UTF-8 are all legal, and a name round-trips unchanged through create,
 * readdir and stat. A name of more than 255 bytes fails with
 * PM_ENAMETOOLONG.
 *
 * Listing. readdir never returns "." or "..", returns every entry exactly
 * once in no particular order, and gives the entry's own type (not
 * following a symlink) or PM_T_UNKNOWN; after the last entry it keeps
 * returning 0.
 *
 * Identity. (dev, ino) names one file on this machine while it exists:
 * the same through any of its paths (nlink counts them) and through an
 * open handle, kept across a rename, different for different files, and
 * dev equals pm_fsinfo.dev of the volume holding it. dirent.ino is a
 * hint only; stat's is the identity.
 *
 * Reads and writes. pread returning 0 is end of file; a read or write may
 * transfer less than asked (a read spanning the end returns at most the
 * bytes left), and the caller asks again for the rest. A write past the
 * end extends the file with zeros. rename replaces an existing target
 * atomically: an open of the target at any moment finds the old file or
 * the new one, whole.
 *
 * Errors the suite pins down: a missing file or parent PM_ENOENT; mkdir of
 * an existing name PM_EEXIST; rmdir of a non-empty directory
 * PM_ENOTEMPTY; opening a directory for writing PM_EISDIR; unlink of a
 * directory PM_EISDIR; PM_O_NOFOLLOW on a symlink PM_ELOOP; PM_O_CREAT |
 * PM_O_EXCL on any existing name, a dangling symlink included,
 * PM_EEXIST (it never creates through a link). After a failure
 * pm_oserr_last() holds the OS's own code for it, or 0 when no OS call
 * failed (PM_ESPECIAL, PM_ERANGE of a too-small buffer): never the code
 * of an earlier failure.
 *
 * Metadata. Times are 64-bit seconds and nanoseconds, kept to the file
 * system's granularity (exactly on ext4, tmpfs, xfs, btrfs; 100 ns on
 * NTFS); a NULL time in futimes/utimes leaves that time unchanged.
 * chown to the owner one already is succeeds. readlink needs room for the
 * target and a NUL (else PM_ERANGE); xattr_get fails with PM_ERANGE when
 * the value does not fit and PM_ENODATA when the name is absent; a file
 * system without extended attributes answers PM_ENOTSUP.
 *
 * Windows metadata as extended attributes. NTFS has no xattrs in the
 * POSIX sense; the Win32 table (platform/win32/meta_win32.c) gives the
 * metadata a copy must carry as a reserved namespace instead, so that the
 * copy engine copies them with its xattr pass (after the data and the
 * mode, before the times) and prunes them on an update, unchanged:
 *   win32.attributes  4 bytes, little-endian: the FILE_ATTRIBUTE_* word
 *       masked to what FileBasicInformation sets and a copy should carry:
 *       READONLY, HIDDEN, SYSTEM, ARCHIVE, TEMPORARY, OFFLINE,
 *       NOT_CONTENT_INDEXED (0x3127). Listed for every entry. Set: those
 *       bits become the value's (others ignored; a length other than 4 is
 *       PM_EINVAL); DIRECTORY, REPARSE_POINT, COMPRESSED, ENCRYPTED and
 *       SPARSE_FILE belong to the file system and are not carried.
 *       Removed: those bits are cleared.
 *   win32.security  the self-relative security descriptor: owner, group
 *       and DACL (protection and inherited ACEs as stored), and the SACL
 *       when SeSecurityPrivilege is enabled. Listed only where the volume
 *       keeps descriptors (FILE_PERSISTENT_ACLS: not FAT). Set: what the
 *       descriptor holds is set (PM_EINVAL when the value is not a valid
 *       self-relative descriptor); an owner the caller may not give
 *       (no SeRestorePrivilege) is left out silently and the rest set; on
 *       a volume without descriptors nothing is set and 0 is returned.
 *       Removed: the DACL becomes what the parent passes down (Windows
 *       2000; PM_ENOTSUP on NT 4.0).
 * Any other name: get and remove PM_ENODATA, set PM_ENOTSUP (alternate
 * data streams are not carried this way: see streams_list below). On
 * Linux there is no such namespace: "win32.*" names are ordinary names
 * there.
 *
 * A file created with PM_O_CREAT and a mode without group or other bits
 * (mode & 077 == 0) is private until complete: on Windows 2000 and later
 * it is created with a protected DACL admitting only its owner and
 * Administrators, and a chmod with group or other bits gives a file whose
 * DACL is still exactly that one the permissions its parent passes down
 * (win32.security, when the source has one, then replaces them). On
 * Linux the mode itself does this.
 *
 * Handles and engines. A handle that open or open_at returns for a file
 * is usable by every I/O engine of the build as it is: no flag asks for
 * it and no attach call follows. On Windows every file handle is opened
 * with FILE_FLAG_OVERLAPPED (the table's own pread/pwrite wait on an
 * event of their own, so they work on it too) and the IOCP engine
 * associates a handle with its port at its first request; on Linux a
 * descriptor needs nothing. A directory handle (PM_O_DIRECTORY) is for
 * the *_at calls and listing only, never for an engine. */

/* The file-system table. Every slot receives first the object (pm_fs,
 * below) it is called through. Path functions take UTF-8 paths of any length:
 * a backend handles paths beyond its OS's limit itself. `follow` false acts
 * on a symlink itself. xattr lists are NUL-separated names. */
typedef struct pm_fs pm_fs;

typedef struct pm_fs_ops {
  const char *name;
  int (*open)(const pm_fs *self, const char *path, int flags, uint32_t mode,
              pm_fd *out);
  int (*close)(const pm_fs *self, pm_fd fd);
  int64_t (*pread)(const pm_fs *self, pm_fd fd, void *buf, size_t len,
                   uint64_t off);
  int64_t (*pwrite)(const pm_fs *self, pm_fd fd, const void *buf, size_t len,
                    uint64_t off);
  int (*fsync)(const pm_fs *self, pm_fd fd, bool data_only);
  int (*ftruncate)(const pm_fs *self, pm_fd fd, uint64_t size);
  int (*fstat)(const pm_fs *self, pm_fd fd, pm_stat *st);
  int (*stat)(const pm_fs *self, const char *path, bool follow, pm_stat *st);
  int (*opendir)(const pm_fs *self, const char *path, pm_dir **out);
  int (*readdir)(const pm_fs *self, pm_dir *d,
                 pm_dirent *ent); /* 1 entry, 0 end, <0 error */
  void (*closedir)(const pm_fs *self, pm_dir *d);
  int (*mkdir)(const pm_fs *self, const char *path, uint32_t mode);
  int (*rmdir)(const pm_fs *self, const char *path);
  int (*unlink)(const pm_fs *self, const char *path);
  int (*rename)(const pm_fs *self, const char *from,
                const char *to); /* replaces `to` */
  int (*link)(const pm_fs *self, const char *existing, const char *newpath);
  int (*symlink)(const pm_fs *self, const char *target, const char *linkpath);
  int (*readlink)(const pm_fs *self, const char *path, char *buf, size_t cap,
                  size_t *len);
  int (*mknod)(const pm_fs *self, const char *path, pm_ftype type,
               uint32_t mode, uint64_t rdev);
  int (*fchmod)(const pm_fs *self, pm_fd fd, uint32_t mode);
  int (*chmod)(const pm_fs *self, const char *path, uint32_t mode);
  int (*fchown)(const pm_fs *self, pm_fd fd, uint32_t uid, uint32_t gid);
  int (*chown)(const pm_fs *self, const char *path, uint32_t uid, uint32_t gid,
               bool follow);
  int (*futimes)(const pm_fs *self, pm_fd fd, const pm_time *atime,
                 const pm_time *mtime);
  int (*utimes)(const pm_fs *self, const char *path, const pm_time *atime,
                const pm_time *mtime, bool follow);
  int (*xattr_list)(const pm_fs *self, const char *path, bool follow, char *buf,
                    size_t cap, size_t *len);
  int (*xattr_get)(const pm_fs *self, const char *path, bool follow,
                   const char *name, void *buf, size_t cap, size_t *len);
  int (*xattr_set)(const pm_fs *self, const char *path, bool follow,
                   const char *name, const void *val, size_t len);
  /* Next data (hole=false) or hole (hole=true) at or after off; PM_ENXIO
   * at or past the end, and for data in a trailing hole. A file system
   * without holes reports the whole file as data and the hole at the end.
   * Windows: a file marked sparse (FILE_ATTRIBUTE_SPARSE_FILE) answers
   * from its allocated ranges (FSCTL_QUERY_ALLOCATED_RANGES), any other
   * file is all data; Wine marks no file sparse, so there every file is
   * all data. pm_stat.blocks512 is the file's allocation on both (fewer
   * blocks than its size: a file that may have holes). */
  int64_t (*seek)(const pm_fs *self, pm_fd fd, uint64_t off, bool hole);
  int (*syncfs)(const pm_fs *self, pm_fd fd);
  int (*fsinfo)(const pm_fs *self, const char *path, pm_fsinfo *info);
  int (*realpath)(const pm_fs *self, const char *path, char *buf, size_t cap);
  /* Drop cached pages of a range (for re-reading from the medium). */
  int (*drop_cache)(const pm_fs *self, pm_fd fd, uint64_t off, uint64_t len);
  /* Whether the byte at off is in the OS's cache, so that a read of it
   * would not wait for the medium: PM_OK yes, PM_EAGAIN no, PM_ENOTSUP
   * where the OS cannot tell. Changes nothing. */
  int (*cached)(const pm_fs *self, pm_fd fd, uint64_t off);
  /* Where the file open at fd begins on its volume: *pos orders files by
   * the place of their first data on the disk (Linux: the byte offset of
   * the first extent, FIEMAP; Windows: the first extent's logical cluster
   * number, FSCTL_GET_RETRIEVAL_POINTERS, NT 4.0), so that a reader of
   * many files can take them in the disk's order. Only the order of two
   * values of one volume means anything. PM_ENODATA where the file has
   * no data of its own on the disk yet (empty, all holes, not yet
   * allocated, data kept in the MFT or inline); PM_ENOTSUP where the OS
   * or the file system cannot tell. Changes nothing. */
  int (*phys_pos)(const pm_fs *self, pm_fd fd, uint64_t *pos);

  /* ---- Operations beneath a directory handle ----
   *
   * The copy engine and the tree audits act on entries of SRC and DST
   * through these, relative to a handle on the root (or on a directory
   * reached from it by these same calls), so that whatever is renamed or
   * replaced underneath while they run, no read leaves SRC and no write
   * leaves DST.
   *
   * `dir` is a handle opened with PM_O_DIRECTORY (by open or open_at).
   * `rel` is a relative path, components separated by '/', of any length.
   * It is resolved beneath `dir`: no component of it, the last included,
   * is ever followed if it is a symbolic link (or, on Windows, a junction
   * or any other reparse point): such a component fails the call with
   * PM_ELOOP. An absolute `rel` or a ".." component fails with PM_EXDEV
   * before anything is touched. An empty `rel` names `dir` itself where
   * the call can act on a directory (open_at, stat_at, opendir_at), and
   * for the metadata calls (chmod_at ... xattr_set_at) the object of any
   * open handle, a file included, so that an open file's metadata needs no
   * lookup by name. Calls that act on an entry itself (stat_at,
   * readlink_at, unlink_at, chown_at, utimes_at, the xattr calls) act on a
   * symbolic link in the last component, never on what it points to;
   * open_at, opendir_at and chmod_at refuse it with PM_ELOOP. open_at
   * implies PM_O_NOFOLLOW.
   *
   * Linux gives this with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
   * RESOLVE_NO_MAGICLINKS), or, on a kernel without openat2, by opening
   * one component at a time with O_NOFOLLOW | O_PATH (fs_linux.c). A
   * Win32 backend gives the same guarantee by opening each component with
   * NtCreateFile relative to the previous handle (ObjectAttributes.
   * RootDirectory), with FILE_FLAG_OPEN_REPARSE_POINT (FILE_OPEN_REPARSE_
   * POINT) so that a junction or symlink is opened itself rather than
   * followed, checking FILE_ATTRIBUTE_REPARSE_POINT on each handle it gets
   * (PM_ELOOP when set), and refusing ".." itself; metadata is then set on
   * the handle (SetFileInformationByHandle), never by path. */
  int (*open_at)(const pm_fs *self, pm_fd dir, const char *rel, int flags,
                 uint32_t mode, pm_fd *out);
  int (*stat_at)(const pm_fs *self, pm_fd dir, const char *rel, pm_stat *st);
  int (*opendir_at)(const pm_fs *self, pm_fd dir, const char *rel,
                    pm_dir **out);
  int (*mkdir_at)(const pm_fs *self, pm_fd dir, const char *rel, uint32_t mode);
  int (*symlink_at)(const pm_fs *self, const char *target, pm_fd dir,
                    const char *rel);
  int (*link_at)(const pm_fs *self, pm_fd odir, const char *orel, pm_fd ndir,
                 const char *nrel);
  int (*mknod_at)(const pm_fs *self, pm_fd dir, const char *rel, pm_ftype type,
                  uint32_t mode, uint64_t rdev);
  int (*readlink_at)(const pm_fs *self, pm_fd dir, const char *rel, char *buf,
                     size_t cap, size_t *len);
  /* Removes a non-directory. */
  int (*unlink_at)(const pm_fs *self, pm_fd dir, const char *rel);
  /* Removes an empty directory (PM_ENOTEMPTY otherwise; PM_ENOTDIR for
   * anything else, a symlink included, which is never followed). */
  int (*rmdir_at)(const pm_fs *self, pm_fd dir, const char *rel);
  int (*chmod_at)(const pm_fs *self, pm_fd dir, const char *rel, uint32_t mode);
  int (*chown_at)(const pm_fs *self, pm_fd dir, const char *rel, uint32_t uid,
                  uint32_t gid);
  int (*utimes_at)(const pm_fs *self, pm_fd dir, const char *rel,
                   const pm_time *atime, const pm_time *mtime);
  int (*xattr_list_at)(const pm_fs *self, pm_fd dir, const char *rel, char *buf,
                       size_t cap, size_t *len);
  int (*xattr_get_at)(const pm_fs *self, pm_fd dir, const char *rel,
                      const char *name, void *buf, size_t cap, size_t *len);
  int (*xattr_set_at)(const pm_fs *self, pm_fd dir, const char *rel,
                      const char *name, const void *val, size_t len);
  /* Removes one extended attribute: PM_ENODATA when it is absent. */
  int (*xattr_remove_at)(const pm_fs *self, pm_fd dir, const char *rel,
                         const char *name);
  /* Takes an exclusive lock on the whole file open at fd without waiting:
   * PM_EBUSY when another open of the file holds it. The lock belongs to
   * this open of the file and goes away when fd is closed or the process
   * ends in any way (a crash, kill -9), so it is never left stale. Linux:
   * an open file description lock (F_OFD_SETLK); Windows: LockFileEx with
   * LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY on one byte far
   * past any data (Windows locks are mandatory: a lock on the data would
   * refuse other processes' reads of it). The lock is advisory: other
   * opens may read and write the file. */
  int (*lock)(const pm_fs *self, pm_fd fd);

  /* ---- Named data streams (NTFS alternate data streams) ----
   *
   * A file on NTFS may hold named data streams ("file.txt:NAME") beside
   * its unnamed main stream; a copy carries them with the file. They may
   * be large, so they are copied by handle like the main data, not through
   * the xattr slots' in-memory values.
   *
   * streams_list: the names of the named data streams of the file open at
   * fd (any access), NUL-separated as xattr lists are, UTF-8, without the
   * leading ':' and the ":$DATA" suffix; the unnamed main stream is never
   * listed, and a file without named streams gives an empty list (*len
   * 0). PM_ERANGE when cap is too small, *len then saying how much is
   * needed. PM_ENOTSUP where the OS or the volume has no such streams
   * (Linux, FAT): a caller may take that answer as holding for the whole
   * tree.
   *
   * stream_open: opens the named stream `name` of the file open at fd,
   * never by a path (Windows: NtCreateFile of ":NAME" relative to fd's
   * handle, ObjectAttributes.RootDirectory), with open's flags (access
   * mode, PM_O_CREAT, PM_O_EXCL, PM_O_TRUNC; mode as open's, for what a
   * file system makes of it). The handle works with pread, pwrite, fsync,
   * ftruncate, fstat and close of this table like a file's. A name that
   * is empty or holds '/', '\\' or ':' is PM_EINVAL; a stream absent
   * without PM_O_CREAT PM_ENOENT; PM_ENOTSUP where streams_list is.
   * NTFS keeps times per file, not per stream, so a copy writes the
   * streams before it sets the file's times. (Whether writing a stream
   * alone moves the file's ChangeTime, so that an update sees it, was
   * not measured: no NTFS here, and Wine has no streams.)
   *
   * stream_remove: removes the named stream `name` of the file open at fd
   * (opened with a handle of its own relative to fd, marked for deletion,
   * closed; never by a path). PM_ENOENT when the file has no such stream;
   * PM_EINVAL and PM_ENOTSUP as stream_open. An update uses it for the
   * streams a copy has that its source no longer has. */
  int (*streams_list)(const pm_fs *self, pm_fd fd, char *buf, size_t cap,
                      size_t *len);
  int (*stream_open)(const pm_fs *self, pm_fd fd, const char *name, int flags,
                     uint32_t mode, pm_fd *out);
  int (*stream_remove)(const pm_fs *self, pm_fd fd, const char *name);
} pm_fs_ops;

/* A file system: a table and the context its slots work with (a fault
 * wrapper's state, the file system it wraps). Every slot receives the
 * object it was called through, so a wrapper finds its own state in
 * self->ctx and two wrappers (or two instances of one) stack and run at
 * once without globals. Modules hold a `const pm_fs *` and call it only
 * through the pm_fs_* functions below, never through ops directly: that
 * is the one place every file-system call of pomove passes. */
struct pm_fs {
  const pm_fs_ops *ops;
  void *ctx; /* the table's own; NULL for the native file system */
};

/* The native file system of this build (Linux or Win32). Commands pick
 * it as their default; modules take the file system they are given. */
const pm_fs *pm_fs_native(void);
/* Checks that the object has a table and every slot of it is filled; 0 or
 * PM_EINVAL. */
int pm_fs_validate(const pm_fs *fs);

/* The table's name ("linux", "win32", a wrapper's). */
static inline const char *pm_fs_name(const pm_fs *fs) { return fs->ops->name; }

/* One wrapper per slot, with the slot's arguments and contract. */
static inline int pm_fs_open(const pm_fs *fs, const char *path, int flags,
                             uint32_t mode, pm_fd *out) {
  return fs->ops->open(fs, path, flags, mode, out);
}
static inline int pm_fs_close(const pm_fs *fs, pm_fd fd) {
  return fs->ops->close(fs, fd);
}
static inline int64_t pm_fs_pread(const pm_fs *fs, pm_fd fd, void *buf,
                                  size_t len, uint64_t off) {
  return fs->ops->pread(fs, fd, buf, len, off);
}
static inline int64_t pm_fs_pwrite(const pm_fs *fs, pm_fd fd, const void *buf,
                                   size_t len, uint64_t off) {
  return fs->ops->pwrite(fs, fd, buf, len, off);
}
static inline int pm_fs_fsync(const pm_fs *fs, pm_fd fd, bool data_only) {
  return fs->ops->fsync(fs, fd, data_only);
}
static inline int pm_fs_ftruncate(const pm_fs *fs, pm_fd fd, uint64_t size) {
  return fs->ops->ftruncate(fs, fd, size);
}
static inline int pm_fs_fstat(const pm_fs *fs, pm_fd fd, pm_stat *st) {
  return fs->ops->fstat(fs, fd, st);
}
static inline int pm_fs_stat(const pm_fs *fs, const char *path, bool follow,
                             pm_stat *st) {
  return fs->ops->stat(fs, path, follow, st);
}
static inline int pm_fs_opendir(const pm_fs *fs, const char *path,
                                pm_dir **out) {
  return fs->ops->opendir(fs, path, out);
}
static inline int pm_fs_readdir(const pm_fs *fs, pm_dir *d, pm_dirent *ent) {
  return fs->ops->readdir(fs, d, ent);
}
static inline void pm_fs_closedir(const pm_fs *fs, pm_dir *d) {
  fs->ops->closedir(fs, d);
}
static inline int pm_fs_mkdir(const pm_fs *fs, const char *path,
                              uint32_t mode) {
  return fs->ops->mkdir(fs, path, mode);
}
static inline int pm_fs_rmdir(const pm_fs *fs, const char *path) {
  return fs->ops->rmdir(fs, path);
}
static inline int pm_fs_unlink(const pm_fs *fs, const char *path) {
  return fs->ops->unlink(fs, path);
}
static inline int pm_fs_rename(const pm_fs *fs, const char *from,
                               const char *to) {
  return fs->ops->rename(fs, from, to);
}
static inline int pm_fs_link(const pm_fs *fs, const char *existing,
                             const char *newpath) {
  return fs->ops->link(fs, existing, newpath);
}
static inline int pm_fs_symlink(const pm_fs *fs, const char *target,
                                const char *linkpath) {
  return fs->ops->symlink(fs, target, linkpath);
}
static inline int pm_fs_readlink(const pm_fs *fs, const char *path, char *buf,
                                 size_t cap, size_t *len) {
  return fs->ops->readlink(fs, path, buf, cap, len);
}
static inline int pm_fs_mknod(const pm_fs *fs, const char *path, pm_ftype type,
                              uint32_t mode, uint64_t rdev) {
  return fs->ops->mknod(fs, path, type, mode, rdev);
}
static inline int pm_fs_fchmod(const pm_fs *fs, pm_fd fd, uint32_t mode) {
  return fs->ops->fchmod(fs, fd, mode);
}
static inline int pm_fs_chmod(const pm_fs *fs, const char *path,
                              uint32_t mode) {
  return fs->ops->chmod(fs, path, mode);
}
static inline int pm_fs_fchown(const pm_fs *fs, pm_fd fd, uint32_t uid,
                               uint32_t gid) {
  return fs->ops->fchown(fs, fd, uid, gid);
}
static inline int pm_fs_chown(const pm_fs *fs, const char *path, uint32_t uid,
                              uint32_t gid, bool follow) {
  return fs->ops->chown(fs, path, uid, gid, follow);
}
static inline int pm_fs_futimes(const pm_fs *fs, pm_fd fd, const pm_time *atime,
                                const pm_time *mtime) {
  return fs->ops->futimes(fs, fd, atime, mtime);
}
static inline int pm_fs_utimes(const pm_fs *fs, const char *path,
                               const pm_time *atime, const pm_time *mtime,
                               bool follow) {
  return fs->ops->utimes(fs, path, atime, mtime, follow);
}
static inline int pm_fs_xattr_list(const pm_fs *fs, const char *path,
                                   bool follow, char *buf, size_t cap,
                                   size_t *len) {
  return fs->ops->xattr_list(fs, path, follow, buf, cap, len);
}
static inline int pm_fs_xattr_get(const pm_fs *fs, const char *path,
                                  bool follow, const char *name, void *buf,
                                  size_t cap, size_t *len) {
  return fs->ops->xattr_get(fs, path, follow, name, buf, cap, len);
}
static inline int pm_fs_xattr_set(const pm_fs *fs, const char *path,
                                  bool follow, const char *name,
                                  const void *val, size_t len) {
  return fs->ops->xattr_set(fs, path, follow, name, val, len);
}
static inline int64_t pm_fs_seek(const pm_fs *fs, pm_fd fd, uint64_t off,
                                 bool hole) {
  return fs->ops->seek(fs, fd, off, hole);
}
static inline int pm_fs_syncfs(const pm_fs *fs, pm_fd fd) {
  return fs->ops->syncfs(fs, fd);
}
static inline int pm_fs_fsinfo(const pm_fs *fs, const char *path,
                               pm_fsinfo *info) {
  return fs->ops->fsinfo(fs, path, info);
}
static inline int pm_fs_realpath(const pm_fs *fs, const char *path, char *buf,
                                 size_t cap) {
  return fs->ops->realpath(fs, path, buf, cap);
}
static inline int pm_fs_drop_cache(const pm_fs *fs, pm_fd fd, uint64_t off,
                                   uint64_t len) {
  return fs->ops->drop_cache(fs, fd, off, len);
}
static inline int pm_fs_cached(const pm_fs *fs, pm_fd fd, uint64_t off) {
  return fs->ops->cached(fs, fd, off);
}
static inline int pm_fs_phys_pos(const pm_fs *fs, pm_fd fd, uint64_t *pos) {
  return fs->ops->phys_pos(fs, fd, pos);
}
static inline int pm_fs_open_at(const pm_fs *fs, pm_fd dir, const char *rel,
                                int flags, uint32_t mode, pm_fd *out) {
  return fs->ops->open_at(fs, dir, rel, flags, mode, out);
}
static inline int pm_fs_stat_at(const pm_fs *fs, pm_fd dir, const char *rel,
                                pm_stat *st) {
  return fs->ops->stat_at(fs, dir, rel, st);
}
static inline int pm_fs_opendir_at(const pm_fs *fs, pm_fd dir, const char *rel,
                                   pm_dir **out) {
  return fs->ops->opendir_at(fs, dir, rel, out);
}
static inline int pm_fs_mkdir_at(const pm_fs *fs, pm_fd dir, const char *rel,
                                 uint32_t mode) {
  return fs->ops->mkdir_at(fs, dir, rel, mode);
}
static inline int pm_fs_symlink_at(const pm_fs *fs, const char *target,
                                   pm_fd dir, const char *rel) {
  return fs->ops->symlink_at(fs, target, dir, rel);
}
static inline int pm_fs_link_at(const pm_fs *fs, pm_fd odir, const char *orel,
                                pm_fd ndir, const char *nrel) {
  return fs->ops->link_at(fs, odir, orel, ndir, nrel);
}
static inline int pm_fs_mknod_at(const pm_fs *fs, pm_fd dir, const char *rel,
                                 pm_ftype type, uint32_t mode, uint64_t rdev) {
  return fs->ops->mknod_at(fs, dir, rel, type, mode, rdev);
}
static inline int pm_fs_readlink_at(const pm_fs *fs, pm_fd dir, const char *rel,
                                    char *buf, size_t cap, size_t *len) {
  return fs->ops->readlink_at(fs, dir, rel, buf, cap, len);
}
static inline int pm_fs_unlink_at(const pm_fs *fs, pm_fd dir, const char *rel) {
  return fs->ops->unlink_at(fs, dir, rel);
}
static inline int pm_fs_rmdir_at(const pm_fs *fs, pm_fd dir, const char *rel) {
  return fs->ops->rmdir_at(fs, dir, rel);
}
static inline int pm_fs_chmod_at(const pm_fs *fs, pm_fd dir, const char *rel,
                                 uint32_t mode) {
  return fs->ops->chmod_at(fs, dir, rel, mode);
}
static inline int pm_fs_chown_at(const pm_fs *fs, pm_fd dir, const char *rel,
                                 uint32_t uid, uint32_t gid) {
  return fs->ops->chown_at(fs, dir, rel, uid, gid);
}
static inline int pm_fs_utimes_at(const pm_fs *fs, pm_fd dir, const char *rel,
                                  const pm_time *atime, const pm_time *mtime) {
  return fs->ops->utimes_at(fs, dir, rel, atime, mtime);
}
static inline int pm_fs_xattr_list_at(const pm_fs *fs, pm_fd dir,
                                      const char *rel, char *buf, size_t cap,
                                      size_t *len) {
  return fs->ops->xattr_list_at(fs, dir, rel, buf, cap, len);
}
static inline int pm_fs_xattr_get_at(const pm_fs *fs, pm_fd dir,
                                     const char *rel, const char *name,
                                     void *buf, size_t cap, size_t *len) {
  return fs->ops->xattr_get_at(fs, dir, rel, name, buf, cap, len);
}
static inline int pm_fs_xattr_set_at(const pm_fs *fs, pm_fd dir,
                                     const char *rel, const char *name,
                                     const void *val, size_t len) {
  return fs->ops->xattr_set_at(fs, dir, rel, name, val, len);
}
static inline int pm_fs_xattr_remove_at(const pm_fs *fs, pm_fd dir,
                                        const char *rel, const char *name) {
  return fs->ops->xattr_remove_at(fs, dir, rel, name);
}
static inline int pm_fs_lock(const pm_fs *fs, pm_fd fd) {
  return fs->ops->lock(fs, fd);
}
static inline int pm_fs_streams_list(const pm_fs *fs, pm_fd fd, char *buf,
                                     size_t cap, size_t *len) {
  return fs->ops->streams_list(fs, fd, buf, cap, len);
}
static inline int pm_fs_stream_open(const pm_fs *fs, pm_fd fd, const char *name,
                                    int flags, uint32_t mode, pm_fd *out) {
  return fs->ops->stream_open(fs, fd, name, flags, mode, out);
}
static inline int pm_fs_stream_remove(const pm_fs *fs, pm_fd fd,
                                      const char *name) {
  return fs->ops->stream_remove(fs, fd, name);
}

/* ---- Asynchronous I/O engines (fio's ioengine shape) ---- */

enum pm_io_op { PM_IO_READ, PM_IO_WRITE, PM_IO_FSYNC, PM_IO_FDATASYNC };

typedef struct pm_io_req {
  int op;
  pm_fd fd;
  void *buf;
  uint32_t len;
  uint64_t off;
  int64_t res; /* out: bytes transferred, or a PM_E* code */
  int oserr;   /* out: the OS's own code when res < 0 */
  void *udata; /* the caller's */
} pm_io_req;

/* queue() results */
enum { PM_Q_COMPLETED = 0, PM_Q_QUEUED = 1, PM_Q_BUSY = 2 };

typedef struct pm_io_ctx pm_io_ctx;

/* A request stays owned by the caller and must stay alive until it comes
 * back from getevents() (or queue() returned PM_Q_COMPLETED). Short reads
 * and writes are returned as they are: the caller resubmits the rest.
 * A context is used by one thread at a time.
 *
 * The rules every engine keeps (tests/platform/test_engine_contract.c):
 * every request queue() takes comes back exactly once, either at once
 * (PM_Q_COMPLETED) or from getevents() (PM_Q_QUEUED); a request queue()
 * refuses (PM_Q_BUSY, or a PM_E* code such as PM_EINVAL for an unknown
 * op) leaves no trace and never comes back. At most `depth` requests are
 * outstanding: past that queue() answers PM_Q_BUSY (or completes the
 * request itself) until getevents() has returned some. A read at or past
 * the end returns res 0, one spanning it the bytes up to it. A request
 * that fails comes back with res < 0 (a PM_E* code) and oserr, the OS's
 * own code. getevents(min, max) caps min at the requests outstanding, so
 * it never waits for a completion that cannot come, and returns at most
 * max. cleanup() may be called with requests queued or in flight: it
 * cancels or drains them and returns promptly, and after it returns the
 * engine touches no request or buffer. Contexts are independent. */
typedef struct pm_io_engine_ops {
  const char *name;
  int (*probe)(void); /* 0 when usable on this machine, else PM_E* */
  int (*init)(const pm_fs *fs, unsigned depth, pm_io_ctx **out);
  int (*queue)(pm_io_ctx *ctx, pm_io_req *req); /* PM_Q_* or PM_E* */
  int (*commit)(pm_io_ctx *ctx);                /* submit what is queued */
  /* Waits for at least `min` completions (at most as many as are
   * outstanding), returns up to `max` of them. */
  int (*getevents)(pm_io_ctx *ctx, unsigned min, unsigned max,
                   pm_io_req **events);
  void (*cleanup)(pm_io_ctx *ctx);
} pm_io_engine_ops;

/* Engines compiled into this build, NULL-terminated, preferred first. */
const pm_io_engine_ops *const *pm_io_engines(void);
const pm_io_engine_ops *pm_io_engine_find(const char *name);
/* The first engine that probes usable; `why` (may be NULL) receives a
 * sentence when the preferred engine was passed over. */
const pm_io_engine_ops *pm_io_engine_default(char *why, size_t why_cap);
int pm_io_engine_validate(const pm_io_engine_ops *e);

/* Permission bits this process's file creations strip from the mode
 * they ask for (the umask on POSIX; 0 where creation applies no mode).
 * Read without changing it where the OS allows. */
uint32_t pm_create_mask(void);
/* Number of online processors (at least 1). */
unsigned pm_cpu_count(void);
/* How many files this process may have open at once, for a caller that
 * opens many ahead (the --verify re-read) and must leave room for the
 * others. Linux: RLIMIT_NOFILE's soft limit, first raised to the hard
 * limit (at most 1,048,576) once per process, as a server program does;
 * Windows: handles are bounded by memory only, so a large constant. */
unsigned pm_open_files_max(void);
/* Monotonic clock in nanoseconds. */
uint64_t pm_now_ns(void);
/* True when the stream is a terminal. */
bool pm_isatty(int fdno);

#endif
