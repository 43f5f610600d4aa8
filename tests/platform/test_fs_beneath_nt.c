/* test_fs_beneath_nt.c (Windows only) - the decisions of the walk beneath
 * a directory handle (platform/win32/fs_win32_at.c) against reparse
 * points as NTFS reports them, which Wine cannot show: Wine 8 has no
 * reparse points at all (it follows Unix symlinks silently and cannot
 * make a junction), so test_fs_beneath's link cases are skipped there.
 *
 * Here the native calls of fs_win32_at.c (nt_at.h) are wrapped so that
 * chosen entries of a real tree look like a junction, a symbolic link or
 * an HSM file: the reparse attribute and tag appear only on a handle
 * opened with FILE_OPEN_REPARSE_POINT (opened without it, Windows would
 * have followed the link and the handle would show no link: so would
 * this wrapper's), in a directory listing (EaSize carries the tag), and
 * FSCTL_GET_REPARSE_POINT gives the link's data. Every call beneath the
 * handle must refuse a link in the middle with PM_ELOOP and change
 * nothing, act on a link in the last component itself or refuse it, and
 * read an HSM file through its filter. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>
#include <winioctl.h>
#include <winternl.h>

#include "contract.h"
#include "nt_at.h"
#include "platform.h"
#include "testutil.h"
#include "util.h"

#define TAG_HSM 0xC0000004UL
#define TAG_MOUNT_POINT 0xA0000003UL
#define TAG_SYMLINK 0xA000000CUL

/* Entries that look like reparse points, by name. */
typedef struct fake {
  const wchar_t *name;
  ULONG tag;
} fake;
static fake fakes[8];
static size_t nfakes;

/* Handles opened on a fake entry, and whether with FILE_OPEN_REPARSE_POINT. */
static struct {
  HANDLE h;
  ULONG tag;
  bool itself;
} opened[256];
/* Opens of a fake entry without FILE_OPEN_REPARSE_POINT (Windows would
 * have followed a link there). */
static int followed;
/* A name that becomes a junction at the start of create call number
 * flip_at (counted from the flip's arming): a swap during a walk. */
static const wchar_t *flip_name;
static int flip_at = -1, creates;

static void fake_add(const wchar_t *name, ULONG tag) {
  assert_true(nfakes < 8);
  fakes[nfakes].name = name;
  fakes[nfakes].tag = tag;
  nfakes++;
}

static ULONG tag_of_name(const WCHAR *n, size_t len) {
  for (size_t i = 0; i < nfakes; i++)
    if (wcslen(fakes[i].name) == len && !wcsncmp(fakes[i].name, n, len))
      return fakes[i].tag;
  return 0;
}

static int find(HANDLE h) {
  for (int i = 0; i < 256; i++)
    if (opened[i].h == h) return i;
  return -1;
}

static NTSTATUS NTAPI w_create(PHANDLE out, ACCESS_MASK access,
                               POBJECT_ATTRIBUTES oa, PIO_STATUS_BLOCK io,
                               PLARGE_INTEGER alloc, ULONG attrs, ULONG share,
                               ULONG disp, ULONG opts, PVOID ea,
                               ULONG ea_len) {
  if (flip_at >= 0 && ++creates == flip_at) fake_add(flip_name, TAG_MOUNT_POINT);
  NTSTATUS s = pmw_nt_real.create_file(out, access, oa, io, alloc, attrs,
                                       share, disp, opts, ea, ea_len);
  if (s < 0) return s;
  /* A handle value just returned is fresh: a record left for it by a
   * handle closed outside this table (CloseHandle) is stale. */
  for (int k = find(*out); k >= 0; k = find(*out)) opened[k].h = NULL;
  ULONG tag = tag_of_name(oa->ObjectName->Buffer,
                          oa->ObjectName->Length / sizeof(WCHAR));
  if (tag) {
    int i = find(NULL);
    assert_true(i >= 0);
    opened[i].h = *out;
    opened[i].tag = tag;
    opened[i].itself = (opts & FILE_OPEN_REPARSE_POINT) != 0;
    if (!opened[i].itself) followed++;
  }
  return s;
}

static NTSTATUS NTAPI w_query(HANDLE h, PIO_STATUS_BLOCK io, PVOID buf,
                              ULONG len, FILE_INFORMATION_CLASS cls) {
  NTSTATUS s = pmw_nt_real.query_info(h, io, buf, len, cls);
  int i = find(h);
  if (s < 0 || i < 0 || !opened[i].itself) return s;
  if ((int)cls == 35) { /* FileAttributeTagInformation */
    ULONG *t = buf;
    t[0] |= FILE_ATTRIBUTE_REPARSE_POINT;
    t[1] = opened[i].tag;
  } else if (cls == FileBasicInformation) {
    ((FILE_BASIC_INFORMATION *)buf)->FileAttributes |=
        FILE_ATTRIBUTE_REPARSE_POINT;
  }
  return s;
}

static NTSTATUS NTAPI w_dir(HANDLE h, HANDLE event, PIO_APC_ROUTINE apc,
                            PVOID apc_ctx, PIO_STATUS_BLOCK io, PVOID buf,
                            ULONG len, FILE_INFORMATION_CLASS cls,
                            BOOLEAN single, PUNICODE_STRING mask,
                            BOOLEAN restart) {
  NTSTATUS s = pmw_nt_real.query_dir(h, event, apc, apc_ctx, io, buf, len, cls,
                                     single, mask, restart);
  if (s < 0 || cls != FileFullDirectoryInformation) return s;
  unsigned char *p = buf;
  for (;;) {
    FILE_FULL_DIR_INFORMATION *e = (FILE_FULL_DIR_INFORMATION *)p;
    ULONG tag = tag_of_name(e->FileName, e->FileNameLength / sizeof(WCHAR));
    if (tag) {
      e->FileAttributes |= FILE_ATTRIBUTE_REPARSE_POINT;
      e->EaSize = tag; /* where NTFS puts the tag */
    }
    if (!e->NextEntryOffset) break;
    p += e->NextEntryOffset;
  }
  return s;
}

/* FSCTL_GET_REPARSE_POINT of a fake link: a junction to C:\target\dir,
 * a relative symbolic link to ..\rel\t. */
static NTSTATUS NTAPI w_fsctl(HANDLE h, HANDLE event, PIO_APC_ROUTINE apc,
                              PVOID apc_ctx, PIO_STATUS_BLOCK io, ULONG code,
                              PVOID in, ULONG in_len, PVOID out,
                              ULONG out_len) {
  int i = find(h);
  if (code != FSCTL_GET_REPARSE_POINT || i < 0 || !opened[i].itself)
    return pmw_nt_real.fs_control(h, event, apc, apc_ctx, io, code, in,
                                  in_len, out, out_len);
  bool sym = opened[i].tag == TAG_SYMLINK;
  const wchar_t *sub = sym ? L"..\\rel\\t" : L"\\??\\C:\\target\\dir";
  const wchar_t *pr = sym ? L"..\\rel\\t" : L"C:\\target\\dir";
  USHORT sl = (USHORT)(wcslen(sub) * 2), pl = (USHORT)(wcslen(pr) * 2);
  unsigned char *b = out;
  size_t at = sym ? 20 : 16;
  memset(b, 0, out_len);
  memcpy(b, &opened[i].tag, 4);
  USHORT hdr[6] = {(USHORT)(at - 8 + sl + 2 + pl + 2), 0, 0, sl,
                   (USHORT)(sl + 2), pl};
  memcpy(b + 4, hdr, sizeof hdr);
  if (sym) {
    ULONG flags = 1; /* SYMLINK_FLAG_RELATIVE */
    memcpy(b + 16, &flags, 4);
  }
  memcpy(b + at, sub, sl);
  memcpy(b + at + sl + 2, pr, pl);
  io->Status = 0;
  io->Information = at + sl + 2 + pl + 2;
  return 0;
}

/* A handle whose FileBasicInformation sets are refused, as Windows
 * refuses them on a handle without FILE_WRITE_ATTRIBUTES. */
static HANDLE deny_basic;

static NTSTATUS NTAPI w_set(HANDLE h, PIO_STATUS_BLOCK io, PVOID buf,
                            ULONG len, FILE_INFORMATION_CLASS cls) {
  if (h == deny_basic && cls == FileBasicInformation)
    return (NTSTATUS)0xC0000022L; /* STATUS_ACCESS_DENIED */
  return pmw_nt_real.set_info(h, io, buf, len, cls);
}

static NTSTATUS NTAPI w_close(HANDLE h) {
  int i = find(h);
  if (i >= 0) opened[i].h = NULL;
  return pmw_nt_real.close(h);
}

static void wrap(void) {
  memset(opened, 0, sizeof opened);
  nfakes = 0;
  followed = 0;
  flip_at = -1;
  pmw_nt = pmw_nt_real;
  pmw_nt.create_file = w_create;
  pmw_nt.query_info = w_query;
  pmw_nt.query_dir = w_dir;
  pmw_nt.fs_control = w_fsctl;
  pmw_nt.close = w_close;
  pmw_nt.set_info = w_set;
  deny_basic = NULL;
}

/* root/a/{b/f, jl/b/f, ej/, sl, hsm} and outside/ beside it; jl and ej
 * (directories) look like junctions, sl (a file) like a symbolic link,
 * hsm like a file of a hierarchical storage manager. */
typedef struct fixture {
  char *root;
  pm_fd dir;
} fixture;

static void fixture_make(fixture *fx) {
  const pm_fs *fs = pm_fs_native();
  const char *base = tu_scratch();
  fx->root = pm_xasprintf("%s/root", base);
  const char *dirs[] = {"", "/a", "/a/b", "/a/jl", "/a/jl/b", "/a/ej"};
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(pm_fs_mkdir(fs, ct_str("%s%s", fx->root, dirs[i]), 0755), 0);
  tu_write_text(ct_str("%s/a/b/f", fx->root), "inside");
  tu_write_text(ct_str("%s/a/jl/b/f", fx->root), "behind");
  tu_write_text(ct_str("%s/a/sl", fx->root), "keep");
  tu_write_text(ct_str("%s/a/hsm", fx->root), "recalled");
  assert_int_equal(pm_fs_open(fs, fx->root, PM_O_RDONLY | PM_O_DIRECTORY, 0,
                            &fx->dir),
                   0);
  wrap();
  fake_add(L"jl", TAG_MOUNT_POINT);
  fake_add(L"ej", TAG_MOUNT_POINT);
  fake_add(L"sl", TAG_SYMLINK);
  fake_add(L"hsm", TAG_HSM);
}

static void fixture_free(fixture *fx) {
  pmw_nt = pmw_nt_real;
  pm_fs_close(pm_fs_native(), fx->dir);
  free(fx->root);
  ct_strings_free();
  tu_cleanup();
}

static char *content(fixture *fx, const char *rel) {
  char *s = tu_read_all(ct_str("%s/%s", fx->root, rel), NULL);
  assert_non_null(s);
  return ct_str("%s", s);
}

/* A junction in the middle: every call refuses it, nothing behind it is
 * read, made, changed or removed. */
static void test_fs_beneath_nt_junction_in_path(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  fixture fx;
  fixture_make(&fx);
  pm_fd fd;
  pm_stat st;
  pm_dir *d;
  char buf[64];
  size_t len;
  pm_time t = {.sec = 1000000000, .nsec = 0};
  const char *through[] = {"a/jl/b/f", "a/jl/b"};
  for (size_t i = 0; i < 2; i++) {
    const char *r = through[i];
    assert_int_equal(pm_fs_open_at(fs, fx.dir, r, PM_O_RDONLY, 0, &fd), PM_ELOOP);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, r, PM_O_WRONLY | PM_O_TRUNC, 0, &fd),
                     PM_ELOOP);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, r, &st), PM_ELOOP);
    assert_int_equal(pm_fs_opendir_at(fs, fx.dir, r, &d), PM_ELOOP);
    assert_int_equal(pm_fs_chmod_at(fs, fx.dir, r, 0444), PM_ELOOP);
    assert_int_equal(pm_fs_utimes_at(fs, fx.dir, r, &t, &t), PM_ELOOP);
    assert_int_equal(pm_fs_chown_at(fs, fx.dir, r, (uint32_t)-1, (uint32_t)-1),
                     PM_ELOOP);
    assert_int_equal(pm_fs_unlink_at(fs, fx.dir, r), PM_ELOOP);
    assert_int_equal(pm_fs_rmdir_at(fs, fx.dir, r), PM_ELOOP);
    assert_int_equal(pm_fs_readlink_at(fs, fx.dir, r, buf, sizeof buf, &len),
                     PM_ELOOP);
    assert_int_equal(pm_fs_xattr_set_at(fs, fx.dir, r, "user.x", "1", 1), PM_ELOOP);
    /* Found by the walk itself: no OS call failed. */
    assert_int_equal(pm_oserr_of(PM_ELOOP), 0);
  }
  assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/jl/new", PM_O_WRONLY | PM_O_CREAT,
                               0600, &fd),
                   PM_ELOOP);
  assert_int_equal(pm_fs_mkdir_at(fs, fx.dir, "a/jl/newdir", 0700), PM_ELOOP);
  assert_int_equal(pm_fs_link_at(fs, fx.dir, "a/b/f", fx.dir, "a/jl/newl"), PM_ELOOP);
  assert_int_equal(pm_fs_link_at(fs, fx.dir, "a/jl/b/f", fx.dir, "a/x"), PM_ELOOP);
  assert_int_equal(pm_fs_symlink_at(fs, "x", fx.dir, "a/jl/s"), PM_ELOOP);
  assert_int_equal(followed, 0);
  pmw_nt = pmw_nt_real;
  /* Behind the junction, all as it was. */
  assert_string_equal(content(&fx, "a/jl/b/f"), "behind");
  assert_int_equal(pm_fs_stat(fs, ct_str("%s/a/jl/new", fx.root), false, &st),
                   PM_ENOENT);
  assert_int_equal(pm_fs_stat(fs, ct_str("%s/a/jl/newdir", fx.root), false, &st),
                   PM_ENOENT);
  assert_int_equal(pm_fs_stat(fs, ct_str("%s/a/jl/newl", fx.root), false, &st),
                   PM_ENOENT);
  assert_int_equal(pm_fs_stat(fs, ct_str("%s/a/x", fx.root), false, &st), PM_ENOENT);
  assert_int_equal(pm_fs_stat(fs, ct_str("%s/a/jl/b/f", fx.root), false, &st), 0);
  assert_int_equal(st.mode, 0666);
  assert_true(st.mtime.sec != 1000000000);
  fixture_free(&fx);
}

/* Links in the last component: opens and chmod refuse them (an O_TRUNC
 * open truncates nothing), the calls on the entry itself act on the
 * link, rmdir never removes one, unlink does. */
static void test_fs_beneath_nt_leaf_links(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  fixture fx;
  fixture_make(&fx);
  pm_fd fd;
  pm_dir *d;
  const char *links[] = {"a/jl", "a/sl"};
  for (size_t i = 0; i < 2; i++) {
    const char *r = links[i];
    assert_int_equal(pm_fs_open_at(fs, fx.dir, r, PM_O_RDONLY, 0, &fd), PM_ELOOP);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, r, PM_O_RDONLY | PM_O_REGULAR, 0,
                                 &fd),
                     PM_ELOOP);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, r, PM_O_RDONLY | PM_O_DIRECTORY, 0,
                                 &fd),
                     PM_ELOOP);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, r,
                                 PM_O_WRONLY | PM_O_CREAT | PM_O_TRUNC, 0600,
                                 &fd),
                     PM_ELOOP);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, r,
                                 PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL, 0600,
                                 &fd),
                     PM_EEXIST);
    assert_int_equal(pm_fs_opendir_at(fs, fx.dir, r, &d), PM_ELOOP);
    assert_int_equal(pm_fs_chmod_at(fs, fx.dir, r, 0444), PM_ELOOP);
    assert_int_equal(pm_fs_rmdir_at(fs, fx.dir, r), PM_ENOTDIR);
    assert_int_equal(pm_fs_chown_at(fs, fx.dir, r, (uint32_t)-1, (uint32_t)-1), 0);
  }
  /* stat_at calls a symlink exactly what the walk refuses. */
  pm_stat st;
  assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/jl", &st), 0);
  assert_int_equal(st.type, PM_T_SYMLINK);
  assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/sl", &st), 0);
  assert_int_equal(st.type, PM_T_SYMLINK);
  assert_true(st.attrs & FILE_ATTRIBUTE_REPARSE_POINT);
  char buf[64];
  size_t len;
  assert_int_equal(pm_fs_readlink_at(fs, fx.dir, "a/jl", buf, sizeof buf, &len), 0);
  assert_string_equal(buf, "C:/target/dir");
  assert_int_equal(len, strlen("C:/target/dir"));
  assert_int_equal(pm_fs_readlink_at(fs, fx.dir, "a/sl", buf, sizeof buf, &len), 0);
  assert_string_equal(buf, "../rel/t");
  assert_int_equal(pm_fs_readlink_at(fs, fx.dir, "a/sl", buf, 8, &len), PM_ERANGE);
  assert_int_equal(pm_fs_readlink_at(fs, fx.dir, "a/hsm", buf, sizeof buf, &len),
                   PM_EINVAL);
  pm_time t = {.sec = 1000000000, .nsec = 0};
  assert_int_equal(pm_fs_utimes_at(fs, fx.dir, "a/sl", &t, &t), 0);
  /* readdir: the links' own type from the tag; the HSM file a file. */
  assert_int_equal(pm_fs_opendir_at(fs, fx.dir, "a", &d), 0);
  pm_dirent e;
  int seen = 0;
  while (pm_fs_readdir(fs, d, &e) == 1) {
    if (!strcmp(e.name, "jl") || !strcmp(e.name, "ej") ||
        !strcmp(e.name, "sl")) {
      assert_int_equal(e.type, PM_T_SYMLINK);
      seen++;
    } else if (!strcmp(e.name, "hsm")) {
      assert_int_equal(e.type, PM_T_FILE);
      seen++;
    } else {
      assert_string_equal(e.name, "b");
      assert_int_equal(e.type, PM_T_DIR);
    }
  }
  pm_fs_closedir(fs, d);
  assert_int_equal(seen, 4);
  /* unlink removes a link, a junction included. */
  assert_int_equal(pm_fs_unlink_at(fs, fx.dir, "a/ej"), 0);
  assert_int_equal(pm_fs_unlink_at(fs, fx.dir, "a/sl"), 0);
  assert_int_equal(followed, 0);
  pmw_nt = pmw_nt_real;
  assert_int_equal(pm_fs_stat(fs, ct_str("%s/a/ej", fx.root), false, &st),
                   PM_ENOENT);
  assert_int_equal(pm_fs_stat(fs, ct_str("%s/a/sl", fx.root), false, &st),
                   PM_ENOENT);
  /* The junction refused above is still there, and what is behind it. */
  assert_string_equal(content(&fx, "a/jl/b/f"), "behind");
  fixture_free(&fx);
}

/* The link checks were made on the entry, before the O_TRUNC: a file
 * behind a refused open keeps its bytes. */
static void test_fs_beneath_nt_trunc_after_check(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  fixture fx;
  fixture_make(&fx);
  pm_fd fd;
  assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/sl", PM_O_WRONLY | PM_O_TRUNC, 0,
                               &fd),
                   PM_ELOOP);
  assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/sl", PM_O_RDWR | PM_O_TRUNC, 0, &fd),
                   PM_ELOOP);
  pmw_nt = pmw_nt_real;
  assert_string_equal(content(&fx, "a/sl"), "keep");
  fixture_free(&fx);
}

/* A reparse point that is not a link (HSM) is a file: opened through its
 * filter (a second open without FILE_OPEN_REPARSE_POINT, checked to be
 * the same file), read and stat'ed as one. */
static void test_fs_beneath_nt_hsm(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  fixture fx;
  fixture_make(&fx);
  pm_fd fd;
  assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/hsm", PM_O_RDONLY | PM_O_REGULAR, 0,
                               &fd),
                   0);
  /* Exactly the one reopen through the filter went without the flag. */
  assert_int_equal(followed, 1);
  char buf[16] = {0};
  assert_int_equal(pm_fs_pread(fs, fd, buf, sizeof buf, 0), 8);
  assert_string_equal(buf, "recalled");
  pm_fs_close(fs, fd);
  pm_stat st;
  assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/hsm", &st), 0);
  assert_int_equal(st.type, PM_T_FILE);
  assert_int_equal(pm_fs_chmod_at(fs, fx.dir, "a/hsm", 0444), 0);
  assert_int_equal(pm_fs_chmod_at(fs, fx.dir, "a/hsm", 0644), 0);
  fixture_free(&fx);
}

/* A directory replaced by a junction while a walk runs (between the open
 * of "a" and that of "b"), and one replaced after a stat said it was a
 * directory: both refused. */
static void test_fs_beneath_nt_swap(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  fixture fx;
  fixture_make(&fx);
  pm_fd fd;
  pm_stat st;
  assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/b", &st), 0);
  assert_int_equal(st.type, PM_T_DIR);
  flip_name = L"b";
  flip_at = 2; /* the second create of the next call: "a" is open */
  creates = 0;
  assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/b/f", PM_O_RDONLY, 0, &fd),
                   PM_ELOOP);
  assert_true(creates >= 2);
  flip_at = -1;
  assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/b/f", &st), PM_ELOOP);
  assert_int_equal(pm_fs_unlink_at(fs, fx.dir, "a/b/f"), PM_ELOOP);
  assert_int_equal(pm_fs_mkdir_at(fs, fx.dir, "a/b/new", 0700), PM_ELOOP);
  assert_int_equal(followed, 0);
  pmw_nt = pmw_nt_real;
  assert_string_equal(content(&fx, "a/b/f"), "inside");
  assert_int_equal(pm_fs_stat(fs, ct_str("%s/a/b/new", fx.root), false, &st),
                   PM_ENOENT);
  fixture_free(&fx);
}

/* Metadata of a handle's own object (empty rel) when the handle may not
 * set it (opened for reading): the object is reopened by an empty name
 * relative to the handle, never looked up by name. */
static void test_fs_beneath_nt_reopen_own_object(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  fixture fx;
  fixture_make(&fx);
  pm_fd fd;
  assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/b/f", PM_O_RDONLY, 0, &fd), 0);
  deny_basic = (HANDLE)fd;
  pm_time t = {.sec = 1200000000, .nsec = 0};
  assert_int_equal(pm_fs_utimes_at(fs, fd, "", &t, &t), 0);
  assert_int_equal(pm_fs_chmod_at(fs, fd, "", 0444), 0);
  pm_stat st;
  assert_int_equal(pm_fs_fstat(fs, fd, &st), 0);
  assert_int_equal(st.mtime.sec, 1200000000);
  assert_int_equal(st.mode, 0444);
  assert_int_equal(pm_fs_chmod_at(fs, fd, "", 0644), 0);
  pm_fs_close(fs, fd);
  /* The same for the directory handle itself. */
  deny_basic = (HANDLE)fx.dir;
  assert_int_equal(pm_fs_utimes_at(fs, fx.dir, "", &t, &t), 0);
  assert_int_equal(pm_fs_stat_at(fs, fx.dir, "", &st), 0);
  assert_int_equal(st.mtime.sec, 1200000000);
  fixture_free(&fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fs_beneath_nt_junction_in_path),
      cmocka_unit_test(test_fs_beneath_nt_leaf_links),
      cmocka_unit_test(test_fs_beneath_nt_trunc_after_check),
      cmocka_unit_test(test_fs_beneath_nt_hsm),
      cmocka_unit_test(test_fs_beneath_nt_swap),
      cmocka_unit_test(test_fs_beneath_nt_reopen_own_object),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
