/* test_verify_toctou.c - the trees audit (`pomove verify SRC DST`) reads
 * beneath the two roots it opened: a directory of SRC or DST swapped for a
 * symlink to an outside directory while the audit runs is reported as
 * unreadable, and the files behind the link are never opened or hashed.
 *
 * The outside directory holds files of the same names as the swapped one
 * but other bytes, so an audit that strayed would report them as content
 * differences; the fault layer's hook makes the swap at the moment the audit
 * first touches the directory or the file. The manifest audit (`pomove
 * verify --manifest`) is held to the same: a/sub swapped between two of
 * its lines never leads a read behind the link, and lines of one parent
 * are opened by one component beneath a handle on it. Run with openat2 and, as
 * test_verify_toctou_walk, with the component walk (POMOVE_NO_OPENAT2=1). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "faultlayer.h"
#include "hash.h"
#include "report.h"
#include "testutil.h"
#include "thread.h"
#include "util.h"

static char *cat(const char *a, const char *b) {
  char *s = NULL;
  if (asprintf(&s, "%s/%s", a, b) < 0) abort();
  return s;
}

static const char *hook_op, *hook_rel;
static char *victim, *stash, *target;
static atomic_bool swapped;
/* The thread layer has no static initialiser (Windows has none for a
 * critical section): the lock is made on first use. */
static pm_mutex hook_mu;
static pm_once_t hook_mu_once = PM_ONCE_INIT;
static void hook_mu_init(void) { pm_mutex_init(&hook_mu); }
static void hook_mu_lock(void) {
  pm_once(&hook_mu_once, hook_mu_init);
  pm_mutex_lock(&hook_mu);
}

static bool names(const char *path, const char *rel) {
  size_t pl = strlen(path), rl = strlen(rel);
  if (pl == rl) return !strcmp(path, rel);
  return pl > rl && path[pl - rl - 1] == '/' && !strcmp(path + pl - rl, rel);
}

static int hook(const char *op, const char *path, int flags, void *arg) {
  (void)flags;
  (void)arg;
  if (!fl_op_is(op, hook_op) || !names(path, hook_rel)) return 0;
  /* Held through the swap: every matching call after the first sees it. */
  hook_mu_lock();
  bool expected = false;
  if (atomic_compare_exchange_strong(&swapped, &expected, true)) {
    assert_int_equal(rename(victim, stash), 0);
    assert_int_equal(symlink(target, victim), 0);
  }
  pm_mutex_unlock(&hook_mu);
  return 0;
}

/* SRC and DST identical (a/sub/x1, a/sub/x2, a/keep); outside has x1 and
 * x2 with other bytes. `side` is the tree whose a/sub is swapped. */
static void run(const char *side, const char *op, const char *rel) {
  const char *base = tu_scratch();
  assert_int_equal(
      tu_sh("cd '%s' && mkdir -p src/a/sub outside && printf one > "
            "src/a/sub/x1 && printf two > src/a/sub/x2 && printf keep > "
            "src/a/keep && printf OUT > outside/x1 && printf OUT > "
            "outside/x2 && cp -a src dst",
            base),
      0);
  char *src = cat(base, "src"), *dst = cat(base, "dst");
  char *tree = cat(base, side);
  victim = cat(tree, "a/sub");
  stash = cat(base, "stash");
  target = cat(base, "outside");
  hook_op = op;
  hook_rel = rel;
  atomic_store(&swapped, false);
  fl_layer *L = fl_new(NULL, NULL);
  fl_set_hook(L, hook, NULL);
  vf_audit_opts o = {0};
  o.fs = fl_fs(L);
  o.threads = 2;
  o.compare = 0; /* bytes only: times differ after cp -a of a link */
  o.progress_mode = PM_PROGRESS_OFF;
  vf_report *r = vf_report_new(VF_MODE_TREES, 100);
  assert_int_equal(vf_audit_trees(&o, src, dst, r), 0);
  assert_true(atomic_load(&swapped));
  /* Nothing behind the link was compared: no content difference (the
   * outside files differ from both trees), and the entry is reported. */
  assert_int_equal(vf_report_count(r, VF_CONTENT), 0);
  assert_true(vf_report_count(r, VF_UNREADABLE) >= 1);
  vf_report_free(r);
  fl_free(L);
  free(src);
  free(dst);
  free(tree);
  free(victim);
  free(stash);
  free(target);
  tu_cleanup();
}

/* The directory swapped when the audit lists it. */
static void test_verify_toctou_src_dir(void **state) {
  (void)state;
  run("src", "opendir", "a/sub");
}

static void test_verify_toctou_dst_dir(void **state) {
  (void)state;
  run("dst", "opendir", "a/sub");
}

/* The directory above a file swapped when the file is opened. */
static void test_verify_toctou_src_file(void **state) {
  (void)state;
  run("src", "open", "a/sub/x1");
}

/* The manifest audit: DIR has a/sub/x1..x4 ("one" ... "four") and
 * a/keep; outside has x1..x4 holding "OUT", and the manifest gives OUT's
 * hash for a/sub/x1..x4, so a read that strayed behind the link would
 * report a line identical. `op`/`rel`: when to swap a/sub for the link
 * (NULL: never, and the manifest gives the files' own hashes). Returns the report; *multi counts the opens of files
 * (not directories) given a path of more than one component, *leaf those
 * given one. */
static atomic_uint multi_opens, leaf_opens;

static int count_hook(const char *op, const char *path, int flags,
                      void *arg) {
  const char *name = strrchr(path, '/');
  name = name ? name + 1 : path;
  if (fl_op_is(op, "open") && !(flags & PM_O_DIRECTORY) && name[0] == 'x' &&
      name[1] >= '1' && name[1] <= '4' && !name[2]) {
    if (strchr(path, '/')) atomic_fetch_add(&multi_opens, 1);
    else atomic_fetch_add(&leaf_opens, 1);
  }
  return hook_op ? hook(op, path, flags, arg) : 0;
}

static vf_report *run_manifest(const char *op, const char *rel) {
  static const char *const content[] = {"one", "two", "three", "four"};
  const char *base = tu_scratch();
  assert_int_equal(
      tu_sh("cd '%s' && mkdir -p dir/a/sub outside && printf one > "
            "dir/a/sub/x1 && printf two > dir/a/sub/x2 && printf three > "
            "dir/a/sub/x3 && printf four > dir/a/sub/x4 && printf keep > "
            "dir/a/keep && for i in 1 2 3 4; do printf OUT > outside/x$i; "
            "done",
            base),
      0);
  pm_hash128 out = pm_hash_buffer("OUT", 3), keep = pm_hash_buffer("keep", 4);
  char ho[33], hk[33];
  pm_hash_hex(&out, ho);
  pm_hash_hex(&keep, hk);
  char *man = cat(base, "m.xxh128");
  FILE *f = fopen(man, "w");
  assert_non_null(f);
  fprintf(f, "%s  a/keep\n", hk);
  for (int i = 1; i <= 4; i++) {
    /* Without a swap, the files' own hashes: every line is identical, and
     * no mismatch makes the md5sum probe open a file. */
    pm_hash128 own = pm_hash_buffer(content[i - 1], strlen(content[i - 1]));
    char hw[33];
    pm_hash_hex(&own, hw);
    fprintf(f, "%s  a/sub/x%d\n", op ? ho : hw, i);
  }
  fclose(f);
  char *dir = cat(base, "dir");
  victim = cat(dir, "a/sub");
  stash = cat(base, "stash");
  target = cat(base, "outside");
  hook_op = op;
  hook_rel = rel;
  atomic_store(&swapped, false);
  atomic_store(&multi_opens, 0);
  atomic_store(&leaf_opens, 0);
  fl_layer *L = fl_new(NULL, NULL);
  fl_set_hook(L, count_hook, NULL);
  vf_audit_opts o = {0};
  o.fs = fl_fs(L);
  o.threads = 2;
  o.progress_mode = PM_PROGRESS_OFF;
  vf_report *r = vf_report_new(VF_MODE_MANIFEST, 100);
  assert_int_equal(vf_audit_manifest(&o, man, dir, r), 0);
  if (op) assert_true(atomic_load(&swapped));
  fl_free(L);
  free(man);
  free(dir);
  free(victim);
  free(stash);
  free(target);
  tu_cleanup();
  return r;
}

/* Lines of one parent in a row: the first is opened by its whole path,
 * the others by their last component beneath a handle on a/sub. */
static void test_verify_manifest_parent_handle(void **state) {
  (void)state;
  vf_report *r = run_manifest(NULL, NULL);
  assert_int_equal(vf_report_count(r, VF_IDENTICAL), 5);
  assert_int_equal(atomic_load(&multi_opens), 1);
  assert_int_equal(atomic_load(&leaf_opens), 3);
  vf_report_free(r);
}

/* a/sub swapped for a link to outside when x2 is opened, after the
 * handle on a/sub was taken for x2..x4: their reads stay in the
 * directory the handle holds (now the stash: content differences) or are
 * refused as unsafe; none reaches outside (it would be identical). */
static void test_verify_toctou_manifest_parent(void **state) {
  (void)state;
  vf_report *r = run_manifest("open", "x2");
  assert_int_equal(vf_report_count(r, VF_IDENTICAL), 1); /* a/keep */
  assert_int_equal(
      vf_report_count(r, VF_CONTENT) + vf_report_count(r, VF_UNSAFE), 4);
  vf_report_free(r);
}

/* Swapped when the handle on a/sub is about to be opened: that open
 * meets the link and fails, and the lines fall back to whole-path opens
 * beneath DIR, which refuse the link as unsafe (x1 may have been read
 * before the swap). */
static void test_verify_toctou_manifest_first(void **state) {
  (void)state;
  vf_report *r = run_manifest("open", "a/sub");
  assert_int_equal(vf_report_count(r, VF_IDENTICAL), 1);
  assert_true(vf_report_count(r, VF_UNSAFE) >= 3);
  assert_int_equal(
      vf_report_count(r, VF_CONTENT) + vf_report_count(r, VF_UNSAFE), 4);
  assert_int_equal(atomic_load(&leaf_opens), 0);
  vf_report_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_verify_manifest_parent_handle),
      cmocka_unit_test(test_verify_toctou_manifest_parent),
      cmocka_unit_test(test_verify_toctou_manifest_first),
      cmocka_unit_test(test_verify_toctou_src_dir),
      cmocka_unit_test(test_verify_toctou_dst_dir),
      cmocka_unit_test(test_verify_toctou_src_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
