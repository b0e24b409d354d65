#!/bin/bash
# Every detection of ESCU's Windows content over real events whose values were made hostile.
# The events are those of ../shared/data/evtx (two of each provider and event code, written as
# XmlWinEventLog by `escudo dump`); each gets six variants where about half of the EventData
# values, the computer name now and then and the time once in a while are replaced by, or
# joined with, values chosen to break what reads them: numbers past a double or a 64-bit
# integer, NaN and infinities, empty and blank values, 60,000 characters, multibyte and
# right-to-left text, format directives, regular-expression and SPL syntax, impossible times
# and addresses, path traversal. The seed is fixed, so the file is the same each run. All of
# it must be read and judged in bounded time with no sanitizer report, and two threads must
# give what one does. This seed's file took 42 s before long values went to PCRE2's JIT (a
# `rex` over 60,000 characters ending in a backslash: t_regex.sh); 0.4 s since.
. "$(dirname "$0")/lib.sh"
[ -d "$DATA/escu-full" ] || { echo "skip: no $DATA/escu-full"; exit 77; }
"$ESCUDO" dump --format xml "$DATA/evtx" >"$T/all.xml" 2>/dev/null
python3 - "$T/all.xml" "$T/hostile.xml" <<'PY'
import html, random, re, sys
src, out = sys.argv[1:3]
random.seed(2)
H = ["", " ", "0", "-0", "1e308", "1e309", "-1e309", "nan", "NaN", "inf", "-inf",
     "9223372036854775808", "-9223372036854775809", "0xffffffffffffffffff", "4294967296",
     "4.9e-324", "%s%n%x%p", "*", "\\", "\\\\", '"', "'", "A" * 60000, "\u00fc" * 3000,
     "\u202e\u200b", "a\tb\nc", "2024-13-45T99:99:99Z", "-62135596800", "::ffff:1.2.3.4",
     "256.256.256.256", "1.2.3.4/33", "C:\\Windows\\System32\\..\\..\\..\\x.exe", "(?:a+)+$",
     "%%1833", "{", "[", "|", "`", "$x$", "NULL", "..\\..\\", "a=b c=d", "<x>", "&amp;",
     "ffff::/0", "1e-400", "\U0001F600" * 50, "%{", "\x7f", "9" * 400]
def mut(v):
    r = random.random()
    if r < 0.5:
        return v
    h = random.choice(H)
    return h if r < 0.7 else v + h if r < 0.8 else h + v if r < 0.9 else v[:len(v) // 2] + h + v[len(v) // 2:]
seen, n = {}, 0
with open(out, "w", encoding="utf-8") as f:
    for line in open(src, encoding="utf-8", errors="replace"):
        m = re.search(r"<Provider Name='([^']*)'.*?<EventID[^>]*>(\d+)<", line)
        k = m.groups() if m else None
        if seen.get(k, 0) >= 2:
            continue
        seen[k] = seen.get(k, 0) + 1
        for v in range(6):
            x = re.sub(r"(<Data Name='[^']*'>)([^<]*)(</Data>)",
                       lambda m: m.group(1) + html.escape(mut(html.unescape(m.group(2)))) + m.group(3), line.rstrip("\n"))
            if v % 3 == 0:
                x = re.sub(r"(<Computer>)([^<]*)(</Computer>)", lambda m: m.group(1) + html.escape(mut(m.group(2))) + m.group(3), x)
            if v == 5:
                x = re.sub(r"SystemTime='[^']*'", "SystemTime='%s'" % random.choice(["1601-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999Z", "2019-02-30T25:61:61Z", "x"]), x)
            f.write(x + "\n")
            n += 1
open(out + ".n", "w").write("%d\n" % n)  # a value may hold a line break: lines are not events
PY
events=$(cat "$T/hostile.xml.n")

run 300 hunt --content "$DATA/escu-full" --format json --evidence --summary-json "$T/sum.json" "$T/hostile.xml"
cp "$T/out" "$T/two"
check "escu-full over $events hostile events: exit 0" rc_is 0
check "escu-full over hostile events: every event read" eval 'python3 -c "import json,sys; sys.exit(json.load(open(\"$T/sum.json\"))[\"events\"] != $events)"'
check "escu-full over hostile events: rows" eval '[ "$(wc -l <"$T/two")" -gt 100 ]'
check "escu-full over hostile events: under 20 CPU seconds" cpu_below_s 20
check "escu-full over hostile events: no sanitizer report" no_sanitizer

run 300 hunt --content "$DATA/escu-full" --format json --evidence --threads 1 "$T/hostile.xml"
check "escu-full over hostile events: one thread, the same rows" eval 'rc_is 0 && cmp -s "$T/out" "$T/two"'
finish
