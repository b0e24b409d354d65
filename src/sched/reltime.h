/* Time specifications: absolute times and Splunk relative time ("-70m@m", "@h", "-1d@d+8h").
 *
 * Contract:
 * - A spec is one of: "now"; epoch seconds ("1700000000", "1700000000.75": the fraction is
 *   truncated); ISO 8601 as esc_time_parse_iso reads it ("2024-03-31T02:30:00", with or without a
 *   zone; no zone = the configured zone), a bare date "2024-03-31" (local midnight), Splunk's
 *   "%m/%d/%Y:%H:%M:%S"; or a chain of relative terms, optionally after "now".
 * - A relative term is an offset [+-][N]unit (N defaults to 1) or a snap @unit, applied left to
 *   right from "now". Units: s sec secs second seconds, m min mins minute minutes, h hr hrs hour
 *   hours, d day days, w week weeks, mon month months, q qtr qtrs quarter quarters, y yr yrs year
 *   years. Snaps also take w0..w7 (w, w0 and w7 are Sunday).
 * - Seconds, minutes and hours move by elapsed time; days and weeks move the calendar day keeping
 *   the wall-clock time; months, quarters and years move the calendar month, clamping the day to
 *   the month's length (Mar 31 -1mon = Feb 28 or 29). Snapping floors the wall-clock time in the
 *   configured zone and returns the latest instant with that reading that is not after the time
 *   being snapped (so across a DST change "@h" and "@d" still snap down).
 * - Limits: a spec is at most ESC_RELTIME_MAX_LEN bytes with at most ESC_RELTIME_MAX_TERMS terms
 *   and counts of at most 9 digits; every intermediate time stays within years 1900..9999.
 *   Errors are ESC_EUSAGE (or ESC_ELIMIT) with the byte position in err->offset and in the text.
 *
 * Not supported: real-time ("rt-5m"), "earliest=0"-style keywords other than numbers and "now",
 * snapping to multiples ("@15m"), sub-second units, "ago" phrases. */
#ifndef ESC_SCHED_RELTIME_H
#define ESC_SCHED_RELTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

#define ESC_RELTIME_MAX_LEN 256
#define ESC_RELTIME_MAX_TERMS 16

typedef enum esc_time_unit {
    ESC_TU_SEC,
    ESC_TU_MIN,
    ESC_TU_HOUR,
    ESC_TU_DAY,
    ESC_TU_WEEK,
    ESC_TU_MONTH,
    ESC_TU_QUARTER,
    ESC_TU_YEAR,
} esc_time_unit;

typedef struct esc_reltime_term {
    bool snap; /* @unit, else an offset */
    esc_time_unit unit;
    int64_t amount; /* signed count for offsets */
    int weekday;    /* snap to week: 0 (Sunday) .. 6 */
} esc_reltime_term;

/* A parsed spec: a value type, no allocation, safe to copy. */
typedef struct esc_reltime {
    bool absolute; /* a fixed instant: abs_sec; else terms relative to "now" */
    int64_t abs_sec;
    int nterms;
    esc_reltime_term terms[ESC_RELTIME_MAX_TERMS];
} esc_reltime;

/* Parse a spec once (e.g. a deployment's earliest_time) to apply it at many scheduled times.
 * Absolute ISO times are resolved at parse time in the zone configured then. */
esc_status esc_reltime_parse(const char *spec, esc_reltime *out, esc_error *err);
/* Evaluate a parsed spec with "now" = now_sec. Fails (ESC_EUSAGE) only when a result leaves the
 * supported range. */
esc_status esc_reltime_apply(const esc_reltime *rt, int64_t now_sec, int64_t *out_sec,
                             esc_error *err);

/* Parse and apply in one call: what --earliest/--latest/--now use. */
esc_status esc_time_spec_parse(const char *spec, int64_t now_sec, int64_t *out_sec, esc_error *err);

#endif
