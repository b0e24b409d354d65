/* The group-by table's representation, shared by agg.c (building it) and partial.c (partial
 * aggregates: encoding a table's groups and merging them into another table). Private to agg/. */
#ifndef ESC_AGG_AGG_INT_H
#define ESC_AGG_AGG_INT_H

#include "agg/agg.h"
#include "core/arena.h"

typedef struct vnode { /* one distinct or listed value of a slot */
    esc_str v;
    struct vnode *next;
} vnode;

typedef struct slot {
    uint64_t n; /* values seen (count_field, avg), distinct values (values, dc), list length */
    double num; /* min/max numeric, sum */
    bool has_num;
    esc_str text; /* min/max: text of the numeric winner or the string winner */
    bool has_str; /* min/max: a string winner is set (used only when no number was seen) */
    esc_str str_best;
    int64_t t; /* earliest/latest time */
    vnode *head, *tail;
} slot;

typedef struct group {
    uint32_t *keys; /* nkeys + 1 offsets into the bytes that follow them (key k ends with NUL) */
    uint64_t hash;
    uint64_t count;
    slot *slots;
} group;

typedef struct dentry {
    uint64_t hash;
    uint32_t g, i;
    esc_str v;
} dentry;

struct esc_agg {
    size_t nkeys, naggs, max_groups;
    esc_agg_fn *fns;
    esc_arena arena;
    group *groups;
    size_t ngroups, gcap;
    uint32_t *gtab; /* group index + 1, 0 = empty */
    size_t gtab_cap;
    dentry *dtab; /* distinct set */
    size_t dtab_n, dtab_cap;
    uint64_t dropped[2]; /* records of merged groups dropped at the group cap, the byte cap */
    size_t last;         /* group of the last esc_agg_group call */
    uint64_t calls;      /* successful esc_agg_group calls */
    esc_str *scratch;    /* result views */
    size_t scratch_cap;
};

/* The arena said no: its cap (ESC_ELIMIT) or memory running out (ESC_ENOMEM). */
esc_status agg_full(const esc_agg *a, esc_error *err);
/* s copied into the table's arena; *ok false when the arena refused. */
esc_str agg_keep(esc_agg *a, esc_str s, bool *ok);
/* Insert (g, i, v) into the distinct set; *added says whether it was new; *kept is the copy. */
esc_status agg_distinct(esc_agg *a, size_t g, size_t i, esc_str v, bool *added, esc_str *kept,
                        esc_error *err);
/* Append v (already kept) to the slot's value list. */
esc_status agg_push(esc_agg *a, slot *s, esc_str v, esc_error *err);

#endif
