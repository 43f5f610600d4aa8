/* test_fs_contract.c - the conformance suite of the file-system table
 * (pm_fs_ops in platform.h). Every case runs against every table compiled
 * in (the `tables` list below: the native backend and the test wrappers in
 * pass-through mode); a new backend (Win32) is one more line there and
 * must pass the whole suite. The contract points, one case each:
 *
 * - validate: pm_fs_validate accepts each table and refuses a table with
 *   any slot empty.
 * - long_paths: paths are '/'-separated and of any length; a path of about
 *   9000 bytes (many 200-byte components) can be made, created, opened,
 *   read, stat'ed, listed, renamed, linked, symlinked, chmod'ed, given
 *   times and removed, and a failure on it still names the OS's code.
 * - long_path_realpath: realpath resolves such a path too.
 * - names_every_byte: a name is any byte string of 1..255 bytes without
 *   NUL or '/' (control bytes, invalid UTF-8, a trailing CR, spaces, dots
 *   and 255-byte names included), and it round-trips unchanged through
 *   create, readdir and stat. Names differ by more than letter case so the
 *   point also holds on a case-insensitive file system.
 * - readdir_each_once: readdir never returns "." or "..", returns every
 *   entry exactly once (in any order), and its type is the entry's own
 *   (lstat) type or PM_T_UNKNOWN; an empty directory lists nothing.
 * - read_eof: a read at or past the end returns 0, which is how EOF is
 *   told; a read spanning the end returns no more than the bytes left.
 * - pwrite_extends: a write past the end extends the file with zeros.
 * - sparse_seek: seek finds data and holes of a file with a hole (made
 *   with PM_O_SPARSE, so that NTFS keeps the hole), and fails with
 *   PM_ENXIO at or past the end.
 * - rename_replaces_atomically: rename replaces an existing file, and a
 *   reader opening the target meanwhile never finds it missing or mixed.
 * - rename_directory: a directory is renamed with its contents.
 * - hard_links: link gives a second name of the same (dev, ino); nlink
 *   counts the names.
 * - symlink_readlink: readlink returns the target verbatim; too small a
 *   buffer is PM_ERANGE; a dangling link and a non-link behave.
 * - stat_follow: stat with follow describes the target, without follow
 *   the link itself.
 * - identity: (dev, ino) names one file: the same through a path and a
 *   handle, kept across a rename, different for different files, and dev
 *   matches fsinfo's dev.
 * - metadata: permission bits, times to the nanosecond (and past 2038),
 *   NULL time left unchanged, chown to oneself.
 * - xattr: set, list, get, PM_ERANGE and PM_ENODATA, where the file
 *   system stores extended attributes (else skipped with a message).
 * - errors: the documented failures return their PM_E* code, and
 *   PM_O_REGULAR on a FIFO fails with PM_ESPECIAL without blocking.
 * - oserr: after a failure pm_oserr_last() holds the OS's code for it,
 *   never a stale one, and only on the thread that failed.
 * - sync_truncate: fsync, fdatasync and syncfs succeed (syncfs also on a
 *   directory handle); ftruncate shrinks and grows with zeros.
 * - fsinfo: the fields are plausible.
 * - win32: what is the Windows table's own (skipped elsewhere): \\?\ and
 *   '\' paths past MAX_PATH, read-only files unlinked and renamed over
 *   (hard links keep the attribute), names with trailing dots and spaces
 *   and non-ASCII names through readdir, names NTFS refuses, names that
 *   differ only by case naming one file, the lock of one open leaving the
 *   file readable by the others.
 *
 * What a backend legitimately lacks is declared once, below (fs_caps, by
 * the native table's name; the wrappers pass through to it), and the
 * cases check each rule in that backend's form rather than skip it:
 * Windows 2000 makes no symbolic links (symlink answers PM_ENOTSUP, and
 * what needs a link is left out with a message), keeps only the owner's
 * write bit of a file (FILE_ATTRIBUTE_READONLY) and no mode on a
 * directory, refuses some names (PM_EINVAL: the characters NTFS refuses
 * through Win32, bytes that are not UTF-8), treats '\' as a separator,
 * compares names without case, refuses a rename onto a file another
 * handle holds open (the renamer tries again; the reader must still never
 * find the target missing or mixed), and flushes a whole volume only for
 * an administrator (syncfs may answer PM_ENOTSUP). Under Wine, paths stay
 * below the Unix PATH_MAX and a name holding an unpaired surrogate cannot
 * be made (Unix names are UTF-8).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

#include "contract.h"
#include "faultlayer.h"
#include "platform.h"
#include "testutil.h"
#include "thread.h"
#include "util.h"

/* ---- the tables under test ---- */

typedef struct fs_table {
  const char *name;
  const pm_fs *(*setup)(void); /* installs the table, returns it */
  int os_noent; /* the OS's own code for "no such file" */
} fs_table;

static const pm_fs *setup_native(void) { return pm_fs_native(); }

/* The fault layer with no fault planned: pass-through. */
static const pm_fs *setup_layer(void) {
  static fl_layer *L;
  fl_free(L);
  L = fl_new(NULL, NULL);
  return fl_fs(L);
}

/* Two layers stacked, the outer one with a rule on a path no case uses
 * (so it follows every handle's path) and a fault that never fires. */
static const pm_fs *setup_stacked(void) {
  static fl_layer *inner, *outer;
  fl_free(outer);
  fl_free(inner);
  inner = fl_new(NULL, NULL);
  fl_rule r = {.ops = FL_ALL, .nth = 1, .path = "/no such name/"};
  outer = fl_new(fl_fs(inner), &r);
  return fl_fs(outer);
}

static const fs_table tables[] = {
    {"native", setup_native, ENOENT},
    {"fault layer pass-through", setup_layer, ENOENT},
    {"two fault layers stacked", setup_stacked, ENOENT},
};
#define NTABLES (sizeof tables / sizeof tables[0])

typedef void (*fs_case)(const pm_fs *fs, const char *dir,
                        const fs_table *t);

/* Runs one case against every table, each in a fresh scratch directory. */
static void for_each_table(fs_case fn) {
  for (size_t i = 0; i < NTABLES; i++) {
    const pm_fs *fs = tables[i].setup();
    const char *dir = tu_scratch();
    print_message("  table %s (%s)\n", tables[i].name, pm_fs_name(fs));
    fn(fs, dir, &tables[i]);
    ct_strings_free();
    tu_cleanup();
  }
}

#define FS_CASE(name)                                   \
  static void case_##name(const pm_fs *fs, const char *dir, \
                          const fs_table *t);          \
  static void test_fs_contract_##name(void **state) {  \
    (void)state;                                        \
    for_each_table(case_##name);                        \
  }                                                     \
  static void case_##name(const pm_fs *fs, const char *dir, \
                          const fs_table *t)

/* ---- what each native backend holds (see the top of the file) ---- */

typedef struct fs_caps {
  bool symlinks;      /* symlink makes links; else PM_ENOTSUP */
  bool full_modes;    /* every permission bit kept; else a file's owner
                       * write bit only (0444 or 0666) and none on a
                       * directory (0777) */
  bool syncfs_always; /* syncfs works; else PM_ENOTSUP is allowed */
  bool rename_over_open; /* rename onto a file open elsewhere works; else
                          * PM_EACCES or PM_EBUSY until it is closed */
  bool windows_names; /* '\' separates; names NTFS refuses through Win32
                       * and bytes that are not UTF-8 (WTF-8) fail with
                       * PM_EINVAL; case does not tell names apart */
  bool wine;          /* under Wine: see the top of the file */
  size_t long_path;   /* the length of the long-path cases' paths */
} fs_caps;

static fs_caps caps_of_native(void) {
  fs_caps c = {true, true, true, true, false, false, 9000};
  if (!strcmp(pm_fs_name(pm_fs_native()), "win32")) {
    c.symlinks = false;
    c.full_modes = false;
    c.syncfs_always = false;
    c.rename_over_open = false;
    c.windows_names = true;
    c.wine = tu_under_wine() != 0;
    /* Windows reaches 32767 UTF-16 units; Wine's Unix side only PATH_MAX
     * (4096 bytes, its prefix's path included). */
    if (c.wine) c.long_path = 3000;
  }
  return c;
}

static fs_caps caps;

/* The mode stat reports after a chmod to `set`. */
static uint32_t mode_kept(uint32_t set, bool dir) {
  if (caps.full_modes) return set;
  if (dir) return 0777;
  return (set & 0200) ? 0666 : 0444;
}

/* Makes a symbolic link where the backend can; where it cannot, checks
 * that symlink says so (PM_ENOTSUP, nothing created) and returns false. */
static bool try_symlink(const pm_fs *fs, const char *target,
                        const char *path) {
  int rc = pm_fs_symlink(fs, target, path);
  if (caps.symlinks) {
    assert_int_equal(rc, 0);
    return true;
  }
  assert_int_equal(rc, PM_ENOTSUP);
  pm_stat st;
  assert_int_equal(pm_fs_stat(fs, path, false, &st), PM_ENOENT);
  return false;
}

/* Whether s is UTF-8, or WTF-8 (an unpaired surrogate as its own three
 * bytes): what a Windows name can be written in. */
static bool wtf8(const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  bool high = false;
  while (*u) {
    unsigned c = *u;
    int n = c < 0x80 ? 0 : (c >= 0xC2 && c <= 0xDF) ? 1
            : (c >= 0xE0 && c <= 0xEF) ? 2 : (c >= 0xF0 && c <= 0xF4) ? 3
            : -1;
    if (n < 0) return false;
    uint32_t cp = n == 0 ? c : c & (0x3F >> n);
    for (int k = 1; k <= n; k++) {
      if ((u[k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (u[k] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    bool lo = cp >= 0xDC00 && cp <= 0xDFFF;
    if (lo && high) return false; /* a pair must be one 4-byte sequence */
    high = cp >= 0xD800 && cp <= 0xDBFF;
    u += n + 1;
  }
  return true;
}

static bool has_surrogate(const char *s) {
  for (const unsigned char *u = (const unsigned char *)s; *u; u++)
    if (u[0] == 0xED && u[1] >= 0xA0 && u[1] <= 0xBF) return true;
  return false;
}

/* What creating `name` must give: 0 (it round-trips), PM_EINVAL (the
 * backend refuses it), or 1: any failure (Wine cannot make it). */
static int name_fate(const char *name) {
  if (!caps.windows_names) return 0;
  if (!wtf8(name)) return PM_EINVAL;
  for (const unsigned char *u = (const unsigned char *)name; *u; u++)
    if (*u < 0x20 || strchr(":*?\"<>|", *u)) return PM_EINVAL;
  if (caps.wine && has_surrogate(name)) return 1;
  return 0;
}

/* ---- helpers (through the table under test only) ---- */

static void put_file(const pm_fs *fs, const char *path, const void *data,
                     size_t len) {
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, path, PM_O_WRONLY | PM_O_CREAT | PM_O_TRUNC, 0644,
                            &fd), 0);
  size_t done = 0;
  while (done < len) {
    int64_t n = pm_fs_pwrite(fs, fd, (const char *)data + done, len - done, done);
    assert_true(n > 0);
    done += (size_t)n;
  }
  assert_int_equal(pm_fs_close(fs, fd), 0);
}

/* Reads the whole file (up to cap bytes) by reading until a read returns
 * 0; returns the byte count. */
static size_t get_file(const pm_fs *fs, const char *path, void *buf,
                       size_t cap) {
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, path, PM_O_RDONLY, 0, &fd), 0);
  size_t done = 0;
  for (;;) {
    int64_t n = pm_fs_pread(fs, fd, (char *)buf + done, cap - done, done);
    assert_true(n >= 0);
    if (n == 0) break;
    done += (size_t)n;
    assert_true(done <= cap);
    if (done == cap) break;
  }
  assert_int_equal(pm_fs_close(fs, fd), 0);
  return done;
}

static void put_text(const pm_fs *fs, const char *path, const char *s) {
  put_file(fs, path, s, strlen(s));
}

static void expect_text(const pm_fs *fs, const char *path, const char *s) {
  char buf[512];
  size_t n = get_file(fs, path, buf, sizeof buf - 1);
  buf[n] = '\0';
  assert_string_equal(buf, s);
}

static pm_stat stat_of(const pm_fs *fs, const char *path, bool follow) {
  pm_stat st;
  int rc = pm_fs_stat(fs, path, follow, &st);
  if (rc) print_error("stat of a %zu-byte path: %s\n", strlen(path),
                      pm_errname(rc));
  assert_int_equal(rc, 0);
  return st;
}

/* Every name in a directory, in the order readdir gave them. */
typedef struct listing {
  char **names;
  pm_ftype *types;
  size_t n;
} listing;

static listing list_dir(const pm_fs *fs, const char *path) {
  listing l = {0};
  pm_dir *d;
  assert_int_equal(pm_fs_opendir(fs, path, &d), 0);
  pm_dirent e;
  int rc;
  while ((rc = pm_fs_readdir(fs, d, &e)) == 1) {
    l.names = pm_xrealloc(l.names, (l.n + 1) * sizeof *l.names);
    l.types = pm_xrealloc(l.types, (l.n + 1) * sizeof *l.types);
    l.names[l.n] = ct_str("%s", e.name);
    l.types[l.n] = e.type;
    l.n++;
  }
  assert_int_equal(rc, 0);
  pm_fs_closedir(fs, d);
  return l;
}

static void listing_free(listing *l) {
  free(l->names);
  free(l->types);
}

/* Asserts that the listing holds exactly `want` (n names), each once, no
 * dot entries, and that each type is the entry's lstat type or unknown. */
static void expect_listing(const pm_fs *fs, const char *dirpath,
                           const listing *l, char *const *want, size_t n) {
  unsigned char *seen = pm_xcalloc(n ? n : 1, 1);
  for (size_t i = 0; i < l->n; i++) {
    assert_string_not_equal(l->names[i], ".");
    assert_string_not_equal(l->names[i], "..");
    size_t k = 0;
    while (k < n && strcmp(want[k], l->names[i]) != 0) k++;
    if (k == n) {
      char *shown = pm_display_path(l->names[i]);
      print_error("readdir returned '%s', which was never created\n", shown);
      free(shown);
      fail();
    }
    if (seen[k]) {
      char *shown = pm_display_path(l->names[i]);
      print_error("readdir returned '%s' twice\n", shown);
      free(shown);
      fail();
    }
    seen[k] = 1;
    pm_stat st = stat_of(fs, ct_str("%s/%s", dirpath, l->names[i]), false);
    if (l->types[i] != PM_T_UNKNOWN) assert_int_equal(l->types[i], st.type);
  }
  for (size_t k = 0; k < n; k++) {
    if (!seen[k]) {
      char *shown = pm_display_path(want[k]);
      print_error("readdir never returned '%s'\n", shown);
      free(shown);
      fail();
    }
  }
  free(seen);
}

/* Removes a tree through the table: the removal is part of what the long
 * path case checks, and `rm -rf` would hide a backend's failure. */
static void rm_tree(const pm_fs *fs, const char *path) {
  pm_stat st = stat_of(fs, path, false);
  if (st.type != PM_T_DIR) {
    assert_int_equal(pm_fs_unlink(fs, path), 0);
    return;
  }
  listing l = list_dir(fs, path);
  for (size_t i = 0; i < l.n; i++)
    rm_tree(fs, ct_str("%s/%s", path, l.names[i]));
  listing_free(&l);
  assert_int_equal(pm_fs_rmdir(fs, path), 0);
}

/* ---- cases ---- */

FS_CASE(validate) {
  (void)dir;
  (void)t;
  assert_int_equal(pm_fs_validate(fs), PM_OK);
  assert_int_equal(pm_fs_validate(NULL), PM_EINVAL);
  pm_fs_ops copy = *fs->ops;
  const pm_fs obj = {&copy, fs->ctx};
  copy.name = NULL;
  assert_int_equal(pm_fs_validate(&obj), PM_EINVAL);
  const pm_fs no_table = {NULL, NULL};
  assert_int_equal(pm_fs_validate(&no_table), PM_EINVAL);
  /* Every slot after `name` is a function pointer: empty each in turn. */
  size_t first = offsetof(pm_fs_ops, open);
  size_t nslots = (sizeof copy - first) / sizeof(void (*)(void));
  for (size_t i = 0; i < nslots; i++) {
    copy = *fs->ops;
    memset((char *)&copy + first + i * sizeof(void (*)(void)), 0,
           sizeof(void (*)(void)));
    if (pm_fs_validate(&obj) != PM_EINVAL) {
      print_error("slot %zu left empty was accepted\n", i);
      fail();
    }
  }
}

/* A deep tree whose deepest directory's path is about 9000 bytes: twice
 * the Linux PATH_MAX, so that a backend reaching it piece by piece needs
 * more than one piece, and far past Windows' MAX_PATH. */
static char *deep_dir(const pm_fs *fs, const char *base, size_t min_len,
                      char ***levels, size_t *nlevels) {
  char comp[201];
  char *p = ct_str("%s", base);
  *levels = NULL;
  *nlevels = 0;
  for (unsigned i = 0; strlen(p) < min_len; i++) {
    memset(comp, 'a' + (char)(i % 26), 200);
    snprintf(comp, 4, "%03u", i);
    comp[3] = 'd';
    comp[200] = '\0';
    p = ct_str("%s/%s", p, comp);
    int rc = pm_fs_mkdir(fs, p, 0755);
    if (rc) print_error("mkdir at depth %u (%zu bytes): %s\n", i, strlen(p),
                        pm_errname(rc));
    assert_int_equal(rc, 0);
    *levels = pm_xrealloc(*levels, (*nlevels + 1) * sizeof **levels);
    (*levels)[(*nlevels)++] = p;
  }
  return p;
}

FS_CASE(long_paths) {
  char **levels;
  size_t nlevels;
  char *deep = deep_dir(fs, dir, caps.long_path, &levels, &nlevels);
  assert_true(strlen(deep) >= caps.long_path);

  /* create, write, stat, read */
  char *f = ct_str("%s/file", deep);
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, f, PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL, 0644,
                            &fd), 0);
  assert_int_equal(pm_fs_pwrite(fs, fd, "deep data", 9, 0), 9);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  pm_stat st = stat_of(fs, f, true);
  assert_int_equal(st.type, PM_T_FILE);
  assert_int_equal(st.size, 9);
  expect_text(fs, f, "deep data");

  /* list */
  listing l = list_dir(fs, deep);
  char *want1[] = {"file"};
  expect_listing(fs, deep, &l, want1, 1);
  listing_free(&l);

  /* rename within the deep directory and up to the scratch directory and
   * back: one long and one short path in the same call. */
  char *g = ct_str("%s/renamed", deep);
  assert_int_equal(pm_fs_rename(fs, f, g), 0);
  assert_int_equal(pm_fs_stat(fs, f, false, &st), PM_ENOENT);
  char *up = ct_str("%s/up", dir);
  assert_int_equal(pm_fs_rename(fs, g, up), 0);
  assert_int_equal(pm_fs_rename(fs, up, g), 0);
  expect_text(fs, g, "deep data");

  /* link, symlink, readlink, chmod, utimes on long paths */
  char *h = ct_str("%s/hard", deep);
  assert_int_equal(pm_fs_link(fs, g, h), 0);
  assert_int_equal(stat_of(fs, h, false).nlink, 2);
  char *s = ct_str("%s/sym", deep);
  bool linked = try_symlink(fs, "renamed", s);
  if (linked) {
    char buf[64];
    size_t len;
    assert_int_equal(pm_fs_readlink(fs, s, buf, sizeof buf, &len), 0);
    assert_int_equal(len, 7);
    assert_string_equal(buf, "renamed");
    assert_int_equal(stat_of(fs, s, true).ino, stat_of(fs, g, false).ino);
  }
  assert_int_equal(pm_fs_chmod(fs, g, 0400), 0);
  assert_int_equal(stat_of(fs, g, false).mode, mode_kept(0400, false));
  assert_int_equal(pm_fs_chmod(fs, g, 0600), 0);
  assert_int_equal(stat_of(fs, g, false).mode, mode_kept(0600, false));
  pm_time mt = {1234567890, 0};
  assert_int_equal(pm_fs_utimes(fs, g, NULL, &mt, true), 0);
  assert_int_equal(stat_of(fs, g, false).mtime.sec, 1234567890);

  /* a failure on a long path is reported with its code */
  pm_oserr_set(0);
  assert_int_equal(pm_fs_open(fs, ct_str("%s/missing", deep), PM_O_RDONLY, 0, &fd),
                   PM_ENOENT);
  assert_int_equal(pm_oserr_last(), t->os_noent);

  /* unlink and rmdir every level on the way up */
  if (linked) assert_int_equal(pm_fs_unlink(fs, s), 0);
  assert_int_equal(pm_fs_unlink(fs, h), 0);
  assert_int_equal(pm_fs_unlink(fs, g), 0);
  for (size_t i = nlevels; i-- > 0;) {
    int rc = pm_fs_rmdir(fs, levels[i]);
    if (rc) print_error("rmdir at depth %zu: %s\n", i, pm_errname(rc));
    assert_int_equal(rc, 0);
  }
  free(levels);
  l = list_dir(fs, dir);
  assert_int_equal(l.n, 0);
  listing_free(&l);
}

FS_CASE(long_path_realpath) {
  (void)t;
  char **levels;
  size_t nlevels;
  char *deep = deep_dir(fs, dir, caps.long_path, &levels, &nlevels);
  free(levels);
  size_t cap = strlen(deep) + 4096;
  char *buf = ct_alloc(cap);
  /* The scratch directory may itself sit below a symlink (/tmp): compare
   * against the resolved base. */
  char *rbase = ct_alloc(cap);
  assert_int_equal(pm_fs_realpath(fs, dir, rbase, cap), 0);
  int rc = pm_fs_realpath(fs, deep, buf, cap);
  if (rc) print_error("realpath of a %zu-byte path: %s (OS error %d)\n",
                      strlen(deep), pm_errname(rc), pm_oserr_last());
  assert_int_equal(rc, 0);
  assert_string_equal(buf, ct_str("%s%s", rbase, deep + strlen(dir)));
  /* A file there, and a symlink to it: both resolve to the file. */
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, ct_str("%s/f", deep), PM_O_WRONLY | PM_O_CREAT,
                            0644, &fd), 0);
  pm_fs_close(fs, fd);
  bool linked = try_symlink(fs, "f", ct_str("%s/l", deep));
  const char *want = ct_str("%s%s/f", rbase, deep + strlen(dir));
  assert_int_equal(pm_fs_realpath(fs, ct_str("%s/f", deep), buf, cap), 0);
  assert_string_equal(buf, want);
  if (linked) {
    assert_int_equal(pm_fs_realpath(fs, ct_str("%s/l", deep), buf, cap), 0);
    assert_string_equal(buf, want);
  }
  /* Recursive removal through the table: listing and removing long
   * paths. */
  const char *first_end = strchr(deep + strlen(dir) + 1, '/');
  rm_tree(fs, ct_str("%.*s", (int)(first_end - deep), deep));
  listing l = list_dir(fs, dir);
  assert_int_equal(l.n, 0);
  listing_free(&l);
}

FS_CASE(names_every_byte) {
  (void)t;
  char **names = NULL;
  size_t n = 0;
#define ADD(...)                                                   \
  do {                                                             \
    names = pm_xrealloc(names, (n + 1) * sizeof *names);           \
    names[n++] = ct_str(__VA_ARGS__);                              \
  } while (0)
  for (int b = 1; b <= 255; b++) {
    if (b == '/') continue;
    /* The byte at the end and at the start of a name (where Windows
     * strips spaces and dots), tagged with its value so that no two
     * names differ only by letter case. */
    ADD("e%02x-%c", b, b);
    ADD("%c-s%02x", b, b);
    /* Alone, where that makes a legal name distinct from every other. */
    bool letter = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
    if (b != '.' && !letter) ADD("%c", b);
  }
  ADD("..."); /* legal, unlike . and .. */
  ADD("trailing cr\r");
  ADD(" spaces around ");
  ADD("line\nfeed");
  ADD("\xff\xfe invalid utf-8");
  ADD("overlong \xc0\xaf slash");
  ADD("surrogate \xed\xa0\x80");
  ADD("truncated \xe2\x82");
  ADD("valid \xe2\x82\xac \xf0\x9f\x93\xae");
  char max[256];
  memset(max, 'm', 255);
  max[255] = '\0';
  ADD("%s", max); /* 255 bytes of ASCII */
  char euro[256];
  for (int i = 0; i < 85; i++) memcpy(euro + 3 * i, "\xe2\x82\xac", 3);
  euro[255] = '\0';
  ADD("%s", euro); /* 255 bytes, 85 characters */
  char raw[256];
  for (int i = 0; i < 255; i++) raw[i] = (char)(0x80 + i % 0x7f);
  raw[255] = '\0';
  ADD("%s", raw); /* 255 bytes, none of them UTF-8 */
#undef ADD

  /* A backend with Windows names refuses some (name_fate): each of those
   * must fail as said and leave nothing behind; the rest round-trip. */
  size_t kept = 0, refused = 0;
  for (size_t i = 0; i < n; i++) {
    /* On Windows a backslash separates: such a string is not one name. */
    if (caps.windows_names && strchr(names[i], '\\')) continue;
    char *p = ct_str("%s/%s", dir, names[i]);
    pm_fd fd;
    int rc = pm_fs_open(fs, p, PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL, 0644, &fd);
    int fate = name_fate(names[i]);
    if (fate != 0 && rc != 0 && (fate == 1 || rc == fate)) {
      refused++;
      continue;
    }
    if (rc || fate) {
      char *shown = pm_display_path(names[i]);
      print_error("create '%s': %s, expected %s\n", shown, pm_errname(rc),
                  fate == 1 ? "a failure" : pm_errname(fate));
      free(shown);
    }
    assert_int_equal(rc, fate);
    names[kept++] = names[i];
    /* The content is the name: a stat or read through a different name
     * would show. */
    size_t len = strlen(names[i]);
    assert_int_equal(pm_fs_pwrite(fs, fd, names[i], len, 0), (int64_t)len);
    assert_int_equal(pm_fs_close(fs, fd), 0);
  }
  if (refused)
    print_message("  %zu names refused as this backend must, %zu kept\n",
                  refused, kept);
  n = kept;
  listing l = list_dir(fs, dir);
  expect_listing(fs, dir, &l, names, n);
  assert_int_equal(l.n, n);
  /* Each name as readdir returned it reaches its own file. */
  for (size_t i = 0; i < l.n; i++) {
    char *p = ct_str("%s/%s", dir, l.names[i]);
    pm_stat st = stat_of(fs, p, false);
    assert_int_equal(st.type, PM_T_FILE);
    assert_int_equal(st.size, strlen(l.names[i]));
    char buf[300];
    size_t got = get_file(fs, p, buf, sizeof buf - 1);
    buf[got] = '\0';
    assert_string_equal(buf, l.names[i]);
  }
  listing_free(&l);
  free(names);
}

FS_CASE(readdir_each_once) {
  (void)t;
  char *empty = ct_str("%s/empty", dir);
  assert_int_equal(pm_fs_mkdir(fs, empty, 0755), 0);
  listing l = list_dir(fs, empty);
  assert_int_equal(l.n, 0);
  listing_free(&l);

  char *d = ct_str("%s/many", dir);
  assert_int_equal(pm_fs_mkdir(fs, d, 0755), 0);
  char *names[340];
  size_t n = 0;
  for (int i = 0; i < 300; i++) {
    names[n] = ct_str("file%03d", i);
    put_text(fs, ct_str("%s/%s", d, names[n]), "x");
    n++;
  }
  for (int i = 0; i < 20; i++) {
    names[n] = ct_str("dir%02d", i);
    assert_int_equal(pm_fs_mkdir(fs, ct_str("%s/%s", d, names[n]), 0755), 0);
    n++;
  }
  names[n] = "link";
  if (try_symlink(fs, "file000", ct_str("%s/link", d))) n++;
  names[n] = "fifo";
  int rc = pm_fs_mknod(fs, ct_str("%s/fifo", d), PM_T_FIFO, 0644, 0);
  if (rc == PM_ENOTSUP || rc == PM_EPERM)
    print_message("  no FIFOs here (%s): listed without one\n",
                  pm_errname(rc));
  else {
    assert_int_equal(rc, 0);
    n++;
  }
  /* A directory entry that is a hard link is listed under each name. */
  names[n] = "hard";
  assert_int_equal(pm_fs_link(fs, ct_str("%s/file001", d), ct_str("%s/hard", d)), 0);
  n++;
  l = list_dir(fs, d);
  expect_listing(fs, d, &l, names, n);
  assert_int_equal(l.n, n);
  listing_free(&l);

  /* Reading after the end keeps saying "end". */
  pm_dir *h;
  pm_dirent e;
  assert_int_equal(pm_fs_opendir(fs, empty, &h), 0);
  assert_int_equal(pm_fs_readdir(fs, h, &e), 0);
  assert_int_equal(pm_fs_readdir(fs, h, &e), 0);
  pm_fs_closedir(fs, h);
}

FS_CASE(read_eof) {
  (void)t;
  char data[1000];
  for (int i = 0; i < 1000; i++) data[i] = (char)(i * 7 + 1);
  char *p = ct_str("%s/f", dir);
  put_file(fs, p, data, sizeof data);
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, p, PM_O_RDONLY, 0, &fd), 0);
  char buf[8192];
  assert_int_equal(pm_fs_pread(fs, fd, buf, 100, 1000), 0);
  assert_int_equal(pm_fs_pread(fs, fd, buf, 100, 5000), 0);
  assert_int_equal(pm_fs_pread(fs, fd, buf, 100, UINT64_C(1) << 40), 0);
  assert_int_equal(pm_fs_pread(fs, fd, buf, 0, 0), 0);
  /* Spanning the end: at most the 100 bytes left, never more; reading on
   * collects exactly those and then 0. */
  int64_t r = pm_fs_pread(fs, fd, buf, sizeof buf, 900);
  assert_true(r > 0 && r <= 100);
  size_t got = (size_t)r;
  while ((r = pm_fs_pread(fs, fd, buf + got, sizeof buf - got, 900 + got)) > 0)
    got += (size_t)r;
  assert_int_equal(r, 0);
  assert_int_equal(got, 100);
  assert_memory_equal(buf, data + 900, 100);
  assert_int_equal(pm_fs_close(fs, fd), 0);

  char *e = ct_str("%s/empty", dir);
  put_file(fs, e, "", 0);
  assert_int_equal(pm_fs_open(fs, e, PM_O_RDONLY, 0, &fd), 0);
  assert_int_equal(pm_fs_pread(fs, fd, buf, sizeof buf, 0), 0);
  assert_int_equal(pm_fs_close(fs, fd), 0);
}

FS_CASE(pwrite_extends) {
  (void)t;
  char *p = ct_str("%s/f", dir);
  put_text(fs, p, "0123456789");
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, p, PM_O_RDWR, 0, &fd), 0);
  assert_int_equal(pm_fs_pwrite(fs, fd, "xyz", 3, 100000), 3);
  pm_stat st;
  assert_int_equal(pm_fs_fstat(fs, fd, &st), 0);
  assert_int_equal(st.size, 100003);
  char *buf = pm_xmalloc(100003);
  size_t got = 0;
  int64_t r;
  while ((r = pm_fs_pread(fs, fd, buf + got, 100003 - got, got)) > 0) got += (size_t)r;
  assert_int_equal(got, 100003);
  assert_memory_equal(buf, "0123456789", 10);
  for (size_t i = 10; i < 100000; i++)
    if (buf[i]) {
      print_error("byte %zu of the gap is %d, not 0\n", i, buf[i]);
      fail();
    }
  assert_memory_equal(buf + 100000, "xyz", 3);
  free(buf);
  assert_int_equal(pm_fs_close(fs, fd), 0);
}

FS_CASE(sparse_seek) {
  (void)t;
  const uint64_t MiB = 1 << 20, size = 8 * MiB, chunk = 64 * 1024;
  char *p = ct_str("%s/sparse", dir);
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, p,
                              PM_O_RDWR | PM_O_CREAT | PM_O_EXCL | PM_O_SPARSE,
                              0644, &fd),
                   0);
  char *block = pm_xmalloc(chunk);
  memset(block, 0x5A, chunk);
  assert_int_equal(pm_fs_ftruncate(fs, fd, size), 0);
  assert_int_equal(pm_fs_pwrite(fs, fd, block, chunk, 0), (int64_t)chunk);
  assert_int_equal(pm_fs_pwrite(fs, fd, block, chunk, 4 * MiB), (int64_t)chunk);
  free(block);

  assert_int_equal(pm_fs_seek(fs, fd, 0, false), 0);
  int64_t hole = pm_fs_seek(fs, fd, 0, true);
  assert_true(hole >= (int64_t)chunk);
  /* Past the end there is neither data nor a hole. */
  assert_int_equal(pm_fs_seek(fs, fd, size, false), PM_ENXIO);
  assert_int_equal(pm_fs_seek(fs, fd, size + 4096, false), PM_ENXIO);
  assert_int_equal(pm_fs_seek(fs, fd, size, true), PM_ENXIO);
  assert_int_equal(pm_fs_seek(fs, fd, size + 4096, true), PM_ENXIO);
  if (hole == (int64_t)size) {
    /* A file system without holes reports the whole file as data. */
    print_message("  no holes on this file system: the hole is the end\n");
    assert_int_equal(pm_fs_seek(fs, fd, size - 1, false), (int64_t)size - 1);
  } else {
    assert_true(hole <= (int64_t)(4 * MiB));
    int64_t data = pm_fs_seek(fs, fd, (uint64_t)hole, false);
    assert_true(data > hole && data <= (int64_t)(4 * MiB));
    int64_t tail = pm_fs_seek(fs, fd, 4 * MiB, true);
    assert_true(tail >= (int64_t)(4 * MiB + chunk) && tail <= (int64_t)size);
    /* In the trailing hole no data follows. */
    if (tail < (int64_t)size)
      assert_int_equal(pm_fs_seek(fs, fd, size - 1, false), PM_ENXIO);
  }
  assert_int_equal(pm_fs_close(fs, fd), 0);
}

typedef struct rename_reader {
  const pm_fs *fs;
  const char *path;
  pm_mutex mu;
  bool stop;
  unsigned opens, missing, mixed, errors;
} rename_reader;

static void reader_main(void *arg) {
  rename_reader *r = arg;
  char buf[4096];
  for (;;) {
    pm_mutex_lock(&r->mu);
    bool stop = r->stop;
    pm_mutex_unlock(&r->mu);
    if (stop) break;
    pm_fd fd;
    int rc = pm_fs_open(r->fs, r->path, PM_O_RDONLY, 0, &fd);
    pm_mutex_lock(&r->mu);
    r->opens++;
    if (rc == PM_ENOENT) r->missing++;
    else if (rc) r->errors++;
    pm_mutex_unlock(&r->mu);
    if (rc) continue;
    int64_t n = pm_fs_pread(r->fs, fd, buf, sizeof buf, 0);
    bool ok = n == (int64_t)sizeof buf;
    for (size_t i = 1; ok && i < sizeof buf; i++) ok = buf[i] == buf[0];
    pm_fs_close(r->fs, fd);
    pm_mutex_lock(&r->mu);
    if (!ok) r->mixed++;
    pm_mutex_unlock(&r->mu);
  }
}

FS_CASE(rename_replaces_atomically) {
  (void)t;
  char *to = ct_str("%s/target", dir);
  char *from = ct_str("%s/incoming", dir);
  char buf[4096];
  memset(buf, 'A', sizeof buf);
  put_file(fs, to, buf, sizeof buf);

  /* The plain replacement: the target is the source's file afterwards. */
  memset(buf, 'B', sizeof buf);
  put_file(fs, from, buf, sizeof buf);
  uint64_t ino = stat_of(fs, from, false).ino;
  assert_int_equal(pm_fs_rename(fs, from, to), 0);
  pm_stat st;
  assert_int_equal(pm_fs_stat(fs, from, false, &st), PM_ENOENT);
  assert_int_equal(stat_of(fs, to, false).ino, ino);
  char back[4096];
  assert_int_equal(get_file(fs, to, back, sizeof back), sizeof back);
  assert_memory_equal(back, buf, sizeof buf);

  /* Atomic: a reader opening the target while it is replaced again and
   * again finds it every time, whole. */
  rename_reader r = {.fs = fs, .path = to};
  pm_mutex_init(&r.mu);
  pm_thread th;
  assert_int_equal(pm_thread_create(&th, reader_main, &r), 0);
  /* Where a rename onto a file another handle holds open is refused
   * (Windows before 10), the renamer tries again until the reader has
   * closed it: the rule left is the reader's. Any other failure ends the
   * loop and is asserted once the reader has stopped. */
  unsigned busy = 0;
  int rc = 0;
  for (int i = 0; i < 300 && !rc; i++) {
    memset(buf, 'C' + i % 20, sizeof buf);
    put_file(fs, from, buf, sizeof buf);
    for (int tries = 0;; tries++) {
      rc = pm_fs_rename(fs, from, to);
      if (!caps.rename_over_open && (rc == PM_EACCES || rc == PM_EBUSY) &&
          tries < 100000) {
        busy++;
        continue;
      }
      break;
    }
  }
  pm_mutex_lock(&r.mu);
  r.stop = true;
  pm_mutex_unlock(&r.mu);
  pm_thread_join(&th);
  pm_mutex_destroy(&r.mu);
  assert_int_equal(rc, 0);
  print_message("  %u opens during 300 renames", r.opens);
  if (busy) print_message(" (%u renames refused while the target was open)",
                          busy);
  print_message("\n");
  assert_int_equal(r.missing, 0);
  assert_int_equal(r.mixed, 0);
  assert_int_equal(r.errors, 0);
}

FS_CASE(rename_directory) {
  (void)t;
  char *a = ct_str("%s/a", dir);
  assert_int_equal(pm_fs_mkdir(fs, a, 0755), 0);
  assert_int_equal(pm_fs_mkdir(fs, ct_str("%s/sub", a), 0755), 0);
  put_text(fs, ct_str("%s/sub/f", a), "inside");
  uint64_t ino = stat_of(fs, a, false).ino;
  char *b = ct_str("%s/b", dir);
  assert_int_equal(pm_fs_rename(fs, a, b), 0);
  pm_stat st;
  assert_int_equal(pm_fs_stat(fs, a, false, &st), PM_ENOENT);
  st = stat_of(fs, b, false);
  assert_int_equal(st.type, PM_T_DIR);
  assert_int_equal(st.ino, ino);
  expect_text(fs, ct_str("%s/sub/f", b), "inside");
  /* Into another directory. */
  char *c = ct_str("%s/c", dir);
  assert_int_equal(pm_fs_mkdir(fs, c, 0755), 0);
  assert_int_equal(pm_fs_rename(fs, b, ct_str("%s/moved", c)), 0);
  expect_text(fs, ct_str("%s/moved/sub/f", c), "inside");
}

FS_CASE(hard_links) {
  (void)t;
  char *f = ct_str("%s/f", dir), *g = ct_str("%s/g", dir);
  put_text(fs, f, "shared");
  assert_int_equal(stat_of(fs, f, false).nlink, 1);
  assert_int_equal(pm_fs_link(fs, f, g), 0);
  pm_stat a = stat_of(fs, f, false), b = stat_of(fs, g, false);
  assert_int_equal(a.dev, b.dev);
  assert_int_equal(a.ino, b.ino);
  assert_int_equal(a.nlink, 2);
  assert_int_equal(b.nlink, 2);
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, g, PM_O_RDONLY, 0, &fd), 0);
  pm_stat c;
  assert_int_equal(pm_fs_fstat(fs, fd, &c), 0);
  assert_int_equal(c.ino, a.ino);
  assert_int_equal(c.nlink, 2);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  assert_int_equal(pm_fs_link(fs, f, g), PM_EEXIST);
  assert_int_equal(pm_fs_unlink(fs, f), 0);
  assert_int_equal(stat_of(fs, g, false).nlink, 1);
  expect_text(fs, g, "shared");
}

FS_CASE(symlink_readlink) {
  (void)t;
  char *l = ct_str("%s/l", dir);
  /* The target is stored verbatim: it need not exist, and its bytes are
   * not interpreted. */
  const char *target = "no/such \xff target\r";
  char buf[64];
  size_t len = 0;
  if (!try_symlink(fs, target, l)) {
    /* No links: what is left is a non-link's answer. */
    print_message("  %s makes no symbolic links: readlink of a file only\n",
                  pm_fs_name(fs));
    char *f = ct_str("%s/f", dir);
    put_text(fs, f, "x");
    assert_int_equal(pm_fs_readlink(fs, f, buf, sizeof buf, &len), PM_EINVAL);
    assert_int_equal(pm_fs_readlink(fs, dir, buf, sizeof buf, &len), PM_EINVAL);
    assert_int_equal(pm_fs_symlink(fs, "f", f), PM_ENOTSUP);
    return;
  }
  assert_int_equal(pm_fs_readlink(fs, l, buf, sizeof buf, &len), 0);
  assert_int_equal(len, strlen(target));
  assert_string_equal(buf, target);
  /* The buffer must hold the target and a NUL. */
  assert_int_equal(pm_fs_readlink(fs, l, buf, strlen(target), &len), PM_ERANGE);
  assert_int_equal(pm_fs_readlink(fs, l, buf, strlen(target) + 1, &len), 0);
  pm_stat st;
  assert_int_equal(pm_fs_stat(fs, l, true, &st), PM_ENOENT);
  assert_int_equal(stat_of(fs, l, false).type, PM_T_SYMLINK);
  /* A non-link. */
  char *f = ct_str("%s/f", dir);
  put_text(fs, f, "x");
  assert_int_equal(pm_fs_readlink(fs, f, buf, sizeof buf, &len), PM_EINVAL);
  assert_int_equal(pm_fs_symlink(fs, "f", f), PM_EEXIST);
}

FS_CASE(stat_follow) {
  (void)t;
  char *f = ct_str("%s/f", dir), *d = ct_str("%s/d", dir);
  put_text(fs, f, "twelve bytes");
  assert_int_equal(pm_fs_mkdir(fs, d, 0755), 0);
  char *lf = ct_str("%s/lf", dir), *ld = ct_str("%s/ld", dir);
  pm_stat tf = stat_of(fs, f, false);
  /* A plain file and a directory look the same either way. */
  assert_int_equal(stat_of(fs, f, true).ino, tf.ino);
  assert_int_equal(stat_of(fs, d, true).ino, stat_of(fs, d, false).ino);
  if (!try_symlink(fs, "f", lf)) {
    print_message("  %s makes no symbolic links: plain entries only\n",
                  pm_fs_name(fs));
    return;
  }
  assert_int_equal(pm_fs_symlink(fs, "d", ld), 0);
  pm_stat sf = stat_of(fs, lf, true);
  assert_int_equal(sf.type, PM_T_FILE);
  assert_int_equal(sf.size, 12);
  assert_int_equal(sf.ino, tf.ino);
  pm_stat nf = stat_of(fs, lf, false);
  assert_int_equal(nf.type, PM_T_SYMLINK);
  assert_true(nf.ino != tf.ino);
  assert_int_equal(stat_of(fs, ld, true).type, PM_T_DIR);
  assert_int_equal(stat_of(fs, ld, false).type, PM_T_SYMLINK);
  /* A plain file looks the same either way. */
  assert_int_equal(stat_of(fs, f, true).ino, tf.ino);
  /* A symlink in the middle of a path is always followed. */
  put_text(fs, ct_str("%s/inner", d), "in");
  assert_int_equal(stat_of(fs, ct_str("%s/inner", ld), false).type, PM_T_FILE);
}

FS_CASE(identity) {
  (void)t;
  char *f = ct_str("%s/f", dir), *g = ct_str("%s/g", dir);
  put_text(fs, f, "one");
  put_text(fs, g, "two");
  pm_stat a = stat_of(fs, f, false), b = stat_of(fs, g, false);
  assert_int_equal(a.dev, b.dev);
  assert_true(a.ino != b.ino);
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, f, PM_O_RDONLY, 0, &fd), 0);
  pm_stat h;
  assert_int_equal(pm_fs_fstat(fs, fd, &h), 0);
  assert_int_equal(h.dev, a.dev);
  assert_int_equal(h.ino, a.ino);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  char *moved = ct_str("%s/moved", dir);
  assert_int_equal(pm_fs_rename(fs, f, moved), 0);
  pm_stat m = stat_of(fs, moved, false);
  assert_int_equal(m.dev, a.dev);
  assert_int_equal(m.ino, a.ino);
  pm_stat ds = stat_of(fs, dir, false);
  assert_true(ds.ino != a.ino);
  pm_fsinfo fi;
  assert_int_equal(pm_fs_fsinfo(fs, dir, &fi), 0);
  assert_int_equal(fi.dev, ds.dev);
  assert_int_equal(fi.dev, a.dev);
}

/* How finely each file system keeps times, in nanoseconds; 1 for those
 * that keep nanoseconds. Unknown ones are checked to within 2 seconds
 * with a message. */
static int64_t time_granularity(const char *type) {
  static const struct { const char *type; int64_t ns; } known[] = {
      {"ext4", 1}, {"tmpfs", 1}, {"xfs", 1}, {"btrfs", 1},
      {"overlay", 1}, {"ntfs", 100}, {"NTFS", 100}, {"vfat", 2000000000},
      {"FAT", 2000000000}, {"FAT32", 2000000000}, {"exfat", 10000000}};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (!strcmp(known[i].type, type)) return known[i].ns;
  return 0;
}

static void expect_time(pm_time got, pm_time want, int64_t gran) {
  int64_t g = got.sec * 1000000000 + got.nsec;
  int64_t w = want.sec * 1000000000 + want.nsec;
  if (gran == 1) {
    assert_int_equal(got.sec, want.sec);
    assert_int_equal(got.nsec, want.nsec);
  } else {
    int64_t tol = gran ? gran : 2000000000;
    assert_true(g <= w && w - g < tol);
  }
}

FS_CASE(metadata) {
  (void)t;
  char *f = ct_str("%s/f", dir);
  put_text(fs, f, "meta");
  pm_fsinfo fi;
  assert_int_equal(pm_fs_fsinfo(fs, dir, &fi), 0);
  int64_t gran = time_granularity(fi.type);
  if (gran != 1)
    print_message("  times on %s are kept to %lld ns: compared to that\n",
                  fi.type, (long long)(gran ? gran : 2000000000));

  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, f, PM_O_RDWR, 0, &fd), 0);
  pm_stat st;
  assert_int_equal(pm_fs_fchmod(fs, fd, 0440), 0);
  assert_int_equal(pm_fs_fstat(fs, fd, &st), 0);
  assert_int_equal(st.mode, mode_kept(0440, false));
  assert_int_equal(pm_fs_fchmod(fs, fd, 0640), 0);
  assert_int_equal(pm_fs_fstat(fs, fd, &st), 0);
  assert_int_equal(st.mode, mode_kept(0640, false));
  assert_int_equal(pm_fs_chmod(fs, f, 0404), 0);
  assert_int_equal(stat_of(fs, f, false).mode, mode_kept(0404, false));
  assert_int_equal(pm_fs_chmod(fs, f, 0604), 0);
  assert_int_equal(stat_of(fs, f, false).mode, mode_kept(0604, false));
  char *d = ct_str("%s/d", dir);
  assert_int_equal(pm_fs_mkdir(fs, d, 0755), 0);
  assert_int_equal(pm_fs_chmod(fs, d, 0750), 0);
  assert_int_equal(stat_of(fs, d, false).mode, mode_kept(0750, true));

  pm_time at = {1000000000, 987654321}, mt = {1234567890, 123456789};
  assert_int_equal(pm_fs_futimes(fs, fd, &at, &mt), 0);
  assert_int_equal(pm_fs_fstat(fs, fd, &st), 0);
  expect_time(st.atime, at, gran);
  expect_time(st.mtime, mt, gran);
  /* Past 2038: times are 64-bit seconds everywhere. */
  pm_time late = {4102444800, 500000000}; /* 2100-01-01 */
  assert_int_equal(pm_fs_utimes(fs, f, NULL, &late, true), 0);
  st = stat_of(fs, f, false);
  expect_time(st.mtime, late, gran);
  /* A NULL time is left as it was. */
  expect_time(st.atime, at, gran);
  assert_int_equal(pm_fs_futimes(fs, fd, &mt, NULL), 0);
  assert_int_equal(pm_fs_fstat(fs, fd, &st), 0);
  expect_time(st.atime, mt, gran);
  expect_time(st.mtime, late, gran);
  assert_int_equal(pm_fs_utimes(fs, d, &at, &mt, true), 0);
  expect_time(stat_of(fs, d, false).mtime, mt, gran);

  /* Without follow, a symlink's own times change and its target's not. */
  char *l = ct_str("%s/l", dir);
  bool linked = try_symlink(fs, "f", l);
  if (linked) {
    assert_int_equal(pm_fs_utimes(fs, l, &at, &at, false), 0);
    expect_time(stat_of(fs, l, false).mtime, at, gran);
    expect_time(stat_of(fs, f, false).mtime, late, gran);
  }

  /* chown to oneself is always allowed. */
  assert_int_equal(pm_fs_fchown(fs, fd, st.uid, st.gid), 0);
  assert_int_equal(pm_fs_chown(fs, f, st.uid, st.gid, true), 0);
  if (linked) assert_int_equal(pm_fs_chown(fs, l, st.uid, st.gid, false), 0);
  pm_stat after = stat_of(fs, f, false);
  assert_int_equal(after.uid, st.uid);
  assert_int_equal(after.gid, st.gid);
  assert_int_equal(pm_fs_close(fs, fd), 0);
}

static bool xattr_listed(const char *list, size_t len, const char *name) {
  for (size_t i = 0; i < len; i += strlen(list + i) + 1)
    if (!strcmp(list + i, name)) return true;
  return false;
}

static unsigned xattr_tables_run;

/* Not an FS_CASE: the test itself is skipped when no table could run it. */
static void case_xattr(const pm_fs *fs, const char *dir,
                       const fs_table *t) {
  (void)t;
  char *f = ct_str("%s/f", dir);
  put_text(fs, f, "x");
  const char *name = "user.pomove.contract";
  const char val[] = {'v', 0, 1, (char)0xff};
  int rc = pm_fs_xattr_set(fs, f, true, name, val, sizeof val);
  if (rc == PM_ENOTSUP) {
    pm_fsinfo fi;
    pm_fs_fsinfo(fs, dir, &fi);
    print_message("  %s (%s) stores no extended attributes: skipped\n", dir,
                  fi.type);
    return;
  }
  assert_int_equal(rc, 0);
  xattr_tables_run++;
  char list[4096];
  size_t len = 0;
  assert_int_equal(pm_fs_xattr_list(fs, f, true, list, sizeof list, &len), 0);
  assert_true(len > 0 && list[len - 1] == '\0');
  assert_true(xattr_listed(list, len, name));
  char buf[16];
  assert_int_equal(pm_fs_xattr_get(fs, f, true, name, buf, sizeof buf, &len), 0);
  assert_int_equal(len, sizeof val);
  assert_memory_equal(buf, val, sizeof val);
  assert_int_equal(pm_fs_xattr_get(fs, f, true, name, buf, 2, &len), PM_ERANGE);
  assert_int_equal(pm_fs_xattr_get(fs, f, true, "user.pomove.absent", buf,
                                 sizeof buf, &len), PM_ENODATA);
  /* An empty value is a value. */
  assert_int_equal(pm_fs_xattr_set(fs, f, true, "user.pomove.empty", "", 0), 0);
  assert_int_equal(pm_fs_xattr_get(fs, f, true, "user.pomove.empty", buf,
                                 sizeof buf, &len), 0);
  assert_int_equal(len, 0);
  /* Removal, beneath a directory handle: gone from get and list, and a
   * second removal (or one of a name never set) says PM_ENODATA. */
  pm_fd d;
  assert_int_equal(pm_fs_open(fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &d), 0);
  assert_int_equal(pm_fs_xattr_remove_at(fs, d, "f", name), 0);
  assert_int_equal(pm_fs_xattr_get(fs, f, true, name, buf, sizeof buf, &len),
                   PM_ENODATA);
  assert_int_equal(pm_fs_xattr_list(fs, f, true, list, sizeof list, &len), 0);
  assert_false(xattr_listed(list, len, name));
  assert_true(xattr_listed(list, len, "user.pomove.empty"));
  assert_int_equal(pm_fs_xattr_remove_at(fs, d, "f", name), PM_ENODATA);
  assert_int_equal(pm_fs_xattr_remove_at(fs, d, "f", "user.pomove.absent"),
                   PM_ENODATA);
  assert_int_equal(pm_fs_close(fs, d), 0);
}

static void test_fs_contract_xattr_any(void **state) {
  (void)state;
  xattr_tables_run = 0;
  for_each_table(case_xattr);
  if (!xattr_tables_run) skip();
}

/* A failure with its PM_E* code; the OS code must have been replaced. */
#define EXPECT_FAIL(call, code)                         \
  do {                                                  \
    pm_oserr_set(-424242);                              \
    assert_int_equal((call), (code));                   \
    assert_int_not_equal(pm_oserr_last(), -424242);     \
  } while (0)

FS_CASE(errors) {
  char *f = ct_str("%s/f", dir), *d = ct_str("%s/d", dir);
  char *l = ct_str("%s/l", dir), *ld = ct_str("%s/ld", dir);
  char *missing = ct_str("%s/missing", dir);
  put_text(fs, f, "x");
  assert_int_equal(pm_fs_mkdir(fs, d, 0755), 0);
  put_text(fs, ct_str("%s/child", d), "y");
  bool linked = try_symlink(fs, "f", l);
  if (linked) assert_int_equal(pm_fs_symlink(fs, "d", ld), 0);
  pm_fd fd = PM_FD_INVALID;
  pm_stat st;
  pm_dir *dh;

  EXPECT_FAIL(pm_fs_open(fs, missing, PM_O_RDONLY, 0, &fd), PM_ENOENT);
  assert_int_equal(pm_oserr_last(), t->os_noent);
  EXPECT_FAIL(pm_fs_open(fs, ct_str("%s/x", missing), PM_O_WRONLY | PM_O_CREAT,
                       0644, &fd), PM_ENOENT);
  EXPECT_FAIL(pm_fs_stat(fs, missing, false, &st), PM_ENOENT);
  EXPECT_FAIL(pm_fs_opendir(fs, missing, &dh), PM_ENOENT);
  EXPECT_FAIL(pm_fs_opendir(fs, f, &dh), PM_ENOTDIR);
  EXPECT_FAIL(pm_fs_stat(fs, ct_str("%s/x", f), false, &st), PM_ENOTDIR);
  EXPECT_FAIL(pm_fs_open(fs, f, PM_O_RDONLY | PM_O_DIRECTORY, 0, &fd), PM_ENOTDIR);

  EXPECT_FAIL(pm_fs_mkdir(fs, d, 0755), PM_EEXIST);
  EXPECT_FAIL(pm_fs_mkdir(fs, f, 0755), PM_EEXIST);
  EXPECT_FAIL(pm_fs_mkdir(fs, ct_str("%s/x/y", missing), 0755), PM_ENOENT);
  EXPECT_FAIL(pm_fs_rmdir(fs, d), PM_ENOTEMPTY);
  EXPECT_FAIL(pm_fs_rmdir(fs, f), PM_ENOTDIR);
  EXPECT_FAIL(pm_fs_rmdir(fs, missing), PM_ENOENT);
  EXPECT_FAIL(pm_fs_open(fs, d, PM_O_WRONLY, 0, &fd), PM_EISDIR);
  EXPECT_FAIL(pm_fs_open(fs, d, PM_O_RDWR, 0, &fd), PM_EISDIR);
  EXPECT_FAIL(pm_fs_unlink(fs, d), PM_EISDIR);
  EXPECT_FAIL(pm_fs_unlink(fs, missing), PM_ENOENT);

  /* No-follow opens refuse a symlink in the last component. */
  if (linked) {
    EXPECT_FAIL(pm_fs_open(fs, l, PM_O_RDONLY | PM_O_NOFOLLOW, 0, &fd), PM_ELOOP);
    EXPECT_FAIL(pm_fs_open(fs, ld, PM_O_RDONLY | PM_O_NOFOLLOW, 0, &fd),
                PM_ELOOP);
  }
  /* Exclusive creation never goes through a symlink, even a dangling
   * one, and never reuses an existing file. */
  EXPECT_FAIL(pm_fs_open(fs, f, PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL, 0644, &fd),
              PM_EEXIST);
  char *dangling = ct_str("%s/dangling", dir);
  if (try_symlink(fs, "created-through-link", dangling))
    EXPECT_FAIL(pm_fs_open(fs, dangling, PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL,
                         0644, &fd), PM_EEXIST);
  EXPECT_FAIL(pm_fs_stat(fs, ct_str("%s/created-through-link", dir), false, &st),
              PM_ENOENT);

  /* Renames to a missing directory, from a missing name. */
  EXPECT_FAIL(pm_fs_rename(fs, f, ct_str("%s/f", missing)), PM_ENOENT);
  EXPECT_FAIL(pm_fs_rename(fs, missing, ct_str("%s/g", dir)), PM_ENOENT);
  assert_int_equal(stat_of(fs, f, false).type, PM_T_FILE);

  /* A name of 256 bytes is too long (255 is the longest name). */
  char longname[257];
  memset(longname, 'n', 256);
  longname[256] = '\0';
  char *toolong = ct_str("%s/%s", dir, longname);
  EXPECT_FAIL(pm_fs_open(fs, toolong, PM_O_WRONLY | PM_O_CREAT, 0644, &fd),
              PM_ENAMETOOLONG);
  EXPECT_FAIL(pm_fs_stat(fs, toolong, false, &st), PM_ENAMETOOLONG);

  /* PM_O_REGULAR: a FIFO without a writer is refused, not waited on; a
   * directory is refused too; a regular file opens. */
  char *fifo = ct_str("%s/fifo", dir);
  int rc = pm_fs_mknod(fs, fifo, PM_T_FIFO, 0644, 0);
  if (rc == PM_ENOTSUP || rc == PM_EPERM) {
    print_message("  no FIFOs here (%s): PM_O_REGULAR checked on a directory "
                  "only\n", pm_errname(rc));
  } else {
    assert_int_equal(rc, 0);
    ct_watchdog *w = ct_watchdog_start(10, "open of a FIFO with PM_O_REGULAR");
    rc = pm_fs_open(fs, fifo, PM_O_RDONLY | PM_O_REGULAR, 0, &fd);
    ct_watchdog_stop(w);
    assert_int_equal(rc, PM_ESPECIAL);
    w = ct_watchdog_start(10, "stat of a FIFO");
    assert_int_equal(stat_of(fs, fifo, false).type, PM_T_FIFO);
    ct_watchdog_stop(w);
  }
  assert_int_equal(pm_fs_open(fs, d, PM_O_RDONLY | PM_O_REGULAR, 0, &fd),
                   PM_ESPECIAL);
  assert_int_equal(pm_fs_open(fs, f, PM_O_RDONLY | PM_O_REGULAR, 0, &fd), 0);
  char c;
  assert_int_equal(pm_fs_pread(fs, fd, &c, 1, 0), 1);
  assert_int_equal(pm_fs_close(fs, fd), 0);
}

typedef struct other_thread {
  const pm_fs *fs;
  const char *missing;
  int rc, oserr;
} other_thread;

static void fail_elsewhere(void *arg) {
  other_thread *o = arg;
  pm_fd fd;
  o->rc = pm_fs_open(o->fs, o->missing, PM_O_RDONLY, 0, &fd);
  o->oserr = pm_oserr_last();
}

FS_CASE(oserr) {
  char *missing = ct_str("%s/missing", dir);
  pm_fd fd;
  pm_oserr_set(0);
  assert_int_equal(pm_fs_open(fs, missing, PM_O_RDONLY, 0, &fd), PM_ENOENT);
  assert_int_equal(pm_oserr_last(), t->os_noent);
  /* Another thread's failure leaves this thread's code alone. */
  pm_oserr_set(4242);
  other_thread o = {fs, missing, 0, 0};
  pm_thread th;
  assert_int_equal(pm_thread_create(&th, fail_elsewhere, &o), 0);
  pm_thread_join(&th);
  assert_int_equal(o.rc, PM_ENOENT);
  assert_int_equal(o.oserr, t->os_noent);
  assert_int_equal(pm_oserr_last(), 4242);
  /* A failure the backend finds itself, with no OS call failing, leaves
   * no stale code behind: 0 says "no OS code". */
  char *l = ct_str("%s/l", dir);
  pm_oserr_set(4242);
  if (try_symlink(fs, "a-long-target", l)) {
    char small[4];
    size_t len;
    pm_oserr_set(4242);
    assert_int_equal(pm_fs_readlink(fs, l, small, sizeof small, &len), PM_ERANGE);
  }
  /* Else symlink's PM_ENOTSUP, found without an OS call, is the case. */
  assert_true(pm_oserr_last() != 4242);
  char *d = ct_str("%s/d", dir);
  assert_int_equal(pm_fs_mkdir(fs, d, 0755), 0);
  pm_oserr_set(4242);
  assert_int_equal(pm_fs_open(fs, d, PM_O_RDONLY | PM_O_REGULAR, 0, &fd),
                   PM_ESPECIAL);
  assert_true(pm_oserr_last() != 4242);
  char tiny[2];
  pm_oserr_set(4242);
  assert_int_equal(pm_fs_realpath(fs, dir, tiny, sizeof tiny), PM_ENAMETOOLONG);
  assert_true(pm_oserr_last() != 4242);
}

/* phys_pos: a file whose data were flushed has a place on the disk,
 * another file's differs; an empty file has none (PM_ENODATA); a file
 * system that cannot tell says PM_ENOTSUP for both. */
FS_CASE(phys_pos) {
  (void)t;
  char *f = ct_str("%s/f", dir), *g = ct_str("%s/g", dir),
       *e = ct_str("%s/e", dir);
  char data[10000];
  memset(data, 'p', sizeof data);
  put_file(fs, f, data, sizeof data);
  put_file(fs, g, data, sizeof data);
  put_file(fs, e, data, 0);
  pm_fd fd, gd, ed;
  assert_int_equal(pm_fs_open(fs, f, PM_O_RDWR, 0, &fd), 0);
  assert_int_equal(pm_fs_open(fs, g, PM_O_RDWR, 0, &gd), 0);
  assert_int_equal(pm_fs_open(fs, e, PM_O_RDONLY, 0, &ed), 0);
  assert_int_equal(pm_fs_fsync(fs, fd, false), 0);
  assert_int_equal(pm_fs_fsync(fs, gd, false), 0);
  uint64_t pf = 0, pg = 0, pe = 0;
  int rf = pm_fs_phys_pos(fs, fd, &pf), rg = pm_fs_phys_pos(fs, gd, &pg);
  int re = pm_fs_phys_pos(fs, ed, &pe);
  if (rf == PM_ENOTSUP) {
    print_message("  no physical positions on this file system\n");
    assert_int_equal(rg, PM_ENOTSUP);
    assert_true(re == PM_ENOTSUP || re == PM_ENODATA);
  } else {
    assert_int_equal(rf, 0);
    assert_int_equal(rg, 0);
    assert_true(pf != pg);
    assert_int_equal(re, PM_ENODATA);
  }
  assert_int_equal(pm_fs_close(fs, fd), 0);
  assert_int_equal(pm_fs_close(fs, gd), 0);
  assert_int_equal(pm_fs_close(fs, ed), 0);
}

FS_CASE(sync_truncate) {
  (void)t;
  char *f = ct_str("%s/f", dir);
  char data[10000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i % 251 + 1);
  put_file(fs, f, data, sizeof data);
  pm_fd fd;
  assert_int_equal(pm_fs_open(fs, f, PM_O_RDWR, 0, &fd), 0);
  assert_int_equal(pm_fs_fsync(fs, fd, false), 0);
  assert_int_equal(pm_fs_fsync(fs, fd, true), 0);
  /* Where a whole-volume flush needs privileges (Windows: an
   * administrator), syncfs may say PM_ENOTSUP: the copy engine then
   * flushes each file. */
  int rc = pm_fs_syncfs(fs, fd);
  if (rc == PM_ENOTSUP && !caps.syncfs_always)
    print_message("  no whole-volume flush here (OS error %d)\n",
                  pm_oserr_last());
  else
    assert_int_equal(rc, 0);
  assert_int_equal(pm_fs_ftruncate(fs, fd, 100), 0);
  pm_stat st;
  assert_int_equal(pm_fs_fstat(fs, fd, &st), 0);
  assert_int_equal(st.size, 100);
  assert_int_equal(pm_fs_ftruncate(fs, fd, 5000), 0);
  char buf[5000];
  assert_int_equal(pm_fs_pread(fs, fd, buf, sizeof buf, 0), 5000);
  assert_memory_equal(buf, data, 100);
  for (size_t i = 100; i < 5000; i++) assert_int_equal(buf[i], 0);
  assert_int_equal(pm_fs_ftruncate(fs, fd, 0), 0);
  assert_int_equal(pm_fs_pread(fs, fd, buf, sizeof buf, 0), 0);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  /* The copy engine flushes a whole destination through a handle of its
   * root directory. */
  pm_fd dfd;
  assert_int_equal(pm_fs_open(fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &dfd), 0);
  rc = pm_fs_syncfs(fs, dfd);
  if (!(rc == PM_ENOTSUP && !caps.syncfs_always)) assert_int_equal(rc, 0);
  assert_int_equal(pm_fs_fsync(fs, dfd, false), 0);
  assert_int_equal(pm_fs_close(fs, dfd), 0);
}

FS_CASE(fsinfo) {
  (void)t;
  pm_fsinfo fi;
  memset(&fi, 0x7f, sizeof fi);
  assert_int_equal(pm_fs_fsinfo(fs, dir, &fi), 0);
  assert_non_null(memchr(fi.type, '\0', sizeof fi.type));
  assert_true(fi.type[0] != '\0');
  assert_true(fi.total_bytes > 0);
  assert_true(fi.free_bytes <= fi.total_bytes);
  assert_true(fi.block_size >= 512);
  assert_int_equal(fi.block_size & (fi.block_size - 1), 0);
  assert_int_equal(fi.dev, stat_of(fs, dir, false).dev);
  print_message("  %s: %s, block %u\n", dir, fi.type, fi.block_size);
  char *f = ct_str("%s/f", dir);
  put_text(fs, f, "x");
  pm_fsinfo ff;
  assert_int_equal(pm_fs_fsinfo(fs, f, &ff), 0);
  assert_int_equal(ff.dev, fi.dev);
  assert_string_equal(ff.type, fi.type);
  assert_int_equal(pm_fs_fsinfo(fs, ct_str("%s/missing", dir), &ff), PM_ENOENT);
}

/* ---- what is the Windows table's own ---- */

static unsigned win32_tables_run;

/* The path as Windows writes it: '\\' for '/'. */
static char *backslashed(const char *path) {
  char *p = ct_str("%s", path);
  for (char *c = p; *c; c++)
    if (*c == '/') *c = '\\';
  return p;
}

static void case_win32(const pm_fs *fs, const char *dir,
                       const fs_table *t) {
  (void)t;
  if (!caps.windows_names) return;
  win32_tables_run++;
  pm_stat st;
  pm_fd fd, fd2;

  /* Past MAX_PATH (260), in every form a Windows user may write: '/',
   * '\\', and \\?\ with the drive. */
  char comp[101];
  memset(comp, 'p', 100);
  comp[100] = '\0';
  char *deep = ct_str("%s", dir);
  for (int i = 0; i < 6; i++) {
    deep = ct_str("%s/%s", deep, comp);
    assert_int_equal(pm_fs_mkdir(fs, deep, 0755), 0);
  }
  char *f = ct_str("%s/file", deep);
  assert_true(strlen(f) > 600);
  put_text(fs, f, "past MAX_PATH");
  uint64_t ino = stat_of(fs, f, false).ino;
  assert_int_equal(stat_of(fs, backslashed(f), false).ino, ino);
  char *real = ct_alloc(strlen(f) + 64);
  assert_int_equal(pm_fs_realpath(fs, f, real, strlen(f) + 64), 0);
  assert_true(real[1] == ':' && real[2] == '/'); /* C:/..., no \\?\ */
  char *prefixed = backslashed(ct_str("//?/%s", real));
  assert_int_equal(stat_of(fs, prefixed, false).ino, ino);
  expect_text(fs, prefixed, "past MAX_PATH");
  char *g = ct_str("%s/renamed", deep);
  assert_int_equal(pm_fs_rename(fs, prefixed, g), 0);
  expect_text(fs, g, "past MAX_PATH");

  /* Read-only files: unlinked and renamed over as POSIX does (it does not
   * look at the mode); a read-only file that keeps another name keeps
   * the attribute. */
  char *ro = ct_str("%s/ro", dir), *ro2 = ct_str("%s/ro2", dir);
  put_text(fs, ro, "read-only");
  assert_int_equal(pm_fs_chmod(fs, ro, 0444), 0);
  assert_int_equal(stat_of(fs, ro, false).mode, 0444);
  assert_int_equal(pm_fs_link(fs, ro, ro2), 0);
  assert_int_equal(pm_fs_unlink(fs, ro), 0);
  assert_int_equal(pm_fs_stat(fs, ro, false, &st), PM_ENOENT);
  st = stat_of(fs, ro2, false);
  assert_int_equal(st.nlink, 1);
  assert_int_equal(st.mode, 0444);
  put_text(fs, ro, "replacement");
  assert_int_equal(pm_fs_rename(fs, ro, ro2), 0);
  expect_text(fs, ro2, "replacement");
  assert_int_equal(stat_of(fs, ro2, false).mode, 0666);
  assert_int_equal(pm_fs_chmod(fs, ro2, 0444), 0);
  assert_int_equal(pm_fs_unlink(fs, ro2), 0);
  assert_int_equal(pm_fs_stat(fs, ro2, false, &st), PM_ENOENT);
  /* Created read-only: still written through the handle that made it. */
  assert_int_equal(pm_fs_open(fs, ro, PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL, 0444,
                            &fd), 0);
  assert_int_equal(pm_fs_pwrite(fs, fd, "made", 4, 0), 4);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  assert_int_equal(stat_of(fs, ro, false).mode, 0444);
  expect_text(fs, ro, "made");
  assert_int_equal(pm_fs_unlink(fs, ro), 0);

  /* Names: trailing dots and spaces and non-ASCII characters (BMP and
   * not) round-trip through create, readdir and stat. */
  char *sub = ct_str("%s/names", dir);
  assert_int_equal(pm_fs_mkdir(fs, sub, 0755), 0);
  char *names[] = {"dot.", "dots...", "space ", "both. .", " lead",
                   "\xc3\xa9t\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
                   "mail \xf0\x9f\x93\xae", "nul", "CON", "lpt1.txt"};
  size_t n = sizeof names / sizeof names[0];
  for (size_t i = 0; i < n; i++)
    put_text(fs, ct_str("%s/%s", sub, names[i]), names[i]);
  listing l = list_dir(fs, sub);
  expect_listing(fs, sub, &l, names, n);
  assert_int_equal(l.n, n);
  for (size_t i = 0; i < l.n; i++)
    expect_text(fs, ct_str("%s/%s", sub, l.names[i]), l.names[i]);
  listing_free(&l);
  /* "dot." is not "dot": no name is rewritten on the way. */
  assert_int_equal(pm_fs_stat(fs, ct_str("%s/dot", sub), false, &st), PM_ENOENT);

  /* Names NTFS refuses through Win32 fail before anything is made: a
   * ':' never names a stream of another file. */
  const char *bad[] = {"a:b", "star*", "what?", "quote\"", "lt<", "gt>",
                       "pipe|", "tab\t"};
  put_text(fs, ct_str("%s/a", sub), "a");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    pm_oserr_set(4242);
    assert_int_equal(pm_fs_open(fs, ct_str("%s/%s", sub, bad[i]),
                              PM_O_WRONLY | PM_O_CREAT, 0644, &fd),
                     PM_EINVAL);
    assert_int_equal(pm_oserr_last(), 0);
    assert_int_equal(pm_fs_mkdir(fs, ct_str("%s/%s", sub, bad[i]), 0755),
                     PM_EINVAL);
  }
  assert_int_equal(stat_of(fs, ct_str("%s/a", sub), false).size, 1);
  l = list_dir(fs, sub);
  assert_int_equal(l.n, n + 1);
  listing_free(&l);

  /* Case: two spellings name one file, and the directory's own is what
   * realpath gives. */
  char *mixed = ct_str("%s/MiXed", dir);
  put_text(fs, mixed, "case");
  char *upper = ct_str("%s/MIXED", dir);
  assert_int_equal(stat_of(fs, upper, false).ino,
                   stat_of(fs, mixed, false).ino);
  assert_int_equal(pm_fs_open(fs, upper, PM_O_WRONLY | PM_O_CREAT | PM_O_EXCL, 0644,
                            &fd), PM_EEXIST);
  char *rm = ct_alloc(strlen(mixed) + 64), *ru = ct_alloc(strlen(mixed) + 64);
  assert_int_equal(pm_fs_realpath(fs, mixed, rm, strlen(mixed) + 64), 0);
  assert_int_equal(pm_fs_realpath(fs, upper, ru, strlen(mixed) + 64), 0);
  assert_string_equal(ru, rm);
  assert_string_equal(rm + strlen(rm) - 6, "/MiXed");

  /* The lock of one open: another open cannot take it, yet reads the
   * file (Windows locks are mandatory: the lock is on no byte of data);
   * closing the holder frees it. */
  assert_int_equal(pm_fs_open(fs, mixed, PM_O_RDWR, 0, &fd), 0);
  assert_int_equal(pm_fs_open(fs, mixed, PM_O_RDWR, 0, &fd2), 0);
  assert_int_equal(pm_fs_lock(fs, fd), 0);
  assert_int_equal(pm_fs_lock(fs, fd2), PM_EBUSY);
  char buf[8];
  assert_int_equal(pm_fs_pread(fs, fd2, buf, sizeof buf, 0), 4);
  assert_int_equal(pm_fs_pwrite(fs, fd2, "CASE", 4, 0), 4);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  assert_int_equal(pm_fs_lock(fs, fd2), 0);
  assert_int_equal(pm_fs_close(fs, fd2), 0);
  expect_text(fs, mixed, "CASE");

  /* The change time is NTFS's ChangeTime, which moves with the data
   * and the metadata (copy --update finds a rewrite whose mtime was put
   * back by it), not the creation time, which never moves. */
  char *ch = ct_str("%s/changed", dir);
  put_text(fs, ch, "one");
  pm_stat c0 = stat_of(fs, ch, false);
  ct_sleep_ms(50);
  assert_int_equal(pm_fs_open(fs, ch, PM_O_WRONLY, 0, &fd), 0);
  assert_int_equal(pm_fs_pwrite(fs, fd, "two", 3, 0), 3);
  assert_int_equal(pm_fs_futimes(fs, fd, &c0.atime, &c0.mtime), 0);
  assert_int_equal(pm_fs_close(fs, fd), 0);
  pm_stat c1 = stat_of(fs, ch, false);
  assert_true(c1.mtime.sec == c0.mtime.sec && c1.mtime.nsec == c0.mtime.nsec);
  assert_true(c1.ctime.sec > c0.ctime.sec ||
              (c1.ctime.sec == c0.ctime.sec && c1.ctime.nsec > c0.ctime.nsec));

  /* Windows metadata as extended attributes (platform.h): the
   * attribute word, set through win32.attributes and read back through
   * stat; the security descriptor read (size first, PM_ERANGE when it
   * does not fit) and set on another file; any other name is absent and
   * cannot be set. */
  char *ma = ct_str("%s/meta-a", dir), *mb = ct_str("%s/meta-b", dir);
  put_text(fs, ma, "a");
  put_text(fs, mb, "b");
  char xl[256];
  size_t xn = 0;
  assert_int_equal(pm_fs_xattr_list(fs, ma, true, xl, sizeof xl, &xn), 0);
  assert_true(xn > 0 && xl[xn - 1] == '\0');
  assert_true(xattr_listed(xl, xn, "win32.attributes"));
  unsigned char word[4] = {0x27, 0x00, 0x00, 0x00}; /* R H S A */
  assert_int_equal(pm_fs_xattr_set(fs, ma, true, "win32.attributes", word, 4), 0);
  st = stat_of(fs, ma, false);
  assert_int_equal(st.attrs & 0x27, 0x27);
  assert_int_equal(st.mode, 0444);
  unsigned char got[8];
  assert_int_equal(pm_fs_xattr_get(fs, ma, true, "win32.attributes", got,
                                 sizeof got, &xn), 0);
  assert_int_equal(xn, 4);
  assert_memory_equal(got, word, 4);
  assert_int_equal(pm_fs_xattr_get(fs, ma, true, "win32.attributes", got, 3, &xn),
                   PM_ERANGE);
  assert_int_equal(pm_fs_xattr_set(fs, ma, true, "win32.attributes", word, 3),
                   PM_EINVAL);
  /* The directory and reparse bits are not the word's: a directory's
   * word does not carry FILE_ATTRIBUTE_DIRECTORY. */
  assert_int_equal(pm_fs_xattr_get(fs, dir, true, "win32.attributes", got,
                                 sizeof got, &xn), 0);
  assert_int_equal(got[0] & 0x10, 0);
  assert_int_equal(pm_fs_xattr_get(fs, ma, true, "user.x", got, sizeof got, &xn),
                   PM_ENODATA);
  assert_int_equal(pm_fs_xattr_set(fs, ma, true, "user.x", "1", 1), PM_ENOTSUP);
  pm_fd md;
  assert_int_equal(pm_fs_open(fs, dir, PM_O_RDONLY | PM_O_DIRECTORY, 0, &md), 0);
  assert_int_equal(pm_fs_xattr_remove_at(fs, md, "meta-a", "user.x"), PM_ENODATA);
  /* Removing the word clears it; the read-only file is a writable one. */
  assert_int_equal(pm_fs_xattr_remove_at(fs, md, "meta-a", "win32.attributes"), 0);
  st = stat_of(fs, ma, false);
  /* (Wine reports FILE_ATTRIBUTE_ARCHIVE on every file, set or not.) */
  assert_int_equal(st.attrs & (caps.wine ? 0x07 : 0x27), 0);
  assert_int_equal(st.mode, 0666);
  xn = 0;
  assert_int_equal(pm_fs_xattr_list(fs, ma, true, xl, sizeof xl, &xn), 0);
  if (xattr_listed(xl, xn, "win32.security")) {
    size_t need = 0;
    assert_int_equal(pm_fs_xattr_get(fs, ma, true, "win32.security", NULL, 0,
                                   &need), 0);
    assert_true(need >= 20);
    unsigned char *sd = ct_alloc(need);
    assert_int_equal(pm_fs_xattr_get(fs, ma, true, "win32.security", sd, need - 1,
                                   &xn), PM_ERANGE);
    assert_int_equal(pm_fs_xattr_get(fs, ma, true, "win32.security", sd, need,
                                   &xn), 0);
    assert_int_equal(xn, need);
    assert_true(sd[0] == 1 && (sd[3] & 0x80)); /* revision 1, self-relative */
    /* Beneath a handle, on a file's own read-only handle ("": the
     * descriptor is read through it or a reopen of its object). */
    pm_fd mf;
    assert_int_equal(pm_fs_open_at(fs, md, "meta-b", PM_O_RDONLY, 0, &mf), 0);
    size_t need_b = 0;
    assert_int_equal(pm_fs_xattr_get_at(fs, mf, "", "win32.security", NULL, 0,
                                      &need_b), 0);
    assert_true(need_b >= 20);
    assert_int_equal(pm_fs_xattr_set_at(fs, mf, "", "win32.security", sd, xn), 0);
    assert_int_equal(pm_fs_close(fs, mf), 0);
    assert_int_equal(pm_fs_xattr_set(fs, mb, true, "win32.security", sd, xn), 0);
    assert_int_equal(pm_fs_xattr_set(fs, mb, true, "win32.security", "junk", 4),
                     PM_EINVAL);
  } else {
    print_message("  %s keeps no security descriptors\n", dir);
  }
  assert_int_equal(pm_fs_close(fs, md), 0);

  /* What Windows 2000 cannot do answers so, found without an OS call. */
  pm_oserr_set(4242);
  assert_int_equal(pm_fs_symlink(fs, "x", ct_str("%s/l", dir)), PM_ENOTSUP);
  assert_int_equal(pm_oserr_last(), 0);
  assert_int_equal(pm_fs_mknod(fs, ct_str("%s/p", dir), PM_T_FIFO, 0644, 0),
                   PM_ENOTSUP);
}

static void test_fs_contract_win32(void **state) {
  (void)state;
  win32_tables_run = 0;
  for_each_table(case_win32);
  if (!win32_tables_run) skip();
}

int main(void) {
  caps = caps_of_native();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fs_contract_validate),
      cmocka_unit_test(test_fs_contract_long_paths),
      cmocka_unit_test(test_fs_contract_long_path_realpath),
      cmocka_unit_test(test_fs_contract_names_every_byte),
      cmocka_unit_test(test_fs_contract_readdir_each_once),
      cmocka_unit_test(test_fs_contract_read_eof),
      cmocka_unit_test(test_fs_contract_pwrite_extends),
      cmocka_unit_test(test_fs_contract_sparse_seek),
      cmocka_unit_test(test_fs_contract_rename_replaces_atomically),
      cmocka_unit_test(test_fs_contract_rename_directory),
      cmocka_unit_test(test_fs_contract_hard_links),
      cmocka_unit_test(test_fs_contract_symlink_readlink),
      cmocka_unit_test(test_fs_contract_stat_follow),
      cmocka_unit_test(test_fs_contract_identity),
      cmocka_unit_test(test_fs_contract_metadata),
      cmocka_unit_test(test_fs_contract_xattr_any),
      cmocka_unit_test(test_fs_contract_errors),
      cmocka_unit_test(test_fs_contract_oserr),
      cmocka_unit_test(test_fs_contract_sync_truncate),
      cmocka_unit_test(test_fs_contract_phys_pos),
      cmocka_unit_test(test_fs_contract_fsinfo),
      cmocka_unit_test(test_fs_contract_win32),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
