/* test_manifest_parse.c - the manifest reader: GNU and BSD (--tag)
 * lines, xxhsum's escaping, CRLF ends, awkward names (newline, backslash,
 * spaces, invalid UTF-8, leading "./"), malformed lines, and round trips
 * through the writer's line format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "platform.h"
#include "testutil.h"

static const char *H = "0123456789abcdef0123456789ABCDEF";

static char *parse_ok(const char *line) {
  char *path = NULL;
  pm_hash128 h;
  assert_int_equal(pm_manifest_parse_line(line, strlen(line), &path, &h), 0);
  char hex[33];
  pm_hash_hex(&h, hex);
  assert_string_equal(hex, "0123456789abcdef0123456789abcdef");
  return path;
}

static void parse_bad(const char *line) {
  char *path = NULL;
  pm_hash128 h;
  assert_int_equal(pm_manifest_parse_line(line, strlen(line), &path, &h),
                   PM_EFORMAT);
  assert_null(path);
}

static void test_manifest_gnu_and_bsd(void **state) {
  (void)state;
  char line[512], *p;
  snprintf(line, sizeof line, "%s  MAI/MA6/00000116.MAI", H);
  p = parse_ok(line);
  assert_string_equal(p, "MAI/MA6/00000116.MAI");
  free(p);
  /* md5sum's binary marker. */
  snprintf(line, sizeof line, "%s *bin file", H);
  p = parse_ok(line);
  assert_string_equal(p, "bin file");
  free(p);
  snprintf(line, sizeof line, "XXH128 (sp ace/x) = %s", H);
  p = parse_ok(line);
  assert_string_equal(p, "sp ace/x");
  free(p);
  /* A name that itself holds ") = " in BSD style. */
  snprintf(line, sizeof line, "XXH128 (odd) = name) = %s", H);
  p = parse_ok(line);
  assert_string_equal(p, "odd) = name");
  free(p);
  /* Leading "./" is kept by the reader (the audit drops it). */
  snprintf(line, sizeof line, "%s  ./a/b", H);
  p = parse_ok(line);
  assert_string_equal(p, "./a/b");
  free(p);
  /* Trailing spaces belong to the name. */
  snprintf(line, sizeof line, "%s  trail ", H);
  p = parse_ok(line);
  assert_string_equal(p, "trail ");
  free(p);
}

static void test_manifest_escapes_and_crlf(void **state) {
  (void)state;
  char line[512], *p;
  snprintf(line, sizeof line, "\\%s  new\\nline\\\\back", H);
  p = parse_ok(line);
  assert_string_equal(p, "new\nline\\back");
  free(p);
  snprintf(line, sizeof line, "\\XXH128 (a\\nb) = %s", H);
  p = parse_ok(line);
  assert_string_equal(p, "a\nb");
  free(p);
  /* Without the leading backslash a backslash is literal (xxh128sum 0.8.1
   * writes names that way). */
  snprintf(line, sizeof line, "%s  back\\slash", H);
  p = parse_ok(line);
  assert_string_equal(p, "back\\slash");
  free(p);
  snprintf(line, sizeof line, "%s  crlf\r", H);
  p = parse_ok(line);
  assert_string_equal(p, "crlf");
  free(p);
  snprintf(line, sizeof line, "XXH128 (crlf) = %s\r", H);
  p = parse_ok(line);
  assert_string_equal(p, "crlf");
  free(p);
  snprintf(line, sizeof line, "%s  \xff\xfe-latin1-\xe9", H);
  p = parse_ok(line);
  assert_string_equal(p, "\xff\xfe-latin1-\xe9");
  free(p);
}

static void test_manifest_malformed(void **state) {
  (void)state;
  char line[512];
  parse_bad("");
  parse_bad("hello");
  snprintf(line, sizeof line, "%s", H); /* no name */
  parse_bad(line);
  snprintf(line, sizeof line, "%s  ", H); /* empty name */
  parse_bad(line);
  snprintf(line, sizeof line, "%.31s  short", H);
  parse_bad(line);
  snprintf(line, sizeof line, "%.31sg  nothex", H);
  parse_bad(line);
  snprintf(line, sizeof line, "%s\tname", H);
  parse_bad(line);
  snprintf(line, sizeof line, "\\%s  bad\\tescape", H);
  parse_bad(line);
  snprintf(line, sizeof line, "\\%s  ends\\", H);
  parse_bad(line);
  /* Another algorithm: refused, not misread. */
  parse_bad("XXH64 (x) = 0123456789abcdef");
  snprintf(line, sizeof line, "XXH3 (x) = %s", H);
  parse_bad(line);
  snprintf(line, sizeof line, "XXH128 (x) %s", H);
  parse_bad(line);
}

static void roundtrip(const char *name) {
  pm_hash128 h = pm_hash_buffer(name, strlen(name));
  char *line = pm_manifest_format_line(name, &h);
  size_t n = strlen(line);
  assert_true(n > 0 && line[n - 1] == '\n');
  /* One line only, whatever the name holds. */
  assert_null(memchr(line, '\n', n - 1));
  char *path = NULL;
  pm_hash128 back;
  assert_int_equal(pm_manifest_parse_line(line, n - 1, &path, &back), 0);
  assert_string_equal(path, name);
  assert_true(pm_hash_equal(&h, &back));
  free(path);
  free(line);
}

static void test_manifest_roundtrip_awkward(void **state) {
  (void)state;
  roundtrip("plain");
  roundtrip("new\nline");
  roundtrip("back\\slash");
  roundtrip("\\leading");
  roundtrip("trailing\\");
  roundtrip("both\\n\n");
  roundtrip("  spaces  ");
  roundtrip("\xff\xfe invalid utf-8");
  roundtrip("./dot/slash");
  roundtrip("XXH128 (looks) = like a tag");
}

static void test_manifest_reader_file(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char path[4096];
  snprintf(path, sizeof path, "%s/m.xxh128", dir);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fprintf(f, "%s  one\r\n", H);
  fprintf(f, "\r\n\n");
  fprintf(f, "XXH128 (two words) = %s\n", H);
  fprintf(f, "garbage line\n");
  fprintf(f, "\\%s  three\\nlines\\\\x\n", H);
  fprintf(f, "%s  last-without-newline", H);
  fclose(f);
  pm_manifest_reader *r;
  assert_int_equal(pm_manifest_reader_open(path, &r), 0);
  pm_manifest_entry e;
  assert_int_equal(pm_manifest_reader_next(r, &e), 1);
  assert_string_equal(e.path, "one");
  assert_int_equal(e.line, 1);
  assert_int_equal(pm_manifest_reader_next(r, &e), 1);
  assert_string_equal(e.path, "two words");
  assert_int_equal(e.line, 4);
  assert_int_equal(pm_manifest_reader_next(r, &e), PM_EFORMAT);
  assert_int_equal(e.line, 5);
  assert_int_equal(pm_manifest_reader_next(r, &e), 1);
  assert_string_equal(e.path, "three\nlines\\x");
  assert_int_equal(pm_manifest_reader_next(r, &e), 1);
  assert_string_equal(e.path, "last-without-newline");
  assert_int_equal(pm_manifest_reader_next(r, &e), 0);
  assert_int_equal(pm_manifest_reader_next(r, &e), 0);
  pm_manifest_reader_close(r);
  tu_cleanup();
}

/* A line far longer than the reader's buffer (deep paths). */
static void test_manifest_reader_long_line(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char path[4096];
  snprintf(path, sizeof path, "%s/long.xxh128", dir);
  size_t n = 700 * 1024;
  char *name = malloc(n + 1);
  for (size_t i = 0; i < n; i++) name[i] = (i % 100 == 99) ? '/' : 'a';
  name[n] = '\0';
  FILE *f = fopen(path, "wb");
  fprintf(f, "%s  %s\n%s  short\n", H, name, H);
  fclose(f);
  pm_manifest_reader *r;
  assert_int_equal(pm_manifest_reader_open(path, &r), 0);
  pm_manifest_entry e;
  assert_int_equal(pm_manifest_reader_next(r, &e), 1);
  assert_string_equal(e.path, name);
  assert_int_equal(pm_manifest_reader_next(r, &e), 1);
  assert_string_equal(e.path, "short");
  assert_int_equal(pm_manifest_reader_next(r, &e), 0);
  pm_manifest_reader_close(r);
  free(name);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_manifest_gnu_and_bsd),
      cmocka_unit_test(test_manifest_escapes_and_crlf),
      cmocka_unit_test(test_manifest_malformed),
      cmocka_unit_test(test_manifest_roundtrip_awkward),
      cmocka_unit_test(test_manifest_reader_file),
      cmocka_unit_test(test_manifest_reader_long_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
