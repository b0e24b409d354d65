/* where EXPRESSION: keep the rows for which the eval expression is true (eval.c).
 *
 * Invariants: three-valued logic: a null or false condition drops the row, and so does a
 * number 0 (any other number keeps it); the expression is compiled against the input columns
 * once, at plan time. Deliberately not done: options (where has none). */
#include "core/alloc.h"
#include "spl/cmd.h"

static bool parse_where(spl_parser *P, stage *st) {
    if (spl_at_end(P)) {
        spl_fail(P, st->start, "where needs an expression");
        return false;
    }
    st->cond = spl_parse_expr(P);
    if (!st->cond)
        return false;
    if (spl_peek(P) == ')') {
        spl_fail(P, P->pos, "unbalanced parenthesis: ')' without '('");
        return false;
    }
    return spl_expect_end(P, "where");
}

static esc_status plan_where(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    if (!spl_schema_copy(p, &st->out, in, 0))
        return spl_plan_oom(err);
    return spl_eval_compile(p, st->cond, in, err);
}

static esc_status run_where(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    bool *keep = esc_malloc(t->nrows ? t->nrows : 1);
    if (!keep)
        return spl_exec_oom(err);
    for (size_t r = 0; r < t->nrows; r++)
        if (spl_cond_true(st->cond, &t->cells[r * t->ncols], t->ncols, &keep[r]) != ESC_OK) {
            esc_free(keep);
            return spl_exec_oom(err);
        }
    spl_table_filter(t, keep);
    esc_free(keep);
    return ESC_OK;
}

static void free_where(stage *st) {
    spl_eval_free(st->cond);
}

const spl_cmd spl_cmd_where = {
    .name = "where",
    .parse = parse_where,
    .plan = plan_where,
    .run = run_where,
    .free = free_where,
};
