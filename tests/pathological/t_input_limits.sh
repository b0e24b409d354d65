#!/bin/bash
# ctest-label: slow
# Input limits (docs/limits.md): XML attributes per element (16; further ones are ignored with a
# warning), the interest set's literal caps (256 literals per clause, 16 clauses: past them the
# prefilter only widens, no event is lost; for XML, JSON and EVTX input). The host inventory
# (aidmaster) cap is t_hostmap_cap.sh.
. "$(dirname "$0")/lib.sh"
W=$CRAFTED/worked_example.xml
EVTX=$DATA/evtx/AutomatedTestingTools/Malware/rundll32_cmd_schtask.evtx
csv_has() { tr -d '\r' <"$T/out" | grep -qxF -- "$1"; } # a whole line of --format csv output

# ---- XML attributes per element -------------------------------------------------------------
# after.xml: 20 extra attributes after the real ones on every element of the first event;
# nameN.xml: the CommandLine Data element's Name is its Nth attribute; provider17.xml: the
# Provider's Name is its 17th; many.xml: 100,000 attributes on EventData
python3 - "$W" "$T" <<'PY'
import re, sys
src, t = sys.argv[1:3]
e1, e2 = open(src, encoding="utf-8").read().splitlines()
junk = lambda n, k=0: "".join(" J%d='j'" % i for i in range(k, k + n))
def after(m):
    tag = m.group(0)
    end = "/>" if tag.endswith("/>") else ">"
    return tag[:-len(end)] + junk(20) + end
def write(name, first):
    open("%s/%s.xml" % (t, name), "w", encoding="utf-8").write(first + "\n" + e2 + "\n")
write("after", re.sub(r"<[A-Za-z][^<>]*>", after, e1))
for n in (16, 17):
    write("name%d" % n, e1.replace("<Data Name='CommandLine'>", "<Data" + junk(n - 1) + " Name='CommandLine'>"))
write("provider17", e1.replace("<Provider Name='Microsoft-Windows-Sysmon'", "<Provider" + junk(16) + " Name='Microsoft-Windows-Sysmon'"))
write("many", e1.replace("<EventData>", "<EventData" + junk(100000) + ">"))
PY
run 30 hunt --format json "$W"
cp "$T/out" "$T/rows.ref"
run 30 dump "$W"
sed -n 1p "$T/out" >"$T/dump.ref"

run 30 hunt --format json "$T/after.xml"
check "xml 36 attributes per element (real ones first): the same rows" eval 'rc_is 0 && cmp -s "$T/out" "$T/rows.ref"'
run 30 dump "$T/after.xml"
check "xml 36 attributes per element: dump as without them" eval 'rc_is 0 && sed -n 1p "$T/out" | cmp -s - "$T/dump.ref"'
run 30 dump "$T/name16.xml"
check "xml Name as 16th attribute: kept" grep -qF "<Data Name='CommandLine'>net  share test=C:\\temp</Data>" "$T/out"
run 30 hunt --format json "$T/name16.xml"
check "xml Name as 16th attribute: the same rows" eval 'rc_is 0 && cmp -s "$T/out" "$T/rows.ref"'
run 30 dump "$T/name17.xml"
check "xml Name as 17th attribute: ignored, the value is kept unnamed" \
    eval 'rc_is 0 && grep -qF "<Data>net  share test=C:\\temp</Data>" "$T/out" && ! grep -q "Name=.CommandLine." <(sed -n 1p "$T/out")'
run 30 hunt --format json --summary-json "$T/sum.json" "$T/name17.xml"
check "xml Name as 17th attribute: the event maps with no command line, so no row; a warning" \
    eval 'rc_is 0 && out_lines 1 && grep -q "net1  share" "$T/out" &&
          err_has "more than 16 attributes on an element; extra ones ignored (record kept)" &&
          python3 -c "import json,sys; s=json.load(open(sys.argv[1])); sys.exit(not (s[\"process_events\"] == 2 and s[\"warnings\"] == 1))" "$T/sum.json"'
run 30 hunt --format json --summary-json "$T/sum.json" "$T/provider17.xml"
check "xml Provider Name as 17th attribute: the event is not a process event" \
    eval 'rc_is 0 && out_lines 1 && python3 -c "import json,sys; s=json.load(open(sys.argv[1])); sys.exit(not (s[\"events\"] == 2 and s[\"process_events\"] == 1))" "$T/sum.json"'
run 30 hunt --format json "$T/many.xml"
check "xml 100,000 attributes on one element: the same rows" eval 'rc_is 0 && cmp -s "$T/out" "$T/rows.ref"'
check "xml attributes: no sanitizer report" no_sanitizer

# ---- interest set: literals and clauses -------------------------------------------------------
# One target process name per input format, each seen in exactly one process event.
# inN_F: `Processes.process_name IN (...)` of N names, the target last (N-1 decoys before it);
# andN_F: N terms `Processes.process_name="*piece*"` over N distinct pieces of the target (one
# literal clause each); bad21_F: 20 such terms and a 21st that the event fails.
python3 - "$T" <<'PY'
import sys
t = sys.argv[1]
targets = {"xml": "net1.exe", "json": "svcupd.exe", "evtx": "schtasks.exe"}
head = "| tstats count from datamodel=Endpoint.Processes where "
tail = " by Processes.process_name"
def pieces(s):
    out = []
    for n in range(3, len(s) + 1):
        for i in range(len(s) - n + 1):
            if s[i:i + n] not in out:
                out.append(s[i:i + n])
    return out
def write(name, where):
    open("%s/%s.spl" % (t, name), "w").write(head + where + tail + "\n")
for f, target in targets.items():
    for n in (256, 300):
        names = ["decoy%03d.exe" % i for i in range(n - 1)] + [target]
        write("in%d_%s" % (n, f), "Processes.process_name IN (%s)" % ", ".join('"%s"' % x for x in names))
    terms = ['Processes.process_name="*%s*"' % p for p in pieces(target)[:20]]
    assert len(terms) == 20
    write("and20_%s" % f, " ".join(terms))
    write("bad21_%s" % f, " ".join(terms + ['Processes.process_name="*zzz*"']))
inlist = lambda names: "Processes.process_name IN (%s)" % ", ".join('"%s"' % x for x in names)
# two detections of 150 literals each: a union of 300 for the readers' prefilter (and 100 each,
# a union of 200, under the cap)
for n in (100, 150):
    write("union%da" % n, inlist(["ua%03d.exe" % i for i in range(n - 1)] + ["net1.exe"]))
    write("union%db" % n, inlist(["ub%03d.exe" % i for i in range(n - 2)] + ["svcupd.exe", "schtasks.exe"]))
PY
for s in "$T"/*.spl; do
    n=$(basename "$s" .spl)
    detection "$T/$n.yml" "cap $n" "@$s"
done
nclauses() { grep -c '^literal prefilter clause [0-9]*:' "$T/out"; }
nlits() { grep '^literal prefilter clause 1:' "$T/out" | grep -o '"[^"]*"' | wc -l; }

run 30 explain --detection "$T/in256_xml.yml"
check "explain 256 literals: one clause of 256 literals, the target among them" \
    eval 'rc_is 0 && [ "$(nclauses)" -eq 1 ] && [ "$(nlits)" -eq 256 ] && grep -q "^literal prefilter clause 1:.*\"net1.exe\"" "$T/out"'
run 30 explain --detection "$T/in300_xml.yml"
check "explain 300 literals: past the cap, no literal prefilter" \
    eval 'rc_is 0 && [ "$(nclauses)" -eq 0 ] && grep -qx "literal prefilter: none" "$T/out"'
run 30 explain --detection "$T/and20_xml.yml"
check "explain 20 clauses: 16 kept" eval 'rc_is 0 && [ "$(nclauses)" -eq 16 ] && grep -q "^literal prefilter clause 16: one of \"net1.e\" " "$T/out"'
run 30 explain --detection "$T/union150a.yml"
check "explain union part: 150 literals" eval 'rc_is 0 && [ "$(nclauses)" -eq 1 ] && [ "$(nlits)" -eq 150 ]'

for f in xml json evtx; do
    case $f in
    xml) in=$W target=net1.exe ;;
    json) in=$CRAFTED/nxlog.json target=svcupd.exe ;;
    evtx) in=$EVTX target=schtasks.exe ;;
    esac
    for d in in256 in300 and20; do
        run 30 hunt --format csv --detection "$T/${d}_$f.yml" "$in"
        check "$f $d: the target event is found" eval 'rc_is 0 && out_lines 2 && csv_has "$target,1"'
    done
    run 30 hunt --format json --detection "$T/bad21_$f.yml" "$in"
    check "$f 21 clauses, the 21st false: no row (a dropped clause still filters)" eval 'rc_is 0 && out_lines 0'
done
# explain shows each detection's clauses, not the readers' union of them: the summary's count
# of decoded process events shows whether a prefilter was applied
pevents() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['process_events'])" "$T/sum.json"; }
run 30 hunt --format json --summary-json "$T/sum.json" --detection "$T/in300_xml.yml" "$W" "$CRAFTED/nxlog.json" "$EVTX"
all=$(pevents)
run 30 hunt --format json --summary-json "$T/sum.json" --detection "$T/in256_xml.yml" "$W" "$CRAFTED/nxlog.json" "$EVTX"
check "256 literals: the prefilter skips events that 300 literals decode ($(pevents) < $all)" eval 'rc_is 0 && [ "$(pevents)" -lt "$all" ]'
for n in 100 150; do
    run 30 hunt --format json --summary-json "$T/sum.json" --detection "$T/union${n}a.yml" --detection "$T/union${n}b.yml" \
        "$W" "$CRAFTED/nxlog.json" "$EVTX"
    check "union of $((2 * n)) literals: every target found (xml, json, evtx)" \
        eval 'rc_is 0 && out_lines 3 && grep -q "cap union${n}a.*\"net1.exe\", \"count\": 5" "$T/out" &&
              grep -q "cap union${n}b.*\"schtasks.exe\", \"count\": 1" "$T/out" && grep -q "cap union${n}b.*\"svcupd.exe\", \"count\": 1" "$T/out"'
    if [ $n = 100 ]; then
        check "union of 200 literals: a prefilter ($(pevents) of $all process events decoded)" eval '[ "$(pevents)" -lt "$all" ]'
    else
        check "union of 300 literals: no prefilter (all $all process events decoded)" eval '[ "$(pevents)" -eq "$all" ]'
    fi
done
check "interest set: no sanitizer report" no_sanitizer

finish
