/* Fuzz esc_time_spec_parse / esc_reltime_parse + apply. Input: one byte picking the zone, eight
 * bytes of "now", then the spec. Checks: results stay within years 1900..9999, errors carry a
 * position inside the text, and parse-then-apply agrees with the one-call form. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h> /* core/timeutil.h uses struct tm */

#include "core/timeutil.h"
#include "sched/reltime.h"
#include "sched/zone.h"

static const char *const ZONES[] = {"UTC", "Europe/Berlin", "Australia/Lord_Howe",
                                    "America/Sao_Paulo"};
static int current_zone = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 9 || size > 9 + ESC_RELTIME_MAX_LEN + 16)
        return 0;
    int z = data[0] % 4;
    if (z != current_zone) {
        if (!esc_time_set_zone(ZONES[z]))
            abort();
        current_zone = z;
    }
    uint64_t raw = 0;
    memcpy(&raw, data + 1, 8);
    int64_t now = (raw & 1) ? INT64_C(1700000000) + (int64_t)((raw >> 1) % (10 * 366 * 86400ULL))
                            : (int64_t)(raw >> 1) - INT64_C(4611686018427387904);
    char spec[ESC_RELTIME_MAX_LEN + 32];
    memcpy(spec, data + 9, size - 9);
    spec[size - 9] = 0;
    esc_reltime rt;
    esc_error err = {0};
    esc_status st = esc_reltime_parse(spec, &rt, &err);
    int64_t a = 0, b = 0;
    esc_status st2 = esc_time_spec_parse(spec, now, &b, NULL);
    if (st != ESC_OK) {
        if (st2 == ESC_OK || !err.has_offset || err.offset > ESC_RELTIME_MAX_LEN)
            abort();
        return 0;
    }
    esc_status st1 = esc_reltime_apply(&rt, now, &a, NULL);
    if (st1 != st2 || (st1 == ESC_OK && (a != b || !esc_sched_time_ok(a))))
        abort();
    return 0;
}
