#!/bin/bash
# `lookup` over many rows against a large lookup (docs/limits.md, "lookup rows a row is matched
# against"): 50,010 processes, each of its own host h00000 .. h50009, against 10,000 lookup rows
# whose cells all start with the same character: the prefixes `h00000*`, `h00005*`, ...
# `h49995*` (a wildcard column) and the same hosts without the '*' (an exact one). Each row
# matches the one cell of its host when the host is a multiple of 5: 10,000 rows. A value was
# looked up by its first character alone, so every row tried all 10,000 cells: 11 s of CPU for
# the prefixes. Now by the first 6, which every cell fixes.
. "$(dirname "$0")/lib.sh"
sysmon_xml "$T/ev.xml" 50010
mkdir -p "$T/content/detections" "$T/content/lookups"
python3 - "$T/content/lookups" <<'PY'
import sys
for name, star, match in (("prefixes", "*", "match_type: WILDCARD(host)\n"), ("hosts", "", "")):
    with open("%s/%s.csv" % (sys.argv[1], name), "w") as f:
        f.write("host,label\n")
        for i in range(10000):
            f.write("h%05d%s,L%d\n" % (i * 5, star, i * 5))
    open("%s/%s.yml" % (sys.argv[1], name), "w").write(
        "name: %s\nfilename: %s.csv\ndescription: hosts\n%scase_sensitive_match: 'false'\n"
        % (name, name, match))
PY
MAIN='| tstats count from datamodel=Endpoint.Processes by Processes.process_guid Processes.dest | rename Processes.* as *'
WANT=$(python3 -c 'print(" ".join("h%05d=L%d" % (i, i) for i in range(0, 50000, 5)))')
labels() { python3 -c 'import json,sys; print(" ".join("%s=%s" % (r["dest"], r["label"]) for r in map(json.loads, sys.stdin)))' <"$T/out"; }
for lk in prefixes hosts; do
    rm -f "$T/content/detections/"*.yml
    detection "$T/content/detections/$lk.yml" "Lookup Rows $lk" "$MAIN | lookup $lk host as dest OUTPUT label | search label=*"
    run 120 hunt --content "$T/content" --format json "$T/ev.xml"
    check "$lk: exit 0, the 10,000 hosts that are multiples of 5 with their labels" \
        eval 'rc_is 0 && [ "$(labels)" = "$WANT" ] && no_sanitizer'
    check "$lk: under 5 s of CPU" cpu_below_s 5
done
finish
