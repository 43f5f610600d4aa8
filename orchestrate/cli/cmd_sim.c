/* cmd_sim.c - `pomove sim-create`: the command line of the sample
 * simulated Windows host (simcreate.c does the work). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "orch.h"
#include "simcreate.h"
#include "sys.h"
#include "util.h"

static const char help[] =
    "usage: pomove sim-create DIR [options]\n"
    "\n"
    "Creates a simulated Exchange 5.5 host in DIR for `--host sim:DIR`:\n"
    "drive C: (FAT) with C:\\exchsrvr\\Connect\\Msmcon (a generated\n"
    "connector postoffice), drive D: (empty) as the destination, the\n"
    "registry as Exchange 5.5 has it (REGEDIT5 file DIR/registry.reg), the\n"
    "Maildat$ share with its remark and security descriptor, and the\n"
    "connector services running as background processes that keep files of\n"
    "the postoffice open.\n"
    "\n"
    "  --files N            files in the postoffice (default 1000)\n"
    "  --seed S             generator seed (default 1)\n"
    "  --postoffice DIR     copy this Msmcon tree (Bin, Maildata) instead of\n"
    "                       generating one\n"
    "  --no-atmta           no AppleTalk MTA (and no Macintosh volume)\n"
    "  --pcmta N            number of PC MTA instances, 0-5 (default 2:\n"
    "                       \"Legacy Mail Connector\", \"MTA to Vancouver PO\")\n"
    "  --pcmta-name NAME    a PC MTA instance of this name (repeatable;\n"
    "                       replaces the defaults)\n"
    "  --no-share           do not share Maildata as Maildat$\n"
    "  --dest-fs TYPE       file system of D: (NTFS, or FAT to see the\n"
    "                       refusal)\n"
    "  --dest-free B        declared free space of D:\n"
    "  --start-delay MS     how long a service takes to start (400)\n"
    "  --stop-delay MS      how long a service takes to stop (600)\n"
    "  --touch MS           how often a running service writes (200)\n"
    "  -q, --quiet          print nothing on success (errors are still shown)\n"
    "\n"
    "Sizes (B) and --files take K, M, G, T (also KB, KiB; any case), powers\n"
    "of 1024. Ctrl-C or SIGTERM stops it within a second or two (exit 130)\n"
    "and stops the services it started; DIR then holds part of a host:\n"
    "remove it and run the command again.\n"
    "\n"
    "Exit codes: 0 created; 2 bad arguments or DIR not empty; 3 failed;\n"
    "130 interrupted.\n";

static bool valid_pcmta_name(const char *s) {
  size_t n = strlen(s);
  if (!n || n > 30) return false;
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == ' '))
      return false;
  return true;
}

int orch_cmd_sim_create(int argc, char **argv) {
  orch_sim_options o;
  orch_sim_options_init(&o);
  bool named = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    uint64_t n = 0;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(help, stdout);
      return PM_EXIT_OK;
    }
    if ((v = orch_cli_value(argc, argv, &i, "files"))) {
      if (*v && pm_cli_size("sim-create", "--files", v, 60, 100000000,
                            PM_SIZE_COUNT, &n))
        return PM_EXIT_USAGE;
      o.files = n;
    } else if ((v = orch_cli_value(argc, argv, &i, "seed"))) {
      if (*v && pm_cli_size("sim-create", "--seed", v, 0, UINT32_MAX,
                            PM_SIZE_PLAIN, &n))
        return PM_EXIT_USAGE;
      o.seed = (uint32_t)n;
    } else if ((v = orch_cli_value(argc, argv, &i, "pcmta-name"))) {
      if (!valid_pcmta_name(v) || (named && o.npcmta == 30)) {
        pm_report_errorf(PM_EINVAL, "--pcmta-name: '%s' is not 1-30 letters "
                                    "and spaces", v);
        return PM_EXIT_USAGE;
      }
      if (!named) o.npcmta = 0;
      named = true;
      o.pcmta[o.npcmta++] = v;
    } else if ((v = orch_cli_value(argc, argv, &i, "pcmta"))) {
      char *end;
      unsigned long c = strtoul(v, &end, 10);
      if (!*v || *end || c > 5) {
        pm_report_errorf(PM_EINVAL, "--pcmta: '%s' is not 0-5", v);
        return PM_EXIT_USAGE;
      }
      o.npcmta = c;
      for (size_t k = 0; k < c; k++) o.pcmta[k] = orch_sim_default_pcmta(k);
    } else if ((v = orch_cli_value(argc, argv, &i, "postoffice"))) {
      o.postoffice = v;
    } else if ((v = orch_cli_value(argc, argv, &i, "dest-fs"))) {
      o.dest_fs = v;
    } else if ((v = orch_cli_value(argc, argv, &i, "dest-free"))) {
      if (*v && pm_cli_size("sim-create", "--dest-free", v, 0, UINT64_MAX,
                            0, &o.dest_free))
        return PM_EXIT_USAGE;
    } else if ((v = orch_cli_value(argc, argv, &i, "start-delay")) ||
               (v = orch_cli_value(argc, argv, &i, "stop-delay")) ||
               (v = orch_cli_value(argc, argv, &i, "touch"))) {
      /* Milliseconds, up to an hour (the simulated services' timers); a
       * service writes every --touch ms, so that one is at least 1. */
      bool start = !strncmp(a, "--start-delay", 13);
      bool stop = !strncmp(a, "--stop-delay", 12);
      const char *opt = start ? "--start-delay"
                        : stop ? "--stop-delay" : "--touch";
      if (*v && pm_cli_size("sim-create", opt, v, start || stop ? 0 : 1,
                            3600000, PM_SIZE_PLAIN, &n))
        return PM_EXIT_USAGE;
      unsigned ms = (unsigned)n;
      if (start) o.cfg.start_delay_ms = ms;
      else if (stop) o.cfg.stop_delay_ms = ms;
      else o.cfg.touch_ms = ms;
    } else if (!strcmp(a, "--no-atmta")) {
      o.atmta = false;
    } else if (!strcmp(a, "--no-share")) {
      o.share = false;
    } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
      o.quiet = true;
    } else if (a[0] == '-') {
      pm_report_errorf(PM_EINVAL, "sim-create: unknown option '%s' (see "
                                  "--help)", a);
      return PM_EXIT_USAGE;
    } else if (!o.dir) {
      o.dir = a;
    } else {
      pm_report_errorf(PM_EINVAL, "sim-create: one DIR only ('%s')", a);
      return PM_EXIT_USAGE;
    }
    if (v && !*v) {
      pm_report_errorf(PM_EINVAL, "sim-create: option '%s' needs a value", a);
      return PM_EXIT_USAGE;
    }
  }
  if (!o.dir) {
    pm_report_errorf(PM_EINVAL, "sim-create: DIR is required (see --help)");
    return PM_EXIT_USAGE;
  }
  pm_interrupt_catch();
  int rc = orch_sim_create(&o);
  /* A DIR that exists is refused before anything is created. */
  cli_outcome out = {.refused = rc == PM_EEXIST};
  if (!out.refused && pm_interrupted()) {
    /* No simulated service may outlive an interrupted creation. */
    pm_sim_kill_all(o.dir);
    fprintf(stderr, "pomove sim-create: interrupted; '%s' holds part of a "
                    "host: remove it (rm -r) and run the same command "
                    "again\n", o.dir);
    out.interrupted = true;
  }
  int code = cli_exit_code(rc, out);
  if (code != PM_EXIT_OK) return code;
  if (!o.quiet) {
    printf("Simulated Exchange 5.5 host created in %s\n", o.dir);
    if (o.postoffice)
      printf("  C: FAT   C:\\exchsrvr\\Connect\\Msmcon (copied from %s)\n",
             o.postoffice);
    else
      printf("  C: FAT   C:\\exchsrvr\\Connect\\Msmcon (%llu files "
             "generated)\n",
             (unsigned long long)o.files);
    printf("  D: %-5s empty\n", o.dest_fs);
    printf("  services MSExchangeMSMI%s", o.atmta ? ", MSExchangeATMTA" : "");
    for (size_t i = 0; i < o.npcmta; i++) printf(", %s", o.pcmta[i]);
    printf(" (running)\n  share    %s\n",
           o.share ? "Maildat$ -> C:\\exchsrvr\\Connect\\Msmcon\\Maildata"
                   : "none");
    printf("Next: pomove move --host sim:%s --from 'C:\\exchsrvr' --to 'D:'\n",
           o.dir);
  }
  return code;
}
