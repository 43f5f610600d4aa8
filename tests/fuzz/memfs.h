/* memfs.h - a tiny in-memory file-system table for the fuzz harnesses
 * (tests/fuzz/ only). A harness puts the input bytes under a name, hands
 * the table to the parser, and reads back what the parser wrote (a
 * journal's cut-off tail, a re-saved plan), so that no input costs a
 * system call. It holds a handful of files in one flat namespace (the
 * path is just a key), and fills only the slots a parser of state files
 * uses: open, close, pread, pwrite, fsync, ftruncate, fstat, stat,
 * unlink, rename; every other slot fails with PM_ENOTSUP. Not
 * thread-safe: libFuzzer runs one input at a time. */
#ifndef POMOVE_FUZZ_MEMFS_H
#define POMOVE_FUZZ_MEMFS_H

#include <stddef.h>
#include <stdint.h>

#include "platform.h"

/* The table. */
const pm_fs *fz_memfs(void);
/* Forgets every file and open handle (between inputs). */
void fz_memfs_reset(void);
/* Creates or replaces `path` with a copy of data[0..len). */
void fz_memfs_put(const char *path, const void *data, size_t len);
/* The current bytes of `path` (valid until the next call into the table),
 * or NULL when there is no such file. */
const uint8_t *fz_memfs_get(const char *path, size_t *len);
/* Handles open now (a parser must close what it opens). */
unsigned fz_memfs_open_count(void);

#endif
