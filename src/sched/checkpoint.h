/* The run state store: input offsets, fired windows and partial aggregates in one SQLite file.
 *
 * Contract:
 * - One file per state directory, opened by one process (a second writer waits up to 5 s, then
 *   fails with ESC_EIO). WAL journal, synchronous=FULL: a committed checkpoint survives a crash
 *   of the process or of the machine; an uncommitted one leaves no trace.
 * - Writes happen between esc_ckpt_begin and esc_ckpt_commit, one transaction, so input offsets,
 *   fired windows and partial aggregates move together (esc_ckpt_commit_batch does all of it in
 *   one call). Writes outside a transaction are ESC_EUSAGE. esc_ckpt_free rolls back an open
 *   transaction.
 * - Schema version in PRAGMA user_version (ESC_CKPT_SCHEMA_VERSION). A newer file is refused
 *   (ESC_EIO with a message); an older one is migrated when opened to write (version 1: the
 *   segments table added), read as it is when opened read-only.
 * - Input identity: path, inode, and a 64-bit FNV-1a hash of the first head_len (<= 4096) bytes
 *   of the uncompressed stream; offset counts uncompressed bytes. esc_ckpt_input_decide tells a
 *   reopened input apart: same file (resume), rotated (another file at the path), truncated.
 * - Strings (paths, detection ids) are at most ESC_CKPT_MAX_KEY bytes, blobs at most
 *   ESC_CKPT_MAX_BLOB; larger is ESC_ELIMIT.
 * Not done here: choosing when to checkpoint, pruning policy (esc_ckpt_prune_fired is the
 * mechanism), standard input (it cannot be resumed: the caller stores nothing for it). */
#ifndef ESC_SCHED_CHECKPOINT_H
#define ESC_SCHED_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

#define ESC_CKPT_SCHEMA_VERSION 2
#define ESC_CKPT_HEAD_MAX 4096
#define ESC_CKPT_MAX_KEY 4096
#define ESC_CKPT_MAX_BLOB (64u * 1024 * 1024)

typedef struct esc_ckpt esc_ckpt;

typedef struct esc_ckpt_input {
    const char *path; /* not owned */
    uint64_t inode;
    uint64_t offset;    /* uncompressed bytes consumed */
    uint32_t head_len;  /* bytes hashed, <= ESC_CKPT_HEAD_MAX */
    uint64_t head_hash; /* esc_ckpt_head_hash of those bytes */
} esc_ckpt_input;

typedef struct esc_ckpt_fired {
    const char *detection; /* not owned */
    int64_t earliest, latest;
    int64_t fired_at; /* the run's scheduled time (info_search_time), epoch seconds */
} esc_ckpt_fired;

typedef struct esc_ckpt_partial {
    const char *detection; /* not owned */
    int64_t earliest, latest;
    const void *data; /* NULL: delete the partial for this (detection, window) */
    size_t len;
} esc_ckpt_partial;

/* Everything one checkpoint changes; arrays may be NULL when their count is 0. */
typedef struct esc_ckpt_batch {
    const esc_ckpt_input *inputs;
    size_t n_inputs;
    const esc_ckpt_fired *fired;
    size_t n_fired;
    const esc_ckpt_partial *partials;
    size_t n_partials;
} esc_ckpt_batch;

/* Open or create the store at path. *out is owned by the caller (esc_ckpt_free). */
esc_status esc_ckpt_open(const char *path, esc_ckpt **out, esc_error *err);
/* Open an existing store to read it, never writing it (no WAL switch, no schema). ESC_EOF when
 * the file holds no table at all (empty); ESC_EIO "not an escudo state store" for any other
 * SQLite file or none; *out stays NULL then. */
esc_status esc_ckpt_open_readonly(const char *path, esc_ckpt **out, esc_error *err);
void esc_ckpt_free(esc_ckpt *c);

esc_status esc_ckpt_begin(esc_ckpt *c, esc_error *err);
esc_status esc_ckpt_commit(esc_ckpt *c, esc_error *err);
esc_status esc_ckpt_rollback(esc_ckpt *c, esc_error *err);

/* Inside a transaction. Upserts; a partial with data == NULL is deleted, with its segments. */
esc_status esc_ckpt_put_input(esc_ckpt *c, const esc_ckpt_input *in, esc_error *err);
esc_status esc_ckpt_put_fired(esc_ckpt *c, const esc_ckpt_fired *f, esc_error *err);
esc_status esc_ckpt_put_partial(esc_ckpt *c, const esc_ckpt_partial *p, esc_error *err);
/* A partial's segment seq (upsert): what its owner appended to it since its last segment, so a
 * commit writes what changed, not the whole of a growing partial. The store keeps segments as
 * bytes; their order (seq), checks and meaning are the owner's. */
esc_status esc_ckpt_put_segment(esc_ckpt *c, const esc_ckpt_partial *p, int64_t seq,
                                esc_error *err);
/* Delete the segments of key's (detection, window) numbered from `from` on. */
esc_status esc_ckpt_trim_segments(esc_ckpt *c, const esc_ckpt_partial *key, int64_t from,
                                  esc_error *err);
/* Delete fired windows whose latest is before `before` (they can no longer matter). */
esc_status esc_ckpt_prune_fired(esc_ckpt *c, int64_t before, esc_error *err);

/* Begin, apply the batch, commit; on any failure roll back and leave the store unchanged. */
esc_status esc_ckpt_commit_batch(esc_ckpt *c, const esc_ckpt_batch *b, esc_error *err);

/* Reads (inside or outside a transaction). ESC_EOF when absent. */
esc_status esc_ckpt_get_input(esc_ckpt *c, const char *path, esc_ckpt_input *out,
                              esc_error *err); /* out->path = path */
esc_status esc_ckpt_get_fired(esc_ckpt *c, const char *detection, int64_t earliest, int64_t latest,
                              int64_t *fired_at, esc_error *err);
/* The latest fired_at recorded for a detection: what its agenda job resumes after. ESC_EOF when
 * the detection never fired (or all its rows were pruned). */
esc_status esc_ckpt_last_fired(esc_ckpt *c, const char *detection, int64_t *fired_at,
                               esc_error *err);
/* Replaces out's contents with the blob. */
esc_status esc_ckpt_get_partial(esc_ckpt *c, const char *detection, int64_t earliest,
                                int64_t latest, esc_buf *out, esc_error *err);

/* Each segment of key's (detection, window), in seq order, to each(); the first status other
 * than ESC_OK stops the walk and is returned. data is valid during the call only. */
typedef esc_status (*esc_ckpt_segment_fn)(void *ctx, int64_t seq, const void *data, size_t len,
                                          esc_error *err);
esc_status esc_ckpt_get_segments(esc_ckpt *c, const esc_ckpt_partial *key, esc_ckpt_segment_fn each,
                                 void *ctx, esc_error *err);
/* The bytes of every segment of the store. */
esc_status esc_ckpt_segment_bytes(esc_ckpt *c, uint64_t *out, esc_error *err);

/* Iterate stored partial aggregates (all, or one detection's when detection != NULL), ordered
 * by detection, earliest, latest. Each esc_ckpt_partial returned by _next points into the
 * iterator and is valid until the next call. Do not write to the store while iterating. */
typedef struct esc_ckpt_iter esc_ckpt_iter;
esc_status esc_ckpt_partials_iter(esc_ckpt *c, const char *detection, esc_ckpt_iter **out,
                                  esc_error *err);
esc_status esc_ckpt_iter_next(esc_ckpt_iter *it, esc_ckpt_partial *out, esc_error *err);
void esc_ckpt_iter_free(esc_ckpt_iter *it);

/* FNV-1a 64 of the first min(n, ESC_CKPT_HEAD_MAX) bytes. */
uint64_t esc_ckpt_head_hash(const void *p, size_t n);

typedef enum esc_ckpt_decision {
    ESC_CKPT_RESUME,    /* same file: continue at saved->offset */
    ESC_CKPT_ROTATED,   /* another file now lives at the path: read it from the start */
    ESC_CKPT_TRUNCATED, /* same file, shorter than what was read: read from the start */
} esc_ckpt_decision;

/* Compare a saved input with the file now at its path: its inode, its (uncompressed) size or
 * UINT64_MAX when unknown (gzip), and its first bytes (head, head_n >= saved->head_len unless
 * the file is shorter). */
esc_ckpt_decision esc_ckpt_input_decide(const esc_ckpt_input *saved, uint64_t inode, uint64_t size,
                                        const void *head, size_t head_n);

#endif
