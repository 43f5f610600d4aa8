#!/bin/bash
# abcopy.sh - two pomove builds copying the same tree, their runs
# alternated (A B, B A, ...), each into a fresh ext4 without a journal
# (or with one: --fs journaled) on a loop device (bench/lib.sh), caches
# dropped and SRC re-read by 8
# readers before every run (warm, issue 17's protocol). Per run: wall,
# user + sys CPU, peak RSS, and what the loop device saw (requests and
# their mean size, reads and writes): the figures a loaded machine does
# not change, beside the wall time it does. Then medians per build. For
# the large-file workload, and for copy --verify against a plain copy.
# As root.
#
#   bench/abcopy.sh A_BIN B_BIN [--tree large|postoffice|DIR] [--runs R]
#                   [--verify] [--dir DIR] [--fs nojournal|journaled]
#                   [-- COPY_OPTIONS...]
#
# --tree large (default): 4 files of 1 GiB; postoffice: 100,000 files
# (gen-postoffice); or any existing tree. DIR (default
# /var/tmp/pomove-abcopy) keeps the generated trees between invocations.
# --fs journaled: DST's file system is the suite's journaled kind
# (bench/run.sh --fs journaled: XFS when mkfs.xfs exists, else ext4 with
# its journal); the default nojournal is ext4 without one. With a
# journal, each run also prints what the journal (jbd2) did: its
# commits and their mean commit time in us (ext4 only; "-" otherwise).
# --verify adds --verify to both builds' copies (give the same build
# twice to compare a plain copy with a verified one: --verify-b).
# --floor F adds pm_floor F to every round (its own total_s and CPU of
# the timed part; its untimed preload is left out), in the same
# alternated order, as label F. An A_BIN or B_BIN named pm_floor* runs as
# a floor too (to compare two floors).
#
# Per run, besides wall, CPU and RSS: what DST's loop device saw
# (requests, mean size, mean queue depth while busy = time_in_queue /
# io_ticks, and busy % of the run) and the MiB read from SRC's disk (a
# warm run reads SRC from the page cache: what is here went to the
# medium; it counts every reader of that disk, other programs' and the
# loop device's own image reads included, so it only flags a run).
set -u
. "$(dirname "$0")/lib.sh"
usage="usage: abcopy.sh A_BIN B_BIN [--tree large|postoffice|DIR] [--runs R] [--verify] [--verify-b] [--floor F] [--dir DIR] [--fs nojournal|journaled] [-- COPY_OPTIONS...]"
[ $# -ge 2 ] || bench_die "$usage"
A=$(realpath "$1") B=$(realpath "$2")
shift 2
TREE=large RUNS=5 DIR=/var/tmp/pomove-abcopy VA="" VB="" F="" FS=nojournal
while [ $# -gt 0 ]; do
  case $1 in
  --tree) TREE=$2; shift 2 ;;
  --runs) RUNS=$2; shift 2 ;;
  --dir) DIR=$2; shift 2 ;;
  --verify) VA=--verify VB=--verify; shift ;;
  --verify-b) VB=--verify; shift ;;
  --floor) F=$(realpath "$2"); shift 2 ;;
  --fs) FS=$2; shift 2 ;;
  --) shift; break ;;
  *) bench_die "unknown option $1; $usage" ;;
  esac
done
[ -n "$BENCH_GNU_TIME" ] || bench_die "needs GNU time (/usr/bin/time)"
bench_can_drop_caches || bench_die "needs root (drop caches, loop devices)"
BENCH_DROP=1 # the protocol's drop before each run (bench_prepare)
mkdir -p "$DIR" || exit 2
case $TREE in
large) SRC=$DIR/large
  [ -d "$SRC" ] || "$A" gen-postoffice "$SRC" --large 4 --large-size 1G -q || exit 2 ;;
postoffice) SRC=$DIR/po100000
  [ -d "$SRC" ] || "$A" gen-postoffice "$SRC" --files 100000 -q || exit 2 ;;
*) SRC=$(realpath "$TREE") ;;
esac
case $FS in nojournal | journaled) ;; *) bench_die "--fs: nojournal or journaled, not '$FS'" ;; esac
bench_fs_init "$FS" "$DIR"
echo "DST: a fresh $BENCH_FS_TYPE on a loop device for every run"
trap 'bench_fs_teardown; rm -f "$DIR/m.xxh128" "$DIR/m.pomove-state"' EXIT
bench_fs_size "$SRC"

out=$(mktemp)
sdev=$(basename "$(df --output=source "$SRC" | tail -1)")
sstat=/sys/class/block/$sdev/stat
[ -r "$sstat" ] || sstat=/dev/null
one() { # label bin verify copy-options... (bin "floor": pm_floor $F)
  local label=$1 bin=$2 v=$3 opts="" fo fl=$F
  shift 3
  case ${bin##*/} in pm_floor*) fl=$bin bin=floor ;; esac
  [ $# -gt 0 ] && opts=$(printf ' %q' "$@")
  bench_fs_fresh || bench_die "cannot make the scratch file system"
  bench_prepare warm "$SRC"
  local st=/sys/block/$(basename "$BENCH_FS_DEV")/stat a0 a1 s0 s1
  local ji=/proc/fs/jbd2/$(basename "$BENCH_FS_DEV")-8/info j0=0 j1=- jus=-
  [ -r "$ji" ] && read -r j0 _ <"$ji"
  read -ra a0 <"$st"
  read -ra s0 <"$sstat" 2>/dev/null || s0=(0 0 0)
  if [ "$bin" = floor ]; then
    fo=$(mktemp)
    bench_time "\"$fl\" \"$SRC\" \"$BENCH_FS_MNT/dst\" >\"$fo\"" /dev/null
    BT_WALL=$(awk '$1 == "total_s" { print $2 }' "$fo")
    BT_USER=$(awk '$1 == "user_s" { print $2 }' "$fo")
    BT_SYS=$(awk '$1 == "sys_s" { print $2 }' "$fo")
    rm -f "$fo"
    [ -n "$BT_WALL" ] || BT_RC=9 BT_WALL=0 BT_USER=0 BT_SYS=0
  else
    bench_time "\"$bin\" copy -q $v$opts --manifest \"$DIR/m.xxh128\" \"$SRC\" \"$BENCH_FS_MNT/dst\"" /dev/null
  fi
  read -ra a1 <"$st"
  read -ra s1 <"$sstat" 2>/dev/null || s1=(0 0 0)
  if [ -r "$ji" ]; then
    read -r j1 _ <"$ji"
    j1=$((j1 - j0))
    jus=$(awk '/average transaction commit time/ { sub(/us$/, "", $1); print $1 }' "$ji")
  fi
  # stat: 0 reads, 2 read sectors, 4 writes, 6 write sectors, 9 io_ticks
  # (ms), 10 time_in_queue (ms), 15 flushes, 16 flush time (ms): the
  # cache flushes a syncfs or a journal commit asks of the device.
  printf '%s %s %.2f %.2f %.1f %d %.0f %d %.0f %.1f %.0f %.0f %s %s %d %d\n' "$label" "$BT_RC" "$BT_WALL" \
    "$(awk -v u="$BT_USER" -v s="$BT_SYS" 'BEGIN { print u + s }')" \
    "$(awk -v m="$BT_RSS" 'BEGIN { print m / 1024 }')" \
    $((a1[0] - a0[0])) "$(awk -v n=$((a1[0] - a0[0])) -v s=$((a1[2] - a0[2])) 'BEGIN { print n ? s / 2 / n : 0 }')" \
    $((a1[4] - a0[4])) "$(awk -v n=$((a1[4] - a0[4])) -v s=$((a1[6] - a0[6])) 'BEGIN { print n ? s / 2 / n : 0 }')" \
    "$(awk -v t=$((a1[10] - a0[10])) -v b=$((a1[9] - a0[9])) 'BEGIN { print b ? t / b : 0 }')" \
    "$(awk -v b=$((a1[9] - a0[9])) -v w="$BT_WALL" 'BEGIN { print (w > 0 ? b / 10 / w : 0) }')" \
    "$(awk -v s=$((s1[2] - s0[2])) 'BEGIN { print s / 2048 }')" "$j1" "$jus" \
    $((${a1[15]:-0} - ${a0[15]:-0})) $((${a1[16]:-0} - ${a0[16]:-0})) |
    tee -a "$out"
}
echo "run: label rc wall_s cpu_s rss_MiB reads read_KiB writes write_KiB qdepth busy_% src_disk_read_MiB jbd2_commits jbd2_commit_us flushes flush_ms"
labels="A B"
[ -n "$F" ] && labels="A B F"
for ((i = 0; i < RUNS; i++)); do
  if ((i % 2)); then one B "$B" "$VB" "$@"; one A "$A" "$VA" "$@"; [ -n "$F" ] && one F floor ""
  else [ -n "$F" ] && one F floor ""; one A "$A" "$VA" "$@"; one B "$B" "$VB" "$@"; fi
done
for l in $labels; do
  awk -v l=$l '$1 == l { n++; w[n] = $3; c[n] = $4; r[n] = $5; q[n] = $6; s[n] = $9; d[n] = $10; m[n] = $12; j[n] = $13; u[n] = $14; f[n] = $15; fm[n] = $16; bad += $2 != 0 }
    function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    END { printf "%s: median wall %.2f s (%.2f - %.2f), CPU %.2f s, peak RSS %.1f MiB, device reads %d, mean write %.0f KiB, queue depth %.1f, SRC disk reads %.0f MiB, device flushes %d (%d ms)%s; %d runs, %d failed\n",
      l, med(w, n), w[1], w[n], med(c, n), med(r, n), med(q, n), med(s, n), med(d, n), med(m, n), med(f, n), med(fm, n),
      j[1] == "-" ? "" : sprintf(", jbd2 commits %d (mean %.0f us)", med(j, n), med(u, n)), n, bad }' "$out"
done
rm -f "$out"
