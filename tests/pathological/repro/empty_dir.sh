#!/bin/bash
# Reproducer: an empty input directory makes src/ingest/walk.c call qsort(NULL, 0, ...)
# (walk.c:106), undefined behaviour that UBSan reports and that ends the ASan build's run with
# exit 1. Expected: exit 0, no rows. usage: bash repro/empty_dir.sh build-asan/escudo
ESCUDO=${1:-build-asan/escudo}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$ESCUDO" hunt --format json "$T"
echo "exit $?"
