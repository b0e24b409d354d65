#!/usr/bin/env python3
"""Evidence of `run` (issue 16, docs/evidence.md): with --evidence, run's notables and risk
events carry the events behind their rows (orig_time, evidence_count, evidence), the same as
`escudo hunt --evidence` of each scheduled window gives, including windows whose records were
read across restarts and kill -9 (a window's blob keeps each record's origin: input, offset,
line, record id). Every reference resolves with `escudo dump --at` to a record of that _time.
Without --evidence the notables carry none (t_pins.sh pins them byte for byte).

The crafted XML files are replayed as t_run_crash.py does: records appended at checkpoints 15
minutes apart, each checkpoint a `run --clock-speed max --once-until C`; some are killed inside
their checkpoint transaction (ESCUDO_TEST_CRASH_AT=commit:N) and run again."""
import json
import os
import random
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(__file__))
import runlib  # noqa: E402

rng = random.Random(16)
START, END = runlib.epoch("2024-03-06T08:00:00Z"), runlib.epoch("2024-03-06T11:00:00Z")
sources = [runlib.xml_records(os.path.join(runlib.CRAFTED, n))[0] for n in ("sysmon.xml", "security.xml")]
arrivals = sorted((t + rng.randint(0, 590), i, b) for i, recs in enumerate(sources) for t, b in recs)
checkpoints = list(range(START + 900, END + 1, 900))
fails = []
sizes = []  # per checkpoint: each input's size once its records were appended


def check(name, ok, detail=""):
    print(("ok: " if ok else "FAIL: ") + name + ("" if ok else " " + str(detail)[:400]))
    if not ok:
        fails.append(name)


def replay(d, evidence, crash):
    ins = [os.path.join(d, f"in{i}.xml") for i in range(len(sources))]
    for p in ins:
        open(p, "wb").close()
    st, nt, rk = (os.path.join(d, x) for x in ("st", "n.jsonl", "r.jsonl"))
    nxt, kills = 0, 0
    sizes.clear()
    for k, c in enumerate(checkpoints):
        while nxt < len(arrivals) and arrivals[nxt][0] <= c:
            _, i, b = arrivals[nxt]
            with open(ins[i], "ab") as f:
                f.write(b if b.endswith(b"\n") else b + b"\n")
            nxt += 1
        sizes.append({p: os.path.getsize(p) for p in ins})
        args = ["--state", st, "--notables", nt, "--risk", rk, "--clock-speed", "max", "--clock-start",
                runlib.iso(START), "--once-until", runlib.iso(c)] + (["--evidence"] if evidence else []) + ins
        if crash and k % 2 == 0:
            p = runlib.run(args, env={"ESCUDO_TEST_CRASH_AT": f"commit:{1 + k % 3}"}, check=False)
            kills += p.returncode == -9
        runlib.run(args)
    return ins, runlib.lines(nt), runlib.lines(rk), kills


def hunt_windows(ins, d):
    """hunt --evidence of each hourly window (the seed detection: -70m@m .. -10m@m), with a store
    kept across windows as run keeps one (the 24-hour risk rule spans windows)."""
    hn, hr = os.path.join(d, "hn.jsonl"), os.path.join(d, "hr.jsonl")
    for t in range(START + 3600, END + 1, 3600):
        p = subprocess.run([runlib.ESCUDO, "hunt", "--detection", runlib.SEED, "--quiet", "--format", "json",
                            "--evidence", "--earliest", runlib.iso(t - 4200), "--latest", runlib.iso(t - 600),
                            "--now", runlib.iso(t), "--notables", hn, "--risk", hr, "--db", os.path.join(d, "h.db")] + ins,
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"hunt: {p.stderr}")
    return runlib.lines(hn), runlib.lines(hr)


with tempfile.TemporaryDirectory() as d:
    ins, plain_n, plain_r, _ = replay(d, False, False)
    check("without --evidence: no evidence in notables or risk events",
          plain_n and not any('"evidence' in x or '"orig_time"' in x for x in plain_n + plain_r))

with tempfile.TemporaryDirectory() as d:
    ins, got_n, got_r, kills = replay(d, True, True)
    hunt_n, hunt_r = hunt_windows(ins, d)
    check("kill -9 inside checkpoints happened (%d)" % kills, kills >= 4)
    # the detection's notables (the 24-hour risk threshold notables stand for risk events, not
    # for events, and carry none)
    notables = [n for n in map(json.loads, got_n) if not n["search_name"].startswith("Risk - ")]
    risks = [json.loads(x) for x in got_r]
    check("notables made (%d)" % len(notables), len(notables) > 5)
    check("every notable has evidence",
          all(n.get("evidence_count", 0) > 0 and n.get("evidence") for n in notables))
    check("every risk event has evidence",
          risks and all(r.get("evidence_count", 0) > 0 and r.get("evidence") for r in risks))
    check("orig_time is the earliest event's time",
          all(n["orig_time"] == int(n["evidence"][0]["_time"]) for n in notables))
    check("at most 10 references, in time order",
          all(len(n["evidence"]) <= 10 and [e["_time"] for e in n["evidence"]] ==
              sorted(e["_time"] for e in n["evidence"]) for n in notables))
    check("run across kills equals hunt --evidence of each window (notables)",
          sorted(got_n) == sorted(hunt_n), (len(got_n), len(hunt_n)))
    check("run across kills equals hunt --evidence of each window (risk events)",
          sorted(got_r) == sorted(hunt_r), (len(got_r), len(hunt_r)))
    # a window spanning restarts: its events were read by several invocations
    def read_at(e):  # the invocation (checkpoint) that read the record
        return next(k for k, sz in enumerate(sizes) if sz[e["source"]] > e["offset"])
    span = [n for n in notables if len({read_at(e) for e in n["evidence"]}) > 1]
    check("notables whose events were read across restarts (%d)" % len(span), len(span) > 0)
    bad = []
    for ref in sorted({(e["source"], e["offset"], e["_time"]) for n in notables for e in n["evidence"]}):
        p = subprocess.run([runlib.ESCUDO, "dump", "--at", f"{ref[0]}:{ref[1]}"], capture_output=True, text=True)
        iso = datetime.fromtimestamp(int(float(ref[2])), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        if p.returncode != 0 or iso not in p.stdout:
            bad.append((ref, p.stderr or p.stdout[:200]))
    check("every reference resolves with dump --at to a record of its _time", not bad, bad[:3])
sys.exit(1 if fails else 0)
