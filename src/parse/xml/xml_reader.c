/* XmlWinEventLog stream reader: finds <Event> elements in a byte stream and parses the ones
 * that can matter.
 *
 * One Hyperscan pass per block finds, in order, event starts (`<Event` + space or `>`), event
 * ends (`</Event>`), numeric character references (`&#`), and the interest set's literals
 * (caseless). Each event is summarised on the fly (its span, which literal clauses it hit,
 * whether an escape could hide a literal); only events that pass are parsed by
 * esc_xml_event_parse. Text between events (banners, <Events> wrappers, whitespace) is ignored.
 *
 * Memory: one buffer of block + max record bytes. A partial event at the end of a block is kept
 * and rescanned with the next block; an event longer than the record cap is reported and
 * skipped, and so is a start tag with no end before the next start or the end of input.
 * UTF-16 input (with BOM) is transcoded to UTF-8 first: offsets in its messages are offsets in
 * the UTF-8 text. Not here: the mapping to CIM, any detection logic. */
#include <hs/hs.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hscache.h"
#include "core/utf8.h"
#include "parse/reader.h"
#include "parse/xml/xml.h"

#define BLOCK (1u << 20)
#define DEFAULT_MAX_RECORD (16u << 20)
#define KEEP_TAIL 16 /* bytes kept when not inside an event: longest marker is 8 */

enum { ID_START = 0, ID_END = 1, ID_ENT = 2, ID_LIT0 = 3 };

typedef struct span {
    size_t start; /* buffer offset of '<' of <Event, or SIZE_MAX for a stray end */
    size_t end;   /* buffer offset just past </Event>, or SIZE_MAX when truncated */
    uint32_t hits;
    bool ent;
} span;

typedef struct xml_reader {
    esc_input *in;
    const esc_interest *interest;
    esc_reader_stats *stats;
    size_t max_record;
    bool utf16;
    unsigned char u16_carry[4];
    size_t u16_carry_len;
    char *buf;
    size_t cap, len;
    uint64_t base; /* stream offset of buf[0] */
    bool eof;
    /* scan results */
    span *spans;
    size_t nspans, capspans, si;
    size_t cur_start; /* open event during the scan callback, SIZE_MAX if none */
    uint32_t cur_hits;
    bool cur_ent;
    bool overflow;    /* span array could not grow */
    size_t scan_from; /* buffer offset where the next scan starts */
    size_t done_to;   /* buffer offset up to which everything is consumed */
    uint32_t all_clauses;
    uint32_t *lit_mask; /* per literal id: the clauses it belongs to */
    esc_error pending;  /* a stream error met while filling, reported after its data */
    bool has_pending;
    hs_database_t *db;
    hs_scratch_t *scratch;
    esc_arena arena;
    esc_buf u16tmp;
} xml_reader;

static void xml_free(void *impl);

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx) {
    (void)from;
    (void)flags;
    xml_reader *r = ctx;
    size_t at = r->scan_from + (size_t)to;
    if (id == ID_START || id == ID_END) {
        if (id == ID_START && r->cur_start == SIZE_MAX) {
            r->cur_start = at - 7;
            r->cur_hits = 0;
            r->cur_ent = false;
            return 0;
        }
        if (r->nspans == r->capspans && !ESC_VEC_GROW(r->spans, r->capspans, r->nspans + 1, 1024)) {
            r->overflow = true;
            return 1; /* stop scanning */
        }
        span *s = &r->spans[r->nspans++];
        if (id == ID_START) { /* a start while one is open: the open one is truncated */
            *s = (span){r->cur_start, SIZE_MAX, 0, false};
            r->cur_start = at - 7;
            r->cur_hits = 0;
            r->cur_ent = false;
        } else if (r->cur_start == SIZE_MAX) {
            *s = (span){SIZE_MAX, at, 0, false};
        } else {
            *s = (span){r->cur_start, at, r->cur_hits, r->cur_ent};
            r->cur_start = SIZE_MAX;
        }
        return 0;
    }
    if (r->cur_start == SIZE_MAX)
        return 0;
    if (id == ID_ENT)
        r->cur_ent = true;
    else
        r->cur_hits |= r->lit_mask[id - ID_LIT0];
    return 0;
}

static void escape_literal(esc_buf *b, const char *lit) {
    for (const char *p = lit; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            esc_buf_printf(b, "\\x%02x", (unsigned char)*p);
        else
            esc_buf_putc(b, *p);
    }
}

static esc_status compile(xml_reader *r, esc_error *err) {
    const esc_interest *in = r->interest;
    size_t nlit = 0;
    if (in && !in->everything)
        for (size_t c = 0; c < in->nclauses; c++)
            nlit += in->clause[c].nlit;
    size_t n = ID_LIT0 + nlit;
    const char **pats = esc_calloc(n, sizeof *pats);
    unsigned *flags = esc_calloc(n, sizeof *flags);
    unsigned *ids = esc_calloc(n, sizeof *ids);
    esc_buf *bufs = esc_calloc(n, sizeof *bufs);
    r->lit_mask = esc_calloc(nlit ? nlit : 1, sizeof *r->lit_mask);
    esc_status st = ESC_OK;
    if (!pats || !flags || !ids || !bufs || !r->lit_mask) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto done;
    }
    pats[ID_START] = "<Event[ \\t\\r\\n>]";
    pats[ID_END] = "</Event>";
    pats[ID_ENT] = "&#";
    for (size_t i = 0; i < ID_LIT0; i++) {
        ids[i] = (unsigned)i;
        flags[i] = HS_FLAG_DOTALL;
    }
    size_t k = 0;
    for (size_t c = 0; in && !in->everything && c < in->nclauses; c++) {
        r->all_clauses |= 1u << c;
        for (size_t l = 0; l < in->clause[c].nlit; l++, k++) {
            esc_buf_init(&bufs[ID_LIT0 + k], 4096);
            escape_literal(&bufs[ID_LIT0 + k], in->clause[c].lit[l]);
            pats[ID_LIT0 + k] = bufs[ID_LIT0 + k].ptr ? bufs[ID_LIT0 + k].ptr : "";
            ids[ID_LIT0 + k] = (unsigned)(ID_LIT0 + k);
            flags[ID_LIT0 + k] = HS_FLAG_CASELESS;
            r->lit_mask[k] = 1u << c;
        }
    }
    hs_compile_error_t *cerr = NULL;
    if (esc_hs_compile(pats, flags, ids, NULL, n, &r->db, &cerr) != HS_SUCCESS) {
        st = esc_error_set(err, ESC_EINTERNAL, "prefilter compile failed: %s",
                           cerr ? cerr->message : "?");
        hs_free_compile_error(cerr);
        goto done;
    }
    if (hs_alloc_scratch(r->db, &r->scratch) != HS_SUCCESS)
        st = esc_error_set(err, ESC_ENOMEM, "out of memory (prefilter scratch)");
done:
    for (size_t i = 0; bufs && i < n; i++)
        esc_buf_fini(&bufs[i]);
    esc_free(bufs);
    esc_free(pats);
    esc_free(flags);
    esc_free(ids);
    return st;
}

static esc_status xml_open(esc_input *in, const esc_interest *interest, const esc_reader_opts *opts,
                           esc_reader_stats *stats, void **impl, esc_error *err) {
    xml_reader *r = esc_calloc(1, sizeof *r);
    if (!r)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->in = in;
    r->base = esc_input_offset(in); /* a piece of a larger input starts at its offset there */
    r->interest = interest;
    r->stats = stats;
    r->max_record = opts->max_record_bytes ? opts->max_record_bytes : DEFAULT_MAX_RECORD;
    r->cap = BLOCK + r->max_record + 8;
    r->cur_start = SIZE_MAX;
    esc_arena_init(&r->arena, 256 * 1024, 4 * r->max_record + (1u << 20));
    esc_buf_init(&r->u16tmp, 2 * BLOCK + 16);
    const unsigned char *p;
    size_t n;
    esc_status st = esc_input_peek(in, 2, &p, &n, err);
    if (st)
        goto fail;
    if (n == 2 && p[0] == 0xFF && p[1] == 0xFE) {
        r->utf16 = true;
        unsigned char bom[2];
        size_t got;
        if ((st = esc_input_read(in, bom, 2, &got, err)))
            goto fail;
    }
    r->buf = esc_malloc(r->cap + 1);
    if (!r->buf) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    if ((st = compile(r, err)))
        goto fail;
    *impl = r;
    return ESC_OK;
fail:
    xml_free(r);
    return st;
}

/* Append up to `room` bytes of UTF-8 text to buf. */
static esc_status fill(xml_reader *r, size_t room, size_t *got, esc_error *err) {
    *got = 0;
    if (!r->utf16)
        return esc_input_read(r->in, r->buf + r->len, room, got, err);
    /* UTF-16: read at most room/3 code units so the UTF-8 fits */
    unsigned char raw[64 * 1024 + 4];
    size_t want = room / 3 * 2;
    if (want > 64 * 1024)
        want = 64 * 1024;
    if (want < 4)
        return ESC_OK;
    memcpy(raw, r->u16_carry, r->u16_carry_len);
    size_t n;
    esc_status st = esc_input_read(r->in, raw + r->u16_carry_len, want, &n, err);
    if (st)
        return st;
    size_t total = r->u16_carry_len + n;
    r->u16_carry_len = 0;
    if (n == 0 && total == 0)
        return ESC_OK;
    size_t units = total / 2;
    if (n > 0 && units > 0) { /* keep a trailing high surrogate for the next read */
        unsigned last = raw[2 * units - 2] | (unsigned)raw[2 * units - 1] << 8;
        if (last >= 0xD800 && last <= 0xDBFF)
            units--;
    }
    esc_buf_clear(&r->u16tmp);
    size_t rep = 0;
    if ((st = esc_utf16le_to_utf8(&r->u16tmp, raw, units, &rep)))
        return esc_error_set(err, st, "UTF-16 transcoding failed");
    r->u16_carry_len = total - 2 * units;
    if (n == 0)
        r->u16_carry_len = 0; /* odd trailing byte at end of input: dropped */
    else
        memcpy(r->u16_carry, raw + 2 * units, r->u16_carry_len);
    if (r->u16tmp.len) /* an empty buffer has no pointer */
        memcpy(r->buf + r->len, r->u16tmp.ptr, r->u16tmp.len);
    *got = r->u16tmp.len;
    if (*got == 0 && n > 0)
        return fill(r, room, got, err);
    return ESC_OK;
}

/* Discard consumed bytes, read one more block, scan what is unconsumed. ESC_EOF when there is
 * nothing more to scan. */
static esc_status refill(xml_reader *r, esc_error *err) {
    size_t keep = r->done_to;
    if (keep < r->len && r->cur_start == SIZE_MAX && r->len - keep > KEEP_TAIL)
        keep = r->len - KEEP_TAIL; /* no open event: only a partial marker can matter */
    if (r->cur_start != SIZE_MAX && r->cur_start > keep)
        keep = r->cur_start;
    if (keep > r->len)
        keep = r->len;
    memmove(r->buf, r->buf + keep, r->len - keep);
    r->len -= keep;
    r->base += keep;
    bool open = r->cur_start != SIZE_MAX;
    r->cur_start = SIZE_MAX;
    r->done_to = 0;
    r->nspans = r->si = 0;

    if (open && r->len >= r->max_record) {
        /* an event longer than the cap: report it, drop what we have of it */
        uint64_t at = r->base;
        r->base += r->len - KEEP_TAIL;
        memmove(r->buf, r->buf + r->len - KEEP_TAIL, KEEP_TAIL);
        r->len = KEEP_TAIL;
        return esc_error_at(err, ESC_EMALFORMED, esc_input_path(r->in), at,
                            "event longer than %zu bytes or not terminated; skipped",
                            r->max_record);
    }
    if (r->eof) {
        if (open && r->len > 0) {
            uint64_t at = r->base;
            r->base += r->len;
            r->len = 0;
            return esc_error_at(err, ESC_EMALFORMED, esc_input_path(r->in), at,
                                "event truncated at end of input");
        }
        if (r->has_pending) {
            r->has_pending = false;
            if (err)
                *err = r->pending;
            return r->pending.code;
        }
        return ESC_EOF;
    }
    size_t room = r->cap - r->len;
    if (room > BLOCK)
        room = BLOCK;
    size_t got = 0;
    esc_status st = fill(r, room, &got, err);
    r->len += got;
    if (st == ESC_EMALFORMED) { /* e.g. gzip corruption: process what we got, then report */
        r->pending = err ? *err : (esc_error){.code = st};
        r->pending.code = st;
        r->has_pending = true;
        r->eof = true;
    } else if (st) {
        return st;
    }
    if (got == 0)
        r->eof = true;
    r->scan_from = 0;
    r->overflow = false;
    if (r->len &&
        hs_scan(r->db, r->buf, (unsigned)r->len, 0, r->scratch, on_match, r) != HS_SUCCESS &&
        !r->overflow)
        return esc_error_set(err, ESC_EINTERNAL, "prefilter scan failed");
    if (r->overflow)
        return esc_error_set(err, ESC_ENOMEM, "out of memory (event index)");
    if (r->eof && r->cur_start == SIZE_MAX)
        r->done_to = r->len;
    return ESC_OK;
}

/* False when the record's <EventID> (read from the raw text, before decoding) is a code no
 * (provider, code) pair of the interest set has; true when it is wanted or not plainly there
 * (the decoder then decides). */
static bool code_may(const esc_interest *in, const char *s, size_t n) {
    if (!in || in->everything)
        return true;
    const char *e = s + n, *p = s;
    while ((p = memchr(p, '<', (size_t)(e - p))) != NULL && e - p > 9) {
        if (memcmp(p + 1, "EventID", 7) || (p[8] != '>' && p[8] != ' ')) {
            p++;
            continue;
        }
        const char *q = memchr(p + 8, '>', (size_t)(e - p - 8));
        if (!q || q[-1] == '/')
            return true;
        uint32_t v = 0;
        size_t d = 0;
        for (q++; q < e && *q >= '0' && *q <= '9' && d < 6; q++, d++)
            v = v * 10 + (uint32_t)(*q - '0');
        if (!d || d == 6 || q == e || *q != '<')
            return true;
        return esc_interest_wants_code(in, v);
    }
    return true;
}

static esc_status xml_next(void *impl, esc_event *ev, esc_error *err) {
    xml_reader *r = impl;
    for (;;) {
        if (r->si == r->nspans) {
            esc_status st = refill(r, err);
            if (st)
                return st;
            if (r->nspans == 0 && r->eof && r->cur_start == SIZE_MAX)
                return ESC_EOF;
            continue;
        }
        span s = r->spans[r->si++];
        if (s.end != SIZE_MAX)
            r->done_to = s.end;
        else
            r->done_to = s.start + 1;
        if (s.start == SIZE_MAX)
            continue; /* stray </Event> (after a skipped event, or junk): ignored */
        r->stats->records++;
        if (s.end == SIZE_MAX)
            return esc_error_at(err, ESC_EMALFORMED, esc_input_path(r->in), r->base + s.start,
                                "event not terminated before the next <Event>");
        bool may = s.ent || (s.hits & r->all_clauses) == r->all_clauses;
        if (!may) {
            r->stats->prefiltered++;
            continue;
        }
        if (!code_may(r->interest, r->buf + s.start, s.end - s.start)) {
            r->stats->prefiltered++;
            continue;
        }
        esc_arena_reset(&r->arena);
        esc_status st =
            esc_xml_event_parse(r->buf + s.start, s.end - s.start, r->interest, &r->arena, ev, err);
        if (st == ESC_ELIMIT && r->arena.failed)
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        if (st == ESC_EMALFORMED || st == ESC_ELIMIT) {
            if (err) {
                err->path = esc_input_path(r->in);
                err->offset += r->base + s.start;
                err->has_offset = 1;
            }
            return ESC_EMALFORMED;
        }
        if (st)
            return st;
        if (!ev->has_event_id ||
            !esc_interest_wants_windows(r->interest, ev->provider, ev->event_id) ||
            (s.ent && !esc_interest_event_may_match(r->interest, ev))) {
            r->stats->prefiltered++;
            continue;
        }
        ev->path = esc_input_path(r->in);
        ev->offset = r->base + s.start;
        ev->text = esc_str_make(r->buf + s.start, s.end - s.start);
        if (ev->warning.len)
            ev->warning_offset += r->base + s.start;
        if (ev->repaired)
            r->stats->repaired += ev->repaired;
        return ESC_OK;
    }
}

static void xml_free(void *impl) {
    xml_reader *r = impl;
    if (!r)
        return;
    hs_free_scratch(r->scratch);
    hs_free_database(r->db);
    esc_free(r->spans);
    esc_free(r->lit_mask);
    esc_free(r->buf);
    esc_arena_fini(&r->arena);
    esc_buf_fini(&r->u16tmp);
    esc_free(r);
}

const esc_reader_ops esc_xml_reader_ops = {"xml", xml_open, xml_next, xml_free, NULL};
