/* manifest.h - manifests of trees in the formats xxh128sum reads and
 * writes:
 *   GNU style:  "<32 hex>  <path>\n"
 *   BSD style:  "XXH128 (<path>) = <32 hex>\n"   (xxh128sum --tag)
 * A name that a line cannot carry raw (one holding a newline, or ending
 * in a carriage return, which a CRLF-tolerant reader would take for the
 * line end) is escaped the way xxhsum 0.8.2+ does it: the line starts
 * with a backslash and the name has "\n" for newline, "\r" for carriage
 * return and "\\" for backslash. Every other name is written as raw bytes,
 * so that Debian 12's xxh128sum 0.8.1 (which rejects escaped lines) reads
 * it. Paths are relative to the tree's root and '/' separated. Whatever
 * the writer writes, the reader reads back as the same name. */
#ifndef POMOVE_MANIFEST_H
#define POMOVE_MANIFEST_H

#include <stdbool.h>
#include <stdio.h>

#include "hash.h"

/* Writer. Lines are appended in the order given; thread-safe. */
typedef struct pm_manifest_writer pm_manifest_writer;

/* Starts a manifest, written through `fs`, that pm_manifest_writer_publish()
 * puts at `path`: it is written under a temporary name beside `path`
 * (sidefile.h), created with O_EXCL|O_NOFOLLOW, so that nothing planted
 * there is opened. A
 * symlink, directory or special file at `path` is refused. Failures are
 * reported here. Returns 0 or PM_E*. */
struct pm_fs;
int pm_manifest_writer_open_fs(const struct pm_fs *fs, const char *path,
                               pm_manifest_writer **out);
/* The temporary name the manifest is being written under. */
const char *pm_manifest_writer_tmp_path(const pm_manifest_writer *w);
/* 0 or the first write error (with its OS code recorded on the calling
 * thread, whichever thread met it). */
int pm_manifest_writer_add(pm_manifest_writer *w, const char *relpath,
                           const pm_hash128 *h);
/* Flushes, fsyncs and renames the manifest into place, and frees the
 * writer; 0 or the first error (nothing is put in place then, and the
 * temporary file is removed). A failure to rename is reported here; a
 * write error is left to the caller to report. */
int pm_manifest_writer_publish(pm_manifest_writer *w);
/* Abandons the manifest: closes and removes the temporary file; 0 or the
 * first write error. */
int pm_manifest_writer_close(pm_manifest_writer *w);

/* Formats one GNU-style line (with trailing newline) into a malloc'd
 * string. */
char *pm_manifest_format_line(const char *relpath, const pm_hash128 *h);

/* Reader: one entry per call. Every byte of the file is accounted for:
 * a line is an entry, a blank line, or a format error naming the line
 * (a NUL byte, a last line without its newline, a line longer than
 * PM_MANIFEST_MAX_LINE, another checksum tool's line). */
#define PM_MANIFEST_MAX_LINE (1024u * 1024u)

typedef struct pm_manifest_entry {
  char *path; /* unescaped; owned by the reader until the next call */
  pm_hash128 hash;
  unsigned line;
  /* With PM_EFORMAT: what is wrong with the line (static text), and
   * whether it is a well-formed line of another checksum (md5sum,
   * sha256sum, xxhsum -H0/-H1/-H3 ...), which makes the whole manifest
   * one pomove cannot check. */
  const char *why;
  bool other_algorithm;
} pm_manifest_entry;

typedef struct pm_manifest_reader pm_manifest_reader;
/* Opens the manifest at `path` for reading through `fs` (the file system
 * the audit was given, so that an injected table sees the manifest's reads
 * too). */
int pm_manifest_reader_open(const struct pm_fs *fs, const char *path,
                            pm_manifest_reader **out);
/* 1 entry, 0 end, PM_EFORMAT for a bad line (line number in *line). */
int pm_manifest_reader_next(pm_manifest_reader *r, pm_manifest_entry *e);
void pm_manifest_reader_close(pm_manifest_reader *r);

/* Parses one line (without its newline). 0 or PM_EFORMAT. *path_out is
 * malloc'd. */
int pm_manifest_parse_line(const char *line, size_t len, char **path_out,
                           pm_hash128 *h);
/* The same, saying on PM_EFORMAT why (static text; why may be NULL) and
 * whether the line is another algorithm's (other may be NULL). */
int pm_manifest_parse_line_why(const char *line, size_t len, char **path_out,
                               pm_hash128 *h, const char **why, bool *other);

#endif
