#!/bin/bash
# abcopy.sh - two pomove builds copying the same tree, their runs
# alternated (A B, B A, ...), each into a fresh ext4 without a journal on
# a loop device (bench/lib.sh), caches dropped and SRC re-read by 8
# readers before every run (warm, issue 17's protocol). Per run: wall,
# user + sys CPU, peak RSS, and what the loop device saw (requests and
# their mean size, reads and writes): the figures a loaded machine does
# not change, beside the wall time it does. Then medians per build. For
# the large-file workload, and for copy --verify against a plain copy.
# As root.
#
#   bench/abcopy.sh A_BIN B_BIN [--tree large|postoffice|DIR] [--runs R]
#                   [--verify] [--dir DIR] [-- COPY_OPTIONS...]
#
# --tree large (default): 4 files of 1 GiB; postoffice: 100,000 files
# (gen-postoffice); or any existing tree. DIR (default
# /var/tmp/pomove-abcopy) keeps the generated trees between invocations.
# --verify adds --verify to both builds' copies (give the same build
# twice to compare a plain copy with a verified one: --verify-b).
set -u
. "$(dirname "$0")/lib.sh"
usage="usage: abcopy.sh A_BIN B_BIN [--tree large|postoffice|DIR] [--runs R] [--verify] [--verify-b] [--dir DIR] [-- COPY_OPTIONS...]"
[ $# -ge 2 ] || bench_die "$usage"
A=$(realpath "$1") B=$(realpath "$2")
shift 2
TREE=large RUNS=5 DIR=/var/tmp/pomove-abcopy VA="" VB=""
while [ $# -gt 0 ]; do
  case $1 in
  --tree) TREE=$2; shift 2 ;;
  --runs) RUNS=$2; shift 2 ;;
  --dir) DIR=$2; shift 2 ;;
  --verify) VA=--verify VB=--verify; shift ;;
  --verify-b) VB=--verify; shift ;;
  --) shift; break ;;
  *) bench_die "unknown option $1; $usage" ;;
  esac
done
[ -n "$BENCH_GNU_TIME" ] || bench_die "needs GNU time (/usr/bin/time)"
bench_can_drop_caches || bench_die "needs root (drop caches, loop devices)"
mkdir -p "$DIR" || exit 2
case $TREE in
large) SRC=$DIR/large
  [ -d "$SRC" ] || "$A" gen-postoffice "$SRC" --large 4 --large-size 1G -q || exit 2 ;;
postoffice) SRC=$DIR/po100000
  [ -d "$SRC" ] || "$A" gen-postoffice "$SRC" --files 100000 -q || exit 2 ;;
*) SRC=$(realpath "$TREE") ;;
esac
bench_fs_init nojournal "$DIR"
trap 'bench_fs_teardown; rm -f "$DIR/m.xxh128" "$DIR/m.pomove-state"' EXIT
bench_fs_size "$SRC"

out=$(mktemp)
one() { # label bin verify copy-options...
  local label=$1 bin=$2 v=$3 opts=""
  shift 3
  [ $# -gt 0 ] && opts=$(printf ' %q' "$@")
  bench_fs_fresh || bench_die "cannot make the scratch file system"
  bench_prepare warm "$SRC"
  local st=/sys/block/$(basename "$BENCH_FS_DEV")/stat r0 rs0 w0 ws0 r1 rs1 w1 ws1
  read -r r0 _ rs0 _ w0 _ ws0 _ <"$st"
  bench_time "\"$bin\" copy -q $v$opts --manifest \"$DIR/m.xxh128\" \"$SRC\" \"$BENCH_FS_MNT/dst\"" /dev/null
  read -r r1 _ rs1 _ w1 _ ws1 _ <"$st"
  printf '%s %s %.2f %.2f %.1f %d %.0f %d %.0f\n' "$label" "$BT_RC" "$BT_WALL" \
    "$(awk -v u="$BT_USER" -v s="$BT_SYS" 'BEGIN { print u + s }')" \
    "$(awk -v m="$BT_RSS" 'BEGIN { print m / 1024 }')" \
    $((r1 - r0)) "$(awk -v n=$((r1 - r0)) -v s=$((rs1 - rs0)) 'BEGIN { print n ? s / 2 / n : 0 }')" \
    $((w1 - w0)) "$(awk -v n=$((w1 - w0)) -v s=$((ws1 - ws0)) 'BEGIN { print n ? s / 2 / n : 0 }')" |
    tee -a "$out"
}
echo "run: label rc wall_s cpu_s rss_MiB reads read_KiB writes write_KiB"
for ((i = 0; i < RUNS; i++)); do
  if ((i % 2)); then one B "$B" "$VB" "$@"; one A "$A" "$VA" "$@"
  else one A "$A" "$VA" "$@"; one B "$B" "$VB" "$@"; fi
done
for l in A B; do
  awk -v l=$l '$1 == l { n++; w[n] = $3; c[n] = $4; r[n] = $5; q[n] = $6; s[n] = $9; bad += $2 != 0 }
    function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    END { printf "%s: median wall %.2f s (%.2f - %.2f), CPU %.2f s, peak RSS %.1f MiB, device reads %d, mean write %.0f KiB; %d runs, %d failed\n",
      l, med(w, n), w[1], w[n], med(c, n), med(r, n), med(q, n), med(s, n), n, bad }' "$out"
done
rm -f "$out"
