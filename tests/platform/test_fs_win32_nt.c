/* test_fs_win32_nt.c (Windows only) - what fs_win32.c does with answers
 * only NTFS gives, which Wine cannot: Wine 8 has no reparse points (no
 * junction can be made; FSCTL_GET_REPARSE_POINT says "not a reparse
 * point") and never reports a sparse file. The Win32 calls fs_win32.c
 * takes those answers from (fs_calls.h) are wrapped here, so that chosen
 * entries of a real tree look like a junction, a symbolic link, an HSM
 * file or a sparse file with given allocated ranges, answered as NTFS
 * answers: the reparse attribute and tag in FindFirstFileW's data, the
 * link's REPARSE_DATA_BUFFER from FSCTL_GET_REPARSE_POINT, the sparse
 * attribute from GetFileInformationByHandle (and the reparse attribute,
 * for open's PM_O_NOFOLLOW check), and the ranges from
 * FSCTL_QUERY_ALLOCATED_RANGES, a few per answer (ERROR_MORE_DATA), as a
 * full buffer makes NTFS answer. Checked: readlink's text (a junction's
 * absolute target, a relative and a UNC symbolic link, PM_ERANGE,
 * PM_EINVAL for an HSM file), realpath through a junction and a relative
 * link (and PM_ELOOP for a link to itself), PM_O_NOFOLLOW on a link
 * (PM_ELOOP) and on an HSM file (opened), seek's data and holes, and
 * PM_O_SPARSE's FSCTL_SET_SPARSE (issued before the file is written or
 * extended; its failure on FAT ignored) with stat's blocks from the
 * allocation. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>
#include <winioctl.h>
#include <aclapi.h>
#include <winternl.h>

#include "contract.h"
#include "fs_calls.h"
#include "nt_at.h"
#include "win32.h"
#include "platform.h"
#include "testutil.h"
#include "util.h"

#define TAG_HSM 0xC0000004UL
#define TAG_MOUNT_POINT 0xA0000003UL
#define TAG_SYMLINK 0xA000000CUL

/* An entry of the real tree that looks like a reparse point: found by
 * its volume serial and file index (whatever handle or name reaches it). */
typedef struct fake {
  const char *path; /* for the test's messages */
  DWORD serial, hi, lo;
  ULONG tag;
  const wchar_t *target; /* the substitute name, as stored */
  bool relative;         /* SYMLINK_FLAG_RELATIVE */
} fake;
static fake fakes[8];
static size_t nfakes;

/* The file that looks sparse, and its allocated ranges. */
static DWORD sparse_serial, sparse_hi, sparse_lo;
static bool sparse_set;
static FILE_ALLOCATED_RANGE_BUFFER ranges[16];
static size_t nranges, per_answer = 1;
static unsigned range_queries;

/* FSCTL_SET_SPARSE as the backend issues it: how many calls, the size of
 * the file at the last one (0: nothing written or extended yet), whether
 * it came with an input buffer, and the error to answer (0: the real
 * call, which marks the file on NTFS and does nothing under Wine). */
static unsigned set_sparse_calls;
static uint64_t set_sparse_size;
static DWORD set_sparse_in_len, set_sparse_fail;

static bool identify(HANDLE h, DWORD *serial, DWORD *hi, DWORD *lo) {
  BY_HANDLE_FILE_INFORMATION bi;
  if (!pmw_w32_real.get_file_information(h, &bi)) return false;
  *serial = bi.dwVolumeSerialNumber;
  *hi = bi.nFileIndexHigh;
  *lo = bi.nFileIndexLow;
  return true;
}

static const fake *fake_of(HANDLE h) {
  DWORD s, hi, lo;
  if (!identify(h, &s, &hi, &lo)) return NULL;
  for (size_t i = 0; i < nfakes; i++)
    if (fakes[i].serial == s && fakes[i].hi == hi && fakes[i].lo == lo)
      return &fakes[i];
  return NULL;
}

static bool is_sparse(HANDLE h) {
  DWORD s, hi, lo;
  return sparse_set && identify(h, &s, &hi, &lo) && s == sparse_serial &&
         hi == sparse_hi && lo == sparse_lo;
}

static wchar_t *wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  wchar_t *w = ct_alloc((size_t)n * sizeof *w);
  MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
  for (wchar_t *c = w; *c; c++)
    if (*c == L'/') *c = L'\\';
  return w;
}

/* Makes the real entry at path look like a reparse point. */
static void fake_add(const char *path, ULONG tag, const wchar_t *target,
                     bool relative) {
  assert_true(nfakes < sizeof fakes / sizeof fakes[0]);
  HANDLE h = CreateFileW(wide(path), FILE_READ_ATTRIBUTES, 7, NULL,
                         OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
  assert_true(h != INVALID_HANDLE_VALUE);
  fake *f = &fakes[nfakes++];
  assert_true(identify(h, &f->serial, &f->hi, &f->lo));
  CloseHandle(h);
  f->path = path;
  f->tag = tag;
  f->target = target;
  f->relative = relative;
}

/* The answer NTFS gives: returned at once, the count in the OVERLAPPED
 * (the call's status block) as well as in *got. */
static BOOL answer(LPOVERLAPPED ov, LPDWORD got, DWORD n, DWORD err) {
  if (got) *got = n;
  if (ov) {
    ov->Internal = err ? 0x80000005L /* STATUS_BUFFER_OVERFLOW */ : 0;
    ov->InternalHigh = n;
  }
  SetLastError(err);
  return err == 0;
}

static BOOL WINAPI fake_ioctl(HANDLE h, DWORD code, LPVOID in, DWORD in_len,
                              LPVOID out, DWORD out_len, LPDWORD got,
                              LPOVERLAPPED ov) {
  if (code == FSCTL_GET_REPARSE_POINT) {
    const fake *f = fake_of(h);
    if (f) {
      /* REPARSE_DATA_BUFFER: tag, length, reserved, then the names'
       * offsets and lengths, (a symlink's flags,) and the names. */
      unsigned char *o = out;
      size_t n = wcslen(f->target) * sizeof(wchar_t);
      bool sym = f->tag == TAG_SYMLINK;
      size_t head = 8 + 8 + (sym ? 4 : 0);
      if (f->tag == TAG_HSM) {
        memset(o, 0, 8);
        memcpy(o, &f->tag, 4);
        return answer(ov, got, 8, 0);
      }
      assert_true(head + 2 * n + 4 <= out_len);
      memset(o, 0, head);
      memcpy(o, &f->tag, 4);
      WORD data_len = (WORD)(head - 8 + 2 * n + 4);
      memcpy(o + 4, &data_len, 2);
      WORD sub_off = 0, sub_len = (WORD)n, print_off = (WORD)(n + 2),
           print_len = (WORD)n;
      memcpy(o + 8, &sub_off, 2);
      memcpy(o + 10, &sub_len, 2);
      memcpy(o + 12, &print_off, 2);
      memcpy(o + 14, &print_len, 2);
      if (sym) {
        ULONG flags = f->relative ? 1 : 0;
        memcpy(o + 16, &flags, 4);
      }
      memcpy(o + head, f->target, n);
      memset(o + head + n, 0, 2);
      memcpy(o + head + n + 2, f->target, n);
      memset(o + head + 2 * n + 2, 0, 2);
      return answer(ov, got, (DWORD)(head + 2 * n + 4), 0);
    }
  }
  if (code == FSCTL_SET_SPARSE) {
    BY_HANDLE_FILE_INFORMATION bi;
    assert_true(pmw_w32_real.get_file_information(h, &bi));
    set_sparse_calls++;
    set_sparse_size = ((uint64_t)bi.nFileSizeHigh << 32) | bi.nFileSizeLow;
    set_sparse_in_len = in_len;
    if (set_sparse_fail) return answer(NULL, got, 0, set_sparse_fail);
  }
  if (code == FSCTL_QUERY_ALLOCATED_RANGES && is_sparse(h)) {
    range_queries++;
    const FILE_ALLOCATED_RANGE_BUFFER *q = in;
    assert_int_equal(in_len, sizeof *q);
    uint64_t from = (uint64_t)q->FileOffset.QuadPart;
    uint64_t to = from + (uint64_t)q->Length.QuadPart;
    FILE_ALLOCATED_RANGE_BUFFER *r = out;
    size_t cap = out_len / sizeof *r, k = 0;
    if (cap > per_answer) cap = per_answer;
    for (size_t i = 0; i < nranges; i++) {
      uint64_t s = (uint64_t)ranges[i].FileOffset.QuadPart;
      uint64_t e = s + (uint64_t)ranges[i].Length.QuadPart;
      if (e <= from || s >= to) continue;
      if (k == cap)
        return answer(ov, got, (DWORD)(k * sizeof *r), ERROR_MORE_DATA);
      /* NTFS clips the ranges to the query. */
      r[k].FileOffset.QuadPart = (LONGLONG)(s > from ? s : from);
      r[k].Length.QuadPart = (LONGLONG)((e < to ? e : to) -
                                        (uint64_t)r[k].FileOffset.QuadPart);
      k++;
    }
    return answer(ov, got, (DWORD)(k * sizeof *r), 0);
  }
  return pmw_w32_real.device_io_control(h, code, in, in_len, out, out_len, got,
                                        ov);
}

static HANDLE WINAPI fake_find(LPCWSTR path, LPWIN32_FIND_DATAW fd) {
  HANDLE f = pmw_w32_real.find_first_file(path, fd);
  if (f == INVALID_HANDLE_VALUE) return f;
  HANDLE h = CreateFileW(path, FILE_READ_ATTRIBUTES, 7, NULL, OPEN_EXISTING,
                         FILE_FLAG_BACKUP_SEMANTICS, NULL);
  if (h != INVALID_HANDLE_VALUE) {
    const fake *k = fake_of(h);
    if (k) {
      fd->dwFileAttributes |= FILE_ATTRIBUTE_REPARSE_POINT;
      fd->dwReserved0 = k->tag;
    }
    CloseHandle(h);
  }
  return f;
}

static BOOL WINAPI fake_info(HANDLE h, LPBY_HANDLE_FILE_INFORMATION bi) {
  if (!pmw_w32_real.get_file_information(h, bi)) return FALSE;
  if (is_sparse(h)) bi->dwFileAttributes |= FILE_ATTRIBUTE_SPARSE_FILE;
  if (fake_of(h)) bi->dwFileAttributes |= FILE_ATTRIBUTE_REPARSE_POINT;
  return TRUE;
}


/* ---- Security descriptors as NTFS keeps them ----
 * Wine makes a descriptor up from the Unix mode and stores none, so the
 * files of these cases keep theirs here, by identity: the owner, group
 * and DACL (with its protected bit) last set, composed into a
 * self-relative descriptor as NTFS answers GetKernelObjectSecurity. */
typedef struct sdrec {
  DWORD serial, hi, lo;
  BYTE owner[SECURITY_MAX_SID_SIZE], group[SECURITY_MAX_SID_SIZE];
  bool has_owner, has_group, has_dacl, dacl_null;
  BYTE dacl[512];
  SECURITY_DESCRIPTOR_CONTROL protect;
} sdrec;
static sdrec sdrecs[16];
static size_t nsdrecs;
static bool refuse_owner;   /* no SeRestorePrivilege: only `own` may own */
static BYTE own_sid[SECURITY_MAX_SID_SIZE];
static bool fat_volume;     /* FILE_PERSISTENT_ACLS not set */
static bool deny_write_owner; /* no open gets WRITE_OWNER */
static PVOID create_sd;       /* the descriptor of the last creation */
static ACCESS_MASK create_access; /* the access the last open asked for */
static ACCESS_MASK refuse_access; /* opens asking for any of it fail */
static unsigned refused_opens;
static unsigned sd_sets, sd_inherits;

static sdrec *sdrec_of(HANDLE h, bool make) {
  DWORD s, hi, lo;
  if (!identify(h, &s, &hi, &lo)) return NULL;
  for (size_t i = 0; i < nsdrecs; i++)
    if (sdrecs[i].serial == s && sdrecs[i].hi == hi && sdrecs[i].lo == lo)
      return &sdrecs[i];
  if (!make || nsdrecs == sizeof sdrecs / sizeof sdrecs[0]) return NULL;
  sdrec *r = &sdrecs[nsdrecs++];
  memset(r, 0, sizeof *r);
  r->serial = s;
  r->hi = hi;
  r->lo = lo;
  return r;
}

static BOOL WINAPI fake_get_sec(HANDLE h, SECURITY_INFORMATION info,
                                PSECURITY_DESCRIPTOR out, DWORD len,
                                LPDWORD need) {
  sdrec *r = sdrec_of(h, false);
  if (!r) return pmw_w32_real.get_security(h, info, out, len, need);
  SECURITY_DESCRIPTOR abs;
  InitializeSecurityDescriptor(&abs, SECURITY_DESCRIPTOR_REVISION);
  if ((info & OWNER_SECURITY_INFORMATION) && r->has_owner)
    SetSecurityDescriptorOwner(&abs, r->owner, FALSE);
  if ((info & GROUP_SECURITY_INFORMATION) && r->has_group)
    SetSecurityDescriptorGroup(&abs, r->group, FALSE);
  if ((info & DACL_SECURITY_INFORMATION) && r->has_dacl) {
    SetSecurityDescriptorDacl(&abs, TRUE, r->dacl_null ? NULL : (PACL)r->dacl,
                              FALSE);
    SetSecurityDescriptorControl(&abs, SE_DACL_PROTECTED, r->protect);
  }
  DWORD n = len;
  if (MakeSelfRelativeSD(&abs, out, &n)) {
    *need = n;
    return TRUE;
  }
  *need = n;
  SetLastError(ERROR_INSUFFICIENT_BUFFER);
  return FALSE;
}

static void keep_dacl(sdrec *r, PSECURITY_DESCRIPTOR sd) {
  BOOL present, defaulted;
  PACL acl = NULL;
  SECURITY_DESCRIPTOR_CONTROL ctl;
  DWORD rev;
  GetSecurityDescriptorDacl(sd, &present, &acl, &defaulted);
  GetSecurityDescriptorControl(sd, &ctl, &rev);
  r->has_dacl = true;
  r->dacl_null = acl == NULL;
  if (acl) memcpy(r->dacl, acl, acl->AclSize);
  r->protect = ctl & SE_DACL_PROTECTED;
}

static BOOL WINAPI fake_set_sec(HANDLE h, SECURITY_INFORMATION info,
                                PSECURITY_DESCRIPTOR sd) {
  sdrec *r = sdrec_of(h, true);
  if (!r) return FALSE;
  PSID sid;
  BOOL defaulted;
  if (info & OWNER_SECURITY_INFORMATION) {
    GetSecurityDescriptorOwner(sd, &sid, &defaulted);
    if (refuse_owner && !EqualSid(sid, own_sid)) {
      SetLastError(ERROR_INVALID_OWNER);
      return FALSE;
    }
  }
  if (deny_write_owner &&
      (info & (OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION))) {
    SetLastError(ERROR_ACCESS_DENIED);
    return FALSE;
  }
  sd_sets++;
  if (info & OWNER_SECURITY_INFORMATION) {
    CopySid(sizeof r->owner, r->owner, sid);
    r->has_owner = true;
  }
  if (info & GROUP_SECURITY_INFORMATION) {
    GetSecurityDescriptorGroup(sd, &sid, &defaulted);
    CopySid(sizeof r->group, r->group, sid);
    r->has_group = true;
  }
  if (info & DACL_SECURITY_INFORMATION) keep_dacl(r, sd);
  return TRUE;
}

/* What the parent passes down, as Windows 2000 gives it to a DACL that
 * stops being protected: here one inherited ACE, Everyone read. */
static DWORD WINAPI fake_set_sec_info(HANDLE h, SE_OBJECT_TYPE type,
                                      SECURITY_INFORMATION info, PSID owner,
                                      PSID group, PACL dacl, PACL sacl) {
  (void)owner;
  (void)group;
  (void)sacl;
  sdrec *r = sdrec_of(h, true);
  if (!r || type != SE_FILE_OBJECT || !dacl || dacl->AceCount != 0 ||
      info != (DACL_SECURITY_INFORMATION |
               UNPROTECTED_DACL_SECURITY_INFORMATION))
    return ERROR_INVALID_PARAMETER;
  sd_inherits++;
  SID_IDENTIFIER_AUTHORITY world = {SECURITY_WORLD_SID_AUTHORITY};
  PSID ev;
  AllocateAndInitializeSid(&world, 1, SECURITY_WORLD_RID, 0, 0, 0, 0, 0, 0, 0,
                           &ev);
  PACL acl = (PACL)r->dacl;
  InitializeAcl(acl, sizeof r->dacl, ACL_REVISION);
  AddAccessAllowedAceEx(acl, ACL_REVISION, INHERITED_ACE, FILE_GENERIC_READ,
                        ev);
  FreeSid(ev);
  r->has_dacl = true;
  r->dacl_null = false;
  r->protect = 0;
  return ERROR_SUCCESS;
}

static NTSTATUS NTAPI fake_create(PHANDLE out, ACCESS_MASK access,
                                  POBJECT_ATTRIBUTES oa, PIO_STATUS_BLOCK io,
                                  PLARGE_INTEGER alloc, ULONG attrs,
                                  ULONG share, ULONG disp, ULONG opts,
                                  PVOID ea, ULONG ea_len) {
  if (deny_write_owner && (access & WRITE_OWNER))
    return (NTSTATUS)0xC0000022L; /* STATUS_ACCESS_DENIED */
  if (disp != FILE_OPEN) create_sd = oa->SecurityDescriptor;
  create_access = access;
  if (access & refuse_access) {
    refused_opens++;
    return (NTSTATUS)0xC0000061L; /* STATUS_PRIVILEGE_NOT_HELD */
  }
  return pmw_nt_real.create_file(out, access, oa, io, alloc, attrs, share,
                                 disp, opts, ea, ea_len);
}

static NTSTATUS NTAPI fake_volume(HANDLE h, PIO_STATUS_BLOCK io, PVOID buf,
                                  ULONG len, FS_INFORMATION_CLASS cls) {
  NTSTATUS s = pmw_w32_real.query_volume(h, io, buf, len, cls);
  if (fat_volume && cls == FileFsAttributeInformation && s >= 0)
    *(ULONG *)buf &= ~(ULONG)FILE_PERSISTENT_ACLS;
  return s;
}

static int setup(void **state) {
  (void)state;
  nfakes = 0;
  sparse_set = false;
  nranges = 0;
  per_answer = 1;
  range_queries = 0;
  set_sparse_calls = 0;
  set_sparse_size = 0;
  set_sparse_in_len = 0;
  set_sparse_fail = 0;
  pmw_w32.device_io_control = fake_ioctl;
  pmw_w32.find_first_file = fake_find;
  pmw_w32.get_file_information = fake_info;
  nsdrecs = 0;
  refuse_owner = fat_volume = false;
  sd_sets = sd_inherits = 0;
  pmw_w32.get_security = fake_get_sec;
  pmw_w32.set_security = fake_set_sec;
  pmw_w32.set_security_info = fake_set_sec_info;
  pmw_w32.query_volume = fake_volume;
  deny_write_owner = false;
  refuse_access = 0;
  refused_opens = 0;
  pmw_nt.create_file = fake_create;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  pmw_w32 = pmw_w32_real;
  pmw_nt = pmw_nt_real;
  ct_strings_free();
  tu_cleanup();
  return 0;
}

static const pm_fs *make_dir(const char *path) {
  const pm_fs *fs = pm_fs_native();
  assert_int_equal(pm_fs_mkdir(fs, path, 0755), 0);
  return fs;
}

static char *real_of(const pm_fs *fs, const char *path) {
  char *buf = ct_alloc(4096);
  assert_int_equal(pm_fs_realpath(fs, path, buf, 4096), 0);
  return buf;
}

/* The NT form of a UTF-8 path realpath gave: "\??\C:\...". */
static wchar_t *nt_of(const char *real) {
  return wide(ct_str("\\??\\%s", real));
}

static void test_fs_win32_nt_readlink(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  const pm_fs *fs = make_dir(ct_str("%s/target", dir));
  char *j = ct_str("%s/j", dir), *rel = ct_str("%s/rel", dir);
  char *unc = ct_str("%s/unc", dir), *hsm = ct_str("%s/hsm", dir);
  make_dir(j);
  make_dir(rel);
  make_dir(unc);
  tu_write_text(hsm, "migrated");
  char *target = real_of(fs, ct_str("%s/target", dir));
  fake_add(j, TAG_MOUNT_POINT, nt_of(target), false);
  fake_add(rel, TAG_SYMLINK, L"..\\up\\x y", true);
  fake_add(unc, TAG_SYMLINK, L"\\??\\UNC\\srv\\share\\d", false);
  fake_add(hsm, TAG_HSM, L"", false);

  char buf[4096];
  size_t len = 0;
  assert_int_equal(pm_fs_readlink(fs, j, buf, sizeof buf, &len), 0);
  assert_string_equal(buf, target);
  assert_int_equal(len, strlen(target));
  assert_int_equal(pm_fs_readlink(fs, rel, buf, sizeof buf, &len), 0);
  assert_string_equal(buf, "../up/x y");
  assert_int_equal(pm_fs_readlink(fs, unc, buf, sizeof buf, &len), 0);
  assert_string_equal(buf, "//srv/share/d");
  /* Room for the target and its NUL, or PM_ERANGE with no stale code. */
  pm_oserr_set(4242);
  assert_int_equal(pm_fs_readlink(fs, unc, buf, strlen("//srv/share/d"), &len),
                   PM_ERANGE);
  assert_int_equal(pm_oserr_last(), 0);
  assert_int_equal(pm_fs_readlink(fs, unc, buf, strlen("//srv/share/d") + 1, &len),
                   0);
  /* A reparse point that is no link (an HSM file) is a file. */
  assert_int_equal(pm_fs_readlink(fs, hsm, buf, sizeof buf, &len), PM_EINVAL);
  assert_int_equal(pm_fs_readlink(fs, ct_str("%s/target", dir), buf, sizeof buf,
                                &len),
                   PM_EINVAL);

  /* PM_O_NOFOLLOW refuses a link, and opens an HSM file, whose data is
   * read as Windows presents it. */
  pm_fd fd;
  pm_oserr_set(4242);
  assert_int_equal(pm_fs_open(fs, j, PM_O_RDONLY | PM_O_NOFOLLOW, 0, &fd), PM_ELOOP);
  assert_int_equal(pm_oserr_last(), 0);
  assert_int_equal(pm_fs_open(fs, unc, PM_O_RDONLY | PM_O_NOFOLLOW |
                                     PM_O_DIRECTORY, 0, &fd),
                   PM_ELOOP);
  assert_int_equal(pm_fs_open(fs, hsm, PM_O_RDONLY | PM_O_NOFOLLOW, 0, &fd), 0);
  assert_int_equal(pm_fs_pread(fs, fd, buf, sizeof buf, 0), 8);
  assert_memory_equal(buf, "migrated", 8);
  assert_int_equal(pm_fs_close(fs, fd), 0);
}

static void test_fs_win32_nt_realpath(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  const pm_fs *fs = make_dir(ct_str("%s/target", dir));
  make_dir(ct_str("%s/target/sub", dir));
  tu_write_text(ct_str("%s/target/sub/f", dir), "f");
  char *j = ct_str("%s/j", dir), *rel = ct_str("%s/rel", dir);
  char *loop = ct_str("%s/loop", dir);
  make_dir(j);
  make_dir(rel);
  make_dir(loop);
  /* The names the fakes' directories hold exist in the real tree too, so
   * that a realpath that did not follow the link would find them. */
  make_dir(ct_str("%s/j/sub", dir));
  tu_write_text(ct_str("%s/j/sub/f", dir), "not the target");
  char *target = real_of(fs, ct_str("%s/target", dir));
  char *want = real_of(fs, ct_str("%s/target/sub/f", dir));
  fake_add(j, TAG_MOUNT_POINT, nt_of(target), false);
  fake_add(rel, TAG_SYMLINK, L"target", true);
  fake_add(loop, TAG_MOUNT_POINT, nt_of(real_of(fs, loop)), false);

  char buf[4096];
  assert_int_equal(pm_fs_realpath(fs, ct_str("%s/j/sub/f", dir), buf, sizeof buf),
                   0);
  assert_string_equal(buf, want);
  assert_int_equal(pm_fs_realpath(fs, ct_str("%s/rel/sub/f", dir), buf, sizeof buf),
                   0);
  assert_string_equal(buf, want);
  assert_int_equal(pm_fs_realpath(fs, j, buf, sizeof buf), 0);
  assert_string_equal(buf, target);
  /* The spelling the directory holds, through the link too. */
  assert_int_equal(pm_fs_realpath(fs, ct_str("%s/J/SUB/F", dir), buf, sizeof buf),
                   0);
  assert_string_equal(buf, want);
  pm_oserr_set(4242);
  assert_int_equal(pm_fs_realpath(fs, ct_str("%s/x", loop), buf, sizeof buf),
                   PM_ELOOP);
  assert_int_equal(pm_oserr_last(), 0);
}

static void test_fs_win32_nt_sparse_seek(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  const pm_fs *fs = pm_fs_native();
  const uint64_t K = 1024, M = K * K, size = 8 * M;
  char *p = ct_str("%s/sparse", dir);
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, p, PM_O_RDWR | PM_O_CREAT | PM_O_EXCL, 0644, &fd),
                   0);
  assert_int_equal(pm_fs_ftruncate(fs, fd, size), 0);
  /* Not sparse yet: all data, the hole is the end, and no range is
   * asked for. */
  assert_int_equal(pm_fs_seek(fs, fd, 100, false), 100);
  assert_int_equal(pm_fs_seek(fs, fd, 100, true), (int64_t)size);
  assert_int_equal(range_queries, 0);

  HANDLE h = (HANDLE)fd;
  assert_true(identify(h, &sparse_serial, &sparse_hi, &sparse_lo));
  sparse_set = true;
  /* Three runs of data, the first in three pieces: one answer holds one
   * range, so finding the first hole takes several questions. */
  const uint64_t runs[][2] = {{0, 64 * K},       {64 * K, 64 * K},
                              {128 * K, 64 * K}, {4 * M, 64 * K},
                              {6 * M, 4 * K}};
  nranges = sizeof runs / sizeof runs[0];
  for (size_t i = 0; i < nranges; i++) {
    ranges[i].FileOffset.QuadPart = (LONGLONG)runs[i][0];
    ranges[i].Length.QuadPart = (LONGLONG)runs[i][1];
  }
  assert_int_equal(pm_fs_seek(fs, fd, 0, false), 0);
  assert_int_equal(pm_fs_seek(fs, fd, 0, true), (int64_t)(192 * K));
  assert_true(range_queries >= 3);
  assert_int_equal(pm_fs_seek(fs, fd, 100 * K, false), (int64_t)(100 * K));
  assert_int_equal(pm_fs_seek(fs, fd, 192 * K, false), (int64_t)(4 * M));
  assert_int_equal(pm_fs_seek(fs, fd, 192 * K, true), (int64_t)(192 * K));
  assert_int_equal(pm_fs_seek(fs, fd, 4 * M, true), (int64_t)(4 * M + 64 * K));
  assert_int_equal(pm_fs_seek(fs, fd, 4 * M + 64 * K, false), (int64_t)(6 * M));
  /* The trailing hole: no data follows, the hole is where it starts. */
  assert_int_equal(pm_fs_seek(fs, fd, 6 * M + 4 * K, false), PM_ENXIO);
  assert_int_equal(pm_fs_seek(fs, fd, 7 * M, true), (int64_t)(7 * M));
  assert_int_equal(pm_fs_seek(fs, fd, size, false), PM_ENXIO);
  assert_int_equal(pm_fs_seek(fs, fd, size, true), PM_ENXIO);
  /* Many ranges to an answer: the same results. */
  per_answer = 64;
  assert_int_equal(pm_fs_seek(fs, fd, 0, true), (int64_t)(192 * K));
  assert_int_equal(pm_fs_seek(fs, fd, 192 * K, false), (int64_t)(4 * M));
  /* Data to the end: the hole is the end. */
  ranges[nranges].FileOffset.QuadPart = (LONGLONG)(7 * M);
  ranges[nranges].Length.QuadPart = (LONGLONG)M;
  nranges++;
  assert_int_equal(pm_fs_seek(fs, fd, 7 * M, true), (int64_t)size);
  assert_int_equal(pm_fs_seek(fs, fd, 6 * M + 8 * K, false), (int64_t)(7 * M));
  assert_int_equal(pm_fs_close(fs, fd), 0);
}


/* Writes n bytes of 'x' at off. */
static void put(const pm_fs *fs, pm_fd fd, uint64_t off, size_t n) {
  char *b = ct_alloc(n);
  memset(b, 'x', n);
  assert_int_equal(pm_fs_pwrite(fs, fd, b, n, off), (int64_t)n);
}

/* PM_O_SPARSE: an open for writing marks the file sparse before it
 * returns, so before any write or extension (the size at the call is 0),
 * with no input buffer (Windows 2000 knows no FILE_SET_SPARSE_BUFFER),
 * through open and open_at, after O_TRUNC's truncation; a read-only open
 * and an open without the flag do not; a volume that refuses (FAT's
 * ERROR_INVALID_FUNCTION) still gives the file. And stat: a file with
 * holes shows fewer 512-byte blocks than its size (NTFS: the sparse
 * file's allocation; Wine: the Unix file's st_blocks). */
static void test_fs_win32_nt_sparse_create(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  const pm_fs *fs = pm_fs_native();
  const uint64_t K = 1024, M = K * K;
  char *p = ct_str("%s/holes", dir);
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, p,
                              PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL |
                                  PM_O_SPARSE,
                              0644, &fd),
                   0);
  assert_int_equal(set_sparse_calls, 1);
  assert_int_equal(set_sparse_size, 0);
  assert_int_equal(set_sparse_in_len, 0);
  put(fs, fd, 0, 64 * K);
  put(fs, fd, 4 * M, 64 * K);
  assert_int_equal(pm_fs_ftruncate(fs, fd, 8 * M), 0);
  pm_stat st;
  assert_int_equal(pm_fs_fstat(fs, fd, &st), 0);
  assert_int_equal(st.size, 8 * M);
  if (st.blocks512 * 512 >= st.size) {
    print_error("blocks512 %llu of a file of %llu bytes with holes\n",
                (unsigned long long)st.blocks512,
                (unsigned long long)st.size);
    fail();
  }
  assert_true(st.blocks512 * 512 >= 128 * K);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  assert_int_equal(set_sparse_calls, 1);
  /* The same through stat by path. */
  assert_int_equal(pm_fs_stat(fs, p, true, &st), 0);
  assert_true(st.blocks512 * 512 < st.size);

  /* Without the flag, or read-only: no call. */
  char *q = ct_str("%s/plain", dir);
  assert_int_equal(pm_fs_open(fs, q, PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL,
                              0644, &fd),
                   0);
  put(fs, fd, 0, 4 * K);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  assert_int_equal(pm_fs_open(fs, q, PM_O_RDONLY | PM_O_SPARSE, 0, &fd), 0);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  assert_int_equal(set_sparse_calls, 1);
  /* A small file allocated to its end is not taken for one with holes. */
  assert_int_equal(pm_fs_stat(fs, q, true, &st), 0);
  assert_true(st.blocks512 * 512 >= st.size);

  /* O_TRUNC of a file with data: marked once it is empty. */
  assert_int_equal(pm_fs_open(fs, q, PM_O_WRONLY | PM_O_TRUNC | PM_O_SPARSE,
                              0, &fd),
                   0);
  assert_int_equal(set_sparse_calls, 2);
  assert_int_equal(set_sparse_size, 0);
  assert_int_equal(pm_fs_close(fs, fd), 0);

  /* open_at, as the copy engine opens a copy: created, and truncated. */
  pm_fd d;
  assert_int_equal(pm_fs_open(fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &d),
                   0);
  pm_fd f;
  assert_int_equal(pm_fs_open_at(fs, d, "at",
                                 PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL |
                                     PM_O_NOFOLLOW | PM_O_SPARSE,
                                 0600, &f),
                   0);
  assert_int_equal(set_sparse_calls, 3);
  assert_int_equal(set_sparse_size, 0);
  put(fs, f, 2 * M, 4 * K);
  assert_int_equal(pm_fs_close(fs, f), 0);
  assert_int_equal(pm_fs_open_at(fs, d, "at",
                                 PM_O_WRONLY | PM_O_TRUNC | PM_O_CREAT |
                                     PM_O_NOFOLLOW | PM_O_SPARSE,
                                 0600, &f),
                   0);
  assert_int_equal(set_sparse_calls, 4);
  assert_int_equal(set_sparse_size, 0);
  assert_int_equal(pm_fs_close(fs, f), 0);
  assert_int_equal(pm_fs_open_at(fs, d, "at", PM_O_RDONLY | PM_O_SPARSE, 0,
                                 &f),
                   0);
  assert_int_equal(pm_fs_close(fs, f), 0);
  assert_int_equal(set_sparse_calls, 4);

  /* A volume without sparse files: the file is opened all the same and
   * takes its data (its holes are then allocated). */
  set_sparse_fail = ERROR_INVALID_FUNCTION;
  assert_int_equal(pm_fs_open_at(fs, d, "fat",
                                 PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL |
                                     PM_O_NOFOLLOW | PM_O_SPARSE,
                                 0600, &f),
                   0);
  assert_int_equal(set_sparse_calls, 5);
  put(fs, f, M, 4 * K);
  assert_int_equal(pm_fs_ftruncate(fs, f, 2 * M), 0);
  assert_int_equal(pm_fs_close(fs, f), 0);
  assert_int_equal(pm_fs_open(fs, ct_str("%s/fat2", dir),
                              PM_O_RDWR | PM_O_CREAT | PM_O_SPARSE, 0644,
                              &fd),
                   0);
  assert_int_equal(set_sparse_calls, 6);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  assert_int_equal(pm_fs_close(fs, d), 0);
}

/* A descriptor for the cases: owner, group, a protected DACL of two
 * ACEs; self-relative, in a ct_alloc'd buffer. */
static PSID well_known(BYTE auth, DWORD a, DWORD b, BYTE n) {
  SID_IDENTIFIER_AUTHORITY ia = {{0, 0, 0, 0, 0, auth}};
  PSID sid;
  assert_true(AllocateAndInitializeSid(&ia, n, a, b, 0, 0, 0, 0, 0, 0, &sid));
  return sid;
}

static void *make_sd(PSID owner, PSID group, size_t *len) {
  static BYTE aclbuf[256];
  PACL acl = (PACL)aclbuf;
  assert_true(InitializeAcl(acl, sizeof aclbuf, ACL_REVISION));
  assert_true(AddAccessAllowedAce(acl, ACL_REVISION, FILE_ALL_ACCESS, owner));
  assert_true(AddAccessAllowedAce(acl, ACL_REVISION, FILE_GENERIC_READ, group));
  SECURITY_DESCRIPTOR abs;
  assert_true(InitializeSecurityDescriptor(&abs, SECURITY_DESCRIPTOR_REVISION));
  assert_true(SetSecurityDescriptorOwner(&abs, owner, FALSE));
  assert_true(SetSecurityDescriptorGroup(&abs, group, FALSE));
  assert_true(SetSecurityDescriptorDacl(&abs, TRUE, acl, FALSE));
  assert_true(SetSecurityDescriptorControl(&abs, SE_DACL_PROTECTED,
                                           SE_DACL_PROTECTED));
  DWORD n = 0;
  MakeSelfRelativeSD(&abs, NULL, &n);
  void *out = ct_alloc(n);
  assert_true(MakeSelfRelativeSD(&abs, out, &n));
  *len = n;
  return out;
}

static void *get_sd(const pm_fs *fs, const char *path, size_t *len) {
  size_t need = 0;
  assert_int_equal(pm_fs_xattr_get(fs, path, true, "win32.security", NULL, 0,
                                 &need), 0);
  void *sd = ct_alloc(need);
  assert_int_equal(pm_fs_xattr_get(fs, path, true, "win32.security", sd, need,
                                 len), 0);
  return sd;
}

static HANDLE open_h(const char *path, pm_fd *fd) {
  assert_int_equal(pm_fs_open(pm_fs_native(), path, PM_O_RDONLY, 0, fd), 0);
  return (HANDLE)*fd;
}

/* win32.security copies owner, group and DACL (its protected bit too)
 * from one file to another, byte for byte; without SeRestorePrivilege an
 * owner other than the caller is left out silently and the rest is set. */
static void test_fs_win32_nt_security(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  const pm_fs *fs = pm_fs_native();
  char *a = ct_str("%s/a", dir), *b = ct_str("%s/b", dir),
       *c = ct_str("%s/c", dir);
  pm_fd fd;
  const char *files[] = {a, b, c};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(pm_fs_open(fs, files[i], PM_O_WRONLY | PM_O_CREAT, 0644, &fd),
                     0);
    assert_int_equal(pm_fs_close(fs, fd), 0);
  }
  PSID users = well_known(5, SECURITY_BUILTIN_DOMAIN_RID,
                          DOMAIN_ALIAS_RID_USERS, 2);
  PSID admins = well_known(5, SECURITY_BUILTIN_DOMAIN_RID,
                           DOMAIN_ALIAS_RID_ADMINS, 2);
  PSID system = well_known(5, SECURITY_LOCAL_SYSTEM_RID, 0, 1);
  size_t slen;
  void *src = make_sd(users, system, &slen);
  /* NTFS holds a's descriptor. */
  assert_true(fake_set_sec(open_h(a, &fd), OWNER_SECURITY_INFORMATION |
                                             GROUP_SECURITY_INFORMATION |
                                             DACL_SECURITY_INFORMATION,
                           src));
  pm_fs_close(fs, fd);
  size_t alen;
  void *got = get_sd(fs, a, &alen);
  assert_int_equal(alen, slen);
  assert_memory_equal(got, src, slen);

  /* Copied to b through the slot beneath a handle. */
  pm_fd d;
  assert_int_equal(pm_fs_open(fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &d), 0);
  assert_int_equal(pm_fs_xattr_set_at(fs, d, "b", "win32.security", got, alen), 0);
  size_t blen;
  void *bsd = get_sd(fs, b, &blen);
  assert_int_equal(blen, slen);
  assert_memory_equal(bsd, src, slen);

  /* No SeRestorePrivilege: Users may not be made c's owner; the set
   * still succeeds and gives the group and the DACL. */
  refuse_owner = true;
  CopySid(sizeof own_sid, own_sid, admins);
  void *before = make_sd(admins, admins, &blen);
  assert_true(fake_set_sec(open_h(c, &fd), OWNER_SECURITY_INFORMATION |
                                             GROUP_SECURITY_INFORMATION |
                                             DACL_SECURITY_INFORMATION,
                           before));
  pm_fs_close(fs, fd);
  assert_int_equal(pm_fs_xattr_set_at(fs, d, "c", "win32.security", got, alen), 0);
  size_t clen;
  void *csd = get_sd(fs, c, &clen);
  PSID o, g;
  BOOL def, present;
  PACL cacl, sacl_;
  assert_true(GetSecurityDescriptorOwner(csd, &o, &def));
  assert_true(EqualSid(o, admins));
  assert_true(GetSecurityDescriptorGroup(csd, &g, &def));
  assert_true(EqualSid(g, system));
  assert_true(GetSecurityDescriptorDacl(csd, &present, &cacl, &def));
  assert_true(GetSecurityDescriptorDacl(src, &present, &sacl_, &def));
  assert_int_equal(cacl->AclSize, sacl_->AclSize);
  assert_memory_equal(cacl, sacl_, sacl_->AclSize);
  /* No open gets WRITE_OWNER (the DACL does not give it, and no
   * SeRestorePrivilege): owner and group stay, the DACL is set. */
  refuse_owner = false;
  assert_true(fake_set_sec(open_h(c, &fd), OWNER_SECURITY_INFORMATION |
                                             GROUP_SECURITY_INFORMATION |
                                             DACL_SECURITY_INFORMATION,
                           before));
  pm_fs_close(fs, fd);
  deny_write_owner = true;
  assert_int_equal(pm_fs_xattr_set_at(fs, d, "c", "win32.security", got, alen), 0);
  csd = get_sd(fs, c, &clen);
  assert_true(GetSecurityDescriptorOwner(csd, &o, &def));
  assert_true(EqualSid(o, admins));
  assert_true(GetSecurityDescriptorGroup(csd, &g, &def));
  assert_true(EqualSid(g, admins));
  assert_true(GetSecurityDescriptorDacl(csd, &present, &cacl, &def));
  assert_memory_equal(cacl, sacl_, sacl_->AclSize);
  deny_write_owner = false;
  /* Not a descriptor: refused before anything is set. */
  unsigned sets = sd_sets;
  assert_int_equal(pm_fs_xattr_set_at(fs, d, "c", "win32.security", "junk!", 5),
                   PM_EINVAL);
  assert_int_equal(sd_sets, sets);
  assert_int_equal(pm_fs_close(fs, d), 0);
  FreeSid(users);
  FreeSid(admins);
  FreeSid(system);
}

/* A volume without FILE_PERSISTENT_ACLS (FAT): no descriptor is listed
 * or read, and one given for it is dropped without a word (a FAT
 * destination), so that a copy from or to FAT says nothing per file. */
static void test_fs_win32_nt_fat(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  const pm_fs *fs = pm_fs_native();
  char *a = ct_str("%s/a", dir);
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, a, PM_O_WRONLY | PM_O_CREAT, 0644, &fd), 0);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  char list[256];
  size_t len;
  assert_int_equal(pm_fs_xattr_list(fs, a, true, list, sizeof list, &len), 0);
  assert_int_equal(len, sizeof "win32.attributes" + sizeof "win32.security");
  size_t slen;
  void *sd = get_sd(fs, a, &slen);
  fat_volume = true;
  assert_int_equal(pm_fs_xattr_list(fs, a, true, list, sizeof list, &len), 0);
  assert_int_equal(len, sizeof "win32.attributes");
  assert_string_equal(list, "win32.attributes");
  char buf[256];
  assert_int_equal(pm_fs_xattr_get(fs, a, true, "win32.security", buf, sizeof buf,
                                 &len), PM_ENODATA);
  unsigned sets = sd_sets;
  assert_int_equal(pm_fs_xattr_set(fs, a, true, "win32.security", sd, slen), 0);
  assert_int_equal(sd_sets, sets);
}

/* A file created with no group or other bits gets the private
 * descriptor; chmod with group or other bits gives it back what its
 * parent passes down (SetSecurityInfo, UNPROTECTED_DACL_...), and only
 * when its DACL is still exactly the private one. Wine stores no
 * descriptor: NTFS's keeping of the one given at creation is played by
 * the fake (the descriptor pmw_private_sd gives is set on the file as
 * CreateFileW would have stored it). */
static void test_fs_win32_nt_private(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  const pm_fs *fs = pm_fs_native();
  PSECURITY_DESCRIPTOR priv = pmw_private_sd();
  assert_non_null(priv);
  BOOL present, def;
  PACL pacl;
  SECURITY_DESCRIPTOR_CONTROL ctl;
  DWORD rev;
  assert_true(GetSecurityDescriptorDacl(priv, &present, &pacl, &def));
  assert_true(present && pacl && pacl->AceCount >= 1 && pacl->AceCount <= 2);
  assert_true(GetSecurityDescriptorControl(priv, &ctl, &rev));
  assert_true(ctl & SE_DACL_PROTECTED);
  /* Administrators is admitted. */
  PSID admins = well_known(5, SECURITY_BUILTIN_DOMAIN_RID,
                           DOMAIN_ALIAS_RID_ADMINS, 2);
  bool admitted = false;
  for (WORD i = 0; i < pacl->AceCount; i++) {
    ACCESS_ALLOWED_ACE *ace;
    assert_true(GetAce(pacl, i, (void **)&ace));
    if (EqualSid((PSID)&ace->SidStart, admins)) admitted = true;
  }
  assert_true(admitted);
  FreeSid(admins);

  char *p = ct_str("%s/private", dir), *q = ct_str("%s/other", dir);
  pm_fd fd, fq, d;
  assert_int_equal(pm_fs_open(fs, p, PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL, 0600,
                            &fd), 0);
  assert_true(fake_set_sec((HANDLE)fd, DACL_SECURITY_INFORMATION, priv));
  assert_int_equal(pm_fs_pwrite(fs, fd, "data", 4, 0), 4);
  /* 0600 again: still private. */
  assert_int_equal(pm_fs_fchmod(fs, fd, 0600), 0);
  assert_int_equal(sd_inherits, 0);
  /* The final mode (0666: Windows' "not read-only"): inherited. */
  assert_int_equal(pm_fs_fchmod(fs, fd, 0666), 0);
  assert_int_equal(sd_inherits, 1);
  size_t len;
  void *sd = get_sd(fs, p, &len);
  assert_true(GetSecurityDescriptorControl(sd, &ctl, &rev));
  assert_false(ctl & SE_DACL_PROTECTED);
  /* Once not private, a chmod leaves the DACL alone. */
  assert_int_equal(pm_fs_fchmod(fs, fd, 0444), 0);
  assert_int_equal(sd_inherits, 1);
  assert_int_equal(pm_fs_close(fs, fd), 0);

  /* Beneath a handle: the same through open_at (which hands NtCreateFile
   * the private descriptor for a 0600 file, and none for a 0644 one) and
   * chmod_at, and a file whose DACL is its own (not the private one) is
   * never touched. */
  assert_int_equal(pm_fs_open(fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &d), 0);
  create_sd = NULL;
  assert_int_equal(pm_fs_open_at(fs, d, "public", PM_O_WRONLY | PM_O_CREAT |
                                                PM_O_EXCL, 0644, &fq), 0);
  assert_int_equal(pm_fs_close(fs, fq), 0);
  assert_null(create_sd);
  assert_int_equal(pm_fs_open_at(fs, d, "other", PM_O_WRONLY | PM_O_CREAT |
                                               PM_O_EXCL, 0600, &fq), 0);
  assert_ptr_equal(create_sd, priv);
  assert_true(fake_set_sec((HANDLE)fq, DACL_SECURITY_INFORMATION, priv));
  assert_int_equal(pm_fs_close(fs, fq), 0);
  assert_int_equal(pm_fs_chmod_at(fs, d, "other", 0444), 0);
  assert_int_equal(sd_inherits, 2);
  size_t olen;
  PSID users = well_known(5, SECURITY_BUILTIN_DOMAIN_RID,
                          DOMAIN_ALIAS_RID_USERS, 2);
  void *own = make_sd(users, users, &olen);
  FreeSid(users);
  assert_true(fake_set_sec(open_h(q, &fq), DACL_SECURITY_INFORMATION, own));
  pm_fs_close(fs, fq);
  assert_int_equal(pm_fs_chmod_at(fs, d, "other", 0666), 0);
  assert_int_equal(pm_fs_chmod(fs, q, 0644), 0);
  assert_int_equal(sd_inherits, 2);

  /* Directories as files: made with 0700 (a directory the copy engine is
   * filling) they get the private descriptor, with 0755 none; a chmod
   * with group or other bits (the source's mode, set when the directory
   * is done) gives a still private one what its parent passes down, and
   * leaves one whose DACL is its own alone. */
  create_sd = NULL;
  assert_int_equal(pm_fs_mkdir_at(fs, d, "pubdir", 0755), 0);
  assert_null(create_sd);
  assert_int_equal(pm_fs_mkdir_at(fs, d, "privdir", 0700), 0);
  assert_ptr_equal(create_sd, priv);
  char *pd = ct_str("%s/privdir", dir), *pd2 = ct_str("%s/privdir2", dir);
  pm_fd fdd;
  assert_true(fake_set_sec(open_h(pd, &fdd), DACL_SECURITY_INFORMATION, priv));
  pm_fs_close(fs, fdd);
  assert_int_equal(pm_fs_chmod_at(fs, d, "privdir", 0700), 0);
  assert_int_equal(sd_inherits, 2);
  assert_int_equal(pm_fs_chmod_at(fs, d, "privdir", 0777), 0);
  assert_int_equal(sd_inherits, 3);
  sd = get_sd(fs, pd, &len);
  assert_true(GetSecurityDescriptorControl(sd, &ctl, &rev));
  assert_false(ctl & SE_DACL_PROTECTED);
  assert_int_equal(pm_fs_chmod_at(fs, d, "privdir", 0777), 0);
  assert_int_equal(sd_inherits, 3);
  /* By path: mkdir (CreateDirectoryW, which the fake does not see: its
   * descriptor is played as above) and chmod. */
  assert_int_equal(pm_fs_mkdir(fs, pd2, 0700), 0);
  assert_true(fake_set_sec(open_h(pd2, &fdd), DACL_SECURITY_INFORMATION,
                           priv));
  pm_fs_close(fs, fdd);
  assert_int_equal(pm_fs_chmod(fs, pd2, 0755), 0);
  assert_int_equal(sd_inherits, 4);
  assert_int_equal(pm_fs_close(fs, d), 0);
}

/* The rights the metadata calls will need are asked for when a file is
 * opened, so that setting a private file's descriptor and permissions,
 * or reading a source's SACL, needs no second open: WRITE_DAC and
 * WRITE_OWNER (and ACCESS_SYSTEM_SECURITY with SeSecurityPrivilege) for
 * a private file this open creates, ACCESS_SYSTEM_SECURITY for a file
 * opened for reading; nothing more for a file that is not private or
 * already exists. An open the system refuses them goes on without. */
static void test_fs_win32_nt_open_rights(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  const pm_fs *fs = pm_fs_native();
  assert_non_null(pmw_private_sd());
  pm_fd d, f;
  assert_int_equal(pm_fs_open(fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &d), 0);
  const ACCESS_MASK meta = WRITE_DAC | WRITE_OWNER | ACCESS_SYSTEM_SECURITY;
  for (int sacl = 0; sacl < 2; sacl++) {
    pmw_sacl_force(sacl);
    const char *name = sacl ? "private1" : "private0";
    assert_int_equal(pm_fs_open_at(fs, d, name, PM_O_WRONLY | PM_O_CREAT |
                                                    PM_O_EXCL, 0600, &f), 0);
    assert_int_equal(create_access & meta,
                     WRITE_DAC | WRITE_OWNER |
                         (sacl ? ACCESS_SYSTEM_SECURITY : 0));
    assert_int_equal(pm_fs_close(fs, f), 0);
    assert_int_equal(pm_fs_open_at(fs, d, name, PM_O_RDONLY, 0, &f), 0);
    assert_int_equal(create_access & meta,
                     sacl ? ACCESS_SYSTEM_SECURITY : 0);
    assert_int_equal(pm_fs_close(fs, f), 0);
    /* Not private, or not created by this open: nothing more. */
    assert_int_equal(pm_fs_open_at(fs, d, sacl ? "pub1" : "pub0",
                                   PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL,
                                   0644, &f), 0);
    assert_int_equal(create_access & meta, 0);
    assert_int_equal(pm_fs_close(fs, f), 0);
    assert_int_equal(pm_fs_open_at(fs, d, name, PM_O_WRONLY, 0, &f), 0);
    assert_int_equal(create_access & meta, 0);
    assert_int_equal(pm_fs_close(fs, f), 0);
  }
  /* Refused: opened without them. */
  refuse_access = ACCESS_SYSTEM_SECURITY | WRITE_OWNER;
  assert_int_equal(pm_fs_open_at(fs, d, "refused", PM_O_WRONLY | PM_O_CREAT |
                                                     PM_O_EXCL, 0600, &f), 0);
  assert_int_equal(refused_opens, 1);
  assert_int_equal(create_access & meta, 0);
  assert_int_equal(pm_fs_close(fs, f), 0);
  assert_int_equal(pm_fs_open_at(fs, d, "refused", PM_O_RDONLY, 0, &f), 0);
  assert_int_equal(refused_opens, 2);
  assert_int_equal(pm_fs_close(fs, f), 0);
  refuse_access = 0;
  pmw_sacl_force(false);
  pmw_privileges_enable();
  assert_int_equal(pm_fs_close(fs, d), 0);
}

/* The backup, restore and security privileges are enabled where the
 * token holds them (Wine's token, as an administrator's, does): turned
 * off here, then on again by pmw_privileges_enable. */
static bool priv_enabled(const wchar_t *name) {
  HANDLE tok;
  assert_true(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok));
  LUID luid;
  assert_true(LookupPrivilegeValueW(NULL, name, &luid));
  DWORD need = 0;
  GetTokenInformation(tok, TokenPrivileges, NULL, 0, &need);
  TOKEN_PRIVILEGES *tp = ct_alloc(need);
  assert_true(GetTokenInformation(tok, TokenPrivileges, tp, need, &need));
  CloseHandle(tok);
  for (DWORD i = 0; i < tp->PrivilegeCount; i++)
    if (tp->Privileges[i].Luid.LowPart == luid.LowPart &&
        tp->Privileges[i].Luid.HighPart == luid.HighPart)
      return (tp->Privileges[i].Attributes & SE_PRIVILEGE_ENABLED) != 0;
  return false;
}

static void test_fs_win32_nt_privileges(void **state) {
  (void)state;
  const wchar_t *names[] = {L"SeBackupPrivilege", L"SeRestorePrivilege",
                            L"SeSecurityPrivilege"};
  HANDLE tok;
  assert_true(OpenProcessToken(GetCurrentProcess(),
                               TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &tok));
  for (int i = 0; i < 3; i++) {
    TOKEN_PRIVILEGES tp;
    tp.PrivilegeCount = 1;
    tp.Privileges[0].Attributes = 0;
    assert_true(LookupPrivilegeValueW(NULL, names[i],
                                      &tp.Privileges[0].Luid));
    assert_true(AdjustTokenPrivileges(tok, FALSE, &tp, 0, NULL, NULL));
    if (GetLastError() != ERROR_SUCCESS) {
      CloseHandle(tok);
      print_message("  the token does not hold %ls: skipped\n", names[i]);
      skip();
    }
    assert_false(priv_enabled(names[i]));
  }
  CloseHandle(tok);
  pmw_sacl_force(false);
  unsigned got = pmw_privileges_enable();
  assert_int_equal(got, PMW_PRIV_BACKUP | PMW_PRIV_RESTORE |
                            PMW_PRIV_SECURITY);
  for (int i = 0; i < 3; i++) assert_true(priv_enabled(names[i]));
  assert_true(pmw_sacl_enabled());
}

/* ---- Named data streams ----
 *
 * Wine 8 has no streams (FileStreamInformation is STATUS_NOT_IMPLEMENTED,
 * a relative open of ":NAME" on a file handle
 * STATUS_OBJECT_PATH_NOT_FOUND), so
 * NTFS's answers are played here: FileStreamInformation as NTFS gives it
 * (a chain of entries linked by NextEntryOffset, 8-byte aligned, the main
 * stream first, STATUS_BUFFER_OVERFLOW while the buffer is too small),
 * and the relative open of ":NAME" redirected to a file of its own. */

static bool streams_fake, streams_fat;
static unsigned stream_queries;
static const wchar_t *stream_names[300];
static size_t nstream_names;

/* The answer NTFS gives for stream_names[], in buf (len bytes): the
 * bytes needed, 0 when it does not fit. */
static size_t stream_answer(unsigned char *buf, size_t len) {
  size_t off = 0, last = 0;
  for (size_t i = 0; i < nstream_names; i++) {
    size_t nb = wcslen(stream_names[i]) * sizeof(wchar_t);
    size_t sz = offsetof(FILE_STREAM_INFORMATION, StreamName) + nb;
    size_t next = (off + sz + 7) & ~(size_t)7;
    if (off + sz <= len) {
      FILE_STREAM_INFORMATION *e = (FILE_STREAM_INFORMATION *)(buf + off);
      memset(e, 0, sz);
      e->StreamNameLength = (ULONG)nb;
      e->StreamSize.QuadPart = (LONGLONG)(i * 100);
      memcpy(e->StreamName, stream_names[i], nb);
      if (i) ((FILE_STREAM_INFORMATION *)(buf + last))->NextEntryOffset =
          (ULONG)(off - last);
    }
    last = off;
    off = i + 1 < nstream_names ? next : off + sz;
  }
  return off;
}

static NTSTATUS NTAPI fake_query(HANDLE h, PIO_STATUS_BLOCK io, PVOID buf,
                                 ULONG len, FILE_INFORMATION_CLASS cls) {
  if (cls == FileStreamInformation && streams_fat)
    return (NTSTATUS)0xC000000DL; /* STATUS_INVALID_PARAMETER, as FAT */
  if (cls != FileStreamInformation || !streams_fake)
    return pmw_nt_real.query_info(h, io, buf, len, cls);
  stream_queries++;
  size_t need = stream_answer(buf, 0);
  if (need > len) {
    /* NTFS fills what fits and says so; no caller may use it. */
    memset(buf, 0xEE, len);
    io->Information = len;
    return (NTSTATUS)0x80000005L; /* STATUS_BUFFER_OVERFLOW */
  }
  stream_answer(buf, len);
  io->Information = need;
  return 0;
}

/* Lists: the main stream, a directory's index (not data) and the
 * Windows names left out, the named $DATA streams in NTFS's order, in
 * UTF-8; a buffer too small for the list is PM_ERANGE with the length
 * needed; an answer larger than the first buffer is asked again. */
static void test_fs_win32_nt_streams_list(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  char *a = ct_str("%s/a", tu_scratch());
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, a, PM_O_WRONLY | PM_O_CREAT, 0644, &fd), 0);
  pmw_nt.query_info = fake_query;
  streams_fake = true;
  nstream_names = 0;
  stream_names[nstream_names++] = L"::$DATA";
  stream_names[nstream_names++] = L":Zone.Identifier:$DATA";
  stream_names[nstream_names++] = L":$I30:$INDEX_ALLOCATION";
  stream_names[nstream_names++] = L":\x00e9t\x00e9 \x20ac\xd83d\xde00:$DATA";
  stream_names[nstream_names++] = L":x:$DATA";
  char list[4096];
  size_t len = 99;
  assert_int_equal(pm_fs_streams_list(fs, fd, list, sizeof list, &len), 0);
  static const char want[] = "Zone.Identifier\0"
                             "\xc3\xa9t\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80\0"
                             "x";
  assert_int_equal(len, sizeof want);
  assert_memory_equal(list, want, sizeof want);
  assert_int_equal(pm_fs_streams_list(fs, fd, list, 10, &len), PM_ERANGE);
  assert_int_equal(len, sizeof want);

  /* Only the main stream: an empty list. */
  nstream_names = 1;
  len = 99;
  assert_int_equal(pm_fs_streams_list(fs, fd, list, sizeof list, &len), 0);
  assert_int_equal(len, 0);

  /* 250 streams: about 12 KiB of answer, past the first buffer. */
  static wchar_t names[250][16];
  for (int i = 0; i < 250; i++) {
    swprintf(names[i], 16, L":s%03d:$DATA", i);
    stream_names[nstream_names++] = names[i];
  }
  stream_queries = 0;
  char *big = ct_alloc(8192);
  assert_int_equal(pm_fs_streams_list(fs, fd, big, 8192, &len), 0);
  assert_true(stream_queries > 1);
  assert_int_equal(len, 250 * 5);
  size_t off = 0;
  for (int i = 0; i < 250; i++) {
    assert_string_equal(big + off, ct_str("s%03d", i));
    off += strlen(big + off) + 1;
  }
  assert_int_equal(off, len);

  /* A volume without streams (FAT refuses the class). */
  streams_fat = true;
  assert_int_equal(pm_fs_streams_list(fs, fd, list, sizeof list, &len), PM_ENOTSUP);
  streams_fat = streams_fake = false;
  assert_int_equal(pm_fs_close(fs, fd), 0);
}

static HANDLE stream_root;
static wchar_t stream_name[64];
static ULONG stream_disp, stream_opts;
static unsigned stream_opens;
static const wchar_t *stream_side; /* NT path of the file played */

static NTSTATUS NTAPI fake_stream_create(PHANDLE out, ACCESS_MASK access,
                                         POBJECT_ATTRIBUTES oa,
                                         PIO_STATUS_BLOCK io,
                                         PLARGE_INTEGER alloc, ULONG attrs,
                                         ULONG share, ULONG disp, ULONG opts,
                                         PVOID ea, ULONG ea_len) {
  PUNICODE_STRING n = oa->ObjectName;
  if (!n || !n->Length || n->Buffer[0] != L':')
    return pmw_nt_real.create_file(out, access, oa, io, alloc, attrs, share,
                                   disp, opts, ea, ea_len);
  stream_opens++;
  stream_root = oa->RootDirectory;
  size_t wn = n->Length / sizeof(wchar_t);
  assert_true(wn < 64);
  memcpy(stream_name, n->Buffer, n->Length);
  stream_name[wn] = 0;
  stream_disp = disp;
  stream_opts = opts;
  /* The stream is played by a file of its own, opened as asked. */
  UNICODE_STRING us;
  us.Buffer = (PWSTR)stream_side;
  us.Length = us.MaximumLength = (USHORT)(wcslen(stream_side) * 2);
  OBJECT_ATTRIBUTES side;
  InitializeObjectAttributes(&side, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
  return pmw_nt_real.create_file(out, access, &side, io, alloc, attrs, share,
                                 disp, opts, ea, ea_len);
}

/* stream_open opens ":NAME" relative to the file's own handle, never by
 * a path; the handle it gives is overlapped (no FILE_SYNCHRONOUS_IO_*)
 * and works with the table's pread, pwrite and fstat; PM_O_TRUNC
 * empties an existing stream; a name with a separator or a ':' is
 * refused before anything is opened. */
static void test_fs_win32_nt_stream_open(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  const char *dir = tu_scratch();
  char *a = ct_str("%s/a", dir);
  stream_side = nt_of(ct_str("%s\\side", real_of(fs, dir)));
  pmw_nt.create_file = fake_stream_create;
  stream_opens = 0;
  pm_fd fd, s;
  assert_int_equal(pm_fs_open(fs, a, PM_O_WRONLY | PM_O_CREAT, 0644, &fd), 0);
  assert_int_equal(pm_fs_stream_open(fs, fd, "\xc3\xa9t\xc3\xa9",
                                   PM_O_WRONLY | PM_O_CREAT | PM_O_TRUNC,
                                   0644, &s), 0);
  assert_int_equal(stream_opens, 1);
  assert_ptr_equal(stream_root, (HANDLE)fd);
  assert_true(wcscmp(stream_name, L":\x00e9t\x00e9") == 0);
  assert_int_equal(stream_disp, FILE_OPEN_IF);
  assert_int_equal(stream_opts & (FILE_SYNCHRONOUS_IO_ALERT |
                                  FILE_SYNCHRONOUS_IO_NONALERT), 0);
  assert_true(stream_opts & FILE_NON_DIRECTORY_FILE);
  assert_int_equal(pm_fs_pwrite(fs, s, "stream data", 11, 0), 11);
  assert_int_equal(pm_fs_close(fs, s), 0);

  assert_int_equal(pm_fs_stream_open(fs, fd, "\xc3\xa9t\xc3\xa9", PM_O_RDONLY, 0,
                                   &s), 0);
  assert_int_equal(stream_disp, FILE_OPEN);
  char buf[32];
  assert_int_equal(pm_fs_pread(fs, s, buf, sizeof buf, 0), 11);
  assert_memory_equal(buf, "stream data", 11);
  assert_int_equal(pm_fs_close(fs, s), 0);

  assert_int_equal(pm_fs_stream_open(fs, fd, "x", PM_O_RDWR | PM_O_TRUNC, 0, &s), 0);
  pm_stat st;
  assert_int_equal(pm_fs_fstat(fs, s, &st), 0);
  assert_int_equal(st.size, 0);
  assert_int_equal(pm_fs_close(fs, s), 0);
  assert_int_equal(pm_fs_stream_open(fs, fd, "x", PM_O_WRONLY | PM_O_CREAT |
                                   PM_O_EXCL, 0644, &s), PM_EEXIST);
  assert_int_equal(stream_disp, FILE_CREATE);

  unsigned opens = stream_opens;
  static const char *const bad[] = {"", "a:b", "a/b", "a\\b", ":$DATA"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(pm_fs_stream_open(fs, fd, bad[i], PM_O_RDONLY, 0, &s),
                     PM_EINVAL);
    assert_true(s == PM_FD_INVALID);
  }
  assert_int_equal(stream_opens, opens);

  /* stream_remove: opened for deletion relative to the file's handle,
   * marked (the stream, played by the side file, is gone), refused for a
   * bad name before any open; a stream that is not there is PM_ENOENT. */
  char *side_file = ct_str("%s/side", dir);
  pm_fd probe;
  assert_int_equal(pm_fs_open(fs, side_file, PM_O_RDONLY, 0, &probe), 0);
  assert_int_equal(pm_fs_close(fs, probe), 0);
  assert_int_equal(pm_fs_stream_remove(fs, fd, "x"), 0);
  assert_int_equal(stream_opens, opens + 1);
  assert_ptr_equal(stream_root, (HANDLE)fd);
  assert_true(wcscmp(stream_name, L":x") == 0);
  assert_int_equal(stream_disp, FILE_OPEN);
  assert_int_equal(pm_fs_open(fs, side_file, PM_O_RDONLY, 0, &probe),
                   PM_ENOENT);
  assert_int_equal(pm_fs_stream_remove(fs, fd, "x"), PM_ENOENT);
  opens = stream_opens;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(pm_fs_stream_remove(fs, fd, bad[i]), PM_EINVAL);
  assert_int_equal(stream_opens, opens);
  assert_int_equal(pm_fs_close(fs, fd), 0);
}

/* The real call on Wine's file (PM_ENOTSUP: Wine 8 does not implement
 * the class) and NTFS's (an empty list for a new file): no named stream,
 * no other error. */
static void test_fs_win32_nt_streams_real(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  char *a = ct_str("%s/a", tu_scratch());
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, a, PM_O_WRONLY | PM_O_CREAT, 0644, &fd), 0);
  assert_int_equal(pm_fs_pwrite(fs, fd, "data", 4, 0), 4);
  char list[256];
  size_t len = 99;
  int rc = pm_fs_streams_list(fs, fd, list, sizeof list, &len);
  if (rc == PM_ENOTSUP) {
    assert_int_equal(len, 0);
  } else {
    assert_int_equal(rc, 0);
    assert_int_equal(len, 0);
  }
  assert_int_equal(pm_fs_close(fs, fd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_readlink, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_realpath, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_sparse_seek, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_sparse_create, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_security, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_fat, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_open_rights, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_private, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_privileges, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_streams_list, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_stream_open, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_streams_real, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
