/* One EVTX chunk decoded on its own (parse/evtx internal).
 *
 * EVTX chunks are self-contained: every string and template a record uses lives in the same
 * 64 KiB chunk. evtx_chunk_decode() turns one chunk's bytes into a list of items, each either
 * an event (fields as offsets into the chunk's text buffer) or a warning about a broken unit
 * (the chunk header, one record). The decode depends only on the chunk's bytes and the
 * configuration, so chunks may be decoded on any thread in any order and yield the same items.
 * Memory is bounded per chunk: the template arena, the per-record arena and the output buffers
 * all have caps; hitting one is a warning about the record being decoded. */
#ifndef ESC_PARSE_EVTX_CHUNK_H
#define ESC_PARSE_EVTX_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "parse/event.h"

#define EVTX_CHUNK_SIZE 65536u
#define EVTX_CHUNK_HEADER 512u

typedef struct evtx_span {
    uint32_t off, len; /* into the chunk's text buffer */
} evtx_span;

typedef struct evtx_kvspan {
    evtx_span name, value;
} evtx_kvspan;

typedef struct evtx_item {
    bool is_error;
    bool recovered;
    bool prefiltered; /* --recover: rejected by the interest set, kept for folding, not yielded */
    bool has_event_id;
    bool has_time;
    uint32_t event_id;
    unsigned repaired;
    uint64_t offset; /* file offset of the record (or of the broken unit) */
    uint64_t record_id;
    uint64_t key; /* hash of computer, channel, record id and time (folding recovered copies) */
    int64_t time_us;
    evtx_span provider, channel, computer;
    evtx_span msg;  /* warning text when is_error */
    evtx_span xml;  /* the record's XML rendering, when want_xml and it is not in line */
    evtx_span line; /* its dump JSON line (want_json), else its XML (want_xml), in the chunk's
                       lines buffer and followed there by a line break; empty when it did not
                       fit (LINES_CAP): then the JSON is rendered by the reader's caller and the
                       XML is in xml */
    uint32_t kv_first, nkv;
    uint32_t sys_first, nsys;        /* System pairs (esc_event.sys) in skvs */
    evtx_span parts[ESC_XML_NPARTS]; /* want_parts: esc_event.parts in the text */
} evtx_item;

typedef struct evtx_template evtx_template;
typedef struct evtx_name evtx_name;

typedef struct evtx_chunk {
    /* configuration (read-only while decoding) */
    const esc_interest *interest;
    bool recover;
    bool want_xml;           /* also render each record's XML (dump --format xml) */
    bool want_parts;         /* render it for esc_event.parts (the interest set's parts) */
    int want_json;           /* also render its dump JSON line: 1 data pairs, 2 data object */
    bool json_sys;           /* ... with the System pairs (dump --system) */
    bool skip_sys;           /* leave System pairs (esc_event.sys) out */
    bool skip_data;          /* leave data fields out (the XML rendering has them) */
    size_t max_record_bytes; /* cap on one record's decoded text */
    /* input */
    unsigned char *data; /* EVTX_CHUNK_SIZE bytes */
    size_t len;          /* bytes present (less than a chunk when the file is truncated) */
    uint64_t file_off;   /* offset of the chunk in the file */
    uint64_t index;      /* chunk number in the file */
    bool in_use;         /* within the header's chunk count */
    /* scratch */
    esc_arena tarena; /* templates and names of this chunk */
    esc_arena rarena; /* one record's nested trees */
    evtx_template **tcache;
    size_t tcache_cap;
    uint32_t ntemplates; /* templates cached so far (their insertion order, for rollback) */
    evtx_name *ncache;   /* names decoded in this chunk, by offset (valid when gen == ngen) */
    uint32_t ngen, nnames;
    /* output */
    evtx_item *items;
    size_t nitems, items_cap;
    evtx_kvspan *kvs;
    size_t nkv, kv_cap;
    evtx_kvspan *skvs; /* System pairs, when the interest set asks for them */
    size_t nskv, skv_cap;
    esc_buf text;
    esc_buf lines;     /* the records' renderings, one line each (capped; past the cap, none) */
    esc_buf unescaped; /* want_xml: a value's text while it is escaped back into text */
    esc_kv *jkv;       /* want_json: one record's data as esc_kv for the renderer */
    size_t jkv_cap;
    uint64_t records;     /* records seen in this chunk */
    uint64_t prefiltered; /* records skipped by the interest set */
} evtx_chunk;

esc_status evtx_chunk_init(evtx_chunk *c, const esc_interest *interest, bool recover,
                           size_t max_record_bytes);
void evtx_chunk_fini(evtx_chunk *c);
/* Decode c->data[0..c->len) into items. Only ESC_ENOMEM is returned as a failure; everything
 * wrong with the bytes becomes an error item. */
esc_status evtx_chunk_decode(evtx_chunk *c);
static inline esc_str evtx_chunk_str(const evtx_chunk *c, evtx_span s) {
    return esc_str_make(c->text.ptr + s.off, s.len);
}

/* An item's rendering in the lines buffer (xml or json as asked), or empty. */
static inline esc_str evtx_item_line(const evtx_chunk *c, const evtx_item *it) {
    return it->line.len ? esc_str_make(c->lines.ptr + it->line.off, it->line.len) : ESC_STR_NULL;
}

/* want_xml: an item's XML rendering, wherever it is (evtx_item.line), or empty. */
static inline esc_str evtx_item_xml(const evtx_chunk *c, const evtx_item *it) {
    return it->line.len  ? evtx_item_line(c, it)
           : it->xml.len ? evtx_chunk_str(c, it->xml)
                         : ESC_STR_NULL;
}

/* Little-endian loads. */
static inline uint16_t evtx_le16(const unsigned char *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t evtx_le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t evtx_le64(const unsigned char *p) {
    return (uint64_t)evtx_le32(p) | ((uint64_t)evtx_le32(p + 4) << 32);
}

#endif
