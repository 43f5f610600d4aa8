/* step_journal.c - the move's append-only step journal (<state>/current/
 * journal): one record per line, "<seq> <event> <step> <time>" followed
 * by the XXH3-128 of that text, so that a record torn by a crash is
 * recognised and ignored. Move, rollback, stage and remove-old read it to
 * learn what was done; each record is appended and synced through the
 * host's file-system table before the work it announces goes on. */
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "orch.h"
#include "sys.h"
#include "util.h"

static int apply(orch_journal *j, const char *rec) {
  unsigned seq;
  char event[32];
  int step;
  if (sscanf(rec, "%u %31s %d", &seq, event, &step) != 3) return PM_EFORMAT;
  j->seq = seq;
  if (!strcmp(event, "start")) {
    j->started = true;
  } else if (!strcmp(event, "done") && step >= 0 && step < 32) {
    j->step_done[step] = 1;
  } else if (!strcmp(event, "move-done")) {
    j->move_done = true;
  } else if (!strcmp(event, "rollback-begin")) {
    j->rollback_begun = true;
  } else if (!strcmp(event, "rollback-done")) {
    j->rollback_done = true;
  } else if (!strcmp(event, "remove-old-begin")) {
    j->old_removed = true;
  }
  return 0;
}

int orch_journal_open(const pm_fs *fs, const char *path,
                      orch_journal *j) {
  memset(j, 0, sizeof *j);
  j->fs = fs;
  j->path = pm_xstrdup(path);
  char *text;
  size_t len;
  int rc = orch_state_read(fs, path, &text, &len);
  if (rc == PM_ENOENT) return 0;
  if (rc < 0) return rc;
  /* Records are taken by length, not by C string, so a NUL byte cannot end
   * the journal early: a record holding one fails like any damaged record
   * (refused in the middle, ignored as the torn last one). */
  char *p = text, *stop = text + len;
  while (p < stop) {
    char *nl = memchr(p, '\n', (size_t)(stop - p));
    /* The last record may be torn: no newline, or a wrong hash. */
    bool last = !nl || nl + 1 == stop;
    if (!nl) break;
    *nl = '\0';
    char *sp = strrchr(p, ' ');
    char hex[33];
    bool ok = false;
    if (!memchr(p, 0, (size_t)(nl - p)) && sp && strlen(sp + 1) == 32) {
      orch_state_hash_hex(p, (size_t)(sp - p), hex);
      ok = !strcmp(hex, sp + 1);
    }
    if (ok) {
      *sp = '\0';
      rc = apply(j, p);
      if (rc < 0) ok = false;
      else j->valid_len = (uint64_t)(nl + 1 - text);
    }
    if (!ok && !last) {
      free(text);
      pm_oserr_set(0); /* the damage is in the text, not an OS failure */
      return PM_ECORRUPT;
    }
    rc = 0;
    p = nl + 1;
  }
  free(text);
  return 0;
}

int orch_journal_add(orch_journal *j, const char *event, int step) {
  char rec[128], line[200], hex[33];
  snprintf(rec, sizeof rec, "%u %s %d %lld", j->seq + 1, event, step,
           (long long)pm_wall_seconds());
  orch_state_hash_hex(rec, strlen(rec), hex);
  snprintf(line, sizeof line, "%s %s\n", rec, hex);
  pm_fd fd;
  PM_TRY(pm_file_open_regular(j->fs, j->path, PM_O_WRONLY | PM_O_CREAT,
                              0644, &fd));
  pm_stat st;
  int rc = pm_fs_fstat(j->fs, fd, &st);
  /* A torn record left by a crash is cut off before appending, so that it
   * cannot end up in the middle of the journal. */
  uint64_t off = j->valid_len;
  if (rc == 0 && st.size != off) rc = pm_fs_ftruncate(j->fs, fd, off);
  if (rc == 0) rc = pm_file_write_all(j->fs, fd, line, strlen(line), off);
  if (rc == 0) rc = pm_fs_fsync(j->fs, fd, false);
  int rc2 = pm_fs_close(j->fs, fd);
  if (rc == 0) rc = rc2;
  if (rc == 0) {
    apply(j, rec);
    j->valid_len = off + strlen(line);
  }
  return rc;
}

void orch_journal_close(orch_journal *j) {
  free(j->path);
  j->path = NULL;
}
