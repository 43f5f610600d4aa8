/* host_win32_sharefile.c - a share table kept in a text file, for
 * `--host local:shares=FILE`: the share calls of a machine whose Server
 * service cannot serve them, above all Wine, which implements no
 * NetShare*. It stands where netapi32's functions stand (a
 * pmw_share_api, see host_win32.h) and answers as they do: level 502
 * buffers freed with its free_buf, NERR_NetNameNotFound,
 * NERR_DuplicateShare, NERR_UnknownDevDir for a folder that does not
 * exist. pomove says when it uses one (host_win32.c), so a move that did
 * not touch the real shares never passes for one that did.
 *
 * FILE holds one share a line, UTF-8, fields separated by tabs, '%',
 * tab, CR and LF written as %XX:
 *   name  type  max_uses  path  remark  security descriptor
 * (the descriptor as host.h carries it: "hex:..." or SDDL, or empty).
 * A line "!fail<TAB>add|del|get|enum<TAB>CODE" makes every such call fail
 * with CODE: how a test makes a share step fail. The file is read on
 * every call and replaced whole (a new file renamed over it) on every
 * change; a missing file is no share at all. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <lm.h>

#include "fileutil.h"
#include "host_win32.h"
#include "util.h"
#include "win32.h"

/* The file of the one host opened with it (pomove opens one host). */
static char *file_path;

typedef struct line {
  char *f[6];
  int nf;
} line;

typedef struct table {
  char *text;
  line *l;
  size_t n;
} table;

static void table_free(table *t) {
  free(t->text);
  free(t->l);
  memset(t, 0, sizeof *t);
}

static int hexval(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

static void unesc(char *s) {
  char *o = s;
  for (; *s; s++) {
    int hi, lo;
    if (*s == '%' && (hi = hexval(s[1])) >= 0 && (lo = hexval(s[2])) >= 0) {
      *o++ = (char)(hi * 16 + lo);
      s += 2;
    } else {
      *o++ = *s;
    }
  }
  *o = '\0';
}

static char *esc(const char *in) {
  char *out = pm_xmalloc(strlen(in) * 3 + 1), *o = out;
  for (; *in; in++) {
    unsigned char c = (unsigned char)*in;
    if (c == '%' || c == '\t' || c == '\r' || c == '\n')
      o += sprintf(o, "%%%02X", c);
    else
      *o++ = (char)c;
  }
  *o = '\0';
  return out;
}

/* Reads the file; ERROR_SUCCESS or the code to answer. */
static DWORD load(table *t) {
  memset(t, 0, sizeof *t);
  size_t got;
  int rc = pm_file_read(pm_fs_native(), file_path, (size_t)64 << 20,
                        &t->text, &got);
  if (rc == PM_ENOENT) return ERROR_SUCCESS;
  if (rc == PM_ESHORT || rc == PM_ECHANGED || rc == PM_EFBIG) {
    table_free(t);
    return ERROR_READ_FAULT;
  }
  if (rc < 0) {
    table_free(t);
    return ERROR_OPEN_FAILED;
  }
  for (char *cur = t->text; *cur;) {
    char *nl = strchr(cur, '\n');
    if (nl) *nl = '\0';
    size_t len = strlen(cur);
    if (len && cur[len - 1] == '\r') cur[len - 1] = '\0';
    if (*cur) {
      t->l = pm_xrealloc(t->l, (t->n + 1) * sizeof *t->l);
      line *l = &t->l[t->n++];
      memset(l, 0, sizeof *l);
      l->f[l->nf++] = cur;
      for (char *p = cur; *p && l->nf < 6; p++)
        if (*p == '\t') {
          *p = '\0';
          l->f[l->nf++] = p + 1;
        }
      for (int i = 0; i < l->nf; i++) unesc(l->f[i]);
    }
    if (!nl) break;
    cur = nl + 1;
  }
  return ERROR_SUCCESS;
}

static DWORD save(const table *t) {
  size_t cap = 64, n = 0;
  char *buf = pm_xmalloc(cap);
  for (size_t i = 0; i < t->n; i++) {
    for (int j = 0; j < t->l[i].nf; j++) {
      /* "!fail" lines are the test's and are written back as they came. */
      char *e = t->l[i].f[0][0] == '!' ? pm_xstrdup(t->l[i].f[j])
                                       : esc(t->l[i].f[j]);
      size_t el = strlen(e);
      while (n + el + 2 > cap) buf = pm_xrealloc(buf, cap *= 2);
      memcpy(buf + n, e, el);
      n += el;
      buf[n++] = j + 1 < t->l[i].nf ? '\t' : '\n';
      free(e);
    }
  }
  int rc = pm_file_write_atomic(pm_fs_native(), file_path, buf, n, 0644,
                                PM_FILE_SYNC);
  free(buf);
  return rc < 0 ? ERROR_WRITE_FAULT : ERROR_SUCCESS;
}

/* The code a "!fail <call> CODE" line gives `call`, or 0. */
static DWORD failure(const table *t, const char *call) {
  for (size_t i = 0; i < t->n; i++)
    if (!strcmp(t->l[i].f[0], "!fail") && t->l[i].nf >= 3 &&
        !strcmp(t->l[i].f[1], call))
      return (DWORD)strtoul(t->l[i].f[2], NULL, 10);
  return 0;
}

static line *find(table *t, const wchar_t *wname) {
  char *name;
  if (pmw_to_utf8(wname, (size_t)-1, &name, NULL) < 0) return NULL;
  line *found = NULL;
  for (size_t i = 0; i < t->n && !found; i++)
    if (t->l[i].nf == 6 && t->l[i].f[0][0] != '!' &&
        !pm_wstrcasecmp(t->l[i].f[0], name))
      found = &t->l[i];
  free(name);
  return found;
}

/* Appends a wide copy of `s` at *at (inside one allocated block). */
static wchar_t *put_wide(BYTE **at, const char *s) {
  wchar_t *w;
  size_t wl = 0;
  if (pmw_to_wide(s, (size_t)-1, &w, &wl) < 0) return NULL;
  wchar_t *dst = (wchar_t *)*at;
  memcpy(dst, w, (wl + 1) * sizeof *w);
  *at += (wl + 1) * sizeof *w;
  free(w);
  return dst;
}

static NET_API_STATUS WINAPI sf_get(LPWSTR server, LPWSTR name, DWORD level,
                                    LPBYTE *buf) {
  (void)server;
  *buf = NULL;
  if (level != 502) return ERROR_INVALID_LEVEL;
  table t;
  DWORD e = load(&t);
  if (e == ERROR_SUCCESS) e = failure(&t, "get");
  line *l = e == ERROR_SUCCESS ? find(&t, name) : NULL;
  if (e == ERROR_SUCCESS && !l) e = NERR_NetNameNotFound;
  PSECURITY_DESCRIPTOR sd = NULL;
  if (e == ERROR_SUCCESS && pmw_sd_parse(l->f[5], &sd) < 0)
    e = ERROR_INVALID_SECURITY_DESCR;
  if (e == ERROR_SUCCESS) {
    size_t sdlen = sd ? GetSecurityDescriptorLength(sd) : 0;
    size_t size = sizeof(SHARE_INFO_502) + sdlen + 8 +
                  (strlen(l->f[0]) + strlen(l->f[3]) + strlen(l->f[4]) + 3) *
                      sizeof(wchar_t);
    BYTE *b = pm_xcalloc(1, size), *at = b + sizeof(SHARE_INFO_502);
    SHARE_INFO_502 *si = (SHARE_INFO_502 *)b;
    if (sd) {
      memcpy(at, sd, sdlen);
      si->shi502_security_descriptor = at;
      at += (sdlen + 7) & ~(size_t)7;
    }
    si->shi502_netname = put_wide(&at, l->f[0]);
    si->shi502_type = (DWORD)strtoul(l->f[1], NULL, 10);
    si->shi502_max_uses = (DWORD)strtoul(l->f[2], NULL, 10);
    si->shi502_path = put_wide(&at, l->f[3]);
    si->shi502_remark = put_wide(&at, l->f[4]);
    *buf = b;
  }
  free(sd);
  table_free(&t);
  return e;
}

static NET_API_STATUS WINAPI sf_add(LPWSTR server, DWORD level, LPBYTE buf,
                                    LPDWORD parm_err) {
  (void)server;
  if (parm_err) *parm_err = 0;
  if (level != 502) return ERROR_INVALID_LEVEL;
  SHARE_INFO_502 *si = (SHARE_INFO_502 *)buf;
  table t;
  DWORD e = load(&t);
  if (e == ERROR_SUCCESS) e = failure(&t, "add");
  if (e == ERROR_SUCCESS && find(&t, si->shi502_netname))
    e = NERR_DuplicateShare;
  /* NetShareAdd shares existing folders only. */
  if (e == ERROR_SUCCESS) {
    DWORD a = GetFileAttributesW(si->shi502_path);
    if (a == INVALID_FILE_ATTRIBUTES || !(a & FILE_ATTRIBUTE_DIRECTORY))
      e = NERR_UnknownDevDir;
  }
  char sdtext[PM_HOST_TEXT_MAX] = "";
  if (e == ERROR_SUCCESS && si->shi502_security_descriptor &&
      pmw_sd_format(si->shi502_security_descriptor, sdtext, sizeof sdtext) <
          0)
    e = ERROR_INVALID_SECURITY_DESCR;
  char *f[6] = {NULL};
  if (e == ERROR_SUCCESS) {
    pmw_to_utf8(si->shi502_netname, (size_t)-1, &f[0], NULL);
    f[1] = pm_xasprintf("%lu", (unsigned long)si->shi502_type);
    f[2] = pm_xasprintf("%lu", (unsigned long)si->shi502_max_uses);
    pmw_to_utf8(si->shi502_path, (size_t)-1, &f[3], NULL);
    if (si->shi502_remark)
      pmw_to_utf8(si->shi502_remark, (size_t)-1, &f[4], NULL);
    if (!f[4]) f[4] = pm_xstrdup("");
    f[5] = pm_xstrdup(sdtext);
    bool ok = f[0] && f[3];
    if (ok) {
      t.l = pm_xrealloc(t.l, (t.n + 1) * sizeof *t.l);
      line *l = &t.l[t.n++];
      l->nf = 6;
      for (int i = 0; i < 6; i++) l->f[i] = f[i];
      e = save(&t);
    } else {
      e = ERROR_INVALID_PARAMETER;
    }
  }
  for (int i = 0; i < 6; i++) free(f[i]);
  table_free(&t);
  return e;
}

static NET_API_STATUS WINAPI sf_del(LPWSTR server, LPWSTR name,
                                    DWORD reserved) {
  (void)server;
  (void)reserved;
  table t;
  DWORD e = load(&t);
  if (e == ERROR_SUCCESS) e = failure(&t, "del");
  line *l = e == ERROR_SUCCESS ? find(&t, name) : NULL;
  if (e == ERROR_SUCCESS && !l) e = NERR_NetNameNotFound;
  if (e == ERROR_SUCCESS) {
    size_t i = (size_t)(l - t.l);
    memmove(&t.l[i], &t.l[i + 1], (t.n - i - 1) * sizeof *l);
    t.n--;
    e = save(&t);
  }
  table_free(&t);
  return e;
}

static NET_API_STATUS WINAPI sf_enum(LPWSTR server, DWORD level, LPBYTE *buf,
                                     DWORD pref, LPDWORD read, LPDWORD total,
                                     LPDWORD resume) {
  (void)server;
  (void)pref;
  *buf = NULL;
  *read = *total = 0;
  if (level != 1) return ERROR_INVALID_LEVEL;
  table t;
  DWORD e = load(&t);
  if (e == ERROR_SUCCESS) e = failure(&t, "enum");
  if (e == ERROR_SUCCESS) {
    size_t size = (t.n + 1) * sizeof(SHARE_INFO_1);
    for (size_t i = 0; i < t.n; i++)
      size += (strlen(t.l[i].f[0]) + 1 +
               (t.l[i].nf > 4 ? strlen(t.l[i].f[4]) : 0) + 1) *
              sizeof(wchar_t);
    BYTE *b = pm_xcalloc(1, size), *at = b + (t.n + 1) * sizeof(SHARE_INFO_1);
    SHARE_INFO_1 *si = (SHARE_INFO_1 *)b;
    DWORD n = 0;
    for (size_t i = 0; i < t.n; i++) {
      if (t.l[i].nf != 6 || t.l[i].f[0][0] == '!') continue;
      si[n].shi1_netname = put_wide(&at, t.l[i].f[0]);
      si[n].shi1_type = (DWORD)strtoul(t.l[i].f[1], NULL, 10);
      si[n].shi1_remark = put_wide(&at, t.l[i].f[4]);
      n++;
    }
    *buf = b;
    *read = *total = n;
    if (resume) *resume = 0;
  }
  table_free(&t);
  return e;
}

static NET_API_STATUS WINAPI sf_free(LPVOID buf) {
  free(buf);
  return NERR_Success;
}

static const pmw_share_api share_file = {sf_get, sf_add, sf_del, sf_enum,
                                         sf_free, "a share table file"};

const pmw_share_api *pmw_share_file(const char *path) {
  free(file_path);
  file_path = pm_xstrdup(path);
  return &share_file;
}
