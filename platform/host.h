/* host.h - the Windows host side of a move: services, shares, registry and
 * volumes, as small function tables (SQLite VFS / libuv style).
 *
 * A pm_host bundles one table per concern, the native file-system table
 * and the backend's context. pm_host_open("sim:DIR", &h) picks the backend
 * by name: `sim` is the simulated Windows host of the Linux harness
 * (platform/sim/); a Win32 backend `local` slots in beside it. The tables
 * are shaped after the Win32 calls they stand for, so that backend is a
 * thin translation:
 *   services  OpenSCManager / EnumServicesStatus / QueryServiceConfigW /
 *             QueryServiceStatus / ControlService(STOP) / StartServiceW /
 *             ChangeServiceConfigW (lpBinaryPathName only)
 *   shares    NetShareEnum / NetShareGetInfo / NetShareAdd / NetShareDel,
 *             level 502 (the security descriptor as text: SDDL in the
 *             simulator, "hex:" and its self-relative bytes from `local`,
 *             since NT 4.0 has no SDDL; pomove only carries it)
 *   registry  RegEnumKeyExW / RegEnumValueW / RegQueryValueExW /
 *             RegSetValueExW / RegDeleteValueW, data as raw bytes
 *             (UTF-16LE for the string types) so a type is never changed
 *   volumes   GetVolumeInformationW / GetDiskFreeSpaceExW, and the mapping
 *             of a Windows path to the native path the copy engine opens.
 *
 * Every call takes the pm_host it was reached through, so a test can build
 * a pm_host whose tables wrap another host's and fail the Nth call. All
 * functions return 0 (or a count) on success and a negative PM_E* code on
 * failure, with the OS's own code in pm_oserr_last() (a Win32 error number
 * in both backends: the simulator reports what Windows would).
 *
 * This header also declares the REGEDIT5 `.reg` reader and writer
 * (regfile.c): the simulated registry is persisted with it, and the move's
 * backups are written with it, so both are importable by `reg import`.
 * Any module may include this header. */
#ifndef POMOVE_HOST_H
#define POMOVE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"

/* Sizes of the fixed fields below (Win32's own limits). */
#define PM_HOST_NAME_MAX 257  /* service, share and value names + NUL */
#define PM_HOST_PATH_MAX 1024 /* Windows paths held in the structures */
#define PM_HOST_TEXT_MAX 2048 /* remarks, SDDL, dependency lists */

/* A growable list of owned strings. */
typedef struct pm_strlist {
  char **v;
  size_t n, cap;
} pm_strlist;

void pm_strlist_add(pm_strlist *l, const char *s);
void pm_strlist_free(pm_strlist *l);

/* ---- Registry values ---- */

enum {
  PM_REG_NONE = 0,
  PM_REG_SZ = 1,
  PM_REG_EXPAND_SZ = 2,
  PM_REG_BINARY = 3,
  PM_REG_DWORD = 4,
  PM_REG_DWORD_BE = 5,
  PM_REG_LINK = 6,
  PM_REG_MULTI_SZ = 7,
  PM_REG_QWORD = 11
};

/* "REG_SZ", "REG_EXPAND_SZ" ...; "REG_TYPE_<n>" style text for others
 * (static buffer per call site is not used: returns a static string or
 * "REG_UNKNOWN"). */
const char *pm_reg_type_name(uint32_t type);

/* A value as RegQueryValueExW returns it: the type and the raw bytes. */
typedef struct pm_reg_value {
  uint32_t type;
  uint8_t *data; /* owned; NULL when len is 0 */
  size_t len;
} pm_reg_value;

void pm_reg_value_free(pm_reg_value *v);
void pm_reg_value_copy(pm_reg_value *dst, const pm_reg_value *src);
bool pm_reg_value_equal(const pm_reg_value *a, const pm_reg_value *b);
/* A string value (REG_SZ, REG_EXPAND_SZ ...) from UTF-8: UTF-16LE with
 * the terminating NUL, as RegSetValueExW is given it. */
void pm_reg_value_set_str(pm_reg_value *v, uint32_t type, const char *utf8);
/* A REG_MULTI_SZ from a list: each string NUL-terminated, one more NUL. */
void pm_reg_value_set_multi(pm_reg_value *v, const pm_strlist *items);
void pm_reg_value_set_dword(pm_reg_value *v, uint32_t dw);
/* The data of a string value as UTF-8 (up to the first NUL); caller frees.
 * NULL when the type is not a string type. */
char *pm_reg_value_str(const pm_reg_value *v);
/* The strings of a REG_MULTI_SZ; 0 or PM_EINVAL for another type. */
int pm_reg_value_multi(const pm_reg_value *v, pm_strlist *out);
/* Text for people: a string, a list joined with " | ", a DWORD in hex
 * and decimal, other data as hex bytes. Caller frees. */
char *pm_reg_value_display(const pm_reg_value *v);

/* UTF-8 <-> UTF-16LE. Invalid UTF-8 bytes become U+FFFD; unpaired
 * surrogates become U+FFFD. Results are malloc'd and NUL-terminated (the
 * UTF-16 result's length in units is returned through *units). */
uint16_t *pm_utf8_to_utf16(const char *s, size_t len, size_t *units);
char *pm_utf16_to_utf8(const uint16_t *s, size_t units);

/* Case-insensitive (ASCII) comparisons as Windows applies to names and
 * paths. pm_wpath_under: true when `path` equals `dir` or lies below it
 * (a backslash follows the prefix). */
int pm_wstrcasecmp(const char *a, const char *b);
bool pm_wprefix(const char *s, const char *prefix);
bool pm_wpath_under(const char *path, const char *dir);

/* ---- The REGEDIT5 file module (regfile.c) ---- */

/* An in-memory registry: keys in the order they were created or read, each
 * with its values in order. Key paths are full
 * ("HKEY_LOCAL_MACHINE\SYSTEM\..."; "HKLM\" is accepted and expanded) and
 * compared without regard to case.
 *
 * What a tree may hold is what a .reg file can carry faithfully, so that
 * parse(format(t)) equals t for every tree: a key path is 1 to
 * PM_REG_DEPTH_MAX names separated by single backslashes (a key name cannot
 * hold a backslash, as in Windows), each 1 to PM_REG_KEY_NAME_MAX
 * characters; a value name has at most PM_REG_VALUE_NAME_MAX characters and
 * may hold anything else ('\' and '"' are escaped); names are valid UTF-8
 * without CR or LF, and a hive name does not start with '-' (a deletion).
 * Data is any bytes of any type. pm_regtree_set refuses the rest with
 * PM_EINVAL; the reader refuses it with PM_EFORMAT naming the line, as it
 * refuses a line longer than PM_REG_LINE_MAX bytes (the writer never writes
 * one: a longer REG_SZ goes as hex). */
#define PM_REG_DEPTH_MAX 512          /* Windows' own limit on key depth */
#define PM_REG_KEY_NAME_MAX 255       /* characters (UTF-16 units) */
#define PM_REG_VALUE_NAME_MAX 16383   /* characters (UTF-16 units) */
#define PM_REG_LINE_MAX 1048576       /* bytes of one line, as UTF-8 */
#define PM_REG_STR_(x) #x
#define PM_REG_STR(x) PM_REG_STR_(x)
typedef struct pm_regtree pm_regtree;

pm_regtree *pm_regtree_new(void);
void pm_regtree_free(pm_regtree *t);
/* Reads a .reg file's bytes (UTF-16LE with BOM, or UTF-8) into t: keys and
 * values are added or replaced, "[-key]" and "name"=- delete. Every byte
 * is accounted for: U+0000 or a NUL byte (only hex data holds NULs), an odd
 * trailing byte or unpaired surrogate in UTF-16, invalid UTF-8, a last line
 * without its line end (a truncated file), text after a value's data or a
 * key's ']', an unknown escape (only \\ and \" exist), a name the tree
 * cannot hold, are errors. 0, or PM_EFORMAT with "line N: why" in `err`
 * (may be NULL); t may then hold part of the file: free it. */
int pm_regtree_parse(pm_regtree *t, const void *buf, size_t len, char *err,
                     size_t err_cap);
/* Writes t as REGEDIT5 text in UTF-16LE with a BOM and CRLF line ends:
 * REG_SZ as "text", REG_DWORD as dword:, every other type (and strings that
 * would not survive as "text") as hex(N): with regedit's line wrapping.
 * Caller frees *out. */
void pm_regtree_format(const pm_regtree *t, uint8_t **out, size_t *len);
int pm_regtree_get(const pm_regtree *t, const char *key, const char *name,
                   pm_reg_value *out); /* PM_ENOENT when absent */
int pm_regtree_set(pm_regtree *t, const char *key, const char *name,
                   const pm_reg_value *v); /* creates the key */
int pm_regtree_del(pm_regtree *t, const char *key, const char *name);
bool pm_regtree_has_key(const pm_regtree *t, const char *key);
int pm_regtree_subkeys(const pm_regtree *t, const char *key, pm_strlist *out);
int pm_regtree_values(const pm_regtree *t, const char *key, pm_strlist *out);
/* Same keys (names spelt the same) in the same order with the same values
 * in the same order, types and bytes. */
bool pm_regtree_equal(const pm_regtree *a, const pm_regtree *b);
/* Whole files through a file-system table, never through a symlink
 * (fileutil.h, the one place where pomove's own files, such as the move's
 * plan and journal, registry backups and the simulated host's files, are
 * read and written): load reads a regular file whole (PM_ESHORT when it
 * shrinks meanwhile, PM_ECHANGED when it grows) and parses it; save
 * replaces `path` atomically (pm_file_write_atomic, synced). Errors are
 * returned, not reported. */
int pm_regtree_load(const pm_fs *fs, const char *path, pm_regtree **out,
                    char *err, size_t err_cap);
int pm_regtree_save(const pm_fs *fs, const char *path,
                    const pm_regtree *t);

/* ---- The host tables ---- */

typedef struct pm_host pm_host;

/* Values are those of Win32's SERVICE_* states. */
typedef enum pm_svc_state {
  PM_SVC_UNKNOWN = 0,
  PM_SVC_STOPPED = 1,
  PM_SVC_START_PENDING = 2,
  PM_SVC_STOP_PENDING = 3,
  PM_SVC_RUNNING = 4
} pm_svc_state;

const char *pm_svc_state_name(pm_svc_state s);

typedef struct pm_svc_info {
  char name[PM_HOST_NAME_MAX];
  char image_path[PM_HOST_PATH_MAX];
  uint32_t type;       /* SERVICE_WIN32_OWN_PROCESS = 0x10 ... */
  uint32_t start_type; /* 2 automatic, 3 manual, 4 disabled */
  /* lpDependencies: NUL-separated names ending with an empty one. */
  char deps[PM_HOST_TEXT_MAX];
  pm_svc_state state;
  uint32_t pid; /* 0 when not running */
} pm_svc_info;

typedef struct pm_svc_ops {
  int (*list)(pm_host *h, pm_strlist *names);
  int (*query)(pm_host *h, const char *name, pm_svc_info *out);
  /* Sends the stop control; does not wait. Refused (PM_EBUSY, OS code
   * 1051) while a dependent service runs. */
  int (*stop)(pm_host *h, const char *name);
  /* Starts; does not wait for RUNNING. PM_ENOENT (OS code 2) when the
   * ImagePath file does not exist; PM_ESTATE (1068) when a dependency is
   * not running. */
  int (*start)(pm_host *h, const char *name);
  /* Waits until the service reaches `want`; PM_ETIMEDOUT otherwise. The
   * state seen last is stored in *seen (may be NULL). */
  int (*wait)(pm_host *h, const char *name, pm_svc_state want,
              unsigned timeout_ms, pm_svc_state *seen);
  /* ChangeServiceConfigW(lpBinaryPathName): the SCM stores ImagePath as
   * REG_EXPAND_SZ (Wine: REG_SZ); `local` then writes back the type the
   * value had. A caller that must keep another type rewrites the value
   * through the registry table afterwards. */
  int (*set_image_path)(pm_host *h, const char *name, const char *path);
} pm_svc_ops;

typedef struct pm_share_info { /* SHARE_INFO_502 */
  char name[PM_HOST_NAME_MAX];
  char path[PM_HOST_PATH_MAX];
  char remark[PM_HOST_NAME_MAX];
  uint32_t type;     /* STYPE_DISKTREE = 0 */
  uint32_t max_uses; /* 0xFFFFFFFF: unlimited */
  char sddl[PM_HOST_TEXT_MAX];
} pm_share_info;

typedef struct pm_share_ops {
  int (*list)(pm_host *h, pm_strlist *names);
  int (*get)(pm_host *h, const char *name, pm_share_info *out); /* NOENT */
  int (*add)(pm_host *h, const pm_share_info *in); /* PM_EEXIST */
  int (*del)(pm_host *h, const char *name);        /* PM_ENOENT */
} pm_share_ops;

typedef struct pm_reg_ops {
  int (*subkeys)(pm_host *h, const char *key, pm_strlist *out);
  int (*values)(pm_host *h, const char *key, pm_strlist *out);
  int (*get)(pm_host *h, const char *key, const char *name,
             pm_reg_value *out);
  /* Sets type and data exactly as given; creates the value (not the key:
   * PM_ENOENT when the key is missing, as RegOpenKeyExW would). */
  int (*set)(pm_host *h, const char *key, const char *name,
             const pm_reg_value *v);
  int (*del)(pm_host *h, const char *key, const char *name);
} pm_reg_ops;

typedef struct pm_vol_info {
  char fs_type[32]; /* "NTFS", "FAT" ... as GetVolumeInformationW says */
  uint64_t total_bytes, free_bytes;
} pm_vol_info;

typedef struct pm_vol_ops {
  /* The volume holding `winpath` ("D:", "D:\ExchSrvr" ...). */
  int (*info)(pm_host *h, const char *winpath, pm_vol_info *out);
  /* The native path that pm_host.fs opens for a Windows path. Existing
   * components are matched without regard to case, as Windows does. */
  int (*native_path)(pm_host *h, const char *winpath, char *buf,
                     size_t cap);
} pm_vol_ops;

struct pm_host {
  char name[PM_HOST_PATH_MAX]; /* as opened: "sim:/tmp/x" */
  const pm_svc_ops *svc;
  const pm_share_ops *share;
  const pm_reg_ops *reg;
  const pm_vol_ops *vol;
  const pm_fs *fs; /* the native file system of native_path() */
  /* A native directory where pomove may keep the state of a move (step
   * journal, plan, backups) when none is given. */
  char state_dir[PM_HOST_PATH_MAX * 4];
  void *ctx; /* the backend's */
  void (*close)(pm_host *h);
};

/* Opens "sim:DIR" (and, in a Windows build, "local"). The host is
 * allocated; pm_host_close frees it. Reports nothing: returns PM_EINVAL
 * for an unknown backend, or the backend's error; a backend that can say
 * more (which file, which line) leaves a sentence for
 * pm_host_open_detail(). */
int pm_host_open(const char *spec, pm_host **out);
/* The last failed pm_host_open's detail on this thread ("" when none). */
const char *pm_host_open_detail(void);
void pm__host_open_detail_set(const char *fmt, ...)
    PM_PRINTF_FMT(1, 2);
void pm_host_close(pm_host *h);
/* Checks that every slot of every table is filled; 0 or PM_EINVAL. */
int pm_host_validate(const pm_host *h);

/* A backend: `prefix` is the part of the spec before ':' (or the whole
 * spec). The list is per platform (platform/sim/ on Linux,
 * platform/win32/host_win32.c on Windows); a backend marked `is_default`
 * is the host a command uses without --host (Windows: `local`, the
 * machine itself; Linux has none: the simulated host is always named). */
typedef struct pm_host_backend {
  const char *prefix;
  int (*open)(const char *arg, pm_host **out);
  bool is_default;
} pm_host_backend;
const pm_host_backend *const *pm__host_backends(void);
/* The spec of this build's default host ("local" on Windows), or NULL
 * when --host must be given. */
const char *pm_host_default_spec(void);
/* The backends of this build for people: "sim:DIR" on Linux, "local" on
 * Windows (static text). */
const char *pm_host_known_specs(void);

/* ---- The simulated host (Linux harness only) ---- */

/* Default delays and intervals of a new simulated host (host.ini). */
typedef struct pm_sim_config {
  unsigned start_delay_ms, stop_delay_ms; /* for every service */
  unsigned touch_ms; /* how often a running service writes its files */
} pm_sim_config;

/* Creates an empty simulated host in DIR (which must not exist or be
 * empty): host.ini, drives/, an empty registry. */
int pm_sim_init(const char *dir, const pm_sim_config *cfg);
/* Declares drive `letter` with its file-system type and optionally its
 * free space (0: the real free space of the folder). */
int pm_sim_add_drive(const char *dir, char letter, const char *fs_type,
                     uint64_t free_bytes);
/* Sets a per-service option in host.ini: "start_delay_ms", "stop_delay_ms",
 * "stop" ("ignore": the service never stops), "start" ("fail"). An empty
 * value removes the option. */
int pm_sim_set_service_option(const char *dir, const char *service,
                              const char *key, const char *value);
/* Marks a service running without a simulated process (system services
 * such as EventLog that sim-create only declares). */
int pm_sim_mark_running(pm_host *h, const char *service);
/* A stop or start request the simulated SCM got (services.log). */
typedef struct pm_sim_request {
  uint64_t t_ns;    /* when it came (pm_now_ns(): one clock for every
                       process of the machine) */
  uint64_t done_ns; /* when the service is stopped or running: 0 never
                       (a service that ignores the stop), or refused */
  bool stop;        /* else a start */
  /* The SCM refused it: a stop while a dependent was not stopped, a start
   * while a dependency was not running; `other` names that service. */
  bool refused;
  char name[PM_HOST_NAME_MAX];
  char other[PM_HOST_NAME_MAX];
} pm_sim_request;
/* Every request DIR's services got since the host was made, in order;
 * *out is allocated (free it), 0 requests when none came. 0 or PM_E*. */
int pm_sim_service_log(const char *dir, pm_sim_request **out, size_t *n);
/* Ends every simulated service process of DIR (tests and `rollback` use
 * it so that no process outlives its host); the services are left in the
 * STOPPED state. Returns the number of processes signalled. */
int pm_sim_kill_all(const char *dir);
#endif
