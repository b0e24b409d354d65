#!/usr/bin/env bash
# The CrowdStrike host inventory seen in the inputs is part of run's checkpoint ("@hosts"): an
# aidmaster record read before a restart still names the host of a process record read after it,
# in another file, with no --aidmaster. Without the saved inventory its dest would be unknown.
set -euo pipefail
ESCUDO=${ESCUDO:-build/escudo}
DATA=${ESC_SHARED_DATA:-$(dirname "$0")/../../../shared/data}
SEED=743a322c-9a68-4a0f-9c17-85d9cce2a27c
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
PR=$(grep '"ProcessRollup2"' "$DATA/crafted/crowdstrike.json" | grep -v device_hostname |
    grep -v aid_computer_name | grep 'share pub=' | head -1)
[ -n "$PR" ] || { echo "FAIL: no ProcessRollup2 sample"; exit 1; }
python3 - "$d" "$PR" <<'PY'
import json, sys
d, pr = sys.argv[1:3]
o = json.loads(pr)
o["aid"] = "a" * 32
with open(d + "/in1.json", "w") as f:   # the inventory record, then a share made at 09:16:55
    f.write(json.dumps({"aid": "a" * 32, "ComputerName": "HOST-FROM-INPUT"}) + "\n")
    f.write(json.dumps(o) + "\n")
o["timestamp"] = str(int(o["timestamp"]) + 7200 * 1000)          # 11:16:55, after the restart
o["ProcessStartTime"] = "%.3f" % (float(o["ProcessStartTime"]) + 7200)
o["CommandLine"] = o["CommandLine"].replace("pub=", "later=")
open(d + "/in2.json", "w").write(json.dumps(o) + "\n")
PY
run() {
    "$ESCUDO" run --enable $SEED --quiet --state "$d/st" --clock-speed max --clock-start "$1" \
        --once-until "$2" --notables "$d/run.jsonl" "${@:3}"
}
run 2024-03-06T09:00:00Z 2024-03-06T11:00:00Z "$d/in1.json"
n1=$(grep -c 'HOST-FROM-INPUT' "$d/run.jsonl" || true)
[ "$n1" -ge 1 ] || { echo "FAIL: the first notable does not name the host"; cat "$d/run.jsonl"; exit 1; }
run 2024-03-06T11:00:00Z 2024-03-06T13:00:00Z "$d/in1.json" "$d/in2.json"
later=$(grep 'later=' "$d/run.jsonl" || true)
[ -n "$later" ] || { echo "FAIL: no notable for the record read after the restart"; exit 1; }
if ! grep -q 'HOST-FROM-INPUT' <<<"$later"; then
    echo "FAIL: after a restart the saved inventory does not name the host: $later"
    exit 1
fi
echo "run hosts: the inventory seen before a restart resolves records read after it"
