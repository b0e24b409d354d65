#!/usr/bin/env python3
"""`run --kafka` (issue 18), one worker: a 3-broker mock cluster (librdkafka's, on loopback:
build/esc_kafka_mock) and a 6-partition topic of the crafted records (XML, NXLog, winlogbeat
and CrowdStrike JSON, one record a message, keyed by host), produced as they arrive, stage by
stage every 30 minutes of a replay (`--clock-speed max --once-until` each stage).

1. Without kills the notables in the SQLite store equal those of `escudo hunt` of each window
   over the same records (the reference of t_run_crash.py).
2. The same replay with 20 kill -9 at random moments (some stages killed twice), each killed
   stage run again: the notables equal the reference, as a multiset (no loss, no duplicate);
   the state's partition rows and the group's committed offsets are what the restart read.
3. Secrets are refused on the command line; a message larger than the cap is skipped.
ctest-label: heavy (minutes long: `make heavy`; CI keeps the quicker tests of the same code)
"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import kafkalib  # noqa: E402
import runlib  # noqa: E402

rng = random.Random(18)
fails = []


def replay(d, group, kills_per_stage):
    mock = kafkalib.Mock(brokers=3, partitions=6)
    st, db = os.path.join(d, "st"), os.path.join(d, "x.db")
    kills = 0
    try:
        for c in kafkalib.staged(mock):
            args = kafkalib.run_args(mock, st, db, c, group=group)
            for _ in range(kills_per_stage.get(c, 0)):
                p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0.3, 5.0))
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    kills += 1
                p.wait()
            p = subprocess.run(args, capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                raise SystemExit(f"run at {runlib.iso(c)}: exit {p.returncode}: {p.stderr}")
    finally:
        mock.close()
    return kafkalib.notables(db), kills


with tempfile.TemporaryDirectory() as d:
    ref = kafkalib.hunt_reference(d)
assert len(ref) > 10, "the crafted records make notables"

with tempfile.TemporaryDirectory() as d:
    got, _ = replay(d, "plain", {})
if got != ref:
    fails.append(f"no kills: {len(got)} notables, hunt {len(ref)}: " + kafkalib.explain(got, ref))

plan = {}
for c in kafkalib.stages():
    plan[c] = 2 if rng.random() < 0.7 else 1
with tempfile.TemporaryDirectory() as d:
    got, kills = replay(d, "killed", plan)
print(f"kafka: {kills} kill -9 over {len(kafkalib.stages())} stages; reference {len(ref)} notables")
if kills < 15:
    fails.append(f"only {kills} kills happened")
if got != ref:
    fails.append(f"with kills: {len(got)} notables, hunt {len(ref)}: " + kafkalib.explain(got, ref))

# secrets never on the command line
p = subprocess.run([runlib.ESCUDO, "run", "--enable", runlib.SEED, "--kafka", "127.0.0.1:1", "--topic", "t",
                    "--kafka-config", "sasl.password=hunter2"], capture_output=True, text=True)
if p.returncode != 2 or "never given on the command line" not in p.stderr or "hunter2" in p.stderr:
    fails.append(f"sasl.password on argv: exit {p.returncode}: {p.stderr}")
p = subprocess.run([runlib.ESCUDO, "run", "--enable", runlib.SEED, "--topic", "t", "x.json"],
                   capture_output=True, text=True)
if p.returncode != 2 or "--topic without --kafka" not in p.stderr:
    fails.append(f"--topic without --kafka: exit {p.returncode}: {p.stderr}")

# a cross-host detection (the example) is refused in this mode, and lint says why
with tempfile.TemporaryDirectory() as d:
    import re
    src = open(os.path.join(runlib.SRC, "content", "detections", "endpoint",
                            "create_or_delete_windows_shares_using_net_exe.yml")).read()
    src = src.replace("name: Create or delete windows shares using net exe", "name: Net exe across hosts", 1)
    src = src.replace("id: " + runlib.SEED, "id: 0d5c1b1e-1818-4b18-9018-181818181818", 1)
    src = re.sub(r"^search: '.*'$", "search: '| tstats count dc(Processes.dest) as hosts from "
                 "datamodel=Endpoint.Processes where `process_net` by Processes.process_name | where hosts > 2'",
                 src, count=1, flags=re.M)
    os.makedirs(os.path.join(d, "loc", "detections"))
    open(os.path.join(d, "loc", "detections", "cross.yml"), "w").write(src)
    p = subprocess.run([runlib.ESCUDO, "run", "--kafka", "127.0.0.1:1", "--topic", "t", "--local",
                        os.path.join(d, "loc"), "--enable", "Net exe across hosts", "--state",
                        os.path.join(d, "st")], capture_output=True, text=True)
    if p.returncode != 2 or "not partition-local" not in p.stderr:
        fails.append(f"cross-host detection with --kafka: exit {p.returncode}: {p.stderr}")
    p = subprocess.run([runlib.ESCUDO, "lint", "--local", os.path.join(d, "loc"), "--partition-key", "dest"],
                       capture_output=True, text=True)
    want = ["  local            " + runlib.SEED,
            "  cross-partition  0d5c1b1e-1818-4b18-9018-181818181818  Net exe across hosts: tstats groups by"]
    if not all(any(line.startswith(w) for line in p.stdout.splitlines()) for w in want):
        fails.append(f"lint --partition-key dest: {p.stdout[-600:]}")

for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
