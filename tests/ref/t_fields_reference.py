#!/usr/bin/env python3
# ctest-label: slow (runs in the plain build only; the sanitizer run skips it for CI time)
"""`escudo dump --fields` agrees with the independent reference fields_ref.py on every event of
$ESC_SHARED_DATA/evtx (*.evtx), $ESC_SHARED_DATA/evtx-rs (*.evtx, the Rust evtx crate's samples)
and $ESC_SHARED_DATA/json/otrf (*.json): the same number of events, and per event the same
fields with the same values (compared as JSON objects, so field order does not matter; the
whole-element fields as the trees of their XML, fields_ref.whole_tree).
Differences listed in KNOWN and KNOWN_IN (each with its reason in docs/fields.md) are
tolerated; any other fails with the first few shown. Where evtxexport, under the reference,
reads fewer records of a damaged file than escudo (FEWER), the events are paired by
EventRecordID and those it did not read are not compared.

Environment: ESCUDO, ESC_SHARED_DATA. Optional: REF_LIMIT (only the first N files of each
set), REF_NATIVE=1 (compare the native profile too)."""

import glob
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fields_ref  # noqa: E402
from escudo_ref import Protector  # noqa: E402

# (field, reason): differences docs/fields.md explains ("Reference differences").
KNOWN = {
    # evtxexport pads every 0x-hex string; Windows pads only HexInt types: a string value that
    # is itself zero-padded hex (Sysmon 8 StartAddress, Defender "Error Code") is unpadded by
    # the reference's undoing of evtxexport's padding.
    "StartAddress", "Error Code", "ErrorCode",
}
# (file, field): differences of one file's values, docs/fields.md.
KNOWN_IN = {
    # SizeT (32-bit Windows' win:Pointer): evtxexport prints it in decimal, Windows as unpadded
    # hex (docs/evtx.md)
    ("Security_with_size_t.evtx", "ProcessId"), ("Security_with_size_t.evtx", "process_id"),
    ("Security_with_size_t.evtx", "HandleId"),
    # SYSTEMTIME: evtxexport prints milliseconds (.000Z), escudo seven digits as for FILETIME
    ("2-system-Microsoft-Windows-LiveId%4Operational.evtx", "Created"),
    ("2-system-Microsoft-Windows-LiveId%4Operational.evtx", "Expires"),
    # a value that is one line feed: evtxexport writes the element empty
    ("Application_no_crc32.evtx", "ExtraInfo"),
    # two records carry a RenderingInfo element, which evtxexport does not write
    ("E_Windows_system32_winevt_logs_Microsoft-Windows-Shell-Core%4Operational.evtx",
     "RenderingInfo_Xml"),
}
# OTRF files in a JSON shape the reference does not read (Azure Sentinel rows): event counts
# differ; listed in docs/fields.md.
SKIP_COUNT = ("securityauditing_log4shell_", "sysmon_log4shell_")
# EVTX samples of the Rust evtx crate whose damaged chunks or templates evtxexport gives up on
# (it reads fewer records than escudo, which reads what evtx's test_full_samples.rs counts)
FEWER = ("2-system-Microsoft-Windows-LiveId%4Operational.evtx",
         "E_ShadowCopy6_windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx",
         "E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx",
         "MSExchange_Management_wec.evtx", "Microsoft-Windows-HelloForBusiness%4Operational.evtx",
         "Microsoft-Windows-LanguagePackSetup%4Operational.evtx",
         "sample_with_a_bad_chunk_magic.evtx", "issue_201.evtx")
MAX_REPORTED = 12


def as_tree(text):
    """escudo's whole-element field (inner XML) as the reference's tree (fields_ref.WHOLE)."""
    prot = Protector(text)
    try:
        el = ET.fromstring("<r>" + prot.protect(text) + "</r>")
    except ET.ParseError as e:
        return "not XML (%s): %s" % (e, text)
    return json.dumps(fields_ref.whole_tree(el, lambda v, n=None: prot.restore(v)),
                      ensure_ascii=False)


def escudo_lines(escudo, path, native):
    cmd = [escudo, "dump", "--fields"] + (["--native"] if native else []) + [path]
    out = subprocess.run(cmd, capture_output=True, check=False)
    lines = [json.loads(l) for l in out.stdout.decode("utf-8").splitlines() if l.strip()]
    for ev in lines:
        for k in fields_ref.WHOLE.values():
            if isinstance(ev.get(k), str):
                ev[k] = as_tree(ev[k])
    return lines


def ref_lines(path, native):
    return [json.loads(json.dumps(fields_ref.extract(ev, native), ensure_ascii=False))
            for ev in fields_ref.events_of(path)]


def by_record(events):
    """Events keyed by (EventRecordID, how many came before with that id)."""
    seen, out = {}, {}
    for ev in events:
        rid = ev.get("EventRecordID")
        seen[rid] = seen.get(rid, 0) + 1
        out[(rid, seen[rid])] = ev
    return out


def pairs(a, b, name):
    """The events of both sides to compare, in order."""
    if name not in FEWER:
        return list(zip(a, b))
    ka, kb = by_record(a), by_record(b)
    return [(ka[k], kb[k]) for k in kb if k in ka]


def masked(tree, name):
    """A whole-element tree (JSON) with the values of tolerated fields (KNOWN, KNOWN_IN: a
    Data leaf by its Name, another leaf by its element name) blanked."""
    def walk(nodes):
        for n in nodes:
            if not isinstance(n, list) or len(n) != 4:
                continue
            key = dict((a, v) for a, v in n[1]).get("Name", n[0])
            if key in KNOWN or (name, key) in KNOWN_IN:
                n[2] = None
            walk(n[3])
    try:
        t = json.loads(tree)
    except (TypeError, ValueError):
        return tree
    walk(t if isinstance(t, list) else [])
    return t


def differs(x, y, k, name):
    if x.get(k) == y.get(k) or k in KNOWN or (name, k) in KNOWN_IN:
        return False
    if k in fields_ref.WHOLE.values():
        return masked(x.get(k), name) != masked(y.get(k), name)
    return True


def compare(escudo, path, native):
    a, b = escudo_lines(escudo, path, native), ref_lines(path, native)
    name, diffs = os.path.basename(path), []
    if len(a) != len(b) and not name.startswith(SKIP_COUNT) and \
            not (name in FEWER and len(a) > len(b)):
        diffs.append("%s: %d events from escudo, %d from the reference" % (path, len(a), len(b)))
    for i, (x, y) in enumerate(pairs(a, b, name)):
        for k in sorted(set(x) | set(y)):
            if differs(x, y, k, name):
                diffs.append("%s event %d field %s: escudo %r, reference %r"
                             % (os.path.basename(path), i + 1, k, x.get(k), y.get(k)))
    return len(a), diffs


def main():
    escudo, shared = os.environ.get("ESCUDO"), os.environ.get("ESC_SHARED_DATA")
    if not escudo or not shared:
        print("t_fields_reference: ESCUDO and ESC_SHARED_DATA must be set")
        return 1
    limit = int(os.environ.get("REF_LIMIT", "0")) or None
    files = sorted(glob.glob(os.path.join(shared, "evtx", "**", "*.evtx"), recursive=True))[:limit]
    files += sorted(glob.glob(os.path.join(shared, "evtx-rs", "*.evtx")))[:limit]
    files += sorted(glob.glob(os.path.join(shared, "json", "otrf", "*.json")))[:limit]
    profiles = [False, True] if os.environ.get("REF_NATIVE") else [False]
    t0, events, diffs = time.time(), 0, []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for native in profiles:
            for n, d in pool.map(lambda p: compare(escudo, p, native), files):
                events += n
                diffs += d
    print("t_fields_reference: %d files, %d events, %d differences, %.1fs"
          % (len(files), events, len(diffs), time.time() - t0))
    by_field = {}
    for d in diffs:
        f = d.split(" field ", 1)[1].split(":", 1)[0] if " field " in d else "(count)"
        by_field[f] = by_field.get(f, 0) + 1
    for f, n in sorted(by_field.items(), key=lambda x: -x[1])[:MAX_REPORTED]:
        print("  %6d  %s" % (n, f))
    for d in diffs[:MAX_REPORTED]:
        print("  " + d)
    return 1 if diffs or not events else 0


if __name__ == "__main__":
    sys.exit(main())
