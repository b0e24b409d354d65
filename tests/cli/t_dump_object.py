#!/usr/bin/env python3
"""dump --format json --data-object (issue 16, problem 10): `data` as an object, a field that
occurs more than once as an array of its values in order; every other key as without the flag.
Checked against the list-of-pairs output over the crafted sample, a record with duplicated
names, and EVTX files of the shared data."""
import glob
import json
import os
import subprocess
import sys
import tempfile

ESCUDO = os.environ.get("ESCUDO", "build/escudo")
DATA = os.environ.get("ESC_SHARED_DATA", "../shared/data")
fails = 0


def check(name, ok, detail=""):
    global fails
    print(("ok: " if ok else "FAIL: ") + name + ("" if ok else " " + detail[:500]))
    fails += 0 if ok else 1


def dump(*args):
    p = subprocess.run([ESCUDO, "dump", *args], capture_output=True)
    return p.returncode, p.stdout.decode("utf-8", "surrogateescape"), p.stderr.decode()


def as_object(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            obj[k] = obj[k] + [v] if isinstance(obj[k], list) else [obj[k], v]
        else:
            obj[k] = v
    return obj


tmp = tempfile.mkdtemp()
dup = os.path.join(tmp, "dup.xml")
with open(dup, "w") as f:
    f.write("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
            "<Provider Name='P'/><EventID>4688</EventID><TimeCreated SystemTime="
            "'2024-03-06T00:00:00Z'/><EventRecordID>7</EventRecordID><Channel>Security</Channel>"
            "<Computer>H</Computer></System><EventData><Data Name='A'>1</Data>"
            "<Data Name='B'>x</Data><Data Name='A'>2</Data><Data Name='A'>3</Data>"
            "<Data Name='C'>\"q\"</Data></EventData></Event>\n")
inputs = [os.path.join(DATA, "crafted", "worked_example.xml"), dup]
inputs += sorted(glob.glob(os.path.join(DATA, "evtx", "**", "*.evtx"), recursive=True))[:20]

rc1, pairs, _ = dump("--format", "json", *inputs)
rc2, objs, err = dump("--format", "json", "--data-object", *inputs)
check("exit codes agree", rc1 == rc2 and rc2 in (0, 1), f"{rc1} {rc2} {err}")
pl, ol = pairs.splitlines(), objs.splitlines()
check("one line per record", len(pl) == len(ol) and len(pl) > 100, f"{len(pl)} {len(ol)}")
bad = 0
for a, b in zip(pl, ol):
    ja, jb = json.loads(a), json.loads(b)
    want = dict(ja, data=as_object(ja["data"]))
    if want != jb or list(jb) != list(ja) or list(jb["data"]) != list(want["data"]):
        bad += 1
        if bad == 1:
            print("first difference:\n  " + a[:300] + "\n  " + b[:300])
check("data as an object, the rest unchanged", bad == 0, f"{bad} records differ")
rec = [json.loads(l) for l in ol if '"record_id":7,' in l]
check("duplicates as an array, in order",
      rec and rec[0]["data"] == {"A": ["1", "2", "3"], "B": "x", "C": '"q"'}, str(rec))
rc, _, err = dump("--data-object", dup)
check("--data-object without --format json: exit 2", rc == 2 and "--data-object" in err, err)
sys.exit(1 if fails else 0)
