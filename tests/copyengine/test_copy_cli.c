/* test_copy_cli.c - `pomove copy` through the binary, checked with
 * independent tools (diff, cmp, xxh128sum, stat, getfattr): content and
 * metadata per engine, every kind of bad input, unreadable entries, long
 * paths, a source that changes during the copy, a real ENOSPC on tmpfs,
 * --json and exit codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform.h"
#include "testutil.h"

static char *S(const char *fmt, const char *a) {
  char *s = NULL;
  if (asprintf(&s, fmt, a) < 0) abort();
  return s;
}

/* Content, mode, owner, times (ns) and xattrs for both engines. */
static void test_copy_cli_metadata_per_engine(void **state) {
  (void)state;
  const char *engines[] = {"io_uring", "pool"};
  /* Both ways of making files durable, one per engine. */
  const char *syncs[] = {"fs", "file"};
  for (int e = 0; e < 2; e++) {
    /* A build without liburing has no io_uring engine (the pool engine
     * then does all I/O): that half cannot run. */
    if (!pm_io_engine_find(engines[e])) {
      print_message("engine %s not in this build: skipped\n", engines[e]);
      continue;
    }
    const char *b = tu_scratch();
    assert_int_equal(
        tu_sh("set -e; cd '%s'; mkdir -p src/sub/empty; cd src;"
              "head -c 3000000 /dev/urandom > sub/big; echo hi > small;"
              "chmod 0604 small; chmod 0710 sub;"
              "touch -d '1999-12-31 23:59:58.123456789' small sub/big;"
              "touch -a -d '2005-01-01 00:00:01.5' small;"
              "setfattr -n user.pomove -v tested small 2>/dev/null || true;"
              "if [ $(id -u) = 0 ]; then chown 1234:5678 small; fi",
              b),
        0);
    assert_int_equal(tu_sh("cd '%s' && '%s' copy -q --engine %s --sync %s "
                           "src dst",
                           b, tu_pomove(), engines[e], syncs[e]),
                     0);
    assert_int_equal(
        tu_sh("cd '%s' && for f in small sub sub/big sub/empty; do "
              "[ \"$(stat -c '%%a %%u %%g %%x %%y' src/$f)\" = "
              "\"$(stat -c '%%a %%u %%g %%x %%y' dst/$f)\" ] || exit 1; done",
              b),
        0);
    /* Times are compared first: reading the files moves their atimes. */
    assert_int_equal(
        tu_sh("cd '%s' && [ \"$(getfattr -d src/small 2>/dev/null | tail -n +2)\" = "
              "\"$(getfattr -d dst/small 2>/dev/null | tail -n +2)\" ]",
              b),
        0);
    assert_int_equal(tu_sh("cd '%s' && diff -r src dst && cmp src/sub/big dst/sub/big", b), 0);
    assert_int_equal(tu_sh("cd '%s/dst' && xxh128sum -c --quiet ../dst.xxh128", b), 0);
    /* The journal is gone after a clean copy; nothing was added to DST. */
    assert_int_equal(tu_sh("cd '%s' && test ! -e dst.pomove-journal && "
                           "test \"$(find src | wc -l)\" = \"$(find dst | wc -l)\"",
                           b),
                     0);
    tu_cleanup();
  }
}

/* Ordinary modes are given when a file is created, to save an fchmod:
 * they must come out right whatever the umask, under a default ACL on
 * DST, and for the modes that are still set afterwards. */
static void test_copy_cli_modes(void **state) {
  (void)state;
  const char *b = tu_scratch();
  assert_int_equal(
      tu_sh("set -e; cd '%s'; mkdir src; cd src; for m in 644 600 640 604 "
            "755 700 444 400 666 664 1644 2755 4755; do echo $m > "
            "f$m; chmod $m f$m; done",
            b),
      0);
  const char *cmp =
      "cd '%s' && (cd src && stat -c '%%n %%a' * | sort) > a && "
      "(cd %s && stat -c '%%n %%a' * | sort) > b && diff a b";
  /* umask 077 strips what 0644 asks for; 000 strips nothing. */
  assert_int_equal(tu_sh("cd '%s' && (umask 077 && '%s' copy -q src d1)", b,
                         tu_pomove()),
                   0);
  assert_int_equal(tu_sh(cmp, b, "d1"), 0);
  assert_int_equal(tu_sh("cd '%s' && (umask 000 && '%s' copy -q src d2)", b,
                         tu_pomove()),
                   0);
  assert_int_equal(tu_sh(cmp, b, "d2"), 0);
  /* A default ACL that gives the group and others nothing. */
  if (tu_sh("cd '%s' && mkdir d3 && setfacl -d -m u::rwx,g::-,o::- d3 "
            "2>/dev/null",
            b) == 0) {
    assert_int_equal(tu_sh("cd '%s' && '%s' copy -q src d3", b, tu_pomove()),
                     0);
    assert_int_equal(tu_sh(cmp, b, "d3"), 0);
  } else {
    printf("  no default ACLs here: that case is not run\n");
  }
  tu_cleanup();
}

static void test_copy_cli_bad_input(void **state) {
  (void)state;
  const char *b = tu_scratch();
  const char *p = tu_pomove();
  assert_int_equal(tu_sh("cd '%s' && mkdir -p src/in full && echo x > file && "
                         "echo y > full/y && ln -s src srclink",
                         b),
                   0);
  /* SRC missing */
  assert_int_equal(tu_sh("cd '%s' && '%s' copy nosuch dst 2>err; r=$?; "
                         "grep -q \"nosuch.*no such file\" err && exit $r",
                         b, p),
                   2);
  /* SRC not a directory */
  assert_int_equal(tu_sh("cd '%s' && '%s' copy file dst 2>err; r=$?; "
                         "grep -q \"file.*not a directory\" err && exit $r",
                         b, p),
                   2);
  /* DST inside SRC (new and existing) */
  assert_int_equal(tu_sh("cd '%s' && '%s' copy src src/new 2>err; r=$?; "
                         "grep -q 'inside the source' err && exit $r",
                         b, p),
                   2);
  assert_int_equal(tu_sh("cd '%s' && '%s' copy src src/in 2>err; r=$?; "
                         "grep -q 'inside the source' err && exit $r",
                         b, p),
                   2);
  /* SRC inside DST */
  assert_int_equal(tu_sh("cd '%s' && '%s' copy src/in . --merge 2>err; r=$?; "
                         "grep -q 'inside the destination' err && exit $r",
                         b, p),
                   2);
  /* The same directory through a symlink */
  assert_int_equal(tu_sh("cd '%s' && '%s' copy src srclink 2>err; r=$?; "
                         "grep -q 'same directory' err && exit $r",
                         b, p),
                   2);
  /* DST non-empty without --merge; then with it */
  assert_int_equal(tu_sh("cd '%s' && '%s' copy src full 2>err; r=$?; "
                         "grep -q 'not empty' err && exit $r",
                         b, p),
                   2);
  assert_int_equal(tu_sh("cd '%s' && '%s' copy -q --merge src full && test -f full/y "
                         "&& test -d full/in",
                         b, p),
                   0);
  /* Usage errors */
  assert_int_equal(tu_sh("'%s' copy onlyone 2>/dev/null", p), 2);
  assert_int_equal(tu_sh("'%s' copy --engine nosuch a b 2>/dev/null", p), 2);
  assert_int_equal(tu_sh("'%s' copy --sync never a b 2>/dev/null", p), 2);
  assert_int_equal(tu_sh("'%s' copy --help | grep -q 'Exit codes'", p), 0);
  /* A symlink loop as SRC */
  assert_int_equal(tu_sh("cd '%s' && ln -s l1 l2 && ln -s l2 l1 && "
                         "'%s' copy l1 d 2>err; r=$?; grep -q 'symbolic links' err && exit $r",
                         b, p),
                   2);
  tu_cleanup();
}

/* A bind mount makes the same directory look like another one. */
static void test_copy_cli_same_dir_through_bind_mount(void **state) {
  (void)state;
  tu_require(tu_is_root(), "bind mounts need root");
  const char *b = tu_scratch();
  char *src = S("%s/src", b), *alias = S("%s/alias", b);
  mkdir(src, 0755);
  mkdir(alias, 0755);
  char *f = S("%s/src/f", b);
  tu_write_text(f, "x");
  free(f);
  if (mount(src, alias, NULL, MS_BIND, NULL) != 0) {
    free(src);
    free(alias);
    tu_cleanup();
    skip();
  }
  int same = tu_sh("'%s' copy '%s' '%s' 2>/dev/null", tu_pomove(), src, alias);
  char *inner = S("%s/inside", alias);
  int inside = tu_sh("'%s' copy '%s' '%s' 2>/dev/null", tu_pomove(), src, inner);
  umount(alias);
  assert_int_equal(same, 2);
  assert_int_equal(inside, 2);
  free(inner);
  free(src);
  free(alias);
  tu_cleanup();
}

/* Unreadable entries are reported with path, operation and OS error; the
 * rest is copied; exit 1. Root reads everything, so run as nobody. */
static void test_copy_cli_unreadable_entries(void **state) {
  (void)state;
  const char *b = tu_scratch();
  const char *as = "";
  if (tu_is_root()) {
    tu_require(tu_sh("command -v setpriv >/dev/null") == 0, "setpriv missing");
    as = "setpriv --reuid=65534 --regid=65534 --clear-groups";
  }
  assert_int_equal(
      tu_sh("set -e; cd '%s'; chmod 0777 .; mkdir -p src/ok src/closed; echo a > src/ok/a;"
            "echo b > src/secret; echo c > src/closed/c; chmod 0000 src/secret;"
            "chmod 0000 src/closed; mkdir out; chmod -R a+rwX out; "
            "[ $(id -u) = 0 ] && chown 65534 out || true",
            b),
      0);
  assert_int_equal(tu_sh("cd '%s' && %s '%s' copy -q src out/dst 2>err; r=$?;"
                         "grep -q \"open '.*src/secret': permission denied\" err &&"
                         "grep -q \"list directory '.*src/closed': permission denied\" err &&"
                         "cmp src/ok/a out/dst/ok/a && exit $r",
                         b, as, tu_pomove()),
                   1);
  tu_sh("chmod -R u+rwx '%s/src'", b);
  tu_cleanup();
}

/* Builds (or checks) base/seg1/seg2/.../leaf, `depth` levels deep, with
 * *at calls: shells cannot cd that deep. */
static int deep_tree(const char *base, int depth, bool create) {
  const char *seg =
      "a123456789b123456789c123456789d123456789e123456789f123456789g12345678"
      "9h123456789";
  int fd = open(base, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -1;
  for (int i = 1; i <= depth; i++) {
    char name[128];
    snprintf(name, sizeof name, "%s%d", seg, i);
    if (create && mkdirat(fd, name, 0755) != 0) return -1;
    int nfd = openat(fd, name, O_RDONLY | O_DIRECTORY);
    close(fd);
    if (nfd < 0) return -1;
    fd = nfd;
  }
  int rc = 0;
  if (create) {
    int f = openat(fd, "leaf", O_WRONLY | O_CREAT, 0644);
    rc = f >= 0 && write(f, "deep\n", 5) == 5 ? 0 : -1;
    if (f >= 0) close(f);
  } else {
    char buf[16] = {0};
    int f = openat(fd, "leaf", O_RDONLY);
    rc = f >= 0 && read(f, buf, sizeof buf) == 5 && !memcmp(buf, "deep\n", 5)
             ? 0
             : -1;
    if (f >= 0) close(f);
  }
  close(fd);
  return rc;
}

/* A path longer than PATH_MAX in total. */
static void test_copy_cli_long_paths(void **state) {
  (void)state;
  const char *b = tu_scratch();
  char *src = S("%s/src", b), *dst = S("%s/dst", b);
  mkdir(src, 0755);
  assert_int_equal(deep_tree(src, 60, true), 0);
  assert_int_equal(tu_sh("cd '%s' && '%s' copy -q src dst", b, tu_pomove()), 0);
  assert_int_equal(deep_tree(dst, 60, false), 0);
  assert_int_equal(tu_sh("cd '%s' && test \"$(cd src && find . | sort | md5sum)\" = "
                         "\"$(cd dst && find . | sort | md5sum)\"",
                         b),
                   0);
  /* The manifest has the deep file, with its full relative path. */
  assert_int_equal(tu_sh("cd '%s' && test $(wc -l < dst.xxh128) -eq 1 && "
                         "test $(wc -c < dst.xxh128) -gt 4096",
                         b),
                   0);
  free(src);
  free(dst);
  tu_cleanup();
}

/* A file rewritten all through the copy is reported and never recorded
 * with a hash of mixed content. */
static void test_copy_cli_source_changes(void **state) {
  (void)state;
  const char *b = tu_scratch();
  assert_int_equal(tu_sh("cd '%s' && mkdir src && head -c 64000000 /dev/zero > src/busy && "
                         "echo still > src/quiet",
                         b),
                   0);
  /* The writer touches the file every few ms until told to stop. */
  assert_int_equal(
      tu_sh("cd '%s' || exit 96; (while [ ! -e stop ]; do printf x | dd of=src/busy bs=1 "
            "seek=100 conv=notrunc status=none; done) & "
            "sleep 0.2; '%s' copy -q --chunk-size 65536 --threads 1 src dst 2>err; r=$?;"
            "touch stop; wait; cat err >&2;"
            "grep -q \"busy.*changed while\" err || exit 99;"
            "grep -q ' busy$' dst.xxh128 && exit 98;"
            "grep -q ' quiet$' dst.xxh128 || exit 97; exit $r",
            b, tu_pomove()),
      1);
  tu_cleanup();
}

/* A real full disk: tmpfs of 1 MiB. Exit 3, a clear message, and a rerun
 * after making room completes. */
static void test_copy_cli_enospc_tmpfs(void **state) {
  (void)state;
  tu_require(tu_is_root(), "mounting tmpfs needs root");
  const char *b = tu_scratch();
  char *mnt = S("%s/mnt", b);
  mkdir(mnt, 0755);
  if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0) {
    free(mnt);
    tu_cleanup();
    skip();
  }
  assert_int_equal(tu_sh("cd '%s' && mkdir src && for i in 1 2 3 4 5 6; do "
                         "head -c 400000 /dev/urandom > src/f$i; done",
                         b),
                   0);
  int rc = tu_sh("cd '%s' && '%s' copy -q src mnt/dst 2>err; r=$?; cat err >&2;"
                 "grep -q 'no space left on device' err || exit 99; exit $r",
                 b, tu_pomove());
  int remount = mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=16m");
  int rc2 = remount ? -1
                    : tu_sh("cd '%s' && '%s' copy -q src mnt/dst && diff -r src mnt/dst "
                            "&& test ! -e mnt/dst.pomove-journal",
                            b, tu_pomove());
  umount(mnt);
  assert_int_equal(rc, 3);
  assert_int_equal(remount, 0);
  assert_int_equal(rc2, 0);
  free(mnt);
  tu_cleanup();
}

static void test_copy_cli_json_and_specials(void **state) {
  (void)state;
  const char *b = tu_scratch();
  assert_int_equal(tu_sh("cd '%s' && mkdir src && mkfifo src/pipe && echo a > src/a", b), 0);
  char *out = NULL;
  assert_int_equal(tu_sh_out(&out, "cd '%s' && '%s' copy --json src dst 2>/dev/null", b,
                             tu_pomove()),
                   0);
  assert_non_null(strstr(out, "\"files\":1,"));
  assert_non_null(strstr(out, "\"skipped\":1,"));
  assert_non_null(strstr(out, "\"errors\":0,"));
  assert_non_null(strstr(out, "\"exit_code\":0}"));
  free(out);
  assert_int_equal(tu_sh("cd '%s' && '%s' copy -q --specials src dst2 && test -p dst2/pipe",
                         b, tu_pomove()),
                   0);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_copy_cli_metadata_per_engine),
      cmocka_unit_test(test_copy_cli_modes),
      cmocka_unit_test(test_copy_cli_bad_input),
      cmocka_unit_test(test_copy_cli_same_dir_through_bind_mount),
      cmocka_unit_test(test_copy_cli_unreadable_entries),
      cmocka_unit_test(test_copy_cli_long_paths),
      cmocka_unit_test(test_copy_cli_source_changes),
      cmocka_unit_test(test_copy_cli_enospc_tmpfs),
      cmocka_unit_test(test_copy_cli_json_and_specials),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
