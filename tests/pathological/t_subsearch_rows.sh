#!/bin/bash
# `search [...]` over many rows against many wildcard subsearch rows (docs/spl.md, "Subsearch
# cost"): 50,010 processes, each of its own guid and host, kept when they match one of the
# subsearch's first 10,000 rows (limits.conf [subsearch] maxout), in guid order `*{g00000}*` ..
# `*{g09999}*`: the first 10,000 processes. With a second column, `h<i>*` for even i and `x*`
# for odd i, both columns must match: the 5,000 even ones. The build before took 118 s of CPU
# for the first: 100 s making the subsearch rows' own evidence (each row standing for all
# 50,010 groups took them one by one; their union is now taken once), the rest trying each row
# against every subsearch row (now a literal scan per value, then the globs whose piece it
# holds). With `*longsharedprefix-*<i>}*`, each pattern is looked for by the piece fewest
# patterns share (`<i>}`), not its longest (which every row holds: each would then try all
# 10,000 globs).
. "$(dirname "$0")/lib.sh"
sysmon_xml "$T/ev.xml" 50010
MAIN='| tstats count from datamodel=Endpoint.Processes by Processes.process_guid Processes.dest | rename Processes.* as *'
SUB='| tstats count from datamodel=Endpoint.Processes by Processes.process_guid Processes.dest | rename Processes.* as * | eval process_guid="*" . process_guid . "*"'
detection "$T/one.yml" "Subsearch One Column" "$MAIN | search [$SUB | table process_guid]"
detection "$T/two.yml" "Subsearch Two Columns" \
    "$MAIN | search [$SUB | eval dest=if(match(dest, \"[02468]\$\"), dest . \"*\", \"x*\") | table process_guid dest]"
detection "$T/shared.yml" "Subsearch Shared Piece" \
    "$MAIN | eval key=\"longsharedprefix-\" . process_guid | search [$SUB | eval key=\"*longsharedprefix-*\" . substr(process_guid, 4) | table key]"

guids() { python3 -c 'import json,sys; print(" ".join(json.loads(l)["process_guid"] for l in sys.stdin))' <"$T/out"; }
run 120 hunt --detection "$T/one.yml" --format json "$T/ev.xml"
check "one column: exit 0, the first 10,000 guids" \
    eval 'rc_is 0 && [ "$(guids)" = "$(python3 -c "print(\" \".join(\"{g%05d}\" % i for i in range(10000)))")" ] && no_sanitizer'
check "one column: under 10 s of CPU" cpu_below_s 10
run 120 hunt --detection "$T/two.yml" --format json "$T/ev.xml"
check "two columns: exit 0, the even guids of the first 10,000" \
    eval 'rc_is 0 && [ "$(guids)" = "$(python3 -c "print(\" \".join(\"{g%05d}\" % i for i in range(0, 10000, 2)))")" ] && no_sanitizer'
check "two columns: under 10 s of CPU" cpu_below_s 10
run 120 hunt --detection "$T/shared.yml" --format json "$T/ev.xml"
check "a piece every row shares: exit 0, the first 10,000 guids" \
    eval 'rc_is 0 && [ "$(guids)" = "$(python3 -c "print(\" \".join(\"{g%05d}\" % i for i in range(10000)))")" ] && no_sanitizer'
check "a piece every row shares: under 10 s of CPU" cpu_below_s 10

# A lookup of 10,000 globs that differ only in case (`*longsharedprefix-*`,
# `*longsharedprefiX-*`, ...): one piece text, so one Hyperscan literal (10,000 literals of it
# took Hyperscan 1.5 s and 230 MB to compile); every row holds it.
mkdir -p "$T/content/detections" "$T/content/lookups"
python3 - "$T/content/lookups" <<'PY'
import itertools, sys
word = "longsharedprefix"
with open(sys.argv[1] + "/pats.csv", "w") as f:
    f.write("key\n")
    for bits in itertools.islice(itertools.product((0, 1), repeat=len(word)), 10000):
        f.write("*" + "".join(c.upper() if b else c for c, b in zip(word, bits)) + "-*\n")
open(sys.argv[1] + "/pats.yml", "w").write("name: pats\nfilename: pats.csv\ndescription: case variants\n")
PY
detection "$T/content/detections/case.yml" "Subsearch Case Variants" \
    "$MAIN | eval key=\"longsharedprefix-\" . process_guid | search [| inputlookup pats | table key]"
run 120 hunt --content "$T/content" --format json "$T/ev.xml"
check "globs differing only in case: exit 0, every row" eval 'rc_is 0 && out_lines 50010 && no_sanitizer'
check "globs differing only in case: under 10 s of CPU and 256 MB" \
    eval 'cpu_below_s 10 && rss_below_mb 256'
finish
