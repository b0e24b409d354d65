/* One iterator over the events of one input, whatever its format; and where records end, for
 * reading an input that is still being written in pieces.
 *
 * esc_reader_open sniffs the input's format and picks the XML, JSON or EVTX reader; each
 * implements the contract in parse/event.h. The per-format readers are private to parse/. The
 * XML and JSON readers count event offsets from the input's offset when they are opened, so a
 * reader over a piece of a larger input (esc_input_open_mem with its base) reports positions in
 * that input. */
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
    int json; /* EVTX: also render its dump JSON line into esc_event.json (parse/render.h's
                 esc_render_json: 1, esc_render_json_object: 2), on the decoding threads */
    bool rendering_only; /* EVTX: the caller reads the rendering (xml or json) and the System
                            basics only: esc_event.sys stays empty and, with xml, esc_event.data
                            too (their values are not formatted), with json when the line was
                            rendered; --recover decodes in full */
    /* EVTX: the JSON line made on the decoding threads carries esc_event.sys, which
     * rendering_only then fills all the same */
    bool keep_sys;
    bool runs; /* EVTX, rendering only, without recover: consecutive records of one chunk whose
                  renderings were made on the decoding threads come as one event, the first
                  record's, with esc_event.lines holding all their lines (each with its line
                  break): the caller writes them as they are, without copying them one by one */
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
/* r reads in from its start instead, as a reader esc_reader_open'd over in with r's interest and
 * options would, keeping its buffers (escudo run reads each Kafka message as an input of its
 * own): true when done, false when in is in another format or r's reader cannot restart (r is
 * unchanged: free it and open one). The statistics start again from zero. */
bool esc_reader_restart(esc_reader *r, esc_input *in);
void esc_reader_free(esc_reader *r);

/* ---- following a growing input (escudo run) ---------------------------------------------- */

/* How an input can be read while it grows. */
typedef enum esc_follow {
    ESC_FOLLOW_UNKNOWN = 0, /* no known format (an empty file, too few bytes, not an input) */
    ESC_FOLLOW_WHOLE,       /* one stream from its start (EVTX, gzip, UTF-16, a JSON array):
                               records before a saved offset are skipped by their offsets */
    ESC_FOLLOW_XML,         /* UTF-8 XmlWinEventLog: pieces end after an </Event> tag */
    ESC_FOLLOW_JSONL,       /* JSON lines: pieces end after a line end */
} esc_follow;

/* How to follow an input from its first n bytes (as esc_input_peek gives them; gzip: whether
 * the file is compressed). */
esc_follow esc_follow_kind(const unsigned char *head, size_t n, bool gzip);
/* Like esc_follow_kind for a stream that is read only in pieces (standard input): only the
 * text formats, ESC_FOLLOW_UNKNOWN for anything else. */
esc_follow esc_follow_kind_text(const unsigned char *head, size_t n);
/* Length of the longest prefix of p[0, n) that ends with a complete record of kind k (XML or
 * JSONL): a piece a reader can read whole. The line end after an </Event> tag belongs to its
 * record. 0 when no record ends in p[0, n). */
size_t esc_follow_last_end(esc_follow k, const unsigned char *p, size_t n);
/* Where the first record of kind k ends in p[0, n), a window of a larger input (to skip the rest
 * of a record too large to read): true and *end just past it; or false and *resume the number of
 * bytes of p that cannot hold the start of a record end, so the search goes on at p + *resume
 * with the following bytes. */
bool esc_follow_first_end(esc_follow k, const unsigned char *p, size_t n, size_t *end,
                          size_t *resume);

/* The per-format implementations behind esc_reader (parse/ internal, listed for the dispatcher
 * and for fuzz targets). Each has the same shape. */
typedef struct esc_reader_ops {
    const char *name;
    esc_status (*open)(esc_input *in, const esc_interest *interest, const esc_reader_opts *opts,
                       esc_reader_stats *stats, void **impl, esc_error *err);
    esc_status (*next)(void *impl, esc_event *ev, esc_error *err);
    void (*free)(void *impl);
    void (*restart)(void *impl, esc_input *in); /* optional: read in from its start */
} esc_reader_ops;

extern const esc_reader_ops esc_xml_reader_ops;
extern const esc_reader_ops esc_json_reader_ops;
extern const esc_reader_ops esc_evtx_reader_ops;

#endif
