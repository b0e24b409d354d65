#!/bin/bash
# Group memory with events of long values: 600 Sysmon process creations, each with its own
# command line of 50,000 characters, hunted with all of ESCU's Windows content. Some 40 of its
# searches keep every process as a group keyed by the command line, so each event adds about
# 2 MB of groups; the hunt checks its group memory budget (16 MiB, docs/limits.md) sooner when
# the records fed since the last check could have added half of it, and a raw-event search's
# batch of rows counts in it. Before, the check came every 4,096 events: 485 MB peak here.
# The same rows whether nothing or everything is spilled.
. "$(dirname "$0")/lib.sh"
[ -d "$DATA/escu-full" ] || { echo "skip: no $DATA/escu-full"; exit 77; }
W1=$(sed -n 1p "$CRAFTED/worked_example.xml")
python3 - "$T/long.xml" "$W1" <<'PY'
import re, sys
out, ev = sys.argv[1:3]
with open(out, "w") as f:
    for i in range(600):
        v = ("cmd.exe /c echo %d " % i) + ("x%d" % i) * (50000 // (len(str(i)) + 1))
        f.write(re.sub(r"<Data Name='CommandLine'>[^<]*<", "<Data Name='CommandLine'>" + v + "<", ev) + "\n")
PY
asan=false
nm -C "$ESCUDO" 2>/dev/null | grep -q __asan_init && asan=true

run 120 hunt --content "$DATA/escu-full" --format json "$T/long.xml"
cp "$T/out" "$T/rows"
check "600 command lines of 50,000 characters: exit 0, rows" eval 'rc_is 0 && [ -s "$T/rows" ]'
# (under ASan its quarantine and shadow memory make RSS meaningless)
check "600 command lines of 50,000 characters: RSS < 256 MB" eval '$asan || rss_below_mb 256'
check "600 command lines of 50,000 characters: no sanitizer report" no_sanitizer

run 120 hunt --content "$DATA/escu-full" --format json --group-memory 0 "$T/long.xml"
check "everything spilled: the same rows" eval 'rc_is 0 && cmp -s "$T/out" "$T/rows"'
finish
