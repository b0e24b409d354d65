/* The run loop's own state, shared by its files and private to them (not part of sched/'s
 * interface; callers use run.h):
 *
 *   run.c         the step loop, lifecycle, restore and the checkpoint transaction
 *   run_input.c   following inputs: offsets, rotation, chunks of growing text files, streams
 *   run_window.c  windows and their blobs of kept records; which windows keep a record
 *   run_act.c     the sinks session, firing a window, late emission
 *   run_status.c  reading a state directory (escudo status)
 *   run_kafka.c   a Kafka topic as the input, as a consumer group member (docs/scale.md)
 *   run_repart.c  two stages over Kafka: partial aggregates published, merged, fired
 *
 * Records reach the windows through the engine's feeder (detect/engine.h), whose consumer is
 * esc_run_consume; nothing here reads a format. */
#ifndef ESC_SCHED_RUN_INTERNAL_H
#define ESC_SCHED_RUN_INTERNAL_H

#include "act/act.h"
#include "core/buf.h"
#include "sched/agenda.h"
#include "sched/checkpoint.h"
#include "sched/run.h"
#include "sched/window.h"

/* clang-format off */
#define RUN_MAX_COVER 64       /* windows one record may fall in */
#define RUN_COVER_SPANS 8      /* earlier answers of esc_schedule_runs_covering_span kept */
#define RUN_COVER_SMALL 4      /* ... when they name at most this many runs */
#define RUN_MAX_WINDOWS 100000 /* open + retained windows, by default */
#define ESC_RUN_LOCK_FILE "lock"
#define RUN_BLOB_MAGIC "ESW3"      /* stored with a CRC-32 trailer over the rest */
#define RUN_BLOB_MAGIC_SEG "ESW5"  /* a stored window: header, segment count, record bytes */
#define RUN_BLOB_MAGIC_SEG4 "ESW4" /* the same, its segments without an encoding byte */
#define RUN_BLOB_MAGIC_V2 "ESW2"   /* before origins: read as it is, rewritten as ESW3 */
#define RUN_BLOB_MAGIC_V1 "ESW1"   /* before checksums: read as it is, rewritten as ESW3 */
#define RUN_BLOB_ORIGIN (1u << 31) /* a record's mask bit: its origin follows (run_window.c) */
#define RUN_ORIGIN_PATH_MAX 4096   /* bytes of an origin's input name kept in a blob */
#define RUN_BLOB_HDR 21            /* magic, i64 scheduled, u64 emitted_len, u8 fired */
#define RUN_BLOB_CRC 4             /* the stored blob's trailer: CRC-32 (zlib) of what precedes */
#define RUN_SEG_ROW (RUN_BLOB_HDR + 12) /* an ESW5 row: the header, u32 segments, u64 bytes */
#define RUN_SEG_ZSTD_MIN 256 /* records of a segment below this many bytes are stored as they are */
#define RUN_MAX_SEGS 256 /* a window stored in more segments is stored anew as one */
/* a window's records at most (their blob, header included, fits one stored segment) */
#define RUN_BLOB_LIMIT (ESC_CKPT_MAX_BLOB - RUN_BLOB_CRC)
#define RUN_CHUNK_MAX (16u << 20)  /* a text record larger than this is skipped as malformed */
/* clang-format on */

typedef struct run_in {
    char *path;
    bool is_stdin;
    esc_follow mode;
    bool have; /* identity known (from the store or a first look) */
    uint64_t inode, offset;
    uint32_t head_len;
    uint64_t head_hash;
    bool dirty;         /* to checkpoint */
    bool pending;       /* more may be readable now */
    uint64_t seen_size; /* size at the last look */
    bool missing;
    bool resync; /* offset is inside a record skipped as too long: skip to its end first */
    /* whole-file streaming */
    esc_input *in;
    esc_reader *rd;
    uint64_t skip_before;
    /* standard input */
    esc_buf pend;
    uint64_t stdin_off;
    bool stdin_eof;
    /* a Kafka partition (run_kafka.c): offset = the next offset to read, inode = its low
     * watermark (replaying from it rebuilds every open window's records of the partition) */
    bool is_kafka;
} run_in;

typedef struct win_state {
    size_t det;
    int64_t sched;
    esc_window w;
    esc_exec *x;  /* a partition's open window: fed as records come; NULL once fired,
                     and for other windows, whose records are fed when it fires */
    esc_buf blob; /* header + the records not yet stored */
    /* the records stored: in nseg segments of stored bytes (the window's blob is its header,
     * those bytes, then blob's records); pend_*: what the commit under way stores */
    uint64_t stored, pend_stored;
    uint32_t nseg, pend_nseg;
    char *blob_path;      /* the input name of the last origin written to blob (NULL: none yet) */
    size_t blob_path_cap; /* blob_path's allocation */
    bool fired, dirty, late_dirty, deleted;
    /* Kafka mode: a window holds the records of one partition (slot kslot1 - 1), fired on its
     * own; kfirst1 - 1 is the offset of its first record (0: none yet) */
    size_t kslot1;
    uint64_t kfirst1;
    /* Kafka mode without --late=emit: the records are not kept in blob (never read: a restart
     * replays them), only their encoded bytes counted against the blob's cap */
    uint64_t kbytes;
} win_state;

typedef struct det_state {
    const esc_detection *d;
    const esc_plan *plan;
    esc_schedule sched;
    int64_t enabled_at, last_fired;
    /* the runs covering event times [cov_lo, cov_hi) (esc_schedule_runs_covering_span): the
     * last answer, reused while records keep to its span (cov_hi <= cov_lo: none yet) */
    int64_t cov_lo, cov_hi;
    int64_t cov[RUN_MAX_COVER];
    size_t ncov;
    /* earlier small answers, round robin: records of a topic's partitions, or of files read
     * side by side, interleave a few hours of event times (run_window.c keep) */
    struct {
        int64_t lo, hi;
        int64_t t[RUN_COVER_SMALL];
        size_t n;
    } span[RUN_COVER_SPANS];
    size_t span_next;
    bool two_stage; /* Kafka: its partition windows publish partials (run_repart.c) */
} det_state;

typedef struct run_sink {
    esc_sink base;
    esc_runner *r;
} run_sink;

typedef struct risk_pt {
    char kind; /* 'P' a risk event, 'F' the object's last threshold notable */
    char *type, *object, *id;
    int64_t time;
    int score;
} risk_pt;

typedef struct run_kafka run_kafka;
typedef struct run_repart run_repart;

/* The Kafka message being fed (run_kafka.c), read by run_window.c. */
typedef struct run_kcur {
    bool active;
    bool replay;      /* below the offset the partition's last committer had read */
    size_t slot;      /* partition slot */
    int64_t off;      /* message offset */
    int64_t fired_to; /* the partition's windows up to this run time have fired */
} run_kcur;

typedef struct fired_row {
    size_t det;
    int64_t e, l, t;
} fired_row;

struct esc_runner {
    esc_runner_opts o;
    esc_ckpt *ck;
    int lock_fd; /* flock'd state_dir/lock, -1 when not held */
    esc_agenda *agenda;
    det_state *det;
    size_t ndet;
    run_in *in;
    size_t nin;
    char **dirs; /* directory roots, expanded at each pass */
    size_t ndirs;
    win_state **win;
    size_t nwin;
    /* the windows by (detection, scheduled time, partition slot): open addressing, index in
     * win + 1, 0 empty; a power of two over twice nwin, rebuilt when win is compacted */
    uint32_t *widx;
    size_t widx_cap;
    fired_row *fired;
    size_t nfired, capfired;
    esc_feeder *feed;   /* records -> inventory -> CIM -> esc_run_consume */
    esc_buf hosts_text; /* "aid\tname\n" of every inventory record seen, saved as "@hosts" */
    bool hosts_dirty;
    risk_pt *risk; /* the risk incident rule's state (run_risk.c), saved as "@risk" */
    size_t nrisk, caprisk, nrisk_sorted;
    /* the step's entries [nrisk_sorted, nrisk) by object: per hash bucket its first and last
     * entry, per entry the next of its bucket, in the order added (index + 1, 0: none) */
    uint32_t *risk_head, *risk_last, *risk_next;
    size_t risk_nb;
    bool risk_dirty;
    struct ZSTD_CCtx_s *zc; /* segments' compression and decompression contexts (run_window.c) */
    struct ZSTD_DCtx_s *zd;
    esc_ckpt_partial *damaged; /* window blobs found damaged at restore, deleted at commit */
    size_t ndamaged;
    bool stepped;
    unsigned char *chunk;
    esc_reader *text_rd; /* esc_run_read_text's reader, restarted for each text of its format */
    esc_input *text_in;  /* its input, made over each text's bytes in turn */
    /* sinks session */
    esc_sinks *real, *wrapset;
    esc_act *act;
    run_sink wrap;
    uint64_t sink_size[2]; /* committed sizes of the notables and risk JSON-lines files */
    bool sink_track[2];
    /* late emission in progress */
    struct {
        bool active, changed;
        uint64_t salt;
        int64_t lag;
    } late;
    /* Kafka input (run_kafka.c) */
    run_kafka *kafka;
    run_repart *repart; /* two stages (--repartition-topic), or NULL */
    run_kcur kcur;
    int64_t horizon;   /* every run scheduled at or before it has fired (kept in Kafka mode) */
    char state_id[17]; /* this state directory's identity, named in Kafka commit metadata */
    /* bookkeeping */
    esc_runner_stats stats;
    uint64_t fired_total;
    int64_t last_commit;
    bool meta_dirty, caught;
    uint64_t puts, commits;
    long crash_sink, crash_commit;
    char *msgs[ESC_RUN_MAX_MESSAGES];
    size_t nmsgs, dropped;
};

/* run.c */
void esc_run_msg(esc_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "path: offset N: message" (the offset when e has one). */
void esc_run_msg_err(esc_runner *r, const char *path, const esc_error *e);

esc_status esc_run_commit(esc_runner *r, esc_error *err);

/* run_input.c */
/* n bytes of text (a chunk of an input from offset base, or one message) through the feeder. */
esc_status esc_run_read_text(esc_runner *r, const char *path, const unsigned char *p, size_t n,
                             uint64_t base, esc_error *err);
esc_status esc_run_add_input(esc_runner *r, const char *path, esc_error *err);
/* One pass: at most one chunk per input. *progress when anything was read. */
esc_status esc_run_read_pass(esc_runner *r, bool *progress, esc_error *err);
void esc_run_inputs_free(esc_runner *r);

/* run_window.c */
/* The feeder's consumer: the record into every window of every detection whose where clause
 * it passes. */
esc_status esc_run_consume(void *runner, const esc_record *rec, esc_error *err);
/* Refuse a detection one record could put in more than RUN_MAX_COVER windows. */
esc_status esc_run_check_cover(const det_state *d, int64_t now, esc_error *err);
win_state *esc_run_win_find(esc_runner *r, size_t det, int64_t sched);
/* The window of one Kafka partition (kslot1 = slot + 1), or of no partition (0). */
win_state *esc_run_win_find_slot(esc_runner *r, size_t det, int64_t sched, size_t kslot1);
/* Whether a window of the run has this store key (detection, earliest, latest). */
bool esc_run_win_find_key(const esc_runner *r, const esc_ckpt_partial *key);
esc_status esc_run_win_new(esc_runner *r, size_t det, int64_t sched, win_state **out,
                           esc_error *err);
/* A window restored from its stored row cp (body: its length without the trailer) and, for
 * an ESW5 (or ESW4) row, its segments; *why and nothing restored when those are damaged. */
esc_status esc_run_win_restore(esc_runner *r, size_t det, const esc_ckpt_partial *cp, size_t body,
                               const char **why, esc_error *err);
/* Inside the checkpoint transaction: what w gained since its last commit as a segment (or all
 * its records as one, once it has RUN_MAX_SEGS), and its row; esc_run_win_stored after the
 * commit drops the records stored from memory. */
esc_status esc_run_win_store(esc_runner *r, win_state *w, esc_error *err);
void esc_run_win_stored(win_state *w);
/* The length of w's whole blob: header, stored records and those in memory. */
uint64_t esc_run_win_len(const win_state *w);
/* w's whole blob: w->blob when nothing is stored, else read back into tmp. */
esc_status esc_run_win_records(esc_runner *r, const win_state *w, esc_buf *tmp, const esc_buf **out,
                               esc_error *err);
void esc_run_win_free(win_state *w);
/* Drop windows marked deleted once their deletion was committed. */
void esc_run_win_compact(esc_runner *r);
/* Retained fired windows past the late retention are marked deleted. */
void esc_run_win_prune(esc_runner *r, int64_t now);
/* Whether a stored row is a window's header with its records in segments (ESW5, ESW4). */
bool esc_run_blob_segmented(const void *row);
/* The segments' compression contexts freed (the runner's end). */
void esc_run_store_free(esc_runner *r);
/* A stored blob checked: its length without the trailer in *body, or NULL and the reason it is
 * damaged (bad magic, truncated, checksum mismatch). *old for a blob from before checksums. */
const char *esc_run_blob_check(const void *data, size_t len, size_t *body, bool *old);
/* The blob's header alone, with its CRC-32 trailer: a window without its records. */
void esc_run_blob_head(const esc_buf *b, unsigned char out[RUN_BLOB_HDR + RUN_BLOB_CRC]);
/* The blob's header fields. */
int64_t esc_run_blob_sched(const void *blob);
bool esc_run_blob_fired(const void *blob);
uint64_t esc_run_blob_emitted(const esc_buf *b);
void esc_run_blob_set_emitted(esc_buf *b, uint64_t n);
void esc_run_blob_set_fired(esc_buf *b);
/* Records in the blob (after its header). */
uint64_t esc_run_blob_count(const esc_buf *b);
/* The table of window ws's records in b[RUN_BLOB_HDR, end) (b: esc_run_win_records). */
esc_status esc_run_blob_table(const det_state *d, const win_state *ws, const esc_buf *b, size_t end,
                              esc_table **out, esc_error *err);

/* run_act.c */
esc_status esc_run_fire(esc_runner *r, const esc_run *run, esc_error *err);
/* Fire one window (open) of the run's detection. */
esc_status esc_run_fire_win(esc_runner *r, const esc_run *run, win_state *w, esc_error *err);
/* Fire n open windows of one run (Kafka: its partitions' windows) in one action step. */
esc_status esc_run_fire_wins(esc_runner *r, const esc_run *run, win_state *const *w, size_t n,
                             esc_error *err);
esc_status esc_run_emit_late(esc_runner *r, win_state *w, int64_t now, esc_error *err);
/* Close the sinks of this step (flush) and note the JSON-lines files' sizes. */
esc_status esc_run_session_close(esc_runner *r, esc_error *err);
void esc_run_session_free(esc_runner *r);
uint64_t esc_run_file_size(const char *path);

/* run_risk.c */
/* A risk event or threshold notable passing through the wrapping sink, noted for the rule. */
esc_status esc_run_risk_note(esc_runner *r, const esc_sink_event *ev, esc_error *err);
/* The wrapping sink's history(): what the rule needs of one object's past. */
esc_status esc_run_risk_history(esc_runner *r, const char *type, const char *object,
                                esc_risk_history *out, esc_error *err);
/* Prune, then the "@risk" blob into b. */
esc_status esc_run_risk_save(esc_runner *r, esc_buf *b);
bool esc_run_risk_restore(esc_runner *r, const void *blob, size_t len);
void esc_run_risk_free(esc_runner *r);

/* run_kafka.c */
esc_status esc_run_kafka_open(esc_runner *r, esc_error *err);
/* Poll the consumer: messages through the feeder, rebalances. *progress unless the group has
 * assigned partitions and every one owned is read to its high watermark. */
esc_status esc_run_kafka_pass(esc_runner *r, bool *progress, esc_error *err);
/* Before a checkpoint: each owned partition's low watermark into its input row. */
/* The "kpart HIGH OWNED PATH" lines of the bookkeeping blob: each partition's high watermark as
 * last fetched (-1 unknown) and whether this worker owns it, for `escudo status`. */
esc_status esc_run_kafka_meta(esc_runner *r, esc_buf *b);
/* Leave the group (revocation: checkpoint, synchronous commit) and say what was committed. */
void esc_run_kafka_stop(esc_runner *r);
void esc_run_kafka_before_commit(esc_runner *r);
/* After a checkpoint: the partitions' low watermarks committed to Kafka (asynchronously), or
 * with --kafka-output sent in one transaction with the outbox (synchronously). */
void esc_run_kafka_after_commit(esc_runner *r);
/* --kafka-output: a notable or risk event into the outbox (no-op without an output topic). */
esc_status esc_run_kafka_output(esc_runner *r, const esc_sink_event *ev, esc_error *err);
/* Inside a checkpoint: the outbox ("@kafka-out"; removed when empty). */
esc_status esc_run_kafka_put_outbox(esc_runner *r, esc_error *err);
/* Leave the group (committing first) and free. */
void esc_run_kafka_close(esc_runner *r);
/* One librdkafka setting, ESC_EUSAGE naming the key and librdkafka's reason when refused. */
struct rd_kafka_conf_s; /* librdkafka's rd_kafka_conf_t */
esc_status esc_run_kafka_set(struct rd_kafka_conf_s *c, const char *key, const char *val,
                             esc_error *err);
/* Whether a "key=value" setting is one only a consumer reads (not given to a producer). */
bool esc_run_kafka_consumer_only(const char *kv);
/* Fire a run in Kafka mode: each partition's window of it on its own, then every window of a
 * partition acquired since its run fired here (a catch-up). */
esc_status esc_run_kafka_fire(esc_runner *r, const esc_run *run, esc_error *err);
/* After a firing step (caught up): the catch-up windows; then every owned partition's windows
 * up to the horizon have fired. */
esc_status esc_run_kafka_fired(esc_runner *r, esc_error *err);
/* A partition's window's key in the store: "<detection id>@kafka:TOPIC/P". */
void esc_run_kafka_win_key(const esc_runner *r, const win_state *w, char *buf, size_t n);

/* run_act.c: fire a merged two-stage window (run_repart.c): the rest of its search over the
 * merged groups, then one action step. Takes x. */
esc_status esc_run_fire_merged(esc_runner *r, size_t det, int64_t sched, const esc_window *w,
                               esc_exec *x, esc_error *err);

/* run_repart.c (docs/scale.md "Two stages") */
/* The producer of partials and the merging consumer; marks the two-stage detections. */
esc_status esc_run_repart_open(esc_runner *r, esc_error *err);
/* A fired partition window of a two-stage detection: its partial kept until published. */
esc_status esc_run_repart_stash(esc_runner *r, const win_state *w, esc_error *err);
/* Partition `part` (slot) has fired every run in (from, to]: one message per two-stage
 * detection and run, with the stashed partial or none, to the merging partition. */
esc_status esc_run_repart_publish(esc_runner *r, size_t slot, int32_t part, int64_t from,
                                  int64_t to, esc_error *err);
/* Before a checkpoint: every message published is delivered (else an error). */
esc_status esc_run_repart_flush(esc_runner *r, esc_error *err);
/* After a checkpoint: the merging consumer's low watermarks committed (asynchronously). */
void esc_run_repart_after_commit(esc_runner *r);
/* Read the repartition topic: partials merged, windows complete fired. */
esc_status esc_run_repart_pass(esc_runner *r, esc_error *err);
/* Whether --once-until may end: merges of windows up to it done (or waited for long enough). */
bool esc_run_repart_done(esc_runner *r);
/* Leave the merging group (committing first) and free. */
void esc_run_repart_close(esc_runner *r);

/* run_status.c */
typedef struct meta_line {
    const char *key, *rest;
} meta_line;
/* Split the "@run" blob's "key rest" lines in place; at most cap. */
size_t esc_run_meta_lines(char *text, meta_line *out, size_t cap);

#endif
