/* search EXPRESSION after the first command: keep the rows the search expression matches.
 *
 * Invariants: terms are field=value globs (ASCII case-insensitive) over a row's columns, a
 * multivalue cell matching when any value does; a field no column has matches no term (so
 * `NOT f=x` keeps the row); an empty search keeps every row. Its literals may feed the record
 * prefilter (SPL_CMD_ROW_SEARCH, plan.c). Deliberately not done: bare words (full-text search
 * of _raw, which rows do not have) and subsearches. */
#include "core/alloc.h"
#include "spl/cmd.h"

static bool parse_search(spl_parser *P, stage *st) {
    if (spl_at_end(P))
        return true;
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
    return spl_schema_copy(p, &st->out, in, 0) ? ESC_OK : spl_plan_oom(err);
}

static esc_status run_search(const stage *st, spl_run *x, esc_error *err) {
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
    esc_buf_append_c(out, "\n  predicate: ");
    spl_explain_snode(st->where, out);
}

const spl_cmd spl_cmd_search = {
    .name = "search",
    .flags = SPL_CMD_ROW_SEARCH,
    .parse = parse_search,
    .plan = plan_search,
    .run = run_search,
    .explain = explain_search,
};
