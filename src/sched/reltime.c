/* Time specifications: parse absolute and Splunk relative times, apply them to a "now".
 *
 * Parsing produces a fixed-size esc_reltime (no allocation); applying walks its terms left to
 * right over an instant, going through civil (wall-clock) time in the configured zone for
 * calendar units and snaps (sched/zone.h). Invariant: every intermediate instant is within
 * [ESC_SCHED_TIME_MIN, ESC_SCHED_TIME_MAX], checked after each term, so no arithmetic overflows.
 * Deliberately not done: reading the system clock ("now" is always the caller's), real-time
 * searches, snapping to multiples of a unit. */
#include "sched/reltime.h"

#include <stdio.h>
#include <string.h>
#include <time.h> /* core/timeutil.h uses struct tm */

#include "core/str.h"
#include "core/timeutil.h"
#include "sched/zone.h"

typedef struct unit_name {
    const char *name;
    esc_time_unit unit;
} unit_name;

static const unit_name UNITS[] = {
    {"s", ESC_TU_SEC},           {"sec", ESC_TU_SEC},          {"secs", ESC_TU_SEC},
    {"second", ESC_TU_SEC},      {"seconds", ESC_TU_SEC},      {"m", ESC_TU_MIN},
    {"min", ESC_TU_MIN},         {"mins", ESC_TU_MIN},         {"minute", ESC_TU_MIN},
    {"minutes", ESC_TU_MIN},     {"h", ESC_TU_HOUR},           {"hr", ESC_TU_HOUR},
    {"hrs", ESC_TU_HOUR},        {"hour", ESC_TU_HOUR},        {"hours", ESC_TU_HOUR},
    {"d", ESC_TU_DAY},           {"day", ESC_TU_DAY},          {"days", ESC_TU_DAY},
    {"w", ESC_TU_WEEK},          {"week", ESC_TU_WEEK},        {"weeks", ESC_TU_WEEK},
    {"mon", ESC_TU_MONTH},       {"month", ESC_TU_MONTH},      {"months", ESC_TU_MONTH},
    {"q", ESC_TU_QUARTER},       {"qtr", ESC_TU_QUARTER},      {"qtrs", ESC_TU_QUARTER},
    {"quarter", ESC_TU_QUARTER}, {"quarters", ESC_TU_QUARTER}, {"y", ESC_TU_YEAR},
    {"yr", ESC_TU_YEAR},         {"yrs", ESC_TU_YEAR},         {"year", ESC_TU_YEAR},
    {"years", ESC_TU_YEAR},
};

static esc_status fail_at(esc_error *err, esc_status code, const char *spec, size_t pos,
                          const char *what) {
    return esc_error_at(err, code, NULL, pos, "time '%.64s%s': at position %zu: %s", spec,
                        strlen(spec) > 64 ? "..." : "", pos, what);
}

static bool lookup_unit(const char *p, size_t n, esc_time_unit *out) {
    for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++) {
        if (strlen(UNITS[i].name) == n && memcmp(UNITS[i].name, p, n) == 0) {
            *out = UNITS[i].unit;
            return true;
        }
    }
    return false;
}

/* "%m/%d/%Y:%H:%M:%S" in the configured zone. */
static bool parse_splunk_abs(const char *s, size_t n, int64_t *out) {
    int mo, d, y, h, mi, se;
    char tail;
    if (n != 19 || s[2] != '/' || s[5] != '/' || s[10] != ':')
        return false;
    if (sscanf(s, "%2d/%2d/%4d:%2d:%2d:%2d%c", &mo, &d, &y, &h, &mi, &se, &tail) != 6)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!esc_is_digit(s[i]) && i != 2 && i != 5 && i != 10 && i != 13 && i != 16)
            return false;
    if (mo < 1 || mo > 12 || d < 1 || d > esc_civil_days_in_month(y, mo) || h > 23 || mi > 59 ||
        se > 59 || y < 1900)
        return false;
    int64_t civil = esc_civil_join(y, mo, d, h, mi, se);
    *out = esc_zone_resolve_down(civil, ESC_SCHED_TIME_MIN); /* repeated: the first one */
    return true;
}

/* "YYYY-MM-DD": local midnight. */
static bool parse_date(const char *s, size_t n, int64_t *out) {
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (i != 4 && i != 7 && !esc_is_digit(s[i]))
            return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int mo = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1900 || mo < 1 || mo > 12 || d < 1 || d > esc_civil_days_in_month(y, mo))
        return false;
    int64_t civil = esc_civil_join(y, mo, d, 0, 0, 0);
    *out = esc_zone_resolve_down(civil, ESC_SCHED_TIME_MIN);
    return true;
}

static esc_status parse_terms(const char *spec, size_t start, esc_reltime *out, esc_error *err) {
    size_t i = start, n = strlen(spec);
    if (i == n)
        return ESC_OK;
    while (i < n) {
        size_t term_pos = i;
        esc_reltime_term t = {0};
        char c = spec[i];
        if (c == '@') {
            t.snap = true;
            i++;
        } else if (c == '+' || c == '-') {
            i++;
            int64_t v = 0;
            size_t nd = 0;
            while (i < n && esc_is_digit(spec[i])) {
                if (nd == 9)
                    return fail_at(err, ESC_ELIMIT, spec, i, "count longer than 9 digits");
                v = v * 10 + (spec[i] - '0');
                nd++;
                i++;
            }
            if (nd == 0)
                v = 1;
            t.amount = c == '-' ? -v : v;
        } else {
            return fail_at(err, ESC_EUSAGE, spec, i,
                           "expected '+', '-' or '@' (a relative time like -70m@m), or an "
                           "absolute time");
        }
        size_t u0 = i;
        while (i < n && esc_is_alpha(spec[i]))
            i++;
        if (i == u0)
            return fail_at(err, ESC_EUSAGE, spec, u0,
                           t.snap ? "expected a unit after '@' (s, m, h, d, w0-w7, mon, q, y)"
                                  : "expected a unit (s, m, h, d, w, mon, q, y)");
        if (!lookup_unit(spec + u0, i - u0, &t.unit))
            return fail_at(err, ESC_EUSAGE, spec, u0, "unknown time unit");
        if (t.unit == ESC_TU_WEEK && t.snap && i < n && esc_is_digit(spec[i])) {
            if (spec[i] > '7' || (i + 1 < n && esc_is_digit(spec[i + 1])))
                return fail_at(err, ESC_EUSAGE, spec, i, "week day must be 0..7 (0, 7 = Sunday)");
            t.weekday = (spec[i] - '0') % 7;
            i++;
        } else if (i < n && esc_is_digit(spec[i])) {
            return fail_at(err, ESC_EUSAGE, spec, i, "unexpected digit after the unit");
        }
        if (out->nterms == ESC_RELTIME_MAX_TERMS)
            return fail_at(err, ESC_ELIMIT, spec, term_pos, "too many terms (at most 16)");
        out->terms[out->nterms++] = t;
    }
    return ESC_OK;
}

esc_status esc_reltime_parse(const char *spec, esc_reltime *out, esc_error *err) {
    memset(out, 0, sizeof *out);
    if (!spec)
        return esc_error_set(err, ESC_EUSAGE, "time: empty specification");
    size_t n = strlen(spec);
    if (n > ESC_RELTIME_MAX_LEN)
        return esc_error_at(err, ESC_ELIMIT, NULL, ESC_RELTIME_MAX_LEN,
                            "time '%.64s...': at position %d: longer than %d bytes", spec,
                            ESC_RELTIME_MAX_LEN, ESC_RELTIME_MAX_LEN);
    if (n == 0)
        return fail_at(err, ESC_EUSAGE, spec, 0, "empty specification");
    for (size_t i = 0; i < n; i++)
        if (spec[i] == ' ' || spec[i] == '\t')
            return fail_at(err, ESC_EUSAGE, spec, i, "unexpected space");

    if (strncmp(spec, "now", 3) == 0)
        return parse_terms(spec, 3, out, err);
    if (spec[0] == '+' || spec[0] == '-' || spec[0] == '@')
        return parse_terms(spec, 0, out, err);

    int64_t us;
    esc_str s = esc_str_make(spec, n);
    if (esc_time_parse_epoch(s, &us) || esc_time_parse_iso(s, &us)) {
        out->absolute = true;
        out->abs_sec = esc_time_sec(us);
    } else if (parse_date(spec, n, &out->abs_sec) || parse_splunk_abs(spec, n, &out->abs_sec)) {
        out->absolute = true;
    } else {
        size_t pos = 0;
        while (pos < n && (esc_is_digit(spec[pos]) || spec[pos] == '.'))
            pos++;
        if (pos == n)
            return fail_at(err, ESC_EUSAGE, spec, 0, "not a valid epoch time");
        return fail_at(err, ESC_EUSAGE, spec, 0,
                       "not a time: expected now, epoch seconds, YYYY-MM-DD[THH:MM:SS[zone]], "
                       "MM/DD/YYYY:HH:MM:SS or a relative time like -70m@m");
    }
    if (!esc_sched_time_ok(out->abs_sec))
        return fail_at(err, ESC_EUSAGE, spec, 0, "outside years 1900..9999");
    return ESC_OK;
}

/* Add months to civil fields, clamping the day. Returns false when out of range. */
static bool add_months(esc_civil *c, int64_t months) {
    int64_t m0 = (int64_t)c->year * 12 + (c->mon - 1) + months;
    int64_t y = esc_floordiv(m0, 12);
    if (y < 1900 || y > 9999)
        return false;
    c->year = (int)y;
    c->mon = (int)(m0 - y * 12) + 1;
    int dim = esc_civil_days_in_month(c->year, c->mon);
    if (c->mday > dim)
        c->mday = dim;
    return true;
}

static int64_t join(const esc_civil *c) {
    return esc_civil_join(c->year, c->mon, c->mday, c->hour, c->min, c->sec);
}

static bool apply_term(const esc_reltime_term *t, int64_t *io) {
    int64_t now = *io;
    int64_t off = esc_zone_offset(now);
    int64_t civil = now + off;
    esc_civil c;
    esc_civil_split(civil, &c);
    if (!t->snap) {
        switch (t->unit) {
        case ESC_TU_SEC:
            *io = now + t->amount;
            break;
        case ESC_TU_MIN:
            *io = now + t->amount * 60;
            break;
        case ESC_TU_HOUR:
            *io = now + t->amount * 3600;
            break;
        case ESC_TU_DAY:
        case ESC_TU_WEEK: {
            int64_t days = t->amount * (t->unit == ESC_TU_WEEK ? 7 : 1);
            if (days > 4000000 || days < -4000000)
                return false;
            *io = esc_zone_resolve_offset(civil + days * 86400, off);
            break;
        }
        case ESC_TU_MONTH:
        case ESC_TU_QUARTER:
        case ESC_TU_YEAR: {
            int64_t k = t->unit == ESC_TU_MONTH ? 1 : t->unit == ESC_TU_QUARTER ? 3 : 12;
            if (!add_months(&c, t->amount * k))
                return false;
            *io = esc_zone_resolve_offset(join(&c), off);
            break;
        }
        }
        return esc_sched_time_ok(*io);
    }
    int64_t target;
    switch (t->unit) {
    case ESC_TU_SEC:
        return true;
    case ESC_TU_MIN:
        c.sec = 0;
        target = join(&c);
        break;
    case ESC_TU_HOUR:
        c.min = c.sec = 0;
        target = join(&c);
        break;
    case ESC_TU_DAY:
        c.hour = c.min = c.sec = 0;
        target = join(&c);
        break;
    case ESC_TU_WEEK: {
        c.hour = c.min = c.sec = 0;
        int back = (c.wday - t->weekday + 7) % 7;
        target = join(&c) - (int64_t)back * 86400;
        break;
    }
    case ESC_TU_MONTH:
        c.mday = 1;
        c.hour = c.min = c.sec = 0;
        target = join(&c);
        break;
    case ESC_TU_QUARTER:
        c.mon = (c.mon - 1) / 3 * 3 + 1;
        c.mday = 1;
        c.hour = c.min = c.sec = 0;
        target = join(&c);
        break;
    case ESC_TU_YEAR:
        c.mon = c.mday = 1;
        c.hour = c.min = c.sec = 0;
        target = join(&c);
        break;
    default:
        return false;
    }
    if (!esc_sched_time_ok(target - 2 * 86400))
        return false;
    *io = esc_zone_resolve_down(target, now);
    return esc_sched_time_ok(*io);
}

esc_status esc_reltime_apply(const esc_reltime *rt, int64_t now_sec, int64_t *out_sec,
                             esc_error *err) {
    if (rt->absolute) {
        *out_sec = rt->abs_sec;
        return ESC_OK;
    }
    if (!esc_sched_time_ok(now_sec))
        return esc_error_set(err, ESC_EUSAGE, "time: 'now' (%lld) outside years 1900..9999",
                             (long long)now_sec);
    int64_t t = now_sec;
    for (int i = 0; i < rt->nterms; i++) {
        if (!apply_term(&rt->terms[i], &t))
            return esc_error_set(err, ESC_EUSAGE,
                                 "time: relative term %d moves outside years 1900..9999", i + 1);
    }
    *out_sec = t;
    return ESC_OK;
}

esc_status esc_time_spec_parse(const char *spec, int64_t now_sec, int64_t *out_sec,
                               esc_error *err) {
    esc_reltime rt;
    esc_status st = esc_reltime_parse(spec, &rt, err);
    if (st != ESC_OK)
        return st;
    return esc_reltime_apply(&rt, now_sec, out_sec, err);
}
