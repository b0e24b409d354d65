#!/usr/bin/env python3
"""`run` keeps running through a HEC outage (issue 19, item 3, run side).

Against tests/act/hec_server.py answering 503 to every batch: `run` does not stop (exit 0), the
other sinks (JSON lines, --db) commit every notable, and each step whose HEC batches stay
spooled says so in a message naming the spool. Run again (restart) while HEC is still down,
then once it is back: every event reaches HEC exactly once (a restart does not spool again
what is spooled), and the spool is drained.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import urllib.request
from collections import Counter

sys.path.insert(0, os.path.dirname(__file__))
import runlib  # noqa: E402

SERVER = os.path.join(runlib.SRC, "tests", "act", "hec_server.py")
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def control(port, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", data=data, timeout=10) as r:
        return json.loads(r.read())


with tempfile.TemporaryDirectory() as td:
    base = os.path.join(td, "base.xml")
    with open(base, "w") as f:
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_stream.py"),
                        "--events", "20000", "--eps", "1", "--every", "50"], stdout=f, check=True)
    srv = subprocess.Popen([sys.executable, SERVER, "--plan", ",".join(["503"] * 5000),
                            "--lifetime", "300"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline().split()[1])
        spool = os.path.join(td, "spool")
        nt = os.path.join(td, "n.jsonl")
        db = os.path.join(td, "db.sqlite")
        env = {"ESCUDO_HEC_TOKEN": "test-token"}
        args = ["--state", os.path.join(td, "st"), "--notables", nt, "--db", db,
                "--hec", f"http://127.0.0.1:{port}", "--hec-spool", spool, "--hec-max-wait", "1",
                "--clock-start", "2024-03-06T00:00:00Z", "--clock-speed", "max", base]
        p = runlib.run(args + ["--once-until", "2024-03-06T04:00:00Z"], env=env, check=False)
        check(p.returncode == 0, f"HEC down: the run goes on, exit 0 (got {p.returncode}: {p.stderr[-300:]})")
        check("spool" in p.stderr and "503" in p.stderr and "the run goes on" in p.stderr,
              f"HEC down: a message says batches wait in the spool: {p.stderr[-300:]!r}")
        n1 = len(runlib.lines(nt))
        check(n1 > 0, "HEC down: the JSON-lines sink committed")
        spooled = [f for f in os.listdir(spool) if f.endswith(".json")]
        check(len(spooled) > 0, "HEC down: batches wait in the spool")
        # restarted while still down
        p = runlib.run(args + ["--once-until", "2024-03-06T08:00:00Z"], env=env, check=False)
        check(p.returncode == 0, f"still down: exit 0 (got {p.returncode})")
        notables = runlib.lines(nt)
        check(len(notables) > n1, "still down: more notables committed")
        con = sqlite3.connect(db)
        ndb = con.execute("SELECT count(*) FROM notables").fetchone()[0]
        nrisk = con.execute("SELECT count(*) FROM risk_events").fetchone()[0]
        con.close()
        check(ndb == len(notables), f"--db committed every notable ({ndb} vs {len(notables)})")
        check(control(port, "/_events")["events"] == [], "nothing indexed while down")
        # HEC back
        control(port, "/_plan", [])
        # --hec-max-wait 1 keeps the down phases short; once HEC is back the run gets the
        # default's order of time to drain the spool, as a loaded machine may need (with 1 s a
        # slow answer left batches spooled and the check below failed on a working sink)
        back = [("30" if a == "1" and args[i - 1] == "--hec-max-wait" else a)
                for i, a in enumerate(args)]
        p = runlib.run(back + ["--once-until", "2024-03-06T09:00:00Z"], env=env, check=False)
        check(p.returncode == 0, f"HEC back: exit 0 (got {p.returncode}: {p.stderr[-300:]})")
        got = Counter(control(port, "/_events")["events"])
        dup = [k for k, v in got.items() if v > 1]
        check(not dup, f"HEC back: no event indexed twice ({len(dup)} were)")
        ids = {json.loads(x)["event_id"] for x in runlib.lines(nt)}
        check(ids <= set(got), f"HEC back: every notable reached HEC ({len(ids - set(got))} missing)")
        check(len(got) == ndb + nrisk, f"HEC back: notables and risk events, once each "
              f"({len(got)} vs {ndb} + {nrisk})")
        left = [f for f in os.listdir(spool) if f.endswith(".json")]
        check(not left, f"HEC back: the spool is drained ({left})")
    finally:
        srv.kill()
        srv.wait()

if fails:
    print(f"{len(fails)} failure(s)")
    sys.exit(1)
print("ok")
