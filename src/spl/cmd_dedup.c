/* dedup FIELD, ...: keep the first row of each combination of values.
 *
 * Invariants: rows keep their order; a row missing one of the fields is dropped (Splunk's
 * default keepempty=false); a multivalue cell is one key (values joined by '\n'); only the
 * first ESC_SPL_MAX_ITEMS fields make the key. Deliberately not done: a count (dedup 3 x),
 * keepevents, consecutive=true, sortby. */
#include "core/alloc.h"
#include "spl/cmd.h"

static bool parse_dedup(spl_parser *P, stage *st) {
    spl_skip_ws(P);
    if (spl_peek(P) >= '0' && spl_peek(P) <= '9') {
        spl_fail(P, P->pos, "dedup with a count is not supported");
        return false;
    }
    return spl_parse_names(P, st, false);
}

static esc_status plan_dedup(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    st->cols = esc_arena_alloc(&p->arena, st->nnames * sizeof *st->cols);
    if (!st->cols || !spl_schema_copy(p, &st->out, in, 0))
        return spl_plan_oom(err);
    for (size_t k = 0; k < st->nnames; k++)
        st->cols[k] = spl_schema_find(in, st->names[k]);
    return ESC_OK;
}

static esc_status run_dedup(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    esc_agg *seen = esc_agg_new(st->nnames, NULL, 0, 0, ESC_SPL_MAX_EXEC_BYTES);
    bool *keep = esc_malloc(t->nrows ? t->nrows : 1);
    esc_buf kb[ESC_SPL_MAX_ITEMS];
    esc_str keys[ESC_SPL_MAX_ITEMS];
    esc_status rc = ESC_OK;
    size_t nk = st->nnames < ESC_SPL_MAX_ITEMS ? st->nnames : ESC_SPL_MAX_ITEMS;
    for (size_t k = 0; k < nk; k++)
        esc_buf_init(&kb[k], ESC_SPL_EXPAND_MAX);
    if (!seen || !keep) {
        rc = spl_exec_oom(err);
        goto done;
    }
    for (size_t r = 0; r < t->nrows; r++) {
        const esc_cell *row = &t->cells[r * t->ncols];
        keep[r] = true;
        for (size_t k = 0; k < nk && keep[r]; k++) {
            int c = st->cols[k];
            if (c < 0 || row[c].n == 0) {
                keep[r] = false;
                break;
            }
            if ((rc = spl_cell_key(&row[c], &kb[k])) != ESC_OK) {
                rc = esc_error_set(err, rc, "dedup key too long");
                goto done;
            }
            keys[k] = esc_buf_str(&kb[k]);
        }
        if (!keep[r])
            continue;
        size_t before = esc_agg_ngroups(seen), g;
        if ((rc = esc_agg_group(seen, keys, &g, err)) != ESC_OK)
            goto done;
        keep[r] = esc_agg_ngroups(seen) > before;
    }
    spl_table_filter(t, keep);
done:
    for (size_t k = 0; k < nk; k++)
        esc_buf_fini(&kb[k]);
    esc_free(keep);
    esc_agg_free(seen);
    return rc;
}

const spl_cmd spl_cmd_dedup = {
    .name = "dedup",
    .flags = SPL_CMD_BARRIER,
    .parse = parse_dedup,
    .plan = plan_dedup,
    .run = run_dedup,
};
