/* Eval functions for conditions, nulls and types: if, case, coalesce (lazy: they evaluate only
 * the arguments they need), isnull, isnotnull, null, true, false, isnum, isstr, nullif, validate,
 * cidrmatch, typeof (the table at the end; eval.h says how to add one).
 *
 * Invariants: a condition holds only when it is boolean true (null, numbers and strings do
 * not); case() with no true condition, and validate() with every condition true, give null.
 * Deliberately not done: searchmatch(), isbool(), isint(). */
#include <arpa/inet.h>
#include <stdlib.h>
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

/* An IPv4 or IPv6 address s[0..n) into 16 bytes (IPv4 in the first 4); its family, or 0. */
static int ip_parse(const char *s, size_t n, unsigned char *out) {
    char b[64];
    if (n == 0 || n >= sizeof b || memchr(s, 0, n))
        return 0;
    memcpy(b, s, n);
    b[n] = 0;
    if (inet_pton(AF_INET, b, out) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, b, out) == 1)
        return AF_INET6;
    return 0;
}

/* cidrmatch(cidr, ip): true when the address ip (any value of a multivalue) is in the subnet
 * cidr ("a.b.c.d/n", IPv6 "x::/n", or one address); false when either is not an address.
 * Splunk: Condition and comparison functions, cidrmatch(<cidr>,<ip>). */
static bool fn_cidrmatch(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    char b0[64];
    const char *c;
    size_t cn;
    spl_vbool(out, false);
    if (!spl_as_text(&a[0], b0, sizeof b0, &c, &cn))
        return true;
    const char *slash = memchr(c, '/', cn);
    size_t al = slash ? (size_t)(slash - c) : cn;
    unsigned char net[16] = {0}, ip[16];
    int fam = ip_parse(c, al, net);
    if (!fam)
        return true;
    long bits = fam == AF_INET ? 32 : 128;
    if (slash) {
        char *end;
        char tmp[8];
        size_t pl = cn - al - 1;
        if (pl == 0 || pl >= sizeof tmp)
            return true;
        memcpy(tmp, slash + 1, pl);
        tmp[pl] = 0;
        long p = strtol(tmp, &end, 10);
        if (*end || p < 0 || p > bits || tmp[0] < '0' || tmp[0] > '9')
            return true;
        bits = p;
    }
    vlist tl;
    const char *const *it;
    size_t cnt = spl_items(&a[1], &tl, &it);
    for (size_t i = 0; i < cnt; i++) {
        if (ip_parse(it[i], spl_item_len(&a[1], &tl, it[i]), ip) != fam)
            continue;
        bool in = true;
        for (long k = 0; k < bits && in; k++)
            in = ((net[k / 8] ^ ip[k / 8]) & (0x80 >> (k % 8))) == 0;
        if (in) {
            spl_vbool(out, true);
            return true;
        }
    }
    return true;
}

/* typeof(x): "Number", "String", "Boolean", "Invalid" (null), "Multivalue"; a field's value
 * that reads as a number is a Number, as Splunk types extracted values. */
static bool fn_typeof(const enode *e, const eval_row *row, val *out) {
    val v;
    if (!spl_eval_arg(e->args[0], row, &v))
        return false;
    double x;
    const char *t = "Invalid";
    if (v.t == V_NUM || (v.t == V_STR && e->args[0]->kind == EN_FIELD && spl_as_num(&v, &x)))
        t = "Number";
    else if (v.t == V_STR)
        t = "String";
    else if (v.t == V_BOOL)
        t = "Boolean";
    else if (v.t == V_MV)
        t = "Multivalue";
    spl_vfree(&v);
    return spl_vstr(out, t, strlen(t));
}

const spl_eval_fn spl_eval_fns_cond[] = {
    {"cidrmatch", 2, 2, fn_cidrmatch, NULL, NULL},
    {"typeof", 1, 1, NULL, fn_typeof, NULL},
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
