/* The timeline: one lane per host, notables and their evidence events as marks coloured by
 * severity, drawn as inline SVG.
 *
 * The time axis is cut into segments where the evidence has gaps (rpt_segments): a scan of
 * years-old logs beside last week's keeps each burst readable instead of squashing it into a
 * line. The overview draws every segment side by side (a break mark between them says how long
 * the gap was); each segment opens into a detail view drawn over its own time range: that is the
 * zoom, done without script.
 *
 * Invariants: at most max_marks marks (ESC_REPORT_MAX_MARKS) are drawn, the most severe
 * notables first, each with its evidence events; the rest are counted in the lane labels and
 * the cap is stated above the chart. Deliberately not done: drawing by script, panning. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timeutil.h"
#include "report/model.h"

enum { W = 1200, LEFT = 190, RIGHT = 10, TOP = 26, LANE = 18, GAPW = 16, BOTTOM = 24 };

static const char *const COLOR[6] = {"#8a94a6", "#2f6db5", "#e0a000", "#e8591a", "#c0002a", "#555"};

typedef struct mark {
    int64_t t;
    size_t notable;
    int ev; /* -1: the notable itself; else its evidence index */
} mark;

static int cmp_mark(const void *a, const void *b) {
    const mark *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->notable < y->notable ? -1 : x->notable > y->notable;
}

typedef struct prio {
    int sev;
    int64_t t;
    size_t i;
} prio;

static int cmp_prio(const void *a, const void *b) {
    const prio *x = a, *y = b;
    if (x->sev != y->sev)
        return x->sev > y->sev ? -1 : 1;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The marks drawn, in time order: the most severe notables first until the cap. */
static mark *pick_marks(const rpt_model *m, size_t cap, size_t *n, size_t *capped) {
    prio *p = esc_malloc((m->nn + 1) * sizeof *p);
    mark *k = esc_malloc((cap + 1) * sizeof *k);
    *n = *capped = 0;
    if (!p || !k) {
        esc_free(p);
        esc_free(k);
        return NULL;
    }
    for (size_t i = 0; i < m->nn; i++)
        p[i] = (prio){m->n[i].sev, m->n[i].etime, i};
    qsort(p, m->nn, sizeof *p, cmp_prio);
    for (size_t j = 0; j < m->nn; j++) {
        const rpt_notable *x = &m->n[p[j].i];
        if (!x->timed)
            continue;
        size_t need = 1;
        for (size_t e = 0; e < x->nev; e++)
            need += x->ev[e].time != INT64_MIN;
        if (*n + need > cap) {
            (*capped)++;
            continue;
        }
        k[(*n)++] = (mark){x->etime, p[j].i, -1};
        for (size_t e = 0; e < x->nev; e++)
            if (x->ev[e].time != INT64_MIN)
                k[(*n)++] = (mark){x->ev[e].time, p[j].i, (int)e};
    }
    esc_free(p);
    qsort(k, *n, sizeof *k, cmp_mark);
    return k;
}

/* The tooltip of a mark: time, severity, detection, host, user, a few fields (or the
 * evidence reference). */
static void tooltip(rpt_page *b, const rpt_notable *x, int ev) {
    rpt_puts(b, "<title>");
    rpt_time(b, ev < 0 ? x->etime : x->ev[ev].time);
    rpt_puts(b, ev < 0 ? " \xC2\xB7 " : " \xC2\xB7 evidence of ");
    rpt_text(b, x->severity, 40);
    rpt_puts(b, " \xC2\xB7 ");
    rpt_text(b, x->title, 160);
    rpt_puts(b, "\nhost ");
    rpt_text(b, x->host, 80);
    if (x->user) {
        rpt_puts(b, " \xC2\xB7 user ");
        rpt_text(b, x->user, 80);
    }
    if (ev >= 0) {
        rpt_puts(b, "\n");
        rpt_text(b, x->ev[ev].path, 160);
        if (x->ev[ev].has_record)
            rpt_printf(b, " record %llu", (unsigned long long)x->ev[ev].record_id);
        if (x->ev[ev].has_offset)
            rpt_printf(b, " offset %llu", (unsigned long long)x->ev[ev].offset);
    }
    for (size_t f = 0; ev < 0 && f < x->nfields && f < 3; f++) {
        rpt_puts(b, "\n");
        rpt_text(b, x->fields[f].name, 60);
        rpt_puts(b, "=");
        rpt_text(b, x->fields[f].value, 120);
    }
    rpt_puts(b, "</title>");
}

static void draw_mark(rpt_page *b, const rpt_model *m, const mark *k, double x, int y) {
    const rpt_notable *n = &m->n[k->notable];
    const char *c = COLOR[n->sev >= 0 ? n->sev : 5];
    if (k->ev < 0)
        rpt_printf(b, "<circle cx=\"%.1f\" cy=\"%d\" r=\"4.5\" fill=\"%s\" stroke=\"#fff\">", x, y,
                   c);
    else
        rpt_printf(b,
                   "<rect x=\"%.1f\" y=\"%d\" width=\"2\" height=\"12\" fill=\"%s\" "
                   "opacity=\".6\">",
                   x - 1, y - 6, c);
    tooltip(b, n, k->ev);
    rpt_puts(b, k->ev < 0 ? "</circle>" : "</rect>");
}

/* The lane label: the host (cut to fit), its notable count, the full name as tooltip. */
static void lane_label(rpt_page *b, const rpt_model *m, size_t lane, int y) {
    bool others = lane + 1 == m->nlanes && m->nlanes < m->nhosts;
    size_t n = 0;
    if (others)
        for (size_t h = lane; h < m->nhosts; h++)
            n += m->hosts[h].n;
    else
        n = m->hosts[lane].n;
    rpt_printf(b, "<text x=\"4\" y=\"%d\" font-size=\"11\"><title>", y + 4);
    if (others)
        rpt_printf(b, "%zu other hosts", m->nhosts - lane);
    else
        rpt_text(b, m->hosts[lane].name, 0);
    rpt_puts(b, "</title>");
    if (others)
        rpt_printf(b, "%zu other hosts", m->nhosts - lane);
    else
        rpt_text(b, m->hosts[lane].name, 22);
    rpt_printf(b, " (%zu)</text>\n", n);
}

static void lanes(rpt_page *b, const rpt_model *m, const size_t *row, size_t nrows, int width) {
    for (size_t l = 0; l < m->nlanes; l++) {
        if (row[l] == SIZE_MAX)
            continue;
        int y = TOP + (int)row[l] * LANE;
        if (row[l] % 2 == 0)
            rpt_printf(b, "<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#f4f5f9\"/>", y,
                       width, LANE);
        lane_label(b, m, l, y + LANE / 2);
    }
    (void)nrows;
}

/* x of t in a segment drawn over [x0, x0 + w]. */
static double xof(const rpt_seg *s, int64_t t, double x0, double w) {
    if (s->hi <= s->lo)
        return x0 + w / 2;
    return x0 + 6 + (w - 12) * (double)(t - s->lo) / (double)(s->hi - s->lo);
}

static void overview(rpt_page *b, const rpt_model *m, const mark *k, size_t nk, const rpt_seg *seg,
                     size_t nseg) {
    int h = TOP + (int)m->nlanes * LANE + BOTTOM;
    double w = ((double)(W - LEFT - RIGHT) - GAPW * (double)(nseg - 1)) / (double)nseg;
    size_t *row = esc_malloc((m->nlanes + 1) * sizeof *row);
    if (!row) {
        b->st = b->st ? b->st : ESC_ENOMEM;
        return;
    }
    for (size_t l = 0; l < m->nlanes; l++)
        row[l] = l;
    rpt_printf(b,
               "<svg id=\"timeline-overview\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "role=\"img\">\n",
               W, h, W, h);
    lanes(b, m, row, m->nlanes, W);
    size_t j = 0, stride = (size_t)(110 / (w + GAPW)) + 1;
    for (size_t s = 0; s < nseg; s++) {
        double x0 = LEFT + (double)s * (w + GAPW);
        rpt_printf(b,
                   "<a href=\"#seg-%zu\"><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
                   "height=\"%d\" fill=\"none\" stroke=\"#99a\"><title>segment %zu: ",
                   s + 1, x0, TOP - 2, w, h - TOP - BOTTOM + 4, s + 1);
        rpt_time(b, seg[s].lo);
        rpt_puts(b, " to ");
        rpt_time(b, seg[s].hi);
        rpt_printf(b,
                   " (%zu marks; open its detail)</title></rect>"
                   "<text x=\"%.1f\" y=\"16\" font-size=\"11\" fill=\"#334\">%zu</text></a>\n",
                   seg[s].n, x0 + 2, s + 1);
        if (s % stride == 0) { /* a date every stride segments: they take 110 px */
            rpt_printf(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" fill=\"#556\">", x0, h - 8);
            rpt_strftime(b, seg[s].lo, "%Y-%m-%d %H:%M");
            rpt_puts(b, "</text>\n");
        }
        if (s + 1 < nseg) {
            rpt_printf(b,
                       "<text x=\"%.1f\" y=\"%d\" font-size=\"13\" fill=\"#99a\">"
                       "\xE2\x89\x88<title>gap of ",
                       x0 + w + 3, TOP + 12);
            rpt_span(b, seg[s + 1].lo - seg[s].hi);
            rpt_puts(b, "</title></text>\n");
        }
        for (; j < nk && k[j].t <= seg[s].hi; j++)
            draw_mark(b, m, &k[j], xof(&seg[s], k[j].t, x0, w),
                      TOP + (int)m->n[k[j].notable].lane * LANE + LANE / 2);
    }
    rpt_puts(b, "</svg>\n");
    esc_free(row);
}

/* One segment over its own range, with the lanes that have marks in it. */
static void detail(rpt_page *b, const rpt_model *m, const mark *k, size_t nk, const rpt_seg *s,
                   size_t idx) {
    size_t *row = esc_malloc((m->nlanes + 1) * sizeof *row), nrows = 0;
    if (!row) {
        b->st = b->st ? b->st : ESC_ENOMEM;
        return;
    }
    for (size_t l = 0; l < m->nlanes; l++)
        row[l] = SIZE_MAX;
    for (size_t j = 0; j < nk; j++)
        row[m->n[k[j].notable].lane] = 0;
    for (size_t l = 0; l < m->nlanes; l++)
        if (row[l] != SIZE_MAX)
            row[l] = nrows++;
    rpt_printf(b, "<details id=\"seg-%zu\"><summary>Segment %zu: ", idx + 1, idx + 1);
    rpt_time(b, s->lo);
    rpt_puts(b, " to ");
    rpt_time(b, s->hi);
    rpt_puts(b, " (");
    rpt_span(b, s->hi - s->lo);
    rpt_printf(b, ", %zu marks on %zu hosts)</summary>\n", nk, nrows);
    int h = TOP + (int)nrows * LANE + BOTTOM;
    double w = W - LEFT - RIGHT;
    rpt_printf(b, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n", W, h, W,
               h);
    lanes(b, m, row, nrows, W);
    int64_t span = s->hi - s->lo;
    const char *fmt = span < RPT_DAY ? "%H:%M:%S" : "%Y-%m-%d %H:%M";
    for (int t = 0; t <= 4; t++) {
        int64_t at = s->lo + span * t / 4;
        double x = xof(s, at, LEFT, w);
        rpt_printf(b,
                   "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#dde\"/>"
                   "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" fill=\"#556\" "
                   "text-anchor=\"%s\">",
                   x, x, TOP - 4, h - BOTTOM, x, h - 8,
                   t == 0   ? "start"
                   : t == 4 ? "end"
                            : "middle");
        rpt_strftime(b, at, fmt);
        rpt_puts(b, "</text>\n");
        if (span == 0)
            break;
    }
    for (size_t j = 0; j < nk; j++)
        draw_mark(b, m, &k[j], xof(s, k[j].t, LEFT, w),
                  TOP + (int)row[m->n[k[j].notable].lane] * LANE + LANE / 2);
    rpt_puts(b, "</svg></details>\n");
    esc_free(row);
}

esc_status rpt_timeline(rpt_page *b, const rpt_model *m, const esc_report_opts *o,
                        esc_report_stats *st) {
    rpt_puts(b, "<h2 id=\"timeline\">Timeline</h2>\n");
    if (m->nn == 0)
        return rpt_puts(b, "<p>No notables in the store for this window.</p>\n");
    size_t cap = o->max_marks ? o->max_marks : ESC_REPORT_MAX_MARKS, nk, capped;
    mark *k = pick_marks(m, cap, &nk, &capped);
    int64_t *t = esc_malloc((nk + 1) * sizeof *t);
    rpt_seg seg[ESC_REPORT_MAX_SEGMENTS];
    if (!k || !t) {
        esc_free(k);
        esc_free(t);
        return ESC_ENOMEM;
    }
    for (size_t j = 0; j < nk; j++)
        t[j] = k[j].t;
    size_t nseg = rpt_segments(t, nk, 3600, seg, ESC_REPORT_MAX_SEGMENTS);
    if (nk && !nseg) {
        esc_free(k);
        esc_free(t);
        return ESC_ENOMEM;
    }
    st->marks_drawn = nk;
    st->marks_capped = capped;
    rpt_printf(b,
               "<p class=\"muted\">One lane per host (the %d busiest; notables in brackets), "
               "circles are notables at the time of their evidence, bars the evidence events "
               "they reference, coloured by severity: "
               "<span class=\"legend\">",
               ESC_REPORT_MAX_LANES);
    for (int s = 4; s >= 0; s--)
        rpt_printf(b, "<span style=\"background:%s;color:#fff\">%s</span>", COLOR[s], RPT_SEV[s]);
    rpt_printf(b,
               "</span>. The axis is cut where the evidence pauses (&asymp;, at most %d "
               "segments); a segment's number opens it over its own time range.</p>\n",
               ESC_REPORT_MAX_SEGMENTS);
    if (m->untimed)
        rpt_printf(b,
                   "<p class=\"muted\" id=\"untimed\">%zu notables carry no event time "
                   "(no orig_time, firstTime, lastTime or evidence): they are not drawn here "
                   "and are listed under Detections at their firing time.</p>\n",
                   m->untimed);
    if (capped)
        rpt_printf(b,
                   "<p class=\"cap\" id=\"cap-marks\">Timeline cap: %zu marks drawn (cap %zu), "
                   "the most severe notables first; %zu notables are not drawn (they are "
                   "counted in the lanes and listed under Detections).</p>\n",
                   nk, cap, capped);
    if (nseg)
        overview(b, m, k, nk, seg, nseg);
    size_t j = 0;
    for (size_t s = 0; s < nseg; s++) {
        size_t j0 = j;
        while (j < nk && k[j].t <= seg[s].hi)
            j++;
        detail(b, m, k + j0, j - j0, &seg[s], s);
    }
    esc_free(k);
    esc_free(t);
    return ESC_OK;
}
