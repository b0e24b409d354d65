/* The add-on rules search-time extraction applies, as tables (private to src/fields).
 *
 * One row per field rule, in the order the add-on applies them, each citing its stanza
 * (docs/fields.md lists them per event family). fields.c interprets the rows; nothing here
 * knows about a particular event beyond its channel and EventCode. */
#ifndef ESC_FIELDS_RULES_H
#define ESC_FIELDS_RULES_H

#include <stdint.h>

/* Which stanza a row belongs to: the sourcetype stanza every Windows event gets, or one
 * source:: stanza (a channel). A source stanza's EVAL of a field replaces the sourcetype
 * stanza's EVAL of the same field (Splunk's precedence: source over sourcetype). */
typedef enum fscope {
    SC_XML,         /* [XmlWinEventLog] (Splunk_TA_windows) */
    SC_SECURITY,    /* [source::XmlWinEventLog:Security] */
    SC_SYSTEM,      /* [source::XmlWinEventLog:System] */
    SC_SYSMON,      /* [source::XmlWinEventLog:Microsoft-Windows-Sysmon/Operational] */
    SC_POWERSHELL,  /* [source::XmlWinEventLog:Microsoft-Windows-PowerShell/Operational] */
    SC_APPLICATION, /* [source::XmlWinEventLog:Application] */
    SC_NSCOPES
} fscope;

typedef enum fphase {
    PH_REPORT, /* REPORT/EXTRACT: adds the field when absent (first extraction wins) */
    PH_ALIAS,  /* FIELDALIAS src AS dst: replaces dst when src is present */
    PH_EVAL,   /* EVAL: all read the state before any EVAL; null removes the field */
} fphase;

typedef enum fop {
    OP_COPY,            /* (.+) */
    OP_NODASH,          /* (?!^-$)(.+): any value but "-" */
    OP_STRIPBS,         /* (?:[\\]+)?([^-].*): leading backslashes dropped, not starting with '-' */
    OP_BASENAME,        /* (?:.*\\)?(.*): text after the last backslash */
    OP_NODOMAIN,        /* (?:[^\\]+\\)?(.+): text after the first DOMAIN\ */
    OP_LASTLINE,        /* (?:(?:[^\n]+)\n)?(.+): the second line when there are two */
    OP_PATH,            /* ^((?:.*[\\/]+)*([^-].*))$: the whole value, name not starting with '-' */
    OP_PATHNAME,        /* the same regex's second group: the last path segment */
    OP_CONST,           /* a constant (src) */
    OP_KEEP,            /* EVAL: the field's current value(s) */
    OP_NULL,            /* EVAL: null */
    OP_NULLIFDASH,      /* nullif(src,"-") */
    OP_SRCIP,           /* EXTRACT src_ip from IpAddress unless it starts ::1 or 127.0.0.1 */
    OP_CMD_PROCESS,     /* process_command_line_process: (^"[^"]+"|[^\s]+) of src */
    OP_CMD_ARGS,        /* process_command_line_arguments: the rest after \s* */
    OP_4688_PROCESS,    /* Security EVAL-process for 4688 */
    OP_4688_USER,       /* if(user=="-" OR isnull(user), src_user, user) */
    OP_TA_ACTION,       /* EVAL-ta_windows_action: the Status table */
    OP_ERROR_CODE,      /* case(isnotnull(Status),Status,isnotnull(Error_Code),Error_Code,"-") */
    OP_4688_ACTION,     /* case(Keywords=="0x8020000000000000","allowed") */
    OP_SYSMON_NET_DEST, /* coalesce(DestinationHostname, DestinationIp) */
    OP_SYSMON_NET_SRC,  /* coalesce(SourceHostname, SourceIp) */
    OP_DIRECTION,       /* if(Initiated=="true","outbound","inbound") */
    OP_REG_ACTION,      /* Sysmon 12: EventType CreateKey -> created, Delete* -> deleted */
    OP_REG_KEY_NAME,    /* Sysmon: the key's last segment (12/14), its parent's on 13 */
    OP_REG_VALUE_NAME,  /* Sysmon 13: the last segment of TargetObject */
    OP_REG_VALUE_DATA,  /* Sysmon 13: "TYPE (x)" -> x, else Details */
    OP_REG_HIVE,        /* Sysmon: HKLM\System\, HKU\, HKLM\SOFTWARE\ prefixes */
    OP_LOWER,           /* lower(src) */
    OP_COALESCE2,       /* coalesce(src, src2) */
    OP_COALESCE3,       /* coalesce(src, src2, src3) */
    OP_FILE_COALESCE,   /* coalesce(src, if(ObjectType=="File",src2,null()), src3) */
    OP_7036_STATUS,     /* case(param2=="running","started",param2=="stopped","stopped") */
    OP_DIGITS,          /* (\d+): a value of digits only */
    OP_NUM_AFTER,       /* ^[^\d]+(\d+): the digits after a leading run of non-digits */
    OP_SID,             /* <Security UserID='(S-[0-9a-fA-f-]+)'/>: a SID of that class only */
    OP_RAW_HASHES,      /* KEY\=([a-fA-F0-9]{n}?) over _raw for MD5, SHA1, SHA256, IMPHASH
                           (n 32, 40, 64, 32): the four fields at once (fields.c raw_hashes) */
} fop;

#define RULE_MAX_CODES 12

typedef struct frule {
    uint8_t scope, phase, op;
    const char *dst;
    const char *src;  /* source field, or the constant of OP_CONST */
    const char *src2; /* second source (OP_COALESCE2, OP_COALESCE3, OP_FILE_COALESCE) */
    const char *src3; /* third source (OP_COALESCE3, OP_FILE_COALESCE) */
    uint16_t codes[RULE_MAX_CODES]; /* the EventCodes of this row; {0}: any */
    const char *cite;               /* the add-on setting the row comes from */
} frule;

extern const frule esc_fields_rules[];
extern const unsigned esc_fields_nrules;

/* An eventtype (eventtypes.conf) with its tags (tags.conf, space separated): the events of its
 * channels with one of its EventCodes, and, under EC_TERMS, one of its terms holding (for the
 * code `at` only, or for every code when `at` is 0). A row without a name is a field-value
 * stanza of tags.conf (`[Logon_Type=8]`): tags only, no eventtype. */
typedef enum fcond {
    EC_NONE,
    EC_NOT_CODES,    /* the codes are excluded instead of required */
    EC_AUDIT_STATUS, /* ta_windows_status in the account-lockout list */
    EC_TERMS,        /* one of terms[] holds */
} fcond;

typedef enum ftermop {
    T_NONE,
    T_EQ,   /* field=value: the field has the value (ASCII case-insensitive) */
    T_NE,   /* field!=value: the field exists and does not have the value */
    T_LT,   /* field<value: the field is a number below the value */
    T_TEXT, /* a quoted phrase or bare word: searched in _raw; here in the event's System, data
               and UserData values (ASCII case-insensitive substring) */
} ftermop;

typedef struct fterm {
    uint8_t op;
    const char *field; /* NULL for T_TEXT */
    const char *value;
} fterm;

typedef struct fetype {
    const char *name;     /* NULL: a field-value tag stanza */
    const char *channels; /* "|" separated, or NULL: any Windows event */
    uint8_t cond;
    uint16_t codes[RULE_MAX_CODES]; /* {0}: any */
    uint16_t at;                    /* EC_TERMS: the code the terms apply to, 0: every code */
    fterm terms[2];                 /* EC_TERMS: one must hold */
    const char *tags;
} fetype;

extern const fetype esc_fields_etypes[];
extern const unsigned esc_fields_netypes;

#endif
