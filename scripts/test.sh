#!/usr/bin/env bash
# The test command (README, .ci/run): on a fresh Debian 12 machine, as
# root, installs the packages, builds pomove with gcc and with clang
# (warnings are errors), and runs every test through CTest: plain, under
# ASan+UBSan, and the threaded tests under TSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)

build() {
  local name=$1
  shift
  echo "== build $name" >&2
  cmake -S . -B "build/$name" "$@" >/dev/null
  cmake --build "build/$name" -j"$jobs" >/dev/null
}

build gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release
build clang -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo
build asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DPOMOVE_SANITIZE=address,undefined
build tsan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DPOMOVE_SANITIZE=thread

status=0
echo "== tests (gcc build)" >&2
ctest --test-dir build/gcc --output-on-failure -j"$jobs" || status=1
echo "== tests (ASan+UBSan build)" >&2
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j"$jobs" || status=1
echo "== threaded tests (TSan build)" >&2
# TSan of clang 14 cannot map its shadow with the high mmap entropy of
# recent kernels: run it without address randomisation.
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  setarch "$(uname -m)" -R ctest --test-dir build/tsan --output-on-failure \
  -L threaded -j"$jobs" || status=1
exit $status
