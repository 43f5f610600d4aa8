/* vtest.c - see vtest.h. */
#include "vtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "testutil.h"
#include "util.h"

uint64_t vt_json_num(const char *json, const char *object, const char *key) {
  const char *from = json;
  if (object) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":{", object);
    from = strstr(json, pat);
    if (!from) fail_msg("no object \"%s\" in %s", object, json);
  }
  char pat[128];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(from, pat);
  if (!p) fail_msg("no key \"%s\" in %s", key, json);
  return strtoull(p + strlen(pat), NULL, 10);
}

bool vt_json_has(const char *json, const char *cat, const char *path) {
  char *buf;
  size_t n;
  FILE *m = open_memstream(&buf, &n);
  fprintf(m, "{\"category\":\"%s\",\"path\":", cat);
  pm_json_string(m, path);
  fclose(m);
  bool found = strstr(json, buf) != NULL;
  free(buf);
  return found;
}

bool vt_engine_usable(const char *name) {
  const pm_io_engine_ops *e = pm_io_engine_find(name);
  if (!e || e->probe() != 0) {
    printf("engine %s is not usable here: this case is skipped\n", name);
    return false;
  }
  return true;
}
