/* Civil-time arithmetic in the configured zone, shared by relative time and cron.
 *
 * A "civil" time here is the local wall-clock reading encoded as seconds since 1970-01-01 as if
 * it were UTC (so civil arithmetic is plain integer arithmetic). An "instant" is real epoch
 * seconds. Converting an instant to civil is a function; converting civil to instants gives 0
 * (the wall-clock time is skipped by a DST gap), 1, or 2 (repeated when clocks go back) answers.
 *
 * Every time the scheduler handles is kept within [ESC_SCHED_TIME_MIN, ESC_SCHED_TIME_MAX]
 * (years 1900..9999), so the C library's localtime never fails and nothing overflows. */
#ifndef ESC_SCHED_ZONE_H
#define ESC_SCHED_ZONE_H

#include <stdbool.h>
#include <stdint.h>

#define ESC_SCHED_TIME_MIN INT64_C(-2208988800)  /* 1900-01-01T00:00:00Z */
#define ESC_SCHED_TIME_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

typedef struct esc_civil {
    int year, mon, mday; /* mon 1..12, mday 1..31 */
    int hour, min, sec;
    int wday; /* 0 = Sunday */
} esc_civil;

static inline bool esc_sched_time_ok(int64_t t) {
    return t >= ESC_SCHED_TIME_MIN && t <= ESC_SCHED_TIME_MAX;
}

/* Floor division and modulo for possibly negative values (d > 0). */
static inline int64_t esc_floordiv(int64_t a, int64_t d) {
    return a >= 0 ? a / d : -((-a + d - 1) / d);
}

/* Split / join civil seconds (proleptic Gregorian, no zone). */
void esc_civil_split(int64_t civil, esc_civil *out);
int64_t esc_civil_join(int year, int mon, int mday, int hour, int min, int sec);
int esc_civil_days_in_month(int year, int mon);

/* Offset of the configured zone at an instant, seconds east of UTC. t must be in range. */
int64_t esc_zone_offset(int64_t t);
/* Civil time of an instant in the configured zone. */
static inline int64_t esc_zone_civil(int64_t t) {
    return t + esc_zone_offset(t);
}

/* The instants whose civil time in the configured zone is `civil`, ascending, in out[0..n).
 * Returns n (0, 1 or 2). When 0 (a gap), *gap_instant receives the instant the wall clock would
 * read `civil` had the offset before the gap continued: the time lands just after the gap, as
 * mktime does. gap_instant may be NULL. */
int esc_zone_instants(int64_t civil, int64_t out[2], int64_t *gap_instant);

/* The instant for `civil`, choosing among several the latest one <= not_after (snapping down);
 * if none is <= not_after, the earliest; in a gap, the time just after the gap. */
int64_t esc_zone_resolve_down(int64_t civil, int64_t not_after);
/* The instant for `civil` keeping the UTC offset `prefer_offset` when the time is repeated;
 * otherwise the only instant, or the time just after a gap. */
int64_t esc_zone_resolve_offset(int64_t civil, int64_t prefer_offset);

#endif
