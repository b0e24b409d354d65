/* The add-on field rules and eventtypes as tables (docs/fields.md).
 *
 * Sources: Splunk_TA_windows 8.4.0 default/props.conf, transforms.conf, eventtypes.conf and
 * tags.conf (the newest public copy found; 9.x moved the Security rules but kept their
 * values), and the Sysmon add-on's [source::XmlWinEventLog:Microsoft-Windows-Sysmon/
 * Operational] stanza and its ms-sysmon-* eventtypes as docs/fields.md describes them.
 * Rows are the add-on's own order; a cite names the setting. LOOKUP-* settings are not here:
 * their CSV files are not part of escudo (docs/fields.md, "Differences"). */
#include <stddef.h>

#include "fields/rules.h"

/* the EventCodes of the Security account-management EVALs */
#define ACCT 4703, 4704, 4705, 4722, 4723, 4724, 4725, 4726, 4738, 4767

/* clang-format off */
const frule esc_fields_rules[] = {
    /* ---- [XmlWinEventLog] (Splunk_TA_windows) ---- */
    {SC_XML, PH_REPORT, OP_COPY, "Sub_Status", "SubStatus", 0, 0, {0}, "REPORT-Sub_Status_from_xml"},
    {SC_XML, PH_ALIAS, OP_COPY, "category", "TaskCategory", 0, 0, {0}, "FIELDALIAS-category_for_windows"},
    {SC_XML, PH_ALIAS, OP_COPY, "dvc_nt_host", "host", 0, 0, {0}, "FIELDALIAS-dvc_for_windows"},
    {SC_XML, PH_ALIAS, OP_COPY, "dvc", "Computer", 0, 0, {0}, "FIELDALIAS-dvc_for_windows"},
    {SC_XML, PH_ALIAS, OP_COPY, "event_id", "RecordNumber", 0, 0, {0}, "FIELDALIAS-event_id_for_windows"},
    {SC_XML, PH_ALIAS, OP_COPY, "id", "RecordNumber", 0, 0, {0}, "FIELDALIAS-id_for_windows"},
    {SC_XML, PH_ALIAS, OP_COPY, "severity_id", "EventType", 0, 0, {0}, "FIELDALIAS-severity_id_for_windows"},
    {SC_XML, PH_ALIAS, OP_COPY, "user_group_id", "Primary_Group_ID", 0, 0, {0}, "FIELDALIAS-user_group_id_for_windows"},
    {SC_XML, PH_ALIAS, OP_COPY, "service", "ServiceName", 0, 0, {0}, "FIELDALIAS-service_for_windows"},
    {SC_XML, PH_ALIAS, OP_COPY, "service_name", "ServiceName", 0, 0, {0}, "FIELDALIAS-service_for_windows"},
    {SC_XML, PH_ALIAS, OP_COPY, "service_id", "ServiceSid", 0, 0, {0}, "FIELDALIAS-service_id_for_windows"},
    {SC_XML, PH_ALIAS, OP_COPY, "parent_process", "ParentProcessName", 0, 0, {0}, "FIELDALIAS-parent_process_for_windows"},
    {SC_XML, PH_ALIAS, OP_COPY, "user_id", "UserID", 0, 0, {0}, "FIELDALIAS-user_id_for_windows"},
    {SC_XML, PH_EVAL, OP_COPY, "signature_id", "EventCode", 0, 0, {0}, "EVAL-signature_id"},
    {SC_XML, PH_EVAL, OP_COPY, "process_name", "NewProcessName", 0, 0, {4688}, "EVAL-process_name"},
    {SC_XML, PH_EVAL, OP_COPY, "process_name", "ProcessName", 0, 0, {0}, "EVAL-process_name"},
    {SC_XML, PH_EVAL, OP_CONST, "vendor_product", "Microsoft Windows", 0, 0, {0}, "EVAL-vendor_product"},

    /* ---- [source::XmlWinEventLog:Security] ---- */
    /* EXTRACT-* (inline, before any REPORT) */
    {SC_SECURITY, PH_REPORT, OP_COPY, "dest_port", "DestPort", 0, 0, {0}, "EXTRACT-dest_port_for_windows_security_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "object_attrs", "RuleName", 0, 0, {0}, "EXTRACT-object_attrs_for_windows_security_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_SRCIP, "src_ip", "IpAddress", 0, 0, {0}, "EXTRACT-1IpAddress_for_windows_security_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "process", "ProcessName", 0, 0, {0}, "EXTRACT-process_for_windows_security_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "new_process", "NewProcessName", 0, 0, {0}, "EXTRACT-new_process_for_windows_security_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "parent_process", "ParentProcessName", 0, 0, {0}, "EXTRACT-parent_process_for_windows_security_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "new_process_id", "NewProcessId", 0, 0, {0}, "EXTRACT-new_process_id_for_windows_security_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "process_id", "ProcessId", 0, 0, {0}, "EXTRACT-process_id_for_windows_security_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "Process_Command_Line", "CommandLine", 0, 0, {0}, "EXTRACT-process_command_line_for_xml"},
    /* REPORT-* */
    {SC_SECURITY, PH_REPORT, OP_COPY, "Source_Port", "IpPort", 0, 0, {0}, "REPORT-Source_Port_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "Token_Elevation_Type", "TokenElevationType", 0, 0, {0}, "REPORT-Token_Elevation_Type_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "Target_Server_Name", "TargetServerName", 0, 0, {0}, "REPORT-Target_Server_Name_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "Logon_Type", "LogonType", 0, 0, {0}, "REPORT-Logon_Type_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "Logon_ID", "SubjectLogonId", 0, 0, {0}, "REPORT-Logon_ID_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "Caller_Domain", "SubjectDomainName", 0, 0, {0}, "REPORT-Caller_Domain_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "Target_Domain", "TargetDomainName", 0, 0, {0}, "REPORT-Target_Domain_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "Caller_User_Name", "SubjectUserName", 0, 0, {0}, "REPORT-Caller_User_Name_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "Target_User_Name", "TargetUserName", 0, 0, {0}, "REPORT-Target_User_Name_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "Source_Workstation", "Workstation", 0, 0, {0}, "REPORT-Source_Workstation_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "Source_Workstation", "WorkstationName", 0, 0, {0}, "REPORT-Source_Workstation_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "Source_Workstation", "IpAddress", 0, 0, {0}, "REPORT-Source_Workstation_from_xml"},
    {SC_SECURITY, PH_REPORT, OP_NUM_AFTER, "Token_Elevation_Type_id", "Token_Elevation_Type", 0, 0, {0}, "REPORT-Token_Elevation_Type_id_for_windows_security"},
    {SC_SECURITY, PH_REPORT, OP_LASTLINE, "session_id", "Logon_ID", 0, 0, {0}, "REPORT-session_id_for_windows_security"},
    {SC_SECURITY, PH_REPORT, OP_STRIPBS, "dest", "Target_Server_Name", 0, 0, {0}, "REPORT-dest_for_windows_security"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "dest", "Computer", 0, 0, {0}, "REPORT-dest_for_windows_security (Computer_as_dest)"},
    {SC_SECURITY, PH_REPORT, OP_LASTLINE, "dest_nt_domain", "Target_Domain", 0, 0, {0}, "REPORT-dest_nt_domain_for_windows_security"},
    {SC_SECURITY, PH_REPORT, OP_STRIPBS, "dest_nt_host", "Target_Server_Name", 0, 0, {0}, "REPORT-dest_nt_host_for_windows_security"},
    {SC_SECURITY, PH_REPORT, OP_STRIPBS, "src", "Source_Workstation", 0, 0, {0}, "REPORT-src_for_windows_security"},
    {SC_SECURITY, PH_REPORT, OP_NODASH, "src_nt_domain", "Caller_Domain", 0, 0, {0}, "REPORT-src_nt_domain_for_windows_security"},
    {SC_SECURITY, PH_REPORT, OP_STRIPBS, "src_nt_host", "Source_Workstation", 0, 0, {0}, "REPORT-src_nt_host_for_windows_security"},
    {SC_SECURITY, PH_REPORT, OP_NODASH, "src_user", "Caller_User_Name", 0, 0, {0}, "REPORT-src_user_for_windows_security"},
    {SC_SECURITY, PH_REPORT, OP_COPY, "user", "Target_User_Name", 0, 0, {0}, "REPORT-user_for_windows_security"},
    {SC_SECURITY, PH_REPORT, OP_BASENAME, "parent_process_name", "parent_process", 0, 0, {0}, "REPORT-parent_process_name_windows_xml"},
    {SC_SECURITY, PH_REPORT, OP_BASENAME, "new_process_name", "new_process", 0, 0, {0}, "REPORT-new_process_name_windows_xml"},
    {SC_SECURITY, PH_REPORT, OP_BASENAME, "target_process_name", "TargetProcessName", 0, 0, {0}, "REPORT-target_process_name_windows_xml"},
    {SC_SECURITY, PH_REPORT, OP_PATH, "object_file_path", "ObjectName", 0, 0, {0}, "REPORT-file_name_and_path"},
    {SC_SECURITY, PH_REPORT, OP_PATHNAME, "object_file_name", "ObjectName", 0, 0, {0}, "REPORT-file_name_and_path"},
    {SC_SECURITY, PH_REPORT, OP_PATH, "file_path", "FileName", 0, 0, {0}, "REPORT-file_name_and_path"},
    {SC_SECURITY, PH_REPORT, OP_PATHNAME, "file_name", "FileName", 0, 0, {0}, "REPORT-file_name_and_path"},
    {SC_SECURITY, PH_REPORT, OP_PATH, "file_path", "KeyFilePath", 0, 0, {0}, "REPORT-file_name_and_path"},
    {SC_SECURITY, PH_REPORT, OP_PATHNAME, "file_name", "KeyFilePath", 0, 0, {0}, "REPORT-file_name_and_path"},
    {SC_SECURITY, PH_REPORT, OP_CMD_PROCESS, "process_command_line_process", "Process_Command_Line", 0, 0, {0}, "REPORT-process_command_line_process_and_arguments"},
    {SC_SECURITY, PH_REPORT, OP_CMD_ARGS, "process_command_line_arguments", "Process_Command_Line", 0, 0, {0}, "REPORT-process_command_line_process_and_arguments"},
    /* FIELDALIAS-* */
    {SC_SECURITY, PH_ALIAS, OP_COPY, "src_port", "Source_Port", 0, 0, {0}, "FIELDALIAS-src_port_for_windows_security"},
    {SC_SECURITY, PH_ALIAS, OP_COPY, "body", "Message", 0, 0, {0}, "FIELDALIAS-body_for_windows_security"},
    {SC_SECURITY, PH_ALIAS, OP_COPY, "ta_windows_status", "Status", 0, 0, {0}, "FIELDALIAS-Status_as_ta_windows_status"},
    /* EVAL-* */
    {SC_SECURITY, PH_EVAL, OP_ERROR_CODE, "Error_Code", "Status", 0, 0, {0}, "EVAL-Error_Code"},
    {SC_SECURITY, PH_EVAL, OP_CONST, "vendor", "Microsoft", 0, 0, {0}, "EVAL-vendor"},
    {SC_SECURITY, PH_EVAL, OP_CONST, "product", "Windows", 0, 0, {0}, "EVAL-product"},
    {SC_SECURITY, PH_EVAL, OP_TA_ACTION, "ta_windows_action", "Status", 0, 0, {0}, "EVAL-ta_windows_action"},
    {SC_SECURITY, PH_EVAL, OP_COALESCE2, "user_group", "TargetUserName", "New_Account_Name", 0, {0}, "EVAL-user_group"},
    {SC_SECURITY, PH_EVAL, OP_NULLIFDASH, "dest_nt_domain", "dest_nt_domain", 0, 0, {0}, "EVAL-dest_nt_domain"},
    {SC_SECURITY, PH_EVAL, OP_NULL, "object_attrs", 0, 0, 0, {4720, 4738}, "EVAL-object_attrs"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "object_attrs", "AccessGranted", 0, 0, {4717}, "EVAL-object_attrs"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "object_attrs", "AccessRemoved", 0, 0, {4718}, "EVAL-object_attrs"},
    {SC_SECURITY, PH_EVAL, OP_COALESCE2, "object_attrs", "SamAccountName", "object_attrs", 0, {0}, "EVAL-object_attrs"},
    /* EVAL-Group_Name, EVAL-Group_Domain: case(isnotnull(TargetUserName) AND (EventCode 4727-4735,
     * 4737, 4744-4764 or 4799), TargetUserName, 1=1, Group_Name) (the same with TargetDomainName) */
    {SC_SECURITY, PH_EVAL, OP_COALESCE2, "Group_Name", "TargetUserName", "Group_Name", 0, {4727, 4728, 4729, 4730, 4731, 4732, 4733, 4734, 4735, 4737}, "EVAL-Group_Name"},
    {SC_SECURITY, PH_EVAL, OP_COALESCE2, "Group_Name", "TargetUserName", "Group_Name", 0, {4744, 4745, 4746, 4747, 4748, 4749, 4750, 4751, 4752, 4753, 4754, 4755}, "EVAL-Group_Name"},
    {SC_SECURITY, PH_EVAL, OP_COALESCE2, "Group_Name", "TargetUserName", "Group_Name", 0, {4756, 4757, 4758, 4759, 4760, 4761, 4762, 4763, 4764, 4799}, "EVAL-Group_Name"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "Group_Name", 0, 0, 0, {0}, "EVAL-Group_Name"},
    {SC_SECURITY, PH_EVAL, OP_COALESCE2, "Group_Domain", "TargetDomainName", "Group_Domain", 0, {4727, 4728, 4729, 4730, 4731, 4732, 4733, 4734, 4735, 4737}, "EVAL-Group_Domain"},
    {SC_SECURITY, PH_EVAL, OP_COALESCE2, "Group_Domain", "TargetDomainName", "Group_Domain", 0, {4744, 4745, 4746, 4747, 4748, 4749, 4750, 4751, 4752, 4753, 4754, 4755}, "EVAL-Group_Domain"},
    {SC_SECURITY, PH_EVAL, OP_COALESCE2, "Group_Domain", "TargetDomainName", "Group_Domain", 0, {4756, 4757, 4758, 4759, 4760, 4761, 4762, 4763, 4764, 4799}, "EVAL-Group_Domain"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "Group_Domain", 0, 0, 0, {0}, "EVAL-Group_Domain"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "registry_path", "ObjectName", 0, 0, {4657}, "EVAL-registry_path"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "registry_path", 0, 0, 0, {0}, "EVAL-registry_path"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "registry_value_name", "ObjectValueName", 0, 0, {4657}, "EVAL-registry_value_name"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "registry_value_name", 0, 0, 0, {0}, "EVAL-registry_value_name"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "registry_value_type", "NewValueType", 0, 0, {4657}, "EVAL-registry_value_type"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "registry_value_type", 0, 0, 0, {0}, "EVAL-registry_value_type"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "src", "ClientAddress", 0, 0, {4778}, "EVAL-src"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "src", 0, 0, 0, {0}, "EVAL-src"},
    {SC_SECURITY, PH_EVAL, OP_FILE_COALESCE, "file_name", "file_name", "object_file_name", "ShareName", {0}, "EVAL-file_name"},
    {SC_SECURITY, PH_EVAL, OP_FILE_COALESCE, "file_path", "file_path", "object_file_path", "ShareLocalPath", {0}, "EVAL-file_path"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "src_port", "SourcePort", 0, 0, {5158, 5156}, "EVAL-src_port"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "src_port", 0, 0, 0, {0}, "EVAL-src_port"},
    {SC_SECURITY, PH_EVAL, OP_4688_PROCESS, "process", 0, 0, 0, {4688}, "EVAL-process"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "process", "TargetProcessName", 0, 0, {4696}, "EVAL-process"},
    {SC_SECURITY, PH_EVAL, OP_COALESCE3, "process", "process", "Process", "ProcessName", {0}, "EVAL-process"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "process_path", "new_process", 0, 0, {4688}, "EVAL-process_path"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "process_path", "TargetProcessName", 0, 0, {4696}, "EVAL-process_path"},
    {SC_SECURITY, PH_EVAL, OP_COALESCE3, "process_path", "process", "Process", "ProcessName", {0}, "EVAL-process_path"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "process_id", "new_process_id", 0, 0, {4688}, "EVAL-process_id"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "process_id", "TargetProcessId", 0, 0, {4696}, "EVAL-process_id"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "process_id", 0, 0, 0, {0}, "EVAL-process_id"},
    {SC_SECURITY, PH_EVAL, OP_COALESCE2, "service", "service", "Service", 0, {0}, "EVAL-service"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "parent_process", "ProcessName", 0, 0, {4696}, "EVAL-parent_process"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "parent_process", 0, 0, 0, {0}, "EVAL-parent_process"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "parent_process_id", "ProcessId", 0, 0, {4688, 4696}, "EVAL-parent_process_id"},
    {SC_SECURITY, PH_EVAL, OP_BASENAME, "parent_process_name", "ProcessName", 0, 0, {4696}, "EVAL-parent_process_name"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "parent_process_name", 0, 0, 0, {0}, "EVAL-parent_process_name"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "parent_process_path", "parent_process", 0, 0, {4688}, "EVAL-parent_process_path"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "parent_process_path", "ProcessName", 0, 0, {4696}, "EVAL-parent_process_path"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "process_exec", "new_process_name", 0, 0, {4688}, "EVAL-process_exec"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "process_exec", "target_process_name", 0, 0, {4696}, "EVAL-process_exec"},
    {SC_SECURITY, PH_EVAL, OP_BASENAME, "process_exec", "ProcessName", 0, 0, {4689, 4674, 4673}, "EVAL-process_exec"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "process_name", "new_process_name", 0, 0, {4688}, "EVAL-process_name"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "process_name", "target_process_name", 0, 0, {4696}, "EVAL-process_name"},
    {SC_SECURITY, PH_EVAL, OP_BASENAME, "process_name", "ProcessName", 0, 0, {4689, 4674, 4673}, "EVAL-process_name"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "process_name", "ProcessName", 0, 0, {0}, "EVAL-process_name"},
    {SC_SECURITY, PH_EVAL, OP_4688_USER, "user", 0, 0, 0, {4688}, "EVAL-user"},
    {SC_SECURITY, PH_EVAL, OP_NODASH, "user", "SubjectUserName", 0, 0, {4674, 4689, 4673, 4697}, "EVAL-user"},
    {SC_SECURITY, PH_EVAL, OP_NODASH, "user", "user", 0, 0, {4696}, "EVAL-user"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "user", "TargetUserName", 0, 0, {ACCT}, "EVAL-user"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "user", "NewTargetUserName", 0, 0, {4781}, "EVAL-user"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "user", 0, 0, 0, {0}, "EVAL-user"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "user_name", "TargetUserName", 0, 0, {ACCT}, "EVAL-user_name"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "user_name", "NewTargetUserName", 0, 0, {4781}, "EVAL-user_name"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "user_name", 0, 0, 0, {0}, "EVAL-user_name"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "src_user", "SubjectUserName", 0, 0, {ACCT, 4781}, "EVAL-src_user"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "src_user", 0, 0, 0, {0}, "EVAL-src_user"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "src_user_name", "SubjectUserName", 0, 0, {ACCT, 4781}, "EVAL-src_user_name"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "src_user_name", 0, 0, 0, {0}, "EVAL-src_user_name"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "object", "TargetUserName", 0, 0, {ACCT}, "EVAL-object"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "object", "NewTargetUserName", 0, 0, {4781}, "EVAL-object"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "object", 0, 0, 0, {0}, "EVAL-object"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "object_id", "TargetSid", 0, 0, {4704, 4705, 4722, 4723, 4724, 4725, 4726, 4738, 4767, 4781}, "EVAL-object_id"},
    {SC_SECURITY, PH_EVAL, OP_COPY, "object_id", "TargetUserSid", 0, 0, {4703}, "EVAL-object_id"},
    {SC_SECURITY, PH_EVAL, OP_KEEP, "object_id", 0, 0, 0, {0}, "EVAL-object_id"},
    {SC_SECURITY, PH_EVAL, OP_4688_ACTION, "action", "Keywords", 0, 0, {4688}, "EVAL-action"},
    {SC_SECURITY, PH_EVAL, OP_CONST, "user_type", "computer", 0, 0, {4741, 4742, 4743}, "EVAL-user_type"},

    /* ---- [source::XmlWinEventLog:System] ---- */
    {SC_SYSTEM, PH_REPORT, OP_COPY, "dest", "Computer", 0, 0, {0}, "REPORT-bestmatch_for_windows_system_xml"},
    {SC_SYSTEM, PH_REPORT, OP_NODOMAIN, "user", "User", 0, 0, {0}, "REPORT-user_for_windows_system (User_as_user)"},
    {SC_SYSTEM, PH_REPORT, OP_COPY, "ServiceName", "param1", 0, 0, {0}, "REPORT-service_name"},
    {SC_SYSTEM, PH_EVAL, OP_ERROR_CODE, "Error_Code", "Status", 0, 0, {0}, "EVAL-Error_Code"},
    {SC_SYSTEM, PH_EVAL, OP_COALESCE2, "body", "signature_message", "Message", 0, {0}, "EVAL-body"},
    {SC_SYSTEM, PH_EVAL, OP_CONST, "vendor", "Microsoft", 0, 0, {0}, "EVAL-vendor"},
    {SC_SYSTEM, PH_EVAL, OP_CONST, "product", "Windows", 0, 0, {0}, "EVAL-product"},
    {SC_SYSTEM, PH_EVAL, OP_7036_STATUS, "status", "param2", 0, 0, {7036}, "EVAL-status"},
    /* EVAL-user (7040/7045: not "-") is in [source::WinEventLog:System] only, the classic source */

    /* ---- [source::XmlWinEventLog:Application] ---- */
    {SC_APPLICATION, PH_ALIAS, OP_COPY, "dest", "Computer", 0, 0, {0}, "FIELDALIAS-dest_for_xmlwineventlog_application"},
    {SC_APPLICATION, PH_EVAL, OP_ERROR_CODE, "Error_Code", "Status", 0, 0, {0}, "EVAL-Error_Code"},

    /* ---- [source::XmlWinEventLog:Microsoft-Windows-PowerShell/Operational] (9.x) ---- */
    {SC_POWERSHELL, PH_REPORT, OP_COPY, "dest", "Computer", 0, 0, {0}, "REPORT-dest_for_microsoft_windows_powershell (Computer_as_dest)"},

    /* ---- [source::XmlWinEventLog:Microsoft-Windows-Sysmon/Operational] ---- */
    /* REPORT-sysmon's transforms (TA-microsoft-sysmon default/transforms.conf: sysmon-created,
     * sysmon-record, sysmon-channel, sysmon-sid, sysmon-md5 ... sysmon-imphash; the Splunk
     * Add-on for Sysmon 4.0.2's fields of escu-full data_sources/sysmon_eventid_*.yml list
     * them; public copies: github.com/dimarra/TA-Microsoft-Sysmon and
     * github.com/Troy-Moore/TA-microsoft-sysmon). sysmon-eventid ... sysmon-keywords,
     * sysmon-computer and sysmon-data give fields the [XmlWinEventLog] stanza gave first;
     * sysmon-correlation matches no Windows rendering (<Correlation/> or attributes only). */
    {SC_SYSMON, PH_REPORT, OP_COPY, "TimeCreated", "SystemTime", 0, 0, {0}, "sysmon-created <TimeCreated SystemTime='(.*?)'/>"},
    {SC_SYSMON, PH_REPORT, OP_DIGITS, "RecordID", "EventRecordID", 0, 0, {0}, "sysmon-record <EventRecordID>(\\d+)</EventRecordID>"},
    {SC_SYSMON, PH_REPORT, OP_COPY, "EventChannel", "Channel", 0, 0, {0}, "sysmon-channel <Channel>(.*?)</Channel>"},
    {SC_SYSMON, PH_REPORT, OP_SID, "SecurityID", "UserID", 0, 0, {0}, "sysmon-sid <Security UserID='(S-[0-9a-fA-f-]+)'/>"},
    {SC_SYSMON, PH_REPORT, OP_RAW_HASHES, "MD5", 0, 0, 0, {0}, "sysmon-md5 MD5\\=([a-fA-F0-9]{32}?), sysmon-sha1 SHA1\\=([a-fA-F0-9]{40}?), sysmon-sha256 SHA256\\=([a-fA-F0-9]{64}?), sysmon-imphash IMPHASH\\=([a-fA-F0-9]{32}?)"},
    {SC_SYSMON, PH_REPORT, OP_REG_VALUE_DATA, "RegistryValueData", "Details", 0, 0, {0}, "REPORT RegistryValueData (Details 'TYPE (x)')"},
    {SC_SYSMON, PH_ALIAS, OP_COPY, "signature_id", "EventCode", 0, 0, {0}, "FIELDALIAS-signature_id"},
    {SC_SYSMON, PH_EVAL, OP_CONST, "vendor_product", "Microsoft Sysmon", 0, 0, {0}, "EVAL-vendor_product"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "signature_id", "EventCode", 0, 0, {0}, "FIELDALIAS-signature_id"},
    {SC_SYSMON, PH_EVAL, OP_SYSMON_NET_DEST, "dest", 0, 0, 0, {3}, "EVAL-dest"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "dest", "Computer", 0, 0, {0}, "EVAL-dest"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "dvc", "Computer", 0, 0, {0}, "EVAL-dvc"},
    {SC_SYSMON, PH_EVAL, OP_BASENAME, "user", "User", 0, 0, {0}, "EVAL-user"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "process_id", "SourceProcessId", 0, 0, {8, 10}, "EVAL-process_id"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "process_id", "ProcessId", 0, 0, {0}, "EVAL-process_id"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "process_guid", "SourceProcessGuid", 0, 0, {8}, "EVAL-process_guid"},
    /* Sysmon 10 spells it SourceProcessGUID (its schema; escu-full data_sources/sysmon_eventid_10.yml) */
    {SC_SYSMON, PH_EVAL, OP_COPY, "process_guid", "SourceProcessGUID", 0, 0, {10}, "EVAL-process_guid"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "process_guid", "ProcessGuid", 0, 0, {0}, "EVAL-process_guid"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "process_path", "SourceImage", 0, 0, {8, 10}, "EVAL-process_path"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "process_path", "Image", 0, 0, {0}, "EVAL-process_path"},
    {SC_SYSMON, PH_EVAL, OP_BASENAME, "process_name", "SourceImage", 0, 0, {8, 10}, "EVAL-process_name"},
    {SC_SYSMON, PH_EVAL, OP_BASENAME, "process_name", "Image", 0, 0, {0}, "EVAL-process_name"},
    {SC_SYSMON, PH_EVAL, OP_BASENAME, "process_exec", "Image", 0, 0, {1}, "EVAL-process_exec"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "process", "CommandLine", 0, 0, {1}, "EVAL-process"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "process_hash", "Hashes", 0, 0, {0}, "EVAL-process_hash"},
    {SC_SYSMON, PH_EVAL, OP_LOWER, "process_integrity_level", "IntegrityLevel", 0, 0, {0}, "EVAL-process_integrity_level"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "process_current_directory", "CurrentDirectory", 0, 0, {0}, "EVAL-process_current_directory"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "original_file_name", "OriginalFileName", 0, 0, {0}, "FIELDALIAS-original_file_name"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "parent_process", "ParentCommandLine", 0, 0, {1}, "EVAL-parent_process"},
    {SC_SYSMON, PH_EVAL, OP_BASENAME, "parent_process_name", "ParentImage", 0, 0, {1}, "EVAL-parent_process_name"},
    {SC_SYSMON, PH_EVAL, OP_BASENAME, "parent_process_exec", "ParentImage", 0, 0, {1}, "EVAL-parent_process_exec"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "parent_process_path", "ParentImage", 0, 0, {1}, "EVAL-parent_process_path"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "parent_process_id", "ParentProcessId", 0, 0, {1}, "EVAL-parent_process_id"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "parent_process_guid", "ParentProcessGuid", 0, 0, {1}, "EVAL-parent_process_guid"},
    {SC_SYSMON, PH_EVAL, OP_CONST, "action", "allowed", 0, 0, {1, 3}, "EVAL-action"},
    {SC_SYSMON, PH_EVAL, OP_CONST, "action", "created", 0, 0, {11}, "EVAL-action"},
    {SC_SYSMON, PH_EVAL, OP_REG_ACTION, "action", "EventType", 0, 0, {12}, "EVAL-action"},
    {SC_SYSMON, PH_EVAL, OP_CONST, "action", "modified", 0, 0, {13, 14}, "EVAL-action"},
    {SC_SYSMON, PH_EVAL, OP_CONST, "action", "deleted", 0, 0, {23, 26}, "EVAL-action"},
    {SC_SYSMON, PH_EVAL, OP_CONST, "status", "success", 0, 0, {12, 13}, "EVAL-status"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "src_ip", "SourceIp", 0, 0, {3}, "EVAL-src_ip"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "src_port", "SourcePort", 0, 0, {3}, "EVAL-src_port"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "src_host", "SourceHostname", 0, 0, {3}, "EVAL-src_host"},
    {SC_SYSMON, PH_EVAL, OP_SYSMON_NET_SRC, "src", 0, 0, 0, {3}, "EVAL-src"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "dest_ip", "DestinationIp", 0, 0, {3}, "EVAL-dest_ip"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "dest_port", "DestinationPort", 0, 0, {3}, "EVAL-dest_port"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "dest_host", "DestinationHostname", 0, 0, {3}, "EVAL-dest_host"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "transport", "Protocol", 0, 0, {3}, "EVAL-transport"},
    {SC_SYSMON, PH_EVAL, OP_DIRECTION, "direction", "Initiated", 0, 0, {3}, "EVAL-direction"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "file_path", "TargetFilename", 0, 0, {2, 11, 23, 26}, "EVAL-file_path"},
    {SC_SYSMON, PH_EVAL, OP_BASENAME, "file_name", "TargetFilename", 0, 0, {2, 11, 23, 26}, "EVAL-file_name"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "file_create_time", "CreationUtcTime", 0, 0, {2, 11}, "EVAL-file_create_time"},
    {SC_SYSMON, PH_EVAL, OP_CONST, "object_category", "file", 0, 0, {2, 11, 23, 26}, "EVAL-object_category"},
    {SC_SYSMON, PH_EVAL, OP_CONST, "object_category", "registry", 0, 0, {12, 13, 14}, "EVAL-object_category"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "registry_path", "TargetObject", 0, 0, {12, 13, 14}, "FIELDALIAS-registry_path"},
    {SC_SYSMON, PH_EVAL, OP_REG_KEY_NAME, "registry_key_name", "TargetObject", 0, 0, {12, 13, 14}, "EVAL-registry_key_name"},
    {SC_SYSMON, PH_EVAL, OP_REG_VALUE_NAME, "registry_value_name", "TargetObject", 0, 0, {13}, "EVAL-registry_value_name"},
    {SC_SYSMON, PH_EVAL, OP_COALESCE2, "registry_value_data", "RegistryValueData", "Details", 0, {13}, "EVAL-registry_value_data"},
    {SC_SYSMON, PH_EVAL, OP_REG_HIVE, "registry_hive", "TargetObject", 0, 0, {12, 13, 14}, "EVAL-registry_hive"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "query", "QueryName", 0, 0, {22}, "EVAL-query"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "answer", "QueryResults", 0, 0, {22}, "EVAL-answer"},
    {SC_SYSMON, PH_EVAL, OP_COPY, "reply_code_id", "QueryStatus", 0, 0, {22}, "EVAL-reply_code_id"},
};
const unsigned esc_fields_nrules = sizeof esc_fields_rules / sizeof esc_fields_rules[0];

/* eventtypes.conf and tags.conf (Splunk_TA_windows 8.4.0, every eventtype an XmlWinEventLog
 * event can have, in the file's order; ms-sysmon-* from the Sysmon add-on). The channels are
 * the eventtype's `source=XmlWinEventLog:<Channel>` terms (an eventtype=X term stands for X's
 * own search); `sourcetype=XmlWinEventLog` is every Windows event. Terms on fields only a LOOKUP
 * gives (ta_windows_security_CategoryString, app) or only the classic rendering gives
 * (TaskCategory, SourceName, Min__Password_Length, Service_Name, ...) are kept as written: they
 * hold when the event has the field (a JSON event may). */
#define WINDOWS_CHANNELS                                                                           \
    "Application|System|Security|Directory Service|DFS Replication|Key Management Service|"       \
    "File Replication Service|DNS Server"
#define SEC "Security"
#define SYSMON_CH "Microsoft-Windows-Sysmon/Operational"
#define SYS "System"
#define TERM1(op, f, v) {{op, f, v}, {T_NONE, 0, 0}}
#define EQ(f, v) {T_EQ, f, v}
const fetype esc_fields_etypes[] = {
    /* Global */
    {"windows_event_signature", NULL, EC_NONE, {0}, 0, {{0}}, "track_event_signatures"},
    {"wineventlog_windows", WINDOWS_CHANNELS, EC_NOT_CODES, {ACCT, 4781}, 0, {{0}}, "os windows endpoint filesystem"},
    {"wineventlog_application", "Application", EC_NONE, {0}, 0, {{0}}, "os windows"},
    {"wineventlog_system", SYS, EC_NONE, {0}, 0, {{0}}, "os windows"},
    {"wineventlog_security", SEC, EC_NONE, {0}, 0, {{0}}, "os windows"},
    {"winapp", "Application", EC_NONE, {0}, 0, {{0}}, ""},
    {"winsec", SEC, EC_NONE, {0}, 0, {{0}}, "security"},
    {"winsystem", SYS, EC_NONE, {0}, 0, {{0}}, ""},
    /* Security: Account Logon */
    {"windows_auth_ticket_granted", SEC, EC_NONE, {4768, 672, 676}, 0, {{0}}, "authentication"},
    {"windows_service_ticket_granted", SEC, EC_NONE, {4769, 4773, 673, 677}, 0, {{0}}, "authentication"},
    {"windows_ticket_renewed", SEC, EC_NONE, {4770, 674}, 0, {{0}}, ""},
    {"windows_pre_auth_failed", SEC, EC_NONE, {4771, 675}, 0, {{0}}, "authentication"},
    {"windows_account_mapped", SEC, EC_NONE, {4774, 678}, 0, {{0}}, "authentication"},
    {"windows_account_notmapped", SEC, EC_NONE, {4775, 679}, 0, {{0}}, "authentication"},
    {"windows_account_used4logon", SEC, EC_NONE, {4776, 4777, 680, 681}, 0, {{0}}, "authentication"},
    {"windows_session_reconnected", SEC, EC_NONE, {4778, 682}, 0, {{0}}, ""},
    {"windows_session_disconnected", SEC, EC_NONE, {4779, 683}, 0, {{0}}, "access stop logoff"},
    /* Security: Account Management */
    {"windows_account_management", SEC, EC_TERMS, {0}, 0, {EQ("ta_windows_security_CategoryString", "Account Management"), EQ("TaskCategory", "User Account Management")}, "account change management"},
    {"windows_account_created", SEC, EC_NONE, {4720, 4741, 624, 645}, 0, {{0}}, "add account change"},
    {"windows_account_enabled", SEC, EC_NONE, {4722, 626}, 0, {{0}}, "enable account change"},
    {"windows_account_password_change", SEC, EC_NONE, {4723, 627}, 0, {{0}}, "password modify account change"},
    {"windows_account_password_set", SEC, EC_NONE, {4724, 628}, 0, {{0}}, "password modify account change"},
    {"windows_account_disabled", SEC, EC_NONE, {4725, 629}, 0, {{0}}, "disable account change"},
    {"windows_account_deleted", SEC, EC_NONE, {4726, 4743, 630, 647}, 0, {{0}}, "delete account change"},
    {"windows_account_modified", SEC, EC_NONE, {4738, 4742, 642, 646, 625}, 0, {{0}}, "modify account change"},
    {"windows_account_lockout", SEC, EC_NONE, {4740, 644}, 0, {{0}}, "lock lockout account change"},
    {"windows_account_unlocked", SEC, EC_NONE, {4767, 671}, 0, {{0}}, "modify account change"},
    /* Security: Audit (Event Log) */
    {"windows_audit_log_stopped", SEC, EC_NONE, {1100}, 0, {{0}}, "audit change endpoint stop stopped watchlist"},
    {"windows_audit_errors", SEC, EC_NONE, {1101, 1104, 1108}, 0, {{0}}, "audit error"},
    {"windows_audit_log_cleared", SEC, EC_NONE, {1102, 517}, 0, {{0}}, "audit change endpoint delete cleared watchlist"},
    {"windows_audit_backup", SEC, EC_NONE, {1105}, 0, {{0}}, "audit backup change"},
    {"windows_audit_log_logon", SEC, EC_AUDIT_STATUS, {4625}, 0, {{0}}, "audit change"},
    /* Security: Logon/Logoff */
    {"windows_logoff", SEC, EC_NONE, {4634, 4647, 538, 551}, 0, {{0}}, "access stop logoff"},
    {"windows_logon_explicit", SEC, EC_NONE, {4648, 552}, 0, {{0}}, "authentication privileged"},
    {"windows_logon_failure", SEC, EC_TERMS, {4625, 529, 530, 531, 532, 533, 534, 535, 536, 537, 539}, 4625, TERM1(T_NE, "ta_windows_action", "error"), "authentication"},
    {"windows_logon_success", SEC, EC_NONE, {4624, 528, 540}, 0, {{0}}, "authentication"},
    /* Security: Object Access */
    {"windows_object_open", SEC, EC_NONE, {4656, 560}, 0, {{0}}, "resource file access start"},
    {"windows_handle_closed", SEC, EC_NONE, {4658, 562}, 0, {{0}}, "resource file access stop"},
    /* Security: Policy Change */
    {"windows_audit_policy_change", SEC, EC_NONE, {4715, 4719, 612}, 0, {{0}}, "policy configuration modify audit change"},
    {"windows_security_access_granted", SEC, EC_NONE, {4717, 621}, 0, {{0}}, "access authorization add change account"},
    {"windows_security_access_removed", SEC, EC_NONE, {4718, 622}, 0, {{0}}, "access authorization delete change account"},
    {"windows_audit_policy_changed", SEC, EC_NONE, {4912, 807}, 0, {{0}}, "policy configuration modify audit change"},
    {"windows_firewall_policy_active", SEC, EC_NONE, {848, 849, 850}, 0, {{0}}, "application firewall configuration report"},
    {"windows_firewall_policy_change", SEC, EC_NONE, {4946, 4947, 4948, 851, 852}, 0, {{0}}, "application firewall configuration modify"},
    {"windows_firewall_port_listening", SEC, EC_NONE, {4957, 861}, 0, {{0}}, "application firewall port listening report"},
    /* Security: Privilege Use */
    {"windows_special_privileges", SEC, EC_NONE, {4672, 576}, 0, {{0}}, "authentication privileged"},
    {"windows_privileged_service_call", SEC, EC_NONE, {4673, 577}, 0, {{0}}, "process execute start privileged"},
    {"windows_privileged_object_operation", SEC, EC_NONE, {4674, 578}, 0, {{0}}, "resource execute start privileged"},
    /* Security: Process Tracking */
    {"windows_process_new", SEC, EC_NONE, {4688, 592}, 0, {{0}}, "process execute start"},
    {"windows_process_exit", SEC, EC_NONE, {4689, 593}, 0, {{0}}, "process execute stop"},
    {"windows_process_token", SEC, EC_NONE, {4696, 600}, 0, {{0}}, "process execute start privileged"},
    /* Security: System */
    {"windows_auth_package", SEC, EC_NONE, {4610, 514}, 0, {{0}}, "process execute start"},
    {"windows_logon_process", SEC, EC_NONE, {4611, 515}, 0, {{0}}, "process authorization add"},
    {"windows_notification_package", SEC, EC_NONE, {4614, 518}, 0, {{0}}, "process execute start"},
    /* Security: Vulnerability */
    {"windows_security_misconfiguration_password_minimum_length", SEC, EC_TERMS, {4739}, 0, {{T_LT, "Min__Password_Length", "7"}, {T_LT, "Mixed_Domain_Mode", "7"}}, "misconfiguration password policy vulnerability report audit change"},
    /* System: Time (windows_time_failure's second term is a bare word, as the add-on writes it) */
    {"windows_time_sync", SYS, EC_TERMS, {35, 37}, 0, {EQ("SourceName", "W32Time"), EQ("SourceName", "Microsoft-Windows-Time-Service")}, "report time synchronize success performance"},
    {"windows_time_failure", SYS, EC_TERMS, {17, 29, 36, 38}, 0, {EQ("SourceName", "W32Time"), {T_TEXT, NULL, "Microsoft-Windows-Time-Service"}}, "report time synchronize failure performance"},
    /* System: Update */
    {"windows_system_update", SYS, EC_TERMS, {0}, 0, TERM1(T_TEXT, NULL, "Windows Update Agent"), "system update"},
    {"windows_system_update_status", SYS, EC_TERMS, {17, 18, 19}, 0, TERM1(T_TEXT, NULL, "Windows Update Agent"), "status"},
    /* AD/DNS eventtypes */
    {"wineventlog-ds", "Directory Service", EC_NONE, {0}, 0, {{0}}, ""},
    {"wineventlog-dns", "DNS Server", EC_NONE, {0}, 0, {{0}}, ""},
    {"wineventlog-dfs", "DFS Replication", EC_NONE, {0}, 0, {{0}}, ""},
    {"wineventlog-filereplication", "File Replication Service", EC_NONE, {0}, 0, {{0}}, ""},
    {"wineventlog-keymanagement", "Key Management Service", EC_NONE, {0}, 0, {{0}}, ""},
    {"endpoint_services_processes", NULL, EC_NONE, {0}, 0, {{0}}, ""},
    /* Endpoint Processes, Endpoint Services, Security-CIM Mappings */
    {"windows_endpoint_processes", SEC, EC_NONE, {4688, 4689, 4696, 4673, 4674}, 0, {{0}}, "process report"},
    {"windows_endpoint_services", "Security|System", EC_NONE, {1100, 4697, 5024, 5025, 5030, 5033, 5034, 5035, 5478, 7036, 7040, 7045}, 0, {{0}}, "service report"},
    {"windows_security_endpoint_registry", SEC, EC_TERMS, {4657, 4670}, 4670, {EQ("Object_Type", "Registry"), EQ("ObjectType", "Registry")}, "endpoint registry"},
    {"windows_security_endpoint_port", SEC, EC_NONE, {5158}, 0, {{0}}, "listening port"},
    {"windows_security_change_audit", SEC, EC_NONE, {1101, 1108}, 0, {{0}}, "change audit"},
    {"windows_security_change", SEC, EC_NONE, {5461}, 0, {{0}}, "change"},
    {"windows_security_authentication", SEC, EC_NONE, {4801}, 0, {{0}}, "authentication"},
    {"windows_security_change_account", SEC, EC_NONE, {ACCT, 4781}, 0, {{0}}, "change account"},
    /* tags.conf field-value stanzas */
    {NULL, NULL, EC_TERMS, {0}, 0, TERM1(T_EQ, "Service_Name", "kadmin/changepw"), "account change password modify"},
    {NULL, NULL, EC_TERMS, {0}, 0, {EQ("privilege_id", "SeAuditPrivilege"), EQ("privilege_id", "SeSecurityPrivilege")}, "audit"},
    {NULL, NULL, EC_TERMS, {0}, 0, TERM1(T_EQ, "app", "win:local"), "local"},
    {NULL, NULL, EC_TERMS, {0}, 0, TERM1(T_EQ, "app", "win:remote"), "remote"},
    {NULL, NULL, EC_TERMS, {0}, 0, TERM1(T_EQ, "Logon_Type", "8"), "cleartext"},
    {NULL, NULL, EC_TERMS, {0}, 0, TERM1(T_EQ, "Token_Elevation_Type_id", "2"), "privileged"},
    {NULL, NULL, EC_TERMS, {0}, 0, TERM1(T_EQ, "app", "W32Time"), "time synchronize"},
    {NULL, NULL, EC_TERMS, {0}, 0, TERM1(T_EQ, "app", "wuauserv"), "automatic update"},
    /* Splunk_TA_microsoft_sysmon */
    {"ms-sysmon-process", SYSMON_CH, EC_NONE, {1, 5, 6, 8, 9, 10, 15, 17, 18}, 0, {{0}}, "process report"},
    {"ms-sysmon-network", SYSMON_CH, EC_NONE, {3}, 0, {{0}}, "network communicate"},
    {"ms-sysmon-filemod", SYSMON_CH, EC_NONE, {2, 11}, 0, {{0}}, "endpoint filesystem"},
    {"ms-sysmon-regmod", SYSMON_CH, EC_NONE, {12, 13, 14}, 0, {{0}}, "endpoint registry"},
    {"ms-sysmon-wmimod", SYSMON_CH, EC_NONE, {19, 20, 21}, 0, {{0}}, ""},
    {"ms-sysmon-dns", SYSMON_CH, EC_NONE, {22}, 0, {{0}}, "network resolution dns"},
};
/* clang-format on */
const unsigned esc_fields_netypes = sizeof esc_fields_etypes / sizeof esc_fields_etypes[0];
