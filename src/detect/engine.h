/* The detection engine: content -> compiled plans -> one pass over inputs -> result tables.
 *
 * esc_engine is built once from loaded content (plans compiled, the interest set computed) and
 * is read-only afterwards.
 *
 * esc_feeder is the one record loop, which hunt, run and test all drive: it pulls events from a
 * reader, keeps the CrowdStrike host inventory, maps process events to CIM records, puts each
 * event its detections want in the other datasets (esc_engine_select) and hands each record to
 * its consumer (hunt: every detection's execution; run: the windows that cover the record).
 * Nothing else reads events for detections or chooses the datasets an event enters.
 *
 * esc_hunt drives one pass over a list of inputs for one window through a feeder whose consumer
 * feeds every execution. It is an iterator so that the caller can show progress and print
 * warnings as they come: esc_hunt_step does a bounded amount of work and returns ESC_OK, a
 * warning (ESC_EMALFORMED / ESC_SKIP / ESC_EIO with err naming the input and offset; call
 * again), or ESC_EOF when every input is done. Nothing here prints. */
#ifndef ESC_DETECT_ENGINE_H
#define ESC_DETECT_ENGINE_H

#include "cim/cim.h"
#include "content/content.h"
#include "parse/reader.h"
#include "spl/spl.h"

typedef struct esc_engine esc_engine;

/* Compile the given detections (all of c's when dets is NULL). A detection whose search cannot
 * be planned is an error when `strict` (ESC_ECONTENT naming it, err->offset into its expanded
 * search), else it is left out and listed by esc_engine_skipped. */
esc_status esc_engine_new(const esc_content *c, const esc_detection *const *dets, size_t ndets,
                          bool strict, esc_engine **out, esc_error *err);
void esc_engine_free(esc_engine *e);
/* Plan d alone, as esc_engine_new would. ESC_OK when it plans; else err is the planner's error
 * and *err_text (esc_malloc'd, may be NULL) the text err->offset points into, for a caret. */
esc_status esc_engine_check(const esc_content *c, const esc_detection *d, char **err_text,
                            esc_error *err);
/* Whether d's search runs in two stages (esc_plan_mergeable): *ok, else *why (esc_malloc'd) says
 * why not (its planner's error included). ESC_ENOMEM only on allocation failure. */
esc_status esc_engine_mergeable(const esc_content *c, const esc_detection *d, bool *ok, char **why);
size_t esc_engine_count(const esc_engine *e);
const esc_detection *esc_engine_detection(const esc_engine *e, size_t i);
const esc_plan *esc_engine_plan(const esc_engine *e, size_t i);
/* Detections left out, with the planner's message. */
size_t esc_engine_nskipped(const esc_engine *e);
const esc_detection *esc_engine_skipped(const esc_engine *e, size_t i, const char **reason);
const esc_interest *esc_engine_interest(const esc_engine *e);
/* "ESCU - <name> - Rule" */
const char *esc_engine_search_name(const esc_engine *e, size_t i);
/* Detections reading a dataset other than Endpoint.Processes (raw events included). */
size_t esc_engine_nothers(const esc_engine *e);
/* Detections reading Endpoint.Processes (a subsearch's included). */
size_t esc_engine_nprocs(const esc_engine *e);
/* The datasets other than Endpoint.Processes ev enters for e's detections (a mask of
 * 1 << esc_dataset; ESC_DS_RAW: the event itself), and in cand (room for esc_engine_nothers)
 * the detections that may read it there, *ncand of them, in index order within each code. Only
 * Windows events enter them. The one selection hunt, run and test share (through the feeder). */
uint32_t esc_engine_select(const esc_engine *e, const esc_event *ev, size_t *cand, size_t *ncand);

/* ---- the feeder: events -> host inventory / CIM records -> a consumer ----------------------- */

/* Takes a mapped record (valid during the call). An error stops the pull and is returned. */
typedef esc_status (*esc_feeder_record_fn)(void *ctx, const esc_record *rec, esc_error *err);
/* Told of each inventory entry that an event added or changed (aid -> ComputerName; the views
 * are valid during the call); an error is the inventory's ("host inventory is full"). */
typedef esc_status (*esc_feeder_host_fn)(void *ctx, esc_str aid, esc_str name, esc_error *err);

typedef struct esc_feeder_opts {
    esc_profile profile;
    esc_feeder_record_fn record; /* required */
    esc_feeder_host_fn host;     /* may be NULL */
    void *ctx;                   /* passed to both */
    /* CrowdStrike records whose host is not in the inventory yet are held (deep-copied) until
     * esc_feeder_flush, up to this many; 0 maps them at once with the hosts known so far. */
    size_t max_held;
    /* The detections the records are for: an event also enters the other datasets they read
     * (esc_engine_select), each such record handed on while esc_feeder_candidates lists the
     * detections that may read it and esc_feeder_may_match rules out those whose literals it
     * lacks. NULL, or none reading another dataset: Endpoint.Processes only, and no event's
     * fields are extracted. */
    const esc_engine *engine;
} esc_feeder_opts;

typedef struct esc_feeder_stats {
    uint64_t pulled;           /* events taken from readers (skipped ones included) */
    uint64_t events;           /* events handled (not skipped by offset) */
    uint64_t process_events;   /* mapped and handed to the consumer */
    uint64_t malformed;        /* broken records (reader or mapping) */
    uint64_t aidmaster;        /* host inventory records */
    uint64_t unresolved_hosts; /* CrowdStrike records whose dest stayed unknown */
    uint64_t other;            /* JSON records of no known shape */
    uint64_t field_events;     /* events whose fields were extracted for other datasets */
    uint64_t offset;           /* byte offset of the last event taken */
} esc_feeder_stats;

typedef struct esc_feeder esc_feeder;

esc_status esc_feeder_new(const esc_feeder_opts *o, esc_feeder **out, esc_error *err);
/* NULL is a no-op. */
void esc_feeder_free(esc_feeder *f);
/* The inventory records of a file (--aidmaster); its other records are ignored. Not reported to
 * the host callback. ESC_ELIMIT "host inventory is full" (path, offset) past ESC_HOSTMAP_MAX. */
esc_status esc_feeder_load_hosts(esc_feeder *f, const char *path, const esc_reader_opts *ro,
                                 esc_error *err);
/* One inventory entry known from elsewhere (a checkpoint); not reported to the host callback. */
esc_status esc_feeder_put_host(esc_feeder *f, esc_str aid, esc_str name);
/* Up to max events from rd: each inventory record goes to the inventory, each process event is
 * mapped and handed to the consumer. Events before offset skip_before are passed over (a stream
 * read again from its start). *next_off (may be NULL) is set past the offset of each event
 * handled. Returns:
 * - ESC_OK: max events taken (fewer when the consumer paused the pull); ESC_EOF: the reader
 *   is done;
 * - ESC_EMALFORMED (a broken record, counted) or ESC_SKIP (a record kept with a repaired value,
 *   err says which): the pull may go on (call again);
 * - another status from the inventory, the mapping or the consumer, as it came (err names the
 *   event's input and offset when known): ESC_ENOMEM is fatal, the rest the caller's to judge
 *   (hunt warns and goes on; run stops the step);
 * - with *input_failed set (may be NULL): the reader cannot go on (ESC_EIO, or ESC_ENOMEM). */
esc_status esc_feeder_pull(esc_feeder *f, esc_reader *rd, uint64_t skip_before, size_t max,
                           uint64_t *next_off, bool *input_failed, esc_error *err);
/* From the record callback: the pull under way returns ESC_OK after the current event, before
 * max events (hunt: to check its group memory sooner). */
void esc_feeder_pause(esc_feeder *f);
/* Read rd ahead on a second thread from now on (see feed.c, "Reading ahead"): esc_feeder_pull
 * of rd then takes the events that thread prepared, in the reader's order, with the same
 * results. The caller must not use rd or its input otherwise until esc_feeder_detach, which it
 * calls before freeing them. ESC_ENOMEM or ESC_EINTERNAL (no thread): rd is read directly. */
esc_status esc_feeder_read_ahead(esc_feeder *f, esc_reader *rd);
/* Stop reading ahead (waits for the thread). A no-op when not reading ahead. */
void esc_feeder_detach(esc_feeder *f);
/* During the record callback for a record of a dataset other than Endpoint.Processes: the
 * detections (engine indices) that may read it; *det is valid until the next event. */
size_t esc_feeder_candidates(const esc_feeder *f, const size_t **det);
/* During the record callback, for any record: false when detection i (an engine index) cannot
 * take it, its record literals absent (the engine's literal filter, scanned once per record
 * for every detection: detect/litfilter.h); true otherwise, and always without an engine. A
 * consumer skips the detections it rules out (their main where clause would reject the
 * record). */
bool esc_feeder_may_match(const esc_feeder *f, size_t i);
/* During the record callback: one bit per detection (word i / 64, bit i % 64), clear for those
 * esc_feeder_may_match is false for by the record's literal candidates alone; NULL when every
 * detection may match (no engine, no literal filter). */
const uint64_t *esc_feeder_candidate_bits(const esc_feeder *f);
/* Map the held records with the inventory as it is now and hand them to the consumer. */
esc_status esc_feeder_flush(esc_feeder *f, esc_error *err);
const esc_feeder_stats *esc_feeder_stats_get(const esc_feeder *f);

/* ---- hunt: one pass over inputs, one window ------------------------------------------------ */

typedef struct esc_hunt_opts {
    esc_profile profile;
    int64_t earliest_us, latest_us; /* window [earliest, latest); ESC_TIME_MAX = +Infinity */
    esc_reader_opts reader;
    const char *aidmaster; /* optional host inventory file */
    size_t max_held;       /* unresolved CrowdStrike records held for later resolution */
    /* > 1: the two-stage check (docs/scale.md): each detection whose plan merges
     * (esc_plan_mergeable) runs as this many executions, each fed the records of its shard of
     * hosts; at the end their partial aggregates are encoded, decoded and merged into one
     * execution that runs the rest of the search. The tables must equal a plain hunt's. */
    size_t shards;
    int64_t now; /* run time, epoch seconds, stamped on risk events without lastTime (0: the
                    current time); see esc_hunt_finish */
    /* bytes of tstats groups (and their evidence) the hunt keeps in memory while reading: past
     * it the largest tables are spilled to temporary files in $TMPDIR until half of it is left
     * (esc_exec_spill); 0: ESC_HUNT_GROUP_MEMORY, SIZE_MAX: never spill */
    size_t group_memory;
} esc_hunt_opts;

#define ESC_HUNT_GROUP_MEMORY ((size_t)16 << 20) /* docs/limits.md "group memory" */

#define ESC_HUNT_MAX_SHARDS 64 /* shards of the two-stage check */

typedef struct esc_hunt_stats {
    uint64_t inputs, inputs_unknown, inputs_failed;
    uint64_t bytes;            /* uncompressed bytes read */
    uint64_t events;           /* records seen by readers */
    uint64_t prefiltered;      /* skipped before full decoding */
    uint64_t process_events;   /* mapped to Endpoint.Processes */
    uint64_t malformed;        /* records skipped as broken */
    uint64_t repaired;         /* values repaired to U+FFFD */
    uint64_t warnings;         /* all warnings, malformed included */
    uint64_t aidmaster;        /* host inventory records */
    uint64_t unresolved_hosts; /* CrowdStrike records whose dest stayed unknown */
    uint64_t other;            /* JSON records of no known shape */
    uint64_t rows;             /* result rows (after finish) */
    uint64_t regex_limited;    /* regex matches stopped by a limit (after finish) */
    uint64_t two_stage;        /* detections run in two stages (opts.shards > 1) */
    uint64_t partial_bytes;    /* bytes of partial aggregates they merged (after finish) */
    uint64_t spills;           /* tables moved to temporary files past opts.group_memory */
    const char *current;       /* input being read, or NULL */
    uint64_t current_size;     /* its size when known */
    uint64_t current_offset;
} esc_hunt_stats;

typedef struct esc_hunt esc_hunt;

esc_status esc_hunt_new(const esc_engine *e, const esc_hunt_opts *o, const char *const *files,
                        size_t nfiles, esc_hunt **out, esc_error *err);
void esc_hunt_free(esc_hunt *h);
esc_status esc_hunt_step(esc_hunt *h, esc_error *err);
const esc_hunt_stats *esc_hunt_stats_get(const esc_hunt *h);
/* After ESC_EOF: resolve held records, finish every execution. Detections that read the
 * Risk.All_Risk data model (the RBA correlation searches) finish last, over the risk events the
 * others' rows make (detect/risk_stage.c, docs/decisions.md). */
esc_status esc_hunt_finish(esc_hunt *h, esc_error *err);
/* After esc_hunt_finish: a warning left to report, once, counted in the statistics (a spill the
 * writing thread failed to write after the last step: its chunks stayed in memory). */
bool esc_hunt_late_warning(esc_hunt *h, esc_error *err);
/* Result of detection i (valid until esc_hunt_free). */
const esc_table *esc_hunt_table(const esc_hunt *h, size_t i);

#endif
