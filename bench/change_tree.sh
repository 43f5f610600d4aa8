#!/usr/bin/env bash
# change_tree.sh - the seeded "about 1% of the postoffice changed" step of
# bench/staged_move.sh: modifies, removes and adds files in a tree so that
# a delta pass has something to do, and can undo it. The same seed on the
# same tree picks the same files, so every tool in a round sees the same
# change. Not a test; no timing.
#
#   change_tree.sh apply DIR SEED PERCENT STASH
#   change_tree.sh revert DIR STASH
#
# apply: of DIR's writable regular files under Maildata (read-only ones such
# as POPULATE.MSM are left alone, as the connector leaves them), picks
# k = PERCENT% of all files (at least 3) in a shuffle seeded by SEED; of
# those, a fifth are deleted, the rest modified (even ones get 256 bytes
# appended, odd ones their first 128 bytes overwritten in place, as a
# mailbag is rewritten), and a fifth of k new files are added beside them
# (8.3 hex names, 1-16 KiB). Originals of modified and deleted files are
# kept in STASH (cp -a, so contents and times come back), added ones are
# listed in STASH/added. Prints "modified M deleted D added A".
# revert: removes the added files and puts the originals back, then removes
# STASH: names, contents and mtimes are as before apply (inode numbers and
# change times of the restored files are not).
set -uo pipefail

die() {
  echo "change_tree: $*" >&2
  exit 2
}

cmd=${1:-}
case $cmd in
apply)
  [ $# = 5 ] || die "usage: change_tree.sh apply DIR SEED PERCENT STASH"
  dir=$2 seed=$3 pct=$4 stash=$5
  [[ $seed =~ ^[0-9]+$ ]] || die "SEED must be a number"
  [[ $pct =~ ^[0-9]+$ ]] && [ "$pct" -ge 1 ] && [ "$pct" -le 100 ] ||
    die "PERCENT must be 1 to 100"
  [ -d "$dir/Maildata" ] || die "$dir/Maildata: not a directory"
  [ -e "$stash" ] && die "$stash exists (revert the last change first)"
  # Absolute: the stash is written from inside DIR.
  stash=$(realpath -m -- "$stash") || die "$stash: bad path"
  mkdir -p "$stash/orig" || die "cannot create $stash"
  : >"$stash/added"
  # DIR's own mtime (adding and removing entries changes it; cp -a of the
  # stash would give it the stash folder's): restored by revert.
  touch -r "$dir" "$stash/dirtime" || die "cannot stash the time of $dir"
  total=$(find "$dir" -type f | wc -l)
  k=$(((total * pct + 99) / 100))
  [ "$k" -lt 3 ] && k=3
  ndel=$((k / 5))
  [ "$ndel" -lt 1 ] && ndel=1
  nadd=$ndel
  # Relative paths, sorted (the same list for the same tree), then a
  # seeded Fisher-Yates shuffle; the first k are the changed ones.
  mapfile -t pick < <(cd "$dir" && find Maildata -type f -perm -u=w -print |
    LC_ALL=C sort | awk -v seed="$seed" -v k="$k" '
      { w[NR] = $0 }
      END {
        srand(seed + 7)
        for (i = NR; i > 1; i--) {
          j = int(rand() * i) + 1
          t = w[i]; w[i] = w[j]; w[j] = t
        }
        for (i = 1; i <= k && i <= NR; i++) print w[i]
      }')
  [ "${#pick[@]}" -ge 3 ] || die "$dir: too few writable files to change"
  nmod=0 nd=0 na=0
  for i in "${!pick[@]}"; do
    rel=${pick[$i]}
    (cd "$dir" && cp -a --parents "$rel" "$stash/orig/") || die "cannot stash $rel"
    if [ "$i" -lt "$ndel" ]; then
      rm -f "$dir/$rel" || die "cannot remove $dir/$rel"
      nd=$((nd + 1))
    elif [ $((i % 2)) = 0 ]; then
      printf 'pomove bench change %s %s %0240d\n' "$seed" "$i" 0 >>"$dir/$rel" ||
        die "cannot append to $dir/$rel"
      nmod=$((nmod + 1))
    else
      printf 'pomove bench change %s %s %0100d\n' "$seed" "$i" 0 |
        dd of="$dir/$rel" conv=notrunc bs=128 count=1 status=none ||
        die "cannot overwrite $dir/$rel"
      nmod=$((nmod + 1))
    fi
  done
  # New files beside the first changed ones, with their extension.
  for ((i = 0; i < nadd; i++)); do
    rel=${pick[$((i % ${#pick[@]}))]}
    d=$(dirname "$rel") ext=${rel##*.}
    [ "$ext" = "$rel" ] && ext=NEW
    name=$(printf '%s/F%07X.%s' "$d" $(((seed * 7919 + i) % 0xFFFFFFF)) "$ext")
    [ -e "$dir/$name" ] && continue
    size=$((1024 + (seed * 131 + i * 997) % 15360))
    # Not `yes | head`: yes ends with SIGPIPE and pipefail would call
    # that a failure.
    head -c "$size" < <(yes "pomove bench new file $seed $i") >"$dir/$name" ||
      die "cannot create $dir/$name"
    printf '%s\n' "$name" >>"$stash/added"
    na=$((na + 1))
  done
  echo "modified $nmod deleted $nd added $na"
  ;;
revert)
  [ $# = 3 ] || die "usage: change_tree.sh revert DIR STASH"
  dir=$2 stash=$3
  [ -d "$stash/orig" ] || die "$stash: no change to revert"
  while IFS= read -r rel; do
    rm -f "$dir/$rel" || die "cannot remove $dir/$rel"
  done <"$stash/added"
  cp -a "$stash/orig/." "$dir/" || die "cannot restore into $dir"
  touch -r "$stash/dirtime" "$dir" || die "cannot restore the time of $dir"
  rm -rf "$stash"
  ;;
*) die "usage: change_tree.sh apply DIR SEED PERCENT STASH | revert DIR STASH" ;;
esac
