#!/usr/bin/env python3
# ctest-label: slow (about 40 s; `make check` runs it on the plain build only)
"""Crash safety with every sink on (issue 19, acceptance): `kill -9` of `hunt` and of `run` at
random moments, with --notables, --risk, --db and --hec (tests/act/hec_server.py on 127.0.0.1,
one server per sequence so that copies are counted per sequence), then restarts until an
invocation completes; the sinks are compared with an uninterrupted reference run's.

Kills: ESC_CRASH_KILLS of hunt and as many of run (default 10 each; `make heavy` runs 50 through
t_crash_sinks_heavy.sh). Seed: ESC_CRASH_SEED (default 19); it is printed with every failure,
and the same seed replays the same plan (kill delays are wall-clock, so the moments hit vary
with the machine's speed; a failure names the seed and the plan of the failing sequence).

hunt (gen_stream.py input, 86 notables and 280 risk events): each kill is SIGKILL from outside
after a random delay within the uninterrupted hunt's duration; after a kill, a completing hunt
follows or (one time in three) another killed one. Checked, as docs/actions.md's table says:
- JSON lines: every line whole (a torn tail is cut when the next hunt opens the file); the last
  lines are the reference output, line for line; every earlier line is a line of it (a killed
  hunt wrote a prefix of the same output: one copy per hunt, by design);
- SQLite store: exactly the reference's event_ids, each once;
- HEC: every reference event_id arrived; at most one copy per hunt invocation of the sequence
  (killed ones included): a copy only for an answer lost by the kill or events made again by
  the next hunt, the at-least-once bound.

run (the issue's reproducer: `run --clock-speed max --once-until` over 8 hours): killed from
outside after a random delay, or by the crash hook (ESCUDO_TEST_CRASH_AT=sink:N, after the N-th
event handed to the sinks; commit:N, inside the N-th checkpoint transaction before COMMIT), then
restarted until a run completes; a sequence ends when a run completes (a new one starts with
fresh state, sinks and server while kills remain). Checked: JSON lines equal the reference,
sorted, line for line (exactly once, no torn line); the store the same event_ids each once;
HEC every event_id, at most one copy per invocation of the sequence.
"""
import collections
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

ESCUDO = os.path.abspath(os.environ.get("ESCUDO", "build/escudo"))
SRC = os.environ.get("ESC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SERVER = os.path.join(SRC, "tests", "act", "hec_server.py")
GEN = os.path.join(SRC, "tests", "run", "gen_stream.py")
SEED_DET = "743a322c-9a68-4a0f-9c17-85d9cce2a27c"
TOKEN = "crash-token"
KILLS = int(os.environ.get("ESC_CRASH_KILLS", "10"))
SEED = int(os.environ.get("ESC_CRASH_SEED", "19"))
rng = random.Random(SEED)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL (seed %d): %s" % (SEED, what), flush=True)


class Hec:
    """A fake HEC for one sequence; events() lists every indexed copy's event_id."""

    def __init__(self):
        self.p = subprocess.Popen([sys.executable, SERVER, "--token", TOKEN, "--lifetime", "900"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.port = int(self.p.stdout.readline().split()[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def events(self):
        with urllib.request.urlopen(self.url + "/_events", timeout=10) as r:
            return json.loads(r.read())["events"]

    def stop(self):
        self.p.terminate()
        self.p.wait()


def sinks(d, hec):
    return ["--notables", os.path.join(d, "n.jsonl"), "--risk", os.path.join(d, "r.jsonl"),
            "--db", os.path.join(d, "x.db"), "--hec", hec.url, "--hec-spool",
            os.path.join(d, "spool"), "--hec-max-wait", "20"]


def hunt_cmd(d, hec, inp):
    return [ESCUDO, "hunt", "--quiet", "--format", "json", "--now", "2024-03-06T09:00:00Z",
            inp] + sinks(d, hec)


def run_cmd(d, hec, inp):
    return [ESCUDO, "run", "--enable", SEED_DET, "--quiet", "--state", os.path.join(d, "st"),
            "--clock-start", "2024-03-06T00:00:00Z", "--clock-speed", "max", "--once-until",
            "2024-03-06T08:00:00Z", inp] + sinks(d, hec)


ENV = dict(os.environ, ESCUDO_HEC_TOKEN=TOKEN)
ENV.pop("ESCUDO_TEST_CRASH_AT", None)


def invoke(cmd, kill=None):
    """Run cmd; kill: None (let it finish), ("timer", seconds) or ("hook", "sink:N").
    Returns the exit code (-9 when killed)."""
    env = ENV
    if kill and kill[0] == "hook":
        env = dict(ENV, ESCUDO_TEST_CRASH_AT=kill[1])
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill and kill[0] == "timer":
        try:
            p.wait(timeout=kill[1])
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
    try:
        _, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        check(False, "%s did not end in 120 s" % cmd[1])
    if p.returncode not in (0, -signal.SIGKILL):
        check(False, "%s: exit %d: %s" % (cmd[1], p.returncode, err.decode(errors="replace")[-400:]))
    return p.returncode


def read_lines(path):
    """(lines as bytes, torn): torn when a line is not a JSON object or the file lacks its last
    newline."""
    if not os.path.exists(path):
        return [], False
    data = open(path, "rb").read()
    torn = bool(data) and not data.endswith(b"\n")
    out = data.splitlines()
    for l in out:
        try:
            json.loads(l)
        except ValueError:
            torn = True
    return out, torn


def ids_of(lines):
    out = []
    for l in lines:
        try:
            out.append(json.loads(l)["event_id"])
        except (ValueError, KeyError):
            pass
    return out


def db_ids(path):
    con = sqlite3.connect(path)
    try:
        return sorted(r[0] for r in con.execute(
            "SELECT event_id FROM notables UNION ALL SELECT event_id FROM risk_events"))
    finally:
        con.close()


def reference(kind, inp):
    d = tempfile.mkdtemp(dir=TMP, prefix="ref-%s-" % kind)
    hec = Hec()
    cmd = (hunt_cmd if kind == "hunt" else run_cmd)(d, hec, inp)
    t0 = time.monotonic()
    rc = invoke(cmd)
    took = time.monotonic() - t0
    n, tn = read_lines(os.path.join(d, "n.jsonl"))
    r, tr = read_lines(os.path.join(d, "r.jsonl"))
    ev = hec.events()
    hec.stop()
    ref = {"n": n, "r": r, "db": db_ids(os.path.join(d, "x.db")), "took": took}
    allids = sorted(ids_of(n) + ids_of(r))
    if rc != 0 or tn or tr or len(n) < 10 or len(r) < 10 or ref["db"] != allids or \
            sorted(ev) != allids:
        raise SystemExit("reference %s: exit %d, %d notables, %d risk events, %d in the store, "
                         "%d at HEC" % (kind, rc, len(n), len(r), len(ref["db"]), len(ev)))
    return ref


def verify(kind, d, hec, ref, invocations, plan):
    where = "%s sequence %s (plan %s)" % (kind, os.path.basename(d), plan)
    want = sorted(ids_of(ref["n"]) + ids_of(ref["r"]))
    for f, key in (("n.jsonl", "n"), ("r.jsonl", "r")):
        got, torn = read_lines(os.path.join(d, f))
        check(not torn, "%s: a torn line in %s" % (where, f))
        if kind == "run":
            check(sorted(got) == sorted(ref[key]),
                  "%s: %s differs from the reference: %d lines, %d expected, %d distinct ids"
                  % (where, f, len(got), len(ref[key]), len(set(ids_of(got)))))
        else:
            k = len(ref[key])
            ok = got[-k:] == ref[key] if k else True
            check(ok, "%s: %s does not end with the completed hunt's output" % (where, f))
            refset = set(ref[key])
            check(all(l in refset for l in got[:-k]),
                  "%s: %s holds a line the reference does not (a killed hunt's lines must be "
                  "copies of its lines)" % (where, f))
    check(db_ids(os.path.join(d, "x.db")) == want,
          "%s: the store differs from the reference (exactly once)" % where)
    copies = collections.Counter(hec.events())
    missing = [i for i in want if copies[i] == 0]
    check(not missing, "%s: %d event_ids never reached HEC, e.g. %s"
          % (where, len(missing), missing[:3]))
    extra = set(copies) - set(want)
    check(not extra, "%s: HEC got event_ids not in the reference: %s" % (where, sorted(extra)[:3]))
    over = {i: c for i, c in copies.items() if c > invocations}
    check(not over, "%s: more HEC copies than invocations (%d): %s"
          % (where, invocations, sorted(over.items())[:3]))
    return max(copies.values()) if copies else 0


def hunt_sequences(inp, ref):
    kills = seqs = worst = 0
    while kills < KILLS and seqs < 10 * KILLS:
        d = tempfile.mkdtemp(dir=TMP, prefix="hunt-")
        hec = Hec()
        plan, invocations = [], 0
        while True:  # killed hunts, then one that completes
            delay = round(rng.uniform(0.0, ref["took"]), 3)
            rc = invoke(hunt_cmd(d, hec, inp), ("timer", delay))
            invocations += 1
            plan.append("kill@%.3fs%s" % (delay, "" if rc else "(ended first)"))
            kills += rc == -signal.SIGKILL
            if kills >= KILLS or rng.random() < 2 / 3:
                break
        invoke(hunt_cmd(d, hec, inp))
        invocations += 1
        worst = max(worst, verify("hunt", d, hec, ref, invocations, plan))
        hec.stop()
        seqs += 1
    return kills, seqs, worst


def run_sequences(inp, ref):
    kills = seqs = worst = 0
    while kills < KILLS and seqs < 10 * KILLS:
        d = tempfile.mkdtemp(dir=TMP, prefix="run-")
        hec = Hec()
        plan, invocations = [], 0
        while True:
            if kills < KILLS:
                x = rng.random()
                if x < 0.5:
                    how = ("timer", round(rng.uniform(0.0, ref["took"]), 3))
                elif x < 0.8:
                    how = ("hook", "sink:%d" % rng.randint(1, 600))
                else:
                    how = ("hook", "commit:%d" % rng.randint(1, 12))
            else:
                how = None
            rc = invoke(run_cmd(d, hec, inp), how)
            invocations += 1
            plan.append("%s%s" % ("%s:%s" % how if how else "complete", "" if rc else "(ended)"))
            kills += rc == -signal.SIGKILL
            if rc == 0:
                break
        worst = max(worst, verify("run", d, hec, ref, invocations, plan))
        hec.stop()
        seqs += 1
    return kills, seqs, worst


def main():
    global TMP
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="escudo-crash-") as TMP:
        inp = os.path.join(TMP, "base.xml")
        with open(inp, "w") as f:
            subprocess.run([sys.executable, GEN, "--events", "20000", "--eps", "1", "--every",
                            "50"], stdout=f, check=True)
        for kind, seqf in (("hunt", hunt_sequences), ("run", run_sequences)):
            ref = reference(kind, inp)
            k, s, worst = seqf(inp, ref)
            check(k >= KILLS, "%s: only %d of %d kills happened in %d sequences" % (kind, k, KILLS, s))
            print("%s: %d kills in %d sequences (reference %d notables, %d risk events, %.2f s); "
                  "most HEC copies of one event %d" % (kind, k, s, len(ref["n"]), len(ref["r"]),
                                                      ref["took"], worst), flush=True)
    print("seed %d, %d kills each, %.1f s" % (SEED, KILLS, time.monotonic() - t0))
    if failures:
        print("%d failures; replay with ESC_CRASH_SEED=%d ESC_CRASH_KILLS=%d" % (
            len(failures), SEED, KILLS))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
