#!/bin/bash
# The hunt's second stage: Risk.All_Risk over the risk events of the other detections of the same
# hunt (src/detect/risk_stage.c). Expected rows argued in README.md from the RBA search and the
# risk events' fields (docs/actions.md, docs/cim.md "Risk.All_Risk").
set -u
ESCUDO=${ESCUDO:-build/escudo}
SRC=${ESC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DATA=${ESC_SHARED_DATA:-$SRC/../shared/data}
HERE=$SRC/tests/risk
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
RBA="Windows Common Abused Cmd Shell Risk Behavior"
dets=(--detection "Icacls Deny Command" --detection "ICACLS Grant Command"
      --detection "Disabling Firewall with Netsh" --detection "Processes launching netsh"
      --detection "$RBA")
common=(hunt --content "$DATA/escu-full" --format json --quiet --now 2024-06-01T00:00:00Z)
"$ESCUDO" "${common[@]}" "${dets[@]}" "$HERE/events.xml" >"$T/all.json" || fail=1
grep '"ESCU - Windows Common Abused Cmd Shell Risk Behavior - Rule"' "$T/all.json" >"$T/got.json"
if ! diff -u "$HERE/expected.json" "$T/got.json"; then
    echo "FAIL: RBA rows differ from expected.json"
    fail=1
fi
# the first-stage rows are there too (7: 3 + 2 + ... as README.md lists)
n=$(grep -vc 'Risk Behavior' "$T/all.json")
[ "$n" = 7 ] || { echo "FAIL: $n first-stage rows, expected 7"; fail=1; }
# alone: no other detection ran, no risk events, no row
"$ESCUDO" "${common[@]}" --detection "$RBA" "$HERE/events.xml" >"$T/alone.json" || fail=1
[ -s "$T/alone.json" ] && { echo "FAIL: the RBA detection alone gave rows"; cat "$T/alone.json"; fail=1; }
# a window from 12:01:30: the first stage sees events 3 and 5 only: two sources per object
"$ESCUDO" "${common[@]}" "${dets[@]}" --earliest 2024-05-01T12:01:30Z "$HERE/events.xml" \
    >"$T/win.json" || fail=1
grep -q 'Risk Behavior' "$T/win.json" && { echo "FAIL: the window did not apply"; fail=1; }
[ $fail = 0 ] && echo ok
exit $fail
