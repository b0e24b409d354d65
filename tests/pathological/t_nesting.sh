#!/bin/bash
# Deep nesting: 10^5 nested XML elements inside an event, 10^5 nested JSON arrays and objects
# inside a record, and 10^5 nested YAML sequences in a content file. Each is one clear warning
# (docs/limits.md: XML and JSON depth 64, YAML depth 64), the rest of the input is processed,
# nothing recurses on the C stack, and memory stays small.
. "$(dirname "$0")/lib.sh"
W1=$(sed -n 1p "$CRAFTED/worked_example.xml")
W2=$(sed -n 2p "$CRAFTED/worked_example.xml")

# XML: the nesting sits inside the EventData of an event between the two good ones
python3 - "$T/nest.xml" "$W1" "$W2" <<'PY'
import sys
out, g1, g2 = sys.argv[1:4]
bad = g1.replace("<EventData>", "<EventData>" + "<a>" * 100000 + "</a>" * 100000, 1)
open(out, "w").write(g1 + "\n" + bad + "\n" + g2 + "\n")
PY
run 60 hunt --format json --summary-json "$T/sum.json" "$T/nest.xml"
check "xml 10^5 nesting: exit 0" rc_is 0
check "xml 10^5 nesting: the two good rows" out_lines 2
check "xml 10^5 nesting: warned" err_has "nested too deeply"
check "xml 10^5 nesting: RSS < 100 MB" rss_below_mb 100
check "xml 10^5 nesting: no sanitizer report" no_sanitizer

# XML at the limit: 60 levels inside EventData is still a good event (3 rows)
python3 - "$T/nest60.xml" "$W1" "$W2" <<'PY'
import sys
out, g1, g2 = sys.argv[1:4]
ok = g2.replace("<EventData>", "<EventData>" + "<a>" * 58 + "</a>" * 58, 1).replace("test=C:", "test2=C:")
open(out, "w").write(g1 + "\n" + ok + "\n" + g2 + "\n")
PY
run 60 hunt --format json "$T/nest60.xml"
check "xml nesting under the limit: 3 rows, no warning" eval 'rc_is 0 && out_lines 3 && ! err_has "nested too deeply"'

# JSON: NXLog Sysmon records with a deeply nested extra member
python3 - "$CRAFTED/nxlog.json" "$T/nest.json" <<'PY'
import sys
lines = [l for l in open(sys.argv[1], encoding="utf-8").read().splitlines() if "net" in l and "share" in l]
g1, g2 = lines[0], lines[1]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write(g1 + "\n")
    f.write(g2[:-1] + ', "x": ' + "[" * 100000 + "]" * 100000 + "}\n")
    f.write(g2[:-1] + ', "x": ' + '{"a": ' * 100000 + "1" + "}" * 100000 + "}\n")
PY
run 60 hunt --format json --summary-json "$T/sum.json" "$T/nest.json"
check "json 10^5 nesting: exit 0" rc_is 0
check "json 10^5 nesting: the good record's row" out_lines 1
check "json 10^5 nesting: both warned with line" eval 'err_has "line 2: nesting deeper than 64" && err_has "line 3: nesting deeper than 64"'
check "json 10^5 nesting: counted malformed" python3 -c "import json,sys; sys.exit(json.load(open('$T/sum.json'))['malformed'] != 2)"
check "json 10^5 nesting: RSS < 100 MB" rss_below_mb 100
check "json 10^5 nesting: no sanitizer report" no_sanitizer

# YAML: a local detection file nested 10^5 deep is skipped with a content warning; the shipped
# detection still runs (a local folder where nothing at all loads is a content error, so it also
# holds a good macro)
mkdir -p "$T/local/detections" "$T/local/macros"
cp "$SRC/content/macros/process_net.yml" "$T/local/macros/"
python3 -c "print('name: deep'); print('x: ' + '[' * 100000 + ']' * 100000)" >"$T/local/detections/deep.yml"
run 60 hunt --format json --verbose --local "$T/local" "$CRAFTED/worked_example.xml"
check "yaml 10^5 nesting: exit 0, the seed's 2 rows" eval 'rc_is 0 && out_lines 2'
check "yaml 10^5 nesting: content warning names the file" err_has "deep.yml: YAML nesting deeper than 64"
check "yaml 10^5 nesting: no sanitizer report" no_sanitizer
finish
