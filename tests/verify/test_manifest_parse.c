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
  assert_int_equal(pm_manifest_reader_open(pm_fs_native(), path, &r), 0);
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
  /* A last line without its newline may be cut short: an error of that
   * line, never read as a (maybe shortened) name. */
  assert_int_equal(pm_manifest_reader_next(r, &e), PM_EFORMAT);
  assert_int_equal(e.line, 7);
  assert_non_null(strstr(e.why, "no newline"));
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
  assert_int_equal(pm_manifest_reader_open(pm_fs_native(), path, &r), 0);
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

/* Writes `n` bytes to a scratch file and returns its path. */
static char *scratch_file(const char *dir, const char *name, const void *data,
                          size_t n) {
  char *path = malloc(strlen(dir) + strlen(name) + 2);
  sprintf(path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  fclose(f);
  return path;
}

/* Every byte accounted for: a NUL mid-file, CRLF ends, a cut last line,
 * a line over the limit each name their line; the lines around them
 * still read. */
static void test_manifest_reader_accounts_every_byte(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "%s  a\n%s  b", H, H);
  buf[n - 1] = '\0'; /* "b" becomes a NUL byte */
  n += snprintf(buf + n, sizeof buf - (size_t)n, "\n%s  c\r\n%s  cut-here", H,
                H);
  char *path = scratch_file(dir, "m", buf, (size_t)n);
  pm_manifest_reader *r;
  pm_manifest_entry e;
  assert_int_equal(pm_manifest_reader_open(pm_fs_native(), path, &r), 0);
  assert_int_equal(pm_manifest_reader_next(r, &e), 1);
  assert_string_equal(e.path, "a");
  assert_int_equal(pm_manifest_reader_next(r, &e), PM_EFORMAT);
  assert_int_equal(e.line, 2);
  assert_non_null(strstr(e.why, "NUL"));
  assert_int_equal(pm_manifest_reader_next(r, &e), 1);
  assert_string_equal(e.path, "c");
  assert_int_equal(pm_manifest_reader_next(r, &e), PM_EFORMAT);
  assert_int_equal(e.line, 4);
  assert_int_equal(pm_manifest_reader_next(r, &e), 0);
  pm_manifest_reader_close(r);
  free(path);
  /* A line over 1 MiB: one error for it, then the next line reads. */
  size_t big = PM_MANIFEST_MAX_LINE + 100;
  char *data = malloc(big + 200);
  memset(data, 'x', big);
  size_t k = big;
  data[k++] = '\n';
  k += (size_t)sprintf(data + k, "%s  after\n", H);
  path = scratch_file(dir, "long", data, k);
  assert_int_equal(pm_manifest_reader_open(pm_fs_native(), path, &r), 0);
  assert_int_equal(pm_manifest_reader_next(r, &e), PM_EFORMAT);
  assert_int_equal(e.line, 1);
  assert_int_equal(pm_manifest_reader_next(r, &e), 1);
  assert_string_equal(e.path, "after");
  assert_int_equal(e.line, 2);
  assert_int_equal(pm_manifest_reader_next(r, &e), 0);
  pm_manifest_reader_close(r);
  free(path);
  free(data);
  tu_cleanup();
}

/* Lines of other checksum tools are named, and flagged as such. */
static void test_manifest_other_algorithms(void **state) {
  (void)state;
  const char *lines[] = {
      "d41d8cd98f00b204e9800998ecf8427e  x", /* md5: looks like XXH128 */
      "da39a3ee5e6b4b0d3255bfef95601890afd80709  x",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  x",
      "ef46db3751d8e999  x",
      "02cc5d05  x",
      "XXH3_2d06800538d394c2  x",
      "MD5 (x) = d41d8cd98f00b204e9800998ecf8427e",
      "SHA256 (x) = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "XXH64 (x) = ef46db3751d8e999",
  };
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
    char *path = NULL;
    pm_hash128 h;
    const char *why = NULL;
    bool other = false;
    int rc = pm_manifest_parse_line_why(lines[i], strlen(lines[i]), &path, &h,
                                        &why, &other);
    if (i == 0) {
      /* 32 hex digits cannot be told from XXH128 by the line: the audit
       * recognises md5sum by the files' MD5. */
      assert_int_equal(rc, 0);
      free(path);
      continue;
    }
    assert_int_equal(rc, PM_EFORMAT);
    assert_true(other);
    assert_non_null(strstr(why, "not XXH128"));
  }
}

/* CR names: escaped when the CR ends the name (xxhsum's "\r"), raw
 * inside it (xxh128sum 0.8.1 reads those); both read back. */
static void test_manifest_cr_names(void **state) {
  (void)state;
  pm_hash128 h = pm_hash_buffer("x", 1);
  char *l = pm_manifest_format_line("cr\r", &h);
  assert_int_equal(l[0], '\\');
  assert_non_null(strstr(l, "  cr\\r\n"));
  free(l);
  l = pm_manifest_format_line("mid\rx", &h);
  assert_true(l[0] != '\\');
  free(l);
  roundtrip("cr\r");
  roundtrip("\r");
  roundtrip("\r\r\n\\r");
  roundtrip("back\\r\r");
}

/* Property: every name of legal bytes (1..255 but '/', which only
 * separates), written by the writer and read by the reader, comes back
 * the same; through a file, so the reader's line splitting is part of
 * it. Names are biased towards the bytes that matter (CR, LF, '\\',
 * space, 'n', 'r'). */
static void test_manifest_roundtrip_property(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char path[4096];
  snprintf(path, sizeof path, "%s/prop.xxh128", dir);
  enum { N = 20000 };
  char **names = calloc(N, sizeof *names);
  uint32_t x = 12345;
  pm_manifest_writer *w;
  assert_int_equal(pm_manifest_writer_open_fs(pm_fs_native(), path, &w), 0);
  static const char hot[] = "\r\n\\ nr.\t";
  for (int i = 0; i < N; i++) {
    x = x * 1103515245u + 12345u;
    size_t len = 1 + (x >> 16) % 12;
    names[i] = malloc(len + 1);
    for (size_t k = 0; k < len; k++) {
      x = x * 1103515245u + 12345u;
      unsigned v = (x >> 16) & 0xffff;
      unsigned char c = v % 3 == 0 ? (unsigned char)hot[(v / 3) % 8]
                                   : (unsigned char)(1 + (v / 3) % 255);
      if (c == '/') c = 'a';
      names[i][k] = (char)c;
    }
    names[i][len] = '\0';
    pm_hash128 h = pm_hash_buffer(names[i], len);
    assert_int_equal(pm_manifest_writer_add(w, names[i], &h), 0);
  }
  assert_int_equal(pm_manifest_writer_publish(w), 0);
  pm_manifest_reader *r;
  assert_int_equal(pm_manifest_reader_open(pm_fs_native(), path, &r), 0);
  pm_manifest_entry e;
  for (int i = 0; i < N; i++) {
    int rc = pm_manifest_reader_next(r, &e);
    if (rc != 1) fail_msg("name %d: reader returned %d (%s)", i, rc,
                          e.why ? e.why : "");
    assert_string_equal(e.path, names[i]);
    pm_hash128 h = pm_hash_buffer(names[i], strlen(names[i]));
    assert_true(pm_hash_equal(&h, &e.hash));
    free(names[i]);
  }
  assert_int_equal(pm_manifest_reader_next(r, &e), 0);
  pm_manifest_reader_close(r);
  free(names);
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
      cmocka_unit_test(test_manifest_reader_accounts_every_byte),
      cmocka_unit_test(test_manifest_other_algorithms),
      cmocka_unit_test(test_manifest_cr_names),
      cmocka_unit_test(test_manifest_roundtrip_property),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
