/* sort [N | limit=N] [+|-]FIELD, ... [desc]: order the rows. Splunk's reference: Search
 * Reference, "sort" (help.splunk.com/splunk-enterprise/spl-search-reference/9.4/
 * search-commands/sort).
 *
 * Invariants: fields compare in order, each ascending unless written -FIELD (desc reverses
 * every one); a field compares as Splunk's auto order does: numbers numerically and before
 * text, text by bytes; num(F) / str(F) force numeric or text order; a row without the field
 * sorts after every row that has it, in either direction; equal rows keep their order (the
 * sort is stable). Then only the first N rows are kept: N = 10,000 by default, as Splunk's
 * sort does ("sort 0": all). A trailing `desc` reverses every field (its short form `d` is
 * not taken: it would hide a field called d). A multivalue cell compares by its first value.
 * Options kept: names the fields, cols their columns, cols2 per field: bit 0 descending, bits 1-2
 * the mode (0 auto, 1 num, 2 str); join_max N. Deliberately not done: ip() order (an error). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"

#define SORT_DEFAULT_LIMIT 10000 /* Splunk's default count */

/* One field clause; false on error. */
static bool sort_field(spl_parser *P, const char **name, int *flags, size_t *at) {
    spl_skip_ws(P);
    *flags = 0;
    if (spl_peek(P) == '-' || spl_peek(P) == '+') {
        *flags |= spl_peek(P) == '-';
        P->pos++;
        spl_skip_ws(P);
    }
    *at = P->pos;
    size_t l, s;
    const char *w = spl_word(P, ",(", &l, &s);
    if (!w) {
        if (!P->failed)
            spl_fail(P, P->pos, "expected a field to sort by");
        return false;
    }
    if (spl_peek(P) == '(') {
        int mode = !strcmp(w, "num") ? 1 : !strcmp(w, "str") ? 2 : !strcmp(w, "auto") ? 0 : -1;
        if (mode < 0) {
            spl_fail(P, s, "unsupported sort order '%s' (auto, num or str)", w);
            return false;
        }
        P->pos++;
        w = spl_word(P, "()", &l, &s);
        spl_skip_ws(P);
        if (!w || spl_peek(P) != ')') {
            if (!P->failed)
                spl_fail(P, *at, "expected %s(FIELD)", mode == 1 ? "num" : "str");
            return false;
        }
        P->pos++;
        *flags |= mode << 1;
    }
    *name = w;
    return true;
}

static bool parse_sort(spl_parser *P, stage *st) {
    const char *names[ESC_SPL_MAX_NAMES];
    int flags[ESC_SPL_MAX_NAMES];
    size_t n = 0, at;
    st->join_max = SORT_DEFAULT_LIMIT;
    spl_skip_ws(P);
    bool lim = P->end - P->pos > 6 && strncmp(P->s + P->pos, "limit=", 6) == 0;
    if (lim || (spl_peek(P) >= '0' && spl_peek(P) <= '9')) {
        P->pos += lim ? 6 : 0;
        char *end;
        unsigned long v = strtoul(P->s + P->pos, &end, 10);
        if (end == P->s + P->pos || (size_t)(end - P->s) > P->end) {
            spl_fail(P, P->pos, "expected a count");
            return false;
        }
        P->pos = (size_t)(end - P->s);
        st->join_max = v;
    }
    while (!spl_at_end(P)) {
        if (spl_kw_at(P, "desc", false)) {
            spl_bare(P, "");
            if (!spl_at_end(P)) {
                spl_fail(P, P->pos, "unexpected text after desc");
                return false;
            }
            for (size_t i = 0; i < n; i++)
                flags[i] ^= 1;
            break;
        }
        if (n == ESC_SPL_MAX_NAMES) {
            spl_fail(P, P->pos, "too many fields");
            return false;
        }
        if (!sort_field(P, &names[n], &flags[n], &at))
            return false;
        n++;
        spl_skip_ws(P);
        if (spl_peek(P) == ',')
            P->pos++;
    }
    if (!n) {
        spl_fail(P, st->start, "sort needs a field");
        return false;
    }
    st->names = spl_alloc0(P, n * sizeof *st->names);
    st->cols2 = spl_alloc0(P, n * sizeof *st->cols2);
    if (!st->names || !st->cols2)
        return false;
    memcpy(st->names, names, n * sizeof *names);
    memcpy(st->cols2, flags, n * sizeof *flags);
    st->nnames = n;
    return true;
}

static esc_status plan_sort(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    st->cols = esc_arena_alloc(&p->arena, st->nnames * sizeof *st->cols);
    if (!st->cols || !spl_schema_copy(p, &st->out, in, 0))
        return spl_plan_oom(err);
    for (size_t i = 0; i < st->nnames; i++)
        st->cols[i] = spl_schema_find(in, st->names[i]);
    return ESC_OK;
}

typedef struct sort_ctx {
    const stage *st;
    const esc_table *t;
} sort_ctx;

static _Thread_local const sort_ctx *cur; /* qsort has no context argument */

/* Compare two cells of field i; missing last whatever the direction (sign applied by caller
 * is undone for it through *fixed). */
static int cmp_cell(const esc_cell *a, const esc_cell *b, int mode, bool *fixed) {
    *fixed = true;
    if (!a->n || !b->n)
        return (int)!a->n - (int)!b->n;
    *fixed = false;
    double x, y;
    bool nx = mode != 2 && spl_parse_num(a->v[0], strlen(a->v[0]), &x);
    bool ny = mode != 2 && spl_parse_num(b->v[0], strlen(b->v[0]), &y);
    if (nx && ny)
        return x < y ? -1 : x > y;
    if (nx != ny && mode == 0)
        return nx ? -1 : 1;
    return strcmp(a->v[0], b->v[0]);
}

static int cmp_rows(const void *pa, const void *pb) {
    size_t ra = *(const size_t *)pa, rb = *(const size_t *)pb;
    const stage *st = cur->st;
    const esc_table *t = cur->t;
    static const esc_cell none = {0};
    for (size_t i = 0; i < st->nnames; i++) {
        int c = st->cols[i];
        const esc_cell *a = c >= 0 ? esc_table_cell(t, ra, (size_t)c) : &none;
        const esc_cell *b = c >= 0 ? esc_table_cell(t, rb, (size_t)c) : &none;
        bool fixed;
        int r = cmp_cell(a, b, st->cols2[i] >> 1, &fixed);
        if (r)
            return fixed || !(st->cols2[i] & 1) ? r : -r;
    }
    return ra < rb ? -1 : ra > rb; /* stable */
}

static esc_status run_sort(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    size_t keep = st->join_max && st->join_max < t->nrows ? st->join_max : t->nrows;
    size_t *order = esc_malloc((t->nrows ? t->nrows : 1) * sizeof *order);
    esc_table *o = spl_table_new(&st->out, keep);
    if (!order || !o) {
        esc_free(order);
        esc_table_free(o);
        return spl_exec_oom(err);
    }
    for (size_t r = 0; r < t->nrows; r++)
        order[r] = r;
    sort_ctx ctx = {st, t};
    cur = &ctx;
    qsort(order, t->nrows, sizeof *order, cmp_rows);
    cur = NULL;
    for (size_t r = 0; r < keep; r++) /* cells move: the old table keeps empty ones */
        for (size_t c = 0; c < t->ncols; c++) {
            o->cells[r * o->ncols + c] = t->cells[order[r] * t->ncols + c];
            memset(&t->cells[order[r] * t->ncols + c], 0, sizeof(esc_cell));
        }
    bool ok = spl_lineage_pick(o, t, order); /* each row's events go with it */
    esc_free(order);
    if (ok)
        spl_table_swap(t, o);
    esc_table_free(o);
    return ok ? ESC_OK : spl_exec_oom(err);
}

const spl_cmd spl_cmd_sort = {
    .name = "sort",
    .flags = SPL_CMD_BARRIER,
    .parse = parse_sort,
    .plan = plan_sort,
    .run = run_sort,
};
