/* The JSON tokenizer under the JSON lines reader, its string decoder, and a fast
 * case-insensitive search for the literal prefilter.
 *
 * esc_json_tokenize validates one object completely (strings, escapes, numbers, literals,
 * nesting) with an explicit stack, never recursion, and records only the values the caller
 * wants: the top-level members always, the members of a container when doc->want says so.
 * Nothing is decoded here except keys with escapes; values stay raw until the reader decodes
 * the few it needs with esc_json_decode.
 *
 * Deliberately lenient: raw control characters (other than a newline) inside strings are kept
 * (many producers write raw tabs); NUL and invalid UTF-8 are repaired when a value is decoded.
 * Deliberately not done: numbers are not converted (values are text, so out-of-range numbers
 * keep their literal text); unwanted strings are never checked for valid UTF-8. */
#include "parse/json/json.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/alloc.h"
#include "core/str.h"
#include "core/utf8.h"

void esc_json_doc_init(esc_json_doc *d) {
    memset(d, 0, sizeof *d);
}

void esc_json_doc_fini(esc_json_doc *d) {
    if (!d)
        return;
    esc_free(d->tok);
    d->tok = NULL;
    d->ntok = d->cap = 0;
}

static bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether p[0..4) are four hex digits (a \u escape's). */
static bool is_hex4(const char *p) {
    return esc_hexval(p[0]) >= 0 && esc_hexval(p[1]) >= 0 && esc_hexval(p[2]) >= 0 &&
           esc_hexval(p[3]) >= 0;
}

static uint32_t hex4(const char *p) {
    return (uint32_t)(esc_hexval(p[0]) << 12 | esc_hexval(p[1]) << 8 | esc_hexval(p[2]) << 4 |
                      esc_hexval(p[3]));
}

/* Next '"', '\\' or '\n' at or after p, or e. */
static const char *next_special(const char *p, const char *e) {
#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"'), b = _mm_set1_epi8('\\'), n = _mm_set1_epi8('\n');
    while (e - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, b)),
                                 _mm_cmpeq_epi8(v, n));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask)
            return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    while (p < e && *p != '"' && *p != '\\' && *p != '\n')
        p++;
    return p;
}

/* p is just after the opening quote. On success *close points at the closing quote. */
static bool scan_string(esc_json_doc *d, const char *p, const char *e, const char **close,
                        bool *has_esc) {
    bool esc = false;
    for (;;) {
        p = next_special(p, e);
        if (p >= e || *p == '\n') {
            d->what = "unterminated string";
            d->at = p;
            return false;
        }
        if (*p == '"') {
            *close = p;
            *has_esc = esc;
            return true;
        }
        /* backslash */
        esc = true;
        if (e - p < 2) {
            d->what = "unterminated string";
            d->at = e;
            return false;
        }
        switch (p[1]) {
        /* clang-format off */
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            /* clang-format on */
            p += 2;
            break;
        case 'u':
            if (e - p < 6 || !is_hex4(p + 2)) {
                d->what = "invalid \\u escape";
                d->at = p;
                return false;
            }
            p += 6;
            break;
        default:
            d->what = "invalid escape";
            d->at = p;
            return false;
        }
    }
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* JSON number grammar; returns the end or NULL (d filled). */
static const char *scan_number(esc_json_doc *d, const char *p, const char *e) {
    const char *s = p;
    if (p < e && *p == '-')
        p++;
    if (p >= e || !is_digit(*p))
        goto bad;
    if (*p == '0')
        p++;
    else
        while (p < e && is_digit(*p))
            p++;
    if (p < e && *p == '.') {
        p++;
        if (p >= e || !is_digit(*p))
            goto bad;
        while (p < e && is_digit(*p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || !is_digit(*p))
            goto bad;
        while (p < e && is_digit(*p))
            p++;
    }
    return p;
bad:
    d->what = "invalid number";
    d->at = s;
    return NULL;
}

static esc_json_tok *push_tok(esc_json_doc *d) {
    if (d->ntok == d->cap) {
        if (d->cap >= ESC_JSON_MAX_TOKENS) {
            d->what = "too many values (more than 65536)";
            return NULL;
        }
        size_t nc = d->cap ? d->cap * 2 : 256;
        if (nc > ESC_JSON_MAX_TOKENS)
            nc = ESC_JSON_MAX_TOKENS;
        esc_json_tok *t = esc_realloc(d->tok, nc * sizeof *t);
        if (!t) {
            d->what = NULL; /* ENOMEM */
            return NULL;
        }
        d->tok = t;
        d->cap = nc;
    }
    esc_json_tok *t = &d->tok[d->ntok++];
    memset(t, 0, sizeof *t);
    return t;
}

/* A member's key at *pp (where a '"' must be) and the ':' after it; *pp is left after the ':'.
 * The key is decoded into *key when the container's members are recorded. */
static inline esc_status scan_key(esc_json_doc *d, const char **pp, const char *e, bool record,
                                  esc_str *key, esc_arena *arena) {
    const char *p = *pp;
    if (*p != '"') {
        d->what = "expected a key";
        d->at = p;
        return ESC_EMALFORMED;
    }
    const char *q;
    bool kesc;
    if (!scan_string(d, p + 1, e, &q, &kesc))
        return ESC_EMALFORMED;
    if (record) {
        if (kesc) {
            unsigned rep = 0;
            esc_buf tmp;
            esc_buf_init(&tmp, 0);
            esc_status st =
                esc_json_decode(p + 1, (size_t)(q - p - 1), true, &tmp, arena, key, &rep);
            esc_buf_fini(&tmp);
            if (st) {
                d->what = NULL;
                return st == ESC_ELIMIT ? ESC_ENOMEM : st;
            }
        } else {
            *key = esc_str_make(p + 1, (size_t)(q - p - 1));
        }
    }
    p = q + 1;
    while (p < e && is_ws(*p))
        p++;
    if (p >= e || *p != ':') {
        d->what = "expected ':'";
        d->at = p;
        d->incomplete = p >= e;
        return ESC_EMALFORMED;
    }
    *pp = p + 1;
    return ESC_OK;
}

/* A string, number, true, false or null at *pp (c is its first byte); *pp is left after it.
 * t (NULL when the value is not recorded) gets its type and text. False with d->what set when
 * it is none of them. */
static inline bool scan_scalar(esc_json_doc *d, const char **pp, const char *e, char c,
                               esc_json_tok *t) {
    const char *p = *pp;
    if (c == '"') {
        const char *q;
        bool vesc;
        if (!scan_string(d, p + 1, e, &q, &vesc))
            return false;
        if (t) {
            t->type = ESC_JT_STR;
            t->raw = p + 1;
            t->rawlen = (size_t)(q - p - 1);
            t->esc = vesc;
        }
        *pp = q + 1;
        return true;
    }
    if (c == '-' || is_digit(c)) {
        const char *q = scan_number(d, p, e);
        if (!q)
            return false;
        if (t) {
            t->type = ESC_JT_NUM;
            t->rawlen = (size_t)(q - p);
        }
        *pp = q;
        return true;
    }
    static const struct {
        const char *w;
        size_t n;
        uint8_t ty;
    } lits[] = {{"true", 4, ESC_JT_TRUE}, {"false", 5, ESC_JT_FALSE}, {"null", 4, ESC_JT_NULL}};
    size_t k;
    for (k = 0; k < 3; k++)
        if ((size_t)(e - p) >= lits[k].n && memcmp(p, lits[k].w, lits[k].n) == 0)
            break;
    if (k == 3) {
        d->what = "unexpected character";
        d->at = p;
        d->incomplete = false;
        return false;
    }
    if (t) {
        t->type = lits[k].ty;
        t->rawlen = lits[k].n;
    }
    *pp = p + lits[k].n;
    return true;
}

enum { S_KEY_OR_END, S_KEY, S_VAL_OR_END, S_VALUE, S_COMMA_OR_END };

typedef struct frame {
    int32_t tok; /* recorded token of the container, or -1 */
    uint8_t type;
    uint8_t kids;
} frame;

esc_status esc_json_tokenize(esc_json_doc *d, const char *s, const char *e, const char **end,
                             esc_arena *arena) {
    frame stk[ESC_JSON_MAX_DEPTH + 1];
    size_t depth;
    int state;
    esc_str key = ESC_STR_NULL;
    const char *p = s;
    d->ntok = 0;
    d->what = NULL;
    d->at = NULL;
    d->incomplete = false;
    while (p < e && is_ws(*p))
        p++;
    if (p >= e || *p != '{') {
        d->what = "expected '{'";
        d->at = p;
        d->incomplete = p >= e;
        return ESC_EMALFORMED;
    }
    stk[0] = (frame){-1, ESC_JT_OBJ, 1};
    depth = 1;
    state = S_KEY_OR_END;
    p++;
    for (;;) {
        while (p < e && is_ws(*p))
            p++;
        if (p >= e) {
            d->what = "unexpected end of record";
            d->at = p;
            d->incomplete = true;
            return ESC_EMALFORMED;
        }
        char c = *p;
        bool close = false;
        switch (state) {
        case S_KEY_OR_END:
            if (c == '}') {
                close = true;
                break;
            }
            /* fall through */
        case S_KEY: {
            esc_status st = scan_key(d, &p, e, stk[depth - 1].kids, &key, arena);
            if (st != ESC_OK)
                return st;
            state = S_VALUE;
            continue;
        }
        case S_VAL_OR_END:
            if (c == ']') {
                close = true;
                break;
            }
            /* fall through */
        case S_VALUE: {
            esc_json_tok *t = NULL;
            int32_t ti = -1;
            if (stk[depth - 1].kids) {
                t = push_tok(d);
                if (!t) {
                    if (!d->what)
                        return ESC_ENOMEM;
                    d->at = p;
                    return ESC_EMALFORMED;
                }
                ti = (int32_t)(d->ntok - 1);
                t->key = stk[depth - 1].type == ESC_JT_OBJ ? key : ESC_STR_NULL;
                t->parent = stk[depth - 1].tok;
                t->depth = (uint8_t)depth;
                t->raw = p;
            }
            key = ESC_STR_NULL;
            if (c == '"' || (c != '{' && c != '[')) { /* strings first: the common case */
                if (!scan_scalar(d, &p, e, c, t))
                    return ESC_EMALFORMED;
                state = S_COMMA_OR_END;
                continue;
            }
            /* an object or an array */
            if (depth > ESC_JSON_MAX_DEPTH - 1) {
                d->what = "nesting deeper than 64";
                d->at = p;
                return ESC_EMALFORMED;
            }
            uint8_t ty = c == '{' ? ESC_JT_OBJ : ESC_JT_ARR;
            bool kids = false;
            if (t) {
                t->type = ty;
                kids = d->want && d->want(d, t);
                t->kids = kids;
            }
            stk[depth++] = (frame){ti, ty, kids};
            p++;
            state = ty == ESC_JT_OBJ ? S_KEY_OR_END : S_VAL_OR_END;
            continue;
        }
        case S_COMMA_OR_END:
            if (c == ',') {
                p++;
                state = stk[depth - 1].type == ESC_JT_OBJ ? S_KEY : S_VALUE;
                continue;
            }
            if ((c == '}' && stk[depth - 1].type == ESC_JT_OBJ) ||
                (c == ']' && stk[depth - 1].type == ESC_JT_ARR)) {
                close = true;
                break;
            }
            d->what =
                stk[depth - 1].type == ESC_JT_OBJ ? "expected ',' or '}'" : "expected ',' or ']'";
            d->at = p;
            return ESC_EMALFORMED;
        }
        if (!close)
            continue;
        depth--;
        if (stk[depth].tok >= 0) {
            esc_json_tok *t = &d->tok[stk[depth].tok];
            t->rawlen = (size_t)(p + 1 - t->raw);
        }
        p++;
        if (depth == 0) {
            *end = p;
            return ESC_OK;
        }
        state = S_COMMA_OR_END;
    }
}

static esc_status flush_run(esc_buf *out, const char *s, size_t n, size_t *rep) {
    if (!n)
        return ESC_OK;
    if (esc_utf8_clean(s, n))
        return esc_buf_append(out, s, n);
    return esc_utf8_repair(out, s, n, rep);
}

esc_status esc_json_decode(const char *raw, size_t len, bool has_escape, esc_buf *scratch,
                           esc_arena *arena, esc_str *out, unsigned *repaired) {
    if (!has_escape && esc_utf8_clean(raw, len)) {
        *out = esc_str_make(raw, len);
        return ESC_OK;
    }
    esc_status st = ESC_OK;
    size_t rep = 0, i = 0, run = 0;
    esc_buf_clear(scratch);
    while (i < len) {
        if (raw[i] != '\\') {
            i++;
            continue;
        }
        if ((st = flush_run(scratch, raw + run, i - run, &rep)))
            return st;
        char c = i + 1 < len ? raw[i + 1] : 0;
        if (c == 'u' && i + 6 <= len) {
            uint32_t cp = hex4(raw + i + 2);
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= len && raw[i] == '\\' &&
                raw[i + 1] == 'u') {
                uint32_t lo = hex4(raw + i + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
                rep++;
            if ((st = esc_utf8_put(scratch, cp)))
                return st;
            run = i;
            continue;
        }
        char o;
        switch (c) {
        /* clang-format off */
        case 'b': o = '\b'; break;
        case 'f': o = '\f'; break;
        case 'n': o = '\n'; break;
        case 'r': o = '\r'; break;
        case 't': o = '\t'; break;
        default: o = c; break; /* '"', '\\', '/' (the tokenizer allowed nothing else) */
        }
        /* clang-format on */
        if ((st = esc_buf_putc(scratch, o)))
            return st;
        i += 2;
        run = i;
    }
    if ((st = flush_run(scratch, raw + run, len - run, &rep)))
        return st;
    esc_str d = esc_arena_dup(arena, esc_buf_str(scratch));
    if (!d.ptr)
        return ESC_ELIMIT;
    *out = d;
    if (rep)
        (*repaired)++;
    return ESC_OK;
}

static bool ieq(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (esc_lower((unsigned char)a[i]) != esc_lower((unsigned char)b[i]))
            return false;
    return true;
}

long esc_json_ifind(const char *hay, size_t n, const char *lit, size_t m) {
    if (m == 0)
        return 0;
    if (m > n)
        return -1;
    /* Compare the first and last bytes of each candidate with bit 5 forced on (which folds
     * ASCII letters, and folds some other pairs: the full check below sorts those out). */
    unsigned char f = (unsigned char)(lit[0] | 0x20), l = (unsigned char)(lit[m - 1] | 0x20);
    size_t i = 0, last = n - m;
#if defined(__SSE2__)
    const __m128i vf = _mm_set1_epi8((char)f), vl = _mm_set1_epi8((char)l);
    const __m128i v20 = _mm_set1_epi8(0x20);
    for (; i + 16 <= last + 1; i += 16) {
        __m128i a = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(hay + i)), v20);
        __m128i b =
            _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(hay + i + m - 1)), v20);
        unsigned mask = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(a, vf), _mm_cmpeq_epi8(b, vl)));
        while (mask) {
            unsigned bit = (unsigned)__builtin_ctz(mask);
            if (ieq(hay + i + bit, lit, m))
                return (long)(i + bit);
            mask &= mask - 1;
        }
    }
#endif
    for (; i <= last; i++)
        if ((unsigned char)(hay[i] | 0x20) == f && (unsigned char)(hay[i + m - 1] | 0x20) == l &&
            ieq(hay + i, lit, m))
            return (long)i;
    return -1;
}

/* ---- literal prefilter on raw text ----------------------------------------------------- */

void esc_json_clause_init(esc_json_clause *c, const esc_literal_clause *src) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < src->nlit && i < ESC_INTEREST_MAX_LITERALS; i++) {
        const char *s = src->lit[i];
        size_t n = s ? strlen(s) : 0;
        if (n == 0) {
            c->always = true;
            continue;
        }
        esc_json_lit *l = &c->lit[c->n++];
        l->s = s;
        l->n = n;
        l->first = (unsigned char)(s[0] | 0x20);
        l->last = (unsigned char)(s[n - 1] | 0x20);
        if (n > c->maxn)
            c->maxn = n;
    }
}

static bool lit_at(const esc_json_clause *c, const char *s, size_t n, size_t i) {
    for (size_t k = 0; k < c->n; k++) {
        const esc_json_lit *l = &c->lit[k];
        if (i + l->n <= n && ieq(s + i, l->s, l->n))
            return true;
    }
    return false;
}

bool esc_json_clause_hit(const esc_json_clause *c, const char *s, size_t n) {
    if (c->always)
        return true;
    if (c->n == 0)
        return false;
    size_t i = 0;
#if defined(__SSE2__)
    /* every literal's first and last bytes tested at 16 positions at once */
    const __m128i v20 = _mm_set1_epi8(0x20);
    for (; i + 15 + c->maxn <= n; i += 16) {
        __m128i a = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(s + i)), v20);
        __m128i m = _mm_setzero_si128();
        for (size_t k = 0; k < c->n; k++) {
            const esc_json_lit *l = &c->lit[k];
            __m128i b = _mm_or_si128(
                _mm_loadu_si128((const __m128i *)(const void *)(s + i + l->n - 1)), v20);
            m = _mm_or_si128(m, _mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8((char)l->first)),
                                              _mm_cmpeq_epi8(b, _mm_set1_epi8((char)l->last))));
        }
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        while (mask) {
            unsigned bit = (unsigned)__builtin_ctz(mask);
            if (lit_at(c, s, n, i + bit))
                return true;
            mask &= mask - 1;
        }
    }
#endif
    for (; i < n; i++)
        if (lit_at(c, s, n, i))
            return true;
    return false;
}

static unsigned flags_at(const char *s, size_t n, size_t i) {
    if (s[i] == '\\')
        return i + 1 < n && s[i + 1] == 'u' ? ESC_JSON_RAW_UESC : 0;
    if (s[i] == '&')
        return i + 1 < n && s[i + 1] == '#' ? ESC_JSON_RAW_NCR : 0;
    /* s[i] == 'r' of "ComputerName": the key with its quotes starts 8 bytes before */
    if (s[i] == 'r' && i >= 8 && i + 6 <= n && memcmp(s + i - 8, "\"ComputerName\"", 14) == 0)
        return ESC_JSON_RAW_COMPUTERNAME;
    return 0;
}

unsigned esc_json_raw_flags(const char *s, size_t n) {
    unsigned f = 0;
    size_t i = 0;
    const unsigned stop = ESC_JSON_RAW_UESC | ESC_JSON_RAW_NCR;
#if defined(__SSE2__)
    /* candidate pairs: backslash-u, ampersand-hash, and "rN" inside ComputerName */
    const __m128i bs = _mm_set1_epi8('\\'), u = _mm_set1_epi8('u'), amp = _mm_set1_epi8('&');
    const __m128i hash = _mm_set1_epi8('#'), r = _mm_set1_epi8('r'), N = _mm_set1_epi8('N');
    for (; i + 17 <= n; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 1));
        __m128i m = _mm_or_si128(
            _mm_or_si128(_mm_and_si128(_mm_cmpeq_epi8(a, bs), _mm_cmpeq_epi8(b, u)),
                         _mm_and_si128(_mm_cmpeq_epi8(a, amp), _mm_cmpeq_epi8(b, hash))),
            _mm_and_si128(_mm_cmpeq_epi8(a, r), _mm_cmpeq_epi8(b, N)));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        while (mask) {
            unsigned bit = (unsigned)__builtin_ctz(mask);
            f |= flags_at(s, n, i + bit);
            if (f & stop)
                return f;
            mask &= mask - 1;
        }
    }
#endif
    for (; i < n; i++) {
        f |= flags_at(s, n, i);
        if (f & stop)
            return f;
    }
    return f;
}

esc_status esc_json_unescape_u(esc_buf *out, const char *s, size_t n, bool *nested) {
    esc_status st = ESC_OK;
    size_t i = 0, run = 0;
    while (i < n) {
        const char *q = memchr(s + i, '\\', n - i);
        if (!q)
            break;
        i = (size_t)(q - s);
        if (i + 6 <= n && s[i + 1] == 'u' && is_hex4(s + i + 2)) {
            if ((st = esc_buf_append(out, s + run, i - run)))
                return st;
            uint32_t cp = hex4(s + i + 2);
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u' &&
                is_hex4(s + i + 2)) {
                uint32_t lo = hex4(s + i + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            if ((st = esc_utf8_put(out, cp)))
                return st;
            run = i;
        } else {
            /* another escape, kept as written; an escaped backslash before 'u' may be a \u
             * escape of a JSON text inside a string (a Splunk export's _raw) */
            if (i + 2 < n && s[i + 1] == '\\' && s[i + 2] == 'u')
                *nested = true;
            i += i + 1 < n ? 2 : 1;
        }
    }
    return esc_buf_append(out, s + run, n - run);
}
