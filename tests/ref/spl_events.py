#!/usr/bin/env python3
"""A minimal, independent field extractor for the SPL reference (spl_ref.py).

events_from(paths) yields one dict per event in the shape of `escudo dump --fields`:
{"_time": epoch float, "source", "sourcetype", "host", System fields, EventData fields by
Name (a list when a name repeats), UserData leaves, "eventtype": [...], "tag": [...],
"_raw": the event's XML text, plus the few add-on aliases and CIM fields listed in ALIASES}.

It reads:
  - .evtx files, rendered with `evtxexport -f xml` (libevtx-utils);
  - XmlWinEventLog text (<Event ...>...</Event> one after another, any text between);
  - JSON lines: already-extracted field dicts (they have "sourcetype"), flat NXLog-style
    Windows events (EventID + SourceName/ProviderName) and winlogbeat 6 (event_id +
    source_name + event_data).

This is a stand-in: tests/ref/fields_ref.py, the full reference of the Windows and Sysmon
add-ons' search-time extraction, replaces it when present (spl_ref.events_from prefers it).
Deliberately not done here: the eventtypes that need more than source, sourcetype and
EventCode, most add-on calculated fields, CrowdStrike.

System-field names follow the Splunk Add-on for Microsoft Windows' XmlWinEventLog
extractions (EventCode, EventID, Computer, Channel, RecordNumber, EventRecordID, Keywords,
Level, Task, Opcode, ProcessID, ThreadID, UserID); `source` = XmlWinEventLog:<Channel>,
`sourcetype` = XmlWinEventLog, `host` = Computer (SPEC section 8). `_time` is
TimeCreated/@SystemTime, except Sysmon EventID 1 whose `UtcTime` is used (SPEC section 2).
"""

import calendar
import gzip
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
EVENT_RE = re.compile(r"<Event[\s>].*?</Event>", re.S)


def parse_time(text):
    """ISO 8601 / Sysmon 'YYYY-MM-DD HH:MM:SS.fff' (UTC when no zone) -> epoch float."""
    if not text:
        return None
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?", text.strip())
    if not m:
        return None
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac = int((m.group(7)[1:] + "000000")[:6]) / 1e6 if m.group(7) else 0.0  # to the microsecond
    return calendar.timegm((y, mo, d, h, mi, s)) + frac


def basename(p):
    if p is None:
        return None
    return re.split(r"[\\/]", p)[-1]


def no_domain(u):
    if u is None:
        return None
    return u.rsplit("\\", 1)[-1] if "\\" in u and not u.endswith("\\") else u


def missing(v):
    return v is None or v == "" or v == "-"


def add(ev, name, value):
    if value is None:
        return
    if name in ev:
        old = ev[name]
        ev[name] = (old if isinstance(old, list) else [old]) + [value]
    else:
        ev[name] = value


def first(ev, name):
    v = ev.get(name)
    if isinstance(v, list):
        return v[0] if v else None
    return v


def leaves(elem, out):
    kids = list(elem)
    if not kids:
        out.append((elem.tag.split("}")[-1], elem.text or ""))
    for k in kids:
        leaves(k, out)


HEX_PADDED = re.compile(r"^0x(0[0-9a-fA-F]{7}|0[0-9a-fA-F]{15})$")


def windows_form(v):
    """evtxexport writes HexInt32/64 values zero-padded (0x%08x, 0x%016x); Windows' own XML
    (what the add-on sees) writes 0x%x."""
    if v and HEX_PADDED.match(v):
        return "0x" + (v[2:].lstrip("0") or "0")
    return v


def from_xml_event(text, evtx=False):
    try:
        # keep CR inside values: an XML parser turns CR LF into LF, Windows' XML keeps both
        root = ET.fromstring(text.replace("\r", "&#13;"))
    except ET.ParseError:
        return None
    sysn = root.find(NS + "System")
    if sysn is None:
        return None

    def st(tag):
        n = sysn.find(NS + tag)
        return n.text if n is not None and n.text is not None else None

    prov = sysn.find(NS + "Provider")
    channel = st("Channel") or ""
    computer = st("Computer")
    ev = {}
    tc = sysn.find(NS + "TimeCreated")
    ev["_time"] = parse_time(tc.get("SystemTime") if tc is not None else None)
    ev["source"] = "XmlWinEventLog:" + channel
    ev["sourcetype"] = "XmlWinEventLog"
    if computer is not None:
        ev["host"] = computer
    eid = st("EventID")
    for k, v in (("EventCode", eid), ("EventID", eid), ("Computer", computer),
                 ("Channel", channel or None), ("RecordNumber", st("EventRecordID")),
                 ("EventRecordID", st("EventRecordID")), ("Keywords", st("Keywords")),
                 ("Level", st("Level")), ("Task", st("Task")), ("Opcode", st("Opcode")),
                 ("Version", st("Version"))):
        if v is not None:
            ev[k] = v
    if prov is not None and prov.get("Name"):
        ev["Name"] = prov.get("Name")
    ex = sysn.find(NS + "Execution")
    if ex is not None:
        for a in ("ProcessID", "ThreadID"):
            if ex.get(a) is not None:
                ev[a] = ex.get(a)
    cor = sysn.find(NS + "Correlation")
    if cor is not None and cor.get("ActivityID"):
        ev["ActivityID"] = cor.get("ActivityID")
    sec = sysn.find(NS + "Security")
    if sec is not None and sec.get("UserID"):
        ev["UserID"] = ev["SecurityID"] = sec.get("UserID")
    data = root.find(NS + "EventData")
    if data is not None:
        for d in data:
            name = d.get("Name")
            if name and d.text:
                # Details is text Sysmon wrote, not a HexInt; StartAddress and Error Code are
                # padded hex strings that Windows' rendering keeps padded (fields_ref.HEX_STRINGS)
                if evtx and name not in ("Details", "StartAddress", "Error Code", "ErrorCode"):
                    d.text = windows_form(d.text)
                # an empty <Data> gives no field: search-time extraction creates no field for
                # an empty value (SPEC 8: a field extraction does not produce is missing)
                add(ev, name, d.text)
            elif d.text:
                add(ev, "Data", d.text)
    ud = root.find(NS + "UserData")
    if ud is not None:
        out = []
        leaves(ud, out)
        for k, v in out[1:] if len(out) > 1 and out[0][1] == "" else out:
            add(ev, k, v)
    ev["_raw"] = text
    return finish(ev, prov.get("Name") if prov is not None else "")


def from_flat_json(o):
    """NXLog-style flat event or winlogbeat 6: rebuild the same dict as the XML path."""
    if "sourcetype" in o:
        return o  # already a field dict (dump --fields shape)
    if "event_id" in o and "source_name" in o:
        prov, eid = o.get("source_name"), o.get("event_id")
        channel, computer = o.get("log_name") or "", o.get("computer_name")
        data = o.get("event_data") or {}
        t = o.get("@timestamp")
    elif "EventID" in o and ("SourceName" in o or "ProviderName" in o):
        prov, eid = o.get("SourceName") or o.get("ProviderName"), o.get("EventID")
        channel, computer = o.get("Channel") or "", o.get("Hostname") or o.get("Computer")
        skip = {"SourceName", "ProviderName", "Hostname", "Computer", "Channel", "EventID",
                "EventRecordID", "TimeCreated", "@timestamp", "EventTime"}
        data = {k: v for k, v in o.items() if k not in skip}
        t = o.get("TimeCreated") or o.get("@timestamp") or o.get("EventTime")
    else:
        return None
    ev = {"_time": parse_time(t), "source": "XmlWinEventLog:" + channel,
          "sourcetype": "XmlWinEventLog"}
    if computer is not None:
        ev["host"] = ev["Computer"] = str(computer)
    ev["EventCode"] = ev["EventID"] = str(eid)
    if channel:
        ev["Channel"] = channel
    for k, v in data.items():
        if v is None or isinstance(v, (dict, list)):
            continue
        ev[k] = v if isinstance(v, str) else json.dumps(v)
    ev["_raw"] = json.dumps(o, ensure_ascii=False)
    return finish(ev, prov or "")


# Add-on aliases and CIM tags this stand-in knows (Sysmon add-on and Windows add-on, the
# event codes ESCU's Registry/Filesystem/Network_Traffic/Processes detections read).
def finish(ev, provider):
    code = first(ev, "EventCode")
    sysmon = provider == "Microsoft-Windows-Sysmon" or "Sysmon" in ev.get("source", "")
    tags = []
    if ev.get("Computer") is not None:
        ev.setdefault("dest", ev["Computer"])
    if sysmon:
        ev["vendor_product"] = "Microsoft Sysmon"
        if code == "1" and not missing(first(ev, "UtcTime")):
            ev["_time"] = parse_time(first(ev, "UtcTime")) or ev["_time"]
        for src, dst in (("ProcessGuid", "process_guid"), ("ProcessId", "process_id"),
                         ("Image", "process_path")):
            if not missing(first(ev, src)):
                ev[dst] = first(ev, src)
        if not missing(first(ev, "Image")):
            ev["process_name"] = basename(first(ev, "Image"))
        if not missing(first(ev, "User")):
            ev["user"] = no_domain(first(ev, "User"))
        if code == "1":
            tags += ["process", "report", "execute", "start"]
            for src, dst in (("CommandLine", "process"), ("ParentCommandLine", "parent_process"),
                             ("ParentImage", "parent_process_path"),
                             ("ParentProcessId", "parent_process_id"),
                             ("ParentProcessGuid", "parent_process_guid"),
                             ("OriginalFileName", "original_file_name"),
                             ("Hashes", "process_hash"),
                             ("CurrentDirectory", "process_current_directory")):
                if not missing(first(ev, src)):
                    ev[dst] = first(ev, src)
            if not missing(first(ev, "ParentImage")):
                ev["parent_process_name"] = basename(first(ev, "ParentImage"))
            if not missing(first(ev, "IntegrityLevel")):
                ev["process_integrity_level"] = first(ev, "IntegrityLevel").lower()
        elif code in ("12", "13", "14"):
            tags += ["endpoint", "registry", "change"]
            path = first(ev, "TargetObject")
            if not missing(path):
                ev["registry_path"] = path
                parts = path.split("\\")
                if code == "13":  # a value: its name is the last segment, its key the one before
                    ev["registry_value_name"] = parts[-1]
                    ev["registry_key_name"] = parts[-2] if len(parts) > 1 else parts[-1]
                else:
                    ev["registry_key_name"] = parts[-1]
            det = first(ev, "Details")
            if not missing(det):
                m = re.match(r"^(?:DWORD|QWORD) \((0x[0-9a-fA-F]+)\)$", det)
                ev["registry_value_data"] = m.group(1) if m else det
            et = first(ev, "EventType") or ""
            ev["action"] = {"CreateKey": "created", "DeleteKey": "deleted",
                            "DeleteValue": "deleted", "RenameKey": "modified"}.get(
                et, "modified")
        elif code in ("2", "11", "23", "26", "15"):
            tags += ["endpoint", "filesystem"]
            path = first(ev, "TargetFilename")
            if not missing(path):
                ev["file_path"] = path
                ev["file_name"] = basename(path)
            if not missing(first(ev, "CreationUtcTime")):
                ev["file_create_time"] = first(ev, "CreationUtcTime")
            ev["action"] = {"2": "modified", "11": "created", "15": "created"}.get(code, "deleted")
        elif code == "3":
            tags += ["network", "communicate"]
            for src, dst in (("DestinationIp", "dest_ip"), ("DestinationPort", "dest_port"),
                             ("SourceIp", "src_ip"), ("SourcePort", "src_port"),
                             ("Protocol", "transport")):
                if not missing(first(ev, src)):
                    ev[dst] = first(ev, src)
            for dst, host, ip in (("src", "SourceHostname", "src_ip"),
                                  ("dest", "DestinationHostname", "dest_ip")):
                v = first(ev, host) if not missing(first(ev, host)) else ev.get(ip)
                if v is not None:
                    ev[dst] = v
                else:
                    ev.pop(dst, None)
            if not missing(first(ev, "Image")):
                ev["app"] = first(ev, "Image")
            ev["action"] = "allowed"
            ev["direction"] = "outbound" if first(ev, "Initiated") == "true" else "inbound"
    elif provider == "Microsoft-Windows-Security-Auditing" and code == "4688":
        tags += ["process", "report", "execute", "start"]
        ev["vendor_product"] = "Microsoft Windows"
        new = first(ev, "NewProcessName")
        if not missing(new):
            ev["process_path"] = new
            ev["process_name"] = basename(new)
        cmd = first(ev, "CommandLine")
        ev["process"] = cmd if not missing(cmd) else new
        par = first(ev, "ParentProcessName")
        if not missing(par):
            ev["parent_process"] = ev["parent_process_path"] = par
            ev["parent_process_name"] = basename(par)
        u = first(ev, "TargetUserName")
        if missing(u):
            u = first(ev, "SubjectUserName")
        if not missing(u):
            ev["user"] = no_domain(u)
        for src, dst in (("NewProcessId", "process_id"), ("ProcessId", "parent_process_id")):
            if not missing(first(ev, src)):
                ev[dst] = first(ev, src)
    # the Windows add-on's eventtypes that source, sourcetype and EventCode alone decide
    # (Splunk_TA_windows 8.4.0 eventtypes.conf; their tags: tags.conf, the `enabled` ones):
    # windows_event_signature (sourcetype=XmlWinEventLog; track_event_signatures) and
    # endpoint_services_processes (sourcetype="XmlWinEventLog"; no tags) for every event;
    # wineventlog_<channel> (os windows) with winsec (security) / winsystem / winapp for the
    # three classic channels (source=XmlWinEventLog:<channel>); the AD/DNS ones (source=
    # "XmlWinEventLog:Directory Service" etc.; no tags); wineventlog_windows (os windows
    # endpoint filesystem) for all of those channels but its NOT (EventCode=4703 OR ... OR
    # EventCode=4781). Source values compare case-insensitively.
    ets = ["endpoint_services_processes", "windows_event_signature"]
    etags = ["track_event_signatures"]
    ch = (first(ev, "Channel") or "").lower()
    classic = {"security": "winsec", "system": "winsystem", "application": "winapp"}
    ad = {"directory service": "wineventlog-ds", "dns server": "wineventlog-dns",
          "dfs replication": "wineventlog-dfs",
          "file replication service": "wineventlog-filereplication",
          "key management service": "wineventlog-keymanagement"}
    if ch in classic:
        ets += ["wineventlog_" + ch, classic[ch]]
        etags += ["os", "windows"] + (["security"] if ch == "security" else [])
    elif ch in ad:
        ets.append(ad[ch])
    if (ch in classic or ch in ad) and code not in (
            "4703", "4704", "4705", "4722", "4723", "4724", "4725", "4726", "4738", "4767",
            "4781"):
        ets.append("wineventlog_windows")
        etags += ["os", "windows", "endpoint", "filesystem"]
    tags += [t for i, t in enumerate(etags) if t not in tags and t not in etags[:i]]
    if tags:
        ev["tag"] = tags
    ev["eventtype"] = sorted(ets)
    return ev


def xml_events(text, evtx=False):
    for m in EVENT_RE.finditer(text):
        ev = from_xml_event(m.group(0), evtx)
        if ev is not None:
            yield ev


def read_text(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def file_events(path):
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"ElfFile"):
        exe = shutil.which("evtxexport")
        if not exe:
            raise RuntimeError("evtxexport not found (libevtx-utils)")
        out = subprocess.run([exe, "-f", "xml", path], capture_output=True, check=False)
        yield from xml_events(out.stdout.decode("utf-8", errors="replace"), evtx=True)
        return
    text = read_text(path)
    if text.lstrip().startswith("{") or text.lstrip().startswith("["):
        for line in text.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                o = json.loads(line)
            except ValueError:
                continue
            ev = from_flat_json(o)
            if ev is not None:
                yield ev
        return
    yield from xml_events(text)


def events_from(paths):
    """Every event of every file (directories recursively, in name order)."""
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs.sort()
                for n in sorted(names):
                    if n.lower().endswith((".evtx", ".xml", ".json", ".jsonl", ".gz", ".log")):
                        yield from file_events(os.path.join(root, n))
        else:
            yield from file_events(p)
