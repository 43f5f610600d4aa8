/* journal.h - the resume journal of a copy (private to copyengine/).
 *
 * An append-only file beside the destination ("<DST>.pomove-journal" by
 * default). A header names the source, the destination and the options
 * that change the result; then one record per file made durable, and
 * checkpoints of large files whose leading chunks are durable. Every
 * record carries its own checksum; a torn last record is ignored. Records
 * are appended only after the data they describe is on the medium. */
#ifndef POMOVE_JOURNAL_H
#define POMOVE_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "hash.h"
#include "platform.h"
#include "state.h"

typedef struct ce_journal ce_journal;

/* The identity of a source file: a change of any field means "copy it
 * again". */
typedef struct ce_jident {
  uint64_t size, ino, dev;
  int64_t mtime_sec;
  int32_t mtime_nsec;
} ce_jident;

typedef struct ce_jfile {
  const char *rel;
  ce_jident id;
  pm_hash128 hash; /* of the whole file */
  /* The file's whole state record (state.h), or NULL: then only id and
   * hash are recorded. A resumed run hands it on to the state it writes,
   * and checks the source's change time too. */
  const ce_srec *sr;
} ce_jfile;

/* A checkpoint: bytes [off, off+len) of a large file are durable and hash
 * to `hash`; every earlier byte was checkpointed before. */
typedef struct ce_jchunk {
  const char *rel;
  ce_jident id;
  uint64_t off, len;
  pm_hash128 hash;
} ce_jchunk;

/* What the journal knows of one path after loading. */
typedef struct ce_jentry {
  bool done;
  ce_jident id;
  pm_hash128 hash;
  bool has_sr; /* sr holds the state record the file was done with */
  ce_srec sr;
  /* Checkpoints in order of offset, contiguous from 0. */
  size_t nchunks;
  struct {
    uint64_t off, len;
    pm_hash128 hash;
  } *chunks;
} ce_jentry;

typedef struct ce_journal_stats {
  uint64_t records, files, chunks;
  bool torn_tail; /* an incomplete last record was found and ignored */
} ce_journal_stats;

/* Opens (or creates) the journal, never through a link planted at its
 * name (sidefile.h): an existing journal is continued only when it is a
 * regular file of this user with one link; a new one is written under a
 * temporary name and renamed into place. With an existing journal for
 * another source, destination or options it fails with PM_ESTATE, with
 * a file that is no journal with PM_EFORMAT, unless `restart` is set,
 * which starts a new one. Every failure is reported with what to do.
 * *resumed tells whether records were loaded. */
int ce_journal_open(const pm_fs *fs, const char *path, const char *src,
                    const char *dst, const char *opts_sig, bool restart,
                    ce_journal **out, bool *resumed, ce_journal_stats *st);
/* True when ce_journal_open() refused the journal as it is (another
 * copy's, not a journal, a link or other kind of file, not ours): running
 * the same command again cannot help; --restart or removing it can. */
bool ce_journal_refused(int err);
/* NULL when the journal knows nothing of rel. */
const ce_jentry *ce_journal_lookup(ce_journal *j, const char *rel);
/* Appends records and makes them durable (one fdatasync per call, unless
 * ce_journal_defer_flush). Thread-safe. */
int ce_journal_add_files(ce_journal *j, const ce_jfile *f, size_t n);
int ce_journal_add_chunk(ce_journal *j, const ce_jchunk *c);
/* Checkpoints, then done files, with one write and one flush. */
int ce_journal_add(ce_journal *j, const ce_jchunk *c, size_t nc,
                   const ce_jfile *f, size_t nf);
/* From now on records are written without a flush of their own, when
 * the journal lives on the file system of the directory handle `dir`:
 * the caller makes them durable with its next flush of that whole file
 * system (syncfs), as it does anyway before it records more files. A
 * crash before that flush loses the records written since the last one,
 * and a rerun copies those files again; the records' checksums make
 * whatever part of them reached the medium a torn tail. Returns whether
 * the journal is there (otherwise each add keeps its own flush). */
bool ce_journal_defer_flush(ce_journal *j, pm_fd dir);
/* Closes; with remove set, deletes the file (after a complete copy).
 * Records not yet flushed are flushed first when the file is kept. */
int ce_journal_close(ce_journal *j, bool remove);

bool ce_jident_equal(const ce_jident *a, const ce_jident *b);

#endif
