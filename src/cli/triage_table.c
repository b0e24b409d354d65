/* The hunt table for people when several detections ran (docs/output.md): a summary (one line
 * per detection with rows: severity, name, ATT&CK, hosts, rows, first and last event), then
 * each detection's rows under its own header, detections and rows ordered by their first
 * event, every column fitted to the width and a longer value cut with an ellipsis.
 *
 * Invariants: values go through esc_out_human (no control character reaches the terminal);
 * colour (severity only) is written only when the caller says so (esc_out_color: a terminal,
 * --color, NO_COLOR). Deliberately not done: wrapping values over lines, paging. */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "act/act.h"
#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"

#define MIN_COL 6   /* a column is never cut narrower */
#define GRID_COL 12 /* rows whose columns would be cut narrower are printed vertically */

bool esc_out_color(const char *opt, bool *ok) {
    *ok = true;
    if (!opt || !strcmp(opt, "auto")) {
        const char *nc = getenv("NO_COLOR"); /* https://no-color.org: set and not empty */
        return !(nc && nc[0]) && isatty(STDOUT_FILENO);
    }
    if (!strcmp(opt, "always"))
        return true;
    if (!strcmp(opt, "never"))
        return false;
    *ok = false;
    return false;
}

static const char *sev_color(const char *sev) {
    if (!strcmp(sev, "critical"))
        return "\033[1;31m";
    if (!strcmp(sev, "high"))
        return "\033[31m";
    if (!strcmp(sev, "medium"))
        return "\033[33m";
    if (!strcmp(sev, "low"))
        return "\033[32m";
    return "\033[36m";
}

/* Columns of an escaped text; our own colour codes (ESC [ ... m) take none. */
static size_t width(const char *s) {
    size_t w = 0;
    for (; *s; s++) {
        if (*s == '\033') {
            while (*s && *s != 'm')
                s++;
            if (!*s)
                break;
            continue;
        }
        w += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return w;
}

/* n times c (a space or '-'), a block at a time. */
static void repeat(FILE *f, char c, size_t n) {
    static const char spaces[] = "                                                                ",
                      dashes[] = "----------------------------------------------------------------";
    const char *run = c == ' ' ? spaces : dashes;
    for (size_t k; n; n -= k) {
        k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        fwrite(run, 1, k, f);
    }
}

/* s (already escaped, sw columns wide) in exactly w columns: cut with "…" or padded (no padding
 * when last). */
static void put_fit_w(FILE *f, const char *s, size_t sw, size_t w, bool last) {
    if (sw <= w) {
        fputs(s, f);
        if (!last)
            repeat(f, ' ', w - sw);
        return;
    }
    size_t cols = 0, i = 0;
    bool coloured = false;
    for (; s[i]; i++) {
        if (s[i] == '\033') { /* our colour codes take no column */
            coloured = true;
            while (s[i + 1] && s[i] != 'm')
                i++;
            continue;
        }
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (cols == w - 1)
                break;
            cols++;
        }
    }
    fwrite(s, 1, i, f);
    fputs(coloured ? "\xe2\x80\xa6\033[0m" : "\xe2\x80\xa6", f);
}

/* The widths of cell[0..n) (a NULL cell: 0), measured once; NULL when out of memory. */
static size_t *widths(char *const *cell, size_t n) {
    size_t *cw = esc_malloc((n ? n : 1) * sizeof *cw);
    for (size_t i = 0; cw && i < n; i++)
        cw[i] = cell[i] ? width(cell[i]) : 0;
    return cw;
}

static void put_fit(FILE *f, const char *s, size_t w, bool last) {
    put_fit_w(f, s, width(s), w, last);
}

/* Shrink the widest columns (never the first: severity, time) until the line fits total (2
 * spaces between columns). */
static void fit(size_t *w, size_t n, size_t total) {
    for (;;) {
        size_t sum = n ? 2 * (n - 1) : 0, big = n > 1 ? 1 : 0;
        for (size_t c = 0; c < n; c++) {
            sum += w[c];
            if (c && w[c] > w[big])
                big = c;
        }
        if (sum <= total || w[big] <= MIN_COL)
            return;
        w[big]--;
    }
}

/* A grid of escaped texts (nr rows after one header row, cw their widths), fitted and
 * printed. */
static void grid(FILE *f, char **cell, const size_t *cw, size_t nr, size_t nc, size_t total) {
    size_t *w = esc_calloc(nc ? nc : 1, sizeof *w);
    if (!w)
        return;
    for (size_t i = 0; i < (nr + 1) * nc; i++)
        if (cw[i] > w[i % nc])
            w[i % nc] = cw[i];
    fit(w, nc, total);
    for (size_t r = 0; r <= nr; r++) {
        for (size_t c = 0; c < nc; c++) {
            if (c)
                fputs("  ", f);
            const char *v = cell[r * nc + c];
            put_fit_w(f, v ? v : "", cw[r * nc + c], w[c], c + 1 == nc);
        }
        fputc('\n', f);
        if (r == 0) {
            for (size_t c = 0; c < nc; c++) {
                if (c)
                    fputs("  ", f);
                repeat(f, '-', w[c]);
            }
            fputc('\n', f);
        }
    }
    esc_free(w);
}

/* Rows too wide for columns: each row as "name  value" lines, values cut to the width (cw:
 * the cells' widths). */
static void vertical(FILE *f, char **cell, const size_t *cw, size_t nr, size_t nc, size_t total) {
    size_t nw = 0;
    for (size_t c = 0; c < nc; c++)
        nw = cw[c] > nw ? cw[c] : nw;
    if (nw > total / 3)
        nw = total / 3;
    for (size_t r = 1; r <= nr; r++) {
        fprintf(f, "%s-- row %zu\n", r > 1 ? "\n" : "", r);
        for (size_t c = 0; c < nc; c++) {
            const char *v = cell[r * nc + c];
            if (!v || !v[0])
                continue;
            put_fit_w(f, cell[c] ? cell[c] : "", cw[c], nw, false);
            fputs("  ", f);
            put_fit_w(f, v, cw[r * nc + c], total - nw - 2, true);
            fputc('\n', f);
        }
    }
}

static void free_cells(char **cell, size_t n) {
    for (size_t i = 0; cell && i < n; i++)
        esc_free(cell[i]);
    esc_free(cell);
}

static void short_time(int64_t us, char out[24]) {
    time_t tt = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 24, "%Y-%m-%d %H:%M:%S", &tm);
}

/* First and last evidence time of a row (false: none). */
static bool row_span(const esc_table *t, size_t row, int64_t *lo, int64_t *hi) {
    if (!t->evidence || !t->evidence[row].n)
        return false;
    *lo = t->evidence[row].refs[0].time_us;
    *hi = t->evidence[row].refs[t->evidence[row].n - 1].time_us;
    return true;
}

typedef struct det_info {
    const esc_result *r;
    bool has;
    int64_t first, last;
    size_t hosts;
} det_info;

static int cmp_det(const void *x, const void *y) {
    const det_info *a = x, *b = y;
    if (a->has != b->has)
        return a->has ? -1 : 1;
    if (a->has && a->first != b->first)
        return a->first < b->first ? -1 : 1;
    return strcmp(a->r->d->name, b->r->d->name);
}

static int cmp_text(const void *x, const void *y) {
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The distinct first values of the dest column (sorted, then counted: rows can be many). */
static size_t count_hosts(const esc_table *t) {
    int c = esc_table_col(t, "dest");
    const char **v = c >= 0 && t->nrows ? esc_malloc(t->nrows * sizeof *v) : NULL;
    size_t n = 0, hosts = 0;
    if (!v)
        return 0;
    for (size_t r = 0; r < t->nrows; r++) {
        const esc_cell *a = esc_table_cell(t, r, (size_t)c);
        if (a->n)
            v[n++] = a->v[0];
    }
    qsort(v, n, sizeof *v, cmp_text);
    for (size_t i = 0; i < n; i++)
        hosts += !i || strcmp(v[i - 1], v[i]) != 0;
    esc_free(v);
    return hosts;
}

static char *mitre_text(const esc_detection *d) {
    esc_buf b;
    esc_buf_init(&b, 0);
    for (size_t i = 0; i < d->mitre_attack_id.n; i++) {
        if (i)
            esc_buf_append_c(&b, " ");
        esc_buf_append_c(&b, d->mitre_attack_id.v[i]);
    }
    char *s = esc_buf_take(&b);
    return s ? s : esc_strdup("");
}

static void summary(FILE *f, const det_info *di, size_t n, bool color, size_t total) {
    static const char *const H[] = {"severity", "detection", "att&ck", "hosts",
                                    "rows",     "first",     "last"};
    enum { NC = 7 };
    char **cell = esc_calloc((n + 1) * NC, sizeof *cell);
    if (!cell)
        return;
    for (size_t c = 0; c < NC; c++)
        cell[c] = esc_strdup(H[c]);
    for (size_t i = 0; i < n; i++) {
        char **row = &cell[(i + 1) * NC], num[32], t1[24] = "", t2[24] = "";
        const esc_detection *d = di[i].r->d;
        const char *sev = esc_act_severity(esc_act_score(d));
        row[0] = esc_strdup(sev);
        row[1] = esc_out_human_dup(d->name);
        row[2] = mitre_text(d);
        snprintf(num, sizeof num, "%zu", di[i].hosts);
        row[3] = esc_strdup(num);
        snprintf(num, sizeof num, "%zu", di[i].r->t->nrows);
        row[4] = esc_strdup(num);
        if (di[i].has) {
            short_time(di[i].first, t1);
            short_time(di[i].last, t2);
        }
        row[5] = esc_strdup(t1);
        row[6] = esc_strdup(t2);
    }
    if (color) { /* the severity coloured (the codes take no columns) */
        for (size_t i = 0; i < n; i++) {
            const char *sev = cell[(i + 1) * NC];
            size_t len = strlen(sev) + 16;
            char *c = esc_malloc(len);
            if (c) {
                snprintf(c, len, "%s%s\033[0m", sev_color(sev), sev);
                esc_free(cell[(i + 1) * NC]);
                cell[(i + 1) * NC] = c;
            }
        }
    }
    size_t *cw = widths(cell, (n + 1) * NC);
    if (cw)
        grid(f, cell, cw, n, NC, total);
    esc_free(cw);
    free_cells(cell, (n + 1) * NC);
}

/* The rows in the order of their first event (rows with events first, ties in table order). */
typedef struct row_order {
    bool has;
    int64_t lo;
    size_t row;
} row_order;

static int cmp_row_order(const void *x, const void *y) {
    const row_order *a = x, *b = y;
    if (a->has != b->has)
        return a->has ? -1 : 1;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

/* One detection's rows, ordered by their first event, under a header line. */
static void section(FILE *f, const det_info *di, bool color, size_t total) {
    const esc_table *t = di->r->t;
    const esc_detection *d = di->r->d;
    size_t nc = t->ncols + 1, nr = t->nrows;
    const char *sev = esc_act_severity(esc_act_score(d));
    char *name = esc_out_human_dup(d->name), *m = mitre_text(d);
    char *head = NULL;
    size_t hlen = 0;
    FILE *hm = open_memstream(&head, &hlen);
    if (hm) {
        fprintf(hm, "== %s (%s%s%s%s%s, %zu row%s) ==", name ? name : "",
                color ? sev_color(sev) : "", sev, color ? "\033[0m" : "", m && m[0] ? ", " : "",
                m ? m : "", nr, nr == 1 ? "" : "s");
        fclose(hm);
        fputc('\n', f);
        put_fit(f, head ? head : "", total, true);
        fputc('\n', f);
        free(head);
    }
    esc_free(name);
    esc_free(m);
    size_t *ord = esc_calloc(nr ? nr : 1, sizeof *ord);
    char **cell = esc_calloc((nr + 1) * nc, sizeof *cell);
    if (!ord || !cell)
        goto out;
    row_order *ro = esc_malloc((nr ? nr : 1) * sizeof *ro);
    if (!ro)
        goto out;
    for (size_t r = 0; r < nr; r++) {
        int64_t lo = 0, hi;
        bool has = row_span(t, r, &lo, &hi);
        ro[r] = (row_order){has, has ? lo : 0, r};
    }
    qsort(ro, nr, sizeof *ro, cmp_row_order);
    for (size_t r = 0; r < nr; r++)
        ord[r] = ro[r].row;
    esc_free(ro);
    cell[0] = esc_strdup("time");
    for (size_t c = 1; c < nc; c++)
        cell[c] = esc_out_human_dup(t->cols[c - 1]);
    for (size_t i = 0; i < nr; i++) {
        char ts[24] = "";
        int64_t lo, hi;
        if (row_span(t, ord[i], &lo, &hi))
            short_time(lo, ts);
        cell[(i + 1) * nc] = esc_strdup(ts);
        for (size_t c = 1; c < nc; c++) {
            char *v = esc_out_cell_text(esc_table_cell(t, ord[i], c - 1), ", ");
            cell[(i + 1) * nc + c] = v ? esc_out_human_dup(v) : NULL;
            esc_free(v);
        }
    }
    size_t *cw = widths(cell, (nr + 1) * nc);
    if (!cw)
        goto out;
    size_t need = 0; /* the width with every column at its natural width, or GRID_COL */
    for (size_t c = 0; c < nc; c++) {
        size_t w = 0;
        for (size_t r = 0; r <= nr; r++)
            w = cw[r * nc + c] > w ? cw[r * nc + c] : w;
        need += (c ? 2 : 0) + (c && w > GRID_COL ? GRID_COL : w);
    }
    if (need <= total)
        grid(f, cell, cw, nr, nc, total);
    else
        vertical(f, cell, cw, nr, nc, total);
    esc_free(cw);
out:
    free_cells(cell, (nr + 1) * nc);
    esc_free(ord);
}

static size_t term_width(FILE *f) {
    struct winsize ws;
    if (isatty(fileno(f)) && ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    long v = c ? strtol(c, NULL, 10) : 0;
    return v >= 40 && v <= 10000 ? (size_t)v : 160;
}

void esc_out_people(FILE *f, const esc_result *r, size_t n, bool color, size_t total) {
    det_info *di = esc_calloc(n ? n : 1, sizeof *di);
    size_t nd = 0;
    if (!di)
        return;
    if (!total)
        total = term_width(f);
    for (size_t i = 0; i < n; i++) {
        if (!r[i].t->nrows)
            continue;
        det_info d = {&r[i], false, 0, 0, count_hosts(r[i].t)};
        for (size_t row = 0; row < r[i].t->nrows; row++) {
            int64_t lo, hi;
            if (!row_span(r[i].t, row, &lo, &hi))
                continue;
            if (!d.has || lo < d.first)
                d.first = lo;
            if (!d.has || hi > d.last)
                d.last = hi;
            d.has = true;
        }
        di[nd++] = d;
    }
    qsort(di, nd, sizeof *di, cmp_det);
    if (nd)
        summary(f, di, nd, color, total);
    for (size_t i = 0; i < nd; i++)
        section(f, &di[i], color, total);
    esc_free(di);
}
