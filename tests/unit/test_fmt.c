/* The hand-written formatting of core/fmt.h against printf, conversion by conversion, the escape
 * scanners against a byte-at-a-time reference, and esc_crc32 against zlib and the CRC-32 check
 * value. Values: edges (0, limits, widths, powers of ten) and a fixed-seed pseudo-random sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/crc32.h"
#include "core/fmt.h"
#include "core/timeutil.h"
#include "parse/render.h"
#include "xorshift.h"

static void check_u64(uint64_t v) {
    char want[64], got[ESC_FMT_MAX];
    for (unsigned w = 0; w <= 20; w += (w < 8 ? 1 : 6)) {
        int n = snprintf(want, sizeof want, "%0*" PRIu64, (int)w, v);
        size_t k = esc_fmt_u64(got, v, w);
        assert_int_equal(k, (size_t)n);
        assert_memory_equal(got, want, k);
    }
    int n = snprintf(want, sizeof want, "%" PRId64, (int64_t)v);
    size_t k = esc_fmt_i64(got, (int64_t)v);
    assert_int_equal(k, (size_t)n);
    assert_memory_equal(got, want, k);
    for (unsigned w = 0; w <= 16; w += 4) {
        n = snprintf(want, sizeof want, "%0*" PRIx64, (int)w, v);
        k = esc_fmt_hex(got, v, w, false);
        assert_int_equal(k, (size_t)n);
        assert_memory_equal(got, want, k);
        n = snprintf(want, sizeof want, "%0*" PRIX64, (int)w, v);
        k = esc_fmt_hex(got, v, w, true);
        assert_int_equal(k, (size_t)n);
        assert_memory_equal(got, want, k);
    }
}

static void test_numbers(void **state) {
    (void)state;
    static const uint64_t edge[] = {
        0,         1, 9, 10, 99, 100, 4294967295u, 4294967296u, INT64_MAX, (uint64_t)INT64_MAX + 1,
        UINT64_MAX};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        check_u64(edge[i]);
    for (uint64_t p = 1; p < UINT64_MAX / 10; p *= 10) {
        check_u64(p - 1);
        check_u64(p);
    }
    for (int i = 0; i < 20000; i++) {
        uint64_t v = next();
        check_u64(v >> (next() % 64));
    }
}

/* The civil date of every 97th day from year 0 to 9999 (and times of day), against the
 * printf path esc_render_time keeps for other years; -1 and 10000 fall back. */
static void test_datetime(void **state) {
    (void)state;
    const int64_t first = -62167219200; /* 0000-01-01T00:00:00Z */
    const int64_t last = 253402300799;  /* 9999-12-31T23:59:59Z */
    char got[32];
    for (int64_t s = first; s <= last; s += 97 * 86400 + 3607) {
        esc_buf b;
        esc_buf_init(&b, 0);
        assert_int_equal(esc_render_time(s * 1000000 + 123456, &b), ESC_OK);
        size_t k = esc_fmt_datetime(got, s);
        assert_int_equal(k, 19);
        assert_int_equal(b.len, 27);
        assert_memory_equal(b.ptr, got, 19);
        assert_memory_equal(b.ptr + 19, ".123456Z", 8);
        esc_buf_fini(&b);
    }
    assert_int_equal(esc_fmt_datetime(got, first), 19);
    assert_memory_equal(got, "0000-01-01T00:00:00", 19);
    assert_int_equal(esc_fmt_datetime(got, last), 19);
    assert_memory_equal(got, "9999-12-31T23:59:59", 19);
    assert_int_equal(esc_fmt_datetime(got, 951782400), 19); /* leap day */
    assert_memory_equal(got, "2000-02-29T00:00:00", 19);
    assert_int_equal(esc_fmt_datetime(got, first - 1), 0);
    assert_int_equal(esc_fmt_datetime(got, last + 1), 0);
    esc_buf b;
    esc_buf_init(&b, 0);
    assert_int_equal(esc_render_time((last + 1) * 1000000, &b), ESC_OK);
    assert_string_equal(b.ptr, "10000-01-01T00:00:00.000000Z");
    esc_buf_clear(&b);
    assert_int_equal(esc_render_time((first - 1) * 1000000 + 5, &b), ESC_OK);
    assert_string_equal(b.ptr, "-001-12-31T23:59:59.000005Z");
    esc_buf_fini(&b);
}

/* esc_time_civil is esc_time_from_civil's inverse, also for years before 0 and after 9999. */
static void test_civil(void **state) {
    (void)state;
    for (int64_t days = -800000; days <= 3000000; days += 173) {
        int64_t y;
        int m, d;
        esc_time_civil(days, &y, &m, &d);
        assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
        assert_int_equal(esc_time_from_civil((int)y, m, d, 0, 0, 0), days * 86400);
    }
    int64_t y;
    int m, d;
    esc_time_civil(0, &y, &m, &d);
    assert_true(y == 1970 && m == 1 && d == 1);
    esc_time_civil(-719529, &y, &m, &d); /* the day before 0000-01-01 */
    assert_true(y == -1 && m == 12 && d == 31);
}

static size_t naive(const char *p, size_t n, const char *set) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || (p[i] && strchr(set, p[i])))
            return i;
    return n;
}

static void test_scan(void **state) {
    (void)state;
    char buf[80];
    for (int round = 0; round < 200000; round++) {
        size_t n = next() % sizeof buf;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = next();
            /* mostly plain text, sometimes a byte to escape, high bytes, 0x7F */
            buf[i] = (char)(r % 16 == 0 ? (r >> 8) % 256 : 'a' + (r >> 8) % 26);
        }
        assert_int_equal(esc_fmt_json_scan(buf, n), naive(buf, n, "\"\\"));
        assert_int_equal(esc_fmt_xml_scan(buf, n), naive(buf, n, "&<>'\""));
    }
    assert_int_equal(esc_fmt_json_scan("", 0), 0);
    assert_int_equal(esc_fmt_json_scan("0123456789abcdef\x7f\x80\xff", 19), 19);
    assert_int_equal(esc_fmt_xml_scan("0123456789abcdef0123456789abcdef>", 33), 32);
}

static void test_json_escape(void **state) {
    (void)state;
    char got[6], want[8];
    for (unsigned c = 0; c < 0x20; c++) {
        size_t k = esc_fmt_json_escape_byte(got, (unsigned char)c);
        const char *s = c == '\n'   ? "\\n"
                        : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t"
                        : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f"
                                    : NULL;
        if (!s) {
            snprintf(want, sizeof want, "\\u%04x", c);
            s = want;
        }
        assert_int_equal(k, strlen(s));
        assert_memory_equal(got, s, k);
    }
    assert_int_equal(esc_fmt_json_escape_byte(got, '"'), 2);
    assert_memory_equal(got, "\\\"", 2);
    assert_int_equal(esc_fmt_json_escape_byte(got, '\\'), 2);
    assert_memory_equal(got, "\\\\", 2);
}

static void test_crc32(void **state) {
    (void)state;
    assert_int_equal(esc_crc32(0, "123456789", 9), 0xCBF43926u); /* the CRC-32 check value */
    assert_int_equal(esc_crc32(0, "", 0), 0);
    static unsigned char chunk[65536];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (unsigned char)next();
    for (size_t n = 0; n <= sizeof chunk; n += n < 300 ? 1 : 4093) {
        uint32_t z = (uint32_t)crc32(0, chunk, (uInt)n);
        assert_int_equal(esc_crc32(0, chunk, n), z);
        /* continued over two pieces, as the chunk header's checksum is */
        size_t h = n / 3;
        assert_int_equal(esc_crc32(esc_crc32(0, chunk, h), chunk + h, n - h), z);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),     cmocka_unit_test(test_datetime),
        cmocka_unit_test(test_civil),       cmocka_unit_test(test_scan),
        cmocka_unit_test(test_json_escape), cmocka_unit_test(test_crc32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
