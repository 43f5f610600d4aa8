/* report.h - the outcome of an audit: one category per entry, counts,
 * the first differences kept in memory for the summary and the JSON, and
 * the full list streamed to a --report file. Thread-safe: the hashing
 * workers add entries as files complete. Owner: verify/. */
#ifndef VF_REPORT_H
#define VF_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "platform.h"

enum vf_cat {
  VF_IDENTICAL,
  VF_MISSING,    /* in SRC (or the manifest), not in DST */
  VF_EXTRA,      /* in DST, not in SRC (manifest mode: only with --extra) */
  VF_CONTENT,    /* same type and size, other bytes; other symlink target;
                    manifest mode: "changed" (any other hash) */
  VF_SIZE,       /* regular files of different sizes */
  VF_TYPE,       /* file / directory / symlink / special differ */
  VF_META,       /* same content, other mode, owner, mtime or links */
  VF_UNREADABLE, /* could not be read or listed: never identical */
  VF_UNSAFE,     /* manifest mode: a path that is absolute, climbs out with
                    "..", or goes through a symlink: never opened */
  VF_NCAT
};

enum { VF_MODE_TREES, VF_MODE_MANIFEST };

typedef struct vf_report vf_report;

/* keep: how many differences to keep for the summary and the JSON. */
vf_report *vf_report_new(int mode, unsigned keep);
void vf_report_free(vf_report *r);
/* Streams every non-identical entry to `path` as it is found:
 * "<category>\t<path>\t<detail>\n", the path shown with control bytes
 * and invalid UTF-8 as \xNN. 0 or PM_E*. */
int vf_report_open_file(vf_report *r, const char *path);
/* Closes the report file; 0 or the first write error. */
int vf_report_close_file(vf_report *r);

/* Files and bytes read and hashed, added by the audit at the end. */
void vf_report_set_hashed(vf_report *r, uint64_t files, uint64_t bytes);
/* Entries counted per side (trees mode) for the summary. */
void vf_report_add_side_entries(vf_report *r, uint64_t src, uint64_t dst);

void vf_report_add(vf_report *r, int cat, const char *relpath,
                   const char *detail);
void vf_report_addf(vf_report *r, int cat, const char *relpath,
                    const char *fmt, ...) PM_PRINTF_FMT(4, 5);

uint64_t vf_report_count(const vf_report *r, int cat);
uint64_t vf_report_total(const vf_report *r);
uint64_t vf_report_differences(const vf_report *r);

/* Human name ("missing in DST", "changed") and JSON key ("missing",
 * "changed") of a category in the report's mode. */
const char *vf_cat_name(const vf_report *r, int cat);
const char *vf_cat_key(const vf_report *r, int cat);

typedef struct vf_report_info {
  const char *a, *b; /* SRC and DST, or manifest and DIR */
  const char *engine;
  unsigned threads;
  double seconds;
  bool complete;      /* false: the audit could not finish */
  const char *report_file;
  unsigned show;      /* differences listed in the human summary */
  uint64_t malformed; /* manifest lines that could not be parsed */
  bool format_error;  /* the manifest is not an XXH128 manifest */
  bool interrupted;   /* stopped by Ctrl-C (SIGINT) or SIGTERM */
} vf_report_info;

void vf_report_print_human(const vf_report *r, const vf_report_info *in,
                           FILE *out);
void vf_report_print_json(const vf_report *r, const vf_report_info *in,
                          FILE *out);

#endif
