#!/usr/bin/env python3
"""Conformance test over the Rust evtx crate's sample suite ($ESC_SHARED_DATA/evtx-rs).

1. Counts: for every file of MANIFEST.tsv, `escudo dump --format json` runs to its end (no crash,
   exit 0, at most TIMEOUT seconds) and yields the number of records in EXPECT. The rules of
   issue 20 are checked on top: where the crate reads the file with no error, escudo reads at
   least as many records; where libevtx and the crate agree, exactly as many (records past the
   end of a damaged chunk's record chain are --recover only: docs/evtx.md, "The evtx crate's
   samples").
2. `dump --recover` runs to its end on every file too, yields the number of records in
   EXPECT_RECOVER (the same as without it where no file has one), and no recovered record
   repeats the computer, channel, record id and time of an earlier event (issue 19, item 14:
   folded).
3. Snapshots: the crate's XML renderings of chosen records (snapshots/*.snap, the records named
   by test_record_samples.rs) carry the same System fields and the same EventData/UserData
   values (Data by Name, UserData leaves by name, in order; other EventData children such as
   <Binary> are not fields, docs/fields.md) as escudo's record, after one normalisation, a
   difference of form where escudo follows Windows' rendering (docs/evtx.md): the crate writes
   GUIDs without braces (Windows and escudo: {GUID}).
4. The same records' `dump --format xml` renderings are the crate's XML element for element:
   every System element and attribute (Provider Guid, Version, Level, Task, Opcode, Keywords,
   Correlation, Execution, Security/@UserID...), EventData and UserData as written, with the
   normalisation of 3, times compared at microseconds (the crate prints 6 digits, Windows
   and escudo 7), and an element whose only content is an empty optional substitution (the
   classic events' <Binary></Binary>), which the crate writes and Windows and escudo leave
   out; layout whitespace is the crate's pretty-printing.
5. The crate's JSON renderings of chosen records (JSON_SNAPSHOTS) hold the same EventData
   values as escudo's record, name by name (the crate's numbers and booleans as their text;
   GUIDs braced as in 3). Among them the SizeT values of Security_with_size_t.evtx (32-bit
   Windows' win:Pointer), unpadded hex as Windows renders them (docs/evtx.md).

Environment: ESCUDO, ESC_SHARED_DATA."""

import json
import os
import subprocess
import sys
import re
import xml.etree.ElementTree as ET

from evtx_xml import NS, event_data, local

TIMEOUT = 60

# escudo's record count per file (the table in docs/evtx.md).
EXPECT = {
    "2-system-Microsoft-Windows-LiveId%4Operational.evtx": 399,
    "2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx": 1910,
    "2-vss_0-Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx": 1774,
    "2-vss_7-System.evtx": 1160,
    "Application_no_crc32.evtx": 17,
    "E_ShadowCopy6_windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx": 459,
    "E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx": 340,
    "E_Windows_system32_winevt_logs_Microsoft-Windows-Shell-Core%4Operational.evtx": 1146,
    "MSExchange_Management_wec.evtx": 1,
    "Microsoft-Windows-HelloForBusiness%4Operational.evtx": 6,
    "Microsoft-Windows-LanguagePackSetup%4Operational.evtx": 17,
    "Security_short_selected.evtx": 7,
    "Security_with_size_t.evtx": 636,
    "issue_201.evtx": 1,
    "new-user-security.evtx": 4,
    "post-Security.evtx": 126,
    "sample-with-irregular-bool-values.evtx": 3028,
    "sample-with-zero-data-size-event.evtx": 335,
    "sample_with_a_bad_chunk_magic.evtx": 270,
    "security.evtx": 2261,
    "security_bad_string_cache.evtx": 2261,
    "sysmon.evtx": 358,
    "system.evtx": 1881,
}

# escudo's record count with --recover, where it differs from EXPECT (docs/evtx.md): the
# records past the end of a damaged chunk's record chain and in slack space, as recovered
# (libevtx's `evtxexport -m recovered` exports the same record ids, RdpCoreTS has 16 more).
EXPECT_RECOVER = {
    "2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx": 1967,
    "2-vss_0-Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx": 2040,
    "2-vss_7-System.evtx": 1185,
    "sample-with-zero-data-size-event.evtx": 449,
    "sample_with_a_bad_chunk_magic.evtx": 351,
}

# (snapshot, file, record id or None for the first record)
SNAPSHOTS = [
    ("event_xml_sample", "security.evtx", None),
    ("event_xml_sample_with_event_data_with_attributes_and_text", "system.evtx", None),
    ("event_xml_sample_with_string_with_trailing_spaces", "security.evtx", 2260),
    ("event_xml_sample_with_user_data",
     "E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx", None),
    ("event_xml_sample_with_entity_ref",
     "E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx", 28),
    ("event_xml_sample_with_entity_ref_2",
     "E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx", 25),
]

# (JSON snapshot, file, record id or None for the first record): those whose EventData is flat
JSON_SNAPSHOTS = [
    ("event_json_sample", "security.evtx", None),
    ("event_json_with_size_t", "Security_with_size_t.evtx", 196),
    ("event_json_missing_string_cache_entry", "security_bad_string_cache.evtx", None),
]

GUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


def snapshot_fields(path):
    text = open(path, encoding="utf-8").read()
    xml = text.split("---", 2)[2]
    xml = xml[xml.index("<Event"):]
    ev = ET.fromstring(xml)
    sysel = ev.find(NS + "System")
    out = {
        "provider": sysel.find(NS + "Provider").get("Name"),
        "event_id": int(sysel.find(NS + "EventID").text),
        "record_id": int(sysel.find(NS + "EventRecordID").text),
        "channel": sysel.find(NS + "Channel").text or "",
        "computer": sysel.find(NS + "Computer").text or "",
        "time": sysel.find(NS + "TimeCreated").get("SystemTime"),
    }
    data = event_data(ev)
    # the crate writes an empty element as <X>\n</X>: its text is layout, not a value
    data = [[n, "" if not v.strip() and "\n" in v else v] for n, v in data]
    data = [[n, "{" + v + "}" if GUID.match(v) else v] for n, v in data]
    out["data"] = data
    return out


def json_snapshot_data(path):
    """The EventData of a JSON snapshot as name -> text."""
    text = open(path, encoding="utf-8").read().split("---", 2)[2]
    data = json.loads(text)["Event"]["EventData"] or {}
    out = {}
    for k, v in data.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif v is None:
            v = ""
        elif not isinstance(v, str):
            v = str(v)
        out[k] = "{" + v + "}" if GUID.match(v) else v
    return out


def check_json_snapshots(root, events):
    fails = []
    for snap, name, rid in JSON_SNAPSHOTS:
        sp = os.path.join(root, "snapshots", f"test_record_samples__{snap}.snap")
        got = next((e for e in events.get(name, []) if rid is None or e.get("record_id") == rid),
                   None)
        if not os.path.exists(sp) or got is None:
            fails.append(f"JSON snapshot {snap}: missing")
            continue
        mine = dict((n, v) for n, v in got.get("data", []))
        for k, v in json_snapshot_data(sp).items():
            if mine.get(k) != v:
                fails.append(f"JSON snapshot {snap}: {k}: escudo {mine.get(k)!r}, crate {v!r}")
    return fails


TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)Z$")


def norm_value(v):
    v = v or ""
    if not v.strip() and "\n" in v:
        return ""
    if GUID.match(v):
        return "{" + v + "}"
    m = TIME.match(v)
    if m:
        return f"{m.group(1)}.{(m.group(2) + '000000')[:6]}Z"
    return v


def canon(el):
    kids = [canon(k) for k in el]
    if kids and kids[-1][0] == "Binary" and not kids[-1][2] and not kids[-1][3]:
        kids.pop()
    attrs = tuple(sorted((local(k), norm_value(v)) for k, v in el.attrib.items()))
    return (local(el.tag), attrs, norm_value(el.text) if not kids else "", kids)


def first_diff(a, b, path=""):
    here = f"{path}/{a[0]}"
    if a[0] != b[0] or a[1] != b[1] or a[2] != b[2] or len(a[3]) != len(b[3]):
        return f"{here}: escudo {a[:3]} {len(a[3])} children, crate {b[:3]} {len(b[3])} children"
    for x, y in zip(a[3], b[3]):
        d = first_diff(x, y, here)
        if d:
            return d
    return None


def dump_xml(escudo, path):
    p = subprocess.run([escudo, "dump", "--format", "xml", path], capture_output=True,
                       timeout=TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError(f"exit {p.returncode}: {p.stderr[-500:]!r}")
    return [line for line in p.stdout.split(b"\n") if line]


def dump(escudo, path, *extra):
    p = subprocess.run([escudo, "dump", "--format", "json", *extra, path],
                       capture_output=True, timeout=TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError(f"exit {p.returncode}: {p.stderr[-500:]!r}")
    return [json.loads(line) for line in p.stdout.split(b"\n") if line]


def main():
    escudo = os.environ.get("ESCUDO", "build/escudo")
    root = os.path.join(os.environ.get("ESC_SHARED_DATA", "../shared/data"), "evtx-rs")
    manifest = os.path.join(root, "MANIFEST.tsv")
    if not os.path.exists(manifest):
        print(f"SKIP: {manifest} missing")
        return 77
    fails = []
    events = {}
    with open(manifest, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    for row in rows:
        name, crate_ok, crate_err, lib = row[0], row[3], row[4], row[6]
        path = os.path.join(root, name)
        try:
            evs = dump(escudo, path)
            rec = dump(escudo, path, "--recover")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            fails.append(f"{name}: {e}")
            continue
        events[name] = evs
        n = len(evs)
        if name not in EXPECT:
            fails.append(f"{name}: no expected count (escudo reads {n})")
        elif n != EXPECT[name]:
            fails.append(f"{name}: {n} records, expected {EXPECT[name]}")
        if crate_ok and crate_err == "0" and n < int(crate_ok):
            fails.append(f"{name}: {n} records, fewer than the evtx crate's {crate_ok}")
        if crate_ok and lib and crate_ok == lib and n != int(lib):
            fails.append(f"{name}: {n} records where libevtx and the crate agree on {lib}")
        want_rec = EXPECT_RECOVER.get(name, EXPECT.get(name))
        if len(rec) != want_rec:
            fails.append(f"{name}: {len(rec)} records with --recover, expected {want_rec}")
        seen = set()
        for e in rec:
            key = (e.get("computer"), e.get("channel"), e.get("record_id"), e.get("time"))
            if e.get("recovered") and key in seen:
                fails.append(f"{name}: recovered record {key} not folded")
                break
            seen.add(key)
    snapdir = os.path.join(root, "snapshots")
    for snap, name, rid in SNAPSHOTS:
        sp = os.path.join(snapdir, f"test_record_samples__{snap}.snap")
        if not os.path.exists(sp) or name not in events:
            fails.append(f"snapshot {snap}: missing")
            continue
        want = snapshot_fields(sp)
        evs = events[name]
        got = next((e for e in evs if rid is None or e.get("record_id") == rid), None)
        if got is None:
            fails.append(f"snapshot {snap}: record {rid} not read")
            continue
        for k in ("provider", "event_id", "record_id", "channel", "computer", "time"):
            if got.get(k) != want[k]:
                fails.append(f"snapshot {snap}: {k} {got.get(k)!r} != {want[k]!r}")
        xmls = dump_xml(escudo, os.path.join(root, name))
        mine = next((x for x in xmls if rid is None or
                     f"<EventRecordID>{rid}</EventRecordID>".encode() in x), None)
        text = open(sp, encoding="utf-8").read().split("---", 2)[2]
        theirs = canon(ET.fromstring(text[text.index("<Event"):]))
        d = first_diff(canon(ET.fromstring(mine)), theirs) if mine else "record not rendered"
        if d:
            fails.append(f"snapshot {snap}: XML differs: {d}")
        if got.get("data") != want["data"]:
            fails.append(f"snapshot {snap}: data differ:\n  escudo {got.get('data')}\n"
                         f"  crate  {want['data']}")
    fails += check_json_snapshots(root, events)
    for f in fails:
        print("FAIL", f)
    print(f"evtx-rs: {len(rows)} files, {len(SNAPSHOTS) + len(JSON_SNAPSHOTS)} snapshots, "
          f"{len(fails)} failures")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
