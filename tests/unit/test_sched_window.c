/* Deployment windows (sched/window.h): ESCU's hourly and daily schedules, tiling over a year in
 * UTC and in Europe/Berlin, which runs cover an event, and limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h> /* core/timeutil.h uses struct tm */

#include <cmocka.h>

#include "core/timeutil.h"
#include "sched/window.h"

static int64_t iso(const char *s) {
    int64_t us = 0;
    assert_true(esc_time_parse_iso(esc_str_c(s), &us));
    return esc_time_sec(us);
}

static esc_schedule sched(const char *cron, const char *e, const char *l) {
    esc_schedule s;
    esc_error err = {0};
    if (esc_schedule_parse(&s, cron, e, l, &err) != ESC_OK)
        fail_msg("%s", err.msg);
    return s;
}

static int setup_utc(void **state) {
    (void)state;
    return esc_time_set_zone("UTC") ? 0 : -1;
}
static int setup_berlin(void **state) {
    (void)state;
    return esc_time_set_zone("Europe/Berlin") ? 0 : -1;
}

static void test_escu_hourly_window(void **state) {
    (void)state;
    esc_schedule s = sched("0 * * * *", "-70m@m", "-10m@m");
    esc_window w;
    assert_int_equal(esc_schedule_window(&s, iso("2024-05-15T13:00:00Z"), &w, NULL), ESC_OK);
    assert_int_equal(w.earliest, iso("2024-05-15T11:50:00Z"));
    assert_int_equal(w.latest, iso("2024-05-15T12:50:00Z"));
    assert_int_equal(esc_schedule_next(&s, iso("2024-05-15T12:10:00Z")),
                     iso("2024-05-15T13:00:00Z"));

    int64_t times[32];
    size_t n = 0;
    assert_int_equal(esc_schedule_times(&s, iso("2024-05-15T00:00:00Z"),
                                        iso("2024-05-16T00:00:00Z"), times, 32, &n, NULL),
                     ESC_OK);
    assert_int_equal(n, 24); /* [a, b): includes 00:00, excludes the next midnight */
    assert_int_equal(times[0], iso("2024-05-15T00:00:00Z"));
    assert_int_equal(times[23], iso("2024-05-15T23:00:00Z"));
    esc_error err = {0};
    assert_int_equal(esc_schedule_times(&s, iso("2024-05-15T00:00:00Z"),
                                        iso("2024-05-16T00:00:00Z"), times, 10, &n, &err),
                     ESC_ELIMIT);
    assert_int_equal(
        esc_schedule_times(&s, INT64_MIN, iso("1900-01-01T03:00:00Z"), times, 32, &n, NULL),
        ESC_OK);
    assert_int_equal(n, 3);
}

static void test_escu_daily_window(void **state) {
    (void)state;
    esc_schedule s = sched("10 0 * * *", "-1450m@m", "-10m@m");
    esc_window w;
    assert_int_equal(esc_schedule_window(&s, iso("2024-05-15T00:10:00Z"), &w, NULL), ESC_OK);
    assert_int_equal(w.earliest, iso("2024-05-14T00:00:00Z"));
    assert_int_equal(w.latest, iso("2024-05-15T00:00:00Z"));
}

static void test_runs_covering(void **state) {
    (void)state;
    esc_schedule s = sched("0 * * * *", "-70m@m", "-10m@m");
    int64_t runs[8];
    size_t n = 0;
    assert_int_equal(esc_schedule_runs_covering(&s, iso("2024-05-15T12:30:00Z"), runs, 8, &n, NULL),
                     ESC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(runs[0], iso("2024-05-15T13:00:00Z"));
    /* The bound belongs to the later window. */
    assert_int_equal(esc_schedule_runs_covering(&s, iso("2024-05-15T12:50:00Z"), runs, 8, &n, NULL),
                     ESC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(runs[0], iso("2024-05-15T14:00:00Z"));
    /* Overlapping windows: every 30 minutes over an hour. */
    esc_schedule o = sched("*/30 * * * *", "-70m@m", "-10m@m");
    assert_int_equal(esc_schedule_runs_covering(&o, iso("2024-05-15T12:30:00Z"), runs, 8, &n, NULL),
                     ESC_OK);
    assert_int_equal(n, 2);
    assert_int_equal(runs[0], iso("2024-05-15T13:00:00Z"));
    assert_int_equal(runs[1], iso("2024-05-15T13:30:00Z"));
    esc_error err = {0};
    assert_int_equal(esc_schedule_runs_covering(&o, iso("2024-05-15T12:30:00Z"), runs, 1, &n, &err),
                     ESC_ELIMIT);
}

static void test_parse_errors(void **state) {
    (void)state;
    esc_schedule s;
    esc_error err = {0};
    assert_int_equal(esc_schedule_parse(&s, "0 * * *", "-70m@m", "-10m@m", &err), ESC_ECONTENT);
    assert_non_null(strstr(err.msg, "cron_schedule"));
    assert_int_equal(err.offset, 7);
    assert_int_equal(esc_schedule_parse(&s, "0 * * * *", "-70x@m", "-10m@m", &err), ESC_ECONTENT);
    assert_non_null(strstr(err.msg, "earliest_time"));
    assert_int_equal(esc_schedule_parse(&s, "0 * * * *", "-70m@m", "-10", &err), ESC_ECONTENT);
    assert_non_null(strstr(err.msg, "latest_time"));
    assert_int_equal(esc_schedule_parse(&s, NULL, "-70m@m", "-10m@m", &err), ESC_ECONTENT);
    /* Backwards window: parses, but no window can be made. */
    s = sched("0 * * * *", "-10m@m", "-70m@m");
    esc_window w;
    assert_int_equal(esc_schedule_window(&s, iso("2024-05-15T13:00:00Z"), &w, &err), ESC_ECONTENT);
    esc_tiling r;
    assert_int_equal(esc_schedule_check_tiling(&s, iso("2024-05-15T00:00:00Z"),
                                               iso("2024-05-16T00:00:00Z"), &r, &err),
                     ESC_ECONTENT);
}

static void check_year(const char *cron, const char *e, const char *l, const char *from,
                       const char *to, size_t want_runs, size_t want_gaps, size_t want_overlaps) {
    esc_schedule s = sched(cron, e, l);
    esc_tiling r;
    esc_error err = {0};
    assert_int_equal(esc_schedule_check_tiling(&s, iso(from), iso(to), &r, &err), ESC_OK);
    if (r.runs != want_runs || r.gaps != want_gaps || r.overlaps != want_overlaps)
        fail_msg("%s %s %s: runs %zu gaps %zu overlaps %zu (first bad run %lld, delta %lld)", cron,
                 e, l, r.runs, r.gaps, r.overlaps, (long long)r.first_bad_run,
                 (long long)r.first_bad_delta);
}

static void test_tiling_utc(void **state) {
    (void)state;
    check_year("0 * * * *", "-70m@m", "-10m@m", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z",
               366 * 24, 0, 0);
    check_year("10 0 * * *", "-1450m@m", "-10m@m", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z",
               366, 0, 0);
    check_year("*/15 * * * *", "-25m@m", "-10m@m", "2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z",
               7 * 96, 0, 0);
    /* A deliberately bad pair is detected: 70 minutes every hour overlaps by 10 minutes. */
    check_year("0 * * * *", "-80m@m", "-10m@m", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", 24,
               0, 23);
    check_year("0 * * * *", "-60m@m", "-20m@m", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", 24,
               23, 0);
}

static void test_tiling_berlin(void **state) {
    (void)state;
    /* Hourly windows follow real time across both DST changes: no gap, no overlap. */
    check_year("0 * * * *", "-70m@m", "-10m@m", "2024-01-01T00:00:00+01:00",
               "2025-01-01T00:00:00+01:00", 366 * 24, 0, 0);
    check_year("0 * * * *", "-1h@h", "@h", "2024-01-01T00:00:00+01:00", "2025-01-01T00:00:00+01:00",
               366 * 24, 0, 0);
    /* Calendar-day windows tile too. */
    check_year("10 0 * * *", "-1d@d", "@d", "2024-01-01T00:00:00+01:00",
               "2025-01-01T00:00:00+01:00", 366, 0, 0);
    /* ESCU's daily deployment counts elapsed minutes: on the 23-hour day the window reaches an
     * hour into the previous one, on the 25-hour day it leaves an hour out. */
    check_year("10 0 * * *", "-1450m@m", "-10m@m", "2024-01-01T00:00:00+01:00",
               "2025-01-01T00:00:00+01:00", 366, 1, 1);
}

/* The span esc_schedule_runs_covering_span reports: every event time in it has the covering runs
 * of the time asked about (run_window.c reuses the answer across it), checked every minute or so
 * around DST changes and for hourly, daily and 15-minute schedules. */
static void check_spans(const char *cron, const char *e, const char *l, const char *from) {
    esc_schedule s = sched(cron, e, l);
    int64_t t0 = iso(from), a[16], b[16];
    for (int64_t t = t0; t < t0 + 3 * 86400; t += 5 * 3600 + 1237) {
        size_t na, nb;
        int64_t lo, hi, lo2, hi2;
        assert_int_equal(esc_schedule_runs_covering_span(&s, t, a, 16, &na, &lo, &hi, NULL),
                         ESC_OK);
        assert_true(lo <= t && t < hi && t - lo <= 3600 && hi - t <= 3600);
        for (int64_t u = lo; u < hi; u += 181) {
            assert_int_equal(esc_schedule_runs_covering_span(&s, u, b, 16, &nb, &lo2, &hi2, NULL),
                             ESC_OK);
            if (na != nb || memcmp(a, b, na * sizeof *a))
                fail_msg("%s: %lld and %lld (in its span [%lld, %lld)) differ", cron, (long long)t,
                         (long long)u, (long long)lo, (long long)hi);
        }
    }
}

static void test_covering_spans(void **state) {
    (void)state;
    check_spans("0 * * * *", "-70m@m", "-10m@m", "2024-03-30T12:00:00+01:00");
    check_spans("10 0 * * *", "-1450m@m", "-10m@m", "2024-10-26T00:00:00+02:00");
    check_spans("*/15 * * * *", "-1h@h", "@h", "2024-03-30T22:00:00+01:00");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_escu_hourly_window, setup_utc),
        cmocka_unit_test_setup(test_escu_daily_window, setup_utc),
        cmocka_unit_test_setup(test_runs_covering, setup_utc),
        cmocka_unit_test_setup(test_parse_errors, setup_utc),
        cmocka_unit_test_setup(test_tiling_utc, setup_utc),
        cmocka_unit_test_setup(test_tiling_berlin, setup_berlin),
        cmocka_unit_test_setup(test_covering_spans, setup_berlin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
