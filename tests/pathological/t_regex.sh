#!/bin/bash
# Catastrophic backtracking in `| regex` and `where match()`: `^(a+)+$` and `^(a|aa)+$` against
# command lines of 40+ a's ending in b. PCRE2's match limit (its default, 10^7 steps per match;
# docs/limits.md) ends each such match as "no match", so the run finishes in bounded time and
# keeps only the row that really matches.
. "$(dirname "$0")/lib.sh"
W1=$(sed -n 1p "$CRAFTED/worked_example.xml")
python3 - "$T/bt.xml" "$W1" <<'PY'
import re, sys
out, ev = sys.argv[1:3]
with open(out, "w") as f:
    for i in range(4):
        f.write(re.sub(r"<Data Name='CommandLine'>[^<]*<", "<Data Name='CommandLine'>" + "a" * (40 + i) + "b<", ev) + "\n")
    f.write(re.sub(r"<Data Name='CommandLine'>[^<]*<", "<Data Name='CommandLine'>aaaa<", ev) + "\n")
PY
BASE="| tstats count from datamodel=Endpoint.Processes by Processes.process | rename Processes.process as process"
detection "$T/re.yml" "backtrack regex" "$BASE | regex process=\"^(a+)+\$\""
detection "$T/match.yml" "backtrack match" "$BASE | where match(process, \"^(a|aa)+\$\")"

run 120 hunt --format json --detection "$T/re.yml" "$T/bt.xml"
check "regex (a+)+: exit 0" rc_is 0
check "regex (a+)+: only the real match" eval 'out_lines 1 && grep -q "\"process\": \"aaaa\"" "$T/out"'
check "regex (a+)+: no sanitizer report" no_sanitizer

run 120 hunt --format json --detection "$T/match.yml" "$T/bt.xml"
check "match (a|aa)+: exit 0" rc_is 0
check "match (a|aa)+: only the real match" eval 'out_lines 1 && grep -q "\"process\": \"aaaa\"" "$T/out"'
check "match (a|aa)+: no sanitizer report" no_sanitizer
finish
