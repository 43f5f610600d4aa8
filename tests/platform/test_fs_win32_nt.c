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
 * (PM_ELOOP) and on an HSM file (opened), and seek's data and holes. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>
#include <winioctl.h>

#include "contract.h"
#include "fs_calls.h"
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

static int setup(void **state) {
  (void)state;
  nfakes = 0;
  sparse_set = false;
  nranges = 0;
  per_answer = 1;
  range_queries = 0;
  pmw_w32.device_io_control = fake_ioctl;
  pmw_w32.find_first_file = fake_find;
  pmw_w32.get_file_information = fake_info;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  pmw_w32 = pmw_w32_real;
  ct_strings_free();
  tu_cleanup();
  return 0;
}

static const pm_fs_ops *make_dir(const char *path) {
  const pm_fs_ops *fs = pm_fs_native();
  assert_int_equal(fs->mkdir(path, 0755), 0);
  return fs;
}

static char *real_of(const pm_fs_ops *fs, const char *path) {
  char *buf = ct_alloc(4096);
  assert_int_equal(fs->realpath(path, buf, 4096), 0);
  return buf;
}

/* The NT form of a UTF-8 path realpath gave: "\??\C:\...". */
static wchar_t *nt_of(const char *real) {
  return wide(ct_str("\\??\\%s", real));
}

static void test_fs_win32_nt_readlink(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  const pm_fs_ops *fs = make_dir(ct_str("%s/target", dir));
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
  assert_int_equal(fs->readlink(j, buf, sizeof buf, &len), 0);
  assert_string_equal(buf, target);
  assert_int_equal(len, strlen(target));
  assert_int_equal(fs->readlink(rel, buf, sizeof buf, &len), 0);
  assert_string_equal(buf, "../up/x y");
  assert_int_equal(fs->readlink(unc, buf, sizeof buf, &len), 0);
  assert_string_equal(buf, "//srv/share/d");
  /* Room for the target and its NUL, or PM_ERANGE with no stale code. */
  pm_oserr_set(4242);
  assert_int_equal(fs->readlink(unc, buf, strlen("//srv/share/d"), &len),
                   PM_ERANGE);
  assert_int_equal(pm_oserr_last(), 0);
  assert_int_equal(fs->readlink(unc, buf, strlen("//srv/share/d") + 1, &len),
                   0);
  /* A reparse point that is no link (an HSM file) is a file. */
  assert_int_equal(fs->readlink(hsm, buf, sizeof buf, &len), PM_EINVAL);
  assert_int_equal(fs->readlink(ct_str("%s/target", dir), buf, sizeof buf,
                                &len),
                   PM_EINVAL);

  /* PM_O_NOFOLLOW refuses a link, and opens an HSM file, whose data is
   * read as Windows presents it. */
  pm_fd fd;
  pm_oserr_set(4242);
  assert_int_equal(fs->open(j, PM_O_RDONLY | PM_O_NOFOLLOW, 0, &fd), PM_ELOOP);
  assert_int_equal(pm_oserr_last(), 0);
  assert_int_equal(fs->open(unc, PM_O_RDONLY | PM_O_NOFOLLOW |
                                     PM_O_DIRECTORY, 0, &fd),
                   PM_ELOOP);
  assert_int_equal(fs->open(hsm, PM_O_RDONLY | PM_O_NOFOLLOW, 0, &fd), 0);
  assert_int_equal(fs->pread(fd, buf, sizeof buf, 0), 8);
  assert_memory_equal(buf, "migrated", 8);
  assert_int_equal(fs->close(fd), 0);
}

static void test_fs_win32_nt_realpath(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  const pm_fs_ops *fs = make_dir(ct_str("%s/target", dir));
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
  assert_int_equal(fs->realpath(ct_str("%s/j/sub/f", dir), buf, sizeof buf),
                   0);
  assert_string_equal(buf, want);
  assert_int_equal(fs->realpath(ct_str("%s/rel/sub/f", dir), buf, sizeof buf),
                   0);
  assert_string_equal(buf, want);
  assert_int_equal(fs->realpath(j, buf, sizeof buf), 0);
  assert_string_equal(buf, target);
  /* The spelling the directory holds, through the link too. */
  assert_int_equal(fs->realpath(ct_str("%s/J/SUB/F", dir), buf, sizeof buf),
                   0);
  assert_string_equal(buf, want);
  pm_oserr_set(4242);
  assert_int_equal(fs->realpath(ct_str("%s/x", loop), buf, sizeof buf),
                   PM_ELOOP);
  assert_int_equal(pm_oserr_last(), 0);
}

static void test_fs_win32_nt_sparse_seek(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  const pm_fs_ops *fs = pm_fs_native();
  const uint64_t K = 1024, M = K * K, size = 8 * M;
  char *p = ct_str("%s/sparse", dir);
  pm_fd fd;
  assert_int_equal(fs->open(p, PM_O_RDWR | PM_O_CREAT | PM_O_EXCL, 0644, &fd),
                   0);
  assert_int_equal(fs->ftruncate(fd, size), 0);
  /* Not sparse yet: all data, the hole is the end, and no range is
   * asked for. */
  assert_int_equal(fs->seek(fd, 100, false), 100);
  assert_int_equal(fs->seek(fd, 100, true), (int64_t)size);
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
  assert_int_equal(fs->seek(fd, 0, false), 0);
  assert_int_equal(fs->seek(fd, 0, true), (int64_t)(192 * K));
  assert_true(range_queries >= 3);
  assert_int_equal(fs->seek(fd, 100 * K, false), (int64_t)(100 * K));
  assert_int_equal(fs->seek(fd, 192 * K, false), (int64_t)(4 * M));
  assert_int_equal(fs->seek(fd, 192 * K, true), (int64_t)(192 * K));
  assert_int_equal(fs->seek(fd, 4 * M, true), (int64_t)(4 * M + 64 * K));
  assert_int_equal(fs->seek(fd, 4 * M + 64 * K, false), (int64_t)(6 * M));
  /* The trailing hole: no data follows, the hole is where it starts. */
  assert_int_equal(fs->seek(fd, 6 * M + 4 * K, false), PM_ENXIO);
  assert_int_equal(fs->seek(fd, 7 * M, true), (int64_t)(7 * M));
  assert_int_equal(fs->seek(fd, size, false), PM_ENXIO);
  assert_int_equal(fs->seek(fd, size, true), PM_ENXIO);
  /* Many ranges to an answer: the same results. */
  per_answer = 64;
  assert_int_equal(fs->seek(fd, 0, true), (int64_t)(192 * K));
  assert_int_equal(fs->seek(fd, 192 * K, false), (int64_t)(4 * M));
  /* Data to the end: the hole is the end. */
  ranges[nranges].FileOffset.QuadPart = (LONGLONG)(7 * M);
  ranges[nranges].Length.QuadPart = (LONGLONG)M;
  nranges++;
  assert_int_equal(fs->seek(fd, 7 * M, true), (int64_t)size);
  assert_int_equal(fs->seek(fd, 6 * M + 8 * K, false), (int64_t)(7 * M));
  assert_int_equal(fs->close(fd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_readlink, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_realpath, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fs_win32_nt_sparse_seek, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
