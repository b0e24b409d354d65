#!/usr/bin/env python3
"""`run --kafka` caps (docs/limits.md): a --kafka-config-file over 1 MiB is refused (exit 2).

Not tested: the 16 MiB message cap (ESC_RUN_KAFKA_MAX_MESSAGE). Producing a 17 MiB message into
librdkafka 2.0.2's mock cluster (producer message.max.bytes raised) and consuming it stalls the
consumer before any message of the partition is delivered, so the test cannot reach the cap;
a real broker with message.max.bytes raised is needed for it."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import runlib  # noqa: E402

fails = []
with tempfile.TemporaryDirectory() as d:
    big = os.path.join(d, "big.conf")
    with open(big, "w") as f:
        f.write("# padding\n" * 120000)
    p = subprocess.run([runlib.ESCUDO, "run", "--enable", runlib.SEED, "--kafka", "127.0.0.1:1", "--topic", "t",
                        "--kafka-config-file", big], capture_output=True, text=True)
    if p.returncode != 2 or "larger than 1 MiB" not in p.stderr:
        fails.append(f"1.1 MiB settings file: exit {p.returncode}: {p.stderr}")
    ok = os.path.join(d, "ok.conf")
    with open(ok, "w") as f:
        f.write("# comment\nno equals sign\n")
    p = subprocess.run([runlib.ESCUDO, "run", "--enable", runlib.SEED, "--kafka", "127.0.0.1:1", "--topic", "t",
                        "--kafka-config-file", ok], capture_output=True, text=True)
    if p.returncode != 2 or "ok.conf:2: not KEY=VALUE" not in p.stderr:
        fails.append(f"a line without =: exit {p.returncode}: {p.stderr}")
for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
