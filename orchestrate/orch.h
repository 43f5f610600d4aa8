/* orch.h - the orchestrated move of the MS Mail connector postoffice
 * (KB Q171259 and what ../shared/DOMAIN.md says it leaves out): discovery
 * and plan, the steps with their journal, resume, rollback, check/repair
 * (the sample simulated host is simcreate.h). Used by the command line (cli/)
 * and by tests/orchestrate/; everything reaches the host through the
 * tables of host.h. */
#ifndef POMOVE_ORCH_H
#define POMOVE_ORCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "host.h"
#include "sidefile.h"

#define ORCH_SERVICES_KEY \
  "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services"
#define ORCH_EVENTLOG_KEY ORCH_SERVICES_KEY "\\EventLog\\Application"
#define ORCH_MACVOL_KEY ORCH_SERVICES_KEY "\\MacFile\\Parameters\\Volumes"
#define ORCH_SETUP_KEY "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Exchange\\Setup"

typedef enum orch_role {
  ORCH_ROLE_ATMTA = 0, /* stops first */
  ORCH_ROLE_PCMTA = 1,
  ORCH_ROLE_MSMI = 2
} orch_role;

typedef enum orch_vkind {
  ORCH_V_SERVICE = 0, /* under a service key */
  ORCH_V_EVENTLOG = 1,
  ORCH_V_MACVOL = 2
} orch_vkind;

typedef struct orch_service {
  char name[PM_HOST_NAME_MAX];
  int role;
  bool was_running;
  /* The services of the plan it depends on, NUL-separated and ending
   * with an empty name: its DependOnService entries that are services of
   * the plan, and for ATMTA the MSMI of Q143380 even where the registry
   * leaves it out. It stops before them and starts after them. */
  char deps[PM_HOST_TEXT_MAX];
} orch_service;

typedef struct orch_value {
  char *key, *name;
  int kind;
  bool image_path; /* the ImagePath of a service: set through the SCM */
  char *service;   /* that service's name when image_path */
  pm_reg_value old, new_;
} orch_value;

/* What `pomove stage` staged (stage.c): the record in <state>/stage. */
typedef struct orch_stage {
  char from[PM_HOST_PATH_MAX], to[PM_HOST_PATH_MAX];
  char from_native[PM_HOST_PATH_MAX * 4], to_native[PM_HOST_PATH_MAX * 4];
  int64_t started, ended; /* the last pass, wall-clock seconds (UTC) */
  uint64_t passes, files, bytes;
  /* The last pass's counts. */
  uint64_t copied, skipped, metadata_only, deleted, left;
  uint64_t millis; /* how long the last pass took */
  uint64_t made;   /* folders above the copy the first pass created */
  /* Not in the record: orch_stage_changed()'s estimate, when made. */
  bool have_estimate;
  uint64_t src_files, changed_since;
} orch_stage;

/* The plan of a move (plan.c). */
typedef struct orch_plan {
  char from[PM_HOST_PATH_MAX]; /* old ...\Connect\Msmcon */
  char to[PM_HOST_PATH_MAX];   /* new ...\Connect\Msmcon */
  char from_native[PM_HOST_PATH_MAX * 4];
  char to_native[PM_HOST_PATH_MAX * 4];
  orch_service *svcs; /* in stop order */
  size_t nsvcs;
  /* Read from the plan file of an earlier pomove, which kept no
   * dependencies: every service is then taken to depend on every one
   * after it in stop order, so they are driven one at a time, as that
   * pomove did. */
  bool deps_unknown;
  orch_value *vals;
  size_t nvals;
  bool have_share;
  pm_share_info share; /* as it was */
  uint64_t files, dirs, bytes; /* the source tree */
  bool target_existed; /* the new Msmcon held an earlier partial copy */
  /* A stage of this from/to exists (not saved with the plan: the move's
   * copy step reads the stage record itself). */
  bool staged;
  orch_stage stage;
} orch_plan;

typedef struct orch_options {
  const char *from, *to;
  const char *state_dir; /* NULL: the host's default */
  unsigned stop_timeout_ms, start_timeout_ms;
  bool json, dry_run, resume, remove_copy;
  bool no_verify; /* copy without the re-read verification */
  /* After a stage: re-read every file of the new tree at cut-over and
   * compare it with the manifest, not only the files the final pass
   * copied. */
  bool verify_all;
  /* After a stage: the final pass reads and hashes every source file
   * whatever its metadata say (copy --update --checksum), for a source
   * without change time (FAT) whose files may have been rewritten with
   * their size and mtime kept. */
  bool checksum;
  unsigned threads;
  /* The copy's wait for files held by another program (copy
   * --busy-wait); without busy_wait_set, the copy's default. */
  bool busy_wait_set;
  int64_t busy_wait_ns;
  int progress_mode; /* PM_PROGRESS_* */
  FILE *out;         /* the report; NULL: stdout */
  atomic_int *interrupt;
} orch_options;

void orch_options_init(orch_options *o);

/* What a command of this library (orch_move, orch_rollback,
 * orch_stage_cmd, orch_check, orch_remove_old, and orch_plan_build for
 * them) says besides its return value, which is 0 or a PM_E* code it has
 * reported. The command line chooses the exit code from both (cli/);
 * the library never does. The function clears it first. */
typedef struct orch_result {
  /* Not started (the return is the PM_E* that says why): an argument,
   * the host or the state of the move forbids it. Nothing was changed. */
  bool refused;
  /* Stopped by Ctrl-C (the return is PM_ECANCELED) at a point a rerun
   * continues from. */
  bool interrupted;
  /* Finished (the return is 0), but with something left to see to:
   * findings of `check`, an old tree `remove-old` keeps because it
   * differs from the manifest, files a stage pass could not copy. */
  bool partial;
} orch_result;

/* ---- What exists where on the host (discover.c) ---- */

/* Windows path helpers: the Msmcon folder meant by a --from / --to
 * argument ("C:\exchsrvr" -> "C:\exchsrvr\Connect\Msmcon"; "D:" ->
 * "D:\ExchSrvr\Connect\Msmcon"). 0 or PM_EINVAL. */
int orch_msmcon_from(const char *arg, char *out, size_t cap);
int orch_msmcon_to(const char *arg, char *out, size_t cap);

/* Rewrites every path in a string value (also ';'-separated lists, quoted
 * paths, "Path=" entries of REG_MULTI_SZ) that lies under `from` so that
 * it lies under `to`, keeping the type. With from == NULL any
 * "...\Connect\Msmcon" location other than `to` is rewritten (check
 * --repair). Returns true and fills *out when something changed. */
bool orch_rewrite_value(const pm_reg_value *v, const char *from,
                        const char *to, pm_reg_value *out);

/* Services whose ImagePath lies under `from` (NULL: under any
 * "...\Connect\Msmcon") are added to p->svcs in stop order; then every
 * value under their service and event-log keys, MSExchangePCMTA's and
 * the Macintosh volumes that points under `from` (NULL: at any Msmcon
 * other than `to`) is added to p->vals with its rewritten data. Reports
 * errors; 0 or PM_E*. */
int orch_find_services(pm_host *h, const char *from, orch_plan *p);
int orch_collect_values(pm_host *h, const char *from, const char *to,
                        orch_plan *p);
/* Stop order is p->svcs; start order is its reverse. */
void orch_sort_services(pm_host *h, orch_service *s, size_t n);
/* Does p->svcs[a] depend on p->svcs[b], directly or through other
 * services of the plan? (With p->deps_unknown: a comes before b.) */
bool orch_service_needs(const orch_plan *p, size_t a, size_t b);
/* The dependency waves of the services i with in[i] (the others get 0):
 * with stop, wave 1 holds those no other service of the set depends on,
 * and each next wave those whose dependents in the set all lie in earlier
 * waves; without, the same the other way (wave 1: those that depend on
 * none of the set). A wave's services are asked together and the next
 * wave waits for all of them. wave[] has p->nsvcs entries; returns the
 * number of waves. */
unsigned orch_service_waves(const orch_plan *p, const bool *in, bool stop,
                            unsigned *wave);
/* The share of `folder` (a Windows path; Maildat$ when several share
 * it): 1 and *out filled, 0 when none does, or a reported PM_E*. */
int orch_find_share(pm_host *h, const char *folder, pm_share_info *out);

typedef struct orch_tree_size {
  uint64_t files, dirs, bytes;
  uint64_t alloc; /* what a copy takes at least (NTFS clusters of 4 KiB) */
} orch_tree_size;
/* Adds the tree at the native `path` to *t; reports errors; 0 or PM_E*. */
int orch_measure_tree(const pm_fs *fs, const char *path,
                      orch_tree_size *t);
/* Does the existing folder `dst` hold the postoffice at `src` (an earlier
 * partial copy) or another one? Returns 1 same, 0 empty, -1 different. */
int orch_target_kind(const pm_fs *fs, const char *src, const char *dst);

/* ---- The plan (plan.c) ---- */

/* Builds the plan of a move from o->from and o->to: discovery and the
 * destination checks; reports problems itself. Returns 0, or a PM_E*
 * code when the move must not start: with res->refused when the
 * arguments or the host forbid it, without when the host could not be
 * read. */
int orch_plan_build(pm_host *h, const orch_options *o, orch_plan *p,
                    orch_result *res);
void orch_plan_free(orch_plan *p);
/* Appends a value (key, name, kind; image_path and service derived, the
 * data left to the caller) and returns it. */
orch_value *orch_plan_add_value(orch_plan *p, const char *key,
                                const char *name, int kind);
void orch_plan_print(const orch_plan *p, FILE *out);
void orch_plan_json(const orch_plan *p, FILE *out);
/* "Services\X" for "HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\X". */
const char *orch_short_key(const char *key);
/* The plan as the move's state keeps it (exact registry bytes). */
int orch_plan_save(pm_host *h, const char *path, const orch_plan *p);
int orch_plan_load(pm_host *h, const char *path, orch_plan *p);

/* ---- The steps of a move (steps.c) ---- */

/* One run of `move` or `rollback`, as the steps see it (steps.h). */
typedef struct orch_run orch_run;

/* Where a step lies in the downtime: from the first service asked to stop
 * to the last one running again. */
typedef enum orch_window {
  ORCH_W_BEFORE = 0, /* before the services stop */
  ORCH_W_OPENS,      /* stops the services: the downtime begins with it */
  ORCH_W_INSIDE,     /* while they are stopped */
  ORCH_W_COPY,       /* inside: the copy, a part of the downtime of its own */
  ORCH_W_CLOSES,     /* starts them: the downtime ends with it */
  ORCH_W_AFTER       /* once they run again */
} orch_window;

/* A step: `move` runs the table's `run` functions in order, journaling
 * "begin", then "done" (or "failed") with journal_id around each, and
 * `--resume` skips those done (unless `undone` finds their work gone);
 * `rollback` runs the `undo` functions in the reverse order, under
 * undo_name. Each function returns 0 or a PM_E* it has reported, and
 * leaves a line for the report in the run's detail. */
typedef struct orch_step {
  const char *name; /* the plan, the report, --json */
  const char *text; /* what it does, for the plan */
  unsigned journal_id;
  orch_window window;
  int (*run)(orch_run *r); /* idempotent */
  /* For a step whose work is state on the host that others can change
   * after it (the registry values): how much of that work no longer
   * holds (0: all of it holds), so that `--resume` runs again a step the
   * journal shows done but whose result is gone. NULL: the journal is
   * taken at its word. */
  size_t (*undone)(orch_run *r);
  /* Rollback's line and work: looks at the host and undoes what is left
   * of this step, whether or not it ran (idempotent). NULL and NULL when
   * there is nothing to undo. */
  const char *undo_name;
  int (*undo)(orch_run *r);
} orch_step;

/* The table, ORCH_NSTEPS rows (below) in the move's order. */
extern const orch_step orch_steps[];

/* What orch_drive_waves did. */
typedef struct orch_waves_result {
  size_t reached; /* services of the set at `want` at the end */
  unsigned waves, waves_run;
  char failed[512]; /* "'A', 'B'": those that did not get there */
} orch_waves_result;
/* Brings p's services i with in[i] to `want` (stopped or running) in
 * dependency waves (orch_service_waves): a wave's requests together, the
 * next wave only once each of them got there or ran out of its timeout.
 * Returns the first error (each failure reported), 0 when all got there.
 * Used by the move's steps and by check --repair. */
int orch_drive_waves(pm_host *h, const orch_plan *p, const bool *in,
                     pm_svc_state want, unsigned stop_ms, unsigned start_ms,
                     orch_waves_result *res);
/* Sets in[i] for each of p's services that is not stopped (running,
 * starting or stopping); reports a failed query. Returns how many, or
 * the PM_E* of the first query that failed. */
int orch_services_running(pm_host *h, const orch_plan *p, bool *in);
/* Writes a value keeping its type (ImagePath through the SCM first). */
int orch_set_value(pm_host *h, const orch_value *v, const pm_reg_value *d);

/* ---- The state folder (state.c) ---- */

/* The state folder of a move: <state>/current. Caller frees. */
char *orch_state_current(pm_host *h, const char *state_dir);
/* Reads a state file whole, never through a symlink; PM_ESHORT when it
 * shrinks while read. The text is NUL-terminated, but may hold NUL bytes
 * of its own: callers use *len. Caller frees *out. */
int orch_state_read(const pm_fs *fs, const char *path, char **out,
                    size_t *len);
/* The XXH3-128 of s[0..len) as 32 hex digits and a NUL. */
void orch_state_hash_hex(const char *s, size_t len, char out[33]);

/* The state lock: "<state folder>/lock" (pm_side_lock), held by move,
 * stage, rollback and remove-old for their whole run, so that two
 * pomove processes never write one state folder. The folder is made
 * first when `create` (move, stage); without it an absent folder is not
 * locked (there is nothing to guard). Once the lock is held, the
 * temporaries killed runs and older pomove versions left in the folder
 * and in its subfolders are removed (orch_state_sweep). Reports its
 * failures (PM_EBUSY: another pomove holds it). */
int orch_state_lock(pm_host *h, const char *state_dir, bool create,
                    pm_sidelock *lk);
void orch_state_unlock(pm_host *h, pm_sidelock *lk);
/* Removes, from the state folder `base` and the folders directly in it,
 * the temporaries nobody will finish: "NAME.<16 hex>.tmp" (older pomove
 * versions; no pid, so call this only with the state lock held) and
 * "NAME.tmp-<pid>-<n>" whose pid has ended. Regular files only, beneath
 * a handle on `base`, never through a link; each removal is said
 * (pm_warnf). Returns the number removed or a PM_E* code (not
 * reported). */
int orch_state_sweep(const pm_fs *fs, const char *base);

/* ---- The step journal (step_journal.c) ---- */

typedef struct orch_journal {
  char *path;
  const pm_fs *fs;
  unsigned seq;
  uint64_t valid_len; /* bytes of whole, checked records */
  /* What the records say so far. */
  bool started, move_done, rollback_begun, rollback_done;
  bool old_removed; /* remove-old began: a rollback has nothing to return to */
  unsigned step_done[32]; /* 1 when step k completed */
} orch_journal;

/* Opens (creating) the journal of a move and replays it; a torn last
 * record is ignored, a damaged earlier one is PM_ECORRUPT. */
int orch_journal_open(const pm_fs *fs, const char *path,
                      orch_journal *j);
/* Appends one record "<event> <step>" and syncs it. */
int orch_journal_add(orch_journal *j, const char *event, int step);
void orch_journal_close(orch_journal *j);

/* ---- The commands' engines ---- */

/* The move (or with o->resume its continuation; with o->dry_run the
 * plan only), and the rollback of the move in the state folder. Return 0
 * (also when there was nothing left to do) or a reported PM_E*, and fill
 * *res (refused, interrupted). */
int orch_move(pm_host *h, const orch_options *o, orch_result *res);
int orch_rollback(pm_host *h, const orch_options *o, orch_result *res);

typedef struct orch_check_options {
  const char *expect;
  const char *state_dir;
  bool repair, json;
  unsigned stop_timeout_ms, start_timeout_ms;
  FILE *out;
} orch_check_options;
/* `pomove check`: the audit, and with o->repair the repair and a second
 * audit. 0 (res->partial when the last audit has findings) or a reported
 * PM_E* (res->refused for an unusable --expect). Ctrl-C is not told
 * apart: the caller looks at pm_interrupted(). */
int orch_check(pm_host *h, const orch_check_options *o, orch_result *res);
/* The names and order of the move's steps. */
#define ORCH_NSTEPS 10
const char *orch_step_name(int step);
const char *orch_step_text(int step);

/* snprintf into a fixed field; a longer result is cut (the fields are
 * sized by Win32's own limits). strf.c. */
void orch_strf(char *dst, size_t cap, const char *fmt, ...)
    PM_PRINTF_FMT(3, 4);

/* Removes a tree through the fs table, depth first, beneath a handle on
 * it (pm_file_remove_tree: no link is followed, a link at `path` is
 * removed itself); reports an entry inside that cannot be removed, and
 * returns 0 or PM_E* (PM_ECANCELED on Ctrl-C) for the caller to report
 * with the tree's name. */
int orch_remove_tree(const pm_fs *fs, const char *path);

/* `pomove remove-old`: deletes the old Msmcon of a completed move after
 * a clean audit of it against the copy's manifest. */
typedef struct orch_remove_options {
  const char *state_dir;
  bool dry_run, json;
  FILE *out;
} orch_remove_options;
/* 0 when the old tree is gone (or, with o->dry_run, would go), also with
 * res->partial when it is kept because it differs from the manifest;
 * else a reported PM_E* with res->refused (no completed move to remove
 * the old tree of) or res->interrupted. */
int orch_remove_old(pm_host *h, const orch_remove_options *o,
                    orch_result *res);

/* ---- The stage (stage.c) ---- */

/* <state>/stage, where the record, manifest, state and journal of the
 * staged copy live. Caller frees. */
char *orch_stage_dir(pm_host *h, const char *state_dir);
/* Reads the record: 0, PM_ENOENT (nothing staged; not reported), or an
 * error that has been reported naming the file and line. */
int orch_stage_load(pm_host *h, const char *state_dir, orch_stage *s);
int orch_stage_save(pm_host *h, const char *path, const orch_stage *s);
/* A cheap estimate of what changed in the source since the last pass
 * began: regular files whose mtime or change time is later. */
void orch_stage_changed(pm_host *h, orch_stage *s);
void orch_stage_print(const orch_stage *s, FILE *out);
void orch_stage_json(const orch_stage *s, FILE *out);
/* `pomove stage` (or `--discard`). 0 (res->partial when the pass left
 * files it could not copy) or a reported PM_E*, with res->refused or
 * res->interrupted. */
int orch_stage_cmd(pm_host *h, const orch_options *o, bool discard,
                   orch_result *res);
/* Removes the folder at path and everything in it through a handle on
 * it: no symbolic link beneath is followed (a link is removed itself). */
int orch_remove_beneath(const pm_fs *fs, const char *path);

#endif
