/* test_bench_run.c - smoke test of the benchmark scripts: bench/run.sh
 * --quick against the pomove under test, with DST in the data directory
 * (the protocol's mode that needs no root), writes results.md,
 * results.json and results.svg that are well-formed (checked here with a
 * small JSON parser and an XML tag-balance checker: no python or xmllint
 * needed), lists every peer once, gives the floor and every copier's ratio
 * to it, and cleans its data directory; copy_vs_cp.sh prints its runs and
 * medians. No assertion on any time. The loop file system modes are in
 * test_bench_protocol.c (root only). */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

#ifndef PM_FLOOR_BIN
#define PM_FLOOR_BIN ""
#endif

/* ---- a strict little JSON checker (RFC 8259 grammar) ---- */
typedef struct jp {
  const char *p;
  int depth;
} jp;

static void j_ws(jp *j) {
  while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t') j->p++;
}

static bool j_value(jp *j);

static bool j_string(jp *j) {
  if (*j->p != '"') return false;
  j->p++;
  while (*j->p && *j->p != '"') {
    if ((unsigned char)*j->p < 0x20) return false;
    if (*j->p == '\\') {
      j->p++;
      if (*j->p == 'u') {
        for (int i = 1; i <= 4; i++)
          if (!isxdigit((unsigned char)j->p[i])) return false;
        j->p += 4;
      } else if (!strchr("\"\\/bfnrt", *j->p) || !*j->p) {
        return false;
      }
    }
    j->p++;
  }
  if (*j->p != '"') return false;
  j->p++;
  return true;
}

static bool j_number(jp *j) {
  const char *s = j->p;
  if (*j->p == '-') j->p++;
  if (*j->p == '0') j->p++;
  else if (isdigit((unsigned char)*j->p)) while (isdigit((unsigned char)*j->p)) j->p++;
  else return false;
  if (*j->p == '.') {
    j->p++;
    if (!isdigit((unsigned char)*j->p)) return false;
    while (isdigit((unsigned char)*j->p)) j->p++;
  }
  if (*j->p == 'e' || *j->p == 'E') {
    j->p++;
    if (*j->p == '+' || *j->p == '-') j->p++;
    if (!isdigit((unsigned char)*j->p)) return false;
    while (isdigit((unsigned char)*j->p)) j->p++;
  }
  return j->p > s;
}

static bool j_value(jp *j) {
  if (++j->depth > 64) return false;
  j_ws(j);
  bool ok;
  if (*j->p == '{' || *j->p == '[') {
    char close = *j->p == '{' ? '}' : ']';
    bool obj = close == '}';
    j->p++;
    j_ws(j);
    ok = true;
    if (*j->p == close) {
      j->p++;
    } else {
      for (;;) {
        if (obj) {
          j_ws(j);
          if (!j_string(j)) { ok = false; break; }
          j_ws(j);
          if (*j->p != ':') { ok = false; break; }
          j->p++;
        }
        if (!j_value(j)) { ok = false; break; }
        j_ws(j);
        if (*j->p == ',') { j->p++; continue; }
        if (*j->p == close) { j->p++; break; }
        ok = false;
        break;
      }
    }
  } else if (*j->p == '"') {
    ok = j_string(j);
  } else if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "null", 4)) {
    j->p += 4;
    ok = true;
  } else if (!strncmp(j->p, "false", 5)) {
    j->p += 5;
    ok = true;
  } else {
    ok = j_number(j);
  }
  j->depth--;
  return ok;
}

static bool json_wellformed(const char *s) {
  jp j = {s, 0};
  if (!j_value(&j)) return false;
  j_ws(&j);
  return *j.p == '\0';
}

/* ---- XML: tags balanced, attributes quoted, entities known ---- */
static bool xml_wellformed(const char *s) {
  char stack[64][64];
  int depth = 0, roots = 0;
  const char *p = s;
  if (!strncmp(p, "<?xml", 5)) {
    p = strstr(p, "?>");
    if (!p) return false;
    p += 2;
  }
  while (*p) {
    if (*p == '&') {
      static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;",
                                         "&apos;"};
      bool known = p[1] == '#';
      for (size_t i = 0; i < 5; i++)
        if (!strncmp(p, ents[i], strlen(ents[i]))) known = true;
      if (!known) return false;
      p++;
      continue;
    }
    if (*p != '<') {
      if (depth == 0 && !isspace((unsigned char)*p)) return false;
      p++;
      continue;
    }
    if (!strncmp(p, "<!--", 4)) {
      p = strstr(p, "-->");
      if (!p) return false;
      p += 3;
      continue;
    }
    bool closing = p[1] == '/';
    const char *n = p + (closing ? 2 : 1);
    size_t len = 0;
    while (n[len] && (isalnum((unsigned char)n[len]) || n[len] == ':' || n[len] == '-' || n[len] == '_'))
      len++;
    if (len == 0 || len >= 64) return false;
    /* Find the end of the tag, skipping quoted attribute values. */
    const char *q = n + len;
    while (*q && *q != '>') {
      if (*q == '"' || *q == '\'') {
        char quote = *q;
        const char *e = strchr(q + 1, quote);
        if (!e) return false;
        for (const char *c = q + 1; c < e; c++)
          if (*c == '<') return false;
        q = e + 1;
        continue;
      }
      if (*q == '=' && q[1] != '"' && q[1] != '\'') return false;
      q++;
    }
    if (*q != '>') return false;
    bool selfclose = q[-1] == '/';
    if (closing) {
      if (depth == 0 || strlen(stack[depth - 1]) != len ||
          strncmp(stack[depth - 1], n, len))
        return false;
      depth--;
    } else if (!selfclose) {
      if (depth == 0) roots++;
      if (depth == 64) return false;
      memcpy(stack[depth], n, len);
      stack[depth][len] = '\0';
      depth++;
    } else if (depth == 0) {
      roots++;
    }
    p = q + 1;
  }
  return depth == 0 && roots == 1;
}

static void test_bench_checkers_reject_broken_input(void **state) {
  (void)state;
  /* The checkers must be able to fail, or the smoke test proves nothing. */
  assert_true(json_wellformed("{\"a\": [1, 2.5, -3e2, true, null, \"x\\n\"]}"));
  assert_false(json_wellformed("{\"a\": [1, 2,]}"));
  assert_false(json_wellformed("{\"a\" 1}"));
  assert_false(json_wellformed("[pomove, 1]"));
  assert_false(json_wellformed("{} {}"));
  assert_true(xml_wellformed("<?xml version=\"1.0\"?>\n<svg a=\"1\"><rect x=\"1\"/><text>a &amp; b</text></svg>\n"));
  assert_false(xml_wellformed("<svg><rect></svg>"));
  assert_false(xml_wellformed("<svg><text>a & b</text></svg>"));
  assert_false(xml_wellformed("<svg a=1></svg>"));
  assert_false(xml_wellformed("<svg></svg><svg></svg>"));
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
  return n;
}

static void test_bench_run_quick(void **state) {
  (void)state;
  tu_require(tu_sh("command -v bash >/dev/null && command -v awk >/dev/null") == 0,
             "bash and awk are needed");
  const char *s = tu_scratch();
  /* Two workloads and one scaling size keep it well under a minute in the
   * ASan build on a loaded 2-core machine. */
  bool have_floor = PM_FLOOR_BIN[0] != '\0';
  char floor_opt[4200] = "";
  if (have_floor) snprintf(floor_opt, sizeof floor_opt, "--floor '%s'", PM_FLOOR_BIN);
  int rc = tu_sh("bash '%s/bench/run.sh' --quick --runs 1 --workloads "
                 "postoffice,large --scale 100 --pomove '%s' %s --fs data "
                 "--out '%s/out' --data '%s/data' > '%s/log' 2>&1",
                 POMOVE_SOURCE_DIR, tu_pomove(), floor_opt, s, s, s);
  if (rc != 0) tu_sh("cat '%s/log' '%s/out/runs.log' >&2", s, s);
  assert_int_equal(rc, 0);

  char p[4096];
  size_t len;
  snprintf(p, sizeof p, "%s/out/results.md", s);
  char *md = tu_read_all(p, &len);
  assert_non_null(md);
  assert_non_null(strstr(md, "# pomove benchmark results"));
  assert_non_null(strstr(md, "## Copies"));
  assert_non_null(strstr(md, "## Audits"));
  assert_non_null(strstr(md, "## Scaling"));
  /* The protocol is stated: DST beside SRC, no wait in quick mode. */
  assert_non_null(strstr(md, "Protocol: DST on the data directory"));
  /* Every workload has a durable baseline row with its ratio of 1; the
   * copies that are not durable are marked. */
  assert_int_equal(count(md, "| warm | cp-a+sync | "), 2);
  assert_int_equal(count(md, "| warm | cp-a* | "), 2);
  assert_true(count(md, " | 1.00 | ") >= 4); /* cp -a; sync -f and xxh128sum -c */
  assert_non_null(strstr(md, "| CV | x cp -a; sync -f | / floor |"));
  assert_non_null(strstr(md, "| 100 | pomove-copy | "));
  assert_non_null(strstr(md, "| 100 | cp-a+sync | "));
  if (have_floor) {
    /* The floor ran on both workloads, its own ratio is 1, its split
     * figures are listed. */
    assert_int_equal(count(md, "| warm | floor | "), 2);
    assert_non_null(strstr(md, "## Floor (pm_floor)"));
    assert_int_equal(count(md, "| postoffice | warm | 1 | "), 1);
    assert_int_equal(count(md, "| large | warm | 1 | "), 1);
  }
  /* Every peer is listed with its command or as not available. */
  static const char *const tools[] = {
      "pomove-copy (copy)", "pomove-copy-verify (copy)", "cp-a (copy)",
      "cp-a+sync (copy)",
      "rsync-a (copy)", "tar-tar (copy)", "parallel-cp (copy)",
      "parallel-cp+sync (copy)", "floor (copy)",
      "cp-a+xxh128sum-c (copy)", "pomove-verify (audit)",
      "pomove-verify-manifest (audit)", "xxh128sum-c (audit)",
      "hashdeep-audit (audit)"};
  for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
    assert_non_null(strstr(md, tools[i]));
  /* pomove copy is either measured (a row with figures) or named as not
   * available; never silently missing. */
  assert_true(strstr(md, "| postoffice | warm | pomove-copy | 0") ||
              strstr(md, "| postoffice | warm | pomove-copy | 1") ||
              strstr(md, "pomove-copy | not available"));
  free(md);

  snprintf(p, sizeof p, "%s/out/results.json", s);
  char *js = tu_read_all(p, &len);
  assert_non_null(js);
  assert_true(json_wellformed(js));
  assert_non_null(strstr(js, "\"results\": ["));
  assert_non_null(strstr(js, "\"tool\": \"cp-a\""));
  assert_non_null(strstr(js, "\"maxrss_kib\""));
  assert_non_null(strstr(js, "\"cv_pct\""));
  assert_non_null(strstr(js, "\"time_over_floor\""));
  assert_non_null(strstr(js, "\"fs_mode\": \"data\""));
  if (have_floor) assert_non_null(strstr(js, "\"create_write_s\""));
  free(js);

  snprintf(p, sizeof p, "%s/out/results.svg", s);
  char *svg = tu_read_all(p, &len);
  assert_non_null(svg);
  assert_true(xml_wellformed(svg));
  assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
  assert_true(count(svg, "<rect") > 10);
  free(svg);

  /* The generated trees are gone. */
  assert_int_equal(tu_sh("test -z \"$(ls -A '%s/data')\"", s), 0);
  tu_cleanup();
}

static void test_bench_copy_vs_cp_smoke(void **state) {
  (void)state;
  const char *s = tu_scratch();
  char *out = NULL;
  /* --fs data --settle 0: the protocol without root and without the
   * 61 s wait (the loop modes are test_bench_protocol's). */
  int rc = tu_sh_out(&out,
                     "bash '%s/bench/copy_vs_cp.sh' --files 100 --runs 2 "
                     "--fs data --settle 0 --pomove '%s' --data '%s/data' 2>&1",
                     POMOVE_SOURCE_DIR, tu_pomove(), s);
  if (rc != 0) fprintf(stderr, "%s\n", out);
  assert_int_equal(rc, 0);
  assert_int_equal(count(out, "cp      run "), 2);
  assert_int_equal(count(out, "cp+sync run "), 2);
  assert_non_null(strstr(out, "cp -a       median"));
  assert_non_null(strstr(out, "cp -a;sync  median"));
  assert_non_null(strstr(out, "CV "));
  /* With pomove copy built, its runs and the ratio to the durable cp;
   * else it says so. */
  assert_true((count(out, "pomove  run ") == 2 &&
               strstr(out, "ratio: pomove copy is") && strstr(out, "both durable")) ||
              strstr(out, "pomove copy: not available"));
  free(out);
  assert_int_equal(tu_sh("test ! -e '%s/data/src'", s), 0);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bench_checkers_reject_broken_input),
      cmocka_unit_test(test_bench_run_quick),
      cmocka_unit_test(test_bench_copy_vs_cp_smoke),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
