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
/* Make the risk events of every first-stage table and feed them to the second-stage
 * executions (nothing when no detection is second-stage). */
esc_status esc_risk_stage_run(const esc_risk_stage *rs, esc_error *err);

#endif
