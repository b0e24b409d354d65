#!/usr/bin/env python3
# ctest-label: slow (runs in the plain build only; the sanitizer run skips it for CI time)
"""The corpus generator (tools/gen/escudo-gen) is deterministic, its injected matches are
what the seed detection finds, and its three shapes carry the same events:

  - the same seed and options write the same bytes;
  - on the XmlWinEventLog output, `escudo hunt --format json` equals the independent
    reference (tests/ref/escudo_ref.py), in both profiles, and has rows;
  - the NXLog and winlogbeat JSON outputs of the same seed give the same rows as the XML.

Environment: ESCUDO (the CLI), ESC_SOURCE_DIR, ESC_SHARED_DATA."""

import difflib
import hashlib
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import escudo_ref  # noqa: E402

SOURCE = os.environ.get("ESC_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
GEN = os.path.join(SOURCE, "tools", "gen", "escudo-gen")
SEED_ID = "743a322c-9a68-4a0f-9c17-85d9cce2a27c"
ARGS = ["--events", "10000", "--match-rate", "0.01", "--seed", "11", "--hosts", "20",
        "--users", "15", "-q"]

escudo = os.environ.get("ESCUDO")
if not escudo or not os.access(escudo, os.X_OK):
    print("ESCUDO is not set to an executable (got %r)" % escudo)
    sys.exit(1)
env = dict(os.environ)
if os.environ.get("ESC_SHARED_DATA"):
    ARGS += ["--data", os.environ["ESC_SHARED_DATA"]]

failures = 0


def report(ok, name, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        failures += 1
        if detail:
            print(detail)


def diff(a, b, na, nb):
    return "\n".join("     " + x[:300] for x in list(difflib.unified_diff(
        a.splitlines(), b.splitlines(), na, nb, lineterm="", n=0))[:30])


def hunt(path, profile):
    r = subprocess.run([escudo, "hunt", "--format", "json", "--quiet", "--profile", profile,
                        "--detection", SEED_ID, path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, cwd=SOURCE)
    if r.returncode != 0:
        print("     escudo exit %d on %s: %s" % (r.returncode, path,
                                                  r.stderr.decode(errors="replace")[:400]))
    return r.stdout.decode("utf-8", "replace")


with tempfile.TemporaryDirectory(prefix="escudo-gen-test-") as tmp:
    ARGS += ["--render-cache", os.path.join(tmp, "renders")]
    paths = {}
    for fmt, ext in (("xml", "xml"), ("nxlog", "json"), ("winlogbeat", "json")):
        paths[fmt] = os.path.join(tmp, "gen-%s.%s" % (fmt, ext))
        subprocess.run([sys.executable, GEN, "--format", fmt, "-o", paths[fmt]] + ARGS,
                       check=True, env=env)
    again = os.path.join(tmp, "again.xml")
    subprocess.run([sys.executable, GEN, "-o", again] + ARGS, check=True, env=env)

    def sha(p):
        with open(p, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    report(sha(again) == sha(paths["xml"]), "same seed, same bytes")

    for profile in ("splunk", "native"):
        ref = escudo_ref.format_rows(escudo_ref.run([paths["xml"]], profile))
        got = hunt(paths["xml"], profile)
        report(ref == got and ref.count("\n") > 50,
               "xml %s: escudo = reference (%d rows)" % (profile, ref.count("\n")),
               diff(ref, got, "reference", "escudo"))
        for fmt in ("nxlog", "winlogbeat"):
            other = hunt(paths[fmt], profile)
            report(other == got, "%s %s: same rows as xml" % (fmt, profile),
                   diff(got, other, "xml", fmt))

print("t_gen_formats: %d failure(s)" % failures)
sys.exit(1 if failures else 0)
