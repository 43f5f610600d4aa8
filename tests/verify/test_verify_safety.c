/* test_verify_safety.c - the audits never read outside their trees and
 * never hang: manifest lines that are absolute, climb out with "..", or
 * go through a symlink (a directory in the middle, the last component)
 * are filed as "unsafe path", the file outside is never opened (the
 * counting fs table watches for it) and no hash of it is printed; a FIFO
 * met where a file was expected is reported by its type (an alarm turns
 * a regression into a failure instead of a hang); reports name the OS
 * code of the failure they report, or none. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "audit_int.h"
#include "hashpool.h"
#include "report.h"
#include "testutil.h"
#include "util.h"
#include "faultlayer.h"

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "test_verify_safety: hung (alarm)\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  _exit(1);
}

static void guard(unsigned secs) {
  signal(SIGALRM, on_alarm);
  alarm(secs);
}

static char *json_of(const vf_report *rep, bool complete) {
  char *buf;
  size_t n;
  FILE *m = open_memstream(&buf, &n);
  vf_report_info in = {.a = "m", .b = "d", .engine = "x", .complete = complete};
  vf_report_print_json(rep, &in, m);
  fclose(m);
  return buf;
}

static int count_secret_opens(const char *op, const char *path, int flags,
                              void *arg) {
  (void)flags;
  if (!strcmp(op, "open") && strstr(path, "secret"))
    (*(unsigned long *)arg)++;
  return 0;
}

/* DIR holds "in" (a file), "dir/f" and two symlinks pointing out; the
 * file "secret" lies outside. Every way to name it is unsafe. */
static void test_verify_manifest_unsafe_paths(void **state) {
  (void)state;
  guard(60);
  const char *s = tu_scratch();
  assert_int_equal(
      tu_sh("cd '%s' && mkdir -p tree/dir tree/sub outside && printf secret "
            "> outside/secret && printf in > tree/in && printf f > "
            "tree/dir/f && ln -s ../outside tree/secretdir && ln -s "
            "../outside/secret tree/secretleaf && ln -s ../../outside "
            "tree/sub/secretup",
            s),
      0);
  char *m = pm_xasprintf("%s/m.xxh128", s);
  /* The expected hash of every line is the secret's real XXH128: were it
   * opened, the line would even audit "identical". */
  assert_int_equal(
      tu_sh("cd '%s' && h=$(xxh128sum < outside/secret | cut -c1-32) && "
            "hi=$(xxh128sum < tree/in | cut -c1-32) && { "
            "echo \"$hi  in\"; "
            "echo \"$h  %s/outside/secret\"; "
            "echo \"$h  ../outside/secret\"; "
            "echo \"$h  dir/../../outside/secret\"; "
            "echo \"$h  ./../outside/secret\"; "
            "echo \"$h  secretdir/secret\"; "
            "echo \"$h  secretleaf\"; "
            "echo \"$h  sub/secretup/secret\"; "
            "echo \"$h  dir//f\"; "
            "echo \"$h  dir/./f\"; "
            "echo \"$h  dir/\"; "
            "} > m.xxh128",
            s, s),
      0);
  /* Counts the opens by path of any path holding "secret" (beneath a
   * handle the audit tries the links and is refused: PM_ELOOP). */
  unsigned long watched = 0;
  fl_layer *L = fl_new(NULL, NULL);
  fl_set_hook(L, count_secret_opens, &watched);
  vf_audit_opts o = {0};
  o.fs = fl_fs(L);
  o.engine = pm_io_engine_find("pool");
  o.threads = 2;
  o.progress_mode = PM_PROGRESS_OFF;
  char *dir = pm_xasprintf("%s/tree", s);
  vf_report *rep = vf_report_new(VF_MODE_MANIFEST, 100);
  assert_int_equal(vf_audit_manifest(&o, m, dir, rep), 0);
  assert_int_equal(vf_report_count(rep, VF_IDENTICAL), 1);
  assert_int_equal(vf_report_count(rep, VF_UNSAFE), 10);
  assert_int_equal(vf_report_total(rep), 11);
  /* Nothing named "secret" was ever opened, and only "in" was read. */
  assert_int_equal(watched, 0);
  assert_true(fl_calls(L, FL_OPEN) > 0);
  char *js = json_of(rep, true);
  assert_non_null(strstr(js, "\"unsafe_path\":10"));
  assert_null(strstr(js, "found"));
  char hex[64];
  char *cmd = pm_xasprintf("xxh128sum < '%s/outside/secret' | cut -c1-32", s);
  FILE *p = popen(cmd, "r");
  assert_non_null(fgets(hex, sizeof hex, p));
  pclose(p);
  hex[32] = '\0';
  /* The expected value appears (it is the manifest's), never as found. */
  char *found = pm_xasprintf("%s found", hex);
  assert_null(strstr(js, found));
  free(found);
  free(cmd);
  free(js);
  vf_report_free(rep);
  fl_free(L);
  free(dir);
  free(m);
  tu_cleanup();
}

/* vf_open_beneath alone: every component checked, the last included. */
static void test_verify_open_beneath(void **state) {
  (void)state;
  const char *s = tu_scratch();
  assert_int_equal(tu_sh("cd '%s' && mkdir -p r/a/b o && printf x > r/a/b/f "
                         "&& printf y > o/f && ln -s ../o r/a/l && ln -s f "
                         "r/a/b/lf && mkfifo r/a/fifo",
                         s),
                   0);
  char *rootpath = pm_xasprintf("%s/r", s);
  const pm_fs *fs = pm_fs_native();
  pm_fd root;
  assert_int_equal(pm_fs_open(fs, rootpath, PM_O_RDONLY | PM_O_DIRECTORY, 0, &root),
                   0);
  pm_fd fd;
  pm_stat st;
  bool ok;
  assert_int_equal(vf_open_beneath(fs, root, "a/b/f", 0, &fd, &st, &ok), 0);
  pm_fs_close(fs, fd);
  assert_int_equal(vf_open_beneath(fs, root, "a/l/f", 0, &fd, &st, &ok),
                   PM_ELOOP);
  assert_int_equal(vf_open_beneath(fs, root, "a/b/lf", 0, &fd, &st, &ok),
                   PM_ELOOP);
  assert_int_equal(vf_open_beneath(fs, root, "../o/f", 0, &fd, &st, &ok),
                   PM_EPERM);
  assert_int_equal(vf_open_beneath(fs, root, "a/nope", 0, &fd, &st, &ok),
                   PM_ENOENT);
  assert_int_equal(vf_open_beneath(fs, root, "a/b/f/x", 0, &fd, &st, &ok),
                   PM_ENOTDIR);
  guard(20);
  assert_int_equal(vf_open_beneath(fs, root, "a/fifo", 0, &fd, &st, &ok),
                   PM_ESPECIAL);
  assert_true(ok);
  assert_int_equal(st.type, PM_T_FIFO);
  alarm(0);
  assert_string_equal(vf_rel_check("/x"), "absolute path");
  assert_non_null(vf_rel_check("a/.."));
  assert_non_null(vf_rel_check(""));
  assert_non_null(vf_rel_check("a//b"));
  assert_null(vf_rel_check("a/..b/c.."));
  assert_null(vf_rel_check("...")); /* a name, not a parent */
  pm_fs_close(fs, root);
  free(rootpath);
  tu_cleanup();
}

static void done_keep(vf_job *j, void *arg) {
  vf_job **slot = arg;
  *slot = j;
}

/* A FIFO where a file was listed: the pool's open must not wait for a
 * writer, and says what it found (both the pair and the single job
 * shapes, with and without fstat). */
static void test_hashpool_fifo_never_blocks(void **state) {
  (void)state;
  const char *s = tu_scratch();
  assert_int_equal(tu_sh("cd '%s' && mkfifo fifo && printf abc > file", s), 0);
  char *fifo = pm_xasprintf("%s/fifo", s), *file = pm_xasprintf("%s/file", s);
  guard(20);
  for (int shape = 0; shape < 3; shape++) {
    vf_job *got = NULL;
    vf_pool_opts po = {.engine = pm_io_engine_find("pool"), .threads = 1,
                       .done = done_keep, .arg = &got};
    vf_pool *p;
    assert_int_equal(vf_pool_create(&po, &p), 0);
    vf_job *j = shape == 0 ? vf_job_new2(file, fifo, true) : vf_job_new1(fifo);
    j->no_stat = shape == 2;
    vf_pool_submit(p, j);
    assert_int_equal(vf_pool_finish(p, NULL, NULL), 0);
    assert_non_null(got);
    vf_side *sd = &got->side[shape == 0 ? 1 : 0];
    assert_true(sd->stat_ok);
    assert_int_equal(sd->st.type, PM_T_FIFO);
    assert_false(sd->hashed);
    vf_job_free(got);
  }
  alarm(0);
  free(fifo);
  free(file);
  tu_cleanup();
}

/* Captures what fn writes on stderr. */
static char *stderr_of(void (*fn)(void *), void *arg) {
  fflush(stderr);
  char path[] = "/tmp/pomove-stderr-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  int saved = dup(2);
  dup2(fd, 2);
  fn(arg);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  size_t n;
  char *text = tu_read_all(path, &n);
  unlink(path);
  return text;
}

typedef struct stale_case {
  const char *a, *b;
  bool manifest;
  int rc;
} stale_case;

static void run_stale(void *arg) {
  stale_case *c = arg;
  vf_audit_opts o = {0};
  o.engine = pm_io_engine_find("pool");
  o.threads = 1;
  o.progress_mode = PM_PROGRESS_OFF;
  vf_report *rep = vf_report_new(c->manifest ? VF_MODE_MANIFEST : VF_MODE_TREES,
                                 10);
  /* Whatever failed last on this thread must not show in the report of
   * an error pomove makes itself. */
  pm_oserr_set(13);
  c->rc = c->manifest ? vf_audit_manifest(&o, c->a, c->b, rep)
                      : vf_audit_trees(&o, c->a, c->b, rep);
  vf_report_free(rep);
}

static void test_verify_reports_no_stale_os_error(void **state) {
  (void)state;
  const char *s = tu_scratch();
  assert_int_equal(tu_sh("cd '%s' && mkdir d && printf x > f && printf '' > "
                         "m && mkfifo fifo",
                         s),
                   0);
  char *d = pm_xasprintf("%s/d", s), *f = pm_xasprintf("%s/f", s),
       *m = pm_xasprintf("%s/m", s), *fifo = pm_xasprintf("%s/fifo", s),
       *none = pm_xasprintf("%s/none", s);
  guard(20);
  /* A root that is a file: ENOTDIR is pomove's verdict, no OS code. */
  stale_case cases[] = {{m, f, true, 0}, {f, d, false, 0}, {d, f, false, 0},
                        {fifo, d, true, 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *err = stderr_of(run_stale, &cases[i]);
    assert_true(cases[i].rc < 0);
    if (strstr(err, "OS error")) fail_msg("case %zu: %s", i, err);
    free(err);
  }
  /* A real OS failure names its own code (ENOENT is 2; 13 was set). */
  stale_case real = {m, none, true, 0};
  char *err = stderr_of(run_stale, &real);
  assert_non_null(strstr(err, "(ENOENT, OS error 2)"));
  free(err);
  alarm(0);
  free(d);
  free(f);
  free(m);
  free(fifo);
  free(none);
  tu_cleanup();
}

/* The manifest audit takes a short read as a file's end (vf_job.
 * short_end) and reads a mismatching file again to a read of 0 before it
 * judges: with every read capped at 1000 bytes, 5000-byte files are still
 * identical, and a read error after the first 1000 bytes is reported as
 * unreadable, never as a content difference. Through fl_engine, so that
 * io_uring's reads are capped too. */
static void test_verify_manifest_short_reads(void **state) {
  (void)state;
  const char *s = tu_scratch();
  char *d = pm_xasprintf("%s/d", s), *m = pm_xasprintf("%s/m", s);
  assert_int_equal(tu_sh("mkdir '%s'", d), 0);
  FILE *mf = fopen(m, "w");
  assert_non_null(mf);
  for (int i = 1; i <= 3; i++) {
    char *f = pm_xasprintf("%s/f%d", d, i);
    tu_write_pattern(f, 5000, (uint32_t)i);
    size_t len;
    char *data = tu_read_all(f, &len);
    pm_hash128 h = pm_hash_buffer(data, len);
    char hex[33];
    pm_hash_hex(&h, hex);
    fprintf(mf, "%s  f%d\n", hex, i);
    free(data);
    free(f);
  }
  fclose(mf);
  const pm_io_engine_ops *eng = pm_io_engine_default(NULL, 0);
  assert_non_null(eng);
  for (int k = 0; k < 2; k++) {
    /* k 1: f2's second read fails (the first returned 1000 bytes). */
    fl_rule r = {.short_io = 1000};
    if (k == 1) {
      r.ops = FL_MASK(FL_READ);
      r.nth = 2;
      r.persistent = true;
      r.err = PM_EIO;
      r.oserr = 5;
      r.path = "/f2";
      r.path_match = FL_PATH_SUFFIX;
    }
    fl_layer *L = fl_new(NULL, &r);
    vf_audit_opts o = {0};
    o.fs = fl_fs(L);
    o.engine = fl_engine(eng);
    o.threads = 2;
    o.progress_mode = PM_PROGRESS_OFF;
    vf_report *rep = vf_report_new(VF_MODE_MANIFEST, 100);
    assert_int_equal(vf_audit_manifest(&o, m, d, rep), 0);
    assert_int_equal(vf_report_count(rep, VF_IDENTICAL), k ? 2 : 3);
    assert_int_equal(vf_report_count(rep, VF_CONTENT), 0);
    assert_int_equal(vf_report_count(rep, VF_UNREADABLE), k ? 1 : 0);
    if (k) assert_true(fl_fired(L));
    vf_report_free(rep);
    fl_free(L);
  }
  free(d);
  free(m);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_verify_manifest_short_reads),
      cmocka_unit_test(test_verify_manifest_unsafe_paths),
      cmocka_unit_test(test_verify_open_beneath),
      cmocka_unit_test(test_hashpool_fifo_never_blocks),
      cmocka_unit_test(test_verify_reports_no_stale_os_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
