#!/usr/bin/env python3
"""Two-stage aggregation (docs/scale.md) against one process: `hunt --two-stage 3` splits the hosts
into 3 shards, runs each detection whose search merges (esc_plan_mergeable) once per shard, and
merges the shards' partial aggregates, encoded and decoded as they travel between Kafka workers,
into one execution that runs the rest of the search. Over every event format of ../shared/data the
rows must equal a plain hunt's, byte for byte: the issue's cross-host detection (`by process_name`
with `dc(dest) > 2`: no shard alone has its rows), one using every function that merges (count,
count(X), dc, values, min, max, sum, avg, earliest, latest), a raw-event stats, and ESCU detections
that `lint --partition-key dest` says run in two stages. One using list() must not be split."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import runlib  # noqa: E402

ESCU = os.path.join(runlib.DATA, "escu-full")
INPUTS = [os.path.join(runlib.DATA, d) for d in ("evtx", "json", "crafted", "evtx-rs")]
OWN = [
    ("Two stage process across hosts", "0d5c1b1e-1818-4b18-9018-000000000001",
     "| tstats count dc(Processes.dest) as hosts from datamodel=Endpoint.Processes by "
     "Processes.process_name | where hosts > 2"),
    ("Two stage every function", "0d5c1b1e-1818-4b18-9018-000000000002",
     "| tstats count count(Processes.user) as users dc(Processes.dest) as hosts "
     "values(Processes.dest) as dests min(_time) as firstTime max(_time) as lastTime "
     "min(Processes.process_id) as minpid max(Processes.user) as maxuser "
     "sum(Processes.process_id) as pids avg(Processes.process_id) as avgpid "
     "earliest(Processes.user) as first_user latest(Processes.user) as last_user "
     "from datamodel=Endpoint.Processes by Processes.parent_process_name | where hosts > 1"),
    ("Two stage raw stats", "0d5c1b1e-1818-4b18-9018-000000000003",
     "`wineventlog_security` EventCode=4688 | eval n=1 | stats sum(n) as n dc(dest) as hosts "
     "values(user) as users by process_name"),
    ("Two stage list is not split", "0d5c1b1e-1818-4b18-9018-000000000004",
     "| tstats count list(Processes.dest) as dests from datamodel=Endpoint.Processes by "
     "Processes.process_name"),
]
ESCU_TWO_STAGE = ["Detect Rare Executables", "Executables Or Script Creation In Suspicious Path",
                  "Windows Driver Load Non-Standard Path", "Windows Default Group Policy Object Modified",
                  "Network Share Discovery Via Dir Command", "Windows RDP Connection Successful"]

fails = []
with tempfile.TemporaryDirectory() as d:
    runlib.write_detections(os.path.join(d, "loc"), OWN, "tests/run/t_two_stage.py")
    sel = []
    for name in [o[0] for o in OWN] + ESCU_TWO_STAGE:
        sel += ["--detection", name]
    base = [runlib.ESCUDO, "hunt", "--content", ESCU, "--local", os.path.join(d, "loc"), "--format",
            "json"] + sel + INPUTS
    one = subprocess.run(base, capture_output=True, text=True)
    two = subprocess.run(base[:2] + ["--two-stage", "3"] + base[2:], capture_output=True, text=True)
    if one.returncode or two.returncode:
        fails.append(f"exit {one.returncode} / {two.returncode}: {one.stderr[-500:]} {two.stderr[-500:]}")
    want_split = len(OWN) - 1 + len(ESCU_TWO_STAGE)
    if f"two stages: {want_split} detections" not in two.stderr:
        fails.append(f"not {want_split} detections in two stages: {two.stderr[-300:]}")
    if one.stdout != two.stdout:
        a, b = one.stdout.splitlines(), two.stdout.splitlines()
        diff = [x for x in a if x not in b][:3] + ["--"] + [x for x in b if x not in a][:3]
        fails.append(f"rows differ ({len(a)} vs {len(b)}): " + "\n".join(diff))
    for name, _, _ in OWN[:3]:
        if f'"ESCU - {name} - Rule"' not in one.stdout:
            fails.append(f"{name}: no rows (the test needs some)")
    # lint says which run in two stages, and why the list() one does not
    p = subprocess.run([runlib.ESCUDO, "lint", "--content", ESCU, "--local", os.path.join(d, "loc"),
                        "--partition-key", "dest"], capture_output=True, text=True)
    lines = p.stdout.splitlines()
    if not any(OWN[0][1] in x and x.endswith("two stages: exact") for x in lines):
        fails.append("lint: the cross-host detection does not run in two stages")
    if not any(OWN[3][1] in x and x.endswith("two stages: list() does not merge from partial results")
               for x in lines):
        fails.append("lint: list() is not named as the reason")
for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
