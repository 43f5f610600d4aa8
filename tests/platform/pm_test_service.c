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
 * instead of RUNNING. Run by hand (not by the SCM) it exits 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
  if (f != INVALID_HANDLE_VALUE) CloseHandle(f);
  report(SERVICE_STOPPED, NO_ERROR);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: pm_test_service OUTFILE [nostop|fail] (run by "
                    "the service control manager)\n");
    return 2;
  }
  snprintf(out_path, sizeof out_path, "%s", argv[1]);
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
