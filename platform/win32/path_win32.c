/* path_win32.c - the path syntax of Windows for sys.h: roots (drive
 * letters, UNC shares, the \\?\ prefix) and names compared as NTFS
 * compares them (case-insensitively, by its upper-case table). */
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "sys.h"
#include "win32.h"

static bool sep(char c) { return c == '/' || c == '\\'; }

static bool letter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The end of the component starting at p (at the next separator or the
 * end), and past that separator when there is one. */
static size_t past_component(const char *path, size_t i) {
  while (path[i] && !sep(path[i])) i++;
  return path[i] ? i + 1 : i;
}

size_t pm_path_root_len(const char *path) {
  if (sep(path[0]) && sep(path[1])) {
    size_t i = 2;
    if ((path[2] == '?' || path[2] == '.') && sep(path[3])) {
      /* //?/C:/ or //?/UNC/server/share/ or //./device/ */
      i = 4;
      if (letter(path[i]) && path[i + 1] == ':')
        return sep(path[i + 2]) ? i + 3 : i + 2;
      if (!strncmp(path + i, "UNC", 3) && sep(path[i + 3])) {
        i = past_component(path, i + 4);
        return past_component(path, i);
      }
      return past_component(path, i);
    }
    /* //server/share/ */
    i = past_component(path, i);
    return past_component(path, i);
  }
  if (letter(path[0]) && path[1] == ':') return sep(path[2]) ? 3 : 2;
  return sep(path[0]) ? 1 : 0;
}

/* RtlUpcaseUnicodeChar (ntdll, NT 3.1): the table NTFS's own upper-case
 * table is made from, where CharUpperW would need user32. mingw's
 * headers do not declare it. */
NTSYSAPI WCHAR NTAPI RtlUpcaseUnicodeChar(WCHAR c);

char *pm_path_fold(const char *path) {
  wchar_t *w;
  size_t n;
  if (pmw_to_wide(path, (size_t)-1, &w, &n)) return NULL;
  for (size_t i = 0; i < n; i++)
    w[i] = w[i] == L'\\' ? L'/' : RtlUpcaseUnicodeChar(w[i]);
  char *out = NULL;
  if (pmw_to_utf8(w, n, &out, NULL)) out = NULL;
  free(w);
  return out;
}
