/* test_copy_state.c - loading the state a copy leaves for `copy --update`
 * (copyengine/state.c), which a thread of its own reads in pieces while
 * the loading thread parses: every record comes back whatever the size
 * of each read (records cut by a piece or a short read), a read that
 * fails at any point fails the load with its error (never a record
 * parsed from bytes that were not read), and a file cut short is damaged
 * at the record it cuts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultlayer.h"
#include "state.h"
#include "testutil.h"
#include "util.h"

#define NREC 20000

static ce_srec rec_of(unsigned i) {
  ce_srec r;
  memset(&r, 0, sizeof r);
  r.ssize = 1000 + i;
  r.sdev = 7;
  r.sino = 100000 + i;
  r.smtime.sec = 1600000000 + i;
  r.smtime.nsec = (int32_t)i;
  r.sctime.sec = 1600000001 + i;
  r.dsize = 1000 + i;
  r.ddev = 8;
  r.dino = 200000 + i;
  r.dmtime = r.smtime;
  r.read_at.sec = 1700000000;
  for (int k = 0; k < 16; k++) r.hash.b[k] = (unsigned char)(i >> (k % 4));
  return r;
}

static char *rel_of(unsigned i) {
  /* Paths of varying length, so that records straddle every boundary. */
  return pm_xasprintf("Maildata/MAI/MA%X/%0*X.MAI", i % 16, (int)(8 + i % 23), i);
}

/* Writes a state of NREC records at base/dst.pomove-state; its path. */
static char *write_state(const char *base) {
  char *path = pm_xasprintf("%s/dst.pomove-state", base);
  ce_state_writer *w;
  assert_int_equal(ce_state_writer_open(pm_fs_native(), path, "/the/src",
                                        "/the/dst", &w),
                   0);
  for (unsigned i = 0; i < NREC; i++) {
    ce_srec r = rec_of(i);
    char *rel = rel_of(i);
    assert_int_equal(ce_state_writer_add(w, rel, &r), 0);
    free(rel);
  }
  assert_int_equal(ce_state_writer_publish(w), 0);
  return path;
}

static void check_all(const ce_state *s) {
  assert_int_equal(ce_state_count(s), NREC);
  for (unsigned i = 0; i < NREC; i++) {
    char *rel = rel_of(i);
    ce_srec got;
    const ce_srec *r = ce_state_lookup(s, rel, &got);
    assert_non_null(r);
    ce_srec want = rec_of(i);
    assert_int_equal(r->ssize, want.ssize);
    assert_int_equal(r->sino, want.sino);
    assert_int_equal(r->dino, want.dino);
    assert_int_equal(r->smtime.nsec, want.smtime.nsec);
    assert_memory_equal(r->hash.b, want.hash.b, 16);
    /* By the source's identity too, with the path whole and ended: the
     * records stay in the file's bytes, each path ended in place. */
    size_t it = 0;
    const char *orel = NULL;
    ce_srec byino;
    const ce_srec *g =
        ce_state_lookup_src(s, want.sdev, want.sino, &it, &orel, &byino);
    assert_non_null(g);
    assert_string_equal(orel, rel);
    assert_int_equal(g->dino, want.dino);
    assert_null(ce_state_lookup_src(s, want.sdev, want.sino, &it, &orel, &byino));
    free(rel);
  }
}

static void test_copy_state_loads_every_record(void **state) {
  (void)state;
  const char *base = tu_scratch();
  char *path = write_state(base);
  /* Whole pieces, then reads cut short at odd sizes. */
  static const unsigned caps[] = {0, 4093, 65537, 1000003};
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    fl_rule rule = {.short_io = caps[i]};
    fl_layer *L = fl_new(NULL, &rule);
    ce_state *s = NULL;
    assert_int_equal(ce_state_load(fl_fs(L), path, "/the/src", true, &s), 0);
    check_all(s);
    ce_state_free(s);
    if (caps[i]) assert_true(fl_calls(L, FL_READ) > 1);
    fl_free(L);
  }
  free(path);
  tu_cleanup();
}

static void test_copy_state_read_error_fails_load(void **state) {
  (void)state;
  const char *base = tu_scratch();
  char *path = write_state(base);
  /* The first read, one in the middle of the file, the last one. */
  for (unsigned long nth = 1; nth <= 60; nth += 29) {
    fl_rule rule = {.ops = FL_MASK(FL_READ),
                    .nth = nth,
                    .err = PM_EIO,
                    .short_io = 16384,
                    .path = ".pomove-state",
                    .path_match = FL_PATH_SUFFIX};
    fl_layer *L = fl_new(NULL, &rule);
    ce_state *s = (ce_state *)1;
    int rc = ce_state_load(fl_fs(L), path, "/the/src", true, &s);
    /* The file takes some 180 reads of 16 KiB: all three fire. */
    assert_true(fl_fired(L));
    if (fl_fired(L)) {
      assert_int_equal(rc, PM_EIO);
      assert_null(s);
    } else {
      /* Fewer reads than nth: the file was read whole. */
      assert_int_equal(rc, 0);
      check_all(s);
      ce_state_free(s);
    }
    fl_free(L);
  }
  free(path);
  tu_cleanup();
}

static void test_copy_state_cut_short_is_damaged(void **state) {
  (void)state;
  const char *base = tu_scratch();
  char *path = write_state(base);
  size_t len;
  free(tu_read_all(path, &len));
  /* Cut in the middle: a record is left incomplete; cut at 5 bytes: not
   * even the magic. */
  assert_int_equal(truncate(path, (off_t)(len / 2)), 0);
  ce_state *s = (ce_state *)1;
  assert_int_equal(ce_state_load(pm_fs_native(), path, "/the/src", false, &s),
                   PM_EFORMAT);
  assert_null(s);
  assert_int_equal(truncate(path, 5), 0);
  s = (ce_state *)1;
  assert_int_equal(ce_state_load(pm_fs_native(), path, "/the/src", false, &s),
                   PM_EFORMAT);
  assert_null(s);
  free(path);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_copy_state_loads_every_record),
      cmocka_unit_test(test_copy_state_read_error_fails_load),
      cmocka_unit_test(test_copy_state_cut_short_is_damaged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
