/* The agenda of due runs (sched/agenda.h), driven by a manual clock: order, catch-up after
 * downtime, and restarts at every point of a two-day replay giving exactly the uninterrupted
 * sequence of runs (none lost, none repeated). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h> /* core/timeutil.h uses struct tm */

#include <cmocka.h>

#include "core/timeutil.h"
#include "sched/agenda.h"
#include "sched/clock.h"

static int64_t iso(const char *s) {
    int64_t us = 0;
    assert_true(esc_time_parse_iso(esc_str_c(s), &us));
    return esc_time_sec(us);
}

static esc_schedule sched(const char *cron, const char *e, const char *l) {
    esc_schedule s;
    assert_int_equal(esc_schedule_parse(&s, cron, e, l, NULL), ESC_OK);
    return s;
}

static int setup_utc(void **state) {
    (void)state;
    return esc_time_set_zone("UTC") ? 0 : -1;
}

typedef struct rec {
    size_t job;
    int64_t t, e, l;
} rec;

#define MAXREC 256

/* Drive an agenda with a manual clock up to `end`, recording runs; stop before run number
 * `stop_after` (a crash; SIZE_MAX for none). Returns the number of runs recorded. */
static size_t drive(esc_agenda *a, esc_clock *clk, int64_t end, rec *out, size_t stop_after) {
    size_t n = 0;
    for (;;) {
        esc_run r;
        while (esc_agenda_pop_due(a, esc_clock_now_sec(clk), &r, NULL) == ESC_OK) {
            if (n == stop_after)
                return n;
            assert_true(n < MAXREC);
            out[n++] = (rec){r.job, r.scheduled, r.window.earliest, r.window.latest};
        }
        int64_t next = esc_agenda_next_time(a);
        if (next >= end)
            return n;
        assert_int_equal(esc_clock_wait_until(clk, next * 1000000, INT64_MAX), ESC_OK);
    }
}

static esc_agenda *two_jobs(int64_t resume_hourly, int64_t resume_daily) {
    esc_agenda *a = esc_agenda_new();
    assert_non_null(a);
    esc_schedule h = sched("0 * * * *", "-70m@m", "-10m@m");
    esc_schedule d = sched("10 0 * * *", "-1450m@m", "-10m@m");
    size_t j = 9;
    assert_int_equal(esc_agenda_add(a, "hourly", &h, resume_hourly, &j, NULL), ESC_OK);
    assert_int_equal(j, 0);
    assert_int_equal(esc_agenda_add(a, "daily", &d, resume_daily, &j, NULL), ESC_OK);
    assert_int_equal(j, 1);
    assert_int_equal(esc_agenda_count(a), 2);
    return a;
}

static void test_order_and_windows(void **state) {
    (void)state;
    int64_t start = iso("2024-05-15T00:00:00Z"), end = iso("2024-05-17T00:00:00Z");
    esc_clock *clk = esc_clock_new_manual(start * 1000000);
    esc_agenda *a = two_jobs(start, start);
    rec r[MAXREC];
    size_t n = drive(a, clk, end, r, SIZE_MAX);
    assert_int_equal(n, 47 + 2); /* hourly 01:00 .. 23:00 the next day; daily at 00:10 twice */
    for (size_t i = 1; i < n; i++)
        assert_true(r[i].t > r[i - 1].t);
    assert_int_equal(r[0].job, 1);
    assert_int_equal(r[0].t, iso("2024-05-15T00:10:00Z"));
    assert_int_equal(r[0].e, iso("2024-05-14T00:00:00Z"));
    assert_int_equal(r[0].l, iso("2024-05-15T00:00:00Z"));
    assert_int_equal(r[1].job, 0);
    assert_int_equal(r[1].t, iso("2024-05-15T01:00:00Z"));
    assert_int_equal(r[1].e, iso("2024-05-14T23:50:00Z"));
    assert_int_equal(r[1].l, iso("2024-05-15T00:50:00Z"));
    size_t daily = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].job == 1 && daily++ == 1) {
            assert_int_equal(r[i].t, iso("2024-05-16T00:10:00Z"));
            assert_int_equal(r[i].e, iso("2024-05-15T00:00:00Z"));
            assert_int_equal(r[i - 1].t, iso("2024-05-16T00:00:00Z"));
        }
    }
    assert_int_equal(daily, 2);
    /* Nothing is due before its time; the clock was never read except through `clk`. */
    esc_run run;
    assert_int_equal(esc_agenda_pop_due(a, end - 1, &run, NULL), ESC_EOF);
    assert_int_equal(esc_agenda_next_time(a), end);
    assert_int_equal(esc_agenda_pop_due(a, end, &run, NULL), ESC_OK);
    assert_string_equal(run.id, "hourly");
    assert_int_equal(esc_agenda_pop_due(a, end + 3600, &run, NULL), ESC_OK);
    assert_string_equal(run.id, "daily"); /* 00:10 comes before 01:00 */
    esc_agenda_free(a);
    esc_clock_free(clk);
}

static void test_catch_up(void **state) {
    (void)state;
    /* Down for ten hours: every missed run comes back at once, in order, then nothing. */
    int64_t now = iso("2024-05-15T10:30:00Z");
    esc_agenda *a = esc_agenda_new();
    esc_schedule h = sched("0 * * * *", "-70m@m", "-10m@m");
    assert_int_equal(esc_agenda_add(a, "hourly", &h, now - 10 * 3600, NULL, NULL), ESC_OK);
    esc_run r;
    int64_t prev_latest = 0;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(esc_agenda_pop_due(a, now, &r, NULL), ESC_OK);
        assert_int_equal(r.scheduled, iso("2024-05-15T01:00:00Z") + i * 3600);
        if (i)
            assert_int_equal(r.window.earliest, prev_latest);
        prev_latest = r.window.latest;
    }
    assert_int_equal(esc_agenda_pop_due(a, now, &r, NULL), ESC_EOF);
    esc_agenda_free(a);
}

static void test_restart_anywhere(void **state) {
    (void)state;
    int64_t start = iso("2024-05-15T00:00:00Z"), end = iso("2024-05-17T00:00:00Z");
    rec whole[MAXREC];
    esc_clock *clk = esc_clock_new_manual(start * 1000000);
    esc_agenda *a = two_jobs(start, start);
    size_t n = drive(a, clk, end, whole, SIZE_MAX);
    esc_agenda_free(a);
    esc_clock_free(clk);

    for (size_t crash = 0; crash <= n; crash++) {
        rec got[MAXREC];
        clk = esc_clock_new_manual(start * 1000000);
        a = two_jobs(start, start);
        size_t k = drive(a, clk, end, got, crash);
        esc_agenda_free(a);
        /* Restart: each job resumes after its last fired run (what the checkpoint holds). */
        int64_t resume[2] = {start, start};
        for (size_t i = 0; i < k; i++)
            resume[got[i].job] = got[i].t;
        /* Some time passes while down. */
        esc_clock_advance(clk, 1800 * INT64_C(1000000));
        a = two_jobs(resume[0], resume[1]);
        k += drive(a, clk, end, got + k, SIZE_MAX);
        esc_agenda_free(a);
        esc_clock_free(clk);
        assert_int_equal(k, n);
        assert_memory_equal(got, whole, n * sizeof whole[0]);
    }
}

static void test_errors(void **state) {
    (void)state;
    esc_agenda *a = esc_agenda_new();
    esc_schedule h = sched("0 * * * *", "-70m@m", "-10m@m");
    esc_error err = {0};
    assert_int_equal(esc_agenda_add(a, "", &h, 0, NULL, &err), ESC_EUSAGE);
    assert_int_equal(esc_agenda_add(a, NULL, &h, 0, NULL, &err), ESC_EUSAGE);
    char id[ESC_AGENDA_MAX_ID + 2];
    memset(id, 'x', sizeof id - 1);
    id[sizeof id - 1] = 0;
    assert_int_equal(esc_agenda_add(a, id, &h, 0, NULL, &err), ESC_ELIMIT);
    esc_run r;
    assert_int_equal(esc_agenda_pop_due(a, INT64_MAX, &r, NULL), ESC_EOF);
    assert_int_equal(esc_agenda_next_time(a), ESC_CRON_NEVER);
    /* A backwards window is reported for its run, and the job moves on. */
    esc_schedule bad = sched("0 * * * *", "-10m@m", "-70m@m");
    assert_int_equal(esc_agenda_add(a, "bad", &bad, iso("2024-05-15T00:00:00Z"), NULL, &err),
                     ESC_OK);
    assert_int_equal(esc_agenda_pop_due(a, iso("2024-05-15T02:00:00Z"), &r, &err), ESC_ECONTENT);
    assert_int_equal(r.scheduled, iso("2024-05-15T01:00:00Z"));
    assert_int_equal(esc_agenda_pop_due(a, iso("2024-05-15T02:00:00Z"), &r, &err), ESC_ECONTENT);
    assert_int_equal(r.scheduled, iso("2024-05-15T02:00:00Z"));
    assert_int_equal(esc_agenda_pop_due(a, iso("2024-05-15T02:00:00Z"), &r, &err), ESC_EOF);
    esc_agenda_free(a);
    esc_agenda_free(NULL);
}

static void test_many_jobs_heap_order(void **state) {
    (void)state;
    /* 200 jobs at different minutes: runs come out sorted by time, then by job index. */
    esc_agenda *a = esc_agenda_new();
    int64_t start = iso("2024-05-15T00:00:00Z");
    for (int i = 0; i < 200; i++) {
        char cron[32], id[16];
        snprintf(cron, sizeof cron, "%d * * * *", (i * 7) % 60);
        snprintf(id, sizeof id, "d%d", i);
        esc_schedule s = sched(cron, "-1h@h", "@h");
        assert_int_equal(esc_agenda_add(a, id, &s, start, NULL, NULL), ESC_OK);
    }
    esc_run r;
    int64_t pt = 0;
    size_t pj = 0, n = 0;
    while (esc_agenda_pop_due(a, start + 3 * 3600, &r, NULL) == ESC_OK) {
        assert_true(r.scheduled > pt || (r.scheduled == pt && r.job > pj));
        pt = r.scheduled;
        pj = r.job;
        n++;
    }
    assert_int_equal(n, 200 * 3); /* minute-0 jobs run at 01, 02, 03:00, the others at 00, 01, 02 */
    esc_agenda_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_order_and_windows, setup_utc),
        cmocka_unit_test_setup(test_catch_up, setup_utc),
        cmocka_unit_test_setup(test_restart_anywhere, setup_utc),
        cmocka_unit_test_setup(test_errors, setup_utc),
        cmocka_unit_test_setup(test_many_jobs_heap_order, setup_utc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
