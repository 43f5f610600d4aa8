/* gen_postoffice.c - the deterministic connector postoffice generator (see
 * gen_postoffice.h). Layout, names and record sizes follow
 * ../shared/DOMAIN.md; what the KB does not say (file sizes of Bin\, the
 * share of each directory in a large postoffice, which GLB files are
 * read-only) is marked "guess" below.
 *
 * The tree is described once by plan_run(), which draws every name, size
 * and time from the seed in a fixed order, and is run three times: a dry
 * run measuring the raw sizes, a dry run with the sizes scaled to the
 * requested total (exact totals for the progress line), and the run that
 * writes. The draws never depend on the scale, so the three runs describe
 * the same tree. */
#include "gen_postoffice.h"

#include <stdio.h>
#include <string.h>

#include "gen_write.h"

/* 1997-01-01 .. 2005-01-01: Exchange 4.0 to the end of 5.5's life. */
#define PO_T0 852076800ll
#define PO_SPAN 252460800ll

enum po_class {
  CLS_FIXED, /* sizes set by the format: never scaled */
  CLS_SMALL, /* messages and logs: scaled down only */
  CLS_BULK,  /* attachments: carry the rest of the requested total */
  CLS_N
};

typedef struct po_plan {
  const po_gen_options *o;
  po_writer *w; /* NULL for a dry run */
  double scale[CLS_N];
  uint64_t sum[CLS_N];
  uint64_t files;
  uint64_t content_seq;
  po_rng r;
} po_plan;

/* The connector postoffice's directories (Q181951): no CAL, FOLDERS, INI,
 * MEM or MMF. */
static const char *const po_dirs[] = {"ATT", "GLB", "GRP", "HLP", "INF",
                                      "KEY", "LOG", "MAI", "MBG", "NME",
                                      "P1",  "TPL", "USR", "XTN"};
#define PO_NDIRS (sizeof po_dirs / sizeof po_dirs[0])

typedef struct po_binfile {
  const char *name;
  uint64_t size; /* guess: plausible sizes of the Exchange 5.5 SP4 files */
  po_content kind;
} po_binfile;

static const po_binfile po_bin[] = {
    {"Mt.exe", 357648, PO_CONTENT_BINARY},
    {"Mtmsg.dll", 41232, PO_CONTENT_BINARY},
    {"Address.dll", 28432, PO_CONTENT_BINARY},
    {"Mtperf.dll", 14608, PO_CONTENT_BINARY},
    {"Xtnperf.dll", 15120, PO_CONTENT_BINARY},
    {"MTPERF.INI", 4210, PO_CONTENT_TEXT},
    {"XTNPERF.INI", 3904, PO_CONTENT_TEXT},
    {"MACGPERF.INI", 3512, PO_CONTENT_TEXT},
    {"Macgate.exe", 412944, PO_CONTENT_BINARY},
    {"Macgperf.dll", 15632, PO_CONTENT_BINARY},
    {"Macsetup.exe", 88336, PO_CONTENT_BINARY},
    {"Conadmin.dll", 196880, PO_CONTENT_BINARY},
    {"Async.exe", 121616, PO_CONTENT_BINARY},
    {"Xtnmsg.dll", 24848, PO_CONTENT_BINARY},
};
#define PO_NBIN (sizeof po_bin / sizeof po_bin[0])

/* Templates and help files: read-only (Q127954); names are guesses. */
static const char *const po_tpl[] = {"ADMIN.TPL", "EXTERNAL.TPL",
                                     "GATEWAY.TPL", "MSMAIL.TPL"};
static const char *const po_hlp[] = {"ADMIN.HLP", "EXTERNAL.HLP",
                                     "MSMAIL.HLP"};

static const char *const po_macgate_dirs[] = {
    "Maildata/Macgate",           "Maildata/Macgate/Ini",
    "Maildata/Macgate/Badmail",   "Maildata/Macgate/Misc",
    "Maildata/Macgate/Store",     "Maildata/Macgate/Store/MacToPC",
    "Maildata/Macgate/Store/PCToMac"};

/* Files whose number does not depend on the request. */
static uint64_t fixed_count(const po_gen_options *o) {
  uint64_t n = PO_NDIRS + 32; /* POPULATE.MSM in each directory */
  n += 5;                     /* GLB */
  n += sizeof po_tpl / sizeof po_tpl[0] + sizeof po_hlp / sizeof po_hlp[0];
  if (o->with_bin) n += PO_NBIN;
  if (o->with_macgate) n += 2;
  return n;
}

/* A time `frac` of the way through the span, jittered by up to a day, at
 * NTFS's 100 ns resolution. */
static pm_time po_when(po_rng *r, double frac) {
  pm_time t;
  t.sec = PO_T0 + (int64_t)(frac * (double)PO_SPAN) +
          (int64_t)po_rng_below(r, 86400);
  t.nsec = (int32_t)po_rng_below(r, 10000000) * 100;
  return t;
}

static int emit_dir(po_plan *p, const char *rel) {
  pm_time t = po_when(&p->r, 0.9 + 0.1 * po_rng_unit(&p->r));
  return p->w ? po_writer_dir(p->w, rel, 0755, t) : 0;
}

/* `unit`: the record size the file is a multiple of (1: any size);
 * `max_units`: the format's limit on records (0: none). */
static int emit_file(po_plan *p, const char *rel, enum po_class cls,
                     uint64_t raw, uint32_t unit, uint64_t max_units,
                     bool readonly, pm_time t, po_content kind) {
  uint64_t size = raw;
  if (cls != CLS_FIXED) size = (uint64_t)((double)raw * p->scale[cls] + 0.5);
  if (unit > 1) {
    uint64_t n = (size + unit / 2) / unit;
    if (n == 0 && raw > 0) n = 1;
    if (max_units && n > max_units) n = max_units;
    size = n * unit;
  }
  p->sum[cls] += size;
  p->files++;
  uint64_t cseed = ++p->content_seq;
  if (!p->w) return 0;
  return po_writer_file(p->w, rel, size, readonly ? 0444 : 0644, t, cseed,
                        kind);
}

/* Files named by an 8-hex-digit id, in `dir` (hashed into dir/<pfx>0..F by
 * the id's last digit when pfx is set), with ids rising and times rising
 * with them, as a postoffice that has run for years would hold. */
typedef struct po_series {
  const char *dir, *pfx, *ext;
  enum po_class cls;
  uint64_t count;
  po_content kind;
} po_series;

static int emit_series(po_plan *p, const po_series *s,
                       uint64_t (*size_of)(po_rng *r), uint32_t unit,
                       uint64_t max_units) {
  uint32_t id = 0x100 + (uint32_t)po_rng_below(&p->r, 0x100);
  char rel[96];
  for (uint64_t i = 0; i < s->count; i++) {
    id += 1 + (uint32_t)po_rng_below(&p->r, 3);
    if (s->pfx)
      snprintf(rel, sizeof rel, "Maildata/%s/%s%X/%08X.%s", s->dir, s->pfx,
               id & 0xFu, id, s->ext);
    else
      snprintf(rel, sizeof rel, "Maildata/%s/%08X.%s", s->dir, id, s->ext);
    uint64_t raw = size_of(&p->r);
    pm_time t = po_when(&p->r, (double)i / (double)(s->count ? s->count : 1));
    PM_TRY(emit_file(p, rel, s->cls, raw, unit, max_units, false, t,
                     s->kind));
  }
  return 0;
}

/* Raw size draws. Message files are a few KB; attachments have a heavy
 * tail reaching a few MB (their median and sigma give the ~30 KiB average
 * file of the default request with a scale near 1). */
static uint64_t sz_mai(po_rng *r) {
  return po_rng_lognormal(r, 2600, 0.8, 300, 256 << 10);
}
static uint64_t sz_p1(po_rng *r) {
  return po_rng_lognormal(r, 1800, 0.6, 200, 64 << 10);
}
static uint64_t sz_att(po_rng *r) {
  return po_rng_lognormal(r, 32768, 1.6, 512, 8 << 20);
}
static uint64_t sz_log(po_rng *r) {
  return po_rng_lognormal(r, 65536, 1.0, 1024, 4 << 20);
}
static uint64_t sz_key(po_rng *r) {
  (void)r;
  return 560;
}
static uint64_t sz_mbg(po_rng *r) {
  /* Most mailbags hold a few hundred entries, some are full (4096). */
  double u = po_rng_unit(r);
  return 116 * (1 + (uint64_t)(u * u * 4095.0));
}
static uint64_t sz_nme(po_rng *r) { return 45 * (1 + po_rng_below(r, 200)); }
static uint64_t sz_usr(po_rng *r) { return 53 * (1 + po_rng_below(r, 400)); }
static uint64_t sz_grp(po_rng *r) { return 8 * (1 + po_rng_below(r, 64)); }
static uint64_t sz_xtn(po_rng *r) { return 698 * (1 + po_rng_below(r, 60)); }
static uint64_t sz_inf(po_rng *r) { return 200 + po_rng_below(r, 1800); }

static int plan_fixed(po_plan *p) {
  const po_gen_options *o = p->o;
  char rel[96];
  PM_TRY(emit_dir(p, ""));
  if (o->with_bin) {
    PM_TRY(emit_dir(p, "Bin"));
    for (size_t i = 0; i < PO_NBIN; i++) {
      snprintf(rel, sizeof rel, "Bin/%s", po_bin[i].name);
      /* Installed together by a service pack (guess: 1998-11). */
      pm_time t = {911260800ll + (int64_t)po_rng_below(&p->r, 3600), 0};
      PM_TRY(emit_file(p, rel, CLS_FIXED, po_bin[i].size, 1, 0, false, t,
                       po_bin[i].kind));
    }
  }
  PM_TRY(emit_dir(p, "Maildata"));
  for (size_t d = 0; d < PO_NDIRS; d++) {
    snprintf(rel, sizeof rel, "Maildata/%s", po_dirs[d]);
    PM_TRY(emit_dir(p, rel));
    /* POPULATE.MSM: read-only in every directory; empty (guess). */
    snprintf(rel, sizeof rel, "Maildata/%s/POPULATE.MSM", po_dirs[d]);
    PM_TRY(emit_file(p, rel, CLS_FIXED, 0, 1, 0, true, po_when(&p->r, 0),
                     PO_CONTENT_BINARY));
    bool hashed = !strcmp(po_dirs[d], "MAI") || !strcmp(po_dirs[d], "ATT");
    if (!hashed) continue;
    const char *pfx = po_dirs[d][0] == 'M' ? "MA" : "AT";
    for (unsigned h = 0; h < 16; h++) {
      snprintf(rel, sizeof rel, "Maildata/%s/%s%X", po_dirs[d], pfx, h);
      PM_TRY(emit_dir(p, rel));
      snprintf(rel, sizeof rel, "Maildata/%s/%s%X/POPULATE.MSM", po_dirs[d],
               pfx, h);
      PM_TRY(emit_file(p, rel, CLS_FIXED, 0, 1, 0, true, po_when(&p->r, 0),
                       PO_CONTENT_BINARY));
    }
  }
  /* Global files (Q77926 sizes). Which are read-only is a guess: the
   * ones the administrator program alone rewrites. */
  static const struct {
    const char *name;
    uint32_t unit; /* record size */
    uint32_t max;  /* records drawn in 1..max; 1: fixed size */
    bool ro;
  } glb[] = {
      {"CONTROL.GLB", 8, 1, true},    {"FLAG.GLB", 2, 1, false},
      {"MASTER.GLB", 176, 1, true},   {"ACCESS.GLB", 586, 20, false},
      {"NETWORK.GLB", 122, 40, true},
  };
  /* Each draw is its own statement: the order in which a call's arguments
   * are evaluated is unspecified, and the tree must not depend on the
   * compiler. */
  for (size_t i = 0; i < sizeof glb / sizeof glb[0]; i++) {
    snprintf(rel, sizeof rel, "Maildata/GLB/%s", glb[i].name);
    uint64_t size = glb[i].unit * (1 + po_rng_below(&p->r, glb[i].max));
    pm_time t = po_when(&p->r, 0.95);
    PM_TRY(emit_file(p, rel, CLS_FIXED, size, glb[i].unit, 0, glb[i].ro, t,
                     PO_CONTENT_BINARY));
  }
  for (size_t i = 0; i < sizeof po_tpl / sizeof po_tpl[0]; i++) {
    snprintf(rel, sizeof rel, "Maildata/TPL/%s", po_tpl[i]);
    uint64_t size = 400 + po_rng_below(&p->r, 3000);
    pm_time t = po_when(&p->r, 0);
    PM_TRY(emit_file(p, rel, CLS_FIXED, size, 1, 0, true, t,
                     PO_CONTENT_TEXT));
  }
  for (size_t i = 0; i < sizeof po_hlp / sizeof po_hlp[0]; i++) {
    snprintf(rel, sizeof rel, "Maildata/HLP/%s", po_hlp[i]);
    uint64_t size = (20 << 10) + po_rng_below(&p->r, 180 << 10);
    pm_time t = po_when(&p->r, 0);
    PM_TRY(emit_file(p, rel, CLS_FIXED, size, 1, 0, true, t,
                     PO_CONTENT_BINARY));
  }
  if (o->with_macgate) {
    for (size_t i = 0; i < sizeof po_macgate_dirs / sizeof *po_macgate_dirs;
         i++)
      PM_TRY(emit_dir(p, po_macgate_dirs[i]));
    uint64_t size = 1200 + po_rng_below(&p->r, 800);
    pm_time t = po_when(&p->r, 0.5);
    PM_TRY(emit_file(p, "Maildata/Macgate/Ini/MACGATE.INI", CLS_FIXED, size,
                     1, 0, false, t, PO_CONTENT_TEXT));
    size = 512 + po_rng_below(&p->r, 4096);
    t = po_when(&p->r, 0.9);
    PM_TRY(emit_file(p, "Maildata/Macgate/Misc/ZONES.DAT", CLS_FIXED, size,
                     1, 0, false, t, PO_CONTENT_BINARY));
  }
  return 0;
}

static int plan_run(po_plan *p) {
  const po_gen_options *o = p->o;
  po_rng_seed(&p->r, o->seed, 1);
  p->files = p->content_seq = 0;
  memset(p->sum, 0, sizeof p->sum);
  PM_TRY(plan_fixed(p));

  /* The share of each kind among the files beyond the fixed ones, per
   * mille (guess: messages dominate, then attachments). */
  uint64_t fixed = fixed_count(o);
  uint64_t rest = o->files > fixed ? o->files - fixed : 0;
  uint64_t n_att = rest * 220 / 1000, n_p1 = rest * 80 / 1000;
  uint64_t n_bag = rest * 10 / 1000, n_nme = rest * 15 / 1000;
  uint64_t n_usr = rest * 5 / 1000, n_grp = rest * 5 / 1000;
  uint64_t n_xtn = rest * 5 / 1000, n_inf = rest * 5 / 1000;
  uint64_t n_log = rest * 5 / 1000;
  uint64_t n_mac = o->with_macgate ? rest * 20 / 1000 : 0;
  uint64_t n_mai = rest - n_att - n_p1 - 2 * n_bag - n_nme - n_usr - n_grp -
                   n_xtn - n_inf - n_log - n_mac;

  const po_series s_mai = {"MAI", "MA", "MAI", CLS_SMALL, n_mai,
                           PO_CONTENT_BINARY};
  const po_series s_att = {"ATT", "AT", "ATT", CLS_BULK, n_att,
                           PO_CONTENT_BINARY};
  const po_series s_p1 = {"P1", NULL, "P1", CLS_SMALL, n_p1,
                          PO_CONTENT_BINARY};
  const po_series s_key = {"KEY", NULL, "KEY", CLS_FIXED, n_bag,
                           PO_CONTENT_BINARY};
  const po_series s_mbg = {"MBG", NULL, "MBG", CLS_FIXED, n_bag,
                           PO_CONTENT_BINARY};
  const po_series s_nme = {"NME", NULL, "NME", CLS_FIXED, n_nme,
                           PO_CONTENT_BINARY};
  const po_series s_usr = {"USR", NULL, "USR", CLS_FIXED, n_usr,
                           PO_CONTENT_BINARY};
  const po_series s_grp = {"GRP", NULL, "GRP", CLS_FIXED, n_grp,
                           PO_CONTENT_BINARY};
  const po_series s_xtn = {"XTN", NULL, "XTN", CLS_FIXED, n_xtn,
                           PO_CONTENT_BINARY};
  const po_series s_inf = {"INF", NULL, "INF", CLS_FIXED, n_inf,
                           PO_CONTENT_TEXT};
  const po_series s_log = {"LOG", NULL, "LOG", CLS_SMALL, n_log,
                           PO_CONTENT_TEXT};
  PM_TRY(emit_series(p, &s_mai, sz_mai, 1, 0));
  PM_TRY(emit_series(p, &s_att, sz_att, 1, 0));
  PM_TRY(emit_series(p, &s_p1, sz_p1, 1, 0));
  PM_TRY(emit_series(p, &s_key, sz_key, 560, 1));
  PM_TRY(emit_series(p, &s_mbg, sz_mbg, 116, 4096));
  PM_TRY(emit_series(p, &s_nme, sz_nme, 45, 0));
  PM_TRY(emit_series(p, &s_usr, sz_usr, 53, 0));
  PM_TRY(emit_series(p, &s_grp, sz_grp, 8, 0));
  PM_TRY(emit_series(p, &s_xtn, sz_xtn, 698, 0));
  PM_TRY(emit_series(p, &s_inf, sz_inf, 1, 0));
  PM_TRY(emit_series(p, &s_log, sz_log, 1, 0));
  /* Messages queued on the AppleTalk side, both directions. */
  const po_series s_m2p = {"Macgate/Store/MacToPC", NULL, "MSG", CLS_SMALL,
                           n_mac / 2, PO_CONTENT_BINARY};
  const po_series s_p2m = {"Macgate/Store/PCToMac", NULL, "MSG", CLS_SMALL,
                           n_mac - n_mac / 2, PO_CONTENT_BINARY};
  PM_TRY(emit_series(p, &s_m2p, sz_mai, 1, 0));
  PM_TRY(emit_series(p, &s_p2m, sz_mai, 1, 0));
  return 0;
}

void po_gen_options_init(po_gen_options *o) {
  memset(o, 0, sizeof *o);
  o->files = 10000;
  o->bytes = 0;
  o->seed = 1;
  o->with_bin = true;
  o->with_macgate = true;
}

/* Scales chosen so that the total lands near the request: attachments
 * carry what the format-bound and small files leave; when even those are
 * too many bytes, every scalable file shrinks alike. */
static void choose_scale(po_plan *p, uint64_t target) {
  double fixed = (double)p->sum[CLS_FIXED], small = (double)p->sum[CLS_SMALL];
  double bulk = (double)p->sum[CLS_BULK], want = (double)target;
  p->scale[CLS_FIXED] = 1;
  if (bulk > 0 && want >= fixed + small) {
    p->scale[CLS_SMALL] = 1;
    p->scale[CLS_BULK] = (want - fixed - small) / bulk;
  } else if (small + bulk > 0) {
    double s = want > fixed ? (want - fixed) / (small + bulk) : 0;
    p->scale[CLS_SMALL] = p->scale[CLS_BULK] = s;
  } else {
    p->scale[CLS_SMALL] = p->scale[CLS_BULK] = 1;
  }
}

int po_generate(const po_gen_options *o, po_gen_stats *st) {
  po_plan p;
  memset(&p, 0, sizeof p);
  p.o = o;
  for (int c = 0; c < CLS_N; c++) p.scale[c] = 1;
  plan_run(&p);
  uint64_t target = o->bytes ? o->bytes : o->files * (30ull << 10);
  choose_scale(&p, target);
  plan_run(&p);
  uint64_t total = p.sum[CLS_FIXED] + p.sum[CLS_SMALL] + p.sum[CLS_BULK];

  po_writer *w;
  int rc = po_writer_open(&w, o->root, o->seed, o->quiet, "generate",
                          p.files, total);
  if (!rc) {
    p.w = w;
    plan_run(&p);
  }
  po_gen_stats local;
  int crc = po_writer_close(w, &local);
  if (st) *st = local;
  return rc ? rc : crc;
}
