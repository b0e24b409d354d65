#!/bin/bash
# ctest-label: slow
# Limits of actions, run and escudo test (docs/limits.md, "Actions, sinks, schedule"):
# - one notable or risk event over 16 MiB (ESC_ACT_MAX_EVENT): the row whose values() add up to
#   17 MiB errors with the limit's message (exit 3); the other rows' notables and risk events
#   are still written; `run` prints the message and fires the window (exit 0);
# - `run` following more than 10,000 inputs (ESC_RUN_MAX_INPUTS): error, exit 3, the state
#   directory still usable, 10,000 inputs run;
# - `escudo test` with more than 256 attack_data files in one test (ESC_CTEST_MAX_FILES): error
#   naming the detection, exit 3; 256 files pass.
# The risk points, $token$, open windows and capture caps are hit in tests/unit (test_act,
# test_run_limits, test_ctest_limits).
. "$(dirname "$0")/lib.sh"
SEED=743a322c-9a68-4a0f-9c17-85d9cce2a27c
NAME="Create or delete windows shares using net exe"

# ---- one event over 16 MiB ----------------------------------------------------------------------
# Three groups of the seed (by dest): A-HOST and Z-HOST small, M-BIG with 17 distinct 1 MiB
# parent command lines (values(parent_process) of one row: 17 MiB in its notable and risk events)
sysmon_json "$T/big.json" A-HOST M-BIG:17:1048576 Z-HOST
run 120 hunt --detection $SEED --format json --notables "$T/n.jsonl" --risk "$T/r.jsonl" "$T/big.json"
check "event over 16 MiB: exit 3 with the limit's message" eval 'rc_is 3 && err_has "escudo: error: notable for $NAME: event larger than 16777216 bytes"'
check "event over 16 MiB: the three rows are printed" out_lines 3
check "event over 16 MiB: the other two notables are written" eval '[ "$(wc -l <"$T/n.jsonl")" -eq 2 ] && [ "$(grep -c "\"dest\":\"A-HOST\"" "$T/n.jsonl")" -eq 1 ] && [ "$(grep -c "\"dest\":\"Z-HOST\"" "$T/n.jsonl")" -eq 1 ]'
check "event over 16 MiB: their four risk events are written, none of M-BIG" eval '[ "$(wc -l <"$T/r.jsonl")" -eq 4 ] && ! grep -q M-BIG "$T/r.jsonl"'
check "event over 16 MiB: RSS < 1 GB, no sanitizer report" eval 'rss_below_mb 1024 && no_sanitizer'
# run: the same message, and the window still fires (a failed step would fail again on every
# restart); a second run on the same state has nothing left to do
RUNBIG=(run --enable $SEED --quiet --clock-speed max --clock-start 2024-03-06T09:00:00Z
    --once-until 2024-03-06T12:00:00Z --state "$T/stbig" --notables "$T/rn.jsonl" --risk "$T/rr.jsonl")
run 120 "${RUNBIG[@]}" "$T/big.json"
check "run, event over 16 MiB: exit 0, the message, the others written" eval 'rc_is 0 && err_has "notable for $NAME: event larger than 16777216 bytes" && [ "$(wc -l <"$T/rn.jsonl")" -eq 2 ] && [ "$(wc -l <"$T/rr.jsonl")" -eq 4 ]'
run 120 "${RUNBIG[@]}" "$T/big.json"
check "run, event over 16 MiB: the window stays fired" eval 'rc_is 0 && [ "$(wc -l <"$T/rn.jsonl")" -eq 2 ] && ! err_has "larger than"'

# ---- run: more than 10,000 inputs ---------------------------------------------------------------
mkdir -p "$T/many"
python3 - "$T/many" <<'PY'
import os, sys
for i in range(10001):
    open(os.path.join(sys.argv[1], "f%05d.json" % i), "w").close()
PY
# --poll 600: one poll to --once-until (each poll looks at every input; 600 of them over 10,000
# inputs take minutes)
RUNARGS=(run --enable $SEED --quiet --clock-speed max --clock-start 2024-03-06T08:00:00Z
    --once-until 2024-03-06T08:10:00Z --poll 600)
run 120 "${RUNARGS[@]}" --state "$T/st1" "$T/many"
check "10,001 inputs (a directory): exit 3 with the limit's message" eval 'rc_is 3 && err_has "escudo: error: more than 10000 inputs"'
check "10,001 inputs: no sanitizer report" no_sanitizer
(cd "$T/many" && ls) | sed "s|^|$T/many/|" >"$T/list"
mapfile -t FILES <"$T/list"
run 120 "${RUNARGS[@]}" --state "$T/st2" "${FILES[@]}"
check "10,001 inputs (named): exit 3 with the limit's message" eval 'rc_is 3 && err_has "escudo: error: more than 10000 inputs"'
# the state directory is still good: with one file less the same state runs and is committed
rm "$T/many/f10000.json"
run 120 "${RUNARGS[@]}" --state "$T/st1" "$T/many"
check "10,000 inputs: the same state directory runs (exit 0)" eval 'rc_is 0 && no_sanitizer'
run 60 status --state "$T/st1" --format json
check "10,000 inputs: status lists them" eval 'rc_is 0 && [ "$(grep -o "f[0-9]*\.json" "$T/out" | sort -u | wc -l)" -eq 10000 ]'

# ---- escudo test: more than 256 attack_data files in one test -----------------------------------
ATTACK="$SRC/tests/data/attack/T1070.005/windows-sysmon.log"
tests_block() { # FILE COUNT: the seed with one test of COUNT copies of its attack data
    python3 - "$SRC/content/detections/endpoint/create_or_delete_windows_shares_using_net_exe.yml" "$1" "$2" "$ATTACK" <<'PY'
import sys
src, out, n, data = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
d = open(src, encoding="utf-8").read()
d = d[: d.index("\ntests:")] + "\ntests:\n- name: many files\n  attack_data:\n"
for i in range(n):
    d += "  - data: %s\n    source: XmlWinEventLog:Microsoft-Windows-Sysmon/Operational\n    sourcetype: xmlwineventlog\n" % data
open(out, "w", encoding="utf-8").write(d)
PY
}
F=create_or_delete_windows_shares_using_net_exe.yml # the file name static validation wants
mkdir -p "$T/d257" "$T/d256"
tests_block "$T/d257/$F" 257
run 120 test --detection "$T/d257/$F"
check "257 attack_data files: exit 3, error naming the detection" eval 'rc_is 3 && err_has "escudo: error: $NAME: more than 256 attack_data files in a test"'
tests_block "$T/d256/$F" 256
run 120 test --detection "$T/d256/$F"
check "256 attack_data files: unit and integration pass" eval 'rc_is 0 && grep -Eq "^PASS +unit +$NAME \[many files\] \(8 rows, 110592 events" "$T/out" && grep -Eq "^PASS +integration +$NAME \[many files\]" "$T/out"'
check "attack_data files: no sanitizer report" no_sanitizer
finish
