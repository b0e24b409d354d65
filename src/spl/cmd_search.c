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

static esc_status run_sub(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t, *s = NULL;
    esc_status rc = esc_exec_finish(x->sub, &s, err);
    if (rc != ESC_OK)
        return rc;
    bool *keep = esc_malloc(t->nrows ? t->nrows : 1);
    if (!keep) {
        esc_table_free(s);
        return spl_exec_oom(err);
    }
    size_t nq = s->nrows < ESC_SPL_SUBSEARCH_ROWS ? s->nrows : ESC_SPL_SUBSEARCH_ROWS;
    for (size_t r = 0; r < t->nrows; r++) {
        keep[r] = false;
        for (size_t q = 0; q < nq && !keep[r]; q++)
            keep[r] = sub_row_match(st, &t->cells[r * t->ncols], s, q);
    }
    spl_table_filter(t, keep);
    esc_free(keep);
    esc_table_free(s);
    return ESC_OK;
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
