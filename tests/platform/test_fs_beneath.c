/* test_fs_beneath.c - the native table's calls beneath a directory handle
 * (open_at, stat_at ... in platform.h): a symlink in any component is
 * refused with PM_ELOOP and what it points to is neither read nor
 * changed, ".." and absolute paths are refused with PM_EXDEV, paths
 * longer than PATH_MAX still work, and a FIFO opened with PM_O_REGULAR
 * fails at once. Every test runs twice on Linux: with openat2 and with
 * the component walk that kernels without it get (POMOVE_NO_OPENAT2=1,
 * read by fs_linux.c at each call). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "platform.h"
#include "testutil.h"
#include "util.h"

static const char *const modes[] = {"openat2", "component walk"};

static void set_mode(int m) {
  tu_setenv("POMOVE_NO_OPENAT2", m ? "1" : NULL);
  printf("  [%s]\n", modes[m]);
}

static char *cat(const char *a, const char *b) {
  return pm_xasprintf("%s/%s", a, b);
}

/* root/ with a/b/f ("inside") and outside/ beside it with b/f
 * ("OUTSIDE") and secret; root/a/l -> ../../outside (a symlink in the
 * middle of a/l/b/f), root/a/leaf -> ../../outside/secret. */
typedef struct fixture {
  char *root, *outside;
  pm_fd dir;
} fixture;

static void fixture_make(fixture *fx) {
  const char *base = tu_scratch();
  fx->root = cat(base, "root");
  fx->outside = cat(base, "outside");
  assert_int_equal(tu_sh("mkdir -p '%s/a/b' '%s/b' && printf inside > "
                         "'%s/a/b/f' && printf OUTSIDE > '%s/b/f' && printf "
                         "secret > '%s/secret' && ln -s ../../outside "
                         "'%s/a/l' && ln -s ../../outside/secret '%s/a/leaf'",
                         fx->root, fx->outside, fx->root, fx->outside,
                         fx->outside, fx->root, fx->root),
                   0);
  assert_int_equal(pm_fs_native()->open(fx->root, PM_O_RDONLY | PM_O_DIRECTORY,
                                        0, &fx->dir),
                   0);
}

static void fixture_free(fixture *fx) {
  pm_fs_native()->close(fx->dir);
  /* Nothing outside changed, whatever the test did. */
  assert_int_equal(tu_sh("cd '%s' && test \"$(cat b/f)\" = OUTSIDE && "
                         "test \"$(cat secret)\" = secret && "
                         "test \"$(ls -A | tr '\\n' ' ')\" = 'b secret ' && "
                         "test \"$(ls -A b)\" = f && "
                         "test $(stat -c %%a secret) = 644",
                         fx->outside),
                   0);
  free(fx->root);
  free(fx->outside);
  tu_cleanup();
}

static void test_fs_beneath_plain(void **state) {
  (void)state;
  const pm_fs_ops *fs = pm_fs_native();
  for (int m = 0; m < 2; m++) {
    set_mode(m);
    fixture fx;
    fixture_make(&fx);
    pm_fd fd;
    assert_int_equal(fs->open_at(fx.dir, "a/b/f", PM_O_RDONLY, 0, &fd), 0);
    char buf[16] = {0};
    assert_int_equal(fs->pread(fd, buf, sizeof buf, 0), 6);
    assert_string_equal(buf, "inside");
    fs->close(fd);
    pm_stat st;
    assert_int_equal(fs->stat_at(fx.dir, "a/b", &st), 0);
    assert_int_equal(st.type, PM_T_DIR);
    assert_int_equal(fs->stat_at(fx.dir, "", &st), 0);
    assert_int_equal(st.type, PM_T_DIR);
    /* The last component may be a symlink for the calls that act on the
     * entry itself. */
    assert_int_equal(fs->stat_at(fx.dir, "a/leaf", &st), 0);
    assert_int_equal(st.type, PM_T_SYMLINK);
    size_t len;
    assert_int_equal(fs->readlink_at(fx.dir, "a/leaf", buf, sizeof buf, &len),
                     PM_ERANGE);
    char tgt[64];
    assert_int_equal(fs->readlink_at(fx.dir, "a/leaf", tgt, sizeof tgt, &len), 0);
    assert_string_equal(tgt, "../../outside/secret");
    pm_time t = {.sec = 1000000000, .nsec = 0};
    assert_int_equal(fs->utimes_at(fx.dir, "a/leaf", &t, &t), 0);
    assert_int_equal(fs->stat_at(fx.dir, "a/leaf", &st), 0);
    assert_int_equal(st.mtime.sec, 1000000000);
    /* Creation, links, removal and metadata, nested. */
    assert_int_equal(fs->mkdir_at(fx.dir, "a/b/new", 0700), 0);
    assert_int_equal(fs->open_at(fx.dir, "a/b/new/g",
                                 PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL, 0600,
                                 &fd),
                     0);
    assert_int_equal(fs->pwrite(fd, "gg", 2, 0), 2);
    /* An empty rel on a file's own handle: its metadata, no lookup. */
    assert_int_equal(fs->chmod_at(fd, "", 0604), 0);
    assert_int_equal(fs->utimes_at(fd, "", &t, &t), 0);
    assert_int_equal(fs->chown_at(fd, "", (uint32_t)-1, (uint32_t)-1), 0);
    assert_int_equal(fs->fstat(fd, &st), 0);
    assert_int_equal(st.mode, 0604);
    assert_int_equal(st.mtime.sec, 1000000000);
    int xr = fs->xattr_set_at(fd, "", "user.pomove", "v", 1);
    if (xr == 0) {
      char v[8];
      assert_int_equal(fs->xattr_get_at(fx.dir, "a/b/new/g", "user.pomove", v,
                                        sizeof v, &len),
                       0);
      assert_int_equal(len, 1);
    } else {
      assert_int_equal(xr, PM_ENOTSUP);
    }
    fs->close(fd);
    assert_int_equal(fs->link_at(fx.dir, "a/b/new/g", fx.dir, "a/h"), 0);
    assert_int_equal(fs->stat_at(fx.dir, "a/h", &st), 0);
    assert_int_equal(st.nlink, 2);
    assert_int_equal(fs->chmod_at(fx.dir, "a/h", 0640), 0);
    assert_int_equal(fs->stat_at(fx.dir, "a/b/new/g", &st), 0);
    assert_int_equal(st.mode, 0640);
    assert_int_equal(fs->chmod_at(fx.dir, "", 0750), 0);
    assert_int_equal(fs->utimes_at(fx.dir, "", &t, &t), 0);
    assert_int_equal(fs->stat_at(fx.dir, "", &st), 0);
    assert_int_equal(st.mode, 0750);
    assert_int_equal(st.mtime.sec, 1000000000);
    assert_int_equal(fs->chown_at(fx.dir, "a/h", (uint32_t)-1, (uint32_t)-1), 0);
    assert_int_equal(fs->symlink_at("x", fx.dir, "a/b/new/s"), 0);
    assert_int_equal(fs->mknod_at(fx.dir, "a/b/new/p", PM_T_FIFO, 0600, 0), 0);
    assert_int_equal(fs->unlink_at(fx.dir, "a/b/new/s"), 0);
    assert_int_equal(fs->unlink_at(fx.dir, "a/b/new/p"), 0);
    assert_int_equal(fs->unlink_at(fx.dir, "a/h"), 0);
    pm_dir *d;
    assert_int_equal(fs->opendir_at(fx.dir, "a/b/new", &d), 0);
    pm_dirent e;
    assert_int_equal(fs->readdir(d, &e), 1);
    assert_string_equal(e.name, "g");
    assert_int_equal(fs->readdir(d, &e), 0);
    fs->closedir(d);
    char list[256];
    int xrc = fs->xattr_list_at(fx.dir, "a/b/f", list, sizeof list, &len);
    assert_true(xrc == 0 || xrc == PM_ENOTSUP);
    fixture_free(&fx);
  }
}

/* A symlink met anywhere in the path: refused by every call, the target
 * untouched (fixture_free checks). */
static void test_fs_beneath_symlink_component(void **state) {
  (void)state;
  const pm_fs_ops *fs = pm_fs_native();
  for (int m = 0; m < 2; m++) {
    set_mode(m);
    fixture fx;
    fixture_make(&fx);
    pm_fd fd = PM_FD_INVALID;
    pm_stat st;
    char buf[64];
    size_t len;
    pm_time t = {.sec = 1000000000, .nsec = 0};
    pm_dir *d;
    const char *through[] = {"a/l/b/f", "a/l/secret", "a/l/b"};
    for (size_t i = 0; i < 3; i++) {
      const char *r = through[i];
      assert_int_equal(fs->open_at(fx.dir, r, PM_O_RDONLY, 0, &fd), PM_ELOOP);
      assert_int_equal(fs->open_at(fx.dir, r, PM_O_WRONLY | PM_O_TRUNC, 0, &fd),
                       PM_ELOOP);
      assert_int_equal(fs->stat_at(fx.dir, r, &st), PM_ELOOP);
      assert_int_equal(fs->opendir_at(fx.dir, r, &d), PM_ELOOP);
      assert_int_equal(fs->chmod_at(fx.dir, r, 0777), PM_ELOOP);
      assert_int_equal(fs->utimes_at(fx.dir, r, &t, &t), PM_ELOOP);
      assert_int_equal(fs->chown_at(fx.dir, r, (uint32_t)-1, (uint32_t)-1),
                       PM_ELOOP);
      assert_int_equal(fs->unlink_at(fx.dir, r), PM_ELOOP);
      assert_int_equal(fs->readlink_at(fx.dir, r, buf, sizeof buf, &len),
                       PM_ELOOP);
      assert_int_equal(fs->xattr_set_at(fx.dir, r, "user.x", "1", 1), PM_ELOOP);
    }
    assert_int_equal(fs->open_at(fx.dir, "a/l/new",
                                 PM_O_WRONLY | PM_O_CREAT, 0600, &fd),
                     PM_ELOOP);
    assert_int_equal(fs->mkdir_at(fx.dir, "a/l/newdir", 0700), PM_ELOOP);
    assert_int_equal(fs->symlink_at("x", fx.dir, "a/l/news"), PM_ELOOP);
    assert_int_equal(fs->mknod_at(fx.dir, "a/l/newp", PM_T_FIFO, 0600, 0),
                     PM_ELOOP);
    assert_int_equal(fs->link_at(fx.dir, "a/b/f", fx.dir, "a/l/newl"), PM_ELOOP);
    assert_int_equal(fs->link_at(fx.dir, "a/l/secret", fx.dir, "a/x"), PM_ELOOP);
    /* The last component: open and chmod refuse it. */
    assert_int_equal(fs->open_at(fx.dir, "a/leaf", PM_O_RDONLY, 0, &fd),
                     PM_ELOOP);
    assert_int_equal(fs->open_at(fx.dir, "a/leaf", PM_O_WRONLY | PM_O_CREAT,
                                 0600, &fd),
                     PM_ELOOP);
    assert_int_equal(fs->chmod_at(fx.dir, "a/leaf", 0777), PM_ELOOP);
    assert_int_equal(fs->opendir_at(fx.dir, "a/l", &d), PM_ELOOP);
    /* Even a symlink that stays inside the tree is not followed. */
    assert_int_equal(tu_sh("ln -s b '%s/a/in'", fx.root), 0);
    assert_int_equal(fs->open_at(fx.dir, "a/in/f", PM_O_RDONLY, 0, &fd),
                     PM_ELOOP);
    fixture_free(&fx);
  }
}

static void test_fs_beneath_escape(void **state) {
  (void)state;
  const pm_fs_ops *fs = pm_fs_native();
  for (int m = 0; m < 2; m++) {
    set_mode(m);
    fixture fx;
    fixture_make(&fx);
    pm_fd fd;
    pm_stat st;
    char *abs = cat(fx.outside, "secret");
    const char *bad[] = {"..", "../outside/secret", "a/../../outside/secret",
                         "a/b/../f", abs};
    for (size_t i = 0; i < 5; i++) {
      assert_int_equal(fs->open_at(fx.dir, bad[i], PM_O_RDONLY, 0, &fd),
                       PM_EXDEV);
      assert_int_equal(fs->stat_at(fx.dir, bad[i], &st), PM_EXDEV);
      assert_int_equal(fs->chmod_at(fx.dir, bad[i], 0777), PM_EXDEV);
      assert_int_equal(fs->unlink_at(fx.dir, bad[i]), PM_EXDEV);
    }
    assert_int_equal(fs->mkdir_at(fx.dir, "../outside/new", 0700), PM_EXDEV);
    free(abs);
    fixture_free(&fx);
  }
}

/* A path of more than PATH_MAX bytes below the handle, built and read
 * with the *_at calls; a symlink deep in it is still refused. */
static void test_fs_beneath_long_path(void **state) {
  (void)state;
  const pm_fs_ops *fs = pm_fs_native();
  for (int m = 0; m < 2; m++) {
    set_mode(m);
    fixture fx;
    fixture_make(&fx);
    char comp[201];
    memset(comp, 'd', 200);
    comp[200] = '\0';
    size_t cap = 64 * 202 + 16;
    char *rel = calloc(1, cap);
    for (int i = 0; i < 30; i++) {
      if (i) strcat(rel, "/");
      strcat(rel, comp);
      assert_int_equal(fs->mkdir_at(fx.dir, rel, 0700), 0);
    }
    assert_true(strlen(rel) > PATH_MAX);
    size_t n = strlen(rel);
    strcat(rel, "/file");
    pm_fd fd;
    assert_int_equal(fs->open_at(fx.dir, rel, PM_O_WRONLY | PM_O_CREAT, 0600,
                                 &fd),
                     0);
    assert_int_equal(fs->pwrite(fd, "deep", 4, 0), 4);
    fs->close(fd);
    pm_stat st;
    assert_int_equal(fs->stat_at(fx.dir, rel, &st), 0);
    assert_int_equal(st.size, 4);
    assert_int_equal(fs->chmod_at(fx.dir, rel, 0640), 0);
    /* Replace the 25th directory (beyond PATH_MAX from the root) by a
     * symlink to outside: the same long path is refused. */
    rel[n] = '\0';
    size_t cut = 24 * 201 + 200; /* end of the 25th component */
    char *dir25 = pm_xmalloc(cut + 1);
    memcpy(dir25, rel, cut);
    dir25[cut] = '\0';
    char *full = cat(fx.root, dir25);
    char *moved = pm_xasprintf("%s/moved", fx.root);
    assert_int_equal(fs->rename(full, moved), 0);
    assert_int_equal(fs->symlink(fx.outside, full), 0);
    strcat(rel, "/file");
    assert_int_equal(fs->open_at(fx.dir, rel, PM_O_RDONLY, 0, &fd), PM_ELOOP);
    assert_int_equal(fs->stat_at(fx.dir, rel, &st), PM_ELOOP);
    assert_int_equal(fs->unlink_at(fx.dir, rel), PM_ELOOP);
    free(dir25);
    free(full);
    free(moved);
    free(rel);
    assert_int_equal(tu_sh("rm -rf '%s/dddd'* '%s/moved' 2>/dev/null; true",
                           fx.root, fx.root),
                     0);
    fixture_free(&fx);
  }
}

/* PM_O_REGULAR: a FIFO without a writer is refused at once, never waited
 * on (the watchdog turns a regression into a failure instead of a
 * hang). */
static void test_fs_beneath_fifo(void **state) {
  (void)state;
  const pm_fs_ops *fs = pm_fs_native();
  for (int m = 0; m < 2; m++) {
    set_mode(m);
    fixture fx;
    fixture_make(&fx);
    assert_int_equal(tu_sh("mkfifo '%s/a/b/p'", fx.root), 0);
    ct_watchdog *wd = ct_watchdog_start(10, "a FIFO open (PM_O_REGULAR)");
    pm_fd fd;
    assert_int_equal(fs->open_at(fx.dir, "a/b/p", PM_O_RDONLY | PM_O_REGULAR,
                                 0, &fd),
                     PM_ESPECIAL);
    assert_int_equal(fs->open_at(fx.dir, "a/b", PM_O_RDONLY | PM_O_REGULAR, 0,
                                 &fd),
                     PM_ESPECIAL);
    ct_watchdog_stop(wd);
    /* A regular file opened so reads as usual. */
    assert_int_equal(fs->open_at(fx.dir, "a/b/f", PM_O_RDONLY | PM_O_REGULAR,
                                 0, &fd),
                     0);
    char buf[8];
    assert_int_equal(fs->pread(fd, buf, sizeof buf, 0), 6);
    fs->close(fd);
    fixture_free(&fx);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fs_beneath_plain),
      cmocka_unit_test(test_fs_beneath_symlink_component),
      cmocka_unit_test(test_fs_beneath_escape),
      cmocka_unit_test(test_fs_beneath_long_path),
      cmocka_unit_test(test_fs_beneath_fifo),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
