/* One <Event> element of XmlWinEventLog -> esc_event.
 *
 * A small, non-validating XML tokenizer specialised for Windows event XML: it tracks the path
 * of open elements (depth capped at ESC_XML_MAX_DEPTH), reads System/Provider/@Name,
 * System/EventID, System/TimeCreated/@SystemTime, System/Channel, System/Computer,
 * System/EventRecordID, EventData/Data[@Name] and UserData leaf elements, and ignores the rest
 * (RenderingInfo included). Values are views into the text when they hold no entity and are
 * valid UTF-8; otherwise they are decoded into the arena. Line ends are kept as they are (no
 * CR/LF normalisation), so an EVTX record and its XML rendering give the same values.
 * When the interest set asks for them (everything or system), every System element's text and
 * attribute also goes to ev->sys (at most ESC_XML_MAX_SYS).
 * Not done: DTDs, namespaces beyond stripping a prefix, validation. */
#include "parse/xml/xml.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/timeutil.h"
#include "core/utf8.h"

typedef enum { CTX_OTHER, CTX_SYSTEM, CTX_EVENTDATA, CTX_USERDATA } ctx_kind;

typedef enum {
    F_NONE,
    F_EVENTID,
    F_CHANNEL,
    F_COMPUTER,
    F_RECORDID,
    F_DATA, /* EventData/Data or a UserData leaf */
    F_SYS,  /* another System element: its text only goes to ev->sys */
} field_kind;

typedef struct parser {
    const char *s;
    size_t n, i;
    const esc_interest *interest;
    esc_arena *arena;
    esc_event *ev;
    esc_error *err;
    esc_kv *kv;
    size_t nkv, capkv;
    esc_kv *sys; /* ESC_XML_MAX_SYS entries when want_sys, else NULL */
    size_t nsys;
    esc_buf tmp;
    int depth;
    bool in_event;
    ctx_kind ctx[ESC_XML_MAX_DEPTH + 1];
    esc_str warn;
    size_t warn_off;
} parser;

/* Per byte: 1 white space, 2 a byte that ends a name (white space too), 0 a name byte. */
static const unsigned char byte_class[256] = {
    [' '] = 3, ['\t'] = 3, ['\r'] = 3, ['\n'] = 3, ['>'] = 2,
    ['/'] = 2, ['='] = 2,  ['<'] = 2,  ['\''] = 2, ['"'] = 2,
};

static inline bool is_ws(char c) {
    return byte_class[(unsigned char)c] & 1;
}

static inline bool is_name_char(char c) {
    return !byte_class[(unsigned char)c];
}

static esc_status bad(parser *p, size_t at, const char *msg) {
    return esc_error_at(p->err, ESC_EMALFORMED, NULL, at, "%s", msg);
}

static void warn(parser *p, size_t at, const char *msg) {
    if (!p->warn.len) {
        p->warn = esc_str_c(msg);
        p->warn_off = at;
    }
}

/* Decode the raw text s (entities, UTF-8 repair) into a value. */
static esc_status decode(parser *p, const char *s, size_t n, esc_str *out) {
    const char *amp = memchr(s, '&', n);
    if (!amp && esc_utf8_clean(s, n)) {
        *out = esc_str_make(s, n);
        return ESC_OK;
    }
    esc_buf *b = &p->tmp;
    esc_buf_clear(b);
    esc_status st = ESC_OK;
    size_t i = 0, run = 0;
    while (i < n) {
        if (s[i] != '&') {
            i++;
            continue;
        }
        if ((st = esc_buf_append(b, s + run, i - run)))
            return st;
        const char *semi = memchr(s + i, ';', n - i < 12 ? n - i : 12);
        size_t elen = semi ? (size_t)(semi - (s + i)) + 1 : 0;
        esc_str ent = esc_str_make(s + i, elen);
        if (esc_str_eq_c(ent, "&lt;"))
            st = esc_buf_putc(b, '<');
        else if (esc_str_eq_c(ent, "&gt;"))
            st = esc_buf_putc(b, '>');
        else if (esc_str_eq_c(ent, "&amp;"))
            st = esc_buf_putc(b, '&');
        else if (esc_str_eq_c(ent, "&quot;"))
            st = esc_buf_putc(b, '"');
        else if (esc_str_eq_c(ent, "&apos;"))
            st = esc_buf_putc(b, '\'');
        else if (elen > 3 && s[i + 1] == '#') {
            char *end;
            unsigned long cp = (s[i + 2] == 'x' || s[i + 2] == 'X') ? strtoul(s + i + 3, &end, 16)
                                                                    : strtoul(s + i + 2, &end, 10);
            if (end != semi || cp > 0x10FFFF) {
                warn(p, (size_t)(s + i - p->s), "invalid character reference kept as text");
                st = esc_buf_append(b, s + i, elen);
            } else {
                if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
                    p->ev->repaired++;
                st = esc_utf8_put(b, (uint32_t)cp);
            }
        } else {
            warn(p, (size_t)(s + i - p->s), "unknown entity kept as text");
            if (!elen)
                elen = 1;
            st = esc_buf_append(b, s + i, elen);
        }
        if (st)
            return st;
        i += elen;
        run = i;
    }
    if ((st = esc_buf_append(b, s + run, n - run)))
        return st;
    /* repair invalid UTF-8 produced by raw bytes (entities always give valid UTF-8) */
    if (!esc_utf8_clean(b->ptr, b->len)) {
        size_t rep = 0;
        esc_buf fixed;
        esc_buf_init(&fixed, 0);
        st = esc_utf8_repair(&fixed, b->ptr, b->len, &rep);
        if (!st)
            *out = esc_arena_dup(p->arena, esc_buf_str(&fixed));
        esc_buf_fini(&fixed);
        if (st)
            return st;
        p->ev->repaired += rep ? 1 : 0;
    } else {
        *out = esc_arena_dup(p->arena, esc_buf_str(b));
    }
    return out->ptr ? ESC_OK : ESC_ELIMIT;
}

static esc_status add_kv(parser *p, esc_str name, esc_str raw, bool decoded) {
    if (!esc_interest_wants_field(p->interest, name))
        return ESC_OK;
    if (p->nkv == ESC_XML_MAX_FIELDS) {
        warn(p, (size_t)(raw.ptr - p->s), "too many data fields; extra ones dropped");
        return ESC_OK;
    }
    if (p->nkv == p->capkv) {
        size_t cap = p->capkv ? p->capkv * 2 : 32;
        esc_kv *kv = esc_arena_alloc(p->arena, cap * sizeof *kv);
        if (!kv)
            return ESC_ELIMIT;
        if (p->nkv)
            memcpy(kv, p->kv, p->nkv * sizeof *kv);
        p->kv = kv;
        p->capkv = cap;
    }
    esc_kv *e = &p->kv[p->nkv];
    esc_status st = decode(p, name.ptr, name.len, &e->name);
    if (!st && decoded)
        e->value = raw;
    else if (!st)
        st = decode(p, raw.ptr, raw.len, &e->value);
    if (!st)
        p->nkv++;
    return st;
}

/* One System element's text (attr empty) or attribute into p->sys, decoded; empty values are
 * left out. The name is the element's, or Element@Attribute. */
static esc_status add_sys(parser *p, esc_str elem, esc_str attr, esc_str raw, bool decoded) {
    if (!p->sys || !raw.len)
        return ESC_OK;
    if (p->nsys == ESC_XML_MAX_SYS) {
        warn(p, (size_t)(raw.ptr - p->s), "too many System elements; extra ones dropped");
        return ESC_OK;
    }
    esc_kv *e = &p->sys[p->nsys];
    e->name = elem;
    if (attr.len) {
        char *n = esc_arena_alloc(p->arena, elem.len + attr.len + 2);
        if (!n)
            return ESC_ELIMIT;
        memcpy(n, elem.ptr, elem.len);
        n[elem.len] = '@';
        memcpy(n + elem.len + 1, attr.ptr, attr.len);
        n[elem.len + 1 + attr.len] = 0;
        e->name = esc_str_make(n, elem.len + 1 + attr.len);
    }
    esc_status st = ESC_OK;
    if (decoded)
        e->value = raw;
    else
        st = decode(p, raw.ptr, raw.len, &e->value);
    if (!st && e->value.len)
        p->nsys++;
    return st;
}

/* Skip to just past `lit` (e.g. "-->"), or fail. */
static bool skip_past(parser *p, const char *lit) {
    size_t l = strlen(lit);
    if (p->i >= p->n)
        return false;
    const char *q = memmem(p->s + p->i, p->n - p->i, lit, l);
    if (!q)
        return false;
    p->i = (size_t)(q - p->s) + l;
    return true;
}

static esc_str local_name(esc_str name) {
    const char *colon = memchr(name.ptr, ':', name.len);
    if (colon) {
        size_t k = (size_t)(colon - name.ptr) + 1;
        name.ptr += k;
        name.len -= k;
    }
    return name;
}

typedef struct attr {
    esc_str name, value;
} attr;

#define MAX_ATTRS 16

/* Parses a start tag at p->i (just after '<'). Fills name, attrs; sets *empty for "/>". */
static esc_status start_tag(parser *p, esc_str *name, attr *attrs, size_t *nattrs, bool *empty) {
    size_t st0 = p->i;
    while (p->i < p->n && is_name_char(p->s[p->i]))
        p->i++;
    *name = esc_str_make(p->s + st0, p->i - st0);
    if (!name->len)
        return bad(p, st0, "malformed start tag");
    *name = local_name(*name);
    *nattrs = 0;
    *empty = false;
    for (;;) {
        while (p->i < p->n && is_ws(p->s[p->i]))
            p->i++;
        if (p->i >= p->n)
            return bad(p, st0, "unterminated start tag");
        char c = p->s[p->i];
        if (c == '>') {
            p->i++;
            return ESC_OK;
        }
        if (c == '/') {
            if (p->i + 1 < p->n && p->s[p->i + 1] == '>') {
                p->i += 2;
                *empty = true;
                return ESC_OK;
            }
            return bad(p, p->i, "malformed start tag");
        }
        size_t a0 = p->i;
        while (p->i < p->n && is_name_char(p->s[p->i]))
            p->i++;
        esc_str an = esc_str_make(p->s + a0, p->i - a0);
        while (p->i < p->n && is_ws(p->s[p->i]))
            p->i++;
        if (!an.len || p->i >= p->n || p->s[p->i] != '=')
            return bad(p, a0, "malformed attribute");
        p->i++;
        while (p->i < p->n && is_ws(p->s[p->i]))
            p->i++;
        if (p->i >= p->n || (p->s[p->i] != '\'' && p->s[p->i] != '"'))
            return bad(p, p->i, "attribute value not quoted");
        char q = p->s[p->i++];
        const char *end = memchr(p->s + p->i, q, p->n - p->i);
        if (!end)
            return bad(p, a0, "unterminated attribute value");
        if (*nattrs < MAX_ATTRS) {
            attrs[*nattrs].name = an;
            attrs[*nattrs].value = esc_str_make(p->s + p->i, (size_t)(end - (p->s + p->i)));
            (*nattrs)++;
        } else {
            warn(p, a0, "more than 16 attributes on an element; extra ones ignored");
        }
        p->i = (size_t)(end - p->s) + 1;
    }
}

static esc_str find_attr(const attr *a, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (esc_str_eq_c(a[i].name, name))
            return a[i].value;
    return ESC_STR_NULL;
}

/* Text content up to the next '<'; returns the raw span. */
static esc_status text_until_tag(parser *p, esc_str *raw) {
    size_t t0 = p->i;
    const char *lt = memchr(p->s + p->i, '<', p->n - p->i);
    if (!lt)
        return bad(p, t0, "unterminated element");
    p->i = (size_t)(lt - p->s);
    *raw = esc_str_make(p->s + t0, p->i - t0);
    return ESC_OK;
}

static esc_status parse_u32(parser *p, esc_str raw, uint32_t *out) {
    raw = esc_str_trim(raw);
    uint64_t v = 0;
    if (!raw.len || raw.len > 10)
        return bad(p, (size_t)(raw.ptr - p->s), "EventID is not a number");
    for (size_t i = 0; i < raw.len; i++) {
        if (raw.ptr[i] < '0' || raw.ptr[i] > '9')
            return bad(p, (size_t)(raw.ptr - p->s), "EventID is not a number");
        v = v * 10 + (uint64_t)(raw.ptr[i] - '0');
    }
    if (v > UINT32_MAX)
        return bad(p, (size_t)(raw.ptr - p->s), "EventID out of range");
    *out = (uint32_t)v;
    return ESC_OK;
}

/* The content of an element that holds a value: text, comments and CDATA sections up to the
 * next element or end tag (p->i is left at that '<'). The common case, one run of text, is
 * returned raw (*decoded false: entities still to resolve). Mixed content is decoded piece by
 * piece into the arena: text pieces have their entities resolved, CDATA is taken as is. */
static esc_status simple_value(parser *p, esc_str *value, bool *decoded) {
    esc_str raw;
    esc_status st = text_until_tag(p, &raw);
    *decoded = false;
    *value = raw;
    if (st || !((p->n - p->i >= 4 && memcmp(p->s + p->i, "<!--", 4) == 0) ||
                (p->n - p->i >= 9 && memcmp(p->s + p->i, "<![CDATA[", 9) == 0)))
        return st;
    esc_buf acc;
    esc_buf_init(&acc, 64 * 1024 * 1024);
    esc_str piece = raw;
    for (;;) {
        esc_str dec;
        if ((st = decode(p, piece.ptr, piece.len, &dec)) || (st = esc_buf_append_str(&acc, dec)))
            goto done;
        if (p->n - p->i >= 4 && memcmp(p->s + p->i, "<!--", 4) == 0) {
            size_t c0 = p->i;
            if (!skip_past(p, "-->")) {
                st = bad(p, c0, "unterminated comment");
                goto done;
            }
        } else if (p->n - p->i >= 9 && memcmp(p->s + p->i, "<![CDATA[", 9) == 0) {
            size_t c0 = p->i + 9;
            if (!skip_past(p, "]]>")) {
                st = bad(p, c0, "unterminated CDATA");
                goto done;
            }
            if ((st = esc_buf_append(&acc, p->s + c0, p->i - 3 - c0)))
                goto done;
        } else {
            break;
        }
        if ((st = text_until_tag(p, &piece)))
            goto done;
    }
    if (esc_utf8_clean(acc.ptr ? acc.ptr : "", acc.len)) {
        *value = esc_arena_dup(p->arena, esc_buf_str(&acc));
    } else {
        esc_buf fixed;
        esc_buf_init(&fixed, 0);
        if (!(st = esc_utf8_repair(&fixed, acc.ptr, acc.len, NULL)))
            *value = esc_arena_dup(p->arena, esc_buf_str(&fixed));
        esc_buf_fini(&fixed);
        p->ev->repaired++;
    }
    if (!st && !value->ptr)
        st = ESC_ELIMIT;
    *decoded = true;
done:
    esc_buf_fini(&acc);
    return st;
}

/* Called at p->i just after "</"; consumes the end tag, which must close `name`. */
static esc_status end_tag(parser *p, esc_str name) {
    size_t t0 = p->i;
    while (p->i < p->n && is_name_char(p->s[p->i]))
        p->i++;
    esc_str got = local_name(esc_str_make(p->s + t0, p->i - t0));
    while (p->i < p->n && is_ws(p->s[p->i]))
        p->i++;
    if (p->i >= p->n || p->s[p->i] != '>')
        return bad(p, t0, "unterminated end tag");
    if (!esc_str_eq(got, name))
        return bad(p, t0, "end tag does not match the open element");
    p->i++;
    return ESC_OK;
}

static esc_status element(parser *p, esc_str name, const attr *attrs, size_t nattrs, bool empty,
                          size_t tag_off);

/* Parse children until the end tag of the current element, `name`. */
static esc_status content(parser *p, esc_str open_name) {
    for (;;) {
        const char *lt = memchr(p->s + p->i, '<', p->n - p->i);
        if (!lt)
            return bad(p, p->i, "unterminated element");
        p->i = (size_t)(lt - p->s) + 1;
        if (p->i >= p->n)
            return bad(p, p->i, "unterminated element");
        char c = p->s[p->i];
        if (c == '/') {
            p->i++;
            return end_tag(p, open_name);
        }
        if (c == '!') {
            if (p->n - p->i >= 3 && memcmp(p->s + p->i, "!--", 3) == 0) {
                if (!skip_past(p, "-->"))
                    return bad(p, p->i, "unterminated comment");
            } else if (p->n - p->i >= 8 && memcmp(p->s + p->i, "![CDATA[", 8) == 0) {
                if (!skip_past(p, "]]>"))
                    return bad(p, p->i, "unterminated CDATA");
            } else {
                return bad(p, p->i, "unexpected markup");
            }
            continue;
        }
        if (c == '?') {
            if (!skip_past(p, "?>"))
                return bad(p, p->i, "unterminated processing instruction");
            continue;
        }
        size_t tag_off = p->i - 1;
        esc_str name;
        attr attrs[MAX_ATTRS];
        size_t nattrs;
        bool empty;
        esc_status st = start_tag(p, &name, attrs, &nattrs, &empty);
        if (!st)
            st = element(p, name, attrs, nattrs, empty, tag_off);
        if (st)
            return st;
    }
}

static esc_status element(parser *p, esc_str name, const attr *attrs, size_t nattrs, bool empty,
                          size_t tag_off) {
    if (p->depth >= ESC_XML_MAX_DEPTH)
        return bad(p, tag_off, "elements nested too deeply");
    ctx_kind parent = p->ctx[p->depth];
    ctx_kind self = CTX_OTHER;
    field_kind fk = F_NONE;
    esc_str data_name = ESC_STR_NULL;
    esc_status st;

    if (p->depth == 0) {
        if (!esc_str_eq_c(name, "Event"))
            return bad(p, tag_off, "root element is not <Event>");
        p->in_event = true;
    } else if (p->depth == 1) {
        if (esc_str_eq_c(name, "System"))
            self = CTX_SYSTEM;
        else if (esc_str_eq_c(name, "EventData"))
            self = CTX_EVENTDATA;
        else if (esc_str_eq_c(name, "UserData"))
            self = CTX_USERDATA;
    } else if (parent == CTX_SYSTEM && p->depth == 2) {
        for (size_t k = 0; p->sys && k < nattrs; k++)
            if ((st = add_sys(p, name, local_name(attrs[k].name), attrs[k].value, false)))
                return st;
        if (p->sys)
            fk = F_SYS;
        if (esc_str_eq_c(name, "Provider")) {
            esc_str v = find_attr(attrs, nattrs, "Name");
            if (v.ptr && (st = decode(p, v.ptr, v.len, &p->ev->provider)))
                return st;
        } else if (esc_str_eq_c(name, "TimeCreated")) {
            esc_str v = find_attr(attrs, nattrs, "SystemTime");
            int64_t t;
            if (v.ptr) {
                if (esc_time_parse_iso(esc_str_trim(v), &t)) {
                    p->ev->time_us = t;
                    p->ev->has_time = true;
                } else {
                    warn(p, (size_t)(v.ptr - p->s), "SystemTime is not a timestamp");
                }
            }
        } else if (esc_str_eq_c(name, "EventID")) {
            fk = F_EVENTID;
        } else if (esc_str_eq_c(name, "Channel")) {
            fk = F_CHANNEL;
        } else if (esc_str_eq_c(name, "Computer")) {
            fk = F_COMPUTER;
        } else if (esc_str_eq_c(name, "EventRecordID")) {
            fk = F_RECORDID;
        }
    } else if (parent == CTX_EVENTDATA && p->depth == 2) {
        if (esc_str_eq_c(name, "Data")) { /* classic events have Data without a Name */
            data_name = find_attr(attrs, nattrs, "Name");
            if (!data_name.ptr)
                data_name = esc_str_make(p->s + p->i, 0);
            fk = F_DATA;
        }
    } else if (parent == CTX_USERDATA) {
        self = CTX_USERDATA;
        data_name = name;
        fk = F_DATA; /* a leaf of UserData; containers have children and are skipped below */
    }

    if (empty) {
        if (fk == F_DATA)
            return add_kv(p, data_name, esc_str_make(p->s + p->i, 0), false);
        return ESC_OK;
    }

    if (fk != F_NONE) {
        esc_str raw;
        bool decoded;
        if ((st = simple_value(p, &raw, &decoded)))
            return st;
        /* a child element: this is a container, not a leaf */
        if (p->i + 1 < p->n && p->s[p->i + 1] != '/') {
            if (fk == F_DATA && parent == CTX_USERDATA)
                goto children;
            if (fk == F_DATA)
                return bad(p, p->i, "unexpected element inside <Data>");
            goto children;
        }
        p->i += 2;
        if ((st = end_tag(p, name)))
            return st;
        esc_str v = raw;
        if (parent == CTX_SYSTEM && (st = add_sys(p, name, ESC_STR_NULL, raw, decoded)))
            return st;
        switch (fk) {
        case F_EVENTID:
            if ((st = parse_u32(p, raw, &p->ev->event_id)))
                return st;
            p->ev->has_event_id = true;
            return ESC_OK;
        case F_CHANNEL:
            if (decoded)
                p->ev->channel = raw;
            return decoded ? ESC_OK : decode(p, raw.ptr, raw.len, &p->ev->channel);
        case F_COMPUTER:
            if (decoded)
                p->ev->computer = raw;
            return decoded ? ESC_OK : decode(p, raw.ptr, raw.len, &p->ev->computer);
        case F_RECORDID:
            if (!decoded && (st = decode(p, raw.ptr, raw.len, &v)))
                return st;
            p->ev->record_id = strtoull(v.ptr, NULL, 10);
            return ESC_OK;
        case F_DATA:
            return add_kv(p, data_name, raw, decoded);
        case F_SYS:
        case F_NONE:
            break;
        }
        return ESC_OK;
    }
children:
    p->depth++;
    p->ctx[p->depth] = self;
    st = content(p, name);
    p->depth--;
    return st;
}

esc_status esc_xml_event_parse(const char *text, size_t len, const esc_interest *interest,
                               esc_arena *arena, esc_event *ev, esc_error *err) {
    parser p = {.s = text, .n = len, .interest = interest, .arena = arena, .ev = ev, .err = err};
    esc_buf_init(&p.tmp, 64 * 1024 * 1024);
    memset(ev, 0, sizeof *ev);
    ev->kind = ESC_EV_WINDOWS;
    p.ctx[0] = CTX_OTHER;
    esc_status st;
    if (interest && (interest->everything || interest->system)) {
        p.sys = esc_arena_alloc(arena, ESC_XML_MAX_SYS * sizeof *p.sys);
        if (!p.sys) {
            st = ESC_ELIMIT;
            goto done;
        }
    }
    const char *lt = memchr(text, '<', len);
    while (lt && (size_t)(lt - text) + 1 < len && (lt[1] == '?' || lt[1] == '!')) {
        p.i = (size_t)(lt - text) + 1;
        if (!skip_past(&p, lt[1] == '?' ? "?>" : ">")) {
            lt = NULL;
            break;
        }
        lt = memchr(text + p.i, '<', len - p.i);
    }
    if (!lt) {
        st = bad(&p, 0, "no <Event> element");
        goto done;
    }
    p.i = (size_t)(lt - text) + 1;
    esc_str name;
    attr attrs[MAX_ATTRS];
    size_t nattrs;
    bool empty;
    if ((st = start_tag(&p, &name, attrs, &nattrs, &empty)))
        goto done;
    if ((st = element(&p, name, attrs, nattrs, empty, (size_t)(lt - text))))
        goto done;
    ev->data = p.kv;
    ev->ndata = p.nkv;
    ev->sys = p.sys;
    ev->nsys = p.nsys;
    if (p.warn.len) {
        ev->warning = p.warn;
        ev->warning_offset = p.warn_off;
    }
done:
    if (st == ESC_ELIMIT)
        st = esc_error_set(err, ESC_ELIMIT, "event too large for the per-event memory cap");
    else if (st == ESC_ENOMEM)
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
    esc_buf_fini(&p.tmp);
    return st;
}
