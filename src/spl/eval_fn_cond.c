/* Eval functions for conditions, nulls and types: if, case, coalesce (lazy: they evaluate only
 * the arguments they need), isnull, isnotnull, null, true, false, isnum, isstr, nullif, validate
 * (the table at the end; eval.h says how to add one).
 *
 * Invariants: a condition holds only when it is boolean true (null, numbers and strings do
 * not); case() with no true condition, and validate() with every condition true, give null.
 * Deliberately not done: searchmatch(), typeof(), isbool(), isint(). */
#include <string.h>

#include "spl/eval.h"

/* Is argument i of e boolean true? false in *ok when evaluation ran out of memory. */
static bool holds(const enode *e, size_t i, const eval_row *row, bool *ok) {
    val c;
    *ok = spl_eval_arg(e->args[i], row, &c);
    if (!*ok)
        return false;
    bool t = c.t == V_BOOL && c.b;
    spl_vfree(&c);
    return t;
}

static bool fn_if(const enode *e, const eval_row *row, val *out) {
    bool ok;
    bool t = holds(e, 0, row, &ok);
    if (!ok)
        return false;
    return spl_eval_arg(e->args[t ? 1 : 2], row, out);
}

static bool fn_case(const enode *e, const eval_row *row, val *out) {
    for (size_t i = 0; i + 1 < e->nargs; i += 2) {
        bool ok;
        bool t = holds(e, i, row, &ok);
        if (!ok)
            return false;
        if (t)
            return spl_eval_arg(e->args[i + 1], row, out);
    }
    return true;
}

static esc_status check_case(enode *e, esc_error *err) {
    if (e->nargs % 2)
        return esc_error_at(err, ESC_ECONTENT, NULL, e->start,
                            "case() takes condition/value pairs");
    return ESC_OK;
}

static bool fn_coalesce(const enode *e, const eval_row *row, val *out) {
    for (size_t i = 0; i < e->nargs; i++) {
        if (!spl_eval_arg(e->args[i], row, out))
            return false;
        if (out->t != V_NULL)
            return true;
    }
    return true;
}

static bool fn_isnull(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    spl_vbool(out, a[0].t == V_NULL);
    return true;
}

static bool fn_isnotnull(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    spl_vbool(out, a[0].t != V_NULL);
    return true;
}

static bool fn_null(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)a, (void)na, (void)out;
    return true;
}

static bool fn_true(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)a, (void)na;
    spl_vbool(out, true);
    return true;
}

static bool fn_false(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)a, (void)na;
    spl_vbool(out, false);
    return true;
}

static bool fn_isnum(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    double x;
    spl_vbool(out, spl_as_num(&a[0], &x));
    return true;
}

static bool fn_isstr(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    double x;
    spl_vbool(out, a[0].t == V_STR && !spl_as_num(&a[0], &x));
    return true;
}

/* nullif(a, b): null when a and b have the same text, else a. A multivalue a is an error (the
 * search's eval fails), as it always was. */
static bool fn_nullif(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    char b0[64], b1[64];
    const char *s = NULL, *s1 = NULL;
    size_t n = 0, n1 = 0;
    bool t0 = spl_as_text(&a[0], b0, sizeof b0, &s, &n);
    bool t1 = spl_as_text(&a[1], b1, sizeof b1, &s1, &n1);
    if (t0 && t1 && n == n1 && memcmp(s, s1, n) == 0)
        return true;
    if (a[0].t == V_NUM) {
        spl_vnum(out, a[0].num);
        return true;
    }
    return a[0].t == V_NULL || (a[0].t == V_MV ? false : spl_vstr(out, s ? s : "", n));
}

/* validate(cond, msg, ...): the msg of the first condition that is not true, else null. */
static bool fn_validate(const enode *e, val *a, size_t na, val *out) {
    (void)e;
    for (size_t i = 0; i + 1 < na; i += 2) {
        if (!(a[i].t == V_BOOL && a[i].b)) {
            char bb[64];
            const char *r;
            size_t rl;
            if (spl_as_text(&a[i + 1], bb, sizeof bb, &r, &rl))
                return spl_vstr(out, r, rl);
            return true;
        }
    }
    return true;
}

const spl_eval_fn spl_eval_fns_cond[] = {
    {"if", 3, 3, NULL, fn_if, NULL},
    {"case", 2, ESC_SPL_MAX_ARGS, NULL, fn_case, check_case},
    {"coalesce", 1, ESC_SPL_MAX_ARGS, NULL, fn_coalesce, NULL},
    {"isnull", 1, 1, fn_isnull, NULL, NULL},
    {"isnotnull", 1, 1, fn_isnotnull, NULL, NULL},
    {"null", 0, 0, fn_null, NULL, NULL},
    {"true", 0, 0, fn_true, NULL, NULL},
    {"false", 0, 0, fn_false, NULL, NULL},
    {"isnum", 1, 1, fn_isnum, NULL, NULL},
    {"isstr", 1, 1, fn_isstr, NULL, NULL},
    {"nullif", 2, 2, fn_nullif, NULL, NULL},
    {"validate", 2, ESC_SPL_MAX_ARGS, fn_validate, NULL, NULL},
    {NULL, 0, 0, NULL, NULL, NULL},
};
