/* cmd_hash.c - the `pomove hash DIR` command line: parses options, runs
 * the tree's hashing (verify/hashtree.h: the walk, the pool, the
 * manifest), prints the human summary or the JSON, and turns the outcome
 * into the exit code. */
#include <getopt.h>

#include "cli.h"
#include "commands.h"
#include "audit.h"
#include "hashpool.h"
#include "hashtree.h"
#include "sys.h"
#include "util.h"

static void usage(FILE *out) {
  fprintf(out,
"usage: pomove hash [options] DIR\n"
"\n"
"Writes an XXH3-128 manifest of every regular file under DIR, in the\n"
"GNU format of xxh128sum (\"<hash>  <path>\"), hashing files in parallel.\n"
"Paths are relative to DIR, so `cd DIR && xxh128sum -c MANIFEST` checks it\n"
"(so does `pomove verify --manifest MANIFEST DIR`). Lines are sorted by\n"
"the bytes of the path (as `LC_ALL=C sort` would), so manifests of two\n"
"trees can be compared with diff. A name holding a newline or ending in a\n"
"carriage return is escaped as xxhsum 0.8.2 and later do (the line starts\n"
"with '\\'); older xxh128sum versions cannot check that one line. Symlinks,\n"
"directories and special files have no line (counted as skipped); a file\n"
"that turns into a FIFO or device before it is opened is reported as an\n"
"error, never waited on.\n"
"\n"
"Options:\n"
"  -o, --output FILE  write the manifest to FILE (default: stdout); FILE\n"
"                     itself is left out when it lies inside DIR. It is\n"
"                     written as FILE.tmp-<pid>-<n> and renamed; such\n"
"                     temporaries of runs that were killed (their pid has\n"
"                     ended) are removed first, each removal said\n"
"  --engine NAME      I/O engine: io_uring or pool (default: the first that\n"
"                     works here)\n"
"  --threads N        hashing threads (default %u)\n"
"  --json             print a JSON summary (to stdout with -o, else stderr)\n"
"  -q, --quiet        no progress line, no summary, no warnings (the\n"
"                     manifest, --json and errors are still written)\n"
"  -h, --help         this text\n"
"\n"
"Exit codes:\n"
"  0  every file hashed\n"
"  1  done, but some files or directories could not be read (reported)\n"
"  2  usage error: bad option or unusable argument\n"
"  3  could not complete (DIR unreadable, manifest not writable, I/O\n"
"     engine failure)\n"
"  130  interrupted (Ctrl-C or SIGTERM stops it within a second or two;\n"
"       a partial -o FILE is removed: run it again)\n",
          vf_pool_default_threads());
}

int vf_cmd_hash(int argc, char **argv) {
  enum { O_ENGINE = 256, O_THREADS, O_JSON };
  static const struct option longopts[] = {
      {"output", required_argument, NULL, 'o'},
      {"engine", required_argument, NULL, O_ENGINE},
      {"threads", required_argument, NULL, O_THREADS},
      {"json", no_argument, NULL, O_JSON},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *out_path = NULL, *engine_name = NULL;
  bool json = false, quiet = false;
  unsigned threads = 0;
  optind = 1;
  int ch;
  while ((ch = getopt_long(argc, argv, "hqo:", longopts, NULL)) != -1) {
    uint64_t v;
    int orc;
    switch (ch) {
    case 'o': out_path = optarg; break;
    case O_ENGINE: engine_name = optarg; break;
    case O_THREADS:
      if ((orc = pm_cli_size("hash", "--threads", optarg, 1, 1024,
                             PM_SIZE_PLAIN, &v)))
        return orc;
      threads = (unsigned)v;
      break;
    case O_JSON: json = true; break;
    case 'q': quiet = true; break;
    case 'h': usage(stdout); return PM_EXIT_OK;
    default: usage(stderr); return PM_EXIT_USAGE;
    }
  }
  if (argc - optind != 1) {
    fprintf(stderr, "pomove hash: expected one DIR\n\n");
    usage(stderr);
    return PM_EXIT_USAGE;
  }
  const char *dir = argv[optind];
  pm_set_quiet(quiet);
  const pm_io_engine_ops *eng = vf_engine_pick(engine_name);
  if (!eng) return engine_name ? PM_EXIT_USAGE : PM_EXIT_FAILED;

  /* Ctrl-C or SIGTERM stops the walk and the reads within moments: exit
   * 130. A second one ends the process at once. */
  pm_interrupt_catch();
  vf_hash_opts o = {.engine = eng,
                    .threads = threads,
                    .output = out_path,
                    .out = stdout,
                    .progress_mode = quiet ? PM_PROGRESS_OFF
                                           : PM_PROGRESS_AUTO,
                    .interrupt = pm_interrupt_flag()};
  vf_hash_result r;
  int rc = vf_hash_tree(&o, dir, &r);
  if (!r.walked)
    return cli_exit_code(rc < 0 ? rc : PM_EINVAL,
                         (cli_outcome){.refused = r.bad_argument});
  bool interrupted = rc == PM_ECANCELED;
  if (interrupted && out_path) {
    fprintf(stderr, "pomove hash: interrupted; the incomplete manifest was "
                    "not written to '%s'\n", out_path);
  } else if (interrupted) {
    fprintf(stderr, "pomove hash: interrupted; the manifest on stdout is "
                    "incomplete\n");
  }
  bool complete = rc == 0;
  FILE *sum = out_path ? stdout : stderr;
  if (json) {
    fputs("{\"dir\":", sum);
    pm_json_string(sum, dir);
    fputs(",\"manifest\":", sum);
    pm_json_string(sum, out_path ? out_path : "-");
    fprintf(sum,
            ",\"complete\":%s,\"files\":%llu,\"bytes\":%llu,"
            "\"directories\":%llu,\"skipped\":%llu,\"errors\":%llu,"
            "\"seconds\":%.3f,\"engine\":\"%s\",\"threads\":%u}\n",
            complete ? "true" : "false", (unsigned long long)r.files,
            (unsigned long long)r.bytes, (unsigned long long)r.directories,
            (unsigned long long)r.skipped, (unsigned long long)r.errors,
            r.seconds, r.engine_used, r.threads_used);
  } else if (!quiet) {
    char b1[32], b2[32];
    fprintf(stderr,
            "pomove hash: %llu files, %s read and hashed in %s (%s engine, "
            "%u threads); %llu skipped (not regular files), %llu errors\n",
            (unsigned long long)r.files, pm_fmt_bytes(r.bytes, b1, sizeof b1),
            pm_fmt_duration(r.seconds, b2, sizeof b2), r.engine_used,
            r.threads_used, (unsigned long long)r.skipped,
            (unsigned long long)r.errors);
  }
  return cli_exit_code(rc, (cli_outcome){.interrupted = interrupted,
                                         .partial = r.errors > 0});
}
