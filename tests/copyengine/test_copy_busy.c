/* test_copy_busy.c - files held by another program (issue 14): on
 * Windows a file a service or a virus scanner holds open without sharing
 * fails its open with ERROR_SHARING_VIOLATION (32), and a locked range
 * fails a read with ERROR_LOCK_VIOLATION (33); the Win32 backend returns
 * both as PM_EBUSY. Here a table wrapping the native one makes opens of
 * chosen files fail that way, for a number of calls, for a time, or for
 * good, and the engine must wait for them with a bounded backoff while
 * it copies the rest, then report what is still held, naming it. Runs
 * once per I/O engine. Timing bounds are loose: the test machine is
 * slow and noisy. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copyengine.h"
#include "faultlayer.h"
#include "testutil.h"
#include "thread.h"
#include "util.h"

#define MS 1000000ull

static const pm_io_engine_ops *engine;

static char *path(const char *a, const char *b) {
  char *s = NULL;
  if (asprintf(&s, "%s/%s", a, b) < 0) abort();
  return s;
}

/* ---- the busy table: rules by a file's last name ---- */

enum { SIDE_SRC, SIDE_DST };

typedef struct rule {
  char name[64];
  int side;           /* which open is refused */
  unsigned calls;     /* busy for the first `calls` opens (0: see ms) */
  uint64_t ms;        /* busy for ms after the first open (0: forever) */
  unsigned seen;      /* opens of this file so far */
  unsigned refused;   /* ... of which refused */
  uint64_t first_ns;
} rule;

#define MAX_RULES 64
static rule rules[MAX_RULES];
static unsigned nrules;
static pm_mutex rules_mu;
static pm_fs_ops busy_ops;
static const pm_fs busy_fs = {&busy_ops, NULL};

static void rules_clear(void) {
  pm_mutex_lock(&rules_mu);
  memset(rules, 0, sizeof rules);
  nrules = 0;
  pm_mutex_unlock(&rules_mu);
}

static void rule_add(const char *name, int side, unsigned calls,
                     uint64_t ms) {
  pm_mutex_lock(&rules_mu);
  assert_true(nrules < MAX_RULES);
  rule *r = &rules[nrules++];
  snprintf(r->name, sizeof r->name, "%s", name);
  r->side = side;
  r->calls = calls;
  r->ms = ms;
  pm_mutex_unlock(&rules_mu);
}

static rule rule_get(const char *name) {
  rule out = {0};
  pm_mutex_lock(&rules_mu);
  for (unsigned i = 0; i < nrules; i++)
    if (!strcmp(rules[i].name, name)) out = rules[i];
  pm_mutex_unlock(&rules_mu);
  return out;
}

/* Whether this open is refused: the source's opens read (the engine's
 * open of a file it copies), the destination's create. */
static bool refuse(const char *rel, int flags) {
  const char *slash = strrchr(rel, '/');
  const char *leaf = slash ? slash + 1 : rel;
  int side = (flags & PM_O_CREAT) ? SIDE_DST
             : ((flags & PM_O_ACCMODE) == PM_O_RDONLY &&
                !(flags & PM_O_DIRECTORY))
                 ? SIDE_SRC
                 : -1;
  bool busy = false;
  pm_mutex_lock(&rules_mu);
  for (unsigned i = 0; i < nrules; i++) {
    rule *r = &rules[i];
    if (r->side != side || strcmp(r->name, leaf)) continue;
    uint64_t now = pm_now_ns();
    if (!r->seen) r->first_ns = now;
    r->seen++;
    if (r->calls)
      busy = r->seen <= r->calls;
    else if (r->ms)
      busy = now - r->first_ns < r->ms * MS;
    else
      busy = true;
    if (busy) r->refused++;
    break;
  }
  pm_mutex_unlock(&rules_mu);
  return busy;
}

static int busy_open_at(const pm_fs *self PM_UNUSED, pm_fd dir, const char *rel,
                        int flags, uint32_t mode, pm_fd *out) {
  if (refuse(rel, flags)) {
    /* What the Win32 backend records for ERROR_SHARING_VIOLATION. */
    pm_oserr_record(PM_EBUSY, 32);
    return PM_EBUSY;
  }
  return pm_fs_open_at(pm_fs_native(), dir, rel, flags, mode, out);
}

/* ---- helpers ---- */

static ce_options opts_for(const char *src, const char *dst,
                           uint64_t wait_ms) {
  ce_options o;
  ce_options_init(&o);
  o.src = src;
  o.dst = dst;
  o.fs = &busy_fs;
  o.engine = engine;
  o.threads = 2;
  o.busy_wait_ns = (int64_t)(wait_ms * MS);
  return o;
}

/* A tree of n small files f0 .. f(n-1) and a subdirectory with two. */
static void make_tree(const char *src, unsigned n) {
  assert_int_equal(tu_sh("mkdir -p '%s/sub'", src), 0);
  for (unsigned i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "f%u", i);
    char *p = path(src, name);
    tu_write_pattern(p, 1000 + 997 * i, i + 1);
    free(p);
  }
  char *p = path(src, "sub/s0");
  tu_write_pattern(p, 70000, 99);
  free(p);
  p = path(src, "sub/s1");
  tu_write_pattern(p, 5, 98);
  free(p);
}

/* stderr into a file while a copy runs, to read its reports. */
static int saved_err = -1;
static void stderr_to(const char *file) {
  fflush(stderr);
  saved_err = dup(2);
  int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0 && saved_err >= 0);
  dup2(fd, 2);
  close(fd);
}
static char *stderr_back(const char *file) {
  fflush(stderr);
  dup2(saved_err, 2);
  close(saved_err);
  char *s = tu_read_all(file, NULL);
  fprintf(stderr, "%s", s ? s : "");
  return s;
}

static double secs_since(uint64_t t0) {
  return (double)(pm_now_ns() - t0) / 1e9;
}

/* The copy is SRC, the manifest checks. */
static void assert_copy_whole(const char *src, const char *dst) {
  assert_int_equal(tu_sh("diff -r '%s' '%s'", src, dst), 0);
  assert_int_equal(tu_sh("cd '%s' && xxh128sum -c --quiet '%s.xxh128'", dst,
                         dst),
                   0);
  assert_int_equal(tu_sh("cd '%s' && test $(find . -type f | wc -l) -eq "
                         "$(wc -l < '%s.xxh128')",
                         dst, dst),
                   0);
}

/* ---- tests ---- */

/* A file held for a while (less than the wait), at its source's open or
 * its destination's, is copied: counted as waited for, no error, tree
 * and manifest right. */
static void test_busy_file_copied_after_wait(void **state) {
  (void)state;
  const char *base = tu_scratch();
  char *src = path(base, "src"), *dst = path(base, "dst");
  make_tree(src, 6);
  rules_clear();
  rule_add("f1", SIDE_SRC, 3, 0);   /* three refused opens */
  rule_add("s0", SIDE_SRC, 0, 700); /* 0.7 s */
  rule_add("f4", SIDE_DST, 2, 0);   /* the copy held */
  ce_options o = opts_for(src, dst, 10000);
  ce_result r;
  uint64_t t0 = pm_now_ns();
  assert_int_equal(ce_copy(&o, &r), 0);
  double took = secs_since(t0);
  assert_int_equal(r.errors, 0);
  assert_int_equal(r.busy_waited, 3);
  assert_int_equal(r.files, 8);
  assert_false(r.interrupted);
  assert_int_equal(rule_get("f1").refused, 3);
  assert_int_equal(rule_get("f1").seen, 4);
  assert_int_equal(rule_get("f4").seen, 3);
  assert_true(rule_get("s0").refused >= 2);
  /* s0 waited its 0.7 s (backoff steps of 0.1, 0.2, 0.4 ...), and not
   * much longer: the next try follows within a step. */
  assert_true(took >= 0.6);
  assert_true(took < 0.7 + 5);
  assert_copy_whole(src, dst);
  free(src);
  free(dst);
  tu_cleanup();
}

/* A file held for good fails once the wait is over, with a report that
 * names it, says another program holds it, how long pomove waited and
 * the option; the rest is copied; the time is bounded. */
static void test_busy_file_fails_after_wait(void **state) {
  (void)state;
  const char *base = tu_scratch();
  char *src = path(base, "src"), *dst = path(base, "dst");
  char *err = path(base, "stderr");
  make_tree(src, 5);
  rules_clear();
  rule_add("f2", SIDE_SRC, 0, 0);
  ce_options o = opts_for(src, dst, 1000);
  ce_result r;
  uint64_t t0 = pm_now_ns();
  stderr_to(err);
  int rc = ce_copy(&o, &r);
  char *msg = stderr_back(err);
  double took = secs_since(t0);
  assert_int_equal(rc, 0);
  assert_int_equal(r.errors, 1);
  assert_int_equal(r.busy_waited, 1);
  assert_int_equal(r.files, 6);
  assert_true(took >= 0.9);
  assert_true(took < 1 + 5);
  /* Tries at 0, 0.1, 0.3, 0.7 and 1.0 s. */
  rule g = rule_get("f2");
  assert_true(g.seen >= 4 && g.seen <= 6);
  assert_non_null(msg);
  char *line = strstr(msg, "/src/f2'");
  assert_non_null(line);
  assert_non_null(strstr(msg, "held by another program"));
  assert_non_null(strstr(msg, "--busy-wait"));
  assert_non_null(strstr(msg, "OS error 32"));
  assert_non_null(strstr(msg, "EBUSY"));
  /* Everything else is there and in the manifest; f2 in neither. */
  assert_int_equal(tu_sh("test ! -e '%s/f2' && ! grep -q ' f2$' '%s.xxh128'",
                         dst, dst),
                   0);
  assert_int_equal(tu_sh("diff -r -x f2 '%s' '%s'", src, dst), 0);
  assert_int_equal(tu_sh("cd '%s' && xxh128sum -c --quiet '%s.xxh128'", dst,
                         dst),
                   0);
  free(msg);
  free(err);
  free(src);
  free(dst);
  tu_cleanup();
}

/* busy_wait 0: a held file is reported at once, tried once. */
static void test_busy_wait_zero_fails_at_once(void **state) {
  (void)state;
  const char *base = tu_scratch();
  char *src = path(base, "src"), *dst = path(base, "dst");
  char *err = path(base, "stderr");
  make_tree(src, 3);
  rules_clear();
  rule_add("f0", SIDE_SRC, 0, 0);
  ce_options o = opts_for(src, dst, 0);
  ce_result r;
  uint64_t t0 = pm_now_ns();
  stderr_to(err);
  assert_int_equal(ce_copy(&o, &r), 0);
  char *msg = stderr_back(err);
  assert_true(secs_since(t0) < 5);
  assert_int_equal(r.errors, 1);
  assert_int_equal(r.busy_waited, 0);
  assert_int_equal(rule_get("f0").seen, 1);
  assert_non_null(strstr(msg, "/src/f0'"));
  assert_non_null(strstr(msg, "--busy-wait is 0"));
  assert_int_equal(tu_sh("diff -r -x f0 '%s' '%s'", src, dst), 0);
  free(msg);
  free(err);
  free(src);
  free(dst);
  tu_cleanup();
}

/* Many held files on two workers wait side by side, and the others are
 * copied meanwhile: the run takes about one wait, not one per file. */
static void test_busy_many_files_wait_together(void **state) {
  (void)state;
  const char *base = tu_scratch();
  char *src = path(base, "src"), *dst = path(base, "dst");
  const unsigned n = 40, held = 20;
  make_tree(src, n);
  rules_clear();
  /* Half of them held for good, with a 1 s wait each: one after the
   * other they would take 20 s. */
  for (unsigned i = 0; i < held; i++) {
    char name[32];
    snprintf(name, sizeof name, "f%u", 2 * i);
    rule_add(name, SIDE_SRC, 0, 0);
  }
  ce_options o = opts_for(src, dst, 1000);
  ce_result r;
  uint64_t t0 = pm_now_ns();
  pm_set_quiet(true);
  assert_int_equal(ce_copy(&o, &r), 0);
  pm_set_quiet(false);
  double took = secs_since(t0);
  assert_int_equal(r.errors, held);
  assert_int_equal(r.busy_waited, held);
  assert_int_equal(r.files, n - held + 2);
  assert_true(took < 1 + 5);
  for (unsigned i = 0; i < held; i++) {
    char name[32];
    snprintf(name, sizeof name, "f%u", 2 * i);
    assert_true(rule_get(name).seen >= 4);
  }
  assert_int_equal(tu_sh("cd '%s' && for i in $(seq 1 2 39); do cmp f$i "
                         "'%s'/f$i || exit 1; done",
                         src, dst),
                   0);
  /* And when they come free after 0.5 s, all are copied in one wait. */
  rules_clear();
  for (unsigned i = 0; i < held; i++) {
    char name[32];
    snprintf(name, sizeof name, "f%u", 2 * i);
    rule_add(name, SIDE_SRC, 0, 500);
  }
  tu_sh("rm -rf '%s' '%s.xxh128' '%s.pomove-state' '%s.pomove-journal'",
        dst, dst, dst, dst);
  o = opts_for(src, dst, 10000);
  t0 = pm_now_ns();
  assert_int_equal(ce_copy(&o, &r), 0);
  took = secs_since(t0);
  assert_int_equal(r.errors, 0);
  assert_int_equal(r.busy_waited, held);
  assert_true(took < 0.5 + 5);
  assert_copy_whole(src, dst);
  free(src);
  free(dst);
  tu_cleanup();
}

typedef struct stopper {
  atomic_int *flag;
  const char *name;
  uint64_t set_ns;
} stopper;

/* Sets the interrupt flag once the engine has tried the held file three
 * times: it is then waiting for it. */
static void stopper_main(void *arg) {
  stopper *s = arg;
  uint64_t t0 = pm_now_ns();
  while (rule_get(s->name).seen < 3 && pm_now_ns() - t0 < 20000 * MS)
    usleep(10000);
  s->set_ns = pm_now_ns();
  atomic_store(s->flag, 1);
}

/* The same once any path of the f1/ha/hb group was refused three
 * times. */
static void hl_stopper_main(void *arg) {
  stopper *s = arg;
  uint64_t t0 = pm_now_ns();
  while (rule_get("f1").refused + rule_get("ha").refused +
                 rule_get("hb").refused < 3 &&
         pm_now_ns() - t0 < 20000 * MS)
    usleep(10000);
  s->set_ns = pm_now_ns();
  atomic_store(s->flag, 1);
}

/* Ctrl-C while a worker waits for a held file ends the copy within a
 * second or two (not after the 30 s wait), the file is not recorded, and
 * a rerun completes the copy. */
static void test_busy_interrupt_then_rerun(void **state) {
  (void)state;
  const char *base = tu_scratch();
  char *src = path(base, "src"), *dst = path(base, "dst");
  make_tree(src, 6);
  rules_clear();
  rule_add("s1", SIDE_SRC, 0, 0);
  atomic_int flag;
  atomic_init(&flag, 0);
  ce_options o = opts_for(src, dst, 30000);
  o.interrupt = &flag;
  stopper s = {.flag = &flag, .name = "s1"};
  pm_thread th;
  assert_int_equal(pm_thread_create(&th, stopper_main, &s), 0);
  ce_result r;
  assert_int_equal(ce_copy(&o, &r), 0);
  uint64_t end = pm_now_ns();
  pm_thread_join(&th);
  assert_true(s.set_ns > 0);
  assert_true(r.interrupted);
  assert_int_equal(r.errors, 0);
  assert_true((double)(end - s.set_ns) / 1e9 < 3);
  assert_int_equal(tu_sh("test -e '%s.pomove-journal'", dst), 0);
  /* The rerun, with the file free, resumes and completes. */
  rules_clear();
  atomic_store(&flag, 0);
  o = opts_for(src, dst, 30000);
  assert_int_equal(ce_copy(&o, &r), 0);
  assert_int_equal(r.errors, 0);
  assert_false(r.interrupted);
  assert_true(r.resumed_files_skipped >= 1);
  assert_copy_whole(src, dst);
  free(src);
  free(dst);
  tu_cleanup();
}

/* A hard-link group whose paths are held: the path copied first keeps
 * the group waiting while it is put aside, and the others are linked to
 * it once it is copied; interrupted while it waits, the group is let go
 * and a rerun links it. */
static void test_busy_hardlink_group(void **state) {
  (void)state;
  const char *base = tu_scratch();
  char *src = path(base, "src"), *dst = path(base, "dst");
  make_tree(src, 3);
  assert_int_equal(tu_sh("cd '%s' && ln f1 ha && ln f1 hb", src), 0);
  const char *same = "test $(stat -c %%i '%s/f1') = $(stat -c %%i '%s/ha') "
                     "&& test $(stat -c %%i '%s/f1') = $(stat -c %%i "
                     "'%s/hb')";
  for (int pass = 0; pass < 3; pass++) {
    tu_sh("rm -rf '%s' '%s.xxh128' '%s.pomove-state' '%s.pomove-journal'",
          dst, dst, dst, dst);
    rules_clear();
    const char *names[] = {"f1", "ha", "hb"};
    for (int i = 0; i < 3; i++) {
      if (pass == 0) rule_add(names[i], SIDE_SRC, 0, 300);
      if (pass == 1) rule_add(names[i], SIDE_DST, 2, 0);
      if (pass == 2) rule_add(names[i], SIDE_DST, 0, 0);
    }
    atomic_int flag;
    atomic_init(&flag, 0);
    ce_options o = opts_for(src, dst, 10000);
    o.interrupt = &flag;
    ce_result r;
    pm_thread th;
    stopper s = {.flag = &flag};
    if (pass < 2) {
      assert_int_equal(ce_copy(&o, &r), 0);
      assert_int_equal(r.errors, 0);
      assert_true(r.busy_waited >= 1);
      assert_int_equal(r.hardlinks, 2);
      assert_copy_whole(src, dst);
      assert_int_equal(tu_sh(same, dst, dst, dst, dst), 0);
      continue;
    }
    /* Held for good: interrupted after a few tries of the first path. */
    assert_int_equal(pm_thread_create(&th, hl_stopper_main, &s), 0);
    pm_set_quiet(true);
    assert_int_equal(ce_copy(&o, &r), 0);
    pm_set_quiet(false);
    pm_thread_join(&th);
    assert_true(r.interrupted);
    /* The paths that waited for it are not done, not failed. */
    assert_int_equal(r.errors, 0);
    rules_clear();
    atomic_store(&flag, 0);
    assert_int_equal(ce_copy(&o, &r), 0);
    assert_int_equal(r.errors, 0);
    assert_copy_whole(src, dst);
    assert_int_equal(tu_sh(same, dst, dst, dst, dst), 0);
  }
  free(src);
  free(dst);
  tu_cleanup();
}

/* A read that fails with PM_EBUSY in the middle of a file (a byte range
 * another program locked: ERROR_LOCK_VIOLATION) puts the file aside and
 * copies it again from the start; held for good, it is reported. */
static void test_busy_read_lock_mid_file(void **state) {
  (void)state;
  const char *base = tu_scratch();
  char *src = path(base, "src"), *dst = path(base, "dst");
  assert_int_equal(tu_sh("mkdir -p '%s'", src), 0);
  char *big = path(src, "big");
  tu_write_pattern(big, 300000, 7);
  rules_clear();
  for (int persistent = 0; persistent < 2; persistent++) {
    tu_sh("rm -rf '%s' '%s.xxh128' '%s.pomove-state' '%s.pomove-journal'",
          dst, dst, dst, dst);
    fl_rule p = {.ops = FL_MASK(FL_READ), .nth = 2, .err = PM_EBUSY,
                 .persistent = persistent};
    fl_layer *L = fl_new(&busy_fs, &p);
    ce_options o = opts_for(src, dst, persistent ? 800 : 10000);
    o.fs = fl_fs(L);
    o.engine = fl_engine(engine);
    o.chunk_size = 65536;
    o.threads = 1;
    ce_result r;
    uint64_t t0 = pm_now_ns();
    pm_set_quiet(true);
    assert_int_equal(ce_copy(&o, &r), 0);
    pm_set_quiet(false);
    double took = secs_since(t0);
    assert_true(fl_fired(L));
    assert_int_equal(r.busy_waited, 1);
    if (!persistent) {
      assert_int_equal(r.errors, 0);
      /* Read again from the start: more reads than the file's five. */
      assert_true(fl_calls(L, FL_READ) >= 5 + 2);
      assert_copy_whole(src, dst);
    } else {
      assert_int_equal(r.errors, 1);
      assert_true(took >= 0.7);
      assert_true(took < 0.8 + 5);
      assert_int_equal(tu_sh("! grep -q ' big$' '%s.xxh128'", dst), 0);
    }
    fl_free(L);
  }
  free(big);
  free(src);
  free(dst);
  tu_cleanup();
}

/* The command line: --busy-wait in --help (of copy, move and stage),
 * its value checked, the count in --json. */
static void test_busy_cli(void **state) {
  (void)state;
  const char *base = tu_scratch();
  char *src = path(base, "src");
  make_tree(src, 2);
  assert_int_equal(tu_sh("'%s' copy --help | grep -q -- '--busy-wait S'",
                         tu_pomove()),
                   0);
  assert_int_equal(tu_sh("cd '%s' && '%s' copy --busy-wait 1x src d1 "
                         "2>err; test $? -eq 2 && grep -q -- "
                         "'--busy-wait: \"1x\"' err",
                         base, tu_pomove()),
                   0);
  assert_int_equal(tu_sh("cd '%s' && '%s' copy --busy-wait 3601 src d1 "
                         "2>/dev/null; test $? -eq 2",
                         base, tu_pomove()),
                   0);
  /* move and stage pass it to their copy. */
  assert_int_equal(tu_sh("'%s' move --help | grep -q -- '--busy-wait S' && "
                         "'%s' stage --help | grep -q -- '--busy-wait S'",
                         tu_pomove(), tu_pomove()),
                   0);
  assert_int_equal(tu_sh("'%s' stage --host sim:/nonexistent --from C: --to "
                         "D: --busy-wait -1 2>/dev/null; test $? -eq 2",
                         tu_pomove()),
                   0);
  char *out = NULL;
  assert_int_equal(tu_sh_out(&out, "cd '%s' && '%s' copy -q --json "
                                   "--busy-wait 0.5 src d2",
                             base, tu_pomove()),
                   0);
  assert_non_null(strstr(out, "\"busy_waited\":0,"));
  free(out);
  free(src);
  tu_cleanup();
}

int main(void) {
  pm_mutex_init(&rules_mu);
  busy_ops = *pm_fs_native()->ops;
  busy_ops.name = "busy";
  busy_ops.open_at = busy_open_at;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_busy_file_copied_after_wait),
      cmocka_unit_test(test_busy_file_fails_after_wait),
      cmocka_unit_test(test_busy_wait_zero_fails_at_once),
      cmocka_unit_test(test_busy_many_files_wait_together),
      cmocka_unit_test(test_busy_interrupt_then_rerun),
      cmocka_unit_test(test_busy_hardlink_group),
      cmocka_unit_test(test_busy_read_lock_mid_file),
  };
  const struct CMUnitTest plain[] = {
      cmocka_unit_test(test_busy_cli),
  };
  int failed = cmocka_run_group_tests_name("copy --busy-wait", plain, NULL,
                                           NULL);
  int ran = 0;
  for (const pm_io_engine_ops *const *e = pm_io_engines(); *e; e++) {
    engine = *e;
    if (engine->probe() != 0) {
      printf("engine %s unavailable here: its tests are skipped\n",
             engine->name);
      continue;
    }
    char group[64];
    snprintf(group, sizeof group, "busy files (%s)", engine->name);
    failed += cmocka_run_group_tests_name(group, tests, NULL, NULL);
    ran++;
  }
  if (!ran) return TU_SKIP_CODE;
  return failed ? 1 : 0;
}
