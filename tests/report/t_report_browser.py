#!/usr/bin/env python3
"""escudo report in a real browser (issue 17, first acceptance point). ctest-label: slow

1. `escudo hunt --content ESCU --db STORE --report hunt.html` over ../shared/data/evtx, then
   `escudo report --db STORE --content ESCU -o report.html`.
2. Headless Chromium (Debian's `chromium`; `tools/setup.sh --report-test` installs it when it is
   missing; the test skips, exit 77, only when it cannot be had) loads each page from a file://
   URL with every host name resolving nowhere, dumps the DOM after its script ran, takes a
   screenshot and writes Chromium's network log.
3. The counts the page shows (elements with data-count, read from the DOM Chromium built) equal
   what `escudo notables --format json` and `escudo risk --format json` print for the same store:
   notables, risk threshold notables, notables by severity, detections fired, risk events, risk
   objects; the detections table adds up to the notables.
4. The page made no network request: no request in the network log has the page (a file://
   network isolation key) as its top frame; a control page that does load two URLs is caught by
   the same check, so the check is not blind. Statically: no element or attribute that loads
   anything, no on* handler, one script, a Content-Security-Policy of default-src 'none'; the
   script ran under that policy (its hash is in the policy: the page marks <html data-script>).
5. --since/--until: the page's counts equal `escudo notables/risk --since/--until`.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_check import page_facts  # noqa: E402

ESCUDO = os.environ.get("ESCUDO", "build/escudo")
SRC = os.environ.get("ESC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("ESC_SHARED_DATA", os.path.join(SRC, "..", "shared", "data"))
NOW = "2026-01-01T00:00:00"
SEVERITIES = ["critical", "high", "medium", "low", "informational"]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    p = subprocess.run(["sh", os.path.join(SRC, "tools", "setup.sh"), "--report-test"],
                       capture_output=True, text=True)
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    print("SKIP: chromium is not installed and `tools/setup.sh --report-test` could not install "
          "it (exit %d): %s" % (p.returncode, (p.stderr or p.stdout).strip()[-300:]))
    sys.exit(77)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def browse(chromium, page, tmp, tag, screenshot=False):
    """DOM after load, and the network log, of page opened from a file:// URL."""
    netlog = os.path.join(tmp, "net-%s.json" % tag)
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--user-data-dir=" + os.path.join(tmp, "profile-" + tag),
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=5000"]
    url = "file://" + os.path.abspath(page)
    p = run(base + ["--log-net-log=" + netlog, "--net-log-capture-mode=Everything",
                    "--dump-dom", url], timeout=180)
    check(p.returncode == 0, "%s: chromium --dump-dom exit %d: %s" % (tag, p.returncode,
                                                                     p.stderr[-500:]))
    if screenshot:
        shot = os.path.join(tmp, "%s.png" % tag)
        q = run(base + ["--window-size=1300,2400", "--screenshot=" + shot, url], timeout=180)
        check(q.returncode == 0 and os.path.exists(shot) and os.path.getsize(shot) > 20000,
              "%s: no screenshot (exit %d)" % (tag, q.returncode))
        with open(shot, "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", "%s: screenshot is not a PNG" % tag)
        keep = os.environ.get("ESC_REPORT_SHOT")
        if keep:
            shutil.copy(shot, keep)
    with open(netlog) as f:
        log = json.load(f)
    return p.stdout, log


def page_requests(log):
    """URLs requested with the page (a file:// top frame) as their network isolation key."""
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    out = []
    for e in log["events"]:
        p = e.get("params") or {}
        if names.get(e["type"]) in ("URL_REQUEST_START_JOB", "REQUEST_ALIVE") and "url" in p:
            if "file://" in str(p.get("network_isolation_key", "")) or \
                    p.get("initiator") == "null":
                if not p["url"].startswith(("file:", "data:", "about:")):
                    out.append(p["url"])
    return out


def expected(db, extra=()):
    n = run([ESCUDO, "notables", "--db", db, "--format", "json"] + list(extra))
    r = run([ESCUDO, "risk", "--db", db, "--format", "json"] + list(extra))
    check(n.returncode == 0 and r.returncode == 0, "notables/risk failed: %s %s" % (n.stderr,
                                                                                   r.stderr))
    notables = [json.loads(line) for line in n.stdout.splitlines()]
    risk = [json.loads(line) for line in r.stdout.splitlines()]
    sev = Counter(x.get("severity") for x in notables)
    exp = {
        "n-notables": len(notables),
        "n-incidents": sum(1 for x in notables if "risk_object" in x and "risk_score" in x),
        "n-detections-fired": len({x["search_name"] for x in notables}),
        "n-risk-events": len(risk),
        "n-risk-objects": len({(x["risk_object_type"], x["risk_object"]) for x in risk}),
        "n-sev-other": sum(c for s, c in sev.items() if s not in SEVERITIES),
    }
    for s in SEVERITIES:
        exp["n-sev-" + s] = sev.get(s, 0)
    return exp


def compare(tag, facts, exp):
    for k, v in exp.items():
        if k == "n-risk-objects" and exp["n-risk-events"] == 0:
            continue
        check(facts.counts.get(k) == v, "%s: %s shown %r, escudo notables/risk say %r"
              % (tag, k, facts.counts.get(k), v))
    if exp["n-notables"]:
        check(sum(facts.det_counts) == exp["n-notables"],
              "%s: detections table adds up to %d, not %d" % (tag, sum(facts.det_counts),
                                                              exp["n-notables"]))


def static_checks(tag, html):
    f = page_facts(html)
    check(f.meta_csp and "default-src 'none'" in f.meta_csp, "%s: no CSP default-src 'none'" % tag)
    check(f.scripts == 1, "%s: %d script elements" % (tag, f.scripts))
    check(not f.loading, "%s: elements or attributes that load: %r" % (tag, f.loading[:5]))
    check(not f.handlers, "%s: event handler attributes: %r" % (tag, f.handlers[:5]))
    check("@import" not in html and "url(" not in html, "%s: a CSS url() or @import" % tag)
    return f


def main():
    chromium = find_chromium()
    escu = os.path.join(DATA, "escu")
    evtx = os.path.join(DATA, "evtx")
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "escudo.db")
        hunt_page = os.path.join(tmp, "hunt.html")
        page = os.path.join(tmp, "report.html")
        h = run([ESCUDO, "hunt", "--quiet", "--now", NOW, "--content", escu, "--db", db,
                 "--report", hunt_page, "--format", "json", evtx])
        check(os.path.exists(hunt_page), "hunt --report wrote nothing (exit %d): %s"
              % (h.returncode, h.stderr[-500:]))
        r = run([ESCUDO, "report", "--db", db, "--content", escu, "--now", NOW, "-o", page])
        check(r.returncode == 0, "report exit %d: %s" % (r.returncode, r.stderr))
        exp = expected(db)
        check(exp["n-notables"] > 100 and exp["n-risk-events"] > 100,
              "the evtx hunt made too few notables to test: %r" % exp)

        for tag, p in (("report", page), ("hunt", hunt_page)):
            with open(p, encoding="utf-8") as f:
                html = f.read()
            static_checks(tag, html)
            dom, log = browse(chromium, p, tmp, tag, screenshot=(tag == "report"))
            facts = page_facts(dom)
            check(facts.root_attrs.get("data-script") == "ran",
                  "%s: the page's script did not run under its policy" % tag)
            compare(tag, facts, exp)
            reqs = page_requests(log)
            check(not reqs, "%s: the page requested %r" % (tag, reqs[:5]))

        # the network check sees requests when a page makes them
        ctl = os.path.join(tmp, "control.html")
        with open(ctl, "w") as f:
            f.write('<!DOCTYPE html><img src="http://control.invalid/x.png">'
                    '<script>fetch("https://control2.invalid/y")</script>')
        _, log = browse(chromium, ctl, tmp, "control")
        reqs = page_requests(log)
        check(any("control.invalid" in u for u in reqs) and
              any("control2.invalid" in u for u in reqs),
              "the network check missed the control page's requests: %r" % reqs)

        # a window: the page counts what escudo notables/risk count over the same window
        win = ["--since", "2019-06-01T00:00:00", "--until", "2020-06-01T00:00:00"]
        wpage = os.path.join(tmp, "window.html")
        r = run([ESCUDO, "report", "--db", db, "--content", escu, "--now", NOW, "-o", wpage]
                + win)
        check(r.returncode == 0, "report --since/--until exit %d: %s" % (r.returncode, r.stderr))
        with open(wpage, encoding="utf-8") as f:
            wf = static_checks("window", f.read())
        wexp = expected(db, win)
        check(0 < wexp["n-risk-events"] < exp["n-risk-events"], "window not narrower: %r" % wexp)
        compare("window", wf, wexp)

    for f in failures:
        print("FAIL:", f)
    print("t_report_browser: %d failures" % len(failures))
    sys.exit(1 if failures else 0)


main()
