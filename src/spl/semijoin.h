/* Internal to src/spl/: the semi-join of spilled groups (semijoin.c): the key values one side
 * of a join holds, and which join fields may filter the other side's groups. */
#ifndef ESC_SPL_SEMIJOIN_H
#define ESC_SPL_SEMIJOIN_H

#include <stdbool.h>
#include <stddef.h>

#include "agg/agg.h"
#include "core/error.h"
#include "core/str.h"
#include "spl/spl.h"

typedef struct spl_keyset spl_keyset;

/* For a table of nby BY fields; NULL when out of memory. */
spl_keyset *spl_keyset_new(size_t nby);
void spl_keyset_free(spl_keyset *k);
/* Constrain BY field b to the values of column col of t (every value of every cell; added to
 * what an earlier call gave). False when out of memory. */
bool spl_keyset_add_column(spl_keyset *k, size_t b, const esc_table *t, size_t col);
/* Whether some BY field is constrained. */
bool spl_keyset_any(const spl_keyset *k);
/* Whether k keeps no group: some field it constrains has no value (k may be NULL: false). */
bool spl_keyset_none(const spl_keyset *k);
/* An esc_agg_merge_cb keep: a group whose every constrained key is among its field's values. */
bool spl_keyset_keep(void *ctx, const esc_str *keys);

/* join_cap.c: key tuples of n BY values compared field by field in byte order (the order of
 * esc_agg_sorted, so of a tstats table's rows); a copy of one in a single esc_malloc'd block. */
int spl_keys_cmp(const esc_str *a, const esc_str *b, size_t n);
esc_str *spl_keys_copy(const esc_str *keys, size_t n);

/* join_cap.c: of the groups spilled to sp (of nby BY fields; shape: an esc_agg of them, left
 * as it is), those keys keeps whose rows are among the first cap in key order: *none when
 * none is, else *last, when some are not, the last key tuple that is (esc_malloc'd: keep the
 * groups whose keys are at most it), else NULL (all are). *groups: the distinct groups. */
typedef struct spl_spill spl_spill;
esc_status spl_join_cap_cutoff(spl_spill *sp, esc_agg *shape, const spl_keyset *keys, size_t nby,
                               size_t cap, esc_str **last, bool *none, uint64_t *groups,
                               esc_error *err);

/* The tstats BY field of p that may filter p's own groups by join field k of join stage i (the
 * inner join's subsearch rows give the values), or -1. */
int spl_semijoin_main_by(const esc_plan *p, size_t i, size_t k);
/* The tstats BY field of join stage i's subsearch that may filter the subsearch's groups by
 * join field k (the rows of p reaching the join give the values), or -1. */
int spl_semijoin_sub_by(const esc_plan *p, size_t i, size_t k);

#endif
