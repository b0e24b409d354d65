#!/usr/bin/env python3
"""Damaged window state is reported, never silently dropped (issue 19, item 7).

A window's kept records are stored in state.db: a row (format ESW5: the blob's header, the
number of segments and the bytes of records they hold, a CRC-32 trailer) and segments, each the
records the window gained before one commit (an encoding byte: 0 as they are, 1 a zstd frame)
with a CRC-32 trailer over its number and them.
At start, a row with a bad magic, a checksum mismatch or a bad header, and a segment that is
missing, truncated or altered, are reported by a message naming the state folder, the detection
and the window; the window's records are counted lost (the inputs are not read again) and the
entry is deleted, so the next start does not report it again. Whole blobs of the versions before
segments are read as they are and stored anew as ESW5: ESW1 (before checksums), ESW2 (before
origins: its records then carry no evidence), ESW3 (one blob with a CRC-32 trailer) and ESW4
(segments without the encoding byte); the notables equal an uninterrupted run's.
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


def db(td):
    return sqlite3.connect(os.path.join(td, "st", "state.db"))


def windows(td):
    """(earliest, latest, row, segments) of each window, segments as (seq, data)."""
    con = db(td)
    rows = con.execute("SELECT detection, earliest, latest, data FROM partials"
                       " WHERE detection NOT LIKE '@%' ORDER BY earliest").fetchall()
    out = [(e, l, d, con.execute("SELECT seq, data FROM segments WHERE detection = ? AND"
                                 " earliest = ? AND latest = ? ORDER BY seq", (k, e, l)).fetchall())
           for k, e, l, d in rows]
    con.close()
    return out


def update(td, sql, args):
    con = db(td)
    n = con.execute(sql, args).rowcount
    con.commit()
    con.close()
    check(n == 1, f"{sql} {args[1:]}: {n} rows")


def set_row(td, earliest, data):
    update(td, "UPDATE partials SET data = ? WHERE earliest = ? AND detection NOT LIKE '@%'",
           (data, earliest))


def set_segment(td, earliest, seq, data):
    update(td, "UPDATE segments SET data = ? WHERE earliest = ? AND seq = ?",
           (data, earliest, seq))


def set_whole(td, earliest, blob):
    """The window stored as one blob of an older version: its row, no segments."""
    set_row(td, earliest, blob)
    con = db(td)
    con.execute("DELETE FROM segments WHERE earliest = ?", (earliest,))
    con.commit()
    con.close()


def records(segs):
    """The records of ESW5 segments, each decoded as its encoding byte says."""
    out = b""
    for _, d in segs:
        code, payload = d[0], d[1:-4]
        check(code in (0, 1), f"segment encoding {code}")
        out += payload if code == 0 else subprocess.run(
            ["zstd", "-d", "-c"], input=payload, capture_output=True, check=True).stdout
    return out


def esw3(row, segs):
    """The window as the version before segments stored it: header, records, CRC-32."""
    body = b"ESW3" + row[4:21] + records(segs)
    return body + struct.pack("<I", zlib.crc32(body))


def esw4(td, e, row, segs):
    """The window as ESW4 stored it: its records in one segment without an encoding byte."""
    recs = records(segs)
    head = b"ESW4" + row[4:21] + struct.pack("<IQ", 1, len(recs))
    set_whole(td, e, head + struct.pack("<I", zlib.crc32(head)))
    con = db(td)
    det = con.execute("SELECT detection FROM partials WHERE earliest = ?", (e,)).fetchone()[0]
    l = con.execute("SELECT latest FROM partials WHERE earliest = ?", (e,)).fetchone()[0]
    seg = recs + struct.pack("<I", zlib.crc32(struct.pack("<I", 0) + recs))
    con.execute("INSERT INTO segments VALUES(?, ?, ?, 0, ?)", (det, e, l, seg))
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
        e, l, d, _ = ws[0]
        set_row(td, e, b"XXXX" + d[4:])
        return e

    def row_flip(td, ws):
        e, l, d, _ = ws[1]
        b = bytearray(d)
        b[len(b) - 8] ^= 0x01  # the stored record bytes, under the row's checksum
        set_row(td, e, bytes(b))
        return e

    def truncate(td, ws):
        e, l, d, segs = ws[1]
        set_segment(td, e, segs[0][0], segs[0][1][:len(segs[0][1]) // 2])
        return e

    def flip(td, ws):
        e, l, d, segs = ws[2]
        b = bytearray(segs[-1][1])
        b[len(b) // 2] ^= 0x40
        set_segment(td, e, segs[-1][0], bytes(b))
        return e

    def missing(td, ws):
        e, l, d, segs = ws[0]
        con = db(td)
        con.execute("DELETE FROM segments WHERE earliest = ? AND seq = ?", (e, segs[0][0]))
        con.commit()
        con.close()
        return e

    def recoded(code, payload):
        """A segment whose checksum holds but whose bytes cannot be what its row says."""
        def damage(td, ws):
            e, l, d, segs = ws[2]
            body = bytes([code]) + payload(segs[0][1][1:-4])
            crc = zlib.crc32(struct.pack("<I", segs[0][0]) + body)
            set_segment(td, e, segs[0][0], body + struct.pack("<I", crc))
            return e
        return damage

    for name, dmg in (("bad magic", magic), ("row checksum", row_flip),
                      ("truncated segment", truncate), ("segment bit flip", flip),
                      ("missing segment", missing),
                      ("unknown encoding", recoded(7, lambda p: p)),
                      ("not a zstd frame", recoded(1, lambda p: b"\x28\xb5\x2f\xfd" + p[:40])),
                      ("records longer than the row says", recoded(0, lambda p: p + p))):
        rc, err, got, e = case(td, name, dmg)
        check(rc == 0, f"{name}: exit {rc}")
        when = runlib.iso(e)
        check("damaged" in err and "st" in err and when in err and runlib.SEED in err,
              f"{name}: reported with the window {when}: {err!r}")
        check(len(got) < len(ref), f"{name}: notables lost are the damaged window's")

    def older(make):
        def damage(td, ws):
            for e, l, d, segs in ws:
                set_whole(td, e, make(esw3(d, segs)))
            return None
        return damage

    def older4(td, ws):
        for e, l, d, segs in ws:
            esw4(td, e, d, segs)
        return None

    for name, make in (("ESW1", lambda b: b"ESW1" + b[4:-4]), ("ESW2", esw2),
                       ("ESW3", lambda b: b), ("ESW4", None)):
        damage = older4 if name == "ESW4" else older(make)
        rc, err, got, _ = case(td, name, damage)
        check(rc == 0 and "damaged" not in err, f"{name}: read as before ({rc} {err!r})")
        check(got == ref, f"{name}: the uninterrupted run's notables ({len(got)} vs {len(ref)})")
        # stored anew in the current format: looked at while windows are still open
        shutil.rmtree(os.path.join(td, "st"))
        run(td, "2024-03-06T03:00:00Z")
        damage(td, windows(td))
        check(all(d[:4] == name.encode() and len(segs) == (name == "ESW4")
                  for _, _, d, segs in windows(td)), f"{name}: blobs set")
        run(td, "2024-03-06T03:30:00Z")
        ws = windows(td)
        check(ws and all(d[:4] == b"ESW5" and segs for _, _, d, segs in ws),
              f"{name}: stored anew as ESW5 ({[d[:4] for _, _, d, _ in ws]})")

if fails:
    print(f"{len(fails)} failure(s)")
    sys.exit(1)
print("ok")
