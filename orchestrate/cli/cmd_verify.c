/* cmd_verify.c - the `pomove verify` command line: parses options, runs
 * the trees audit or the manifest audit (audit.h), prints the human
 * summary or the JSON, and turns the outcome into the exit code. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "audit.h"
#include "hashpool.h"
#include "report.h"
#include "sys.h"
#include "util.h"

static void usage(FILE *out) {
  fprintf(out,
"usage: pomove verify [options] SRC DST\n"
"       pomove verify [options] --manifest FILE DIR\n"
"\n"
"Audits a copy: compares every entry of DST with SRC (or every line of a\n"
"manifest with the files under DIR), reading and hashing (XXH3-128) in\n"
"parallel. Nothing is modified; files are opened with O_NOATIME.\n"
"\n"
"Every entry lands in exactly one category: identical; missing in DST;\n"
"extra in DST; content differs (also: other symlink target, other device\n"
"numbers); size differs; type differs (file, directory, symlink, special);\n"
"metadata differs (what --compare selects, and hard-link groups);\n"
"unreadable (could not be opened, read or listed: never identical).\n"
"Below a directory present on one side only, every entry counts as missing\n"
"or extra, so the counts add up to the number of distinct paths.\n"
"Manifest mode: identical, missing, changed (also: a FIFO, device or\n"
"directory where a file was; never opened), unreadable, unsafe path, and\n"
"with --extra the regular files under DIR that no line lists. Manifests\n"
"may be written by pomove or xxh128sum (GNU or --tag style, escaped names,\n"
"CRLF ends); paths are relative to DIR, as for `xxh128sum -c` run in DIR.\n"
"A line whose path is absolute, has a '.', '..' or empty component, or\n"
"goes through a symlink is an unsafe path: never opened, no hash shown.\n"
"A manifest of another checksum (md5sum, sha256sum, xxhsum -H1 ...) is a\n"
"format error naming the line.\n"
"\n"
"Options:\n"
"  --manifest FILE        check DIR against FILE instead of SRC against DST\n"
"  --extra                with --manifest: also report files not listed\n"
"  --allow-empty          with --manifest: a manifest that lists no file\n"
"                         is not an error (exit 0 instead of 2)\n"
"  --compare LIST         metadata to compare: mode,owner,mtime,links, 'all'\n"
"                         (default) or 'none'\n"
"  --time-tolerance SECS  allow mtimes to differ by SECS (e.g. 2 for trees\n"
"                         that went through FAT); fractions allowed\n"
"  --report FILE          write every difference to FILE, one per line:\n"
"                         category<TAB>path<TAB>detail\n"
"  --json                 print the result as one JSON object on stdout\n"
"  --show N               differences listed in the summary (default 10)\n"
"  --engine NAME          I/O engine: io_uring or pool (default: the first\n"
"                         that works here)\n"
"  --threads N            hashing threads (default %u)\n"
"  -q, --quiet            no progress line, no warnings, and no summary\n"
"                         when all is identical (--json still prints)\n"
"  -h, --help             this text\n"
"\n"
"Exit codes:\n"
"  0  all identical\n"
"  1  differences found (including unreadable entries, unsafe paths,\n"
"     special files and malformed manifest lines)\n"
"  2  usage error: bad option or unusable argument; a manifest of another\n"
"     checksum; an empty manifest (unless --allow-empty)\n"
"  3  could not complete (a root unreadable, manifest unreadable, I/O\n"
"     engine failure)\n"
"  130  interrupted (Ctrl-C or SIGTERM stops it within a second or two;\n"
"       nothing was changed: run it again)\n",
          vf_pool_default_threads());
}

int vf_cmd_verify(int argc, char **argv) {
  enum { O_MANIFEST = 256, O_EXTRA, O_ALLOW_EMPTY, O_COMPARE, O_TOL, O_REPORT, O_JSON,
         O_SHOW, O_ENGINE, O_THREADS };
  static const struct option longopts[] = {
      {"manifest", required_argument, NULL, O_MANIFEST},
      {"extra", no_argument, NULL, O_EXTRA},
      {"allow-empty", no_argument, NULL, O_ALLOW_EMPTY},
      {"compare", required_argument, NULL, O_COMPARE},
      {"time-tolerance", required_argument, NULL, O_TOL},
      {"report", required_argument, NULL, O_REPORT},
      {"json", no_argument, NULL, O_JSON},
      {"show", required_argument, NULL, O_SHOW},
      {"engine", required_argument, NULL, O_ENGINE},
      {"threads", required_argument, NULL, O_THREADS},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *manifest = NULL, *report_path = NULL, *engine_name = NULL;
  bool json = false, quiet = false, allow_empty = false;
  unsigned show = 10;
  vf_audit_opts o = {0};
  o.compare = VF_CMP_DEFAULT;
  optind = 1;
  opterr = 1;
  int ch;
  while ((ch = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
    uint64_t v;
    int rc;
    switch (ch) {
    case O_MANIFEST: manifest = optarg; break;
    case O_EXTRA: o.extra = true; break;
    case O_ALLOW_EMPTY: allow_empty = true; break;
    case O_COMPARE:
      if (vf_compare_parse(optarg, &o.compare)) {
        fprintf(stderr, "pomove verify: --compare: unknown item in '%s' "
                        "(use mode,owner,mtime,links, all or none)\n", optarg);
        return PM_EXIT_USAGE;
      }
      break;
    case O_TOL: {
      double t;
      if ((rc = pm_cli_seconds("verify", "--time-tolerance", optarg, 1e9, &t)))
        return rc;
      o.time_tolerance_ns = (int64_t)(t * 1e9 + 0.5);
      break;
    }
    case O_REPORT: report_path = optarg; break;
    case O_JSON: json = true; break;
    case O_SHOW:
      if ((rc = pm_cli_size("verify", "--show", optarg, 0, 1000000,
                            PM_SIZE_PLAIN, &v)))
        return rc;
      show = (unsigned)v;
      break;
    case O_ENGINE: engine_name = optarg; break;
    case O_THREADS:
      if ((rc = pm_cli_size("verify", "--threads", optarg, 1, 1024,
                            PM_SIZE_PLAIN, &v)))
        return rc;
      o.threads = (unsigned)v;
      break;
    case 'q': quiet = true; break;
    case 'h': usage(stdout); return PM_EXIT_OK;
    default: usage(stderr); return PM_EXIT_USAGE;
    }
  }
  int npos = argc - optind, want = manifest ? 1 : 2;
  if (npos != want) {
    fprintf(stderr, "pomove verify: expected %s, got %d argument%s\n\n",
            manifest ? "one DIR after --manifest FILE" : "SRC and DST", npos,
            npos == 1 ? "" : "s");
    usage(stderr);
    return PM_EXIT_USAGE;
  }
  if (allow_empty && !manifest) {
    fprintf(stderr, "pomove verify: --allow-empty needs --manifest\n");
    return PM_EXIT_USAGE;
  }
  if (o.extra && !manifest) {
    fprintf(stderr, "pomove verify: --extra needs --manifest (a trees audit "
                    "always reports extra entries)\n");
    return PM_EXIT_USAGE;
  }
  pm_set_quiet(quiet);
  o.progress_mode = quiet ? PM_PROGRESS_OFF : PM_PROGRESS_AUTO;
  o.engine = vf_engine_pick(engine_name);
  if (!o.engine) return engine_name ? PM_EXIT_USAGE : PM_EXIT_FAILED;

  vf_report *rep = vf_report_new(manifest ? VF_MODE_MANIFEST : VF_MODE_TREES,
                                 json ? 1000 : show);
  if (report_path) {
    int rc = vf_report_open_file(rep, report_path);
    if (rc) {
      pm_report_error("open report", report_path, rc);
      vf_report_free(rep);
      return PM_EXIT_USAGE;
    }
  }
  pm_interrupt_catch();
  o.interrupt = pm_interrupt_flag();
  uint64_t t0 = pm_now_ns();
  const char *a = manifest ? manifest : argv[optind];
  const char *b = manifest ? argv[optind] : argv[optind + 1];
  int rc = manifest ? vf_audit_manifest(&o, manifest, b, rep)
                    : vf_audit_trees(&o, a, b, rep);
  double secs = (double)(pm_now_ns() - t0) / 1e9;
  if (!rc && pm_interrupted()) rc = PM_ECANCELED;
  int frc = vf_report_close_file(rep);
  if (frc) {
    pm_oserr_set(0); /* stdio does not keep the code of its failure */
    pm_report_error("write report", report_path, frc);
    if (!rc) rc = frc;
  }
  vf_report_info in = {.a = a,
                       .b = b,
                       .engine = o.engine_used[0] ? o.engine_used
                                                  : o.engine->name,
                       .threads = o.threads_used,
                       .seconds = secs,
                       .complete = rc == 0,
                       .report_file = report_path,
                       .show = show,
                       .malformed = o.malformed,
                       .format_error = rc == PM_EFORMAT,
                       .interrupted = rc == PM_ECANCELED};
  /* -q prints the summary only when it says something is wrong. */
  bool wrong = rc || vf_report_differences(rep) || o.malformed;
  if (json)
    vf_report_print_json(rep, &in, stdout);
  else if (!quiet || wrong)
    vf_report_print_human(rep, &in, stdout);
  fflush(stdout);
  /* Ctrl-C: nothing was changed, and a rerun audits from the start. */
  if (rc == PM_ECANCELED)
    fprintf(stderr, "pomove verify: interrupted; nothing was changed, run "
                    "it again\n");
  bool empty = manifest && !rc && o.listed == 0 && o.malformed == 0;
  if (empty && !allow_empty)
    fprintf(stderr, "pomove verify: the manifest '%s' lists no files: 0 "
                    "entries checked (--allow-empty accepts that)\n",
            manifest);
  /* Another tool's manifest, and one that lists nothing (unless
   * --allow-empty, and when nothing else differs), are unusable
   * arguments. */
  bool differ = vf_report_differences(rep) || o.malformed;
  int code = cli_exit_code(
      rc, (cli_outcome){.refused = rc == PM_EFORMAT ||
                                   (empty && !allow_empty && !differ),
                        .interrupted = rc == PM_ECANCELED,
                        .partial = differ});
  vf_report_free(rep);
  return code;
}
