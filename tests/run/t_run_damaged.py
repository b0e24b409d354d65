#!/usr/bin/env python3
"""Damaged window state is reported, never silently dropped (issue 19, item 7).

A window's kept records are stored as a blob in state.db; a blob with a bad magic used to lose
its window silently (notables missing, exit 0) and a truncated one to lose records. Blobs now
carry a CRC-32 trailer (format ESW2): at start, a blob with a bad magic, a checksum mismatch or
a bad header is reported by a message naming the state folder, the detection and the window, its
records are counted lost (the inputs are not read again) and the entry is deleted, so the next
start does not report it again. A blob from before checksums (ESW1) is read as it was and
rewritten with a checksum: the notables equal an uninterrupted run's.
"""
import os
import shutil
import sqlite3
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


def run(td, until, quiet=True):
    args = ["--state", os.path.join(td, "st"), "--notables", os.path.join(td, "n.jsonl"),
            "--clock-start", "2024-03-06T00:00:00Z", "--clock-speed", "max", "--once-until", until,
            os.path.join(td, "base.xml")]
    cmd = [runlib.ESCUDO, "run", "--enable", runlib.SEED] + (["--quiet"] if quiet else []) + args
    return subprocess.run(cmd, capture_output=True, text=True)


def windows(td):
    con = sqlite3.connect(os.path.join(td, "st", "state.db"))
    rows = con.execute("SELECT earliest, latest, data FROM partials WHERE detection NOT LIKE '@%'"
                       " ORDER BY earliest").fetchall()
    con.close()
    return rows


def set_blob(td, earliest, data):
    con = sqlite3.connect(os.path.join(td, "st", "state.db"))
    con.execute("UPDATE partials SET data = ? WHERE earliest = ? AND detection NOT LIKE '@%'",
                (data, earliest))
    con.commit()
    con.close()


def case(td, name, damage):
    """Run to 03:00, damage the store, run to 08:00: (exit, stderr, notables, damaged windows)."""
    for f in ("st", "n.jsonl"):
        p = os.path.join(td, f)
        shutil.rmtree(p) if os.path.isdir(p) else (os.path.exists(p) and os.remove(p))
    p = run(td, "2024-03-06T03:00:00Z")
    check(p.returncode == 0, f"{name}: first part: {p.stderr}")
    ws = windows(td)
    check(len(ws) >= 3, f"{name}: open windows at 03:00 ({len(ws)})")
    hit = damage(td, ws)
    p = run(td, "2024-03-06T08:00:00Z")
    again = run(td, "2024-03-06T08:00:00Z")
    check("damaged" not in again.stderr, f"{name}: reported once ({again.stderr!r})")
    return p.returncode, p.stderr, sorted(runlib.lines(os.path.join(td, "n.jsonl"))), hit


with tempfile.TemporaryDirectory() as td:
    with open(os.path.join(td, "base.xml"), "w") as f:
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_stream.py"),
                        "--events", "20000", "--eps", "1", "--every", "50"], stdout=f, check=True)
    p = run(td, "2024-03-06T08:00:00Z")
    check(p.returncode == 0, f"uninterrupted: {p.stderr}")
    ref = sorted(runlib.lines(os.path.join(td, "n.jsonl")))

    def magic(td, ws):
        e, l, d = ws[0]
        set_blob(td, e, b"XXXX" + d[4:])
        return e

    def truncate(td, ws):
        e, l, d = ws[1]
        set_blob(td, e, d[:len(d) - 1000])
        return e

    def flip(td, ws):
        e, l, d = ws[2]
        b = bytearray(d)
        b[len(b) // 2] ^= 0x40
        set_blob(td, e, bytes(b))
        return e

    for name, dmg in (("bad magic", magic), ("truncated", truncate), ("bit flip", flip)):
        rc, err, got, e = case(td, name, dmg)
        check(rc == 0, f"{name}: exit {rc}")
        when = runlib.iso(e)
        check("damaged" in err and "st" in err and when in err and runlib.SEED in err,
              f"{name}: reported with the window {when}: {err!r}")
        check(len(got) < len(ref), f"{name}: notables lost are the damaged window's")

    def old(td, ws):
        for e, l, d in ws:
            set_blob(td, e, b"ESW1" + d[4:-4])
        return None

    rc, err, got, _ = case(td, "old format", old)
    check(rc == 0 and "damaged" not in err, f"old format: read as before ({rc} {err!r})")
    check(got == ref, f"old format: the uninterrupted run's notables ({len(got)} vs {len(ref)})")
    check(all(d[:4] == b"ESW2" for _, _, d in windows(td)), "old format: rewritten with a checksum")

if fails:
    print(f"{len(fails)} failure(s)")
    sys.exit(1)
print("ok")
