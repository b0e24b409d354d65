"""Helpers for the `escudo run --kafka` tests: librdkafka's mock cluster (build/esc_kafka_mock)
on loopback, the crafted records keyed by host, and the reference (`escudo hunt` per window)."""
import json
import os
import random
import re
import sqlite3
import struct
import subprocess
import tempfile

import runlib

BUILD = os.environ.get("ESC_BUILD_DIR", os.path.join(runlib.SRC, "build"))
MOCK = os.path.join(BUILD, "esc_kafka_mock")
START, END = runlib.epoch("2024-03-06T08:00:00Z"), runlib.epoch("2024-03-06T14:00:00Z")
FILES = ("sysmon.xml", "security.xml", "nxlog.json", "winlogbeat.json", "crowdstrike.json")


def host_key(b, aid_host):
    """The producer's key: the host's short name, lower case (winlogbeat's host.name or
    winlog.computer_name, the XML Computer, NXLog Hostname, CrowdStrike's ComputerName through
    its aid)."""
    m = re.search(rb"<Computer>([^<]*)", b)
    if m:
        h = m.group(1).decode()
    else:
        d = json.loads(b)
        h = (d.get("host") or {}).get("name") or (d.get("winlog") or {}).get("computer_name") \
            or d.get("Hostname") or d.get("ComputerName") \
            or aid_host.get(d.get("aid"), d.get("aid") or "unknown")
    return h.split(".")[0].lower()


def records():
    """[(time, key, bytes)] of the crafted files, in file order."""
    out = []
    aid_host = {}
    for name in FILES:
        p = os.path.join(runlib.CRAFTED, name)
        recs = runlib.xml_records(p)[0] if name.endswith(".xml") else runlib.json_records(p)
        for t, b in recs:
            b = b.strip()
            if name == "crowdstrike.json":
                d = json.loads(b)
                if "ComputerName" in d:
                    aid_host[d["aid"]] = d["ComputerName"]
            out.append((t, host_key(b, aid_host), b))
    return out


class Mock:
    def __init__(self, brokers=3, topic="winevents", partitions=6):
        self.topic = topic
        self.p = subprocess.Popen([MOCK, str(brokers), topic, str(partitions)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().split()
        assert line and line[0] == "bootstrap", line
        self.bootstrap = line[1]

    def cmd(self, c):
        self.p.stdin.write(c + "\n")
        self.p.stdin.flush()
        r = self.p.stdout.readline().strip()
        assert r.startswith("ok"), f"{c}: {r}"
        return r

    def produce(self, msgs):
        """msgs: [(key, bytes)]"""
        with tempfile.NamedTemporaryFile(delete=False) as f:
            for k, v in msgs:
                kb = k.encode()
                f.write(struct.pack("<I", len(kb)) + kb + struct.pack("<I", len(v)) + v)
        try:
            return self.cmd("produce " + f.name)
        finally:
            os.unlink(f.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        self.p.wait(timeout=30)


def run_args(mock, state, db, until, group="escudo", extra=()):
    return [runlib.ESCUDO, "run", "--enable", runlib.SEED, "--kafka", mock.bootstrap,
            "--topic", mock.topic, "--group", group, "--state", state, "--db", db,
            "--clock-speed", "max", "--clock-start", runlib.iso(START), "--once-until",
            runlib.iso(until), "--kafka-config", "session.timeout.ms=6000",
            "--kafka-config", "heartbeat.interval.ms=500", "--kafka-config",
            "max.poll.interval.ms=20000",
            # the CrowdStrike host inventory is given to every worker (docs/scale.md): an
            # inventory record read by one worker is not seen by the next owner of its partition
            "--aidmaster", os.path.join(runlib.CRAFTED, "crowdstrike.json")] + list(extra)


def notables(db):
    """The notables of a SQLite store as a sorted list of (event_id, the event's JSON)."""
    if not os.path.exists(db):
        return []
    con = sqlite3.connect(db)
    rows = sorted(con.execute("SELECT event_id, json FROM notables"))
    con.close()
    return rows


def duplicates(rows):
    """How many notables of notables() repeat an event id already there."""
    return len(rows) - len({event_id for event_id, _ in rows})


def explain(got, ref):
    """What differs between two lists of notables, for a failure message."""
    g, r = set(got), set(ref)
    out = [f"{len(r - g)} missing, {len(g - r)} extra"]
    gj, rj = dict(g - r), dict(r - g)
    for eid in sorted(set(gj) & set(rj))[:4]:
        a, b = json.loads(gj[eid]), json.loads(rj[eid])
        diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
        out.append(f"  {eid[:12]} differs (got, hunt): {str(diff)[:600]}")
    for tag, rows in (("missing", r - g), ("extra", g - r)):
        for eid, js in sorted(rows)[:6]:
            out.append(f"  {tag} {eid[:12]} {js[:400]}")
    return "\n".join(out)


def hunt_reference(d, detections=(runlib.SEED,), extra=()):
    """`escudo hunt` of each hourly window of the detections (by default the seed) over the
    crafted files; extra: more hunt options (--local DIR)."""
    db = os.path.join(d, "hunt.db")
    files = [os.path.join(runlib.CRAFTED, n) for n in FILES]
    sel = [a for x in detections for a in ("--detection", x)]
    for t in range(START + 3600, END + 1, 3600):
        p = subprocess.run([runlib.ESCUDO, "hunt"] + sel + list(extra) + ["--quiet", "--format", "json",
                            "--earliest", runlib.iso(t - 4200), "--latest", runlib.iso(t - 600),
                            "--now", runlib.iso(t), "--db", db] + files, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"hunt: {p.stderr}")
    return notables(db)


def arrivals(rng):
    """[(arrival time, key, bytes)]: each record arrives within 590 s after its time (within
    its window's slack, as in t_run_crash.py), sorted by arrival."""
    out = []
    for t, k, b in records():
        out.append((START - 1 if t is None else t + rng.randint(0, 590), k, b))
    out.sort(key=lambda x: x[0])
    return out


def stages(step=1800):
    return list(range(START + step, END + 1, step))


def staged(mock, arr=None):
    """Each stage time of stages(), once the records arrived by then (arrivals() with seed 7
    unless arr) are produced into the mock's topic."""
    arr = arrivals(random.Random(7)) if arr is None else arr
    nxt = 0
    for c in stages():
        batch = []
        while nxt < len(arr) and arr[nxt][0] <= c:
            batch.append(arr[nxt][1:])
            nxt += 1
        if batch:
            mock.produce(batch)
        yield c
