/* The HEC sink's spool folder (private to sink/): batch files, the channel, set-aside batches,
 * and the index of event_ids already spooled.
 *
 * Layout: NNNNNNNNNNNNNNNN.json (16 digits, one batch, one HEC envelope a line), written as
 * .NNNNNNNNNNNNNNNN.tmp then fsync'd and renamed; NNNNNNNNNNNNNNNN.json.rejected[.K] (a batch
 * Splunk refused, kept for a person); NNNNNNNNNNNNNNNN.ack (the ackId a posted batch waits
 * for, sink_hec.c); `channel` (the channel GUID); `lock` (flock). Every rename and unlink of a
 * batch is followed by an fsync of the folder before it counts. */
#ifndef ESC_SINK_HEC_SPOOL_H
#define ESC_SINK_HEC_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

/* Sorted batch file names (heap array of heap strings), at most max of them; *last: the highest
 * number any file in the folder carries (batches, set-aside batches, temporaries), so a new
 * batch never reuses the number of an old one. */
esc_status esc_spool_list(const char *dir, size_t max, char ***names, size_t *n,
                          unsigned long long *last, esc_error *err);
void esc_spool_names_free(char **names, size_t n);
/* path = dir/name, esc_malloc'd (NULL when out of memory). */
char *esc_spool_path(const char *dir, const char *name);
/* Write data to tmp, fsync, rename to path, fsync the folder. */
esc_status esc_spool_write(const char *dir, const char *path, const char *tmp, const char *data,
                           size_t len, esc_error *err);
/* Read a whole batch file into out (its cap is the caller's). ESC_ELIMIT when it does not fit. */
esc_status esc_spool_read(const char *path, esc_buf *out, esc_error *err);
/* Rename dir/name to dir/name.rejected (or .rejected.K when that exists: nothing is
 * overwritten). The new name (esc_malloc'd) in *as when as is not NULL. */
esc_status esc_spool_set_aside(const char *dir, const char *name, char **as, esc_error *err);
/* fsync the folder itself (renames and unlinks in it become durable). */
esc_status esc_spool_sync_dir(const char *dir, esc_error *err);
/* The channel GUID from dir/channel when it is one (8-4-4-4-12 hex digits); otherwise a new
 * random one is written there. out: 37 bytes. */
esc_status esc_spool_channel(const char *dir, char out[37], esc_error *err);

/* A set of event_ids (64 hex digits; kept as their first 128 bits). */
typedef struct esc_idset {
    unsigned char (*slots)[16];
    size_t cap, n, max;
    bool full; /* max reached: later ids were not added */
} esc_idset;

void esc_idset_init(esc_idset *s, size_t max);
void esc_idset_fini(esc_idset *s);
/* True when id (64 hex digits) is in the set; false for anything that is not such an id. */
bool esc_idset_has(const esc_idset *s, const char *id, size_t len);
/* Add id; ESC_ENOMEM. An id that is not 64 hex digits, or a full set, is ignored. */
esc_status esc_idset_add(esc_idset *s, const char *id, size_t len);
/* The event_id of each envelope line of a batch ({..., "event":{"_time":..,"event_id":"<hex>"..}}),
 * added to s. */
esc_status esc_idset_add_batch(esc_idset *s, const char *body, size_t len);

#endif
