/* CIM data models other than the fixed Endpoint.Processes record, as tables (docs/cim.md).
 *
 * Each dataset is one row of `models`: its names (data model, dataset, the field prefix tstats
 * writes), its constraint as Splunk_SA_CIM defines it (the tags an event must carry; source:
 * the data model JSON shipped with Splunk's pytest-splunk-addon, standard_lib/data_models/
 * Endpoint.json, Network_Traffic.json, Network_Resolution.json, Authentication.json,
 * Change.json: `tag=endpoint tag=registry`, `tag=endpoint tag=filesystem`, `tag=service
 * tag=report`, `tag=network tag=communicate`, `tag=network tag=resolution tag=dns`,
 * `tag=authentication NOT (action=success user=*$)`, `tag=change`), the (provider, event code)
 * list used in place of the tags while an event has no `tag` field, and its fields.
 *
 * A dataset field's value is the event's own field of that name when search-time extraction
 * gave one (the add-ons' aliases and calculated fields), else the table's fallback rule over
 * the Windows event's fields (copy, basename, a constant, ...); the fields the CIM 8.5 reference
 * calculates as `if(isnull(f) OR f="","unknown",f)` default to "unknown" (per dataset, below).
 * Risk.All_Risk is not made from events: its records are escudo's own risk events, handed in by
 * detect/risk_stage.c as field sets, which esc_dm_map copies and enriches (risk_map; fields from
 * Enterprise Security's "Risk Analysis" data model, dev.splunk.com "Data models used by ES", and
 * ESCU's data_sources/risk_analysis_datamodel.yml).
 * Invariants: a record's field set holds each dataset field at most once (its values
 * consecutive), values are views into the event, its field set or the caller's arena.
 * Not here: deciding which detections read a dataset (detect/), Endpoint.Processes (cim.c). */
#include <stdio.h>
#include <string.h>

#include "cim/cim.h"

typedef enum fop {
    F_COPY,          /* the raw field arg */
    F_BASENAME,      /* basename of arg */
    F_NODOMAIN,      /* text after the last '\' of arg */
    F_CONST,         /* arg itself */
    F_COMPUTER,      /* System/Computer */
    F_CODE,          /* the event code */
    F_LASTSEG,       /* last '\'-separated segment of arg */
    F_PARENTSEG,     /* the segment before the last one of arg */
    F_HIVE,          /* the hive of a registry path in arg, spelled out */
    F_REG_ACTION,    /* Sysmon 13/14 modified; 12 by EventType (esc_fields_reg_action) */
    F_FILE_ACTION,   /* Sysmon 11/15 created, 23/26 deleted, 2 modified */
    F_AUTH_ACTION,   /* 4625/4771 failure, 4776 by Status, else success */
    F_CHANGE_ACTION, /* account created / deleted / modified by event code */
    F_DIRECTION,     /* Sysmon Initiated: true outbound, false inbound */
} fop;

typedef struct dm_rule {
    const char *field; /* dataset field */
    fop op;
    const char *arg;
} dm_rule;

typedef struct dm_src {
    const char *provider;
    uint32_t code;
    const dm_rule *rules; /* fallback rules for events of this source */
} dm_src;

typedef struct dm_def {
    const char *model, *dataset; /* "Endpoint", "Registry" */
    const char *tags[3];         /* constraint: every tag present */
    const dm_src *src;           /* NULL-provider terminated */
    const char *unknown[8];      /* fields the CIM defaults to "unknown" when null or empty */
    const dm_rule *fields;       /* a tagged event of no listed source: these fields (or none) */
} dm_def;

#define SYSMON "Microsoft-Windows-Sysmon"
#define SECURITY "Microsoft-Windows-Security-Auditing"
#define SCM "Service Control Manager"

#define SYSMON_PROC                                                                                \
    {"dest", F_COMPUTER, NULL}, {"user", F_NODOMAIN, "User"},                                      \
        {"process_guid", F_COPY, "ProcessGuid"}, {"process_id", F_COPY, "ProcessId"},              \
        {"process_path", F_COPY, "Image"}, {"process_name", F_BASENAME, "Image"}, {                \
        "vendor_product", F_CONST, "Microsoft Sysmon"                                              \
    }

/* The Sysmon add-on sets registry_value_name (the last segment of TargetObject) and
 * registry_value_data (Details) for EventCode 13 only (Splunk_TA_microsoft_sysmon props.conf,
 * EVAL-registry_value_name / EVAL-registry_value_data); a key-level event (12, 14) has neither,
 * so the CIM's "unknown" default applies. registry_key_name is the key: the segment before the
 * value's on 13, the last segment on 12 and 14 (as fields.c reg_key_name). registry_hive is the
 * event's own field only: the add-on's EVAL (fields.c reg_hive) names three prefixes, and a
 * path it does not name (HKCR\, HKLM\SAM\, ...) has no hive in Splunk either. */
#define REG_SYSMON                                                                                 \
    SYSMON_PROC, {"action", F_REG_ACTION, "EventType"}, {"registry_path", F_COPY, "TargetObject"}, \
        {"registry_hive", F_COPY, NULL}, {                                                         \
        "status", F_CONST, "success"                                                               \
    }
static const dm_rule reg_sysmon[] = {
    REG_SYSMON,
    {"registry_key_name", F_PARENTSEG, "TargetObject"},
    {"registry_value_name", F_LASTSEG, "TargetObject"},
    {"registry_value_data", F_COPY, "Details"},
    {NULL, 0, NULL},
};
static const dm_rule reg_sysmon_key[] = {
    REG_SYSMON,
    {"registry_key_name", F_LASTSEG, "TargetObject"},
    {NULL, 0, NULL},
};

static const dm_rule reg_security[] = {
    {"dest", F_COMPUTER, NULL},
    {"user", F_COPY, "SubjectUserName"},
    {"process_id", F_COPY, "ProcessId"},
    {"process_path", F_COPY, "ProcessName"},
    {"process_name", F_BASENAME, "ProcessName"},
    {"action", F_CONST, "modified"},
    {"registry_path", F_COPY, "ObjectName"},
    {"registry_key_name", F_LASTSEG, "ObjectName"},
    {"registry_value_name", F_COPY, "ObjectValueName"},
    {"registry_value_data", F_COPY, "NewValue"},
    {"registry_hive", F_HIVE, "ObjectName"},
    {"status", F_CONST, "success"},
    {"vendor_product", F_CONST, "Microsoft Windows"},
    {NULL, 0, NULL},
};

static const dm_rule fs_sysmon[] = {
    SYSMON_PROC,
    {"action", F_FILE_ACTION, NULL},
    {"file_path", F_COPY, "TargetFilename"},
    {"file_name", F_BASENAME, "TargetFilename"},
    {"file_create_time", F_COPY, "CreationUtcTime"},
    {"file_hash", F_COPY, "Hashes"},
    {NULL, 0, NULL},
};

static const dm_rule svc_system[] = {
    {"dest", F_COMPUTER, NULL},
    {"user", F_COPY, "AccountName"},
    {"service", F_COPY, "ServiceName"},
    {"service_name", F_COPY, "ServiceName"},
    {"service_path", F_COPY, "ImagePath"},
    {"service_type", F_COPY, "ServiceType"},
    {"start_mode", F_COPY, "StartType"},
    {"status", F_CONST, "created"},
    {"vendor_product", F_CONST, "Microsoft Windows"},
    {NULL, 0, NULL},
};

static const dm_rule svc_security[] = {
    {"dest", F_COMPUTER, NULL},
    {"user", F_COPY, "ServiceAccount"},
    {"service", F_COPY, "ServiceName"},
    {"service_name", F_COPY, "ServiceName"},
    {"service_path", F_COPY, "ServiceFileName"},
    {"service_type", F_COPY, "ServiceType"},
    {"start_mode", F_COPY, "ServiceStartType"},
    {"status", F_CONST, "created"},
    {"vendor_product", F_CONST, "Microsoft Windows"},
    {NULL, 0, NULL},
};

static const dm_rule net_sysmon[] = {
    SYSMON_PROC,
    {"action", F_CONST, "allowed"},
    {"app", F_COPY, "Image"},
    {"src", F_COPY, "SourceIp"},
    {"src_ip", F_COPY, "SourceIp"},
    {"src_host", F_COPY, "SourceHostname"},
    {"src_port", F_COPY, "SourcePort"},
    {"dest_ip", F_COPY, "DestinationIp"},
    {"dest_host", F_COPY, "DestinationHostname"},
    {"dest_port", F_COPY, "DestinationPort"},
    {"transport", F_COPY, "Protocol"},
    {"direction", F_DIRECTION, "Initiated"},
    {"dvc", F_COMPUTER, NULL},
    {NULL, 0, NULL},
};

static const dm_rule net_security[] = {
    {"dest", F_COPY, "DestAddress"},
    {"action", F_CONST, "allowed"},
    {"app", F_COPY, "Application"},
    {"process_id", F_COPY, "ProcessID"},
    {"src", F_COPY, "SourceAddress"},
    {"src_ip", F_COPY, "SourceAddress"},
    {"src_port", F_COPY, "SourcePort"},
    {"dest_ip", F_COPY, "DestAddress"},
    {"dest_port", F_COPY, "DestPort"},
    {"protocol", F_COPY, "Protocol"},
    {"dvc", F_COMPUTER, NULL},
    {"vendor_product", F_CONST, "Microsoft Windows"},
    {NULL, 0, NULL},
};

static const dm_rule dns_sysmon[] = {
    SYSMON_PROC,
    {"src", F_COMPUTER, NULL},
    {"query", F_COPY, "QueryName"},
    {"answer", F_COPY, "QueryResults"},
    {"reply_code_id", F_COPY, "QueryStatus"},
    {NULL, 0, NULL},
};

static const dm_rule auth_security[] = {
    {"dest", F_COMPUTER, NULL},
    {"user", F_COPY, "TargetUserName"},
    {"src_user", F_COPY, "SubjectUserName"},
    {"src", F_COPY, "IpAddress"},
    {"src_ip", F_COPY, "IpAddress"},
    {"action", F_AUTH_ACTION, NULL},
    {"app", F_CONST, "win:local"},
    {"signature_id", F_CODE, NULL},
    {"authentication_method", F_COPY, "AuthenticationPackageName"},
    {"logon_type", F_COPY, "LogonType"},
    {"vendor_product", F_CONST, "Microsoft Windows"},
    {NULL, 0, NULL},
};

static const dm_rule change_security[] = {
    {"dest", F_COMPUTER, NULL},
    {"user", F_COPY, "TargetUserName"},
    {"object", F_COPY, "TargetUserName"},
    {"src_user", F_COPY, "SubjectUserName"},
    {"action", F_CHANGE_ACTION, NULL},
    {"change_type", F_CONST, "AAA"},
    {"object_category", F_CONST, "user"},
    {"result_id", F_CODE, NULL},
    {"status", F_CONST, "success"},
    {"vendor_product", F_CONST, "Microsoft Windows"},
    {NULL, 0, NULL},
};

static const dm_src src_registry[] = {
    {SYSMON, 12, reg_sysmon_key},   {SYSMON, 13, reg_sysmon}, {SYSMON, 14, reg_sysmon_key},
    {SECURITY, 4657, reg_security}, {NULL, 0, NULL},
};
static const dm_src src_filesystem[] = {
    {SYSMON, 11, fs_sysmon}, {SYSMON, 23, fs_sysmon}, {SYSMON, 26, fs_sysmon},
    {SYSMON, 2, fs_sysmon},  {SYSMON, 15, fs_sysmon}, {NULL, 0, NULL},
};
static const dm_src src_services[] = {
    {SCM, 7045, svc_system}, {SECURITY, 4697, svc_security}, {NULL, 0, NULL}};
static const dm_src src_traffic[] = {
    {SYSMON, 3, net_sysmon}, {SECURITY, 5156, net_security}, {NULL, 0, NULL}};
static const dm_src src_dns[] = {{SYSMON, 22, dns_sysmon}, {NULL, 0, NULL}};
static const dm_src src_auth[] = {
    {SECURITY, 4624, auth_security}, {SECURITY, 4625, auth_security},
    {SECURITY, 4648, auth_security}, {SECURITY, 4768, auth_security},
    {SECURITY, 4769, auth_security}, {SECURITY, 4771, auth_security},
    {SECURITY, 4776, auth_security}, {NULL, 0, NULL},
};
static const dm_src src_change[] = {
    {SECURITY, 4720, change_security},
    {SECURITY, 4722, change_security},
    {SECURITY, 4723, change_security},
    {SECURITY, 4724, change_security},
    {SECURITY, 4725, change_security},
    {SECURITY, 4726, change_security},
    {SECURITY, 4738, change_security},
    {SECURITY, 4740, change_security},
    {SECURITY, 4767, change_security},
    {SECURITY, 4781, change_security},
    {NULL, 0, NULL},
};

/* The `unknown` lists are the fields whose CIM 8.5 expression is
 * `if(isnull(f) OR f="","unknown",f)`: help.splunk.com/en/data-management/
 * common-information-model/8.5/data-models/endpoint (Registry: action, dest, registry_path,
 * registry_key_name, registry_value_data, registry_value_name, registry_value_type, user;
 * Filesystem: action, dest, file_hash, file_name, file_path, file_acl, user; Services: dest,
 * service, service_id, service_name, start_mode, user). The Network Traffic, Network Resolution
 * (DNS), Authentication and Change pages of the same reference give no such expression for
 * any field: their missing fields stay missing (docs/decisions.md). */
#define REG_UNKNOWN                                                                                \
    {                                                                                              \
        "action", "dest", "registry_path", "registry_key_name", "registry_value_data",             \
            "registry_value_name", "registry_value_type", "user"                                   \
    }
#define FS_UNKNOWN                                                                                 \
    { "action", "dest", "file_hash", "file_name", "file_path", "file_acl", "user" }
#define SVC_UNKNOWN                                                                                \
    { "dest", "service", "service_id", "service_name", "start_mode", "user" }

/* Splunk_SA_CIM Alerts.json (splunk/pytest-splunk-addon standard_lib/data_models/Alerts.json):
 * root dataset Alerts, constraint `tag=alert`, fields app, body, description, dest, dest_type,
 * id, mitre_technique_id, signature, signature_id, severity, severity_id, src, src_type,
 * subject, type, user, user_name, vendor_account, vendor_region. No Windows event escudo reads
 * is tagged `alert` by the add-ons it follows (docs/cim.md), so no source stands in for the tag:
 * the dataset holds the events whose own tags say `alert`, each field the event's own. */
#define ALERT_FIELD(f)                                                                             \
    { f, F_COPY, f }
static const dm_rule alerts_fields[] = {ALERT_FIELD("app"),
                                        ALERT_FIELD("body"),
                                        ALERT_FIELD("description"),
                                        ALERT_FIELD("dest"),
                                        ALERT_FIELD("dest_type"),
                                        ALERT_FIELD("id"),
                                        ALERT_FIELD("mitre_technique_id"),
                                        ALERT_FIELD("signature"),
                                        ALERT_FIELD("signature_id"),
                                        ALERT_FIELD("severity"),
                                        ALERT_FIELD("severity_id"),
                                        ALERT_FIELD("src"),
                                        ALERT_FIELD("src_type"),
                                        ALERT_FIELD("subject"),
                                        ALERT_FIELD("type"),
                                        ALERT_FIELD("user"),
                                        ALERT_FIELD("user_name"),
                                        ALERT_FIELD("vendor_account"),
                                        ALERT_FIELD("vendor_region"),
                                        {NULL, 0, NULL}};

static const dm_def models[ESC_DS_N] = {
    [ESC_DS_PROCESSES] = {"Endpoint", "Processes", {"process", "report", NULL}, NULL, {NULL}},
    [ESC_DS_REGISTRY] =
        {"Endpoint", "Registry", {"endpoint", "registry", NULL}, src_registry, REG_UNKNOWN},
    [ESC_DS_FILESYSTEM] =
        {"Endpoint", "Filesystem", {"endpoint", "filesystem", NULL}, src_filesystem, FS_UNKNOWN},
    [ESC_DS_SERVICES] =
        {"Endpoint", "Services", {"service", "report", NULL}, src_services, SVC_UNKNOWN},
    [ESC_DS_TRAFFIC] =
        {"Network_Traffic", "All_Traffic", {"network", "communicate", NULL}, src_traffic, {NULL}},
    [ESC_DS_DNS] = {"Network_Resolution", "DNS", {"network", "resolution", "dns"}, src_dns, {NULL}},
    [ESC_DS_AUTH] =
        {"Authentication", "Authentication", {"authentication", NULL, NULL}, src_auth, {NULL}},
    [ESC_DS_CHANGE] = {"Change", "All_Changes", {"change", NULL, NULL}, src_change, {NULL}},
    [ESC_DS_ALERTS] = {"Alerts", "Alerts", {"alert", NULL, NULL}, NULL, {NULL}, alerts_fields},
    [ESC_DS_RISK] = {"Risk", "All_Risk", {NULL, NULL, NULL}, NULL, {NULL}},
    [ESC_DS_RAW] = {NULL, NULL, {NULL, NULL, NULL}, NULL, {NULL}},
};

int esc_dm_lookup(esc_str name) {
    for (int d = 0; d < ESC_DS_RAW; d++) {
        size_t ml = strlen(models[d].model);
        if (esc_str_eq_c(name, models[d].model)) /* a model alone: its root dataset */
            return (d == ESC_DS_PROCESSES || d == ESC_DS_REGISTRY || d == ESC_DS_FILESYSTEM ||
                    d == ESC_DS_SERVICES)
                       ? -1
                       : d;
        if (name.len == ml + 1 + strlen(models[d].dataset) &&
            memcmp(name.ptr, models[d].model, ml) == 0 && name.ptr[ml] == '.' &&
            memcmp(name.ptr + ml + 1, models[d].dataset, name.len - ml - 1) == 0)
            return d;
    }
    return -1;
}

const char *esc_dm_prefix(int ds) {
    return ds >= 0 && ds < ESC_DS_RAW ? models[ds].dataset : NULL;
}

const char *esc_dm_name(int ds, char *buf, size_t cap) {
    if (ds == ESC_DS_RAW || ds < 0 || ds >= ESC_DS_N)
        return "raw events";
    snprintf(buf, cap, "%s.%s", models[ds].model, models[ds].dataset);
    return buf;
}

size_t esc_dm_sources(int ds, esc_win_source *out, size_t max) {
    size_t n = 0;
    if (ds < 0 || ds >= ESC_DS_RAW || !models[ds].src)
        return 0;
    for (const dm_src *s = models[ds].src; s->provider; s++) {
        if (n < max)
            out[n] = (esc_win_source){s->provider, s->code};
        n++;
    }
    return n;
}

static const dm_src *source_of(int ds, const esc_event *ev) {
    if (!models[ds].src || ev->kind != ESC_EV_WINDOWS || !ev->has_event_id)
        return NULL;
    for (const dm_src *s = models[ds].src; s->provider; s++)
        if (s->code == ev->event_id && esc_str_ieq_c(ev->provider, s->provider))
            return s;
    return NULL;
}

bool esc_dm_wants(int ds, const esc_event *ev) {
    return ds > ESC_DS_PROCESSES && ds < ESC_DS_RAW && ds != ESC_DS_RISK &&
           source_of(ds, ev) != NULL;
}

/* ---- rules ---------------------------------------------------------------------------------- */

static bool missing(esc_str v) {
    return !v.ptr || !v.len || (v.len == 1 && v.ptr[0] == '-');
}

static esc_str get(const esc_fields *fs, const char *name) {
    esc_str v = esc_fields_get(fs, esc_str_c(name));
    return missing(v) ? ESC_STR_NULL : v;
}

static esc_str lastseg(esc_str v, bool parent) {
    size_t end = v.len;
    if (parent) {
        while (end > 0 && v.ptr[end - 1] != '\\')
            end--;
        if (end == 0)
            return ESC_STR_NULL;
        end--;
    }
    size_t b = end;
    while (b > 0 && v.ptr[b - 1] != '\\')
        b--;
    return b == end ? ESC_STR_NULL : esc_str_make(v.ptr + b, end - b);
}

static esc_str hive(esc_str v) {
    static const char *const h[][2] = {
        {"HKLM", "HKEY_LOCAL_MACHINE"},     {"HKU", "HKEY_USERS"},
        {"HKCU", "HKEY_CURRENT_USER"},      {"HKCR", "HKEY_CLASSES_ROOT"},
        {"HKCC", "HKEY_CURRENT_CONFIG"},    {"\\REGISTRY\\MACHINE", "HKEY_LOCAL_MACHINE"},
        {"\\REGISTRY\\USER", "HKEY_USERS"},
    };
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        size_t n = strlen(h[i][0]);
        if (v.len >= n && esc_str_ieq_c(esc_str_make(v.ptr, n), h[i][0]) &&
            (v.len == n || v.ptr[n] == '\\'))
            return esc_str_c(h[i][1]);
    }
    return ESC_STR_NULL;
}

static esc_str action_of(fop op, const esc_event *ev, esc_str arg) {
    uint32_t c = ev->event_id;
    switch (op) {
    case F_REG_ACTION:
        return c == 13 || c == 14 ? esc_str_c("modified") : esc_fields_reg_action(arg);
    case F_FILE_ACTION:
        return esc_str_c(c == 23 || c == 26 ? "deleted" : c == 2 ? "modified" : "created");
    case F_AUTH_ACTION:
        if (c == 4625 || c == 4771)
            return esc_str_c("failure");
        if (c == 4776 && arg.ptr && !esc_str_eq_c(arg, "0x0"))
            return esc_str_c("failure");
        return esc_str_c("success");
    case F_CHANGE_ACTION:
        return esc_str_c(c == 4720 ? "created" : c == 4726 ? "deleted" : "modified");
    default:
        return ESC_STR_NULL;
    }
}

static esc_str apply(const dm_rule *r, const esc_fields *fs, char *code, size_t ccap) {
    const esc_event *ev = fs->ev;
    esc_str a = r->arg && r->op != F_CONST ? get(fs, r->arg) : ESC_STR_NULL;
    switch (r->op) {
    case F_COPY:
        return a;
    case F_BASENAME:
        return a.ptr ? esc_str_basename(a) : a;
    case F_NODOMAIN:
        return a.ptr && lastseg(a, false).ptr ? lastseg(a, false) : a;
    case F_CONST:
        return esc_str_c(r->arg);
    case F_COMPUTER:
        return missing(ev->computer) ? ESC_STR_NULL : ev->computer;
    case F_CODE: {
        int n = snprintf(code, ccap, "%u", (unsigned)ev->event_id);
        return esc_str_make(code, (size_t)n);
    }
    case F_LASTSEG:
    case F_PARENTSEG:
        return a.ptr ? lastseg(a, r->op == F_PARENTSEG) : a;
    case F_HIVE:
        return a.ptr ? hive(a) : a;
    case F_DIRECTION:
        if (!a.ptr)
            return a;
        return esc_str_c(esc_str_ieq_c(a, "true") ? "outbound" : "inbound");
    default:
        if (r->op == F_AUTH_ACTION && ev->event_id == 4776)
            a = get(fs, "Status");
        return action_of(r->op, ev, a);
    }
}

/* ---- Risk.All_Risk ----------------------------------------------------------------------------
 */

/* MITRE ATT&CK Enterprise tactics: short name -> id (attack.mitre.org/tactics/enterprise/). */
static const char *const tactic_ids[][2] = {
    {"reconnaissance", "TA0043"},  {"resource-development", "TA0042"},
    {"initial-access", "TA0001"},  {"execution", "TA0002"},
    {"persistence", "TA0003"},     {"privilege-escalation", "TA0004"},
    {"defense-evasion", "TA0005"}, {"credential-access", "TA0006"},
    {"discovery", "TA0007"},       {"lateral-movement", "TA0008"},
    {"collection", "TA0009"},      {"command-and-control", "TA0011"},
    {"exfiltration", "TA0010"},    {"impact", "TA0040"},
};

/* Values of `from` (mapped through tactic_ids when ids is set) added as `to`, unless the event
 * already has `to`. */
static esc_status risk_derive(const esc_fields *fs, esc_arena *a, esc_fields *out, const char *from,
                              const char *to, bool ids) {
    if (esc_fields_get(fs, esc_str_c(to)).ptr)
        return ESC_OK;
    esc_status st = ESC_OK;
    for (size_t i = 0; !st && i < fs->n; i++) {
        if (!esc_str_eq_c(fs->f[i].name, from))
            continue;
        esc_str v = fs->f[i].value;
        if (ids) {
            v = ESC_STR_NULL;
            for (size_t k = 0; k < sizeof tactic_ids / sizeof *tactic_ids && !v.ptr; k++)
                if (esc_str_ieq_c(fs->f[i].value, tactic_ids[k][0]))
                    v = esc_str_c(tactic_ids[k][1]);
            if (!v.ptr)
                continue;
        }
        st = esc_fields_add(out, a, esc_str_c(to), v, false);
    }
    return st;
}

/* A risk event as the Risk data model's All_Risk dataset holds it: every field of the event
 * (risk_object, risk_object_type, risk_score, calculated_risk_score, search_name, source,
 * analyticstories, threat_object, annotations.*, the row's fields), then what Enterprise
 * Security's annotation enrichment adds from the ATT&CK ids: mitre_technique_id (the ids of
 * annotations.mitre_attack) and mitre_tactic_id (the ids of the tactics). */
static esc_status risk_map(const esc_fields *fs, esc_arena *a, esc_fields *out) {
    *out = (esc_fields){
        .time_us = fs->time_us, .has_time = fs->has_time, .raw = fs->raw, .ev = fs->ev};
    esc_status st = ESC_OK;
    for (size_t i = 0; !st && i < fs->n; i++)
        st = esc_fields_add(out, a, fs->f[i].name, fs->f[i].value, false);
    if (!st)
        st = risk_derive(fs, a, out, "annotations.mitre_attack",
                         "annotations.mitre_attack.mitre_technique_id", false);
    if (!st)
        st = risk_derive(fs, a, out, "annotations.mitre_attack.mitre_tactic",
                         "annotations.mitre_attack.mitre_tactic_id", true);
    return st;
}

/* Every tag of the constraint among the event's tag values. */
static bool tagged(const dm_def *m, const esc_fields *fs) {
    for (size_t t = 0; t < 3 && m->tags[t]; t++) {
        bool found = false;
        for (size_t i = 0; i < fs->n && !found; i++)
            found = esc_str_eq_c(fs->f[i].name, "tag") && esc_str_eq_c(fs->f[i].value, m->tags[t]);
        if (!found)
            return false;
    }
    return true;
}

static bool has_tags(const esc_fields *fs) {
    for (size_t i = 0; i < fs->n; i++)
        if (esc_str_eq_c(fs->f[i].name, "tag"))
            return true;
    return false;
}

esc_status esc_dm_map(int ds, const esc_fields *fs, esc_arena *a, esc_fields *out) {
    if (ds <= ESC_DS_PROCESSES || ds >= ESC_DS_RAW)
        return ESC_SKIP;
    if (ds == ESC_DS_RISK)
        return risk_map(fs, a, out);
    const dm_def *m = &models[ds];
    const dm_src *src = source_of(ds, fs->ev);
    if (has_tags(fs) ? !tagged(m, fs) : !src)
        return ESC_SKIP;
    *out = (esc_fields){
        .time_us = fs->time_us, .has_time = fs->has_time, .raw = fs->raw, .ev = fs->ev};
    static const dm_rule none[] = {{NULL, 0, NULL}};
    const dm_rule *rules = src ? src->rules : m->fields ? m->fields : none;
    char code[16];
    esc_status st = ESC_OK;
    for (const dm_rule *r = rules; !st && r->field; r++) {
        esc_str name = esc_str_c(r->field);
        esc_str vals[64];
        size_t nv = esc_fields_values(fs, name, vals, 64); /* the add-on's own field first */
        if (nv > 64)
            nv = 64;
        bool copy = false;
        if (!nv) {
            vals[0] = apply(r, fs, code, sizeof code);
            nv = vals[0].ptr ? 1 : 0;
            copy = vals[0].ptr == code;
        }
        for (size_t k = 0; !st && k < nv; k++)
            if (!missing(vals[k]))
                st = esc_fields_add(out, a, name, vals[k], copy);
    }
    for (size_t k = 0; !st && k < 8 && m->unknown[k]; k++) /* the CIM's "unknown" defaults */
        if (!esc_fields_get(out, esc_str_c(m->unknown[k])).ptr)
            st = esc_fields_add(out, a, esc_str_c(m->unknown[k]), esc_str_c("unknown"), false);
    /* Authentication's root constraint: NOT (action=success user=*$) */
    if (!st && ds == ESC_DS_AUTH) {
        esc_str act = esc_fields_get(out, esc_str_c("action"));
        esc_str u = esc_fields_get(out, esc_str_c("user"));
        if (esc_str_eq_c(act, "success") && u.len && u.ptr[u.len - 1] == '$')
            return ESC_SKIP;
    }
    return st;
}
