#!/usr/bin/env python3
"""A checkpoint stores what a window gained since the last one, not the whole window again.

A window's kept records are stored as segments (docs/run.md, "State directory"): each commit
appends the records a window gained as its next segment and rewrites only the window's small row
(format ESW5: header, number of segments, bytes of records). Here the input grows between two
runs over one state directory. The windows open at both ends keep their first segments byte for
byte and gain one; each row's count and bytes agree with its segments; and the notables equal
those of one run over the whole input. The version before segments rewrote every open window's
whole blob at every commit: `run` with all of escu-full over the 100 MiB benchmark file took 62 s,
92% of it in those writes (docs/run.md).
"""
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import runlib  # noqa: E402

fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def run(st, notables, until, path):
    args = ["--state", st, "--notables", notables, "--clock-start", "2024-03-06T00:00:00Z",
            "--clock-speed", "max", "--once-until", until, path]
    p = subprocess.run([runlib.ESCUDO, "run", "--enable", runlib.SEED, "--quiet"] + args,
                       capture_output=True, text=True)
    check(p.returncode == 0, f"run to {until}: exit {p.returncode}: {p.stderr}")


def windows(st):
    """{(earliest, latest): (row, [segment data in seq order])}"""
    con = sqlite3.connect(os.path.join(st, "state.db"))
    out = {}
    for k, e, l, d in con.execute("SELECT detection, earliest, latest, data FROM partials"
                                  " WHERE detection NOT LIKE '@%'"):
        segs = con.execute("SELECT seq, data FROM segments WHERE detection = ? AND earliest = ?"
                           " AND latest = ? ORDER BY seq", (k, e, l)).fetchall()
        check([s for s, _ in segs] == list(range(len(segs))), f"window {e}: segments numbered")
        out[(e, l)] = (d, [s for _, s in segs])
    con.close()
    return out


def records(seg):
    """A segment's records: after its encoding byte, as they are or a zstd frame of them."""
    code, payload = seg[0], seg[1:-4]
    check(code in (0, 1), f"segment encoding {code}")
    if code == 0:
        return payload
    return subprocess.run(["zstd", "-d", "-c"], input=payload, capture_output=True,
                          check=True).stdout


def rows_agree(ws, when):
    for (e, _), (row, segs) in ws.items():
        check(row[:4] == b"ESW5", f"{when}: window {e} stored as ESW5 ({row[:4]!r})")
        n, stored = struct.unpack_from("<IQ", row, 21)
        check(n == len(segs) and stored == sum(len(records(s)) for s in segs),
              f"{when}: window {e}: row says {n} segments of {stored} bytes")


with tempfile.TemporaryDirectory() as td:
    whole = os.path.join(td, "whole.xml")
    with open(whole, "w") as f:  # 3 h 20 min at one event a second, one in 5 a net share
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_stream.py"),
                        "--events", "12000", "--eps", "1", "--every", "5"], stdout=f, check=True)
    lines = open(whole, "rb").read().splitlines(keepends=True)
    grow = os.path.join(td, "grow.xml")
    with open(grow, "wb") as f:  # to 01:40
        f.writelines(lines[:6000])
    st, n = os.path.join(td, "st"), os.path.join(td, "n.jsonl")
    run(st, n, "2024-03-06T01:45:00Z", grow)
    first = windows(st)
    rows_agree(first, "first run")
    check(first and all(len(s) == 1 for _, s in first.values()),
          f"first run: each open window in one segment ({[len(s) for _, s in first.values()]})")
    with open(grow, "ab") as f:  # the rest arrives
        f.writelines(lines[6000:])
    run(st, n, "2024-03-06T01:55:00Z", grow)  # the 02:00 run ([00:50, 01:50)) still open
    second = windows(st)
    rows_agree(second, "second run")
    both = [k for k in first if k in second]
    check(both, "a window open at the end of both runs")
    for k in both:
        a, b = first[k][1], second[k][1]
        check(b[:len(a)] == a, f"window {k[0]}: its first segments kept byte for byte")
        check(len(b) == len(a) + 1, f"window {k[0]}: one segment more ({len(a)} -> {len(b)})")
    run(st, n, "2024-03-06T08:00:00Z", grow)
    check(windows(st) == {}, "every window fired and deleted with its segments")
    con = sqlite3.connect(os.path.join(st, "state.db"))
    check(con.execute("SELECT count(*) FROM segments").fetchone()[0] == 0, "no segment left")
    con.close()
    ref = os.path.join(td, "ref.jsonl")
    run(os.path.join(td, "st-ref"), ref, "2024-03-06T08:00:00Z", whole)
    got, want = sorted(runlib.lines(n)), sorted(runlib.lines(ref))
    check(want and got == want, f"notables: {len(got)}, one run over the whole input {len(want)}")

if fails:
    print(f"{len(fails)} failure(s)")
    sys.exit(1)
print("ok")
