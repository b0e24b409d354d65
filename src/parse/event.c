/* Raw event accessors and the interest-set checks shared by all readers. */
#include "parse/event.h"

#include <string.h>

const char *const esc_xml_part_names[ESC_XML_NPARTS] = {"System", "EventData", "UserData",
                                                        "RenderingInfo", "LogFileCleared"};

esc_str esc_event_get(const esc_event *ev, const char *name) {
    esc_str n = esc_str_c(name);
    for (size_t i = ev->ndata; i > 0; i--)
        if (esc_str_eq(ev->data[i - 1].name, n))
            return ev->data[i - 1].value;
    return ESC_STR_NULL;
}

bool esc_interest_wants_windows(const esc_interest *in, esc_str provider, uint32_t event_id) {
    if (!in || in->everything)
        return true;
    for (size_t i = 0; i < in->nwin; i++)
        if (in->win[i].event_id == event_id &&
            (!in->win[i].provider || esc_str_ieq_c(provider, in->win[i].provider)))
            return true;
    return false;
}

bool esc_interest_wants_code(const esc_interest *in, uint32_t event_id) {
    if (!in || in->everything)
        return true;
    for (size_t i = 0; i < in->nwin; i++)
        if (in->win[i].event_id == event_id)
            return true;
    return false;
}

bool esc_interest_wants_parts(const esc_interest *in, const esc_event *ev) {
    return in && in->parts && (!in->parts_of || in->parts_of(in->parts_ctx, ev));
}

bool esc_interest_wants_field(const esc_interest *in, esc_str name) {
    if (!in || in->everything || !in->fields)
        return true;
    /* the first byte before the whole name (a strlen per listed name and field was a twentieth
     * of a Kafka worker's CPU) */
    int c0 = name.len ? (unsigned char)name.ptr[0] : 0;
    for (const char *const *f = in->fields; *f; f++)
        if ((unsigned char)(*f)[0] == c0 && esc_str_eq_c(name, *f))
            return true;
    return false;
}

bool esc_interest_text_may_match(const esc_interest *in, const char *text, size_t len) {
    if (!in || in->everything)
        return true;
    esc_str hay = esc_str_make(text, len);
    for (size_t c = 0; c < in->nclauses; c++) {
        const esc_literal_clause *cl = &in->clause[c];
        bool hit = false;
        for (size_t i = 0; i < cl->nlit && !hit; i++)
            hit = esc_str_ifind(hay, esc_str_c(cl->lit[i])) >= 0;
        if (!hit)
            return false;
    }
    return true;
}

/* Case-insensitive search that skips '"' in the haystack: a mapping may delete quotes
 * (CrowdStrike's process in profile splunk), and literals never contain one, so matching the
 * value with its quotes removed keeps every event that mapping could make match. */
static bool find_unquoted(esc_str hay, const char *lit) {
    size_t n = strlen(lit);
    for (size_t i = 0; i < hay.len; i++) {
        size_t j = 0, k = i;
        while (j < n && k < hay.len) {
            if (hay.ptr[k] == '"') {
                k++;
                continue;
            }
            if (esc_lower((unsigned char)hay.ptr[k]) != esc_lower((unsigned char)lit[j]))
                break;
            j++;
            k++;
        }
        if (j == n)
            return true;
    }
    return n == 0;
}

static bool value_has(esc_str v, const esc_literal_clause *cl) {
    for (size_t i = 0; i < cl->nlit; i++)
        if (find_unquoted(v, cl->lit[i]))
            return true;
    return false;
}

bool esc_interest_event_may_match(const esc_interest *in, const esc_event *ev) {
    if (!in || in->everything)
        return true;
    for (size_t c = 0; c < in->nclauses; c++) {
        const esc_literal_clause *cl = &in->clause[c];
        bool hit = value_has(ev->provider, cl) || value_has(ev->channel, cl) ||
                   value_has(ev->computer, cl);
        for (size_t i = 0; i < ev->ndata && !hit; i++)
            hit = value_has(ev->data[i].value, cl);
        if (!hit)
            return false;
    }
    return true;
}
