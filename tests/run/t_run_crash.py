#!/usr/bin/env python3
"""Crash test (issue 6): kill -9 at 20 moments spread over a replay, restart, and the final
notables and risk events equal the uninterrupted run's: none missing, none doubled.

The uninterrupted replay is also compared with `escudo hunt --earliest E --latest L --now T` of
each scheduled window (a CLI-level check of the property test's claim), with a --db store kept
across the windows as the run keeps one (so the 24-hour risk rule spans windows in both).

The crafted XML and JSON-lines files are replayed with a fixed seed: records arrive within their
windows' slack and are appended at checkpoints 15 minutes apart; at each checkpoint `escudo run
--clock-speed max --once-until C` reads what arrived and fires what is due. In the crashed
replay, some invocations are killed: inside a checkpoint transaction (ESCUDO_TEST_CRASH_AT=
commit:N, before COMMIT), in the middle of sink writes (sink:N, after the N-th notable or risk
event was handed to the sinks, some of it still in stdio buffers, lines torn), or with kill -9
from outside after a random delay. After each kill the same checkpoint is run again without the
hook. Compared: the JSON-lines files (sorted lines equal, each event_id once) and the SQLite
store (--db, same event_ids).
"""
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import runlib  # noqa: E402

rng = random.Random(20240306)
START, END = runlib.epoch("2024-03-06T08:00:00Z"), runlib.epoch("2024-03-06T14:00:00Z")

sources = []
for name in ("sysmon.xml", "security.xml"):
    recs, tail = runlib.xml_records(os.path.join(runlib.CRAFTED, name))
    sources.append(("xml", recs))
for name in ("nxlog.json", "winlogbeat.json", "crowdstrike.json"):
    sources.append(("json", runlib.json_records(os.path.join(runlib.CRAFTED, name))))
arrivals = []
for i, (_, recs) in enumerate(sources):
    for t, b in recs:
        a = START - 1 if t is None else t + rng.randint(0, 590)
        arrivals.append((a, i, b))
arrivals.sort(key=lambda x: x[0])
checkpoints = list(range(START + 900, END + 1, 900))


def replay(d, crash_plan):
    ins = [os.path.join(d, f"in{i}.{kind}") for i, (kind, _) in enumerate(sources)]
    for p in ins:
        open(p, "wb").close()
    st, nt, rk, db = (os.path.join(d, x) for x in ("st", "n.jsonl", "r.jsonl", "x.db"))
    kills = []
    nxt = 0
    for c in checkpoints:
        while nxt < len(arrivals) and arrivals[nxt][0] <= c:
            _, i, b = arrivals[nxt]
            with open(ins[i], "ab") as f:
                f.write(b if b.endswith(b"\n") else b + b"\n")
            nxt += 1
        args = [runlib.ESCUDO, "run", "--enable", runlib.SEED, "--quiet", "--state", st, "--notables", nt,
                "--risk", rk, "--db", db, "--clock-speed", "max", "--clock-start", runlib.iso(START),
                "--once-until", runlib.iso(c)] + ins
        runlib.checkpoint(args, crash_plan.get(c, []), kills, c, retry=True)
    con = sqlite3.connect(db)
    ids = sorted(r[0] for r in con.execute("SELECT event_id FROM notables UNION ALL SELECT event_id FROM risk_events"))
    con.close()
    return sorted(runlib.lines(nt)), sorted(runlib.lines(rk)), ids, kills


with tempfile.TemporaryDirectory() as d0:
    ref_n, ref_r, ref_db, _ = replay(d0, {})
assert len(ref_n) > 10 and len(ref_r) > 10, "the replay makes notables and risk events"

# the uninterrupted replay (a CLI-level arrival order) equals `hunt` of each scheduled window
files = [os.path.join(runlib.CRAFTED, n) for n in ("sysmon.xml", "security.xml", "nxlog.json", "winlogbeat.json",
                                                 "crowdstrike.json")]
hunt_n, hunt_r = [], []
with tempfile.TemporaryDirectory() as dh:
    for t in range(START + 3600, END + 1, 3600):
        hn, hr = os.path.join(dh, "n.jsonl"), os.path.join(dh, "r.jsonl")
        p = subprocess.run([runlib.ESCUDO, "hunt", "--detection", runlib.SEED, "--quiet", "--format", "json",
                            "--earliest", runlib.iso(t - 4200), "--latest", runlib.iso(t - 600), "--now", runlib.iso(t),
                            "--notables", hn, "--risk", hr, "--db", os.path.join(dh, "h.db")] + files, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"hunt: {p.stderr}")
    hunt_n, hunt_r = sorted(runlib.lines(hn)), sorted(runlib.lines(hr))

# 20+ kills spread over the replay. At the hours (a run is due) the sinks are written: kill in
# the middle of those writes, or in the checkpoint after them; between hours kill while reading
# (in a checkpoint transaction, or from outside at a random moment).
plan = {}
for c in checkpoints:
    if c % 3600 == 0:
        plan[c] = [f"sink:{rng.randint(2, 9)}", rng.choice([f"sink:{rng.randint(4, 12)}", "commit:3"])]
    else:
        k = rng.choice(["commit:1", "commit:2", "timer:"])
        plan[c] = [f"timer:{rng.uniform(0.05, 0.4):.3f}" if k == "timer:" else k]
with tempfile.TemporaryDirectory() as d1:
    got_n, got_r, got_db, kills = replay(d1, plan)

fails = []
if (ref_n, ref_r) != (hunt_n, hunt_r):
    fails.append(f"the replay differs from hunt per window: {len(ref_n)}/{len(ref_r)} vs {len(hunt_n)}/{len(hunt_r)}")
kinds_hit = {k.split(":")[0] for _, k in kills}
print(f"crash test: {len(kills)} kills ({', '.join(sorted(kinds_hit))}) over {len(checkpoints)} checkpoints; "
      f"reference {len(ref_n)} notables, {len(ref_r)} risk events")
if len(kills) < 20:
    fails.append(f"only {len(kills)} kills happened")
if not {"commit", "sink"} <= kinds_hit:
    fails.append("kills inside checkpoints and sink writes did not both happen")
if got_n != ref_n:
    fails.append(f"notables differ: {len(got_n)} lines vs {len(ref_n)}")
if got_r != ref_r:
    fails.append(f"risk events differ: {len(got_r)} lines vs {len(ref_r)}")
ids = []
for x in got_n:
    try:
        ids.append(json.loads(x)["event_id"])
    except ValueError:
        fails.append(f"a torn line in the notables: {x[:80]}")
if len(set(ids)) != len(ids):
    fails.append("a notable event_id appears twice")
if got_db != ref_db:
    fails.append(f"SQLite store differs: {len(got_db)} vs {len(ref_db)} events")
for f in fails:
    print("FAIL:", f)
if fails:
    print("kills:", kills)
sys.exit(1 if fails else 0)
