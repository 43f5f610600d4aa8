/* regfile.c - the REGEDIT5 `.reg` reader and writer and the in-memory
 * registry they fill (see host.h). The simulated host persists its whole
 * registry with it and the move writes its backups with it, so every file
 * pomove writes is importable by `reg import` / regedit: UTF-16LE with a
 * BOM, CRLF, "Windows Registry Editor Version 5.00", REG_SZ as quoted text,
 * REG_DWORD as dword:, everything else as hex(N): with regedit's wrapping.
 * Writing is deterministic (keys and values in their order), so a registry
 * read and written back is byte-identical. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "util.h"

typedef struct rvalue {
  char *name; /* "" for the default value */
  pm_reg_value v;
} rvalue;

typedef struct rkey {
  char *path;
  rvalue *vals;
  size_t nvals, capvals;
} rkey;

struct pm_regtree {
  rkey *keys;
  size_t n, cap;
};

pm_regtree *pm_regtree_new(void) { return pm_xcalloc(1, sizeof(pm_regtree)); }

static void key_free(rkey *k) {
  for (size_t i = 0; i < k->nvals; i++) {
    free(k->vals[i].name);
    pm_reg_value_free(&k->vals[i].v);
  }
  free(k->vals);
  free(k->path);
}

void pm_regtree_free(pm_regtree *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n; i++) key_free(&t->keys[i]);
  free(t->keys);
  free(t);
}

/* Full hive names, trailing backslashes removed. */
static char *norm_key(const char *key) {
  static const struct {
    const char *abbr, *full;
  } hives[] = {{"HKLM", "HKEY_LOCAL_MACHINE"},
               {"HKCU", "HKEY_CURRENT_USER"},
               {"HKCR", "HKEY_CLASSES_ROOT"},
               {"HKU", "HKEY_USERS"},
               {"HKCC", "HKEY_CURRENT_CONFIG"}};
  char *s = NULL;
  for (size_t i = 0; i < sizeof hives / sizeof hives[0]; i++) {
    size_t n = strlen(hives[i].abbr);
    if (pm_wprefix(key, hives[i].abbr) && (key[n] == '\\' || !key[n])) {
      s = pm_xasprintf("%s%s", hives[i].full, key + n);
      break;
    }
  }
  if (!s) s = pm_xstrdup(key);
  size_t n = strlen(s);
  while (n > 0 && s[n - 1] == '\\') s[--n] = '\0';
  return s;
}

static rkey *find_key(const pm_regtree *t, const char *path) {
  for (size_t i = 0; i < t->n; i++)
    if (!pm_wstrcasecmp(t->keys[i].path, path)) return &t->keys[i];
  return NULL;
}

static rkey *add_key(pm_regtree *t, const char *path) {
  rkey *k = find_key(t, path);
  if (k) return k;
  /* Create the ancestors first, as a regedit export lists them. */
  const char *bs = strrchr(path, '\\');
  if (bs) {
    char *parent = pm_xstrdup(path);
    parent[bs - path] = '\0';
    if (strchr(parent, '\\')) add_key(t, parent);
    free(parent);
  }
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 64;
    t->keys = pm_xrealloc(t->keys, t->cap * sizeof *t->keys);
  }
  k = &t->keys[t->n++];
  memset(k, 0, sizeof *k);
  k->path = pm_xstrdup(path);
  return k;
}

static rvalue *find_val(const rkey *k, const char *name) {
  for (size_t i = 0; i < k->nvals; i++)
    if (!pm_wstrcasecmp(k->vals[i].name, name)) return &k->vals[i];
  return NULL;
}

static void set_val(rkey *k, const char *name, const pm_reg_value *v) {
  rvalue *r = find_val(k, name);
  if (!r) {
    if (k->nvals == k->capvals) {
      k->capvals = k->capvals ? k->capvals * 2 : 8;
      k->vals = pm_xrealloc(k->vals, k->capvals * sizeof *k->vals);
    }
    r = &k->vals[k->nvals++];
    r->name = pm_xstrdup(name);
  } else {
    pm_reg_value_free(&r->v);
  }
  pm_reg_value_copy(&r->v, v);
}

static int del_val(rkey *k, const char *name) {
  rvalue *r = find_val(k, name);
  if (!r) return PM_ENOENT;
  size_t i = (size_t)(r - k->vals);
  free(r->name);
  pm_reg_value_free(&r->v);
  memmove(&k->vals[i], &k->vals[i + 1], (k->nvals - i - 1) * sizeof *r);
  k->nvals--;
  return 0;
}

static void del_key_tree(pm_regtree *t, const char *path) {
  size_t o = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (pm_wpath_under(t->keys[i].path, path))
      key_free(&t->keys[i]);
    else
      t->keys[o++] = t->keys[i];
  }
  t->n = o;
}

int pm_regtree_get(const pm_regtree *t, const char *key, const char *name,
                   pm_reg_value *out) {
  char *p = norm_key(key);
  rkey *k = find_key(t, p);
  free(p);
  rvalue *r = k ? find_val(k, name) : NULL;
  if (!r) return PM_ENOENT;
  pm_reg_value_copy(out, &r->v);
  return 0;
}

int pm_regtree_set(pm_regtree *t, const char *key, const char *name,
                   const pm_reg_value *v) {
  char *p = norm_key(key);
  set_val(add_key(t, p), name, v);
  free(p);
  return 0;
}

int pm_regtree_del(pm_regtree *t, const char *key, const char *name) {
  char *p = norm_key(key);
  rkey *k = find_key(t, p);
  free(p);
  return k ? del_val(k, name) : PM_ENOENT;
}

bool pm_regtree_has_key(const pm_regtree *t, const char *key) {
  char *p = norm_key(key);
  bool found = false;
  for (size_t i = 0; i < t->n && !found; i++)
    found = pm_wpath_under(t->keys[i].path, p);
  free(p);
  return found;
}

int pm_regtree_subkeys(const pm_regtree *t, const char *key,
                       pm_strlist *out) {
  char *p = norm_key(key);
  size_t plen = strlen(p);
  bool any = false;
  for (size_t i = 0; i < t->n; i++) {
    const char *kp = t->keys[i].path;
    if (!pm_wpath_under(kp, p)) continue;
    any = true;
    if (kp[plen] != '\\') continue;
    const char *c = kp + plen + 1;
    const char *end = strchr(c, '\\');
    size_t cl = end ? (size_t)(end - c) : strlen(c);
    char *name = pm_xmalloc(cl + 1);
    memcpy(name, c, cl);
    name[cl] = '\0';
    bool dup = false;
    for (size_t j = 0; j < out->n && !dup; j++)
      dup = !pm_wstrcasecmp(out->v[j], name);
    if (!dup) pm_strlist_add(out, name);
    free(name);
  }
  free(p);
  return any ? 0 : PM_ENOENT;
}

int pm_regtree_values(const pm_regtree *t, const char *key, pm_strlist *out) {
  char *p = norm_key(key);
  rkey *k = find_key(t, p);
  bool exists = k || pm_regtree_has_key(t, p);
  free(p);
  if (!exists) return PM_ENOENT;
  if (k)
    for (size_t i = 0; i < k->nvals; i++) pm_strlist_add(out, k->vals[i].name);
  return 0;
}

/* ---- Writing ---- */

typedef struct obuf {
  char *s;
  size_t n, cap;
  size_t col; /* column of the current line */
} obuf;

static void put(obuf *b, const char *s) {
  size_t l = strlen(s);
  if (b->n + l + 1 > b->cap) {
    while (b->n + l + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 4096;
    b->s = pm_xrealloc(b->s, b->cap);
  }
  memcpy(b->s + b->n, s, l + 1);
  b->n += l;
  const char *nl = strrchr(s, '\n');
  b->col = nl ? strlen(nl + 1) : b->col + l;
}

static void put_quoted(obuf *b, const char *s) {
  put(b, "\"");
  char c[2] = {0, 0};
  for (; *s; s++) {
    if (*s == '\\' || *s == '"') put(b, "\\");
    c[0] = *s;
    put(b, c);
  }
  put(b, "\"");
}

/* True when a REG_SZ survives as quoted text: whole UTF-16 units, exactly
 * one terminating NUL, no line breaks, and a clean round trip. */
static bool sz_as_text(const pm_reg_value *v) {
  if (v->len < 2 || v->len % 2) return false;
  size_t units = v->len / 2;
  if (v->data[v->len - 2] || v->data[v->len - 1]) return false;
  for (size_t i = 0; i + 1 < units; i++) {
    uint16_t u = (uint16_t)(v->data[2 * i] | v->data[2 * i + 1] << 8);
    if (u == 0 || u == '\r' || u == '\n') return false;
  }
  char *s = pm_reg_value_str(v);
  pm_reg_value back;
  pm_reg_value_set_str(&back, v->type, s);
  bool same = pm_reg_value_equal(&back, v);
  pm_reg_value_free(&back);
  free(s);
  return same;
}

static void put_hex(obuf *b, const pm_reg_value *v) {
  char tmp[32];
  if (v->type == PM_REG_BINARY)
    put(b, "hex:");
  else {
    snprintf(tmp, sizeof tmp, "hex(%x):", v->type);
    put(b, tmp);
  }
  for (size_t i = 0; i < v->len; i++) {
    snprintf(tmp, sizeof tmp, i + 1 < v->len ? "%02x," : "%02x", v->data[i]);
    put(b, tmp);
    /* regedit wraps after about 76 columns, continuing with two spaces. */
    if (i + 1 < v->len && b->col > 75) put(b, "\\\n  ");
  }
}

void pm_regtree_format(const pm_regtree *t, uint8_t **out, size_t *len) {
  obuf b = {0};
  put(&b, "Windows Registry Editor Version 5.00\n\n");
  char tmp[32];
  for (size_t i = 0; i < t->n; i++) {
    const rkey *k = &t->keys[i];
    put(&b, "[");
    put(&b, k->path);
    put(&b, "]\n");
    for (size_t j = 0; j < k->nvals; j++) {
      const rvalue *r = &k->vals[j];
      if (!r->name[0])
        put(&b, "@");
      else
        put_quoted(&b, r->name);
      put(&b, "=");
      if (r->v.type == PM_REG_SZ && sz_as_text(&r->v)) {
        char *s = pm_reg_value_str(&r->v);
        put_quoted(&b, s);
        free(s);
      } else if (r->v.type == PM_REG_DWORD && r->v.len == 4) {
        uint32_t d = (uint32_t)r->v.data[0] | (uint32_t)r->v.data[1] << 8 |
                     (uint32_t)r->v.data[2] << 16 |
                     (uint32_t)r->v.data[3] << 24;
        snprintf(tmp, sizeof tmp, "dword:%08x", d);
        put(&b, tmp);
      } else {
        put_hex(&b, &r->v);
      }
      put(&b, "\n");
    }
    put(&b, "\n");
  }
  /* To UTF-16LE with BOM and CRLF. */
  size_t units;
  uint16_t *u = pm_utf8_to_utf16(b.s, b.n, &units);
  size_t crs = 0;
  for (size_t i = 0; i < units; i++) crs += u[i] == '\n';
  uint8_t *o = pm_xmalloc(2 + 2 * (units + crs));
  size_t n = 0;
  o[n++] = 0xFF;
  o[n++] = 0xFE;
  for (size_t i = 0; i < units; i++) {
    if (u[i] == '\n') {
      o[n++] = '\r';
      o[n++] = 0;
    }
    o[n++] = (uint8_t)(u[i] & 0xFF);
    o[n++] = (uint8_t)(u[i] >> 8);
  }
  free(u);
  free(b.s);
  *out = o;
  *len = n;
}

/* ---- Reading ---- */

static int fail(char *err, size_t cap, unsigned line, const char *what) {
  if (err) snprintf(err, cap, "line %u: %s", line, what);
  return PM_EFORMAT;
}

/* Parses a quoted string at *p (escapes \\ and \"); *p ends after it. */
static char *parse_quoted(const char **p) {
  const char *s = *p;
  if (*s != '"') return NULL;
  s++;
  size_t cap = strlen(s) + 1, n = 0;
  char *o = pm_xmalloc(cap);
  while (*s && *s != '"') {
    if (*s == '\\' && s[1]) s++;
    o[n++] = *s++;
  }
  if (*s != '"') {
    free(o);
    return NULL;
  }
  o[n] = '\0';
  *p = s + 1;
  return o;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int parse_hex_bytes(const char *s, pm_reg_value *v) {
  size_t cap = strlen(s) / 2 + 1, n = 0;
  v->data = pm_xmalloc(cap);
  for (;;) {
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) break;
    int hi = hexval((unsigned char)s[0]);
    int lo = hi < 0 ? -1 : hexval((unsigned char)s[1]);
    if (lo < 0) return PM_EFORMAT;
    v->data[n++] = (uint8_t)(hi * 16 + lo);
    s += 2;
    while (*s == ' ' || *s == '\t') s++;
    if (*s == ',')
      s++;
    else if (*s)
      return PM_EFORMAT;
  }
  v->len = n;
  if (!n) {
    free(v->data);
    v->data = NULL;
  }
  return 0;
}

static int parse_value_line(pm_regtree *t, const char *key, const char *line,
                            unsigned ln, char *err, size_t cap) {
  const char *p = line;
  char *name;
  if (*p == '@') {
    name = pm_xstrdup("");
    p++;
  } else {
    name = parse_quoted(&p);
    if (!name) return fail(err, cap, ln, "bad value name");
  }
  while (*p == ' ') p++;
  if (*p != '=') {
    free(name);
    return fail(err, cap, ln, "'=' expected after the value name");
  }
  p++;
  while (*p == ' ') p++;
  if (!key) {
    free(name);
    return fail(err, cap, ln, "value outside a [key]");
  }
  int rc = 0;
  pm_reg_value v = {0};
  if (*p == '-' && !p[1]) {
    pm_regtree_del(t, key, name);
    free(name);
    return 0;
  } else if (*p == '"') {
    char *s = parse_quoted(&p);
    if (!s) rc = fail(err, cap, ln, "unterminated string");
    else {
      pm_reg_value_set_str(&v, PM_REG_SZ, s);
      free(s);
    }
  } else if (!strncmp(p, "dword:", 6)) {
    char *end;
    unsigned long d = strtoul(p + 6, &end, 16);
    if (end == p + 6 || *end || strlen(p + 6) > 8)
      rc = fail(err, cap, ln, "bad dword");
    else
      pm_reg_value_set_dword(&v, (uint32_t)d);
  } else if (!strncmp(p, "hex", 3)) {
    p += 3;
    uint32_t type = PM_REG_BINARY;
    if (*p == '(') {
      char *end;
      type = (uint32_t)strtoul(p + 1, &end, 16);
      if (*end != ')') rc = fail(err, cap, ln, "bad hex(type)");
      p = end + 1;
    }
    if (!rc && *p != ':') rc = fail(err, cap, ln, "':' expected after hex");
    if (!rc) {
      v.type = type;
      if (parse_hex_bytes(p + 1, &v) < 0)
        rc = fail(err, cap, ln, "bad hex byte list");
    }
  } else {
    rc = fail(err, cap, ln, "unknown data form");
  }
  if (!rc) pm_regtree_set(t, key, name, &v);
  pm_reg_value_free(&v);
  free(name);
  return rc;
}

int pm_regtree_parse(pm_regtree *t, const void *buf, size_t len, char *err,
                     size_t err_cap) {
  const uint8_t *b = buf;
  char *text;
  if (len >= 2 && b[0] == 0xFF && b[1] == 0xFE) {
    size_t units = (len - 2) / 2;
    uint16_t *u = pm_xmalloc((units + 1) * sizeof *u);
    for (size_t i = 0; i < units; i++)
      u[i] = (uint16_t)(b[2 + 2 * i] | b[3 + 2 * i] << 8);
    text = pm_utf16_to_utf8(u, units);
    free(u);
  } else {
    if (len >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) {
      b += 3;
      len -= 3;
    }
    text = pm_xmalloc(len + 1);
    memcpy(text, b, len);
    text[len] = '\0';
  }
  int rc = 0;
  char *key = NULL;
  bool header = false;
  unsigned ln = 0;
  char *save = text;
  char *logical = NULL;
  unsigned logical_ln = 0;
  while (save && !rc) {
    char *line = save;
    char *nl = strchr(line, '\n');
    if (nl) {
      *nl = '\0';
      save = nl + 1;
    } else {
      save = NULL;
    }
    ln++;
    size_t l = strlen(line);
    if (l && line[l - 1] == '\r') line[--l] = '\0';
    if (logical) {
      /* A continuation: leading blanks dropped. */
      while (*line == ' ' || *line == '\t') line++;
      char *joined = pm_xasprintf("%s%s", logical, line);
      free(logical);
      logical = joined;
    } else {
      if (!header) {
        if (!l) continue;
        if (strcmp(line, "Windows Registry Editor Version 5.00") &&
            strcmp(line, "REGEDIT4")) {
          rc = fail(err, err_cap, ln, "not a .reg file (header missing)");
          break;
        }
        header = true;
        continue;
      }
      if (!l || line[0] == ';') continue;
      logical = pm_xstrdup(line);
      logical_ln = ln;
    }
    size_t ll = strlen(logical);
    if (ll && logical[ll - 1] == '\\' && logical[0] != '[' && save) {
      logical[ll - 1] = '\0';
      continue;
    }
    if (logical[0] == '[') {
      char *end = strrchr(logical, ']');
      if (!end) {
        rc = fail(err, err_cap, logical_ln, "']' missing");
      } else {
        *end = '\0';
        free(key);
        key = NULL;
        if (logical[1] == '-') {
          char *p = norm_key(logical + 2);
          del_key_tree(t, p);
          free(p);
        } else {
          key = norm_key(logical + 1);
          add_key(t, key);
        }
      }
    } else {
      rc = parse_value_line(t, key, logical, logical_ln, err, err_cap);
    }
    free(logical);
    logical = NULL;
  }
  if (!rc && !header) rc = fail(err, err_cap, ln, "empty file");
  free(logical);
  free(key);
  free(text);
  return rc;
}

/* ---- Files ---- */

int pm_regtree_load(const pm_fs_ops *fs, const char *path, pm_regtree **out,
                    char *err, size_t err_cap) {
  *out = NULL;
  pm_fd fd;
  int rc = fs->open(path, PM_O_RDONLY, 0, &fd);
  if (rc < 0) return rc;
  pm_stat st;
  rc = fs->fstat(fd, &st);
  uint8_t *buf = NULL;
  size_t got = 0;
  if (rc == 0) {
    buf = pm_xmalloc(st.size + 1);
    while (got < st.size) {
      int64_t n = fs->pread(fd, buf + got, st.size - got, got);
      if (n < 0) {
        rc = (int)n;
        break;
      }
      if (n == 0) break;
      got += (size_t)n;
    }
  }
  fs->close(fd);
  if (rc == 0) {
    pm_regtree *t = pm_regtree_new();
    rc = pm_regtree_parse(t, buf, got, err, err_cap);
    if (rc < 0)
      pm_regtree_free(t);
    else
      *out = t;
  }
  free(buf);
  return rc;
}

int pm_regtree_save(const pm_fs_ops *fs, const char *path,
                    const pm_regtree *t) {
  uint8_t *data;
  size_t len;
  pm_regtree_format(t, &data, &len);
  char *tmp = pm_xasprintf("%s.tmp", path);
  pm_fd fd;
  int rc = fs->open(tmp, PM_O_WRONLY | PM_O_CREAT | PM_O_TRUNC, 0644, &fd);
  if (rc == 0) {
    size_t off = 0;
    while (off < len && rc == 0) {
      int64_t n = fs->pwrite(fd, data + off, len - off, off);
      if (n < 0)
        rc = (int)n;
      else
        off += (size_t)n;
    }
    if (rc == 0) rc = fs->fsync(fd, false);
    int rc2 = fs->close(fd);
    if (rc == 0) rc = rc2;
    if (rc == 0) rc = fs->rename(tmp, path);
    if (rc < 0) fs->unlink(tmp);
  }
  free(tmp);
  free(data);
  return rc;
}
