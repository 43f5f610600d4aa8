#!/usr/bin/env bash
# wine_server_calls.sh - the wineserver requests one `pomove.exe copy` of
# a tree makes, by name (wineserver -d2), the most frequent first: a
# count that a loaded machine does not blur. A reopen of a file shows as
# open_file_object; a volume query (GetFileInformationByHandle's serial,
# NtQueryVolumeInformationFile) as open_file_object + ioctl to the mount
# manager and a dozen requests more. Use a small tree (a few hundred
# files): the trace is about 1000 lines per file.
#
#   bench/wine_server_calls.sh EXE SRC      (WORK: default /tmp/pomove-wsc)
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: $0 EXE SRC" >&2; exit 2; }
exe=$(realpath "$1") src=$(realpath "$2")
work=${WORK:-/tmp/pomove-wsc}
mkdir -p "$work"
export WINEPREFIX=$work/prefix WINEARCH=win64 WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
unset DISPLAY WAYLAND_DISPLAY
SERVER=/usr/lib/wine/wineserver WINE=/usr/lib/wine/wine64
log=$work/server.log dst=$work/dst
"$SERVER" -k </dev/null >/dev/null 2>&1
sleep 1
rm -rf "$dst" "$dst".* "$log"
("$SERVER" -p -f -d2 </dev/null >/dev/null 2>>"$log" &)
sleep 1
"$WINE" wineboot </dev/null >/dev/null 2>&1
echo MARK >>"$log"
"$WINE" "$exe" copy -q "Z:$src" "Z:$dst" </dev/null >/dev/null 2>&1
echo "copy exited $?" >&2
sleep 1
"$SERVER" -k </dev/null >/dev/null 2>&1
sed -n '/^MARK/,$p' "$log" |
  awk '$1 ~ /^[0-9a-f]+:$/ && $2 ~ /\($/ {sub(/\(.*/, "", $2); n[$2]++; t++}
       END {printf "%d requests\n", t; for (k in n) printf "%8d %s\n", n[k], k}' |
  sort -k1,1nr | head -20
