#!/usr/bin/env python3
"""Differential test of `escudo dump --fields` against Splunk's own field lists.

Each data source of escu-full (`data_sources/*.yml`) that a Windows event log feeds carries an
`example_log` (a real XmlWinEventLog event) and `fields`, the field names Splunk showed for that
source with the add-ons its `supported_TA` names (Splunk_TA_windows 8.x, Splunk Add-on for
Sysmon 4.0.2). For every such example, each Splunk field escudo does not give must be a known
gap below, with its reason; Splunk's own fields (date_*, punct, splunk_server, ...) do not count.
The lists are Splunk's over a data set, so a field can be missing because this example leaves
it empty (the last group). Examples the content itself truncated or damaged are reported by
escudo as malformed and counted, not compared. Environment: ESCUDO, ESC_SHARED_DATA."""

import glob
import json
import os
import subprocess
import sys
import tempfile

import yaml

SPLUNK_OWN = {"_time", "_raw", "host", "source", "sourcetype", "index", "linecount", "punct",
              "splunk_server", "splunk_server_group", "timestartpos", "timeendpos", "timestamp",
              "eventtype", "tag", "tag::eventtype", "date_hour", "date_mday", "date_minute",
              "date_month", "date_second", "date_wday", "date_year", "date_zone"}

LOOKUP = "made by a LOOKUP-* setting, not applied (docs/fields.md, Differences)"
SYSMON_4 = ("a Sysmon add-on 4.x row whose props.conf was not found (docs/fields.md, Sysmon: "
            "open point)")
EMPTY = "empty or absent in this example; Splunk's list covers its whole data set"
NEWER = ("the lists are Splunk_TA_windows 8.9.0's; escudo follows 8.4.0's stanzas "
         "(docs/fields.md), which give these channels no such row")

KNOWN = {
    "signature": LOOKUP, "EventDescription": LOOKUP, "action": LOOKUP, "status": LOOKUP,
    "app": LOOKUP, "name": LOOKUP, "subject": LOOKUP, "change_type": LOOKUP,
    "object_category": LOOKUP, "object_attrs": LOOKUP, "result": LOOKUP, "severity": LOOKUP,
    "CategoryString": LOOKUP, "ta_windows_security_CategoryString": LOOKUP,
    "start_mode": LOOKUP, "tag::action": LOOKUP,
    "tag::app": LOOKUP, "tag::object_category": LOOKUP,
    "process_exec": SYSMON_4, "os": SYSMON_4, "object_path": SYSMON_4, "object": SYSMON_4,
    "parent_process_exec": SYSMON_4, "parent_process_guid": SYSMON_4,
    "parent_process_id": SYSMON_4, "parent_process_name": SYSMON_4,
    "parent_process_path": SYSMON_4, "src": SYSMON_4, "user_name": SYSMON_4,
    "file_hash": SYSMON_4, "pipe_name": SYSMON_4, "granted_access": SYSMON_4,
"RegistryValueType": SYSMON_4, "registry_value_type": SYSMON_4,
    "file_create_time": SYSMON_4, "file_name": SYSMON_4, "file_path": SYSMON_4,
    "DestinationNoQuotes": SYSMON_4, "ConsumerNoQuotes": SYSMON_4, "FilterNoQuotes": SYSMON_4,
    "query_count": SYSMON_4, "file_modify_time": SYSMON_4, "creation_time": SYSMON_4,
    "dvc_ip": SYSMON_4, "protocol": SYSMON_4, "protocol_version": SYSMON_4, "state": SYSMON_4,
    "transport_dest_port": SYSMON_4, "process": SYSMON_4, "process_path": SYSMON_4,
    "service_signature_exists": SYSMON_4, "service_signature_verified": SYSMON_4,
    "service_dll_signature_exists": SYSMON_4, "service_dll_signature_verified": SYSMON_4,
    "src_address": SYSMON_4, "src_function": SYSMON_4, "src_module": SYSMON_4,
    # TaskScheduler events
    "Error_Code": NEWER, "dest": NEWER, "product": NEWER, "vendor": NEWER,
    "ta_windows_action": NEWER,
    # Security 1100: [source::XmlWinEventLog:Security] LOOKUP-service_name =
    # windows_endpoint_service_service_name_lookup EventCode OUTPUTNEW service, service_name
    "service": LOOKUP, "service_name": LOOKUP,
    "New_Value": EMPTY, "Old_Value": EMPTY, "Target_Commandline": EMPTY, "Involved_File": EMPTY,
    "Path": EMPTY,
}

# Fields this test pins as given (the rows that made them), so that losing one fails.
MUST = {"sysmon_eventid_1.yml": {"MD5", "SHA256", "IMPHASH", "TimeCreated", "RecordID",
                                 "EventChannel", "SecurityID"},
        "sysmon_eventid_7.yml": {"MD5", "SHA256", "IMPHASH"},
        "sysmon_eventid_10.yml": {"process_guid", "System_Props_Xml", "EventData_Xml"},
        "windows_event_log_capi2_70.yml": {"System_Props_Xml", "UserData_Xml"},
        "windows_event_log_system_7040.yml": {"System_Props_Xml", "EventData_Xml"},
        "windows_event_log_security_1102.yml": {"UserData_Xml", "LogFileCleared_Xml"},
        "windows_event_log_defender_1121.yml": {"Process_Name", "Parent_Commandline",
                                                "Product_Version", "Detection_Time"}}


def main():
    escudo = os.environ.get("ESCUDO", "build/escudo")
    shared = os.environ.get("ESC_SHARED_DATA", os.path.join(os.path.dirname(__file__),
                                                            "../../../shared/data"))
    files = sorted(glob.glob(os.path.join(shared, "escu-full/data_sources/*.yml")))
    if not files:
        print("t_data_sources: no escu-full data sources under", shared)
        return 77
    compared = damaged = listed = 0
    bad = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            d = yaml.safe_load(open(path, encoding="utf-8"))
            src, ex = str(d.get("source", "")), str(d.get("example_log") or "").strip()
            if not src.startswith(("XmlWinEventLog:", "WinEventLog:")) or \
                    not ex.startswith("<Event"):
                continue
            name = os.path.basename(path)
            xml = os.path.join(tmp, name + ".xml")
            with open(xml, "w", encoding="utf-8") as f:
                f.write(ex + "\n")
            r = subprocess.run([escudo, "dump", "--fields", xml], capture_output=True,
                               text=True, check=False)
            if not r.stdout.strip():
                if "malformed" not in r.stderr and "truncated" not in r.stderr and \
                        "does not match" not in r.stderr:
                    bad.append("%s: no event and no malformed-event warning: %s"
                               % (name, r.stderr.strip()))
                damaged += 1
                continue
            got = set(json.loads(r.stdout.splitlines()[0]))
            want = {str(x) for x in d.get("fields") or []} - SPLUNK_OWN
            compared += 1
            listed += len(want)
            for fld in sorted(want - got):
                if fld not in KNOWN:
                    bad.append("%s: Splunk gives %s, escudo does not" % (name, fld))
            for fld in sorted(MUST.get(name, set()) - got):
                bad.append("%s: %s is pinned, escudo does not give it" % (name, fld))
    for b in bad:
        print(b)
    print("t_data_sources: %d examples compared (%d Splunk fields), %d damaged in the content, "
          "%d problems" % (compared, listed, damaged, len(bad)))
    return 1 if bad or compared < 40 else 0


if __name__ == "__main__":
    sys.exit(main())
