/* Cron parsing and next-fire times (sched/cron.h), in UTC and across DST in Europe/Berlin
 * (2024: clocks go forward 31 Mar 01:00Z, back 27 Oct 01:00Z), plus a seeded comparison with a
 * minute-by-minute scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h> /* core/timeutil.h uses struct tm */

#include <cmocka.h>

#include "core/timeutil.h"
#include "sched/cron.h"
#include "sched/zone.h"

static int64_t iso(const char *s) {
    int64_t us = 0;
    assert_true(esc_time_parse_iso(esc_str_c(s), &us));
    return esc_time_sec(us);
}

static esc_cron parse_ok(const char *expr) {
    esc_cron c;
    esc_error err = {0};
    if (esc_cron_parse(expr, &c, &err) != ESC_OK)
        fail_msg("%s: %s", expr, err.msg);
    return c;
}

static void expect_next(const char *expr, const char *after, const char *want) {
    esc_cron c = parse_ok(expr);
    int64_t got = esc_cron_next(&c, iso(after));
    if (got != iso(want))
        fail_msg("'%s' after %s: got %lld, want %s", expr, after, (long long)got, want);
}

static void expect_error(const char *expr, uint64_t pos) {
    esc_cron c;
    esc_error err = {0};
    esc_status st = esc_cron_parse(expr, &c, &err);
    if (st != ESC_EUSAGE)
        fail_msg("'%s': status %d, want EUSAGE (%s)", expr, st, err.msg);
    assert_true(err.has_offset);
    if (err.offset != pos)
        fail_msg("'%s': error at %llu, want %llu: %s", expr, (unsigned long long)err.offset,
                 (unsigned long long)pos, err.msg);
    assert_non_null(strstr(err.msg, "position"));
}

static int setup_utc(void **state) {
    (void)state;
    return esc_time_set_zone("UTC") ? 0 : -1;
}
static int setup_berlin(void **state) {
    (void)state;
    return esc_time_set_zone("Europe/Berlin") ? 0 : -1;
}

static void test_parse_fields(void **state) {
    (void)state;
    esc_cron c = parse_ok("*/15 1-23/5 * jan,JUL mon-fri");
    assert_int_equal(c.minutes, (1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45));
    assert_int_equal(c.hours, (1u << 1) | (1u << 6) | (1u << 11) | (1u << 16) | (1u << 21));
    assert_int_equal(c.months, (1u << 1) | (1u << 7));
    assert_int_equal(c.wdays, 0x3e);
    assert_true(c.dom_star);
    assert_false(c.dow_star);
    c = parse_ok("0 0 * * 7");
    assert_int_equal(c.wdays, 1);
    c = parse_ok("0 0 * * 5-7");
    assert_int_equal(c.wdays, (1u << 5) | (1u << 6) | 1u);
    c = parse_ok("5/20 0 1,15 * *");
    assert_int_equal(c.minutes, (1ULL << 5) | (1ULL << 25) | (1ULL << 45));
    assert_int_equal(c.mdays, (1u << 1) | (1u << 15));
    assert_false(c.dom_star);
    c = parse_ok("  0\t*  *  *  *  ");
    assert_int_equal(c.minutes, 1);
    assert_int_equal(c.hours, 0xffffff);
    esc_cron a = parse_ok("@hourly"), b = parse_ok("0 * * * *");
    assert_memory_equal(&a, &b, sizeof a);
    a = parse_ok("@daily");
    b = parse_ok("0 0 * * *");
    assert_memory_equal(&a, &b, sizeof a);
    a = parse_ok("@weekly");
    b = parse_ok("0 0 * * sun");
    assert_memory_equal(&a, &b, sizeof a);
}

static void test_parse_errors(void **state) {
    (void)state;
    expect_error("60 * * * *", 0);
    expect_error("* 24 * * *", 2);
    expect_error("* * 0 * *", 4);
    expect_error("* * * 13 *", 6);
    expect_error("* * * * 8", 8);
    expect_error("* * * *", 7);
    expect_error("* * * * * *", 10);
    expect_error("*/0 * * * *", 2);
    expect_error("*/ * * * *", 2);
    expect_error("*/61 * * * *", 2);
    expect_error("5-1 * * * *", 0);
    expect_error("* * * foo *", 6);
    expect_error("* * * * fri-mon", 8);
    expect_error("1,,2 * * * *", 2);
    expect_error("1, * * * *", 2);
    expect_error("1x * * * *", 1);
    expect_error("0 0 30 2 *", 4);
    expect_error("0 0 31 4,6,9,11 *", 4);
    expect_error("@reboot", 0);
    expect_error("", 0);
    expect_error("99999999999 * * * *", 0);
    esc_cron c;
    assert_int_equal(esc_cron_parse(NULL, &c, NULL), ESC_EUSAGE);
    /* Either-day rule: Feb 30 with a weekday still fires (on the weekday). */
    parse_ok("0 0 30 2 mon");
    parse_ok("0 0 29 2 *");
}

static void test_next_utc(void **state) {
    (void)state;
    expect_next("0 * * * *", "2024-05-15T12:34:56Z", "2024-05-15T13:00:00Z");
    expect_next("0 * * * *", "2024-05-15T13:00:00Z", "2024-05-15T14:00:00Z"); /* strictly */
    expect_next("0 * * * *", "2024-05-15T12:59:59Z", "2024-05-15T13:00:00Z");
    expect_next("*/15 * * * *", "2024-05-15T12:00:00Z", "2024-05-15T12:15:00Z");
    expect_next("* * * * *", "2024-12-31T23:59:30Z", "2025-01-01T00:00:00Z");
    expect_next("0 0 1 * *", "2024-01-31T10:00:00Z", "2024-02-01T00:00:00Z");
    expect_next("0 0 29 2 *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z");
    expect_next("0 0 29 2 *", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z");
    expect_next("0 0 31 * *", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z");
    /* Both day fields restricted: either matches. 2024-09-01 is a Sunday. */
    expect_next("0 0 13 * 5", "2024-09-01T00:00:00Z", "2024-09-06T00:00:00Z");
    expect_next("0 0 13 * 5", "2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z");
    expect_next("0 0 13 * 5", "2024-09-13T00:00:00Z", "2024-09-20T00:00:00Z");
    /* Day of month starting with '*': both must match (odd days that are Fridays). */
    expect_next("0 0 */2 * 5", "2024-09-01T00:00:00Z", "2024-09-13T00:00:00Z");
    expect_next("0 0 * * 5", "2024-09-01T00:00:00Z", "2024-09-06T00:00:00Z");
    expect_next("0 0 13 * *", "2024-09-01T00:00:00Z", "2024-09-13T00:00:00Z");
    expect_next("30 8 * * mon-fri", "2024-09-06T09:00:00Z", "2024-09-09T08:30:00Z");
    expect_next("0 12 * dec sun", "2024-01-01T00:00:00Z", "2024-12-01T12:00:00Z");
    expect_next("@yearly", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z");
    esc_cron c = parse_ok("0 0 1 1 *");
    assert_int_equal(esc_cron_next(&c, iso("9999-06-01T00:00:00Z")), ESC_CRON_NEVER);
    assert_int_equal(esc_cron_next(&c, INT64_MIN), ESC_CRON_NEVER);
    assert_int_equal(esc_cron_next(&c, INT64_MAX), ESC_CRON_NEVER);
}

static void test_next_berlin_dst(void **state) {
    (void)state;
    /* Local times in Berlin: fixed-hour jobs run once a day, every day. */
    expect_next("0 0 * * *", "2024-03-30T12:00:00Z", "2024-03-30T23:00:00Z");
    expect_next("0 0 * * *", "2024-03-30T23:00:00Z", "2024-03-31T22:00:00Z");
    expect_next("30 2 * * *", "2024-03-30T12:00:00Z", "2024-03-31T01:30:00Z"); /* 03:30 CEST */
    expect_next("30 2 * * *", "2024-03-31T01:30:00Z", "2024-04-01T00:30:00Z");
    expect_next("30 2 * * *", "2024-10-26T12:00:00Z", "2024-10-27T00:30:00Z"); /* first 02:30 */
    expect_next("30 2 * * *", "2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"); /* not twice */
    expect_next("0 2,3 * * *", "2024-03-30T12:00:00Z", "2024-03-31T01:00:00Z");
    expect_next("0 2,3 * * *", "2024-03-31T01:00:00Z", "2024-04-01T00:00:00Z");
    /* Every-hour jobs follow real time: the repeated hour runs twice, the skipped one never. */
    expect_next("0 * * * *", "2024-03-31T00:00:00Z", "2024-03-31T01:00:00Z");
    expect_next("30 * * * *", "2024-10-27T00:30:00Z", "2024-10-27T01:30:00Z");
    expect_next("*/10 * * * *", "2024-10-27T00:45:00Z", "2024-10-27T00:50:00Z");
    expect_next("*/10 * * * *", "2024-10-27T00:50:00Z", "2024-10-27T01:00:00Z");
    expect_next("0 * 27 10 *", "2024-10-26T23:30:00Z", "2024-10-27T00:00:00Z");
}

static void test_hourly_and_daily_over_a_year_in_berlin(void **state) {
    (void)state;
    esc_cron hourly = parse_ok("0 * * * *");
    esc_cron daily = parse_ok("0 0 * * *");
    int64_t t0 = iso("2024-01-01T00:00:00+01:00"), end = iso("2025-01-01T00:00:00+01:00");
    int n = 0;
    for (int64_t t = t0; t < end; n++) {
        int64_t nx = esc_cron_next(&hourly, t);
        assert_int_equal(nx, t + 3600);
        t = nx;
    }
    assert_int_equal(n, 366 * 24);
    n = 0;
    for (int64_t t = esc_cron_next(&daily, t0 - 1); t < end; n++) {
        esc_civil c;
        esc_civil_split(esc_zone_civil(t), &c);
        assert_int_equal(c.hour, 0);
        assert_int_equal(c.min, 0);
        int64_t nx = esc_cron_next(&daily, t);
        assert_true(nx - t == 86400 || nx - t == 23 * 3600 || nx - t == 25 * 3600);
        t = nx;
    }
    assert_int_equal(n, 366);
}

/* Deterministic PRNG (xorshift64*). */
static uint64_t rng_state;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static void random_field(char *out, size_t cap, int lo, int hi) {
    switch (rnd() % 5) {
    case 0:
        snprintf(out, cap, "*");
        break;
    case 1:
        snprintf(out, cap, "*/%d", (int)(rnd() % 7) + 1);
        break;
    case 2: {
        int a = lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
        int b = a + (int)(rnd() % (uint64_t)(hi - a + 1));
        snprintf(out, cap, "%d-%d", a, b);
        break;
    }
    case 3:
        snprintf(out, cap, "%d,%d", lo + (int)(rnd() % (uint64_t)(hi - lo + 1)),
                 lo + (int)(rnd() % (uint64_t)(hi - lo + 1)));
        break;
    default:
        snprintf(out, cap, "%d", lo + (int)(rnd() % (uint64_t)(hi - lo + 1)));
        break;
    }
}

/* First minute-aligned instant > after whose wall-clock reading matches, scanning at most
 * `limit` minutes; -1 if none. This is the definition of every-hour schedules, and of all
 * schedules away from DST changes. */
static int64_t scan_next(const esc_cron *c, int64_t after, int64_t limit) {
    int64_t t = esc_floordiv(after, 60) * 60 + 60;
    for (int64_t k = 0; k < limit; k++, t += 60) {
        esc_civil v;
        esc_civil_split(esc_zone_civil(t), &v);
        if (esc_cron_matches_civil(c, v.year, v.mon, v.mday, v.hour, v.min))
            return t;
    }
    return -1;
}

static void compare_with_scan(int samples) {
    rng_state = 0x9E3779B97F4A7C15ULL;
    int64_t base = iso("2024-01-01T00:00:00Z");
    int checked = 0;
    for (int i = 0; i < samples; i++) {
        char f[5][32], expr[200];
        random_field(f[0], sizeof f[0], 0, 59);
        random_field(f[1], sizeof f[1], 0, 23);
        random_field(f[2], sizeof f[2], 1, 28);
        snprintf(f[3], sizeof f[3], "*");
        random_field(f[4], sizeof f[4], 0, 7);
        snprintf(expr, sizeof expr, "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
        esc_cron c;
        esc_error err = {0};
        if (esc_cron_parse(expr, &c, &err) != ESC_OK)
            fail_msg("%s: %s", expr, err.msg);
        int64_t after = base + (int64_t)(rnd() % (366 * 86400ULL));
        /* Put a third of the samples right before a DST change. */
        if (i % 3 == 0)
            after = iso(i % 2 ? "2024-10-27T00:00:00Z" : "2024-03-31T00:00:00Z") -
                    (int64_t)(rnd() % 7200);
        int64_t limit = 40 * 24 * 60;
        int64_t want = scan_next(&c, after, limit);
        int64_t got = esc_cron_next(&c, after);
        bool every_hour = (c.hours & 0xffffff) == 0xffffff;
        assert_true(got > after && got < iso("2030-01-01T00:00:00Z"));
        bool quiet = esc_zone_offset(after - 86400) == esc_zone_offset(got + 86400) &&
                     esc_zone_offset(after) == esc_zone_offset(got);
        if (want < 0) {
            assert_true(got > after + limit * 60 - 7200);
            continue;
        }
        if (every_hour || quiet) {
            if (got != want)
                fail_msg("'%s' after %lld: got %lld, scan %lld", expr, (long long)after,
                         (long long)got, (long long)want);
            checked++;
        } else {
            /* Fixed-hour schedule across a DST change: the reading matches, or it is a skipped
             * time moved just after the gap (one hour later in Berlin). */
            esc_civil v, w;
            esc_civil_split(esc_zone_civil(got), &v);
            esc_civil_split(esc_zone_civil(got) - 3600, &w);
            assert_true(esc_cron_matches_civil(&c, v.year, v.mon, v.mday, v.hour, v.min) ||
                        esc_cron_matches_civil(&c, w.year, w.mon, w.mday, w.hour, w.min));
        }
    }
    assert_true(checked > samples / 2);
}

static void test_random_against_scan_utc(void **state) {
    (void)state;
    compare_with_scan(150);
}
static void test_random_against_scan_berlin(void **state) {
    (void)state;
    compare_with_scan(150);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_parse_fields, setup_utc),
        cmocka_unit_test_setup(test_parse_errors, setup_utc),
        cmocka_unit_test_setup(test_next_utc, setup_utc),
        cmocka_unit_test_setup(test_next_berlin_dst, setup_berlin),
        cmocka_unit_test_setup(test_hourly_and_daily_over_a_year_in_berlin, setup_berlin),
        cmocka_unit_test_setup(test_random_against_scan_utc, setup_utc),
        cmocka_unit_test_setup(test_random_against_scan_berlin, setup_berlin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
