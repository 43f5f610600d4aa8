/* journal.c - the move's persistent state: the plan as discovered before
 * anything changed (with the exact bytes and types of every registry value
 * it rewrites), and the append-only step journal. Each journal record is
 * one line ending with the XXH3-128 of its text, so a record torn by a
 * crash is recognised and ignored; the plan file ends with the hash of its
 * whole text. Both are written through the host's file-system table. */
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "hash.h"
#include "orch.h"
#include "sys.h"
#include "util.h"

/* ---- small file helpers ---- */

/* State files are read whole, never through a symlink, and written
 * atomically (fileutil.h). The text is NUL-terminated for convenience,
 * but may hold NUL bytes of its own: callers use *len. */
#define STATE_MAX ((size_t)256 << 20)

static int read_all(const pm_fs_ops *fs, const char *path, char **out,
                    size_t *len) {
  return pm_file_read(fs, path, STATE_MAX, out, len);
}

static int write_atomic(const pm_fs_ops *fs, const char *path,
                        const char *data, size_t len) {
  return pm_file_write_atomic(fs, path, data, len, 0644, PM_FILE_SYNC);
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

static int hexdig(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

/* Undoes the writer's %XX escapes in place. Every '%' must start two hex
 * digits and the result must hold no NUL: anything else is not something
 * the writer made, and is refused instead of being read as something
 * else. */
static int unesc(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (*s == '%') {
      int hi = hexdig(s[1]), lo = hi < 0 ? -1 : hexdig(s[2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return PM_EFORMAT;
      *o++ = (char)(hi * 16 + lo);
      s += 2;
    } else {
      *o++ = *s;
    }
  }
  *o = '\0';
  return 0;
}

/* Copies a field into a fixed-size member of the plan; a field that does
 * not fit is refused rather than cut (a cut path would name another
 * folder). */
static int plan_field(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) return PM_EFORMAT;
  memcpy(dst, src, n + 1);
  return 0;
}

/* A decimal number that fills the whole field and fits in `max`. */
static int number(const char *s, uint64_t max, uint64_t *out) {
  if (!*s) return PM_EFORMAT;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return PM_EFORMAT;
    unsigned d = (unsigned)(*s - '0');
    if (v > (max - d) / 10) return PM_EFORMAT;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

static int flag(const char *s, bool *out) {
  if ((s[0] != '0' && s[0] != '1') || s[1]) return PM_EFORMAT;
  *out = s[0] == '1';
  return 0;
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
  unsigned lineno = 0;
  const char *why = NULL;
  while (rc == 0 && (line = pm_strsep(&save, "\n")) != NULL) {
    lineno++;
    char *f[12];
    int nf = 0;
    char *tok;
    char *rest = line;
    while (nf < 12 && (tok = pm_strsep(&rest, "\t")) != NULL) f[nf++] = tok;
    if (rest) {
      rc = PM_EFORMAT;
      why = "too many fields";
      break;
    }
    for (int i = 1; i < nf && rc == 0; i++) rc = unesc(f[i]);
    if (rc < 0) {
      why = "an escape that is not %XX, or an escaped NUL";
      break;
    }
    why = "a field that does not fit, or a malformed number";
    uint64_t n1 = 0, n2 = 0, n3 = 0;
    bool b = false;
    if (nf == 2 && !strcmp(f[0], "from"))
      rc = plan_field(p->from, sizeof p->from, f[1]);
    else if (nf == 2 && !strcmp(f[0], "to"))
      rc = plan_field(p->to, sizeof p->to, f[1]);
    else if (nf == 2 && !strcmp(f[0], "from_native"))
      rc = plan_field(p->from_native, sizeof p->from_native, f[1]);
    else if (nf == 2 && !strcmp(f[0], "to_native"))
      rc = plan_field(p->to_native, sizeof p->to_native, f[1]);
    else if (nf == 5 && !strcmp(f[0], "tree")) {
      rc = number(f[1], UINT64_MAX, &n1);
      if (rc == 0) rc = number(f[2], UINT64_MAX, &n2);
      if (rc == 0) rc = number(f[3], UINT64_MAX, &n3);
      if (rc == 0) rc = flag(f[4], &b);
      if (rc == 0) {
        p->files = n1;
        p->dirs = n2;
        p->bytes = n3;
        p->target_existed = b;
      }
    } else if (nf == 7 && !strcmp(f[0], "share")) {
      p->have_share = true;
      rc = plan_field(p->share.name, sizeof p->share.name, f[1]);
      if (rc == 0) rc = number(f[2], UINT32_MAX, &n1);
      if (rc == 0) rc = number(f[3], UINT32_MAX, &n2);
      if (rc == 0) rc = plan_field(p->share.path, sizeof p->share.path, f[4]);
      if (rc == 0) rc = plan_field(p->share.remark, sizeof p->share.remark, f[5]);
      if (rc == 0) rc = plan_field(p->share.sddl, sizeof p->share.sddl, f[6]);
      p->share.type = (uint32_t)n1;
      p->share.max_uses = (uint32_t)n2;
    } else if (nf == 4 && !strcmp(f[0], "service")) {
      p->svcs = pm_xrealloc(p->svcs, (p->nsvcs + 1) * sizeof *p->svcs);
      orch_service *s = &p->svcs[p->nsvcs++];
      memset(s, 0, sizeof *s);
      rc = plan_field(s->name, sizeof s->name, f[1]);
      if (rc == 0) rc = number(f[2], INT32_MAX, &n1);
      if (rc == 0) rc = flag(f[3], &b);
      s->role = (int)n1;
      s->was_running = b;
    } else if (nf == 8 && !strcmp(f[0], "value")) {
      pm_reg_value o = {0}, n = {0};
      rc = number(f[4], UINT32_MAX, &n1);
      if (rc == 0) rc = number(f[6], UINT32_MAX, &n2);
      if (rc == 0) rc = number(f[3], INT32_MAX, &n3);
      o.type = (uint32_t)n1;
      n.type = (uint32_t)n2;
      if (rc == 0 && (hexbytes(f[5], &o) < 0 || hexbytes(f[7], &n) < 0))
        rc = PM_EFORMAT;
      p->vals = pm_xrealloc(p->vals, (p->nvals + 1) * sizeof *p->vals);
      orch_value *v = &p->vals[p->nvals++];
      memset(v, 0, sizeof *v);
      v->key = pm_xstrdup(f[1]);
      v->name = pm_xstrdup(f[2]);
      v->kind = (int)n3;
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
      why = "a line pomove does not write";
    } else if (nf == 1 && !f[0][0] && save) {
      /* Only the text after the last line end may be empty. */
      rc = PM_EFORMAT;
      why = "an empty line";
    }
  }
  if (rc < 0) {
    char *dp = pm_display_path(path);
    pm_oserr_set(0);
    pm_report_errorf(PM_EFORMAT, "read plan %s: line %u: %s", dp, lineno,
                     why ? why : "unreadable");
    free(dp);
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
           (long long)pm_wall_seconds());
  hash_hex(rec, strlen(rec), hex);
  snprintf(line, sizeof line, "%s %s\n", rec, hex);
  pm_fd fd;
  PM_TRY(pm_file_open_regular(j->fs, j->path, PM_O_WRONLY | PM_O_CREAT,
                              0644, &fd));
  pm_stat st;
  int rc = j->fs->fstat(fd, &st);
  /* A torn record left by a crash is cut off before appending, so that it
   * cannot end up in the middle of the journal. */
  uint64_t off = j->valid_len;
  if (rc == 0 && st.size != off) rc = j->fs->ftruncate(fd, off);
  if (rc == 0) rc = pm_file_write_all(j->fs, fd, line, strlen(line), off);
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
