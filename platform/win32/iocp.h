/* iocp.h - the Win32 calls of the completion-port I/O engine
 * (engine_iocp.c), gathered in one table so that a test can replace any of
 * them and inject the faults, and the Windows 2000 behaviours, that Wine
 * never shows: a ReadFile that returns TRUE and still queues its packet, a
 * misaligned unbuffered request refused with ERROR_INVALID_PARAMETER, a
 * failure packet. Private to platform/win32/ and to the Windows-only tests
 * (tests/platform/test_engine_iocp.c).
 *
 * The table is process-wide and read without a lock: a test changes it only
 * while no context of the engine exists, and puts the saved copy back. */
#ifndef POMOVE_WIN32_IOCP_H
#define POMOVE_WIN32_IOCP_H

#include <windows.h>
#include <winternl.h>

#include "platform.h"

typedef struct pmw_iocp_api {
  BOOL(WINAPI *read_file)(HANDLE h, LPVOID buf, DWORD len, LPDWORD done,
                          LPOVERLAPPED ov);
  BOOL(WINAPI *write_file)(HANDLE h, LPCVOID buf, DWORD len, LPDWORD done,
                           LPOVERLAPPED ov);
  BOOL(WINAPI *get_status)(HANDLE port, LPDWORD bytes, PULONG_PTR key,
                           LPOVERLAPPED *ov, DWORD ms);
  BOOL(WINAPI *post_status)(HANDLE port, DWORD bytes, ULONG_PTR key,
                            LPOVERLAPPED ov);
  HANDLE(WINAPI *create_port)(HANDLE h, HANDLE port, ULONG_PTR key,
                              DWORD threads);
  BOOL(WINAPI *flush)(HANDLE h);
  BOOL(WINAPI *cancel_io)(HANDLE h);
  BOOL(WINAPI *get_result)(HANDLE h, LPOVERLAPPED ov, LPDWORD bytes,
                           BOOL wait);
  /* NtQueryInformationFile: FileModeInformation says whether a handle is
   * synchronous. */
  NTSTATUS(NTAPI *query_file)(HANDLE h, PIO_STATUS_BLOCK iosb, PVOID info,
                              ULONG len, FILE_INFORMATION_CLASS cls);
} pmw_iocp_api;

/* The completion key of the packets that ReadFile and WriteFile queue on a
 * context's port (the helpers' posted packets carry another). */
#define PMW_IOCP_KEY_IO 0x10

/* The calls the engine makes; initially the real ones. */
extern pmw_iocp_api pmw_iocp;
/* The real ones, for a wrapper to call through. */
extern const pmw_iocp_api pmw_iocp_real;

extern const pm_io_engine_ops pmw_engine_iocp;

#endif
