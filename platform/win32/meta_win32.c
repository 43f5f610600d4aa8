/* meta_win32.c - the Windows metadata pomove copies, given to the copy
 * engine as extended attributes of a small reserved namespace (the
 * contract is in platform.h, "Windows metadata as extended attributes"),
 * the backup privileges, and the private security descriptor of a file
 * being written. Private to the Win32 backend; declared in win32.h and
 * used by fs_win32.c (path slots) and fs_win32_at.c (slots beneath a
 * handle), which resolve the entry and hand its handle here.
 *
 * Only what Windows NT 4.0 exports is imported: GetKernelObjectSecurity
 * and SetKernelObjectSecurity (NtQuerySecurityObject/NtSetSecurityObject
 * underneath: no SDDL, no SetSecurityInfo for the descriptor itself),
 * AdjustTokenPrivileges, NtQueryVolumeInformationFile and the security
 * descriptor builders (InitializeSecurityDescriptor, InitializeAcl,
 * AddAccessAllowedAce). Two Windows 2000 things are looked up at run time:
 * SetSecurityDescriptorControl (the "protected DACL" bit of a private
 * file) and SetSecurityInfo's UNPROTECTED_DACL_SECURITY_INFORMATION (the
 * inherited permissions a private file gets back); on NT 4.0, which has
 * neither automatic inheritance nor protected DACLs, a file being written
 * is not made private (README, "Windows").
 *
 * The calls whose effects Wine 8 cannot show go through pmw_w32
 * (fs_calls.h), so that tests/platform/test_fs_win32_nt.c can play NTFS.
 * What Wine 8.0 does (measured, wine64 8.0 on ext4, run as root):
 * - GetKernelObjectSecurity answers a descriptor made up from the Unix
 *   mode (owner, group and three ACEs; control 0x8004); SetKernelObject-
 *   Security succeeds and turns the DACL into a Unix mode, storing no
 *   descriptor (no xattr is written on the Unix file), so a set DACL never
 *   reads back, a protected bit included.
 * - FileFsAttributeInformation says "NTFS" with FILE_PERSISTENT_ACLS.
 * - AdjustTokenPrivileges enables SeBackupPrivilege, SeRestorePrivilege
 *   and SeSecurityPrivilege (ERROR_SUCCESS).
 * - FILE_BASIC_INFORMATION.ChangeTime is the Unix ctime.
 * - No alternate data streams: BackupRead fails with ERROR_NOT_SUPPORTED,
 *   and CreateFileW("f.txt:alt") makes a Unix file named "f.txt:alt". */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <aclapi.h>
#include <winternl.h>

#include "fs_calls.h"
#include "platform.h"
#include "win32.h"

#ifndef FILE_OPEN_FOR_BACKUP_INTENT
#define FILE_OPEN_FOR_BACKUP_INTENT 0x00004000
#endif
#ifndef FILE_OPEN_REPARSE_POINT
#define FILE_OPEN_REPARSE_POINT 0x00200000
#endif
#ifndef FILE_SYNCHRONOUS_IO_NONALERT
#define FILE_SYNCHRONOUS_IO_NONALERT 0x00000020
#endif
#ifndef UNPROTECTED_DACL_SECURITY_INFORMATION
#define UNPROTECTED_DACL_SECURITY_INFORMATION 0x20000000L
#endif
#define ST_BUFFER_OVERFLOW ((NTSTATUS)0x80000005L)
#ifndef FILE_PERSISTENT_ACLS
#define FILE_PERSISTENT_ACLS 0x00000008
#endif

/* The attributes win32.attributes carries (see platform.h). */
#define KEEP_ATTRS                                                           \
  (FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM | \
   FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_TEMPORARY |                       \
   FILE_ATTRIBUTE_OFFLINE | FILE_ATTRIBUTE_NOT_CONTENT_INDEXED)

#define SD_PARTS \
  (OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | \
   DACL_SECURITY_INFORMATION)

static int own_fail(int err) {
  pm_oserr_record(err, 0);
  return err;
}

/* ---- Privileges ---- */

static volatile LONG sacl_on;

static bool enable_one(HANDLE tok, const wchar_t *name) {
  TOKEN_PRIVILEGES tp;
  tp.PrivilegeCount = 1;
  tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
  if (!LookupPrivilegeValueW(NULL, name, &tp.Privileges[0].Luid))
    return false;
  /* Succeeds with ERROR_NOT_ALL_ASSIGNED when the token lacks it. */
  if (!AdjustTokenPrivileges(tok, FALSE, &tp, 0, NULL, NULL)) return false;
  return GetLastError() == ERROR_SUCCESS;
}

unsigned pmw_privileges_enable(void) {
  HANDLE tok;
  unsigned got = 0;
  if (OpenProcessToken(GetCurrentProcess(),
                       TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &tok)) {
    if (enable_one(tok, L"SeBackupPrivilege")) got |= PMW_PRIV_BACKUP;
    if (enable_one(tok, L"SeRestorePrivilege")) got |= PMW_PRIV_RESTORE;
    if (enable_one(tok, L"SeSecurityPrivilege")) got |= PMW_PRIV_SECURITY;
    CloseHandle(tok);
  }
  InterlockedExchange(&sacl_on, (got & PMW_PRIV_SECURITY) ? 1 : 0);
  return got;
}

bool pmw_sacl_enabled(void) { return sacl_on != 0; }
void pmw_sacl_force(bool on) { InterlockedExchange(&sacl_on, on ? 1 : 0); }

/* ---- Helpers ---- */

/* Whether the volume holding h keeps security descriptors (NTFS: yes;
 * FAT: no). When it cannot be told, yes: the descriptor calls answer. */
static bool keeps_acls(HANDLE h) {
  struct {
    ULONG flags;
    LONG max_name;
    ULONG name_len;
    WCHAR name[32];
  } fa;
  IO_STATUS_BLOCK io;
  memset(&fa, 0, sizeof fa);
  NTSTATUS s = pmw_w32.query_volume(h, &io, &fa, sizeof fa,
                                    FileFsAttributeInformation);
  if (!NT_SUCCESS(s) && s != ST_BUFFER_OVERFLOW) return true;
  return (fa.flags & FILE_PERSISTENT_ACLS) != 0;
}

/* A second handle on h's object with `access` (an empty name relative to
 * h: no lookup by name), with backup intent, for a handle opened without
 * the access a call needs. */
static NTSTATUS reopen(HANDLE h, ACCESS_MASK access, HANDLE *out) {
  UNICODE_STRING empty = {0, 0, NULL};
  OBJECT_ATTRIBUTES oa;
  InitializeObjectAttributes(&oa, &empty, 0, h, NULL);
  IO_STATUS_BLOCK io;
  return NtOpenFile(out, access | SYNCHRONIZE, &oa, &io,
                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    FILE_OPEN_REPARSE_POINT | FILE_SYNCHRONOUS_IO_NONALERT |
                        FILE_OPEN_FOR_BACKUP_INTENT);
}

/* Only the attributes KEEP_ATTRS holds are used, none of those a test's
 * get_file_information fakes (sparse, reparse point). */
static int attrs_of(HANDLE h, DWORD *attrs) { return pmw_attrs_of(h, attrs); }

/* FileBasicInformation with the times left alone (0) and `attrs`
 * (FILE_ATTRIBUTE_NORMAL for none: 0 would leave them too). */
static int set_attrs(HANDLE h, DWORD attrs) {
  FILE_BASIC_INFORMATION fb;
  memset(&fb, 0, sizeof fb);
  fb.FileAttributes = attrs ? attrs : FILE_ATTRIBUTE_NORMAL;
  IO_STATUS_BLOCK io;
  NTSTATUS s = NtSetInformationFile(h, &io, &fb, sizeof fb,
                                    FileBasicInformation);
  return NT_SUCCESS(s) ? PM_OK : pmw_fail_nt(s);
}

/* A value that fits: *len gets the size; cap 0 only asks for it. */
static int give(const void *val, size_t n, void *buf, size_t cap,
                size_t *len) {
  *len = n;
  if (cap == 0) return PM_OK;
  if (cap < n) return own_fail(PM_ERANGE);
  memcpy(buf, val, n);
  return PM_OK;
}

/* Windows 2000 or later: automatic inheritance, protected DACLs. */
static bool nt5(void) {
  OSVERSIONINFOW v;
  memset(&v, 0, sizeof v);
  v.dwOSVersionInfoSize = sizeof v;
  return GetVersionExW(&v) && v.dwMajorVersion >= 5;
}

/* Gives h the DACL its parent passes down, and nothing of its own
 * (Windows 2000: SetSecurityInfo with an empty DACL and
 * UNPROTECTED_DACL_SECURITY_INFORMATION; the system adds the parent's
 * inheritable ACEs). NT 4.0 cannot: PM_ENOTSUP. */
static int inherit_dacl(HANDLE h) {
  if (!nt5()) return own_fail(PM_ENOTSUP);
  ACL empty;
  if (!InitializeAcl(&empty, sizeof empty, ACL_REVISION))
    return pmw_fail_last();
  DWORD e = pmw_w32.set_security_info(
      h, SE_FILE_OBJECT,
      DACL_SECURITY_INFORMATION | UNPROTECTED_DACL_SECURITY_INFORMATION, NULL,
      NULL, &empty, NULL);
  return e ? pmw_fail(e) : PM_OK;
}

/* ---- The private descriptor ---- */

static SECURITY_DESCRIPTOR *volatile private_sd;
static PACL private_acl;

typedef BOOL(WINAPI *set_control_fn)(PSECURITY_DESCRIPTOR,
                                     SECURITY_DESCRIPTOR_CONTROL,
                                     SECURITY_DESCRIPTOR_CONTROL);

/* The owner new objects get (TokenOwner: the user, or Administrators for
 * one of them), malloc'd. */
static PSID default_owner(void) {
  HANDLE tok;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) return NULL;
  DWORD need = 0;
  GetTokenInformation(tok, TokenOwner, NULL, 0, &need);
  TOKEN_OWNER *o = need ? malloc(need) : NULL;
  PSID sid = NULL;
  if (o && GetTokenInformation(tok, TokenOwner, o, need, &need)) {
    DWORD n = GetLengthSid(o->Owner);
    sid = malloc(n);
    if (sid && !CopySid(n, sid, o->Owner)) {
      free(sid);
      sid = NULL;
    }
  }
  free(o);
  CloseHandle(tok);
  return sid;
}

static SECURITY_DESCRIPTOR *build_private(void) {
  if (!nt5()) return NULL;
  set_control_fn set_control = (set_control_fn)(void (*)(void))GetProcAddress(
      GetModuleHandleW(L"advapi32.dll"), "SetSecurityDescriptorControl");
  if (!set_control) return NULL;
  PSID owner = default_owner();
  if (!owner) return NULL;
  SID_IDENTIFIER_AUTHORITY nt = {SECURITY_NT_AUTHORITY};
  PSID admins = NULL;
  if (!AllocateAndInitializeSid(&nt, 2, SECURITY_BUILTIN_DOMAIN_RID,
                                DOMAIN_ALIAS_RID_ADMINS, 0, 0, 0, 0, 0, 0,
                                &admins)) {
    free(owner);
    return NULL;
  }
  bool same = EqualSid(owner, admins) != 0;
  DWORD acl_len = sizeof(ACL) + sizeof(ACCESS_ALLOWED_ACE) - sizeof(DWORD) +
                  GetLengthSid(owner);
  if (!same)
    acl_len += sizeof(ACCESS_ALLOWED_ACE) - sizeof(DWORD) +
               GetLengthSid(admins);
  SECURITY_DESCRIPTOR *sd = malloc(sizeof *sd + acl_len);
  PACL acl = (PACL)(sd + 1);
  bool ok = sd && InitializeSecurityDescriptor(sd,
                                               SECURITY_DESCRIPTOR_REVISION) &&
            InitializeAcl(acl, acl_len, ACL_REVISION) &&
            AddAccessAllowedAce(acl, ACL_REVISION, FILE_ALL_ACCESS, owner) &&
            (same ||
             AddAccessAllowedAce(acl, ACL_REVISION, FILE_ALL_ACCESS,
                                 admins)) &&
            SetSecurityDescriptorDacl(sd, TRUE, acl, FALSE) &&
            set_control(sd, SE_DACL_PROTECTED, SE_DACL_PROTECTED);
  FreeSid(admins);
  free(owner);
  if (!ok) {
    free(sd);
    return NULL;
  }
  return sd;
}

PSECURITY_DESCRIPTOR pmw_private_sd(void) {
  static volatile LONG state; /* 0 not built, 1 building, 2 done */
  if (state == 2) return private_sd;
  if (InterlockedCompareExchange(&state, 1, 0) == 0) {
    SECURITY_DESCRIPTOR *sd = build_private();
    if (sd) {
      BOOL present, defaulted;
      GetSecurityDescriptorDacl(sd, &present, &private_acl, &defaulted);
    }
    private_sd = sd;
    InterlockedExchange(&state, 2);
  }
  while (state != 2) Sleep(0);
  return private_sd;
}

/* Whether `dacl` (with the descriptor's control `ctl`) is exactly the
 * private one: protected, the same ACEs in the same order. */
static bool is_private(SECURITY_DESCRIPTOR_CONTROL ctl, PACL dacl) {
  PACL mine = private_acl;
  if (!mine || !dacl || !(ctl & SE_DACL_PROTECTED)) return false;
  if (dacl->AceCount != mine->AceCount) return false;
  for (WORD i = 0; i < mine->AceCount; i++) {
    ACE_HEADER *a, *b;
    if (!GetAce(dacl, i, (void **)&a) || !GetAce(mine, i, (void **)&b))
      return false;
    if (a->AceSize != b->AceSize || memcmp(a, b, a->AceSize)) return false;
  }
  return true;
}

int pmw_meta_unprivate(HANDLE h) {
  if (!pmw_private_sd()) return PM_OK;
  union {
    SECURITY_DESCRIPTOR_RELATIVE sd;
    unsigned char raw[1024];
  } u;
  DWORD need = 0;
  HANDLE t = NULL;
  BOOL ok = pmw_w32.get_security(h, DACL_SECURITY_INFORMATION, &u, sizeof u,
                                 &need);
  if (!ok && GetLastError() == ERROR_ACCESS_DENIED) {
    NTSTATUS s = reopen(h, READ_CONTROL | WRITE_DAC, &t);
    if (!NT_SUCCESS(s)) return pmw_fail_nt(s);
    ok = pmw_w32.get_security(t, DACL_SECURITY_INFORMATION, &u, sizeof u,
                              &need);
  }
  int rc = PM_OK;
  if (!ok) {
    /* A descriptor larger than the private one is not the private one;
     * a file system without descriptors has none to give back. */
    DWORD e = GetLastError();
    if (e != ERROR_INSUFFICIENT_BUFFER && e != ERROR_NOT_SUPPORTED &&
        e != ERROR_INVALID_FUNCTION)
      rc = pmw_fail(e);
  } else {
    SECURITY_DESCRIPTOR_CONTROL ctl = 0;
    DWORD rev;
    BOOL present = FALSE, defaulted;
    PACL dacl = NULL;
    if (GetSecurityDescriptorControl(&u, &ctl, &rev) &&
        GetSecurityDescriptorDacl(&u, &present, &dacl, &defaulted) &&
        present && is_private(ctl, dacl)) {
      rc = inherit_dacl(t ? t : h);
      if (rc == PM_EACCES && !t) {
        NTSTATUS s = reopen(h, READ_CONTROL | WRITE_DAC, &t);
        rc = NT_SUCCESS(s) ? inherit_dacl(t) : pmw_fail_nt(s);
      }
    }
  }
  if (t) CloseHandle(t);
  return rc;
}

/* ---- The namespace ---- */

enum { XA_OTHER, XA_ATTRS, XA_SECURITY };

static int which(const char *name) {
  if (!strcmp(name, PMW_XA_ATTRIBUTES)) return XA_ATTRS;
  if (!strcmp(name, PMW_XA_SECURITY)) return XA_SECURITY;
  return XA_OTHER;
}

DWORD pmw_meta_access(const char *name, int op) {
  DWORD sacl = pmw_sacl_enabled() ? ACCESS_SYSTEM_SECURITY : 0;
  switch (name ? which(name) : XA_OTHER) {
  case XA_ATTRS:
    return op == PMW_META_GET ? FILE_READ_ATTRIBUTES
                              : FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES;
  case XA_SECURITY:
    if (op == PMW_META_GET) return READ_CONTROL | sacl;
    if (op == PMW_META_SET)
      return READ_CONTROL | WRITE_DAC | WRITE_OWNER | sacl;
    return READ_CONTROL | WRITE_DAC;
  default:
    return FILE_READ_ATTRIBUTES;
  }
}

int pmw_meta_list(HANDLE h, char *buf, size_t cap, size_t *len) {
  static const char both[] = PMW_XA_ATTRIBUTES "\0" PMW_XA_SECURITY;
  /* The attributes of every entry; the descriptor where its volume
   * keeps one (a FAT source lists none, so none is set or pruned). */
  size_t n = sizeof PMW_XA_ATTRIBUTES;
  if (keeps_acls(h)) n = sizeof both;
  return give(both, n, buf, cap, len);
}

static int get_security(HANDLE h, void *buf, size_t cap, size_t *len) {
  SECURITY_INFORMATION info = SD_PARTS;
  if (pmw_sacl_enabled()) info |= SACL_SECURITY_INFORMATION;
  DWORD need = 0;
  DWORD n = cap > 0x7fffffff ? 0x7fffffff : (DWORD)cap;
  for (;;) {
    BOOL ok = pmw_w32.get_security(h, info, n ? buf : NULL, n, &need);
    if (ok) {
      *len = GetSecurityDescriptorLength(buf);
      return PM_OK;
    }
    DWORD e = GetLastError();
    if (e == ERROR_INSUFFICIENT_BUFFER) {
      *len = need;
      return n == 0 ? PM_OK : own_fail(PM_ERANGE);
    }
    if (e == ERROR_PRIVILEGE_NOT_HELD && (info & SACL_SECURITY_INFORMATION)) {
      info &= ~(SECURITY_INFORMATION)SACL_SECURITY_INFORMATION;
      continue;
    }
    return pmw_fail(e);
  }
}

int pmw_meta_get(HANDLE h, const char *name, void *buf, size_t cap,
                 size_t *len) {
  *len = 0;
  switch (which(name)) {
  case XA_ATTRS: {
    DWORD a = 0;
    int rc = attrs_of(h, &a);
    if (rc) return rc;
    a &= KEEP_ATTRS;
    unsigned char v[4] = {(unsigned char)a, (unsigned char)(a >> 8),
                          (unsigned char)(a >> 16), (unsigned char)(a >> 24)};
    return give(v, sizeof v, buf, cap, len);
  }
  case XA_SECURITY:
    if (!keeps_acls(h)) return own_fail(PM_ENODATA);
    return get_security(h, buf, cap, len);
  default:
    return own_fail(PM_ENODATA);
  }
}

/* What a self-relative descriptor of `len` bytes holds, as the
 * SECURITY_INFORMATION to set it with; 0 with PM_EINVAL recorded when it
 * is not one. */
static int parts_of(const void *val, size_t len, SECURITY_INFORMATION *info) {
  PSECURITY_DESCRIPTOR sd = (PSECURITY_DESCRIPTOR)val;
  SECURITY_DESCRIPTOR_CONTROL ctl;
  DWORD rev;
  if (len < sizeof(SECURITY_DESCRIPTOR_RELATIVE) ||
      !IsValidSecurityDescriptor(sd) ||
      !GetSecurityDescriptorControl(sd, &ctl, &rev) ||
      !(ctl & SE_SELF_RELATIVE) || GetSecurityDescriptorLength(sd) > len)
    return own_fail(PM_EINVAL);
  PSID sid;
  PACL acl;
  BOOL present, defaulted;
  *info = 0;
  if (GetSecurityDescriptorOwner(sd, &sid, &defaulted) && sid)
    *info |= OWNER_SECURITY_INFORMATION;
  if (GetSecurityDescriptorGroup(sd, &sid, &defaulted) && sid)
    *info |= GROUP_SECURITY_INFORMATION;
  if (GetSecurityDescriptorDacl(sd, &present, &acl, &defaulted) && present)
    *info |= DACL_SECURITY_INFORMATION;
  if (pmw_sacl_enabled() &&
      GetSecurityDescriptorSacl(sd, &present, &acl, &defaulted) && present)
    *info |= SACL_SECURITY_INFORMATION;
  return PM_OK;
}

static int set_security(HANDLE h, const void *val, size_t len,
                        bool own_handle_only) {
  SECURITY_INFORMATION info;
  int rc = parts_of(val, len, &info);
  if (rc) return rc;
  /* A volume without descriptors (FAT) holds none: nothing to set, and
   * nothing to say about every file (README, "Windows"). */
  if (!keeps_acls(h)) return PM_OK;
  while (info) {
    if (pmw_w32.set_security(h, info, (PSECURITY_DESCRIPTOR)val))
      return PM_OK;
    DWORD e = GetLastError();
    if (e == ERROR_INVALID_OWNER && (info & OWNER_SECURITY_INFORMATION)) {
      /* Without SeRestorePrivilege only the caller (or a group of its
       * own) may be made owner: the copy keeps the owner it has, and gets
       * the rest. Silently, as README says: the owner is what an
       * administrator without the privilege cannot copy. */
      info &= ~(SECURITY_INFORMATION)OWNER_SECURITY_INFORMATION;
      continue;
    }
    if (e == ERROR_PRIVILEGE_NOT_HELD && (info & SACL_SECURITY_INFORMATION)) {
      info &= ~(SECURITY_INFORMATION)SACL_SECURITY_INFORMATION;
      continue;
    }
    if (e == ERROR_ACCESS_DENIED && own_handle_only &&
        (info & (OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION))) {
      /* A handle opened without WRITE_OWNER (the DACL does not give it and
       * SeRestorePrivilege is not held): owner and group both need it;
       * the DACL is set alone, as for an owner refused above. */
      info &= ~(SECURITY_INFORMATION)(OWNER_SECURITY_INFORMATION |
                                      GROUP_SECURITY_INFORMATION);
      continue;
    }
    return pmw_fail(e);
  }
  return PM_OK;
}

int pmw_meta_set(HANDLE h, const char *name, const void *val, size_t len) {
  switch (which(name)) {
  case XA_ATTRS: {
    if (len != 4) return own_fail(PM_EINVAL);
    const unsigned char *v = val;
    DWORD want = ((DWORD)v[0] | (DWORD)v[1] << 8 | (DWORD)v[2] << 16 |
                  (DWORD)v[3] << 24) & KEEP_ATTRS;
    DWORD a = 0;
    int rc = attrs_of(h, &a);
    if (rc) return rc;
    if ((a & KEEP_ATTRS) == want) return PM_OK;
    return set_attrs(h, want);
  }
  case XA_SECURITY:
    return set_security(h, val, len, false);
  default:
    /* No other name has a place on NTFS (ADS are not carried this way). */
    return own_fail(PM_ENOTSUP);
  }
}

int pmw_meta_set_reduced(HANDLE h, const char *name, const void *val,
                         size_t len) {
  if (which(name) != XA_SECURITY) return pmw_meta_set(h, name, val, len);
  return set_security(h, val, len, true);
}

int pmw_meta_remove(HANDLE h, const char *name) {
  switch (which(name)) {
  case XA_ATTRS: {
    DWORD a = 0;
    int rc = attrs_of(h, &a);
    if (rc) return rc;
    return (a & KEEP_ATTRS) ? set_attrs(h, 0) : PM_OK;
  }
  case XA_SECURITY:
    if (!keeps_acls(h)) return own_fail(PM_ENODATA);
    return inherit_dacl(h);
  default:
    return own_fail(PM_ENODATA);
  }
}
