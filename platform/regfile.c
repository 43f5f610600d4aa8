/* regfile.c - the REGEDIT5 `.reg` reader and writer and the in-memory
 * registry they fill (see host.h). The simulated host persists its whole
 * registry with it and the move writes its backups with it, so every file
 * pomove writes is importable by `reg import` / regedit: UTF-16LE with a
 * BOM, CRLF, "Windows Registry Editor Version 5.00", REG_SZ as quoted text,
 * REG_DWORD as dword:, everything else as hex(N): with regedit's wrapping.
 * Writing is deterministic (keys and values in their order), so a registry
 * read and written back is byte-identical.
 *
 * The reader accounts for every byte: a U+0000, a cut UTF-16 unit, an
 * unpaired surrogate, invalid UTF-8, a last line without its line end, a
 * line it cannot read, is PM_EFORMAT naming the line, never a silent stop.
 * The tree only holds what the writer can write faithfully (pm_regtree_set
 * refuses the rest), so parse(format(x)) equals x for every tree.
 *
 * Keys are stored as a tree (each key holds its own name and its parent's
 * index), so memory grows with the input, not with the square of a key's
 * depth; depth and line length have documented limits (host.h).
 *
 * The end of the file also holds the one place where the move's own state
 * files are written and reopened without following a symlink. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "host.h"
#include "util.h"

#define NO_PARENT ((size_t)-1)

typedef struct rvalue {
  char *name; /* "" for the default value */
  pm_reg_value v;
} rvalue;

typedef struct rkey {
  size_t parent; /* index of the parent key; NO_PARENT for a hive */
  char *name;    /* this key's own name (one path component) */
  /* Written as [path]: every key except a hive that only exists because
   * a key below it was named (the files never list the hive itself). */
  bool listed;
  rvalue *vals;
  size_t nvals, capvals;
} rkey;

/* Keys in creation order; a parent always comes before its children. */
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
  free(k->name);
}

void pm_regtree_free(pm_regtree *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n; i++) key_free(&t->keys[i]);
  free(t->keys);
  free(t);
}

/* ---- Names: what the file format can carry ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not
 * one (overlong forms, surrogates and code points past U+10FFFF are not;
 * nor is NUL). *units receives its length in UTF-16 units. */
static size_t utf8_seq(const unsigned char *s, size_t avail, size_t *units) {
  unsigned c = s[0];
  *units = 1;
  if (c == 0) return 0;
  if (c < 0x80) return 1;
  size_t need;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (avail < need + 1) return 0;
  for (size_t i = 1; i <= need; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3F);
  }
  if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  if (cp >= 0x10000) *units = 2;
  return need + 1;
}

/* Checks one name (`len` bytes): valid UTF-8, no line break, at most
 * `max_units` UTF-16 units. NULL when fine, else why not. */
static const char *check_name(const char *s, size_t len, size_t max_units) {
  size_t units = 0;
  for (size_t i = 0; i < len;) {
    size_t u, l = utf8_seq((const unsigned char *)s + i, len - i, &u);
    if (!l) return "not valid UTF-8";
    if (s[i] == '\r' || s[i] == '\n') return "holds a line break";
    units += u;
    i += l;
  }
  if (units > max_units) return "too long";
  return NULL;
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

/* Checks a normalised key path: 1..PM_REG_DEPTH_MAX components separated
 * by single backslashes, each 1..PM_REG_KEY_NAME_MAX units of UTF-8 text
 * without a line break, and a hive name that does not start with '-'
 * (that would read back as a deletion). NULL when fine, else why not. */
static const char *check_key_path(const char *p) {
  if (!*p) return "empty key name";
  if (*p == '-') return "a key name starting with '-' reads as a deletion";
  size_t depth = 0;
  for (const char *c = p;;) {
    const char *bs = strchr(c, '\\');
    size_t l = bs ? (size_t)(bs - c) : strlen(c);
    if (!l) return "empty key name component ('\\\\' or a leading '\\')";
    if (++depth > PM_REG_DEPTH_MAX)
      return "key deeper than " PM_REG_STR(PM_REG_DEPTH_MAX) " levels";
    const char *why = check_name(c, l, PM_REG_KEY_NAME_MAX);
    if (why) return why[0] == 't' && why[1] == 'o'
                        ? "key name component longer than " PM_REG_STR(
                              PM_REG_KEY_NAME_MAX) " characters"
                        : why;
    if (!bs) break;
    c = bs + 1;
  }
  return NULL;
}

static const char *check_value_name(const char *name) {
  const char *why = check_name(name, strlen(name), PM_REG_VALUE_NAME_MAX);
  if (why && why[0] == 't' && why[1] == 'o')
    return "value name longer than " PM_REG_STR(PM_REG_VALUE_NAME_MAX)
           " characters";
  return why;
}

/* ---- The tree ---- */

static size_t find_child(const pm_regtree *t, size_t parent, const char *name,
                         size_t len) {
  for (size_t i = parent == NO_PARENT ? 0 : parent + 1; i < t->n; i++) {
    const rkey *k = &t->keys[i];
    if (k->parent != parent || strlen(k->name) != len) continue;
    size_t j = 0;
    while (j < len) {
      int a = (unsigned char)k->name[j], b = (unsigned char)name[j];
      if (a >= 'a' && a <= 'z') a -= 32;
      if (b >= 'a' && b <= 'z') b -= 32;
      if (a != b) break;
      j++;
    }
    if (j == len) return i;
  }
  return NO_PARENT;
}

/* The key at a normalised path, or NO_PARENT. */
static size_t find_key(const pm_regtree *t, const char *path) {
  size_t cur = NO_PARENT;
  const char *c = path;
  if (!*c) return NO_PARENT;
  for (;;) {
    const char *bs = strchr(c, '\\');
    size_t l = bs ? (size_t)(bs - c) : strlen(c);
    cur = find_child(t, cur, c, l);
    if (cur == NO_PARENT || !bs) return cur;
    c = bs + 1;
  }
}

/* Creates a checked, normalised path with its ancestors, as a regedit
 * export lists them; returns its index. */
static size_t add_key(pm_regtree *t, const char *path) {
  size_t cur = NO_PARENT;
  const char *c = path;
  for (;;) {
    const char *bs = strchr(c, '\\');
    size_t l = bs ? (size_t)(bs - c) : strlen(c);
    size_t next = find_child(t, cur, c, l);
    if (next == NO_PARENT) {
      if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->keys = pm_xrealloc(t->keys, t->cap * sizeof *t->keys);
      }
      rkey *k = &t->keys[t->n];
      memset(k, 0, sizeof *k);
      k->parent = cur;
      k->name = pm_xmalloc(l + 1);
      memcpy(k->name, c, l);
      k->name[l] = '\0';
      k->listed = cur != NO_PARENT;
      next = t->n++;
    }
    cur = next;
    if (!bs) break;
    c = bs + 1;
  }
  t->keys[cur].listed = true;
  return cur;
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

/* Removes the key at index `top` and everything below it; a hive that was
 * only there for it goes too, so that the tree stays what a file says. */
static void del_key_index(pm_regtree *t, size_t top) {
  size_t root = top;
  while (t->keys[root].parent != NO_PARENT) root = t->keys[root].parent;
  bool *dead = pm_xcalloc(t->n ? t->n : 1, sizeof *dead);
  size_t *map = pm_xmalloc((t->n ? t->n : 1) * sizeof *map);
  for (size_t i = top; i < t->n; i++)
    dead[i] = i == top ||
              (t->keys[i].parent != NO_PARENT && dead[t->keys[i].parent]);
  if (root != top && !t->keys[root].listed) {
    /* A live child means a live subtree: death only spreads down. */
    bool other = false;
    for (size_t i = root + 1; i < t->n && !other; i++)
      other = t->keys[i].parent == root && !dead[i];
    if (!other) dead[root] = true;
  }
  size_t o = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (dead[i]) {
      key_free(&t->keys[i]);
      map[i] = NO_PARENT;
      continue;
    }
    map[i] = o;
    rkey k = t->keys[i];
    if (k.parent != NO_PARENT) k.parent = map[k.parent];
    t->keys[o++] = k;
  }
  t->n = o;
  free(dead);
  free(map);
}

int pm_regtree_get(const pm_regtree *t, const char *key, const char *name,
                   pm_reg_value *out) {
  char *p = norm_key(key);
  size_t k = find_key(t, p);
  free(p);
  rvalue *r = k != NO_PARENT ? find_val(&t->keys[k], name) : NULL;
  if (!r) return PM_ENOENT;
  pm_reg_value_copy(out, &r->v);
  return 0;
}

static int set_checked(pm_regtree *t, const char *key, const char *name,
                       const pm_reg_value *v, const char **why) {
  char *p = norm_key(key);
  *why = check_key_path(p);
  if (!*why) *why = check_value_name(name);
  if (!*why) {
    size_t k = add_key(t, p); /* may move t->keys */
    set_val(&t->keys[k], name, v);
  }
  free(p);
  return *why ? PM_EINVAL : 0;
}

int pm_regtree_set(pm_regtree *t, const char *key, const char *name,
                   const pm_reg_value *v) {
  const char *why;
  return set_checked(t, key, name, v, &why);
}

int pm_regtree_del(pm_regtree *t, const char *key, const char *name) {
  char *p = norm_key(key);
  size_t k = find_key(t, p);
  free(p);
  return k != NO_PARENT ? del_val(&t->keys[k], name) : PM_ENOENT;
}

bool pm_regtree_has_key(const pm_regtree *t, const char *key) {
  char *p = norm_key(key);
  bool found = find_key(t, p) != NO_PARENT;
  free(p);
  return found;
}

int pm_regtree_subkeys(const pm_regtree *t, const char *key,
                       pm_strlist *out) {
  char *p = norm_key(key);
  size_t k = find_key(t, p);
  free(p);
  if (k == NO_PARENT) return PM_ENOENT;
  for (size_t i = k + 1; i < t->n; i++)
    if (t->keys[i].parent == k) pm_strlist_add(out, t->keys[i].name);
  return 0;
}

int pm_regtree_values(const pm_regtree *t, const char *key, pm_strlist *out) {
  char *p = norm_key(key);
  size_t k = find_key(t, p);
  free(p);
  if (k == NO_PARENT) return PM_ENOENT;
  for (size_t i = 0; i < t->keys[k].nvals; i++)
    pm_strlist_add(out, t->keys[k].vals[i].name);
  return 0;
}

bool pm_regtree_equal(const pm_regtree *a, const pm_regtree *b) {
  if (a->n != b->n) return false;
  for (size_t i = 0; i < a->n; i++) {
    const rkey *x = &a->keys[i], *y = &b->keys[i];
    if (x->parent != y->parent || x->listed != y->listed ||
        strcmp(x->name, y->name) || x->nvals != y->nvals)
      return false;
    for (size_t j = 0; j < x->nvals; j++)
      if (strcmp(x->vals[j].name, y->vals[j].name) ||
          !pm_reg_value_equal(&x->vals[j].v, &y->vals[j].v))
        return false;
  }
  return true;
}

/* ---- Writing ---- */

typedef struct obuf {
  char *s;
  size_t n, cap;
  size_t col; /* column of the current line */
} obuf;

static void putn(obuf *b, const char *s, size_t l) {
  if (b->n + l + 1 > b->cap) {
    while (b->n + l + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 4096;
    b->s = pm_xrealloc(b->s, b->cap);
  }
  memcpy(b->s + b->n, s, l);
  b->n += l;
  b->s[b->n] = '\0';
  const char *nl = NULL;
  for (size_t i = l; i-- > 0;)
    if (s[i] == '\n') {
      nl = s + i;
      break;
    }
  b->col = nl ? (size_t)(s + l - nl - 1) : b->col + l;
}

static void put(obuf *b, const char *s) { putn(b, s, strlen(s)); }

/* Length of s once quoted: regedit escapes only \ and ". */
static size_t quoted_len(const char *s) {
  size_t n = 2;
  for (; *s; s++) n += 1 + (*s == '\\' || *s == '"');
  return n;
}

static void put_quoted(obuf *b, const char *s) {
  put(b, "\"");
  while (*s) {
    size_t run = strcspn(s, "\\\"");
    putn(b, s, run);
    s += run;
    if (*s) {
      char e[3] = {'\\', *s, 0};
      put(b, e);
      s++;
    }
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

/* The full path of key k; the depth limit bounds the recursion. */
static void put_path(obuf *b, const pm_regtree *t, size_t k) {
  if (t->keys[k].parent != NO_PARENT) {
    put_path(b, t, t->keys[k].parent);
    put(b, "\\");
  }
  put(b, t->keys[k].name);
}

void pm_regtree_format(const pm_regtree *t, uint8_t **out, size_t *len) {
  obuf b = {0};
  put(&b, "Windows Registry Editor Version 5.00\n\n");
  char tmp[32];
  for (size_t i = 0; i < t->n; i++) {
    const rkey *k = &t->keys[i];
    if (!k->listed) continue;
    put(&b, "[");
    put_path(&b, t, i);
    put(&b, "]\n");
    for (size_t j = 0; j < k->nvals; j++) {
      const rvalue *r = &k->vals[j];
      if (!r->name[0])
        put(&b, "@");
      else
        put_quoted(&b, r->name);
      put(&b, "=");
      char *s = r->v.type == PM_REG_SZ && sz_as_text(&r->v)
                    ? pm_reg_value_str(&r->v)
                    : NULL;
      /* A string too long for one line of the reader goes as hex. */
      if (s && quoted_len(r->name) + quoted_len(s) + 8 > PM_REG_LINE_MAX) {
        free(s);
        s = NULL;
      }
      if (s) {
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

static int fail(char *err, size_t cap, unsigned long line, const char *what) {
  if (err && cap) snprintf(err, cap, "line %lu: %s", line, what);
  return PM_EFORMAT;
}

/* The file's bytes as UTF-8 text, every byte accounted for: UTF-16LE after
 * a BOM (an even count of bytes, no U+0000, surrogates in pairs), or UTF-8
 * with or without a BOM (valid, no NUL byte). A NUL can only be data in
 * hex form, never text. */
static int decode(const uint8_t *b, size_t len, char **text, size_t *tlen,
                  char *err, size_t cap) {
  unsigned long ln = 1;
  *text = NULL;
  if (len >= 2 && b[0] == 0xFF && b[1] == 0xFE) {
    size_t units = (len - 2) / 2;
    char *o = pm_xmalloc(units * 3 + 1);
    size_t n = 0;
    for (size_t i = 0; i < units; i++) {
      uint32_t cp = (uint32_t)(b[2 + 2 * i] | b[3 + 2 * i] << 8);
      if (cp == 0) {
        free(o);
        return fail(err, cap, ln, "U+0000 (NUL) in the text: only hex data "
                                  "may hold NUL bytes");
      }
      if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < units) {
        uint32_t lo = (uint32_t)(b[4 + 2 * i] | b[5 + 2 * i] << 8);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          i++;
        }
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) {
        free(o);
        return fail(err, cap, ln, "unpaired UTF-16 surrogate");
      }
      if (cp == '\n') ln++;
      if (cp < 0x80) {
        o[n++] = (char)cp;
      } else if (cp < 0x800) {
        o[n++] = (char)(0xC0 | (cp >> 6));
        o[n++] = (char)(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        o[n++] = (char)(0xE0 | (cp >> 12));
        o[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[n++] = (char)(0x80 | (cp & 0x3F));
      } else { /* two units gave four bytes: still within units * 3 */
        o[n++] = (char)(0xF0 | (cp >> 18));
        o[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[n++] = (char)(0x80 | (cp & 0x3F));
      }
    }
    o[n] = '\0';
    if ((len - 2) % 2) {
      free(o);
      return fail(err, cap, ln, "odd trailing byte: the file ends inside a "
                                "UTF-16 unit (truncated?)");
    }
    *text = o;
    *tlen = n;
    return 0;
  }
  if (len >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) {
    b += 3;
    len -= 3;
  }
  for (size_t i = 0; i < len;) {
    size_t u, l = utf8_seq(b + i, len - i, &u);
    if (!l)
      return fail(err, cap, ln,
                  b[i] ? "invalid UTF-8 (a UTF-16 file needs its BOM)"
                       : "NUL byte in the text: only hex data may hold NUL "
                         "bytes");
    if (b[i] == '\n') ln++;
    i += l;
  }
  char *o = pm_xmalloc(len + 1);
  memcpy(o, b, len);
  o[len] = '\0';
  *text = o;
  *tlen = len;
  return 0;
}

static bool blank(char c) { return c == ' ' || c == '\t'; }

/* Parses a quoted string at *p: regedit escapes \\ and \" and nothing
 * else. *p ends after it; NULL (with *why) when it is not well formed. */
static char *parse_quoted(const char **p, const char **why) {
  const char *s = *p;
  *why = "'\"' expected";
  if (*s != '"') return NULL;
  s++;
  char *o = pm_xmalloc(strlen(s) + 1);
  size_t n = 0;
  while (*s && *s != '"') {
    if (*s == '\\') {
      if (s[1] != '\\' && s[1] != '"') {
        free(o);
        *why = "unknown escape in a quoted string (only \\\\ and \\\")";
        return NULL;
      }
      s++;
    }
    o[n++] = *s++;
  }
  if (*s != '"') {
    free(o);
    *why = "unterminated string";
    return NULL;
  }
  o[n] = '\0';
  *p = s + 1;
  *why = NULL;
  return o;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* 1..8 hex digits at s as a 32-bit number; returns the digits' end or
 * NULL. */
static const char *parse_hex32(const char *s, uint32_t *out) {
  uint32_t v = 0;
  size_t n = 0;
  while (hexval((unsigned char)s[n]) >= 0) {
    if (n == 8) return NULL;
    v = v << 4 | (uint32_t)hexval((unsigned char)s[n]);
    n++;
  }
  if (!n) return NULL;
  *out = v;
  return s + n;
}

/* "xx,xx,...": two hex digits per byte, a byte after every comma. */
static int parse_hex_bytes(const char *s, pm_reg_value *v) {
  size_t cap = strlen(s) / 2 + 1, n = 0;
  v->data = pm_xmalloc(cap);
  while (blank(*s)) s++;
  while (*s) {
    int hi = hexval((unsigned char)s[0]);
    int lo = hi < 0 ? -1 : hexval((unsigned char)s[1]);
    if (lo < 0) return PM_EFORMAT;
    v->data[n++] = (uint8_t)(hi * 16 + lo);
    s += 2;
    while (blank(*s)) s++;
    if (*s == ',') {
      s++;
      while (blank(*s)) s++;
      if (!*s) return PM_EFORMAT;
    } else if (*s) {
      return PM_EFORMAT;
    }
  }
  v->len = n;
  if (!n) {
    free(v->data);
    v->data = NULL;
  }
  return 0;
}

/* True when a logical line is a value whose data is in hex form: only
 * those continue on the next line after a final backslash (a quoted
 * string may end with an escaped one, "C:\\"). */
static bool hex_value(const char *line) {
  const char *p = line;
  if (*p == '@') {
    p++;
  } else if (*p == '"') {
    for (p++; *p && *p != '"'; p++)
      if (*p == '\\' && p[1]) p++;
    if (*p != '"') return false;
    p++;
  } else {
    return false;
  }
  while (blank(*p)) p++;
  if (*p != '=') return false;
  p++;
  while (blank(*p)) p++;
  return !strncmp(p, "hex", 3);
}

static int parse_value_line(pm_regtree *t, const char *key, const char *line,
                            unsigned long ln, char *err, size_t cap) {
  const char *p = line, *why = NULL;
  char *name;
  if (*p == '@') {
    name = pm_xstrdup("");
    p++;
  } else {
    name = parse_quoted(&p, &why);
    if (!name) return fail(err, cap, ln, *line == '"' ? why : "bad line");
  }
  while (blank(*p)) p++;
  if (*p != '=') {
    free(name);
    return fail(err, cap, ln, "'=' expected after the value name");
  }
  p++;
  while (blank(*p)) p++;
  if (!key) {
    free(name);
    return fail(err, cap, ln, "value outside a [key]");
  }
  pm_reg_value v = {0};
  bool del = false;
  if (*p == '-') {
    del = true;
    p++;
  } else if (*p == '"') {
    char *s = parse_quoted(&p, &why);
    if (s) {
      pm_reg_value_set_str(&v, PM_REG_SZ, s);
      free(s);
    }
  } else if (!strncmp(p, "dword:", 6)) {
    uint32_t d;
    p = parse_hex32(p + 6, &d);
    if (p)
      pm_reg_value_set_dword(&v, d);
    else
      why = "bad dword (1 to 8 hex digits)";
  } else if (!strncmp(p, "hex", 3)) {
    p += 3;
    v.type = PM_REG_BINARY;
    if (*p == '(') {
      p = parse_hex32(p + 1, &v.type);
      if (!p || *p != ')') why = "bad hex(type): 1 to 8 hex digits";
      else p++;
    }
    if (!why && *p != ':') why = "':' expected after hex";
    if (!why && parse_hex_bytes(p + 1, &v) < 0)
      why = "bad hex byte list";
    if (!why) p += strlen(p);
  } else {
    why = "unknown data form";
  }
  if (!why) {
    while (blank(*p)) p++;
    if (*p) why = "unexpected text after the value's data";
  }
  if (!why && del)
    pm_regtree_del(t, key, name);
  else if (!why)
    set_checked(t, key, name, &v, &why);
  pm_reg_value_free(&v);
  free(name);
  return why ? fail(err, cap, ln, why) : 0;
}

/* A [key] or [-key] line (the whole logical line). */
static int parse_key_line(pm_regtree *t, char *line, char **key,
                          unsigned long ln, char *err, size_t cap) {
  size_t l = strlen(line);
  if (l < 2 || line[l - 1] != ']')
    return fail(err, cap, ln, "']' missing at the end of the key line");
  line[l - 1] = '\0';
  free(*key);
  *key = NULL;
  bool del = line[1] == '-';
  char *p = norm_key(line + 1 + del);
  const char *why = check_key_path(p);
  if (why) {
    free(p);
    return fail(err, cap, ln, why);
  }
  if (del) {
    size_t k = find_key(t, p);
    if (k != NO_PARENT) del_key_index(t, k);
    free(p);
  } else {
    add_key(t, p);
    *key = p;
  }
  return 0;
}

int pm_regtree_parse(pm_regtree *t, const void *buf, size_t len, char *err,
                     size_t err_cap) {
  if (err && err_cap) err[0] = '\0';
  char *text;
  size_t tlen;
  PM_TRY(decode(buf, len, &text, &tlen, err, err_cap));
  int rc = 0;
  char *key = NULL;
  bool header = false, cont = false;
  unsigned long ln = 0, logical_ln = 0;
  obuf logical = {0};
  size_t pos = 0;
  while (pos < tlen && !rc) {
    char *line = text + pos;
    char *nl = memchr(line, '\n', tlen - pos);
    ln++;
    if (!nl) {
      rc = fail(err, err_cap, ln, "the file ends inside a line (no line "
                                  "end: truncated?)");
      break;
    }
    *nl = '\0';
    pos = (size_t)(nl + 1 - text);
    size_t l = (size_t)(nl - line);
    if (l && line[l - 1] == '\r') line[--l] = '\0';
    if (l > PM_REG_LINE_MAX) {
      rc = fail(err, err_cap, ln, "line longer than " PM_REG_STR(
                                      PM_REG_LINE_MAX) " bytes");
      break;
    }
    if (cont) {
      /* A continuation: leading blanks dropped. */
      while (blank(*line)) line++;
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
      logical.n = 0;
      logical_ln = ln;
    }
    put(&logical, line);
    if (logical.n && logical.s[logical.n - 1] == '\\' &&
        hex_value(logical.s)) {
      logical.s[--logical.n] = '\0';
      cont = true;
      continue;
    }
    cont = false;
    if (logical.s[0] == '[')
      rc = parse_key_line(t, logical.s, &key, logical_ln, err, err_cap);
    else
      rc = parse_value_line(t, key, logical.s, logical_ln, err, err_cap);
  }
  if (!rc && cont)
    rc = fail(err, err_cap, ln, "the file ends inside a continued value");
  if (!rc && !header) rc = fail(err, err_cap, ln, "empty file");
  free(logical.s);
  free(key);
  free(text);
  return rc;
}

/* ---- Files ---- */

/* A registry export past this is not one pomove wrote (the whole
 * HKLM\SYSTEM of a server exports to a few MiB). */
#define REGFILE_MAX ((size_t)256 << 20)

int pm_regtree_load(const pm_fs *fs, const char *path, pm_regtree **out,
                    char *err, size_t err_cap) {
  *out = NULL;
  if (err && err_cap) err[0] = '\0';
  char *buf;
  size_t got;
  int rc = pm_file_read(fs, path, REGFILE_MAX, &buf, &got);
  if (rc < 0) return rc;
  pm_regtree *t = pm_regtree_new();
  rc = pm_regtree_parse(t, buf, got, err, err_cap);
  if (rc < 0)
    pm_regtree_free(t);
  else
    *out = t;
  free(buf);
  return rc;
}

int pm_regtree_save(const pm_fs *fs, const char *path,
                    const pm_regtree *t) {
  uint8_t *data;
  size_t len;
  pm_regtree_format(t, &data, &len);
  int rc = pm_file_write_atomic(fs, path, data, len, 0644, PM_FILE_SYNC);
  free(data);
  return rc;
}
