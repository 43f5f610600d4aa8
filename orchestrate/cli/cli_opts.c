/* cli_opts.c - the option parsers of the command line: every size and
 * count option passes pm_cli_size (the same suffixes everywhere, see
 * pm_size_parse in util.h), every duration pm_cli_seconds. A refused
 * value is one line on stderr naming the command, the option and the
 * value, and exit code 2. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "platform.h"
#include "util.h"

/* A limit for a message: "64 MiB" when it is a whole number of a unit,
 * else plain bytes. */
static const char *fmt_limit(uint64_t v, bool count, char *buf, size_t cap) {
  static const char *units[] = {"", " KiB", " MiB", " GiB", " TiB"};
  unsigned u = 0;
  if (!count)
    while (u < 4 && v && v % 1024 == 0) {
      v /= 1024;
      u++;
    }
  snprintf(buf, cap, "%llu%s", (unsigned long long)v, units[u]);
  return buf;
}

int pm_cli_size(const char *cmd, const char *opt, const char *val,
                uint64_t min, uint64_t max, unsigned flags, uint64_t *out) {
  bool count = flags & (PM_SIZE_COUNT | PM_SIZE_PLAIN);
  char *shown = pm_display_path(val);
  char lo[40], hi[40], range[100];
  if (max == UINT64_MAX)
    snprintf(range, sizeof range, "at least %s",
             fmt_limit(min, count, lo, sizeof lo));
  else
    snprintf(range, sizeof range, "%s to %s",
             fmt_limit(min, count, lo, sizeof lo),
             fmt_limit(max, count, hi, sizeof hi));
  if ((flags & PM_SIZE_OFF) && !strcmp(val, "off")) {
    free(shown);
    *out = UINT64_MAX;
    return 0;
  }
  uint64_t v = 0;
  int rc = pm_size_parse(val, &v);
  if (!rc && (flags & PM_SIZE_PLAIN))
    for (const char *c = val; *c; c++)
      if (*c < '0' || *c > '9') rc = PM_EINVAL;
  if (rc == PM_EINVAL) {
    if (flags & PM_SIZE_PLAIN)
      fprintf(stderr, "pomove %s: %s: \"%s\" is not a number (use digits "
                      "only, %s)\n", cmd, opt, shown, range);
    else
      fprintf(stderr, "pomove %s: %s: \"%s\" is not a %s (use a number%s "
                      "with K, M, G, T, KiB, MiB, GiB or TiB%s)\n",
              cmd, opt, shown, count ? "number" : "size",
              count ? ", optionally" : " of bytes, or one",
              (flags & PM_SIZE_OFF) ? ", or off" : "");
  } else if (rc == PM_ERANGE && max == UINT64_MAX) {
    fprintf(stderr, "pomove %s: %s: \"%s\" is too large (it does not fit "
                    "in 64 bits)\n", cmd, opt, shown);
  } else if (rc == PM_ERANGE || v < min || v > max) {
    fprintf(stderr, "pomove %s: %s: \"%s\" is out of range (use %s%s)\n",
            cmd, opt, shown, range, (flags & PM_SIZE_OFF) ? ", or off" : "");
    rc = PM_ERANGE;
  }
  free(shown);
  if (rc) return PM_EXIT_USAGE;
  *out = v;
  return 0;
}

int pm_cli_seconds(const char *cmd, const char *opt, const char *val,
                   double max_s, double *secs) {
  /* Digits, then optionally '.' and digits: strtod alone would also take
   * "inf", "1e9", hex and leading blanks. */
  const char *p = val;
  size_t digits = 0;
  while (*p >= '0' && *p <= '9') p++, digits++;
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++) digits++;
  double v = digits && !*p ? strtod(val, NULL) : -1;
  if (v < 0 || v > max_s) {
    char *shown = pm_display_path(val);
    fprintf(stderr, "pomove %s: %s: \"%s\" is not a number of seconds "
                    "from 0 to %.0f (e.g. 2 or 0.5)\n", cmd, opt, shown,
            max_s);
    free(shown);
    return PM_EXIT_USAGE;
  }
  *secs = v;
  return 0;
}
