/* hash_tree.c - `pomove hash DIR` (hashtree.h): walks the tree beneath a
 * handle on DIR in path order (listing.h, vf_walk), hashes the regular
 * files on the hashing pool, and writes the lines in walk order to the
 * manifest writer or a stream. Only regular files are listed (xxh128sum
 * has no line for a directory or a dangling link); symlinks and special
 * files are counted as skipped. */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_int.h"
#include "hashpool.h"
#include "hashtree.h"
#include "listing.h"
#include "manifest.h"
#include "sidefile.h"
#include "thread.h"
#include "util.h"

/* Lines the walk may run ahead of the oldest one not yet written. */
#define WINDOW 4096u

typedef struct hctx {
  const pm_fs *fs;
  const char *root;
  /* DIR, opened once: the walk lists and opens beneath it with the fs
   * table's *_at calls, so that a directory swapped for a symlink while
   * it runs cannot make it hash files outside DIR. */
  pm_fd rootfd;
  vf_pool *pool;
  pm_progress prog;
  pm_manifest_writer *w; /* o->output */
  FILE *out;             /* the stream otherwise */
  pm_mutex mu;
  pm_cond moved;
  vf_job *ring[WINDOW];
  uint64_t next_emit;
  vf_hash_result *res;
  int write_err;
} hctx;

static void tick(void *arg) {
  hctx *c = arg;
  vf__progress_tick(c->pool, &c->prog);
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
    c->res->errors++;
    return;
  }
  if (s->err || !s->hashed) {
    pm_oserr_set(s->err ? s->oserr : 0);
    pm_report_error(s->op ? s->op : "read", s->path, s->err ? s->err : PM_EIO);
    c->res->errors++;
    return;
  }
  c->res->files++;
  c->res->bytes += s->bytes;
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
static void walk(hctx *c, atomic_int *interrupt, const char *skip_rel,
                 const char *skip_tmp) {
  vf_walk *w = vf_walk_new(c->fs, c->rootfd, c->root, interrupt);
  uint64_t seq = 0;
  vf_walk_item it;
  int k;
  while ((k = vf_walk_next(w, &it)) != VF_WALK_END) {
    if (k == VF_WALK_DIR) {
      c->res->directories++;
    } else if (k == VF_WALK_UNLISTED) {
      char *p = pm_path_join(c->root, it.rel);
      vf__report_error(it.op, p, it.err, it.oserr);
      free(p);
      c->res->errors++;
    } else if (it.type != PM_T_FILE) {
      c->res->skipped++;
    } else if (!(skip_rel && !strcmp(it.rel, skip_rel)) &&
               !(skip_tmp && !strcmp(it.rel, skip_tmp))) {
      char *full = pm_path_join(c->root, it.rel);
      vf_job *j = vf_job_new1(full);
      vf_job_beneath(j, 0, c->rootfd, it.rel);
      free(full);
      j->udata = pm_xstrdup(it.rel);
      j->seq = seq;
      j->no_stat = true;
      wait_window(c, seq);
      seq++;
      vf_pool_submit(c->pool, j);
      tick(c);
    }
  }
  vf_walk_free(w);
}

/* The manifest's path relative to DIR when it lies inside DIR. */
static char *output_rel(const pm_fs *fs, const char *dir, const char *out) {
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

static bool stop_asked(const vf_hash_opts *o) {
  return o->interrupt && *o->interrupt;
}

int vf_hash_tree(const vf_hash_opts *o, const char *dir,
                 vf_hash_result *res) {
  memset(res, 0, sizeof *res);
  hctx *c = pm_xcalloc(1, sizeof *c);
  c->fs = o->fs ? o->fs : pm_fs_native();
  c->root = dir;
  c->res = res;
  int rc = vf__open_root(c->fs, dir, &c->rootfd);
  if (rc) {
    res->bad_argument = true;
    free(c);
    return rc;
  }
  char *skip = NULL, *skip_tmp = NULL;
  if (o->output) {
    /* Written under a temporary name beside the file and renamed over it
     * at the end; a link or special file at its name is refused
     * (reported). */
    rc = pm_manifest_writer_open_fs(c->fs, o->output, &c->w);
    if (rc) {
      res->bad_argument = pm_side_refused(rc);
      pm_fs_close(c->fs, c->rootfd);
      free(c);
      return rc;
    }
    /* Temporaries of this manifest that killed runs left ("<FILE>.tmp-
     * <pid>-<n>" of a pid that has ended) are removed, as a copy removes
     * its side files' (pm_side_sweep: regular files only, beneath a
     * handle on the folder, never a live writer's), and before the walk,
     * so that a manifest inside DIR never lists a leftover of its own. */
    pm_side_sweep(c->fs, o->output, "manifest");
    skip = output_rel(c->fs, dir, o->output);
    skip_tmp = output_rel(c->fs, dir, pm_manifest_writer_tmp_path(c->w));
  } else {
    c->out = o->out ? o->out : stdout;
  }
  pm_mutex_init(&c->mu);
  pm_cond_init(&c->moved);
  uint64_t t0 = pm_now_ns();
  /* The audits' start of the pool, with this run's engine, threads and
   * interrupt: one place reports a failure and records what ran. */
  vf_audit_opts ao = {.engine = o->engine,
                      .threads = o->threads,
                      .interrupt = o->interrupt};
  rc = vf__audit_pool_start(&ao, c->fs, job_done, tick, c, &c->pool);
  if (rc) {
    if (c->w) pm_manifest_writer_close(c->w);
    free(skip);
    free(skip_tmp);
    pm_mutex_destroy(&c->mu);
    pm_cond_destroy(&c->moved);
    pm_fs_close(c->fs, c->rootfd);
    free(c);
    return rc;
  }
  memcpy(res->engine_used, ao.engine_used, sizeof res->engine_used);
  res->threads_used = ao.threads_used;
  res->walked = true;
  pm_progress_init(&c->prog, "hash", o->progress_mode);
  walk(c, o->interrupt, skip, skip_tmp);
  int prc = vf_pool_finish(c->pool, NULL, NULL);
  pm_progress_finish(&c->prog);
  res->seconds = (double)(pm_now_ns() - t0) / 1e9;
  int wrc = c->write_err;
  bool interrupted = stop_asked(o);
  if (c->w) {
    /* A manifest that could not be written whole, or that Ctrl-C cut
     * short (it would audit clean for the files it lists, and pass for
     * the tree's), is never put in place: its temporary is removed and
     * the file is left as it was. */
    int crc = (wrc || interrupted) ? pm_manifest_writer_close(c->w)
                                   : pm_manifest_writer_publish(c->w);
    c->w = NULL;
    if (!wrc && !interrupted) wrc = crc;
  } else if (fflush(c->out) != 0) {
    pm_oserr_set(0); /* stdio does not keep the code of its failure */
    wrc = PM_EIO;
  }
  if (wrc)
    vf__report_error("write manifest", o->output ? o->output : "-", wrc,
                     pm_oserr_of(wrc));
  pm_mutex_destroy(&c->mu);
  pm_cond_destroy(&c->moved);
  free(skip);
  free(skip_tmp);
  pm_fs_close(c->fs, c->rootfd);
  free(c);
  return interrupted ? PM_ECANCELED : prc ? prc : wrc;
}
