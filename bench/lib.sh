# lib.sh - shell helpers shared by bench/run.sh and bench/copy_vs_cp.sh:
# finding pomove and what it can do, timing a command (wall clock, CPU,
# peak RSS), warming and dropping the page cache, medians. Sourced, not
# run. Needs bash 5 (EPOCHREALTIME) and awk; GNU time (Debian package
# `time`) for CPU and peak RSS.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_REPO=$(cd "$BENCH_DIR/.." && pwd)

bench_die() {
  echo "bench: $*" >&2
  exit 2
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
# runs). `cat` and not `tar cf /dev/null`: GNU tar skips reading when the
# archive is /dev/null.
bench_warm() {
  (cd "$1" && find . -type f -print0 | xargs -0 -r cat >/dev/null)
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
