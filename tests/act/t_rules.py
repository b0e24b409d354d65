#!/usr/bin/env python3
"""Content rules end to end through `escudo hunt`, on Sysmon XML written here from the worked
example's first event:

1. Risk incident rule: five result rows for one user inside 24 hours give one threshold notable,
   four give none, a sixth an hour later gives no second one; hunting into one --db in two runs
   (three rows, then two more) crosses the threshold in the second run.
2. The _filter macro drops rows before any notable or risk event, and a local folder overrides it
   (and the deployment) without touching the shipped content.
"""
import json
import os
import subprocess
import sys
import tempfile

ESCUDO = os.environ.get("ESCUDO", "build/escudo")
SRC = os.environ.get("ESC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("ESC_SHARED_DATA", os.path.join(SRC, "..", "shared", "data"))
THRESHOLD = "Risk - 24 Hour Risk Threshold Exceeded - Rule"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


with open(os.path.join(DATA, "crafted", "worked_example.xml"), encoding="utf-8") as f:
    TEMPLATE = f.readline().strip()


def event(user, host, hour, n):
    """The worked example's net.exe event for another user, host, time and share name."""
    t = "2021-05-0%d %02d:%02d:00.000" % (1 + hour // 24, hour % 24, n % 60)
    e = TEMPLATE.replace("ATTACKRANGE\\Administrator", "CORP\\" + user)
    e = e.replace("WIN-DC-1.attackrange.local", host)
    e = e.replace("2020-12-09 18:21:05.120", t)
    e = e.replace("2020-12-09T18:21:05.1199998Z", t.replace(" ", "T") + "Z")
    e = e.replace("net  share test=C:\\temp", "net  share s%d=C:\\temp" % n)
    return e


def write(path, events):
    with open(path, "w", encoding="utf-8") as f:
        for e in events:
            f.write(e + "\n")


def hunt(tmp, path, extra=()):
    n = os.path.join(tmp, "n.jsonl")
    r = os.path.join(tmp, "r.jsonl")
    for p in (n, r):
        if os.path.exists(p):
            os.unlink(p)
    p = subprocess.run([ESCUDO, "hunt", "--quiet", "--now", "1700000000", "--notables", n,
                        "--risk", r] + list(extra) + [path], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("hunt failed (%d): %s" % (p.returncode, p.stderr))
    notables = [json.loads(l) for l in open(n, encoding="utf-8")]
    risk = [json.loads(l) for l in open(r, encoding="utf-8")]
    return notables, risk


def threshold(notables, obj=None):
    return [x for x in notables if x["search_name"] == THRESHOLD
            and (obj is None or x["risk_object"] == obj)]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        # each row on its own host, so only the user accumulates risk
        for count, hours, want in ((5, [0, 1, 2, 3, 4], 1), (4, [0, 1, 2, 3], 0),
                                   (6, [0, 1, 2, 3, 4, 5], 1), (5, [0, 6, 12, 18, 24], 0)):
            path = os.path.join(tmp, "u%d.xml" % count)
            write(path, [event("alice", "HOST-%d" % i, h, i) for i, h in enumerate(hours)])
            notables, risk = hunt(tmp, path)
            rows = [x for x in notables if x["search_name"] != THRESHOLD]
            check(len(rows) == count, "%d rows -> %d notables" % (count, len(rows)))
            check(sum(1 for e in risk if e["risk_object"] == "alice") == count,
                  "%d risk events for alice" % count)
            got = threshold(notables, "alice")
            check(len(got) == want, "%d rows at hours %s: %d threshold notables, want %d"
                  % (count, hours, len(got), want))
            if want:
                check(got[0]["risk_score"] == 125 and got[0]["risk_event_count"] == 5
                      and got[0]["risk_object_type"] == "user"
                      and got[0]["rule_title"] == "24 hour risk threshold exceeded for user=alice",
                      "threshold notable fields: %r" % got[0])
            check(not threshold(notables, None)[len(got):], "no other threshold notables")

        # across runs through the store
        db = os.path.join(tmp, "store.db")
        a = os.path.join(tmp, "a.xml")
        b = os.path.join(tmp, "b.xml")
        write(a, [event("bob", "H%d" % i, i, i) for i in range(3)])
        write(b, [event("bob", "H%d" % i, i, i) for i in range(3, 5)])
        n1, _ = hunt(tmp, a, ["--db", db])
        n2, _ = hunt(tmp, b, ["--db", db])
        check(not threshold(n1) and len(threshold(n2, "bob")) == 1,
              "threshold crossed in the second run through the store")
        out = subprocess.run([ESCUDO, "notables", "--db", db, "--rule", "threshold", "--format",
                              "json"], capture_output=True, text=True, check=True).stdout
        check(len(out.splitlines()) == 1, "one threshold notable stored")

        # the filter macro and a local override
        path = os.path.join(tmp, "mixed.xml")
        write(path, [event("svc_backup", "SRV-1", 0, 1), event("carol", "WS-2", 0, 2)])
        notables, risk = hunt(tmp, path)
        check(len(notables) == 2, "shipped filter (search *) keeps both rows")
        local = os.path.join(tmp, "local")
        os.makedirs(os.path.join(local, "macros"))
        os.makedirs(os.path.join(local, "deployments"))
        with open(os.path.join(local, "macros", "filter.yml"), "w") as f:
            f.write("name: create_or_delete_windows_shares_using_net_exe_filter\n"
                    "definition: search user!=svc_backup\n"
                    "description: known backup job\n")
        notables, risk = hunt(tmp, path, ["--local", local])
        check(len(notables) == 1 and notables[0]["user"] == ["carol"],
              "local filter drops the svc_backup row before the notable")
        check(all(e["user"] == ["carol"] for e in risk) and len(risk) == 2,
              "and before its risk events")
        # a local deployment of the same type without rba: notables only
        with open(os.path.join(local, "deployments", "ttp.yml"), "w") as f:
            f.write("name: Local TTP\ntype: TTP\nscheduling:\n  cron_schedule: 0 * * * *\n"
                    "  earliest_time: -70m@m\n  latest_time: -10m@m\nalert_action:\n"
                    "  notable:\n    rule_title: '%name% on $dest$'\n"
                    "    rule_description: '%description%'\n    nes_fields: [user, dest]\n")
        notables, risk = hunt(tmp, path, ["--local", local])
        check(len(notables) == 1 and not risk, "local deployment turns risk events off")
        check(notables and notables[0]["rule_title"].endswith(" on WS-2"),
              "local rule_title with a $field$")
        shipped = os.path.join(SRC, "content", "macros")
        check(not any("net_exe_filter" in open(os.path.join(shipped, m)).read()
                      for m in os.listdir(shipped)), "shipped content untouched")

    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
