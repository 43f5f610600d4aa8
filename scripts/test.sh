#!/usr/bin/env bash
# The test command (README, .ci/run): on a fresh Debian 12 machine, as
# root, installs the packages, builds pomove with gcc and with clang
# (warnings are errors), and runs every test through CTest: plain, under
# ASan+UBSan, the threaded tests under TSan, and a short smoke run of each
# libFuzzer harness (tests/fuzz/; scripts/fuzz.sh runs them for longer).
# It also cross-builds pomove.exe for Windows (i686 and x86_64, mingw-w64,
# warnings are errors), checks that each imports only what Windows 2000
# has (scripts/win-imports.sh), and runs the Windows builds' tests
# (tests/platform) under Wine (scripts/wine-run.sh).
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
build fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPOMOVE_FUZZ=ON -DPOMOVE_FUZZ_SMOKE_SECONDS=25

status=0
# The Windows builds: every file outside platform/'s Linux and simulator
# backends, with the Win32 backend (platform/win32/), and the portable
# tests (tests/platform, run under Wine below).
# A failure fails the test command, after the other tests have run.
for arch in i686 x86_64; do
  echo "== build win-$arch (mingw-w64)" >&2
  # POMOVE_TESTS=ON: build folders made before the Windows tests existed
  # have it cached OFF.
  if cmake -S . -B "build/win-$arch" -DCMAKE_BUILD_TYPE=Release \
       -DCMAKE_TOOLCHAIN_FILE="cmake/toolchain-mingw-$arch.cmake" \
       -DPOMOVE_TESTS=ON >/dev/null &&
     cmake --build "build/win-$arch" -j"$jobs" >/dev/null; then
    scripts/win-imports.sh "win-$arch" "build/win-$arch/orchestrate/pomove.exe" \
      "$arch-w64-mingw32-objdump" "$arch" || status=1
  else
    echo "win-$arch: pomove.exe or its tests do not build" >&2
    status=1
  fi
done
# The Windows builds' tests under Wine: x86_64 under wine64; i686 needs
# wine32, which scripts/deps.sh does not install (README says why).
for arch in x86_64 i686; do
  [ -e "build/win-$arch/CTestTestfile.cmake" ] || continue
  loader=/usr/lib/wine/wine64
  [ "$arch" = i686 ] && loader=/usr/lib/wine/wine
  if [ ! -x "$loader" ]; then
    echo "== win-$arch tests: not run, $loader is missing (no wine32)" >&2
    continue
  fi
  echo "== tests (win-$arch under Wine)" >&2
  ctest --test-dir "build/win-$arch" --output-on-failure -j"$jobs" ||
    status=1
done
# The deliverable: pomove-<version>-windows.zip in build/dist (both
# programs, statically linked, README-Windows.txt; scripts/win-zip.sh).
echo "== Windows zip" >&2
scripts/win-zip.sh || status=1
echo "== tests (gcc build)" >&2
ctest --test-dir build/gcc --output-on-failure -j"$jobs" || status=1
# The wine label (pomove.exe under wine64, tests/wine) runs once, above:
# the Linux program there is only the oracle.
echo "== tests (ASan+UBSan build)" >&2
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j"$jobs" -LE wine || status=1
echo "== threaded tests (TSan build)" >&2
# TSan of clang 14 cannot map its shadow with the high mmap entropy of
# recent kernels: run it without address randomisation.
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  setarch "$(uname -m)" -R ctest --test-dir build/tsan --output-on-failure \
  -L threaded -j"$jobs" || status=1
echo "== fuzz smoke (25 s per harness, two at a time)" >&2
# Two at a time whatever nproc says: five harnesses stay within about
# 80 s, and a finding is a failed test whose input is in
# build/fuzz/tests/fuzz/smoke/<harness>/crash-*.
ctest --test-dir build/fuzz --output-on-failure -L fuzz -j2 || status=1
exit $status
