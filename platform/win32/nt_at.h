/* nt_at.h - the native calls of fs_win32_at.c (the operations beneath a
 * directory handle), gathered in one table so that a test can replace
 * any of them: Wine 8 has no reparse points at all (it follows Unix
 * symlinks and cannot make a junction), so the Windows-only test
 * tests/platform/test_fs_beneath_nt.c wraps these calls to make some
 * entries junctions, symbolic links or HSM files the way NTFS reports
 * them, and checks every decision of the walk against that. Private to
 * platform/win32/ and to that test.
 *
 * The table is process-wide and read without a lock: a test changes it
 * only while no other thread uses the file system, and puts the real
 * calls back (pmw_nt = pmw_nt_real). */
#ifndef POMOVE_WIN32_NT_AT_H
#define POMOVE_WIN32_NT_AT_H

#include <windows.h>
#include <winternl.h>

typedef struct pmw_nt_api {
  NTSTATUS(NTAPI *create_file)(PHANDLE out, ACCESS_MASK access,
                               POBJECT_ATTRIBUTES oa, PIO_STATUS_BLOCK io,
                               PLARGE_INTEGER alloc, ULONG attrs, ULONG share,
                               ULONG disp, ULONG opts, PVOID ea, ULONG ea_len);
  NTSTATUS(NTAPI *query_info)(HANDLE h, PIO_STATUS_BLOCK io, PVOID buf,
                              ULONG len, FILE_INFORMATION_CLASS cls);
  NTSTATUS(NTAPI *set_info)(HANDLE h, PIO_STATUS_BLOCK io, PVOID buf,
                            ULONG len, FILE_INFORMATION_CLASS cls);
  NTSTATUS(NTAPI *query_dir)(HANDLE h, HANDLE event, PIO_APC_ROUTINE apc,
                             PVOID apc_ctx, PIO_STATUS_BLOCK io, PVOID buf,
                             ULONG len, FILE_INFORMATION_CLASS cls,
                             BOOLEAN single, PUNICODE_STRING mask,
                             BOOLEAN restart);
  NTSTATUS(NTAPI *fs_control)(HANDLE h, HANDLE event, PIO_APC_ROUTINE apc,
                              PVOID apc_ctx, PIO_STATUS_BLOCK io, ULONG code,
                              PVOID in, ULONG in_len, PVOID out,
                              ULONG out_len);
  NTSTATUS(NTAPI *close)(HANDLE h);
} pmw_nt_api;

/* The calls fs_win32_at.c makes; initially the real ones. */
extern pmw_nt_api pmw_nt;
/* The real ones (ntdll), for a wrapper to call through. */
extern const pmw_nt_api pmw_nt_real;

#endif
