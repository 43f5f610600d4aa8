/* test_hash_tree.c - the tree's hashing behind `pomove hash`
 * (verify/hashtree.h) called as a library: lines in byte order of whole
 * paths that `xxh128sum -c` accepts, the counts of the result, a
 * directory that cannot be listed and a file that cannot be opened
 * (reported, counted, the rest hashed), the manifest inside DIR left out,
 * an unusable DIR or manifest name as a bad argument, and an interrupt
 * that leaves no manifest in place. Also the path-order walk (listing.h,
 * vf_walk) it shares with the manifest audit. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faultlayer.h"
#include "hashtree.h"
#include "listing.h"
#include "testutil.h"
#include "util.h"

/* tree/: "a.b" sorts before "a/" ('.' < '/'), "sub/deep/x", an empty
 * directory, a symlink and a FIFO (skipped). */
static const char *make_tree(void) {
  const char *s = tu_scratch();
  assert_int_equal(tu_sh("cd '%s' && mkdir -p tree/a tree/sub/deep "
                         "tree/empty && printf 1 > tree/a.b && printf 22 > "
                         "tree/a/f && printf 333 > tree/sub/deep/x && "
                         "printf 4444 > tree/z && ln -s z tree/link && "
                         "mkfifo tree/fifo",
                         s),
                   0);
  return s;
}

static char *hash_to_string(const vf_hash_opts *base, const char *dir,
                            vf_hash_result *r, int *rc) {
  char *buf = NULL;
  size_t n = 0;
  FILE *m = open_memstream(&buf, &n);
  vf_hash_opts o = *base;
  o.out = m;
  *rc = vf_hash_tree(&o, dir, r);
  fclose(m);
  return buf;
}

static void test_hash_tree_lines_and_counts(void **state) {
  (void)state;
  const char *s = make_tree();
  char *dir = pm_xasprintf("%s/tree", s);
  vf_hash_opts o = {.threads = 3};
  vf_hash_result r;
  int rc;
  char *out = hash_to_string(&o, dir, &r, &rc);
  assert_int_equal(rc, 0);
  assert_true(r.walked);
  assert_int_equal(r.files, 4);
  assert_int_equal(r.bytes, 10);
  assert_int_equal(r.directories, 5); /* tree, a, empty, sub, sub/deep */
  assert_int_equal(r.skipped, 2);     /* link, fifo */
  assert_int_equal(r.errors, 0);
  assert_int_equal(r.threads_used, 3);
  assert_true(r.engine_used[0] != '\0');
  /* Path order, and hashes xxh128sum agrees with. */
  char *paths = NULL;
  char *m = pm_xasprintf("%s/m", s);
  tu_write_text(m, out);
  assert_int_equal(tu_sh_out(&paths, "cut -c35- '%s' | tr '\\n' ' '", m), 0);
  assert_string_equal(paths, "a.b a/f sub/deep/x z ");
  assert_int_equal(tu_sh("cd '%s' && xxh128sum --quiet -c '%s'", dir, m), 0);
  free(paths);
  free(m);
  free(out);
  free(dir);
  tu_cleanup();
}

/* "sub" cannot be listed and "z" cannot be opened: both reported and
 * counted, everything else still hashed, and the run is complete. */
static void test_hash_tree_faults_counted(void **state) {
  (void)state;
  const char *s = make_tree();
  char *dir = pm_xasprintf("%s/tree", s);
  fl_rule lr = {.ops = FL_MASK(FL_LIST), .nth = 1, .err = PM_EACCES,
                .path = "/sub", .path_match = FL_PATH_SUFFIX};
  fl_layer *L1 = fl_new(NULL, &lr);
  fl_rule orl = {.ops = FL_MASK(FL_OPEN), .nth = 1, .err = PM_EIO,
                 .path = "/z", .path_match = FL_PATH_SUFFIX};
  fl_layer *L2 = fl_new(fl_fs(L1), &orl);
  vf_hash_opts o = {.fs = fl_fs(L2), .engine = pm_io_engine_find("pool")};
  vf_hash_result r;
  int rc;
  char *out = hash_to_string(&o, dir, &r, &rc);
  assert_int_equal(rc, 0);
  assert_true(fl_fired(L1));
  assert_true(fl_fired(L2));
  assert_int_equal(r.files, 2);
  assert_int_equal(r.errors, 2);
  assert_int_equal(r.directories, 3); /* tree, a, empty */
  assert_non_null(strstr(out, "  a.b\n"));
  assert_non_null(strstr(out, "  a/f\n"));
  assert_null(strstr(out, "sub/"));
  assert_null(strstr(out, "  z\n"));
  free(out);
  fl_free(L2);
  fl_free(L1);
  free(dir);
  tu_cleanup();
}

static void test_hash_tree_output_and_arguments(void **state) {
  (void)state;
  const char *s = make_tree();
  char *dir = pm_xasprintf("%s/tree", s);
  /* A manifest inside DIR lists neither itself nor its temporary. */
  char *in = pm_xasprintf("%s/tree/m.xxh128", s);
  vf_hash_opts o = {.output = in};
  vf_hash_result r;
  assert_int_equal(vf_hash_tree(&o, dir, &r), 0);
  assert_int_equal(r.files, 4);
  assert_int_equal(tu_sh("! grep -q xxh128 '%s' && test $(wc -l < '%s') = 4",
                         in, in),
                   0);
  /* DIR missing or a file; a symlink at the manifest's name: the
   * caller's argument, nothing walked. */
  char *none = pm_xasprintf("%s/none", s);
  char *file = pm_xasprintf("%s/tree/z", s);
  vf_hash_opts o2 = {0};
  int rc;
  free(hash_to_string(&o2, none, &r, &rc));
  assert_int_equal(rc, PM_ENOENT);
  assert_true(r.bad_argument);
  assert_false(r.walked);
  free(hash_to_string(&o2, file, &r, &rc));
  assert_int_equal(rc, PM_ENOTDIR);
  assert_true(r.bad_argument);
  char *lnk = pm_xasprintf("%s/lnk", s);
  assert_int_equal(tu_sh("ln -s '%s' '%s'", none, lnk), 0);
  vf_hash_opts o3 = {.output = lnk};
  assert_int_not_equal(vf_hash_tree(&o3, dir, &r), 0);
  assert_true(r.bad_argument);
  assert_false(r.walked);
  /* Interrupted: PM_ECANCELED, and no manifest is put in place. */
  atomic_int stop = 1;
  char *m = pm_xasprintf("%s/m.xxh128", s);
  vf_hash_opts o4 = {.output = m, .interrupt = &stop};
  assert_int_equal(vf_hash_tree(&o4, dir, &r), PM_ECANCELED);
  assert_true(r.walked);
  assert_int_equal(r.files, 0);
  assert_int_equal(tu_sh("test ! -e '%s' && ! ls '%s' | grep -q '^m.xxh128'",
                         m, s),
                   0);
  free(m);
  free(lnk);
  free(file);
  free(none);
  free(in);
  free(dir);
  tu_cleanup();
}

/* Collects warnings for test_hash_tree_sweeps_stale_temps. */
static void collect(void *ctx, int kind, const char *text) {
  if (kind != PM_REPORT_WARNING) return;
  char **acc = ctx;
  char *n = pm_xasprintf("%s%s", *acc ? *acc : "", text);
  free(*acc);
  *acc = n;
}

/* `hash -o FILE` removes the temporaries "<FILE>.tmp-<pid>-<n>" that
 * killed runs left, as a copy removes its side files': regular files of
 * exactly that name whose pid has ended, never a live writer's, never a
 * link, folder or other name; each removal said. A manifest inside DIR
 * does not list a leftover of its own (removed before the walk). */
static void test_hash_tree_sweeps_stale_temps(void **state) {
  (void)state;
  const char *s = make_tree();
  unsigned d = tu_dead_pid(), live = (unsigned)getppid();
  assert_int_equal(
      tu_sh("set -e; cd '%s'; echo secret > outside; "
            "echo m > m.xxh128.tmp-%u-0a1b2c; "
            "echo live > m.xxh128.tmp-%u-0a1b2c; "
            "ln -s outside m.xxh128.tmp-%u-2abcdef; "
            "mkdir m.xxh128.tmp-%u-3abcdef; "
            "echo o > n.xxh128.tmp-%u-0a1b2c; "
            "echo o > m.xxh128.tmp-%u-0a1b2c.bak; "
            "echo o > m.xxh128.tmp-%u-0a1; "
            "echo i > tree/in.xxh128.tmp-%u-4abcdef",
            s, d, live, d, d, d, d, d, d),
      0);
  char *warn = NULL;
  pm_report_set_sink(collect, &warn);
  char *dir = pm_xasprintf("%s/tree", s);
  char *m = pm_xasprintf("%s/m.xxh128", s);
  vf_hash_opts o = {.output = m};
  vf_hash_result r;
  assert_int_equal(vf_hash_tree(&o, dir, &r), 0);
  char *in = pm_xasprintf("%s/tree/in.xxh128", s);
  vf_hash_opts o2 = {.output = in};
  assert_int_equal(vf_hash_tree(&o2, dir, &r), 0);
  pm_report_set_sink(NULL, NULL);
  assert_int_equal(r.files, 4); /* not the leftover inside DIR */
  assert_int_equal(
      tu_sh("cd '%s' && test ! -e m.xxh128.tmp-%u-0a1b2c && "
            "test ! -e tree/in.xxh128.tmp-%u-4abcdef && "
            "test -f m.xxh128.tmp-%u-0a1b2c && "
            "test -L m.xxh128.tmp-%u-2abcdef && "
            "test -d m.xxh128.tmp-%u-3abcdef && "
            "test -f n.xxh128.tmp-%u-0a1b2c && "
            "test -f m.xxh128.tmp-%u-0a1b2c.bak && "
            "test -f m.xxh128.tmp-%u-0a1 && "
            "grep -qx secret outside && ! grep -q tmp- tree/in.xxh128",
            s, d, d, live, d, d, d, d, d),
      0);
  assert_non_null(warn);
  char *said = pm_xasprintf("m.xxh128.tmp-%u-0a1b2c', a temporary manifest "
                            "left by pomove process %u, which has ended",
                            d, d);
  assert_non_null(strstr(warn, said));
  free(said);
  said = pm_xasprintf("in.xxh128.tmp-%u-4abcdef'", d);
  assert_non_null(strstr(warn, said));
  free(said);
  /* Two removals, two lines. */
  size_t lines = 0;
  for (const char *p = warn; *p; p++) lines += *p == '\n';
  assert_int_equal(lines, 2);
  free(warn);
  free(in);
  free(m);
  free(dir);
  tu_cleanup();
}

/* The walk alone: every step in order, an unlisted directory, and an
 * interrupt that ends it without listing anything more. */
static void test_walk_steps(void **state) {
  (void)state;
  const char *s = make_tree();
  char *dir = pm_xasprintf("%s/tree", s);
  fl_rule lr = {.ops = FL_MASK(FL_LIST), .nth = 1, .err = PM_EACCES,
                .oserr = 13, .path = "/deep", .path_match = FL_PATH_SUFFIX};
  fl_layer *L = fl_new(NULL, &lr);
  atomic_int stop = 0;
  vf_walk *w = vf_walk_new(fl_fs(L), PM_FD_INVALID, dir, &stop);
  char got[512] = "";
  vf_walk_item it;
  int k;
  while ((k = vf_walk_next(w, &it)) != VF_WALK_END) {
    size_t u = strlen(got);
    if (k == VF_WALK_DIR) {
      snprintf(got + u, sizeof got - u, "D:%s ", it.rel);
    } else if (k == VF_WALK_UNLISTED) {
      snprintf(got + u, sizeof got - u, "U:%s:%s:%d:%d ", it.rel, it.op,
               it.err == PM_EACCES, it.oserr);
    } else {
      snprintf(got + u, sizeof got - u, "%c:%s ",
               it.type == PM_T_FILE ? 'F' : 'O', it.rel);
    }
  }
  assert_string_equal(got, "D: F:a.b D:a F:a/f D:empty O:fifo O:link D:sub "
                           "U:sub/deep:open directory:1:13 F:z ");
  vf_walk_free(w);
  fl_free(L);
  /* Beneath a handle, stopped after the first entry. */
  pm_fd fd;
  assert_int_equal(pm_fs_open(pm_fs_native(), dir,
                              PM_O_RDONLY | PM_O_DIRECTORY, 0, &fd),
                   0);
  w = vf_walk_new(pm_fs_native(), fd, "shown/only", &stop);
  assert_int_equal(vf_walk_next(w, &it), VF_WALK_DIR);
  assert_string_equal(it.rel, "");
  assert_int_equal(vf_walk_next(w, &it), VF_WALK_ENTRY);
  assert_string_equal(it.rel, "a.b");
  stop = 1;
  assert_int_equal(vf_walk_next(w, &it), VF_WALK_END);
  assert_int_equal(vf_walk_next(w, &it), VF_WALK_END);
  vf_walk_free(w);
  pm_fs_close(pm_fs_native(), fd);
  free(dir);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_tree_lines_and_counts),
      cmocka_unit_test(test_hash_tree_faults_counted),
      cmocka_unit_test(test_hash_tree_output_and_arguments),
      cmocka_unit_test(test_hash_tree_sweeps_stale_temps),
      cmocka_unit_test(test_walk_steps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
