#!/usr/bin/env bash
# wine_copy.sh - issue 14's figures: the postoffice copy by pomove.exe
# under Wine against the copy tools a Windows administrator has, run
# under the same Wine on the same tree, and against the Linux build.
# These are ratios under Wine, not Windows timings: Wine's file I/O is the
# Linux kernel's behind Wine's server, for every Windows tool alike.
#
# Per run, in a seeded shuffled order (bench_order), each into a new DST,
# sync and caches dropped before each (as root):
#   pomove.exe   wine64 pomove.exe copy -q SRC DST (durable when it returns:
#                Wine has no volume flush, so every file is flushed alone)
#   xcopy        wine64 xcopy.exe SRC DST /E /I /K /H /Q /Y, then sync -f
#   robocopy     wine64 robocopy.exe SRC DST /E /COPY:DAT, then sync -f,
#                when Wine's robocopy is more than a stub (Wine 8.0's
#                prints "robocopy stub" and exits 16: reported, not timed)
#   pomove       the Linux build: pomove copy -q SRC DST (durable)
#   cp           cp -a SRC DST; sync -f (the durable Linux peer)
# Every copy is checked (file count and bytes against SRC; the first run
# also diff -r). Not a test: nothing here asserts a time.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
usage: bench/wine_copy.sh [options]
  --files N        postoffice files (default 20000)
  --runs N         runs (default 5)
  --data DIR       where the tree and the copies go (default: new dir in /tmp)
  --out DIR        results (default ./bench-wine)
  --pomove PATH    Linux pomove (default: \$POMOVE_BIN, build/gcc, PATH)
  --exe PATH       pomove.exe (default build/win-x86_64/orchestrate/pomove.exe)
  --keep           keep the data
EOF
}

files=20000 runs=5 data="" out=bench-wine pomove_opt="" exe="" keep=0
while [ $# -gt 0 ]; do
  case $1 in
  --files) files=$2; shift 2 ;;
  --runs) runs=$2; shift 2 ;;
  --data) data=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  --pomove) pomove_opt=$2; shift 2 ;;
  --exe) exe=$2; shift 2 ;;
  --keep) keep=1; shift ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; bench_die "unknown option '$1'" ;;
  esac
done
bench_find_pomove "$pomove_opt"
[ -n "$exe" ] || exe=$BENCH_REPO/build/win-x86_64/orchestrate/pomove.exe
[ -f "$exe" ] || bench_die "no pomove.exe at '$exe' (build win-x86_64 first)"
exe=$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")
WINE=/usr/lib/wine/wine64
[ -x "$WINE" ] || WINE=$(command -v wine64) || bench_die "wine64 is not installed"

[ -n "$data" ] || data=$(mktemp -d "${TMPDIR:-/tmp}/pomove-wine.XXXXXX")
mkdir -p "$data" "$out" || bench_die "cannot create '$data' or '$out'"
data=$(cd "$data" && pwd)
export WINEPREFIX=$data/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
  wineserver -k >/dev/null 2>&1
  [ "$keep" = 1 ] || bench_rm "$data"
}
trap cleanup EXIT
echo "wine_copy: prefix $WINEPREFIX (created once, untimed)" >&2
"$WINE" wineboot -i >/dev/null 2>&1
# A server that stays up between the runs: no tool pays for its start.
wineserver -p >/dev/null 2>&1

src=$data/src
"$POMOVE" gen-postoffice "$src" --files "$files" --quiet >/dev/null ||
  bench_die "gen-postoffice failed"
want_files=$(find "$src" -type f | wc -l)
want_bytes=$(du -sb --apparent-size "$src" | cut -f1)
echo "wine_copy: $want_files files, $want_bytes bytes; $runs runs" >&2

# Wine maps / to Z:. pomove.exe takes '/' as Windows programs do; xcopy
# wants '\'.
winpath() { printf 'Z:%s' "${1//\//\\}"; }
winslash() { printf 'Z:%s' "$1"; }

tools="pomove.exe xcopy pomove cp"
"$WINE" robocopy.exe "$(winpath "$src")" "$(winpath "$data/probe")" /E >/dev/null 2>&1
robo_rc=$?
if [ -d "$data/probe" ]; then
  tools="$tools robocopy"
  robo_note="timed"
else
  robo_note="Wine's robocopy.exe is a stub here (exit $robo_rc, nothing copied): not timed"
fi
bench_rm "$data/probe"

tsv=$out/runs.tsv
printf 'run\ttool\twall_s\tuser_s\tsys_s\trc\n' >"$tsv"
log=$out/log.txt
: >"$log"
BENCH_DROP=0
bench_can_drop_caches && BENCH_DROP=1
BENCH_FS=none
for r in $(seq 1 "$runs"); do
  for t in $(bench_order "$r" $tools); do
    dst=$data/dst-$t-$r
    case $t in
    pomove.exe) cmd="'$WINE' '$exe' copy -q '$(winslash "$src")' '$(winslash "$dst")'" ;;
    xcopy) cmd="'$WINE' xcopy.exe '$(winpath "$src")' '$(winpath "$dst")' /E /I /K /H /Q /Y && sync -f '$data'" ;;
    robocopy) cmd="'$WINE' robocopy.exe '$(winpath "$src")' '$(winpath "$dst")' /E /COPY:DAT; sync -f '$data'" ;;
    pomove) cmd="'$POMOVE' copy -q '$src' '$dst'" ;;
    cp) cmd="cp -a '$src' '$dst' && sync -f '$data'" ;;
    esac
    bench_prepare cold
    echo "== run $r $t: $cmd" >>"$log"
    bench_time "$cmd" "$log"
    got_files=$(find "$dst" -type f 2>/dev/null | wc -l)
    got_bytes=$(du -sb --apparent-size "$dst" 2>/dev/null | cut -f1)
    rc=$BT_RC
    # robocopy's exit codes below 8 are success.
    [ "$t" = robocopy ] && [ "$rc" -lt 8 ] && rc=0
    if [ "$got_files" != "$want_files" ]; then
      echo "wine_copy: run $r $t copied $got_files of $want_files files" >&2
      rc=99
    elif [ "$r" = 1 ] && ! diff -r "$src" "$dst" >/dev/null 2>&1; then
      echo "wine_copy: run $r $t: the copy differs from the source" >&2
      rc=98
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$t" "$BT_WALL" "$BT_USER" "$BT_SYS" "$rc" >>"$tsv"
    printf 'run %s %-10s %8ss  cpu %s+%s  rc %s (%s bytes)\n' "$r" "$t" "$BT_WALL" \
      "$BT_USER" "$BT_SYS" "$rc" "$got_bytes" >&2
    bench_rm "$dst"
    # Each copy's own files beside DST.
    rm -f "$dst".xxh128 "$dst".pomove-*
  done
done

md=$out/results.md
{
  echo "# pomove.exe under Wine against Windows' own copy tools"
  echo
  echo "$want_files files, $want_bytes bytes (gen-postoffice); $runs runs, shuffled order, caches dropped: $BENCH_DROP."
  echo "Machine: $(nproc) cores, $(uname -r), $("$WINE" --version 2>/dev/null)."
  echo "robocopy: $robo_note."
  echo
  echo "| tool | median s | min | max | CPU s (median) | ratio to pomove.exe |"
  echo "|---|---|---|---|---|---|"
  base=$(awk -F'\t' '$2 == "pomove.exe" && $6 == 0 { print $3 }' "$tsv" | bench_stats | cut -d' ' -f1)
  for t in $tools; do
    read -r med lo hi <<<"$(awk -F'\t' -v t="$t" '$2 == t && $6 == 0 { print $3 }' "$tsv" | bench_stats)"
    cpu=$(awk -F'\t' -v t="$t" '$2 == t && $6 == 0 { print $4 + $5 }' "$tsv" | bench_stats | cut -d' ' -f1)
    ratio=$(awk -v a="$med" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }')
    echo "| $t | $med | $lo | $hi | $cpu | $ratio |"
  done
  echo
  echo "Ratio > 1: the tool took longer than pomove.exe. Failed runs (rc != 0 in runs.tsv) are left out."
} >"$md"
cat "$md"
