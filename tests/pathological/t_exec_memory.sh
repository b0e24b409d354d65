#!/bin/bash
# ctest-label: heavy
# Memory of one execution: the keys and values a search keeps live in one arena capped at
# 1 GiB (ESC_SPL_MAX_EXEC_BYTES, docs/limits.md). 1,100 matching Sysmon events whose command
# lines are distinct 1 MB strings (each its own group of the seed search, about 2 MB kept per
# group) pass the cap: each record that no longer fits is a counted warning
# `aggregation memory limit reached` and is dropped, the groups kept so far are the rows, the run
# exits 0 and its memory stays bounded: the full arena plus the result table's copy of the rows
# (measured 1.9 GB). 1.1 GB of XML on standard input and 2 GB of memory, hence heavy.
. "$(dirname "$0")/lib.sh"
N=1100
run_stdin 600 "python3 $SRC/tests/pathological/net_share_events.py $N 1000000" hunt --format csv --summary-json "$T/sum.json" -
summary() { python3 -c "import json,sys; s=json.load(open('$T/sum.json')); sys.exit(not ($1))"; }
check "1 MB groups past 1 GiB: exit 0" rc_is 0
check "1 MB groups past 1 GiB: the limit is reported" err_has "aggregation memory limit reached"
check "1 MB groups past 1 GiB: every event read; rows + dropped records = events" \
    summary "s['events'] == $N and s['rows'] + s['warnings'] == $N and 0 < s['warnings'] < $N"
check "1 MB groups past 1 GiB: RSS < 2.5 GB, no sanitizer report" eval 'rss_below_mb 2560 && no_sanitizer'
finish
