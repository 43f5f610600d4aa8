/* cli_output.c - where pomove's messages go: the libraries report through
 * the sink and draw progress through the drawer of util.h; the command
 * line installs both here and writes them to stderr. The progress line:
 * on a terminal redrawn in place (at most ~10 times a second, the
 * library's pm_progress rate-limits), otherwise a plain line every 10 s. */
#include <stdio.h>

#include "cli.h"
#include "sys.h"
#include "util.h"

static void sink(void *ctx, int kind, const char *text) {
  fputs(text, stderr);
  fflush(stderr);
}

static int auto_mode(void *ctx) {
  return pm_isatty(2) ? PM_PROGRESS_TTY : PM_PROGRESS_PLAIN;
}

static void draw(void *ctx, const pm_progress *p, uint64_t files,
                 uint64_t bytes, uint64_t now) {
  double el = (double)(now - p->start_ns) / 1e9;
  double rate = el > 0 ? (double)bytes / el : 0;
  char b1[32], b2[32], b3[32], eta[32] = "?";
  if (p->bytes_total && rate > 0 && bytes <= p->bytes_total)
    pm_fmt_duration((double)(p->bytes_total - bytes) / rate, eta, sizeof eta);
  char tot_files[32] = "", tot_bytes[48] = "";
  if (p->files_total)
    snprintf(tot_files, sizeof tot_files, "/%llu",
             (unsigned long long)p->files_total);
  if (p->bytes_total)
    snprintf(tot_bytes, sizeof tot_bytes, "/%s",
             pm_fmt_bytes(p->bytes_total, b3, sizeof b3));
  fprintf(stderr, "%s%s: %llu%s files, %s%s, %s/s, ETA %s%s",
          p->mode == PM_PROGRESS_TTY ? "\r\033[K" : "", p->label,
          (unsigned long long)files, tot_files,
          pm_fmt_bytes(bytes, b1, sizeof b1), tot_bytes,
          pm_fmt_bytes((uint64_t)rate, b2, sizeof b2), eta,
          p->mode == PM_PROGRESS_TTY ? "" : "\n");
  fflush(stderr);
}

static void clear(void *ctx, const pm_progress *p) {
  fputs("\r\033[K", stderr);
  fflush(stderr);
}

void cli_output_init(void) {
  static const pm_progress_drawer d = {auto_mode, draw, clear, NULL};
  pm_report_set_sink(sink, NULL);
  pm_progress_set_drawer(&d);
}
