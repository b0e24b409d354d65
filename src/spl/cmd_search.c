/* search EXPRESSION after the first command: keep the rows the search expression matches.
 *
 * Invariants: terms are field=value globs (ASCII case-insensitive) over a row's columns, a
 * multivalue cell matching when any value does; a field no column has matches no term (so
 * `NOT f=x` keeps the row); an empty search keeps every row. Its literals may feed the record
 * prefilter (SPL_CMD_ROW_SEARCH, plan.c). `search [SUBSEARCH]` (the subsearch the whole
 * expression) runs the subsearch over the same records and window after them, and keeps the
 * rows that match one of its rows as Splunk's implicit format writes it (Search Manual, "About
 * subsearches"): every non-null column of the subsearch row equal to the row's field (a search
 * term: case-insensitive, `*` a wildcard; a multivalue cell any of its values), at most
 * ESC_SPL_SUBSEARCH_ROWS subsearch rows (limits.conf [subsearch] maxout); no subsearch row keeps
 * nothing. Splunk's 60-second maxtime has no counterpart: the subsearch has read its records
 * when it runs. A subsearch inside a longer expression is run while planning when it reads no
 * records (parse.c), else refused. Deliberately not done: bare words (full-text search of _raw,
 * which rows do not have). */
#include "core/alloc.h"
#include "spl/cmd.h"

static bool parse_search(spl_parser *P, stage *st) {
    if (spl_at_end(P))
        return true;
    if (spl_peek(P) == '[') { /* search [SUBSEARCH] */
        size_t at = P->pos;
        if (!spl_parse_subsearch(P, st))
            return false;
        if (spl_at_end(P))
            return spl_parse_subplan(P, st);
        st->sub_text = NULL; /* more terms follow: the expression parser takes it */
        P->pos = at;
    }
    st->where = spl_parse_search(P, false);
    if (!st->where)
        return false;
    if (spl_peek(P) == ')') {
        spl_fail(P, P->pos, "unbalanced parenthesis: ')' without '('");
        return false;
    }
    return spl_expect_end(P, "search");
}

/* ---- resolution ---- */

static void resolve_snode_rows(snode *n, const schema *s) {
    if (!n)
        return;
    if (n->kind == SN_CMP)
        n->ref = spl_schema_find(s, n->field);
    resolve_snode_rows(n->l, s);
    resolve_snode_rows(n->r, s);
}

static esc_status plan_search(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    resolve_snode_rows(st->where, in);
    if (!spl_schema_copy(p, &st->out, in, 0))
        return spl_plan_oom(err);
    if (!st->sub)
        return ESC_OK;
    const schema *sub = &st->sub->stages[st->sub->nstages - 1].out;
    if (!(st->cols = esc_arena_alloc(&p->arena, (sub->n ? sub->n : 1) * sizeof *st->cols)))
        return spl_plan_oom(err);
    for (size_t c = 0; c < sub->n; c++) /* subsearch column -> the row's column, or -1 */
        st->cols[c] = spl_schema_find(in, sub->name[c]);
    st->nmap = sub->n;
    p->fields |= st->sub->fields;
    if (esc_plan_datasets(st->sub)) /* it reads records the literals know nothing of */
        p->has_join = true;
    return ESC_OK;
}

/* Does the row match subsearch row q (every non-null column)? A row of nulls matches nothing. */
static bool sub_row_match(const stage *st, const esc_cell *row, const esc_table *s, size_t q) {
    bool any = false;
    for (size_t c = 0; c < s->ncols && c < st->nmap; c++) {
        const esc_cell *v = esc_table_cell(s, q, c);
        if (!v->n)
            continue;
        any = true;
        if (st->cols[c] < 0)
            return false;
        const esc_cell *have = &row[st->cols[c]];
        bool hit = false;
        for (size_t i = 0; i < v->n && !hit; i++)
            for (size_t k = 0; k < have->n && !hit; k++)
                hit = spl_glob_imatch(v->v[i], strlen(v->v[i]), have->v[k], strlen(have->v[k]));
        if (!hit)
            return false;
    }
    return any;
}

/* A value's hash with ASCII letters folded to lower case (the search compares so). */
static uint64_t fold_hash(const char *v) {
    return esc_str_ihash(esc_str_c(v), UINT64_C(14695981039346656037));
}

/* The subsearch rows of one non-null column whose values hold no '*' ("plain": a row's value
 * equal to one of them, case aside, matches the row), by their values' fold_hash; the other
 * rows (several columns, a wildcard) in `rest`, tried one by one. */
typedef struct sub_index {
    struct plain_value {
        uint64_t h;
        size_t col;
        const char *v;
    } * slot; /* open addressing, v NULL: empty */
    size_t mask;
    size_t *rest, nrest;
    bool used[ESC_SPL_MAX_COLUMNS];          /* the columns plain rows use, */
    size_t cols[ESC_SPL_MAX_COLUMNS], ncols; /* listed */
} sub_index;

#define NO_COLUMN (-1)
#define COLUMNS (-2)

/* The only non-null column of row q, NO_COLUMN or COLUMNS (several); *plain: no value of it
 * holds '*'. */
static long single_column(const esc_table *s, size_t q, size_t ncols, bool *plain) {
    long only = NO_COLUMN;
    for (size_t c = 0; c < ncols; c++) {
        const esc_cell *v = esc_table_cell(s, q, c);
        if (!v->n)
            continue;
        if (only >= 0)
            return COLUMNS;
        only = (long)c;
        *plain = true;
        for (size_t i = 0; i < v->n; i++)
            *plain &= strchr(v->v[i], '*') == NULL;
    }
    return only;
}

static bool index_build(const stage *st, const esc_table *s, size_t nq, sub_index *ix) {
    size_t ncols = s->ncols < st->nmap ? s->ncols : st->nmap, nvals = 0;
    bool wide = ncols > ESC_SPL_MAX_COLUMNS; /* (not made by a search: every row in rest) */
    for (size_t q = 0; q < nq && !wide; q++)
        for (size_t c = 0; c < ncols; c++)
            nvals += esc_table_cell(s, q, c)->n;
    size_t cap = 16;
    while (cap < 2 * nvals)
        cap *= 2;
    ix->mask = cap - 1;
    ix->slot = esc_calloc(cap, sizeof *ix->slot);
    ix->rest = esc_malloc((nq ? nq : 1) * sizeof *ix->rest);
    if (!ix->slot || !ix->rest)
        return false;
    for (size_t q = 0; q < nq; q++) {
        bool plain = false;
        long c = wide ? COLUMNS : single_column(s, q, ncols, &plain);
        if (c == NO_COLUMN || (c >= 0 && st->cols[c] < 0))
            continue; /* matches nothing: a row of nulls, a column the rows lack */
        if (c == COLUMNS || !plain) {
            ix->rest[ix->nrest++] = q;
            continue;
        }
        if (!ix->used[c]) {
            ix->used[c] = true;
            ix->cols[ix->ncols++] = (size_t)c;
        }
        const esc_cell *v = esc_table_cell(s, q, (size_t)c);
        for (size_t i = 0; i < v->n; i++) {
            uint64_t h = fold_hash(v->v[i]);
            size_t b = h & ix->mask;
            while (ix->slot[b].v)
                b = (b + 1) & ix->mask;
            ix->slot[b] = (struct plain_value){h, (size_t)c, v->v[i]};
        }
    }
    return true;
}

/* Whether a value of the row's cell of a plain column equals a plain row's value. */
static bool plain_match(const stage *st, const sub_index *ix, const esc_cell *row) {
    for (size_t j = 0; j < ix->ncols; j++) {
        size_t c = ix->cols[j];
        const esc_cell *have = &row[st->cols[c]];
        for (size_t k = 0; k < have->n; k++) {
            uint64_t h = fold_hash(have->v[k]);
            for (size_t b = h & ix->mask; ix->slot[b].v; b = (b + 1) & ix->mask)
                if (ix->slot[b].h == h && ix->slot[b].col == c &&
                    esc_str_ieq(esc_str_c(ix->slot[b].v), esc_str_c(have->v[k])))
                    return true;
        }
    }
    return false;
}

/* Keep the rows that match a row of the subsearch: the plain rows through the index (a row
 * tried against every subsearch row took |t| x 10,000 wildcard matches at worst), the rest
 * one by one. */
static esc_status run_sub(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t, *s = NULL;
    esc_status rc = esc_exec_finish(x->sub, &s, err);
    if (rc != ESC_OK)
        return rc;
    size_t nq = s->nrows < ESC_SPL_SUBSEARCH_ROWS ? s->nrows : ESC_SPL_SUBSEARCH_ROWS;
    sub_index ix = {0};
    bool *keep = esc_malloc(t->nrows ? t->nrows : 1);
    if (!keep || !index_build(st, s, nq, &ix)) {
        rc = spl_exec_oom(err);
        goto done;
    }
    for (size_t r = 0; r < t->nrows; r++) {
        const esc_cell *row = &t->cells[r * t->ncols];
        keep[r] = plain_match(st, &ix, row);
        for (size_t i = 0; i < ix.nrest && !keep[r]; i++)
            keep[r] = sub_row_match(st, row, s, ix.rest[i]);
    }
    spl_table_filter(t, keep);
done:
    esc_free(ix.slot);
    esc_free(ix.rest);
    esc_free(keep);
    esc_table_free(s);
    return rc;
}

static esc_status run_search(const stage *st, spl_run *x, esc_error *err) {
    if (st->sub)
        return run_sub(st, x, err);
    esc_table *t = x->t;
    bool *keep = esc_malloc(t->nrows ? t->nrows : 1);
    if (!keep)
        return spl_exec_oom(err);
    for (size_t r = 0; r < t->nrows; r++)
        keep[r] = !st->where || spl_row_match(st->where, &t->cells[r * t->ncols], t->ncols);
    spl_table_filter(t, keep);
    esc_free(keep);
    return ESC_OK;
}

static void explain_search(const stage *st, esc_buf *out) {
    if (st->sub) {
        esc_buf_printf(out, "\n  rows matching a row of the subsearch: [%.*s]", (int)st->sub_len,
                       st->sub_text);
        return;
    }
    esc_buf_append_c(out, "\n  predicate: ");
    spl_explain_snode(st->where, out);
}

static void free_search(stage *st) {
    esc_plan_free(st->sub);
}

const spl_cmd spl_cmd_search = {
    .name = "search",
    .flags = SPL_CMD_ROW_SEARCH,
    .parse = parse_search,
    .plan = plan_search,
    .run = run_search,
    .explain = explain_search,
    .free = free_search,
};
