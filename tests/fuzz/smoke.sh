#!/bin/sh
# smoke.sh - the CTest smoke run of one fuzz harness (tests/fuzz/
# CMakeLists.txt): copies the seed corpus to a fresh work folder (the
# corpus in the tree is never changed by a run), fuzzes for SECONDS, and
# fails when libFuzzer finds a crash, a leak, a timeout or a broken
# invariant; the input is then in WORK/crash-* (or leak-, timeout-).
# usage: smoke.sh HARNESS SEEDS WORK SECONDS
set -eu
harness=$1 seeds=$2 work=$3 seconds=$4
rm -rf "$work"
mkdir -p "$work/corpus"
cp "$seeds"/* "$work/corpus/"
# Sanitizer reports abort; leaks count; one worker (the test command runs
# two harnesses side by side).
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
exec "$harness" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus"
