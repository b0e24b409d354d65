#!/usr/bin/env python3
"""`run --kafka ... --repartition-topic TOPIC` (issue 18): detections that group across hosts run
in two stages between the workers of a consumer group (docs/scale.md "Two stages"). A 3-broker
mock cluster (librdkafka's, on loopback: build/esc_kafka_mock), a 6-partition input topic of the
crafted records of ../shared/data keyed by host, a 3-partition repartition topic; three workers
in one group, each with its own state directory, all into one SQLite store, enabled with the
seed detection (partition-local) and three written here that are not: the issue's
`by process_name | where dc(dest) > 2` (as tstats with `hosts > 2`), one using every function
that merges, and a raw-event stats. One worker is killed with kill -9 while they read and fire,
and started again; once they end, the three run once more (until the same time) to finish the
merges a worker that ended early had left. The notables of the store must equal, as a multiset,
those of `escudo hunt` of each window over the same records (the event ids and events compared,
each once; the 24-hour risk incident rule left out, as in t_run_kafka_group.py).
The refusals are checked too: a detection that does not merge (list()) is refused with
--repartition-topic, and a cross-host detection without it; and the cap: a partition's partial of
a window over --repartition-max-message (1024 here) stops the run with a message naming it.
ctest-label: heavy (each worker start joins two mock groups, and a killed member holds its
partitions for the session timeout: about a minute; CI keeps t_two_stage.py for the merge)
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

OWN = [
    ("Two stage process across hosts", "0d5c1b1e-1818-4b18-9018-000000000011",
     "| tstats count dc(Processes.dest) as hosts from datamodel=Endpoint.Processes by "
     "Processes.process_name | where hosts > 2"),
    ("Two stage every function", "0d5c1b1e-1818-4b18-9018-000000000012",
     "| tstats count count(Processes.user) as users dc(Processes.dest) as hosts "
     "values(Processes.dest) as dests min(_time) as firstTime max(_time) as lastTime "
     "min(Processes.process_id) as minpid max(Processes.user) as maxuser "
     "sum(Processes.process_id) as pids "
     "earliest(Processes.user) as first_user latest(Processes.user) as last_user "
     "from datamodel=Endpoint.Processes by Processes.parent_process_name | where hosts > 1"),
    ("Two stage raw stats", "0d5c1b1e-1818-4b18-9018-000000000013",
     "EventCode=4688 | eval n=1 | stats sum(n) as n dc(dest) as hosts "
     "values(user) as users by process_name"),
]
CAP = ("Two stage cap", "0d5c1b1e-1818-4b18-9018-000000000015",
       "| tstats values(Processes.process) as cmds values(Processes.process_guid) as guids "
       "dc(Processes.dest) as hosts from datamodel=Endpoint.Processes by Processes.user "
       "| where hosts > 5")
LIST = ("Two stage list is refused", "0d5c1b1e-1818-4b18-9018-000000000014",
        "| tstats count list(Processes.dest) as dests from datamodel=Endpoint.Processes by "
        "Processes.process_name")
RULE = '"search_name":"Risk - 24 Hour Risk Threshold Exceeded - Rule"'
REPART = "repart"
WORKERS = 3
rng = random.Random(int(os.environ.get("ESC_TEST_SEED", "1820")))
fails = []


def detections_only(rows):
    return [x for x in rows if RULE not in x[1]]


def count_by_det(rows):
    out = {}
    for _, js in rows:
        for name in [o[0] for o in OWN] + ["seed"]:
            if name in js or (name == "seed" and not any(o[0] in js for o in OWN)):
                out[name] = out.get(name, 0) + 1
                break
    return out


with tempfile.TemporaryDirectory() as d:
    loc = os.path.join(d, "loc")
    runlib.write_detections(loc, OWN + [LIST, CAP], "tests/run/t_run_kafka_two_stage.py")
    dets = [runlib.SEED] + [o[1] for o in OWN]
    ref = detections_only(kafkalib.hunt_reference(d, dets, ["--local", loc]))
    byd = count_by_det(ref)
    if byd.get(OWN[0][0], 0) < 2 or len(byd) < 4:
        fails.append(f"the reference lacks notables of some detection: {byd}")

    mock = kafkalib.Mock(brokers=3, partitions=6)
    db = os.path.join(d, "x.db")
    extra = ["--local", loc, "--repartition-topic", REPART]
    for o in OWN:
        extra += ["--enable", o[1]]
    t0 = time.time()
    kills = 0
    try:
        mock.cmd(f"topic {REPART} 3")
        # refusals: a function that does not merge; a cross-host detection without the flag
        st = os.path.join(d, "refused")
        p = subprocess.run(kafkalib.run_args(mock, st, db, kafkalib.END, group="refused")
                           + ["--local", loc, "--enable", LIST[1], "--repartition-topic", REPART],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 2 or "does not run in two stages" not in p.stderr or "list" not in p.stderr:
            fails.append(f"list() with --repartition-topic: exit {p.returncode}: {p.stderr.strip()}")
        p = subprocess.run(kafkalib.run_args(mock, st, db, kafkalib.END, group="refused")
                           + ["--local", loc, "--enable", OWN[0][1]],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 2 or "--repartition-topic" not in p.stderr:
            fails.append(f"cross-host without --repartition-topic: exit {p.returncode}: "
                         f"{p.stderr.strip()}")

        mock.produce([(k, b) for _, k, b in kafkalib.arrivals(random.Random(7))])
        args = {w: kafkalib.run_args(mock, os.path.join(d, f"st{w}"), db, kafkalib.END,
                                     group="fleet", extra=extra) for w in range(WORKERS)}
        procs = {}
        for w in range(WORKERS):
            procs[w] = subprocess.Popen(args[w], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)
            time.sleep(rng.uniform(0.2, 1.5))
        time.sleep(rng.uniform(1, 4))
        # a worker still running (one that ended already cannot be killed: on a fast or busy
        # machine the one drawn among all had ended, and the run had no kill)
        alive = [w for w in range(WORKERS) if procs[w].poll() is None] or [0]
        w = alive[rng.randrange(len(alive))]
        if procs[w].poll() is None:
            procs[w].send_signal(signal.SIGKILL)
            procs[w].wait()
            kills += 1
            procs[w] = subprocess.Popen(args[w], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)
        errs = {}
        for rnd in (1, 2):
            for w, p in procs.items():
                _, err = p.communicate(timeout=600)
                errs[w] = err
                if p.returncode != 0:
                    raise SystemExit(f"worker {w} (round {rnd}): exit {p.returncode}: {err}")
            if rnd == 1:  # once more: merges a worker that ended early left are finished
                procs = {w: subprocess.Popen(args[w], stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE, text=True)
                         for w in range(WORKERS)}
        # the cap on one partition's partial of a window: the run stops, naming it
        p = subprocess.run(kafkalib.run_args(mock, os.path.join(d, "cap"), os.path.join(d, "cap.db"),
                                             kafkalib.END, group="cap")
                           + ["--local", loc, "--enable", CAP[1], "--repartition-topic", REPART,
                              "--repartition-max-message", "1024"],
                           capture_output=True, text=True, timeout=300)
        if p.returncode == 0 or "are more than 1024 bytes (--repartition-max-message)" not in p.stderr:
            fails.append(f"a partial over --repartition-max-message 1024: exit {p.returncode}: "
                         f"{p.stderr.strip()[-600:]}")
    finally:
        mock.close()
    got = detections_only(kafkalib.notables(db))
    dup = kafkalib.duplicates(kafkalib.notables(db))

print(f"kafka two stages: {WORKERS} workers, {kills} kill -9, {time.time() - t0:.0f} s; "
      f"{len(got)} notables {count_by_det(got)}, hunt {len(ref)} {byd}")
if kills < 1:
    fails.append("no worker was killed (they ended first)")
if got != ref or dup:
    fails.append(f"{len(got)} notables ({dup} duplicated), hunt {len(ref)}: "
                 + kafkalib.explain(got, ref))
for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
