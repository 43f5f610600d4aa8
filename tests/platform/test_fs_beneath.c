/* test_fs_beneath.c - the native table's calls beneath a directory handle
 * (open_at, stat_at ... in platform.h): a link in any component is
 * refused with PM_ELOOP and what it points to is neither read nor
 * changed, ".." and absolute paths are refused with PM_EXDEV, paths
 * longer than PATH_MAX (MAX_PATH on Windows) still work, and a FIFO or a
 * directory opened with PM_O_REGULAR fails at once.
 *
 * Every test runs twice on Linux: with openat2 and with the component
 * walk that kernels without it get (POMOVE_NO_OPENAT2=1, read by
 * fs_linux.c at each call); once on Windows (one walk, NtCreateFile
 * relative to each directory handle).
 *
 * The cases that need a link (a symbolic link on Linux, a junction on
 * Windows, made by beneath_links_<os>.c with the OS's own calls) run as
 * their own CTest entry, `test_fs_beneath links`, which exits 77
 * (skipped) when the OS cannot make one: Wine 8 cannot make a junction
 * and follows Unix symlinks without a trace, so there the link cases are
 * skipped, never passed. The other cases run everywhere. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beneath_links.h"
#include "contract.h"
#include "platform.h"
#include "testutil.h"
#include "util.h"

#ifdef _WIN32
static const char *const modes[] = {"NtCreateFile walk"};
enum { NMODES = 1, COMP = 100 };
#else
static const char *const modes[] = {"openat2", "component walk"};
/* Components of the long paths: 30 of them pass PATH_MAX (4096) on
 * Linux. On Windows 100-unit components pass MAX_PATH many times over
 * and keep the Unix form of the path under Wine below its PATH_MAX. */
enum { NMODES = 2, COMP = 200 };
#endif

static void set_mode(int m) {
  tu_setenv("POMOVE_NO_OPENAT2", m ? "1" : NULL);
  printf("  [%s]\n", modes[m]);
}

static char *cat(const char *a, const char *b) {
  return pm_xasprintf("%s/%s", a, b);
}

/* The mode stat reports after a chmod to `mode`: Windows keeps only the
 * read-only bit of a file and no mode for a directory. */
static uint32_t shown(uint32_t mode, bool dir) {
#ifdef _WIN32
  if (dir) return 0777;
  return (mode & 0200) ? 0666 : 0444;
#else
  (void)dir;
  return mode;
#endif
}

/* root/ with a/b/f ("inside") and outside/ beside it with b/f
 * ("OUTSIDE") and secret. With links: root/a/l -> outside (a link in
 * the middle of a/l/b/f) and root/a/leaf -> outside/secret (POSIX) or
 * outside/b (a junction leads to a directory only). */
typedef struct fixture {
  char *root, *outside;
  char leaf_target[1024];
  uint32_t secret_mode;
  pm_fd dir;
} fixture;

static void fixture_make(fixture *fx, bool links) {
  const pm_fs *fs = pm_fs_native();
  const char *base = tu_scratch();
  fx->root = cat(base, "root");
  fx->outside = cat(base, "outside");
  /* Plain directories and files through the path slots and stdio, not
   * through the *_at slots under test. */
  assert_int_equal(pm_fs_mkdir(fs, fx->root, 0755), 0);
  assert_int_equal(pm_fs_mkdir(fs, ct_str("%s/a", fx->root), 0755), 0);
  assert_int_equal(pm_fs_mkdir(fs, ct_str("%s/a/b", fx->root), 0755), 0);
  assert_int_equal(pm_fs_mkdir(fs, fx->outside, 0755), 0);
  assert_int_equal(pm_fs_mkdir(fs, ct_str("%s/b", fx->outside), 0755), 0);
  tu_write_text(ct_str("%s/a/b/f", fx->root), "inside");
  tu_write_text(ct_str("%s/b/f", fx->outside), "OUTSIDE");
  tu_write_text(ct_str("%s/secret", fx->outside), "secret");
  pm_stat st;
  assert_int_equal(pm_fs_stat(fs, ct_str("%s/secret", fx->outside), true, &st), 0);
  fx->secret_mode = st.mode;
  if (links) {
    char ignored[1024];
    assert_int_equal(bl_link(ct_str("%s/a/l", fx->root), "../../outside",
                             fx->outside, ignored, sizeof ignored),
                     0);
#ifdef _WIN32
    const char *leaf_abs = ct_str("%s/b", fx->outside);
#else
    const char *leaf_abs = ct_str("%s/secret", fx->outside);
#endif
    assert_int_equal(bl_link(ct_str("%s/a/leaf", fx->root),
                             "../../outside/secret", leaf_abs,
                             fx->leaf_target, sizeof fx->leaf_target),
                     0);
  }
  assert_int_equal(pm_fs_open(fs, fx->root, PM_O_RDONLY | PM_O_DIRECTORY, 0,
                            &fx->dir),
                   0);
}

/* The names in directory `path` (path-based opendir), sorted, each
 * followed by a space. */
static char *names_in(const char *path) {
  const pm_fs *fs = pm_fs_native();
  pm_dir *d;
  assert_int_equal(pm_fs_opendir(fs, path, &d), 0);
  char *names[16];
  size_t n = 0;
  pm_dirent e;
  int rc;
  while ((rc = pm_fs_readdir(fs, d, &e)) == 1) {
    assert_true(n < 16);
    names[n++] = pm_xstrdup(e.name);
  }
  assert_int_equal(rc, 0);
  pm_fs_closedir(fs, d);
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      char *t = names[j];
      names[j] = names[j - 1];
      names[j - 1] = t;
    }
  char *out = ct_str("%s", "");
  for (size_t i = 0; i < n; i++) {
    out = ct_str("%s%s ", out, names[i]);
    free(names[i]);
  }
  return out;
}

static void fixture_free(fixture *fx) {
  const pm_fs *fs = pm_fs_native();
  pm_fs_close(fs, fx->dir);
  /* Nothing outside changed, whatever the test did. */
  char *s = tu_read_all(ct_str("%s/b/f", fx->outside), NULL);
  assert_non_null(s);
  assert_string_equal(s, "OUTSIDE");
  free(s);
  s = tu_read_all(ct_str("%s/secret", fx->outside), NULL);
  assert_non_null(s);
  assert_string_equal(s, "secret");
  free(s);
  assert_string_equal(names_in(fx->outside), "b secret ");
  assert_string_equal(names_in(ct_str("%s/b", fx->outside)), "f ");
  pm_stat st;
  assert_int_equal(pm_fs_stat(fs, ct_str("%s/secret", fx->outside), true, &st), 0);
  assert_int_equal(st.mode, fx->secret_mode);
  free(fx->root);
  free(fx->outside);
  ct_strings_free();
  tu_cleanup();
}

static void test_fs_beneath_plain(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  for (int m = 0; m < NMODES; m++) {
    set_mode(m);
    fixture fx;
    fixture_make(&fx, false);
    pm_fd fd;
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/b/f", PM_O_RDONLY, 0, &fd), 0);
    char buf[16] = {0};
    assert_int_equal(pm_fs_pread(fs, fd, buf, sizeof buf, 0), 6);
    assert_string_equal(buf, "inside");
    pm_fs_close(fs, fd);
    pm_stat st;
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/b", &st), 0);
    assert_int_equal(st.type, PM_T_DIR);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "", &st), 0);
    assert_int_equal(st.type, PM_T_DIR);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/b/f", &st), 0);
    assert_int_equal(st.type, PM_T_FILE);
    assert_int_equal(st.size, 6);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/nope", &st), PM_ENOENT);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/nope/f", &st), PM_ENOENT);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/b/f/x", &st), PM_ENOTDIR);
    size_t len;
    assert_int_equal(pm_fs_readlink_at(fs, fx.dir, "a/b/f", buf, sizeof buf, &len),
                     PM_EINVAL);
    pm_time t = {.sec = 1000000000, .nsec = 0};
    /* Creation, links, removal and metadata, nested. */
    assert_int_equal(pm_fs_mkdir_at(fs, fx.dir, "a/b/new", 0700), 0);
    assert_int_equal(pm_fs_mkdir_at(fs, fx.dir, "a/b/new", 0700), PM_EEXIST);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/b/new/g",
                                 PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL, 0600,
                                 &fd),
                     0);
    assert_int_equal(pm_fs_pwrite(fs, fd, "gg", 2, 0), 2);
    /* An empty rel on a file's own handle: its metadata, no lookup. */
    assert_int_equal(pm_fs_chmod_at(fs, fd, "", 0444), 0);
    assert_int_equal(pm_fs_utimes_at(fs, fd, "", &t, &t), 0);
    assert_int_equal(pm_fs_chown_at(fs, fd, "", (uint32_t)-1, (uint32_t)-1), 0);
    assert_int_equal(pm_fs_fstat(fs, fd, &st), 0);
    assert_int_equal(st.mode, 0444);
    assert_int_equal(st.mtime.sec, 1000000000);
    int xr = pm_fs_xattr_set_at(fs, fd, "", "user.pomove", "v", 1);
    if (xr == 0) {
      char v[8];
      assert_int_equal(pm_fs_xattr_get_at(fs, fx.dir, "a/b/new/g", "user.pomove", v,
                                        sizeof v, &len),
                       0);
      assert_int_equal(len, 1);
      /* List, read and remove on the handle itself too (Linux: the f*
       * calls on the descriptor). */
      char names[256];
      assert_int_equal(pm_fs_xattr_list_at(fs, fd, "", names, sizeof names, &len),
                       0);
      assert_int_equal(len, sizeof "user.pomove");
      assert_string_equal(names, "user.pomove");
      assert_int_equal(pm_fs_xattr_get_at(fs, fd, "", "user.pomove", NULL, 0, &len),
                       0);
      assert_int_equal(len, 1);
      assert_int_equal(pm_fs_xattr_get_at(fs, fd, "", "user.none", v, sizeof v,
                                          &len),
                       PM_ENODATA);
      assert_int_equal(pm_fs_xattr_remove_at(fs, fd, "", "user.pomove"), 0);
      assert_int_equal(pm_fs_xattr_remove_at(fs, fd, "", "user.pomove"),
                       PM_ENODATA);
      assert_int_equal(pm_fs_xattr_set_at(fs, fd, "", "user.pomove", "v", 1), 0);
    } else {
      assert_int_equal(xr, PM_ENOTSUP);
    }
    pm_fs_close(fs, fd);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/b/new/g",
                                 PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL, 0600,
                                 &fd),
                     PM_EEXIST);
    /* The same through a read-only handle: metadata needs no write
     * access to the data (Windows reopens the handle's own object). */
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/b/new/g", PM_O_RDONLY, 0, &fd), 0);
    pm_time t2 = {.sec = 1100000000, .nsec = 0};
    assert_int_equal(pm_fs_utimes_at(fs, fd, "", NULL, &t2), 0);
    assert_int_equal(pm_fs_chmod_at(fs, fd, "", 0644), 0);
    assert_int_equal(pm_fs_fstat(fs, fd, &st), 0);
    assert_int_equal(st.mtime.sec, 1100000000);
    assert_int_equal(st.mode, shown(0644, false));
    assert_int_equal(pm_fs_chmod_at(fs, fd, "", 0444), 0);
    pm_fs_close(fs, fd);
    assert_int_equal(pm_fs_link_at(fs, fx.dir, "a/b/new/g", fx.dir, "a/h"), 0);
    assert_int_equal(pm_fs_link_at(fs, fx.dir, "a/b/new/g", fx.dir, "a/h"),
                     PM_EEXIST);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/h", &st), 0);
    assert_int_equal(st.nlink, 2);
    assert_int_equal(pm_fs_chmod_at(fs, fx.dir, "a/h", 0640), 0);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/b/new/g", &st), 0);
    assert_int_equal(st.mode, shown(0640, false));
    /* PM_O_TRUNC empties the file and keeps it. */
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/h", PM_O_WRONLY | PM_O_TRUNC, 0,
                                 &fd),
                     0);
    assert_int_equal(pm_fs_fstat(fs, fd, &st), 0);
    assert_int_equal(st.size, 0);
    assert_int_equal(st.nlink, 2);
    assert_int_equal(pm_fs_pwrite(fs, fd, "hh", 2, 0), 2);
    pm_fs_close(fs, fd);
    assert_int_equal(pm_fs_chmod_at(fs, fx.dir, "", 0750), 0);
    assert_int_equal(pm_fs_utimes_at(fs, fx.dir, "", &t, &t), 0);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "", &st), 0);
    assert_int_equal(st.mode, shown(0750, true));
    assert_int_equal(st.mtime.sec, 1000000000);
    assert_int_equal(pm_fs_chown_at(fs, fx.dir, "a/h", (uint32_t)-1, (uint32_t)-1), 0);
    /* Windows 2000 has neither symbolic links nor FIFOs. */
    int sr = pm_fs_symlink_at(fs, "x", fx.dir, "a/b/new/s");
    assert_true(sr == 0 || sr == PM_ENOTSUP);
    int nr = pm_fs_mknod_at(fs, fx.dir, "a/b/new/p", PM_T_FIFO, 0600, 0);
    assert_true(nr == 0 || nr == PM_ENOTSUP);
    if (sr == 0) assert_int_equal(pm_fs_unlink_at(fs, fx.dir, "a/b/new/s"), 0);
    if (nr == 0) assert_int_equal(pm_fs_unlink_at(fs, fx.dir, "a/b/new/p"), 0);
    assert_int_equal(pm_fs_unlink_at(fs, fx.dir, "a/h"), 0);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/h", &st), PM_ENOENT);
    pm_dir *d;
    assert_int_equal(pm_fs_opendir_at(fs, fx.dir, "a/b/new", &d), 0);
    pm_dirent e;
    assert_int_equal(pm_fs_readdir(fs, d, &e), 1);
    assert_string_equal(e.name, "g");
    assert_int_equal(e.type, PM_T_FILE);
    assert_int_equal(pm_fs_readdir(fs, d, &e), 0);
    assert_int_equal(pm_fs_readdir(fs, d, &e), 0);
    pm_fs_closedir(fs, d);
    assert_int_equal(pm_fs_opendir_at(fs, fx.dir, "a/b/f", &d), PM_ENOTDIR);
    /* Removal: each call refuses the other's kind. */
    assert_int_equal(pm_fs_unlink_at(fs, fx.dir, "a/b/new"), PM_EISDIR);
    assert_int_equal(pm_fs_rmdir_at(fs, fx.dir, "a/b/new"), PM_ENOTEMPTY);
    assert_int_equal(pm_fs_rmdir_at(fs, fx.dir, "a/b/f"), PM_ENOTDIR);
    assert_int_equal(pm_fs_unlink_at(fs, fx.dir, "a/b/new/g"), 0);
    assert_int_equal(pm_fs_rmdir_at(fs, fx.dir, "a/b/new"), 0);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/b/new", &st), PM_ENOENT);
    char list[256];
    int xrc = pm_fs_xattr_list_at(fs, fx.dir, "a/b/f", list, sizeof list, &len);
    assert_true(xrc == 0 || xrc == PM_ENOTSUP);
    fixture_free(&fx);
  }
}

/* The last component may be a link for the calls that act on the entry
 * itself. */
static void test_fs_beneath_leaf_link(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  for (int m = 0; m < NMODES; m++) {
    set_mode(m);
    fixture fx;
    fixture_make(&fx, true);
    pm_stat st;
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/leaf", &st), 0);
    assert_int_equal(st.type, PM_T_SYMLINK);
    size_t len;
    char small[8];
    assert_int_equal(pm_fs_readlink_at(fs, fx.dir, "a/leaf", small, sizeof small,
                                     &len),
                     PM_ERANGE);
    char tgt[1024];
    assert_int_equal(pm_fs_readlink_at(fs, fx.dir, "a/leaf", tgt, sizeof tgt, &len),
                     0);
    assert_string_equal(tgt, fx.leaf_target);
    assert_int_equal(len, strlen(fx.leaf_target));
    pm_time t = {.sec = 1000000000, .nsec = 0};
    assert_int_equal(pm_fs_utimes_at(fs, fx.dir, "a/leaf", &t, &t), 0);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/leaf", &st), 0);
    assert_int_equal(st.mtime.sec, 1000000000);
    /* readdir gives the link's own type, or says it does not know. */
    pm_dir *d;
    assert_int_equal(pm_fs_opendir_at(fs, fx.dir, "a", &d), 0);
    pm_dirent e;
    int seen = 0;
    while (pm_fs_readdir(fs, d, &e) == 1)
      if (!strcmp(e.name, "leaf") || !strcmp(e.name, "l")) {
        assert_true(e.type == PM_T_SYMLINK || e.type == PM_T_UNKNOWN);
        seen++;
      }
    pm_fs_closedir(fs, d);
    assert_int_equal(seen, 2);
    /* unlink removes the link, never what it leads to; rmdir refuses it
     * (platform.h says PM_ENOTDIR; fs_linux.c reports the symlink it
     * found, PM_ELOOP). */
    int rr = pm_fs_rmdir_at(fs, fx.dir, "a/leaf");
    assert_true(rr == PM_ENOTDIR || rr == PM_ELOOP);
    assert_int_equal(pm_fs_unlink_at(fs, fx.dir, "a/leaf"), 0);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, "a/leaf", &st), PM_ENOENT);
    fixture_free(&fx);
  }
}

/* A link met anywhere in the path: refused by every call, the target
 * untouched (fixture_free checks). */
static void test_fs_beneath_symlink_component(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  for (int m = 0; m < NMODES; m++) {
    set_mode(m);
    fixture fx;
    fixture_make(&fx, true);
    pm_fd fd = PM_FD_INVALID;
    pm_stat st;
    char buf[64];
    size_t len;
    pm_time t = {.sec = 1000000000, .nsec = 0};
    pm_dir *d;
    const char *through[] = {"a/l/b/f", "a/l/secret", "a/l/b"};
    for (size_t i = 0; i < 3; i++) {
      const char *r = through[i];
      assert_int_equal(pm_fs_open_at(fs, fx.dir, r, PM_O_RDONLY, 0, &fd), PM_ELOOP);
      assert_int_equal(pm_fs_open_at(fs, fx.dir, r, PM_O_WRONLY | PM_O_TRUNC, 0, &fd),
                       PM_ELOOP);
      assert_int_equal(pm_fs_stat_at(fs, fx.dir, r, &st), PM_ELOOP);
      assert_int_equal(pm_fs_opendir_at(fs, fx.dir, r, &d), PM_ELOOP);
      assert_int_equal(pm_fs_chmod_at(fs, fx.dir, r, 0777), PM_ELOOP);
      assert_int_equal(pm_fs_utimes_at(fs, fx.dir, r, &t, &t), PM_ELOOP);
      assert_int_equal(pm_fs_chown_at(fs, fx.dir, r, (uint32_t)-1, (uint32_t)-1),
                       PM_ELOOP);
      assert_int_equal(pm_fs_unlink_at(fs, fx.dir, r), PM_ELOOP);
      assert_int_equal(pm_fs_rmdir_at(fs, fx.dir, r), PM_ELOOP);
      assert_int_equal(pm_fs_readlink_at(fs, fx.dir, r, buf, sizeof buf, &len),
                       PM_ELOOP);
      assert_int_equal(pm_fs_xattr_set_at(fs, fx.dir, r, "user.x", "1", 1), PM_ELOOP);
    }
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/l/new",
                                 PM_O_WRONLY | PM_O_CREAT, 0600, &fd),
                     PM_ELOOP);
    assert_int_equal(pm_fs_mkdir_at(fs, fx.dir, "a/l/newdir", 0700), PM_ELOOP);
    assert_int_equal(pm_fs_symlink_at(fs, "x", fx.dir, "a/l/news"), PM_ELOOP);
    assert_int_equal(pm_fs_mknod_at(fs, fx.dir, "a/l/newp", PM_T_FIFO, 0600, 0),
                     PM_ELOOP);
    assert_int_equal(pm_fs_link_at(fs, fx.dir, "a/b/f", fx.dir, "a/l/newl"), PM_ELOOP);
    assert_int_equal(pm_fs_link_at(fs, fx.dir, "a/l/secret", fx.dir, "a/x"), PM_ELOOP);
    /* The last component: open and chmod refuse it. */
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/leaf", PM_O_RDONLY, 0, &fd),
                     PM_ELOOP);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/leaf", PM_O_WRONLY | PM_O_CREAT,
                                 0600, &fd),
                     PM_ELOOP);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/leaf",
                                 PM_O_WRONLY | PM_O_CREAT | PM_O_TRUNC, 0600,
                                 &fd),
                     PM_ELOOP);
    /* Exclusive creation never goes through a link either. */
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/leaf",
                                 PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL, 0600,
                                 &fd),
                     PM_EEXIST);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/l", PM_O_RDONLY | PM_O_DIRECTORY,
                                 0, &fd),
                     PM_ELOOP);
    assert_int_equal(pm_fs_chmod_at(fs, fx.dir, "a/leaf", 0777), PM_ELOOP);
    assert_int_equal(pm_fs_opendir_at(fs, fx.dir, "a/l", &d), PM_ELOOP);
    /* Even a link that stays inside the tree is not followed. */
    char ignored[1024];
    assert_int_equal(bl_link(ct_str("%s/a/in", fx.root), "b",
                             ct_str("%s/a/b", fx.root), ignored,
                             sizeof ignored),
                     0);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/in/f", PM_O_RDONLY, 0, &fd),
                     PM_ELOOP);
    fixture_free(&fx);
  }
}

static void test_fs_beneath_escape(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  for (int m = 0; m < NMODES; m++) {
    set_mode(m);
    fixture fx;
    fixture_make(&fx, false);
    pm_fd fd;
    pm_stat st;
    char *abs = cat(fx.outside, "secret");
    const char *bad[] = {"..",
                         "../outside/secret",
                         "a/../../outside/secret",
                         "a/b/../f",
                         abs,
#ifdef _WIN32
                         /* Win32 readers take these for absolute paths, or
                          * '\' for a separator. */
                         "\\outside",
                         "a\\..\\..\\outside\\secret",
                         "C:/x",
                         "c:x",
#endif
                         "//srv/share"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
      assert_int_equal(pm_fs_open_at(fs, fx.dir, bad[i], PM_O_RDONLY, 0, &fd),
                       PM_EXDEV);
      assert_int_equal(pm_fs_stat_at(fs, fx.dir, bad[i], &st), PM_EXDEV);
      assert_int_equal(pm_fs_chmod_at(fs, fx.dir, bad[i], 0777), PM_EXDEV);
      assert_int_equal(pm_fs_unlink_at(fs, fx.dir, bad[i]), PM_EXDEV);
      assert_int_equal(pm_fs_rmdir_at(fs, fx.dir, bad[i]), PM_EXDEV);
    }
    assert_int_equal(pm_fs_mkdir_at(fs, fx.dir, "../outside/new", 0700), PM_EXDEV);
    free(abs);
    fixture_free(&fx);
  }
}

/* 30 nested directories of COMP bytes beneath the handle: more than
 * PATH_MAX (MAX_PATH) in all, made and used with the *_at calls. */
static char *long_tree(fixture *fx, size_t *n) {
  const pm_fs *fs = pm_fs_native();
  char comp[COMP + 1];
  memset(comp, 'd', COMP);
  comp[COMP] = '\0';
  char *rel = pm_xmalloc(30 * (COMP + 1) + 16);
  rel[0] = '\0';
  for (int i = 0; i < 30; i++) {
    if (i) strcat(rel, "/");
    strcat(rel, comp);
    assert_int_equal(pm_fs_mkdir_at(fs, fx->dir, rel, 0700), 0);
  }
  assert_true(strlen(rel) > PATH_MAX);
  *n = strlen(rel);
  strcat(rel, "/file");
  pm_fd fd;
  assert_int_equal(pm_fs_open_at(fs, fx->dir, rel, PM_O_WRONLY | PM_O_CREAT, 0600,
                               &fd),
                   0);
  assert_int_equal(pm_fs_pwrite(fs, fd, "deep", 4, 0), 4);
  pm_fs_close(fs, fd);
  pm_stat st;
  assert_int_equal(pm_fs_stat_at(fs, fx->dir, rel, &st), 0);
  assert_int_equal(st.size, 4);
  assert_int_equal(pm_fs_chmod_at(fs, fx->dir, rel, 0640), 0);
  return rel;
}

static void test_fs_beneath_long_path(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  for (int m = 0; m < NMODES; m++) {
    set_mode(m);
    fixture fx;
    fixture_make(&fx, false);
    size_t n;
    char *rel = long_tree(&fx, &n);
    pm_fd fd;
    assert_int_equal(pm_fs_open_at(fs, fx.dir, rel, PM_O_RDONLY, 0, &fd), 0);
    char buf[8] = {0};
    assert_int_equal(pm_fs_pread(fs, fd, buf, sizeof buf, 0), 4);
    assert_string_equal(buf, "deep");
    pm_fs_close(fs, fd);
    /* And down again, the deepest first. */
    assert_int_equal(pm_fs_unlink_at(fs, fx.dir, rel), 0);
    for (int i = 29; i >= 0; i--) {
      rel[n] = '\0';
      assert_int_equal(pm_fs_rmdir_at(fs, fx.dir, rel), 0);
      n = i ? n - (COMP + 1) : 0;
    }
    pm_stat st;
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, ct_str("%.*s", COMP, rel), &st),
                     PM_ENOENT);
    free(rel);
    fixture_free(&fx);
  }
}

/* The 25th directory of a long path (beyond PATH_MAX from the root)
 * replaced by a link to outside: the same long path is refused. */
static void test_fs_beneath_long_path_swap(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  for (int m = 0; m < NMODES; m++) {
    set_mode(m);
    fixture fx;
    fixture_make(&fx, false);
    size_t n;
    char *rel = long_tree(&fx, &n);
    rel[n] = '\0';
    size_t cut = 24 * (COMP + 1) + COMP; /* end of the 25th component */
    char *dir25 = pm_xmalloc(cut + 1);
    memcpy(dir25, rel, cut);
    dir25[cut] = '\0';
    char *full = cat(fx.root, dir25);
    char *moved = pm_xasprintf("%s/moved", fx.root);
    assert_int_equal(pm_fs_rename(fs, full, moved), 0);
    char ignored[1024];
    assert_int_equal(bl_link(full, fx.outside, fx.outside, ignored,
                             sizeof ignored),
                     0);
    strcat(rel, "/file");
    pm_fd fd;
    pm_stat st;
    assert_int_equal(pm_fs_open_at(fs, fx.dir, rel, PM_O_RDONLY, 0, &fd), PM_ELOOP);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, rel, &st), PM_ELOOP);
    assert_int_equal(pm_fs_unlink_at(fs, fx.dir, rel), PM_ELOOP);
    free(dir25);
    free(full);
    free(moved);
    free(rel);
    fixture_free(&fx);
  }
}

/* Names reach the file system as they are, through one component
 * each: trailing dots and spaces (which Win32 paths would strip), a
 * character outside the BMP (a surrogate pair in UTF-16), 255 units;
 * each round-trips through readdir. 256 is PM_ENAMETOOLONG. */
static void test_fs_beneath_names(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  char n255[256], n256[257];
  memset(n255, 'n', 255);
  n255[255] = '\0';
  memset(n256, 'n', 256);
  n256[256] = '\0';
  const char *names[] = {"dot.", "space ", "\xF0\x9F\x98\x80 smile", "..x",
                         n255};
  size_t count = sizeof names / sizeof *names;
  for (int m = 0; m < NMODES; m++) {
    set_mode(m);
    fixture fx;
    fixture_make(&fx, false);
    pm_fd fd;
    pm_stat st;
    for (size_t i = 0; i < count; i++) {
      const char *rel = ct_str("a/%s", names[i]);
      assert_int_equal(pm_fs_open_at(fs, fx.dir, rel,
                                   PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL, 0600,
                                   &fd),
                       0);
      pm_fs_close(fs, fd);
      assert_int_equal(pm_fs_stat_at(fs, fx.dir, rel, &st), 0);
      assert_int_equal(st.type, PM_T_FILE);
    }
    pm_dir *d;
    assert_int_equal(pm_fs_opendir_at(fs, fx.dir, "a", &d), 0);
    pm_dirent e;
    size_t found = 0;
    while (pm_fs_readdir(fs, d, &e) == 1) {
      if (!strcmp(e.name, "b")) continue;
      bool known = false;
      for (size_t i = 0; i < count; i++) known |= !strcmp(e.name, names[i]);
      assert_true(known);
      found++;
    }
    pm_fs_closedir(fs, d);
    assert_int_equal(found, count);
    for (size_t i = 0; i < count; i++)
      assert_int_equal(pm_fs_unlink_at(fs, fx.dir, ct_str("a/%s", names[i])), 0);
    assert_int_equal(pm_fs_mkdir_at(fs, fx.dir, ct_str("a/%s", n256), 0700),
                     PM_ENAMETOOLONG);
    assert_int_equal(pm_fs_stat_at(fs, fx.dir, ct_str("%s/x", n256), &st),
                     PM_ENAMETOOLONG);
#ifdef _WIN32
    /* ':' would name a stream of the component before it; these cannot
     * be NTFS names through Win32. */
    const char *bad[] = {"a/b/f:s", "a/x*", "a/x?", "a/x|y", "a/x\"<"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
      assert_int_equal(pm_fs_open_at(fs, fx.dir, bad[i],
                                   PM_O_WRONLY | PM_O_CREAT, 0600, &fd),
                       PM_EINVAL);
#endif
    fixture_free(&fx);
  }
}

/* PM_O_REGULAR: a FIFO without a writer is refused at once, never waited
 * on (the watchdog turns a regression into a failure instead of a
 * hang); so is a directory. Windows has no FIFO in a file system. */
static void test_fs_beneath_fifo(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  for (int m = 0; m < NMODES; m++) {
    set_mode(m);
    fixture fx;
    fixture_make(&fx, false);
    ct_watchdog *wd = ct_watchdog_start(10, "a FIFO open (PM_O_REGULAR)");
    pm_fd fd;
#ifndef _WIN32
    assert_int_equal(tu_sh("mkfifo '%s/a/b/p'", fx.root), 0);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/b/p", PM_O_RDONLY | PM_O_REGULAR,
                                 0, &fd),
                     PM_ESPECIAL);
#endif
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/b", PM_O_RDONLY | PM_O_REGULAR, 0,
                                 &fd),
                     PM_ESPECIAL);
    assert_int_equal(pm_oserr_of(PM_ESPECIAL), 0);
    ct_watchdog_stop(wd);
    /* A directory: a plain read-only open is allowed (POSIX), a write
     * open is PM_EISDIR, PM_O_DIRECTORY on a file PM_ENOTDIR. */
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/b", PM_O_RDONLY, 0, &fd), 0);
    pm_fs_close(fs, fd);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/b", PM_O_WRONLY, 0, &fd),
                     PM_EISDIR);
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/b/f", PM_O_RDONLY | PM_O_DIRECTORY,
                                 0, &fd),
                     PM_ENOTDIR);
    /* A regular file opened so reads as usual. */
    assert_int_equal(pm_fs_open_at(fs, fx.dir, "a/b/f", PM_O_RDONLY | PM_O_REGULAR,
                                 0, &fd),
                     0);
    char buf[8];
    assert_int_equal(pm_fs_pread(fs, fd, buf, sizeof buf, 0), 6);
    pm_fs_close(fs, fd);
    fixture_free(&fx);
  }
}

/* Whether this OS can put a link in a path here (made in a scratch
 * directory of its own, with the OS's calls, not the table's). */
static bool can_link(void) {
  const char *base = tu_scratch();
  char *dir = cat(base, "d");
  assert_int_equal(pm_fs_mkdir(pm_fs_native(), dir, 0755), 0);
  char expect[1024];
  int rc = bl_link(ct_str("%s/l", base), "d", dir, expect, sizeof expect);
  free(dir);
  ct_strings_free();
  tu_cleanup();
  return rc == 0;
}

int main(int argc, char **argv) {
  const struct CMUnitTest plain[] = {
      cmocka_unit_test(test_fs_beneath_plain),
      cmocka_unit_test(test_fs_beneath_escape),
      cmocka_unit_test(test_fs_beneath_long_path),
      cmocka_unit_test(test_fs_beneath_names),
      cmocka_unit_test(test_fs_beneath_fifo),
  };
  const struct CMUnitTest links[] = {
      cmocka_unit_test(test_fs_beneath_leaf_link),
      cmocka_unit_test(test_fs_beneath_symlink_component),
      cmocka_unit_test(test_fs_beneath_long_path_swap),
  };
  if (argc > 1 && !strcmp(argv[1], "links")) {
    tu_require(can_link(), bl_why_not());
    return cmocka_run_group_tests(links, NULL, NULL);
  }
  return cmocka_run_group_tests(plain, NULL, NULL);
}
