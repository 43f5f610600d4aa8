/* stub_win32.c - a stand-in for the Win32 backend that does not exist
 * yet: the host backends (the file-system table is fs_win32.c, the I/O
 * engines engines_win32.c).
 * Each entry point aborts with a message, so that pomove.exe links (which
 * proves that the portable core needs nothing else from the OS than the
 * platform layer) but can do nothing. The stub goes away with the Win32
 * backend, which replaces this file. */
#include <stdio.h>
#include <stdlib.h>

#include "host.h"
#include "platform.h"

/* Never returns: the message names the entry point that was reached. */
static void not_yet(const char *what) {
  fprintf(stderr,
          "pomove: %s: this Windows build has no Win32 backend yet "
          "(platform/win32/stub_win32.c); nothing can be done\n",
          what);
  fflush(stderr);
  abort();
}

const pm_host_backend *const *pm__host_backends(void) {
  not_yet("the host backends (pm__host_backends)");
  return NULL;
}
