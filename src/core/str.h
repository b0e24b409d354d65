/* Byte-string views.
 *
 * An esc_str is a pointer and a length into memory somebody else owns (the input buffer or an
 * arena); it is never NUL-terminated by contract. Case-insensitive operations fold ASCII only:
 * that is what every comparison in this project means by "case-insensitive" (docs/spl.md). */
#ifndef ESC_CORE_STR_H
#define ESC_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct esc_str {
    const char *ptr;
    size_t len;
} esc_str;

#define ESC_STR(lit) ((esc_str){(lit), sizeof(lit) - 1})
#define ESC_STR_NULL ((esc_str){NULL, 0})
/* printf("%.*s", ESC_STR_FMT(s)) */
#define ESC_STR_FMT(s) (int)(s).len, (s).ptr

static inline esc_str esc_str_c(const char *s) {
    return (esc_str){s, s ? strlen(s) : 0};
}
static inline esc_str esc_str_make(const char *p, size_t n) {
    return (esc_str){p, n};
}
static inline unsigned char esc_lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}
/* ASCII classes, whatever the locale. */
static inline bool esc_is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool esc_is_digit(char c) {
    return c >= '0' && c <= '9';
}
static inline bool esc_is_alnum(char c) {
    return esc_is_alpha(c) || esc_is_digit(c);
}
/* The value of hex digit c, or -1. */
static inline int esc_hexval(char c) {
    if (esc_is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Inline: field set lookups compare a name against every field's, most of a different length. */
static inline bool esc_str_eq(esc_str a, esc_str b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}
/* Inline so that with a literal b the length is a constant and the compare a few loads (the
 * EVTX decoder asks it for every element and attribute name). */
static inline bool esc_str_eq_c(esc_str a, const char *b) {
    size_t n = b ? strlen(b) : 0;
    return a.len == n && (n == 0 || memcmp(a.ptr, b, n) == 0);
}
bool esc_str_ieq(esc_str a, esc_str b);
bool esc_str_ieq_c(esc_str a, const char *b);
/* memcmp order, shorter prefix first: <0, 0, >0. */
int esc_str_cmp(esc_str a, esc_str b);
/* Offset of the first occurrence of needle in hay, or -1. Empty needle is found at 0. */
long esc_str_find(esc_str hay, esc_str needle);
long esc_str_ifind(esc_str hay, esc_str needle);
esc_str esc_str_trim(esc_str s);
/* Text after the last '\' or '/', or s itself. */
esc_str esc_str_basename(esc_str s);
/* One step of esc_str_hash: w mixed into h (agg/ combines the hashes of a group's keys so). */
static inline uint64_t esc_hash_mix(uint64_t h, uint64_t w) {
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    return h ^ (h >> 32);
}
/* A 64-bit hash of s's bytes, eight at a time (for hash tables only: no output depends on it;
 * a record's BY values are hashed once for every search grouping by them, agg.h). */
uint64_t esc_str_hash(esc_str s);
/* A hash of s with ASCII letters folded to lower case, from h (FNV-1a's steps): strings equal
 * case aside (esc_str_ieq) hash alike. For hash tables only. */
uint64_t esc_str_ihash(esc_str s, uint64_t h);

#endif
