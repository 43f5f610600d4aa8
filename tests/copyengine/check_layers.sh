#!/bin/sh
# check_layers.sh - proves that the copy engine's files call each other
# one way only: in the order declared in copyengine/engine_internal.h
# (the list between "layers: begin" and "layers: end"; the order is kept
# there and nowhere else). For every object file of the pm_copyengine
# archive, nm gives the symbols it defines and those it uses; a symbol
# used by one file and defined by another is a call (or an address taken)
# from the first to the second, and it must go to a line below the
# caller's own. A file of the archive the list does not name fails too,
# so that a new file must be given its place.
#
# usage: check_layers.sh NM ARCHIVE HEADER [--swap A.c B.c]
# --swap exchanges the places of two files before the check: the test
# that runs it so expects a failure, which shows the check can fail.
set -eu
nm=$1
archive=$2
header=$3
swap_a=
swap_b=
if [ "${4:-}" = --swap ]; then
  swap_a=$5
  swap_b=$6
fi

order=$(awk '
  /layers: begin/ { on = 1; next }
  /layers: end/ { on = 0 }
  on {
    sub(/^[ \t]*\*[ \t]*/, "")
    line = ""
    n = split($0, w, /[ \t]+/)
    for (i = 1; i <= n; i++) {
      if (w[i] !~ /\.c$/) break
      line = line (line == "" ? "" : " ") w[i]
    }
    if (line != "") print line
  }' "$header")
if [ -z "$order" ]; then
  echo "check_layers: no \"layers: begin\" ... \"layers: end\" list in $header" >&2
  exit 1
fi

"$nm" -g -P -A "$archive" | awk -v order="$order" -v swap_a="$swap_a" \
  -v swap_b="$swap_b" '
  BEGIN {
    n = split(order, lines, "\n")
    for (i = 1; i <= n; i++) {
      m = split(lines[i], files, " ")
      for (j = 1; j <= m; j++) layer[files[j]] = i
    }
    if (swap_a != "") {
      t = layer[swap_a]; layer[swap_a] = layer[swap_b]; layer[swap_b] = t
    }
  }
  {
    # "ARCHIVE[file.c.o]: name type value size"
    member = $1
    sub(/^.*\[/, "", member)
    sub(/\]:$/, "", member)
    sub(/\.o(bj)?$/, "", member)
    members[member] = 1
    if ($3 == "U") {
      nuse++
      use_file[nuse] = member
      use_sym[nuse] = $2
    } else {
      def[$2] = member
    }
  }
  END {
    bad = 0
    for (f in members) {
      if (!(f in layer)) {
        printf "check_layers: %s is in pm_copyengine but not in the layers of engine_internal.h\n", f
        bad = 1
      }
    }
    for (i = 1; i <= nuse; i++) {
      s = use_sym[i]
      if (!(s in def)) continue
      from = use_file[i]
      to = def[s]
      if (from == to) continue
      key = from " -> " to
      if (key in seen) { seen[key] = seen[key] " " s; continue }
      seen[key] = s
    }
    for (key in seen) {
      split(key, ft, " -> ")
      if (!(ft[1] in layer) || !(ft[2] in layer)) continue
      if (layer[ft[2]] <= layer[ft[1]]) {
        printf "check_layers: %s calls %s, which is not below it (%s)\n", ft[1], ft[2], seen[key]
        bad = 1
      } else {
        nedges++
      }
    }
    printf "check_layers: %d calls between files checked, %s\n", nedges + 0, bad ? "FAILED" : "all one way"
    exit bad
  }'
