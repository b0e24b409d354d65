#!/usr/bin/env python3
"""Differential test: escudo's EVTX reader against libevtx (`evtxexport -f xml`).
ctest-label: slow (64 s under the sanitizers; the EVTX reader meets them in fuzz_evtx, the
test_evtx_* unit tests and t_evtx_hunt_xml)

For every .evtx file under $ESC_SHARED_DATA/evtx and $ESC_SHARED_DATA/sigma-regression, the
record count and every field of every record must be equal:
  provider (System/Provider/@Name), event_id (System/EventID), channel, computer,
  record_id (System/EventRecordID), time (System/TimeCreated/@SystemTime) and the data fields
  (EventData/Data by Name and UserData leaves by element name, in order; other EventData
  children such as <Binary> and other sections are not fields, docs/fields.md).
escudo's side is `escudo dump --format json FILE` (exact JSON, no XML quirks); libevtx's side is
parsed with Python's XML parser after these normalisations, each a known difference in form:
  1. the banner line ("evtxexport 20181227") and blank lines are dropped, and the events are
     wrapped in one root element;
  2. raw control characters, which evtxexport writes unescaped (not well-formed XML), are
     turned into character references before parsing and compared as characters;
  3. SystemTime: libevtx prints 9 fractional digits, escudo keeps microseconds: both sides are
     compared at microsecond precision; FILETIME and SYSTEMTIME values in the data: libevtx
     prints 9 fractional digits, Windows and escudo 7: compared at 7 digits;
  4. hexadecimal integers: libevtx pads them (0x000001d4, 0x00000000000003e7), Windows and
     escudo do not (0x1d4, 0x3e7): a value of the form 0x<hex> is compared as a number when
     both sides have that form;
  5. line ends: evtxexport writes CR LF inside values raw, which any XML parser turns into LF;
     escudo's CR LF is compared as LF;
  6. quoting and whitespace between elements are the XML parser's business and disappear.
Every other difference is a failure, except the libevtx defects listed in KNOWN_LIBEVTX with
their proof in docs/evtx.md.

Environment: ESCUDO, ESC_SHARED_DATA. Optional: DIFF_LIMIT (first N files), DIFF_JOBS (2)."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

from evtx_xml import NS, event_data, local

CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)Z$")
HEX = re.compile(r"^0x[0-9a-fA-F]+$")
MAX_REPORTED = int(os.environ.get("DIFF_REPORT", "20"))

# (file name suffix, record_id, field): differences where libevtx is wrong (docs/evtx.md).
KNOWN_LIBEVTX = {}


def libevtx_events(path):
    p = subprocess.run(["evtxexport", "-f", "xml", path], capture_output=True)
    if p.returncode != 0:
        return None, "evtxexport failed: %s" % p.stderr.decode(errors="replace")[:200]
    text = p.stdout.decode("utf-8", errors="surrogateescape")
    lines = text.split("\n")
    if lines and lines[0].startswith("evtxexport "):
        lines = lines[1:]
    text = "\n".join(lines)
    text = CTRL.sub(lambda m: "&#xE%03x;" % ord(m.group(0)), text)
    text = text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    root = ET.fromstring("<root>" + text + "</root>")
    events = []
    for ev in root:
        sysel = ev.find(NS + "System")
        r = {}
        if sysel is not None:
            for c in sysel:
                n = local(c.tag)
                if n == "Provider" and "Name" in c.attrib:
                    r["provider"] = c.attrib["Name"]
                elif n == "EventID":
                    r["event_id"] = int(c.text)
                elif n == "Channel":
                    r["channel"] = c.text or ""
                elif n == "Computer":
                    r["computer"] = c.text or ""
                elif n == "EventRecordID":
                    r["record_id"] = int(c.text)
                elif n == "TimeCreated" and "SystemTime" in c.attrib:
                    r["time"] = c.attrib["SystemTime"]
        r["data"] = event_data(ev)
        events.append(r)
    return events, None


def unpriv(s):
    """Undo normalisation 2 for comparison: private-use references back to characters."""
    return re.sub("[\ue000-\ue01f]", lambda m: chr(ord(m.group(0)) - 0xE000), s)


def norm_time(t):
    m = re.match(r"^(.*\.\d{1,6})\d*Z$", t or "")
    return m.group(1) + "Z" if m else t


def same_value(a, b):
    a = a.replace("\r\n", "\n").replace("\r", "\n")
    if a == b:
        return True
    ta, tb = ISO.match(a), ISO.match(b)
    if ta and tb:
        return ta.group(1) == tb.group(1) and ta.group(2)[:7].ljust(7, "0") == tb.group(2)[:7].ljust(7, "0")
    if HEX.match(a) and HEX.match(b):
        return int(a, 16) == int(b, 16)
    return False


def compare(path, escudo):
    exp, err = libevtx_events(path)
    if err:
        return [path + ": " + err], 0
    p = subprocess.run([escudo, "dump", "--format", "json", path], capture_output=True)
    if p.returncode != 0:
        return [path + ": escudo dump exit %d: %s" % (p.returncode, p.stderr.decode()[:300])], 0
    got = [json.loads(line) for line in p.stdout.decode("utf-8").splitlines() if line]
    problems = []
    if p.stderr:
        problems.append(path + ": escudo warned: " + p.stderr.decode()[:300])
    if len(got) != len(exp):
        problems.append("%s: %d records, libevtx has %d" % (path, len(got), len(exp)))
        return problems, len(exp)
    name = os.path.basename(path)
    for i, (g, e) in enumerate(zip(got, exp)):
        rid = e.get("record_id")
        for f in ("provider", "event_id", "channel", "computer", "record_id"):
            if g.get(f) != e.get(f):
                if (name, rid, f) in KNOWN_LIBEVTX:
                    continue
                problems.append("%s record %s: %s %r, libevtx %r" % (path, rid, f, g.get(f), e.get(f)))
        if norm_time(g.get("time")) != norm_time(e.get("time")):
            problems.append("%s record %s: time %r, libevtx %r" % (path, rid, g.get("time"), e.get("time")))
        gd = g.get("data", [])
        ed = [[unpriv(n), unpriv(v)] for n, v in e["data"]]
        if len(gd) != len(ed) or any(a[0] != b[0] or not same_value(a[1], b[1]) for a, b in zip(gd, ed)):
            if (name, rid, "data") in KNOWN_LIBEVTX:
                continue
            for j in range(max(len(gd), len(ed))):
                a = gd[j] if j < len(gd) else None
                b = ed[j] if j < len(ed) else None
                if a is None or b is None or a[0] != b[0] or not same_value(a[1], b[1]):
                    problems.append("%s record %s: data[%d] %r, libevtx %r" % (path, rid, j, a, b))
                    break
    return problems, len(exp)


def main():
    escudo = os.environ.get("ESCUDO")
    shared = os.environ.get("ESC_SHARED_DATA")
    if not escudo or not os.access(escudo, os.X_OK):
        print("t_evtx_diff: ESCUDO is not set to an executable")
        return 1
    if subprocess.run(["sh", "-c", "command -v evtxexport"], capture_output=True).returncode:
        print("t_evtx_diff: evtxexport (libevtx-utils) is not installed")
        return 1
    files = []
    for sub in ("evtx", "sigma-regression"):
        for dp, dn, fn in os.walk(os.path.join(shared, sub)):
            dn.sort()
            files += [os.path.join(dp, f) for f in sorted(fn) if f.endswith(".evtx")]
    limit = int(os.environ.get("DIFF_LIMIT", "0"))
    if limit:
        files = files[:limit]
    jobs = int(os.environ.get("DIFF_JOBS", "2"))
    with ThreadPoolExecutor(jobs) as ex:
        results = list(ex.map(lambda f: compare(f, escudo), files))
    problems = [p for r in results for p in r[0]]
    records = sum(r[1] for r in results)
    for p in problems[:MAX_REPORTED]:
        print(p)
    if len(problems) > MAX_REPORTED:
        print("... and %d more" % (len(problems) - MAX_REPORTED))
    print("t_evtx_diff: %d files, %d records, %d differences" % (len(files), records, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
