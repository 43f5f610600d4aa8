/* fs_calls.h - the Win32 calls of fs_win32.c whose answers Wine cannot
 * give, gathered in one table so that a test can replace them: Wine 8 has
 * no reparse points (no junction can be made, FSCTL_GET_REPARSE_POINT
 * says ERROR_NOT_A_REPARSE_POINT) and never reports a sparse file
 * (FSCTL_SET_SPARSE succeeds and marks nothing; FSCTL_QUERY_ALLOCATED_
 * RANGES fails with ERROR_NOT_SUPPORTED: measured with Wine 8.0), so
 * readlink, realpath through a junction, seek on a sparse file and the
 * moment a file is marked sparse would go untested. tests/platform/test_fs_win32_nt.c wraps these calls to
 * show fs_win32.c what NTFS answers. Private to platform/win32/ and to
 * that test.
 *
 * The table is process-wide and read without a lock: a test changes it
 * only while no other thread uses the file system, and puts the real
 * calls back (pmw_w32 = pmw_w32_real). */
#ifndef POMOVE_WIN32_FS_CALLS_H
#define POMOVE_WIN32_FS_CALLS_H

#include <windows.h>
#include <aclapi.h>
#include <winternl.h>

typedef struct pmw_w32_api {
  BOOL(WINAPI *device_io_control)(HANDLE h, DWORD code, LPVOID in,
                                  DWORD in_len, LPVOID out, DWORD out_len,
                                  LPDWORD got, LPOVERLAPPED ov);
  HANDLE(WINAPI *find_first_file)(LPCWSTR path, LPWIN32_FIND_DATAW fd);
  BOOL(WINAPI *get_file_information)(HANDLE h,
                                     LPBY_HANDLE_FILE_INFORMATION bi);
  /* meta_win32.c: security descriptors, which Wine makes up from the
   * Unix mode and never stores, and the volume's flags (a FAT volume
   * keeps no descriptor). */
  BOOL(WINAPI *get_security)(HANDLE h, SECURITY_INFORMATION info,
                             PSECURITY_DESCRIPTOR sd, DWORD len,
                             LPDWORD need);
  BOOL(WINAPI *set_security)(HANDLE h, SECURITY_INFORMATION info,
                             PSECURITY_DESCRIPTOR sd);
  DWORD(WINAPI *set_security_info)(HANDLE h, SE_OBJECT_TYPE type,
                                   SECURITY_INFORMATION info, PSID owner,
                                   PSID group, PACL dacl, PACL sacl);
  NTSTATUS(NTAPI *query_volume)(HANDLE h, PIO_STATUS_BLOCK io, PVOID buf,
                                ULONG len, FS_INFORMATION_CLASS cls);
} pmw_w32_api;

/* The calls fs_win32.c makes; initially the real ones. */
extern pmw_w32_api pmw_w32;
/* The real ones (kernel32), for a wrapper to call through. */
extern const pmw_w32_api pmw_w32_real;

#endif
