#!/usr/bin/env python3
"""Sizing for docs/scale.md: events per second of one `escudo run --kafka` worker reading from
librdkafka's mock cluster (build/esc_kafka_mock), against `escudo hunt` over the same events from a
file, and the worker's peak memory at two topic lengths.

usage: bench/bench_kafka.py [N]     (N messages, default 160000; ESCUDO, ESC_BUILD_DIR as the tests)

The messages are the crafted winlogbeat records (../shared/data/crafted/winlogbeat.json) with their
host renamed to one of 64 hosts, keyed by host, over 64 partitions, one host a partition (the host
names are picked so that librdkafka's default partitioner, CRC-32 of the key modulo the partition
count, spreads them one to a partition): the mock cluster keeps at most 5 MiB per partition
(rdkafka_mock.c), so a partition must stay under it or its oldest messages are deleted before they
are read (160,000 messages are 2.9 MB a partition). The worker's time includes joining the group
(the mock cluster holds a new group's first join for 3 s, rdkafka_mock_cgrp.c); the time of a run
over a one-message topic (joining, reading next to nothing, replaying the six hours) is measured
too and subtracted for the reading rate. Wall times follow the machine's load; the CPU times
(user + system, of escudo alone) do much less, and are the figures to compare on a shared machine.
Not part of `make bench` (it needs the mock cluster and minutes of a loaded machine)."""
import json
import os
import zlib
import re
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


def host_names():
    """One host name a partition: librdkafka's default partitioner (consistent_random) sends a
    keyed message to CRC-32(key) % partitions."""
    names = {}
    j = 0
    while len(names) < PARTS:
        h = f"host{j:03d}"
        names.setdefault(zlib.crc32(h.encode()) % PARTS, h)
        j += 1
    return [names[p] for p in range(PARTS)]


NAMES = host_names()


def messages(n):
    out = []
    for i in range(n):
        h = NAMES[i % HOSTS]
        b = base[i % len(base)]
        b = re.sub(rb'"host": \{"name": "[^"]*"\}', b'"host": {"name": "' + h.encode() + b'"}', b)
        b = re.sub(rb'"computer_name": "[^"]*"', b'"computer_name": "' + h.upper().encode() + b'.corp.local"', b)
        out.append((h, b))
    return out


def timed(args):
    """(wall s, CPU s, peak RSS KB, stderr) of one escudo process (its own rusage, not the
    mock cluster's)."""
    t = time.time()
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        el = time.time() - t
        err.seek(0)
        text = err.read().decode(errors="replace")
    if p.returncode:
        raise SystemExit(f"{args[:2]}: exit {p.returncode}: {text[-800:]}")
    return el, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, text


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
    hunt_s, hunt_cpu, _, _ = min(timed([runlib.ESCUDO, "hunt", "--detection", runlib.SEED, "--quiet", "--format",
                                        "json", path]) for _ in range(3))
    empty_s, empty_cpu, _, _ = worker(msgs[:1], d, "empty")
    run_s, run_cpu, rss_full, err = worker(msgs, d, "full")
    half_s, half_cpu, rss_half, _ = worker(msgs[: N // 2], d, "half")
    read = max(run_s - empty_s, 1e-9)
    read_cpu = max(run_cpu - empty_cpu, 1e-9)
    print(json.dumps({
        "messages": N, "mb": round(mb, 1), "partitions": PARTS, "hosts": HOSTS,
        "hunt_s": round(hunt_s, 2), "hunt_eps": round(N / hunt_s), "hunt_cpu_s": round(hunt_cpu, 2),
        "hunt_cpu_eps": round(N / hunt_cpu),
        "run_s": round(run_s, 2), "run_eps": round(N / run_s), "run_vs_hunt": round(hunt_s / run_s, 2),
        "run_cpu_s": round(run_cpu, 2),
        "join_s": round(empty_s, 2), "join_cpu_s": round(empty_cpu, 2),
        "read_eps": round(N / read), "read_vs_hunt": round(hunt_s / read, 2),
        "read_cpu_eps": round(N / read_cpu), "read_cpu_vs_hunt": round(hunt_cpu / read_cpu, 2),
        "half_run_s": round(half_s, 2), "peak_rss_kb_full": rss_full, "peak_rss_kb_half": rss_half,
        "summary": err.strip().splitlines()[-1]}, indent=1))
