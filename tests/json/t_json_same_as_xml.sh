#!/bin/bash
# The same events written as XmlWinEventLog, NXLog-style flat JSON lines and winlogbeat 7 JSON
# lines (tools/gen/escudo-gen, same seed) give byte-identical hunt rows in both profiles, with
# no warning; and the crafted JSON files give their expected rows (issue 4 acceptance).
set -euo pipefail
src="${ESC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
data="${ESC_SHARED_DATA:-$src/../shared/data}"
escudo="${ESCUDO:-$src/build/escudo}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for f in xml nxlog winlogbeat; do
    python3 "$src/tools/gen/escudo-gen" --format "$f" --events 20000 --seed 11 \
        --match-rate 0.01 --sources otrf,crafted -q -o "$work/ev.$f"
done
for p in splunk native; do
    for f in xml nxlog winlogbeat; do
        "$escudo" hunt --profile "$p" --format json --summary-json "$work/$f.$p.sum" \
            "$work/ev.$f" >"$work/$f.$p.out" 2>"$work/$f.$p.err"
        python3 - "$work/$f.$p.sum" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["events"] == 20000, s
assert s["malformed"] == 0 and s["warnings"] == 0, s
assert s["rows"] > 50, s
PY
    done
    cmp "$work/xml.$p.out" "$work/nxlog.$p.out"
    cmp "$work/xml.$p.out" "$work/winlogbeat.$p.out"
    echo "$p: $(wc -l <"$work/xml.$p.out") rows, identical from XML, flat JSON and winlogbeat JSON"
    for f in nxlog.json winlogbeat.json crowdstrike.json; do
        "$escudo" hunt --profile "$p" --format json "$data/crafted/$f" 2>/dev/null \
            | cmp - "$data/crafted/expected/$f.$p.jsonl"
    done
    echo "$p: crafted JSON files give their expected rows"
done
