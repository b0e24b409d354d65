#!/usr/bin/env python3
"""Independent reference for `escudo dump --fields`: every Windows event as Splunk's add-ons
show it after search-time extraction, one JSON object per line.

Own parser, own tables:
  - EVTX is read from `evtxexport -f xml` output with ElementTree (escudo_ref's Protector keeps
    the characters expat rejects); JSON lines with the json module (the flat NXLog/OTRF shape).
  - The rules are written out below from Splunk_TA_windows 8.4.0 default/props.conf,
    transforms.conf, eventtypes.conf and tags.conf and the Sysmon add-on's source stanza, as
    docs/fields.md cites them. Each table row names its setting.
evtxexport renders two things differently from Windows: 64-bit hex integers zero-padded to 16
digits and SystemTime with 9 fraction digits. Both are put back in Windows' form here.

Usage: fields_ref.py [--native] FILE... (EVTX files, evtxexport XML renderings, JSON lines)."""

import json
import os
import re
import subprocess
import sys
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from escudo_ref import EVENT_START_RE, EVENT_END, Protector, local  # noqa: E402

# ---- reading ------------------------------------------------------------------------------

# evtxexport writes HexInt32/HexInt64 values as 0x%08x / 0x%016x; Windows writes 0x%x.
HEX_PADDED = re.compile(r"^0x(0[0-9a-f]{7}|0[0-9a-f]{15})$")


FILETIME9 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7})\d\dZ$")


# Data values that are zero-padded hex *strings* (not HexInt types): Windows' own rendering keeps
# them padded, e.g. Sysmon 8 StartAddress "0x00007FFEA99B61E0" in the OTRF (Windows-rendered)
# JSON of ../shared/data/json/otrf, so evtxexport's padding is not undone for them. Sysmon's
# Details is text Sysmon wrote ("DWORD (0x00000001)" in the EVTX, and ESCU's searches compare
# registry_value_data with "0x00000001"): kept as written too.
HEX_STRINGS = ("StartAddress", "Error Code", "ErrorCode", "Details")


def windows_form(v, name=None):
    if name in HEX_STRINGS:
        return v
    t = FILETIME9.match(v)
    if t:
        return t.group(1) + "Z"
    m = HEX_PADDED.match(v)
    if m:
        return "0x" + (m.group(1).lstrip("0") or "0")
    return v


def xml_events(text):
    prot = Protector(text)
    pos = 0
    while True:
        m = EVENT_START_RE.search(text, pos)
        if not m:
            return
        end = text.find(EVENT_END, m.start())
        if end < 0:
            return
        chunk = text[m.start():end + len(EVENT_END)]
        pos = end + len(EVENT_END)
        try:
            root = ET.fromstring(prot.protect(chunk))
        except ET.ParseError:
            continue
        yield xml_event(root, prot)


# The add-on's whole-element fields: the inner XML of these children of <Event>
# (docs/fields.md). The reference cannot rebuild Windows' text from evtxexport's (indented,
# double-quoted) XML; it gives the tree, and t_fields_reference compares escudo's text as the
# same tree (whole_tree).
WHOLE = {"System": "System_Props_Xml", "EventData": "EventData_Xml",
         "UserData": "UserData_Xml", "RenderingInfo": "RenderingInfo_Xml",
         "LogFileCleared": "LogFileCleared_Xml"}  # the last: a child of UserData


def whole_tree(el, value=lambda v, name=None: v):
    """The children of el as [tag, [[attr, value]...], text or None, [children]], names local,
    attributes sorted, a leaf's text through value (given the element's Name attribute), a
    container's text and tails left out; None when el has neither children nor text."""
    def node(e):
        attrs = sorted([local(k), value(v)] for k, v in e.attrib.items())
        if len(e):
            return [local(e.tag), attrs, None, [node(c) for c in e]]
        return [local(e.tag), attrs, value("".join(e.itertext()), e.get("Name")), []]
    if not len(el) and not (el.text or ""):
        return None
    if not len(el):
        return [value(el.text)]
    return [node(c) for c in el]


def ref_text(prot, v, name=None):
    """A value of evtxexport's XML as Windows writes it (windows_form)."""
    return windows_form(prot.restore(v), prot.restore(name))


def xml_event(root, prot):
    """{"sys": [(name, value)], "data": [(name, value)], ...}: System elements (text) and
    attributes (Element@Attr), EventData Data by Name, UserData leaves."""
    ev = {"sys": [], "data": [], "channel": "", "computer": None, "event_id": None,
          "time": None, "record": None, "json": False}
    ev["parts"] = {}
    for sec in root:
        name = local(sec.tag)
        if name in WHOLE and name != "LogFileCleared":
            ev["parts"][WHOLE[name]] = whole_tree(sec, lambda v, n=None: ref_text(prot, v, n))
        for c in sec if name == "UserData" else ():
            if local(c.tag) == "LogFileCleared":
                ev["parts"]["LogFileCleared_Xml"] = whole_tree(
                    c, lambda v, n=None: ref_text(prot, v, n))
        if name == "System":
            for s in sec:
                sn = local(s.tag)
                for an, av in s.attrib.items():
                    av = prot.restore(av)
                    if sn == "TimeCreated" and an == "SystemTime":
                        ev["time"] = av
                        av = re.sub(r"\.(\d{7})\d*Z$", r".\1Z", av)
                    if av:
                        ev["sys"].append((sn + "@" + local(an), av))
                text = prot.restore(s.text or "")
                if len(s) == 0 and text.strip():
                    ev["sys"].append((sn, windows_form(text)))
                if sn == "Channel":
                    ev["channel"] = text
                elif sn == "Computer":
                    ev["computer"] = text
                elif sn == "EventID":
                    ev["event_id"] = int(text)
                elif sn == "EventRecordID":
                    ev["record"] = text
        elif name == "EventData":
            for d in sec:
                key = d.get("Name")
                if local(d.tag) == "Data" and key:
                    ev["data"].append((prot.restore(key), windows_form(
                        prot.restore("".join(d.itertext())), prot.restore(key))))
        elif name == "UserData":
            def leaves(el):
                for c in el:
                    if len(c):
                        leaves(c)
                    else:
                        ev["data"].append((local(c.tag), windows_form(prot.restore(c.text or ""))))
            leaves(sec)
    return ev


NXLOG_SYSTEM = ("EventID", "SourceName", "Hostname", "Channel", "EventTime", "TimeCreated",
                "RecordNumber")


def json_events(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if isinstance(o.get("winlog"), dict) or "source_name" in o:
                ev = winlogbeat_event(o)
                if ev:
                    yield ev
                continue
            if "EventID" not in o or "Hostname" not in o:
                continue
            # time: TimeCreated, else @timestamp (then @timestamp and tags are not data)
            skip = NXLOG_SYSTEM if "TimeCreated" in o else \
                tuple(k for k in NXLOG_SYSTEM if k != "EventTime") + ("@timestamp", "tags")
            data = [(k, v if isinstance(v, str) else json_scalar(v)) for k, v in o.items()
                    if k not in skip and v is not None]
            data = [(k, str(v)) if not isinstance(v, str) else (k, v) for k, v in data]
            # raw_sys: the System values kept out of data (the eventtypes' _raw stand-in)
            raw_sys = [json_scalar(o[k]) for k in NXLOG_SYSTEM if k in skip and k in o
                       and o[k] is not None and not isinstance(o[k], (dict, list))]
            yield {"sys": [], "data": data, "channel": o.get("Channel", ""),
                   "computer": o.get("Hostname"), "event_id": int(o["EventID"]),
                   "time": o.get("TimeCreated") or o.get("@timestamp"),
                   "record": str(o["RecordNumber"]) if o.get("RecordNumber") else None,
                   "json": True, "raw_sys": raw_sys}


# winlogbeat keys of the System elements (7: under winlog; 6: top level), in XML order.
WLB = {7: [("Provider@Name", "provider_name"), ("Provider@Guid", "provider_guid"),
           ("EventID", "event_id"), ("Version", "version"), ("EventRecordID", "record_id"),
           ("Correlation@ActivityID", "activity_id"),
           ("Correlation@RelatedActivityID", "related_activity_id"),
           ("Execution@ProcessID", "process.pid"), ("Execution@ThreadID", "process.thread.id"),
           ("Channel", "channel"), ("Computer", "computer_name"),
           ("Security@UserID", "user.identifier")],
       6: [("Provider@Name", "source_name"), ("Provider@Guid", "provider_guid"),
           ("EventID", "event_id"), ("Version", "version"), ("EventRecordID", "record_number"),
           ("Correlation@ActivityID", "activity_id"),
           ("Correlation@RelatedActivityID", "related_activity_id"),
           ("Execution@ProcessID", "process_id"), ("Execution@ThreadID", "thread_id"),
           ("Channel", "log_name"), ("Computer", "computer_name"),
           ("Security@UserID", "user.identifier")]}


def winlogbeat_event(o):
    ver = 7 if isinstance(o.get("winlog"), dict) else 6
    base = o["winlog"] if ver == 7 else o

    def at(path):
        v = base
        for seg in path.split("."):
            v = v.get(seg) if isinstance(v, dict) else None
        return v
    if at(WLB[ver][2][1]) is None:
        return None
    sysl = [(n, json_scalar(at(pth))) for n, pth in WLB[ver]
            if at(pth) is not None and not isinstance(at(pth), (dict, list))
            and json_scalar(at(pth)) != ""]
    data = []
    for sec in ("event_data", "user_data"):
        d = base.get(sec)
        if isinstance(d, dict):
            data += [(k, json_scalar(v)) for k, v in d.items()
                     if v is not None and not isinstance(v, (dict, list))]
    rec = at(WLB[ver][4][1])
    return {"sys": sysl, "data": data, "channel": at(WLB[ver][9][1]) or "",
            "computer": at("computer_name"), "event_id": int(at(WLB[ver][2][1])),
            "time": o.get("@timestamp"), "record": str(rec) if rec else None, "json": True}


def json_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


# ---- the add-on rules ---------------------------------------------------------------------

def basename(v):
    return v.rsplit("\\", 1)[-1]


def strip_bs(v):  # (?:[\\]+)?([^-].*)
    m = re.match(r"(?:[\\]+)?([^-].*)", v, re.S)
    return m.group(1) if m else None


def path_name(v):  # ^((?:.*[\\/]+)*([^-].*))$ second group
    seg = re.split(r"[\\/]", v)[-1]
    return seg if seg and not seg.startswith("-") else None


def nodash(v):
    return v if v and v != "-" else None


def first(f, name):
    v = f.get(name)
    return v[0] if v else None


SCOPES = {"security": "Security", "system": "System", "application": "Application",
          "microsoft-windows-sysmon/operational": "Sysmon",
          "microsoft-windows-powershell/operational": "PowerShell"}
ACCT = {4703, 4704, 4705, 4722, 4723, 4724, 4725, 4726, 4738, 4767}

# REPORT/EXTRACT rows: (stanza, dst, src, transform); the first extraction of a field wins.
def nodash_none(v):  # (.+) and the EXTRACTs' ([^<]+): any non-empty value
    return v or None


REPORTS = [
    ("Xml", "Sub_Status", "SubStatus", nodash_none),
    ("Security", "dest_port", "DestPort", nodash_none),
    ("Security", "object_attrs", "RuleName", nodash_none),
    ("Security", "src_ip", "IpAddress", "srcip"),
    ("Security", "process", "ProcessName", nodash_none),
    ("Security", "new_process", "NewProcessName", nodash_none),
    ("Security", "parent_process", "ParentProcessName", nodash_none),
    ("Security", "new_process_id", "NewProcessId", nodash_none),
    ("Security", "process_id", "ProcessId", nodash_none),
    ("Security", "Process_Command_Line", "CommandLine", nodash_none),
    ("Security", "Source_Port", "IpPort", nodash_none),
    ("Security", "Token_Elevation_Type", "TokenElevationType", nodash_none),
    ("Security", "Target_Server_Name", "TargetServerName", nodash_none),
    ("Security", "Logon_Type", "LogonType", nodash_none),
    ("Security", "Logon_ID", "SubjectLogonId", nodash_none),
    ("Security", "Caller_Domain", "SubjectDomainName", nodash_none),
    ("Security", "Target_Domain", "TargetDomainName", nodash_none),
    ("Security", "Caller_User_Name", "SubjectUserName", nodash_none),
    ("Security", "Target_User_Name", "TargetUserName", nodash_none),
    ("Security", "Source_Workstation", "Workstation", nodash_none),
    ("Security", "Source_Workstation", "WorkstationName", nodash_none),
    ("Security", "Source_Workstation", "IpAddress", nodash_none),
    # No vendor_privilege, so no privilege_id: REPORT classes run in ASCII order of their class
    # names over the merged [XmlWinEventLog] + [source::XmlWinEventLog:Security] stanzas, and
    # both REPORT-0privilege_for_windows_security_xml (PrivilegeList_as_vendor_privilege,
    # SOURCE_KEY PrivilegeList) and REPORT-0vendor_privilege_for_windows_security
    # (vendor_privilege_sv/_mv_for_windows_security, SOURCE_KEY Message) sort before
    # REPORT-0xml_kv_extract ('p', 'v' < 'x'), which makes PrivilegeList (eventdata_xml_data)
    # and Message (rendering_info_xml_data): their source fields do not exist yet when they run.
    # REPORT-privilege_id_for_windows_security (SOURCE_KEY vendor_privilege) then has nothing
    # to read. Splunk's own field lists of Security 4726/4739/4781 (escu-full data_sources)
    # have PrivilegeList and no vendor_privilege.
    # transforms.conf Token_Elevation_Type_id_for_windows_security: SOURCE_KEY
    # Token_Elevation_Type, ^[^\d]+(\d+) (REPORT-Token_Elevation_Type_id_for_windows_security;
    # 'T' > '0', so after 0xml_kv_extract and Token_Elevation_Type_from_xml)
    ("Security", "Token_Elevation_Type_id", "Token_Elevation_Type",
     lambda v: (re.match(r"[^\d]+(\d+)", v) or [None, None])[1]),
    ("Security", "session_id", "Logon_ID", lambda v: (v.split("\n", 1)[1] if re.match(r"[^\n]+\n.", v) else v) or None),
    ("Security", "dest", "Target_Server_Name", strip_bs),
    ("Security", "dest", "Computer", nodash_none),
    ("Security", "dest_nt_domain", "Target_Domain", nodash_none),
    ("Security", "dest_nt_host", "Target_Server_Name", strip_bs),
    ("Security", "src", "Source_Workstation", strip_bs),
    ("Security", "src_nt_domain", "Caller_Domain", nodash),
    ("Security", "src_nt_host", "Source_Workstation", strip_bs),
    ("Security", "src_user", "Caller_User_Name", nodash),
    ("Security", "user", "Target_User_Name", nodash_none),
    ("Security", "parent_process_name", "parent_process", basename),
    ("Security", "new_process_name", "new_process", basename),
    ("Security", "target_process_name", "TargetProcessName", basename),
    ("Security", "object_file_path", "ObjectName", lambda v: v if path_name(v) else None),
    ("Security", "object_file_name", "ObjectName", path_name),
    ("Security", "file_path", "FileName", lambda v: v if path_name(v) else None),
    ("Security", "file_name", "FileName", path_name),
    ("Security", "file_path", "KeyFilePath", lambda v: v if path_name(v) else None),
    ("Security", "file_name", "KeyFilePath", path_name),
    ("Security", "process_command_line_process", "Process_Command_Line", "cmdprog"),
    ("Security", "process_command_line_arguments", "Process_Command_Line", "cmdargs"),
    ("System", "dest", "Computer", nodash_none),
    ("System", "user", "User", lambda v: re.sub(r"^[^\\]+\\(?=.)", "", v)),
    ("System", "ServiceName", "param1", nodash_none),
    ("PowerShell", "dest", "Computer", nodash_none),
    ("Sysmon", "RegistryValueData", "Details", "regdata"),
    # TA-microsoft-sysmon transforms.conf, REPORT-sysmon: sysmon-created
    # <TimeCreated SystemTime='(.*?)'/>, sysmon-record <EventRecordID>(\d+)</EventRecordID>,
    # sysmon-channel <Channel>(.*?)</Channel>, sysmon-sid <Security UserID='(S-[0-9a-fA-f-]+)'/>
    ("Sysmon", "TimeCreated", "SystemTime", nodash_none),
    ("Sysmon", "RecordID", "EventRecordID", lambda v: v if re.fullmatch(r"\d+", v) else None),
    ("Sysmon", "EventChannel", "Channel", nodash_none),
    ("Sysmon", "SecurityID", "UserID",
     lambda v: v if re.fullmatch(r"S-[0-9a-fA-f-]+", v) else None),
]

# sysmon-md5, -sha1, -sha256, -imphash: a regex over _raw, first match; "KEY=" and its hex
# digits lie inside one value of the event, so each value is searched in document order.
SYSMON_HASHES = [("MD5", re.compile(r"MD5\=([a-fA-F0-9]{32}?)")),
                 ("SHA1", re.compile(r"SHA1\=([a-fA-F0-9]{40}?)")),
                 ("SHA256", re.compile(r"SHA256\=([a-fA-F0-9]{64}?)")),
                 ("IMPHASH", re.compile(r"IMPHASH\=([a-fA-F0-9]{32}?)"))]


def clean_key(k):
    """transforms.conf CLEAN_KEYS (default true): each character outside a-z, A-Z, 0-9 becomes
    '_', then leading '_' and digits go. eventdata_xml_data's Data names pass through it."""
    return re.sub(r"^[_0-9]+", "", re.sub(r"[^A-Za-z0-9]", "_", k))

ALIASES = [  # FIELDALIAS src AS dst
    ("Xml", "category", "TaskCategory"), ("Xml", "dvc_nt_host", "host"),
    ("Xml", "dvc", "Computer"), ("Xml", "event_id", "RecordNumber"),
    # [XmlWinEventLog] FIELDALIAS-severity_id_for_windows = EventType AS severity_id: any event
    # with an EventType field (e.g. Sysmon 12/13/14's Data EventType)
    ("Xml", "severity_id", "EventType"),
    ("Xml", "id", "RecordNumber"), ("Xml", "user_group_id", "Primary_Group_ID"),
    ("Xml", "service", "ServiceName"), ("Xml", "service_name", "ServiceName"),
    ("Xml", "service_id", "ServiceSid"), ("Xml", "parent_process", "ParentProcessName"),
    ("Xml", "user_id", "UserID"),
    ("Security", "src_port", "Source_Port"), ("Security", "body", "Message"),
    ("Security", "ta_windows_status", "Status"),
    # [source::XmlWinEventLog:Application] FIELDALIAS-dest_for_xmlwineventlog_application
    ("Application", "dest", "Computer"),
    ("Sysmon", "signature_id", "EventCode"),
]

CMD_RE = re.compile(r"(^\"[^\"]+\"|[^\s]+)\s*(.*)")
TA_ACTION = {"0XC000006F": "denied", "0XC0000070": "denied", "0XC000015B": "denied",
             "0XC0000234": "denied", "0XC0000064": "unknown", "0XC0000133": "error",
             "0XC0000225": "error"}


def report_value(how, v):
    if how == "srcip":
        return None if re.match(r"::1|127\.0\.0\.1", v) else v
    if how in ("cmdprog", "cmdargs"):
        m = CMD_RE.match(v)
        if not m:
            return None
        return m.group(1) if how == "cmdprog" else (m.group(2) or None)
    if how == "regdata":
        m = re.fullmatch(r"\w+\s\((.+)\)", v)
        return m.group(1) if m else None
    return how(v)


def eval_security(f, code, g):
    """[source::XmlWinEventLog:Security] EVAL-*; g(name) is the pre-EVAL first value."""
    def c(*names):
        for n in names:
            if g(n) is not None:
                return g(n)
        return None

    def proc4688():
        prog, np_, args = g("process_command_line_process"), g("NewProcessName"), \
            g("process_command_line_arguments")
        if prog is not None and "\\" in prog:
            return g("Process_Command_Line")
        if np_ is None or args is None:
            return np_
        return ('"%s"' % np_ if re.search(r"\s", np_) else np_) + " " + args

    status = g("Status")
    out = {
        "Error_Code": status if status is not None else (g("Error_Code") or "-"),
        "vendor": "Microsoft", "product": "Windows",
        "ta_windows_action": TA_ACTION.get((status or "").upper(), "failure"),
        "user_group": c("TargetUserName", "New_Account_Name"),
        "dest_nt_domain": nodash_keep(g("dest_nt_domain")),
        "object_attrs": None if code in (4720, 4738) else g("AccessGranted") if code == 4717
        else g("AccessRemoved") if code == 4718 else c("SamAccountName", "object_attrs"),
        "registry_path": g("ObjectName") if code == 4657 else KEEP,
        "registry_value_name": g("ObjectValueName") if code == 4657 else KEEP,
        "registry_value_type": g("NewValueType") if code == 4657 else KEEP,
        "src": g("ClientAddress") if code == 4778 else KEEP,
        "file_name": c("file_name") or (g("object_file_name") if g("ObjectType") == "File"
                                        else None) or g("ShareName"),
        "file_path": c("file_path") or (g("object_file_path") if g("ObjectType") == "File"
                                        else None) or g("ShareLocalPath"),
        "src_port": g("SourcePort") if code in (5158, 5156) else KEEP,
        "process": proc4688() if code == 4688 else g("TargetProcessName") if code == 4696
        else c("process", "Process", "ProcessName"),
        "process_path": g("new_process") if code == 4688 else g("TargetProcessName")
        if code == 4696 else c("process", "Process", "ProcessName"),
        "process_id": g("new_process_id") if code == 4688 else g("TargetProcessId")
        if code == 4696 else KEEP,
        "service": c("service", "Service"),
        "parent_process": g("ProcessName") if code == 4696 else KEEP,
        "parent_process_id": g("ProcessId") if code in (4688, 4696) else None,
        "parent_process_name": basename(g("ProcessName") or "") or None if code == 4696 else KEEP,
        "parent_process_path": g("parent_process") if code == 4688 else g("ProcessName")
        if code == 4696 else None,
        "process_exec": g("new_process_name") if code == 4688 else g("target_process_name")
        if code == 4696 else (basename(g("ProcessName")) if g("ProcessName") is not None else None)
        if code in (4689, 4674, 4673) else None,
        "process_name": g("new_process_name") if code == 4688 else g("target_process_name")
        if code == 4696 else (basename(g("ProcessName")) if g("ProcessName") is not None else None)
        if code in (4689, 4674, 4673) else g("ProcessName"),
        "user": (g("src_user") if g("user") in (None, "-") else g("user")) if code == 4688
        else nodash(g("SubjectUserName")) if code in (4674, 4689, 4673, 4697)
        else nodash(g("user")) if code == 4696 else g("TargetUserName") if code in ACCT
        else g("NewTargetUserName") if code == 4781 else KEEP,
        "user_name": g("TargetUserName") if code in ACCT else g("NewTargetUserName")
        if code == 4781 else KEEP,
        "src_user": g("SubjectUserName") if code in ACCT | {4781} else KEEP,
        "src_user_name": g("SubjectUserName") if code in ACCT | {4781} else KEEP,
        "object": g("TargetUserName") if code in ACCT else g("NewTargetUserName")
        if code == 4781 else KEEP,
        "object_id": g("TargetSid") if code in {4704, 4705, 4722, 4723, 4724, 4725, 4726, 4738,
                                                4767, 4781}
        else g("TargetUserSid") if code == 4703 else KEEP,
        "action": "allowed" if code == 4688 and g("Keywords") == "0x8020000000000000" else None,
        "user_type": "computer" if code in (4741, 4742, 4743) else None,
        # EVAL-Group_Name = case(isnotnull(TargetUserName) AND ((EventCode>=4727 AND
        #   EventCode<=4735) OR EventCode==4737 OR (EventCode>=4744 AND EventCode<=4764) OR
        #   EventCode==4799), TargetUserName, 1=1, Group_Name); EVAL-Group_Domain the same
        #   with TargetDomainName
        "Group_Name": g("TargetUserName") if g("TargetUserName") is not None
        and code in GROUP_CODES else KEEP,
        "Group_Domain": g("TargetDomainName") if g("TargetDomainName") is not None
        and code in GROUP_CODES else KEEP,
    }
    return out


GROUP_CODES = set(range(4727, 4736)) | {4737} | set(range(4744, 4765)) | {4799}


def eval_application(f, code, g):  # [source::XmlWinEventLog:Application] EVAL-*
    status = g("Status")
    # EVAL-Error_Code = case(isnotnull(Status), Status, isnotnull(Error_Code), Error_Code,
    #   1==1, "-")
    return {"Error_Code": status if status is not None else (g("Error_Code") or "-")}


def nodash_keep(v):
    return None if v is None or v == "-" else v


KEEP = object()


def eval_sysmon(f, code, g, native):
    def bn(n):
        return basename(g(n)) if g(n) is not None else None
    t = g("TargetObject")
    hive = None
    for p, h in (("HKLM\\System\\", "HKEY_LOCAL_MACHINE\\System"), ("HKU\\", "HKEY_CURRENT_USER"),
                 ("HKLM\\SOFTWARE\\", "HKEY_LOCAL_MACHINE\\Software")):
        if t and t.startswith(p):
            hive = h
            break
    key = None
    if t is not None and code in (12, 13, 14):
        parts = t.split("\\")
        key = parts[-1] if code != 13 else (parts[-2] if len(parts) > 1 else None)
    user = g("User")
    e1, e3 = code == 1, code == 3
    src_image = code in (8, 10)
    return {
        "vendor_product": "Microsoft Sysmon", "signature_id": g("EventCode"),
        "dest": (g("DestinationHostname") or g("DestinationIp")) if e3 else g("Computer"),
        "dvc": g("Computer"),
        "user": (user if native else basename(user)) if user is not None else None,
        "process_id": g("SourceProcessId") if src_image else g("ProcessId"),
        # Sysmon 10's schema spells it SourceProcessGUID, 8's SourceProcessGuid
        "process_guid": g("SourceProcessGUID" if code == 10 else "SourceProcessGuid") if src_image
        else g("ProcessGuid"),
        "process_path": g("SourceImage") if src_image else g("Image"),
        "process_name": bn("SourceImage") if src_image else bn("Image"),
        "process_exec": bn("Image") if e1 else None,
        "process": g("CommandLine") if e1 else None,
        "process_hash": g("Hashes"),
        "process_integrity_level": (g("IntegrityLevel") if native else g("IntegrityLevel").lower())
        if g("IntegrityLevel") else None,
        "process_current_directory": g("CurrentDirectory"),
        "original_file_name": g("OriginalFileName"),
        "parent_process": g("ParentCommandLine") if e1 else None,
        "parent_process_name": bn("ParentImage") if e1 else None,
        "parent_process_exec": bn("ParentImage") if e1 else None,
        "parent_process_path": g("ParentImage") if e1 else None,
        "parent_process_id": g("ParentProcessId") if e1 else None,
        "parent_process_guid": g("ParentProcessGuid") if e1 else None,
        "action": "allowed" if code in (1, 3) else "created" if code == 11 else
        {"CreateKey": "created", "DeleteKey": "deleted", "DeleteValue": "deleted"}.get(
            g("EventType")) if code == 12 else "modified" if code in (13, 14) else
        "deleted" if code in (23, 26) else None,
        "status": "success" if code in (12, 13) else None,
        "src_ip": g("SourceIp") if e3 else None, "src_port": g("SourcePort") if e3 else None,
        "src_host": g("SourceHostname") if e3 else None,
        "src": (g("SourceHostname") or g("SourceIp")) if e3 else None,
        "dest_ip": g("DestinationIp") if e3 else None,
        "dest_port": g("DestinationPort") if e3 else None,
        "dest_host": g("DestinationHostname") if e3 else None,
        "transport": g("Protocol") if e3 else None,
        "direction": ("outbound" if g("Initiated") == "true" else "inbound") if e3 else None,
        "file_path": g("TargetFilename") if code in (2, 11, 23, 26) else None,
        "file_name": bn("TargetFilename") if code in (2, 11, 23, 26) else None,
        "file_create_time": g("CreationUtcTime") if code in (2, 11) else None,
        "object_category": "file" if code in (2, 11, 23, 26) else "registry"
        if code in (12, 13, 14) else None,
        "registry_path": t if code in (12, 13, 14) else None,
        "registry_key_name": key,
        "registry_value_name": t.split("\\")[-1] if code == 13 and t else None,
        "registry_value_data": (g("RegistryValueData") or g("Details")) if code == 13 else None,
        "registry_hive": hive if code in (12, 13, 14) else None,
        "query": g("QueryName") if code == 22 else None,
        "answer": g("QueryResults") if code == 22 else None,
        "reply_code_id": g("QueryStatus") if code == 22 else None,
    }


def eval_xml(f, code, g):  # [XmlWinEventLog] EVAL-*
    return {"signature_id": g("EventCode"),
            "process_name": g("NewProcessName") if code == 4688 else g("ProcessName"),
            "vendor_product": "Microsoft Windows"}


def eval_system(f, code, g):  # [source::XmlWinEventLog:System] EVAL-*
    status, p2 = g("Status"), g("param2")
    return {"Error_Code": status if status is not None else (g("Error_Code") or "-"),
            "body": g("signature_message") or g("Message"),
            "vendor": "Microsoft", "product": "Windows",
            "status": ("started" if p2 == "running" else "stopped" if p2 == "stopped" else None)
            if code == 7036 else None}
    # EVAL-user (7040/7045: not "-") is in [source::WinEventLog:System] only, the classic source


# ---- eventtypes.conf and tags.conf ----------------------------------------------------------
# Splunk_TA_windows 8.4.0 default/eventtypes.conf: every eventtype whose search can hold for an
# event here (sourcetype XmlWinEventLog; source XmlWinEventLog:<Channel>, or WinEventLog:<Channel>
# for the four `classic` channels of extract()). Its tags are those default/tags.conf sets to
# `enabled` in [eventtype=<name>] (eventtypes.conf's `#tags = ...` lines are comments); an
# eventtype with no such stanza has none (winapp, winsystem, windows_ticket_renewed, ...).
# Left out because no such event can match them: the eventtypes of other sourcetypes only
# (fs_notification, perfmon_*, perfmon, perfmon-ntds, perfmon-dns, hostmon_*, netmon_windows,
# printmon_windows, script_windows, wmi_*, windowsupdatelog_windows, winregistry_windows,
# msdhcp*, DhcpSrvLog*, windows_updatelog*, microsoft_windows_hostmon_*, msad-*, admon*,
# ad-files, nt6-dns-events) and powershell (source=Powershell, never a source here).
# The Sysmon rows (ms-sysmon-*) are the Sysmon add-on's.
#
# A row: (name, channels or None, codes or None, condition or None, tags). It holds when the
# event is of one of the channels (the Sysmon rows), its EventCode is in codes, and
# condition(s) is true, s being the event as the search sees it (Search). The Windows add-on's
# rows test source and sourcetype in their conditions, as the conf writes them.


class Search:
    """One event as an eventtype's search sees it (Splunk search semantics):
    - eq(field, v...): field=v OR ...: any value of the field equals one v, case-insensitively;
      ne(field, v): field!=v, which needs the field (a missing field makes both false);
    - lt(field, n): field<n, numeric when the value is a number, else false;
    - raw(word): a bare or quoted word that is not field=value searches _raw. The reference's
      stand-in for _raw: the event's System values (element texts and attribute values, e.g.
      the Provider Name) and EventData/UserData values, the word a case-insensitive substring
      of one of them;
    - et(name): eventtype=name, that eventtype's own search.
    Fields only a lookup would give (ta_windows_security_CategoryString, app) are never present
    (the reference applies no lookups), nor are fields of the classic rendering (SourceName,
    Min__Password_Length, ...): terms on them are false, and are kept in the conditions as the
    conf writes them."""

    def __init__(self, f, code, scope, channel, raw):
        self.f, self.code, self.scope, self.channel, self.raw_values = f, code, scope, channel, raw

    def eq(self, field, *values):
        want = {v.lower() for v in values}
        return any(str(v).lower() in want for v in self.f.get(field, ()))

    def ne(self, field, value):  # single-valued wherever the add-on uses it (ta_windows_action)
        return bool(self.f.get(field)) and not self.eq(field, value)

    def lt(self, field, n):
        return any(NUMBER.fullmatch(str(v)) and float(v) < n for v in self.f.get(field, ()))

    def raw(self, word):
        w = word.lower()
        return any(w in v.lower() for v in self.raw_values)

    def et(self, name):
        return etype_holds(ETYPE_BY_NAME[name], self)


NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def etype_holds(row, s):
    _, chans, codes, cond, _ = row
    if chans is not None and s.scope not in chans and s.channel not in chans:
        return False
    if codes is not None and s.code not in codes:
        return False
    return cond is None or cond(s)


def SEC(s):  # eventtype=wineventlog_security
    return s.et("wineventlog_security")


def SYS(s):  # eventtype=wineventlog_system
    return s.et("wineventlog_system")


def SEC_SOURCE(s):  # (source=WinEventLog:Security OR source=XmlWinEventLog:Security)
    return s.eq("source", "WinEventLog:Security", "XmlWinEventLog:Security")


# wineventlog_windows' NOT (EventCode=...) list, windows_security_change_account's EventCode IN
CHANGE_ACCOUNT = {4703, 4704, 4705, 4722, 4723, 4724, 4725, 4726, 4738, 4767, 4781}
AUDIT_STATUS = ("0xC0000064", "0xC000006A", "0xC000006F", "0xC0000070", "0xC0000071",
                "0xC0000072", "0XC000018C", "0XC0000192", "0xC0000193", "0xC0000234",
                "0XC00002EE", "0XC0000413")
LOGON_FAILURE_OLD = {529, 530, 531, 532, 533, 534, 535, 536, 537, 539}

ETYPES = [
    # ---- Global Windows Eventtype
    # [windows_event_signature] sourcetype=WinEventLog OR sourcetype=XmlWinEventLog OR ...
    ("windows_event_signature", None, None,
     lambda s: s.eq("sourcetype", "WinEventLog", "XmlWinEventLog", "WMI:WinEventLog:System",
                    "WMI:WinEventLog:Security", "WMI:WinEventLog:Application", "wineventlog",
                    "xmlwineventlog"), "track_event_signatures"),
    # [wineventlog_windows] eventtype=wineventlog_application OR ... OR eventtype=wineventlog-dns
    #   NOT (EventCode=4703 OR ... OR EventCode=4781)
    ("wineventlog_windows", None, None,
     lambda s: any(s.et(n) for n in (
         "wineventlog_application", "wineventlog_system", "wineventlog_security",
         "wineventlog-ds", "wineventlog-dfs", "wineventlog-keymanagement",
         "wineventlog-filereplication", "wineventlog-dns")) and s.code not in CHANGE_ACCOUNT,
     "os windows endpoint filesystem"),
    # [wineventlog_application] source=WinEventLog:Application OR source=WMI:... OR source=Xml...
    ("wineventlog_application", None, None,
     lambda s: s.eq("source", "WinEventLog:Application", "WMI:WinEventLog:Application",
                    "XmlWinEventLog:Application"), "os windows"),
    # [wineventlog_system] (the same for System)
    ("wineventlog_system", None, None,
     lambda s: s.eq("source", "WinEventLog:System", "WMI:WinEventLog:System",
                    "XmlWinEventLog:System"), "os windows"),
    # [wineventlog_security] (the same for Security)
    ("wineventlog_security", None, None,
     lambda s: s.eq("source", "WinEventLog:Security", "WMI:WinEventLog:Security",
                    "XmlWinEventLog:Security"), "os windows"),
    # [winapp] eventtype=wineventlog_application; [winsec]; [winsystem]
    ("winapp", None, None, lambda s: s.et("wineventlog_application"), ""),
    ("winsec", None, None, SEC, "security"),
    ("winsystem", None, None, SYS, ""),
    # ---- Security: Account Logon (eventtype=wineventlog_security (EventCode=... OR ...))
    ("windows_auth_ticket_granted", None, {4768, 672, 676}, SEC, "authentication"),
    ("windows_service_ticket_granted", None, {4769, 4773, 673, 677}, SEC, "authentication"),
    ("windows_ticket_renewed", None, {4770, 674}, SEC, ""),
    ("windows_pre_auth_failed", None, {4771, 675}, SEC, "authentication"),
    ("windows_account_mapped", None, {4774, 678}, SEC, "authentication"),
    ("windows_account_notmapped", None, {4775, 679}, SEC, "authentication"),
    ("windows_account_used4logon", None, {4776, 4777, 680, 681}, SEC, "authentication"),
    ("windows_session_reconnected", None, {4778, 682}, SEC, ""),
    ("windows_session_disconnected", None, {4779, 683}, SEC, "access stop logoff"),
    # ---- Security: Account Management
    # [windows_account_management] eventtype=wineventlog_security
    #   (ta_windows_security_CategoryString="Account Management" OR
    #    TaskCategory="User Account Management"); the first a lookup's field (never present)
    ("windows_account_management", None, None,
     lambda s: SEC(s) and (s.eq("ta_windows_security_CategoryString", "Account Management")
                           or s.eq("TaskCategory", "User Account Management")),
     "account change management"),
    ("windows_account_created", None, {4720, 4741, 624, 645}, SEC, "add account change"),
    ("windows_account_enabled", None, {4722, 626}, SEC, "enable account change"),
    ("windows_account_password_change", None, {4723, 627}, SEC,
     "password modify account change"),
    ("windows_account_password_set", None, {4724, 628}, SEC, "password modify account change"),
    ("windows_account_disabled", None, {4725, 629}, SEC, "disable account change"),
    ("windows_account_deleted", None, {4726, 4743, 630, 647}, SEC, "delete account change"),
    ("windows_account_modified", None, {4738, 4742, 642, 646, 625}, SEC,
     "modify account change"),
    ("windows_account_lockout", None, {4740, 644}, SEC, "lock lockout account change"),
    ("windows_account_unlocked", None, {4767, 671}, SEC, "modify account change"),
    # ---- Security: Audit (Event Log)
    ("windows_audit_log_stopped", None, {1100}, SEC,
     "audit change endpoint stop stopped watchlist"),
    ("windows_audit_errors", None, {1101, 1104, 1108}, SEC, "audit error"),
    ("windows_audit_log_cleared", None, {1102, 517}, SEC,
     "audit change delete endpoint cleared watchlist"),
    ("windows_audit_backup", None, {1105}, SEC, "audit backup change"),
    # [windows_audit_log_logon] eventtype=wineventlog_security EventCode=4625
    #   (ta_windows_status=0xC0000064 OR ... OR ta_windows_status=0XC0000413)
    ("windows_audit_log_logon", None, {4625},
     lambda s: SEC(s) and s.eq("ta_windows_status", *AUDIT_STATUS), "audit change"),
    # ---- Security: Logon/Logoff
    ("windows_logoff", None, {4634, 4647, 538, 551}, SEC, "access stop logoff"),
    ("windows_logon_explicit", None, {4648, 552}, SEC, "authentication privileged"),
    # [windows_logon_failure] eventtype=wineventlog_security ((EventCode=4625 AND
    #   ta_windows_action!=error) OR EventCode=529 OR ... OR EventCode=539)
    ("windows_logon_failure", None, None,
     lambda s: SEC(s) and ((s.code == 4625 and s.ne("ta_windows_action", "error"))
                           or s.code in LOGON_FAILURE_OLD), "authentication"),
    ("windows_logon_success", None, {4624, 528, 540}, SEC, "authentication"),
    # ---- Security: Object Access
    ("windows_object_open", None, {4656, 560}, SEC, "resource file access start"),
    ("windows_handle_closed", None, {4658, 562}, SEC, "resource file access stop"),
    # ---- Security: Policy Change
    ("windows_audit_policy_change", None, {4715, 4719, 612}, SEC,
     "policy configuration modify audit change"),
    ("windows_security_access_granted", None, {4717, 621}, SEC,
     "access authorization add change account"),
    ("windows_security_access_removed", None, {4718, 622}, SEC,
     "access authorization delete change account"),
    ("windows_audit_policy_changed", None, {4912, 807}, SEC,
     "policy configuration modify audit change"),
    ("windows_firewall_policy_active", None, {848, 849, 850}, SEC,
     "application firewall configuration report"),
    ("windows_firewall_policy_change", None, {4946, 4947, 4948, 851, 852}, SEC,
     "application firewall configuration modify"),
    ("windows_firewall_port_listening", None, {4957, 861}, SEC,
     "application firewall port listening report"),
    # ---- Security: Privilege Use
    ("windows_special_privileges", None, {4672, 576}, SEC, "authentication privileged"),
    ("windows_privileged_service_call", None, {4673, 577}, SEC,
     "process execute start privileged"),
    ("windows_privileged_object_operation", None, {4674, 578}, SEC,
     "resource execute start privileged"),
    # ---- Security: Process Tracking
    ("windows_process_new", None, {4688, 592}, SEC, "process execute start"),
    ("windows_process_exit", None, {4689, 593}, SEC, "process execute stop"),
    ("windows_process_token", None, {4696, 600}, SEC, "process execute start privileged"),
    # ---- Security: System
    ("windows_auth_package", None, {4610, 514}, SEC, "process execute start"),
    ("windows_logon_process", None, {4611, 515}, SEC, "process authorization add"),
    ("windows_notification_package", None, {4614, 518}, SEC, "process execute start"),
    # ---- Security: Vulnerability
    # [windows_security_misconfiguration_password_minimum_length] eventtype=wineventlog_security
    #   EventCode="4739" (Min__Password_Length<7 OR Mixed_Domain_Mode<7)
    ("windows_security_misconfiguration_password_minimum_length", None, {4739},
     lambda s: SEC(s) and (s.lt("Min__Password_Length", 7) or s.lt("Mixed_Domain_Mode", 7)),
     "misconfiguration password policy vulnerability report audit change"),
    # ---- System: Time
    # [windows_time_sync] (eventtype=wineventlog_system (SourceName=W32Time OR
    #   SourceName=Microsoft-Windows-Time-Service) (EventCode=35 OR EventCode=37)) OR
    #   (sourcetype=Script:TimesyncStatus windows_action=success)
    ("windows_time_sync", None, None,
     lambda s: (SYS(s) and s.eq("SourceName", "W32Time", "Microsoft-Windows-Time-Service")
                and s.code in (35, 37))
     or (s.eq("sourcetype", "Script:TimesyncStatus") and s.eq("windows_action", "success")),
     "report time synchronize success performance"),
    # [windows_time_failure] (eventtype=wineventlog_system (SourceName=W32Time OR
    #   Microsoft-Windows-Time-Service) (EventCode=17 OR 29 OR 36 OR 38)) OR
    #   (sourcetype=Script:TimesyncStatus windows_action=failure); the bare word searches _raw
    ("windows_time_failure", None, None,
     lambda s: (SYS(s) and (s.eq("SourceName", "W32Time")
                            or s.raw("Microsoft-Windows-Time-Service"))
                and s.code in (17, 29, 36, 38))
     or (s.eq("sourcetype", "Script:TimesyncStatus") and s.eq("windows_action", "failure")),
     "report time synchronize failure performance"),
    # ---- System: Update
    # [windows_system_update] eventtype=wineventlog_system "Windows Update Agent" (_raw)
    ("windows_system_update", None, None,
     lambda s: SYS(s) and s.raw("Windows Update Agent"), "system update"),
    # [windows_system_update_status] the same (EventCode=17 OR EventCode=18 OR EventCode=19)
    ("windows_system_update_status", None, {17, 18, 19},
     lambda s: SYS(s) and s.raw("Windows Update Agent"), "status"),
    # ---- AD/DNS eventtypes: source="WinEventLog:<channel>" OR source="XmlWinEventLog:<channel>"
    ("wineventlog-ds", None, None,
     lambda s: s.eq("source", "WinEventLog:Directory Service",
                    "XmlWinEventLog:Directory Service"), ""),
    ("wineventlog-dns", None, None,
     lambda s: s.eq("source", "WinEventLog:DNS Server", "XmlWinEventLog:DNS Server"), ""),
    ("wineventlog-dfs", None, None,
     lambda s: s.eq("source", "WinEventLog:DFS Replication", "XmlWinEventLog:DFS Replication"),
     ""),
    ("wineventlog-filereplication", None, None,
     lambda s: s.eq("source", "WinEventLog:File Replication Service",
                    "XmlWinEventLog:File Replication Service"), ""),
    ("wineventlog-keymanagement", None, None,
     lambda s: s.eq("source", "WinEventLog:Key Management Service",
                    "XmlWinEventLog:Key Management Service"), ""),
    # [endpoint_services_processes] source="WMI:WinEventLog:Security" OR
    #   sourcetype="WinEventLog" OR sourcetype="XmlWinEventLog"
    ("endpoint_services_processes", None, None,
     lambda s: s.eq("source", "WMI:WinEventLog:Security")
     or s.eq("sourcetype", "WinEventLog", "XmlWinEventLog"), ""),
    # [windows_endpoint_processes] (source="WinEventLog:Security" OR
    #   source="XmlWinEventLog:Security") (EventCode=4688 OR ... OR EventCode=4674)
    ("windows_endpoint_processes", None, {4688, 4689, 4696, 4673, 4674}, SEC_SOURCE,
     "process report"),
    # [windows_endpoint_services] (source=...Security OR source=...System, WinEventLog: and
    #   XmlWinEventLog:) (EventCode=1100 OR ... OR EventCode=7045)
    ("windows_endpoint_services", None,
     {1100, 4697, 5024, 5025, 5030, 5033, 5034, 5035, 5478, 7036, 7040, 7045},
     lambda s: s.eq("source", "WinEventLog:Security", "XmlWinEventLog:Security",
                    "WinEventLog:System", "XmlWinEventLog:System"), "service report"),
    # ---- Security-CIM Mappings: (source=WinEventLog:Security OR source=XmlWinEventLog:Security)
    # [windows_security_endpoint_registry] ... (EventCode=4657 OR (EventCode=4670 AND
    #   (Object_Type="Registry" OR ObjectType="Registry")))
    ("windows_security_endpoint_registry", None, None,
     lambda s: SEC_SOURCE(s) and (s.code == 4657 or (s.code == 4670 and (
         s.eq("Object_Type", "Registry") or s.eq("ObjectType", "Registry")))),
     "endpoint registry"),
    ("windows_security_endpoint_port", None, {5158}, SEC_SOURCE, "listening port"),
    ("windows_security_change_audit", None, {1101, 1108}, SEC_SOURCE, "change audit"),
    ("windows_security_change", None, {5461}, SEC_SOURCE, "change"),
    ("windows_security_authentication", None, {4801}, SEC_SOURCE, "authentication"),
    # [windows_security_change_account] ... AND EventCode IN (4703,4704,...,4781)
    ("windows_security_change_account", None, CHANGE_ACCOUNT, SEC_SOURCE, "change account"),
    # ---- the Sysmon add-on
    ("ms-sysmon-process", ["Sysmon"], {1, 5, 6, 8, 9, 10, 15, 17, 18}, None, "process report"),
    ("ms-sysmon-network", ["Sysmon"], {3}, None, "network communicate"),
    ("ms-sysmon-filemod", ["Sysmon"], {2, 11}, None, "endpoint filesystem"),
    ("ms-sysmon-regmod", ["Sysmon"], {12, 13, 14}, None, "endpoint registry"),
    ("ms-sysmon-wmimod", ["Sysmon"], {19, 20, 21}, None, ""),
    ("ms-sysmon-dns", ["Sysmon"], {22}, None, "network resolution dns"),
]
ETYPE_BY_NAME = {row[0]: row for row in ETYPES}

# tags.conf's field-value stanzas [<field>=<value>] (value percent-encoded there): their enabled
# tags go to every event with that value of the field (compared as field=value compares,
# case-insensitively), whatever its eventtypes. Of these fields the reference extracts
# Logon_Type and Token_Elevation_Type_id (REPORTs above); privilege_id is never made for an
# XML event (see REPORTS), app comes from lookups (windows_app_lookup) and Service_Name from
# the classic rendering, so those rows do not apply.
FIELD_TAGS = [
    ("Service_Name", "kadmin%2Fchangepw", "account change password modify"),
    ("privilege_id", "SeAuditPrivilege", "audit"),
    ("privilege_id", "SeSecurityPrivilege", "audit"),
    ("app", "win%3Alocal", "local"),
    ("app", "win%3Aremote", "remote"),
    ("Logon_Type", "8", "cleartext"),
    ("Token_Elevation_Type_id", "2", "privileged"),
    ("app", "W32Time", "time synchronize"),
    ("app", "wuauserv", "automatic update"),
]


def add(f, k, v):
    f.setdefault(k, []).append(v)


def extract(ev, native=False):
    f = {}
    ch = ev["channel"] or ""
    scope = SCOPES.get(ch.lower())
    # ESCU's ms_defender, remoteconnectionmanager and printservice macros name WinEventLog:
    classic = ("microsoft-windows-windows defender/operational",
               "microsoft-windows-terminalservices-remoteconnectionmanager/operational",
               "microsoft-windows-printservice/operational", "microsoft-windows-printservice/admin")
    prefix = "WinEventLog:" if ch.lower() in classic else "XmlWinEventLog:"
    add(f, "source", prefix + ch)
    add(f, "sourcetype", "XmlWinEventLog")
    if ev["computer"] is not None:
        add(f, "host", ev["computer"])
    attr_elems = {n.split("@")[0] for n, _ in ev["sys"] if "@" in n}
    for n, v in ev["sys"]:
        if "@" in n:
            add(f, n.split("@", 1)[1], v)
        elif native or n not in attr_elems:
            add(f, n, v)
    if ev["event_id"] is not None:
        if not ev["sys"]:
            add(f, "EventID", str(ev["event_id"]))
        add(f, "EventCode", str(ev["event_id"]))
    if not ev["sys"]:
        if ev["computer"] is not None:
            add(f, "Computer", ev["computer"])
        add(f, "Channel", ch)
    if ev["record"]:
        add(f, "RecordNumber", ev["record"])
    for k, v in ev["data"]:
        name = clean_key(k)
        if name and (v or ev["json"]):
            add(f, name, v)
    for k, t in ev.get("parts", {}).items():
        if t is not None:
            add(f, k, json.dumps(t, ensure_ascii=False))
    code = ev["event_id"]
    stanzas = ("Xml", scope)
    for st, dst, src, how in REPORTS:
        if st in stanzas and dst not in f and f.get(src):
            v = report_value(how, f[src][0])
            if native and how == "srcip":
                v = f[src][0]
            if v:
                add(f, dst, v)
    for dst, rx in SYSMON_HASHES if scope == "Sysmon" else ():
        hit = next((m.group(1) for _, v in ev["sys"] + ev["data"] for m in [rx.search(v)] if m),
                   None)
        if hit and dst not in f:
            add(f, dst, hit)
    for st, dst, src in ALIASES:
        if st in stanzas and src in f:
            f[dst] = list(f[src])
    snap = {k: list(v) for k, v in f.items()}

    def g(n):
        return snap[n][0] if n in snap else None
    evals = eval_xml(f, code, g)
    if scope == "Security":
        evals.update(eval_security(f, code, g))
    elif scope == "System":
        evals.update(eval_system(f, code, g))
    elif scope == "Application":
        evals.update(eval_application(f, code, g))
    elif scope == "Sysmon":
        evals.update(eval_sysmon(f, code, g, native))
    for k, v in evals.items():
        if v is KEEP:
            continue
        f.pop(k, None)
        if v:
            f[k] = [v]
    raw = [v for _, v in ev["sys"] + ev["data"]] + ev.get("raw_sys", [])
    s = Search(f, code, scope, ch, raw)
    ets, tags = [], set()
    for row in ETYPES:
        if etype_holds(row, s):
            ets.append(row[0])
            tags.update(row[4].split())
    for field, value, tg in FIELD_TAGS:
        if s.eq(field, urllib.parse.unquote(value)):
            tags.update(tg.split())
    if ets:
        f["eventtype"] = sorted(ets)
    if tags:
        f["tag"] = sorted(tags)
    out = {}
    m = re.match(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?Z?$", ev["time"] or "")
    if m:
        out["_time"] = "%sT%s.%sZ" % (m.group(1), m.group(2), ((m.group(3) or "") + "0" * 6)[:6])
    for k, v in f.items():
        out[k] = v[0] if len(v) == 1 else v
    return out


def events_of(path):
    if path.endswith(".evtx"):
        text = subprocess.run(["evtxexport", "-f", "xml", path], capture_output=True,
                              check=False).stdout.decode("utf-8", "replace")
        yield from xml_events(text)
    elif path.endswith(".xml"):
        with open(path, encoding="utf-8", errors="replace") as fh:
            yield from xml_events(fh.read())
    else:
        yield from json_events(path)


def main(argv):
    native = "--native" in argv
    for p in [a for a in argv if a != "--native"]:
        for ev in events_of(p):
            sys.stdout.write(json.dumps(extract(ev, native), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
