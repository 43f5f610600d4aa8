#!/usr/bin/env bash
# fuzz.sh - builds the fuzz configuration (build/fuzz: clang, libFuzzer,
# ASan+UBSan, -DPOMOVE_FUZZ=ON) and runs the harnesses of tests/fuzz/ for
# as long as asked, as many side by side as there are processors. Each
# keeps its corpus in build/fuzz/corpus/<harness>/ (started from the
# seeds in tests/fuzz/corpus/<harness>/ and growing from run to run), its
# log in build/fuzz/logs/<harness>.log, and the inputs of any crash,
# leak, timeout or broken invariant of the last run in
# build/fuzz/crashes/<harness>/.
#
# usage: scripts/fuzz.sh [--time SECONDS] [--keep-going] [HARNESS...]
#   --time SECONDS  how long each harness runs (default 600)
#   --keep-going    go on after a finding (libFuzzer -fork=1
#                   -ignore_crashes=1), to collect several in one run
#   HARNESS         manifest copy_journal regfile plan step_journal
#                   (default: all)
# Exit status: 0 nothing found, 1 something found (see the crash files),
# 2 usage error. POMOVE_FUZZ_JOBS=N runs N harnesses side by side instead
# of one per processor. Reproduce a finding with
#   build/fuzz/tests/fuzz/fuzz_<harness> build/fuzz/crashes/<harness>/<file>
set -euo pipefail
cd "$(dirname "$0")/.."
all=(manifest copy_journal regfile plan step_journal)
seconds=600
keep=0
harnesses=()
while (($#)); do
  case $1 in
    --time) seconds=${2:?--time needs seconds}; shift 2 ;;
    --time=*) seconds=${1#--time=}; shift ;;
    --keep-going) keep=1; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) harnesses+=("$1"); shift ;;
  esac
done
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] ||
  { echo "fuzz.sh: --time takes a number of seconds" >&2; exit 2; }
((${#harnesses[@]})) || harnesses=("${all[@]}")
for h in "${harnesses[@]}"; do
  [[ " ${all[*]} " == *" $h "* ]] ||
    { echo "fuzz.sh: no harness '$h' (${all[*]})" >&2; exit 2; }
done
command -v clang >/dev/null ||
  { echo "fuzz.sh: clang is missing (scripts/deps.sh installs it)" >&2; exit 2; }

jobs=${POMOVE_FUZZ_JOBS:-$(nproc)}
b=build/fuzz
echo "== build $b" >&2
cmake -S . -B $b -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPOMOVE_FUZZ=ON >/dev/null
cmake --build $b -j"$jobs" >/dev/null

run() {
  local h=$1
  # The crash folder holds this run's findings only.
  rm -rf "${b:?}/crashes/$h"
  mkdir -p "$b/corpus/$h" "$b/crashes/$h" "$b/logs"
  # New seeds join the corpus; what the corpus learnt stays.
  cp -n tests/fuzz/corpus/"$h"/* "$b/corpus/$h/"
  local extra=()
  ((keep)) && extra=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$b/tests/fuzz/fuzz_$h" -max_total_time="$seconds" -timeout=20 \
    -rss_limit_mb=2048 -print_final_stats=1 "${extra[@]}" \
    -artifact_prefix="$b/crashes/$h/" "$b/corpus/$h" >"$b/logs/$h.log" 2>&1
}

echo "== fuzzing ${harnesses[*]} for ${seconds}s each, $jobs at a time" >&2
running=0
for h in "${harnesses[@]}"; do
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
  run "$h" &
  running=$((running + 1))
done
wait || true

status=0
printf '%-14s %12s %8s  %s\n' harness execs corpus findings
for h in "${harnesses[@]}"; do
  log=$b/logs/$h.log
  # One process reports stat::number_of_executed_units; with --keep-going
  # the fork runs report their total on the last "#N" status line.
  execs=$(grep -ao 'stat::number_of_executed_units: [0-9]*' "$log" |
    tail -1 | awk '{print $2}' || true)
  [[ -n $execs ]] ||
    execs=$(grep -ao '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true)
  n=$(find "$b/corpus/$h" -type f | wc -l)
  mapfile -t found < <(find "$b/crashes/$h" -type f | sort)
  printf '%-14s %12s %8s  %s\n' "$h" "${execs:-?}" "$n" "${#found[@]}"
  for f in "${found[@]}"; do
    echo "    $f"
    status=1
  done
  # What broke, once per kind.
  grep -ah -A1 'invariant broken' "$log" | grep -av '^--$' | sort | uniq -c |
    sort -rn | head -12 | sed 's/^/    /' || true
done
exit $status
