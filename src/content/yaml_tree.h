/* A small YAML document tree built with libyaml, for content loading.
 *
 * Only the first document of a stream is kept. Nodes live in the caller's arena. Aliases become
 * null nodes (content never needs them, and expanding them is how YAML bombs work). Nesting
 * deeper than max_depth and more than ESC_YAML_MAX_NODES nodes are ESC_ELIMIT errors. A mapping
 * keeps its pairs in document order; lookups return the last pair with the key (last one wins,
 * as in PyYAML). */
#ifndef ESC_CONTENT_YAML_TREE_H
#define ESC_CONTENT_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/error.h"

#define ESC_YAML_MAX_NODES 1000000

typedef enum esc_ykind {
    ESC_Y_NULL,   /* alias, empty document */
    ESC_Y_SCALAR,
    ESC_Y_SEQ,
    ESC_Y_MAP,
} esc_ykind;

typedef struct esc_ynode esc_ynode;
struct esc_ynode {
    esc_ykind kind;
    bool plain;      /* scalar written without quotes (so `null`, `~` and `` mean null) */
    const char *str; /* scalar text, NUL-terminated */
    size_t len;
    esc_ynode **items; /* seq: n items; map: 2*n items, key then value */
    size_t n;
    size_t line; /* 1-based */
};

/* Parse data (len bytes) into *root. err has the 1-based line of the problem. */
esc_status esc_yaml_parse(const char *data, size_t len, esc_arena *a, size_t max_depth,
                          esc_ynode **root, esc_error *err);

/* Value for key in a mapping (NULL if not a mapping or no such key). */
const esc_ynode *esc_ymap_get(const esc_ynode *map, const char *key);
/* Scalar text, or NULL for a null/non-scalar node. */
const char *esc_ynode_str(const esc_ynode *n);
/* True for null nodes and the plain scalars null, Null, NULL, ~ and the empty plain scalar. */
bool esc_ynode_is_null(const esc_ynode *n);

#endif
