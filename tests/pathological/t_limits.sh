#!/bin/bash
# Limits without a test elsewhere (docs/limits.md): data fields per XML and JSON record, values
# per JSON record, content file size, YAML node count, YAML aliases, search nesting and terms.
. "$(dirname "$0")/lib.sh"
W1=$(sed -n 1p "$CRAFTED/worked_example.xml")

# XML: 1,100 data fields before the real ones. dump (every field wanted) keeps the first 1,024;
# hunt counts only the fields a mapping reads, so the event still gives its row.
python3 - "$T/fields.xml" "$W1" <<'PY'
import sys
out, g = sys.argv[1:3]
extra = "".join("<Data Name='F%d'>v</Data>" % i for i in range(1100))
open(out, "w").write(g.replace("<EventData>", "<EventData>" + extra, 1) + "\n")
PY
run 30 dump "$T/fields.xml"
check "xml 1,100 fields: dump keeps 1,024" eval 'rc_is 0 && [ "$(grep -o "Name=.F[0-9]*." "$T/out" | wc -l)" -eq 1024 ]'
run 30 hunt --format json "$T/fields.xml"
check "xml 1,100 fields: hunt still gives the row" eval 'rc_is 0 && out_lines 1 && no_sanitizer'

# JSON: 1,100 top-level fields (dump: the record is skipped with a warning; hunt reads only the
# fields it maps and keeps it), and 70,000 top-level values (> 65,536: skipped everywhere)
python3 - "$CRAFTED/nxlog.json" "$T/fields.json" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8").read().splitlines() if "net" in l and "share" in l]
o = json.loads(lines[0])
for i in range(1100):
    o["F%d" % i] = "v"
p = json.loads(lines[1])
for i in range(70000):
    p["K%d" % i] = 1
open(sys.argv[2], "w", encoding="utf-8").write(json.dumps(o) + "\n" + json.dumps(p) + "\n" + lines[1] + "\n")
PY
run 30 dump --format json "$T/fields.json"
check "json 1,100 fields: dump skips the record with a warning" err_has "line 1: more than 1024 data fields"
check "json 70,000 values: dump skips the record with a warning" err_has "line 2: too many values (more than 65536)"
run 30 hunt --format json --summary-json "$T/sum.json" "$T/fields.json"
check "json fields/values: hunt keeps line 1 and 3, skips line 2" eval 'rc_is 0 && out_lines 2 && err_has "line 2: too many values (more than 65536)"'
check "json fields/values: no sanitizer report" no_sanitizer

# content: a local detection file over 4 MiB is skipped with a content warning
mkdir -p "$T/big/detections" "$T/big/macros"
cp "$SRC/content/macros/process_net.yml" "$T/big/macros/"
detection "$T/big/detections/big.yml" "big file" "| tstats count from datamodel=Endpoint.Processes by Processes.dest"
python3 -c "
import sys
with open(sys.argv[1], 'a') as f:
    for i in range(50000): f.write('# ' + 'p' * 98 + '\n')" "$T/big/detections/big.yml"
run 60 hunt --format json --verbose --local "$T/big" "$CRAFTED/worked_example.xml"
check "content file over 4 MiB: skipped with a warning" eval 'rc_is 0 && err_has "big.yml: file is larger than 4194304 bytes; skipped" && out_lines 2'

# YAML: more than 10^6 nodes in one file (under 4 MiB) is a content warning; the file is skipped
mkdir -p "$T/nodes/detections" "$T/nodes/macros"
cp "$SRC/content/macros/process_net.yml" "$T/nodes/macros/"
python3 -c "
import sys
open(sys.argv[1], 'w').write('name: nodes\nx: [' + ','.join(['1'] * 1100000) + ']\n')" "$T/nodes/detections/nodes.yml"
run 60 hunt --format json --verbose --local "$T/nodes" "$CRAFTED/worked_example.xml"
check "YAML over 10^6 nodes: skipped with a warning" eval 'rc_is 0 && err_has "more than 1000000 YAML nodes" && out_lines 2'
check "YAML over 10^6 nodes: RSS < 512 MB, no sanitizer report" eval 'rss_below_mb 512 && no_sanitizer'

# YAML aliases (a "billion laughs" file): aliases are null nodes, nothing is expanded
mkdir -p "$T/laughs/macros"
python3 - "$T/laughs/macros/lol.yml" <<'PY'
import sys
lines = ["name: lol", "description: x", "definition: search *", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
for i in range(1, 10):
    lines.append("a%d: &a%d [%s]" % (i, i, ",".join(["*a%d" % (i - 1)] * 10)))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
run 30 hunt --format json --local "$T/laughs" "$CRAFTED/worked_example.xml"
check "YAML aliases: no expansion (2 rows, small memory)" eval 'rc_is 0 && out_lines 2 && rss_below_mb 100 && no_sanitizer'

# searches: 150 nested parentheses (> 100), 10,001 OR terms (> 10,000)
detection "$T/nest.yml" "nest 150" "| tstats count from datamodel=Endpoint.Processes where $(printf '(%.0s' $(seq 150))Processes.dest=*$(printf ')%.0s' $(seq 150)) by Processes.dest"
run 30 hunt --format json --detection "$T/nest.yml" "$CRAFTED/worked_example.xml"
check "search nested 150 deep: exit 2 with the limit" eval 'rc_is 2 && err_has "nested deeper than 100"'
python3 -c "print('| tstats count from datamodel=Endpoint.Processes where ' + ' OR '.join('Processes.dest=h%d' % i for i in range(10001)) + ' by Processes.dest')" >"$T/terms.spl"
detection "$T/terms.yml" "terms 10001" "@$T/terms.spl"
run 30 hunt --format json --detection "$T/terms.yml" "$CRAFTED/worked_example.xml"
check "search with 10,001 terms: exit 2 with the limit" eval 'rc_is 2 && err_has "more than 10000 terms"'
check "searches: no sanitizer report" no_sanitizer
finish
