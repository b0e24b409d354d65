#!/bin/bash
# hunt on EVTX files equals hunt on their XML rendering (escudo dump), in both profiles.
# Every EVTX sample of the shared data is dumped to XmlWinEventLog lines; `hunt` with the
# seed detection and with the reference content's all-process check (tests/ref/content: every
# process event becomes a row, so the whole CIM mapping is compared) must print the same rows for both inputs;
# so must every detection of escu-full together, over the evtx crate's samples too (1,522 rows on
# 2026-12-07; two of them Windows Event For Service Disabled's, over three of the evtx crate's
# 7040 events, whose whole-element field EventData_Xml says a service was disabled).
set -euo pipefail
: "${ESCUDO:?}" "${ESC_SHARED_DATA:?}" "${ESC_SOURCE_DIR:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/evtx"
i=0
while IFS= read -r f; do
    ln -s "$f" "$work/evtx/$(printf %04d $i).evtx"
    i=$((i + 1))
done < <(find "$ESC_SHARED_DATA/evtx" "$ESC_SHARED_DATA/sigma-regression" "$ESC_SHARED_DATA/evtx-rs" \
    -name '*.evtx' | sort)
"$ESCUDO" dump --format xml "$work/evtx" > "$work/all.xml" 2>/dev/null # damaged samples warn
[ -s "$work/all.xml" ] || { echo "t_evtx_hunt_xml: empty dump"; exit 1; }
fail=0
for profile in splunk native; do
    for det in 743a322c-9a68-4a0f-9c17-85d9cce2a27c 0d1f7c1e-5b3a-4c2e-9f61-3a7e2b8c4d10; do
        content=(--content "$ESC_SOURCE_DIR/content" --content "$ESC_SOURCE_DIR/tests/ref/content")
        "$ESCUDO" hunt --quiet "${content[@]}" --format json --profile $profile --detection "$det" \
            "$work/evtx" > "$work/a.json"
        "$ESCUDO" hunt --quiet "${content[@]}" --format json --profile $profile --detection "$det" \
            "$work/all.xml" > "$work/b.json"
        if ! cmp -s "$work/a.json" "$work/b.json"; then
            echo "t_evtx_hunt_xml: $profile $det: EVTX and XML rows differ"
            diff "$work/a.json" "$work/b.json" | head -10
            fail=1
        else
            echo "t_evtx_hunt_xml: $profile $det: $(wc -l < "$work/a.json") rows equal"
        fi
    done
done
"$ESCUDO" hunt --quiet --content "$ESC_SHARED_DATA/escu-full" --format json "$work/evtx" \
    2>/dev/null | sort > "$work/a.json"
"$ESCUDO" hunt --quiet --content "$ESC_SHARED_DATA/escu-full" --format json "$work/all.xml" \
    2>/dev/null | sort > "$work/b.json"
if [ ! -s "$work/a.json" ] || ! cmp -s "$work/a.json" "$work/b.json"; then
    echo "t_evtx_hunt_xml: escu-full: EVTX and XML rows differ"
    diff "$work/a.json" "$work/b.json" | head -10
    fail=1
else
    echo "t_evtx_hunt_xml: escu-full: $(wc -l < "$work/a.json") rows equal"
fi
exit $fail
