/* One JSON object read whole (parse/json_value.h): the tokenizer of the JSON lines reader
 * validates the text and records the top-level members and the elements of top-level arrays;
 * their text is then copied out, strings decoded, into an arena the object owns.
 *
 * Invariants: every string handed out is NUL-terminated and lives in the object's arena, which
 * never holds more than OBJECT_MAX_TEXT bytes; nothing is decoded before the tokenizer has
 * accepted the whole text, so the decoder trusts every escape it meets.
 * Deliberately not done: the members of nested objects (their text is there to read again),
 * number conversion, repairing invalid UTF-8 in values (what a writer copied through must read
 * back as the same bytes). Not for streams: the JSON lines reader decodes lazily and never
 * copies a value it does not need; this copies everything at the top level. */
#include "parse/json_value.h"

#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/utf8.h"
#include "parse/json/json.h"

#define OBJECT_MAX_TEXT ((size_t)64 << 20)

struct esc_json_object {
    esc_arena arena; /* members, items and every string */
    esc_json_member *m;
    size_t n;
};

/* The tokenizer records the elements of top-level arrays, and nothing else below the top. */
static bool want_arrays(const esc_json_doc *d, const esc_json_tok *t) {
    (void)d;
    return t->type == ESC_JT_ARR && t->depth == 1;
}

static uint32_t hex4(const char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else
            v |= (uint32_t)(c - 'A' + 10); /* the tokenizer accepted it: a hex digit */
    }
    return v;
}

/* s[0, n), a string token's text between its quotes, with its escapes resolved into b. */
static esc_status unescape(esc_buf *b, const char *s, size_t n) {
    esc_status st = ESC_OK;
    const char *p = s, *e = s + n, *run = s;
    esc_buf_clear(b);
    while (p < e && st == ESC_OK) {
        if (*p != '\\') {
            p++;
            continue;
        }
        if ((st = esc_buf_append(b, run, (size_t)(p - run))) != ESC_OK)
            break;
        char c = p[1];
        p += 2;
        if (c == 'u') {
            uint32_t cp = hex4(p);
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && e - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                uint32_t lo = hex4(p + 2);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            st = esc_utf8_put(b, cp); /* NUL and lone surrogates: U+FFFD */
        } else {
            static const char from[] = "nrtbf", to[] = "\n\r\t\b\f";
            const char *k = strchr(from, c);
            st = esc_buf_putc(b, k ? to[k - from] : c); /* '"', '\\', '/' as themselves */
        }
        run = p;
    }
    if (st == ESC_OK)
        st = esc_buf_append(b, run, (size_t)(e - run));
    return st;
}

/* A token's text into the arena: a string decoded, anything else as written. NULL when the
 * arena or the scratch buffer refuses. */
static const char *tok_text(esc_arena *a, esc_buf *scratch, const esc_json_tok *t, size_t *len) {
    esc_str s = esc_str_make(t->raw, t->rawlen);
    if (t->type == ESC_JT_STR && t->esc) {
        if (unescape(scratch, t->raw, t->rawlen) != ESC_OK)
            return NULL;
        s = esc_buf_str(scratch);
    }
    esc_str d = esc_arena_dup(a, s);
    *len = d.len;
    return d.ptr;
}

/* The elements of the array token at index i (they follow it, one level down). */
static bool read_items(esc_json_object *o, esc_buf *scratch, const esc_json_doc *doc, size_t i,
                       esc_json_member *m) {
    size_t n = 0, len;
    for (size_t k = i + 1; k < doc->ntok && doc->tok[k].depth > 1; k++)
        n += doc->tok[k].parent == (int32_t)i;
    const char **v = esc_arena_alloc(&o->arena, (n ? n : 1) * sizeof *v);
    if (!v)
        return false;
    for (size_t k = i + 1; k < doc->ntok && doc->tok[k].depth > 1 && m->nitems < n; k++)
        if (doc->tok[k].parent == (int32_t)i &&
            !(v[m->nitems++] = tok_text(&o->arena, scratch, &doc->tok[k], &len)))
            return false;
    m->items = v;
    return true;
}

/* ESC_OK, ESC_ELIMIT (the arena's cap) or ESC_ENOMEM. */
static esc_status read_members(esc_json_object *o, const esc_json_doc *doc) {
    esc_buf scratch;
    esc_buf_init(&scratch, 0); /* bounded by the text: decoding never lengthens a string */
    size_t n = 0;
    for (size_t i = 0; i < doc->ntok; i++)
        n += doc->tok[i].depth == 1;
    o->m = esc_arena_alloc(&o->arena, (n ? n : 1) * sizeof *o->m);
    bool ok = o->m != NULL;
    for (size_t i = 0; i < doc->ntok && ok; i++) {
        const esc_json_tok *t = &doc->tok[i];
        if (t->depth != 1)
            continue;
        esc_json_member *m = &o->m[o->n++];
        memset(m, 0, sizeof *m);
        m->type = (esc_json_type)t->type;
        m->key = esc_arena_dup(&o->arena, t->key).ptr;
        m->text = tok_text(&o->arena, &scratch, t, &m->len);
        ok = m->key && m->text && (t->type != ESC_JT_ARR || read_items(o, &scratch, doc, i, m));
    }
    esc_buf_fini(&scratch);
    if (ok)
        return ESC_OK;
    return o->arena.capped && !o->arena.failed ? ESC_ELIMIT : ESC_ENOMEM;
}

esc_status esc_json_object_read(const char *s, size_t n, esc_json_object **out, esc_error *err) {
    *out = NULL;
    esc_json_object *o = esc_calloc(1, sizeof *o);
    if (!o)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    esc_arena_init(&o->arena, 16 * 1024, OBJECT_MAX_TEXT);
    esc_json_doc doc;
    esc_json_doc_init(&doc);
    doc.want = want_arrays;
    const char *end = NULL, *e = s + n;
    esc_status st = esc_json_tokenize(&doc, s, e, &end, &o->arena);
    if (st == ESC_OK) {
        while (end < e && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
            end++;
        if (end < e) {
            doc.what = "text after the object";
            doc.at = end;
            st = ESC_EMALFORMED;
        }
    }
    if (st == ESC_OK)
        st = read_members(o, &doc);
    else if (st == ESC_ENOMEM && o->arena.capped && !o->arena.failed)
        st = ESC_ELIMIT; /* a decoded key over the arena's cap */
    if (st == ESC_EMALFORMED)
        esc_error_at(err, st, NULL, (uint64_t)((doc.at ? doc.at : s) - s), "%s",
                     doc.what ? doc.what : "malformed JSON");
    else if (st == ESC_ELIMIT)
        esc_error_set(err, st, "JSON object: more than %zu bytes of text", OBJECT_MAX_TEXT);
    else if (st != ESC_OK)
        esc_error_set(err, st, "out of memory");
    esc_json_doc_fini(&doc);
    if (st != ESC_OK) {
        esc_json_object_free(o);
        return st;
    }
    *out = o;
    return ESC_OK;
}

void esc_json_object_free(esc_json_object *o) {
    if (!o)
        return;
    esc_arena_fini(&o->arena);
    esc_free(o);
}

size_t esc_json_object_count(const esc_json_object *o) {
    return o->n;
}

const esc_json_member *esc_json_object_member(const esc_json_object *o, size_t i) {
    return i < o->n ? &o->m[i] : NULL;
}

const esc_json_member *esc_json_object_get(const esc_json_object *o, const char *key,
                                           esc_json_type type) {
    for (size_t i = 0; i < o->n; i++)
        if ((!type || o->m[i].type == type) && strcmp(o->m[i].key, key) == 0)
            return &o->m[i];
    return NULL;
}
