/* engines_win32.c - the I/O engines of the Win32 build, preferred first:
 * overlapped I/O on a completion port (engine_iocp.c), then the portable
 * thread-pool engine (platform/engine_pool.c) as the fallback that runs
 * every request through the file-system table. */
#include "iocp.h"
#include "platform.h"

extern const pm_io_engine_ops pm__engine_pool;

static const pm_io_engine_ops *const engines[] = {&pmw_engine_iocp,
                                                  &pm__engine_pool, NULL};

const pm_io_engine_ops *const *pm_io_engines(void) { return engines; }
