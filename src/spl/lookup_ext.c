/* The external lookups escudo computes itself: lookups an app defines with `external_cmd`, a
 * script that Splunk runs with the rows' input values, here written in C with the script's
 * results.
 *
 * ut_shannon_lookup, from URL Toolbox (splunk/utbox, default/transforms.conf: `external_cmd =
 * ut_shannon.py word`, `fields_list = word, ut_shannon`), which ESCU's Randomly Generated
 * Windows Service Name and Randomly Generated Scheduled Task Name call. Its bin/ut_shannon.py
 * strips the word (Python 3 str.strip(): Unicode whitespace), counts each character (code
 * point), and for each distinct one, in order of first appearance, subtracts p * math.log(p, 2)
 * with p = count / length; the result goes back through Python's csv module, which writes a
 * float as str(): the shortest decimal that reads back to the same double, "2.0" for a whole
 * number, exponent form below 1e-4. Here: the same sums in the same order with the same libm
 * (CPython's math.log(x, 2) is log(x) / log(2)), and the same text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/utf8.h"
#include "spl/cmd.h"

/* Python's str.isspace(): the characters of Unicode's White_Space property and the four
 * information separators 0x1C-0x1F. */
static bool py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Python 3's str() of v (finite): the shortest round-tripping digits, in positional form when
 * the decimal exponent is in [-4, 16), with ".0" on a whole number. */
static void py_float_str(double v, char out[SPL_EXT_OUT]) {
    char e[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    snprintf(e, sizeof e, "%.*e", prec - 1, v);
    char *ep = strchr(e, 'e');
    int exp = atoi(ep + 1);
    if (exp < -4 || exp >= 16) {
        snprintf(out, SPL_EXT_OUT, "%s", e);
        return;
    }
    char digits[20];
    size_t nd = 0;
    for (const char *p = e; p < ep; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    size_t o = 0;
    if (v < 0)
        out[o++] = '-';
    if (exp < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int z = -1; z > exp; z--)
            out[o++] = '0';
        for (size_t k = 0; k < nd; k++)
            out[o++] = digits[k];
    } else {
        for (size_t k = 0; k <= (size_t)exp; k++)
            out[o++] = k < nd ? digits[k] : '0';
        out[o++] = '.';
        if (nd > (size_t)exp + 1)
            for (size_t k = (size_t)exp + 1; k < nd; k++)
                out[o++] = digits[k];
        else
            out[o++] = '0';
    }
    out[o] = '\0';
}

/* A distinct character of a word and how often it occurs. */
typedef struct seen_char {
    uint32_t cp;
    size_t count;
} seen_char;

/* ut_shannon.py's shannon(word.strip()), as its text; false when out of memory. */
static bool ut_shannon(const char *s, size_t n, char *out) {
    uint32_t *cp = esc_malloc((n ? n : 1) * sizeof *cp);
    size_t ncp = 0;
    if (!cp)
        return false;
    for (size_t i = 0; i < n;)
        cp[ncp++] = esc_utf8_next(s, n, &i);
    size_t from = 0, to = ncp;
    while (from < to && py_space(cp[from]))
        from++;
    while (to > from && py_space(cp[to - 1]))
        to--;
    /* distinct characters in order of first appearance, found through an open-addressed set
     * of indexes into seen[] */
    size_t len = to - from, slots = 16, nseen = 0;
    while (slots < 2 * len)
        slots *= 2;
    seen_char *seen = esc_malloc((len ? len : 1) * sizeof *seen);
    uint32_t *slot = esc_calloc(slots, sizeof *slot); /* index into seen + 1; 0: empty */
    if (!seen || !slot) {
        esc_free(cp);
        esc_free(seen);
        esc_free(slot);
        return false;
    }
    for (size_t i = from; i < to; i++) {
        size_t h = (cp[i] * 2654435761u) & (slots - 1);
        while (slot[h] && seen[slot[h] - 1].cp != cp[i])
            h = (h + 1) & (slots - 1);
        if (!slot[h]) {
            seen[nseen].cp = cp[i];
            seen[nseen].count = 0;
            slot[h] = (uint32_t)++nseen;
        }
        seen[slot[h] - 1].count++;
    }
    double entropy = 0.0;
    for (size_t k = 0; k < nseen; k++) {
        double p = (double)seen[k].count / (double)len;
        entropy -= p * (log(p) / log(2.0));
    }
    py_float_str(entropy, out);
    esc_free(cp);
    esc_free(seen);
    esc_free(slot);
    return true;
}

static const char *const ut_shannon_fields[] = {"word", "ut_shannon"};

static const spl_ext_lookup ext_lookups[] = {
    {{.name = "ut_shannon_lookup", .case_sensitive = true}, ut_shannon_fields, 2, ut_shannon},
};

const spl_ext_lookup *spl_ext_lookup_find(const char *name) {
    for (size_t i = 0; i < sizeof ext_lookups / sizeof ext_lookups[0]; i++)
        if (strcmp(ext_lookups[i].def.name, name) == 0)
            return &ext_lookups[i];
    return NULL;
}
