/* Hunt output for several detections at once (docs/output.md): rows with their evidence,
 * the timeline, CSV under one header, and the table for people.
 *
 * Invariants: every format here has one fixed set of columns for the whole output (the
 * timeline's are fixed, the CSV header is the union of the detections' columns, each row
 * placed under its own names); times are UTC ISO 8601 with microseconds; machine formats keep
 * exact values, the table for people escapes control characters and cuts long values with an
 * ellipsis. Deliberately not done: reading the events behind a reference (`escudo dump --at`
 * does), colour anywhere but the table on a terminal. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "act/act.h"
#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"

/* ---- pieces ---- */

static void iso_time(int64_t us, char out[40]) {
    int64_t sec = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        sec--;
    }
    time_t tt = (time_t)sec;
    struct tm tm;
    gmtime_r(&tt, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%06dZ", (int)frac);
}

static void ref_text(const esc_evref *e, esc_buf *b) {
    esc_buf_clear(b);
    esc_buf_append_c(b, e->path);
    esc_buf_printf(b, ":%llu", (unsigned long long)e->offset);
}

static const esc_row_evidence *row_ev(const esc_table *t, size_t row) {
    static const esc_row_evidence none = {0, 0, NULL};
    return t->evidence ? &t->evidence[row] : &none;
}

static const char *severity(const esc_detection *d) {
    return esc_act_severity(esc_act_score(d));
}

static void json_kv(FILE *f, const char *k, const char *v) {
    fputs(", ", f);
    esc_out_json_string(f, k, strlen(k));
    fputs(": ", f);
    esc_out_json_string(f, v, strlen(v));
}

static void json_strlist(FILE *f, const char *k, esc_strlist l) {
    fprintf(f, ", \"%s\": [", k);
    for (size_t i = 0; i < l.n; i++) {
        if (i)
            fputs(", ", f);
        esc_out_json_string(f, l.v[i], strlen(l.v[i]));
    }
    fputc(']', f);
}

static void json_ref(FILE *f, const esc_evref *e, esc_buf *b) {
    char ts[40];
    iso_time(e->time_us, ts);
    fputs("{\"_time\": ", f);
    esc_out_json_string(f, ts, strlen(ts));
    fputs(", \"source\": ", f);
    esc_out_json_string(f, e->path, strlen(e->path));
    fprintf(f, ", \"offset\": %llu", (unsigned long long)e->offset);
    if (e->record_id)
        fprintf(f, ", \"record_id\": %llu", (unsigned long long)e->record_id);
    if (e->line)
        fprintf(f, ", \"line\": %llu", (unsigned long long)e->line);
    ref_text(e, b);
    fputs(", \"ref\": ", f);
    esc_out_json_string(f, b->ptr, b->len);
    fputc('}', f);
}

/* ---- JSON rows with evidence ---- */

void esc_out_evidence_json(FILE *f, const esc_result *r, size_t n) {
    esc_buf b;
    esc_buf_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        const esc_table *t = r[i].t;
        for (size_t row = 0; row < t->nrows; row++) {
            fputs("{\"search_name\": ", f);
            esc_out_json_string(f, r[i].search_name, strlen(r[i].search_name));
            for (size_t c = 0; c < t->ncols; c++) {
                const esc_cell *cell = esc_table_cell(t, row, c);
                if (cell->n == 0 && !t->mv_col[c])
                    continue;
                fputs(", ", f);
                esc_out_json_string(f, t->cols[c], strlen(t->cols[c]));
                fputs(": ", f);
                esc_out_json_cell(f, cell, t->mv_col[c]);
            }
            json_kv(f, "detection_id", r[i].d->id ? r[i].d->id : "");
            json_kv(f, "severity", severity(r[i].d));
            fprintf(f, ", \"risk_score\": %d", esc_act_score(r[i].d));
            json_strlist(f, "mitre_attack_id", r[i].d->mitre_attack_id);
            const esc_row_evidence *e = row_ev(t, row);
            fprintf(f, ", \"evidence_count\": %llu, \"evidence\": [", (unsigned long long)e->total);
            for (size_t k = 0; k < e->n; k++) {
                if (k)
                    fputs(", ", f);
                json_ref(f, &e->refs[k], &b);
            }
            fputs("]}\n", f);
        }
    }
    esc_buf_fini(&b);
}

/* ---- timeline ---- */

typedef struct tl_line {
    const esc_result *res;
    size_t row;
    const esc_evref *ev; /* NULL: a row without evidence */
} tl_line;

static int cmp_line(const void *x, const void *y) {
    const tl_line *a = x, *b = y;
    if (!a->ev != !b->ev)
        return a->ev ? 1 : -1; /* rows without a time first */
    if (a->ev && b->ev && a->ev->time_us != b->ev->time_us)
        return a->ev->time_us < b->ev->time_us ? -1 : 1;
    int c = strcmp(a->res->d->name, b->res->d->name);
    if (c)
        return c;
    if (a->row != b->row)
        return a->row < b->row ? -1 : 1;
    return a->ev && b->ev ? esc_evref_cmp(a->ev, b->ev) : 0;
}

static const char *const TL_COLS[] = {
    "_time",  "detection", "detection_id", "severity",       "risk_score", "mitre_attack_id",
    "host",   "user",      "details",      "evidence_total", "row",        "ref",
    "source", "record_id", "offset",       "line",
};
#define TL_NCOLS (sizeof TL_COLS / sizeof TL_COLS[0])

/* The cell of column name joined by sep, or "" (esc_malloc'd). */
static char *named(const esc_table *t, size_t row, const char *name, const char *sep) {
    int c = esc_table_col(t, name);
    return c < 0 ? esc_strdup("") : esc_out_cell_text(esc_table_cell(t, row, (size_t)c), sep);
}

/* Hayabusa's Details: "name: value ¦ name: value" over the row's other columns. */
static char *details(const esc_table *t, size_t row) {
    esc_buf b;
    esc_buf_init(&b, 0);
    for (size_t c = 0; c < t->ncols; c++) {
        const esc_cell *cell = esc_table_cell(t, row, c);
        if (!cell->n || !strcmp(t->cols[c], "dest") || !strcmp(t->cols[c], "user"))
            continue;
        char *v = esc_out_cell_text(cell, ", ");
        if (b.len)
            esc_buf_append_c(&b, " \xc2\xa6 ");
        esc_buf_append_c(&b, t->cols[c]);
        esc_buf_append_c(&b, ": ");
        esc_buf_append_c(&b, v ? v : "");
        esc_free(v);
    }
    char *s = esc_buf_take(&b);
    return s ? s : esc_strdup("");
}

/* The 16 values of a timeline line as text (esc_malloc'd); mitre joined by sep. */
static void tl_values(const tl_line *l, char **v, const char *sep) {
    const esc_detection *d = l->res->d;
    const esc_table *t = l->res->t;
    char buf[64];
    esc_buf b;
    esc_buf_init(&b, 0);
    if (l->ev)
        iso_time(l->ev->time_us, buf);
    v[0] = esc_strdup(l->ev ? buf : "");
    v[1] = esc_strdup(d->name);
    v[2] = esc_strdup(d->id ? d->id : "");
    v[3] = esc_strdup(severity(d));
    snprintf(buf, sizeof buf, "%d", esc_act_score(d));
    v[4] = esc_strdup(buf);
    for (size_t i = 0; i < d->mitre_attack_id.n; i++) {
        if (i)
            esc_buf_append_c(&b, sep);
        esc_buf_append_c(&b, d->mitre_attack_id.v[i]);
    }
    v[5] = esc_buf_take(&b);
    v[6] = named(t, l->row, "dest", " ");
    v[7] = named(t, l->row, "user", " ");
    v[8] = details(t, l->row);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)row_ev(t, l->row)->total);
    v[9] = esc_strdup(buf);
    snprintf(buf, sizeof buf, "%zu", l->row);
    v[10] = esc_strdup(buf);
    esc_buf_init(&b, 0);
    if (l->ev)
        ref_text(l->ev, &b);
    v[11] = esc_buf_take(&b);
    v[12] = esc_strdup(l->ev ? l->ev->path : "");
    snprintf(buf, sizeof buf, "%llu", l->ev ? (unsigned long long)l->ev->record_id : 0ULL);
    v[13] = esc_strdup(l->ev && l->ev->record_id ? buf : "");
    snprintf(buf, sizeof buf, "%llu", l->ev ? (unsigned long long)l->ev->offset : 0ULL);
    v[14] = esc_strdup(l->ev ? buf : "");
    snprintf(buf, sizeof buf, "%llu", l->ev ? (unsigned long long)l->ev->line : 0ULL);
    v[15] = esc_strdup(l->ev && l->ev->line ? buf : "");
    for (size_t i = 0; i < TL_NCOLS; i++)
        if (!v[i])
            v[i] = esc_strdup("");
}

static void tl_json(FILE *f, const tl_line *l, char **v) {
    static const bool num[TL_NCOLS] = {
        [4] = true, [9] = true, [10] = true, [13] = true, [14] = true, [15] = true};
    fputc('{', f);
    for (size_t i = 0; i < TL_NCOLS; i++) {
        if (i)
            fputs(", ", f);
        fprintf(f, "\"%s\": ", TL_COLS[i]);
        if (i == 5) {
            const esc_strlist *m = &l->res->d->mitre_attack_id;
            fputc('[', f);
            for (size_t k = 0; k < m->n; k++) {
                if (k)
                    fputs(", ", f);
                esc_out_json_string(f, m->v[k], strlen(m->v[k]));
            }
            fputc(']', f);
        } else if (num[i]) {
            fputs(v[i] && v[i][0] ? v[i] : "null", f);
        } else {
            esc_out_json_string(f, v[i] ? v[i] : "", v[i] ? strlen(v[i]) : 0);
        }
    }
    fputs("}\n", f);
}

void esc_out_timeline(FILE *f, bool csv, const esc_result *r, size_t n) {
    size_t nl = 0, cap = 0;
    tl_line *L = NULL;
    for (size_t i = 0; i < n; i++)
        for (size_t row = 0; row < r[i].t->nrows; row++) {
            const esc_row_evidence *e = row_ev(r[i].t, row);
            for (size_t k = 0; k < (e->n ? e->n : 1); k++) {
                if (nl == cap && !ESC_VEC_GROW(L, cap, nl + 1, 256))
                    goto out;
                L[nl++] = (tl_line){&r[i], row, e->n ? &e->refs[k] : NULL};
            }
        }
    if (nl)
        qsort(L, nl, sizeof *L, cmp_line);
    if (csv) {
        for (size_t c = 0; c < TL_NCOLS; c++)
            fprintf(f, "%s%s", c ? "," : "", TL_COLS[c]);
        fputs("\r\n", f);
    }
    for (size_t i = 0; i < nl; i++) {
        char *v[TL_NCOLS] = {0};
        tl_values(&L[i], v, csv ? " " : ",");
        if (csv) {
            for (size_t c = 0; c < TL_NCOLS; c++) {
                if (c)
                    fputc(',', f);
                esc_out_csv_field(f, v[c], strlen(v[c]));
            }
            fputs("\r\n", f);
        } else {
            tl_json(f, &L[i], v);
        }
        for (size_t c = 0; c < TL_NCOLS; c++)
            esc_free(v[c]);
    }
out:
    esc_free(L);
}

/* ---- CSV under one header ---- */

void esc_out_csv_union(FILE *f, const esc_result *r, size_t n) {
    size_t nu = 0, cap = 0;
    const char **u = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!r[i].t->nrows)
            continue;
        for (size_t c = 0; c < r[i].t->ncols; c++) {
            size_t k = 0;
            while (k < nu && strcmp(u[k], r[i].t->cols[c]) != 0)
                k++;
            if (k < nu)
                continue;
            if (nu == cap && !ESC_VEC_GROW(u, cap, nu + 1, 32))
                goto out;
            u[nu++] = r[i].t->cols[c];
        }
    }
    fputs("search_name", f);
    for (size_t k = 0; k < nu; k++) {
        fputc(',', f);
        esc_out_csv_field(f, u[k], strlen(u[k]));
    }
    fputs("\r\n", f);
    for (size_t i = 0; i < n; i++)
        for (size_t row = 0; row < r[i].t->nrows; row++) {
            esc_out_csv_field(f, r[i].search_name, strlen(r[i].search_name));
            for (size_t k = 0; k < nu; k++) {
                fputc(',', f);
                int c = esc_table_col(r[i].t, u[k]);
                char *s =
                    c < 0 ? NULL : esc_out_cell_text(esc_table_cell(r[i].t, row, (size_t)c), "\n");
                if (s)
                    esc_out_csv_field(f, s, strlen(s));
                esc_free(s);
            }
            fputs("\r\n", f);
        }
out:
    esc_free(u);
}
