/* libyaml event stream -> esc_ynode tree in an arena.
 *
 * Invariants: every node and string is in the caller's arena; the open-collection stack holds
 * heap-grown child lists that are copied into the arena when the collection ends and freed on
 * every path. Depth and node count are capped. Deliberately not done: tags, anchors/aliases
 * (aliases read as null), multi-document streams (only the first document is kept), and any
 * YAML 1.1 type resolution beyond "is this null" (callers interpret scalars). */
#include "content/yaml_tree.h"

#include <string.h>
#include <yaml.h>

#include "core/alloc.h"

typedef struct frame {
    esc_ynode *node;
    esc_ynode **kids;
    size_t n, cap;
} frame;

static esc_status push_kid(frame *f, esc_ynode *k) {
    if (f->n == f->cap && !ESC_VEC_GROW(f->kids, f->cap, f->n + 1, 8))
        return ESC_ENOMEM;
    f->kids[f->n++] = k;
    return ESC_OK;
}

static esc_ynode *new_node(esc_arena *a, esc_ykind kind, size_t line) {
    esc_ynode *n = esc_arena_alloc(a, sizeof *n);
    if (!n)
        return NULL;
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->line = line;
    return n;
}

esc_status esc_yaml_parse(const char *data, size_t len, esc_arena *a, size_t max_depth,
                          esc_ynode **root, esc_error *err) {
    yaml_parser_t parser;
    yaml_event_t ev;
    esc_status st = ESC_OK;
    frame *stack = NULL;
    size_t depth = 0, nodes = 0;
    esc_ynode *top = NULL;
    bool done = false, have_event = false;

    *root = NULL;
    if (!yaml_parser_initialize(&parser))
        return esc_error_set(err, ESC_ENOMEM, "cannot initialise the YAML parser");
    stack = esc_calloc(max_depth + 1, sizeof *stack);
    if (!stack) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);

    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            size_t line = parser.problem_mark.line + 1;
            st = esc_error_set(err, ESC_ECONTENT, "YAML error at line %zu: %s%s%s", line,
                               parser.problem ? parser.problem : "syntax error",
                               parser.context ? " " : "", parser.context ? parser.context : "");
            if (err)
                err->line = line;
            goto fail;
        }
        have_event = true;
        size_t line = ev.start_mark.line + 1;
        esc_ynode *made = NULL;
        switch (ev.type) {
        case YAML_DOCUMENT_END_EVENT:
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_SCALAR_EVENT:
            made = new_node(a, ESC_Y_SCALAR, line);
            if (made) {
                esc_str s = esc_arena_dup(
                    a, esc_str_make((const char *)ev.data.scalar.value, ev.data.scalar.length));
                if (!s.ptr)
                    made = NULL;
                else {
                    made->str = s.ptr;
                    made->len = s.len;
                    made->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                }
            }
            break;
        case YAML_ALIAS_EVENT:
            made = new_node(a, ESC_Y_NULL, line);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            if (depth >= max_depth) {
                st = esc_error_set(err, ESC_ELIMIT, "YAML nesting deeper than %zu at line %zu",
                                   max_depth, line);
                if (err)
                    err->line = line;
                goto fail;
            }
            esc_ynode *n =
                new_node(a, ev.type == YAML_SEQUENCE_START_EVENT ? ESC_Y_SEQ : ESC_Y_MAP, line);
            if (!n) {
                st = esc_error_set(err, ESC_ELIMIT, "YAML document too large");
                goto fail;
            }
            if (++nodes > ESC_YAML_MAX_NODES) {
                st = esc_error_set(err, ESC_ELIMIT, "more than %d YAML nodes", ESC_YAML_MAX_NODES);
                goto fail;
            }
            stack[depth].node = n;
            stack[depth].kids = NULL;
            stack[depth].n = stack[depth].cap = 0;
            depth++;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            frame *f = &stack[--depth];
            esc_ynode *n = f->node;
            if (f->n) {
                n->items = esc_arena_alloc(a, f->n * sizeof *n->items);
                if (!n->items) {
                    depth++; /* let cleanup free f->kids */
                    st = esc_error_set(err, ESC_ELIMIT, "YAML document too large");
                    goto fail;
                }
                memcpy(n->items, f->kids, f->n * sizeof *n->items);
            }
            n->n = n->kind == ESC_Y_MAP ? f->n / 2 : f->n;
            esc_free(f->kids);
            f->kids = NULL;
            made = n;
            break;
        }
        default:
            break;
        }
        if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_ALIAS_EVENT) {
            if (!made) {
                yaml_event_delete(&ev);
                have_event = false;
                st = esc_error_set(err, ESC_ELIMIT, "YAML document too large");
                goto fail;
            }
            if (++nodes > ESC_YAML_MAX_NODES) {
                yaml_event_delete(&ev);
                have_event = false;
                st = esc_error_set(err, ESC_ELIMIT, "more than %d YAML nodes", ESC_YAML_MAX_NODES);
                goto fail;
            }
        }
        yaml_event_delete(&ev);
        have_event = false;
        if (made) {
            if (depth == 0)
                top = made;
            else if (push_kid(&stack[depth - 1], made) != ESC_OK) {
                st = esc_error_set(err, ESC_ENOMEM, "out of memory");
                goto fail;
            }
        }
    }
    if (!top)
        top = new_node(a, ESC_Y_NULL, 1);
    if (!top) {
        st = esc_error_set(err, ESC_ELIMIT, "YAML document too large");
        goto fail;
    }
    *root = top;
fail:
    if (have_event)
        yaml_event_delete(&ev);
    if (stack) {
        for (size_t i = 0; i < depth; i++)
            esc_free(stack[i].kids);
        esc_free(stack);
    }
    yaml_parser_delete(&parser);
    return st;
}

const esc_ynode *esc_ymap_get(const esc_ynode *map, const char *key) {
    if (!map || map->kind != ESC_Y_MAP)
        return NULL;
    for (size_t i = map->n; i > 0; i--) {
        const esc_ynode *k = map->items[2 * (i - 1)];
        if (k->kind == ESC_Y_SCALAR && strcmp(k->str, key) == 0)
            return map->items[2 * (i - 1) + 1];
    }
    return NULL;
}

bool esc_ynode_is_null(const esc_ynode *n) {
    if (!n || n->kind == ESC_Y_NULL)
        return true;
    if (n->kind != ESC_Y_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
           strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

const char *esc_ynode_str(const esc_ynode *n) {
    if (!n || n->kind != ESC_Y_SCALAR || esc_ynode_is_null(n))
        return NULL;
    return n->str;
}

/* ---- the tree as bytes ---- */

enum { TAG_PLAIN = 4, TAG_TEXT = 8 }; /* the kind in the low two bits */

esc_status esc_yaml_save(const esc_ynode *n, esc_buf *out) {
    unsigned char tag =
        (unsigned char)(n->kind | (n->plain ? TAG_PLAIN : 0) | (n->str ? TAG_TEXT : 0));
    esc_status st = esc_buf_append(out, &tag, 1);
    if (st == ESC_OK)
        st = esc_buf_put_varint(out, n->line);
    if (st == ESC_OK && n->str && (st = esc_buf_put_varint(out, n->len)) == ESC_OK)
        st = esc_buf_append(out, n->str, n->len);
    if (n->kind != ESC_Y_SEQ && n->kind != ESC_Y_MAP)
        return st;
    size_t items = n->kind == ESC_Y_MAP ? 2 * n->n : n->n;
    if (st == ESC_OK)
        st = esc_buf_put_varint(out, items);
    for (size_t i = 0; i < items && st == ESC_OK; i++)
        st = esc_yaml_save(n->items[i], out);
    return st;
}

typedef struct reader {
    const unsigned char *p;
    size_t at, end;
    esc_arena *a;
    size_t max_depth, nodes;
} reader;

static bool get_num(reader *r, size_t *v) {
    uint64_t x;
    if (!esc_varint_get(r->p, r->end, &r->at, &x) || x > SIZE_MAX)
        return false;
    *v = (size_t)x;
    return true;
}

static esc_ynode *load_node(reader *r, size_t depth) {
    if (r->at >= r->end || ++r->nodes > ESC_YAML_MAX_NODES)
        return NULL;
    unsigned char tag = r->p[r->at++];
    esc_ykind kind = (esc_ykind)(tag & 3);
    size_t line, len, items;
    if ((tag & ~(unsigned char)15) || !get_num(r, &line))
        return NULL;
    esc_ynode *n = new_node(r->a, kind, line);
    if (!n)
        return NULL;
    n->plain = tag & TAG_PLAIN;
    if (tag & TAG_TEXT) {
        if (!get_num(r, &len) || len > r->end - r->at)
            return NULL;
        esc_str s = esc_arena_dup(r->a, esc_str_make((const char *)r->p + r->at, len));
        if (!s.ptr)
            return NULL;
        n->str = s.ptr;
        n->len = len;
        r->at += len;
    }
    if (kind != ESC_Y_SEQ && kind != ESC_Y_MAP)
        return kind == ESC_Y_SCALAR && !n->str ? NULL : n;
    if (depth >= r->max_depth || !get_num(r, &items) || items > r->end - r->at ||
        (kind == ESC_Y_MAP && items % 2))
        return NULL;
    if (items) {
        n->items = esc_arena_alloc(r->a, items * sizeof *n->items);
        if (!n->items)
            return NULL;
    }
    for (size_t i = 0; i < items; i++)
        if (!(n->items[i] = load_node(r, depth + 1)))
            return NULL;
    n->n = kind == ESC_Y_MAP ? items / 2 : items;
    return n;
}

bool esc_yaml_load(const char *p, size_t n, esc_arena *a, size_t max_depth, esc_ynode **root) {
    reader r = {(const unsigned char *)p, 0, n, a, max_depth, 0};
    esc_ynode *top = load_node(&r, 0);
    if (!top || r.at != r.end)
        return false;
    *root = top;
    return true;
}
