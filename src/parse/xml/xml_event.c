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
 * attribute also goes to ev->sys (at most ESC_XML_MAX_SYS); when it asks for the parts of this
 * event (esc_interest_wants_parts), ev->parts are views of the inner text of the elements
 * esc_xml_part names (their end tags found as the content is read).
 * Cost: the whole text is checked once for valid UTF-8 and '&'; when it is clean, every value
 * (a span cut at ASCII delimiters, so itself valid UTF-8) is a view with no per-value check.
 * The two shapes most of an event is made of, <Data Name='n'>text</Data> in EventData and
 * <Name>text</Name> in System, are matched by bytes and read in one go (data_element,
 * system_leaf); anything else takes the general path, which reads those shapes the same way.
 * End tags are matched against the open element's name by bytes.
 * Not done: DTDs, namespaces beyond stripping a prefix, validation. */
#include "parse/xml/xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
    /* The whole text is valid UTF-8 with no NUL: so is every span of it that starts and ends
     * next to an ASCII delimiter (all the values, names and attributes decode() is given). */
    bool clean;
    bool plain;      /* clean, and no '&' anywhere: decode() is the identity */
    bool all_fields; /* the interest set wants every data field */
    bool want_parts; /* the interest set wants esc_event.parts */
    size_t close_lt; /* the '<' of the end tag content() read last */
} parser;

/* Per byte: 1 white space, 2 a byte that ends a name (white space too), 4 ':' (a name byte
 * that scan_name stops at, for the prefix), 0 another name byte. */
static const unsigned char byte_class[256] = {
    [' '] = 3, ['\t'] = 3, ['\r'] = 3, ['\n'] = 3, ['>'] = 2, ['/'] = 2,
    ['='] = 2, ['<'] = 2,  ['\''] = 2, ['"'] = 2,  [':'] = 4,
};

static inline bool is_ws(char c) {
    return byte_class[(unsigned char)c] & 1;
}

/* Index of the first byte from i on that is not a name byte or is ':', or n (or i when i > n). */
static inline size_t scan_name(const char *s, size_t i, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
#if defined(__SSE2__)
    /* every byte that ends a name is at most '>' (0x3e): only those are looked up */
    const __m128i top = _mm_set1_epi8(0x3e);
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, top), v));
        for (; m; m &= m - 1) {
            size_t k = i + (size_t)__builtin_ctz(m);
            if (byte_class[u[k]])
                return k;
        }
    }
#endif
    for (; i + 4 <= n; i += 4) {
        if (byte_class[u[i]])
            return i;
        if (byte_class[u[i + 1]])
            return i + 1;
        if (byte_class[u[i + 2]])
            return i + 2;
        if (byte_class[u[i + 3]])
            return i + 3;
    }
    while (i < n && !byte_class[u[i]])
        i++;
    return i;
}

/* Index of the first name-ending byte from i on (':' included in the name), or n. */
static inline size_t name_end(const char *s, size_t i, size_t n) {
    i = scan_name(s, i, n);
    while (i < n && s[i] == ':')
        i = scan_name(s, i + 1, n);
    return i;
}

/* Index of the first byte c from i (<= n) on, or n. Values are mostly short: the first 32
 * bytes are looked at inline, longer ones by memchr. */
static inline size_t find_byte(const char *s, size_t i, size_t n, char c) {
#if defined(__SSE2__)
    const __m128i cc = _mm_set1_epi8(c);
    for (int k = 0; k < 2 && i + 16 <= n; k++, i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cc));
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
#endif
    const char *q = i < n ? memchr(s + i, c, n - i) : NULL;
    return q ? (size_t)(q - s) : n;
}

/* a[0..l) == b[0..l), for short strings (element names) without a call. */
static inline bool same_bytes(const char *a, const char *b, size_t l) {
    for (; l >= 8; a += 8, b += 8, l -= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return false;
    }
    if (l >= 4) {
        uint32_t x0, y0, x1, y1;
        memcpy(&x0, a, 4);
        memcpy(&y0, b, 4);
        memcpy(&x1, a + l - 4, 4);
        memcpy(&y1, b + l - 4, 4);
        return x0 == y0 && x1 == y1;
    }
    for (size_t k = 0; k < l; k++)
        if (a[k] != b[k])
            return false;
    return true;
}

/* name == the literal lit, in a few loads */
#define NAME_IS(name, lit)                                                                         \
    ((name).len == sizeof(lit) - 1 && same_bytes((name).ptr, lit, sizeof(lit) - 1))

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
static esc_status decode_slow(parser *p, const char *s, size_t n, esc_str *out) {
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

/* decode_slow, skipping the checks the whole text has passed (s is a span of p->s cut at
 * ASCII delimiters). */
static inline esc_status decode(parser *p, const char *s, size_t n, esc_str *out) {
    if (p->plain || (p->clean && !memchr(s, '&', n))) {
        *out = esc_str_make(s, n);
        return ESC_OK;
    }
    return decode_slow(p, s, n, out);
}

static esc_status add_kv(parser *p, esc_str name, esc_str raw, bool decoded) {
    if (!p->all_fields && !esc_interest_wants_field(p->interest, name))
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
    for (size_t k = 0; k < name.len; k++)
        if (name.ptr[k] == ':')
            return esc_str_make(name.ptr + k + 1, name.len - k - 1);
    return name;
}

typedef struct attr {
    esc_str name, value;
} attr;

#define MAX_ATTRS 16

/* A start tag as read. */
typedef struct tag {
    esc_str name; /* the element's local name (prefix stripped) */
    bool colon;   /* that name still holds a ':', so its end tag is not matched by bytes alone */
    bool empty;   /* "/>" */
    size_t off;   /* offset of its '<' */
    size_t nattrs;
    attr attrs[MAX_ATTRS]; /* raw names and values */
} tag;

/* Parses a start tag at p->i (just after '<') into t (all but t->off). */
static esc_status start_tag(parser *p, tag *t) {
    const char *s = p->s;
    size_t n = p->n, st0 = p->i, l0 = st0;
    size_t i = scan_name(s, st0, n);
    bool colon = false;
    if (i < n && s[i] == ':') { /* a prefix: the local name starts after the first ':' */
        l0 = i + 1;
        i = scan_name(s, l0, n);
        for (; i < n && s[i] == ':'; i = scan_name(s, i + 1, n))
            colon = true;
    }
    if (i == st0)
        return bad(p, st0, "malformed start tag");
    t->name = esc_str_make(s + l0, i - l0);
    t->colon = colon;
    t->nattrs = 0;
    t->empty = false;
    for (;;) {
        while (i < n && is_ws(s[i]))
            i++;
        if (i >= n)
            return bad(p, st0, "unterminated start tag");
        char c = s[i];
        if (c == '>') {
            p->i = i + 1;
            return ESC_OK;
        }
        if (c == '/') {
            if (i + 1 < n && s[i + 1] == '>') {
                p->i = i + 2;
                t->empty = true;
                return ESC_OK;
            }
            return bad(p, i, "malformed start tag");
        }
        size_t a0 = i;
        i = name_end(s, i, n);
        esc_str an = esc_str_make(s + a0, i - a0);
        while (i < n && is_ws(s[i]))
            i++;
        if (!an.len || i >= n || s[i] != '=')
            return bad(p, a0, "malformed attribute");
        i++;
        while (i < n && is_ws(s[i]))
            i++;
        if (i >= n || (s[i] != '\'' && s[i] != '"'))
            return bad(p, i, "attribute value not quoted");
        char q = s[i++];
        size_t end = find_byte(s, i, n, q);
        if (end == n)
            return bad(p, a0, "unterminated attribute value");
        if (t->nattrs < MAX_ATTRS) {
            t->attrs[t->nattrs].name = an;
            t->attrs[t->nattrs].value = esc_str_make(s + i, end - i);
            t->nattrs++;
        } else {
            warn(p, a0, "more than 16 attributes on an element; extra ones ignored");
        }
        i = end + 1;
    }
}

#define find_attr(t, lit) find_attr_n(t, lit, sizeof(lit) - 1)
static inline esc_str find_attr_n(const tag *t, const char *name, size_t len) {
    for (size_t i = 0; i < t->nattrs; i++)
        if (t->attrs[i].name.len == len && same_bytes(t->attrs[i].name.ptr, name, len))
            return t->attrs[i].value;
    return ESC_STR_NULL;
}

/* Text content up to the next '<'; returns the raw span. */
static inline esc_status text_until_tag(parser *p, esc_str *raw) {
    size_t t0 = p->i;
    size_t lt = find_byte(p->s, t0, p->n, '<');
    if (lt == p->n)
        return bad(p, t0, "unterminated element");
    p->i = lt;
    *raw = esc_str_make(p->s + t0, lt - t0);
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
    if (st || p->n - p->i < 4 || p->s[p->i + 1] != '!' ||
        !(memcmp(p->s + p->i, "<!--", 4) == 0 ||
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

/* Called at p->i just after "</"; consumes the end tag, which must close `name` (`colon`: as
 * in struct tag). The common case, the very name and '>', is matched by bytes: the scan below
 * would read the same name and find it equal. */
static esc_status end_tag(parser *p, esc_str name, bool colon) {
    size_t t0 = p->i;
    if (t0 >= p->n) /* element() steps over "</" unchecked: the offset is its '<' */
        return bad(p, t0 - 2, "unterminated end tag");
    if (!colon && p->n - t0 > name.len && p->s[t0 + name.len] == '>' &&
        same_bytes(p->s + t0, name.ptr, name.len)) {
        p->i = t0 + name.len + 1;
        return ESC_OK;
    }
    p->i = name_end(p->s, t0, p->n);
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

static esc_status element(parser *p, const tag *t);

/* strtoull(v.ptr, NULL, 10) where the byte after v is no digit ('<' in the text, or the NUL
 * after an arena copy): plain digits, the common case, are read here. */
static uint64_t parse_record_id(esc_str v) {
    if (v.len && v.len <= 19) { /* 19 digits cannot overflow */
        uint64_t x = 0;
        size_t k = 0;
        for (; k < v.len && v.ptr[k] >= '0' && v.ptr[k] <= '9'; k++)
            x = x * 10 + (uint64_t)(v.ptr[k] - '0');
        if (k == v.len)
            return x;
    }
    return strtoull(v.ptr, NULL, 10);
}

/* A leaf's value, its end tag read: into ev->sys when a System child, then where its kind
 * (fk) says. */
static esc_status leaf_value(parser *p, field_kind fk, ctx_kind parent, esc_str name,
                             esc_str data_name, esc_str raw, bool decoded) {
    esc_status st;
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
        p->ev->record_id = parse_record_id(v);
        return ESC_OK;
    case F_DATA:
        return add_kv(p, data_name, raw, decoded);
    case F_SYS:
    case F_NONE:
        break;
    }
    return ESC_OK;
}

/* The field a System child holds by its name: the event's own four, else other (F_SYS when
 * the System fields are kept, F_NONE when not). */
static inline field_kind system_kind(esc_str name, field_kind other) {
    if (NAME_IS(name, "EventID"))
        return F_EVENTID;
    if (NAME_IS(name, "Channel"))
        return F_CHANNEL;
    if (NAME_IS(name, "Computer"))
        return F_COMPUTER;
    if (NAME_IS(name, "EventRecordID"))
        return F_RECORDID;
    return other;
}

/* <Name>text</Name> at lt (a '<'), a System child with no attribute and a value: the steps
 * start_tag, element and end_tag take on exactly these bytes (Provider and TimeCreated read
 * nothing without attributes). False, with nothing consumed, for anything else, and for an
 * element that element() would not read as a value. */
static inline bool system_leaf(parser *p, size_t lt, esc_status *st) {
    const char *s = p->s;
    size_t n = p->n, n0 = lt + 1;
    size_t ne = scan_name(s, n0, n);
    if (ne == n0 || ne >= n || s[ne] != '>' || s[n0] == '!' || s[n0] == '?')
        return false;
    esc_str name = esc_str_make(s + n0, ne - n0);
    field_kind fk = system_kind(name, p->sys ? F_SYS : F_NONE);
    if (fk == F_NONE)
        return false;
    size_t te = find_byte(s, ne + 1, n, '<'), l = name.len;
    if (te == n || n - te < l + 3 || s[te + 1] != '/' || s[te + 2 + l] != '>' ||
        !same_bytes(s + te + 2, name.ptr, l))
        return false;
    p->i = te + 3 + l;
    *st = leaf_value(p, fk, CTX_SYSTEM, name, ESC_STR_NULL, esc_str_make(s + ne + 1, te - (ne + 1)),
                     false);
    return true;
}

/* <Data Name='n'>text</Data> at lt (a '<'), the usual child of EventData, read in one go: the
 * steps start_tag, element and end_tag take on exactly these bytes, without their generality.
 * False, with nothing consumed, for anything else. */
static inline bool data_element(parser *p, size_t lt, esc_status *st) {
    const char *s = p->s;
    size_t n = p->n;
    if (n - lt < 12 || !same_bytes(s + lt, "<Data Name=", 11) ||
        (s[lt + 11] != '\'' && s[lt + 11] != '"'))
        return false;
    size_t v0 = lt + 12, ve = find_byte(s, v0, n, s[lt + 11]);
    if (ve + 1 >= n || s[ve + 1] != '>')
        return false;
    size_t t0 = ve + 2, te = find_byte(s, t0, n, '<');
    if (n - te < 7 || !same_bytes(s + te, "</Data>", 7))
        return false;
    p->i = te + 7;
    *st = add_kv(p, esc_str_make(s + v0, ve - v0), esc_str_make(s + t0, te - t0), false);
    return true;
}

/* Parse children until the end tag of the current element, `open`. */
static esc_status content(parser *p, const tag *open) {
    bool event_data = p->depth == 2 && p->ctx[2] == CTX_EVENTDATA;
    bool system = p->depth == 2 && p->ctx[2] == CTX_SYSTEM;
    for (;;) {
        size_t lt = p->i;
        if (lt >= p->n || p->s[lt] != '<') {
            lt = find_byte(p->s, p->i, p->n, '<');
            if (lt == p->n)
                return bad(p, p->i, "unterminated element");
        }
        esc_status dst;
        if ((event_data && data_element(p, lt, &dst)) || (system && system_leaf(p, lt, &dst))) {
            if (dst)
                return dst;
            continue;
        }
        p->i = lt + 1;
        if (p->i >= p->n)
            return bad(p, p->i, "unterminated element");
        char c = p->s[p->i];
        if (c == '/') {
            p->i++;
            p->close_lt = lt;
            return end_tag(p, open->name, open->colon);
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
        tag t;
        t.off = lt;
        esc_status st = start_tag(p, &t);
        if (!st)
            st = element(p, &t);
        if (st)
            return st;
    }
}

/* The esc_xml_part an element named name at depth (1: a child of <Event>) under parent is, or
 * -1. */
static int part_of(esc_str name, int depth, ctx_kind parent) {
    if (depth == 2 && parent == CTX_USERDATA)
        return esc_str_eq_c(name, esc_xml_part_names[ESC_XML_LOGFILECLEARED])
                   ? ESC_XML_LOGFILECLEARED
                   : -1;
    for (int k = 0; depth == 1 && k < ESC_XML_LOGFILECLEARED; k++)
        if (esc_str_eq_c(name, esc_xml_part_names[k]))
            return k;
    return -1;
}

static esc_status element(parser *p, const tag *t) {
    if (p->depth >= ESC_XML_MAX_DEPTH)
        return bad(p, t->off, "elements nested too deeply");
    esc_str name = t->name;
    ctx_kind parent = p->ctx[p->depth];
    ctx_kind self = CTX_OTHER;
    size_t body = p->i; /* just past the start tag */
    field_kind fk = F_NONE;
    esc_str data_name = ESC_STR_NULL;
    esc_status st;

    if (p->depth == 0) {
        if (!NAME_IS(name, "Event"))
            return bad(p, t->off, "root element is not <Event>");
        p->in_event = true;
    } else if (p->depth == 1) {
        if (NAME_IS(name, "System"))
            self = CTX_SYSTEM;
        else if (NAME_IS(name, "EventData"))
            self = CTX_EVENTDATA;
        else if (NAME_IS(name, "UserData"))
            self = CTX_USERDATA;
    } else if (parent == CTX_SYSTEM && p->depth == 2) {
        for (size_t k = 0; p->sys && k < t->nattrs; k++)
            if ((st = add_sys(p, name, local_name(t->attrs[k].name), t->attrs[k].value, false)))
                return st;
        if (p->sys)
            fk = F_SYS;
        if (NAME_IS(name, "Provider")) {
            esc_str v = find_attr(t, "Name");
            if (v.ptr && (st = decode(p, v.ptr, v.len, &p->ev->provider)))
                return st;
        } else if (NAME_IS(name, "TimeCreated")) {
            esc_str v = find_attr(t, "SystemTime");
            int64_t tm;
            if (v.ptr) {
                if (esc_time_parse_iso(esc_str_trim(v), &tm)) {
                    p->ev->time_us = tm;
                    p->ev->has_time = true;
                } else {
                    warn(p, (size_t)(v.ptr - p->s), "SystemTime is not a timestamp");
                }
            }
        } else {
            fk = system_kind(name, fk);
        }
    } else if (parent == CTX_EVENTDATA && p->depth == 2) {
        if (NAME_IS(name, "Data")) { /* classic events have Data without a Name */
            data_name = find_attr(t, "Name");
            if (!data_name.ptr)
                data_name = esc_str_make(p->s + p->i, 0);
            fk = F_DATA;
        }
    } else if (parent == CTX_USERDATA) {
        self = CTX_USERDATA;
        data_name = name;
        fk = F_DATA; /* a leaf of UserData; containers have children and are skipped below */
    }

    if (t->empty) {
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
        if ((st = end_tag(p, name, t->colon)))
            return st;
        return leaf_value(p, fk, parent, name, data_name, raw, decoded);
    }
children:;
    int part = p->want_parts && p->depth <= 2 ? part_of(name, p->depth, parent) : -1;
    p->depth++;
    p->ctx[p->depth] = self;
    st = content(p, t);
    p->depth--;
    if (!st && part >= 0 && p->close_lt > body)
        p->ev->parts[part] = esc_str_make(p->s + body, p->close_lt - body);
    return st;
}

esc_status esc_xml_event_parse(const char *text, size_t len, const esc_interest *interest,
                               esc_arena *arena, esc_event *ev, esc_error *err) {
    parser p = {.s = text, .n = len, .interest = interest, .arena = arena, .ev = ev, .err = err};
    esc_buf_init(&p.tmp, 64 * 1024 * 1024);
    memset(ev, 0, sizeof *ev);
    ev->kind = ESC_EV_WINDOWS;
    p.ctx[0] = CTX_OTHER;
    p.clean = esc_utf8_clean(text, len);
    p.plain = p.clean && !memchr(text, '&', len);
    p.all_fields = !interest || interest->everything || !interest->fields;
    p.want_parts = interest && interest->parts;
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
    tag t;
    t.off = (size_t)(lt - text);
    if ((st = start_tag(&p, &t)))
        goto done;
    if ((st = element(&p, &t)))
        goto done;
    if (p.want_parts && !esc_interest_wants_parts(interest, ev))
        memset(ev->parts, 0, sizeof ev->parts);
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
