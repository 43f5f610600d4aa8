#!/usr/bin/env bash
# test_wine_move - `pomove.exe plan`, `move` and `rollback` end to end on
# the host backend `local`, under wine64, checked from the Linux side.
#
#   test_wine_move.sh POMOVE_EXE TEST_SERVICE_EXE PREFIX
#
# PREFIX is the build folder's Wine prefix (the test runner's,
# scripts/wine-run.sh; CTest's fixture "wine" makes it and starts its
# server). In it, under C:\pmtest: a generated connector postoffice in
# C:\pmtest\exchsrvr\Connect\Msmcon whose Bin holds copies of the test
# service (pm_test_service.exe) as Mt.exe, Macgate.exe and Pcmta.exe,
# installed as MSExchangeMSMI, MSExchangeATMTA (depending on MSMI) and
# the PC MTA instance "Legacy Mail Connector", each writing to a file in
# Maildata\GLB while it runs (the path it runs from, by
# GetModuleFileNameW); the KB's Performance values and an event-log
# source with their types; and Maildat$ in a share table file
# (`--host local:shares=FILE`), since Wine implements no NetShare*: the
# run says so, and this test checks that it does.
# The move to C:\pmtest\newsrv is checked by `wine reg query` (every
# rewritten value and its type), by each service's own report of where
# it runs from, by the share table and by `diff -r` of the trees; then
# `rollback` and the original state are checked again. Only what the
# test needs is put in the prefix's registry, and it is removed at the
# end (and at the start, after a killed run). Exit 77 when wine64 or the
# programs are missing.
set -uo pipefail
[ $# -eq 3 ] || { echo "usage: $0 POMOVE_EXE TEST_SERVICE_EXE PREFIX" >&2; exit 2; }
exe=$(realpath -m "$1") svc=$(realpath -m "$2") prefix=$(realpath -m "$3")
here=$(cd "$(dirname "$0")/../.." && pwd)
loader=/usr/lib/wine/wine64
skip() { echo "SKIPPED: $*" >&2; exit 77; }
[ -x "$loader" ] || skip "no wine64 ($loader)"
[ -f "$exe" ] || skip "no $exe"
[ -f "$svc" ] || skip "no $svc"

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
note() { echo "-- $*" >&2; }
export LC_ALL=C.UTF-8 LANG=C.UTF-8
W() { "$here/scripts/wine-run.sh" --prefix "$prefix" --arch x86_64 "$@" </dev/null; }

root=$prefix/drive_c/pmtest
R='C:\pmtest'
OLD="$R"'\exchsrvr\Connect\Msmcon'
NEW="$R"'\newsrv\Connect\Msmcon'
SVCKEY='HKLM\SYSTEM\CurrentControlSet\Services'
EVKEY="$SVCKEY"'\EventLog\Application'
services=(MSExchangeMSMI MSExchangeATMTA "Legacy Mail Connector")

cleanup() {
  for s in "${services[@]}"; do W "$svc" --delete "$s" >/dev/null 2>&1; done
  W reg delete "$SVCKEY\\MSExchangePCMTA" /f >/dev/null 2>&1
  W reg delete "$EVKEY\\MSExchangeMSMI" /f >/dev/null 2>&1
}
[ -d "$prefix/drive_c" ] || W wineboot >/dev/null 2>&1
cleanup
trap cleanup EXIT
rm -rf "$root"
mkdir -p "$root"

# ---- The host ----
# (forward slashes: main's pomove.exe splits paths at "/" only)
W "$exe" gen-postoffice "C:/pmtest/exchsrvr/Connect/Msmcon" --files 300 -q ||
  { echo "gen-postoffice failed" >&2; exit 1; }
bin=$root/exchsrvr/Connect/Msmcon/Bin
for n in Mt.exe Macgate.exe Pcmta.exe; do cp "$svc" "$bin/$n"; done
W "$svc" --install MSExchangeMSMI "\"$OLD\\Bin\\Mt.exe\" ..\\Maildata\\GLB\\MT.OUT" ||
  fail "install MSExchangeMSMI"
W "$svc" --install MSExchangeATMTA "\"$OLD\\Bin\\Macgate.exe\" ..\\Maildata\\GLB\\MACGATE.OUT" MSExchangeMSMI ||
  fail "install MSExchangeATMTA"
W "$svc" --install "Legacy Mail Connector" "\"$OLD\\Bin\\Pcmta.exe\" ..\\Maildata\\GLB\\PCMTA.OUT" ||
  fail "install Legacy Mail Connector"
W reg add "$SVCKEY\\MSExchangeMSMI\\Performance" /v Library /t REG_SZ /d "$OLD\\Bin\\Mtperf.dll" /f >/dev/null
W reg add "$SVCKEY\\MSExchangeATMTA\\Performance" /v Library /t REG_EXPAND_SZ /d "$OLD\\Bin\\Macgperf.dll" /f >/dev/null
W reg add "$SVCKEY\\MSExchangePCMTA\\Performance" /v Library /t REG_SZ /d "$OLD\\Bin\\Xtnperf.dll" /f >/dev/null
W reg add "$EVKEY\\MSExchangeMSMI" /v EventMessageFile /t REG_EXPAND_SZ /d "$OLD\\Bin\\Mtmsg.dll" /f >/dev/null
printf 'Maildat$\t0\t4294967295\t%s\\Maildata\tAccess for MSMI postoffice\tO:BAG:SYD:(A;;FA;;;WD)(A;;FA;;;BA)\n' \
  "$OLD" >"$root/shares.txt"
for s in MSExchangeMSMI MSExchangeATMTA "Legacy Mail Connector"; do
  W "$svc" --start "$s" || fail "start $s"
done

# The value, with its type, as `reg query` shows it: "TYPE DATA".
regval() {
  W reg query "$1" /v "$2" 2>/dev/null | tr -d '\r' |
    awk -v n="$2" '{ sub(/^ +/, "") } index($0, n "    ") == 1 {
      sub(n " +", ""); t = $1; sub(/^[^ ]+ +/, ""); print t " " $0 }'
}
# Where a service runs from, by its own file (waits for a fresh line).
runs_from() {
  local f=$1 before after
  before=$(sed -n 2p "$f" 2>/dev/null)
  for _ in $(seq 1 100); do
    after=$(sed -n 2p "$f" 2>/dev/null)
    [ -n "$after" ] && [ "$after" != "$before" ] && { head -1 "$f" | tr -d '\r'; return; }
    sleep 0.1
  done
  echo "(not running: $f unchanged)"
}
check_state() { # MSMCON-WINDOWS-PATH MSMCON-LINUX-DIR label
  local m=$1 d=$2 label=$3
  local v
  v=$(regval "$SVCKEY\\MSExchangeMSMI" ImagePath)
  [ "$v" = "REG_EXPAND_SZ \"$m\\Bin\\Mt.exe\" ..\\Maildata\\GLB\\MT.OUT" ] ||
    fail "$label: MSExchangeMSMI ImagePath is '$v'"
  v=$(regval "$SVCKEY\\MSExchangeATMTA" ImagePath)
  [ "$v" = "REG_EXPAND_SZ \"$m\\Bin\\Macgate.exe\" ..\\Maildata\\GLB\\MACGATE.OUT" ] ||
    fail "$label: MSExchangeATMTA ImagePath is '$v'"
  v=$(regval "$SVCKEY\\Legacy Mail Connector" ImagePath)
  [ "$v" = "REG_EXPAND_SZ \"$m\\Bin\\Pcmta.exe\" ..\\Maildata\\GLB\\PCMTA.OUT" ] ||
    fail "$label: Legacy Mail Connector ImagePath is '$v'"
  v=$(regval "$SVCKEY\\MSExchangeMSMI\\Performance" Library)
  [ "$v" = "REG_SZ $m\\Bin\\Mtperf.dll" ] || fail "$label: MSMI Library is '$v'"
  v=$(regval "$SVCKEY\\MSExchangeATMTA\\Performance" Library)
  [ "$v" = "REG_EXPAND_SZ $m\\Bin\\Macgperf.dll" ] || fail "$label: ATMTA Library is '$v'"
  v=$(regval "$SVCKEY\\MSExchangePCMTA\\Performance" Library)
  [ "$v" = "REG_SZ $m\\Bin\\Xtnperf.dll" ] || fail "$label: PCMTA Library is '$v'"
  v=$(regval "$EVKEY\\MSExchangeMSMI" EventMessageFile)
  [ "$v" = "REG_EXPAND_SZ $m\\Bin\\Mtmsg.dll" ] || fail "$label: EventMessageFile is '$v'"
  local s exe out
  for s in MSExchangeMSMI:Mt.exe:MT.OUT MSExchangeATMTA:Macgate.exe:MACGATE.OUT \
           "Legacy Mail Connector:Pcmta.exe:PCMTA.OUT"; do
    IFS=: read -r name exe out <<<"$s"
    v=$(W "$svc" --state "$name" | tr -d '\r')
    [ "$v" = RUNNING ] || fail "$label: $name is $v"
    v=$(runs_from "$d/Maildata/GLB/$out")
    [ "$v" = "$m\\Bin\\$exe" ] || fail "$label: $name runs from '$v', want '$m\\Bin\\$exe'"
  done
  v=$(grep -c . "$root/shares.txt")
  [ "$v" = 1 ] || fail "$label: $v lines in the share table"
  IFS=$'\t' read -r sname stype smax spath sremark ssd <"$root/shares.txt"
  [ "$sname" = 'Maildat$' ] && [ "$spath" = "$m\\Maildata" ] &&
    [ "$sremark" = "Access for MSMI postoffice" ] && [ "$smax" = 4294967295 ] ||
    fail "$label: share table: $(cat "$root/shares.txt")"
}
check_state "$OLD" "$root/exchsrvr/Connect/Msmcon" "before"
[ $failures = 0 ] || { echo "the host could not be set up ($failures failures)" >&2; exit 1; }

# ---- plan ----
host="local:shares=$R\\shares.txt"
W "$exe" plan --host "$host" --from "$R\\exchsrvr" --to "$R\\newsrv" --state "$R\\state" \
  >"$root/plan.out" 2>&1
rc=$?
[ $rc = 0 ] || { cat "$root/plan.out" >&2; fail "plan exited $rc"; }
for s in MSExchangeMSMI MSExchangeATMTA "Legacy Mail Connector" 'Maildat$' Mtperf.dll; do
  grep -qF "$s" "$root/plan.out" || fail "the plan does not name $s"
done
grep -q "table file .*shares.txt, not the Server service" "$root/plan.out" ||
  fail "the plan does not say the shares come from the table file"

# ---- move ----
W "$exe" move --host "$host" --from "$R\\exchsrvr" --to "$R\\newsrv" --state "$R\\state" \
  --progress off >"$root/move.out" 2>&1
rc=$?
cat "$root/move.out" >&2
[ $rc = 0 ] || fail "move exited $rc"
grep -q "table file .*shares.txt, not the Server service" "$root/move.out" ||
  fail "the move does not say the shares come from the table file"
check_state "$NEW" "$root/newsrv/Connect/Msmcon" "after the move"
sd_moved=$(cut -f6 "$root/shares.txt")
case $sd_moved in hex:01*) ;; *) fail "the moved share's descriptor is '$sd_moved'" ;; esac
# The copy: the tree as it was (the services' own files aside, which they
# rewrite while they run).
diff -r -x '*.OUT' "$root/exchsrvr/Connect/Msmcon" "$root/newsrv/Connect/Msmcon" >&2 ||
  fail "the copy differs from the old tree"

# ---- rollback ----
W "$exe" rollback --host "$host" --state "$R\\state" >"$root/rollback.out" 2>&1
rc=$?
cat "$root/rollback.out" >&2
[ $rc = 0 ] || fail "rollback exited $rc"
check_state "$OLD" "$root/exchsrvr/Connect/Msmcon" "after the rollback"
[ "$(cut -f6 "$root/shares.txt")" = "$sd_moved" ] ||
  fail "the share's descriptor changed in the rollback"

if [ $failures = 0 ]; then
  echo "test_wine_move: plan, move and rollback under Wine: all checks passed"
  exit 0
fi
echo "test_wine_move: $failures failure(s)" >&2
exit 1
