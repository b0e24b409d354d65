/* Eval functions on multivalue fields: mvcount, mvindex, split, mvjoin, mvappend, mvdedup,
 * mvfilter (the table at the end; eval.h says how to add one).
 *
 * Invariants: a scalar is a multivalue of one value and null one of none; a result of one value
 * is a plain string, of none null; indexes count from 0, negative ones from the end. Deliberately
 * not done: mvfind, mvrange, mvsort, mvzip. */
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "spl/eval.h"

static void free_strs(char **v, size_t n) {
    for (size_t j = 0; j < n; j++)
        esc_free(v[j]);
    esc_free(v);
}

static bool fn_mvcount(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    if (a[0].t == V_MV)
        spl_vnum(out, (double)a[0].n);
    else if (a[0].t != V_NULL)
        spl_vnum(out, 1);
    return true;
}

/* mvindex(mv, start[, end]): the values start..end, both included. */
static bool fn_mvindex(const enode *e, val *a, size_t na, val *out) {
    (void)e;
    vlist tl;
    const char *const *it;
    double x, y;
    size_t cnt = spl_items(&a[0], &tl, &it);
    if (!cnt || !spl_as_num(&a[1], &x))
        return true;
    long st = spl_to_long(x), en = st;
    if (na == 3) {
        if (!spl_as_num(&a[2], &y))
            return true;
        en = spl_to_long(y);
    }
    if (st < 0)
        st += (long)cnt;
    if (en < 0)
        en += (long)cnt;
    if (st < 0 || st >= (long)cnt || en < st)
        return true;
    if (en >= (long)cnt)
        en = (long)cnt - 1;
    char **v = esc_calloc((size_t)(en - st + 1), sizeof *v);
    if (!v)
        return false;
    for (long i = st; i <= en; i++) {
        v[i - st] = esc_strdup(it[i]);
        if (!v[i - st]) {
            free_strs(v, (size_t)(i - st));
            return false;
        }
    }
    return spl_set_mv(out, v, (size_t)(en - st + 1));
}

/* split(s, sep): the pieces between occurrences of sep (an empty sep: s itself). */
static bool fn_split(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    char b0[64], b1[64];
    const char *s, *s1;
    size_t n, n1;
    if (!spl_as_text(&a[0], b0, sizeof b0, &s, &n) || !spl_as_text(&a[1], b1, sizeof b1, &s1, &n1))
        return true;
    size_t cap = 8, k = 0;
    char **v = esc_calloc(cap, sizeof *v);
    if (!v)
        return false;
    size_t i = 0;
    for (;;) {
        long f = n1 ? esc_str_find(esc_str_make(s + i, n - i), esc_str_make(s1, n1)) : -1;
        size_t end = f < 0 ? n : i + (size_t)f;
        if (k == cap && !ESC_VEC_GROW(v, cap, k + 1, 8))
            goto oom;
        v[k] = esc_strndup(s + i, end - i);
        if (!v[k])
            goto oom;
        k++;
        if (f < 0)
            break;
        i = end + n1;
    }
    if (k == 1) {
        out->t = V_STR;
        out->s = v[0];
        out->len = strlen(v[0]);
        esc_free(v);
    } else {
        out->t = V_MV;
        out->mv = v;
        out->n = k;
    }
    return true;
oom:
    free_strs(v, k);
    return false;
}

static bool fn_mvjoin(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    vlist tl;
    const char *const *it;
    char b1[64];
    const char *s1;
    size_t n1;
    size_t cnt = spl_items(&a[0], &tl, &it);
    if (!cnt || !spl_as_text(&a[1], b1, sizeof b1, &s1, &n1))
        return true;
    esc_buf b;
    esc_buf_init(&b, 0);
    for (size_t i = 0; i < cnt; i++) {
        if (i)
            esc_buf_append(&b, s1, n1);
        esc_buf_append(&b, it[i], spl_item_len(&a[0], &tl, it[i]));
    }
    bool ok = spl_vstr(out, b.ptr ? b.ptr : "", b.len);
    esc_buf_fini(&b);
    return ok;
}

/* Every value of every argument, in order; dedup: each value once. */
static bool append(val *a, size_t na, val *out, bool dedup) {
    size_t total = 0;
    for (size_t i = 0; i < na; i++)
        total += a[i].t == V_MV ? a[i].n : a[i].t != V_NULL;
    char **v = esc_calloc(total ? total : 1, sizeof *v);
    if (!v)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < na; i++) {
        vlist tl;
        const char *const *it;
        size_t cnt = spl_items(&a[i], &tl, &it);
        for (size_t j = 0; j < cnt; j++) {
            const char *str = it[j];
            size_t sl = spl_item_len(&a[i], &tl, str);
            bool dup = false;
            if (dedup)
                for (size_t q = 0; q < k && !dup; q++)
                    dup = strlen(v[q]) == sl && memcmp(v[q], str, sl) == 0;
            if (dup)
                continue;
            v[k] = esc_strndup(str, sl);
            if (!v[k]) {
                free_strs(v, k);
                return false;
            }
            k++;
        }
    }
    return spl_set_mv(out, v, k);
}

static bool fn_mvappend(const enode *e, val *a, size_t na, val *out) {
    (void)e;
    return append(a, na, out, false);
}

static bool fn_mvdedup(const enode *e, val *a, size_t na, val *out) {
    (void)e;
    return append(a, na, out, true);
}

/* The field mvfilter's predicate reads (the first one found), or NULL. */
static const enode *pred_field(const enode *e) {
    if (e->kind == EN_FIELD)
        return e;
    for (size_t i = 0; i < e->nargs; i++) {
        const enode *f = pred_field(e->args[i]);
        if (f)
            return f;
    }
    return NULL;
}

static bool other_field(const enode *e, const char *name) {
    if (e->kind == EN_FIELD && strcmp(e->str, name) != 0)
        return true;
    for (size_t i = 0; i < e->nargs; i++)
        if (other_field(e->args[i], name))
            return true;
    return false;
}

/* Splunk: "The Boolean expression can reference ONLY ONE field at a time." */
static esc_status check_mvfilter(enode *e, esc_error *err) {
    const enode *f = pred_field(e->args[0]);
    if (!f)
        return esc_error_at(err, ESC_ECONTENT, NULL, e->start, "mvfilter() needs a field");
    if (other_field(e->args[0], f->str))
        return esc_error_at(err, ESC_ECONTENT, NULL, e->start,
                            "mvfilter() may reference only one field");
    return ESC_OK;
}

/* mvfilter(pred): the values of pred's field for which pred is true, each tried on its own. */
static bool fn_mvfilter(const enode *e, const eval_row *row, val *out) {
    const enode *f = pred_field(e->args[0]);
    if (!f || f->col < 0 || (size_t)f->col >= row->ncols || row->cells[f->col].n == 0)
        return true;
    const esc_cell *c = &row->cells[f->col];
    esc_cell *cells = esc_malloc(row->ncols * sizeof *cells);
    char **v = esc_calloc(c->n, sizeof *v);
    size_t k = 0;
    if (!cells || !v)
        goto oom;
    memcpy(cells, row->cells, row->ncols * sizeof *cells);
    eval_row one = {cells, row->ncols};
    for (size_t i = 0; i < c->n; i++) {
        if (c->n > 1) /* a single value keeps its cell (and number) as it is */
            cells[f->col] = (esc_cell){.n = 1, .v = &c->v[i]};
        val t;
        if (!spl_eval_arg(e->args[0], &one, &t))
            goto oom;
        bool keep = t.t == V_BOOL && t.b;
        spl_vfree(&t);
        if (keep && !(v[k++] = esc_strdup(c->v[i])))
            goto oom;
    }
    esc_free(cells);
    return spl_set_mv(out, v, k);
oom:
    esc_free(cells);
    if (v)
        free_strs(v, k);
    return false;
}

const spl_eval_fn spl_eval_fns_mv[] = {
    {"mvfilter", 1, 1, NULL, fn_mvfilter, check_mvfilter},
    {"mvcount", 1, 1, fn_mvcount, NULL, NULL},
    {"mvindex", 2, 3, fn_mvindex, NULL, NULL},
    {"split", 2, 2, fn_split, NULL, NULL},
    {"mvjoin", 2, 2, fn_mvjoin, NULL, NULL},
    {"mvappend", 1, ESC_SPL_MAX_ARGS, fn_mvappend, NULL, NULL},
    {"mvdedup", 1, 1, fn_mvdedup, NULL, NULL},
    {NULL, 0, 0, NULL, NULL, NULL},
};
