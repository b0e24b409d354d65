#!/usr/bin/env python3
"""The evtx_dump JSON shape gives the fields its EVTX gives (docs/json.md): `escudo dump --fields`
of each Sigma regression case's `.json` (the Rust evtx crate's `evtx_dump` output of its
`.evtx`) against the same of its `.evtx`, event by event, every field; and of the crate's JSON
snapshots in $ESC_SHARED_DATA/evtx-rs/snapshots (written with and without
--separate-json-attributes) against the records they render, and of CRAFTED events in the
crate's form against theirs; in both profiles. Two differences are the JSON's
own and are tolerated: evtx_dump writes times with six (or nine) fractional digits where Windows
writes seven (SystemTime, _time: compared at microseconds), and the evtx_dump that wrote the
Sigma data dropped values' trailing white space (the crate keeps it now: its snapshot
event_xml_sample_with_string_with_trailing_spaces). KNOWN lists where a case's two files
disagree.

Environment: ESCUDO, ESC_SHARED_DATA."""

import glob
import json
import os
import re
import subprocess
import sys
import tempfile

TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})\d*Z$")
# (case, field): the case's JSON holds Explorer.exe where its EVTX holds Explorer.EXE
KNOWN = {("ad691d92-15f2-4181-9aa4-723c74f9ddc3.json", "ParentCommandLine"),
         ("ad691d92-15f2-4181-9aa4-723c74f9ddc3.json", "parent_process")}
# The whole-element fields are the XML of the event's elements: a JSON shape carries none
# (docs/fields.md), so only the EVTX side has them.
WHOLE = {"System_Props_Xml", "EventData_Xml", "UserData_Xml", "RenderingInfo_Xml",
         "LogFileCleared_Xml"}
# (JSON snapshot, EVTX file, record id or None for the first record)
SNAPSHOTS = [
    ("event_json_sample", "security.evtx", None),
    ("event_json_with_size_t", "Security_with_size_t.evtx", "196"),
    ("event_json_missing_string_cache_entry", "security_bad_string_cache.evtx", None),
]

# (name, evtx_dump JSON written in the crate's form, EVTX file, record id): a classic event
# whose EventData holds a <Binary>, which makes no field from any of them (docs/fields.md)
CRAFTED = [
    ("system_7036_binary", {"Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {
            "Provider": {"#attributes": {
                "Name": "Service Control Manager",
                "Guid": "{555908d1-a6d7-4695-8e1e-26931d2012f4}",
                "EventSourceName": "Service Control Manager"}},
            "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7036},
            "Version": 0, "Level": 4, "Task": 0, "Opcode": 0,
            "Keywords": "0x8080000000000000",
            "TimeCreated": {"#attributes": {"SystemTime": "2020-09-23T16:57:41.372630Z"}},
            "EventRecordID": 65371, "Correlation": None,
            "Execution": {"#attributes": {"ProcessID": 580, "ThreadID": 6460}},
            "Channel": "System", "Computer": "01566s-win16-ir.threebeesco.com",
            "Security": None},
        "EventData": {"param1": "Windows Error Reporting Service", "param2": "running",
                      "Binary": "5700650072005300760063002F0034000000"}}},
     os.path.join("evtx", "Defense_Evasion", "DE_WinEventLogSvc_Crash_System_7036.evtx"),
     "65371"),
]


def fields(escudo, path, native):
    cmd = [escudo, "dump", "--fields"] + (["--native"] if native else []) + [path]
    p = subprocess.run(cmd, capture_output=True, check=False)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %r" % (path, p.returncode, p.stderr[-300:]))
    return [json.loads(line) for line in p.stdout.decode("utf-8").splitlines() if line]


def same(a, b):
    """Whether two values agree, up to the JSON's two known losses."""
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        ta, tb = TIME.match(a), TIME.match(b)
        return bool(ta and tb and ta.group(1) == tb.group(1)) or a == b.rstrip()
    return False


def diffs(name, js, ev):
    out = []
    for k in sorted(set(js) | set(ev)):
        if k in WHOLE and k not in js:
            continue
        if not same(js.get(k), ev.get(k)) and (name, k) not in KNOWN:
            out.append("%s: %s: json %r, evtx %r" % (name, k, js.get(k), ev.get(k)))
    return out


def compare(escudo, shared, native):
    """The differences of one profile, and the events compared."""
    fails, events = [], 0
    cases = sorted(glob.glob(os.path.join(shared, "sigma-regression", "**", "*.json"),
                             recursive=True))
    for j in cases:
        e = j[:-len(".json")] + ".evtx"
        if not os.path.exists(e):
            continue
        a, b = fields(escudo, j, native), fields(escudo, e, native)
        if len(a) != len(b):
            fails.append("%s: %d events from the JSON, %d from the EVTX" % (j, len(a), len(b)))
        for x, y in zip(a, b):
            events += 1
            fails += diffs(os.path.basename(j), x, y)
    snaps = os.path.join(shared, "evtx-rs", "snapshots")
    with tempfile.TemporaryDirectory() as tmp:
        for snap, name, rid in SNAPSHOTS:
            text = open(os.path.join(snaps, "test_record_samples__%s.snap" % snap),
                        encoding="utf-8").read().split("---", 2)[2]
            line = os.path.join(tmp, snap + ".json")
            with open(line, "w", encoding="utf-8") as f:
                f.write(json.dumps(json.loads(text)) + "\n")
            js = fields(escudo, line, native)
            ev = [x for x in fields(escudo, os.path.join(shared, "evtx-rs", name), native)
                  if rid is None or x.get("EventRecordID") == rid][:1]
            if len(js) != 1 or not ev:
                fails.append("%s: %d events from the JSON, record %s %sfound" %
                             (snap, len(js), rid, "" if ev else "not "))
                continue
            events += 1
            fails += diffs(snap, js[0], ev[0])
        for name, event, path, rid in CRAFTED:
            line = os.path.join(tmp, name + ".json")
            with open(line, "w", encoding="utf-8") as f:
                f.write(json.dumps(event) + "\n")
            js = fields(escudo, line, native)
            ev = [x for x in fields(escudo, os.path.join(shared, path), native)
                  if x.get("EventRecordID") == rid][:1]
            if len(js) != 1 or not ev or "Binary" in js[0] or "Binary" in ev[0]:
                fails.append("%s: %d events from the JSON, record %s %sfound, Binary: %s" %
                             (name, len(js), rid, "" if ev else "not ",
                              [("Binary" in x) for x in js + ev]))
                continue
            events += 1
            fails += diffs(name, js[0], ev[0])
    return fails, events


def main():
    escudo, shared = os.environ.get("ESCUDO"), os.environ.get("ESC_SHARED_DATA")
    if not escudo or not shared:
        print("t_evtx_dump_fields: ESCUDO and ESC_SHARED_DATA must be set")
        return 1
    fails, events = [], 0
    for native in (False, True):
        f, n = compare(escudo, shared, native)
        fails += ["%s%s" % ("native: " if native else "", x) for x in f]
        events += n
    print("t_evtx_dump_fields: %d events, %d differences" % (events, len(fails)))
    for f in fails[:15]:
        print("  " + f)
    return 1 if fails or not events else 0


if __name__ == "__main__":
    sys.exit(main())
