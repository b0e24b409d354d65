/* The eval expression language of `| where` and `| eval`: values, operators, functions.
 *
 * Values are null, boolean, number, string or multivalue. Invariants: logic is three-valued
 * (a comparison with null is null; NOT null is null; `where` keeps a row only for true); `=`,
 * `!=`, `<`, ... compare numerically when both sides are numbers (or number-like text), else by
 * bytes, case-sensitively; a multivalue side matches when any value does; match() and
 * replace() use PCRE2 and are case-sensitive unless the pattern says (?i); like() is SQL LIKE
 * (`%`, `_`), case-sensitive. Patterns given as literals are compiled once at plan time.
 * Deliberately not done: eval's typechecking errors (a type mismatch yields null instead) and
 * Unicode case mapping (lower/upper fold ASCII only). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#include "core/alloc.h"
#include "core/buf.h"
#include "spl/ast.h"

typedef enum vtype { V_NULL, V_BOOL, V_NUM, V_STR, V_MV } vtype;

typedef struct val {
    vtype t;
    bool b;
    double num;
    char *s; /* V_STR (owned) */
    size_t len;
    char **mv; /* V_MV (owned) */
    size_t n;
} val;

typedef enum fnid {
    F_LOWER, F_UPPER, F_LEN, F_SUBSTR, F_REPLACE, F_ISNULL, F_ISNOTNULL, F_IF, F_CASE,
    F_COALESCE, F_MVCOUNT, F_MVINDEX, F_SPLIT, F_LIKE, F_MATCH, F_TOSTRING, F_TONUMBER,
    F_TRIM, F_LTRIM, F_RTRIM, F_MVJOIN, F_MVAPPEND, F_NULL, F_TRUE, F_FALSE, F_ABS, F_ROUND,
    F_FLOOR, F_CEIL, F_ISNUM, F_ISSTR, F_MVDEDUP, F_NULLIF, F_VALIDATE,
} fnid;

static const struct {
    const char *name;
    fnid id;
    size_t min, max;
} fns[] = {
    {"lower", F_LOWER, 1, 1},       {"upper", F_UPPER, 1, 1},
    {"len", F_LEN, 1, 1},           {"substr", F_SUBSTR, 2, 3},
    {"replace", F_REPLACE, 3, 3},   {"isnull", F_ISNULL, 1, 1},
    {"isnotnull", F_ISNOTNULL, 1, 1}, {"if", F_IF, 3, 3},
    {"case", F_CASE, 2, 64},        {"coalesce", F_COALESCE, 1, 64},
    {"mvcount", F_MVCOUNT, 1, 1},   {"mvindex", F_MVINDEX, 2, 3},
    {"split", F_SPLIT, 2, 2},       {"like", F_LIKE, 2, 2},
    {"match", F_MATCH, 2, 2},       {"tostring", F_TOSTRING, 1, 2},
    {"tonumber", F_TONUMBER, 1, 2}, {"trim", F_TRIM, 1, 2},
    {"ltrim", F_LTRIM, 1, 2},       {"rtrim", F_RTRIM, 1, 2},
    {"mvjoin", F_MVJOIN, 2, 2},     {"mvappend", F_MVAPPEND, 1, 64},
    {"null", F_NULL, 0, 0},         {"true", F_TRUE, 0, 0},
    {"false", F_FALSE, 0, 0},       {"abs", F_ABS, 1, 1},
    {"round", F_ROUND, 1, 2},       {"floor", F_FLOOR, 1, 1},
    {"ceil", F_CEIL, 1, 1},         {"ceiling", F_CEIL, 1, 1},
    {"isnum", F_ISNUM, 1, 1},       {"isstr", F_ISSTR, 1, 1},
    {"mvdedup", F_MVDEDUP, 1, 1},   {"nullif", F_NULLIF, 2, 2},
    {"validate", F_VALIDATE, 2, 64},
};

#define NFNS (sizeof fns / sizeof fns[0])

/* ---- compile ---- */

static pcre2_code *compile_re(const char *pat, size_t len, bool like, char *msg, size_t cap) {
    esc_buf b;
    const char *src = pat;
    size_t slen = len;
    esc_buf_init(&b, 0);
    if (like) {
        /* SQL LIKE -> anchored regex */
        esc_buf_append_c(&b, "^");
        for (size_t i = 0; i < len; i++) {
            char c = pat[i];
            if (c == '%')
                esc_buf_append_c(&b, ".*");
            else if (c == '_')
                esc_buf_putc(&b, '.');
            else if (strchr("\\^$.|?*+()[]{}", c)) {
                esc_buf_putc(&b, '\\');
                esc_buf_putc(&b, c);
            } else
                esc_buf_putc(&b, c);
        }
        esc_buf_append_c(&b, "$");
        src = b.ptr;
        slen = b.len;
    }
    int code;
    size_t off;
    pcre2_code *re = spl_re_compile(src, slen,
                                    PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (like ? PCRE2_DOTALL : 0),
                                    &code, &off);
    if (!re && msg)
        pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, cap);
    esc_buf_fini(&b);
    return re;
}

esc_status spl_eval_compile(esc_plan *p, enode *e, const schema *sc, esc_error *err) {
    (void)p;
    esc_status rc;
    for (size_t i = 0; i < e->nargs; i++)
        if ((rc = spl_eval_compile(p, e->args[i], sc, err)) != ESC_OK)
            return rc;
    if (e->kind == EN_FIELD) {
        e->col = -1;
        for (size_t i = 0; i < sc->n; i++)
            if (strcmp(sc->name[i], e->str) == 0)
                e->col = (int)i;
        return ESC_OK;
    }
    if (e->kind == EN_BIN && e->op == EOP_LIKE && e->args[1]->kind == EN_STR) {
        char msg[160] = "";
        e->re = compile_re(e->args[1]->str, e->args[1]->str_len, true, msg, sizeof msg);
        if (!e->re)
            return esc_error_at(err, ESC_ECONTENT, NULL, e->args[1]->start, "bad pattern: %s",
                                msg);
    }
    if (e->kind != EN_CALL)
        return ESC_OK;
    size_t k;
    for (k = 0; k < NFNS; k++)
        if (strcasecmp(fns[k].name, e->str) == 0)
            break;
    if (k == NFNS)
        return esc_error_at(err, ESC_ECONTENT, NULL, e->start, "unsupported function '%s'",
                            e->str);
    if (e->nargs < fns[k].min || e->nargs > fns[k].max)
        return esc_error_at(err, ESC_ECONTENT, NULL, e->start,
                            "%s() takes %zu to %zu arguments, given %zu", e->str, fns[k].min,
                            fns[k].max, e->nargs);
    e->fn = (int)fns[k].id;
    if (e->fn == F_CASE && e->nargs % 2)
        return esc_error_at(err, ESC_ECONTENT, NULL, e->start,
                            "case() takes condition/value pairs");
    if ((e->fn == F_MATCH || e->fn == F_REPLACE || e->fn == F_LIKE) &&
        e->args[1]->kind == EN_STR) {
        char msg[160] = "";
        e->re = compile_re(e->args[1]->str, e->args[1]->str_len, e->fn == F_LIKE, msg,
                           sizeof msg);
        if (!e->re)
            return esc_error_at(err, ESC_ECONTENT, NULL, e->args[1]->start,
                                "bad regular expression: %s", msg);
    }
    return ESC_OK;
}

void spl_eval_free(enode *e) {
    if (!e)
        return;
    for (size_t i = 0; i < e->nargs; i++)
        spl_eval_free(e->args[i]);
    if (e->re)
        pcre2_code_free(e->re);
    e->re = NULL;
}

/* ---- values ---- */

static void vfree(val *v) {
    esc_free(v->s);
    for (size_t i = 0; i < v->n; i++)
        esc_free(v->mv[i]);
    esc_free(v->mv);
    memset(v, 0, sizeof *v);
}

static bool vstr(val *v, const char *s, size_t n) {
    memset(v, 0, sizeof *v);
    v->s = esc_strndup(s, n);
    if (!v->s)
        return false;
    v->t = V_STR;
    v->len = n;
    return true;
}

static void vnum(val *v, double x) {
    memset(v, 0, sizeof *v);
    if (!isfinite(x))
        return;
    v->t = V_NUM;
    v->num = x;
}

static void vbool(val *v, bool b) {
    memset(v, 0, sizeof *v);
    v->t = V_BOOL;
    v->b = b;
}

/* Text of a scalar (number formatted); false for null/multivalue. */
static bool as_text(const val *v, char *buf, size_t cap, const char **s, size_t *n) {
    switch (v->t) {
    case V_STR: *s = v->s; *n = v->len; return true;
    case V_NUM: *n = spl_num_text(v->num, buf, cap); *s = buf; return true;
    case V_BOOL: *s = v->b ? "true" : "false"; *n = strlen(*s); return true;
    default: return false;
    }
}

static bool as_num(const val *v, double *out) {
    if (v->t == V_NUM) {
        *out = v->num;
        return true;
    }
    if (v->t == V_STR) {
        esc_str t = esc_str_trim(esc_str_make(v->s, v->len));
        return spl_parse_num(t.ptr, t.len, out);
    }
    return false;
}

/* Values of v as a list of strings (scalar: one), for multivalue-aware operators. */
typedef struct vlist {
    const char *s[1];
    size_t l[1];
    char buf[64];
} vlist;

static size_t items(const val *v, vlist *tmp, const char *const **s) {
    if (v->t == V_MV) {
        *s = (const char *const *)v->mv;
        return v->n;
    }
    size_t n;
    if (!as_text(v, tmp->buf, sizeof tmp->buf, &tmp->s[0], &n))
        return 0;
    tmp->l[0] = n;
    *s = tmp->s;
    return 1;
}

static bool eval(const enode *e, const esc_cell *row, size_t ncols, val *out);

static bool cmp_scalar(eop op, const char *a, size_t al, const char *b, size_t bl) {
    double x, y;
    int c;
    if (spl_parse_num(a, al, &x) && spl_parse_num(b, bl, &y))
        c = x < y ? -1 : x > y;
    else
        c = esc_str_cmp(esc_str_make(a, al), esc_str_make(b, bl));
    switch (op) {
    case EOP_EQ: return c == 0;
    case EOP_NE: return c != 0;
    case EOP_LT: return c < 0;
    case EOP_LE: return c <= 0;
    case EOP_GT: return c > 0;
    case EOP_GE: return c >= 0;
    default: return false;
    }
}

/* A position or count from a number: truncated toward zero, NaN as 0, and kept within 2^53 so
 * that the conversion is defined and sums of two stay in range. */
static long to_long(double v) {
    const double lim = 9007199254740992.0; /* 2^53 */
    if (v != v)
        return 0;
    return (long)(v > lim ? lim : v < -lim ? -lim : v);
}

static bool re_match(const pcre2_code *re, const char *s, size_t n, bool *ok) {
    pcre2_match_data *md = spl_re_data(re);
    if (!md) {
        *ok = false;
        return false;
    }
    int rc = spl_re_match(re, s, n, md);
    pcre2_match_data_free(md);
    *ok = rc != PCRE2_ERROR_NOMEMORY;
    return rc >= 0;
}

/* Regex for argument i of a call: the precompiled one or compiled from the value. */
static pcre2_code *call_re(const enode *e, const val *pat, bool like, bool *owned) {
    *owned = false;
    if (e->re)
        return e->re;
    char buf[64];
    const char *s;
    size_t n;
    if (!as_text(pat, buf, sizeof buf, &s, &n))
        return NULL;
    pcre2_code *re = compile_re(s, n, like, NULL, 0);
    *owned = re != NULL;
    return re;
}

static bool eval_bin(const enode *e, const esc_cell *row, size_t ncols, val *out) {
    val a = {0}, b = {0};
    bool ok = true;
    if (!eval(e->args[0], row, ncols, &a))
        return false;
    /* short circuit for AND / OR with three-valued logic */
    if (e->op == EOP_AND && a.t == V_BOOL && !a.b) {
        vbool(out, false);
        vfree(&a);
        return true;
    }
    if (e->op == EOP_OR && a.t == V_BOOL && a.b) {
        vbool(out, true);
        vfree(&a);
        return true;
    }
    if (!eval(e->args[1], row, ncols, &b)) {
        vfree(&a);
        return false;
    }
    memset(out, 0, sizeof *out);
    switch (e->op) {
    case EOP_AND:
        if (b.t == V_BOOL && !b.b)
            vbool(out, false);
        else if (a.t == V_BOOL && b.t == V_BOOL)
            vbool(out, true);
        break;
    case EOP_OR:
        if (b.t == V_BOOL && b.b)
            vbool(out, true);
        else if (a.t == V_BOOL && b.t == V_BOOL)
            vbool(out, false);
        break;
    case EOP_XOR:
        if (a.t == V_BOOL && b.t == V_BOOL)
            vbool(out, a.b != b.b);
        break;
    case EOP_EQ:
    case EOP_NE:
    case EOP_LT:
    case EOP_LE:
    case EOP_GT:
    case EOP_GE: {
        if (a.t == V_NULL || b.t == V_NULL)
            break;
        vlist ta, tb;
        const char *const *sa, *const *sb;
        size_t na = items(&a, &ta, &sa), nb = items(&b, &tb, &sb);
        bool r = false;
        for (size_t i = 0; i < na && !r; i++)
            for (size_t j = 0; j < nb && !r; j++)
                r = cmp_scalar(e->op, sa[i], a.t == V_MV ? strlen(sa[i]) : ta.l[0], sb[j],
                               b.t == V_MV ? strlen(sb[j]) : tb.l[0]);
        vbool(out, r);
        break;
    }
    case EOP_LIKE: {
        if (a.t == V_NULL || b.t == V_NULL)
            break;
        bool owned;
        pcre2_code *re = call_re(e, &b, true, &owned);
        if (!re)
            break;
        vlist ta;
        const char *const *sa;
        size_t na = items(&a, &ta, &sa);
        bool r = false;
        for (size_t i = 0; i < na && !r && ok; i++)
            r = re_match(re, sa[i], a.t == V_MV ? strlen(sa[i]) : ta.l[0], &ok);
        if (owned)
            pcre2_code_free(re);
        vbool(out, r);
        break;
    }
    case EOP_CONCAT: {
        char b1[64], b2[64];
        const char *s1, *s2;
        size_t n1, n2;
        if (!as_text(&a, b1, sizeof b1, &s1, &n1) || !as_text(&b, b2, sizeof b2, &s2, &n2))
            break;
        char *s = esc_malloc(n1 + n2 + 1);
        if (!s) {
            ok = false;
            break;
        }
        memcpy(s, s1, n1);
        memcpy(s + n1, s2, n2);
        s[n1 + n2] = 0;
        out->t = V_STR;
        out->s = s;
        out->len = n1 + n2;
        break;
    }
    default: {
        double x, y;
        if (!as_num(&a, &x) || !as_num(&b, &y)) {
            /* + on two strings concatenates, as in Splunk */
            if (e->op == EOP_ADD && a.t == V_STR && b.t == V_STR) {
                char *s = esc_malloc(a.len + b.len + 1);
                if (!s) {
                    ok = false;
                    break;
                }
                memcpy(s, a.s, a.len);
                memcpy(s + a.len, b.s, b.len);
                s[a.len + b.len] = 0;
                out->t = V_STR;
                out->s = s;
                out->len = a.len + b.len;
            }
            break;
        }
        switch (e->op) {
        case EOP_ADD: vnum(out, x + y); break;
        case EOP_SUB: vnum(out, x - y); break;
        case EOP_MUL: vnum(out, x * y); break;
        case EOP_DIV:
            if (y != 0)
                vnum(out, x / y);
            break;
        case EOP_MOD:
            if (y != 0)
                vnum(out, fmod(x, y));
            break;
        default: break;
        }
    }
    }
    vfree(&a);
    vfree(&b);
    return ok;
}

/* Number of UTF-8 code points. */
static size_t utf8_len(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* Byte offset of code point index cp (clamped to n). */
static size_t utf8_off(const char *s, size_t n, size_t cp) {
    size_t i = 0, k = 0;
    while (i < n) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (k == cp)
                return i;
            k++;
        }
        i++;
    }
    return n;
}

static bool set_mv(val *out, char **v, size_t n) {
    memset(out, 0, sizeof *out);
    if (n == 0) {
        esc_free(v);
        return true;
    }
    if (n == 1) {
        out->t = V_STR;
        out->s = v[0];
        out->len = strlen(v[0]);
        esc_free(v);
        return true;
    }
    out->t = V_MV;
    out->mv = v;
    out->n = n;
    return true;
}

static bool eval_call(const enode *e, const esc_cell *row, size_t ncols, val *out) {
    val a[64] = {0}; /* zeroed: arity is checked at plan time, which the compiler cannot see */
    size_t na = 0;
    bool ok = true;
    memset(out, 0, sizeof *out);
    /* lazily evaluated functions */
    if (e->fn == F_IF || e->fn == F_CASE || e->fn == F_COALESCE) {
        if (e->fn == F_IF) {
            val c;
            if (!eval(e->args[0], row, ncols, &c))
                return false;
            bool t = c.t == V_BOOL && c.b;
            vfree(&c);
            return eval(e->args[t ? 1 : 2], row, ncols, out);
        }
        if (e->fn == F_CASE) {
            for (size_t i = 0; i + 1 < e->nargs; i += 2) {
                val c;
                if (!eval(e->args[i], row, ncols, &c))
                    return false;
                bool t = c.t == V_BOOL && c.b;
                vfree(&c);
                if (t)
                    return eval(e->args[i + 1], row, ncols, out);
            }
            return true;
        }
        for (size_t i = 0; i < e->nargs; i++) {
            if (!eval(e->args[i], row, ncols, out))
                return false;
            if (out->t != V_NULL)
                return true;
        }
        return true;
    }
    for (na = 0; na < e->nargs; na++)
        if (!eval(e->args[na], row, ncols, &a[na])) {
            ok = false;
            goto done;
        }
    char b0[64], b1[64];
    const char *s = NULL, *s1 = NULL;
    size_t n = 0, n1 = 0;
    bool t0 = na > 0 && as_text(&a[0], b0, sizeof b0, &s, &n);
    bool t1 = na > 1 && as_text(&a[1], b1, sizeof b1, &s1, &n1);
    double x, y;
    switch ((fnid)e->fn) {
    case F_LOWER:
    case F_UPPER:
        if (t0 && (ok = vstr(out, s, n)))
            for (size_t i = 0; i < n; i++) {
                char c = out->s[i];
                if (e->fn == F_LOWER && c >= 'A' && c <= 'Z')
                    out->s[i] = (char)(c + 32);
                if (e->fn == F_UPPER && c >= 'a' && c <= 'z')
                    out->s[i] = (char)(c - 32);
            }
        break;
    case F_LEN:
        if (t0)
            vnum(out, (double)utf8_len(s, n));
        break;
    case F_SUBSTR: {
        if (!t0 || !as_num(&a[1], &x))
            break;
        double cnt = -1;
        if (na == 3 && !as_num(&a[2], &cnt))
            break;
        long L = (long)utf8_len(s, n), st = to_long(x);
        if (st < 0)
            st = L + st + 1;
        if (st < 1)
            st = 1;
        long len = na == 3 ? to_long(cnt) : L;
        if (len < 0)
            len = 0;
        size_t from = utf8_off(s, n, (size_t)(st - 1));
        size_t to = (st - 1 + len) >= L ? n : utf8_off(s, n, (size_t)(st - 1 + len));
        ok = vstr(out, s + from, to > from ? to - from : 0);
        break;
    }
    case F_REPLACE: {
        char b2[64];
        const char *rep;
        size_t rl;
        if (!t0 || !as_text(&a[2], b2, sizeof b2, &rep, &rl))
            break;
        bool owned;
        pcre2_code *re = call_re(e, &a[1], false, &owned);
        if (!re)
            break;
        /* Splunk writes backreferences as \1; PCRE2 wants $1 */
        esc_buf rb;
        esc_buf_init(&rb, 0);
        for (size_t i = 0; i < rl; i++) {
            if (rep[i] == '\\' && i + 1 < rl && rep[i + 1] >= '0' && rep[i + 1] <= '9') {
                esc_buf_putc(&rb, '$');
                continue;
            }
            if (rep[i] == '$')
                esc_buf_putc(&rb, '$');
            esc_buf_putc(&rb, rep[i]);
        }
        PCRE2_SIZE olen = n * 2 + rb.len + 64;
        for (int tries = 0; tries < 8; tries++) {
            char *o = esc_malloc(olen + 1);
            if (!o) {
                ok = false;
                break;
            }
            size_t got = olen + 1;
            int rc = spl_re_substitute(re, s, n,
                                       PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
                                       rb.ptr ? rb.ptr : "", rb.len, o, &got);
            if (rc >= 0) {
                out->t = V_STR;
                out->s = o;
                out->len = got;
                break;
            }
            esc_free(o);
            if (rc != PCRE2_ERROR_NOMEMORY || got > ((size_t)1 << 26))
                break;
            olen = got;
        }
        esc_buf_fini(&rb);
        if (owned)
            pcre2_code_free(re);
        break;
    }
    case F_ISNULL: vbool(out, a[0].t == V_NULL); break;
    case F_ISNOTNULL: vbool(out, a[0].t != V_NULL); break;
    case F_MVCOUNT:
        if (a[0].t == V_MV)
            vnum(out, (double)a[0].n);
        else if (a[0].t != V_NULL)
            vnum(out, 1);
        break;
    case F_MVINDEX: {
        vlist tl;
        const char *const *it;
        size_t cnt = items(&a[0], &tl, &it);
        if (!cnt || !as_num(&a[1], &x))
            break;
        long st = to_long(x), en = st;
        if (na == 3) {
            if (!as_num(&a[2], &y))
                break;
            en = to_long(y);
        }
        if (st < 0)
            st += (long)cnt;
        if (en < 0)
            en += (long)cnt;
        if (st < 0 || st >= (long)cnt || en < st)
            break;
        if (en >= (long)cnt)
            en = (long)cnt - 1;
        char **v = esc_calloc((size_t)(en - st + 1), sizeof *v);
        if (!v) {
            ok = false;
            break;
        }
        for (long i = st; i <= en; i++) {
            v[i - st] = esc_strdup(it[i]);
            if (!v[i - st]) {
                for (long j = st; j < i; j++)
                    esc_free(v[j - st]);
                esc_free(v);
                ok = false;
                break;
            }
        }
        if (ok)
            set_mv(out, v, (size_t)(en - st + 1));
        break;
    }
    case F_SPLIT: {
        if (!t0 || !t1)
            break;
        size_t cap = 8, k = 0;
        char **v = esc_calloc(cap, sizeof *v);
        if (!v) {
            ok = false;
            break;
        }
        size_t i = 0;
        for (;;) {
            long f = n1 ? esc_str_find(esc_str_make(s + i, n - i), esc_str_make(s1, n1)) : -1;
            size_t end = f < 0 ? n : i + (size_t)f;
            if (k == cap) {
                char **nv = esc_realloc(v, cap * 2 * sizeof *v);
                if (!nv) {
                    ok = false;
                    break;
                }
                v = nv;
                cap *= 2;
            }
            v[k] = esc_strndup(s + i, end - i);
            if (!v[k]) {
                ok = false;
                break;
            }
            k++;
            if (f < 0)
                break;
            i = end + n1;
        }
        if (!ok) {
            for (size_t j = 0; j < k; j++)
                esc_free(v[j]);
            esc_free(v);
            break;
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
        break;
    }
    case F_LIKE:
    case F_MATCH: {
        if (a[0].t == V_NULL)
            break;
        bool owned;
        pcre2_code *re = call_re(e, &a[1], e->fn == F_LIKE, &owned);
        if (!re)
            break;
        vlist tl;
        const char *const *it;
        size_t cnt = items(&a[0], &tl, &it);
        bool r = false;
        for (size_t i = 0; i < cnt && !r && ok; i++)
            r = re_match(re, it[i], a[0].t == V_MV ? strlen(it[i]) : tl.l[0], &ok);
        if (owned)
            pcre2_code_free(re);
        vbool(out, r);
        break;
    }
    case F_TOSTRING:
        if (t0)
            ok = vstr(out, s, n);
        break;
    case F_TONUMBER:
        if (na == 2 && t0 && as_num(&a[1], &y) && y >= 2 && y <= 36) {
            char tmp[80];
            if (n < sizeof tmp) {
                memcpy(tmp, s, n);
                tmp[n] = 0;
                char *endp;
                long long v = strtoll(tmp, &endp, (int)y);
                if (n && *endp == 0)
                    vnum(out, (double)v);
            }
        } else if (as_num(&a[0], &x))
            vnum(out, x);
        break;
    case F_TRIM:
    case F_LTRIM:
    case F_RTRIM: {
        if (!t0)
            break;
        const char *set = na == 2 && t1 ? s1 : " \t";
        size_t setn = na == 2 && t1 ? n1 : 2;
        size_t i = 0, j = n;
        if (e->fn != F_RTRIM)
            while (i < j && memchr(set, s[i], setn))
                i++;
        if (e->fn != F_LTRIM)
            while (j > i && memchr(set, s[j - 1], setn))
                j--;
        ok = vstr(out, s + i, j - i);
        break;
    }
    case F_MVJOIN: {
        vlist tl;
        const char *const *it;
        size_t cnt = items(&a[0], &tl, &it);
        if (!cnt || !t1)
            break;
        esc_buf b;
        esc_buf_init(&b, 0);
        for (size_t i = 0; i < cnt; i++) {
            if (i)
                esc_buf_append(&b, s1, n1);
            if (a[0].t == V_MV)
                esc_buf_append_c(&b, it[i]);
            else
                esc_buf_append(&b, it[i], tl.l[0]);
        }
        ok = vstr(out, b.ptr ? b.ptr : "", b.len);
        esc_buf_fini(&b);
        break;
    }
    case F_MVAPPEND:
    case F_MVDEDUP: {
        size_t total = 0;
        for (size_t i = 0; i < na; i++)
            total += a[i].t == V_MV ? a[i].n : a[i].t != V_NULL;
        char **v = esc_calloc(total ? total : 1, sizeof *v);
        if (!v) {
            ok = false;
            break;
        }
        size_t k = 0;
        for (size_t i = 0; i < na && ok; i++) {
            vlist tl;
            const char *const *it;
            size_t cnt = items(&a[i], &tl, &it);
            for (size_t j = 0; j < cnt && ok; j++) {
                const char *str = it[j];
                size_t sl = a[i].t == V_MV ? strlen(str) : tl.l[0];
                bool dup = false;
                if (e->fn == F_MVDEDUP)
                    for (size_t q = 0; q < k && !dup; q++)
                        dup = strlen(v[q]) == sl && memcmp(v[q], str, sl) == 0;
                if (dup)
                    continue;
                v[k] = esc_strndup(str, sl);
                if (!v[k])
                    ok = false;
                else
                    k++;
            }
        }
        if (!ok) {
            for (size_t j = 0; j < k; j++)
                esc_free(v[j]);
            esc_free(v);
            break;
        }
        set_mv(out, v, k);
        break;
    }
    case F_NULL: break;
    case F_TRUE: vbool(out, true); break;
    case F_FALSE: vbool(out, false); break;
    case F_ABS:
        if (as_num(&a[0], &x))
            vnum(out, fabs(x));
        break;
    case F_ROUND:
        if (as_num(&a[0], &x)) {
            double d = 0;
            if (na == 2 && !as_num(&a[1], &d))
                break;
            double m = pow(10, floor(d));
            vnum(out, round(x * m) / m);
        }
        break;
    case F_FLOOR:
        if (as_num(&a[0], &x))
            vnum(out, floor(x));
        break;
    case F_CEIL:
        if (as_num(&a[0], &x))
            vnum(out, ceil(x));
        break;
    case F_ISNUM: vbool(out, as_num(&a[0], &x)); break;
    case F_ISSTR: vbool(out, a[0].t == V_STR && !as_num(&a[0], &x)); break;
    case F_NULLIF:
        if (t0 && t1 && n == n1 && memcmp(s, s1, n) == 0)
            break;
        ok = a[0].t == V_NULL || (a[0].t == V_MV ? false : vstr(out, s ? s : "", n));
        if (a[0].t == V_NUM)
            vnum(out, a[0].num);
        break;
    case F_VALIDATE:
        for (size_t i = 0; i + 1 < na; i += 2) {
            if (!(a[i].t == V_BOOL && a[i].b)) {
                char bb[64];
                const char *r;
                size_t rl;
                if (as_text(&a[i + 1], bb, sizeof bb, &r, &rl))
                    ok = vstr(out, r, rl);
                break;
            }
        }
        break;
    case F_IF:
    case F_CASE:
    case F_COALESCE: break;
    }
done:
    for (size_t i = 0; i < na; i++)
        vfree(&a[i]);
    return ok;
}

/* false only on allocation failure */
static bool eval(const enode *e, const esc_cell *row, size_t ncols, val *out) {
    memset(out, 0, sizeof *out);
    switch (e->kind) {
    case EN_NULL: return true;
    case EN_BOOL: vbool(out, e->num != 0); return true;
    case EN_NUM: vnum(out, e->num); return true;
    case EN_STR: return vstr(out, e->str, e->str_len);
    case EN_FIELD: {
        if (e->col < 0 || (size_t)e->col >= ncols)
            return true;
        const esc_cell *c = &row[e->col];
        if (c->n == 0)
            return true;
        if (c->n == 1) {
            if (c->is_num) {
                vnum(out, c->num);
                return true;
            }
            return vstr(out, c->v[0], strlen(c->v[0]));
        }
        char **v = esc_calloc(c->n, sizeof *v);
        if (!v)
            return false;
        for (size_t i = 0; i < c->n; i++) {
            v[i] = esc_strdup(c->v[i]);
            if (!v[i]) {
                for (size_t j = 0; j < i; j++)
                    esc_free(v[j]);
                esc_free(v);
                return false;
            }
        }
        out->t = V_MV;
        out->mv = v;
        out->n = c->n;
        return true;
    }
    case EN_CALL: return eval_call(e, row, ncols, out);
    case EN_BIN: return eval_bin(e, row, ncols, out);
    case EN_UN: {
        val a;
        if (!eval(e->args[0], row, ncols, &a))
            return false;
        double x;
        if (e->op == EOP_NOT) {
            if (a.t == V_BOOL)
                vbool(out, !a.b);
        } else if (as_num(&a, &x)) {
            vnum(out, -x);
        }
        vfree(&a);
        return true;
    }
    }
    return true;
}

esc_status spl_cond_true(const enode *e, const esc_cell *row, size_t ncols, bool *out) {
    val v;
    *out = false;
    if (!eval(e, row, ncols, &v))
        return ESC_ENOMEM;
    *out = (v.t == V_BOOL && v.b) || (v.t == V_NUM && v.num != 0);
    vfree(&v);
    return ESC_OK;
}

esc_status spl_eval_cell(const enode *e, const esc_cell *row, size_t ncols, esc_cell *out) {
    val v;
    memset(out, 0, sizeof *out);
    if (!eval(e, row, ncols, &v))
        return ESC_ENOMEM;
    esc_status rc = ESC_OK;
    char buf[64];
    const char *s;
    size_t n;
    switch (v.t) {
    case V_NULL: break;
    case V_MV:
        out->v = v.mv;
        out->n = v.n;
        v.mv = NULL;
        v.n = 0;
        break;
    default:
        as_text(&v, buf, sizeof buf, &s, &n);
        out->v = esc_calloc(1, sizeof *out->v);
        if (!out->v || !(out->v[0] = esc_strndup(s, n))) {
            esc_free(out->v);
            out->v = NULL;
            rc = ESC_ENOMEM;
            break;
        }
        out->n = 1;
        if (v.t == V_NUM) {
            out->is_num = true;
            out->num = v.num;
        }
    }
    vfree(&v);
    return rc;
}
