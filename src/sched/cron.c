/* Cron parsing and next-fire computation (see cron.h for the grammar and DST rules).
 *
 * The search runs over civil (wall-clock) minutes, field by field, jumping whole months, days
 * and hours that cannot match, then maps each matching civil minute to instants with
 * sched/zone.h. Because the clocks going back make wall-clock order differ from real order,
 * esc_cron_next keeps scanning civil minutes until none could map to an earlier instant than the
 * best found. Invariants: times stay in years 1900..9999; a parsed esc_cron can always fire
 * (checked at parse time), so the civil scan ends within 400 years (one Gregorian cycle).
 * Deliberately not done: reading the clock, allocating, non-standard cron extensions. */
#include "sched/cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sched/zone.h"

typedef struct field_def {
    const char *name;
    int lo, hi;
    const char *const *names; /* 3-letter names for values names_base.. */
    int names_base;
} field_def;

static const char *const MONTH_NAMES[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const DAY_NAMES[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const field_def FIELDS[5] = {
    {"minute", 0, 59, NULL, 0},          {"hour", 0, 23, NULL, 0},
    {"day of month", 1, 31, NULL, 0},    {"month", 1, 12, MONTH_NAMES, 1},
    {"day of week", 0, 7, DAY_NAMES, 0},
};

static esc_status fail_at(esc_error *err, const char *expr, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static esc_status fail_at(esc_error *err, const char *expr, size_t pos, const char *fmt, ...) {
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return esc_error_at(err, ESC_EUSAGE, NULL, pos, "cron '%.64s%s': at position %zu: %s", expr,
                        strlen(expr) > 64 ? "..." : "", pos, what);
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
static char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* A value at expr[*i] (number or name); advances *i. */
static esc_status parse_value(const char *expr, size_t *i, size_t end, const field_def *f, int *out,
                              esc_error *err) {
    size_t p = *i;
    if (p < end && is_digit(expr[p])) {
        int v = 0;
        while (p < end && is_digit(expr[p])) {
            if (v > 1000)
                return fail_at(err, expr, *i, "%s value too large", f->name);
            v = v * 10 + (expr[p] - '0');
            p++;
        }
        if (v < f->lo || v > f->hi)
            return fail_at(err, expr, *i, "%s value %d out of range %d-%d", f->name, v, f->lo,
                           f->hi);
        *out = v;
        *i = p;
        return ESC_OK;
    }
    if (f->names && p + 3 <= end) {
        for (int k = 0; f->names[k]; k++) {
            if (lower(expr[p]) == f->names[k][0] && lower(expr[p + 1]) == f->names[k][1] &&
                lower(expr[p + 2]) == f->names[k][2]) {
                *out = f->names_base + k;
                *i = p + 3;
                return ESC_OK;
            }
        }
        return fail_at(err, expr, p, "unknown %s name", f->name);
    }
    return fail_at(err, expr, p, "expected a %s value", f->name);
}

/* One field expr[start, end) into a bit set. */
static esc_status parse_field(const char *expr, size_t start, size_t end, const field_def *f,
                              uint64_t *bits, esc_error *err) {
    size_t i = start;
    *bits = 0;
    for (;;) {
        size_t item = i;
        int lo, hi, step = 1;
        if (i < end && expr[i] == '*') {
            lo = f->lo;
            hi = f->hi;
            i++;
        } else {
            esc_status st = parse_value(expr, &i, end, f, &lo, err);
            if (st != ESC_OK)
                return st;
            hi = lo;
            if (i < end && expr[i] == '-') {
                i++;
                st = parse_value(expr, &i, end, f, &hi, err);
                if (st != ESC_OK)
                    return st;
                if (hi < lo)
                    return fail_at(err, expr, item, "%s range goes backwards", f->name);
            } else if (i < end && expr[i] == '/') {
                hi = f->hi;
            }
        }
        if (i < end && expr[i] == '/') {
            i++;
            size_t sp = i;
            step = 0;
            while (i < end && is_digit(expr[i])) {
                if (step > 1000)
                    return fail_at(err, expr, sp, "%s step too large", f->name);
                step = step * 10 + (expr[i] - '0');
                i++;
            }
            if (i == sp)
                return fail_at(err, expr, sp, "expected a step number after '/'");
            if (step < 1 || step > f->hi - f->lo + 1)
                return fail_at(err, expr, sp, "%s step out of range", f->name);
        }
        for (int v = lo; v <= hi; v += step)
            *bits |= UINT64_C(1) << v;
        if (i == end)
            return ESC_OK;
        if (expr[i] != ',')
            return fail_at(err, expr, i, "unexpected character in the %s field", f->name);
        i++;
        if (i == end)
            return fail_at(err, expr, i, "expected a %s value after ','", f->name);
    }
}

static const struct {
    const char *alias, *expr;
} ALIASES[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

static bool day_matches(const esc_cron *c, int year, int mon, int mday) {
    bool dom = (c->mdays >> mday) & 1;
    int64_t days = esc_floordiv(esc_civil_join(year, mon, mday, 0, 0, 0), 86400);
    int64_t w = (days + 4) % 7;
    if (w < 0)
        w += 7;
    bool dow = (c->wdays >> w) & 1;
    if (c->dom_star || c->dow_star)
        return dom && dow;
    return dom || dow;
}

bool esc_cron_matches_civil(const esc_cron *c, int year, int mon, int mday, int hour, int min) {
    if (mon < 1 || mon > 12 || mday < 1 || mday > esc_civil_days_in_month(year, mon) || hour < 0 ||
        hour > 23 || min < 0 || min > 59)
        return false;
    return ((c->months >> mon) & 1) && day_matches(c, year, mon, mday) &&
           ((c->hours >> hour) & 1) && ((c->minutes >> min) & 1);
}

/* Can the schedule fire at all? Some (month, day) pair must exist. In the "either" day mode the
 * weekday alone suffices; in the "both" mode every real date falls on every weekday in some
 * year, so the date existing is enough. */
static bool satisfiable(const esc_cron *c) {
    if (!c->dom_star && !c->dow_star)
        return true;
    for (int m = 1; m <= 12; m++) {
        if (!((c->months >> m) & 1))
            continue;
        int dim = esc_civil_days_in_month(2000, m); /* leap year: Feb 29 counts */
        for (int d = 1; d <= dim; d++)
            if ((c->mdays >> d) & 1)
                return true;
    }
    return false;
}

esc_status esc_cron_parse(const char *expr, esc_cron *out, esc_error *err) {
    memset(out, 0, sizeof *out);
    if (!expr)
        return esc_error_set(err, ESC_EUSAGE, "cron: empty schedule");
    const char *orig = expr;
    size_t n = strlen(expr);
    if (n > ESC_CRON_MAX_LEN)
        return esc_error_at(err, ESC_ELIMIT, NULL, ESC_CRON_MAX_LEN,
                            "cron '%.64s...': at position %d: longer than %d bytes", expr,
                            ESC_CRON_MAX_LEN, ESC_CRON_MAX_LEN);
    size_t lead = 0;
    while (lead < n && (expr[lead] == ' ' || expr[lead] == '\t'))
        lead++;
    if (expr[lead] == '@') {
        size_t e = n;
        while (e > lead && (expr[e - 1] == ' ' || expr[e - 1] == '\t'))
            e--;
        for (size_t k = 0; k < sizeof ALIASES / sizeof ALIASES[0]; k++) {
            if (strlen(ALIASES[k].alias) == e - lead &&
                strncmp(ALIASES[k].alias, expr + lead, e - lead) == 0)
                return esc_cron_parse(ALIASES[k].expr, out, err);
        }
        return fail_at(err, orig, lead,
                       "unknown alias (use @yearly, @monthly, @weekly, @daily "
                       "or @hourly)");
    }
    size_t i = lead;
    uint64_t bits[5];
    size_t field_start[5];
    for (int f = 0; f < 5; f++) {
        while (i < n && (expr[i] == ' ' || expr[i] == '\t'))
            i++;
        if (i == n)
            return fail_at(err, orig, i,
                           "expected the %s field (5 fields: minute hour "
                           "day-of-month month day-of-week)",
                           FIELDS[f].name);
        size_t s = i;
        while (i < n && expr[i] != ' ' && expr[i] != '\t')
            i++;
        field_start[f] = s;
        esc_status st = parse_field(orig, s, i, &FIELDS[f], &bits[f], err);
        if (st != ESC_OK)
            return st;
    }
    while (i < n && (expr[i] == ' ' || expr[i] == '\t'))
        i++;
    if (i < n)
        return fail_at(err, orig, i,
                       "more than 5 fields (seconds, years and commands are not "
                       "supported)");
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->mdays = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    uint64_t w = bits[4];
    if (w & (UINT64_C(1) << 7))
        w = (w | 1) & 0x7f;
    out->wdays = (uint8_t)w;
    out->dom_star = orig[field_start[2]] == '*';
    out->dow_star = orig[field_start[4]] == '*';
    if (!satisfiable(out))
        return fail_at(err, orig, field_start[2],
                       "the day of month never occurs in the "
                       "selected months");
    return ESC_OK;
}

/* Lowest set bit >= from in bits (width w), or -1. */
static int next_bit(uint64_t bits, int from, int w) {
    for (int b = from; b < w; b++)
        if ((bits >> b) & 1)
            return b;
    return -1;
}

/* The first matching civil minute >= civil (civil is minute-aligned), or ESC_CRON_NEVER. */
static int64_t next_civil(const esc_cron *c, int64_t civil) {
    esc_civil t;
    esc_civil_split(civil, &t);
    int y = t.year, mo = t.mon, d = t.mday, h = t.hour, mi = t.min;
    int start_year = y;
    for (;;) {
        if (y > 9999 || y > start_year + 400)
            return ESC_CRON_NEVER;
        if (!((c->months >> mo) & 1)) {
            int m2 = next_bit(c->months, mo + 1, 13);
            if (m2 < 0) {
                y++;
                mo = next_bit(c->months, 1, 13);
            } else {
                mo = m2;
            }
            d = 1;
            h = mi = 0;
            continue;
        }
        if (d > esc_civil_days_in_month(y, mo)) {
            mo++;
            if (mo > 12) {
                mo = 1;
                y++;
            }
            d = 1;
            h = mi = 0;
            continue;
        }
        if (!day_matches(c, y, mo, d)) {
            d++;
            h = mi = 0;
            continue;
        }
        int h2 = next_bit(c->hours, h, 24);
        if (h2 < 0) {
            d++;
            h = mi = 0;
            continue;
        }
        if (h2 != h) {
            h = h2;
            mi = 0;
        }
        int m2 = next_bit(c->minutes, mi, 60);
        if (m2 < 0) {
            h++;
            mi = 0;
            if (h > 23) {
                d++;
                h = 0;
            }
            continue;
        }
        return esc_civil_join(y, mo, d, h, m2, 0);
    }
}

/* The instants a matching civil minute fires at (see the DST rules in cron.h). */
static int fire_instants(const esc_cron *c, int64_t civil, int64_t out[2]) {
    int64_t gap = 0;
    int n = esc_zone_instants(civil, out, &gap);
    bool every_hour = (c->hours & 0xffffff) == 0xffffff;
    if (every_hour)
        return n;
    if (n == 0) {
        out[0] = gap;
        return 1;
    }
    return 1; /* repeated: the first occurrence only */
}

/* Range of zone offsets over [from, to], sampled every 30 minutes. */
static void offset_range(int64_t from, int64_t to, int64_t *omin, int64_t *omax) {
    *omin = *omax = esc_zone_offset(from);
    for (int64_t t = from + 1800; t <= to + 1800; t += 1800) {
        int64_t o = esc_zone_offset(t < to ? t : to);
        if (o < *omin)
            *omin = o;
        if (o > *omax)
            *omax = o;
    }
}

int64_t esc_cron_next(const esc_cron *c, int64_t after_sec) {
    /* after_sec may be one second before the range, so [ESC_SCHED_TIME_MIN, b) can be listed. */
    if (after_sec < ESC_SCHED_TIME_MIN - 1 || after_sec > ESC_SCHED_TIME_MAX - 2 * 86400)
        return ESC_CRON_NEVER;
    /* Offsets lie within [-12h, +14h], so a civil minute earlier than after + (least offset over
     * the next 27 hours) cannot fire after `after`. */
    int64_t omin, omax;
    offset_range(after_sec, after_sec + 27 * 3600, &omin, &omax);
    int64_t civil = esc_floordiv(after_sec + omin, 60) * 60;
    int64_t best = ESC_CRON_NEVER, best_omax = 0;
    for (;;) {
        int64_t m = next_civil(c, civil);
        if (m == ESC_CRON_NEVER || !esc_sched_time_ok(m + 2 * 86400))
            break;
        /* An instant t for civil m is m - offset(t); once m exceeds best + the largest offset in
         * the 27 hours before best, no later civil minute maps before best. */
        if (best != ESC_CRON_NEVER && m > best + best_omax)
            break;
        int64_t inst[2];
        int k = fire_instants(c, m, inst);
        for (int j = 0; j < k; j++) {
            if (inst[j] > after_sec && inst[j] < best) {
                best = inst[j];
                int64_t lo;
                offset_range(best - 27 * 3600, best, &lo, &best_omax);
            }
        }
        civil = m + 60;
    }
    return best;
}
