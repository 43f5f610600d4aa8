/* orch_testlib.c - see orch_testlib.h. */
#include "orch_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultlayer.h"
#include "gen_postoffice.h"
#include "testutil.h"
#include "util.h"

static pm_strlist made;

/* One generated postoffice per test process, copied into every host: the
 * generator's setup dominates a small tree's cost. */
static char template_dir[4096];

static const char *template_tree(void) {
  if (!template_dir[0]) {
    const char *base = getenv("TMPDIR");
    snprintf(template_dir, sizeof template_dir, "%s/pomove-po-XXXXXX",
             base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(template_dir));
    char *root = pm_xasprintf("%s/Msmcon", template_dir);
    po_gen_options g;
    po_gen_options_init(&g);
    g.root = root;
    g.files = 100;
    g.seed = 7;
    g.with_bin = true;
    g.with_macgate = true;
    g.quiet = true;
    po_gen_stats st;
    assert_int_equal(po_generate(&g, &st), 0);
    free(root);
    atexit(ot_drop_template);
  }
  static char root[4200];
  snprintf(root, sizeof root, "%s/Msmcon", template_dir);
  return root;
}

void ot_drop_template(void) {
  if (template_dir[0]) tu_sh("rm -rf '%s'", template_dir);
  template_dir[0] = '\0';
}

void ot_sim_options(orch_sim_options *o, const char *dir) {
  orch_sim_options_init(o);
  o->dir = dir;
  o->postoffice = template_tree();
  o->files = 200;
  o->cfg.start_delay_ms = 1;
  o->cfg.stop_delay_ms = 1;
  o->cfg.touch_ms = 1000;
  o->quiet = true;
}

const char *ot_make_host(const orch_sim_options *o) {
  int rc = orch_sim_create(o);
  assert_int_equal(rc, 0);
  pm_strlist_add(&made, o->dir);
  return made.v[made.n - 1];
}

char *ot_spec(const char *dir) { return pm_xasprintf("sim:%s", dir); }

pm_host *ot_open(const char *dir) {
  char *spec = ot_spec(dir);
  pm_host *h = NULL;
  int rc = pm_host_open(spec, &h);
  free(spec);
  assert_int_equal(rc, 0);
  return h;
}

void ot_snap(const char *dir, ot_snapshot *s) {
  char *p = pm_xasprintf("%s/registry.reg", dir);
  s->reg = tu_read_all(p, &s->reglen);
  free(p);
  p = pm_xasprintf("%s/shares.txt", dir);
  size_t n;
  s->shares = tu_read_all(p, &n);
  free(p);
  assert_non_null(s->reg);
  assert_non_null(s->shares);
  pm_host *h = ot_open(dir);
  pm_strlist names = {0};
  assert_int_equal(h->svc->list(h, &names), 0);
  char *acc = pm_xstrdup("");
  for (size_t i = 0; i < names.n; i++) {
    pm_svc_info si;
    assert_int_equal(h->svc->query(h, names.v[i], &si), 0);
    char *next = pm_xasprintf("%s%s=%s|%s\n", acc, si.name,
                              pm_svc_state_name(si.state), si.image_path);
    free(acc);
    acc = next;
  }
  pm_strlist_free(&names);
  pm_host_close(h);
  s->services = acc;
}

void ot_snap_free(ot_snapshot *s) {
  free(s->reg);
  free(s->shares);
  free(s->services);
  memset(s, 0, sizeof *s);
}

void ot_assert_same(const ot_snapshot *a, const ot_snapshot *b) {
  assert_int_equal(a->reglen, b->reglen);
  assert_memory_equal(a->reg, b->reg, a->reglen);
  assert_string_equal(a->shares, b->shares);
  assert_string_equal(a->services, b->services);
}

bool ot_no_verify;

void ot_move_options(orch_options *o) {
  orch_options_init(o);
  o->no_verify = ot_no_verify;
  o->stop_timeout_ms = 5000;
  o->start_timeout_ms = 5000;
  o->progress_mode = PM_PROGRESS_OFF;
  o->threads = 2;
  static FILE *devnull;
  if (!devnull) devnull = fopen("/dev/null", "w");
  o->out = getenv("POMOVE_TEST_VERBOSE") ? stdout : devnull;
}

void ot_kb_move_options(orch_options *o) {
  ot_move_options(o);
  o->from = "C:\\exchsrvr";
  o->to = "D:";
}

void ot_kill_all(void) {
  for (size_t i = 0; i < made.n; i++) pm_sim_kill_all(made.v[i]);
  pm_strlist_free(&made);
}

static const char *group_scratch;

int ot_group_setup(void **state) {
  (void)state;
  group_scratch = tu_scratch();
  return 0;
}

int ot_group_teardown(void **state) {
  (void)state;
  ot_kill_all();
  tu_cleanup();
  return 0;
}

int ot_kill_hosts(void **state) {
  (void)state;
  ot_kill_all();
  return 0;
}

const char *ot_scratch(void) { return group_scratch; }

char *ot_reg_str(const char *dir, const char *key, const char *name,
                 uint32_t *type) {
  pm_host *h = ot_open(dir);
  pm_reg_value v = {0};
  char *s = NULL;
  if (h->reg->get(h, key, name, &v) == 0) {
    *type = v.type;
    s = pm_reg_value_display(&v);
  }
  pm_reg_value_free(&v);
  pm_host_close(h);
  return s;
}

/* ---- the fault host ---- */

static ot_fault *F(pm_host *h) { return (ot_fault *)h; }

/* Counts a call; true when this one must fail. */
static bool hit(ot_fault *f) {
  f->calls++;
  if (f->armed) {
    f->armed = false;
    f->fired = true;
    f->fail_at = f->calls;
    pm_oserr_set(5);
    return true;
  }
  if (!f->fail_at) return false;
  if (f->calls == f->fail_at || (f->persistent && f->calls > f->fail_at)) {
    f->fired = true;
    pm_oserr_set(5); /* ERROR_ACCESS_DENIED */
    return true;
  }
  return false;
}

static bool hhit(pm_host *h) { return F(h)->count_host && hit(F(h)); }

static int w_svc_list(pm_host *h, pm_strlist *n) {
  pm_host *i = F(h)->inner;
  return i->svc->list(i, n);
}
static int w_svc_query(pm_host *h, const char *n, pm_svc_info *o) {
  pm_host *i = F(h)->inner;
  return i->svc->query(i, n, o);
}
static int w_svc_stop(pm_host *h, const char *n) {
  pm_host *i = F(h)->inner;
  return hhit(h) ? PM_EACCES : i->svc->stop(i, n);
}
static int w_svc_start(pm_host *h, const char *n) {
  pm_host *i = F(h)->inner;
  return hhit(h) ? PM_EACCES : i->svc->start(i, n);
}
static int w_svc_wait(pm_host *h, const char *n, pm_svc_state w, unsigned t,
                      pm_svc_state *s) {
  pm_host *i = F(h)->inner;
  return i->svc->wait(i, n, w, t, s);
}
static int w_svc_img(pm_host *h, const char *n, const char *p) {
  pm_host *i = F(h)->inner;
  return hhit(h) ? PM_EACCES : i->svc->set_image_path(i, n, p);
}
static int w_sh_list(pm_host *h, pm_strlist *n) {
  pm_host *i = F(h)->inner;
  return i->share->list(i, n);
}
static int w_sh_get(pm_host *h, const char *n, pm_share_info *o) {
  pm_host *i = F(h)->inner;
  return i->share->get(i, n, o);
}
static int w_sh_add(pm_host *h, const pm_share_info *s) {
  pm_host *i = F(h)->inner;
  return hhit(h) ? PM_EACCES : i->share->add(i, s);
}
static int w_sh_del(pm_host *h, const char *n) {
  pm_host *i = F(h)->inner;
  return hhit(h) ? PM_EACCES : i->share->del(i, n);
}
static int w_reg_sub(pm_host *h, const char *k, pm_strlist *o) {
  pm_host *i = F(h)->inner;
  return i->reg->subkeys(i, k, o);
}
static int w_reg_vals(pm_host *h, const char *k, pm_strlist *o) {
  pm_host *i = F(h)->inner;
  return i->reg->values(i, k, o);
}
static int w_reg_get(pm_host *h, const char *k, const char *n,
                     pm_reg_value *o) {
  pm_host *i = F(h)->inner;
  return i->reg->get(i, k, n, o);
}
static int w_reg_set(pm_host *h, const char *k, const char *n,
                     const pm_reg_value *v) {
  pm_host *i = F(h)->inner;
  return hhit(h) ? PM_EACCES : i->reg->set(i, k, n, v);
}
static int w_reg_del(pm_host *h, const char *k, const char *n) {
  pm_host *i = F(h)->inner;
  return hhit(h) ? PM_EACCES : i->reg->del(i, k, n);
}
static int w_vol_info(pm_host *h, const char *p, pm_vol_info *o) {
  pm_host *i = F(h)->inner;
  return i->vol->info(i, p, o);
}
static int w_vol_native(pm_host *h, const char *p, char *b, size_t c) {
  pm_host *i = F(h)->inner;
  return i->vol->native_path(i, p, b, c);
}

static const pm_svc_ops w_svc = {w_svc_list,  w_svc_query, w_svc_stop,
                                 w_svc_start, w_svc_wait,  w_svc_img};
static const pm_share_ops w_share = {w_sh_list, w_sh_get, w_sh_add, w_sh_del};
static const pm_reg_ops w_reg = {w_reg_sub, w_reg_vals, w_reg_get, w_reg_set,
                                 w_reg_del};
static const pm_vol_ops w_vol = {w_vol_info, w_vol_native};

/* The file-system half: a fault layer over the inner host's file system
 * whose hook counts (and fails) the calls with a side effect outside the
 * copied tree, in the same sequence as the host calls. */
static bool fhit(ot_fault *f, const char *path) {
  if (!f->count_fs) return false;
  if (f->skip_prefix[0] && !strncmp(path, f->skip_prefix,
                                    strlen(f->skip_prefix)))
    return false;
  return hit(f);
}

static bool journal_hit(ot_fault *f, const char *p) {
  size_t n = strlen(p);
  if (n < 8 || strcmp(p + n - 8, "/journal")) return false;
  f->journal_opens++;
  if (f->journal_opens == f->arm_after_journal) f->armed = true;
  if (f->journal_opens == f->fail_journal ||
      (f->persistent && f->fired)) {
    f->fired = true;
    pm_oserr_set(5);
    return true;
  }
  return false;
}

/* By path only, as the move names its plan, journal, backup and target
 * folders (calls beneath a handle are the copy engine's, inside the
 * tree). */
static int fs_hook(const char *op, const char *path, int flags, void *arg) {
  ot_fault *f = arg;
  if (!strcmp(op, "open")) {
    if (journal_hit(f, path)) return PM_EACCES;
    if ((flags & (PM_O_ACCMODE | PM_O_CREAT | PM_O_TRUNC)) != PM_O_RDONLY &&
        fhit(f, path))
      return PM_EACCES;
    return 0;
  }
  if (!strcmp(op, "mkdir") || !strcmp(op, "rmdir") || !strcmp(op, "unlink") ||
      !strcmp(op, "rename"))
    return fhit(f, path) ? PM_EACCES : 0;
  return 0;
}

void ot_fault_init(ot_fault *f, pm_host *inner, long fail_at,
                   bool persistent, bool count_host, bool count_fs) {
  memset(f, 0, sizeof *f);
  f->inner = inner;
  f->fail_at = fail_at;
  f->persistent = persistent;
  f->count_host = count_host;
  f->count_fs = count_fs;
  f->fsl = fl_new(inner->fs, NULL);
  fl_set_hook(f->fsl, fs_hook, f);
  f->pub = *inner;
  f->pub.svc = &w_svc;
  f->pub.share = &w_share;
  f->pub.reg = &w_reg;
  f->pub.vol = &w_vol;
  f->pub.fs = fl_fs(f->fsl);
  f->pub.ctx = f;
  f->pub.close = NULL;
  assert_int_equal(pm_host_validate(&f->pub), 0);
}

void ot_fault_fini(ot_fault *f) {
  fl_free(f->fsl);
  f->fsl = NULL;
}

void ot_move_failing_at_step(pm_host *h, const orch_options *o, int k,
                             bool count_host, bool count_fs) {
  ot_fault f;
  ot_fault_init(&f, h, 0, false, count_host, count_fs);
  f.arm_after_journal = 2 + 2 * k;
  assert_int_equal(ot_move(&f.pub, o), OT_FAILED);
  ot_fault_fini(&f);
  assert_true(f.fired);
}

static void dump_key(pm_host *h, const char *key, char **acc) {
  pm_strlist names = {0}, sub = {0};
  h->reg->values(h, key, &names);
  for (size_t i = 0; i < names.n; i++) {
    pm_reg_value v = {0};
    assert_int_equal(h->reg->get(h, key, names.v[i], &v), 0);
    char *d = pm_reg_value_display(&v);
    char *n = pm_xasprintf("%s%s\\%s=%u:%s\n", *acc, key, names.v[i],
                           v.type, d);
    free(*acc);
    *acc = n;
    free(d);
    pm_reg_value_free(&v);
  }
  h->reg->subkeys(h, key, &sub);
  for (size_t i = 0; i < sub.n; i++) {
    char *k = pm_xasprintf("%s\\%s", key, sub.v[i]);
    dump_key(h, k, acc);
    free(k);
  }
  pm_strlist_free(&names);
  pm_strlist_free(&sub);
}

char *ot_dump(const char *dir) {
  pm_host *h = ot_open(dir);
  char *acc = pm_xstrdup("");
  dump_key(h, "HKEY_LOCAL_MACHINE", &acc);
  pm_host_close(h);
  return acc;
}

void ot_assert_moved(const char *dir) {
  static const char newp[] = "D:\\ExchSrvr\\Connect\\Msmcon";
  char *d = ot_dump(dir);
  if (strstr(d, "C:\\exchsrvr\\Connect\\Msmcon"))
    fail_msg("a registry value still points at the old Msmcon:\n%s", d);
  assert_non_null(strstr(d, newp));
  free(d);
  pm_host *h = ot_open(dir);
  pm_strlist names = {0};
  assert_int_equal(h->svc->list(h, &names), 0);
  size_t connector = 0;
  for (size_t i = 0; i < names.n; i++) {
    pm_svc_info si;
    assert_int_equal(h->svc->query(h, names.v[i], &si), 0);
    if (!strstr(si.image_path, "Msmcon")) continue;
    connector++;
    assert_true(pm_wprefix(si.image_path, newp));
    if (si.state != PM_SVC_RUNNING)
      fail_msg("%s is %s", si.name, pm_svc_state_name(si.state));
  }
  assert_true(connector > 0);
  pm_strlist_free(&names);
  pm_share_info sh;
  assert_int_equal(h->share->get(h, "Maildat$", &sh), 0);
  assert_string_equal(sh.path, "D:\\ExchSrvr\\Connect\\Msmcon\\Maildata");
  pm_host_close(h);
}

ot_outcome ot_outcome_of(int rc, const orch_result *r) {
  assert_true(rc <= 0);
  assert_false(r->refused && r->interrupted);
  if (r->refused || r->interrupted) assert_true(rc < 0);
  if (r->interrupted) assert_int_equal(rc, PM_ECANCELED);
  if (r->partial) assert_int_equal(rc, 0);
  return r->refused       ? OT_REFUSED
         : r->interrupted ? OT_INTERRUPTED
         : rc < 0         ? OT_FAILED
         : r->partial     ? OT_PARTIAL
                          : OT_DONE;
}

ot_outcome ot_move(pm_host *h, const orch_options *o) {
  orch_result r;
  int rc = orch_move(h, o, &r);
  return ot_outcome_of(rc, &r);
}

ot_outcome ot_rollback(pm_host *h, const orch_options *o) {
  orch_result r;
  int rc = orch_rollback(h, o, &r);
  return ot_outcome_of(rc, &r);
}

ot_outcome ot_check(pm_host *h, const orch_check_options *o) {
  orch_result r;
  int rc = orch_check(h, o, &r);
  return ot_outcome_of(rc, &r);
}
