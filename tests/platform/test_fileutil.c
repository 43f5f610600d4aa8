/* test_fileutil.c - platform/fileutil against the native table and
 * against local wrappers of it: one whose reads and writes transfer at
 * most half of what is asked (at least a byte), one whose writes run out
 * of space after a budget of bytes, one whose fstat lies about the size
 * (a file that shrinks or grows while read). Portable: it runs under Wine
 * against the Win32 table too; a case that needs a symlink the OS will
 * not make here is skipped, never passed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "fileutil.h"
#include "host.h"
#include "platform.h"
#include "sys.h"
#include "testutil.h"
#include "util.h"

static const pm_fs *nat;

/* ---- wrappers ---- */

static pm_fs_ops short_ops, full_ops, liar_ops;
static const pm_fs short_fs = {&short_ops, NULL}, full_fs = {&full_ops, NULL},
                   liar_fs = {&liar_ops, NULL};
static long cuts;
static int64_t space;     /* bytes full_fs still writes; then PM_ENOSPC */
static int64_t size_skew; /* added to the size liar_fs's fstat reports */

static size_t cut(size_t len) {
  if (len <= 1) return len;
  cuts++;
  return len / 2;
}
static int64_t short_pread(const pm_fs *self PM_UNUSED, pm_fd fd, void *buf,
                           size_t len, uint64_t off) {
  return pm_fs_pread(nat, fd, buf, cut(len), off);
}
static int64_t short_pwrite(const pm_fs *self PM_UNUSED, pm_fd fd,
                            const void *buf, size_t len, uint64_t off) {
  return pm_fs_pwrite(nat, fd, buf, cut(len), off);
}
static int64_t full_pwrite(const pm_fs *self PM_UNUSED, pm_fd fd,
                           const void *buf, size_t len, uint64_t off) {
  if (space <= 0) {
    pm_oserr_set(28); /* ENOSPC */
    return PM_ENOSPC;
  }
  if ((int64_t)len > space) len = (size_t)space;
  int64_t n = pm_fs_pwrite(nat, fd, buf, len, off);
  if (n > 0) space -= n;
  return n;
}
static int liar_fstat(const pm_fs *self PM_UNUSED, pm_fd fd, pm_stat *st) {
  int rc = pm_fs_fstat(nat, fd, st);
  if (rc == 0) st->size = (uint64_t)((int64_t)st->size + size_skew);
  return rc;
}

static int setup(void **state) {
  (void)state;
  nat = pm_fs_native();
  short_ops = full_ops = liar_ops = *nat->ops;
  short_ops.pread = short_pread;
  short_ops.pwrite = short_pwrite;
  full_ops.pwrite = full_pwrite;
  liar_ops.fstat = liar_fstat;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_cleanup();
  return 0;
}

/* ---- helpers ---- */

static char *pattern(size_t len, unsigned seed) {
  char *b = pm_xmalloc(len + 1);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < len; i++) {
    x = x * 1103515245u + 12345u;
    b[i] = (char)(x >> 16);
  }
  return b;
}

static void assert_content(const char *path, const char *want, size_t len) {
  size_t got_len;
  char *got = tu_read_all(path, &got_len);
  assert_non_null(got);
  assert_int_equal(got_len, len);
  assert_memory_equal(got, want, len);
  free(got);
}

/* The names in folder `dir`, sorted, '\n'-joined. */
static char *listing(const char *dir) {
  pm_dir *d;
  assert_int_equal(pm_fs_opendir(nat, dir, &d), 0);
  pm_strlist names = {0};
  pm_dirent e;
  int rc;
  while ((rc = pm_fs_readdir(nat, d, &e)) > 0) pm_strlist_add(&names, e.name);
  assert_int_equal(rc, 0);
  pm_fs_closedir(nat, d);
  for (size_t i = 1; i < names.n; i++)
    for (size_t j = i; j > 0 && strcmp(names.v[j - 1], names.v[j]) > 0; j--) {
      char *t = names.v[j];
      names.v[j] = names.v[j - 1];
      names.v[j - 1] = t;
    }
  char *out = pm_xstrdup("");
  for (size_t i = 0; i < names.n; i++) {
    char *n = pm_xasprintf("%s%s\n", out, names.v[i]);
    free(out);
    out = n;
  }
  pm_strlist_free(&names);
  return out;
}

/* A symlink at `link` to `target`, or skip() where the OS makes none. */
static void make_link_or_skip(const char *target, const char *link) {
  int rc = pm_fs_symlink(nat, target, link);
  if (rc) {
    printf("  no symlink here (%s): case skipped\n", pm_errname(rc));
    skip();
  }
}

/* ---- cases ---- */

static void test_fileutil_round_trip(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *p = pm_xasprintf("%s/state", dir);
  char *a = pattern(100000, 1), *b = pattern(3, 2);
  assert_int_equal(pm_file_write_atomic(nat, p, a, 100000, 0644,
                                        PM_FILE_SYNC),
                   0);
  char *got;
  size_t len;
  assert_int_equal(pm_file_read(nat, p, 1 << 20, &got, &len), 0);
  assert_int_equal(len, 100000);
  assert_memory_equal(got, a, len);
  assert_int_equal(got[len], '\0');
  free(got);
  /* Replaced whole; no temporary stays beside it. */
  assert_int_equal(pm_file_write_atomic(nat, p, b, 3, 0644, 0), 0);
  assert_content(p, b, 3);
  char *names = listing(dir);
  assert_string_equal(names, "state\n");
  free(names);
  /* Empty files too; a bound below the size is PM_EFBIG. */
  assert_int_equal(pm_file_write_atomic(nat, p, "", 0, 0644, 0), 0);
  assert_int_equal(pm_file_read(nat, p, 0, &got, &len), 0);
  assert_int_equal(len, 0);
  free(got);
  assert_int_equal(pm_file_write_atomic(nat, p, a, 10, 0644, 0), 0);
  assert_int_equal(pm_file_read(nat, p, 9, &got, &len), PM_EFBIG);
  assert_null(got);
  assert_int_equal(len, 0);
  /* Absent: PM_ENOENT. */
  char *q = pm_xasprintf("%s/absent", dir);
  assert_int_equal(pm_file_read(nat, q, 9, &got, &len), PM_ENOENT);
  free(q);
  free(a);
  free(b);
  free(p);
}

static void test_fileutil_short_transfers(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *p = pm_xasprintf("%s/f", dir), *c = pm_xasprintf("%s/copy", dir);
  size_t n = 300001;
  char *a = pattern(n, 3);
  cuts = 0;
  assert_int_equal(pm_file_write_atomic(&short_fs, p, a, n, 0600,
                                        PM_FILE_SYNC),
                   0);
  assert_true(cuts > 0);
  assert_content(p, a, n);
  cuts = 0;
  char *got;
  size_t len;
  assert_int_equal(pm_file_read(&short_fs, p, n, &got, &len), 0);
  assert_true(cuts > 0);
  assert_int_equal(len, n);
  assert_memory_equal(got, a, n);
  free(got);
  cuts = 0;
  assert_int_equal(pm_file_copy(&short_fs, p, c, PM_FILE_SYNC), 0);
  assert_true(cuts > 0);
  assert_content(c, a, n);
  pm_stat s1, s2;
  assert_int_equal(pm_fs_stat(nat, p, false, &s1), 0);
  assert_int_equal(pm_fs_stat(nat, c, false, &s2), 0);
  assert_int_equal(s1.mtime.sec, s2.mtime.sec);
  /* pm_file_write_all on its own, at an offset. */
  pm_fd fd;
  assert_int_equal(pm_fs_open(nat, c, PM_O_RDWR, 0, &fd), 0);
  assert_int_equal(pm_file_write_all(&short_fs, fd, "abcdefgh", 8, 5), 0);
  pm_fs_close(nat, fd);
  memcpy(a + 5, "abcdefgh", 8);
  assert_content(c, a, n);
  /* An existing dst is never written by pm_file_copy. */
  assert_int_equal(pm_file_copy(nat, p, c, 0), PM_EEXIST);
  assert_content(c, a, n);
  free(a);
  free(p);
  free(c);
}

/* The disk fills in the middle of a replacement: the old file is left
 * whole and no temporary stays. */
static void test_fileutil_enospc_keeps_old(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *p = pm_xasprintf("%s/plan", dir);
  char *old = pattern(5000, 4), *neu = pattern(70000, 5);
  assert_int_equal(pm_file_write_atomic(nat, p, old, 5000, 0644, 0), 0);
  for (int64_t budget = 0; budget < 70000; budget += 7001) {
    space = budget;
    assert_int_equal(
        pm_file_write_atomic(&full_fs, p, neu, 70000, 0644, PM_FILE_SYNC),
        PM_ENOSPC);
    assert_content(p, old, 5000);
    char *names = listing(dir);
    assert_string_equal(names, "plan\n");
    free(names);
  }
  space = 70000;
  assert_int_equal(
      pm_file_write_atomic(&full_fs, p, neu, 70000, 0644, PM_FILE_SYNC), 0);
  assert_content(p, neu, 70000);
  free(old);
  free(neu);
  free(p);
}

/* A file that shrinks or grows while read is not read as whole. */
static void test_fileutil_changed_under_read(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *p = pm_xasprintf("%s/f", dir);
  char *a = pattern(1000, 6);
  assert_int_equal(pm_file_write_atomic(nat, p, a, 1000, 0644, 0), 0);
  char *got;
  size_t len;
  size_skew = 10; /* fstat says 1010: the file ends early */
  assert_int_equal(pm_file_read(&liar_fs, p, 1 << 20, &got, &len),
                   PM_ESHORT);
  assert_null(got);
  size_skew = -10; /* fstat says 990: there is more */
  assert_int_equal(pm_file_read(&liar_fs, p, 1 << 20, &got, &len),
                   PM_ECHANGED);
  assert_null(got);
  size_skew = 0;
  free(a);
  free(p);
}

static void test_fileutil_symlink_refused(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *victim = pm_xasprintf("%s/victim", dir);
  char *link = pm_xasprintf("%s/state", dir);
  assert_int_equal(pm_file_write_atomic(nat, victim, "precious", 8, 0644, 0),
                   0);
  make_link_or_skip(victim, link);
  assert_int_equal(pm_file_write_atomic(nat, link, "evil", 4, 0644, 0),
                   PM_ELOOP);
  char *got;
  size_t len;
  assert_int_equal(pm_file_read(nat, link, 100, &got, &len), PM_ELOOP);
  char *c = pm_xasprintf("%s/copy", dir);
  assert_int_equal(pm_file_copy(nat, link, c, 0), PM_ELOOP);
  /* A copy onto a link is refused too, and nothing is written through. */
  assert_int_equal(pm_file_copy(nat, victim, link, 0), PM_EEXIST);
  assert_content(victim, "precious", 8);
  pm_stat st;
  assert_int_equal(pm_fs_stat(nat, link, false, &st), 0);
  assert_int_equal(st.type, PM_T_SYMLINK);
  free(c);
  free(victim);
  free(link);
}

static void test_fileutil_mkdirs(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *p = pm_xasprintf("%s/a/b//c/", dir);
  uint64_t made = 0;
  assert_int_equal(pm_file_mkdirs(nat, p, 0755, &made), 0);
  assert_int_equal(made, 3);
  pm_stat st;
  char *c = pm_xasprintf("%s/a/b/c", dir);
  assert_int_equal(pm_fs_stat(nat, c, false, &st), 0);
  assert_int_equal(st.type, PM_T_DIR);
  made = 0;
  assert_int_equal(pm_file_mkdirs(nat, c, 0755, &made), 0);
  assert_int_equal(made, 0);
  char *f = pm_xasprintf("%s/a/file", dir), *under = pm_xasprintf("%s/x", f);
  assert_int_equal(pm_file_write_atomic(nat, f, "x", 1, 0644, 0), 0);
  assert_int_equal(pm_file_mkdirs(nat, under, 0755, NULL), PM_ENOTDIR);
  assert_int_equal(pm_file_mkdirs(nat, f, 0755, NULL), PM_ENOTDIR);
  free(f);
  free(under);
  free(c);
  free(p);
}

static void put(const char *dir, const char *rel, const char *text) {
  char *p = pm_path_join(dir, rel);
  assert_int_equal(pm_file_write_atomic(nat, p, text, strlen(text), 0644, 0),
                   0);
  free(p);
}

static void test_fileutil_remove_tree(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *root = pm_xasprintf("%s/tree", dir);
  char *deep = pm_xasprintf("%s/tree/a/b/c", dir);
  assert_int_equal(pm_file_mkdirs(nat, deep, 0755, NULL), 0);
  put(dir, "tree/f", "1");
  put(dir, "tree/a/g", "2");
  put(dir, "tree/a/b/c/h", "3");
  char *fail = NULL;
  assert_int_equal(pm_file_remove_tree(nat, root, &fail), 0);
  assert_null(fail);
  pm_stat st;
  assert_int_equal(pm_fs_stat(nat, root, false, &st), PM_ENOENT);
  /* Absent: nothing to do. */
  assert_int_equal(pm_file_remove_tree(nat, root, &fail), 0);
  /* A single file. */
  put(dir, "single", "x");
  char *single = pm_xasprintf("%s/single", dir);
  assert_int_equal(pm_file_remove_tree(nat, single, NULL), 0);
  assert_int_equal(pm_fs_stat(nat, single, false, &st), PM_ENOENT);
  free(single);
  free(deep);
  free(root);
}

/* Links inside the tree, and the tree's root given as a link, are removed
 * themselves: what they point to stays. */
static void test_fileutil_remove_tree_links(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *outside = pm_xasprintf("%s/outside", dir);
  char *keep = pm_xasprintf("%s/outside/keep", dir);
  char *root = pm_xasprintf("%s/tree", dir);
  char *sub = pm_xasprintf("%s/tree/sub", dir);
  assert_int_equal(pm_file_mkdirs(nat, outside, 0755, NULL), 0);
  assert_int_equal(pm_file_mkdirs(nat, sub, 0755, NULL), 0);
  put(dir, "outside/keep", "keep");
  char *l1 = pm_xasprintf("%s/tree/sub/to-dir", dir);
  char *l2 = pm_xasprintf("%s/tree/to-file", dir);
  make_link_or_skip(outside, l1);
  assert_int_equal(pm_fs_symlink(nat, keep, l2), 0);
  assert_int_equal(pm_file_remove_tree(nat, root, NULL), 0);
  pm_stat st;
  assert_int_equal(pm_fs_stat(nat, root, false, &st), PM_ENOENT);
  assert_content(keep, "keep", 4);
  /* The root itself a link to a folder: the link goes, the folder stays. */
  char *lroot = pm_xasprintf("%s/lroot", dir);
  assert_int_equal(pm_fs_symlink(nat, outside, lroot), 0);
  assert_int_equal(pm_file_remove_tree(nat, lroot, NULL), 0);
  assert_int_equal(pm_fs_stat(nat, lroot, false, &st), PM_ENOENT);
  assert_content(keep, "keep", 4);
  free(lroot);
  free(l1);
  free(l2);
  free(sub);
  free(root);
  free(keep);
  free(outside);
}

/* Temporaries are named "<path>.tmp-<pid>-<n>" with this process's id. */
static void test_fileutil_temp_name(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *p = pm_xasprintf("%s/m.xxh128", dir);
  pm_fd fd;
  char *tmp;
  assert_int_equal(pm_file_create_temp(nat, p, PM_O_RDWR, 0600, &fd, &tmp),
                   0);
  pm_fs_close(nat, fd);
  char *prefix = pm_xasprintf("%s.tmp-%u-", p, (unsigned)pm_process_id());
  assert_int_equal(strncmp(tmp, prefix, strlen(prefix)), 0);
  const char *rest = tmp + strlen(prefix);
  assert_true(strlen(rest) >= 6);
  assert_int_equal(strspn(rest, "0123456789abcdef"), strlen(rest));
  assert_int_equal(pm_fs_unlink(nat, tmp), 0);
  free(prefix);
  free(tmp);
  free(p);
}

/* pm_process_alive (sys.h), which decides whether a temporary's writer
 * has ended: this process is alive, an ended and reaped child is not. */
static void test_fileutil_process_alive(void **state) {
  (void)state;
  assert_true(pm_process_alive(pm_process_id()));
  assert_true(pm_process_alive(0));
  uint32_t pid;
#ifdef _WIN32
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  wchar_t cmd[] = L"cmd.exe /c exit 0";
  assert_true(CreateProcessW(NULL, cmd, NULL, NULL, FALSE, CREATE_NO_WINDOW,
                             NULL, NULL, &si, &pi));
  pid = (uint32_t)pi.dwProcessId;
  assert_true(pm_process_alive(pid)); /* our handle keeps it */
  WaitForSingleObject(pi.hProcess, INFINITE);
  assert_false(pm_process_alive(pid)); /* ended: its handle is signalled */
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
#else
  pid_t c = fork();
  assert_true(c >= 0);
  if (c == 0) _exit(0);
  pid = (uint32_t)c;
  assert_int_equal(waitpid(c, NULL, 0), c);
#endif
  assert_false(pm_process_alive(pid));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fileutil_round_trip),
      cmocka_unit_test(test_fileutil_short_transfers),
      cmocka_unit_test(test_fileutil_enospc_keeps_old),
      cmocka_unit_test(test_fileutil_changed_under_read),
      cmocka_unit_test(test_fileutil_symlink_refused),
      cmocka_unit_test(test_fileutil_mkdirs),
      cmocka_unit_test(test_fileutil_remove_tree),
      cmocka_unit_test(test_fileutil_remove_tree_links),
      cmocka_unit_test(test_fileutil_temp_name),
      cmocka_unit_test(test_fileutil_process_alive),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
