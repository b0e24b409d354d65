#!/bin/bash
# ctest-label: heavy (about 30 s of CPU: a million-entry host inventory, made and read twice;
# t_aidmaster.sh checks 10^5 entries in CI)
# The host inventory cap (docs/limits.md): 10^6 aidmaster entries are accepted, entry 10^6 + 1 is
# refused from --aidmaster (exit 3) and from the inputs (a warning), a known aid is still updated.
. "$(dirname "$0")/lib.sh"
W=$CRAFTED/worked_example.xml

# ---- host inventory (aidmaster) ---------------------------------------------------------------
# ESC_HOSTMAP_MAX is 10^6 hosts. From --aidmaster, entry 10^6 + 1 is an error naming the file and
# offset (exit 3). From aidmaster records among the inputs it is a warning with the path and
# offset (exit 0): that entry is not kept, a known aid is still updated.
PR=$(grep '"ProcessRollup2"' "$CRAFTED/crowdstrike.json" | grep -v device_hostname | grep -v aid_computer_name | head -1)
[ -n "$PR" ] || { echo "FAIL: no ProcessRollup2 sample"; exit 1; }
cat >"$T/am.py" <<'PY2'
import json, sys
# am.py FROM TO [PR]: entries FROM..TO-1, then aid 7 renamed HOST-7b, then PR (its aid is 7)
a, b, pr = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None
w = sys.stdout.write
for i in range(a, b):
    w('{"aid": "%032x", "ComputerName": "HOST-%d"}\n' % (i, i))
if pr:
    w('{"aid": "%032x", "ComputerName": "HOST-7b"}\n' % 7)
    o = json.loads(pr)
    o["aid"] = "%032x" % 7
    w(json.dumps(o) + "\n")
PY2
python3 "$T/am.py" 0 1000000 >"$T/am.json"
FULL=$(stat -c %s "$T/am.json") # the offset of entry 10^6 + 1
run 120 hunt --format json --aidmaster "$T/am.json" "$W"
check "aidmaster 10^6 entries: accepted" eval 'rc_is 0 && out_lines 2'
python3 "$T/am.py" 1000000 1000001 >>"$T/am.json"
run 120 hunt --format json --aidmaster "$T/am.json" "$W"
check "aidmaster 10^6+1 entries: exit 3 naming the file and offset, no rows" \
    eval 'rc_is 3 && out_lines 0 && err_has "$T/am.json: offset $FULL: host inventory is full"'
check "aidmaster 10^6+1 entries: RSS < 400 MB, no sanitizer report" eval 'rss_below_mb 400 && no_sanitizer'
rm -f "$T/am.json"
run_stdin 120 "python3 '$T/am.py' 0 1000001 '$PR'" hunt --format json --summary-json "$T/sum.json" -
check "aidmaster records on stdin, 10^6+1: a warning with the offset, exit 0" \
    eval 'rc_is 0 && err_has "escudo: warning: -: offset $FULL: host inventory is full"'
check "aidmaster records on stdin, full: a known aid is updated, the event resolves (HOST-7b)" \
    eval 'out_lines 1 && grep -q "\"dest\": \"HOST-7b\"" "$T/out"'
check "aidmaster records on stdin: RSS < 400 MB, no sanitizer report" eval 'rss_below_mb 400 && no_sanitizer'
finish
