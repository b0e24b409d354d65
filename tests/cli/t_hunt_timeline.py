#!/usr/bin/env python3
"""Timeline and evidence (issue 16, problems 1 and 3, acceptance 2): `hunt --format
timeline-csv --content ESCU evtx` parses with Python's csv module under one header with a
constant field count, its lines are in time order, and every evidence reference resolves with
`escudo dump --at` to the event it names (same record id), an event that satisfies the
detection: the detection run again over only its evidence events counts each of them again
(for a row whose events were all kept; a row with more events than the cap keeps only some,
and a threshold may then not be reached). A row made through a join carries the events of both
sides, so the detections that join a subsearch are run again too; a search that keeps rows
matching a `search [| tstats ...]` subsearch also needs the subsearch's events, which are not its
evidence (docs/evidence.md): those are not run again.
ctest-label: slow"""
import concurrent.futures
import csv
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import glob
import yaml

ESCUDO = os.environ.get("ESCUDO", "build/escudo")
DATA = os.environ.get("ESC_SHARED_DATA", "../shared/data")
ESCU = os.path.join(DATA, "escu")
EVTX = os.path.join(DATA, "evtx")
fails = 0


def check(name, ok, detail=""):
    global fails
    print(("ok: " if ok else "FAIL: ") + name + ("" if ok else " " + str(detail)[:400]))
    fails += 0 if ok else 1


def run(*args):
    p = subprocess.run([ESCUDO, *args], capture_output=True)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


rc, out, err = run("hunt", "--quiet", "--format", "timeline-csv", "--content", ESCU, EVTX)
check("timeline-csv exits 0", rc == 0, err)
rows = list(csv.reader(io.StringIO(out, newline="")))
header, body = rows[0], rows[1:]
check("one header", header[:3] == ["_time", "detection", "detection_id"] and
      all(r[:1] != ["_time"] for r in body), header)
check("constant field count", {len(r) for r in rows} == {len(header)},
      sorted({len(r) for r in rows}))
col = {h: i for i, h in enumerate(header)}
times = [r[col["_time"]] for r in body]
check("lines in time order", times == sorted(times))
check("every line has an evidence reference", all(r[col["ref"]] for r in body))
check("several detections", len({r[col["detection"]] for r in body}) > 50)

# The same hunt as JSON lines with --evidence: the row count is the evidence count where the
# search counts events (count from tstats; after a join, count is one side's while the evidence
# is both sides'), and the timeline has one line per kept reference.
rc, out, err = run("hunt", "--quiet", "--format", "json", "--evidence", "--content", ESCU, EVTX)
ev_rows = [json.loads(l) for l in out.splitlines()]
check("--evidence: every row has evidence", all(r["evidence_count"] > 0 for r in ev_rows))
check("--evidence: severity, risk score, ATT&CK ids",
      all(r["severity"] and isinstance(r["risk_score"], int) and isinstance(r["mitre_attack_id"], list)
          for r in ev_rows))
joins = set()
for path in glob.glob(os.path.join(ESCU, "detections", "**", "*.yml"), recursive=True):
    with open(path, encoding="utf-8") as f:
        y = yaml.safe_load(f)
    if isinstance(y, dict) and "| join" in str(y.get("search", "")):
        joins.add(y.get("id"))
counted = [r for r in ev_rows if isinstance(r.get("count"), int) and r["detection_id"] not in joins]
check("--evidence: evidence_count is the row's count", all(r["count"] == r["evidence_count"]
                                                           for r in counted), len(counted))
check("--evidence: at most 10 references a row", all(len(r["evidence"]) <= 10 for r in ev_rows))
check("timeline lines = kept references", len(body) == sum(len(r["evidence"]) for r in ev_rows))

# Every reference resolves to the event it names.
refs = sorted({(r[col["ref"]], r[col["record_id"]]) for r in body})


def split_ref(ref):
    path, off = ref.rsplit(":", 1)
    return path, int(off)


def resolve(path_refs):
    """One `dump --at` per file with every reference into it (records print in file order,
    one line each), plus one call with a single reference, so both forms are checked."""
    path, group = path_refs
    group = sorted(group, key=lambda r: split_ref(r[0])[1])
    args = ["dump"] + [a for r in group for a in ("--at", r[0])]
    rc, out, err = run(*args)
    lines = out.splitlines(keepends=True)
    if rc != 0 or len(lines) != len(group):
        return [(r, rc, "", err or "%d lines for %d references" % (len(lines), len(group)))
                for r in group]
    return [(r, rc, line, err) for r, line in zip(group, lines)]


by_path = {}
for ref in refs:
    by_path.setdefault(split_ref(ref[0])[0], []).append(ref)
events = {}
with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
    for resolved in ex.map(resolve, sorted(by_path.items())):
        for ref, rc, out, err in resolved:
            rid = ref[1]
            ok = rc == 0 and out.count("\n") == 1 and (
                not rid or f"<EventRecordID>{rid}</EventRecordID>" in out)
            if not ok:
                check("dump --at " + ref[0], False, err or out[:200])
            else:
                events[ref[0]] = out
check("every reference resolves with dump --at (%d, %d files)" % (len(refs), len(by_path)),
      len(events) == len(refs))
one = refs[len(refs) // 2]
rc, out, err = run("dump", "--at", one[0])
check("a single --at prints its record alone", rc == 0 and out == events.get(one[0]), err)

# Each detection again over its evidence events alone (a join's: both sides' events).
subsearched = set()
for path in glob.glob(os.path.join(ESCU, "detections", "**", "*.yml"), recursive=True):
    with open(path, encoding="utf-8") as f:
        y = yaml.safe_load(f)
    text = str(y.get("search", "")) if isinstance(y, dict) else ""
    if re.search(r"\[\s*\|\s*tstats", text) and not re.search(r"\|\s*join", text):
        subsearched.add(y.get("id"))
by_det = {}
for r in ev_rows:
    by_det.setdefault(r["detection_id"], []).append(r)
missing, checked = [], 0
with tempfile.TemporaryDirectory() as d:
    for did, drows in sorted(by_det.items()):
        if did in subsearched:
            continue
        path = os.path.join(d, did + ".xml")
        offset_of, off = {}, 0
        with open(path, "w", encoding="utf-8", newline="") as f:
            for ref in sorted({e["ref"] for r in drows for e in r["evidence"]}):
                offset_of[ref] = off
                f.write(events[ref])
                off += len(events[ref].encode("utf-8"))
        rc, out, err = run("hunt", "--quiet", "--format", "json", "--evidence", "--content", ESCU,
                           "--detection", did, path)
        again = {e["offset"] for l in out.splitlines() for e in json.loads(l)["evidence"]}
        for r in drows:
            if r["evidence_count"] > len(r["evidence"]):
                continue  # not all its events were kept
            for e in r["evidence"]:
                checked += 1
                if offset_of[e["ref"]] not in again:
                    missing.append((r["search_name"], e["ref"]))
check("each kept reference satisfies its detection (%d checked)" % checked, not missing,
      missing[:5])
rejoined = {r["detection_id"] for r in ev_rows if r["detection_id"] in joins}
check("join detections run again (%d)" % len(rejoined), len(rejoined) >= 3, rejoined)
check("a joined row carries both sides' events",
      any(r["evidence_count"] > r.get("count", 0) for r in ev_rows if r["detection_id"] in joins))
sys.exit(1 if fails else 0)
