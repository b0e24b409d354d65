#!/usr/bin/env python3
"""Whole lines only in `hunt --notables/--risk` JSON lines (issue 19, item 5).

A kill -9 can stop a write to a file between pages, so a notable that crosses a page boundary
can end torn at a 4 KiB multiple of the file. hunt repairs the file when it opens it: a last line without its newline is
cut off before anything is appended.

1. A file that ends in a torn line (a whole line, then 4096 bytes of the next without its
   newline): after a hunt appends to it every line is a JSON object, the whole first line kept.
2. A file that is nothing but a torn line: emptied, then written.
3. hunt killed with SIGKILL at random moments (10 times), each followed by a hunt that completes:
   every line of both files parses, and the last complete hunt's events are all there.
"""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

ESCUDO = os.environ.get("ESCUDO", "build/escudo")
SRC = os.environ.get("ESC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
GEN = os.path.join(SRC, "tests", "run", "gen_stream.py")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def hunt_cmd(n, r, inp):
    return [ESCUDO, "hunt", "--quiet", "--format", "json", "--now", "1700000000", "--notables", n,
            "--risk", r, inp]


def lines_ok(path):
    data = open(path, "rb").read()
    if data and not data.endswith(b"\n"):
        return False, "no newline at the end"
    for i, l in enumerate(data.splitlines()):
        try:
            json.loads(l)
        except ValueError:
            return False, "line %d is not JSON (%d bytes)" % (i + 1, len(l))
    return True, ""


def main():
    random.seed(19)
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "in.xml")
        with open(inp, "w") as f:
            subprocess.run([sys.executable, GEN, "--events", "4000", "--eps", "1", "--every", "4"],
                           stdout=f, check=True)
        n, r = os.path.join(tmp, "n.jsonl"), os.path.join(tmp, "r.jsonl")
        subprocess.run(hunt_cmd(n, r, inp), check=True, capture_output=True)
        full = open(n, "rb").read().splitlines(keepends=True)
        check(len(full) > 2, "notables were made")
        cut = min(4096, len(full[1]) - 100)  # a write stopped at a page boundary

        # 1. a whole line, then a torn one
        with open(n, "wb") as f:
            f.write(full[0] + full[1][:cut])
        os.truncate(r, 0)
        subprocess.run(hunt_cmd(n, r, inp), check=True, capture_output=True)
        ok, why = lines_ok(n)
        check(ok, "1: after a torn line, hunt appends whole lines: %s" % why)
        got = open(n, "rb").read().splitlines(keepends=True)
        check(got[0] == full[0] and got[1:] == full,
              "1: the whole line is kept, the torn one cut (%d lines, %d made)"
              % (len(got), len(full)))

        # 2. nothing but a torn line
        with open(n, "wb") as f:
            f.write(full[1][:cut])
        subprocess.run(hunt_cmd(n, r, inp), check=True, capture_output=True)
        check(open(n, "rb").read().splitlines(keepends=True) == full, "2: emptied, then written")

        # 3. kill -9 at random moments; a completed hunt after each
        for f in (n, r):
            os.unlink(f)
        t0 = time.monotonic()
        subprocess.run(hunt_cmd(n, r, inp), check=True, capture_output=True)
        took = time.monotonic() - t0
        for i in range(10):
            p = subprocess.Popen(hunt_cmd(n, r, inp), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            time.sleep(random.uniform(0, took * 1.2))
            p.send_signal(signal.SIGKILL)
            p.wait()
            subprocess.run(hunt_cmd(n, r, inp), check=True, capture_output=True)
            for f in (n, r):
                ok, why = lines_ok(f)
                check(ok, "3: kill %d: %s: %s" % (i + 1, os.path.basename(f), why))
        ids = {json.loads(l)["event_id"] for l in open(n, "rb")}
        check({json.loads(l)["event_id"] for l in full} <= ids, "3: every notable is there")
    if failures:
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
