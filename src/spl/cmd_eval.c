/* eval FIELD=EXPRESSION, ...: set columns to the values of eval expressions (eval.c).
 *
 * Invariants: assignments apply in order, each one seeing the columns the previous ones set; a
 * new name becomes a new column at the end, an existing one is overwritten (a null result
 * empties it); each expression is compiled once, at plan time. An expression that reads one
 * column is a function of that column's value (every eval function is, now() being fixed per
 * execution): within one run its result is remembered by value, and rows with a value seen
 * before get a copy, with the regex stops its evaluation counted again (memo below). Sysmon 7's
 * ImageLoaded values repeat: Windows Remote Access Software BRC4 Loaded Dll's four match()es per
 * event are most of the eval cost of the whole-ESCU hunt. Deliberately not done: eval's type
 * errors (a mismatch yields null). */
#include <string.h>

#include "core/alloc.h"
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
        tmp[n++] = (eval_item){name, -1, -1, e, start, P->pos};
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

/* The one column e reads: *dep (-1 before any), -2 when it reads more than one. */
static void one_column(const enode *e, int *dep) {
    if (e->kind == EN_FIELD && e->col >= 0)
        *dep = *dep == -1 || *dep == e->col ? e->col : -2;
    for (size_t i = 0; i < e->nargs && *dep != -2; i++)
        one_column(e->args[i], dep);
}

static esc_status plan_eval(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    esc_status rc;
    if (!spl_schema_copy(p, &st->out, in, st->nevals))
        return spl_plan_oom(err);
    for (size_t k = 0; k < st->nevals; k++) {
        eval_item *ev = &st->evals[k];
        if ((rc = spl_eval_compile(p, ev->e, &st->out, err)) != ESC_OK)
            return rc;
        int dep = -1;
        one_column(ev->e, &dep);
        ev->dep = dep >= 0 ? dep : -1;
        ev->col = spl_schema_add(&st->out, ev->name);
        st->out.origin[ev->col] = -1;
        st->out.mv[ev->col] = false;
    }
    return ESC_OK;
}

/* ---- memo: per assignment that reads one column, its results by that column's value ---- */

#define MEMO_SLOTS 256 /* per assignment, direct-mapped by the value's hash */

typedef struct memo_slot {
    char *key; /* the column's one value (NULL: the slot is empty) */
    bool key_null, key_num;
    double key_v;
    esc_cell val;     /* the result */
    uint64_t limited; /* regex matches a limit stopped while it was evaluated */
} memo_slot;

static void memo_free(memo_slot *m) {
    for (size_t i = 0; m && i < MEMO_SLOTS; i++) {
        esc_free(m[i].key);
        spl_cell_clear(&m[i].val);
    }
    esc_free(m);
}

/* The slot for cell c's value, and whether it holds that value; NULL when c has several. */
static memo_slot *memo_find(memo_slot *m, const esc_cell *c, bool *hit) {
    *hit = false;
    if (c->n > 1)
        return NULL;
    esc_str k = c->n ? esc_str_c(c->v[0]) : esc_str_make("", 0);
    memo_slot *s = &m[esc_agg_hash(&k, 1, UINT64_MAX) % MEMO_SLOTS];
    if (s->key && s->key_null == !c->n && s->key_num == c->is_num &&
        (!c->is_num || s->key_v == c->num) && strcmp(s->key, k.ptr) == 0)
        *hit = true;
    return s;
}

/* Remember v (c's result, with the regex stops it took) in s; false when out of memory. */
static bool memo_put(memo_slot *s, const esc_cell *c, const esc_cell *v, uint64_t limited) {
    esc_free(s->key);
    s->key = esc_strdup(c->n ? c->v[0] : "");
    s->key_null = !c->n;
    s->key_num = c->is_num;
    s->key_v = c->num;
    s->limited = limited;
    return s->key && spl_cell_copy(&s->val, v);
}

/* The value of assignment ev for row: from memo m (NULL: none) or evaluated. */
static esc_status eval_one(const eval_item *ev, memo_slot *m, esc_cell *row, size_t ncols,
                           esc_cell *v) {
    bool hit = false;
    memo_slot *s = m ? memo_find(m, &row[ev->dep], &hit) : NULL;
    if (hit) {
        spl_re_limited_set(spl_re_limited() + s->limited);
        return spl_cell_copy(v, &s->val) ? ESC_OK : ESC_ENOMEM;
    }
    uint64_t before = spl_re_limited();
    esc_status rc = spl_eval_cell(ev->e, row, ncols, v);
    if (rc == ESC_OK && s && !memo_put(s, &row[ev->dep], v, spl_re_limited() - before)) {
        esc_free(s->key); /* the slot is left empty */
        s->key = NULL;
    }
    return rc;
}

static esc_status run_eval(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    esc_status rc = spl_table_widen(t, &st->out, err);
    if (rc != ESC_OK)
        return rc;
    memo_slot *memo[ESC_SPL_MAX_ITEMS] = {0};
    for (size_t k = 0; k < st->nevals && t->nrows > 1; k++)
        if (st->evals[k].dep >= 0)
            memo[k] = esc_calloc(MEMO_SLOTS, sizeof *memo[k]); /* NULL: evaluated each time */
    for (size_t r = 0; r < t->nrows && rc == ESC_OK; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        for (size_t k = 0; k < st->nevals; k++) {
            esc_cell v = {0};
            if ((rc = eval_one(&st->evals[k], memo[k], row, t->ncols, &v)) != ESC_OK) {
                rc = esc_error_at(err, rc, NULL, st->evals[k].start, "eval failed for '%s'",
                                  st->evals[k].name);
                break;
            }
            spl_cell_clear(&row[st->evals[k].col]);
            row[st->evals[k].col] = v;
        }
    }
    for (size_t k = 0; k < st->nevals; k++)
        memo_free(memo[k]);
    return rc;
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
