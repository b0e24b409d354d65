#!/bin/bash
# escudo's own JSON dump read back: for every crafted file, `dump --format json` then `hunt` on
# the dump gives the file's expected rows in both profiles, and dumping a dump changes nothing
# (the dump shape of docs/json.md loses nothing the mapping reads).
set -euo pipefail
src="${ESC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
data="${ESC_SHARED_DATA:-$src/../shared/data}"
escudo="${ESCUDO:-$src/build/escudo}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for f in worked_example.xml sysmon.xml security.xml mixed.xml.gz nxlog.json winlogbeat.json \
         crowdstrike.json; do
    "$escudo" dump --strict --format json "$data/crafted/$f" >"$work/$f.dump.json"
    "$escudo" dump --strict --format json "$work/$f.dump.json" >"$work/$f.dump2.json"
    cmp "$work/$f.dump.json" "$work/$f.dump2.json"
    for p in splunk native; do
        "$escudo" hunt --strict --profile "$p" --format json "$work/$f.dump.json" 2>"$work/err" \
            | cmp - "$data/crafted/expected/$f.$p.jsonl" || { cat "$work/err"; exit 1; }
    done
done
echo "dump round trip: 7 crafted files, both profiles"
