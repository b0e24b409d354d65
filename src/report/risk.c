/* Risk: per risk object, the 24-hour risk score over time, the picture of Splunk's risk-based
 * alerting. The score at time x is the sum of the object's risk scores with _time in
 * (x - 24h, x]: the window of the incident rule in act/act.c ("Risk - 24 Hour Risk Threshold
 * Exceeded"), which fires when it passes 100; the threshold is drawn and the risk incident
 * notables of the object are marked where they fired.
 *
 * Invariants: the objects with the highest 24-hour score are charted, at most
 * ESC_REPORT_MAX_RISK_CHARTS of them; every object is in the table below (at most
 * ESC_REPORT_MAX_ROWS rows, the cap stated). Each chart cuts its axis where the object had no
 * risk for more than a day (the score is 0 there). Deliberately not done: recomputing incidents
 * (the store's notables are what is marked). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timeutil.h"
#include "report/model.h"

enum { W = 1200, LEFT = 60, RIGHT = 10, H = 150, TOP = 10, BOTTOM = 24, MAXSEG = 16 };

/* The y axis: linear up to 400, a square-root scale above (a score of 4,000 beside the
 * threshold of 100 would flatten the line that matters). */
typedef struct yaxis {
    double max;
    bool sq;
} yaxis;

static double yof(const yaxis *a, double v) {
    double f = a->sq ? sqrt(v > 0 ? v / a->max : 0) : v / a->max;
    return (double)(H - BOTTOM) - (double)(H - BOTTOM - TOP) * f;
}

typedef struct robj {
    size_t lo, hi; /* [lo, hi) in m->r */
    long long total, max24;
    size_t incidents;
} robj;

static int cmp_obj(const void *a, const void *b) {
    const robj *x = a, *y = b;
    if (x->max24 != y->max24)
        return x->max24 > y->max24 ? -1 : 1;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static bool is_incident_of(const rpt_notable *n, const rpt_risk *r) {
    return n->incident && n->risk_object && n->risk_object_type &&
           strcmp(n->risk_object, r->object) == 0 && strcmp(n->risk_object_type, r->type) == 0;
}

/* The highest 24-hour sum of r[lo, hi) (time order). */
static long long max24(const rpt_risk *r, size_t lo, size_t hi) {
    long long sum = 0, best = 0;
    size_t a = lo;
    for (size_t i = lo; i < hi; i++) {
        sum += r[i].score;
        while (a <= i && r[a].time <= r[i].time - RPT_DAY)
            sum -= r[a++].score;
        best = sum > best ? sum : best;
    }
    return best;
}

/* The step line of the 24-hour score over segment s, drawn over [x0, x0 + w]. */
static void score_path(rpt_page *b, const rpt_risk *r, size_t lo, size_t hi, int64_t t0, int64_t t1,
                       double x0, double w, const yaxis *ya) {
    double span = t1 > t0 ? (double)(t1 - t0) : 1;
#define X(t) (x0 + w * (double)((t)-t0) / span)
#define Y(v) yof(ya, (double)(v))
    rpt_printf(b, "<path fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.5\" d=\"M%.1f %.1f", x0,
               Y(0));
    long long sum = 0;
    size_t i = lo, j = lo;
    while (i < hi || j < hi) {
        int64_t x = i < hi && r[i].time < r[j].time + RPT_DAY ? r[i].time : r[j].time + RPT_DAY;
        while (j < hi && r[j].time + RPT_DAY <= x) /* leaves the window (x - 24h, x] */
            sum -= r[j++].score;
        while (i < hi && r[i].time == x)
            sum += r[i++].score;
        if (x > t1)
            break;
        rpt_printf(b, " H%.1f V%.1f", X(x), Y(sum));
    }
    rpt_printf(b, " H%.1f\"/>\n", X(t1));
}

static void incident_marks(rpt_page *b, const rpt_model *m, const rpt_risk *r, int64_t t0,
                           int64_t t1, double x0, double w, const yaxis *ya) {
    double span = t1 > t0 ? (double)(t1 - t0) : 1;
    for (size_t i = 0; i < m->nn; i++) {
        const rpt_notable *n = &m->n[i];
        if (!is_incident_of(n, r) || n->time < t0 || n->time > t1)
            continue;
        double x = X(n->time), y = Y(n->risk_score);
        rpt_printf(b,
                   "<path class=\"incident\" d=\"M%.1f %.1f l-6 -10 h12 z\" fill=\"#7b0016\">"
                   "<title>risk incident notable ",
                   x, y);
        rpt_time(b, n->time);
        rpt_printf(b, ": score %lld over 24 h\n", (long long)n->risk_score);
        rpt_text(b, n->title, 200);
        rpt_puts(b, "</title></path>\n");
    }
#undef X
#undef Y
}

static void chart(rpt_page *b, const rpt_model *m, const robj *o) {
    const rpt_risk *r = m->r;
    size_t n = o->hi - o->lo;
    int64_t *t = esc_malloc((n + 1) * sizeof *t);
    rpt_seg seg[MAXSEG];
    if (!t) {
        b->st = b->st ? b->st : ESC_ENOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++)
        t[i] = r[o->lo + i].time;
    size_t nseg = rpt_segments(t, n, RPT_DAY, seg, MAXSEG);
    esc_free(t);
    if (!nseg) {
        b->st = b->st ? b->st : ESC_ENOMEM;
        return;
    }
    yaxis ya = {(double)(o->max24 > 120 ? o->max24 : 120) * 1.1, o->max24 > 400};
    rpt_puts(b, "<h3>");
    rpt_text(b, r[o->lo].type, 40);
    rpt_puts(b, " ");
    rpt_text(b, r[o->lo].object, 200);
    rpt_printf(b,
               " <span class=\"muted\">(%zu risk events, highest 24-hour score %lld, %zu "
               "risk incident notables)</span></h3>\n",
               n, o->max24, o->incidents);
    rpt_printf(b,
               "<svg class=\"risk\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "role=\"img\">\n",
               W, H, W, H);
    int y0 = H - BOTTOM;
    double yt = yof(&ya, 100), ym = yof(&ya, (double)o->max24);
    rpt_printf(b, "<text x=\"4\" y=\"%.1f\" font-size=\"11\" fill=\"#556\">%lld%s</text>", ym + 4,
               o->max24, ya.sq ? " (\xE2\x88\x9A)" : "");
    rpt_printf(b,
               "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#889\"/>"
               "<line class=\"threshold\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
               "stroke=\"#c00\" stroke-dasharray=\"5 4\"/><text x=\"4\" y=\"%.1f\" "
               "font-size=\"11\" fill=\"#c00\">100</text><text x=\"4\" y=\"%d\" "
               "font-size=\"11\" fill=\"#556\">0</text>\n",
               LEFT, W - RIGHT, y0, y0, LEFT, W - RIGHT, yt, yt, yt + 4, y0 + 4);
    double gap = 16, w = ((double)(W - LEFT - RIGHT) - gap * (double)(nseg - 1)) / (double)nseg;
    size_t i = o->lo, stride = (size_t)(110 / (w + gap)) + 1;
    for (size_t s = 0; s < nseg; s++) {
        size_t j = i;
        while (j < o->hi && r[j].time <= seg[s].hi)
            j++;
        double x0 = LEFT + (double)s * (w + gap);
        int64_t t0 = seg[s].lo - 600, t1 = seg[s].hi + RPT_DAY;
        score_path(b, r, i, j, t0, t1, x0, w, &ya);
        incident_marks(b, m, &r[o->lo], t0, t1, x0, w, &ya);
        if (s % stride == 0) { /* a label every stride segments: they take 110 px */
            rpt_printf(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" fill=\"#556\">", x0, H - 6);
            rpt_strftime(b, seg[s].lo, "%Y-%m-%d %H:%M");
            rpt_puts(b, "</text>\n");
        }
        if (s + 1 < nseg) {
            rpt_printf(b, "<text x=\"%.1f\" y=\"%d\" fill=\"#99a\">\xE2\x89\x88<title>gap of ",
                       x0 + w + 3, y0 - 4);
            rpt_span(b, seg[s + 1].lo - seg[s].hi);
            rpt_puts(b, "</title></text>\n");
        }
        i = j;
    }
    rpt_puts(b, "</svg>\n");
}

static void table(rpt_page *b, const rpt_model *m, const robj *objs, size_t n) {
    size_t cap = n < ESC_REPORT_MAX_ROWS ? n : ESC_REPORT_MAX_ROWS;
    if (cap < n)
        rpt_printf(b,
                   "<p class=\"cap\">Risk table cap: the %zu objects with the highest "
                   "24-hour score of %zu are listed.</p>\n",
                   cap, n);
    rpt_puts(b, "<table class=\"sortable\" id=\"risk-objects\"><thead><tr><th>type</th>"
                "<th>risk object</th><th>risk events</th><th>total score</th>"
                "<th>highest 24-hour score</th><th>risk incident notables</th></tr>"
                "</thead><tbody>\n");
    for (size_t k = 0; k < cap; k++) {
        const robj *o = &objs[k];
        rpt_puts(b, "<tr><td>");
        rpt_text(b, m->r[o->lo].type, ESC_REPORT_MAX_VALUE);
        rpt_puts(b, "</td><td>");
        rpt_text(b, m->r[o->lo].object, ESC_REPORT_MAX_VALUE);
        rpt_printf(b,
                   "</td><td class=\"n\" data-v=\"%zu\">%zu</td><td class=\"n\" "
                   "data-v=\"%lld\">%lld</td><td class=\"n\" data-v=\"%lld\">%lld</td>"
                   "<td class=\"n\" data-v=\"%zu\">%zu</td></tr>\n",
                   o->hi - o->lo, o->hi - o->lo, o->total, o->total, o->max24, o->max24,
                   o->incidents, o->incidents);
    }
    rpt_puts(b, "</tbody></table>\n");
}

esc_status rpt_risk_section(rpt_page *b, const rpt_model *m) {
    rpt_puts(b, "<h2 id=\"risk\">Risk</h2>\n");
    if (m->nr == 0)
        return rpt_puts(b, "<p>No risk events in the store for this window.</p>\n");
    robj *objs = esc_calloc(m->nobjects + 1, sizeof *objs);
    if (!objs)
        return ESC_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < m->nr; i++) {
        if (i == 0 || strcmp(m->r[i].object, m->r[i - 1].object) != 0 ||
            strcmp(m->r[i].type, m->r[i - 1].type) != 0)
            objs[n++] = (robj){i, i, 0, 0, 0};
        objs[n - 1].hi = i + 1;
        objs[n - 1].total += m->r[i].score;
    }
    for (size_t k = 0; k < n; k++) {
        objs[k].max24 = max24(m->r, objs[k].lo, objs[k].hi);
        for (size_t i = 0; i < m->nn; i++)
            objs[k].incidents += is_incident_of(&m->n[i], &m->r[objs[k].lo]);
    }
    qsort(objs, n, sizeof *objs, cmp_obj);
    rpt_printf(b,
               "<p class=\"muted\">The 24-hour risk score of each risk object: at each time, "
               "the sum of its risk scores over the 24 hours before (as the incident rule "
               "counts them); the dashed line is the incident threshold, 100; triangles are "
               "the risk incident notables. Above 400 the scale is a square root (\xE2\x88\x9A). ");
    rpt_printf(b,
               "<span id=\"n-risk-objects\" data-count=\"%zu\">%zu</span> risk objects, "
               "%zu risk events.</p>\n",
               n, n, m->nr);
    size_t charts = n < ESC_REPORT_MAX_RISK_CHARTS ? n : ESC_REPORT_MAX_RISK_CHARTS;
    if (charts < n)
        rpt_printf(b,
                   "<p class=\"cap\">Risk chart cap: the %zu objects with the highest "
                   "24-hour score are charted (cap %d); all %zu are in the table.</p>\n",
                   charts, ESC_REPORT_MAX_RISK_CHARTS, n);
    for (size_t k = 0; k < charts; k++)
        chart(b, m, &objs[k]);
    table(b, m, objs, n);
    esc_free(objs);
    return ESC_OK;
}
