/* test_orch_state.c - the move's own files are read whole and never
 * through a symlink: a simulated host whose registry.reg cannot be read
 * whole (a NUL, a cut, an odd byte) does not open, so `move` and
 * `rollback` exit non-zero and leave it byte-identical; a step journal
 * with a NUL in the middle is refused and `move --resume` does not run
 * the move again; symlinks planted at the plan, the step journal, the
 * registry backup and the simulator's files are refused, their targets
 * untouched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orch_testlib.h"
#include "testutil.h"
#include "sidefile.h"
#include "util.h"

static const char *new_host(const char *name) {
  static char dirs[8][4096];
  static int next;
  char *d = dirs[next++ % 8];
  snprintf(d, 4096, "%s/%s", ot_scratch(), name);
  orch_sim_options so;
  ot_sim_options(&so, d);
  return ot_make_host(&so);
}

static void write_bytes(const char *path, const char *b, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void assert_file(const char *path, const char *b, size_t len) {
  size_t got;
  char *now = tu_read_all(path, &got);
  assert_int_equal(got, len);
  assert_memory_equal(now, b, len);
  free(now);
}

static void test_orch_state_damaged_registry(void **state) {
  (void)state;
  const char *dir = new_host("reg");
  char *rp = pm_xasprintf("%s/registry.reg", dir);
  size_t len;
  char *good = tu_read_all(rp, &len);
  assert_true(len > 4000);
  char *spec = ot_spec(dir);
  for (int v = 0; v < 5; v++) {
    char *b = malloc(len + 2);
    memcpy(b, good, len);
    size_t n = len;
    size_t mid = (len / 2) & ~(size_t)1;
    const char *what;
    switch (v) {
    case 0: /* U+0000 replacing a character in the middle */
      b[mid] = b[mid + 1] = 0;
      what = "NUL in the middle";
      break;
    case 1: /* U+0000 inserted between two keys */
      n = len + 2;
      memmove(b + mid + 2, b + mid, len - mid);
      b[mid] = b[mid + 1] = 0;
      what = "NUL inserted";
      break;
    case 2: /* truncated on a unit in the middle of a line */
      n = mid;
      while (b[n - 2] == '\n' || b[n - 2] == '\r') n -= 2;
      what = "truncated";
      break;
    case 3: /* cut inside a UTF-16 unit */
      n = len - 1;
      what = "cut unit";
      break;
    default: /* an odd trailing byte */
      b[len] = '\n';
      n = len + 1;
      what = "odd byte";
      break;
    }
    write_bytes(rp, b, n);
    pm_host *h = NULL;
    int rc = pm_host_open(spec, &h);
    if (rc != PM_EFORMAT) print_error("%s: open gave %d\n", what, rc);
    assert_int_equal(rc, PM_EFORMAT);
    assert_null(h);
    const char *d = pm_host_open_detail();
    if (!strstr(d, "registry.reg line ")) print_error("%s: '%s'\n", what, d);
    assert_non_null(strstr(d, "registry.reg line "));
    /* The commands, as a person runs them: refused, nothing written. */
    char *out = NULL;
    assert_int_equal(tu_sh_out(&out, "'%s' move --host '%s' --from "
                                     "'C:\\exchsrvr' --to 'D:' 2>&1",
                               tu_pomove(), spec),
                     2);
    assert_non_null(strstr(out, "registry.reg line "));
    free(out);
    assert_int_equal(tu_sh("'%s' rollback --host '%s' >/dev/null 2>&1",
                           tu_pomove(), spec),
                     2);
    assert_file(rp, b, n);
    free(b);
  }
  write_bytes(rp, good, len);
  free(good);
  free(spec);
  free(rp);
}

static void test_orch_state_journal_nul(void **state) {
  (void)state;
  const pm_fs *fs = pm_fs_native();
  char *p = pm_xasprintf("%s/journal", ot_scratch());
  for (int v = 0; v < 3; v++) {
    unlink(p);
    orch_journal j;
    assert_int_equal(orch_journal_open(fs, p, &j), 0);
    assert_int_equal(orch_journal_add(&j, "start", -1), 0);
    for (int k = 0; k < ORCH_NSTEPS; k++) {
      assert_int_equal(orch_journal_add(&j, "begin", k), 0);
      assert_int_equal(orch_journal_add(&j, "done", k), 0);
    }
    assert_int_equal(orch_journal_add(&j, "move-done", -1), 0);
    orch_journal_close(&j);
    size_t len;
    char *b = tu_read_all(p, &len);
    char *second = strchr(b, '\n') + 1;
    if (v == 0) second[3] = '\0';               /* inside a record */
    else if (v == 1) second[-1] = '\0';         /* instead of a newline */
    else b[0] = '\0';                           /* at the very start */
    write_bytes(p, b, len);
    assert_int_equal(orch_journal_open(fs, p, &j), PM_ECORRUPT);
    orch_journal_close(&j);
    free(b);
  }
  free(p);
}

static void test_orch_state_resume_after_nul(void **state) {
  (void)state;
  const char *dir = new_host("resume");
  orch_options o;
  ot_kb_move_options(&o);
  pm_host *h = ot_open(dir);
  assert_int_equal(ot_move(h, &o), OT_DONE);
  pm_host_close(h);
  ot_snapshot before, after;
  ot_snap(dir, &before);
  char *jp = pm_xasprintf("%s/pomove/current/journal", dir);
  size_t len;
  char *b = tu_read_all(jp, &len);
  char *third = strchr(strchr(b, '\n') + 1, '\n') + 1;
  third[2] = '\0';
  write_bytes(jp, b, len);
  ot_move_options(&o);
  o.resume = true;
  h = ot_open(dir);
  /* Refused: the journal cannot be read, so nothing runs again. */
  assert_int_equal(ot_move(h, &o), OT_FAILED);
  pm_host_close(h);
  ot_snap(dir, &after);
  ot_assert_same(&before, &after);
  assert_file(jp, b, len);
  ot_snap_free(&before);
  ot_snap_free(&after);
  free(b);
  free(jp);
}

static void test_orch_state_plan_bytes(void **state) {
  (void)state;
  const char *dir = new_host("plan");
  pm_host *h = ot_open(dir);
  orch_options o;
  ot_kb_move_options(&o);
  orch_plan p;
  orch_result res;
  assert_int_equal(orch_plan_build(h, &o, &p, &res), 0);
  char *path = pm_xasprintf("%s/plan-file", ot_scratch());
  assert_int_equal(orch_plan_save(h, path, &p), 0);
  size_t len;
  char *good = tu_read_all(path, &len);
  orch_plan q;
  /* Text after the end line, a NUL in the middle, a cut end line. */
  char *more = malloc(len + 8);
  memcpy(more, good, len);
  memcpy(more + len, "extra\n", 6);
  write_bytes(path, more, len + 6);
  assert_int_equal(orch_plan_load(h, path, &q), PM_EFORMAT);
  memcpy(more, good, len);
  more[len / 2] = '\0';
  write_bytes(path, more, len);
  assert_int_equal(orch_plan_load(h, path, &q), PM_EFORMAT);
  write_bytes(path, good, len - 1);
  assert_int_equal(orch_plan_load(h, path, &q), PM_EFORMAT);
  free(more);
  free(good);
  orch_plan_free(&p);
  pm_host_close(h);
  free(path);
}

static void test_orch_state_symlinks_refused(void **state) {
  (void)state;
  const char *scratch = ot_scratch();
  char *victim = pm_xasprintf("%s/victim", scratch);
  tu_write_text(victim, "precious\n");
  const char *dir = new_host("links");
  pm_host *h = ot_open(dir);
  orch_options o;
  ot_kb_move_options(&o);
  orch_plan p;
  orch_result res;
  assert_int_equal(orch_plan_build(h, &o, &p, &res), 0);
  /* The plan and the step journal, directly. */
  char *plan = pm_xasprintf("%s/plan-link", scratch);
  assert_int_equal(symlink(victim, plan), 0);
  assert_int_equal(orch_plan_save(h, plan, &p), PM_ELOOP);
  orch_plan q;
  assert_int_equal(orch_plan_load(h, plan, &q), PM_ELOOP);
  char *jp = pm_xasprintf("%s/journal-link", scratch);
  assert_int_equal(symlink(victim, jp), 0);
  orch_journal j;
  assert_int_equal(orch_journal_open(h->fs, jp, &j), PM_ELOOP);
  orch_journal_close(&j);
  unlink(jp);
  char *gone = pm_xasprintf("%s/gone", scratch);
  assert_int_equal(symlink(gone, jp), 0); /* dangling: not created */
  assert_int_equal(orch_journal_open(h->fs, jp, &j), PM_ELOOP);
  orch_journal_close(&j);
  assert_int_equal(orch_journal_open(h->fs, victim, &j), 0);
  free(j.path);
  j.path = pm_xstrdup(jp); /* an append to a link planted after the open */
  assert_int_equal(orch_journal_add(&j, "start", -1), PM_ELOOP);
  orch_journal_close(&j);
  assert_int_equal(access(gone, F_OK), -1);
  assert_int_equal(access(victim, F_OK), 0);
  orch_plan_free(&p);
  pm_host_close(h);
  /* The registry backup of a real move: the step fails naming it. */
  char *sdir = pm_xasprintf("%s/pomove/current", dir);
  assert_int_equal(tu_sh("mkdir -p '%s' && ln -s '%s' '%s/backup.reg'",
                         sdir, victim, sdir), 0);
  char *spec = ot_spec(dir);
  char *out = NULL;
  assert_int_equal(tu_sh_out(&out, "'%s' move --host '%s' --from "
                                   "'C:\\exchsrvr' --to 'D:' 2>&1",
                             tu_pomove(), spec),
                   3);
  assert_non_null(strstr(out, "backup.reg"));
  free(out);
  assert_int_equal(access(victim, F_OK), 0);
  /* The simulator's own files: the host does not open. */
  static const char *const files[] = {"registry.reg", "host.ini",
                                      "shares.txt", "services.txt"};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(tu_sh("cd '%s' && mv %s %s.real && ln -s '%s' %s", dir,
                           files[i], files[i], victim, files[i]), 0);
    pm_host *x = NULL;
    assert_int_equal(pm_host_open(spec, &x), PM_ELOOP);
    assert_non_null(strstr(pm_host_open_detail(), files[i]));
    assert_int_equal(tu_sh("cd '%s' && rm %s && mv %s.real %s", dir,
                           files[i], files[i], files[i]), 0);
  }
  size_t len;
  char *got = tu_read_all(victim, &len);
  assert_string_equal(got, "precious\n");
  free(got);
  free(spec);
  free(sdir);
  free(gone);
  free(jp);
  free(plan);
  free(victim);
}

/* Another process holding the state lock of the host in `dir` until
 * let_go(): through orch_state_lock on `h` (which sweeps, as a move
 * does) or, with no host, by taking the lock file itself (the simulated
 * host's own lock would hold every pomove command off). */
typedef struct lock_holder {
  pid_t pid;
  int ready[2], go[2];
} lock_holder;

static void hold(lock_holder *x, const char *dir, pm_host *h) {
  char *path = pm_xasprintf("%s/pomove/lock", dir);
  assert_int_equal(pipe(x->ready), 0);
  assert_int_equal(pipe(x->go), 0);
  x->pid = fork();
  assert_true(x->pid >= 0);
  if (x->pid == 0) {
    pm_sidelock lk;
    int rc = h ? orch_state_lock(h, NULL, false, &lk)
               : pm_side_lock(pm_fs_native(), path, "state lock file", &lk);
    char c = rc == 0 ? 'y' : 'n';
    if (write(x->ready[1], &c, 1) != 1 || read(x->go[0], &c, 1) != 1)
      _exit(1);
    _exit(0);
  }
  free(path);
  char c = 0;
  assert_int_equal(read(x->ready[0], &c, 1), 1);
  assert_int_equal(c, 'y');
}

static void let_go(lock_holder *x) {
  assert_int_equal(write(x->go[1], "x", 1), 1);
  assert_int_equal(waitpid(x->pid, NULL, 0), x->pid);
  for (int i = 0; i < 2; i++) {
    close(x->ready[i]);
    close(x->go[i]);
  }
}

/* The state folder's temporaries that nobody will finish: the old
 * "NAME.<16 hex>.tmp" of older pomove versions (no pid) and
 * "NAME.tmp-<pid>-<n>" of a writer that has ended are removed by the
 * next move once it holds the state lock, in the folder and the folders
 * directly in it, each removal said; a live writer's temporary, a link
 * (never followed), a folder and other names stay. While another
 * process holds the lock, nothing is removed and the lock is refused. */
static void test_orch_state_old_temporaries_swept(void **state) {
  (void)state;
  const char *dir = new_host("sweep");
  unsigned d = tu_dead_pid(), live = (unsigned)getppid();
  assert_int_equal(
      tu_sh("set -e; cd '%s'; echo secret > outside; mkdir -p pomove/current "
            "pomove/move-20200101-000000; cd pomove; "
            "echo o > stage.0123456789abcdef.tmp; "
            "echo o > current/plan.0123456789abcdef.tmp; "
            "echo o > move-20200101-000000/backup.reg.fedcba9876543210.tmp; "
            "echo o > current/plan.tmp-%u-0a1b2c; "
            "echo o > current/plan.tmp-%u-0a1b2c; "
            "ln -s ../outside check-x.reg.0123456789abcdef.tmp; "
            "mkdir x.0123456789abcdef.tmp; "
            "echo o > plan.0123456789ABCDEF.tmp; "
            "echo o > plan.0123456789abcde.tmp; "
            "echo o > .0123456789abcdef.tmp; "
            "echo o > plan.0123456789abcdef.tmp.bak",
            dir, d, live),
      0);
  const char *old = "pomove/stage.0123456789abcdef.tmp";
  /* Held by another process: refused, nothing removed. */
  pm_host *h = ot_open(dir);
  lock_holder holder;
  hold(&holder, dir, h);
  /* The holder swept already; put one back for the refused taker. */
  assert_int_equal(tu_sh("cd '%s' && echo o > '%s'", dir, old), 0);
  pm_sidelock lk;
  assert_int_equal(orch_state_lock(h, NULL, false, &lk), PM_EBUSY);
  assert_int_equal(tu_sh("cd '%s' && test -f '%s'", dir, old), 0);
  let_go(&holder);
  pm_host_close(h);
  /* Planted again after the holder's sweep: the move removes them. */
  assert_int_equal(
      tu_sh("set -e; cd '%s/pomove'; "
            "echo o > current/plan.0123456789abcdef.tmp; "
            "echo o > move-20200101-000000/backup.reg.fedcba9876543210.tmp; "
            "echo o > current/plan.tmp-%u-0a1b2c",
            dir, d),
      0);
  char *spec = ot_spec(dir);
  char *out = NULL;
  assert_int_equal(tu_sh_out(&out, "'%s' move --host '%s' --from "
                                   "'C:\\exchsrvr' --to 'D:' 2>&1 >/dev/null",
                             tu_pomove(), spec),
                   0);
  assert_int_equal(
      tu_sh("set -e; cd '%s'; grep -qx secret outside; cd pomove; "
            "test ! -e stage.0123456789abcdef.tmp; "
            "test ! -e move-20200101-000000/backup.reg.fedcba9876543210.tmp; "
            "test ! -e current/plan.tmp-%u-0a1b2c; "
            "test -f current/plan.tmp-%u-0a1b2c; "
            "test -L check-x.reg.0123456789abcdef.tmp; "
            "test -d x.0123456789abcdef.tmp; "
            "test -f plan.0123456789ABCDEF.tmp; "
            "test -f plan.0123456789abcde.tmp; "
            "test -f .0123456789abcdef.tmp; "
            "test -f plan.0123456789abcdef.tmp.bak; "
            "test ! -e lock; "
            "! ls current | grep -q 0123456789abcdef",
            dir, d, live),
      0);
  if (!strstr(out, "stage.0123456789abcdef.tmp', a temporary file of the "
                   "move's state that an older pomove left"))
    print_error("%s", out);
  assert_non_null(strstr(out, "stage.0123456789abcdef.tmp', a temporary "
                              "file of the move's state that an older "
                              "pomove left"));
  assert_non_null(strstr(out, "backup.reg.fedcba9876543210.tmp'"));
  char *said = pm_xasprintf("plan.tmp-%u-0a1b2c', a temporary file of the "
                            "move's state left by pomove process %u, which "
                            "has ended", d, d);
  assert_non_null(strstr(out, said));
  free(said);
  free(out);
  free(spec);
}

/* check --repair changes what a move changes and writes its backup into
 * the state folder: it takes the moves' state lock, so while another
 * pomove holds it the repair is refused (exit 2, the lock named) and
 * nothing is written; a bare check changes nothing and takes none. */
static void test_orch_state_check_repair_takes_lock(void **state) {
  (void)state;
  const char *dir = new_host("checklock");
  assert_int_equal(tu_sh("mkdir -p '%s/pomove'", dir), 0);
  lock_holder holder;
  hold(&holder, dir, NULL);
  char *spec = ot_spec(dir);
  char *out = NULL;
  int rc = tu_sh_out(&out, "'%s' check --host '%s' --expect D: --repair "
                           "2>&1 >/dev/null",
                     tu_pomove(), spec);
  if (rc != 2 || !strstr(out, "lock")) print_error("exit %d: %s", rc, out);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(out, "lock"));
  free(out);
  assert_int_equal(tu_sh("! ls '%s'/pomove/check-*.reg 2>/dev/null", dir), 0);
  /* A bare check is not refused: it finds the values not on D: (1). */
  rc = tu_sh_out(&out, "'%s' check --host '%s' --expect D: 2>&1 >/dev/null",
                 tu_pomove(), spec);
  assert_int_equal(rc, 1);
  free(out);
  let_go(&holder);
  /* Released: the repair is not refused (it fails on its own ground
   * here: D: has no Maildata to point at). */
  rc = tu_sh_out(&out, "'%s' check --host '%s' --expect D: --repair "
                       "2>&1 >/dev/null",
                 tu_pomove(), spec);
  if (rc != 3 || strstr(out, "lock")) print_error("exit %d: %s", rc, out);
  assert_int_equal(rc, 3);
  assert_null(strstr(out, "lock"));
  free(out);
  free(spec);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_orch_state_journal_nul),
      cmocka_unit_test(test_orch_state_plan_bytes),
      cmocka_unit_test(test_orch_state_damaged_registry),
      cmocka_unit_test(test_orch_state_resume_after_nul),
      cmocka_unit_test(test_orch_state_symlinks_refused),
      cmocka_unit_test(test_orch_state_old_temporaries_swept),
      cmocka_unit_test(test_orch_state_check_repair_takes_lock),
  };
  return cmocka_run_group_tests(tests, ot_group_setup, ot_group_teardown);
}
