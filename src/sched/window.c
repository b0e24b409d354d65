/* Windows of scheduled runs (see window.h).
 *
 * Everything here is a composition of esc_cron_next and esc_reltime_apply; the only state is the
 * parsed esc_schedule value. Invariant: every scan is bounded by ESC_SCHEDULE_MAX_SCAN runs, so a
 * minute-by-minute cron over a huge range ends with ESC_ELIMIT instead of running for hours.
 * Deliberately not done: caching, reading the clock, deciding what has already run. */
#include "sched/window.h"

#include <stdio.h>
#include <string.h>

#include "sched/zone.h"

static esc_status field_error(esc_error *err, const char *field, esc_error *inner) {
    char msg[ESC_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", inner->msg);
    return esc_error_at(err, ESC_ECONTENT, NULL, inner->offset, "deployment %s: %s", field, msg);
}

esc_status esc_schedule_parse(esc_schedule *out, const char *cron, const char *earliest,
                              const char *latest, esc_error *err) {
    memset(out, 0, sizeof *out);
    esc_error e = {0};
    if (!cron || !earliest || !latest)
        return esc_error_set(err, ESC_ECONTENT,
                             "deployment: cron_schedule, earliest_time and latest_time are all "
                             "required");
    if (esc_cron_parse(cron, &out->cron, &e) != ESC_OK)
        return field_error(err, "cron_schedule", &e);
    if (esc_reltime_parse(earliest, &out->earliest, &e) != ESC_OK)
        return field_error(err, "earliest_time", &e);
    if (esc_reltime_parse(latest, &out->latest, &e) != ESC_OK)
        return field_error(err, "latest_time", &e);
    return ESC_OK;
}

esc_status esc_schedule_window(const esc_schedule *s, int64_t t, esc_window *out, esc_error *err) {
    esc_status st = esc_reltime_apply(&s->earliest, t, &out->earliest, err);
    if (st == ESC_OK)
        st = esc_reltime_apply(&s->latest, t, &out->latest, err);
    if (st != ESC_OK)
        return st;
    if (out->latest < out->earliest)
        return esc_error_set(err, ESC_ECONTENT,
                             "deployment window ends before it starts (run at %lld: [%lld, %lld))",
                             (long long)t, (long long)out->earliest, (long long)out->latest);
    return ESC_OK;
}

int64_t esc_schedule_next(const esc_schedule *s, int64_t after) {
    return esc_cron_next(&s->cron, after);
}

/* Clamp a range start into the supported range so that a - 1 cannot overflow. */
static int64_t clamp_start(int64_t a) {
    return a < ESC_SCHED_TIME_MIN   ? ESC_SCHED_TIME_MIN
           : a > ESC_SCHED_TIME_MAX ? ESC_SCHED_TIME_MAX
                                    : a;
}

esc_status esc_schedule_times(const esc_schedule *s, int64_t a, int64_t b, int64_t *out, size_t cap,
                              size_t *n, esc_error *err) {
    *n = 0;
    a = clamp_start(a);
    for (int64_t t = esc_cron_next(&s->cron, a - 1); t != ESC_CRON_NEVER && t < b;
         t = esc_cron_next(&s->cron, t)) {
        if (*n == cap)
            return esc_error_set(err, ESC_ELIMIT, "more than %zu scheduled runs in the range", cap);
        out[(*n)++] = t;
    }
    return ESC_OK;
}

esc_status esc_schedule_runs_covering(const esc_schedule *s, int64_t e, int64_t *out, size_t cap,
                                      size_t *n, esc_error *err) {
    int64_t lo, hi;
    return esc_schedule_runs_covering_span(s, e, out, cap, n, &lo, &hi, err);
}

/* The span's bounds: the window boundaries nearest e on each side (an event time between them
 * is inside or outside each scanned window exactly as e is). At most an hour either side keeps
 * the 2-day margin of the scan (below) valid for every time of the span. */
static void span_bound(const esc_window *w, int64_t e, int64_t *lo, int64_t *hi) {
    int64_t b[2] = {w->earliest, w->latest};
    for (int i = 0; i < 2; i++) {
        if (b[i] <= e && b[i] > *lo)
            *lo = b[i];
        if (b[i] > e && b[i] < *hi)
            *hi = b[i];
    }
}

esc_status esc_schedule_runs_covering_span(const esc_schedule *s, int64_t e, int64_t *out,
                                           size_t cap, size_t *n, int64_t *lo, int64_t *hi,
                                           esc_error *err) {
    *n = 0;
    *lo = e - 3600;
    *hi = e + 3600;
    if (!esc_sched_time_ok(e))
        return esc_error_set(err, ESC_EUSAGE, "event time %lld outside years 1900..9999",
                             (long long)e);
    /* Find how far windows reach back and forward from a run near e, then scan runs from
     * (e + least lag - 2 days) to (e + greatest lag + 2 days): the 2 days cover snapping and
     * DST. */
    int64_t t0 = esc_cron_next(&s->cron, e);
    if (t0 == ESC_CRON_NEVER)
        return ESC_OK;
    esc_window w;
    esc_status st = esc_schedule_window(s, t0, &w, err);
    if (st != ESC_OK)
        return st;
    int64_t back = t0 - w.latest, fwd = t0 - w.earliest; /* window = [t - fwd, t - back) */
    int64_t from = clamp_start(e + (back < fwd ? back : fwd) - 2 * 86400);
    int64_t to = e + (back > fwd ? back : fwd) + 2 * 86400;
    size_t scanned = 0;
    for (int64_t t = esc_cron_next(&s->cron, from - 1); t != ESC_CRON_NEVER && t <= to;
         t = esc_cron_next(&s->cron, t)) {
        if (++scanned > ESC_SCHEDULE_MAX_SCAN)
            return esc_error_set(err, ESC_ELIMIT, "more than %d runs to scan",
                                 ESC_SCHEDULE_MAX_SCAN);
        st = esc_schedule_window(s, t, &w, err);
        if (st != ESC_OK)
            return st;
        span_bound(&w, e, lo, hi);
        if (w.earliest <= e && e < w.latest) {
            if (*n == cap)
                return esc_error_set(err, ESC_ELIMIT, "more than %zu runs cover the event", cap);
            out[(*n)++] = t;
        }
    }
    return ESC_OK;
}

esc_status esc_schedule_check_tiling(const esc_schedule *s, int64_t a, int64_t b, esc_tiling *r,
                                     esc_error *err) {
    memset(r, 0, sizeof *r);
    a = clamp_start(a);
    esc_window prev = {0, 0};
    bool have = false;
    for (int64_t t = esc_cron_next(&s->cron, a - 1); t != ESC_CRON_NEVER && t < b;
         t = esc_cron_next(&s->cron, t)) {
        if (r->runs == ESC_SCHEDULE_MAX_SCAN)
            return esc_error_set(err, ESC_ELIMIT, "more than %d runs to check",
                                 ESC_SCHEDULE_MAX_SCAN);
        esc_window w;
        esc_status st = esc_schedule_window(s, t, &w, err);
        if (st != ESC_OK)
            return st;
        r->runs++;
        if (have && prev.latest != w.earliest) {
            if (prev.latest < w.earliest)
                r->gaps++;
            else
                r->overlaps++;
            if (!r->first_bad_run) {
                r->first_bad_run = t;
                r->first_bad_delta = prev.latest - w.earliest;
            }
        }
        prev = w;
        have = true;
    }
    return ESC_OK;
}
