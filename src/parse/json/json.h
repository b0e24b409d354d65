/* JSON lines reader internals, shared by json_reader.c, json_scan.c, tests and fuzz targets.
 *
 * The public face of the JSON reader is esc_json_reader_ops (parse/reader.h). This header adds
 * what tests need beyond it: opening with a small read block (so block boundaries get
 * exercised), the tokenizer the reader is built on, and its fast case-insensitive search.
 * Outside parse/, JSON is read through parse/json_value.h (one object read whole).
 * docs/json.md describes the shapes, the limits and the decisions. */
#ifndef ESC_PARSE_JSON_H
#define ESC_PARSE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "parse/event.h"
#include "parse/json_value.h"
#include "parse/reader.h"

#define ESC_JSON_MAX_DEPTH 64     /* nesting of objects and arrays in one record */
#define ESC_JSON_MAX_TOKENS 65536 /* values recorded per record (top level + shapes) */
#define ESC_JSON_MAX_FIELDS 1024  /* data fields per event */
#define ESC_JSON_DEFAULT_MAX_RECORD ((size_t)16 << 20)
#define ESC_JSON_MAX_RECORD_LIMIT ((size_t)1 << 30) /* a larger max_record_bytes is cut to this */
#define ESC_JSON_BLOCK ((size_t)1 << 20)            /* bytes asked of the input per read */

/* Like esc_json_reader_ops.open, with the read size chosen by the caller (1 .. any; 0 picks
 * ESC_JSON_BLOCK). Used by tests and the fuzz target to cut the stream in small pieces. */
esc_status esc_json_reader_open_ex(esc_input *in, const esc_interest *interest,
                                   const esc_reader_opts *opts, size_t block,
                                   esc_reader_stats *stats, void **impl, esc_error *err);

/* ---- tokenizer ------------------------------------------------------------------------- */

/* esc_json_type (ESC_JT_*) is in parse/json_value.h, the public reading of one object. */

/* One recorded value. Every top-level member of a record is recorded; the members of a
 * container are recorded only when the tokenizer's `want` callback says so (the reader asks
 * for the few objects its shapes read, such as winlog and event_data). */
typedef struct esc_json_tok {
    esc_str key;     /* decoded key; ptr NULL for an array element */
    const char *raw; /* string: text between the quotes; scalar: its text; container: from
                        the opening bracket */
    size_t rawlen;   /* containers: up to and including the closing bracket */
    int32_t parent;  /* index of the container's token, -1 for a top-level member */
    uint8_t type;    /* esc_json_type */
    uint8_t esc;     /* string holds a backslash escape */
    uint8_t kids;    /* container whose members are recorded */
    uint8_t depth;   /* 1 for a top-level member */
} esc_json_tok;

typedef struct esc_json_doc {
    esc_json_tok *tok;
    size_t ntok;
    size_t cap;
    /* decides whether a container's members are recorded (tok is the container, already
     * filled except rawlen); NULL records the top level only */
    bool (*want)(const struct esc_json_doc *doc, const esc_json_tok *tok);
    /* filled on ESC_EMALFORMED: what is wrong and where (a pointer into the text) */
    const char *what;
    const char *at;
    bool incomplete; /* the text ended while the object was still open outside a string */
} esc_json_doc;

void esc_json_doc_init(esc_json_doc *d);
void esc_json_doc_fini(esc_json_doc *d);

/* Tokenize one JSON object starting at s (leading whitespace allowed), reading no further than
 * e. On ESC_OK *end is just past the closing brace. Keys with escapes are decoded into arena.
 * ESC_EMALFORMED with d->what/d->at set; ESC_ENOMEM. Nesting deeper than ESC_JSON_MAX_DEPTH
 * and more than ESC_JSON_MAX_TOKENS recorded values are malformed. No recursion. */
esc_status esc_json_tokenize(esc_json_doc *d, const char *s, const char *e, const char **end,
                             esc_arena *arena);

/* Decode a string token's raw text: escapes resolved, \uXXXX with surrogate pairs; invalid
 * UTF-8, lone surrogates and NUL become U+FFFD and *repaired is incremented once for the value.
 * The result is a view into raw when nothing needed changing, else a copy in arena (scratch is
 * work space). raw must have passed the tokenizer. */
esc_status esc_json_decode(const char *raw, size_t len, bool has_escape, esc_buf *scratch,
                           esc_arena *arena, esc_str *out, unsigned *repaired);

/* Offset of the first ASCII case-insensitive occurrence of lit in hay, or -1. */
long esc_json_ifind(const char *hay, size_t n, const char *lit, size_t m);

/* ---- literal prefilter on raw text ----------------------------------------------------- */

typedef struct esc_json_lit {
    const char *s;
    size_t n;
    unsigned char first, last; /* with bit 5 set (ASCII case folded, and then some) */
} esc_json_lit;

/* One clause of esc_interest, prepared for one-pass searching: true when any literal occurs. */
typedef struct esc_json_clause {
    esc_json_lit lit[ESC_INTEREST_MAX_LITERALS];
    size_t n;
    size_t maxn;
    bool always; /* an empty literal: every text matches */
} esc_json_clause;

void esc_json_clause_init(esc_json_clause *c, const esc_literal_clause *src);
bool esc_json_clause_hit(const esc_json_clause *c, const char *s, size_t n);

/* What raw JSON text holds that matters to the prefilter, in one pass. */
#define ESC_JSON_RAW_UESC 1u         /* a \u escape (may hide a literal) */
#define ESC_JSON_RAW_NCR 2u          /* "&#" (a numeric reference in embedded XML) */
#define ESC_JSON_RAW_COMPUTERNAME 4u /* "ComputerName" as a key (maybe an aidmaster record) */
unsigned esc_json_raw_flags(const char *s, size_t n);

/* Append s with its \uXXXX escapes decoded (pairs combined, lone surrogates and NUL as
 * U+FFFD) and every other escape left as written: the text the prefilter may search when a
 * \u escape could hide a literal. *nested is set when an escaped backslash is followed by 'u'
 * (a \u escape one level down, in JSON inside a string): then the copy proves nothing. */
esc_status esc_json_unescape_u(esc_buf *out, const char *s, size_t n, bool *nested);

#endif
