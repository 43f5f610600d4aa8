/* testutil_win32.c - see testutil.h: scratch directories and commands on
 * Windows (the tests run under Wine). testutil_posix.c is the Linux side.
 *
 * Scratch directories are made and removed with Win32 calls of their own,
 * not through pm_fs_native(): the fixtures of the file-system contract
 * must not depend on the backend under test, or a broken backend would
 * break its own tests' set-up and clean-up and hide the real failure.
 * Paths are given to the tests as UTF-8 with '/', as platform.h says. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "sys.h"
#include "util.h"

static char scratch[4096];

static wchar_t *to_wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  if (n <= 0) abort();
  wchar_t *w = malloc((size_t)n * sizeof *w);
  if (!w || MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n) != n) abort();
  return w;
}

static void to_utf8(const wchar_t *w, char *out, size_t cap) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)cap, NULL, NULL);
  if (n <= 0) abort();
}

const char *tu_scratch(void) {
  if (scratch[0]) tu_cleanup();
  wchar_t base[MAX_PATH + 1];
  DWORD n = GetTempPathW(MAX_PATH + 1, base);
  if (!n || n > MAX_PATH) {
    fprintf(stderr, "GetTempPathW failed: %lu\n", GetLastError());
    abort();
  }
  for (unsigned tries = 0;; tries++) {
    wchar_t name[MAX_PATH + 64];
    _snwprintf(name, sizeof name / sizeof name[0], L"%lspomove-test-%lu-%lu",
               base, (unsigned long)GetCurrentProcessId(),
               (unsigned long)(GetTickCount() + tries));
    name[sizeof name / sizeof name[0] - 1] = 0;
    if (CreateDirectoryW(name, NULL)) {
      to_utf8(name, scratch, sizeof scratch);
      break;
    }
    if (GetLastError() != ERROR_ALREADY_EXISTS || tries > 1000) {
      fprintf(stderr, "CreateDirectoryW failed: %lu\n", GetLastError());
      abort();
    }
  }
  for (char *p = scratch; *p; p++)
    if (*p == '\\') *p = '/';
  return scratch;
}

/* Removes the tree at path (\\?\ form, no trailing separator). Read-only
 * files are made writable first, as the POSIX side does chmod -R; a
 * reparse point (junction, symbolic link) is removed itself, never
 * followed. */
static int remove_tree(const wchar_t *path) {
  DWORD attr = GetFileAttributesW(path);
  if (attr == INVALID_FILE_ATTRIBUTES) return -1;
  if (attr & FILE_ATTRIBUTE_READONLY)
    SetFileAttributesW(path, attr & ~(DWORD)FILE_ATTRIBUTE_READONLY);
  if (!(attr & FILE_ATTRIBUTE_DIRECTORY))
    return DeleteFileW(path) ? 0 : -1;
  int rc = 0;
  if (!(attr & FILE_ATTRIBUTE_REPARSE_POINT)) {
    size_t len = wcslen(path);
    wchar_t *pat = malloc((len + 3) * sizeof *pat);
    if (!pat) abort();
    wcscpy(pat, path);
    wcscpy(pat + len, L"\\*");
    WIN32_FIND_DATAW fd;
    HANDLE h = FindFirstFileW(pat, &fd);
    free(pat);
    if (h != INVALID_HANDLE_VALUE) {
      do {
        if (!wcscmp(fd.cFileName, L".") || !wcscmp(fd.cFileName, L".."))
          continue;
        size_t k = wcslen(fd.cFileName);
        wchar_t *child = malloc((len + k + 2) * sizeof *child);
        if (!child) abort();
        wcscpy(child, path);
        child[len] = L'\\';
        wcscpy(child + len + 1, fd.cFileName);
        if (remove_tree(child)) rc = -1;
        free(child);
      } while (FindNextFileW(h, &fd));
      FindClose(h);
    }
  }
  return RemoveDirectoryW(path) ? rc : -1;
}

void tu_cleanup(void) {
  if (!scratch[0]) return;
  if (!getenv("POMOVE_KEEP_TMP")) {
    wchar_t *w = to_wide(scratch);
    size_t len = wcslen(w);
    wchar_t *full = malloc((len + 5) * sizeof *full);
    if (!full) abort();
    wcscpy(full, L"\\\\?\\");
    wcscpy(full + 4, w);
    for (wchar_t *p = full; *p; p++)
      if (*p == L'/') *p = L'\\';
    if (remove_tree(full))
      fprintf(stderr, "cleanup of %s failed: %lu\n", scratch, GetLastError());
    free(full);
    free(w);
  }
  scratch[0] = '\0';
}

/* The tests' commands are POSIX shell; Windows has no such shell, and
 * cmd.exe would misread them. A test that needs one fails with this
 * message (or is rewritten onto the platform layer). */
static int no_shell(const char *fmt) {
  fprintf(stderr, "tu_sh: no POSIX shell on Windows for \"%s\"\n", fmt);
  return 127;
}

int tu_sh(const char *fmt, ...) { return no_shell(fmt); }

int tu_sh_out(char **out, const char *fmt, ...) {
  *out = calloc(1, 1);
  if (!*out) abort();
  return no_shell(fmt);
}

/* msvcrt's tmpfile() creates its file in the root of the current drive,
 * which a user may not write to: the temporary folder instead, opened
 * with "D" (deleted when closed). */
FILE *tu_tmpfile(void) {
  wchar_t dir[MAX_PATH + 1], name[MAX_PATH + 1];
  DWORD n = GetTempPathW(MAX_PATH + 1, dir);
  if (!n || n > MAX_PATH || !GetTempFileNameW(dir, L"pmt", 0, name))
    return NULL;
  return _wfopen(name, L"w+bD");
}

/* Both the C library's copy (getenv) and the process's (what
 * GetEnvironmentVariable and child processes see). "NAME=" removes. */
void tu_setenv(const char *name, const char *value) {
  char *kv = pm_xasprintf("%s=%s", name, value ? value : "");
  if (_putenv(kv)) abort();
  free(kv);
  wchar_t *wn = to_wide(name), *wv = value ? to_wide(value) : NULL;
  SetEnvironmentVariableW(wn, wv);
  free(wn);
  free(wv);
}

int tu_under_wine(void) {
  HMODULE nt = GetModuleHandleW(L"ntdll.dll");
  return nt && GetProcAddress(nt, "wine_get_version") != NULL;
}

int tu_is_root(void) {
  pm_identity id;
  pm_identity_get(&id);
  return id.privileged;
}
