/* fs_win32_at.c - the file-system operations beneath a directory handle
 * on Windows (the *_at slots of pm_fs_ops, contract in platform.h), and
 * directory listing on a handle, which the path-based opendir uses too.
 * Private to the Win32 backend; declared in win32.h.
 *
 * How a path stays beneath its handle. `rel` is split into components
 * ('/' and '\' both separate, as in pmw_path) and checked whole before
 * anything is opened: an absolute path, a drive ("C:") first or a ".."
 * anywhere fails with PM_EXDEV; "." and empty components are dropped.
 * Then each directory is opened with NtCreateFile relative to the one
 * before (OBJECT_ATTRIBUTES.RootDirectory) by a ONE-component name, with
 * FILE_OPEN_REPARSE_POINT, so that a junction or symbolic link is opened
 * itself and never followed, and every handle is checked
 * (FileAttributeTagInformation): a name surrogate (junction, symlink)
 * fails the call with PM_ELOOP. Other reparse points (HSM, single-instance
 * store) are walked through as the directories or files they are. No
 * path string is ever handed to the OS, so there is no MAX_PATH limit and
 * no Win32 name rewriting (trailing dots and spaces reach NTFS as they
 * are).
 *
 * The native API is ntdll's (NtCreateFile, NtQueryInformationFile,
 * NtSetInformationFile, NtQueryDirectoryFile, NtFsControlFile: NT 3.1 and
 * later, documented in the NT 4.0 DDK; FileAttributeTagInformation is
 * Windows 2000's, with a fallback for NT 4.0, which has no reparse
 * points). Metadata is set on handles with FileBasicInformation, never by
 * path (SetFileInformationByHandle is Vista).
 *
 * Every native call goes through the table pmw_nt (nt_at.h), so that
 * tests/platform/test_fs_beneath_nt.c can show this file junctions,
 * symbolic links and HSM files under Wine, which has none.
 *
 * Handles. Files open_at returns are opened without
 * FILE_SYNCHRONOUS_IO_NONALERT: that is CreateFileW's FILE_FLAG_OVERLAPPED
 * in native terms, so the IOCP engine and fs_win32.c's overlapped
 * pread/pwrite work on them. Directories (PM_O_DIRECTORY) and handles
 * used only inside a call are synchronous, as fs_win32.c's open makes a
 * directory.
 *
 * What Wine 8.0 does (measured with wine64 8.0 on Debian 12, ext4):
 * - NtCreateFile relative to RootDirectory works, by one component or
 *   several; ".." in the name is STATUS_OBJECT_NAME_INVALID.
 * - A Unix symlink inside the prefix's drives is followed silently, with
 *   or without FILE_OPEN_REPARSE_POINT: the handle is the target's, its
 *   attributes carry no FILE_ATTRIBUTE_REPARSE_POINT and
 *   FSCTL_GET_REPARSE_POINT says ERROR_NOT_A_REPARSE_POINT. A dangling
 *   symlink is STATUS_NO_SUCH_FILE, and a listing leaves it out. Only a
 *   directory listing marks a symlink to a directory (attributes 0x410,
 *   EaSize 0; a symlink to a file shows as a plain file). So under Wine
 *   the beneath guarantee is NOT given for Unix symlinks: that is a Wine
 *   limitation; test_fs_beneath's link cases report skipped on Wine, and
 *   test_fs_beneath_nt shows this file reparse points through its table
 *   instead.
 * - Wine cannot create a link of its own: FSCTL_SET_REPARSE_POINT (a
 *   junction) fails with ERROR_NOT_SUPPORTED, so its cmd's `mklink /j`
 *   fails too; and CreateSymbolicLinkW (Vista, not used here) is a stub
 *   that returns TRUE and creates nothing (`mklink /d` "succeeds" the
 *   same way): a test must never take its success for a link.
 * - FileLinkInformation with RootDirectory creates the hard link (the
 *   choice for link_at: CreateHardLinkW takes two paths, so it could not
 *   stay beneath the handles; the class is NT 3.1's, used by the POSIX
 *   subsystem and by Windows 2000's own CreateHardLinkW);
 *   FileDispositionInformation deletes, and a non-empty directory fails
 *   at once with STATUS_DIRECTORY_NOT_EMPTY.
 * - Overlapped ReadFile on a handle opened here completes with
 *   ERROR_IO_PENDING, as on a CreateFileW(FILE_FLAG_OVERLAPPED) handle.
 * - NtQueryDirectoryFile with an Event fails (STATUS_NOT_IMPLEMENTED):
 *   the listing waits on the file handle instead. A symlink to a
 *   directory is listed with FILE_ATTRIBUTE_REPARSE_POINT and EaSize 0,
 *   so readdir gives PM_T_UNKNOWN for it (stat_at then says "directory").
 * - Wine's own limits, not this file's: names are Unix UTF-8, so a name
 *   with an unpaired surrogate (legal on NTFS) cannot be created
 *   (STATUS_NO_SUCH_FILE) and control characters are
 *   STATUS_OBJECT_NAME_INVALID; a path whose Unix form passes PATH_MAX
 *   (4096 bytes) is created but GetFileInformationByHandle then fails
 *   with ERROR_INVALID_HANDLE and a delete of it is lost; run as root,
 *   the read-only attribute does not stop a write open; and merely
 *   opening a file for its attributes updates its Unix atime under
 *   relatime, so a stat after utimes shows atime "now". */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>
#include <winioctl.h>
#include <winternl.h>

#include "nt_at.h"
#include "platform.h"
#include "win32.h"

/* ---- What winternl.h leaves out (NT 4.0 DDK, ntifs.h) ---- */

NTSTATUS NTAPI NtQueryDirectoryFile(HANDLE file, HANDLE event,
                                    PIO_APC_ROUTINE apc, PVOID apc_ctx,
                                    PIO_STATUS_BLOCK io, PVOID buf, ULONG len,
                                    FILE_INFORMATION_CLASS cls,
                                    BOOLEAN single, PUNICODE_STRING mask,
                                    BOOLEAN restart);

#define ST_OK ((NTSTATUS)0x00000000L)
#define ST_PENDING ((NTSTATUS)0x00000103L)
#define ST_NO_MORE_FILES ((NTSTATUS)0x80000006L)
#define ST_INVALID_INFO_CLASS ((NTSTATUS)0xC0000003L)
#define ST_NOT_IMPLEMENTED ((NTSTATUS)0xC0000002L)
#define ST_INVALID_PARAMETER ((NTSTATUS)0xC000000DL)
#define ST_ACCESS_DENIED ((NTSTATUS)0xC0000022L)
#define ST_FILE_IS_A_DIRECTORY ((NTSTATUS)0xC00000BAL)
#define ST_NOT_A_DIRECTORY ((NTSTATUS)0xC0000103L)
#define ST_NOT_A_REPARSE_POINT ((NTSTATUS)0xC0000275L)

/* FileAttributeTagInformation (class 35, Windows 2000). */
typedef struct tag_info {
  ULONG attrs;
  ULONG tag;
} tag_info;

typedef struct disposition_info {
  BOOLEAN delete_file;
} disposition_info;

typedef struct eof_info {
  LARGE_INTEGER eof;
} eof_info;

/* REPARSE_DATA_BUFFER of ntifs.h, for the two name surrogates. */
typedef struct reparse_buf {
  ULONG tag;
  USHORT data_len;
  USHORT reserved;
  USHORT sub_off, sub_len, print_off, print_len;
  /* IO_REPARSE_TAG_SYMLINK has a ULONG Flags here; a mount point not. */
} reparse_buf;

#ifndef IO_REPARSE_TAG_SYMLINK
#define IO_REPARSE_TAG_SYMLINK 0xA000000CL
#endif

/* The native calls, through one table (nt_at.h) so that a test can
 * show this file the reparse points Wine does not have. */
const pmw_nt_api pmw_nt_real = {NtCreateFile,         NtQueryInformationFile,
                                NtSetInformationFile, NtQueryDirectoryFile,
                                NtFsControlFile,      NtClose};
pmw_nt_api pmw_nt = {NtCreateFile,         NtQueryInformationFile,
                     NtSetInformationFile, NtQueryDirectoryFile,
                     NtFsControlFile,      NtClose};

/* ---- Errors ---- */

/* An error pomove decides itself (a link found, a special file): no OS
 * call failed, so the recorded code is 0. */
static int own_fail(int err) {
  pm_oserr_record(err, 0);
  return err;
}

/* ---- One component ---- */

enum { OPT_WALK = FILE_OPEN_REPARSE_POINT | FILE_OPEN_FOR_BACKUP_INTENT };

/* NtCreateFile of `name` (n UTF-16 units, no separator) relative to
 * `root`. *created tells FILE_CREATED (may be NULL). */
static NTSTATUS nt_open_sd(HANDLE root, const wchar_t *name, size_t n,
                           ACCESS_MASK access, ULONG attrs, ULONG disp,
                           ULONG opts, PSECURITY_DESCRIPTOR sd, HANDLE *out,
                           bool *created) {
  UNICODE_STRING us;
  us.Buffer = (PWSTR)name;
  us.Length = us.MaximumLength = (USHORT)(n * sizeof(wchar_t));
  OBJECT_ATTRIBUTES oa;
  /* Case-insensitive, as Win32 opens: a name differing in case from the
   * entry is the same file on NTFS. */
  InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, root, sd);
  IO_STATUS_BLOCK io;
  memset(&io, 0, sizeof io);
  *out = NULL;
  NTSTATUS s = pmw_nt.create_file(out, access, &oa, &io, NULL, attrs,
                            FILE_SHARE_READ | FILE_SHARE_WRITE |
                                FILE_SHARE_DELETE,
                            disp, opts, NULL, 0);
  if (s < 0) *out = NULL;
  if (created) *created = s >= 0 && io.Information == FILE_CREATED;
  return s;
}

static NTSTATUS nt_open(HANDLE root, const wchar_t *name, size_t n,
                        ACCESS_MASK access, ULONG attrs, ULONG disp,
                        ULONG opts, HANDLE *out, bool *created) {
  return nt_open_sd(root, name, n, access, attrs, disp, opts, NULL, out,
                    created);
}

/* The attributes and reparse tag of an open handle. NT 4.0 has no
 * FileAttributeTagInformation (and no reparse points): its attributes
 * then come from FileBasicInformation with tag 0. */
static NTSTATUS query_tag(HANDLE h, tag_info *ti) {
  IO_STATUS_BLOCK io;
  NTSTATUS s = pmw_nt.query_info(h, &io, ti, sizeof *ti,
                                      (FILE_INFORMATION_CLASS)35);
  if (s == ST_INVALID_INFO_CLASS || s == ST_NOT_IMPLEMENTED ||
      s == ST_INVALID_PARAMETER) {
    FILE_BASIC_INFORMATION bi;
    s = pmw_nt.query_info(h, &io, &bi, sizeof bi, FileBasicInformation);
    ti->attrs = bi.FileAttributes;
    ti->tag = 0;
  }
  return s;
}

static bool is_link(const tag_info *ti) {
  return (ti->attrs & FILE_ATTRIBUTE_REPARSE_POINT) &&
         IsReparseTagNameSurrogate(ti->tag);
}

/* 0, PM_ELOOP for a junction or symbolic link, or the query's error. */
static int check_handle(HANDLE h, tag_info *ti) {
  NTSTATUS s = query_tag(h, ti);
  if (s < 0) return pmw_fail_nt(s);
  return is_link(ti) ? own_fail(PM_ELOOP) : 0;
}

/* After an open of `name` failed with `s`: PM_ELOOP when the entry is a
 * junction or symbolic link (an open with FILE_DIRECTORY_FILE or
 * FILE_NON_DIRECTORY_FILE refuses it by its type before it can be
 * checked), else the open's own error. */
static int why_not(HANDLE root, const wchar_t *name, size_t n, NTSTATUS s) {
  if (s == ST_NOT_A_DIRECTORY || s == ST_FILE_IS_A_DIRECTORY) {
    HANDLE h;
    if (nt_open(root, name, n, FILE_READ_ATTRIBUTES | SYNCHRONIZE, 0,
                FILE_OPEN, OPT_WALK | FILE_SYNCHRONOUS_IO_NONALERT, &h,
                NULL) >= 0) {
      tag_info ti;
      bool link = query_tag(h, &ti) >= 0 && is_link(&ti);
      pmw_nt.close(h);
      if (link) return own_fail(PM_ELOOP);
    }
  }
  return pmw_fail_nt(s);
}

/* ---- The walk ---- */

/* rel resolved to (parent handle, last component). `parent` is the
 * caller's handle when rel has one component or none (leaf_len 0: rel
 * names the handle's own object), else a handle this walk opened. */
typedef struct walk {
  HANDLE parent;
  bool own;
  wchar_t *wide; /* rel in UTF-16, split in place */
  const wchar_t *leaf;
  size_t leaf_len;
  bool leaf_dot; /* rel ended in a "." component: no leaf to act on */
} walk;

static bool is_sep(wchar_t c) { return c == L'/' || c == L'\\'; }

/* Checks rel as a whole before anything is opened: PM_EXDEV for what
 * could leave the handle's tree (first, whatever else is wrong), then
 * the names. */
static int rel_check(const wchar_t *w) {
  if (is_sep(w[0])) return PM_EXDEV;
  /* "C:..." names a drive to every Win32 reader; relative to a handle NT
   * would read it as a stream of "C". Neither is beneath. */
  if (((w[0] >= L'A' && w[0] <= L'Z') || (w[0] >= L'a' && w[0] <= L'z')) &&
      w[1] == L':')
    return PM_EXDEV;
  for (const wchar_t *p = w; *p;) {
    const wchar_t *e = p;
    while (*e && !is_sep(*e)) e++;
    size_t n = (size_t)(e - p);
    if (n == 2 && p[0] == L'.' && p[1] == L'.') return PM_EXDEV;
    p = e;
    while (is_sep(*p)) p++;
  }
  /* Then the names, as fs_win32.c checks a path's: what NTFS cannot hold
   * through Win32 is PM_EINVAL (':' would even name a stream of the
   * component before it), more than 255 UTF-16 units PM_ENAMETOOLONG. */
  for (const wchar_t *p = w; *p;) {
    const wchar_t *e = p;
    while (*e && !is_sep(*e)) {
      if (*e < 0x20 || wcschr(L":*?\"<>|", *e)) return PM_EINVAL;
      e++;
    }
    if (e - p > 255) return PM_ENAMETOOLONG;
    p = e;
    while (is_sep(*p)) p++;
  }
  return 0;
}

static void walk_close(walk *w) {
  if (w->own && w->parent) pmw_nt.close(w->parent);
  w->own = false;
  w->parent = NULL;
  free(w->wide);
  w->wide = NULL;
}

/* Opens every directory of rel but the last component, each relative to
 * the one before, refusing links. 0 or PM_E* (the walk is then closed). */
static int walk_open(pm_fd dir, const char *rel, walk *w) {
  memset(w, 0, sizeof *w);
  w->parent = (HANDLE)dir;
  int rc = rel ? pmw_to_wide(rel, (size_t)-1, &w->wide, NULL) : PM_EINVAL;
  if (rc) return own_fail(rc);
  rc = rel_check(w->wide);
  if (rc) {
    walk_close(w);
    return own_fail(rc);
  }
  /* Components, "." and empty ones dropped. */
  wchar_t *p = w->wide;
  const wchar_t *pending = NULL; /* a component not yet opened */
  size_t pending_len = 0;
  while (*p) {
    wchar_t *e = p;
    while (*e && !is_sep(*e)) e++;
    size_t n = (size_t)(e - p);
    bool more = *e != 0;
    if (more) *e++ = 0;
    while (is_sep(*e)) e++;
    if (n == 1 && p[0] == L'.') {
      w->leaf_dot = true;
    } else if (n) {
      w->leaf_dot = false;
      if (pending) {
        HANDLE h;
        /* FILE_READ_ATTRIBUTES is all the check needs, and a relative
         * open asks no access of its root handle: a directory the ACL
         * lets us list but not traverse is still walked, as a full path
         * would be with the traverse check bypassed (the default right
         * of every user). */
        NTSTATUS s = nt_open(w->parent, pending, pending_len,
                             FILE_READ_ATTRIBUTES | SYNCHRONIZE, 0, FILE_OPEN,
                             OPT_WALK | FILE_DIRECTORY_FILE |
                                 FILE_SYNCHRONOUS_IO_NONALERT,
                             &h, NULL);
        if (s < 0) {
          rc = why_not(w->parent, pending, pending_len, s);
          walk_close(w);
          return rc;
        }
        if (w->own) pmw_nt.close(w->parent);
        w->parent = h;
        w->own = true;
        tag_info ti;
        rc = check_handle(h, &ti);
        if (rc) {
          walk_close(w);
          return rc;
        }
      }
      pending = p;
      pending_len = n;
    }
    p = e;
  }
  w->leaf = pending ? pending : L"";
  w->leaf_len = pending ? pending_len : 0;
  return 0;
}

/* A walk for the calls that act on a named entry: PM_EINVAL when rel
 * names the handle itself or ends in ".". */
static int walk_leaf(pm_fd dir, const char *rel, walk *w) {
  int rc = walk_open(dir, rel, w);
  if (rc) return rc;
  if (!w->leaf_len || w->leaf_dot) {
    walk_close(w);
    return own_fail(PM_EINVAL);
  }
  return 0;
}

/* Opens the last component of a walk itself (never following it) with
 * `access`, synchronous. An empty leaf reopens the parent handle's own
 * object (an empty name relative to a handle: no lookup by name). */
static int leaf_open(walk *w, ACCESS_MASK access, ULONG opts, HANDLE *out,
                     tag_info *ti) {
  NTSTATUS s = nt_open(w->parent, w->leaf, w->leaf_len, access | SYNCHRONIZE,
                       0, FILE_OPEN,
                       OPT_WALK | FILE_SYNCHRONOUS_IO_NONALERT | opts, out,
                       NULL);
  if (s < 0) return why_not(w->parent, w->leaf, w->leaf_len, s);
  s = query_tag(*out, ti);
  if (s < 0) {
    pmw_nt.close(*out);
    *out = NULL;
    return pmw_fail_nt(s);
  }
  return 0;
}

/* ---- Metadata on a handle ---- */

/* FileBasicInformation: a zero time or attribute word leaves it as it is
 * (NT's rule), so only what is given changes. */
static NTSTATUS set_basic(HANDLE h, const FILE_BASIC_INFORMATION *bi) {
  IO_STATUS_BLOCK io;
  return pmw_nt.set_info(h, &io, (PVOID)bi, sizeof *bi,
                              FileBasicInformation);
}

static LARGE_INTEGER li_of(FILETIME ft) {
  LARGE_INTEGER l;
  l.QuadPart = (LONGLONG)(((ULONGLONG)ft.dwHighDateTime << 32) |
                          ft.dwLowDateTime);
  return l;
}

/* The attributes FileBasicInformation may set (kernel32's
 * SetFileAttributesW masks with the same FILE_ATTRIBUTE_VALID_SET_FLAGS;
 * the directory, reparse, compressed ... bits are the file system's). A
 * word with none of them is FILE_ATTRIBUTE_NORMAL: 0 would mean "leave
 * the attributes as they are". */
static ULONG settable(ULONG attrs) {
  attrs &= 0x31a7; /* FILE_ATTRIBUTE_VALID_SET_FLAGS */
  return attrs ? attrs : FILE_ATTRIBUTE_NORMAL;
}

/* The attribute word for a mode: read-only without the owner's write bit,
 * as fs_win32.c reads and sets modes. A directory keeps its attributes
 * (its read-only bit means "customised folder" to the shell, not "cannot
 * be changed"). */
static ULONG attrs_for_mode(ULONG attrs, uint32_t mode) {
  if (mode & 0200)
    attrs &= ~(ULONG)FILE_ATTRIBUTE_READONLY;
  else
    attrs |= FILE_ATTRIBUTE_READONLY;
  return settable(attrs);
}

/* Runs `op` on the object rel names: an empty rel acts on `dir` itself
 * (directly when the handle has the access, else on a reopen of its
 * object by an empty name), else on the last component opened itself.
 * refuse_link refuses a link there with PM_ELOOP. */
typedef int (*handle_op)(HANDLE h, const tag_info *ti, void *arg);

static int on_entry(pm_fd dir, const char *rel, ACCESS_MASK access,
                    bool refuse_link, handle_op op, void *arg) {
  walk w;
  int rc = walk_open(dir, rel, &w);
  if (rc) return rc;
  if (w.leaf_dot && w.leaf_len) {
    walk_close(&w);
    return own_fail(PM_EINVAL);
  }
  tag_info ti;
  if (!w.leaf_len) {
    /* The handle's own object: try the handle as it is first. */
    HANDLE h = w.parent;
    NTSTATUS s = query_tag(h, &ti);
    if (s < 0) {
      walk_close(&w);
      return pmw_fail_nt(s);
    }
    if (refuse_link && is_link(&ti)) {
      walk_close(&w);
      return own_fail(PM_ELOOP);
    }
    rc = op(h, &ti, arg);
    if (rc != PM_EACCES || !access) {
      walk_close(&w);
      return rc;
    }
  }
  HANDLE h;
  rc = leaf_open(&w, access | FILE_READ_ATTRIBUTES, 0, &h, &ti);
  walk_close(&w);
  if (rc) return rc;
  if (refuse_link && is_link(&ti))
    rc = own_fail(PM_ELOOP);
  else
    rc = op(h, &ti, arg);
  pmw_nt.close(h);
  return rc;
}

/* ---- The slots ---- */

int pmw_open_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                int flags, uint32_t mode, pm_fd *out) {
  *out = PM_FD_INVALID;
  int acc = flags & PM_O_ACCMODE;
  bool writing = acc == PM_O_WRONLY || acc == PM_O_RDWR;
  if ((flags & PM_O_DIRECTORY) && (writing || (flags & PM_O_CREAT)))
    return own_fail(writing ? PM_EISDIR : PM_EINVAL);

  ACCESS_MASK access = SYNCHRONIZE | FILE_READ_ATTRIBUTES;
  if (acc == PM_O_RDONLY || acc == PM_O_RDWR) access |= GENERIC_READ;
  if (writing)
    /* Append access without write access, as fs_win32.c's open: every
     * write goes to the end. O_TRUNC needs write access to truncate. */
    access |= (flags & PM_O_APPEND) && !(flags & PM_O_TRUNC)
                  ? (FILE_APPEND_DATA | FILE_WRITE_ATTRIBUTES |
                     FILE_WRITE_EA | STANDARD_RIGHTS_WRITE)
                  : GENERIC_WRITE;
  ULONG disp = FILE_OPEN;
  if (flags & PM_O_CREAT)
    disp = (flags & PM_O_EXCL) ? FILE_CREATE : FILE_OPEN_IF;
  /* A file: no FILE_SYNCHRONOUS_IO_*, an overlapped handle, for the
   * engines. A directory: synchronous, as fs_win32.c's open makes it (no
   * engine reads it, and listing code calls the native API on it). */
  ULONG opts = OPT_WALK;
  if (flags & PM_O_DIRECTORY)
    opts |= FILE_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT;
  else if (writing || (flags & PM_O_REGULAR))
    /* A directory is refused by its type at once (a read-only open of
     * one without PM_O_REGULAR is allowed, as POSIX allows it). */
    opts |= FILE_NON_DIRECTORY_FILE;
  if (flags & PM_O_DIRECT) opts |= FILE_NO_INTERMEDIATE_BUFFERING;
  ULONG fattrs = FILE_ATTRIBUTE_NORMAL;
  if ((flags & PM_O_CREAT) && !(mode & 0200)) fattrs = FILE_ATTRIBUTE_READONLY;

  walk w;
  int rc = walk_open(dir, rel, &w);
  if (rc) return rc;
  HANDLE h;
  bool created = false;
  /* A file created with no group or other bits is private until it is
   * complete (meta_win32.c; fs_win32.c's open does the same). */
  PSECURITY_DESCRIPTOR sd = NULL;
  if ((flags & PM_O_CREAT) && !(mode & 077)) sd = pmw_private_sd();
  /* The rights the metadata calls on this handle will need, asked for
   * now, so that they need no second open of the file (a reopen is a
   * path walk and, under Wine, a dozen server round trips, measured: the
   * main per-file cost there): a private file is given its source's
   * descriptor (owner, group, DACL, the SACL with SeSecurityPrivilege)
   * and then its permissions back; a file opened for reading (a source)
   * has its SACL read. WRITE_DAC and WRITE_OWNER on a file this open
   * creates are the creator's (granted whatever the new descriptor says);
   * ACCESS_SYSTEM_SECURITY only with the privilege enabled. Where the
   * system still refuses them, the open goes on without them. */
  ACCESS_MASK extra = 0;
  DWORD sacl = pmw_sacl_enabled() ? ACCESS_SYSTEM_SECURITY : 0;
  if (sd && disp == FILE_CREATE)
    extra = WRITE_DAC | WRITE_OWNER | sacl;
  else if (acc == PM_O_RDONLY && !(flags & PM_O_DIRECTORY))
    extra = sacl;
  NTSTATUS s = nt_open_sd(w.parent, w.leaf, w.leaf_len, access | extra,
                          fattrs, disp, opts, sd, &h, &created);
  if (extra && (s == (NTSTATUS)0xC0000022L /* STATUS_ACCESS_DENIED */ ||
                s == (NTSTATUS)0xC0000061L /* STATUS_PRIVILEGE_NOT_HELD */))
    s = nt_open_sd(w.parent, w.leaf, w.leaf_len, access, fattrs, disp, opts,
                   sd, &h, &created);
  if (s < 0) {
    /* A link wins over its type; a directory met by PM_O_REGULAR is a
     * special file to it, as on Linux. */
    rc = why_not(w.parent, w.leaf, w.leaf_len, s);
    if (rc == PM_EISDIR && (flags & PM_O_REGULAR) && !writing)
      rc = own_fail(PM_ESPECIAL);
    walk_close(&w);
    return rc;
  }
  tag_info ti;
  rc = check_handle(h, &ti);
  if (!rc && (ti.attrs & FILE_ATTRIBUTE_REPARSE_POINT) &&
      !(ti.attrs & FILE_ATTRIBUTE_DIRECTORY)) {
    /* A reparse point that is not a link (HSM, single-instance store):
     * opened itself it would give the stub, so open it again through its
     * filter, and make sure that is still the same file (a swap for a
     * link in between would give another one). */
    IO_STATUS_BLOCK io;
    FILE_INTERNAL_INFORMATION a, b;
    HANDLE h2;
    s = pmw_nt.query_info(h, &io, &a, sizeof a, FileInternalInformation);
    if (s >= 0)
      s = nt_open(w.parent, w.leaf, w.leaf_len, access, fattrs, FILE_OPEN,
                  opts & ~(ULONG)FILE_OPEN_REPARSE_POINT, &h2, NULL);
    if (s < 0) {
      rc = pmw_fail_nt(s);
    } else {
      s = pmw_nt.query_info(h2, &io, &b, sizeof b,
                                 FileInternalInformation);
      if (s < 0 || a.IndexNumber.QuadPart != b.IndexNumber.QuadPart) {
        pmw_nt.close(h2);
        rc = s < 0 ? pmw_fail_nt(s) : own_fail(PM_ELOOP);
      } else {
        pmw_nt.close(h);
        h = h2;
      }
    }
  }
  walk_close(&w);
  if (!rc && (flags & PM_O_REGULAR) &&
      ((ti.attrs & FILE_ATTRIBUTE_DIRECTORY) || GetFileType(h) != FILE_TYPE_DISK))
    rc = own_fail(PM_ESPECIAL);
  if (!rc && (flags & PM_O_TRUNC) && writing && !created) {
    /* O_TRUNC as POSIX has it: the length goes to 0 and the attributes
     * stay. FILE_OVERWRITE would also refuse a hidden or system file whose
     * attributes the caller does not repeat, and it runs before the
     * handle could be checked for a link. */
    eof_info eo;
    IO_STATUS_BLOCK io;
    eo.eof.QuadPart = 0;
    s = pmw_nt.set_info(h, &io, &eo, sizeof eo,
                             FileEndOfFileInformation);
    if (s < 0) rc = pmw_fail_nt(s);
  }
  /* Marked sparse before anything is written or the size set, so that no
   * hole is ever allocated (platform.h, PM_O_SPARSE). */
  if (!rc && writing && (flags & PM_O_SPARSE)) pmw_mark_sparse(h);
  if (rc) {
    pmw_nt.close(h);
    return rc;
  }
  *out = (pm_fd)(intptr_t)h;
  return 0;
}

int pmw_stat_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                pm_stat *st) {
  walk w;
  int rc = walk_open(dir, rel, &w);
  if (rc) return rc;
  if (!w.leaf_len) {
    rc = pmw_stat_handle(w.parent, st);
    walk_close(&w);
    return rc;
  }
  HANDLE h;
  tag_info ti;
  rc = leaf_open(&w, FILE_READ_ATTRIBUTES, 0, &h, &ti);
  walk_close(&w);
  if (rc) return rc;
  rc = pmw_stat_handle(h, st);
  pmw_nt.close(h);
  if (!rc && (ti.attrs & FILE_ATTRIBUTE_REPARSE_POINT)) {
    /* The type the walk itself goes by (the tag it read), so that what
     * stat_at calls a symlink is exactly what the other calls refuse
     * with PM_ELOOP. */
    st->attrs = ti.attrs;
    if (is_link(&ti)) {
      st->type = PM_T_SYMLINK;
      st->mode = 0777;
    } else if (ti.attrs & FILE_ATTRIBUTE_DIRECTORY) {
      st->type = PM_T_DIR;
      st->mode = 0777;
    } else {
      st->type = PM_T_FILE;
      st->mode = (ti.attrs & FILE_ATTRIBUTE_READONLY) ? 0444 : 0666;
    }
  }
  return rc;
}

int pmw_opendir_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                   pm_dir **out) {
  *out = NULL;
  walk w;
  int rc = walk_open(dir, rel, &w);
  if (rc) return rc;
  HANDLE h;
  tag_info ti;
  rc = leaf_open(&w, FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES,
                 FILE_DIRECTORY_FILE, &h, &ti);
  walk_close(&w);
  if (rc) return rc;
  if (is_link(&ti)) {
    pmw_nt.close(h);
    return own_fail(PM_ELOOP);
  }
  return pmw_opendir_handle(h, out);
}

int pmw_mkdir_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                 uint32_t mode) {
  /* NTFS has no mode: the directory inherits its ACL, unless the mode
   * has no group or other bits (0700: a directory being filled), which
   * makes it private as a file is (see open_at and chmod_at). */
  PSECURITY_DESCRIPTOR sd = (mode & 077) ? NULL : pmw_private_sd();
  walk w;
  int rc = walk_leaf(dir, rel, &w);
  if (rc) return rc;
  HANDLE h;
  NTSTATUS s = nt_open_sd(w.parent, w.leaf, w.leaf_len,
                          FILE_LIST_DIRECTORY | SYNCHRONIZE,
                          FILE_ATTRIBUTE_NORMAL, FILE_CREATE,
                          OPT_WALK | FILE_DIRECTORY_FILE |
                              FILE_SYNCHRONOUS_IO_NONALERT,
                          sd, &h, NULL);
  walk_close(&w);
  if (s < 0) return pmw_fail_nt(s);
  pmw_nt.close(h);
  return 0;
}

/* Windows 2000 has no symbolic links (CreateSymbolicLinkW is Vista) and
 * a junction is not one (absolute target, directories only): the path is
 * still resolved, so that a link on the way is reported as such. */
int pmw_symlink_at(const pm_fs *self PM_UNUSED, const char *target, pm_fd dir,
                   const char *rel) {
  (void)target;
  walk w;
  int rc = walk_leaf(dir, rel, &w);
  if (rc) return rc;
  walk_close(&w);
  return own_fail(PM_ENOTSUP);
}

/* A hard link made beneath both handles: the existing file is opened
 * itself below odir, and FileLinkInformation names the new link by one
 * component relative to its directory's handle (RootDirectory), which
 * CreateHardLinkW (a path, Windows 2000) could not do. NT 4.0 has the
 * same class (the POSIX subsystem's link()). */
int pmw_link_at(const pm_fs *self PM_UNUSED, pm_fd odir, const char *orel,
                pm_fd ndir, const char *nrel) {
  walk a, b;
  int rc = walk_leaf(odir, orel, &a);
  if (rc) return rc;
  rc = walk_leaf(ndir, nrel, &b);
  if (rc) {
    walk_close(&a);
    return rc;
  }
  HANDLE h;
  tag_info ti;
  rc = leaf_open(&a, FILE_READ_ATTRIBUTES, 0, &h, &ti);
  walk_close(&a);
  if (rc) {
    walk_close(&b);
    return rc;
  }
  if (ti.attrs & FILE_ATTRIBUTE_DIRECTORY) {
    /* POSIX: no hard link to a directory. */
    pmw_nt.close(h);
    walk_close(&b);
    return own_fail(PM_EPERM);
  }
  size_t bytes = b.leaf_len * sizeof(wchar_t);
  /* The whole structure at least (Wine refuses less with
   * STATUS_INVALID_PARAMETER), the name running past its one WCHAR. */
  size_t size = sizeof(FILE_LINK_INFORMATION) + bytes;
  FILE_LINK_INFORMATION *li = calloc(1, size);
  if (!li) {
    pmw_nt.close(h);
    walk_close(&b);
    return PM_ENOMEM;
  }
  li->ReplaceIfExists = FALSE;
  li->RootDirectory = b.parent;
  li->FileNameLength = (ULONG)bytes;
  memcpy(li->FileName, b.leaf, bytes);
  IO_STATUS_BLOCK io;
  NTSTATUS s = pmw_nt.set_info(h, &io, li, (ULONG)size,
                                    FileLinkInformation);
  free(li);
  pmw_nt.close(h);
  walk_close(&b);
  if (s == ST_FILE_IS_A_DIRECTORY) {
    /* A directory that turned up after the check: link(2)'s EPERM. */
    pm_oserr_record(PM_EPERM, (int)RtlNtStatusToDosError(s));
    return PM_EPERM;
  }
  return s < 0 ? pmw_fail_nt(s) : 0;
}

int pmw_mknod_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                 pm_ftype type, uint32_t mode, uint64_t rdev) {
  (void)mode;
  (void)rdev;
  if (type != PM_T_FIFO && type != PM_T_SOCK && type != PM_T_CHR &&
      type != PM_T_BLK)
    return own_fail(PM_EINVAL);
  walk w;
  int rc = walk_leaf(dir, rel, &w);
  if (rc) return rc;
  walk_close(&w);
  return own_fail(PM_ENOTSUP);
}

/* FSCTL_GET_REPARSE_POINT on the entry opened itself. The target is
 * given as fs_win32.c's readlink gives it: the substitute name as stored,
 * "\??\C:\x" as "C:/x", "\??\UNC\srv\x" as "//srv/x", a relative
 * target in its own form, '/' for every separator. */
int pmw_readlink_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                    char *buf, size_t cap, size_t *len) {
  walk w;
  int rc = walk_leaf(dir, rel, &w);
  if (rc) return rc;
  HANDLE h;
  tag_info ti;
  rc = leaf_open(&w, FILE_READ_ATTRIBUTES, 0, &h, &ti);
  walk_close(&w);
  if (rc) return rc;
  if (!is_link(&ti)) {
    pmw_nt.close(h);
    return own_fail(PM_EINVAL);
  }
  unsigned char *raw = malloc(MAXIMUM_REPARSE_DATA_BUFFER_SIZE);
  if (!raw) {
    pmw_nt.close(h);
    return PM_ENOMEM;
  }
  IO_STATUS_BLOCK io;
  NTSTATUS s = pmw_nt.fs_control(h, NULL, NULL, NULL, &io,
                               FSCTL_GET_REPARSE_POINT, NULL, 0, raw,
                               MAXIMUM_REPARSE_DATA_BUFFER_SIZE);
  pmw_nt.close(h);
  if (s < 0) {
    free(raw);
    return pmw_fail_nt(s);
  }
  const reparse_buf *rb = (const reparse_buf *)raw;
  /* IO_REPARSE_TAG_SYMLINK has a ULONG of flags before its names. */
  size_t path_at = sizeof *rb + (rb->tag == IO_REPARSE_TAG_SYMLINK ? 4 : 0);
  size_t got = (size_t)io.Information;
  if ((rb->tag != IO_REPARSE_TAG_SYMLINK &&
       rb->tag != IO_REPARSE_TAG_MOUNT_POINT) ||
      path_at + rb->sub_off + rb->sub_len > got) {
    free(raw);
    return own_fail(PM_EINVAL);
  }
  const wchar_t *name = (const wchar_t *)(raw + path_at + rb->sub_off);
  size_t n = rb->sub_len / sizeof(wchar_t);
  bool unc = false;
  if (n >= 4 && !wcsncmp(name, L"\\??\\", 4)) {
    name += 4;
    n -= 4;
    if (n >= 4 && !wcsncmp(name, L"UNC\\", 4)) {
      name += 3; /* keep one '\\': the other comes first */
      n -= 3;
      unc = true;
    }
  }
  char *u;
  size_t ulen;
  rc = pmw_to_utf8(name, n, &u, &ulen);
  free(raw);
  if (rc) return own_fail(rc);
  for (size_t i = 0; i < ulen; i++)
    if (u[i] == '\\') u[i] = '/';
  if (ulen + 1 + unc > cap) {
    free(u);
    return own_fail(PM_ERANGE);
  }
  if (unc) buf[0] = '/';
  memcpy(buf + unc, u, ulen + 1);
  *len = ulen + unc;
  free(u);
  return 0;
}

/* Deletes the entry open at h (FileDispositionInformation: it goes when
 * the last handle closes, which is this one). A read-only entry is made
 * writable first (NTFS refuses to delete it: STATUS_CANNOT_DELETE) and
 * made read-only again if the delete fails. */
static int dispose(HANDLE h, ULONG attrs) {
  FILE_BASIC_INFORMATION bi;
  bool ro = (attrs & FILE_ATTRIBUTE_READONLY) != 0;
  NTSTATUS s;
  if (ro) {
    memset(&bi, 0, sizeof bi);
    bi.FileAttributes = settable(attrs & ~(ULONG)FILE_ATTRIBUTE_READONLY);
    s = set_basic(h, &bi);
    if (s < 0) return pmw_fail_nt(s);
  }
  disposition_info di;
  di.delete_file = TRUE;
  IO_STATUS_BLOCK io;
  s = pmw_nt.set_info(h, &io, &di, sizeof di, FileDispositionInformation);
  if (s < 0) {
    int rc = pmw_fail_nt(s);
    if (ro) {
      bi.FileAttributes = settable(attrs);
      set_basic(h, &bi);
    }
    return rc;
  }
  return 0;
}

/* Opens the last component for deletion: DELETE, and
 * FILE_WRITE_ATTRIBUTES when it is granted (to clear a read-only bit). */
static int open_for_delete(walk *w, HANDLE *h, tag_info *ti) {
  int rc = leaf_open(w, DELETE | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES,
                     0, h, ti);
  if (rc == PM_EACCES)
    rc = leaf_open(w, DELETE | FILE_READ_ATTRIBUTES, 0, h, ti);
  return rc;
}

int pmw_unlink_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel) {
  walk w;
  int rc = walk_leaf(dir, rel, &w);
  if (rc) return rc;
  HANDLE h;
  tag_info ti;
  rc = open_for_delete(&w, &h, &ti);
  walk_close(&w);
  if (rc) return rc;
  /* A junction or a directory symlink is a link: unlink removes it, as it
   * removes a symlink on POSIX. A real directory is rmdir's. */
  if ((ti.attrs & FILE_ATTRIBUTE_DIRECTORY) && !is_link(&ti))
    rc = own_fail(PM_EISDIR);
  else
    rc = dispose(h, ti.attrs);
  pmw_nt.close(h);
  return rc;
}

int pmw_rmdir_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel) {
  walk w;
  int rc = walk_leaf(dir, rel, &w);
  if (rc) return rc;
  HANDLE h;
  tag_info ti;
  rc = open_for_delete(&w, &h, &ti);
  walk_close(&w);
  if (rc) return rc;
  /* A link is never followed nor removed here, even a junction (which is
   * a directory to NTFS). */
  if (!(ti.attrs & FILE_ATTRIBUTE_DIRECTORY) || is_link(&ti))
    rc = own_fail(PM_ENOTDIR);
  else
    rc = dispose(h, ti.attrs);
  pmw_nt.close(h);
  return rc;
}

static int chmod_op(HANDLE h, const tag_info *ti, void *arg) {
  uint32_t mode = *(const uint32_t *)arg;
  /* Group or other bits end a private file's or directory's privacy
   * (see open_at and mkdir_at); a directory keeps no other part of a
   * mode. */
  if (mode & 077) {
    int rc = pmw_meta_unprivate(h);
    if (rc) return rc;
  }
  if (ti->attrs & FILE_ATTRIBUTE_DIRECTORY) return 0;
  FILE_BASIC_INFORMATION bi;
  memset(&bi, 0, sizeof bi);
  bi.FileAttributes = attrs_for_mode(ti->attrs, mode);
  if (!((bi.FileAttributes ^ ti->attrs) & FILE_ATTRIBUTE_READONLY))
    return 0; /* nothing to change: no write access needed */
  NTSTATUS s = set_basic(h, &bi);
  return s < 0 ? pmw_fail_nt(s) : 0;
}

/* NTFS keeps one permission bit a mode can say: read-only, for files
 * (0444 and the like). The rest of a mode has no place there; the ACL is
 * the security descriptor's business. */
int pmw_chmod_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                 uint32_t mode) {
  return on_entry(dir, rel, FILE_WRITE_ATTRIBUTES, true, chmod_op, &mode);
}

static int check_op(HANDLE h, const tag_info *ti, void *arg) {
  (void)h;
  (void)ti;
  (void)arg;
  return 0;
}

/* stat reports uid and gid 0 (Windows owners are SIDs, copied with the
 * security descriptor): setting them to that, or leaving them (-1), is
 * the only change there is to make. */
int pmw_chown_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                 uint32_t uid, uint32_t gid) {
  int rc = on_entry(dir, rel, 0, false, check_op, NULL);
  if (rc) return rc;
  bool same = (uid == (uint32_t)-1 || uid == 0) &&
              (gid == (uint32_t)-1 || gid == 0);
  return same ? 0 : own_fail(PM_ENOTSUP);
}

typedef struct times_arg {
  const pm_time *atime, *mtime;
} times_arg;

static int utimes_op(HANDLE h, const tag_info *ti, void *arg) {
  (void)ti;
  const times_arg *t = arg;
  FILE_BASIC_INFORMATION bi;
  memset(&bi, 0, sizeof bi);
  if (t->atime) bi.LastAccessTime = li_of(pmw_filetime_of(*t->atime));
  if (t->mtime) bi.LastWriteTime = li_of(pmw_filetime_of(*t->mtime));
  if (!t->atime && !t->mtime) return 0;
  NTSTATUS s = set_basic(h, &bi);
  return s < 0 ? pmw_fail_nt(s) : 0;
}

int pmw_utimes_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                  const pm_time *atime, const pm_time *mtime) {
  times_arg t = {atime, mtime};
  return on_entry(dir, rel, FILE_WRITE_ATTRIBUTES, false, utimes_op, &t);
}

/* Extended attributes: the reserved names of platform.h's "Windows
 * metadata" contract (meta_win32.c). An empty rel tries the caller's
 * handle first and reopens its object with the access the call needs
 * when that handle lacks it (on_entry). */
typedef struct xattr_arg {
  const char *name;
  void *buf;
  const void *val;
  size_t cap, *len;
  int op; /* PMW_META_*, or -1 to list */
} xattr_arg;

static int xattr_op(HANDLE h, const tag_info *ti, void *arg) {
  (void)ti;
  xattr_arg *a = arg;
  if (a->op < 0) return pmw_meta_list(h, a->buf, a->cap, a->len);
  if (a->op == PMW_META_GET)
    return pmw_meta_get(h, a->name, a->buf, a->cap, a->len);
  if (a->op == PMW_META_SET)
    return pmw_meta_set(h, a->name, a->val, a->cap);
  if (a->op == PMW_META_SET_REDUCED)
    return pmw_meta_set_reduced(h, a->name, a->val, a->cap);
  return pmw_meta_remove(h, a->name);
}

int pmw_xattr_list_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                      char *buf, size_t cap, size_t *len) {
  xattr_arg a = {NULL, buf, NULL, cap, len, -1};
  return on_entry(dir, rel, pmw_meta_access(NULL, PMW_META_GET), false,
                  xattr_op, &a);
}

int pmw_xattr_get_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                     const char *name, void *buf, size_t cap, size_t *len) {
  xattr_arg a = {name, buf, NULL, cap, len, PMW_META_GET};
  return on_entry(dir, rel, pmw_meta_access(name, PMW_META_GET), false,
                  xattr_op, &a);
}

int pmw_xattr_set_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                     const char *name, const void *val, size_t len) {
  xattr_arg a = {name, NULL, val, len, NULL, PMW_META_SET};
  DWORD access = pmw_meta_access(name, PMW_META_SET);
  int rc = on_entry(dir, rel, access, false, xattr_op, &a);
  if (rc == PM_EACCES && (access & WRITE_OWNER)) {
    /* Not even a reopen gets WRITE_OWNER (no SeRestorePrivilege, and the
     * DACL does not give it): the descriptor without owner and group. */
    a.op = PMW_META_SET_REDUCED;
    rc = on_entry(dir, rel, access & ~(DWORD)WRITE_OWNER, false, xattr_op,
                  &a);
  }
  return rc;
}

int pmw_xattr_remove_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                        const char *name) {
  xattr_arg a = {name, NULL, NULL, 0, NULL, PMW_META_REMOVE};
  return on_entry(dir, rel, pmw_meta_access(name, PMW_META_REMOVE), false,
                  xattr_op, &a);
}

/* ---- Listing a directory handle ---- */

/* FileFullDirectoryInformation (NT 3.1; FileIdBothDirectoryInformation
 * would give a file id but is XP). On NTFS its EaSize holds the reparse
 * tag of an entry with FILE_ATTRIBUTE_REPARSE_POINT (kernel32's
 * FindFirstFileW reports it as dwReserved0 from Windows 2000 on). */
struct pm_dir {
  HANDLE h;
  unsigned char *buf; /* one batch of entries */
  size_t off;         /* next entry in buf, or `end` */
  size_t end;         /* bytes in buf; 0 when a new batch is needed */
  bool first, done;
  char *name; /* the last entry's name, UTF-8 */
};

enum { DIR_BUF = 64 * 1024 };

int pmw_opendir_handle(HANDLE h, pm_dir **out) {
  *out = NULL;
  pm_dir *d = calloc(1, sizeof *d);
  if (d) d->buf = malloc(DIR_BUF);
  if (!d || !d->buf) {
    if (d) free(d);
    pmw_nt.close(h);
    return PM_ENOMEM;
  }
  d->h = h;
  d->first = true;
  *out = d;
  return 0;
}

static int next_batch(pm_dir *d) {
  IO_STATUS_BLOCK io;
  memset(&io, 0, sizeof io);
  /* No event: Wine 8 refuses one (STATUS_NOT_IMPLEMENTED). On an
   * overlapped handle Windows may answer STATUS_PENDING; without an event
   * the file object itself is signalled when the query completes, and
   * this listing is the only I/O on the handle. */
  NTSTATUS s = pmw_nt.query_dir(d->h, NULL, NULL, NULL, &io, d->buf,
                                    DIR_BUF, FileFullDirectoryInformation,
                                    FALSE, NULL, d->first ? TRUE : FALSE);
  if (s == ST_PENDING) {
    WaitForSingleObject(d->h, INFINITE);
    s = io.Status;
  }
  d->first = false;
  if (s == ST_NO_MORE_FILES) {
    d->done = true;
    return 0;
  }
  if (s < 0) return pmw_fail_nt(s);
  d->off = 0;
  d->end = (size_t)io.Information;
  if (!d->end) d->done = true;
  return 0;
}

static pm_ftype type_of(const FILE_FULL_DIR_INFORMATION *e) {
  if (e->FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
    ULONG tag = e->EaSize;
    /* Only a Microsoft tag is a tag; anything else (0 from Wine, a file
     * system that keeps EAs there) says nothing: the caller stats it. */
    if (!IsReparseTagMicrosoft(tag)) return PM_T_UNKNOWN;
    if (IsReparseTagNameSurrogate(tag)) return PM_T_SYMLINK;
  }
  return (e->FileAttributes & FILE_ATTRIBUTE_DIRECTORY) ? PM_T_DIR : PM_T_FILE;
}

int pmw_readdir(const pm_fs *self PM_UNUSED, pm_dir *d, pm_dirent *ent) {
  for (;;) {
    if (d->done) return 0;
    if (d->off >= d->end) {
      d->end = 0;
      int rc = next_batch(d);
      if (rc) return rc;
      continue;
    }
    const FILE_FULL_DIR_INFORMATION *e =
        (const FILE_FULL_DIR_INFORMATION *)(d->buf + d->off);
    d->off = e->NextEntryOffset ? d->off + e->NextEntryOffset : d->end;
    size_t n = e->FileNameLength / sizeof(wchar_t);
    if ((n == 1 && e->FileName[0] == L'.') ||
        (n == 2 && e->FileName[0] == L'.' && e->FileName[1] == L'.'))
      continue;
    free(d->name);
    d->name = NULL;
    int rc = pmw_to_utf8(e->FileName, n, &d->name, NULL);
    if (rc) return own_fail(rc);
    ent->name = d->name;
    ent->type = type_of(e);
    ent->ino = 0; /* FileIndex means nothing on NTFS; stat has the id */
    return 1;
  }
}

void pmw_closedir(const pm_fs *self PM_UNUSED, pm_dir *d) {
  if (!d) return;
  pmw_nt.close(d->h);
  free(d->buf);
  free(d->name);
  free(d);
}

/* ---- Named data streams ----
 *
 * Listed with NtQueryInformationFile(FileStreamInformation) (NT 3.1; not
 * FindFirstStreamW, which is Vista's, nor BackupRead, which Wine refuses
 * with ERROR_NOT_SUPPORTED), opened with NtCreateFile of ":NAME" relative
 * to the file's own handle (RootDirectory may be a file when the name is
 * a stream's: NT 3.1 too), so no path is ever looked up again.
 *
 * What Wine 8.0 does (wine64 8.0, Debian 12, ext4): FileStreamInformation
 * is STATUS_NOT_IMPLEMENTED (so streams_list says PM_ENOTSUP and a copy
 * carries no streams); the relative open of ":NAME" on a file handle is
 * STATUS_OBJECT_PATH_NOT_FOUND; and CreateFileW("f:alt") by path makes
 * a Unix file named "f:alt" beside f, no stream. NTFS's answers are shown
 * to this code by tests/platform/test_fs_win32_nt.c through the pmw_nt
 * table instead. */

/* A FAT volume (and NT 4.0's CDFS) refuses the class: no streams there. */
#define ST_BUFFER_OVERFLOW ((NTSTATUS)0x80000005L)
#define ST_BUFFER_TOO_SMALL ((NTSTATUS)0xC0000023L)
#define ST_INFO_LENGTH_MISMATCH ((NTSTATUS)0xC0000004L)
#define ST_INVALID_DEVICE_REQUEST ((NTSTATUS)0xC0000010L)

enum { DATA_SUFFIX_LEN = 6, STREAMS_MAX = 64u << 20 };

/* Whether w[0..n) ends with ":$DATA" (NTFS spells the type so). */
static bool is_data(const wchar_t *w, size_t n) {
  static const wchar_t sfx[] = L":$DATA";
  if (n < DATA_SUFFIX_LEN) return false;
  for (size_t i = 0; i < DATA_SUFFIX_LEN; i++)
    if (w[n - DATA_SUFFIX_LEN + i] != sfx[i]) return false;
  return true;
}

/* Appends the names of the named $DATA streams in the FileStreamInformation
 * answer buf[0..got) to out (NUL-separated, UTF-8); *len counts what the
 * whole list needs, whether it fits or not. */
static int streams_parse(const unsigned char *buf, size_t got, char *out,
                         size_t cap, size_t *len) {
  size_t off = 0, n = 0;
  while (got && off + offsetof(FILE_STREAM_INFORMATION, StreamName) <= got) {
    const FILE_STREAM_INFORMATION *e =
        (const FILE_STREAM_INFORMATION *)(const void *)(buf + off);
    size_t wn = e->StreamNameLength / sizeof(wchar_t);
    if (off + offsetof(FILE_STREAM_INFORMATION, StreamName) +
            e->StreamNameLength > got)
      return own_fail(PM_EFORMAT);
    const wchar_t *w = e->StreamName;
    /* ":NAME:$DATA": the name lies between the first ':' and the type;
     * "::$DATA" is the main stream, other types are not data. */
    if (wn > 1 + DATA_SUFFIX_LEN && w[0] == L':' && is_data(w, wn)) {
      char *u;
      size_t ul;
      int rc = pmw_to_utf8(w + 1, wn - 1 - DATA_SUFFIX_LEN, &u, &ul);
      if (rc) return rc;
      if (n + ul + 1 <= cap) {
        memcpy(out + n, u, ul);
        out[n + ul] = '\0';
      }
      n += ul + 1;
      free(u);
    }
    if (!e->NextEntryOffset) break;
    off += e->NextEntryOffset;
  }
  *len = n;
  if (n > cap) return own_fail(PM_ERANGE);
  return 0;
}

int pmw_streams_list(const pm_fs *self PM_UNUSED, pm_fd fd, char *buf,
                     size_t cap, size_t *len) {
  *len = 0;
  ULONG size = 4096;
  for (;;) {
    unsigned char *info = malloc(size);
    if (!info) return own_fail(PM_ENOMEM);
    IO_STATUS_BLOCK io;
    memset(&io, 0, sizeof io);
    NTSTATUS s = pmw_nt.query_info((HANDLE)fd, &io, info, size,
                                   FileStreamInformation);
    if (s == ST_BUFFER_OVERFLOW || s == ST_BUFFER_TOO_SMALL ||
        s == ST_INFO_LENGTH_MISMATCH) {
      /* No partial list is used: the whole answer is asked again. */
      free(info);
      if (size >= STREAMS_MAX) return own_fail(PM_ERANGE);
      size *= 2;
      continue;
    }
    if (s == ST_INVALID_PARAMETER || s == ST_INVALID_INFO_CLASS ||
        s == ST_NOT_IMPLEMENTED || s == ST_INVALID_DEVICE_REQUEST) {
      free(info);
      pm_oserr_record(PM_ENOTSUP, (int)RtlNtStatusToDosError(s));
      return PM_ENOTSUP;
    }
    if (s < 0) {
      free(info);
      return pmw_fail_nt(s);
    }
    size_t got = io.Information < size ? (size_t)io.Information : size;
    int rc = streams_parse(info, got, buf, cap, len);
    free(info);
    return rc;
  }
}

/* ":NAME" in UTF-16 for a relative open of a stream: 0 or PM_E*. */
static int stream_name(const char *name, wchar_t **w, size_t *wn) {
  if (!*name || strpbrk(name, "/\\:")) return own_fail(PM_EINVAL);
  size_t nl = strlen(name);
  char *full = malloc(nl + 2);
  if (!full) return own_fail(PM_ENOMEM);
  full[0] = ':';
  memcpy(full + 1, name, nl + 1);
  int rc = pmw_to_wide(full, nl + 1, w, wn);
  free(full);
  return rc;
}

int pmw_stream_open(const pm_fs *self PM_UNUSED, pm_fd fd, const char *name,
                    int flags, uint32_t mode, pm_fd *out) {
  (void)mode; /* a stream has its file's attributes and descriptor */
  *out = PM_FD_INVALID;
  int acc = flags & PM_O_ACCMODE;
  bool writing = acc == PM_O_WRONLY || acc == PM_O_RDWR;
  ACCESS_MASK access = SYNCHRONIZE | FILE_READ_ATTRIBUTES;
  if (acc == PM_O_RDONLY || acc == PM_O_RDWR) access |= GENERIC_READ;
  if (writing) access |= GENERIC_WRITE;
  ULONG disp = FILE_OPEN;
  if (flags & PM_O_CREAT)
    disp = (flags & PM_O_EXCL) ? FILE_CREATE : FILE_OPEN_IF;
  /* No FILE_SYNCHRONOUS_IO_*: an overlapped handle, as pmw_open_at's
   * files, for fs_win32.c's pread and pwrite. */
  ULONG opts = FILE_NON_DIRECTORY_FILE | FILE_OPEN_FOR_BACKUP_INTENT;

  wchar_t *w;
  size_t wn;
  int rc = stream_name(name, &w, &wn);
  if (rc) return rc;
  HANDLE h;
  bool created = false;
  NTSTATUS s = nt_open((HANDLE)fd, w, wn, access, FILE_ATTRIBUTE_NORMAL, disp,
                       opts, &h, &created);
  free(w);
  if (s < 0) return pmw_fail_nt(s);
  if ((flags & PM_O_TRUNC) && writing && !created) {
    eof_info eo;
    IO_STATUS_BLOCK io;
    eo.eof.QuadPart = 0;
    s = pmw_nt.set_info(h, &io, &eo, sizeof eo, FileEndOfFileInformation);
    if (s < 0) {
      pmw_nt.close(h);
      return pmw_fail_nt(s);
    }
  }
  *out = (pm_fd)(intptr_t)h;
  return 0;
}

/* Opened for deletion relative to the file's handle, marked, closed: the
 * stream goes with this handle, the only one. (A read-only file's
 * streams cannot be removed: the engine makes the file writable first.) */
int pmw_stream_remove(const pm_fs *self PM_UNUSED, pm_fd fd,
                      const char *name) {
  wchar_t *w;
  size_t wn;
  int rc = stream_name(name, &w, &wn);
  if (rc) return rc;
  HANDLE h;
  NTSTATUS s = nt_open((HANDLE)fd, w, wn, DELETE | SYNCHRONIZE,
                       FILE_ATTRIBUTE_NORMAL, FILE_OPEN,
                       FILE_NON_DIRECTORY_FILE | FILE_OPEN_FOR_BACKUP_INTENT,
                       &h, NULL);
  free(w);
  if (s < 0) return pmw_fail_nt(s);
  disposition_info di;
  di.delete_file = TRUE;
  IO_STATUS_BLOCK io;
  s = pmw_nt.set_info(h, &io, &di, sizeof di, FileDispositionInformation);
  rc = s < 0 ? pmw_fail_nt(s) : 0;
  pmw_nt.close(h);
  return rc;
}
