#!/bin/bash
# Catastrophic backtracking in `| regex` and `where match()`: `^(a+)+$` and `^(a|aa)+$` against
# command lines of 40+ a's ending in b. The match limit (Splunk's limits.conf defaults: 100000
# steps, depth 1000; docs/limits.md) ends each such match as "no match", so the run finishes in
# bounded time, keeps only the row that really matches, and reports the stopped matches as one
# warning per detection. Plain patterns over a 1 MB value are not stopped by the limits (an
# alternation repeated a million times, `(x|y)+`, would be: each repeat is one level of depth).
# ESCU's `rex field=process_name "(?<extracted_process_name>[^\\\\]+)$"` over a value of 60,000
# characters with a backslash after them: PCRE2's interpreter tries every start and reads to the
# backslash from each (about 40 s, under the match limit); values of 256 bytes and more go to
# its JIT (spl/regex.c), which answers at once, with the same rows.
. "$(dirname "$0")/lib.sh"
W1=$(sed -n 1p "$CRAFTED/worked_example.xml")
python3 - "$T/bt.xml" "$W1" <<'PY'
import re, sys
out, ev = sys.argv[1:3]
with open(out, "w") as f:
    for i in range(4):
        f.write(re.sub(r"<Data Name='CommandLine'>[^<]*<", "<Data Name='CommandLine'>" + "a" * (40 + i) + "b<", ev) + "\n")
    f.write(re.sub(r"<Data Name='CommandLine'>[^<]*<", "<Data Name='CommandLine'>aaaa<", ev) + "\n")
with open(out.replace("bt.xml", "bt2.xml"), "w") as f:  # each value twice: eval's memo (cmd_eval.c)
    for i in range(4):
        for _ in range(2):
            f.write(re.sub(r"<Data Name='CommandLine'>[^<]*<", "<Data Name='CommandLine'>" + "a" * (40 + i) + "b<", ev) + "\n")
    for _ in range(2):
        f.write(re.sub(r"<Data Name='CommandLine'>[^<]*<", "<Data Name='CommandLine'>aaaa<", ev) + "\n")
with open(out.replace("bt.xml", "tail.xml"), "w") as f:  # no last component; one to extract
    for v in ("A" * 60000 + "\\\\", "C:\\\\" + "A" * 60000 + "\\\\x.exe"):
        f.write(re.sub(r"<Data Name='CommandLine'>[^<]*<", "<Data Name='CommandLine'>" + v + "<", ev) + "\n")
with open(out.replace("bt.xml", "long.xml"), "w") as f:
    f.write(re.sub(r"<Data Name='CommandLine'>[^<]*<", "<Data Name='CommandLine'>net " + "x" * 1000000 + " share y<", ev) + "\n")
PY
BASE="| tstats count from datamodel=Endpoint.Processes by Processes.process | rename Processes.process as process"
detection "$T/re.yml" "backtrack regex" "$BASE | regex process=\"^(a+)+\$\""
detection "$T/match.yml" "backtrack match" "$BASE | where match(process, \"^(a|aa)+\$\")"
detection "$T/eval.yml" "backtrack eval" "source=\"XmlWinEventLog:Microsoft-Windows-Sysmon/Operational\" EventCode=1 | eval m=if(match(CommandLine, \"^(a|aa)+\$\"), \"yes\", \"no\") | stats count by m"

detection "$T/long.yml" "long value" "$BASE | regex process=\"^net x+ share\" | where match(process, \"^net.*x{1000}.*y\$\")"
detection "$T/tail.yml" "last component" "$BASE | rex field=process \"(?<leaf>[^\\\\\\\\]+)\$\" | rex field=process mode=sed \"s/A{59990}/a/\" | table process leaf"
limited() { python3 -c "import json,sys; sys.exit(json.load(open('$T/sum.json'))['regex_limited'] != $1)"; }

run 120 hunt --format json --summary-json "$T/sum.json" --detection "$T/re.yml" "$T/bt.xml"
check "regex (a+)+: exit 0" rc_is 0
check "regex (a+)+: only the real match" eval 'out_lines 1 && grep -q "\"process\": \"aaaa\"" "$T/out"'
check "regex (a+)+: 4 stopped matches, one warning" eval 'limited 4 && err_has "backtrack regex - Rule: 4 regular-expression matches stopped at the match limit (100000 steps, depth 1000) and counted as no match" && err_has ", 1 warnings,"'
check "regex (a+)+: no sanitizer report" no_sanitizer

run 120 hunt --format json --summary-json "$T/sum.json" --detection "$T/match.yml" "$T/bt.xml"
check "match (a|aa)+: exit 0" rc_is 0
check "match (a|aa)+: only the real match" eval 'out_lines 1 && grep -q "\"process\": \"aaaa\"" "$T/out"'
check "match (a|aa)+: 4 stopped matches" eval 'limited 4 && err_has "backtrack match - Rule: 4 regular-expression matches stopped"'
check "match (a|aa)+: no sanitizer report" no_sanitizer

# a value seen before in the same rows takes eval's remembered result: its stopped matches
# count again, once per row
run 120 hunt --format json --summary-json "$T/sum.json" --detection "$T/eval.yml" "$T/bt2.xml"
check "eval match (a|aa)+, each value twice: 8 stopped matches" eval 'rc_is 0 && limited 8 && err_has "backtrack eval - Rule: 8 regular-expression matches stopped"'
check "eval match (a|aa)+: rows" eval 'out_lines 2 && grep -q "\"m\": \"no\", \"count\": 8" "$T/out" && grep -q "\"m\": \"yes\", \"count\": 2" "$T/out"'

# the first value has no part after its last backslash, so no leaf; the second's leaf is x.exe;
# sed shortens each run of 60,000 A's (the first 59,990 of them become one a)
run 30 hunt --format json --summary-json "$T/sum.json" --detection "$T/tail.yml" "$T/tail.xml"
check "[^\\]+\$ over 60,000 characters: exit 0 at once" eval 'rc_is 0 && cpu_below_s 10 && limited 0'
check "[^\\]+\$ over 60,000 characters: rows" eval 'out_lines 2 && grep -q "\"process\": \"aAAAAAAAAAA\\\\\\\\\"}" "$T/out" && grep -q "\"process\": \"C:\\\\\\\\aAAAAAAAAAA\\\\\\\\x.exe\", \"leaf\": \"x.exe\"}" "$T/out"'
check "[^\\]+\$ over 60,000 characters: no sanitizer report" no_sanitizer

run 120 hunt --format json --summary-json "$T/sum.json" --detection "$T/long.yml" "$T/long.xml"
check "1 MB value: both patterns match, nothing stopped" eval 'rc_is 0 && out_lines 1 && limited 0'
finish
