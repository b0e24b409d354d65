#!/usr/bin/env python3
"""Broken JSON lines through the CLI: each gives a warning naming the file and its line, the
good lines around them are still hunted, repaired values are counted, and --strict turns the
warnings into exit code 1 (SPEC sections 2 and 3)."""
import gzip
import json
import os
import subprocess
import sys
import tempfile

escudo = os.environ.get("ESCUDO", "build/escudo")
data = os.environ.get("ESC_SHARED_DATA", os.path.join(os.path.dirname(__file__), "../../../shared/data"))

with open(os.path.join(data, "crafted", "nxlog.json"), encoding="utf-8") as f:
    events = [json.loads(line) for line in f]
first = json.dumps(events[0])          # net.exe share, found by the seed detection
second = json.dumps(events[1])         # its net1.exe child

lines = [
    b'{"EventID":1,"SourceName":"Microsoft-Windows-Sysmon","Image":"trunc',  # 1 truncated
    first.encode(),                                                          # 2 good
    b"[" * 100000,                                                           # 3 deep nesting
    b'{"EventID":1,"N":1e99999,"Big":123456789012345678901234567890,'       # 4 numbers kept
    b'"SourceName":"S"}',
    b'{"EventID":1,"SourceName":"Microsoft-Windows-Sysmon","CommandLine":"' + b"x" * (20 << 20)
    + b' net.exe share"}',                                                   # 5 over 16 MiB
    json.dumps(dict(events[1], ParentUser="bad\u0000nul")).encode(),        # 6 good, \u0000
    b'{"EventID":1,"SourceName":"Microsoft-Windows-Sysmon","Image":"\xff\xfenet.exe share"',  # 7 no }
    second.encode(),                                                         # 8 good
]
# invalid UTF-8 inside a value of a good event: repaired, kept
raw_bad = json.dumps(events[2], ensure_ascii=False).encode().replace(b"svc_backup", b"svc_\xffbackup")
lines.append(raw_bad)                                                        # 9 good, repaired

failed = 0


def check(cond, what):
    global failed
    if not cond:
        print("FAIL:", what)
        failed += 1


with tempfile.TemporaryDirectory() as tmp:
    for name, opener in (("bad.json", open), ("bad.json.gz", gzip.open)):
        path = os.path.join(tmp, name)
        with opener(path, "wb") as f:
            f.write(b"\r\n".join(lines) + b"\r\n")
        p = subprocess.run([escudo, "hunt", "--format", "json", "--summary-json",
                            os.path.join(tmp, "s.json"), path], capture_output=True)
        err = p.stderr.decode("utf-8", "replace")
        out = p.stdout.decode()
        check(p.returncode == 0, f"{name}: exit {p.returncode}: {err}")
        for n, what in ((1, "unterminated string"), (3, "expected '{'"),
                        (5, "record longer than 16777216 bytes"), (7, "unterminated record")):
            check(f"{path}:{n}: line {n}: {what}" in err, f"{name}: warning for line {n} ({what}):\n{err}")
        summary = json.load(open(os.path.join(tmp, "s.json")))
        check(summary["malformed"] == 4, f"{name}: malformed {summary['malformed']}")
        check(summary["repaired"] >= 1, f"{name}: repaired {summary['repaired']}")
        rows = [json.loads(x) for x in out.splitlines()]
        users = sorted(u for r in rows for u in r["user"])
        check(any(r["process_name"] == "net.exe" for r in rows), f"{name}: line 2 hunted: {out}")
        check(any(r["process_name"] == "net1.exe" for r in rows), f"{name}: line 8 hunted: {out}")
        check("svc_\ufffdbackup" in users, f"{name}: repaired user of line 9: {users}")
        strict = subprocess.run([escudo, "hunt", "--strict", "--format", "json", path],
                                capture_output=True)
        check(strict.returncode == 1, f"{name}: --strict exit {strict.returncode}")

print("t_json_malformed:", "FAILED" if failed else "ok")
sys.exit(1 if failed else 0)
