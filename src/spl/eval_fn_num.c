/* Eval functions on numbers: abs, round, floor, ceil/ceiling (the table at the end; eval.h says
 * how to add one).
 *
 * Invariants: an argument that is not a number (or number-like text) gives null, and so does a
 * result that is not finite. Deliberately not done: exp, ln, log, pow, sqrt, min, max, random,
 * pi. */
#include <math.h>

#include "spl/eval.h"

static bool fn_abs(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    double x;
    if (spl_as_num(&a[0], &x))
        spl_vnum(out, fabs(x));
    return true;
}

/* round(x[, digits]): half away from zero, at 10^-digits. */
static bool fn_round(const enode *e, val *a, size_t na, val *out) {
    (void)e;
    double x, d = 0;
    if (!spl_as_num(&a[0], &x))
        return true;
    if (na == 2 && !spl_as_num(&a[1], &d))
        return true;
    double m = pow(10, floor(d));
    spl_vnum(out, round(x * m) / m);
    return true;
}

static bool fn_floor(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    double x;
    if (spl_as_num(&a[0], &x))
        spl_vnum(out, floor(x));
    return true;
}

static bool fn_ceil(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    double x;
    if (spl_as_num(&a[0], &x))
        spl_vnum(out, ceil(x));
    return true;
}

const spl_eval_fn spl_eval_fns_num[] = {
    {"abs", 1, 1, fn_abs, NULL, NULL},      {"round", 1, 2, fn_round, NULL, NULL},
    {"floor", 1, 1, fn_floor, NULL, NULL},  {"ceil", 1, 1, fn_ceil, NULL, NULL},
    {"ceiling", 1, 1, fn_ceil, NULL, NULL}, {NULL, 0, 0, NULL, NULL, NULL},
};
