#!/usr/bin/env python3
"""Evidence of `run` (issue 16, docs/evidence.md): with --evidence, run's notables and risk
events carry the events behind their rows (orig_time, evidence_count, evidence), the same as
`escudo hunt --evidence` of each scheduled window gives, including windows whose records were
read across restarts and kill -9 (a window's blob keeps each record's origin: input, offset,
line, record id). Every reference resolves with `escudo dump --at` to a record of that _time.
Without --evidence the notables carry none (t_pins.sh pins them byte for byte).

The crafted XML files are replayed as t_run_crash.py does: records appended at checkpoints 15
minutes apart, each checkpoint a `run --clock-speed max --once-until C`; some are killed inside
their checkpoint transaction (ESCUDO_TEST_CRASH_AT=commit:N) and run again.

Raw-event searches (no leading `|`) carry the events behind their rows too: crafted Sysmon 10 and
PowerShell 4104 events for two ESCU raw searches (`sysmon` EventCode=10 ... lsass; `powershell`
EventCode=4104 Get-DomainUser) and a few searches that keep rows through eventstats, transaction,
dedup, sort, stats list() and mvexpand; in hunt and in run, each row's references resolve with
`escudo dump --at` to exactly the matching events of its group (record ids), never a rejected
one."""
import json
import os
import random
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(__file__))
import runlib  # noqa: E402

rng = random.Random(16)
START, END = runlib.epoch("2024-03-06T08:00:00Z"), runlib.epoch("2024-03-06T11:00:00Z")
sources = [runlib.xml_records(os.path.join(runlib.CRAFTED, n))[0] for n in ("sysmon.xml", "security.xml")]
arrivals = sorted((t + rng.randint(0, 590), i, b) for i, recs in enumerate(sources) for t, b in recs)
checkpoints = list(range(START + 900, END + 1, 900))
fails = []
sizes = []  # per checkpoint: each input's size once its records were appended


def check(name, ok, detail=""):
    print(("ok: " if ok else "FAIL: ") + name + ("" if ok else " " + str(detail)[:400]))
    if not ok:
        fails.append(name)


def replay(d, evidence, crash):
    ins = [os.path.join(d, f"in{i}.xml") for i in range(len(sources))]
    for p in ins:
        open(p, "wb").close()
    st, nt, rk = (os.path.join(d, x) for x in ("st", "n.jsonl", "r.jsonl"))
    nxt, kills = 0, 0
    sizes.clear()
    for k, c in enumerate(checkpoints):
        while nxt < len(arrivals) and arrivals[nxt][0] <= c:
            _, i, b = arrivals[nxt]
            with open(ins[i], "ab") as f:
                f.write(b if b.endswith(b"\n") else b + b"\n")
            nxt += 1
        sizes.append({p: os.path.getsize(p) for p in ins})
        args = ["--state", st, "--notables", nt, "--risk", rk, "--clock-speed", "max", "--clock-start",
                runlib.iso(START), "--once-until", runlib.iso(c)] + (["--evidence"] if evidence else []) + ins
        if crash and k % 2 == 0:
            p = runlib.run(args, env={"ESCUDO_TEST_CRASH_AT": f"commit:{1 + k % 3}"}, check=False)
            kills += p.returncode == -9
        runlib.run(args)
    return ins, runlib.lines(nt), runlib.lines(rk), kills


def hunt_windows(ins, d):
    """hunt --evidence of each hourly window (the seed detection: -70m@m .. -10m@m), with a store
    kept across windows as run keeps one (the 24-hour risk rule spans windows)."""
    hn, hr = os.path.join(d, "hn.jsonl"), os.path.join(d, "hr.jsonl")
    for t in range(START + 3600, END + 1, 3600):
        p = subprocess.run([runlib.ESCUDO, "hunt", "--detection", runlib.SEED, "--quiet", "--format", "json",
                            "--evidence", "--earliest", runlib.iso(t - 4200), "--latest", runlib.iso(t - 600),
                            "--now", runlib.iso(t), "--notables", hn, "--risk", hr, "--db", os.path.join(d, "h.db")] + ins,
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"hunt: {p.stderr}")
    return runlib.lines(hn), runlib.lines(hr)


with tempfile.TemporaryDirectory() as d:
    ins, plain_n, plain_r, _ = replay(d, False, False)
    check("without --evidence: no evidence in notables or risk events",
          plain_n and not any('"evidence' in x or '"orig_time"' in x for x in plain_n + plain_r))

with tempfile.TemporaryDirectory() as d:
    ins, got_n, got_r, kills = replay(d, True, True)
    hunt_n, hunt_r = hunt_windows(ins, d)
    check("kill -9 inside checkpoints happened (%d)" % kills, kills >= 4)
    # the detection's notables (the 24-hour risk threshold notables stand for risk events, not
    # for events, and carry none)
    notables = [n for n in map(json.loads, got_n) if not n["search_name"].startswith("Risk - ")]
    risks = [json.loads(x) for x in got_r]
    check("notables made (%d)" % len(notables), len(notables) > 5)
    check("every notable has evidence",
          all(n.get("evidence_count", 0) > 0 and n.get("evidence") for n in notables))
    check("every risk event has evidence",
          risks and all(r.get("evidence_count", 0) > 0 and r.get("evidence") for r in risks))
    check("orig_time is the earliest event's time",
          all(n["orig_time"] == int(n["evidence"][0]["_time"]) for n in notables))
    check("at most 10 references, in time order",
          all(len(n["evidence"]) <= 10 and [e["_time"] for e in n["evidence"]] ==
              sorted(e["_time"] for e in n["evidence"]) for n in notables))
    check("run across kills equals hunt --evidence of each window (notables)",
          sorted(got_n) == sorted(hunt_n), (len(got_n), len(hunt_n)))
    check("run across kills equals hunt --evidence of each window (risk events)",
          sorted(got_r) == sorted(hunt_r), (len(got_r), len(hunt_r)))
    # a window spanning restarts: its events were read by several invocations
    def read_at(e):  # the invocation (checkpoint) that read the record
        return next(k for k, sz in enumerate(sizes) if sz[e["source"]] > e["offset"])
    span = [n for n in notables if len({read_at(e) for e in n["evidence"]}) > 1]
    check("notables whose events were read across restarts (%d)" % len(span), len(span) > 0)
    bad = []
    for ref in sorted({(e["source"], e["offset"], e["_time"]) for n in notables for e in n["evidence"]}):
        p = subprocess.run([runlib.ESCUDO, "dump", "--at", f"{ref[0]}:{ref[1]}"], capture_output=True, text=True)
        iso = datetime.fromtimestamp(int(float(ref[2])), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        if p.returncode != 0 or iso not in p.stdout:
            bad.append((ref, p.stderr or p.stdout[:200]))
    check("every reference resolves with dump --at to a record of its _time", not bad, bad[:3])

# ---- raw-event searches ----
ESCU_FULL = os.path.join(runlib.DATA, "escu-full")
LSASS, DOMAINUSER = "fb4c31b0-13e8-4155-8aa5-24de4b8d6717", "61994268-04f4-11ec-865c-acde48001122"


def sysmon10(rid, t, host, target, trace):
    return ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider "
            "Name='Microsoft-Windows-Sysmon'/><EventID>10</EventID><TimeCreated SystemTime='%s'/>"
            "<EventRecordID>%d</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel>"
            "<Computer>%s</Computer></System><EventData><Data Name='SourceProcessId'>4000</Data>"
            "<Data Name='SourceImage'>C:\\Tools\\procdump.exe</Data><Data Name='TargetProcessId'>640</Data>"
            "<Data Name='TargetImage'>%s</Data><Data Name='CallTrace'>%s</Data></EventData></Event>\n"
            % (t, rid, host, target, trace))


def ps4104(rid, t, host, text):
    return ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider "
            "Name='Microsoft-Windows-PowerShell'/><EventID>4104</EventID><TimeCreated SystemTime='%s'/>"
            "<EventRecordID>%d</EventRecordID><Channel>Microsoft-Windows-PowerShell/Operational</Channel>"
            "<Computer>%s</Computer><Security UserID='S-1-5-21-1-1001'/></System><EventData>"
            "<Data Name='ScriptBlockText'>%s</Data></EventData></Event>\n" % (t, rid, host, text))


LS = "C:\\Windows\\system32\\lsass.exe"
raw_events = [  # record id 1xx: Sysmon 10, 2xx: PowerShell 4104; ~ marks a negative
    sysmon10(101, "2024-03-06T09:00:01Z", "WS1", LS, "ntdll.dll+9|C:\\x\\dbghelp.dll+12"),
    sysmon10(102, "2024-03-06T09:00:03Z", "WS1", LS, "C:\\x\\dbgcore.dll+99"),
    sysmon10(103, "2024-03-06T09:00:02Z", "WS1", LS, "C:\\x\\kernel32.dll+99"),  # ~ call trace
    sysmon10(104, "2024-03-06T09:00:04Z", "WS2", LS, "x|dbghelp.dll+1"),
    sysmon10(105, "2024-03-06T09:00:05Z", "WS2", "C:\\x\\svchost.exe", "x|dbghelp.dll+1"),  # ~ target
    ps4104(201, "2024-03-06T09:10:00Z", "WS3", "Get-DomainUser -Identity bob"),
    ps4104(202, "2024-03-06T09:11:00Z", "WS3", "Get-DomainUser -Identity bob"),
    ps4104(203, "2024-03-06T09:12:00Z", "WS3", "Get-Process"),  # ~ script block
]
LINEAGE = {  # search -> {row key: record ids behind the row}
    "`sysmon` EventCode=10 TargetImage=*lsass.exe | eventstats count as n by dest | transaction dest "
    "| table dest eventcount n": ("dest", {"WS1": [101, 102, 103], "WS2": [104]}),
    "`sysmon` EventCode=10 | dedup dest | sort dest | table dest CallTrace":
        ("dest", {"WS1": [102], "WS2": [105]}),  # dedup keeps the newest of each dest
    "`sysmon` EventCode=10 | stats list(TargetImage) as t count by dest | mvexpand t "
    "| stats count by t": ("t", {LS.replace("\\\\", "\\"): [101, 102, 103, 104, 105],
                                 "C:\\x\\svchost.exe": [104, 105]}),
}


dumped = {}


def resolve_ids(rows):
    bad = []
    for r in rows:
        for e in r.get("evidence", []):
            ref = e.get("ref") or f"{e['source']}:{e['offset']}"  # notables: source and offset
            if ref not in dumped:
                p = subprocess.run([runlib.ESCUDO, "dump", "--at", ref], capture_output=True, text=True)
                dumped[ref] = p.stdout if p.returncode == 0 else "exit %d %s" % (p.returncode, p.stderr)
            if f"<EventRecordID>{e['record_id']}</EventRecordID>" not in dumped[ref]:
                bad.append((ref, dumped[ref][:200]))
    return bad


with tempfile.TemporaryDirectory() as d:
    src = os.path.join(d, "raw.xml")
    with open(src, "w", encoding="utf-8") as f:
        f.write("".join(raw_events))
    det = os.path.join(d, "c", "detections", "endpoint")
    os.makedirs(det)
    for i, search in enumerate(LINEAGE):
        with open(os.path.join(det, f"l{i}.yml"), "w", encoding="utf-8") as f:
            f.write(f"name: Raw Lineage {i}\nid: 00000000-0000-0000-0000-00000000000{i}\n"
                    f"type: TTP\nsearch: {json.dumps(search)}\n")
    p = subprocess.run([runlib.ESCUDO, "hunt", "--quiet", "--format", "json", "--evidence",
                        "--content", ESCU_FULL, "--content", os.path.join(d, "c"), "--detection", LSASS,
                        "--detection", DOMAINUSER, "--detection", "Raw Lineage *", src],
                       capture_output=True, text=True)
    rows = [json.loads(x) for x in p.stdout.splitlines()]
    ids = lambda r: sorted(e["record_id"] for e in r.get("evidence", []))  # noqa: E731
    got = {(r["detection_id"], r.get("dest")): (r.get("count"), r.get("evidence_count"), ids(r))
           for r in rows if r["detection_id"] in (LSASS, DOMAINUSER)}
    check("raw search rows carry their events (hunt)", got == {
        (LSASS, "WS1"): (2, 2, [101, 102]), (LSASS, "WS2"): (1, 1, [104]),
        (DOMAINUSER, "WS3"): (2, 2, [201, 202])}, (p.stderr, got))
    for i, (search, (key, want)) in enumerate(LINEAGE.items()):
        mine = {r[key] if isinstance(r[key], str) else r[key][0]: ids(r) for r in rows
                if r["detection_id"].endswith(f"-00000000000{i}")}
        check("lineage through " + search.split("|", 1)[1].strip(), mine == want, mine)
    bad = resolve_ids(rows)
    check("raw search references resolve with dump --at (hunt)", rows and not bad, bad[:3])
    p = subprocess.run([runlib.ESCUDO, "run", "--quiet", "--content", ESCU_FULL, "--enable", LSASS,
                        "--enable", DOMAINUSER, "--state", os.path.join(d, "st"), "--notables",
                        os.path.join(d, "n.jsonl"), "--risk", os.path.join(d, "r.jsonl"), "--evidence",
                        "--clock-speed", "max", "--clock-start", "2024-03-06T08:00:00Z", "--once-until",
                        "2024-03-06T11:00:00Z", src], capture_output=True, text=True)
    notes = [json.loads(x) for x in runlib.lines(os.path.join(d, "n.jsonl"))]
    got = sorted((n["search_name"].split(" - ")[1], n.get("evidence_count"), ids(n)) for n in notes)
    check("raw search notables carry their events (run)", got == [
        ("Access LSASS Memory for Dump Creation", 1, [104]),
        ("Access LSASS Memory for Dump Creation", 2, [101, 102]),
        ("Get DomainUser with PowerShell Script Block", 2, [201, 202])], (p.stderr, got))
    check("raw search references resolve with dump --at (run)", notes and not resolve_ids(notes))
sys.exit(1 if fails else 0)
