#!/usr/bin/env python3
"""Results a responder can act on (issue 16, problems 1, 2, 3 and 8), from the commands the
issue quotes: CSV of many detections under one header whose every row matches its detection's
JSON row; the table for people (a summary, then each detection's rows, by time, fitted to the
width, colour only on a terminal and never with NO_COLOR); --evidence and its cap (the 5
earliest and 5 latest events of a row, by time, and their total); dump --at; notables with
host, user and orig_time, filtered by severity and detection, and `notables set`/`history` as
Splunk ES incident review; escudo content list agreeing with lint; escudo --version naming the
content. ctest-label: slow"""
import csv
import io
import json
import os
import pty
import re
import sqlite3
import subprocess
import sys
import tempfile

ESCUDO = os.environ.get("ESCUDO", "build/escudo")
DATA = os.environ.get("ESC_SHARED_DATA", "../shared/data")
ESCU = os.path.join(DATA, "escu")
EVTX = os.path.join(DATA, "evtx")
CRAFTED = os.path.join(DATA, "crafted")
fails = 0


def check(name, ok, detail=""):
    global fails
    print(("ok: " if ok else "FAIL: ") + name + ("" if ok else " " + str(detail)[:400]))
    fails += 0 if ok else 1


def run(*args, env=None):
    e = dict(os.environ, **(env or {}))
    p = subprocess.run([ESCUDO, *args], capture_output=True, env=e)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


# ---- problem 1: CSV of several detections ----
rc, out, err = run("hunt", "--quiet", "--format", "csv", "--content", ESCU, EVTX)
rows = list(csv.reader(io.StringIO(out, newline="")))
check("csv: exit 0", rc == 0, err)
check("csv: one header, constant field count", {len(r) for r in rows} == {len(rows[0])},
      sorted({len(r) for r in rows}))
hdr = rows[0]
check("csv: search_name first, no repeated column", hdr[0] == "search_name" and
      len(set(hdr)) == len(hdr))
rc, out, err = run("hunt", "--quiet", "--format", "json", "--content", ESCU, EVTX)
js = [json.loads(l) for l in out.splitlines()]
check("csv: one row per JSON row", len(rows) - 1 == len(js), (len(rows) - 1, len(js)))
bad = 0
for r, j in zip(rows[1:], js):
    cells = dict(zip(hdr, r))
    for k, v in j.items():
        want = "\n".join(v) if isinstance(v, list) else str(v)
        bad += cells.get(k) != want
    bad += sum(1 for k, v in cells.items() if v and k not in j)
check("csv: every value under its own column", bad == 0, bad)
at = [r for r in rows[1:] if "at.exe" in r]
check("csv: at.exe under process_name", at and all(r[hdr.index("process_name")] == "at.exe"
                                                    for r in at if r[hdr.index("process_name")]
                                                    in ("at.exe",) or "at.exe" in r[hdr.index("process_name")]))

# ---- problem 2: the table for people ----
rc, out, err = run("hunt", "--quiet", "--content", ESCU, EVTX, env={"COLUMNS": "100"})
lines = out.splitlines()
check("table: no line wider than the 100 columns", max(len(l) for l in lines) <= 100,
      max(len(l) for l in lines))
check("table: summary first", lines[0].split()[:2] == ["severity", "detection"], lines[0])
sections = [l for l in lines if l.startswith("== ")]
ndet = len({j["search_name"] for j in js})
check("table: one section per detection with rows", len(sections) == ndet, (len(sections), ndet))
first = []
for l in lines[2:]:
    if not l:
        break
    m = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)  \d{4}-", l)
    first.append(m.group(1) if m else "")
check("table: summary ordered by first event", first == sorted(first) and len(first) == ndet)
check("table: long values cut with an ellipsis", "\u2026" in out)
check("table: no colour when not a terminal", "\033[" not in out)
rc, out, err = run("hunt", "--quiet", "--color", "always", "--content", ESCU, EVTX)
check("table: --color always colours severities", "\033[31m" in out or "\033[33m" in out)
rc, out, err = run("hunt", "--quiet", "--color", "sometimes", "--content", ESCU, EVTX)
check("table: --color sometimes is a usage error", rc == 2 and "--color" in err, err)


def on_tty(env):
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(env)
        os.execv(ESCUDO, [ESCUDO, "hunt", "--quiet", "--content", ESCU,
                          os.path.join(EVTX, "Execution")])
    chunks = []
    while True:
        try:
            b = os.read(fd, 65536)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode("utf-8", "replace")


env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
os.environ.pop("NO_COLOR", None)
check("table: colour on a terminal", "\033[" in on_tty({}))
check("table: NO_COLOR honoured on a terminal", "\033[" not in on_tty({"NO_COLOR": "1"}))

# ---- problem 3: --evidence and its cap ----
src = open(os.path.join(CRAFTED, "sysmon.xml"), encoding="utf-8").read().splitlines()
rc, out, err = run("hunt", "--quiet", "--format", "json", "--evidence",
                   os.path.join(CRAFTED, "sysmon.xml"))
row = json.loads(out.splitlines()[0])
off = row["evidence"][0]["offset"]
pos, line = 0, None
for l in src:
    if pos == off:
        line = l
    pos += len(l.encode("utf-8")) + 1
check("evidence offset is its line's", line is not None)
order = [17, 3, 22, 9, 0, 14, 5, 20, 11, 1, 18, 7, 24, 13, 2, 16, 8, 23, 4, 12, 19, 6, 21, 10, 15]
with tempfile.TemporaryDirectory() as d:
    p = os.path.join(d, "many.xml")
    with open(p, "w", encoding="utf-8") as f:
        for k in order:  # the same event at 25 times, written out of time order
            t = "2024-03-06T10:%02d:00" % k
            l = re.sub(r"SystemTime='[^']*'", "SystemTime='%s.0000000Z'" % t, line)
            l = re.sub(r"(UtcTime'>)[^<]*", r"\g<1>" + t.replace("T", " ") + ".000", l)
            f.write(l + "\n")
    rc, out, err = run("hunt", "--quiet", "--format", "json", "--evidence", p)
    r = json.loads(out.splitlines()[0])
    got = [e["_time"][11:16] for e in r["evidence"]]
    want = ["10:%02d" % k for k in (0, 1, 2, 3, 4, 20, 21, 22, 23, 24)]
    check("evidence: 25 counted", r["evidence_count"] == 25 and r["count"] == 25, r["count"])
    check("evidence: the 5 earliest and 5 latest by time", got == want, got)
    rc, out, err = run("hunt", "--quiet", "--format", "timeline-json", p)
    tl = [json.loads(l) for l in out.splitlines()]
    check("timeline-json: one line per kept event, evidence_total 25",
          len(tl) == 10 and all(t["evidence_total"] == 25 for t in tl))
    ref = r["evidence"][0]["ref"]
    rc, out, err = run("dump", "--at", ref)
    check("dump --at prints the referenced event", rc == 0 and "10:00:00" in out and
          out.count("\n") == 1, err)
    rc, out, err = run("dump", "--at", p + ":1")
    check("dump --at an offset with no record: exit 1", rc == 1 and "no record" in err, err)
    rc, out, err = run("dump", "--at", p)
    check("dump --at without an offset: exit 2", rc == 2, err)
    # --at repeated for one file: every record asked for, in file order, each once
    refs = [e["ref"] for e in r["evidence"]]
    rc, out, err = run("dump", *[a for x in reversed(refs + refs[:1]) for a in ("--at", x)])
    one_by_one = "".join(run("dump", "--at", x)[1]
                         for x in sorted(set(refs), key=lambda x: int(x.rsplit(":", 1)[1])))
    check("dump --at repeated: one line per record, in file order",
          rc == 0 and out == one_by_one and out.count("\n") == len(set(refs)), err)
    rc, out, err = run("dump", "--at", ref, "--at", p + ".other:1")
    check("dump --at naming two files: exit 2", rc == 2 and "same file" in err, err)
    rc, out, err = run("dump", *["--at=a:1"] * 100001)
    check("dump --at more than 100,000 times: exit 2 (docs/limits.md)",
          rc == 2 and "more than 100000" in err, err)

# ---- problem 8: notables triage ----
with tempfile.TemporaryDirectory() as d:
    db = os.path.join(d, "n.db")
    plain = os.path.join(d, "plain.jsonl")
    rc, out, err = run("hunt", "--quiet", "--format", "json", "--content", ESCU, "--db", db,
                       "--evidence", "--notables", os.path.join(d, "ev.jsonl"),
                       "--now", "2025-01-01T00:00:00Z", EVTX)
    rc, out, err = run("hunt", "--quiet", "--format", "json", "--content", ESCU, "--notables",
                       plain, "--now", "2025-01-01T00:00:00Z", EVTX)
    pl = [json.loads(l) for l in open(plain, encoding="utf-8")]
    ev = [json.loads(l) for l in open(os.path.join(d, "ev.jsonl"), encoding="utf-8")]
    check("notables: orig_time and evidence only with --evidence, nothing else differs",
          not any("evidence" in n or "orig_time" in n for n in pl) and len(pl) == len(ev) and
          all({k: v for k, v in e.items() if k not in ("orig_time", "evidence_count", "evidence")}
              == p for e, p in zip(ev, pl)))
    rc, out, err = run("notables", "--db", db)
    check("notables: host, user and orig_time columns",
          out.splitlines()[0].split()[4:8] == ["owner", "host", "user", "orig_time"],
          out.splitlines()[0])
    allj = [json.loads(l) for l in run("notables", "--db", db, "--format", "json")[1].splitlines()]
    rule = [n for n in allj if "orig_time" in n]
    check("notables: a detection's notables carry orig_time and evidence",
          rule and all(n["evidence_count"] >= 1 and n["evidence"] and
                       n["orig_time"] == int(float(n["evidence"][0]["_time"])) for n in rule))
    hi = [json.loads(l) for l in
          run("notables", "--db", db, "--format", "json", "--severity", "high+")[1].splitlines()]
    want = [n for n in allj if n["severity"] in ("high", "critical")]
    check("notables --severity high+", hi and [n["event_id"] for n in hi] ==
          [n["event_id"] for n in want], (len(hi), len(want)))
    rc, out, err = run("notables", "--db", db, "--severity", "urgent")
    check("notables --severity urgent: exit 2", rc == 2, err)
    det = [json.loads(l) for l in run("notables", "--db", db, "--format", "json", "--detection",
                                      "*wmic*")[1].splitlines()]
    check("notables --detection glob", det and all("wmic" in n["search_name"].lower()
                                                   for n in det) and
          len(det) == sum("wmic" in n["search_name"].lower() for n in allj))
    host = rule[0]["dest"] if isinstance(rule[0].get("dest"), str) else None
    if host:
        obj = run("notables", "--db", db, "--format", "json", "--object", host)[1].splitlines()
        check("notables --object host", obj and all(host in l for l in obj))
    nid = rule[0]["event_id"]
    rc, out, err = run("notables", "set", nid[:12], "--db", db, "--status", "in-progress",
                       "--owner", "alice", "--comment", "looking", "--user", "bob")
    check("notables set: exit 0", rc == 0 and nid in out, err)
    rc, out, err = run("notables", "set", nid[:12], "--db", db, "--status", "Closed",
                       "--comment", "false positive", "--user", "alice")
    rc, out, err = run("notables", "--db", db, "--status", "closed", "--format", "json")
    n = [json.loads(l) for l in out.splitlines()]
    check("notables set: status and owner in the store and the JSON",
          len(n) == 1 and n[0]["event_id"] == nid and n[0]["status"] == "closed" and
          n[0]["owner"] == "alice", n)
    rc, out, err = run("notables", "history", nid[:12], "--db", db)
    h = out.splitlines()
    check("notables history: both changes, oldest first", len(h) == 2 and "in progress" in h[0]
          and "bob" in h[0] and "looking" in h[0] and "closed" in h[1] and
          "false positive" in h[1], h)
    con = sqlite3.connect(db)
    check("notables set: history kept in notable_updates",
          con.execute("select count(*) from notable_updates").fetchone()[0] == 2)
    con.close()
    rc, out, err = run("notables", "set", nid[:12], "--db", db, "--status", "done")
    check("notables set --status done: exit 2", rc == 2 and "in-progress" in err, err)
    rc, out, err = run("notables", "set", "ffffffffffff", "--db", db, "--status", "closed")
    check("notables set of an unknown id: exit 1", rc == 1 and "no notable" in err, err)
    rc, out, err = run("notables", "set", nid[:12], "--db", db)
    check("notables set with nothing to change: exit 2", rc == 2, err)
    rc, out, err = run("hunt", "--quiet", "--format", "json", "--content", ESCU, "--db", db,
                       "--now", "2025-01-01T00:00:00Z", EVTX)
    rc, out, err = run("notables", "--db", db, "--status", "closed", "--format", "json")
    check("notables set: a hunt again keeps the analyst's status", len(out.splitlines()) == 1)

# ---- content list: by data source and technique, agreeing with lint ----
rc, out, err = run("content", "list", "--content", ESCU, "--format", "json")
cl = json.loads(out)
rc2, out2, err2 = run("lint", "--content", ESCU, "--format", "json")
summ = json.loads(out2.splitlines()[-1])["summary"]
check("content list: exit 0, supported as lint says", rc == 0 and cl["detections"] ==
      summ["total"] and cl["supported"] == summ["supported"], (cl.get("supported"), summ))
check("content list: unsupported reasons as lint's", cl["unsupported"] == summ["by_reason"])
dets = [json.loads(l) for l in out2.splitlines()[:-1]]
sysmon1 = sum(1 for d in dets if d["supported"] and "Sysmon EventID 1" in d["data_sources"])
check("content list: by data source and technique",
      cl["data_source"]["Sysmon EventID 1"]["supported"] == sysmon1 and
      sum(v["supported"] + v["unsupported"] for k, v in cl["mitre_attack_id"].items()
          if k.startswith("T1003")) > 0)
rc, out, err = run("content")
check("content without list: usage, exit 2", rc == 2 and "list" in err, err)

# ---- --version ----
rc, out, err = run("--version")
check("--version names the content", rc == 0 and re.match(r"escudo \d+\.\d+\.\d+\ncontent: \S",
                                                          out), out)
sys.exit(1 if fails else 0)
