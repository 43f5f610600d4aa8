/* contract.h - support shared by the platform conformance suites
 * (test_fs_contract.c, test_engine_contract.c): a watchdog that ends the
 * process when a call that must not block does block, and a pool of
 * formatted strings freed after each case. Built on the platform's own
 * thread layer, not on alarm(), so that the suites run unchanged against
 * the Win32 backend. Only these suites include it. */
#ifndef POMOVE_TESTS_CONTRACT_H
#define POMOVE_TESTS_CONTRACT_H

#include <stddef.h>
#include <stdint.h>

typedef struct ct_watchdog ct_watchdog;

/* Ends the process (exit status 1, with a message naming `what`) unless
 * ct_watchdog_stop() is called within `seconds`. A cmocka assertion cannot
 * fire inside a call that never returns; this can. */
ct_watchdog *ct_watchdog_start(double seconds, const char *what);
void ct_watchdog_stop(ct_watchdog *w);

/* A formatted string that lives until ct_strings_free(). */
char *ct_str(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ct_strings_free(void);
/* n bytes that live until ct_strings_free(), so that a failing assertion
 * leaks nothing. */
void *ct_alloc(size_t n);

/* Sleeps about ms milliseconds (a timed wait on the thread layer). */
void ct_sleep_ms(unsigned ms);

#endif
