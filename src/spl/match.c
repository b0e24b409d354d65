/* Small matching helpers shared by the planner and the executor: '*' globs (ASCII
 * case-insensitive for search terms, exact for field-name patterns), number parsing, and the
 * CIM field names as tstats writes them.
 *
 * Invariants: glob matching is linear-time backtracking on the last '*' (no recursion, so a
 * pattern like `*a*a*a*b` cannot blow up). Deliberately not done: '?' or character classes
 * (SPL search has none). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spl/ast.h"

static bool glob(const char *p, size_t pn, const char *s, size_t sn, bool ci) {
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pn && (ci ? esc_lower((unsigned char)p[pi]) ==
                                        esc_lower((unsigned char)s[si])
                                  : p[pi] == s[si])) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

bool spl_glob_imatch(const char *pat, size_t plen, const char *s, size_t slen) {
    return glob(pat, plen, s, slen, true);
}

bool spl_glob_match(const char *pat, size_t plen, const char *s, size_t slen) {
    return glob(pat, plen, s, slen, false);
}

/* Decimal number with optional sign, fraction and exponent, nothing else (no spaces, no hex,
 * no inf/nan). */
bool spl_parse_num(const char *s, size_t n, double *out) {
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    size_t i = 0;
    if (s[i] == '+' || s[i] == '-')
        i++;
    bool digits = false;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits = true;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits = true;
    }
    if (!digits)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j >= n || s[j] < '0' || s[j] > '9')
            return false;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++;
        i = j;
    }
    if (i != n)
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    errno = 0;
    double v = strtod(buf, NULL);
    if (!isfinite(v))
        return false;
    *out = v;
    return true;
}

const char *spl_cim_name(int id) {
    return id >= 0 ? esc_cim_field_name((esc_cim_field)id) : NULL;
}

/* "Processes.X" -> CIM field X; "_time" -> FIELD_TIME; anything else is a field the dataset
 * does not have. (Kept here rather than calling esc_cim_field_lookup so that the prefix rule
 * lives in one place; the table mirrors cim.h's enum.) */
int spl_cim_lookup(const char *name, size_t len) {
    if (len == 5 && memcmp(name, "_time", 5) == 0)
        return FIELD_TIME;
    if (len < 10 || memcmp(name, "Processes.", 10) != 0)
        return FIELD_ABSENT;
    name += 10;
    len -= 10;
    int id = esc_cim_field_lookup(esc_str_make(name, len));
    return id >= 0 ? id : FIELD_ABSENT;
}
