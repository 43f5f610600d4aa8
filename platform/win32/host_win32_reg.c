/* host_win32_reg.c - the registry table of the host backend `local`
 * (host.h pm_reg_ops) on advapi32's Reg* functions, which NT 3.1 already
 * has: keys by their full path, values as their type and raw bytes, never
 * converted, so that a value written back is the value that was read.
 * Reg* functions return their error code instead of setting the thread's
 * last error: it is recorded as the OS code all the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>

#include "host_win32.h"
#include "util.h"
#include "win32.h"

static const struct {
  const char *name;
  HKEY root;
} hives[] = {
    {"HKEY_LOCAL_MACHINE", HKEY_LOCAL_MACHINE},
    {"HKLM", HKEY_LOCAL_MACHINE},
    {"HKEY_CURRENT_USER", HKEY_CURRENT_USER},
    {"HKCU", HKEY_CURRENT_USER},
    {"HKEY_USERS", HKEY_USERS},
    {"HKU", HKEY_USERS},
    {"HKEY_CLASSES_ROOT", HKEY_CLASSES_ROOT},
    {"HKCR", HKEY_CLASSES_ROOT},
    {"HKEY_CURRENT_CONFIG", HKEY_CURRENT_CONFIG},
    {"HKCC", HKEY_CURRENT_CONFIG},
};

int pmw_reg_open(const char *key, REGSAM access, HKEY *out) {
  *out = NULL;
  size_t hl = strcspn(key, "\\");
  HKEY root = NULL;
  for (size_t i = 0; i < sizeof hives / sizeof hives[0]; i++)
    if (strlen(hives[i].name) == hl && pm_wprefix(key, hives[i].name))
      root = hives[i].root;
  if (!root) return pmw_fail(ERROR_INVALID_PARAMETER);
  const char *sub = key + hl;
  while (*sub == '\\') sub++;
  wchar_t *w;
  PM_TRY(pmw_to_wide(sub, (size_t)-1, &w, NULL));
  LONG rc = RegOpenKeyExW(root, w, 0, access, out);
  free(w);
  if (rc != ERROR_SUCCESS) {
    *out = NULL;
    return pmw_fail((DWORD)rc);
  }
  return 0;
}

int pmw_reg_read(HKEY k, const wchar_t *name, pm_reg_value *out) {
  memset(out, 0, sizeof *out);
  DWORD type = 0, len = 0;
  LONG rc = RegQueryValueExW(k, name, NULL, &type, NULL, &len);
  uint8_t *buf = NULL;
  /* The value may grow between the two calls (another program writes
   * it): read again with the size the failed call gives. */
  for (int tries = 0; rc == ERROR_SUCCESS && tries < 8; tries++) {
    free(buf);
    buf = pm_xmalloc(len ? len : 1);
    DWORD got = len;
    rc = RegQueryValueExW(k, name, NULL, &type, buf, &got);
    if (rc == ERROR_MORE_DATA) {
      len = got > len ? got : len * 2 + 64;
      rc = ERROR_SUCCESS;
      continue;
    }
    if (rc == ERROR_SUCCESS) {
      out->type = type;
      out->len = got;
      if (got) {
        out->data = buf;
        buf = NULL;
      }
      free(buf);
      return 0;
    }
  }
  free(buf);
  return pmw_fail(rc == ERROR_SUCCESS ? ERROR_MORE_DATA : (DWORD)rc);
}

/* Lists subkeys (keys = 1) or value names of `key`. */
static int list_names(const char *key, int keys, pm_strlist *out) {
  HKEY k;
  PM_TRY(pmw_reg_open(key, KEY_QUERY_VALUE | KEY_ENUMERATE_SUB_KEYS, &k));
  DWORD maxkey = 0, maxval = 0;
  LONG rc = RegQueryInfoKeyW(k, NULL, NULL, NULL, NULL, &maxkey, NULL, NULL,
                             &maxval, NULL, NULL, NULL);
  /* Names are at most 255 (keys) and 16383 (values) characters; the
   * buffer is that, whatever the key says, so a name added meanwhile
   * still fits. */
  DWORD cap = (keys ? 256 : 16384) + (keys ? maxkey : maxval);
  wchar_t *name = pm_xmalloc(cap * sizeof *name);
  int err = 0;
  for (DWORD i = 0; rc == ERROR_SUCCESS; i++) {
    DWORD nl = cap;
    rc = keys ? RegEnumKeyExW(k, i, name, &nl, NULL, NULL, NULL, NULL)
              : RegEnumValueW(k, i, name, &nl, NULL, NULL, NULL, NULL);
    if (rc != ERROR_SUCCESS) break;
    char *u;
    err = pmw_to_utf8(name, nl, &u, NULL);
    if (err < 0) break;
    pm_strlist_add(out, u);
    free(u);
  }
  free(name);
  RegCloseKey(k);
  if (err < 0) return err;
  if (rc != ERROR_NO_MORE_ITEMS && rc != ERROR_SUCCESS)
    return pmw_fail((DWORD)rc);
  return 0;
}

static int reg_subkeys(pm_host *h, const char *key, pm_strlist *out) {
  (void)h;
  return list_names(key, 1, out);
}

static int reg_values(pm_host *h, const char *key, pm_strlist *out) {
  (void)h;
  return list_names(key, 0, out);
}

static int reg_get(pm_host *h, const char *key, const char *name,
                   pm_reg_value *out) {
  (void)h;
  memset(out, 0, sizeof *out);
  HKEY k;
  PM_TRY(pmw_reg_open(key, KEY_QUERY_VALUE, &k));
  wchar_t *w;
  int rc = pmw_to_wide(name, (size_t)-1, &w, NULL);
  if (rc == 0) {
    rc = pmw_reg_read(k, w, out);
    free(w);
  }
  RegCloseKey(k);
  return rc;
}

static int reg_set(pm_host *h, const char *key, const char *name,
                   const pm_reg_value *v) {
  (void)h;
  if (v->len > 0xFFFFFFFFu) return pmw_fail(ERROR_INVALID_PARAMETER);
  HKEY k;
  /* Opened, not created: a missing key is PM_ENOENT (host.h). */
  PM_TRY(pmw_reg_open(key, KEY_SET_VALUE, &k));
  wchar_t *w;
  int rc = pmw_to_wide(name, (size_t)-1, &w, NULL);
  if (rc == 0) {
    /* RegSetValueExW counts a string's NUL in when one follows the
     * data in memory (Windows and Wine do, for callers that forgot it):
     * the bytes go from a copy followed by a non-NUL unit, so that what
     * is stored is exactly v->len bytes. */
    BYTE *copy = pm_xmalloc(v->len + 2);
    if (v->len) memcpy(copy, v->data, v->len);
    copy[v->len] = copy[v->len + 1] = 0xFF;
    LONG r = RegSetValueExW(k, w, 0, v->type, copy, (DWORD)v->len);
    if (r != ERROR_SUCCESS) rc = pmw_fail((DWORD)r);
    free(copy);
    free(w);
  }
  RegCloseKey(k);
  return rc;
}

static int reg_del(pm_host *h, const char *key, const char *name) {
  (void)h;
  HKEY k;
  PM_TRY(pmw_reg_open(key, KEY_SET_VALUE, &k));
  wchar_t *w;
  int rc = pmw_to_wide(name, (size_t)-1, &w, NULL);
  if (rc == 0) {
    LONG r = RegDeleteValueW(k, w);
    if (r != ERROR_SUCCESS) rc = pmw_fail((DWORD)r);
    free(w);
  }
  RegCloseKey(k);
  return rc;
}

const pm_reg_ops pmw_reg_ops = {reg_subkeys, reg_values, reg_get, reg_set,
                                reg_del};
