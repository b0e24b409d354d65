/* The agenda: which scheduled runs are due, in order, for a set of deployments.
 *
 * Contract:
 * - Each job is a detection id and its esc_schedule, added with the time it resumes after: its
 *   first run is the first scheduled time strictly after resume_after. For a fresh start that is
 *   "now"; after a restart it is the scheduled time of the job's last fired run, so runs missed
 *   while escudo was down are all returned (catch-up) and none is returned twice.
 * - esc_agenda_pop_due(now) returns the due runs (scheduled time <= now) one at a time in
 *   scheduled-time order, ties in the order jobs were added, each with its window. The agenda
 *   does not read a clock: "now" is the caller's (an esc_clock reading).
 * - At most ESC_AGENDA_MAX_JOBS jobs; ids are copied (at most ESC_AGENDA_MAX_ID bytes).
 * Not done here: running searches, recording fired windows (the checkpoint does), skipping or
 * coalescing missed runs (every missed window is evaluated, as the acceptance tests require). */
#ifndef ESC_SCHED_AGENDA_H
#define ESC_SCHED_AGENDA_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "sched/window.h"

#define ESC_AGENDA_MAX_JOBS 100000
#define ESC_AGENDA_MAX_ID 1024

typedef struct esc_agenda esc_agenda;

typedef struct esc_run {
    size_t job;        /* index in the order of esc_agenda_add */
    const char *id;    /* owned by the agenda, valid until esc_agenda_free */
    int64_t scheduled; /* the run's scheduled time ("now" for its relative times) */
    esc_window window; /* [earliest, latest) */
} esc_run;

esc_agenda *esc_agenda_new(void); /* NULL when out of memory */
void esc_agenda_free(esc_agenda *a);

/* Add a job; *job_out (may be NULL) receives its index. */
esc_status esc_agenda_add(esc_agenda *a, const char *id, const esc_schedule *s,
                          int64_t resume_after, size_t *job_out, esc_error *err);

/* The next run due at or before now: ESC_OK with *out filled and the job advanced, ESC_EOF when
 * nothing is due. A window error (content) is returned once and the job advances past it. */
esc_status esc_agenda_pop_due(esc_agenda *a, int64_t now, esc_run *out, esc_error *err);

/* The earliest pending scheduled time (what to wait for), ESC_CRON_NEVER when none. */
int64_t esc_agenda_next_time(const esc_agenda *a);

size_t esc_agenda_count(const esc_agenda *a);

#endif
