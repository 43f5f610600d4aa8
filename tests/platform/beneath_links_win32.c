/* beneath_links_win32.c - see beneath_links.h: junctions (mount points),
 * the only link Windows 2000 can make: an empty directory given an
 * IO_REPARSE_TAG_MOUNT_POINT reparse point (FSCTL_SET_REPARSE_POINT)
 * whose substitute name is the target's absolute NT path. Wine 8 cannot
 * (ERROR_NOT_SUPPORTED): bl_link then answers -1 and the link cases are
 * skipped, never passed. */
#include "beneath_links.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <winioctl.h>

static wchar_t *wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
  if (!w || MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n) != n) abort();
  for (wchar_t *p = w; *p; p++)
    if (*p == L'/') *p = L'\\';
  return w;
}

/* "\\?\" + path, for paths past MAX_PATH. */
static wchar_t *long_form(const wchar_t *w) {
  wchar_t *l = malloc((wcslen(w) + 5) * sizeof *l);
  if (!l) abort();
  wcscpy(l, L"\\\\?\\");
  wcscat(l, w);
  return l;
}

int bl_link(const char *link, const char *rel, const char *abs, char *expect,
            size_t cap) {
  (void)rel;
  wchar_t *lw = wide(link), *tw = wide(abs);
  wchar_t *ll = long_form(lw);
  if (!CreateDirectoryW(ll, NULL)) {
    fprintf(stderr, "CreateDirectoryW %s: %lu\n", link, GetLastError());
    abort();
  }
  HANDLE h = CreateFileW(ll, GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                         FILE_FLAG_BACKUP_SEMANTICS |
                             FILE_FLAG_OPEN_REPARSE_POINT,
                         NULL);
  if (h == INVALID_HANDLE_VALUE) {
    fprintf(stderr, "CreateFileW %s: %lu\n", link, GetLastError());
    abort();
  }
  /* REPARSE_DATA_BUFFER, MountPointReparseBuffer: the substitute name
   * "\??\C:\..." and the print name "C:\...", each NUL-terminated. */
  size_t tl = wcslen(tw);
  size_t sub = (tl + 4) * sizeof(wchar_t), pr = tl * sizeof(wchar_t);
  size_t data = 8 + sub + sizeof(wchar_t) + pr + sizeof(wchar_t);
  unsigned char *rb = calloc(1, 8 + data);
  if (!rb) abort();
  DWORD tag = IO_REPARSE_TAG_MOUNT_POINT;
  WORD hdr[6] = {(WORD)data, 0, 0, (WORD)sub, (WORD)(sub + sizeof(wchar_t)),
                 (WORD)pr};
  memcpy(rb, &tag, 4);
  memcpy(rb + 4, hdr, sizeof hdr);
  memcpy(rb + 16, L"\\??\\", 4 * sizeof(wchar_t));
  memcpy(rb + 16 + 4 * sizeof(wchar_t), tw, pr);
  memcpy(rb + 16 + sub + sizeof(wchar_t), tw, pr);
  DWORD got;
  BOOL ok = DeviceIoControl(h, FSCTL_SET_REPARSE_POINT, rb, (DWORD)(8 + data),
                            NULL, 0, &got, NULL);
  DWORD e = GetLastError();
  CloseHandle(h);
  free(rb);
  int rc = 0;
  if (!ok) {
    if (e != ERROR_NOT_SUPPORTED && e != ERROR_INVALID_FUNCTION) {
      fprintf(stderr, "FSCTL_SET_REPARSE_POINT %s: %lu\n", link, e);
      abort();
    }
    RemoveDirectoryW(ll);
    rc = -1;
  } else {
    /* readlink gives the substitute name less "\??\", with '/'. */
    snprintf(expect, cap, "%s", abs);
    for (char *p = expect; *p; p++)
      if (*p == '\\') *p = '/';
  }
  free(ll);
  free(lw);
  free(tw);
  return rc;
}

const char *bl_why_not(void) {
  return "this Windows cannot make a junction (FSCTL_SET_REPARSE_POINT "
         "fails: Wine 8 does not implement it, and follows Unix symlinks "
         "without a trace), so no link can be put in a path";
}
