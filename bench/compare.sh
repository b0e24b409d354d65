#!/usr/bin/env bash
# Two builds of escudo on the same inputs in one run: a change's throughput against the build
# before it (issue-level "unchanged within noise" checks). Uses the inputs `make bench` caches
# in bench/data (run `make bench` once first) and prints a markdown table on stdout.
#
#   bash bench/compare.sh OLD_ESCUDO [NEW_ESCUDO]     (NEW defaults to build/escudo)
#
# Environment: BENCH_DATA (default bench/data), BENCH_RUNS (default 5), ESC_SHARED_DATA.
# Each command is timed by hyperfine, OLD and NEW interleaved in one invocation, page cache
# warm; the table gives both medians and NEW/OLD.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
old=${1:?usage: bench/compare.sh OLD_ESCUDO [NEW_ESCUDO]}
new=${2:-$root/build/escudo}
data=${BENCH_DATA:-$here/data}
shared=${ESC_SHARED_DATA:-$root/../shared/data}
runs=${BENCH_RUNS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

xml=$(ls "$data"/xml-1G-seed*.xml 2>/dev/null | head -1)
json=$(ls "$data"/json-2x1G-seed*.json 2>/dev/null | head -1)
evtx=$data/evtx-bench.evtx
for f in "$xml" "$json" "$evtx"; do
    [ -n "$f" ] && [ -f "$f" ] || { echo "compare: run make bench once to make the inputs" >&2; exit 2; }
done

# name|arguments (after the binary)
cases=(
    "hunt 1 GiB XML, seed detection|hunt --quiet --format json $xml"
    "hunt 1 GiB XML, ESCU Processes content|hunt --quiet --format json --content $shared/escu $xml"
    "hunt 2 GiB JSON lines, seed detection|hunt --quiet --format json $json"
    "hunt 500 MB EVTX, seed detection|hunt --quiet --format json $evtx"
    "dump 500 MB EVTX to JSON, 1 thread|dump --format json --threads 1 $evtx"
)
median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(" ".join("%.3f" % x["median"] for x in r))' "$1"; }

echo "| command | old (s) | new (s) | new/old |"
echo "|---|---|---|---|"
for c in "${cases[@]}"; do
    name=${c%%|*}
    args=${c#*|}
    echo "compare: $name" >&2
    cat "$xml" "$json" "$evtx" >/dev/null 2>&1 || true
    hyperfine -N --warmup 1 --runs "$runs" --export-json "$tmp/r.json" \
        "$old $args" "$new $args" >/dev/null
    read -r a b <<<"$(median "$tmp/r.json")"
    printf '| %s | %s | %s | %.2f |\n' "$name" "$a" "$b" "$(python3 -c "print($b/$a)")"
done
echo
echo "Reproduce: \`bash bench/compare.sh OLD_ESCUDO build/escudo\` ($runs runs each, medians)."
