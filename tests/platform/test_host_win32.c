/* test_host_win32.c - the host backend `local` (platform/win32/
 * host_win32*.c) against the real registry and service control manager
 * (Wine's under the test runner), and its share table against a share
 * table of the test's own (Wine implements no NetShare*).
 *
 * Services: a throwaway service is created with CreateServiceW around
 * pm_test_service.exe (built beside this test), driven through the
 * table, and deleted at the end; its output file says from which path it
 * runs. Registry: a throwaway key under HKCU\Software. Nothing else of
 * the machine is changed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>
#include <lm.h>

#include <cmocka.h>

#include "host.h"
#include "host_win32.h"
#include "sys.h"
#include "testutil.h"
#include "util.h"

#define SERVICES_KEY "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services"

static pm_host *host;
static char regkey[128];      /* HKEY_CURRENT_USER\Software\pomove-test-N */
static wchar_t wregkey[128];  /* Software\pomove-test-N */
static char svc_name[64];     /* pomove-test-svc-N */
static wchar_t wsvc_name[64];
static char dir[MAX_PATH * 2]; /* scratch, '/' separators */

static wchar_t *wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  wchar_t *w = malloc((size_t)n * sizeof *w);
  MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
  return w;
}

static char *backslashes(const char *s) {
  char *c = strdup(s);
  for (char *p = c; *p; p++)
    if (*p == '/') *p = '\\';
  return c;
}

static int setup(void **state) {
  (void)state;
  int rc = pm_host_open("local", &host);
  if (rc < 0) {
    print_error("pm_host_open(local): %s (OS error %d)\n", pm_strerror(rc),
                pm_oserr_last());
    return -1;
  }
  unsigned long pid = GetCurrentProcessId();
  snprintf(regkey, sizeof regkey, "HKEY_CURRENT_USER\\Software\\pomove-test-%lu",
           pid);
  swprintf(wregkey, 128, L"Software\\pomove-test-%lu", pid);
  snprintf(svc_name, sizeof svc_name, "pomove-test-svc-%lu", pid);
  swprintf(wsvc_name, 64, L"pomove-test-svc-%lu", pid);
  snprintf(dir, sizeof dir, "%s", tu_scratch());
  return 0;
}

static int teardown(void **state) {
  (void)state;
  pm_host_close(host);
  tu_cleanup();
  return 0;
}

/* ---- The registry ---- */

static void set_raw(const char *name, uint32_t type, const void *data,
                    size_t len, pm_reg_value *v) {
  v->type = type;
  v->len = len;
  v->data = len ? malloc(len) : NULL;
  if (len) memcpy(v->data, data, len);
  (void)name;
}

static void test_host_win32_registry(void **state) {
  (void)state;
  HKEY k, sub;
  assert_int_equal(RegCreateKeyExW(HKEY_CURRENT_USER, wregkey, 0, NULL, 0,
                                   KEY_ALL_ACCESS, NULL, &k, NULL),
                   ERROR_SUCCESS);
  assert_int_equal(RegCreateKeyExW(k, L"Performance", 0, NULL, 0,
                                   KEY_ALL_ACCESS, NULL, &sub, NULL),
                   ERROR_SUCCESS);
  RegCloseKey(sub);

  /* Every type, and bytes Windows would never write itself (a REG_SZ
   * without its NUL, a REG_DWORD of 3 bytes): read back identical. */
  struct {
    const char *name;
    pm_reg_value v;
  } vals[9];
  memset(vals, 0, sizeof vals);
  vals[0].name = "ImagePath";
  pm_reg_value_set_str(&vals[0].v, PM_REG_EXPAND_SZ,
                       "C:\\exchsrvr\\Connect\\Msmcon\\Bin\\Mt.exe");
  vals[1].name = "Library";
  pm_reg_value_set_str(&vals[1].v, PM_REG_SZ, "D:\\Bin\\Mtperf.dll é");
  vals[2].name = "DependOnService";
  {
    pm_strlist l = {0};
    pm_strlist_add(&l, "EventLog");
    pm_strlist_add(&l, "MSExchangeDS");
    pm_reg_value_set_multi(&vals[2].v, &l);
    pm_strlist_free(&l);
  }
  vals[3].name = "Start";
  pm_reg_value_set_dword(&vals[3].v, 3);
  vals[4].name = "Binary";
  set_raw("Binary", PM_REG_BINARY, "\x00\x01\xfe\xff", 4, &vals[4].v);
  vals[5].name = "Qword";
  set_raw("Qword", PM_REG_QWORD, "\x01\x02\x03\x04\x05\x06\x07\x08", 8,
          &vals[5].v);
  vals[6].name = "";
  set_raw("", PM_REG_NONE, NULL, 0, &vals[6].v);
  vals[7].name = "NoNul";
  set_raw("NoNul", PM_REG_SZ, "a\0b\0", 4, &vals[7].v);
  vals[8].name = "Odd dword";
  set_raw("Odd dword", PM_REG_DWORD, "\x01\x02\x03", 3, &vals[8].v);
  size_t nv = sizeof vals / sizeof vals[0];
  for (size_t i = 0; i < nv; i++)
    assert_int_equal(host->reg->set(host, regkey, vals[i].name, &vals[i].v),
                     0);
  for (size_t i = 0; i < nv; i++) {
    pm_reg_value got;
    assert_int_equal(host->reg->get(host, regkey, vals[i].name, &got), 0);
    if (!pm_reg_value_equal(&got, &vals[i].v))
      fail_msg("value '%s': type %u len %u, want type %u len %u",
               vals[i].name, got.type, (unsigned)got.len, vals[i].v.type,
               (unsigned)vals[i].v.len);
    pm_reg_value_free(&got);
  }
  /* And what RegQueryValueExW says of one of them, without the table. */
  DWORD type = 0, len = 0;
  assert_int_equal(RegQueryValueExW(k, L"ImagePath", NULL, &type, NULL, &len),
                   ERROR_SUCCESS);
  assert_int_equal(type, REG_EXPAND_SZ);
  assert_int_equal(len, vals[0].v.len);

  pm_strlist names = {0};
  assert_int_equal(host->reg->values(host, regkey, &names), 0);
  assert_int_equal(names.n, nv);
  for (size_t i = 0; i < nv; i++) {
    bool found = false;
    for (size_t j = 0; j < names.n; j++)
      if (!strcmp(names.v[j], vals[i].name)) found = true;
    if (!found) fail_msg("value '%s' not listed", vals[i].name);
  }
  pm_strlist_free(&names);
  assert_int_equal(host->reg->subkeys(host, regkey, &names), 0);
  assert_int_equal(names.n, 1);
  assert_string_equal(names.v[0], "Performance");
  pm_strlist_free(&names);
  /* HKCU\ is the same key. */
  char shortkey[160];
  snprintf(shortkey, sizeof shortkey, "HKCU\\%s", regkey + 18);
  pm_reg_value got;
  assert_int_equal(host->reg->get(host, shortkey, "Start", &got), 0);
  assert_true(pm_reg_value_equal(&got, &vals[3].v));
  pm_reg_value_free(&got);

  /* Missing things. */
  assert_int_equal(host->reg->get(host, regkey, "absent", &got), PM_ENOENT);
  assert_int_equal(pm_oserr_last(), ERROR_FILE_NOT_FOUND);
  char missing[200];
  snprintf(missing, sizeof missing, "%s\\NoSuchKey", regkey);
  /* set never creates a key (host.h). */
  assert_int_equal(host->reg->set(host, missing, "x", &vals[3].v), PM_ENOENT);
  assert_int_equal(host->reg->subkeys(host, regkey, &names), 0);
  assert_int_equal(names.n, 1);
  pm_strlist_free(&names);
  assert_int_equal(host->reg->values(host, missing, &names), PM_ENOENT);
  assert_int_equal(host->reg->get(host, "HKEY_NOWHERE\\x", "y", &got),
                   PM_EINVAL);

  /* Delete. */
  assert_int_equal(host->reg->del(host, regkey, "Binary"), 0);
  assert_int_equal(host->reg->get(host, regkey, "Binary", &got), PM_ENOENT);
  assert_int_equal(host->reg->del(host, regkey, "Binary"), PM_ENOENT);

  for (size_t i = 0; i < nv; i++) pm_reg_value_free(&vals[i].v);
  RegDeleteKeyW(k, L"Performance");
  RegCloseKey(k);
  RegDeleteKeyW(HKEY_CURRENT_USER, wregkey);
}

/* ---- Services ---- */

/* The folder of this test (pm_test_service.exe is built beside it). */
static void test_dir(wchar_t *out, size_t cap) {
  DWORD n = GetModuleFileNameW(NULL, out, (DWORD)cap);
  assert_true(n > 0 && n < cap);
  wchar_t *sl = wcsrchr(out, L'\\');
  assert_non_null(sl);
  *sl = 0;
}

/* The file the service writes: its first line is the path it runs
 * from. Waits up to 10 s for a count above `after`; returns the count. */
static unsigned long service_output(const char *path, char *self,
                                    size_t cap, unsigned long after) {
  for (int i = 0; i < 200; i++) {
    FILE *f = fopen(path, "rb");
    if (f) {
      char buf[MAX_PATH * 4 + 64];
      size_t n = fread(buf, 1, sizeof buf - 1, f);
      fclose(f);
      buf[n] = '\0';
      char *nl = strchr(buf, '\n');
      if (nl) {
        *nl = '\0';
        unsigned long c = strtoul(nl + 1, NULL, 10);
        if (c > after) {
          snprintf(self, cap, "%s", buf);
          return c;
        }
      }
    }
    Sleep(50);
  }
  return 0;
}

static SC_HANDLE create_service(const wchar_t *image) {
  SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_ALL_ACCESS);
  assert_non_null(scm);
  SC_HANDLE s = CreateServiceW(
      scm, wsvc_name, wsvc_name, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
      SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL, image, NULL, NULL,
      L"PlugPlay\0", NULL, NULL);
  if (!s) fail_msg("CreateServiceW: %lu", GetLastError());
  CloseServiceHandle(scm);
  return s;
}

static void remove_service(SC_HANDLE s) {
  SERVICE_STATUS st;
  ControlService(s, SERVICE_CONTROL_STOP, &st);
  DeleteService(s);
  CloseServiceHandle(s);
}

static void test_host_win32_services(void **state) {
  (void)state;
  wchar_t tdir[MAX_PATH + 1];
  test_dir(tdir, MAX_PATH + 1);
  char out_file[MAX_PATH * 2];
  snprintf(out_file, sizeof out_file, "%s/svc.out", dir);
  char *out_bs = backslashes(out_file);
  wchar_t *wout = wide(out_bs);
  wchar_t image[MAX_PATH * 3];
  swprintf(image, MAX_PATH * 3, L"\"%ls\\pm_test_service.exe\" \"%ls\"", tdir,
           wout);
  SC_HANDLE s = create_service(image);
  char *image_u;
  {
    int n = WideCharToMultiByte(CP_UTF8, 0, image, -1, NULL, 0, NULL, NULL);
    image_u = malloc((size_t)n);
    WideCharToMultiByte(CP_UTF8, 0, image, -1, image_u, n, NULL, NULL);
  }

  /* Listed, and queried as created; the dependency comes from the SCM or,
   * under Wine, from DependOnService. */
  pm_strlist names = {0};
  assert_int_equal(host->svc->list(host, &names), 0);
  assert_true(names.n > 0);
  bool listed = false;
  for (size_t i = 0; i < names.n; i++)
    if (!pm_wstrcasecmp(names.v[i], svc_name)) listed = true;
  assert_true(listed);
  pm_strlist_free(&names);
  pm_svc_info si;
  assert_int_equal(host->svc->query(host, svc_name, &si), 0);
  assert_string_equal(si.name, svc_name);
  assert_string_equal(si.image_path, image_u);
  assert_int_equal(si.type, SERVICE_WIN32_OWN_PROCESS);
  assert_int_equal(si.start_type, SERVICE_DEMAND_START);
  assert_string_equal(si.deps, "PlugPlay");
  assert_int_equal(si.deps[strlen(si.deps) + 1], '\0');
  assert_int_equal(si.state, PM_SVC_STOPPED);
  /* Any spelling of the name reaches it; the answer has the SCM's. */
  char upper[64];
  snprintf(upper, sizeof upper, "%s", svc_name);
  for (char *p = upper; *p; p++)
    if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 32);
  assert_int_equal(host->svc->query(host, upper, &si), 0);
  assert_string_equal(si.name, svc_name);
  assert_int_equal(host->svc->query(host, "pomove-no-such-service", &si),
                   PM_ENOENT);
  assert_int_equal(pm_oserr_last(), ERROR_SERVICE_DOES_NOT_EXIST);

  /* Stopping a stopped service is refused with the SCM's code. */
  assert_int_equal(host->svc->stop(host, svc_name), PM_ESTATE);
  assert_int_equal(pm_oserr_last(), ERROR_SERVICE_NOT_ACTIVE);

  /* Start: RUNNING, and really running (it writes its file). */
  assert_int_equal(host->svc->start(host, svc_name), 0);
  pm_svc_state seen = PM_SVC_UNKNOWN;
  assert_int_equal(
      host->svc->wait(host, svc_name, PM_SVC_RUNNING, 20000, &seen), 0);
  assert_int_equal(seen, PM_SVC_RUNNING);
  char self[MAX_PATH * 4];
  unsigned long c1 = service_output(out_file, self, sizeof self, 0);
  assert_true(c1 > 0);
  char want_self[MAX_PATH * 4];
  {
    wchar_t w[MAX_PATH * 2];
    swprintf(w, MAX_PATH * 2, L"%ls\\pm_test_service.exe", tdir);
    WideCharToMultiByte(CP_UTF8, 0, w, -1, want_self, sizeof want_self, NULL,
                        NULL);
  }
  assert_true(pm_wstrcasecmp(self, want_self) == 0);
  assert_int_equal(host->svc->query(host, svc_name, &si), 0);
  assert_int_equal(si.state, PM_SVC_RUNNING);
  assert_int_equal(host->svc->start(host, svc_name), PM_ESTATE);
  assert_int_equal(pm_oserr_last(), ERROR_SERVICE_ALREADY_RUNNING);

  /* A wait for a state that does not come: bounded, and Ctrl-C (the
   * interrupt flag) ends it at once. */
  uint64_t t0 = pm_now_ns();
  assert_int_equal(
      host->svc->wait(host, svc_name, PM_SVC_STOPPED, 300, &seen),
      PM_ETIMEDOUT);
  assert_int_equal(seen, PM_SVC_RUNNING);
  uint64_t took = pm_now_ns() - t0;
  assert_true(took >= 250000000u && took < 3000000000u);
  atomic_store(pm_interrupt_flag(), 1);
  t0 = pm_now_ns();
  assert_int_equal(
      host->svc->wait(host, svc_name, PM_SVC_STOPPED, 60000, &seen),
      PM_ECANCELED);
  assert_true(pm_now_ns() - t0 < 2000000000u);
  atomic_store(pm_interrupt_flag(), 0);

  /* Stop. */
  assert_int_equal(host->svc->stop(host, svc_name), 0);
  assert_int_equal(
      host->svc->wait(host, svc_name, PM_SVC_STOPPED, 20000, &seen), 0);
  assert_int_equal(host->svc->query(host, svc_name, &si), 0);
  assert_int_equal(si.state, PM_SVC_STOPPED);
  assert_int_equal(si.pid, 0);

  /* A new ImagePath through the SCM, a copy of the program in another
   * folder: the value keeps REG_EXPAND_SZ (Wine's SCM writes REG_SZ)
   * and the service then runs from there. */
  char key[200];
  snprintf(key, sizeof key, "%s\\%s", SERVICES_KEY, svc_name);
  pm_reg_value v;
  assert_int_equal(host->reg->get(host, key, "ImagePath", &v), 0);
  pm_reg_value ev;
  char *img = pm_reg_value_str(&v);
  pm_reg_value_set_str(&ev, PM_REG_EXPAND_SZ, img);
  free(img);
  pm_reg_value_free(&v);
  assert_int_equal(host->reg->set(host, key, "ImagePath", &ev), 0);
  pm_reg_value_free(&ev);
  char newdir[MAX_PATH * 2];
  snprintf(newdir, sizeof newdir, "%s/new Bin", dir);
  char *newdir_bs = backslashes(newdir);
  wchar_t *wnewdir = wide(newdir_bs);
  assert_true(CreateDirectoryW(wnewdir, NULL));
  wchar_t from[MAX_PATH * 2], to[MAX_PATH * 2];
  swprintf(from, MAX_PATH * 2, L"%ls\\pm_test_service.exe", tdir);
  swprintf(to, MAX_PATH * 2, L"%ls\\pm_test_service.exe", wnewdir);
  assert_true(CopyFileW(from, to, TRUE));
  char *newimage = pm_xasprintf("\"%s\\pm_test_service.exe\" \"%s\"",
                                newdir_bs, out_bs);
  assert_int_equal(host->svc->set_image_path(host, svc_name, newimage), 0);
  assert_int_equal(host->reg->get(host, key, "ImagePath", &v), 0);
  assert_int_equal(v.type, PM_REG_EXPAND_SZ);
  img = pm_reg_value_str(&v);
  assert_string_equal(img, newimage);
  free(img);
  pm_reg_value_free(&v);
  assert_int_equal(host->svc->query(host, svc_name, &si), 0);
  assert_string_equal(si.image_path, newimage);
  /* A REG_SZ ImagePath stays REG_SZ. */
  pm_reg_value_set_str(&ev, PM_REG_SZ, newimage);
  assert_int_equal(host->reg->set(host, key, "ImagePath", &ev), 0);
  pm_reg_value_free(&ev);
  assert_int_equal(host->svc->set_image_path(host, svc_name, newimage), 0);
  assert_int_equal(host->reg->get(host, key, "ImagePath", &v), 0);
  assert_int_equal(v.type, PM_REG_SZ);
  pm_reg_value_free(&v);

  DeleteFileA(out_bs);
  assert_int_equal(host->svc->start(host, svc_name), 0);
  assert_int_equal(
      host->svc->wait(host, svc_name, PM_SVC_RUNNING, 20000, &seen), 0);
  assert_true(service_output(out_file, self, sizeof self, 0) > 0);
  char *want_new = pm_xasprintf("%s\\pm_test_service.exe", newdir_bs);
  if (pm_wstrcasecmp(self, want_new))
    fail_msg("runs from '%s', want '%s'", self, want_new);
  free(want_new);
  /* It keeps writing while it runs. */
  unsigned long c2 = service_output(out_file, self, sizeof self, 0);
  assert_true(service_output(out_file, self, sizeof self, c2) > c2);
  assert_int_equal(host->svc->stop(host, svc_name), 0);
  assert_int_equal(
      host->svc->wait(host, svc_name, PM_SVC_STOPPED, 20000, &seen), 0);

  /* An image that is not there: the SCM's file-not-found. */
  char *gone = pm_xasprintf("\"%s\\missing.exe\" x", newdir_bs);
  assert_int_equal(host->svc->set_image_path(host, svc_name, gone), 0);
  int rc = host->svc->start(host, svc_name);
  assert_int_equal(rc, PM_ENOENT);
  free(gone);

  /* A service that fails at start: the wait ends with its exit code,
   * not at the timeout. */
  char *failing = pm_xasprintf("\"%s\\pm_test_service.exe\" \"%s\" fail",
                               newdir_bs, out_bs);
  assert_int_equal(host->svc->set_image_path(host, svc_name, failing), 0);
  free(failing);
  /* (StartServiceW itself succeeds: the process started and connected.) */
  assert_int_equal(host->svc->start(host, svc_name), 0);
  t0 = pm_now_ns();
  rc = host->svc->wait(host, svc_name, PM_SVC_RUNNING, 20000, &seen);
  assert_int_equal(rc, PM_EIO);
  assert_int_equal(pm_oserr_last(), ERROR_EXCEPTION_IN_SERVICE);
  assert_int_equal(seen, PM_SVC_STOPPED);
  assert_true(pm_now_ns() - t0 < 10000000000ull);

  /* One that will not stop: stop is accepted, the wait times out. */
  char *nostop = pm_xasprintf("\"%s\\pm_test_service.exe\" \"%s\" nostop",
                              newdir_bs, out_bs);
  assert_int_equal(host->svc->set_image_path(host, svc_name, nostop), 0);
  free(nostop);
  assert_int_equal(host->svc->start(host, svc_name), 0);
  assert_int_equal(
      host->svc->wait(host, svc_name, PM_SVC_RUNNING, 20000, &seen), 0);
  assert_int_equal(host->svc->stop(host, svc_name), 0);
  assert_int_equal(
      host->svc->wait(host, svc_name, PM_SVC_STOPPED, 1500, &seen),
      PM_ETIMEDOUT);
  assert_int_equal(seen, PM_SVC_RUNNING);

  /* Ends the stubborn one: its process is killed by the test. */
  assert_int_equal(host->svc->query(host, svc_name, &si), 0);
  if (si.pid) {
    HANDLE p = OpenProcess(PROCESS_TERMINATE, FALSE, si.pid);
    if (p) {
      TerminateProcess(p, 1);
      CloseHandle(p);
    }
  }
  host->svc->wait(host, svc_name, PM_SVC_STOPPED, 10000, &seen);
  remove_service(s);
  free(newimage);
  free(wnewdir);
  free(newdir_bs);
  free(image_u);
  free(wout);
  free(out_bs);
}

/* ---- Volumes and the state folder ---- */

static void test_host_win32_volumes(void **state) {
  (void)state;
  /* The state folder: "<common application data>/pomove", whose parent
   * exists (SHGetFolderPathW answers under Wine). */
  size_t sl = strlen(host->state_dir);
  assert_true(sl > 7);
  assert_string_equal(host->state_dir + sl - 7, "/pomove");
  char *parent = strdup(host->state_dir);
  parent[sl - 7] = '\0';
  char *parent_bs = backslashes(parent);
  wchar_t *wp = wide(parent_bs);
  DWORD attrs = GetFileAttributesW(wp);
  assert_true(attrs != INVALID_FILE_ATTRIBUTES &&
              (attrs & FILE_ATTRIBUTE_DIRECTORY));
  free(wp);
  free(parent_bs);
  free(parent);

  pm_vol_info vi;
  assert_int_equal(host->vol->info(host, "C:", &vi), 0);
  assert_true(vi.fs_type[0] != '\0');
  assert_true(vi.total_bytes > 0);
  assert_true(vi.free_bytes <= vi.total_bytes);
  /* A folder that does not exist yet lies on its drive all the same. */
  assert_int_equal(host->vol->info(host, "c:\\no\\such\\ExchSrvr", &vi), 0);
  assert_int_equal(host->vol->info(host, "relative\\path", &vi), PM_EINVAL);

  /* Native paths: '/' separators, each existing component as stored. */
  char buf[1024];
  wchar_t win[MAX_PATH + 1];
  GetWindowsDirectoryW(win, MAX_PATH + 1);
  char winu[MAX_PATH * 4];
  WideCharToMultiByte(CP_UTF8, 0, win, -1, winu, sizeof winu, NULL, NULL);
  char lower[MAX_PATH * 4];
  snprintf(lower, sizeof lower, "%s", winu);
  for (char *p = lower; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
  char *arg = pm_xasprintf("%s\\.\\\\NotThere\\Sub", lower);
  assert_int_equal(host->vol->native_path(host, arg, buf, sizeof buf), 0);
  char *want = pm_xasprintf("%s/NotThere/Sub", winu);
  for (char *p = want; *p; p++)
    if (*p == '\\') *p = '/';
  /* The drive letter is kept as given; the rest as stored. */
  assert_string_equal(buf + 1, want + 1);
  free(want);
  free(arg);
  assert_int_equal(host->vol->native_path(host, "D:", buf, sizeof buf), 0);
  assert_string_equal(buf, "D:/");
  assert_int_equal(host->vol->native_path(host, "C:\\a\\..\\b", buf,
                                          sizeof buf),
                   PM_EINVAL);
  assert_int_equal(host->vol->native_path(host, "C:\\x", buf, 4),
                   PM_ENAMETOOLONG);
}

/* ---- Shares, through a table of the test's own ---- */

typedef struct fake_share {
  wchar_t name[80], path[260], remark[260];
  DWORD type, max_uses;
  BYTE sd[512];
  DWORD sd_len;
} fake_share;

static fake_share fakes[8];
static int nfakes;
static int fake_fail_add; /* the next add fails with this code */

static fake_share *fake_find(const wchar_t *name) {
  for (int i = 0; i < nfakes; i++)
    if (!_wcsicmp(fakes[i].name, name)) return &fakes[i];
  return NULL;
}

static NET_API_STATUS WINAPI fake_get(LPWSTR server, LPWSTR name, DWORD level,
                                      LPBYTE *buf) {
  (void)server;
  if (level != 502) return ERROR_INVALID_LEVEL;
  fake_share *f = fake_find(name);
  if (!f) return NERR_NetNameNotFound;
  SHARE_INFO_502 *si = calloc(1, sizeof *si + sizeof f->sd);
  si->shi502_netname = f->name;
  si->shi502_path = f->path;
  si->shi502_remark = f->remark;
  si->shi502_type = f->type;
  si->shi502_max_uses = f->max_uses;
  si->shi502_current_uses = 3;
  if (f->sd_len) {
    memcpy(si + 1, f->sd, f->sd_len);
    si->shi502_security_descriptor = si + 1;
  }
  *buf = (LPBYTE)si;
  return NERR_Success;
}

static NET_API_STATUS WINAPI fake_add(LPWSTR server, DWORD level, LPBYTE buf,
                                      LPDWORD parm_err) {
  (void)server;
  (void)parm_err;
  if (level != 502) return ERROR_INVALID_LEVEL;
  if (fake_fail_add) {
    NET_API_STATUS e = (NET_API_STATUS)fake_fail_add;
    fake_fail_add = 0;
    return e;
  }
  SHARE_INFO_502 *si = (SHARE_INFO_502 *)buf;
  if (fake_find(si->shi502_netname)) return NERR_DuplicateShare;
  fake_share *f = &fakes[nfakes++];
  memset(f, 0, sizeof *f);
  wcscpy(f->name, si->shi502_netname);
  wcscpy(f->path, si->shi502_path);
  wcscpy(f->remark, si->shi502_remark ? si->shi502_remark : L"");
  f->type = si->shi502_type;
  f->max_uses = si->shi502_max_uses;
  if (si->shi502_security_descriptor) {
    if (!IsValidSecurityDescriptor(si->shi502_security_descriptor))
      return ERROR_INVALID_SECURITY_DESCR;
    f->sd_len = GetSecurityDescriptorLength(si->shi502_security_descriptor);
    memcpy(f->sd, si->shi502_security_descriptor, f->sd_len);
  }
  return NERR_Success;
}

static NET_API_STATUS WINAPI fake_del(LPWSTR server, LPWSTR name,
                                      DWORD reserved) {
  (void)server;
  (void)reserved;
  fake_share *f = fake_find(name);
  if (!f) return NERR_NetNameNotFound;
  *f = fakes[--nfakes];
  return NERR_Success;
}

static NET_API_STATUS WINAPI fake_enum(LPWSTR server, DWORD level, LPBYTE *buf,
                                       DWORD pref, LPDWORD read, LPDWORD total,
                                       LPDWORD resume) {
  (void)server;
  (void)pref;
  (void)resume;
  if (level != 1) return ERROR_INVALID_LEVEL;
  SHARE_INFO_1 *si = calloc((size_t)nfakes + 2, sizeof *si);
  DWORD n = 0;
  for (int i = 0; i < nfakes; i++, n++) {
    si[n].shi1_netname = fakes[i].name;
    si[n].shi1_type = fakes[i].type;
    si[n].shi1_remark = fakes[i].remark;
  }
  /* IPC$ is no disk share: not listed by the table. */
  static wchar_t ipc[] = L"IPC$";
  si[n].shi1_netname = ipc;
  si[n].shi1_type = STYPE_IPC | STYPE_SPECIAL;
  n++;
  *read = *total = n;
  *buf = (LPBYTE)si;
  return NERR_Success;
}

static NET_API_STATUS WINAPI fake_free(LPVOID buf) {
  free(buf);
  return NERR_Success;
}

static const pmw_share_api fake_api = {fake_get, fake_add, fake_del,
                                       fake_enum, fake_free, "the test's"};

static void test_host_win32_shares(void **state) {
  (void)state;
  /* Under Wine the real NetShare* answer "not supported" or "no such
   * share" for any name: either way a clean error, never a crash. */
  pm_share_info sh;
  int rc = host->share->get(host, "Maildat$", &sh);
  if (rc != 0) assert_true(rc == PM_ENOTSUP || rc == PM_ENOENT);

  pmw_host_set_share_api(host, &fake_api);
  nfakes = 0;
  /* A descriptor as NetShareGetInfo hands it out: self-relative bytes,
   * here built by SDDL in the test (Everyone and Administrators full
   * control, as Q147376 describes). */
  PSECURITY_DESCRIPTOR sd = NULL;
  ULONG sdlen = 0;
  typedef BOOL(WINAPI * conv_fn)(LPCWSTR, DWORD, PSECURITY_DESCRIPTOR *,
                                 PULONG);
  conv_fn conv = (conv_fn)(void (*)(void))GetProcAddress(
      GetModuleHandleW(L"advapi32.dll"),
      "ConvertStringSecurityDescriptorToSecurityDescriptorW");
  assert_non_null(conv);
  assert_true(conv(L"O:BAG:SYD:(A;;FA;;;WD)(A;;FA;;;BA)", 1, &sd, &sdlen));
  fake_share *f = &fakes[nfakes++];
  memset(f, 0, sizeof *f);
  wcscpy(f->name, L"Maildat$");
  wcscpy(f->path, L"C:\\exchsrvr\\Connect\\Msmcon\\Maildata");
  wcscpy(f->remark, L"Access for MSMI postoffice");
  f->type = STYPE_DISKTREE;
  f->max_uses = 10;
  memcpy(f->sd, sd, sdlen);
  f->sd_len = sdlen;

  pm_strlist names = {0};
  assert_int_equal(host->share->list(host, &names), 0);
  assert_int_equal(names.n, 1);
  assert_string_equal(names.v[0], "Maildat$");
  pm_strlist_free(&names);
  assert_int_equal(host->share->get(host, "maildat$", &sh), 0);
  assert_string_equal(sh.name, "Maildat$");
  assert_string_equal(sh.path, "C:\\exchsrvr\\Connect\\Msmcon\\Maildata");
  assert_string_equal(sh.remark, "Access for MSMI postoffice");
  assert_int_equal(sh.type, STYPE_DISKTREE);
  assert_int_equal(sh.max_uses, 10);
  /* The descriptor as its bytes in hex. */
  assert_int_equal(strlen(sh.sddl), 4 + 2 * sdlen);
  assert_memory_equal(sh.sddl, "hex:", 4);
  char hex[3];
  snprintf(hex, sizeof hex, "%02x", ((BYTE *)sd)[0]);
  assert_memory_equal(sh.sddl + 4, hex, 2);

  /* Removed and added again elsewhere with the same remark, limit and
   * descriptor: byte for byte the same. */
  assert_int_equal(host->share->del(host, "Maildat$"), 0);
  assert_int_equal(host->share->get(host, "Maildat$", &sh), PM_ENOENT);
  assert_int_equal(pm_oserr_last(), NERR_NetNameNotFound);
  assert_int_equal(host->share->del(host, "Maildat$"), PM_ENOENT);
  pm_share_info moved;
  assert_int_equal(host->share->get(host, "x", &moved), PM_ENOENT);
  memset(&moved, 0, sizeof moved);
  snprintf(moved.name, sizeof moved.name, "Maildat$");
  snprintf(moved.path, sizeof moved.path, "D:\\ExchSrvr\\Connect\\Msmcon\\Maildata");
  snprintf(moved.remark, sizeof moved.remark, "Access for MSMI postoffice");
  moved.max_uses = 10;
  moved.type = STYPE_DISKTREE;
  /* The hex the table read before the del. */
  {
    char buf[PM_HOST_TEXT_MAX];
    assert_int_equal(pmw_sd_format(sd, buf, sizeof buf), 0);
    snprintf(moved.sddl, sizeof moved.sddl, "%s", buf);
  }
  assert_int_equal(host->share->add(host, &moved), 0);
  assert_int_equal(host->share->add(host, &moved), PM_EEXIST);
  assert_int_equal(pm_oserr_last(), NERR_DuplicateShare);
  assert_int_equal(nfakes, 1);
  assert_int_equal(fakes[0].sd_len, sdlen);
  assert_memory_equal(fakes[0].sd, sd, sdlen);
  assert_true(wcscmp(fakes[0].path, L"D:\\ExchSrvr\\Connect\\Msmcon\\Maildata") == 0);

  /* SDDL text is taken too (check --repair's default share), and so is
   * no descriptor at all. */
  snprintf(moved.name, sizeof moved.name, "Other$");
  snprintf(moved.sddl, sizeof moved.sddl, "D:(A;;FA;;;WD)");
  assert_int_equal(host->share->add(host, &moved), 0);
  assert_true(fakes[1].sd_len > 0);
  snprintf(moved.name, sizeof moved.name, "Plain");
  moved.sddl[0] = '\0';
  assert_int_equal(host->share->add(host, &moved), 0);
  assert_int_equal(fakes[2].sd_len, 0);
  assert_int_equal(host->share->get(host, "Plain", &sh), 0);
  assert_string_equal(sh.sddl, "");
  /* Damaged descriptors are refused before the table sees them. */
  snprintf(moved.name, sizeof moved.name, "Bad");
  snprintf(moved.sddl, sizeof moved.sddl, "hex:0100");
  assert_int_equal(host->share->add(host, &moved), PM_EINVAL);
  snprintf(moved.sddl, sizeof moved.sddl, "hex:01zz");
  assert_int_equal(host->share->add(host, &moved), PM_EINVAL);
  assert_int_equal(nfakes, 3);
  /* The table's own failure comes back with its code. */
  moved.sddl[0] = '\0';
  fake_fail_add = ERROR_ACCESS_DENIED;
  assert_int_equal(host->share->add(host, &moved), PM_EACCES);
  assert_int_equal(pm_oserr_last(), ERROR_ACCESS_DENIED);

  LocalFree(sd);
  pmw_host_set_share_api(host, NULL);
}

/* ---- Shares kept in a file (local:shares=FILE) ---- */

static void test_host_win32_share_file(void **state) {
  (void)state;
  char path[MAX_PATH * 2], maildata[MAX_PATH * 2];
  snprintf(path, sizeof path, "%s/shares.txt", dir);
  snprintf(maildata, sizeof maildata, "%s/Maildata", dir);
  char *maildata_bs = backslashes(maildata);
  wchar_t *wm = wide(maildata_bs);
  CreateDirectoryW(wm, NULL);
  free(wm);
  char *spec = pm_xasprintf("local:shares=%s", path);
  pm_host *fh;
  assert_int_equal(pm_host_open(spec, &fh), 0);
  free(spec);
  pm_strlist names = {0};
  /* No file yet: no share. */
  assert_int_equal(fh->share->list(fh, &names), 0);
  pm_share_info sh, got;
  memset(&sh, 0, sizeof sh);
  snprintf(sh.name, sizeof sh.name, "Maildat$");
  snprintf(sh.path, sizeof sh.path, "%s", maildata_bs);
  snprintf(sh.remark, sizeof sh.remark, "Access for MSMI postoffice\t%%");
  sh.max_uses = 0xFFFFFFFFu;
  snprintf(sh.sddl, sizeof sh.sddl, "D:(A;;FA;;;WD)(A;;FA;;;BA)");
  assert_int_equal(fh->share->add(fh, &sh), 0);
  assert_int_equal(fh->share->add(fh, &sh), PM_EEXIST);
  assert_int_equal(fh->share->list(fh, &names), 0);
  assert_int_equal(names.n, 1);
  assert_string_equal(names.v[0], "Maildat$");
  pm_strlist_free(&names);
  assert_int_equal(fh->share->get(fh, "MAILDAT$", &got), 0);
  assert_string_equal(got.path, sh.path);
  assert_string_equal(got.remark, sh.remark);
  assert_int_equal(got.max_uses, 0xFFFFFFFFu);
  /* What NetShareAdd was given comes back as bytes, and adding those
   * bytes again stores the same text. */
  assert_memory_equal(got.sddl, "hex:", 4);
  assert_int_equal(fh->share->del(fh, "Maildat$"), 0);
  assert_int_equal(fh->share->get(fh, "Maildat$", &sh), PM_ENOENT);
  assert_int_equal(fh->share->add(fh, &got), 0);
  pm_share_info again;
  assert_int_equal(fh->share->get(fh, "Maildat$", &again), 0);
  assert_string_equal(again.sddl, got.sddl);
  /* A folder that does not exist cannot be shared. */
  snprintf(sh.name, sizeof sh.name, "Nowhere");
  snprintf(sh.path, sizeof sh.path, "%s\\no such folder", maildata_bs);
  assert_int_equal(fh->share->add(fh, &sh), PM_ENOENT);
  /* A failure the test asks for, with its code. */
  FILE *f = fopen(path, "ab");
  assert_non_null(f);
  fputs("!fail\tadd\t5\n", f);
  fclose(f);
  snprintf(sh.name, sizeof sh.name, "Other");
  snprintf(sh.path, sizeof sh.path, "%s", maildata_bs);
  assert_int_equal(fh->share->add(fh, &sh), PM_EACCES);
  assert_int_equal(pm_oserr_last(), ERROR_ACCESS_DENIED);
  /* The failure line survives a change by another call. */
  assert_int_equal(fh->share->del(fh, "Maildat$"), 0);
  assert_int_equal(fh->share->add(fh, &sh), PM_EACCES);
  pm_host_close(fh);
  free(maildata_bs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_host_win32_registry),
      cmocka_unit_test(test_host_win32_services),
      cmocka_unit_test(test_host_win32_volumes),
      cmocka_unit_test(test_host_win32_shares),
      cmocka_unit_test(test_host_win32_share_file),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
