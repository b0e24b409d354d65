/* makemv and mvexpand: make a field multivalue, and one row per value. Splunk's reference:
 * Search Reference, "makemv" and "mvexpand" (help.splunk.com/splunk-enterprise/
 * spl-search-reference/9.4/search-commands/makemv, .../mvexpand).
 *
 * makemv [delim=STR | tokenizer=REGEX] [allowempty=BOOL] FIELD: each value of FIELD split on
 * every occurrence of delim (default a single space; empty pieces dropped unless allowempty=true)
 * or cut into the matches of tokenizer, repeat-matched (a capture group's text when the pattern
 * has one, else the whole match); at most ESC_SPL_MAX_MV values a cell, the rest dropped.
 * mvexpand FIELD [limit=N]: each row becomes one row per value of FIELD (the first N with
 * limit), other columns copied; a row without FIELD gives no row; more than ESC_SPL_MAX_ROWS
 * rows in all is ESC_ELIMIT (Splunk truncates at a memory limit instead).
 *
 * Options kept: names[0] the field, fillnull the delimiter, re the tokenizer, join_max the
 * mvexpand limit (0: none), fill allowempty. Deliberately not done: makemv setsv=true (an
 * error), mvexpand of several fields. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"

static bool set_field(spl_parser *P, stage *st, const char *f, size_t at) {
    if (st->names) {
        spl_fail(P, at, "%s takes one field", st->name);
        return false;
    }
    st->names = spl_alloc0(P, sizeof *st->names);
    if (!st->names)
        return false;
    st->names[0] = f;
    st->nnames = 1;
    return true;
}

/* Options name=value and one field; opt handles an option, false on error. */
static bool parse_opts(spl_parser *P, stage *st,
                       bool (*opt)(spl_parser *P, stage *st, const char *w, const char *v,
                                   size_t at)) {
    while (!spl_at_end(P)) {
        size_t start = P->pos;
        size_t wl, ws;
        const char *w = spl_word(P, "=", &wl, &ws);
        if (!w) {
            if (!P->failed)
                spl_fail(P, start, "expected a field or option of %s", st->name);
            return false;
        }
        if (spl_peek(P) != '=') {
            if (!set_field(P, st, w, start))
                return false;
            continue;
        }
        P->pos++;
        size_t vl, vs;
        const char *v = spl_word(P, "", &vl, &vs);
        if (!v) {
            if (!P->failed)
                spl_fail(P, start, "missing value for option '%s'", w);
            return false;
        }
        if (!opt(P, st, w, v, start))
            return false;
    }
    if (!st->names) {
        spl_fail(P, st->start, "%s needs a field", st->name);
        return false;
    }
    return true;
}

/* ---- makemv ---- */

static bool truth(const char *v, bool *out) {
    if (!strcmp(v, "true") || !strcmp(v, "t") || !strcmp(v, "1"))
        return *out = true, true;
    if (!strcmp(v, "false") || !strcmp(v, "f") || !strcmp(v, "0"))
        return *out = false, true;
    return false;
}

static bool makemv_opt(spl_parser *P, stage *st, const char *w, const char *v, size_t at) {
    bool b;
    if (!strcmp(w, "delim") && *v) {
        st->fillnull = (char *)v;
        return true;
    }
    if (!strcmp(w, "tokenizer") && *v) {
        st->regex_field = v; /* compiled at plan time */
        return true;
    }
    if (!strcmp(w, "allowempty") && truth(v, &b)) {
        st->fill = b;
        return true;
    }
    if (!strcmp(w, "setsv") && truth(v, &b) && !b)
        return true;
    spl_fail(P, at, "unsupported makemv option '%s=%s'", w, v);
    return false;
}

static bool parse_makemv(spl_parser *P, stage *st) {
    st->fillnull = " ";
    return parse_opts(P, st, makemv_opt);
}

static esc_status plan_makemv(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    st->cols = esc_arena_alloc(&p->arena, sizeof *st->cols);
    if (!st->cols || !spl_schema_copy(p, &st->out, in, 0))
        return spl_plan_oom(err);
    st->cols[0] = spl_schema_find(in, st->names[0]);
    if (st->cols[0] >= 0) {
        st->out.mv[st->cols[0]] = true;
        st->out.origin[st->cols[0]] = -1;
    }
    if (st->regex_field) {
        int code;
        size_t off;
        const char *pat = st->regex_field;
        st->re = spl_re_compile(pat, strlen(pat), PCRE2_UTF, &code, &off);
        if (!st->re) {
            if (code == PCRE2_ERROR_HEAP_FAILED)
                return spl_plan_oom(err);
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(code, msg, sizeof msg);
            return esc_error_at(err, ESC_ECONTENT, NULL, st->start, "bad tokenizer: %s",
                                (const char *)msg);
        }
    }
    return ESC_OK;
}

/* Append s[0..n) to the values (v, *k of *cap); false when out of memory. */
static bool push(char ***v, size_t *k, size_t *cap, const char *s, size_t n) {
    if (*k == *cap && !ESC_VEC_GROW(*v, *cap, *k + 1, 8))
        return false;
    if (!((*v)[*k] = esc_strndup(s, n)))
        return false;
    (*k)++;
    return true;
}

/* The pieces of s into v. */
static bool split_value(const stage *st, pcre2_match_data *md, const char *s, char ***v, size_t *k,
                        size_t *cap) {
    size_t n = strlen(s);
    if (!st->re) {
        size_t dl = strlen(st->fillnull), i = 0;
        while (i <= n && *k < ESC_SPL_MAX_MV) {
            const char *hit = memmem(s + i, n - i, st->fillnull, dl);
            size_t end = hit ? (size_t)(hit - s) : n;
            if ((end > i || st->fill) && !push(v, k, cap, s + i, end - i))
                return false;
            if (!hit)
                break;
            i = end + dl;
        }
        return true;
    }
    size_t at = 0;
    while (at <= n && *k < ESC_SPL_MAX_MV && spl_re_match_at(st->re, s, n, at, md) >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t g = pcre2_get_ovector_count(md) > 1 && ov[2] != PCRE2_UNSET ? 1 : 0;
        if (!push(v, k, cap, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]))
            return false;
        at = ov[1] > ov[0] ? ov[1] : ov[1] + 1; /* an empty match moves on one byte */
    }
    return true;
}

static esc_status run_makemv(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    int c = st->cols[0];
    if (c < 0)
        return ESC_OK;
    pcre2_match_data *md = st->re ? spl_re_data(st->re) : NULL;
    if (st->re && !md)
        return spl_exec_oom(err);
    esc_status rc = ESC_OK;
    for (size_t r = 0; r < t->nrows && rc == ESC_OK; r++) {
        esc_cell *cell = &t->cells[r * t->ncols + (size_t)c];
        char **v = NULL;
        size_t k = 0, cap = 0;
        bool ok = true;
        for (size_t i = 0; i < cell->n && ok; i++)
            ok = split_value(st, md, cell->v[i], &v, &k, &cap);
        if (!ok) {
            for (size_t i = 0; i < k; i++)
                esc_free(v[i]);
            esc_free(v);
            rc = spl_exec_oom(err);
            break;
        }
        spl_cell_clear(cell);
        if (k) {
            cell->v = v;
            cell->n = k;
        } else {
            esc_free(v);
        }
    }
    if (md)
        pcre2_match_data_free(md);
    return rc;
}

static void free_makemv(stage *st) {
    if (st->re)
        pcre2_code_free(st->re);
    st->re = NULL;
}

const spl_cmd spl_cmd_makemv = {
    .name = "makemv",
    .parse = parse_makemv,
    .plan = plan_makemv,
    .run = run_makemv,
    .free = free_makemv,
};

/* ---- mvexpand ---- */

static bool mvexpand_opt(spl_parser *P, stage *st, const char *w, const char *v, size_t at) {
    char *end;
    long n = strtol(v, &end, 10);
    if (!strcmp(w, "limit") && *v >= '0' && *v <= '9' && !*end && n >= 0) {
        st->join_max = (size_t)n;
        return true;
    }
    spl_fail(P, at, "unsupported mvexpand option '%s=%s'", w, v);
    return false;
}

static bool parse_mvexpand(spl_parser *P, stage *st) {
    return parse_opts(P, st, mvexpand_opt);
}

static esc_status plan_mvexpand(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    st->cols = esc_arena_alloc(&p->arena, sizeof *st->cols);
    if (!st->cols || !spl_schema_copy(p, &st->out, in, 0))
        return spl_plan_oom(err);
    st->cols[0] = spl_schema_find(in, st->names[0]);
    if (st->cols[0] >= 0)
        st->out.mv[st->cols[0]] = false;
    return ESC_OK;
}

static esc_status run_mvexpand(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    int c = st->cols[0];
    size_t total = 0;
    for (size_t r = 0; r < t->nrows && c >= 0; r++) {
        size_t n = t->cells[r * t->ncols + (size_t)c].n;
        total += st->join_max && n > st->join_max ? st->join_max : n;
        if (total > ESC_SPL_MAX_ROWS)
            return esc_error_set(err, ESC_ELIMIT, "mvexpand: more than %d rows", ESC_SPL_MAX_ROWS);
    }
    esc_table *o = spl_table_new(&st->out, total);
    size_t *from = esc_malloc((total ? total : 1) * sizeof *from);
    if (!o || !from) {
        esc_table_free(o);
        esc_free(from);
        return spl_exec_oom(err);
    }
    size_t w = 0;
    for (size_t r = 0; r < t->nrows && c >= 0; r++) {
        const esc_cell *row = &t->cells[r * t->ncols];
        size_t n = row[c].n;
        if (st->join_max && n > st->join_max)
            n = st->join_max;
        for (size_t i = 0; i < n; i++, w++) {
            esc_cell *orow = &o->cells[w * o->ncols];
            from[w] = r; /* a copy of row r: the same events */
            for (size_t k = 0; k < t->ncols; k++) {
                bool ok;
                if (k == (size_t)c) {
                    esc_str v = esc_str_c(row[c].v[i]);
                    ok = spl_cell_set(&orow[k], &v, 1);
                } else {
                    ok = spl_cell_copy(&orow[k], &row[k]);
                }
                if (!ok) {
                    esc_table_free(o);
                    esc_free(from);
                    return spl_exec_oom(err);
                }
            }
        }
    }
    bool ok = spl_lineage_pick(o, t, from);
    esc_free(from);
    if (ok)
        spl_table_swap(t, o);
    esc_table_free(o);
    return ok ? ESC_OK : spl_exec_oom(err);
}

const spl_cmd spl_cmd_mvexpand = {
    .name = "mvexpand",
    .flags = SPL_CMD_BARRIER,
    .parse = parse_mvexpand,
    .plan = plan_mvexpand,
    .run = run_mvexpand,
};
