/* Injected clocks (sched/clock.h). Nothing here sleeps: simulated clocks run on a manual base. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "sched/clock.h"

#define SEC INT64_C(1000000)

static void test_manual(void **state) {
    (void)state;
    esc_clock *c = esc_clock_new_manual(1000 * SEC);
    assert_non_null(c);
    assert_int_equal(esc_clock_now_us(c), 1000 * SEC);
    assert_int_equal(esc_clock_now_sec(c), 1000);
    assert_int_equal(esc_clock_advance(c, 5 * SEC), ESC_OK);
    assert_int_equal(esc_clock_now_us(c), 1005 * SEC);
    assert_int_equal(esc_clock_advance(c, -1), ESC_EUSAGE);
    assert_int_equal(esc_clock_set(c, 1004 * SEC), ESC_EUSAGE); /* never backwards */
    assert_int_equal(esc_clock_set(c, 1010 * SEC), ESC_OK);
    assert_int_equal(esc_clock_advance(c, INT64_MAX), ESC_EUSAGE);
    /* Waiting jumps to the deadline; a cap moves only that far. */
    assert_int_equal(esc_clock_wait_until(c, 2000 * SEC, 100 * SEC), ESC_SKIP);
    assert_int_equal(esc_clock_now_us(c), 1110 * SEC);
    assert_int_equal(esc_clock_wait_until(c, 2000 * SEC, 10000 * SEC), ESC_OK);
    assert_int_equal(esc_clock_now_us(c), 2000 * SEC);
    assert_int_equal(esc_clock_wait_until(c, 1500 * SEC, SEC), ESC_OK); /* already past */
    assert_int_equal(esc_clock_now_us(c), 2000 * SEC);
    esc_clock_free(c);
    esc_clock_free(NULL);
}

static void test_simulated(void **state) {
    (void)state;
    esc_clock *base = esc_clock_new_manual(5 * SEC);
    esc_error err = {0};
    esc_clock *sim = esc_clock_new_sim(base, 1700000000 * SEC, 60, &err);
    assert_non_null(sim);
    assert_int_equal(esc_clock_now_us(sim), 1700000000 * SEC);
    esc_clock_advance(base, SEC);
    assert_int_equal(esc_clock_now_us(sim), 1700000060 * SEC);
    esc_clock_advance(base, 250000);
    assert_int_equal(esc_clock_now_us(sim), 1700000075 * SEC);
    /* Waiting one simulated hour waits one minute on the base. */
    int64_t b0 = esc_clock_now_us(base);
    assert_int_equal(esc_clock_wait_until(sim, 1700003675 * SEC, 7200 * SEC), ESC_OK);
    assert_int_equal(esc_clock_now_us(base) - b0, 60 * SEC);
    assert_int_equal(esc_clock_now_us(sim), 1700003675 * SEC);
    /* A cap in simulated time. */
    assert_int_equal(esc_clock_wait_until(sim, 1700007275 * SEC, 600 * SEC), ESC_SKIP);
    assert_int_equal(esc_clock_now_us(sim), 1700004275 * SEC);
    /* Manual operations are refused on a simulated clock. */
    assert_int_equal(esc_clock_advance(sim, 1), ESC_EUSAGE);
    assert_int_equal(esc_clock_set(sim, 0), ESC_EUSAGE);
    esc_clock_free(sim);

    /* Slower than real time, non-integer speed: the deadline is still reached. */
    sim = esc_clock_new_sim(base, 0, 0.3, &err);
    assert_non_null(sim);
    assert_int_equal(esc_clock_wait_until(sim, 7 * SEC, 100 * SEC), ESC_OK);
    assert_true(esc_clock_now_us(sim) >= 7 * SEC);
    assert_true(esc_clock_now_us(sim) < 7 * SEC + 2);
    esc_clock_free(sim);

    assert_null(esc_clock_new_sim(base, 0, 0, &err));
    assert_int_equal(err.code, ESC_EUSAGE);
    assert_null(esc_clock_new_sim(base, 0, -1, &err));
    assert_null(esc_clock_new_sim(base, 0, 1e7, &err));
    assert_null(esc_clock_new_sim(NULL, 0, 1, &err));
    esc_clock_free(base);
}

static void test_real(void **state) {
    (void)state;
    esc_clock *c = esc_clock_new_real();
    assert_non_null(c);
    int64_t a = esc_clock_now_us(c);
    int64_t sys = (int64_t)time(NULL);
    assert_true(a / SEC >= sys - 5 && a / SEC <= sys + 5);
    assert_int_equal(esc_clock_wait_until(c, a - SEC, SEC), ESC_OK); /* past: no sleep */
    assert_int_equal(esc_clock_advance(c, 1), ESC_EUSAGE);
    esc_clock_free(c);
}

static void test_parse_speed(void **state) {
    (void)state;
    double v = 0;
    assert_int_equal(esc_clock_parse_speed("10", &v, NULL), ESC_OK);
    assert_true(v == 10.0);
    assert_int_equal(esc_clock_parse_speed("0.5", &v, NULL), ESC_OK);
    assert_true(v == 0.5);
    esc_error err = {0};
    assert_int_equal(esc_clock_parse_speed("0", &v, &err), ESC_EUSAGE);
    assert_int_equal(esc_clock_parse_speed("-2", &v, &err), ESC_EUSAGE);
    assert_int_equal(esc_clock_parse_speed("fast", &v, &err), ESC_EUSAGE);
    assert_int_equal(esc_clock_parse_speed("10x", &v, &err), ESC_EUSAGE);
    assert_int_equal(esc_clock_parse_speed("nan", &v, &err), ESC_EUSAGE);
    assert_int_equal(esc_clock_parse_speed("inf", &v, &err), ESC_EUSAGE);
    assert_int_equal(esc_clock_parse_speed("", &v, &err), ESC_EUSAGE);
    assert_int_equal(esc_clock_parse_speed("1e9", &v, &err), ESC_EUSAGE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manual),
        cmocka_unit_test(test_simulated),
        cmocka_unit_test(test_real),
        cmocka_unit_test(test_parse_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
