/* cmd_hash.c - `pomove hash DIR`: a manifest of a tree, what `xxh128sum`
 * does for a list of files, but recursive and parallel. The walk is
 * depth-first with each directory's entries sorted so that the paths come
 * out in byte order of the whole relative path (listing.h, VF_SORT_PATH):
 * two manifests of similar trees diff cleanly, and `sort` (LC_ALL=C)
 * leaves the output unchanged. Files are hashed on the pool in any order;
 * a bounded reorder window puts the lines back in walk order.
 * Only regular files are listed (xxh128sum has no line for a directory
 * or a dangling link); symlinks and special files are counted as
 * skipped. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "audit.h"
#include "audit_int.h"
#include "hashpool.h"
#include "listing.h"
#include "manifest.h"
#include "sidefile.h"
#include "sys.h"
#include "thread.h"
#include "util.h"

#define WINDOW 4096u

typedef struct hctx {
  const pm_fs *fs;
  const char *root;
  size_t rootlen;
  /* DIR, opened once: the walk lists and opens beneath it with the fs
   * table's *_at calls, so that a directory swapped for a symlink while
   * it runs cannot make it hash files outside DIR. */
  pm_fd rootfd;
  vf_pool *pool;
  pm_progress prog;
  pm_manifest_writer *w; /* -o FILE */
  FILE *out;             /* stdout otherwise */
  pm_mutex mu;
  pm_cond moved;
  vf_job *ring[WINDOW];
  uint64_t next_emit;
  uint64_t files, bytes, errors, skipped, dirs;
  int write_err;
} hctx;

static void tick(void *arg) {
  hctx *c = arg;
  uint64_t files, bytes;
  vf_pool_counts(c->pool, &files, &bytes);
  pm_progress_update(&c->prog, files, bytes, false);
}

static void emit(hctx *c, vf_job *j) {
  vf_side *s = &j->side[0];
  const char *rel = j->udata;
  if (s->err == PM_ECANCELED) return; /* interrupted: no line, no error */
  if (!s->err && s->stat_ok && s->st.type != PM_T_FILE) {
    /* Listed as a file, found a FIFO, socket or device at open (it was
     * never read, so it could not block): an error of that entry. */
    char *shown = pm_display_path(s->path);
    pm_oserr_set(0);
    pm_report_errorf(PM_ESPECIAL, "open '%s': it is a %s now", shown,
                     pm_ftype_name(s->st.type));
    free(shown);
    c->errors++;
    return;
  }
  if (s->err || !s->hashed) {
    pm_oserr_set(s->err ? s->oserr : 0);
    pm_report_error(s->op ? s->op : "read", s->path, s->err ? s->err : PM_EIO);
    c->errors++;
    return;
  }
  c->files++;
  c->bytes += s->bytes;
  if (c->write_err) return;
  if (c->w) {
    c->write_err = pm_manifest_writer_add(c->w, rel, &s->hash);
  } else {
    char *line = pm_manifest_format_line(rel, &s->hash);
    if (fputs(line, c->out) == EOF) c->write_err = PM_EIO;
    free(line);
  }
}

/* Worker thread: park the job in the window, write out whatever is now
 * in order. */
static void job_done(vf_job *j, void *arg) {
  hctx *c = arg;
  pm_mutex_lock(&c->mu);
  c->ring[j->seq % WINDOW] = j;
  while (c->ring[c->next_emit % WINDOW]) {
    vf_job *k = c->ring[c->next_emit % WINDOW];
    c->ring[c->next_emit % WINDOW] = NULL;
    emit(c, k);
    free(k->udata);
    vf_job_free(k);
    c->next_emit++;
  }
  pm_cond_broadcast(&c->moved);
  pm_mutex_unlock(&c->mu);
}

static void wait_window(hctx *c, uint64_t seq) {
  pm_mutex_lock(&c->mu);
  bool full = seq - c->next_emit >= WINDOW;
  pm_mutex_unlock(&c->mu);
  /* The job the window waits for may still sit in the submit batch. */
  if (full) vf_pool_flush(c->pool);
  pm_mutex_lock(&c->mu);
  while (seq - c->next_emit >= WINDOW) {
    pm_cond_timedwait(&c->moved, &c->mu, 100 * 1000000ull);
    pm_mutex_unlock(&c->mu);
    tick(c);
    pm_mutex_lock(&c->mu);
  }
  pm_mutex_unlock(&c->mu);
}

/* Depth-first walk in path order; `skip_rel` and `skip_tmp` are the
 * manifest and the temporary name it is written under when they lie
 * inside the tree. */
static void walk(hctx *c, const char *skip_rel, const char *skip_tmp) {
  typedef struct fr {
    char *rel;
    vf_listing l;
    size_t i;
  } fr;
  fr *st = NULL;
  size_t depth = 0, cap = 0;
  uint64_t seq = 0;
  for (char *rel = pm_xstrdup(""); rel;) {
    char *p = pm_path_join(c->root, rel);
    vf_listing l;
    const char *op;
    int rc = pm_interrupted() ? PM_ECANCELED
                         : vf_list_dir_at(c->fs, c->rootfd, rel, VF_SORT_PATH,
                                            &l, &op);
    if (rc == PM_ECANCELED) {
      /* Ctrl-C: unwind the walk without listing anything more. */
      free(rel);
      free(p);
      while (depth) {
        depth--;
        vf_listing_free(&st[depth].l);
        free(st[depth].rel);
      }
      break;
    }
    if (rc) {
      vf__report_error(op, p, rc, pm_oserr_last());
      c->errors++;
      free(rel);
    } else {
      if (depth == cap) {
        cap = cap ? cap * 2 : 16;
        st = pm_xrealloc(st, cap * sizeof *st);
      }
      st[depth++] = (fr){rel, l, 0};
      c->dirs++;
    }
    free(p);
    rel = NULL;
    while (depth && !rel) {
      fr *f = &st[depth - 1];
      if (pm_interrupted()) f->i = f->l.n; /* submit nothing more */
      if (f->i == f->l.n) {
        vf_listing_free(&f->l);
        free(f->rel);
        depth--;
        continue;
      }
      vf_dirent *e = &f->l.e[f->i++];
      char *r = pm_path_join(f->rel, e->name);
      if (e->type == PM_T_DIR) {
        rel = r;
      } else if (e->type == PM_T_FILE && !(skip_rel && !strcmp(r, skip_rel)) &&
                 !(skip_tmp && !strcmp(r, skip_tmp))) {
        char *full = pm_path_join(c->root, r);
        vf_job *j = vf_job_new1(full);
        vf_job_beneath(j, 0, c->rootfd, r);
        free(full);
        j->udata = r;
        j->seq = seq;
        j->no_stat = true;
        wait_window(c, seq);
        seq++;
        vf_pool_submit(c->pool, j);
        tick(c);
      } else {
        if (e->type != PM_T_FILE) c->skipped++;
        free(r);
      }
    }
  }
  free(st);
}

/* The manifest's path relative to DIR when -o puts it inside DIR. */
static char *output_rel(const pm_fs *fs, const char *dir,
                        const char *out) {
  char rdir[4096], rparent[4096];
  if (pm_fs_realpath(fs, dir, rdir, sizeof rdir)) return NULL;
  char *parent, *base;
  pm_path_split(out, &parent, &base);
  char *res = NULL;
  if (!pm_fs_realpath(fs, parent, rparent, sizeof rparent)) {
    char *full = pm_path_join(rparent, base);
    if (pm_path_within(rdir, full) && strlen(full) > strlen(rdir)) {
      size_t n = strlen(rdir);
      res = pm_xstrdup(full + n + (rdir[n - 1] == '/' ? 0 : 1));
    }
    free(full);
  }
  free(parent);
  free(base);
  return res;
}

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
"                     itself is left out when it lies inside DIR\n"
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

  hctx *c = pm_xcalloc(1, sizeof *c);
  c->fs = pm_fs_native();
  c->root = dir;
  pm_stat st;
  int rc = pm_fs_stat(c->fs, dir, true, &st);
  int oserr = pm_oserr_last();
  if (!rc && st.type != PM_T_DIR) {
    rc = PM_ENOTDIR;
    oserr = 0; /* pomove's verdict: the stat itself succeeded */
  }
  const char *op = "stat";
  if (!rc) {
    op = "open directory";
    rc = pm_fs_open(c->fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &c->rootfd);
    oserr = pm_oserr_last();
  }
  if (rc) {
    vf__report_error(op, dir, rc, oserr);
    free(c);
    return PM_EXIT_USAGE;
  }
  char *skip = NULL, *skip_tmp = NULL;
  if (out_path) {
    /* Written under a temporary name beside FILE and renamed over it at
     * the end; a link or special file at FILE is refused (reported). */
    rc = pm_manifest_writer_open_fs(c->fs, out_path, &c->w);
    if (rc) {
      pm_fs_close(c->fs, c->rootfd);
      free(c);
      return pm_side_refused(rc) ? PM_EXIT_USAGE : PM_EXIT_FAILED;
    }
    skip = output_rel(c->fs, dir, out_path);
    skip_tmp = output_rel(c->fs, dir, pm_manifest_writer_tmp_path(c->w));
  } else {
    c->out = stdout;
  }
  pm_mutex_init(&c->mu);
  pm_cond_init(&c->moved);
  /* Ctrl-C or SIGTERM stops the walk and the reads within moments: exit
   * 130. A second one ends the process at once. */
  pm_interrupt_catch();
  atomic_int *interrupt = pm_interrupt_flag();
  vf_pool_opts po = {.fs = c->fs,
                     .engine = eng,
                     .threads = threads,
                     .done = job_done,
                     .arg = c,
                     .tick = tick,
                     .interrupt = interrupt};
  uint64_t t0 = pm_now_ns();
  rc = vf_pool_create(&po, &c->pool);
  if (rc) {
    pm_report_errorf(rc, "cannot start the %s I/O engine", eng->name);
    if (c->w) pm_manifest_writer_close(c->w);
    free(skip);
    pm_fs_close(c->fs, c->rootfd);
    free(skip_tmp);
    free(c);
    return PM_EXIT_FAILED;
  }
  unsigned nth = vf_pool_threads(c->pool);
  pm_progress_init(&c->prog, "hash", quiet ? PM_PROGRESS_OFF : PM_PROGRESS_AUTO);
  walk(c, skip, skip_tmp);
  int prc = vf_pool_finish(c->pool, NULL, NULL);
  pm_progress_finish(&c->prog);
  double secs = (double)(pm_now_ns() - t0) / 1e9;
  int wrc = c->write_err;
  bool interrupted = pm_interrupted();
  if (c->w) {
    /* A manifest that could not be written whole, or that Ctrl-C cut
     * short (it would audit clean for the files it lists, and pass for
     * the tree's), is never put in place: its temporary is removed and
     * FILE is left as it was. */
    int crc = (wrc || interrupted) ? pm_manifest_writer_close(c->w)
                                   : pm_manifest_writer_publish(c->w);
    c->w = NULL;
    if (!wrc && !interrupted) wrc = crc;
  } else if (fflush(stdout) != 0) {
    pm_oserr_set(0); /* stdio does not keep the code of its failure */
    wrc = PM_EIO;
  }
  if (wrc)
    vf__report_error("write manifest", out_path ? out_path : "-", wrc,
                     pm_oserr_of(wrc));
  if (interrupted && out_path) {
    fprintf(stderr, "pomove hash: interrupted; the incomplete manifest was "
                    "not written to '%s'\n", out_path);
  } else if (interrupted) {
    fprintf(stderr, "pomove hash: interrupted; the manifest on stdout is "
                    "incomplete\n");
  }
  bool complete = !prc && !wrc && !interrupted;
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
            complete ? "true" : "false", (unsigned long long)c->files,
            (unsigned long long)c->bytes, (unsigned long long)c->dirs,
            (unsigned long long)c->skipped, (unsigned long long)c->errors,
            secs, eng->name, nth);
  } else if (!quiet) {
    char b1[32], b2[32];
    fprintf(stderr,
            "pomove hash: %llu files, %s read and hashed in %s (%s engine, "
            "%u threads); %llu skipped (not regular files), %llu errors\n",
            (unsigned long long)c->files, pm_fmt_bytes(c->bytes, b1, sizeof b1),
            pm_fmt_duration(secs, b2, sizeof b2), eng->name, nth,
            (unsigned long long)c->skipped, (unsigned long long)c->errors);
  }
  int code = interrupted ? PM_EXIT_INTERRUPTED
             : !complete ? PM_EXIT_FAILED
             : c->errors ? PM_EXIT_PARTIAL : PM_EXIT_OK;
  pm_mutex_destroy(&c->mu);
  pm_cond_destroy(&c->moved);
  free(skip);
    pm_fs_close(c->fs, c->rootfd);
    free(skip_tmp);
  free(c);
  return code;
}
