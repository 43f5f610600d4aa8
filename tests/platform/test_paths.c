/* test_paths.c - the path syntax helpers every module uses to take a
 * path apart (pm_path_split, pm_path_within in platform/util.c, on
 * pm_path_root_len and pm_path_fold of the OS in sys.h): POSIX roots
 * everywhere, and on Windows drive letters, drive-relative paths, UNC
 * shares, the \\?\ prefix and names that differ only in case. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"
#include "testutil.h"
#include "util.h"

typedef struct split_case {
  const char *path, *parent, *name;
} split_case;

static void check_split(const split_case *c, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char *parent, *name;
    pm_path_split(c[i].path, &parent, &name);
    if (strcmp(parent, c[i].parent) || strcmp(name, c[i].name))
      fail_msg("pm_path_split(\"%s\") gave \"%s\" + \"%s\", not \"%s\" + "
               "\"%s\"",
               c[i].path, parent, name, c[i].parent, c[i].name);
    free(parent);
    free(name);
  }
}

static void test_paths_split(void **state) {
  (void)state;
  static const split_case common[] = {
      {"a", ".", "a"},
      {"a/b", "a", "b"},
      {"a/b/", "a", "b"},
      {"a//b//", "a", "b"},
      {"/x", "/", "x"},
      {"/x/y", "/x", "y"},
      {"/", "/", ""},
  };
  check_split(common, sizeof common / sizeof common[0]);
#ifdef _WIN32
  static const split_case win[] = {
      {"C:/", "C:/", ""},
      {"C:/x", "C:/", "x"},
      {"C:/x/y", "C:/x", "y"},
      {"C:x", "C:", "x"},
      {"C:", "C:", ""},
      {"//srv/share/x", "//srv/share/", "x"},
      {"//srv/share/x/y", "//srv/share/x", "y"},
      {"//srv/share", "//srv/share", ""},
      {"//x", "//x", ""},
      {"//?/C:/x", "//?/C:/", "x"},
      {"//?/UNC/srv/share/x", "//?/UNC/srv/share/", "x"},
  };
  check_split(win, sizeof win / sizeof win[0]);
#else
  static const split_case posix[] = {
      {"C:/x", "C:", "x"}, /* a relative path like any other */
      {"//x", "/", "x"},
  };
  check_split(posix, sizeof posix / sizeof posix[0]);
#endif
}

static void test_paths_within(void **state) {
  (void)state;
  assert_true(pm_path_within("/a", "/a"));
  assert_true(pm_path_within("/a", "/a/b"));
  assert_true(pm_path_within("/a/", "/a/b"));
  assert_false(pm_path_within("/a", "/ab"));
  assert_false(pm_path_within("/a/b", "/a"));
  assert_true(pm_path_within("/", "/a"));
#ifdef _WIN32
  /* NTFS names compare without case, and '\' is a separator. */
  assert_true(pm_path_within("C:/Exchsrvr", "c:/EXCHSRVR/connect"));
  assert_true(pm_path_within("C:\\Exchsrvr", "c:/exchsrvr\\Connect"));
  assert_true(pm_path_within("C:/", "C:/x"));
  assert_false(pm_path_within("C:/", "D:/x"));
  assert_false(pm_path_within("C:/ab", "C:/abc"));
  /* Beyond ASCII: U+00E9 and U+00C9 are one name on NTFS. */
  assert_true(pm_path_within("C:/caf\xc3\xa9", "C:/CAF\xc3\x89/x"));
  assert_true(pm_path_within("//srv/share", "//SRV/Share/x"));
#else
  /* POSIX names are bytes: case matters, '\' is a character. */
  assert_false(pm_path_within("/Exchsrvr", "/exchsrvr/connect"));
  assert_false(pm_path_within("/a\\b", "/a/b"));
#endif
}

static void test_paths_root_len(void **state) {
  (void)state;
  assert_int_equal(pm_path_root_len("/"), 1);
  assert_int_equal(pm_path_root_len("/a"), 1);
  assert_int_equal(pm_path_root_len("a/b"), 0);
  assert_int_equal(pm_path_root_len(""), 0);
#ifdef _WIN32
  assert_int_equal(pm_path_root_len("C:/a"), 3);
  assert_int_equal(pm_path_root_len("C:\\a"), 3);
  assert_int_equal(pm_path_root_len("C:a"), 2);
  assert_int_equal(pm_path_root_len("//srv/share/a"), 12);
  assert_int_equal(pm_path_root_len("\\\\?\\C:\\a"), 7);
  char *f = pm_path_fold("C:\\Dir/na\xc3\xafve");
  assert_non_null(f);
  assert_string_equal(f, "C:/DIR/NA\xc3\x8fVE");
  free(f);
#else
  assert_int_equal(pm_path_root_len("C:/a"), 0);
  char *f = pm_path_fold("/Dir\\x");
  assert_non_null(f);
  assert_string_equal(f, "/Dir\\x");
  free(f);
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_paths_split),
      cmocka_unit_test(test_paths_within),
      cmocka_unit_test(test_paths_root_len),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
