#!/bin/bash
# The hunt summary says how many detections ran and how many were skipped, and why (issue 16,
# problem 4), on stderr and not only in --summary-json; without --content it says that only the
# shipped example ran and how to load ESCU content.
. "$(dirname "$0")/lib.sh"
X=$DATA/crafted/worked_example.xml

# from the issue: `hunt ../shared/data/evtx` (one file of it here, and the crafted sample)
EVTX=$(find "$DATA/evtx" -name '*.evtx' | sort | head -1)
"$ESCUDO" hunt "$EVTX" "$X" >/dev/null 2>"$T/err"
grep -q "^escudo: detections 1, skipped 0$" "$T/err" && ok "shipped: detections 1, skipped 0" ||
    bad "shipped: no detection count ($(cat "$T/err"))"
grep -q "only the shipped example detection ran" "$T/err" && grep -q -- "--content" "$T/err" &&
    ok "shipped: says only the example ran, and how to load ESCU" || bad "shipped: no hint"

"$ESCUDO" hunt --content "$DATA/escu" --summary-json "$T/s.json" "$X" >/dev/null 2>"$T/err"
line=$(grep "^escudo: detections " "$T/err")
python3 - "$T/s.json" "$line" <<'PY' && ok "ESCU: the counts of --summary-json, and why" || bad "ESCU: $line"
import json, re, sys
s = json.load(open(sys.argv[1]))
m = re.match(r"escudo: detections (\d+), skipped (\d+): (.*)$", sys.argv[2])
assert m, sys.argv[2]
assert int(m.group(1)) == s["detections"] and int(m.group(2)) == s["detections_skipped"] > 0
parts = m.group(3).split(", ")
assert sum(int(p.split(" ", 1)[0]) for p in parts) == s["detections_skipped"], parts
assert parts and all(re.match(r"\d+ \S", p) for p in parts), parts
PY
# hunt and lint agree: the detections hunt runs less those reading a non-Windows source are
# the ones lint calls supported
sup=$("$ESCUDO" lint --content "$DATA/escu" 2>/dev/null | sed -n 's/^[0-9]* detections, \([0-9]*\) supported.*/\1/p')
ran=$(echo "$line" | sed -n 's/^escudo: detections \([0-9]*\),.*/\1/p')
unm=$(sed -n 's/^escudo: \([0-9]*\) of them read a source that is not a Windows one.*/\1/p' "$T/err")
[ -n "$sup" ] && [ -n "$unm" ] && [ $((ran - unm)) -eq "$sup" ] &&
    ok "hunt and lint agree: $ran ran, $unm read no mapped source, lint: $sup supported" ||
    bad "hunt ($ran ran, '${unm}' unmapped) and lint ($sup supported) disagree"
grep -q "only the shipped example" "$T/err" && bad "ESCU: says only the example ran" ||
    ok "ESCU: no shipped-example note"
"$ESCUDO" hunt --quiet --content "$DATA/escu" "$X" >/dev/null 2>"$T/err"
[ ! -s "$T/err" ] && ok "--quiet: nothing on stderr" || bad "--quiet: $(cat "$T/err")"
[ $fail -eq 0 ] && echo "hunt summary: all passed"
exit $fail
