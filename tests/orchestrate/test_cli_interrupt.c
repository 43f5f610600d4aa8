/* test_cli_interrupt.c - Ctrl-C (SIGINT) and SIGTERM end every
 * long-running command within 2 seconds with exit 130, and a rerun of the
 * same command completes: gen-postoffice (after removing its partial
 * tree), copy (resumed to a tree that audits identical), hash and verify
 * (simply rerun), move (--resume, then check) and rollback. The delays
 * are drawn from a seed printed at the start (POMOVE_TEST_SEED to replay
 * one). The workload, tiny files plus a sparse file that reads as 512 MiB
 * of zeros, keeps each command busy for seconds without filling a disk. */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "testutil.h"

static const char *scratch;
static char host[4200];
static unsigned seed;

static int setup(void **state) {
  (void)state;
  scratch = tu_scratch();
  snprintf(host, sizeof host, "%s/host", scratch);
  const char *e = getenv("POMOVE_TEST_SEED");
  seed = e ? (unsigned)strtoul(e, NULL, 10) : (unsigned)time(NULL);
  printf("# interrupt delays from seed %u (POMOVE_TEST_SEED to replay)\n",
         seed);
  srand(seed);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  pm_sim_kill_all(host);
  tu_cleanup();
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts `pomove` with the shell words in `args`, sends `sig` after
 * `delay` seconds, and returns the exit code; fails the test when the
 * command has not ended 2 seconds after the signal (it is then killed). */
static double t_start;

/* Waits until process `pid` catches `sig` (its bit in SigCgt of
 * /proc/PID/status), so that the delay counts from the moment the command
 * can handle the signal, not from the fork: on a loaded machine exec and
 * the dynamic loader alone took more than 0.03 s, and a signal sent before
 * the handler exists kills the command (exit 1000+sig), which says nothing
 * about pomove. Gives up after 5 s, or when the process has ended. */
static void wait_until_catching(pid_t pid, int sig) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  double t0 = now_s();
  while (now_s() - t0 < 5.0) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[256];
    unsigned long long caught = 0;
    bool zombie = false;
    while (fgets(line, sizeof line, f)) {
      if (!strncmp(line, "State:", 6) && strchr(line, 'Z')) zombie = true;
      if (!strncmp(line, "SigCgt:", 7))
        caught = strtoull(line + 7, NULL, 16);
    }
    fclose(f);
    if (zombie || (caught >> (sig - 1) & 1)) return;
    usleep(1000);
  }
}

static int interrupt_after(const char *args, double delay, int sig) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "exec '%s' %s >/dev/null 2>>'%s/stderr'",
           tu_pomove(), args, scratch);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  wait_until_catching(pid, sig);
  struct timespec d = {(time_t)delay, (long)((delay - (int)delay) * 1e9)};
  while (nanosleep(&d, &d) && errno == EINTR) {
  }
  double t0 = now_s();
  kill(pid, sig);
  int st = 0;
  for (;;) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) break;
    if (now_s() - t0 > 2.0) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      fail_msg("pomove %s: still running 2 s after signal %d (sent after "
               "%.2f s)", args, sig, delay);
    }
    usleep(10000);
  }
  double took = now_s() - t0;
  /* Killed by the signal is not "exit 130": the command must catch it,
   * stop at a resumable point and exit. Such a death reads as 1000+sig. */
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
  printf("# [%5.1fs] %-50.50s sig %d after %.2fs: exit %d in %.2fs\n",
         now_s() - t_start, args, sig, delay, code, took);
  return code;
}

/* A delay in [lo, hi) seconds and SIGINT or SIGTERM, from the seed. */
static double delay_in(double lo, double hi) {
  return lo + (hi - lo) * ((double)rand() / ((double)RAND_MAX + 1));
}
static int some_signal(void) { return rand() % 3 ? SIGINT : SIGTERM; }

/* A command that finished its work before the signal landed exits 0, and
 * rightly: there was nothing left to interrupt (the machine was faster
 * than the delay). That run proves nothing, so it is tried again with a
 * delay drawn from the first half of the window, after `reset` (a shell
 * command, or NULL for a command that can simply run again) has undone the
 * finished run; any other exit code but 130 fails at once. */
static void expect_interrupted_reset(const char *args, double lo, double hi,
                                     const char *reset) {
  for (int attempt = 0; attempt < 6; attempt++) {
    if (attempt && reset) assert_int_equal(tu_sh("%s", reset), 0);
    double delay = delay_in(lo, hi);
    int code = interrupt_after(args, delay, some_signal());
    if (code == 130) return;
    if (code != 0) {
      tu_sh("cat '%s/stderr' >&2", scratch);
      fail_msg("pomove %s: exit %d after the signal, not 130", args, code);
    }
    printf("# finished before the signal landed; again, sooner\n");
    hi = lo + (delay - lo) / 2;
  }
  fail_msg("pomove %s: always finished before the signal: the workload is "
           "too small for this machine", args);
}

static void expect_interrupted(const char *args, double lo, double hi) {
  expect_interrupted_reset(args, lo, hi, NULL);
}

static void test_cli_interrupt_every_command(void **state) {
  (void)state;
  char args[8192];
  const char *P = tu_pomove();
  t_start = now_s();
  /* gen-postoffice: interrupted, then the partial tree removed and the
   * same command run again. */
  snprintf(args, sizeof args, "gen-postoffice '%s/src' --tiny 10000",
           scratch);
  expect_interrupted(args, 0.02, 0.15);
  assert_int_equal(tu_sh("rm -rf '%s/src' && '%s' %s -q", scratch, P, args),
                   0);
  assert_int_equal(tu_sh("truncate -s 512M '%s/src/sparse.bin'", scratch), 0);

  /* copy: three interruptions, then a rerun that resumes to a tree that
   * audits identical (its manifest too). */
  snprintf(args, sizeof args, "copy --threads 2 '%s/src' '%s/dst'", scratch,
           scratch);
  char reset[8192];
  snprintf(reset, sizeof reset, "rm -rf '%s/dst' '%s/dst.xxh128' "
           "'%s/dst.pomove-journal' '%s/dst.pomove-lock'", scratch, scratch,
           scratch, scratch);
  for (int i = 0; i < 3; i++) expect_interrupted_reset(args, 0.1, 1.0, reset);
  assert_int_equal(tu_sh("'%s' %s -q", P, args), 0);
  assert_int_equal(tu_sh("'%s' verify -q '%s/src' '%s/dst'", P, scratch,
                         scratch), 0);

  /* hash -o: interrupted (the partial manifest is never put at FILE, and
   * its temporary is removed), then rerun. */
  snprintf(args, sizeof args, "hash --threads 2 -o '%s/m' '%s/src'",
           scratch, scratch);
  snprintf(reset, sizeof reset, "rm -f '%s/m'", scratch);
  /* The audits of this tree take about 0.1 s on a quiet machine (the
   * 512 MiB sparse file is a hole): their windows start at 0.02 s, as
   * gen-postoffice's, so that a retry can land before the end. */
  expect_interrupted_reset(args, 0.02, 1.0, reset);
  assert_int_not_equal(tu_sh("test -e '%s/m'", scratch), 0);
  assert_int_equal(tu_sh("test -z \"$(ls '%s' | grep '^m.')\"", scratch), 0);
  assert_int_equal(tu_sh("'%s' %s -q", P, args), 0);

  /* verify, both modes: interrupted, then rerun. */
  snprintf(args, sizeof args, "verify --threads 2 '%s/src' '%s/dst'",
           scratch, scratch);
  expect_interrupted(args, 0.02, 1.0);
  assert_int_equal(tu_sh("'%s' %s -q", P, args), 0);
  snprintf(args, sizeof args, "verify --threads 2 --manifest '%s/m' '%s/src'",
           scratch, scratch);
  expect_interrupted(args, 0.02, 1.0);
  assert_int_equal(tu_sh("'%s' %s -q", P, args), 0);

  /* move: the sample host with the sparse file in its postoffice, so
   * that the copy step takes seconds; interrupted at any step, then
   * --resume completes it and check finds the host consistent. */
  assert_int_equal(tu_sh("'%s' sim-create -q '%s' --files 200 --start-delay "
                         "100 --stop-delay 100 && truncate -s 1G "
                         "'%s/drives/C/exchsrvr/Connect/Msmcon/Maildata/"
                         "big.dat'", P, host, host), 0);
  snprintf(args, sizeof args, "move --host 'sim:%s' --from 'C:\\exchsrvr' "
           "--to D: --threads 2", host);
  /* A move that finished before the signal (its copy step got fast
   * enough in session 9 to beat 0.68 s) is undone by rollback
   * --remove-copy before the next try, which then moves the same host
   * again. */
  char undo[8192];
  snprintf(undo, sizeof undo, "'%s' rollback -q --host 'sim:%s' --remove-copy",
           P, host);
  expect_interrupted_reset(args, 0.1, 0.7, undo);
  snprintf(args, sizeof args, "move --host 'sim:%s' --resume", host);
  /* What is left after the first interruption may take less than the
   * delay: a resume that finished first exits 0, and check below proves
   * the host consistent either way. */
  int rcode = interrupt_after(args, delay_in(0.05, 0.5), some_signal());
  assert_true(rcode == 130 || rcode == 0);
  assert_int_equal(tu_sh("'%s' %s -q", P, args), 0);
  assert_int_equal(tu_sh("'%s' check -q --host 'sim:%s' --expect D:", P,
                         host), 0);
  /* rollback --remove-copy: removing the copy takes a moment; stopped,
   * then run again to the end. */
  snprintf(args, sizeof args, "rollback --host 'sim:%s' --remove-copy",
           host);
  int code = interrupt_after(args, delay_in(0.05, 0.4), some_signal());
  assert_true(code == 130 || code == 0);
  assert_int_equal(tu_sh("'%s' %s -q", P, args), 0);
  assert_int_equal(tu_sh("'%s' check -q --host 'sim:%s' --expect "
                         "'C:\\exchsrvr'", P, host), 0);
  printf("# [%5.1fs] done\n", now_s() - t_start);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cli_interrupt_every_command),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
