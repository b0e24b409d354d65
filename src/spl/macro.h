/* Search macros as content defines them (ESCU's macros folder, CIM macros, local overrides).
 *
 * A macro is identified by name and arity, as Splunk does ("security_content_ctime(1)" is the
 * one-argument security_content_ctime). Expansion (spl/expand.c) substitutes $arg$ textually,
 * recursively, with clear errors for an unknown macro, a wrong arity, or a cycle. The set is
 * built at load time and frozen afterwards; the strings are owned by whoever built the set. */
#ifndef ESC_SPL_MACRO_H
#define ESC_SPL_MACRO_H

#include <stddef.h>

#include "core/error.h"

typedef struct esc_macro {
    const char *name; /* without the "(N)" suffix */
    size_t nargs;
    const char *const *args; /* argument names, nargs of them */
    const char *definition;
    const char *origin; /* file it came from, for messages; may be NULL */
} esc_macro;

typedef struct esc_macro_set {
    const esc_macro *items;
    size_t n;
    /* optional: items by name and arity, open addressing on esc_macro_hash; each slot holds an
     * index + 1 (0: empty), nslots a power of two; NULL: esc_macro_find scans items */
    const size_t *slot;
    size_t nslots;
} esc_macro_set;

/* The hash of a name (len bytes) and arity that esc_macro_set.slot is built on. */
size_t esc_macro_hash(const char *name, size_t len, size_t nargs);

/* The macro with this name and arity, or NULL. When several have the same name and arity the
 * last one wins (local overrides are appended after shipped content); a set with slots has one
 * of each. */
const esc_macro *esc_macro_find(const esc_macro_set *set, const char *name, size_t len,
                                size_t nargs);

#endif
