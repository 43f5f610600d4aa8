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
 * has no _aligned_malloc, so the Win32 backend keeps its own header.
 * Linux: a size that is a multiple of 2 MiB is also 2 MiB aligned and
 * offered to the kernel as transparent huge pages (MADV_HUGEPAGE, a
 * hint): an O_DIRECT request from it is then a few large physically
 * contiguous segments, not 4 KiB ones (a device that takes 128 segments a
 * request took 512 KiB requests from scattered pages). */
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

/* Whether a file created in the directory `dir` gets exactly the mode
 * its creation asks for, less pm_create_mask(), so that a copy may give
 * an ordinary mode at creation instead of a chmod afterwards. False where
 * something else decides new files' modes: on Linux a default ACL on the
 * directory (system.posix_acl_default replaces the umask there), asked
 * through `fs` so that a wrapped table sees the probe. Windows: true,
 * as no ACL rewrites the mode pomove asks for (the security of a new
 * file is its descriptor, carried as win32.security). */
struct pm_fs;
bool pm_create_mode_exact(const struct pm_fs *fs, const char *dir);

/* Seconds since 1970-01-01 UTC by the wall clock. */
int64_t pm_wall_seconds(void);

/* This process's id. */
uint32_t pm_process_id(void);
/* Whether a process with id `pid` exists on this machine (this process
 * included). False only when the OS says there is none: a process this
 * user may not signal or open still counts as alive, and so does any
 * answer the OS gives that is not "no such process", so that a caller
 * deciding to remove a dead process's leftovers never removes a live
 * one's. Linux: kill(pid, 0) failing with ESRCH (a zombie, ended but not
 * yet reaped, counts as alive); Windows: OpenProcess(SYNCHRONIZE) failing
 * with ERROR_INVALID_PARAMETER, or a handle already signalled
 * (WaitForSingleObject(h, 0)). pid 0 is never reported dead. Ids are
 * reused: a live answer may be another program's. */
bool pm_process_alive(uint32_t pid);
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
 * atomic: the handler writes it while worker threads read it). Calling
 * pm_interrupt_catch() again changes nothing. */
void pm_interrupt_catch(void);
bool pm_interrupted(void);
atomic_int *pm_interrupt_flag(void);

/* The command line in UTF-8: main() calls this first, before it reads
 * argv. On Windows, main's argv is in the ANSI code page, which has no
 * room for most characters a file name may hold; this replaces *argc and
 * *argv with the UTF-16 command line (GetCommandLineW, split by
 * CommandLineToArgvW) in UTF-8 (WTF-8 for an unpaired surrogate, as
 * names are everywhere in pomove), with every backslash made a '/' (the
 * separator pomove's paths use; Win32 reads both, and no Windows name
 * holds a backslash), so that D:\exchsrvr\connect reaches every command
 * as D:/exchsrvr/connect. On Linux, where argv is already the bytes the
 * user typed, it changes nothing. The strings live as long as
 * the process. 0, or a PM_E* code with argc and argv left as they were. */
int pm_args_utf8(int *argc, char ***argv);

/* The standard streams as pomove writes them: main() calls this once,
 * after pm_args_utf8(). On Linux it changes nothing. On Windows, stdout
 * is put in binary mode, so that a manifest or JSON written to a file or
 * pipe has the same bytes as on Linux (LF line ends, UTF-8); stderr keeps
 * the text mode of a Windows log. A stream that is a console cannot show
 * UTF-8 through msvcrt's narrow stdio (it would print the bytes in the
 * console's code page), so its bytes are relayed instead to the console
 * with WriteConsoleW: UTF-8 decoded, invalid bytes shown as U+FFFD, and
 * the progress line's "\r\033[K" (erase to the end of the line, which
 * Windows 2000's console does not understand) done with console calls.
 * pm_isatty() keeps answering true for such a stream. */
void pm_stdio_init(void);

/* fopen() of a UTF-8 path given by the user (a report file): fopen on
 * Linux; on Windows _wfopen on the path in UTF-16 with the \\?\ prefix,
 * so that any name and any length work. NULL with errno set on failure,
 * as fopen. */
FILE *pm_fopen(const char *path, const char *mode);

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
