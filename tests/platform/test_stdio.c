/* test_stdio.c - the command line and the standard streams (sys.h:
 * pm_args_utf8, pm_fopen, pm_stdio_init).
 *
 * On Windows (run under Wine by the Windows build's CTest) the test
 * starts itself again as a child for what only a fresh process shows:
 *   child PATH HEX   the child's pm_args_utf8 must give argv[2] equal to
 *                    the UTF-8 that HEX spells, from a UTF-16 command
 *                    line whose PATH holds characters no ANSI code page
 *                    has and backslashes (which become '/');
 *   child console    the child makes a console of its own, points fd 1
 *                    and 2 at it, calls pm_stdio_init, prints UTF-8 and
 *                    the progress line's "\r\033[K", and reads the
 *                    console's cells back: the characters, not their
 *                    UTF-8 bytes in the console's code page, and the
 *                    erased line blank.
 * The child's exit code is its verdict (0 right, 77 no console, another
 * code what went wrong; the console's rows are left in
 * test_stdio_console.txt for the message).
 * On Linux, where all three change nothing, the test checks just that. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"
#include "testutil.h"
#include "util.h"

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <windows.h>
#else
#include <sys/stat.h>
#endif

/* A name with characters of several scripts, one outside the BMP (a
 * surrogate pair in UTF-16) and one decomposed (e + U+0301). */
static const char utf8_name[] =
    "r\xc3\xa9sum\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xce\xa9 "
    "\xf0\x9f\x99\x82 e\xcc\x81";

#ifdef _WIN32
static int hexval(int c) {
  return c >= '0' && c <= '9' ? c - '0' : (c | 32) - 'a' + 10;
}

static int child_args(int argc, char **argv) {
  /* argv here is main's ANSI one; the converted one must hold the exact
   * UTF-8 that the hex (plain ASCII, so unharmed) spells. */
  const char *hex = argv[3];
  size_t n = strlen(hex) / 2;
  char *want = calloc(n + 1, 1);
  for (size_t i = 0; i < n; i++)
    want[i] = (char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
  int c = argc;
  char **v = argv;
  if (pm_args_utf8(&c, &v) != 0 || c != 4) return 1;
  return strcmp(v[2], want) == 0 && strcmp(v[3], hex) == 0 ? 0 : 1;
}

/* Row `row` of the console, `n` cells, as UTF-16. */
static void console_row(HANDLE con, SHORT row, wchar_t *buf, DWORD n) {
  COORD at = {0, row};
  DWORD got = 0;
  for (DWORD i = 0; i < n; i++) buf[i] = 0;
  ReadConsoleOutputCharacterW(con, buf, n, at, &got);
}

static HANDLE open_conout(void) {
  return CreateFileW(L"CONOUT$", GENERIC_READ | GENERIC_WRITE,
                     FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                     0, NULL);
}

static int child_console(void) {
  DWORD mode;
  HANDLE look = open_conout();
  if (look == INVALID_HANDLE_VALUE || !GetConsoleMode(look, &mode)) {
    /* No console of our own: make one. Wine without a display or a
     * terminal makes one that does nothing (every call fails with
     * ERROR_INVALID_HANDLE): then the case cannot run here (77), and
     * test_stdio_console_tty runs it on a terminal instead. */
    if (look != INVALID_HANDLE_VALUE) CloseHandle(look);
    FreeConsole();
    if (!AllocConsole()) return 77;
    look = open_conout();
    if (look == INVALID_HANDLE_VALUE || !GetConsoleMode(look, &mode))
      return 77;
  }
  HANDLE con = open_conout();
  if (con == INVALID_HANDLE_VALUE) return 4;
  int fd = _open_osfhandle((intptr_t)con, _O_TEXT);
  if (fd < 0 || _dup2(fd, 1) || _dup2(fd, 2)) return 4;
  _close(fd);
  /* A blank screen, the cursor at the top. */
  CONSOLE_SCREEN_BUFFER_INFO ci;
  if (!GetConsoleScreenBufferInfo(look, &ci)) return 4;
  COORD home = {0, 0};
  DWORD done;
  FillConsoleOutputCharacterW(look, L' ',
                              (DWORD)ci.dwSize.X * (DWORD)ci.dwSize.Y, home,
                              &done);
  SetConsoleCursorPosition(look, home);

  pm_stdio_init();
  if (!pm_isatty(1) || !pm_isatty(2)) return 2;
  /* Row 0 from stderr, row 1 a progress line drawn, erased and drawn
   * shorter, row 2 from stdout: in this order on the screen. */
  fprintf(stderr, "x \xc3\xa9 \xce\xa9 \xd0\x96 y\n");
  fprintf(stderr, "0123456789");
  fprintf(stderr, "\r\033[Kab\n");
  fflush(stderr);
  printf("out \xe6\x97\xa5\n");
  fflush(stdout);

  static const wchar_t *want[3] = {L"x \x00e9 \x03a9 \x0416 y", L"ab",
                                   L"out \x65e5"};
  wchar_t row[3][40];
  for (int tries = 0; tries < 500; tries++) { /* the relay is a thread */
    bool all = true;
    for (SHORT r = 0; r < 3; r++) {
      console_row(look, r, row[r], 40);
      size_t n = wcslen(want[r]);
      bool same = memcmp(row[r], want[r], n * sizeof(wchar_t)) == 0;
      /* The rest of the row blank: nothing left of "0123456789". */
      for (size_t i = n; same && i < 20; i++) same = row[r][i] == L' ';
      all = all && same;
    }
    if (all) return 0;
    Sleep(10);
  }
  /* What the console shows, for the parent's message. */
  FILE *f = fopen("test_stdio_console.txt", "wb");
  for (int r = 0; f && r < 3; r++) {
    for (int i = 0; i < 20; i++) fprintf(f, "%04x ", (unsigned)row[r][i]);
    fputc('\n', f);
  }
  if (f) fclose(f);
  for (int r = 0; r < 3; r++) {
    fprintf(stderr, "row %d:", r);
    for (int i = 0; i < 20; i++) fprintf(stderr, " %04x", (unsigned)row[r][i]);
    fprintf(stderr, "\n");
  }
  return 3;
}

/* Runs this program again with `args` (UTF-16) and returns its exit
 * code. */
static int run_child(const wchar_t *args) {
  wchar_t self[MAX_PATH];
  DWORD n = GetModuleFileNameW(NULL, self, MAX_PATH);
  assert_true(n > 0 && n < MAX_PATH);
  size_t len = wcslen(self) + wcslen(args) + 8;
  wchar_t *cmd = calloc(len, sizeof *cmd);
  _snwprintf(cmd, len, L"\"%ls\" %ls", self, args);
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  assert_true(CreateProcessW(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL,
                             &si, &pi));
  free(cmd);
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 1;
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hProcess);
  CloseHandle(pi.hThread);
  return (int)code;
}
#endif

/* The arguments arrive as UTF-8 whatever the ANSI code page; on Linux
 * they are left as they are. */
static void test_stdio_args_utf8(void **state) {
  (void)state;
#ifdef _WIN32
  wchar_t *w = NULL;
  int wn = MultiByteToWideChar(CP_UTF8, 0, utf8_name, -1, NULL, 0);
  w = calloc((size_t)wn, sizeof *w);
  MultiByteToWideChar(CP_UTF8, 0, utf8_name, -1, w, wn);
  /* Typed as a Windows path, with backslashes: they arrive as '/'. */
  char *want = pm_xasprintf("C:/dir/%s", utf8_name);
  char *hex = pm_xcalloc(2 * strlen(want) + 1, 1);
  for (size_t i = 0; i < strlen(want); i++)
    snprintf(hex + 2 * i, 3, "%02x", (unsigned char)want[i]);
  size_t len = wcslen(w) + strlen(hex) + 32;
  wchar_t *args = calloc(len, sizeof *args);
  _snwprintf(args, len, L"child \"C:\\dir\\%ls\" %hs", w, hex);
  free(hex);
  free(want);
  assert_int_equal(run_child(args), 0);
  free(args);
  free(w);
#else
  char a0[] = "pomove", a1[] = "copy", a2[] = "r\xc3\xa9sum\xc3\xa9";
  char *v[] = {a0, a1, a2, NULL};
  char **argv = v;
  int argc = 3;
  assert_int_equal(pm_args_utf8(&argc, &argv), 0);
  assert_ptr_equal(argv, v);
  assert_int_equal(argc, 3);
  assert_string_equal(argv[2], a2);
#endif
}

/* pm_fopen creates the file under its exact name, past MAX_PATH too. */
static void test_stdio_fopen_utf8(void **state) {
  (void)state;
  const char *dir = tu_scratch();
  char *path = pm_xasprintf("%s/%s.txt", dir, utf8_name);
  FILE *f = pm_fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fputs("line\n", f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
  /* Read back under the same name; on Windows also checked by the
   * UTF-16 name itself, so that a name mangled the same way on the way
   * in and out cannot pass. */
  f = pm_fopen(path, "rb");
  assert_non_null(f);
  char buf[16] = "";
  assert_non_null(fgets(buf, sizeof buf, f));
  fclose(f);
  assert_string_equal(buf, "line\n");
#ifdef _WIN32
  wchar_t *w = NULL;
  char *full = pm_xasprintf("%s/%s.txt", dir, utf8_name);
  int wn = MultiByteToWideChar(CP_UTF8, 0, full, -1, NULL, 0);
  w = calloc((size_t)wn, sizeof *w);
  MultiByteToWideChar(CP_UTF8, 0, full, -1, w, wn);
  for (wchar_t *p = w; *p; p++)
    if (*p == L'/') *p = L'\\';
  assert_int_not_equal(GetFileAttributesW(w), INVALID_FILE_ATTRIBUTES);
  free(w);
  free(full);
#else
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
#endif
  free(path);

  /* A path longer than MAX_PATH (260). */
  char *deep = pm_xstrdup(dir);
  for (int i = 0; i < 6; i++) {
    char *d = pm_xasprintf("%s/%s-%d-0123456789-0123456789-0123456789", deep,
                           "directory", i);
    free(deep);
    deep = d;
    assert_int_equal(pm_fs_mkdir(pm_fs_native(), deep, 0755), 0);
  }
  char *lp = pm_xasprintf("%s/%s.txt", deep, utf8_name);
  assert_true(strlen(lp) > 260);
  f = pm_fopen(lp, "wb");
  assert_non_null(f);
  fclose(f);
  pm_stat st2;
  assert_int_equal(pm_fs_stat(pm_fs_native(), lp, true, &st2), 0);
  free(lp);
  free(deep);

  /* A missing folder: NULL, as fopen. */
  char *missing = pm_xasprintf("%s/no such folder/x.txt", dir);
  assert_null(pm_fopen(missing, "wb"));
  free(missing);
  tu_cleanup();
}

/* A console shows the characters pomove prints, and the progress line's
 * erase works; on Linux pm_stdio_init changes nothing. */
static void test_stdio_console(void **state) {
  (void)state;
#ifdef _WIN32
  int rc = run_child(L"child console");
  if (rc == 77) skip();
  if (rc == 4) fail_msg("the console could not be set up as fd 1 and 2");
  if (rc == 2) fail_msg("pm_isatty() is false for a relayed console stream");
  if (rc == 3) {
    char *rows = tu_read_all("test_stdio_console.txt", NULL);
    fail_msg("the console shows (UTF-16 code units of rows 0-2):\n%s",
             rows ? rows : "?");
  }
  assert_int_equal(rc, 0);
#else
  FILE *before = stdout;
  pm_stdio_init();
  assert_ptr_equal(stdout, before);
#endif
}

int main(int argc, char **argv) {
#ifdef _WIN32
  if (argc == 4 && !strcmp(argv[1], "child")) return child_args(argc, argv);
  if (argc == 3 && !strcmp(argv[1], "child") && !strcmp(argv[2], "console"))
    return child_console();
#else
  (void)argc;
  (void)argv;
#endif
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stdio_args_utf8),
      cmocka_unit_test(test_stdio_fopen_utf8),
      cmocka_unit_test(test_stdio_console),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
