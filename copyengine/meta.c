/* meta.c - metadata of copied entries: extended attributes, and the
 * metadata of a directory, applied once everything inside it is done (a
 * read-only directory would otherwise refuse its own children, and every
 * child would bump its mtime). */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "util.h"

/* Whether a NUL-separated list holds name. */
static bool listed(const char *list, size_t len, const char *name) {
  for (size_t i = 0; i < len; i += strlen(list + i) + 1)
    if (!strcmp(list + i, name)) return true;
  return false;
}

/* Removes from dst the attributes the source does not have (`src_list`):
 * an entry pomove did not create may carry attributes of an earlier copy
 * that the source has since lost. */
static void prune_xattrs(ce_ctx *c, pm_fd ddir, const char *drel,
                         const char *src_list, size_t src_len,
                         const char *dst) {
  char list[65536];
  size_t len;
  int rc = pm_fs_xattr_list_at(c->fs, ddir, drel, list, sizeof list, &len);
  if (rc) {
    if (rc != PM_ENOTSUP) ce_count_error(c, "list extended attributes of", dst, rc);
    return;
  }
  for (size_t i = 0; i < len; i += strlen(list + i) + 1) {
    const char *name = list + i;
    if (listed(src_list, src_len, name)) continue;
    rc = pm_fs_xattr_remove_at(c->fs, ddir, drel, name);
    if (rc == PM_ENODATA) continue;
    if (rc == PM_ENOTSUP || rc == PM_EPERM) {
      char *shown = pm_display_path(dst);
      pm_warnf("extended attribute '%s' cannot be removed from '%s': %s",
               name, shown, pm_strerror(rc));
      free(shown);
    } else if (rc) {
      ce_count_error(c, "remove extended attribute of", dst, rc);
    }
  }
}

/* Whether dst (an entry of an earlier pass) already holds attribute name
 * with exactly this value: setting it again would only change dst's
 * change time. Any failure to read it answers false (it is set). */
static bool same_xattr(ce_ctx *c, pm_fd ddir, const char *drel,
                       const char *name, const char *val, size_t vlen) {
  size_t have = 0;
  if (pm_fs_xattr_get_at(c->fs, ddir, drel, name, NULL, 0, &have) ||
      have != vlen)
    return false;
  char *cur = pm_xmalloc(vlen ? vlen : 1);
  bool same = pm_fs_xattr_get_at(c->fs, ddir, drel, name, cur, vlen, &have) == 0 &&
              have == vlen && (!vlen || !memcmp(cur, val, vlen));
  free(cur);
  return same;
}

/* Copies the extended attributes of src to dst; with `prune`, also
 * removes those of dst that src does not have. Attributes the
 * destination cannot hold (another file system, a namespace we may not
 * write) are reported once as a warning and not counted as errors. */
int ce_copy_xattrs(ce_ctx *c, pm_fd sdir, const char *srel, pm_fd ddir,
                   const char *drel, const char *src, const char *dst,
                   bool prune) {
  if (atomic_load(&c->xattr_unsupported)) return 0;
  char list[65536];
  size_t len;
  int rc = pm_fs_xattr_list_at(c->fs, sdir, srel, list, sizeof list, &len);
  if (rc == PM_ENOTSUP) {
    atomic_store(&c->xattr_unsupported, true);
    return 0;
  }
  if (rc) {
    ce_count_error(c, "list extended attributes of", src, rc);
    return rc;
  }
  char *val = NULL;
  size_t cap = 0;
  for (size_t i = 0; i < len; i += strlen(list + i) + 1) {
    const char *name = list + i;
    size_t vlen = 0;
    /* Ask for the size first, then read; retry if it grew in between. */
    for (int tries = 0; tries < 4; tries++) {
      rc = pm_fs_xattr_get_at(c->fs, sdir, srel, name, NULL, 0, &vlen);
      if (rc) break;
      if (vlen > cap) {
        cap = vlen;
        val = pm_xrealloc(val, cap);
      }
      rc = pm_fs_xattr_get_at(c->fs, sdir, srel, name, val, cap, &vlen);
      if (rc != PM_ERANGE) break;
    }
    if (rc == PM_ENODATA) continue; /* removed meanwhile */
    if (rc) {
      ce_count_error(c, "read extended attribute of", src, rc);
      continue;
    }
    if (prune && same_xattr(c, ddir, drel, name, val, vlen)) continue;
    rc = pm_fs_xattr_set_at(c->fs, ddir, drel, name, val, vlen);
    if (rc == PM_ENOTSUP || rc == PM_EPERM) {
      char *shown = pm_display_path(dst);
      pm_warnf("extended attribute '%s' cannot be set on '%s': %s", name,
               shown, pm_strerror(rc));
      free(shown);
    } else if (rc) {
      ce_count_error(c, "write extended attribute of", dst, rc);
    }
  }
  free(val);
  if (prune) prune_xattrs(c, ddir, drel, list, len, dst);
  return 0;
}

/* Applies the source's metadata to the destination directory. A value
 * the directory already has is not set again: setting it changes nothing
 * but the directory's change time, and an update would otherwise touch
 * every directory of DST on every pass (found changed by anyone who
 * watches change times, and each one an inode to write back). When the
 * directory cannot be looked at first, everything is set, as before. */
void ce_apply_dir_meta(ce_ctx *c, ce_dnode *d) {
  char *dp = pm_path_join(c->dst, d->rel);
  char *sp = pm_path_join(c->src, d->rel);
  pm_stat now;
  bool known = pm_fs_stat_at(c->fs, c->dst_fd, d->rel, &now) == 0 &&
               now.type == PM_T_DIR;
  int rc;
  if (c->root_user &&
      !(known && now.uid == d->st.uid && now.gid == d->st.gid)) {
    rc = pm_fs_chown_at(c->fs, c->dst_fd, d->rel, d->st.uid, d->st.gid);
    if (rc) ce_count_error(c, "set owner of directory", dp, rc);
  }
  /* An update meets directories of an earlier pass. */
  ce_copy_xattrs(c, c->src_fd, d->rel, c->dst_fd, d->rel, sp, dp, c->update);
  /* A directory this run made, and every one outside an update, gets its
   * mode whatever it reads: it is private until now (mkdir 0700), and on
   * Windows, where a directory has no mode, its private DACL does not
   * show in the mode read back (always 0777) but ends with a chmod that
   * has group or other bits. */
  if (!c->update || d->made ||
      !(known && (now.mode & 07777) == (d->st.mode & 07777))) {
    rc = pm_fs_chmod_at(c->fs, c->dst_fd, d->rel, d->st.mode & 07777);
    if (rc) ce_count_error(c, "set mode of directory", dp, rc);
  }
  /* The times are set when the mtime differs. The access time alone is
   * not a difference: whoever lists DST moves it (relatime), and a
   * carried-over file's access time is not set again either. */
  if (!(known && now.mtime.sec == d->st.mtime.sec &&
                 now.mtime.nsec == d->st.mtime.nsec)) {
    rc = pm_fs_utimes_at(c->fs, c->dst_fd, d->rel, &d->st.atime, &d->st.mtime);
    if (rc) ce_count_error(c, "set times of directory", dp, rc);
  }
  atomic_fetch_add(&c->dirs, 1);
  free(dp);
  free(sp);
}

void ce_dnode_release(ce_ctx *c, ce_dnode *d) {
  while (d && atomic_fetch_sub(&d->pending, 1) == 1) {
    ce_dnode *parent = d->parent;
    /* An interrupted copy leaves directories private: they are not done. */
    if (d->created && !ce_interrupted(c)) ce_apply_dir_meta(c, d);
    free(d->rel);
    free(d);
    d = parent;
  }
}

/* ---- Named data streams ---- */

/* Copies one stream; 0 or PM_E*, *on_src telling whose call failed. */
static int copy_stream(ce_ctx *c, pm_fd sfd, pm_fd dfd, const char *name,
                       bool sync, char *buf, size_t cap, bool *on_src) {
  pm_fd in, out;
  *on_src = true;
  int rc = pm_fs_stream_open(c->fs, sfd, name, PM_O_RDONLY, 0, &in);
  if (rc == PM_ENOENT) return 0; /* removed since it was listed */
  if (rc) return rc;
  *on_src = false;
  rc = pm_fs_stream_open(c->fs, dfd, name, PM_O_WRONLY | PM_O_CREAT | PM_O_TRUNC,
                          0600, &out);
  if (rc) {
    pm_fs_close(c->fs, in);
    return rc;
  }
  uint64_t off = 0;
  for (;;) {
    int64_t got = pm_fs_pread(c->fs, in, buf, cap, off);
    if (got < 0) {
      rc = (int)got;
      *on_src = true;
      break;
    }
    if (got == 0) break;
    for (int64_t done = 0; done < got;) {
      int64_t put = pm_fs_pwrite(c->fs, out, buf + done, (size_t)(got - done),
                                  off + (uint64_t)done);
      if (put <= 0) {
        rc = put < 0 ? (int)put : PM_EIO;
        break;
      }
      done += put;
    }
    if (rc) break;
    off += (uint64_t)got;
  }
  if (!rc && sync) rc = pm_fs_fsync(c->fs, out, true);
  int os = pm_oserr_of(rc);
  pm_fs_close(c->fs, in);
  int crc = pm_fs_close(c->fs, out);
  if (!rc && crc) {
    rc = crc;
    os = pm_oserr_of(rc);
  }
  if (rc) pm_oserr_record(rc, os);
  return rc;
}

/* The named streams of the file open at fd: 0 with a malloc'd
 * NUL-separated list (*len bytes), or PM_E* (*list NULL). */
static int list_streams(ce_ctx *c, pm_fd fd, char **list, size_t *len) {
  size_t cap = 4096;
  *list = pm_xmalloc(cap);
  int rc;
  while ((rc = pm_fs_streams_list(c->fs, fd, *list, cap, len)) == PM_ERANGE &&
         *len > cap) {
    cap = *len;
    *list = pm_xrealloc(*list, cap);
  }
  if (rc) {
    free(*list);
    *list = NULL;
    *len = 0;
  }
  return rc;
}

static bool in_list(const char *list, size_t len, const char *name) {
  for (size_t i = 0; i < len; i += strlen(list + i) + 1)
    if (strcmp(list + i, name) == 0) return true;
  return false;
}

/* Before the streams of a copy that was already there are written: the
 * copy's own list (for what to remove after), and the copy made writable
 * if it is read-only (NTFS refuses to write or remove a stream of a
 * read-only file; the file's mode is set again after the streams). */
static int prepare_copy(ce_ctx *c, pm_fd dfd, char **dlist, size_t *dlen,
                        bool need_write, char **op) {
  int rc = list_streams(c, dfd, dlist, dlen);
  if (rc == PM_ENOTSUP) return 0;
  if (rc) {
    *op = pm_xstrdup("list streams of");
    return rc;
  }
  if (!need_write && !*dlen) return 0;
  pm_stat st;
  rc = pm_fs_fstat(c->fs, dfd, &st);
  if (!rc && !(st.mode & 0200))
    rc = pm_fs_fchmod(c->fs, dfd, (st.mode & 07777) | 0200);
  if (rc) *op = pm_xstrdup("make writable, for its streams,");
  return rc;
}

int ce_copy_streams(ce_ctx *c, pm_fd sfd, pm_fd dfd, bool sync,
                    bool reconcile, char **op, bool *on_src) {
  *op = NULL;
  *on_src = true;
  if (atomic_load(&c->streams_unsupported)) return 0;
  char *list, *dlist = NULL;
  size_t len, dlen = 0;
  int rc = list_streams(c, sfd, &list, &len);
  if (rc == PM_ENOTSUP) {
    atomic_store(&c->streams_unsupported, true);
    return 0;
  }
  if (rc) {
    *op = pm_xstrdup("list streams of");
    return rc;
  }
  if (reconcile) {
    rc = prepare_copy(c, dfd, &dlist, &dlen, len > 0, op);
    if (rc) *on_src = false;
  }
  char *buf = NULL;
  size_t bcap = c->chunk < (1u << 20) ? c->chunk : (1u << 20);
  for (size_t i = 0; !rc && i < len; i += strlen(list + i) + 1) {
    if (!buf) buf = pm_xmalloc(bcap);
    rc = copy_stream(c, sfd, dfd, list + i, sync, buf, bcap, on_src);
    if (rc) {
      int os = pm_oserr_of(rc);
      char *shown = pm_display_path(list + i);
      *op = pm_xasprintf("copy stream '%s' of", shown);
      free(shown);
      pm_oserr_record(rc, os);
    }
  }
  /* Streams the copy has and the source no longer has. */
  for (size_t i = 0; !rc && i < dlen; i += strlen(dlist + i) + 1) {
    if (in_list(list, len, dlist + i)) continue;
    rc = pm_fs_stream_remove(c->fs, dfd, dlist + i);
    if (rc == PM_ENOENT) rc = 0; /* gone already */
    if (rc) {
      int os = pm_oserr_of(rc);
      char *shown = pm_display_path(dlist + i);
      *op = pm_xasprintf("remove stream '%s' of", shown);
      free(shown);
      *on_src = false;
      pm_oserr_record(rc, os);
    }
  }
  free(buf);
  free(list);
  free(dlist);
  return rc;
}
