/* engines.c - choosing an I/O engine by name, or the first one that
 * probes usable (io_uring is an accelerator that may be absent). */
#include <stdio.h>
#include <string.h>

#include "platform.h"

const pm_io_engine_ops *pm_io_engine_find(const char *name) {
  for (const pm_io_engine_ops *const *e = pm_io_engines(); *e; e++)
    if (!strcmp((*e)->name, name)) return *e;
  return NULL;
}

const pm_io_engine_ops *pm_io_engine_default(char *why, size_t why_cap) {
  const pm_io_engine_ops *const *list = pm_io_engines();
  if (why && why_cap) why[0] = '\0';
  for (const pm_io_engine_ops *const *e = list; *e; e++) {
    int rc = (*e)->probe();
    if (rc == PM_OK) return *e;
    if (why && why_cap && !why[0])
      snprintf(why, why_cap, "the %s engine is unavailable here (%s, OS error %d)",
               (*e)->name, pm_strerror(rc), pm_oserr_of(rc));
  }
  return NULL;
}
