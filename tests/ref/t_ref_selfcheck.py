#!/usr/bin/env python3
"""The reference (escudo_ref.py) reproduces every crafted expected file for the XML inputs in
both profiles, and handles the input quirks it documents (banner line, raw control
characters, CRLF, truncated events, UTF-16, <Events> wrapper).

Does not need the engine: it checks the checker."""

import gzip
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import escudo_ref  # noqa: E402

SHARED = os.environ.get("ESC_SHARED_DATA") or os.path.join(HERE, "..", "..", "..", "shared",
                                                           "data")
CRAFTED = os.path.join(SHARED, "crafted")
XML_INPUTS = ("worked_example.xml", "sysmon.xml", "security.xml", "mixed.xml.gz")

failures = 0


def check(name, got, want):
    global failures
    if got == want:
        print("ok   %s" % name)
        return
    failures += 1
    print("FAIL %s" % name)
    import difflib
    for line in difflib.unified_diff(want.splitlines(), got.splitlines(), "expected",
                                     "reference", lineterm="", n=1):
        print("     " + line)


for f in XML_INPUTS:
    for profile in ("splunk", "native"):
        path = os.path.join(CRAFTED, f)
        with open(os.path.join(CRAFTED, "expected", "%s.%s.jsonl" % (f, profile)),
                  encoding="utf-8") as fh:
            want = fh.read()
        got = escudo_ref.format_rows(escudo_ref.run([path], profile))
        check("crafted %s %s" % (f, profile), got, want)

# --- Input quirks, on a synthetic Sysmon event --------------------------------------------

EVENT = (
    "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
    "<Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID>"
    "<TimeCreated SystemTime='2021-01-02T03:04:05.9Z'/><Computer>H1</Computer></System>"
    "<EventData><Data Name='UtcTime'>{utc}</Data><Data Name='Image'>C:\\W\\net.exe</Data>"
    "<Data Name='CommandLine'>{cmd}</Data><Data Name='User'>D\\u1</Data>"
    "<Data Name='ParentImage'>C:\\W\\cmd.exe</Data><Data Name='ParentCommandLine'>cmd</Data>"
    "</EventData></Event>")


def ev(cmd, utc="2021-01-02 03:04:05.999"):
    return EVENT.format(cmd=cmd, utc=utc)


def run_bytes(data, profile="splunk"):
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as t:
        t.write(data)
    try:
        stats = {}
        rows = escudo_ref.run([t.name], profile, stats=stats)
        return rows, stats
    finally:
        os.unlink(t.name)


def processes(rows):
    return [r["process"] for r in rows]


# Banner line, pretty text between events, a raw control character and a CRLF in a value.
data = ("evtxexport 20181227\n\n" + ev("net share a\x01b") + "\n\n" +
        ev("net share c\r\nd") + "\n").encode()
rows, stats = run_bytes(data)
check("raw control character and CR kept",
      json.dumps(sorted(processes(rows))), json.dumps(["net share a\x01b", "net share c\r\nd"]))

# Character references to XML-illegal characters; NUL becomes U+FFFD.
rows, _ = run_bytes((ev("net share &#x2;x&#0;y&#13;z") + ev("net share n\x00ul")).encode())
check("character references and NUL",
      json.dumps(sorted(processes(rows))),
      json.dumps(["net share \x02x\ufffdy\rz", "net share n\ufffdul"]))

# A truncated event is skipped; the next one is read. An unknown entity is kept as text.
trunc = ev("net share gone")[:-40]
rows, stats = run_bytes(("<Events>" + trunc + "\n" + ev("net share kept") +
                         ev("net share &bogus;") + "</Events>").encode())
check("truncated event skipped, next kept, unknown entity kept as text",
      json.dumps([processes(rows), stats["malformed"], stats["events"]]),
      json.dumps([["net share &bogus;", "net share kept"], 1, 2]))

# A mismatched tag breaks only its own event.
rows, stats = run_bytes((ev("net share one").replace("</Computer>", "</Computr>") +
                         ev("net share two")).encode())
check("mismatched tag skipped", json.dumps([processes(rows), stats["malformed"]]),
      json.dumps([["net share two"], 1]))

# UTF-16 LE with a BOM; gzip; invalid UTF-8.
rows, _ = run_bytes(b"\xff\xfe" + ev("net share \u00e9t\u00e9").encode("utf-16-le"))
check("utf-16", json.dumps(processes(rows)), json.dumps(["net share \u00e9t\u00e9"]))
rows, _ = run_bytes(gzip.compress(ev("net share gz").encode()))
check("gzip", json.dumps(processes(rows)), json.dumps(["net share gz"]))
rows, _ = run_bytes(ev("net share \udcff").encode("utf-8", "surrogateescape"))
check("invalid utf-8", json.dumps(processes(rows)), json.dumps(["net share \ufffd"]))

# Time: UtcTime wins, sub-seconds truncated; a bad UtcTime falls back to SystemTime.
rows, _ = run_bytes((ev("net share t1") + ev("net share t2", utc="garbage")).encode())
check("times", json.dumps([(r["firstTime"], r["lastTime"]) for r in rows]),
      json.dumps([["2021-01-02T03:04:05", "2021-01-02T03:04:05"]] * 2))

# Grouping: same BY values merge; values() sorted by bytes; fillnull never needed here.
rows, _ = run_bytes((ev("net share g") + ev("net share g").replace("D\\u1", "admin")).encode(),
                    "native")
check("values sorted by bytes", json.dumps([(r["count"], r["user"]) for r in rows]),
      json.dumps([[2, ["D\\u1", "admin"]]]))

print("%s: %d failure(s)" % (os.path.basename(__file__), failures))
sys.exit(1 if failures else 0)
