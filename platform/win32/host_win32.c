/* host_win32.c - the host backend `local` of the Windows build: the
 * machine pomove.exe runs on, behind host.h's tables (services
 * host_win32_svc.c, shares host_win32_share.c, registry
 * host_win32_reg.c; volumes and the backend itself here). It is the
 * default host of a Windows build (`--host local`).
 *
 * Windows paths need no mapping: the native path of "D:\ExchSrvr" is
 * "D:/ExchSrvr" for the Win32 file-system table, with each existing
 * component spelt as the volume stores it (so that two spellings of one
 * folder compare equal). pomove's state lives under the common
 * application data folder (SHGetFolderPathW: shell32 on Windows 2000,
 * the shfolder.dll redistributable on NT 4.0, both looked up), else
 * beside pomove.exe.
 *
 * "local:shares=FILE" keeps the shares in a text file instead of asking
 * the Server service (host_win32_sharefile.c): for Wine, which has no
 * NetShare*, and for tests; the run says so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>

#include "host_win32.h"
#include "util.h"
#include "win32.h"

/* ---- Volumes ---- */

/* The root a Windows path lies on: "D:\" for "D:..." and "\\srv\share\"
 * for a UNC path, as GetVolumeInformationW wants it. */
static int root_of(const char *winpath, char *root, size_t cap) {
  const char *p = winpath;
  if (((p[0] | 32) >= 'a' && (p[0] | 32) <= 'z') && p[1] == ':') {
    snprintf(root, cap, "%c:\\", p[0]);
    return 0;
  }
  if ((p[0] == '\\' || p[0] == '/') && (p[1] == '\\' || p[1] == '/')) {
    const char *srv = p + 2, *sep = srv + strcspn(srv, "\\/");
    if (sep == srv || !*sep) return pmw_fail(ERROR_BAD_PATHNAME);
    const char *sh = sep + 1, *end = sh + strcspn(sh, "\\/");
    if (end == sh) return pmw_fail(ERROR_BAD_PATHNAME);
    snprintf(root, cap, "\\\\%.*s\\%.*s\\", (int)(sep - srv), srv,
             (int)(end - sh), sh);
    return 0;
  }
  return pmw_fail(ERROR_BAD_PATHNAME);
}

static int vol_info(pm_host *h, const char *winpath, pm_vol_info *out) {
  (void)h;
  memset(out, 0, sizeof *out);
  char root[PM_HOST_PATH_MAX];
  PM_TRY(root_of(winpath, root, sizeof root));
  wchar_t *w;
  PM_TRY(pmw_to_wide(root, (size_t)-1, &w, NULL));
  wchar_t fs[MAX_PATH + 1];
  int rc = 0;
  ULARGE_INTEGER avail, total, freeb;
  if (!GetVolumeInformationW(w, NULL, 0, NULL, NULL, NULL, fs, MAX_PATH + 1))
    rc = pmw_fail_last();
  else if (!GetDiskFreeSpaceExW(w, &avail, &total, &freeb))
    rc = pmw_fail_last();
  free(w);
  if (rc < 0) return rc;
  char *u;
  PM_TRY(pmw_to_utf8(fs, (size_t)-1, &u, NULL));
  snprintf(out->fs_type, sizeof out->fs_type, "%s", u);
  free(u);
  out->total_bytes = total.QuadPart;
  /* What this user may fill (quotas included), as a copy would meet it. */
  out->free_bytes = avail.QuadPart;
  return 0;
}

/* The stored spelling of the last component of `sofar` + `comp`, or
 * false when it does not exist. */
static bool stored_name(const char *sofar, const char *comp, char **out) {
  char *full = pm_xasprintf("%s/%s", sofar, comp);
  wchar_t *w;
  bool found = false;
  if (pmw_path(full, &w) == 0) {
    WIN32_FIND_DATAW fd;
    HANDLE f = FindFirstFileW(w, &fd);
    if (f != INVALID_HANDLE_VALUE) {
      FindClose(f);
      found = pmw_to_utf8(fd.cFileName, (size_t)-1, out, NULL) == 0;
    }
    free(w);
  }
  free(full);
  return found;
}

static int vol_native(pm_host *h, const char *winpath, char *buf,
                      size_t cap) {
  (void)h;
  char root[PM_HOST_PATH_MAX];
  PM_TRY(root_of(winpath, root, sizeof root));
  /* The root with '/' and no trailing one: "D:" or "//srv/share". */
  for (char *p = root; *p; p++)
    if (*p == '\\') *p = '/';
  root[strlen(root) - 1] = '\0';
  const char *p = winpath + 2;
  if (root[0] == '/') {
    /* Past "\\srv\share". */
    p = winpath + 2;
    p += strcspn(p, "\\/");
    p += *p ? 1 : 0;
    p += strcspn(p, "\\/");
  }
  char *cur = pm_xstrdup(root);
  bool exists = true;
  int rc = 0;
  while (*p && rc == 0) {
    while (*p == '\\' || *p == '/') p++;
    if (!*p) break;
    size_t cl = strcspn(p, "\\/");
    char *comp = pm_xmalloc(cl + 1);
    memcpy(comp, p, cl);
    comp[cl] = '\0';
    p += cl;
    if (!strcmp(comp, ".")) {
      free(comp);
      continue;
    }
    /* ".." and wildcards have no place in a postoffice path. */
    if (!strcmp(comp, "..") || strpbrk(comp, "*?")) {
      free(comp);
      rc = pmw_fail(ERROR_INVALID_NAME);
      break;
    }
    char *match = NULL;
    if (exists && !stored_name(cur, comp, &match)) exists = false;
    char *next = pm_xasprintf("%s/%s", cur, match ? match : comp);
    free(match);
    free(comp);
    free(cur);
    cur = next;
  }
  if (rc == 0) {
    /* A bare drive is its root folder. */
    if (strlen(cur) == 2 && cur[1] == ':') {
      char *r = pm_xasprintf("%s/", cur);
      free(cur);
      cur = r;
    }
    if (strlen(cur) + 1 > cap)
      rc = pmw_fail(ERROR_FILENAME_EXCED_RANGE);
    else
      memcpy(buf, cur, strlen(cur) + 1);
  }
  free(cur);
  return rc;
}

const pm_vol_ops pmw_vol_ops = {vol_info, vol_native};

/* ---- The state folder ---- */

typedef HRESULT(WINAPI *folder_path_fn)(HWND, int, HANDLE, DWORD, LPWSTR);

/* "<common application data>/pomove", or "<folder of pomove.exe>/
 * pomove-state" where no SHGetFolderPathW answers (NT 4.0 without
 * shfolder.dll). */
static void state_dir(char *out, size_t cap) {
  static const char *const dlls[] = {"shell32.dll", "shfolder.dll"};
  wchar_t path[MAX_PATH + 1];
  for (int i = 0; i < 2; i++) {
    HMODULE m = LoadLibraryA(dlls[i]);
    if (!m) continue;
    folder_path_fn fn =
        (folder_path_fn)(void (*)(void))GetProcAddress(m, "SHGetFolderPathW");
    /* CSIDL_COMMON_APPDATA (0x23), SHGFP_TYPE_CURRENT. */
    HRESULT hr = fn ? fn(NULL, 0x23, NULL, 0, path) : E_FAIL;
    FreeLibrary(m);
    char *u;
    if (SUCCEEDED(hr) && pmw_to_utf8(path, (size_t)-1, &u, NULL) == 0) {
      for (char *p = u; *p; p++)
        if (*p == '\\') *p = '/';
      snprintf(out, cap, "%s/pomove", u);
      free(u);
      return;
    }
  }
  DWORD n = GetModuleFileNameW(NULL, path, MAX_PATH + 1);
  char *u;
  if (n > 0 && n <= MAX_PATH && pmw_to_utf8(path, n, &u, NULL) == 0) {
    for (char *p = u; *p; p++)
      if (*p == '\\') *p = '/';
    char *sl = strrchr(u, '/');
    if (sl) *sl = '\0';
    snprintf(out, cap, "%s/pomove-state", u);
    free(u);
    return;
  }
  snprintf(out, cap, "pomove-state");
}

/* ---- Opening ---- */

static void local_close(pm_host *h) {
  pmw_host *c = h->ctx;
  if (c->scm) CloseServiceHandle(c->scm);
  free(c);
  free(h);
}

static int local_open(const char *arg, pm_host **out) {
  *out = NULL;
  /* "local" or "local:shares=FILE". */
  const char *shares = NULL;
  if (!strncmp(arg, "shares=", 7) && arg[7]) {
    shares = arg + 7;
  } else if (arg[0]) {
    pm__host_open_detail_set("local takes no argument but shares=FILE "
                             "(\"%s\")", arg);
    return pmw_fail(ERROR_INVALID_PARAMETER);
  }
  pmw_host *c = pm_xcalloc(1, sizeof *c);
  if (shares) {
    /* Said on every run, so that a move whose share steps went to a file
     * is never taken for one that changed the real shares. */
    c->shares = pmw_share_file(shares);
    pm_warnf("host local: the shares are those of the table file %s, not "
             "the Server service's (NetShare* is not used)", shares);
  }
  /* Rights every user has: listing and querying. Each change opens its
   * service with the right it needs, so `plan` and `check` work without
   * being an administrator. */
  c->scm = OpenSCManagerW(NULL, NULL,
                          SC_MANAGER_CONNECT | SC_MANAGER_ENUMERATE_SERVICE);
  if (!c->scm) {
    int rc = pmw_host_fail(GetLastError());
    pm__host_open_detail_set("the service control manager: %s (OS error "
                             "%d)", pm_strerror(rc), pm_oserr_last());
    free(c);
    return rc;
  }
  pm_host *h = pm_xcalloc(1, sizeof *h);
  h->svc = &pmw_svc_ops;
  h->share = &pmw_share_ops;
  h->reg = &pmw_reg_ops;
  h->vol = &pmw_vol_ops;
  h->fs = pm_fs_native();
  h->ctx = c;
  h->close = local_close;
  state_dir(h->state_dir, sizeof h->state_dir);
  *out = h;
  return 0;
}

static const pm_host_backend local_backend = {"local", local_open, true};
static const pm_host_backend *const backends[] = {&local_backend, NULL};

const pm_host_backend *const *pm__host_backends(void) { return backends; }

const char *pm_host_known_specs(void) {
  return "local, this Windows machine (the default)";
}
