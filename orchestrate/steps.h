/* steps.h - one run of `move` or `rollback` as the steps of steps.c see
 * it, and the helpers the two walkers of move.c share with them. Internal
 * to orchestrate/ (steps.c, move.c); the table itself is in orch.h. */
#ifndef POMOVE_STEPS_H
#define POMOVE_STEPS_H

#include <stdio.h>

#include "copyengine.h"
#include "orch.h"
#include "sys.h"
#include "util.h"

typedef struct orch_step_result {
  int status; /* 0 not run, 1 done, 2 skipped (done earlier), -1 failed */
  double seconds;
  uint64_t t_begin, t_end; /* pm_now_ns() around the step, this run */
  char detail[512];
} orch_step_result;

struct orch_run {
  pm_host *h;
  const orch_options *o;
  orch_plan *p;
  FILE *out;
  char *state;
  orch_journal j;
  orch_step_result res[ORCH_NSTEPS];
  char detail[512]; /* what the step (or undo) just run did, or why not */
  ce_result copy;
  bool copied;
  pm_progress prog;
  /* A stage preceded the move: the copy step was its final delta pass. */
  bool staged;
  double delta_s, verify_s; /* the copy step's two phases */
  bool verified_all;
  uint64_t verify_all_files;
  size_t values_restored; /* rollback: values given back their old data */
};

/* Creates path and its missing parents through the fs table, reporting
 * a failure; 0 or PM_E*. */
int orch_mkdirs(const pm_fs *fs, const char *path);

static inline double orch_since(uint64_t t0) {
  return (double)(pm_now_ns() - t0) / 1e9;
}

#endif
