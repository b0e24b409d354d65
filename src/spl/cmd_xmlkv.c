/* xmlkv [FIELD] [maxinputs=N]: fields from the XML elements of a field's text.
 *
 * Splunk's reference: Search Reference, "xmlkv" (help.splunk.com/splunk-enterprise/
 * spl-search-reference/9.3/search-commands/xmlkv): "automatically extracts key-value pairs from
 * XML-formatted data"; in `<name>Settlers of Catan</name>` "name is the key and Settlers of
 * Catan is the value"; FIELD defaults to _raw; maxinputs only batches the work (no effect on
 * results).
 *
 * Invariants: every element holding text and no child element (`<K attr...>text</K>`) gives
 * K=text, the five predefined entities and character references decoded; repeated keys make a
 * multivalue in document order (docs/decisions.md); only columns the rows already have are
 * written (a raw-event search makes a column for every field a later command names, so these
 * are the ones a later command can read), and FIELD itself is never overwritten; a row whose
 * text has no such element keeps its values. Deliberately not done: attributes, CDATA,
 * namespaces prefixes in keys (kept as written), multivalue FIELD (its first value is read). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/utf8.h"
#include "spl/cmd.h"

static bool parse_xmlkv(spl_parser *P, stage *st) {
    st->regex_field = "_raw";
    while (!spl_at_end(P)) {
        size_t at = P->pos;
        size_t wl = spl_bare(P, "=\"");
        if (wl == 0)
            return spl_fail(P, at, "unexpected text in xmlkv") != NULL;
        if (spl_peek(P) == '=') {
            if (!(wl == 9 && strncmp(P->s + at, "maxinputs", 9) == 0))
                return spl_fail(P, at, "unsupported xmlkv option '%.*s'", (int)wl, P->s + at) !=
                       NULL;
            P->pos++;
            size_t vl, vs;
            if (!spl_word(P, "", &vl, &vs))
                return spl_fail(P, at, "missing value for option 'maxinputs'") != NULL;
            continue;
        }
        st->regex_field = spl_dup(P, P->s + at, wl);
    }
    return true;
}

static esc_status plan_xmlkv(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    if (!spl_schema_copy(p, &st->out, in, 0) ||
        !(st->cols = esc_arena_alloc(&p->arena, sizeof *st->cols)))
        return spl_plan_oom(err);
    st->cols[0] = spl_schema_find(in, st->regex_field);
    for (size_t c = 0; c < st->out.n; c++)
        if ((int)c != st->cols[0]) /* any other column may be written: not a plain copy */
            st->out.origin[c] = -1;
    return ESC_OK;
}

/* Decode entities of s[0..n) into b; false on an unknown or broken one. */
static bool decode(const char *s, size_t n, esc_buf *b) {
    static const struct {
        const char *name;
        char c;
    } ent[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    esc_buf_clear(b);
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '&') {
            if (esc_buf_putc(b, s[i]) != ESC_OK)
                return false;
            continue;
        }
        const char *semi = memchr(s + i, ';', n - i);
        if (!semi)
            return false;
        size_t el = (size_t)(semi - s) - i - 1;
        const char *e = s + i + 1;
        bool ok = false;
        for (size_t k = 0; !ok && k < sizeof ent / sizeof *ent; k++)
            if (strlen(ent[k].name) == el && memcmp(e, ent[k].name, el) == 0)
                ok = esc_buf_putc(b, ent[k].c) == ESC_OK;
        if (!ok && el > 1 && e[0] == '#') {
            char *end;
            char num[16];
            if (el >= sizeof num)
                return false;
            memcpy(num, e + 1, el - 1);
            num[el - 1] = 0;
            unsigned long cp = num[0] == 'x' ? strtoul(num + 1, &end, 16) : strtoul(num, &end, 10);
            ok = !*end && cp > 0 && cp <= 0x10FFFF && esc_utf8_put(b, (uint32_t)cp) == ESC_OK;
        }
        if (!ok)
            return false;
        i += el + 1;
    }
    return true; /* never longer than the text it came from */
}

/* The next leaf element at or after *pos: key [k, k+kl), text [v, v+vl). */
static bool next_leaf(const char *s, size_t n, size_t *pos, size_t *k, size_t *kl, size_t *v,
                      size_t *vl) {
    for (size_t i = *pos; i < n; i++) {
        if (s[i] != '<' || i + 1 >= n || strchr("/?!", s[i + 1]))
            continue;
        size_t ks = i + 1, ke = ks;
        while (ke < n && !strchr(" \t\r\n/>", s[ke]))
            ke++;
        const char *gt = memchr(s + ke, '>', n - ke);
        if (!gt || gt[-1] == '/') /* empty element: no value */
            continue;
        size_t vs = (size_t)(gt - s) + 1, ve = vs;
        while (ve < n && s[ve] != '<')
            ve++;
        size_t cl = ke - ks;
        if (ve + 2 + cl < n && s[ve + 1] == '/' && memcmp(s + ve + 2, s + ks, cl) == 0 &&
            s[ve + 2 + cl] == '>') {
            *k = ks, *kl = cl, *v = vs, *vl = ve - vs;
            *pos = ve + 3 + cl;
            return true;
        }
    }
    return false;
}

static esc_status extract_row(const stage *st, esc_cell *row, bool *touched, void *ctx) {
    esc_buf *b = ctx;
    const esc_cell *src = &row[st->cols[0]];
    const char *s = src->v[0];
    size_t n = strlen(s), pos = 0, k, kl, v, vl;
    while (next_leaf(s, n, &pos, &k, &kl, &v, &vl)) {
        int c = -1;
        for (size_t i = 0; c < 0 && i < st->out.n; i++)
            if ((int)i != st->cols[0] && strlen(st->out.name[i]) == kl &&
                memcmp(st->out.name[i], s + k, kl) == 0)
                c = (int)i;
        if (c < 0 || !decode(s + v, vl, b))
            continue;
        esc_str val = esc_str_make(b->ptr ? b->ptr : "", b->len);
        if (spl_cell_add(&row[c], &touched[c], val) != ESC_OK)
            return ESC_ENOMEM;
    }
    return ESC_OK;
}

static esc_status run_xmlkv(const stage *st, spl_run *x, esc_error *err) {
    esc_buf b = {0};
    esc_status rc = spl_run_text_rows(st, x->t, st->cols[0], extract_row, &b, err);
    esc_buf_fini(&b);
    return rc;
}

const spl_cmd spl_cmd_xmlkv = {
    .name = "xmlkv",
    .parse = parse_xmlkv,
    .plan = plan_xmlkv,
    .run = run_xmlkv,
};
