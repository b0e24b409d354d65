/* esc_utf8_next, the code point decoder, against the Unicode Standard's own example of
 * maximal subparts and against esc_utf8_repair: decoding a string code point by code point
 * and writing each back must give the repaired text, over edge sequences and a fixed-seed
 * pseudo-random sweep of byte strings biased towards UTF-8's lead and continuation bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "xorshift.h"

static size_t decode(const char *s, size_t n, uint32_t *out) {
    size_t k = 0;
    for (size_t i = 0; i < n;)
        out[k++] = esc_utf8_next(s, n, &i);
    return k;
}

/* Unicode 15.0, section 3.9, Table 3-8: "61 F1 80 80 E1 80 C2 62 80 63 80 BF 64" decodes to
 * 0061 FFFD FFFD FFFD 0062 FFFD 0063 FFFD FFFD 0064 (F1 80 80 is one maximal subpart, E1 80
 * another, C2 a third). */
static void test_table_3_8(void **state) {
    (void)state;
    const char s[] = "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64";
    const uint32_t want[] = {0x61,   0xFFFD, 0xFFFD, 0xFFFD, 0x62,
                             0xFFFD, 0x63,   0xFFFD, 0xFFFD, 0x64};
    uint32_t got[16];
    size_t k = decode(s, sizeof s - 1, got);
    assert_int_equal(k, sizeof want / sizeof want[0]);
    assert_memory_equal(got, want, sizeof want);
}

static void test_code_points(void **state) {
    (void)state;
    /* one of each length, the largest code point, a surrogate's encoding (invalid) */
    const char s[] = "A\xC3\xB1\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\xED\xA0\x80";
    const uint32_t want[] = {0x41, 0xF1, 0x20AC, 0x1F600, 0x10FFFF, 0xFFFD, 0xFFFD, 0xFFFD};
    uint32_t got[16];
    size_t k = decode(s, sizeof s - 1, got);
    assert_int_equal(k, sizeof want / sizeof want[0]);
    assert_memory_equal(got, want, sizeof want);
}

static void test_against_repair(void **state) {
    (void)state;
    static const unsigned char pick[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
                                         0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
                                         0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
    for (int round = 0; round < 20000; round++) {
        char s[12];
        size_t n = next() % sizeof s;
        for (size_t j = 0; j < n; j++)
            s[j] = (char)(next() % 4 ? pick[next() % sizeof pick] : (unsigned char)next());
        esc_buf want = {0}, got = {0};
        size_t replaced;
        assert_int_equal(esc_utf8_repair(&want, s, n, &replaced), ESC_OK);
        uint32_t cp[16];
        size_t k = decode(s, n, cp);
        for (size_t j = 0; j < k; j++)
            assert_int_equal(esc_utf8_put(&got, cp[j]), ESC_OK);
        assert_int_equal(got.len, want.len);
        if (want.len)
            assert_memory_equal(got.ptr, want.ptr, want.len);
        esc_buf_fini(&want);
        esc_buf_fini(&got);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_3_8),
        cmocka_unit_test(test_code_points),
        cmocka_unit_test(test_against_repair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
