/* Event rendering for `escudo dump`: XmlWinEventLog lines and escudo's JSON dump lines.
 *
 * Invariants: output is exactly one line (newlines, carriage returns and tabs inside values
 * are written as character references or JSON escapes); values are written byte for byte
 * otherwise (they are valid UTF-8 by the event contract). Times are UTC with microseconds.
 * An EVTX record read with esc_reader_opts.xml carries its own rendering (every System element
 * and attribute, EventData and UserData as written: parse/evtx), which esc_render_xml writes
 * as is. Hot path: no printf (numbers and times by core/fmt), strings copied a run at a time
 * between the bytes that need escaping (esc_fmt_json_scan / esc_fmt_xml_scan), the buffer's
 * room checked inline. Deliberately not done, for other events: System fields an esc_event does not
 * carry (Level, Task, Keywords...), pretty-printing, RenderingInfo. */
#include "parse/render.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fmt.h"
#include "core/timeutil.h"

/* "&#N;" for the control characters, as snprintf("&#%u;") wrote them. */
static const char CTL_REF[32][6] = {"&#0;",  "&#1;",  "&#2;",  "&#3;",  "&#4;",  "&#5;",  "&#6;",
                                    "&#7;",  "&#8;",  "&#9;",  "&#10;", "&#11;", "&#12;", "&#13;",
                                    "&#14;", "&#15;", "&#16;", "&#17;", "&#18;", "&#19;", "&#20;",
                                    "&#21;", "&#22;", "&#23;", "&#24;", "&#25;", "&#26;", "&#27;",
                                    "&#28;", "&#29;", "&#30;", "&#31;"};

const char *esc_xml_escape_byte(unsigned char c, char tmp[8]) {
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '\'':
        return "&apos;";
    case '"':
        return "&quot;";
    default:
        if (c >= 0x20)
            return NULL;
        (void)tmp; /* kept for callers; the references are a table now */
        return CTL_REF[c];
    }
}

static const char *kind_name(esc_event_kind k) {
    switch (k) {
    case ESC_EV_WINDOWS:
        return "windows";
    case ESC_EV_CROWDSTRIKE:
        return "crowdstrike";
    case ESC_EV_AIDMASTER:
        return "aidmaster";
    default:
        return "other";
    }
}

/* The printf form, for years outside 0..9999 (never in real data). */
static esc_status render_time_slow(int64_t time_us, esc_buf *out) {
    int64_t sec = esc_time_sec(time_us);
    int64_t frac = time_us - sec * ESC_US_PER_SEC;
    int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
    int64_t sod = sec - days * 86400;
    int64_t y;
    int m, d;
    esc_time_civil(days, &y, &m, &d);
    return esc_buf_printf(out,
                          "%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64
                          ":%02" PRId64 ".%06" PRId64 "Z",
                          y, (int64_t)m, (int64_t)d, sod / 3600, sod / 60 % 60, sod % 60, frac);
}

esc_status esc_render_time(int64_t time_us, esc_buf *out) {
    int64_t sec = esc_time_sec(time_us);
    int64_t frac = time_us - sec * ESC_US_PER_SEC;
    esc_status st = esc_buf_reserve(out, 32);
    if (st)
        return st;
    char *o = esc_buf_end(out);
    size_t n = esc_fmt_datetime(o, sec);
    if (!n || frac < 0 || frac >= ESC_US_PER_SEC)
        return render_time_slow(time_us, out);
    o[n++] = '.';
    n += esc_fmt_u64(o + n, (uint64_t)frac, 6);
    o[n++] = 'Z';
    esc_buf_commit(out, n);
    return ESC_OK;
}

/* Append a decimal number. */
static esc_status put_u64(esc_buf *out, uint64_t v) {
    esc_status st = esc_buf_reserve(out, ESC_FMT_MAX);
    if (!st)
        esc_buf_commit(out, esc_fmt_u64(esc_buf_end(out), v, 0));
    return st;
}

#define APPEND_LIT(out, lit) esc_buf_append((out), (lit), sizeof(lit) - 1)

/* XML text or attribute value (attributes are quoted with '). */
esc_status esc_render_xml_str(esc_buf *out, esc_str s) {
    esc_status st = esc_buf_reserve(out, s.len);
    size_t i = 0;
    while (!st) {
        size_t k = i + esc_fmt_xml_scan(s.ptr + i, s.len - i);
        if ((st = esc_buf_append(out, s.ptr + i, k - i)) || k == s.len)
            break;
        char tmp[8];
        st = esc_buf_append_c(out, esc_xml_escape_byte((unsigned char)s.ptr[k], tmp));
        i = k + 1;
    }
    return st;
}

static esc_status xml_elem(esc_buf *out, const char *name, esc_str v) {
    size_t n = strlen(name);
    esc_status st;
    if ((st = esc_buf_putc(out, '<')) || (st = esc_buf_append(out, name, n)) ||
        (st = esc_buf_putc(out, '>')) || (st = esc_render_xml_str(out, v)) ||
        (st = APPEND_LIT(out, "</")) || (st = esc_buf_append(out, name, n)))
        return st;
    return esc_buf_putc(out, '>');
}

esc_status esc_render_xml(const esc_event *ev, esc_buf *out) {
    if (ev->xml.len) /* the EVTX reader's rendering of the whole record */
        return esc_buf_append(out, ev->xml.ptr, ev->xml.len);
    esc_status st = APPEND_LIT(
        out, "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>");
    if (!st && ev->provider.ptr) {
        if (!(st = APPEND_LIT(out, "<Provider Name='")) &&
            !(st = esc_render_xml_str(out, ev->provider)))
            st = APPEND_LIT(out, "'/>");
    }
    if (!st && ev->has_event_id && !(st = APPEND_LIT(out, "<EventID>")) &&
        !(st = put_u64(out, ev->event_id)))
        st = APPEND_LIT(out, "</EventID>");
    if (!st && ev->has_time) {
        if (!(st = APPEND_LIT(out, "<TimeCreated SystemTime='")) &&
            !(st = esc_render_time(ev->time_us, out)))
            st = APPEND_LIT(out, "'/>");
    }
    if (!st && ev->record_id && !(st = APPEND_LIT(out, "<EventRecordID>")) &&
        !(st = put_u64(out, ev->record_id)))
        st = APPEND_LIT(out, "</EventRecordID>");
    if (!st && ev->channel.ptr)
        st = xml_elem(out, "Channel", ev->channel);
    if (!st && ev->computer.ptr)
        st = xml_elem(out, "Computer", ev->computer);
    if (!st)
        st = APPEND_LIT(out, "</System>");
    if (!st && ev->ndata) {
        st = APPEND_LIT(out, "<EventData>");
        for (size_t i = 0; i < ev->ndata && !st; i++) {
            const esc_kv *kv = &ev->data[i];
            if (kv->name.len) {
                if (!(st = APPEND_LIT(out, "<Data Name='")) &&
                    !(st = esc_render_xml_str(out, kv->name)))
                    st = APPEND_LIT(out, "'>");
            } else {
                st = APPEND_LIT(out, "<Data>");
            }
            if (!st && !(st = esc_render_xml_str(out, kv->value)))
                st = APPEND_LIT(out, "</Data>");
        }
        if (!st)
            st = APPEND_LIT(out, "</EventData>");
    }
    if (!st)
        st = APPEND_LIT(out, "</Event>");
    return st;
}

/* A JSON string: the room for the plain case (s and two quotes) is reserved once, runs between
 * bytes that need escaping are copied whole; an escape reserves what the rest could need. */
esc_status esc_render_json_str(esc_buf *out, esc_str s) {
    return esc_fmt_json_str(out, s.ptr, s.len);
}

/* ,"key": then the string; key is a literal without anything to escape. */
static esc_status json_key_str(esc_buf *out, const char *key, size_t keylen, esc_str v) {
    esc_status st = esc_buf_reserve(out, keylen + 4);
    if (st)
        return st;
    char *o = esc_buf_end(out);
    o[0] = ',';
    o[1] = '"';
    memcpy(o + 2, key, keylen);
    o[2 + keylen] = '"';
    o[3 + keylen] = ':';
    esc_buf_commit(out, keylen + 4);
    return esc_render_json_str(out, v);
}

/* [["Name","value"],...] of n pairs, after the literal head (a key and its '['). */
static esc_status kv_pairs(esc_buf *out, const char *head, size_t hlen, const esc_kv *kv,
                           size_t n) {
    esc_status st = esc_buf_append(out, head, hlen);
    for (size_t i = 0; i < n && !st; i++) {
        if (i && (st = esc_buf_putc(out, ',')))
            break;
        if ((st = esc_buf_putc(out, '[')) || (st = esc_render_json_str(out, kv[i].name)) ||
            (st = esc_buf_putc(out, ',')) || (st = esc_render_json_str(out, kv[i].value)))
            break;
        st = esc_buf_putc(out, ']');
    }
    return st ? st : esc_buf_putc(out, ']');
}

#define KV_PAIRS(out, head, kv, n) kv_pairs((out), (head), sizeof(head) - 1, (kv), (n))

/* "data":[["Name","v"],...]: order and duplicates kept. */
static esc_status data_pairs(const esc_event *ev, esc_buf *out) {
    esc_status st = KV_PAIRS(out, ",\"data\":[", ev->data, ev->ndata);
    return st ? st : esc_buf_putc(out, '}');
}

static bool same_name(esc_str a, esc_str b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* "data":{"Name":"v","Dup":["v1","v2"],...}: keys in the order they first occur, a name that
 * occurs more than once as an array of its values in order. Quadratic in the number of fields
 * of one event (each name is compared with the ones after it). */
static esc_status data_object(const esc_event *ev, esc_buf *out) {
    bool *done = ev->ndata ? esc_calloc(ev->ndata, sizeof *done) : NULL;
    if (ev->ndata && !done)
        return ESC_ENOMEM;
    esc_status st = APPEND_LIT(out, ",\"data\":{");
    bool first = true;
    for (size_t i = 0; i < ev->ndata && !st; i++) {
        if (done[i])
            continue;
        size_t n = 1;
        for (size_t k = i + 1; k < ev->ndata; k++)
            n += same_name(ev->data[i].name, ev->data[k].name);
        if ((!first && (st = esc_buf_putc(out, ','))) ||
            (st = esc_render_json_str(out, ev->data[i].name)) ||
            (st = esc_buf_append(out, ":[", n > 1 ? 2 : 1)))
            break;
        first = false;
        for (size_t k = i, m = 0; k < ev->ndata && !st; k++) {
            if (k > i && (done[k] || !same_name(ev->data[i].name, ev->data[k].name)))
                continue;
            done[k] = true;
            if (m++ > 0 && (st = esc_buf_putc(out, ',')))
                break;
            st = esc_render_json_str(out, ev->data[k].value);
        }
        if (!st && n > 1)
            st = esc_buf_putc(out, ']');
    }
    if (!st)
        st = APPEND_LIT(out, "}}");
    esc_free(done);
    return st;
}

static esc_status render_json(const esc_event *ev, bool object, esc_buf *out) {
    const char *kind = kind_name(ev->kind);
    esc_status st;
    if ((st = APPEND_LIT(out, "{\"escudo_dump\":1,\"kind\":\"")) ||
        (st = esc_buf_append(out, kind, strlen(kind))) || (st = esc_buf_putc(out, '"')))
        return st;
    if (ev->provider.ptr && (st = json_key_str(out, "provider", 8, ev->provider)))
        return st;
    if (ev->channel.ptr && (st = json_key_str(out, "channel", 7, ev->channel)))
        return st;
    if (ev->computer.ptr && (st = json_key_str(out, "computer", 8, ev->computer)))
        return st;
    if (ev->has_event_id &&
        ((st = APPEND_LIT(out, ",\"event_id\":")) || (st = put_u64(out, ev->event_id))))
        return st;
    if (ev->record_id &&
        ((st = APPEND_LIT(out, ",\"record_id\":")) || (st = put_u64(out, ev->record_id))))
        return st;
    if (ev->recovered && (st = APPEND_LIT(out, ",\"recovered\":true")))
        return st;
    if (ev->has_time && ((st = APPEND_LIT(out, ",\"time\":\"")) ||
                         (st = esc_render_time(ev->time_us, out)) || (st = esc_buf_putc(out, '"'))))
        return st;
    /* System as the readers give it (event.h), so that a dump read back is the event again */
    if (ev->nsys && (st = KV_PAIRS(out, ",\"system\":[", ev->sys, ev->nsys)))
        return st;
    return object ? data_object(ev, out) : data_pairs(ev, out);
}

esc_status esc_render_json(const esc_event *ev, esc_buf *out) {
    return render_json(ev, false, out);
}

esc_status esc_render_json_object(const esc_event *ev, esc_buf *out) {
    return render_json(ev, true, out);
}
