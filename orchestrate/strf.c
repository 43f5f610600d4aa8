/* strf.c - orch_strf (see orch.h): the bounded formatting the steps,
 * stage, check and remove-old use for their fixed-size report fields. It
 * lived in cmd_move.c, which the library must not call into. */
#include <stdarg.h>
#include <stdio.h>

#include "orch.h"

void orch_strf(char *dst, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dst, cap, fmt, ap);
  va_end(ap);
}
