/* vtest.h - helpers of the verify CLI tests: running pomove and reading
 * numbers and entries out of its --json output, and engine selection for
 * tests that run once per engine. */
#ifndef VF_TEST_VTEST_H
#define VF_TEST_VTEST_H

#include <stdbool.h>
#include <stdint.h>

/* The value of "key": in the JSON object that follows "\"<object>\":{"
 * (object NULL: anywhere). Fails the test when absent. */
uint64_t vt_json_num(const char *json, const char *object, const char *key);
/* True when the differences list holds {"category":cat,"path":path. */
bool vt_json_has(const char *json, const char *cat, const char *path);
/* Whether engine `name` is usable here; prints why not. */
bool vt_engine_usable(const char *name);

#endif
