/* report.c - see report.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "report.h"
#include "sys.h"
#include "thread.h"
#include "util.h"

typedef struct diff {
  int cat;
  char *path, *detail;
} diff;

struct vf_report {
  int mode;
  pm_mutex mu;
  uint64_t count[VF_NCAT];
  uint64_t files_hashed, bytes_hashed;
  uint64_t src_entries, dst_entries;
  diff *kept;
  unsigned nkept, keep;
  FILE *file;
  int file_err;
};

static const char *const names_trees[VF_NCAT] = {
    "identical",       "missing in DST", "extra in DST",
    "content differs", "size differs",   "type differs",
    "metadata differs", "unreadable", "unsafe path"};
static const char *const keys_trees[VF_NCAT] = {
    "identical",    "missing",      "extra",            "content_differs",
    "size_differs", "type_differs", "metadata_differs", "unreadable",
    "unsafe_path"};
static const char *const names_manifest[VF_NCAT] = {
    "identical", "missing",  "extra",      "changed",
    "changed (size)", "type differs", "metadata differs", "unreadable",
    "unsafe path"};
static const char *const keys_manifest[VF_NCAT] = {
    "identical",    "missing",      "extra",            "changed",
    "size_differs", "type_differs", "metadata_differs", "unreadable",
    "unsafe_path"};

const char *vf_cat_name(const vf_report *r, int cat) {
  return (r->mode == VF_MODE_MANIFEST ? names_manifest : names_trees)[cat];
}

const char *vf_cat_key(const vf_report *r, int cat) {
  return (r->mode == VF_MODE_MANIFEST ? keys_manifest : keys_trees)[cat];
}

vf_report *vf_report_new(int mode, unsigned keep) {
  vf_report *r = pm_xcalloc(1, sizeof *r);
  r->mode = mode;
  r->keep = keep;
  r->kept = pm_xcalloc(keep ? keep : 1, sizeof *r->kept);
  pm_mutex_init(&r->mu);
  return r;
}

void vf_report_free(vf_report *r) {
  if (!r) return;
  if (r->file) vf_report_close_file(r);
  for (unsigned i = 0; i < r->nkept; i++) {
    free(r->kept[i].path);
    free(r->kept[i].detail);
  }
  free(r->kept);
  pm_mutex_destroy(&r->mu);
  free(r);
}

int vf_report_open_file(vf_report *r, const char *path) {
  /* The report is a plain stream written in order; stdio buffers it. The
   * fs table is not involved because nothing here touches the trees;
   * pm_fopen takes the UTF-8 path on Windows too. Binary: the lines are
   * for programs, and end in LF on Windows as on Linux. */
  r->file = pm_fopen(path, "wb");
  if (!r->file) {
    int e = errno;
    pm_oserr_set(e);
    return e == ENOENT ? PM_ENOENT : e == EACCES ? PM_EACCES
         : e == EISDIR ? PM_EISDIR : e == ENOTDIR ? PM_ENOTDIR : PM_EIO;
  }
  return 0;
}

int vf_report_close_file(vf_report *r) {
  if (!r->file) return 0;
  if (fflush(r->file) != 0 || ferror(r->file)) r->file_err = PM_EIO;
  if (fclose(r->file) != 0 && !r->file_err) r->file_err = PM_EIO;
  r->file = NULL;
  return r->file_err;
}

void vf_report_set_hashed(vf_report *r, uint64_t files, uint64_t bytes) {
  pm_mutex_lock(&r->mu);
  r->files_hashed = files;
  r->bytes_hashed = bytes;
  pm_mutex_unlock(&r->mu);
}

void vf_report_add_side_entries(vf_report *r, uint64_t src, uint64_t dst) {
  pm_mutex_lock(&r->mu);
  r->src_entries += src;
  r->dst_entries += dst;
  pm_mutex_unlock(&r->mu);
}

void vf_report_add(vf_report *r, int cat, const char *relpath,
                   const char *detail) {
  pm_mutex_lock(&r->mu);
  r->count[cat]++;
  if (cat != VF_IDENTICAL) {
    if (r->nkept < r->keep) {
      r->kept[r->nkept].cat = cat;
      r->kept[r->nkept].path = pm_xstrdup(relpath);
      r->kept[r->nkept].detail = pm_xstrdup(detail ? detail : "");
      r->nkept++;
    }
    if (r->file) {
      char *shown = pm_display_path(relpath);
      if (fprintf(r->file, "%s\t%s\t%s\n", vf_cat_key(r, cat), shown,
                  detail ? detail : "") < 0)
        r->file_err = PM_EIO;
      free(shown);
    }
  }
  pm_mutex_unlock(&r->mu);
}

void vf_report_addf(vf_report *r, int cat, const char *relpath,
                    const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  vf_report_add(r, cat, relpath, buf);
}

uint64_t vf_report_count(const vf_report *r, int cat) { return r->count[cat]; }

uint64_t vf_report_total(const vf_report *r) {
  uint64_t t = 0;
  for (int c = 0; c < VF_NCAT; c++) t += r->count[c];
  return t;
}

uint64_t vf_report_differences(const vf_report *r) {
  return vf_report_total(r) - r->count[VF_IDENTICAL];
}

void vf_report_print_human(const vf_report *r, const vf_report_info *in,
                           FILE *out) {
  char b1[32], b2[32];
  bool trees = r->mode == VF_MODE_TREES;
  if (trees)
    fprintf(out, "pomove verify: %s -> %s\n", in->a, in->b);
  else
    fprintf(out, "pomove verify: manifest %s against %s\n", in->a, in->b);
  uint64_t total = vf_report_total(r);
  fprintf(out, "  entries checked:   %llu", (unsigned long long)total);
  if (trees)
    fprintf(out, " (%llu in SRC, %llu in DST)",
            (unsigned long long)r->src_entries,
            (unsigned long long)r->dst_entries);
  fputc('\n', out);
  for (int c = 0; c < VF_NCAT; c++) {
    if (!trees && (c == VF_SIZE || c == VF_META)) continue;
    if (trees && c == VF_UNSAFE) continue;
    if (c != VF_IDENTICAL && !r->count[c]) continue;
    fprintf(out, "  %-18s %llu\n", vf_cat_name(r, c),
            (unsigned long long)r->count[c]);
  }
  if (in->malformed)
    fprintf(out, "  malformed lines:   %llu\n",
            (unsigned long long)in->malformed);
  fprintf(out, "  read and hashed:   %llu files, %s, in %s (%s engine, %u "
               "threads)\n",
          (unsigned long long)r->files_hashed,
          pm_fmt_bytes(r->bytes_hashed, b1, sizeof b1),
          pm_fmt_duration(in->seconds, b2, sizeof b2), in->engine,
          in->threads);
  unsigned show = in->show < r->nkept ? in->show : r->nkept;
  if (show) {
    fprintf(out, "  first differences:\n");
    for (unsigned i = 0; i < show; i++) {
      char *p = pm_display_path(r->kept[i].path);
      fprintf(out, "    %-18s %s%s%s\n", vf_cat_name(r, r->kept[i].cat), p,
              r->kept[i].detail[0] ? ": " : "", r->kept[i].detail);
      free(p);
    }
    uint64_t diffs = vf_report_differences(r);
    if (diffs > show)
      fprintf(out, "    ... and %llu more%s%s\n",
              (unsigned long long)(diffs - show),
              in->report_file ? ", all listed in " : " (--report FILE lists all)",
              in->report_file ? in->report_file : "");
  }
  if (in->interrupted)
    fprintf(out, "  RESULT: interrupted: the audit did not finish\n");
  else if (in->format_error)
    fprintf(out, "  RESULT: not an XXH128 manifest (see the error above)\n");
  else if (!in->complete)
    fprintf(out, "  RESULT: could not complete (see the errors above)\n");
  else if (!trees && total == 0 && !in->malformed)
    fprintf(out, "  RESULT: the manifest lists no files: 0 entries "
                 "checked\n");
  else if (vf_report_differences(r) || in->malformed)
    fprintf(out, "  RESULT: differences found\n");
  else
    fprintf(out, "  RESULT: all identical\n");
}

void vf_report_print_json(const vf_report *r, const vf_report_info *in,
                          FILE *out) {
  bool trees = r->mode == VF_MODE_TREES;
  fprintf(out, "{\"mode\":\"%s\",", trees ? "trees" : "manifest");
  fputs(trees ? "\"src\":" : "\"manifest\":", out);
  pm_json_string(out, in->a);
  fputs(trees ? ",\"dst\":" : ",\"dir\":", out);
  pm_json_string(out, in->b);
  fprintf(out, ",\"complete\":%s,\"interrupted\":%s,\"entries\":%llu,",
          in->complete ? "true" : "false",
          in->interrupted ? "true" : "false",
          (unsigned long long)vf_report_total(r));
  if (trees)
    fprintf(out, "\"entries_src\":%llu,\"entries_dst\":%llu,",
            (unsigned long long)r->src_entries,
            (unsigned long long)r->dst_entries);
  fputs("\"counts\":{", out);
  for (int c = 0; c < VF_NCAT; c++) {
    if (trees && c == VF_UNSAFE) continue; /* manifest mode only */
    fprintf(out, "%s\"%s\":%llu", c ? "," : "", vf_cat_key(r, c),
            (unsigned long long)r->count[c]);
  }
  fprintf(out,
          "},\"format_error\":%s,\"malformed_lines\":%llu,\"files_hashed\":%llu,"
          "\"bytes_hashed\":%llu,\"seconds\":%.3f,\"engine\":",
          in->format_error ? "true" : "false",
          (unsigned long long)in->malformed,
          (unsigned long long)r->files_hashed,
          (unsigned long long)r->bytes_hashed, in->seconds);
  pm_json_string(out, in->engine);
  fprintf(out, ",\"threads\":%u,\"differences_total\":%llu,\"differences\":[",
          in->threads, (unsigned long long)vf_report_differences(r));
  for (unsigned i = 0; i < r->nkept; i++) {
    fprintf(out, "%s{\"category\":\"%s\",\"path\":", i ? "," : "",
            vf_cat_key(r, r->kept[i].cat));
    pm_json_string(out, r->kept[i].path);
    fputs(",\"detail\":", out);
    pm_json_string(out, r->kept[i].detail);
    fputc('}', out);
  }
  fputs("]}\n", out);
}
