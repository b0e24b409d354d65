#!/bin/bash
# Reproducer: an input file more than 256 directories below the named folder is left out with
# no warning and no count (src/ingest/walk.c returns ESC_OK for depth > MAX_DEPTH without
# incrementing `skipped`). Expected: 4 rows, or 2 rows and a warning; actual: 2 rows, silence.
# usage: bash repro/deep_dirs.sh path/to/escudo
ESCUDO=${1:-build/escudo}
DATA=${ESC_SHARED_DATA:-$(cd "$(dirname "$0")/../../.." && pwd)/../shared/data}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
p=$T/top
for _ in $(seq 300); do p=$p/d; done
mkdir -p "$p"
cp "$DATA/crafted/worked_example.xml" "$T/top/"
sed 's/test=C:/deep=C:/g' "$DATA/crafted/worked_example.xml" >"$p/deep.xml"
"$ESCUDO" hunt --format json "$T/top" | wc -l
