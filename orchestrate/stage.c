/* stage.c - `pomove stage`: the first phase of a two-phase move. While
 * the connector services run and Maildat$ is shared, the postoffice is
 * copied to its new place with the copy engine's live update semantics
 * (a file that changes while read is left for the next pass); each run is
 * a delta pass over the previous one. Nothing on the host changes but the
 * new folder and the stage's own files in <state>/stage: the record (what
 * was staged, when, the counts of the last pass), the copy's manifest,
 * its per-file state (which the move's final pass reads to skip what is
 * unchanged) and its journal (a killed pass resumes). `--discard` removes
 * the staged copy beneath a handle on it, and the record. */
#include <stdlib.h>
#include <string.h>

#include "copyengine.h"
#include "fileutil.h"
#include "hash.h"
#include "orch.h"
#include "sys.h"
#include "util.h"

#define STAGE_MAGIC "pomove-stage 1"

char *orch_stage_dir(pm_host *h, const char *state_dir) {
  return pm_path_join(state_dir ? state_dir : h->state_dir, "stage");
}

/* ---- the record ---- */

static char *record_text(const orch_stage *s) {
  char *t = pm_xasprintf(
      STAGE_MAGIC "\nfrom=%s\nto=%s\nfrom_native=%s\nto_native=%s\n"
                  "started=%lld\nended=%lld\npasses=%llu\nfiles=%llu\n"
                  "bytes=%llu\ncopied=%llu\nskipped=%llu\nmetadata_only=%llu\n"
                  "deleted=%llu\nleft=%llu\nmillis=%llu\nmade=%llu\n",
      s->from, s->to, s->from_native, s->to_native, (long long)s->started,
      (long long)s->ended, (unsigned long long)s->passes,
      (unsigned long long)s->files, (unsigned long long)s->bytes,
      (unsigned long long)s->copied, (unsigned long long)s->skipped,
      (unsigned long long)s->metadata_only, (unsigned long long)s->deleted,
      (unsigned long long)s->left, (unsigned long long)s->millis,
      (unsigned long long)s->made);
  pm_hash128 hh = pm_hash_buffer(t, strlen(t));
  char hex[33];
  pm_hash_hex(&hh, hex);
  char *full = pm_xasprintf("%sxxh128=%s\n", t, hex);
  free(t);
  return full;
}

int orch_stage_save(pm_host *h, const char *path, const orch_stage *s) {
  char *t = record_text(s);
  int rc = pm_file_write_atomic(h->fs, path, t, strlen(t), 0644, PM_FILE_SYNC);
  free(t);
  return rc;
}

/* The record is small: a file past 1 MiB is not one pomove wrote. */
static int read_whole(const pm_fs *fs, const char *path, char **out,
                      size_t *len) {
  int rc = pm_file_read(fs, path, (size_t)1 << 20, out, len);
  return rc == PM_EFBIG ? PM_EFORMAT : rc;
}

static int bad_line(const char *path, unsigned line, const char *why) {
  pm_oserr_set(0);
  pm_report_errorf(PM_EFORMAT, "stage record %s, line %u: %s", path, line,
                   why);
  return PM_EFORMAT;
}

static bool parse_u64(const char *v, uint64_t *out) {
  if (!*v) return false;
  uint64_t n = 0;
  for (; *v; v++) {
    if (*v < '0' || *v > '9' || n > (UINT64_MAX - 9) / 10) return false;
    n = n * 10 + (uint64_t)(*v - '0');
  }
  *out = n;
  return true;
}

/* Every byte is part of a line that is understood: the header, each key
 * once, and the hash of all that precedes it as the last line. */
static int parse_record(const char *path, char *b, size_t len,
                        orch_stage *s) {
  memset(s, 0, sizeof *s);
  if (memchr(b, '\0', len)) return bad_line(path, 1, "holds a NUL byte");
  static const char *const keys[] = {
      "from",   "to",     "from_native",   "to_native", "started",
      "ended",  "passes", "files",         "bytes",     "copied",
      "skipped", "metadata_only", "deleted", "left",    "millis",
      "made"};
  enum { NKEYS = sizeof keys / sizeof keys[0] };
  bool seen[NKEYS] = {false};
  unsigned line = 0;
  char *p = b, *end = b + len;
  bool have_hash = false;
  while (p < end) {
    line++;
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return bad_line(path, line, "the last line has no line end");
    *nl = '\0';
    if (have_hash) return bad_line(path, line, "text after the hash line");
    if (line == 1) {
      if (strcmp(p, STAGE_MAGIC))
        return bad_line(path, line, "not a pomove stage record");
      *nl = '\n';
      p = nl + 1;
      continue;
    }
    char *eq = strchr(p, '=');
    if (!eq) return bad_line(path, line, "not KEY=VALUE");
    *eq = '\0';
    const char *v = eq + 1;
    if (!strcmp(p, "xxh128")) {
      *eq = '=';
      pm_hash128 hh = pm_hash_buffer(b, (size_t)(p - b));
      char hex[33];
      pm_hash_hex(&hh, hex);
      *eq = '\0';
      if (strcmp(hex, v))
        return bad_line(path, line, "the hash does not match the text "
                                    "(the record is damaged)");
      have_hash = true;
      *nl = '\n';
      *eq = '=';
      p = nl + 1;
      continue;
    }
    size_t k = 0;
    while (k < NKEYS && strcmp(keys[k], p)) k++;
    if (k == NKEYS) return bad_line(path, line, "unknown key");
    if (seen[k]) return bad_line(path, line, "key given twice");
    seen[k] = true;
    uint64_t n = 0;
    bool ok = true;
    switch (k) {
    case 0: orch_strf(s->from, sizeof s->from, "%s", v); break;
    case 1: orch_strf(s->to, sizeof s->to, "%s", v); break;
    case 2: orch_strf(s->from_native, sizeof s->from_native, "%s", v); break;
    case 3: orch_strf(s->to_native, sizeof s->to_native, "%s", v); break;
    default:
      ok = parse_u64(v, &n);
      if (k == 4) s->started = (int64_t)n;
      if (k == 5) s->ended = (int64_t)n;
      if (k == 6) s->passes = n;
      if (k == 7) s->files = n;
      if (k == 8) s->bytes = n;
      if (k == 9) s->copied = n;
      if (k == 10) s->skipped = n;
      if (k == 11) s->metadata_only = n;
      if (k == 12) s->deleted = n;
      if (k == 13) s->left = n;
      if (k == 14) s->millis = n;
      if (k == 15) s->made = n;
    }
    if (!ok) return bad_line(path, line, "not a number");
    *eq = '=';
    *nl = '\n';
    p = nl + 1;
  }
  if (!have_hash) return bad_line(path, line + 1, "the hash line is missing");
  for (size_t k = 0; k < NKEYS; k++)
    if (!seen[k]) {
      char why[64];
      orch_strf(why, sizeof why, "key '%s' is missing", keys[k]);
      return bad_line(path, line, why);
    }
  return 0;
}

int orch_stage_load(pm_host *h, const char *state_dir, orch_stage *s) {
  char *dir = orch_stage_dir(h, state_dir);
  char *path = pm_path_join(dir, "record");
  char *b = NULL;
  size_t len = 0;
  int rc = read_whole(h->fs, path, &b, &len);
  if (rc == 0)
    rc = parse_record(path, b, len, s);
  else if (rc != PM_ENOENT)
    pm_report_error("read stage record", path, rc);
  free(b);
  free(path);
  free(dir);
  return rc;
}

/* ---- how much changed since ---- */

static void count_changed(const pm_fs *fs, const char *path,
                          int64_t since, uint64_t *files, uint64_t *changed) {
  pm_dir *d;
  if (pm_fs_opendir(fs, path, &d) < 0) return;
  pm_strlist names = {0};
  pm_dirent e;
  while (pm_fs_readdir(fs, d, &e) > 0)
    if (strcmp(e.name, ".") && strcmp(e.name, ".."))
      pm_strlist_add(&names, e.name);
  pm_fs_closedir(fs, d);
  for (size_t i = 0; i < names.n; i++) {
    char *c = pm_path_join(path, names.v[i]);
    pm_stat st;
    if (pm_fs_stat(fs, c, false, &st) == 0) {
      if (st.type == PM_T_DIR) {
        count_changed(fs, c, since, files, changed);
      } else {
        ++*files;
        if (st.mtime.sec >= since || st.ctime.sec >= since) ++*changed;
      }
    }
    free(c);
  }
  pm_strlist_free(&names);
}

void orch_stage_changed(pm_host *h, orch_stage *s) {
  s->src_files = s->changed_since = 0;
  count_changed(h->fs, s->from_native, s->started, &s->src_files,
                &s->changed_since);
  s->have_estimate = true;
}

static void stage_when(int64_t t, char *buf, size_t cap) {
  pm_utc u;
  pm_utc_from_seconds(t, &u);
  orch_strf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d UTC", u.year, u.month,
            u.day, u.hour, u.min, u.sec);
}

void orch_stage_print(const orch_stage *s, FILE *out) {
  char when[64], b[32];
  stage_when(s->ended, when, sizeof when);
  fprintf(out,
          "\nStaged: %s -> %s, last pass ended %s (pass %llu): %llu files "
          "in the copy, %s written by that pass, %llu left for the next "
          "pass.\n",
          s->from, s->to, when, (unsigned long long)s->passes,
          (unsigned long long)s->files, pm_fmt_bytes(s->bytes, b, sizeof b),
          (unsigned long long)s->left);
  if (s->have_estimate)
    fprintf(out,
            "  Changed since the last pass began: about %llu of %llu source "
            "files (those with a later mtime or change time; an estimate "
            "from metadata, removals not counted). `move` copies what "
            "changed with the services stopped.\n",
            (unsigned long long)s->changed_since,
            (unsigned long long)s->src_files);
}

void orch_stage_json(const orch_stage *s, FILE *out) {
  fputs("{\"from\":", out);
  pm_json_string(out, s->from);
  fputs(",\"to\":", out);
  pm_json_string(out, s->to);
  fprintf(out,
          ",\"started\":%lld,\"ended\":%lld,\"passes\":%llu,\"files\":%llu,"
          "\"bytes\":%llu,\"copied\":%llu,\"skipped\":%llu,"
          "\"metadata_only\":%llu,\"deleted\":%llu,\"left_for_next_pass\":%llu,"
          "\"seconds\":%.3f",
          (long long)s->started, (long long)s->ended,
          (unsigned long long)s->passes, (unsigned long long)s->files,
          (unsigned long long)s->bytes, (unsigned long long)s->copied,
          (unsigned long long)s->skipped,
          (unsigned long long)s->metadata_only,
          (unsigned long long)s->deleted, (unsigned long long)s->left,
          (double)s->millis / 1000.0);
  if (s->have_estimate)
    fprintf(out, ",\"source_files\":%llu,\"changed_since_estimate\":%llu",
            (unsigned long long)s->src_files,
            (unsigned long long)s->changed_since);
  fputc('}', out);
}

/* ---- removal beneath a handle ---- */

int orch_remove_beneath(const pm_fs *fs, const char *path) {
  pm_stat st;
  int rc = pm_fs_stat(fs, path, false, &st);
  if (rc == PM_ENOENT) return 0;
  if (rc < 0) return rc;
  if (st.type != PM_T_DIR) return PM_ENOTDIR; /* a link is never followed */
  char *failed = NULL;
  rc = pm_file_remove_tree(fs, path, &failed);
  /* An entry inside is named here; the folder itself, by the caller. */
  if (rc < 0 && rc != PM_ECANCELED && failed && strcmp(failed, path)) {
    pm_report_error("remove", failed, rc);
    rc = PM_EIO;
  }
  free(failed);
  return rc;
}

/* ---- the command ---- */

/* Creates path and its missing parents; *made counts the folders it
 * created (NULL: not counted). */
static int mkdirs(const pm_fs *fs, const char *path, uint64_t *made) {
  int rc = pm_file_mkdirs(fs, path, 0755, made);
  if (rc < 0) pm_report_error("create folder", path, rc);
  return rc;
}

/* A move that has begun and is neither finished nor rolled back owns the
 * destination: no stage runs or is discarded beside it. */
static bool move_in_progress(pm_host *h, const orch_options *o) {
  char *cur = orch_state_current(h, o->state_dir);
  char *plan = pm_path_join(cur, "plan");
  char *jp = pm_path_join(cur, "journal");
  pm_stat st;
  bool busy = false;
  if (pm_fs_stat(h->fs, plan, false, &st) == 0) {
    orch_journal j;
    memset(&j, 0, sizeof j);
    if (orch_journal_open(h->fs, jp, &j) < 0)
      busy = true;
    else
      busy = j.started && !j.move_done && !j.rollback_done;
    orch_journal_close(&j);
  }
  free(cur);
  free(plan);
  free(jp);
  return busy;
}

static int discard(pm_host *h, const orch_options *o, FILE *out,
                   orch_result *res) {
  char *dir = orch_stage_dir(h, o->state_dir);
  orch_stage s;
  int rc = orch_stage_load(h, o->state_dir, &s);
  if (rc == PM_ENOENT) {
    pm_stat st;
    rc = pm_fs_stat(h->fs, dir, false, &st);
    rc = rc == PM_ENOENT ? 0 : orch_remove_beneath(h->fs, dir);
    if (rc == 0) {
      if (!o->json) fprintf(out, "Nothing is staged.\n");
      else fputs("{\"command\":\"stage\",\"result\":\"nothing staged\"}\n",
                 out);
    }
    /* Else a stage folder without a record, which says nothing about
     * where a copy is, could not be removed (reported). */
    free(dir);
    return rc;
  }
  if (rc < 0) {
    /* A record that cannot be read (reported) is not guessed at. */
    res->refused = true;
    free(dir);
    return rc;
  }
  rc = orch_remove_beneath(h->fs, s.to_native);
  if (rc < 0 && rc != PM_ECANCELED)
    pm_report_error("remove the staged copy", s.to_native, rc);
  /* The copy engine's lock file beside the copy, then the folders above
   * it that the first pass made (only while empty). */
  if (rc == 0) {
    char *lock = pm_xasprintf("%s.pomove-lock", s.to_native);
    int lr = pm_fs_unlink(h->fs, lock);
    if (lr < 0 && lr != PM_ENOENT) pm_report_error("remove", lock, lr);
    free(lock);
    char *up = pm_xstrdup(s.to_native);
    for (uint64_t i = 0; i < s.made; i++) {
      char *sl = strrchr(up, '/');
      if (!sl || sl == up) break;
      *sl = '\0';
      if (pm_fs_rmdir(h->fs, up) < 0) break;
    }
    free(up);
  }
  if (rc == 0) {
    rc = orch_remove_beneath(h->fs, dir);
    if (rc < 0 && rc != PM_ECANCELED)
      pm_report_error("remove the stage record", dir, rc);
  }
  if (rc == 0) {
    if (o->json) {
      fputs("{\"command\":\"stage\",\"result\":\"discarded\",\"to\":", out);
      pm_json_string(out, s.to);
      fputs("}\n", out);
    } else {
      fprintf(out, "Discarded the staged copy %s and its record.\n", s.to);
    }
  } else {
    res->interrupted = rc == PM_ECANCELED;
  }
  free(dir);
  return rc;
}

int orch_stage_cmd(pm_host *h, const orch_options *o, bool discard_it,
                   orch_result *res) {
  memset(res, 0, sizeof *res);
  FILE *out = o->out ? o->out : stdout;
  if (move_in_progress(h, o)) {
    pm_oserr_set(0);
    pm_report_errorf(PM_ESTATE,
                     "stage: a move is in progress; finish it with `pomove "
                     "move --resume` or undo it with `pomove rollback` "
                     "first");
    res->refused = true;
    return PM_ESTATE;
  }
  if (discard_it) return discard(h, o, out, res);

  orch_plan plan;
  int rc = orch_plan_build(h, o, &plan, res);
  if (rc < 0) {
    orch_plan_free(&plan);
    return rc;
  }
  char *dir = orch_stage_dir(h, o->state_dir);
  char *rec_path = pm_path_join(dir, "record");
  char *manifest = pm_path_join(dir, "copy.xxh128");
  char *journal = pm_path_join(dir, "copy.journal");
  char *state = pm_path_join(dir, "copy.pomove-state");
  orch_stage s;
  rc = orch_stage_load(h, o->state_dir, &s);
  bool again = rc == 0;
  if (rc < 0 && rc != PM_ENOENT) {
    res->refused = true;
    goto out;
  }
  if (again && (strcmp(s.from_native, plan.from_native) ||
                strcmp(s.to_native, plan.to_native))) {
    pm_oserr_set(0);
    pm_report_errorf(PM_ESTATE,
                     "stage: %s -> %s is staged already; discard it first "
                     "(`pomove stage --discard`)",
                     s.from, s.to);
    res->refused = true;
    rc = PM_ESTATE;
    goto out;
  }
  if (!again) {
    memset(&s, 0, sizeof s);
    orch_strf(s.from, sizeof s.from, "%s", plan.from);
    orch_strf(s.to, sizeof s.to, "%s", plan.to);
    orch_strf(s.from_native, sizeof s.from_native, "%s", plan.from_native);
    orch_strf(s.to_native, sizeof s.to_native, "%s", plan.to_native);
  }
  /* <drive>\ExchSrvr\Connect, as the move's create-target step makes it. */
  char *parent = pm_xstrdup(plan.to_native);
  char *sl = strrchr(parent, '/');
  if (sl) *sl = '\0';
  /* The folders above the copy that this stage made are recorded, so
   * that --discard leaves the drive as it was. */
  uint64_t made = 0;
  rc = mkdirs(h->fs, dir, NULL);
  if (rc == 0) rc = mkdirs(h->fs, parent, &made);
  if (!again) s.made = made;
  free(parent);
  if (rc < 0) goto out;
  /* Before the first pass, a record of 0 passes: a first pass killed
   * half way leaves a partial copy that is known as ours (a rerun
   * resumes it, --discard removes it, a move copies over it in full). */
  if (!again) {
    rc = orch_stage_save(h, rec_path, &s);
    if (rc < 0) {
      pm_report_error("write stage record", rec_path, rc);
      goto out;
    }
  }

  if (!o->json)
    fprintf(out, "Staging %s -> %s while the services run (%s pass)...\n",
            plan.from, plan.to, again && s.passes ? "delta" : "first");
  ce_options co;
  ce_options_init(&co);
  co.src = plan.from_native;
  co.dst = plan.to_native;
  co.fs = h->fs;
  co.threads = o->threads;
  if (o->busy_wait_set) co.busy_wait_ns = o->busy_wait_ns;
  co.merge = true;
  co.verify = !o->no_verify;
  co.journal = true;
  co.journal_path = journal;
  co.manifest_path = manifest;
  co.state_path = state;
  /* The first pass is a full copy; later ones bring it up to date and
   * remove what is gone from the source. Files the services write while
   * they are read are left for the next pass (the move's final one). */
  pm_stat st;
  co.update = again && s.passes && pm_fs_stat(h->fs, state, false, &st) == 0;
  co.delete_gone = co.update;
  co.live = true;
  co.interrupt = o->interrupt;
  ce_result cres;
  int64_t started = pm_wall_seconds();
  uint64_t t0 = pm_now_ns();
  rc = ce_copy(&co, &cres);
  if (rc == 0 && cres.interrupted) rc = PM_ECANCELED;
  if (rc < 0) {
    res->interrupted = rc == PM_ECANCELED;
    res->refused = !res->interrupted && cres.refused;
    if (rc == PM_ECANCELED)
      pm_report_notef("pomove: stage interrupted; run it again to "
                      "continue.\n");
    goto out;
  }
  s.started = started;
  s.ended = pm_wall_seconds();
  s.passes++;
  s.files = cres.files;
  s.bytes = cres.bytes + cres.resumed_bytes_skipped;
  s.copied = cres.update ? cres.copied : cres.files;
  s.skipped = cres.skipped_unchanged;
  s.metadata_only = cres.metadata_only;
  s.deleted = cres.deleted;
  s.left = cres.left_for_next_pass;
  s.millis = (uint64_t)((pm_now_ns() - t0) / 1000000u);
  rc = orch_stage_save(h, rec_path, &s);
  if (rc < 0) {
    pm_report_error("write stage record", rec_path, rc);
    goto out;
  }
  if (o->json) {
    fprintf(out, "{\"command\":\"stage\",\"result\":\"%s\",\"errors\":%llu,"
                 "\"stage\":",
            cres.errors ? "partial" : "ok", (unsigned long long)cres.errors);
    orch_stage_json(&s, out);
    fputs("}\n", out);
  } else {
    char b[32], t[32];
    fprintf(out,
            "Staged pass %llu in %s: %llu files copied, %llu unchanged, "
            "%llu metadata only, %llu removed, %llu left for the next pass "
            "(%llu files in the copy, %s written).\nThe services and the share were not "
            "touched; `pomove move` finishes with a short delta pass.\n",
            (unsigned long long)s.passes,
            pm_fmt_duration((double)s.millis / 1000.0, t, sizeof t),
            (unsigned long long)s.copied, (unsigned long long)s.skipped,
            (unsigned long long)s.metadata_only,
            (unsigned long long)s.deleted, (unsigned long long)s.left,
            (unsigned long long)s.files, pm_fmt_bytes(s.bytes, b, sizeof b));
  }
  res->partial = cres.errors > 0;
out:
  orch_plan_free(&plan);
  free(dir);
  free(rec_path);
  free(manifest);
  free(journal);
  free(state);
  return rc;
}
