/* fs_win32.c - the Win32 file-system table (pm_fs_ops, platform.h): the
 * path-based slots and the operations on an open handle. The slots beneath
 * a directory handle (*_at) and directory listing on a handle live in
 * fs_win32_at.c; opendir here opens the directory by path and hands the
 * handle to the same listing code. Private to the Win32 build.
 *
 * pm_fd is the HANDLE. Decisions every other Win32 file relies on:
 *
 * - Overlapped handles. Every file `open` returns is opened with
 *   FILE_FLAG_OVERLAPPED, so that the IOCP engine can associate it with its
 *   completion port and issue overlapped ReadFile/WriteFile on it. The
 *   synchronous slots here (pread, pwrite, lock, the FSCTLs) therefore pass
 *   an OVERLAPPED of their own with a per-call event whose low bit is set
 *   (no completion packet reaches a port the handle may belong to) and
 *   wait for it: this works on overlapped and synchronous handles alike, so
 *   a handle from open_at may be either. A directory opened with
 *   PM_O_DIRECTORY is synchronous: no engine reads it, and listing code may
 *   call the native API on it.
 * - Sharing. Every open shares read, write and delete, so that renaming or
 *   unlinking a file another pomove handle holds behaves as close to POSIX
 *   as Windows 2000 allows. What it does not allow: an unlinked file that
 *   is still open keeps its name (pending delete) until its last handle is
 *   closed, and a rename onto a file that is open somewhere fails with
 *   ERROR_ACCESS_DENIED (there is no POSIX rename before Windows 10).
 *   Retrying sharing and lock violations is the engine's policy; no slot
 *   here sleeps.
 * - Names. A name NTFS cannot hold through Win32 (':' would name a stream;
 *   '*', '?', '"', '<', '>', '|' and the control characters 1-31 are
 *   refused) fails with PM_EINVAL before any OS call, as does a path that
 *   is not UTF-8 (WTF-8); a component longer than 255 UTF-16 units fails
 *   with PM_ENAMETOOLONG. Trailing dots and spaces are kept (\\?\ paths).
 *   Names compare without regard to case, as NTFS does under Win32.
 * - Windows 2000 and nothing newer is imported; what NT 4.0 lacks
 *   (CreateHardLinkW, GetVolumePathNameW) is looked up at run time.
 *   Symbolic links cannot be made on Windows 2000 (symlink: PM_ENOTSUP);
 *   existing junctions and symbolic links are read (readlink, stat without
 *   follow, PM_O_NOFOLLOW). Modes hold only what Windows keeps: the owner
 *   write bit is FILE_ATTRIBUTE_READONLY on files; directories have no
 *   mode. Owners, groups and ACLs (security descriptors) and the other
 *   attributes are the xattr slots' reserved names win32.security and
 *   win32.attributes (platform.h; meta_win32.c); chown succeeds only when
 *   it changes nothing. Alternate data streams are not carried yet (they
 *   need BackupRead/BackupWrite: FindFirstStreamW is Vista's).
 * - pm_fs_native() enables the backup, restore and security privileges
 *   the token holds, once; every open asks for backup semantics.
 * - A file created with no group or other bits in its mode is private
 *   until complete (platform.h; meta_win32.c).
 * - The Win32 calls whose answers Wine cannot give (reparse data, sparse
 *   ranges, the attributes that announce them) go through the table
 *   pmw_w32 (fs_calls.h), so that tests/platform/test_fs_win32_nt.c can
 *   show this file what NTFS answers. */
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>
#include <winioctl.h>
#include <winternl.h>

#include "fs_calls.h"
#include "platform.h"
#include "win32.h"

#ifndef STATUS_ACCESS_DENIED
#define STATUS_ACCESS_DENIED ((NTSTATUS)0xC0000022L)
#endif
#ifndef FILE_OPEN_FOR_BACKUP_INTENT
#define FILE_OPEN_FOR_BACKUP_INTENT 0x00004000
#endif
#ifndef FILE_SYNCHRONOUS_IO_NONALERT
#define FILE_SYNCHRONOUS_IO_NONALERT 0x00000020
#endif

/* Every open shares everything (see the top of the file). */
#define SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
/* The largest piece one ReadFile/WriteFile transfers (a DWORD count). */
#define IO_MAX ((DWORD)1 << 30)
/* The byte lock() takes (see w_lock). */
#define LOCK_OFFSET ((uint64_t)1 << 62)

#define W32_REAL                                                          \
  {DeviceIoControl,        FindFirstFileW,  GetFileInformationByHandle,   \
   GetKernelObjectSecurity, SetKernelObjectSecurity, SetSecurityInfo,     \
   NtQueryVolumeInformationFile}
const pmw_w32_api pmw_w32_real = W32_REAL;
pmw_w32_api pmw_w32 = W32_REAL;

/* A failure found without a failing OS call: recorded with OS code 0, so
 * that no earlier failure's code is taken for it. */
static int fail_self(int err) {
  pm_oserr_record(err, 0);
  return err;
}

/* ---- paths and names ---- */

/* Length of the root of a path made by pmw_path: "\\?\C:",
 * "\\?\UNC\server\share", or "\\?\" and the first component of any other
 * form (a volume GUID). The rest starts with '\' or is empty. */
static size_t root_len(const wchar_t *w) {
  size_t i = 4; /* "\\?\" */
  if (w[i] && w[i + 1] == L':') return i + 2;
  if (!wcsncmp(w + i, L"UNC\\", 4)) {
    i += 4;
    for (int part = 0; part < 2; part++) {
      while (w[i] && w[i] != L'\\') i++;
      if (part == 0 && w[i]) i++;
    }
    return i;
  }
  while (w[i] && w[i] != L'\\') i++;
  return i;
}

/* The names after the root: PM_EINVAL for what NTFS cannot hold through
 * Win32, PM_ENAMETOOLONG for more than 255 UTF-16 units. */
static int check_names(const wchar_t *w) {
  size_t n = 0;
  for (const wchar_t *p = w + root_len(w);; p++) {
    wchar_t c = *p;
    if (c == L'\\' || c == 0) {
      if (n > 255) return fail_self(PM_ENAMETOOLONG);
      n = 0;
      if (!c) return PM_OK;
      continue;
    }
    if (c < 0x20 || wcschr(L":*?\"<>|", c)) return fail_self(PM_EINVAL);
    n++;
  }
}

/* A UTF-8 path as a checked \\?\ path (malloc'd). */
static int wpath(const char *path, wchar_t **out) {
  int rc = pmw_path(path, out);
  if (rc) return rc;
  rc = check_names(*out);
  if (rc) {
    free(*out);
    *out = NULL;
  }
  return rc;
}

static wchar_t *wdup(const wchar_t *w) {
  size_t n = wcslen(w) + 1;
  wchar_t *r = malloc(n * sizeof *r);
  if (r) memcpy(r, w, n * sizeof *r);
  return r;
}

/* Fails with the PM_E* code of a Win32 error on path w. Windows says
 * ERROR_PATH_NOT_FOUND both when a directory on the way is missing and
 * when one is a file; POSIX tells them apart (ENOENT, ENOTDIR), and so does
 * this, by looking for the deepest existing prefix. */
static int fail_path(DWORD code, const wchar_t *w) {
  bool notdir = false;
  if (code == ERROR_PATH_NOT_FOUND) {
    wchar_t *c = wdup(w);
    size_t root = root_len(w);
    while (c) {
      wchar_t *s = wcsrchr(c, L'\\');
      if (!s || (size_t)(s - c) <= root) break;
      *s = 0;
      DWORD a = GetFileAttributesW(c);
      if (a != INVALID_FILE_ATTRIBUTES) {
        notdir = !(a & FILE_ATTRIBUTE_DIRECTORY);
        break;
      }
    }
    free(c);
  }
  int err = pmw_fail(code);
  if (notdir) {
    err = PM_ENOTDIR;
    pm_oserr_record(err, (int)code);
  }
  return err;
}

/* ---- one synchronous call on a handle that may be overlapped ---- */

/* Prepares ov for a call at offset off, with an event of its own. */
static int ov_begin(OVERLAPPED *ov, uint64_t off) {
  memset(ov, 0, sizeof *ov);
  ov->Offset = (DWORD)(off & 0xFFFFFFFFu);
  ov->OffsetHigh = (DWORD)(off >> 32);
  HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (!ev) return pmw_fail_last();
  /* The low bit keeps the completion off a port the handle may be
   * associated with (the IOCP engine's): this call waits for it here. */
  ov->hEvent = (HANDLE)((uintptr_t)ev | 1);
  return PM_OK;
}

/* Finishes a call that took ov and returned `ok`: waits when it is
 * pending. Returns 0 or the Win32 error; *got gets the byte count. */
static DWORD ov_end(HANDLE h, OVERLAPPED *ov, BOOL ok, DWORD *got) {
  DWORD e = ok ? 0 : GetLastError();
  if (!ok && e == ERROR_IO_PENDING) {
    ok = GetOverlappedResult(h, ov, got, TRUE);
    e = ok ? 0 : GetLastError();
  } else if (ok || e == ERROR_MORE_DATA) {
    /* Completed at once (a synchronous handle, or the cache), or with
     * part of its answer (an FSCTL's STATUS_BUFFER_OVERFLOW): the count
     * is in the OVERLAPPED, which was the call's status block. */
    *got = (DWORD)ov->InternalHigh;
  }
  CloseHandle((HANDLE)((uintptr_t)ov->hEvent & ~(uintptr_t)1));
  return e;
}

/* DeviceIoControl on any handle. Returns 0 or the Win32 error. */
static DWORD ioctl_wait(HANDLE h, DWORD code, void *in, DWORD inlen,
                        void *out, DWORD outlen, DWORD *got) {
  OVERLAPPED ov;
  *got = 0;
  if (ov_begin(&ov, 0)) return GetLastError();
  BOOL ok =
      pmw_w32.device_io_control(h, code, in, inlen, out, outlen, got, &ov);
  return ov_end(h, &ov, ok, got);
}

void pmw_mark_sparse(HANDLE h) {
  /* No input buffer: "mark sparse" on every version (the
   * FILE_SET_SPARSE_BUFFER that can also clear the mark is XP's). A
   * volume without sparse files (FAT: ERROR_INVALID_FUNCTION), a server
   * that refuses it, or any other failure leaves an ordinary file, whose
   * holes are then written as zeros: correct, only bigger. */
  DWORD got;
  (void)ioctl_wait(h, FSCTL_SET_SPARSE, NULL, 0, NULL, 0, &got);
}

/* A second handle on the object h holds, with other access: a relative
 * open with an empty name (what ReOpenFile does on later Windows), which
 * needs no path and so reaches exactly the same file. */
static NTSTATUS reopen(HANDLE h, ACCESS_MASK access, HANDLE *out) {
  UNICODE_STRING empty = {0, 0, NULL};
  OBJECT_ATTRIBUTES oa;
  memset(&oa, 0, sizeof oa);
  oa.Length = sizeof oa;
  oa.RootDirectory = h;
  oa.ObjectName = &empty;
  IO_STATUS_BLOCK io;
  return NtOpenFile(out, access | SYNCHRONIZE, &oa, &io, SHARE_ALL,
                    FILE_OPEN_REPARSE_POINT | FILE_SYNCHRONOUS_IO_NONALERT |
                        FILE_OPEN_FOR_BACKUP_INTENT);
}

static int info_of(HANDLE h, BY_HANDLE_FILE_INFORMATION *bi) {
  return pmw_w32.get_file_information(h, bi) ? PM_OK : pmw_fail_last();
}

/* Sets the end of file (no file pointer: an overlapped handle has none
 * worth moving, and another thread may use the same handle). */
static int set_size(HANDLE h, uint64_t size) {
  FILE_END_OF_FILE_INFORMATION eof;
  eof.EndOfFile.QuadPart = (LONGLONG)size;
  IO_STATUS_BLOCK io;
  NTSTATUS s = NtSetInformationFile(h, &io, &eof, sizeof eof,
                                    FileEndOfFileInformation);
  return NT_SUCCESS(s) ? PM_OK : pmw_fail_nt(s);
}

/* ---- open, close, read, write ---- */

/* Opens w for metadata: no data access, so that no sharing mode of
 * another open stands in the way. */
static int open_meta(const wchar_t *w, bool follow, DWORD access, HANDLE *h) {
  *h = CreateFileW(w, access, SHARE_ALL, NULL, OPEN_EXISTING,
                   FILE_FLAG_BACKUP_SEMANTICS |
                       (follow ? 0 : FILE_FLAG_OPEN_REPARSE_POINT),
                   NULL);
  return *h == INVALID_HANDLE_VALUE ? fail_path(GetLastError(), w) : PM_OK;
}

/* Whether h (opened with FILE_FLAG_OPEN_REPARSE_POINT, attributes
 * `attrs`) is a name surrogate (junction, symbolic link), which pomove
 * treats as a link; other reparse points (HSM, single-instance store) are
 * files. When the tag cannot be read, the safe answer is "a link". */
static bool is_link(HANDLE h, DWORD attrs) {
  if (!(attrs & FILE_ATTRIBUTE_REPARSE_POINT)) return false;
  union {
    REPARSE_GUID_DATA_BUFFER g;
    unsigned char raw[MAXIMUM_REPARSE_DATA_BUFFER_SIZE];
  } *buf = malloc(sizeof *buf);
  if (!buf) return true;
  DWORD got;
  DWORD e = ioctl_wait(h, FSCTL_GET_REPARSE_POINT, NULL, 0, buf, sizeof *buf,
                       &got);
  bool link = e || got < sizeof(DWORD) ||
              IsReparseTagNameSurrogate(buf->g.ReparseTag);
  free(buf);
  return link;
}

static int w_open(const pm_fs *self PM_UNUSED, const char *path, int flags,
                  uint32_t mode, pm_fd *out) {
  wchar_t *w;
  int rc = wpath(path, &w);
  if (rc) return rc;
  int acc = flags & PM_O_ACCMODE;
  bool wr = acc == PM_O_WRONLY || acc == PM_O_RDWR;
  bool append = wr && (flags & PM_O_APPEND);
  bool trunc = wr && (flags & PM_O_TRUNC);
  DWORD access = FILE_READ_ATTRIBUTES;
  if (acc != PM_O_WRONLY) access |= GENERIC_READ;
  if (append && !trunc)
    /* Append access without write access: every write goes to the end of
     * the file, whatever offset it names (ZwWriteFile). */
    access |= FILE_APPEND_DATA | FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA |
              STANDARD_RIGHTS_WRITE | SYNCHRONIZE;
  else if (wr)
    access |= GENERIC_WRITE;

  DWORD disp = OPEN_EXISTING;
  if ((flags & PM_O_CREAT) && (flags & PM_O_EXCL)) disp = CREATE_NEW;
  else if (flags & PM_O_CREAT) disp = OPEN_ALWAYS;
  /* O_TRUNC truncates the data and nothing else (CREATE_ALWAYS would also
   * reset the attributes, and refuses a hidden file): done below. */

  DWORD fl = FILE_FLAG_BACKUP_SEMANTICS;
  if (!(flags & PM_O_DIRECTORY)) fl |= FILE_FLAG_OVERLAPPED;
  /* An exclusive creation never goes through a link either. */
  if (flags & (PM_O_NOFOLLOW | PM_O_EXCL)) fl |= FILE_FLAG_OPEN_REPARSE_POINT;
  if (flags & PM_O_DIRECT) fl |= FILE_FLAG_NO_BUFFERING;
  /* PM_O_NOATIME has no Windows 2000 form (an access time of -1 through
   * SetFileTime is XP's): dropped, as the contract allows. */
  DWORD attrs_new = (mode & 0200) ? FILE_ATTRIBUTE_NORMAL
                                  : FILE_ATTRIBUTE_READONLY;
  /* A file created with no group or other bits is private until it is
   * complete: a DACL for its owner and Administrators only (meta_win32.c),
   * until chmod or the source's descriptor replaces it. */
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
  if ((flags & PM_O_CREAT) && !(mode & 077))
    sa.lpSecurityDescriptor = pmw_private_sd();

  HANDLE h;
  for (int pass = 0;; pass++) {
    h = CreateFileW(w, access, SHARE_ALL,
                    sa.lpSecurityDescriptor ? &sa : NULL, disp,
                    fl | attrs_new, NULL);
    if (h == INVALID_HANDLE_VALUE) {
      DWORD e = GetLastError();
      if (e == ERROR_ACCESS_DENIED && wr) {
        DWORD a = GetFileAttributesW(w);
        if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY)) {
          pm_oserr_record(PM_EISDIR, (int)e);
          free(w);
          return PM_EISDIR;
        }
      }
      rc = fail_path(e, w);
      free(w);
      return rc;
    }
    bool created =
        disp != OPEN_EXISTING && GetLastError() != ERROR_ALREADY_EXISTS;
    BY_HANDLE_FILE_INFORMATION bi;
    if (!pmw_w32.get_file_information(h, &bi)) {
      /* No file information: a pipe or a device (GetFileType is asked
       * only then; see pmw_stat_handle), never a directory, never
       * regular. */
      DWORD e = GetLastError();
      if (GetFileType(h) == FILE_TYPE_DISK) rc = pmw_fail(e);
      else if (flags & PM_O_REGULAR) rc = fail_self(PM_ESPECIAL);
      else if (flags & PM_O_DIRECTORY) rc = fail_self(PM_ENOTDIR);
      break;
    }
    bool dir = (bi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
    if ((fl & FILE_FLAG_OPEN_REPARSE_POINT) &&
        (bi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
      if (is_link(h, bi.dwFileAttributes)) {
        /* A symbolic link or junction: CREATE_NEW cannot have opened one,
         * so this is PM_O_NOFOLLOW's case. */
        rc = fail_self(PM_ELOOP);
        break;
      }
      if (pass == 0 && !(flags & PM_O_EXCL)) {
        /* Another kind of reparse point (HSM, single-instance store) is
         * a file: open its data as Windows presents it. */
        CloseHandle(h);
        fl &= ~(DWORD)FILE_FLAG_OPEN_REPARSE_POINT;
        continue;
      }
    }
    if (dir) {
      if (wr || (flags & PM_O_CREAT)) rc = fail_self(PM_EISDIR);
      else if (flags & PM_O_REGULAR) rc = fail_self(PM_ESPECIAL);
    } else if (flags & PM_O_DIRECTORY) {
      rc = fail_self(PM_ENOTDIR);
    } else if (trunc && !created) {
      if ((bi.nFileSizeHigh | bi.nFileSizeLow) != 0) {
        if (append) {
          /* Append access cannot truncate: a second handle can. */
          HANDLE t;
          NTSTATUS s = reopen(h, FILE_WRITE_DATA, &t);
          if (!NT_SUCCESS(s)) {
            rc = pmw_fail_nt(s);
          } else {
            rc = set_size(t, 0);
            CloseHandle(t);
          }
        } else {
          rc = set_size(h, 0);
        }
      }
    }
    /* Marked sparse before anything is written or the size set, so that
     * no hole is ever allocated (platform.h, PM_O_SPARSE). */
    if (!rc && !dir && wr && (flags & PM_O_SPARSE)) pmw_mark_sparse(h);
    break;
  }
  free(w);
  if (rc) {
    CloseHandle(h);
    return rc;
  }
  *out = (pm_fd)h;
  return PM_OK;
}

static int w_close(const pm_fs *self PM_UNUSED, pm_fd fd) {
  return CloseHandle((HANDLE)fd) ? PM_OK : pmw_fail_last();
}

static int64_t w_pread(const pm_fs *self PM_UNUSED, pm_fd fd, void *buf,
                       size_t len, uint64_t off) {
  if (len == 0) return 0;
  DWORD n = len > IO_MAX ? IO_MAX : (DWORD)len, got = 0;
  OVERLAPPED ov;
  int rc = ov_begin(&ov, off);
  if (rc) return rc;
  BOOL ok = ReadFile((HANDLE)fd, buf, n, &got, &ov);
  DWORD e = ov_end((HANDLE)fd, &ov, ok, &got);
  if (e == ERROR_HANDLE_EOF) return 0; /* at or past the end */
  if (e) return pmw_fail(e);
  return (int64_t)got;
}

static int64_t w_pwrite(const pm_fs *self PM_UNUSED, pm_fd fd, const void *buf,
                        size_t len, uint64_t off) {
  if (len == 0) return 0;
  DWORD n = len > IO_MAX ? IO_MAX : (DWORD)len, got = 0;
  OVERLAPPED ov;
  int rc = ov_begin(&ov, off);
  if (rc) return rc;
  BOOL ok = WriteFile((HANDLE)fd, buf, n, &got, &ov);
  DWORD e = ov_end((HANDLE)fd, &ov, ok, &got);
  if (e) return pmw_fail(e);
  return (int64_t)got;
}

/* FlushFileBuffers (Windows has no data-only flush). It wants write
 * access: a read-only handle is flushed through a second handle with
 * write access (verify re-reads a copy through one). A directory holds no
 * data; its entries are in the NTFS log, so there is nothing to flush. */
static int w_fsync(const pm_fs *self PM_UNUSED, pm_fd fd, bool data_only) {
  (void)data_only;
  HANDLE h = (HANDLE)fd;
  if (FlushFileBuffers(h)) return PM_OK;
  DWORD e = GetLastError();
  if (e != ERROR_ACCESS_DENIED) return pmw_fail(e);
  BY_HANDLE_FILE_INFORMATION bi;
  if (GetFileInformationByHandle(h, &bi) &&
      (bi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
    return PM_OK;
  HANDLE t;
  NTSTATUS s = reopen(h, FILE_WRITE_DATA, &t);
  if (!NT_SUCCESS(s)) return pmw_fail(e);
  int rc = FlushFileBuffers(t) ? PM_OK : pmw_fail_last();
  CloseHandle(t);
  return rc;
}

static int w_ftruncate(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t size) {
  return set_size((HANDLE)fd, size);
}

static int w_fstat(const pm_fs *self PM_UNUSED, pm_fd fd, pm_stat *st) {
  return pmw_stat_handle((HANDLE)fd, st);
}

static int w_stat(const pm_fs *self PM_UNUSED, const char *path, bool follow,
                  pm_stat *st) {
  wchar_t *w;
  int rc = wpath(path, &w);
  if (rc) return rc;
  HANDLE h;
  rc = open_meta(w, follow, FILE_READ_ATTRIBUTES, &h);
  free(w);
  if (rc) return rc;
  rc = pmw_stat_handle(h, st);
  CloseHandle(h);
  return rc;
}

/* ---- directories ---- */

static int w_opendir(const pm_fs *self PM_UNUSED, const char *path,
                     pm_dir **out) {
  *out = NULL;
  wchar_t *w;
  int rc = wpath(path, &w);
  if (rc) return rc;
  /* A synchronous handle: the listing code owns it from here on. */
  HANDLE h = CreateFileW(w, FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES |
                                SYNCHRONIZE,
                         SHARE_ALL, NULL, OPEN_EXISTING,
                         FILE_FLAG_BACKUP_SEMANTICS, NULL);
  if (h == INVALID_HANDLE_VALUE) {
    rc = fail_path(GetLastError(), w);
    free(w);
    return rc;
  }
  free(w);
  BY_HANDLE_FILE_INFORMATION bi;
  rc = info_of(h, &bi);
  if (!rc && !(bi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
    rc = fail_self(PM_ENOTDIR);
  if (rc) {
    CloseHandle(h);
    return rc;
  }
  return pmw_opendir_handle(h, out);
}

/* Directories have no mode on Windows (a directory's read-only attribute
 * only tells Explorer to look for desktop.ini): the mode is not kept. A
 * mode with no group or other bits (0700: a directory being filled) makes
 * it private as a file is (see open), until chmod with such bits or the
 * source's descriptor replaces its DACL. */
static int w_mkdir(const pm_fs *self PM_UNUSED, const char *path,
                   uint32_t mode) {
  wchar_t *w;
  int rc = wpath(path, &w);
  if (rc) return rc;
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
  if (!(mode & 077)) sa.lpSecurityDescriptor = pmw_private_sd();
  if (!CreateDirectoryW(w, sa.lpSecurityDescriptor ? &sa : NULL))
    rc = fail_path(GetLastError(), w);
  free(w);
  return rc;
}

/* The attributes SetFileAttributes and FileBasicInformation can set. */
#define SETTABLE_ATTRS                                                     \
  (FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM | \
   FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_TEMPORARY |                       \
   FILE_ATTRIBUTE_OFFLINE | FILE_ATTRIBUTE_NOT_CONTENT_INDEXED)

/* Drops FILE_ATTRIBUTE_READONLY from w for `op`, which Windows refuses on
 * a read-only object and POSIX does not, and puts it back if op fails.
 * Returns op's result (TRUE/FALSE, GetLastError kept). */
static BOOL without_readonly(const wchar_t *w, DWORD attrs,
                             BOOL (*op)(const wchar_t *, const wchar_t *),
                             const wchar_t *a, const wchar_t *b) {
  DWORD keep = attrs & SETTABLE_ATTRS & ~(DWORD)FILE_ATTRIBUTE_READONLY;
  if (!SetFileAttributesW(w, keep ? keep : FILE_ATTRIBUTE_NORMAL))
    return FALSE;
  if (op(a, b)) return TRUE;
  DWORD e = GetLastError();
  SetFileAttributesW(w, keep | FILE_ATTRIBUTE_READONLY);
  SetLastError(e);
  return FALSE;
}

static BOOL op_rmdir(const wchar_t *a, const wchar_t *b) {
  (void)b;
  return RemoveDirectoryW(a);
}

static BOOL op_rename(const wchar_t *a, const wchar_t *b) {
  return MoveFileExW(a, b, MOVEFILE_REPLACE_EXISTING);
}

static int w_rmdir(const pm_fs *self PM_UNUSED, const char *path) {
  wchar_t *w;
  int rc = wpath(path, &w);
  if (rc) return rc;
  BOOL ok = RemoveDirectoryW(w);
  DWORD e = ok ? 0 : GetLastError();
  if (!ok) {
    DWORD a = GetFileAttributesW(w);
    if (a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY)) {
      pm_oserr_record(PM_ENOTDIR, (int)e);
      free(w);
      return PM_ENOTDIR;
    }
    if (e == ERROR_ACCESS_DENIED && a != INVALID_FILE_ATTRIBUTES &&
        (a & FILE_ATTRIBUTE_READONLY)) {
      ok = without_readonly(w, a, op_rmdir, w, NULL);
      e = ok ? 0 : GetLastError();
    }
  }
  if (!ok) rc = fail_path(e, w);
  free(w);
  return rc;
}

/* FILE_BASIC_INFORMATION with every time 0 (left as it is) and the
 * attributes `attrs` (FILE_ATTRIBUTE_NORMAL for none). */
static NTSTATUS set_attrs(HANDLE h, DWORD attrs) {
  FILE_BASIC_INFORMATION fb;
  memset(&fb, 0, sizeof fb);
  fb.FileAttributes = attrs ? attrs : FILE_ATTRIBUTE_NORMAL;
  IO_STATUS_BLOCK io;
  return NtSetInformationFile(h, &io, &fb, sizeof fb, FileBasicInformation);
}

/* Deletes the read-only file w through one handle: the attribute is
 * dropped, the file marked for deletion, and the attribute put back, so
 * that a file which keeps other names (hard links) keeps it too. Returns
 * 0 or a Win32 error. */
static DWORD delete_readonly(const wchar_t *w) {
  HANDLE h = CreateFileW(
      w, DELETE | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES, SHARE_ALL,
      NULL, OPEN_EXISTING,
      FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  if (h == INVALID_HANDLE_VALUE) return GetLastError();
  DWORD e = 0;
  BY_HANDLE_FILE_INFORMATION bi;
  if (!GetFileInformationByHandle(h, &bi)) {
    e = GetLastError();
  } else {
    DWORD attrs = bi.dwFileAttributes & SETTABLE_ATTRS;
    NTSTATUS s = set_attrs(h, attrs & ~(DWORD)FILE_ATTRIBUTE_READONLY);
    if (NT_SUCCESS(s)) {
      /* FILE_DISPOSITION_INFORMATION; its one member's name differs
       * between headers (and DeleteFile is a macro of windows.h). */
      struct {
        BOOLEAN del;
      } del = {TRUE};
      IO_STATUS_BLOCK io;
      s = NtSetInformationFile(h, &io, &del, sizeof del,
                               FileDispositionInformation);
      /* Put back whether or not the deletion took: other names of the
       * file, or the file itself, keep their attribute. */
      set_attrs(h, attrs);
    }
    if (!NT_SUCCESS(s)) {
      CloseHandle(h);
      pmw_fail_nt(s);
      return (DWORD)pm_oserr_last();
    }
  }
  CloseHandle(h);
  return e;
}

static int w_unlink(const pm_fs *self PM_UNUSED, const char *path) {
  wchar_t *w;
  int rc = wpath(path, &w);
  if (rc) return rc;
  BOOL ok = DeleteFileW(w);
  DWORD e = ok ? 0 : GetLastError();
  if (!ok && e == ERROR_ACCESS_DENIED) {
    DWORD a = GetFileAttributesW(w);
    if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY)) {
      if (a & FILE_ATTRIBUTE_REPARSE_POINT) {
        /* A junction (or a directory symbolic link) is removed as a
         * directory; it is the link, not what it points to, that goes. */
        ok = RemoveDirectoryW(w);
        e = ok ? 0 : GetLastError();
      } else {
        pm_oserr_record(PM_EISDIR, (int)e);
        free(w);
        return PM_EISDIR;
      }
    } else if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_READONLY)) {
      /* POSIX unlink does not look at the file's mode; Windows refuses to
       * delete a read-only file. */
      e = delete_readonly(w);
      ok = e == 0;
    }
  }
  if (!ok) rc = fail_path(e, w);
  free(w);
  return rc;
}

/* POSIX rename, as near as MoveFileExW comes: it replaces a file but
 * neither a read-only file (the attribute is dropped first; were that file
 * to keep other names through hard links, they would lose it too) nor a
 * directory. An empty directory that a directory is renamed onto is removed
 * first: unlike POSIX, there is a moment when neither is there. */
static int w_rename(const pm_fs *self PM_UNUSED, const char *from,
                    const char *to) {
  wchar_t *wf, *wt;
  int rc = wpath(from, &wf);
  if (rc) return rc;
  if ((rc = wpath(to, &wt)) != PM_OK) {
    free(wf);
    return rc;
  }
  BOOL ok = MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING);
  DWORD e = ok ? 0 : GetLastError();
  if (!ok && (e == ERROR_ACCESS_DENIED || e == ERROR_ALREADY_EXISTS)) {
    DWORD af = GetFileAttributesW(wf), at = GetFileAttributesW(wt);
    if (af != INVALID_FILE_ATTRIBUTES && at != INVALID_FILE_ATTRIBUTES) {
      bool fdir = (af & FILE_ATTRIBUTE_DIRECTORY) != 0;
      bool tdir = (at & FILE_ATTRIBUTE_DIRECTORY) != 0;
      if (tdir && !fdir) {
        rc = PM_EISDIR;
      } else if (fdir && !tdir) {
        rc = PM_ENOTDIR;
      } else if (fdir && tdir) {
        /* Never remove the source: a rename onto itself changes nothing. */
        HANDLE a, b;
        BY_HANDLE_FILE_INFORMATION ia, ib;
        bool same = false;
        if (open_meta(wf, false, FILE_READ_ATTRIBUTES, &a) == PM_OK) {
          if (open_meta(wt, false, FILE_READ_ATTRIBUTES, &b) == PM_OK) {
            same = GetFileInformationByHandle(a, &ia) &&
                   GetFileInformationByHandle(b, &ib) &&
                   ia.dwVolumeSerialNumber == ib.dwVolumeSerialNumber &&
                   ia.nFileIndexHigh == ib.nFileIndexHigh &&
                   ia.nFileIndexLow == ib.nFileIndexLow;
            CloseHandle(b);
          }
          CloseHandle(a);
        }
        if (same) {
          ok = TRUE;
        } else if (!RemoveDirectoryW(wt)) {
          e = GetLastError();
        } else {
          ok = MoveFileExW(wf, wt, 0);
          e = ok ? 0 : GetLastError();
        }
      } else if (at & FILE_ATTRIBUTE_READONLY) {
        ok = without_readonly(wt, at, op_rename, wf, wt);
        e = ok ? 0 : GetLastError();
      }
    }
  }
  if (rc) pm_oserr_record(rc, (int)e);
  else if (!ok)
    rc = fail_path(e, GetFileAttributesW(wf) == INVALID_FILE_ATTRIBUTES ? wf
                                                                        : wt);
  free(wf);
  free(wt);
  return rc;
}

typedef BOOL(WINAPI *hardlink_fn)(LPCWSTR, LPCWSTR, LPSECURITY_ATTRIBUTES);

/* CreateHardLinkW is Windows 2000's: looked up, so that pomove.exe still
 * loads on NT 4.0, where link answers PM_ENOTSUP. */
static int w_link(const pm_fs *self PM_UNUSED, const char *existing,
                  const char *newpath) {
  HMODULE k = GetModuleHandleW(L"kernel32.dll");
  hardlink_fn fn =
      k ? (hardlink_fn)(void (*)(void))GetProcAddress(k, "CreateHardLinkW")
        : NULL;
  if (!fn) return fail_self(PM_ENOTSUP);
  wchar_t *we, *wn;
  int rc = wpath(existing, &we);
  if (rc) return rc;
  if ((rc = wpath(newpath, &wn)) != PM_OK) {
    free(we);
    return rc;
  }
  if (!fn(wn, we, NULL)) {
    DWORD e = GetLastError();
    DWORD a = GetFileAttributesW(we);
    if (e == ERROR_ACCESS_DENIED && a != INVALID_FILE_ATTRIBUTES &&
        (a & FILE_ATTRIBUTE_DIRECTORY)) {
      rc = PM_EPERM; /* POSIX: no hard link to a directory */
      pm_oserr_record(rc, (int)e);
    } else {
      rc = fail_path(e, a == INVALID_FILE_ATTRIBUTES ? we : wn);
    }
  }
  free(we);
  free(wn);
  return rc;
}

/* Windows 2000 has no symbolic links (CreateSymbolicLinkW is Vista's), and
 * pomove does not make junctions in their place. */
static int w_symlink(const pm_fs *self PM_UNUSED, const char *target,
                     const char *linkpath) {
  (void)target;
  (void)linkpath;
  return fail_self(PM_ENOTSUP);
}

/* REPARSE_DATA_BUFFER (ntifs.h), the two name-surrogate forms. */
typedef struct reparse_data {
  DWORD tag;
  WORD len;
  WORD reserved;
  WORD sub_off, sub_len, print_off, print_len;
  union {
    struct {
      ULONG flags;
      WCHAR path[1];
    } sym;
    struct {
      WCHAR path[1];
    } mnt;
  } u;
} reparse_data;

/* The target of the junction or symbolic link open at h (with
 * FILE_FLAG_OPEN_REPARSE_POINT), as stored: its substitute name, malloc'd
 * and NUL-terminated. PM_EINVAL when h is not a link. */
static int link_target(HANDLE h, wchar_t **out) {
  *out = NULL;
  union {
    reparse_data r;
    unsigned char raw[MAXIMUM_REPARSE_DATA_BUFFER_SIZE];
  } *buf = malloc(sizeof *buf);
  if (!buf) return fail_self(PM_ENOMEM);
  DWORD got;
  DWORD e = ioctl_wait(h, FSCTL_GET_REPARSE_POINT, NULL, 0, buf, sizeof *buf,
                       &got);
  int rc = PM_OK;
  if (e == ERROR_NOT_A_REPARSE_POINT) {
    rc = PM_EINVAL;
    pm_oserr_record(rc, (int)e);
  } else if (e) {
    rc = pmw_fail(e);
  } else {
    const WCHAR *base = NULL;
    if (buf->r.tag == IO_REPARSE_TAG_SYMLINK)
      base = buf->r.u.sym.path;
    else if (buf->r.tag == IO_REPARSE_TAG_MOUNT_POINT)
      base = buf->r.u.mnt.path;
    size_t off = buf->r.sub_off, n = buf->r.sub_len;
    if (!base ||
        (const unsigned char *)base + off + n > buf->raw + got) {
      rc = fail_self(PM_EINVAL); /* another kind of reparse point */
    } else {
      wchar_t *t = malloc(n + sizeof *t);
      if (!t) {
        rc = fail_self(PM_ENOMEM);
      } else {
        memcpy(t, (const unsigned char *)base + off, n);
        t[n / sizeof *t] = 0;
        *out = t;
      }
    }
  }
  free(buf);
  return rc;
}

/* A link target as a UTF-8 path of this API: "\??\C:\x" is "C:/x",
 * "\??\UNC\srv\x" is "//srv/x", a relative target keeps its form with
 * '/' separators. */
static int target_utf8(const wchar_t *t, char **out, size_t *len) {
  const wchar_t *p = t;
  bool unc = false;
  if (!wcsncmp(p, L"\\??\\", 4)) {
    p += 4;
    if (!wcsncmp(p, L"UNC\\", 4)) {
      p += 3; /* keep one '\': the second comes first */
      unc = true;
    }
  }
  char *s;
  size_t n;
  int rc = pmw_to_utf8(p, (size_t)-1, &s, &n);
  if (rc) return fail_self(rc);
  for (size_t i = 0; i < n; i++)
    if (s[i] == '\\') s[i] = '/';
  if (unc) {
    char *u = malloc(n + 2);
    if (!u) {
      free(s);
      return fail_self(PM_ENOMEM);
    }
    u[0] = '/';
    memcpy(u + 1, s, n + 1);
    free(s);
    s = u;
    n++;
  }
  *out = s;
  *len = n;
  return PM_OK;
}

static int w_readlink(const pm_fs *self PM_UNUSED, const char *path, char *buf,
                      size_t cap, size_t *len) {
  wchar_t *w;
  int rc = wpath(path, &w);
  if (rc) return rc;
  HANDLE h;
  rc = open_meta(w, false, FILE_READ_ATTRIBUTES, &h);
  free(w);
  if (rc) return rc;
  wchar_t *t;
  rc = link_target(h, &t);
  CloseHandle(h);
  if (rc) return rc;
  char *s;
  size_t n;
  rc = target_utf8(t, &s, &n);
  free(t);
  if (rc) return rc;
  if (n + 1 > cap) {
    rc = fail_self(PM_ERANGE);
  } else {
    memcpy(buf, s, n + 1);
    *len = n;
  }
  free(s);
  return rc;
}

/* No FIFOs, sockets or device nodes on Windows. */
static int w_mknod(const pm_fs *self PM_UNUSED, const char *path, pm_ftype type,
                   uint32_t mode, uint64_t rdev) {
  (void)path;
  (void)type;
  (void)mode;
  (void)rdev;
  return fail_self(PM_ENOTSUP);
}

/* ---- metadata ---- */

/* The owner write bit is the file's FILE_ATTRIBUTE_READONLY; other
 * attributes are kept. A directory has no mode. FileBasicInformation
 * through NtSetInformationFile sets it on the handle (SetFileInformation-
 * ByHandle is Vista's); a handle without FILE_WRITE_ATTRIBUTES gets a
 * second one that has it. */
static int chmod_handle(HANDLE h, uint32_t mode) {
  /* The attributes alone: no volume query (see pmw_attrs_of). */
  DWORD cur;
  int rc = pmw_attrs_of(h, &cur);
  if (rc) return rc;
  /* Group or other bits end a private file's or directory's privacy
   * (see open and mkdir); a directory keeps no other part of a mode. */
  if (mode & 077) {
    rc = pmw_meta_unprivate(h);
    if (rc) return rc;
  }
  if (cur & FILE_ATTRIBUTE_DIRECTORY) return PM_OK;
  DWORD attrs = cur & SETTABLE_ATTRS;
  DWORD want = (mode & 0200) ? attrs & ~(DWORD)FILE_ATTRIBUTE_READONLY
                             : attrs | FILE_ATTRIBUTE_READONLY;
  if (want == attrs) return PM_OK;
  NTSTATUS s = set_attrs(h, want);
  if (s == STATUS_ACCESS_DENIED) {
    HANDLE t;
    s = reopen(h, FILE_WRITE_ATTRIBUTES, &t);
    if (NT_SUCCESS(s)) {
      s = set_attrs(t, want);
      CloseHandle(t);
    }
  }
  return NT_SUCCESS(s) ? PM_OK : pmw_fail_nt(s);
}

static int w_fchmod(const pm_fs *self PM_UNUSED, pm_fd fd, uint32_t mode) {
  return chmod_handle((HANDLE)fd, mode);
}

static int w_chmod(const pm_fs *self PM_UNUSED, const char *path,
                   uint32_t mode) {
  wchar_t *w;
  int rc = wpath(path, &w);
  if (rc) return rc;
  HANDLE h;
  rc = open_meta(w, true, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES, &h);
  free(w);
  if (rc) return rc;
  rc = chmod_handle(h, mode);
  CloseHandle(h);
  return rc;
}

/* Owners and groups are security descriptors on Windows, copied apart
 * from this table; pm_stat says 0 for both. A chown that changes nothing
 * succeeds, as the contract wants; any other is not supported here. */
static int chown_check(const pm_stat *st, uint32_t uid, uint32_t gid) {
  if (uid == st->uid && gid == st->gid) return PM_OK;
  return fail_self(PM_ENOTSUP);
}

static int w_fchown(const pm_fs *self PM_UNUSED, pm_fd fd, uint32_t uid,
                    uint32_t gid) {
  pm_stat st;
  int rc = pmw_stat_handle((HANDLE)fd, &st);
  return rc ? rc : chown_check(&st, uid, gid);
}

static int w_chown(const pm_fs *self PM_UNUSED, const char *path, uint32_t uid,
                   uint32_t gid, bool follow) {
  wchar_t *w;
  int rc = wpath(path, &w);
  if (rc) return rc;
  HANDLE h;
  rc = open_meta(w, follow, FILE_READ_ATTRIBUTES, &h);
  free(w);
  if (rc) return rc;
  pm_stat st;
  rc = pmw_stat_handle(h, &st);
  CloseHandle(h);
  return rc ? rc : chown_check(&st, uid, gid);
}

/* A FILETIME for SetFileTime, where 0 would mean "leave it": the earliest
 * time NTFS holds is 1601-01-01 plus 100 ns. */
static FILETIME ft_of(const pm_time *t) {
  FILETIME f = pmw_filetime_of(*t);
  if (!f.dwLowDateTime && !f.dwHighDateTime) f.dwLowDateTime = 1;
  return f;
}

static int times_handle(HANDLE h, const pm_time *atime, const pm_time *mtime) {
  FILETIME fa, fm;
  if (atime) fa = ft_of(atime);
  if (mtime) fm = ft_of(mtime);
  if (SetFileTime(h, NULL, atime ? &fa : NULL, mtime ? &fm : NULL))
    return PM_OK;
  DWORD e = GetLastError();
  if (e != ERROR_ACCESS_DENIED) return pmw_fail(e);
  HANDLE t;
  if (!NT_SUCCESS(reopen(h, FILE_WRITE_ATTRIBUTES, &t))) return pmw_fail(e);
  int rc = SetFileTime(t, NULL, atime ? &fa : NULL, mtime ? &fm : NULL)
               ? PM_OK
               : pmw_fail_last();
  CloseHandle(t);
  return rc;
}

static int w_futimes(const pm_fs *self PM_UNUSED, pm_fd fd,
                     const pm_time *atime, const pm_time *mtime) {
  return times_handle((HANDLE)fd, atime, mtime);
}

static int w_utimes(const pm_fs *self PM_UNUSED, const char *path,
                    const pm_time *atime, const pm_time *mtime, bool follow) {
  wchar_t *w;
  int rc = wpath(path, &w);
  if (rc) return rc;
  HANDLE h;
  rc = open_meta(w, follow, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES, &h);
  free(w);
  if (rc) return rc;
  rc = times_handle(h, atime, mtime);
  CloseHandle(h);
  return rc;
}

/* Extended attributes: the reserved names of platform.h's "Windows
 * metadata" contract (meta_win32.c), on a handle opened for the access
 * the call needs. */
static int xattr_path(const char *path, bool follow, const char *name,
                      int op, HANDLE *h) {
  wchar_t *w;
  int rc = wpath(path, &w);
  if (rc) return rc;
  rc = open_meta(w, follow, pmw_meta_access(name, op), h);
  free(w);
  return rc;
}

static int w_xattr_list(const pm_fs *self PM_UNUSED, const char *path,
                        bool follow, char *buf, size_t cap, size_t *len) {
  HANDLE h;
  int rc = xattr_path(path, follow, NULL, PMW_META_GET, &h);
  if (rc) return rc;
  rc = pmw_meta_list(h, buf, cap, len);
  CloseHandle(h);
  return rc;
}

static int w_xattr_get(const pm_fs *self PM_UNUSED, const char *path,
                       bool follow, const char *name, void *buf, size_t cap,
                       size_t *len) {
  HANDLE h;
  int rc = xattr_path(path, follow, name, PMW_META_GET, &h);
  if (rc) return rc;
  rc = pmw_meta_get(h, name, buf, cap, len);
  CloseHandle(h);
  return rc;
}

static int w_xattr_set(const pm_fs *self PM_UNUSED, const char *path,
                       bool follow, const char *name, const void *val,
                       size_t len) {
  wchar_t *w;
  int rc = wpath(path, &w);
  if (rc) return rc;
  HANDLE h;
  DWORD access = pmw_meta_access(name, PMW_META_SET);
  rc = open_meta(w, follow, access, &h);
  bool reduced = false;
  if (rc == PM_EACCES && (access & WRITE_OWNER)) {
    /* No WRITE_OWNER to be had: the descriptor without owner and group
     * (pmw_meta_set_reduced). */
    rc = open_meta(w, follow, access & ~(DWORD)WRITE_OWNER, &h);
    reduced = true;
  }
  free(w);
  if (rc) return rc;
  rc = reduced ? pmw_meta_set_reduced(h, name, val, len)
               : pmw_meta_set(h, name, val, len);
  CloseHandle(h);
  return rc;
}

/* ---- holes, flushing, the volume ---- */

/* Data and holes of a sparse file from FSCTL_QUERY_ALLOCATED_RANGES; a
 * file that is not sparse is data from start to end (the hole is the end),
 * as is a sparse file on a file system that cannot say. */
static int64_t w_seek(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t off,
                      bool hole) {
  HANDLE h = (HANDLE)fd;
  BY_HANDLE_FILE_INFORMATION bi;
  int rc = info_of(h, &bi);
  if (rc) return rc;
  uint64_t size = ((uint64_t)bi.nFileSizeHigh << 32) | bi.nFileSizeLow;
  if (off >= size) return fail_self(PM_ENXIO);
  if (!(bi.dwFileAttributes & FILE_ATTRIBUTE_SPARSE_FILE))
    return hole ? (int64_t)size : (int64_t)off;
  uint64_t pos = off;
  for (;;) {
    uint64_t before = pos;
    FILE_ALLOCATED_RANGE_BUFFER in, r[64];
    in.FileOffset.QuadPart = (LONGLONG)pos;
    in.Length.QuadPart = (LONGLONG)(size - pos);
    DWORD got;
    DWORD e = ioctl_wait(h, FSCTL_QUERY_ALLOCATED_RANGES, &in, sizeof in, r,
                         sizeof r, &got);
    if (e == ERROR_INVALID_FUNCTION || e == ERROR_NOT_SUPPORTED)
      return hole ? (int64_t)size : (int64_t)off;
    if (e && e != ERROR_MORE_DATA) return pmw_fail(e);
    size_t k = got / sizeof r[0];
    for (size_t i = 0; i < k; i++) {
      uint64_t start = (uint64_t)r[i].FileOffset.QuadPart;
      uint64_t end = start + (uint64_t)r[i].Length.QuadPart;
      if (end <= pos) continue;
      if (!hole) return (int64_t)(start > pos ? start : pos);
      if (start > pos) return (int64_t)pos;
      pos = end;
      if (pos >= size) return (int64_t)size;
    }
    /* More ranges than fit: ask again from where this answer ended
     * (only a hole search moves on; a data search has returned). */
    if (e != ERROR_MORE_DATA || k == 0 || pos == before) break;
  }
  /* No allocated range from pos on: a hole up to the end. */
  return hole ? (int64_t)pos : fail_self(PM_ENXIO);
}

/* syncfs: the whole volume's cache is flushed through a handle on the
 * volume (FlushFileBuffers on \\.\X:), which Windows grants to
 * administrators only; the volume is the local fixed drive whose serial
 * number is the handle's. Elsewhere (no administrator, a network drive,
 * a volume without a letter) there is no whole-volume flush: PM_ENOTSUP,
 * and the copy engine flushes each file instead. */
static int w_syncfs(const pm_fs *self PM_UNUSED, pm_fd fd) {
  BY_HANDLE_FILE_INFORMATION bi;
  int rc = info_of((HANDLE)fd, &bi);
  if (rc) return rc;
  DWORD drives = GetLogicalDrives();
  for (int i = 2; i < 26; i++) { /* from C: (A: and B: are floppies) */
    if (!(drives & (1u << i))) continue;
    wchar_t root[] = {(wchar_t)(L'A' + i), L':', L'\\', 0};
    UINT type = GetDriveTypeW(root);
    if (type != DRIVE_FIXED && type != DRIVE_RAMDISK) continue;
    DWORD serial;
    if (!GetVolumeInformationW(root, NULL, 0, &serial, NULL, NULL, NULL, 0) ||
        serial != bi.dwVolumeSerialNumber)
      continue;
    wchar_t dev[] = {L'\\', L'\\', L'.', L'\\', root[0], L':', 0};
    HANDLE v = CreateFileW(dev, GENERIC_READ | GENERIC_WRITE,
                           FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                           OPEN_EXISTING, 0, NULL);
    if (v == INVALID_HANDLE_VALUE) {
      DWORD e = GetLastError();
      pm_oserr_record(PM_ENOTSUP, (int)e);
      return PM_ENOTSUP;
    }
    rc = FlushFileBuffers(v) ? PM_OK : pmw_fail_last();
    CloseHandle(v);
    return rc;
  }
  return fail_self(PM_ENOTSUP);
}

typedef BOOL(WINAPI *volpath_fn)(LPCWSTR, LPWSTR, DWORD);

/* The root of the volume w lies on, for GetVolumeInformationW and
 * GetDiskFreeSpace*W: "C:\", "\\srv\share\" or, for another \\?\ form, its
 * first component with a trailing '\'. Malloc'd. */
static wchar_t *volume_root(const wchar_t *w) {
  size_t r = root_len(w);
  wchar_t *s = malloc((r + 2) * sizeof *s);
  if (!s) return NULL;
  if (w[5] == L':') {
    s[0] = w[4];
    s[1] = L':';
    s[2] = L'\\';
    s[3] = 0;
  } else if (!wcsncmp(w + 4, L"UNC\\", 4)) {
    s[0] = s[1] = L'\\';
    memcpy(s + 2, w + 8, (r - 8) * sizeof *s);
    s[r - 6] = L'\\';
    s[r - 5] = 0;
  } else {
    memcpy(s, w, r * sizeof *s);
    s[r] = L'\\';
    s[r + 1] = 0;
  }
  return s;
}

/* The volume is found from the path's root; where that root's serial is
 * not the file's (a volume mounted on a folder below it), GetVolume-
 * PathNameW (Windows 2000, looked up for NT 4.0's sake) names the right
 * one. dev is the file's volume serial, as in pm_stat. */
static int w_fsinfo(const pm_fs *self PM_UNUSED, const char *path,
                    pm_fsinfo *info) {
  wchar_t *w;
  int rc = wpath(path, &w);
  if (rc) return rc;
  HANDLE h;
  rc = open_meta(w, true, FILE_READ_ATTRIBUTES, &h);
  if (rc) {
    free(w);
    return rc;
  }
  BY_HANDLE_FILE_INFORMATION bi;
  rc = info_of(h, &bi);
  CloseHandle(h);
  wchar_t *root = rc ? NULL : volume_root(w);
  if (!rc && !root) rc = fail_self(PM_ENOMEM);
  wchar_t fsname[MAX_PATH + 1];
  DWORD serial = 0;
  if (!rc && (!GetVolumeInformationW(root, NULL, 0, &serial, NULL, NULL,
                                     fsname, MAX_PATH + 1) ||
              serial != bi.dwVolumeSerialNumber)) {
    HMODULE k = GetModuleHandleW(L"kernel32.dll");
    volpath_fn fn = k ? (volpath_fn)(void (*)(void))GetProcAddress(
                            k, "GetVolumePathNameW")
                      : NULL;
    size_t n = wcslen(w) + 2;
    wchar_t *vp = fn ? malloc(n * sizeof *vp) : NULL;
    if (vp && fn(w, vp, (DWORD)n)) {
      free(root);
      root = vp;
    } else {
      free(vp);
    }
    if (!GetVolumeInformationW(root, NULL, 0, &serial, NULL, NULL, fsname,
                               MAX_PATH + 1))
      rc = pmw_fail_last();
  }
  ULARGE_INTEGER avail, total, totfree;
  DWORD spc, bps, nfree, nclus;
  if (!rc && !GetDiskFreeSpaceExW(root, &avail, &total, &totfree))
    rc = pmw_fail_last();
  if (!rc) {
    memset(info, 0, sizeof *info);
    char *t;
    if (pmw_to_utf8(fsname, (size_t)-1, &t, NULL) == PM_OK) {
      strncpy(info->type, t, sizeof info->type - 1);
      free(t);
    }
    info->total_bytes = total.QuadPart;
    info->free_bytes = avail.QuadPart;
    uint64_t bs = 4096;
    if (GetDiskFreeSpaceW(root, &spc, &bps, &nfree, &nclus) && spc && bps)
      bs = (uint64_t)spc * bps;
    info->block_size = (uint32_t)bs;
    info->dev = bi.dwVolumeSerialNumber;
  }
  free(root);
  free(w);
  return rc;
}

/* ---- realpath ---- */

/* The part of a link target that names a path realpath can go on with:
 * a drive or UNC path ("\??\C:\x" -> "\\?\C:\x"), or a relative one
 * joined to `dir`; NULL for anything else (a volume GUID), which is then
 * kept as the directory it is. Malloc'd. */
static wchar_t *follow_target(const wchar_t *t, const wchar_t *dir,
                              size_t dirlen, const wchar_t *rest) {
  size_t tl = wcslen(t), rl = wcslen(rest);
  wchar_t *r;
  if (!wcsncmp(t, L"\\??\\", 4)) {
    const wchar_t *p = t + 4;
    if (!(p[0] && p[1] == L':') && wcsncmp(p, L"UNC\\", 4)) return NULL;
    r = malloc((tl + rl + 1) * sizeof *r);
    if (!r) return NULL;
    memcpy(r, L"\\\\?\\", 4 * sizeof *r);
    memcpy(r + 4, p, (tl - 4) * sizeof *r);
    memcpy(r + tl, rest, (rl + 1) * sizeof *r);
    return r;
  }
  if (t[0] == L'\\' || (t[0] && t[1] == L':')) return NULL;
  r = malloc((dirlen + 1 + tl + rl + 1) * sizeof *r);
  if (!r) return NULL;
  memcpy(r, dir, dirlen * sizeof *r);
  r[dirlen] = L'\\';
  memcpy(r + dirlen + 1, t, tl * sizeof *r);
  memcpy(r + dirlen + 1 + tl, rest, (rl + 1) * sizeof *r);
  return r;
}

/* Resolves w, a path from wpath: each component takes the name its
 * directory holds (case and long name, from FindFirstFileW, which names
 * the entry itself since no name holds a wildcard), and junctions and
 * symbolic links to drive, UNC or relative paths are followed, at most 40
 * times. GetFinalPathNameByHandleW would do it in one call, on Vista. */
static int resolve(const wchar_t *w, wchar_t **out, int hops) {
  *out = NULL;
  if (hops > 40) return fail_self(PM_ELOOP);
  size_t len = wcslen(w), root = root_len(w), ncomp = 0;
  for (size_t i = root; i < len; i++)
    if (w[i] == L'\\') ncomp++;
  size_t cap = len + ncomp * (MAX_PATH + 1) + 2;
  wchar_t *r = malloc(cap * sizeof *r);
  if (!r) return fail_self(PM_ENOMEM);
  memcpy(r, w, root * sizeof *r);
  r[root] = 0;
  if (root >= 6 && r[5] == L':' && r[4] >= L'a' && r[4] <= L'z')
    r[4] = (wchar_t)(r[4] - L'a' + L'A');
  size_t o = root;
  const wchar_t *p = w + root;
  while (*p) {
    while (*p == L'\\') p++;
    if (!*p) break;
    const wchar_t *e = p;
    while (*e && *e != L'\\') e++;
    size_t dirlen = o;
    r[o++] = L'\\';
    memcpy(r + o, p, (size_t)(e - p) * sizeof *r);
    o += (size_t)(e - p);
    r[o] = 0;
    WIN32_FIND_DATAW fd;
    DWORD attrs;
    HANDLE f = pmw_w32.find_first_file(r, &fd);
    if (f != INVALID_HANDLE_VALUE) {
      FindClose(f);
      size_t n = wcslen(fd.cFileName);
      /* A name that differs only as the directory spells it. */
      if (n && dirlen + 1 + n < cap) {
        memcpy(r + dirlen + 1, fd.cFileName, (n + 1) * sizeof *r);
        o = dirlen + 1 + n;
      }
      attrs = fd.dwFileAttributes;
    } else {
      /* The directory cannot be listed: the name stays as given. */
      attrs = GetFileAttributesW(r);
      if (attrs == INVALID_FILE_ATTRIBUTES) {
        int rc = fail_path(GetLastError(), r);
        free(r);
        return rc;
      }
    }
    p = e;
    if (attrs & FILE_ATTRIBUTE_REPARSE_POINT) {
      HANDLE h;
      wchar_t *t = NULL;
      if (open_meta(r, false, FILE_READ_ATTRIBUTES, &h) == PM_OK) {
        if (link_target(h, &t) != PM_OK) t = NULL;
        CloseHandle(h);
      }
      wchar_t *next = t ? follow_target(t, r, dirlen, p) : NULL;
      free(t);
      if (next) {
        free(r);
        /* Normalised again (".." in a relative target) through pmw_path,
         * which takes UTF-8. */
        char *u;
        wchar_t *nw;
        int rc = pmw_to_utf8(next, (size_t)-1, &u, NULL);
        free(next);
        if (rc) return fail_self(rc);
        rc = wpath(u, &nw);
        free(u);
        if (rc) return rc;
        rc = resolve(nw, out, hops + 1);
        free(nw);
        return rc;
      }
    }
  }
  if (o == root) {
    r[o++] = L'\\';
    r[o] = 0;
  }
  *out = r;
  return PM_OK;
}

/* "C:/x/y", "//srv/share/x": the resolved path without \\?\, with '/'. */
static int w_realpath(const pm_fs *self PM_UNUSED, const char *path, char *buf,
                      size_t cap) {
  wchar_t *w, *r;
  int rc = wpath(path, &w);
  if (rc) return rc;
  rc = resolve(w, &r, 0);
  free(w);
  if (rc) return rc;
  const wchar_t *p = r + 4;
  bool unc = !wcsncmp(p, L"UNC\\", 4);
  if (unc) p += 3;
  else if (!(p[0] && p[1] == L':')) p = r; /* keep \\?\ for a GUID path */
  char *s;
  size_t n;
  rc = pmw_to_utf8(p, (size_t)-1, &s, &n);
  free(r);
  if (rc) return fail_self(rc);
  for (size_t i = 0; i < n; i++)
    if (s[i] == '\\') s[i] = '/';
  size_t need = n + (unc ? 1 : 0) + 1;
  if (need > cap) {
    rc = fail_self(PM_ENAMETOOLONG);
  } else {
    size_t at = 0;
    if (unc) buf[at++] = '/';
    memcpy(buf + at, s, n + 1);
  }
  free(s);
  return rc;
}

/* ---- the page cache, locks ---- */

/* Windows has no call that drops a file's cached pages (nothing short of
 * closing every handle, and not even that for a mapped file). Re-reading
 * from the medium is done with PM_O_DIRECT (FILE_FLAG_NO_BUFFERING, which
 * flushes dirty cached data of the range before it reads). */
static int w_drop_cache(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t off,
                        uint64_t len) {
  (void)fd;
  (void)off;
  (void)len;
  return fail_self(PM_ENOTSUP);
}

/* Windows 2000 cannot tell whether a page is cached (no mincore, no
 * non-waiting read). */
static int w_cached(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t off) {
  (void)fd;
  (void)off;
  return fail_self(PM_ENOTSUP);
}

/* The logical cluster of the file's first extent (FSCTL_GET_RETRIEVAL_
 * POINTERS, NT 4.0 and later, through DeviceIoControl). One extent is
 * asked for: ERROR_MORE_DATA then says the file has more, which is fine.
 * ERROR_HANDLE_EOF: no cluster at all (an empty file, or an NTFS file
 * small enough to live in its MFT record); an Lcn of -1: the first run is
 * a hole or compressed, no place to give. A volume that cannot map
 * clusters (a network drive, Wine) answers PM_ENOTSUP. */
static int w_phys_pos(const pm_fs *self PM_UNUSED, pm_fd fd, uint64_t *pos) {
  STARTING_VCN_INPUT_BUFFER in;
  RETRIEVAL_POINTERS_BUFFER out;
  in.StartingVcn.QuadPart = 0;
  memset(&out, 0, sizeof out);
  DWORD got;
  DWORD e = ioctl_wait((HANDLE)fd, FSCTL_GET_RETRIEVAL_POINTERS, &in,
                       sizeof in, &out, sizeof out, &got);
  if (e == ERROR_INVALID_FUNCTION || e == ERROR_NOT_SUPPORTED ||
      e == ERROR_INVALID_PARAMETER || e == ERROR_CALL_NOT_IMPLEMENTED)
    return fail_self(PM_ENOTSUP);
  if (e == ERROR_HANDLE_EOF) return fail_self(PM_ENODATA);
  if (e && e != ERROR_MORE_DATA) return pmw_fail(e);
  if (!out.ExtentCount || out.Extents[0].Lcn.QuadPart < 0)
    return fail_self(PM_ENODATA);
  /* Cluster 0 holds the boot sector, never a file's data: a volume that
   * says 0 does not map clusters (Wine answers every file so). */
  if (out.Extents[0].Lcn.QuadPart == 0) return fail_self(PM_ENOTSUP);
  *pos = (uint64_t)out.Extents[0].Lcn.QuadPart;
  return 0;
}

/* LockFileEx(LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY). Windows
 * byte-range locks are mandatory: a lock on the file's bytes would refuse
 * other processes' reads of them (the lock file's holder is read by the
 * pomove that is refused). So the lock is one byte far past any data:
 * exclusive among the opens that take it, held by this handle (this file
 * object), released by its close or by the end of the process, whatever
 * the way it ends, as the contract wants. */
static int w_lock(const pm_fs *self PM_UNUSED, pm_fd fd) {
  HANDLE h = (HANDLE)fd;
  OVERLAPPED ov;
  int rc = ov_begin(&ov, LOCK_OFFSET);
  if (rc) return rc;
  BOOL ok = LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY,
                       0, 1, 0, &ov);
  DWORD got = 0;
  DWORD e = ov_end(h, &ov, ok, &got);
  if (!e) return PM_OK;
  if (e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING) {
    pm_oserr_record(PM_EBUSY, (int)e);
    return PM_EBUSY;
  }
  return pmw_fail(e);
}

static const pm_fs_ops win32_ops = {
    .name = "win32",
    .open = w_open,
    .close = w_close,
    .pread = w_pread,
    .pwrite = w_pwrite,
    .fsync = w_fsync,
    .ftruncate = w_ftruncate,
    .fstat = w_fstat,
    .stat = w_stat,
    .opendir = w_opendir,
    .readdir = pmw_readdir,
    .closedir = pmw_closedir,
    .mkdir = w_mkdir,
    .rmdir = w_rmdir,
    .unlink = w_unlink,
    .rename = w_rename,
    .link = w_link,
    .symlink = w_symlink,
    .readlink = w_readlink,
    .mknod = w_mknod,
    .fchmod = w_fchmod,
    .chmod = w_chmod,
    .fchown = w_fchown,
    .chown = w_chown,
    .futimes = w_futimes,
    .utimes = w_utimes,
    .xattr_list = w_xattr_list,
    .xattr_get = w_xattr_get,
    .xattr_set = w_xattr_set,
    .seek = w_seek,
    .syncfs = w_syncfs,
    .fsinfo = w_fsinfo,
    .realpath = w_realpath,
    .drop_cache = w_drop_cache,
    .cached = w_cached,
    .phys_pos = w_phys_pos,
    .open_at = pmw_open_at,
    .stat_at = pmw_stat_at,
    .opendir_at = pmw_opendir_at,
    .mkdir_at = pmw_mkdir_at,
    .symlink_at = pmw_symlink_at,
    .link_at = pmw_link_at,
    .mknod_at = pmw_mknod_at,
    .readlink_at = pmw_readlink_at,
    .unlink_at = pmw_unlink_at,
    .rmdir_at = pmw_rmdir_at,
    .chmod_at = pmw_chmod_at,
    .chown_at = pmw_chown_at,
    .utimes_at = pmw_utimes_at,
    .xattr_list_at = pmw_xattr_list_at,
    .xattr_get_at = pmw_xattr_get_at,
    .xattr_set_at = pmw_xattr_set_at,
    .xattr_remove_at = pmw_xattr_remove_at,
    .lock = w_lock,
    .streams_list = pmw_streams_list,
    .stream_open = pmw_stream_open,
    .stream_remove = pmw_stream_remove,
};

/* The first call enables the backup, restore and security privileges
 * the token holds (meta_win32.c), before any tree is read or written:
 * every open here and in fs_win32_at.c asks for backup semantics
 * (FILE_FLAG_BACKUP_SEMANTICS, FILE_OPEN_FOR_BACKUP_INTENT), which the
 * privileges turn into access past the ACLs, as robocopy /B. Commands
 * reach the file system only through this table. */
static const pm_fs win32_fs = {&win32_ops, NULL};

const pm_fs *pm_fs_native(void) {
  static volatile LONG done;
  if (!done && InterlockedCompareExchange(&done, 1, 0) == 0)
    pmw_privileges_enable();
  return &win32_fs;
}
