/* Eval functions on strings: lower, upper, len, substr, replace, trim, ltrim, rtrim, tostring,
 * tonumber, match, like, urldecode (the table at the end; eval.h says how to add one).
 *
 * Invariants: positions and lengths count UTF-8 code points; a null or multivalue argument
 * where text is expected gives null; match() and like() are true when any value of a
 * multivalue matches. Deliberately not done: Unicode case mapping (lower/upper fold ASCII
 * only), tostring's "hex"/"commas"/"duration" formats. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/str.h"
#include "spl/eval.h"

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

static bool fold(const val *a, val *out, bool upper) {
    char b0[64];
    const char *s;
    size_t n;
    if (!spl_as_text(&a[0], b0, sizeof b0, &s, &n))
        return true;
    if (!spl_vstr(out, s, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = out->s[i];
        if (!upper && c >= 'A' && c <= 'Z')
            out->s[i] = (char)(c + 32);
        if (upper && c >= 'a' && c <= 'z')
            out->s[i] = (char)(c - 32);
    }
    return true;
}

static bool fn_lower(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    return fold(a, out, false);
}

static bool fn_upper(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    return fold(a, out, true);
}

static bool fn_len(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    char b0[64];
    const char *s;
    size_t n;
    if (spl_as_text(&a[0], b0, sizeof b0, &s, &n))
        spl_vnum(out, (double)utf8_len(s, n));
    return true;
}

static bool fn_substr(const enode *e, val *a, size_t na, val *out) {
    (void)e;
    char b0[64];
    const char *s;
    size_t n;
    double x;
    if (!spl_as_text(&a[0], b0, sizeof b0, &s, &n) || !spl_as_num(&a[1], &x))
        return true;
    double cnt = -1;
    if (na == 3 && !spl_as_num(&a[2], &cnt))
        return true;
    long L = (long)utf8_len(s, n), st = spl_to_long(x);
    if (st < 0)
        st = L + st + 1;
    if (st < 1)
        st = 1;
    long len = na == 3 ? spl_to_long(cnt) : L;
    if (len < 0)
        len = 0;
    size_t from = utf8_off(s, n, (size_t)(st - 1));
    size_t to = (st - 1 + len) >= L ? n : utf8_off(s, n, (size_t)(st - 1 + len));
    return spl_vstr(out, s + from, to > from ? to - from : 0);
}

/* Substitute every match of re in s[0..n) by the PCRE2 replacement rb into out. */
static bool substitute(const pcre2_code *re, const char *s, size_t n, const esc_buf *rb, val *out) {
    PCRE2_SIZE olen = n * 2 + rb->len + 64;
    for (int tries = 0; tries < 8; tries++) {
        char *o = esc_malloc(olen + 1);
        if (!o)
            return false;
        size_t got = olen + 1;
        int rc =
            spl_re_substitute(re, s, n, PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
                              rb->ptr ? rb->ptr : "", rb->len, o, &got);
        if (rc >= 0) {
            out->t = V_STR;
            out->s = o;
            out->len = got;
            return true;
        }
        esc_free(o);
        if (rc != PCRE2_ERROR_NOMEMORY || got > ((size_t)1 << 26))
            return true;
        olen = got;
    }
    return true;
}

static bool fn_replace(const enode *e, val *a, size_t na, val *out) {
    (void)na;
    char b0[64], b2[64];
    const char *s, *rep;
    size_t n, rl;
    if (!spl_as_text(&a[0], b0, sizeof b0, &s, &n) || !spl_as_text(&a[2], b2, sizeof b2, &rep, &rl))
        return true;
    bool owned;
    pcre2_code *re = spl_call_re(e, &a[1], false, &owned);
    if (!re)
        return true;
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
    bool ok = substitute(re, s, n, &rb, out);
    esc_buf_fini(&rb);
    if (owned)
        pcre2_code_free(re);
    return ok;
}

/* trim(s[, chars]) from the left, the right, or both. */
static bool strip(val *a, size_t na, val *out, bool left, bool right) {
    char b0[64], b1[64];
    const char *s, *s1 = NULL;
    size_t n, n1 = 0;
    if (!spl_as_text(&a[0], b0, sizeof b0, &s, &n))
        return true;
    bool t1 = na == 2 && spl_as_text(&a[1], b1, sizeof b1, &s1, &n1);
    const char *set = t1 ? s1 : " \t";
    size_t setn = t1 ? n1 : 2;
    size_t i = 0, j = n;
    if (left)
        while (i < j && memchr(set, s[i], setn))
            i++;
    if (right)
        while (j > i && memchr(set, s[j - 1], setn))
            j--;
    return spl_vstr(out, s + i, j - i);
}

static bool fn_trim(const enode *e, val *a, size_t na, val *out) {
    (void)e;
    return strip(a, na, out, true, true);
}

static bool fn_ltrim(const enode *e, val *a, size_t na, val *out) {
    (void)e;
    return strip(a, na, out, true, false);
}

static bool fn_rtrim(const enode *e, val *a, size_t na, val *out) {
    (void)e;
    return strip(a, na, out, false, true);
}

static bool fn_tostring(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    char b0[64];
    const char *s;
    size_t n;
    if (spl_as_text(&a[0], b0, sizeof b0, &s, &n))
        return spl_vstr(out, s, n);
    return true;
}

/* tonumber(s[, base]): base 2 to 36 reads an integer in that base; else a decimal number. */
static bool fn_tonumber(const enode *e, val *a, size_t na, val *out) {
    (void)e;
    char b0[64];
    const char *s;
    size_t n;
    double x, y;
    if (na == 2 && spl_as_text(&a[0], b0, sizeof b0, &s, &n) && spl_as_num(&a[1], &y) && y >= 2 &&
        y <= 36) {
        char tmp[80];
        if (n < sizeof tmp) {
            memcpy(tmp, s, n);
            tmp[n] = 0;
            char *endp;
            long long v = strtoll(tmp, &endp, (int)y);
            if (n && *endp == 0)
                spl_vnum(out, (double)v);
        }
    } else if (spl_as_num(&a[0], &x)) {
        spl_vnum(out, x);
    }
    return true;
}

/* match(s, regex) and like(s, pattern): true when any value matches. */
static bool matches(const enode *e, val *a, val *out, bool like) {
    if (a[0].t == V_NULL)
        return true;
    bool owned, ok = true;
    pcre2_code *re = spl_call_re(e, &a[1], like, &owned);
    if (!re)
        return true;
    vlist tl;
    const char *const *it;
    size_t cnt = spl_items(&a[0], &tl, &it);
    bool r = false;
    for (size_t i = 0; i < cnt && !r && ok; i++) {
        size_t n = spl_item_len(&a[0], &tl, it[i]);
        int plain =
            e->plain_re ? spl_re_plain_find(e->args[1]->str, e->args[1]->str_len, it[i], n) : -1;
        r = plain >= 0 ? plain == 1 : spl_re_matches(re, it[i], n, &ok);
    }
    if (owned)
        pcre2_code_free(re);
    spl_vbool(out, r);
    return ok;
}

static bool fn_match(const enode *e, val *a, size_t na, val *out) {
    (void)na;
    return matches(e, a, out, false);
}

static bool fn_like(const enode *e, val *a, size_t na, val *out) {
    (void)na;
    return matches(e, a, out, true);
}

/* urldecode(url): every %XX (two hex digits) becomes its byte; anything else, '+' included,
 * stays as it is (Splunk: "Replaces URL-encoded characters with their original characters"). */
static bool fn_urldecode(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    char b0[64];
    const char *s;
    size_t n;
    if (!spl_as_text(&a[0], b0, sizeof b0, &s, &n))
        return true;
    if (!spl_vstr(out, s, n))
        return false;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = esc_hexval(s[i + 1])) >= 0 &&
            (l = esc_hexval(s[i + 2])) >= 0) {
            out->s[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out->s[o++] = s[i];
        }
    }
    out->s[o] = 0;
    out->len = o;
    return true;
}

const spl_eval_fn spl_eval_fns_text[] = {
    {"urldecode", 1, 1, fn_urldecode, NULL, NULL},
    {"lower", 1, 1, fn_lower, NULL, NULL},
    {"upper", 1, 1, fn_upper, NULL, NULL},
    {"len", 1, 1, fn_len, NULL, NULL},
    {"substr", 2, 3, fn_substr, NULL, NULL},
    {"replace", 3, 3, fn_replace, NULL, spl_check_regex},
    {"trim", 1, 2, fn_trim, NULL, NULL},
    {"ltrim", 1, 2, fn_ltrim, NULL, NULL},
    {"rtrim", 1, 2, fn_rtrim, NULL, NULL},
    {"tostring", 1, 2, fn_tostring, NULL, NULL},
    {"tonumber", 1, 2, fn_tonumber, NULL, NULL},
    {"match", 2, 2, fn_match, NULL, spl_check_regex},
    {"like", 2, 2, fn_like, NULL, spl_check_like},
    {NULL, 0, 0, NULL, NULL, NULL},
};
