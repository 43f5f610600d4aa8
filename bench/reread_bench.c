/* reread_bench.c - the re-read of `copy --verify` alone: every regular
 * file beneath DIR re-read from the medium and hashed, in batches as the
 * committers take them, either by blocking threads (vf_reread_batch, the
 * re-read up to session 8) or through the default I/O engine with many
 * reads in flight (vf_rereader). Prints files, bytes, wall and CPU time,
 * so that the disk's side of the --verify bound can be measured without a
 * copy running beside it. A Linux measuring tool (nftw).
 *
 *   pm_reread_bench DIR threads|engine [THREADS_OR_DEPTH] [BATCH_FILES]
 *                   [ino|phys|disk]
 *
 * ino: each batch re-read in inode order (vf_reread_item.order), as the
 * committers of `copy --verify` do; phys: in the order of each file's
 * first physical block (FIEMAP, asked while listing); disk: opened in
 * inode order and read in the disk's order by the re-reader itself
 * (vf_rereader_disk_order, pm_fs_phys_pos: what `copy --verify` does);
 * without any, in the walk's order.
 */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <ftw.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "platform.h"
#include "reread.h"
#include "util.h"

static vf_reread_item *items;
static size_t nitems, capitems, rootlen;
static bool by_ino, by_phys, by_disk;

/* The file's first physical byte / 4096 + 1, or 0 when FIEMAP fails. */
static uint64_t phys_of(const char *p) {
  int fd = open(p, O_RDONLY);
  if (fd < 0) return 0;
  union {
    struct fiemap fm;
    char raw[sizeof(struct fiemap) + sizeof(struct fiemap_extent)];
  } u;
  memset(&u, 0, sizeof u);
  u.fm.fm_length = ~0ull;
  u.fm.fm_extent_count = 1;
  uint64_t r = 0;
  if (ioctl(fd, FS_IOC_FIEMAP, &u.fm) == 0 && u.fm.fm_mapped_extents)
    r = u.fm.fm_extents[0].fe_physical / 4096 + 1;
  close(fd);
  return r;
}

static int add(const char *p, const struct stat *st, int type,
               struct FTW *f) {
  (void)f;
  if (type != FTW_F || !S_ISREG(st->st_mode)) return 0;
  if (nitems == capitems) {
    capitems = capitems ? 2 * capitems : 4096;
    items = pm_xrealloc(items, capitems * sizeof *items);
  }
  items[nitems++] = (vf_reread_item){.rel = pm_xstrdup(p + rootlen + 1),
                                     .size = (uint64_t)st->st_size,
                                     .order = by_phys  ? phys_of(p)
                                              : by_ino ? (uint64_t)st->st_ino
                                                       : 0};
  return 0;
}

static double cpu_s(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 +
         (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 3 || (strcmp(argv[2], "threads") && strcmp(argv[2], "engine"))) {
    fprintf(stderr, "usage: pm_reread_bench DIR threads|engine "
                    "[THREADS_OR_DEPTH] [BATCH_FILES] [ino|phys|disk]\n");
    return 2;
  }
  bool engine = !strcmp(argv[2], "engine");
  unsigned k = argc > 3 ? (unsigned)atoi(argv[3]) : engine ? 64 : 4;
  size_t batch = argc > 4 ? (size_t)atol(argv[4]) : 4096;
  by_ino = argc > 5 && !strcmp(argv[5], "ino");
  by_phys = argc > 5 && !strcmp(argv[5], "phys");
  by_disk = argc > 5 && !strcmp(argv[5], "disk");
  if (by_disk) by_ino = true;
  rootlen = strlen(argv[1]);
  if (nftw(argv[1], add, 64, FTW_PHYS)) {
    perror("nftw");
    return 1;
  }
  const pm_fs *fs = pm_fs_native();
  pm_fd dir;
  if (pm_fs_open(fs, argv[1], PM_O_RDONLY | PM_O_DIRECTORY, 0, &dir)) {
    fprintf(stderr, "cannot open %s\n", argv[1]);
    return 1;
  }
  vf_rereader *r = NULL;
  const pm_io_engine_ops *eng = pm_io_engine_default(NULL, 0);
  if (engine) {
    int rc;
    r = vf_rereader_new(fs, eng, k, &rc);
    if (!r) {
      fprintf(stderr, "engine %s: %s\n", eng->name, pm_errname(rc));
      return 1;
    }
    vf_rereader_disk_order(r, by_disk);
  }
  uint64_t t0 = pm_now_ns(), bytes = 0, errors = 0;
  double c0 = cpu_s();
  for (size_t i = 0; i < nitems; i += batch) {
    size_t n = nitems - i < batch ? nitems - i : batch;
    vf_reread_result *out =
        engine ? vf_rereader_run(r, dir, items + i, n)
               : vf_reread_batch(fs, dir, items + i, n, k);
    for (size_t j = 0; j < n; j++) {
      if (out[j].rc) errors++;
      bytes += out[j].size;
    }
    free(out);
  }
  double wall = (double)(pm_now_ns() - t0) / 1e9, cpu = cpu_s() - c0;
  printf("%s %u (%s): %zu files, %.1f MiB, %llu errors, wall %.2f s, "
         "CPU %.2f s, %.0f MiB/s\n",
         engine ? "engine depth" : "threads", k, engine ? eng->name : "-",
         nitems, bytes / 1048576.0, (unsigned long long)errors, wall, cpu,
         bytes / 1048576.0 / wall);
  vf_rereader_free(r);
  pm_fs_close(fs, dir);
  return errors ? 1 : 0;
}
