/* stats and eventstats, and the aggregate parts tstats shares: AGG(FIELD) [as NAME], ... [by
 * FIELD, ...] parsing, the mapping to agg/ functions, and group tables.
 *
 * Invariants: stats replaces the rows with one row per group, ordered by the BY values (byte
 * order, first field first); eventstats keeps the rows and adds its group's aggregates to each
 * one; a row missing a BY field belongs to no group (eventstats leaves it as it is); a
 * multivalue BY cell puts a stats row in one group per value (every combination when several
 * are), an eventstats row in the one group of its joined values; a multivalue aggregated cell
 * feeds every value to the aggregates.
 * Beside agg/'s functions (count, dc, values, list, min, max, sum, avg, earliest, latest), stats
 * and eventstats compute stdev, stdevp, var, varp, range, first and last here (xstat), as
 * Splunk's "Statistical and charting functions" define them. Deliberately not done: stats
 * options (an error), perc/median/mode/estdc, and the local functions in tstats. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/timeutil.h"
#include "spl/cmd.h"
#include "spl/spill.h"

/* ---- parse ---- */

static const struct {
    const char *name;
    aggfn fn;
} agg_names[] = {
    {"count", AGG_COUNT},   {"c", AGG_COUNT},     {"values", AGG_VALUES},
    {"list", AGG_LIST},     {"dc", AGG_DC},       {"distinct_count", AGG_DC},
    {"min", AGG_MIN},       {"max", AGG_MAX},     {"sum", AGG_SUM},
    {"avg", AGG_AVG},       {"mean", AGG_AVG},    {"earliest", AGG_EARLIEST},
    {"latest", AGG_LATEST}, {"stdev", AGG_STDEV}, {"stdevp", AGG_STDEVP},
    {"var", AGG_VAR},       {"varp", AGG_VARP},   {"range", AGG_RANGE},
    {"first", AGG_FIRST},   {"last", AGG_LAST},
};

/* tstats options (name=value before `from`); only fillnull_value has an effect. */
static const char *const tstats_opts[] = {
    "summariesonly", "allow_old_summaries", "fillnull_value",          "prestats", "local",
    "append",        "chunk_size",          "include_reduced_buckets", NULL,
};

/* AGG(eval(EXPR)) at P->pos (on the '('): true when it is one (parsed into a->expr, or
 * P->failed set); false, with P->pos unchanged, for AGG(FIELD). Splunk: stats, "Usage: eval
 * expressions with statistical functions" (the result must be renamed with AS). */
static bool agg_eval(spl_parser *P, aggspec *a, int wl, const char *w) {
    size_t save = P->pos;
    P->pos++;
    spl_skip_ws(P);
    size_t at = P->pos;
    if (!(P->end - at > 4 && strncasecmp(P->s + at, "eval", 4) == 0)) {
        P->pos = save;
        return false;
    }
    P->pos = at + 4;
    spl_skip_ws(P);
    if (spl_peek(P) != '(') {
        P->pos = save;
        return false;
    }
    P->pos++;
    a->expr = spl_parse_expr(P);
    if (!a->expr)
        return true;
    spl_skip_ws(P);
    if (spl_peek(P) != ')') {
        spl_fail(P, at, "expected ')' closing eval(");
        return true;
    }
    P->pos++;
    spl_skip_ws(P);
    if (spl_peek(P) != ')') {
        spl_fail(P, a->start, "expected %.*s(eval(EXPR))", wl, w);
        return true;
    }
    P->pos++;
    a->field = "eval";
    if (a->fn == AGG_COUNT)
        a->fn = AGG_COUNT_FIELD;
    return true;
}

/* Aggregates up to `from` (tstats) or `by`/end (stats). */
bool spl_parse_aggs(spl_parser *P, stage *st, bool tstats) {
    aggspec tmp[ESC_SPL_MAX_ITEMS];
    size_t n = 0;
    for (;;) {
        spl_skip_ws(P);
        if (spl_at_end(P) || (tstats && spl_kw_at(P, "from", true)) || spl_kw_at(P, "by", true))
            break;
        size_t start = P->pos;
        size_t wl = spl_bare(P, "(=,\"");
        if (wl == 0) {
            spl_fail(P, start, "expected an aggregate function");
            return false;
        }
        const char *w = P->s + start;
        if (spl_peek(P) == '=') {
            if (!tstats) {
                spl_fail(P, start, "unsupported stats option '%.*s'", (int)wl, w);
                return false;
            }
            size_t k;
            for (k = 0; tstats_opts[k]; k++)
                if (strlen(tstats_opts[k]) == wl && strncmp(tstats_opts[k], w, wl) == 0)
                    break;
            if (!tstats_opts[k]) {
                spl_fail(P, start, "unsupported tstats option '%.*s'", (int)wl, w);
                return false;
            }
            P->pos++;
            size_t vl, vs;
            const char *v = spl_word(P, "", &vl, &vs);
            if (!v) {
                if (!P->failed)
                    spl_fail(P, start, "missing value for option '%.*s'", (int)wl, w);
                return false;
            }
            if (k == 2) {
                st->fillnull = (char *)v;
                st->fill = true;
            }
            continue;
        }
        size_t k;
        /* stats function names are not case-sensitive (ESCU writes Values(...)); tstats' are
         * matched as written */
        for (k = 0; k < sizeof agg_names / sizeof agg_names[0]; k++)
            if (strlen(agg_names[k].name) == wl &&
                (tstats ? strncmp(agg_names[k].name, w, wl)
                        : strncasecmp(agg_names[k].name, w, wl)) == 0)
                break;
        if (k == sizeof agg_names / sizeof agg_names[0] ||
            (tstats && agg_names[k].fn >= AGG_FIRST_LOCAL)) {
            spl_fail(P, start, "unsupported %s function '%.*s'", tstats ? "tstats" : "stats",
                     (int)wl, w);
            return false;
        }
        if (n == ESC_SPL_MAX_ITEMS) {
            spl_fail(P, start, "too many aggregates");
            return false;
        }
        aggspec *a = &tmp[n++];
        memset(a, 0, sizeof *a);
        a->fn = agg_names[k].fn;
        a->start = start;
        a->ref = FIELD_ABSENT;
        if (spl_peek(P) == '(' && !tstats && agg_eval(P, a, (int)wl, w)) {
            if (P->failed)
                return false;
        } else if (spl_peek(P) == '(') {
            P->pos++;
            size_t fl, fs;
            const char *f = spl_word(P, "()", &fl, &fs);
            spl_skip_ws(P);
            if (!f || spl_peek(P) != ')') {
                if (!P->failed)
                    spl_fail(P, start, "expected %.*s(FIELD)", (int)wl, w);
                return false;
            }
            P->pos++;
            a->field = f;
            if (a->fn == AGG_COUNT)
                a->fn = AGG_COUNT_FIELD;
        } else if (a->fn != AGG_COUNT) {
            spl_fail(P, start, "%.*s needs a field: %.*s(FIELD)", (int)wl, w, (int)wl, w);
            return false;
        }
        a->end = P->pos;
        spl_skip_ws(P);
        if (a->expr && !spl_kw_at(P, "as", true)) {
            spl_fail(P, start, "%.*s(eval(...)) needs 'as NAME'", (int)wl, w);
            return false;
        }
        char dname[300];
        snprintf(dname, sizeof dname, "%.*s", (int)(a->end - start), w);
        const char *as = NULL;
        if (spl_accept_kw(P, "as", true)) {
            size_t al, as_;
            as = spl_word(P, ",", &al, &as_);
            if (!as) {
                if (!P->failed)
                    spl_fail(P, P->pos, "expected a name after 'as'");
                return false;
            }
        } else {
            as = spl_dup(P, dname, strlen(dname));
            if (!as)
                return false;
        }
        a->as = as;
        spl_skip_ws(P);
        if (spl_peek(P) == ',')
            P->pos++;
    }
    if (n == 0 && !tstats) {
        spl_fail(P, P->pos, "stats needs at least one aggregate");
        return false;
    }
    st->naggs = n;
    if (n) {
        st->aggs = spl_alloc0(P, n * sizeof *st->aggs);
        if (!st->aggs)
            return false;
        memcpy(st->aggs, tmp, n * sizeof *tmp);
    }
    return true;
}

/* "10m", "1h", "30s", "1d", "2w", "5" (seconds). */
bool spl_parse_span(const char *v, int64_t *out) {
    int64_t n = 0;
    size_t i = 0;
    while (v[i] >= '0' && v[i] <= '9' && n < INT64_C(1000000000)) {
        n = n * 10 + (v[i] - '0');
        i++;
    }
    if (i == 0 || n == 0)
        return false;
    const char *u = v + i;
    int64_t mul;
    if (!*u || !strcmp(u, "s") || !strcmp(u, "sec") || !strcmp(u, "secs"))
        mul = 1;
    else if (!strcmp(u, "m") || !strcmp(u, "min") || !strcmp(u, "mins"))
        mul = 60;
    else if (!strcmp(u, "h") || !strcmp(u, "hr") || !strcmp(u, "hrs"))
        mul = 3600;
    else if (!strcmp(u, "d") || !strcmp(u, "day") || !strcmp(u, "days"))
        mul = 86400;
    else if (!strcmp(u, "w") || !strcmp(u, "week") || !strcmp(u, "weeks"))
        mul = 7 * 86400;
    else
        return false;
    *out = n * mul * ESC_US_PER_SEC;
    return true;
}

bool spl_parse_by(spl_parser *P, stage *st) {
    byspec tmp[ESC_SPL_MAX_ITEMS];
    size_t n = 0;
    while (!spl_at_end(P)) {
        if (n == ESC_SPL_MAX_ITEMS) {
            spl_fail(P, P->pos, "too many BY fields");
            return false;
        }
        if (spl_peek(P) == ',') { /* an empty item, "a, , b", as ESCU writes it */
            P->pos++;
            continue;
        }
        size_t fl, fs;
        const char *f = spl_word(P, ",=", &fl, &fs);
        if (!f) {
            if (!P->failed)
                spl_fail(P, P->pos, "expected a field name");
            return false;
        }
        if (spl_peek(P) == '=') {
            if (strcmp(f, "span") != 0) {
                spl_fail(P, fs, "unsupported BY option '%s'", f);
                return false;
            }
            P->pos++;
            size_t vl, vs;
            const char *v = spl_word(P, ",", &vl, &vs);
            if (!v || !spl_parse_span(v, &st->span_us)) {
                if (!P->failed)
                    spl_fail(P, v ? vs : fs,
                             "bad span '%s' (expected N followed by s, m, h, d "
                             "or w)",
                             v ? v : "");
                return false;
            }
            spl_skip_ws(P);
            if (spl_peek(P) == ',')
                P->pos++;
            continue;
        }
        tmp[n++] = (byspec){f, fs, P->pos, FIELD_ABSENT, ESC_STR_NULL};
        spl_skip_ws(P);
        if (spl_peek(P) == ',')
            P->pos++;
    }
    if (n == 0) {
        spl_fail(P, P->pos, "BY needs at least one field");
        return false;
    }
    st->by = spl_alloc0(P, n * sizeof *st->by);
    if (!st->by)
        return false;
    memcpy(st->by, tmp, n * sizeof *tmp);
    st->nby = n;
    return true;
}

static bool parse_stats(spl_parser *P, stage *st) {
    if (!spl_parse_aggs(P, st, false))
        return false;
    if (spl_accept_kw(P, "by", true) && !spl_parse_by(P, st))
        return false;
    return spl_expect_end(P, "stats");
}

/* ---- plan ---- */

/* Compile each aggregate's eval(EXPR) against the input columns. */
static esc_status compile_exprs(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    for (size_t i = 0; i < st->naggs; i++) {
        esc_status rc;
        if (st->aggs[i].expr && (rc = spl_eval_compile(p, st->aggs[i].expr, in, err)) != ESC_OK)
            return rc;
    }
    return ESC_OK;
}

static void free_stats(stage *st) {
    for (size_t i = 0; i < st->naggs; i++)
        spl_eval_free(st->aggs[i].expr);
}

/* `AGG(P*S)`'s text matched by '*' in name, or NULL when name does not match the pattern. */
static const char *star_part(const char *pat, const char *name, size_t *len) {
    const char *star = strchr(pat, '*');
    size_t pre = (size_t)(star - pat), suf = strlen(star + 1), n = strlen(name);
    if (n < pre + suf || strncmp(name, pat, pre) != 0 || strcmp(name + n - suf, star + 1) != 0)
        return NULL;
    *len = n - pre - suf;
    return name + pre;
}

static bool is_by(const stage *st, const char *name) {
    for (size_t i = 0; i < st->nby; i++)
        if (strcmp(st->by[i].field, name) == 0)
            return true;
    return false;
}

/* AGG(P*S) [as Q*R] stands for one aggregate per input column the pattern matches, the column's
 * '*' text put in the name's '*' (`stats latest(*) as *` keeps every field's latest value under
 * its own name). Splunk's stats reference: "you can use the asterisk ( * ) as a wildcard
 * character to specify multiple fields with similar names". BY fields and internal fields (a
 * leading '_') are not matched (docs/spl.md). */
static esc_status expand_wildcards(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    size_t n = 0;
    for (size_t i = 0; i < st->naggs; i++)
        n += st->aggs[i].field && !st->aggs[i].expr && strchr(st->aggs[i].field, '*') ? in->n : 1;
    if (n == st->naggs)
        return ESC_OK;
    aggspec *v = esc_arena_alloc(&p->arena, n * sizeof *v);
    if (!v)
        return spl_plan_oom(err);
    size_t k = 0;
    for (size_t i = 0; i < st->naggs; i++) {
        const aggspec *a = &st->aggs[i];
        if (!(a->field && !a->expr && strchr(a->field, '*'))) {
            v[k++] = *a;
            continue;
        }
        for (size_t c = 0; c < in->n; c++) {
            size_t ml;
            const char *m = star_part(a->field, in->name[c], &ml);
            if (!m || in->name[c][0] == '_' || is_by(st, in->name[c]))
                continue;
            const char *star = strchr(a->as, '*');
            char name[600];
            int nl = star ? snprintf(name, sizeof name, "%.*s%.*s%s", (int)(star - a->as), a->as,
                                     (int)ml, m, star + 1)
                          : snprintf(name, sizeof name, "%s", a->as);
            v[k] = *a;
            v[k].field = esc_arena_strdup(&p->arena, in->name[c]);
            v[k].as = nl > 0 && (size_t)nl < sizeof name ? esc_arena_strdup(&p->arena, name) : NULL;
            if (!v[k].field || !v[k].as)
                return spl_plan_oom(err);
            k++;
        }
    }
    if (k > ESC_SPL_MAX_COLUMNS)
        return esc_error_at(err, ESC_ELIMIT, NULL, st->start,
                            "stats: wildcard aggregates make more than %d columns",
                            ESC_SPL_MAX_COLUMNS);
    st->aggs = v;
    st->naggs = k;
    return ESC_OK;
}

static esc_status plan_stats(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    esc_status wc = expand_wildcards(p, st, in, err);
    if (wc != ESC_OK)
        return wc;
    if (!spl_schema_alloc(p, &st->out, st->nby + st->naggs))
        return spl_plan_oom(err);
    for (size_t i = 0; i < st->nby; i++) {
        byspec *b = &st->by[i];
        b->ref = spl_schema_find(in, b->field);
        st->out.name[i] = b->field;
        st->out.mv[i] = false;
        st->out.origin[i] = b->ref >= 0 ? in->origin[b->ref] : -1;
    }
    esc_status rc = compile_exprs(p, st, in, err);
    if (rc != ESC_OK)
        return rc;
    for (size_t i = 0; i < st->naggs; i++) {
        aggspec *a = &st->aggs[i];
        a->ref = a->field && !a->expr ? spl_schema_find(in, a->field) : -1;
        size_t c = st->nby + i;
        st->out.name[c] = a->as;
        st->out.mv[c] = a->fn == AGG_VALUES || a->fn == AGG_LIST;
        st->out.origin[c] = -1;
    }
    return ESC_OK;
}

static esc_status plan_eventstats(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    st->cols2 = esc_arena_alloc(&p->arena, st->naggs * sizeof *st->cols2);
    if (!st->cols2 || !spl_schema_copy(p, &st->out, in, st->naggs))
        return spl_plan_oom(err);
    for (size_t i = 0; i < st->nby; i++)
        st->by[i].ref = spl_schema_find(in, st->by[i].field);
    esc_status rc = compile_exprs(p, st, in, err);
    if (rc != ESC_OK)
        return rc;
    for (size_t i = 0; i < st->naggs; i++) {
        aggspec *a = &st->aggs[i];
        a->ref = a->field && !a->expr ? spl_schema_find(in, a->field) : -1;
        int c = spl_schema_add(&st->out, a->as);
        st->out.origin[c] = -1;
        st->out.mv[c] = a->fn == AGG_VALUES || a->fn == AGG_LIST;
        st->cols2[i] = c;
    }
    return ESC_OK;
}

/* ---- aggregates and group tables ---- */

static esc_agg_fn agg_map(aggfn f) {
    switch (f) {
    case AGG_COUNT:
        return ESC_AGG_COUNT;
    case AGG_COUNT_FIELD:
        return ESC_AGG_COUNT_FIELD;
    case AGG_VALUES:
        return ESC_AGG_VALUES;
    case AGG_LIST:
        return ESC_AGG_LIST;
    case AGG_DC:
        return ESC_AGG_DC;
    case AGG_MIN:
        return ESC_AGG_MIN;
    case AGG_MAX:
        return ESC_AGG_MAX;
    case AGG_SUM:
        return ESC_AGG_SUM;
    case AGG_AVG:
        return ESC_AGG_AVG;
    case AGG_EARLIEST:
        return ESC_AGG_EARLIEST;
    case AGG_LATEST:
        return ESC_AGG_LATEST;
    default: /* computed here (xstat): agg/ only counts */
        break;
    }
    return ESC_AGG_COUNT;
}

static esc_agg *agg_new(const stage *st, size_t max_groups) {
    esc_agg_fn fns[ESC_SPL_MAX_ITEMS];
    for (size_t i = 0; i < st->naggs; i++)
        fns[i] = agg_map(st->aggs[i].fn);
    return esc_agg_new(st->nby, fns, st->naggs, max_groups, ESC_SPL_MAX_EXEC_BYTES);
}

esc_agg *spl_agg_new(const stage *st) {
    return agg_new(st, ESC_SPL_MAX_GROUPS);
}

/* State of a function agg/ does not compute, per group and aggregate: a running mean and sum
 * of squared deviations (Welford), the numeric extremes, and the first and last values. */
typedef struct xstat {
    size_t n; /* numeric values */
    double mean, m2, min, max;
    char *first, *last;
} xstat;

typedef struct xstats {
    xstat *v; /* ngroups * naggs */
    size_t ngroups;
} xstats;

static void xstats_free(xstats *x, size_t naggs) {
    for (size_t k = 0; k < x->ngroups * naggs; k++) {
        esc_free(x->v[k].first);
        esc_free(x->v[k].last);
    }
    esc_free(x->v);
}

/* Room for group g. */
static bool xstats_grow(xstats *x, size_t g, size_t naggs) {
    if (g < x->ngroups)
        return true;
    size_t n = x->ngroups ? x->ngroups : 16;
    while (n <= g)
        n *= 2;
    xstat *nv = esc_realloc(x->v, n * naggs * sizeof *nv);
    if (!nv)
        return false;
    memset(nv + x->ngroups * naggs, 0, (n - x->ngroups) * naggs * sizeof *nv);
    x->v = nv;
    x->ngroups = n;
    return true;
}

/* The values of one row's cell into s. */
static bool xstat_add(xstat *s, const esc_agg_in *in, size_t n) {
    for (size_t j = 0; j < n; j++) {
        if (!in[j].is_num)
            continue;
        double v = in[j].num;
        if (s->n == 0 || v < s->min)
            s->min = v;
        if (s->n == 0 || v > s->max)
            s->max = v;
        s->n++;
        double d = v - s->mean;
        s->mean += d / (double)s->n;
        s->m2 += d * (v - s->mean);
    }
    if (!s->first && !(s->first = esc_strndup(in[0].s.ptr, in[0].s.len)))
        return false;
    esc_free(s->last);
    return (s->last = esc_strndup(in[n - 1].s.ptr, in[n - 1].s.len)) != NULL;
}

/* The result of a local function into c. */
static bool xstat_cell(const xstat *s, aggfn f, esc_cell *c) {
    double v;
    if (!s)
        return true;
    if (f == AGG_FIRST || f == AGG_LAST) {
        const char *t = f == AGG_FIRST ? s->first : s->last;
        if (!t)
            return true;
        esc_str x = esc_str_c(t);
        return spl_cell_set(c, &x, 1);
    }
    if (s->n == 0)
        return true;
    double m2 = s->m2 < 0 ? 0 : s->m2;
    switch (f) {
    case AGG_STDEV:
        v = s->n > 1 ? sqrt(m2 / (double)(s->n - 1)) : 0;
        break;
    case AGG_STDEVP:
        v = sqrt(m2 / (double)s->n);
        break;
    case AGG_VAR:
        v = s->n > 1 ? m2 / (double)(s->n - 1) : 0;
        break;
    case AGG_VARP:
        v = m2 / (double)s->n;
        break;
    default: /* AGG_RANGE */
        v = s->max - s->min;
        break;
    }
    return spl_cell_num(c, v, NULL);
}

/* Fill row r's aggregate cells from group g: aggregate i goes to column cols[i], or to
 * nby + i when cols is NULL; xs holds the local functions' states (NULL for tstats). */
static esc_status fill_aggs(esc_agg *a, size_t g, const stage *st, esc_cell *row, const int *cols,
                            const xstats *xs, esc_error *err) {
    for (size_t i = 0; i < st->naggs; i++) {
        size_t col = cols ? (size_t)cols[i] : st->nby + i;
        if (st->dead && st->dead[col])
            continue; /* nothing after this stage reads it (live.c) */
        esc_cell *c = &row[col];
        if (st->aggs[i].fn >= AGG_FIRST_LOCAL) {
            const xstat *s = xs && g < xs->ngroups ? &xs->v[g * st->naggs + i] : NULL;
            if (!xstat_cell(s, st->aggs[i].fn, c))
                return spl_exec_oom(err);
            continue;
        }
        esc_agg_out o;
        esc_status rc = esc_agg_result(a, g, i, &o, err);
        if (rc != ESC_OK)
            return rc;
        bool ok;
        if (o.is_num)
            ok = spl_cell_num(c, o.num, o.n ? &o.v[0] : NULL);
        else
            ok = spl_cell_set(c, o.v, o.n);
        if (!ok)
            return spl_exec_oom(err);
    }
    return ESC_OK;
}

/* Row cells of group g's BY values. */
static bool key_cells(const esc_agg *a, size_t g, const stage *st, bool time_keys, esc_cell *row) {
    for (size_t k = 0; k < st->nby; k++) {
        esc_str key = esc_agg_key(a, g, k);
        if (!spl_cell_set(&row[k], &key, 1))
            return false;
        /* _time is epoch seconds, a number (Search Manual "Use default fields": _time holds
         * the event's timestamp in UNIX time), whether tstats bins it or stats groups by it */
        if (time_keys ? st->by[k].ref == FIELD_TIME : strcmp(st->by[k].field, "_time") == 0)
            row[k].is_num = spl_parse_num(key.ptr, key.len, &row[k].num);
    }
    return true;
}

esc_status spl_agg_rows(const esc_agg *a, const stage *st, const size_t *groups, size_t n,
                        esc_table **out, esc_error *err) {
    esc_table *t = spl_table_new(&st->out, n);
    if (!t)
        return spl_exec_oom(err);
    for (size_t r = 0; r < n; r++)
        if (!key_cells(a, groups[r], st, true, &t->cells[r * t->ncols])) {
            esc_table_free(t);
            return spl_exec_oom(err);
        }
    *out = t;
    return ESC_OK;
}

/* The group table; lin (may be NULL), the groups' events, moves into it as its lineage. */
static esc_status agg_table(esc_agg *a, const stage *st, bool time_keys, const xstats *xs,
                            esc_evset **lin, esc_table **out, esc_error *err) {
    size_t *order = NULL;
    esc_status rc = esc_agg_sorted(a, &order, err);
    if (rc != ESC_OK)
        return rc;
    size_t ng = esc_agg_ngroups(a);
    esc_table *t = spl_table_new(&st->out, ng);
    if (!t) {
        rc = spl_exec_oom(err);
        goto fail;
    }
    for (size_t r = 0; r < ng; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        if (!key_cells(a, order[r], st, time_keys, row)) {
            rc = spl_exec_oom(err);
            goto fail;
        }
        if ((rc = fill_aggs(a, order[r], st, row, NULL, xs, err)) != ESC_OK)
            goto fail;
    }
    if (lin && *lin) { /* row r is group order[r]: its events */
        t->row_id = order;
        order = NULL;
        t->lineage = *lin;
        *lin = NULL;
    }
    esc_free(order);
    *out = t;
    return ESC_OK;
fail:
    esc_free(order);
    esc_table_free(t);
    return rc;
}

esc_status spl_agg_table(esc_agg *a, const stage *st, bool time_keys, esc_table **out,
                         esc_error *err) {
    return agg_table(a, st, time_keys, NULL, NULL, out, err);
}

const char *spl_agg_name(aggfn f) {
    static const char *const t[] = {"count",  "count", "values", "list",     "dc",     "min",
                                    "max",    "sum",   "avg",    "earliest", "latest", "stdev",
                                    "stdevp", "var",   "varp",   "range",    "first",  "last"};
    return t[f];
}

/* ---- run ---- */

/* The values of aggregate i on one row (its column, or its eval expression) into group g. */
static esc_status feed(const stage *st, size_t i, const esc_cell *row, size_t ncols, esc_agg *a,
                       xstats *xs, size_t g, int64_t tus, esc_agg_in **inp, esc_error *err) {
    const aggspec *ag = &st->aggs[i];
    esc_cell tmp = {0};
    const esc_cell *cell = ag->ref >= 0 ? &row[ag->ref] : NULL;
    if (ag->fn == AGG_COUNT)
        return ESC_OK;
    if (ag->expr) {
        if (spl_eval_agg_cell(ag->expr, row, ncols, &tmp) != ESC_OK)
            return spl_exec_oom(err);
        cell = &tmp;
    }
    esc_status rc = ESC_OK;
    if (!cell || cell->n == 0)
        goto out;
    esc_agg_in *in = esc_realloc(*inp, cell->n * sizeof *in);
    if (!in) {
        rc = spl_exec_oom(err);
        goto out;
    }
    *inp = in;
    for (size_t j = 0; j < cell->n; j++) {
        in[j].s = esc_str_c(cell->v[j]);
        in[j].is_num = spl_parse_num(in[j].s.ptr, in[j].s.len, &in[j].num);
    }
    if (ag->fn >= AGG_FIRST_LOCAL) {
        if (!xstats_grow(xs, g, st->naggs) || !xstat_add(&xs->v[g * st->naggs + i], in, cell->n))
            rc = spl_exec_oom(err);
    } else {
        rc = esc_agg_add(a, g, i, in, cell->n, tus, err);
    }
out:
    spl_cell_clear(&tmp);
    return rc;
}

/* A running stats: the groups and aggregates of every row added so far. */
struct spl_stats_acc {
    const stage *st;
    esc_agg *a;
    xstats xs;
    esc_buf kb[ESC_SPL_MAX_ITEMS];
    esc_agg_in *in;
    esc_evset *lin;        /* per group, the events of its rows (their lineage), or NULL */
    bool lin_trunc;        /* a row's lineage had lost references to the byte cap */
    const esc_table *from; /* the rows being added, while their lineage is followed */
    size_t row;
    spl_lineage_seen seen; /* of from */
};

spl_stats_acc *spl_stats_open(const stage *st) {
    spl_stats_acc *c = esc_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->st = st;
    for (size_t k = 0; k < st->nby; k++)
        esc_buf_init(&c->kb[k], ESC_SPL_EXPAND_MAX);
    if (!(c->a = spl_agg_new(st))) {
        spl_stats_free(c);
        return NULL;
    }
    return c;
}

void spl_stats_free(spl_stats_acc *c) {
    if (!c)
        return;
    xstats_free(&c->xs, c->st->naggs);
    for (size_t k = 0; k < c->st->nby; k++)
        esc_buf_fini(&c->kb[k]);
    esc_free(c->in);
    esc_agg_free(c->a);
    esc_evset_free(c->lin);
    esc_free(c);
}

/* Feed one row to its groups. stats: every combination of its BY values, one per value of a
 * multivalue field (Search Reference "stats": "The BY clause returns one row for each distinct
 * value in the BY clause fields"; dedup_splitvals, "whether to remove duplicate values in
 * multivalued BY clause fields", defaults to false, so a value given twice feeds its group
 * twice). eventstats (joined) keeps a multivalue cell as one key, so that each row has one
 * group to read back. A row missing a BY field feeds nothing; *g1 is its first group. */
static esc_status group_row(spl_stats_acc *c, const esc_cell *row, size_t ncols, int64_t tus,
                            size_t *g1, bool joined, esc_error *err) {
    const stage *st = c->st;
    esc_agg *a = c->a;
    esc_buf *kb = c->kb;
    esc_str keys[ESC_SPL_MAX_ITEMS];
    size_t idx[ESC_SPL_MAX_ITEMS] = {0}, combos = 1;
    for (size_t k = 0; k < st->nby; k++) {
        int col = st->by[k].ref;
        if (col < 0 || row[col].n == 0)
            return ESC_OK;
        if (joined && spl_cell_key(&row[col], &kb[k]) != ESC_OK)
            return esc_error_set(err, ESC_ELIMIT, "stats key too long");
        if (!joined && (combos *= row[col].n) > ESC_SPL_MAX_SPLITS)
            return esc_error_set(err, ESC_ELIMIT,
                                 "stats: the multivalue BY fields of one row make more than %d "
                                 "groups",
                                 ESC_SPL_MAX_SPLITS);
    }
    for (bool first = true;; first = false) {
        for (size_t k = 0; k < st->nby; k++)
            keys[k] = joined ? esc_buf_str(&kb[k]) : esc_str_c(row[st->by[k].ref].v[idx[k]]);
        size_t g;
        esc_status rc = esc_agg_group(a, keys, &g, err);
        if (rc != ESC_OK)
            return rc;
        if (first)
            *g1 = g;
        for (size_t i = 0; i < st->naggs && rc == ESC_OK; i++)
            rc = feed(st, i, row, ncols, a, &c->xs, g, tus, &c->in, err);
        if (rc == ESC_OK && c->from && /* the group's events: the union of its rows' */
            !spl_lineage_merge(c->lin, g, c->from, c->row, &c->seen))
            rc = spl_exec_oom(err);
        if (rc != ESC_OK || joined)
            return rc;
        size_t k = st->nby;
        while (k > 0 && ++idx[k - 1] == row[st->by[k - 1].ref].n)
            idx[--k] = 0;
        if (k == 0)
            return ESC_OK;
    }
}

/* Group the rows of t by st->by and aggregate them; rows_group (eventstats, may be NULL) gets
 * each row's group, SIZE_MAX for a row without every BY field. stats splits multivalue BY
 * fields (group_row); eventstats keeps each row in one group. */
static esc_status add_rows(spl_stats_acc *c, esc_table *t, size_t *rows_group, bool consume,
                           esc_error *err) {
    int tcol = esc_table_col(t, "_time");
    esc_status rc = ESC_OK;
    /* stats follows its rows' events (eventstats' rows keep their own) */
    c->from = !rows_group && t->lineage && t->row_id ? t : NULL;
    if (c->from && !c->lin && !(c->lin = esc_evset_new()))
        return spl_exec_oom(err);
    if (c->from && !spl_lineage_seen_start(&c->seen, t))
        return spl_exec_oom(err);
    if (c->from)
        c->lin_trunc = c->lin_trunc || t->evidence_truncated || esc_evset_truncated(t->lineage);
    for (size_t r = 0; r < t->nrows; r++) {
        const esc_cell *row = &t->cells[r * t->ncols];
        int64_t tus = 0;
        double tv;
        if (tcol >= 0 && row[tcol].n &&
            spl_parse_num(row[tcol].v[0], strlen(row[tcol].v[0]), &tv) && fabs(tv) < 9e12)
            tus = (int64_t)(tv * 1e6); /* a _time beyond +-285,000 years is taken as 0 */
        size_t g = SIZE_MAX;
        c->row = r;
        rc = group_row(c, row, t->ncols, tus, &g, rows_group != NULL, err);
        if (rows_group)
            rows_group[r] = g;
        for (size_t i = 0; consume && i < t->ncols; i++) /* the row is in its groups now */
            spl_cell_clear(&t->cells[r * t->ncols + i]);
        if (rc != ESC_OK)
            break;
    }
    c->from = NULL;
    spl_lineage_seen_fini(&c->seen);
    return rc;
}

esc_agg *spl_stats_agg(spl_stats_acc *c) {
    return c->a;
}

bool spl_stats_spillable(const spl_stats_acc *c) {
    for (size_t i = 0; i < c->st->naggs; i++)
        if (c->st->aggs[i].fn == AGG_LIST || c->st->aggs[i].fn >= AGG_FIRST_LOCAL)
            return false;
    return esc_agg_table_mergeable(c->a);
}

size_t spl_stats_mem(const spl_stats_acc *c) {
    return esc_agg_mem(c->a) + esc_evset_mem(c->lin);
}

esc_status spl_stats_spill(spl_stats_acc *c, spl_spill **sp, esc_error *err) {
    return spl_spill_write(sp, c->a, c->lin, err);
}

esc_status spl_stats_unspill(spl_stats_acc *c, spl_spill *sp, uint64_t dropped[2], esc_error *err) {
    esc_status rc = spl_spill_write(&sp, c->a, c->lin, err);
    if (!rc && !c->lin && !(c->lin = esc_evset_new())) /* spilled groups may have events */
        rc = spl_exec_oom(err);
    if (!rc)
        rc = spl_spill_read(sp, c->a, c->lin, NULL, NULL, err);
    esc_agg_dropped(c->a, &dropped[0], &dropped[1]);
    return rc;
}

esc_status spl_stats_add(spl_stats_acc *c, esc_table *t, esc_error *err) {
    return add_rows(c, t, NULL, false, err);
}

esc_status spl_stats_close(spl_stats_acc *c, esc_table **out, esc_error *err) {
    esc_status rc = agg_table(c->a, c->st, false, &c->xs, &c->lin, out, err);
    if (rc == ESC_OK)
        (*out)->evidence_truncated = c->lin_trunc;
    return rc;
}

esc_status spl_stats_order(spl_stats_acc *c, size_t **order, size_t *n, const esc_evset **lin,
                           esc_error *err) {
    *n = esc_agg_ngroups(c->a);
    *lin = c->lin;
    return esc_agg_sorted(c->a, order, err);
}

esc_status spl_stats_rows(spl_stats_acc *c, const size_t *order, size_t from, size_t to,
                          esc_table **out, esc_error *err) {
    esc_table *t = spl_table_new(&c->st->out, to - from);
    esc_status rc = t ? ESC_OK : spl_exec_oom(err);
    for (size_t r = from; r < to && rc == ESC_OK; r++) {
        esc_cell *row = &t->cells[(r - from) * t->ncols];
        if (!key_cells(c->a, order[r], c->st, false, row))
            rc = spl_exec_oom(err);
        else
            rc = fill_aggs(c->a, order[r], c->st, row, NULL, &c->xs, err);
    }
    if (rc == ESC_OK && c->lin) { /* row r is group order[r]: its events */
        if (!(t->row_id = esc_malloc((to - from ? to - from : 1) * sizeof *t->row_id)))
            rc = spl_exec_oom(err);
        else
            memcpy(t->row_id, &order[from], (to - from) * sizeof *t->row_id);
        t->lineage = c->lin; /* borrowed: spl_stats_lineage gives it away */
    }
    if (t)
        t->evidence_truncated = c->lin_trunc;
    if (rc != ESC_OK) {
        if (t)
            t->lineage = NULL;
        esc_table_free(t);
        return rc;
    }
    *out = t;
    return ESC_OK;
}

esc_status spl_stats_key_rows(spl_stats_acc *c, esc_table **out, esc_error *err) {
    size_t ng = esc_agg_ngroups(c->a);
    esc_table *t = spl_table_new(&c->st->out, ng);
    if (!t)
        return spl_exec_oom(err);
    for (size_t g = 0; g < ng; g++)
        if (!key_cells(c->a, g, c->st, false, &t->cells[g * t->ncols])) {
            esc_table_free(t);
            return spl_exec_oom(err);
        }
    *out = t;
    return ESC_OK;
}

esc_status spl_stats_compact(spl_stats_acc *c, const bool *keep, esc_error *err) {
    size_t ng = esc_agg_ngroups(c->a);
    size_t *remap = esc_malloc((ng ? ng : 1) * sizeof *remap);
    if (!remap)
        return spl_exec_oom(err);
    esc_status rc = esc_agg_compact(c->a, keep, remap, err);
    if (rc == ESC_OK && c->lin && esc_evset_compact(c->lin, remap, ng, esc_agg_ngroups(c->a)) != 0)
        rc = spl_exec_oom(err);
    esc_free(remap);
    return rc;
}

esc_evset *spl_stats_lineage(spl_stats_acc *c) {
    esc_evset *l = c->lin;
    c->lin = NULL;
    return l;
}

/* Group the rows of t by st->by and aggregate: into a new table *out (stats), or, with out
 * NULL, into new columns of t (eventstats). */
static esc_status aggregate(const stage *st, esc_table *t, esc_table **out, esc_error *err) {
    spl_stats_acc *c = spl_stats_open(st);
    size_t *rows_group = out ? NULL : esc_malloc((t->nrows ? t->nrows : 1) * sizeof *rows_group);
    esc_status rc;
    if (!c || (!out && !rows_group)) {
        rc = spl_exec_oom(err);
        goto done;
    }
    /* stats: each row's cells go once the row is in its groups (add_rows keeps no reference to
     * them), so the rows and the groups made of them are never held whole at once */
    if ((rc = add_rows(c, t, rows_group, out != NULL, err)) != ESC_OK)
        goto done;
    if (!out) {
        /* second pass: every row gets its group's aggregates */
        rc = spl_table_widen(t, &st->out, err);
        for (size_t r = 0; r < t->nrows && rc == ESC_OK; r++)
            if (rows_group[r] != SIZE_MAX)
                rc = fill_aggs(c->a, rows_group[r], st, &t->cells[r * t->ncols], st->cols2, &c->xs,
                               err);
    } else {
        esc_free(t->cells); /* cleared by add_rows */
        t->cells = NULL;
        t->nrows = 0;
        rc = spl_stats_close(c, out, err);
    }
done:
    esc_free(rows_group);
    spl_stats_free(c);
    return rc;
}

/* ---- one row per group ---- */

/* The rows of t a stats of one row per group takes (those with every BY field), in the order of
 * their groups (rows[order[j]] is output row j's), as esc_agg_sorted would order them. */
typedef struct urows {
    const stage *st;
    const esc_table *t;
    size_t *rows, *order, n;
} urows;

/* Rows rows[i] and rows[j] by their BY values: byte order, first field first (esc_str_cmp on
 * the values as C strings, as the group keys are). */
static int cmp_urows(const void *x, const void *y, void *ctx) {
    const urows *u = ctx;
    size_t nc = u->t->ncols;
    const esc_cell *a = &u->t->cells[u->rows[*(const size_t *)x] * nc];
    const esc_cell *b = &u->t->cells[u->rows[*(const size_t *)y] * nc];
    for (size_t k = 0; k < u->st->nby; k++) {
        int c = strcmp(a[u->st->by[k].ref].v[0], b[u->st->by[k].ref].v[0]);
        if (c)
            return c;
    }
    return 0;
}

/* Whether each group of t's rows would hold one row, and the group table of the generic path
 * would stay under its byte cap (then *u lists them); false, with nothing changed, else. */
static esc_status one_each(const stage *st, const esc_table *t, const esc_agg *a, urows *u,
                           bool *yes, esc_error *err) {
    *yes = false;
    for (size_t k = 0; k < st->nby; k++)
        if (st->by[k].ref < 0)
            return ESC_OK; /* no row has every BY field */
    for (size_t i = 0; i < st->naggs; i++)
        if (st->aggs[i].expr && esc_agg_value_bound(a, i, 0))
            return ESC_OK; /* an eval's values are not known before it runs */
    size_t n = t->nrows ? t->nrows : 1, bytes = 0;
    if (!(u->rows = esc_malloc(n * sizeof *u->rows)) ||
        !(u->order = esc_malloc(n * sizeof *u->order)))
        return spl_exec_oom(err);
    for (size_t r = 0; r < t->nrows; r++) {
        const esc_cell *row = &t->cells[r * t->ncols];
        size_t keys = 0, k;
        for (k = 0; k < st->nby && row[st->by[k].ref].n == 1; k++)
            keys += strlen(row[st->by[k].ref].v[0]);
        if (k < st->nby && row[st->by[k].ref].n > 1)
            return ESC_OK; /* a multivalue BY field: a row in several groups */
        if (k < st->nby)
            continue; /* in no group */
        bytes += esc_agg_group_bound(a, keys);
        for (size_t i = 0; i < st->naggs; i++) {
            const esc_cell *c = st->aggs[i].ref >= 0 ? &row[st->aggs[i].ref] : NULL;
            for (size_t j = 0; c && st->aggs[i].fn != AGG_COUNT && j < c->n; j++)
                bytes += esc_agg_value_bound(a, i, strlen(c->v[j]));
        }
        if (u->n == ESC_SPL_MAX_GROUPS || !esc_agg_fits(a, bytes))
            return ESC_OK; /* the group table would refuse: its error */
        u->order[u->n] = u->n;
        u->rows[u->n++] = r;
    }
    u->st = st;
    u->t = t;
    qsort_r(u->order, u->n, sizeof *u->order, cmp_urows, u);
    for (size_t j = 1; j < u->n; j++)
        if (cmp_urows(&u->order[j - 1], &u->order[j], u) == 0)
            return ESC_OK; /* two rows in one group */
    *yes = true;
    return ESC_OK;
}

/* Group g's output row out (zeroed), from its one row (a copy of t's, which no longer holds
 * it): its aggregates over that row alone through c's table, emptied for each; its BY cells
 * moved from the row, whose other cells go. */
static esc_status one_row(spl_stats_acc *c, esc_cell *row, size_t ncols, int tcol, esc_cell *out,
                          esc_error *err) {
    const stage *st = c->st;
    esc_str keys[ESC_SPL_MAX_ITEMS];
    int64_t tus = 0;
    double tv;
    if (tcol >= 0 && row[tcol].n && spl_parse_num(row[tcol].v[0], strlen(row[tcol].v[0]), &tv) &&
        fabs(tv) < 9e12)
        tus = (int64_t)(tv * 1e6); /* as add_rows */
    for (size_t k = 0; k < st->nby; k++)
        keys[k] = esc_str_c(row[st->by[k].ref].v[0]);
    esc_agg_reset(c->a);
    size_t g;
    esc_status rc = esc_agg_group(c->a, keys, &g, err);
    for (size_t i = 0; i < st->naggs && rc == ESC_OK; i++)
        rc = feed(st, i, row, ncols, c->a, &c->xs, g, tus, &c->in, err);
    if (rc == ESC_OK)
        rc = fill_aggs(c->a, g, st, out, NULL, &c->xs, err);
    for (size_t i = 0; c->xs.v && i < st->naggs; i++) { /* the local states, emptied */
        xstat *x = &c->xs.v[g * st->naggs + i];
        esc_free(x->first);
        esc_free(x->last);
        memset(x, 0, sizeof *x);
    }
    for (size_t k = 0; k < st->nby && rc == ESC_OK; k++) { /* as key_cells makes them */
        esc_cell *src = &row[st->by[k].ref];
        if (src->n) { /* moved (a field given twice is copied from the first) */
            out[k] = *src;
            memset(src, 0, sizeof *src);
        } else if (!spl_cell_set(&out[k], &keys[k], 1)) {
            rc = spl_exec_oom(err);
            break;
        }
        keys[k] = esc_str_c(out[k].v[0]);
        out[k].is_num = false;
        out[k].num = 0;
        if (strcmp(st->by[k].field, "_time") == 0)
            out[k].is_num = spl_parse_num(keys[k].ptr, keys[k].len, &out[k].num);
    }
    for (size_t i = 0; i < ncols; i++)
        spl_cell_clear(&row[i]);
    return rc;
}

/* Rows [from, to) of t emptied. */
static void clear_rows(esc_table *t, size_t from, size_t to) {
    for (size_t i = from * t->ncols; i < to * t->ncols; i++)
        spl_cell_clear(&t->cells[i]);
}

/* The n rows of w cells at c put in the order ord: row j becomes the one that was at ord[j]. */
static bool permute(esc_cell *c, size_t w, const size_t *ord, size_t n) {
    bool *done = esc_calloc(n ? n : 1, 1);
    esc_cell *tmp = esc_malloc((w ? w : 1) * sizeof *tmp);
    for (size_t s = 0; done && tmp && s < n; s++) {
        if (done[s])
            continue;
        memcpy(tmp, &c[s * w], w * sizeof *tmp);
        for (size_t j = s;; j = ord[j]) { /* the cycle through s */
            done[j] = true;
            memcpy(&c[j * w], ord[j] == s ? tmp : &c[ord[j] * w], w * sizeof *tmp);
            if (ord[j] == s)
                break;
        }
    }
    bool ok = done && tmp;
    esc_free(done);
    esc_free(tmp);
    return ok;
}

/* The groups' events (t's rows carry theirs), merged in the order add_rows merges them, into o,
 * whose row j is group order[j]. */
static esc_status unique_lineage(spl_stats_acc *c, const esc_table *t, const urows *u, esc_table *o,
                                 esc_error *err) {
    spl_lineage_seen seen;
    if (!(c->lin = esc_evset_new()) || !spl_lineage_seen_start(&seen, t))
        return spl_exec_oom(err);
    bool ok = true;
    for (size_t g = 0; ok && g < u->n; g++)
        ok = spl_lineage_merge(c->lin, g, t, u->rows[g], &seen);
    spl_lineage_seen_fini(&seen);
    c->lin_trunc = t->evidence_truncated || esc_evset_truncated(t->lineage);
    if (!ok || !(o->row_id = esc_malloc((u->n ? u->n : 1) * sizeof *o->row_id)))
        return spl_exec_oom(err);
    memcpy(o->row_id, u->order, u->n * sizeof *o->row_id);
    o->lineage = c->lin;
    c->lin = NULL;
    return ESC_OK;
}

esc_status spl_stats_unique(const stage *st, esc_table *t, esc_table **out, esc_error *err) {
    urows u = {0};
    esc_table *o = NULL;
    esc_cell *row = NULL, *dst = NULL;
    bool yes = false;
    *out = NULL;
    spl_stats_acc *c = spl_stats_open(st);
    esc_status rc = c ? one_each(st, t, c->a, &u, &yes, err) : spl_exec_oom(err);
    if (rc != ESC_OK || !yes)
        goto done;
    esc_agg_free(c->a); /* a table of one group (its caps are the same) */
    if (!(c->a = agg_new(st, 1))) {
        rc = spl_exec_oom(err);
        goto done;
    }
    size_t w = st->out.n, n = u.n, next = 0, cells = n * w > 0 ? n * w : 1;
    /* the output rows go where the input rows were when they are no wider: group g's w cells
     * end before row rows[g + 1] >= g + 1 starts, on cells emptied before */
    bool inplace = w <= t->ncols;
    if (!(o = spl_table_new(&st->out, 0)) ||
        !(row = esc_malloc((t->ncols ? t->ncols : 1) * sizeof *row))) {
        rc = spl_exec_oom(err);
        goto done;
    }
    if (inplace) {
        dst = t->cells; /* t's until the end */
    } else {
        esc_free(o->cells); /* o's: its rows as they are made */
        if (!(dst = o->cells = esc_calloc(cells, sizeof *dst))) {
            rc = spl_exec_oom(err);
            goto done;
        }
        o->nrows = n;
    }
    if (t->lineage && t->row_id && (rc = unique_lineage(c, t, &u, o, err)) != ESC_OK)
        goto done;
    o->evidence_truncated = c->lin_trunc;
    int tcol = esc_table_col(t, "_time");
    for (size_t g = 0; g < n && rc == ESC_OK; g++) { /* group g is row rows[g], taken out of t */
        size_t r = u.rows[g];
        clear_rows(t, next, r); /* in no group */
        memcpy(row, &t->cells[r * t->ncols], t->ncols * sizeof *row);
        memset(&t->cells[r * t->ncols], 0, t->ncols * sizeof *row);
        next = r + 1;
        rc = one_row(c, row, t->ncols, tcol, &dst[g * w], err);
    }
    if (rc == ESC_OK) {
        clear_rows(t, next, t->nrows);
        if (!permute(dst, w, u.order, n))
            rc = spl_exec_oom(err);
    }
    if (rc == ESC_OK && inplace) { /* t's cells are o's now, cut to their size */
        t->cells = NULL;
        t->nrows = 0;
        esc_free(o->cells);
        o->cells = dst;
        o->nrows = n;
        spl_table_shrink(o);
    }
    if (rc == ESC_OK) {
        *out = o;
        o = NULL;
    }
done:
    esc_table_free(o);
    esc_free(row);
    esc_free(u.rows);
    esc_free(u.order);
    spl_stats_free(c);
    return rc;
}

static esc_status run_stats(const stage *st, spl_run *x, esc_error *err) {
    esc_table *n = NULL;
    esc_status rc = st->unique ? spl_stats_unique(st, x->t, &n, err) : ESC_OK;
    if (rc == ESC_OK && !n)
        rc = aggregate(st, x->t, &n, err);
    if (rc == ESC_OK) {
        spl_table_swap(x->t, n);
        esc_table_free(n);
    }
    return rc;
}

static esc_status run_eventstats(const stage *st, spl_run *x, esc_error *err) {
    return aggregate(st, x->t, NULL, err);
}

static void explain_stats(const stage *st, esc_buf *out) {
    if (st->unique)
        esc_buf_append_c(out, "\n  one row per group: no two input rows share their BY values");
}

const spl_cmd spl_cmd_stats = {
    .name = "stats",
    .flags = SPL_CMD_BARRIER,
    .parse = parse_stats,
    .plan = plan_stats,
    .run = run_stats,
    .free = free_stats,
    .explain = explain_stats,
};

const spl_cmd spl_cmd_eventstats = {
    .name = "eventstats",
    .flags = SPL_CMD_BARRIER,
    .parse = parse_stats,
    .plan = plan_eventstats,
    .run = run_eventstats,
    .free = free_stats,
};
