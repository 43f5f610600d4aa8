/* sys_win32.c - sys.h on Windows, with what NT 4.0 already exports where
 * that costs nothing (token groups are compared by hand instead of
 * CheckTokenMembership, which is Windows 2000). */
#include <stdint.h>
#include <stdlib.h>
#include <windows.h>

#include "platform.h"
#include "sys.h"

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
