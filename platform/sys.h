/* sys.h - the small services the portable core asks of the OS besides
 * files and I/O: aligned buffers, who the process runs as, the wall
 * clock broken down in UTC. One backend file per OS (linux/sys_linux.c,
 * win32/sys_win32.c) implements them; callers never include an OS header
 * for these. Any module may include this header. */
#ifndef POMOVE_SYS_H
#define POMOVE_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
