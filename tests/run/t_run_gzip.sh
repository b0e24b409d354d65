#!/usr/bin/env bash
# A gzip input (streamed whole, offsets in the decompressed stream) replayed by `run` in two
# invocations (a restart in the middle re-reads the file and skips what was consumed) gives
# exactly the notables of `hunt` over each scheduled window.
set -euo pipefail
ESCUDO=${ESCUDO:-build/escudo}
DATA=${ESC_SHARED_DATA:-$(dirname "$0")/../../../shared/data}
SEED=743a322c-9a68-4a0f-9c17-85d9cce2a27c
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cp "$DATA/crafted/mixed.xml.gz" "$d/in.xml.gz"
run() {
    "$ESCUDO" run --enable $SEED --quiet --state "$d/st" --clock-speed max --clock-start "$1" \
        --once-until "$2" --notables "$d/run.jsonl" "$d/in.xml.gz"
}
run 2024-03-06T08:00:00Z 2024-03-06T11:00:00Z
run 2024-03-06T11:00:00Z 2024-03-06T14:00:00Z
for h in 9 10 11 12 13 14; do
    "$ESCUDO" hunt --detection $SEED --quiet --format json \
        --earliest "$(printf '2024-03-06T%02d:50:00Z' $((h - 2)))" \
        --latest "$(printf '2024-03-06T%02d:50:00Z' $((h - 1)))" \
        --now "$(printf '2024-03-06T%02d:00:00Z' $h)" --notables "$d/hunt.jsonl" --db "$d/hunt.db" "$d/in.xml.gz" >/dev/null
done
n=$(wc -l <"$d/hunt.jsonl")
[ "$n" -gt 0 ] || { echo "FAIL: hunt made no notables"; exit 1; }
if ! diff <(sort "$d/hunt.jsonl") <(sort "$d/run.jsonl") >/dev/null; then
    echo "FAIL: run over gzip differs from hunt ($(wc -l <"$d/run.jsonl") vs $n lines)"
    exit 1
fi
echo "run gzip: $n notables, same as hunt"
