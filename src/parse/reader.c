/* The format dispatcher: sniff the input, pick the reader, keep the statistics. */
#include "parse/reader.h"

#include "core/alloc.h"

struct esc_reader {
    const esc_reader_ops *ops;
    void *impl;
    esc_format format;
    esc_reader_stats stats;
};

esc_status esc_reader_open(esc_input *in, const esc_interest *interest, const esc_reader_opts *opts,
                           esc_reader **out, esc_error *err) {
    static const esc_reader_opts defaults = {0};
    const unsigned char *p;
    size_t n;
    esc_status st = esc_input_peek(in, 4096, &p, &n, err);
    if (st)
        return st;
    esc_format f = esc_sniff(p, n);
    const esc_reader_ops *ops = NULL;
    switch (f) {
    /* clang-format off */
    case ESC_FMT_EVTX: ops = &esc_evtx_reader_ops; break;
    case ESC_FMT_XML:
    case ESC_FMT_XML_UTF16: ops = &esc_xml_reader_ops; break;
    case ESC_FMT_JSON: ops = &esc_json_reader_ops; break;
    case ESC_FMT_UNKNOWN: break;
    }
    /* clang-format on */
    if (!ops)
        return esc_error_at(err, ESC_SKIP, esc_input_path(in), 0,
                            "not in a known format (EVTX, XmlWinEventLog or JSON lines)");
    esc_reader *r = esc_calloc(1, sizeof *r);
    if (!r)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->ops = ops;
    r->format = f;
    st = ops->open(in, interest, opts ? opts : &defaults, &r->stats, &r->impl, err);
    if (st) {
        esc_free(r);
        return st;
    }
    *out = r;
    return ESC_OK;
}

esc_status esc_reader_next(esc_reader *r, esc_event *ev, esc_error *err) {
    esc_status st = r->ops->next(r->impl, ev, err);
    if (st == ESC_EMALFORMED)
        r->stats.malformed++;
    return st;
}

const esc_reader_stats *esc_reader_stats_get(const esc_reader *r) {
    return &r->stats;
}

esc_format esc_reader_format(const esc_reader *r) {
    return r->format;
}

bool esc_reader_restart(esc_reader *r, esc_input *in) {
    const unsigned char *p;
    size_t n;
    if (!r->ops->restart || esc_input_peek(in, 4096, &p, &n, NULL) || esc_sniff(p, n) != r->format)
        return false;
    r->ops->restart(r->impl, in);
    r->stats = (esc_reader_stats){0};
    return true;
}

void esc_reader_free(esc_reader *r) {
    if (!r)
        return;
    r->ops->free(r->impl);
    esc_free(r);
}
