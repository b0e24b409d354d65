#!/usr/bin/env python3
"""Golden tests of `escudo dump --fields`, one crafted XmlWinEventLog event per event family.

Each expected value was worked out by hand from the add-on setting named in its comment
(Splunk_TA_windows 8.4.0 props.conf/transforms.conf/eventtypes.conf/tags.conf; the Sysmon
add-on's source stanza as docs/fields.md describes it), not taken from escudo's output. None
means the field must be absent. Environment: ESCUDO."""

import json
import os
import re
import subprocess
import sys
import tempfile


def event(provider, channel, eid, data, computer="WS1.corp.local", sys_extra="",
          eid_attrs="", userdata=None):
    d = "".join("<Data Name='%s'>%s</Data>" % (k, v) for k, v in data.items())
    body = "<EventData>%s</EventData>" % d if userdata is None else "<UserData>%s</UserData>" % userdata
    return ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
            "<Provider Name='%s' Guid='{11111111-2222-3333-4444-555555555555}'/>"
            "<EventID%s>%d</EventID><Version>2</Version><Level>4</Level><Task>12544</Task>"
            "<Opcode>0</Opcode><Keywords>0x8020000000000000</Keywords>"
            "<TimeCreated SystemTime='2024-05-01T10:00:00.1234567Z'/>"
            "<EventRecordID>42</EventRecordID><Correlation ActivityID='{AAAA0000-0000-0000-0000-000000000001}'/>"
            "<Execution ProcessID='636' ThreadID='700'/><Channel>%s</Channel>"
            "<Computer>%s</Computer>%s</System>%s</Event>"
            % (provider, eid_attrs, eid, channel, computer, sys_extra, body))


SEC = ("Microsoft-Windows-Security-Auditing", "Security")
SYSMON = ("Microsoft-Windows-Sysmon", "Microsoft-Windows-Sysmon/Operational")
SID = "<Security UserID='S-1-5-18'/>"

CASES = [
    # ---- Security ----
    ("4624", event(*SEC, 4624, {"SubjectUserName": "WS1$", "SubjectDomainName": "CORP",
                                "TargetUserName": "alice", "TargetDomainName": "CORP",
                                "LogonType": "3", "IpAddress": "10.0.0.5", "IpPort": "50000",
                                "WorkstationName": "-"}),
     {"source": "XmlWinEventLog:Security",            # ta-windows-fix-xml-source
      "sourcetype": "XmlWinEventLog",
      "EventCode": "4624", "EventID": "4624",          # REPORT-EventCode_from_xml, system_props_xml_kv
      "RecordNumber": "42",                            # REPORT-RecordNumber_from_xml
      "Name": "Microsoft-Windows-Security-Auditing",   # system_props_xml_attributes
      "ActivityID": "{AAAA0000-0000-0000-0000-000000000001}",
      "ProcessID": "636", "ThreadID": "700", "Keywords": "0x8020000000000000",
      "user": "alice",                                  # user_for_windows_security: Target_User_Name_as_user
      "Logon_Type": "3",                               # LogonType_as_Logon_Type
      "src_ip": "10.0.0.5",                            # EXTRACT-1IpAddress_for_windows_security_from_xml
      "Source_Workstation": "-",                       # REPORT-Source_Workstation_from_xml: Workstation
                                                       # absent, WorkstationName "-" matches (.+) first
      "src": None,                                     # Source_Workstation_as_src: ([^-].*) rejects "-"
      "src_port": "50000",                             # IpPort_as_Source_Port + FIELDALIAS src_port
      "src_user": "WS1$",                              # Caller_User_Name_as_src_user
      "dest": "WS1.corp.local",                        # Computer_as_dest
      "signature_id": "4624", "vendor_product": "Microsoft Windows",
      "ta_windows_action": "failure",                  # EVAL-ta_windows_action: 1=1 branch (no Status)
      "Error_Code": "-",                               # EVAL-Error_Code
      "action": None,                                  # EVAL-action: only 4688 (lookups not applied)
      # endpoint_services_processes: sourcetype="XmlWinEventLog" (every event here, no tags);
      # winsec: eventtype=wineventlog_security, tags.conf [eventtype=winsec] security
      "eventtype": ["endpoint_services_processes", "windows_event_signature",
                    "windows_logon_success", "wineventlog_security", "wineventlog_windows",
                    "winsec"],
      "tag": ["authentication", "endpoint", "filesystem", "os", "security",
              "track_event_signatures", "windows"]}),
    ("4625", event(*SEC, 4625, {"TargetUserName": "bob", "Status": "0xC000006D",
                                "SubStatus": "0xC000006A", "IpAddress": "127.0.0.1",
                                "SubjectUserName": "-"}),
     {"Sub_Status": "0xC000006A",                      # REPORT-Sub_Status_from_xml
      "ta_windows_status": "0xC000006D",               # FIELDALIAS-Status_as_ta_windows_status
      "ta_windows_action": "failure",                  # EVAL-ta_windows_action (not in its list)
      "Error_Code": "0xC000006D",                      # EVAL-Error_Code: Status
      "src_ip": None,                                  # EXTRACT-1IpAddress: (?!127\.0\.0\.1)
      "src_user": None,                                # Caller_User_Name_as_src_user: (?!^-$)
      "user": "bob",
      "eventtype": ["endpoint_services_processes", "windows_event_signature",
                    "windows_logon_failure", "wineventlog_security", "wineventlog_windows",
                    "winsec"],                         # ta_windows_action!=error; no
                                                       # windows_audit_log_logon: Status (not
                                                       # SubStatus) is ta_windows_status
      "tag": ["authentication", "endpoint", "filesystem", "os", "security",
              "track_event_signatures", "windows"]}),
    ("4662", event(*SEC, 4662, {"SubjectUserName": "svc", "ObjectName": "%{1234}",
                                "Properties": "%%7688\n\t\t{1131f6aa-9c07-11d1-f79f-00c04fc2dcd2}"}),
     {"object_file_path": "%{1234}", "object_file_name": "%{1234}",  # REPORT-file_name_and_path
      "Caller_User_Name": "svc", "src_user": "svc",
      "Properties": "%%7688\n\t\t{1131f6aa-9c07-11d1-f79f-00c04fc2dcd2}",  # eventdata_xml_data
      "user": None}),                                 # no Target_User_Name
    ("4688", event(*SEC, 4688, {"SubjectUserName": "alice", "TargetUserName": "-",
                                "NewProcessName": "C:\\Program Files\\App\\app.exe",
                                "CommandLine": "app.exe -x 1", "ProcessId": "0x1f4",
                                "NewProcessId": "0x2a0",
                                "ParentProcessName": "C:\\Windows\\explorer.exe"}),
     {"process": "\"C:\\Program Files\\App\\app.exe\" -x 1",  # EVAL-process: no '\' in token, quoted path
      "process_name": "app.exe",                       # EVAL-process_name: new_process_name
      "process_path": "C:\\Program Files\\App\\app.exe",
      "process_id": "0x2a0", "parent_process_id": "0x1f4",
      "parent_process_name": "explorer.exe", "parent_process_path": "C:\\Windows\\explorer.exe",
      "process_exec": "app.exe",
      "user": "alice",                                 # EVAL-user 4688: user "-" -> src_user
      "action": "allowed",                             # EVAL-action: Keywords 0x8020000000000000
      "eventtype": ["endpoint_services_processes", "windows_endpoint_processes",
                    "windows_event_signature", "windows_process_new", "wineventlog_security",
                    "wineventlog_windows", "winsec"]}),
    ("4698", event(*SEC, 4698, {"SubjectUserName": "alice", "TaskName": "\\Evil",
                                "TaskContent": "&lt;Task&gt;x&lt;/Task&gt;"}),
     {"TaskName": "\\Evil", "TaskContent": "<Task>x</Task>",  # decoded (docs/fields.md)
      "src_user": "alice", "user": None}),
    ("4720", event(*SEC, 4720, {"SubjectUserName": "admin", "TargetUserName": "newbie",
                                "SamAccountName": "newbie", "TargetSid": "S-1-5-21-1-1001"}),
     {"user": "newbie", "user_group": "newbie",       # Target_User_Name_as_user; EVAL-user_group
      "object_attrs": None,                            # EVAL-object_attrs: 4720 -> null()
      "Group_Name": None, "Group_Domain": None,        # EVAL-Group_Name/-Group_Domain: 4720 is
                                                       # not in their EventCode ranges
      "eventtype": ["endpoint_services_processes", "windows_account_created",
                    "windows_event_signature", "wineventlog_security", "wineventlog_windows",
                    "winsec"],                         # 4720 is not in wineventlog_windows' NOT
      "tag": ["account", "add", "change", "endpoint", "filesystem", "os", "security",
              "track_event_signatures", "windows"]}),
    ("4732", event(*SEC, 4732, {"MemberName": "-", "MemberSid": "S-1-5-21-1-1001",
                                "TargetUserName": "Administrators", "TargetDomainName": "Builtin",
                                "TargetSid": "S-1-5-32-544", "SubjectUserName": "admin",
                                "SubjectDomainName": "CORP", "PrivilegeList": "-"}),
     # [source::XmlWinEventLog:Security] EVAL-Group_Name = case(isnotnull(TargetUserName) AND
     # ((EventCode>=4727 AND EventCode<=4735) OR EventCode==4737 OR (EventCode>=4744 AND
     # EventCode<=4764) OR EventCode==4799), TargetUserName, 1=1, Group_Name); EVAL-Group_Domain
     # the same with TargetDomainName
     {"Group_Name": "Administrators", "Group_Domain": "Builtin",
      "PrivilegeList": "-",                            # eventdata_xml_data
      "vendor_privilege": None,                        # REPORT-0privilege_for_windows_security_xml
                                                       # sorts before REPORT-0xml_kv_extract
                                                       # ('p' < 'x'): no PrivilegeList yet
      "privilege_id": None}),                          # privilege_id_for_windows_security reads
                                                       # vendor_privilege
    # an event as a Splunk forwarder sends it with renderXml: its <RenderingInfo> leaves are
    # fields by transforms.conf rendering_info_xml_data ((?ms)<(\w*)>([^<]*)<\/\1>, MV_ADD:
    # "the extractor makes the field a multivalued field and appends the newly found value",
    # transforms.conf.spec), after the System and Data fields; entities stay as written
    ("4732-rendering", event(*SEC, 4732, {"TargetUserName": "Administrators"}).replace(
        "</Event>", "<RenderingInfo Culture='en-US'><Message>A member was added &amp; kept."
        "</Message><Level>Information</Level><Task>Security Group Management</Task>"
        "<Opcode>Info</Opcode><Channel>Security</Channel><Provider>Microsoft Windows security "
        "auditing.</Provider><Keywords><Keyword>Audit Success</Keyword></Keywords>"
        "</RenderingInfo></Event>"),
     {"Message": "A member was added &amp; kept.",
      "Level": ["4", "Information"], "Task": ["12544", "Security Group Management"],
      "Opcode": ["0", "Info"], "Channel": ["Security", "Security"],
      "Provider": "Microsoft Windows security auditing.",
      "Keyword": "Audit Success",                      # <Keywords> holds an element: no match
      "Keywords": "0x8020000000000000",
      "body": "A member was added &amp; kept."}),     # FIELDALIAS-body_for_windows_security
    ("4672", event(*SEC, 4672, {"SubjectUserName": "admin", "SubjectDomainName": "CORP",
                                "PrivilegeList": "SeSecurityPrivilege\n\t\t\tSeBackupPrivilege"}),
     {"PrivilegeList": "SeSecurityPrivilege\n\t\t\tSeBackupPrivilege",
      "vendor_privilege": None, "privilege_id": None,  # as 4732
      # no tags.conf [privilege_id=SeSecurityPrivilege] audit: no privilege_id
      "eventtype": ["endpoint_services_processes", "windows_event_signature",
                    "windows_special_privileges", "wineventlog_security", "wineventlog_windows",
                    "winsec"],
      "tag": ["authentication", "endpoint", "filesystem", "os", "privileged", "security",
              "track_event_signatures", "windows"]}),
    ("4769", event(*SEC, 4769, {"TargetUserName": "alice@CORP.LOCAL", "ServiceName": "krbtgt",
                                "IpAddress": "::ffff:10.0.0.9", "TicketEncryptionType": "0x17"}),
     {"service": "krbtgt", "service_name": "krbtgt",  # FIELDALIAS-service_for_windows
      "src_ip": "::ffff:10.0.0.9", "TicketEncryptionType": "0x17",
      "eventtype": ["endpoint_services_processes", "windows_event_signature",
                    "windows_service_ticket_granted", "wineventlog_security",
                    "wineventlog_windows", "winsec"]}),
    ("5136", event(*SEC, 5136, {"SubjectUserName": "admin", "ObjectDN": "CN=x,DC=corp",
                                "AttributeLDAPDisplayName": "servicePrincipalName"}),
     {"ObjectDN": "CN=x,DC=corp", "AttributeLDAPDisplayName": "servicePrincipalName",
      "src_user": "admin", "dest": "WS1.corp.local"}),
    # ---- System ----
    ("7045", event("Service Control Manager", "System", 7045,
                   {"ServiceName": "evilsvc", "ImagePath": "C:\\x.exe", "StartType": "demand start",
                    "AccountName": "LocalSystem"}, eid_attrs=" Qualifiers='16384'"),
     {"source": "XmlWinEventLog:System",
      "EventCode": "7045",                             # EventID2_as_EventCode
      "EventID": None,                                 # system_props_xml_kv skips <EventID Qualifiers=..>
      "Qualifiers": "16384",                           # system_props_xml_attributes
      "service": "evilsvc", "service_name": "evilsvc", "dest": "WS1.corp.local",
      "vendor": "Microsoft", "product": "Windows", "Error_Code": "-",
      "eventtype": ["endpoint_services_processes", "windows_endpoint_services",
                    "windows_event_signature", "wineventlog_system", "wineventlog_windows",
                    "winsystem"],                      # winsystem: no tags.conf stanza
      "tag": ["endpoint", "filesystem", "os", "report", "service", "track_event_signatures",
              "windows"]}),
    # ---- Application ----
    ("app2282", event("Microsoft-Windows-IIS-W3SVC-WP", "Application", 2282,
                      {"ModuleDll": "c:\\temp\\x.dll"}, computer="EXCH1.corp.local"),
     {"source": "XmlWinEventLog:Application",
      "Error_Code": "-",                               # [source::XmlWinEventLog:Application]
                                                       # EVAL-Error_Code: 1==1 branch
      # FIELDALIAS-dest_for_xmlwineventlog_application = Computer AS dest
      "dest": "EXCH1.corp.local"}),
    ("app-status", event("Application Error", "Application", 1000, {"Status": "0xc0000005"}),
     {"Error_Code": "0xc0000005", "dest": "WS1.corp.local"}),  # EVAL-Error_Code: Status
    # ---- PowerShell ----
    ("4104", event("Microsoft-Windows-PowerShell", "Microsoft-Windows-PowerShell/Operational",
                   4104, {"MessageNumber": "1", "MessageTotal": "1",
                          "ScriptBlockText": "IEX (New-Object Net.WebClient).DownloadString('x')",
                          "ScriptBlockId": "{b1}", "Path": ""}, sys_extra=SID),
     {"source": "XmlWinEventLog:Microsoft-Windows-PowerShell/Operational",  # `powershell` macro
      "ScriptBlockText": "IEX (New-Object Net.WebClient).DownloadString('x')",
      "Path": None,                                    # empty value: no field
      "UserID": "S-1-5-18", "user_id": "S-1-5-18",     # FIELDALIAS-user_id_for_windows
      "dest": "WS1.corp.local",                        # 9.x REPORT-dest_for_microsoft_windows_powershell
      "signature_id": "4104",
      # eventtype powershell is source=Powershell: not this source
      "eventtype": ["endpoint_services_processes", "windows_event_signature"]}),
    # ---- Defender ----
    ("1116", event("Microsoft-Windows-Windows Defender",
                   "Microsoft-Windows-Windows Defender/Operational", 1116,
                   {"Threat Name": "HackTool:Win32/Mimikatz", "Path": "file:_C:\\m.exe"}),
     {"source": "WinEventLog:Microsoft-Windows-Windows Defender/Operational",  # ms_defender macro
      # eventdata_xml_data's names go through transforms.conf CLEAN_KEYS (default true): each
      # character outside a-z, A-Z, 0-9 becomes '_' (Splunk's own field list of a Defender 1121
      # event, escu-full data_sources/windows_event_log_defender_1121.yml, has Process_Name)
      "Threat_Name": "HackTool:Win32/Mimikatz", "Threat Name": None, "signature_id": "1116",
      "vendor_product": "Microsoft Windows"}),
    ("clean_keys", event("Microsoft-Windows-Windows Defender",
                         "Microsoft-Windows-Windows Defender/Operational", 1121,
                         {"Security intelligence Version": "1.401.912.0", "2nd-Try": "a",
                          "_x.y": "b", "12": "c"}),
     # CLEAN_KEYS also removes the leading '_' and digits the replacement leaves; a name of
     # digits only leaves nothing, so no field
     {"Security_intelligence_Version": "1.401.912.0", "nd_Try": "a", "x_y": "b", "12": None}),
    ("5001", event("Microsoft-Windows-Windows Defender",
                   "Microsoft-Windows-Windows Defender/Operational", 5001, {}),
     {"EventCode": "5001", "eventtype": ["endpoint_services_processes", "windows_event_signature"]}),
    ("5007", event("Microsoft-Windows-Windows Defender",
                   "Microsoft-Windows-Windows Defender/Operational", 5007,
                   {"Old Value": "", "New Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Exclusions\\Paths\\C:\\ = 0x0"}),
     {"Old_Value": None, "New Value": None,
      "New_Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Exclusions\\Paths\\C:\\ = 0x0"}),
    # ---- Sysmon ----
    ("sysmon1", event(*SYSMON, 1, {"Image": "C:\\Windows\\System32\\cmd.exe",
                                   "CommandLine": "cmd /c whoami", "User": "CORP\\alice",
                                   "ParentImage": "C:\\Windows\\explorer.exe",
                                   "ParentCommandLine": "explorer.exe", "ProcessId": "100",
                                   "ParentProcessId": "50", "IntegrityLevel": "High",
                                   "Hashes": "SHA1=" + "A" * 40 + ",MD5=" + "0123456789abcdef" * 2
                                   + ",SHA256=" + "F" * 63 + ",IMPHASH=" + "B" * 32},
                      sys_extra=SID),
     {"source": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",  # `sysmon` macro
      "vendor_product": "Microsoft Sysmon", "process": "cmd /c whoami", "process_name": "cmd.exe",
      "parent_process_name": "explorer.exe", "user": "alice", "process_integrity_level": "high",
      "action": "allowed", "dest": "WS1.corp.local",
      # TA-microsoft-sysmon transforms.conf, REPORT-sysmon: sysmon-created, sysmon-record,
      # sysmon-channel, sysmon-sid read the System part; sysmon-md5/-sha1/-sha256/-imphash
      # `KEY\=([a-fA-F0-9]{n}?)` over _raw, n = 32/40/64/32 (63 F's make no SHA256)
      "TimeCreated": "2024-05-01T10:00:00.1234567Z", "RecordID": "42",
      "EventChannel": "Microsoft-Windows-Sysmon/Operational", "SecurityID": "S-1-5-18",
      "SHA1": "A" * 40, "MD5": "0123456789abcdef" * 2, "SHA256": None, "IMPHASH": "B" * 32,
      "eventtype": ["endpoint_services_processes", "ms-sysmon-process", "windows_event_signature"],
      "tag": ["process", "report", "track_event_signatures"]}),
    ("sysmon3", event(*SYSMON, 3, {"Image": "C:\\x\\nc.exe", "Protocol": "tcp",
                                   "Initiated": "true", "SourceIp": "10.0.0.5",
                                   "SourcePort": "50001", "DestinationIp": "1.2.3.4",
                                   "DestinationPort": "4444", "DestinationHostname": ""}),
     {"dest": "1.2.3.4", "dest_ip": "1.2.3.4", "dest_port": "4444", "src": "10.0.0.5",
      "src_ip": "10.0.0.5", "src_port": "50001", "direction": "outbound", "transport": "tcp",
      "process_name": "nc.exe",
      "eventtype": ["endpoint_services_processes", "ms-sysmon-network", "windows_event_signature"],
      "tag": ["communicate", "network", "track_event_signatures"]}),
    ("sysmon7", event(*SYSMON, 7, {"Image": "C:\\x\\rundll32.exe",
                                   "ImageLoaded": "C:\\x\\evil.dll", "Signed": "false"}),
     {"ImageLoaded": "C:\\x\\evil.dll", "process_name": "rundll32.exe",
      "process_path": "C:\\x\\rundll32.exe", "action": None,
      "eventtype": ["endpoint_services_processes", "windows_event_signature"]}),
    ("sysmon8", event(*SYSMON, 8, {"SourceImage": "C:\\x\\inj.exe", "SourceProcessId": "10",
                                   "TargetImage": "C:\\Windows\\System32\\lsass.exe"}),
     {"process_name": "inj.exe", "process_path": "C:\\x\\inj.exe", "process_id": "10",
      "TargetImage": "C:\\Windows\\System32\\lsass.exe"}),
    ("sysmon10", event(*SYSMON, 10, {"SourceImage": "C:\\x\\mimi.exe",
                                     "SourceProcessGUID": "{00000000-0000-0000-0000-00000000000a}",
                                     "TargetImage": "C:\\Windows\\system32\\lsass.exe",
                                     "GrantedAccess": "0x1010"}),
     # Sysmon 10's schema spells the source's GUID SourceProcessGUID (escu-full data_sources/
     # sysmon_eventid_10.yml, whose Splunk field list has process_guid)
     {"process_name": "mimi.exe", "GrantedAccess": "0x1010",
      "process_guid": "{00000000-0000-0000-0000-00000000000a}",
      "eventtype": ["endpoint_services_processes", "ms-sysmon-process", "windows_event_signature"]}),
    ("sysmon11", event(*SYSMON, 11, {"Image": "C:\\x\\a.exe",
                                     "TargetFilename": "C:\\Users\\a\\evil.ps1",
                                     "CreationUtcTime": "2024-05-01 10:00:00.000"}),
     {"file_path": "C:\\Users\\a\\evil.ps1", "file_name": "evil.ps1", "action": "created",
      "file_create_time": "2024-05-01 10:00:00.000", "object_category": "file",
      "eventtype": ["endpoint_services_processes", "ms-sysmon-filemod", "windows_event_signature"],
      "tag": ["endpoint", "filesystem", "track_event_signatures"]}),
    ("sysmon12", event(*SYSMON, 12, {"EventType": "CreateKey", "Image": "C:\\x\\reg.exe",
                                     "TargetObject": "HKLM\\System\\CurrentControlSet\\Services\\evil"}),
     {"registry_path": "HKLM\\System\\CurrentControlSet\\Services\\evil",
      "registry_key_name": "evil", "registry_hive": "HKEY_LOCAL_MACHINE\\System",
      "action": "created", "status": "success", "registry_value_name": None,
      "severity_id": "CreateKey",                      # [XmlWinEventLog] FIELDALIAS-severity_id_
                                                       # for_windows = EventType AS severity_id
      "eventtype": ["endpoint_services_processes", "ms-sysmon-regmod", "windows_event_signature"],
      "tag": ["endpoint", "registry", "track_event_signatures"]}),
    ("sysmon13", event(*SYSMON, 13, {"EventType": "SetValue", "Image": "C:\\x\\reg.exe",
                                     "TargetObject": "HKU\\S-1\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\evil",
                                     "Details": "DWORD (0x00000001)"}),
     {"registry_key_name": "Run", "registry_value_name": "evil",
      "registry_value_data": "0x00000001", "registry_hive": "HKEY_CURRENT_USER",
      "action": "modified", "severity_id": "SetValue"}),  # EventType AS severity_id
    ("sysmon22", event(*SYSMON, 22, {"Image": "C:\\x\\a.exe", "QueryName": "evil.example",
                                     "QueryStatus": "0", "QueryResults": "1.2.3.4;"}),
     {"query": "evil.example", "answer": "1.2.3.4;", "reply_code_id": "0",
      "eventtype": ["endpoint_services_processes", "ms-sysmon-dns", "windows_event_signature"],
      "tag": ["dns", "network", "resolution", "track_event_signatures"]}),
    ("sysmon23", event(*SYSMON, 23, {"Image": "C:\\x\\a.exe",
                                     "TargetFilename": "C:\\logs\\x.evtx"}),
     {"file_path": "C:\\logs\\x.evtx", "file_name": "x.evtx", "action": "deleted",
      "object_category": "file",
      "eventtype": ["endpoint_services_processes", "windows_event_signature"]}),
]


def inner(xml, element):
    """The text between an element's start and end tags, as the event has it."""
    m = re.search(r"<%s(?: [^>]*)?>(.*?)</%s>" % (element, element), xml, re.S)
    return m.group(1) if m else None


# The whole-element fields: the inner XML of <Event>'s System, EventData and UserData children
# and of UserData's LogFileCleared, byte for byte as the event has it (entities as written); none
# for an empty element
# (docs/fields.md; the add-on's transforms are not public: a Splunk output of a Sysmon event
# shows System_Props_Xml and EventData_Xml as that inner XML).
SVC = event("Service Control Manager", "System", 7040,
            {"param1": "Print Spooler", "param2": "auto start", "param3": "disabled",
             "param4": "Spooler"}, sys_extra=SID)
CAPI = event("Microsoft-Windows-CAPI2", "Microsoft-Windows-CAPI2/Operational", 70, {},
             userdata="<CertGetCertificateChainStart><Certificate fileRef='AB.cer' "
                      "subjectName='a &amp; b'/><Flags value='0'/></CertGetCertificateChainStart>")
EMPTY = event("Microsoft-Windows-Kernel-General", "System", 16, {})
CLEARED = event("Microsoft-Windows-Eventlog", "Security", 1102, {},
                userdata="<LogFileCleared xmlns='http://manifests.microsoft.com/win/2004/08/windows/"
                         "eventlog'><SubjectUserSid>S-1-5-21-1-500</SubjectUserSid>"
                         "<SubjectUserName>admin</SubjectUserName></LogFileCleared>")
CASES += [
    ("whole-7040", SVC,
     {"EventData_Xml": "<Data Name='param1'>Print Spooler</Data><Data Name='param2'>auto "
                       "start</Data><Data Name='param3'>disabled</Data><Data "
                       "Name='param4'>Spooler</Data>",
      "System_Props_Xml": inner(SVC, "System"), "UserData_Xml": None,
      "RenderingInfo_Xml": None}),
    ("whole-userdata", CAPI,
     {"UserData_Xml": "<CertGetCertificateChainStart><Certificate fileRef='AB.cer' "
                      "subjectName='a &amp; b'/><Flags value='0'/></CertGetCertificateChainStart>",
      "EventData_Xml": None, "System_Props_Xml": inner(CAPI, "System")}),
    ("whole-empty", EMPTY, {"EventData_Xml": None, "System_Props_Xml": inner(EMPTY, "System")}),
    ("whole-1102", CLEARED,
     {"UserData_Xml": inner(CLEARED, "UserData"),
      "LogFileCleared_Xml": "<SubjectUserSid>S-1-5-21-1-500</SubjectUserSid>"
                            "<SubjectUserName>admin</SubjectUserName>",
      "SubjectUserName": "admin"}),
]


def main():
    escudo = os.environ.get("ESCUDO")
    if not escudo:
        print("t_fields_golden: ESCUDO not set")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "events.xml")
        with open(path, "w", encoding="utf-8") as f:
            for _, xml, _ in CASES:
                f.write(xml + "\n")
        out = subprocess.run([escudo, "dump", "--fields", path], capture_output=True, check=False)
        lines = out.stdout.decode("utf-8").splitlines()
    if out.returncode or len(lines) != len(CASES):
        print("t_fields_golden: exit %d, %d lines for %d events\n%s"
              % (out.returncode, len(lines), len(CASES), out.stderr.decode()))
        return 1
    bad = 0
    for (name, _, want), line in zip(CASES, lines):
        got = json.loads(line)
        for k, v in want.items():
            if got.get(k) != v:
                print("%s: %s is %r, expected %r" % (name, k, got.get(k), v))
                bad += 1
    print("t_fields_golden: %d events, %d fields checked, %d wrong"
          % (len(CASES), sum(len(w) for _, _, w in CASES), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
