/* stdio_win32.c - the command line and the standard streams of
 * pomove.exe (sys.h: pm_args_utf8, pm_stdio_init, pm_fopen; platform.h:
 * pm_isatty). Paths and messages are UTF-8 inside pomove; Windows hands
 * main() its arguments in the ANSI code page and shows a console's bytes
 * in the OEM code page, so this file converts at both ends. Everything
 * imported here is in Windows NT 4.0 already (CommandLineToArgvW since
 * NT 3.5, the console calls since NT 3.1) and in the list that
 * scripts/win-imports.sh checks. */
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <shellapi.h>

#include "platform.h"
#include "sys.h"
#include "thread.h"
#include "win32.h"

/* ---- The command line ---- */

int pm_args_utf8(int *argc, char ***argv) {
  int n = 0;
  wchar_t **w = CommandLineToArgvW(GetCommandLineW(), &n);
  if (!w) return pmw_fail_last();
  char **out = calloc((size_t)n + 1, sizeof *out);
  int rc = out ? 0 : PM_ENOMEM;
  for (int i = 0; !rc && i < n; i++) {
    rc = pmw_to_utf8(w[i], (size_t)-1, &out[i], NULL);
    /* A path is typed with '\' on Windows; pomove splits paths at '/'
     * everywhere (the parent of DST for its side files, the checks of
     * DST against SRC ...), and Win32 reads either. No argument of pomove
     * holds a '\' that is not a separator: a Windows name cannot. */
    for (char *c = i > 0 && !rc ? out[i] : NULL; c && *c; c++)
      if (*c == '\\') *c = '/';
  }
  LocalFree(w);
  if (rc) {
    for (int i = 0; out && i < n; i++) free(out[i]);
    free(out);
    return rc;
  }
  *argc = n;
  *argv = out;
  return 0;
}

/* ---- Files named by the user ---- */

static int errno_of(int err) {
  switch (err) {
  case PM_ENOMEM: return ENOMEM;
  case PM_ENOENT: return ENOENT;
  case PM_EACCES: return EACCES;
  case PM_ENAMETOOLONG: return ENAMETOOLONG;
  default: return EINVAL;
  }
}

FILE *pm_fopen(const char *path, const char *mode) {
  wchar_t *wpath = NULL, *wmode = NULL;
  int rc = pmw_path(path, &wpath);
  if (!rc) rc = pmw_to_wide(mode, (size_t)-1, &wmode, NULL);
  FILE *f = NULL;
  if (rc)
    errno = errno_of(rc);
  else
    f = _wfopen(wpath, wmode);
  free(wpath);
  free(wmode);
  return f;
}

/* ---- The standard streams ----
 *
 * msvcrt writes a stream's bytes to the console as they are, and the
 * console reads them in its code page (437, 850 ...): a UTF-8 name comes
 * out as mojibake. Switching the console to CP_UTF8 does not work on
 * Windows before 8: WriteFile then reports fewer bytes written than it
 * took for every non-ASCII character, and msvcrt writes the rest again or
 * marks the stream failed; and the code page would stay changed for the
 * cmd.exe that started pomove. Every print of pomove would have to change
 * to call WriteConsoleW itself. Instead, a stream that is a console is
 * pointed at a pipe, and a relay thread reads the pipe and writes what
 * it reads to the console with WriteConsoleW, decoded from UTF-8. When
 * both stdout and stderr are the console, both go into the one pipe, so
 * that their lines keep the order in which pomove wrote them; the streams
 * are unbuffered, as msvcrt keeps a console stream. At exit the streams
 * are flushed and closed and the relay is given time to write its last
 * bytes. */

static bool relayed[3];   /* fd 1 and 2 go to the relay */
static HANDLE relay_in;   /* the pipe's read end */
static HANDLE relay_out;  /* our own handle on the console */
static HANDLE relay_done; /* set when the relay has written everything */
static pm_thread relay_thread;

enum { RELAY_READ = 4096 };

static bool is_console(HANDLE h) {
  DWORD mode;
  return h && h != INVALID_HANDLE_VALUE && GetConsoleMode(h, &mode) != 0;
}

bool pm_isatty(int fdno) {
  /* A console, not merely a character device: _isatty() of msvcrt is
   * also true for NUL and COM ports, where redrawing a line makes no
   * sense. */
  if (fdno >= 0 && fdno < 3 && relayed[fdno]) return true;
  return is_console((HANDLE)_get_osfhandle(fdno));
}

/* The UTF-8 (or WTF-8) sequence at s, n bytes available: its length, the
 * code point in *cp; 0 when more bytes could complete it (never when
 * `final`); a byte that starts no valid sequence is U+FFFD of length 1. */
static size_t utf8_next(const unsigned char *s, size_t n, bool final,
                        uint32_t *cp) {
  unsigned char c = s[0];
  size_t len;
  uint32_t v, min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    len = 2, v = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, v = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else {
    *cp = 0xFFFD;
    return 1;
  }
  for (size_t i = 1; i < len; i++) {
    if (i >= n) {
      if (final) break;
      return 0;
    }
    if ((s[i] & 0xC0) != 0x80) break;
    v = v << 6 | (s[i] & 0x3F);
    if (i == len - 1 && v >= min && v <= 0x10FFFF) {
      *cp = v;
      return len;
    }
  }
  *cp = 0xFFFD;
  return 1;
}

static void console_write(const wchar_t *w, size_t n) {
  while (n) {
    DWORD done = 0;
    if (!WriteConsoleW(relay_out, w, (DWORD)n, &done, NULL) || !done) return;
    w += done;
    n -= done;
  }
}

/* "\033[K": blanks the line from the cursor to its end; the cursor stays. */
static void console_erase_line(void) {
  CONSOLE_SCREEN_BUFFER_INFO ci;
  if (!GetConsoleScreenBufferInfo(relay_out, &ci)) return;
  DWORD n = (DWORD)(ci.dwSize.X - ci.dwCursorPosition.X), done;
  FillConsoleOutputCharacterW(relay_out, L' ', n, ci.dwCursorPosition, &done);
}

/* Shows s[0..n) on the console; returns how many bytes it used: the rest
 * (at most 3 bytes) is the start of a sequence that the next read may
 * complete. */
static size_t relay_text(const unsigned char *s, size_t n, bool final) {
  static const char erase[] = "\033[K";
  wchar_t w[RELAY_READ + 8];
  size_t wn = 0, i = 0;
  while (i < n) {
    if (s[i] == 0x1B) {
      size_t k = n - i < 3 ? n - i : 3;
      if (!memcmp(s + i, erase, k)) {
        if (k < 3 && !final) break;
        if (k == 3) {
          console_write(w, wn);
          wn = 0;
          console_erase_line();
          i += 3;
          continue;
        }
      }
    }
    uint32_t cp;
    size_t len = utf8_next(s + i, n - i, final, &cp);
    if (!len) break;
    if (cp >= 0x10000) {
      w[wn++] = (wchar_t)(0xD800 + ((cp - 0x10000) >> 10));
      w[wn++] = (wchar_t)(0xDC00 + ((cp - 0x10000) & 0x3FF));
    } else {
      w[wn++] = (wchar_t)cp;
    }
    i += len;
  }
  console_write(w, wn);
  return i;
}

static void relay_main(void *arg) {
  (void)arg;
  unsigned char buf[RELAY_READ + 8];
  size_t have = 0;
  for (;;) {
    DWORD got = 0;
    /* Ends with ERROR_BROKEN_PIPE once every write end is closed. */
    if (!ReadFile(relay_in, buf + have, RELAY_READ, &got, NULL) || !got)
      break;
    have += got;
    size_t used = relay_text(buf, have, false);
    memmove(buf, buf + used, have - used);
    have -= used;
  }
  if (have) relay_text(buf, have, true);
  SetEvent(relay_done);
}

static void relay_stop(void) {
  fflush(stdout);
  fflush(stderr);
  for (int fd = 1; fd < 3; fd++)
    if (relayed[fd]) _close(fd);
  /* Bounded: a child process that inherited a write end would keep the
   * pipe open. */
  WaitForSingleObject(relay_done, 5000);
}

/* abort() (an out-of-memory report, the stub host backend) ends the
 * process without atexit: the relay is given the time to show the last
 * message, which is already in the pipe (the streams are unbuffered), so
 * that it never loses the race with the process's end. */
static void relay_on_abort(int sig) {
  (void)sig;
  for (int fd = 1; fd < 3; fd++)
    if (relayed[fd]) _close(fd);
  WaitForSingleObject(relay_done, 2000);
}

void pm_stdio_init(void) {
  fflush(stdout);
  fflush(stderr);
  /* A manifest or JSON on stdout has the bytes it has on Linux. */
  _setmode(1, _O_BINARY);
  HANDLE h1 = (HANDLE)_get_osfhandle(1), h2 = (HANDLE)_get_osfhandle(2);
  bool con[3] = {false, is_console(h1), is_console(h2)};
  if (!con[1] && !con[2]) return;

  /* Any failure here leaves the streams as they were: the messages are
   * still printed, only not converted. */
  HANDLE rd, wr;
  if (!CreatePipe(&rd, &wr, NULL, 0)) return;
  /* Our own handle on the console: _dup2 closes the streams' ones. */
  if (!DuplicateHandle(GetCurrentProcess(), con[2] ? h2 : h1,
                       GetCurrentProcess(), &relay_out, 0, FALSE,
                       DUPLICATE_SAME_ACCESS)) {
    CloseHandle(rd);
    CloseHandle(wr);
    return;
  }
  relay_in = rd;
  relay_done = CreateEventW(NULL, TRUE, FALSE, NULL);
  int fd = relay_done ? _open_osfhandle((intptr_t)wr, _O_TEXT) : -1;
  if (fd < 0 || pm_thread_create(&relay_thread, relay_main, NULL)) {
    if (fd >= 0)
      _close(fd);
    else
      CloseHandle(wr);
    CloseHandle(rd);
    CloseHandle(relay_out);
    if (relay_done) CloseHandle(relay_done);
    return;
  }
  FILE *streams[3] = {NULL, stdout, stderr};
  for (int k = 1; k < 3; k++) {
    if (!con[k] || _dup2(fd, k) != 0) continue;
    /* Text mode: the console wants "\r\n"; unbuffered, as msvcrt keeps a
     * console stream, so that stdout and stderr stay in order. */
    _setmode(k, _O_TEXT);
    setvbuf(streams[k], NULL, _IONBF, 0);
    relayed[k] = true;
  }
  _close(fd);
  atexit(relay_stop);
  signal(SIGABRT, relay_on_abort);
}
