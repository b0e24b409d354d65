#!/usr/bin/env python3
"""Damaged window state is reported, never silently dropped (issue 19, item 7).

A window's kept records are stored as a blob in state.db; a blob with a bad magic used to lose
its window silently (notables missing, exit 0) and a truncated one to lose records. Blobs now
carry a CRC-32 trailer (format ESW2, ESW3 since records keep their origin): at start, a blob with a bad magic, a checksum mismatch or
a bad header is reported by a message naming the state folder, the detection and the window, its
records are counted lost (the inputs are not read again) and the entry is deleted, so the next
start does not report it again. A blob from before checksums (ESW1) is read as it was and
rewritten with a checksum: the notables equal an uninterrupted run's; so is one from before
origins (ESW2), whose records then carry no evidence.
"""
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zlib

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


def esw2(d):
    """An ESW3 blob without its records' origins, as ESW2 with its CRC-32 trailer."""
    body, out, i = d[:-4], bytearray(b"ESW2" + d[4:21]), 21
    while i < len(body):
        mask = struct.unpack_from("<I", body, i + 8)[0]
        j = i + 12
        for f in range(31):
            if mask & (1 << f):
                j += 4 + struct.unpack_from("<I", body, j)[0]
        out += body[i:i + 8] + struct.pack("<I", mask & 0x7FFFFFFF) + body[i + 12:j]
        if mask & (1 << 31):
            n = struct.unpack_from("<I", body, j)[0]
            j += 4 + (0 if n == 0xFFFFFFFF else n)
            for _ in range(3):  # offset, line, record id: LEB128
                while body[j] & 0x80:
                    j += 1
                j += 1
        i = j
    return bytes(out) + struct.pack("<I", zlib.crc32(bytes(out)))


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
    check(all(d[:4] == b"ESW3" for _, _, d in windows(td)), "old format: rewritten with a checksum")

    def v2(td, ws):
        """Each blob as the version before origins wrote it (ESW2: no origin after a record)."""
        for e, l, d in ws:
            set_blob(td, e, esw2(d))
        return None

    rc, err, got, _ = case(td, "ESW2", v2)
    check(rc == 0 and "damaged" not in err, f"ESW2: read as before ({rc} {err!r})")
    check(got == ref, f"ESW2: the uninterrupted run's notables ({len(got)} vs {len(ref)})")
    # stored anew in the current format: looked at while windows are still open
    shutil.rmtree(os.path.join(td, "st"))
    run(td, "2024-03-06T03:00:00Z")
    v2(td, windows(td))
    check(all(d[:4] == b"ESW2" for _, _, d in windows(td)), "ESW2: blobs set")
    run(td, "2024-03-06T03:30:00Z")
    ws = windows(td)
    check(ws and all(d[:4] == b"ESW3" for _, _, d in ws), f"ESW2: rewritten as ESW3 ({[d[:4] for _, _, d in ws]})")

if fails:
    print(f"{len(fails)} failure(s)")
    sys.exit(1)
print("ok")
