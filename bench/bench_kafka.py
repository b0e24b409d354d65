#!/usr/bin/env python3
"""Sizing for docs/scale.md: events per second of one `escudo run --kafka` worker reading from
librdkafka's mock cluster (build/esc_kafka_mock), against `escudo hunt` over the same events from a
file, and the worker's peak memory at two topic lengths.

usage: bench/bench_kafka.py [N]     (N messages, default 160000; ESCUDO, ESC_BUILD_DIR as the tests)

The messages are the crafted winlogbeat records (../shared/data/crafted/winlogbeat.json) with their
host renamed to one of 64 hosts, keyed by host, over 64 partitions: the mock cluster keeps at most
5 MiB per partition (rdkafka_mock.c), so a partition must stay under it or its oldest messages are
deleted before they are read. The worker's time includes joining the group; the time of a run over
an empty topic (joining, reading nothing) is measured too and subtracted for the reading rate.
Not part of `make bench` (it needs the mock cluster and minutes of a loaded machine)."""
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "run"))
import kafkalib  # noqa: E402
import runlib  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 160000
HOSTS, PARTS = 64, 64
base = [l.strip() for l in open(os.path.join(runlib.CRAFTED, "winlogbeat.json"), "rb") if l.strip()]


def messages(n):
    out = []
    for i in range(n):
        h = f"host{i % HOSTS:02d}"
        b = base[i % len(base)]
        b = re.sub(rb'"host": \{"name": "[^"]*"\}', b'"host": {"name": "' + h.encode() + b'"}', b)
        b = re.sub(rb'"computer_name": "[^"]*"', b'"computer_name": "' + h.upper().encode() + b'.corp.local"', b)
        out.append((h, b))
    return out


def timed(args):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.time()
    p = subprocess.run(args, capture_output=True, text=True)
    el = time.time() - t
    if p.returncode:
        raise SystemExit(f"{args[:2]}: exit {p.returncode}: {p.stderr[-800:]}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return el, (rss if rss > before else None), p.stderr


def worker(msgs, d, tag):
    mock = kafkalib.Mock(brokers=1, partitions=PARTS)
    try:
        for i in range(0, len(msgs), 20000):
            mock.produce(msgs[i:i + 20000])
        args = kafkalib.run_args(mock, os.path.join(d, tag + ".st"), os.path.join(d, tag + ".db"),
                                 kafkalib.END, group="bench")
        return timed(args)
    finally:
        mock.close()


with tempfile.TemporaryDirectory() as d:
    msgs = messages(N)
    path = os.path.join(d, "events.json")
    with open(path, "wb") as f:
        for _, b in msgs:
            f.write(b + b"\n")
    mb = os.path.getsize(path) / 1e6
    hunt_s, _, _ = timed([runlib.ESCUDO, "hunt", "--detection", runlib.SEED, "--quiet", "--format", "json", path])
    empty_s, _, _ = worker([], d, "empty")
    run_s, rss_full, err = worker(msgs, d, "full")
    half_s, rss_half, _ = worker(msgs[: N // 2], d, "half")
    read = max(run_s - empty_s, 1e-9)
    print(json.dumps({
        "messages": N, "mb": round(mb, 1), "partitions": PARTS, "hosts": HOSTS,
        "hunt_s": round(hunt_s, 2), "hunt_eps": round(N / hunt_s),
        "run_s": round(run_s, 2), "run_eps": round(N / run_s), "run_vs_hunt": round(hunt_s / run_s, 2),
        "join_s": round(empty_s, 2), "read_eps": round(N / read), "read_vs_hunt": round(hunt_s / read, 2),
        "half_run_s": round(half_s, 2), "peak_rss_kb_full": rss_full, "peak_rss_kb_half": rss_half,
        "summary": err.strip().splitlines()[-1]}, indent=1))
