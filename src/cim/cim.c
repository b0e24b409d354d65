/* Source event -> CIM Endpoint.Processes record, as tables (SPEC section 2, docs/cim.md).
 *
 * Each source has one row of rules per CIM field: copy a raw field, take its basename, strip
 * the domain, or a named special rule (4688 process, CrowdStrike program token). Profiles
 * differ only in the rules they list. Invariants: a value that is absent, empty or "-" is
 * missing; missing defaulted fields become "unknown" (CIM_DEFAULTED); others stay absent.
 * Composed values live in the caller's arena. The other events the add-ons tag `process report`
 * (Sysmon 5, 6, 8, 9, 10, 15, 17, 18; Security 4689, 4696, 4673, 4674) have tables too, made of
 * the add-ons' search-time rules for the CIM fields (the same rules as src/fields/rules.c).
 * Not here: deciding which detections run. */
#include "cim/cim.h"

#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/timeutil.h"

static const char *const field_names[ESC_CIM_NFIELDS] = {
    [ESC_CIM_DEST] = "dest",
    [ESC_CIM_USER] = "user",
    [ESC_CIM_PROCESS] = "process",
    [ESC_CIM_PROCESS_NAME] = "process_name",
    [ESC_CIM_PROCESS_PATH] = "process_path",
    [ESC_CIM_ORIGINAL_FILE_NAME] = "original_file_name",
    [ESC_CIM_PARENT_PROCESS] = "parent_process",
    [ESC_CIM_PARENT_PROCESS_NAME] = "parent_process_name",
    [ESC_CIM_PARENT_PROCESS_PATH] = "parent_process_path",
    [ESC_CIM_PROCESS_ID] = "process_id",
    [ESC_CIM_PARENT_PROCESS_ID] = "parent_process_id",
    [ESC_CIM_PROCESS_GUID] = "process_guid",
    [ESC_CIM_PARENT_PROCESS_GUID] = "parent_process_guid",
    [ESC_CIM_PROCESS_HASH] = "process_hash",
    [ESC_CIM_PROCESS_INTEGRITY_LEVEL] = "process_integrity_level",
    [ESC_CIM_PROCESS_CURRENT_DIRECTORY] = "process_current_directory",
    [ESC_CIM_VENDOR_PRODUCT] = "vendor_product",
    [ESC_CIM_ACTION] = "action",
    [ESC_CIM_PROCESS_EXEC] = "process_exec",
    [ESC_CIM_PARENT_PROCESS_EXEC] = "parent_process_exec",
};

/* Fields the CIM app defaults to "unknown". */
static const esc_cim_field defaulted[] = {
    ESC_CIM_DEST,
    ESC_CIM_USER,
    ESC_CIM_PROCESS,
    ESC_CIM_PROCESS_NAME,
    ESC_CIM_PARENT_PROCESS,
    ESC_CIM_PARENT_PROCESS_NAME,
    ESC_CIM_ORIGINAL_FILE_NAME,
};

const char *esc_cim_field_name(esc_cim_field f) {
    return (unsigned)f < ESC_CIM_NFIELDS ? field_names[f] : NULL;
}

int esc_cim_field_lookup(esc_str name) {
    for (int i = 0; i < ESC_CIM_NFIELDS; i++)
        if (esc_str_eq_c(name, field_names[i]))
            return i;
    return -1;
}

/* ---- the mapping tables -------------------------------------------------------------------- */

typedef enum rule_op {
    R_NONE,                /* not filled by this source */
    R_COPY,                /* raw value */
    R_BASENAME,            /* basename(raw) */
    R_NODOMAIN,            /* text after the last '\' */
    R_LOWER,               /* lower-cased raw value */
    R_CONST,               /* a constant (vendor_product) */
    R_COMPUTER,            /* System/Computer of a Windows event */
    R_4688_PROCESS,        /* note (a) */
    R_4688_USER_SPLUNK,    /* TargetUserName unless missing, else SubjectUserName; no domain */
    R_4688_USER_NATIVE,    /* Domain\User of Target, else Subject */
    R_4688_PROCESS_NATIVE, /* CommandLine, else NewProcessName */
    R_CS_DEST,             /* device_hostname, aid_computer_name, aidmaster */
    R_CS_USER,             /* UserSid, else UID */
    R_CS_PROCESS,          /* trimmed, quotes removed */
    R_CS_TOKEN,            /* note (b): the program token */
    R_CS_TOKEN_BASENAME,   /* note (b): text after the token's last '\' */
    R_SEC_DEST,            /* TargetServerName without leading '\'s, else Computer */
    R_SOURCE_GUID,         /* SourceProcessGuid (Sysmon 8), else SourceProcessGUID (Sysmon 10) */
    R_4688_ACTION,         /* "allowed" when Keywords is 0x8020000000000000 (audit success) */
} rule_op;

typedef struct rule {
    rule_op op;
    const char *arg;
} rule;

typedef rule mapping[ESC_CIM_NFIELDS];

#define SYSMON_COMMON                                                                              \
    [ESC_CIM_DEST] = {R_COMPUTER, NULL}, [ESC_CIM_PROCESS] = {R_COPY, "CommandLine"},              \
    [ESC_CIM_PROCESS_NAME] = {R_BASENAME, "Image"}, [ESC_CIM_PROCESS_PATH] = {R_COPY, "Image"},    \
    [ESC_CIM_ORIGINAL_FILE_NAME] = {R_COPY, "OriginalFileName"},                                   \
    [ESC_CIM_PARENT_PROCESS] = {R_COPY, "ParentCommandLine"},                                      \
    [ESC_CIM_PARENT_PROCESS_NAME] = {R_BASENAME, "ParentImage"},                                   \
    [ESC_CIM_PARENT_PROCESS_PATH] = {R_COPY, "ParentImage"},                                       \
    [ESC_CIM_PROCESS_ID] = {R_COPY, "ProcessId"},                                                  \
    [ESC_CIM_PARENT_PROCESS_ID] = {R_COPY, "ParentProcessId"},                                     \
    [ESC_CIM_PROCESS_GUID] = {R_COPY, "ProcessGuid"},                                              \
    [ESC_CIM_PARENT_PROCESS_GUID] = {R_COPY, "ParentProcessGuid"},                                 \
    [ESC_CIM_PROCESS_HASH] = {R_COPY, "Hashes"},                                                   \
    [ESC_CIM_PROCESS_INTEGRITY_LEVEL] = {R_LOWER, "IntegrityLevel"},                               \
    [ESC_CIM_PROCESS_CURRENT_DIRECTORY] = {R_COPY, "CurrentDirectory"},                            \
    [ESC_CIM_VENDOR_PRODUCT] = {R_CONST, "Microsoft Sysmon"},                                      \
    [ESC_CIM_ACTION] = {R_CONST, "allowed"}, [ESC_CIM_PROCESS_EXEC] = {R_BASENAME, "Image"},       \
    [ESC_CIM_PARENT_PROCESS_EXEC] = {R_BASENAME, "ParentImage"}

#define SECURITY_COMMON                                                                            \
    [ESC_CIM_DEST] = {R_COMPUTER, NULL}, [ESC_CIM_PROCESS_NAME] = {R_BASENAME, "NewProcessName"},  \
    [ESC_CIM_PROCESS_PATH] = {R_COPY, "NewProcessName"},                                           \
    [ESC_CIM_PARENT_PROCESS] = {R_COPY, "ParentProcessName"},                                      \
    [ESC_CIM_PARENT_PROCESS_NAME] = {R_BASENAME, "ParentProcessName"},                             \
    [ESC_CIM_PARENT_PROCESS_PATH] = {R_COPY, "ParentProcessName"},                                 \
    [ESC_CIM_PROCESS_ID] = {R_COPY, "NewProcessId"},                                               \
    [ESC_CIM_PARENT_PROCESS_ID] = {R_COPY, "ProcessId"},                                           \
    [ESC_CIM_VENDOR_PRODUCT] = {R_CONST, "Microsoft Windows"},                                     \
    [ESC_CIM_ACTION] = {R_4688_ACTION, NULL},                                                      \
    [ESC_CIM_PROCESS_EXEC] = {R_BASENAME, "NewProcessName"}

#define CROWDSTRIKE_COMMON                                                                         \
    [ESC_CIM_DEST] = {R_CS_DEST, NULL}, [ESC_CIM_USER] = {R_CS_USER, NULL},                        \
    [ESC_CIM_PROCESS_PATH] = {R_CS_TOKEN, NULL},                                                   \
    [ESC_CIM_PARENT_PROCESS_NAME] = {R_COPY, "ParentBaseFileName"},                                \
    [ESC_CIM_PROCESS_ID] = {R_COPY, "TargetProcessId"},                                            \
    [ESC_CIM_PARENT_PROCESS_ID] = {R_COPY, "ParentProcessId"},                                     \
    [ESC_CIM_PROCESS_HASH] = {R_COPY, "SHA256HashData"},                                           \
    [ESC_CIM_VENDOR_PRODUCT] = {R_CONST, "CrowdStrike FDR"}

/* The other sources tagged `process report` (docs/cim.md, docs/fields.md): the add-ons'
 * search-time rules for the CIM fields, as src/fields/rules.c has them. Sysmon
 * ([source::XmlWinEventLog:Microsoft-Windows-Sysmon/Operational]): EVAL-dest = Computer,
 * EVAL-user = User without its domain, EVAL-process_id/process_guid/process_path/process_name
 * from SourceProcessId, SourceProcessGuid (10: SourceProcessGUID), SourceImage for EventCode 8
 * and 10 and from ProcessId, ProcessGuid, Image otherwise, EVAL-process_hash = Hashes,
 * EVAL-process_integrity_level = lower(IntegrityLevel), EVAL-process_current_directory,
 * EVAL-original_file_name; `process` and the parent fields are EventCode 1's only. Security
 * ([source::XmlWinEventLog:Security]): REPORT-dest (Target_Server_Name without leading
 * backslashes, else Computer), EVAL-process and EVAL-process_path (4689/4673/4674: the
 * ProcessName extraction; 4696: TargetProcessName), EVAL-process_name (their basename),
 * EXTRACT process_id (ProcessId; 4696: EVAL-process_id = TargetProcessId), EVAL-user
 * (SubjectUserName; 4696: Target_User_Name), FIELDALIAS parent_process (ParentProcessName),
 * 4696's EVAL-parent_process/parent_process_name/parent_process_path/parent_process_id
 * (ProcessName, its basename, ProcessId), EVAL-process_exec (the basename of ProcessName; 4696:
 * target_process_name, that of TargetProcessName), EVAL-vendor_product. */
#define SYSMON_TAGGED_COMMON(img, pid, guid)                                                       \
    [ESC_CIM_DEST] = {R_COMPUTER, NULL}, [ESC_CIM_PROCESS_NAME] = {R_BASENAME, img},               \
    [ESC_CIM_PROCESS_PATH] = {R_COPY, img}, [ESC_CIM_PROCESS_ID] = {R_COPY, pid},                  \
    [ESC_CIM_PROCESS_GUID] = {guid ? R_COPY : R_SOURCE_GUID, guid},                                \
    [ESC_CIM_ORIGINAL_FILE_NAME] = {R_COPY, "OriginalFileName"},                                   \
    [ESC_CIM_PROCESS_HASH] = {R_COPY, "Hashes"},                                                   \
    [ESC_CIM_PROCESS_CURRENT_DIRECTORY] = {R_COPY, "CurrentDirectory"},                            \
    [ESC_CIM_VENDOR_PRODUCT] = {R_CONST, "Microsoft Sysmon"}
#define SYSMON_TAGGED_SPLUNK(img, pid, guid)                                                       \
    {                                                                                              \
        SYSMON_TAGGED_COMMON(img, pid, guid), [ESC_CIM_USER] = {R_NODOMAIN, "User"},               \
                                              [ESC_CIM_PROCESS_INTEGRITY_LEVEL] = {                \
                                                  R_LOWER,                                         \
                                                  "IntegrityLevel"                                 \
                                              }                                                    \
    }
#define SYSMON_TAGGED_NATIVE(img, pid, guid)                                                       \
    {                                                                                              \
        SYSMON_TAGGED_COMMON(img, pid, guid), [ESC_CIM_USER] = {R_COPY, "User"},                   \
                                              [ESC_CIM_PROCESS_INTEGRITY_LEVEL] = {                \
                                                  R_COPY,                                          \
                                                  "IntegrityLevel"                                 \
                                              }                                                    \
    }
#define SECURITY_TAGGED                                                                            \
    {                                                                                              \
        [ESC_CIM_DEST] = {R_SEC_DEST, NULL}, [ESC_CIM_USER] = {R_COPY, "SubjectUserName"},         \
        [ESC_CIM_PROCESS] = {R_COPY, "ProcessName"},                                               \
        [ESC_CIM_PROCESS_PATH] = {R_COPY, "ProcessName"},                                          \
        [ESC_CIM_PROCESS_NAME] = {R_BASENAME, "ProcessName"},                                      \
        [ESC_CIM_PROCESS_ID] = {R_COPY, "ProcessId"},                                              \
        [ESC_CIM_PARENT_PROCESS] = {R_COPY, "ParentProcessName"},                                  \
        [ESC_CIM_PARENT_PROCESS_NAME] = {R_BASENAME, "ParentProcessName"},                         \
        [ESC_CIM_PROCESS_EXEC] = {R_BASENAME, "ProcessName"}, [ESC_CIM_VENDOR_PRODUCT] = {         \
            R_CONST,                                                                               \
            "Microsoft Windows"                                                                    \
        }                                                                                          \
    }
#define SECURITY_4696                                                                              \
    {                                                                                              \
        [ESC_CIM_DEST] = {R_SEC_DEST, NULL}, [ESC_CIM_USER] = {R_COPY, "TargetUserName"},          \
        [ESC_CIM_PROCESS] = {R_COPY, "TargetProcessName"},                                         \
        [ESC_CIM_PROCESS_PATH] = {R_COPY, "TargetProcessName"},                                    \
        [ESC_CIM_PROCESS_NAME] = {R_BASENAME, "TargetProcessName"},                                \
        [ESC_CIM_PROCESS_ID] = {R_COPY, "TargetProcessId"},                                        \
        [ESC_CIM_PARENT_PROCESS] = {R_COPY, "ProcessName"},                                        \
        [ESC_CIM_PARENT_PROCESS_NAME] = {R_BASENAME, "ProcessName"},                               \
        [ESC_CIM_PARENT_PROCESS_PATH] = {R_COPY, "ProcessName"},                                   \
        [ESC_CIM_PROCESS_EXEC] = {R_BASENAME, "TargetProcessName"},                                \
        [ESC_CIM_PARENT_PROCESS_ID] = {R_COPY, "ProcessId"}, [ESC_CIM_VENDOR_PRODUCT] = {          \
            R_CONST,                                                                               \
            "Microsoft Windows"                                                                    \
        }                                                                                          \
    }

static const mapping maps[2][ESC_SRC_N] = {
    [ESC_PROFILE_SPLUNK] =
        {
            [ESC_SRC_SYSMON1] = {SYSMON_COMMON, [ESC_CIM_USER] = {R_NODOMAIN, "User"}},
            [ESC_SRC_SECURITY4688] = {SECURITY_COMMON, [ESC_CIM_USER] = {R_4688_USER_SPLUNK, NULL},
                                      [ESC_CIM_PROCESS] = {R_4688_PROCESS, NULL}},
            [ESC_SRC_CROWDSTRIKE] = {CROWDSTRIKE_COMMON, [ESC_CIM_PROCESS] = {R_CS_PROCESS, NULL},
                                     [ESC_CIM_PROCESS_NAME] = {R_CS_TOKEN_BASENAME, NULL}},
            [ESC_SRC_SYSMON_TAGGED] = SYSMON_TAGGED_SPLUNK("Image", "ProcessId", "ProcessGuid"),
            [ESC_SRC_SYSMON_SOURCE] = SYSMON_TAGGED_SPLUNK("SourceImage", "SourceProcessId", NULL),
            [ESC_SRC_SECURITY_TAGGED] = SECURITY_TAGGED,
            [ESC_SRC_SECURITY4696] = SECURITY_4696,
        },
    [ESC_PROFILE_NATIVE] =
        {
            [ESC_SRC_SYSMON1] = {SYSMON_COMMON, [ESC_CIM_USER] = {R_COPY, "User"}},
            [ESC_SRC_SECURITY4688] = {SECURITY_COMMON, [ESC_CIM_USER] = {R_4688_USER_NATIVE, NULL},
                                      [ESC_CIM_PROCESS] = {R_4688_PROCESS_NATIVE, NULL}},
            [ESC_SRC_CROWDSTRIKE] =
                {CROWDSTRIKE_COMMON, [ESC_CIM_PROCESS] = {R_COPY, "CommandLine"},
                 [ESC_CIM_PROCESS_NAME] = {R_BASENAME, "ImageFileName"}},
            [ESC_SRC_SYSMON_TAGGED] = SYSMON_TAGGED_NATIVE("Image", "ProcessId", "ProcessGuid"),
            [ESC_SRC_SYSMON_SOURCE] = SYSMON_TAGGED_NATIVE("SourceImage", "SourceProcessId", NULL),
            [ESC_SRC_SECURITY_TAGGED] = SECURITY_TAGGED,
            [ESC_SRC_SECURITY4696] = SECURITY_4696,
        },
};

static const char *const raw_fields[] = {"SourceImage",
                                         "SourceProcessId",
                                         "SourceProcessGuid",
                                         "SourceProcessGUID",
                                         "ProcessName",
                                         "TargetProcessName",
                                         "TargetProcessId",
                                         "TargetServerName",
                                         "UtcTime",
                                         "Computer",
                                         "User",
                                         "CommandLine",
                                         "Image",
                                         "OriginalFileName",
                                         "ParentCommandLine",
                                         "ParentImage",
                                         "ProcessId",
                                         "ParentProcessId",
                                         "ProcessGuid",
                                         "ParentProcessGuid",
                                         "Hashes",
                                         "IntegrityLevel",
                                         "CurrentDirectory",
                                         "NewProcessName",
                                         "ParentProcessName",
                                         "NewProcessId",
                                         "TargetUserName",
                                         "TargetDomainName",
                                         "SubjectUserName",
                                         "SubjectDomainName",
                                         "event_simpleName",
                                         "timestamp",
                                         "device_hostname",
                                         "aid_computer_name",
                                         "aid",
                                         "ComputerName",
                                         "UserSid",
                                         "UID",
                                         "ImageFileName",
                                         "ParentBaseFileName",
                                         "TargetProcessId",
                                         "SHA256HashData",
                                         "Keywords",
                                         NULL};

const char *const *esc_cim_raw_fields(void) {
    return raw_fields;
}

/* ---- rules -------------------------------------------------------------------------------- */

static bool missing(esc_str v) {
    return v.ptr == NULL || v.len == 0 || (v.len == 1 && v.ptr[0] == '-');
}

/* A raw value, or ESC_STR_NULL when missing. */
static esc_str raw(const esc_event *ev, const char *name) {
    esc_str v = esc_event_get(ev, name);
    return missing(v) ? ESC_STR_NULL : v;
}

static esc_str nodomain(esc_str v) {
    for (size_t i = v.len; i > 0; i--)
        if (v.ptr[i - 1] == '\\')
            return i == v.len ? v : esc_str_make(v.ptr + i, v.len - i);
    return v;
}

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* SPEC 2 (a): split like (^"[^"]+"|[^\s]+)\s*(.*) and rebuild from NewProcessName. */
static esc_status security_process(const esc_event *ev, esc_arena *a, esc_str *out) {
    esc_str cmd = raw(ev, "CommandLine");
    esc_str img = raw(ev, "NewProcessName");
    if (!cmd.ptr) {
        *out = img;
        return ESC_OK;
    }
    const char *s = cmd.ptr;
    size_t n = cmd.len, t0 = 0, t1 = 0;
    const char *q = n > 1 && s[0] == '"' ? memchr(s + 1, '"', n - 1) : NULL;
    if (q && q > s + 1) {
        t1 = (size_t)(q - s) + 1;
    } else {
        while (t0 < n && is_space(s[t0]))
            t0++;
        if (t0 == n) { /* nothing to split: keep the command line */
            *out = cmd;
            return ESC_OK;
        }
        t1 = t0;
        while (t1 < n && !is_space(s[t1]))
            t1++;
    }
    if (memchr(s + t0, '\\', t1 - t0)) {
        *out = cmd;
        return ESC_OK;
    }
    if (!img.ptr) {
        *out = ESC_STR_NULL;
        return ESC_OK;
    }
    size_t a0 = t1;
    while (a0 < n && is_space(s[a0]))
        a0++;
    size_t a1 = a0;
    while (a1 < n && s[a1] != '\n')
        a1++;
    bool quote = false;
    for (size_t i = 0; i < img.len; i++)
        quote |= is_space(img.ptr[i]);
    size_t len = img.len + (quote ? 2 : 0) + 1 + (a1 - a0);
    char *p = esc_arena_alloc(a, len + 1);
    if (!p)
        return ESC_ELIMIT;
    size_t k = 0;
    if (quote)
        p[k++] = '"';
    memcpy(p + k, img.ptr, img.len);
    k += img.len;
    if (quote)
        p[k++] = '"';
    p[k++] = ' ';
    memcpy(p + k, s + a0, a1 - a0);
    k += a1 - a0;
    p[k] = '\0';
    *out = esc_str_make(p, k);
    return ESC_OK;
}

static esc_status security_user(const esc_event *ev, bool native, esc_arena *a, esc_str *out) {
    esc_str user = raw(ev, "TargetUserName");
    esc_str dom = raw(ev, "TargetDomainName");
    if (!user.ptr) {
        user = raw(ev, "SubjectUserName");
        dom = raw(ev, "SubjectDomainName");
    }
    if (!user.ptr || !native || !dom.ptr) {
        *out = native ? user : nodomain(user);
        return ESC_OK;
    }
    char *p = esc_arena_alloc(a, dom.len + user.len + 2);
    if (!p)
        return ESC_ELIMIT;
    memcpy(p, dom.ptr, dom.len);
    p[dom.len] = '\\';
    memcpy(p + dom.len + 1, user.ptr, user.len);
    p[dom.len + 1 + user.len] = '\0';
    *out = esc_str_make(p, dom.len + 1 + user.len);
    return ESC_OK;
}

/* SPEC 2 (b): the program token of an untrimmed CrowdStrike command line. */
static esc_str cs_token(const esc_event *ev) {
    esc_str cmd = raw(ev, "CommandLine");
    if (!cmd.ptr)
        return ESC_STR_NULL;
    if (cmd.ptr[0] == '"') {
        const char *q = cmd.len > 1 ? memchr(cmd.ptr + 1, '"', cmd.len - 1) : NULL;
        if (q)
            return esc_str_make(cmd.ptr + 1, (size_t)(q - cmd.ptr) - 1);
    }
    const char *sp = memchr(cmd.ptr, ' ', cmd.len);
    return esc_str_make(cmd.ptr, sp ? (size_t)(sp - cmd.ptr) : cmd.len);
}

static esc_status cs_process(const esc_event *ev, esc_arena *a, esc_str *out) {
    esc_str cmd = raw(ev, "CommandLine");
    *out = ESC_STR_NULL;
    if (!cmd.ptr)
        return ESC_OK;
    while (cmd.len && cmd.ptr[0] == ' ') {
        cmd.ptr++;
        cmd.len--;
    }
    while (cmd.len && cmd.ptr[cmd.len - 1] == ' ')
        cmd.len--;
    if (!memchr(cmd.ptr, '"', cmd.len)) {
        *out = cmd;
        return ESC_OK;
    }
    char *p = esc_arena_alloc(a, cmd.len + 1);
    if (!p)
        return ESC_ELIMIT;
    size_t k = 0;
    for (size_t i = 0; i < cmd.len; i++)
        if (cmd.ptr[i] != '"')
            p[k++] = cmd.ptr[i];
    p[k] = '\0';
    *out = esc_str_make(p, k);
    return ESC_OK;
}

static esc_status apply(const rule *r, const esc_event *ev, esc_profile profile,
                        const esc_hostmap *hosts, esc_arena *a, esc_str *out, bool *unresolved) {
    esc_str v = ESC_STR_NULL;
    switch (r->op) {
    case R_NONE:
        break;
    case R_COPY:
        v = raw(ev, r->arg);
        break;
    case R_BASENAME:
        v = raw(ev, r->arg);
        if (v.ptr)
            v = esc_str_basename(v);
        break;
    case R_NODOMAIN:
        v = raw(ev, r->arg);
        if (v.ptr)
            v = nodomain(v);
        break;
    case R_LOWER:
        v = raw(ev, r->arg);
        if (v.ptr) {
            char *p = esc_arena_alloc(a, v.len + 1);
            if (!p)
                return ESC_ELIMIT;
            for (size_t i = 0; i < v.len; i++)
                p[i] = (char)esc_lower((unsigned char)v.ptr[i]);
            p[v.len] = '\0';
            v = esc_str_make(p, v.len);
        }
        break;
    case R_CONST:
        v = esc_str_c(r->arg);
        break;
    case R_COMPUTER:
        v = ev->computer;
        break;
    case R_4688_PROCESS: {
        esc_status st = security_process(ev, a, &v);
        if (st)
            return st;
        break;
    }
    case R_4688_USER_SPLUNK:
    case R_4688_USER_NATIVE: {
        esc_status st = security_user(ev, r->op == R_4688_USER_NATIVE, a, &v);
        if (st)
            return st;
        break;
    }
    case R_4688_PROCESS_NATIVE:
        v = raw(ev, "CommandLine");
        if (!v.ptr)
            v = raw(ev, "NewProcessName");
        break;
    case R_CS_DEST:
        v = raw(ev, "device_hostname");
        if (!v.ptr)
            v = raw(ev, "aid_computer_name");
        if (!v.ptr && hosts) {
            esc_str aid = raw(ev, "aid");
            if (aid.ptr)
                v = esc_hostmap_get(hosts, aid);
            if (missing(v))
                v = ESC_STR_NULL;
        }
        if (!v.ptr && unresolved)
            *unresolved = true;
        break;
    case R_CS_USER:
        v = raw(ev, "UserSid");
        if (!v.ptr)
            v = raw(ev, "UID");
        break;
    case R_CS_PROCESS: {
        esc_status st = cs_process(ev, a, &v);
        if (st)
            return st;
        break;
    }
    case R_SEC_DEST: /* REPORT-dest_for_windows_security: (?:[\\]+)?([^-].*) of Target_Server_Name
                      */
        v = raw(ev, "TargetServerName");
        while (v.ptr && v.len && v.ptr[0] == '\\')
            v = esc_str_make(v.ptr + 1, v.len - 1);
        if (!v.ptr || !v.len || v.ptr[0] == '-')
            v = ev->computer;
        break;
    case R_4688_ACTION: /* esc_fields_4688_action of the Keywords, a System element or a JSON
                           shape's key */
        for (size_t i = 0; i < ev->nsys && !v.ptr; i++)
            if (esc_str_eq_c(ev->sys[i].name, "Keywords"))
                v = ev->sys[i].value;
        if (!v.ptr)
            v = raw(ev, "Keywords");
        v = esc_fields_4688_action(v);
        break;
    case R_SOURCE_GUID:
        v = raw(ev, "SourceProcessGuid");
        if (!v.ptr)
            v = raw(ev, "SourceProcessGUID");
        break;
    case R_CS_TOKEN:
        v = cs_token(ev);
        break;
    case R_CS_TOKEN_BASENAME:
        v = cs_token(ev);
        if (v.ptr) {
            const char *bs = NULL;
            for (size_t i = v.len; i > 0 && !bs; i--)
                if (v.ptr[i - 1] == '\\')
                    bs = v.ptr + i - 1;
            if (bs)
                v = esc_str_make(bs + 1, v.len - (size_t)(bs + 1 - v.ptr));
        }
        break;
    }
    (void)profile;
    *out = missing(v) ? ESC_STR_NULL : v;
    return ESC_OK;
}

/* SPEC 2 (c): the first whitespace-separated token of a known value. */
static esc_str first_token(esc_str v) {
    size_t i = 0;
    while (i < v.len && is_space(v.ptr[i]))
        i++;
    size_t j = i;
    while (j < v.len && !is_space(v.ptr[j]))
        j++;
    return esc_str_make(v.ptr + i, j - i);
}

static const esc_str UNKNOWN = {"unknown", 7};

/* The events the add-ons tag `process report` besides Sysmon 1 and 4688 (docs/cim.md "Which
 * events enter the dataset"): Splunk_TA_microsoft_sysmon eventtypes.conf [ms-sysmon-process]
 * (EventCode 1, 5, 6, 8, 9, 10, 15, 17, 18) and tags.conf (process, report); Splunk_TA_windows
 * eventtypes.conf [windows_endpoint_processes] (EventCode 4688, 4689, 4696, 4673, 4674) and
 * tags.conf (process, report). The tags themselves come from src/fields/rules.c. */
static const uint32_t sysmon_tagged[] = {5, 6, 9, 15, 17, 18};
static const uint32_t sysmon_source[] = {8, 10};
static const uint32_t security_tagged[] = {4689, 4673, 4674};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define SYSMON_PROVIDER "Microsoft-Windows-Sysmon"
#define SECURITY_PROVIDER "Microsoft-Windows-Security-Auditing"

static bool in_codes(uint32_t code, const uint32_t *codes, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (codes[i] == code)
            return true;
    return false;
}

esc_cim_source esc_cim_classify(const esc_event *ev) {
    if (ev->kind == ESC_EV_WINDOWS && ev->has_event_id) {
        if (esc_str_ieq_c(ev->provider, SYSMON_PROVIDER)) {
            if (ev->event_id == 1)
                return ESC_SRC_SYSMON1;
            if (in_codes(ev->event_id, sysmon_tagged, NELEM(sysmon_tagged)))
                return ESC_SRC_SYSMON_TAGGED;
            if (in_codes(ev->event_id, sysmon_source, NELEM(sysmon_source)))
                return ESC_SRC_SYSMON_SOURCE;
        } else if (esc_str_ieq_c(ev->provider, SECURITY_PROVIDER)) {
            if (ev->event_id == 4688)
                return ESC_SRC_SECURITY4688;
            if (in_codes(ev->event_id, security_tagged, NELEM(security_tagged)))
                return ESC_SRC_SECURITY_TAGGED;
            if (ev->event_id == 4696)
                return ESC_SRC_SECURITY4696;
        }
        return ESC_SRC_NONE;
    }
    if (ev->kind == ESC_EV_CROWDSTRIKE) {
        esc_str n = esc_event_get(ev, "event_simpleName");
        if (esc_str_eq_c(n, "ProcessRollup2") || esc_str_eq_c(n, "SyntheticProcessRollup2"))
            return ESC_SRC_CROWDSTRIKE;
    }
    return ESC_SRC_NONE;
}

size_t esc_cim_win_sources(esc_win_source *out, size_t max) {
    esc_win_source all[3 + NELEM(sysmon_tagged) + NELEM(sysmon_source) + NELEM(security_tagged)];
    size_t n = 0;
    all[n++] = (esc_win_source){SYSMON_PROVIDER, 1};
    all[n++] = (esc_win_source){SECURITY_PROVIDER, 4688};
    for (size_t i = 0; i < NELEM(sysmon_tagged); i++)
        all[n++] = (esc_win_source){SYSMON_PROVIDER, sysmon_tagged[i]};
    for (size_t i = 0; i < NELEM(sysmon_source); i++)
        all[n++] = (esc_win_source){SYSMON_PROVIDER, sysmon_source[i]};
    for (size_t i = 0; i < NELEM(security_tagged); i++)
        all[n++] = (esc_win_source){SECURITY_PROVIDER, security_tagged[i]};
    all[n++] = (esc_win_source){SECURITY_PROVIDER, 4696};
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = all[i];
    return n;
}

static bool utc_time(esc_str s, int64_t *out) {
    char tmp[64];
    s = esc_str_trim(s);
    if (s.len == 0 || s.len + 2 > sizeof tmp)
        return false;
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = 'Z';
    return esc_time_parse_iso(esc_str_make(tmp, s.len + 1), out) || esc_time_parse_iso(s, out);
}

esc_status esc_cim_map(const esc_event *ev, esc_profile profile, const esc_hostmap *hosts,
                       esc_arena *arena, esc_record *out, bool *unresolved, esc_error *err) {
    esc_cim_source src = esc_cim_classify(ev);
    if (src == ESC_SRC_NONE)
        return ESC_SKIP;
    memset(out, 0, sizeof *out);
    out->source = src;
    out->ev = ev;
    if (unresolved)
        *unresolved = false;

    bool have_time = false;
    if (src == ESC_SRC_SYSMON1) {
        esc_str t = raw(ev, "UtcTime");
        have_time = t.ptr && utc_time(t, &out->time_us);
    }
    if (!have_time && ev->has_time) {
        out->time_us = ev->time_us;
        have_time = true;
    }
    if (!have_time)
        return esc_error_at(err, ESC_EMALFORMED, ev->path, ev->offset,
                            "process event without a usable time; skipped");

    const mapping *m = &maps[profile == ESC_PROFILE_NATIVE][src];
    for (int f = 0; f < ESC_CIM_NFIELDS; f++) {
        esc_status st = apply(&(*m)[f], ev, profile, hosts, arena, &out->v[f], unresolved);
        if (st)
            return esc_error_at(err, st, ev->path, ev->offset, "record too large to map");
    }
    if (!out->v[ESC_CIM_PROCESS_NAME].ptr && out->v[ESC_CIM_PROCESS].ptr)
        out->v[ESC_CIM_PROCESS_NAME] = first_token(out->v[ESC_CIM_PROCESS]);
    if (!out->v[ESC_CIM_PARENT_PROCESS_NAME].ptr && out->v[ESC_CIM_PARENT_PROCESS].ptr)
        out->v[ESC_CIM_PARENT_PROCESS_NAME] = first_token(out->v[ESC_CIM_PARENT_PROCESS]);
    for (size_t i = 0; i < sizeof defaulted / sizeof defaulted[0]; i++)
        if (missing(out->v[defaulted[i]]))
            out->v[defaulted[i]] = UNKNOWN;
    return ESC_OK;
}

/* ---- host inventory ------------------------------------------------------------------------ */

typedef struct host_entry {
    char *aid;
    char *name;
    size_t aid_len, name_len;
} host_entry;

struct esc_hostmap {
    host_entry *slots;
    size_t cap, n;
};

static uint64_t hash_str(esc_str s) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.ptr[i]) * 1099511628211ull;
    return h;
}

esc_hostmap *esc_hostmap_new(void) {
    return esc_calloc(1, sizeof(esc_hostmap));
}

void esc_hostmap_free(esc_hostmap *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        esc_free(m->slots[i].aid);
        esc_free(m->slots[i].name);
    }
    esc_free(m->slots);
    esc_free(m);
}

static host_entry *slot_for(const esc_hostmap *m, esc_str aid) {
    size_t i = hash_str(aid) & (m->cap - 1);
    while (m->slots[i].aid && !esc_str_eq(esc_str_make(m->slots[i].aid, m->slots[i].aid_len), aid))
        i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

static esc_status grow(esc_hostmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    host_entry *old = m->slots;
    size_t oldcap = m->cap;
    m->slots = esc_calloc(cap, sizeof *m->slots);
    if (!m->slots) {
        m->slots = old;
        return ESC_ENOMEM;
    }
    m->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].aid)
            *slot_for(m, esc_str_make(old[i].aid, old[i].aid_len)) = old[i];
    esc_free(old);
    return ESC_OK;
}

esc_status esc_hostmap_put(esc_hostmap *m, esc_str aid, esc_str computer) {
    host_entry *e = m->cap ? slot_for(m, aid) : NULL;
    if (!e || !e->aid) { /* a new aid; a known one is always updated */
        if (m->n >= ESC_HOSTMAP_MAX)
            return ESC_ELIMIT;
        esc_status st = (m->n + 1) * 2 > m->cap ? grow(m) : ESC_OK;
        if (st)
            return st;
        e = slot_for(m, aid);
    }
    char *name = esc_strndup(computer.ptr, computer.len);
    if (!name)
        return ESC_ENOMEM;
    if (!e->aid) {
        if (!(e->aid = esc_strndup(aid.ptr, aid.len))) {
            esc_free(name);
            return ESC_ENOMEM;
        }
        e->aid_len = aid.len;
        m->n++;
    }
    esc_free(e->name);
    e->name = name;
    e->name_len = computer.len;
    return ESC_OK;
}

esc_str esc_hostmap_get(const esc_hostmap *m, esc_str aid) {
    if (!m || !m->cap)
        return ESC_STR_NULL;
    host_entry *e = slot_for(m, aid);
    return e->aid ? esc_str_make(e->name, e->name_len) : ESC_STR_NULL;
}

size_t esc_hostmap_count(const esc_hostmap *m) {
    return m ? m->n : 0;
}
