/* Fuzz esc_cron_parse and esc_cron_next. Input: one byte picking the zone (UTC, Europe/Berlin,
 * Australia/Lord_Howe with its 30-minute DST), eight bytes of "after" time, then the expression.
 * Checks: a parsed schedule's next time is strictly later, in range, and (for every-hour
 * schedules) its wall-clock reading matches; parse errors carry a position inside the text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h> /* core/timeutil.h uses struct tm */

#include "core/timeutil.h"
#include "sched/cron.h"
#include "sched/zone.h"

static const char *const ZONES[] = {"UTC", "Europe/Berlin", "Australia/Lord_Howe"};
static int current_zone = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 9 || size > 9 + 300)
        return 0;
    int z = data[0] % 3;
    if (z != current_zone) {
        if (!esc_time_set_zone(ZONES[z]))
            abort();
        current_zone = z;
    }
    uint64_t raw = 0;
    memcpy(&raw, data + 1, 8);
    /* after within 1900..9999, biased to recent years half the time */
    int64_t span = ESC_SCHED_TIME_MAX - ESC_SCHED_TIME_MIN;
    int64_t after = (raw & 1) ? INT64_C(1700000000) + (int64_t)((raw >> 1) % (10 * 366 * 86400ULL))
                              : ESC_SCHED_TIME_MIN + (int64_t)((raw >> 1) % (uint64_t)span);
    char expr[320];
    memcpy(expr, data + 9, size - 9);
    expr[size - 9] = 0;
    esc_cron c;
    esc_error err = {0};
    if (esc_cron_parse(expr, &c, &err) != ESC_OK) {
        if (!err.has_offset || err.offset > strlen(expr) + 1)
            abort();
        return 0;
    }
    int64_t t = after;
    for (int i = 0; i < 3; i++) {
        int64_t nx = esc_cron_next(&c, t);
        if (nx == ESC_CRON_NEVER)
            break;
        if (nx <= t || !esc_sched_time_ok(nx))
            abort();
        if ((c.hours & 0xffffff) == 0xffffff) {
            esc_civil v;
            esc_civil_split(esc_zone_civil(nx), &v);
            if (!esc_cron_matches_civil(&c, v.year, v.mon, v.mday, v.hour, v.min))
                abort();
        }
        t = nx;
    }
    return 0;
}
