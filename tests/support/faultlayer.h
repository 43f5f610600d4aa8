/* faultlayer.h - one fault-injecting file system for tests, in the shape
 * of SQLite's test_vfs.c: a pm_fs object that wraps another pm_fs (so
 * layers stack) and keeps all its state in its own context (so two
 * layers run at once, on different threads, without globals).
 *
 * Every call is counted by operation and handed to the parent. A rule
 * chooses the calls a fault counts: an operation mask, optionally only
 * calls whose path holds a substring (or starts with a prefix) and only
 * reads or writes reaching past an offset; the Nth such call fails with
 * the rule's error, once or persistently. Independently of the Nth: opens
 * asking for refused flags fail (PM_O_DIRECT -> PM_EINVAL, as a file
 * system without O_DIRECT), reads and writes are capped to short_io
 * bytes, and the Nth matching read or write succeeds with one byte of
 * its data flipped (a silent corruption only a re-read can find).
 *
 * The path of a call beneath a handle (open_at ...) is the path its
 * directory handle was opened with, "/", and rel; the path of a call on a
 * handle is the path it was opened with. Thread-safe.
 *
 * It replaces three wrappers the tests had (faultfs, the verify tests'
 * vfaultfs, the file-system half of the orchestrator's fault host), each
 * with its own globals and counting. */
#ifndef POMOVE_FAULTLAYER_H
#define POMOVE_FAULTLAYER_H

#include <stdbool.h>
#include <stdint.h>

#include "platform.h"

typedef enum fl_op {
  FL_OPEN,   /* open, open_at, stream_open */
  FL_READ,   /* pread, and an engine's reads (fl_engine) */
  FL_WRITE,  /* pwrite, and an engine's writes */
  FL_FSYNC,  /* fsync, syncfs, and an engine's syncs */
  FL_MKDIR,  /* mkdir, mkdir_at */
  FL_RENAME, /* rename */
  FL_META,   /* chmod, chown, utimes, xattr set/remove, ftruncate, link,
                symlink, mknod, unlink, rmdir, lock, stream_remove, their
                _at forms */
  FL_LIST,   /* opendir, opendir_at, readdir */
  FL_STAT,   /* stat, fstat, stat_at, readlink, xattr list/get, seek,
                streams_list and their _at forms */
  FL_CLOSE,  /* close, closedir: counted, never failed */
  FL_CACHE,  /* drop_cache, cached: counted, never failed */
  FL_INFO,   /* fsinfo, realpath, phys_pos: counted, never failed */
  FL_NOPS
} fl_op;

#define FL_MASK(op) (1u << (op))
/* Every operation a fault may hit (FL_OPEN ... FL_STAT). */
#define FL_ALL (FL_MASK(FL_CLOSE) - 1u)

typedef enum fl_path_match {
  FL_PATH_SUBSTR = 0, /* the call's path holds rule.path */
  FL_PATH_PREFIX,     /* starts with it */
  FL_PATH_SUFFIX      /* ends with it */
} fl_path_match;

typedef struct fl_rule {
  unsigned ops;             /* FL_MASK()s the fault counts; 0: none */
  unsigned long nth;        /* 1-based; 0: never fail */
  bool persistent;          /* keep failing after the Nth */
  int err;                  /* PM_E* to return (default PM_EIO) */
  int oserr;                /* OS code recorded with it (default 0) */
  const char *path;         /* only calls whose path matches this */
  fl_path_match path_match;
  bool off_set;             /* only reads/writes reaching past off */
  uint64_t off;
  int refuse_flags;         /* opens with any of these fail... */
  int refuse_err;           /* ...with this (default PM_EINVAL) */
  unsigned short_io;        /* cap on bytes per read/write; 0: none */
  unsigned long corrupt_read_nth;  /* matching read N returns a flipped byte */
  unsigned long corrupt_write_nth; /* matching write N writes one */
} fl_rule;

typedef struct fl_layer fl_layer;

/* A layer over `parent` (NULL: the native file system) with a copy of
 * `rule` (NULL: pass-through; rule.path is copied too). The layer must
 * outlive its users. */
fl_layer *fl_new(const pm_fs *parent, const fl_rule *rule);
void fl_free(fl_layer *L);
/* The file system to hand to the code under test. */
const pm_fs *fl_fs(fl_layer *L);
/* Calls of one operation so far (all calls, matching the rule or not). */
unsigned long fl_calls(const fl_layer *L, fl_op op);
/* Calls the rule's Nth counts (those that matched mask, path, offset). */
unsigned long fl_matched(const fl_layer *L);
/* Whether the rule injected anything (a failure or a corruption). */
bool fl_fired(const fl_layer *L);
/* Refused opens so far. */
unsigned long fl_refused(const fl_layer *L);
const char *fl_op_name(fl_op op);

/* A function called before a call is counted or handed on, with the
 * slot's name ("open", "open_at", "stat", "stat_at", "opendir",
 * "opendir_at", "mkdir", "mkdir_at", "unlink", "unlink_at", "rmdir",
 * "rmdir_at", "rename"), the path or relative path it was given (rename:
 * the new name) and the open flags (0 for the others). It may change the
 * tree (a race hit every time), count, or fail the call: a non-zero
 * return is the call's result. NULL: none. */
typedef int (*fl_hook_fn)(const char *op, const char *path, int flags,
                          void *arg);
void fl_set_hook(fl_layer *L, fl_hook_fn fn, void *arg);
/* Whether a hook's op is `name` or its form beneath a handle. */
bool fl_op_is(const char *op, const char *name);

/* An engine that counts and fails READ, WRITE and FSYNC requests as the
 * layer's pread, pwrite and fsync (with its short transfers and the
 * corruption of its Nth write, and of its Nth read when that read comes
 * back), then hands them to `parent`. It finds its
 * layer through the file system its init is given, which must be a
 * layer's fl_fs(); the parent engine is initialised with that layer's
 * parent, so that the pool engine does not count a request twice. */
const pm_io_engine_ops *fl_engine(const pm_io_engine_ops *parent);
/* The requests the engine counted, by operation (FL_READ, FL_WRITE,
 * FL_FSYNC); they are counted in fl_calls() too. */
unsigned long fl_engine_calls(const fl_layer *L, fl_op op);

#endif
