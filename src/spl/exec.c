/* Execution: records -> tstats groups (agg/) -> a result table -> the rest of the pipeline.
 *
 * Invariants: esc_exec_feed copies what it keeps (record views die after the call); the plan is
 * only read, so several executions of one plan may run at once; rows leave tstats and stats
 * ordered by their BY values (byte order, first field first); every string in a result table
 * is esc_malloc'd and owned by the table; a join's subsearch has its own execution, fed the
 * same records. Deliberately not done: streaming of post-tstats stages (they run once, on
 * esc_exec_finish) and windows (the caller runs one execution per window). */
#include <math.h>
#include <stdio.h>
#include <string.h>


#include "agg/agg.h"
#include "core/alloc.h"
#include "core/timeutil.h"
#include "spl/ast.h"

struct esc_exec {
    const esc_plan *p;
    int64_t earliest, latest;
    esc_agg *agg;
    esc_exec **subs; /* per stage: the execution of a join's subsearch, or NULL */
};

static esc_agg_fn agg_map(aggfn f) {
    switch (f) {
    case AGG_COUNT: return ESC_AGG_COUNT;
    case AGG_COUNT_FIELD: return ESC_AGG_COUNT_FIELD;
    case AGG_VALUES: return ESC_AGG_VALUES;
    case AGG_LIST: return ESC_AGG_LIST;
    case AGG_DC: return ESC_AGG_DC;
    case AGG_MIN: return ESC_AGG_MIN;
    case AGG_MAX: return ESC_AGG_MAX;
    case AGG_SUM: return ESC_AGG_SUM;
    case AGG_AVG: return ESC_AGG_AVG;
    case AGG_EARLIEST: return ESC_AGG_EARLIEST;
    case AGG_LATEST: return ESC_AGG_LATEST;
    }
    return ESC_AGG_COUNT;
}

static esc_agg *new_agg(const stage *st) {
    esc_agg_fn fns[64];
    for (size_t i = 0; i < st->naggs; i++)
        fns[i] = agg_map(st->aggs[i].fn);
    return esc_agg_new(st->nby, fns, st->naggs, ESC_SPL_MAX_GROUPS, ESC_SPL_MAX_EXEC_BYTES);
}

esc_exec *esc_exec_new(const esc_plan *p, int64_t earliest_us, int64_t latest_us,
                       esc_error *err) {
    esc_exec *x = esc_calloc(1, sizeof *x);
    if (!x)
        goto fail;
    x->p = p;
    x->earliest = earliest_us;
    x->latest = latest_us;
    x->agg = new_agg(&p->stages[0]);
    if (!x->agg)
        goto fail;
    for (size_t i = 1; i < p->nstages; i++) {
        if (!p->stages[i].sub)
            continue;
        if (!x->subs && !(x->subs = esc_calloc(p->nstages, sizeof *x->subs)))
            goto fail;
        if (!(x->subs[i] = esc_exec_new(p->stages[i].sub, earliest_us, latest_us, err)))
            goto fail;
    }
    return x;
fail:
    esc_exec_free(x);
    esc_error_set(err, ESC_ENOMEM, "out of memory starting a search");
    return NULL;
}

void esc_exec_free(esc_exec *x) {
    if (!x)
        return;
    if (x->subs)
        for (size_t i = 0; i < x->p->nstages; i++)
            esc_exec_free(x->subs[i]);
    esc_free(x->subs);
    esc_agg_free(x->agg);
    esc_free(x);
}

size_t esc_exec_groups(const esc_exec *x) {
    return x ? esc_agg_ngroups(x->agg) : 0;
}

/* Seconds as text with the sub-second part kept (trailing zeros dropped). */
static size_t time_text(int64_t us, char *buf, size_t cap) {
    bool neg = us < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
    uint64_t sec = u / 1000000, frac = u % 1000000;
    int n;
    if (!frac) {
        n = snprintf(buf, cap, "%s%llu", neg ? "-" : "", (unsigned long long)sec);
    } else {
        n = snprintf(buf, cap, "%s%llu.%06llu", neg ? "-" : "", (unsigned long long)sec,
                     (unsigned long long)frac);
        while (n > 0 && buf[n - 1] == '0')
            buf[--n] = 0;
    }
    return (size_t)n;
}

esc_status esc_exec_feed(esc_exec *x, const esc_record *r, esc_error *err) {
    if (r->time_us < x->earliest || (x->latest != ESC_TIME_MAX && r->time_us >= x->latest))
        return ESC_OK;
    if (x->subs)
        for (size_t i = 0; i < x->p->nstages; i++) {
            esc_status rs = x->subs[i] ? esc_exec_feed(x->subs[i], r, err) : ESC_OK;
            if (rs != ESC_OK)
                return rs;
        }
    if (!spl_main_matches(x->p, r))
        return ESC_OK;
    const stage *st = &x->p->stages[0];
    esc_str keys[64];
    char bucket[32];
    for (size_t i = 0; i < st->nby; i++) {
        int ref = st->by[i].ref;
        esc_str v = ref >= 0 ? r->v[ref] : ESC_STR_NULL;
        if (ref == FIELD_TIME) {
            /* time bucket: floor to the span, in epoch seconds */
            int64_t span = st->span_us ? st->span_us : ESC_US_PER_SEC;
            int64_t q = r->time_us / span - (r->time_us % span < 0);
            int n = snprintf(bucket, sizeof bucket, "%lld", (long long)(q * (span / ESC_US_PER_SEC)));
            v = esc_str_make(bucket, (size_t)n);
        }
        if (!v.ptr) {
            if (!st->fill)
                return ESC_OK;
            v = esc_str_c(st->fillnull);
        }
        keys[i] = v;
    }
    size_t g;
    esc_status rc = esc_agg_group(x->agg, keys, &g, err);
    if (rc != ESC_OK)
        return rc;
    char tbuf[48];
    for (size_t i = 0; i < st->naggs; i++) {
        const aggspec *a = &st->aggs[i];
        if (a->fn == AGG_COUNT)
            continue;
        esc_agg_in in = {ESC_STR_NULL, false, 0};
        if (a->ref == FIELD_TIME) {
            size_t n = time_text(r->time_us, tbuf, sizeof tbuf);
            in.s = esc_str_make(tbuf, n);
            in.is_num = true;
            in.num = (double)r->time_us / 1e6;
        } else if (a->ref >= 0) {
            in.s = r->v[a->ref];
            if (in.s.ptr)
                in.is_num = spl_parse_num(in.s.ptr, in.s.len, &in.num);
        }
        if (!in.s.ptr)
            continue;
        if ((rc = esc_agg_add(x->agg, g, i, &in, 1, r->time_us, err)) != ESC_OK)
            return rc;
    }
    return ESC_OK;
}

/* ---- tables ---- */

void spl_cell_clear(esc_cell *c) {
    for (size_t i = 0; i < c->n; i++)
        esc_free(c->v[i]);
    esc_free(c->v);
    memset(c, 0, sizeof *c);
}

void esc_table_free(esc_table *t) {
    if (!t)
        return;
    for (size_t i = 0; t->cells && i < t->nrows * t->ncols; i++)
        spl_cell_clear(&t->cells[i]);
    for (size_t i = 0; t->cols && i < t->ncols; i++)
        esc_free(t->cols[i]);
    esc_free(t->cols);
    esc_free(t->mv_col);
    esc_free(t->cells);
    esc_free(t);
}

int esc_table_col(const esc_table *t, const char *name) {
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i], name) == 0)
            return (int)i;
    return -1;
}

static esc_status nomem(esc_error *err) {
    return esc_error_set(err, ESC_ENOMEM, "out of memory building results");
}

/* Set c to the values v[0..n) (copied). */
static bool cell_set(esc_cell *c, const esc_str *v, size_t n) {
    spl_cell_clear(c);
    if (!n)
        return true;
    c->v = esc_calloc(n, sizeof *c->v);
    if (!c->v)
        return false;
    for (size_t i = 0; i < n; i++) {
        c->v[i] = esc_strndup(v[i].ptr ? v[i].ptr : "", v[i].len);
        if (!c->v[i])
            return false;
        c->n = i + 1;
    }
    return true;
}

size_t spl_num_text(double v, char *buf, size_t cap) {
    int n;
    if (v == floor(v) && fabs(v) < 1e15)
        n = snprintf(buf, cap, "%.0f", v);
    else {
        n = snprintf(buf, cap, "%.15g", v);
        double back;
        if (!spl_parse_num(buf, (size_t)n, &back) || back != v)
            n = snprintf(buf, cap, "%.17g", v);
    }
    return (size_t)n;
}

static bool cell_num(esc_cell *c, double v, const esc_str *text) {
    char buf[64];
    esc_str s = text ? *text : esc_str_make(buf, spl_num_text(v, buf, sizeof buf));
    if (!cell_set(c, &s, 1))
        return false;
    c->is_num = true;
    c->num = v;
    return true;
}

bool spl_cell_copy(esc_cell *dst, const esc_cell *src) {
    esc_str tmp[1];
    spl_cell_clear(dst);
    if (!src->n)
        return true;
    dst->v = esc_calloc(src->n, sizeof *dst->v);
    if (!dst->v)
        return false;
    for (size_t i = 0; i < src->n; i++) {
        tmp[0] = esc_str_c(src->v[i]);
        dst->v[i] = esc_strndup(tmp[0].ptr, tmp[0].len);
        if (!dst->v[i])
            return false;
        dst->n = i + 1;
    }
    dst->is_num = src->is_num;
    dst->num = src->num;
    return true;
}

/* A table with the columns of a schema and nrows empty rows. */
static esc_table *table_new(const schema *s, size_t nrows) {
    esc_table *t = esc_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = s->n;
    t->cols = esc_calloc(s->n ? s->n : 1, sizeof *t->cols);
    t->mv_col = esc_calloc(s->n ? s->n : 1, sizeof *t->mv_col);
    size_t ncells = s->n * nrows;
    t->cells = esc_calloc(ncells ? ncells : 1, sizeof *t->cells);
    if (!t->cols || !t->mv_col || !t->cells)
        goto fail;
    t->nrows = nrows;
    for (size_t i = 0; i < s->n; i++) {
        t->cols[i] = esc_strdup(s->name[i]);
        if (!t->cols[i])
            goto fail;
        t->mv_col[i] = s->mv[i];
    }
    return t;
fail:
    t->nrows = 0;
    esc_table_free(t);
    return NULL;
}

/* Fill row r's aggregate cells from group g: aggregate i goes to column cols[i], or to
 * nby + i when cols is NULL. */
static esc_status fill_aggs(esc_agg *a, size_t g, const stage *st, esc_cell *row,
                            const int *cols, esc_error *err) {
    for (size_t i = 0; i < st->naggs; i++) {
        esc_agg_out o;
        esc_status rc = esc_agg_result(a, g, i, &o, err);
        if (rc != ESC_OK)
            return rc;
        esc_cell *c = &row[cols ? (size_t)cols[i] : st->nby + i];
        bool ok;
        if (o.is_num)
            ok = cell_num(c, o.num, o.n ? &o.v[0] : NULL);
        else
            ok = cell_set(c, o.v, o.n);
        if (!ok)
            return nomem(err);
    }
    return ESC_OK;
}

static esc_status agg_table(esc_agg *a, const stage *st, esc_table **out, esc_error *err) {
    size_t *order = NULL;
    esc_status rc = esc_agg_sorted(a, &order, err);
    if (rc != ESC_OK)
        return rc;
    size_t ng = esc_agg_ngroups(a);
    esc_table *t = table_new(&st->out, ng);
    if (!t) {
        rc = nomem(err);
        goto fail;
    }
    for (size_t r = 0; r < ng; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        for (size_t k = 0; k < st->nby; k++) {
            esc_str key = esc_agg_key(a, order[r], k);
            if (!cell_set(&row[k], &key, 1)) {
                rc = nomem(err);
                goto fail;
            }
            if (st->kind == ST_TSTATS && st->by[k].ref == FIELD_TIME)
                row[k].is_num = spl_parse_num(key.ptr, key.len, &row[k].num);
        }
        if ((rc = fill_aggs(a, order[r], st, row, NULL, err)) != ESC_OK)
            goto fail;
    }
    esc_free(order);
    *out = t;
    return ESC_OK;
fail:
    esc_free(order);
    esc_table_free(t);
    return rc;
}

/* ---- row stages ---- */

/* Rebuild t with the columns of st->out where output column i takes input column map[i]
 * (moved, not copied; -1 = empty). */
static esc_status remap(esc_table *t, const schema *s, const int *map, esc_error *err) {
    esc_table *n = table_new(s, t->nrows);
    if (!n)
        return nomem(err);
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t i = 0; i < s->n; i++)
            if (map[i] >= 0) {
                n->cells[r * s->n + i] = t->cells[r * t->ncols + (size_t)map[i]];
                memset(&t->cells[r * t->ncols + (size_t)map[i]], 0, sizeof(esc_cell));
            }
    /* swap contents */
    esc_table tmp = *t;
    *t = *n;
    *n = tmp;
    esc_table_free(n);
    return ESC_OK;
}

/* Widen t to the schema s (which extends t's columns). */
static esc_status widen(esc_table *t, const schema *s, esc_error *err) {
    int map[256];
    if (s->n > 256)
        return esc_error_set(err, ESC_ELIMIT, "more than 256 columns");
    for (size_t i = 0; i < s->n; i++)
        map[i] = i < t->ncols ? (int)i : -1;
    return remap(t, s, map, err);
}

/* Keep rows with keep[r] set. */
static void filter_rows(esc_table *t, const bool *keep) {
    size_t o = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        if (keep[r]) {
            if (o != r)
                memmove(&t->cells[o * t->ncols], row, t->ncols * sizeof *row);
            o++;
        } else {
            for (size_t c = 0; c < t->ncols; c++)
                spl_cell_clear(&row[c]);
        }
    }
    t->nrows = o;
}

static esc_status run_convert(const stage *st, esc_table *t, esc_error *err) {
    esc_status rc = widen(t, &st->out, err);
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
    return nomem(err);
}

static esc_status run_filter(const stage *st, esc_table *t, esc_error *err) {
    bool *keep = esc_malloc(t->nrows ? t->nrows : 1);
    if (!keep)
        return nomem(err);
    for (size_t r = 0; r < t->nrows; r++) {
        const esc_cell *row = &t->cells[r * t->ncols];
        switch (st->kind) {
        case ST_SEARCH: keep[r] = !st->where || spl_row_match(st->where, row, t->ncols); break;
        case ST_WHERE:
            if (spl_cond_true(st->cond, row, t->ncols, &keep[r]) != ESC_OK) {
                esc_free(keep);
                return nomem(err);
            }
            break;
        case ST_REGEX: {
            bool m = false;
            int c = st->cols[0];
            if (c >= 0) {
                pcre2_match_data *md = spl_re_data(st->re);
                int rc = 0;
                for (size_t i = 0; md && i < row[c].n && !m && rc != PCRE2_ERROR_NOMEMORY; i++)
                    m = (rc = spl_re_match(st->re, row[c].v[i], strlen(row[c].v[i]), md)) >= 0;
                pcre2_match_data_free(md);
                if (!md || rc == PCRE2_ERROR_NOMEMORY) {
                    esc_free(keep);
                    return nomem(err);
                }
            }
            keep[r] = st->regex_neg ? !m : m;
            break;
        }
        default: keep[r] = true;
        }
    }
    filter_rows(t, keep);
    esc_free(keep);
    return ESC_OK;
}

static esc_status run_eval(const stage *st, esc_table *t, esc_error *err) {
    esc_status rc = widen(t, &st->out, err);
    if (rc != ESC_OK)
        return rc;
    for (size_t r = 0; r < t->nrows; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        for (size_t k = 0; k < st->nevals; k++) {
            esc_cell v = {0};
            if ((rc = spl_eval_cell(st->evals[k].e, row, t->ncols, &v)) != ESC_OK)
                return esc_error_at(err, rc, NULL, st->evals[k].start,
                                    "eval failed for '%s'", st->evals[k].name);
            spl_cell_clear(&row[st->evals[k].col]);
            row[st->evals[k].col] = v;
        }
    }
    return ESC_OK;
}

/* Key text of a cell for dedup/stats: values joined by '\n'. */
static esc_status cell_key(const esc_cell *c, esc_buf *b) {
    esc_buf_clear(b);
    for (size_t i = 0; i < c->n; i++) {
        if (i && esc_buf_putc(b, '\n') != ESC_OK)
            return ESC_ELIMIT;
        if (esc_buf_append_c(b, c->v[i]) != ESC_OK)
            return ESC_ELIMIT;
    }
    if (!b->ptr && esc_buf_reserve(b, 1) != ESC_OK)
        return ESC_ENOMEM;
    return ESC_OK;
}

static esc_status run_dedup(const stage *st, esc_table *t, esc_error *err) {
    esc_agg *seen = esc_agg_new(st->nnames, NULL, 0, 0, ESC_SPL_MAX_EXEC_BYTES);
    bool *keep = esc_malloc(t->nrows ? t->nrows : 1);
    esc_buf kb[64];
    esc_str keys[64];
    esc_status rc = ESC_OK;
    size_t nk = st->nnames < 64 ? st->nnames : 64;
    for (size_t k = 0; k < nk; k++)
        esc_buf_init(&kb[k], ESC_SPL_EXPAND_MAX);
    if (!seen || !keep) {
        rc = nomem(err);
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
            if ((rc = cell_key(&row[c], &kb[k])) != ESC_OK) {
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
    filter_rows(t, keep);
done:
    for (size_t k = 0; k < nk; k++)
        esc_buf_fini(&kb[k]);
    esc_free(keep);
    esc_agg_free(seen);
    return rc;
}

static esc_status run_rex(const stage *st, esc_table *t, esc_error *err) {
    esc_status rc = widen(t, &st->out, err);
    if (rc != ESC_OK)
        return rc;
    int src = st->cols[0];
    if (src < 0)
        return ESC_OK;
    pcre2_match_data *md = spl_re_data(st->re);
    if (!md)
        return nomem(err);
    for (size_t r = 0; r < t->nrows; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        if (!row[src].n)
            continue;
        const char *s = row[src].v[0];
        int m = spl_re_match(st->re, s, strlen(s), md);
        if (m == PCRE2_ERROR_NOMEMORY) {
            pcre2_match_data_free(md);
            return nomem(err);
        }
        if (m < 0)
            continue;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        uint32_t npairs = pcre2_get_ovector_count(md);
        for (size_t k = 0; k < st->nmap; k++) {
            uint32_t gno = (uint32_t)st->map[k];
            if (gno >= npairs || ov[2 * gno] == PCRE2_UNSET)
                continue;
            esc_str v = esc_str_make(s + ov[2 * gno], ov[2 * gno + 1] - ov[2 * gno]);
            if (!cell_set(&row[st->cols2[k]], &v, 1)) {
                pcre2_match_data_free(md);
                return nomem(err);
            }
        }
    }
    pcre2_match_data_free(md);
    return ESC_OK;
}

static esc_status run_stats(const stage *st, esc_table *t, esc_table **out, esc_error *err) {
    esc_agg *a = new_agg(st);
    esc_buf kb[64];
    esc_str keys[64];
    esc_agg_in *in = NULL;
    esc_status rc = ESC_OK;
    size_t nb = st->nby;
    int tcol = esc_table_col(t, "_time");
    size_t *rows_group = esc_malloc((t->nrows ? t->nrows : 1) * sizeof *rows_group);
    for (size_t k = 0; k < nb; k++)
        esc_buf_init(&kb[k], ESC_SPL_EXPAND_MAX);
    if (!a || !rows_group) {
        rc = nomem(err);
        goto done;
    }
    for (size_t r = 0; r < t->nrows; r++) {
        const esc_cell *row = &t->cells[r * t->ncols];
        bool skip = false;
        rows_group[r] = SIZE_MAX;
        for (size_t k = 0; k < nb; k++) {
            int c = st->by[k].ref;
            if (c < 0 || row[c].n == 0) {
                skip = true;
                break;
            }
            if ((rc = cell_key(&row[c], &kb[k])) != ESC_OK) {
                rc = esc_error_set(err, rc, "stats key too long");
                goto done;
            }
            keys[k] = esc_buf_str(&kb[k]);
        }
        if (skip)
            continue;
        size_t g;
        if ((rc = esc_agg_group(a, keys, &g, err)) != ESC_OK)
            goto done;
        rows_group[r] = g;
        int64_t tus = 0;
        double tv;
        if (tcol >= 0 && row[tcol].n &&
            spl_parse_num(row[tcol].v[0], strlen(row[tcol].v[0]), &tv) && fabs(tv) < 9e12)
            tus = (int64_t)(tv * 1e6); /* a _time beyond +-285,000 years is taken as 0 */
        for (size_t i = 0; i < st->naggs; i++) {
            int c = st->aggs[i].ref;
            if (st->aggs[i].fn == AGG_COUNT || c < 0 || row[c].n == 0)
                continue;
            esc_agg_in *ni = esc_realloc(in, row[c].n * sizeof *in);
            if (!ni) {
                rc = nomem(err);
                goto done;
            }
            in = ni;
            for (size_t j = 0; j < row[c].n; j++) {
                in[j].s = esc_str_c(row[c].v[j]);
                in[j].is_num = spl_parse_num(in[j].s.ptr, in[j].s.len, &in[j].num);
            }
            if ((rc = esc_agg_add(a, g, i, in, row[c].n, tus, err)) != ESC_OK)
                goto done;
        }
    }
    if (st->kind == ST_EVENTSTATS) {
        /* second pass: every row gets its group's aggregates */
        rc = widen(t, &st->out, err);
        for (size_t r = 0; r < t->nrows && rc == ESC_OK; r++)
            if (rows_group[r] != SIZE_MAX)
                rc = fill_aggs(a, rows_group[r], st, &t->cells[r * t->ncols], st->cols2, err);
    } else {
        rc = agg_table(a, st, out, err);
    }
done:
    esc_free(rows_group);
    for (size_t k = 0; k < nb; k++)
        esc_buf_fini(&kb[k]);
    esc_free(in);
    esc_agg_free(a);
    return rc;
}

static bool cells_equal(const esc_cell *a, const esc_cell *b) {
    if (!a->n || a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

static esc_status run_join(const stage *st, esc_table *t, esc_exec *sx, esc_error *err) {
    esc_table *s = NULL, *n = NULL;
    esc_status rc = esc_exec_finish(sx, &s, err);
    if (rc != ESC_OK)
        return rc;
    size_t cap = t->nrows ? t->nrows : 1;
    n = table_new(&st->out, cap);
    if (!n) {
        rc = nomem(err);
        goto done;
    }
    n->nrows = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        const esc_cell *row = &t->cells[r * t->ncols];
        size_t used = 0;
        for (size_t q = 0; q <= s->nrows; q++) {
            const esc_cell *srow = q < s->nrows ? &s->cells[q * s->ncols] : NULL;
            if (srow) {
                if (st->join_max && used == st->join_max)
                    continue;
                bool eq = true;
                for (size_t k = 0; k < st->nnames && eq; k++)
                    eq = st->cols[k] >= 0 && st->cols2[k] >= 0 &&
                         cells_equal(&row[st->cols[k]], &srow[st->cols2[k]]);
                if (!eq)
                    continue;
            } else if (used || st->join_type == 0) {
                continue; /* the unmatched row of a left join */
            }
            used++;
            if (n->nrows == cap) {
                size_t nc = cap * 2;
                esc_cell *cells = esc_realloc(n->cells, nc * n->ncols * sizeof *cells);
                if (!cells) {
                    rc = nomem(err);
                    goto done;
                }
                memset(cells + cap * n->ncols, 0, (nc - cap) * n->ncols * sizeof *cells);
                n->cells = cells;
                cap = nc;
            }
            esc_cell *o = &n->cells[n->nrows++ * n->ncols];
            for (size_t c = 0; c < t->ncols; c++)
                if (!spl_cell_copy(&o[c], &row[c])) {
                    rc = nomem(err);
                    goto done;
                }
            for (size_t c = 0; srow && c < st->nmap; c++) {
                size_t dst = (size_t)st->map[c];
                if (!srow[c].n || (!st->join_overwrite && o[dst].n))
                    continue;
                if (!spl_cell_copy(&o[dst], &srow[c])) {
                    rc = nomem(err);
                    goto done;
                }
            }
        }
    }
    {
        esc_table tmp = *t;
        *t = *n;
        *n = tmp;
    }
done:
    esc_table_free(n);
    esc_table_free(s);
    return rc;
}

esc_status esc_exec_finish(esc_exec *x, esc_table **out, esc_error *err) {
    const esc_plan *p = x->p;
    esc_table *t = NULL;
    *out = NULL;
    uint64_t limited = spl_re_limited();
    esc_status rc = agg_table(x->agg, &p->stages[0], &t, err);
    if (rc != ESC_OK)
        return rc;
    for (size_t i = 1; i < p->nstages; i++) {
        const stage *st = &p->stages[i];
        switch (st->kind) {
        case ST_RENAME:
        case ST_FIELDS:
        case ST_TABLE: rc = remap(t, &st->out, st->map, err); break;
        case ST_CONVERT: rc = run_convert(st, t, err); break;
        case ST_SEARCH:
        case ST_WHERE:
        case ST_REGEX: rc = run_filter(st, t, err); break;
        case ST_EVAL: rc = run_eval(st, t, err); break;
        case ST_REX: rc = run_rex(st, t, err); break;
        case ST_LOOKUP: rc = spl_lookup_run(st, t, err); break;
        case ST_JOIN: rc = run_join(st, t, x->subs[i], err); break;
        case ST_EVENTSTATS: rc = run_stats(st, t, NULL, err); break;
        case ST_DEDUP: rc = run_dedup(st, t, err); break;
        case ST_STATS: {
            esc_table *n = NULL;
            rc = run_stats(st, t, &n, err);
            if (rc == ESC_OK) {
                esc_table_free(t);
                t = n;
            }
            break;
        }
        case ST_TSTATS: rc = esc_error_set(err, ESC_EINTERNAL, "tstats after the first stage");
        }
        if (rc != ESC_OK)
            goto fail;
    }
    t->regex_limited = spl_re_limited() - limited;
    *out = t;
    return ESC_OK;
fail:
    esc_table_free(t);
    return rc;
}

esc_status spl_table_widen(esc_table *t, const schema *s, esc_error *err) {
    return widen(t, s, err);
}

bool spl_cell_set(esc_cell *c, const esc_str *v, size_t n) {
    return cell_set(c, v, n);
}
