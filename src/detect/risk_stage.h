/* Internal to src/detect/: the hunt's second stage, the RBA detections over the risk events of
 * the others (risk_stage.c says how it is ordered). */
#ifndef ESC_DETECT_RISK_STAGE_H
#define ESC_DETECT_RISK_STAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "content/content.h"
#include "spl/spl.h"

#define ESC_RISK_STAGE_ARENA ((size_t)64 << 20) /* bytes of one risk event's fields */

typedef struct esc_risk_stage {
    const esc_content *content;
    const esc_detection *const *det; /* n detections, their result tables and executions */
    esc_table *const *tables;        /* first stage: finished; second stage: not yet */
    esc_exec *const *x;
    const bool *second; /* detection i reads Risk.All_Risk */
    size_t n;
    int64_t earliest_us, latest_us; /* the hunt's window */
    int64_t now;                    /* run time, epoch seconds (0: the current time) */
} esc_risk_stage;

/* True when p (or one of its subsearches) reads Risk.All_Risk. */
bool esc_risk_stage_reads(const esc_plan *p);

/* The making of the risk events: it takes the first-stage tables in detection order, each once
 * esc_risk_job_ready says it is finished, and feeds their risk events to the second-stage
 * executions. With a thread it works beside the first-stage finishes; without, all of it is
 * done in esc_risk_job_end. */
typedef struct esc_risk_job esc_risk_job;

/* *out is NULL (and every call below does nothing) when no detection is second-stage. rs and
 * what it points to must outlive the job. */
esc_status esc_risk_job_start(const esc_risk_stage *rs, bool thread, esc_risk_job **out,
                              esc_error *err);
/* First-stage table i is final. */
void esc_risk_job_ready(esc_risk_job *j, size_t i);
/* Waits for the job to make every risk event (abandon: stops it at the next table instead)
 * and frees it; its error, if any. */
esc_status esc_risk_job_end(esc_risk_job *j, bool abandon, esc_error *err);

#endif
