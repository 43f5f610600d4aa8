#!/usr/bin/env bash
# run.sh - the benchmark suite (issue 6): pomove against the tools a user
# would otherwise pick, on generated workloads (a postoffice, many tiny
# files, a few large files), in alternating runs with a warm cache and,
# as root, a cold one. Before every timed run the machine is put in a
# known state (bench/lib.sh, "the run protocol"): DST on a freshly made
# scratch file system (or, without root, an honest wait for ext4's
# recently-deleted-inode window), sync, caches dropped, SRC re-read for
# warm runs. pm_floor, the floor benchmark, runs with the copiers and each
# copier's time is also given as a multiple of the floor's. Writes runs.tsv (every run), results.md (table with
# each tool's ratio to the baseline), results.json (raw figures) and
# results.svg (bars per tool per workload) into --out, via bench/report.sh.
# Commands missing from this pomove build are reported "not available",
# never faked. No assertion on time: --quick is the test suite's smoke run.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
usage: bench/run.sh [options]

  --quick            tiny sizes, 2 runs, warm cache only (smoke test)
  --runs N           timed runs of each tool per workload (default 5)
  --out DIR          where results go (default ./bench-out)
  --data DIR         where generated trees go (default: a new dir under
                     \$TMPDIR or /tmp, removed at the end)
  --pomove PATH      pomove binary (default: \$POMOVE_BIN, build/gcc, PATH)
  --workloads LIST   comma list of postoffice,tiny,large (default all)
  --cold             cold-cache runs too (needs root; default when root and
                     not --quick)
  --warm-only        no cold-cache runs
  --cold-only        only cold-cache runs (needs root)
  --fs MODE          where DST lives (default auto):
                       nojournal  ext4 without a journal, on a loop image
                                  made afresh (mkfs) before every run;
                                  the mode of this project's root fs
                       journaled  XFS if mkfs.xfs exists, else ext4 with
                                  its journal, the same way (a server's fs)
                       data       beside SRC in --data, removed before
                                  every run (no root needed; see --settle)
                       auto       as root: a loop image of the kind --data
                                  is on; else data
  --settle S         data mode: seconds between removing DST and the next
                     run (default 61 when --data is ext4 without a journal,
                     whose kernel avoids inodes freed in the last 60 s;
                     else 0; quick mode 0)
  --floor PATH       pm_floor binary (default: \$POMOVE_FLOOR_BIN, beside
                     the pomove build, PATH)
  --no-audit         skip the audit comparison
  --tools LIST       comma list of the tools to time (default all; names as
                     in the table, e.g. pomove-copy,cp-a,parallel-cp)
  --po-files N       postoffice files (default 100000; quick 200)
  --po-size BYTES    postoffice total size (default 30 KiB a file)
  --tiny-files N     tiny-file workload (default 200000; quick 300)
  --large-files N    large-file workload files (default 4; quick 2)
  --large-size BYTES each large file (default 1G; quick 2M)
  --scale "N ..."    tiny-file counts for pomove's scaling run
                     (default "10000 100000 1000000"; quick "100 300")
  --no-scale         skip the scaling run
  --keep             keep generated trees
  --help             this text

Copy peers: pomove copy, pomove copy --verify, cp -a, cp -a + sync -f
(durable, as pomove's copy is; the baseline), rsync -a, tar | tar,
parallel per-directory cp (xargs -P nproc), the same + sync -f,
cp -a + xxh128sum -c, and the floor (pm_floor: create + write + syncfs).
Before every run: DST fresh, sync, caches dropped (root), SRC re-read by
8 readers (warm runs).
Audit peers: pomove verify SRC DST, pomove verify --manifest, xxh128sum -c,
xxh128sum of both trees + cmp, hashdeep audit mode.
Each run's wall time, user+sys CPU and peak RSS (GNU time) are recorded;
the table gives median, min - max, coefficient of variation and CPU.

Exit codes: 0 done (also when some tools are not available); 1 some timed
run failed or copied the wrong tree; 2 usage or setup error.
EOF
}

args="$*"
quick=0 runs="" out="bench-out" data="" pomove_opt="" workloads="postoffice,tiny,large"
cold="" audit=1 po_files="" po_size="" tiny_files="" large_files="" large_size=""
scale="" do_scale=1 keep=0 only_tools="" fs_mode=auto settle="" floor_opt=""
while [ $# -gt 0 ]; do
  case $1 in
  --quick) quick=1 ;;
  --runs) runs=${2:?}; shift ;;
  --out) out=${2:?}; shift ;;
  --data) data=${2:?}; shift ;;
  --pomove) pomove_opt=${2:?}; shift ;;
  --workloads) workloads=${2:?}; shift ;;
  --cold) cold=1 ;;
  --warm-only) cold=0 ;;
  --cold-only) cold=only ;;
  --no-audit) audit=0 ;;
  --fs) fs_mode=${2:?}; shift ;;
  --settle) settle=${2:?}; shift ;;
  --floor) floor_opt=${2:?}; shift ;;
  --tools) only_tools=",${2:?},"; shift ;;
  --po-files) po_files=${2:?}; shift ;;
  --po-size) po_size=${2:?}; shift ;;
  --tiny-files) tiny_files=${2:?}; shift ;;
  --large-files) large_files=${2:?}; shift ;;
  --large-size) large_size=${2:?}; shift ;;
  --scale) scale=${2:?}; shift ;;
  --no-scale) do_scale=0 ;;
  --keep) keep=1 ;;
  --help | -h) usage; exit 0 ;;
  *) echo "bench: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ $quick = 1 ]; then
  : "${runs:=2}" "${po_files:=200}" "${tiny_files:=300}" "${large_files:=2}"
  : "${large_size:=2M}" "${scale:=100 300}" "${cold:=0}"
else
  : "${runs:=5}" "${po_files:=100000}" "${tiny_files:=200000}"
  : "${large_files:=4}" "${large_size:=1G}" "${scale:=10000 100000 1000000}"
fi
[[ $runs =~ ^[1-9][0-9]*$ ]] || bench_die "--runs needs a positive number"
if [ "$cold" = 1 -o "$cold" = only ] && ! bench_can_drop_caches; then
  bench_die "--cold needs root (to write /proc/sys/vm/drop_caches)"
fi
if [ -z "$cold" ]; then
  if bench_can_drop_caches; then cold=1; else cold=0; fi
fi
caches="warm"
[ "$cold" = 1 ] && caches="warm cold"
[ "$cold" = only ] && caches="cold"
bench_find_pomove "$pomove_opt"
bench_find_floor "$floor_opt"
[ -z "$settle" ] || [[ $settle =~ ^[0-9]+$ ]] || bench_die "--settle needs a number of seconds"
if bench_can_drop_caches; then BENCH_DROP=1; fi

mkdir -p "$out" || bench_die "cannot create --out $out"
out=$(cd "$out" && pwd)
bench_data_dir bench
data=$(cd "$data" && pwd)
case "$data/" in
"$BENCH_REPO"/*) bench_die "--data must not be inside the repository" ;;
esac
cleanup() {
  # The scratch file system goes even with --keep: a mount left behind
  # would pin the loop device and the image.
  bench_fs_teardown
  [ "$keep" = 1 ] && return
  local d
  for d in "$data"/*; do bench_rm "$d"; done
  [ "$made_data" = 1 ] && rmdir "$data" 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bench_fs_init "$fs_mode" "$data"
if [ -z "$settle" ]; then
  settle=0
  [ "$BENCH_FS" = data ] && [ $quick = 0 ] &&
    [ "$(bench_fs_kind "$data")" = nojournal ] && settle=61
fi
BENCH_SETTLE=$settle

log=$out/runs.log
: >"$log"
BENCH_LOG=$log
runs_tsv=$out/runs.tsv tools_tsv=$out/tools.tsv meta_tsv=$out/meta.tsv
wl_tsv=$out/workloads.tsv scale_tsv=$out/scaling.tsv floor_tsv=$out/floor.tsv
printf 'workload\tcache\tkind\ttool\trun\twall_s\tuser_s\tsys_s\tmaxrss_kib\texit\tok\n' >"$runs_tsv"
printf 'kind\ttool\tavailable\tdetail\n' >"$tools_tsv"
printf 'workload\tfiles\tdirs\tbytes\tgen_s\tnote\n' >"$wl_tsv"
printf 'files\ttool\twall_s\tuser_s\tsys_s\tmaxrss_kib\texit\n' >"$scale_tsv"
printf 'workload\tcache\trun\tcreate_write_s\tflush_s\ttotal_s\n' >"$floor_tsv"

# ---- what this machine and build can run ----
{
  printf 'key\tvalue\n'
  printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf 'host\t%s\n' "$(uname -n)"
  printf 'cpu\t%s\n' "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  printf 'cores\t%s\n' "$(nproc)"
  printf 'mem_kib\t%s\n' "$(awk '/^MemTotal/ {print $2}' /proc/meminfo)"
  printf 'kernel\t%s\n' "$(uname -sr)"
  # findmnt names ext4 as such; stat -f says ext2/ext3 for all three.
  printf 'fs\t%s\n' "$(findmnt -no FSTYPE -T "$data" 2>/dev/null || stat -f -c %T "$data")"
  printf 'fs_mode\t%s\n' "$BENCH_FS"
  printf 'dst_fs\t%s\n' "$BENCH_FS_TYPE"
  printf 'drop_caches\t%s\n' "$([ "$BENCH_DROP" = 1 ] && echo yes || echo no)"
  printf 'settle_s\t%s\n' "$BENCH_SETTLE"
  printf 'pomove\t%s\n' "$("$POMOVE" --version 2>/dev/null | head -n 1)"
  printf 'runs\t%s\n' "$runs"
  printf 'quick\t%s\n' "$quick"
  printf 'caches\t%s\n' "$caches"
  printf 'gnu_time\t%s\n' "$([ -n "$BENCH_GNU_TIME" ] && echo yes || echo no)"
  printf 'command\t%s\n' "bench/run.sh${args:+ $args}"
} >"$meta_tsv"

# What this pomove build offers, asked once (each question runs pomove).
has() { if bench_pomove_has "$@"; then echo 1; else echo 0; fi; }
HAS_COPY=$(has copy) HAS_COPY_VERIFY=$(has copy --verify)
HAS_COPY_QUIET=$(has copy --quiet) HAS_COPY_MANIFEST=$(has copy --manifest)
HAS_VERIFY=$(has verify) HAS_VERIFY_MANIFEST=$(has verify --manifest)
HAS_VERIFY_QUIET=$(has verify --quiet)

# tool_cmd KIND TOOL SRC DST WORK: prints the exact command, or fails with
# the reason on stdout when the tool is not available.
tool_cmd() {
  local kind=$1 t=$2 s=$3 d=$4 w=$5 p="\"$POMOVE\""
  local man="$w/pomove.xxh128" m="$w/src.xxh128" k="$w/src.hashdeep"
  local pman="" popts="" vq=""
  [ "$HAS_COPY_MANIFEST" = 1 ] && pman=" --manifest \"$man\""
  [ "$HAS_COPY_QUIET" = 1 ] && popts=" --quiet"
  [ "$HAS_VERIFY_QUIET" = 1 ] && vq=" --quiet"
  case $kind/$t in
  copy/pomove-copy)
    [ "$HAS_COPY" = 1 ] || { echo "pomove copy is not in this build"; return 1; }
    echo "$p copy$popts$pman \"$s\" \"$d\"" ;;
  copy/pomove-copy-verify)
    [ "$HAS_COPY_VERIFY" = 1 ] || { echo "pomove copy --verify is not in this build"; return 1; }
    echo "$p copy --verify$popts$pman \"$s\" \"$d\"" ;;
  copy/cp-a) echo "cp -a \"$s\" \"$d\"" ;;
  copy/cp-a+sync)
    # cp -a leaves its data in the page cache; pomove's time includes
    # making every file durable. This peer pays for that too.
    echo "cp -a \"$s\" \"$d\" && sync -f \"$d\"" ;;
  copy/rsync-a)
    command -v rsync >/dev/null || { echo "rsync is not installed"; return 1; }
    echo "rsync -a \"$s/\" \"$d/\"" ;;
  copy/tar-tar) echo "mkdir \"$d\" && tar -C \"$s\" -cf - . | tar -C \"$d\" -xf -" ;;
  copy/parallel-cp | copy/parallel-cp+sync)
    # One cp per directory of the tree (its files and links), nproc at a
    # time, after the directories are made. Directory modes and times are
    # not carried over: that is what this common recipe does. The +sync
    # variant is as durable as pomove's copy.
    local psync=""
    [ "$t" = parallel-cp+sync ] && psync=" && sync -f \"$d\""
    echo "mkdir \"$d\" && cd \"$s\" && find . -mindepth 1 -type d -print0 | (cd \"$d\" && xargs -0 -r mkdir -p) && find . -type d -print0 | xargs -0 -r -n 1 -P$(nproc) sh -c 'find \"\$2\" -mindepth 1 -maxdepth 1 ! -type d -exec cp -a -t \"\$1/\$2\" {} +' sh \"$d\"$psync" ;;
  copy/floor)
    # Its own figures (create + write + flush, without the untimed
    # preload) replace the process's: see timed().
    [ -n "$FLOOR" ] || { echo "pm_floor is not built (cmake target pm_floor) or not found (--floor)"; return 1; }
    echo "\"$FLOOR\" \"$s\" \"$d\" > \"$w/floor.out\"" ;;
  copy/cp-a+xxh128sum-c)
    command -v xxh128sum >/dev/null || { echo "xxh128sum is not installed"; return 1; }
    echo "(cd \"$s\" && find . -type f -print0 | xargs -0 -r xxh128sum) > \"$m.cp\" && cp -a \"$s\" \"$d\" && cd \"$d\" && xxh128sum --quiet -c \"$m.cp\"" ;;
  audit/pomove-verify)
    [ "$HAS_VERIFY" = 1 ] || { echo "pomove verify is not in this build"; return 1; }
    echo "$p verify$vq \"$s\" \"$d\"" ;;
  audit/pomove-verify-manifest)
    [ "$HAS_VERIFY_MANIFEST" = 1 ] || { echo "pomove verify --manifest is not in this build"; return 1; }
    echo "$p verify$vq --manifest \"$m\" \"$d\"" ;;
  audit/xxh128sum-c)
    command -v xxh128sum >/dev/null || { echo "xxh128sum is not installed"; return 1; }
    echo "cd \"$d\" && xxh128sum --quiet -c \"$m\"" ;;
  audit/xxh128sum-both)
    command -v xxh128sum >/dev/null || { echo "xxh128sum is not installed"; return 1; }
    echo "(cd \"$s\" && find . -type f -print0 | sort -z | xargs -0 -r xxh128sum) > \"$w/a.xxh128\" && (cd \"$d\" && find . -type f -print0 | sort -z | xargs -0 -r xxh128sum) > \"$w/b.xxh128\" && cmp -s \"$w/a.xxh128\" \"$w/b.xxh128\"" ;;
  audit/hashdeep-audit)
    command -v hashdeep >/dev/null || { echo "hashdeep is not installed"; return 1; }
    echo "cd \"$d\" && hashdeep -c md5 -r -l -a -k \"$k\" . > /dev/null" ;;
  esac
}
copy_tools="pomove-copy pomove-copy-verify cp-a cp-a+sync rsync-a tar-tar parallel-cp parallel-cp+sync cp-a+xxh128sum-c floor"
audit_tools="pomove-verify pomove-verify-manifest xxh128sum-c xxh128sum-both hashdeep-audit"

echo "== tools (SRC, DST and WORK stand for the workload's trees)" >&2
for kind in copy audit; do
  [ $kind = audit ] && [ $audit = 0 ] && continue
  list=$copy_tools
  [ $kind = audit ] && list=$audit_tools
  for t in $list; do
    if c=$(tool_cmd $kind "$t" SRC DST WORK); then
      printf '%s\t%s\tyes\t%s\n' $kind "$t" "$c" >>"$tools_tsv"
      printf '  %-24s %s\n' "$t" "$c" >&2
    else
      printf '%s\t%s\tno\t%s\n' $kind "$t" "$c" >>"$tools_tsv"
      printf '  %-24s not available: %s\n' "$t" "$c" >&2
    fi
  done
done

# tree_sig DIR: "files bytes" of the regular files (the sanity check of
# every copy: untimed, catches a tool that copied nothing or half).
tree_sig() {
  find "$1" -type f -printf '%s\n' | awk '{ n++; s += $1 } END { printf "%d %.0f\n", n, s }'
}

failed=0
# timed KIND WORKLOAD CACHE TOOL RUN CMD: one timed run, recorded. The
# caller has put the machine in the protocol's state (bench_fresh_dst,
# bench_prepare).
timed() {
  local kind=$1 wl=$2 cache=$3 t=$4 r=$5 cmd=$6
  echo "## $wl $cache $t run $r: $cmd" >>"$log"
  bench_time "$cmd" "$log"
  TIMED_OK=1
  [ "$BT_RC" = 0 ] || TIMED_OK=0
  if [ "$t" = floor ] && [ "$BT_RC" = 0 ]; then
    # The floor's own clock: create + write + syncfs, and the CPU of that
    # part (its buffers are allocated before the clock starts). Peak RSS
    # is its buffers' size, so it is left out.
    local fo=${cmd##*> \"} cw fl tot us sy
    fo=${fo%\"}
    cw=$(awk '$1 == "create_write_s" { print $2 }' "$fo")
    fl=$(awk '$1 == "flush_s" { print $2 }' "$fo")
    tot=$(awk '$1 == "total_s" { print $2 }' "$fo")
    us=$(awk '$1 == "user_s" { print $2 }' "$fo")
    sy=$(awk '$1 == "sys_s" { print $2 }' "$fo")
    cat "$fo" >>"$log"
    if [ -n "$tot" ]; then
      BT_WALL=$tot BT_USER=$us BT_SYS=$sy BT_RSS=""
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$cache" "$r" "$cw" "$fl" "$tot" >>"$floor_tsv"
    else
      echo "## floor: no total_s in $fo" >>"$log"
      TIMED_OK=0
    fi
  fi
  local how=""
  [ "$BT_RC" = 0 ] || how="  FAILED (exit $BT_RC)"
  printf '  %-5s %-24s run %d: %8s s  user %6s s  sys %6s s  rss %8s KiB%s\n' \
    "$cache" "$t" "$r" "$BT_WALL" "$BT_USER" "$BT_SYS" "${BT_RSS:--}" "$how" >&2
}
record() { # kind wl cache tool run ok
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$2" "$3" "$1" "$4" "$5" \
    "$BT_WALL" "$BT_USER" "$BT_SYS" "${BT_RSS:-}" "$BT_RC" "$6" >>"$runs_tsv"
}

# available KIND: the tools of that kind this build can run (and --tools
# selects), in order.
available() {
  awk -F'\t' -v k="$1" -v only="$only_tools" \
    '$1 == k && $3 == "yes" && (only == "" || index(only, "," $2 ",")) { print $2 }' "$tools_tsv"
}

gen_workload() { # name dir
  local wl=$1 dir=$2 js
  case $wl in
  postoffice) js=$("$POMOVE" gen-postoffice "$dir" --files "$po_files" ${po_size:+--size "$po_size"} --quiet --json) ;;
  tiny) js=$("$POMOVE" gen-postoffice "$dir" --tiny "$tiny_files" --quiet --json) ;;
  large) js=$("$POMOVE" gen-postoffice "$dir" --large "$large_files" --large-size "$large_size" --quiet --json) ;;
  esac || return 1
  # The generator's JSON is flat: pick numbers by key.
  local f d b s
  f=$(grep -o '"files":[0-9]*' <<<"$js" | cut -d: -f2)
  d=$(grep -o '"dirs":[0-9]*' <<<"$js" | cut -d: -f2)
  b=$(grep -o '"bytes":[0-9]*' <<<"$js" | cut -d: -f2)
  s=$(grep -o '"seconds":[0-9.]*' <<<"$js" | cut -d: -f2)
  printf '%s\t%s\t%s\t%s\t%s\t\n' "$wl" "$f" "$d" "$b" "$s" >>"$wl_tsv"
  WL_BYTES=$b
}

# Estimated bytes of a workload before generating it (disk check).
wl_estimate() {
  case $1 in
  postoffice) echo $((po_files * 30 * 1024)) ;;
  tiny) echo $((tiny_files * 6144)) ;; # 2 KiB average + a 4 KiB block each
  large) numfmt --from=iec "$large_size" | awk -v n="$large_files" '{ printf "%.0f\n", $1 * n }' ;;
  esac
}

for wl in ${workloads//,/ }; do
  case $wl in postoffice | tiny | large) ;; *) bench_die "unknown workload '$wl'" ;; esac
  src=$data/$wl-src dst=$data/$wl-dst work=$data/$wl-work
  [ "$BENCH_FS" = data ] || dst=$BENCH_FS_MNT/$wl-dst
  need=$(($(wl_estimate "$wl") * 21 / 10 + (1 << 30)))
  avail=$(($(df -Pk "$data" | awk 'NR == 2 { print $4 }') * 1024))
  if [ "$avail" -lt "$need" ]; then
    echo "== $wl: skipped, needs about $((need >> 30)) GiB free in $data" >&2
    printf '%s\t\t\t\t\tskipped: not enough free space\n' "$wl" >>"$wl_tsv"
    continue
  fi
  echo "== $wl: generating in $src" >&2
  bench_rm "$src"
  mkdir -p "$work"
  gen_workload "$wl" "$src" || bench_die "generating the $wl workload failed"
  sig_src=$(tree_sig "$src")
  [ "$BENCH_FS" = data ] || bench_fs_size "$src"

  for cache in $caches; do
    mapfile -t tools < <(available copy)
    for r in $(seq 1 "$runs"); do
      for t in $(bench_order $((r - 1)) "${tools[@]}"); do
        cmd=$(tool_cmd copy "$t" "$src" "$dst" "$work")
        bench_fresh_dst "$dst"
        # pomove's defaults beside DST: a left-over journal would make the
        # next run a resume.
        rm -f "$dst.xxh128" "$dst.pomove-journal"
        bench_prepare "$cache" "$src"
        timed copy "$wl" "$cache" "$t" "$r" "$cmd"
        ok=$TIMED_OK
        if [ "$ok" = 1 ] && [ "$(tree_sig "$dst")" != "$sig_src" ]; then
          echo "    $t: the copy differs from the source in files or bytes" >&2
          echo "## $t: copy differs (src $sig_src, dst $(tree_sig "$dst"))" >>"$log"
          ok=0
        fi
        [ "$ok" = 1 ] || failed=1
        record copy "$wl" "$cache" "$t" "$r" "$ok"
        rm -f "$work"/*.xxh128 "$work"/*.xxh128.cp "$work/floor.out"
      done
    done
  done

  if [ $audit = 1 ]; then
    mapfile -t tools < <(available audit)
    if [ ${#tools[@]} -gt 0 ]; then
      echo "== $wl: audits (preparing a copy and the manifests, untimed)" >&2
      bench_fresh_dst "$dst"
      cp -a "$src" "$dst" 2>>"$log"
      # Audits create no inodes on DST's file system: no wait for them.
      BENCH_RM_AT=""
      (cd "$src" && find . -type f -print0 | sort -z | xargs -0 -r xxh128sum) >"$work/src.xxh128" 2>>"$log"
      if command -v hashdeep >/dev/null; then
        (cd "$src" && hashdeep -c md5 -r -l .) >"$work/src.hashdeep" 2>>"$log"
      fi
      for cache in $caches; do
        for r in $(seq 1 "$runs"); do
          for t in $(bench_order $((r - 1)) "${tools[@]}"); do
            cmd=$(tool_cmd audit "$t" "$src" "$dst" "$work")
            # Audits only read: the same DST serves every run.
            bench_prepare "$cache" "$src" "$dst"
            timed audit "$wl" "$cache" "$t" "$r" "$cmd"
            [ "$TIMED_OK" = 1 ] || failed=1
            record audit "$wl" "$cache" "$t" "$r" "$TIMED_OK"
          done
        done
      done
    fi
  fi
  if [ "$BENCH_FS" = data ]; then bench_rm "$dst"; else bench_fs_umount; fi
  bench_rm "$src"
  bench_rm "$work"
done

# ---- scaling: pomove's time and memory against the number of files ----
if [ $do_scale = 1 ]; then
  echo "== scaling (tiny files: $scale)" >&2
  have=$(available copy | grep -x pomove-copy)
  for n in $scale; do
    need=$((n * 6144 * 21 / 10 + (1 << 30)))
    avail=$(($(df -Pk "$data" | awk 'NR == 2 { print $4 }') * 1024))
    if [ "$avail" -lt "$need" ]; then
      echo "  $n files: skipped (not enough free space)" >&2
      continue
    fi
    src=$data/scale-src dst=$data/scale-dst work=$data/scale-work
    [ "$BENCH_FS" = data ] || dst=$BENCH_FS_MNT/scale-dst
    mkdir -p "$work"
    "$POMOVE" gen-postoffice "$src" --tiny "$n" --quiet ||
      bench_die "generating $n tiny files failed"
    [ "$BENCH_FS" = data ] || bench_fs_size "$src"
    # The durable peer: pomove's copy is on disk when it returns.
    for t in pomove-copy cp-a+sync; do
      if [ "$t" = pomove-copy ] && [ -z "$have" ]; then
        printf '%s\t%s\t\t\t\t\tnot available\n' "$n" "$t" >>"$scale_tsv"
        continue
      fi
      bench_fresh_dst "$dst"
      rm -f "$dst.xxh128" "$dst.pomove-journal"
      bench_prepare warm "$src"
      cmd=$(tool_cmd copy "$t" "$src" "$dst" "$work")
      timed copy "scale-$n" warm "$t" 1 "$cmd"
      [ "$TIMED_OK" = 1 ] || failed=1
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$t" "$BT_WALL" "$BT_USER" \
        "$BT_SYS" "${BT_RSS:-}" "$BT_RC" >>"$scale_tsv"
      rm -f "$work"/*
    done
    if [ "$BENCH_FS" = data ]; then bench_rm "$dst"; else bench_fs_umount; fi
    bench_rm "$src"
    bench_rm "$work"
  done
fi

printf 'loop_dio\t%s\n' "$(bench_fs_dio)" >>"$meta_tsv"
bench_fs_teardown
"$BENCH_DIR/report.sh" "$out" || bench_die "writing the report failed"
echo "results: $out/results.md, $out/results.json, $out/results.svg" >&2
exit $failed
