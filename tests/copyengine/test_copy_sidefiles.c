/* test_copy_sidefiles.c - the files `pomove copy` and `pomove hash` keep
 * beside DST (journal, manifest and its temporary name, lock file) and
 * what is planted at their names: symlinks to files outside, hard links,
 * FIFOs, directories. Nothing outside may change, nothing may hang, and
 * a refusal exits 2 naming the file. Also: two copies into one DST at
 * once (the lock, and a lock left by a killed holder), the messages of a
 * refused journal, and the OS code a report names. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "copyengine.h"
#include "journal.h"
#include "sidefile.h"
#include "testutil.h"
#include "util.h"

/* A small SRC and a file outside both trees whose bytes must survive. */
static const char *setup(void) {
  const char *b = tu_scratch();
  assert_int_equal(tu_sh("set -e; cd '%s'; mkdir -p src/d; echo one > src/a;"
                         "head -c 70000 /dev/urandom > src/d/b;"
                         "printf 'precious\\n' > outside; cp outside "
                         "outside.orig",
                         b),
                   0);
  return b;
}

/* Runs `pomove copy ARGS src dst` in b with stderr in b/err, under a
 * timeout so that a hang fails the test instead of stalling it (124). */
static int copy(const char *b, const char *args) {
  return tu_sh("cd '%s' && timeout 30 '%s' copy -q %s src dst 2>err", b,
               tu_pomove(), args);
}

static int err_has(const char *b, const char *text) {
  char *p = pm_xasprintf("%s/err", b);
  size_t len;
  char *all = tu_read_all(p, &len);
  int found = all && strstr(all, text) != NULL;
  free(all);
  free(p);
  return found;
}

static void outside_intact(const char *b) {
  assert_int_equal(tu_sh("cmp -s '%s/outside' '%s/outside.orig'", b, b), 0);
}

static void show_err(const char *b) { tu_sh("cat '%s/err' >&2", b); }

/* A symlink at the journal's name, with and without --restart, pointing
 * at a file outside or at a name that does not exist yet. */
static void test_sidefiles_journal_symlink(void **state) {
  (void)state;
  for (int restart = 0; restart < 2; restart++) {
    for (int dangling = 0; dangling < 2; dangling++) {
      const char *b = setup();
      assert_int_equal(tu_sh("cd '%s' && ln -s %s dst.pomove-journal", b,
                             dangling ? "created-outside" : "outside"),
                       0);
      int rc = copy(b, restart ? "--restart" : "");
      show_err(b);
      assert_int_equal(rc, 2);
      assert_true(err_has(b, "dst.pomove-journal"));
      assert_true(err_has(b, "is a symlink"));
      assert_false(err_has(b, "run the same command again to resume"));
      outside_intact(b);
      assert_int_equal(tu_sh("cd '%s' && test ! -e created-outside && "
                             "test -L dst.pomove-journal",
                             b),
                       0);
      tu_cleanup();
    }
  }
}

/* A hard link to a file outside at the journal's name: --restart puts a
 * new journal at the name (the other name's file keeps its bytes);
 * without it the journal is refused, since pomove did not write it. */
static void test_sidefiles_journal_hardlink(void **state) {
  (void)state;
  for (int restart = 0; restart < 2; restart++) {
    const char *b = setup();
    assert_int_equal(tu_sh("cd '%s' && ln outside dst.pomove-journal", b), 0);
    int rc = copy(b, restart ? "--restart" : "");
    show_err(b);
    if (restart) {
      assert_int_equal(rc, 0);
      assert_int_equal(tu_sh("cd '%s' && diff -r src dst", b), 0);
    } else {
      assert_int_equal(rc, 2);
      assert_true(err_has(b, "has 2 links"));
      assert_true(err_has(b, "dst.pomove-journal"));
    }
    outside_intact(b);
    tu_cleanup();
  }
}

/* A FIFO at the journal's name (nobody ever writes it) and at the
 * manifest's old temporary name: no hang, a refusal naming the FIFO, or
 * a copy that leaves it alone. */
static void test_sidefiles_fifo(void **state) {
  (void)state;
  const char *b = setup();
  assert_int_equal(tu_sh("cd '%s' && mkfifo dst.pomove-journal", b), 0);
  int rc = copy(b, "");
  show_err(b);
  assert_int_equal(rc, 2);
  assert_true(err_has(b, "dst.pomove-journal' is a fifo"));
  rc = copy(b, "--restart");
  assert_int_equal(rc, 2);
  assert_true(err_has(b, "dst.pomove-journal' is a fifo"));
  tu_cleanup();

  b = setup();
  assert_int_equal(tu_sh("cd '%s' && mkfifo dst.xxh128.tmp", b), 0);
  rc = copy(b, "");
  show_err(b);
  assert_int_equal(rc, 0);
  assert_int_equal(tu_sh("cd '%s' && test -p dst.xxh128.tmp && test -f "
                         "dst.xxh128 && ! test -L dst.xxh128 && cd dst && "
                         "xxh128sum -c --quiet ../dst.xxh128",
                         b),
                   0);
  tu_cleanup();
}

/* A symlink at the manifest's temporary name (the name earlier versions
 * used): it is not used, the manifest is a regular file, the link's
 * target keeps its bytes. */
static void test_sidefiles_manifest_tmp_symlink(void **state) {
  (void)state;
  const char *b = setup();
  assert_int_equal(tu_sh("cd '%s' && ln -s outside dst.xxh128.tmp", b), 0);
  int rc = copy(b, "");
  show_err(b);
  assert_int_equal(rc, 0);
  outside_intact(b);
  assert_int_equal(tu_sh("cd '%s' && test -f dst.xxh128 && ! test -L "
                         "dst.xxh128 && test -L dst.xxh128.tmp && cd dst && "
                         "xxh128sum -c --quiet ../dst.xxh128",
                         b),
                   0);
  /* No temporary file is left beside DST. */
  assert_int_equal(tu_sh("cd '%s' && ! ls | grep -q 'dst.xxh128.tmp-'", b), 0);
  tu_cleanup();
}

/* A symlink at the final manifest name, of copy and of hash -o: refused
 * (exit 2, naming it), the target keeps its bytes. */
static void test_sidefiles_manifest_final_symlink(void **state) {
  (void)state;
  const char *b = setup();
  assert_int_equal(tu_sh("cd '%s' && ln -s outside dst.xxh128", b), 0);
  int rc = copy(b, "");
  show_err(b);
  assert_int_equal(rc, 2);
  assert_true(err_has(b, "manifest '"));
  assert_true(err_has(b, "dst.xxh128' is a symlink"));
  outside_intact(b);
  assert_int_equal(tu_sh("cd '%s' && test -L dst.xxh128", b), 0);

  assert_int_equal(tu_sh("cd '%s' && ln -s outside m.xxh128 && timeout 30 "
                         "'%s' hash -o m.xxh128 src 2>err",
                         b, tu_pomove()),
                   2);
  show_err(b);
  assert_true(err_has(b, "m.xxh128' is a symlink"));
  outside_intact(b);
  /* An ordinary run writes it, and leaves no temporary file (also when
   * the manifest is written inside the tree it lists). */
  assert_int_equal(tu_sh("cd '%s' && '%s' hash -o src/m.xxh128 src && "
                         "cd src && xxh128sum -c --quiet m.xxh128 && "
                         "! grep -q 'm.xxh128' m.xxh128 && "
                         "! ls | grep -q 'tmp-'",
                         b, tu_pomove()),
                   0);
  tu_cleanup();
}

/* A directory, a symlink and a FIFO at the lock file's name. */
static void test_sidefiles_lock_path_planted(void **state) {
  (void)state;
  const char *make[] = {"mkdir dst.pomove-lock", "ln -s outside dst.pomove-lock",
                        "mkfifo dst.pomove-lock"};
  const char *says[] = {"is a directory", "is a symlink", "is a fifo"};
  for (int i = 0; i < 3; i++) {
    const char *b = setup();
    assert_int_equal(tu_sh("cd '%s' && %s", b, make[i]), 0);
    int rc = copy(b, "");
    show_err(b);
    assert_int_equal(rc, 2);
    assert_true(err_has(b, "dst.pomove-lock"));
    assert_true(err_has(b, says[i]));
    outside_intact(b);
    assert_int_equal(tu_sh("cd '%s' && test ! -e dst", b), 0);
    tu_cleanup();
  }
}

/* Another process holds the lock (taken with the same helper the copy
 * uses): the copy is refused at once naming its pid; after that process
 * is killed with SIGKILL the next copy takes the lock and completes. */
static pid_t lock_child = -1;

/* The holder never outlives the test, even one that failed half-way. */
static int kill_lock_child(void **state) {
  (void)state;
  if (lock_child > 0) {
    kill(lock_child, SIGKILL);
    waitpid(lock_child, NULL, 0);
  }
  lock_child = -1;
  return 0;
}

static void test_sidefiles_lock_held(void **state) {
  (void)state;
  const char *b = setup();
  char real[PATH_MAX];
  assert_non_null(realpath(b, real));
  char *lpath = pm_xasprintf("%s/dst.pomove-lock", real);
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    pm_sidelock lk;
    char ok = pm_side_lock(pm_fs_native(), lpath, "lock file", &lk) == 0;
    if (write(pfd[1], &ok, 1) != 1) _exit(1);
    for (;;) pause();
  }
  lock_child = child;
  char ok = 0;
  assert_int_equal(read(pfd[0], &ok, 1), 1);
  assert_int_equal(ok, 1);
  char *who = pm_xasprintf("pid %d", (int)child);
  assert_int_equal(tu_sh("grep -qx '%s' '%s' && grep -q '^host ' '%s' && "
                         "grep -q '^started 20' '%s'",
                         who, lpath, lpath, lpath),
                   0);
  int rc = copy(b, "");
  show_err(b);
  assert_int_equal(rc, 2);
  assert_true(err_has(b, who));
  assert_true(err_has(b, "dst.pomove-lock"));
  assert_int_equal(tu_sh("cd '%s' && test ! -e dst", b), 0);
  /* With a journal of an interrupted copy there, the same. */
  assert_int_equal(copy(b, "--restart"), 2);
  assert_true(err_has(b, who));

  kill(child, SIGKILL);
  int st;
  assert_int_equal(waitpid(child, &st, 0), child);
  lock_child = -1;
  /* The file is still there, with the dead process's pid in it. */
  assert_int_equal(tu_sh("grep -qx '%s' '%s'", who, lpath), 0);
  rc = copy(b, "");
  show_err(b);
  assert_int_equal(rc, 0);
  assert_int_equal(tu_sh("cd '%s' && diff -r src dst && test ! -e "
                         "dst.pomove-lock",
                         b),
                   0);
  close(pfd[0]);
  close(pfd[1]);
  free(who);
  free(lpath);
  tu_cleanup();
}

/* A journal that cannot be used as it is: another copy's, not a journal,
 * a directory, another user's. Each exits 2 and says what to do, never
 * "run the same command again". */
static void test_sidefiles_journal_refused_messages(void **state) {
  (void)state;
  const char *b = setup();
  char real[PATH_MAX];
  assert_non_null(realpath(b, real));
  char *jp = pm_xasprintf("%s/dst.pomove-journal", real);
  ce_journal *j;
  bool resumed;
  ce_journal_stats js;
  assert_int_equal(ce_journal_open(pm_fs_native(), jp, "/other", "/d", "sig",
                                   false, &j, &resumed, &js),
                   0);
  assert_int_equal(ce_journal_close(j, false), 0);
  assert_int_equal(copy(b, ""), 2);
  assert_true(err_has(b, "belongs to a copy with another source"));
  assert_true(err_has(b, "--restart"));
  assert_false(err_has(b, "run the same command again"));

  tu_write_text(jp, "not a journal at all\n");
  assert_int_equal(copy(b, ""), 2);
  assert_true(err_has(b, "is not a pomove journal; remove it or use --restart"));
  assert_false(err_has(b, "run the same command again"));

  unlink(jp);
  assert_int_equal(mkdir(jp, 0700), 0);
  assert_int_equal(copy(b, ""), 2);
  assert_true(err_has(b, "dst.pomove-journal' is a directory"));
  assert_true(err_has(b, "--restart"));
  assert_false(err_has(b, "run the same command again"));
  rmdir(jp);

  if (tu_is_root()) {
    /* Another user's journal (a root can make one). */
    tu_write_text(jp, "x");
    assert_int_equal(chown(jp, 4321, 4321), 0);
    assert_int_equal(copy(b, ""), 2);
    assert_true(err_has(b, "belongs to user 4321"));
    assert_false(err_has(b, "run the same command again"));
    unlink(jp);
  } else {
    /* A journal this user may not open. */
    tu_write_text(jp, "x");
    chmod(jp, 0);
    assert_int_equal(copy(b, ""), 2);
    assert_true(err_has(b, "permission denied"));
    assert_true(err_has(b, "--restart"));
    unlink(jp);
  }
  free(jp);
  tu_cleanup();
}

/* ---- the OS code a report names ---- */

static pm_fs_ops nospc_ops;
static const pm_fs nospc_fs = {&nospc_ops, NULL};
static pm_fd manifest_fd = PM_FD_INVALID;

static int nospc_open(const pm_fs *self PM_UNUSED, const char *p, int flags,
                      uint32_t mode, pm_fd *out) {
  int rc = pm_fs_open(pm_fs_native(), p, flags, mode, out);
  if (!rc && strstr(p, ".xxh128")) manifest_fd = *out;
  return rc;
}

/* Every write of the manifest fails as a full disk would, with the OS's
 * ENOSPC (28) on the thread that wrote. */
static int64_t nospc_pwrite(const pm_fs *self PM_UNUSED, pm_fd fd,
                            const void *buf, size_t len, uint64_t off) {
  if (fd == manifest_fd) {
    pm_oserr_set(28);
    return PM_ENOSPC;
  }
  return pm_fs_pwrite(pm_fs_native(), fd, buf, len, off);
}

/* The manifest's first write happens on a committer thread (the buffer
 * fills); the end of the copy reports the same error again on the main
 * thread, whose own last OS code belongs to something else: every
 * report of it must name 28 or no code at all. */
static void test_sidefiles_report_names_its_own_oserr(void **state) {
  (void)state;
  const char *b = tu_scratch();
  /* About 290 bytes of manifest per file: more than its 256 KiB buffer. */
  assert_int_equal(tu_sh("set -e; cd '%s'; mkdir src; cd src; for i in "
                         "$(seq 1000 2100); do : > f$i$(printf '%%0230d' 0); "
                         "done",
                         b),
                   0);
  char *src = pm_xasprintf("%s/src", b), *dst = pm_xasprintf("%s/dst", b);
  char *errp = pm_xasprintf("%s/err", b);
  nospc_ops = *pm_fs_native()->ops;
  nospc_ops.open = nospc_open;
  nospc_ops.pwrite = nospc_pwrite;
  ce_options o;
  ce_options_init(&o);
  o.src = src;
  o.dst = dst;
  o.fs = &nospc_fs;
  o.engine = pm_io_engine_find("pool");
  o.threads = 2;
  fflush(stderr);
  int saved = dup(2);
  int efd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(saved >= 0 && efd >= 0);
  dup2(efd, 2);
  ce_result r;
  int rc = ce_copy(&o, &r);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(efd);
  tu_sh("grep -v 'manifest line for' '%s' >&2", errp);
  assert_int_not_equal(rc, 0);
  assert_int_equal(tu_sh("grep -q 'ENOSPC' '%s'", errp), 0);
  /* No line names ENOSPC with an OS code other than 28. */
  assert_int_equal(tu_sh("grep 'ENOSPC, OS error' '%s' | grep -v 'OS error "
                         "28)' && exit 1; exit 0",
                         errp),
                   0);
  /* And nothing was published: no manifest, no temporary file. */
  assert_int_equal(tu_sh("cd '%s' && test ! -e dst.xxh128 && ! ls | grep -q "
                         "tmp-",
                         b),
                   0);
  free(src);
  free(dst);
  free(errp);
  tu_cleanup();
}

/* The temporaries of a killed copy ("<side file>.tmp-<pid>-<n>") are
 * removed by the next copy into the same DST when their writer is gone:
 * regular files only, exact names of this DST's side files only, never
 * through a symlink, never a live process's. verify and hash are not
 * troubled by them. */
static void test_sidefiles_stale_temps(void **state) {
  (void)state;
  const char *b = setup();
  pid_t dead = (pid_t)tu_dead_pid();
  pid_t live = fork();
  assert_true(live >= 0);
  if (live == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    pause();
    _exit(0);
  }
  unsigned d = (unsigned)dead, l = (unsigned)live;
  int rc = tu_sh(
      "set -e; cd '%s'; "
      "echo m > dst.xxh128.tmp-%u-0a1b2c; "
      "echo s > dst.pomove-state.tmp-%u-17fffff; "
      "echo j > dst.pomove-journal.tmp-%u-300000; "
      "echo live > dst.xxh128.tmp-%u-0a1b2c; "
      "ln -s outside dst.xxh128.tmp-%u-2abcdef; "
      "mkdir dst.pomove-state.tmp-%u-2abcdef; "
      "echo o > other.xxh128.tmp-%u-0a1b2c; "
      "echo o > dst2.xxh128.tmp-%u-0a1b2c; "
      "echo o > dst.xxh128.tmp-%u-0a1b2c.bak; "
      "echo o > dst.xxh128.tmp-%u-0a1; "
      "echo o > dst.xxh128.tmp-0%u-0a1b2c; "
      "echo o > dst.xxh128.tmp-%u-0A1B2C",
      b, d, d, d, l, d, d, d, d, d, d, d, d);
  assert_int_equal(rc, 0);
  rc = tu_sh("cd '%s' && timeout 30 '%s' copy src dst 2>err", b,
             tu_pomove());
  show_err(b);
  kill(live, SIGKILL);
  waitpid(live, NULL, 0);
  assert_int_equal(rc, 0);
  char *gone = pm_xasprintf(
      "cd '%s' && test ! -e dst.xxh128.tmp-%u-0a1b2c && "
      "test ! -e dst.pomove-state.tmp-%u-17fffff && "
      "test ! -e dst.pomove-journal.tmp-%u-300000",
      b, d, d, d);
  assert_int_equal(tu_sh("%s", gone), 0);
  free(gone);
  assert_int_equal(
      tu_sh("cd '%s' && test -f dst.xxh128.tmp-%u-0a1b2c && "
            "test -L dst.xxh128.tmp-%u-2abcdef && "
            "test -d dst.pomove-state.tmp-%u-2abcdef && "
            "test -f other.xxh128.tmp-%u-0a1b2c && "
            "test -f dst2.xxh128.tmp-%u-0a1b2c && "
            "test -f dst.xxh128.tmp-%u-0a1b2c.bak && "
            "test -f dst.xxh128.tmp-%u-0a1 && "
            "test -f dst.xxh128.tmp-0%u-0a1b2c && "
            "test -f dst.xxh128.tmp-%u-0A1B2C",
            b, l, d, d, d, d, d, d, d, d),
      0);
  outside_intact(b);
  char *msg = pm_xasprintf("dst.pomove-state.tmp-%u-17fffff", d);
  assert_true(err_has(b, msg));
  assert_true(err_has(b, "which has ended"));
  free(msg);
  /* Leftovers beside DST trouble neither verify nor hash. */
  assert_int_equal(tu_sh("cd '%s' && echo x > dst.xxh128.tmp-%u-0a1b2c && "
                         "'%s' verify -q src dst && "
                         "'%s' verify -q --manifest dst.xxh128 dst && "
                         "'%s' hash -q dst > hashed && "
                         "! grep -q tmp- hashed",
                         b, d, tu_pomove(), tu_pomove(), tu_pomove()),
                   0);
  /* The live writer has ended since: the next copy removes its
   * temporary; then one that finds nothing to remove says nothing. */
  for (int run = 0; run < 2; run++) {
    assert_int_equal(tu_sh("cd '%s' && rm -f dst.xxh128.tmp-%u-0a1b2c && "
                           "timeout 30 '%s' copy src dst 2>err",
                           b, d, tu_pomove()),
                     0);
    assert_int_equal(err_has(b, "which has ended"), run == 0);
    assert_int_equal(
        tu_sh("cd '%s' && test ! -e dst.xxh128.tmp-%u-0a1b2c", b, l), 0);
  }
  assert_int_equal(tu_sh("cd '%s' && test -L dst.xxh128.tmp-%u-2abcdef && "
                         "test -d dst.pomove-state.tmp-%u-2abcdef",
                         b, d, d),
                   0);
  outside_intact(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sidefiles_journal_symlink),
      cmocka_unit_test(test_sidefiles_journal_hardlink),
      cmocka_unit_test(test_sidefiles_fifo),
      cmocka_unit_test(test_sidefiles_manifest_tmp_symlink),
      cmocka_unit_test(test_sidefiles_manifest_final_symlink),
      cmocka_unit_test(test_sidefiles_lock_path_planted),
      cmocka_unit_test_teardown(test_sidefiles_lock_held, kill_lock_child),
      cmocka_unit_test(test_sidefiles_journal_refused_messages),
      cmocka_unit_test(test_sidefiles_report_names_its_own_oserr),
      cmocka_unit_test(test_sidefiles_stale_temps),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tu_cleanup();
  return rc;
}
