#!/usr/bin/env python3
"""Events per second of one `escudo run --kafka` worker reading from librdkafka's mock cluster
(build/esc_kafka_mock) against `escudo hunt` over the same events from a file, in the same run
(issue 18's throughput point: at least 70%), and the worker's peak memory at two topic lengths.
bench/bench_kafka.sh runs it for `make bench`; docs/scale.md ("Sizing") has its figures.

usage: bench/bench_kafka.py [N] [--json]   (N messages, default 80000; ESCUDO, ESC_BUILD_DIR as
                                            the tests; BENCH_RUNS timed runs, best kept, default 3)

The messages are the crafted winlogbeat records (../shared/data/crafted/winlogbeat.json) with their
host renamed to one of 64 hosts, keyed by host, over 64 partitions, one host a partition (the host
names are picked so that librdkafka's default partitioner, CRC-32 of the key modulo the partition
count, spreads them one to a partition): the mock cluster keeps at most 5 MiB per partition
(rdkafka_mock.c), so a partition must stay under it or its oldest messages are deleted before they
are read (160,000 messages are 2.9 MB a partition). The worker replays their six hours with
`--clock-speed max --once-until`.

The worker's reading is what it says in its stop message ("kafka: read N messages in X s ...;
C s CPU"): from the first message consumed to the end of the last pass that consumed one, wall
(CLOCK_MONOTONIC) and CPU (CLOCK_PROCESS_CPUTIME_ID: escudo's threads, librdkafka's included),
so neither the mock cluster's 3 s hold on a new group's first join (rdkafka_mock_cgrp.c) nor the
replay's idle steps after the last message count. hunt's figures are its whole run (wall, and
user + system CPU from rusage). Both are the best of BENCH_RUNS runs (hunt's of at least 5). The
worker's CPU is also given per thread (escudo's own, librdkafka's) over its whole run, sampled
from /proc while it runs. On a shared machine the wall times follow the load; say it with them."""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "run"))
import kafkalib  # noqa: E402
import runlib  # noqa: E402

args = [a for a in sys.argv[1:] if not a.startswith("--")]
N = int(args[0]) if args else 80000
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
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


def timed(argv):
    """{wall, cpu, rss (KiB), threads: {name: CPU s}, err} of one escudo process (its own rusage,
    not the mock cluster's); the per-thread times are the last /proc sample of each thread."""
    tick = os.sysconf("SC_CLK_TCK")
    per = {}
    t = time.time()
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            for path in glob.glob(f"/proc/{p.pid}/task/*/stat"):
                try:
                    x = open(path).read()
                except OSError:
                    continue
                f = x[x.rindex(")") + 2:].split()
                per[path] = (x[x.index("(") + 1:x.rindex(")")], (int(f[11]) + int(f[12])) / tick)
            time.sleep(0.05)
        el = time.time() - t
        err.seek(0)
        text = err.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{argv[:2]}: exit {os.waitstatus_to_exitcode(status)}: {text[-800:]}")
    threads = {}
    for name, cpu in per.values():
        name = "librdkafka" if name.startswith("rdk:") else name
        threads[name] = threads.get(name, 0) + cpu
    return {"wall": el, "cpu": ru.ru_utime + ru.ru_stime, "rss": ru.ru_maxrss, "threads": threads,
            "err": text}


def worker(msgs, d, tag):
    mock = kafkalib.Mock(brokers=1, partitions=PARTS)
    try:
        for i in range(0, len(msgs), 20000):
            mock.produce(msgs[i:i + 20000])
        argv = kafkalib.run_args(mock, os.path.join(d, tag + ".st"), os.path.join(d, tag + ".db"),
                                 kafkalib.END, group="bench")
        return timed(argv)
    finally:
        mock.close()


READ = re.compile(r"kafka: read (\d+) messages in ([0-9.]+) s \(.*; ([0-9.]+) s CPU")


def reading(run):
    """The worker's own figures for its reading (its stop message)."""
    m = READ.search(run["err"])
    if not m:
        raise SystemExit(f"bench_kafka: the worker did not say what it read: {run['err'][-800:]}")
    run["read_n"], run["read_wall"], run["read_cpu"] = int(m[1]), float(m[2]), float(m[3])
    return run


def best(runs, wall="wall", cpu="cpu"):
    """The run of least CPU, with the least wall time of all (each the best of the runs)."""
    b = dict(min(runs, key=lambda r: r[cpu]))
    b[wall] = min(r[wall] for r in runs)
    return b


with tempfile.TemporaryDirectory() as d:
    msgs = messages(N)
    path = os.path.join(d, "events.json")
    with open(path, "wb") as f:
        for _, b in msgs:
            f.write(b + b"\n")
    mb = os.path.getsize(path) / 1e6
    hunts = max(5, RUNS)  # a second each: the short run is the one a busy second skews most
    print(f"bench_kafka: {N} messages, {mb:.1f} MB; hunt x{hunts}", file=sys.stderr)
    hunt = best([timed([runlib.ESCUDO, "hunt", "--detection", runlib.SEED, "--quiet", "--format",
                        "json", path]) for _ in range(hunts)])
    print(f"bench_kafka: worker over {N} messages x{RUNS}", file=sys.stderr)
    full = best([reading(worker(msgs, d, f"full{i}")) for i in range(RUNS)], "read_wall", "read_cpu")
    if full["read_n"] != N:
        raise SystemExit(f"bench_kafka: the worker read {full['read_n']} messages, not {N}")
    print(f"bench_kafka: worker over {N // 2} messages (memory)", file=sys.stderr)
    half = worker(msgs[: N // 2], d, "half")
    read_wall, read_cpu = max(full["read_wall"], 1e-9), max(full["read_cpu"], 1e-9)
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    res = {
        "messages": N, "mb": round(mb, 1), "partitions": PARTS, "hosts": HOSTS, "runs": RUNS,
        "hunt_wall_s": round(hunt["wall"], 2), "hunt_cpu_s": round(hunt["cpu"], 2),
        "read_wall_s": round(read_wall, 2), "read_cpu_s": round(read_cpu, 2),
        "worker_wall_s": round(full["wall"], 2), "worker_cpu_s": round(full["cpu"], 2),
        "worker_threads_cpu_s": {k: round(v, 2) for k, v in sorted(full["threads"].items())},
        "hunt_eps_wall": round(N / hunt["wall"]), "hunt_eps_cpu": round(N / hunt["cpu"]),
        "read_eps_wall": round(N / read_wall), "read_eps_cpu": round(N / read_cpu),
        "ratio_wall": round(hunt["wall"] / read_wall, 2), "ratio_cpu": round(hunt["cpu"] / read_cpu, 2),
        "peak_rss_kb": full["rss"], "peak_rss_kb_half": half["rss"], "load": load,
        "summary": full["err"].strip().splitlines()[-1]}
    if "--json" in sys.argv:
        print(json.dumps(res, indent=1))
        sys.exit(0)
    th = ", ".join(f"{k} {v:.2f} s" for k, v in res["worker_threads_cpu_s"].items())
    met = "yes" if res["ratio_wall"] >= 0.7 else "NO"
    print(f"""## Kafka worker

- {N} winlogbeat JSON messages ({res['mb']} MB) over {PARTS} partitions of librdkafka's mock
  cluster, one host a partition; `escudo hunt` reads the same events from a file
- Best of {RUNS} runs each (hunt: of {hunts}); load average (1, 5, 15 min) after the runs: {load} on {os.cpu_count()} CPUs
- The worker's reading is its own measure (its stop message): from the first message consumed
  to the last, wall and process CPU (all its threads); hunt's is its whole run
- Worker: {res['summary'].removeprefix('escudo: ')}

| measure | `escudo hunt` | worker, reading | worker/hunt, events/s | goal | met |
|---|---|---|---|---|---|
| wall time | {res['hunt_wall_s']} s ({res['hunt_eps_wall']:,} events/s) | {read_wall:.2f} s ({res['read_eps_wall']:,} events/s) | {res['ratio_wall']} | >= 0.70 | {met} |
| CPU time (user + system) | {res['hunt_cpu_s']} s ({res['hunt_eps_cpu']:,} events/s) | {read_cpu:.2f} s ({res['read_eps_cpu']:,} events/s) | {res['ratio_cpu']} | | |

The worker's whole run (joining the group, the replay's idle steps included): {res['worker_wall_s']} s
wall, {res['worker_cpu_s']} s CPU ({th}); peak RSS {res['peak_rss_kb'] // 1024} MiB at {N} messages,
{res['peak_rss_kb_half'] // 1024} MiB at {N // 2}.

Reproduce: `bash bench/bench_kafka.sh` or `python3 bench/bench_kafka.py [N] [--json]` (after `make`).""")
