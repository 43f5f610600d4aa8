#!/bin/bash
# percopy.sh - per-file cost of two pomove builds on the same tree (issue
# 17): system calls (strace -f -c), CPU time (user + sys), page faults and
# peak RSS, with the runs of the two builds alternated. Every run copies
# into a fresh ext4 without a journal on a loop device (bench/lib.sh), so
# that no run pays for inodes another one freed. As root.
#
#   bench/percopy.sh A_BIN B_BIN [--files N] [--runs R] [--dir DIR]
#
# DIR (default /var/tmp/pomove-percopy) holds the generated postoffice
# (kept between invocations) and the scratch image. Prints one line per
# run, then per build the medians and the system calls per file.
set -u
. "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || bench_die "usage: percopy.sh A_BIN B_BIN [--files N] [--runs R] [--dir DIR]"
A=$(realpath "$1") B=$(realpath "$2")
shift 2
FILES=20000 RUNS=6 DIR=/var/tmp/pomove-percopy
while [ $# -gt 0 ]; do
  case $1 in
  --files) FILES=$2; shift 2 ;;
  --runs) RUNS=$2; shift 2 ;;
  --dir) DIR=$2; shift 2 ;;
  *) bench_die "unknown option $1" ;;
  esac
done
command -v strace >/dev/null || bench_die "needs strace"
[ -n "$BENCH_GNU_TIME" ] || bench_die "needs GNU time (/usr/bin/time)"
mkdir -p "$DIR" || exit 2
SRC=$DIR/po$FILES
[ -d "$SRC" ] || "$A" gen-postoffice "$SRC" --files "$FILES" -q || exit 2
bench_fs_init nojournal "$DIR"
trap bench_fs_teardown EXIT
bench_fs_size "$SRC"
find "$SRC" -type f -print0 | xargs -0 cat >/dev/null

out=$(mktemp)
one() { # label bin
  bench_fs_fresh || bench_die "cannot make the scratch file system"
  sync
  "$BENCH_GNU_TIME" -f "$1 %U %S %R %M %e" "$2" copy -q "$SRC" "$BENCH_FS_MNT/dst" 2>&1 >/dev/null |
    tail -1 | tee -a "$out"
}
echo "run: label user sys minflt maxrssKB wall"
for ((i = 0; i < RUNS; i++)); do
  if ((i % 2)); then one B "$B"; one A "$A"; else one A "$A"; one B "$B"; fi
done
for l in A B; do
  awk -v l=$l '$1 == l { n++; c[n] = $2 + $3; f[n] = $4; r[n] = $5 }
    function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    END { printf "%s: median CPU %.3f s, page faults %.0f, peak RSS %.0f KiB (%d runs)\n", l, med(c, n), med(f, n), med(r, n), n }' "$out"
done
for l in A B; do
  bin=$A; [ $l = B ] && bin=$B
  bench_fs_fresh || exit 2
  strace -f -c -o "$out.$l" "$bin" copy -q "$SRC" "$BENCH_FS_MNT/dst" >/dev/null 2>&1
  echo "$l: system calls per file (strace -f -c, $FILES files):"
  awk -v n="$FILES" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $4 / n >= 0.05 {
      printf "  %-14s %6.2f\n", $NF, $4 / n }' "$out.$l"
done
rm -f "$out" "$out.A" "$out.B"
