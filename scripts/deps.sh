#!/usr/bin/env bash
# Installs what pomove needs to build and test from Debian 12 packages.
# Runs as root (or through sudo). POMOVE_NO_APT=1 skips it.
set -euo pipefail
[ "${POMOVE_NO_APT:-0}" = 1 ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
# libclang-rt-14-dev: the sanitizer and libFuzzer runtimes (only a
# recommendation of clang, so --no-install-recommends would leave it out).
# The mingw-w64 cross compilers of the Windows builds: the -win32 thread
# variant (the -posix one links winpthreads, which does not load on
# Windows 2000), and their binutils for objdump (scripts/win-imports.sh).
# wine and wine64: the x86_64 Windows tests run under wine64
# (scripts/wine-run.sh); 24 packages, about 10 s here. wine32 (i386
# multiarch, for the i686 tests) is not installed: README ("Windows tests
# under Wine") says why.
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev liburing-dev libxxhash-dev
      libcmocka-dev xxhash rsync hashdeep attr acl coreutils findutils
      time gcc-mingw-w64-i686-win32 gcc-mingw-w64-x86-64-win32
      binutils-mingw-w64-i686 binutils-mingw-w64-x86-64 wine wine64)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# apt-get update always runs first, as on a fresh machine; the install is
# quick when everything is already there.
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "pomove: installing ${missing[*]}" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi
