/* JSON lines reader: a forward-only byte stream -> one esc_event per JSON object.
 *
 * Input: one object a line (CRLF, a UTF-8 BOM and blank lines are normal), objects written
 * over several lines (pretty-printed, one after another), or a top-level array of objects.
 * Each object is classified by its keys (CrowdStrike FDR event, aidmaster record, flat
 * NXLog-style Windows event, winlogbeat 7+/ECS, winlogbeat 6, Azure Sentinel SecurityEvent and
 * WindowsEvent rows, evtx_dump's Event object, escudo's own dump, a Splunk search export whose
 * _raw is XML or JSON, anything else) and turned into an esc_event whose views point into the
 * reader's buffer or its per-event arena (valid until the next call). docs/json.md has the
 * table of shapes.
 *
 * Invariants: memory is flat: the stream is read in blocks into one buffer that only grows to
 * hold the longest record (capped by opts->max_record_bytes, default 16 MiB); a longer record
 * is skipped with a warning and reading goes on after it. Every error names the line and the
 * byte offset; after ESC_EMALFORMED the next call continues with the next line.
 *
 * Speed: for a line that looks like one whole object, the literal prefilter runs on the raw
 * bytes first and a rejected line is never tokenized. Only \u escapes (and &#...; in an
 * embedded XML _raw) can hide a literal in raw JSON, so a rejected line that holds one of
 * those is decoded and checked on its decoded values instead; so is a CrowdStrike line with
 * an escaped quote, because its mapping deletes quotes; a rejected line that mentions
 * "ComputerName" is tokenized anyway because aidmaster records are always yielded.
 *
 * Not done here: the CIM mapping (cim/), host resolution, time windows. A record spanning
 * lines whose first line already ends in '}' is read as that line alone (documented). */
#include "parse/json/json.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timeutil.h"
#include "parse/xml/xml.h"

typedef struct jr {
    esc_input *in;
    const char *path;
    const esc_interest *interest;
    esc_reader_stats *stats;
    size_t max_rec;
    size_t block;
    bool everything; /* interest wants every record and field */
    bool prefilter;  /* literal clauses to check */
    esc_json_clause clause[ESC_INTEREST_MAX_CLAUSES];
    size_t nclause;
    esc_buf unesc; /* a line with its \u escapes decoded, for the prefilter */
    /* the stream buffer: [pos, end) not yet consumed; buf[0] is at stream offset base */
    char *buf;
    size_t cap, pos, end;
    uint64_t base;
    bool eof;
    uint64_t line; /* line number of buf[pos] */
    bool started;
    bool in_array;   /* inside the top-level array */
    bool seen_value; /* something other than whitespace was seen: no array from now on */
    /* per event */
    esc_arena arena;
    esc_buf scratch;
    esc_json_doc doc;
    esc_kv *kv;
    size_t nkv, capkv;
    unsigned repaired;
    bool xml; /* the event came from esc_xml_event_parse (a Splunk export) */
} jr;

/* ---- stream buffer --------------------------------------------------------------------- */

/* Read one more block, compacting (keeping [pos, end)) or growing the buffer as needed.
 * ESC_ELIMIT when the unconsumed part already fills the largest buffer allowed. */
static esc_status fill(jr *r, esc_error *err) {
    if (r->eof)
        return ESC_OK;
    if (r->pos > 0 && (r->end == r->cap || r->pos >= r->cap / 2 || r->pos == r->end)) {
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        r->base += r->pos;
        r->end -= r->pos;
        r->pos = 0;
    }
    if (r->end == r->cap) {
        size_t limit = r->max_rec + r->block + 64;
        if (r->cap >= limit)
            return ESC_ELIMIT;
        size_t nc = r->cap * 2;
        if (nc > limit || nc < r->cap)
            nc = limit;
        char *nb = esc_realloc(r->buf, nc);
        if (!nb)
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        r->buf = nb;
        r->cap = nc;
    }
    size_t want = r->cap - r->end;
    if (want > r->block)
        want = r->block;
    size_t got = 0;
    esc_status st = esc_input_read(r->in, r->buf + r->end, want, &got, err);
    if (st)
        return st;
    if (got == 0)
        r->eof = true;
    r->end += got;
    return ESC_OK;
}

/* Find the end of the line starting at pos, searching from pos + from. *nl is the offset
 * (from pos) of the '\n', or of the end of input when *has_nl is false. ESC_ELIMIT when the
 * line is longer than max_rec. */
static esc_status find_line(jr *r, size_t from, size_t *nl, bool *has_nl, esc_error *err) {
    for (;;) {
        size_t s = r->pos + from;
        const char *q = s < r->end ? memchr(r->buf + s, '\n', r->end - s) : NULL;
        if (q) {
            *nl = (size_t)(q - (r->buf + r->pos));
            *has_nl = true;
            return ESC_OK;
        }
        if (r->end - r->pos > r->max_rec)
            return ESC_ELIMIT;
        if (r->eof) {
            *nl = r->end - r->pos;
            *has_nl = false;
            return ESC_OK;
        }
        from = r->end - r->pos;
        esc_status st = fill(r, err);
        if (st)
            return st;
    }
}

static uint64_t count_nl(const char *p, size_t n) {
    uint64_t c = 0;
    const char *e = p + n;
    while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        c++;
        p++;
    }
    return c;
}

/* Consume n bytes from pos, counting their newlines. */
static void advance(jr *r, size_t n) {
    r->line += count_nl(r->buf + r->pos, n);
    r->pos += n;
}

/* Skip an over-long record: discard bytes up to the end of the current line. */
static esc_status skip_long_line(jr *r, esc_error *err) {
    for (;;) {
        const char *q = memchr(r->buf + r->pos, '\n', r->end - r->pos);
        if (q) {
            r->pos = (size_t)(q - r->buf) + 1;
            r->line++;
            return ESC_OK;
        }
        r->pos = r->end;
        if (r->eof)
            return ESC_OK;
        esc_status st = fill(r, err);
        if (st)
            return st;
    }
}

static esc_status malformed(jr *r, esc_error *err, uint64_t line, uint64_t rec_off,
                            const char *what, uint64_t at) {
    esc_error_at(err, ESC_EMALFORMED, r->path, rec_off, "line %llu: %s at byte %llu",
                 (unsigned long long)line, what, (unsigned long long)at);
    if (err)
        err->line = line;
    return ESC_EMALFORMED;
}

static esc_status too_long(jr *r, esc_error *err, uint64_t line, uint64_t rec_off) {
    esc_status st = skip_long_line(r, err);
    if (st)
        return st;
    esc_error_at(err, ESC_EMALFORMED, r->path, rec_off,
                 "line %llu: record longer than %zu bytes at byte %llu, skipped",
                 (unsigned long long)line, r->max_rec, (unsigned long long)rec_off);
    if (err)
        err->line = line;
    return ESC_EMALFORMED;
}

/* Extent of a record written over several lines: follow strings and brackets from pos until
 * the object closes. A line starting with '{' while the record is still open means the
 * record was truncated. ESC_OK with *len; ESC_EMALFORMED with *len = where to resume and
 * *what. When the record is longer than max_rec, its bytes are consumed as they are scanned
 * and *discarded is set (the caller reports it as too long). */
static esc_status prescan(jr *r, size_t *len, const char **what, bool *discarded, esc_error *err) {
    size_t i = 0;
    int depth = 0;
    bool instr = false, esc = false, after_nl = false;
    *discarded = false;
    for (;;) {
        while (r->pos + i < r->end) {
            char c = r->buf[r->pos + i];
            if (after_nl) {
                after_nl = false;
                if (c == '{') {
                    *what = "unterminated record (the next line starts a new one)";
                    *len = i ? i - 1 : 0;
                    return ESC_EMALFORMED;
                }
            }
            if (instr) {
                if (esc)
                    esc = false;
                else if (c == '\\')
                    esc = true;
                else if (c == '"')
                    instr = false;
                else if (c == '\n') {
                    *what = "unterminated string";
                    *len = i;
                    return ESC_EMALFORMED;
                }
            } else if (c == '"') {
                instr = true;
            } else if (c == '{' || c == '[') {
                if (++depth > ESC_JSON_MAX_DEPTH) {
                    *what = "nesting deeper than 64";
                    *len = i;
                    return ESC_EMALFORMED;
                }
            } else if (c == '}' || c == ']') {
                if (--depth <= 0) {
                    *len = i + 1;
                    return ESC_OK;
                }
            } else if (c == '\n') {
                after_nl = true;
            }
            i++;
        }
        if (i > r->max_rec)
            *discarded = true;
        if (*discarded) { /* too long: follow the structure to its end, keeping nothing */
            advance(r, i);
            i = 0;
        }
        if (r->eof) {
            *what = "unexpected end of input";
            *len = i;
            return ESC_EMALFORMED;
        }
        esc_status st = fill(r, err);
        if (st)
            return st;
    }
}

/* ---- values ---------------------------------------------------------------------------- */

static const esc_json_tok *tok_at(const jr *r, int32_t i) {
    return i >= 0 ? &r->doc.tok[i] : NULL;
}

/* Text of a scalar token: strings decoded, numbers and booleans as written. NULL view for
 * null and containers. */
static esc_status tok_text(jr *r, const esc_json_tok *t, esc_str *out) {
    *out = ESC_STR_NULL;
    if (!t)
        return ESC_OK;
    switch (t->type) {
    case ESC_JT_STR:
        return esc_json_decode(t->raw, t->rawlen, t->esc, &r->scratch, &r->arena, out,
                               &r->repaired);
    case ESC_JT_NUM:
    case ESC_JT_TRUE:
    case ESC_JT_FALSE:
        *out = esc_str_make(t->raw, t->rawlen);
        return ESC_OK;
    default:
        return ESC_OK;
    }
}

static bool is_scalar(const esc_json_tok *t) {
    return t->type == ESC_JT_STR || t->type == ESC_JT_NUM || t->type == ESC_JT_TRUE ||
           t->type == ESC_JT_FALSE;
}

static bool parse_u64(esc_str s, uint64_t max, uint64_t *out) {
    uint64_t v = 0;
    if (s.len == 0 || s.len > 20)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        unsigned d = (unsigned)(s.ptr[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Add a data field after the others, a repeated name too (a multivalue field). */
static esc_status kv_append(jr *r, esc_str name, esc_str value) {
    if (r->nkv == ESC_JSON_MAX_FIELDS)
        return ESC_ELIMIT;
    if (r->nkv == r->capkv && !ESC_VEC_GROW(r->kv, r->capkv, r->nkv + 1, 64))
        return ESC_ENOMEM;
    r->kv[r->nkv++] = (esc_kv){name, value};
    return ESC_OK;
}

/* Add a data field from an object's member; a repeated name (a duplicate key) keeps its first
 * place and takes the last value. */
static esc_status kv_add(jr *r, esc_str name, esc_str value) {
    for (size_t i = 0; i < r->nkv; i++)
        if (esc_str_eq(r->kv[i].name, name)) {
            r->kv[i].value = value;
            return ESC_OK;
        }
    return kv_append(r, name, value);
}

/* Add the scalar members of container `parent` (-1: top level) as data fields, leaving out
 * the tokens in skip[] (those the shape used for system fields). */
static esc_status add_members(jr *r, int32_t parent, const int32_t *skip, size_t nskip) {
    for (size_t i = 0; i < r->doc.ntok; i++) {
        const esc_json_tok *t = &r->doc.tok[i];
        if (t->parent != parent || !t->key.ptr || !is_scalar(t))
            continue;
        bool skipped = false;
        for (size_t k = 0; k < nskip && !skipped; k++)
            skipped = skip[k] >= 0 && esc_str_eq(r->doc.tok[skip[k]].key, t->key);
        if (skipped || !esc_interest_wants_field(r->interest, t->key))
            continue;
        esc_str v;
        esc_status st = tok_text(r, t, &v);
        if (!st)
            st = kv_add(r, t->key, v);
        if (st)
            return st;
    }
    return ESC_OK;
}

/* ---- shapes ---------------------------------------------------------------------------- */

/* The keys the shapes look at; index of the last occurrence (duplicate keys: last wins). */
/* clang-format off */
enum {
    K_ESCUDO_DUMP, K_RESULT, K_SIMPLENAME, K_AID, K_COMPUTERNAME, K_WINLOG, K_EVENTID,
    K_SOURCENAME, K_PROVIDERNAME, K_HOSTNAME, K_COMPUTER, K_CHANNEL, K_TIMECREATED,
    K_ATTIMESTAMP, K_EVENTTIME, K_EVENTRECORDID, K_EVENT_ID, K_SOURCE_NAME, K_COMPUTER_NAME,
    K_LOG_NAME, K_EVENT_DATA, K_USER_DATA, K_RECORD_NUMBER, K_TIMESTAMP, K_KIND, K_PROVIDER,
    K_CHANNEL_L, K_COMPUTER_L, K_RECORD_ID, K_TIME, K_DATA, K_TYPE, K_PROVIDER_CAP,
    K_EVENTSOURCENAME, K_TIMEGENERATED, K_EVENTDATA, K_EVENT, K_SYSTEM, K_NKEYS
};
/* clang-format on */

static const struct {
    const char *s;
    size_t n;
} key_names[K_NKEYS] = {
    {"escudo_dump", 11},
    {"result", 6},
    {"event_simpleName", 16},
    {"aid", 3},
    {"ComputerName", 12},
    {"winlog", 6},
    {"EventID", 7},
    {"SourceName", 10},
    {"ProviderName", 12},
    {"Hostname", 8},
    {"Computer", 8},
    {"Channel", 7},
    {"TimeCreated", 11},
    {"@timestamp", 10},
    {"EventTime", 9},
    {"EventRecordID", 13},
    {"event_id", 8},
    {"source_name", 11},
    {"computer_name", 13},
    {"log_name", 8},
    {"event_data", 10},
    {"user_data", 9},
    {"record_number", 13},
    {"timestamp", 9},
    {"kind", 4},
    {"provider", 8},
    {"channel", 7},
    {"computer", 8},
    {"record_id", 9},
    {"time", 4},
    {"data", 4},
    {"Type", 4},
    {"Provider", 8},
    {"EventSourceName", 15},
    {"TimeGenerated", 13},
    {"EventData", 9},
    {"Event", 5},
    {"system", 6},
};

/* Exact key comparison against a string literal (length first: no strlen on the hot path). */
#define KEY_IS(k, lit) ((k).len == sizeof(lit) - 1 && memcmp((k).ptr, (lit), sizeof(lit) - 1) == 0)

static void index_keys(const jr *r, int32_t parent, int32_t *k) {
    for (int i = 0; i < K_NKEYS; i++)
        k[i] = -1;
    for (size_t i = 0; i < r->doc.ntok; i++) {
        const esc_json_tok *t = &r->doc.tok[i];
        if (t->parent != parent || !t->key.ptr || t->key.len > 16) /* longest name: 16 */
            continue;
        for (int j = 0; j < K_NKEYS; j++) {
            if (t->key.len == key_names[j].n &&
                memcmp(t->key.ptr, key_names[j].s, key_names[j].n) == 0) {
                k[j] = (int32_t)i;
                break;
            }
        }
    }
}

/* Members of winlog, event_data, user_data, result, data and system (and winlog's event_data,
 * user_data, process, process.thread and user, winlogbeat 6's user, and the pairs of data and
 * system, escudo's dump) are recorded: the shapes read them. */
static bool want_kids(const esc_json_doc *d, const esc_json_tok *t) {
    if (t->depth == 1)
        return KEY_IS(t->key, "winlog") || KEY_IS(t->key, "event_data") ||
               KEY_IS(t->key, "user_data") || KEY_IS(t->key, "result") ||
               KEY_IS(t->key, "EventData") || KEY_IS(t->key, "Event") ||
               (KEY_IS(t->key, "user") && t->type == ESC_JT_OBJ) ||
               ((KEY_IS(t->key, "data") || KEY_IS(t->key, "system")) && t->type == ESC_JT_ARR);
    if (t->depth == 2 && t->parent >= 0) {
        const esc_json_tok *p = &d->tok[t->parent];
        if (KEY_IS(p->key, "winlog"))
            return KEY_IS(t->key, "event_data") || KEY_IS(t->key, "user_data") ||
                   KEY_IS(t->key, "process") || KEY_IS(t->key, "user");
        if ((KEY_IS(p->key, "data") || KEY_IS(p->key, "system")) && p->type == ESC_JT_ARR)
            return t->type == ESC_JT_ARR;
        if (KEY_IS(p->key, "Event"))
            return KEY_IS(t->key, "System") || KEY_IS(t->key, "EventData") ||
                   KEY_IS(t->key, "UserData");
        return false;
    }
    /* evtx_dump's Event.System's elements (with their #attributes, or as Element_attributes
     * objects) and the element inside Event.UserData */
    if (t->depth == 3 && t->parent >= 0 && d->tok[t->parent].parent >= 0) {
        const esc_json_tok *p = &d->tok[t->parent], *g = &d->tok[p->parent];
        if (KEY_IS(g->key, "winlog") && KEY_IS(p->key, "process"))
            return KEY_IS(t->key, "thread");
        if (!KEY_IS(g->key, "Event"))
            return false;
        return (KEY_IS(p->key, "System") || KEY_IS(p->key, "UserData")) && t->type == ESC_JT_OBJ;
    }
    if (t->depth == 4 && t->parent >= 0 && d->tok[t->parent].parent >= 0) {
        const esc_json_tok *g = &d->tok[d->tok[t->parent].parent];
        return KEY_IS(t->key, "#attributes") && KEY_IS(g->key, "System");
    }
    return false;
}

static int32_t child(const jr *r, int32_t parent, const char *name) {
    int32_t found = -1;
    esc_str n = esc_str_c(name);
    for (size_t i = (size_t)parent + 1; i < r->doc.ntok; i++)
        if (r->doc.tok[i].parent == parent && esc_str_eq(r->doc.tok[i].key, n))
            found = (int32_t)i;
    return found;
}

static bool is_obj(const jr *r, int32_t i) {
    return i >= 0 && r->doc.tok[i].type == ESC_JT_OBJ;
}

static esc_status set_event_id(jr *r, int32_t i, esc_event *ev) {
    esc_str s;
    uint64_t v;
    esc_status st = tok_text(r, tok_at(r, i), &s);
    if (!st && s.ptr && parse_u64(s, UINT32_MAX, &v)) {
        ev->event_id = (uint32_t)v;
        ev->has_event_id = true;
    }
    return st;
}

static esc_status set_record_id(jr *r, int32_t i, esc_event *ev) {
    esc_str s;
    uint64_t v;
    esc_status st = tok_text(r, tok_at(r, i), &s);
    if (!st && s.ptr && parse_u64(s, UINT64_MAX, &v))
        ev->record_id = v;
    return st;
}

/* First of the given keys whose value is an ISO time. */
static esc_status set_iso_time(jr *r, const int32_t *keys, size_t n, esc_event *ev, int32_t *used) {
    for (size_t i = 0; i < n; i++) {
        esc_str s;
        esc_status st = tok_text(r, tok_at(r, keys[i]), &s);
        if (st)
            return st;
        if (s.ptr && esc_time_parse_iso(s, &ev->time_us)) {
            ev->has_time = true;
            *used = keys[i];
            return ESC_OK;
        }
    }
    return ESC_OK;
}

static esc_status text_of(jr *r, int32_t i, esc_str *out) {
    esc_status st = tok_text(r, tok_at(r, i), out);
    if (!st && !out->ptr)
        *out = ESC_STR("");
    return st;
}

/* Windows event shapes: flat (NXLog), winlogbeat 7+ (winlog.*), winlogbeat 6. */
static esc_status build_flat(jr *r, const int32_t *k, esc_event *ev) {
    esc_status st;
    int32_t prov = k[K_SOURCENAME] >= 0 ? k[K_SOURCENAME] : k[K_PROVIDERNAME];
    int32_t host = k[K_HOSTNAME] >= 0 ? k[K_HOSTNAME] : k[K_COMPUTER];
    int32_t tkeys[3] = {k[K_TIMECREATED], k[K_ATTIMESTAMP], k[K_EVENTTIME]};
    int32_t tused = -1;
    ev->kind = ESC_EV_WINDOWS;
    if ((st = text_of(r, prov, &ev->provider)) || (st = text_of(r, host, &ev->computer)) ||
        (st = text_of(r, k[K_CHANNEL], &ev->channel)) || (st = set_event_id(r, k[K_EVENTID], ev)) ||
        (st = set_record_id(r, k[K_EVENTRECORDID], ev)))
        return st;
    if (!esc_interest_wants_windows(r->interest, ev->provider, ev->event_id))
        return ESC_SKIP;
    if ((st = set_iso_time(r, tkeys, 3, ev, &tused)))
        return st;
    int32_t skip[] = {prov, host, k[K_CHANNEL], k[K_EVENTID], k[K_EVENTRECORDID], tused};
    return add_members(r, -1, skip, sizeof skip / sizeof skip[0]);
}

/* System elements a winlogbeat record carries, as esc_event.sys names them (event.h); Level,
 * Task, Opcode and Keywords are left out: winlogbeat writes their names, not the numbers. */
typedef struct sys_key {
    const char *sys, *path; /* path: members under the shape's base, '.' separated */
} sys_key;

static const sys_key wlb7_sys[] = {
    {"Provider@Name", "provider_name"},
    {"Provider@Guid", "provider_guid"},
    {"EventID", "event_id"},
    {"Version", "version"},
    {"EventRecordID", "record_id"},
    {"Correlation@ActivityID", "activity_id"},
    {"Correlation@RelatedActivityID", "related_activity_id"},
    {"Execution@ProcessID", "process.pid"},
    {"Execution@ThreadID", "process.thread.id"},
    {"Channel", "channel"},
    {"Computer", "computer_name"},
    {"Security@UserID", "user.identifier"},
};
static const sys_key wlb6_sys[] = {
    {"Provider@Name", "source_name"},
    {"Provider@Guid", "provider_guid"},
    {"EventID", "event_id"},
    {"Version", "version"},
    {"EventRecordID", "record_number"},
    {"Correlation@ActivityID", "activity_id"},
    {"Correlation@RelatedActivityID", "related_activity_id"},
    {"Execution@ProcessID", "process_id"},
    {"Execution@ThreadID", "thread_id"},
    {"Channel", "log_name"},
    {"Computer", "computer_name"},
    {"Security@UserID", "user.identifier"},
};

/* Whether the interest set asks for System fields (esc_event.sys). */
static bool wants_sys(const jr *r) {
    return r->everything || (r->interest && r->interest->system);
}

/* ev->sys from the members map names under base, when the interest set asks for them. */
static esc_status winlog_sys(jr *r, int32_t base, const sys_key *map, size_t n, esc_event *ev) {
    if (!wants_sys(r))
        return ESC_OK;
    esc_kv *sys = esc_arena_alloc(&r->arena, n * sizeof *sys);
    if (!sys)
        return ESC_ELIMIT;
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t t = base;
        for (const char *p = map[i].path; p && t >= -1;) {
            const char *dot = strchr(p, '.');
            char seg[32];
            size_t l = dot ? (size_t)(dot - p) : strlen(p);
            memcpy(seg, p, l);
            seg[l] = 0;
            t = (t == -1 || is_obj(r, t)) ? child(r, t, seg) : -2;
            p = dot ? dot + 1 : NULL;
        }
        esc_str v;
        esc_status st = t >= 0 && is_scalar(&r->doc.tok[t]) ? tok_text(r, tok_at(r, t), &v)
                                                            : (v = ESC_STR_NULL, ESC_OK);
        if (st)
            return st;
        if (v.len)
            sys[ns++] = (esc_kv){esc_str_c(map[i].sys), v};
    }
    ev->sys = sys;
    ev->nsys = ns;
    return ESC_OK;
}

static esc_status build_winlogbeat7(jr *r, const int32_t *k, esc_event *ev) {
    esc_status st;
    int32_t w = k[K_WINLOG];
    int32_t tkeys[1] = {k[K_ATTIMESTAMP]};
    int32_t tused = -1;
    ev->kind = ESC_EV_WINDOWS;
    if ((st = text_of(r, child(r, w, "provider_name"), &ev->provider)) ||
        (st = text_of(r, child(r, w, "computer_name"), &ev->computer)) ||
        (st = text_of(r, child(r, w, "channel"), &ev->channel)) ||
        (st = set_event_id(r, child(r, w, "event_id"), ev)) ||
        (st = set_record_id(r, child(r, w, "record_id"), ev)))
        return st;
    if (!esc_interest_wants_windows(r->interest, ev->provider, ev->event_id))
        return ESC_SKIP;
    if ((st = set_iso_time(r, tkeys, 1, ev, &tused)))
        return st;
    int32_t ed = child(r, w, "event_data"), ud = child(r, w, "user_data");
    if (is_obj(r, ed) && (st = add_members(r, ed, NULL, 0)))
        return st;
    if (is_obj(r, ud) && (st = add_members(r, ud, NULL, 0)))
        return st;
    return winlog_sys(r, w, wlb7_sys, sizeof wlb7_sys / sizeof wlb7_sys[0], ev);
}

static esc_status build_winlogbeat6(jr *r, const int32_t *k, esc_event *ev) {
    esc_status st;
    int32_t tkeys[1] = {k[K_ATTIMESTAMP]};
    int32_t tused = -1;
    ev->kind = ESC_EV_WINDOWS;
    if ((st = text_of(r, k[K_SOURCE_NAME], &ev->provider)) ||
        (st = text_of(r, k[K_COMPUTER_NAME], &ev->computer)) ||
        (st = text_of(r, k[K_LOG_NAME], &ev->channel)) ||
        (st = set_event_id(r, k[K_EVENT_ID], ev)) ||
        (st = set_record_id(r, k[K_RECORD_NUMBER], ev)))
        return st;
    if (!esc_interest_wants_windows(r->interest, ev->provider, ev->event_id))
        return ESC_SKIP;
    if ((st = set_iso_time(r, tkeys, 1, ev, &tused)))
        return st;
    if (is_obj(r, k[K_EVENT_DATA]) && (st = add_members(r, k[K_EVENT_DATA], NULL, 0)))
        return st;
    if (is_obj(r, k[K_USER_DATA]) && (st = add_members(r, k[K_USER_DATA], NULL, 0)))
        return st;
    return winlog_sys(r, -1, wlb6_sys, sizeof wlb6_sys / sizeof wlb6_sys[0], ev);
}

/* Azure Sentinel / Log Analytics rows. SecurityEvent: EventSourceName, EventID, Computer,
 * Channel, TimeGenerated, and the event's fields as top-level columns (the EventData column,
 * an XML string, is left out). WindowsEvent: Provider, EventID, Computer, Channel,
 * TimeGenerated, and the fields in EventData, a JSON object or a string holding one. */
static esc_status build_sentinel(jr *r, const int32_t *k, esc_event *ev, int32_t prov,
                                 bool eventdata) {
    esc_status st;
    int32_t tkeys[1] = {k[K_TIMEGENERATED]};
    int32_t tused = -1;
    ev->kind = ESC_EV_WINDOWS;
    if ((st = text_of(r, prov, &ev->provider)) || (st = text_of(r, k[K_COMPUTER], &ev->computer)) ||
        (st = text_of(r, k[K_CHANNEL], &ev->channel)) || (st = set_event_id(r, k[K_EVENTID], ev)))
        return st;
    if (!esc_interest_wants_windows(r->interest, ev->provider, ev->event_id))
        return ESC_SKIP;
    if ((st = set_iso_time(r, tkeys, 1, ev, &tused)))
        return st;
    int32_t ed = k[K_EVENTDATA];
    if (!eventdata) {
        int32_t skip[] = {prov, k[K_COMPUTER], k[K_CHANNEL], k[K_EVENTID], tused, ed, k[K_TYPE]};
        return add_members(r, -1, skip, sizeof skip / sizeof skip[0]);
    }
    if (is_obj(r, ed))
        return add_members(r, ed, NULL, 0);
    if (ed < 0 || r->doc.tok[ed].type != ESC_JT_STR)
        return ESC_OK;
    esc_str text;
    if ((st = tok_text(r, &r->doc.tok[ed], &text)))
        return st;
    /* the outer tokens are not needed any more: tokenize the inner object in their place */
    const char *end;
    st = esc_json_tokenize(&r->doc, text.ptr, text.ptr + text.len, &end, &r->arena);
    if (st == ESC_EMALFORMED) { /* not JSON: the event stands without its data */
        r->doc.ntok = 0;
        return ESC_OK;
    }
    if (st)
        return st;
    return add_members(r, -1, NULL, 0);
}

static int32_t obj_child(const jr *r, int32_t parent, const char *name) {
    return is_obj(r, parent) ? child(r, parent, name) : -1;
}

/* ---- evtx_dump JSON ---- */

/* clang-format off */
#define EVTXJSON_ATTRS "_attributes" /* evtx_dump --separate-json-attributes: Element_attributes */
/* clang-format on */

/* The attributes object of System's element elem: elem.#attributes, else the sibling
 * elem_attributes (--separate-json-attributes); -1 when there is none. */
static int32_t evtxjson_attrs(const jr *r, int32_t sys, const char *elem) {
    int32_t a = obj_child(r, obj_child(r, sys, elem), "#attributes");
    if (is_obj(r, a))
        return a;
    char name[32];
    snprintf(name, sizeof name, "%s" EVTXJSON_ATTRS, elem);
    a = obj_child(r, sys, name);
    return is_obj(r, a) ? a : -1;
}

/* evtx_dump writes a GUID-typed value as bare upper-case hex (the evtx crate's `write_guid`),
 * Windows as {GUID}: a value of exactly that form gets its braces back (docs/json.md). */
static esc_status braced(jr *r, esc_str *v) {
    if (v->len != 36)
        return ESC_OK;
    for (size_t i = 0; i < 36; i++) {
        char c = v->ptr[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return ESC_OK;
    }
    char *b = esc_arena_alloc(&r->arena, 38);
    if (!b)
        return ESC_ELIMIT;
    b[0] = '{';
    memcpy(b + 1, v->ptr, 36);
    b[37] = '}';
    *v = esc_str_make(b, 38);
    return ESC_OK;
}

static esc_status evtxjson_value(jr *r, const esc_json_tok *t, esc_str *out) {
    esc_status st = tok_text(r, t, out);
    return st ? st : braced(r, out);
}

/* One System entry: elem, or elem@attr when attr has a length (the caller keeps *ns below
 * ESC_XML_MAX_SYS). */
static esc_status sys_add(jr *r, esc_kv *sys, size_t *ns, esc_str elem, esc_str attr,
                          const esc_json_tok *t) {
    esc_str v;
    esc_status st = evtxjson_value(r, t, &v);
    if (st || !v.len)
        return st;
    esc_str name = elem;
    if (attr.len) {
        char *n = esc_arena_alloc(&r->arena, elem.len + 1 + attr.len);
        if (!n)
            return ESC_ELIMIT;
        memcpy(n, elem.ptr, elem.len);
        n[elem.len] = '@';
        memcpy(n + elem.len + 1, attr.ptr, attr.len);
        name = esc_str_make(n, elem.len + 1 + attr.len);
    }
    sys[(*ns)++] = (esc_kv){name, v};
    return ESC_OK;
}

/* The element a scalar under System stands for, in one pass over the tokens: a member of System
 * itself (its name), an element's #text (the element's), a member of an element's #attributes
 * or of an Element_attributes object (Element@member). *attr gets the attribute's name. */
static bool sys_entry(const jr *r, int32_t sys, const esc_json_tok *t, esc_str *elem,
                      esc_str *attr) {
    const size_t sl = sizeof EVTXJSON_ATTRS - 1;
    const esc_json_tok *p = t->parent >= 0 ? &r->doc.tok[t->parent] : NULL;
    *attr = ESC_STR_NULL;
    if (!p || !is_scalar(t) || !t->key.ptr)
        return false;
    if (t->parent == sys) {
        *elem = t->key;
        return true;
    }
    if (p->parent == sys && KEY_IS(t->key, "#text")) {
        *elem = p->key;
        return true;
    }
    *attr = t->key;
    if (p->parent == sys && p->key.len > sl &&
        memcmp(p->key.ptr + p->key.len - sl, EVTXJSON_ATTRS, sl) == 0) {
        *elem = esc_str_make(p->key.ptr, p->key.len - sl);
        return true;
    }
    if (p->parent >= 0 && r->doc.tok[p->parent].parent == sys && KEY_IS(p->key, "#attributes")) {
        *elem = r->doc.tok[p->parent].key;
        return true;
    }
    return false;
}

/* ev->sys from evtx_dump's System, as the XML reader fills it (event.h), when the interest set
 * asks for it: in document order, a scalar under its name, an element object's #attributes
 * as Element@Attribute and its #text under its name, an Element_attributes object's members
 * as Element@Attribute. One pass over the tokens (a System of many members stays linear). */
static esc_status evtxjson_sys(jr *r, int32_t sys, esc_event *ev) {
    if (!wants_sys(r))
        return ESC_OK;
    esc_kv *kv = esc_arena_alloc(&r->arena, ESC_XML_MAX_SYS * sizeof *kv);
    if (!kv)
        return ESC_ELIMIT;
    size_t ns = 0;
    esc_status st = ESC_OK;
    for (size_t i = (size_t)sys + 1; !st && i < r->doc.ntok && ns < ESC_XML_MAX_SYS; i++) {
        esc_str elem, attr;
        if (sys_entry(r, sys, &r->doc.tok[i], &elem, &attr))
            st = sys_add(r, kv, &ns, elem, attr, &r->doc.tok[i]);
    }
    ev->sys = kv;
    ev->nsys = ns;
    return st;
}

/* evtx_dump JSON (and the Sigma regression data): {"Event":{"System":{"Provider":
 * {"#attributes":{"Name":..}},"EventID":N or {"#text":N},"TimeCreated":{"#attributes":
 * {"SystemTime":..}},"EventRecordID":N,"Channel":..,"Computer":..},"EventData":{..}}}, the
 * attributes also as "Provider_attributes":{..} (--separate-json-attributes). */
static esc_status build_evtxjson(jr *r, int32_t e, esc_event *ev) {
    esc_status st;
    int32_t sys = obj_child(r, e, "System");
    if (sys < 0) {
        ev->kind = ESC_EV_OTHER;
        return ESC_OK;
    }
    int32_t prov = obj_child(r, evtxjson_attrs(r, sys, "Provider"), "Name");
    int32_t eid = child(r, sys, "EventID");
    if (is_obj(r, eid))
        eid = child(r, eid, "#text");
    int32_t tc = obj_child(r, evtxjson_attrs(r, sys, "TimeCreated"), "SystemTime");
    int32_t tused = -1;
    ev->kind = ESC_EV_WINDOWS;
    if ((st = text_of(r, prov, &ev->provider)) ||
        (st = text_of(r, child(r, sys, "Computer"), &ev->computer)) ||
        (st = text_of(r, child(r, sys, "Channel"), &ev->channel)) ||
        (st = set_event_id(r, eid, ev)) ||
        (st = set_record_id(r, child(r, sys, "EventRecordID"), ev)))
        return st;
    if (!esc_interest_wants_windows(r->interest, ev->provider, ev->event_id))
        return ESC_SKIP;
    if ((st = set_iso_time(r, &tc, 1, ev, &tused)) || (st = evtxjson_sys(r, sys, ev)))
        return st;
    int32_t ed = obj_child(r, e, "EventData"), ud = obj_child(r, e, "UserData");
    /* EventData's <Binary> makes no field, as from the EVTX and the XML (docs/fields.md) */
    int32_t bin = ed >= 0 ? child(r, ed, "Binary") : -1;
    size_t from = r->nkv;
    if (ed >= 0 && (st = add_members(r, ed, &bin, 1)))
        return st;
    if (ud >= 0)
        for (size_t i = (size_t)ud + 1; i < r->doc.ntok; i++)
            if (r->doc.tok[i].parent == ud && r->doc.tok[i].type == ESC_JT_OBJ &&
                (st = add_members(r, (int32_t)i, NULL, 0)))
                return st;
    for (size_t i = from; !st && i < r->nkv; i++)
        st = braced(r, &r->kv[i].value);
    return st;
}

/* Takes one [name, value] pair of a dump (v: the value's token). */
typedef esc_status (*pair_fn)(jr *r, esc_str name, const esc_json_tok *v, void *ctx);

/* The [name, value] pairs of the array token a, each to add with ctx (a pair whose name is not
 * a string is passed over). */
static esc_status dump_pairs(jr *r, int32_t a, pair_fn add, void *ctx) {
    if (a < 0 || r->doc.tok[a].type != ESC_JT_ARR)
        return ESC_OK;
    for (size_t i = (size_t)a + 1; i < r->doc.ntok; i++) {
        if (r->doc.tok[i].parent != a || r->doc.tok[i].type != ESC_JT_ARR)
            continue;
        int32_t pair[2] = {-1, -1};
        int n = 0;
        for (size_t j = i + 1; j < r->doc.ntok && r->doc.tok[j].parent == (int32_t)i; j++)
            if (n < 2)
                pair[n++] = (int32_t)j;
        if (n < 2 || r->doc.tok[pair[0]].type != ESC_JT_STR)
            continue;
        esc_str name;
        esc_status st = tok_text(r, &r->doc.tok[pair[0]], &name);
        if (st || (st = add(r, name, &r->doc.tok[pair[1]], ctx)))
            return st;
    }
    return ESC_OK;
}

/* A dump's data pair the interest set wants, repeated as the EVTX's Data elements were. */
static esc_status dump_data(jr *r, esc_str name, const esc_json_tok *t, void *ctx) {
    (void)ctx;
    esc_str v;
    esc_status st = ESC_OK;
    if (esc_interest_wants_field(r->interest, name) && !(st = tok_text(r, t, &v)) && v.ptr)
        st = kv_append(r, name, v);
    return st;
}

/* The System pairs a dump's "system" gives (dump_sys). */
typedef struct kv_list {
    esc_kv *kv;
    size_t n;
} kv_list;

/* A dump's System pair with a value, into the kv_list ctx (at most ESC_XML_MAX_SYS, as the XML
 * reader keeps). */
static esc_status dump_sys(jr *r, esc_str name, const esc_json_tok *t, void *ctx) {
    kv_list *l = ctx;
    esc_str v;
    esc_status st = l->n < ESC_XML_MAX_SYS ? tok_text(r, t, &v) : ESC_OK;
    if (!st && l->n < ESC_XML_MAX_SYS && v.len)
        l->kv[l->n++] = (esc_kv){name, v};
    return st;
}

/* escudo's own dump: {"escudo_dump":1,"kind":..,"provider":..,"channel":..,"computer":..,
 * "event_id":N,"record_id":N,"time":"ISO","system":[["Name","value"],...],
 * "data":[["Name","value"],...]} */
static esc_status build_dump(jr *r, const int32_t *k, esc_event *ev) {
    esc_status st;
    esc_str kind;
    if ((st = text_of(r, k[K_KIND], &kind)))
        return st;
    if (KEY_IS(kind, "crowdstrike"))
        ev->kind = ESC_EV_CROWDSTRIKE;
    else if (KEY_IS(kind, "aidmaster"))
        ev->kind = ESC_EV_AIDMASTER;
    else if (KEY_IS(kind, "windows"))
        ev->kind = ESC_EV_WINDOWS;
    else {
        ev->kind = ESC_EV_OTHER;
        return ESC_OK;
    }
    /* a key the dump left out stays missing (NULL view), so dumping a dump changes nothing */
    if ((st = tok_text(r, tok_at(r, k[K_PROVIDER]), &ev->provider)) ||
        (st = tok_text(r, tok_at(r, k[K_CHANNEL_L]), &ev->channel)) ||
        (st = tok_text(r, tok_at(r, k[K_COMPUTER_L]), &ev->computer)) ||
        (st = set_event_id(r, k[K_EVENT_ID], ev)) || (st = set_record_id(r, k[K_RECORD_ID], ev)))
        return st;
    if (ev->kind == ESC_EV_WINDOWS &&
        !esc_interest_wants_windows(r->interest, ev->provider, ev->event_id))
        return ESC_SKIP;
    int32_t tused = -1;
    if ((st = set_iso_time(r, &k[K_TIME], 1, ev, &tused)))
        return st;
    if (wants_sys(r) && k[K_SYSTEM] >= 0) {
        kv_list sys = {esc_arena_alloc(&r->arena, ESC_XML_MAX_SYS * sizeof *sys.kv), 0};
        if (!sys.kv)
            return ESC_ELIMIT;
        if ((st = dump_pairs(r, k[K_SYSTEM], dump_sys, &sys)))
            return st;
        ev->sys = sys.kv;
        ev->nsys = sys.n;
    }
    return dump_pairs(r, k[K_DATA], dump_data, NULL);
}

static esc_status build_crowdstrike(jr *r, const int32_t *k, esc_event *ev) {
    esc_status st;
    esc_str ts;
    if ((st = add_members(r, -1, NULL, 0)) || (st = tok_text(r, tok_at(r, k[K_TIMESTAMP]), &ts)))
        return st;
    /* FDR "timestamp" is epoch milliseconds */
    if (ts.ptr && esc_time_parse_epoch(ts, &ev->time_us)) {
        ev->time_us /= 1000;
        ev->has_time = true;
    }
    return ESC_OK;
}

/* Classify the tokenized object and fill ev. ESC_SKIP: skipped by the interest set (the
 * caller counts it as prefiltered). aid_only: yield only an aidmaster record. */
static esc_status build_event(jr *r, esc_event *ev, bool aid_only, bool nested, esc_error *err);

static esc_status build_export(jr *r, int32_t raw_tok, esc_event *ev, bool aid_only,
                               esc_error *err) {
    esc_str text;
    esc_status st = tok_text(r, tok_at(r, raw_tok), &text);
    if (st)
        return st;
    size_t i = 0;
    while (i < text.len && (text.ptr[i] == ' ' || text.ptr[i] == '\t' || text.ptr[i] == '\r' ||
                            text.ptr[i] == '\n'))
        i++;
    if (i < text.len && text.ptr[i] == '<') {
        if (aid_only)
            return ESC_SKIP;
        esc_event x;
        memset(&x, 0, sizeof x);
        st = esc_xml_event_parse(text.ptr, text.len, r->interest, &r->arena, &x, err);
        if (st)
            return st;
        x.repaired += r->repaired;
        *ev = x;
        r->xml = true;
        if (ev->kind == ESC_EV_WINDOWS &&
            !esc_interest_wants_windows(r->interest, ev->provider, ev->event_id))
            return ESC_SKIP;
        return ESC_OK;
    }
    if (i < text.len && text.ptr[i] == '{') {
        const char *end;
        st = esc_json_tokenize(&r->doc, text.ptr + i, text.ptr + text.len, &end, &r->arena);
        if (st == ESC_EMALFORMED)
            return esc_error_set(err, ESC_EMALFORMED, "_raw: %s", r->doc.what);
        if (st)
            return st;
        return build_event(r, ev, aid_only, true, err);
    }
    ev->kind = ESC_EV_OTHER;
    return aid_only ? ESC_SKIP : ESC_OK;
}

static esc_status build_event(jr *r, esc_event *ev, bool aid_only, bool nested, esc_error *err) {
    int32_t k[K_NKEYS];
    esc_status st;
    index_keys(r, -1, k);
    if (!nested && k[K_RESULT] >= 0 && is_obj(r, k[K_RESULT])) {
        int32_t raw = child(r, k[K_RESULT], "_raw");
        if (raw >= 0 && r->doc.tok[raw].type == ESC_JT_STR)
            return build_export(r, raw, ev, aid_only, err);
    }
    if (k[K_ESCUDO_DUMP] >= 0) {
        st = build_dump(r, k, ev);
        if (!st && aid_only && ev->kind != ESC_EV_AIDMASTER)
            return ESC_SKIP;
        return st;
    }
    bool cs = k[K_SIMPLENAME] >= 0;
    esc_str simple = ESC_STR_NULL;
    if (cs && (st = tok_text(r, tok_at(r, k[K_SIMPLENAME]), &simple)))
        return st;
    if (k[K_AID] >= 0 && k[K_COMPUTERNAME] >= 0 && (!cs || KEY_IS(simple, "AidMaster"))) {
        ev->kind = ESC_EV_AIDMASTER;
        return add_members(r, -1, NULL, 0);
    }
    if (aid_only)
        return ESC_SKIP;
    if (cs) {
        ev->kind = ESC_EV_CROWDSTRIKE;
        if (!r->everything &&
            ((r->interest && !r->interest->crowdstrike) ||
             !(KEY_IS(simple, "ProcessRollup2") || KEY_IS(simple, "SyntheticProcessRollup2"))))
            return ESC_SKIP;
        return build_crowdstrike(r, k, ev);
    }
    if (is_obj(r, k[K_WINLOG]) && child(r, k[K_WINLOG], "event_id") >= 0)
        return build_winlogbeat7(r, k, ev);
    if (is_obj(r, k[K_EVENT]))
        return build_evtxjson(r, k[K_EVENT], ev);
    if (k[K_TYPE] >= 0 && k[K_EVENTID] >= 0) {
        esc_str type;
        if ((st = tok_text(r, tok_at(r, k[K_TYPE]), &type)))
            return st;
        if (KEY_IS(type, "SecurityEvent") && k[K_EVENTSOURCENAME] >= 0)
            return build_sentinel(r, k, ev, k[K_EVENTSOURCENAME], false);
        if (KEY_IS(type, "WindowsEvent") && k[K_PROVIDER_CAP] >= 0)
            return build_sentinel(r, k, ev, k[K_PROVIDER_CAP], true);
    }
    if (k[K_EVENTID] >= 0 && (k[K_SOURCENAME] >= 0 || k[K_PROVIDERNAME] >= 0))
        return build_flat(r, k, ev);
    if (k[K_EVENT_ID] >= 0 && k[K_SOURCE_NAME] >= 0)
        return build_winlogbeat6(r, k, ev);
    ev->kind = ESC_EV_OTHER;
    return ESC_OK;
}

/* ---- literal prefilter ----------------------------------------------------------------- */

static bool clause_hit(const esc_json_clause *cl, const char *s, size_t n) {
    return esc_json_clause_hit(cl, s, n);
}

static bool raw_may_match(const jr *r, const char *s, size_t n) {
    for (size_t c = 0; c < r->nclause; c++)
        if (!clause_hit(&r->clause[c], s, n))
            return false;
    return true;
}

/* ---- the iterator ---------------------------------------------------------------------- */

static bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One record starting at pos (buf[pos] == '{'). */
static esc_status read_record(jr *r, esc_event *ev, esc_error *err) {
    uint64_t rec_line = r->line, rec_off = r->base + r->pos;
    size_t nl;
    bool has_nl;
    esc_status st = find_line(r, 0, &nl, &has_nl, err);
    r->stats->records++;
    if (st == ESC_ELIMIT)
        return too_long(r, err, rec_line, rec_off);
    if (st)
        return st;
    const char *s = r->buf + r->pos;
    size_t t = nl;
    while (t > 0 && is_ws(s[t - 1]))
        t--;
    bool whole =
        t > 0 && (s[t - 1] == '}' || (r->in_array && t > 1 && s[t - 1] == ',' && s[t - 2] == '}'));
    bool decoded_check = false, aid_only = false;
    if (whole && r->prefilter && !raw_may_match(r, s, t)) {
        /* Only \u escapes (and &#...; in an embedded XML _raw) can hide a literal. A line
         * with \u escapes is checked again with them decoded; one with &# is decoded in
         * full. A rejected line naming ComputerName may still be an aidmaster record. */
        unsigned f = esc_json_raw_flags(s, t);
        if (f & ESC_JSON_RAW_NCR) {
            decoded_check = true;
        } else if (memmem(s, t, "\\\"", 2) && memmem(s, t, "\"event_simpleName\"", 18)) {
            /* CrowdStrike's process (profile splunk) deletes quotes, which may join a literal:
             * check the decoded values with their quotes ignored. */
            decoded_check = true;
        } else if (f & ESC_JSON_RAW_UESC) {
            bool nested = false;
            esc_buf_clear(&r->unesc);
            if (esc_json_unescape_u(&r->unesc, s, t, &nested))
                return esc_error_set(err, ESC_ENOMEM, "out of memory");
            decoded_check = nested || raw_may_match(r, r->unesc.ptr, r->unesc.len);
            aid_only = !decoded_check &&
                       memmem(r->unesc.ptr, r->unesc.len, "\"ComputerName\"", 14) != NULL;
        } else {
            aid_only = (f & ESC_JSON_RAW_COMPUTERNAME) != 0;
        }
        if (!decoded_check && !aid_only) {
            r->stats->prefiltered++;
            advance(r, has_nl ? nl + 1 : nl);
            return ESC_SKIP;
        }
    }

    /* tokenize the line; if the object goes on past it, find its extent and again */
    const char *end = NULL;
    size_t len = nl;
    st = esc_json_tokenize(&r->doc, s, s + len, &end, &r->arena);
    if (st == ESC_EMALFORMED && r->doc.incomplete && has_nl) {
        const char *what = NULL;
        bool discarded = false;
        st = prescan(r, &len, &what, &discarded, err);
        if ((st == ESC_OK || st == ESC_EMALFORMED) && discarded) {
            advance(r, len);
            esc_error_at(err, ESC_EMALFORMED, r->path, rec_off,
                         "line %llu: record longer than %zu bytes at byte %llu, skipped",
                         (unsigned long long)rec_line, r->max_rec, (unsigned long long)rec_off);
            if (err)
                err->line = rec_line;
            return ESC_EMALFORMED;
        }
        s = r->buf + r->pos; /* prescan may have moved the buffer */
        if (st == ESC_EMALFORMED) {
            uint64_t at = r->base + r->pos + len;
            advance(r, len);
            return malformed(r, err, rec_line, rec_off, what, at);
        }
        if (st)
            return st;
        st = esc_json_tokenize(&r->doc, s, s + len, &end, &r->arena);
        nl = len;
        has_nl = false;
    }
    if (st == ESC_EMALFORMED) {
        if (!r->doc.what)
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        uint64_t at = r->base + (uint64_t)(r->doc.at - r->buf);
        const char *what = r->doc.what;
        advance(r, nl);
        return malformed(r, err, rec_line, rec_off, what, at);
    }
    if (st)
        return esc_error_set(err, st, "out of memory");

    /* the record is [s, end): build the event from it, then consume it */
    memset(ev, 0, sizeof *ev);
    r->nkv = 0;
    r->repaired = 0;
    r->xml = false;
    esc_error xerr;
    esc_error_clear(&xerr);
    st = build_event(r, ev, aid_only, false, &xerr);
    size_t used = (size_t)(end - s);
    if (!r->xml) {
        ev->data = r->kv;
        ev->ndata = r->nkv;
        ev->repaired = r->repaired;
    }
    if (st == ESC_OK && decoded_check && ev->kind != ESC_EV_AIDMASTER) {
        if (!esc_interest_event_may_match(r->interest, ev))
            st = ESC_SKIP;
    }
    if (st == ESC_SKIP) {
        r->stats->prefiltered++;
        advance(r, used);
        return ESC_SKIP;
    }
    if (st == ESC_ELIMIT && r->nkv == ESC_JSON_MAX_FIELDS) {
        uint64_t at = r->base + r->pos;
        advance(r, used);
        return malformed(r, err, rec_line, rec_off, "more than 1024 data fields", at);
    }
    if (st == ESC_EMALFORMED) {
        uint64_t at = r->base + r->pos + (xerr.has_offset ? xerr.offset : 0);
        advance(r, used);
        return malformed(r, err, rec_line, rec_off, xerr.msg, at);
    }
    if (st) {
        advance(r, used);
        return esc_error_set(err, st == ESC_ELIMIT ? ESC_ENOMEM : st, "out of memory");
    }
    ev->path = r->path;
    ev->offset = rec_off;
    ev->line = rec_line;
    r->stats->repaired += ev->repaired;
    advance(r, used);
    return ESC_OK;
}

static esc_status json_next(void *impl, esc_event *ev, esc_error *err) {
    jr *r = impl;
    esc_status st;
    for (;;) {
        if (r->pos >= r->end || (!r->started && r->end - r->pos < 3 && !r->eof)) {
            if (r->eof && r->pos >= r->end) {
                if (r->in_array) {
                    r->in_array = false;
                    return malformed(r, err, r->line, r->base + r->pos,
                                     "unterminated top-level array", r->base + r->pos);
                }
                return ESC_EOF;
            }
            if ((st = fill(r, err)))
                return st == ESC_ELIMIT ? esc_error_set(err, ESC_EINTERNAL, "buffer") : st;
            continue;
        }
        if (!r->started) {
            r->started = true;
            if (r->end - r->pos >= 3 && memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0)
                r->pos += 3;
            continue;
        }
        char c = r->buf[r->pos];
        if (c == '\n') {
            r->line++;
            r->pos++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
            r->pos++;
            continue;
        }
        if (r->in_array && (c == ',' || c == ']')) {
            r->in_array = c == ',';
            r->pos++;
            continue;
        }
        if (!r->seen_value && c == '[') {
            r->in_array = true;
            r->seen_value = true;
            r->pos++;
            continue;
        }
        r->seen_value = true;
        esc_arena_reset(&r->arena);
        if (c != '{') {
            uint64_t line = r->line, off = r->base + r->pos;
            size_t nl;
            bool has_nl;
            r->stats->records++;
            st = find_line(r, 0, &nl, &has_nl, err);
            if (st == ESC_ELIMIT)
                return too_long(r, err, line, off);
            if (st)
                return st;
            advance(r, nl);
            return malformed(r, err, line, off, "expected '{'", off);
        }
        st = read_record(r, ev, err);
        if (st == ESC_SKIP)
            continue;
        return st;
    }
}

static void json_free(void *impl) {
    jr *r = impl;
    if (!r)
        return;
    esc_free(r->buf);
    esc_arena_fini(&r->arena);
    esc_buf_fini(&r->scratch);
    esc_buf_fini(&r->unesc);
    esc_json_doc_fini(&r->doc);
    esc_free(r->kv);
    esc_free(r);
}

esc_status esc_json_reader_open_ex(esc_input *in, const esc_interest *interest,
                                   const esc_reader_opts *opts, size_t block,
                                   esc_reader_stats *stats, void **impl, esc_error *err) {
    jr *r = esc_calloc(1, sizeof *r);
    if (!r)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->in = in;
    r->base = esc_input_offset(in); /* a piece of a larger input starts at its offset there */
    r->path = esc_input_path(in);
    r->interest = interest;
    r->stats = stats;
    r->max_rec =
        opts && opts->max_record_bytes ? opts->max_record_bytes : ESC_JSON_DEFAULT_MAX_RECORD;
    if (r->max_rec > ESC_JSON_MAX_RECORD_LIMIT)
        r->max_rec = ESC_JSON_MAX_RECORD_LIMIT; /* keeps the buffer and arena sizes in range */
    r->block = block ? block : ESC_JSON_BLOCK;
    r->everything = !interest || interest->everything;
    r->prefilter = !r->everything && interest->nclauses > 0;
    if (r->prefilter) {
        r->nclause = interest->nclauses < ESC_INTEREST_MAX_CLAUSES ? interest->nclauses
                                                                   : ESC_INTEREST_MAX_CLAUSES;
        for (size_t c = 0; c < r->nclause; c++)
            esc_json_clause_init(&r->clause[c], &interest->clause[c]);
    }
    esc_buf_init(&r->unesc, 4 * r->max_rec + 16);
    r->line = 1;
    r->cap = r->block < 4096 ? 4096 : r->block;
    r->buf = esc_malloc(r->cap);
    if (!r->buf) {
        esc_free(r);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    /* decoded values of one record: at most 3 bytes out per byte in, plus keys */
    esc_arena_init(&r->arena, 0, 4 * r->max_rec + ((size_t)1 << 20));
    esc_buf_init(&r->scratch, 4 * r->max_rec + 16);
    esc_json_doc_init(&r->doc);
    r->doc.want = want_kids;
    *impl = r;
    return ESC_OK;
}

/* The stream's state back to that of a reader just opened over in; the buffers, the prefilter's
 * clauses and the per-event storage are kept (each record resets what it uses of them). */
static void json_restart(void *impl, esc_input *in) {
    jr *r = impl;
    r->in = in;
    r->path = esc_input_path(in);
    r->base = esc_input_offset(in);
    r->pos = r->end = 0;
    r->eof = false;
    r->line = 1;
    r->started = r->in_array = r->seen_value = false;
}

static esc_status json_open(esc_input *in, const esc_interest *interest,
                            const esc_reader_opts *opts, esc_reader_stats *stats, void **impl,
                            esc_error *err) {
    return esc_json_reader_open_ex(in, interest, opts, 0, stats, impl, err);
}

const esc_reader_ops esc_json_reader_ops = {"json", json_open, json_next, json_free, json_restart};
