#!/usr/bin/env bash
# bench-manifest-cpu.sh - `pomove verify --manifest` of pomove builds
# and `xxh128sum -c`, warm, alternated in one run on the same tree: CPU
# time (user + sys), wall time, and the bytes each run fetched from the
# disk (/proc/PID/io read_bytes), so that a run whose cache someone else
# dropped meanwhile (another benchmark's drop_caches) is seen and left
# out of the medians. A measurement for a loaded machine, where wall
# times mean little; the suite (bench/run.sh) gives the quiet figures.
#
# usage: verify/bench-manifest-cpu.sh DIR MANIFEST RUNS POMOVE...
#   POMOVE    pomove binaries to compare (e.g. main's and a branch's),
#             named in the table by their position: p1, p2, ...
#   DIR       the tree (e.g. made with `pomove gen-postoffice DIR --files
#             100000`, as bench/run.sh makes its postoffice; on a tmpfs
#             nobody's drop_caches empties it)
#   MANIFEST  its manifest, paths relative to DIR (as bench/run.sh makes
#             it: cd DIR && find . -type f -print0 | sort -z | xargs -0
#             xxh128sum)
# Rows go to stdout (TSV), the summary to stderr.
#
# PIN=1 (needs python3) keeps DIR's pages in the page cache for the whole
# measurement: two helper processes map every file (MAP_SHARED,
# MADV_POPULATE_READ; two, because one may hold only vm.max_map_count
# mappings), and the kernel's drop_caches never drops a mapped page. On
# a machine where other benchmarks drop the caches every few seconds,
# this is the only way to get warm runs at all.
set -euo pipefail
DIR=$(readlink -f "${1:?usage: $0 DIR MANIFEST RUNS POMOVE...}")
MAN=$(readlink -f "${2:?}")
RUNS=${3:?}
shift 3
bins=()
for b in "$@"; do bins+=("$(readlink -f "$b")"); done
[ ${#bins[@]} -gt 0 ] || { echo "no pomove binary given" >&2; exit 2; }
out=$(mktemp)
pins=()
cleanup() {
  for p in "${pins[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -f "$out" "$out.cmd" "$out.time" "$out.list"* "$out.pin"*
}
trap cleanup EXIT

if [ "${PIN:-0}" = 1 ]; then
  find "$DIR" -type f -size +0 -print0 >"$out.list"
  python3 - "$out.list" <<'PY'
import sys
names = open(sys.argv[1], 'rb').read().split(b'\0')[:-1]
h = len(names) // 2
for i, part in enumerate((names[:h], names[h:])):
    open(sys.argv[1] + str(i), 'wb').write(b''.join(n + b'\0' for n in part))
PY
  for i in 0 1; do
    python3 -c '
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                      ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
for path in open(sys.argv[1], "rb").read().split(b"\0")[:-1]:
    fd = os.open(path, os.O_RDONLY)
    n = os.fstat(fd).st_size
    if n:
        a = libc.mmap(None, n, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
        libc.madvise(a, n, 22)  # MADV_POPULATE_READ
    os.close(fd)
print("pinned", flush=True)
time.sleep(1e9)' "$out.list$i" >"$out.pin$i" &
    pins+=($!)
  done
  for i in 0 1; do
    until grep -q pinned "$out.pin$i" 2>/dev/null; do sleep 1; done
  done
  echo "DIR's pages are pinned in the page cache" >&2
fi

warm() { find "$DIR" -type f -print0 | xargs -0 -r -P2 -n 4000 cat >/dev/null; }
cmd_of() {
  case $1 in
  p*) echo "\"${bins[$((${1#p} - 1))]}\" verify --quiet --manifest \"$MAN\" \"$DIR\"" ;;
  xxh) echo "cd \"$DIR\" && xxh128sum --quiet -c \"$MAN\"" ;;
  esac
}
tools=(xxh)
for i in "${!bins[@]}"; do tools+=("p$((i + 1))"); done
for i in "${!bins[@]}"; do echo "p$((i + 1)) = ${bins[$i]}" >&2; done
nt=${#tools[@]}
printf 'tool\trun\twall_s\tuser_s\tsys_s\tcpu_s\tread_bytes\n'
for r in $(seq 1 "$RUNS"); do
  # Rotate the order every run: no tool always follows the same one.
  for k in $(seq 0 $((nt - 1))); do
    t=${tools[$(((r + k) % nt))]}
    warm
    cmd_of "$t" >"$out.cmd"
    # The child's read_bytes are added to the shell's when it reaps it.
    rb=$(sh -c '/usr/bin/time -f "%e %U %S" -o "$1" sh "$2" >/dev/null; grep read_bytes /proc/$$/io' sh "$out.time" "$out.cmd")
    set -- $(tail -1 "$out.time") $rb
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$r" "$1" "$2" "$3" \
      "$(awk -v u="$2" -v s="$3" 'BEGIN {printf "%.2f", u + s}')" "$5" |
      tee -a "$out"
  done
done
# Medians over the clean runs (less than 64 MiB read from the disk).
awk -F'\t' '
  $7 < 67108864 { n[$1]++; w[$1, n[$1]] = $3; c[$1, n[$1]] = $6 }
  { all[$1]++ }
  function med(a, t, k,   i, j, v, x) {
    for (i = 1; i <= k; i++) v[i] = a[t, i]
    for (i = 2; i <= k; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
    return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
  }
  function lo(a, t, k,   i, m) { m = a[t, 1]; for (i = 2; i <= k; i++) if (a[t, i] < m) m = a[t, i]; return m }
  function hi(a, t, k,   i, m) { m = a[t, 1]; for (i = 2; i <= k; i++) if (a[t, i] > m) m = a[t, i]; return m }
  END {
    printf "tool  clean/runs  cpu median (min-max) s  wall median (min-max) s\n" > "/dev/stderr"
    for (t in all) if (n[t])
      printf "%-4s  %d/%d  %.2f (%.2f-%.2f)  %.3f (%.3f-%.3f)\n", t, n[t], all[t],
        med(c, t, n[t]), lo(c, t, n[t]), hi(c, t, n[t]),
        med(w, t, n[t]), lo(w, t, n[t]), hi(w, t, n[t]) > "/dev/stderr"
  }' "$out"
