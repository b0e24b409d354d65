/* The raw event every reader yields, and the "interest set" readers use to skip work.
 *
 * Contract shared by all readers (XML, JSON, EVTX):
 * - A reader is an iterator: esc_reader_next() fills one esc_event whose views stay valid until
 *   the next call (they point into the reader's buffer or its per-event arena).
 * - Values are decoded UTF-8 text: XML entities and JSON escapes resolved; invalid UTF-8, lone
 *   surrogates and NULs replaced by U+FFFD (ev->repaired counts the values repaired).
 * - Windows events (XML, EVTX, flat/winlogbeat JSON) fill provider, event_id, computer,
 *   time_us (the system time) and data[] (EventData/UserData leaf values by name, in order).
 *   CrowdStrike and aidmaster records fill data[] with every top-level key; time_us from
 *   "timestamp" when present.
 * - A structurally broken record gives ESC_EMALFORMED with err naming file and byte offset (or
 *   line); the next call continues after it. ESC_EOF ends; ESC_EIO / ESC_ENOMEM are fatal.
 * - The interest set is a promise by the caller: a reader MAY skip events outside it, and MAY
 *   omit data fields outside interest->fields, but MUST NOT skip an event that could match. */
#ifndef ESC_PARSE_EVENT_H
#define ESC_PARSE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

typedef enum esc_event_kind {
    ESC_EV_WINDOWS = 1,
    ESC_EV_CROWDSTRIKE, /* has event_simpleName */
    ESC_EV_AIDMASTER,   /* aid + ComputerName inventory record */
    ESC_EV_OTHER,       /* a JSON object of no known shape (counted, skipped) */
} esc_event_kind;

typedef struct esc_kv {
    esc_str name;
    esc_str value;
} esc_kv;

/* The elements whose inner XML an event can carry (esc_event.parts): children of <Event>, and
 * the LogFileCleared child of its UserData (Security 1102, System 104). */
typedef enum {
    ESC_XML_SYSTEM,
    ESC_XML_EVENTDATA,
    ESC_XML_USERDATA,
    ESC_XML_RENDERINGINFO,
    ESC_XML_LOGFILECLEARED,
    ESC_XML_NPARTS
} esc_xml_part;

/* The element name of each part, in esc_xml_part order. */
extern const char *const esc_xml_part_names[ESC_XML_NPARTS];

typedef struct esc_event {
    esc_event_kind kind;
    esc_str provider; /* Windows: System/Provider/@Name */
    esc_str channel;  /* Windows: System/Channel (may be empty) */
    esc_str computer; /* Windows: System/Computer */
    uint32_t event_id;
    bool has_event_id;
    int64_t time_us; /* system time (Windows) or "timestamp" (CrowdStrike), UTC microseconds */
    bool has_time;
    const esc_kv *data;
    size_t ndata;
    /* System elements and attributes, in document order, when the interest set asks for them
     * (everything or system): an element's text as its name ("Level", "Keywords"), an
     * attribute as Element@Attribute ("Provider@Guid", "EventID@Qualifiers",
     * "TimeCreated@SystemTime", "Execution@ProcessID", "Security@UserID"). Empty values are
     * left out. XML and EVTX fill it, winlogbeat 6/7 the elements they carry as numbers or ids;
     * the flat JSON shape carries its keys in data[]. */
    const esc_kv *sys;
    size_t nsys;
    /* provenance */
    const char *path;   /* input name as given ("-" for stdin) */
    uint64_t offset;    /* byte offset of the record in the uncompressed stream */
    uint64_t line;      /* 1-based line for line-oriented formats, else 0 */
    uint64_t record_id; /* EVTX record number, 0 when unknown */
    bool recovered;     /* EVTX record found in slack space (--recover) */
    unsigned repaired;  /* values where invalid text was replaced by U+FFFD */
    /* EVTX with esc_reader_opts.xml: the record rendered as Windows renders it (one line) */
    esc_str xml;
    /* EVTX with esc_reader_opts.json: the record's dump JSON line (no line break), or empty */
    esc_str json;
    /* EVTX with esc_reader_opts.runs: the lines of this record and of the ones after it in the
     * run (xml or json as asked, each followed by a line break), or empty */
    esc_str lines;
    /* XmlWinEventLog: the <Event> element as read, whose text every value comes from (for
     * prefilters; not _raw), or empty */
    esc_str text;
    /* Windows, when the interest set asks for them (parts): the inner XML of the elements
     * esc_xml_part names as the event's XML has them (XmlWinEventLog: as read; EVTX: as escudo
     * renders the record, which is how Windows renders it), each empty when the element is
     * absent or empty; JSON shapes carry none */
    esc_str parts[ESC_XML_NPARTS];
    /* first non-fatal problem in this record (kept, but worth a warning), or empty */
    esc_str warning;
    uint64_t warning_offset; /* byte offset of that problem in the stream */
} esc_event;

/* The value of data field `name` (exact, case-sensitive; the last one wins), or ESC_STR_NULL. */
esc_str esc_event_get(const esc_event *ev, const char *name);

/* ---- interest set ---------------------------------------------------------------------- */

#define ESC_INTEREST_MAX_WIN 512
#define ESC_INTEREST_MAX_CLAUSES 16
#define ESC_INTEREST_MAX_LITERALS 256

typedef struct esc_win_source {
    /* e.g. "Microsoft-Windows-Sysmon" (compared case-insensitively); NULL: any provider (a
     * raw-event search names event codes and channels, not providers) */
    const char *provider;
    uint32_t event_id;
} esc_win_source;

/* One clause of the literal prefilter: an event that can match contains at least one of these
 * literals, ASCII case-insensitively, in the decoded text of one of its values. Literals never
 * contain whitespace, quotes, '\\', '/', '&', '<', '>' or control characters, so they appear
 * verbatim in raw XML and JSON text unless a numeric escape (&#..; or \u....) or an escaped
 * quote hides them: readers must decode such events in full before applying the prefilter. */
typedef struct esc_literal_clause {
    const char *lit[ESC_INTEREST_MAX_LITERALS];
    size_t nlit;
} esc_literal_clause;

typedef struct esc_interest {
    bool everything; /* yield every record and every field (dump, tests) */
    bool system;     /* also fill esc_event.sys (search-time fields read System elements) */
    esc_win_source win[ESC_INTEREST_MAX_WIN];
    size_t nwin;
    bool parts; /* also fill esc_event.parts (fields read whole elements' XML) ... */
    /* ... of the events parts_of takes (given the provider, channel and event code; NULL:
     * every event). Called on decoding threads: it must only read. */
    bool (*parts_of)(const void *ctx, const esc_event *ev);
    const void *parts_ctx;
    bool crowdstrike; /* ProcessRollup2 / SyntheticProcessRollup2 and aidmaster records */
    /* data field names a mapping reads (NULL-terminated list, NULL = all) */
    const char *const *fields;
    /* conjunction of clauses; nclauses == 0 means no literal prefilter */
    esc_literal_clause clause[ESC_INTEREST_MAX_CLAUSES];
    size_t nclauses;
} esc_interest;

/* True when (provider, event_id) is in the set (or the set wants everything). */
bool esc_interest_wants_windows(const esc_interest *in, esc_str provider, uint32_t event_id);
/* True when some (provider, event_id) of the set has this event_id (or the set wants
 * everything): readers use it on the event code read from the raw text before decoding. */
bool esc_interest_wants_code(const esc_interest *in, uint32_t event_id);
/* True when ev (its provider, channel and event code read) is to carry esc_event.parts. */
bool esc_interest_wants_parts(const esc_interest *in, const esc_event *ev);
/* True when a data field of this name may be read by a mapping. */
bool esc_interest_wants_field(const esc_interest *in, esc_str name);
/* Literal prefilter over some text (raw or decoded): true when every clause has a literal
 * present, ASCII case-insensitively. */
bool esc_interest_text_may_match(const esc_interest *in, const char *text, size_t len);
/* The same check on a decoded event: every clause has a literal inside one of its values
 * (data values, provider, channel, computer), ignoring '"' characters in the values (a mapping
 * may delete quotes). Readers use it for records whose raw text contains an escape (`&#` in
 * XML, `\u` or an escaped quote in JSON) that could hide a literal. */
bool esc_interest_event_may_match(const esc_interest *in, const esc_event *ev);

#endif
