/* test_orch_move.c - the whole move on the simulated host, checked against
 * the registry, share and service state it must leave, and its variants:
 * no ATMTA; zero, one and three PC MTA instances; share missing; FAT
 * destination; no room; REG_SZ where the KB says REG_EXPAND_SZ; PC MTA
 * names with spaces; a service that will not stop; plan changes nothing;
 * rollback; check and --repair after a service pack reset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch_testlib.h"
#include "testutil.h"
#include "util.h"

#define SVC ORCH_SERVICES_KEY "\\"
#define OLD "C:\\exchsrvr\\Connect\\Msmcon"
#define NEW "D:\\ExchSrvr\\Connect\\Msmcon"

static char *dir_of(const char *name) {
  return pm_xasprintf("%s/%s", ot_scratch(), name);
}

static void want_value(const char *dir, const char *key, const char *name,
                         uint32_t type, const char *data) {
  uint32_t t = 0;
  char *s = ot_reg_str(dir, key, name, &t);
  if (!s) fail_msg("value %s\\%s is missing", key, name);
  if (strcmp(s, data) || t != type)
    fail_msg("%s\\%s: got %s (%s), want %s (%s)", key, name, s,
             pm_reg_type_name(t), data, pm_reg_type_name(type));
  free(s);
}

static size_t count_lines(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* Lines of `after` that are not in `before`. */
static size_t changed_lines(const char *before, const char *after,
                            const char *must_contain) {
  size_t n = 0;
  const char *p = after;
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t l = (size_t)(nl - p) + 1;
    char *line = pm_xmalloc(l + 1);
    memcpy(line, p, l);
    line[l] = '\0';
    if (!strstr(before, line)) {
      n++;
      if (must_contain && !strstr(line, must_contain))
        fail_msg("unexpected change: %s", line);
    }
    free(line);
    p = nl + 1;
  }
  return n;
}

static void expect_service(const char *dir, const char *name,
                           pm_svc_state want, const char *image) {
  pm_host *h = ot_open(dir);
  pm_svc_info si;
  assert_int_equal(h->svc->query(h, name, &si), 0);
  pm_host_close(h);
  if (si.state != want)
    fail_msg("service %s is %s, want %s", name, pm_svc_state_name(si.state),
             pm_svc_state_name(want));
  if (image) assert_string_equal(si.image_path, image);
  if (want == PM_SVC_RUNNING && strstr(si.image_path, "Msmcon"))
    assert_true(si.pid > 0);
}

static void expect_share(const char *dir, const char *path) {
  pm_host *h = ot_open(dir);
  pm_share_info si;
  int rc = h->share->get(h, "Maildat$", &si);
  pm_host_close(h);
  if (!path) {
    assert_int_equal(rc, PM_ENOENT);
    return;
  }
  assert_int_equal(rc, 0);
  assert_string_equal(si.path, path);
  assert_string_equal(si.remark, "Access for MSMI postoffice");
  assert_non_null(strstr(si.sddl, "(A;;FA;;;WD)(A;;FA;;;BA)(A;;FA;;;S-1-5-21-"));
}

static ot_outcome do_move(const char *dir, const char *from,
                          const char *to) {
  orch_options o;
  ot_move_options(&o);
  o.from = from;
  o.to = to;
  pm_host *h = ot_open(dir);
  ot_outcome rc = ot_move(h, &o);
  pm_host_close(h);
  return rc;
}

static ot_outcome do_rollback(const char *dir, bool remove_copy) {
  orch_options o;
  ot_move_options(&o);
  o.remove_copy = remove_copy;
  pm_host *h = ot_open(dir);
  ot_outcome rc = ot_rollback(h, &o);
  pm_host_close(h);
  return rc;
}

static void test_orch_move_full(void **state) {
  (void)state;
  char *dir = dir_of("full");
  orch_sim_options so;
  ot_sim_options(&so, dir);
  ot_make_host(&so);
  char *before = ot_dump(dir);
  ot_snapshot s0;
  ot_snap(dir, &s0);
  assert_int_equal(do_move(dir, "C:\\exchsrvr", "D:"), OT_DONE);

  /* The KB's table, types as the host had them. */
  want_value(dir, SVC "MSExchangeATMTA", "ImagePath", PM_REG_EXPAND_SZ,
               NEW "\\Bin\\Macgate.exe");
  want_value(dir, SVC "MSExchangeATMTA\\Performance", "Library",
               PM_REG_EXPAND_SZ, NEW "\\Bin\\Macgperf.dll");
  want_value(dir, SVC "MSExchangeMSMI", "ImagePath", PM_REG_EXPAND_SZ,
               NEW "\\Bin\\Mt.exe");
  want_value(dir, SVC "MSExchangeMSMI\\Performance", "Library", PM_REG_SZ,
               NEW "\\Bin\\Mtperf.dll");
  want_value(dir, SVC "MSExchangePCMTA\\Performance", "Library", PM_REG_SZ,
               NEW "\\Bin\\Xtnperf.dll");
  /* What the KB leaves out. */
  want_value(dir, SVC "Legacy Mail Connector", "ImagePath", PM_REG_EXPAND_SZ,
               NEW "\\Bin\\Pcmta.exe");
  want_value(dir, SVC "MTA to Vancouver PO", "ImagePath", PM_REG_EXPAND_SZ,
               NEW "\\Bin\\Pcmta.exe");
  want_value(dir, SVC "EventLog\\Application\\MSExchangeMSMI",
               "EventMessageFile", PM_REG_EXPAND_SZ, NEW "\\Bin\\Mtmsg.dll");
  want_value(dir, SVC "EventLog\\Application\\MTA to Vancouver PO",
               "CategoryMessageFile", PM_REG_EXPAND_SZ,
               NEW "\\Bin\\Xtnmsg.dll");
  want_value(dir, SVC "MacFile\\Parameters\\Volumes", "Exchange Mail",
               PM_REG_MULTI_SZ,
               "MaxUses=4294967295 | Properties=32768 | Password= | Path=" NEW
               "\\Maildata");
  /* Untouched: other services, the PC MTA's UNC list, the other volume. */
  want_value(dir, SVC "Legacy Mail Connector\\Parameters", "DrivesUNC",
               PM_REG_MULTI_SZ, "\\\\MAILSRV1\\MAILDATA /Z | "
                                "\\\\MAILSRV2\\POSTOFF /Y");
  want_value(dir, SVC "MSExchangeDS", "ImagePath", PM_REG_EXPAND_SZ,
               "C:\\exchsrvr\\bin\\dsamain.exe");
  want_value(dir, SVC "MacFile\\Parameters\\Volumes", "Public",
               PM_REG_MULTI_SZ,
               "MaxUses=4294967295 | Properties=32768 | Password= | "
               "Path=C:\\Public");
  /* Exactly 18 values changed, each to the new location. */
  char *after = ot_dump(dir);
  assert_int_equal(count_lines(before), count_lines(after));
  assert_int_equal(changed_lines(before, after, NEW), 18);
  assert_null(strstr(after, OLD));
  free(after);
  free(before);

  expect_share(dir, NEW "\\Maildata");
  expect_service(dir, "MSExchangeMSMI", PM_SVC_RUNNING, NEW "\\Bin\\Mt.exe");
  expect_service(dir, "MSExchangeATMTA", PM_SVC_RUNNING,
                 NEW "\\Bin\\Macgate.exe");
  expect_service(dir, "Legacy Mail Connector", PM_SVC_RUNNING, NULL);
  expect_service(dir, "MTA to Vancouver PO", PM_SVC_RUNNING, NULL);
  expect_service(dir, "MSExchangeDS", PM_SVC_RUNNING, NULL);

  /* The copy, the old tree kept, the backup importable. */
  char *p = pm_xasprintf("%s/drives/D/ExchSrvr/Connect/Msmcon/Maildata/GLB/"
                         "MASTER.GLB", dir);
  assert_int_equal(tu_sh("test -f '%s'", p), 0);
  free(p);
  assert_int_equal(tu_sh("diff -r '%s/drives/C/exchsrvr/Connect/Msmcon/Bin' "
                         "'%s/drives/D/ExchSrvr/Connect/Msmcon/Bin'",
                         dir, dir),
                   0);
  p = pm_xasprintf("%s/pomove/current/backup.reg", dir);
  pm_regtree *t;
  assert_int_equal(pm_regtree_load(pm_fs_native(), p, &t, NULL, 0), 0);
  pm_reg_value v = {0};
  assert_int_equal(pm_regtree_get(t, SVC "MSExchangeMSMI\\Performance",
                                  "Library", &v), 0);
  assert_int_equal(v.type, PM_REG_SZ);
  char *s = pm_reg_value_str(&v);
  assert_string_equal(s, OLD "\\Bin\\Mtperf.dll");
  free(s);
  pm_reg_value_free(&v);
  pm_regtree_free(t);
  free(p);

  /* A second move is refused while this one is the current state? No:
   * it is complete, so --resume says so. */
  orch_options o;
  ot_move_options(&o);
  o.resume = true;
  pm_host *h = ot_open(dir);
  assert_int_equal(ot_move(h, &o), OT_DONE);
  pm_host_close(h);

  /* Rollback returns everything, byte for byte. */
  assert_int_equal(do_rollback(dir, true), OT_DONE);
  ot_snapshot s1;
  ot_snap(dir, &s1);
  ot_assert_same(&s0, &s1);
  assert_int_not_equal(tu_sh("test -e '%s/drives/D/ExchSrvr/Connect/Msmcon'",
                             dir), 0);
  assert_int_equal(tu_sh("test -f '%s/drives/C/exchsrvr/Connect/Msmcon/"
                         "Maildata/GLB/MASTER.GLB'", dir), 0);
  expect_service(dir, "MSExchangeMSMI", PM_SVC_RUNNING, OLD "\\Bin\\Mt.exe");
  assert_int_equal(do_rollback(dir, false), OT_DONE); /* already done */
  ot_snap_free(&s0);
  ot_snap_free(&s1);
  free(dir);
}

static void variant(const char *name, bool atmta, size_t npcmta,
                    const char *const *names) {
  char *dir = dir_of(name);
  orch_sim_options so;
  ot_sim_options(&so, dir);
  so.atmta = atmta;
  so.npcmta = npcmta;
  for (size_t i = 0; i < npcmta; i++) so.pcmta[i] = names[i];
  ot_make_host(&so);
  ot_snapshot s0;
  ot_snap(dir, &s0);
  char *before = ot_dump(dir);
  assert_int_equal(do_move(dir, "C:\\exchsrvr\\Connect\\Msmcon",
                           "D:\\ExchSrvr"),
                   OT_DONE);
  char *after = ot_dump(dir);
  /* MSMI: ImagePath, Library, 2 event-log values; ATMTA: ImagePath,
   * Library, 2 event-log values, Mac volume; PCMTA: Library (always), 2
   * event-log values when instances exist; per instance 3. */
  size_t want = 4 + (atmta ? 5 : 0) + 1 + (npcmta ? 2 : 0) + 3 * npcmta;
  assert_int_equal(changed_lines(before, after, NEW), want);
  assert_null(strstr(after, OLD));
  for (size_t i = 0; i < npcmta; i++) {
    char *k = pm_xasprintf(SVC "%s", names[i]);
    want_value(dir, k, "ImagePath", PM_REG_EXPAND_SZ,
                 NEW "\\Bin\\Pcmta.exe");
    free(k);
    expect_service(dir, names[i], PM_SVC_RUNNING, NEW "\\Bin\\Pcmta.exe");
  }
  pm_host *h = ot_open(dir);
  pm_svc_info si;
  assert_int_equal(h->svc->query(h, "MSExchangeATMTA", &si),
                   atmta ? 0 : PM_ENOENT);
  pm_host_close(h);
  expect_service(dir, "MSExchangeMSMI", PM_SVC_RUNNING, NEW "\\Bin\\Mt.exe");
  expect_share(dir, NEW "\\Maildata");
  assert_int_equal(do_rollback(dir, false), OT_DONE);
  ot_snapshot s1;
  ot_snap(dir, &s1);
  ot_assert_same(&s0, &s1);
  ot_snap_free(&s0);
  ot_snap_free(&s1);
  free(before);
  free(after);
  free(dir);
}

static void test_orch_move_no_atmta(void **state) {
  (void)state;
  const char *n[] = {"Legacy Mail Connector"};
  variant("noatmta", false, 1, n);
}

static void test_orch_move_zero_pcmta(void **state) {
  (void)state;
  variant("pcmta0", true, 0, NULL);
}

static void test_orch_move_one_pcmta(void **state) {
  (void)state;
  const char *n[] = {"MTA to Vancouver PO"};
  variant("pcmta1", true, 1, n);
}

static void test_orch_move_three_pcmta_with_spaces(void **state) {
  (void)state;
  const char *n[] = {"Legacy Mail Connector", "MTA to Vancouver PO",
                     "Branch Offices Of The North"};
  variant("pcmta3", true, 3, n);
}

static void test_orch_move_share_missing(void **state) {
  (void)state;
  char *dir = dir_of("noshare");
  orch_sim_options so;
  ot_sim_options(&so, dir);
  so.share = false;
  ot_make_host(&so);
  ot_snapshot s0;
  ot_snap(dir, &s0);
  assert_int_equal(do_move(dir, "C:\\exchsrvr", "D:"), OT_DONE);
  expect_share(dir, NULL);
  expect_service(dir, "MSExchangeMSMI", PM_SVC_RUNNING, NEW "\\Bin\\Mt.exe");
  assert_int_equal(do_rollback(dir, false), OT_DONE);
  ot_snapshot s1;
  ot_snap(dir, &s1);
  ot_assert_same(&s0, &s1);
  ot_snap_free(&s0);
  ot_snap_free(&s1);
  free(dir);
}

/* A refused destination changes nothing and leaves no move state. */
static void refused(const char *name, const char *fs, uint64_t free_bytes,
                    const char *to, void (*prep)(const char *dir)) {
  char *dir = dir_of(name);
  orch_sim_options so;
  ot_sim_options(&so, dir);
  so.dest_fs = fs;
  so.dest_free = free_bytes;
  ot_make_host(&so);
  if (prep) prep(dir);
  ot_snapshot s0;
  ot_snap(dir, &s0);
  assert_int_equal(do_move(dir, "C:\\exchsrvr", to), OT_REFUSED);
  ot_snapshot s1;
  ot_snap(dir, &s1);
  ot_assert_same(&s0, &s1);
  assert_int_not_equal(tu_sh("test -e '%s/pomove/current'", dir), 0);
  ot_snap_free(&s0);
  ot_snap_free(&s1);
  free(dir);
}

static void test_orch_move_fat_refused(void **state) {
  (void)state;
  refused("fat", "FAT", 0, "D:", NULL);
}

static void test_orch_move_no_room_refused(void **state) {
  (void)state;
  refused("noroom", "NTFS", 64 * 1024, "D:", NULL);
}

static void test_orch_move_inside_source_refused(void **state) {
  (void)state;
  refused("inside", "NTFS", 0, "C:\\exchsrvr\\Connect\\Msmcon\\New", NULL);
}

static void other_postoffice(const char *dir) {
  assert_int_equal(tu_sh("mkdir -p '%s/drives/D/ExchSrvr/Connect/Msmcon/"
                         "Maildata/GLB' && echo other > '%s/drives/D/ExchSrvr/"
                         "Connect/Msmcon/Maildata/GLB/MASTER.GLB'",
                         dir, dir),
                   0);
}

static void test_orch_move_other_postoffice_refused(void **state) {
  (void)state;
  refused("otherpo", "NTFS", 0, "D:", other_postoffice);
}

static void test_orch_move_type_kept(void **state) {
  (void)state;
  char *dir = dir_of("typekept");
  orch_sim_options so;
  ot_sim_options(&so, dir);
  ot_make_host(&so);
  /* This host has REG_SZ where the KB says REG_EXPAND_SZ. */
  pm_host *h = ot_open(dir);
  pm_reg_value v;
  pm_reg_value_set_str(&v, PM_REG_SZ, OLD "\\Bin\\Macgperf.dll");
  assert_int_equal(h->reg->set(h, SVC "MSExchangeATMTA\\Performance",
                               "Library", &v), 0);
  pm_reg_value_free(&v);
  /* And an ImagePath stored as REG_SZ, which the SCM would turn into
   * REG_EXPAND_SZ: the move must put the type back. */
  pm_reg_value_set_str(&v, PM_REG_SZ, OLD "\\Bin\\Pcmta.exe");
  assert_int_equal(h->reg->set(h, SVC "Legacy Mail Connector", "ImagePath",
                               &v), 0);
  pm_reg_value_free(&v);
  pm_host_close(h);
  ot_snapshot s0;
  ot_snap(dir, &s0);
  assert_int_equal(do_move(dir, "C:\\exchsrvr", "D:"), OT_DONE);
  want_value(dir, SVC "MSExchangeATMTA\\Performance", "Library", PM_REG_SZ,
               NEW "\\Bin\\Macgperf.dll");
  want_value(dir, SVC "Legacy Mail Connector", "ImagePath", PM_REG_SZ,
               NEW "\\Bin\\Pcmta.exe");
  want_value(dir, SVC "MSExchangeMSMI\\Performance", "Library", PM_REG_SZ,
               NEW "\\Bin\\Mtperf.dll");
  assert_int_equal(do_rollback(dir, false), OT_DONE);
  ot_snapshot s1;
  ot_snap(dir, &s1);
  ot_assert_same(&s0, &s1);
  ot_snap_free(&s0);
  ot_snap_free(&s1);
  free(dir);
}

static void test_orch_move_service_will_not_stop(void **state) {
  (void)state;
  char *dir = dir_of("nostop");
  orch_sim_options so;
  ot_sim_options(&so, dir);
  ot_make_host(&so);
  assert_int_equal(pm_sim_set_service_option(dir, "MTA to Vancouver PO",
                                             "stop", "ignore"), 0);
  ot_snapshot s0;
  ot_snap(dir, &s0);
  orch_options o;
  ot_kb_move_options(&o);
  o.stop_timeout_ms = 300;
  pm_host *h = ot_open(dir);
  assert_int_equal(ot_move(h, &o), OT_FAILED);
  pm_host_close(h);
  /* Nothing changed: the services stopped before it run again. */
  ot_snapshot s1;
  ot_snap(dir, &s1);
  ot_assert_same(&s0, &s1);
  expect_service(dir, "MSExchangeATMTA", PM_SVC_RUNNING, OLD "\\Bin\\Macgate.exe");
  assert_int_not_equal(tu_sh("test -e '%s/drives/D/ExchSrvr'", dir), 0);
  /* A move in progress blocks a new one; rollback closes it. */
  assert_int_equal(do_move(dir, "C:\\exchsrvr", "D:"), OT_REFUSED);
  assert_int_equal(do_rollback(dir, false), OT_DONE);
  ot_snapshot s2;
  ot_snap(dir, &s2);
  ot_assert_same(&s0, &s2);
  ot_snap_free(&s0);
  ot_snap_free(&s1);
  ot_snap_free(&s2);
  free(dir);
}

static void test_orch_move_plan_changes_nothing(void **state) {
  (void)state;
  char *dir = dir_of("plan");
  orch_sim_options so;
  ot_sim_options(&so, dir);
  ot_make_host(&so);
  ot_snapshot s0;
  ot_snap(dir, &s0);
  orch_options o;
  ot_kb_move_options(&o);
  o.dry_run = true;
  o.json = true;
  char *out = pm_xasprintf("%s/plan.json", ot_scratch());
  o.out = fopen(out, "w");
  pm_host *h = ot_open(dir);
  assert_int_equal(ot_move(h, &o), OT_DONE);
  pm_host_close(h);
  fclose(o.out);
  size_t len;
  char *json = tu_read_all(out, &len);
  assert_non_null(strstr(json, "\"name\":\"MSExchangeATMTA\",\"role\":\"atmta\""));
  assert_non_null(strstr(json, "\"sddl\":\"O:BAG:SYD:(A;;FA;;;WD)"));
  assert_non_null(strstr(json, "\"type\":\"REG_SZ\""));
  /* The stop order: ATMTA, the PC MTAs, MSMI last. */
  char *a = strstr(json, "MSExchangeATMTA\",\"role\"");
  char *m = strstr(json, "MSExchangeMSMI\",\"role\"");
  char *p = strstr(json, "Legacy Mail Connector\",\"role\"");
  assert_true(a && m && p && a < p && p < m);
  free(json);
  free(out);
  ot_snapshot s1;
  ot_snap(dir, &s1);
  ot_assert_same(&s0, &s1);
  assert_int_not_equal(tu_sh("test -e '%s/pomove/current'", dir), 0);
  ot_snap_free(&s0);
  ot_snap_free(&s1);
  free(dir);
}

static void test_orch_check_after_service_pack(void **state) {
  (void)state;
  char *dir = dir_of("check");
  orch_sim_options so;
  ot_sim_options(&so, dir);
  ot_make_host(&so);
  assert_int_equal(do_move(dir, "C:\\exchsrvr", "D:"), OT_DONE);
  orch_check_options co;
  memset(&co, 0, sizeof co);
  co.expect = "D:";
  co.stop_timeout_ms = co.start_timeout_ms = 5000;
  co.out = fopen("/dev/null", "w");
  pm_host *h = ot_open(dir);
  assert_int_equal(ot_check(h, &co), OT_DONE);
  /* What Q240208 describes: values back on C:, Maildat$ unshared, a newer
   * Bin at the default place. */
  pm_reg_value v;
  pm_reg_value_set_str(&v, PM_REG_EXPAND_SZ, OLD "\\Bin\\Mt.exe");
  assert_int_equal(h->svc->set_image_path(h, "MSExchangeMSMI",
                                          OLD "\\Bin\\Mt.exe"), 0);
  pm_reg_value_free(&v);
  pm_reg_value_set_str(&v, PM_REG_SZ, OLD "\\Bin\\Xtnperf.dll");
  assert_int_equal(h->reg->set(h, SVC "MSExchangePCMTA\\Performance",
                               "Library", &v), 0);
  pm_reg_value_free(&v);
  assert_int_equal(h->share->del(h, "Maildat$"), 0);
  pm_host_close(h);
  assert_int_equal(tu_sh("touch -d '2030-01-01' '%s/drives/C/exchsrvr/"
                         "Connect/Msmcon/Bin/Mt.exe'", dir), 0);
  h = ot_open(dir);
  assert_int_equal(ot_check(h, &co), OT_PARTIAL);
  co.repair = true;
  assert_int_equal(ot_check(h, &co), OT_DONE);
  co.repair = false;
  assert_int_equal(ot_check(h, &co), OT_DONE);
  pm_host_close(h);
  fclose(co.out);
  want_value(dir, SVC "MSExchangeMSMI", "ImagePath", PM_REG_EXPAND_SZ,
               NEW "\\Bin\\Mt.exe");
  want_value(dir, SVC "MSExchangePCMTA\\Performance", "Library", PM_REG_SZ,
               NEW "\\Bin\\Xtnperf.dll");
  expect_share(dir, NEW "\\Maildata");
  expect_service(dir, "MSExchangeMSMI", PM_SVC_RUNNING, NEW "\\Bin\\Mt.exe");
  assert_int_equal(tu_sh("cmp -s '%s/drives/C/exchsrvr/Connect/Msmcon/Bin/"
                         "Mt.exe' '%s/drives/D/ExchSrvr/Connect/Msmcon/Bin/"
                         "Mt.exe' && test ! '%s/drives/D/ExchSrvr/Connect/"
                         "Msmcon/Bin/Mt.exe' -ot '%s/drives/C/exchsrvr/"
                         "Connect/Msmcon/Bin/Mt.exe'",
                         dir, dir, dir, dir),
                   0);
  assert_int_equal(tu_sh("ls '%s'/pomove/check-*.reg >/dev/null", dir), 0);
  free(dir);
}

/* check --repair copies a newer Bin file over the moved one: a symlink
 * planted at the moved file's name is refused, and one at the temporary
 * name the repair used to write (<name>.pomove-tmp, opened with O_TRUNC)
 * is never written through. */
static void test_orch_check_repair_never_through_link(void **state) {
  (void)state;
  char *dir = dir_of("checklink");
  orch_sim_options so;
  ot_sim_options(&so, dir);
  ot_make_host(&so);
  assert_int_equal(do_move(dir, "C:\\exchsrvr", "D:"), OT_DONE);
  orch_check_options co;
  memset(&co, 0, sizeof co);
  co.expect = "D:";
  co.stop_timeout_ms = co.start_timeout_ms = 5000;
  co.out = fopen("/dev/null", "w");
  assert_int_equal(tu_sh("cd '%s' && printf keep > outside && "
                         "touch -d '2030-01-01' drives/C/exchsrvr/Connect/"
                         "Msmcon/Bin/Mt.exe && rm drives/D/ExchSrvr/Connect/"
                         "Msmcon/Bin/Mt.exe && ln -s \"$PWD/outside\" "
                         "drives/D/ExchSrvr/Connect/Msmcon/Bin/Mt.exe && ln -s "
                         "\"$PWD/outside\" drives/D/ExchSrvr/Connect/Msmcon/"
                         "Bin/Mt.exe.pomove-tmp",
                         dir),
                   0);
  pm_host *h = ot_open(dir);
  co.repair = true;
  pm_set_quiet(true);
  assert_int_not_equal(ot_check(h, &co), OT_DONE);
  pm_set_quiet(false);
  pm_host_close(h);
  fclose(co.out);
  assert_int_equal(tu_sh("cd '%s' && test \"$(cat outside)\" = keep && "
                         "test -L drives/D/ExchSrvr/Connect/Msmcon/Bin/Mt.exe "
                         "&& test -z \"$(ls drives/D/ExchSrvr/Connect/Msmcon/"
                         "Bin | grep tmp- )\"", dir),
                   0);
  free(dir);
}

/* A service started again between a failed step and --resume is stopped
 * before the copy: a running connector writes to the postoffice. */
static void test_orch_move_resume_restopped(void **state) {
  (void)state;
  char *dir = dir_of("restart");
  orch_sim_options so;
  ot_sim_options(&so, dir);
  ot_make_host(&so);
  orch_options o;
  ot_kb_move_options(&o);
  pm_host *h = ot_open(dir);
  /* Fail the first file-system side effect after "begin 3"
   * (create-target). */
  ot_move_failing_at_step(h, &o, 3, false, true);
  /* Someone starts the connector again. */
  assert_int_equal(h->svc->start(h, "MSExchangeMSMI"), 0);
  assert_int_equal(h->svc->wait(h, "MSExchangeMSMI", PM_SVC_RUNNING, 5000,
                                NULL), 0);
  o.resume = true;
  assert_int_equal(ot_move(h, &o), OT_DONE);
  pm_host_close(h);
  ot_assert_moved(dir);
  free(dir);
}

/* A value the registry step wrote and that is gone (or has another type)
 * when the move is resumed after start-services failed, as a crash and a
 * service manager that writes its own copy back can leave it: --resume
 * looks at the values, not only at the journal, and writes them again;
 * the post-check would not let the move end with one missing. */
static void test_orch_move_resume_value_gone(void **state) {
  (void)state;
  static const struct {
    const char *what;
    bool remove_it;
  } cases[] = {{"deleted", true}, {"retyped", false}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char *dir = dir_of(cases[c].what);
    orch_sim_options so;
    ot_sim_options(&so, dir);
    ot_make_host(&so);
    orch_options o;
    ot_kb_move_options(&o);
    pm_host *h = ot_open(dir);
    /* Fail the first host call after "begin 8" (start-services): the
     * registry step is journaled done. */
    ot_move_failing_at_step(h, &o, 8, true, false);
    assert_int_equal(tu_sh("grep -q '^[0-9]* done 6 ' '%s/pomove/current/"
                           "journal'",
                           dir),
                     0);
    const char *key = SVC "MSExchangeMSMI";
    if (cases[c].remove_it) {
      assert_int_equal(h->reg->del(h, key, "ImagePath"), 0);
    } else {
      pm_reg_value v = {0};
      assert_int_equal(h->reg->get(h, key, "ImagePath", &v), 0);
      v.type = PM_REG_SZ;
      assert_int_equal(h->reg->set(h, key, "ImagePath", &v), 0);
      pm_reg_value_free(&v);
    }
    o.resume = true;
    assert_int_equal(ot_move(h, &o), OT_DONE);
    pm_host_close(h);
    want_value(dir, key, "ImagePath", PM_REG_EXPAND_SZ, NEW "\\Bin\\Mt.exe");
    ot_assert_moved(dir);
    free(dir);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_orch_move_full, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_no_atmta, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_zero_pcmta, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_one_pcmta, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_three_pcmta_with_spaces, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_share_missing, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_fat_refused, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_no_room_refused, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_inside_source_refused, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_other_postoffice_refused, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_type_kept, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_service_will_not_stop, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_plan_changes_nothing, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_check_after_service_pack, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_check_repair_never_through_link, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_resume_restopped, ot_kill_hosts),
      cmocka_unit_test_teardown(test_orch_move_resume_value_gone, ot_kill_hosts),
  };
  return cmocka_run_group_tests(tests, ot_group_setup, ot_group_teardown);
}
