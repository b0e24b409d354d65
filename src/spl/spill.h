/* Internal to src/spl/: a tstats execution's groups, or a raw-event search's kept rows,
 * spilled to a temporary file past the hunt's memory budget, and merged back when the search
 * finishes (spill.c). */
#ifndef ESC_SPL_SPILL_H
#define ESC_SPL_SPILL_H

#include "agg/agg.h"
#include "agg/evidence.h"
#include "core/error.h"
#include "spl/ast.h"
#include "spl/spl.h"

typedef struct spl_spill spl_spill;

/* Append every group of a (with its evidence in ev) to *sp (opened on first use), then empty a
 * and ev. Every aggregate of a must merge (esc_agg_mergeable). */
esc_status spl_spill_write(spl_spill **sp, esc_agg *a, esc_evset *ev, esc_error *err);
/* Merge every spilled group back into a and ev, in the order they were written, leaving out
 * the groups keep (may be NULL) says no to. A group past a's caps (its groups, its bytes) is
 * dropped and its records counted (esc_agg_dropped), not an error. The file stays, to be read
 * again (several searches sharing the groups), until spl_spill_free. */
esc_status spl_spill_read(spl_spill *sp, esc_agg *a, esc_evset *ev,
                          bool (*keep)(void *ctx, const esc_str *keys), void *ctx, esc_error *err);
/* Every group of sp with its evidence appended, as its bytes, to parts[part(ctx, keys)] (each
 * opened on first use; a group whose part is nparts or more goes to none), a chunk at a time:
 * reading part r back merges the groups that reading sp with a filter keeping part r's would
 * merge, in the same order. shape: a table of sp's groups' shape. On failure the parts are
 * incomplete. */
esc_status spl_spill_split(spl_spill *sp, const esc_agg *shape,
                           size_t (*part)(void *ctx, const esc_str *keys), void *ctx,
                           spl_spill **parts, size_t nparts, esc_error *err);
/* Append the rows of t (a raw-event search's kept rows: cells, and each row's events when t
 * has lineage) to *sp (opened on first use), then empty t: no rows, its lineage reset, its
 * cells given back. On failure t is unchanged and the file ends where it did. */
esc_status spl_spill_rows(spl_spill **sp, esc_table *t, esc_error *err);
/* Put every row spilled from t back before t's rows in memory, in the order they were kept
 * (row r's events again lineage group r, as spl_lineage_event numbers them), leaving out the
 * spilled rows keep (may be NULL) says no to (t's own rows are the caller's to filter). */
esc_status spl_spill_rows_read(spl_spill *sp, esc_table *t, spl_row_keep keep, void *ctx,
                               esc_error *err);
/* Bytes written so far. */
uint64_t spl_spill_bytes(const spl_spill *sp);
/* Groups written so far, a group as often as it was spilled: at least the groups that come
 * back. */
uint64_t spl_spill_groups(const spl_spill *sp);
/* Close the file (it is gone with it). */
void spl_spill_free(spl_spill *sp);

#endif
