/* test_sim_host.c - the simulated Windows host behaves as the SCM, the
 * server service and the registry would: a service with a missing
 * ImagePath file does not start, dependencies are enforced, a running
 * service writes to its postoffice and stops writing once stopped, shares
 * check their SD and folder, drive letters map case-insensitively, one
 * pomove at a time, and no service process outlives its host. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "orch_testlib.h"
#include "testutil.h"
#include "util.h"

static const char *host(const char *name, unsigned touch_ms) {
  char *dir = pm_xasprintf("%s/%s", ot_scratch(), name);
  orch_sim_options so;
  ot_sim_options(&so, dir);
  so.cfg.touch_ms = touch_ms;
  const char *d = ot_make_host(&so);
  free(dir);
  return d;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_sim_services_as_the_scm(void **state) {
  (void)state;
  const char *dir = host("scm", 1000);
  pm_host *h = ot_open(dir);
  /* MSMI cannot stop while ATMTA, which depends on it, runs. */
  assert_int_equal(h->svc->stop(h, "MSExchangeMSMI"), PM_EBUSY);
  assert_int_equal(pm_oserr_last(), 1051);
  assert_int_equal(h->svc->stop(h, "MSExchangeATMTA"), 0);
  assert_int_equal(h->svc->wait(h, "MSExchangeATMTA", PM_SVC_STOPPED, 5000,
                                NULL), 0);
  assert_int_equal(h->svc->stop(h, "MSExchangeMSMI"), 0);
  assert_int_equal(h->svc->wait(h, "MSExchangeMSMI", PM_SVC_STOPPED, 5000,
                                NULL), 0);
  /* ATMTA cannot start before MSMI. */
  assert_int_equal(h->svc->start(h, "MSExchangeATMTA"), PM_ESTATE);
  assert_int_equal(pm_oserr_last(), 1068);
  /* A service whose program is missing does not start. */
  assert_int_equal(h->svc->set_image_path(h, "MSExchangeMSMI",
                                          "D:\\nowhere\\Mt.exe"), 0);
  assert_int_equal(h->svc->start(h, "MSExchangeMSMI"), PM_ENOENT);
  assert_int_equal(pm_oserr_last(), 2);
  assert_int_equal(h->svc->set_image_path(
                       h, "MSExchangeMSMI",
                       "C:\\EXCHSRVR\\connect\\msmcon\\bin\\MT.EXE"), 0);
  assert_int_equal(h->svc->start(h, "MSExchangeMSMI"), 0);
  assert_int_equal(h->svc->wait(h, "MSExchangeMSMI", PM_SVC_RUNNING, 5000,
                                NULL), 0);
  pm_svc_info si;
  assert_int_equal(h->svc->query(h, "msexchangemsmi", &si), 0);
  assert_string_equal(si.name, "MSExchangeMSMI");
  assert_true(si.pid > 0);
  assert_int_equal(kill((pid_t)si.pid, 0), 0);
  /* ChangeServiceConfig stores ImagePath as REG_EXPAND_SZ. */
  pm_reg_value v = {0};
  assert_int_equal(h->reg->get(h, ORCH_SERVICES_KEY "\\MSExchangeMSMI",
                               "ImagePath", &v), 0);
  assert_int_equal(v.type, PM_REG_EXPAND_SZ);
  pm_reg_value_free(&v);
  assert_int_equal(h->svc->query(h, "NoSuchService", &si), PM_ENOENT);
  /* A service that ignores the stop control. */
  pm_host_close(h);
  assert_int_equal(pm_sim_set_service_option(dir, "Legacy Mail Connector",
                                             "stop", "ignore"), 0);
  h = ot_open(dir);
  assert_int_equal(h->svc->stop(h, "Legacy Mail Connector"), 0);
  pm_svc_state seen;
  assert_int_equal(h->svc->wait(h, "Legacy Mail Connector", PM_SVC_STOPPED,
                                200, &seen), PM_ETIMEDOUT);
  assert_int_equal(seen, PM_SVC_RUNNING);
  pm_host_close(h);
}

static long mtime_ns(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return (long)st.st_mtim.tv_sec * 1000000000L + st.st_mtim.tv_nsec;
}

static void test_sim_running_service_writes(void **state) {
  (void)state;
  const char *dir = host("live", 30);
  char *ctl = pm_xasprintf("%s/drives/C/exchsrvr/Connect/Msmcon/Maildata/GLB/"
                           "CONTROL.GLB", dir);
  size_t n0;
  char *before = tu_read_all(ctl, &n0);
  long m0 = mtime_ns(ctl);
  bool moved = false;
  for (int i = 0; i < 300 && !moved; i++) {
    sleep_ms(20);
    moved = mtime_ns(ctl) != m0;
  }
  assert_true(moved);
  size_t n1;
  char *after = tu_read_all(ctl, &n1);
  assert_int_equal(n0, n1);
  assert_memory_equal(before, after, n0);
  free(before);
  free(after);
  /* Once every service is stopped, nothing writes any more. */
  pm_host *h = ot_open(dir);
  const char *order[] = {"MSExchangeATMTA", "Legacy Mail Connector",
                         "MTA to Vancouver PO", "MSExchangeMSMI"};
  pid_t pids[4];
  for (int i = 0; i < 4; i++) {
    pm_svc_info si;
    assert_int_equal(h->svc->query(h, order[i], &si), 0);
    pids[i] = (pid_t)si.pid;
    assert_int_equal(h->svc->stop(h, order[i]), 0);
    assert_int_equal(h->svc->wait(h, order[i], PM_SVC_STOPPED, 5000, NULL),
                     0);
  }
  pm_host_close(h);
  for (int i = 0; i < 4; i++) assert_int_not_equal(kill(pids[i], 0), 0);
  long m1 = mtime_ns(ctl);
  sleep_ms(200);
  assert_true(mtime_ns(ctl) == m1);
  free(ctl);
}

static void test_sim_kill_all_leaves_nothing(void **state) {
  (void)state;
  const char *dir = host("kill", 1000);
  pm_host *h = ot_open(dir);
  pm_svc_info si;
  assert_int_equal(h->svc->query(h, "MSExchangeMSMI", &si), 0);
  pm_host_close(h);
  assert_int_equal(pm_sim_kill_all(dir), 4);
  assert_int_not_equal(kill((pid_t)si.pid, 0), 0);
  h = ot_open(dir);
  assert_int_equal(h->svc->query(h, "MSExchangeMSMI", &si), 0);
  assert_int_equal(si.state, PM_SVC_STOPPED);
  /* System services declared running stay so. */
  assert_int_equal(h->svc->query(h, "EventLog", &si), 0);
  assert_int_equal(si.state, PM_SVC_RUNNING);
  pm_host_close(h);
}

static void test_sim_shares_volumes_lock(void **state) {
  (void)state;
  const char *dir = host("misc", 1000);
  pm_host *h = ot_open(dir);
  pm_share_info sh;
  assert_int_equal(h->share->get(h, "MAILDAT$", &sh), 0);
  assert_string_equal(sh.remark, "Access for MSMI postoffice");
  assert_int_equal(h->share->add(h, &sh), PM_EEXIST);
  snprintf(sh.name, sizeof sh.name, "Other");
  snprintf(sh.sddl, sizeof sh.sddl, "garbage");
  assert_int_equal(h->share->add(h, &sh), PM_EINVAL);
  snprintf(sh.sddl, sizeof sh.sddl, "D:(A;;FA;;;WD)");
  snprintf(sh.path, sizeof sh.path, "D:\\missing");
  assert_int_equal(h->share->add(h, &sh), PM_ENOENT);
  assert_int_equal(h->share->del(h, "Other"), PM_ENOENT);

  char buf[4096];
  assert_int_equal(h->vol->native_path(h, "c:\\EXCHSRVR\\connect\\MSMCON\\"
                                          "New Folder", buf, sizeof buf), 0);
  char *want = pm_xasprintf("%s/drives/C/exchsrvr/Connect/Msmcon/New Folder",
                            dir);
  assert_string_equal(buf, want);
  free(want);
  assert_int_equal(h->vol->native_path(h, "Q:\\x", buf, sizeof buf),
                   PM_ENOENT);
  pm_vol_info vi;
  assert_int_equal(h->vol->info(h, "C:\\exchsrvr", &vi), 0);
  assert_string_equal(vi.fs_type, "FAT");
  assert_int_equal(h->vol->info(h, "D:", &vi), 0);
  assert_string_equal(vi.fs_type, "NTFS");
  assert_true(vi.free_bytes > 0);
  /* One pomove at a time. */
  char *spec = ot_spec(dir);
  pm_host *h2 = NULL;
  assert_int_equal(pm_host_open(spec, &h2), PM_EBUSY);
  pm_host_close(h);
  assert_int_equal(pm_host_open(spec, &h2), 0);
  pm_host_close(h2);
  assert_int_equal(pm_host_open("nosuch:x", &h2), PM_EINVAL);
  free(spec);
  spec = pm_xasprintf("sim:%s/absent", ot_scratch());
  assert_int_equal(pm_host_open(spec, &h2), PM_ENOENT);
  free(spec);
  /* Declared free space. */
  assert_int_equal(pm_sim_add_drive(dir, 'E', "NTFS", 12345), 0);
  h = ot_open(dir);
  assert_int_equal(h->vol->info(h, "E:", &vi), 0);
  assert_int_equal(vi.free_bytes, 12345);
  pm_host_close(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sim_services_as_the_scm),
      cmocka_unit_test(test_sim_running_service_writes),
      cmocka_unit_test(test_sim_kill_all_leaves_nothing),
      cmocka_unit_test(test_sim_shares_volumes_lock),
  };
  return cmocka_run_group_tests(tests, ot_group_setup, ot_group_teardown);
}
