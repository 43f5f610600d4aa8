/* cmd_copy.c - `pomove copy SRC DST`: options, signals, progress and the
 * summary (human or --json) around ce_copy(). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "copyengine.h"
#include "sys.h"
#include "util.h"

static void help(FILE *out) {
  fprintf(out,
"usage: pomove copy [options] SRC DST\n"
"\n"
"Copies the directory tree SRC to DST in parallel, computing the XXH3-128\n"
"of every file from the bytes read for the copy, and writes a manifest that\n"
"`xxh128sum -c` accepts when run in DST. Regular files, directories,\n"
"symlinks (as links), hard links, sparse files, permissions, owner and\n"
"group (as root), nanosecond times and extended attributes are copied. A\n"
"file with an ordinary mode (owner read-write, nobody else may write, no\n"
"set-id or sticky bit, nothing the umask strips) is created with it; any\n"
"other file is created private (0600) and gets its mode once its body is\n"
"complete; owner, attributes and times are set after the body. An\n"
"interrupted copy is continued by running the same command again (see\n"
"--restart).\n"
"\n"
"Updating a copy (--update, or the same command run again once a copy\n"
"finished): the copy leaves DST.pomove-state beside its manifest, which\n"
"records for every file the source's size, mtime, ctime, device and inode\n"
"when it was read, the copy's size, mtime, device and inode, and the hash.\n"
"A file whose source and copy both still match is skipped without being\n"
"read, unless its mtime or ctime lay within the file system's timestamp\n"
"granularity (FAT 2 s, others 1 s) of the moment it was read: such a\n"
"\"racy\" file is read and hashed again. A file whose size changed, or\n"
"whose copy was changed by hand, is copied again; one whose identity\n"
"changed but not its size is read and hashed, and copied only when its\n"
"data differ, else only its metadata are applied. The new manifest lists\n"
"the whole tree.\n"
"\n"
"One copy into a DST at a time: DST.pomove-lock beside DST is locked (an\n"
"OS lock, released when the process ends, even by kill -9) and names its\n"
"holder's pid, host and start time; a second copy is refused (exit 2)\n"
"naming them. The journal, manifest and lock file are never opened\n"
"through a symlink: a symlink, hard link, directory or special file found\n"
"at their names is refused (exit 2) naming it.\n"
"\n"
"No symlink is followed below SRC or DST, not even one that replaces a\n"
"directory while the copy runs: such an entry, and a file that became a\n"
"FIFO, socket or device after it was listed, is reported (exit 1).\n""\n"
"Options:\n"
"  --engine NAME        I/O engine: io_uring or pool (default: io_uring when\n"
"                       the kernel allows it, else pool)\n"
"  --threads N          worker threads, 1 to 64 (default: number of CPUs)\n"
"  --chunk-size B       chunk of large files, 4 KiB to 64 MiB (default 1M,\n"
"                       and 2M for a file copied uncached)\n"
"  --manifest FILE      where to write the manifest (default DST.xxh128,\n"
"                       beside DST, so that it is not part of the tree)\n"
"  --no-manifest        write no manifest\n"
"  --merge              copy into a non-empty DST (files are replaced)\n"
"  --specials           create FIFOs, sockets and devices (default: report\n"
"                       and skip them)\n"
"  --verify             re-read every copy from the medium once it is\n"
"                       durable (O_DIRECT, or flush and drop the cache) and\n"
"                       compare it with the source's hash\n"
"  --verify-retries N   copies again after a mismatch, 0 to 10 (default 1)\n"
"  --no-journal         no resume journal (an interrupted copy restarts)\n"
"  --journal FILE       journal location (default DST.pomove-journal; it is\n"
"                       removed when the copy completes without errors)\n"
"  --restart            start a new journal (replacing the old one) and\n"
"                       copy everything\n"
"  --update             bring an existing copy up to date (see above);\n"
"                       refused (exit 2) when DST has no state of a copy of\n"
"                       SRC, or a damaged one, unless --checksum\n"
"  --delete             with --update: remove entries of DST that SRC no\n"
"                       longer has (files, links, directories)\n"
"  --checksum           with --update: read and hash every source file even\n"
"                       when its metadata match, copy it when its hash\n"
"                       differs; without a state, adopt an existing DST by\n"
"                       hashing the files of both sides\n"
"  --live               SRC is in use: a file that keeps changing while it\n"
"                       is read (after three tries), or goes away, is left\n"
"                       for the next pass and counted, not an error\n"
"  --busy-wait S        a file another program holds (Windows: a sharing or\n"
"                       lock violation) is put aside and tried again, 100 ms\n"
"                       then twice as long each time up to 5 s, for S\n"
"                       seconds, 0 to 3600, while other files are copied;\n"
"                       then it is reported (default 30; 0: at once)\n"
"  --progress MODE      auto, tty, plain or none (default auto: redrawn on a\n"
"                       terminal, a line every 10 s otherwise)\n"
"  -q, --quiet          no progress, no warnings (errors are still shown)\n"
"Tuning (defaults suit most trees):\n"
"  --files-in-flight N  files open at once per thread, 1 to 4096 (default 64)\n"
"  --inflight-bytes B   buffer bytes in flight per thread, 64 KiB to 1 GiB\n"
"                       (default 16 MiB, and 32 MiB while the thread copies\n"
"                       a file uncached: see --uncached-min)\n"
"  --batch-files N      files recorded per journal flush, 1 to 1000000\n"
"                       (default 2048, 512 with --verify)\n"
"  --batch-bytes B      bytes recorded per journal flush (default 256 MiB)\n"
"  --checkpoint-bytes B journal checkpoint of large files, at least 64 KiB\n"
"                       (default 64 MiB)\n"
"                       Smaller batches bound what a crash makes a rerun\n"
"                       write again, at some cost in speed: up to three\n"
"                       batches per thread (nine with --verify).\n"
"  --sync MODE          how finished files are made durable before they are\n"
"                       recorded: fs, one flush of DST's file system per\n"
"                       batch (default; it also waits for other programs'\n"
"                       writes to that file system), or file, an fdatasync\n"
"                       per file (better on a file system busy with others)\n"
"  --uncached-min B     files of at least B bytes are read and written\n"
"                       uncached (O_DIRECT), past the page cache, where the\n"
"                       file systems allow it (default 16 MiB; off: never)\n"
"  --json               print the summary as JSON on stdout (also with -q)\n"
"  -h, --help           this help\n"
"\n"
"Sizes (B) are bytes, or a number with K, M, G or T (also written KB or\n"
"KiB, any case): every unit is a power of 1024. A value out of range is\n"
"refused (exit 2), never rounded.\n"
"Ctrl-C or SIGTERM stops the copy within a second or two, exit 130; what\n"
"is recorded in the journal is kept and the same command resumes.\n"
"\n"
"Exit codes: 0 copied completely; 1 copied, but some entries failed\n"
"(listed on stderr); 2 usage error, unusable SRC/DST, a journal or\n"
"other file beside DST refused (the message says what to do), or another\n"
"copy into DST running; 3 could not complete (e.g. destination full:\n"
"rerun to resume); 130 interrupted (rerun to resume).\n");
}

typedef struct prog {
  pm_progress p;
} prog;

static void progress_cb(const ce_progress_info *info, void *arg) {
  prog *pr = arg;
  if (info->walk_done) pr->p.files_total = info->files_seen;
  pm_progress_update(&pr->p, info->files_done, info->bytes_done, false);
}

int ce_cmd_copy(int argc, char **argv) {
  enum {
    O_ENGINE = 256, O_THREADS, O_CHUNK, O_MANIFEST, O_NOMANIFEST, O_MERGE,
    O_SPECIALS, O_VERIFY, O_VRETRIES, O_NOJOURNAL, O_JOURNAL, O_RESTART,
    O_PROGRESS, O_JSON, O_FIF, O_IFB, O_BF, O_BB, O_CKB, O_SYNC, O_DIRECT,
    O_UPDATE, O_DELETE, O_CHECKSUM, O_LIVE, O_BUSYWAIT
  };
  static const struct option longopts[] = {
      {"engine", required_argument, NULL, O_ENGINE},
      {"threads", required_argument, NULL, O_THREADS},
      {"chunk-size", required_argument, NULL, O_CHUNK},
      {"manifest", required_argument, NULL, O_MANIFEST},
      {"no-manifest", no_argument, NULL, O_NOMANIFEST},
      {"merge", no_argument, NULL, O_MERGE},
      {"specials", no_argument, NULL, O_SPECIALS},
      {"verify", no_argument, NULL, O_VERIFY},
      {"verify-retries", required_argument, NULL, O_VRETRIES},
      {"no-journal", no_argument, NULL, O_NOJOURNAL},
      {"journal", required_argument, NULL, O_JOURNAL},
      {"restart", no_argument, NULL, O_RESTART},
      {"update", no_argument, NULL, O_UPDATE},
      {"delete", no_argument, NULL, O_DELETE},
      {"checksum", no_argument, NULL, O_CHECKSUM},
      {"live", no_argument, NULL, O_LIVE},
      {"busy-wait", required_argument, NULL, O_BUSYWAIT},
      {"progress", required_argument, NULL, O_PROGRESS},
      {"quiet", no_argument, NULL, 'q'},
      {"json", no_argument, NULL, O_JSON},
      {"files-in-flight", required_argument, NULL, O_FIF},
      {"inflight-bytes", required_argument, NULL, O_IFB},
      {"batch-files", required_argument, NULL, O_BF},
      {"sync", required_argument, NULL, O_SYNC},
      {"batch-bytes", required_argument, NULL, O_BB},
      {"checkpoint-bytes", required_argument, NULL, O_CKB},
      {"uncached-min", required_argument, NULL, O_DIRECT},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  ce_options o;
  ce_options_init(&o);
  bool json = false, quiet = false;
  int pmode = PM_PROGRESS_AUTO;
  uint64_t v;
  int rc;
  optind = 1;
  int ch;
  while ((ch = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
    switch (ch) {
    case O_ENGINE:
      o.engine = pm_io_engine_find(optarg);
      if (!o.engine) {
        /* The engines of this build: io_uring only where liburing was. */
        fprintf(stderr, "pomove copy: unknown engine '%s' (choose from:",
                optarg);
        for (const pm_io_engine_ops *const *x = pm_io_engines(); *x; x++)
          fprintf(stderr, " %s", (*x)->name);
        fprintf(stderr, ")\n");
        return PM_EXIT_USAGE;
      }
      break;
    case O_THREADS:
      if ((rc = pm_cli_size("copy", "--threads", optarg, 1, 64, PM_SIZE_PLAIN,
                            &v)))
        return rc;
      o.threads = (unsigned)v;
      break;
    case O_CHUNK:
      if ((rc = pm_cli_size("copy", "--chunk-size", optarg, 4096, 64u << 20,
                            0, &v)))
        return rc;
      o.chunk_size = (unsigned)v;
      break;
    case O_MANIFEST: o.manifest_path = optarg; break;
    case O_NOMANIFEST: o.no_manifest = true; break;
    case O_MERGE: o.merge = true; break;
    case O_SPECIALS: o.specials = true; break;
    case O_VERIFY: o.verify = true; break;
    case O_VRETRIES:
      if ((rc = pm_cli_size("copy", "--verify-retries", optarg, 0, 10,
                            PM_SIZE_PLAIN, &v)))
        return rc;
      o.verify_retries = (unsigned)v;
      break;
    case O_NOJOURNAL: o.journal = false; break;
    case O_JOURNAL: o.journal_path = optarg; break;
    case O_RESTART: o.restart = true; break;
    case O_UPDATE: o.update = true; break;
    case O_DELETE: o.delete_gone = true; break;
    case O_CHECKSUM: o.checksum = true; break;
    case O_LIVE: o.live = true; break;
    case O_BUSYWAIT: {
      double secs;
      if ((rc = pm_cli_seconds("copy", "--busy-wait", optarg, 3600, &secs)))
        return rc;
      o.busy_wait_ns = (int64_t)(secs * 1e9 + 0.5);
      break;
    }
    case O_SYNC:
      if (!strcmp(optarg, "fs")) o.sync_mode = CE_SYNC_FS;
      else if (!strcmp(optarg, "file")) o.sync_mode = CE_SYNC_FILE;
      else {
        fprintf(stderr, "pomove copy: --sync takes fs or file\n");
        return PM_EXIT_USAGE;
      }
      break;
    case O_DIRECT:
      if ((rc = pm_cli_size("copy", "--uncached-min", optarg, 1, UINT64_MAX,
                            PM_SIZE_OFF, &o.direct_min)))
        return rc;
      break;
    case O_PROGRESS:
      if (!strcmp(optarg, "auto")) pmode = PM_PROGRESS_AUTO;
      else if (!strcmp(optarg, "tty")) pmode = PM_PROGRESS_TTY;
      else if (!strcmp(optarg, "plain")) pmode = PM_PROGRESS_PLAIN;
      else if (!strcmp(optarg, "none")) pmode = PM_PROGRESS_OFF;
      else {
        fprintf(stderr, "pomove copy: --progress takes auto, tty, plain or none\n");
        return PM_EXIT_USAGE;
      }
      break;
    /* Out of range is an error, never silently clamped: a value the
     * user typed is either used as given or refused. */
    case O_FIF:
      if ((rc = pm_cli_size("copy", "--files-in-flight", optarg, 1, 4096,
                            PM_SIZE_PLAIN, &v)))
        return rc;
      o.files_in_flight = (unsigned)v;
      break;
    case O_IFB:
      if ((rc = pm_cli_size("copy", "--inflight-bytes", optarg, 64u << 10,
                            1ull << 30, 0, &o.inflight_bytes)))
        return rc;
      break;
    case O_BF:
      if ((rc = pm_cli_size("copy", "--batch-files", optarg, 1, 1000000,
                            PM_SIZE_PLAIN, &v)))
        return rc;
      o.batch_files = (unsigned)v;
      break;
    case O_BB:
      if ((rc = pm_cli_size("copy", "--batch-bytes", optarg, 1, UINT64_MAX,
                            0, &o.batch_bytes)))
        return rc;
      break;
    case O_CKB:
      if ((rc = pm_cli_size("copy", "--checkpoint-bytes", optarg, 64u << 10,
                            UINT64_MAX, 0, &o.checkpoint_bytes)))
        return rc;
      break;
    case 'q': quiet = true; break;
    case O_JSON: json = true; break;
    case 'h': help(stdout); return PM_EXIT_OK;
    default: help(stderr); return PM_EXIT_USAGE;
    }
  }
  if (argc - optind != 2) {
    fprintf(stderr, "pomove copy: expected SRC and DST\n\n");
    help(stderr);
    return PM_EXIT_USAGE;
  }
  if ((o.delete_gone || o.checksum) && !o.update) {
    fprintf(stderr, "pomove copy: %s works only with --update\n",
            o.delete_gone ? "--delete" : "--checksum");
    return PM_EXIT_USAGE;
  }
  if (o.update && (o.no_manifest || o.restart)) {
    fprintf(stderr, "pomove copy: --update cannot go with %s\n",
            o.no_manifest ? "--no-manifest" : "--restart");
    return PM_EXIT_USAGE;
  }
  o.src = argv[optind];
  o.dst = argv[optind + 1];
  if (quiet) {
    pm_set_quiet(true);
    pmode = PM_PROGRESS_OFF;
  }
  prog pr;
  pm_progress_init(&pr.p, "copy", pmode);
  o.progress = progress_cb;
  o.progress_arg = &pr;
  o.interrupt = pm_interrupt_flag();
  pm_interrupt_catch();

  ce_result r;
  rc = ce_copy(&o, &r);
  pm_progress_finish(&pr.p);
  int exit_code = cli_exit_code(rc, (cli_outcome){.refused = r.refused,
                                                  .interrupted = r.interrupted,
                                                  .partial = r.errors > 0});
  /* Preflight refusals have been reported; there is nothing to sum up. */
  if (r.refused) return exit_code;

  double rate = r.seconds > 0 ? (double)r.bytes / r.seconds : 0;
  if (json) {
    printf("{\"command\":\"copy\",\"source\":");
    pm_json_string(stdout, o.src);
    printf(",\"destination\":");
    pm_json_string(stdout, o.dst);
    printf(",\"engine\":\"%s\",\"files\":%llu,\"directories\":%llu,"
           "\"symlinks\":%llu,\"hardlinks\":%llu,\"specials\":%llu,"
           "\"bytes\":%llu,\"bytes_hashed\":%llu,\"skipped\":%llu,"
           "\"errors\":%llu,\"resumed_files_skipped\":%llu,"
           "\"resumed_bytes_skipped\":%llu,\"rewritten_bytes\":%llu,"
           "\"verified_files\":%llu,"
           "\"verify_mismatches\":%llu,\"update\":%s,\"copied\":%llu,"
           "\"skipped_unchanged\":%llu,\"metadata_only\":%llu,"
           "\"deleted\":%llu,\"racy_rehashed\":%llu,"
           "\"left_for_next_pass\":%llu,\"busy_waited\":%llu,"
           "\"seconds\":%.3f,"
           "\"bytes_per_second\":%.0f,\"interrupted\":%s,\"manifest\":",
           r.engine, (unsigned long long)r.files, (unsigned long long)r.dirs,
           (unsigned long long)r.symlinks, (unsigned long long)r.hardlinks,
           (unsigned long long)r.specials, (unsigned long long)r.bytes,
           (unsigned long long)r.bytes_hashed, (unsigned long long)r.skipped,
           (unsigned long long)r.errors,
           (unsigned long long)r.resumed_files_skipped,
           (unsigned long long)r.resumed_bytes_skipped,
           (unsigned long long)r.rewritten_bytes,
           (unsigned long long)r.verified_files,
           (unsigned long long)r.verify_mismatches,
           r.update ? "true" : "false", (unsigned long long)r.copied,
           (unsigned long long)r.skipped_unchanged,
           (unsigned long long)r.metadata_only, (unsigned long long)r.deleted,
           (unsigned long long)r.racy_rehashed,
           (unsigned long long)r.left_for_next_pass,
           (unsigned long long)r.busy_waited, r.seconds, rate,
           r.interrupted ? "true" : "false");
    if (r.manifest[0])
      pm_json_string(stdout, r.manifest);
    else
      printf("null");
    printf(",\"state\":");
    if (r.state[0])
      pm_json_string(stdout, r.state);
    else
      printf("null");
    printf(",\"exit_code\":%d}\n", exit_code);
  } else if (!quiet || exit_code) {
    char b1[32], b2[32], d[32];
    fprintf(stderr,
            "pomove copy: %s %llu files (%s), %llu directories, %llu "
            "symlinks, %llu hard links in %s (%s/s, %s engine)\n",
            r.interrupted ? "interrupted after" : "copied",
            (unsigned long long)r.files, pm_fmt_bytes(r.bytes, b1, sizeof b1),
            (unsigned long long)r.dirs, (unsigned long long)r.symlinks,
            (unsigned long long)r.hardlinks,
            pm_fmt_duration(r.seconds, d, sizeof d),
            pm_fmt_bytes((uint64_t)rate, b2, sizeof b2), r.engine);
    if (r.resumed_files_skipped || r.resumed_bytes_skipped)
      fprintf(stderr,
              "pomove copy: resumed: %llu files already done were skipped; "
              "%s of earlier work kept (checked, not copied again); %s "
              "left unrecorded by the interruption written again\n",
              (unsigned long long)r.resumed_files_skipped,
              pm_fmt_bytes(r.resumed_bytes_skipped, b1, sizeof b1),
              pm_fmt_bytes(r.rewritten_bytes, b2, sizeof b2));
    if (r.update)
      fprintf(stderr,
              "pomove copy: update: %llu files copied, %llu unchanged, "
              "%llu with new metadata only, %llu racy files hashed again, "
              "%llu entries deleted\n",
              (unsigned long long)r.copied,
              (unsigned long long)r.skipped_unchanged,
              (unsigned long long)r.metadata_only,
              (unsigned long long)r.racy_rehashed,
              (unsigned long long)r.deleted);
    if (r.left_for_next_pass)
      fprintf(stderr,
              "pomove copy: %llu files changed while read or went away: "
              "left for the next pass (listed above)\n",
              (unsigned long long)r.left_for_next_pass);
    if (r.busy_waited)
      fprintf(stderr,
              "pomove copy: %llu files were held by another program and "
              "waited for (those still held after --busy-wait are listed "
              "above)\n",
              (unsigned long long)r.busy_waited);
    if (o.verify)
      fprintf(stderr, "pomove copy: verified %llu files from the medium, %llu "
              "mismatches\n", (unsigned long long)r.verified_files,
              (unsigned long long)r.verify_mismatches);
    if (r.skipped)
      fprintf(stderr, "pomove copy: %llu special files skipped\n",
              (unsigned long long)r.skipped);
    if (r.errors)
      fprintf(stderr, "pomove copy: %llu entries failed (see above)\n",
              (unsigned long long)r.errors);
    if (r.manifest[0]) fprintf(stderr, "pomove copy: manifest %s\n", r.manifest);
    if (r.interrupted || exit_code == PM_EXIT_FAILED)
      fprintf(stderr, "pomove copy: run the same command again to resume\n");
  }
  return exit_code;
}
