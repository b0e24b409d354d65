/* The multi-literal record filter (private to detect/; the feeder scans each record with it for
 * hunt and run alike): every detection's record clauses
 * (esc_plan_record_clauses) compiled into one Hyperscan database, so that each record is
 * scanned once for all of them and offered only to the detections whose clauses all hold, as
 * Suricata's multi-pattern matcher does for its rules. */
#ifndef ESC_DETECT_LITFILTER_H
#define ESC_DETECT_LITFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cim/cim.h"
#include "core/error.h"
#include "spl/spl.h"

typedef struct esc_litfilter esc_litfilter;
typedef struct esc_litscan esc_litscan;

/* Built from n plans (read-only afterwards; may be shared by scans on several threads). *out is
 * NULL (no filter) when no plan has a record clause. */
esc_status esc_litfilter_new(esc_plan *const *plans, size_t n, esc_litfilter **out, esc_error *err);
void esc_litfilter_free(esc_litfilter *f);
/* Detections with at least one record clause (for the hunt's summary and tests). */
size_t esc_litfilter_filtered(const esc_litfilter *f);

/* One scanner per hunt (Hyperscan scratch and the hit set of the current record). f may be NULL:
 * then *out is NULL and every detection may match. */
esc_status esc_litscan_new(const esc_litfilter *f, esc_litscan **out, esc_error *err);
void esc_litscan_free(esc_litscan *s);
/* Scan r's values (r->v[] or r->fs's values) once for every literal. */
void esc_litscan_record(esc_litscan *s, const esc_record *r);
/* False when the last scanned record (of its dataset) can reach no where clause of detection i
 * (its own and its subsearches': each reads another dataset or has a clause none of whose
 * literals the record holds); true otherwise, and always when s is NULL. */
bool esc_litscan_may_match(const esc_litscan *s, size_t i);
/* One bit per detection (bit i % 64 of word i / 64), clear when esc_litscan_may_match is false
 * for it by the last scanned record's candidates alone; NULL when s is NULL (every detection
 * may match). A consumer walks these bits instead of asking every detection. */
const uint64_t *esc_litscan_candidates(const esc_litscan *s);

/* The last scanned record's answer, kept to be used later (a reading thread scans records
 * ahead of the thread handing them on): esc_litscan_saved_words words (0 when s is NULL);
 * after esc_litscan_restore, s answers esc_litscan_may_match and esc_litscan_candidates for
 * that record. The scanners must be of one filter. */
size_t esc_litscan_saved_words(const esc_litscan *s);
void esc_litscan_save(const esc_litscan *s, uint64_t *to);
void esc_litscan_restore(esc_litscan *s, const uint64_t *from);

/* The text check, before a Windows event's fields are extracted: scan ev->text (the XML
 * reader's <Event> element) once for the literals of every raw-event search's clauses that
 * esc_fields_text_bound allows. An event without text (EVTX, JSON), or whose text holds an
 * entity, a comment or a CDATA section, is checked through every string its fields are made
 * from instead, one after another. */
void esc_litscan_text(esc_litscan *s, const esc_event *ev);
/* False when, by the last text check, no record of that event can reach detection i: every
 * way into it is a raw-event search with a clause none of whose literals can be in the
 * event's values (then esc_litscan_may_match would be false for each of its records). True
 * otherwise, and always when s is NULL or the event was not checked. */
bool esc_litscan_text_may_match(const esc_litscan *s, size_t i);

/* False when the text check can never rule detection i out (then checking an event whose
 * candidates include i is no use). */
bool esc_litscan_text_can(const esc_litscan *s, size_t i);

/* The filter of an engine's detections (engine.c), or NULL; the feeder scans each record it
 * hands on with it (feed.c). */
struct esc_engine;
const esc_litfilter *esc_engine_litfilter(const struct esc_engine *e);

#endif
