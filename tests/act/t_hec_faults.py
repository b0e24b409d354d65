#!/usr/bin/env python3
"""HEC failures from issue 19, end to end (`escudo hunt` and `escudo run` against
tests/act/hec_server.py on 127.0.0.1, which stops by itself after --lifetime seconds).

1. A HEC that never acknowledges (200 with an ackId, the ack stays false): `hunt --hec-max-wait
   3` returns within the wait (not 30 s per batch), every batch was posted exactly once (round
   robin, not the first batch again and again), exit 3 naming the spool; a restart of hunt on the
   same input once acks flow spools nothing new and every event arrives once. `run
   --hec-max-wait 2` over eight firings takes at most the wait per firing and posts each batch
   once.
2. HEC 400: the batch is set aside as *.rejected and not retried; a second hunt refused again
   gets a new number: the first .rejected file is still there, unchanged.
3. HEC down: the JSON lines and --db sinks hold every event (the HEC outage does not undo them);
   hunt again on the same input while HEC is still down spools no second copy; once HEC is back
   every event arrives exactly once.
4. `run --hec-ca FILE` is an option of run: a TLS HEC whose certificate FILE signs gets the run's
   events.
5. 403 keeps the batches (not rejected) and says the token was refused; 503, a connection
   dropped before or after the batch was read and a slow answer are retried: everything
   arrives, duplicates only from the lost response.
"""
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ESCUDO = os.environ.get("ESCUDO", "build/escudo")
SRC = os.environ.get("ESC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("ESC_SHARED_DATA", os.path.join(SRC, "..", "shared", "data"))
CRAFTED = os.path.join(DATA, "crafted")
SERVER = os.path.join(SRC, "tests", "act", "hec_server.py")
GEN = os.path.join(SRC, "tests", "run", "gen_stream.py")
SEED = "743a322c-9a68-4a0f-9c17-85d9cce2a27c"
TOKEN = "faults-token"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def start(port=0, plan="", ack="normal", tls=None, stall=1):
    p = subprocess.Popen([sys.executable, SERVER, "--port", str(port), "--token", TOKEN,
                          "--plan", plan, "--stall", str(stall), "--ack", ack, "--lifetime",
                          "300"] + (["--tls"] + tls if tls else []),
                         stdout=subprocess.PIPE, text=True)
    return p, int(p.stdout.readline().split()[1])


def stop(p):
    p.terminate()
    p.wait()


def control(port, path, body=None, tls=False):
    ctx = None
    if tls:
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    url = "%s://127.0.0.1:%d%s" % ("https" if tls else "http", port, path)
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(url, data=data, context=ctx) as r:
        return json.load(r)


def env():
    e = dict(os.environ)
    e["ESCUDO_HEC_TOKEN"] = TOKEN
    return e


def ids_of(*files):
    out = []
    for f in files:
        if os.path.exists(f):
            out += [json.loads(l)["event_id"] for l in open(f, encoding="utf-8")]
    return out


def escudo(cmd, limit=120):
    """Run escudo; one that hangs past limit seconds is killed and reported as exit -9."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=limit)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, -9, "", "killed after %d s" % limit)


def hunt(tmp, tag, inp, port, spool, extra=(), scheme="http"):
    n, r = os.path.join(tmp, tag + ".n.jsonl"), os.path.join(tmp, tag + ".r.jsonl")
    cmd = [ESCUDO, "hunt", "--quiet", "--format", "json", "--now", "1700000000", "--notables", n,
           "--risk", r, "--hec", "%s://127.0.0.1:%d" % (scheme, port), "--hec-spool", spool]
    t0 = time.monotonic()
    p = escudo(cmd + list(extra) + [inp])
    return p, ids_of(n, r), time.monotonic() - t0


def batches(spool, suffix=".json"):
    return sorted(f for f in os.listdir(spool) if f.endswith(suffix)) if os.path.isdir(spool) \
        else []


def no_ack(tmp, big):
    srv, port = start(ack="never")
    spool = os.path.join(tmp, "noack")
    p, ids, took = hunt(tmp, "na", big, port, spool, ["--hec-max-wait", "3"])
    posts = control(port, "/_events")["posts"]
    firsts = collections.Counter(x[0] for x in posts)
    check(took < 8, "1: hunt with a HEC that never acks took %.1f s (--hec-max-wait 3)" % took)
    check(p.returncode == 3 and "acknowledgement" in p.stderr and spool in p.stderr,
          "1: exit 3 naming the spool: rc %d %s" % (p.returncode, p.stderr.strip()))
    nb = len(batches(spool))
    check(nb >= 4 and len(firsts) == nb and max(firsts.values()) == 1,
          "1: each of the %d batches posted once (posts per batch %s)" % (nb, firsts.most_common(3)))
    # acks flow again; hunt runs again on the same input: nothing new spooled, each event once
    control(port, "/_plan", {"plan": [], "ack": "normal"})
    p, ids2, _ = hunt(tmp, "na2", big, port, spool, ["--hec-max-wait", "20"])
    got = control(port, "/_events")
    check(p.returncode == 0, "1: restart once acks flow: rc %d %s" % (p.returncode, p.stderr))
    check(sorted(got["events"]) == sorted(set(ids)) and sorted(ids) == sorted(ids2),
          "1: every event arrived once (%d received, %d made)" % (len(got["events"]), len(ids)))
    check(len(got["posts"]) == nb, "1: the restart posted nothing again (%d posts for %d batches)"
          % (len(got["posts"]), nb))
    check(batches(spool) == [], "1: spool drained")
    stop(srv)

    # run: eight firings, each waits at most --hec-max-wait; each batch posted once
    srv, port = start(ack="never")
    spool = os.path.join(tmp, "noack-run")
    base = os.path.join(tmp, "base.xml")
    with open(base, "w") as f:
        subprocess.run([sys.executable, GEN, "--events", "20000", "--eps", "1", "--every", "50"],
                       stdout=f, check=True)
    t0 = time.monotonic()
    p = escudo([ESCUDO, "run", "--enable", SEED, "--clock-start", "2024-03-06T00:00:00Z",
                "--clock-speed", "max", "--once-until", "2024-03-06T08:00:00Z", "--state",
                os.path.join(tmp, "state-na"), "--hec", "http://127.0.0.1:%d" % port,
                "--hec-spool", spool, "--hec-max-wait", "2", "--db", os.path.join(tmp, "na.db"),
                "--quiet", base])
    took = time.monotonic() - t0
    posts = control(port, "/_events")["posts"]
    firsts = collections.Counter(x[0] for x in posts)
    check(took < 8 * 2 + 10, "1: run over 8 firings took %.1f s (--hec-max-wait 2)" % took)
    check(len(firsts) == len(batches(spool)) and firsts and max(firsts.values()) == 1,
          "1: run posted each batch once (%s)" % firsts.most_common(2))
    stop(srv)


def rejected(tmp):
    srv, port = start(plan="400")
    spool = os.path.join(tmp, "rej")
    p, ids1, _ = hunt(tmp, "rj1", os.path.join(CRAFTED, "sysmon.xml"), port, spool)
    check(p.returncode == 3 and "refused" in p.stderr and ".rejected" in p.stderr,
          "2: a 400 is reported: rc %d %s" % (p.returncode, p.stderr.strip()))
    first = batches(spool, ".rejected")
    check(len(first) == 1 and batches(spool) == [], "2: the batch set aside, not retried: %s"
          % os.listdir(spool))
    keep = open(os.path.join(spool, first[0]), "rb").read() if first else b""
    control(port, "/_plan", ["400"])
    p, ids2, _ = hunt(tmp, "rj2", os.path.join(CRAFTED, "worked_example.xml"), port, spool)
    both = batches(spool, ".rejected")
    check(len(both) == 2, "2: the second refused batch has its own file: %s" % both)
    check(first and open(os.path.join(spool, first[0]), "rb").read() == keep,
          "2: the first .rejected file is unchanged")
    held = set()
    for f in both:
        held |= {json.loads(l)["event"]["event_id"] for l in open(os.path.join(spool, f))}
    check(held == set(ids1) | set(ids2), "2: the refused events are all kept")
    check(control(port, "/_events")["events"] == [], "2: nothing indexed")
    stop(srv)


def down(tmp):
    srv, port = start()
    stop(srv)  # a port where nothing listens
    spool = os.path.join(tmp, "down")
    db = os.path.join(tmp, "down.db")
    inp = os.path.join(CRAFTED, "sysmon.xml")
    p, ids, _ = hunt(tmp, "dn1", inp, port, spool, ["--hec-max-wait", "1", "--db", db])
    check(p.returncode == 3 and "kept in" in p.stderr, "3: HEC down: exit 3, spool named")
    stored = subprocess.run([ESCUDO, "notables", "--db", db, "--format", "json"],
                            capture_output=True, text=True).stdout.splitlines()
    stored += subprocess.run([ESCUDO, "risk", "--db", db, "--format", "json"],
                             capture_output=True, text=True).stdout.splitlines()
    check(ids and sorted(json.loads(l)["event_id"] for l in stored) == sorted(ids),
          "3: the store holds every event although HEC was down")
    spooled = batches(spool)
    p, ids2, _ = hunt(tmp, "dn2", inp, port, spool, ["--hec-max-wait", "1", "--db", db])
    check(batches(spool) == spooled and sorted(ids2) == sorted(ids),
          "3: hunt again while HEC is down spools nothing new (%d -> %d batches)"
          % (len(spooled), len(batches(spool))))
    srv, _ = start(port=port)
    p, _, _ = hunt(tmp, "dn3", os.path.join(CRAFTED, "worked_example.xml"), port, spool)
    got = control(port, "/_events")["events"]
    check(p.returncode == 0 and set(ids) <= set(got) and
          collections.Counter(got).most_common(1)[0][1] == 1,
          "3: once HEC is back every event arrives exactly once (rc %d)" % p.returncode)
    stop(srv)


def run_hec_ca(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    srv, port = start(tls=[cert, key])
    base = os.path.join(tmp, "small.xml")
    with open(base, "w") as f:
        subprocess.run([sys.executable, GEN, "--events", "3600", "--eps", "1", "--every", "100"],
                       stdout=f, check=True)
    n = os.path.join(tmp, "ca.n.jsonl")
    p = escudo([ESCUDO, "run", "--enable", SEED, "--clock-start", "2024-03-06T00:00:00Z",
                "--clock-speed", "max", "--once-until", "2024-03-06T02:00:00Z", "--state",
                os.path.join(tmp, "state-ca"), "--notables", n, "--hec",
                "https://127.0.0.1:%d" % port, "--hec-ca", cert, "--hec-spool",
                os.path.join(tmp, "ca-spool"), "--quiet", base])
    got = control(port, "/_events", tls=True)["events"]
    check(p.returncode == 0 and "unknown option" not in p.stderr,
          "4: run --hec-ca: rc %d %s" % (p.returncode, p.stderr.strip()))
    check(ids_of(n) and set(ids_of(n)) <= set(got), "4: the run's notables reached HEC over TLS")
    stop(srv)


def flaky(tmp):
    srv, port = start(plan="403")
    spool = os.path.join(tmp, "auth")
    p, ids, _ = hunt(tmp, "au", os.path.join(CRAFTED, "sysmon.xml"), port, spool)
    check(p.returncode == 3 and "token" in p.stderr and TOKEN not in p.stderr,
          "5: 403 says the token was refused: %s" % p.stderr.strip())
    check(len(batches(spool)) == 1 and not batches(spool, ".rejected"), "5: 403 keeps the batch")
    control(port, "/_plan", ["503", "drop_before", "slow", "drop_after", "503"])
    p, ids2, _ = hunt(tmp, "fl", os.path.join(CRAFTED, "security.xml"), port, spool)
    got = control(port, "/_events")
    check(p.returncode == 0, "5: a flaky HEC gets everything: rc %d %s" % (p.returncode, p.stderr))
    check(set(got["events"]) == set(ids) | set(ids2), "5: every event arrived")
    dups = {e for e, c in collections.Counter(got["events"]).items() if c > 1}
    check(dups <= set(got["lost"]), "5: duplicates only from the lost response")
    check(batches(spool) == [], "5: spool drained")
    stop(srv)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        big = os.path.join(tmp, "big.xml")
        with open(big, "w") as f:  # about 1,600 events: 16 batches
            subprocess.run([sys.executable, GEN, "--events", "2000", "--eps", "1", "--every", "4"],
                           stdout=f, check=True)
        no_ack(tmp, big)
        rejected(tmp)
        down(tmp)
        run_hec_ca(tmp)
        flaky(tmp)
    if failures:
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
