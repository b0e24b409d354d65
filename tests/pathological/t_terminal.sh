#!/bin/bash
# Terminal injection (issue 19, item 12): escape sequences (ESC, OSC, BEL, CR) and newlines in
# file names and field values are shown visibly (\x1b, \x07, \r, \n) in everything printed for
# people: hunt warnings (a newline in a file name must not forge an "escudo:" line), the hunt
# table, the notables and risk tables, status. JSON and CSV keep the exact values, escaped by
# their own rules.
. "$(dirname "$0")/lib.sh"
ESC=$'\e'
BEL=$'\a'
CR=$'\r'
raw_controls() { # FILE: true when it holds ESC, BEL or CR bytes
    LC_ALL=C grep -q "[$ESC$BEL$CR]" "$1"
}

# 1. a file name with a newline that looks like an escudo line, an OSC title sequence and BEL
bad="$T/x
escudo: error: forged${ESC}]0;owned${BEL}.log"
printf 'not an event log\n' >"$bad"
run 30 hunt --format json "$bad"
check "hunt: a file name cannot forge an escudo: line" eval '! grep -q "^escudo: error: forged" "$T/err"'
check "hunt: no raw ESC/BEL/CR on stderr" eval '! raw_controls "$T/err"'
check "hunt: the name is shown escaped" grep -qF 'x\nescudo: error: forged\x1b]0;owned\x07.log' "$T/err"

# 2. field values with escape sequences: table escaped, JSON and CSV exact
python3 - "$T/ev.jsonl" <<'PY'
import json, sys
o = {"SourceName": "Microsoft-Windows-Sysmon", "EventID": 1,
     "Channel": "Microsoft-Windows-Sysmon/Operational", "TimeCreated": "2024-03-06T09:30:00.000Z",
     "@timestamp": "2024-03-06T09:30:00.000Z", "Image": "C:\\Windows\\System32\\net.exe",
     "OriginalFileName": "net.exe", "CommandLine": "net share x=c:\\ \x1b[2J\x1b]0;t\x07\r",
     "User": "CORP\\svc\x1b[31m", "ParentImage": "C:\\Windows\\System32\\cmd.exe",
     "ParentCommandLine": "cmd.exe", "Hostname": "WS1\x9b1m"}
open(sys.argv[1], "w").write(json.dumps(o) + "\n")
PY
run 30 hunt --format table "$T/ev.jsonl"
check "table: one row" eval 'rc_is 0 && [ "$(wc -l <"$T/out")" -eq 3 ]'
check "table: no raw ESC/BEL/CR" eval '! raw_controls "$T/out"'
check "table: escapes shown" grep -qF 'x=c:\ \x1b[2J\x1b]0;t\x07\r' "$T/out"
check "table: C1 control shown" grep -qF 'WS1\u009b1m' "$T/out"
run 30 hunt --format json "$T/ev.jsonl"
check "json: exact values" python3 -c "
import json, sys
r = json.loads(open('$T/out').read())
sys.exit(not (r['process'] == 'net share x=c:\\\\ \x1b[2J\x1b]0;t\x07\r' and r['dest'] == 'WS1\x9b1m'))"
run 30 hunt --format csv "$T/ev.jsonl"
check "csv: exact values (quoted, CR kept)" python3 -c "
import csv, sys
rows = list(csv.DictReader(open('$T/out', newline='', encoding='utf-8')))
sys.exit(not (len(rows) == 1 and rows[0]['process'] == 'net share x=c:\\\\ \x1b[2J\x1b]0;t\x07\r'))"

# 3. notables and risk tables read from the store
run 30 hunt --format json --now 1700000000 --db "$T/s.db" "$T/ev.jsonl"
run 30 risk --db "$T/s.db"
check "risk table: a row" eval 'rc_is 0 && grep -q "WS1" "$T/out"'
check "risk table: no raw ESC/BEL/CR" eval '! raw_controls "$T/out"'
run 30 risk --db "$T/s.db" --format json
check "risk json: exact values" eval 'grep -qF "\\u001b[31m" "$T/out"'
run 30 notables --db "$T/s.db"
check "notables table: no raw ESC/BEL/CR" eval 'rc_is 0 && ! raw_controls "$T/out"'

# 4. status: an input path with an escape sequence and a carriage return (run keeps no input
# whose name has a newline in its state)
cp "$T/ev.jsonl" "$T/in${ESC}[2J${CR}x.jsonl"
run 60 run --enable 743a322c-9a68-4a0f-9c17-85d9cce2a27c --clock-start 2024-03-06T09:00:00Z \
    --clock-speed max --once-until 2024-03-06T11:00:00Z --state "$T/st" --quiet \
    "$T/in${ESC}[2J${CR}x.jsonl"
run 30 status --state "$T/st"
check "status: input listed escaped" grep -qF 'in\x1b[2J\rx.jsonl' "$T/out"
check "status: no raw ESC/CR" eval '! raw_controls "$T/out"'
check "no sanitizer report" no_sanitizer
exit $fail
