/* The page: escaping, the frame (head, style, script, Content-Security-Policy), the summary,
 * and the entry points that render and write a report.
 *
 * Invariants: every string from the store or the content goes through rpt_text (HTML text and
 * attribute context alike); the page holds no URL and loads nothing: its policy is
 * default-src 'none' with the inline style allowed and the one inline script allowed by its
 * SHA-256 (computed here from the very bytes written). Deliberately not done: templates, any
 * script that draws (charts are SVG written here), any resource outside the file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act/act.h"
#include "core/alloc.h"
#include "core/timeutil.h"
#include "report/model.h"

/* ---- the page ----------------------------------------------------------------------------------
 */

esc_status rpt_bytes(rpt_page *b, const void *p, size_t n) {
    if (b->st == ESC_OK)
        b->st = esc_buf_append(b->buf, p, n);
    return b->st;
}

esc_status rpt_puts(rpt_page *b, const char *s) {
    return rpt_bytes(b, s, strlen(s));
}

esc_status rpt_printf(rpt_page *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (b->st == ESC_OK)
        b->st = esc_buf_vprintf(b->buf, fmt, ap);
    va_end(ap);
    return b->st;
}

esc_status rpt_strftime(rpt_page *b, int64_t t, const char *fmt) {
    if (b->st == ESC_OK)
        b->st = esc_time_format(b->buf, t, fmt);
    return b->st;
}

/* ---- escaping -------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[i] and its code point; 0 when invalid. */
static size_t utf8_at(const unsigned char *s, size_t n, size_t i, unsigned *cp) {
    unsigned c = s[i];
    size_t len = c < 0x80             ? 1
                 : (c & 0xE0) == 0xC0 ? 2
                 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 ? 4
                                      : 0;
    if (!len || i + len > n)
        return 0;
    unsigned v = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    for (size_t k = 1; k < len; k++) {
        if ((s[i + k] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i + k] & 0x3F);
    }
    static const unsigned MIN[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < MIN[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

/* Characters shown as visible escapes: C0 controls, DEL, C1 controls, and the characters that
 * reorder or hide text (bidirectional marks, embeddings, overrides and isolates, line and
 * paragraph separators). */
static bool shown_escaped(unsigned cp) {
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || cp == 0x200E ||
           cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

esc_status rpt_text(rpt_page *b, const char *s, size_t max) {
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)u), lim = max && n > max ? max : n;
    esc_status st = ESC_OK;
    for (size_t i = 0; i < lim && st == ESC_OK;) {
        unsigned cp = 0xFFFD;
        size_t len = utf8_at(u, n, i, &cp);
        const char *lit = NULL;
        char e[16];
        switch (len ? cp : 0xFFFD) {
        case '&':
            lit = "&amp;";
            break;
        case '<':
            lit = "&lt;";
            break;
        case '>':
            lit = "&gt;";
            break;
        case '"':
            lit = "&quot;";
            break;
        case '\'':
            lit = "&#39;";
            break;
        case '\n':
            lit = "\\n";
            break;
        case '\r':
            lit = "\\r";
            break;
        case '\t':
            lit = "\\t";
            break;
        default:
            if (!len)
                lit = "\xEF\xBF\xBD"; /* U+FFFD for a byte that is not UTF-8 */
            else if (shown_escaped(cp)) {
                snprintf(e, sizeof e, cp < 0x80 ? "\\x%02x" : "\\u%04X", cp);
                lit = e;
            }
        }
        st = lit ? rpt_puts(b, lit) : rpt_bytes(b, u + i, len);
        i += len ? len : 1;
    }
    if (st == ESC_OK && lim < n)
        st = rpt_printf(b, "\xE2\x80\xA6 (%zu bytes)", n);
    return st;
}

esc_status rpt_time(rpt_page *b, int64_t t) {
    if (t == INT64_MIN)
        return rpt_puts(b, "-");
    return rpt_strftime(b, t, "%Y-%m-%d %H:%M:%S");
}

esc_status rpt_span(rpt_page *b, int64_t s) {
    if (s < 0)
        s = -s;
    if (s >= 365 * RPT_DAY)
        return rpt_printf(b, "%lld y %lld mo", (long long)(s / (365 * RPT_DAY)),
                          (long long)(s % (365 * RPT_DAY) / (30 * RPT_DAY)));
    if (s >= RPT_DAY)
        return rpt_printf(b, "%lld d %lld h", (long long)(s / RPT_DAY),
                          (long long)(s % RPT_DAY / 3600));
    if (s >= 3600)
        return rpt_printf(b, "%lld h %lld min", (long long)(s / 3600), (long long)(s % 3600 / 60));
    return rpt_printf(b, "%lld min %lld s", (long long)(s / 60), (long long)(s % 60));
}

/* ---- time segments ----------------------------------------------------------------------------
 */

static int cmp_gap(const void *a, const void *b) {
    const int64_t *x = a, *y = b; /* pairs (gap, index): larger gap first, then index */
    if (x[0] != y[0])
        return x[0] > y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

size_t rpt_segments(const int64_t *t, size_t n, int64_t min_gap, rpt_seg *out, size_t max) {
    if (n == 0 || max == 0)
        return 0;
    int64_t thresh = (t[n - 1] - t[0]) / 100;
    thresh = thresh > min_gap ? thresh : min_gap;
    int64_t *gaps = esc_malloc(2 * n * sizeof *gaps), *cuts = esc_malloc(n * sizeof *cuts);
    size_t ng = 0, nc = 0;
    if (!gaps || !cuts) { /* out of memory: no segment, the caller fails */
        esc_free(gaps);
        esc_free(cuts);
        return 0;
    }
    for (size_t i = 1; i < n; i++)
        if (t[i] - t[i - 1] > thresh) {
            gaps[2 * ng] = t[i] - t[i - 1];
            gaps[2 * ng++ + 1] = (int64_t)i;
        }
    qsort(gaps, ng, 2 * sizeof *gaps, cmp_gap);
    for (size_t g = 0; g < ng && nc + 1 < max; g++)
        cuts[nc++] = gaps[2 * g + 1];
    qsort(cuts, nc, sizeof *cuts, cmp_i64);
    size_t k = 0, start = 0;
    for (size_t c = 0; c <= nc; c++) {
        size_t end = c < nc ? (size_t)cuts[c] : n; /* segment [start, end) */
        out[k++] = (rpt_seg){t[start], t[end - 1], end - start};
        start = end;
    }
    esc_free(gaps);
    esc_free(cuts);
    return k;
}

/* ---- the frame --------------------------------------------------------------------------------
 */

static const char STYLE[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 3em;color:#1d232a;background:#fff}"
    "h1{font-size:1.5em;margin:.8em 0 .2em}h2{border-bottom:2px solid #dde;margin-top:1.6em}"
    "nav a{margin-right:1em}table{border-collapse:collapse;margin:.4em 0}"
    "td,th{border:1px solid #ccd;padding:2px 6px;text-align:left;vertical-align:top}"
    "th{background:#f0f1f5}th.s{cursor:pointer}td.n{text-align:right}td[data-v]{white-space:nowrap}"
    ".cap{background:#fff4d6;border-left:4px solid #e0a000;padding:4px 8px;margin:.4em 0}"
    ".muted{color:#667}code,.mono{font-family:ui-monospace,monospace;font-size:12px}"
    ".sev-critical{color:#a0001c}.sev-high{color:#d0461a}.sev-medium{color:#b07b00}"
    ".sev-low{color:#2f6db5}.sev-informational{color:#667}"
    "details{margin:.3em 0}summary{cursor:pointer}svg{display:block;margin:.3em 0}"
    ".grid{display:flex;gap:4px;overflow-x:auto}.tac{min-width:120px;flex:1}"
    ".tac h3{font-size:12px;margin:0 0 4px;background:#334;color:#fff;padding:3px}"
    ".t{font-size:11px;border:1px solid #ccd;margin:2px 0;padding:2px 3px}"
    ".t.fired{background:#f7c6c6;border-color:#c33}.t.ok{background:#dff0dc}"
    ".t.no{background:#eee;color:#889}.legend span{margin-right:1em;padding:0 4px}"
    ".ev{font-size:12px}.kv{font-size:12px}.kv b{font-weight:600}";

/* Sorting (click a header), filtering (an input with data-filter=table id) and opening the
 * section a link points to. Nothing else: the charts are SVG. */
static const char SCRIPT[] =
    "(function(){"
    "function key(r,i){var c=r.cells[i];if(!c)return'';var v=c.getAttribute('data-v');"
    "return v!==null?parseFloat(v):c.textContent.toLowerCase();}"
    "document.querySelectorAll('table.sortable').forEach(function(t){"
    "t.querySelectorAll('th').forEach(function(h,i){h.className='s';"
    "h.addEventListener('click',function(){var b=t.tBodies[0],rs=Array.from(b.rows),"
    "d=h.getAttribute('data-d')==='1'?-1:1;h.setAttribute('data-d',d===1?'1':'0');"
    "rs.sort(function(x,y){var a=key(x,i),c=key(y,i);return a<c?-d:a>c?d:0;});"
    "rs.forEach(function(r){b.appendChild(r);});});});});"
    "document.querySelectorAll('input[data-filter]').forEach(function(f){"
    "f.addEventListener('input',function(){var q=f.value.toLowerCase(),"
    "t=document.getElementById(f.getAttribute('data-filter'));"
    "Array.from(t.tBodies[0].rows).forEach(function(r){"
    "r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});});"
    "function open(){var id=location.hash.slice(1),e=id&&document.getElementById(id);"
    "for(;e;e=e.parentElement)if(e.tagName==='DETAILS')e.open=true;}"
    "window.addEventListener('hashchange',open);open();"
    "document.documentElement.setAttribute('data-script','ran');"
    "})();";

static void base64(const unsigned char *in, size_t n, char *out) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = A[v >> 18 & 63];
        out[o++] = A[v >> 12 & 63];
        out[o++] = i + 1 < n ? A[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? A[v & 63] : '=';
    }
    out[o] = 0;
}

/* 'sha256-...' of the script, as CSP wants it (base64 of the digest). */
static void script_hash(char out[64]) {
    char hex[65];
    unsigned char d[32];
    esc_sha256_hex(SCRIPT, sizeof SCRIPT - 1, hex);
    for (int i = 0; i < 32; i++)
        d[i] = (unsigned char)strtoul((char[]){hex[2 * i], hex[2 * i + 1], 0}, NULL, 16);
    base64(d, 32, out);
}

static esc_status head(rpt_page *b) {
    char h[64];
    script_hash(h);
    return rpt_printf(
        b,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'sha256-%s'; img-src data:; "
        "form-action 'none'; base-uri 'none'\">\n"
        "<meta name=\"referrer\" content=\"no-referrer\">\n"
        "<meta name=\"viewport\" content=\"width=device-width\">\n"
        "<title>escudo report</title>\n<style>%s</style></head><body>\n"
        "<h1>escudo report</h1>\n<nav><a href=\"#summary\">Summary</a><a href=\"#timeline\">"
        "Timeline</a><a href=\"#risk\">Risk</a><a href=\"#attack\">ATT&amp;CK</a>"
        "<a href=\"#detections\">Detections</a></nav>\n",
        h, STYLE);
}

/* A count the tests read from the page: <span id=ID data-count=N>N</span>. */
static esc_status count(rpt_page *b, const char *id, size_t n) {
    return rpt_printf(b, "<span id=\"%s\" data-count=\"%zu\">%zu</span>", id, n, n);
}

static esc_status row_text(rpt_page *b, const char *label, const char *v) {
    rpt_printf(b, "<tr><th>%s</th><td>", label);
    rpt_text(b, v, ESC_REPORT_MAX_VALUE);
    return rpt_puts(b, "</td></tr>\n");
}

static esc_status summary_inputs(rpt_page *b, const esc_report_opts *o) {
    const esc_report_run *r = o->run;
    rpt_puts(b, "<tr><th>store</th><td>");
    rpt_text(b, o->db_path, ESC_REPORT_MAX_VALUE);
    rpt_puts(b, "</td></tr>\n<tr><th>window</th><td>");
    if (o->has_since)
        rpt_time(b, o->since);
    else
        rpt_puts(b, "any time");
    rpt_puts(b, " to ");
    if (o->has_until)
        rpt_time(b, o->until);
    else
        rpt_puts(b, "any time");
    rpt_puts(b, " (notables and risk events by _time)</td></tr>\n");
    if (!r)
        return ESC_OK;
    rpt_puts(b, "<tr><th>inputs</th><td>");
    for (size_t i = 0; i < r->ninputs; i++) {
        if (i)
            rpt_puts(b, "<br>");
        rpt_text(b, r->inputs[i], ESC_REPORT_MAX_VALUE);
    }
    return rpt_printf(b,
                      "<br><span class=\"muted\">%llu files, %.1f MB, %llu events, %llu "
                      "process events</span></td></tr>\n",
                      (unsigned long long)r->files, (double)r->bytes / 1e6,
                      (unsigned long long)r->events, (unsigned long long)r->process_events);
}

static esc_status summary_detections(rpt_page *b, const rpt_model *m, const esc_report_opts *o) {
    rpt_puts(b, "<tr><th>detections</th><td>");
    if (o->content_label) {
        rpt_puts(b, "content ");
        rpt_text(b, o->content_label, ESC_REPORT_MAX_VALUE);
        rpt_puts(b, ": ");
    }
    if (o->lint)
        rpt_printf(b, "%zu loaded, %zu supported by escudo; ", o->lint->n, o->lint->supported);
    if (o->run)
        rpt_printf(b, "%zu run, %zu skipped; ", o->run->detections_run, o->run->detections_skipped);
    rpt_puts(b, "");
    count(b, "n-detections-fired", m->ndets);
    return rpt_puts(b, " fired</td></tr>\n");
}

static esc_status summary(rpt_page *b, const rpt_model *m, const esc_report_opts *o) {
    rpt_puts(b, "<h2 id=\"summary\">Summary</h2>\n<table>\n<tr><th>generated</th><td>");
    rpt_time(b, o->generated);
    rpt_puts(b, esc_time_zone_is_utc() ? " UTC" : " (local zone)");
    rpt_puts(b, "</td></tr>\n");
    summary_inputs(b, o);
    rpt_puts(b, "<tr><th>evidence span</th><td>");
    if (m->any_time) {
        rpt_time(b, m->tmin);
        rpt_puts(b, " to ");
        rpt_time(b, m->tmax);
        rpt_puts(b, " (");
        rpt_span(b, m->tmax - m->tmin);
        rpt_puts(b, ")");
    } else
        rpt_puts(b, "no notables");
    rpt_puts(b, "</td></tr>\n<tr><th>hosts</th><td>");
    count(b, "n-hosts", m->nhosts);
    rpt_puts(b, "</td></tr>\n");
    summary_detections(b, m, o);
    rpt_puts(b, "<tr><th>notables</th><td>");
    count(b, "n-notables", m->nn);
    rpt_puts(b, " (");
    count(b, "n-incidents", m->incidents);
    rpt_puts(b, " risk threshold notables); ");
    rpt_printf(b, "%zu with evidence references<br>", m->with_evidence);
    for (int s = 4; s >= 0; s--) {
        char id[32];
        snprintf(id, sizeof id, "n-sev-%s", RPT_SEV[s]);
        rpt_printf(b, "<span class=\"sev-%s\">%s</span> ", RPT_SEV[s], RPT_SEV[s]);
        count(b, id, m->nsev[s]);
        rpt_puts(b, " &middot; ");
    }
    rpt_puts(b, "other ");
    count(b, "n-sev-other", m->nsev_unknown);
    rpt_puts(b, "</td></tr>\n<tr><th>risk events</th><td>");
    count(b, "n-risk-events", m->nr);
    rpt_puts(b, "</td></tr>\n");
    if (m->with_evidence == 0 && m->nn)
        row_text(b, "evidence",
                 "the store's notables carry no evidence references (a store "
                 "written before escudo kept them); rows show their fields only");
    return rpt_puts(b, "</table>\n");
}

esc_status esc_report_render(const esc_report_opts *o, esc_buf *out, esc_report_stats *stats,
                             esc_error *err) {
    rpt_model m;
    esc_report_stats st;
    memset(&st, 0, sizeof st);
    esc_status s = rpt_model_load(&m, o, err);
    if (s)
        goto out;
    st.notables = m.nn;
    st.incidents = m.incidents;
    st.risk_events = m.nr;
    st.hosts = m.nhosts;
    st.detections_fired = m.ndets;
    st.with_evidence = m.with_evidence;
    rpt_page pg = {out, ESC_OK};
    if (!(s = head(&pg)) && !(s = summary(&pg, &m, o)) && !(s = rpt_timeline(&pg, &m, o, &st)) &&
        !(s = rpt_risk_section(&pg, &m)) && !(s = rpt_attack(&pg, &m, o)) &&
        !(s = rpt_detections(&pg, &m, o, &st)))
        s = rpt_printf(&pg,
                       "<p class=\"muted\">Made by escudo %s. This page loads nothing: "
                       "no network, no external script, style or font.</p>\n"
                       "<script>%s</script>\n</body></html>\n",
                       ESC_VERSION, SCRIPT);
    /* the sections bound what they write (caps above); a page past the cap anyway, or an
     * append that failed (pg.st), fails the whole report rather than leaving a page with a
     * hole */
    s = s ? s : pg.st;
    if (!s && out->len > ESC_REPORT_MAX_BYTES)
        s = ESC_ELIMIT;
    if (s)
        esc_error_set(err, s,
                      s == ESC_ELIMIT ? "the report would pass %u bytes"
                                      : "out of memory writing the report",
                      ESC_REPORT_MAX_BYTES);
    st.risk_objects = m.nobjects;
out:
    rpt_model_fini(&m);
    if (stats)
        *stats = st;
    return s;
}

esc_status esc_report_write(const esc_report_opts *o, const char *path, esc_report_stats *stats,
                            esc_error *err) {
    esc_buf b;
    esc_buf_init(&b, 0);
    esc_status st = esc_report_render(o, &b, stats, err);
    char tmp[4200];
    FILE *f = NULL;
    if (st)
        goto out;
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    if (!(f = fopen(tmp, "wb"))) {
        st = esc_error_set(err, ESC_EIO, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    bool ok = fwrite(b.ptr, 1, b.len, f) == b.len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        st = esc_error_set(err, ESC_EIO, "cannot write %s: %s", path, strerror(errno));
        remove(tmp);
    }
out:
    esc_buf_fini(&b);
    return st;
}
