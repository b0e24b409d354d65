/* The run loop: enabled detections on their schedule over growing inputs (`escudo run`).
 *
 * Contract:
 * - esc_runner_new opens (or creates) the state directory's store, restores what it holds (input
 *   offsets, the kept records of open windows, fired windows, the run's own bookkeeping) and
 *   builds the agenda: a detection resumes after its last fired run, or after the time it was
 *   first enabled in this state directory (the clock's reading then).
 * - esc_runner_step does one bounded unit of work and returns: a pass over the inputs (at most one
 *   chunk per input), or the firing of every run due up to the time the inputs were last seen
 *   caught up, or one wait on the clock. Every step that changed something ends with one
 *   checkpoint transaction: input offsets, kept records, fired windows and sink positions move
 *   together. Returns ESC_OK (call again), ESC_EOF once everything scheduled up to once_until
 *   has fired, or an error (the state stays at the last checkpoint).
 * - Streaming: the engine's feeder (detect/engine.h) maps each record to CIM; each is checked
 *   against the where clause (esc_plan_record_matches) of each detection the feeder's literal
 *   filter leaves (esc_feeder_may_match); only matching records are kept, in the windows that
 *   cover their time, each in an esc_exec and appended (serialised) to the window's partial
 *   blob.
 * - Firing a run: finish its window's execution, notables and risk events into the sinks
 *   (esc_act_step per window), close the sinks (flush), then commit the
 *   fired window. On restart JSON-lines sink files are cut back to the size recorded at the last
 *   commit, so a window fired but not committed is written again exactly once; the SQLite sink
 *   ignores repeated event_ids; HEC is at least once (docs/run.md).
 * - Late records (their window's run is past) are counted and reported; with late_emit the
 *   window is recomputed with them and new or changed rows become notables with late=true.
 * - Time comes only from the injected clock. Nothing here prints: messages (warnings, late
 *   events, rotations) are collected per step for the caller.
 * Not done here: signals (the caller polls its flags between steps), content loading, reload
 * (the caller frees the run and makes a new one; the state carries over). */
#ifndef ESC_SCHED_RUN_H
#define ESC_SCHED_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "detect/engine.h"
#include "sched/clock.h"
#include "sink/sink.h"

#define ESC_RUN_FOREVER INT64_MAX /* once_until: no end */
#define ESC_RUN_MAX_INPUTS 10000  /* files followed at once (directories included) */
#define ESC_RUN_MAX_MESSAGES 64   /* messages kept per step (the rest are counted) */
#define ESC_RUN_STATE_FILE "state.db"
#define ESC_RUN_META "@run"    /* reserved partials key holding the run's bookkeeping */
#define ESC_RUN_HOSTS "@hosts" /* reserved partials key: CrowdStrike host inventory seen */
#define ESC_RUN_RISK "@risk"   /* reserved partials key: the risk incident rule's state */

/* A Kafka topic read as a consumer group member (run_kafka.c, docs/scale.md). */
typedef struct esc_run_kafka {
    const char *brokers, *topic, *group;
    const char *const *config; /* librdkafka "key=value" settings, applied in order */
    size_t nconfig;
    size_t max_message; /* bytes; a larger message is skipped as malformed (0: the default) */
    const char *output; /* topic of notables and risk events, in transactions (or NULL) */
    /* Two stages (run_repart.c, docs/scale.md): the topic the partial aggregates of these
     * detections travel through to the worker that merges them (or NULL: none) */
    const char *repartition;
    size_t repart_max; /* bytes of one partition's partial of a window (0: the default) */
    const esc_detection *const *two_stage;
    size_t ntwo_stage;
} esc_run_kafka;

/* clang-format off */
#define ESC_RUN_KAFKA_MAX_MESSAGE (16u << 20) /* default and largest max_message */
#define ESC_RUN_KAFKA_MAX_OUTBOX (64u << 20)  /* output waiting for one transaction */
#define ESC_RUN_KAFKA_MAX_PARTITIONS 4096     /* partitions of the topic one worker follows */
#define ESC_RUN_REPART_MAX_MESSAGE 1000000 /* default repart_max (librdkafka's message.max.bytes)  \
                                            */
#define ESC_RUN_REPART_MAX_MERGES 100000   /* windows of two-stage detections merging at once */
/* clang-format on */

typedef struct esc_runner_opts {
    const esc_content *content; /* borrowed, outlives the run */
    const esc_engine *engine;   /* the enabled detections (each needs a deployment schedule) */
    esc_profile profile;
    esc_clock *clock;           /* borrowed */
    const char *state_dir;      /* created when missing */
    const char *const *inputs;  /* files, directories (files appearing are followed), "-" */
    const esc_run_kafka *kafka; /* or NULL; with it, inputs must be empty */
    size_t ninputs;
    esc_sink_opts sinks;
    bool late_emit;         /* --late=emit */
    bool evidence;          /* notables and risk events carry their rows' evidence */
    int64_t late_retention; /* seconds fired windows stay recomputable; 0 = 86400 */
    int64_t once_until;     /* epoch seconds, or ESC_RUN_FOREVER */
    int64_t poll_us;        /* clock time between input polls when idle; 0 = 1 s */
    const char *aidmaster;  /* optional CrowdStrike host inventory file */
    bool stdin_replay;      /* "-" counts as caught up only at its end (replays with a
                               clock that jumps when idle) */
    size_t max_windows;     /* open + retained windows; 0 = 100000 (tests lower it) */
    uint32_t max_segments;  /* a window's stored segments before they are stored anew as one;
                               0 = 256 (tests lower it) */
    /* Test hook (kill -9 at a named point): "sink:N" after the N-th event put into the sinks,
     * "commit:N" inside the N-th checkpoint transaction, before COMMIT. NULL in production. */
    const char *crash_at;
} esc_runner_opts;

typedef struct esc_runner_stats {
    uint64_t events;         /* records read */
    uint64_t process_events; /* mapped to Endpoint.Processes */
    uint64_t kept;           /* (record, window) pairs kept */
    uint64_t malformed;
    uint64_t fired; /* windows fired by this process */
    uint64_t notables, risk_events;
    uint64_t late;         /* matching records whose window had already fired (all time) */
    uint64_t late_emitted; /* notables emitted late (all time) */
    uint64_t before_start; /* matching records of windows scheduled before the start */
    uint64_t commits;
    uint64_t damaged;     /* window blobs found damaged in the store at start (records lost) */
    int64_t caught_up_to; /* clock time (s) at which every input was last read to its end */
} esc_runner_stats;

typedef struct esc_runner esc_runner;

esc_status esc_runner_new(const esc_runner_opts *o, esc_runner **out, esc_error *err);
/* Frees; the state stays at the last checkpoint. NULL is a no-op. */
void esc_runner_free(esc_runner *r);
/* With --kafka: leave the group now (the state checkpointed and the offsets committed
 * synchronously, as on a revocation) and add a message (esc_runner_messages) saying what each
 * partition's committed offset is. esc_runner_free does the same silently when this was not
 * called. No-op without --kafka. */
void esc_runner_stop(esc_runner *r);
esc_status esc_runner_step(esc_runner *r, esc_error *err);
/* Change once_until (tests drive a manual clock chunk by chunk). */
void esc_runner_set_until(esc_runner *r, int64_t once_until);
const esc_runner_stats *esc_runner_stats_get(const esc_runner *r);
/* Messages of the last step (valid until the next step); *dropped counts those not kept. */
size_t esc_runner_messages(const esc_runner *r, const char *const **msgs, size_t *dropped);

/* ---- reading a state directory (escudo status) ------------------------------------------- */

typedef struct esc_run_status_input {
    char *path;
    uint64_t offset, size; /* size: now, 0 when missing */
    bool missing;
    /* a Kafka partition ("kafka:TOPIC/P"): offset is the next offset to read, committed the low
     * watermark committed to the group, high the partition's high watermark when last fetched
     * (-1 unknown), open_windows its windows that have not fired, owned: the run read it last */
    bool kafka, owned;
    uint64_t committed, open_windows;
    int64_t high;
} esc_run_status_input;

typedef struct esc_run_status_det {
    char *id;
    int64_t enabled_at, last_fired; /* last_fired 0 when never */
} esc_run_status_det;

typedef struct esc_run_status {
    esc_run_status_input *inputs;
    size_t ninputs;
    esc_run_status_det *dets;
    size_t ndets;
    uint64_t fired, late, late_emitted, open_windows, kept_bytes;
    int64_t last_commit;  /* clock time of the last checkpoint */
    uint64_t hec_spooled; /* batches waiting in the HEC spool, when one was named */
    bool empty;           /* state.db holds no table yet (nothing was ever checkpointed) */
} esc_run_status;

/* Read what a state directory holds. hec_spool may be NULL. */
esc_status esc_run_status_read(const char *state_dir, const char *hec_spool, esc_run_status *out,
                               esc_error *err);
void esc_run_status_fini(esc_run_status *s);

#endif
