#!/usr/bin/env python3
"""One run per state directory (issue 19, item 6).

Two `escudo run`s on one --state used to be both accepted: every notable twice in the JSON-lines
file. The first run holds an exclusive lock on STATE/lock for its life; a second run on the same
folder is refused at once with exit 2 and a message naming the folder, and writes nothing. Once
the first run is gone (killed: the kernel drops the lock), a new run starts normally.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import runlib  # noqa: E402

fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


with tempfile.TemporaryDirectory() as td:
    src = os.path.join(td, "base.xml")
    with open(src, "w") as f:
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_stream.py"),
                        "--events", "2000", "--eps", "1", "--every", "50"], stdout=f, check=True)
    st = os.path.join(td, "state")
    nt = os.path.join(td, "n.jsonl")
    common = ["--state", st, "--notables", nt, "--clock-start", "2024-03-06T00:00:00Z",
              "--clock-speed", "max", src]
    # the first run follows forever (no --once-until)
    first = subprocess.Popen([runlib.ESCUDO, "run", "--enable", runlib.SEED, "--quiet",
                              "--poll", "0.05"] + common,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t = time.time()
    while time.time() - t < 20 and not os.path.exists(os.path.join(st, "lock")):
        time.sleep(0.05)
    time.sleep(0.5)
    check(first.poll() is None, "the first run is running")
    before = runlib.lines(nt)
    second = runlib.run(common + ["--once-until", "2024-03-06T08:00:00Z"], check=False)
    check(second.returncode == 2, f"second run refused with exit 2 (got {second.returncode})")
    check(st in second.stderr and "in use by another escudo run" in second.stderr,
          f"the message names the state folder: {second.stderr!r}")
    time.sleep(0.3)
    after = runlib.lines(nt)
    ids = [x for x in after]
    check(len(ids) == len(set(ids)), "no notable written twice")
    check(len(after) >= len(before), "the first run kept its file")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=20)
    third = runlib.run(common + ["--once-until", "2024-03-06T08:00:00Z"], check=False)
    check(third.returncode == 0, f"a run after the first one died starts: {third.stderr}")

if fails:
    print(f"{len(fails)} failure(s)")
    sys.exit(1)
print("ok")
