#!/bin/bash
# ctest-label: heavy (44 s of CPU and 2.2 GB; test_agg.c checks the same cap logic with a cap of 3)
# Millions of groups: ~2 million distinct matching Sysmon events (each `net share sN`, so each a
# group of the seed detection), generated as XML lines on standard input. The group table stops
# at 1,000,000 groups (docs/limits.md): the run ends with exit 0 and the first 1,000,000 groups
# as rows, and each record of a further group is dropped with a counted warning. Peak
# memory stays bounded (measured: about 2.2 GB for 10^6 groups of the seed's 5 BY fields and
# two values() lists).
. "$(dirname "$0")/lib.sh"
N=${ESC_PATHO_GROUPS:-2000000}
run_stdin 550 "python3 $SRC/tests/pathological/net_share_events.py $N" hunt --format json --summary-json "$T/sum.json" -
check "$N groups: exit 0" rc_is 0
check "$N groups: 1,000,000 rows" out_lines 1000000
check "$N groups: the limit is reported" err_has "more than 1000000 groups"
check "$N groups: each dropped record is a counted warning" python3 -c "import json,sys; sys.exit(json.load(open('$T/sum.json'))['warnings'] != $N - 1000000)"
check "$N groups: every event was read" python3 -c "import json,sys; sys.exit(json.load(open('$T/sum.json'))['events'] != $N)"
check "$N groups: RSS < 4 GB" rss_below_mb 4096
check "$N groups: no sanitizer report" no_sanitizer
finish
