#!/usr/bin/env bash
# bench-verify.sh - the audit benchmark of issue 3 (a measurement, not a
# test): `pomove verify --manifest` against `xxh128sum -c`, warm and cold
# cache, and `pomove verify SRC DST` against hashing both trees with
# xxh128sum, on a tree of about 100,000 small files. Runs are interleaved
# and the median of RUNS is reported. Cold runs drop the page cache
# (`sync; echo 3 > /proc/sys/vm/drop_caches`) and need root.
#
# usage: verify/bench-verify.sh POMOVE_BINARY [RUNS] [FILES]
# The tree lives under ${BENCH_DIR:-/tmp/pomove-vbench} and is deleted at
# the end (KEEP=1 keeps it).
set -euo pipefail
P=${1:?usage: $0 POMOVE_BINARY [RUNS] [FILES]}
P=$(readlink -f "$P")
RUNS=${2:-5}
FILES=${3:-100000}
B=${BENCH_DIR:-/tmp/pomove-vbench}
cold=1
[ "$(id -u)" = 0 ] || { echo "not root: cold-cache runs skipped" >&2; cold=0; }

cleanup() { [ "${KEEP:-0}" = 1 ] || rm -rf "$B"; }
trap cleanup EXIT
rm -rf "$B"
mkdir -p "$B"

# The tree: `pomove gen-postoffice` when it is built, else a generator
# with the postoffice's layout (MAI\MA0..MAF, ATT\AT0..ATF, P1 flat, MBG,
# a few large GLB files) and sizes of a few KB.
if "$P" gen-postoffice --files "$FILES" "$B/src" >/dev/null 2>&1; then
  echo "tree: pomove gen-postoffice --files $FILES" >&2
else
  rm -rf "$B/src"
  echo "tree: built-in generator, $FILES files" >&2
  python3 - "$B/src" "$FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
for d in (['MAI/MA%X' % i for i in range(16)] + ['ATT/AT%X' % i for i in range(16)]
          + ['P1', 'MBG', 'KEY', 'GLB', 'USR', 'XTN', 'NME', 'GRP']):
    os.makedirs(os.path.join(root, d), exist_ok=True)
blob = os.urandom(1 << 20)
sizes = [512, 1024, 2048, 3000, 4096, 6000, 8192, 12000, 20000]
for i in range(n - 205):
    if i % 10 == 0: d, ext = 'P1', 'P1'
    elif i % 3 == 0: d, ext = 'ATT/AT%X' % (i % 16), 'ATT'
    else: d, ext = 'MAI/MA%X' % (i % 16), 'MAI'
    s = random.choice(sizes); o = random.randrange(0, len(blob) - s)
    with open(os.path.join(root, d, '%08X.%s' % (i, ext)), 'wb') as f:
        f.write(blob[o:o + s])
for j in range(200):
    with open(os.path.join(root, 'MBG', '%08X.MBG' % j), 'wb') as f:
        f.write(os.urandom(475 * 1024))
for j in range(5):
    with open(os.path.join(root, 'GLB', 'BIG%d.GLB' % j), 'wb') as f:
        f.write(os.urandom(20 << 20))
PY
fi
cp -a "$B/src" "$B/dst"
"$P" hash --quiet -o "$B/m.xxh128" "$B/src"
echo "files: $(wc -l < "$B/m.xxh128"), bytes: $(du -sb "$B/src" | cut -f1)" >&2

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
# run NAME CMD...: appends the wall time in seconds to $B/t.NAME
run() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || { rc=$?; [ $rc = 1 ] || { echo "$name failed ($rc)" >&2; exit 1; }; }
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", (b - a) / 1e9}' >> "$B/t.$name"
}
xxh_check() { (cd "$B/src" && xxh128sum -c --quiet "$B/m.xxh128") 2>/dev/null; }
xxh_both() {
  (cd "$B/src" && find . -type f -print0 | xargs -0 xxh128sum) >/dev/null 2>&1
  (cd "$B/dst" && find . -type f -print0 | xargs -0 xxh128sum) >/dev/null 2>&1
}
pm_manifest() { "$P" verify --quiet --manifest "$B/m.xxh128" "$B/src"; }
pm_trees() { "$P" verify --quiet "$B/src" "$B/dst"; }

# Warm the cache once.
xxh_both
for i in $(seq "$RUNS"); do
  run warm_xxh_check xxh_check
  run warm_pm_manifest pm_manifest
  run warm_xxh_both xxh_both
  run warm_pm_trees pm_trees
  if [ $cold = 1 ]; then
    drop; run cold_xxh_check xxh_check
    drop; run cold_pm_manifest pm_manifest
    drop; run cold_xxh_both xxh_both
    drop; run cold_pm_trees pm_trees
  fi
done
median() { sort -n "$B/t.$1" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
row() {
  [ -f "$B/t.$2" ] || return 0
  local x p
  x=$(median "$2"); p=$(median "$3")
  printf '%-34s %8.2f s %8.2f s %6.2fx\n' "$1" "$x" "$p" \
    "$(awk -v x="$x" -v p="$p" 'BEGIN {print x / p}')"
}
printf '%-34s %10s %10s %7s\n' "median of $RUNS runs" "xxh128sum" "pomove" "speedup"
row "manifest check, warm cache" warm_xxh_check warm_pm_manifest
row "manifest check, cold cache" cold_xxh_check cold_pm_manifest
row "SRC vs DST, warm cache" warm_xxh_both warm_pm_trees
row "SRC vs DST, cold cache" cold_xxh_both cold_pm_trees
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg)"
