/* sys.h - the small services the portable core asks of the OS besides
 * files and I/O: aligned buffers, who the process runs as, the wall
 * clock, this process and machine for the notes pomove leaves, the
 * interrupt hook and a null stream. One backend file per OS
 * (linux/sys_linux.c, win32/sys_win32.c) implements them; callers never
 * include an OS header for these. Any module may include this header. */
#ifndef POMOVE_SYS_H
#define POMOVE_SYS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A buffer whose address is a multiple of `align` (a power of two, at
 * least sizeof(void *)), for unbuffered I/O: O_DIRECT on Linux,
 * FILE_FLAG_NO_BUFFERING on Windows (sector-aligned). NULL when out of
 * memory. Free it with pm_aligned_free() only: Windows 2000's msvcrt.dll
 * has no _aligned_malloc, so the Win32 backend keeps its own header. */
void *pm_aligned_alloc(size_t align, size_t size);
void pm_aligned_free(void *p);

/* Who this process runs as, for the decisions the copy makes about
 * owners and permissions. */
typedef struct pm_identity {
  /* root on POSIX; a member of Administrators on Windows. */
  bool privileged;
  /* May give files any owner: root (CAP_CHOWN) on POSIX; holds
   * SeRestorePrivilege on Windows. */
  bool can_set_owner;
  /* The effective uid and gid on POSIX; 0 on Windows, where owners are
   * SIDs carried in security descriptors. */
  uint32_t uid, gid;
} pm_identity;
void pm_identity_get(pm_identity *out);

/* Seconds since 1970-01-01 UTC by the wall clock. */
int64_t pm_wall_seconds(void);

/* This process's id. */
uint32_t pm_process_id(void);
/* The effective user id files are created with (0 where the OS has no
 * such number, as on Windows, whose owners pm_stat does not carry). */
uint32_t pm_user_id(void);
/* This machine's name ("?" when the OS will not say). */
void pm_host_name(char *buf, size_t cap);
/* The current UTC time as "YYYY-MM-DDTHH:MM:SSZ". */
void pm_utc_now(char *buf, size_t cap);

/* Interruption (Ctrl-C and SIGTERM on Linux; on Windows Ctrl+C,
 * Ctrl+Break, the closing of the console window and shut-down, which
 * arrive on a thread of their own through the console control handler;
 * win32/sys_win32.c says how each is treated). After
 * pm_interrupt_catch(), the first one only sets a flag: every long loop
 * polls pm_interrupted() and stops at a point a rerun resumes from, and
 * the command exits 130. A second one ends the process at once, as the OS
 * default would on Linux, with exit code 130 on Windows (the copy's
 * journal survives that as it survives a kill). pm_interrupt_flag() is
 * the flag itself, for the engines' `atomic_int *interrupt` options (an
 * atomic: the handler writes it while worker threads read it). */
void pm_interrupt_catch(void);
bool pm_interrupted(void);
atomic_int *pm_interrupt_flag(void);

/* A stream that discards what is written to it (/dev/null, NUL): where
 * -q sends a command's report. Opened once, never closed; NULL if the
 * OS refuses (then the caller prints as usual). */
FILE *pm_null_stream(void);

/* ---- Path syntax of this OS ----
 * pomove's paths separate components with '/' on every OS (on Windows a
 * user's '\' becomes '/' as the command line is read). What differs is
 * the root and how names compare. */

/* The length of the root at the start of `path`; 0 for a relative path.
 * POSIX: "/" (1). Windows: "C:/" (3), "C:" (2, the current directory of
 * drive C, so that "C:x" keeps its meaning), "//server/share/" (through
 * the '/' after the share, or the whole path when it ends there), "/"
 * (1, the root of the current drive); "\\?\" and "\\.\" prefixes
 * (as "//?/", "//./") are part of the root with what follows them. */
size_t pm_path_root_len(const char *path);

/* A malloc'd copy of `path` in the form in which two spellings of one
 * path compare equal byte for byte: unchanged on POSIX; on Windows '\'
 * made '/' and every character upper-cased as NTFS compares names
 * (RtlUpcaseUnicodeChar on each UTF-16 unit). NULL when out of memory or
 * (Windows) `path` is not UTF-8. */
char *pm_path_fold(const char *path);

#endif
