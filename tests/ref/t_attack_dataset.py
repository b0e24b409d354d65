#!/usr/bin/env python3
"""The T1070.005 replay dataset gives its pinned rows, from the engine and from the
reference, in both profiles (tests/data/attack/T1070.005/expected.*.jsonl, checked by hand).

Environment: ESCUDO (the CLI), ESC_SOURCE_DIR."""

import difflib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import escudo_ref  # noqa: E402

SOURCE = os.environ.get("ESC_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(SOURCE, "tests", "data", "attack", "T1070.005")
LOG = os.path.join(DATA, "windows-sysmon.log")
SEED_ID = "743a322c-9a68-4a0f-9c17-85d9cce2a27c"

escudo = os.environ.get("ESCUDO")
if not escudo or not os.access(escudo, os.X_OK):
    print("ESCUDO is not set to an executable (got %r)" % escudo)
    sys.exit(1)

failures = 0
for profile in ("splunk", "native"):
    with open(os.path.join(DATA, "expected.%s.jsonl" % profile), encoding="utf-8") as f:
        want = f.read()
    ref = escudo_ref.format_rows(escudo_ref.run([LOG], profile))
    cmd = [escudo, "hunt", "--format", "json", "--profile", profile, "--detection", SEED_ID, LOG]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=SOURCE)
    got = r.stdout.decode("utf-8", "replace")
    for who, text in (("reference", ref), ("escudo", got)):
        if text == want:
            print("ok   %s %s (%d rows)" % (who, profile, want.count("\n")))
            continue
        failures += 1
        print("FAIL %s %s" % (who, profile))
        if who == "escudo":
            print("     command: %s (exit %d)" % (" ".join(cmd), r.returncode))
            print("     stderr: %s" % r.stderr.decode(errors="replace").strip()[:600])
        for line in difflib.unified_diff(want.splitlines(), text.splitlines(), "expected", who,
                                         lineterm="", n=0):
            print("     " + line[:400])
sys.exit(1 if failures else 0)
