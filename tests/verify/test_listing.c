/* test_listing.c - directory listings for the walks: the path order of
 * `pomove hash` (a directory sorts as its name plus '/', so the output is
 * in byte order of whole paths), name order for merging, and errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "testutil.h"

static void test_listing_path_order(void **state) {
  (void)state;
  /* "a.b" (file) < "a" (dir, key "a/") because '.' < '/'. */
  assert_true(vf_path_order_cmp("a.b", false, "a", true) < 0);
  assert_true(vf_path_order_cmp("a", true, "a.b", false) > 0);
  /* As files, "a" < "a.b" (prefix). */
  assert_true(vf_path_order_cmp("a", false, "a.b", false) < 0);
  /* "a0" (file) > "a" (dir): '0' > '/'. */
  assert_true(vf_path_order_cmp("a0", false, "a", true) > 0);
  assert_int_equal(vf_path_order_cmp("x", true, "x", true), 0);
  /* Bytes compare unsigned: 0xff after ASCII. */
  assert_true(vf_path_order_cmp("\xff", false, "z", false) > 0);
}

static void test_listing_reads_and_sorts(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  assert_int_equal(tu_sh("cd '%s' && mkdir a sub && touch a.b a0 B z "
                         "$(printf '\\377') && ln -s z link",
                         dir),
                   0);
  vf_listing l;
  const char *op = NULL;
  assert_int_equal(vf_list_dir(pm_fs_native(), dir, VF_SORT_PATH, &l, &op), 0);
  const char *want_path[] = {"B", "a.b", "a", "a0", "link", "sub", "z",
                             "\xff"};
  assert_int_equal(l.n, 8);
  for (size_t i = 0; i < l.n; i++) assert_string_equal(l.e[i].name, want_path[i]);
  assert_int_equal(l.e[2].type, PM_T_DIR);
  assert_int_equal(l.e[4].type, PM_T_SYMLINK);
  assert_int_equal(l.e[1].type, PM_T_FILE);
  vf_listing_free(&l);
  assert_int_equal(vf_list_dir(pm_fs_native(), dir, VF_SORT_NAME, &l, &op), 0);
  const char *want_name[] = {"B", "a", "a.b", "a0", "link", "sub", "z",
                             "\xff"};
  for (size_t i = 0; i < l.n; i++) assert_string_equal(l.e[i].name, want_name[i]);
  vf_listing_free(&l);
  /* Empty directory and errors. */
  char p[4200];
  snprintf(p, sizeof p, "%s/sub", dir);
  assert_int_equal(vf_list_dir(pm_fs_native(), p, VF_SORT_PATH, &l, &op), 0);
  assert_int_equal(l.n, 0);
  vf_listing_free(&l);
  snprintf(p, sizeof p, "%s/none", dir);
  assert_int_equal(vf_list_dir(pm_fs_native(), p, VF_SORT_PATH, &l, &op),
                   PM_ENOENT);
  assert_string_equal(op, "open directory");
  snprintf(p, sizeof p, "%s/z", dir);
  assert_int_equal(vf_list_dir(pm_fs_native(), p, VF_SORT_PATH, &l, &op),
                   PM_ENOTDIR);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_listing_path_order),
      cmocka_unit_test(test_listing_reads_and_sorts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
