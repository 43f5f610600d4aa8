/* test_bench_staged.c - smoke test of bench/staged_move.sh, issue 16's
 * staged-move benchmark: one run on a tiny simulated host (DST beside it,
 * the protocol's mode that needs no root) must finish with exit 0, write a
 * runs.tsv with every step and tool, each with a positive wall time, the
 * moves with a positive downtime, copy time and count of files copied
 * (fewer after the stage than without it), and a results.md with the
 * table and both ratios of the targets; the host is gone after.
 * No assertion on how fast anything is. Also checks the seeded change
 * script it relies on: the same seed picks the same change, and revert
 * puts the tree back as it was. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* One row of runs.tsv: run, step, tool, wall_s, user_s, sys_s,
 * downtime_s, copy_s, copied, services_s. */
typedef struct row {
  char step[32], tool[48];
  double wall, user, sys, downtime, copy, services;
  long copied;
  int fields;
} row;

static int parse_rows(char *tsv, row *rows, int max) {
  int n = 0;
  char *save = NULL;
  char *line = strtok_r(tsv, "\n", &save);
  assert_non_null(line);
  assert_string_equal(line, "run\tstep\ttool\twall_s\tuser_s\tsys_s\tdowntime_s\t"
                            "copy_s\tcopied\tservices_s");
  while ((line = strtok_r(NULL, "\n", &save)) != NULL && n < max) {
    row *r = &rows[n++];
    memset(r, 0, sizeof *r);
    r->copied = -1;
    r->downtime = r->copy = r->services = -1;
    /* Fields by hand: empty ones are allowed (the delta rows). */
    char *f[10] = {0};
    int k = 0;
    char *p = line;
    f[k++] = p;
    for (; *p && k < 10; p++)
      if (*p == '\t') {
        *p = '\0';
        f[k++] = p + 1;
      }
    r->fields = k;
    if (k != 10) continue;
    snprintf(r->step, sizeof r->step, "%s", f[1]);
    snprintf(r->tool, sizeof r->tool, "%s", f[2]);
    r->wall = atof(f[3]);
    r->user = atof(f[4]);
    r->sys = atof(f[5]);
    if (*f[6]) r->downtime = atof(f[6]);
    if (*f[7]) r->copy = atof(f[7]);
    if (*f[8]) r->copied = atol(f[8]);
    if (*f[9]) r->services = atof(f[9]);
  }
  return n;
}

static const row *find(const row *rows, int n, const char *step, const char *tool) {
  const row *hit = NULL;
  for (int i = 0; i < n; i++)
    if (!strcmp(rows[i].step, step) && !strcmp(rows[i].tool, tool)) {
      assert_null(hit); /* one run: one row each */
      hit = &rows[i];
    }
  return hit;
}

static void test_bench_staged_smoke(void **state) {
  (void)state;
  tu_require(tu_sh("command -v bash >/dev/null && command -v awk >/dev/null && "
                   "command -v rsync >/dev/null") == 0,
             "bash, awk and rsync are needed");
  const char *s = tu_scratch();
  char *out = NULL;
  int rc = tu_sh_out(&out,
                     "bash '%s/bench/staged_move.sh' --files 200 --runs 1 "
                     "--fs data --pomove '%s' --data '%s/data' --out '%s/out' 2>&1",
                     POMOVE_SOURCE_DIR, tu_pomove(), s, s);
  if (rc != 0) {
    fprintf(stderr, "%s\n", out);
    tu_sh("cat '%s/out/runs.log' >&2", s);
  }
  assert_int_equal(rc, 0);
  free(out);

  char p[4096];
  size_t len;
  snprintf(p, sizeof p, "%s/out/runs.tsv", s);
  char *tsv = tu_read_all(p, &len);
  assert_non_null(tsv);
  row rows[32];
  int n = parse_rows(tsv, rows, 32);
  assert_int_equal(n, 6); /* 2 moves, the stage, 3 delta passes */
  for (int i = 0; i < n; i++) {
    assert_int_equal(rows[i].fields, 10);
    assert_true(rows[i].wall > 0);
    assert_true(rows[i].user >= 0 && rows[i].sys >= 0);
  }
  const row *un = find(rows, n, "unstaged", "pomove-move");
  const row *st = find(rows, n, "staged", "pomove-move");
  assert_non_null(un);
  assert_non_null(st);
  assert_non_null(find(rows, n, "stage", "pomove-stage"));
  assert_non_null(find(rows, n, "delta", "pomove-update-delete"));
  assert_non_null(find(rows, n, "delta", "rsync-a-delete+sync"));
  assert_non_null(find(rows, n, "delta", "cp-au+sync"));
  const row *mv[2] = {un, st};
  for (int i = 0; i < 2; i++) {
    assert_true(mv[i]->downtime > 0);
    assert_true(mv[i]->copy > 0);
    assert_true(mv[i]->services > 0);
    assert_true(mv[i]->downtime <= mv[i]->wall);
    assert_true(mv[i]->copy + mv[i]->services <= mv[i]->downtime + 0.001);
    assert_true(mv[i]->copied > 0);
  }
  /* Without a stage the move copies the whole postoffice (200 files and
   * the connector's Bin); after it only the change (1%: at least 3 files
   * touched, one of them deleted, one added). */
  assert_true(un->copied >= 200);
  assert_true(st->copied >= 2 && st->copied < un->copied / 4);
  free(tsv);

  snprintf(p, sizeof p, "%s/out/results.md", s);
  char *md = tu_read_all(p, &len);
  assert_non_null(md);
  assert_non_null(strstr(md, "# Staged move: downtime and delta pass"));
  assert_non_null(strstr(md, "| downtime, move without a stage | "));
  assert_non_null(strstr(md, "| downtime, move after a stage | "));
  assert_non_null(strstr(md, "| delta pass: pomove-update-delete (wall time) | "));
  assert_non_null(strstr(md, "| delta pass: rsync-a-delete+sync (wall time) | "));
  assert_non_null(strstr(md, "| delta pass: cp-au+sync (wall time) | "));
  assert_non_null(strstr(md, "- downtime staged / unstaged: 0.") ||
                  strstr(md, "- downtime staged / unstaged: 1."));
  assert_non_null(strstr(md, "- delta pass: rsync -a --delete second pass / pomove copy --update --delete: "));
  assert_null(strstr(md, "nan"));
  free(md);
  /* The host and the peers' copies are gone. */
  assert_int_equal(tu_sh("test -z \"$(ls -A '%s/data' 2>/dev/null)\"", s), 0);
  tu_cleanup();
}

static void test_change_tree_seeded_and_reverted(void **state) {
  (void)state;
  const char *s = tu_scratch();
  /* A small tree of the connector's shape, from the generator. */
  assert_int_equal(tu_sh("'%s' gen-postoffice '%s/po' --files 300 --quiet", tu_pomove(), s), 0);
  assert_int_equal(tu_sh("cp -a '%s/po' '%s/ref'", s, s), 0);
  const char *list = "find '%s/%s' -printf '%%P %%s %%T@\\n' | LC_ALL=C sort > '%s/%s'";
  assert_int_equal(tu_sh(list, s, "po", s, "before"), 0);
  char *o1 = NULL, *o2 = NULL;
  assert_int_equal(tu_sh_out(&o1, "bash '%s/bench/change_tree.sh' apply '%s/po' 5 1 '%s/st'",
                             POMOVE_SOURCE_DIR, s, s), 0);
  /* 1% of 300 files is 3: one deleted, two modified, one added. */
  assert_non_null(strstr(o1, "modified 2 deleted 1 added 1"));
  assert_int_equal(tu_sh(list, s, "po", s, "changed1"), 0);
  /* The change is a change: the listing differs. */
  assert_int_not_equal(tu_sh("cmp -s '%s/before' '%s/changed1'", s, s), 0);
  assert_int_equal(tu_sh("bash '%s/bench/change_tree.sh' revert '%s/po' '%s/st'",
                         POMOVE_SOURCE_DIR, s, s), 0);
  assert_int_equal(tu_sh(list, s, "po", s, "after"), 0);
  assert_int_equal(tu_sh("cmp -s '%s/before' '%s/after'", s, s), 0);
  assert_int_equal(tu_sh("diff -r '%s/ref' '%s/po' >&2", s, s), 0);
  assert_int_equal(tu_sh("test ! -e '%s/st'", s), 0);
  /* The same seed picks the same files: same names and sizes. */
  assert_int_equal(tu_sh_out(&o2, "bash '%s/bench/change_tree.sh' apply '%s/po' 5 1 '%s/st'",
                             POMOVE_SOURCE_DIR, s, s), 0);
  assert_string_equal(o1, o2);
  assert_int_equal(tu_sh("find '%s/po' -printf '%%P %%s\\n' | LC_ALL=C sort > '%s/c2' && "
                         "cut -d' ' -f1,2 '%s/changed1' | cmp -s - '%s/c2'", s, s, s, s), 0);
  free(o1);
  free(o2);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_change_tree_seeded_and_reverted),
      cmocka_unit_test(test_bench_staged_smoke),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
