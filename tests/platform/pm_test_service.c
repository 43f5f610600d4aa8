/* pm_test_service.c - a small Windows service for the tests of the host
 * backend `local` (test_host_win32, and the end-to-end move under Wine):
 * the SCM starts it from its ImagePath
 *
 *   "<dir>\pm_test_service.exe" OUTFILE [MODE]
 *
 * and it connects through StartServiceCtrlDispatcherW, reports RUNNING
 * and, while it runs, rewrites OUTFILE every 50 ms with the path it runs
 * from (GetModuleFileNameW, as UTF-8) and a counter, holding the file
 * open between writes as a connector holds its postoffice files. On the
 * stop control it reports STOPPED. MODE "nostop": it accepts the stop
 * control and ignores it (a service that will not stop); "fail": it
 * reports STOPPED with exit code 1064 (ERROR_EXCEPTION_IN_SERVICE)
 * instead of RUNNING; "slow": it stays START_PENDING and STOP_PENDING
 * for 1.5 s each (a move then spends seconds in those steps). A relative OUTFILE is taken from the folder the
 * program runs from (so that a service moved with its postoffice writes
 * into the moved one).
 *
 * Run by hand, it is the tests' service tool (Wine's sc.exe cannot be
 * given an ImagePath with quotes and arguments through its command line):
 *   pm_test_service --install NAME IMAGE [DEPENDENCY...]
 *       CreateServiceW (own process, demand start, display name NAME),
 *       its ImagePath then REG_EXPAND_SZ as Windows' SCM writes it
 *   pm_test_service --start NAME     StartServiceW, waits for RUNNING
 *   pm_test_service --stop NAME      the stop control, waits for STOPPED
 *   pm_test_service --state NAME     prints STOPPED, RUNNING, ...
 *   pm_test_service --delete NAME    stops (or kills) and deletes it;
 *                                    a missing service is no error
 * each with exit 0 on success, 1 otherwise. Without arguments it exits 2. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status;
static HANDLE stop_event;
static char out_path[MAX_PATH * 4];
static char mode[32];

static void report(DWORD state, DWORD exit_code) {
  status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  status.dwCurrentState = state;
  status.dwControlsAccepted =
      state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP : 0;
  status.dwWin32ExitCode = exit_code;
  status.dwWaitHint = state == SERVICE_RUNNING ? 0 : 2000;
  SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI handler(DWORD control, DWORD type, LPVOID data,
                            LPVOID ctx) {
  (void)type;
  (void)data;
  (void)ctx;
  if (control == SERVICE_CONTROL_STOP) {
    if (strcmp(mode, "nostop") != 0) SetEvent(stop_event);
    return NO_ERROR;
  }
  if (control == SERVICE_CONTROL_INTERROGATE) return NO_ERROR;
  return ERROR_CALL_NOT_IMPLEMENTED;
}

static void write_out(HANDLE f, const char *self, unsigned long n) {
  char line[MAX_PATH * 4 + 64];
  int l = snprintf(line, sizeof line, "%s\n%lu\n", self, n);
  DWORD w;
  SetFilePointer(f, 0, NULL, FILE_BEGIN);
  WriteFile(f, line, (DWORD)l, &w, NULL);
  SetEndOfFile(f);
  FlushFileBuffers(f);
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv) {
  (void)argc;
  status_handle = RegisterServiceCtrlHandlerExW(argv[0], handler, NULL);
  if (!status_handle) return;
  report(SERVICE_START_PENDING, NO_ERROR);
  bool slow = !strcmp(mode, "slow");
  if (slow) Sleep(1500);
  if (!strcmp(mode, "fail")) {
    report(SERVICE_STOPPED, ERROR_EXCEPTION_IN_SERVICE);
    return;
  }
  wchar_t wself[MAX_PATH + 1];
  char self[MAX_PATH * 4];
  DWORD n = GetModuleFileNameW(NULL, wself, MAX_PATH + 1);
  int l = WideCharToMultiByte(CP_UTF8, 0, wself, (int)n, self,
                              sizeof self - 1, NULL, NULL);
  self[l > 0 ? l : 0] = '\0';
  HANDLE f = CreateFileA(out_path, GENERIC_WRITE,
                         FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                         OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
  report(SERVICE_RUNNING, NO_ERROR);
  unsigned long count = 0;
  do {
    if (f != INVALID_HANDLE_VALUE) write_out(f, self, ++count);
  } while (WaitForSingleObject(stop_event, 50) == WAIT_TIMEOUT);
  if (slow) {
    report(SERVICE_STOP_PENDING, NO_ERROR);
    Sleep(1500);
  }
  if (f != INVALID_HANDLE_VALUE) CloseHandle(f);
  report(SERVICE_STOPPED, NO_ERROR);
}

static wchar_t *wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  wchar_t *w = malloc((size_t)n * sizeof *w);
  MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
  return w;
}

static const char *state_name(DWORD s) {
  switch (s) {
  case SERVICE_STOPPED: return "STOPPED";
  case SERVICE_START_PENDING: return "START_PENDING";
  case SERVICE_STOP_PENDING: return "STOP_PENDING";
  case SERVICE_RUNNING: return "RUNNING";
  default: return "OTHER";
  }
}

static DWORD wait_state(SC_HANDLE s, DWORD want, DWORD ms) {
  SERVICE_STATUS st;
  memset(&st, 0, sizeof st);
  for (DWORD t = 0; t <= ms; t += 50) {
    if (!QueryServiceStatus(s, &st)) return 0;
    if (st.dwCurrentState == want) break;
    Sleep(50);
  }
  return st.dwCurrentState;
}

static int tool(int argc, char **argv) {
  const char *cmd = argv[1];
  if (argc < 3) return 2;
  SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_ALL_ACCESS);
  if (!scm) {
    fprintf(stderr, "OpenSCManagerW: %lu\n", GetLastError());
    return 1;
  }
  wchar_t *name = wide(argv[2]);
  int rc = 1;
  if (!strcmp(cmd, "--install") && argc >= 4) {
    wchar_t deps[2048];
    size_t n = 0;
    for (int i = 4; i < argc; i++) {
      wchar_t *d = wide(argv[i]);
      size_t l = wcslen(d);
      if (n + l + 2 < 2048) {
        memcpy(deps + n, d, (l + 1) * sizeof *d);
        n += l + 1;
      }
      free(d);
    }
    deps[n] = 0;
    wchar_t *image = wide(argv[3]);
    SC_HANDLE s = CreateServiceW(
        scm, name, name, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
        SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL, image, NULL, NULL,
        n ? deps : NULL, NULL, NULL);
    if (!s) {
      fprintf(stderr, "CreateServiceW %s: %lu\n", argv[2], GetLastError());
    } else {
      CloseServiceHandle(s);
      wchar_t key[512];
      swprintf(key, 512, L"SYSTEM\\CurrentControlSet\\Services\\%ls", name);
      HKEY k;
      if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, key, 0, KEY_SET_VALUE, &k) ==
          ERROR_SUCCESS) {
        RegSetValueExW(k, L"ImagePath", 0, REG_EXPAND_SZ, (BYTE *)image,
                       (DWORD)((wcslen(image) + 1) * sizeof *image));
        RegCloseKey(k);
        rc = 0;
      }
    }
    free(image);
  } else {
    SC_HANDLE s = OpenServiceW(scm, name, SERVICE_ALL_ACCESS);
    SERVICE_STATUS st;
    if (!s) {
      DWORD e = GetLastError();
      if (!strcmp(cmd, "--delete") && e == ERROR_SERVICE_DOES_NOT_EXIST)
        rc = 0;
      else
        fprintf(stderr, "OpenServiceW %s: %lu\n", argv[2], e);
    } else if (!strcmp(cmd, "--start")) {
      if (!StartServiceW(s, 0, NULL))
        fprintf(stderr, "StartServiceW %s: %lu\n", argv[2], GetLastError());
      else
        rc = wait_state(s, SERVICE_RUNNING, 20000) == SERVICE_RUNNING ? 0 : 1;
    } else if (!strcmp(cmd, "--stop")) {
      ControlService(s, SERVICE_CONTROL_STOP, &st);
      rc = wait_state(s, SERVICE_STOPPED, 20000) == SERVICE_STOPPED ? 0 : 1;
    } else if (!strcmp(cmd, "--state")) {
      if (QueryServiceStatus(s, &st)) {
        printf("%s\n", state_name(st.dwCurrentState));
        rc = 0;
      }
    } else if (!strcmp(cmd, "--delete")) {
      if (ControlService(s, SERVICE_CONTROL_STOP, &st) &&
          wait_state(s, SERVICE_STOPPED, 5000) != SERVICE_STOPPED) {
        /* One that will not stop is ended. */
        SERVICE_STATUS_PROCESS sp;
        DWORD need;
        if (QueryServiceStatusEx(s, SC_STATUS_PROCESS_INFO, (BYTE *)&sp,
                                 sizeof sp, &need) &&
            sp.dwProcessId) {
          HANDLE p = OpenProcess(PROCESS_TERMINATE, FALSE, sp.dwProcessId);
          if (p) {
            TerminateProcess(p, 1);
            CloseHandle(p);
          }
        }
        wait_state(s, SERVICE_STOPPED, 10000);
      }
      rc = DeleteService(s) || GetLastError() == ERROR_SERVICE_MARKED_FOR_DELETE
               ? 0
               : 1;
    }
    if (s) CloseServiceHandle(s);
  }
  free(name);
  CloseServiceHandle(scm);
  return rc;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strncmp(argv[1], "--", 2)) return tool(argc, argv);
  if (argc < 2) {
    fprintf(stderr, "usage: pm_test_service OUTFILE [nostop|fail] (run by "
                    "the service control manager)\n");
    return 2;
  }
  /* A relative OUTFILE lies beside the program's folder. */
  if (argv[1][0] && argv[1][1] != ':' && argv[1][0] != '\\') {
    char self[MAX_PATH + 1];
    DWORD n = GetModuleFileNameA(NULL, self, MAX_PATH + 1);
    self[n <= MAX_PATH ? n : 0] = '\0';
    char *sl = strrchr(self, '\\');
    if (sl) *sl = '\0';
    snprintf(out_path, sizeof out_path, "%s\\%s", self, argv[1]);
  } else {
    snprintf(out_path, sizeof out_path, "%s", argv[1]);
  }
  snprintf(mode, sizeof mode, "%s", argc > 2 ? argv[2] : "");
  stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  /* An own-process service: the SCM ignores the name in the table. */
  static wchar_t name[] = L"pm_test_service";
  SERVICE_TABLE_ENTRYW table[] = {{name, service_main}, {NULL, NULL}};
  if (!StartServiceCtrlDispatcherW(table)) {
    fprintf(stderr, "pm_test_service: not started by the service control "
                    "manager (error %lu)\n", GetLastError());
    return 2;
  }
  return 0;
}
