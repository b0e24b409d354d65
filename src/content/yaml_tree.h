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
#include "core/buf.h"
#include "core/error.h"

#define ESC_YAML_MAX_NODES 1000000
/* The version of what esc_yaml_parse makes of a text, a part of the content cache's key
 * (content/ycache.c): raise it with any change to the trees it makes. */
#define ESC_YAML_TREE_FORMAT 1

typedef enum esc_ykind {
    ESC_Y_NULL, /* alias, empty document */
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

/* The tree as bytes, appended to out, for esc_yaml_load to read back (the content cache,
 * content/ycache.c): each node a tag byte (kind, plain, has text), its line and, for a scalar,
 * its text's length and bytes, for a collection, its item count and items, numbers as LEB128. */
esc_status esc_yaml_save(const esc_ynode *root, esc_buf *out);
/* The tree esc_yaml_save wrote as the n bytes at p, into *root in a; false when they are not
 * one whole tree, nest deeper than max_depth or hold more than ESC_YAML_MAX_NODES nodes. */
bool esc_yaml_load(const char *p, size_t n, esc_arena *a, size_t max_depth, esc_ynode **root);

/* Value for key in a mapping (NULL if not a mapping or no such key). */
const esc_ynode *esc_ymap_get(const esc_ynode *map, const char *key);
/* Scalar text, or NULL for a null/non-scalar node. */
const char *esc_ynode_str(const esc_ynode *n);
/* True for null nodes and the plain scalars null, Null, NULL, ~ and the empty plain scalar. */
bool esc_ynode_is_null(const esc_ynode *n);

#endif
