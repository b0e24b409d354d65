/* Time parsing and formatting. UTC arithmetic is done by hand (no TZ dependence); other zones
 * go through the C library's localtime_r/mktime with TZ set once at start-up. */
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool zone_utc = true;

bool esc_time_set_zone(const char *iana) {
    if (!iana || !*iana || strcmp(iana, "UTC") == 0 || strcmp(iana, "Etc/UTC") == 0) {
        zone_utc = true;
        setenv("TZ", "UTC", 1);
        tzset();
        return true;
    }
    /* glibc silently falls back to UTC for unknown names: check the zone file exists. */
    if (strstr(iana, "..") || iana[0] == '/')
        return false;
    char path[512];
    const char *dir = getenv("TZDIR");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "/usr/share/zoneinfo", iana);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char magic[4] = {0};
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    if (n != 4 || memcmp(magic, "TZif", 4) != 0)
        return false;
    setenv("TZ", iana, 1);
    tzset();
    zone_utc = false;
    return true;
}

bool esc_time_zone_is_utc(void) {
    return zone_utc;
}

/* Days from 1970-01-01 to y-m-d (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse (Hinnant's civil_from_days): era of 400 years, day of era, year of era. */
void esc_time_civil(int64_t days, int64_t *y, int *mon, int *d) {
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*mon <= 2);
}

int64_t esc_time_from_civil(int y, int mon, int d, int h, int mi, int s) {
    return days_from_civil(y, (unsigned)mon, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
}

void esc_time_to_local(int64_t sec, struct tm *out) {
    time_t t = (time_t)sec;
    if (zone_utc)
        gmtime_r(&t, out);
    else
        localtime_r(&t, out);
}

int64_t esc_time_from_local(const struct tm *tm) {
    if (zone_utc)
        return esc_time_from_civil(tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday, tm->tm_hour,
                                   tm->tm_min, tm->tm_sec);
    struct tm c = *tm;
    c.tm_isdst = -1;
    return (int64_t)mktime(&c);
}

static bool digits(const char *p, size_t n, int *out) {
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

bool esc_time_parse_iso(esc_str s, int64_t *out_us) {
    const char *p = s.ptr;
    size_t n = s.len;
    int y, mo, d, h, mi, se;
    if (n < 19 || !digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) || p[7] != '-' ||
        !digits(p + 8, 2, &d) || (p[10] != 'T' && p[10] != ' ') || !digits(p + 11, 2, &h) ||
        p[13] != ':' || !digits(p + 14, 2, &mi) || p[16] != ':' || !digits(p + 17, 2, &se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    size_t i = 19;
    int64_t frac = 0;
    if (i < n && (p[i] == '.' || p[i] == ',')) {
        i++;
        int k = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (k < 6) {
                frac = frac * 10 + (p[i] - '0');
                k++;
            }
            i++;
        }
        if (k == 0)
            return false;
        while (k < 6) {
            frac *= 10;
            k++;
        }
    }
    int64_t sec;
    if (i == n) {
        struct tm tm = {.tm_year = y - 1900,
                        .tm_mon = mo - 1,
                        .tm_mday = d,
                        .tm_hour = h,
                        .tm_min = mi,
                        .tm_sec = se};
        sec = esc_time_from_local(&tm);
    } else if (p[i] == 'Z' && i + 1 == n) {
        sec = esc_time_from_civil(y, mo, d, h, mi, se);
    } else if (p[i] == '+' || p[i] == '-') {
        int oh, om = 0;
        size_t r = n - i - 1;
        const char *z = p + i + 1;
        if (r == 5 && z[2] == ':') {
            if (!digits(z, 2, &oh) || !digits(z + 3, 2, &om))
                return false;
        } else if (r == 4) {
            if (!digits(z, 2, &oh) || !digits(z + 2, 2, &om))
                return false;
        } else if (r == 2) {
            if (!digits(z, 2, &oh))
                return false;
        } else {
            return false;
        }
        int off = oh * 3600 + om * 60;
        sec = esc_time_from_civil(y, mo, d, h, mi, se) - (p[i] == '+' ? off : -off);
    } else {
        return false;
    }
    *out_us = sec * ESC_US_PER_SEC + frac;
    return true;
}

bool esc_time_parse_epoch(esc_str s, int64_t *out_us) {
    size_t i = 0;
    int64_t v = 0;
    if (s.len == 0 || s.len > 40)
        return false;
    while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (s.ptr[i] - '0');
        i++;
    }
    if (i == 0)
        return false;
    int64_t frac = 0;
    if (i < s.len && s.ptr[i] == '.') {
        i++;
        int k = 0;
        while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9') {
            if (k < 6) {
                frac = frac * 10 + (s.ptr[i] - '0');
                k++;
            }
            i++;
        }
        while (k++ < 6)
            frac *= 10;
    }
    if (i != s.len || v > INT64_MAX / ESC_US_PER_SEC - 1)
        return false;
    *out_us = v * ESC_US_PER_SEC + frac;
    return true;
}

esc_status esc_time_format(esc_buf *out, int64_t sec, const char *fmt) {
    struct tm tm;
    esc_time_to_local(sec, &tm);
    char tmp[256];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    size_t n = strftime(tmp, sizeof tmp, fmt, &tm); /* the format is the search's own */
#pragma GCC diagnostic pop
    if (n == 0 && fmt[0])
        return ESC_ELIMIT;
    return esc_buf_append(out, tmp, n);
}
