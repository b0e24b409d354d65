/* Group-by tables and aggregates (count, values, list, dc, min, max, sum, avg, earliest,
 * latest) as tstats and stats compute them (SPEC section 4).
 *
 * A table maps a tuple of key strings (compared exactly, byte for byte) to a group; each group
 * holds one state per aggregate. Every string the table keeps is copied into its own arena, so
 * callers may pass views that die after the call. Limits: max_groups groups and max_bytes of
 * copied keys and values; hitting either is ESC_ELIMIT with a message. This module knows
 * nothing about SPL text or CIM records: spl/exec.c feeds it values. */
#ifndef ESC_AGG_AGG_H
#define ESC_AGG_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/str.h"

typedef enum esc_agg_fn {
    ESC_AGG_COUNT,       /* records in the group */
    ESC_AGG_COUNT_FIELD, /* values present */
    ESC_AGG_VALUES,      /* distinct values, byte-order sorted */
    ESC_AGG_LIST,        /* values in arrival order, at most ESC_AGG_LIST_MAX */
    ESC_AGG_DC,          /* number of distinct values (case-sensitive) */
    ESC_AGG_MIN,         /* numeric minimum when any value is a number, else lexicographic */
    ESC_AGG_MAX,
    ESC_AGG_SUM, /* sum of the numeric values; null when there are none */
    ESC_AGG_AVG,
    ESC_AGG_EARLIEST, /* value with the smallest time (ties: the byte-smallest value) */
    ESC_AGG_LATEST,   /* value with the largest time (ties: the byte-smallest value) */
} esc_agg_fn;

#define ESC_AGG_LIST_MAX 100

typedef struct esc_agg esc_agg;

/* One input value: text, and its number when it is one. */
typedef struct esc_agg_in {
    esc_str s;
    bool is_num;
    double num;
} esc_agg_in;

/* An aggregate's result for one group. Views stay valid until the next esc_agg_result call or
 * esc_agg_free. n == 0: null. is_num: the result is the number num (v[0] is its text when the
 * number came from an input value, else n == 0 and the caller formats num). */
typedef struct esc_agg_out {
    size_t n;
    const esc_str *v;
    bool is_num;
    double num;
} esc_agg_out;

/* NULL on allocation failure. fns is copied. */
esc_agg *esc_agg_new(size_t nkeys, const esc_agg_fn *fns, size_t naggs, size_t max_groups,
                     size_t max_bytes);
void esc_agg_free(esc_agg *a);

/* The hash of keys[i] for each i < n whose bit of mask is set (every i from 64 on): the group
 * table's with mask UINT64_MAX. */
uint64_t esc_agg_hash(const esc_str *keys, size_t n, uint64_t mask);
/* The same from each key's esc_str_hash (kh[i] of keys[i]). */
uint64_t esc_agg_hash_of(const uint64_t *kh, size_t n, uint64_t mask);
/* The group for these nkeys keys, created when new; counts one record in it. */
esc_status esc_agg_group(esc_agg *a, const esc_str *keys, size_t *group, esc_error *err);
/* esc_agg_group of keys whose esc_agg_hash (mask UINT64_MAX) the caller made: h. */
esc_status esc_agg_group_hashed(esc_agg *a, const esc_str *keys, uint64_t h, size_t *group,
                                esc_error *err);
/* Add values of one record to aggregate i of group g (ESC_AGG_COUNT ignores them). time_us is
 * the record time for earliest/latest. */
esc_status esc_agg_add(esc_agg *a, size_t g, size_t i, const esc_agg_in *vals, size_t nvals,
                       int64_t time_us, esc_error *err);

size_t esc_agg_ngroups(const esc_agg *a);
/* The group the last successful esc_agg_group call counted a record in; *calls (may be NULL):
 * how many such calls there have been (a caller tells whether a record was grouped). */
size_t esc_agg_last(const esc_agg *a, uint64_t *calls);
esc_str esc_agg_key(const esc_agg *a, size_t g, size_t k);
/* Group indices ordered by their keys (byte order, first key first); *order is esc_malloc'd. */
esc_status esc_agg_sorted(const esc_agg *a, size_t **order, esc_error *err);
esc_status esc_agg_result(esc_agg *a, size_t g, size_t i, esc_agg_out *out, esc_error *err);
/* Keep only the groups g with keep[g] (their states unchanged, in the same relative order) and
 * give the others' memory back; remap[g] (room for every group): g's new number, or SIZE_MAX
 * when dropped. On failure (ESC_ENOMEM) the table is unchanged. */
esc_status esc_agg_compact(esc_agg *a, const bool *keep, size_t *remap, esc_error *err);
/* Drop every group and give their memory back (the table stays usable, empty, same shape). */
void esc_agg_reset(esc_agg *a);
/* Bytes the table holds now (arena blocks, group and hash arrays): what a spill gives back. */
size_t esc_agg_mem(const esc_agg *a);
/* Bounds for a caller that must know, before feeding a table, that it stays under its byte cap
 * (spl/cmd_stats.c, a stats of one row per group): the arena bytes of a group whose keys add up
 * to key_bytes, and of one value of len bytes fed once to aggregate i (values, list, dc, min,
 * max, earliest and latest keep a copy of it at most once, count, sum and avg none). Whether a
 * table whose groups and values add up to at most `bytes` by these bounds stays under the cap:
 * arena blocks are at most the block size or one allocation, and each block but the last is
 * left for an allocation that does not fit in what remains of it, so they hold at most
 * 3 * bytes + one block. */
size_t esc_agg_group_bound(const esc_agg *a, size_t key_bytes);
size_t esc_agg_value_bound(const esc_agg *a, size_t i, size_t len);
bool esc_agg_fits(const esc_agg *a, size_t bytes);

/* ---- partial aggregates (two-stage aggregation, docs/scale.md) ----------------------------- */

/* Whether fn's per-group state merges exactly, so that a table fed some records and merged with
 * tables fed the others gives the results of one table fed them all: count, count(FIELD), sum,
 * avg (kept as sum and count), min, max, dc and values (kept as their value set), earliest and
 * latest (kept with their time). list keeps arrival order and a cap: it does not. */
bool esc_agg_mergeable(esc_agg_fn fn);
/* Whether every aggregate of a merges. */
bool esc_agg_table_mergeable(const esc_agg *a);
/* Append the partial state of groups[0..n) (every group when groups is NULL) to out, in a
 * self-describing binary form (partial.c). ESC_EINTERNAL when a function does not merge. */
esc_status esc_agg_encode(const esc_agg *a, const size_t *groups, size_t n, esc_buf *out,
                          esc_error *err);
/* Merge an encoded partial into a, whose BY count and functions must be the partial's.
 * ESC_EMALFORMED (err says where) for a partial that is broken or of another shape; the table's
 * own limits as esc_agg_group and esc_agg_add. A failed merge may have merged some groups. */
esc_status esc_agg_merge(esc_agg *a, const void *data, size_t len, esc_error *err);
/* esc_agg_merge, group by group: keep (may be NULL: every group) says whether the partial's
 * group with these keys is merged; each (may be NULL) is told, for the partial's groups in
 * order, the table's group it went into, or SIZE_MAX when keep said no or the group was
 * dropped. drop: a group past the table's caps (ESC_ELIMIT: max groups, the arena's bytes) is
 * dropped as a record that no longer fits is, not an error: a group the table does not hold is
 * not made, the rest of one it holds is not merged (it keeps what fitted), and its record count
 * is added to esc_agg_dropped's. */
typedef struct esc_agg_merge_cb {
    bool (*keep)(void *ctx, const esc_str *keys);
    void (*each)(void *ctx, size_t g);
    void *ctx;
    bool drop;
} esc_agg_merge_cb;
/* The records of the groups merges dropped (esc_agg_merge_cb.drop) since a was made or reset:
 * *groups at the group cap (`more than N groups`), *bytes at the byte cap (`aggregation memory
 * limit reached`). */
void esc_agg_dropped(const esc_agg *a, uint64_t *groups, uint64_t *bytes);
esc_status esc_agg_merge_each(esc_agg *a, const void *data, size_t len, const esc_agg_merge_cb *cb,
                              esc_error *err);
/* A partial of a's shape split without merging it: each group's bytes appended, as they are, to
 * outs[part(ctx, keys)] (a group whose part is nparts or more goes to none), each out a partial
 * of the same shape holding its groups in their order, or left empty when none went to it
 * (outs are emptied first). of[j] is group j's part; ESC_EMALFORMED for a broken partial or one
 * of more than cap groups. */
esc_status esc_agg_split(const esc_agg *a, const void *data, size_t len,
                         size_t (*part)(void *ctx, const esc_str *keys), void *ctx, esc_buf *outs,
                         size_t nparts, size_t *of, size_t cap, size_t *ngroups, esc_error *err);

#endif
