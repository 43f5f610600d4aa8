/* test_gen_postoffice.c - the postoffice generator and the other workload
 * generators: determinism (same seed, same tree; another seed, another
 * tree), the layout of ../shared/DOMAIN.md (directories, hashed MAI/ATT,
 * 8.3 upper-case hex names, record sizes, read-only files), file counts and
 * total size close to the request, times spread over years, and the
 * refusals of `pomove gen-postoffice` (non-empty DIR, bad options). */
#include <ctype.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gen_postoffice.h"
#include "gen_workload.h"
#include "platform.h"
#include "testutil.h"

static char *path2(const char *a, const char *b) {
  char *p = NULL;
  if (asprintf(&p, "%s/%s", a, b) < 0) abort();
  return p;
}

static int gen(const char *root, uint64_t files, uint64_t bytes,
               uint32_t seed, po_gen_stats *st) {
  po_gen_options o;
  po_gen_options_init(&o);
  o.root = root;
  o.files = files;
  o.bytes = bytes;
  o.seed = seed;
  o.quiet = true;
  return po_generate(&o, st);
}

/* A listing of everything that makes a tree: path, type, mode, size,
 * mtime to the nanosecond, and the content hash of every file. */
static char *tree_manifest(const char *root) {
  char *out = NULL;
  int rc = tu_sh_out(&out,
                     "cd '%s' && find . -printf '%%P %%y %%m %%s %%T@\\n' | "
                     "LC_ALL=C sort && find . -type f -print0 | LC_ALL=C "
                     "sort -z | xargs -0 -r xxh128sum",
                     root);
  assert_int_equal(rc, 0);
  return out;
}

static void test_gen_postoffice_determinism(void **state) {
  (void)state;
  tu_require(tu_sh("command -v xxh128sum >/dev/null") == 0,
             "xxh128sum is not installed");
  const char *s = tu_scratch();
  char *a = path2(s, "a"), *b = path2(s, "b"), *c = path2(s, "c");
  po_gen_stats sa, sb, sc;
  assert_int_equal(gen(a, 600, 0, 7, &sa), 0);
  assert_int_equal(gen(b, 600, 0, 7, &sb), 0);
  assert_int_equal(gen(c, 600, 0, 8, &sc), 0);
  char *ma = tree_manifest(a), *mb = tree_manifest(b), *mc = tree_manifest(c);
  assert_true(strlen(ma) > 1000);
  assert_string_equal(ma, mb);
  assert_true(strcmp(ma, mc) != 0);
  assert_int_equal(sa.files, sb.files);
  assert_int_equal(sa.bytes, sb.bytes);
  free(ma);
  free(mb);
  free(mc);
  free(a);
  free(b);
  free(c);
  tu_cleanup();
}

/* ---- layout ---- */

typedef struct layout {
  unsigned files, bad_name, bad_hash, bad_record, ro_wrong, glb_bad;
  unsigned mai, att, key, mbg, populate, tpl_hlp, bin;
  int64_t tmin, tmax;
  char first_bad[512];
} layout;

static layout L;
static size_t L_rootlen;

static bool hex8_name(const char *base, const char *ext) {
  size_t n = strlen(base);
  if (n != 9 + strlen(ext) || base[8] != '.') return false;
  for (int i = 0; i < 8; i++)
    if (!isxdigit((unsigned char)base[i]) || islower((unsigned char)base[i]))
      return false;
  return !strcmp(base + 9, ext);
}

static void bad(unsigned *counter, const char *path) {
  (*counter)++;
  if (!L.first_bad[0]) snprintf(L.first_bad, sizeof L.first_bad, "%s", path);
}

static int visit(const char *fpath, const struct stat *sb, int type,
                 struct FTW *ftw) {
  (void)ftw;
  if (type != FTW_F) return 0;
  const char *rel = fpath + L_rootlen + 1;
  const char *base = strrchr(fpath, '/') + 1;
  char dir[256];
  snprintf(dir, sizeof dir, "%.*s", (int)(base - rel - 1), rel);
  bool ro = (sb->st_mode & 0222) == 0;
  uint64_t sz = (uint64_t)sb->st_size;
  L.files++;
  if (sb->st_mtime < L.tmin) L.tmin = sb->st_mtime;
  if (sb->st_mtime > L.tmax) L.tmax = sb->st_mtime;
  if (!strcmp(base, "POPULATE.MSM")) {
    L.populate++;
    if (!ro) bad(&L.ro_wrong, rel);
    return 0;
  }
  if (!strncmp(rel, "Bin/", 4)) {
    L.bin++;
    return 0;
  }
  /* Every name under Maildata is 8.3 and upper case. */
  size_t bl = strlen(base);
  const char *dot = strchr(base, '.');
  if (!dot || dot - base > 8 || bl - (size_t)(dot - base) - 1 > 3) bad(&L.bad_name, rel);
  for (const char *c = base; *c; c++)
    if (islower((unsigned char)*c)) bad(&L.bad_name, rel);
  const char *ext = dot ? dot + 1 : "";
  if (!strncmp(dir, "Maildata/MAI/", 13) || !strncmp(dir, "Maildata/ATT/", 13)) {
    bool mai = dir[9] == 'M';
    if (mai) L.mai++; else L.att++;
    if (!hex8_name(base, mai ? "MAI" : "ATT")) bad(&L.bad_name, rel);
    /* MAI\MA6 holds the ids ending in 6 (Q148515). */
    char want[8];
    snprintf(want, sizeof want, "%s%c", mai ? "MA" : "AT", base[7]);
    if (strcmp(dir + 13, want)) bad(&L.bad_hash, rel);
  } else if (!strcmp(dir, "Maildata/KEY")) {
    L.key++;
    if (!hex8_name(base, "KEY") || sz != 560) bad(&L.bad_record, rel);
  } else if (!strcmp(dir, "Maildata/MBG")) {
    L.mbg++;
    if (!hex8_name(base, "MBG") || sz % 116 || sz == 0 || sz > 4096 * 116)
      bad(&L.bad_record, rel);
  } else if (!strcmp(dir, "Maildata/XTN")) {
    if (sz % 698 || sz == 0) bad(&L.bad_record, rel);
  } else if (!strcmp(dir, "Maildata/USR")) {
    if (sz % 53 || sz == 0) bad(&L.bad_record, rel);
  } else if (!strcmp(dir, "Maildata/NME")) {
    if (sz % 45 || sz == 0) bad(&L.bad_record, rel);
  } else if (!strcmp(dir, "Maildata/GRP")) {
    if (sz % 8 || sz == 0) bad(&L.bad_record, rel);
  } else if (!strcmp(dir, "Maildata/P1")) {
    if (!hex8_name(base, "P1")) bad(&L.bad_name, rel);
  } else if (!strcmp(dir, "Maildata/TPL") || !strcmp(dir, "Maildata/HLP")) {
    L.tpl_hlp++;
    if (!ro || strcmp(ext, dir + 9)) bad(&L.ro_wrong, rel);
  } else if (!strcmp(dir, "Maildata/GLB")) {
    bool ok = (!strcmp(base, "CONTROL.GLB") && sz == 8) ||
              (!strcmp(base, "FLAG.GLB") && sz == 2) ||
              (!strcmp(base, "MASTER.GLB") && sz == 176) ||
              (!strcmp(base, "ACCESS.GLB") && sz && sz % 586 == 0) ||
              (!strcmp(base, "NETWORK.GLB") && sz && sz % 122 == 0);
    if (!ok) bad(&L.glb_bad, rel);
  }
  return 0;
}

static void check_dirs(const char *root, bool bin, bool macgate) {
  static const char *const dirs[] = {"ATT", "GLB", "GRP", "HLP", "INF",
                                     "KEY", "LOG", "MAI", "MBG", "NME",
                                     "P1",  "TPL", "USR", "XTN"};
  struct stat sb;
  char p[1024];
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    snprintf(p, sizeof p, "%s/Maildata/%s", root, dirs[i]);
    assert_int_equal(stat(p, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
  }
  for (int h = 0; h < 16; h++) {
    snprintf(p, sizeof p, "%s/Maildata/MAI/MA%X", root, h);
    assert_int_equal(stat(p, &sb), 0);
    snprintf(p, sizeof p, "%s/Maildata/ATT/AT%X", root, h);
    assert_int_equal(stat(p, &sb), 0);
  }
  static const char *const bins[] = {
      "Mt.exe",      "Mtmsg.dll",    "Address.dll", "Mtperf.dll",
      "Xtnperf.dll", "MTPERF.INI",   "XTNPERF.INI", "MACGPERF.INI",
      "Macgate.exe", "Macgperf.dll", "Macsetup.exe", "Conadmin.dll",
      "Async.exe",   "Xtnmsg.dll"};
  for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++) {
    snprintf(p, sizeof p, "%s/Bin/%s", root, bins[i]);
    assert_int_equal(stat(p, &sb) == 0, bin);
  }
  static const char *const mac[] = {"Ini", "Badmail", "Misc", "Store/MacToPC",
                                    "Store/PCToMac"};
  for (size_t i = 0; i < sizeof mac / sizeof mac[0]; i++) {
    snprintf(p, sizeof p, "%s/Maildata/Macgate/%s", root, mac[i]);
    assert_int_equal(stat(p, &sb) == 0, macgate);
  }
}

static void walk_layout(const char *root) {
  memset(&L, 0, sizeof L);
  L.tmin = INT64_MAX;
  L.tmax = INT64_MIN;
  L_rootlen = strlen(root);
  assert_int_equal(nftw(root, visit, 32, FTW_PHYS), 0);
}

static void test_gen_postoffice_layout(void **state) {
  (void)state;
  const char *s = tu_scratch();
  char *root = path2(s, "Msmcon");
  po_gen_stats st;
  assert_int_equal(gen(root, 3000, 0, 3, &st), 0);
  check_dirs(root, true, true);
  walk_layout(root);
  if (L.first_bad[0]) fprintf(stderr, "first bad entry: %s\n", L.first_bad);
  assert_int_equal(L.bad_name, 0);
  assert_int_equal(L.bad_hash, 0);
  assert_int_equal(L.bad_record, 0);
  assert_int_equal(L.ro_wrong, 0);
  assert_int_equal(L.glb_bad, 0);
  assert_int_equal(L.populate, 14 + 32); /* every Maildata directory */
  assert_int_equal(L.tpl_hlp, 7);
  assert_int_equal(L.bin, 14);
  assert_int_equal(L.key, L.mbg); /* a KEY beside every mailbag */
  assert_true(L.key > 0);
  /* Messages outnumber attachments; both are the bulk of the files. */
  assert_true(L.mai > L.att);
  assert_true(L.mai + L.att > L.files / 2);
  /* Times spread over years. */
  assert_true(L.tmax - L.tmin > 3 * 365 * 86400ll);
  assert_int_equal(L.files, st.files);
  free(root);
  tu_cleanup();
}

static void test_gen_postoffice_count_and_size(void **state) {
  (void)state;
  const char *s = tu_scratch();
  static const uint64_t asks[] = {800, 3001};
  for (size_t i = 0; i < 2; i++) {
    char name[32];
    snprintf(name, sizeof name, "po%zu", i);
    char *root = path2(s, name);
    uint64_t want_bytes = asks[i] * 8192;
    po_gen_stats st;
    assert_int_equal(gen(root, asks[i], want_bytes, 11, &st), 0);
    walk_layout(root);
    assert_int_equal(L.files, st.files);
    /* Within 2% of the request. */
    assert_true(st.files * 100 >= asks[i] * 98 && st.files * 100 <= asks[i] * 102);
    assert_true(st.bytes * 10 >= want_bytes * 9 && st.bytes * 10 <= want_bytes * 11);
    free(root);
  }
  /* Below the fixed files: the smallest postoffice, still complete. */
  char *root = path2(s, "small");
  po_gen_stats st;
  assert_int_equal(gen(root, 10, 0, 1, &st), 0);
  assert_true(st.files >= 55 && st.files <= 80);
  check_dirs(root, true, true);
  free(root);
  tu_cleanup();
}

static void test_gen_postoffice_options(void **state) {
  (void)state;
  const char *s = tu_scratch();
  char *root = path2(s, "nobin");
  po_gen_options o;
  po_gen_options_init(&o);
  o.root = root;
  o.files = 300;
  o.with_bin = false;
  o.with_macgate = false;
  o.quiet = true;
  po_gen_stats st;
  assert_int_equal(po_generate(&o, &st), 0);
  check_dirs(root, false, false);
  walk_layout(root);
  assert_int_equal(L.files, 300);
  free(root);
  tu_cleanup();
}

static void test_gen_postoffice_refuses_nonempty(void **state) {
  (void)state;
  const char *s = tu_scratch();
  char *root = path2(s, "full"), *junk = path2(s, "full/junk"),
       *file = path2(s, "afile");
  assert_int_equal(mkdir(root, 0755), 0);
  tu_write_text(junk, "x");
  tu_write_text(file, "x");
  assert_int_equal(gen(root, 100, 0, 1, NULL), PM_EEXIST);
  assert_int_equal(gen(file, 100, 0, 1, NULL), PM_ENOTDIR);
  /* The command: exit 2 and a message naming the path. */
  char *out = NULL;
  int rc = tu_sh_out(&out, "'%s' gen-postoffice '%s' --files 100 2>&1",
                     tu_pomove(), root);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(out, root));
  free(out);
  rc = tu_sh_out(&out, "'%s' gen-postoffice '%s/x' --files abc 2>&1",
                 tu_pomove(), s);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(out, "--files"));
  free(out);
  rc = tu_sh_out(&out, "'%s' gen-postoffice --help", tu_pomove());
  assert_int_equal(rc, 0);
  assert_non_null(strstr(out, "Exit codes"));
  free(out);
  free(root);
  free(junk);
  free(file);
  tu_cleanup();
}

static void test_gen_postoffice_command_json(void **state) {
  (void)state;
  const char *s = tu_scratch();
  char *out = NULL;
  int rc = tu_sh_out(&out, "'%s' gen-postoffice '%s/po' --files 200 "
                     "--avg-size 4K --seed 5 --json",
                     tu_pomove(), s);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(out, "\"ok\":true"));
  assert_non_null(strstr(out, "\"files\":200,"));
  free(out);
  char *n = NULL;
  assert_int_equal(tu_sh_out(&n, "find '%s/po' -type f | wc -l", s), 0);
  assert_int_equal(atoi(n), 200);
  free(n);
  tu_cleanup();
}

static void test_gen_workload_tiny_and_large(void **state) {
  (void)state;
  const char *s = tu_scratch();
  char *tiny = path2(s, "tiny"), *large = path2(s, "large");
  po_gen_stats st;
  assert_int_equal(bench_gen_tiny(tiny, 2100, 9, true, &st), 0);
  assert_int_equal(st.files, 2100);
  assert_int_equal(st.dirs, 3); /* 1000 a directory */
  char *out = NULL;
  assert_int_equal(tu_sh_out(&out, "find '%s' -type f -size +4096c | wc -l; "
                             "find '%s' -type f -empty | wc -l; "
                             "find '%s' -type f | wc -l",
                             tiny, tiny, tiny),
                   0);
  int big, empty, all;
  assert_int_equal(sscanf(out, "%d %d %d", &big, &empty, &all), 3);
  assert_int_equal(big, 0);
  assert_int_equal(empty, 0);
  assert_int_equal(all, 2100);
  free(out);
  assert_int_equal(bench_gen_large(large, 2, 3 * 1048576 + 5, 9, true, &st),
                   0);
  struct stat sb;
  char *f = path2(large, "LARGE01.BIN");
  assert_int_equal(stat(f, &sb), 0);
  assert_int_equal(sb.st_size, 3 * 1048576 + 5);
  /* Not zeros, and the two files differ. */
  assert_int_equal(tu_sh("cmp -s '%s/LARGE00.BIN' '%s/LARGE01.BIN'", large,
                         large),
                   1);
  assert_int_equal(tu_sh("cmp -s -n 4096 '%s' /dev/zero", f), 1);
  free(f);
  free(tiny);
  free(large);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gen_postoffice_determinism),
      cmocka_unit_test(test_gen_postoffice_layout),
      cmocka_unit_test(test_gen_postoffice_count_and_size),
      cmocka_unit_test(test_gen_postoffice_options),
      cmocka_unit_test(test_gen_postoffice_refuses_nonempty),
      cmocka_unit_test(test_gen_postoffice_command_json),
      cmocka_unit_test(test_gen_workload_tiny_and_large),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
