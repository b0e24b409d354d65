#!/bin/bash
# Every crafted input gives exactly its expected rows (SPEC sections 2-5), in both profiles.
# The expected files were derived from SPEC.md by an independent implementation and are
# compared byte for byte with `escudo hunt --format json`.
set -u
ESCUDO=${ESCUDO:-build/escudo}
DATA=${ESC_SHARED_DATA:-../shared/data}/crafted
fail=0; pass=0
for exp in "$DATA"/expected/*.jsonl; do
    base=$(basename "$exp" .jsonl)       # e.g. sysmon.xml.splunk
    profile=${base##*.}
    input=$DATA/${base%.*}
    out=$("$ESCUDO" hunt --quiet --format json --profile "$profile" "$input")
    if [ "$out" == "$(cat "$exp")" ]; then
        pass=$((pass + 1))
    else
        echo "FAIL: $base"
        diff <(echo "$out") "$exp" | head -20
        fail=$((fail + 1))
    fi
done
echo "crafted: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
