#!/bin/bash
# ctest-label: slow (70 s under the sanitizers; the ASan run covers the same planner and executor
# through test_spl_golden, test_spl_escu and the pins)
# Golden tests of ESCU detections, one folder per detection (tests/detections/<file stem>/):
#   detection      its id
#   fire.xml       crafted events the detection must report (fire.json for CrowdStrike JSON)
#   miss.xml       near-misses derived from its search: alone they must give no row (miss.json)
#   expected.json  `escudo hunt --content ESCU --detection <id> --format json FIRE MISS`,
#                  checked by hand once against the search, then pinned
#   README.md      the search and why each event fires or not
#   content        optional: the folder of ../shared/data holding the detection (default escu)
# Any difference fails. Also checks that every tested detection is `supported` by lint.
set -u
ESCUDO=${ESCUDO:-build/escudo}
SRC=${ESC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DATA=${ESC_SHARED_DATA:-$SRC/../shared/data}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0 n=0
for dir in "$SRC"/tests/detections/*/; do
    name=$(basename "$dir")
    [ -f "$dir/detection" ] || continue
    n=$((n + 1))
    id=$(cat "$dir/detection")
    set=escu
    [ -f "$dir/content" ] && set=$(cat "$dir/content")
    ESCU=$DATA/$set
    if [ ! -f "$T/lint.$set.json" ]; then
        "$ESCUDO" lint --content "$ESCU" --format json >"$T/lint.$set.json" ||
            { echo "FAIL: lint $set"; exit 1; }
    fi
    fire=$(ls "$dir"fire.* | head -1)
    miss=$(ls "$dir"miss.* | head -1)
    ok=1
    if ! grep -q "\"id\": \"$id\".*\"supported\": true" "$T/lint.$set.json"; then
        echo "FAIL: $name: lint does not call $id supported"
        ok=0
    fi
    args=(hunt --content "$ESCU" --detection "$id" --format json --quiet)
    "$ESCUDO" "${args[@]}" "$miss" >"$T/miss.json" 2>"$T/miss.err"
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$T/miss.json" ]; then
        echo "FAIL: $name: near-misses gave rows or exit $rc:"
        cat "$T/miss.json" "$T/miss.err"
        ok=0
    fi
    "$ESCUDO" "${args[@]}" "$fire" "$miss" >"$T/got.json" 2>"$T/got.err"
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "FAIL: $name: exit $rc"
        cat "$T/got.err"
        ok=0
    elif [ ! -s "$T/got.json" ]; then
        echo "FAIL: $name: nothing fired"
        ok=0
    elif ! diff -u "$dir/expected.json" "$T/got.json"; then
        echo "FAIL: $name: rows differ from expected.json"
        ok=0
    fi
    if [ $ok = 1 ]; then echo "ok: $name"; else fail=1; fi
done
if [ $n -lt 20 ]; then
    echo "FAIL: only $n detection folders"
    fail=1
fi
echo "$n detections"
exit $fail
