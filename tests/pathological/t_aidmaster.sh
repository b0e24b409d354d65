#!/bin/bash
# Host inventory sizes (docs/limits.md): a 10^5-entry --aidmaster file loads quickly and the last
# record for an aid wins; more than 100,000 CrowdStrike records waiting for their host name
# (held records) are not all kept: past the cap they are processed at once with dest unknown and
# counted in unresolved_hosts, never dropped.
. "$(dirname "$0")/lib.sh"
PR=$(grep '"ProcessRollup2"' "$CRAFTED/crowdstrike.json" | grep -v device_hostname | grep -v aid_computer_name | head -1)
[ -n "$PR" ] || { echo "FAIL: no ProcessRollup2 sample"; exit 1; }

# 10^5 aidmaster entries; the event's aid is entry 77777, given twice (the last one wins)
python3 - "$T/aidmaster.json" "$T/events.json" "$PR" <<'PY'
import json, sys
am, evs, pr = sys.argv[1:4]
with open(am, "w") as f:
    for i in range(100000):
        f.write(json.dumps({"aid": "%032x" % i, "ComputerName": "HOST-%d" % i}) + "\n")
    f.write(json.dumps({"aid": "%032x" % 77777, "ComputerName": "LAST-77777"}) + "\n")
o = json.loads(pr)
o["aid"] = "%032x" % 77777
open(evs, "w").write(json.dumps(o) + "\n")
PY
run 60 hunt --format json --aidmaster "$T/aidmaster.json" "$T/events.json"
check "10^5 aidmaster: exit 0" rc_is 0
check "10^5 aidmaster: the last entry for the aid names the host" grep -q '"dest": "LAST-77777"' "$T/out"
check "10^5 aidmaster: RSS < 200 MB" rss_below_mb 200
check "10^5 aidmaster: no sanitizer report" no_sanitizer

# 100,100 events for an aid whose inventory record comes last: the first 100,000 are held and
# resolved, the last 100 are not held (dest unknown); all are counted
python3 - "$T/held.json" "$PR" <<'PY'
import json, sys
out, pr = sys.argv[1:3]
o = json.loads(pr)
o["aid"] = "f" * 32
with open(out, "w") as f:
    for i in range(100100):
        o["CommandLine"] = "net share s%d" % i
        f.write(json.dumps(o) + "\n")
    f.write(json.dumps({"aid": "f" * 32, "ComputerName": "LATE-HOST"}) + "\n")
PY
detection "$T/bydest.yml" "held by dest" "| tstats count from datamodel=Endpoint.Processes by Processes.dest"
run 120 hunt --format json --summary-json "$T/sum.json" --detection "$T/bydest.yml" "$T/held.json"
check "held cap: exit 0" rc_is 0
check "held cap: 100,000 resolved" grep -q '"Processes.dest": "LATE-HOST", "count": 100000' "$T/out"
check "held cap: 100 past the cap with dest unknown" grep -q '"Processes.dest": "unknown", "count": 100' "$T/out"
check "held cap: counted as unresolved" python3 -c "import json,sys; s=json.load(open('$T/sum.json')); sys.exit(not (s['process_events'] == 100100 and s['unresolved_hosts'] == 100))"
check "held cap: no sanitizer report" no_sanitizer
finish
