#!/usr/bin/env python3
# ctest-label: slow (runs in the plain build only; the sanitizer run skips it for CI time)
"""The engine agrees with the independent reference on the XML renderings of every EVTX
sample.

For every .evtx file in $ESC_SHARED_DATA/evtx and $ESC_SHARED_DATA/sigma-regression:
render it with `evtxexport -f xml` (banner line, pretty-printing, raw control characters
and all) into a temporary directory, then for profiles splunk and native compare
  - `$ESCUDO hunt --format json --profile P --detection <seed id> FILE` with
    escudo_ref.py on the same XML (the seed detection), and
  - the same with the test-only detection of tests/ref/content (added with a second
    `--content`, selected by id) compared with escudo_ref.py --all: every process record
    becomes part of a row, so the whole CIM mapping of every Sysmon 1 and Security 4688
    event is compared, not only net.exe.
The seed detection finds no share command in these samples, so the second comparison is the
one with teeth. Each comparison is one run over all the renderings (rows may merge across
files, the same way on both sides); only when it differs does the test rerun file by file to
show where. Outputs are compared byte for byte; a difference fails with a diff.

Environment: ESCUDO (the CLI), ESC_SHARED_DATA, ESC_SOURCE_DIR. Optional: REF_JOBS (default 2),
REF_LIMIT (only the first N files, for quick runs)."""

import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import escudo_ref  # noqa: E402

SEED_ID = "743a322c-9a68-4a0f-9c17-85d9cce2a27c"
ALL_ID = "0d1f7c1e-5b3a-4c2e-9f61-3a7e2b8c4d10"  # tests/ref/content/.../reference_check_*.yml
REF_CONTENT = os.path.join(HERE, "content")
PROFILES = ("splunk", "native")
MAX_REPORTED = 15


def fail(msg):
    print("t_evtx_reference: " + msg)
    sys.exit(1)


def main():
    escudo = os.environ.get("ESCUDO")
    shared = os.environ.get("ESC_SHARED_DATA")
    source = os.environ.get("ESC_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
    if not escudo or not os.access(escudo, os.X_OK):
        fail("ESCUDO is not set to an executable (got %r)" % escudo)
    if not shared or not os.path.isdir(shared):
        fail("ESC_SHARED_DATA is not a directory (got %r)" % shared)
    evtxexport = shutil.which("evtxexport")
    if not evtxexport:
        fail("evtxexport not found (Debian package libevtx-utils; tools/setup.sh installs it)")
    jobs = int(os.environ.get("REF_JOBS", "2"))

    files = []
    for sub in ("evtx", "sigma-regression"):
        for root, dirs, names in os.walk(os.path.join(shared, sub)):
            dirs.sort()
            files.extend(os.path.join(root, n) for n in sorted(names) if n.endswith(".evtx"))
    if os.environ.get("REF_LIMIT"):
        files = files[:int(os.environ["REF_LIMIT"])]
    if not files:
        fail("no .evtx files under %s" % shared)

    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="escudo-ref-")
    try:
        return compare_all(escudo, evtxexport, source, files, tmp, jobs, t0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def render(evtxexport, src, dst):
    with open(dst, "wb") as out:
        r = subprocess.run([evtxexport, "-f", "xml", src], stdout=out,
                           stderr=subprocess.PIPE)
    if r.returncode != 0:
        return "evtxexport failed (%d) on %s: %s" % (r.returncode, src,
                                                     r.stderr.decode(errors="replace")[:300])
    return None


def hunt(escudo, source, detection, profile, *paths):
    cmd = [escudo, "hunt", "--format", "json", "--profile", profile, "--detection", detection,
           *paths]
    if detection == ALL_ID:
        cmd[2:2] = ["--content", os.path.join(source, "content"), "--content", REF_CONTENT]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=source)
    return cmd, r


def compare_all(escudo, evtxexport, source, files, tmp, jobs, t0):
    renders = [os.path.join(tmp, "%04d.xml" % i) for i in range(len(files))]
    with ThreadPoolExecutor(jobs) as pool:
        errors = [e for e in pool.map(render, [evtxexport] * len(files), files, renders) if e]
    if errors:
        fail("\n".join(errors[:5]))
    t_render = time.time() - t0

    modes = (("seed", SEED_ID, False), ("all", ALL_ID, True))
    totals = {"events": 0, "process_events": 0, "malformed": 0}
    rows_compared = {}
    problems = []
    ncomparisons = 0

    # One run over all renders per profile and detection (rows may merge across files, the
    # same way in both); only when that differs, file by file to show where.
    for profile in PROFILES:
        for mname, detection, all_rows in modes:
            stats = {}
            want = escudo_ref.format_rows(escudo_ref.run(renders, profile, all_rows, stats))
            if profile == "splunk" and mname == "seed":
                totals = stats
            cmd, r = hunt(escudo, source, detection, profile, *renders)
            got = r.stdout.decode("utf-8", "surrogateescape")
            rows_compared[(profile, mname)] = want.count("\n")
            ncomparisons += 1
            if r.returncode == 0 and got == want:
                continue
            problems.append(("all %d files" % len(files), profile, mname, cmd, r, want, got))
            per_file = list(range(len(files)))

            def one(i, profile=profile, detection=detection, all_rows=all_rows):
                w = escudo_ref.format_rows(escudo_ref.run([renders[i]], profile, all_rows))
                c, rr = hunt(escudo, source, detection, profile, renders[i])
                return i, w, c, rr
            with ThreadPoolExecutor(jobs) as pool:
                for i, w, c, rr in pool.map(one, per_file):
                    g = rr.stdout.decode("utf-8", "surrogateescape")
                    ncomparisons += 1
                    if rr.returncode != 0 or g != w:
                        problems.append((files[i], profile, mname, c, rr, w, g))

    elapsed = time.time() - t0
    print("t_evtx_reference: %d EVTX files rendered in %.1fs; %d events, %d process records "
          "(reference), %d malformed" % (len(files), t_render, totals["events"],
                                         totals["process_events"], totals["malformed"]))
    for (profile, mname), n in sorted(rows_compared.items()):
        print("  profile %-6s detection %-4s rows compared: %d" % (profile, mname, n))
    print("  %d comparisons, %d differing, %.1fs" % (ncomparisons, len(problems), elapsed))
    for src, profile, mname, cmd, r, want, got in problems[:MAX_REPORTED]:
        print("\nDIFF %s (profile %s, detection %s)" % (src, profile, mname))
        shown = cmd if len(cmd) < 16 else cmd[:15] + ["... (%d more)" % (len(cmd) - 15)]
        print("  command: %s" % " ".join(shown))
        if r.returncode != 0:
            print("  exit status %d; stderr: %s" % (
                r.returncode, r.stderr.decode(errors="replace").strip()[:600]))
        if got != want:
            explain(want, got)
    if len(problems) > MAX_REPORTED:
        print("\n... and %d more" % (len(problems) - MAX_REPORTED))
    return 1 if problems else 0


def explain(want, got, limit=30):
    wl, gl = want.splitlines(), got.splitlines()
    try:
        same = [json.loads(x) for x in wl] == [json.loads(x) for x in gl]
    except ValueError:
        same = False
    if same:
        print("  (same JSON values, different text: escaping or spacing)")
    n = 0
    for line in difflib.unified_diff(wl, gl, "reference", "escudo", lineterm="", n=0):
        print("  " + line[:400])
        n += 1
        if n >= limit:
            print("  ...")
            break


if __name__ == "__main__":
    sys.exit(main())
