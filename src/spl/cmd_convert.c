/* convert [timeformat=FMT] ctime(FIELD) [as NAME], ...: epoch seconds -> time text.
 *
 * Invariants: FIELD may hold '*' (every matching column, in place; no `as`); a value that is not
 * a number, or is beyond 1e13 seconds, is kept as it is; every value of a multivalue cell is
 * converted; the default format is Splunk's "%m/%d/%Y %H:%M:%S". Deliberately not done:
 * the other convert functions (dur2sec, mktime, num, rmunit, ...). */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timeutil.h"
#include "spl/cmd.h"

static bool parse_convert(spl_parser *P, stage *st) {
    convert_item tmp[ESC_SPL_MAX_ITEMS];
    size_t n = 0;
    st->timeformat = "%m/%d/%Y %H:%M:%S";
    while (!spl_at_end(P)) {
        size_t start = P->pos;
        size_t wl = spl_bare(P, "=(");
        const char *w = P->s + start;
        if (spl_peek(P) == '=') {
            if (!(wl == 10 && strncmp(w, "timeformat", 10) == 0)) {
                spl_fail(P, start, "unsupported convert option '%.*s'", (int)wl, w);
                return false;
            }
            P->pos++;
            size_t vl, vs;
            st->timeformat = spl_word(P, "", &vl, &vs);
            if (!st->timeformat) {
                if (!P->failed)
                    spl_fail(P, start, "missing value for timeformat");
                return false;
            }
            continue;
        }
        if (!(wl == 5 && strncmp(w, "ctime", 5) == 0) || spl_peek(P) != '(') {
            spl_fail(P, start, "unsupported convert function '%.*s'", (int)wl, w);
            return false;
        }
        P->pos++;
        size_t fl, fs;
        const char *f = spl_word(P, "()", &fl, &fs);
        spl_skip_ws(P);
        if (!f || spl_peek(P) != ')') {
            if (!P->failed)
                spl_fail(P, start, "expected ctime(FIELD)");
            return false;
        }
        P->pos++;
        if (n == ESC_SPL_MAX_ITEMS) {
            spl_fail(P, start, "too many conversions");
            return false;
        }
        convert_item *ci = &tmp[n++];
        ci->field = f;
        ci->as = NULL;
        ci->start = start;
        if (spl_accept_kw(P, "as", true)) {
            size_t al, as_;
            ci->as = spl_word(P, ",", &al, &as_);
            if (!ci->as) {
                if (!P->failed)
                    spl_fail(P, P->pos, "expected a name after 'as'");
                return false;
            }
        }
        ci->end = P->pos;
        spl_skip_ws(P);
        if (spl_peek(P) == ',')
            P->pos++;
    }
    if (!n) {
        spl_fail(P, st->start, "convert needs ctime(FIELD)");
        return false;
    }
    st->conv = spl_alloc0(P, n * sizeof *tmp);
    if (!st->conv)
        return false;
    memcpy(st->conv, tmp, n * sizeof *tmp);
    st->nconv = n;
    return true;
}

static esc_status plan_convert(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    /* each item may match several columns: at most in->n each */
    size_t cap = st->nconv * (in->n + 1);
    st->cols = esc_arena_alloc(&p->arena, cap * sizeof *st->cols);
    st->cols2 = esc_arena_alloc(&p->arena, cap * sizeof *st->cols2);
    if (!st->cols || !st->cols2 || !spl_schema_copy(p, &st->out, in, cap))
        return spl_plan_oom(err);
    size_t n = 0;
    for (size_t k = 0; k < st->nconv; k++) {
        convert_item *ci = &st->conv[k];
        bool wild = strchr(ci->field, '*') != NULL;
        if (wild && ci->as)
            return esc_error_at(err, ESC_ECONTENT, NULL, ci->start,
                                "convert: a wildcard field cannot be renamed with 'as'");
        size_t before = st->out.n;
        for (size_t c = 0; c < before; c++) {
            if (!(wild ? spl_name_matches(ci->field, st->out.name[c])
                       : strcmp(ci->field, st->out.name[c]) == 0))
                continue;
            int dst = ci->as ? spl_schema_add(&st->out, ci->as) : (int)c;
            st->out.origin[dst] = -1;
            st->out.mv[dst] = st->out.mv[c];
            st->cols[n] = (int)c;
            st->cols2[n++] = dst;
        }
    }
    st->nmap = n;
    return ESC_OK;
}

static esc_status run_convert(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    esc_status rc = spl_table_widen(t, &st->out, err);
    if (rc != ESC_OK)
        return rc;
    esc_buf b;
    esc_buf_init(&b, 4096);
    for (size_t r = 0; r < t->nrows; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        for (size_t k = 0; k < st->nmap; k++) {
            const esc_cell *src = &row[st->cols[k]];
            esc_cell out = {0};
            if (src->n) {
                out.v = esc_calloc(src->n, sizeof *out.v);
                if (!out.v)
                    goto oom;
            }
            for (size_t i = 0; i < src->n; i++) {
                double v;
                esc_buf_clear(&b);
                const char *s = src->v[i];
                if (spl_parse_num(s, strlen(s), &v) && fabs(v) < 1e13) {
                    if (esc_time_format(&b, (int64_t)floor(v), st->timeformat) != ESC_OK) {
                        spl_cell_clear(&out);
                        esc_buf_fini(&b);
                        return esc_error_set(err, ESC_ELIMIT, "ctime result too long");
                    }
                    out.v[i] = esc_strndup(b.ptr ? b.ptr : "", b.len);
                } else {
                    out.v[i] = esc_strdup(s);
                }
                if (!out.v[i]) {
                    spl_cell_clear(&out);
                    goto oom;
                }
                out.n = i + 1;
            }
            spl_cell_clear(&row[st->cols2[k]]);
            row[st->cols2[k]] = out;
        }
    }
    esc_buf_fini(&b);
    return ESC_OK;
oom:
    esc_buf_fini(&b);
    return spl_exec_oom(err);
}

const spl_cmd spl_cmd_convert = {
    .name = "convert",
    .parse = parse_convert,
    .plan = plan_convert,
    .run = run_convert,
};
