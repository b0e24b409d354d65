/* Relative and absolute time specifications (sched/reltime.h), in UTC and across DST in
 * Europe/Berlin (2024: clocks go forward 31 Mar 01:00Z, back 27 Oct 01:00Z). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h> /* core/timeutil.h uses struct tm */

#include <cmocka.h>

#include "core/timeutil.h"
#include "sched/reltime.h"

static int64_t iso(const char *s) {
    int64_t us = 0;
    assert_true(esc_time_parse_iso(esc_str_c(s), &us));
    return esc_time_sec(us);
}

static void expect_spec(const char *spec, const char *now, const char *want) {
    int64_t out = 0;
    esc_error err = {0};
    esc_status st = esc_time_spec_parse(spec, iso(now), &out, &err);
    if (st != ESC_OK)
        fail_msg("%s: %s", spec, err.msg);
    if (out != iso(want))
        fail_msg("%s at %s: got %lld, want %s (%lld)", spec, now, (long long)out, want,
                 (long long)iso(want));
}

static void expect_error(const char *spec, esc_status code, uint64_t pos) {
    int64_t out = 0;
    esc_error err = {0};
    esc_status st = esc_time_spec_parse(spec, 1700000000, &out, &err);
    if (st != code)
        fail_msg("%s: status %d, want %d (%s)", spec, st, code, err.msg);
    assert_int_equal(err.code, code);
    assert_true(err.has_offset);
    if (err.offset != pos)
        fail_msg("%s: error at %llu, want %llu (%s)", spec, (unsigned long long)err.offset,
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

static void test_relative_utc(void **state) {
    (void)state;
    const char *now = "2024-05-15T12:34:56Z"; /* a Wednesday */
    expect_spec("-70m@m", now, "2024-05-15T11:24:00Z");
    expect_spec("-10m@m", now, "2024-05-15T12:24:00Z");
    expect_spec("@h", now, "2024-05-15T12:00:00Z");
    expect_spec("-1d@d", now, "2024-05-14T00:00:00Z");
    expect_spec("-d@d", now, "2024-05-14T00:00:00Z");
    expect_spec("+2h", now, "2024-05-15T14:34:56Z");
    expect_spec("-7d@w0", now, "2024-05-05T00:00:00Z");
    expect_spec("@w", now, "2024-05-12T00:00:00Z");
    expect_spec("@w7", now, "2024-05-12T00:00:00Z");
    expect_spec("@w1", now, "2024-05-13T00:00:00Z");
    expect_spec("@w3", now, "2024-05-15T00:00:00Z"); /* today is Wednesday: snaps to today */
    expect_spec("@w4", now, "2024-05-09T00:00:00Z");
    expect_spec("-1mon@mon", now, "2024-04-01T00:00:00Z");
    expect_spec("-1y@y", now, "2023-01-01T00:00:00Z");
    expect_spec("-30s", now, "2024-05-15T12:34:26Z");
    expect_spec("-1d@d+8h", now, "2024-05-14T08:00:00Z");
    expect_spec("@d-1h@h+30m", now, "2024-05-14T23:30:00Z");
    expect_spec("@q", now, "2024-04-01T00:00:00Z");
    expect_spec("+1q@q", now, "2024-07-01T00:00:00Z");
    expect_spec("-2qtr", now, "2023-11-15T12:34:56Z");
    expect_spec("-3weeks", now, "2024-04-24T12:34:56Z");
    expect_spec("+90minutes", now, "2024-05-15T14:04:56Z");
    expect_spec("-1hr@s", now, "2024-05-15T11:34:56Z");
    expect_spec("now", now, now);
    expect_spec("now-1h", now, "2024-05-15T11:34:56Z");
    expect_spec("-0s", now, now);
    /* Month arithmetic clamps the day. */
    expect_spec("-1mon", "2024-03-31T10:00:00Z", "2024-02-29T10:00:00Z");
    expect_spec("-1y", "2024-02-29T10:00:00Z", "2023-02-28T10:00:00Z");
    expect_spec("+1month", "2023-12-31T00:00:00Z", "2024-01-31T00:00:00Z");
}

static void test_absolute(void **state) {
    (void)state;
    const char *now = "2024-05-15T12:34:56Z";
    expect_spec("1700000000", now, "2023-11-14T22:13:20Z");
    expect_spec("1700000000.999", now, "2023-11-14T22:13:20Z");
    expect_spec("0", now, "1970-01-01T00:00:00Z");
    expect_spec("2024-01-02T03:04:05Z", now, "2024-01-02T03:04:05Z");
    expect_spec("2024-01-02T03:04:05+02:00", now, "2024-01-02T01:04:05Z");
    expect_spec("2024-01-02T03:04:05", now, "2024-01-02T03:04:05Z");
    expect_spec("2024-01-02", now, "2024-01-02T00:00:00Z");
    expect_spec("01/02/2024:03:04:05", now, "2024-01-02T03:04:05Z");
}

static void test_errors(void **state) {
    (void)state;
    expect_error("-70x@m", ESC_EUSAGE, 3);
    expect_error("-70", ESC_EUSAGE, 3);
    expect_error("-70m@", ESC_EUSAGE, 5);
    expect_error("@", ESC_EUSAGE, 1);
    expect_error("-1d@w8", ESC_EUSAGE, 5);
    expect_error("-1d@d5", ESC_EUSAGE, 5);
    expect_error("-1d@dd", ESC_EUSAGE, 4);
    expect_error("yesterday", ESC_EUSAGE, 0);
    expect_error("12abc", ESC_EUSAGE, 0);
    expect_error("-1d @d", ESC_EUSAGE, 3);
    expect_error("-1d*2", ESC_EUSAGE, 3);
    expect_error("nowish", ESC_EUSAGE, 3);
    expect_error("-1234567890s", ESC_ELIMIT, 10);
    expect_error("", ESC_EUSAGE, 0);
    expect_error("2024-02-30", ESC_EUSAGE, 0);
    expect_error("13/01/2024:00:00:00", ESC_EUSAGE, 0);
    /* 17 terms */
    expect_error("-1s-1s-1s-1s-1s-1s-1s-1s-1s-1s-1s-1s-1s-1s-1s-1s-1s", ESC_ELIMIT, 48);
    char big[ESC_RELTIME_MAX_LEN + 8];
    memset(big, '@', sizeof big - 1);
    big[sizeof big - 1] = 0;
    int64_t out;
    assert_int_equal(esc_time_spec_parse(big, 0, &out, NULL), ESC_ELIMIT);
    /* Out of range results are errors, not wrapped values. */
    esc_error err = {0};
    assert_int_equal(esc_time_spec_parse("+999999999y", 1700000000, &out, &err), ESC_EUSAGE);
    assert_int_equal(esc_time_spec_parse("-999999999d", 1700000000, &out, &err), ESC_EUSAGE);
    assert_int_equal(esc_time_spec_parse("+999999999w", 1700000000, &out, &err), ESC_EUSAGE);
    assert_int_equal(esc_time_spec_parse("-999999999h", 1700000000, &out, &err), ESC_EUSAGE);
    assert_int_equal(esc_time_spec_parse("99999999999999", 0, &out, &err), ESC_EUSAGE);
    assert_int_equal(esc_time_spec_parse("@d", INT64_MAX, &out, &err), ESC_EUSAGE);
    assert_int_equal(esc_time_spec_parse(NULL, 0, &out, &err), ESC_EUSAGE);
}

static void test_parse_once_apply_many(void **state) {
    (void)state;
    esc_reltime rt;
    assert_int_equal(esc_reltime_parse("-70m@m", &rt, NULL), ESC_OK);
    assert_false(rt.absolute);
    assert_int_equal(rt.nterms, 2);
    int64_t a, b;
    assert_int_equal(esc_reltime_apply(&rt, iso("2024-05-15T12:00:00Z"), &a, NULL), ESC_OK);
    assert_int_equal(esc_reltime_apply(&rt, iso("2024-05-15T13:00:00Z"), &b, NULL), ESC_OK);
    assert_int_equal(b - a, 3600);
    assert_int_equal(a, iso("2024-05-15T10:50:00Z"));
}

static void test_berlin_spring_forward(void **state) {
    (void)state;
    /* 03:30 CEST, 90 minutes after local midnight (the 02:00-03:00 hour does not exist). */
    const char *now = "2024-03-31T01:30:00Z";
    expect_spec("@h", now, "2024-03-31T01:00:00Z");
    expect_spec("@d", now, "2024-03-30T23:00:00Z");
    expect_spec("-1d", now, "2024-03-30T02:30:00Z"); /* 03:30 CET the day before: 23h earlier */
    expect_spec("-24h", now, "2024-03-30T01:30:00Z");
    expect_spec("-70m@m", now, "2024-03-31T00:20:00Z");
    expect_spec("-1d@d", "2024-03-31T12:00:00Z", "2024-03-29T23:00:00Z");
    expect_spec("@d+8h", "2024-03-31T12:00:00Z", "2024-03-31T07:00:00Z"); /* elapsed hours */
    expect_spec("@d+1d", "2024-03-31T12:00:00Z", "2024-03-31T22:00:00Z"); /* next midnight */
    expect_spec("@w0", "2024-04-02T10:00:00Z", "2024-03-30T23:00:00Z");
    expect_spec("@mon", "2024-04-02T10:00:00Z", "2024-03-31T22:00:00Z");
    expect_spec("@y", "2024-07-01T00:00:00Z", "2023-12-31T23:00:00Z");
    /* Zone-less absolute times are read in the configured zone. */
    expect_spec("2024-03-31T12:00:00", now, "2024-03-31T10:00:00Z");
    expect_spec("2024-03-31", now, "2024-03-30T23:00:00Z");
    expect_spec("01/15/2024:12:00:00", now, "2024-01-15T11:00:00Z");
}

static void test_berlin_fall_back(void **state) {
    (void)state;
    /* 02:30 CEST (first) and 02:30 CET (second). Snapping always goes down. */
    expect_spec("@h", "2024-10-27T00:30:00Z", "2024-10-27T00:00:00Z");
    expect_spec("@h", "2024-10-27T01:30:00Z", "2024-10-27T01:00:00Z");
    expect_spec("@m", "2024-10-27T01:30:30Z", "2024-10-27T01:30:00Z");
    expect_spec("@d", "2024-10-27T01:30:00Z", "2024-10-26T22:00:00Z");
    expect_spec("-70m@m", "2024-10-27T01:30:00Z", "2024-10-27T00:20:00Z");
    expect_spec("@d+1d", "2024-10-27T12:00:00Z", "2024-10-27T23:00:00Z"); /* a 25 hour day */
    /* Adding days keeps the offset of the starting reading when the target is repeated. */
    expect_spec("+1d", "2024-10-26T00:30:00Z", "2024-10-27T00:30:00Z");
    expect_spec("-1d", "2024-10-28T01:30:00Z", "2024-10-27T01:30:00Z" /* 02:30 CET */);
}

static void test_hourly_snaps_tile_across_dst(void **state) {
    (void)state;
    /* For every hour of 2024 in Berlin, [now-70m@m, now-10m@m) windows at consecutive UTC
     * hours meet exactly. */
    esc_reltime e, l;
    assert_int_equal(esc_reltime_parse("-70m@m", &e, NULL), ESC_OK);
    assert_int_equal(esc_reltime_parse("-10m@m", &l, NULL), ESC_OK);
    int64_t t0 = iso("2024-01-01T00:00:00Z"), prev_latest = 0;
    for (int64_t t = t0; t < t0 + 366 * 86400; t += 3600) {
        int64_t a, b;
        assert_int_equal(esc_reltime_apply(&e, t, &a, NULL), ESC_OK);
        assert_int_equal(esc_reltime_apply(&l, t, &b, NULL), ESC_OK);
        assert_int_equal(b - a, 3600);
        if (t > t0)
            assert_int_equal(a, prev_latest);
        prev_latest = b;
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_relative_utc, setup_utc),
        cmocka_unit_test_setup(test_absolute, setup_utc),
        cmocka_unit_test_setup(test_errors, setup_utc),
        cmocka_unit_test_setup(test_parse_once_apply_many, setup_utc),
        cmocka_unit_test_setup(test_berlin_spring_forward, setup_berlin),
        cmocka_unit_test_setup(test_berlin_fall_back, setup_berlin),
        cmocka_unit_test_setup(test_hourly_snaps_tile_across_dst, setup_berlin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
