#!/usr/bin/env python3
"""`escudo run` feeds every dataset and raw events as `hunt` does (one engine loop): an
Endpoint.Registry detection, a `sysmon` EventCode=10 raw-event search and a `powershell` 4104
raw-event search give, in run, the notables and risk events `hunt` gives for each scheduled
window, and records of those datasets kept in an open window survive restarts (every invocation
is a new process that restores its windows from the checkpoint) and kill -9 (inside a checkpoint
transaction, and from outside after a delay).

The events are the crafted ones of tests/ref/crafted (each condition of the three searches,
positive and negative), spread over four hours and appended at checkpoints 30 minutes apart.

ctest-label: slow (about 40 escudo invocations, each committing a checkpoint: 10-20 s)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import runlib  # noqa: E402

SRC = runlib.SRC
FULL = os.path.join(runlib.DATA, "escu-full")
DETS = {
    "f5f6af30-7aa7-4295-bfe9-07fe87c01a4b": "Endpoint.Registry: Registry Keys Used For Persistence",
    "fb4c31b0-13e8-4155-8aa5-24de4b8d6717": "`sysmon` EventCode=10: Access LSASS Memory for Dump Creation",
    "09725404-a44f-4ed3-9efa-8ed5d69e4c53": "`powershell` 4104: GetDomainGroup with PowerShell Script Block",
}
START, END = runlib.epoch("2024-03-01T08:00:00Z"), runlib.epoch("2024-03-01T13:00:00Z")
if not os.path.isdir(FULL):
    print("no escu-full content: skipped")
    sys.exit(77)
# a content folder of the three detections (escu-full's macros and deployments): loading all of
# escu-full in each of the ~40 invocations would make the test three times longer
TMP = tempfile.mkdtemp(prefix="escudo-run-ds-")
CONTENT = os.path.join(TMP, "content")
os.makedirs(os.path.join(CONTENT, "detections", "endpoint"))
for sub in ("macros", "deployments"):
    shutil.copytree(os.path.join(FULL, sub), os.path.join(CONTENT, sub))
ddir = os.path.join(FULL, "detections", "endpoint")
for name in sorted(os.listdir(ddir)):
    with open(os.path.join(ddir, name), encoding="utf-8") as f:
        if re.search(r"^id: (%s)\s*$" % "|".join(DETS), f.read(), re.M):
            shutil.copy(os.path.join(ddir, name), os.path.join(CONTENT, "detections", "endpoint"))
assert len(os.listdir(os.path.join(CONTENT, "detections", "endpoint"))) == len(DETS)

# the crafted events, each moved to its own time: 08:10 + 7 minutes per event
recs = []
for det in DETS:
    text = open(os.path.join(SRC, "tests", "ref", "crafted", det + ".xml"), encoding="utf-8").read()
    recs += re.findall(r"<Event .*?</Event>", text, re.S)
arrivals = []
for i, r in enumerate(recs):
    t = START + 600 + 7 * 60 * i
    stamp = runlib.iso(t).replace("Z", ".%03dZ" % (i % 1000))
    r = re.sub(r'SystemTime="[^"]*"', 'SystemTime="%s"' % stamp, r)
    r = re.sub(r"<Data Name=\"UtcTime\">[^<]*<", "<Data Name=\"UtcTime\">%s<" % stamp[:-1].replace("T", " "), r)
    arrivals.append((t + (i * 53) % 500, r.encode()))  # within the windows' 10 minutes of slack
arrivals.sort(key=lambda x: x[0])
checkpoints = list(range(START + 1800, END + 1, 1800))
assert len(recs) >= 15, "crafted events: %d" % len(recs)


def replay(d, crash_plan):
    inp, st, nt, rk = (os.path.join(d, x) for x in ("in.xml", "st", "n.jsonl", "r.jsonl"))
    open(inp, "wb").close()
    kills, nxt = [], 0
    enable = [a for det in DETS for a in ("--enable", det)]
    for c in checkpoints:
        with open(inp, "ab") as f:
            while nxt < len(arrivals) and arrivals[nxt][0] <= c:
                f.write(arrivals[nxt][1] + b"\n")
                nxt += 1
        args = [runlib.ESCUDO, "run", "--content", CONTENT, "--quiet", "--state", st, "--notables", nt,
                "--risk", rk, "--clock-speed", "max", "--clock-start", runlib.iso(START),
                "--once-until", runlib.iso(c)] + enable + [inp]
        runlib.checkpoint(args, crash_plan.get(c, []), kills, c)
    return sorted(runlib.lines(nt)), sorted(runlib.lines(rk)), kills


fails = []
with tempfile.TemporaryDirectory() as d0:
    ref_n, ref_r, _ = replay(d0, {})

# hunt of each scheduled window (ESCU's default deployment: hourly, -70m@m to -10m@m)
with tempfile.TemporaryDirectory() as dh:
    allin = os.path.join(dh, "all.xml")
    with open(allin, "wb") as f:
        f.write(b"\n".join(r for _, r in arrivals) + b"\n")
    hn, hr = os.path.join(dh, "n.jsonl"), os.path.join(dh, "r.jsonl")
    per_det = {det: 0 for det in DETS}
    for t in range(START + 3600, END + 1, 3600):
        # a --db store kept across the windows, as the run keeps one (the 24-hour risk rule)
        p = subprocess.run([runlib.ESCUDO, "hunt", "--content", CONTENT, "--quiet", "--format", "json",
                            "--earliest", runlib.iso(t - 4200), "--latest", runlib.iso(t - 600), "--now",
                            runlib.iso(t), "--notables", hn, "--risk", hr, "--db", os.path.join(dh, "h.db"),
                            allin], capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"hunt: {p.stderr}")
        for line in p.stdout.splitlines():
            for det, what in DETS.items():
                if what.split(": ", 1)[1] in line:
                    per_det[det] += 1
    hunt_n, hunt_r = sorted(runlib.lines(hn)), sorted(runlib.lines(hr))
for det, n in per_det.items():
    if n == 0:
        fails.append(f"{DETS[det]}: hunt finds no rows in any window (the test would prove nothing)")
if (ref_n, ref_r) != (hunt_n, hunt_r):
    fails.append(f"run differs from hunt per window: {len(ref_n)} notables / {len(ref_r)} risk events "
                 f"vs {len(hunt_n)} / {len(hunt_r)}")
if not ref_n and not ref_r:
    fails.append("no notables or risk events at all")

# kills: inside checkpoint transactions while windows hold records, and from outside
plan = {c: [["commit:1", "sink:1", "commit:2", "timer:0.05"][k % 4]] for k, c in enumerate(checkpoints)}
with tempfile.TemporaryDirectory() as d1:
    got_n, got_r, kills = replay(d1, plan)
if len(kills) < 5:
    fails.append(f"only {len(kills)} kills happened")
if got_n != ref_n:
    fails.append(f"after kills, notables differ: {len(got_n)} lines vs {len(ref_n)}")
if got_r != ref_r:
    fails.append(f"after kills, risk events differ: {len(got_r)} lines vs {len(ref_r)}")

shutil.rmtree(TMP)
print(f"run datasets: {len(recs)} events, {len(ref_n)} notables, {len(ref_r)} risk events, "
      f"{len(kills)} kills; hunt rows per detection {per_det}")
for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
