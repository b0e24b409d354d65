/* Detections: one row per detection that fired (notables, hosts, first and last seen,
 * techniques), sortable and filterable, then each detection's notables with their fields and
 * evidence references.
 *
 * An evidence reference is shown as text: the input, the EVTX record id, the byte offset or the
 * line, the event's time, and "PATH:OFFSET" ready to copy (the form `escudo dump` takes to show
 * the raw event). A store whose notables carry no evidence shows the fields alone.
 *
 * Invariants: at most ESC_REPORT_ROWS_PER_DETECTION rows per detection and max_rows
 * (ESC_REPORT_MAX_ROWS) in all, earliest first; what is left out is counted where it would have
 * been. Deliberately not done: the raw events themselves (the store keeps references, not
 * events). */
#include <string.h>

#include "core/timeutil.h"
#include "report/model.h"

static void summary_table(rpt_page *b, const rpt_model *m) {
    rpt_puts(b, "<p><input type=\"search\" data-filter=\"det-table\" placeholder=\"filter "
                "detections\" aria-label=\"filter detections\"></p>\n"
                "<table class=\"sortable\" id=\"det-table\"><thead><tr><th>detection</th>"
                "<th>severity</th><th>notables</th><th>hosts</th><th>first seen</th>"
                "<th>last seen</th><th>ATT&amp;CK</th></tr></thead><tbody>\n");
    for (size_t d = 0; d < m->ndets; d++) {
        const rpt_det *x = &m->dets[d];
        const rpt_notable *n0 = &m->n[x->rows[0]];
        rpt_printf(b, "<tr><td><a href=\"#det-%zu\">", d + 1);
        rpt_text(b, x->title, 200);
        rpt_printf(b, "</a></td><td data-v=\"%d\" class=\"sev-%s\">", x->sev,
                   x->sev >= 0 ? RPT_SEV[x->sev] : "other");
        rpt_puts(b, x->sev >= 0 ? RPT_SEV[x->sev] : "other");
        rpt_printf(b,
                   "</td><td class=\"n det-n\" data-v=\"%zu\">%zu</td><td class=\"n\" "
                   "data-v=\"%zu\">%zu</td><td data-v=\"%lld\">",
                   x->n, x->n, x->nhosts, x->nhosts, (long long)x->first);
        rpt_time(b, x->first);
        rpt_printf(b, "</td><td data-v=\"%lld\">", (long long)x->last);
        rpt_time(b, x->last);
        rpt_puts(b, "</td><td>");
        for (size_t k = 0; k < n0->ntechs && k < 6; k++) {
            rpt_puts(b, k ? " " : "");
            rpt_text(b, n0->techs[k], 40);
        }
        rpt_puts(b, "</td></tr>\n");
    }
    rpt_puts(b, "</tbody></table>\n");
}

static void evidence(rpt_page *b, const rpt_notable *n) {
    if (n->nev == 0) {
        rpt_puts(b, "<span class=\"muted\">none stored</span>");
        return;
    }
    for (size_t e = 0; e < n->nev; e++) {
        const rpt_ev *v = &n->ev[e];
        rpt_puts(b, "<div class=\"ev\">");
        rpt_time(b, v->time);
        rpt_puts(b, " <code>");
        rpt_text(b, v->path, ESC_REPORT_MAX_VALUE);
        if (v->has_offset)
            rpt_printf(b, ":%llu", (unsigned long long)v->offset);
        else if (v->has_line)
            rpt_printf(b, " line %llu", (unsigned long long)v->line);
        rpt_puts(b, "</code>");
        if (v->has_record)
            rpt_printf(b, " record %llu", (unsigned long long)v->record_id);
        rpt_puts(b, "</div>");
    }
    if (n->ev_total > n->nev)
        rpt_printf(b, "<div class=\"muted\">%zu of %llu events shown</div>", n->nev,
                   (unsigned long long)n->ev_total);
}

static void notable_row(rpt_page *b, const rpt_notable *n) {
    rpt_printf(b, "<tr><td data-v=\"%lld\">", (long long)n->etime);
    rpt_time(b, n->etime);
    rpt_puts(b, "</td><td>");
    rpt_text(b, n->host, ESC_REPORT_MAX_VALUE);
    rpt_puts(b, "</td><td>");
    rpt_text(b, n->user ? n->user : "", ESC_REPORT_MAX_VALUE);
    rpt_puts(b, "</td><td>");
    rpt_text(b, n->status ? n->status : "", 40);
    rpt_puts(b, "</td><td class=\"kv\">");
    if (n->incident)
        rpt_printf(b, "<b>risk score</b> %lld<br>", (long long)n->risk_score);
    for (size_t f = 0; f < n->nfields; f++) {
        rpt_puts(b, "<b>");
        rpt_text(b, n->fields[f].name, 80);
        rpt_puts(b, "</b> ");
        rpt_text(b, n->fields[f].value, ESC_REPORT_MAX_VALUE);
        rpt_puts(b, "<br>");
    }
    rpt_puts(b, "</td><td>");
    evidence(b, n);
    rpt_puts(b, "</td><td class=\"mono\">");
    rpt_text(b, n->id, 12);
    rpt_puts(b, "</td></tr>\n");
}

esc_status rpt_detections(rpt_page *b, const rpt_model *m, const esc_report_opts *o,
                          esc_report_stats *st) {
    rpt_puts(b, "<h2 id=\"detections\">Detections</h2>\n");
    if (m->ndets == 0)
        return rpt_puts(b, "<p>No detection fired in this window.</p>\n");
    size_t cap = o->max_rows ? o->max_rows : ESC_REPORT_MAX_ROWS, listed = 0;
    summary_table(b, m);
    size_t capped_total = 0;
    for (size_t d = 0; d < m->ndets; d++) {
        const rpt_det *x = &m->dets[d];
        size_t room = cap > listed ? cap - listed : 0;
        size_t k = x->n < ESC_REPORT_ROWS_PER_DETECTION ? x->n : ESC_REPORT_ROWS_PER_DETECTION;
        k = k < room ? k : room;
        rpt_printf(b, "<details id=\"det-%zu\"><summary>", d + 1);
        rpt_text(b, x->title, 200);
        rpt_printf(b, " &mdash; %zu notables</summary>\n<p class=\"muted\">search_name ", x->n);
        rpt_text(b, x->search, ESC_REPORT_MAX_VALUE);
        rpt_puts(b, "</p>\n");
        if (k < x->n)
            rpt_printf(b,
                       "<p class=\"cap\">Row cap: the first %zu of %zu notables are listed "
                       "(at most %d per detection, %zu in all).</p>\n",
                       k, x->n, ESC_REPORT_ROWS_PER_DETECTION, cap);
        rpt_puts(b, "<table class=\"sortable\"><thead><tr><th>event time</th><th>host"
                    "</th><th>user</th><th>status</th><th>fields</th><th>evidence</th>"
                    "<th>event_id</th></tr></thead><tbody>\n");
        for (size_t i = 0; i < k; i++)
            notable_row(b, &m->n[x->rows[i]]);
        rpt_puts(b, "</tbody></table></details>\n");
        listed += k;
        capped_total += x->n - k;
    }
    st->rows_listed = listed;
    st->rows_capped = capped_total;
    if (capped_total)
        rpt_printf(b,
                   "<p class=\"cap\" id=\"cap-rows\">Row cap: %zu notable rows listed, "
                   "%zu not listed (at most %d per detection, %zu in all); they are counted "
                   "in the summary, the table above and the ATT&amp;CK grid.</p>\n",
                   listed, capped_total, ESC_REPORT_ROWS_PER_DETECTION, cap);
    return ESC_OK;
}
