/* Placeholder until the evtx reader lands: reports every input as unsupported. */
#include "parse/reader.h"

static esc_status open_stub(esc_input *in, const esc_interest *interest,
                            const esc_reader_opts *opts, esc_reader_stats *stats, void **impl,
                            esc_error *err) {
    (void)interest;
    (void)opts;
    (void)stats;
    (void)impl;
    return esc_error_at(err, ESC_SKIP, esc_input_path(in), 0, "evtx input is not supported yet");
}

static esc_status next_stub(void *impl, esc_event *ev, esc_error *err) {
    (void)impl;
    (void)ev;
    (void)err;
    return ESC_EOF;
}

static void free_stub(void *impl) {
    (void)impl;
}

const esc_reader_ops esc_evtx_reader_ops = {"evtx", open_stub, next_stub, free_stub};
