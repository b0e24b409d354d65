/* One iterator over the events of one input, whatever its format.
 *
 * esc_reader_open sniffs the input's format and picks the XML, JSON or EVTX reader; each
 * implements the contract in parse/event.h. The per-format readers are private to parse/. */
#ifndef ESC_PARSE_READER_H
#define ESC_PARSE_READER_H

#include "core/error.h"
#include "ingest/input.h"
#include "parse/event.h"

typedef struct esc_reader_opts {
    bool recover;            /* EVTX: also read deleted records in slack space */
    size_t max_record_bytes; /* cap on one record's raw size; 0 = default (16 MiB) */
    int threads;             /* EVTX may use this many worker threads; 0/1 = none */
    bool xml;                /* EVTX: also render each record's XML into esc_event.xml */
} esc_reader_opts;

typedef struct esc_reader_stats {
    uint64_t records;     /* records seen (including skipped ones) */
    uint64_t prefiltered; /* records skipped by the interest set without full decoding */
    uint64_t malformed;   /* ESC_EMALFORMED returned */
    uint64_t repaired;    /* values repaired (U+FFFD) */
    uint64_t folded;      /* EVTX --recover: recovered copies of events already yielded */
} esc_reader_stats;

typedef struct esc_reader esc_reader;

/* Takes ownership of nothing: in and interest must outlive the reader. ESC_SKIP (with err set)
 * when the input is in no known format. */
esc_status esc_reader_open(esc_input *in, const esc_interest *interest, const esc_reader_opts *opts,
                           esc_reader **out, esc_error *err);
esc_status esc_reader_next(esc_reader *r, esc_event *ev, esc_error *err);
const esc_reader_stats *esc_reader_stats_get(const esc_reader *r);
esc_format esc_reader_format(const esc_reader *r);
void esc_reader_free(esc_reader *r);

/* The per-format implementations behind esc_reader (parse/ internal, listed for the dispatcher
 * and for fuzz targets). Each has the same shape. */
typedef struct esc_reader_ops {
    const char *name;
    esc_status (*open)(esc_input *in, const esc_interest *interest, const esc_reader_opts *opts,
                       esc_reader_stats *stats, void **impl, esc_error *err);
    esc_status (*next)(void *impl, esc_event *ev, esc_error *err);
    void (*free)(void *impl);
} esc_reader_ops;

extern const esc_reader_ops esc_xml_reader_ops;
extern const esc_reader_ops esc_json_reader_ops;
extern const esc_reader_ops esc_evtx_reader_ops;

#endif
