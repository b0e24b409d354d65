/* Eval functions on times: now, relative_time, strftime, strptime (the table at the end; eval.h
 * says how to add one). Splunk's reference: Search Reference, "Date and Time functions"
 * (help.splunk.com/splunk-enterprise/spl-search-reference/9.4/evaluation-functions/
 * date-and-time-functions) and "Time modifiers" for relative_time's specifier.
 *
 * Invariants: times are UNIX seconds (a number, fraction kept where the input had one); civil
 * fields (days, months, snapping, strftime, strptime) are in escudo's default zone (UTC unless
 * --tz), as Splunk uses the searching user's zone; now() is the time the search ran for: the
 * end of its window, or the wall clock for an open-ended window (spl_eval_now). A time beyond
 * +-ESC_TIME_ABS_MAX seconds, a malformed specifier or a format that does not parse gives
 * null. Deliberately not done: time() (wall clock per row, never reproducible), Splunk's
 * subsecond conversions (%Q, %N, %3N...) and its chained snaps ("@d@h"): one snap is read. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "spl/eval.h"

#define ESC_TIME_ABS_MAX 1e11 /* seconds (year ~5100): beyond, civil arithmetic gives null */

static bool fn_now(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)a, (void)na;
    spl_vnum(out, (double)spl_eval_now());
    return true;
}

/* Unit of a modifier at s: seconds per unit (0 for months), months per unit in *mon, snap kind
 * in *snap ('s','m','h','d','w','M','q','y'); its length, 0 when there is none. */
static size_t time_unit(const char *s, int64_t *secs, int *mon, char *snap) {
    static const struct {
        const char *name;
        int64_t secs;
        int mon;
        char snap;
    } units[] = {
        {"seconds", 1, 0, 's'},    {"second", 1, 0, 's'},    {"secs", 1, 0, 's'},
        {"sec", 1, 0, 's'},        {"s", 1, 0, 's'},         {"minutes", 60, 0, 'm'},
        {"minute", 60, 0, 'm'},    {"mins", 60, 0, 'm'},     {"min", 60, 0, 'm'},
        {"months", 0, 1, 'M'},     {"month", 0, 1, 'M'},     {"mon", 0, 1, 'M'},
        {"m", 60, 0, 'm'},         {"hours", 3600, 0, 'h'},  {"hour", 3600, 0, 'h'},
        {"hrs", 3600, 0, 'h'},     {"hr", 3600, 0, 'h'},     {"h", 3600, 0, 'h'},
        {"days", 86400, 0, 'd'},   {"day", 86400, 0, 'd'},   {"d", 86400, 0, 'd'},
        {"weeks", 604800, 0, 'w'}, {"week", 604800, 0, 'w'}, {"w", 604800, 0, 'w'},
        {"quarters", 0, 3, 'q'},   {"quarter", 0, 3, 'q'},   {"qtrs", 0, 3, 'q'},
        {"qtr", 0, 3, 'q'},        {"q", 0, 3, 'q'},         {"years", 0, 12, 'y'},
        {"year", 0, 12, 'y'},      {"yrs", 0, 12, 'y'},      {"yr", 0, 12, 'y'},
        {"y", 0, 12, 'y'},
    };
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        size_t l = strlen(units[k].name);
        if (strncmp(s, units[k].name, l) == 0) {
            *secs = units[k].secs;
            *mon = units[k].mon;
            *snap = units[k].snap;
            return l;
        }
    }
    return 0;
}

/* Epoch second of civil fields whose day may lie outside its month (before the 1st or after
 * the last): esc_time_from_civil takes days 1..31 only, mktime (other zones) normalizes. */
static int64_t from_local(const struct tm *tm) {
    if (!esc_time_zone_is_utc())
        return esc_time_from_local(tm);
    return esc_time_from_civil(tm->tm_year + 1900, tm->tm_mon + 1, 1, tm->tm_hour, tm->tm_min,
                               tm->tm_sec) +
           (int64_t)(tm->tm_mday - 1) * 86400;
}

/* Add n days or months to the civil time *tm (months clamp the day to the month's length). */
static void civil_add(struct tm *tm, long days, long months) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (months) {
        long m = (long)tm->tm_mon + months;
        long y = (long)tm->tm_year + (m >= 0 ? m / 12 : -((11 - m) / 12));
        m -= (y - tm->tm_year) * 12;
        tm->tm_year = (int)y;
        tm->tm_mon = (int)m;
        long yy = y + 1900;
        int last = mdays[m] + (m == 1 && ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0));
        if (tm->tm_mday > last)
            tm->tm_mday = last;
    }
    tm->tm_mday += (int)days; /* from_local takes a day outside the month */
}

/* Snap the civil time *tm down to the start of its unit; weekday wd for @wN (-1: none). */
static void civil_snap(struct tm *tm, char unit, int wd) {
    switch (unit) {
    case 'y':
        tm->tm_mon = 0;
        /* fall through */
    case 'q':
        tm->tm_mon -= tm->tm_mon % (unit == 'q' ? 3 : 12);
        /* fall through */
    case 'M':
        tm->tm_mday = 1;
        /* fall through */
    case 'd':
        tm->tm_hour = 0;
        /* fall through */
    case 'h':
        tm->tm_min = 0;
        /* fall through */
    case 'm':
        tm->tm_sec = 0;
        /* fall through */
    default:
        break;
    case 'w':
        tm->tm_mday -= (tm->tm_wday - (wd < 0 ? 0 : wd) + 7) % 7;
        tm->tm_hour = tm->tm_min = tm->tm_sec = 0;
        break;
    }
}

/* relative_time(X, Y): X moved by the modifier Y, "[+|-]N unit ... [@unit]" or "now". */
static bool relative(double x, const char *s, size_t n, double *out) {
    if ((n == 3 && strncmp(s, "now", 3) == 0) || n == 0) {
        *out = x;
        return true;
    }
    if (n > 64 || memchr(s, 0, n))
        return false;
    char b[65];
    memcpy(b, s, n);
    b[n] = 0;
    double frac = x - floor(x);
    int64_t sec = (int64_t)floor(x);
    struct tm tm;
    esc_time_to_local(sec, &tm);
    int64_t add = 0;
    long days = 0, months = 0;
    const char *p = b;
    while (*p && *p != '@') {
        int sign = 1;
        if (*p == '+' || *p == '-')
            sign = *p++ == '-' ? -1 : 1;
        long k = 1;
        if (*p >= '0' && *p <= '9') {
            char *e;
            k = strtol(p, &e, 10);
            if (k > 100000L) /* keeps years, months and days within int */
                return false;
            p = e;
        }
        int64_t us;
        int mon;
        char snap;
        size_t l = time_unit(p, &us, &mon, &snap);
        if (!l)
            return false;
        p += l;
        if (mon)
            months += sign * k * mon;
        else if (us >= 86400)
            days += sign * k * (us / 86400);
        else
            add += sign * k * us;
    }
    civil_add(&tm, days, months);
    sec = from_local(&tm) + add;
    if (*p == '@') {
        p++;
        int64_t us;
        int mon;
        char unit;
        size_t l = time_unit(p, &us, &mon, &unit);
        if (!l)
            return false;
        p += l;
        int wd = -1;
        if (unit == 'w' && *p >= '0' && *p <= '7')
            wd = (*p++ - '0') % 7;
        esc_time_to_local(sec, &tm);
        civil_snap(&tm, unit, wd);
        sec = from_local(&tm);
        frac = 0;
        if (*p) /* "@d+3h": an offset after the snap */
            return relative((double)sec, p, strlen(p), out);
    }
    *out = (double)sec + frac;
    return true;
}

static bool fn_relative_time(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    double x, r;
    char b[64];
    const char *s;
    size_t n;
    if (!spl_as_num(&a[0], &x) || fabs(x) > ESC_TIME_ABS_MAX ||
        !spl_as_text(&a[1], b, sizeof b, &s, &n))
        return true;
    if (relative(x, s, n, &r) && fabs(r) <= ESC_TIME_ABS_MAX)
        spl_vnum(out, r);
    return true;
}

/* strftime(X, Y): the UNIX time X as text in format Y (C strftime conversions). */
static bool fn_strftime(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    double x;
    char b[64];
    const char *f;
    size_t fl;
    if (!spl_as_num(&a[0], &x) || fabs(x) > ESC_TIME_ABS_MAX ||
        !spl_as_text(&a[1], b, sizeof b, &f, &fl) || memchr(f, 0, fl))
        return true;
    char *fmt = esc_strndup(f, fl);
    if (!fmt)
        return false;
    esc_buf o;
    esc_buf_init(&o, 4096);
    bool ok = true;
    if (esc_time_format(&o, (int64_t)floor(x), fmt) == ESC_OK)
        ok = spl_vstr(out, o.len ? o.ptr : "", o.len);
    esc_buf_fini(&o);
    esc_free(fmt);
    return ok;
}

/* strptime(X, Y): the text X read with format Y -> UNIX time; %z honoured, else local time. */
static bool fn_strptime(const enode *e, val *a, size_t na, val *out) {
    (void)e, (void)na;
    char b0[64], b1[64];
    const char *s, *f;
    size_t sl, fl;
    if (!spl_as_text(&a[0], b0, sizeof b0, &s, &sl) ||
        !spl_as_text(&a[1], b1, sizeof b1, &f, &fl) || memchr(s, 0, sl) || memchr(f, 0, fl))
        return true;
    char *str = esc_strndup(s, sl), *fmt = esc_strndup(f, fl);
    bool ok = str && fmt;
    if (ok) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        tm.tm_mday = 1;
        tm.tm_year = 70;
        if (strptime(str, fmt, &tm)) {
            int64_t sec;
            if (strstr(fmt, "%z"))
                sec = esc_time_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                          tm.tm_min, tm.tm_sec) -
                      tm.tm_gmtoff;
            else
                sec = esc_time_from_local(&tm);
            spl_vnum(out, (double)sec);
        }
    }
    esc_free(str);
    esc_free(fmt);
    return ok;
}

const spl_eval_fn spl_eval_fns_time[] = {
    {"now", 0, 0, fn_now, NULL, NULL},
    {"relative_time", 2, 2, fn_relative_time, NULL, NULL},
    {"strftime", 2, 2, fn_strftime, NULL, NULL},
    {"strptime", 2, 2, fn_strptime, NULL, NULL},
    {NULL, 0, 0, NULL, NULL, NULL},
};
