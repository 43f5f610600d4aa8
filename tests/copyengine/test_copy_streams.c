/* test_copy_streams.c - the copy of named data streams (NTFS alternate
 * data streams), through a table that gives Linux files streams: a
 * file's streams are ordinary files in a side directory named after its
 * (dev, ino), opened by the table's stream_open and then read and
 * written with the table's own pread and pwrite, as NTFS's stream
 * handles are. Checked: every stream arrives byte for byte (an empty one,
 * one of several MiB, a non-ASCII name), also with a per-file flush; a
 * file without streams gets none; a failing stream open (source or
 * destination), read or write is that file's error, naming the stream,
 * and the other files are copied; PM_ENOTSUP (Linux, FAT) is asked once
 * and then nothing is done, without a word. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copyengine.h"
#include "testutil.h"
#include "util.h"

static const pm_fs *native;
static pm_fs_ops streams_ops;
static const pm_fs streams_fs = {&streams_ops, NULL};
static char *side;          /* the side directory */
static bool notsup;         /* streams_list answers PM_ENOTSUP */
static atomic_uint lists, stream_fsyncs;

/* Which stream fails, and how: its name and the call. */
enum { FAIL_NONE, FAIL_SRC_OPEN, FAIL_DST_OPEN, FAIL_READ, FAIL_WRITE };
static int fail_how;
static const char *fail_name = "bad";

/* Per descriptor: 0 not a stream; else 1 | the failures it carries. */
enum { S_STREAM = 1, S_FAIL_READ = 2, S_FAIL_WRITE = 4 };
static atomic_int fd_kind[4096];

static char *dir_of(pm_fd fd) {
  struct stat st;
  if (fstat((int)fd, &st)) return NULL;
  return pm_xasprintf("%s/%llu-%llu", side, (unsigned long long)st.st_dev,
                      (unsigned long long)st.st_ino);
}

static int s_streams_list(const pm_fs *self PM_UNUSED, pm_fd fd, char *buf,
                          size_t cap, size_t *len) {
  atomic_fetch_add(&lists, 1);
  *len = 0;
  if (notsup) return PM_ENOTSUP;
  char *d = dir_of(fd);
  if (!d) return PM_EBADF;
  DIR *dp = opendir(d);
  free(d);
  if (!dp) return 0; /* no streams */
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(dp))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    size_t l = strlen(e->d_name) + 1;
    if (n + l <= cap) memcpy(buf + n, e->d_name, l);
    n += l;
  }
  closedir(dp);
  *len = n;
  return n > cap ? PM_ERANGE : 0;
}

static int s_stream_open(const pm_fs *self PM_UNUSED, pm_fd fd,
                         const char *name, int flags, uint32_t mode,
                         pm_fd *out) {
  *out = PM_FD_INVALID;
  if (!*name || strpbrk(name, "/\\:")) return PM_EINVAL;
  bool dst = flags & PM_O_CREAT;
  bool bad = !strcmp(name, fail_name);
  if (bad && ((fail_how == FAIL_SRC_OPEN && !dst) ||
              (fail_how == FAIL_DST_OPEN && dst))) {
    pm_oserr_record(PM_EACCES, 13);
    return PM_EACCES;
  }
  char *d = dir_of(fd);
  if (!d) return PM_EBADF;
  if (dst) mkdir(d, 0700);
  char *p = pm_xasprintf("%s/%s", d, name);
  int rc = pm_fs_open(native, p, flags, mode, out);
  free(d);
  free(p);
  if (rc) return rc;
  assert_true(*out >= 0 && *out < 4096);
  int kind = S_STREAM;
  if (bad && fail_how == FAIL_READ && !dst) kind |= S_FAIL_READ;
  if (bad && fail_how == FAIL_WRITE && dst) kind |= S_FAIL_WRITE;
  atomic_store(&fd_kind[*out], kind);
  return 0;
}

static int kind_of(pm_fd fd) {
  return fd >= 0 && fd < 4096 ? atomic_load(&fd_kind[fd]) : 0;
}

static int64_t s_pread(const pm_fs *self PM_UNUSED, pm_fd fd, void *buf,
                       size_t len, uint64_t off) {
  /* The first read succeeds: a failure in the middle of a stream. */
  if ((kind_of(fd) & S_FAIL_READ) && off > 0) {
    pm_oserr_record(PM_EIO, 5);
    return PM_EIO;
  }
  return pm_fs_pread(native, fd, buf, len, off);
}

static int64_t s_pwrite(const pm_fs *self PM_UNUSED, pm_fd fd, const void *buf,
                        size_t len, uint64_t off) {
  if (kind_of(fd) & S_FAIL_WRITE) {
    pm_oserr_record(PM_EIO, 5);
    return PM_EIO;
  }
  return pm_fs_pwrite(native, fd, buf, len, off);
}

static int s_fsync(const pm_fs *self PM_UNUSED, pm_fd fd, bool data_only) {
  if (kind_of(fd)) atomic_fetch_add(&stream_fsyncs, 1);
  return pm_fs_fsync(native, fd, data_only);
}

static atomic_uint removes;

static int s_stream_remove(const pm_fs *self PM_UNUSED, pm_fd fd,
                           const char *name) {
  if (!*name || strpbrk(name, "/\\:")) return PM_EINVAL;
  char *d = dir_of(fd);
  if (!d) return PM_EBADF;
  char *p = pm_xasprintf("%s/%s", d, name);
  int rc = unlink(p) == 0 ? 0 : errno == ENOENT ? PM_ENOENT : PM_EIO;
  free(d);
  free(p);
  if (!rc) atomic_fetch_add(&removes, 1);
  return rc;
}

static int s_close(const pm_fs *self PM_UNUSED, pm_fd fd) {
  if (fd >= 0 && fd < 4096) atomic_store(&fd_kind[fd], 0);
  return pm_fs_close(native, fd);
}

static const pm_fs *streams_table(const char *base) {
  native = pm_fs_native();
  streams_ops = *native->ops;
  streams_ops.name = "streams";
  streams_ops.streams_list = s_streams_list;
  streams_ops.stream_open = s_stream_open;
  streams_ops.stream_remove = s_stream_remove;
  streams_ops.pread = s_pread;
  streams_ops.pwrite = s_pwrite;
  streams_ops.fsync = s_fsync;
  streams_ops.close = s_close;
  free(side);
  side = pm_xasprintf("%s/side", base);
  mkdir(side, 0700);
  notsup = false;
  fail_how = FAIL_NONE;
  atomic_store(&lists, 0);
  atomic_store(&stream_fsyncs, 0);
  atomic_store(&removes, 0);
  return &streams_fs;
}

static char *sdir_of_path(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return pm_xasprintf("%s/%llu-%llu", side, (unsigned long long)st.st_dev,
                      (unsigned long long)st.st_ino);
}

/* Gives the file at path a stream of len bytes. */
static void add_stream(const char *path, const char *name, uint64_t len,
                       uint32_t seed) {
  char *d = sdir_of_path(path);
  mkdir(d, 0700);
  char *p = pm_xasprintf("%s/%s", d, name);
  tu_write_pattern(p, len, seed);
  free(p);
  free(d);
}

/* 0 when the streams of a and b are the same names and bytes. */
static int same_streams(const char *a, const char *b) {
  char *da = sdir_of_path(a), *db = sdir_of_path(b);
  int rc = tu_sh("diff -r '%s' '%s'", da, db);
  free(da);
  free(db);
  return rc;
}

static bool has_streams(const char *path) {
  char *d = sdir_of_path(path);
  struct stat st;
  bool yes = stat(d, &st) == 0;
  free(d);
  return yes;
}

/* src/a with four streams, src/b with none, src/sub/c with one named
 * "bad" (the one a failure plan picks) beside a good one. */
static char *make_tree(const char *base) {
  char *src = pm_xasprintf("%s/src", base);
  assert_int_equal(tu_sh("mkdir -p '%s/sub'", src), 0);
  char *a = pm_xasprintf("%s/a", src), *b = pm_xasprintf("%s/b", src),
       *c = pm_xasprintf("%s/sub/c", src);
  tu_write_pattern(a, 10000, 1);
  tu_write_pattern(b, 3000, 2);
  tu_write_pattern(c, 0, 3);
  add_stream(a, "Zone.Identifier", 26, 4);
  add_stream(a, "empty", 0, 5);
  add_stream(a, "big", (5u << 20) + 123, 6);
  add_stream(a, "\xc3\xa9t\xc3\xa9 \xe2\x82\xac", 4000, 7);
  add_stream(c, "bad", 300000, 8);
  add_stream(c, "good", 100, 9);
  free(a);
  free(b);
  free(c);
  return src;
}

static bool run_update; /* run_copy makes an update */

static int run_copy(const pm_fs *fs, const char *src, const char *dst,
                    int sync_mode, bool journal, const char *errp,
                    ce_result *r) {
  ce_options o;
  ce_options_init(&o);
  o.update = run_update;
  o.src = src;
  o.dst = dst;
  o.fs = fs;
  o.engine = pm_io_engine_find("pool");
  o.threads = 2;
  o.chunk_size = 65536;
  o.journal = journal;
  o.sync_mode = sync_mode;
  fflush(stderr);
  int saved = dup(2);
  int efd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(saved >= 0 && efd >= 0);
  dup2(efd, 2);
  int rc = ce_copy(&o, r);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(efd);
  tu_sh("cat '%s' >&2", errp);
  return rc;
}

static void check_copied(const char *src, const char *dst, bool with_c) {
  char *sa = pm_xasprintf("%s/a", src), *da = pm_xasprintf("%s/a", dst);
  char *db = pm_xasprintf("%s/b", dst);
  char *sc = pm_xasprintf("%s/sub/c", src), *dc = pm_xasprintf("%s/sub/c", dst);
  assert_int_equal(same_streams(sa, da), 0);
  assert_false(has_streams(db));
  if (with_c) assert_int_equal(same_streams(sc, dc), 0);
  assert_int_equal(tu_sh("cmp -s '%s' '%s' && cmp -s '%s/b' '%s/b'", sa, da,
                         src, dst),
                   0);
  free(sa);
  free(da);
  free(db);
  free(sc);
  free(dc);
}

/* Every stream copied byte for byte, with a batch flush and with a flush
 * per file (then each stream written is flushed too). */
static void test_streams_copied(void **state) {
  (void)state;
  const char *base = tu_scratch();
  const pm_fs *fs = streams_table(base);
  char *src = make_tree(base);
  char *errp = pm_xasprintf("%s/err", base);
  for (int per_file = 0; per_file < 2; per_file++) {
    char *dst = pm_xasprintf("%s/dst%d", base, per_file);
    atomic_store(&stream_fsyncs, 0);
    ce_result r;
    assert_int_equal(run_copy(fs, src, dst,
                              per_file ? CE_SYNC_FILE : CE_SYNC_FS, true, errp,
                              &r),
                     0);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.files, 3);
    check_copied(src, dst, true);
    /* Six streams written; each flushed when files are flushed alone. */
    if (per_file)
      assert_int_equal(atomic_load(&stream_fsyncs), 6);
    else
      assert_int_equal(atomic_load(&stream_fsyncs), 0);
    assert_int_equal(tu_sh("test ! -s '%s'", errp), 0);
    free(dst);
  }
  free(src);
  free(errp);
  tu_cleanup();
}

/* A failing open (either end), read or write of one stream: that file is
 * the one error, reported as "copy stream 'bad' of" its path; the other
 * files are whole, streams included. */
static void test_streams_fail(void **state) {
  (void)state;
  const char *base = tu_scratch();
  const pm_fs *fs = streams_table(base);
  char *src = make_tree(base);
  char *errp = pm_xasprintf("%s/err", base);
  static const int hows[] = {FAIL_SRC_OPEN, FAIL_DST_OPEN, FAIL_READ,
                             FAIL_WRITE};
  for (int i = 0; i < 4; i++) {
    char *dst = pm_xasprintf("%s/dst%d", base, i);
    fail_how = hows[i];
    ce_result r;
    (void)run_copy(fs, src, dst, CE_SYNC_FS, false, errp, &r);
    assert_int_equal(r.errors, 1);
    assert_int_equal(r.files, 2);
    char *where = i == 0 || i == 2 ? pm_xstrdup("/src/sub/c")
                                   : pm_xasprintf("/dst%d/sub/c", i);
    assert_int_equal(tu_sh("grep -c 'copy stream' '%s' | grep -qx 1", errp),
                     0);
    assert_int_equal(tu_sh("grep -q \"copy stream 'bad' of '.*%s'\" '%s'",
                           where, errp),
                     0);
    free(where);
    check_copied(src, dst, false);
    free(dst);
  }
  free(src);
  free(errp);
  tu_cleanup();
}

/* A file system without streams: asked once (or once per worker that
 * raced to it), never again, and nothing said. */
static void test_streams_notsup(void **state) {
  (void)state;
  const char *base = tu_scratch();
  const pm_fs *fs = streams_table(base);
  char *src = pm_xasprintf("%s/src", base);
  mkdir(src, 0755);
  for (int i = 0; i < 40; i++) {
    char *p = pm_xasprintf("%s/f%02d", src, i);
    tu_write_pattern(p, 100 + (uint64_t)i, (uint32_t)i);
    free(p);
  }
  notsup = true;
  char *dst = pm_xasprintf("%s/dst", base);
  char *errp = pm_xasprintf("%s/err", base);
  ce_result r;
  assert_int_equal(run_copy(fs, src, dst, CE_SYNC_FS, false, errp, &r), 0);
  assert_int_equal(r.errors, 0);
  assert_int_equal(r.files, 40);
  unsigned n = atomic_load(&lists);
  assert_true(n >= 1 && n <= 2);
  assert_int_equal(tu_sh("test ! -s '%s' && diff -r '%s' '%s'", errp, src,
                         dst),
                   0);
  free(src);
  free(dst);
  free(errp);
  tu_cleanup();
}

/* An update of a file whose data are as recorded but whose change time
 * moved (a stream written or removed alone does that on NTFS; here a
 * chmod) sets its metadata again without copying its data, and brings
 * its streams in step: a changed one written again, one the source lost
 * removed, a new one added. The copy of a read-only file too. */
static void test_streams_update(void **state) {
  (void)state;
  const char *base = tu_scratch();
  const pm_fs *fs = streams_table(base);
  char *src = make_tree(base);
  char *dst = pm_xasprintf("%s/dst", base);
  char *errp = pm_xasprintf("%s/err", base);
  char *sa = pm_xasprintf("%s/a", src), *da = pm_xasprintf("%s/a", dst);
  char *sb = pm_xasprintf("%s/b", src), *db = pm_xasprintf("%s/b", dst);
  assert_int_equal(chmod(sa, 0444), 0);
  ce_result r;
  run_update = false;
  assert_int_equal(run_copy(fs, src, dst, CE_SYNC_FS, true, errp, &r), 0);
  assert_int_equal(r.errors, 0);
  check_copied(src, dst, true);

  add_stream(sa, "Zone.Identifier", 77, 40);
  char *d = sdir_of_path(sa);
  char *gone = pm_xasprintf("%s/empty", d);
  assert_int_equal(unlink(gone), 0);
  add_stream(sb, "new", 5000, 41);
  assert_int_equal(chmod(sa, 0444), 0); /* the change times move */
  assert_int_equal(chmod(sb, 0644), 0);
  run_update = true;
  int rc = run_copy(fs, src, dst, CE_SYNC_FS, true, errp, &r);
  run_update = false;
  assert_int_equal(rc, 0);
  assert_int_equal(r.errors, 0);
  assert_int_equal(r.copied, 0);
  assert_int_equal(r.metadata_only, 2);
  assert_int_equal(same_streams(sa, da), 0);
  assert_int_equal(same_streams(sb, db), 0);
  assert_int_equal(atomic_load(&removes), 1);
  struct stat st;
  assert_int_equal(stat(da, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0444);
  assert_int_equal(tu_sh("test ! -s '%s'", errp), 0);
  free(d);
  free(gone);
  free(sa);
  free(da);
  free(sb);
  free(db);
  free(dst);
  free(src);
  free(errp);
  tu_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_streams_copied),
      cmocka_unit_test(test_streams_fail),
      cmocka_unit_test(test_streams_notsup),
      cmocka_unit_test(test_streams_update),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
