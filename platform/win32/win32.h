/* win32.h - private to the Win32 backend (platform/win32/): the pieces
 * every file of it shares. Paths and names cross the platform API as
 * UTF-8 with '/' separators; inside the backend they are UTF-16 with the
 * \\?\ prefix, so that paths longer than MAX_PATH and names with trailing
 * dots or spaces reach NTFS unchanged. Errors are translated from Win32
 * codes (GetLastError) and NTSTATUS values in one place, here.
 *
 * Everything declared here uses only what Windows NT 4.0 exports. */
#ifndef POMOVE_WIN32_H
#define POMOVE_WIN32_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <windows.h>

#include "platform.h"

/* ---- Errors ---- */

/* The PM_E* code for a Win32 error code (GetLastError), without
 * recording anything. Codes it does not know map to PM_EIO. */
int pmw_error_of(DWORD code);
/* Translates `code`, records it as the thread's OS error
 * (pm_oserr_record) and returns the PM_E* code: the one way a backend
 * function fails after a Win32 call. */
int pmw_fail(DWORD code);
/* pmw_fail(GetLastError()). */
int pmw_fail_last(void);
/* For the native API (NtCreateFile and friends): the NTSTATUS is
 * converted with RtlNtStatusToDosError (ntdll, NT 3.1 and later) and then
 * handled as pmw_fail(); the recorded OS code is the Win32 one, so that a
 * report names the same kind of code whichever call failed.
 * STATUS_FILE_IS_A_DIRECTORY is PM_EISDIR (the Win32 code would say
 * access denied). */
int pmw_fail_nt(LONG status);

/* ---- Text ---- */

/* UTF-8 to UTF-16 and back, exactly and without the OS's help (NT 4.0's
 * MultiByteToWideChar cannot reject invalid UTF-8, and a name on NTFS may
 * hold an unpaired surrogate). The UTF-8 side is WTF-8: an unpaired
 * surrogate is encoded as its own three bytes, so that every NTFS name
 * round-trips through readdir, stat and create. Input that is not UTF-8
 * (or WTF-8) fails with PM_EINVAL: such a name cannot exist on NTFS.
 * `len` is the input's length in bytes or code units, or (size_t)-1 for
 * a NUL-terminated string. The result is NUL-terminated and malloc'd;
 * *outlen (when not NULL) gets its length without the NUL. */
int pmw_to_wide(const char *s, size_t len, wchar_t **out, size_t *outlen);
int pmw_to_utf8(const wchar_t *w, size_t len, char **out, size_t *outlen);

/* A UTF-8 path as the Win32 API wants it, malloc'd:
 *   "C:/a/b", "C:\a\b"   -> "\\?\C:\a\b"
 *   "//srv/share/a"      -> "\\?\UNC\srv\share\a"
 *   "\\?\..." as it is (separators converted)
 *   "a/b", "/a/b", "C:a" -> made absolute against the current directory
 *                           first (GetFullPathNameW), as every Win32
 *                           program would read them.
 * '/' becomes '\', runs of separators collapse, "." components go, and
 * ".." components are resolved lexically (as Win32 itself does for a path
 * without the prefix; the prefix turns that off, so this does it first).
 * PM_EINVAL for an empty path or one that is not UTF-8; PM_ENOMEM. */
int pmw_path(const char *path, wchar_t **out);

/* ---- Times and metadata ---- */

/* FILETIME counts 100 ns since 1601-01-01 UTC; pm_time is the Unix
 * epoch. */
pm_time pmw_time_of(FILETIME ft);
FILETIME pmw_filetime_of(pm_time t);

/* Fills *st from an open handle (GetFileInformationByHandle): type
 * (PM_T_SYMLINK for a reparse point that is a symbolic link or a
 * junction, PM_T_DIR, PM_T_FILE; PM_T_FIFO/CHR for pipes and character
 * devices by GetFileType), size, times, attrs, nlink, dev (the volume's
 * serial number) and ino (the 64-bit file index). mode is 0444 for a
 * read-only file, 0666 otherwise (0777/0555 for directories); uid and
 * gid are 0; blocks512 is a file's allocation (FileStandardInformation.
 * AllocationSize, rounded up to 512), fewer blocks than the size for a
 * sparse or compressed file, or the size rounded up where the file system
 * does not say. ctime is the change time
 * (FILE_BASIC_INFORMATION.ChangeTime), or the last write time where the
 * file system keeps none (FAT). */
int pmw_stat_handle(HANDLE h, pm_stat *st);
/* The attributes of the object open at h (FileBasicInformation: no volume
 * query, unlike GetFileInformationByHandle, which under Wine asks the
 * mount manager for the volume's serial on every call). 0 or PM_E*. */
int pmw_attrs_of(HANDLE h, DWORD *attrs);

/* Marks the file open at h sparse (FSCTL_SET_SPARSE, Windows 2000;
 * through fs_calls.h's table), for an open with PM_O_SPARSE. A failure is
 * not an error: the file stays an ordinary one (FAT has no sparse files),
 * whose holes are then allocated. */
void pmw_mark_sparse(HANDLE h);

/* ---- Metadata as extended attributes (meta_win32.c) ----
 * The reserved names of platform.h's "Windows metadata" contract, read
 * and set on an open handle; the slots of fs_win32.c and fs_win32_at.c
 * resolve the entry, open it with pmw_meta_access(name, op) (or try the
 * caller's handle first) and call these. */
#define PMW_XA_ATTRIBUTES "win32.attributes"
#define PMW_XA_SECURITY "win32.security"
enum { PMW_META_GET, PMW_META_SET, PMW_META_REMOVE, PMW_META_SET_REDUCED };
/* The access a handle needs for `op` on `name` (NULL: listing). */
DWORD pmw_meta_access(const char *name, int op);
int pmw_meta_list(HANDLE h, char *buf, size_t cap, size_t *len);
int pmw_meta_get(HANDLE h, const char *name, void *buf, size_t cap,
                 size_t *len);
int pmw_meta_set(HANDLE h, const char *name, const void *val, size_t len);
int pmw_meta_remove(HANDLE h, const char *name);
/* For a set whose open with pmw_meta_access(name, PMW_META_SET) was
 * refused: h was opened without WRITE_OWNER, so for win32.security the
 * owner and group are left out when the handle cannot set them and the
 * DACL is set alone (silently, as for an owner refused with
 * ERROR_INVALID_OWNER); other names as pmw_meta_set. */
int pmw_meta_set_reduced(HANDLE h, const char *name, const void *val,
                         size_t len);

/* Enables SeBackupPrivilege, SeRestorePrivilege and SeSecurityPrivilege
 * where the process token holds them (AdjustTokenPrivileges); returns
 * the PMW_PRIV_* bits enabled. pm_fs_native() calls it once. Whether the
 * security privilege is on decides whether SACLs are read and set
 * (pmw_sacl_enabled; pmw_sacl_force is for tests). */
enum { PMW_PRIV_BACKUP = 1, PMW_PRIV_RESTORE = 2, PMW_PRIV_SECURITY = 4 };
unsigned pmw_privileges_enable(void);
bool pmw_sacl_enabled(void);
void pmw_sacl_force(bool on);

/* The descriptor a file being written is created with when its mode has
 * no group or other bits: a protected DACL admitting only its owner (the
 * token's default owner) and Administrators. NULL on NT 4.0 (no protected
 * DACL, no inheritance to give back later: files are created as before)
 * or when it cannot be built. Built once, never freed. */
PSECURITY_DESCRIPTOR pmw_private_sd(void);
/* Called by chmod with group or other bits on a file: when the file's
 * DACL is still exactly the private one, gives it the permissions its
 * parent passes down instead (Windows 2000: SetSecurityInfo with
 * UNPROTECTED_DACL_SECURITY_INFORMATION). Anything else is left alone. */
int pmw_meta_unprivate(HANDLE h);

/* ---- Beneath a directory handle (fs_win32_at.c) ----
 * The handle-relative slots of the file-system table (see platform.h
 * for the contract), and directory listing on a handle, which opendir
 * uses too. */
int pmw_open_at(const pm_fs *self, pm_fd dir, const char *rel, int flags,
                uint32_t mode, pm_fd *out);
int pmw_stat_at(const pm_fs *self, pm_fd dir, const char *rel, pm_stat *st);
int pmw_opendir_at(const pm_fs *self, pm_fd dir, const char *rel, pm_dir **out);
int pmw_mkdir_at(const pm_fs *self, pm_fd dir, const char *rel, uint32_t mode);
int pmw_symlink_at(const pm_fs *self, const char *target, pm_fd dir,
                   const char *rel);
int pmw_link_at(const pm_fs *self, pm_fd odir, const char *orel, pm_fd ndir,
                const char *nrel);
int pmw_mknod_at(const pm_fs *self, pm_fd dir, const char *rel, pm_ftype type,
                 uint32_t mode, uint64_t rdev);
int pmw_readlink_at(const pm_fs *self, pm_fd dir, const char *rel, char *buf,
                    size_t cap, size_t *len);
int pmw_unlink_at(const pm_fs *self, pm_fd dir, const char *rel);
int pmw_rmdir_at(const pm_fs *self, pm_fd dir, const char *rel);
int pmw_chmod_at(const pm_fs *self, pm_fd dir, const char *rel, uint32_t mode);
int pmw_chown_at(const pm_fs *self, pm_fd dir, const char *rel, uint32_t uid,
                 uint32_t gid);
int pmw_utimes_at(const pm_fs *self, pm_fd dir, const char *rel,
                  const pm_time *atime, const pm_time *mtime);
int pmw_xattr_list_at(const pm_fs *self, pm_fd dir, const char *rel, char *buf,
                      size_t cap, size_t *len);
int pmw_xattr_get_at(const pm_fs *self, pm_fd dir, const char *rel,
                     const char *name, void *buf, size_t cap, size_t *len);
int pmw_xattr_set_at(const pm_fs *self, pm_fd dir, const char *rel,
                     const char *name, const void *val, size_t len);
int pmw_xattr_remove_at(const pm_fs *self, pm_fd dir, const char *rel,
                        const char *name);
/* Named data streams of the file open at fd (platform.h's
 * streams_list, stream_open and stream_remove). */
int pmw_streams_list(const pm_fs *self, pm_fd fd, char *buf, size_t cap,
                     size_t *len);
int pmw_stream_open(const pm_fs *self, pm_fd fd, const char *name, int flags,
                    uint32_t mode, pm_fd *out);
int pmw_stream_remove(const pm_fs *self, pm_fd fd, const char *name);
/* Lists the directory open at `h` (opened with FILE_LIST_DIRECTORY);
 * takes ownership of `h`, which closedir closes. */
int pmw_opendir_handle(HANDLE h, pm_dir **out);
int pmw_readdir(const pm_fs *self, pm_dir *d, pm_dirent *ent);
void pmw_closedir(const pm_fs *self, pm_dir *d);

#endif
