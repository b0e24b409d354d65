#!/usr/bin/env python3
"""Hostile values in the report appear as text, never as markup (issue 17, third acceptance
point).

A store made by escudo is filled with notables and risk events whose every value (detection
name, title, severity, status, host, user, fields, ATT&CK ids, evidence paths, risk objects and
their types) holds script tags, quotes that close attributes, markup that closes SVG titles,
entities, RTL overrides and isolates, C0 and C1 controls and DEL. The page must have:
 - one script element (escudo's), no element that loads anything, no on* attribute;
 - none of those characters raw: controls as \\xHH, C1, bidirectional controls as \\uHHHH
   (visible), and every hostile string readable in the page's text exactly as stored;
 - and, when Chromium is installed, a DOM in which no injected script ran (the document title
   is untouched, one script element) while escudo's did.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_check import page_facts  # noqa: E402

ESCUDO = os.environ.get("ESCUDO", "build/escudo")
SRC = os.environ.get("ESC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("ESC_SHARED_DATA", os.path.join(SRC, "..", "shared", "data"))

HOSTILE = [
    '<script>document.title="pwned"</script>',
    '"><img src=x onerror="document.title=\'pwned\'">',
    "' onmouseover='document.title=1' x='",
    "</title></text></svg><script>document.title='pwned'</script>",
    "&lt;already escaped&gt; &amp; &#60;",
    "invoice\u202Efdp.exe",
    "\u2066isolated\u2069 \u200Fmark",
    "ctl\x01\x1b[31mred\x7f\u0085end",
    "tab\there\nnewline\rcr",
]
# what the page shows for the invisible characters
VISIBLE = {"\u202E": "\\u202E", "\u2066": "\\u2066", "\u2069": "\\u2069", "\u200F": "\\u200F",
           "\x01": "\\x01", "\x1b": "\\x1b", "\x7f": "\\x7f", "\u0085": "\\u0085", "\t": "\\t",
           "\n": "\\n", "\r": "\\r"}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def shown(s):
    for k, v in VISIBLE.items():
        s = s.replace(k, v)
    return s


def make_store(tmp):
    db = os.path.join(tmp, "hostile.db")
    p = subprocess.run([ESCUDO, "hunt", "--quiet", "--db", db,
                        os.path.join(DATA, "crafted", "worked_example.xml")],
                       capture_output=True, text=True)
    check(os.path.exists(db), "hunt --db made no store: %s" % p.stderr)
    con = sqlite3.connect(db)
    con.execute("DELETE FROM notables")
    con.execute("DELETE FROM risk_events")
    for i, h in enumerate(HOSTILE):
        t = 1600000000 + i * 3600
        obj = {"_time": t, "event_id": "%064x" % i, "search_name": h, "rule_title": h,
               "severity": h if i % 2 else "high", "status": h, "dest": h, "user": h,
               "process": h, h: h, "annotations.mitre_attack": [h, "T1059"],
               "annotations.mitre_attack.mitre_tactic": [h],
               "firstTime": "2020-09-13T12:26:40",
               "evidence": [{"path": h, "offset": 7, "record_id": 9, "_time": t}]}
        incident = i % 3 == 0
        con.execute("INSERT INTO notables (event_id, time, search_name, rule_title, severity, "
                    "status, owner, risk_object, risk_object_type, risk_score, json) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    ("%064x" % i, t, h, h, obj["severity"], h, h, h if incident else None,
                     h if incident else None, 150 if incident else None, json.dumps(obj)))
        for k in range(3):
            con.execute("INSERT INTO risk_events (event_id, time, search_name, risk_object, "
                        "risk_object_type, risk_score, json) VALUES (?,?,?,?,?,?,?)",
                        ("r%d-%d" % (i, k), t - k * 60, h, h, h, 50, json.dumps({"x": h})))
    con.commit()
    con.close()
    return db


def browser_check(page, tmp):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("t_report_hostile: chromium not installed: the DOM part is left to "
              "t_report_browser.py's setup; static checks only")
        return
    p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--user-data-dir=" + os.path.join(tmp, "profile"),
                        "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=3000",
                        "--dump-dom", "file://" + page], capture_output=True, text=True,
                       timeout=180)
    f = page_facts(p.stdout)
    check(f.scripts == 1, "DOM: %d script elements" % f.scripts)
    check(f.root_attrs.get("data-script") == "ran", "DOM: escudo's script did not run")
    check("pwned" not in p.stdout.split("</title>")[0], "DOM: an injected script set the title")
    check(not f.handlers and not f.loading, "DOM: injected attributes %r %r"
          % (f.handlers[:3], f.loading[:3]))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        db = make_store(tmp)
        page = os.path.join(tmp, "hostile.html")
        p = subprocess.run([ESCUDO, "report", "--quiet", "--db", db, "-o", page],
                           capture_output=True, text=True)
        check(p.returncode == 0, "report exit %d: %s" % (p.returncode, p.stderr))
        with open(page, encoding="utf-8") as f:
            html = f.read()
        f = page_facts(html)
        check(f.scripts == 1, "%d script elements" % f.scripts)
        check(not f.loading, "elements or attributes that load: %r" % f.loading[:5])
        check(not f.handlers, "event handler attributes: %r" % f.handlers[:5])
        check(f.counts.get("n-notables") == len(HOSTILE), "notables shown %r"
              % f.counts.get("n-notables"))
        body = html.split("<script>")[0]  # escudo's own script aside
        for ch in VISIBLE:
            if ch != "\n":  # the page's own line ends
                check(ch not in body, "raw %r in the page" % ch)
        for h in HOSTILE:
            check(shown(h) in f.all_text, "hostile value not shown as text: %r" % h)
        check("&amp;lt;already escaped&amp;gt; &amp;amp; &amp;#60;" in html,
              "entities in a value are not escaped again")
        browser_check(page, tmp)
    for x in failures:
        print("FAIL:", x)
    print("t_report_hostile: %d failures" % len(failures))
    sys.exit(1 if failures else 0)


main()
