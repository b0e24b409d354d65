#!/usr/bin/env python3
"""`escudo test --content ../shared/data/escu`: every one of the 529 ESCU endpoint detections is
validated statically (passed, failed with a reason, or "not validated: <the planner's message>"),
none of them crashes the run, the counts add up, and detections whose attack data is not here
are skipped with the reason, never passed. JSON and JUnit reports agree with the text counts.
"""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
import ctestlib  # noqa: E402
from ctestlib import DATA, ESCUDO  # noqa: E402

ESCU = os.path.join(DATA, "escu")
NDET = len([f for f in os.listdir(os.path.join(ESCU, "detections", "endpoint")) if f.endswith(".yml")])
check = ctestlib.Checks()

tmp = tempfile.mkdtemp(prefix="escudo-escu-")
junit = os.path.join(tmp, "escu.xml")
t0 = time.monotonic()
p = subprocess.run([ESCUDO, "test", "--content", ESCU, "--junit", junit], capture_output=True, text=True)
elapsed = time.monotonic() - t0
out = p.stdout
check(p.returncode in (0, 1), "exit %d (a crash or a usage error)\n%s" % (p.returncode, p.stderr[-2000:]))
# within a minute in a plain build; the sanitizer build is several times slower
limit = 180 if ctestlib.sanitized() else 60
check(elapsed < limit, "took %.1f s (limit %d s)" % (elapsed, limit))

counts = {}
for kind in ("static", "unit", "integration"):
    m = re.search(r"^%s +(\d+) passed, (\d+) failed, (\d+) skipped$" % kind, out, re.M)
    check(m is not None, "no %s count line" % kind)
    counts[kind] = tuple(int(x) for x in m.groups()) if m else (0, 0, 0)
m = re.search(r"^escudo test: (\d+) detections, (\d+) tests failed", out, re.M)
check(m and int(m.group(1)) == NDET, "detections counted: %s, expected %d" % (m and m.group(1), NDET))

# one static line per detection (plus file-level findings, none expected here)
static = [l for l in out.splitlines() if re.match(r"(PASS|FAIL|SKIP)  static ", l)]
check(len(static) == NDET, "%d static results for %d detections" % (len(static), NDET))
check(sum(counts["static"]) == len(static), "static counts %r vs %d lines" % (counts["static"], len(static)))
# every static skip says why, with the planner's message
skips = [l for l in static if l.startswith("SKIP")]
check(all(": not validated: " in l for l in skips), "a static skip without its reason")
check(all(re.search(r"not validated: (unsupported command '\w+'|unsupported data model|subsearches"
                    r"|unknown lookup '\w+' .*an Enterprise Security lookup)", l)
          for l in skips), "a static skip whose reason does not name what is unsupported:\n" +
      "\n".join(l for l in skips if "unsupported" not in l and "subsearch" not in l)[:2000])
check(counts["static"][0] >= 300, "only %d detections validate statically" % counts["static"][0])

# no attack data here: every unit and integration test is skipped, with the reason
check(counts["unit"][0] == 0 and counts["integration"][0] == 0,
      "a unit or integration test passed without its data: %r" % (counts,))
reasons = collections.Counter()
for l in out.splitlines():
    if l.startswith("SKIP  unit "):
        r = l.split("]: ", 1)[1] if "]: " in l else l.split(": ", 1)[1]
        reasons[re.sub(r"(https?://\S+|'[^']*').*", r"\1", r)[:40]] += 1
check(all(k.startswith(("attack data not available", "sourcetype ", "not run: search not validated",
                        "the detection has no tests"))
          for k in reasons), "unexpected skip reasons: %r" % reasons)
check(counts["unit"][1] == 0, "unit failures without data: %r" % (counts["unit"],))

# JUnit agrees
root = ET.parse(junit).getroot()
suites = {s.get("name"): s for s in root.findall("testsuite")}
for kind in ("static", "unit", "integration"):
    s = suites.get(kind)
    check(s is not None and int(s.get("tests")) == sum(counts[kind])
          and int(s.get("failures")) == counts[kind][1] and int(s.get("skipped")) == counts[kind][2],
          "JUnit %s suite disagrees with the text counts" % kind)
check(all(c.find("skipped") is not None and c.find("skipped").get("message")
          for c in suites["unit"].findall("testcase")), "JUnit unit skips carry a message")

# JSON lines agree
pj = subprocess.run([ESCUDO, "test", "--content", ESCU, "--format", "json", "--static-only"],
                    capture_output=True, text=True)
rows = [json.loads(l) for l in pj.stdout.splitlines()]
check(len(rows) == NDET and all(r["kind"] == "static" for r in rows), "JSON: %d rows" % len(rows))
check(collections.Counter(r["outcome"] for r in rows) ==
      collections.Counter(dict(zip(("pass", "fail", "skip"), counts["static"]))) - collections.Counter(),
      "JSON outcomes disagree with the text counts")

# ESCU's own copy of the seed detection, with a data root laid out like splunk/attack_data that
# holds the in-repo replay dataset at the path its URL names: unit and integration pass
import shutil
root = os.path.join(tmp, "attack_data")
ctestlib.place(root, ctestlib.SEED_URL, src=ctestlib.SEED_DATASET)
ps = subprocess.run([ESCUDO, "test", "--content", ESCU, "--data-root", root,
                     "Create or delete windows shares using net exe"], capture_output=True, text=True)
check(ps.returncode == 0 and len(re.findall(r"^PASS  (static|unit|integration) ", ps.stdout, re.M)) == 3,
      "ESCU's seed detection with --data-root: exit %d\n%s" % (ps.returncode, ps.stdout))
shutil.rmtree(tmp)

print("escu: %d detections in %.2f s; static %d passed, %d failed, %d not validated; unit skipped %d"
      % (NDET, elapsed, *counts["static"], counts["unit"][2]))
for k, n in reasons.most_common():
    print("  unit skipped %4d: %s..." % (n, k))
check.finish("escu test")
