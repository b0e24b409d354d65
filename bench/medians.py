"""Shared by the benchmarks' reports: the lines bench_time (bench/lib.sh) wrote."""
import statistics


def load(path):
    """Per key, its runs as (wall s, CPU s, peak RSS KB), and the median wall and CPU seconds."""
    res = {}
    for line in open(path):
        k, w, u, s, m = line.split()
        res.setdefault(k, []).append((float(w), float(u) + float(s), int(m)))
    wall = {k: statistics.median(x[0] for x in v) for k, v in res.items()}
    cpu = {k: statistics.median(x[1] for x in v) for k, v in res.items()}
    return res, wall, cpu
