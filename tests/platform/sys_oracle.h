/* sys_oracle.h - what test_sys.c checks sys.h and util.c against: the
 * operating system's own answer, from a file chosen per OS by
 * tests/platform/CMakeLists.txt (sys_oracle_posix.c: the C library;
 * sys_oracle_win32.c: Win32 calls other than those sys_win32.c uses). */
#ifndef POMOVE_SYS_ORACLE_H
#define POMOVE_SYS_ORACLE_H

#include <stdbool.h>
#include <stdint.h>

#include "sys.h"
#include "util.h"

/* Who this process runs as, found another way than pm_identity_get. */
void oracle_identity(pm_identity *out);
/* UTC breakdown of t; false when t is outside what the oracle covers
 * (Win32 FILETIMEs start in 1601). */
bool oracle_utc(int64_t t, pm_utc *out);
/* strsep as the C library has it (BSD and glibc); a reference written
 * from its specification where the C library has none. */
char *oracle_strsep(char **sp, const char *delim);

#endif
