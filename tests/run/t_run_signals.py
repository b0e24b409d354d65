#!/usr/bin/env python3
"""Signals, the config file and status (issue 6).

- SIGHUP reloads content and the run continues from its state; SIGTERM finishes the step,
  checkpoints and exits 0; the input offset is committed (status shows it read to the end).
- A config file enables the detection and names inputs and sinks; a flag overrides a value.
- Following a file: records appended later are read; a truncated or rotated file is read from
  the start; a file appearing in a followed directory is read.
- Without --enable nothing runs (shipped content is disabled): a usage error.
"""
import json
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


def status(st):
    p = subprocess.run([runlib.ESCUDO, "status", "--state", st, "--format", "json"], capture_output=True, text=True)
    check(p.returncode == 0, f"status: {p.stderr}")
    return json.loads(p.stdout) if p.returncode == 0 else {}


def wait_for(pred, timeout=20):
    t = time.time()
    while time.time() - t < timeout:
        if pred():
            return True
        time.sleep(0.1)
    return False


sysmon = open(os.path.join(runlib.CRAFTED, "sysmon.xml"), "rb").read()
with tempfile.TemporaryDirectory() as d:
    inp, st, nt = os.path.join(d, "in.xml"), os.path.join(d, "st"), os.path.join(d, "n.jsonl")
    half = sysmon.index(b"</Event>") + len(b"</Event>")
    with open(inp, "wb") as f:
        f.write(sysmon[:half])
    cfg = os.path.join(d, "run.yml")
    with open(cfg, "w") as f:
        f.write(f"enable:\n  - {runlib.SEED}\nstate: {os.path.join(d, 'wrong')}\nnotables: {nt}\n"
                f"poll: 0.1\ninputs:\n  - {inp}\n")
    # real clock at 100x from just before the data: a long-running process
    p = subprocess.Popen([runlib.ESCUDO, "run", "--config", cfg, "--state", st, "--clock-start",
                          "2024-03-06T09:00:00Z", "--clock-speed", "100"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(wait_for(lambda: status(st).get("inputs") if os.path.exists(os.path.join(st, "state.db")) else False),
          "the state appears in --state (the flag overrides the config)")
    check(not os.path.exists(os.path.join(d, "wrong")), "the config's state directory is not used")
    with open(inp, "ab") as f:  # the rest arrives later
        f.write(sysmon[half:])
    check(wait_for(lambda: all(i["offset"] == len(sysmon) for i in status(st).get("inputs", [{"offset": 0}]))),
          "appended records are read to the end")
    p.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    check(p.poll() is None, "SIGHUP does not stop the run")
    p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        check(False, "SIGTERM stops the run")
    check(p.returncode == 0, f"SIGTERM: exit 0, got {p.returncode}: {err}")
    check("reloading content" in err, f"SIGHUP reloads content: {err}")
    check("stopped by a signal" in err, "the summary says it stopped")
    s = status(st)
    check(s.get("inputs") and s["inputs"][0]["offset"] == len(sysmon) and s["inputs"][0]["lag"] == 0,
          f"status: input read to the end: {s.get('inputs')}")
    check(s.get("detections") and s["detections"][0]["id"] == runlib.SEED, "status lists the detection")
    # truncation: the file is replaced by a shorter one with the same inode
    with open(inp, "r+b") as f:
        f.truncate(0)
        f.write(sysmon[:half])
    p = runlib.run(["--state", st, "--clock-speed", "max", "--clock-start", "2024-03-06T09:00:00Z",
                    "--once-until", "2024-03-06T09:00:00Z", inp], check=False)
    check(p.returncode == 0 and "truncated" in p.stderr, f"truncation is reported: {p.stderr}")
    s = status(st)
    check(s.get("inputs") and s["inputs"][0]["offset"] == half, f"truncated file read again: {s.get('inputs')}")

    # rotation: the file is renamed away and a new one (another inode) takes its place
    os.rename(inp, inp + ".1")
    with open(inp, "wb") as f:
        f.write(sysmon)
    p = runlib.run(["--state", st, "--clock-speed", "max", "--clock-start", "2024-03-06T09:00:00Z",
                    "--once-until", "2024-03-06T09:00:00Z", inp], check=False)
    check(p.returncode == 0 and "rotated" in p.stderr, f"rotation is reported: {p.stderr}")
    s = status(st)
    check(s.get("inputs") and s["inputs"][0]["offset"] == len(sysmon), f"rotated file read whole: {s.get('inputs')}")

    # a directory: a file that appears in it later is followed
    dd = os.path.join(d, "dir")
    os.mkdir(dd)
    st2 = os.path.join(d, "st2")
    base = ["--state", st2, "--clock-speed", "max", "--clock-start", "2024-03-06T09:00:00Z",
            "--once-until", "2024-03-06T09:00:00Z", dd]
    runlib.run(base)
    with open(os.path.join(dd, "late.xml"), "wb") as f:
        f.write(sysmon)
    runlib.run(base)
    s = status(st2)
    check([(os.path.basename(i["path"]), i["offset"]) for i in s.get("inputs", [])] == [("late.xml", len(sysmon))],
          f"a new file in a followed directory is read: {s.get('inputs')}")

    # nothing enabled
    p = subprocess.run([runlib.ESCUDO, "run", "--state", st, inp], capture_output=True, text=True)
    check(p.returncode == 2 and "no detection enabled" in p.stderr, f"no --enable: usage error: {p.stderr}")

print("signals, config, status:", "FAIL" if fails else "ok")
sys.exit(1 if fails else 0)
