/* Search windows from a deployment's schedule (SPEC section 6).
 *
 * Contract:
 * - A schedule is a deployment's (cron_schedule, earliest_time, latest_time). The run scheduled
 *   at T searches [earliest(T), latest(T)), the relative times evaluated with "now" = T in the
 *   configured zone: "0 * * * *" with -70m@m / -10m@m at 13:00 searches [11:50, 12:50).
 * - A window never ends before it starts (latest < earliest is ESC_ECONTENT); an empty window
 *   (equal bounds) is allowed and matches nothing.
 * - Scheduled times come from esc_cron_next, so they inherit its DST rules; hourly schedules
 *   with minute-snapped offsets tile: each window starts where the previous one ended.
 * - Listing functions take a caller-sized array and return ESC_ELIMIT when it is too small; the
 *   scans they do are bounded by ESC_SCHEDULE_MAX_SCAN scheduled times.
 * Not done here: deciding what to run (that is the run loop's), Splunk's schedule_window and
 * schedule priority (runs are never skipped or delayed for load). */
#ifndef ESC_SCHED_WINDOW_H
#define ESC_SCHED_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "sched/cron.h"
#include "sched/reltime.h"

#define ESC_SCHEDULE_MAX_SCAN 1000000

typedef struct esc_schedule {
    esc_cron cron;
    esc_reltime earliest, latest;
} esc_schedule;

typedef struct esc_window {
    int64_t earliest, latest; /* [earliest, latest), epoch seconds */
} esc_window;

/* Parse the three deployment strings (none may be NULL). Errors are ESC_ECONTENT naming the
 * field, with the position within that field in err->offset. */
esc_status esc_schedule_parse(esc_schedule *out, const char *cron, const char *earliest,
                              const char *latest, esc_error *err);

/* The window of the run scheduled at t (t need not be a scheduled time). */
esc_status esc_schedule_window(const esc_schedule *s, int64_t t, esc_window *out, esc_error *err);

/* The first scheduled time strictly after `after`, ESC_CRON_NEVER if none. */
int64_t esc_schedule_next(const esc_schedule *s, int64_t after);

/* Scheduled times in [a, b), ascending, into out[0..*n). ESC_ELIMIT when more than cap. */
esc_status esc_schedule_times(const esc_schedule *s, int64_t a, int64_t b, int64_t *out, size_t cap,
                              size_t *n, esc_error *err);

/* Scheduled times whose window contains the event time e, ascending, into out[0..*n):
 * which runs an event belongs to (a late event is one that arrives after all of them ran).
 * ESC_ELIMIT when more than cap. */
esc_status esc_schedule_runs_covering(const esc_schedule *s, int64_t e, int64_t *out, size_t cap,
                                      size_t *n, esc_error *err);
/* Same, and [*lo, *hi) (lo <= e < hi, at most an hour either side of e) is a span of event times
 * that every run found and every run not found treat alike: each event time in it has the same
 * covering runs (a caller may reuse the answer for them). */
esc_status esc_schedule_runs_covering_span(const esc_schedule *s, int64_t e, int64_t *out,
                                           size_t cap, size_t *n, int64_t *lo, int64_t *hi,
                                           esc_error *err);

typedef struct esc_tiling {
    size_t runs;             /* scheduled times checked */
    size_t gaps;             /* consecutive windows with time between them */
    size_t overlaps;         /* consecutive windows sharing time */
    int64_t first_bad_run;   /* the later run of the first bad pair; 0 when none */
    int64_t first_bad_delta; /* latest(previous) - earliest(run): < 0 gap, > 0 overlap */
} esc_tiling;

/* Check that the windows of consecutive runs scheduled in [a, b) meet exactly. Fills r; returns
 * ESC_OK even when they do not tile (look at r->gaps and r->overlaps). */
esc_status esc_schedule_check_tiling(const esc_schedule *s, int64_t a, int64_t b, esc_tiling *r,
                                     esc_error *err);

#endif
