#!/bin/bash
# Malformed XmlWinEventLog input (issue 2): each broken piece gives a warning with its byte
# offset, every good event around it is still processed, the summary counts the damage, and
# memory stays bounded. Under the ASan build (ctest in build-asan) sanitizers must stay quiet.
set -u
ESCUDO=${ESCUDO:-build/escudo}
DATA=${ESC_SHARED_DATA:-../shared/data}/crafted
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
check() { # name condition...
    local name=$1
    shift
    if "$@"; then echo "ok: $name"; else echo "FAIL: $name"; fail=1; fi
}

# The two worked-example events are the "good" events; they yield 2 rows.
GOOD1=$(sed -n 1p "$DATA/worked_example.xml")
GOOD2=$(sed -n 2p "$DATA/worked_example.xml")
rows() { "$ESCUDO" hunt --format json --summary-json "$T/sum.json" "$@" 2>"$T/err" | wc -l; }
summary() { python3 -c "import json,sys; print(json.load(open('$T/sum.json', encoding='utf-8', errors='replace'))['$1'])"; }

# 1. a truncated event between two good ones
{ echo "$GOOD1"; echo "${GOOD2:0:900}"; echo "$GOOD2"; } >"$T/truncated.xml"
check "truncated event: 2 rows" [ "$(rows "$T/truncated.xml")" -eq 2 ]
check "truncated event: warned with offset" grep -q "offset $(LC_ALL=C; echo $((${#GOOD1} + 1))): event not terminated" "$T/err"
check "truncated event: counted" [ "$(summary malformed)" -eq 1 ]

# 2. an unknown entity inside a value: the record is kept, with a warning
python3 -c 'import sys; print(sys.argv[1].replace("net  share", "net &bogus; share", 1))' "$GOOD1" >"$T/entity.xml"
echo "$GOOD2" >>"$T/entity.xml"
check "unknown entity: both rows kept" [ "$(rows "$T/entity.xml")" -eq 2 ]
check "unknown entity: warned" grep -q "unknown entity kept as text" "$T/err"

# 3. an unclosed tag inside an event
{ echo "${GOOD1/<Data Name=\'User\'>/<Data Name=\'User\'}"; echo "$GOOD2"; } >"$T/unclosed.xml"
check "unclosed tag: the good event's row" [ "$(rows "$T/unclosed.xml")" -eq 1 ]
check "unclosed tag: counted" [ "$(summary malformed)" -eq 1 ]

# 4. binary garbage between events, and a file that is only garbage
{ echo "$GOOD1"; head -c 300000 /dev/urandom | tr -d '<'; echo; echo "$GOOD2"; } >"$T/garbage.xml"
check "binary garbage: 2 rows" [ "$(rows "$T/garbage.xml")" -eq 2 ]
# fixed pseudo-random bytes: /dev/urandom's first byte is now and then one a format starts with
python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(7).randbytes(100000))' >"$T/random.bin"
check "random file: no rows, exit 0" [ "$(rows "$T/random.bin")" -eq 0 ]
check "random file: counted as unknown format" [ "$(summary inputs_unknown)" -eq 1 ]

# 5. invalid UTF-8 in a value: repaired to U+FFFD, record kept
printf '%s\n' "${GOOD1/Administrator/Adm$'\xff\xfe'in}" "$GOOD2" >"$T/utf8.xml"
check "invalid UTF-8: both rows" [ "$(rows "$T/utf8.xml")" -eq 2 ]
check "invalid UTF-8: U+FFFD in the user" grep -q $'Adm\xef\xbf\xbd' <("$ESCUDO" hunt --quiet --format json "$T/utf8.xml")
check "invalid UTF-8: counted as repaired" [ "$(summary repaired)" -ge 1 ]

# 6. a 100 MB line (an event whose command line is 100 MB), then a good event
python3 - "$T/huge.xml" "$GOOD1" "$GOOD2" <<'PY'
import sys
path, g1, g2 = sys.argv[1:]
with open(path, "w") as f:
    f.write(g1 + "\n")
    a, b = g2.split("net  share", 1)
    f.write(a + "net  share" + "A" * (100 << 20) + b + "\n")
    f.write(g2.replace("EventRecordID>1139", "EventRecordID>2000") + "\n")
PY
/usr/bin/time -f "%M" -o "$T/rss" "$ESCUDO" hunt --format json --summary-json "$T/sum.json" "$T/huge.xml" >"$T/out" 2>"$T/err"
check "100 MB line: the good rows" [ "$(wc -l <"$T/out")" -eq 2 ]
check "100 MB line: warned" grep -q "longer than" "$T/err"
check "100 MB line: peak RSS under 128 MB" [ "$(cat "$T/rss")" -lt 131072 ]

# 7. 10^5 nested elements inside an event
python3 - "$T/nested.xml" "$GOOD1" "$GOOD2" <<'PY'
import sys
path, g1, g2 = sys.argv[1:]
with open(path, "w") as f:
    f.write(g1 + "\n")
    n = 100000
    f.write(g2.replace("<EventData>", "<EventData>" + "<x>" * n + "</x>" * n) + "\n")
PY
check "10^5 nesting: the other row" [ "$(rows "$T/nested.xml")" -eq 1 ]
check "10^5 nesting: warned" grep -q "nested too deeply" "$T/err"

# 8. --strict turns warnings into exit 1
"$ESCUDO" hunt --quiet --strict "$T/truncated.xml" >/dev/null 2>&1
check "--strict exits 1 on warnings" [ $? -eq 1 ]
"$ESCUDO" hunt --quiet --strict "$DATA/worked_example.xml" >/dev/null 2>&1
check "--strict exits 0 on clean input" [ $? -eq 0 ]

[ $fail -eq 0 ] && echo "xml malformed: all passed"
exit $fail
