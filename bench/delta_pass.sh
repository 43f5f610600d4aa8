#!/usr/bin/env bash
# delta_pass.sh - issue 16's delta pass, two pomove binaries side by side:
# `pomove copy --update --delete` over the same ~1% change of a generated
# postoffice, BEFORE and AFTER alternated in a seeded shuffled order per
# run, caches dropped before every timed pass (cold) and, with --warm, a
# second timed pass of each over the same change with the cache as the
# first left it (DST then up to date). Besides the wall and CPU times it reads the scratch
# device's counters (/proc/diskstats: read requests, io_ticks = ms the
# device had I/O in flight), which the other load of a shared machine
# moves less than the wall time. Not a test; no assertion on time.
#
# Protocol of bench/lib.sh: one fresh scratch file system (ext4 with a
# journal on a loop device, as root), one tree, one first copy; per run
# and binary: the change applied (bench/change_tree.sh), the timed pass,
# the change undone and an untimed pass that brings DST back, so that
# every timed pass meets the same change.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
usage: bench/delta_pass.sh --before BIN --after BIN [options]

  --before BIN    pomove binary before the change (required)
  --after BIN     pomove binary after the change (required)
  --files N       files in the generated postoffice (default 100000)
  --runs N        runs (default 5)
  --change PCT    percent of files changed per pass (default 1)
  --warm          also time a warm pass right after each cold one (cache
                  not dropped; it finds DST up to date: nothing changed)
  --rt            run the timed passes under SCHED_FIFO (chrt -f 50), so
                  that the load of a shared machine does not preempt them
  --data DIR      where the scratch file system goes (default: a new dir
                  under \$TMPDIR or /tmp, removed at the end)
  --out DIR       results: runs.tsv, runs.log, results.md (default
                  ./bench-delta)
  --help          this text

Needs root (loop device, drop_caches). Exit codes: 0 done; 1 a pass failed;
2 usage or setup error.
EOF
}

files=100000 runs=5 pct=1 warm=0 rt=0 data="" out=./bench-delta before="" after=""
while [ $# -gt 0 ]; do
  case $1 in
  --before) before=${2:?}; shift ;;
  --after) after=${2:?}; shift ;;
  --files) files=${2:?}; shift ;;
  --runs) runs=${2:?}; shift ;;
  --change) pct=${2:?}; shift ;;
  --warm) warm=1 ;;
  --rt) rt=1 ;;
  --data) data=${2:?}; shift ;;
  --out) out=${2:?}; shift ;;
  --help | -h) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
  shift
done
[ -n "$before" ] && [ -n "$after" ] || { usage >&2; exit 2; }
for b in "$before" "$after"; do [ -x "$b" ] || bench_die "'$b' is not executable"; done
before=$(cd "$(dirname "$before")" && pwd)/$(basename "$before")
after=$(cd "$(dirname "$after")" && pwd)/$(basename "$after")
[[ $runs =~ ^[1-9][0-9]*$ ]] || bench_die "--runs needs a positive number"
[[ $files =~ ^[1-9][0-9]*$ ]] || bench_die "--files needs a positive number"
[[ $pct =~ ^[0-9]+$ ]] && [ "$pct" -ge 1 ] && [ "$pct" -le 100 ] ||
  bench_die "--change needs a percentage from 1 to 100"
bench_can_drop_caches || bench_die "needs root: caches are dropped before every cold pass"
bench_fs_usable || bench_die "needs root, losetup and mkfs.ext4 for the scratch file system"
chrt_cmd=""
[ "$rt" = 1 ] && chrt_cmd="chrt -f 50"
POMOVE=$after # gen-postoffice and the first copy

bench_data_dir delta
mkdir -p "$out" || bench_die "cannot create $out"
out=$(cd "$out" && pwd)
BENCH_LOG=$out/runs.log
: >"$BENCH_LOG"
tsv=$out/runs.tsv
printf 'run\tcache\tbinary\twall_s\tuser_s\tsys_s\treads\tio_ticks_ms\n' >"$tsv"

cleanup() {
  bench_fs_teardown
  [ "$made_data" = 1 ] && rm -rf "$data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bench_fs_init journaled "$data"
# SRC and one copy, with the state files beside: room for three times the
# tree (30 KiB a file on average) and inodes for three times its files.
BENCH_FS_BYTES=$((files * 30720 * 3 + (1 << 30)))
BENCH_FS_INODES=$((files * 3 + 20000))
bench_fresh_dst "$data"
root=$BENCH_FS_MNT src=$BENCH_FS_MNT/src dst=$BENCH_FS_MNT/dst stash=$BENCH_FS_MNT/stash
dev=$(basename "$BENCH_FS_DEV")

failed=0
fail() {
  echo "delta_pass: $*" >&2
  echo "## FAILED: $*" >>"$BENCH_LOG"
  failed=1
}

# diskstats: "read requests io_ticks" of the scratch device.
disk() { awk -v d="$dev" '$3 == d { print $4, $13 }' /proc/diskstats; }

# timed RUN CACHE NAME BIN: one timed pass, one row of runs.tsv.
timed() {
  local r0 t0 r1 t1
  [ "$2" = cold ] && { sync; echo 3 >/proc/sys/vm/drop_caches; }
  read -r r0 t0 < <(disk)
  bench_time "$chrt_cmd '$4' copy --update --delete -q '$src' '$dst'" "$BENCH_LOG"
  read -r r1 t1 < <(disk)
  [ "$BT_RC" = 0 ] || fail "run $1: $3 ($2) exited $BT_RC"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$BT_WALL" "$BT_USER" \
    "$BT_SYS" $((r1 - r0)) $((t1 - t0)) >>"$tsv"
  printf '  %-5s %-6s %8ss  cpu %5.2fs  reads %6d  io_ticks %6d ms\n' "$2" "$3" \
    "$BT_WALL" "$(awk -v u="$BT_USER" -v s="$BT_SYS" 'BEGIN { print u + s }')" \
    $((r1 - r0)) $((t1 - t0))
}

echo "$files files, ${pct}% changed, $runs runs; $BENCH_FS_TYPE on $BENCH_FS_DEV (dio $(bench_fs_dio)); $([ "$rt" = 1 ] && echo "SCHED_FIFO" || echo "normal priority")"
echo "before: $before"
echo "after:  $after"
"$after" gen-postoffice "$src" --files "$files" -q >>"$BENCH_LOG" 2>&1 || bench_die "gen-postoffice failed"
"$after" copy -q "$src" "$dst" >>"$BENCH_LOG" 2>&1 || bench_die "first copy failed"
for ((run = 1; run <= runs; run++)); do
  echo "run $run/$runs"
  for name in $(bench_order "$run" before after); do
    bin=$before
    [ "$name" = after ] && bin=$after
    r=$(bash "$BENCH_DIR/change_tree.sh" apply "$src" "$run" "$pct" "$stash" 2>>"$BENCH_LOG") ||
      { fail "run $run: change_tree apply failed"; break 2; }
    echo "## run $run $name: change: $r" >>"$BENCH_LOG"
    timed "$run" cold "$name" "$bin"
    # Warm: the cache as the cold pass left it, and DST up to date.
    [ "$warm" = 1 ] && timed "$run" warm "$name" "$bin"
    cmp -s <(cd "$src" && find . -type f | sort) <(cd "$dst" && find . -type f | sort) ||
      fail "run $run: $name: DST's files differ from SRC's"
    bash "$BENCH_DIR/change_tree.sh" revert "$src" "$stash" 2>>"$BENCH_LOG" ||
      { fail "run $run: change_tree revert failed"; break 2; }
    "$after" copy --update --delete -q "$src" "$dst" >>"$BENCH_LOG" 2>&1 ||
      fail "run $run: the untimed pass after $name failed"
  done
done

stats() { # CACHE NAME COLUMN -> median min max
  awk -F'\t' -v c="$1" -v n="$2" -v k="$3" 'NR > 1 && $2 == c && $3 == n { print $k }' "$tsv" | bench_stats
}
cpu() {
  awk -F'\t' -v c="$1" -v n="$2" 'NR > 1 && $2 == c && $3 == n { print $5 + $6 }' "$tsv" | bench_stats
}
{
  echo "# Delta pass: before / after"
  echo
  echo "$files files, ${pct}% changed per pass, $runs runs, alternated; $BENCH_FS_TYPE on a loop device (dio $(bench_fs_dio)); $([ "$rt" = 1 ] && echo "timed passes under SCHED_FIFO" || echo "normal priority"). Machine: $(uname -n), $(nproc) cores, Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg). $(date -u +%FT%TZ)."
  echo
  echo "- before: $before"
  echo "- after: $after"
  echo
  echo "| cache | binary | wall s median (min - max) | CPU s median (min - max) | io_ticks ms median | reads median |"
  echo "|---|---|---:|---:|---:|---:|"
  for cache in cold warm; do
    [ "$cache" = warm ] && [ "$warm" = 0 ] && continue
    for name in before after; do
      read -r wm wa wb < <(stats $cache $name 4)
      read -r cm ca cb < <(cpu $cache $name)
      read -r im _ < <(stats $cache $name 8)
      read -r rm _ < <(stats $cache $name 7)
      echo "| $cache | $name | $wm ($wa - $wb) | $cm ($ca - $cb) | $im | $rm |"
    done
  done
} >"$out/results.md"
echo
cat "$out/results.md"
[ "$failed" = 0 ] || exit 1
exit 0
