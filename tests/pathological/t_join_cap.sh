#!/bin/bash
# A join over many rows (docs/limits.md, docs/spl.md "Join"): 50,010 processes, each of its own
# guid and host, joined by guid with a subsearch of every process. Splunk joins the first
# 50,000 subsearch rows (limits.conf [join] subsearch_maxout): the subsearch's rows are in guid
# order, so of the twenty probe.exe processes {g49990}..{g50009} the last ten pair with
# nothing, with one warning, spilled or not (a spilled subsearch is then not filtered by the
# main search's guids, which would make those ten its first rows). Joining all 50,010 rows with
# --evidence takes the rows of both sides, not their product: before, pairing the rows and then
# finding each row's events each tried every subsearch row (over a minute of CPU here).
. "$(dirname "$0")/lib.sh"
sysmon_xml "$T/ev.xml" 50010 49990
SUB='[| tstats count as n from datamodel=Endpoint.Processes by Processes.process_guid | rename Processes.process_guid as process_guid]'
detection "$T/probe.yml" "Join Cap Probe" "| tstats count from datamodel=Endpoint.Processes where Processes.process_name=probe.exe by Processes.process_guid Processes.dest | rename Processes.* as * | join process_guid $SUB"
detection "$T/all.yml" "Join Cap All" "| tstats count from datamodel=Endpoint.Processes by Processes.process_guid Processes.dest | rename Processes.* as * | join process_guid $SUB"
WARN="join uses the first 50000 rows of its subsearch, as Splunk does (subsearch_maxout): 10 rows not used"

guids() { python3 -c 'import json,sys; print(" ".join(json.loads(l)["process_guid"] for l in sys.stdin))' <"$T/out"; }
WANT=$(python3 -c 'print(" ".join("{g%05d}" % i for i in range(49990, 50000)))')
for gm in 16 0; do
    run 120 hunt --detection "$T/probe.yml" --group-memory $gm --format json --evidence "$T/ev.xml"
    check "probe, --group-memory $gm: exit 0, the ten guids under the cap" \
        eval 'rc_is 0 && [ "$(guids)" = "$WANT" ] && no_sanitizer'
    check "probe, --group-memory $gm: one warning" \
        eval 'err_has "$WARN" && err_has " 1 warnings"'
done
# both_memories NAME WHAT CONDITION: detection $T/NAME.yml spilled (--group-memory 0) and not
both_memories() {
    local gm
    for gm in 16 0; do
        run 120 hunt --detection "$T/$1.yml" --group-memory $gm --format json "$T/ev.xml"
        check "$1, --group-memory $gm: $2" eval "$3"
    done
}
ALL20=$(python3 -c 'print(" ".join("{g%05d}" % i for i in range(49990, 50010)))')
# The subsearch's groups counted in one reading of its spill when their ranks cannot matter:
# the main search's join values among none of them (still more than 50,000: no rows, the same
# warning), or no more than 50,000 of them (every probe pairs, no warning).
detection "$T/apart.yml" "Join Cap Apart" "| tstats count from datamodel=Endpoint.Processes where Processes.process_name=probe.exe by Processes.process_guid | rename Processes.* as * | eval process_guid=\"x\".process_guid | join process_guid $SUB"
SUB20='[| tstats count as n from datamodel=Endpoint.Processes where Processes.process_name=probe.exe by Processes.process_guid | rename Processes.process_guid as process_guid]'
detection "$T/few.yml" "Join Cap Few" "| tstats count from datamodel=Endpoint.Processes where Processes.process_name=probe.exe by Processes.process_guid | rename Processes.* as * | join process_guid $SUB20"
both_memories apart "exit 0, no rows, one warning" \
    'rc_is 0 && out_lines 0 && err_has "$WARN" && err_has " 1 warnings" && no_sanitizer'
both_memories few "exit 0, the twenty guids, no warning" \
    'rc_is 0 && [ "$(guids)" = "$ALL20" ] && err_has " 0 warnings" && no_sanitizer'
# A subsearch without rows: an inner join's spilled side is not read back (nothing could pair),
# a left join's comes back whole.
SUB0='[| tstats count as n from datamodel=Endpoint.Processes where Processes.process_name=none.exe by Processes.process_guid | rename Processes.process_guid as process_guid]'
detection "$T/empty.yml" "Join Cap Empty" "| tstats count from datamodel=Endpoint.Processes by Processes.process_guid | rename Processes.* as * | join process_guid $SUB0"
detection "$T/left.yml" "Join Cap Left" "| tstats count from datamodel=Endpoint.Processes where Processes.process_name=probe.exe by Processes.process_guid | rename Processes.* as * | join type=left process_guid $SUB0"
both_memories empty "exit 0, no rows, no warning" \
    'rc_is 0 && out_lines 0 && err_has " 0 warnings" && no_sanitizer'
both_memories left "exit 0, the twenty guids" 'rc_is 0 && [ "$(guids)" = "$ALL20" ] && no_sanitizer'
run 300 hunt --detection "$T/all.yml" --format json --evidence "$T/ev.xml"
check "every row: exit 0, 50,000 rows, each with its events" \
    eval 'rc_is 0 && out_lines 50000 && [ "$(grep -c "\"evidence_count\": 2," "$T/out")" -eq 50000 ] && no_sanitizer'
check "every row: under 30 s of CPU" cpu_below_s 30
finish
