/* test_copy_toctou.c - directories swapped for symlinks while a copy runs,
 * and a file that becomes a FIFO between the walk and its open.
 *
 * A hook in the fault layer (fl_set_hook) changes the tree at the moment the
 * engine first touches a chosen entry, just before the call reaches the
 * OS, so each race is hit every time: a SRC directory not yet listed, a
 * DST directory already created, a directory deep in SRC or DST above a
 * file about to be opened, and the directory above DST itself. After each
 * copy: nothing outside was read (no byte of it in DST) or written (the
 * outside directory is as it was), the entry is reported by path with the
 * reason, and the copy counted it as an error (the CLI's exit 1). Run with
 * openat2 and, as test_copy_toctou_walk, with POMOVE_NO_OPENAT2=1. */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
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

static char *cat(const char *a, const char *b) {
  char *s = NULL;
  if (asprintf(&s, "%s/%s", a, b) < 0) abort();
  return s;
}

/* What the hook does, once. */
typedef struct swap {
  const char *op;       /* "open", "opendir" ... */
  const char *match;    /* the relative path the call names */
  bool prefix;          /* match a path below `match` too */
  int want_creat;       /* 1: only an open that creates; 0: only one that
                           does not; -1: either */
  char *victim;         /* the directory replaced by a symlink */
  char *stash;          /* where it goes */
  char *target;         /* what the symlink points to */
  char *fifo;           /* or: replace this file by a FIFO */
  /* An open of this directory (PM_O_DIRECTORY) also fires the hook: the
   * engine's workers open a file's directories first and the file by its
   * name beneath them, so that is their first touch. */
  const char *dir_rel;
  atomic_bool done;
} swap;

static swap sw;
/* The thread layer has no static initialiser (Windows has none for a
 * critical section): the lock is made on first use. */
static pm_mutex hook_mu;
static pm_once_t hook_mu_once = PM_ONCE_INIT;
static void hook_mu_init(void) { pm_mutex_init(&hook_mu); }
static void hook_mu_lock(void) {
  pm_once(&hook_mu_once, hook_mu_init);
  pm_mutex_lock(&hook_mu);
}

/* The engine names entries by path (before this fix) or by path relative
 * to a root handle (after): both end with the relative path. */
static bool names(const char *path, const char *rel, bool prefix) {
  size_t pl = strlen(path), rl = strlen(rel);
  if (prefix) {
    if (!strncmp(path, rel, rl) && path[rl] == '/') return true;
    char *needle = NULL;
    if (asprintf(&needle, "/%s/", rel) < 0) abort();
    bool in = strstr(path, needle) != NULL;
    free(needle);
    return in;
  }
  if (pl == rl) return !strcmp(path, rel);
  return pl > rl && path[pl - rl - 1] == '/' && !strcmp(path + pl - rl, rel);
}

static int hook(const char *op, const char *path, int flags, void *arg) {
  (void)arg;
  bool dir_open = sw.dir_rel && fl_op_is(op, "open") &&
                  (flags & PM_O_DIRECTORY) && names(path, sw.dir_rel, false);
  if (!dir_open) {
    if (!fl_op_is(op, sw.op) || !names(path, sw.match, sw.prefix)) return 0;
    if (sw.want_creat >= 0 && !!(flags & PM_O_CREAT) != sw.want_creat)
      return 0;
  }
  /* Held through the swap: a matching call on another worker waits here
   * until the swap is done, so every call after the first sees it. */
  hook_mu_lock();
  bool expected = false;
  if (atomic_compare_exchange_strong(&sw.done, &expected, true)) {
    if (sw.fifo) {
      assert_int_equal(unlink(sw.fifo), 0);
      assert_int_equal(mkfifo(sw.fifo, 0644), 0);
    } else {
      assert_int_equal(rename(sw.victim, sw.stash), 0);
      assert_int_equal(symlink(sw.target, sw.victim), 0);
    }
  }
  pm_mutex_unlock(&hook_mu);
  return 0;
}

/* stderr goes to a file while a copy runs, so that the report can be
 * checked. */
static int saved_err = -1;
static char *err_path;

static void capture_start(const char *base) {
  err_path = cat(base, "stderr.txt");
  fflush(stderr);
  saved_err = dup(2);
  int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  dup2(fd, 2);
  close(fd);
}

static char *capture_end(void) {
  fflush(stderr);
  dup2(saved_err, 2);
  close(saved_err);
  char *s = tu_read_all(err_path, NULL);
  free(err_path);
  fputs(s, stderr); /* still shown in the test's output */
  return s;
}

/* The tree every test copies, and an outside directory that mirrors parts
 * of it with other contents ("OUTSIDE"), so that a copy that strays
 * picks up files that look like its own. */
typedef struct world {
  const char *base;
  char *src, *dst, *out, *out_before;
} world;

static void world_make(world *w) {
  w->base = tu_scratch();
  w->src = cat(w->base, "src");
  w->dst = cat(w->base, "dst");
  w->out = cat(w->base, "outside");
  assert_int_equal(
      tu_sh("cd '%s' && mkdir -p src/a/sub src/a/b/c/d src/z outside/c/d && "
            "printf x1 > src/a/sub/x1 && printf x2 > src/a/sub/x2 && "
            "printf keep > src/a/keep && printf deep > src/a/b/c/d/f && "
            "printf zz > src/z/y && printf OUTSIDE > outside/x1 && "
            "printf OUTSIDE > outside/evil && printf OUTSIDE > outside/c/d/f",
            w->base),
      0);
  /* A listing of outside with contents and times, to compare after. */
  assert_int_equal(tu_sh_out(&w->out_before,
                             "cd '%s' && find . -printf '%%p %%y %%s %%T@ "
                             "%%m\\n' | sort && cat $(find . -type f | sort)",
                             w->out),
                   0);
}

static void world_check_outside(world *w, const char *dst) {
  char *now = NULL;
  assert_int_equal(tu_sh_out(&now,
                             "cd '%s' && find . -printf '%%p %%y %%s %%T@ "
                             "%%m\\n' | sort && cat $(find . -type f | sort)",
                             w->out),
                   0);
  assert_string_equal(now, w->out_before);
  free(now);
  /* And no byte of it made its way into DST. */
  assert_int_not_equal(tu_sh("grep -rq OUTSIDE '%s'", dst), 0);
}

static void world_free(world *w) {
  free(w->src);
  free(w->dst);
  free(w->out);
  free(w->out_before);
  tu_cleanup();
}

static int run_copy(world *w, const char *dst, ce_result *r, char **err) {
  ce_options o;
  ce_options_init(&o);
  o.src = w->src;
  o.dst = dst;
  fl_layer *L = fl_new(NULL, NULL);
  fl_set_hook(L, hook, NULL);
  o.fs = fl_fs(L);
  o.threads = 2;
  o.journal = false;
  o.no_manifest = true;
  capture_start(w->base);
  int rc = ce_copy(&o, r);
  *err = capture_end();
  fl_free(L);
  return rc;
}

static void swap_init(const char *op, const char *match, bool prefix,
                      int want_creat, const char *dir_rel) {
  memset(&sw, 0, sizeof sw);
  sw.dir_rel = dir_rel;
  sw.op = op;
  sw.match = match;
  sw.prefix = prefix;
  sw.want_creat = want_creat;
  atomic_init(&sw.done, false);
}

static void swap_free(void) {
  free(sw.victim);
  free(sw.stash);
  free(sw.target);
  free(sw.fifo);
}

/* SRC/a/sub, not yet listed, becomes a symlink to outside when the walker
 * first opens it: nothing from outside is copied. */
static void test_copy_toctou_src_dir(void **state) {
  (void)state;
  world w;
  world_make(&w);
  swap_init("opendir", "a/sub", false, -1, NULL);
  sw.victim = cat(w.src, "a/sub");
  sw.stash = cat(w.base, "stash");
  sw.target = pm_xstrdup(w.out);
  ce_result r;
  char *err;
  assert_int_equal(run_copy(&w, w.dst, &r, &err), 0);
  assert_true(atomic_load(&sw.done));
  world_check_outside(&w, w.dst);
  assert_int_not_equal(tu_sh("test -e '%s/a/sub/evil'", w.dst), 0);
  assert_int_equal(r.errors, 1);
  assert_non_null(strstr(err, "src/a/sub'"));
  assert_non_null(strstr(err, "symbolic link"));
  /* The rest was copied. */
  assert_int_equal(tu_sh("cd '%s' && test \"$(cat a/keep)\" = keep && "
                         "test \"$(cat z/y)\" = zz && "
                         "test \"$(cat a/b/c/d/f)\" = deep",
                         w.dst),
                   0);
  free(err);
  swap_free();
  world_free(&w);
}

/* DST/a/sub, created by the walker, becomes a symlink to outside when the
 * first file in it is created: nothing is written outside (outside/x1,
 * which a copy through the link would overwrite, keeps its bytes). */
static void test_copy_toctou_dst_dir(void **state) {
  (void)state;
  world w;
  world_make(&w);
  swap_init("open", "a/sub", true, 1, "a/sub");
  sw.victim = cat(w.dst, "a/sub");
  sw.stash = cat(w.base, "stash");
  sw.target = pm_xstrdup(w.out);
  ce_result r;
  char *err;
  assert_int_equal(run_copy(&w, w.dst, &r, &err), 0);
  assert_true(atomic_load(&sw.done));
  world_check_outside(&w, w.dst);
  /* x1, x2 and the directory's own mode. */
  assert_true(r.errors >= 2);
  assert_non_null(strstr(err, "dst/a/sub/x1'"));
  assert_non_null(strstr(err, "dst/a/sub/x2'"));
  assert_non_null(strstr(err, "symbolic link"));
  assert_int_equal(tu_sh("test \"$(cat '%s/a/keep')\" = keep", w.dst), 0);
  free(err);
  swap_free();
  world_free(&w);
}

/* A directory two levels above a file, deep in SRC, becomes a symlink to
 * an outside tree with the same shape when the worker opens the file. */
static void test_copy_toctou_src_deep(void **state) {
  (void)state;
  world w;
  world_make(&w);
  swap_init("open", "a/b/c/d/f", false, 0, "a/b/c/d");
  sw.victim = cat(w.src, "a/b");
  sw.stash = cat(w.base, "stash");
  sw.target = pm_xstrdup(w.out);
  ce_result r;
  char *err;
  assert_int_equal(run_copy(&w, w.dst, &r, &err), 0);
  assert_true(atomic_load(&sw.done));
  world_check_outside(&w, w.dst);
  /* The file, and the directories above it whose source changed. */
  assert_true(r.errors >= 1);
  assert_non_null(strstr(err, "src/a/b/c/d/f'"));
  assert_non_null(strstr(err, "symbolic link"));
  assert_int_not_equal(tu_sh("test -e '%s/a/b/c/d/f'", w.dst), 0);
  free(err);
  swap_free();
  world_free(&w);
}

/* The same deep in DST: DST/a/b becomes a symlink to the outside tree
 * (which has c/d/f) when a/b/c/d/f is created. */
static void test_copy_toctou_dst_deep(void **state) {
  (void)state;
  world w;
  world_make(&w);
  swap_init("open", "a/b/c/d/f", false, 1, "a/b/c/d");
  sw.victim = cat(w.dst, "a/b");
  sw.stash = cat(w.base, "stash");
  sw.target = pm_xstrdup(w.out);
  ce_result r;
  char *err;
  assert_int_equal(run_copy(&w, w.dst, &r, &err), 0);
  assert_true(atomic_load(&sw.done));
  world_check_outside(&w, w.dst);
  assert_true(r.errors >= 1);
  assert_non_null(strstr(err, "dst/a/b/c/d/f'"));
  assert_non_null(strstr(err, "symbolic link"));
  free(err);
  swap_free();
  world_free(&w);
}

/* The directory above DST becomes a symlink to outside (which has a
 * "dst" of its own) once the copy has begun: every write still lands in
 * the DST the copy opened, now under the stash name, none outside. */
static void test_copy_toctou_dst_parent(void **state) {
  (void)state;
  world w;
  world_make(&w);
  assert_int_equal(tu_sh("mkdir '%s/p' '%s/dst'", w.base, w.out), 0);
  free(w.out_before);
  assert_int_equal(tu_sh_out(&w.out_before,
                             "cd '%s' && find . -printf '%%p %%y %%s %%T@ "
                             "%%m\\n' | sort && cat $(find . -type f | sort)",
                             w.out),
                   0);
  char *dst = cat(w.base, "p/dst");
  swap_init("open", "a/sub/x1", false, 1, "a/sub");
  sw.victim = cat(w.base, "p");
  sw.stash = cat(w.base, "p.moved");
  sw.target = pm_xstrdup(w.out);
  ce_result r;
  char *err;
  assert_int_equal(run_copy(&w, dst, &r, &err), 0);
  assert_true(atomic_load(&sw.done));
  char *moved = cat(w.base, "p.moved/dst");
  world_check_outside(&w, moved);
  free(moved);
  assert_int_equal(r.errors, 0);
  assert_int_equal(tu_sh("diff -r '%s' '%s/p.moved/dst'", w.src, w.base), 0);
  free(err);
  free(dst);
  swap_free();
  world_free(&w);
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] =
      "test_copy_toctou: the copy blocked on a FIFO (alarm)\n";
  if (write(saved_err >= 0 ? saved_err : 2, msg, sizeof msg - 1) < 0) _exit(1);
  _exit(1);
}

/* A file listed by the walker becomes a FIFO before its open: the copy
 * does not wait for a writer that never comes; it reports the entry. */
static void test_copy_toctou_fifo(void **state) {
  (void)state;
  world w;
  world_make(&w);
  swap_init("open", "a/keep", false, 0, "a");
  sw.fifo = cat(w.src, "a/keep");
  signal(SIGALRM, on_alarm);
  alarm(30);
  ce_result r;
  char *err;
  assert_int_equal(run_copy(&w, w.dst, &r, &err), 0);
  alarm(0);
  assert_true(atomic_load(&sw.done));
  assert_int_equal(r.errors, 1);
  assert_non_null(strstr(err, "special file where a regular file was listed"));
  assert_non_null(strstr(err, "src/a/keep'"));
  assert_int_equal(tu_sh("cd '%s' && test \"$(cat z/y)\" = zz && "
                         "test \"$(cat a/sub/x1)\" = x1 && ! test -e a/keep",
                         w.dst),
                   0);
  free(err);
  swap_free();
  world_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_copy_toctou_src_dir),
      cmocka_unit_test(test_copy_toctou_dst_dir),
      cmocka_unit_test(test_copy_toctou_src_deep),
      cmocka_unit_test(test_copy_toctou_dst_deep),
      cmocka_unit_test(test_copy_toctou_dst_parent),
      cmocka_unit_test(test_copy_toctou_fifo),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
