/* plan.c - the plan of a move: everything it will change, found before
 * anything changes. Built here from what discover.c finds on the host
 * (the connector services, the registry values pointing into the old
 * Msmcon, the share of its Maildata, the tree) and the destination checks
 * (NTFS, room, not inside the source, no other postoffice there); printed
 * for `pomove plan` and the move's report (text or JSON); and kept as the
 * plan file of the move's state folder, with the exact bytes and types of
 * every registry value it rewrites, so that resume and rollback need
 * nothing else. The plan file ends with the XXH3-128 of its whole text and
 * is written and read through the host's file-system table. */
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "orch.h"
#include "sys.h"
#include "util.h"

void orch_plan_free(orch_plan *p) {
  for (size_t i = 0; i < p->nvals; i++) {
    free(p->vals[i].key);
    free(p->vals[i].name);
    free(p->vals[i].service);
    pm_reg_value_free(&p->vals[i].old);
    pm_reg_value_free(&p->vals[i].new_);
  }
  free(p->vals);
  free(p->svcs);
  memset(p, 0, sizeof *p);
}

orch_value *orch_plan_add_value(orch_plan *p, const char *key,
                                const char *name, int kind) {
  p->vals = pm_xrealloc(p->vals, (p->nvals + 1) * sizeof *p->vals);
  orch_value *v = &p->vals[p->nvals++];
  memset(v, 0, sizeof *v);
  v->key = pm_xstrdup(key);
  v->name = pm_xstrdup(name);
  v->kind = kind;
  /* ImagePath directly under a service key goes through the SCM. */
  size_t sk = strlen(ORCH_SERVICES_KEY);
  if (!pm_wstrcasecmp(name, "ImagePath") && pm_wprefix(key, ORCH_SERVICES_KEY) &&
      key[sk] == '\\' && !strchr(key + sk + 1, '\\')) {
    v->image_path = true;
    v->service = pm_xstrdup(key + sk + 1);
  }
  return v;
}

/* ---- building ---- */

int orch_plan_build(pm_host *h, const orch_options *o, orch_plan *p,
                    orch_result *res) {
  memset(p, 0, sizeof *p);
  /* A refusal (res->refused) is reported with the code it returns; an
   * error without it is the host's, which could not be read. */
  memset(res, 0, sizeof *res);
  if (!o->from || !o->to) {
    pm_report_errorf(PM_EINVAL, "move: --from and --to are required");
    res->refused = true;
    return PM_EINVAL;
  }
  if (orch_msmcon_from(o->from, p->from, sizeof p->from) < 0) {
    pm_report_errorf(PM_EINVAL,
                     "move: --from '%s' is not an Exchange path such as "
                     "C:\\exchsrvr or C:\\exchsrvr\\Connect\\Msmcon",
                     o->from);
    res->refused = true;
    return PM_EINVAL;
  }
  if (orch_msmcon_to(o->to, p->to, sizeof p->to) < 0) {
    pm_report_errorf(PM_EINVAL,
                     "move: --to '%s' is not a drive or path such as D: or "
                     "D:\\ExchSrvr",
                     o->to);
    res->refused = true;
    return PM_EINVAL;
  }
  int rc = h->vol->native_path(h, p->from, p->from_native,
                               sizeof p->from_native);
  pm_stat st;
  char *md = NULL;
  if (rc == 0) {
    md = pm_path_join(p->from_native, "Maildata");
    rc = pm_fs_stat(h->fs, md, true, &st);
    if (rc == 0 && st.type != PM_T_DIR) rc = PM_ENOTDIR;
  }
  if (rc < 0) {
    pm_report_errorf(rc, "move: no connector postoffice at %s (its Maildata "
                         "folder cannot be read: %s)",
                     p->from, pm_strerror(rc));
    free(md);
    res->refused = true;
    return rc;
  }
  free(md);
  rc = h->vol->native_path(h, p->to, p->to_native, sizeof p->to_native);
  if (rc < 0) {
    pm_report_errorf(rc, "move: destination %s: %s", p->to, pm_strerror(rc));
    res->refused = true;
    return rc;
  }
  if (pm_wpath_under(p->to, p->from) || pm_wpath_under(p->from, p->to)) {
    pm_report_errorf(PM_EINVAL,
                     "move: the destination %s lies inside the postoffice "
                     "%s (or contains it)",
                     p->to, p->from);
    res->refused = true;
    return PM_EINVAL;
  }

  rc = orch_find_services(h, p->from, p);
  if (rc < 0) return rc;
  bool have_msmi = false;
  for (size_t i = 0; i < p->nsvcs; i++)
    have_msmi |= p->svcs[i].role == ORCH_ROLE_MSMI;
  if (!have_msmi) {
    pm_report_errorf(PM_ENOENT,
                     "move: no MSExchangeMSMI service runs from %s\\Bin: is "
                     "this the connector postoffice in use?",
                     p->from);
    res->refused = true;
    return PM_ENOENT;
  }
  rc = orch_collect_values(h, p->from, p->to, p);
  if (rc < 0) return rc;

  /* The share of the old Maildata. */
  char *maildata = pm_xasprintf("%s\\Maildata", p->from);
  rc = orch_find_share(h, maildata, &p->share);
  free(maildata);
  if (rc < 0) return rc;
  p->have_share = rc > 0;

  /* Destination checks. */
  pm_vol_info vi;
  rc = h->vol->info(h, p->to, &vi);
  if (rc < 0) {
    pm_report_errorf(rc, "move: cannot read the volume of %s: %s", p->to,
                     pm_strerror(rc));
    res->refused = true;
    return rc;
  }
  if (pm_wstrcasecmp(vi.fs_type, "NTFS")) {
    pm_report_errorf(PM_EINVAL,
                     "move: the destination %.2s is %s; the connector "
                     "postoffice must move to an NTFS volume (KB Q171259)",
                     p->to, vi.fs_type);
    res->refused = true;
    return PM_EINVAL;
  }
  orch_tree_size ts = {0};
  rc = orch_measure_tree(h->fs, p->from_native, &ts);
  if (rc < 0) return rc;
  p->files = ts.files;
  p->dirs = ts.dirs;
  p->bytes = ts.bytes;
  int tk = orch_target_kind(h->fs, p->from_native, p->to_native);
  /* A staged copy of this postoffice is ours whatever the services have
   * written since (the move's final pass brings it up to date). */
  orch_stage sg;
  int sr = orch_stage_load(h, o->state_dir, &sg);
  /* A stage record that cannot be read (reported) is not guessed at. */
  if (sr < 0 && sr != PM_ENOENT) {
    res->refused = true;
    return sr;
  }
  if (sr == 0 && !strcmp(sg.from_native, p->from_native) &&
      !strcmp(sg.to_native, p->to_native)) {
    p->staged = sg.passes > 0;
    p->stage = sg;
    if (o->dry_run && p->staged) orch_stage_changed(h, &p->stage);
    tk = 1;
  }
  if (tk < 0) {
    pm_report_errorf(PM_EEXIST,
                     "move: %s already holds a different postoffice (or "
                     "other files); choose another destination",
                     p->to);
    res->refused = true;
    return PM_EEXIST;
  }
  p->target_existed = tk == 1;
  if (!p->target_existed && vi.free_bytes < ts.alloc) {
    char a[32], b[32];
    pm_report_errorf(PM_ENOSPC,
                     "move: the destination %.2s has %s free; the postoffice "
                     "needs %s",
                     p->to, pm_fmt_bytes(vi.free_bytes, a, sizeof a),
                     pm_fmt_bytes(ts.alloc, b, sizeof b));
    res->refused = true;
    return PM_ENOSPC;
  }
  return 0;
}

/* ---- printing ---- */

static const char *role_name(int r) {
  return r == ORCH_ROLE_MSMI    ? "MS Mail Connector Interchange"
         : r == ORCH_ROLE_ATMTA ? "MS Mail Connector (AppleTalk) MTA"
                                : "PC MTA instance";
}

static const char *kind_name(int k) {
  return k == ORCH_V_EVENTLOG ? "event log"
         : k == ORCH_V_MACVOL ? "Macintosh volume"
                              : "service";
}

const char *orch_short_key(const char *key) {
  static const char pre[] = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\";
  return pm_wprefix(key, pre) ? key + sizeof pre - 1 : key;
}

/* The running services' stop and start waves: wave[2 * i] and
 * wave[2 * i + 1]; the counts in *nstop and *nstart. Caller frees. */
static unsigned *plan_waves(const orch_plan *p, unsigned *nstop,
                            unsigned *nstart) {
  size_t n = p->nsvcs;
  bool *in = pm_xcalloc(n + 1, sizeof *in);
  unsigned *st = pm_xcalloc(n + 1, sizeof *st);
  unsigned *sa = pm_xcalloc(n + 1, sizeof *sa);
  unsigned *w = pm_xcalloc(2 * n + 1, sizeof *w);
  for (size_t i = 0; i < n; i++) in[i] = p->svcs[i].was_running;
  *nstop = orch_service_waves(p, in, true, st);
  *nstart = orch_service_waves(p, in, false, sa);
  for (size_t i = 0; i < n; i++) {
    w[2 * i] = st[i];
    w[2 * i + 1] = sa[i];
  }
  free(in);
  free(st);
  free(sa);
  return w;
}

/* "stop:  wave 1 A, B; wave 2 C" and the same for start. */
static void print_waves(const orch_plan *p, FILE *out) {
  unsigned ns, na;
  unsigned *w = plan_waves(p, &ns, &na);
  for (int start = 0; start < 2; start++) {
    unsigned nw = start ? na : ns;
    if (!nw) continue;
    fprintf(out, "  %s", start ? "start: " : "stop:  ");
    for (unsigned k = 1; k <= nw; k++) {
      fprintf(out, "%swave %u ", k > 1 ? "; " : "", k);
      const char *sep = "";
      for (size_t j = 0; j < p->nsvcs; j++) {
        /* Starting, in start order (the reverse of the stop order). */
        size_t i = start ? p->nsvcs - 1 - j : j;
        if (w[2 * i + (unsigned)start] != k) continue;
        fprintf(out, "%s%s", sep, p->svcs[i].name);
        sep = ", ";
      }
    }
    fputs("\n", out);
  }
  if (ns && p->deps_unknown)
    fprintf(out, "  (a plan of an earlier pomove, which kept no "
                 "dependencies: one service at a time)\n");
  else if (ns)
    fprintf(out, "  (a wave's services are asked together; the next wave "
                 "waits until all of them have stopped, or run)\n");
  free(w);
}

void orch_plan_print(const orch_plan *p, FILE *out) {
  char b[32];
  fprintf(out, "Move of the MS Mail connector postoffice (KB Q171259)\n");
  fprintf(out, "  from  %s\n  to    %s\n", p->from, p->to);
  fprintf(out, "  tree  %llu files in %llu folders, %s%s\n",
          (unsigned long long)p->files, (unsigned long long)p->dirs,
          pm_fmt_bytes(p->bytes, b, sizeof b),
          p->target_existed ? " (an earlier partial copy is completed)" : "");
  fprintf(out, "\nServices, in stop order, and the waves they stop and start "
               "in:\n");
  for (size_t i = 0; i < p->nsvcs; i++) {
    fprintf(out, "  %zu. %-32s %-34s %s", i + 1, p->svcs[i].name,
            role_name(p->svcs[i].role),
            p->svcs[i].was_running ? "running" : "stopped (left stopped)");
    const char *sep = "; needs ";
    for (const char *d = p->svcs[i].deps; *d; d += strlen(d) + 1) {
      fprintf(out, "%s%s", sep, d);
      sep = ", ";
    }
    fputs("\n", out);
  }
  print_waves(p, out);
  fprintf(out, "\nShare:\n");
  if (p->have_share)
    fprintf(out,
            "  %s  %s -> %s\\Maildata\n    remark \"%s\"\n    security "
            "descriptor %s\n",
            p->share.name, p->share.path, p->to, p->share.remark,
            p->share.sddl);
  else
    fprintf(out, "  none shares %s\\Maildata: no share is moved\n", p->from);
  fprintf(out, "\nRegistry values under HKLM\\SYSTEM\\CurrentControlSet "
               "(type kept):\n");
  for (size_t i = 0; i < p->nvals; i++) {
    const orch_value *v = &p->vals[i];
    char *o = pm_reg_value_display(&v->old), *n = pm_reg_value_display(&v->new_);
    fprintf(out, "  %s  \"%s\"  %s, %s\n      %s\n   -> %s\n",
            orch_short_key(v->key), v->name, pm_reg_type_name(v->old.type),
            kind_name(v->kind), o, n);
    free(o);
    free(n);
  }
  bool mac = false;
  for (size_t i = 0; i < p->nvals; i++) mac |= p->vals[i].kind == ORCH_V_MACVOL;
  if (!mac) fprintf(out, "  (no Macintosh volume points at Maildata)\n");
  fprintf(out, "\nSteps:\n");
  for (int k = 0; k < ORCH_NSTEPS; k++)
    fprintf(out, "  %2d. %-16s %s\n", k + 1, orch_step_name(k),
            orch_step_text(k));
}

void orch_plan_json(const orch_plan *p, FILE *out) {
  fputs("{\"from\":", out);
  pm_json_string(out, p->from);
  fputs(",\"to\":", out);
  pm_json_string(out, p->to);
  fprintf(out, ",\"files\":%llu,\"dirs\":%llu,\"bytes\":%llu",
          (unsigned long long)p->files, (unsigned long long)p->dirs,
          (unsigned long long)p->bytes);
  fputs(",\"services\":[", out);
  unsigned ns, na;
  unsigned *w = plan_waves(p, &ns, &na);
  for (size_t i = 0; i < p->nsvcs; i++) {
    fputs(i ? ",{\"name\":" : "{\"name\":", out);
    pm_json_string(out, p->svcs[i].name);
    fprintf(out, ",\"role\":\"%s\",\"was_running\":%s",
            p->svcs[i].role == ORCH_ROLE_MSMI    ? "msmi"
            : p->svcs[i].role == ORCH_ROLE_ATMTA ? "atmta"
                                                 : "pcmta",
            p->svcs[i].was_running ? "true" : "false");
    fputs(",\"depends_on\":[", out);
    for (const char *d = p->svcs[i].deps; *d; d += strlen(d) + 1) {
      if (d != p->svcs[i].deps) fputs(",", out);
      pm_json_string(out, d);
    }
    /* 0: not running, so neither stopped nor started. */
    fprintf(out, "],\"stop_wave\":%u,\"start_wave\":%u}", w[2 * i],
            w[2 * i + 1]);
  }
  free(w);
  fputs("],\"share\":", out);
  if (p->have_share) {
    fputs("{\"name\":", out);
    pm_json_string(out, p->share.name);
    fputs(",\"path\":", out);
    pm_json_string(out, p->share.path);
    fputs(",\"remark\":", out);
    pm_json_string(out, p->share.remark);
    fputs(",\"sddl\":", out);
    pm_json_string(out, p->share.sddl);
    fputs("}", out);
  } else {
    fputs("null", out);
  }
  fputs(",\"values\":[", out);
  for (size_t i = 0; i < p->nvals; i++) {
    const orch_value *v = &p->vals[i];
    char *o = pm_reg_value_display(&v->old), *n = pm_reg_value_display(&v->new_);
    fputs(i ? ",{\"key\":" : "{\"key\":", out);
    pm_json_string(out, v->key);
    fputs(",\"name\":", out);
    pm_json_string(out, v->name);
    fprintf(out, ",\"type\":\"%s\",\"kind\":\"%s\",\"old\":",
            pm_reg_type_name(v->old.type), kind_name(v->kind));
    pm_json_string(out, o);
    fputs(",\"new\":", out);
    pm_json_string(out, n);
    fputs("}", out);
    free(o);
    free(n);
  }
  fputs("],\"steps\":[", out);
  for (int k = 0; k < ORCH_NSTEPS; k++)
    fprintf(out, "%s\"%s\"", k ? "," : "", orch_step_name(k));
  fputs("]", out);
  if (p->staged) {
    fputs(",\"staged\":", out);
    orch_stage_json(&p->stage, out);
  }
  fputs("}", out);
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
    /* Its dependencies among the plan's services, '\\'-separated (no
     * service name holds one). A plan file without this field is an
     * earlier pomove's: deps_unknown. */
    char deps[sizeof p->svcs[i].deps];
    size_t n = 0;
    for (const char *d = p->svcs[i].deps; *d; d += strlen(d) + 1)
      n += (size_t)snprintf(deps + n, sizeof deps - n, "%s%s", n ? "\\" : "",
                            d);
    deps[n] = '\0';
    field(&b, deps);
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
  orch_state_hash_hex(b.s, b.n, hex);
  sputs(&b, "end ");
  sputs(&b, hex);
  sputs(&b, "\n");
  int rc = pm_file_write_atomic(h->fs, path, b.s, b.n, 0644, PM_FILE_SYNC);
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

/* A '\\'-separated list of names into a NUL-separated one ending with an
 * empty name; an empty name inside, or a list that does not fit, is
 * refused. */
static int dep_list(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n + 2 > cap) return PM_EFORMAT;
  if (!n) {
    dst[0] = '\0';
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    dst[i] = src[i] == '\\' ? '\0' : src[i];
    if (!dst[i] && (i == 0 || !dst[i - 1] || i == n - 1)) return PM_EFORMAT;
  }
  dst[n] = dst[n + 1] = '\0';
  return 0;
}

int orch_plan_load(pm_host *h, const char *path, orch_plan *p) {
  memset(p, 0, sizeof *p);
  char *text;
  size_t len;
  PM_TRY(orch_state_read(h->fs, path, &text, &len));
  /* Every byte accounted for: no NUL, and the file ends exactly after the
   * "end <hash>" line (nothing unchecked after it). */
  char *end = strstr(text, "\nend ");
  char hex[33];
  if (memchr(text, 0, len) || !end || strncmp(text, "pomove-plan 1\n", 14) ||
      (size_t)(end - text) + 5 + 32 + 1 != len || text[len - 1] != '\n') {
    free(text);
    return PM_EFORMAT;
  }
  orch_state_hash_hex(text, (size_t)(end - text) + 1, hex);
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
    } else if ((nf == 4 || nf == 5) && !strcmp(f[0], "service")) {
      p->svcs = pm_xrealloc(p->svcs, (p->nsvcs + 1) * sizeof *p->svcs);
      orch_service *s = &p->svcs[p->nsvcs++];
      memset(s, 0, sizeof *s);
      rc = plan_field(s->name, sizeof s->name, f[1]);
      if (rc == 0) rc = number(f[2], INT32_MAX, &n1);
      if (rc == 0) rc = flag(f[3], &b);
      s->role = (int)n1;
      s->was_running = b;
      if (nf == 4) p->deps_unknown = true;
      else if (rc == 0) rc = dep_list(s->deps, sizeof s->deps, f[4]);
    } else if (nf == 8 && !strcmp(f[0], "value")) {
      pm_reg_value o = {0}, n = {0};
      rc = number(f[4], UINT32_MAX, &n1);
      if (rc == 0) rc = number(f[6], UINT32_MAX, &n2);
      if (rc == 0) rc = number(f[3], INT32_MAX, &n3);
      o.type = (uint32_t)n1;
      n.type = (uint32_t)n2;
      if (rc == 0 && (hexbytes(f[5], &o) < 0 || hexbytes(f[7], &n) < 0))
        rc = PM_EFORMAT;
      orch_value *v = orch_plan_add_value(p, f[1], f[2], (int)n3);
      v->old = o;
      v->new_ = n;
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
