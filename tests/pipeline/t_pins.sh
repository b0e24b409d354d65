#!/usr/bin/env bash
# The outputs of hunt, run and test on ../shared/data, pinned: rows, notables, risk events, the
# SQLite store's contents, escudo test's JSON report and JUnit. They were taken before hunt, run
# and test were moved onto one engine loop and one action step, and any change to what the three
# commands produce shows here as a diff. Timings are the only thing normalised away.
#
#   bash tests/pipeline/t_pins.sh            compare with tests/pipeline/pins/
#   bash tests/pipeline/t_pins.sh --update   write the pins anew (then read the diff by hand)
set -euo pipefail
ESCUDO=${ESCUDO:-build/escudo}
SRC=${ESC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DATA=${ESC_SHARED_DATA:-$SRC/../shared/data}
PINS=$SRC/tests/pipeline/pins
SEED=743a322c-9a68-4a0f-9c17-85d9cce2a27c
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
out=$d/out
mkdir -p "$out"

# The SQLite store as escudo notables and escudo risk read it back.
store() {
    "$ESCUDO" notables --db "$d/$1.db" --format json >"$out/$1.db.notables.jsonl"
    "$ESCUDO" risk --db "$d/$1.db" --format json >"$out/$1.db.risk.jsonl"
}

# hunt: every ESCU Processes detection over every real and crafted input, all sinks on.
"$ESCUDO" hunt --quiet --format json --content "$DATA/escu" --now 2025-01-01T00:00:00Z \
    --notables "$out/hunt.notables.jsonl" --risk "$out/hunt.risk.jsonl" --db "$d/hunt.db" \
    "$DATA/evtx" "$DATA/json/otrf" "$DATA/crafted" "$DATA/sigma-regression" >"$out/hunt.rows.jsonl"
store hunt
# hunt, native profile, one window, CSV.
"$ESCUDO" hunt --quiet --format csv --profile native --content "$DATA/escu" \
    --now 2024-03-06T12:00:00Z --earliest -30d --latest now \
    "$DATA/crafted" >"$out/hunt.native.csv"

# run: the seed and ESCU detections on their schedule over a generated stream and the crafted
# files, simulated clock, in two invocations (a restart in the middle), all sinks on.
python3 "$SRC/tests/run/gen_stream.py" --events 20000 --eps 1 --every 50 >"$d/base.xml"
cp "$DATA/crafted/sysmon.xml" "$DATA/crafted/security.xml" "$DATA/crafted/mixed.xml.gz" "$d/"
run() {
    "$ESCUDO" run --quiet --content "$SRC/content" --content "$DATA/escu" --enable $SEED \
        --enable 'Excessive Usage Of Net App' --enable 'Net Localgroup Discovery' \
        --state "$d/st" --clock-speed max --clock-start "$1" --once-until "$2" \
        --notables "$out/run.notables.jsonl" --risk "$out/run.risk.jsonl" --db "$d/run.db" \
        "$d/base.xml" "$d/sysmon.xml" "$d/security.xml" "$d/mixed.xml.gz"
}
run 2024-03-06T00:00:00Z 2024-03-06T04:00:00Z
run 2024-03-06T04:00:00Z 2024-03-06T16:00:00Z
store run

# test: static validation of ESCU, and the seed replayed (unit and integration) from a data root.
"$ESCUDO" test --content "$DATA/escu" --junit "$out/test.escu.junit.xml" --format json \
    >"$out/test.escu.jsonl" 2>/dev/null || true
root=$d/attack_data/datasets/attack_techniques/T1070.005/atomic_red_team
mkdir -p "$root"
cp "$SRC/tests/data/attack/T1070.005/windows-sysmon.log" "$root/"
"$ESCUDO" test --content "$DATA/escu" --data-root "$d/attack_data" --format json \
    --junit "$out/test.seed.junit.xml" "Create or delete windows shares using net exe" \
    >"$out/test.seed.jsonl" 2>/dev/null
# Timings vary; paths depend on where the clone and the data are.
python3 - "$out" "$DATA" "$d" <<'PY'
import os, re, sys
out, data, tmp = sys.argv[1:]
for name in os.listdir(out):
    if not name.startswith("test."):
        continue
    p = os.path.join(out, name)
    s = open(p, encoding="utf-8").read().replace(data, "DATA").replace(tmp, "TMP")
    s = re.sub(r'"seconds": [0-9.]+', '"seconds": 0', s)
    s = re.sub(r'time="[0-9.]+"', 'time="0"', s)
    s = re.sub(r' timestamp="[^"]*"', "", s)
    open(p, "w", encoding="utf-8").write(s)
PY

if [ "${1:-}" = "--update" ]; then
    rm -rf "$PINS"
    mkdir -p "$PINS"
    for f in "$out"/*; do gzip -9n <"$f" >"$PINS/$(basename "$f").gz"; done
    echo "pins written: $(ls "$PINS" | wc -l) files"
    exit 0
fi
fail=0
for p in "$PINS"/*.gz; do
    name=$(basename "$p" .gz)
    if [ ! -f "$out/$name" ]; then
        echo "FAIL: $name was not produced"
        fail=1
    elif ! cmp -s <(gzip -dc "$p") "$out/$name"; then
        echo "FAIL: $name differs from its pin:"
        diff <(gzip -dc "$p") "$out/$name" | head -20 | cut -c1-300
        fail=1
    fi
done
n=$(ls "$PINS"/*.gz | wc -l)
[ "$fail" = 0 ] && echo "pins: $n outputs of hunt, run and test byte-identical"
exit $fail
