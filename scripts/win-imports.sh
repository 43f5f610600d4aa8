#!/usr/bin/env bash
# Checks that a pomove.exe loads on Windows 2000: every function its
# import table names must be in platform/win32/imports-win2000.txt (the
# DLL, the function and where its minimum Windows version comes from).
# Windows resolves imports when it loads the program, so a single import
# that Windows 2000 lacks (GetTickCount64, InitializeSRWLock ...) stops
# pomove.exe before main(), whatever path the code takes. An import by
# ordinal fails too (nothing to check it against).
#
#   scripts/win-imports.sh NAME EXE OBJDUMP ARCH
#     NAME     label of the build, for the message ("win-i686")
#     EXE      the program to check
#     OBJDUMP  the mingw-w64 objdump of that architecture
#     ARCH     i686 or x86_64: entries marked XPx64 in the list (what
#              mingw-w64's x64 start-up code and libgcc import; every x64
#              Windows has them, Windows 2000 never ran on x64) are
#              allowed in an x86_64 build only.
# Prints one line on success; lists what is not allowed and exits 1.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 NAME EXE OBJDUMP ARCH" >&2; exit 2; }
name=$1 exe=$2 objdump=$3 arch=$4
list="$(dirname "$0")/../platform/win32/imports-win2000.txt"
[ -f "$exe" ] || { echo "$name: $exe does not exist" >&2; exit 1; }
[ -f "$list" ] || { echo "$name: $list does not exist" >&2; exit 1; }

dump=$("$objdump" -p "$exe")

# Windows 2000 refuses an image whose subsystem version is above 5.0.
if [ "$arch" = i686 ]; then
  major=$(awk '/^MajorSubsystemVersion/ {print $2}' <<<"$dump")
  minor=$(awk '/^MinorSubsystemVersion/ {print $2}' <<<"$dump")
  if [ -z "$major" ] || [ "$major" -gt 5 ] ||
     { [ "$major" -eq 5 ] && [ "$minor" -gt 0 ]; }; then
    echo "$name: subsystem version $major.$minor of $exe is above 5.0:" \
         "Windows 2000 will not load it" >&2
    exit 1
  fi
fi

# "dll function" per import, from the import tables only (objdump prints
# "<vma> <hint> <name>" per function under "DLL Name: X.dll"; an import by
# ordinal has no name).
imports=$(awk '
  /^The Import Tables/ { inside = 1; next }
  inside && /^[A-Z]/   { inside = 0 }
  !inside              { next }
  /DLL Name:/          { dll = tolower($3); sub(/\.dll$/, "", dll); next }
  /Member-Name/        { next }
  /^\t[0-9a-f]+\t/ && dll != "" {
    if (NF >= 3) print dll, $3; else print dll, "<ordinal " $2 ">"
  }' <<<"$dump" | sort -u)
[ -n "$imports" ] || { echo "$name: no import table found in $exe" >&2; exit 1; }

# The allowed set: "dll function minimum source...", '#' comments.
allowed=$(awk -v arch="$arch" '
  /^[ \t]*(#|$)/ { next }
  NF < 4 { print "malformed line " NR ": " $0 > "/dev/stderr"; exit 1 }
  $3 == "XPx64" && arch != "x86_64" { next }
  { print tolower($1), $2 }' "$list" | sort -u)

bad=$(comm -23 <(echo "$imports") <(echo "$allowed"))
n=$(wc -l <<<"$imports")
if [ -n "$bad" ]; then
  echo "$name: pomove.exe imports $(wc -l <<<"$bad") function(s) not in" \
       "the Windows 2000 list ($list):" >&2
  sed 's/^/  /' <<<"$bad" >&2
  exit 1
fi
extra=""
if [ "$arch" = x86_64 ]; then
  x=$(awk '$3 == "XPx64" {print tolower($1), $2}' "$list" | sort -u |
      comm -12 - <(echo "$imports") | wc -l)
  [ "$x" -gt 0 ] && extra=" ($x of them x64 start-up entries, XPx64)"
fi
echo "$name: pomove.exe builds, $n imports, all in the Windows 2000 list$extra"
