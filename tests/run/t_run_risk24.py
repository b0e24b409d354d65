#!/usr/bin/env python3
"""The 24-hour risk rule spans scheduled runs without --db (issue 19, item 13).

Without --db, `run` used to fire "Risk - 24 Hour Risk Threshold Exceeded" for the same object at
every scheduled run (96 threshold notables against 16 with --db over the issue's reproducer):
the rule saw only the risk events of one run. Its state (the last threshold notable per object
and the risk events it still needs) now lives in the run's checkpoint ("@risk"), whichever
sinks are configured. Checked: the same notables with and without --db; the same when the run
is stopped and restarted every two hours; the same over a stream of several days (pruning).
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import runlib  # noqa: E402

fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def gen(path, events, eps):
    with open(path, "w") as f:
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_stream.py"),
                        "--events", str(events), "--eps", str(eps), "--every", "50"], stdout=f,
                       check=True)


def go(td, name, src, until, db=False, restarts=()):
    st = os.path.join(td, name + ".state")
    nt = os.path.join(td, name + ".jsonl")
    args = ["--state", st, "--notables", nt, "--clock-start", "2024-03-06T00:00:00Z",
            "--clock-speed", "max"]
    if db:
        args += ["--db", os.path.join(td, name + ".db")]
    for u in list(restarts) + [until]:
        runlib.run(args + ["--once-until", u, src])
    return sorted(runlib.lines(nt))


def thresholds(lines):
    return [x for x in lines if "24 Hour Risk Threshold" in x]


with tempfile.TemporaryDirectory() as td:
    base = os.path.join(td, "base.xml")
    gen(base, 20000, 1)
    until = "2024-03-06T08:00:00Z"
    plain = go(td, "plain", base, until)
    withdb = go(td, "db", base, until, db=True)
    check(len(thresholds(withdb)) == 16, f"--db: 16 threshold notables ({len(thresholds(withdb))})")
    check(len(thresholds(plain)) == len(thresholds(withdb)),
          f"without --db: {len(thresholds(plain))} threshold notables, with: {len(thresholds(withdb))}")
    check(plain == withdb, "without --db: the same notables as with --db")
    hours = [f"2024-03-06T{h:02d}:00:00Z" for h in (2, 4, 6)]
    split = go(td, "split", base, until, restarts=hours)
    check(split == plain, "stopped and restarted every two hours: the same notables")

    slow = os.path.join(td, "slow.xml")
    gen(slow, 8000, 0.02)  # 400000 s, four and a half days
    until = "2024-03-11T00:00:00Z"
    plain = go(td, "slowplain", slow, until, restarts=["2024-03-08T00:00:00Z"])
    withdb = go(td, "slowdb", slow, until, db=True)
    check(len(thresholds(withdb)) > 0, "several days: threshold notables")
    check(plain == withdb, f"several days: the same notables without --db "
          f"({len(thresholds(plain))} vs {len(thresholds(withdb))} threshold notables)")

print("threshold notables:", len(thresholds(plain)))
if fails:
    print(f"{len(fails)} failure(s)")
    sys.exit(1)
print("ok")
