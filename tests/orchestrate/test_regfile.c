/* test_regfile.c - the REGEDIT5 reader and writer (platform/regfile.c):
 * byte-identical round trips of every value type, regedit's own layout
 * (continuation lines, escapes, "@", deletions), UTF-16LE with BOM and
 * CRLF on output, and malformed input refused with the line. */
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "testutil.h"
#include "util.h"

#define K "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Test Svc"

static char *to_utf8(const uint8_t *b, size_t len) {
  assert_true(len >= 2 && b[0] == 0xFF && b[1] == 0xFE);
  size_t units = (len - 2) / 2;
  uint16_t *u = malloc((units + 1) * sizeof *u);
  for (size_t i = 0; i < units; i++)
    u[i] = (uint16_t)(b[2 + 2 * i] | b[3 + 2 * i] << 8);
  char *s = pm_utf16_to_utf8(u, units);
  free(u);
  return s;
}

static void test_regfile_roundtrip_types(void **state) {
  (void)state;
  pm_regtree *t = pm_regtree_new();
  pm_reg_value v;
  pm_reg_value_set_str(&v, PM_REG_SZ, "C:\\exchsrvr\\Connect\\Msmcon \"q\"");
  pm_regtree_set(t, K, "Quoted", &v);
  pm_reg_value_free(&v);
  pm_reg_value_set_str(&v, PM_REG_EXPAND_SZ,
                       "%SystemRoot%\\system32\\a very long path that wraps "
                       "past eighty columns\\Mtperf.dll");
  pm_regtree_set(t, K "\\Performance", "Library", &v);
  pm_reg_value_free(&v);
  pm_strlist l = {0};
  pm_strlist_add(&l, "\\\\MAILSRV1\\MAILDATA /Z");
  pm_strlist_add(&l, "Path=C:\\x\u00e9");
  pm_reg_value_set_multi(&v, &l);
  pm_strlist_free(&l);
  pm_regtree_set(t, K "\\Parameters", "DrivesUNC", &v);
  pm_reg_value_free(&v);
  pm_reg_value_set_dword(&v, 0xDEADBEEF);
  pm_regtree_set(t, K, "Start", &v);
  pm_reg_value_free(&v);
  pm_reg_value_set_str(&v, PM_REG_SZ, "default");
  pm_regtree_set(t, K, "", &v);
  pm_reg_value_free(&v);
  /* A REG_SZ without its NUL must keep its exact bytes (hex(1)). */
  uint8_t raw[] = {'a', 0, 'b', 0};
  pm_reg_value odd = {PM_REG_SZ, raw, sizeof raw};
  pm_regtree_set(t, K, "NoNul", &odd);
  uint8_t bin[] = {0, 1, 2, 0xff};
  pm_reg_value b = {PM_REG_BINARY, bin, sizeof bin};
  pm_regtree_set(t, K, "Bin", &b);
  uint8_t q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  pm_reg_value qw = {PM_REG_QWORD, q, sizeof q};
  pm_regtree_set(t, K, "Q", &qw);

  uint8_t *out;
  size_t len;
  pm_regtree_format(t, &out, &len);
  char *text = to_utf8(out, len);
  assert_true(!strncmp(text, "Windows Registry Editor Version 5.00\r\n\r\n",
                       40));
  assert_non_null(strstr(text, "[" K "]\r\n"));
  assert_non_null(strstr(text, "\"Quoted\"=\"C:\\\\exchsrvr\\\\Connect\\\\"
                               "Msmcon \\\"q\\\"\"\r\n"));
  assert_non_null(strstr(text, "\"Start\"=dword:deadbeef\r\n"));
  assert_non_null(strstr(text, "@=\"default\"\r\n"));
  assert_non_null(strstr(text, "\"NoNul\"=hex(1):61,00,62,00\r\n"));
  assert_non_null(strstr(text, "\"Bin\"=hex:00,01,02,ff\r\n"));
  assert_non_null(strstr(text, "\"Q\"=hex(b):01,02,03,04,05,06,07,08\r\n"));
  assert_non_null(strstr(text, "\"Library\"=hex(2):25,00,"));
  assert_non_null(strstr(text, ",\\\r\n  "));
  /* No line is longer than regedit's 80 columns. */
  for (char *p = text; *p;) {
    char *e = strstr(p, "\r\n");
    if (!e) break;
    if (p[0] != '[' && p[0] != '"') assert_true(e - p <= 80);
    p = e + 2;
  }
  free(text);

  pm_regtree *back = pm_regtree_new();
  char err[128];
  assert_int_equal(pm_regtree_parse(back, out, len, err, sizeof err), 0);
  uint8_t *out2;
  size_t len2;
  pm_regtree_format(back, &out2, &len2);
  assert_int_equal(len, len2);
  assert_memory_equal(out, out2, len);
  pm_reg_value got;
  assert_int_equal(pm_regtree_get(back, K "\\Parameters", "drivesunc", &got),
                   0);
  assert_int_equal(got.type, PM_REG_MULTI_SZ);
  pm_strlist items = {0};
  assert_int_equal(pm_reg_value_multi(&got, &items), 0);
  assert_int_equal(items.n, 2);
  assert_string_equal(items.v[1], "Path=C:\\x\u00e9");
  pm_strlist_free(&items);
  pm_reg_value_free(&got);
  assert_int_equal(pm_regtree_get(back, K, "NoNul", &got), 0);
  assert_true(pm_reg_value_equal(&got, &odd));
  pm_reg_value_free(&got);
  free(out);
  free(out2);
  pm_regtree_free(t);
  pm_regtree_free(back);
}

static void test_regfile_reads_regedit_text(void **state) {
  (void)state;
  /* As regedit or a person writes it: UTF-8, HKLM abbreviation, comments,
   * continuation lines, deletions. */
  const char *src =
      "Windows Registry Editor Version 5.00\n\n"
      "; a comment\n"
      "[HKLM\\SYSTEM\\X]\n"
      "\"A\"=\"one\"\n"
      "\"B\"=hex(2):43,00,3a,00,\\\n"
      "  5c,00,00,00\n"
      "\"C\"=dword:0000002a\n"
      "\"Gone\"=\"x\"\n"
      "\"Gone\"=-\n"
      "[HKEY_LOCAL_MACHINE\\SYSTEM\\X\\Sub]\n"
      "@=\"d\"\n"
      "[-HKEY_LOCAL_MACHINE\\SYSTEM\\X\\Sub]\n";
  pm_regtree *t = pm_regtree_new();
  char err[128] = "";
  assert_int_equal(pm_regtree_parse(t, src, strlen(src), err, sizeof err), 0);
  pm_reg_value v;
  assert_int_equal(pm_regtree_get(t, "HKEY_LOCAL_MACHINE\\SYSTEM\\X", "B", &v),
                   0);
  assert_int_equal(v.type, PM_REG_EXPAND_SZ);
  char *s = pm_reg_value_str(&v);
  assert_string_equal(s, "C:\\");
  free(s);
  pm_reg_value_free(&v);
  assert_int_equal(pm_regtree_get(t, "HKLM\\SYSTEM\\X", "C", &v), 0);
  assert_int_equal(v.type, PM_REG_DWORD);
  assert_int_equal(v.data[0], 42);
  pm_reg_value_free(&v);
  assert_int_equal(pm_regtree_get(t, "HKLM\\SYSTEM\\X", "Gone", &v),
                   PM_ENOENT);
  assert_false(pm_regtree_has_key(t, "HKLM\\SYSTEM\\X\\Sub"));
  pm_strlist sub = {0};
  assert_int_equal(pm_regtree_subkeys(t, "HKLM\\SYSTEM", &sub), 0);
  assert_int_equal(sub.n, 1);
  assert_string_equal(sub.v[0], "X");
  pm_strlist_free(&sub);
  pm_regtree_free(t);
}

static void test_regfile_rejects_malformed(void **state) {
  (void)state;
  const char *cases[] = {
      "REGEDIT5\n[HKLM\\A]\n",
      "Windows Registry Editor Version 5.00\n\"A\"=\"x\"\n",
      "Windows Registry Editor Version 5.00\n[HKLM\\A]\n\"A\"=hex:0g\n",
      "Windows Registry Editor Version 5.00\n[HKLM\\A]\n\"A\"=dword:123456789\n",
      "Windows Registry Editor Version 5.00\n[HKLM\\A]\n\"A=\"x\"\n",
      "Windows Registry Editor Version 5.00\n[HKLM\\A\n",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pm_regtree *t = pm_regtree_new();
    char err[128] = "";
    assert_int_equal(pm_regtree_parse(t, cases[i], strlen(cases[i]), err,
                                      sizeof err),
                     PM_EFORMAT);
    assert_true(!strncmp(err, "line ", 5));
    pm_regtree_free(t);
  }
}

static void test_regfile_file_io(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *p = pm_xasprintf("%s/a.reg", dir);
  pm_regtree *t = pm_regtree_new();
  pm_reg_value v;
  pm_reg_value_set_str(&v, PM_REG_SZ, "x");
  pm_regtree_set(t, "HKLM\\S\\K", "N", &v);
  pm_reg_value_free(&v);
  assert_int_equal(pm_regtree_save(pm_fs_native(), p, t), 0);
  pm_regtree *back;
  assert_int_equal(pm_regtree_load(pm_fs_native(), p, &back, NULL, 0), 0);
  assert_int_equal(pm_regtree_get(back, "HKLM\\S\\K", "N", &v), 0);
  pm_reg_value_free(&v);
  pm_regtree_free(back);
  char *missing = pm_xasprintf("%s/none.reg", dir);
  assert_int_equal(pm_regtree_load(pm_fs_native(), missing, &back, NULL, 0),
                   PM_ENOENT);
  free(missing);
  pm_regtree_free(t);
  free(p);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_regfile_roundtrip_types),
      cmocka_unit_test(test_regfile_reads_regedit_text),
      cmocka_unit_test(test_regfile_rejects_malformed),
      cmocka_unit_test(test_regfile_file_io),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
