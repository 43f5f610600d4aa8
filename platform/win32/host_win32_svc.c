/* host_win32_svc.c - the service table of the host backend `local`
 * (host.h pm_svc_ops) on the service control manager: EnumServicesStatusW,
 * QueryServiceConfigW, QueryServiceStatus, ControlService(STOP),
 * StartServiceW and ChangeServiceConfigW, all of them NT 3.1's.
 * QueryServiceStatusEx (Windows 2000) is only looked up, for the process
 * id; NT 4.0 reports none.
 *
 * Two things the SCM does not always say are read from the service's
 * registry key: its dependencies, where lpDependencies comes back empty
 * (Wine never returns them; DependOnService and DependOnGroup are what
 * the SCM itself reads at boot), and the type of its ImagePath, which
 * ChangeServiceConfigW replaces (Wine writes REG_SZ, Windows
 * REG_EXPAND_SZ): the type the value had is written back. Waits poll the
 * status with a bound and give way to Ctrl-C (pm_interrupted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>

#include "host_win32.h"
#include "sys.h"
#include "util.h"
#include "win32.h"

#define SERVICES_KEY "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services"

int pmw_host_fail(DWORD code) {
  int err;
  switch (code) {
  case ERROR_SERVICE_DOES_NOT_EXIST:
  case NERR_NetNameNotFound:
  case NERR_UnknownDevDir:
    err = PM_ENOENT;
    break;
  case ERROR_DEPENDENT_SERVICES_RUNNING:
    err = PM_EBUSY;
    break;
  case ERROR_SERVICE_NOT_ACTIVE:
  case ERROR_SERVICE_ALREADY_RUNNING:
  case ERROR_SERVICE_DEPENDENCY_FAIL:
  case ERROR_SERVICE_DEPENDENCY_DELETED:
  case ERROR_SERVICE_DISABLED:
  case ERROR_SERVICE_MARKED_FOR_DELETE:
  case ERROR_SERVICE_CANNOT_ACCEPT_CTRL:
  case ERROR_SERVICE_DATABASE_LOCKED:
  case NERR_ServerNotStarted:
    err = PM_ESTATE;
    break;
  case ERROR_SERVICE_EXISTS:
  case NERR_DuplicateShare:
    err = PM_EEXIST;
    break;
  case ERROR_SERVICE_REQUEST_TIMEOUT:
    err = PM_ETIMEDOUT;
    break;
  case ERROR_INVALID_SECURITY_DESCR:
  case ERROR_INVALID_SERVICE_CONTROL:
    err = PM_EINVAL;
    break;
  default:
    return pmw_fail(code);
  }
  pm_oserr_record(err, (int)code);
  return err;
}

static int open_service(pm_host *h, const char *name, DWORD access,
                        SC_HANDLE *out) {
  pmw_host *c = h->ctx;
  wchar_t *w;
  PM_TRY(pmw_to_wide(name, (size_t)-1, &w, NULL));
  *out = OpenServiceW(c->scm, w, access);
  DWORD e = GetLastError();
  free(w);
  return *out ? 0 : pmw_host_fail(e);
}

static int svc_list(pm_host *h, pm_strlist *names) {
  pmw_host *c = h->ctx;
  DWORD resume = 0, need = 0, got = 0, cap = 64 * 1024;
  BYTE *buf = pm_xmalloc(cap);
  int rc = 0;
  for (;;) {
    BOOL ok = EnumServicesStatusW(c->scm, SERVICE_WIN32, SERVICE_STATE_ALL,
                                  (ENUM_SERVICE_STATUSW *)buf, cap, &need,
                                  &got, &resume);
    DWORD e = ok ? ERROR_SUCCESS : GetLastError();
    if (!ok && e != ERROR_MORE_DATA) {
      rc = pmw_host_fail(e);
      break;
    }
    ENUM_SERVICE_STATUSW *s = (ENUM_SERVICE_STATUSW *)buf;
    for (DWORD i = 0; i < got && rc == 0; i++) {
      char *u;
      rc = pmw_to_utf8(s[i].lpServiceName, (size_t)-1, &u, NULL);
      if (rc == 0) pm_strlist_add(names, u);
      free(u);
    }
    if (ok || rc < 0) break;
    /* More to come from `resume`; grow when not even one entry fitted. */
    if (got == 0) {
      if (need <= cap) {
        rc = pmw_host_fail(ERROR_MORE_DATA);
        break;
      }
      cap = need;
      buf = pm_xrealloc(buf, cap);
    }
  }
  free(buf);
  return rc < 0 ? rc : 0;
}

static pm_svc_state state_of(DWORD s) {
  switch (s) {
  case SERVICE_STOPPED: return PM_SVC_STOPPED;
  case SERVICE_START_PENDING: return PM_SVC_START_PENDING;
  case SERVICE_STOP_PENDING: return PM_SVC_STOP_PENDING;
  /* A paused service (or one pausing or continuing) has its process and
   * its files open: for stopping and starting it counts as running, and
   * SERVICE_CONTROL_STOP stops it. */
  case SERVICE_RUNNING:
  case SERVICE_CONTINUE_PENDING:
  case SERVICE_PAUSE_PENDING:
  case SERVICE_PAUSED: return PM_SVC_RUNNING;
  default: return PM_SVC_UNKNOWN;
  }
}

typedef BOOL(WINAPI *query_ex_fn)(SC_HANDLE, SC_STATUS_TYPE, LPBYTE, DWORD,
                                  LPDWORD);

/* The state (and where Windows 2000's QueryServiceStatusEx exists, the
 * process id) of an open service. */
static int status_of(SC_HANDLE s, pm_svc_state *state, uint32_t *pid,
                     SERVICE_STATUS *raw) {
  static query_ex_fn query_ex;
  static int looked;
  if (!looked) {
    HMODULE adv = GetModuleHandleW(L"advapi32.dll");
    if (adv)
      query_ex = (query_ex_fn)(void (*)(void))GetProcAddress(
          adv, "QueryServiceStatusEx");
    looked = 1;
  }
  SERVICE_STATUS st;
  *state = PM_SVC_UNKNOWN;
  if (raw) memset(raw, 0, sizeof *raw);
  if (pid) *pid = 0;
  if (query_ex && pid) {
    SERVICE_STATUS_PROCESS sp;
    DWORD need;
    if (query_ex(s, SC_STATUS_PROCESS_INFO, (LPBYTE)&sp, sizeof sp, &need)) {
      *state = state_of(sp.dwCurrentState);
      *pid = *state == PM_SVC_STOPPED ? 0 : sp.dwProcessId;
      if (raw) {
        memset(raw, 0, sizeof *raw);
        raw->dwCurrentState = sp.dwCurrentState;
        raw->dwWin32ExitCode = sp.dwWin32ExitCode;
        raw->dwServiceSpecificExitCode = sp.dwServiceSpecificExitCode;
        raw->dwWaitHint = sp.dwWaitHint;
      }
      return 0;
    }
  }
  if (!QueryServiceStatus(s, &st)) return pmw_host_fail(GetLastError());
  *state = state_of(st.dwCurrentState);
  if (raw) *raw = st;
  return 0;
}

/* Appends the strings of a REG_MULTI_SZ (or a double-NUL list) to a
 * NUL-separated list in `deps` (size cap, `*n` used), each with `prefix`.
 * Returns false when it does not fit. */
static bool add_deps(char *deps, size_t cap, size_t *n, const wchar_t *list,
                     size_t units, const char *prefix) {
  size_t i = 0;
  while (i < units && list[i]) {
    size_t l = wcsnlen(list + i, units - i);
    char *u;
    if (pmw_to_utf8(list + i, l, &u, NULL) == 0) {
      size_t ul = strlen(prefix) + strlen(u);
      if (*n + ul + 2 > cap) {
        free(u);
        return false;
      }
      memcpy(deps + *n, prefix, strlen(prefix));
      memcpy(deps + *n + strlen(prefix), u, strlen(u) + 1);
      *n += ul + 1;
      free(u);
    }
    i += l + 1;
  }
  deps[*n] = '\0';
  return true;
}

/* DependOnService and DependOnGroup ("+group", as lpDependencies writes
 * groups) of the service's key. */
static void deps_from_registry(const char *name, char *deps, size_t cap) {
  char *key = pm_xasprintf("%s\\%s", SERVICES_KEY, name);
  HKEY k;
  size_t n = 0;
  deps[0] = '\0';
  if (pmw_reg_open(key, KEY_QUERY_VALUE, &k) == 0) {
    static const wchar_t *const names[] = {L"DependOnService",
                                           L"DependOnGroup"};
    for (int i = 0; i < 2; i++) {
      pm_reg_value v;
      if (pmw_reg_read(k, names[i], &v) == 0 && v.type == REG_MULTI_SZ &&
          v.len >= 2) {
        size_t units = v.len / 2;
        wchar_t *w = pm_xmalloc((units + 1) * sizeof *w);
        memcpy(w, v.data, units * 2);
        w[units] = 0;
        add_deps(deps, cap, &n, w, units, i ? "+" : "");
        free(w);
      }
      pm_reg_value_free(&v);
    }
    RegCloseKey(k);
  }
  free(key);
}

static int svc_query(pm_host *h, const char *name, pm_svc_info *out) {
  pmw_host *c = h->ctx;
  memset(out, 0, sizeof *out);
  SC_HANDLE s;
  PM_TRY(open_service(h, name, SERVICE_QUERY_CONFIG | SERVICE_QUERY_STATUS,
                      &s));
  DWORD need = 0, cap = 8192;
  QUERY_SERVICE_CONFIGW *cfg = pm_xmalloc(cap);
  BOOL ok = QueryServiceConfigW(s, cfg, cap, &need);
  if (!ok && GetLastError() == ERROR_INSUFFICIENT_BUFFER && need > cap) {
    cfg = pm_xrealloc(cfg, need);
    ok = QueryServiceConfigW(s, cfg, need, &need);
  }
  int rc = ok ? 0 : pmw_host_fail(GetLastError());
  if (rc == 0) {
    snprintf(out->name, sizeof out->name, "%s", name);
    /* The SCM's spelling of the name: the key name of its display name,
     * when that is this service. */
    if (cfg->lpDisplayName) {
      wchar_t key[PM_HOST_NAME_MAX];
      DWORD kl = PM_HOST_NAME_MAX;
      char *u;
      if (GetServiceKeyNameW(c->scm, cfg->lpDisplayName, key, &kl) &&
          pmw_to_utf8(key, (size_t)-1, &u, NULL) == 0) {
        if (!pm_wstrcasecmp(u, name))
          snprintf(out->name, sizeof out->name, "%s", u);
        free(u);
      }
    }
    char *img = NULL;
    if (cfg->lpBinaryPathName &&
        pmw_to_utf8(cfg->lpBinaryPathName, (size_t)-1, &img, NULL) == 0) {
      if (strlen(img) >= sizeof out->image_path)
        rc = pmw_fail(ERROR_INSUFFICIENT_BUFFER);
      else
        memcpy(out->image_path, img, strlen(img) + 1);
    }
    free(img);
    out->type = cfg->dwServiceType;
    out->start_type = cfg->dwStartType;
    size_t n = 0;
    if (cfg->lpDependencies && cfg->lpDependencies[0]) {
      size_t units = 0;
      while (cfg->lpDependencies[units] || cfg->lpDependencies[units + 1])
        units++;
      add_deps(out->deps, sizeof out->deps, &n, cfg->lpDependencies,
               units + 1, "");
    } else {
      /* Wine answers no dependencies although they are stored. */
      deps_from_registry(name, out->deps, sizeof out->deps);
    }
  }
  if (rc == 0) rc = status_of(s, &out->state, &out->pid, NULL);
  free(cfg);
  CloseServiceHandle(s);
  return rc;
}

static int svc_stop(pm_host *h, const char *name) {
  SC_HANDLE s;
  PM_TRY(open_service(h, name, SERVICE_STOP | SERVICE_QUERY_STATUS, &s));
  SERVICE_STATUS st;
  int rc = 0;
  if (!ControlService(s, SERVICE_CONTROL_STOP, &st)) {
    DWORD e = GetLastError();
    /* A stop already under way is what was asked for (as the simulator
     * answers). */
    pm_svc_state now = PM_SVC_UNKNOWN;
    if (e == ERROR_SERVICE_CANNOT_ACCEPT_CTRL &&
        status_of(s, &now, NULL, NULL) == 0 && now == PM_SVC_STOP_PENDING)
      rc = 0;
    else
      rc = pmw_host_fail(e);
  }
  CloseServiceHandle(s);
  return rc;
}

static int svc_start(pm_host *h, const char *name) {
  SC_HANDLE s;
  PM_TRY(open_service(h, name, SERVICE_START, &s));
  int rc = StartServiceW(s, 0, NULL) ? 0 : pmw_host_fail(GetLastError());
  CloseServiceHandle(s);
  return rc;
}

static int svc_wait(pm_host *h, const char *name, pm_svc_state want,
                    unsigned timeout_ms, pm_svc_state *seen) {
  SC_HANDLE s;
  PM_TRY(open_service(h, name, SERVICE_QUERY_STATUS, &s));
  uint64_t end = pm_now_ns() + (uint64_t)timeout_ms * 1000000u;
  int rc;
  for (;;) {
    pm_svc_state now = PM_SVC_UNKNOWN;
    SERVICE_STATUS st;
    memset(&st, 0, sizeof st);
    rc = status_of(s, &now, NULL, &st);
    if (rc < 0) break;
    if (seen) *seen = now;
    if (now == want) break;
    /* A start that failed: the service is stopped again with an exit
     * code, and waiting longer cannot make it run. */
    if (want == PM_SVC_RUNNING && now == PM_SVC_STOPPED &&
        st.dwWin32ExitCode != NO_ERROR &&
        st.dwWin32ExitCode != ERROR_SERVICE_NEVER_STARTED) {
      DWORD code = st.dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR
                       ? st.dwServiceSpecificExitCode
                       : st.dwWin32ExitCode;
      pm_oserr_record(PM_EIO, (int)code);
      rc = PM_EIO;
      break;
    }
    if (pm_interrupted()) {
      rc = pmw_fail(ERROR_CANCELLED);
      break;
    }
    uint64_t now_ns = pm_now_ns();
    if (now_ns >= end) {
      pm_oserr_record(PM_ETIMEDOUT, ERROR_TIMEOUT);
      rc = PM_ETIMEDOUT;
      break;
    }
    /* A tenth of the service's own wait hint, between 20 and 250 ms, as
     * Microsoft's service samples poll; never past the deadline. */
    DWORD nap = st.dwWaitHint / 10;
    if (nap < 20) nap = 20;
    if (nap > 250) nap = 250;
    uint64_t left_ms = (end - now_ns) / 1000000u + 1;
    if (nap > left_ms) nap = (DWORD)left_ms;
    Sleep(nap);
  }
  CloseServiceHandle(s);
  return rc;
}

static int svc_set_image_path(pm_host *h, const char *name,
                              const char *path) {
  /* The type ImagePath has now, to be kept. */
  char *key = pm_xasprintf("%s\\%s", SERVICES_KEY, name);
  DWORD type = REG_EXPAND_SZ;
  HKEY k;
  if (pmw_reg_open(key, KEY_QUERY_VALUE, &k) == 0) {
    pm_reg_value v;
    if (pmw_reg_read(k, L"ImagePath", &v) == 0 &&
        (v.type == REG_SZ || v.type == REG_EXPAND_SZ))
      type = v.type;
    pm_reg_value_free(&v);
    RegCloseKey(k);
  }
  SC_HANDLE s;
  wchar_t *w = NULL;
  int rc = open_service(h, name, SERVICE_CHANGE_CONFIG, &s);
  if (rc == 0) {
    rc = pmw_to_wide(path, (size_t)-1, &w, NULL);
    if (rc == 0 &&
        !ChangeServiceConfigW(s, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE,
                              SERVICE_NO_CHANGE, w, NULL, NULL, NULL, NULL,
                              NULL, NULL))
      rc = pmw_host_fail(GetLastError());
    CloseServiceHandle(s);
  }
  /* The SCM wrote the value with a type of its choosing: the one it had
   * goes back, with the SCM's bytes. */
  if (rc == 0 && pmw_reg_open(key, KEY_QUERY_VALUE | KEY_SET_VALUE, &k) == 0) {
    pm_reg_value v;
    if (pmw_reg_read(k, L"ImagePath", &v) == 0 && v.type != type) {
      LONG r = RegSetValueExW(k, L"ImagePath", 0, type, v.data, (DWORD)v.len);
      if (r != ERROR_SUCCESS) rc = pmw_fail((DWORD)r);
    }
    pm_reg_value_free(&v);
    RegCloseKey(k);
  }
  free(w);
  free(key);
  return rc;
}

const pm_svc_ops pmw_svc_ops = {svc_list,  svc_query, svc_stop,
                                svc_start, svc_wait,  svc_set_image_path};
