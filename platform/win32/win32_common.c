/* win32_common.c - errors, text, paths and handle metadata shared by the
 * Win32 backend files (see win32.h). */
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>
#include <winioctl.h>
#include <winternl.h>
#include <winternl.h>

#include "platform.h"
#include "win32.h"

/* ---- Errors ---- */

int pmw_error_of(DWORD code) {
  switch (code) {
  case ERROR_SUCCESS:
    return PM_OK;
  case ERROR_FILE_NOT_FOUND:
  case ERROR_PATH_NOT_FOUND:
  case ERROR_INVALID_DRIVE:
  case ERROR_BAD_NETPATH:
  case ERROR_BAD_NET_NAME:
  case ERROR_NO_MORE_FILES:
  case ERROR_MOD_NOT_FOUND:
  case ERROR_PROC_NOT_FOUND:
    return PM_ENOENT;
  case ERROR_ACCESS_DENIED:
  case ERROR_NETWORK_ACCESS_DENIED:
  case ERROR_DELETE_PENDING:
  case ERROR_CANNOT_MAKE:
    return PM_EACCES;
  case ERROR_PRIVILEGE_NOT_HELD:
  case ERROR_INVALID_OWNER:
  case ERROR_NOT_ALL_ASSIGNED:
    return PM_EPERM;
  case ERROR_FILE_EXISTS:
  case ERROR_ALREADY_EXISTS:
    return PM_EEXIST;
  case ERROR_DIRECTORY: /* "the directory name is invalid": not a dir */
    return PM_ENOTDIR;
  case ERROR_DIR_NOT_EMPTY:
    return PM_ENOTEMPTY;
  case ERROR_DISK_FULL:
  case ERROR_HANDLE_DISK_FULL:
    return PM_ENOSPC;
  case ERROR_NOT_ENOUGH_QUOTA:
  case 1295: /* ERROR_DISK_QUOTA_EXCEEDED */
    return PM_EDQUOT;
  case ERROR_SHARING_VIOLATION:
  case ERROR_LOCK_VIOLATION:
  case ERROR_BUSY:
  case ERROR_USER_MAPPED_FILE:
  case ERROR_DRIVE_LOCKED:
    return PM_EBUSY;
  case ERROR_FILENAME_EXCED_RANGE:
  case ERROR_BUFFER_OVERFLOW:
    return PM_ENAMETOOLONG;
  case ERROR_CANT_RESOLVE_FILENAME:
  case 681:  /* ERROR_STOPPED_ON_SYMLINK (Vista) */
    return PM_ELOOP;
  case ERROR_NOT_SAME_DEVICE:
    return PM_EXDEV;
  case ERROR_INVALID_PARAMETER:
  case ERROR_INVALID_NAME:
  case ERROR_BAD_PATHNAME:
  case ERROR_NEGATIVE_SEEK:
  case ERROR_INVALID_FLAGS:
  case ERROR_NO_UNICODE_TRANSLATION:
    return PM_EINVAL;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
  case ERROR_NO_SYSTEM_RESOURCES:
  case ERROR_NONPAGED_SYSTEM_RESOURCES:
  case ERROR_PAGED_SYSTEM_RESOURCES:
  case ERROR_WORKING_SET_QUOTA:
    return PM_ENOMEM;
  case ERROR_NOT_SUPPORTED:
  case ERROR_INVALID_FUNCTION:
  case ERROR_CALL_NOT_IMPLEMENTED:
  case ERROR_NOT_A_REPARSE_POINT:
  case ERROR_EAS_NOT_SUPPORTED:
    return PM_ENOTSUP;
  case ERROR_TOO_MANY_OPEN_FILES:
    return PM_EMFILE;
  case ERROR_WRITE_PROTECT:
    return PM_EROFS;
  case ERROR_INVALID_HANDLE:
    return PM_EBADF;
  case ERROR_FILE_TOO_LARGE:
  case ERROR_ARITHMETIC_OVERFLOW:
    return PM_EFBIG;
  case ERROR_INSUFFICIENT_BUFFER:
  case ERROR_MORE_DATA:
    return PM_ERANGE;
  case ERROR_OPERATION_ABORTED:
  case ERROR_CANCELLED:
    return PM_ECANCELED;
  case ERROR_TIMEOUT:
  case WAIT_TIMEOUT:
  case ERROR_SEM_TIMEOUT:
    return PM_ETIMEDOUT;
  case ERROR_IO_PENDING:
  case ERROR_RETRY:
    return PM_EAGAIN;
  case ERROR_EA_LIST_INCONSISTENT:
  case ERROR_FILE_INVALID:
    return PM_ENOENT;
  case ERROR_HANDLE_EOF:
    return PM_ESHORT;
  default:
    /* Device and network failures (ERROR_CRC, ERROR_GEN_FAILURE,
     * ERROR_NETNAME_DELETED, ERROR_SECTOR_NOT_FOUND ...) and anything
     * unknown: an I/O error, reported with its Win32 code. */
    return PM_EIO;
  }
}

int pmw_fail(DWORD code) {
  int err = pmw_error_of(code);
  if (err == PM_OK) err = PM_EIO; /* a failure that left no code */
  pm_oserr_record(err, (int)code);
  return err;
}

int pmw_fail_last(void) { return pmw_fail(GetLastError()); }

/* STATUS_FILE_IS_A_DIRECTORY: RtlNtStatusToDosError makes it
 * ERROR_ACCESS_DENIED, which would lose the contract's PM_EISDIR. */
#define PMW_ST_FILE_IS_A_DIRECTORY ((LONG)0xC00000BAL)

int pmw_fail_nt(LONG status) {
  DWORD code = RtlNtStatusToDosError(status);
  if (status == PMW_ST_FILE_IS_A_DIRECTORY) {
    pm_oserr_record(PM_EISDIR, (int)code);
    return PM_EISDIR;
  }
  return pmw_fail(code);
}

/* ---- Text (UTF-8 / WTF-8 <-> UTF-16) ---- */

/* Decodes one code point at s[*i] (n bytes in all); -1 when invalid.
 * Surrogates D800..DFFF are accepted (WTF-8); the caller rejects a
 * surrogate pair written as two 3-byte sequences, which WTF-8 forbids. */
static long utf8_next(const unsigned char *s, size_t n, size_t *i) {
  unsigned char c = s[*i];
  long cp;
  size_t extra;
  if (c < 0x80) {
    (*i)++;
    return c;
  } else if (c >= 0xC2 && c <= 0xDF) {
    cp = c & 0x1F;
    extra = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    cp = c & 0x0F;
    extra = 2;
  } else if (c >= 0xF0 && c <= 0xF4) {
    cp = c & 0x07;
    extra = 3;
  } else {
    return -1;
  }
  if (n - *i - 1 < extra) return -1;
  for (size_t k = 1; k <= extra; k++) {
    unsigned char d = s[*i + k];
    if ((d & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (d & 0x3F);
  }
  /* Overlong forms and values past U+10FFFF. */
  if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
      cp > 0x10FFFF)
    return -1;
  *i += extra + 1;
  return cp;
}

int pmw_to_wide(const char *s, size_t len, wchar_t **out, size_t *outlen) {
  *out = NULL;
  if (len == (size_t)-1) len = strlen(s);
  const unsigned char *u = (const unsigned char *)s;
  /* At most one UTF-16 unit per input byte. */
  wchar_t *w = malloc((len + 1) * sizeof *w);
  if (!w) return PM_ENOMEM;
  size_t i = 0, o = 0;
  bool prev_high = false;
  while (i < len) {
    if (u[i] == 0) break;
    long cp = utf8_next(u, len, &i);
    if (cp < 0) {
      free(w);
      return PM_EINVAL;
    }
    bool high = cp >= 0xD800 && cp <= 0xDBFF;
    bool low = cp >= 0xDC00 && cp <= 0xDFFF;
    /* WTF-8 never encodes a valid pair as two surrogates. */
    if (low && prev_high) {
      free(w);
      return PM_EINVAL;
    }
    prev_high = high;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      w[o++] = (wchar_t)(0xD800 + (cp >> 10));
      w[o++] = (wchar_t)(0xDC00 + (cp & 0x3FF));
    } else {
      w[o++] = (wchar_t)cp;
    }
  }
  w[o] = 0;
  *out = w;
  if (outlen) *outlen = o;
  return PM_OK;
}

int pmw_to_utf8(const wchar_t *w, size_t len, char **out, size_t *outlen) {
  *out = NULL;
  if (len == (size_t)-1) len = wcslen(w);
  /* At most three bytes per UTF-16 unit (a pair gives four for two). */
  if (len > (SIZE_MAX - 1) / 3) return PM_ENOMEM;
  unsigned char *s = malloc(len * 3 + 1);
  if (!s) return PM_ENOMEM;
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned long cp = (unsigned short)w[i];
    if (cp == 0) break;
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < len &&
        (unsigned short)w[i + 1] >= 0xDC00 &&
        (unsigned short)w[i + 1] <= 0xDFFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) +
           ((unsigned short)w[i + 1] - 0xDC00);
      i++;
    }
    if (cp < 0x80) {
      s[o++] = (unsigned char)cp;
    } else if (cp < 0x800) {
      s[o++] = (unsigned char)(0xC0 | (cp >> 6));
      s[o++] = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s[o++] = (unsigned char)(0xE0 | (cp >> 12));
      s[o++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
      s[o++] = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
      s[o++] = (unsigned char)(0xF0 | (cp >> 18));
      s[o++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
      s[o++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
      s[o++] = (unsigned char)(0x80 | (cp & 0x3F));
    }
  }
  s[o] = 0;
  *out = (char *)s;
  if (outlen) *outlen = o;
  return PM_OK;
}

/* ---- Paths ---- */

static bool is_sep(wchar_t c) { return c == L'/' || c == L'\\'; }

static bool is_drive(const wchar_t *p) {
  return ((p[0] >= L'A' && p[0] <= L'Z') || (p[0] >= L'a' && p[0] <= L'z')) &&
         p[1] == L':';
}

/* Appends the components of `rest` to `out` (which holds the root, ending
 * without a separator), one '\' before each, dropping "." and empty
 * components and resolving ".." lexically without going above the root.
 * `out` has room for wcslen(root) + wcslen(rest) + 2 units. */
static void append_components(wchar_t *out, size_t root_len,
                              const wchar_t *rest) {
  size_t o = wcslen(out);
  const wchar_t *p = rest;
  while (*p) {
    while (is_sep(*p)) p++;
    if (!*p) break;
    const wchar_t *e = p;
    while (*e && !is_sep(*e)) e++;
    size_t n = (size_t)(e - p);
    if (n == 1 && p[0] == L'.') {
      /* skip */
    } else if (n == 2 && p[0] == L'.' && p[1] == L'.') {
      while (o > root_len && out[o - 1] != L'\\') o--;
      if (o > root_len) o--; /* the separator before the component */
      out[o] = 0;
    } else {
      out[o++] = L'\\';
      memcpy(out + o, p, n * sizeof *p);
      o += n;
      out[o] = 0;
    }
    p = e;
  }
  if (o == root_len) {
    /* The root itself: "\\?\C:" must end in a separator to name the
     * root directory rather than the volume. */
    out[o++] = L'\\';
    out[o] = 0;
  }
}

/* A failure pmw_path finds itself (not UTF-8, out of memory) is recorded
 * with OS code 0, so that a report never shows an earlier failure's code
 * for it; a failure of GetFullPathNameW records its own. */
static int path_fail(int err) {
  pm_oserr_record(err, 0);
  return err;
}

int pmw_path(const char *path, wchar_t **out) {
  *out = NULL;
  if (!path || !*path) return path_fail(PM_EINVAL);
  wchar_t *w;
  int rc = pmw_to_wide(path, (size_t)-1, &w, NULL);
  if (rc) return path_fail(rc);

  static const wchar_t prefix[] = L"\\\\?\\";
  static const wchar_t unc[] = L"\\\\?\\UNC\\";
  const wchar_t *rest;
  wchar_t root[300];
  wchar_t *full = NULL; /* a relative path made absolute */

  if (is_sep(w[0]) && is_sep(w[1]) && (w[2] == L'?' || w[2] == L'.') &&
      is_sep(w[3])) {
    /* Already \\?\ (or \\.\): keep its root as it is. */
    const wchar_t *p = w + 4;
    if ((p[0] == L'U' || p[0] == L'u') && (p[1] == L'N' || p[1] == L'n') &&
        (p[2] == L'C' || p[2] == L'c') && is_sep(p[3])) {
      wcscpy(root, unc);
      rest = p + 4;
    } else if (is_drive(p)) {
      wcscpy(root, prefix);
      root[4] = p[0];
      root[5] = L':';
      root[6] = 0;
      rest = p + 2;
    } else {
      wcscpy(root, prefix);
      rest = p;
    }
  } else if (is_sep(w[0]) && is_sep(w[1]) && w[2] && !is_sep(w[2])) {
    wcscpy(root, unc);
    rest = w + 2;
  } else if (is_drive(w) && is_sep(w[2])) {
    wcscpy(root, prefix);
    root[4] = w[0];
    root[5] = L':';
    root[6] = 0;
    rest = w + 2;
  } else {
    /* Relative, drive-relative ("C:a") or rooted ("\a"): Win32's own
     * rules through GetFullPathNameW, which is limited to MAX_PATH only
     * in what it returns, so ask for the size first. */
    for (wchar_t *q = w; *q; q++)
      if (*q == L'/') *q = L'\\';
    DWORD need = GetFullPathNameW(w, 0, NULL, NULL);
    if (!need) {
      rc = pmw_fail_last();
      free(w);
      return rc;
    }
    full = malloc((need + 1) * sizeof *full);
    if (!full) {
      free(w);
      return path_fail(PM_ENOMEM);
    }
    DWORD got = GetFullPathNameW(w, need + 1, full, NULL);
    if (!got || got > need) {
      rc = got ? path_fail(PM_ENAMETOOLONG) : pmw_fail_last();
      free(full);
      free(w);
      return rc;
    }
    free(w);
    w = full;
    if (is_sep(w[0]) && is_sep(w[1])) {
      wcscpy(root, unc);
      rest = w + 2;
    } else if (is_drive(w)) {
      wcscpy(root, prefix);
      root[4] = w[0];
      root[5] = L':';
      root[6] = 0;
      rest = w + 2;
    } else {
      free(w);
      return path_fail(PM_EINVAL);
    }
  }

  size_t root_len = wcslen(root);
  wchar_t *res = malloc((root_len + wcslen(rest) + 3) * sizeof *res);
  if (!res) {
    free(w);
    return path_fail(PM_ENOMEM);
  }
  wcscpy(res, root);
  if (wcscmp(root, unc) == 0) {
    /* \\?\UNC\server\share is the root of a UNC path: ".." stops there. */
    const wchar_t *p = rest;
    size_t o = root_len;
    for (int part = 0; part < 2 && *p; part++) {
      while (is_sep(*p)) p++;
      if (part) res[o++] = L'\\';
      while (*p && !is_sep(*p)) res[o++] = *p++;
    }
    res[o] = 0;
    root_len = o;
    rest = p;
  }
  append_components(res, root_len, rest);
  free(w);
  *out = res;
  return PM_OK;
}

/* ---- Times and metadata ---- */

/* 100 ns intervals between 1601-01-01 and 1970-01-01. */
#define PMW_EPOCH_DIFF 116444736000000000LL

pm_time pmw_time_of(FILETIME ft) {
  int64_t t = (int64_t)(((uint64_t)ft.dwHighDateTime << 32) |
                        ft.dwLowDateTime) -
              PMW_EPOCH_DIFF;
  pm_time r;
  r.sec = t / 10000000;
  int64_t rem = t % 10000000;
  if (rem < 0) {
    rem += 10000000;
    r.sec--;
  }
  r.nsec = (int32_t)(rem * 100);
  return r;
}

FILETIME pmw_filetime_of(pm_time t) {
  int64_t v = t.sec * 10000000 + t.nsec / 100 + PMW_EPOCH_DIFF;
  if (v < 0) v = 0;
  FILETIME ft;
  ft.dwLowDateTime = (DWORD)((uint64_t)v & 0xFFFFFFFFu);
  ft.dwHighDateTime = (DWORD)((uint64_t)v >> 32);
  return ft;
}

/* Whether a handle opened with FILE_FLAG_OPEN_REPARSE_POINT is a name
 * surrogate (symbolic link or junction), which pomove treats as a link;
 * other reparse points (HSM, dedup, single-instance store) are files. */
static bool is_link_reparse(HANDLE h) {
  union {
    REPARSE_GUID_DATA_BUFFER g;
    unsigned char raw[MAXIMUM_REPARSE_DATA_BUFFER_SIZE];
  } buf;
  DWORD got = 0;
  /* The handle may be overlapped (every file pm_fs_native opens is): then
   * DeviceIoControl needs an OVERLAPPED, with an event of its own whose
   * low bit keeps the completion off any port the handle belongs to. */
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (!ev) return true;
  ov.hEvent = (HANDLE)((uintptr_t)ev | 1);
  BOOL ok = DeviceIoControl(h, FSCTL_GET_REPARSE_POINT, NULL, 0, &buf,
                            sizeof buf, &got, &ov);
  if (!ok && GetLastError() == ERROR_IO_PENDING)
    ok = GetOverlappedResult(h, &ov, &got, TRUE);
  CloseHandle(ev);
  if (!ok) return true; /* cannot tell: the safe answer is "a link" */
  return IsReparseTagNameSurrogate(buf.g.ReparseTag) != 0;
}

int pmw_attrs_of(HANDLE h, DWORD *attrs) {
  FILE_BASIC_INFORMATION fb;
  IO_STATUS_BLOCK io;
  NTSTATUS s = NtQueryInformationFile(h, &io, &fb, sizeof fb,
                                      FileBasicInformation);
  if (s < 0) return pmw_fail_nt(s);
  *attrs = fb.FileAttributes;
  return PM_OK;
}

int pmw_stat_handle(HANDLE h, pm_stat *st) {
  memset(st, 0, sizeof *st);
  BY_HANDLE_FILE_INFORMATION bi;
  if (!GetFileInformationByHandle(h, &bi)) {
    /* Pipes and character devices have no file information. GetFileType
     * is asked only then: under Wine it sets a file's access time to now
     * (measured with Wine 8.0), so that calling it first would undo a
     * futimes before the fstat that checks it. */
    DWORD e = GetLastError();
    DWORD ft = GetFileType(h);
    if (ft == FILE_TYPE_PIPE || ft == FILE_TYPE_CHAR) {
      st->type = ft == FILE_TYPE_PIPE ? PM_T_FIFO : PM_T_CHR;
      st->mode = 0666;
      st->nlink = 1;
      return PM_OK;
    }
    return pmw_fail(e);
  }
  st->attrs = bi.dwFileAttributes;
  if ((bi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) &&
      is_link_reparse(h))
    st->type = PM_T_SYMLINK;
  else if (bi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
    st->type = PM_T_DIR;
  else
    st->type = PM_T_FILE;
  bool ro = (bi.dwFileAttributes & FILE_ATTRIBUTE_READONLY) != 0;
  if (st->type == PM_T_DIR)
    st->mode = 0777;
  else
    st->mode = ro ? 0444 : 0666;
  if (st->type == PM_T_SYMLINK) st->mode = 0777;
  st->size = ((uint64_t)bi.nFileSizeHigh << 32) | bi.nFileSizeLow;
  if (st->type == PM_T_DIR) st->size = 0;
  /* The allocation (FileStandardInformation.AllocationSize, NT 3.1), so
   * that the copy engine sees a file that may have holes: fewer blocks
   * than its size (copyengine/file.c). NTFS gives a sparse or compressed
   * file's clusters actually allocated; Wine 8 gives the Unix st_blocks
   * (measured: 64 KiB for an 8 MiB file with one 64 KiB write), where
   * GetCompressedFileSizeW, NTFS's other answer, gives the size.
   * Rounded up, so that a file allocated to its last byte never shows
   * fewer blocks than its size. Where the call fails, the size rounded
   * up stands in (no holes). */
  st->blocks512 = (st->size + 511) / 512;
  FILE_STANDARD_INFORMATION fsi;
  IO_STATUS_BLOCK sio;
  if (st->type == PM_T_FILE &&
      NT_SUCCESS(NtQueryInformationFile(h, &sio, &fsi, sizeof fsi,
                                        FileStandardInformation)) &&
      fsi.AllocationSize.QuadPart >= 0)
    st->blocks512 = ((uint64_t)fsi.AllocationSize.QuadPart + 511) / 512;
  st->dev = bi.dwVolumeSerialNumber;
  st->ino = ((uint64_t)bi.nFileIndexHigh << 32) | bi.nFileIndexLow;
  st->nlink = bi.nNumberOfLinks;
  st->atime = pmw_time_of(bi.ftLastAccessTime);
  st->mtime = pmw_time_of(bi.ftLastWriteTime);
  /* The change time: NTFS keeps one (FILE_BASIC_INFORMATION.ChangeTime,
   * NtQueryInformationFile, NT 3.1), moved by every change of the data
   * or the metadata, as POSIX's ctime. A file system without one (FAT)
   * reports 0: then the last write time stands in, so that a change of
   * the data is still seen. The copy engine's --update depends on it
   * (copyengine/state.c): the creation time would never move. */
  st->ctime = st->mtime;
  FILE_BASIC_INFORMATION fb;
  IO_STATUS_BLOCK io;
  if (NT_SUCCESS(NtQueryInformationFile(h, &io, &fb, sizeof fb,
                                        FileBasicInformation)) &&
      fb.ChangeTime.QuadPart != 0) {
    FILETIME ft;
    ft.dwLowDateTime = (DWORD)fb.ChangeTime.QuadPart;
    ft.dwHighDateTime = (DWORD)((ULONGLONG)fb.ChangeTime.QuadPart >> 32);
    st->ctime = pmw_time_of(ft);
  }
  return PM_OK;
}
