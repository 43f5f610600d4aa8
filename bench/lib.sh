# lib.sh - shell helpers shared by the bench/ scripts (run.sh,
# copy_vs_cp.sh, staged_move.sh, delta_pass.sh, ...):
# finding pomove and what it can do, timing a command (wall clock, CPU,
# peak RSS), warming and dropping the page cache, medians, and the run
# protocol of issue 17 (a fresh scratch file system for DST before every
# run, or an honest wait; see bench/README-part.md). Sourced, not
# run. Needs bash 5 (EPOCHREALTIME) and awk; GNU time (Debian package
# `time`) for CPU and peak RSS.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_REPO=$(cd "$BENCH_DIR/.." && pwd)

bench_die() {
  echo "bench: $*" >&2
  exit 2
}

# The script's data folder: $data as given (--data), or, when empty, a new
# folder "$TMPDIR/pomove-NAME.XXXXXX" with made_data=1 so that the
# script's cleanup removes it; made if missing. Sets data and made_data.
bench_data_dir() {
  made_data=0
  if [ -z "${data:-}" ]; then
    data=$(mktemp -d "${TMPDIR:-/tmp}/pomove-$1.XXXXXX") ||
      bench_die "cannot create a data directory"
    made_data=1
  fi
  mkdir -p "$data" || bench_die "cannot create the data directory $data"
}

# Sets POMOVE: --pomove value, else $POMOVE_BIN, else a build in the
# repository, else `pomove` on PATH.
bench_find_pomove() {
  local want=${1:-${POMOVE_BIN:-}}
  if [ -n "$want" ]; then
    [ -x "$want" ] || bench_die "pomove binary '$want' is not executable"
    POMOVE=$(cd "$(dirname "$want")" && pwd)/$(basename "$want")
    return
  fi
  local c
  for c in "$BENCH_REPO/build/gcc/orchestrate/pomove" \
    "$BENCH_REPO/build/clang/orchestrate/pomove" \
    "$BENCH_REPO/build/orchestrate/pomove"; do
    if [ -x "$c" ]; then
      POMOVE=$c
      return
    fi
  done
  POMOVE=$(command -v pomove) ||
    bench_die "no pomove binary: build it (cmake) or pass --pomove PATH"
}

# True when `pomove SUB --help` succeeds (the command exists in this
# build) and, given OPTION, its help mentions OPTION.
bench_pomove_has() {
  local sub=$1 opt=${2:-} help
  help=$("$POMOVE" "$sub" --help 2>/dev/null) || return 1
  [ -z "$opt" ] && return 0
  grep -q -e "$opt" <<<"$help"
}

# GNU time gives CPU and peak RSS of a command and its children.
BENCH_GNU_TIME=
if /usr/bin/time --version >/dev/null 2>&1; then
  BENCH_GNU_TIME=/usr/bin/time
fi

# bench_time CMD LOG: runs `bash -c CMD` with output appended to LOG and
# sets BT_WALL (s), BT_USER, BT_SYS (s), BT_RSS (KiB, peak of the largest
# process; empty without GNU time) and BT_RC. Parsed in bash: forks are
# slow on small VMs and the quick mode runs this often.
bench_time() {
  local cmd=$1 log=$2 tf t0 t1 last=""
  tf=$(mktemp)
  t0=$EPOCHREALTIME
  if [ -n "$BENCH_GNU_TIME" ]; then
    "$BENCH_GNU_TIME" -f '%U %S %M' -o "$tf" bash -c "$cmd" >>"$log" 2>&1
    BT_RC=$?
  else
    # Without GNU time: bash's own `time` gives CPU, not memory.
    local TIMEFORMAT='%U %S'
    { time bash -c "$cmd" >>"$log" 2>&1; } 2>"$tf"
    BT_RC=$?
  fi
  t1=$EPOCHREALTIME
  # GNU time puts "Command exited with non-zero status N" first: the
  # figures are on the last line.
  while IFS= read -r line; do last=$line; done <"$tf"
  rm -f "$tf"
  read -r BT_USER BT_SYS BT_RSS <<<"$last"
  local us=$(((${t1/./} - ${t0/./}) / 1000))
  BT_WALL=$(printf '%d.%03d' $((us / 1000)) $((us % 1000)))
}

# Reads every file of a tree once (the untimed warm-up of warm-cache
# runs) with 8 readers at a time, as a copier's workers would. `cat` and
# not `tar cf /dev/null`: GNU tar skips reading when the archive is
# /dev/null. -n 64 gives the 8 readers something to share on small trees.
bench_warm() {
  (cd "$1" && find . -type f -print0 | xargs -0 -r -n 64 -P 8 cat >/dev/null)
}

bench_can_drop_caches() {
  [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]
}

bench_drop_caches() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
}

# Median, min, max of numbers on stdin, one per line: "med min max".
bench_stats() {
  sort -g | awk '{ v[NR] = $1 }
    END {
      if (NR == 0) { print "nan nan nan"; exit }
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.3f %.3f %.3f\n", m, v[1], v[NR]
    }'
}

# Removes a tree even when it holds read-only directories.
bench_rm() {
  [ -e "$1" ] || return 0
  chmod -R u+rwx "$1" 2>/dev/null
  rm -rf "$1"
}

# ---- the run protocol (issue 17) ----
# On ext4 without a journal the kernel will not reuse an inode freed in the
# last 60 s (300 s while its inode-table block is dirty): recently_deleted()
# in fs/ext4/ialloc.c. A copy started right after `rm -rf` of a similar tree
# walks past those inodes one by one and spends its time in openat; that is
# what made the first published figures noisy. So every timed run gets DST
# on a file system made for it (BENCH_FS nojournal or journaled: an image
# on a loop device, mkfs'd before each run), or, where that is not possible
# (not root), waits BENCH_SETTLE seconds after the last removal.
#
# BENCH_FS: data (DST beside SRC in --data), nojournal (ext4 without a
# journal, like this project's root file system) or journaled (XFS when
# mkfs.xfs exists, else ext4 with its journal). Set by bench_fs_init.
BENCH_FS=data BENCH_FS_DIR="" BENCH_FS_IMG="" BENCH_FS_MNT="" BENCH_FS_DEV=""
BENCH_FS_TYPE="" BENCH_FS_BYTES=0 BENCH_FS_INODES=0 BENCH_FS_IMG_BYTES=0
BENCH_SETTLE=0 BENCH_RM_AT="" BENCH_DROP=0

# True when this process may make and mount a loop file system.
bench_fs_usable() {
  [ "$(id -u)" = 0 ] && [ -e /dev/loop-control ] &&
    command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null &&
    command -v mount >/dev/null
}

# bench_fs_kind DIR: "nojournal" when DIR is on ext4 without a journal
# (sysfs says <none> for its journal task), else "journaled".
bench_fs_kind() {
  local src fstype
  read -r src fstype < <(findmnt -no SOURCE,FSTYPE -T "$1" 2>/dev/null)
  if [ "$fstype" = ext4 ] &&
    [ "$(cat "/sys/fs/ext4/$(basename "$src")/journal_task" 2>/dev/null)" = "<none>" ]; then
    echo nojournal
  else
    echo journaled
  fi
}

# bench_fs_init MODE DIR: MODE auto, data, nojournal or journaled; DIR
# holds the image and the mount point. auto: a scratch file system of the
# same kind as DIR's when this process may mount one, else data.
bench_fs_init() {
  local mode=$1
  BENCH_FS_DIR=$2
  if [ "$mode" = auto ]; then
    if bench_fs_usable; then mode=$(bench_fs_kind "$BENCH_FS_DIR"); else mode=data; fi
  fi
  case $mode in
  data) ;;
  nojournal | journaled)
    bench_fs_usable || bench_die "--fs $mode needs root, losetup, mkfs.ext4 and /dev/loop-control"
    BENCH_FS_IMG=$BENCH_FS_DIR/dstfs.img BENCH_FS_MNT=$BENCH_FS_DIR/dstfs
    mkdir -p "$BENCH_FS_MNT" || bench_die "cannot create $BENCH_FS_MNT"
    BENCH_FS_TYPE="ext4 without a journal"
    if [ "$mode" = journaled ]; then
      if command -v mkfs.xfs >/dev/null; then BENCH_FS_TYPE=xfs; else BENCH_FS_TYPE="ext4 with a journal"; fi
    fi
    ;;
  *) bench_die "--fs: unknown mode '$mode' (auto, data, nojournal, journaled)" ;;
  esac
  BENCH_FS=$mode
  if [ "$mode" = data ]; then
    BENCH_FS_TYPE=$(findmnt -no FSTYPE -T "$BENCH_FS_DIR" 2>/dev/null || stat -f -c %T "$BENCH_FS_DIR")
    [ "$(bench_fs_kind "$BENCH_FS_DIR")" = nojournal ] && BENCH_FS_TYPE="ext4 without a journal"
  fi
}

# bench_fs_size SRC: sizes the scratch file system for a copy of SRC (and
# the few side files beside DST): blocks of every file rounded up, a block
# per directory, a quarter more and 512 MiB for the journal and metadata;
# inodes for every entry and a tenth more.
bench_fs_size() {
  local n b
  read -r n b < <(find "$1" -printf '%y %s\n' | awk '
    { n++; s = $2 + 0; b += ($1 == "f") ? int((s + 4095) / 4096) * 4096 : 4096 }
    END { printf "%d %.0f\n", n, b }')
  BENCH_FS_INODES=$((n + n / 10 + 1024))
  BENCH_FS_BYTES=$((b + b / 4 + (512 << 20)))
  [ "$BENCH_FS_BYTES" -lt $((1 << 30)) ] && BENCH_FS_BYTES=$((1 << 30))
  return 0
}

# Unmounts the scratch file system (if mounted); keeps the loop device.
bench_fs_umount() {
  if [ -n "$BENCH_FS_MNT" ] && mountpoint -q "$BENCH_FS_MNT"; then
    umount "$BENCH_FS_MNT" || return 1
  fi
  return 0
}

# Unmounts, detaches the loop device and removes the image. Safe to call
# twice and from a trap; after Ctrl-C a copier may still hold DST open for
# a moment, so a busy file system is retried, then detached lazily.
bench_fs_teardown() {
  [ "$BENCH_FS" = data ] && return 0
  local i
  for i in 1 2 3 4 5; do
    bench_fs_umount 2>/dev/null && ! mountpoint -q "$BENCH_FS_MNT" && break
    sleep 1
  done
  mountpoint -q "$BENCH_FS_MNT" && umount -l "$BENCH_FS_MNT"
  if [ -n "$BENCH_FS_DEV" ]; then losetup -d "$BENCH_FS_DEV" 2>/dev/null; fi
  BENCH_FS_DEV="" BENCH_FS_IMG_BYTES=0
  [ -n "$BENCH_FS_IMG" ] && rm -f "$BENCH_FS_IMG"
  [ -n "$BENCH_FS_MNT" ] && rmdir "$BENCH_FS_MNT" 2>/dev/null
  return 0
}

# bench_fs_fresh: a new, empty file system at BENCH_FS_MNT of
# BENCH_FS_BYTES (bench_fs_size first). The image is a sparse file on the
# data directory's disk; the loop device reads and writes it uncached
# (--direct-io) when the kernel allows, so DST's writes reach the disk once
# and are not cached twice. mkfs discards the old contents (holes punched
# in the image); ext4 is mounted with noinit_itable so that no background
# thread zeroes inode tables during a timed run.
bench_fs_fresh() {
  bench_fs_umount || return 1
  if [ "$BENCH_FS_IMG_BYTES" != "$BENCH_FS_BYTES" ]; then
    if [ -n "$BENCH_FS_DEV" ]; then losetup -d "$BENCH_FS_DEV" || return 1; fi
    BENCH_FS_DEV=""
    rm -f "$BENCH_FS_IMG"
    truncate -s "$BENCH_FS_BYTES" "$BENCH_FS_IMG" || return 1
    BENCH_FS_DEV=$(losetup -f --show --direct-io=on "$BENCH_FS_IMG" 2>/dev/null) ||
      BENCH_FS_DEV=$(losetup -f --show "$BENCH_FS_IMG") || return 1
    BENCH_FS_IMG_BYTES=$BENCH_FS_BYTES
  fi
  local opts=""
  case $BENCH_FS_TYPE in
  xfs) mkfs.xfs -q -f "$BENCH_FS_DEV" || return 1 ;;
  "ext4 with a journal")
    mkfs.ext4 -q -F -N "$BENCH_FS_INODES" "$BENCH_FS_DEV" || return 1
    opts=noinit_itable ;;
  *)
    mkfs.ext4 -q -F -O ^has_journal -N "$BENCH_FS_INODES" "$BENCH_FS_DEV" || return 1
    opts=noinit_itable ;;
  esac
  mount ${opts:+-o "$opts"} "$BENCH_FS_DEV" "$BENCH_FS_MNT" || return 1
  # The record of every fresh file system, for the log a reader checks.
  [ -n "${BENCH_LOG:-}" ] &&
    echo "## fresh DST file system: $BENCH_FS_TYPE on $BENCH_FS_DEV ($BENCH_FS_BYTES bytes, $BENCH_FS_INODES inodes) at $BENCH_FS_MNT" >>"$BENCH_LOG"
  return 0
}

# The loop device's direct-I/O state, for the record ("1", "0" or "").
bench_fs_dio() {
  [ -n "$BENCH_FS_DEV" ] && cat "/sys/block/$(basename "$BENCH_FS_DEV")/loop/dio" 2>/dev/null
  return 0
}

# bench_fresh_dst DST: DST does not exist and its file system holds
# nothing of earlier runs: re-made (scratch modes) or DST removed, the
# time noted for bench_prepare's wait (data mode).
bench_fresh_dst() {
  if [ "$BENCH_FS" = data ]; then
    # Only a removal starts the kernel's window: nothing to wait for when
    # DST did not exist.
    if [ -e "$1" ]; then
      bench_rm "$1"
      BENCH_RM_AT=$EPOCHSECONDS
    fi
  else
    bench_fs_fresh || bench_die "cannot make the scratch file system on $BENCH_FS_IMG"
  fi
}

# bench_prepare CACHE DIR...: the known state before a timed run. Flush
# every dirty page (sync), drop the page, dentry and inode caches when
# allowed (BENCH_DROP), then for a warm run read every DIR again with 8
# readers; a cold run starts from the dropped caches. In data mode, wait
# until BENCH_SETTLE seconds have passed since the last removal (after the
# sync, so that the inode-table blocks are clean and the kernel's 60 s
# window applies, not its 300 s one).
bench_prepare() {
  local cache=$1 d
  shift
  sync
  [ "$BENCH_DROP" = 1 ] && echo 3 >/proc/sys/vm/drop_caches
  if [ "$cache" = warm ]; then
    for d in "$@"; do bench_warm "$d"; done
  fi
  if [ "$BENCH_FS" = data ] && [ -n "$BENCH_RM_AT" ] && [ "$BENCH_SETTLE" -gt 0 ]; then
    local left=$((BENCH_RM_AT + BENCH_SETTLE - EPOCHSECONDS))
    [ "$left" -gt 0 ] && sleep "$left"
  fi
  return 0
}

# Coefficient of variation (sample standard deviation / mean, in percent)
# of the numbers on stdin; 0 for a single number.
bench_cv() {
  awk '{ v[NR] = $1; s += $1 }
    END {
      if (NR < 2 || s == 0) { printf "0.0\n"; exit }
      m = s / NR
      for (i = 1; i <= NR; i++) q += (v[i] - m) ^ 2
      printf "%.1f\n", 100 * sqrt(q / (NR - 1)) / m
    }'
}

# Sets FLOOR: --floor value, else $POMOVE_FLOOR_BIN, else pm_floor beside
# the pomove build (build/X/bench/pm_floor), else on PATH; empty when none.
bench_find_floor() {
  local want=${1:-${POMOVE_FLOOR_BIN:-}} c
  FLOOR=""
  if [ -n "$want" ]; then
    [ -x "$want" ] || bench_die "pm_floor binary '$want' is not executable"
    FLOOR=$(cd "$(dirname "$want")" && pwd)/$(basename "$want")
    return
  fi
  for c in "$(dirname "$POMOVE")/../bench/pm_floor" "$BENCH_REPO/build/gcc/bench/pm_floor"; do
    if [ -x "$c" ]; then
      FLOOR=$(cd "$(dirname "$c")" && pwd)/pm_floor
      return
    fi
  done
  FLOOR=$(command -v pm_floor) || FLOOR=""
}

# bench_order N WORDS...: the words in round N's order, a shuffle seeded
# by N (reproducible). A rotation would keep every tool behind the same
# neighbour in every round, and here a run pays for what the run before
# it left: memory the guest must fault back in, writeback still going.
bench_order() {
  local n=$1
  shift
  printf '%s\n' "$@" | awk -v seed="$n" '
    { w[NR] = $0 }
    END {
      srand(seed + 1)
      for (i = NR; i > 1; i--) {
        j = int(rand() * i) + 1
        t = w[i]; w[i] = w[j]; w[j] = t
      }
      for (i = 1; i <= NR; i++) print w[i]
    }'
}
