#!/bin/bash
# overlap.sh - can DST's device overlap the two streams of `copy --verify`?
# The write floor (pm_floor copying the tree) and the disk-order O_DIRECT
# re-read of a copy already made (pm_reread_bench DIR engine 64 4096
# disk), each alone and both at once, on one fresh ext4 without a
# journal on a loop device (bench/lib.sh), caches dropped and SRC re-read
# before each round (warm). If the device overlapped them, "both" would
# take about max(write, read); if it cannot, about write + read.
# As root.
#
#   bench/overlap.sh BUILD_DIR [--runs R] [--tree DIR] [--dir DIR]
#
# BUILD_DIR holds bench/pm_floor, bench/pm_reread_bench and
# orchestrate/pomove (a Release build). Every write goes into a new
# directory (no removal between rounds: ext4 without a journal skips
# recently freed inodes, issue 17). Prints one line per measurement.
set -u
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || bench_die "usage: overlap.sh BUILD_DIR [--runs R] [--tree DIR] [--dir DIR]"
BD=$(realpath "$1"); shift
RUNS=2 DIR=/var/tmp/pomove-abcopy SRC=""
while [ $# -gt 0 ]; do
  case $1 in
  --runs) RUNS=$2; shift 2 ;;
  --tree) SRC=$(realpath "$2"); shift 2 ;;
  --dir) DIR=$2; shift 2 ;;
  *) bench_die "unknown option $1" ;;
  esac
done
[ -n "$SRC" ] || SRC=$DIR/po100000
FLOOR=$BD/bench/pm_floor RB=$BD/bench/pm_reread_bench PO=$BD/orchestrate/pomove
for x in "$FLOOR" "$RB" "$PO"; do [ -x "$x" ] || bench_die "missing $x"; done
bench_can_drop_caches || bench_die "needs root"
BENCH_DROP=1
bench_fs_init nojournal "$DIR/ov"
trap 'bench_fs_teardown' EXIT
bench_fs_size "$SRC"
# The copy to re-read and a written tree per round (2 per run).
BENCH_FS_BYTES=$((BENCH_FS_BYTES * (2 + 2 * RUNS)))
BENCH_FS_INODES=$((BENCH_FS_INODES * (2 + 2 * RUNS)))
bench_fs_fresh || bench_die "cannot make the scratch file system"
M=$BENCH_FS_MNT
"$PO" copy -q "$SRC" "$M/copy" || bench_die "copy failed"
sync
st=/sys/block/$(basename "$BENCH_FS_DEV")/stat
k=0
dev() { read -ra d <"$st"; echo "${d[0]} ${d[4]}"; }
for ((i = 0; i < RUNS; i++)); do
  bench_prepare cold
  r=$("$RB" "$M/copy" engine 64 4096 disk | tail -1)
  echo "read alone: $r"
  k=$((k + 1))
  bench_prepare warm "$SRC"
  echo "write alone: $("$FLOOR" "$SRC" "$M/w$k" | tr '\n' ' ')"
  k=$((k + 1))
  bench_prepare warm "$SRC"
  d0=$(dev)
  t0=$(date +%s.%N)
  "$FLOOR" "$SRC" "$M/w$k" >"$DIR/ov.floor" &
  fp=$!
  r=$("$RB" "$M/copy" engine 64 4096 disk | tail -1)
  t1=$(date +%s.%N)
  wait $fp
  t2=$(date +%s.%N)
  d1=$(dev)
  echo "both: read $r"
  echo "both: write $(tr '\n' ' ' <"$DIR/ov.floor")"
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v d0="$d0" -v d1="$d1" 'BEGIN { split(d0, x); split(d1, y)
    printf "both: read done at %.2f s, write done at %.2f s; device reads %d, writes %d\n", b - a, c - a, y[1] - x[1], y[2] - x[2] }'
done
rm -f "$DIR/ov.floor"
