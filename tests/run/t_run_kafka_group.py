#!/usr/bin/env python3
"""`run --kafka` (issue 18), three workers in one consumer group: a 3-broker mock cluster
(librdkafka's, on loopback: build/esc_kafka_mock), a 6-partition topic of the crafted records
keyed by host, produced stage by stage every 30 minutes of a replay. At each stage a random set
of the workers runs (`--clock-speed max --once-until` the stage), each with its own state
directory, all into one SQLite store; partitions move between them at every stage (a worker
leaving, joining, and the group's rebalances while the others read). In most stages one worker
is killed with kill -9 at a random moment and started again; in some a broker is taken down
and up again while they read. After the last stage the notables of the store equal, as a
multiset, those of `escudo hunt` of each window over the same records: no loss, no duplicate
(the event ids and events of the two sides compared, each once). The 24-hour risk incident
rule's notables are left out of the comparison: the rule sums risk over all hosts, so each
worker's rule sees only its share (docs/scale.md says so; one worker matches it, t_run_kafka.py).
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

rng = random.Random(1818)
WORKERS = 3

RULE = '"search_name":"Risk - 24 Hour Risk Threshold Exceeded - Rule"'


def detections_only(rows):
    return [x for x in rows if RULE not in x[1]]


with tempfile.TemporaryDirectory() as d:
    ref = detections_only(kafkalib.hunt_reference(d))
assert len(ref) > 10, "the crafted records make notables"

kills = outages = moves = 0
fails = []
with tempfile.TemporaryDirectory() as d:
    mock = kafkalib.Mock(brokers=3, partitions=6)
    db = os.path.join(d, "x.db")
    prev = set()
    try:
        for c in kafkalib.staged(mock):
            members = set(rng.sample(range(WORKERS), rng.randint(1, WORKERS)))
            moves += members != prev
            prev = members
            args = {w: kafkalib.run_args(mock, os.path.join(d, f"st{w}"), db, c, group="fleet")
                    for w in members}
            procs = {w: subprocess.Popen(args[w], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                     for w in sorted(members)}
            if rng.random() < 0.3:
                time.sleep(rng.uniform(0.5, 3))
                mock.cmd("down 2")
                time.sleep(rng.uniform(1, 3))
                mock.cmd("up 2")
                outages += 1
            for _ in range(2 if rng.random() < 0.5 else 1):
                time.sleep(rng.uniform(0.3, 6))
                w = rng.choice(sorted(members))
                if procs[w].poll() is None:
                    procs[w].send_signal(signal.SIGKILL)
                    procs[w].wait()
                    kills += 1
                    procs[w] = subprocess.Popen(args[w], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                text=True)
            for w, p in procs.items():
                _, err = p.communicate(timeout=600)
                if p.returncode != 0:
                    raise SystemExit(f"worker {w} at {runlib.iso(c)}: exit {p.returncode}: {err}")
    finally:
        mock.close()
    got = detections_only(kafkalib.notables(db))
    dup = kafkalib.duplicates(kafkalib.notables(db))

print(f"kafka group: {WORKERS} workers, {kills} kill -9, {outages} broker outages, "
      f"{moves} membership changes over {len(kafkalib.stages())} stages; {len(got)} notables, "
      f"hunt {len(ref)}")
if kills < 10:
    fails.append(f"only {kills} kills happened")
if got != ref or dup:
    fails.append(f"{len(got)} notables ({dup} duplicated), hunt {len(ref)}: "
                 + kafkalib.explain(got, ref))
for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
