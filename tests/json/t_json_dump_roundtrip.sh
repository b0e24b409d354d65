#!/bin/bash
# escudo's own JSON dump read back: for every crafted file, `dump --format json` then `hunt` on
# the dump gives the file's expected rows in both profiles, and dumping a dump changes nothing
# (the dump shape of docs/json.md loses nothing the mapping reads); a Data name an EVTX event
# repeats stays a multivalue field through the dump (it kept only the last value before).
set -euo pipefail
src="${ESC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
data="${ESC_SHARED_DATA:-$src/../shared/data}"
escudo="${ESCUDO:-$src/build/escudo}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for f in worked_example.xml sysmon.xml security.xml mixed.xml.gz nxlog.json winlogbeat.json \
         crowdstrike.json; do
    "$escudo" dump --strict --format json "$data/crafted/$f" >"$work/$f.dump.json"
    "$escudo" dump --strict --format json "$work/$f.dump.json" >"$work/$f.dump2.json"
    cmp "$work/$f.dump.json" "$work/$f.dump2.json"
    for p in splunk native; do
        "$escudo" hunt --strict --profile "$p" --format json "$work/$f.dump.json" 2>"$work/err" \
            | cmp - "$data/crafted/expected/$f.$p.jsonl" || { cat "$work/err"; exit 1; }
    done
done
# Security_with_size_t.evtx: 4624 events with LogonGuid twice (template and EventData)
evtx="$data/evtx-rs/Security_with_size_t.evtx"
"$escudo" dump --format json "$evtx" >"$work/mv.dump.json" 2>/dev/null
"$escudo" dump --fields "$evtx" >"$work/mv.evtx.fields" 2>/dev/null
"$escudo" dump --fields "$work/mv.dump.json" >"$work/mv.json.fields"
python3 - "$work/mv.evtx.fields" "$work/mv.json.fields" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
mv = [(i, k, v) for i, e in enumerate(a) for k, v in e.items()
      if isinstance(v, list) and k not in ("eventtype", "tag")]
bad = [(i, k) for i, k, v in mv if b[i].get(k) != v]
assert len(a) == len(b) and mv and not bad, (len(a), len(b), len(mv), bad[:3])
PY
# System through the dump (--system: "system" pairs): every event of the EVTX samples (ours and
# the evtx crate's) and of the crafted XML has the same search-time fields read from its dump as
# from its source, in both profiles; dumping such a dump with --system changes nothing; and all
# of escu-full finds the same rows in the dump of ../shared/data/evtx as in the files
# themselves (without --system the dump carries six System values: 22 of 1,296 rows are lost,
# those that read UserID, Keywords or Opcode)
mkdir "$work/xml"
# <RenderingInfo> leaves (Message, a second Level, ...) are fields of the XML's own, as the
# whole-element fields are: no JSON shape carries them (docs/json.md); the copies leave it out
for f in "$data"/crafted/*.xml; do
    sed -E 's#<RenderingInfo[^>]*>.*</RenderingInfo>##' "$f" >"$work/xml/$(basename "$f")"
done
for d in evtx evtx-rs xml; do
    src_dir="$data/$d"
    [ "$d" = xml ] && src_dir="$work/xml"
    "$escudo" dump --format json --system "$src_dir" >"$work/$d.dump.json" 2>/dev/null
    "$escudo" dump --format json --system "$work/$d.dump.json" | cmp - "$work/$d.dump.json"
    for native in "" --native; do
        # the whole-element fields are the XML's own: a JSON dump carries none (docs/json.md)
        "$escudo" dump --fields $native "$src_dir" 2>/dev/null |
            sed -E 's/,"(System_Props|EventData|UserData|RenderingInfo|LogFileCleared)_Xml":"([^"\\]|\\.)*"//g' \
                >"$work/$d.fields"
        "$escudo" dump --fields $native "$work/$d.dump.json" >"$work/$d.dump.fields"
        cmp "$work/$d.fields" "$work/$d.dump.fields"
        grep -q '"UserID":' "$work/$d.dump.fields"
    done
done
"$escudo" hunt --content "$data/escu-full" --format json "$data/evtx" 2>/dev/null \
    | sort >"$work/evtx.rows"
"$escudo" hunt --content "$data/escu-full" --format json "$work/evtx.dump.json" 2>/dev/null \
    | sort >"$work/dump.rows"
cmp "$work/evtx.rows" "$work/dump.rows"
[ "$(wc -l <"$work/evtx.rows")" -ge 1000 ]
echo "dump round trip: 7 crafted files, both profiles; multivalue fields of an EVTX;" \
    "System of every EVTX sample and crafted XML; escu-full rows over an EVTX dump"

