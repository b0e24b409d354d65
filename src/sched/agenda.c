/* Due runs across jobs (see agenda.h).
 *
 * A binary min-heap of job indices keyed by (next scheduled time, job index) gives the next run
 * in O(log n). Invariant: every job is in the heap exactly once, keyed by its next scheduled
 * time (ESC_CRON_NEVER sinks to the bottom and is never due). Deliberately not done: threads,
 * clocks, persistence. */
#include "sched/agenda.h"

#include <string.h>

#include "core/alloc.h"

typedef struct job {
    char *id;
    esc_schedule sched;
    int64_t next; /* next scheduled time, ESC_CRON_NEVER when none */
} job;

struct esc_agenda {
    job *jobs;
    size_t n, cap;
    size_t *heap; /* job indices */
};

esc_agenda *esc_agenda_new(void) {
    return esc_calloc(1, sizeof(esc_agenda));
}

void esc_agenda_free(esc_agenda *a) {
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        esc_free(a->jobs[i].id);
    esc_free(a->jobs);
    esc_free(a->heap);
    esc_free(a);
}

static int before(const esc_agenda *a, size_t x, size_t y) {
    const job *j = &a->jobs[x], *k = &a->jobs[y];
    return j->next < k->next || (j->next == k->next && x < y);
}

static void swap(size_t *h, size_t i, size_t j) {
    size_t t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static void sift_up(esc_agenda *a, size_t i) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(a, a->heap[i], a->heap[p]))
            break;
        swap(a->heap, i, p);
        i = p;
    }
}

static void sift_down(esc_agenda *a, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < a->n && before(a, a->heap[l], a->heap[m]))
            m = l;
        if (r < a->n && before(a, a->heap[r], a->heap[m]))
            m = r;
        if (m == i)
            return;
        swap(a->heap, i, m);
        i = m;
    }
}

esc_status esc_agenda_add(esc_agenda *a, const char *id, const esc_schedule *s,
                          int64_t resume_after, size_t *job_out, esc_error *err) {
    if (!id || !*id)
        return esc_error_set(err, ESC_EUSAGE, "agenda: empty detection id");
    if (strlen(id) > ESC_AGENDA_MAX_ID)
        return esc_error_set(err, ESC_ELIMIT, "agenda: detection id longer than %d bytes",
                             ESC_AGENDA_MAX_ID);
    if (a->n == ESC_AGENDA_MAX_JOBS)
        return esc_error_set(err, ESC_ELIMIT, "agenda: more than %d scheduled detections",
                             ESC_AGENDA_MAX_JOBS);
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        job *jobs = esc_realloc(a->jobs, cap * sizeof *jobs);
        if (!jobs)
            return esc_error_set(err, ESC_ENOMEM, "agenda: out of memory");
        a->jobs = jobs;
        size_t *heap = esc_realloc(a->heap, cap * sizeof *heap);
        if (!heap)
            return esc_error_set(err, ESC_ENOMEM, "agenda: out of memory");
        a->heap = heap;
        a->cap = cap;
    }
    char *copy = esc_strdup(id);
    if (!copy)
        return esc_error_set(err, ESC_ENOMEM, "agenda: out of memory");
    size_t i = a->n;
    a->jobs[i] = (job){copy, *s, esc_schedule_next(s, resume_after)};
    a->heap[i] = i;
    a->n++;
    sift_up(a, i);
    if (job_out)
        *job_out = i;
    return ESC_OK;
}

esc_status esc_agenda_pop_due(esc_agenda *a, int64_t now, esc_run *out, esc_error *err) {
    if (a->n == 0)
        return ESC_EOF;
    size_t top = a->heap[0];
    job *j = &a->jobs[top];
    if (j->next == ESC_CRON_NEVER || j->next > now)
        return ESC_EOF;
    int64_t t = j->next;
    j->next = esc_schedule_next(&j->sched, t);
    sift_down(a, 0);
    out->job = top;
    out->id = j->id;
    out->scheduled = t;
    return esc_schedule_window(&j->sched, t, &out->window, err);
}

int64_t esc_agenda_next_time(const esc_agenda *a) {
    return a->n ? a->jobs[a->heap[0]].next : ESC_CRON_NEVER;
}

size_t esc_agenda_count(const esc_agenda *a) {
    return a->n;
}
