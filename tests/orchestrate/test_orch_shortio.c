/* test_orch_shortio.c - the orchestrator's file chores against a file
 * system whose every read and write transfers at most half of what it is
 * asked (and at least one byte), as platform.h allows: `sim-create` must
 * still write whole stubs and copy its template postoffice byte for byte,
 * and the move's discovery must compare whole MASTER.GLB files, not their
 * first halves. The wrapper is local on purpose: the fault layer
 * (tests/support/faultlayer.h) caps transfers at a fixed size, where this
 * one halves every transfer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch.h"
#include "simcreate.h"
#include "orch_testlib.h"
#include "testutil.h"
#include "util.h"

static const char *scratch_dir;
static pm_fs_ops short_ops;
static const pm_fs short_fs = {&short_ops, NULL};
static long short_calls; /* transfers cut short */

static size_t cut(size_t len) {
  if (len <= 1) return len;
  short_calls++;
  return len / 2;
}

static int64_t short_pread(const pm_fs *self PM_UNUSED, pm_fd fd, void *buf,
                           size_t len, uint64_t off) {
  return pm_fs_pread(pm_fs_native(), fd, buf, cut(len), off);
}

static int64_t short_pwrite(const pm_fs *self PM_UNUSED, pm_fd fd,
                            const void *buf, size_t len, uint64_t off) {
  return pm_fs_pwrite(pm_fs_native(), fd, buf, cut(len), off);
}

static int setup(void **state) {
  (void)state;
  scratch_dir = tu_scratch();
  short_ops = *pm_fs_native()->ops;
  short_ops.name = "short";
  short_ops.pread = short_pread;
  short_ops.pwrite = short_pwrite;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ot_kill_all();
  tu_cleanup();
  return 0;
}

static const char *new_host(const char *name, const pm_fs *fs) {
  static char dirs[8][4096];
  static int next;
  char *d = dirs[next++ % 8];
  snprintf(d, 4096, "%s/%s", scratch_dir, name);
  orch_sim_options so;
  ot_sim_options(&so, d);
  so.fs = fs;
  return ot_make_host(&so);
}

static void assert_file_text(const char *path, const char *want) {
  size_t len;
  char *got = tu_read_all(path, &len);
  assert_non_null(got);
  assert_int_equal(len, strlen(want));
  assert_memory_equal(got, want, len);
  free(got);
}

/* sim-create writes its stub programs and copies the template postoffice
 * through the short table: every file whole. */
static void test_orch_shortio_sim_create(void **state) {
  (void)state;
  short_calls = 0;
  const char *dir = new_host("create", &short_fs);
  assert_true(short_calls > 0);
  char *p = pm_xasprintf("%s/drives/C/WINNT/system32/services.exe", dir);
  assert_file_text(p, "MZ");
  free(p);
  p = pm_xasprintf("%s/drives/C/exchsrvr/bin/store.exe", dir);
  assert_file_text(p, "MZ");
  free(p);
  orch_sim_options so;
  ot_sim_options(&so, dir);
  /* The template has no PC MTA program: sim-create writes a stub. */
  p = pm_xasprintf("%s/drives/C/exchsrvr/Connect/Msmcon/Bin/Pcmta.exe", dir);
  assert_file_text(p, "MZ pcmta");
  free(p);
  assert_int_equal(
      tu_sh("diff -r -x Pcmta.exe '%s' '%s/drives/C/exchsrvr/Connect/Msmcon'",
            so.postoffice, dir),
      0);
  /* The registry file is written through the table too. */
  pm_host *h = ot_open(dir);
  pm_svc_info si;
  assert_int_equal(h->svc->query(h, "MSExchangeMSMI", &si), 0);
  pm_host_close(h);
}

/* Plants at the destination a MASTER.GLB equal to the source's, or one
 * that differs in its last byte only; returns the host, its fs replaced
 * by the short table. */
static pm_host *planted(const char *name, bool same, orch_plan *first) {
  const char *dir = new_host(name, NULL);
  pm_host *h = ot_open(dir);
  orch_options o;
  ot_kb_move_options(&o);
  orch_result res;
  assert_int_equal(orch_plan_build(h, &o, first, &res), 0);
  assert_false(first->target_existed);
  char *src = pm_path_join(first->from_native, "Maildata/GLB/MASTER.GLB");
  size_t len;
  char *glb = tu_read_all(src, &len);
  assert_non_null(glb);
  assert_true(len >= 2);
  if (!same) glb[len - 1] ^= 0x5a;
  assert_int_equal(
      tu_sh("mkdir -p '%s/Maildata/GLB'", first->to_native), 0);
  char *dst = pm_path_join(first->to_native, "Maildata/GLB/MASTER.GLB");
  FILE *f = fopen(dst, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(glb, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  free(dst);
  free(glb);
  free(src);
  h->fs = &short_fs;
  return h;
}

/* The same postoffice at the destination (an earlier partial copy) is
 * recognised through the short table. */
static void test_orch_shortio_discover_same(void **state) {
  (void)state;
  orch_plan first, p;
  pm_host *h = planted("same", true, &first);
  orch_options o;
  ot_kb_move_options(&o);
  short_calls = 0;
  orch_result res;
  assert_int_equal(orch_plan_build(h, &o, &p, &res), 0);
  assert_true(short_calls > 0);
  assert_true(p.target_existed);
  orch_plan_free(&p);
  orch_plan_free(&first);
  pm_host_close(h);
}

/* Another postoffice whose MASTER.GLB differs only past its first half is
 * another postoffice: discovery refuses the destination. */
static void test_orch_shortio_discover_different(void **state) {
  (void)state;
  orch_plan first, p;
  pm_host *h = planted("different", false, &first);
  orch_options o;
  ot_kb_move_options(&o);
  short_calls = 0;
  orch_result res;
  int rc = orch_plan_build(h, &o, &p, &res);
  assert_true(short_calls > 0);
  assert_int_equal(ot_outcome_of(rc, &res), OT_REFUSED);
  assert_int_equal(rc, PM_EEXIST);
  orch_plan_free(&p);
  orch_plan_free(&first);
  pm_host_close(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_orch_shortio_sim_create),
      cmocka_unit_test(test_orch_shortio_discover_same),
      cmocka_unit_test(test_orch_shortio_discover_different),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
