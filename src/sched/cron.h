/* Cron schedules: the standard five fields, evaluated in the configured zone.
 *
 * Contract:
 * - "minute hour day-of-month month day-of-week", fields separated by spaces or tabs. Each field
 *   is a comma list of items; an item is "*", a value, or a range "a-b", optionally followed by
 *   a step "/n" ("*" and "a" with a step run to the field's maximum: "5/15" = "5-59/15").
 *   Values: minute 0-59, hour 0-23, day 1-31, month 1-12 or jan..dec, weekday 0-7 or sun..sat
 *   (0 and 7 are Sunday); names are case-insensitive. Aliases: @yearly @annually @monthly
 *   @weekly @daily @midnight @hourly.
 * - Day rule (Vixie cron): when both day-of-month and day-of-week are restricted (neither field
 *   starts with '*'), a day matches if either matches; otherwise both must match.
 * - Expressions that can never fire ("0 0 30 2 *") are rejected at parse time. Errors are
 *   ESC_EUSAGE with the byte position in err->offset and in the message.
 * - Daylight saving time: if the hour field is "every hour" (all 24 values), the schedule fires
 *   at every instant whose wall-clock reading matches: a repeated hour runs twice, a skipped hour
 *   not at all, so hourly schedules keep firing every 60 real minutes. Otherwise (fixed hours,
 *   e.g. a daily job) a repeated wall-clock time fires once, at its first occurrence, and a time
 *   skipped by the clocks going forward fires just after the gap (02:30 -> 03:30 the new time),
 *   so a daily job runs exactly once every day.
 *
 * Not supported: seconds or year fields, "L", "W", "#", "?", @reboot, per-job time zones,
 * wrapping ranges ("fri-mon"). */
#ifndef ESC_SCHED_CRON_H
#define ESC_SCHED_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

#define ESC_CRON_MAX_LEN 256
#define ESC_CRON_NEVER INT64_MAX

/* A parsed schedule: a value type, no allocation, safe to copy. */
typedef struct esc_cron {
    uint64_t minutes;        /* bit m for minute m */
    uint32_t hours;          /* bit h */
    uint32_t mdays;          /* bit d, 1..31 */
    uint16_t months;         /* bit m, 1..12 */
    uint8_t wdays;           /* bit w, 0 = Sunday .. 6 */
    bool dom_star, dow_star; /* field text starts with '*' (the day rule above) */
} esc_cron;

esc_status esc_cron_parse(const char *expr, esc_cron *out, esc_error *err);

/* The first scheduled instant strictly after after_sec, in the configured zone;
 * ESC_CRON_NEVER when none before the year 9999 (or after_sec is outside years 1900..9999). */
int64_t esc_cron_next(const esc_cron *c, int64_t after_sec);

/* Does the wall-clock minute (civil fields in the configured zone) match? For tests and tools. */
bool esc_cron_matches_civil(const esc_cron *c, int year, int mon, int mday, int hour, int min);

#endif
