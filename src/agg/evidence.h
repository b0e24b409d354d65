/* Evidence: which events a group of an aggregation counted (issue 16: a row traced back).
 *
 * A set keeps, per group number (the group numbers of an esc_agg), the total of events counted
 * and the ESC_EVIDENCE_KEEP earliest and ESC_EVIDENCE_KEEP latest of them by time, each as a
 * reference (input, byte offset, line, EVTX record id, _time) to the event, not its content.
 * Paths are copied into the set. The kept references use at most ESC_EVIDENCE_MAX_BYTES per set;
 * past it a group still counts its events but keeps no more references (esc_evset_truncated).
 * This module knows nothing of searches or records: spl/exec.c feeds it. */
#ifndef ESC_AGG_EVIDENCE_H
#define ESC_AGG_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define ESC_EVIDENCE_KEEP 5                /* earliest and latest events kept per row */
#define ESC_EVIDENCE_MAX_BYTES (64u << 20) /* bytes of kept references per execution */

/* One event behind a row. */
typedef struct esc_evref {
    const char *path;   /* input as given ("-" for standard input) */
    uint64_t offset;    /* byte offset of the record in the (uncompressed) input */
    uint64_t line;      /* 1-based line for line formats, else 0 */
    uint64_t record_id; /* EVTX record number, else 0 */
    int64_t time_us;    /* the record's _time */
} esc_evref;

typedef struct esc_evset esc_evset;

esc_evset *esc_evset_new(void);
void esc_evset_free(esc_evset *s);
/* Count ref in group g (keep it when among g's earliest or latest). ESC_ENOMEM only when the
 * totals cannot grow; a reference over the byte cap is counted and not kept. */
int esc_evset_add(esc_evset *s, size_t g, const esc_evref *ref);
/* Count group sg of src in group g of s: its kept references and its total (the union of two
 * groups' events keeps the earliest and latest of their kept ones exactly). -1 when memory runs
 * out. */
int esc_evset_merge(esc_evset *s, size_t g, const esc_evset *src, size_t sg);
/* Group numbers below this may be in use (a new group takes one at or above it). */
size_t esc_evset_groups(const esc_evset *s);
/* Events counted in group g (0 for a group never given a reference). */
uint64_t esc_evset_total(const esc_evset *s, size_t g);
/* The kept references of g, time order, each once, into out (room for 2 * ESC_EVIDENCE_KEEP);
 * returns how many. Views into the set. */
size_t esc_evset_get(const esc_evset *s, size_t g, esc_evref *out);
/* Keep the groups g < n with remap[g] != SIZE_MAX, renumbered to remap[g] (< nnew); the others'
 * references and memory are given back. -1 (set unchanged) when memory runs out. */
int esc_evset_compact(esc_evset *s, const size_t *remap, size_t n, size_t nnew);
/* Drop every group's references and totals (the set stays usable, empty). */
void esc_evset_reset(esc_evset *s);
/* Bytes the set holds now (kept references, per-group arrays). */
size_t esc_evset_mem(const esc_evset *s);
/* Append group g's total and kept references to out (self-contained: paths as text), for a
 * spill (spl/spill.c). 0, or -1 when the buffer cannot take it. */
int esc_evset_encode(const esc_evset *s, size_t g, esc_buf *out);
/* Read one group's encoding at data[*at..len) and count it in group g as esc_evset_merge
 * would (g == SIZE_MAX: read past it). 0, -1 when memory runs out, -2 when the bytes are
 * broken. */
int esc_evset_decode(esc_evset *s, size_t g, const void *data, size_t len, size_t *at);
/* Whether sets whose esc_evset_mem add up to mem, merged into one set instead (each group's
 * references in the same order), keep every reference they keep: the one set's arena then
 * never meets ESC_EVIDENCE_MAX_BYTES (spl/exec.c, a spilled search's first table made in
 * ranges). */
bool esc_evset_fits_merged(size_t mem);
/* True when the byte cap stopped keeping references. */
bool esc_evset_truncated(const esc_evset *s);
/* Same reference (same input name and offset)? */
bool esc_evref_same(const esc_evref *a, const esc_evref *b);
/* Order by time, then input name, then offset (qsort comparator over esc_evref). */
int esc_evref_cmp(const void *a, const void *b);

#endif
