/* addtotals [row=BOOL] [col=BOOL] [labelfield=F] [label=S] [fieldname=F] [FIELD ...]: the sum of
 * numeric fields per row (and per column).
 *
 * Splunk's reference: Search Reference, "addtotals" (help.splunk.com/splunk-cloud-platform/
 * spl-search-reference/10.0.2503/search-commands/addtotals): "computes the arithmetic sum of all
 * numeric fields for each search result"; with a field list (wildcards allowed) "only the fields
 * specified ... are summed"; row defaults to true and puts the sum in `fieldname` (default
 * `Total`); col (default false) "adds a new result at the end that represents the sum of each
 * field", with `label` (default `Total`) in `labelfield` when that is given.
 *
 * Invariants: a value counts when it reads as a number (every value of a multivalue cell); a
 * row with no numeric value among the summed fields gets no total (docs/decisions.md); without
 * a field list every column but the internal ones (`_time`, names starting with `_`) and the
 * total itself is summed; the field list may be comma or space separated (ESCU writes
 * `addtotals fieldname=Score DoIt, enccom, ...`); the column totals row sums the summed fields
 * and the row total, and carries no events (spl/evidence.c). Deliberately not done: nothing of
 * the options is left out. */
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"

typedef struct tot_opts {
    bool row, col;
    const char *fieldname, *labelfield, *label;
    int total_col, label_col; /* output columns; -1: none */
    bool *sum;                /* per output column: summed */
} tot_opts;

static bool parse_bool(const char *v, size_t n, bool *out) {
    if ((n == 4 && !strncmp(v, "true", 4)) || (n == 1 && v[0] == 't') || (n == 1 && v[0] == '1'))
        *out = true;
    else if ((n == 5 && !strncmp(v, "false", 5)) || (n == 1 && v[0] == 'f') ||
             (n == 1 && v[0] == '0'))
        *out = false;
    else
        return false;
    return true;
}

static bool set_opt(spl_parser *P, tot_opts *o, const char *w, size_t wl, const char *v, size_t vl,
                    size_t at) {
    if ((wl == 3 && !strncmp(w, "row", 3)) || (wl == 3 && !strncmp(w, "col", 3))) {
        if (!parse_bool(v, vl, w[0] == 'r' ? &o->row : &o->col))
            return spl_fail(P, at, "addtotals: %.*s needs true or false", (int)wl, w) != NULL;
    } else if (wl == 9 && !strncmp(w, "fieldname", 9)) {
        o->fieldname = v;
    } else if (wl == 10 && !strncmp(w, "labelfield", 10)) {
        o->labelfield = v;
    } else if (wl == 5 && !strncmp(w, "label", 5)) {
        o->label = v;
    } else {
        return spl_fail(P, at, "unsupported addtotals option '%.*s'", (int)wl, w) != NULL;
    }
    return true;
}

static bool parse_addtotals(spl_parser *P, stage *st) {
    tot_opts *o = spl_alloc0(P, sizeof *o);
    if (!o)
        return false;
    *o = (tot_opts){true, false, "Total", NULL, "Total", -1, -1, NULL};
    st->opts = o;
    for (;;) {
        spl_skip_ws(P);
        size_t save = P->pos;
        size_t wl = spl_bare(P, "=,\"");
        if (wl == 0 || spl_peek(P) != '=') {
            P->pos = save;
            break;
        }
        P->pos++;
        size_t vl, vs;
        const char *v = spl_word(P, ",", &vl, &vs);
        if (!v) {
            if (!P->failed)
                spl_fail(P, save, "missing value for addtotals option '%.*s'", (int)wl,
                         P->s + save);
            return false;
        }
        if (!set_opt(P, o, P->s + save, wl, v, vl, save))
            return false;
    }
    if (spl_at_end(P))
        return true; /* every numeric field */
    return spl_parse_names(P, st, false);
}

static esc_status plan_addtotals(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    tot_opts *o = st->opts;
    if (!spl_schema_copy(p, &st->out, in, 2))
        return spl_plan_oom(err);
    if (!(o->sum = esc_arena_alloc(&p->arena, (in->n + 2) * sizeof *o->sum)))
        return spl_plan_oom(err);
    memset(o->sum, 0, (in->n + 2) * sizeof *o->sum);
    for (size_t c = 0; c < in->n; c++) {
        const char *name = in->name[c];
        bool pick = !st->nnames && name[0] != '_' && (!o->row || strcmp(name, o->fieldname));
        for (size_t k = 0; k < st->nnames && !pick; k++)
            pick = spl_name_matches(st->names[k], name);
        o->sum[c] = pick;
    }
    o->total_col = o->row ? spl_schema_add(&st->out, o->fieldname) : -1;
    if (o->total_col >= 0) {
        st->out.origin[o->total_col] = -1;
        st->out.mv[o->total_col] = false;
        o->sum[o->total_col] = false; /* a total already there is replaced, not added */
    }
    o->label_col = o->col && o->labelfield ? spl_schema_add(&st->out, o->labelfield) : -1;
    if (o->label_col >= 0)
        st->out.origin[o->label_col] = -1;
    return ESC_OK;
}

/* The sum of the numeric values of row's summed columns; false when there is none. */
static bool row_sum(const tot_opts *o, const esc_cell *row, size_t ncols, double *out) {
    bool any = false;
    double s = 0;
    for (size_t c = 0; c < ncols; c++) {
        if (!o->sum[c])
            continue;
        for (size_t i = 0; i < row[c].n; i++) {
            double d;
            if (spl_parse_num(row[c].v[i], strlen(row[c].v[i]), &d)) {
                s += d;
                any = true;
            }
        }
    }
    *out = s;
    return any;
}

/* The column totals row (the last row of t). */
static bool col_row(const tot_opts *o, esc_table *t) {
    size_t last = t->nrows - 1;
    esc_cell *out = &t->cells[last * t->ncols];
    for (size_t c = 0; c < t->ncols; c++) {
        if (!o->sum[c] && (int)c != o->total_col)
            continue;
        bool any = false;
        double s = 0;
        for (size_t r = 0; r < last; r++) {
            const esc_cell *cell = esc_table_cell(t, r, c);
            for (size_t i = 0; i < cell->n; i++) {
                double d;
                if (spl_parse_num(cell->v[i], strlen(cell->v[i]), &d)) {
                    s += d;
                    any = true;
                }
            }
        }
        if (any && !spl_cell_num(&out[c], s, NULL))
            return false;
    }
    esc_str label = esc_str_c(o->label);
    return o->label_col < 0 || spl_cell_set(&out[o->label_col], &label, 1);
}

static esc_status run_addtotals(const stage *st, spl_run *x, esc_error *err) {
    const tot_opts *o = st->opts;
    esc_table *t = x->t;
    esc_status rc = spl_table_widen(t, &st->out, err);
    for (size_t r = 0; rc == ESC_OK && o->total_col >= 0 && r < t->nrows; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        double s;
        if (row_sum(o, row, t->ncols, &s)) {
            if (!spl_cell_num(&row[o->total_col], s, NULL))
                rc = spl_exec_oom(err);
        } else {
            spl_cell_clear(&row[o->total_col]);
        }
    }
    if (rc == ESC_OK && o->col && (rc = spl_table_add_rows(t, 1, err)) == ESC_OK && !col_row(o, t))
        rc = spl_exec_oom(err);
    return rc;
}

static void explain_addtotals(const stage *st, esc_buf *out) {
    const tot_opts *o = st->opts;
    esc_buf_printf(out, " row=%s col=%s fieldname=%s", o->row ? "true" : "false",
                   o->col ? "true" : "false", o->fieldname);
    for (size_t k = 0; k < st->nnames; k++)
        esc_buf_printf(out, " %s", st->names[k]);
}

bool spl_addtotals_row_local(const stage *st) {
    return !((const tot_opts *)st->opts)->col;
}

const spl_cmd spl_cmd_addtotals = {
    .name = "addtotals",
    .flags = SPL_CMD_BARRIER, /* col=true adds a row (a later search gives no literals) */
    .parse = parse_addtotals,
    .plan = plan_addtotals,
    .run = run_addtotals,
    .explain = explain_addtotals,
};
