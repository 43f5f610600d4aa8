/* cmd_gen.c - `pomove gen-postoffice`: writes a deterministic connector
 * postoffice (the default), or one of the benchmark's other workloads
 * (--tiny, --large), and prints a summary or --json. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "gen_postoffice.h"
#include "gen_workload.h"
#include "sys.h"
#include "util.h"

static void gen_usage(FILE *out) {
  fprintf(out,
          "usage: pomove gen-postoffice DIR [options]\n"
          "\n"
          "Writes a realistic MS Mail connector postoffice (the Msmcon folder:\n"
          "DIR/Bin and DIR/Maildata with hashed MAI/ATT directories, 8.3 hex\n"
          "names, format record sizes, read-only files, times spread over\n"
          "1997-2004). The same seed and sizes give a byte-identical tree.\n"
          "DIR must not exist or be empty; missing parents are created.\n"
          "\n"
          "Options:\n"
          "  --files N          about N files in all (default 10000, at least\n"
          "                     the ~75 fixed files)\n"
          "  --size BYTES       total size (default 30 KiB per file)\n"
          "  --avg-size BYTES   average file size instead of --size\n"
          "  --seed S           seed (default 1)\n"
          "  --no-bin           leave out DIR/Bin\n"
          "  --no-macgate       leave out Maildata/Macgate (AppleTalk side)\n"
          "  --tiny N           instead: N files of 1..4096 bytes, 1000 a\n"
          "                     directory (benchmark workload)\n"
          "  --large N          instead: N files of --large-size bytes\n"
          "  --large-size BYTES size of each --large file (default 1G)\n"
          "  -q, --quiet        no progress or summary (errors are still shown)\n"
          "  --json             print a JSON summary on stdout\n"
          "  --help             this text\n"
          "\n"
          "BYTES and N are whole numbers, optionally with K, M, G or T (also\n"
          "written KB or KiB, any case): every unit is a power of 1024, so\n"
          "4K = 4KB = 4KiB = 4096. Out of range is an error, never rounded.\n"
          "Ctrl-C or SIGTERM stops it within a second or two (exit 130); DIR\n"
          "then holds part of the tree: remove it and run the command again\n"
          "(generating is cheaper than checking what is there).\n"
          "\n"
          "Exit codes:\n"
          "  0  tree written\n"
          "  2  usage error, or DIR exists and is not an empty directory\n"
          "  3  could not write the tree (the error names path and cause)\n"
          "  130  interrupted\n");
}

int bench_cmd_gen(int argc, char **argv) {
  po_gen_options o;
  po_gen_options_init(&o);
  const char *dir = NULL;
  uint64_t size = 0, avg = 0, tiny = 0, large = 0, large_size = 1ull << 30;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t v;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      gen_usage(stdout);
      return PM_EXIT_OK;
    } else if (!strcmp(a, "--no-bin")) {
      o.with_bin = false;
    } else if (!strcmp(a, "--no-macgate")) {
      o.with_macgate = false;
    } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
      o.quiet = true;
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (!strcmp(a, "--files") || !strcmp(a, "--size") ||
               !strcmp(a, "--avg-size") || !strcmp(a, "--seed") ||
               !strcmp(a, "--tiny") || !strcmp(a, "--large") ||
               !strcmp(a, "--large-size")) {
      if (!val) {
        fprintf(stderr, "pomove: gen-postoffice: %s needs a value\n", a);
        return PM_EXIT_USAGE;
      }
      /* Counts take the suffixes too ("--files 100K"); sizes are bytes. */
      bool seed = !strcmp(a, "--seed");
      bool count = !strcmp(a, "--files") || !strcmp(a, "--tiny") ||
                   !strcmp(a, "--large");
      if (pm_cli_size("gen-postoffice", a, val, seed ? 0 : 1,
                      seed ? UINT32_MAX : count ? 1000000000 : UINT64_MAX,
                      seed ? PM_SIZE_PLAIN : count ? PM_SIZE_COUNT : 0, &v))
        return PM_EXIT_USAGE;
      i++;
      if (!strcmp(a, "--files")) o.files = v;
      else if (!strcmp(a, "--size")) size = v;
      else if (!strcmp(a, "--avg-size")) avg = v;
      else if (!strcmp(a, "--tiny")) tiny = v;
      else if (!strcmp(a, "--large")) large = v;
      else if (!strcmp(a, "--large-size")) large_size = v;
      else o.seed = (uint32_t)v;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "pomove: gen-postoffice: unknown option '%s'\n\n", a);
      gen_usage(stderr);
      return PM_EXIT_USAGE;
    } else if (!dir) {
      dir = a;
    } else {
      fprintf(stderr, "pomove: gen-postoffice: more than one DIR given\n");
      return PM_EXIT_USAGE;
    }
  }
  if (!dir) {
    gen_usage(stderr);
    return PM_EXIT_USAGE;
  }
  if (size && avg) {
    fprintf(stderr, "pomove: gen-postoffice: --size and --avg-size exclude "
                    "each other\n");
    return PM_EXIT_USAGE;
  }
  if (tiny && large) {
    fprintf(stderr, "pomove: gen-postoffice: --tiny and --large exclude "
                    "each other\n");
    return PM_EXIT_USAGE;
  }
  if (avg && avg > UINT64_MAX / o.files) {
    fprintf(stderr, "pomove gen-postoffice: --avg-size times --files does "
                    "not fit in 64 bits\n");
    return PM_EXIT_USAGE;
  }
  o.root = dir;
  o.bytes = avg ? avg * o.files : size;
  pm_set_quiet(o.quiet);

  po_gen_stats st = {0};
  pm_interrupt_catch();
  uint64_t t0 = pm_now_ns();
  const char *workload = "postoffice";
  int rc;
  if (tiny) {
    workload = "tiny";
    rc = bench_gen_tiny(dir, tiny, o.seed, o.quiet, &st);
  } else if (large) {
    workload = "large";
    rc = bench_gen_large(dir, large, large_size, o.seed, o.quiet, &st);
  } else {
    rc = po_generate(&o, &st);
  }
  double secs = (double)(pm_now_ns() - t0) / 1e9;
  if (json) {
    printf("{\"command\":\"gen-postoffice\",\"workload\":\"%s\",\"root\":",
           workload);
    pm_json_string(stdout, dir);
    printf(",\"ok\":%s,\"files\":%" PRIu64 ",\"dirs\":%" PRIu64
           ",\"bytes\":%" PRIu64 ",\"seed\":%u,\"seconds\":%.3f}\n",
           rc ? "false" : "true", st.files, st.dirs, st.bytes, o.seed, secs);
  } else if (!o.quiet && !rc) {
    char b[32], d[32];
    printf("generated %" PRIu64 " files, %" PRIu64 " directories, %s in %s "
           "(%s workload, seed %u) at %s\n",
           st.files, st.dirs, pm_fmt_bytes(st.bytes, b, sizeof b),
           pm_fmt_duration(secs, d, sizeof d), workload, o.seed, dir);
  }
  if (rc == PM_ECANCELED) {
    char *shown = pm_display_path(dir);
    fprintf(stderr, "pomove gen-postoffice: interrupted; '%s' holds part of "
                    "the tree: remove it (rm -r) and run the same command "
                    "again\n", shown);
    free(shown);
  }
  /* A DIR that exists (or is not a folder) is an unusable argument. */
  return cli_exit_code(
      rc, (cli_outcome){.refused = rc == PM_EEXIST || rc == PM_ENOTDIR,
                        .interrupted = rc == PM_ECANCELED});
}
