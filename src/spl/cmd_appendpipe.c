/* appendpipe [run_in_preview=BOOL] [SUBPIPELINE]: run SUBPIPELINE over the results so far and
 * append its rows to them.
 *
 * Splunk's reference: Search Reference, "appendpipe" (help.splunk.com/splunk-cloud-platform/
 * spl-search-reference/10.0.2503/search-commands/appendpipe): "Appends the result of the
 * subpipeline to the search results. Unlike a subsearch, the subpipeline is not run first. The
 * subpipeline is run when the search reaches the appendpipe command"; the subpipeline is "a list
 * of commands that are applied to the search results from the commands that occur in the search
 * before the appendpipe command"; run_in_preview only changes what a preview shows (escudo has
 * none: accepted, no effect). Columns are aligned by name: a column only one side has is empty
 * in the other side's rows (as the reference's example shows, `user` empty in the rows that only
 * the subpipeline's `eval user=...` fills).
 *
 * Invariants: the subpipeline is planned over the input schema (its stage 0, spl_cmd_pipein,
 * stands for the results); it runs on a copy of the rows, so the rows before it are unchanged
 * and come first, the subpipeline's after them in its order; each appended row carries the
 * events of the rows it was made from (spl/evidence.c lineage). A subpipeline that reads
 * records (a `map`, cmd_map.c) has its own execution, fed the records of the search
 * (exec.c). Deliberately not done: nothing else. */
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"

/* ---- the results a subpipeline reads: its stage 0 ---- */

static esc_status plan_pipein(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    (void)in;
    p->ds = ESC_DS_N; /* reads no records itself */
    if (!spl_schema_copy(p, &st->out, p->pipe_in, 0))
        return spl_plan_oom(err);
    return ESC_OK;
}

const spl_cmd spl_cmd_pipein = {
    .name = "(results)",
    .flags = SPL_CMD_SOURCE,
    .plan = plan_pipein,
};

/* ---- appendpipe ---- */

static bool parse_appendpipe(spl_parser *P, stage *st) {
    spl_skip_ws(P);
    size_t save = P->pos;
    size_t wl = spl_bare(P, "=[");
    if (wl && spl_peek(P) == '=') {
        if (!(wl == 14 && !strncmp(P->s + save, "run_in_preview", 14)))
            return spl_fail(P, save, "unsupported appendpipe option '%.*s'", (int)wl,
                            P->s + save) != NULL;
        P->pos++;
        size_t vl, vs;
        if (!spl_word(P, "[", &vl, &vs))
            return spl_fail(P, save, "missing value for appendpipe option 'run_in_preview'") !=
                   NULL;
    } else {
        P->pos = save;
    }
    spl_skip_ws(P);
    if (spl_peek(P) != '[')
        return spl_fail(P, P->pos, "appendpipe needs a subpipeline [...]") != NULL;
    if (!spl_parse_subsearch(P, st))
        return false;
    return spl_expect_end(P, "appendpipe");
}

static esc_status plan_appendpipe(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    esc_status rc = spl_subpipe(p, st, in, err);
    if (rc != ESC_OK)
        return rc;
    /* the subpipeline may read records (map): the search's own literals do not bound them */
    p->has_join = true;
    const schema *sub = &st->sub->stages[st->sub->nstages - 1].out;
    if (in->n + sub->n > ESC_SPL_MAX_COLUMNS)
        return esc_error_at(err, ESC_ELIMIT, NULL, st->start, "appendpipe: more than %d columns",
                            ESC_SPL_MAX_COLUMNS);
    if (!spl_schema_copy(p, &st->out, in, sub->n))
        return spl_plan_oom(err);
    st->map = esc_arena_alloc(&p->arena, (sub->n ? sub->n : 1) * sizeof *st->map);
    if (!st->map)
        return spl_plan_oom(err);
    for (size_t c = 0; c < st->out.n; c++)
        st->out.origin[c] = -1; /* a column also holds the subpipeline's values */
    for (size_t c = 0; c < sub->n; c++) {
        int o = spl_schema_find(&st->out, sub->name[c]);
        if (o < 0) {
            o = spl_schema_add(&st->out, sub->name[c]);
            st->out.origin[o] = -1;
        }
        st->out.mv[o] = st->out.mv[o] || sub->mv[c];
        st->map[c] = o;
    }
    st->nmap = sub->n;
    return ESC_OK;
}

static esc_status run_appendpipe(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t, *s = NULL;
    esc_status rc = spl_exec_pipe(x->sub, t, &s, err);
    size_t base = t->nrows;
    if (rc == ESC_OK)
        rc = spl_table_widen(t, &st->out, err);
    if (rc == ESC_OK)
        rc = spl_table_add_rows(t, s->nrows, err);
    for (size_t r = 0; rc == ESC_OK && r < s->nrows; r++) {
        esc_cell *o = &t->cells[(base + r) * t->ncols];
        for (size_t c = 0; c < s->ncols && c < st->nmap; c++) { /* moved */
            o[st->map[c]] = s->cells[r * s->ncols + c];
            memset(&s->cells[r * s->ncols + c], 0, sizeof(esc_cell));
        }
    }
    if (rc == ESC_OK && !spl_lineage_append(t, base, s))
        rc = spl_exec_oom(err);
    esc_table_free(s);
    return rc;
}

static void free_appendpipe(stage *st) {
    esc_plan_free(st->sub);
}

static void explain_appendpipe(const stage *st, esc_buf *out) {
    esc_buf_printf(out, " [%.*s]", (int)st->sub_len, st->sub_text);
}

const spl_cmd spl_cmd_appendpipe = {
    .name = "appendpipe",
    .flags = SPL_CMD_BARRIER,
    .parse = parse_appendpipe,
    .plan = plan_appendpipe,
    .run = run_appendpipe,
    .free = free_appendpipe,
    .explain = explain_appendpipe,
};
