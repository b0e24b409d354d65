#!/bin/bash
# Smoke run of the JSON reader's fuzz target: a fixed number of executions from seeds made of
# the shared JSON files, when the fuzz build exists (make fuzz: build-fuzz/ next to the build
# directory, or FUZZ_JSON=path); otherwise a note and success. Any crash fails the test.
set -euo pipefail
build="${ESC_BUILD_DIR:-build}"
fz="${FUZZ_JSON:-$build/../build-fuzz/fuzz_json}"
data="${ESC_SHARED_DATA:-$(dirname "$0")/../../../shared/data}"
if [ ! -x "$fz" ]; then
    echo "note: $fz is not built (make fuzz); JSON fuzz smoke run skipped"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/seed" "$work/corpus"
i=0
for f in "$data"/json/otrf/cmd_bitsadmin*.json "$data"/json/otrf/empire_enable_rdp*.json \
         "$data"/crafted/*.json; do
    for opt in '\x00\x00' '\x07\x01' '\xff\x02' '\x03\x81'; do
        i=$((i + 1))
        { printf "$opt"; head -c 4000 "$f"; } > "$work/seed/s$i"
    done
done
printf '\x01\x00[{"EventID":1,"SourceName":"S","A":"\\u00e9\\ud83d\\ude00"},\n{"x":[[[1]]]}]' \
    > "$work/seed/array"
"$fz" -runs=5000 -seed=1 -max_len=4096 -rss_limit_mb=2048 \
    -artifact_prefix="$work/" "$work/corpus" "$work/seed" > "$work/log" 2>&1 || {
    tail -40 "$work/log"
    exit 1
}
grep -E '^Done|stat::number_of_executed_units' "$work/log" || tail -2 "$work/log"
