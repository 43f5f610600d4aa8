#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine (as root): installs the
# packages, builds pomove, creates a simulated Exchange 5.5 host holding a
# generated connector postoffice (services, Maildat$ share, registry), and
# moves the postoffice to the NTFS drive D: as KB Q171259 describes, with
# progress and a report; then audits the copy against the original.
#   scripts/demo.sh [DIR] [FILES]   (default /tmp/pomove-demo, 20000 files)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/pomove-demo}
files=${2:-20000}
scripts/deps.sh
echo "== building pomove" >&2
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DPOMOVE_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
pomove=$PWD/build/release/orchestrate/pomove
if [ -e "$dir" ]; then
  # A demo host left by an earlier run: its simulated services end by
  # themselves once the folder is gone.
  rm -rf "$dir"
fi
echo "== creating a simulated Exchange 5.5 host in $dir ($files files)" >&2
"$pomove" sim-create "$dir" --files "$files"
echo >&2
echo "== the plan (changes nothing)" >&2
"$pomove" plan --host "sim:$dir" --from 'C:\exchsrvr' --to 'D:' | tail -n 14
echo >&2
echo "== the move" >&2
"$pomove" move --host "sim:$dir" --from 'C:\exchsrvr' --to 'D:'
echo >&2
# The restarted services touch their postoffice files (as real ones do), so
# times move on; the content must still be what was copied.
echo "== audit: the moved postoffice against the copy's manifest" >&2
"$pomove" verify --manifest "$dir/pomove/current/copy.xxh128" \
  "$dir/drives/D/ExchSrvr/Connect/Msmcon"
echo >&2
echo "Undo with: $pomove rollback --host sim:$dir" >&2
