/* state.h - the state a finished copy leaves beside its manifest, which
 * `pomove copy --update` reads to decide, without reading a byte of data,
 * which files are unchanged since (private to copyengine/).
 *
 * One record per regular file: the source's identity at the moment it
 * was read (size, mtime, ctime, device and inode), the copy's identity
 * once complete (size, mtime, device and inode), the moment the read
 * ended by the file system's own clock, and the XXH3-128 of the data.
 * "<manifest without .xxh128>.pomove-state" by default, so
 * "DST.pomove-state" beside "DST.xxh128". Framed like the journal (length,
 * type, payload, checksum), with a trailer that counts the records, and
 * read whole: any byte that is not part of a sound record is an error
 * naming the record, never a silent stop. */
#ifndef POMOVE_STATE_H
#define POMOVE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "platform.h"

typedef struct ce_srec {
  /* The source when it was read. */
  uint64_t ssize, sdev, sino;
  pm_time smtime, sctime;
  /* The copy once its data, mode and times were set. */
  uint64_t dsize, ddev, dino;
  pm_time dmtime;
  /* When the read had ended, by the clock of the file system that holds
   * the copy: its change time right after its times were set. Compared
   * with the source's timestamps by the racy rule. */
  pm_time read_at;
  pm_hash128 hash;
} ce_srec;

/* Bytes of a serialized ce_srec (fixed size; little-endian). */
#define CE_SREC_BYTES (8 * 3 + 12 * 2 + 8 * 3 + 12 + 12 + 16)
void ce_srec_put(unsigned char *p, const ce_srec *r);
void ce_srec_get(const unsigned char *p, ce_srec *r);

/* Fills the source half of r from st. */
void ce_srec_set_src(ce_srec *r, const pm_stat *st);
/* Fills the copy's half of r (and read_at, its ctime) from dst_st. */
void ce_srec_set_dst(ce_srec *r, const pm_stat *dst_st);
/* True when the source as it is now (st) is the one recorded. */
bool ce_srec_src_equal(const ce_srec *r, const pm_stat *st);
/* True when the copy as it is now (st) is the one recorded. */
bool ce_srec_dst_equal(const ce_srec *r, const pm_stat *st);
/* True when a write after the read could have left the source's mtime
 * and ctime as recorded: either lies within gran_ns of the moment the
 * read ended (or after it). Such a file is hashed again. */
bool ce_srec_racy(const ce_srec *r, int64_t gran_ns);

/* The default state path for a manifest path: its ".xxh128" suffix
 * replaced by ".pomove-state" (appended when absent). malloc'd. */
char *ce_state_path_for(const char *manifest);

typedef struct ce_state ce_state;

/* Reads the state at path, opened as a side file (no link followed, no
 * FIFO waited on, a regular file of ours). PM_ENOENT, not reported, when
 * there is none. Reported and returned: PM_ESTATE when it was written for
 * another source (both are named), PM_EFORMAT when any record is damaged (named by
 * number and byte offset; reported only with report_damage, a caller that
 * goes on without the state reports it its own way), or the error of the
 * read. */
int ce_state_load(const pm_fs *fs, const char *path, const char *src,
                  bool report_damage, ce_state **out);
/* The record of rel, decoded into *out (returns out); NULL when the
 * state has none. Thread-safe. */
const ce_srec *ce_state_lookup(const ce_state *s, const char *rel,
                               ce_srec *out);
/* The records of the source file (dev, ino), one per call, decoded into
 * *out (returned), with their paths in *rel (valid while s is): the
 * paths of a hard-link group. *it is 0 for the first call and is kept
 * between calls; NULL when there is no more. */
const ce_srec *ce_state_lookup_src(const ce_state *s, uint64_t dev,
                                   uint64_t ino, size_t *it,
                                   const char **rel, ce_srec *out);
size_t ce_state_count(const ce_state *s);
void ce_state_free(ce_state *s);

/* A new state, written under a temporary name (sidefile.h) and put in
 * place by ce_state_writer_publish() once the copy is complete. */
typedef struct ce_state_writer ce_state_writer;
int ce_state_writer_open(const pm_fs *fs, const char *path,
                         const char *src, const char *dst,
                         ce_state_writer **out);
/* Thread-safe; 0 or the first write error. */
int ce_state_writer_add(ce_state_writer *w, const char *rel,
                        const ce_srec *r);
/* Writes the trailer, flushes, renames into place, frees; reports its
 * own failures. */
int ce_state_writer_publish(ce_state_writer *w);
/* Removes the temporary file and frees. */
void ce_state_writer_discard(ce_state_writer *w);

#endif
