/* Number and time formatting by hand, for output paths that run once per value of every record
 * (dump's JSON and XML writers, the EVTX value renderer): no printf, no locale, no strlen.
 *
 * Every function writes into a caller's array that is large enough (the bound is stated with
 * the function) and returns the number of bytes written; nothing is NUL-terminated. The results
 * are byte for byte what the printf conversion named with each function writes. */
#ifndef ESC_CORE_FMT_H
#define ESC_CORE_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Longest output of the functions below (a 64-bit decimal with sign, or 16 hex digits, padded
 * to at most 24). */
#define ESC_FMT_MAX 24

/* "%0*" PRIu64 with width <= 20: at least width digits, zero-padded on the left. */
size_t esc_fmt_u64(char *dst, uint64_t v, unsigned width);
/* "%" PRId64. */
size_t esc_fmt_i64(char *dst, int64_t v);
/* "%0*" PRIx64 (upper: PRIX64) with width <= 16. */
size_t esc_fmt_hex(char *dst, uint64_t v, unsigned width, bool upper);
/* "YYYY-MM-DDTHH:MM:SS" (19 bytes) of the civil time sec seconds after 1970-01-01 UTC, when
 * its year is 0..9999; returns 0 for any other year (the caller then uses printf: never on real
 * data). */
size_t esc_fmt_datetime(char *dst, int64_t sec);

/* Offset of the first byte of p[0..n) that a JSON string must escape (a control character
 * below 0x20, '"' or '\\'), or n. Scans 16 bytes at a time where SSE2 is available. */
size_t esc_fmt_json_scan(const char *p, size_t n);
/* The JSON escape of a byte esc_fmt_json_scan stops at, as every JSON escudo writes has it (and
 * Python's json.dumps): \" \\ \n \r \t \b \f, else \u00xx with lower-case hex; returns its
 * length (2 or 6). */
size_t esc_fmt_json_escape_byte(char dst[6], unsigned char c);
/* s[0..n) as a JSON string, quotes included, appended to out: runs between the bytes
 * esc_fmt_json_scan stops at copied whole, those bytes as esc_fmt_json_escape_byte writes them;
 * bytes from 0x80 up as they are (the caller's text is UTF-8). The one JSON string writer of
 * dump, hunt, the notables and risk events and the sinks. */
esc_status esc_fmt_json_str(esc_buf *out, const char *s, size_t n);
/* Offset of the first byte that XML text or a quoted attribute must escape (a control
 * character, '&', '<', '>', '\'' or '"'), or n. */
size_t esc_fmt_xml_scan(const char *p, size_t n);

#endif
