"""Helpers for the `escudo run` script tests: the crafted records, arrival plans, invocations."""
import json
import os
import random
import re
import signal
import subprocess
import time
from datetime import datetime, timezone

ESCUDO = os.environ.get("ESCUDO", "build/escudo")
SRC = os.environ.get("ESC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("ESC_SHARED_DATA", os.path.join(SRC, "..", "shared", "data"))
CRAFTED = os.path.join(DATA, "crafted")
SEED = "743a322c-9a68-4a0f-9c17-85d9cce2a27c"


def epoch(iso):
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def xml_records(path):
    """(prefix, [(time, bytes)]) of an XmlWinEventLog file, records cut after </Event>."""
    data = open(path, "rb").read()
    parts = data.split(b"</Event>")
    out = []
    for p in parts[:-1]:
        rec = p + b"</Event>"
        m = re.search(rb"SystemTime=.([0-9T:.-]+)", rec)
        out.append((epoch(m.group(1).decode()[:19] + "Z"), rec))
    # the line end after each record goes with the next one's bytes; keep them whole
    return out, parts[-1]


def json_records(path):
    out = []
    for line in open(path, "rb").read().splitlines(keepends=True):
        if not line.strip():
            continue
        d = json.loads(line)
        t = d.get("@timestamp") or d.get("TimeCreated") or d.get("timestamp")
        if t is None:
            out.append((None, line))
        elif isinstance(t, (int, float)) or str(t).isdigit():
            out.append((int(t) // 1000, line))
        else:
            out.append((epoch(str(t)[:19] + "Z"), line))
    return out


def run(args, env=None, check=True):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([ESCUDO, "run", "--enable", SEED, "--quiet"] + args, env=e,
                       capture_output=True, text=True)
    if check and p.returncode != 0:
        raise SystemExit(f"escudo run {' '.join(args)}: exit {p.returncode}\n{p.stderr}")
    return p


def checkpoint(args, specs, kills, at, retry=False):
    """One checkpoint of a replay: the `escudo run` invocation args, first killed once per crash
    spec (ESCUDO_TEST_CRASH_AT=commit:N or sink:N, or "timer:S": kill -9 from outside after S
    seconds), each kill appended to kills as (at, spec), then run to its end. An exit other than 0
    or a kill -9 fails the test (SystemExit). With retry, an invocation that ended before its
    planned kill (a fast machine, few sink writes) is killed inside its first checkpoint
    transaction instead, so that every planned point is a kill whatever the machine's speed."""
    for spec in specs:
        env = dict(os.environ)
        if spec.startswith("timer:"):
            p = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(float(spec[6:]))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            rc = p.wait()
        else:
            env["ESCUDO_TEST_CRASH_AT"] = spec
            rc = subprocess.run(args, env=env, capture_output=True).returncode
        if rc == 0 and retry:
            env = dict(os.environ, ESCUDO_TEST_CRASH_AT="commit:1")
            rc = subprocess.run(args, env=env, capture_output=True).returncode
            spec = "commit:1 (for " + spec + ")"
        if rc == -signal.SIGKILL:
            kills.append((at, spec))
        elif rc != 0:
            raise SystemExit(f"exit {rc} with {spec}")
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"run at {iso(at)}: exit {p.returncode}: {p.stderr}")


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return f.read().decode().splitlines()


DETECTION = """name: {name}
id: {id}
version: 1
date: '2026-12-05'
author: escudo tests
status: production
type: TTP
description: Test-only detection ({fixture}).
data_source:
- Sysmon EventID 1
search: '{search}'
how_to_implement: A test fixture.
known_false_positives: None.
references: []
tags:
  analytic_story:
  - Windows Post-Exploitation
  asset_type: Endpoint
  mitre_attack_id:
  - T1135
  product:
  - Splunk Enterprise Security
  security_domain: endpoint
tests: []
"""


def write_detections(loc, dets, fixture):
    """Each (name, id, search) of dets as loc/detections/t<i>.yml, a test-only ESCU detection
    named after the test that wrote it (fixture)."""
    os.makedirs(os.path.join(loc, "detections"), exist_ok=True)
    for i, (name, did, search) in enumerate(dets):
        with open(os.path.join(loc, "detections", f"t{i}.yml"), "w") as f:
            f.write(DETECTION.format(name=name, id=did, search=search, fixture=fixture))
