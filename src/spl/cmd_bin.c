/* bin and bucket (its alias): bin [span=SPAN] _time [as NAME] [span=SPAN] — each row's time put
 * at the start of its bin. Splunk's reference: Search Reference, "bin" (help.splunk.com/
 * splunk-enterprise/spl-search-reference/9.4/search-commands/bin).
 *
 * Invariants: a bin is [k * span, (k + 1) * span) counted from the epoch in the --tz zone
 * (local midnight starts a day bin, as Splunk aligns time bins to the user's zone); the result
 * is a number (whole seconds when the span is); a row without the field, or whose value is not
 * a number, keeps it as it is; options stage->names[0] = the field, names[1] = the AS name.
 * Deliberately not done: bins= / minspan= / start= / end= / aligntime= (errors), bins of a
 * field other than _time (an error: Splunk gives ranges "10-20" there, which ESCU does not use),
 * month spans, and the automatic span Splunk picks without span= (an error). */
#include <math.h>
#include <string.h>

#include "core/timeutil.h"
#include "spl/cmd.h"

static bool parse_bin(spl_parser *P, stage *st) {
    const char *field = NULL, *as = NULL;
    size_t field_at = st->start;
    while (!spl_at_end(P)) {
        size_t start = P->pos;
        size_t wl, ws;
        const char *w = spl_word(P, "=", &wl, &ws);
        if (!w) {
            if (!P->failed)
                spl_fail(P, start, "expected a field or option of %s", st->name);
            return false;
        }
        if (spl_peek(P) == '=') {
            P->pos++;
            size_t vl, vs;
            const char *v = spl_word(P, "", &vl, &vs);
            if (strcmp(w, "span") != 0) {
                spl_fail(P, start, "unsupported %s option '%s'", st->name, w);
                return false;
            }
            if (!v || !spl_parse_span(v, &st->span_us)) {
                if (!P->failed)
                    spl_fail(P, v ? vs : start,
                             "bad span '%s' (expected N followed by s, m, h, d or w)", v ? v : "");
                return false;
            }
            continue;
        }
        if ((strcmp(w, "as") == 0 || strcmp(w, "AS") == 0) && field && !as) {
            as = spl_word(P, "=", &wl, &ws);
            if (!as) {
                if (!P->failed)
                    spl_fail(P, P->pos, "expected a name after 'as'");
                return false;
            }
            continue;
        }
        if (field) {
            spl_fail(P, start, "%s takes one field", st->name);
            return false;
        }
        field = w;
        field_at = start;
    }
    if (!field || !st->span_us) {
        spl_fail(P, st->start, "%s needs a field and span=", st->name);
        return false;
    }
    if (strcmp(field, "_time") != 0) {
        spl_fail(P, field_at, "%s on a field other than _time is not supported", st->name);
        return false;
    }
    st->names = spl_alloc0(P, 2 * sizeof *st->names);
    if (!st->names)
        return false;
    st->names[0] = field;
    st->names[1] = as;
    st->nnames = 1;
    return true;
}

static esc_status plan_bin(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    st->cols = esc_arena_alloc(&p->arena, sizeof *st->cols);
    st->cols2 = esc_arena_alloc(&p->arena, sizeof *st->cols2);
    if (!st->cols || !st->cols2 || !spl_schema_copy(p, &st->out, in, 1))
        return spl_plan_oom(err);
    st->cols[0] = spl_schema_find(in, st->names[0]);
    st->cols2[0] = -1;
    if (st->cols[0] >= 0 || st->names[1]) {
        int dst = st->names[1] ? spl_schema_add(&st->out, st->names[1]) : st->cols[0];
        st->out.origin[dst] = -1;
        st->out.mv[dst] = false;
        st->cols2[0] = dst;
    }
    return ESC_OK;
}

/* The start of t's bin of span seconds, in the --tz zone. */
static double bin_start(double t, double span) {
    struct tm tm;
    esc_time_to_local((int64_t)floor(t), &tm);
    double off = (double)tm.tm_gmtoff;
    return floor((t + off) / span) * span - off;
}

static esc_status run_bin(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    esc_status rc = spl_table_widen(t, &st->out, err);
    if (rc != ESC_OK || st->cols2[0] < 0)
        return rc;
    double span = (double)st->span_us / 1e6;
    for (size_t r = 0; r < t->nrows; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        esc_cell *dst = &row[st->cols2[0]];
        const esc_cell *src = st->cols[0] >= 0 ? &row[st->cols[0]] : NULL;
        double v;
        if (!src || src->n != 1 || !spl_parse_num(src->v[0], strlen(src->v[0]), &v) ||
            fabs(v) > 1e11) {
            if (src && dst != src && !spl_cell_copy(dst, src))
                return spl_exec_oom(err);
            continue;
        }
        spl_cell_clear(dst);
        if (!spl_cell_num(dst, bin_start(v, span), NULL))
            return spl_exec_oom(err);
    }
    return ESC_OK;
}

const spl_cmd spl_cmd_bin = {
    .name = "bin",
    .parse = parse_bin,
    .plan = plan_bin,
    .run = run_bin,
};

const spl_cmd spl_cmd_bucket = {
    .name = "bucket",
    .parse = parse_bin,
    .plan = plan_bin,
    .run = run_bin,
};
