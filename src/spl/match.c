/* Small matching helpers shared by the planner and the executor: '*' globs (ASCII
 * case-insensitive for search terms, exact for field-name patterns), number parsing, and the
 * CIM field names as tstats writes them.
 *
 * Invariants: glob matching fixes the text before the first '*' and after the last one, then
 * finds each piece between stars at its leftmost place (no backtracking or recursion, so a
 * pattern like `*a*a*a*b` cannot blow up). Deliberately not done: '?' or character classes
 * (SPL search has none). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "spl/ast.h"

static bool same(const char *a, const char *b, size_t n, bool ci) {
    esc_str x = esc_str_make(a, n), y = esc_str_make(b, n);
    return ci ? esc_str_ieq(x, y) : esc_str_eq(x, y);
}

/* The leftmost occurrence of x in s, or NULL: its first byte found in either case (16 bytes at
 * a time with SSE2), the rest compared only there. */
static const char *find_piece(const char *s, size_t sn, const char *x, size_t xn, bool ci) {
    if (xn > sn)
        return NULL;
    if (!ci)
        return memmem(s, sn, x, xn);
    unsigned char lo = esc_lower((unsigned char)x[0]);
    unsigned char up = lo >= 'a' && lo <= 'z' ? (unsigned char)(lo - 32) : lo;
    size_t end = sn - xn + 1, i = 0; /* the places x can start */
#if defined(__SSE2__)
    const __m128i vlo = _mm_set1_epi8((char)lo), vup = _mm_set1_epi8((char)up);
    for (; i + 16 <= end; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, vlo), _mm_cmpeq_epi8(v, vup)));
        for (; m; m &= m - 1) {
            size_t at = i + (size_t)__builtin_ctz(m);
            if (same(x + 1, s + at + 1, xn - 1, ci))
                return s + at;
        }
    }
#endif
    for (; i < end; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c == lo || c == up) && same(x + 1, s + i + 1, xn - 1, ci))
            return s + i;
    }
    return NULL;
}

/* s against "*P1*P2*...*Pk*" (p starts and ends with '*'): each piece at its leftmost place
 * after the previous one. Taking the leftmost place never loses a match: any match places
 * each piece no earlier than that, so what is left after it is no shorter. */
static bool glob_pieces(const char *p, size_t pn, const char *s, size_t sn, bool ci) {
    size_t pi = 1;
    while (pi < pn) {
        const char *star = memchr(p + pi, '*', pn - pi);
        size_t xn = (size_t)(star - (p + pi));
        if (xn) {
            const char *at = find_piece(s, sn, p + pi, xn, ci);
            if (!at)
                return false;
            sn -= (size_t)(at - s) + xn;
            s = at + xn;
        }
        pi += xn + 1;
    }
    return true;
}

/* The text before the first '*' must start s and the text after the last one end it (without
 * overlapping); only what lies between is left to backtracking. A pattern with one '*' (most
 * of ESCU's: `*\cmd.exe`, `C:\Windows\*`) is then two comparisons. */
static bool glob(const char *p, size_t pn, const char *s, size_t sn, bool ci) {
    const char *first = memchr(p, '*', pn);
    if (!first)
        return pn == sn && same(p, s, pn, ci);
    size_t last = pn - 1;
    while (p[last] != '*')
        last--;
    size_t a = (size_t)(first - p), b = pn - last - 1;
    if (a + b > sn || !same(p, s, a, ci) || !same(p + last + 1, s + sn - b, b, ci))
        return false;
    if (a == last)
        return true;
    return glob_pieces(p + a, last + 1 - a, s + a, sn - a - b, ci);
}

bool spl_glob_imatch(const char *pat, size_t plen, const char *s, size_t slen) {
    return glob(pat, plen, s, slen, true);
}

uint8_t spl_glob_shape(const char *p, size_t pn) {
    size_t stars = 0;
    for (size_t i = 0; i < pn; i++)
        stars += p[i] == '*';
    if (!stars)
        return SPL_GLOB_EXACT;
    if (stars == 1 && p[0] == '*')
        return SPL_GLOB_SUFFIX;
    if (stars == 1 && p[pn - 1] == '*')
        return SPL_GLOB_PREFIX;
    if (stars == 2 && p[0] == '*' && p[pn - 1] == '*')
        return SPL_GLOB_INNER;
    return SPL_GLOB_ANY;
}

/* glob's answer for each shape: the text before the star starts s, the text after it ends s,
 * or the text between two stars is somewhere in it. */
bool spl_glob_imatch_shaped(uint8_t shape, const char *p, size_t pn, const char *s, size_t sn) {
    switch (shape) {
    case SPL_GLOB_EXACT:
        return pn == sn && same(p, s, pn, true);
    case SPL_GLOB_PREFIX:
        return sn >= pn - 1 && same(p, s, pn - 1, true);
    case SPL_GLOB_SUFFIX:
        return sn >= pn - 1 && same(p + 1, s + sn - (pn - 1), pn - 1, true);
    case SPL_GLOB_INNER:
        return pn == 2 || find_piece(s, sn, p + 1, pn - 2, true) != NULL;
    default:
        return glob(p, pn, s, sn, true);
    }
}

bool spl_glob_match(const char *pat, size_t plen, const char *s, size_t slen) {
    return glob(pat, plen, s, slen, false);
}

/* A decimal's digits taken into *m while it stays at most 2^53 (*exact goes false past it). */
static void take_digit(uint64_t *m, char d, bool *exact) {
    if (*m > ((UINT64_C(1) << 53) - 9) / 10)
        *exact = false;
    else
        *m = *m * 10 + (uint64_t)(d - '0');
}

/* Decimal number with optional sign, fraction and exponent, nothing else (no spaces, no hex,
 * no inf/nan). Its value is strtod's: a number of at most 2^53 in its digits, without an
 * exponent and with at most 22 digits after the point, is those digits divided by a power of
 * ten, both exact doubles, so the one rounded division is the correctly rounded value strtod
 * gives (Clinger's fast path: W. D. Clinger, "How to Read Floating Point Numbers Accurately",
 * PLDI 1990); anything else goes to strtod. */
bool spl_parse_num(const char *s, size_t n, double *out) {
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    size_t i = 0, frac = 0;
    uint64_t m = 0;
    bool neg = s[0] == '-', exact = true, digits = false;
    if (s[i] == '+' || s[i] == '-')
        i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits = true)
        take_digit(&m, s[i], &exact);
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, frac++, digits = true)
            take_digit(&m, s[i], &exact);
    if (!digits)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j >= n || s[j] < '0' || s[j] > '9')
            return false;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++;
        i = j;
        exact = false;
    }
    if (i != n)
        return false;
    if (exact && frac < sizeof pow10 / sizeof *pow10) {
        double v = (double)m / pow10[frac];
        *out = neg ? -v : v;
        return true;
    }
    memcpy(buf, s, n);
    buf[n] = 0;
    errno = 0;
    double v = strtod(buf, NULL);
    if (!isfinite(v))
        return false;
    *out = v;
    return true;
}

const char *spl_cim_name(int id) {
    return id >= 0 ? esc_cim_field_name((esc_cim_field)id) : NULL;
}

/* "Processes.X" -> CIM field X; "_time" -> FIELD_TIME; anything else is a field the dataset
 * does not have. (Kept here rather than calling esc_cim_field_lookup so that the prefix rule
 * lives in one place; the table mirrors cim.h's enum.) */
int spl_cim_lookup(const char *name, size_t len) {
    if (len == 5 && memcmp(name, "_time", 5) == 0)
        return FIELD_TIME;
    if (len < 10 || memcmp(name, "Processes.", 10) != 0)
        return FIELD_ABSENT;
    name += 10;
    len -= 10;
    int id = esc_cim_field_lookup(esc_str_make(name, len));
    return id >= 0 ? id : FIELD_ABSENT;
}

/* ---- records with field sets ---- */

int spl_ds_lookup(int ds, const char *name, esc_str *fname) {
    size_t len = strlen(name);
    *fname = ESC_STR_NULL;
    if (ds == ESC_DS_PROCESSES)
        return spl_cim_lookup(name, len);
    if (len == 5 && memcmp(name, "_time", 5) == 0)
        return FIELD_TIME;
    if (ds == ESC_DS_RAW) {
        if (len == 4 && memcmp(name, "_raw", 4) == 0)
            return FIELD_RAW;
        *fname = esc_str_make(name, len);
        return FIELD_NAMED;
    }
    /* Every data model inherits _time, host, source and sourcetype, which tstats names without
     * the prefix; the RBA searches read `source` (the search name of each risk event). Only the
     * Risk dataset resolves them so far. */
    if (ds == ESC_DS_RISK && ((len == 6 && memcmp(name, "source", 6) == 0) ||
                              (len == 4 && memcmp(name, "host", 4) == 0) ||
                              (len == 10 && memcmp(name, "sourcetype", 10) == 0))) {
        *fname = esc_str_make(name, len);
        return FIELD_NAMED;
    }
    const char *pre = esc_dm_prefix(ds);
    size_t pl = pre ? strlen(pre) : 0;
    if (!pre || len <= pl + 1 || memcmp(name, pre, pl) != 0 || name[pl] != '.')
        return FIELD_ABSENT;
    *fname = esc_str_make(name + pl + 1, len - pl - 1);
    return FIELD_NAMED;
}

/* Splunk_TA_windows eventtypes.conf: wineventlog_security and wineventlog_system are the
 * events of the Security and System channels; used while extraction gives no eventtype. */
static size_t eventtype_fallback(const esc_record *r, esc_str *out, size_t max) {
    const esc_event *ev = r->fs ? r->fs->ev : r->ev;
    if (!ev || ev->kind != ESC_EV_WINDOWS || !max)
        return 0;
    if (esc_str_ieq_c(ev->channel, "Security"))
        out[0] = esc_str_c("wineventlog_security");
    else if (esc_str_ieq_c(ev->channel, "System"))
        out[0] = esc_str_c("wineventlog_system");
    else
        return 0;
    return 1;
}

size_t spl_rec_values(const esc_record *r, int ref, esc_str fname, esc_str *out, size_t max,
                      char *buf, size_t cap) {
    if (ref >= 0) {
        if (ref >= ESC_CIM_NFIELDS || !r->v[ref].ptr || !max)
            return 0;
        out[0] = r->v[ref];
        return 1;
    }
    if (ref == FIELD_TIME) {
        int64_t us = r->time_us;
        int64_t s = us / 1000000 - (us % 1000000 < 0);
        int n = snprintf(buf, cap, "%lld", (long long)s);
        out[0] = esc_str_make(buf, (size_t)n);
        return max ? 1 : 0;
    }
    if (!r->fs)
        return 0;
    if (ref == FIELD_RAW) {
        if (!r->fs->raw.ptr || !max)
            return 0;
        out[0] = r->fs->raw;
        return 1;
    }
    if (ref != FIELD_NAMED)
        return 0;
    size_t n = esc_fields_values(r->fs, fname, out, max);
    if (!n && r->ds == ESC_DS_RAW && esc_str_eq_c(fname, "eventtype"))
        n = eventtype_fallback(r, out, max);
    return n;
}

/* Splunk's segmenters.conf defaults: major breakers split an event into terms, minor breakers
 * split terms into the smaller tokens a search also finds. */
static bool major_breaker(unsigned char c) {
    return c <= 0x20 || strchr("[]<>(){}|!;,'\"*&?+", c) != NULL;
}
static bool minor_breaker(unsigned char c) {
    return strchr("/:=@.-$#%\\_", c) != NULL;
}

static bool bounded(const char *s, size_t n, size_t at, bool major_only) {
    if (at >= n)
        return true;
    unsigned char c = (unsigned char)s[at];
    return major_breaker(c) || (!major_only && minor_breaker(c));
}

static long find_from(const char *s, size_t n, size_t from, const char *p, size_t pl, bool cs) {
    if (pl == 0)
        return (long)from;
    for (size_t i = from; i + pl <= n; i++) {
        size_t k = 0;
        while (k < pl &&
               (cs ? s[i + k] == p[k]
                   : esc_lower((unsigned char)s[i + k]) == esc_lower((unsigned char)p[k])))
            k++;
        if (k == pl)
            return (long)i;
    }
    return -1;
}

/* The term (pieces split on '*') occurs in s with term boundaries at its ends. */
static bool term_in(const snode *t, const char *s, size_t n) {
    const char *p = t->val;
    size_t pl = t->val_len;
    bool lead = pl && p[0] == '*', trail = pl && p[pl - 1] == '*';
    while (pl && p[0] == '*')
        p++, pl--;
    while (pl && p[pl - 1] == '*')
        pl--;
    if (!pl)
        return true;
    const char *star = memchr(p, '*', pl);
    size_t first = star ? (size_t)(star - p) : pl;
    bool mj = t->term_major;
    for (long at = find_from(s, n, 0, p, first, t->term_case); at >= 0;
         at = find_from(s, n, (size_t)at + 1, p, first, t->term_case)) {
        if (!lead && at > 0 && !bounded(s, n, (size_t)at - 1, mj))
            continue;
        size_t pos = (size_t)at + first, i = first;
        bool ok = true;
        while (ok && i < pl) { /* the pieces after each '*', in order */
            i++;
            const char *q = memchr(p + i, '*', pl - i);
            size_t ql = q ? (size_t)(q - (p + i)) : pl - i;
            long f = find_from(s, n, pos, p + i, ql, t->term_case);
            if (f < 0)
                ok = false;
            else
                pos = (size_t)f + ql;
            i += ql;
        }
        if (ok && (trail || pos >= n || bounded(s, n, pos, mj)))
            return true;
    }
    return false;
}

bool spl_term_match(const snode *n, const esc_record *r) {
    if (!r->fs)
        return false;
    if (r->fs->raw.ptr)
        return term_in(n, r->fs->raw.ptr, r->fs->raw.len);
    /* no rendering (JSON input): the term in one of the event's values */
    for (size_t i = 0; i < r->fs->n; i++)
        if (r->fs->f[i].value.ptr && term_in(n, r->fs->f[i].value.ptr, r->fs->f[i].value.len))
            return true;
    return false;
}
