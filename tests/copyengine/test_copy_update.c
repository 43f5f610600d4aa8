/* test_copy_update.c - `pomove copy --update` and the plain rerun of a
 * finished copy: after a full copy the source is changed in every way a
 * live postoffice changes (files changed, added, removed, renamed,
 * metadata only, a rewrite that keeps size and mtime, a file replaced by a
 * directory and back), the update is run, and the tree is compared with
 * independent tools (diff -r, find's stat fields, xxh128sum -c). A second
 * update reads no data (counted at the I/O engine); the racy rule, the
 * --checksum pass, kill -9 during an update, and the refusals of bad
 * input. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "copyengine.h"
#include "faultlayer.h"
#include "hash.h"
#include "testutil.h"
#include "util.h"
#include "state_forge.h"

static uint64_t json_u64(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = json ? strstr(json, pat) : NULL;
  return p ? strtoull(p + strlen(pat), NULL, 10) : UINT64_MAX;
}

/* Runs pomove copy in base with extra args; returns the exit code and
 * the JSON summary in *out (stderr to base/err). */
static int run_copy(char **out, const char *base, const char *args) {
  int rc = tu_sh_out(out, "cd '%s' && '%s' copy -q --json %s 2>err", base,
                     tu_pomove(), args);
  /* What pomove said, in the test's log: a refusal the test did not
   * expect (one CI run under load got exit 2 from a plain copy into a new
   * DST) must be readable there. */
  if (rc) tu_sh("echo '# pomove copy exited %d:' && sed 's/^/#   /' '%s/err'",
                rc, base);
  return rc;
}

/* Timestamps of a file and of the moment it was copied lie 1 s apart at
 * least, so that the racy rule hashes nothing again unless a test wants
 * it to. */
static void settle(void) { usleep(1100 * 1000); }

/* 20 small files, directories, a 2 MiB file, and the entries the changes
 * below act on; every mtime in 2021. */
static void make_tree(const char *b) {
  assert_int_equal(
      tu_sh("set -e; cd '%s'; mkdir -p src/d1 src/d2/sub src/d2f src/gonedir "
            "src/rendir; cd src; for i in $(seq 1 20); do echo keep $i > "
            "keep$i; done; for f in a b c; do echo $f$f > d1/$f; done; "
            "echo x > d2/sub/x; echo y > d2/sub/y; head -c 2097152 "
            "/dev/urandom > big; echo 'original' > chg; echo meta > meta; "
            "echo 'same size 1' > same; echo f > f2d; echo in > d2f/inner; "
            "echo g > gone; echo p > gonedir/p; echo q > gonedir/q; echo r > "
            "ren; echo r1 > rendir/r1; ln -s keep1 lnk; chmod 644 meta; "
            "find . -exec touch -h -d '2021-01-01 00:00:00' {} +",
            b),
      0);
}

/* Every way the source changes between two passes. */
static void change_tree(const char *b) {
  assert_int_equal(
      tu_sh("set -e; cd '%s/src'; echo 'changed, and longer' > chg; "
            "chmod 600 meta; m=$(stat -c %%y same); echo 'same size 2' > "
            "same; touch -d \"$m\" same; rm f2d; mkdir f2d; echo in > "
            "f2d/in; rm -r d2f; echo nowfile > d2f; rm gone; rm -r gonedir; "
            "mv ren ren2; mv rendir rendir2; ln -sfn keep2 lnk; echo new > "
            "newfile; mkdir newdir; echo n > newdir/n",
            b),
      0);
}

/* DST equals SRC: contents, links, types, modes, sizes, mtimes; and the
 * manifest checks with xxh128sum and lists `files` files. */
static void assert_same_tree(const char *b, unsigned files) {
  assert_int_equal(tu_sh("cd '%s' && diff -r --no-dereference src dst", b), 0);
  assert_int_equal(
      tu_sh("cd '%s' && (cd src && find . -printf '%%p %%y %%m %%s %%T@ "
            "%%l\\n' | sort) > s.lst && (cd dst && find . -printf '%%p %%y "
            "%%m %%s %%T@ %%l\\n' | sort) > d.lst && cmp s.lst d.lst",
            b),
      0);
  assert_int_equal(
      tu_sh("cd '%s/dst' && xxh128sum -c --quiet ../dst.xxh128 && test "
            "$(wc -l < ../dst.xxh128) -eq %u",
            b, files),
      0);
}

static ce_options inproc_opts(const char *src, const char *dst,
                              const pm_io_engine_ops *eng) {
  ce_options o;
  ce_options_init(&o);
  o.src = src;
  o.dst = dst;
  o.engine = eng;
  o.threads = 2;
  return o;
}

/* Counts the opens of files to copy (the engine opens a source file
 * with PM_O_NOATIME; directories and side files without). */
static int count_file_opens(const char *op, const char *path, int flags,
                            void *arg) {
  (void)path;
  if (fl_op_is(op, "open") && (flags & PM_O_NOATIME))
    (*(unsigned long *)arg)++;
  return 0;
}

/* Every change is carried over; counters say what happened; a plain rerun
 * is an update that changes nothing; a third pass reads no data at all. */
static void test_copy_update_carries_every_change(void **state) {
  (void)state;
  const char *b = tu_scratch();
  make_tree(b);
  settle();
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "src dst"), 0);
  free(out);
  assert_int_equal(tu_sh("test -f '%s/dst.pomove-state'", b), 0);
  change_tree(b);
  /* Changed well before the update reads them: none of them racy. */
  settle();
  assert_int_equal(run_copy(&out, b, "--update --delete src dst"), 0);
  /* chg (longer), same (same size and mtime, other data), f2d/in, d2f,
   * ren2, rendir2/r1, newfile, newdir/n. */
  assert_int_equal(json_u64(out, "copied"), 8);
  assert_int_equal(json_u64(out, "metadata_only"), 1); /* meta */
  /* keep1-20, d1/a-c, d2/sub/x-y, big. */
  assert_int_equal(json_u64(out, "skipped_unchanged"), 26);
  /* f2d, d2f/inner and d2f, gone, gonedir/p, q and gonedir, ren,
   * rendir/r1 and rendir. */
  assert_int_equal(json_u64(out, "deleted"), 10);
  assert_int_equal(json_u64(out, "racy_rehashed"), 0);
  assert_int_equal(json_u64(out, "errors"), 0);
  assert_non_null(strstr(out, "\"update\":true"));
  free(out);
  assert_same_tree(b, 35);

  /* The same command as the first copy: an update that finds nothing. */
  settle();
  assert_int_equal(run_copy(&out, b, "src dst"), 0);
  assert_non_null(strstr(out, "\"update\":true"));
  assert_int_equal(json_u64(out, "copied"), 0);
  assert_int_equal(json_u64(out, "skipped_unchanged"), 35);
  assert_int_equal(json_u64(out, "metadata_only"), 0);
  assert_int_equal(json_u64(out, "deleted"), 0);
  assert_int_equal(json_u64(out, "racy_rehashed"), 0);
  assert_int_equal(json_u64(out, "bytes_hashed"), 0);
  free(out);
  assert_same_tree(b, 35);

  /* In process, through a counting engine: not one read. */
  const pm_io_engine_ops *eng = pm_io_engine_default(NULL, 0);
  fl_layer *L = fl_new(NULL, NULL);
  char *src = pm_path_join(b, "src"), *dst = pm_path_join(b, "dst");
  ce_options o = inproc_opts(src, dst, fl_engine(eng));
  o.fs = fl_fs(L);
  o.update = true;
  ce_result r;
  assert_int_equal(ce_copy(&o, &r), 0);
  assert_int_equal(r.errors, 0);
  assert_int_equal(r.skipped_unchanged, 35);
  assert_int_equal(fl_engine_calls(L, FL_READ), 0);
  assert_int_equal(fl_engine_calls(L, FL_WRITE), 0);
  fl_free(L);
  assert_same_tree(b, 35);

  /* Through a counting file system: not one file opened; two stats by
   * name beneath the directory handles decide an untouched file. */
  L = fl_new(NULL, NULL);
  unsigned long file_opens = 0;
  fl_set_hook(L, count_file_opens, &file_opens);
  o.engine = eng;
  o.fs = fl_fs(L);
  assert_int_equal(ce_copy(&o, &r), 0);
  assert_int_equal(r.errors, 0);
  assert_int_equal(r.skipped_unchanged, 35);
  assert_int_equal(file_opens, 0);
  fl_free(L);
  assert_same_tree(b, 35);
  free(src);
  free(dst);
  tu_cleanup();
}

/* Directory listings under way at once, and the most seen; each listing
 * is held 20 ms so that listings that may overlap do. */
typedef struct listings {
  atomic_int now, most;
} listings;

static int hold_listing(const char *op, const char *path, int flags,
                        void *arg) {
  (void)path;
  (void)flags;
  if (!fl_op_is(op, "opendir")) return 0;
  listings *l = arg;
  int n = atomic_fetch_add(&l->now, 1) + 1;
  int m = atomic_load(&l->most);
  while (n > m && !atomic_compare_exchange_weak(&l->most, &m, n)) {
  }
  usleep(20 * 1000);
  atomic_fetch_sub(&l->now, 1);
  return 0;
}

/* An update lists several directories at once (SRC's and DST's: a cold
 * update waits for their blocks), and what the listings do in DST (an
 * entry whose type changed replaced, --delete) is done right in each
 * of them however they overlap. */
static void test_copy_update_lists_directories_at_once(void **state) {
  (void)state;
  const char *b = tu_scratch();
  assert_int_equal(
      tu_sh("set -e; cd '%s'; for d in $(seq 1 8); do mkdir -p src/d$d/sub; "
            "for i in 1 2 3 4 5; do echo $d $i > src/d$d/f$i; done; echo t > "
            "src/d$d/t2d; echo g > src/d$d/gone; echo s > src/d$d/sub/s; "
            "done; find src -exec touch -h -d '2021-01-01 00:00:00' {} +",
            b),
      0);
  settle();
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "src dst"), 0);
  free(out);
  assert_int_equal(
      tu_sh("set -e; cd '%s/src'; for d in $(seq 1 8); do rm d$d/t2d d$d/gone; "
            "mkdir d$d/t2d; echo in > d$d/t2d/in; echo new > d$d/new; done",
            b),
      0);
  settle();
  const pm_io_engine_ops *eng = pm_io_engine_default(NULL, 0);
  fl_layer *L = fl_new(NULL, NULL);
  listings l;
  atomic_init(&l.now, 0);
  atomic_init(&l.most, 0);
  fl_set_hook(L, hold_listing, &l);
  char *src = pm_path_join(b, "src"), *dst = pm_path_join(b, "dst");
  ce_options o = inproc_opts(src, dst, eng);
  o.fs = fl_fs(L);
  o.update = true;
  o.delete_gone = true;
  ce_result r;
  assert_int_equal(ce_copy(&o, &r), 0);
  assert_int_equal(r.errors, 0);
  /* d1-8: f1-5, sub/s. */
  assert_int_equal(r.skipped_unchanged, 48);
  /* d1-8: new, t2d/in. */
  assert_int_equal(r.copied, 16);
  /* d1-8: t2d (a file then), gone. */
  assert_int_equal(r.deleted, 16);
  assert_true(atomic_load(&l.most) >= 2);
  fl_free(L);
  assert_same_tree(b, 64);
  free(src);
  free(dst);
  tu_cleanup();
}

/* An update that finds nothing changed touches nothing in DST: every
 * entry's change time is as before, directories included (their owner,
 * mode, times and extended attributes are already the source's, and
 * setting them again would change their ctime). */
static void test_copy_update_nothing_changed_touches_nothing(void **state) {
  (void)state;
  const char *b = tu_scratch();
  make_tree(b);
  /* A directory with an extended attribute, where the file system has
   * them (setfattr may be missing, or the file system refuse user.*). */
  tu_sh("cd '%s/src' && setfattr -n user.pomove -v dirattr d1 2>/dev/null && "
        "touch -h -d '2021-01-01 00:00:00' d1",
        b);
  settle();
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "src dst"), 0);
  free(out);
  settle();
  const char *list = "cd '%s' && (cd dst && find . -printf '%%p %%C@\n' | "
                     "sort) > %s";
  assert_int_equal(tu_sh(list, b, "c1.lst"), 0);
  assert_int_equal(run_copy(&out, b, "--update --delete src dst"), 0);
  assert_int_equal(json_u64(out, "copied"), 0);
  assert_int_equal(json_u64(out, "errors"), 0);
  free(out);
  assert_int_equal(tu_sh(list, b, "c2.lst"), 0);
  assert_int_equal(tu_sh("cd '%s' && diff c1.lst c2.lst >&2", b), 0);
  /* A directory whose metadata did change still gets it. */
  assert_int_equal(tu_sh("chmod 711 '%s/src/d2'", b), 0);
  assert_int_equal(run_copy(&out, b, "--update --delete src dst"), 0);
  free(out);
  assert_int_equal(tu_sh("test $(stat -c %%a '%s/dst/d2') = 711", b), 0);
  assert_same_tree(b, 36);
  tu_cleanup();
}

/* A hard-link group copied once is left as it is by later passes: the
 * copy's links are not made again (that would change the copy's change
 * time, which the next pass reads as a change by hand), and a group
 * whose first path changed is linked to the new copy. */
static void test_copy_update_keeps_hard_links(void **state) {
  (void)state;
  const char *b = tu_scratch();
  assert_int_equal(tu_sh("set -e; cd '%s'; mkdir -p src/sub; echo one > "
                         "src/h1; ln src/h1 src/h2; ln src/h1 src/sub/h3; "
                         "echo plain > src/p; find src -exec touch -h -d "
                         "'2021-01-01 00:00:00' {} +",
                         b),
                   0);
  settle();
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "src dst"), 0);
  free(out);
  settle();
  assert_int_equal(tu_sh("cd '%s' && stat -c '%%i %%h %%Z %%z' dst/h1 > "
                         "before",
                         b),
                   0);
  assert_int_equal(run_copy(&out, b, "--update src dst"), 0);
  assert_int_equal(json_u64(out, "errors"), 0);
  assert_int_equal(json_u64(out, "copied"), 0);
  assert_int_equal(json_u64(out, "racy_rehashed"), 0);
  free(out);
  assert_int_equal(tu_sh("cd '%s' && stat -c '%%i %%h %%Z %%z' dst/h1 > "
                         "after && cmp before after && test $(stat -c %%h "
                         "dst/h1) -eq 3",
                         b),
                   0);
  /* The group's data changes (in place, same inode in SRC): the copy is
   * new, and every path of the group is linked to it. */
  assert_int_equal(tu_sh("set -e; cd '%s'; echo 'two, longer' > src/h1", b),
                   0);
  settle();
  assert_int_equal(run_copy(&out, b, "--update src dst"), 0);
  assert_int_equal(json_u64(out, "errors"), 0);
  free(out);
  assert_int_equal(tu_sh("set -e; cd '%s'; test $(stat -c %%h dst/h1) -eq 3; "
                         "test $(stat -c %%i dst/h1) = $(stat -c %%i "
                         "dst/sub/h3); test $(stat -c %%i dst/h1) = $(stat "
                         "-c %%i dst/h2); grep -q longer dst/h2",
                         b),
                   0);
  assert_int_equal(tu_sh("cd '%s/dst' && xxh128sum -c --quiet ../dst.xxh128",
                         b),
                   0);
  tu_cleanup();
}

/* The paths of the group h1 h2 h3 in base/src in the order one worker
 * meets them (the order the directory lists them). */
static void group_order(const char *b, char order[3][3]) {
  char *ls = NULL;
  assert_int_equal(tu_sh_out(&ls, "cd '%s/src' && ls -U | grep '^h[123]$'", b),
                   0);
  assert_int_equal(strlen(ls), 9);
  for (int i = 0; i < 3; i++) {
    memcpy(order[i], ls + 3 * i, 2);
    order[i][2] = '\0';
  }
  free(ls);
}

/* Which path of a group the copy that wrote the state met first is a
 * matter of thread timing; the update must not depend on it. Made
 * deterministic: the state holds the group's record only on the path an
 * update with one worker meets last (as a copy that met that path first
 * left it), and the update finds the group unchanged all the same:
 * nothing copied, the copy's links not made again. */
static void test_copy_update_group_record_on_other_path(void **state) {
  (void)state;
  const char *b = tu_scratch();
  assert_int_equal(tu_sh("set -e; cd '%s'; mkdir src; echo one > src/h1; "
                         "ln src/h1 src/h2; ln src/h1 src/h3; echo plain > "
                         "src/p; find src -exec touch -h -d '2021-01-01 "
                         "00:00:00' {} +",
                         b),
                   0);
  settle();
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "--threads 1 src dst"), 0);
  free(out);
  settle();
  char order[3][3];
  group_order(b, order);
  const char *rels[3] = {"h1", "h2", "h3"};
  char *sp = pm_path_join(b, "dst.pomove-state");
  state_forge_group_on(sp, rels, 3, order[2]);
  free(sp);
  assert_int_equal(tu_sh("cd '%s' && stat -c '%%i %%h %%Z %%z' dst/h1 > "
                         "before",
                         b),
                   0);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(run_copy(&out, b, "--threads 1 --update src dst"), 0);
    assert_int_equal(json_u64(out, "errors"), 0);
    assert_int_equal(json_u64(out, "copied"), 0);
    assert_int_equal(json_u64(out, "metadata_only"), 0);
    assert_int_equal(json_u64(out, "bytes_hashed"), 0);
    /* h1-3 count as one (the others are links), and p. */
    assert_int_equal(json_u64(out, "skipped_unchanged"), 2);
    free(out);
  }
  assert_int_equal(tu_sh("cd '%s' && stat -c '%%i %%h %%Z %%z' dst/h1 > "
                         "after && cmp before after && cd dst && "
                         "xxh128sum -c --quiet ../dst.xxh128 && test $(wc -l "
                         "< ../dst.xxh128) -eq 4",
                         b),
                   0);
  tu_cleanup();
}

/* Many updates of an unchanged group with the default number of workers:
 * whichever path each meets first, none copies anything. */
static void test_copy_update_group_many_passes(void **state) {
  (void)state;
  const char *b = tu_scratch();
  assert_int_equal(tu_sh("set -e; cd '%s'; mkdir -p src/a src/b; for i in "
                         "$(seq 1 8); do echo g$i > src/a/g$i; ln src/a/g$i "
                         "src/b/g$i; ln src/a/g$i src/g$i; done; find src "
                         "-exec touch -h -d '2021-01-01 00:00:00' {} +",
                         b),
                   0);
  settle();
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "--threads 4 src dst"), 0);
  free(out);
  settle();
  for (int i = 0; i < 10; i++) {
    assert_int_equal(run_copy(&out, b, "--threads 4 --update src dst"), 0);
    assert_int_equal(json_u64(out, "errors"), 0);
    assert_int_equal(json_u64(out, "copied"), 0);
    assert_int_equal(json_u64(out, "bytes_hashed"), 0);
    assert_int_equal(json_u64(out, "skipped_unchanged"), 8); /* one per group */
    free(out);
  }
  tu_cleanup();
}

/* Runs an update with one worker and --delete and checks its counts. */
static void update_counts(const char *b, uint64_t copied, uint64_t metaonly,
                          uint64_t deleted) {
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "--threads 1 --delete --update src dst"),
                   0);
  assert_int_equal(json_u64(out, "errors"), 0);
  assert_int_equal(json_u64(out, "copied"), copied);
  assert_int_equal(json_u64(out, "metadata_only"), metaonly);
  assert_int_equal(json_u64(out, "deleted"), deleted);
  free(out);
  assert_int_equal(tu_sh("set -e; cd '%s'; diff -r src dst; cd dst; "
                         "xxh128sum -c --quiet ../dst.xxh128; test $(wc -l < "
                         "../dst.xxh128) -eq $(cd ../src && find . -type f | "
                         "wc -l)",
                         b),
                   0);
}

/* The tree of the link tests: f and sub/s, one link each, and p. */
static void make_link_tree(const char *b) {
  assert_int_equal(tu_sh("set -e; cd '%s'; mkdir -p src/sub; echo eff > "
                         "src/f; echo ess > src/sub/s; echo plain > src/p; "
                         "find src -exec touch -h -d '2021-01-01 00:00:00' "
                         "{} +",
                         b),
                   0);
  settle();
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "--threads 1 src dst"), 0);
  free(out);
  settle();
}

/* A link made by hand between two passes (it changes the source's change
 * time): the file is hashed, not copied, and the new path is a link of
 * the copy; met after the old path (sub/f2 of f: one worker meets the
 * files of the top directory first) and before it (g of sub/s). The pass
 * after that reads nothing. */
static void test_copy_update_link_added(void **state) {
  (void)state;
  const char *b = tu_scratch();
  make_link_tree(b);
  assert_int_equal(tu_sh("set -e; cd '%s/src'; ln f sub/f2; ln sub/s g", b),
                   0);
  settle();
  update_counts(b, 0, 2, 0);
  assert_int_equal(tu_sh("set -e; cd '%s/dst'; test $(stat -c %%i f) = "
                         "$(stat -c %%i sub/f2); test $(stat -c %%i g) = "
                         "$(stat -c %%i sub/s); test $(stat -c %%h f) -eq 2; "
                         "test $(stat -c %%h g) -eq 2",
                         b),
                   0);
  settle();
  update_counts(b, 0, 0, 0);
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "--threads 1 --update src dst"), 0);
  assert_int_equal(json_u64(out, "bytes_hashed"), 0);
  free(out);
  tu_cleanup();
}

/* A link removed by hand between two passes, the one met first (f of
 * sub/f2) and the one met last (sub/s2 of s): nothing copied, the removed
 * paths gone from the copy with --delete, and the pass after reads
 * nothing. */
static void test_copy_update_link_removed(void **state) {
  (void)state;
  const char *b = tu_scratch();
  assert_int_equal(tu_sh("set -e; cd '%s'; mkdir -p src/sub; echo eff > "
                         "src/f; ln src/f src/sub/f2; echo ess > src/s; ln "
                         "src/s src/sub/s2; echo plain > src/p; find src "
                         "-exec touch -h -d '2021-01-01 00:00:00' {} +",
                         b),
                   0);
  settle();
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "--threads 1 src dst"), 0);
  free(out);
  settle();
  assert_int_equal(tu_sh("set -e; cd '%s/src'; rm f sub/s2", b), 0);
  settle();
  update_counts(b, 0, 2, 2);
  assert_int_equal(tu_sh("set -e; cd '%s/dst'; test ! -e f; test ! -e "
                         "sub/s2; test $(stat -c %%h sub/f2) -eq 1; test "
                         "$(stat -c %%h s) -eq 1",
                         b),
                   0);
  settle();
  update_counts(b, 0, 0, 0);
  assert_int_equal(run_copy(&out, b, "--threads 1 --update src dst"), 0);
  assert_int_equal(json_u64(out, "bytes_hashed"), 0);
  free(out);
  tu_cleanup();
}

/* A group whose data changed (same size, mtime put back, so only the
 * change time tells) is copied, whichever of its paths has the record;
 * every path shows the new data. */
static void test_copy_update_group_changed(void **state) {
  (void)state;
  const char *b = tu_scratch();
  assert_int_equal(tu_sh("set -e; cd '%s'; mkdir src; echo one > src/h1; "
                         "ln src/h1 src/h2; ln src/h1 src/h3; echo plain > "
                         "src/p; find src -exec touch -h -d '2021-01-01 "
                         "00:00:00' {} +",
                         b),
                   0);
  settle();
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "--threads 1 src dst"), 0);
  free(out);
  settle();
  /* The record only on the path one worker meets last. */
  char order[3][3];
  group_order(b, order);
  const char *rels[3] = {"h1", "h2", "h3"};
  char *sp = pm_path_join(b, "dst.pomove-state");
  state_forge_group_on(sp, rels, 3, order[2]);
  free(sp);
  assert_int_equal(tu_sh("set -e; cd '%s/src'; m=$(stat -c %%y h1); echo "
                         "two > h1; touch -d \"$m\" h1",
                         b),
                   0);
  settle();
  update_counts(b, 1, 0, 0);
  assert_int_equal(tu_sh("set -e; cd '%s/dst'; grep -q two h1; grep -q two "
                         "h2; grep -q two h3; test $(stat -c %%h h1) -eq 3",
                         b),
                   0);
  /* Changed again, now with every path recorded. */
  assert_int_equal(tu_sh("set -e; cd '%s/src'; m=$(stat -c %%y h1); echo "
                         "six > h1; touch -d \"$m\" h1",
                         b),
                   0);
  settle();
  update_counts(b, 1, 0, 0);
  assert_int_equal(tu_sh("set -e; cd '%s/dst'; grep -q six h2; grep -q six "
                         "h3; test $(stat -c %%h h1) -eq 3",
                         b),
                   0);
  tu_cleanup();
}

/* An attribute removed from the source is removed from the copy by the
 * next pass (a file's and a directory's), and one still there is kept. */
static void test_copy_update_removes_gone_xattrs(void **state) {
  (void)state;
  const char *b = tu_scratch();
  if (tu_sh("set -e; cd '%s'; mkdir -p src/d; echo x > src/f; setfattr -n "
            "user.keep -v 1 src/f; setfattr -n user.gone -v 2 src/f; "
            "setfattr -n user.dgone -v 3 src/d 2>/dev/null",
            b) != 0) {
    tu_cleanup();
    skip(); /* no user attributes here (or no setfattr) */
  }
  settle();
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "src dst"), 0);
  free(out);
  assert_int_equal(tu_sh("cd '%s' && getfattr -n user.gone dst/f && "
                         "getfattr -n user.dgone dst/d",
                         b),
                   0);
  assert_int_equal(tu_sh("cd '%s' && setfattr -x user.gone src/f && "
                         "setfattr -x user.dgone src/d",
                         b),
                   0);
  settle();
  assert_int_equal(run_copy(&out, b, "--update src dst"), 0);
  assert_int_equal(json_u64(out, "errors"), 0);
  assert_int_equal(json_u64(out, "metadata_only"), 1);
  free(out);
  assert_int_equal(tu_sh("cd '%s' && ! getfattr -n user.gone dst/f 2>/dev/null"
                         " && ! getfattr -n user.dgone dst/d 2>/dev/null && "
                         "test \"$(getfattr --only-values -n user.keep "
                         "dst/f)\" = 1",
                         b),
                   0);
  tu_cleanup();
}

/* Files read within the timestamp granularity of their last change are
 * hashed again by the next update (and nothing is copied); once that
 * window lies behind the read, they are skipped unread. */
static void test_copy_update_racy_files_rehashed(void **state) {
  (void)state;
  const char *b = tu_scratch();
  /* Written just now: mtime and ctime lie within 1 s of the copy. */
  assert_int_equal(tu_sh("set -e; cd '%s'; mkdir src; for i in 1 2 3 4 5; "
                         "do echo racy $i > src/r$i; done",
                         b),
                   0);
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "src dst"), 0);
  free(out);
  /* Racy is what the record says of the read, however long ago. */
  settle();
  const pm_io_engine_ops *eng = pm_io_engine_default(NULL, 0);
  fl_layer *L = fl_new(NULL, NULL);
  char *src = pm_path_join(b, "src"), *dst = pm_path_join(b, "dst");
  ce_options o = inproc_opts(src, dst, fl_engine(eng));
  o.fs = fl_fs(L);
  o.update = true;
  ce_result r;
  assert_int_equal(ce_copy(&o, &r), 0);
  assert_int_equal(r.racy_rehashed, 5);
  assert_int_equal(r.skipped_unchanged, 5);
  assert_int_equal(r.copied, 0);
  assert_true(fl_engine_calls(L, FL_READ) >= 5);
  assert_int_equal(fl_engine_calls(L, FL_WRITE), 0);
  fl_free(L);
  /* The re-hash recorded a later read, past the window. */
  L = fl_new(NULL, NULL);
  o.fs = fl_fs(L);
  assert_int_equal(ce_copy(&o, &r), 0);
  assert_int_equal(r.racy_rehashed, 0);
  assert_int_equal(r.skipped_unchanged, 5);
  assert_int_equal(fl_engine_calls(L, FL_READ), 0);
  fl_free(L);
  assert_int_equal(tu_sh("cd '%s/dst' && xxh128sum -c --quiet ../dst.xxh128",
                         b),
                   0);
  free(src);
  free(dst);
  tu_cleanup();
}

/* An update trusts matching metadata; --checksum does not: it reads every
 * source file and copies the one whose data differ from the record. */
static void test_copy_update_checksum_catches_hidden_change(void **state) {
  (void)state;
  const char *b = tu_scratch();
  make_tree(b);
  settle();
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "src dst"), 0);
  free(out);
  char *sp = pm_path_join(b, "dst.pomove-state");
  state_forge_hash(sp, "d1/b");
  settle();
  assert_int_equal(run_copy(&out, b, "--update src dst"), 0);
  assert_int_equal(json_u64(out, "copied"), 0);
  free(out);
  /* Trusted: the manifest now carries the forged hash. */
  assert_int_not_equal(
      tu_sh("cd '%s/dst' && xxh128sum -c --quiet ../dst.xxh128 >/dev/null 2>&1",
            b),
      0);
  assert_int_equal(run_copy(&out, b, "--update --checksum src dst"), 0);
  assert_int_equal(json_u64(out, "copied"), 1);
  assert_int_equal(json_u64(out, "skipped_unchanged"), 35);
  free(out);
  assert_same_tree(b, 36);
  free(sp);
  tu_cleanup();
}

/* A copy changed by hand (same size, mtime set back) is found by its
 * change time and copied again. */
static void test_copy_update_dst_changed_by_hand(void **state) {
  (void)state;
  const char *b = tu_scratch();
  make_tree(b);
  settle();
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "src dst"), 0);
  free(out);
  assert_int_equal(tu_sh("set -e; cd '%s/dst'; m=$(stat -c %%y keep3); echo "
                         "keep X > keep3; touch -d \"$m\" keep3; echo hacked "
                         "> keep4; rm keep5; chmod 600 keep6",
                         b),
                   0);
  settle();
  assert_int_equal(run_copy(&out, b, "--update src dst"), 0);
  assert_int_equal(json_u64(out, "copied"), 3);
  /* keep6, only its mode changed: its data hash as recorded, so it is
   * not copied (the source as recorded: counted unchanged), but its mode
   * is the source's again (assert_same_tree). */
  free(out);
  assert_same_tree(b, 36);
  tu_cleanup();
}

/* Refusals: no state, another source's state, a damaged or truncated
 * state; and adopting a tree with --update --checksum. */
static void test_copy_update_bad_input(void **state) {
  (void)state;
  const char *b = tu_scratch();
  make_tree(b);
  assert_int_equal(tu_sh("cd '%s' && cp -a src other && echo extra > "
                         "other/extra && cp -a src plain && echo diff > "
                         "plain/keep7",
                         b),
                   0);
  settle();
  char *out = NULL;
  /* A tree copied by another tool has no state. */
  assert_int_equal(run_copy(&out, b, "--update src plain"), 2);
  free(out);
  assert_int_equal(tu_sh("grep -q 'no state' '%s/err'", b), 0);
  /* Adopted by hashing both sides: only the differing file is written. */
  assert_int_equal(run_copy(&out, b, "--update --checksum src plain"), 0);
  assert_int_equal(json_u64(out, "copied"), 1);
  assert_int_equal(json_u64(out, "metadata_only"), 35);
  free(out);
  assert_int_equal(tu_sh("cd '%s' && diff -r --no-dereference src plain && "
                         "cd plain && xxh128sum -c --quiet ../plain.xxh128",
                         b),
                   0);
  assert_int_equal(run_copy(&out, b, "src dst"), 0);
  free(out);
  /* Another source into the same DST: refused, by --update and by a
   * plain run alike. */
  assert_int_equal(run_copy(&out, b, "--update other dst"), 2);
  free(out);
  assert_int_equal(tu_sh("grep -q 'records a copy of' '%s/err'", b), 0);
  assert_int_equal(run_copy(&out, b, "other dst"), 2);
  free(out);
  /* A damaged byte: refused naming the record; --checksum goes on. */
  assert_int_equal(tu_sh("cd '%s' && cp dst.pomove-state good && printf "
                         "'\\377' | dd of=dst.pomove-state bs=1 seek=200 "
                         "conv=notrunc status=none",
                         b),
                   0);
  assert_int_equal(run_copy(&out, b, "--update src dst"), 2);
  free(out);
  assert_int_equal(tu_sh("grep -q 'damaged at record' '%s/err'", b), 0);
  assert_int_equal(run_copy(&out, b, "src dst"), 2);
  free(out);
  assert_int_equal(run_copy(&out, b, "--update --checksum src dst"), 0);
  assert_int_equal(json_u64(out, "copied"), 0);
  free(out);
  /* A state cut short (its trailer lost): refused. */
  assert_int_equal(tu_sh("cd '%s' && head -c -5 dst.pomove-state > t && "
                         "cat t > dst.pomove-state",
                         b),
                   0);
  assert_int_equal(run_copy(&out, b, "--update src dst"), 2);
  free(out);
  assert_int_equal(tu_sh("grep -q 'damaged at record' '%s/err'", b), 0);
  /* A symlink planted at the state's name is not followed. */
  assert_int_equal(tu_sh("cd '%s' && rm dst.pomove-state && ln -s good "
                         "dst.pomove-state",
                         b),
                   0);
  assert_int_equal(run_copy(&out, b, "--update src dst"), 2);
  free(out);
  /* Usage: --delete and --checksum need --update. */
  assert_int_equal(run_copy(&out, b, "--delete src dst"), 2);
  free(out);
  tu_cleanup();
}

/* Everything of DST and its side files that a write would change: names,
 * types, modes, sizes, mtimes, change times and inode numbers of every
 * entry (a directory's times move when an entry is made or removed in
 * it), into file `to` beside base. */
static void snap_dst(const char *b, const char *to) {
  assert_int_equal(
      tu_sh("cd '%s' && (cd dst && find . -printf '%%p %%y %%m %%s %%T@ "
            "%%C@ %%i\n' | sort && cat ../dst.xxh128 ../dst.pomove-state | "
            "xxh128sum) > %s",
            b, to),
      0);
}

/* `pomove copy ARGS` is refused (exit 2) with MSG on stderr, and leaves
 * every entry of DST, its manifest and its state as they were. */
static void refused_untouched(const char *b, const char *args,
                              const char *msg) {
  char *out = NULL;
  snap_dst(b, "before.snap");
  assert_int_equal(run_copy(&out, b, args), 2);
  free(out);
  assert_int_equal(tu_sh("grep -q '%s' '%s/err'", msg, b), 0);
  snap_dst(b, "after.snap");
  assert_int_equal(tu_sh("cd '%s' && cmp before.snap after.snap", b), 0);
}

/* A refused update writes nothing into DST: nothing that changes DST
 * (--delete's removals, a type reconciled, a directory made, a file
 * copied or carried over) may happen before the state was loaded and
 * accepted. Another source's state and a damaged
 * state are refused with --update --delete over a source that would
 * remove, add and change entries of DST. */
static void test_copy_update_refusal_leaves_dst_untouched(void **state) {
  (void)state;
  const char *b = tu_scratch();
  make_tree(b);
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, "src dst"), 0);
  free(out);
  settle();
  /* Another source: keep3 and d1 gone, keep4 changed, a file became a
   * directory, new entries. */
  assert_int_equal(
      tu_sh("cd '%s' && cp -a src other && cd other && rm keep3 && rm -r "
            "d1 && echo changed > keep4 && rm f2d && mkdir f2d && echo n > "
            "f2d/n && echo extra > extra && mkdir newdir",
            b),
      0);
  refused_untouched(b, "--update --delete other dst", "records a copy of");
  /* A damaged state, with the same source changed the same way. */
  assert_int_equal(
      tu_sh("cd '%s' && rm -r src && mv other src && cp dst.pomove-state "
            "good && printf '\\377' | dd of=dst.pomove-state bs=1 seek=200 "
            "conv=notrunc status=none",
            b),
      0);
  refused_untouched(b, "--update --delete src dst", "damaged at record");
  /* The good state accepted, the same update brings DST up to date. */
  assert_int_equal(tu_sh("cd '%s' && cp good dst.pomove-state", b), 0);
  assert_int_equal(run_copy(&out, b, "--update --delete src dst"), 0);
  free(out);
  assert_int_equal(tu_sh("cd '%s' && diff -r --no-dereference src dst", b),
                   0);
  tu_cleanup();
}

/* kill -9 at several moments of an update; the same update run again
 * finishes with the tree identical and the manifest whole. */
static void test_copy_update_kill9_resume(void **state) {
  (void)state;
  const char *b = tu_scratch();
  assert_int_equal(
      tu_sh("set -e; cd '%s'; mkdir src; head -c 8000000 /dev/urandom > "
            "pool; for d in 0 1 2 3; do mkdir src/M$d; for i in $(seq 1 100); "
            "do head -c $(( (i * 97 + d * 31) %% 20000 + 1 )) pool > "
            "src/M$d/$i.MAI; done; done; for i in 1 2; do dd if=pool "
            "of=src/L$i.ATT bs=1M count=3 skip=$i status=none; done",
            b),
      0);
  const char *opts = "--threads 2 --batch-files 16 --batch-bytes 262144 "
                     "--checkpoint-bytes 524288 --chunk-size 131072";
  char args[512];
  snprintf(args, sizeof args, "%s src dst", opts);
  char *out = NULL;
  assert_int_equal(run_copy(&out, b, args), 0);
  free(out);
  srand(4242);
  unsigned killed = 0;
  for (int round = 0; round < 6; round++) {
    /* Change half the files (other sizes), add and remove some. */
    assert_int_equal(
        tu_sh("set -e; cd '%s/src'; for d in 0 1 2 3; do for i in $(seq %d "
              "2 100); do echo round %d >> M$d/$i.MAI; done; done; echo %d >> "
              "L1.ATT; rm -f M0/%d.MAI; echo new > M1/new%d",
              b, 1 + round % 2, round, round, round + 3, round),
        0);
    struct timespec a, z;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid = fork();
    if (pid == 0) {
      char *cmd = NULL;
      if (asprintf(&cmd, "cd '%s' && exec '%s' copy -q --update --delete %s "
                   "src dst >/dev/null 2>&1",
                   b, tu_pomove(), opts) < 0)
        _exit(127);
      execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
      _exit(127);
    }
    usleep((useconds_t)(5000 + rand() % 60000));
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    clock_gettime(CLOCK_MONOTONIC, &z);
    if (WIFSIGNALED(st)) killed++;
    else assert_int_equal(WEXITSTATUS(st), 0);
    snprintf(args, sizeof args, "--update --delete %s src dst", opts);
    assert_int_equal(run_copy(&out, b, args), 0);
    assert_int_equal(json_u64(out, "errors"), 0);
    free(out);
    assert_int_equal(tu_sh("cd '%s' && diff -r src dst && test ! -e "
                           "dst.pomove-journal && cd dst && xxh128sum -c "
                           "--quiet ../dst.xxh128 && test $(wc -l < "
                           "../dst.xxh128) -eq $(find . -type f | wc -l)",
                           b),
                     0);
  }
  /* The kills must have hit running updates, or the test proved little. */
  assert_true(killed >= 3);
  tu_cleanup();
}

/* --live: a file written to all the time is left for the next pass and
 * counted, not failed; without --live it is an error (exit 1). */
static void test_copy_update_live_leaves_busy_file(void **state) {
  (void)state;
  const char *b = tu_scratch();
  assert_int_equal(tu_sh("set -e; cd '%s'; mkdir src; echo a > src/a; head "
                         "-c 8000000 /dev/urandom > src/busy; (while :; do "
                         "echo x; done) >> src/busy 2>/dev/null & echo $! "
                         "> appender.pid; s=$(stat -c %%s src/busy); while "
                         "[ $(stat -c %%s src/busy) = $s ]; do sleep 0.01; "
                         "done",
                         b),
                   0);
  /* The appender is a shell loop: on a loaded machine it can be held off
   * the CPU for the whole of a read and its retries, and then the copy of
   * that moment is clean, rightly. So each run is tried a few times until
   * the file did change under it: with --live it is then left for the
   * next pass and counted (exit 0); without, it is an error (exit 1). */
  char *out = NULL;
  int rc = -1;
  for (int i = 0; i < 5; i++) {
    free(out);
    out = NULL;
    /* Not quiet: the file left behind is listed among the warnings. */
    rc = tu_sh_out(&out, "cd '%s' && rm -rf dst dst.* && '%s' copy "
                   "--progress none --json --live src dst 2>err",
                   b, tu_pomove());
    if (rc != 0 || json_u64(out, "left_for_next_pass") != 0) break;
  }
  int rc2 = 0;
  for (int i = 0; i < 5 && rc2 != 1; i++)
    rc2 = tu_sh("cd '%s' && rm -rf plain plain.* && '%s' copy -q src plain "
                "2>/dev/null",
                b, tu_pomove());
  tu_sh("kill $(cat '%s/appender.pid')", b);
  assert_int_equal(rc, 0);
  assert_int_equal(json_u64(out, "left_for_next_pass"), 1);
  assert_int_equal(json_u64(out, "errors"), 0);
  free(out);
  assert_int_equal(tu_sh("grep -q 'left for the next pass' '%s/err'", b), 0);
  assert_int_equal(rc2, 1);
  tu_cleanup();
}

int main(void) {
  tu_require(tu_sh("command -v xxh128sum >/dev/null") == 0,
             "xxh128sum is not installed");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_copy_update_carries_every_change),
      cmocka_unit_test(test_copy_update_racy_files_rehashed),
      cmocka_unit_test(test_copy_update_nothing_changed_touches_nothing),
      cmocka_unit_test(test_copy_update_lists_directories_at_once),
      cmocka_unit_test(test_copy_update_keeps_hard_links),
      cmocka_unit_test(test_copy_update_group_record_on_other_path),
      cmocka_unit_test(test_copy_update_group_many_passes),
      cmocka_unit_test(test_copy_update_link_added),
      cmocka_unit_test(test_copy_update_link_removed),
      cmocka_unit_test(test_copy_update_group_changed),
      cmocka_unit_test(test_copy_update_removes_gone_xattrs),
      cmocka_unit_test(test_copy_update_checksum_catches_hidden_change),
      cmocka_unit_test(test_copy_update_dst_changed_by_hand),
      cmocka_unit_test(test_copy_update_bad_input),
      cmocka_unit_test(test_copy_update_refusal_leaves_dst_untouched),
      cmocka_unit_test(test_copy_update_kill9_resume),
      cmocka_unit_test(test_copy_update_live_leaves_busy_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
