#!/usr/bin/env bash
# ctest-label: heavy
# Replaying 10^7 events through `escudo run` keeps peak memory under 100 MB (issue 6).
# A quick generator (tests/run/gen_stream.py: Sysmon EventID 1, 100 a second, one in 1000 a
# net share command) pipes 10^7 events (about 6 GB) into `run -` with the replay clock; the
# run keeps only matching records, fires the 28 hourly windows and must stay under 100 MB
# resident (GNU time's maximum resident set size). ESC_RUN_RSS_EVENTS overrides the count.
set -euo pipefail
ESCUDO=${ESCUDO:-build/escudo}
SRC=${ESC_SOURCE_DIR:-$(dirname "$0")/../..}
N=${ESC_RUN_RSS_EVENTS:-10000000}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
python3 "$SRC/tests/run/gen_stream.py" --events "$N" --start 2024-03-06T00:00:00Z |
    /usr/bin/time -v "$ESCUDO" run --enable 743a322c-9a68-4a0f-9c17-85d9cce2a27c \
        --state "$d/st" --clock-speed max --clock-start 2024-03-05T23:00:00Z \
        --once-until 2024-03-07T06:00:00Z --notables "$d/n.jsonl" - 2>"$d/err"
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$d/err")
notables=$(wc -l <"$d/n.jsonl")
echo "run: $N events, $notables notables, peak RSS $rss kB"
grep '^escudo:' "$d/err" || true
[ "$notables" -gt 0 ] || { echo "FAIL: no notables"; exit 1; }
[ "$rss" -lt 102400 ] || { echo "FAIL: peak RSS $rss kB is not under 100 MB"; exit 1; }
