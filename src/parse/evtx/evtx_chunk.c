/* EVTX chunk decoding: chunk header, record headers, BinXML, templates, value rendering.
 *
 * Invariants:
 * - Every read is bounds-checked against the chunk (offsets are chunk-relative uint32 and are
 *   compared with c->len before any load); nothing is trusted from the bytes.
 * - Templates are compiled once per chunk into a small node tree (tarena) and cached by their
 *   definition offset; records only build their substitution arrays and nested BinXML trees
 *   (rarena, reset per record). A template body never contains a template instance, and nested
 *   BinXML values always lie inside the bytes of the value that holds them, so there is no way
 *   to loop; depth caps catch the rest.
 * - Provider and EventID are extracted first; a record the interest set rejects is counted and
 *   left undecoded. Data values are formatted only for names the interest set wants.
 * - Values are rendered as Windows' XML rendering does (decimal integers, 0x%x hex integers,
 *   {GUID} upper case, S-1-... SIDs, ISO 8601 times with 7 fractional digits, upper hex binary).
 * - Element headers carry a dependency identifier only inside template definitions.
 * - Names are decoded once per chunk (cached by offset, in tarena).
 * - Live records are the chunk's record chain (scan_records, the one rule): in a damaged chunk
 *   it ends at the first broken record, and what lies past it is read only with --recover,
 *   as recovered, like slack space. A slack-space candidate that fails to decode gives back
 *   the template and name memory it took (decode_candidate).
 * - With want_xml, each record is also rendered as Windows renders it, from the same tree,
 *   straight into the chunk's lines buffer (made in the text only when it cannot be made there,
 *   under the caps it would meet in the text); with want_json, as dump's JSON line
 *   (parse/render.h), so that the writing scales with the decoding threads. A caller that reads
 * only the rendering skips the System pairs and, for XML, the data fields (skip_sys, skip_data):
 * their values would be formatted for no one (dump --system: the JSON line carries System).
 * With want_parts, a record whose event the interest set wants the parts of
 * (esc_interest_wants_parts) is rendered into the text, and the inner XML of the elements
 * esc_xml_part names is kept as spans of it (evtx_item.parts); a record whose rendering fails
 * goes without them.
 * Deliberately not done: resolving message strings, RenderingInfo's fields as data, the file header
 * (evtx_reader.c owns the file and its chunk sequence). */
#include "parse/evtx/evtx_chunk.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/alloc.h"
#include "core/crc32.h"
#include "core/fmt.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "parse/render.h"

#define MAX_ELEM_DEPTH 64
#define MAX_NEST 8
#define TCACHE_CAP 1024
#define NCACHE_CAP 1024 /* names cached per chunk; a crowded table decodes uncached */
#define NCACHE_PROBE 16
#define TARENA_CAP (4u << 20)
#define RARENA_CAP (4u << 20)
#define TEXT_CAP (16u << 20)
#define LINES_CAP (64u << 20)
#define MAX_KV_PER_RECORD 8192
#define MAX_SYS_PER_RECORD 64 /* System pairs kept per record (esc_event.sys) */
#define MAX_KV_PER_CHUNK (1u << 18)
#define MAX_SUBST 65535
/* MAX_SUBST cannot be reached: a substitution array of n values is n 4-byte descriptors that
 * parse_tinst checks lie inside the chunk, after its header (nested BinXML values lie inside the
 * chunk too), so n <= (65536 - 512) / 4 = 16256 and the bounds check ("substitution count N out
 * of range") always fires first. The cap stays as a second guard on the arithmetic. */
_Static_assert((EVTX_CHUNK_SIZE - EVTX_CHUNK_HEADER) / 4 < MAX_SUBST,
               "a chunk can hold MAX_SUBST substitution descriptors: test the cap");

enum { N_ELEM = 1, N_ATTR, N_TEXT, N_SUBST, N_TINST };

typedef struct val {
    uint32_t off;
    uint16_t size;
    uint8_t type;
} val;

typedef struct vctx {
    const val *v;
    uint32_t n;
} vctx;

typedef struct tnode tnode;
struct tnode {
    uint8_t kind;
    uint8_t vtype;
    bool optional;
    bool plain; /* an element/attribute name without NUL, short enough never to be cut */
    uint16_t index;
    esc_str text; /* element/attribute name, or literal text */
    tnode *attrs;
    tnode *kids;
    tnode *next;
    const tnode *troot; /* N_TINST: the template's root element */
    vctx vc;            /* N_TINST: its substitution values */
};

struct evtx_template {
    uint32_t off;
    uint32_t seq; /* insertion order in the chunk's cache */
    int state;    /* 0 compiling, 1 ready, -1 broken */
    const tnode *root;
};

struct evtx_name {
    uint32_t off, gen, seq; /* seq: insertion order in the chunk */
    esc_str s;
};

/* Per-record decoding state. */
typedef struct dec {
    evtx_chunk *c;
    const char *err; /* static message, or msgbuf */
    char msgbuf[160];
    uint32_t err_at;   /* chunk-relative offset of the problem */
    int nest;          /* nested BinXML depth */
    size_t text_start; /* c->text.len when the record began */
    esc_buf *out;      /* where text goes: c->text, or c->lines while the XML is made there */
    size_t out_start;  /* out->len when the record began (or its XML, in c->lines) */
    size_t out_pre;    /* the record's bytes in c->text when out is c->lines (<= the cap) */
    size_t text_lim;   /* out->len + n < text_lim: room, and under the record's cap (0: unknown) */
    size_t kv_start;
    size_t skv_start;
    unsigned repaired;
    /* System fields */
    bool has_provider, has_event_id, has_time, has_record_id, rejected;
    bool recovered; /* a slack-space candidate */
    uint32_t nsys;  /* System pairs pushed first (esc_event.sys) */
    uint64_t record_id;
    evtx_span provider, channel, computer;
    uint32_t event_id;
    int64_t time_us;
    /* the XML rendering: elements open around the one being written (the event element is at
     * 0), and, when it is made in the text for them (parts_on), the inner XML of the elements
     * esc_event.parts names */
    int xdepth;
    bool parts_on;
    bool in_userdata; /* writing the children of the event's UserData */
    evtx_span parts[ESC_XML_NPARTS];
} dec;

static const vctx no_values = {NULL, 0};

static esc_status fail_at(dec *d, uint32_t at, const char *msg) {
    d->err = msg;
    d->err_at = at;
    return ESC_EMALFORMED;
}

static esc_status fail_fmt(dec *d, uint32_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static esc_status fail_fmt(dec *d, uint32_t at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msgbuf, sizeof d->msgbuf, fmt, ap);
    va_end(ap);
    d->err = d->msgbuf;
    d->err_at = at;
    return ESC_EMALFORMED;
}

/* An arena returned NULL: either its cap (a warning about this record) or malloc failing
 * (fatal: ESC_ENOMEM ends the input, it is not a property of the bytes). */
static esc_status arena_fail(dec *d, const esc_arena *a, size_t n, uint32_t at, const char *msg) {
    n = (n + 15) & ~(size_t)15;
    size_t sz = n > a->block_size ? n : a->block_size;
    if (a->cap && (sz > a->cap || a->used > a->cap - sz))
        return fail_at(d, at, msg);
    return ESC_ENOMEM;
}

/* ---- text output ---------------------------------------------------------------------- */

static esc_status record_too_big(dec *d) {
    return fail_fmt(d, d->err_at, "record expands to more than %lu bytes of text",
                    (unsigned long)d->c->max_record_bytes);
}

/* The record's text so far (in c->text, and in c->lines while its XML is made there) against
 * its cap. */
static bool over_record_cap(const dec *d, size_t n) {
    return d->out->len - d->out_start + n > d->c->max_record_bytes - d->out_pre;
}

static esc_status text_room_slow(dec *d, size_t n) {
    esc_buf *b = d->out;
    if (over_record_cap(d, n))
        return record_too_big(d);
    esc_status st = esc_buf_reserve(b, n);
    if (st == ESC_ELIMIT)
        return fail_at(d, d->err_at, "chunk expands to too much text");
    if (st)
        return st;
    /* the buffer only grows while a record is decoded, so the limit stays true until then */
    size_t cap_lim = d->out_start + (d->c->max_record_bytes - d->out_pre) + 1;
    d->text_lim = b->cap < cap_lim ? b->cap : cap_lim;
    return ESC_OK;
}

/* Room for n more bytes of this record's text: inline when the buffer has it and the record
 * stays under its cap (every value and tag of every record comes through here). */
static inline esc_status text_room(dec *d, size_t n) {
    if (d->out->len + n < d->text_lim)
        return ESC_OK;
    return text_room_slow(d, n);
}

static inline esc_status put(dec *d, const void *p, size_t n) {
    esc_status st = text_room(d, n);
    if (st)
        return st;
    memcpy(d->out->ptr + d->out->len, p, n);
    d->out->len += n;
    d->out->ptr[d->out->len] = 0;
    return ESC_OK;
}

static esc_status putf(dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static esc_status putf(dec *d, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return ESC_EINTERNAL;
    return put(d, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* pre, name and post as one piece cut at 127 bytes, as putf("%.*s") wrote it (a name that long,
 * or with a NUL in it, does not occur in real logs; the cut keeps such output as it was). */
static esc_status put_tag_cut(dec *d, const char *pre, size_t npre, esc_str name, const char *post,
                              size_t npost) {
    size_t lim = 127 - npre;
    size_t k = strnlen(name.ptr, name.len < lim ? name.len : lim); /* %.*s stops at a NUL */
    lim -= k;
    npost = npost < lim ? npost : lim;
    esc_status st = text_room(d, npre + k + npost);
    if (st)
        return st;
    char *o = d->out->ptr + d->out->len;
    memcpy(o, pre, npre);
    memcpy(o + npre, name.ptr, k);
    memcpy(o + npre + k, post, npost);
    d->out->len += npre + k + npost;
    d->out->ptr[d->out->len] = 0;
    return ESC_OK;
}

/* The names MAX_PLAIN_NAME bytes long at most, without NUL (every real one), need no cut. */
#define MAX_PLAIN_NAME 120

static bool plain_name(esc_str name) {
    return name.len <= MAX_PLAIN_NAME && !memchr(name.ptr, 0, name.len);
}

/* memcpy for the short runs names are: two overlapping loads instead of a call. */
static inline void copy_short(char *o, const char *p, size_t n) {
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, p, 8);
        memcpy(&b, p + n - 8, 8);
        memcpy(o, &a, 8);
        memcpy(o + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        memcpy(o, &a, 4);
        memcpy(o + n - 4, &b, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            o[i] = p[i];
    } else {
        memcpy(o, p, n);
    }
}

/* pre, the node's name and post (pre and post of at most 2 bytes, constants where inlined). */
static inline esc_status put_tag(dec *d, const char *pre, size_t npre, const tnode *n,
                                 const char *post, size_t npost) {
    if (!n->plain)
        return put_tag_cut(d, pre, npre, n->text, post, npost);
    size_t total = npre + n->text.len + npost;
    esc_status st = text_room(d, total);
    if (st)
        return st;
    char *o = d->out->ptr + d->out->len;
    memcpy(o, pre, npre);
    copy_short(o + npre, n->text.ptr, n->text.len);
    memcpy(o + npre + n->text.len, post, npost);
    d->out->len += total;
    d->out->ptr[d->out->len] = 0;
    return ESC_OK;
}

static esc_status put_i64(dec *d, int64_t v) {
    char tmp[ESC_FMT_MAX];
    return put(d, tmp, esc_fmt_i64(tmp, v));
}

static esc_status put_u64(dec *d, uint64_t v) {
    char tmp[ESC_FMT_MAX];
    return put(d, tmp, esc_fmt_u64(tmp, v, 0));
}

/* "0x" and lower-case hex digits, at least width of them. */
static esc_status put_hex(dec *d, uint64_t v, unsigned width) {
    char tmp[ESC_FMT_MAX];
    tmp[0] = '0';
    tmp[1] = 'x';
    return put(d, tmp, 2 + esc_fmt_hex(tmp + 2, v, width, false));
}

/* UTF-16LE units to UTF-8 text: ASCII runs copied directly, the rest through the shared
 * transcoder (lone surrogates and NUL become U+FFFD and are counted). */
static esc_status put_utf16(dec *d, const unsigned char *u, size_t n) {
    esc_status st = text_room(d, n * 3);
    if (st)
        return st;
    esc_buf *b = d->out;
    size_t i = 0;
    while (i < n) {
        char *o = b->ptr + b->len;
        size_t k = 0;
#ifdef __SSE2__
        /* eight units at a time while all are U+0001..U+007F: narrow them with one pack */
        const __m128i lim = _mm_set1_epi16(0x7F), zero = _mm_setzero_si128();
        while (i + k + 8 <= n) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(u + 2 * (i + k)));
            __m128i big = _mm_subs_epu16(x, lim); /* zero when x <= 0x7F */
            __m128i bad =
                _mm_or_si128(_mm_cmpeq_epi16(x, zero),
                             _mm_xor_si128(_mm_cmpeq_epi16(big, zero), _mm_set1_epi16(-1)));
            if (_mm_movemask_epi8(bad))
                break;
            _mm_storel_epi64((__m128i *)(void *)(o + k), _mm_packus_epi16(x, x));
            k += 8;
        }
#endif
        while (i + k < n && u[2 * (i + k) + 1] == 0 && u[2 * (i + k)] != 0 &&
               u[2 * (i + k)] < 0x80) {
            o[k] = (char)u[2 * (i + k)];
            k++;
        }
        b->len += k;
        i += k;
        if (i >= n)
            break;
        size_t j = i;
        while (j < n && !(u[2 * j + 1] == 0 && u[2 * j] != 0 && u[2 * j] < 0x80))
            j++;
        size_t rep = 0;
        if ((st = esc_utf16le_to_utf8(b, u + 2 * i, j - i, &rep)))
            return st;
        d->repaired += rep ? 1 : 0;
        i = j;
    }
    b->ptr[b->len] = 0;
    return ESC_OK;
}

/* ---- names ---------------------------------------------------------------------------- */

/* Decode a UTF-16LE name into the template arena (names are short and ASCII in practice). */
static esc_status make_name(dec *d, const unsigned char *u, size_t n, esc_str *out) {
    size_t need = 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = evtx_le16(u + 2 * i);
        need += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
    }
    char *p = esc_arena_alloc(&d->c->tarena, need);
    if (!p)
        return arena_fail(d, &d->c->tarena, need, d->err_at,
                          "chunk needs too much memory for names");
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = evtx_le16(u + 2 * i);
        if (cp >= 0xD800 && cp <= 0xDFFF)
            cp = 0xFFFD; /* names with astral characters do not occur; keep it simple */
        if (cp < 0x80) {
            p[o++] = (char)cp;
        } else if (cp < 0x800) {
            p[o++] = (char)(0xC0 | (cp >> 6));
            p[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            p[o++] = (char)(0xE0 | (cp >> 12));
            p[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            p[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    p[o] = 0;
    *out = esc_str_make(p, o);
    return ESC_OK;
}

/* The name of n characters at chunk offset off, decoded once per chunk: the same name is
 * referenced by every template (and slack-space candidate) that uses it. */
static esc_status cached_name(dec *d, uint32_t off, size_t n, esc_str *out) {
    evtx_chunk *c = d->c;
    size_t h = (off * 2654435761u) >> 16;
    for (size_t i = 0; i < NCACHE_PROBE; i++) {
        evtx_name *e = &c->ncache[(h + i) & (NCACHE_CAP - 1)];
        if (e->gen == c->ngen && e->off == off) {
            *out = e->s;
            return ESC_OK;
        }
        if (e->gen != c->ngen) {
            esc_status st = make_name(d, c->data + off + 8, n, out);
            if (st)
                return st;
            e->off = off;
            e->gen = c->ngen;
            e->seq = c->nnames++;
            e->s = *out;
            return ESC_OK;
        }
    }
    return make_name(d, c->data + off + 8, n, out);
}

/* A name structure at chunk offset off: next offset (4), hash (2), length (2), UTF-16 text and
 * a terminating NUL. When the name is stored inline (off == *pos), *pos moves past it. */
static esc_status read_name(dec *d, uint32_t off, uint32_t *pos, uint32_t end, esc_str *out) {
    evtx_chunk *c = d->c;
    bool inline_name = off == *pos;
    uint32_t lim = inline_name ? end : (uint32_t)c->len;
    if (off < EVTX_CHUNK_HEADER / 4 || (uint64_t)off + 8 > lim)
        return fail_fmt(d, *pos, "name offset 0x%lx out of range", (unsigned long)(off));
    uint32_t n = evtx_le16(c->data + off + 6);
    if ((uint64_t)off + 8 + 2ull * n > lim)
        return fail_fmt(d, off, "name length %lu runs past the chunk", (unsigned long)(n));
    esc_status st = cached_name(d, off, n, out);
    if (st)
        return st;
    if (inline_name) {
        uint64_t np = (uint64_t)off + 8 + 2ull * n + 2;
        if (np > end)
            return fail_at(d, off, "inline name runs past its element");
        *pos = (uint32_t)np;
    }
    return ESC_OK;
}

/* ---- BinXML parsing ------------------------------------------------------------------- */

typedef struct pstate {
    dec *d;
    esc_arena *arena;
    bool in_template;
    int depth;
} pstate;

static tnode *new_node(pstate *ps, int kind) {
    tnode *n = esc_arena_alloc(ps->arena, sizeof *n);
    if (!n)
        return NULL;
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    return n;
}

static esc_status oom_node(pstate *ps, uint32_t at) {
    return arena_fail(ps->d, ps->arena, sizeof(tnode), at,
                      "BinXML needs more than the per-chunk memory cap");
}

static esc_status parse_content(pstate *ps, uint32_t *pos, uint32_t end, tnode **first, bool top);
static esc_status get_template(dec *d, uint32_t def_off, const tnode **root);

static esc_status parse_tinst(pstate *ps, uint32_t *pos, uint32_t end, tnode **out) {
    dec *d = ps->d;
    evtx_chunk *c = d->c;
    uint32_t at = *pos, p = *pos + 1;
    if (ps->in_template)
        return fail_at(d, at, "template instance inside a template definition");
    if ((uint64_t)p + 9 > end)
        return fail_at(d, at, "truncated template instance");
    uint32_t def_off = evtx_le32(c->data + p + 5);
    p += 9;
    if (def_off == p) {
        if ((uint64_t)p + 24 > end)
            return fail_at(d, p, "truncated template definition");
        uint32_t dsize = evtx_le32(c->data + p + 20);
        if ((uint64_t)p + 24 + dsize > end)
            return fail_fmt(d, p, "template definition size %lu runs past the record",
                            (unsigned long)(dsize));
        p += 24 + dsize;
    }
    const tnode *root = NULL;
    esc_status st = get_template(d, def_off, &root);
    if (st)
        return st;
    if ((uint64_t)p + 4 > end)
        return fail_at(d, p, "truncated substitution array");
    uint32_t n = evtx_le32(c->data + p);
    p += 4;
    if (n > MAX_SUBST || (uint64_t)n * 4 > end - p)
        return fail_fmt(d, p - 4, "substitution count %lu out of range", (unsigned long)(n));
    val *v = n ? esc_arena_alloc(ps->arena, n * sizeof *v) : NULL;
    if (n && !v)
        return arena_fail(d, ps->arena, n * sizeof *v, at,
                          "BinXML needs more than the per-chunk memory cap");
    uint32_t q = p + n * 4;
    for (uint32_t i = 0; i < n; i++) {
        v[i].size = evtx_le16(c->data + p + 4 * i);
        v[i].type = c->data[p + 4 * i + 2];
        v[i].off = q;
        if ((uint64_t)q + v[i].size > end)
            return fail_fmt(d, p + 4 * i, "substitution value %lu runs past the record",
                            (unsigned long)(i));
        q += v[i].size;
    }
    tnode *t = new_node(ps, N_TINST);
    if (!t)
        return oom_node(ps, at);
    t->troot = root;
    t->vc.v = v;
    t->vc.n = n;
    *pos = q;
    *out = t;
    return ESC_OK;
}

static const char *entity_text(esc_str name) {
    if (esc_str_eq_c(name, "amp"))
        return "&";
    if (esc_str_eq_c(name, "lt"))
        return "<";
    if (esc_str_eq_c(name, "gt"))
        return ">";
    if (esc_str_eq_c(name, "quot"))
        return "\"";
    if (esc_str_eq_c(name, "apos"))
        return "'";
    return NULL;
}

/* A text node of the nc UTF-16 units at *p (the token at at, named what in messages); *p moves
 * past them. */
static esc_status counted_text(pstate *ps, uint32_t at, uint32_t *p, uint32_t nc, uint32_t end,
                               const char *what, tnode **out) {
    dec *d = ps->d;
    if ((uint64_t)*p + 2ull * nc > end)
        return fail_fmt(d, at, "%s runs past its fragment", what);
    if (!(*out = new_node(ps, N_TEXT)))
        return oom_node(ps, at);
    esc_status st = make_name(d, d->c->data + *p, nc, &(*out)->text);
    if (st)
        return st;
    *p += 2 * nc;
    return ESC_OK;
}

/* One content token at *pos (value, substitution, char/entity reference, CDATA): a node. */
static esc_status parse_value_token(pstate *ps, uint32_t *pos, uint32_t end, tnode **out) {
    dec *d = ps->d;
    evtx_chunk *c = d->c;
    const unsigned char *b = c->data;
    uint32_t at = *pos, p = *pos + 1;
    uint8_t tok = b[at] & 0xBF;
    tnode *n = NULL;
    switch (tok) {
    case 0x05: { /* value text */
        if ((uint64_t)p + 3 > end)
            return fail_at(d, at, "truncated value token");
        uint8_t vt = b[p];
        if (vt != 0x01)
            return fail_fmt(d, at, "value token of type 0x%02lx", (unsigned long)(vt));
        p += 3;
        esc_status st = counted_text(ps, at, &p, evtx_le16(b + p - 2), end, "value text", &n);
        if (st)
            return st;
        break;
    }
    case 0x07: { /* CDATA */
        if ((uint64_t)p + 2 > end)
            return fail_at(d, at, "truncated CDATA token");
        p += 2;
        esc_status st = counted_text(ps, at, &p, evtx_le16(b + p - 2), end, "CDATA", &n);
        if (st)
            return st;
        break;
    }
    case 0x08: { /* character reference */
        if ((uint64_t)p + 2 > end)
            return fail_at(d, at, "truncated character reference");
        if (!(n = new_node(ps, N_TEXT)))
            return oom_node(ps, at);
        esc_status st = make_name(d, b + p, 1, &n->text);
        if (st)
            return st;
        p += 2;
        break;
    }
    case 0x09: { /* entity reference */
        if ((uint64_t)p + 4 > end)
            return fail_at(d, at, "truncated entity reference");
        uint32_t off = evtx_le32(b + p);
        p += 4;
        esc_str name;
        esc_status st = read_name(d, off, &p, end, &name);
        if (st)
            return st;
        if (!(n = new_node(ps, N_TEXT)))
            return oom_node(ps, at);
        const char *t = entity_text(name);
        if (t) {
            n->text = esc_str_c(t);
        } else {
            char *s = esc_arena_alloc(&c->tarena, name.len + 3);
            if (!s)
                return arena_fail(d, &c->tarena, name.len + 3, at,
                                  "chunk needs too much memory for names");
            s[0] = '&';
            memcpy(s + 1, name.ptr, name.len);
            s[name.len + 1] = ';';
            n->text = esc_str_make(s, name.len + 2);
        }
        break;
    }
    case 0x0d:
    case 0x0e: /* substitution */
        if ((uint64_t)p + 3 > end)
            return fail_at(d, at, "truncated substitution token");
        if (!(n = new_node(ps, N_SUBST)))
            return oom_node(ps, at);
        n->index = evtx_le16(b + p);
        n->vtype = b[p + 2];
        n->optional = tok == 0x0e;
        p += 3;
        break;
    default:
        return fail_fmt(d, at, "unexpected BinXML token 0x%02lx", (unsigned long)(b[at]));
    }
    *pos = p;
    *out = n;
    return ESC_OK;
}

static bool is_value_token(uint8_t t) {
    switch (t) {
    case 0x05:
    case 0x45:
    case 0x07:
    case 0x47:
    case 0x08:
    case 0x48:
    case 0x09:
    case 0x49:
    case 0x0d:
    case 0x0e:
        return true;
    default:
        return false;
    }
}

static esc_status parse_elem(pstate *ps, uint32_t *pos, uint32_t end, tnode **out) {
    dec *d = ps->d;
    const unsigned char *b = d->c->data;
    uint32_t at = *pos, p = *pos + 1;
    uint8_t tok = b[at];
    esc_status st;
    if (ps->depth >= MAX_ELEM_DEPTH)
        return fail_at(d, at, "elements nested too deeply");
    if ((uint64_t)p + 8 > end)
        return fail_at(d, at, "truncated element");
    /* Element headers in template definitions carry a 2-byte dependency identifier before the
     * data size; elements written directly in a record or in a BinXML substitution value do not
     * (the Rust evtx crate parses them so: read_open_start_element_cursor, has_dep_id false
     * outside templates). Outside templates the layout without it is taken unless only the one
     * with it gives a plausible name offset (inline right after the header, or earlier in the
     * chunk), which keeps reading writers that add the identifier everywhere. */
    bool dep = ps->in_template;
    if (!dep && (uint64_t)p + 10 <= end) {
        uint32_t n0 = evtx_le32(b + p + 4), n1 = evtx_le32(b + p + 6);
        bool ok0 = n0 == p + 8 || (n0 >= EVTX_CHUNK_HEADER && n0 < at);
        bool ok1 = n1 == p + 10 || (n1 >= EVTX_CHUNK_HEADER && n1 < at);
        dep = !ok0 && ok1;
    }
    if (dep && (uint64_t)p + 10 > end)
        return fail_at(d, at, "truncated element");
    p += dep ? 2u : 0u; /* dependency identifier */
    p += 4;             /* data size: not needed, the end tokens delimit the element */
    uint32_t name_off = evtx_le32(b + p);
    p += 4;
    tnode *el = new_node(ps, N_ELEM);
    if (!el)
        return oom_node(ps, at);
    if ((st = read_name(d, name_off, &p, end, &el->text)))
        return st;
    el->plain = plain_name(el->text);
    if (tok & 0x40) {
        if ((uint64_t)p + 4 > end)
            return fail_at(d, at, "truncated attribute list");
        p += 4;
    }
    tnode **ap = &el->attrs;
    while (p < end && (b[p] == 0x06 || b[p] == 0x46)) {
        uint32_t aat = p++;
        if ((uint64_t)p + 4 > end)
            return fail_at(d, aat, "truncated attribute");
        uint32_t aoff = evtx_le32(b + p);
        p += 4;
        tnode *a = new_node(ps, N_ATTR);
        if (!a)
            return oom_node(ps, aat);
        if ((st = read_name(d, aoff, &p, end, &a->text)))
            return st;
        a->plain = plain_name(a->text);
        tnode **kp = &a->kids;
        while (p < end && is_value_token(b[p])) {
            tnode *v;
            if ((st = parse_value_token(ps, &p, end, &v)))
                return st;
            *kp = v;
            kp = &v->next;
        }
        *ap = a;
        ap = &a->next;
    }
    if (p >= end)
        return fail_at(d, at, "element runs past its fragment");
    if (b[p] == 0x03) { /* close empty element */
        p++;
    } else if (b[p] == 0x02) {
        p++;
        ps->depth++;
        st = parse_content(ps, &p, end, &el->kids, false);
        ps->depth--;
        if (st)
            return st;
    } else {
        return fail_fmt(d, p, "unexpected BinXML token 0x%02lx in a start element",
                        (unsigned long)(b[p]));
    }
    *pos = p;
    *out = el;
    return ESC_OK;
}

/* Content until an end-element token (consumed) or, at top level, the end-of-fragment token
 * or the end of the bytes. */
static esc_status parse_content(pstate *ps, uint32_t *pos, uint32_t end, tnode **first, bool top) {
    dec *d = ps->d;
    const unsigned char *b = d->c->data;
    uint32_t p = *pos;
    tnode **kp = first;
    esc_status st;
    for (;;) {
        if (p >= end) {
            if (top)
                break;
            return fail_at(d, p, "element not closed before the end of its fragment");
        }
        uint8_t t = b[p];
        tnode *n = NULL;
        if (t == 0x00) {
            if (!top)
                return fail_at(d, p, "end of fragment inside an element");
            p++;
            break;
        } else if (t == 0x04) {
            if (top)
                return fail_at(d, p, "end-element token outside an element");
            p++;
            break;
        } else if (t == 0x01 || t == 0x41) {
            if ((st = parse_elem(ps, &p, end, &n)))
                return st;
        } else if (t == 0x0c) {
            if ((st = parse_tinst(ps, &p, end, &n)))
                return st;
        } else if (t == 0x0f) {
            if ((uint64_t)p + 4 > end)
                return fail_at(d, p, "truncated fragment header");
            p += 4;
        } else if (t == 0x0a) { /* processing instruction target: skipped */
            if ((uint64_t)p + 5 > end)
                return fail_at(d, p, "truncated PI target");
            uint32_t off = evtx_le32(b + p + 1);
            p += 5;
            esc_str name;
            if ((st = read_name(d, off, &p, end, &name)))
                return st;
        } else if (t == 0x0b) { /* processing instruction data: skipped */
            if ((uint64_t)p + 3 > end)
                return fail_at(d, p, "truncated PI data");
            uint32_t nc = evtx_le16(b + p + 1);
            if ((uint64_t)p + 3 + 2ull * nc > end)
                return fail_at(d, p, "PI data runs past its fragment");
            p += 3 + 2 * nc;
        } else if (is_value_token(t)) {
            if ((st = parse_value_token(ps, &p, end, &n)))
                return st;
        } else {
            return fail_fmt(d, p, "unknown BinXML token 0x%02lx", (unsigned long)(t));
        }
        if (n) {
            *kp = n;
            kp = &n->next;
        }
    }
    *pos = p;
    return ESC_OK;
}

static esc_status get_template(dec *d, uint32_t def_off, const tnode **root) {
    evtx_chunk *c = d->c;
    size_t h = (def_off * 2654435761u) & (TCACHE_CAP - 1);
    evtx_template *t = NULL;
    for (size_t i = 0; i < TCACHE_CAP; i++) {
        evtx_template *e = c->tcache[(h + i) & (TCACHE_CAP - 1)];
        if (!e) {
            t = esc_arena_alloc(&c->tarena, sizeof *t);
            if (!t)
                return arena_fail(d, &c->tarena, sizeof *t, def_off,
                                  "chunk needs too much memory for templates");
            t->off = def_off;
            t->seq = c->ntemplates++;
            t->state = 0;
            t->root = NULL;
            c->tcache[(h + i) & (TCACHE_CAP - 1)] = t;
            break;
        }
        if (e->off == def_off) {
            if (e->state == 1) {
                *root = e->root;
                return ESC_OK;
            }
            return fail_fmt(d, def_off,
                            e->state == 0 ? "template at chunk offset 0x%lx references itself"
                                          : "template at chunk offset 0x%lx is broken",
                            (unsigned long)(def_off));
        }
    }
    if (!t)
        return fail_at(d, def_off, "too many templates in one chunk");
    /* compile */
    if (def_off < EVTX_CHUNK_HEADER || (uint64_t)def_off + 24 > c->len) {
        t->state = -1;
        return fail_fmt(d, def_off, "template offset 0x%lx out of range", (unsigned long)(def_off));
    }
    uint32_t dsize = evtx_le32(c->data + def_off + 20);
    uint64_t end = (uint64_t)def_off + 24 + dsize;
    if (end > c->len) {
        t->state = -1;
        return fail_fmt(d, def_off, "template size %lu runs past the chunk",
                        (unsigned long)(dsize));
    }
    pstate ps = {d, &c->tarena, true, 0};
    uint32_t p = def_off + 24;
    tnode *first = NULL;
    esc_status st = parse_content(&ps, &p, (uint32_t)end, &first, true);
    if (st) {
        t->state = -1;
        return st;
    }
    while (first && first->kind != N_ELEM)
        first = first->next;
    if (!first) {
        t->state = -1;
        return fail_at(d, def_off, "template has no element");
    }
    t->root = first;
    t->state = 1;
    *root = first;
    return ESC_OK;
}

/* ---- value rendering ------------------------------------------------------------------ */

#define FILETIME_UNIX_DIFF INT64_C(116444736000000000)

static esc_status put_filetime(dec *d, uint64_t ft) {
    int64_t t = (int64_t)(ft / 10000000u) - FILETIME_UNIX_DIFF / 10000000;
    unsigned frac = (unsigned)(ft % 10000000u);
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t sod = t - days * 86400;
    char tmp[32];
    size_t n = esc_fmt_datetime(tmp, t);
    if (n) { /* years 0..9999: always, in practice */
        tmp[n++] = '.';
        n += esc_fmt_u64(tmp + n, frac, 7);
        tmp[n++] = 'Z';
        return put(d, tmp, n);
    }
    int64_t y;
    int m, dd;
    esc_time_civil(days, &y, &m, &dd);
    return putf(d, "%04" PRId64 "-%02d-%02dT%02u:%02u:%02u.%07uZ", y, m, dd, (unsigned)(sod / 3600),
                (unsigned)(sod / 60 % 60), (unsigned)(sod % 60), frac);
}

/* {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}, upper case, the first three groups little-endian. */
static esc_status put_guid(dec *d, const unsigned char *b) {
    char tmp[38];
    tmp[0] = '{';
    esc_fmt_hex(tmp + 1, evtx_le32(b), 8, true);
    tmp[9] = '-';
    esc_fmt_hex(tmp + 10, evtx_le16(b + 4), 4, true);
    tmp[14] = '-';
    esc_fmt_hex(tmp + 15, evtx_le16(b + 6), 4, true);
    tmp[19] = '-';
    esc_fmt_hex(tmp + 20, (uint64_t)b[8] << 8 | b[9], 4, true);
    tmp[24] = '-';
    uint64_t node = 0;
    for (int i = 10; i < 16; i++)
        node = node << 8 | b[i];
    esc_fmt_hex(tmp + 25, node, 12, true);
    tmp[37] = '}';
    return put(d, tmp, sizeof tmp);
}

/* SYSTEMTIME as "%04u-%02u-%02uT%02u:%02u:%02u.%03u0000Z" (fields are 16-bit: a field past its
 * width is written whole, as printf does). */
static esc_status put_systemtime(dec *d, const unsigned char *b) {
    static const unsigned at[7] = {0, 2, 6, 8, 10, 12, 14}, width[7] = {4, 2, 2, 2, 2, 2, 3};
    static const char sep[7] = {'-', '-', 'T', ':', ':', '.', 0};
    char tmp[64];
    size_t k = 0;
    for (int i = 0; i < 7; i++) {
        k += esc_fmt_u64(tmp + k, evtx_le16(b + at[i]), width[i]);
        if (sep[i])
            tmp[k++] = sep[i];
    }
    memcpy(tmp + k, "0000Z", 5);
    return put(d, tmp, k + 5);
}

static size_t fixed_size(uint8_t t) {
    switch (t) {
    case 0x03:
    case 0x04:
        return 1;
    case 0x05:
    case 0x06:
        return 2;
    case 0x07:
    case 0x08:
    case 0x0b:
    case 0x0d:
    case 0x14:
        return 4;
    case 0x09:
    case 0x0a:
    case 0x0c:
    case 0x11:
    case 0x15:
        return 8;
    case 0x0f:
    case 0x12:
        return 16;
    default:
        return 0;
    }
}

static esc_status put_scalar(dec *d, uint8_t t, const unsigned char *b, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    size_t fs = fixed_size(t);
    if (fs && n < fs)
        return ESC_OK; /* short value: rendered empty */
    switch (t) {
    case 0x00:
        return ESC_OK;
    case 0x01: {
        size_t u = n / 2;
        while (u && b[2 * u - 2] == 0 && b[2 * u - 1] == 0)
            u--;
        return put_utf16(d, b, u);
    }
    case 0x02: {
        size_t k = n;
        while (k && b[k - 1] == 0)
            k--;
        esc_status st = text_room(d, k * 3);
        if (st)
            return st;
        size_t rep = 0;
        st = esc_utf8_repair(d->out, (const char *)b, k, &rep);
        d->repaired += rep ? 1 : 0;
        return st;
    }
    case 0x03:
        return put_i64(d, (int8_t)b[0]);
    case 0x04:
        return put_u64(d, b[0]);
    case 0x05:
        return put_i64(d, (int16_t)evtx_le16(b));
    case 0x06:
        return put_u64(d, evtx_le16(b));
    case 0x07:
        return put_i64(d, (int32_t)evtx_le32(b));
    case 0x08:
        return put_u64(d, evtx_le32(b));
    case 0x09:
        return put_i64(d, (int64_t)evtx_le64(b));
    case 0x0a:
        return put_u64(d, evtx_le64(b));
    case 0x0b: {
        float f;
        uint32_t u = evtx_le32(b);
        memcpy(&f, &u, 4);
        return putf(d, "%g", (double)f);
    }
    case 0x0c: {
        double f;
        uint64_t u = evtx_le64(b);
        memcpy(&f, &u, 8);
        return putf(d, "%g", f);
    }
    case 0x0d:
        return put(d, evtx_le32(b) ? "true" : "false", evtx_le32(b) ? 4 : 5);
    case 0x0e: {
        esc_status st = text_room(d, n * 2);
        if (st)
            return st;
        char *o = d->out->ptr + d->out->len;
        for (size_t i = 0; i < n; i++) {
            o[2 * i] = hex[b[i] >> 4];
            o[2 * i + 1] = hex[b[i] & 15];
        }
        d->out->len += n * 2;
        d->out->ptr[d->out->len] = 0;
        return ESC_OK;
    }
    case 0x0f:
        return put_guid(d, b);
    case 0x10: /* SizeT (win:Pointer): unpadded hex, as Windows renders it (docs/evtx.md) */
        if (n >= 8)
            return put_hex(d, evtx_le64(b), 0);
        if (n >= 4)
            return put_hex(d, evtx_le32(b), 0);
        return ESC_OK;
    case 0x11:
        return put_filetime(d, evtx_le64(b));
    case 0x12:
        return put_systemtime(d, b);
    case 0x13: {
        if (n < 8)
            return ESC_OK;
        unsigned cnt = b[1];
        if (n < 8 + 4 * (size_t)cnt)
            return ESC_OK;
        uint64_t auth = 0;
        for (int i = 2; i < 8; i++)
            auth = (auth << 8) | b[i];
        char tmp[ESC_FMT_MAX * 2];
        size_t k = 2;
        memcpy(tmp, "S-", 2);
        k += esc_fmt_u64(tmp + k, b[0], 0);
        tmp[k++] = '-';
        if (auth >> 32) {
            memcpy(tmp + k, "0x", 2);
            k += 2 + esc_fmt_hex(tmp + k + 2, auth, 12, true);
        } else {
            k += esc_fmt_u64(tmp + k, auth, 0);
        }
        esc_status st = put(d, tmp, k);
        for (unsigned i = 0; i < cnt && !st; i++) {
            tmp[0] = '-';
            st = put(d, tmp, 1 + esc_fmt_u64(tmp + 1, evtx_le32(b + 8 + 4 * i), 0));
        }
        return st;
    }
    case 0x14:
        return put_hex(d, evtx_le32(b), 0);
    case 0x15:
        return put_hex(d, evtx_le64(b), 0);
    default:
        return ESC_OK; /* EvtHandle, BinXml and EvtXml have no text form here */
    }
}

/* Render a value; arrays are joined with ", " (Data elements expand them instead). */
static esc_status put_value(dec *d, const val *v) {
    const unsigned char *b = d->c->data + v->off;
    if (!(v->type & 0x80))
        return put_scalar(d, v->type, b, v->size);
    uint8_t t = v->type & 0x7F;
    esc_status st = ESC_OK;
    if (t == 0x01) {
        size_t n = v->size / 2, s = 0;
        bool firstitem = true;
        for (size_t i = 0; i <= n && !st; i++) {
            if (i == n || (b[2 * i] == 0 && b[2 * i + 1] == 0)) {
                if (i == n && s == n)
                    break;
                if (!firstitem)
                    st = put(d, ", ", 2);
                if (!st)
                    st = put_utf16(d, b + 2 * s, i - s);
                firstitem = false;
                s = i + 1;
            }
        }
        return st;
    }
    size_t fs = fixed_size(t);
    if (!fs)
        return ESC_OK;
    for (size_t i = 0; i + fs <= v->size && !st; i += fs) {
        if (i)
            st = put(d, ", ", 2);
        if (!st)
            st = put_scalar(d, t, b + i, fs);
    }
    return st;
}

/* ---- extraction ----------------------------------------------------------------------- */

static const val *lookup(const vctx *vc, const tnode *s) {
    return s->index < vc->n ? &vc->v[s->index] : NULL;
}

/* Append the text content of a node list (element content or attribute value). */
static esc_status node_text(dec *d, const tnode *k, const vctx *vc) {
    esc_status st = ESC_OK;
    for (; k && !st; k = k->next) {
        if (k->kind == N_TEXT) {
            st = put(d, k->text.ptr, k->text.len);
        } else if (k->kind == N_SUBST) {
            const val *v = lookup(vc, k);
            if (v && v->type != 0x21)
                st = put_value(d, v);
        }
    }
    return st;
}

static const tnode *find_attr(const tnode *el, const char *name) {
    for (const tnode *a = el->attrs; a; a = a->next)
        if (esc_str_eq_c(a->text, name))
            return a;
    return NULL;
}

static evtx_span span_from(dec *d, size_t start) {
    evtx_span s = {(uint32_t)start, (uint32_t)(d->out->len - start)};
    return s;
}

typedef esc_status (*elem_cb)(dec *d, const tnode *el, const vctx *vc);

/* Parse a BinXML substitution value into top-level nodes (record arena). */
static esc_status parse_nested(dec *d, const val *v, tnode **first) {
    if (d->nest >= MAX_NEST)
        return fail_at(d, v->off, "BinXML values nested too deeply");
    pstate ps = {d, &d->c->rarena, false, 0};
    uint32_t p = v->off;
    return parse_content(&ps, &p, v->off + v->size, first, true);
}

static esc_status each_top(dec *d, const tnode *n, elem_cb cb) {
    esc_status st = ESC_OK;
    for (; n && !st; n = n->next) {
        if (n->kind == N_ELEM)
            st = cb(d, n, &no_values);
        else if (n->kind == N_TINST)
            st = cb(d, n->troot, &n->vc);
    }
    return st;
}

/* Call cb for every child element of el, looking through BinXML substitution values. */
static esc_status each_child(dec *d, const tnode *el, const vctx *vc, elem_cb cb) {
    esc_status st = ESC_OK;
    for (const tnode *k = el->kids; k && !st; k = k->next) {
        if (k->kind == N_ELEM) {
            st = cb(d, k, vc);
        } else if (k->kind == N_SUBST) {
            const val *v = lookup(vc, k);
            if (v && v->type == 0x21 && v->size) {
                tnode *first = NULL;
                if ((st = parse_nested(d, v, &first)))
                    return st;
                d->nest++;
                st = each_top(d, first, cb);
                d->nest--;
            }
        }
    }
    return st;
}

static bool has_child_elements(const tnode *el, const vctx *vc) {
    for (const tnode *k = el->kids; k; k = k->next) {
        if (k->kind == N_ELEM)
            return true;
        if (k->kind == N_SUBST) {
            const val *v = lookup(vc, k);
            if (v && v->type == 0x21 && v->size)
                return true;
        }
    }
    return false;
}

static esc_status push_kv(dec *d, evtx_span name, evtx_span value) {
    evtx_chunk *c = d->c;
    if (c->nkv - d->kv_start >= MAX_KV_PER_RECORD)
        return fail_at(d, d->err_at, "record has too many data fields");
    if (c->nkv == c->kv_cap) {
        if (c->kv_cap >= MAX_KV_PER_CHUNK)
            return fail_at(d, d->err_at, "chunk has too many data fields");
        if (!ESC_VEC_GROW(c->kvs, c->kv_cap, c->nkv + 1, 256))
            return ESC_ENOMEM;
    }
    c->kvs[c->nkv].name = name;
    c->kvs[c->nkv].value = value;
    c->nkv++;
    return ESC_OK;
}

/* A data field named `name` (already in the text buffer at name_start) whose value is the
 * content of el: arrays held in a single substitution become one field per item, as Windows
 * repeats the element. */
static esc_status emit_field(dec *d, size_t name_start, const tnode *el, const vctx *vc) {
    evtx_span name = span_from(d, name_start);
    /* An element whose only content is an empty optional substitution is not rendered. */
    if (el->kids && !el->kids->next && el->kids->kind == N_SUBST && el->kids->optional) {
        const val *v = lookup(vc, el->kids);
        if (!v || v->type == 0 || v->size == 0) {
            d->out->len = name_start;
            return ESC_OK;
        }
    }
    /* a recovered candidate formats every field, so that whether it decodes does not depend
     * on the interest set (hunt and dump count the same records) */
    if (!d->recovered && !esc_interest_wants_field(d->c->interest, evtx_chunk_str(d->c, name))) {
        d->out->len = name_start;
        return ESC_OK;
    }
    const tnode *k = el->kids;
    if (k && !k->next && k->kind == N_SUBST) {
        const val *v = lookup(vc, k);
        if (v && (v->type & 0x80)) {
            uint8_t t = v->type & 0x7F;
            const unsigned char *b = d->c->data + v->off;
            esc_status st = ESC_OK;
            if (t == 0x01) {
                size_t n = v->size / 2, s = 0;
                for (size_t i = 0; i < n && !st; i++) {
                    if (b[2 * i] == 0 && b[2 * i + 1] == 0) {
                        size_t vs = d->out->len;
                        if (!(st = put_utf16(d, b + 2 * s, i - s)))
                            st = push_kv(d, name, span_from(d, vs));
                        s = i + 1;
                    }
                }
                if (!st && s < n) {
                    size_t vs = d->out->len;
                    if (!(st = put_utf16(d, b + 2 * s, n - s)))
                        st = push_kv(d, name, span_from(d, vs));
                }
                return st;
            }
            size_t fs = fixed_size(t);
            for (size_t i = 0; fs && i + fs <= v->size && !st; i += fs) {
                size_t vs = d->out->len;
                if (!(st = put_scalar(d, t, b + i, fs)))
                    st = push_kv(d, name, span_from(d, vs));
            }
            return st;
        }
    }
    size_t vs = d->out->len;
    esc_status st = node_text(d, el->kids, vc);
    if (st)
        return st;
    return push_kv(d, name, span_from(d, vs));
}

static esc_status leaf_cb(dec *d, const tnode *el, const vctx *vc) {
    if (has_child_elements(el, vc))
        return each_child(d, el, vc, leaf_cb);
    size_t ns = d->out->len;
    esc_status st = put(d, el->text.ptr, el->text.len);
    if (st)
        return st;
    return emit_field(d, ns, el, vc);
}

/* An element that makes no field (docs/fields.md), decoded all the same and then dropped: a
 * record counts as decoded only when all of it decodes, which --recover relies on. */
static esc_status decode_unused(dec *d, const tnode *el, const vctx *vc) {
    size_t out = d->out->len, nkv = d->c->nkv;
    esc_status st = leaf_cb(d, el, vc);
    d->out->len = out;
    d->c->nkv = nkv;
    return st;
}

/* EventData's Data elements by Name. Its other children (the classic events' <Binary>) make
 * no field, as in the XML reader: Splunk's own field lists of such events (escu-full's
 * data_sources/windows_event_log_system_7036.yml, ..._application_2282.yml) have none. */
static esc_status eventdata_cb(dec *d, const tnode *el, const vctx *vc) {
    if (!esc_str_eq_c(el->text, "Data"))
        return decode_unused(d, el, vc);
    size_t ns = d->out->len;
    const tnode *a = find_attr(el, "Name");
    if (a) {
        esc_status st = node_text(d, a->kids, vc);
        if (st)
            return st;
    }
    return emit_field(d, ns, el, vc);
}

/* One System pair into c->skvs (at most MAX_SYS_PER_RECORD per record; more are dropped). */
static esc_status push_sys(dec *d, evtx_span name, evtx_span value) {
    evtx_chunk *c = d->c;
    if (d->nsys >= MAX_SYS_PER_RECORD)
        return ESC_OK;
    if (c->nskv == c->skv_cap && !ESC_VEC_GROW(c->skvs, c->skv_cap, c->nskv + 1, 256))
        return ESC_ENOMEM;
    c->skvs[c->nskv].name = name;
    c->skvs[c->nskv].value = value;
    c->nskv++;
    d->nsys++;
    return ESC_OK;
}

/* One System element's attributes (Element@Attribute) and text (Element) as pairs, when the
 * interest set asks for them; empty values are left out. */
static esc_status system_pairs(dec *d, const tnode *el, const vctx *vc) {
    const esc_interest *in = d->c->interest;
    if (d->c->skip_sys || !(in->everything || in->system))
        return ESC_OK;
    esc_status st = ESC_OK;
    for (const tnode *a = el->attrs; a && !st; a = a->next) {
        size_t ns = d->out->len;
        if ((st = put(d, el->text.ptr, el->text.len)) || (st = put(d, "@", 1)) ||
            (st = put(d, a->text.ptr, a->text.len)))
            return st;
        evtx_span name = span_from(d, ns);
        size_t vs = d->out->len;
        if ((st = node_text(d, a->kids, vc)))
            return st;
        if (d->out->len == vs)
            d->out->len = ns;
        else
            st = push_sys(d, name, span_from(d, vs));
    }
    if (st || !el->kids || has_child_elements(el, vc))
        return st;
    size_t ns = d->out->len;
    if ((st = put(d, el->text.ptr, el->text.len)))
        return st;
    evtx_span name = span_from(d, ns);
    size_t vs = d->out->len;
    if ((st = node_text(d, el->kids, vc)))
        return st;
    if (d->out->len == vs)
        d->out->len = ns;
    else
        st = push_sys(d, name, span_from(d, vs));
    return st;
}

static esc_status system_cb(dec *d, const tnode *el, const vctx *vc) {
    esc_status pst = system_pairs(d, el, vc);
    if (pst)
        return pst;
    esc_str n = el->text;
    size_t s = d->out->len;
    esc_status st = ESC_OK;
    if (esc_str_eq_c(n, "Provider")) {
        const tnode *a = find_attr(el, "Name");
        if (a && !(st = node_text(d, a->kids, vc))) {
            d->provider = span_from(d, s);
            d->has_provider = true;
        }
    } else if (esc_str_eq_c(n, "EventID")) {
        if ((st = node_text(d, el->kids, vc)))
            return st;
        esc_str t = esc_str_make(d->out->ptr + s, d->out->len - s);
        uint64_t v = 0;
        size_t i = 0;
        while (i < t.len && t.ptr[i] >= '0' && t.ptr[i] <= '9' && v <= UINT32_MAX)
            v = v * 10 + (uint64_t)(t.ptr[i++] - '0');
        if (t.len && i == t.len && v <= UINT32_MAX) {
            d->event_id = (uint32_t)v;
            d->has_event_id = true;
        }
        d->out->len = s;
    } else if (esc_str_eq_c(n, "EventRecordID")) {
        if ((st = node_text(d, el->kids, vc)))
            return st;
        esc_str t = esc_str_make(d->out->ptr + s, d->out->len - s);
        uint64_t v = 0;
        size_t i = 0;
        while (i < t.len && t.ptr[i] >= '0' && t.ptr[i] <= '9' && v < UINT64_MAX / 10)
            v = v * 10 + (uint64_t)(t.ptr[i++] - '0');
        if (t.len && i == t.len) {
            d->record_id = v;
            d->has_record_id = true;
        }
        d->out->len = s;
    } else if (esc_str_eq_c(n, "Channel")) {
        if (!(st = node_text(d, el->kids, vc)))
            d->channel = span_from(d, s);
    } else if (esc_str_eq_c(n, "Computer")) {
        if (!(st = node_text(d, el->kids, vc)))
            d->computer = span_from(d, s);
    } else if (esc_str_eq_c(n, "TimeCreated")) {
        const tnode *a = find_attr(el, "SystemTime");
        if (!a)
            return ESC_OK;
        const tnode *k = a->kids;
        const val *v = k && !k->next && k->kind == N_SUBST ? lookup(vc, k) : NULL;
        if (v && v->type == 0x11 && v->size == 8) {
            uint64_t ft = evtx_le64(d->c->data + v->off);
            d->time_us = (int64_t)(ft / 10) - FILETIME_UNIX_DIFF / 10;
            d->has_time = true;
        } else if (!(st = node_text(d, a->kids, vc))) {
            esc_str t = esc_str_make(d->out->ptr + s, d->out->len - s);
            d->has_time = esc_time_parse_iso(t, &d->time_us);
            d->out->len = s;
        }
    }
    return st;
}

static esc_status section_cb(dec *d, const tnode *el, const vctx *vc) {
    if (esc_str_eq_c(el->text, "System")) {
        esc_status st = each_child(d, el, vc, system_cb);
        if (st)
            return st;
        esc_str prov = d->has_provider ? evtx_chunk_str(d->c, d->provider) : ESC_STR("");
        if (!esc_interest_wants_windows(d->c->interest, prov, d->event_id)) {
            d->rejected = true;
            /* a recovered candidate is decoded whole all the same: it counts as a record
             * only if it decodes whole, as dump (which rejects nothing) would print it */
            return d->recovered ? ESC_OK : ESC_SKIP;
        }
        return ESC_OK;
    }
    if (d->c->skip_data)
        return ESC_OK;
    if (esc_str_eq_c(el->text, "EventData"))
        return each_child(d, el, vc, eventdata_cb);
    if (esc_str_eq_c(el->text, "RenderingInfo"))
        return ESC_OK;
    /* the schema's other sections make no field, as in the XML reader; a section of another
     * name (a recovered record's damaged template) keeps its leaves for the responder */
    if (esc_str_eq_c(el->text, "ProcessingErrorData") || esc_str_eq_c(el->text, "DebugData") ||
        esc_str_eq_c(el->text, "BinaryEventData"))
        return decode_unused(d, el, vc);
    return each_child(d, el, vc, leaf_cb); /* UserData, ... */
}

static esc_status event_cb(dec *d, const tnode *el, const vctx *vc) {
    esc_status st = each_child(d, el, vc, section_cb);
    return st ? st : ESC_EOF; /* only the first top-level element is the event */
}

/* ---- XML rendering (dump --format xml) ------------------------------------------------- */

/* Escape the text appended since s (XML text or an attribute quoted with '): from its first
 * byte to escape, the text is moved aside and written back escaped by the shared writer. */
static esc_status escape_from(dec *d, size_t s) {
    esc_buf *b = d->out, *t = &d->c->unescaped;
    size_t first = s + esc_fmt_xml_scan(b->ptr + s, b->len - s);
    if (first == b->len)
        return ESC_OK; /* the common case: nothing to escape */
    esc_buf_clear(t);
    esc_status st = esc_buf_append(t, b->ptr + first, b->len - first);
    if (st)
        return st;
    b->len = first;
    st = esc_render_xml_str(b, esc_str_make(t->ptr, t->len));
    if (st == ESC_ELIMIT)
        return fail_at(d, d->err_at, "chunk expands to too much text");
    if (!st && over_record_cap(d, 0))
        return record_too_big(d);
    return st;
}

/* Whether a value of this type can render a byte XML escapes: only strings (UTF-16 and ANSI,
 * or arrays of them) can; numbers, GUIDs, SIDs, times and hex never hold & < > ' " or controls. */
static bool textual(uint8_t type) {
    uint8_t t = type & 0x7F;
    return t == 0x01 || t == 0x02;
}

/* Whether the rendered text of a node list may need escaping: template text or a string. */
static bool may_escape(const tnode *k, const vctx *vc) {
    for (; k; k = k->next) {
        const val *v = k->kind == N_SUBST ? lookup(vc, k) : NULL;
        if (k->kind == N_TEXT || (v && textual(v->type)))
            return true;
    }
    return false;
}

static esc_status xml_elem(dec *d, const tnode *el, const vctx *vc);

static esc_status xml_list(dec *d, const tnode *n, const vctx *vc, bool top) {
    esc_status st = ESC_OK;
    for (; n && !st; n = n->next) {
        size_t s = d->out->len;
        if (n->kind == N_ELEM) {
            st = xml_elem(d, n, vc);
        } else if (n->kind == N_TINST) {
            st = xml_elem(d, n->troot, &n->vc);
        } else if (top) {
            continue; /* text around the event element is not part of it */
        } else if (n->kind == N_TEXT) {
            if (!(st = put(d, n->text.ptr, n->text.len)))
                st = escape_from(d, s);
        } else if (n->kind == N_SUBST) {
            const val *v = lookup(vc, n);
            if (v && v->type == 0x21 && v->size) {
                tnode *first = NULL;
                if ((st = parse_nested(d, v, &first)))
                    return st;
                d->nest++;
                st = xml_list(d, first, &no_values, false);
                d->nest--;
            } else if (v && v->type != 0x21 && !(st = put_value(d, v)) && textual(v->type)) {
                st = escape_from(d, s);
            }
        }
        if (!st && top && (n->kind == N_ELEM || n->kind == N_TINST))
            break; /* only the first top-level element is the event */
    }
    return st;
}

/* Whether the node list is a single substitution with no value (an optional one is not
 * rendered at all; an attribute holding one is left out, as Windows does). */
static bool empty_subst(const tnode *k, const vctx *vc) {
    if (!k || k->next || k->kind != N_SUBST)
        return false;
    const val *v = lookup(vc, k);
    return !v || v->type == 0 || v->size == 0;
}

/* The inner XML of an element named name, written from body on, when it is a part
 * (esc_event.parts): at depth 1 one of <Event>'s children, at depth 2 LogFileCleared. */
static void record_part(dec *d, esc_str name, size_t body) {
    int k = d->xdepth == 2 ? ESC_XML_LOGFILECLEARED : 0;
    int end = d->xdepth == 2 ? ESC_XML_NPARTS : ESC_XML_LOGFILECLEARED;
    for (; k < end; k++)
        if (esc_str_eq_c(name, esc_xml_part_names[k]))
            d->parts[k] = span_from(d, body);
}

/* One element with its attributes and content; <name/> when nothing is inside. An element
 * whose only content is an array substitution is repeated once per item, as Windows does. */
static esc_status xml_one(dec *d, const tnode *el, const vctx *vc, const val *item) {
    esc_status st = put_tag(d, "<", 1, el, "", 0);
    for (const tnode *a = el->attrs; a && !st; a = a->next) {
        if (empty_subst(a->kids, vc))
            continue;
        if ((st = put_tag(d, " ", 1, a, "='", 2)))
            return st;
        size_t s = d->out->len;
        if (!(st = node_text(d, a->kids, vc)) &&
            !(st = may_escape(a->kids, vc) ? escape_from(d, s) : ESC_OK))
            st = put(d, "'", 1);
    }
    if (st || (st = put(d, ">", 1)))
        return st;
    size_t body = d->out->len;
    if (item) {
        size_t s = d->out->len;
        if (!(st = put_value(d, item)) && textual(item->type))
            st = escape_from(d, s);
    } else {
        bool ud = d->parts_on && d->xdepth == 1 &&
                  esc_str_eq_c(el->text, esc_xml_part_names[ESC_XML_USERDATA]);
        d->in_userdata |= ud;
        d->xdepth++;
        st = xml_list(d, el->kids, vc, false);
        d->xdepth--;
        d->in_userdata &= !ud;
    }
    if (st)
        return st;
    if (d->out->len == body) {
        d->out->len = body - 1;
        return put(d, "/>", 2);
    }
    if (d->parts_on && (d->xdepth == 1 || (d->xdepth == 2 && d->in_userdata)))
        record_part(d, el->text, body);
    return put_tag(d, "</", 2, el, ">", 1);
}

/* Recursion depth: the tree is at most MAX_ELEM_DEPTH elements deep per BinXML level and
 * MAX_NEST levels deep (both checked when it was parsed). */
static esc_status xml_elem(dec *d, const tnode *el, const vctx *vc) {
    const tnode *k = el->kids;
    if (k && !k->next && k->kind == N_SUBST) {
        const val *v = lookup(vc, k);
        if (k->optional && (!v || v->type == 0 || v->size == 0))
            return ESC_OK;
        if (v && (v->type & 0x80) && v->type != 0x81) {
            size_t fs = fixed_size(v->type & 0x7F);
            esc_status st = ESC_OK;
            for (size_t i = 0; fs && i + fs <= v->size && !st; i += fs) {
                val one = {v->off + (uint32_t)i, (uint16_t)fs, (uint8_t)(v->type & 0x7F)};
                st = xml_one(d, el, vc, &one);
            }
            return st;
        }
        if (v && v->type == 0x81) { /* string array: one element per NUL-terminated item */
            const unsigned char *b = d->c->data + v->off;
            uint32_t n = v->size / 2, s = 0;
            esc_status st = ESC_OK;
            for (uint32_t i = 0; i <= n && !st; i++) {
                if (i < n && (b[2 * i] || b[2 * i + 1]))
                    continue;
                if (i == n && s == n)
                    break;
                val one = {v->off + 2 * s, (uint16_t)(2 * (i - s)), 0x01};
                st = xml_one(d, el, vc, &one);
                s = i + 1;
            }
            return st;
        }
    }
    return xml_one(d, el, vc, NULL);
}

/* ---- items ---------------------------------------------------------------------------- */

static evtx_item *new_item(evtx_chunk *c) {
    if (c->nitems == c->items_cap && !ESC_VEC_GROW(c->items, c->items_cap, c->nitems + 1, 256))
        return NULL;
    evtx_item *it = &c->items[c->nitems++];
    memset(it, 0, sizeof *it);
    return it;
}

/* A warning item; its message goes into the text buffer (not subject to the record cap). */
static esc_status warn(evtx_chunk *c, uint32_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static esc_status warn(evtx_chunk *c, uint32_t at, const char *fmt, ...) {
    char tmp[ESC_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof tmp)
        n = sizeof tmp - 1;
    size_t start = c->text.len;
    esc_status st = esc_buf_append(&c->text, tmp, (size_t)n);
    if (st == ESC_ELIMIT)
        start = c->text.len, n = 0;
    else if (st)
        return st;
    evtx_item *it = new_item(c);
    if (!it)
        return ESC_ENOMEM;
    it->is_error = true;
    it->offset = c->file_off + at;
    it->msg.off = (uint32_t)start;
    it->msg.len = (uint32_t)n;
    return ESC_OK;
}

/* Whether the record d decoded is to carry esc_event.parts, by its provider, channel and code. */
static bool wants_parts(const dec *d) {
    esc_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = ESC_EV_WINDOWS;
    ev.provider = evtx_chunk_str(d->c, d->provider);
    ev.channel = evtx_chunk_str(d->c, d->channel);
    ev.event_id = d->event_id;
    ev.has_event_id = d->has_event_id;
    return esc_interest_wants_parts(d->c->interest, &ev);
}

/* How a record is decoded: a live record (a broken one is a warning), a slack-space candidate
 * (recovered; a broken one is garbage, not a warning, and it must have a complete System
 * element), or a live record tried on weak evidence (a broken one is left to the caller). */
enum { REC_LIVE, REC_RECOVERED, REC_TRY };

/* 64-bit FNV-1a over the fields that identify an event: a recovered copy of a live record has
 * the same computer, channel, record id and time (evtx_reader.c folds such copies). */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

static uint64_t event_key(const dec *d, uint64_t record_id) {
    const evtx_chunk *c = d->c;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    h = fnv(h, c->text.ptr + d->computer.off, d->computer.len);
    h = fnv(h, "\0", 1);
    h = fnv(h, c->text.ptr + d->channel.off, d->channel.len);
    h = fnv(h, &record_id, sizeof record_id);
    return fnv(h, &d->time_us, sizeof d->time_us);
}

/* want_json: the item's dump JSON line (and a line break) into c->lines, from the same
 * fields the reader hands out (evtx_reader.c builds the esc_event the same way), so that the
 * line is what esc_render_json would write for it on the reading thread. Past LINES_CAP the item
 * gets no line and the reader's caller renders it. Only ESC_ENOMEM is an error. */
static esc_status render_json_item(evtx_chunk *c, evtx_item *it) {
    uint32_t nsys = c->json_sys ? it->nsys : 0;
    size_t total = (size_t)nsys + it->nkv; /* System, then data */
    if (total > c->jkv_cap) {
        size_t nc = total < 64 ? 64 : total;
        esc_kv *k = esc_realloc(c->jkv, nc * sizeof *k);
        if (!k)
            return ESC_ENOMEM;
        c->jkv = k;
        c->jkv_cap = nc;
    }
    for (uint32_t i = 0; i < total; i++) {
        const evtx_kvspan *k =
            i < nsys ? &c->skvs[it->sys_first + i] : &c->kvs[it->kv_first + i - nsys];
        c->jkv[i].name = evtx_chunk_str(c, k->name);
        c->jkv[i].value = evtx_chunk_str(c, k->value);
    }
    esc_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = ESC_EV_WINDOWS;
    ev.provider = evtx_chunk_str(c, it->provider);
    ev.channel = evtx_chunk_str(c, it->channel);
    ev.computer = evtx_chunk_str(c, it->computer);
    ev.event_id = it->event_id;
    ev.has_event_id = it->has_event_id;
    ev.time_us = it->time_us;
    ev.has_time = it->has_time;
    ev.sys = c->jkv;
    ev.nsys = nsys;
    ev.data = c->jkv + nsys;
    ev.ndata = it->nkv;
    ev.record_id = it->record_id;
    ev.recovered = it->recovered;
    size_t start = c->lines.len;
    esc_status st = c->want_json == 2 ? esc_render_json_object(&ev, &c->lines)
                                      : esc_render_json(&ev, &c->lines);
    if (st == ESC_OK) {
        it->line.off = (uint32_t)start;
        it->line.len = (uint32_t)(c->lines.len - start);
        st = esc_buf_putc(&c->lines, '\n');
    }
    if (st != ESC_OK) {
        it->line.len = 0;
        c->lines.len = start; /* no line: rendered later, where it is printed */
        if (c->lines.ptr)
            c->lines.ptr[start] = 0;
    }
    return st == ESC_ENOMEM ? st : ESC_OK;
}

/* want_xml, when the XML was made in the text (xml_in_lines failed): moved to c->lines with a
 * line break after it (so that a chunk's renderings lie one after the other); past the lines
 * cap it stays in the text. */
static void xml_to_lines(evtx_chunk *c, evtx_item *it) {
    size_t start = c->lines.len;
    if (esc_buf_append(&c->lines, c->text.ptr + it->xml.off, it->xml.len) ||
        esc_buf_putc(&c->lines, '\n')) {
        c->lines.len = start;
        if (c->lines.ptr)
            c->lines.ptr[start] = 0;
        return;
    }
    it->line.off = (uint32_t)start;
    it->line.len = it->xml.len;
    c->text.len = it->xml.off;
    c->text.ptr[c->text.len] = 0;
    it->xml.len = 0;
}

/* Forget the names and templates cached since nseq and seq, and give back the template memory
 * taken since m. */
static void forget_since(evtx_chunk *c, esc_arena_mark m, uint32_t seq, uint32_t nseq) {
    if (c->nnames != nseq) {
        for (size_t i = 0; i < NCACHE_CAP; i++)
            if (c->ncache[i].gen == c->ngen && c->ncache[i].seq >= nseq)
                c->ncache[i].gen = 0;
        c->nnames = nseq;
    }
    if (c->ntemplates != seq) {
        for (size_t i = 0; i < TCACHE_CAP; i++)
            if (c->tcache[i] && c->tcache[i]->seq >= seq)
                c->tcache[i] = NULL;
        c->ntemplates = seq;
    }
    esc_arena_rollback(&c->tarena, m);
}

/* want_xml: the record's XML made straight in c->lines, with its line break, as xml_to_lines
 * would have moved it there (no copy, and the text stays small). Every cap is the one the XML
 * would meet in the text: the chunk's text cap (the lines buffer's limit lowered to the room
 * left in the text), the record's (counting its fields in the text), and then the lines cap
 * for the whole line. Returns ESC_OK with *line set, ESC_ENOMEM, or anything else when the XML
 * is to be made in the text instead (an error, a cap): then the lines, the caches, the arenas
 * and the record's state are as they were, so that doing so gives the same bytes, warnings and
 * caps as before. */
static esc_status xml_in_lines(dec *d, const tnode *first, evtx_span *line) {
    evtx_chunk *c = d->c;
    esc_buf *l = &c->lines;
    size_t lmax = l->max, start = l->len, lim = lmax;
    if (c->text.max) {
        size_t t = start + (c->text.max - c->text.len); /* the text's room, from start */
        lim = lim && lim < t ? lim : t;
    }
    if (!lim && (lmax || c->text.max))
        return ESC_ELIMIT; /* no room at all (a limit of 0 would be none) */
    dec saved = *d;
    esc_arena_mark tm = esc_arena_mark_get(&c->tarena), rm = esc_arena_mark_get(&c->rarena);
    uint32_t seq = c->ntemplates, nseq = c->nnames;
    d->out = l;
    d->out_start = start;
    d->out_pre = c->text.len - d->text_start;
    d->text_lim = 0;
    d->nest = 0;
    l->max = lim;
    esc_status st = xml_list(d, first, &no_values, true);
    l->max = lmax;
    if (!st && lmax && l->len >= lmax)
        st = ESC_ELIMIT; /* no room for the line break: the XML stays in the text */
    if (!st)
        st = esc_buf_putc(l, '\n');
    if (!st) {
        line->off = (uint32_t)start;
        line->len = (uint32_t)(l->len - 1 - start);
    } else if (st != ESC_ENOMEM) {
        *d = saved;
        forget_since(c, tm, seq, nseq);
        esc_arena_rollback(&c->rarena, rm);
        l->len = start;
        if (l->ptr)
            l->ptr[start] = 0;
    }
    return st;
}

/* Decode the record at pos (size already validated). Returns ESC_ENOMEM only; a broken record
 * becomes a warning (REC_LIVE) or nothing (*good false). */
static esc_status decode_record(evtx_chunk *c, uint32_t pos, uint32_t size, int mode, bool *good) {
    dec d;
    bool recovered = mode == REC_RECOVERED;
    *good = false;
    memset(&d, 0, sizeof d);
    d.c = c;
    d.text_start = c->text.len;
    d.out = &c->text;
    d.out_start = c->text.len;
    d.kv_start = c->nkv;
    d.skv_start = c->nskv;
    d.err_at = pos;
    d.recovered = recovered;
    uint64_t rid = evtx_le64(c->data + pos + 8);
    evtx_span xml = {0, 0};
    esc_arena_reset(&c->rarena);
    c->records++;

    pstate ps = {&d, &c->rarena, false, 0};
    uint32_t p = pos + 24, end = pos + size - 4;
    tnode *first = NULL;
    esc_status st = parse_content(&ps, &p, end, &first, true);
    if (!st) {
        st = each_top(&d, first, event_cb);
        if (st == ESC_EOF)
            st = ESC_OK;
        else if (!st)
            st = fail_at(&d, pos + 24, "record holds no event element");
    }
    /* A recovered candidate needs a complete System element, also when the interest set
     * rejects it (it is then counted as a prefiltered record, as dump would print it). */
    if (!st && recovered &&
        !(d.has_provider && d.provider.len && d.has_event_id && d.has_time && d.computer.len))
        st = fail_at(&d, pos, "recovered record without a complete System element");
    if ((st == ESC_SKIP || (!st && recovered)) && d.rejected) {
        c->prefiltered++;
        *good = true;
        if (!c->recover) {
            c->text.len = d.text_start;
            c->nkv = d.kv_start;
            c->nskv = d.skv_start;
            return ESC_OK;
        }
        /* with --recover, kept as a hidden item: the reader folds recovered copies of it, or
         * folds it, as it would a printed event */
        c->nkv = d.kv_start;
        c->nskv = d.skv_start;
        evtx_item *it = new_item(c);
        if (!it)
            return ESC_ENOMEM;
        it->prefiltered = true;
        it->recovered = recovered;
        it->offset = c->file_off + pos;
        it->key = event_key(&d, d.has_record_id ? d.record_id : rid);
        c->text.len = d.text_start;
        return ESC_OK;
    }
    if (st == ESC_ENOMEM)
        return st;
    if (st) {
        c->text.len = d.text_start;
        c->nkv = d.kv_start;
        c->nskv = d.skv_start;
        if (mode != REC_LIVE) {
            c->records--;
            return ESC_OK;
        }
        return warn(c, pos, "event record %" PRIu64 " at chunk offset 0x%x: %s (at 0x%x)", rid, pos,
                    d.err ? d.err : esc_strerror(st), d.err_at);
    }
    evtx_span line = {0, 0};
    bool in_lines = false; /* the XML made in the lines (else in the text, and moved there) */
    if (c->want_xml && !c->want_json) {
        if ((st = xml_in_lines(&d, first, &line)) == ESC_ENOMEM)
            return st;
        in_lines = st == ESC_OK;
    }
    d.parts_on = c->want_parts && !in_lines && wants_parts(&d);
    if ((c->want_xml || d.parts_on) && !in_lines) {
        size_t xs = c->text.len;
        d.nest = 0;
        d.xdepth = 0;
        st = xml_list(&d, first, &no_values, true);
        if (st == ESC_ENOMEM)
            return st;
        if (st && !c->want_xml) { /* rendered for the parts only: the event goes without them */
            c->text.len = xs;
            memset(d.parts, 0, sizeof d.parts);
            st = ESC_OK;
        }
        if (st) {
            c->text.len = d.text_start;
            c->nkv = d.kv_start;
            c->nskv = d.skv_start;
            if (mode != REC_LIVE) {
                c->records--;
                return ESC_OK;
            }
            return warn(c, pos, "event record %" PRIu64 " at chunk offset 0x%x: %s (at 0x%x)", rid,
                        pos, d.err ? d.err : esc_strerror(st), d.err_at);
        }
        if (c->want_xml)
            xml = span_from(&d, xs);
    }
    evtx_item *it = new_item(c);
    if (!it)
        return ESC_ENOMEM;
    it->xml = xml;
    memcpy(it->parts, d.parts, sizeof it->parts);
    it->line = line;
    it->offset = c->file_off + pos;
    it->record_id = d.has_record_id ? d.record_id : rid;
    it->key = c->recover ? event_key(&d, it->record_id) : 0; /* only folding reads it */
    it->recovered = recovered;
    it->has_event_id = d.has_event_id;
    it->event_id = d.event_id;
    it->has_time = d.has_time;
    it->time_us = d.time_us;
    it->provider = d.provider;
    it->channel = d.channel;
    it->computer = d.computer;
    it->repaired = d.repaired;
    it->kv_first = (uint32_t)d.kv_start;
    it->nkv = (uint32_t)(c->nkv - d.kv_start);
    it->sys_first = (uint32_t)d.skv_start;
    it->nsys = d.nsys;
    *good = true;
    if (c->want_json)
        return render_json_item(c, it);
    if (c->want_xml && !in_lines)
        xml_to_lines(c, it);
    return ESC_OK;
}

/* A plausible record at pos within [pos, end): signature, size, trailing size copy. */
static bool record_at(const evtx_chunk *c, uint32_t pos, uint32_t end, uint32_t *size) {
    const unsigned char *b = c->data;
    if ((uint64_t)pos + 28 > end || b[pos] != 0x2a || b[pos + 1] != 0x2a || b[pos + 2] ||
        b[pos + 3])
        return false;
    uint32_t s = evtx_le32(b + pos + 4);
    if (s < 28 || s > end - pos || evtx_le32(b + pos + s - 4) != s)
        return false;
    *size = s;
    return true;
}

static bool all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

esc_status evtx_chunk_init(evtx_chunk *c, const esc_interest *interest, bool recover,
                           size_t max_record_bytes) {
    memset(c, 0, sizeof *c);
    c->interest = interest;
    c->recover = recover;
    c->max_record_bytes = max_record_bytes ? max_record_bytes : (16u << 20);
    c->data = esc_malloc(EVTX_CHUNK_SIZE);
    c->tcache = esc_calloc(TCACHE_CAP, sizeof *c->tcache);
    c->ncache = esc_calloc(NCACHE_CAP, sizeof *c->ncache);
    esc_arena_init(&c->tarena, 64 * 1024, TARENA_CAP);
    esc_arena_init(&c->rarena, 16 * 1024, RARENA_CAP);
    esc_buf_init(&c->text, TEXT_CAP);
    esc_buf_init(&c->lines, LINES_CAP);
    if (!c->data || !c->tcache || !c->ncache) {
        evtx_chunk_fini(c);
        return ESC_ENOMEM;
    }
    return ESC_OK;
}

void evtx_chunk_fini(evtx_chunk *c) {
    esc_free(c->data);
    esc_free(c->tcache);
    esc_free(c->ncache);
    esc_free(c->items);
    esc_free(c->kvs);
    esc_free(c->skvs);
    esc_arena_fini(&c->tarena);
    esc_arena_fini(&c->rarena);
    esc_buf_fini(&c->text);
    esc_buf_fini(&c->lines);
    esc_buf_fini(&c->unescaped);
    esc_free(c->jkv);
    memset(c, 0, sizeof *c);
}

/* A record header whose size is plausible but whose trailing size copy is not: taken when the
 * record id is the next one expected and no other record starts inside it (the tail was
 * zeroed or never written, not overwritten), and then only if it decodes. */
static bool try_unsized(const evtx_chunk *c, uint32_t pos, uint32_t end, uint64_t expect,
                        uint32_t *size) {
    const unsigned char *b = c->data;
    if ((uint64_t)pos + 28 > end || memcmp(b + pos, "**\0\0", 4) != 0)
        return false;
    uint32_t s = evtx_le32(b + pos + 4);
    if (s < 28 || s > end - pos || evtx_le64(b + pos + 8) != expect)
        return false;
    for (uint32_t q = pos + 8; q + 4 <= pos + s; q += 8)
        if (memcmp(b + q, "**\0\0", 4) == 0)
            return false;
    *size = s;
    return true;
}

/* A slack-space candidate (recovered): decoded on trial. One that fails gives back the
 * template and name memory it took (the templates it cached are forgotten, the arena rolled
 * back), so broken candidates cannot fill the chunk's cap before a good one comes. */
static esc_status decode_candidate(evtx_chunk *c, uint32_t pos, uint32_t size, bool *good) {
    esc_arena_mark m = esc_arena_mark_get(&c->tarena);
    uint32_t seq = c->ntemplates, nseq = c->nnames;
    esc_status st = decode_record(c, pos, size, REC_RECOVERED, good);
    if (st || *good)
        return st;
    forget_since(c, m, seq, nseq);
    return ESC_OK;
}

/* The plausible records in [from, end) (signature, size, trailing size copy), with the
 * smallest and largest record id among them. */
static uint64_t count_unverified(const evtx_chunk *c, uint32_t from, uint32_t end, uint64_t *lo,
                                 uint64_t *hi) {
    uint64_t n = 0;
    uint32_t size;
    for (uint32_t p = from; p + 28 <= end;) {
        if (!record_at(c, p, end, &size)) {
            p++;
            continue;
        }
        uint64_t rid = evtx_le64(c->data + p + 8);
        *lo = n && *lo < rid ? *lo : rid;
        *hi = n && *hi > rid ? *hi : rid;
        n++;
        p += size;
    }
    return n;
}

/* Live or stale: the one rule. The chunk's live records are its record chain: from the chunk
 * header, each record's size leading to the next record's signature, up to the free-space
 * offset, as libevtx and the evtx crate read them. In a damaged chunk (a checksum or the
 * free-space offset wrong) the chain also ends at a broken record (bad signature, size or
 * trailing size copy) and after the record with the header's last record id (the crate stops
 * there). Whatever lies past the end of the chain is not vouched for by the chunk: records of
 * another chunk left in this one, or this chunk's own records that nothing links to any more;
 * both peers stop at the break and libevtx calls them recovered. They are read only with
 * --recover, as recovered (evtx_chunk_decode scans from *live_end). A record whose trailing
 * size copy is wrong stays on the chain when its id is the next expected and no other record
 * starts inside it (tail zeroed, not overwritten; the crate reads it, as it reads no size
 * copy), and then only if it decodes. In an intact chunk the checksum vouches for every byte
 * up to the free-space offset, so past a broken record the scan resynchronises on the next
 * record and reads on. */
static esc_status scan_records(evtx_chunk *c, uint32_t end, bool damaged, uint32_t *live_end) {
    const unsigned char *b = c->data;
    uint64_t first_id = evtx_le64(b + 24), last_id = evtx_le64(b + 32);
    bool ranged =
        damaged && first_id && first_id <= last_id && last_id - first_id < EVTX_CHUNK_SIZE / 28;
    uint64_t prev = 0;
    bool have_prev = false, good;
    uint32_t pos = EVTX_CHUNK_HEADER, size;
    esc_status st;
    *live_end = end;
    while (pos + 4 <= end) {
        if (record_at(c, pos, end, &size)) {
            if ((st = decode_record(c, pos, size, REC_LIVE, &good)))
                return st;
            prev = evtx_le64(b + pos + 8);
            have_prev = true;
            pos += size;
            if (damaged && prev == last_id && pos < end && !all_zero(b + pos, end - pos)) {
                *live_end = pos;
                break;
            }
            continue;
        }
        if (all_zero(b + pos, end - pos))
            break;
        if (c->len < EVTX_CHUNK_SIZE && end == c->len && pos + 8 <= end && b[pos] == 0x2a &&
            b[pos + 1] == 0x2a && !b[pos + 2] && !b[pos + 3] &&
            evtx_le32(b + pos + 4) > end - pos) {
            c->records++;
            return warn(c, pos,
                        "event record at chunk offset 0x%x is cut off by the end of the file", pos);
        }
        uint64_t expect = have_prev ? prev + 1 : first_id;
        if (ranged && try_unsized(c, pos, end, expect, &size)) {
            if ((st = decode_record(c, pos, size, REC_TRY, &good)))
                return st;
            if (good) {
                if ((st = warn(c, pos,
                               "event record %" PRIu64 " at chunk offset 0x%x: the size copy at "
                               "its end is %" PRIu32 ", not %" PRIu32 "; decoded",
                               expect, pos, evtx_le32(b + pos + size - 4), size)))
                    return st;
                prev = expect;
                have_prev = true;
                pos += size;
                continue;
            }
        }
        /* a broken record: report it; in a damaged chunk the chain ends here, in an intact
         * one the scan resynchronises on the next plausible record */
        uint32_t next = pos + 1;
        while (!damaged && next + 28 <= end && !record_at(c, next, end, &size))
            next++;
        char then[64];
        if (damaged)
            snprintf(then, sizeof then, "the chunk's record chain ends here");
        else
            snprintf(then, sizeof then, "skipped to 0x%x", next + 28 <= end ? next : end);
        if (b[pos] == 0x2a && b[pos + 1] == 0x2a && !b[pos + 2] && !b[pos + 3])
            st = warn(c, pos, "event record at chunk offset 0x%x has a bad size (%" PRIu32 "); %s",
                      pos, pos + 8 <= end ? evtx_le32(b + pos + 4) : 0, then);
        else
            st = warn(c, pos, "no event record signature at chunk offset 0x%x; %s", pos, then);
        if (st)
            return st;
        c->records++;
        if (damaged) {
            *live_end = pos;
            break;
        }
        if (next + 28 > end)
            break;
        pos = next;
    }
    uint64_t lo = 0, hi = 0, n;
    if (*live_end < end && !c->recover && (n = count_unverified(c, *live_end, end, &lo, &hi)))
        return warn(c, *live_end,
                    "chunk %" PRIu64 ": %" PRIu64 " records (ids %" PRIu64 "..%" PRIu64
                    ") past the end of its record chain at chunk offset 0x%x are read only with "
                    "--recover (the header's records are %" PRIu64 "..%" PRIu64 ")",
                    c->index, n, lo, hi, *live_end, first_id, last_id);
    return ESC_OK;
}

esc_status evtx_chunk_decode(evtx_chunk *c) {
    const unsigned char *b = c->data;
    esc_status st = ESC_OK;
    c->nitems = 0;
    c->nkv = 0;
    c->nskv = 0;
    c->records = 0;
    c->prefiltered = 0;
    esc_buf_clear(&c->text);
    esc_buf_clear(&c->lines);
    esc_arena_reset(&c->tarena);
    memset(c->tcache, 0, TCACHE_CAP * sizeof *c->tcache);
    c->ntemplates = 0;
    if (++c->ngen == 0) { /* a cached name is valid in the chunk decode that made it */
        memset(c->ncache, 0, NCACHE_CAP * sizeof *c->ncache);
        c->ngen = 1;
    }
    c->nnames = 0;

    if (c->len < EVTX_CHUNK_HEADER) {
        if (all_zero(b, c->len))
            return ESC_OK;
        return warn(c, 0, "chunk %" PRIu64 " truncated to %zu bytes (no room for its header)",
                    c->index, c->len);
    }
    if (memcmp(b, "ElfChnk", 8) != 0) {
        if (all_zero(b, c->len))
            return c->in_use ? warn(c, 0, "chunk %" PRIu64 " is all zero bytes", c->index) : ESC_OK;
        return warn(c, 0, "chunk %" PRIu64 " has no chunk signature", c->index);
    }
    if (c->len < EVTX_CHUNK_SIZE &&
        (st = warn(c, 0, "chunk %" PRIu64 " truncated to %zu of %u bytes", c->index, c->len,
                   EVTX_CHUNK_SIZE)))
        return st;
    uint32_t crc = esc_crc32(0, b, 120);
    crc = esc_crc32(crc, b + 128, EVTX_CHUNK_HEADER - 128);
    bool damaged = crc != evtx_le32(b + 124); /* then the record scan weighs the evidence */
    if (damaged &&
        (st = warn(c, 124, "chunk %" PRIu64 " header checksum mismatch (0x%08x, computed 0x%08x)",
                   c->index, evtx_le32(b + 124), crc)))
        return st;
    uint32_t fso = evtx_le32(b + 48);
    uint32_t end = fso;
    if (fso < EVTX_CHUNK_HEADER || fso > EVTX_CHUNK_SIZE) {
        damaged = true;
        if ((st = warn(c, 48, "chunk %" PRIu64 " free space offset 0x%x out of range", c->index,
                       fso)))
            return st;
        end = (uint32_t)c->len;
    } else if (fso > c->len) {
        end = (uint32_t)c->len;
    } else {
        uint32_t rcrc = esc_crc32(0, b + EVTX_CHUNK_HEADER, fso - EVTX_CHUNK_HEADER);
        bool bad = rcrc != evtx_le32(b + 52);
        damaged = damaged || bad;
        if (bad && (st = warn(c, 52,
                              "chunk %" PRIu64 " event records checksum mismatch (0x%08x, computed "
                              "0x%08x)",
                              c->index, evtx_le32(b + 52), rcrc)))
            return st;
    }

    uint32_t pos, size;
    if ((st = scan_records(c, end, damaged, &pos)))
        return st;
    bool good;
    if (c->recover) {
        /* slack space: past the free-space offset, or past the end of a damaged chunk's chain */
        while (pos + 28 <= c->len) {
            if (record_at(c, pos, (uint32_t)c->len, &size)) {
                if ((st = decode_candidate(c, pos, size, &good)))
                    return st;
                if (good) {
                    pos += size;
                    continue;
                }
            }
            pos++;
        }
    }
    return ESC_OK;
}
