#!/usr/bin/env python3
"""dump's output bytes, pinned: every EVTX file of the shared data (evtx/ and evtx-rs/) in five
modes (JSON, JSON --data-object, XML, and JSON and XML with --recover), standard output and
standard error, against tests/evtx/dump_golden.tsv: SHA-256 prefixes written by the build
before the writers were rewritten (issue 21: output bytes unchanged), re-pinned once since for
the JSON modes of the 12 files whose <Binary> or ProcessingErrorData no longer make data pairs
(docs/decisions.md; each changed line checked to lose only those pairs). Each file is dumped with
--threads 1; the JSON and XML modes also with --threads 3, which must give the same bytes.

Run from the shared data folder with relative paths, so warnings name files the same way
anywhere. `t_dump_golden.py --write` (with ESCUDO set to the build to pin) rewrites the table.
ctest-label: heavy (minutes long: `make heavy`; CI keeps the quicker tests of the same code)
Environment: ESCUDO, ESC_SHARED_DATA."""
import hashlib
import os
import subprocess
import sys

ESCUDO = os.path.abspath(os.environ.get("ESCUDO", "build/escudo"))
DATA = os.environ.get("ESC_SHARED_DATA", "../shared/data")
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dump_golden.tsv")
MODES = {
    "json": ["--format", "json"],
    "object": ["--format", "json", "--data-object"],
    "xml": ["--format", "xml"],
    "json-recover": ["--format", "json", "--recover"],
    "xml-recover": ["--format", "xml", "--recover"],
}
THREADED = ("json", "xml")


def run(path, mode, threads):
    p = subprocess.run([ESCUDO, "dump", *MODES[mode], "--threads", str(threads), path],
                       capture_output=True, cwd=DATA, timeout=120)
    h = lambda b: hashlib.sha256(b).hexdigest()[:16]
    return "%s %s %d" % (h(p.stdout), h(p.stderr), p.returncode)


def files():
    out = []
    for top in ("evtx", "evtx-rs"):
        for dp, dn, fn in os.walk(os.path.join(DATA, top)):
            dn.sort()
            out += [os.path.relpath(os.path.join(dp, f), DATA) for f in sorted(fn)
                    if f.endswith(".evtx")]
    return out


def main():
    if not os.path.isdir(os.path.join(DATA, "evtx")):
        print("skip: no shared EVTX data at " + DATA)
        return 0
    if sys.argv[1:] == ["--write"]:
        with open(GOLDEN, "w") as f:
            for path in files():
                for mode in MODES:
                    f.write("%s\t%s\t%s\n" % (path, mode, run(path, mode, 1)))
        return 0
    want = {}
    for line in open(GOLDEN):
        path, mode, got = line.rstrip("\n").split("\t")
        want[(path, mode)] = got
    fails = checked = 0
    for path in files():
        for mode in MODES:
            exp = want.get((path, mode))
            if exp is None:
                print("FAIL: %s %s: not in dump_golden.tsv" % (path, mode))
                fails += 1
                continue
            for t in (1, 3) if mode in THREADED else (1,):
                got = run(path, mode, t)
                checked += 1
                if got != exp:
                    fails += 1
                    print("FAIL: %s %s --threads %d: %s, pinned %s" % (path, mode, t, got, exp))
    print("%d dumps checked, %d differ" % (checked, fails))
    return 1 if fails else 0


sys.exit(main())
