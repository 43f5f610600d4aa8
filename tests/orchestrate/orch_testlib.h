/* orch_testlib.h - support for the orchestrate tests: sample simulated
 * hosts in scratch folders, snapshots of a host's registry file, shares
 * and service states, and a fault-injecting host that wraps another one's
 * tables and fails the Nth call with a side effect (SQLite test_vfs
 * style), once or from then on. */
#ifndef POMOVE_ORCH_TESTLIB_H
#define POMOVE_ORCH_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>

#include "host.h"
#include "orch.h"
#include "simcreate.h"

/* Sample-host options for tests: few files (a postoffice generated once
 * per process and copied), short delays. */
void ot_sim_options(orch_sim_options *o, const char *dir);
void ot_drop_template(void);
/* Creates a host in a new folder under the scratch dir; returns the
 * folder (static buffer per call index 0..7). */
const char *ot_make_host(const orch_sim_options *o);
char *ot_spec(const char *dir); /* "sim:DIR", caller frees */
pm_host *ot_open(const char *dir);

typedef struct ot_snapshot {
  char *reg;
  size_t reglen;
  char *shares;
  char *services; /* "name=state\n" for every service */
} ot_snapshot;

void ot_snap(const char *dir, ot_snapshot *s);
void ot_snap_free(ot_snapshot *s);
/* Asserts the two are byte-identical (registry file, shares file,
 * service states). */
void ot_assert_same(const ot_snapshot *a, const ot_snapshot *b);

/* Options for the engines: quiet output, short timeouts; the copy is
 * verified unless ot_no_verify is set (the fault loops, which run the
 * move hundreds of times: the verification is the copy engine's own
 * subject and test_orch_move runs it). */
extern bool ot_no_verify;
void ot_move_options(orch_options *o);
/* The same, for the move most tests make: C:\exchsrvr to D:. */
void ot_kb_move_options(orch_options *o);

/* The fault host. Kinds of calls counted: host calls with a side effect
 * (stop, start, set_image_path, share add/del, registry set/del) and,
 * with count_fs, file-system calls with a side effect outside the copied
 * tree (open for writing, mkdir, rename, unlink, rmdir), so the move's
 * plan, journal, backup and target folders fail too. */
typedef struct ot_fault {
  pm_host pub; /* first: the tables handed to the code under test */
  pm_host *inner;
  struct fl_layer *fsl; /* the file-system half (faultlayer.h) */
  long calls, fail_at; /* fail call number fail_at (1-based); 0 never */
  bool persistent;     /* fail every call from fail_at on */
  bool count_host, count_fs;
  bool fired;
  char skip_prefix[4096]; /* fs paths under this are not counted */
  /* Step targeting through the step journal's records (each one opens
   * the journal file): after journal open number arm_after_journal, the
   * next counted call fails; journal open number fail_journal fails. */
  long journal_opens, arm_after_journal, fail_journal;
  bool armed;
} ot_fault;

/* Wraps `inner`; counting starts at 0. ot_fault_fini() frees what init
 * made, once the host is no longer used. */
void ot_fault_init(ot_fault *f, pm_host *inner, long fail_at,
                   bool persistent, bool count_host, bool count_fs);
void ot_fault_fini(ot_fault *f);
/* Runs the move o on h through a fault host that fails the first call it
 * counts (host calls with side effects with count_host, file-system side
 * effects with count_fs) after step k's "begin" record (journal opens: 1
 * "start", then "begin k" is 2 + 2k); asserts that the move failed there. */
void ot_move_failing_at_step(pm_host *h, const orch_options *o, int k,
                             bool count_host, bool count_fs);

/* Asserts the host is in the state a complete move to
 * D:\ExchSrvr\Connect\Msmcon leaves: every connector service runs
 * from there, Maildat$ serves its Maildata, no registry value mentions
 * the old Msmcon. */
void ot_assert_moved(const char *dir);
/* Every registry value, "key\name=type:display" lines; caller frees. */
char *ot_dump(const char *dir);

/* How an orchestrate command ended, from its return and its orch_result:
 * the cases the command line gives an exit code each (cli_exit_code).
 * ot_outcome_of also asserts the library's contract: the return is 0 or
 * negative; refused and interrupted come with an error (interrupted with
 * PM_ECANCELED), never both; partial only with 0. */
typedef enum ot_outcome {
  OT_DONE = 0,  /* exit 0 */
  OT_PARTIAL,   /* exit 1: findings, or an old tree kept */
  OT_REFUSED,   /* exit 2 */
  OT_FAILED,    /* exit 3 */
  OT_INTERRUPTED /* exit 130 */
} ot_outcome;
ot_outcome ot_outcome_of(int rc, const orch_result *r);
/* orch_move, orch_rollback and orch_check with their outcome. */
ot_outcome ot_move(pm_host *h, const orch_options *o);
ot_outcome ot_rollback(pm_host *h, const orch_options *o);
ot_outcome ot_check(pm_host *h, const orch_check_options *o);

/* Ends the simulated service processes of every host made. */
void ot_kill_all(void);

/* A test group's fixtures: ot_group_setup makes the group's scratch
 * folder (ot_scratch() names it); ot_group_teardown ends every simulated
 * service and removes the scratch folder; ot_kill_hosts, a per-test
 * teardown, ends the services so that none outlives its test. */
int ot_group_setup(void **state);
int ot_group_teardown(void **state);
int ot_kill_hosts(void **state);
const char *ot_scratch(void);

/* Reads a registry value's string data (NULL when absent); type out. */
char *ot_reg_str(const char *dir, const char *key, const char *name,
                 uint32_t *type);

#endif
