/* test_report_sink.c - the one sink of reports and the progress drawer
 * (util.h): the libraries' errors, warnings and notes reach the sink the
 * program installed, with their exact text and nothing on stderr; without
 * one, stderr (the default); a library's own message (verify's engine
 * choice) passes the sink too; progress is drawn only by a drawer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "audit.h"
#include "testutil.h"
#include "util.h"

typedef struct capture {
  char text[4096];
  int kinds[16];
  int n;
} capture;

static void capture_sink(void *ctx, int kind, const char *text) {
  capture *c = ctx;
  if (c->n < 16) c->kinds[c->n] = kind;
  c->n++;
  size_t used = strlen(c->text);
  snprintf(c->text + used, sizeof c->text - used, "%s", text);
}

/* Runs fn with file descriptor 2 redirected; returns what reached it. */
static char *with_stderr(void (*fn)(void *), void *arg) {
  fflush(stderr);
  FILE *f = tu_tmpfile();
  assert_non_null(f);
  int saved = dup(2);
  dup2(fileno(f), 2);
  fn(arg);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  rewind(f);
  char *out = calloc(1, 4096);
  assert_non_null(out);
  size_t n = fread(out, 1, 4095, f);
  out[n] = '\0';
  fclose(f);
  return out;
}

static void report_three(void *arg) {
  (void)arg;
  pm_report_error("open", "dir/a\001b", PM_ENOENT);
  pm_warnf("slow disk: %d ms", 250);
  pm_report_notef("pomove: stage interrupted; run it again to continue.\n");
}

static void test_report_sink_installed(void **state) {
  (void)state;
  capture c;
  memset(&c, 0, sizeof c);
  pm_report_set_sink(capture_sink, &c);
  char *err = with_stderr(report_three, NULL);
  pm_report_set_sink(NULL, NULL);
  assert_string_equal(err, "");
  free(err);
  char want[1024];
  snprintf(want, sizeof want,
           "pomove: open 'dir/a\\x01b': %s (%s)\n"
           "pomove: slow disk: 250 ms\n"
           "pomove: stage interrupted; run it again to continue.\n",
           pm_strerror(PM_ENOENT), pm_errname(PM_ENOENT));
  assert_string_equal(c.text, want);
  assert_int_equal(c.n, 3);
  assert_int_equal(c.kinds[0], PM_REPORT_ERROR);
  assert_int_equal(c.kinds[1], PM_REPORT_WARNING);
  assert_int_equal(c.kinds[2], PM_REPORT_NOTE);

  /* Quiet mode silences the warning only. */
  memset(&c, 0, sizeof c);
  pm_report_set_sink(capture_sink, &c);
  pm_set_quiet(true);
  report_three(NULL);
  pm_set_quiet(false);
  pm_report_set_sink(NULL, NULL);
  assert_int_equal(c.n, 2);
  assert_null(strstr(c.text, "slow disk"));
}

static void test_report_sink_default_stderr(void **state) {
  (void)state;
  pm_report_set_sink(NULL, NULL);
  char *err = with_stderr(report_three, NULL);
  assert_non_null(strstr(err, "pomove: open 'dir/a\\x01b': "));
  assert_non_null(strstr(err, "pomove: slow disk: 250 ms\n"));
  assert_non_null(strstr(err, "pomove: stage interrupted; run it again"));
  free(err);
}

static void pick_bogus(void *arg) {
  *(const pm_io_engine_ops **)arg = vf_engine_pick("bogus");
}

static void test_report_sink_library_message(void **state) {
  (void)state;
  capture c;
  memset(&c, 0, sizeof c);
  const pm_io_engine_ops *e = (const pm_io_engine_ops *)&c;
  pm_report_set_sink(capture_sink, &c);
  char *err = with_stderr(pick_bogus, &e);
  pm_report_set_sink(NULL, NULL);
  assert_null(e);
  assert_string_equal(err, "");
  free(err);
  /* One whole line naming every engine of the build. */
  assert_int_equal(c.n, 1);
  const char *head = "pomove: unknown engine 'bogus' (choose from: ";
  assert_int_equal(strncmp(c.text, head, strlen(head)), 0);
  assert_non_null(strstr(c.text, "pool"));
  assert_string_equal(c.text + strlen(c.text) - 2, ")\n");
}

typedef struct drawn {
  int autos, draws, clears;
  uint64_t files, bytes;
  int mode;
} drawn;

static int d_auto(void *ctx) {
  drawn *d = ctx;
  d->autos++;
  return d->mode;
}
static void d_draw(void *ctx, const pm_progress *p, uint64_t files,
                   uint64_t bytes, uint64_t now_ns) {
  drawn *d = ctx;
  d->draws++;
  d->files = files;
  d->bytes = bytes;
  assert_string_equal(p->label, "copy");
  assert_true(now_ns >= p->start_ns);
}
static void d_clear(void *ctx, const pm_progress *p) {
  drawn *d = ctx;
  d->clears++;
}

static void test_report_sink_progress_drawer(void **state) {
  (void)state;
  pm_progress p;
  /* Without a drawer nothing is drawn, whatever the mode. */
  pm_progress_set_drawer(NULL);
  pm_progress_init(&p, "copy", PM_PROGRESS_PLAIN);
  assert_int_equal(p.mode, PM_PROGRESS_OFF);
  pm_progress_update(&p, 1, 2, true);
  pm_progress_finish(&p);

  drawn d;
  memset(&d, 0, sizeof d);
  d.mode = PM_PROGRESS_TTY;
  pm_progress_drawer dr = {d_auto, d_draw, d_clear, &d};
  pm_progress_set_drawer(&dr);
  pm_progress_init(&p, "copy", PM_PROGRESS_AUTO);
  assert_int_equal(d.autos, 1);
  assert_int_equal(p.mode, PM_PROGRESS_TTY);
  pm_progress_update(&p, 7, 4096, true);
  assert_int_equal(d.draws, 1);
  assert_int_equal(d.files, 7);
  assert_int_equal(d.bytes, 4096);
  pm_progress_finish(&p);
  assert_int_equal(d.clears, 1);

  /* A plain line is never cleared; OFF draws nothing. */
  d.mode = PM_PROGRESS_PLAIN;
  pm_progress_init(&p, "copy", PM_PROGRESS_AUTO);
  pm_progress_update(&p, 8, 8192, true);
  pm_progress_finish(&p);
  assert_int_equal(d.draws, 2);
  assert_int_equal(d.clears, 1);
  pm_progress_init(&p, "copy", PM_PROGRESS_OFF);
  pm_progress_update(&p, 9, 1, true);
  assert_int_equal(d.draws, 2);
  pm_progress_set_drawer(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_report_sink_installed),
      cmocka_unit_test(test_report_sink_default_stderr),
      cmocka_unit_test(test_report_sink_library_message),
      cmocka_unit_test(test_report_sink_progress_drawer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
