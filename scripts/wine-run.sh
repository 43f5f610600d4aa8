#!/usr/bin/env bash
# Runs a Windows test executable under Wine, for CTest (the Windows
# builds' CMAKE_CROSSCOMPILING_EMULATOR, tests/CMakeLists.txt):
#   wine-run.sh --prefix DIR --arch x86_64|i686 PROG.exe [ARG...]
#   wine-run.sh --prefix DIR --arch x86_64|i686 --init | --stop
# - its own WINEPREFIX (DIR, under the build folder), made once: the first
#   start takes a lock, so parallel first starts do not race;
# - --init (CTest's setup fixture "wine") also starts the prefix's server
#   and Wine's own background processes (services.exe, winedevice ...)
#   with no standard streams. Started by a test instead, they would hold
#   CTest's output pipe open and CTest would wait for them, seconds per
#   test; --stop (the cleanup fixture) ends them (wineserver -k);
# - WINEDEBUG=-all; no display (DISPLAY unset: Wine falls back to its
#   null driver); mscoree and mshtml disabled, so no Mono or Gecko
#   installer dialog;
# - wine64 for x86_64; for i686 the 32-bit loader of wine32 (i386
#   multiarch), or exit 77 (skipped) when it is not installed;
# - the program's exit status is passed through (77 = skipped included).
set -uo pipefail
prefix="" arch=x86_64 init=0 stop=0
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    --init) init=1; shift ;;
    --stop) stop=1; shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ -n "$prefix" ] || { echo "wine-run.sh: --prefix DIR is needed" >&2; exit 2; }

case $arch in
  x86_64) loader=/usr/lib/wine/wine64 ;;
  i686|x86) loader=/usr/lib/wine/wine ;;
  *) echo "wine-run.sh: unknown --arch $arch" >&2; exit 2 ;;
esac
if [ ! -x "$loader" ]; then
  if [ "$arch" = x86_64 ]; then
    echo "wine-run.sh: $loader missing: install wine64 (scripts/deps.sh)" >&2
  else
    echo "wine-run.sh: $loader missing: i686 Windows tests need wine32" \
         "(i386 multiarch, scripts/deps.sh); skipped" >&2
  fi
  exit 77
fi

export WINEPREFIX=$prefix
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
# A 64-bit prefix serves both loaders (WoW64); one prefix per build
# folder anyway.
unset DISPLAY WAYLAND_DISPLAY
# Wine keeps its server and prefix state under these; the tests' own
# temporary files go to the prefix's %TEMP%.
export WINEARCH=win64

# Makes the prefix once. The lock file sits beside the prefix; the
# finished mark is written last, so a prefix whose creation was
# interrupted is made again.
make_prefix() {
  mkdir -p "$(dirname "$prefix")"
  exec 9>"$prefix.lock"
  flock 9
  if [ ! -e "$prefix/.pomove-ready" ]; then
    rm -rf "$prefix"
    # wineboot --init makes the prefix (its server inherits the log
    # file, not a pipe of CTest's); wineserver -w waits until it is
    # written out.
    if ! "$loader" wineboot --init </dev/null >"$prefix.log" 2>&1; then
      echo "wine-run.sh: wineboot --init failed (see $prefix.log)" >&2
      flock -u 9
      return 1
    fi
    /usr/lib/wine/wineserver -w </dev/null >/dev/null 2>&1 || true
    touch "$prefix/.pomove-ready"
  fi
  flock -u 9
  exec 9>&-
}

if [ $stop = 1 ]; then
  [ -d "$prefix" ] && /usr/lib/wine/wineserver -k </dev/null >/dev/null 2>&1
  exit 0
fi
make_prefix || exit 1
# The server lingers 60 s after the last program (a wineserver already
# running for the prefix is left as it is); its background processes
# start with it, here, away from the caller's streams.
/usr/lib/wine/wineserver -p60 </dev/null >/dev/null 2>&1 || true
if [ $init = 1 ]; then
  "$loader" wineboot </dev/null >>"$prefix.log" 2>&1
  exit 0
fi
[ $# -gt 0 ] || { echo "wine-run.sh: no program given" >&2; exit 2; }
exec "$loader" "$@"
