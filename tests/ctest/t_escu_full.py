#!/usr/bin/env python3
"""`escudo test --content escu-full --data-root ROOT` (issue 15): every test whose attack data is
a format escudo reads is replayed where the data is under ROOT, whatever dataset its detection
reads (Endpoint.Registry, raw `sysmon`, `powershell` and `wineventlog_system` events included);
the report counts the tests replayed, passed, failed and skipped, each skip with its reason, and
a test that fails before its data is read (a search that does not compile) is not counted as
replayed.

The expectation is computed here from the detections' YAML, independently of escudo: for each
`tests:` entry, the attack_data entries whose sourcetype escudo reads (XmlWinEventLog of any
channel, JSON, CrowdStrike sensor, EVTX; docs/testing.md) and whether each maps to a file under
ROOT. ROOT holds, at the paths their URLs name, the crafted events of tests/ref/crafted for a
Registry, a Sysmon EventCode=10, a PowerShell 4104 and a System 7045 detection (so every other
detection whose test names one of those files replays it too).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(__file__))
import ctestlib  # noqa: E402
from ctestlib import DATA, ESCUDO, SRC  # noqa: E402

FULL = os.path.join(DATA, "escu-full")
if not os.path.isdir(FULL):
    print("no escu-full content: skipped")
    sys.exit(77)
URL = ctestlib.ATTACK_DATA
PLACED = {  # detection id -> its test's attack data, written from the crafted events
    "f5f6af30-7aa7-4295-bfe9-07fe87c01a4b": "Registry Keys Used For Persistence",
    "fb4c31b0-13e8-4155-8aa5-24de4b8d6717": "Access LSASS Memory for Dump Creation",
    "09725404-a44f-4ed3-9efa-8ed5d69e4c53": "GetDomainGroup with PowerShell Script Block",
    "07e08a12-870c-11eb-b5f9-acde48001122": "Clop Ransomware Known Service Name",
}

check = ctestlib.Checks()


def readable(st):
    """docs/testing.md "Source and sourcetype": the formats escudo reads."""
    st = (st or "").lower()
    return (not st or st == "xmlwineventlog" or st.startswith("xmlwineventlog:")
            or st in ("crowdstrike:events:sensor", "_json", "json", "winlogbeat", "evtx"))


dets = {}
ddir = os.path.join(FULL, "detections")
for base, _, files in os.walk(ddir):
    for name in files:
        if name.endswith(".yml"):
            with open(os.path.join(base, name), encoding="utf-8") as f:
                d = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            if isinstance(d, dict) and d.get("name"):
                dets[d["name"]] = d

tmp = tempfile.mkdtemp(prefix="escudo-escu-full-")
root = os.path.join(tmp, "attack_data")
by_id = {d.get("id"): d for d in dets.values()}
for did in PLACED:
    url = by_id[did]["tests"][0]["attack_data"][0]["data"]
    with open(os.path.join(SRC, "tests", "ref", "crafted", did + ".xml"), encoding="utf-8") as f:
        events = re.findall(r"<Event .*?</Event>", f.read(), re.S)
    ctestlib.place(root, url, text="\n".join(events) + "\n")

p = subprocess.run([ESCUDO, "test", "--content", FULL, "--data-root", root, "--format", "json"],
                   capture_output=True, text=True)
check(p.returncode in (0, 1), "exit %d\n%s" % (p.returncode, p.stderr[-2000:]))
rows = [json.loads(l) for l in p.stdout.splitlines()]
unit = [r for r in rows if r["kind"] == "unit"]
integ = [r for r in rows if r["kind"] == "integration"]
check(len(unit) == len(integ), "one integration result per unit result")

# the expectation of each unit result, from the YAML
want_replayed, seen = 0, {}
for r in unit:
    d = dets.get(r["detection"])
    k = seen[r["detection"]] = seen.get(r["detection"], -1) + 1  # tests: entries in order
    reason = (r.get("reasons") or [""])[0]
    if reason.startswith(("not run: search not validated", "the search does not compile")):
        continue  # decided by the search, not the data
    tests = (d or {}).get("tests") or []
    t = tests[k] if k < len(tests) else None
    if t is None:
        check(reason == "the detection has no tests: block", "%s: %r" % (r["detection"], reason))
        continue
    ads = [a for a in t.get("attack_data") or [] if readable(a.get("sourcetype"))]
    if not ads:
        ok = reason.startswith("sourcetype ") and r["outcome"] == "skip"
        check(ok, "%s: no readable attack data, yet %s %r" % (r["detection"], r["outcome"], reason))
        continue
    here = all(os.path.isfile(os.path.join(root, a["data"][len(URL):])) for a in ads
               if a["data"].startswith(URL))
    if not here:
        ok = r["outcome"] == "skip" and reason.startswith(("attack data not available", "attack data not found"))
        check(ok, "%s: data absent, yet %s %r" % (r["detection"], r["outcome"], reason))
        continue
    want_replayed += 1
    check(r["outcome"] in ("pass", "fail") and not reason.startswith(("attack data", "sourcetype ")),
          "%s: data here, not replayed: %s %r" % (r["detection"], r["outcome"], reason))
    if r["detection"] in PLACED.values():
        check(r["outcome"] == "pass", "%s: replayed, %s %r" % (r["detection"], r["outcome"], reason))
check(want_replayed >= len(PLACED), "only %d tests have their data" % want_replayed)
check(not any("no Endpoint.Processes mapping" in " ".join(r.get("reasons") or []) for r in rows),
      "a channel refused for want of a Processes mapping")
# a channel other than Sysmon and Security is read: no such test is skipped as unmapped
for r in unit:
    reason = (r.get("reasons") or [""])[0]
    check(not re.match(r"sourcetype xmlwineventlog", reason, re.I),
          "%s: XmlWinEventLog skipped as unmapped: %r" % (r["detection"], reason))

# the summary (stderr with --format json) says the same
m = re.search(r"^replayed +(\d+) of (\d+) tests \((\d+) passed, (\d+) failed\); (\d+) skipped: "
              r"([^;\n]*)(?:; (\d+) failed without a replay: (.*))?$", p.stderr, re.M)
check(m is not None, "no replayed line:\n" + p.stderr[-1500:])
if m:
    ran, n, ok_, bad, skipped = (int(m.group(i)) for i in range(1, 6))
    noplay = int(m.group(7) or 0)
    check(n == len(unit), "summary counts %d tests, %d unit results" % (n, len(unit)))
    check(ran == want_replayed, "summary: %d replayed, expected %d" % (ran, want_replayed))
    check(ran + skipped + noplay == n, "replayed + skipped + failed without a replay != total")
    check(ok_ + bad == ran, "passed + failed != replayed")
    check(skipped == sum(r["outcome"] == "skip" for r in unit), "skip count")
    check(noplay == sum(1 for r in unit if r["outcome"] == "fail"
                        and (r.get("reasons") or [""])[0].startswith("the search does not compile")),
          "failed without a replay: %d" % noplay)
    parts = [int(x.split()[0]) for x in m.group(6).split(", ")]
    check(sum(parts) == skipped, "skip reasons add up to %d, not %d" % (sum(parts), skipped))
shutil.rmtree(tmp)

print("escu-full test: %d unit results, %d replayed (expected %d)" % (len(unit), m and ran or -1,
                                                                      want_replayed))
check.finish("t_escu_full", most=30)
