/* Timestamps: parsing the forms logs use, formatting as strftime would.
 *
 * Internally a time is int64 microseconds since the Unix epoch, UTC. Zones: a timestamp without
 * a zone is read in the "default zone" (UTC unless the CLI was given --tz); formatting uses the
 * same zone. The zone is process configuration set once by the CLI before any work starts
 * (esc_time_set_zone); nothing else changes it. */
#ifndef ESC_CORE_TIMEUTIL_H
#define ESC_CORE_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "core/str.h"

#define ESC_US_PER_SEC INT64_C(1000000)

/* Select the zone for zone-less input and for formatting: NULL or "UTC" for UTC, else an IANA
 * name. Returns false when the zone is unknown. Call once, before threads start. */
bool esc_time_set_zone(const char *iana);
bool esc_time_zone_is_utc(void);

/* Parse "YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|+HH:MM|-HH:MM|+HHMM]" (frac any digits, truncated to
 * microseconds). Without a zone the default zone applies. Returns false if s is not such a time. */
bool esc_time_parse_iso(esc_str s, int64_t *out_us);
/* Seconds or milliseconds since the epoch as decimal text, optionally with a fraction. */
bool esc_time_parse_epoch(esc_str s, int64_t *out_us);

/* Civil time <-> epoch seconds in UTC (proleptic Gregorian). */
int64_t esc_time_from_civil(int y, int mon, int d, int h, int mi, int s);
/* The proleptic Gregorian date days after 1970-01-01 (negative: before), any year. */
void esc_time_civil(int64_t days, int64_t *y, int *mon, int *d);
/* Local (default zone) civil fields for an epoch second. */
void esc_time_to_local(int64_t sec, struct tm *out);
/* Epoch second for local civil fields in the default zone. */
int64_t esc_time_from_local(const struct tm *tm);

/* strftime(fmt) of the epoch second in the default zone, appended to out. */
esc_status esc_time_format(esc_buf *out, int64_t sec, const char *fmt);

/* Floor division of microseconds to seconds (negative times round down). */
static inline int64_t esc_time_sec(int64_t us) {
    return us >= 0 ? us / ESC_US_PER_SEC : -((-us + ESC_US_PER_SEC - 1) / ESC_US_PER_SEC);
}

#endif
