/* simcreate.c - the sample simulated host: an Exchange 5.5 server as
 * ../shared/DOMAIN.md describes it. C: (FAT) holds C:\exchsrvr with the
 * generated connector postoffice in Connect\Msmcon; D: (NTFS by default)
 * is empty for the move. The registry has MSExchangeMSMI, MSExchangeATMTA,
 * the PC MTA instances, MSExchangePCMTA's performance object, their
 * event-log sources and the Macintosh volume, with the KB's value types;
 * Maildat$ is shared with its default remark and an SD granting Everyone,
 * Administrators and the service account full control; the connector
 * services run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "gen_postoffice.h"
#include "orch.h"
#include "simcreate.h"
#include "sys.h"
#include "util.h"

#define MSMCON "C:\\exchsrvr\\Connect\\Msmcon"
#define SERVICE_ACCOUNT "CORP\\ExchService"
#define SERVICE_SID "S-1-5-21-1085031214-1563985344-725345543-1105"

static const char *const default_pcmta[] = {
    "Legacy Mail Connector", "MTA to Vancouver PO", "MTA to Boston PO",
    "Branch Offices",        "Downtown Postoffice"};

void orch_sim_options_init(orch_sim_options *o) {
  memset(o, 0, sizeof *o);
  o->files = 1000;
  o->seed = 1;
  o->atmta = true;
  o->share = true;
  o->pcmta[0] = default_pcmta[0];
  o->pcmta[1] = default_pcmta[1];
  o->npcmta = 2;
  o->dest_fs = "NTFS";
  o->cfg.start_delay_ms = 400;
  o->cfg.stop_delay_ms = 600;
  o->cfg.touch_ms = 200;
}

const char *orch_sim_default_pcmta(size_t i) {
  return i < sizeof default_pcmta / sizeof default_pcmta[0] ? default_pcmta[i]
                                                            : NULL;
}

static void sz(pm_regtree *t, const char *key, const char *name, uint32_t type,
               const char *data) {
  pm_reg_value v;
  pm_reg_value_set_str(&v, type, data);
  pm_regtree_set(t, key, name, &v);
  pm_reg_value_free(&v);
}

static void dw(pm_regtree *t, const char *key, const char *name, uint32_t d) {
  pm_reg_value v;
  pm_reg_value_set_dword(&v, d);
  pm_regtree_set(t, key, name, &v);
  pm_reg_value_free(&v);
}

static void multi(pm_regtree *t, const char *key, const char *name,
                  const char *const *items, size_t n) {
  pm_strlist l = {0};
  for (size_t i = 0; i < n; i++) pm_strlist_add(&l, items[i]);
  pm_reg_value v;
  pm_reg_value_set_multi(&v, &l);
  pm_regtree_set(t, key, name, &v);
  pm_reg_value_free(&v);
  pm_strlist_free(&l);
}

/* A service key as the SCM writes one. */
static char *service(pm_regtree *t, const char *name, const char *display,
                     uint32_t type, const char *image,
                     const char *const *deps, size_t ndeps,
                     const char *account) {
  char *k = pm_xasprintf("%s\\%s", ORCH_SERVICES_KEY, name);
  dw(t, k, "Type", type);
  dw(t, k, "Start", 2);
  dw(t, k, "ErrorControl", 1);
  sz(t, k, "ImagePath", PM_REG_EXPAND_SZ, image);
  sz(t, k, "DisplayName", PM_REG_SZ, display);
  if (ndeps) multi(t, k, "DependOnService", deps, ndeps);
  if (account) sz(t, k, "ObjectName", PM_REG_SZ, account);
  return k;
}

static void perf(pm_regtree *t, const char *svc_key, uint32_t lib_type,
                 const char *lib, const char *prefix, uint32_t first) {
  char *k = pm_xasprintf("%s\\Performance", svc_key);
  sz(t, k, "Library", lib_type, lib);
  char *s = pm_xasprintf("Open%sPerformanceData", prefix);
  sz(t, k, "Open", PM_REG_SZ, s);
  free(s);
  s = pm_xasprintf("Collect%sPerformanceData", prefix);
  sz(t, k, "Collect", PM_REG_SZ, s);
  free(s);
  s = pm_xasprintf("Close%sPerformanceData", prefix);
  sz(t, k, "Close", PM_REG_SZ, s);
  free(s);
  dw(t, k, "First Counter", first);
  dw(t, k, "First Help", first + 1);
  free(k);
}

static void event_source(pm_regtree *t, const char *name, const char *dll) {
  char *k = pm_xasprintf("%s\\%s", ORCH_EVENTLOG_KEY, name);
  char *path = pm_xasprintf(MSMCON "\\Bin\\%s", dll);
  sz(t, k, "EventMessageFile", PM_REG_EXPAND_SZ, path);
  sz(t, k, "CategoryMessageFile", PM_REG_EXPAND_SZ, path);
  dw(t, k, "CategoryCount", 6);
  dw(t, k, "TypesSupported", 7);
  free(path);
  free(k);
}

static int write_file(const pm_fs *fs, const char *path,
                      const char *text) {
  int rc = pm_file_write_atomic(fs, path, text, strlen(text), 0644, 0);
  if (rc < 0) pm_report_error("write", path, rc);
  return rc;
}

static int mkdir_p(const pm_fs *fs, const char *path) {
  int rc = pm_file_mkdirs(fs, path, 0755, NULL);
  if (rc < 0) pm_report_error("create folder", path, rc);
  return rc;
}

/* A plain recursive copy (mode and times kept) of a template tree. */
static int copy_tree(const pm_fs *fs, const char *src, const char *dst) {
  pm_stat st;
  int rc = pm_fs_stat(fs, src, false, &st);
  if (rc < 0) {
    pm_report_error("stat", src, rc);
    return rc;
  }
  if (st.type == PM_T_DIR) {
    rc = pm_fs_mkdir(fs, dst, 0755);
    if (rc < 0 && rc != PM_EEXIST) {
      pm_report_error("create folder", dst, rc);
      return rc;
    }
    pm_dir *d;
    rc = pm_fs_opendir(fs, src, &d);
    if (rc < 0) {
      pm_report_error("read folder", src, rc);
      return rc;
    }
    pm_strlist names = {0};
    pm_dirent e;
    while ((rc = pm_fs_readdir(fs, d, &e)) > 0)
      if (strcmp(e.name, ".") && strcmp(e.name, ".."))
        pm_strlist_add(&names, e.name);
    pm_fs_closedir(fs, d);
    for (size_t i = 0; i < names.n && rc >= 0; i++) {
      char *a = pm_path_join(src, names.v[i]), *b = pm_path_join(dst, names.v[i]);
      rc = copy_tree(fs, a, b);
      free(a);
      free(b);
    }
    pm_strlist_free(&names);
    if (rc >= 0) rc = pm_fs_utimes(fs, dst, &st.atime, &st.mtime, true);
    return rc < 0 ? rc : 0;
  }
  if (st.type != PM_T_FILE) return 0;
  rc = pm_file_copy(fs, src, dst, 0);
  if (rc < 0) pm_report_error("copy", src, rc);
  return rc;
}

static void build_registry(pm_regtree *t, const orch_sim_options *o) {
  static const char *const ds_deps[] = {"EventLog"};
  static const char *const msmi_deps[] = {"MSExchangeDS", "EventLog"};
  static const char *const atmta_deps[] = {"EventLog", "MSExchangeMSMI",
                                           "LanmanServer"};
  static const char *const pcmta_deps[] = {"EventLog"};
  char *k;
  k = service(t, "EventLog", "EventLog", 0x20,
              "%SystemRoot%\\system32\\services.exe", NULL, 0, NULL);
  free(k);
  k = pm_xstrdup(ORCH_EVENTLOG_KEY);
  sz(t, k, "File", PM_REG_EXPAND_SZ,
     "%SystemRoot%\\system32\\config\\AppEvent.Evt");
  dw(t, k, "MaxSize", 0x80000);
  free(k);
  event_source(t, "MSExchangeMSMI", "Mtmsg.dll");
  if (o->atmta) event_source(t, "MSExchangeATMTA", "Mtmsg.dll");
  if (o->npcmta) event_source(t, "MSExchangePCMTA", "Xtnmsg.dll");
  for (size_t i = 0; i < o->npcmta; i++)
    event_source(t, o->pcmta[i], "Xtnmsg.dll");
  k = service(t, "LanmanServer", "Server", 0x20,
              "%SystemRoot%\\system32\\services.exe", NULL, 0, NULL);
  free(k);
  if (o->atmta) {
    k = service(t, "MacFile", "File Server for Macintosh", 0x10,
                "%SystemRoot%\\system32\\sfmsvc.exe", NULL, 0, NULL);
    free(k);
    char *vk = pm_xstrdup(ORCH_MACVOL_KEY);
    const char *const mail[] = {"MaxUses=4294967295", "Properties=32768",
                                "Password=",
                                "Path=" MSMCON "\\Maildata"};
    multi(t, vk, "Exchange Mail", mail, 4);
    const char *const pub[] = {"MaxUses=4294967295", "Properties=32768",
                               "Password=", "Path=C:\\Public"};
    multi(t, vk, "Public", pub, 4);
    free(vk);
  }
  k = service(t, "MSExchangeDS", "Microsoft Exchange Directory", 0x10,
              "C:\\exchsrvr\\bin\\dsamain.exe", ds_deps, 1,
              SERVICE_ACCOUNT);
  free(k);
  k = service(t, "MSExchangeIS", "Microsoft Exchange Information Store",
              0x10, "C:\\exchsrvr\\bin\\store.exe", ds_deps, 1,
              SERVICE_ACCOUNT);
  free(k);
  k = service(t, "MSExchangeMSMI", "Microsoft Exchange Connector for MS Mail",
              0x10, MSMCON "\\Bin\\Mt.exe", msmi_deps, 2, SERVICE_ACCOUNT);
  perf(t, k, PM_REG_SZ, MSMCON "\\Bin\\Mtperf.dll", "Mt", 1900);
  free(k);
  if (o->atmta) {
    k = service(t, "MSExchangeATMTA",
                "Microsoft Exchange Connector for AppleTalk Networks", 0x10,
                MSMCON "\\Bin\\Macgate.exe", atmta_deps, 3,
                SERVICE_ACCOUNT);
    perf(t, k, PM_REG_EXPAND_SZ, MSMCON "\\Bin\\Macgperf.dll", "Macg",
         1950);
    free(k);
  }
  k = pm_xasprintf("%s\\MSExchangePCMTA", ORCH_SERVICES_KEY);
  perf(t, k, PM_REG_SZ, MSMCON "\\Bin\\Xtnperf.dll", "Xtn", 2000);
  free(k);
  for (size_t i = 0; i < o->npcmta; i++) {
    k = service(t, o->pcmta[i], o->pcmta[i], 0x10,
                MSMCON "\\Bin\\Pcmta.exe", pcmta_deps, 1, SERVICE_ACCOUNT);
    char *pk = pm_xasprintf("%s\\Parameters", k);
    const char *const drives[] = {"\\\\MAILSRV1\\MAILDATA /Z",
                                  "\\\\MAILSRV2\\POSTOFF /Y"};
    multi(t, pk, "DrivesUNC", drives, 2);
    dw(t, pk, "LogLevel", 1);
    free(pk);
    free(k);
  }
  k = pm_xstrdup(ORCH_SETUP_KEY);
  sz(t, k, "Services", PM_REG_SZ, "C:\\exchsrvr");
  sz(t, k, "ServicesFile", PM_REG_SZ, "C:\\exchsrvr");
  free(k);
}

static int start_wait(pm_host *h, const char *name) {
  int rc = h->svc->start(h, name);
  if (rc == 0) rc = h->svc->wait(h, name, PM_SVC_RUNNING, 60000, NULL);
  if (rc < 0) pm_report_error("start simulated service", name, rc);
  return rc;
}

int orch_sim_create(const orch_sim_options *o) {
  const pm_fs *fs = o->fs ? o->fs : pm_fs_native();
  int rc = pm_sim_init(o->dir, &o->cfg);
  if (rc == PM_EEXIST) {
    pm_report_errorf(rc, "sim-create: %s exists and is not empty", o->dir);
    return rc;
  }
  if (rc < 0) {
    pm_report_error("create simulated host", o->dir, rc);
    return rc;
  }
  rc = pm_sim_add_drive(o->dir, 'C', "FAT", 0);
  if (rc == 0) rc = pm_sim_add_drive(o->dir, 'D', o->dest_fs, o->dest_free);
  if (rc < 0) {
    pm_report_error("declare simulated drives", o->dir, rc);
    return rc;
  }
  char *c = pm_xasprintf("%s/drives/C", o->dir);
  char *connect = pm_xasprintf("%s/exchsrvr/Connect", c);
  char *msmcon = pm_xasprintf("%s/Msmcon", connect);
  char *sys32 = pm_xasprintf("%s/WINNT/system32", c);
  char *exbin = pm_xasprintf("%s/exchsrvr/bin", c);
  char *pub = pm_xasprintf("%s/Public", c);
  rc = mkdir_p(fs, connect);
  if (rc == 0) rc = mkdir_p(fs, sys32);
  if (rc == 0) rc = mkdir_p(fs, exbin);
  if (rc == 0) rc = mkdir_p(fs, pub);
  const char *const stubs[][2] = {{"WINNT/system32/services.exe", "MZ"},
                                  {"WINNT/system32/sfmsvc.exe", "MZ"},
                                  {"exchsrvr/bin/dsamain.exe", "MZ"},
                                  {"exchsrvr/bin/store.exe", "MZ"}};
  for (size_t i = 0; i < 4 && rc == 0; i++) {
    char *p = pm_path_join(c, stubs[i][0]);
    rc = write_file(fs, p, stubs[i][1]);
    free(p);
  }
  if (rc == 0 && o->postoffice) {
    rc = copy_tree(fs, o->postoffice, msmcon);
  } else if (rc == 0) {
    po_gen_options g;
    po_gen_options_init(&g);
    g.root = msmcon;
    g.files = o->files;
    g.seed = o->seed;
    g.with_bin = true;
    g.with_macgate = o->atmta;
    g.quiet = true;
    po_gen_stats gs;
    rc = po_generate(&g, &gs);
  }
  /* Ctrl-C: no registry and no services for a half-made postoffice. */
  if (rc == 0 && pm_interrupted()) rc = PM_ECANCELED;
  /* The PC MTA program, in case the generator's Bin has none. */
  if (rc == 0 && o->npcmta) {
    char *p = pm_path_join(msmcon, "Bin/Pcmta.exe");
    pm_stat st;
    if (pm_fs_stat(fs, p, true, &st) == PM_ENOENT)
      rc = write_file(fs, p, "MZ pcmta");
    free(p);
  }
  free(sys32);
  free(exbin);
  free(pub);
  free(connect);
  free(c);
  if (rc < 0) {
    free(msmcon);
    return rc;
  }

  pm_regtree *t = pm_regtree_new();
  build_registry(t, o);
  char *rp = pm_xasprintf("%s/registry.reg", o->dir);
  rc = pm_regtree_save(fs, rp, t);
  if (rc < 0) pm_report_error("write simulated registry", rp, rc);
  free(rp);
  pm_regtree_free(t);
  if (rc < 0) {
    free(msmcon);
    return rc;
  }

  char *spec = pm_xasprintf("sim:%s", o->dir);
  pm_host *h;
  rc = pm_host_open(spec, &h);
  free(spec);
  if (rc < 0) {
    pm_report_error("open simulated host", o->dir, rc);
    free(msmcon);
    return rc;
  }
  pm_share_info sh;
  memset(&sh, 0, sizeof sh);
  snprintf(sh.name, sizeof sh.name, "C$");
  snprintf(sh.path, sizeof sh.path, "C:\\");
  snprintf(sh.remark, sizeof sh.remark, "Default share");
  sh.max_uses = 0xFFFFFFFFu;
  snprintf(sh.sddl, sizeof sh.sddl, "O:BAG:SYD:(A;;FA;;;BA)");
  rc = h->share->add(h, &sh);
  if (rc == 0 && o->share) {
    snprintf(sh.name, sizeof sh.name, "Maildat$");
    snprintf(sh.path, sizeof sh.path, "%s", MSMCON "\\Maildata");
    snprintf(sh.remark, sizeof sh.remark, "Access for MSMI postoffice");
    snprintf(sh.sddl, sizeof sh.sddl,
             "O:BAG:SYD:(A;;FA;;;WD)(A;;FA;;;BA)(A;;FA;;;" SERVICE_SID ")");
    rc = h->share->add(h, &sh);
  }
  if (rc < 0) pm_report_error("add simulated share", sh.name, rc);
  const char *sys[] = {"EventLog", "LanmanServer", "MSExchangeDS",
                       "MSExchangeIS", "MacFile"};
  for (size_t i = 0; i < 5 && rc == 0; i++) {
    if (!strcmp(sys[i], "MacFile") && !o->atmta) continue;
    rc = pm_sim_mark_running(h, sys[i]);
    if (rc < 0) pm_report_error("mark simulated service running", sys[i], rc);
  }
  if (rc == 0) rc = start_wait(h, "MSExchangeMSMI");
  if (rc == 0 && o->atmta) rc = start_wait(h, "MSExchangeATMTA");
  for (size_t i = 0; i < o->npcmta && rc == 0; i++)
    rc = start_wait(h, o->pcmta[i]);
  pm_host_close(h);
  free(msmcon);
  return rc;
}
