#!/usr/bin/env bash
# copy_vs_cp.sh - issue 2's benchmark: times `pomove copy` (hashing and
# writing its manifest, its default) against `cp -a` on one generated
# postoffice, in alternating runs with a warm cache, and prints every run,
# the medians, the spread and the ratio. Not a test: no assertion on time.
# The full suite (more peers, cold cache, JSON/SVG) is bench/run.sh.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
usage: bench/copy_vs_cp.sh [options]

Generates a postoffice, reads it once (warm cache), then runs
\`pomove copy\` and \`cp -a\` in alternation, removing the destination
between runs, and prints each run, medians, spread and the ratio.

  --files N       files in the postoffice (default 100000)
  --size BYTES    total size (default: 30 KiB a file, ~3 GB at 100000)
  --runs N        runs of each tool (default 5, at least 1)
  --data DIR      where the trees go (default: a new dir under \$TMPDIR
                  or /tmp); removed at the end unless --keep
  --pomove PATH   pomove binary (default: \$POMOVE_BIN, build/gcc, PATH)
  --keep          keep the generated tree
  --help          this text

Exit codes: 0 done; 1 a timed command failed; 2 usage or setup error.
EOF
}

files=100000 size="" runs=5 data="" keep=0 pomove_opt=""
while [ $# -gt 0 ]; do
  case $1 in
  --files) files=${2:?}; shift ;;
  --size) size=${2:?}; shift ;;
  --runs) runs=${2:?}; shift ;;
  --data) data=${2:?}; shift ;;
  --pomove) pomove_opt=${2:?}; shift ;;
  --keep) keep=1 ;;
  --help | -h) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
  shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || bench_die "--runs needs a positive number"
bench_find_pomove "$pomove_opt"

made_data=0
if [ -z "$data" ]; then
  data=$(mktemp -d "${TMPDIR:-/tmp}/pomove-cvc.XXXXXX")
  made_data=1
fi
mkdir -p "$data" || bench_die "cannot create $data"
src=$data/src dst=$data/dst man=$data/pomove.xxh128 log=$data/runs.log
cleanup() {
  bench_rm "$dst"
  rm -f "$man"
  if [ "$keep" = 0 ]; then
    bench_rm "$src"
    [ "$made_data" = 1 ] && rm -rf "$data"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "generating the postoffice ($files files) in $src" >&2
"$POMOVE" gen-postoffice "$src" --files "$files" ${size:+--size "$size"} \
  --quiet --json >&2 || bench_die "generation failed"
bench_warm "$src"

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
echo "commands:"
[ $have_pomove = 1 ] && echo "  pomove: $cmd_pomove"
echo "  cp:     $cmd_cp"

failed=0
declare -A walls
run_one() { # tool command run
  bench_rm "$dst"
  # pomove's defaults beside DST: a left-over journal would make the next
  # run a resume.
  rm -f "$man" "$dst.xxh128" "$dst.pomove-journal"
  sync
  bench_time "$2" "$log"
  printf '%-7s run %d: %8.3f s  user %6.2f s  sys %6.2f s  peak RSS %s KiB%s\n' \
    "$1" "$3" "$BT_WALL" "$BT_USER" "$BT_SYS" "${BT_RSS:-?}" \
    "$([ "$BT_RC" = 0 ] || echo "  FAILED (exit $BT_RC, see $log)")"
  [ "$BT_RC" = 0 ] || failed=1
  walls[$1]+="$BT_WALL"$'\n'
}
for r in $(seq 1 "$runs"); do
  # Alternate which tool goes first so neither always follows the other.
  if [ $((r % 2)) = 1 ]; then order="pomove cp"; else order="cp pomove"; fi
  for t in $order; do
    [ "$t" = pomove ] && [ $have_pomove = 0 ] && continue
    if [ "$t" = pomove ]; then run_one pomove "$cmd_pomove" "$r"; else run_one cp "$cmd_cp" "$r"; fi
  done
done

echo
read -r cmed cmin cmax < <(printf '%s' "${walls[cp]}" | bench_stats)
printf 'cp -a       median %.3f s (min %.3f, max %.3f, spread %.1f%%)\n' \
  "$cmed" "$cmin" "$cmax" "$(awk -v a="$cmin" -v b="$cmax" -v m="$cmed" 'BEGIN{print 100*(b-a)/m}')"
if [ $have_pomove = 1 ]; then
  read -r pmed pmin pmax < <(printf '%s' "${walls[pomove]}" | bench_stats)
  printf 'pomove copy median %.3f s (min %.3f, max %.3f, spread %.1f%%)\n' \
    "$pmed" "$pmin" "$pmax" "$(awk -v a="$pmin" -v b="$pmax" -v m="$pmed" 'BEGIN{print 100*(b-a)/m}')"
  printf 'ratio: pomove copy is %.2fx the speed of cp -a (median cp / median pomove)\n' \
    "$(awk -v c="$cmed" -v p="$pmed" 'BEGIN{print c/p}')"
fi
exit $failed
