#!/usr/bin/env python3
"""`escudo hunt --hec` end to end against tests/act/hec_server.py on 127.0.0.1.

1. The server answers 503, drops a connection before reading a batch and after reading one:
   every notable and risk event the hunt made (as --notables/--risk write them) arrives,
   duplicates only from the lost response.
2. Splunk is down: hunt exits 3 and says the batches are kept in the spool; escudo runs again
   (a restart) on other data once Splunk is back: the events of both runs arrive, none twice.
3. The token comes from a file or the environment, never argv: no token, exit 2.
4. TLS: a server whose certificate is not trusted is refused (events stay spooled); trusted
   with --hec-ca, or with verification off (--hec-insecure), it gets everything.
"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

ESCUDO = os.environ.get("ESCUDO", "build/escudo")
SRC = os.environ.get("ESC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("ESC_SHARED_DATA", os.path.join(SRC, "..", "shared", "data"))
CRAFTED = os.path.join(DATA, "crafted")
SERVER = os.path.join(SRC, "tests", "act", "hec_server.py")
TOKEN = "cli-token"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def start(port=0, plan="", tls=None):
    p = subprocess.Popen([sys.executable, SERVER, "--port", str(port), "--token", TOKEN,
                          "--plan", plan, "--stall", "2"] + (["--tls"] + tls if tls else []),
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    return p, int(line.split()[1])


def stop(p):
    p.terminate()
    p.wait()


def received(port, tls=False):
    if tls:
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with urllib.request.urlopen("https://127.0.0.1:%d/_events" % port, context=ctx) as r:
            return json.load(r)
    with urllib.request.urlopen("http://127.0.0.1:%d/_events" % port) as r:
        return json.load(r)


def hunt(path, port, tmp, tag, env_token=True, extra=(), scheme="http", spool="spool"):
    n = os.path.join(tmp, tag + ".n.jsonl")
    r = os.path.join(tmp, tag + ".r.jsonl")
    env = dict(os.environ)
    env.pop("ESCUDO_HEC_TOKEN", None)
    if env_token:
        env["ESCUDO_HEC_TOKEN"] = TOKEN
    cmd = [ESCUDO, "hunt", "--quiet", "--format", "json", "--now", "1700000000",
           "--notables", n, "--risk", r, "--hec", "%s://127.0.0.1:%d" % (scheme, port),
           "--hec-spool", os.path.join(tmp, spool)] + list(extra) + [path]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    ids = []
    for f in (n, r):
        if os.path.exists(f):
            ids += [json.loads(l)["event_id"] for l in open(f, encoding="utf-8")]
    return p, ids


def main():
    with tempfile.TemporaryDirectory() as tmp:
        # 1. a misbehaving server
        srv, port = start(plan="503,drop_before,drop_after,503")
        p, ids = hunt(os.path.join(CRAFTED, "sysmon.xml"), port, tmp, "a")
        check(p.returncode == 0, "hunt with a flaky HEC: rc %d %s" % (p.returncode, p.stderr))
        got = received(port)
        check(set(got["events"]) == set(ids) and len(ids) == len(set(ids)),
              "every event arrived (%d of %d)" % (len(set(got["events"])), len(ids)))
        dups = {e for e in got["events"] if got["events"].count(e) > 1}
        check(dups <= set(got["lost"]), "duplicates only from lost responses")
        check(len(got["channels"]) == 1, "one channel")
        stop(srv)

        # 2. Splunk down, then back after a restart of escudo
        spool = os.path.join(tmp, "spool")
        p, ids1 = hunt(os.path.join(CRAFTED, "security.xml"), port, tmp, "b",
                       extra=["--hec-max-wait", "1"])
        check(p.returncode == 3, "hunt with HEC down exits 3 (got %d)" % p.returncode)
        check("kept in" in p.stderr and TOKEN not in p.stderr, "message names the spool: %s"
              % p.stderr.strip())
        check(any(f.endswith(".json") for f in os.listdir(spool)), "batches spooled")
        srv, _ = start(port=port)
        p, ids2 = hunt(os.path.join(CRAFTED, "worked_example.xml"), port, tmp, "c")
        check(p.returncode == 0, "hunt after Splunk is back: rc %d %s" % (p.returncode, p.stderr))
        got = received(port)
        check(sorted(got["events"]) == sorted(ids1 + ids2),
              "both runs arrived exactly once (%d received, %d made)"
              % (len(got["events"]), len(ids1 + ids2)))
        check(not any(f.endswith(".json") for f in os.listdir(spool)), "spool drained")

        # 3. no token: usage error, nothing sent
        p, _ = hunt(os.path.join(CRAFTED, "worked_example.xml"), port, tmp, "d", env_token=False)
        check(p.returncode == 2 and "token" in p.stderr, "no token is a usage error")
        tf = os.path.join(tmp, "token")
        with open(tf, "w") as f:
            f.write(TOKEN + "\n")
        p, ids3 = hunt(os.path.join(CRAFTED, "worked_example.xml"), port, tmp, "e",
                       env_token=False, extra=["--hec-token-file", tf])
        check(p.returncode == 0, "token from a file: rc %d %s" % (p.returncode, p.stderr))
        stop(srv)

        # 4. TLS verification
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        srv, tport = start(tls=[cert, key])
        wx = os.path.join(CRAFTED, "worked_example.xml")
        p, idsf = hunt(wx, tport, tmp, "f", scheme="https", spool="tls",
                       extra=["--hec-max-wait", "1"])
        check(p.returncode == 3, "untrusted certificate refused (rc %d)" % p.returncode)
        check(not received(tport, tls=True)["events"], "nothing sent to an untrusted server")
        p, idsg = hunt(wx, tport, tmp, "g", scheme="https", spool="tls",
                       extra=["--hec-ca", cert])
        check(p.returncode == 0, "trusted with --hec-ca: rc %d %s" % (p.returncode, p.stderr))
        got = received(tport, tls=True)["events"]
        # the same file twice: the second hunt's events are the spooled ones (same event_ids),
        # which are not spooled again, so each arrives once
        check(sorted(idsf) == sorted(idsg) and sorted(got) == sorted(idsg),
              "spooled events arrived over TLS, once (%d received, %d made twice)"
              % (len(got), len(idsg)))
        p, idsh = hunt(wx, tport, tmp, "h", scheme="https", spool="tls2",
                       extra=["--hec-insecure"])
        check(p.returncode == 0, "--hec-insecure: rc %d %s" % (p.returncode, p.stderr))
        stop(srv)

    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
