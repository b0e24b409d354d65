#!/bin/bash
# Huge fields: a 50 MB JSON string value and a 100 MB XML value that spans many lines. Both are
# longer than the 16 MiB record cap (docs/limits.md): one warning with the place, the record is
# skipped, the good records around it still give their rows, and peak memory stays far below
# the size of the field. Also a 10 MB value under the cap, which is kept.
. "$(dirname "$0")/lib.sh"
W1=$(sed -n 1p "$CRAFTED/worked_example.xml")
W2=$(sed -n 2p "$CRAFTED/worked_example.xml")

python3 - "$CRAFTED/nxlog.json" "$T/huge.json" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8").read().splitlines() if "net" in l and "share" in l]
o = json.loads(lines[0])
o["CommandLine"] = "net share " + "x" * (50 << 20)
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write(json.dumps(o) + "\n" + lines[1] + "\n")
PY
run 60 hunt --format json --summary-json "$T/sum.json" "$T/huge.json"
check "json 50 MB string: exit 0" rc_is 0
check "json 50 MB string: the other record's row" out_lines 1
check "json 50 MB string: warned at line 1" err_has "line 1: record longer than 16777216 bytes"
check "json 50 MB string: RSS < 128 MB" rss_below_mb 128
check "json 50 MB string: no sanitizer report" no_sanitizer

# 100 MB of text in a Data value, as lines of 100 bytes (a pretty-printed value with newlines)
python3 - "$T/huge.xml" "$W1" "$W2" <<'PY'
import sys
out, g1, g2 = sys.argv[1:4]
head, tail = g1.split("<Data Name='CommandLine'>", 1)
with open(out, "w") as f:
    f.write(g2 + "\n")
    f.write(head + "<Data Name='CommandLine'>net share ")
    chunk = ("y" * 99 + "\n") * 10000
    for _ in range(100):
        f.write(chunk)
    f.write(tail.split("</Data>", 1)[1] + "\n")
    f.write(g1 + "\n")
PY
run 120 hunt --format json --summary-json "$T/sum.json" "$T/huge.xml"
check "xml 100 MB value: exit 0" rc_is 0
check "xml 100 MB value: the two good rows" out_lines 2
check "xml 100 MB value: warned" err_has "longer than 16777216 bytes"
check "xml 100 MB value: RSS < 128 MB" rss_below_mb 128
check "xml 100 MB value: no sanitizer report" no_sanitizer

# 10 MB under the cap: kept, the row carries the whole value
python3 - "$T/big.xml" "$W1" <<'PY'
import sys
out, g1 = sys.argv[1:3]
open(out, "w").write(g1.replace("net  share test=C:\\temp", "net  share " + "z" * (10 << 20), 1) + "\n")
PY
run 60 hunt --format json "$T/big.xml"
check "xml 10 MB value: kept (one row, no warning)" eval 'rc_is 0 && out_lines 1 && ! err_has "warning:"'
check "xml 10 MB value: the value is whole" eval '[ "$(head -c 20000000 "$T/out" | tr -cd z | wc -c)" -eq $((10 << 20)) ]'
check "xml 10 MB value: no sanitizer report" no_sanitizer
finish
