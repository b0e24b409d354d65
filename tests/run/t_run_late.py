#!/usr/bin/env python3
"""An event 30 minutes too late for its window (issue 6).

sysmon.xml is replayed up to 10:29 (the run at 10:00 fires the window [08:50, 09:50)); then two
events of that window are appended and read at 10:30, 30 minutes after the run:
 - a new row (another share name): missed and reported by default; with --late=emit a notable
   with late=true, lag=1800 and no orig_event_id;
 - a second occurrence of an existing row (same BY values): with --late=emit a notable for the
   changed row (count 2) with orig_event_id = the event_id of the notable that fired at 10:00.
`escudo status` counts the late events. A restart afterwards repeats nothing.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import runlib  # noqa: E402

recs, tail = runlib.xml_records(os.path.join(runlib.CRAFTED, "sysmon.xml"))
first = recs[0][1]  # 09:08:47 net share test=\\test\share ...
assert b"share test=" in first
late_new = first.replace(b"share test=", b"share late=").replace(b"2024-03-06T09:08:47", b"2024-03-06T09:20:00")
late_same = first.replace(b"2024-03-06T09:08:47", b"2024-03-06T09:21:00")
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


for mode in ("drop", "emit"):
    with tempfile.TemporaryDirectory() as d:
        inp, st, nt = os.path.join(d, "in.xml"), os.path.join(d, "st"), os.path.join(d, "n.jsonl")
        with open(inp, "wb") as f:
            f.write(b"".join(r for _, r in recs) + tail)
        common = ["--state", st, "--notables", nt, "--clock-speed", "max", "--late", mode, inp]
        runlib.run(["--clock-start", "2024-03-06T08:00:00Z", "--once-until", "2024-03-06T10:29:00Z"] + common)
        before = [json.loads(x) for x in runlib.lines(nt)]
        fired = [n for n in before if n["info_min_time"] == runlib.epoch("2024-03-06T08:50:00Z")]
        orig = [n for n in fired if "share test=" in n["process"] and n["process_name"].lower() == "net.exe"]
        check(len(orig) == 1, f"{mode}: one notable for the original row before the late events")
        with open(inp, "ab") as f:
            f.write(b"\n" + late_new + b"\n" + late_same + b"\n")
        runlib.run(["--clock-start", "2024-03-06T10:30:00Z", "--once-until", "2024-03-06T10:31:00Z"] + common)
        # a restart right after: nothing is read, fired or emitted again
        runlib.run(["--clock-start", "2024-03-06T10:30:00Z", "--once-until", "2024-03-06T10:31:00Z"] + common)
        after = [json.loads(x) for x in runlib.lines(nt)]
        new = after[len(before):]
        st_json = json.loads(__import__("subprocess").run([runlib.ESCUDO, "status", "--state", st, "--format", "json"],
                                                          capture_output=True, text=True, check=True).stdout)
        check(st_json["late_events"] == 2, f"{mode}: status counts 2 late events, got {st_json['late_events']}")
        if mode == "drop":
            check(new == [], f"{mode}: no notable for late events, got {len(new)}")
            check(st_json["late_notables"] == 0, f"{mode}: no late notables in status")
        else:
            check(len(new) == 2, f"{mode}: two late notables, got {len(new)}")
            nn = [n for n in new if "share late=" in n["process"]]
            ch = [n for n in new if "share test=" in n["process"]]
            check(len(nn) == 1 and nn[0].get("late") is True and nn[0].get("lag") == 1800
                  and "orig_event_id" not in nn[0] and nn[0]["_time"] == runlib.epoch("2024-03-06T10:30:00Z")
                  and nn[0]["info_min_time"] == runlib.epoch("2024-03-06T08:50:00Z"),
                  f"{mode}: the new row's notable: {nn}")
            check(len(ch) == 1 and ch[0].get("late") is True and ch[0].get("count") == 2
                  and orig and ch[0].get("orig_event_id") == orig[0]["event_id"]
                  and ch[0]["event_id"] != orig[0]["event_id"],
                  f"{mode}: the changed row's notable: {ch}")
            check(st_json["late_notables"] == 2, f"{mode}: status counts 2 late notables")
        ids = [json.loads(x)["event_id"] for x in runlib.lines(nt)]
        check(len(ids) == len(set(ids)), f"{mode}: no event_id twice")

# the first late run's stderr names the missed event (default mode)
with tempfile.TemporaryDirectory() as d:
    inp, st = os.path.join(d, "in.xml"), os.path.join(d, "st")
    with open(inp, "wb") as f:
        f.write(b"".join(r for _, r in recs) + tail)
    runlib.run(["--clock-start", "2024-03-06T08:00:00Z", "--once-until", "2024-03-06T10:29:00Z", "--state", st,
                "--clock-speed", "max", inp])
    with open(inp, "ab") as f:
        f.write(b"\n" + late_new + b"\n")
    import subprocess
    p = subprocess.run([runlib.ESCUDO, "run", "--enable", runlib.SEED, "--state", st, "--clock-speed", "max",
                        "--clock-start", "2024-03-06T10:30:00Z", "--once-until", "2024-03-06T10:31:00Z", inp],
                       capture_output=True, text=True)
    check(p.returncode == 0 and "late event missed" in p.stderr and "(1800 s ago)" in p.stderr,
          f"the missed late event is reported: {p.stderr}")
    check("late events 1" in p.stderr, "the summary counts it")

print("late events:", "FAIL" if fails else "ok")
sys.exit(1 if fails else 0)
