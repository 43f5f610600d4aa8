/* journal.c - the move's persistent state: the plan as discovered before
 * anything changed (with the exact bytes and types of every registry value
 * it rewrites), and the append-only step journal. Each journal record is
 * one line ending with the XXH3-128 of its text, so a record torn by a
 * crash is recognised and ignored; the plan file ends with the hash of its
 * whole text. Both are written through the host's file-system table. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "orch.h"
#include "util.h"

/* ---- small file helpers ---- */

/* Reads a state file whole, never through a symlink (pm_statefile_open);
 * PM_ESHORT when it shrinks while read. The text is NUL-terminated for
 * convenience, but may hold NUL bytes of its own: callers use *len. */
static int read_all(const pm_fs_ops *fs, const char *path, char **out,
                    size_t *len) {
  pm_fd fd;
  *out = NULL;
  *len = 0;
  PM_TRY(pm_statefile_open(fs, path, PM_O_RDONLY, 0, &fd));
  pm_stat st;
  int rc = fs->fstat(fd, &st);
  if (rc == 0) {
    char *b = pm_xmalloc(st.size + 1);
    size_t got = 0;
    while (got < st.size) {
      int64_t n = fs->pread(fd, b + got, st.size - got, got);
      if (n < 0) {
        rc = (int)n;
        break;
      }
      if (n == 0) {
        pm_oserr_set(0);
        rc = PM_ESHORT;
        break;
      }
      got += (size_t)n;
    }
    b[got] = '\0';
    if (rc == 0) {
      *out = b;
      *len = got;
    } else {
      free(b);
    }
  }
  fs->close(fd);
  return rc;
}

static int write_all_at(const pm_fs_ops *fs, pm_fd fd, const void *buf,
                        size_t len, uint64_t off) {
  const uint8_t *p = buf;
  while (len) {
    int64_t n = fs->pwrite(fd, p, len, off);
    if (n < 0) return (int)n;
    p += n;
    len -= (size_t)n;
    off += (uint64_t)n;
  }
  return 0;
}

static int write_atomic(const pm_fs_ops *fs, const char *path,
                        const char *data, size_t len) {
  return pm_statefile_write(fs, path, data, len, true);
}

static void hash_hex(const char *s, size_t len, char out[33]) {
  pm_hash128 h = pm_hash_buffer(s, len);
  pm_hash_hex(&h, out);
}

/* ---- the plan file ---- */

typedef struct sbuf {
  char *s;
  size_t n, cap;
} sbuf;

static void sput(sbuf *b, const char *s, size_t l) {
  if (b->n + l + 1 > b->cap) {
    while (b->n + l + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 4096;
    b->s = pm_xrealloc(b->s, b->cap);
  }
  memcpy(b->s + b->n, s, l);
  b->n += l;
  b->s[b->n] = '\0';
}

static void sputs(sbuf *b, const char *s) { sput(b, s, strlen(s)); }

/* A field: tab first, then the text with % \t \n \r as %XX. */
static void field(sbuf *b, const char *s) {
  sputs(b, "\t");
  char tmp[4];
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '%' || c == '\t' || c == '\n' || c == '\r') {
      snprintf(tmp, sizeof tmp, "%%%02X", c);
      sputs(b, tmp);
    } else {
      sput(b, s, 1);
    }
  }
}

static void field_u(sbuf *b, unsigned long long v) {
  char tmp[32];
  snprintf(tmp, sizeof tmp, "%llu", v);
  field(b, tmp);
}

static void field_val(sbuf *b, const pm_reg_value *v) {
  field_u(b, v->type);
  char *hex = pm_xmalloc(v->len * 2 + 1);
  for (size_t i = 0; i < v->len; i++)
    snprintf(hex + 2 * i, 3, "%02x", v->data[i]);
  hex[v->len * 2] = '\0';
  field(b, hex);
  free(hex);
}

int orch_plan_save(pm_host *h, const char *path, const orch_plan *p) {
  sbuf b = {0};
  sputs(&b, "pomove-plan 1\nfrom");
  field(&b, p->from);
  sputs(&b, "\nto");
  field(&b, p->to);
  sputs(&b, "\nfrom_native");
  field(&b, p->from_native);
  sputs(&b, "\nto_native");
  field(&b, p->to_native);
  sputs(&b, "\ntree");
  field_u(&b, p->files);
  field_u(&b, p->dirs);
  field_u(&b, p->bytes);
  field_u(&b, p->target_existed);
  sputs(&b, "\n");
  if (p->have_share) {
    sputs(&b, "share");
    field(&b, p->share.name);
    field_u(&b, p->share.type);
    field_u(&b, p->share.max_uses);
    field(&b, p->share.path);
    field(&b, p->share.remark);
    field(&b, p->share.sddl);
    sputs(&b, "\n");
  }
  for (size_t i = 0; i < p->nsvcs; i++) {
    sputs(&b, "service");
    field(&b, p->svcs[i].name);
    field_u(&b, (unsigned)p->svcs[i].role);
    field_u(&b, p->svcs[i].was_running);
    sputs(&b, "\n");
  }
  for (size_t i = 0; i < p->nvals; i++) {
    const orch_value *v = &p->vals[i];
    sputs(&b, "value");
    field(&b, v->key);
    field(&b, v->name);
    field_u(&b, (unsigned)v->kind);
    field_val(&b, &v->old);
    field_val(&b, &v->new_);
    sputs(&b, "\n");
  }
  char hex[33];
  hash_hex(b.s, b.n, hex);
  sputs(&b, "end ");
  sputs(&b, hex);
  sputs(&b, "\n");
  int rc = write_atomic(h->fs, path, b.s, b.n);
  free(b.s);
  return rc;
}

static void unesc(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (*s == '%' && s[1] && s[2]) {
      char x[3] = {s[1], s[2], 0};
      *o++ = (char)strtol(x, NULL, 16);
      s += 2;
    } else {
      *o++ = *s;
    }
  }
  *o = '\0';
}

static int hexdig(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

static int hexbytes(const char *s, pm_reg_value *v) {
  size_t n = strlen(s);
  if (n % 2) return PM_EFORMAT;
  v->len = n / 2;
  v->data = v->len ? pm_xmalloc(v->len) : NULL;
  for (size_t i = 0; i < v->len; i++) {
    int hi = hexdig(s[2 * i]), lo = hexdig(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return PM_EFORMAT;
    v->data[i] = (uint8_t)(hi * 16 + lo);
  }
  return 0;
}

int orch_plan_load(pm_host *h, const char *path, orch_plan *p) {
  memset(p, 0, sizeof *p);
  char *text;
  size_t len;
  PM_TRY(read_all(h->fs, path, &text, &len));
  /* Every byte accounted for: no NUL, and the file ends exactly after the
   * "end <hash>" line (nothing unchecked after it). */
  char *end = strstr(text, "\nend ");
  char hex[33];
  if (memchr(text, 0, len) || !end || strncmp(text, "pomove-plan 1\n", 14) ||
      (size_t)(end - text) + 5 + 32 + 1 != len || text[len - 1] != '\n') {
    free(text);
    return PM_EFORMAT;
  }
  hash_hex(text, (size_t)(end - text) + 1, hex);
  if (strncmp(end + 5, hex, 32)) {
    free(text);
    return PM_ECORRUPT;
  }
  end[1] = '\0';
  int rc = 0;
  char *save = text;
  char *line;
  while (rc == 0 && (line = strsep(&save, "\n")) != NULL) {
    char *f[12];
    int nf = 0;
    char *tok;
    char *rest = line;
    while (nf < 12 && (tok = strsep(&rest, "\t")) != NULL) f[nf++] = tok;
    for (int i = 1; i < nf; i++) unesc(f[i]);
    if (nf == 2 && !strcmp(f[0], "from"))
      snprintf(p->from, sizeof p->from, "%s", f[1]);
    else if (nf == 2 && !strcmp(f[0], "to"))
      snprintf(p->to, sizeof p->to, "%s", f[1]);
    else if (nf == 2 && !strcmp(f[0], "from_native"))
      snprintf(p->from_native, sizeof p->from_native, "%s", f[1]);
    else if (nf == 2 && !strcmp(f[0], "to_native"))
      snprintf(p->to_native, sizeof p->to_native, "%s", f[1]);
    else if (nf == 5 && !strcmp(f[0], "tree")) {
      p->files = strtoull(f[1], NULL, 10);
      p->dirs = strtoull(f[2], NULL, 10);
      p->bytes = strtoull(f[3], NULL, 10);
      p->target_existed = f[4][0] == '1';
    } else if (nf == 7 && !strcmp(f[0], "share")) {
      p->have_share = true;
      snprintf(p->share.name, sizeof p->share.name, "%s", f[1]);
      p->share.type = (uint32_t)strtoul(f[2], NULL, 10);
      p->share.max_uses = (uint32_t)strtoul(f[3], NULL, 10);
      snprintf(p->share.path, sizeof p->share.path, "%s", f[4]);
      snprintf(p->share.remark, sizeof p->share.remark, "%s", f[5]);
      snprintf(p->share.sddl, sizeof p->share.sddl, "%s", f[6]);
    } else if (nf == 4 && !strcmp(f[0], "service")) {
      p->svcs = pm_xrealloc(p->svcs, (p->nsvcs + 1) * sizeof *p->svcs);
      orch_service *s = &p->svcs[p->nsvcs++];
      memset(s, 0, sizeof *s);
      snprintf(s->name, sizeof s->name, "%s", f[1]);
      s->role = atoi(f[2]);
      s->was_running = f[3][0] == '1';
    } else if (nf == 8 && !strcmp(f[0], "value")) {
      pm_reg_value o = {0}, n = {0};
      o.type = (uint32_t)strtoul(f[4], NULL, 10);
      n.type = (uint32_t)strtoul(f[6], NULL, 10);
      if (hexbytes(f[5], &o) < 0 || hexbytes(f[7], &n) < 0) rc = PM_EFORMAT;
      p->vals = pm_xrealloc(p->vals, (p->nvals + 1) * sizeof *p->vals);
      orch_value *v = &p->vals[p->nvals++];
      memset(v, 0, sizeof *v);
      v->key = pm_xstrdup(f[1]);
      v->name = pm_xstrdup(f[2]);
      v->kind = atoi(f[3]);
      v->old = o;
      v->new_ = n;
      size_t sk = strlen(ORCH_SERVICES_KEY);
      if (!pm_wstrcasecmp(v->name, "ImagePath") &&
          pm_wprefix(v->key, ORCH_SERVICES_KEY) && v->key[sk] == '\\' &&
          !strchr(v->key + sk + 1, '\\')) {
        v->image_path = true;
        v->service = pm_xstrdup(v->key + sk + 1);
      }
    } else if (nf >= 1 && f[0][0] && strcmp(f[0], "pomove-plan 1")) {
      rc = PM_EFORMAT;
    }
  }
  free(text);
  if (rc < 0) orch_plan_free(p);
  return rc;
}

/* ---- the step journal ---- */

static int apply(orch_journal *j, const char *rec) {
  unsigned seq;
  char event[32];
  int step;
  if (sscanf(rec, "%u %31s %d", &seq, event, &step) != 3) return PM_EFORMAT;
  j->seq = seq;
  if (!strcmp(event, "start")) {
    j->started = true;
  } else if (!strcmp(event, "done") && step >= 0 && step < 32) {
    j->step_done[step] = 1;
  } else if (!strcmp(event, "move-done")) {
    j->move_done = true;
  } else if (!strcmp(event, "rollback-begin")) {
    j->rollback_begun = true;
  } else if (!strcmp(event, "rollback-done")) {
    j->rollback_done = true;
  } else if (!strcmp(event, "remove-old-begin")) {
    j->old_removed = true;
  }
  return 0;
}

int orch_journal_open(const pm_fs_ops *fs, const char *path,
                      orch_journal *j) {
  memset(j, 0, sizeof *j);
  j->fs = fs;
  j->path = pm_xstrdup(path);
  char *text;
  size_t len;
  int rc = read_all(fs, path, &text, &len);
  if (rc == PM_ENOENT) return 0;
  if (rc < 0) return rc;
  /* Records are taken by length, not by C string, so a NUL byte cannot end
   * the journal early: a record holding one fails like any damaged record
   * (refused in the middle, ignored as the torn last one). */
  char *p = text, *stop = text + len;
  while (p < stop) {
    char *nl = memchr(p, '\n', (size_t)(stop - p));
    /* The last record may be torn: no newline, or a wrong hash. */
    bool last = !nl || nl + 1 == stop;
    if (!nl) break;
    *nl = '\0';
    char *sp = strrchr(p, ' ');
    char hex[33];
    bool ok = false;
    if (!memchr(p, 0, (size_t)(nl - p)) && sp && strlen(sp + 1) == 32) {
      hash_hex(p, (size_t)(sp - p), hex);
      ok = !strcmp(hex, sp + 1);
    }
    if (ok) {
      *sp = '\0';
      rc = apply(j, p);
      if (rc < 0) ok = false;
      else j->valid_len = (uint64_t)(nl + 1 - text);
    }
    if (!ok && !last) {
      free(text);
      pm_oserr_set(0); /* the damage is in the text, not an OS failure */
      return PM_ECORRUPT;
    }
    rc = 0;
    p = nl + 1;
  }
  free(text);
  return 0;
}

int orch_journal_add(orch_journal *j, const char *event, int step) {
  char rec[128], line[200], hex[33];
  snprintf(rec, sizeof rec, "%u %s %d %lld", j->seq + 1, event, step,
           (long long)time(NULL));
  hash_hex(rec, strlen(rec), hex);
  snprintf(line, sizeof line, "%s %s\n", rec, hex);
  pm_fd fd;
  PM_TRY(pm_statefile_open(j->fs, j->path, PM_O_WRONLY | PM_O_CREAT, 0644,
                           &fd));
  pm_stat st;
  int rc = j->fs->fstat(fd, &st);
  /* A torn record left by a crash is cut off before appending, so that it
   * cannot end up in the middle of the journal. */
  uint64_t off = j->valid_len;
  if (rc == 0 && st.size != off) rc = j->fs->ftruncate(fd, off);
  if (rc == 0) rc = write_all_at(j->fs, fd, line, strlen(line), off);
  if (rc == 0) rc = j->fs->fsync(fd, false);
  int rc2 = j->fs->close(fd);
  if (rc == 0) rc = rc2;
  if (rc == 0) {
    apply(j, rec);
    j->valid_len = off + strlen(line);
  }
  return rc;
}

void orch_journal_close(orch_journal *j) {
  free(j->path);
  j->path = NULL;
}
