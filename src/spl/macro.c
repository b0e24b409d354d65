/* Macro lookup by name and arity; the last definition wins. */
#include "spl/macro.h"

#include <stdint.h>
#include <string.h>

size_t esc_macro_hash(const char *name, size_t len, size_t nargs) {
    uint64_t h = 1469598103934665603ull ^ nargs; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

const esc_macro *esc_macro_find(const esc_macro_set *set, const char *name, size_t len,
                                size_t nargs) {
    if (!set)
        return NULL;
    if (set->slot) {
        size_t mask = set->nslots - 1;
        for (size_t j = esc_macro_hash(name, len, nargs) & mask; set->slot[j]; j = (j + 1) & mask) {
            const esc_macro *m = &set->items[set->slot[j] - 1];
            if (m->nargs == nargs && strncmp(m->name, name, len) == 0 && !m->name[len])
                return m;
        }
        return NULL;
    }
    for (size_t i = set->n; i > 0; i--) {
        const esc_macro *m = &set->items[i - 1];
        if (m->nargs == nargs && strlen(m->name) == len && memcmp(m->name, name, len) == 0)
            return m;
    }
    return NULL;
}
