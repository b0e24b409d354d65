#!/bin/bash
# A search with 10^4 pipes (`| search *` repeated) is refused at once with exit 2 and the
# pipeline limit (64 commands, docs/limits.md); 63 pipes after tstats (64 commands) still run.
. "$(dirname "$0")/lib.sh"
TST="| tstats count from datamodel=Endpoint.Processes by Processes.dest"
detection "$T/p10000.yml" "pipes 10000" "$TST$(printf ' | search *%.0s' $(seq 10000))"
detection "$T/p63.yml" "pipes 63" "$TST$(printf ' | search *%.0s' $(seq 63))"
detection "$T/p64.yml" "pipes 64" "$TST$(printf ' | search *%.0s' $(seq 64))"

run 30 hunt --format json --detection "$T/p10000.yml" "$CRAFTED/worked_example.xml"
check "10^4 pipes: exit 2" rc_is 2
check "10^4 pipes: the limit named" err_has "pipes 10000: more than 64 commands"
check "10^4 pipes: RSS < 64 MB" rss_below_mb 64
check "10^4 pipes: no sanitizer report" no_sanitizer

run 30 hunt --format json --detection "$T/p64.yml" "$CRAFTED/worked_example.xml"
check "65 commands: exit 2" eval 'rc_is 2 && err_has "more than 64 commands"'
run 30 hunt --format json --detection "$T/p63.yml" "$CRAFTED/worked_example.xml"
check "64 commands: runs (one row, count 2)" eval 'rc_is 0 && out_lines 1 && grep -q "\"count\": 2" "$T/out"'
check "64 commands: no sanitizer report" no_sanitizer
finish
