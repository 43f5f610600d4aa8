/* sys_win32.c - sys.h and the small system queries of platform.h on
 * Windows, with what NT 4.0 already exports where that costs nothing
 * (token groups are compared by hand instead of CheckTokenMembership,
 * which is Windows 2000). Every function imported here is in the list
 * that scripts/win-imports.sh checks (platform/win32/imports-win2000.txt). */
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

#include "platform.h"
#include "sys.h"
#include "thread.h"
#include "util.h"

/* The header in front of every aligned block: where malloc's block starts.
 * msvcrt.dll of Windows 2000 has no _aligned_malloc. */
void *pm_aligned_alloc(size_t align, size_t size) {
  if (align < sizeof(void *)) align = sizeof(void *);
  if (size > SIZE_MAX - align - sizeof(void *)) return NULL;
  unsigned char *raw = malloc(size + align + sizeof(void *));
  if (!raw) return NULL;
  uintptr_t start = (uintptr_t)(raw + sizeof(void *));
  uintptr_t aligned = (start + align - 1) & ~(uintptr_t)(align - 1);
  ((void **)aligned)[-1] = raw;
  return (void *)aligned;
}

void pm_aligned_free(void *p) {
  if (p) free(((void **)p)[-1]);
}

/* Reads one kind of token information into a malloc'd buffer. */
static void *token_info(HANDLE tok, TOKEN_INFORMATION_CLASS cls) {
  DWORD need = 0;
  GetTokenInformation(tok, cls, NULL, 0, &need);
  if (!need) return NULL;
  void *buf = malloc(need);
  if (buf && !GetTokenInformation(tok, cls, buf, need, &need)) {
    free(buf);
    buf = NULL;
  }
  return buf;
}

static bool in_administrators(HANDLE tok) {
  SID_IDENTIFIER_AUTHORITY nt = {SECURITY_NT_AUTHORITY};
  PSID admins = NULL;
  if (!AllocateAndInitializeSid(&nt, 2, SECURITY_BUILTIN_DOMAIN_RID,
                                DOMAIN_ALIAS_RID_ADMINS, 0, 0, 0, 0, 0, 0,
                                &admins))
    return false;
  bool found = false;
  TOKEN_GROUPS *g = token_info(tok, TokenGroups);
  for (DWORD i = 0; g && i < g->GroupCount; i++) {
    /* A group present but marked deny-only (a restricted token) does not
     * grant membership. */
    if (EqualSid(g->Groups[i].Sid, admins) &&
        (g->Groups[i].Attributes & SE_GROUP_ENABLED)) {
      found = true;
      break;
    }
  }
  free(g);
  FreeSid(admins);
  return found;
}

static bool holds_privilege(HANDLE tok, const wchar_t *name) {
  LUID luid;
  if (!LookupPrivilegeValueW(NULL, name, &luid)) return false;
  bool found = false;
  TOKEN_PRIVILEGES *p = token_info(tok, TokenPrivileges);
  for (DWORD i = 0; p && i < p->PrivilegeCount; i++) {
    if (p->Privileges[i].Luid.LowPart == luid.LowPart &&
        p->Privileges[i].Luid.HighPart == luid.HighPart) {
      found = true;
      break;
    }
  }
  free(p);
  return found;
}

void pm_identity_get(pm_identity *out) {
  out->uid = out->gid = 0;
  out->privileged = out->can_set_owner = false;
  HANDLE tok;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) return;
  out->privileged = in_administrators(tok);
  /* Held, not necessarily enabled: the backend enables it before use. */
  out->can_set_owner = holds_privilege(tok, L"SeRestorePrivilege");
  CloseHandle(tok);
}

int64_t pm_wall_seconds(void) {
  FILETIME ft;
  GetSystemTimeAsFileTime(&ft);
  uint64_t t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
  /* 100 ns units since 1601-01-01; the Unix epoch is 11644473600 s later. */
  return (int64_t)(t / 10000000u) - INT64_C(11644473600);
}

/* ---- platform.h: small system queries ---- */

/* File creation on Windows applies no permission bits: security comes
 * from the descriptor inherited from the parent directory. */
uint32_t pm_create_mask(void) { return 0; }

/* No POSIX default ACL decides a new file's mode on Windows: the
 * mode asked for is what pomove's own tables make of it. */
bool pm_create_mode_exact(const pm_fs *fs, const char *dir) {
  (void)fs;
  (void)dir;
  return true;
}

unsigned pm_open_files_max(void) { return 1u << 20; }

unsigned pm_cpu_count(void) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwNumberOfProcessors ? (unsigned)si.dwNumberOfProcessors : 1;
}

/* The performance counter is monotonic and present since NT 3.1
 * (GetTickCount64 is Vista, and GetTickCount wraps after 49 days). Its
 * frequency is constant while the system runs: read once (pm_once, as a
 * 64-bit store is two stores on i686). */
static pm_once_t freq_once = PM_ONCE_INIT;
static LARGE_INTEGER freq;

static void read_freq(void) { QueryPerformanceFrequency(&freq); }

uint64_t pm_now_ns(void) {
  pm_once(&freq_once, read_freq);
  LARGE_INTEGER c;
  QueryPerformanceCounter(&c);
  uint64_t f = (uint64_t)freq.QuadPart, t = (uint64_t)c.QuadPart;
  if (!f) return 0;
  /* Split so that t * 10^9 cannot overflow. */
  return t / f * 1000000000u + t % f * 1000000000u / f;
}

/* pm_isatty() is in stdio_win32.c, with the console relay it knows of. */

/* ---- sys.h: process, host, time ---- */

uint32_t pm_process_id(void) { return (uint32_t)GetCurrentProcessId(); }

/* OpenProcess and WaitForSingleObject are NT 3.1. SYNCHRONIZE is the
 * least access that lets the handle be waited on; a process of another
 * user (or a protected one) refuses it with ERROR_ACCESS_DENIED, which
 * means it exists. An ended process whose handle somebody still holds
 * keeps its id until the last handle closes: it opens, and its handle is
 * signalled. */
bool pm_process_alive(uint32_t pid) {
  if (pid == 0) return true;
  HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)pid);
  if (!h) return GetLastError() != ERROR_INVALID_PARAMETER;
  bool ended = WaitForSingleObject(h, 0) == WAIT_OBJECT_0;
  CloseHandle(h);
  return !ended;
}

/* Windows owners are SIDs, which pm_stat does not carry. */
uint32_t pm_user_id(void) { return 0; }

void pm_host_name(char *buf, size_t cap) {
  if (!cap) return;
  wchar_t w[MAX_COMPUTERNAME_LENGTH + 1];
  DWORD n = MAX_COMPUTERNAME_LENGTH + 1;
  /* CP_UTF8 is known to WideCharToMultiByte since NT 4.0. */
  if (!GetComputerNameW(w, &n) || !n ||
      !WideCharToMultiByte(CP_UTF8, 0, w, (int)n + 1, buf,
                           cap > INT_MAX ? INT_MAX : (int)cap, NULL, NULL))
    snprintf(buf, cap, "?");
  buf[cap - 1] = '\0';
}

void pm_utc_now(char *buf, size_t cap) {
  pm_utc u;
  pm_utc_from_seconds(pm_wall_seconds(), &u);
  snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", u.year, u.month,
           u.day, u.hour, u.min, u.sec);
}

static pm_once_t null_once = PM_ONCE_INIT;
static FILE *null_stream;

static void open_null(void) { null_stream = fopen("NUL", "w"); }

FILE *pm_null_stream(void) {
  pm_once(&null_once, open_null);
  return null_stream;
}

/* ---- sys.h: interruption ----
 *
 * Windows raises no SIGINT or SIGTERM for a console program that pomove
 * could rely on: Ctrl+C, Ctrl+Break and the closing of the console window
 * arrive as console control events, each on a new thread the system
 * starts in the process. The first one sets the flag that the loops poll
 * (an aligned int is written whole on x86; volatile keeps the polls
 * real). A second Ctrl+C or Ctrl+Break ends the process at once with exit
 * code 130, as a second SIGINT does on Linux: TerminateProcess rather
 * than ExitProcess, because another thread may hold the C library's lock
 * in the middle of a write, and ExitProcess's clean-up would wait for it;
 * the copy's journal survives this as it survives a kill. On the closing
 * of the window and at shut-down the handler sets the flag and waits (the
 * system ends the process after its own timeout, or sooner when the
 * command has stopped and returned), so that the loops get that time to
 * reach a point a rerun resumes from. A log-off is ignored: a console
 * program started by a service or the scheduler receives the log-off of
 * every user, which must not interrupt it, and the log-off of its own
 * user ends its session, and it, anyway. */
static atomic_int interrupt_flag;
static volatile LONG interrupt_count;

/* The status of a process a second Ctrl+C ends: 128 + SIGINT, what a
 * shell reports on Linux and the exit code of an interrupted command
 * (orchestrate/cli/cli.h), so that a script sees one code for an
 * interrupted pomove however it stopped. The platform cannot include the
 * command line's header (test_cli_layering), hence the number here. */
#define KILLED_BY_INTERRUPT 130

static BOOL WINAPI on_console_event(DWORD ev) {
  switch (ev) {
  case CTRL_C_EVENT:
  case CTRL_BREAK_EVENT:
    atomic_store(&interrupt_flag, 1);
    /* Two events may run at once, each on its own thread. */
    if (InterlockedIncrement(&interrupt_count) > 1)
      TerminateProcess(GetCurrentProcess(), KILLED_BY_INTERRUPT);
    return TRUE;
  case CTRL_CLOSE_EVENT:
  case CTRL_SHUTDOWN_EVENT:
    atomic_store(&interrupt_flag, 1);
    InterlockedIncrement(&interrupt_count);
    Sleep(INFINITE);
    return TRUE;
  case CTRL_LOGOFF_EVENT:
    return TRUE;
  default:
    return FALSE;
  }
}

/* main() catches from the start and a command again before its work:
 * the handler is added to the console's list once, so that the list does
 * not grow with every call. */
static volatile LONG handler_added;

void pm_interrupt_catch(void) {
  if (InterlockedExchange(&handler_added, 1) == 0)
    SetConsoleCtrlHandler(on_console_event, TRUE);
}

bool pm_interrupted(void) { return atomic_load(&interrupt_flag) != 0; }

atomic_int *pm_interrupt_flag(void) { return &interrupt_flag; }
