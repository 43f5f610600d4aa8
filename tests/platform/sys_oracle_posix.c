/* sys_oracle_posix.c - see sys_oracle.h: the C library's answers. */
#include "sys_oracle.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

void oracle_identity(pm_identity *out) {
  out->uid = (uint32_t)geteuid();
  out->gid = (uint32_t)getegid();
  out->privileged = geteuid() == 0;
  out->can_set_owner = geteuid() == 0;
}

bool oracle_utc(int64_t t, pm_utc *out) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm)) return false;
  out->year = tm.tm_year + 1900;
  out->month = tm.tm_mon + 1;
  out->day = tm.tm_mday;
  out->hour = tm.tm_hour;
  out->min = tm.tm_min;
  out->sec = tm.tm_sec;
  return true;
}

char *oracle_strsep(char **sp, const char *delim) { return strsep(sp, delim); }
