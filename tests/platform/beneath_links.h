/* beneath_links.h - links for test_fs_beneath, made with the OS's own
 * calls (never through the table under test), one file per OS:
 * beneath_links_posix.c (symbolic links) and beneath_links_win32.c
 * (junctions: Windows 2000 has no symbolic links). */
#ifndef POMOVE_BENEATH_LINKS_H
#define POMOVE_BENEATH_LINKS_H

#include <stddef.h>

/* Makes a link at `link` (a UTF-8 path with '/') that leads to
 * `target_dir`, an existing directory given both relative to the link's
 * directory (`rel`, what POSIX stores) and as an absolute path (`abs`,
 * what a junction stores). POSIX may link to a file too; a junction
 * only to a directory. *expect receives what readlink of the link must
 * give. Returns 0, or -1 when this OS cannot make such a link here (Wine
 * cannot make a junction): the caller skips. Aborts on other failures. */
int bl_link(const char *link, const char *rel, const char *abs, char *expect,
            size_t cap);

/* Why bl_link may fail on this OS, for the skip message. */
const char *bl_why_not(void);

#endif
