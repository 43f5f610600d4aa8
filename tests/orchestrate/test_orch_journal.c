/* test_orch_journal.c - the move's persistent state: step journal records
 * are checksummed, a torn last record is ignored and cut off before the
 * next append, a damaged earlier record is refused; the saved plan keeps
 * exact registry bytes and odd text, and a damaged plan is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch_testlib.h"
#include "testutil.h"
#include "util.h"

static void test_orch_journal_torn_record(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *p = pm_xasprintf("%s/journal", dir);
  const pm_fs *fs = pm_fs_native();
  orch_journal j;
  assert_int_equal(orch_journal_open(fs, p, &j), 0);
  assert_false(j.started);
  assert_int_equal(orch_journal_add(&j, "start", -1), 0);
  assert_int_equal(orch_journal_add(&j, "begin", 0), 0);
  assert_int_equal(orch_journal_add(&j, "done", 0), 0);
  assert_int_equal(orch_journal_add(&j, "begin", 1), 0);
  orch_journal_close(&j);
  /* A crash in the middle of writing "done 1". */
  assert_int_equal(tu_sh("printf '5 done 1 17' >> '%s'", p), 0);
  assert_int_equal(orch_journal_open(fs, p, &j), 0);
  assert_true(j.started);
  assert_int_equal(j.step_done[0], 1);
  assert_int_equal(j.step_done[1], 0);
  /* A whole last line whose hash does not match is torn too. */
  orch_journal_close(&j);
  assert_int_equal(tu_sh("printf ' 00000000000000000000000000000000\\n' >> "
                         "'%s'", p), 0);
  assert_int_equal(orch_journal_open(fs, p, &j), 0);
  assert_int_equal(j.step_done[1], 0);
  assert_int_equal(orch_journal_add(&j, "done", 1), 0);
  orch_journal_close(&j);
  assert_int_equal(orch_journal_open(fs, p, &j), 0);
  assert_int_equal(j.step_done[1], 1);
  assert_int_equal(j.seq, 5);
  orch_journal_close(&j);
  /* Damage in the middle is corruption, not a tear. */
  assert_int_equal(tu_sh("sed -i '2s/begin/BEGIN/' '%s'", p), 0);
  assert_int_equal(orch_journal_open(fs, p, &j), PM_ECORRUPT);
  orch_journal_close(&j);
  free(p);
  tu_cleanup();
}

static void test_orch_plan_roundtrip(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *sim = pm_xasprintf("%s/h", dir);
  orch_sim_options so;
  ot_sim_options(&so, sim);
  ot_make_host(&so);
  pm_host *h = ot_open(sim);
  orch_options o;
  ot_kb_move_options(&o);
  orch_plan p;
  orch_result res;
  assert_int_equal(orch_plan_build(h, &o, &p, &res), 0);
  assert_int_equal(p.nsvcs, 4);
  assert_string_equal(p.svcs[0].name, "MSExchangeATMTA");
  assert_string_equal(p.svcs[3].name, "MSExchangeMSMI");
  assert_int_equal(p.nvals, 18);
  /* Text that needs escaping and bytes that are not text. */
  snprintf(p.share.remark, sizeof p.share.remark, "tab\there%%25\nnew");
  uint8_t raw[] = {0, 9, 10, 13, 0xff};
  pm_reg_value_free(&p.vals[0].old);
  p.vals[0].old.type = PM_REG_BINARY;
  p.vals[0].old.len = sizeof raw;
  p.vals[0].old.data = pm_xmalloc(sizeof raw);
  memcpy(p.vals[0].old.data, raw, sizeof raw);
  char *path = pm_xasprintf("%s/plan", dir);
  assert_int_equal(orch_plan_save(h, path, &p), 0);
  orch_plan q;
  assert_int_equal(orch_plan_load(h, path, &q), 0);
  assert_string_equal(q.from, p.from);
  assert_string_equal(q.to, "D:\\ExchSrvr\\Connect\\Msmcon");
  assert_string_equal(q.share.remark, p.share.remark);
  assert_string_equal(q.share.sddl, p.share.sddl);
  assert_int_equal(q.nsvcs, p.nsvcs);
  assert_int_equal(q.nvals, p.nvals);
  for (size_t i = 0; i < p.nvals; i++) {
    assert_string_equal(q.vals[i].key, p.vals[i].key);
    assert_string_equal(q.vals[i].name, p.vals[i].name);
    assert_true(pm_reg_value_equal(&q.vals[i].old, &p.vals[i].old));
    assert_true(pm_reg_value_equal(&q.vals[i].new_, &p.vals[i].new_));
    assert_int_equal(q.vals[i].image_path, p.vals[i].image_path);
  }
  orch_plan_free(&q);
  assert_int_equal(tu_sh("sed -i '3s/D:/E:/' '%s'", path), 0);
  assert_int_equal(orch_plan_load(h, path, &q), PM_ECORRUPT);
  orch_plan_free(&p);
  pm_host_close(h);
  free(path);
  pm_sim_kill_all(sim);
  free(sim);
  tu_cleanup();
}

static void test_orch_rewrite_rules(void **state) {
  (void)state;
  pm_reg_value v, out;
  pm_reg_value_set_str(&v, PM_REG_EXPAND_SZ,
                       "%SystemRoot%\\x.dll;c:\\EXCHSRVR\\connect\\msmcon\\"
                       "bin\\Mtmsg.dll");
  assert_true(orch_rewrite_value(&v, "C:\\exchsrvr\\Connect\\Msmcon",
                                 "D:\\ExchSrvr\\Connect\\Msmcon", &out));
  char *s = pm_reg_value_str(&out);
  assert_string_equal(s, "%SystemRoot%\\x.dll;D:\\ExchSrvr\\Connect\\Msmcon\\"
                         "bin\\Mtmsg.dll");
  assert_int_equal(out.type, PM_REG_EXPAND_SZ);
  free(s);
  pm_reg_value_free(&out);
  pm_reg_value_free(&v);
  /* A longer name that merely starts the same is not under Msmcon. */
  pm_reg_value_set_str(&v, PM_REG_SZ, "C:\\exchsrvr\\Connect\\Msmcon2\\a");
  assert_false(orch_rewrite_value(&v, "C:\\exchsrvr\\Connect\\Msmcon",
                                  "D:\\ExchSrvr\\Connect\\Msmcon", &out));
  pm_reg_value_free(&v);
  /* check --repair: any other Msmcon, quoted. */
  pm_reg_value_set_str(&v, PM_REG_SZ, "\"E:\\Old\\Connect\\Msmcon\\Bin\\Mt.exe\"");
  assert_true(orch_rewrite_value(&v, NULL, "D:\\ExchSrvr\\Connect\\Msmcon",
                                 &out));
  s = pm_reg_value_str(&out);
  assert_string_equal(s, "\"D:\\ExchSrvr\\Connect\\Msmcon\\Bin\\Mt.exe\"");
  free(s);
  pm_reg_value_free(&out);
  pm_reg_value_free(&v);
  pm_reg_value_set_str(&v, PM_REG_SZ, "D:\\ExchSrvr\\Connect\\Msmcon\\Bin");
  assert_false(orch_rewrite_value(&v, NULL, "d:\\exchsrvr\\connect\\msmcon",
                                  &out));
  pm_reg_value_free(&v);
  char buf[1024];
  assert_int_equal(orch_msmcon_to("D:\\", buf, sizeof buf), 0);
  assert_string_equal(buf, "D:\\ExchSrvr\\Connect\\Msmcon");
  assert_int_equal(orch_msmcon_to("E:\\Mail\\ExchSrvr\\", buf, sizeof buf), 0);
  assert_string_equal(buf, "E:\\Mail\\ExchSrvr\\Connect\\Msmcon");
  assert_int_equal(orch_msmcon_from("C:\\exchsrvr\\connect\\msmcon", buf,
                                    sizeof buf), 0);
  assert_string_equal(buf, "C:\\exchsrvr\\connect\\msmcon");
  assert_int_equal(orch_msmcon_from("C:", buf, sizeof buf), PM_EINVAL);
  assert_int_equal(orch_msmcon_from("exchsrvr", buf, sizeof buf), PM_EINVAL);
  /* '/' is a separator in a Windows path, and what pomove.exe's command
   * line makes of a typed '\'. */
  assert_int_equal(orch_msmcon_from("C:/exchsrvr", buf, sizeof buf), 0);
  assert_string_equal(buf, "C:\\exchsrvr\\Connect\\Msmcon");
  assert_int_equal(orch_msmcon_to("E:/Mail/ExchSrvr/", buf, sizeof buf), 0);
  assert_string_equal(buf, "E:\\Mail\\ExchSrvr\\Connect\\Msmcon");
  assert_int_equal(orch_msmcon_to("D:/", buf, sizeof buf), 0);
  assert_string_equal(buf, "D:\\ExchSrvr\\Connect\\Msmcon");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_orch_journal_torn_record),
      cmocka_unit_test(test_orch_plan_roundtrip),
      cmocka_unit_test(test_orch_rewrite_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
