#!/usr/bin/env python3
"""dump's JSON and XML escapers (parse/render.c over core/fmt's scans) fuzzed against Python's
json and an XML parser (issue 21): random events, whose Data names and values mix plain text,
every character an escaper must handle (" \\ & < > ' and the control characters XML can carry:
TAB LF CR, written as character references) and non-ASCII text, at every position relative to
the 16-byte blocks the scans read. Each event goes through `escudo dump --format json` and
`--format xml`; the JSON lines must load with json.loads and the XML lines parse with
ElementTree, each giving back exactly the values written. Then every control character (\\b
and \\f among them, which XML cannot carry) through escudo's own JSON dump shape as input: each
string of the JSON output must be byte for byte what json.dumps(ensure_ascii=False) writes,
the form core/fmt's one JSON writer gives dump, hunt, the notables and the sinks. Fixed seed:
the same events every run. Environment: ESCUDO."""
import json
import os
import random
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ESCUDO = os.environ.get("ESCUDO", "build/escudo")
NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
ALPHABET = list("abcXYZ019 -_./:") + list("\"\\&<>'") + ["\t", "\n", "\r"] + list("éß€中😀")


def rand_text(rng):
    n = rng.choice([0, 1, 5, 15, 16, 17, 31, 33, 64, 200])
    plain = rng.random() < 0.5
    return "".join(rng.choice(ALPHABET[:15] if plain and rng.random() < 0.9 else ALPHABET)
                   for _ in range(n))


def xml_attr(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;").replace('"', "&quot;").replace("\t", "&#9;")
            .replace("\n", "&#10;").replace("\r", "&#13;"))


def control_chars(rng):
    """Events in escudo's dump shape whose values hold every control character; 0 when dump
    --format json writes each string as json.dumps does, else the mismatches."""
    # NUL and DEL left out: the JSON reader repairs NUL to U+FFFD (docs/json.md) and drops DEL
    ctl = [chr(c) for c in range(1, 32)] + list("\"\\/abcé€😀")
    events = []
    for i in range(300):
        data = [["N%d%s" % (k, "".join(rng.choice(ctl) for _ in range(rng.randint(0, 4)))),
                 "".join(rng.choice(ctl) for _ in range(rng.choice([0, 1, 15, 16, 17, 40])))]
                for k in range(rng.randint(1, 4))]
        events.append({"escudo_dump": 1, "kind": "windows", "provider": "Fuzz", "event_id": i,
                       "computer": "".join(rng.choice(ctl) for _ in range(8)), "data": data})
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ctl.json")
        with open(path, "w", encoding="utf-8") as f:
            for e in events:
                f.write(json.dumps(e) + "\n")
        p = subprocess.run([ESCUDO, "dump", "--format", "json", path], capture_output=True)
    lines = p.stdout.decode("utf-8").split("\n")[:-1]
    if p.returncode != 0 or len(lines) != len(events):
        print("FAIL: control characters: rc %d, %d lines %s" % (p.returncode, len(lines),
                                                               p.stderr[:300]))
        return 1
    fails = 0
    for e, line in zip(events, lines):
        want = [json.dumps(e["computer"], ensure_ascii=False)]
        want += [json.dumps(x, ensure_ascii=False) for pair in e["data"] for x in pair]
        got = json.loads(line)
        if [got["computer"]] + [x for pair in got["data"] for x in pair] != \
                [e["computer"]] + [x for pair in e["data"] for x in pair] or \
                any(w not in line for w in want):
            fails += 1
            if fails <= 5:
                print("FAIL: control characters: %s for %r" % (line, e))
    return fails


def main():
    rng = random.Random(21)
    events = []
    for i in range(400):
        data = [("F%d_%s" % (k, rand_text(rng)), rand_text(rng)) for k in range(rng.randint(1, 6))]
        events.append((rand_text(rng) or "c", data))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fuzz.xml")
        with open(path, "w", encoding="utf-8", newline="") as f:
            for i, (computer, data) in enumerate(events):
                f.write("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>"
                        "<System><Provider Name='Fuzz'/><EventID>%d</EventID>"
                        "<TimeCreated SystemTime='2024-02-29T23:59:59.%07dZ'/>"
                        "<EventRecordID>%d</EventRecordID><Channel>Fuzz</Channel>"
                        "<Computer>%s</Computer></System><EventData>" % (i, i * 997, i + 1, xml_attr(computer)))
                for name, value in data:
                    f.write("<Data Name='%s'>%s</Data>" % (xml_attr(name), xml_attr(value)))
                f.write("</EventData></Event>\n")
        out = {}
        for fmt in ("json", "xml"):
            p = subprocess.run([ESCUDO, "dump", "--format", fmt, path], capture_output=True)
            if p.returncode != 0 or p.stderr:
                print("FAIL: dump --format %s: rc %d %s" % (fmt, p.returncode, p.stderr[:300]))
                return 1
            out[fmt] = p.stdout.decode("utf-8").split("\n")[:-1]
    fails = 0
    for fmt in ("json", "xml"):
        if len(out[fmt]) != len(events):
            print("FAIL: %s: %d lines for %d events" % (fmt, len(out[fmt]), len(events)))
            return 1
    for i, (computer, data) in enumerate(events):
        j = json.loads(out["json"][i])
        got_j = (j.get("computer"), [tuple(p) for p in j["data"]])
        x = ET.fromstring(out["xml"][i])
        got_x = (x.find(NS + "System/" + NS + "Computer").text or "",
                 [(d.get("Name"), d.text or "") for d in x.iter(NS + "Data")])
        for fmt, got in (("json", got_j), ("xml", got_x)):
            if got != (computer, data):
                fails += 1
                print("FAIL: event %d %s: %r != %r" % (i, fmt, got, (computer, data)))
        if j["time"] != "2024-02-29T23:59:59.%06dZ" % (i * 997 // 10):
            fails += 1
            print("FAIL: event %d time %s" % (i, j["time"]))
    fails += control_chars(rng)
    print("%d events, %d mismatches" % (len(events), fails))
    return 1 if fails else 0


sys.exit(main())
