/* host.c - the OS-independent part of host.h: opening a host by name,
 * validating its tables, string lists, registry value helpers, UTF-8 and
 * UTF-16 conversion and Windows-style case-insensitive comparison. The
 * backends live in platform/sim/ (and platform/win32/). */
#include "host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void pm_strlist_add(pm_strlist *l, const char *s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 8;
    l->v = pm_xrealloc(l->v, l->cap * sizeof *l->v);
  }
  l->v[l->n++] = pm_xstrdup(s);
}

void pm_strlist_free(pm_strlist *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

const char *pm_reg_type_name(uint32_t type) {
  switch (type) {
  case PM_REG_NONE: return "REG_NONE";
  case PM_REG_SZ: return "REG_SZ";
  case PM_REG_EXPAND_SZ: return "REG_EXPAND_SZ";
  case PM_REG_BINARY: return "REG_BINARY";
  case PM_REG_DWORD: return "REG_DWORD";
  case PM_REG_DWORD_BE: return "REG_DWORD_BIG_ENDIAN";
  case PM_REG_LINK: return "REG_LINK";
  case PM_REG_MULTI_SZ: return "REG_MULTI_SZ";
  case PM_REG_QWORD: return "REG_QWORD";
  default: return "REG_UNKNOWN";
  }
}

const char *pm_svc_state_name(pm_svc_state s) {
  switch (s) {
  case PM_SVC_STOPPED: return "stopped";
  case PM_SVC_START_PENDING: return "start pending";
  case PM_SVC_STOP_PENDING: return "stop pending";
  case PM_SVC_RUNNING: return "running";
  default: return "unknown";
  }
}

void pm_reg_value_free(pm_reg_value *v) {
  free(v->data);
  v->data = NULL;
  v->len = 0;
}

void pm_reg_value_copy(pm_reg_value *dst, const pm_reg_value *src) {
  dst->type = src->type;
  dst->len = src->len;
  dst->data = NULL;
  if (src->len) {
    dst->data = pm_xmalloc(src->len);
    memcpy(dst->data, src->data, src->len);
  }
}

bool pm_reg_value_equal(const pm_reg_value *a, const pm_reg_value *b) {
  return a->type == b->type && a->len == b->len &&
         (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void set_units(pm_reg_value *v, uint32_t type, const uint16_t *u,
                      size_t units) {
  v->type = type;
  v->len = units * 2;
  v->data = pm_xmalloc(v->len ? v->len : 1);
  for (size_t i = 0; i < units; i++) {
    v->data[2 * i] = (uint8_t)(u[i] & 0xFF);
    v->data[2 * i + 1] = (uint8_t)(u[i] >> 8);
  }
}

void pm_reg_value_set_str(pm_reg_value *v, uint32_t type, const char *utf8) {
  size_t units;
  uint16_t *u = pm_utf8_to_utf16(utf8, strlen(utf8), &units);
  /* Keep the terminating NUL, as RegSetValueExW callers must. */
  set_units(v, type, u, units + 1);
  free(u);
}

void pm_reg_value_set_multi(pm_reg_value *v, const pm_strlist *items) {
  size_t cap = 64;
  uint16_t *all = pm_xmalloc(cap * sizeof *all);
  size_t n = 0;
  for (size_t i = 0; i < items->n; i++) {
    size_t units;
    uint16_t *u = pm_utf8_to_utf16(items->v[i], strlen(items->v[i]), &units);
    while (n + units + 2 > cap) all = pm_xrealloc(all, (cap *= 2) * 2);
    memcpy(all + n, u, units * 2);
    n += units;
    all[n++] = 0;
    free(u);
  }
  all[n++] = 0;
  set_units(v, PM_REG_MULTI_SZ, all, n);
  free(all);
}

void pm_reg_value_set_dword(pm_reg_value *v, uint32_t dw) {
  v->type = PM_REG_DWORD;
  v->len = 4;
  v->data = pm_xmalloc(4);
  for (int i = 0; i < 4; i++) v->data[i] = (uint8_t)(dw >> (8 * i));
}

static bool is_str_type(uint32_t t) {
  return t == PM_REG_SZ || t == PM_REG_EXPAND_SZ || t == PM_REG_LINK;
}

static uint16_t *units_of(const pm_reg_value *v, size_t *n) {
  *n = v->len / 2;
  uint16_t *u = pm_xmalloc((*n + 1) * sizeof *u);
  for (size_t i = 0; i < *n; i++)
    u[i] = (uint16_t)(v->data[2 * i] | (v->data[2 * i + 1] << 8));
  u[*n] = 0;
  return u;
}

char *pm_reg_value_str(const pm_reg_value *v) {
  if (!is_str_type(v->type)) return NULL;
  size_t n;
  uint16_t *u = units_of(v, &n);
  size_t len = 0;
  while (len < n && u[len]) len++;
  char *s = pm_utf16_to_utf8(u, len);
  free(u);
  return s;
}

int pm_reg_value_multi(const pm_reg_value *v, pm_strlist *out) {
  if (v->type != PM_REG_MULTI_SZ) return PM_EINVAL;
  size_t n;
  uint16_t *u = units_of(v, &n);
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && u[j]) j++;
    /* An empty string ends the list (the final double NUL). */
    if (j == i) break;
    char *s = pm_utf16_to_utf8(u + i, j - i);
    pm_strlist_add(out, s);
    free(s);
    i = j + 1;
  }
  free(u);
  return 0;
}

char *pm_reg_value_display(const pm_reg_value *v) {
  if (is_str_type(v->type)) return pm_reg_value_str(v);
  if (v->type == PM_REG_MULTI_SZ) {
    pm_strlist l = {0};
    pm_reg_value_multi(v, &l);
    size_t len = 1;
    for (size_t i = 0; i < l.n; i++) len += strlen(l.v[i]) + 3;
    char *s = pm_xmalloc(len);
    s[0] = '\0';
    for (size_t i = 0; i < l.n; i++) {
      if (i) strcat(s, " | ");
      strcat(s, l.v[i]);
    }
    pm_strlist_free(&l);
    return s;
  }
  if (v->type == PM_REG_DWORD && v->len == 4) {
    uint32_t d = (uint32_t)v->data[0] | (uint32_t)v->data[1] << 8 |
                 (uint32_t)v->data[2] << 16 | (uint32_t)v->data[3] << 24;
    return pm_xasprintf("0x%08x (%u)", d, d);
  }
  char *s = pm_xmalloc(v->len * 3 + 1);
  s[0] = '\0';
  for (size_t i = 0; i < v->len; i++)
    snprintf(s + 3 * i, 4, i + 1 < v->len ? "%02x," : "%02x", v->data[i]);
  return s;
}

/* ---- UTF-8 / UTF-16 ---- */

static uint32_t utf8_next(const unsigned char *s, size_t len, size_t *i) {
  unsigned char c = s[*i];
  uint32_t cp;
  size_t need;
  if (c < 0x80) {
    (*i)++;
    return c;
  } else if ((c & 0xE0) == 0xC0) {
    cp = c & 0x1F;
    need = 1;
  } else if ((c & 0xF0) == 0xE0) {
    cp = c & 0x0F;
    need = 2;
  } else if ((c & 0xF8) == 0xF0) {
    cp = c & 0x07;
    need = 3;
  } else {
    (*i)++;
    return 0xFFFD;
  }
  if (*i + need >= len) {
    (*i)++;
    return 0xFFFD;
  }
  for (size_t k = 1; k <= need; k++) {
    if ((s[*i + k] & 0xC0) != 0x80) {
      (*i)++;
      return 0xFFFD;
    }
    cp = (cp << 6) | (s[*i + k] & 0x3F);
  }
  *i += need + 1;
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
  return cp;
}

uint16_t *pm_utf8_to_utf16(const char *s, size_t len, size_t *units) {
  uint16_t *u = pm_xmalloc((len * 2 + 1) * sizeof *u);
  size_t n = 0, i = 0;
  const unsigned char *p = (const unsigned char *)s;
  while (i < len) {
    uint32_t cp = utf8_next(p, len, &i);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      u[n++] = (uint16_t)(0xD800 | (cp >> 10));
      u[n++] = (uint16_t)(0xDC00 | (cp & 0x3FF));
    } else {
      u[n++] = (uint16_t)cp;
    }
  }
  u[n] = 0;
  *units = n;
  return u;
}

char *pm_utf16_to_utf8(const uint16_t *s, size_t units) {
  char *o = pm_xmalloc(units * 3 + 1);
  size_t n = 0;
  for (size_t i = 0; i < units; i++) {
    uint32_t cp = s[i];
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < units && s[i + 1] >= 0xDC00 &&
        s[i + 1] <= 0xDFFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (s[i + 1] - 0xDC00);
      i++;
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
      cp = 0xFFFD;
    }
    if (cp < 0x80) {
      o[n++] = (char)cp;
    } else if (cp < 0x800) {
      o[n++] = (char)(0xC0 | (cp >> 6));
      o[n++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      o[n++] = (char)(0xE0 | (cp >> 12));
      o[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
      o[n++] = (char)(0x80 | (cp & 0x3F));
    } else {
      o = pm_xrealloc(o, units * 3 + 2 + n);
      o[n++] = (char)(0xF0 | (cp >> 18));
      o[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
      o[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
      o[n++] = (char)(0x80 | (cp & 0x3F));
    }
  }
  o[n] = '\0';
  return o;
}

/* ---- Windows-style comparisons ---- */

static int fold(int c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }

int pm_wstrcasecmp(const char *a, const char *b) {
  for (;; a++, b++) {
    int ca = fold((unsigned char)*a), cb = fold((unsigned char)*b);
    if (ca != cb || !ca) return ca - cb;
  }
}

bool pm_wprefix(const char *s, const char *prefix) {
  for (; *prefix; s++, prefix++)
    if (fold((unsigned char)*s) != fold((unsigned char)*prefix)) return false;
  return true;
}

bool pm_wpath_under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  while (n > 0 && dir[n - 1] == '\\') n--;
  for (size_t i = 0; i < n; i++)
    if (fold((unsigned char)path[i]) != fold((unsigned char)dir[i]))
      return false;
  return path[n] == '\0' || path[n] == '\\';
}

/* ---- Opening a host ---- */

static _Thread_local char open_detail[1024];

const char *pm_host_open_detail(void) { return open_detail; }

void pm__host_open_detail_set(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(open_detail, sizeof open_detail, fmt, ap);
  va_end(ap);
}

int pm_host_open(const char *spec, pm_host **out) {
  *out = NULL;
  open_detail[0] = '\0';
  const char *colon = strchr(spec, ':');
  size_t plen = colon ? (size_t)(colon - spec) : strlen(spec);
  for (const pm_host_backend *const *b = pm__host_backends(); *b; b++) {
    if (strlen((*b)->prefix) == plen && !strncmp((*b)->prefix, spec, plen)) {
      int rc = (*b)->open(colon ? colon + 1 : "", out);
      if (rc < 0) return rc;
      snprintf((*out)->name, sizeof (*out)->name, "%s", spec);
      return pm_host_validate(*out);
    }
  }
  return PM_EINVAL;
}

const char *pm_host_default_spec(void) {
  for (const pm_host_backend *const *b = pm__host_backends(); *b; b++)
    if ((*b)->is_default) return (*b)->prefix;
  return NULL;
}

void pm_host_close(pm_host *h) {
  if (h && h->close) h->close(h);
}

int pm_host_validate(const pm_host *h) {
  if (!h->svc || !h->share || !h->reg || !h->vol || !h->fs) return PM_EINVAL;
  const pm_svc_ops *s = h->svc;
  const pm_share_ops *sh = h->share;
  const pm_reg_ops *r = h->reg;
  const pm_vol_ops *v = h->vol;
  if (!s->list || !s->query || !s->stop || !s->start || !s->wait ||
      !s->set_image_path)
    return PM_EINVAL;
  if (!sh->list || !sh->get || !sh->add || !sh->del) return PM_EINVAL;
  if (!r->subkeys || !r->values || !r->get || !r->set || !r->del)
    return PM_EINVAL;
  if (!v->info || !v->native_path) return PM_EINVAL;
  return pm_fs_validate(h->fs);
}
