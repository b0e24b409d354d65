#!/usr/bin/env python3
"""`escudo status` never writes the state store (issue 19, item 8).

It used to open state.db read-write: on an empty file or a foreign SQLite database it created
escudo's tables and switched the file to WAL. Now it opens the store read-only and says what it
found: an empty file is "empty" (exit 0), a foreign SQLite file or a non-SQLite file is "not an
escudo state store" (exit 3); in every case the file's bytes are unchanged and no -wal/-shm file
appears. A real run's store still reads as before.
"""
import hashlib
import json
import os
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


def status(st, *extra):
    return subprocess.run([runlib.ESCUDO, "status", "--state", st] + list(extra),
                          capture_output=True, text=True)


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def untouched(st, before, what):
    db = os.path.join(st, "state.db")
    check(digest(db) == before, f"{what}: state.db unchanged")
    extra = sorted(set(os.listdir(st)) - {"state.db"})
    check(not extra, f"{what}: no file added ({extra})")


with tempfile.TemporaryDirectory() as td:
    # an empty state.db
    st = os.path.join(td, "empty")
    os.mkdir(st)
    open(os.path.join(st, "state.db"), "wb").close()
    h = digest(os.path.join(st, "state.db"))
    p = status(st)
    check(p.returncode == 0 and "empty" in p.stdout, f"empty: says empty ({p.returncode} {p.stdout!r} {p.stderr!r})")
    untouched(st, h, "empty")
    p = status(st, "--format", "json")
    check(p.returncode == 0 and json.loads(p.stdout).get("empty") is True, "empty: json says empty")
    untouched(st, h, "empty json")

    # a foreign SQLite database
    st = os.path.join(td, "foreign")
    os.mkdir(st)
    con = sqlite3.connect(os.path.join(st, "state.db"))
    con.execute("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO customers(name) VALUES('alice')")
    con.commit()
    con.close()
    h = digest(os.path.join(st, "state.db"))
    p = status(st)
    check(p.returncode == 3 and "not an escudo state store" in p.stderr,
          f"foreign: refused ({p.returncode} {p.stderr!r})")
    untouched(st, h, "foreign")
    con = sqlite3.connect(os.path.join(st, "state.db"))
    mode = con.execute("PRAGMA journal_mode").fetchone()[0]
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    con.close()
    check(mode == "delete" and tables == ["customers"], f"foreign: still {mode} {tables}")

    # not a SQLite file at all
    st = os.path.join(td, "text")
    os.mkdir(st)
    with open(os.path.join(st, "state.db"), "w") as f:
        f.write("hello, this is not a database\n" * 100)
    h = digest(os.path.join(st, "state.db"))
    p = status(st)
    check(p.returncode == 3 and "not an escudo state store" in p.stderr,
          f"text: refused ({p.returncode} {p.stderr!r})")
    untouched(st, h, "text")

    # a real run's store
    src = os.path.join(td, "base.xml")
    with open(src, "w") as f:
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_stream.py"),
                        "--events", "2000", "--eps", "1", "--every", "50"], stdout=f, check=True)
    st = os.path.join(td, "state")
    runlib.run(["--state", st, "--clock-start", "2024-03-06T00:00:00Z", "--clock-speed", "max",
                "--once-until", "2024-03-06T01:00:00Z", "--notables", os.path.join(td, "n.jsonl"),
                src])
    p = status(st, "--format", "json")
    check(p.returncode == 0, f"real: status works: {p.stderr}")
    if p.returncode == 0:
        s = json.loads(p.stdout)
        check(s["windows_fired"] > 0 and "empty" not in s, f"real: windows fired {s}")

if fails:
    print(f"{len(fails)} failure(s)")
    sys.exit(1)
print("ok")
