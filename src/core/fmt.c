/* Hand-written number and date formatting (core/fmt.h).
 *
 * Decimal digits are produced two at a time from a 200-byte pair table, right to left into a
 * scratch array, then copied; hex two digits a byte from a table; the civil date is core/timeutil's
 * esc_time_civil. The escape scanners compare 16 bytes at once with SSE2 (x86-64's baseline),
 * one byte at a time from a table elsewhere and for the tail. Deliberately not handled:
 * floating point (the one EVTX float type keeps printf's %g) and years outside 0..9999. */
#include "core/fmt.h"

#include <string.h>

#include "core/timeutil.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static const char PAIRS[201] = "00010203040506070809"
                               "10111213141516171819"
                               "20212223242526272829"
                               "30313233343536373839"
                               "40414243444546474849"
                               "50515253545556575859"
                               "60616263646566676869"
                               "70717273747576777879"
                               "80818283848586878889"
                               "90919293949596979899";

size_t esc_fmt_u64(char *dst, uint64_t v, unsigned width) {
    char tmp[24];
    char *p = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, PAIRS + 2 * r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, PAIRS + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    if (width > 20)
        width = 20;
    while ((size_t)(tmp + sizeof tmp - p) < width)
        *--p = '0';
    size_t n = (size_t)(tmp + sizeof tmp - p);
    memcpy(dst, p, n);
    return n;
}

size_t esc_fmt_i64(char *dst, int64_t v) {
    if (v >= 0)
        return esc_fmt_u64(dst, (uint64_t)v, 0);
    dst[0] = '-';
    return 1 + esc_fmt_u64(dst + 1, (uint64_t)0 - (uint64_t)v, 0);
}

/* The two hex digits of every byte, upper and lower case. */
static const char HEX_UPPER[513] = "000102030405060708090A0B0C0D0E0F"
                                   "101112131415161718191A1B1C1D1E1F"
                                   "202122232425262728292A2B2C2D2E2F"
                                   "303132333435363738393A3B3C3D3E3F"
                                   "404142434445464748494A4B4C4D4E4F"
                                   "505152535455565758595A5B5C5D5E5F"
                                   "606162636465666768696A6B6C6D6E6F"
                                   "707172737475767778797A7B7C7D7E7F"
                                   "808182838485868788898A8B8C8D8E8F"
                                   "909192939495969798999A9B9C9D9E9F"
                                   "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"
                                   "B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF"
                                   "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF"
                                   "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
                                   "E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEF"
                                   "F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF";
static const char HEX_LOWER[513] = "000102030405060708090a0b0c0d0e0f"
                                   "101112131415161718191a1b1c1d1e1f"
                                   "202122232425262728292a2b2c2d2e2f"
                                   "303132333435363738393a3b3c3d3e3f"
                                   "404142434445464748494a4b4c4d4e4f"
                                   "505152535455565758595a5b5c5d5e5f"
                                   "606162636465666768696a6b6c6d6e6f"
                                   "707172737475767778797a7b7c7d7e7f"
                                   "808182838485868788898a8b8c8d8e8f"
                                   "909192939495969798999a9b9c9d9e9f"
                                   "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
                                   "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                                   "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
                                   "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
                                   "e0e1e2e3e4e5e6e7e8e9eaebecedeeef"
                                   "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

size_t esc_fmt_hex(char *dst, uint64_t v, unsigned width, bool upper) {
    const char *pairs = upper ? HEX_UPPER : HEX_LOWER;
    unsigned n = v ? (unsigned)(67 - __builtin_clzll(v)) / 4 : 1; /* significant digits */
    if (width > 16)
        width = 16;
    if (n < width)
        n = width;
    char *p = dst + n;
    unsigned k = n;
    for (; k >= 2; k -= 2, v >>= 8) { /* two digits a byte, right to left */
        p -= 2;
        memcpy(p, pairs + 2 * (v & 0xff), 2);
    }
    if (k)
        p[-1] = pairs[2 * (v & 15) + 1];
    return n;
}

static void two(char *dst, unsigned v) {
    memcpy(dst, PAIRS + 2 * v, 2);
}

size_t esc_fmt_datetime(char *dst, int64_t sec) {
    int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
    int64_t sod = sec - days * 86400;
    int64_t y;
    int m, d;
    esc_time_civil(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return 0;
    two(dst, (unsigned)(y / 100));
    two(dst + 2, (unsigned)(y % 100));
    dst[4] = '-';
    two(dst + 5, (unsigned)m);
    dst[7] = '-';
    two(dst + 8, (unsigned)d);
    dst[10] = 'T';
    two(dst + 11, (unsigned)(sod / 3600));
    dst[13] = ':';
    two(dst + 14, (unsigned)(sod / 60 % 60));
    dst[16] = ':';
    two(dst + 17, (unsigned)(sod % 60));
    return 19;
}

/* 1: JSON must escape the byte; 2: XML must. */
static const unsigned char NEEDS[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 0, 3, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

static size_t scan_tail(const char *p, size_t i, size_t n, unsigned char which) {
    while (i < n && !(NEEDS[(unsigned char)p[i]] & which))
        i++;
    return i;
}

size_t esc_fmt_json_scan(const char *p, size_t n) {
    size_t i = 0;
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i ctl = _mm_set1_epi8(0x1F);
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i m = _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x)); /* x <= 0x1F */
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
    }
#endif
    return scan_tail(p, i, n, 1);
}

size_t esc_fmt_xml_scan(const char *p, size_t n) {
    size_t i = 0;
#ifdef __SSE2__
    const __m128i amp = _mm_set1_epi8('&'), lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>');
    const __m128i apos = _mm_set1_epi8('\''), quot = _mm_set1_epi8('"');
    const __m128i ctl = _mm_set1_epi8(0x1F);
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i m = _mm_or_si128(_mm_cmpeq_epi8(x, amp), _mm_cmpeq_epi8(x, lt));
        m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(x, gt), _mm_cmpeq_epi8(x, apos)));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(x, quot));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
    }
#endif
    return scan_tail(p, i, n, 2);
}

size_t esc_fmt_json_escape_byte(char dst[6], unsigned char c) {
    static const char short_esc[32] = {0, 0, 0, 0, 0, 0, 0, 0, 'b', 't', 'n', 0, 'f', 'r', 0, 0,
                                       0, 0, 0, 0, 0, 0, 0, 0, 0,   0,   0,   0, 0,   0,   0, 0};
    dst[0] = '\\';
    if (c == '"' || c == '\\') {
        dst[1] = (char)c;
        return 2;
    }
    if (c < 32 && short_esc[c]) {
        dst[1] = short_esc[c];
        return 2;
    }
    memcpy(dst + 1, "u00", 3);
    dst[4] = "0123456789abcdef"[c >> 4];
    dst[5] = "0123456789abcdef"[c & 15];
    return 6;
}

esc_status esc_fmt_json_str(esc_buf *out, const char *s, size_t n) {
    esc_status st = esc_buf_reserve(out, n + 2);
    if (st)
        return st;
    char *o = esc_buf_end(out);
    *o++ = '"';
    size_t i = 0;
    for (;;) {
        size_t k = i + esc_fmt_json_scan(s + i, n - i);
        memcpy(o, s + i, k - i);
        o += k - i;
        if (k == n)
            break;
        esc_buf_commit(out, (size_t)(o - esc_buf_end(out)));
        if ((st = esc_buf_reserve(out, 6 + (n - k - 1) + 1)))
            return st;
        o = esc_buf_end(out);
        o += esc_fmt_json_escape_byte(o, (unsigned char)s[k]);
        i = k + 1;
    }
    *o++ = '"';
    esc_buf_commit(out, (size_t)(o - esc_buf_end(out)));
    return ESC_OK;
}
