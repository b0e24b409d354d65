/* eval FIELD=EXPRESSION, ...: set columns to the values of eval expressions (eval.c).
 *
 * Invariants: assignments apply in order, each one seeing the columns the previous ones set; a
 * new name becomes a new column at the end, an existing one is overwritten (a null result
 * empties it); each expression is compiled once, at plan time. Deliberately not done: eval's
 * type errors (a mismatch yields null). */
#include <string.h>

#include "spl/cmd.h"

static bool parse_eval(spl_parser *P, stage *st) {
    eval_item tmp[ESC_SPL_MAX_ITEMS];
    size_t n = 0;
    while (!spl_at_end(P)) {
        if (n == ESC_SPL_MAX_ITEMS) {
            spl_fail(P, P->pos, "too many assignments");
            return false;
        }
        size_t start = P->pos, l, s;
        const char *name;
        if (spl_peek(P) == '\'') {
            size_t i = P->pos + 1;
            while (i < P->end && P->s[i] != '\'')
                i++;
            if (i >= P->end) {
                spl_fail(P, start, "unterminated field name");
                return false;
            }
            name = spl_dup(P, P->s + start + 1, i - start - 1);
            P->pos = i + 1;
        } else {
            name = spl_word(P, "=,()", &l, &s);
        }
        if (!name) {
            if (!P->failed)
                spl_fail(P, start, "expected FIELD=EXPRESSION");
            return false;
        }
        spl_skip_ws(P);
        if (spl_peek(P) != '=' || (P->pos + 1 < P->end && P->s[P->pos + 1] == '=')) {
            spl_fail(P, start, "expected FIELD=EXPRESSION");
            return false;
        }
        P->pos++;
        enode *e = spl_parse_expr(P);
        if (!e)
            return false;
        tmp[n++] = (eval_item){name, -1, e, start, P->pos};
        spl_skip_ws(P);
        if (spl_peek(P) == ',')
            P->pos++;
        else if (!spl_at_end(P)) {
            spl_fail(P, P->pos, "unexpected text in eval");
            return false;
        }
    }
    if (!n) {
        spl_fail(P, st->start, "eval needs FIELD=EXPRESSION");
        return false;
    }
    st->evals = spl_alloc0(P, n * sizeof *tmp);
    if (!st->evals)
        return false;
    memcpy(st->evals, tmp, n * sizeof *tmp);
    st->nevals = n;
    return true;
}

static esc_status plan_eval(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    esc_status rc;
    if (!spl_schema_copy(p, &st->out, in, st->nevals))
        return spl_plan_oom(err);
    for (size_t k = 0; k < st->nevals; k++) {
        eval_item *ev = &st->evals[k];
        if ((rc = spl_eval_compile(p, ev->e, &st->out, err)) != ESC_OK)
            return rc;
        ev->col = spl_schema_add(&st->out, ev->name);
        st->out.origin[ev->col] = -1;
        st->out.mv[ev->col] = false;
    }
    return ESC_OK;
}

static esc_status run_eval(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    esc_status rc = spl_table_widen(t, &st->out, err);
    if (rc != ESC_OK)
        return rc;
    for (size_t r = 0; r < t->nrows; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        for (size_t k = 0; k < st->nevals; k++) {
            esc_cell v = {0};
            if ((rc = spl_eval_cell(st->evals[k].e, row, t->ncols, &v)) != ESC_OK)
                return esc_error_at(err, rc, NULL, st->evals[k].start, "eval failed for '%s'",
                                    st->evals[k].name);
            spl_cell_clear(&row[st->evals[k].col]);
            row[st->evals[k].col] = v;
        }
    }
    return ESC_OK;
}

static void free_eval(stage *st) {
    for (size_t k = 0; k < st->nevals; k++)
        spl_eval_free(st->evals[k].e);
}

const spl_cmd spl_cmd_eval = {
    .name = "eval",
    .parse = parse_eval,
    .plan = plan_eval,
    .run = run_eval,
    .free = free_eval,
};
