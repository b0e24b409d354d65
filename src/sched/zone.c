/* Civil time <-> instants in the configured zone (see zone.h).
 *
 * Offsets come from esc_time_to_local (core/timeutil), which is the only place the zone is known;
 * the proleptic Gregorian calendar is core's too (esc_time_civil, esc_time_from_civil).
 * Candidates for a civil time are found with the offsets one day before and one day after it: a
 * zone changes its offset at most once in any two days, which holds for every IANA zone in
 * current use. Deliberately not handled: leap seconds (POSIX time has none). */
#include "sched/zone.h"

#include <string.h>
#include <time.h>

#include "core/timeutil.h"

void esc_civil_split(int64_t civil, esc_civil *out) {
    int64_t days = esc_floordiv(civil, 86400);
    int64_t rem = civil - days * 86400;
    int64_t y;
    esc_time_civil(days, &y, &out->mon, &out->mday);
    out->year = (int)y;
    out->hour = (int)(rem / 3600);
    out->min = (int)(rem / 60 % 60);
    out->sec = (int)(rem % 60);
    int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    out->wday = (int)(w < 0 ? w + 7 : w);
}

int64_t esc_civil_join(int year, int mon, int mday, int hour, int min, int sec) {
    return esc_time_from_civil(year, mon, mday, hour, min, sec);
}

int esc_civil_days_in_month(int year, int mon) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mon == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return dm[mon - 1];
}

int64_t esc_zone_offset(int64_t t) {
    if (esc_time_zone_is_utc())
        return 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    esc_time_to_local(t, &tm);
    int64_t civil = esc_civil_join(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                   tm.tm_min, tm.tm_sec);
    return civil - t;
}

int esc_zone_instants(int64_t civil, int64_t out[2], int64_t *gap_instant) {
    if (esc_time_zone_is_utc()) {
        out[0] = civil;
        return 1;
    }
    int64_t before = esc_zone_offset(civil - 86400);
    int64_t after = esc_zone_offset(civil + 86400);
    int n = 0;
    int64_t a = civil - before, b = civil - after;
    if (esc_zone_offset(a) == before)
        out[n++] = a;
    if (b != a && esc_zone_offset(b) == after)
        out[n++] = b;
    if (n == 2 && out[0] > out[1]) {
        int64_t tmp = out[0];
        out[0] = out[1];
        out[1] = tmp;
    }
    if (n == 0 && gap_instant)
        *gap_instant = a;
    return n;
}

int64_t esc_zone_resolve_down(int64_t civil, int64_t not_after) {
    int64_t c[2], gap = civil;
    int n = esc_zone_instants(civil, c, &gap);
    if (n == 0)
        return gap;
    if (n == 2 && c[1] <= not_after)
        return c[1];
    return c[0];
}

int64_t esc_zone_resolve_offset(int64_t civil, int64_t prefer_offset) {
    int64_t c[2], gap = civil;
    int n = esc_zone_instants(civil, c, &gap);
    if (n == 0)
        return gap;
    if (n == 2 && civil - c[1] == prefer_offset)
        return c[1];
    return c[0];
}
