/* test_orch_stage.c - the two-phase move through the pomove command line:
 * `stage` while the simulated services run and write, changes of every
 * kind between the stage and the move, then `move`, whose final delta pass
 * must leave the new tree equal to the source as it was when the services
 * stopped (diff -r, modes and file mtimes, and the manifest through
 * xxh128sum -c); stage twice; stage --discard (never following a link in
 * the copy, the drive left as before); rollback --remove-copy of a staged
 * move; kill -9 during a stage and during the final pass, then a rerun or
 * --resume that finishes identical; the downtime in the JSON report. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "testutil.h"
#include "util.h"
#include "state_forge.h"

static const char *scratch;
#define MAX_HOSTS 16
static char hosts[MAX_HOSTS][4200];
static int nhosts;

static int setup(void **state) {
  (void)state;
  scratch = tu_scratch();
  setenv("POMOVE_SIM_MAX_LIFE_S", "300", 1);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (int i = 0; i < nhosts; i++) pm_sim_kill_all(hosts[i]);
  tu_cleanup();
  return 0;
}

#define SRC "drives/C/exchsrvr/Connect/Msmcon"
#define DST "drives/D/ExchSrvr/Connect/Msmcon"

/* A simulated host whose services write every 50 ms. */
static const char *make_host(const char *name, const char *files) {
  /* One host per case: a case added beyond the table fails here, not by
   * writing past it. */
  assert_true(nhosts < MAX_HOSTS);
  char *dir = hosts[nhosts++];
  snprintf(dir, sizeof hosts[0], "%s/%s", scratch, name);
  assert_int_equal(tu_sh("'%s' sim-create '%s' --files %s --touch 50 "
                         "--start-delay 1 --stop-delay 1 >/dev/null",
                         tu_pomove(), dir, files),
                   0);
  return dir;
}

static int pomove(const char *dir, const char *args) {
  return tu_sh("cd '%s' && '%s' %s --host sim:'%s' >>'%s/out' 2>>'%s/err'",
               dir, tu_pomove(), args, dir, dir, dir);
}

static int stage(const char *dir) {
  return pomove(dir, "stage --from 'C:\\exchsrvr' --to D: -q");
}

/* The new tree equals the old one: content (diff -r), types and modes of
 * every entry, mtimes of files other than the one the services write
 * (now running from the new place, they keep moving its mtime; its bytes
 * stay the same), and the manifest checks with xxh128sum. */
static void assert_identical(const char *dir) {
  assert_int_equal(tu_sh("cd '%s' && diff -r " SRC " " DST, dir), 0);
  assert_int_equal(
      tu_sh("cd '%s' && (cd " SRC " && find . -printf '%%p %%y %%m\\n' | "
            "sort) >a.lst && (cd " DST " && find . -printf '%%p %%y %%m\\n' "
            "| sort) >b.lst && cmp a.lst b.lst",
            dir),
      0);
  assert_int_equal(
      tu_sh("cd '%s' && (cd " SRC " && find . -type f ! -name CONTROL.GLB "
            "-printf '%%p %%T@\\n' | sort) >a.lst && (cd " DST " && find . "
            "-type f ! -name CONTROL.GLB -printf '%%p %%T@\\n' | sort) "
            ">b.lst && cmp a.lst b.lst",
            dir),
      0);
  if (tu_sh("command -v xxh128sum >/dev/null") == 0)
    assert_int_equal(tu_sh("cd '%s/" DST "' && xxh128sum --quiet -c "
                           "'%s/pomove/current/copy.xxh128'",
                           dir, dir),
                     0);
}

/* Changes of every kind in the source after a stage. */
static void change_everything(const char *dir) {
  assert_int_equal(
      tu_sh(
          "set -e; cd '%s/" SRC "/Maildata'; "
          /* content changed (size kept), appended, added, deleted */
          "f=$(find MAI -type f | sort | head -1); printf 'XYZ' | dd "
          "of=\"$f\" bs=1 seek=0 conv=notrunc 2>/dev/null; "
          "g=$(find MAI -type f | sort | sed -n 2p); echo more >>\"$g\"; "
          "echo new >NEWFILE.TXT; mkdir -p NEWDIR/SUB; echo deep "
          ">NEWDIR/SUB/DEEP.TXT; "
          "d=$(find MAI -type f | sort | sed -n 3p); rm \"$d\"; "
          /* renamed file and directory; a directory removed */
          "r=$(find MAI -type f | sort | sed -n 4p); mv \"$r\" "
          "\"$r.RENAMED\"; mkdir OLDDIR; echo x >OLDDIR/X; "
          "mv OLDDIR RENAMEDDIR; rm -rf ATT/AT0 || true; "
          /* metadata only: mode, and mtime */
          "m=$(find MAI -type f | sort | sed -n 5p); chmod 600 \"$m\"; "
          "t=$(find MAI -type f | sort | sed -n 6p); touch -d '2001-02-03 "
          "04:05:06' \"$t\"; "
          /* same size and mtime, other bytes: caught by the change time */
          "k=$(find MAI -type f | sort | sed -n 7p); ts=$(stat -c %%Y "
          "\"$k\"); printf 'QQQQ' | dd of=\"$k\" bs=1 seek=1 conv=notrunc "
          "2>/dev/null; touch -d @$ts \"$k\"; "
          /* a file replaced by a directory, and a directory by a file */
          "q=$(find MAI -type f | sort | sed -n 8p); rm \"$q\"; mkdir "
          "\"$q\"; echo in >\"$q/INSIDE\"; "
          "w=$(find . -mindepth 2 -type d | sort | tail -1); rm -rf \"$w\"; "
          "echo nowfile >\"$w\"",
          dir),
      0);
}

/* "key":NUMBER from a JSON text (the first one after `after`). */
static double json_num(const char *text, const char *after, const char *key) {
  const char *p = strstr(text, after);
  assert_non_null(p);
  char k[128];
  snprintf(k, sizeof k, "\"%s\":", key);
  p = strstr(p, k);
  if (!p) fail_msg("no %s in %s", key, text);
  return strtod(p + strlen(k), NULL);
}

static char *move_json(const char *dir, const char *extra, int want) {
  char *out = NULL;
  int rc = tu_sh_out(&out,
                     "cd '%s' && '%s' move --host sim:'%s' --from "
                     "'C:\\exchsrvr' --to D: --json -q %s 2>>'%s/err'",
                     dir, tu_pomove(), dir, extra, dir);
  if (rc != want) fail_msg("move exited %d, want %d: %s", rc, want, out);
  return out;
}

static void check_downtime(const char *json) {
  double total = json_num(json, "\"downtime\"", "seconds");
  double parts = json_num(json, "\"downtime\"", "stopping") +
                 json_num(json, "\"downtime\"", "copy") +
                 json_num(json, "\"downtime\"", "verification") +
                 json_num(json, "\"downtime\"", "starting") +
                 json_num(json, "\"downtime\"", "other_steps");
  assert_true(total > 0);
  if (parts < total - 0.005 || parts > total + 0.005)
    fail_msg("downtime parts add up to %.3f, total %.3f", parts, total);
}

static void test_stage_changes_then_move(void **state) {
  (void)state;
  const char *dir = make_host("changes", "400");
  tu_sh("rm -f '%s/out' '%s/err'", dir, dir);
  assert_int_equal(stage(dir), 0);
  /* stage changed nothing on the host: services run, share in place. */
  assert_int_equal(tu_sh("grep -q running '%s/services.txt' && grep -q "
                         "'Msmcon.Maildata' '%s/shares.txt'",
                         dir, dir),
                   0);
  assert_int_equal(tu_sh("test -f '%s/pomove/stage/record'", dir), 0);
  /* The services keep writing while the tree changes under them. */
  usleep(300000);
  change_everything(dir);
  char *plan = NULL;
  assert_int_equal(tu_sh_out(&plan, "'%s' plan --host sim:'%s' --from "
                                    "'C:\\exchsrvr' --to D:",
                             tu_pomove(), dir),
                   0);
  assert_non_null(strstr(plan, "Staged: "));
  assert_non_null(strstr(plan, "Changed since the last pass began: about"));
  free(plan);
  char *js = move_json(dir, "", 0);
  assert_non_null(strstr(js, "\"staged\":true"));
  /* The final pass copied the changes, removed what went, and skipped the
   * rest unread. */
  assert_true(json_num(js, "\"copy\"", "copied") >= 5);
  assert_true(json_num(js, "\"copy\"", "deleted") >= 2);
  assert_true(json_num(js, "\"copy\"", "skipped_unchanged") > 300);
  assert_true(json_num(js, "\"copy\"", "metadata_only") >= 1);
  check_downtime(js);
  assert_identical(dir);
  free(js);
}

static void test_stage_twice_then_move_verify_all(void **state) {
  (void)state;
  const char *dir = make_host("twice", "300");
  assert_int_equal(stage(dir), 0);
  assert_int_equal(tu_sh("cd '%s/" SRC "/Maildata' && echo a >A1.TXT && "
                         "rm -rf ATT",
                         dir),
                   0);
  assert_int_equal(stage(dir), 0);
  assert_int_equal(tu_sh("grep -qx 'passes=2' '%s/pomove/stage/record'",
                         dir),
                   0);
  assert_int_equal(tu_sh("test -f '%s/" DST "/Maildata/A1.TXT' && test ! -e "
                         "'%s/" DST "/Maildata/ATT'",
                         dir, dir),
                   0);
  change_everything(dir);
  char *js = move_json(dir, "--verify-all", 0);
  assert_non_null(strstr(js, "\"verify_all\":true"));
  /* Every file of the new tree was re-read, not only the copied ones. */
  double vaf = json_num(js, "\"copy\"", "verify_all_files");
  double files = json_num(js, "\"copy\"", "files");
  double copied = json_num(js, "\"copy\"", "copied");
  if (vaf != files || vaf <= copied)
    fail_msg("verify-all re-read %.0f files; the tree has %.0f, the final "
             "pass copied %.0f",
             vaf, files, copied);
  check_downtime(js);
  assert_true(json_num(js, "\"downtime\"", "verification") > 0);
  assert_identical(dir);
  free(js);
}

/* move --checksum: the final pass trusts no metadata (a FAT source keeps
 * no change time, so a rewrite keeping size and mtime is invisible). The
 * stage's state is made to lie about Bin/Mt.exe, whose data and metadata
 * do not change: without --checksum the lie would be carried into the
 * move's manifest (and xxh128sum -c in assert_identical would fail); with
 * it the file is read, found to differ from the record, and copied. */
static void test_stage_then_move_checksum(void **state) {
  (void)state;
  const char *dir = make_host("cksum", "300");
  /* Past the racy window (1 s here): a file read within it of its last
   * change is re-hashed anyway, --checksum or not. */
  assert_int_equal(tu_sh("sleep 1.5"), 0);
  assert_int_equal(stage(dir), 0);
  char *sp = pm_xasprintf("%s/pomove/stage/copy.pomove-state", dir);
  state_forge_hash(sp, "Bin/Mt.exe");
  free(sp);
  char *js = move_json(dir, "--checksum", 0);
  assert_true(json_num(js, "\"copy\"", "copied") >= 1);
  check_downtime(js);
  assert_identical(dir);
  free(js);
}

static void test_move_without_stage_reports_downtime(void **state) {
  (void)state;
  const char *dir = make_host("nostage", "200");
  char *js = move_json(dir, "", 0);
  assert_non_null(strstr(js, "\"staged\":false"));
  assert_null(strstr(js, "\"staged\":{"));
  check_downtime(js);
  assert_identical(dir);
  free(js);
}

static void test_stage_discard(void **state) {
  (void)state;
  const char *dir = make_host("discard", "200");
  tu_sh("rm -f '%s/out' '%s/err'", dir, dir);
  assert_int_equal(tu_sh("cd '%s/drives/D' && find . | sort >'%s/d0.lst'",
                         dir, dir),
                   0);
  assert_int_equal(stage(dir), 0);
  /* A link planted in the copy to a folder outside: discard removes the
   * link, never what it points to. */
  assert_int_equal(tu_sh("mkdir '%s/outside' && echo keep >'%s/outside/K' "
                         "&& ln -s '%s/outside' '%s/" DST "/Maildata/LINK'",
                         dir, dir, dir, dir),
                   0);
  assert_int_equal(pomove(dir, "stage --discard -q"), 0);
  assert_int_equal(tu_sh("test -f '%s/outside/K'", dir), 0);
  assert_int_equal(tu_sh("test ! -e '%s/pomove/stage'", dir), 0);
  assert_int_equal(tu_sh("cd '%s/drives/D' && find . | sort >'%s/d1.lst' && "
                         "cmp '%s/d0.lst' '%s/d1.lst'",
                         dir, dir, dir, dir),
                   0);
  /* Nothing staged any more: discard again is fine, and a move is a plain
   * one. */
  assert_int_equal(pomove(dir, "stage --discard -q"), 0);
  char *js = move_json(dir, "", 0);
  assert_non_null(strstr(js, "\"staged\":false"));
  free(js);
}

static void test_stage_record_damaged(void **state) {
  (void)state;
  const char *dir = make_host("damaged", "100");
  assert_int_equal(stage(dir), 0);
  assert_int_equal(tu_sh("sed -i 's/^passes=1$/passes=7/' "
                         "'%s/pomove/stage/record'",
                         dir),
                   0);
  /* A record that does not hash as written is refused with its line. */
  assert_int_equal(stage(dir), 2);
  assert_int_equal(tu_sh("grep -q 'record.*line 18' '%s/err'", dir), 0);
  /* ... and so is a move, before it changes anything. */
  tu_sh("rm -f '%s/err'", dir);
  assert_int_equal(pomove(dir, "move --from 'C:\\exchsrvr' --to D: -q"), 2);
  assert_int_equal(tu_sh("grep -q 'record.*line 18' '%s/err' && grep -q "
                         "running '%s/services.txt' && test ! -e "
                         "'%s/pomove/current'",
                         dir, dir, dir),
                   0);
}

static void test_staged_rollback_remove_copy(void **state) {
  (void)state;
  const char *dir = make_host("rollback", "200");
  assert_int_equal(tu_sh("cp '%s/registry.reg' '%s/reg0' && cp "
                         "'%s/shares.txt' '%s/shares0'",
                         dir, dir, dir, dir),
                   0);
  assert_int_equal(stage(dir), 0);
  char *js = move_json(dir, "", 0);
  free(js);
  assert_int_equal(pomove(dir, "rollback --remove-copy -q"), 0);
  assert_int_equal(tu_sh("cmp '%s/registry.reg' '%s/reg0' && cmp "
                         "'%s/shares.txt' '%s/shares0'",
                         dir, dir, dir, dir),
                   0);
  assert_int_equal(tu_sh("test ! -e '%s/" DST "' && test ! -e "
                         "'%s/pomove/stage'",
                         dir, dir),
                   0);
}

/* ---- kill -9 ---- */

static pid_t spawn(const char *dir, const char *args) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && exec '%s' %s --host sim:'%s' >/dev/null 2>>'%s/err'",
           dir, tu_pomove(), args, dir, dir);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  return pid;
}

static void sleep_ms(long ms) {
  struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&d, &d) && errno == EINTR) {
  }
}

/* Kills `pid` with SIGKILL once `cond` (a shell test) holds, after a
 * further `ms`; returns true when it was still running then. */
static bool kill_when(pid_t pid, const char *cond, long ms) {
  for (int i = 0; i < 3000; i++) {
    if (waitpid(pid, NULL, WNOHANG) == pid) return false;
    if (tu_sh("%s", cond) == 0) break;
    sleep_ms(5);
  }
  sleep_ms(ms);
  bool alive = waitpid(pid, NULL, WNOHANG) == 0;
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return alive;
}

/* A large file keeps each pass busy for a while (random bytes: nothing
 * sparse to skip). */
static void big_file(const char *dir, const char *name, int mib) {
  assert_int_equal(tu_sh("head -c %dM /dev/urandom >'%s/" SRC "/Maildata/%s'",
                         mib, dir, name),
                   0);
}

static void test_kill9_during_stage(void **state) {
  (void)state;
  const char *dir = make_host("kill-stage", "300");
  big_file(dir, "BIG1.DAT", 96);
  srand((unsigned)time(NULL));
  int killed = 0;
  for (int round = 0; round < 2; round++) {
    pid_t pid = spawn(dir, "stage --from 'C:\\exchsrvr' --to D: -q");
    char cond[4400];
    snprintf(cond, sizeof cond, "test -d '%s/" DST "'", dir);
    killed += kill_when(pid, cond, 20 + rand() % 150);
    if (round == 0) big_file(dir, "BIG2.DAT", 96);
  }
  printf("# stage killed %d of 2 times\n", killed);
  assert_int_equal(stage(dir), 0);
  change_everything(dir);
  char *js = move_json(dir, "", 0);
  check_downtime(js);
  assert_identical(dir);
  free(js);
}

static void test_kill9_during_final_pass(void **state) {
  (void)state;
  const char *dir = make_host("kill-final", "300");
  assert_int_equal(stage(dir), 0);
  change_everything(dir);
  big_file(dir, "BIG3.DAT", 128);
  srand((unsigned)time(NULL) + 1);
  pid_t pid = spawn(dir, "move --from 'C:\\exchsrvr' --to D: -q");
  char cond[4400];
  snprintf(cond, sizeof cond,
           "grep -q ' begin 4 ' '%s/pomove/current/journal' 2>/dev/null",
           dir);
  bool killed = kill_when(pid, cond, 10 + rand() % 100);
  printf("# move %s during the final pass\n",
         killed ? "killed" : "finished before the kill");
  if (killed) {
    /* The source is quiet: the services stay stopped until the resume. */
    assert_int_equal(pomove(dir, "move --resume -q"), 0);
  }
  assert_identical(dir);
  assert_int_equal(tu_sh("grep -q ' move-done ' '%s/pomove/current/journal'",
                         dir),
                   0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stage_changes_then_move),
      cmocka_unit_test(test_stage_twice_then_move_verify_all),
      cmocka_unit_test(test_stage_then_move_checksum),
      cmocka_unit_test(test_move_without_stage_reports_downtime),
      cmocka_unit_test(test_stage_discard),
      cmocka_unit_test(test_stage_record_damaged),
      cmocka_unit_test(test_staged_rollback_remove_copy),
      cmocka_unit_test(test_kill9_during_stage),
      cmocka_unit_test(test_kill9_during_final_pass),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
