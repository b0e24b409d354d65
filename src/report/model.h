/* The report's model (what the store holds, reduced to what the page shows) and the writers
 * its sections share. Private to src/report/. */
#ifndef ESC_REPORT_MODEL_H
#define ESC_REPORT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "report/report.h"

#define RPT_DAY 86400

/* One evidence reference of a notable. */
typedef struct rpt_ev {
    const char *path;
    uint64_t offset, line, record_id;
    bool has_offset, has_line, has_record;
    int64_t time; /* epoch seconds; INT64_MIN when unknown */
} rpt_ev;

typedef struct rpt_field {
    const char *name, *value;
} rpt_field;

typedef struct rpt_notable {
    const char *id, *search, *title, *severity, *status, *owner;
    const char *host, *user;
    const char *risk_object, *risk_object_type;
    int64_t time;  /* _time as stored */
    int64_t etime; /* when the evidence happened: orig_time, firstTime, evidence, else _time */
    bool timed;    /* etime is an event time (else it is the firing time) */
    int64_t risk_score;
    bool incident; /* a risk threshold notable (carries a risk object and score) */
    int sev;       /* 0 informational .. 4 critical, -1 unknown */
    const char *const *techs;
    size_t ntechs;
    const char *const *tactics;
    size_t ntactics;
    rpt_field *fields;
    size_t nfields;
    rpt_ev *ev;
    size_t nev;
    uint64_t ev_total; /* references the row counted (may exceed nev) */
    size_t det;        /* index into rpt_model.dets */
    size_t lane;       /* index into rpt_model.hosts */
} rpt_notable;

typedef struct rpt_risk {
    const char *object, *type, *search;
    int64_t time, score;
} rpt_risk;

typedef struct rpt_det {
    const char *search, *title;
    int sev;
    size_t n, nhosts;
    int64_t first, last;
    size_t *rows; /* indexes of its notables, time order */
} rpt_det;

typedef struct rpt_host {
    const char *name;
    size_t n;
} rpt_host;

typedef struct rpt_model {
    esc_arena arena;
    rpt_notable *n;
    size_t nn, capn;
    rpt_risk *r;
    size_t nr, capr;
    rpt_det *dets;
    size_t ndets;
    rpt_host *hosts; /* by notable count, most first; [nhosts-1] may be the shared lane */
    size_t nhosts;
    size_t nlanes;   /* hosts drawn as lanes */
    size_t nobjects; /* risk objects (r is sorted by type, object, time) */
    size_t nsev[5], nsev_unknown, incidents, with_evidence, untimed;
    int64_t tmin, tmax; /* evidence span over notables (etime and evidence times) */
    bool any_time;
    size_t max_notables, max_risk; /* read caps */
} rpt_model;

/* Read the store into m (notables, risk events; grouped by detection and host). */
esc_status rpt_model_load(rpt_model *m, const esc_report_opts *o, esc_error *err);
void rpt_model_fini(rpt_model *m);

/* Severity names as ES uses them, and their rank (-1 for anything else). */
extern const char *const RPT_SEV[5];
int rpt_sev_rank(const char *s);

/* The page being written: every writer below appends to buf unless an earlier append failed,
 * and keeps the first failure in st, so a page that lost a piece is never taken for whole
 * (esc_report_render fails with st). Each returns st. */
typedef struct rpt_page {
    esc_buf *buf;
    esc_status st;
} rpt_page;

esc_status rpt_puts(rpt_page *b, const char *s);
esc_status rpt_bytes(rpt_page *b, const void *p, size_t n);
esc_status rpt_printf(rpt_page *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
esc_status rpt_strftime(rpt_page *b, int64_t t, const char *fmt); /* esc_time_format */
/* Text escaped for HTML text and attribute context (see report.h), cut after max bytes of s (on
 * a character boundary, then "… (N bytes)"); max 0 keeps it whole. */
esc_status rpt_text(rpt_page *b, const char *s, size_t max);
esc_status rpt_time(rpt_page *b, int64_t t); /* 2019-06-14 22:22:17 (zone of esc_time) */
esc_status rpt_span(rpt_page *b, int64_t s); /* 3 d 4 h, 2 y 3 mo, ... */

/* A time axis cut where the evidence has gaps: segments [lo, hi] of sorted times. */
typedef struct rpt_seg {
    int64_t lo, hi;
    size_t n;
} rpt_seg;
/* Segments of the sorted times t[0..n) that cut at gaps longer than min_gap and longer than
 * (t[n-1]-t[0])/100, at most max of them (the longest gaps cut first); returns how many, 0 when n
 * is 0 or out of memory. */
size_t rpt_segments(const int64_t *t, size_t n, int64_t min_gap, rpt_seg *out, size_t max);

/* Sections. */
esc_status rpt_timeline(rpt_page *b, const rpt_model *m, const esc_report_opts *o,
                        esc_report_stats *st);
esc_status rpt_risk_section(rpt_page *b, const rpt_model *m);
esc_status rpt_attack(rpt_page *b, const rpt_model *m, const esc_report_opts *o);
esc_status rpt_detections(rpt_page *b, const rpt_model *m, const esc_report_opts *o,
                          esc_report_stats *st);

#endif
