/* The eval expression language of `| where` and `| eval`: values, operators, and calls into the
 * table of eval functions (eval.h; the functions themselves are in eval_fn_*.c).
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
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "spl/eval.h"

/* The families of eval functions, searched in this order. */
static const spl_eval_fn *const families[] = {
    spl_eval_fns_text, spl_eval_fns_mv, spl_eval_fns_cond, spl_eval_fns_num, spl_eval_fns_time,
};

static _Thread_local int64_t now_sec; /* the search's now(), per thread */

int64_t spl_eval_now(void) {
    return now_sec;
}

void spl_eval_set_now(int64_t sec) {
    now_sec = sec;
}

static const spl_eval_fn *find_fn(const char *name) {
    for (size_t k = 0; k < sizeof families / sizeof families[0]; k++)
        for (const spl_eval_fn *f = families[k]; f->name; f++)
            if (strcasecmp(f->name, name) == 0)
                return f;
    return NULL;
}

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
    pcre2_code *re = spl_re_compile(
        src, slen, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (like ? PCRE2_DOTALL : 0), &code, &off);
    if (!re && msg)
        pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, cap);
    esc_buf_fini(&b);
    return re;
}

static esc_status check_re(enode *e, bool like, esc_error *err) {
    if (e->args[1]->kind != EN_STR)
        return ESC_OK;
    char msg[160] = "";
    e->re = compile_re(e->args[1]->str, e->args[1]->str_len, like, msg, sizeof msg);
    if (!e->re)
        return esc_error_at(err, ESC_ECONTENT, NULL, e->args[1]->start,
                            "bad regular expression: %s", msg);
    e->plain_re = !like && spl_re_plain(e->args[1]->str, e->args[1]->str_len);
    return ESC_OK;
}

esc_status spl_check_regex(enode *e, esc_error *err) {
    return check_re(e, false, err);
}

esc_status spl_check_like(enode *e, esc_error *err) {
    return check_re(e, true, err);
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
            return esc_error_at(err, ESC_ECONTENT, NULL, e->args[1]->start, "bad pattern: %s", msg);
    }
    if (e->kind != EN_CALL)
        return ESC_OK;
    const spl_eval_fn *f = find_fn(e->str);
    if (!f)
        return esc_error_at(err, ESC_ECONTENT, NULL, e->start, "unsupported function '%s'", e->str);
    if (e->nargs < f->min || e->nargs > f->max)
        return esc_error_at(err, ESC_ECONTENT, NULL, e->start,
                            "%s() takes %zu to %zu arguments, given %zu", e->str, f->min, f->max,
                            e->nargs);
    e->fn = f;
    return f->check ? f->check(e, err) : ESC_OK;
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

/* ---- values ---- */

void spl_vfree(val *v) {
    if (!v->borrowed)
        esc_free(v->s);
    for (size_t i = 0; i < v->n; i++)
        esc_free(v->mv[i]);
    esc_free(v->mv);
    memset(v, 0, sizeof *v);
}

bool spl_vstr(val *v, const char *s, size_t n) {
    memset(v, 0, sizeof *v);
    v->s = esc_strndup(s, n);
    if (!v->s)
        return false;
    v->t = V_STR;
    v->len = n;
    return true;
}

/* A string value that is s itself (NUL-terminated, alive while v is): the text of the row's
 * cell or of the expression, read without a copy (an eval reads a field's value, compares
 * it, and is done with it). */
static void vborrow(val *v, const char *s, size_t n) {
    memset(v, 0, sizeof *v);
    v->t = V_STR;
    v->borrowed = true;
    v->s = (char *)s;
    v->len = n;
}

void spl_vnum(val *v, double x) {
    memset(v, 0, sizeof *v);
    if (!isfinite(x))
        return;
    v->t = V_NUM;
    v->num = x;
}

void spl_vbool(val *v, bool b) {
    memset(v, 0, sizeof *v);
    v->t = V_BOOL;
    v->b = b;
}

/* Text of a scalar (number formatted); false for null/multivalue. */
bool spl_as_text(const val *v, char *buf, size_t cap, const char **s, size_t *n) {
    switch (v->t) {
    case V_STR:
        *s = v->s;
        *n = v->len;
        return true;
    case V_NUM:
        *n = spl_num_text(v->num, buf, cap);
        *s = buf;
        return true;
    case V_BOOL:
        *s = v->b ? "true" : "false";
        *n = strlen(*s);
        return true;
    default:
        return false;
    }
}

bool spl_as_num(const val *v, double *out) {
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

size_t spl_items(const val *v, vlist *tmp, const char *const **s) {
    if (v->t == V_MV) {
        *s = (const char *const *)v->mv;
        return v->n;
    }
    size_t n;
    if (!spl_as_text(v, tmp->buf, sizeof tmp->buf, &tmp->s[0], &n))
        return 0;
    tmp->l[0] = n;
    *s = tmp->s;
    return 1;
}

static bool eval(const enode *e, const eval_row *row, val *out);

static bool cmp_scalar(eop op, const char *a, size_t al, const char *b, size_t bl) {
    double x, y;
    int c;
    if (spl_parse_num(a, al, &x) && spl_parse_num(b, bl, &y))
        c = x < y ? -1 : x > y;
    else
        c = esc_str_cmp(esc_str_make(a, al), esc_str_make(b, bl));
    switch (op) {
    case EOP_EQ:
        return c == 0;
    case EOP_NE:
        return c != 0;
    case EOP_LT:
        return c < 0;
    case EOP_LE:
        return c <= 0;
    case EOP_GT:
        return c > 0;
    case EOP_GE:
        return c >= 0;
    default:
        return false;
    }
}

/* Kept within 2^53 so that the conversion is defined and sums of two stay in range. */
long spl_to_long(double v) {
    const double lim = 9007199254740992.0; /* 2^53 */
    if (v != v)
        return 0;
    return (long)(v > lim ? lim : v < -lim ? -lim : v);
}

bool spl_re_matches(const pcre2_code *re, const char *s, size_t n, bool *ok) {
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
pcre2_code *spl_call_re(const enode *e, const val *pat, bool like, bool *owned) {
    *owned = false;
    if (e->re)
        return e->re;
    char buf[64];
    const char *s;
    size_t n;
    if (!spl_as_text(pat, buf, sizeof buf, &s, &n))
        return NULL;
    pcre2_code *re = compile_re(s, n, like, NULL, 0);
    *owned = re != NULL;
    return re;
}

bool spl_set_mv(val *out, char **v, size_t n) {
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

/* ---- operators ---- */

/* AND, OR, XOR of three-valued logic (a is never the short-circuit case here). */
static void bin_logic(eop op, const val *a, const val *b, val *out) {
    switch (op) {
    case EOP_AND:
        if (b->t == V_BOOL && !b->b)
            spl_vbool(out, false);
        else if (a->t == V_BOOL && b->t == V_BOOL)
            spl_vbool(out, true);
        break;
    case EOP_OR:
        if (b->t == V_BOOL && b->b)
            spl_vbool(out, true);
        else if (a->t == V_BOOL && b->t == V_BOOL)
            spl_vbool(out, false);
        break;
    default:
        if (a->t == V_BOOL && b->t == V_BOOL)
            spl_vbool(out, a->b != b->b);
        break;
    }
}

/* = != < <= > >=: true when any pair of values compares so. */
static void bin_cmp(eop op, const val *a, const val *b, val *out) {
    if (a->t == V_NULL || b->t == V_NULL)
        return;
    vlist ta, tb;
    const char *const *sa, *const *sb;
    size_t na = spl_items(a, &ta, &sa), nb = spl_items(b, &tb, &sb);
    bool r = false;
    for (size_t i = 0; i < na && !r; i++)
        for (size_t j = 0; j < nb && !r; j++)
            r = cmp_scalar(op, sa[i], spl_item_len(a, &ta, sa[i]), sb[j],
                           spl_item_len(b, &tb, sb[j]));
    spl_vbool(out, r);
}

static bool bin_like(const enode *e, const val *a, const val *b, val *out) {
    bool ok = true;
    if (a->t == V_NULL || b->t == V_NULL)
        return true;
    bool owned;
    pcre2_code *re = spl_call_re(e, b, true, &owned);
    if (!re)
        return true;
    vlist ta;
    const char *const *sa;
    size_t na = spl_items(a, &ta, &sa);
    bool r = false;
    for (size_t i = 0; i < na && !r && ok; i++)
        r = spl_re_matches(re, sa[i], spl_item_len(a, &ta, sa[i]), &ok);
    if (owned)
        pcre2_code_free(re);
    spl_vbool(out, r);
    return ok;
}

/* out = s1 s2 (a string); false when out of memory. */
static bool concat(const char *s1, size_t n1, const char *s2, size_t n2, val *out) {
    char *s = esc_malloc(n1 + n2 + 1);
    if (!s)
        return false;
    memcpy(s, s1, n1);
    memcpy(s + n1, s2, n2);
    s[n1 + n2] = 0;
    out->t = V_STR;
    out->s = s;
    out->len = n1 + n2;
    return true;
}

static bool bin_concat(const val *a, const val *b, val *out) {
    char b1[64], b2[64];
    const char *s1, *s2;
    size_t n1, n2;
    if (!spl_as_text(a, b1, sizeof b1, &s1, &n1) || !spl_as_text(b, b2, sizeof b2, &s2, &n2))
        return true;
    return concat(s1, n1, s2, n2, out);
}

static bool bin_arith(eop op, const val *a, const val *b, val *out) {
    double x, y;
    if (!spl_as_num(a, &x) || !spl_as_num(b, &y)) {
        /* + on two strings concatenates, as in Splunk */
        if (op == EOP_ADD && a->t == V_STR && b->t == V_STR)
            return concat(a->s, a->len, b->s, b->len, out);
        return true;
    }
    switch (op) {
    case EOP_ADD:
        spl_vnum(out, x + y);
        break;
    case EOP_SUB:
        spl_vnum(out, x - y);
        break;
    case EOP_MUL:
        spl_vnum(out, x * y);
        break;
    case EOP_DIV:
        if (y != 0)
            spl_vnum(out, x / y);
        break;
    case EOP_MOD:
        if (y != 0)
            spl_vnum(out, fmod(x, y));
        break;
    default:
        break;
    }
    return true;
}

static bool eval_bin(const enode *e, const eval_row *row, val *out) {
    val a = {0}, b = {0};
    bool ok = true;
    if (!eval(e->args[0], row, &a))
        return false;
    /* short circuit for AND / OR with three-valued logic */
    if (e->op == EOP_AND && a.t == V_BOOL && !a.b) {
        spl_vbool(out, false);
        spl_vfree(&a);
        return true;
    }
    if (e->op == EOP_OR && a.t == V_BOOL && a.b) {
        spl_vbool(out, true);
        spl_vfree(&a);
        return true;
    }
    if (!eval(e->args[1], row, &b)) {
        spl_vfree(&a);
        return false;
    }
    memset(out, 0, sizeof *out);
    switch (e->op) {
    case EOP_AND:
    case EOP_OR:
    case EOP_XOR:
        bin_logic(e->op, &a, &b, out);
        break;
    case EOP_EQ:
    case EOP_NE:
    case EOP_LT:
    case EOP_LE:
    case EOP_GT:
    case EOP_GE:
        bin_cmp(e->op, &a, &b, out);
        break;
    case EOP_LIKE:
        ok = bin_like(e, &a, &b, out);
        break;
    case EOP_CONCAT:
        ok = bin_concat(&a, &b, out);
        break;
    default:
        ok = bin_arith(e->op, &a, &b, out);
        break;
    }
    spl_vfree(&a);
    spl_vfree(&b);
    return ok;
}

static bool eval_call(const enode *e, const eval_row *row, val *out) {
    val a[ESC_SPL_MAX_ARGS]; /* the parser allows no more; eval() sets each it is given */
    size_t na = 0;
    bool ok = true;
    memset(out, 0, sizeof *out);
    if (e->fn->lazy)
        return e->fn->lazy(e, row, out);
    for (na = 0; na < e->nargs; na++)
        if (!eval(e->args[na], row, &a[na])) {
            ok = false;
            goto done;
        }
    ok = e->fn->call(e, a, na, out);
done:
    for (size_t i = 0; i < na; i++)
        spl_vfree(&a[i]);
    return ok;
}

/* false only on allocation failure */
static bool eval(const enode *e, const eval_row *row, val *out) {
    memset(out, 0, sizeof *out);
    switch (e->kind) {
    case EN_NULL:
        return true;
    case EN_BOOL:
        spl_vbool(out, e->num != 0);
        return true;
    case EN_NUM:
        spl_vnum(out, e->num);
        return true;
    case EN_STR:
        vborrow(out, e->str, e->str_len);
        return true;
    case EN_FIELD: {
        if (e->col < 0 || (size_t)e->col >= row->ncols)
            return true;
        const esc_cell *c = &row->cells[e->col];
        if (c->n == 0)
            return true;
        if (c->n == 1) {
            if (c->is_num) {
                spl_vnum(out, c->num);
                return true;
            }
            vborrow(out, c->v[0], strlen(c->v[0]));
            return true;
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
    case EN_CALL:
        return eval_call(e, row, out);
    case EN_BIN:
        return eval_bin(e, row, out);
    case EN_UN: {
        val a;
        if (!eval(e->args[0], row, &a))
            return false;
        double x;
        if (e->op == EOP_NOT) {
            if (a.t == V_BOOL)
                spl_vbool(out, !a.b);
        } else if (spl_as_num(&a, &x)) {
            spl_vnum(out, -x);
        }
        spl_vfree(&a);
        return true;
    }
    }
    return true;
}

esc_status spl_cond_true(const enode *e, const esc_cell *row, size_t ncols, bool *out) {
    val v;
    eval_row r = {row, ncols};
    *out = false;
    if (!eval(e, &r, &v))
        return ESC_ENOMEM;
    *out = (v.t == V_BOOL && v.b) || (v.t == V_NUM && v.num != 0);
    spl_vfree(&v);
    return ESC_OK;
}

static esc_status to_cell(const enode *e, const esc_cell *row, size_t ncols, esc_cell *out,
                          bool false_null) {
    val v;
    eval_row r = {row, ncols};
    memset(out, 0, sizeof *out);
    if (!eval(e, &r, &v))
        return ESC_ENOMEM;
    if (false_null && v.t == V_BOOL && !v.b)
        return ESC_OK;
    esc_status rc = ESC_OK;
    char buf[64];
    const char *s;
    size_t n;
    switch (v.t) {
    case V_NULL:
        break;
    case V_MV:
        if (v.n > ESC_SPL_CELL_MAX_VALUES) { /* more than a cell holds: as out of memory */
            rc = ESC_ENOMEM;
            break;
        }
        out->v = v.mv;
        out->n = (uint32_t)v.n;
        v.mv = NULL;
        v.n = 0;
        break;
    default:
        spl_as_text(&v, buf, sizeof buf, &s, &n);
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
    spl_vfree(&v);
    return rc;
}

esc_status spl_eval_cell(const enode *e, const esc_cell *row, size_t ncols, esc_cell *out) {
    return to_cell(e, row, ncols, out, false);
}

esc_status spl_eval_agg_cell(const enode *e, const esc_cell *row, size_t ncols, esc_cell *out) {
    return to_cell(e, row, ncols, out, true);
}

bool spl_eval_arg(const enode *e, const eval_row *row, val *out) {
    return eval(e, row, out);
}
