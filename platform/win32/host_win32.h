/* host_win32.h - private to the Win32 host backend `local`
 * (host_win32*.c) and to its tests: the pieces its files share, and the
 * table of NetShare* calls that a test (or Wine, which implements none of
 * them) replaces.
 *
 * The backend is a thin translation of host.h's tables to the Win32 calls
 * they are shaped after: the service control manager (advapi32), the
 * registry (advapi32), NetShare* at level 502 (netapi32, on NT 4.0 too)
 * and GetVolumeInformationW / GetDiskFreeSpaceExW. Only what Windows 2000
 * exports is imported (NT 4.0 where it costs nothing); each import is in
 * imports-win2000.txt. */
#ifndef POMOVE_HOST_WIN32_H
#define POMOVE_HOST_WIN32_H

#include <windows.h>
#include <lm.h>

#include "host.h"

/* ---- The NetShare* calls, as a table ----
 * Shaped exactly after the netapi32 functions (level 502 for get and add,
 * level 1 for enum; buffers the table returns are freed with its own
 * free_buf), so that the real table is the functions themselves and a
 * replacement behaves as the Server service would: error codes NERR_*
 * (2310 NERR_NetNameNotFound, 2118 NERR_DuplicateShare ...) and Win32
 * codes, SHARE_INFO_502 with a self-relative security descriptor. */
typedef struct pmw_share_api {
  NET_API_STATUS(WINAPI *get_info)
  (LPWSTR server, LPWSTR name, DWORD level, LPBYTE *buf);
  NET_API_STATUS(WINAPI *add)
  (LPWSTR server, DWORD level, LPBYTE buf, LPDWORD parm_err);
  NET_API_STATUS(WINAPI *del)(LPWSTR server, LPWSTR name, DWORD reserved);
  NET_API_STATUS(WINAPI *enumerate)
  (LPWSTR server, DWORD level, LPBYTE *buf, DWORD prefmaxlen, LPDWORD read,
   LPDWORD total, LPDWORD resume);
  NET_API_STATUS(WINAPI *free_buf)(LPVOID buf);
  /* For people: where the shares come from ("NetShare* (the Server
   * service)"); a replacement names itself, and the run says so. */
  const char *what;
} pmw_share_api;

/* The real one: netapi32's functions. */
extern const pmw_share_api pmw_share_netapi;

/* The share table kept in a text file (host_win32_sharefile.c), for
 * `--host local:shares=FILE` where the Server service cannot answer
 * (Wine). */
const pmw_share_api *pmw_share_file(const char *path);

/* The backend's context (pm_host.ctx). */
typedef struct pmw_host {
  SC_HANDLE scm; /* SC_MANAGER_CONNECT | SC_MANAGER_ENUMERATE_SERVICE */
  const pmw_share_api *shares;
} pmw_host;

/* Replaces the share table of a host opened as "local" (tests; the
 * `shares=FILE` option of the spec). NULL puts the real one back. */
void pmw_host_set_share_api(pm_host *h, const pmw_share_api *api);

/* The tables (as the simulator's, the list slots return 0, not a count:
 * orchestrate/ takes anything but 0 for a failure) (host_win32_reg.c, host_win32_svc.c, host_win32_share.c,
 * host_win32.c). */
extern const pm_reg_ops pmw_reg_ops;
extern const pm_svc_ops pmw_svc_ops;
extern const pm_share_ops pmw_share_ops;
extern const pm_vol_ops pmw_vol_ops;

/* A registry key "HKEY_LOCAL_MACHINE\..." (or HKLM\, HKCU\, HKU\, HKCR\,
 * HKCC\ and their long names) opened with `access`. PM_ENOENT (OS code 2)
 * when it does not exist; PM_EINVAL for an unknown hive. */
int pmw_reg_open(const char *key, REGSAM access, HKEY *out);
/* A value's type and bytes from an open key (RegQueryValueExW, sized
 * first and read again while it grows). */
int pmw_reg_read(HKEY k, const wchar_t *name, pm_reg_value *out);

/* The PM_E* code of a service or share call's error code, recorded with
 * it (pmw_fail for codes that are not the SCM's or NetShare*'s own). */
int pmw_host_fail(DWORD code);

/* A security descriptor as host.h's pm_share_info carries it: "hex:"
 * followed by the self-relative bytes in hex (what the local backend
 * reads; NT 4.0 has no SDDL). pmw_sd_parse also takes SDDL text
 * ("O:", "G:", "D:", "S:"; where Windows 2000's
 * ConvertStringSecurityDescriptorToSecurityDescriptorW exists, else
 * PM_ENOTSUP) and "" (no descriptor: *out = NULL). The result of
 * pmw_sd_parse is malloc'd. */
int pmw_sd_format(PSECURITY_DESCRIPTOR sd, char *buf, size_t cap);
int pmw_sd_parse(const char *text, PSECURITY_DESCRIPTOR *out);

#endif
