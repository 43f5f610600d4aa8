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
trap cleanup EXIT

# ---- The host ----
# setup [MODE...]: a fresh host (postoffice, services, values, share);
# MODE is the test service's mode for MSMI, ATMTA and the PC MTA in turn
# ("" normal, "nostop", "slow").
m_msmi="" m_atmta="" m_pcmta=""
svcargs() { # OUTFILE MODE
  if [ -n "$2" ]; then echo "..\\Maildata\\GLB\\$1 $2"; else echo "..\\Maildata\\GLB\\$1"; fi
}
setup() {
  m_msmi=${1:-} m_atmta=${2:-} m_pcmta=${3:-}
  cleanup
  rm -rf "$root"
  mkdir -p "$root"
  # (forward slashes: main's pomove.exe splits paths at "/" only)
  W "$exe" gen-postoffice "C:/pmtest/exchsrvr/Connect/Msmcon" --files 300 -q ||
    { echo "gen-postoffice failed" >&2; exit 1; }
  local bin=$root/exchsrvr/Connect/Msmcon/Bin n
  for n in Mt.exe Macgate.exe Pcmta.exe; do cp "$svc" "$bin/$n"; done
  W "$svc" --install MSExchangeMSMI "\"$OLD\\Bin\\Mt.exe\" $(svcargs MT.OUT "$m_msmi")" ||
    fail "install MSExchangeMSMI"
  W "$svc" --install MSExchangeATMTA "\"$OLD\\Bin\\Macgate.exe\" $(svcargs MACGATE.OUT "$m_atmta")" \
    MSExchangeMSMI || fail "install MSExchangeATMTA"
  W "$svc" --install "Legacy Mail Connector" "\"$OLD\\Bin\\Pcmta.exe\" $(svcargs PCMTA.OUT "$m_pcmta")" ||
    fail "install Legacy Mail Connector"
  W reg add "$SVCKEY\\MSExchangeMSMI\\Performance" /v Library /t REG_SZ /d "$OLD\\Bin\\Mtperf.dll" /f >/dev/null
  W reg add "$SVCKEY\\MSExchangeATMTA\\Performance" /v Library /t REG_EXPAND_SZ /d "$OLD\\Bin\\Macgperf.dll" /f >/dev/null
  W reg add "$SVCKEY\\MSExchangePCMTA\\Performance" /v Library /t REG_SZ /d "$OLD\\Bin\\Xtnperf.dll" /f >/dev/null
  W reg add "$EVKEY\\MSExchangeMSMI" /v EventMessageFile /t REG_EXPAND_SZ /d "$OLD\\Bin\\Mtmsg.dll" /f >/dev/null
  printf 'Maildat$\t0\t4294967295\t%s\\Maildata\tAccess for MSMI postoffice\tO:BAG:SYD:(A;;FA;;;WD)(A;;FA;;;BA)\n' \
    "$OLD" >"$root/shares.txt"
  for n in MSExchangeMSMI MSExchangeATMTA "Legacy Mail Connector"; do
    W "$svc" --start "$n" || fail "start $n"
  done
}

# ---- Checks ----
# The value, with its type, as `reg query` shows it: "TYPE DATA"; when
# reg.exe fails, "(reg query exit N: what it said)", so that a failed
# query is not taken for a missing value.
regval() {
  local out rc
  out=$(W reg query "$1" /v "$2" 2>&1); rc=$?
  if [ $rc != 0 ]; then
    printf '(reg query exit %s: %s)\n' "$rc" "$(printf '%s' "$out" | tr -d '\r' | tr '\n' ' ')"
    return
  fi
  printf '%s\n' "$out" | tr -d '\r' |
    awk -v n="$2" '{ sub(/^ +/, "") } index($0, n "    ") == 1 {
      sub(n " +", ""); t = $1; sub(/^[^ ]+ +/, ""); print t " " $0 }'
}
# fail_reg KEY MESSAGE: a failure about a value of KEY, with what
# `reg query` shows of the whole key then (and its exit status).
fail_reg() {
  fail "$2"
  local out rc
  out=$(W reg query "$1" 2>&1); rc=$?
  { echo "   | reg query $1 (exit $rc):"; printf '%s\n' "$out" | tr -d '\r' | sed 's/^/   |   /'; } >&2
}
# Where a service runs from, by its own file (waits for a fresh count).
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
# check_state MSMCON DIR LABEL: every value (data and type) points into
# MSMCON, each service runs from MSMCON\Bin (its own report, in DIR),
# and the share table holds Maildat$ for MSMCON\Maildata alone.
check_state() {
  local m=$1 d=$2 label=$3 v name exe out s
  v=$(regval "$SVCKEY\\MSExchangeMSMI" ImagePath)
  [ "$v" = "REG_EXPAND_SZ \"$m\\Bin\\Mt.exe\" $(svcargs MT.OUT "$m_msmi")" ] ||
    fail_reg "$SVCKEY\\MSExchangeMSMI" "$label: MSExchangeMSMI ImagePath is '$v'"
  v=$(regval "$SVCKEY\\MSExchangeATMTA" ImagePath)
  [ "$v" = "REG_EXPAND_SZ \"$m\\Bin\\Macgate.exe\" $(svcargs MACGATE.OUT "$m_atmta")" ] ||
    fail_reg "$SVCKEY\\MSExchangeATMTA" "$label: MSExchangeATMTA ImagePath is '$v'"
  v=$(regval "$SVCKEY\\Legacy Mail Connector" ImagePath)
  [ "$v" = "REG_EXPAND_SZ \"$m\\Bin\\Pcmta.exe\" $(svcargs PCMTA.OUT "$m_pcmta")" ] ||
    fail_reg "$SVCKEY\\Legacy Mail Connector" "$label: Legacy Mail Connector ImagePath is '$v'"
  v=$(regval "$SVCKEY\\MSExchangeMSMI\\Performance" Library)
  [ "$v" = "REG_SZ $m\\Bin\\Mtperf.dll" ] || fail_reg "$SVCKEY\\MSExchangeMSMI\\Performance" "$label: MSMI Library is '$v'"
  v=$(regval "$SVCKEY\\MSExchangeATMTA\\Performance" Library)
  [ "$v" = "REG_EXPAND_SZ $m\\Bin\\Macgperf.dll" ] || fail_reg "$SVCKEY\\MSExchangeATMTA\\Performance" "$label: ATMTA Library is '$v'"
  v=$(regval "$SVCKEY\\MSExchangePCMTA\\Performance" Library)
  [ "$v" = "REG_SZ $m\\Bin\\Xtnperf.dll" ] || fail_reg "$SVCKEY\\MSExchangePCMTA\\Performance" "$label: PCMTA Library is '$v'"
  v=$(regval "$EVKEY\\MSExchangeMSMI" EventMessageFile)
  [ "$v" = "REG_EXPAND_SZ $m\\Bin\\Mtmsg.dll" ] || fail_reg "$EVKEY\\MSExchangeMSMI" "$label: EventMessageFile is '$v'"
  for s in MSExchangeMSMI:Mt.exe:MT.OUT MSExchangeATMTA:Macgate.exe:MACGATE.OUT \
           "Legacy Mail Connector:Pcmta.exe:PCMTA.OUT"; do
    IFS=: read -r name exe out <<<"$s"
    v=$(W "$svc" --state "$name" | tr -d '\r')
    [ "$v" = RUNNING ] || fail "$label: $name is $v"
    # (Wine: a service that ignored one stop control hangs at the next,
    # so it is not asked where it runs from after that.)
    [ "$name" = "${no_report:-}" ] && continue
    v=$(runs_from "$d/Maildata/GLB/$out")
    [ "$v" = "$m\\Bin\\$exe" ] || fail "$label: $name runs from '$v', want '$m\\Bin\\$exe'"
  done
  v=$(grep -vc '^!' "$root/shares.txt")
  [ "$v" = 1 ] || fail "$label: $v shares in the share table"
  local sname stype smax spath sremark ssd
  IFS=$'\t' read -r sname stype smax spath sremark ssd < <(grep -v '^!' "$root/shares.txt")
  [ "$sname" = 'Maildat$' ] && [ "$spath" = "$m\\Maildata" ] &&
    [ "$sremark" = "Access for MSMI postoffice" ] && [ "$smax" = 4294967295 ] ||
    fail "$label: share table: $(cat "$root/shares.txt")"
}
OLDDIR=$root/exchsrvr/Connect/Msmcon NEWDIR=$root/newsrv/Connect/Msmcon
host="local:shares=$R\\shares.txt"
pm() { # CMD [ARGS]: pomove.exe on this host, output in $root/CMD.out
  local cmd=$1
  shift
  W "$exe" "$cmd" --host "$host" --state "$R\\state" "$@" >"$root/$cmd.out" 2>&1
}
move_args=(--from "$R\\exchsrvr" --to "$R\\newsrv" --progress off)
expect_rc() { # WANT RC WHAT
  [ "$2" = "$1" ] || { fail "$3 exited $2, want $1"; sed 's/^/   | /' "$4" >&2; }
}

# POMOVE_WINE_MOVE_ONLY=24 runs scenarios 2 and 4 only (default: all).
only=${POMOVE_WINE_MOVE_ONLY:-123456}

# ---- 1. plan, move, the backup imported by reg, rollback ----
if [[ $only == *1* ]]; then
note "plan, move, rollback"
setup
check_state "$OLD" "$OLDDIR" "before"
[ $failures = 0 ] || { echo "the host could not be set up ($failures failures)" >&2; exit 1; }
pm plan "${move_args[@]}"
expect_rc 0 $? plan "$root/plan.out"
for s in MSExchangeMSMI MSExchangeATMTA "Legacy Mail Connector" 'Maildat$' Mtperf.dll; do
  grep -qF "$s" "$root/plan.out" || fail "the plan does not name $s"
done
grep -q "table file .*shares.txt, not the Server service" "$root/plan.out" ||
  fail "the plan does not say the shares come from the table file"
pm move "${move_args[@]}"
expect_rc 0 $? move "$root/move.out"
grep -q "table file .*shares.txt, not the Server service" "$root/move.out" ||
  fail "the move does not say the shares come from the table file"
check_state "$NEW" "$NEWDIR" "after the move"
sd_moved=$(grep -v '^!' "$root/shares.txt" | cut -f6)
case $sd_moved in hex:01*) ;; *) fail "the moved share's descriptor is '$sd_moved'" ;; esac
# The copy: the tree as it was (the services' own files aside, which they
# rewrite while they run).
diff -r -x '*.OUT' "$OLDDIR" "$NEWDIR" >&2 || fail "the copy differs from the old tree"
# `check` finds nothing to repair after the move.
pm check --expect "$R\\newsrv"
expect_rc 0 $? "check after the move" "$root/check.out"
# The move's .reg backup, imported by Wine's reg.exe, puts back every
# value with its type (what rollback then finds already done).
# regedit /s does the same.
for how in "regedit /s" "reg import"; do
  W $how "$R\\state\\current\\backup.reg" >/dev/null 2>&1 || fail "$how of the backup"
  v=$(regval "$SVCKEY\\MSExchangeATMTA\\Performance" Library)
  [ "$v" = "REG_EXPAND_SZ $OLD\\Bin\\Macgperf.dll" ] || fail "after $how: ATMTA Library is '$v'"
  v=$(regval "$SVCKEY\\MSExchangeMSMI\\Performance" Library)
  [ "$v" = "REG_SZ $OLD\\Bin\\Mtperf.dll" ] || fail "after $how: MSMI Library is '$v'"
  v=$(regval "$SVCKEY\\MSExchangeMSMI" ImagePath)
  [ "$v" = "REG_EXPAND_SZ \"$OLD\\Bin\\Mt.exe\" $(svcargs MT.OUT "")" ] ||
    fail "after $how: MSMI ImagePath is '$v'"
  # Back to the moved values for the next importer.
  [ "$how" = "regedit /s" ] && for n in MSExchangeMSMI/Performance:Library:REG_SZ:Mtperf.dll \
      MSExchangeATMTA/Performance:Library:REG_EXPAND_SZ:Macgperf.dll; do
    IFS=: read -r k name type file <<<"$n"
    W reg add "$SVCKEY\\${k//\//\\}" /v "$name" /t "$type" /d "$NEW\\Bin\\$file" /f >/dev/null
  done
done
pm rollback
expect_rc 0 $? rollback "$root/rollback.out"
check_state "$OLD" "$OLDDIR" "after the rollback"
[ "$(grep -v '^!' "$root/shares.txt" | cut -f6)" = "$sd_moved" ] ||
  fail "the share's descriptor changed in the rollback"

fi

# ---- 2. a service that will not stop ----
if [[ $only == *2* ]]; then
note "a service that refuses to stop"
setup "" nostop ""
pm move "${move_args[@]}" --stop-timeout 2
expect_rc 3 $? "move (ATMTA refuses to stop)" "$root/move.out"
grep -q "MSExchangeATMTA.*did not stop" "$root/move.out" ||
  fail "the move does not name the service that did not stop"
check_state "$OLD" "$OLDDIR" "after the refused stop"
pm move --resume --stop-timeout 2
expect_rc 3 $? "move --resume (ATMTA still refuses)" "$root/move.out"
pm rollback --stop-timeout 2
expect_rc 0 $? "rollback after the refused stop" "$root/rollback.out"
no_report=MSExchangeATMTA
check_state "$OLD" "$OLDDIR" "after the rollback of the refused stop"
no_report=

fi

# ---- 3. a share step that fails, then an image missing at the restart ----
if [[ $only == *3* ]]; then
note "a failing share step, then a missing image"
setup
printf '!fail\tadd\t5\n' >>"$root/shares.txt"
pm move "${move_args[@]}"
expect_rc 3 $? "move (NetShareAdd refused)" "$root/move.out"
grep -q "share" "$root/move.out" || fail "the move does not say the share step failed"
# Nothing was shared, the copy is there, the services stay stopped.
[ "$(grep -vc '^!' "$root/shares.txt")" = 0 ] || fail "a share is left after the failed add"
for n in MSExchangeMSMI MSExchangeATMTA "Legacy Mail Connector"; do
  v=$(W "$svc" --state "$n" | tr -d '\r')
  [ "$v" = STOPPED ] || fail "after the failed share step: $n is $v"
done
sed -i '/^!fail/d' "$root/shares.txt"
rm -f "$NEWDIR/Bin/Pcmta.exe"
pm move --resume
expect_rc 3 $? "move --resume (Pcmta.exe missing)" "$root/move.out"
grep -q "Legacy Mail Connector" "$root/move.out" ||
  fail "the resumed move does not name the service whose image is missing"
pm rollback
expect_rc 0 $? "rollback after the missing image" "$root/rollback.out"
check_state "$OLD" "$OLDDIR" "after the rollback of the missing image"

fi

# ---- 4. pomove.exe killed in the middle, then --resume, then rollback ----
if [[ $only == *4* ]]; then
# Slow services (1.5 s to start and to stop each) make the stop and start
# steps last seconds. pomove.exe is killed as soon as it reports step N
# done (so within step N+1 or, for the quick steps, a little later): N =
# 1 (in the stops), 4 (in the copy), 5 and 8 (in the starts). "8gone":
# killed after step 8, then the registry step's work is undone behind the
# journal's back (MSMI's ImagePath deleted, ATMTA's retyped REG_SZ, as a
# crash or a service manager writing its copy back can leave them): the
# journal says "registry done", and --resume must look at the values and
# write them again.
for at in 1 4 5 8 8gone; do
  gone=; [ "$at" = 8gone ] && { at=8 gone=1; }
  note "pomove.exe killed after step $at${gone:+, then two values undone}"
  setup slow slow slow
  "$here/scripts/wine-run.sh" --prefix "$prefix" --arch x86_64 "$exe" move \
    --host "$host" --state "$R\\state" "${move_args[@]}" </dev/null \
    >"$root/killed.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    grep -q "\[ *$at/10\]" "$root/killed.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  last=$(grep -o '\[ *[0-9]*/10\] [a-z-]*' "$root/killed.out" | tail -1)
  note "  killed after: ${last:-(no step finished)}"
  if [ -n "$gone" ]; then
    grep -q '\[ *7/10\] registry' "$root/killed.out" ||
      fail "killed before the registry step was done: $last"
    W reg delete "$SVCKEY\\MSExchangeMSMI" /v ImagePath /f >/dev/null 2>&1 ||
      fail "could not delete MSMI's ImagePath"
    v=$(regval "$SVCKEY\\MSExchangeATMTA" ImagePath)
    W reg add "$SVCKEY\\MSExchangeATMTA" /v ImagePath /t REG_SZ /d "${v#REG_EXPAND_SZ }" /f >/dev/null ||
      fail "could not retype ATMTA's ImagePath"
    [ "$(regval "$SVCKEY\\MSExchangeATMTA" ImagePath)" = "REG_SZ ${v#REG_EXPAND_SZ }" ] ||
      fail "ATMTA's ImagePath was not retyped"
  fi
  if [ -e "$root/state/current" ]; then
    pm move --resume
    expect_rc 0 $? "move --resume after a kill after step $at" "$root/move.out"
    [ -z "$gone" ] || grep -q "registry was done before, but 2 of its values no longer hold" "$root/move.out" ||
      { fail "the resume does not say it writes the registry values again"; sed 's/^/   | /' "$root/move.out" >&2; }
    check_state "$NEW" "$NEWDIR" "after the kill after step $at and --resume"
  else
    note "  (killed before the move began: nothing to resume)"
  fi
  pm rollback
  rc=$?
  [ -e "$root/state/current" ] || rc=0
  expect_rc 0 $rc "rollback after a kill after step $at" "$root/rollback.out"
  check_state "$OLD" "$OLDDIR" "after the kill after step $at and rollback"
done
fi

# ---- 5. the two-phase move: stage while the services run, then move ----
if [[ $only == *5* ]]; then
note "stage, then move, then rollback"
setup
pm stage --from "$R\\exchsrvr" --to "$R\\newsrv" --progress off
rc=$?
# 1: files the services were writing are left for the move's final pass.
[ $rc = 0 ] || [ $rc = 1 ] || expect_rc 0 $rc stage "$root/stage.out"
check_state "$OLD" "$OLDDIR" "after the stage"
pm move "${move_args[@]}"
expect_rc 0 $? "move after the stage" "$root/move.out"
check_state "$NEW" "$NEWDIR" "after the staged move"
diff -r -x '*.OUT' "$OLDDIR" "$NEWDIR" >&2 || fail "the staged copy differs from the old tree"
pm rollback
expect_rc 0 $? "rollback after the staged move" "$root/rollback.out"
check_state "$OLD" "$OLDDIR" "after the rollback of the staged move"
fi

# ---- 6. remove-old after a move ----
if [[ $only == *6* ]]; then
note "move, then remove-old"
setup
pm move "${move_args[@]}"
expect_rc 0 $? move "$root/move.out"
pm remove-old
expect_rc 0 $? remove-old "$root/remove-old.out"
[ -e "$OLDDIR" ] && fail "remove-old left $OLDDIR"
check_state "$NEW" "$NEWDIR" "after remove-old"
fi

if [ $failures = 0 ]; then
  rm -rf "$root"
  echo "test_wine_move: plan, move, check, rollback, a refused stop, a failed share step, a missing image, kills, stage and remove-old, under Wine: all checks passed"
  exit 0
fi
echo "test_wine_move: $failures failure(s)" >&2
exit 1
