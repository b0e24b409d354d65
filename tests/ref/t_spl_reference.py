#!/usr/bin/env python3
# ctest-label: slow (runs in the plain build only; the sanitizer run skips it for CI time)
"""The engine agrees with the independent SPL reference (spl_ref.py) on ESCU detections.

Detections: tests/ref/spl_raw.list (raw-event searches over powershell, sysmon,
wineventlog_security, wineventlog_system and other sources) and tests/ref/spl_tstats.list
(tstats over Endpoint.Registry, Endpoint.Filesystem, Network_Traffic and joins of these with
Endpoint.Processes), from $ESC_SHARED_DATA/escu-full.

Inputs, each compared on its own:
  real     every event of $ESC_SHARED_DATA/evtx (EVTX; the reference reads it through
           `evtxexport -f xml`) and $ESC_SHARED_DATA/json/otrf (JSON lines);
  crafted  tests/ref/crafted/*.xml, written by spl_craft.py: for each detection, events
           that make each condition of its search true and false in turn.

For each input, escudo runs once with every listed detection that `escudo lint` says it
supports (`hunt --format json`, rows told apart by search_name), and the reference runs
each detection. Rows are compared as JSON values in order (numbers by value). Each
detection is reported as
  match              same rows on both inputs;
  differ             different rows (the first differences are printed);
  escudo-unsupported lint does not support it (the reference's row count is shown);
  ref-unsupported    the reference raised "unsupported: X".
The test fails only on `differ` (a detection escudo claims to support that gives other
rows) or when a list holds fewer than its minimum (60 raw, 30 tstats). A detection listed in
spl_known_differences.txt (id, then the reason) is reported as `known-differ` instead; an entry
whose detection now matches fails the test, so the list cannot go stale.

Environment: ESCUDO, ESC_SHARED_DATA, ESC_SOURCE_DIR. Optional: SPL_REF_ONLY=id,id (a
subset), SPL_REF_INPUTS=real,crafted (default both), SPL_REF_VERBOSE=1 (print every row
difference)."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import spl_ref  # noqa: E402

MIN = {"spl_raw.list": 60, "spl_tstats.list": 30}
SHOWN = 8


def fail(msg):
    print("t_spl_reference: " + msg)
    sys.exit(1)


def read_list(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            did = line.split("#")[0].strip()
            if did:
                out.append(did)
    return out


def norm(v):
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return ("n", round(float(v), 6))
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v


def norm_row(obj):
    return [(k, norm(v)) for k, v in obj.items()]


def lint_supported(escudo, content):
    out = subprocess.run([escudo, "lint", "--content", content, "--format", "json"],
                         capture_output=True, text=True)
    sup = {}
    for line in out.stdout.splitlines():
        line = line.strip()
        if line.startswith("{") and '"id"' in line:
            o = json.loads(line)
            if "supported" in o:
                sup[o["id"]] = bool(o["supported"])
    return sup


def escudo_rows(escudo, content, dets, names, paths):
    """{detection id: [row, ...]} from one hunt over paths with every detection in dets."""
    res = {d: [] for d in dets}
    if not dets:
        return res, ""
    cmd = [escudo, "hunt", "--quiet", "--content", content, "--format", "json"]
    for d in dets:
        cmd += ["--detection", d]
    out = subprocess.run(cmd + paths, capture_output=True, text=True)
    if out.returncode != 0:
        return None, "escudo hunt exit %d: %s" % (out.returncode, out.stderr.strip()[-400:])
    by_name = {"ESCU - %s - Rule" % names[d]: d for d in dets}
    for line in out.stdout.splitlines():
        if not line.strip():
            continue
        o = json.loads(line)
        sn = o.pop("search_name", None)
        if len(dets) == 1:
            res[dets[0]].append(o)
        elif sn in by_name:
            res[by_name[sn]].append(o)
    return res, ""


def ref_rows(content, det, events):
    try:
        rows = spl_ref.run_detection(content, det, events)
    except (spl_ref.Unsupported, spl_ref.SplError) as e:
        return None, str(e)
    return [json.loads(x) for x in spl_ref.rows_json(rows)], ""


def show_diff(a, b):
    lines = []
    sa = [json.dumps(x, ensure_ascii=False) for x in a]
    sb = [json.dumps(x, ensure_ascii=False) for x in b]
    na, nb = [norm_row(x) for x in a], [norm_row(x) for x in b]
    for i in range(max(len(a), len(b))):
        if i < len(a) and i < len(b) and na[i] == nb[i]:
            continue
        if i < len(sb):
            lines.append("      escudo:    " + sb[i][:400])
        if i < len(sa):
            lines.append("      reference: " + sa[i][:400])
        if len(lines) >= 2 * SHOWN and not os.environ.get("SPL_REF_VERBOSE"):
            lines.append("      ...")
            break
    return lines


def main():
    escudo = os.environ.get("ESCUDO")
    shared = os.environ.get("ESC_SHARED_DATA")
    if not escudo or not os.access(escudo, os.X_OK):
        fail("ESCUDO is not set to an executable (got %r)" % escudo)
    if not shared or not os.path.isdir(shared):
        fail("ESC_SHARED_DATA is not a directory (got %r)" % shared)
    content_dir = os.path.join(shared, "escu-full")
    lists = {}
    for name, least in MIN.items():
        lists[name] = read_list(os.path.join(HERE, name))
        if len(lists[name]) < least:
            fail("%s lists %d detections, fewer than %d" % (name, len(lists[name]), least))
    ids = lists["spl_raw.list"] + lists["spl_tstats.list"]
    if os.environ.get("SPL_REF_ONLY"):
        only = set(os.environ["SPL_REF_ONLY"].split(","))
        ids = [i for i in ids if i in only]
    content = spl_ref.Content([content_dir])
    dets = {i: content.find(i) for i in ids}
    names = {i: dets[i]["name"] for i in ids}
    sup = lint_supported(escudo, content_dir)
    supported = [i for i in ids if sup.get(i)]

    crafted_dir = os.path.join(HERE, "crafted")
    inputs = {
        "real": [os.path.join(shared, "evtx"), os.path.join(shared, "json", "otrf")],
        "crafted": [crafted_dir],
    }
    wanted = os.environ.get("SPL_REF_INPUTS", "real,crafted").split(",")
    verdict = {i: "match" for i in ids}
    detail = {i: [] for i in ids}
    counts = {i: {} for i in ids}
    for inp in wanted:
        paths = inputs[inp]
        events = list(spl_ref.events_from(paths))
        esc, err = escudo_rows(escudo, content_dir, supported, names, paths)
        if esc is None:
            fail("%s input: %s" % (inp, err))
        for i in ids:
            ref, why = ref_rows(content, dets[i], events)
            if ref is None:
                verdict[i] = "ref-unsupported"
                detail[i] = ["      " + why]
                continue
            counts[i][inp] = len(ref)
            if not sup.get(i):
                if verdict[i] == "match":
                    verdict[i] = "escudo-unsupported"
                continue
            if [norm_row(x) for x in ref] != [norm_row(x) for x in esc[i]]:
                verdict[i] = "differ"
                detail[i].append("    %s input: escudo %d rows, reference %d rows"
                                 % (inp, len(esc[i]), len(ref)))
                detail[i] += show_diff(ref, esc[i])
    known = {}
    kpath = os.path.join(HERE, "spl_known_differences.txt")
    if os.path.exists(kpath):
        with open(kpath, encoding="utf-8") as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    kid, _, why = line.partition(" ")
                    known[kid] = why.strip()
    stale = []
    for i in ids:
        if i in known and verdict[i] == "differ":
            verdict[i] = "known-differ"
            detail[i].insert(0, "    known: " + known[i])
        elif i in known and verdict[i] == "match":
            stale.append(i)
    tally = {}
    for i in ids:
        tally[verdict[i]] = tally.get(verdict[i], 0) + 1
        rows = " ".join("%s=%d" % kv for kv in sorted(counts[i].items()))
        print("%-18s %s  %s  [reference rows: %s]" % (verdict[i], i, names[i], rows))
        if verdict[i] in ("differ", "ref-unsupported", "known-differ"):
            for line in detail[i]:
                print(line)
    print("t_spl_reference: %d detections (%d raw, %d tstats): %s" % (
        len(ids), len([i for i in ids if i in lists["spl_raw.list"]]),
        len([i for i in ids if i in lists["spl_tstats.list"]]),
        ", ".join("%s %d" % kv for kv in sorted(tally.items()))))
    if stale:
        fail("spl_known_differences.txt lists detections that now match: " + ", ".join(stale))
    if tally.get("differ"):
        fail("%d detections escudo supports give other rows than the reference"
             % tally["differ"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
