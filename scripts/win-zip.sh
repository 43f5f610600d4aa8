#!/usr/bin/env bash
# Packs the Windows deliverable, pomove-<version>-windows.zip, from the
# two Windows builds that scripts/test.sh makes (build/win-i686,
# build/win-x86_64), into build/dist/. Layout (README, "Windows"):
#
#   pomove-<version>-windows/pomove.exe          i686: the one to use (every
#                                                 Windows from 2000 on, the
#                                                 Exchange 5.5 server included)
#   pomove-<version>-windows/x86_64/pomove.exe   for 64-bit Windows only
#   pomove-<version>-windows/README-Windows.txt  README's "Windows" section,
#                                                 ASCII with CRLF line ends
#                                                 (Notepad of Windows 2000)
#   and the license file, when the repository has one (LICENSE*, COPYING*).
#
# Both programs must be static (no DLL beside them): every DLL they import
# must be one of the system DLLs of platform/win32/imports-win2000.txt, so
# that a libgcc or libwinpthread DLL is caught here by name. The zip is
# made by `cmake -E tar --format=zip`: no zip program needed.
#   scripts/win-zip.sh          prints the path of the zip
set -euo pipefail
cd "$(dirname "$0")/.."
list=platform/win32/imports-win2000.txt
i686=build/win-i686/orchestrate/pomove.exe
x64=build/win-x86_64/orchestrate/pomove.exe

fail() { echo "win-zip: $*" >&2; exit 1; }
for exe in "$i686" "$x64"; do
  [ -f "$exe" ] || fail "$exe does not exist (build it first)"
done

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' build/win-i686/CMakeCache.txt)
[ -n "$version" ] || fail "no CMAKE_PROJECT_VERSION in build/win-i686/CMakeCache.txt"

# Static: only system DLLs.
system_dlls=$(awk '!/^[ \t]*(#|$)/ {print tolower($1) ".dll"}' "$list" | sort -u)
check_dlls() {
  local exe=$1 objdump=$2 dlls bad
  dlls=$("$objdump" -p "$exe" | awk '/DLL Name:/ {print tolower($3)}' | sort -u)
  bad=$(comm -23 <(echo "$dlls") <(echo "$system_dlls"))
  [ -z "$bad" ] || fail "$exe needs DLLs that Windows does not have:" $bad
}
check_dlls "$i686" i686-w64-mingw32-objdump
check_dlls "$x64" x86_64-w64-mingw32-objdump

# README-Windows.txt: README.md from "## Windows" to the next "## ".
name=pomove-$version-windows
stage=build/dist/$name
rm -rf "$stage" "build/dist/$name.zip"
mkdir -p "$stage/x86_64"
cp "$i686" "$stage/pomove.exe"
cp "$x64" "$stage/x86_64/pomove.exe"
text=$(awk '/^## Windows$/ {on = 1} on && /^## / && !/^## Windows$/ {exit} on' README.md)
[ -n "$text" ] || fail "README.md has no \"## Windows\" section"
if LC_ALL=C grep -q '[^ -~]' <<<"$text"; then
  fail "README.md's Windows section is not plain ASCII (Notepad of Windows 2000 would show UTF-8 as mojibake)"
fi
{
  echo "pomove $version for Windows"
  echo
  echo "$text"
} | sed 's/$/\r/' >"$stage/README-Windows.txt"
license=$(ls -d LICENSE* COPYING* 2>/dev/null || true)
for f in $license; do
  cp "$f" "$stage/$f.txt"
  sed -i 's/\r*$/\r/' "$stage/$f.txt"
done

(cd build/dist && cmake -E tar cf "$name.zip" --format=zip "$name")
got=$(cd build/dist && cmake -E tar tf "$name.zip" | grep -v '/$' | sort)
want=$(printf '%s\n' "$name/pomove.exe" "$name/x86_64/pomove.exe" \
  "$name/README-Windows.txt" $(for f in $license; do echo "$name/$f.txt"; done) | sort)
[ "$got" = "$want" ] || fail "the zip holds:"$'\n'"$got"$'\n'"expected:"$'\n'"$want"
echo "build/dist/$name.zip"
