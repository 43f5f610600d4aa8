#!/usr/bin/env bash
# fuzz-seeds.sh - regenerates the seed corpora of the fuzz harnesses
# (tests/fuzz/corpus/<harness>/) from files pomove itself writes:
#   manifest      the manifest of a copy of a small tree (odd names:
#                 a newline, a backslash, spaces, UTF-8), and of `hash`
#   copy_journal  the journal of a copy interrupted with Ctrl-C (file and
#                 checkpoint records), and the same cut mid-record
#   regfile       registry.reg of `sim-create`, the move's backup.reg
#                 (UTF-16LE, as written) and the same in UTF-8
#   plan          the plan of a move
#   step_journal  the step journal after a move, after a rollback, and
#                 one cut mid-record
# usage: scripts/fuzz-seeds.sh [POMOVE]   (default: build/fuzz's, else
# build/gcc's pomove). The seeds are committed; rerun this after a change
# of a file format and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
pomove=${1:-}
for c in build/fuzz/orchestrate/pomove build/gcc/orchestrate/pomove; do
  [[ -z $pomove && -x $c ]] && pomove=$root/$c
done
[[ -n $pomove ]] || { echo "fuzz-seeds.sh: build pomove first" >&2; exit 2; }
# Sanitizer builds: leaks of the short-lived commands do not matter here.
export ASAN_OPTIONS=detect_leaks=0
work=$(mktemp -d "${TMPDIR:-/tmp}/pomove-seeds.XXXXXX")
trap 'rm -rf "$work"' EXIT
corpus=$root/tests/fuzz/corpus
for h in manifest copy_journal regfile plan step_journal; do
  rm -rf "${corpus:?}/$h"
  mkdir -p "$corpus/$h"
done

# Manifests.
src=$work/tree
mkdir -p "$src/Maildata/Sub dir" "$src/Bin"
printf 'one\n' >"$src/Maildata/a.glb"
printf 'two\n' >"$src/Maildata/Sub dir/b c.mmf"
printf 'nl\n' >"$src/Maildata/new"$'\n'"line"
printf 'bs\n' >"$src/Bin/back\\slash"
printf 'utf8\n' >"$src/Bin/caf"$'\xc3\xa9'".txt"
: >"$src/Bin/empty"
"$pomove" copy -q "$src" "$work/copy" >/dev/null
cp "$work/copy.xxh128" "$corpus/manifest/copy.xxh128"
"$pomove" hash --quiet -o "$corpus/manifest/hash.xxh128" "$src"

# A copy journal: a copy interrupted while it copies many small files
# and a large one with 1 MiB checkpoints. Ctrl-C keeps the journal; try
# shorter and longer waits until one run stops midway.
jsrc=$work/jsrc
mkdir -p "$jsrc/d"
for i in $(seq 1 12); do printf 'file %s\n' "$i" >"$jsrc/d/f$i.txt"; done
head -c $((24 << 20)) /dev/urandom >"$jsrc/big.bin"
for wait in 0.2 0.1 0.4 0.05 0.8; do
  rm -rf "$work/jdst" "$work/jdst.pomove-journal" "$work/jdst.xxh128"*
  timeout -s INT "$wait" "$pomove" copy -q --threads 1 --batch-files 4 \
    --checkpoint-bytes 1048576 "$jsrc" "$work/jdst" >/dev/null 2>&1 || true
  j=$work/jdst.pomove-journal
  if [[ -f $j ]] && (($(stat -c %s "$j") > 200)); then
    # Keep it small: the records up to about 4 KiB, cut at a record.
    cp "$j" "$corpus/copy_journal/interrupted.journal"
    break
  fi
done
[[ -f $corpus/copy_journal/interrupted.journal ]] || {
  echo "fuzz-seeds.sh: no interrupted copy journal" >&2
  exit 3
}
python3 - "$corpus/copy_journal" <<'PY'
import sys, os
d = sys.argv[1]
b = open(os.path.join(d, "interrupted.journal"), "rb").read()
pos, cut = 8, 8
while pos + 5 <= len(b):
    plen = int.from_bytes(b[pos:pos + 4], "little")
    if pos + 5 + plen + 8 > len(b) or pos + 5 + plen + 8 > 4096:
        break
    pos += 5 + plen + 8
    cut = pos
open(os.path.join(d, "interrupted.journal"), "wb").write(b[:cut])
open(os.path.join(d, "torn.journal"), "wb").write(b[:cut - 5])
PY

# The simulated host: registry, plan, step journal.
sim=$work/sim
"$pomove" sim-create "$sim" --files 60 --pcmta 1 --start-delay 10 \
  --stop-delay 10 --quiet
cp "$sim/registry.reg" "$corpus/regfile/sim-create.reg"
"$pomove" move --host "sim:$sim" --from 'C:\exchsrvr' --to 'D:' \
  --progress off -q >/dev/null
state=$sim/pomove/current
cp "$state/backup.reg" "$corpus/regfile/backup.reg"
cp "$state/plan" "$corpus/plan/move.plan"
cp "$state/journal" "$corpus/step_journal/move.journal"
head -c -7 "$state/journal" >"$corpus/step_journal/torn.journal"
"$pomove" rollback --host "sim:$sim" -q >/dev/null
cp "$state/journal" "$corpus/step_journal/rollback.journal" 2>/dev/null ||
  true
# UTF-8 .reg as a hand-written import would be (the reader takes both).
iconv -f UTF-16 -t UTF-8 "$state/backup.reg" | tr -d '\r' \
  >"$corpus/regfile/backup-utf8.reg"
ls -l "$corpus"/*/ >&2
