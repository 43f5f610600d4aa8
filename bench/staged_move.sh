#!/usr/bin/env bash
# staged_move.sh - issue 16's benchmark: the downtime of `pomove move`
# with and without a `pomove stage` before it, on a simulated host with a
# generated postoffice of which about 1% changes between the stage and the
# move, and the delta pass alone (`pomove copy --update --delete`) against
# a second `rsync -a --delete` pass and a second `cp -au` over the same
# change. Runs under the protocol of bench/lib.sh: a fresh host on a fresh
# scratch file system per run (as root), sync and caches dropped before
# every timed step. Prints every run and the medians; writes runs.tsv and
# results.md into --out. Not a test: no assertion on time (the smoke test
# tests/bench/test_bench_staged.c checks the output's shape).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
usage: bench/staged_move.sh [options]

Per run, on a new simulated host (\`pomove sim-create --files N\`):
  unstaged  \`pomove move --json\` (downtime read from its report), then
            \`rollback --remove-copy\`;
  staged    \`pomove stage\`, the seeded ~1% change (bench/change_tree.sh:
            files modified, removed, added), \`pomove move --json\`, then
            \`rollback --remove-copy\`, \`stage --discard\`, change undone;
  delta     the simulated services stopped; for each of \`rsync -a
            --delete\` (+ sync -f), \`cp -au\` (+ sync -f; it does not
            delete) and \`pomove copy --update --delete\` (durable), in a
            seeded shuffled order: a first pass into a new DST (untimed),
            the same change, the second pass (timed), the change undone.
Before every timed step: sync, caches dropped (root). Wall time from the
clock, CPU (user + sys, children included) from GNU time.

  --files N       files in the postoffice (default 100000)
  --runs N        runs (default 3, at least 1)
  --change PCT    percent of files changed between the passes (default 1)
  --data DIR      where the host goes (default: a new dir under \$TMPDIR
                  or /tmp); removed at the end unless --keep
  --out DIR       results (default ./bench-staged)
  --pomove PATH   pomove binary (default: \$POMOVE_BIN, build/gcc, PATH)
  --fs MODE       where the host lives: auto (default: journaled as root
                  with loop devices, else data), journaled (ext4 with a
                  journal, or XFS), nojournal (ext4 without one), data
                  (in --data, no fresh file system)
  --keep          keep the data directory
  --help          this text

Exit codes: 0 done; 1 a timed command failed or a check failed; 2 usage
or setup error.
EOF
}

files=100000 runs=3 pct=1 data="" out=./bench-staged keep=0 pomove_opt="" fs_mode=auto
while [ $# -gt 0 ]; do
  case $1 in
  --files) files=${2:?}; shift ;;
  --runs) runs=${2:?}; shift ;;
  --change) pct=${2:?}; shift ;;
  --data) data=${2:?}; shift ;;
  --out) out=${2:?}; shift ;;
  --pomove) pomove_opt=${2:?}; shift ;;
  --fs) fs_mode=${2:?}; shift ;;
  --keep) keep=1 ;;
  --help | -h) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
  shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || bench_die "--runs needs a positive number"
[[ $files =~ ^[1-9][0-9]*$ ]] || bench_die "--files needs a positive number"
[[ $pct =~ ^[0-9]+$ ]] && [ "$pct" -ge 1 ] && [ "$pct" -le 100 ] ||
  bench_die "--change needs a percentage from 1 to 100"
if bench_can_drop_caches; then BENCH_DROP=1; fi
bench_find_pomove "$pomove_opt"
bench_pomove_has stage || bench_die "$POMOVE has no 'stage' command"
bench_pomove_has copy --delete || bench_die "$POMOVE copy has no --delete"
command -v rsync >/dev/null || bench_die "rsync is needed"
# A journaled file system by default: every run removes and re-creates a
# tree of 100,000 files on it, and ext4 without a journal would make the
# next allocation step past every inode freed in the last minute (see
# bench/README-part.md); a server's NTFS has no such window either.
if [ "$fs_mode" = auto ]; then
  if bench_fs_usable; then fs_mode=journaled; else fs_mode=data; fi
fi

bench_data_dir staged
mkdir -p "$out" || bench_die "cannot create $out"
out=$(cd "$out" && pwd)
BENCH_LOG=$out/runs.log
: >"$BENCH_LOG"
tsv=$out/runs.tsv
printf 'run\tstep\ttool\twall_s\tuser_s\tsys_s\tdowntime_s\tcopy_s\tcopied\tservices_s\n' >"$tsv"

root="" host="" po="" peer="" stash=""
set_paths() {
  host=$root/host
  po=$host/drives/C/exchsrvr/Connect/Msmcon
  peer=$root/peer-dst
  stash=$root/change-stash
}

# Ends the simulated services of the host this script created: the pids
# sim-create and rollback wrote to services.txt, each a process this run
# started. They also end by themselves once their line or the host goes.
stop_services() {
  [ -f "$host/services.txt" ] || return 0
  local pid
  for pid in $(awk -F'\t' '$3 > 0 { print $3 }' "$host/services.txt"); do
    kill -TERM "$pid" 2>/dev/null
  done
  awk -F'\t' -v OFS='\t' '$3 > 0 { $2 = "stopped"; $3 = 0; $4 = 0 } { print }' \
    "$host/services.txt" >"$host/services.txt.new" &&
    mv "$host/services.txt.new" "$host/services.txt"
}

remove_host() {
  [ -n "$host" ] || return 0
  stop_services
  bench_rm "$host"
  bench_rm "$peer"
  rm -f "$peer".xxh128 "$peer".pomove-state "$peer".pomove-journal "$peer".pomove-lock
  rm -rf "$stash"
}

cleanup() {
  remove_host
  bench_fs_teardown
  if [ "$keep" = 0 ] && [ "$made_data" = 1 ]; then rm -rf "$data"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bench_fs_init "$fs_mode" "$data"
if [ "$BENCH_FS" = data ]; then
  root=$data
else
  # The host's C: holds the postoffice and D: one copy of it at a time
  # (the move's, the stage's or a peer's), with the state files beside:
  # room for three times the tree (30 KiB a file on average) and inodes
  # for three times its files.
  BENCH_FS_BYTES=$((files * 30720 * 3 + (1 << 30)))
  BENCH_FS_INODES=$((files * 3 + 20000))
  root=$BENCH_FS_MNT
fi
set_paths

failed=0
fail() {
  echo "staged_move: $*" >&2
  echo "## FAILED: $*" >>"$BENCH_LOG"
  failed=1
}

# The known state before a timed step: dirty pages written, caches dropped.
before_timed() {
  sync
  [ "$BENCH_DROP" = 1 ] && echo 3 >/proc/sys/vm/drop_caches
  return 0
}

# row STEP TOOL DOWNTIME COPY COPIED SERVICES: one line of runs.tsv from
# BT_* (SERVICES: the downtime's stopping and starting of services).
row() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$1" "$2" "$BT_WALL" \
    "$BT_USER" "$BT_SYS" "$3" "$4" "$5" "${6:-}" >>"$tsv"
  printf '  %-14s %-22s %8ss  cpu %6ss  %s\n' "$1" "$2" "$BT_WALL" \
    "$(awk -v u="$BT_USER" -v s="$BT_SYS" 'BEGIN { printf "%.2f", u + s }')" \
    "${3:+downtime ${3}s (copy ${4}s, ${5} files copied)}"
}

# json_num FILE OBJECT KEY: a number from the one-line JSON of `--json`.
json_num() {
  grep -o "\"$2\":{[^}]*}" "$1" | grep -o "\"$3\":[0-9.]*" | head -n 1 | cut -d: -f2
}

hostspec() { echo "sim:$host"; }

# timed_move STEP: `pomove move --json`, its downtime and copy figures.
timed_move() {
  local j=$out/move-$run-$1.json
  before_timed
  bench_time "'$POMOVE' move --host '$(hostspec)' --from 'C:\\exchsrvr' --to 'D:' --json -q >'$j'" "$BENCH_LOG"
  if [ "$BT_RC" != 0 ]; then
    fail "run $run: $1: pomove move exited $BT_RC (see $BENCH_LOG)"
    return 1
  fi
  local dt cp n stop start
  dt=$(json_num "$j" downtime seconds) cp=$(json_num "$j" downtime copy)
  stop=$(json_num "$j" downtime stopping) start=$(json_num "$j" downtime starting)
  n=$(json_num "$j" copy copied)
  if [ -z "$dt" ] || [ -z "$cp" ] || [ -z "$n" ] || [ -z "$stop" ] || [ -z "$start" ]; then
    fail "run $run: $1: no downtime in $j"
    return 1
  fi
  row "$1" pomove-move "$dt" "$cp" "$n" "$(awk -v a="$stop" -v b="$start" 'BEGIN { printf "%.3f", a + b }')"
}

rollback() {
  "$POMOVE" rollback --host "$(hostspec)" --remove-copy -q >>"$BENCH_LOG" 2>&1 ||
    fail "run $run: rollback --remove-copy failed"
}

change() {
  local r
  r=$(bash "$BENCH_DIR/change_tree.sh" apply "$po" "$run" "$pct" "$stash" 2>>"$BENCH_LOG") ||
    { fail "run $run: change_tree apply failed"; return 1; }
  echo "## run $run: change: $r" >>"$BENCH_LOG"
  CHANGE=$r
}

unchange() {
  bash "$BENCH_DIR/change_tree.sh" revert "$po" "$stash" 2>>"$BENCH_LOG" ||
    fail "run $run: change_tree revert failed"
}

count_files() { find "$1" -type f | wc -l; }

# The delta pass of one peer: first pass (untimed), change, second pass
# (timed), check, change undone, DST removed.
delta() {
  local tool=$1 first second
  bench_rm "$peer"
  rm -f "$peer".xxh128 "$peer".pomove-state "$peer".pomove-journal
  case $tool in
  rsync-a-delete+sync)
    first="rsync -a '$po/' '$peer/'"
    second="rsync -a --delete '$po/' '$peer/' && sync -f '$peer'" ;;
  cp-au+sync)
    first="cp -a '$po' '$peer'"
    second="cp -au '$po/.' '$peer/' && sync -f '$peer'" ;;
  pomove-update-delete)
    first="'$POMOVE' copy -q '$po' '$peer'"
    second="'$POMOVE' copy --update --delete -q '$po' '$peer'" ;;
  esac
  echo "## run $run: $tool: first pass: $first" >>"$BENCH_LOG"
  bash -c "$first" >>"$BENCH_LOG" 2>&1 || { fail "run $run: $tool: first pass failed"; return 1; }
  change || return 1
  local want=$(($(count_files "$po")))
  # cp -au does not remove what SRC no longer has.
  if [ "$tool" = cp-au+sync ]; then
    want=$((want + $(grep -o 'deleted [0-9]*' <<<"$CHANGE" | cut -d' ' -f2)))
  fi
  before_timed
  echo "## run $run: $tool: second pass: $second" >>"$BENCH_LOG"
  bench_time "$second" "$BENCH_LOG"
  if [ "$BT_RC" != 0 ]; then
    fail "run $run: $tool: second pass exited $BT_RC"
  else
    local got
    got=$(count_files "$peer")
    [ "$got" = "$want" ] || fail "run $run: $tool: DST has $got files, expected $want"
    # The changed files are there with the new contents (spot check of
    # every one: cmp of the files the change touched).
    local rel
    while IFS= read -r rel; do
      cmp -s "$po/$rel" "$peer/$rel" || fail "run $run: $tool: $rel differs after the pass"
    done < <(cd "$po" && find . -type f -newer "$stash/dirtime" -printf '%P\n')
    row delta "$tool" "" "" ""
  fi
  unchange
}

echo "pomove $("$POMOVE" --version 2>/dev/null | head -n 1) at $POMOVE"
echo "$files files, $runs runs, ${pct}% changed; host on: $BENCH_FS_TYPE ($BENCH_FS); caches $([ "$BENCH_DROP" = 1 ] && echo dropped || echo "not dropped (not root)") before every timed step"
{
  echo "# staged_move.sh $(date -u +%FT%TZ): files=$files runs=$runs change=$pct% fs=$BENCH_FS ($BENCH_FS_TYPE) drop=$BENCH_DROP"
  echo "# pomove: $POMOVE"
} >>"$BENCH_LOG"

for ((run = 1; run <= runs; run++)); do
  echo "run $run/$runs"
  remove_host
  if [ "$BENCH_FS" != data ]; then
    bench_fresh_dst "$root" # a new file system for the whole host
  fi
  t0=$EPOCHREALTIME
  "$POMOVE" sim-create "$host" --files "$files" --seed "$run" -q >>"$BENCH_LOG" 2>&1 ||
    { fail "run $run: sim-create failed"; break; }
  echo "## run $run: sim-create took $(((${EPOCHREALTIME/./} - ${t0/./}) / 1000)) ms" >>"$BENCH_LOG"

  # (a) the move without a stage.
  timed_move unstaged && rollback

  # (b) stage while the services run, change ~1%, move.
  before_timed
  bench_time "'$POMOVE' stage --host '$(hostspec)' --from 'C:\\exchsrvr' --to 'D:' -q" "$BENCH_LOG"
  if [ "$BT_RC" != 0 ]; then
    fail "run $run: stage exited $BT_RC"
  else
    row stage pomove-stage "" "" ""
    if change; then
      timed_move staged && rollback
      "$POMOVE" stage --host "$(hostspec)" --discard -q >>"$BENCH_LOG" 2>&1 # nothing left after --remove-copy
      unchange
    fi
  fi

  # (c) the delta pass alone, against the peers, on a quiet source.
  stop_services
  for tool in $(bench_order "$run" rsync-a-delete+sync cp-au+sync pomove-update-delete); do
    delta "$tool"
  done
done

# ---- summary ----
# stats STEP TOOL COLUMN: "median min max" of a column for one step/tool.
stats() {
  awk -F'\t' -v s="$1" -v t="$2" -v c="$3" 'NR > 1 && $2 == s && $3 == t { print $c }' "$tsv" | bench_stats
}
cpu() {
  awk -F'\t' -v s="$1" -v t="$2" 'NR > 1 && $2 == s && $3 == t { print $5 + $6 }' "$tsv" | bench_stats | cut -d' ' -f1
}
nruns() { awk -F'\t' -v s="$1" -v t="$2" 'NR > 1 && $2 == s && $3 == t' "$tsv" | wc -l; }
line() { # label median min max
  awk -v l="$1" -v m="$2" -v a="$3" -v b="$4" -v c="$5" -v n="$6" 'BEGIN {
    sp = (m > 0) ? 100 * (b - a) / m : 0
    cs = (c == "") ? "" : sprintf("%.2f", c)
    printf "| %s | %.3f | %.3f - %.3f | %.0f%% | %s | %d |\n", l, m, a, b, sp, cs, n }'
}
{
  echo "# Staged move: downtime and delta pass"
  echo
  echo "$files files, ${pct}% changed between the passes, $runs runs; host on $BENCH_FS_TYPE ($BENCH_FS mode); caches $([ "$BENCH_DROP" = 1 ] && echo dropped || echo "not dropped") before every timed step. pomove: $POMOVE. Machine: $(uname -n), $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r). $(date -u +%FT%TZ)."
  echo
  echo "| measure | median s | min - max s | spread | CPU s (median) | runs |"
  echo "|---|---:|---:|---:|---:|---:|"
  for st in unstaged staged; do
    lab="move without a stage" && [ $st = staged ] && lab="move after a stage"
    read -r m a b < <(stats $st pomove-move 7)
    line "downtime, $lab" "$m" "$a" "$b" "$(cpu $st pomove-move)" "$(nruns $st pomove-move)"
    read -r m a b < <(stats $st pomove-move 8)
    line "  of which the copy$([ $st = staged ] && echo " (final delta pass)")" "$m" "$a" "$b" "" "$(nruns $st pomove-move)"
    read -r m a b < <(stats $st pomove-move 10)
    line "  of which stopping and starting services" "$m" "$a" "$b" "" "$(nruns $st pomove-move)"
    read -r m a b < <(awk -F'\t' -v s=$st 'NR > 1 && $2 == s && $3 == "pomove-move" { print $7 - $10 }' "$tsv" | bench_stats)
    line "  downtime without stopping and starting services" "$m" "$a" "$b" "" "$(nruns $st pomove-move)"
  done
  read -r m a b < <(stats stage pomove-stage 4)
  line "the stage (services running; wall time)" "$m" "$a" "$b" "$(cpu stage pomove-stage)" "$(nruns stage pomove-stage)"
  for t in pomove-update-delete rsync-a-delete+sync cp-au+sync; do
    read -r m a b < <(stats delta "$t" 4)
    line "delta pass: $t (wall time)" "$m" "$a" "$b" "$(cpu delta "$t")" "$(nruns delta "$t")"
  done
  echo
  read -r dt_un _ < <(stats unstaged pomove-move 7)
  read -r dt_st _ < <(stats staged pomove-move 7)
  read -r ns_un _ < <(awk -F'\t' 'NR > 1 && $2 == "unstaged" && $3 == "pomove-move" { print $7 - $10 }' "$tsv" | bench_stats)
  read -r ns_st _ < <(awk -F'\t' 'NR > 1 && $2 == "staged" && $3 == "pomove-move" { print $7 - $10 }' "$tsv" | bench_stats)
  read -r dp _ < <(stats delta pomove-update-delete 4)
  read -r dr _ < <(stats delta rsync-a-delete+sync 4)
  read -r dc _ < <(stats delta cp-au+sync 4)
  awk -v u="$dt_un" -v s="$dt_st" -v nu="$ns_un" -v ns="$ns_st" -v p="$dp" -v r="$dr" -v c="$dc" 'BEGIN {
    if (u > 0 && s > 0) printf "- downtime staged / unstaged: %.3f (target at most 0.100: %s)\n", s / u, (s / u <= 0.1) ? "met" : "missed"
    if (nu > 0 && ns > 0) printf "- the same without stopping and starting services: %.3f\n", ns / nu
    if (p > 0 && r > 0) printf "- delta pass: rsync -a --delete second pass / pomove copy --update --delete: %.2fx (target at least 2x: %s)\n", r / p, (r / p >= 2) ? "met" : "missed"
    if (p > 0 && c > 0) printf "- delta pass: cp -au second pass / pomove copy --update --delete: %.2fx\n", c / p
  }'
} >"$out/results.md"
echo
cat "$out/results.md"
[ "$failed" = 0 ] || exit 1
exit 0
