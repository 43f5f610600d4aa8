#!/usr/bin/env bash
# wine_copy_cost.sh - what one `pomove.exe copy` of a tree costs under
# Wine, measured so that a loaded machine does not blur it: the CPU time
# (user+sys) of the pomove.exe process tree and of the Wine processes
# that serve it (wineserver, winedevice.exe), the wall time, and (with --strace) the Unix system calls the
# client makes (each NtCreateFile of a file is an openat there, so a
# reopen of a file by path shows in that count). Several executables are
# run alternately, each into a new DST, and the medians printed.
#
#   bench/wine_copy_cost.sh [--runs N] [--strace] SRC EXE...
#
# SRC: a tree (e.g. `pomove gen-postoffice DIR --files 5000`). EXE:
# pomove.exe builds to compare (e.g. one from main, one from a branch).
# The Wine prefix is made once under $WORK (default /tmp/pomove-wcc).
# Not a test: nothing here asserts a time.
set -uo pipefail
runs=5 do_strace=0
while [ $# -gt 0 ]; do
  case $1 in
  --runs) runs=$2; shift 2 ;;
  --strace) do_strace=1; shift ;;
  *) break ;;
  esac
done
[ $# -ge 2 ] || { echo "usage: $0 [--runs N] [--strace] SRC EXE..." >&2; exit 2; }
src=$(realpath "$1"); shift
WINE=/usr/lib/wine/wine64 SERVER=/usr/lib/wine/wineserver
work=${WORK:-/tmp/pomove-wcc}
mkdir -p "$work"
export WINEPREFIX=$work/prefix WINEDEBUG=-all WINEARCH=win64
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
unset DISPLAY WAYLAND_DISPLAY
if [ ! -e "$WINEPREFIX/.ready" ]; then
  "$WINE" wineboot --init </dev/null >/dev/null 2>&1
  "$SERVER" -w
  touch "$WINEPREFIX/.ready"
fi
"$SERVER" -p </dev/null >/dev/null 2>&1
"$WINE" wineboot </dev/null >/dev/null 2>&1
trap '"$SERVER" -k </dev/null >/dev/null 2>&1' EXIT
ticks=$(getconf CLK_TCK)
# The CPU time (utime+stime, in ticks) of the processes that serve this
# prefix and outlive a run: wineserver, and winedevice.exe, which answers
# the mount manager's ioctls (every volume query of a file). Found by the
# WINEPREFIX in their environment (wineserver's own is the launcher's).
server_cpu() {
  local t=0 p
  for p in /proc/[0-9]*; do
    { tr '\0' '\n' <"$p/environ" | grep -qx "WINEPREFIX=$WINEPREFIX"; } \
      2>/dev/null || continue
    t=$((t + $(awk '{print $14 + $15}' "$p/stat" 2>/dev/null || echo 0)))
  done
  echo $t
}

out=$work/results.tsv
printf 'exe\trun\twall_s\tclient_cpu_s\tserver_cpu_s\topenat\n' >"$out"
for r in $(seq 1 "$runs"); do
  for exe in "$@"; do
    dst=$work/dst
    rm -rf "$dst" "$dst".xxh128 "$dst".pomove-*
    sync
    s0=$(server_cpu)
    t0=$(date +%s.%N)
    if [ $do_strace = 1 ]; then
      strace -f -c -o "$work/strace.txt" /usr/bin/time -f '%U %S' -o "$work/time.txt" \
        "$WINE" "$exe" copy -q "Z:$src" "Z:$dst" </dev/null >/dev/null 2>"$work/err.txt"
    else
      /usr/bin/time -f '%U %S' -o "$work/time.txt" \
        "$WINE" "$exe" copy -q "Z:$src" "Z:$dst" </dev/null >/dev/null 2>"$work/err.txt"
    fi
    rc=$?
    t1=$(date +%s.%N)
    s1=$(server_cpu)
    [ $rc -eq 0 ] || { echo "$exe exited $rc:" >&2; tail -3 "$work/err.txt" >&2; }
    n=$(find "$dst" -type f | wc -l)
    want=$(find "$src" -type f | wc -l)
    [ "$n" = "$want" ] || echo "$exe: $n files copied, $want in SRC" >&2
    cpu=$(tail -1 "$work/time.txt" | awk '{print $1 + $2}')
    opens=-
    [ $do_strace = 1 ] && opens=$(awk '$NF == "openat" {print $4}' "$work/strace.txt")
    printf '%s\t%d\t%.2f\t%.2f\t%.2f\t%s\n' "$exe" "$r" "$(echo "$t1 - $t0" | bc)" \
      "$cpu" "$(echo "($s1 - $s0) / $ticks" | bc -l)" "$opens" | tee -a "$out"
  done
done
echo "medians (wall, client CPU, server CPU, openat):"
for exe in "$@"; do
  printf '%s' "$exe"
  for col in 3 4 5 6; do
    awk -F'\t' -v e="$exe" -v c=$col '$1 == e {print $c}' "$out" | sort -n |
      awk '{v[NR] = $1} END {printf "\t%s", NR ? v[int((NR + 1) / 2)] : "-"}'
  done
  echo
done
