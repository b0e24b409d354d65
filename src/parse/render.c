/* Event rendering for `escudo dump`: XmlWinEventLog lines and escudo's JSON dump lines.
 *
 * Invariants: output is exactly one line (newlines, carriage returns and tabs inside values
 * are written as character references or JSON escapes); values are written byte for byte
 * otherwise (they are valid UTF-8 by the event contract). Times are UTC with microseconds.
 * An EVTX record read with esc_reader_opts.xml carries its own rendering (every System element
 * and attribute, EventData and UserData as written: parse/evtx), which esc_render_xml writes
 * as is. Deliberately not done, for other events: System fields an esc_event does not carry
 * (Level, Task, Keywords...), pretty-printing, RenderingInfo. */
#include "parse/render.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timeutil.h"

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
        snprintf(tmp, 8, "&#%u;", c);
        return tmp;
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

esc_status esc_render_time(int64_t time_us, esc_buf *out) {
    int64_t sec = esc_time_sec(time_us);
    int64_t frac = time_us - sec * ESC_US_PER_SEC;
    int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
    int64_t sod = sec - days * 86400;
    /* civil date from days since the epoch (H. Hinnant's algorithm) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    return esc_buf_printf(out,
                          "%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64
                          ":%02" PRId64 ".%06" PRId64 "Z",
                          y, m, d, sod / 3600, sod / 60 % 60, sod % 60, frac);
}

/* XML text or attribute value (attributes are quoted with '). */
static esc_status xml_esc(esc_buf *out, esc_str s) {
    esc_status st = esc_buf_reserve(out, s.len);
    if (st)
        return st;
    size_t run = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        char tmp[8];
        const char *rep = esc_xml_escape_byte(c, tmp);
        if (!rep)
            continue;
        if ((st = esc_buf_append(out, s.ptr + run, i - run)) || (st = esc_buf_append_c(out, rep)))
            return st;
        run = i + 1;
    }
    return esc_buf_append(out, s.ptr + run, s.len - run);
}

static esc_status xml_elem(esc_buf *out, const char *name, esc_str v) {
    esc_status st = esc_buf_printf(out, "<%s>", name);
    if (!st)
        st = xml_esc(out, v);
    if (!st)
        st = esc_buf_printf(out, "</%s>", name);
    return st;
}

esc_status esc_render_xml(const esc_event *ev, esc_buf *out) {
    if (ev->xml.len) /* the EVTX reader's rendering of the whole record */
        return esc_buf_append(out, ev->xml.ptr, ev->xml.len);
    esc_status st = esc_buf_append_c(
        out, "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>");
    if (!st && ev->provider.ptr) {
        if (!(st = esc_buf_append_c(out, "<Provider Name='")) && !(st = xml_esc(out, ev->provider)))
            st = esc_buf_append_c(out, "'/>");
    }
    if (!st && ev->has_event_id)
        st = esc_buf_printf(out, "<EventID>%" PRIu32 "</EventID>", ev->event_id);
    if (!st && ev->has_time) {
        if (!(st = esc_buf_append_c(out, "<TimeCreated SystemTime='")) &&
            !(st = esc_render_time(ev->time_us, out)))
            st = esc_buf_append_c(out, "'/>");
    }
    if (!st && ev->record_id)
        st = esc_buf_printf(out, "<EventRecordID>%" PRIu64 "</EventRecordID>", ev->record_id);
    if (!st && ev->channel.ptr)
        st = xml_elem(out, "Channel", ev->channel);
    if (!st && ev->computer.ptr)
        st = xml_elem(out, "Computer", ev->computer);
    if (!st)
        st = esc_buf_append_c(out, "</System>");
    if (!st && ev->ndata) {
        st = esc_buf_append_c(out, "<EventData>");
        for (size_t i = 0; i < ev->ndata && !st; i++) {
            const esc_kv *kv = &ev->data[i];
            if (kv->name.len) {
                if (!(st = esc_buf_append_c(out, "<Data Name='")) && !(st = xml_esc(out, kv->name)))
                    st = esc_buf_append_c(out, "'>");
            } else {
                st = esc_buf_append_c(out, "<Data>");
            }
            if (!st && !(st = xml_esc(out, kv->value)))
                st = esc_buf_append_c(out, "</Data>");
        }
        if (!st)
            st = esc_buf_append_c(out, "</EventData>");
    }
    if (!st)
        st = esc_buf_append_c(out, "</Event>");
    return st;
}

esc_status esc_render_json_str(esc_buf *out, esc_str s) {
    esc_status st = esc_buf_putc(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < s.len && !st; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if ((st = esc_buf_append(out, s.ptr + run, i - run)))
            break;
        switch (c) {
        case '"':
            st = esc_buf_append_c(out, "\\\"");
            break;
        case '\\':
            st = esc_buf_append_c(out, "\\\\");
            break;
        case '\n':
            st = esc_buf_append_c(out, "\\n");
            break;
        case '\r':
            st = esc_buf_append_c(out, "\\r");
            break;
        case '\t':
            st = esc_buf_append_c(out, "\\t");
            break;
        case '\b':
            st = esc_buf_append_c(out, "\\b");
            break;
        case '\f':
            st = esc_buf_append_c(out, "\\f");
            break;
        default:
            st = esc_buf_printf(out, "\\u%04x", c);
        }
        run = i + 1;
    }
    if (!st)
        st = esc_buf_append(out, s.ptr + run, s.len - run);
    if (!st)
        st = esc_buf_putc(out, '"');
    return st;
}

static esc_status json_key_str(esc_buf *out, const char *key, esc_str v) {
    esc_status st = esc_buf_printf(out, ",\"%s\":", key);
    return st ? st : esc_render_json_str(out, v);
}

/* "data":[["Name","v"],...]: order and duplicates kept. */
static esc_status data_pairs(const esc_event *ev, esc_buf *out) {
    esc_status st = esc_buf_append_c(out, ",\"data\":[");
    for (size_t i = 0; i < ev->ndata && !st; i++) {
        if (i && (st = esc_buf_putc(out, ',')))
            break;
        if ((st = esc_buf_putc(out, '[')) || (st = esc_render_json_str(out, ev->data[i].name)) ||
            (st = esc_buf_putc(out, ',')) || (st = esc_render_json_str(out, ev->data[i].value)))
            break;
        st = esc_buf_putc(out, ']');
    }
    if (!st)
        st = esc_buf_append_c(out, "]}");
    return st;
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
    esc_status st = esc_buf_append_c(out, ",\"data\":{");
    bool first = true;
    for (size_t i = 0; i < ev->ndata && !st; i++) {
        if (done[i])
            continue;
        size_t n = 1;
        for (size_t k = i + 1; k < ev->ndata; k++)
            n += same_name(ev->data[i].name, ev->data[k].name);
        if ((!first && (st = esc_buf_putc(out, ','))) ||
            (st = esc_render_json_str(out, ev->data[i].name)) ||
            (st = esc_buf_append_c(out, n > 1 ? ":[" : ":")))
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
        st = esc_buf_append_c(out, "}}");
    esc_free(done);
    return st;
}

static esc_status render_json(const esc_event *ev, bool object, esc_buf *out) {
    esc_status st = esc_buf_printf(out, "{\"escudo_dump\":1,\"kind\":\"%s\"", kind_name(ev->kind));
    if (!st && ev->provider.ptr)
        st = json_key_str(out, "provider", ev->provider);
    if (!st && ev->channel.ptr)
        st = json_key_str(out, "channel", ev->channel);
    if (!st && ev->computer.ptr)
        st = json_key_str(out, "computer", ev->computer);
    if (!st && ev->has_event_id)
        st = esc_buf_printf(out, ",\"event_id\":%" PRIu32, ev->event_id);
    if (!st && ev->record_id)
        st = esc_buf_printf(out, ",\"record_id\":%" PRIu64, ev->record_id);
    if (!st && ev->recovered)
        st = esc_buf_append_c(out, ",\"recovered\":true");
    if (!st && ev->has_time) {
        if (!(st = esc_buf_append_c(out, ",\"time\":\"")) &&
            !(st = esc_render_time(ev->time_us, out)))
            st = esc_buf_putc(out, '"');
    }
    if (!st)
        st = object ? data_object(ev, out) : data_pairs(ev, out);
    return st;
}

esc_status esc_render_json(const esc_event *ev, esc_buf *out) {
    return render_json(ev, false, out);
}

esc_status esc_render_json_object(const esc_event *ev, esc_buf *out) {
    return render_json(ev, true, out);
}
