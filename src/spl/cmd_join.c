/* join [type=inner|left|outer] [max=N] [overwrite=BOOL] FIELD, ... [SUBSEARCH]: pair each row
 * with the rows of a subsearch that have the same values in the join fields.
 *
 * Invariants: the subsearch is planned with the main search (its own plan, owned by the stage,
 * nested at most 4 deep) and executed beside it, fed the same records (exec.c); only its first
 * ESC_SPL_JOIN_ROWS rows are used (Splunk's 50,000, spl_exec_join_rows); a row pairs
 * with at most max subsearch rows (0: all), in their order; fields match when both cells have
 * the same values in the same order (an empty cell matches nothing); a left join keeps an
 * unpaired row as it is; overwrite
 * decides whether a subsearch value replaces one the row has. A search with a join gives the
 * prefilter no literals (plan.c). Deliberately not done: joining on every common field (no
 * field list), usetime/earlier. */
#include <string.h>

#include "core/alloc.h"
#include "core/str.h"
#include "spl/cmd.h"

/* join [type=inner|left|outer] [max=N] [overwrite=BOOL] FIELD[, FIELD...] [SUBSEARCH] */
static bool parse_join(spl_parser *P, stage *st) {
    const char *tmp[ESC_SPL_MAX_ITEMS];
    size_t n = 0;
    st->join_max = 1;
    st->join_overwrite = true;
    for (;;) {
        spl_skip_ws(P);
        if (spl_peek(P) == '[' || P->pos >= P->end)
            break;
        size_t start = P->pos;
        size_t wl = spl_bare(P, "=,[");
        if (wl == 0) {
            spl_fail(P, start, "expected a join field");
            return false;
        }
        const char *w = P->s + start;
        if (spl_peek(P) == '=') {
            P->pos++;
            size_t vl, vs;
            const char *v = spl_word(P, "[", &vl, &vs);
            if (!v) {
                if (!P->failed)
                    spl_fail(P, start, "missing option value");
                return false;
            }
            if (wl == 4 && strncmp(w, "type", 4) == 0 && strcmp(v, "inner") == 0)
                st->join_type = 0;
            else if (wl == 4 && strncmp(w, "type", 4) == 0 &&
                     (strcmp(v, "left") == 0 || strcmp(v, "outer") == 0))
                st->join_type = 1;
            else if (wl == 3 && strncmp(w, "max", 3) == 0 && v[0] >= '0' && v[0] <= '9' &&
                     strlen(v) < 9)
                st->join_max = (size_t)strtoul(v, NULL, 10);
            else if (wl == 9 && strncmp(w, "overwrite", 9) == 0 &&
                     (strcmp(v, "true") == 0 || strcmp(v, "false") == 0 || strcmp(v, "t") == 0 ||
                      strcmp(v, "f") == 0 || strcmp(v, "1") == 0 || strcmp(v, "0") == 0))
                st->join_overwrite = v[0] == 't' || v[0] == '1';
            else {
                spl_fail(P, start, "unsupported join option '%.*s=%s'", (int)wl, w, v);
                return false;
            }
            continue;
        }
        if (n == ESC_SPL_MAX_ITEMS) {
            spl_fail(P, start, "too many join fields");
            return false;
        }
        tmp[n] = spl_dup(P, w, wl);
        if (!tmp[n++])
            return false;
        spl_skip_ws(P);
        if (spl_peek(P) == ',')
            P->pos++;
    }
    if (!n) {
        spl_fail(P, st->start,
                 "join needs at least one field (joining on every field is not "
                 "supported)");
        return false;
    }
    if (spl_peek(P) != '[') {
        spl_fail(P, P->pos, "join needs a subsearch [...]");
        return false;
    }
    if (!spl_parse_subsearch(P, st))
        return false;
    st->names = spl_alloc0(P, n * sizeof *tmp);
    if (!st->names)
        return false;
    memcpy(st->names, tmp, n * sizeof *tmp);
    st->nnames = n;
    return spl_expect_end(P, "join") && spl_parse_subplan(P, st);
}

static esc_status plan_join(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    const schema *sub = &st->sub->stages[st->sub->nstages - 1].out;
    st->cols = esc_arena_alloc(&p->arena, st->nnames * sizeof *st->cols);
    st->cols2 = esc_arena_alloc(&p->arena, st->nnames * sizeof *st->cols2);
    st->map = esc_arena_alloc(&p->arena, (sub->n ? sub->n : 1) * sizeof *st->map);
    if (!st->cols || !st->cols2 || !st->map || !spl_schema_copy(p, &st->out, in, sub->n))
        return spl_plan_oom(err);
    for (size_t k = 0; k < st->nnames; k++) {
        st->cols[k] = spl_schema_find(in, st->names[k]);
        st->cols2[k] = spl_schema_find(sub, st->names[k]);
    }
    /* map: subsearch column -> output column. Origins (evidence.c): a column the subsearch
     * fills (or overwrites) copies subsearch column c; a join field keeps the row's origin,
     * else (equal values on both sides) it copies the subsearch's. */
    size_t at = (size_t)(st - p->stages);
    for (size_t c = 0; c < sub->n; c++) {
        int o = spl_schema_add(&st->out, sub->name[c]);
        int from = at < ESC_SPL_MAX_STAGES && c < ESC_SPL_MAX_COLUMNS ? SPL_ORIGIN_JOIN(at, c) : -1;
        if ((size_t)o >= in->n) {
            st->out.mv[o] = sub->mv[c];
            st->out.origin[o] = from;
        } else {
            bool key = false;
            for (size_t k = 0; k < st->nnames; k++)
                key |= strcmp(st->names[k], sub->name[c]) == 0;
            if (!key) /* the subsearch may overwrite it */
                st->out.origin[o] = st->join_overwrite ? from : -1;
            else if (st->out.origin[o] == -1)
                st->out.origin[o] = from;
        }
        st->map[c] = o;
    }
    st->nmap = sub->n;
    p->fields |= st->sub->fields;
    p->has_join = true;
    return ESC_OK;
}

/* Whether row (of the main search) and srow (of the subsearch) pair: every join field present
 * on both sides with equal cells. */
static bool rows_pair(const stage *st, const esc_cell *row, const esc_cell *srow) {
    for (size_t k = 0; k < st->nnames; k++)
        if (!row[st->cols[k]].n || !esc_cell_eq(&row[st->cols[k]], &srow[st->cols2[k]]))
            return false;
    return true;
}

/* The hash of a row's join cells (cols: st->cols or st->cols2): rows that pair hash alike. */
static uint64_t key_hash(const stage *st, const int *cols, const esc_cell *row) {
    uint64_t h = 0;
    for (size_t k = 0; k < st->nnames; k++) {
        const esc_cell *c = &row[cols[k]];
        h = esc_hash_mix(h, c->n);
        for (size_t i = 0; i < c->n; i++)
            h = esc_hash_mix(h, esc_str_hash(esc_str_c(c->v[i])));
    }
    return h;
}

/* The subsearch rows by the hash of their join cells: chains from head[hash & mask] through
 * next[], each in row order (a row pairs with the first max of them). */
typedef struct join_index {
    size_t *head, *next, mask;
} join_index;

#define NO_ROW SIZE_MAX

static bool index_build(const stage *st, const esc_table *s, join_index *ix) {
    size_t cap = 16;
    while (cap < 2 * s->nrows)
        cap *= 2;
    ix->mask = cap - 1;
    ix->head = esc_malloc(cap * sizeof *ix->head);
    ix->next = esc_malloc((s->nrows ? s->nrows : 1) * sizeof *ix->next);
    if (!ix->head || !ix->next)
        return false;
    for (size_t b = 0; b < cap; b++)
        ix->head[b] = NO_ROW;
    for (size_t q = s->nrows; q-- > 0;) { /* last first, so that each chain runs in order */
        size_t b = key_hash(st, st->cols2, &s->cells[q * s->ncols]) & ix->mask;
        ix->next[q] = ix->head[b];
        ix->head[b] = q;
    }
    return true;
}

/* Row r of t (with srow's fields, when it pairs with one) appended to n; from[] says which
 * row of t each row of n came from (its events, spl/evidence.c). */
static esc_status add_row(const stage *st, esc_table *n, size_t **from, size_t *cap,
                          const esc_table *t, size_t r, const esc_cell *srow, esc_error *err) {
    if (n->nrows == ESC_SPL_MAX_ROWS) /* max=0 over many rows of one key */
        return esc_error_set(err, ESC_ELIMIT, "join makes more than %d rows", ESC_SPL_MAX_ROWS);
    if (n->nrows == *cap) {
        size_t nc = *cap * 2;
        esc_cell *cells = esc_realloc(n->cells, nc * n->ncols * sizeof *cells);
        if (!cells)
            return spl_exec_oom(err);
        memset(cells + *cap * n->ncols, 0, (nc - *cap) * n->ncols * sizeof *cells);
        n->cells = cells;
        size_t *f = esc_realloc(*from, nc * sizeof *f);
        if (!f)
            return spl_exec_oom(err);
        *from = f;
        *cap = nc;
    }
    const esc_cell *row = &t->cells[r * t->ncols];
    (*from)[n->nrows] = r;
    esc_cell *o = &n->cells[n->nrows++ * n->ncols];
    for (size_t c = 0; c < t->ncols; c++)
        if (!spl_cell_copy(&o[c], &row[c]))
            return spl_exec_oom(err);
    for (size_t c = 0; srow && c < st->nmap; c++) {
        size_t dst = (size_t)st->map[c];
        if (!srow[c].n || (!st->join_overwrite && o[dst].n))
            continue;
        if (!spl_cell_copy(&o[dst], &srow[c]))
            return spl_exec_oom(err);
    }
    return ESC_OK;
}

/* Each row of t with the subsearch rows it pairs with, found by a hash of the join cells (a
 * row tried against every subsearch row took |t| x 50,000 comparisons at worst). */
static esc_status run_join(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    esc_table *s = NULL, *n = NULL;
    join_index ix = {0};
    esc_status rc = spl_exec_join_rows(x->sub, st, t, &s, err);
    if (rc != ESC_OK)
        return rc;
    size_t cap = t->nrows ? t->nrows : 1;
    size_t *from = NULL; /* each joined row's row of t (its events, spl/evidence.c) */
    bool fields = true;  /* every join field on both sides: else no row pairs */
    for (size_t k = 0; k < st->nnames; k++)
        fields &= st->cols[k] >= 0 && st->cols2[k] >= 0;
    n = spl_table_new(&st->out, cap);
    if (!n || !(from = esc_malloc(cap * sizeof *from)) || (fields && !index_build(st, s, &ix))) {
        rc = spl_exec_oom(err);
        goto done;
    }
    n->nrows = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        const esc_cell *row = &t->cells[r * t->ncols];
        size_t used = 0;
        size_t q = fields ? ix.head[key_hash(st, st->cols, row) & ix.mask] : NO_ROW;
        for (; q != NO_ROW && !(st->join_max && used == st->join_max); q = ix.next[q]) {
            const esc_cell *srow = &s->cells[q * s->ncols];
            if (!rows_pair(st, row, srow))
                continue;
            used++;
            if ((rc = add_row(st, n, &from, &cap, t, r, srow, err)) != ESC_OK)
                goto done;
        }
        if (!used && st->join_type != 0 && /* the unpaired row of a left join */
            (rc = add_row(st, n, &from, &cap, t, r, NULL, err)) != ESC_OK)
            goto done;
    }
    if (!spl_lineage_pick(n, t, from))
        rc = spl_exec_oom(err);
    else
        spl_table_swap(t, n);
done:
    esc_free(ix.head);
    esc_free(ix.next);
    esc_free(from);
    esc_table_free(n);
    if (rc == ESC_OK && s->evidence) /* the joined rows' evidence (evidence.c) */
        spl_exec_keep(x->sub, s);
    else
        esc_table_free(s);
    return rc;
}

static void free_join(stage *st) {
    esc_plan_free(st->sub);
}

static void explain_join(const stage *st, esc_buf *out) {
    esc_buf_append_c(out, " on");
    for (size_t k = 0; k < st->nnames; k++)
        esc_buf_printf(out, " %s", st->names[k]);
    esc_buf_printf(out, " (%s, max=%zu)\n  subsearch where: ", st->join_type ? "left" : "inner",
                   st->join_max);
    spl_explain_snode(st->sub->stages[0].where, out);
}

const spl_cmd spl_cmd_join = {
    .name = "join",
    .flags = SPL_CMD_BARRIER,
    .parse = parse_join,
    .plan = plan_join,
    .run = run_join,
    .free = free_join,
    .explain = explain_join,
};
