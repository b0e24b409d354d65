/* fillnull [value=V] [FIELD ...]: give null cells a value. Splunk's reference: Search Reference,
 * "fillnull" (help.splunk.com/splunk-enterprise/spl-search-reference/9.4/search-commands/
 * fillnull): "Replaces null values with a specified value"; value defaults to 0; without a
 * field list every field is filled.
 *
 * Invariants: only null cells (no value) change, to the single value V (text; a number when V
 * reads as one); a named field the rows do not have becomes a column holding V in every row;
 * without names every column of the stage's input is filled; a filled column is no longer a
 * straight copy of a CIM field (its origin is dropped, so the prefilter takes no literal from
 * it). Deliberately not done: wildcards in field names (Splunk's fillnull has none). */
#include <string.h>

#include "spl/cmd.h"

static bool parse_fillnull(spl_parser *P, stage *st) {
    st->fillnull = "0";
    for (;;) {
        spl_skip_ws(P);
        size_t save = P->pos;
        size_t wl = spl_bare(P, "=,\"");
        if (wl == 0 || spl_peek(P) != '=') {
            P->pos = save;
            break;
        }
        const char *w = P->s + save;
        if (!(wl == 5 && strncmp(w, "value", 5) == 0)) {
            spl_fail(P, save, "unsupported fillnull option '%.*s'", (int)wl, w);
            return false;
        }
        P->pos++;
        size_t vl, vs;
        const char *v = spl_word(P, "", &vl, &vs);
        if (!v) {
            if (!P->failed)
                spl_fail(P, save, "missing value for option 'value'");
            return false;
        }
        st->fillnull = (char *)v;
    }
    st->fill = true;
    if (spl_at_end(P))
        return true; /* every field */
    return spl_parse_names(P, st, false);
}

static esc_status plan_fillnull(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    size_t n = st->nnames ? st->nnames : in->n;
    st->cols = esc_arena_alloc(&p->arena, (n ? n : 1) * sizeof *st->cols);
    if (!st->cols || !spl_schema_copy(p, &st->out, in, st->nnames))
        return spl_plan_oom(err);
    for (size_t i = 0; i < n; i++) {
        int c = st->nnames ? spl_schema_find(&st->out, st->names[i]) : (int)i;
        if (c < 0)
            c = spl_schema_add(&st->out, st->names[i]);
        st->out.origin[c] = -1;
        st->cols[i] = c;
    }
    st->nmap = n;
    return ESC_OK;
}

static esc_status run_fillnull(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    esc_status rc = spl_table_widen(t, &st->out, err);
    if (rc != ESC_OK)
        return rc;
    esc_str v = esc_str_c(st->fillnull);
    double num;
    bool is_num = spl_parse_num(v.ptr, v.len, &num);
    for (size_t r = 0; r < t->nrows; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        for (size_t k = 0; k < st->nmap; k++) {
            esc_cell *c = &row[st->cols[k]];
            if (c->n)
                continue;
            if (!(is_num ? spl_cell_num(c, num, &v) : spl_cell_set(c, &v, 1)))
                return spl_exec_oom(err);
        }
    }
    return ESC_OK;
}

const spl_cmd spl_cmd_fillnull = {
    .name = "fillnull",
    .parse = parse_fillnull,
    .plan = plan_fillnull,
    .run = run_fillnull,
};
