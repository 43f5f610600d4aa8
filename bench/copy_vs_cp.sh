#!/usr/bin/env bash
# copy_vs_cp.sh - issue 2's benchmark: times `pomove copy` (hashing and
# writing its manifest, its default) against `cp -a; sync -f` (as durable
# as pomove's copy) and, for reference, plain `cp -a`, on one generated
# postoffice, in a seeded shuffled order per round with a warm cache, under
# the run protocol of bench/lib.sh (fresh DST file system or an honest
# wait, sync, caches dropped, SRC re-read), and prints every run, the
# medians, min - max, coefficient of variation, CPU and the ratio. Not a
# test: no assertion on time. The full suite is bench/run.sh.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
usage: bench/copy_vs_cp.sh [options]

Generates a postoffice, then runs \`pomove copy\`, \`cp -a; sync -f\`
and \`cp -a\` in a seeded shuffled order per round. Before every run: DST
fresh (see --fs), sync, caches dropped (root), SRC re-read by 8 readers.
Prints each run, medians, min - max, CV, CPU and the ratio of pomove to
the durable cp.

  --files N       files in the postoffice (default 100000)
  --size BYTES    total size (default: 30 KiB a file, ~3 GB at 100000)
  --runs N        runs of each tool (default 5, at least 1)
  --data DIR      where the trees go (default: a new dir under \$TMPDIR
                  or /tmp); removed at the end unless --keep
  --pomove PATH   pomove binary (default: \$POMOVE_BIN, build/gcc, PATH)
  --fs MODE       where DST lives: auto (default), nojournal, journaled,
                  data; as in bench/run.sh --help
  --settle S      data mode: seconds between removing DST and the next run
                  (default 61 on ext4 without a journal, else 0)
  --keep          keep the generated tree
  --help          this text

Exit codes: 0 done; 1 a timed command failed; 2 usage or setup error.
EOF
}

files=100000 size="" runs=5 data="" keep=0 pomove_opt="" fs_mode=auto settle=""
while [ $# -gt 0 ]; do
  case $1 in
  --files) files=${2:?}; shift ;;
  --size) size=${2:?}; shift ;;
  --runs) runs=${2:?}; shift ;;
  --data) data=${2:?}; shift ;;
  --pomove) pomove_opt=${2:?}; shift ;;
  --keep) keep=1 ;;
  --fs) fs_mode=${2:?}; shift ;;
  --settle) settle=${2:?}; shift ;;
  --help | -h) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
  shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || bench_die "--runs needs a positive number"
[ -z "$settle" ] || [[ $settle =~ ^[0-9]+$ ]] || bench_die "--settle needs a number of seconds"
if bench_can_drop_caches; then BENCH_DROP=1; fi
bench_find_pomove "$pomove_opt"

bench_data_dir cvc
src=$data/src dst=$data/dst man=$data/pomove.xxh128 log=$data/runs.log
cleanup() {
  bench_fs_teardown
  bench_rm "$dst"
  rm -f "$man"
  if [ "$keep" = 0 ]; then
    bench_rm "$src"
    [ "$made_data" = 1 ] && rm -rf "$data"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bench_fs_init "$fs_mode" "$data"
[ "$BENCH_FS" = data ] || dst=$BENCH_FS_MNT/dst
if [ -z "$settle" ]; then
  settle=0
  [ "$BENCH_FS" = data ] && [ "$(bench_fs_kind "$data")" = nojournal ] && settle=61
fi
BENCH_SETTLE=$settle
BENCH_LOG=$log

echo "generating the postoffice ($files files) in $src" >&2
"$POMOVE" gen-postoffice "$src" --files "$files" ${size:+--size "$size"} \
  --quiet --json >&2 || bench_die "generation failed"
[ "$BENCH_FS" = data ] || bench_fs_size "$src"
echo "DST on: $([ "$BENCH_FS" = data ] && echo "$data" || echo "a fresh scratch file system per run") ($BENCH_FS_TYPE); caches dropped: $([ "$BENCH_DROP" = 1 ] && echo yes || echo no); wait after removal: $BENCH_SETTLE s"

have_pomove=0
if bench_pomove_has copy; then
  have_pomove=1
  popts=""
  bench_pomove_has copy --quiet && popts+=" --quiet"
  bench_pomove_has copy --manifest && popts+=" --manifest \"$man\""
  cmd_pomove="\"$POMOVE\" copy$popts \"$src\" \"$dst\""
else
  echo "pomove copy: not available in $POMOVE (timing cp -a alone)"
fi
cmd_cp="cp -a \"$src\" \"$dst\""
cmd_cpsync="cp -a \"$src\" \"$dst\" && sync -f \"$dst\""
echo "commands:"
[ $have_pomove = 1 ] && echo "  pomove:  $cmd_pomove"
echo "  cp+sync: $cmd_cpsync"
echo "  cp:      $cmd_cp"

failed=0
declare -A walls cpus
run_one() { # tool command run
  bench_fresh_dst "$dst"
  # pomove's defaults beside DST: a left-over journal would make the next
  # run a resume.
  rm -f "$man" "$dst.xxh128" "$dst.pomove-journal"
  bench_prepare warm "$src"
  echo "## $1 run $3: $2" >>"$log"
  bench_time "$2" "$log"
  printf '%-7s run %d: %8.3f s  user %6.2f s  sys %6.2f s  peak RSS %s KiB%s\n' \
    "$1" "$3" "$BT_WALL" "$BT_USER" "$BT_SYS" "${BT_RSS:-?}" \
    "$([ "$BT_RC" = 0 ] || echo "  FAILED (exit $BT_RC, see $log)")"
  [ "$BT_RC" = 0 ] || failed=1
  walls[$1]+="$BT_WALL"$'\n'
  cpus[$1]+="$(awk -v u="$BT_USER" -v s="$BT_SYS" 'BEGIN { print u + s }')"$'\n'
}
tools="cp+sync cp"
[ $have_pomove = 1 ] && tools="pomove $tools"
for r in $(seq 1 "$runs"); do
  for t in $(bench_order $((r - 1)) $tools); do
    case $t in
    pomove) run_one pomove "$cmd_pomove" "$r" ;;
    cp+sync) run_one cp+sync "$cmd_cpsync" "$r" ;;
    cp) run_one cp "$cmd_cp" "$r" ;;
    esac
  done
done
# Stop using DST's file system before the summary (and the EXIT trap).
if [ "$BENCH_FS" = data ]; then bench_rm "$dst"; else bench_fs_teardown; fi

echo
summary() { # tool label
  local med min max cv cpu
  read -r med min max < <(printf '%s' "${walls[$1]}" | bench_stats)
  cv=$(printf '%s' "${walls[$1]}" | bench_cv)
  read -r cpu _ _ < <(printf '%s' "${cpus[$1]}" | bench_stats)
  printf '%-11s median %.3f s (min %.3f, max %.3f, CV %s%%, CPU %.2f s)\n' \
    "$2" "$med" "$min" "$max" "$cv" "$cpu"
  MED=$med
}
summary cp "cp -a"
summary cp+sync "cp -a;sync"
csmed=$MED
if [ $have_pomove = 1 ]; then
  summary pomove "pomove copy"
  printf 'ratio: pomove copy is %.2fx the speed of cp -a; sync -f, both durable (median cp+sync / median pomove)\n' \
    "$(awk -v c="$csmed" -v p="$MED" 'BEGIN{print c/p}')"
fi
exit $failed
