/* simcreate.h - the sample simulated host (simcreate.c): an Exchange 5.5
 * server with a generated connector postoffice, made through the
 * simulator's creation calls (host.h, pm_sim_*). Built only where the
 * simulator is (POMOVE_HAVE_SIM: Linux, the test harness); used by
 * `pomove sim-create` (cli/cmd_sim.c) and tests/orchestrate/. */
#ifndef POMOVE_SIMCREATE_H
#define POMOVE_SIMCREATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"

typedef struct orch_sim_options {
  const char *dir;
  uint64_t files;
  uint32_t seed;
  bool atmta, share;
  const char *pcmta[30];
  size_t npcmta;
  const char *dest_fs;
  uint64_t dest_free;
  /* An existing Msmcon tree (native path) to copy instead of generating
   * one: a real postoffice, or a template a test made once. */
  const char *postoffice;
  pm_sim_config cfg;
  bool quiet;
  /* The table the postoffice's folders and files (the stubs, a copied
   * `postoffice`, the registry file) are written through; NULL: the
   * native one. A test wraps it to inject faults. */
  const pm_fs *fs;
} orch_sim_options;
void orch_sim_options_init(orch_sim_options *o);
/* The sample PC MTA instance names, in order; NULL past the end. */
const char *orch_sim_default_pcmta(size_t i);
/* Creates the sample Exchange 5.5 host; reports errors itself. */
int orch_sim_create(const orch_sim_options *o);

#endif
