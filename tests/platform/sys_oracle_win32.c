/* sys_oracle_win32.c - see sys_oracle.h: Windows' answers, asked through
 * other calls than the ones platform/win32/sys_win32.c makes. */
#include "sys_oracle.h"

#include <stdlib.h>
#include <string.h>
#include <windows.h>

/* CheckTokenMembership (Windows 2000) rather than walking TokenGroups, as
 * sys_win32.c does; it too ignores deny-only groups. */
static bool is_admin(void) {
  SID_IDENTIFIER_AUTHORITY nt = {SECURITY_NT_AUTHORITY};
  PSID admins = NULL;
  BOOL member = FALSE;
  if (!AllocateAndInitializeSid(&nt, 2, SECURITY_BUILTIN_DOMAIN_RID,
                                DOMAIN_ALIAS_RID_ADMINS, 0, 0, 0, 0, 0, 0,
                                &admins))
    return false;
  if (!CheckTokenMembership(NULL, admins, &member)) member = FALSE;
  FreeSid(admins);
  return member != FALSE;
}

/* Held (enabled or not): the token's privilege list, looked up by name. */
static bool holds(const wchar_t *want) {
  HANDLE tok;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) return false;
  DWORD need = 0;
  GetTokenInformation(tok, TokenPrivileges, NULL, 0, &need);
  TOKEN_PRIVILEGES *tp = need ? malloc(need) : NULL;
  bool found = false;
  if (tp && GetTokenInformation(tok, TokenPrivileges, tp, need, &need)) {
    for (DWORD i = 0; i < tp->PrivilegeCount && !found; i++) {
      wchar_t name[64];
      DWORD len = sizeof name / sizeof name[0];
      if (LookupPrivilegeNameW(NULL, &tp->Privileges[i].Luid, name, &len))
        found = wcscmp(name, want) == 0;
    }
  }
  free(tp);
  CloseHandle(tok);
  return found;
}

void oracle_identity(pm_identity *out) {
  out->uid = out->gid = 0;
  out->privileged = is_admin();
  out->can_set_owner = holds(L"SeRestorePrivilege");
}

bool oracle_utc(int64_t t, pm_utc *out) {
  /* FILETIME: 100 ns units since 1601-01-01; SYSTEMTIME years end in
   * 30827. */
  const int64_t epoch_1601 = INT64_C(11644473600);
  if (t < -epoch_1601 || t > INT64_C(900000000000)) return false;
  uint64_t ft100 = (uint64_t)(t + epoch_1601) * 10000000u;
  FILETIME ft = {(DWORD)ft100, (DWORD)(ft100 >> 32)};
  SYSTEMTIME st;
  if (!FileTimeToSystemTime(&ft, &st)) return false;
  out->year = st.wYear;
  out->month = st.wMonth;
  out->day = st.wDay;
  out->hour = st.wHour;
  out->min = st.wMinute;
  out->sec = st.wSecond;
  return true;
}

/* The C library of Windows has no strsep: this follows its specification
 * (4.4BSD): the token runs to the first byte of delim, which becomes NUL,
 * and *sp moves past it; with no such byte, *sp becomes NULL. */
char *oracle_strsep(char **sp, const char *delim) {
  char *s = *sp;
  if (!s) return NULL;
  size_t n = strcspn(s, delim);
  if (s[n]) {
    s[n] = '\0';
    *sp = s + n + 1;
  } else {
    *sp = NULL;
  }
  return s;
}
