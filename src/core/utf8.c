/* UTF-8 validation and repair, UTF-16LE transcoding. Follows the Unicode "maximal subpart"
 * practice: each maximal invalid prefix becomes one U+FFFD. */
#include "core/utf8.h"

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static const char REPL[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when invalid/truncated. */
static size_t seq_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80)
        return c ? 1 : 0;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0) {
        return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0;
        if (c == 0xED && s[1] >= 0xA0)
            return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0;
        if (c == 0xF4 && s[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

/* Length of the maximal subpart at s, an invalid sequence (Unicode 15, section 3.9): the
 * longest prefix of a well-formed sequence, at least one byte. "ED A0 80" is three subparts
 * (ED may not be followed by A0), "E2 82" one. */
static size_t subpart(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* valid range of the second byte */
    if (c >= 0xC2 && c < 0xE0)
        len = 2;
    else if (c >= 0xE0 && c < 0xF0)
        len = 3;
    else if (c >= 0xF0 && c < 0xF5)
        len = 4;
    else
        return 1;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    size_t k = 1;
    if (k < n && s[k] >= lo && s[k] <= hi) {
        k++;
        while (k < len && k < n && (s[k] & 0xC0) == 0x80)
            k++;
    }
    return k;
}

uint32_t esc_utf8_next(const char *s, size_t n, size_t *i) {
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t len = seq_len(p, n - *i);
    if (len == 0) {
        *i += subpart(p, n - *i);
        return 0xFFFD;
    }
    *i += len;
    if (len == 1)
        return p[0];
    uint32_t cp = p[0] & (0x7Fu >> len);
    for (size_t k = 1; k < len; k++)
        cp = cp << 6 | (p[k] & 0x3Fu);
    return cp;
}

bool esc_utf8_clean(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
#if defined(__SSE2__)
        /* sixteen bytes at a time while they are ASCII and none is NUL (the common case); the
         * first byte that is not goes to the checks below */
        const __m128i zero = _mm_setzero_si128();
        while (n - i >= 64) { /* four at once; the loop below finds the byte */
            __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 32));
            __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 48));
            __m128i z =
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(a, zero), _mm_cmpeq_epi8(b, zero)),
                             _mm_or_si128(_mm_cmpeq_epi8(c, zero), _mm_cmpeq_epi8(d, zero)));
            __m128i all = _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d));
            if (_mm_movemask_epi8(_mm_or_si128(all, z)))
                break;
            i += 64;
        }
        while (n - i >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(v, _mm_cmpeq_epi8(v, zero)));
            if (m) {
                i += (size_t)__builtin_ctz(m);
                break;
            }
            i += 16;
        }
#endif
        /* eight bytes at a time while they are ASCII and none is NUL (the common case) */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w | ((w - 0x0101010101010101ull) & ~w)) & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        if (p[i] >= 0x01 && p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = seq_len(p + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

esc_status esc_utf8_repair(esc_buf *out, const char *s, size_t n, size_t *replaced) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0, rep = 0;
    esc_status st = ESC_OK;
    while (i < n) {
        size_t k = seq_len(p + i, n - i);
        if (k) {
            i += k;
            continue;
        }
        if ((st = esc_buf_append(out, s + run, i - run)))
            return st;
        if ((st = esc_buf_append(out, REPL, 3)))
            return st;
        rep++;
        i += subpart(p + i, n - i);
        run = i;
    }
    st = esc_buf_append(out, s + run, n - run);
    if (replaced)
        *replaced += rep;
    return st;
}

esc_status esc_utf8_put(esc_buf *out, uint32_t cp) {
    char b[4];
    size_t n;
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return esc_buf_append(out, REPL, 3);
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return esc_buf_append(out, b, n);
}

esc_status esc_utf16le_to_utf8(esc_buf *out, const unsigned char *u, size_t n, size_t *replaced) {
    esc_status st;
    size_t rep = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = (uint32_t)u[2 * i] | ((uint32_t)u[2 * i + 1] << 8);
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n) {
            uint32_t d = (uint32_t)u[2 * i + 2] | ((uint32_t)u[2 * i + 3] << 8);
            if (d >= 0xDC00 && d <= 0xDFFF) {
                c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
                i++;
            }
        }
        if (c == 0 || (c >= 0xD800 && c <= 0xDFFF))
            rep++;
        if ((st = esc_utf8_put(out, c)))
            return st;
    }
    if (replaced)
        *replaced += rep;
    return ESC_OK;
}
