/* test_copy_crash.c - crash safety: kill -9 a copy at 20 random moments,
 * rerun the same command after each kill, and check the final tree with
 * independent tools (diff -r, xxh128sum -c). The rerun's own report says
 * how many bytes it found on disk unrecorded and wrote again; that must
 * stay within what the options allow to be in flight at a kill. Also the
 * journal's torn-tail handling, in process. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "testutil.h"

#define THREADS 2
#define BATCH_BYTES (512 * 1024)
#define INFLIGHT (1024 * 1024)
#define CKPT (1024 * 1024)
#define CHUNK (256 * 1024)
#define FILES_IN_FLIGHT 8
#define SMALL_MAX (16 * 1024)

#define OPTS                                                             \
  "--threads 2 --batch-bytes 524288 --batch-files 64 --inflight-bytes "  \
  "1048576 --checkpoint-bytes 1048576 --chunk-size 262144 "             \
  "--files-in-flight 8"
static const char *const plain_opts = OPTS, *const verify_opts = OPTS " --verify";
static const char *opts = OPTS;

static pid_t start_copy(const char *base) {
  pid_t pid = fork();
  if (pid == 0) {
    char *cmd = NULL;
    if (asprintf(&cmd, "cd '%s' && exec '%s' copy -q %s src dst 2>/dev/null",
                 base, tu_pomove(), opts) < 0)
      _exit(127);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  return pid;
}

static uint64_t json_u64(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(json, pat);
  return p ? strtoull(p + strlen(pat), NULL, 10) : UINT64_MAX;
}

/* `batches`: the batches per worker a crash may leave unrecorded, the
 * one being filled and those handed over (3 for a plain copy, 9 with
 * --verify, whose shared re-read spans several); `kills` runs. */
static void kill9_resume(unsigned batches, int kills) {
  const char *b = tu_scratch();
  /* 1,500 small files and 4 files of 6 MiB: about 35 MiB. */
  assert_int_equal(
      tu_sh("set -e; cd '%s'; mkdir -p src; cd src; head -c 30000000 "
            "/dev/urandom > ../pool; for d in 0 1 2 3 4 5 6 7 8 9; do mkdir M$d; "
            "for i in $(seq 1 150); do dd if=../pool of=M$d/$i.MAI bs=1 count=0 "
            "status=none; head -c $(( (i * 97 + d * 31) %% 16000 + 1 )) ../pool > "
            "M$d/$i.MAI; done; done; for i in 1 2 3 4; do "
            "dd if=../pool of=L$i.ATT bs=1M count=6 skip=$i status=none; done",
            b),
      0);
  /* A full run's duration sets the range of kill moments. */
  struct timespec a, z;
  clock_gettime(CLOCK_MONOTONIC, &a);
  pid_t pid = start_copy(b);
  int st;
  waitpid(pid, &st, 0);
  clock_gettime(CLOCK_MONOTONIC, &z);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  long full_us = (z.tv_sec - a.tv_sec) * 1000000L + (z.tv_nsec - a.tv_nsec) / 1000;
  if (full_us < 20000) full_us = 20000;
  /* What may be on disk but not yet recorded at a kill, per worker: the
   * batch being filled, and the two handed to its committer and not yet
   * recorded (each its byte limit plus the small files that complete in
   * the same pass), the writes of the chunks
   * in flight, and the tails of large files since their last checkpoint
   * (under two checkpoints each; allow two such files). A rerun that copied
   * unchanged work again, or ignored the checkpoints, would exceed it. */
  const uint64_t bound =
      THREADS * (batches * ((uint64_t)BATCH_BYTES + FILES_IN_FLIGHT * SMALL_MAX) +
                 INFLIGHT + 2 * 2 * CKPT);
  srand(12345);
  unsigned resumed_runs = 0, finished_at_kill = 0;
  uint64_t max_rewritten = 0;
  for (int i = 0; i < kills; i++) {
    tu_sh("cd '%s' && rm -rf dst dst.xxh128 dst.xxh128.tmp dst.pomove-journal", b);
    pid = start_copy(b);
    long delay = 2000 + (long)(rand() % (int)(full_us * 8 / 10));
    usleep((useconds_t)delay);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    if (!WIFSIGNALED(st)) {
      /* Finished before the kill (a slow run before it set the range):
       * nothing to resume, but the copy must be complete. */
      assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
      assert_int_equal(tu_sh("cd '%s' && diff -r src dst", b), 0);
      continue;
    }
    char *out = NULL;
    int rc = tu_sh_out(&out, "cd '%s' && '%s' copy -q --json %s src dst", b,
                       tu_pomove(), opts);
    if (rc == 2 &&
        tu_sh("cd '%s' && test ! -e dst.pomove-journal && test -e dst.xxh128",
              b) == 0) {
      /* Killed after the manifest was published and the journal removed,
       * before the process exited: the copy had finished, so the rerun
       * refuses the non-empty DST. It must be whole and match. */
      free(out);
      assert_int_equal(tu_sh("cd '%s' && diff -r src dst && cd dst && "
                             "xxh128sum -c --quiet ../dst.xxh128 && "
                             "test $(wc -l < ../dst.xxh128) -eq 1504",
                             b),
                       0);
      finished_at_kill++;
      continue;
    }
    if (rc != 0) {
      free(out);
      fail_msg("kill #%d after %ld us: rerun exited %d", i, delay, rc);
    }
    uint64_t rewritten = json_u64(out, "rewritten_bytes");
    uint64_t skipped = json_u64(out, "resumed_files_skipped");
    if (rewritten > bound)
      fail_msg("kill #%d after %ld us: the rerun wrote %llu bytes again, more "
               "than the %llu that can be in flight",
               i, delay, (unsigned long long)rewritten,
               (unsigned long long)bound);
    if (skipped) resumed_runs++;
    if (rewritten > max_rewritten) max_rewritten = rewritten;
    free(out);
    assert_int_equal(tu_sh("cd '%s' && diff -r src dst && cd dst && "
                           "xxh128sum -c --quiet ../dst.xxh128 && "
                           "test $(wc -l < ../dst.xxh128) -eq 1504 && "
                           "test ! -e ../dst.pomove-journal",
                           b),
                     0);
  }
  printf("  %u of %d reruns resumed from a journal, %u kills came after "
         "the copy finished; at most %llu bytes written again (bound %llu)\n",
         resumed_runs, kills, finished_at_kill, (unsigned long long)max_rewritten,
         (unsigned long long)bound);
  assert_true(resumed_runs > 0);
  tu_cleanup();
}

static void test_copy_crash_kill9_resume(void **state) {
  (void)state;
  opts = plain_opts;
  kill9_resume(3, 20);
}

/* The same with --verify: a file is recorded only once its re-read
 * matched, and the re-reads wait for windows of several batches. */
static void test_copy_crash_kill9_resume_verify(void **state) {
  (void)state;
  opts = verify_opts;
  kill9_resume(9, 10);
}

/* A torn last record is detected and ignored; earlier records stay. */
static void test_journal_torn_tail(void **state) {
  (void)state;
  const char *b = tu_scratch();
  char *jp = NULL;
  if (asprintf(&jp, "%s/j", b) < 0) abort();
  const pm_fs *fs = pm_fs_native();
  ce_journal *j;
  bool resumed;
  ce_journal_stats st;
  assert_int_equal(ce_journal_open(fs, jp, "/s", "/d", "sig", false, &j,
                                   &resumed, &st),
                   0);
  assert_false(resumed);
  ce_jfile f[2] = {{.rel = "a/b", .id = {.size = 10, .ino = 1}},
                   {.rel = "c", .id = {.size = 20, .ino = 2}}};
  f[0].hash.b[0] = 0xAB;
  assert_int_equal(ce_journal_add_files(j, f, 2), 0);
  assert_int_equal(ce_journal_close(j, false), 0);
  /* Tear the last record: drop its final 3 bytes. */
  struct stat sb;
  assert_int_equal(stat(jp, &sb), 0);
  assert_int_equal(truncate(jp, sb.st_size - 3), 0);
  assert_int_equal(ce_journal_open(fs, jp, "/s", "/d", "sig", false, &j,
                                   &resumed, &st),
                   0);
  assert_true(resumed);
  assert_true(st.torn_tail);
  assert_int_equal(st.files, 1);
  const ce_jentry *e = ce_journal_lookup(j, "a/b");
  assert_non_null(e);
  assert_true(e->done);
  assert_int_equal(e->id.size, 10);
  assert_int_equal(e->hash.b[0], 0xAB);
  assert_null(ce_journal_lookup(j, "c"));
  assert_int_equal(ce_journal_close(j, false), 0);
  /* Another source or options: refused unless restarting. */
  assert_int_equal(ce_journal_open(fs, jp, "/other", "/d", "sig", false, &j,
                                   &resumed, &st),
                   PM_ESTATE);
  assert_int_equal(ce_journal_open(fs, jp, "/s", "/d", "sig2", false, &j,
                                   &resumed, &st),
                   PM_ESTATE);
  assert_int_equal(ce_journal_open(fs, jp, "/other", "/d", "sig", true, &j,
                                   &resumed, &st),
                   0);
  assert_false(resumed);
  assert_int_equal(ce_journal_close(j, true), 0);
  assert_int_equal(access(jp, F_OK), -1);
  free(jp);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_journal_torn_tail),
      cmocka_unit_test(test_copy_crash_kill9_resume),
      cmocka_unit_test(test_copy_crash_kill9_resume_verify),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
