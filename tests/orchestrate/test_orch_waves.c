/* test_orch_waves.c - the connector services stop and start in dependency
 * waves (issue 16's downtime), read from the simulated SCM's record of
 * every request (pm_sim_service_log: when it came, when it completes,
 * whether it was refused), never from the wall clock: the sample host's
 * ATMTA depends on MSMI (Q143380), the two PC MTAs on neither, so the
 * move stops ATMTA and the PC MTAs together, then MSMI, and starts MSMI
 * and the PC MTAs together, then ATMTA. Also: the waves computed from a
 * plan (chains, sets, a plan of an earlier pomove, a cycle); the
 * simulator refusing and recording an order the SCM would refuse; a
 * service that will not stop in wave 1 or in wave 2; a move killed
 * between two waves and resumed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orch_testlib.h"
#include "testutil.h"
#include "util.h"

#define ATMTA "MSExchangeATMTA"
#define MSMI "MSExchangeMSMI"
#define LEGACY "Legacy Mail Connector"
#define VANC "MTA to Vancouver PO"

/* A sample host whose four connector services each take their own time
 * to stop and to start. */
static char *make_host(const char *name) {
  char *dir = pm_xasprintf("%s/%s", ot_scratch(), name);
  orch_sim_options so;
  ot_sim_options(&so, dir);
  ot_make_host(&so);
  static const struct {
    const char *svc, *stop, *start;
  } d[] = {{ATMTA, "500", "300"},
           {LEGACY, "400", "300"},
           {VANC, "700", "450"},
           {MSMI, "450", "350"}};
  for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
    assert_int_equal(
        pm_sim_set_service_option(dir, d[i].svc, "stop_delay_ms", d[i].stop),
        0);
    assert_int_equal(pm_sim_set_service_option(dir, d[i].svc,
                                               "start_delay_ms", d[i].start),
                     0);
  }
  return dir;
}

/* The requests the host got from number `from` on. */
typedef struct reqs {
  pm_sim_request *q;
  size_t n, from;
} reqs;

static size_t log_count(const char *dir) {
  pm_sim_request *q;
  size_t n;
  assert_int_equal(pm_sim_service_log(dir, &q, &n), 0);
  free(q);
  return n;
}

static void log_read(const char *dir, size_t from, reqs *r) {
  assert_int_equal(pm_sim_service_log(dir, &r->q, &r->n), 0);
  assert_true(r->n >= from);
  r->from = from;
}

/* The nth (0-based) accepted stop or start request of `name`; NULL when
 * there are fewer. */
static const pm_sim_request *req(const reqs *r, bool stop, const char *name,
                                 int nth) {
  for (size_t i = r->from; i < r->n; i++)
    if (r->q[i].stop == stop && !r->q[i].refused &&
        !strcmp(r->q[i].name, name) && nth-- == 0)
      return &r->q[i];
  return NULL;
}

static const pm_sim_request *must(const reqs *r, bool stop,
                                  const char *name, int nth) {
  const pm_sim_request *q = req(r, stop, name, nth);
  if (!q)
    fail_msg("no %s request %d for '%s'", stop ? "stop" : "start", nth + 1,
             name);
  return q;
}

static void no_refusal(const reqs *r) {
  for (size_t i = r->from; i < r->n; i++)
    if (r->q[i].refused)
      fail_msg("the SCM refused to %s '%s' (because of '%s')",
               r->q[i].stop ? "stop" : "start", r->q[i].name, r->q[i].other);
}

/* The requests of one wave came together: every one of them before any
 * of them completed (one after another, the second would come only once
 * the first is done). Requests that never complete (done 0) are left out
 * of the completions. */
static void together(const pm_sim_request *const *w, size_t n) {
  uint64_t last_req = 0, first_done = UINT64_MAX;
  for (size_t i = 0; i < n; i++) {
    if (w[i]->t_ns > last_req) last_req = w[i]->t_ns;
    if (w[i]->done_ns && w[i]->done_ns < first_done)
      first_done = w[i]->done_ns;
  }
  for (size_t i = 0; i < n; i++)
    if (w[i]->t_ns >= first_done)
      fail_msg("'%s' was asked %.0f ms after the first of its wave had "
               "completed: not one wave",
               w[i]->name, (double)(w[i]->t_ns - first_done) / 1e6);
  assert_true(last_req < first_done);
}

/* `later` came only once every one of `before` had completed. */
static void after_all(const pm_sim_request *later,
                      const pm_sim_request *const *before, size_t n) {
  for (size_t i = 0; i < n; i++) {
    assert_true(before[i]->done_ns != 0);
    if (later->t_ns < before[i]->done_ns)
      fail_msg("'%s' was asked %.0f ms before '%s' had completed",
               later->name,
               (double)(before[i]->done_ns - later->t_ns) / 1e6,
               before[i]->name);
  }
}

static char *read_json(const char *path) {
  size_t len;
  char *j = tu_read_all(path, &len);
  assert_non_null(j);
  return j;
}

static ot_outcome move_json(const char *dir, bool resume, const char *json) {
  orch_options o;
  ot_move_options(&o);
  if (resume) {
    o.resume = true;
  } else {
    o.from = "C:\\exchsrvr";
    o.to = "D:";
  }
  o.stop_timeout_ms = 1500;
  FILE *f = NULL;
  if (json) {
    o.json = true;
    f = fopen(json, "w");
    assert_non_null(f);
    o.out = f;
  }
  pm_host *h = ot_open(dir);
  ot_outcome rc = ot_move(h, &o);
  pm_host_close(h);
  if (f) fclose(f);
  return rc;
}

/* The waves of the KB host's four running services, from the log: no
 * refusal; ATMTA and the two PC MTAs asked to stop together, MSMI after
 * all of them stopped; MSMI and the PC MTAs started together, ATMTA
 * after all of them ran. */
static void kb_waves(reqs *r) {
  no_refusal(r);
  const pm_sim_request *s1[] = {must(r, true, ATMTA, 0),
                                must(r, true, LEGACY, 0),
                                must(r, true, VANC, 0)};
  together(s1, 3);
  after_all(must(r, true, MSMI, 0), s1, 3);
  const pm_sim_request *a1[] = {must(r, false, MSMI, 0),
                                must(r, false, LEGACY, 0),
                                must(r, false, VANC, 0)};
  together(a1, 3);
  after_all(must(r, false, ATMTA, 0), a1, 3);
}

/* The whole move: two stop waves, two start waves, each wave's requests
 * together, each wave after the last one's completions, and the waves in
 * the plan's JSON. */
static void test_waves_move(void **state) {
  (void)state;
  char *dir = make_host("move");
  size_t from = log_count(dir);
  char *jp = pm_xasprintf("%s/move.json", ot_scratch());
  assert_int_equal(move_json(dir, false, jp), OT_DONE);
  ot_assert_moved(dir);
  reqs r;
  log_read(dir, from, &r);
  kb_waves(&r);
  /* Nothing was asked twice, and every start came after every stop. */
  assert_null(req(&r, true, ATMTA, 1));
  assert_null(req(&r, true, MSMI, 1));
  assert_null(req(&r, false, MSMI, 1));
  assert_null(req(&r, false, ATMTA, 1));
  assert_true(must(&r, false, MSMI, 0)->t_ns >
              must(&r, true, MSMI, 0)->done_ns);
  char *j = read_json(jp);
  assert_non_null(strstr(j, "\"name\":\"" ATMTA "\",\"role\":\"atmta\","
                            "\"was_running\":true,\"depends_on\":[\"" MSMI
                            "\"],\"stop_wave\":1,\"start_wave\":2}"));
  assert_non_null(strstr(j, "\"name\":\"" MSMI "\",\"role\":\"msmi\","
                            "\"was_running\":true,\"depends_on\":[],"
                            "\"stop_wave\":2,\"start_wave\":1}"));
  assert_non_null(strstr(j, "4 stopped in 2 waves"));
  assert_non_null(strstr(j, "4 running, started in 2 waves"));
  free(j);
  free(r.q);
  free(jp);
  free(dir);
}

/* `pomove plan`'s text shows the waves. */
static void test_waves_plan_text(void **state) {
  (void)state;
  char *dir = make_host("plantext");
  char *txt = pm_xasprintf("%s/plan.txt", ot_scratch());
  orch_options o;
  ot_kb_move_options(&o);
  o.dry_run = true;
  o.out = fopen(txt, "w");
  pm_host *h = ot_open(dir);
  assert_int_equal(ot_move(h, &o), OT_DONE);
  pm_host_close(h);
  fclose(o.out);
  char *t = read_json(txt);
  assert_non_null(strstr(t, "  stop:  wave 1 " ATMTA ", " LEGACY ", " VANC
                            "; wave 2 " MSMI "\n"));
  assert_non_null(strstr(t, "  start: wave 1 " MSMI ", " VANC ", " LEGACY
                            "; wave 2 " ATMTA "\n"));
  assert_non_null(strstr(t, "running; needs " MSMI "\n"));
  free(t);
  free(txt);
  free(dir);
}

/* A service that ignores the stop control, in wave 1 or wave 2: the move
 * fails at stop-services, the services that had stopped run again (in
 * their start waves, never refused), nothing else changed, and the
 * report names the service. */
static void will_not_stop(const char *svc) {
  bool wave2 = !strcmp(svc, MSMI);
  char *dir = make_host(wave2 ? "nostop2" : "nostop1");
  assert_int_equal(pm_sim_set_service_option(dir, svc, "stop", "ignore"), 0);
  ot_snapshot s0;
  ot_snap(dir, &s0);
  size_t from = log_count(dir);
  char *jp = pm_xasprintf("%s/nostop.json", ot_scratch());
  assert_int_equal(move_json(dir, false, jp), OT_FAILED);
  ot_snapshot s1;
  ot_snap(dir, &s1);
  ot_assert_same(&s0, &s1);
  assert_int_not_equal(tu_sh("test -e '%s/drives/D/ExchSrvr'", dir), 0);
  reqs r;
  log_read(dir, from, &r);
  no_refusal(&r);
  const pm_sim_request *s1r[] = {must(&r, true, ATMTA, 0),
                                 must(&r, true, LEGACY, 0),
                                 must(&r, true, VANC, 0)};
  together(s1r, 3);
  char *j = read_json(jp);
  char *named = pm_xasprintf("'%s' did not stop (stop wave %d of 2)", svc,
                             wave2 ? 2 : 1);
  if (!strstr(j, named)) fail_msg("no \"%s\" in %s", named, j);
  free(named);
  free(j);
  if (wave2) {
    /* Wave 2 was asked only once wave 1 had stopped; then all of wave 1
     * started again, at once (MSMI still runs). */
    after_all(must(&r, true, MSMI, 0), s1r, 3);
    const pm_sim_request *again[] = {must(&r, false, ATMTA, 0),
                                     must(&r, false, LEGACY, 0),
                                     must(&r, false, VANC, 0)};
    together(again, 3);
    for (int i = 0; i < 3; i++) after_all(again[i], s1r, 3);
    assert_null(req(&r, false, MSMI, 0));
  } else {
    /* MSMI was never asked; the two of wave 1 that stopped run again. */
    assert_null(req(&r, true, MSMI, 0));
    const pm_sim_request *again[] = {must(&r, false, ATMTA, 0),
                                     must(&r, false, LEGACY, 0)};
    after_all(again[0], &s1r[0], 1);
    after_all(again[1], &s1r[1], 1);
    assert_null(req(&r, false, VANC, 0));
  }
  free(r.q);
  ot_snap_free(&s0);
  ot_snap_free(&s1);
  free(jp);
  free(dir);
}

static void test_waves_will_not_stop_wave1(void **state) {
  (void)state;
  will_not_stop(VANC);
}

static void test_waves_will_not_stop_wave2(void **state) {
  (void)state;
  will_not_stop(MSMI);
}

/* ---- killed between two waves ---- */

static const char *kill_at_name;
static bool kill_at_stop;
static int (*inner_stop)(pm_host *h, const char *name);
static int (*inner_start)(pm_host *h, const char *name);

static int stop_or_die(pm_host *h, const char *name) {
  if (kill_at_stop && !strcmp(name, kill_at_name)) _exit(137);
  return inner_stop(h, name);
}

static int start_or_die(pm_host *h, const char *name) {
  if (!kill_at_stop && !strcmp(name, kill_at_name)) _exit(137);
  return inner_start(h, name);
}

/* In a child: the move, through a service table that ends the process
 * (as a kill would, no clean-up) when `name` is about to be asked to
 * stop (or start): the moment between its wave and the one before. */
static void killed_move(const char *dir, const char *name, bool at_stop) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    pm_host *h = NULL;
    char *spec = ot_spec(dir);
    if (pm_host_open(spec, &h) < 0) _exit(2);
    pm_svc_ops ops = *h->svc;
    inner_stop = ops.stop;
    inner_start = ops.start;
    ops.stop = stop_or_die;
    ops.start = start_or_die;
    kill_at_name = name;
    kill_at_stop = at_stop;
    pm_host pub = *h;
    pub.svc = &ops;
    orch_options o;
    ot_kb_move_options(&o);
    orch_result res;
    orch_move(&pub, &o, &res);
    _exit(0);
  }
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 137);
}

static pm_svc_state state_of(const char *dir, const char *name) {
  pm_host *h = ot_open(dir);
  pm_svc_info si;
  assert_int_equal(h->svc->query(h, name, &si), 0);
  pm_host_close(h);
  return si.state;
}

/* Killed after the first stop wave, before MSMI's request: the first
 * wave's services are stopped, MSMI runs; --resume stops MSMI only (each
 * of wave 1 was asked once) and completes the move. */
static void test_waves_resume_between_stop_waves(void **state) {
  (void)state;
  char *dir = make_host("killstop");
  size_t from = log_count(dir);
  killed_move(dir, MSMI, true);
  assert_int_equal(state_of(dir, ATMTA), PM_SVC_STOPPED);
  assert_int_equal(state_of(dir, LEGACY), PM_SVC_STOPPED);
  assert_int_equal(state_of(dir, VANC), PM_SVC_STOPPED);
  assert_int_equal(state_of(dir, MSMI), PM_SVC_RUNNING);
  assert_int_equal(move_json(dir, true, NULL), OT_DONE);
  ot_assert_moved(dir);
  reqs r;
  log_read(dir, from, &r);
  no_refusal(&r);
  const pm_sim_request *s1[] = {must(&r, true, ATMTA, 0),
                                must(&r, true, LEGACY, 0),
                                must(&r, true, VANC, 0)};
  after_all(must(&r, true, MSMI, 0), s1, 3);
  assert_null(req(&r, true, ATMTA, 1));
  assert_null(req(&r, true, MSMI, 1));
  after_all(must(&r, false, ATMTA, 0), (const pm_sim_request *[]){
                                           must(&r, false, MSMI, 0)}, 1);
  free(r.q);
  free(dir);
}

/* Killed after the first start wave, before ATMTA's request: --resume
 * starts ATMTA only. */
static void test_waves_resume_between_start_waves(void **state) {
  (void)state;
  char *dir = make_host("killstart");
  size_t from = log_count(dir);
  killed_move(dir, ATMTA, false);
  assert_int_equal(state_of(dir, MSMI), PM_SVC_RUNNING);
  assert_int_equal(state_of(dir, LEGACY), PM_SVC_RUNNING);
  assert_int_equal(state_of(dir, ATMTA), PM_SVC_STOPPED);
  assert_int_equal(move_json(dir, true, NULL), OT_DONE);
  ot_assert_moved(dir);
  reqs r;
  log_read(dir, from, &r);
  no_refusal(&r);
  const pm_sim_request *a1[] = {must(&r, false, MSMI, 0),
                                must(&r, false, LEGACY, 0),
                                must(&r, false, VANC, 0)};
  after_all(must(&r, false, ATMTA, 0), a1, 3);
  assert_null(req(&r, false, MSMI, 1));
  assert_null(req(&r, false, ATMTA, 1));
  free(r.q);
  free(dir);
}

/* ---- the simulator as the SCM ---- */

/* It refuses, and records, a stop of MSMI while ATMTA runs or is still
 * stopping, and a start of ATMTA while MSMI is stopped; services asked
 * together stop each after its own delay. */
static void test_waves_sim_records_order(void **state) {
  (void)state;
  char *dir = make_host("simorder");
  size_t from = log_count(dir);
  pm_host *h = ot_open(dir);
  assert_int_equal(h->svc->stop(h, MSMI), PM_EBUSY);
  assert_int_equal(h->svc->stop(h, ATMTA), 0);
  assert_int_equal(h->svc->stop(h, LEGACY), 0);
  assert_int_equal(h->svc->stop(h, VANC), 0);
  pm_svc_info si;
  assert_int_equal(h->svc->query(h, ATMTA, &si), 0);
  if (si.state == PM_SVC_STOP_PENDING)
    assert_int_equal(h->svc->stop(h, MSMI), PM_EBUSY);
  assert_int_equal(h->svc->wait(h, ATMTA, PM_SVC_STOPPED, 5000, NULL), 0);
  assert_int_equal(h->svc->stop(h, MSMI), 0);
  assert_int_equal(h->svc->wait(h, MSMI, PM_SVC_STOPPED, 5000, NULL), 0);
  assert_int_equal(h->svc->start(h, ATMTA), PM_ESTATE);
  assert_int_equal(h->svc->wait(h, VANC, PM_SVC_STOPPED, 5000, NULL), 0);
  pm_host_close(h);
  reqs r;
  log_read(dir, from, &r);
  const pm_sim_request *q = &r.q[from];
  assert_true(q->stop && q->refused && !strcmp(q->name, MSMI) &&
              !strcmp(q->other, ATMTA) && q->done_ns == 0);
  const pm_sim_request *l = must(&r, true, LEGACY, 0),
                       *v = must(&r, true, VANC, 0);
  /* Each with its own delay (400 and 700 ms), from its own request (the
   * log line is written just after the request's time is taken). */
  assert_true(l->done_ns - l->t_ns <= 400u * 1000000u);
  assert_true(l->done_ns - l->t_ns > 200u * 1000000u);
  assert_true(v->done_ns - v->t_ns <= 700u * 1000000u);
  assert_true(v->done_ns - v->t_ns > 500u * 1000000u);
  const pm_sim_request *last = &r.q[r.n - 1];
  assert_true(!last->stop && last->refused && !strcmp(last->name, ATMTA) &&
              !strcmp(last->other, MSMI));
  free(r.q);
  free(dir);
}

/* ---- the waves of a plan ---- */

static void add_svc(orch_plan *p, const char *name, int role, bool running,
                    const char *deps) {
  p->svcs = pm_xrealloc(p->svcs, (p->nsvcs + 1) * sizeof *p->svcs);
  orch_service *s = &p->svcs[p->nsvcs++];
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "%s", name);
  s->role = role;
  s->was_running = running;
  /* deps: '|'-separated. */
  size_t n = strlen(deps);
  memcpy(s->deps, deps, n + 1);
  for (size_t i = 0; i < n; i++)
    if (s->deps[i] == '|') s->deps[i] = '\0';
  s->deps[n + 1] = '\0';
}

static void waves_are(const orch_plan *p, const bool *in, bool stop,
                      const unsigned *want, unsigned nwant) {
  unsigned w[8];
  assert_int_equal(orch_service_waves(p, in, stop, w), nwant);
  for (size_t i = 0; i < p->nsvcs; i++)
    if (w[i] != want[i])
      fail_msg("%s wave of %s: %u, want %u", stop ? "stop" : "start",
               p->svcs[i].name, w[i], want[i]);
}

static void test_waves_of_a_plan(void **state) {
  (void)state;
  orch_plan p;
  memset(&p, 0, sizeof p);
  /* A needs B needs C; D needs nothing; in stop order. */
  add_svc(&p, "A", ORCH_ROLE_PCMTA, true, "B");
  add_svc(&p, "D", ORCH_ROLE_PCMTA, true, "");
  add_svc(&p, "B", ORCH_ROLE_PCMTA, true, "C");
  add_svc(&p, "C", ORCH_ROLE_PCMTA, true, "");
  bool all[] = {true, true, true, true};
  waves_are(&p, all, true, (unsigned[]){1, 1, 2, 3}, 3);
  waves_are(&p, all, false, (unsigned[]){3, 1, 2, 1}, 3);
  /* Through a service outside the set: A still before C. */
  bool ac[] = {true, false, false, true};
  waves_are(&p, ac, true, (unsigned[]){1, 0, 0, 2}, 2);
  waves_are(&p, ac, false, (unsigned[]){2, 0, 0, 1}, 2);
  assert_true(orch_service_needs(&p, 0, 3));
  assert_false(orch_service_needs(&p, 3, 0));
  assert_false(orch_service_needs(&p, 1, 3));
  /* A plan of an earlier pomove: one at a time, in stop order. */
  p.deps_unknown = true;
  waves_are(&p, all, true, (unsigned[]){1, 2, 3, 4}, 4);
  waves_are(&p, all, false, (unsigned[]){4, 3, 2, 1}, 4);
  orch_plan_free(&p);
  /* A cycle still gives every service a wave. */
  memset(&p, 0, sizeof p);
  add_svc(&p, "X", ORCH_ROLE_PCMTA, true, "Y");
  add_svc(&p, "Y", ORCH_ROLE_PCMTA, true, "X");
  bool two[] = {true, true};
  waves_are(&p, two, true, (unsigned[]){1, 2}, 2);
  waves_are(&p, two, false, (unsigned[]){2, 1}, 2);
  orch_plan_free(&p);
}

/* A plan file keeps the dependencies; one of an earlier pomove (no such
 * field) is read as one at a time. */
static void test_waves_plan_file(void **state) {
  (void)state;
  char *dir = make_host("planfile");
  pm_host *h = ot_open(dir);
  orch_options o;
  ot_kb_move_options(&o);
  orch_plan p;
  orch_result res;
  memset(&p, 0, sizeof p);
  assert_int_equal(orch_plan_build(h, &o, &p, &res), 0);
  char *path = pm_xasprintf("%s/plan", ot_scratch());
  assert_int_equal(orch_plan_save(h, path, &p), 0);
  orch_plan q;
  assert_int_equal(orch_plan_load(h, path, &q), 0);
  assert_false(q.deps_unknown);
  assert_int_equal(q.nsvcs, p.nsvcs);
  for (size_t i = 0; i < p.nsvcs; i++) {
    assert_string_equal(q.svcs[i].name, p.svcs[i].name);
    size_t dl = 0;
    while (p.svcs[i].deps[dl]) dl += strlen(p.svcs[i].deps + dl) + 1;
    assert_memory_equal(q.svcs[i].deps, p.svcs[i].deps, dl + 1);
  }
  assert_string_equal(q.svcs[0].name, ATMTA);
  assert_string_equal(q.svcs[0].deps, MSMI);
  orch_plan_free(&q);
  /* The same plan as an earlier pomove wrote it: "service" lines of four
   * fields, and the hash of that text. */
  size_t len;
  char *text = tu_read_all(path, &len);
  assert_non_null(text);
  char *old = pm_xmalloc(len + 64);
  size_t n = 0;
  for (char *line = text; *line;) {
    char *nl = strchr(line, '\n');
    assert_non_null(nl);
    size_t l = (size_t)(nl - line);
    if (!strncmp(line, "end ", 4)) break;
    if (!strncmp(line, "service\t", 8))
      while (line[--l] != '\t') continue; /* the last field dropped */
    memcpy(old + n, line, l);
    n += l;
    old[n++] = '\n';
    line = nl + 1;
  }
  char hex[33];
  orch_state_hash_hex(old, n, hex);
  n += (size_t)sprintf(old + n, "end %s\n", hex);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(old, 1, n, f), n);
  fclose(f);
  assert_int_equal(orch_plan_load(h, path, &q), 0);
  assert_true(q.deps_unknown);
  assert_int_equal(q.nsvcs, p.nsvcs);
  assert_string_equal(q.svcs[0].deps, "");
  bool in[8] = {true, true, true, true};
  unsigned w[8];
  assert_int_equal(q.nsvcs, 4);
  assert_int_equal(orch_service_waves(&q, in, true, w), 4);
  orch_plan_free(&q);
  free(old);
  free(text);
  orch_plan_free(&p);
  free(path);
  pm_host_close(h);
  free(dir);
}

/* check --repair after a service pack put a value back on C: stops the
 * running connector services in the same waves as a move (ATMTA and the
 * PC MTAs together, then MSMI) and starts them the other way. */
static void test_waves_check_repair(void **state) {
  (void)state;
  char *dir = make_host("check");
  assert_int_equal(move_json(dir, false, NULL), OT_DONE);
  pm_host *h = ot_open(dir);
  assert_int_equal(h->svc->set_image_path(
                       h, MSMI, "C:\\exchsrvr\\Connect\\Msmcon\\Bin\\Mt.exe"),
                   0);
  size_t from = log_count(dir);
  orch_check_options co;
  memset(&co, 0, sizeof co);
  co.expect = "D:";
  co.repair = true;
  co.stop_timeout_ms = co.start_timeout_ms = 5000;
  co.out = fopen("/dev/null", "w");
  assert_int_equal(ot_check(h, &co), OT_DONE);
  fclose(co.out);
  pm_host_close(h);
  reqs r;
  log_read(dir, from, &r);
  kb_waves(&r);
  free(r.q);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_waves_of_a_plan),
      cmocka_unit_test_teardown(test_waves_plan_file, ot_kill_hosts),
      cmocka_unit_test_teardown(test_waves_sim_records_order, ot_kill_hosts),
      cmocka_unit_test_teardown(test_waves_move, ot_kill_hosts),
      cmocka_unit_test_teardown(test_waves_check_repair, ot_kill_hosts),
      cmocka_unit_test_teardown(test_waves_plan_text, ot_kill_hosts),
      cmocka_unit_test_teardown(test_waves_will_not_stop_wave1, ot_kill_hosts),
      cmocka_unit_test_teardown(test_waves_will_not_stop_wave2, ot_kill_hosts),
      cmocka_unit_test_teardown(test_waves_resume_between_stop_waves,
                                ot_kill_hosts),
      cmocka_unit_test_teardown(test_waves_resume_between_start_waves,
                                ot_kill_hosts),
  };
  return cmocka_run_group_tests(tests, ot_group_setup, ot_group_teardown);
}
