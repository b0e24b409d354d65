/* Notables, risk events and the 24-hour risk incident rule (SPEC section 6), from content.
 *
 * For each result row: one notable (when the detection's deployment has alert_action.notable)
 * and one risk event per value of each Victim observable field (when alert_action.rba is
 * enabled), values `unknown` excepted. Identities are SHA-256 of the row's window and BY values,
 * so the same row of the same window always gets the same event_id. Events are rendered once as
 * JSON (key order in docs/actions.md) and handed to the sinks; a risk event also as fields, for
 * a sink that would read its JSON back (the risk stage). What every event of an input shares
 * (the annotations, which columns an event writes, the columns' keys) is worked out once per
 * input (struct shape), not per row.
 *
 * Invariants: nothing here names a detection or a field of one; every event is bounded by
 * ESC_ACT_MAX_EVENT bytes (a larger one is an error for that event alone) and the run keeps at
 * most ESC_ACT_MAX_POINTS risk points for the incident rule. Deliberately not done: asset and
 * identity correlation (priorities are unknown, as SPEC says), notable suppression, throttling. */
#include "act/act.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/fmt.h"
#include "core/timeutil.h"
#include "sink/sink.h"

#define ESC_ACT_MAX_EVENT (16u << 20)
#define ESC_ACT_MAX_POINTS 50000000u
#define ESC_ACT_MAX_TOKEN 256
#define INCIDENT_RULE "Risk - 24 Hour Risk Threshold Exceeded - Rule"
#define DAY 86400

/* A risk event is offered to the sinks as fields beside its JSON (esc_sink_event.fields): its
 * members as a reader of that JSON gets them back, so that a sink wanting fields (the risk
 * stage) need not read the JSON again. The JSON writer (jw) records them as it writes. Where the
 * two could differ the event offers none (`lost`) and such a sink reads the JSON: a column name
 * the JSON escapes (the reader repairs invalid UTF-8 in an escaped key), a number's text that
 * is not JSON's, more values than ACT_MAX_FIELD_VALUES (the reader records at most 65536). */
#define ACT_MAX_FIELD_VALUES 30000

typedef struct evfields {
    esc_sink_field *v;
    size_t n, cap;
    size_t values;   /* members and array elements so far, as the reader counts them */
    esc_arena *text; /* the text of numbers and objects, which the writer formats */
    bool lost;
} evfields;

struct esc_act {
    const esc_content *c;
    esc_sinks *sinks;
    esc_risk_point *pts; /* this run's risk events; strings esc_malloc'd */
    size_t npts, cap;
    size_t max_points; /* ESC_ACT_MAX_POINTS unless a test lowers it */
    int64_t last_search_time;
    esc_act_counts counts;
    bool evidence;  /* notables carry orig_time and their rows' evidence */
    bool risk_only; /* no notables, no risk points kept (esc_act_set_risk_only) */
    /* reused from one event to the next, each at most ESC_ACT_MAX_EVENT bytes */
    esc_buf out;     /* the event's JSON */
    esc_buf sub;     /* a text with its tokens filled (a drilldown's part, a risk message) */
    evfields fields; /* the risk event being made, as fields */
    esc_arena text;  /* fields' text, reset per risk event */
};

/* ---- small pieces ---------------------------------------------------------------------------- */

const char *esc_act_severity(int score) {
    if (score <= 20)
        return "informational";
    if (score <= 40)
        return "low";
    if (score <= 60)
        return "medium";
    if (score <= 80)
        return "high";
    return "critical";
}

const char *esc_act_urgency(const char *sev) {
    if (!sev || strcmp(sev, "informational") == 0)
        return "informational";
    if (strcmp(sev, "low") == 0 || strcmp(sev, "medium") == 0)
        return "low";
    if (strcmp(sev, "high") == 0)
        return "medium";
    return "high";
}

int esc_act_score(const esc_detection *d) {
    if (d->impact >= 0 && d->confidence >= 0)
        return (int)lround((double)d->impact * (double)d->confidence / 100.0);
    return d->risk_score >= 0 ? d->risk_score : 0;
}

const char *esc_act_object_type(const char *t) {
    if (!t)
        return "other";
    if (strcasecmp(t, "User") == 0 || strcasecmp(t, "User Name") == 0)
        return "user";
    if (strcasecmp(t, "Hostname") == 0 || strcasecmp(t, "IP Address") == 0 ||
        strcasecmp(t, "IP") == 0 || strcasecmp(t, "Endpoint") == 0 || strcasecmp(t, "System") == 0)
        return "system";
    return NULL; /* caller lower-cases */
}

static bool has_role(const esc_observable *o, const char *role) {
    for (size_t i = 0; i < o->roles.n; i++)
        if (strcasecmp(o->roles.v[i], role) == 0)
            return true;
    return false;
}

static void lower_into(char *dst, size_t cap, const char *s) {
    size_t i = 0;
    for (; s && s[i] && i + 1 < cap; i++)
        dst[i] = (char)esc_lower((unsigned char)s[i]);
    dst[i] = 0;
}

static int find_col(const esc_table *t, const char *name, size_t len) {
    for (size_t i = 0; i < t->ncols; i++)
        if (strlen(t->cols[i]) == len && memcmp(t->cols[i], name, len) == 0)
            return (int)i;
    return -1;
}

/* ---- JSON -------------------------------------------------------------------------------------
 */

static void field(evfields *f, const char *name, const char *v, size_t len,
                  esc_sink_field_kind kind) {
    if (f->lost)
        return;
    if (f->n == f->cap && !ESC_VEC_GROW(f->v, f->cap, f->n + 1, 64)) {
        f->lost = true; /* then the JSON is read, and runs out of memory there */
        return;
    }
    f->v[f->n++] = (esc_sink_field){name, v, len, kind};
}

/* A field whose text the writer formatted (s[0, len) is about to be overwritten). */
static void field_copy(evfields *f, const char *name, const char *s, size_t len,
                       esc_sink_field_kind kind) {
    esc_str c = esc_arena_dup(f->text, esc_str_make(s, len));
    if (!c.ptr)
        f->lost = true;
    else
        field(f, name, c.ptr, c.len, kind);
}

typedef struct jw {
    esc_buf *b;
    bool first;
    esc_status st;
    evfields *f; /* records the members as fields; NULL: not asked */
} jw;

static void jput(jw *w, const char *s, size_t n) {
    if (w->st == ESC_OK)
        w->st = esc_buf_append(w->b, s, n);
}

static void jc(jw *w, const char *s) {
    jput(w, s, strlen(s));
}

/* A JSON string: core/fmt's writer, the escapes every JSON escudo writes has. */
static void jstrn(jw *w, const char *s, size_t n) {
    if (w->st == ESC_OK)
        w->st = esc_fmt_json_str(w->b, s, n);
}

static void jstr(jw *w, const char *s) {
    if (!s)
        jc(w, "null");
    else
        jstrn(w, s, strlen(s));
}

/* A key already rendered with its comma and colon (`,"name":`). */
static void jkey_raw(jw *w, const char *k, size_t n) {
    if (w->first) {
        k++;
        n--;
    }
    w->first = false;
    jput(w, k, n);
    if (w->f)
        w->f->values++;
}

static void jkey(jw *w, const char *k) {
    size_t n = strlen(k);
    if (w->f)
        w->f->values++;
    if (w->st == ESC_OK && esc_fmt_json_scan(k, n) == n) { /* nothing to escape: one append */
        if ((w->st = esc_buf_reserve(w->b, n + 4)) != ESC_OK)
            return;
        char *o = esc_buf_end(w->b), *o0 = o;
        if (!w->first)
            *o++ = ',';
        *o++ = '"';
        memcpy(o, k, n);
        o += n;
        *o++ = '"';
        *o++ = ':';
        esc_buf_commit(w->b, (size_t)(o - o0));
        w->first = false;
        return;
    }
    if (!w->first)
        jc(w, ",");
    w->first = false;
    jstrn(w, k, n);
    jc(w, ":");
}

static void jkv(jw *w, const char *k, const char *v) {
    jkey(w, k);
    jstr(w, v);
    if (w->f && v)
        field(w->f, k, v, strlen(v), ESC_SINK_FIELD_STR);
}

static void jkint(jw *w, const char *k, int64_t v) {
    char tmp[ESC_FMT_MAX];
    size_t n = esc_fmt_i64(tmp, v);
    jkey(w, k);
    jput(w, tmp, n);
    if (w->f)
        field_copy(w->f, k, tmp, n, ESC_SINK_FIELD_NUM);
}

static void jktime(jw *w, const char *k, int64_t v) {
    if (v == ESC_ACT_INFINITY)
        jkv(w, k, "+Infinity");
    else
        jkint(w, k, v);
}

/* One string element of the array member k (NULL writes null, which reads back as "null"). */
static void jelem(jw *w, const char *k, const char *s, bool first) {
    if (!first)
        jc(w, ",");
    jstr(w, s);
    if (w->f) {
        w->f->values++;
        field(w->f, k, s ? s : "null", s ? strlen(s) : 4, ESC_SINK_FIELD_ELEM);
    }
}

static void jklist(jw *w, const char *k, esc_strlist l) {
    jkey(w, k);
    jc(w, "[");
    for (size_t i = 0; i < l.n; i++)
        jelem(w, k, l.v[i], i == 0);
    jc(w, "]");
}

/* Whether s[0, n) is a number in JSON's grammar. */
static bool json_number(const char *s, size_t n) {
    size_t i = 0, d;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return false;
    if (i < n && s[i] == '.') {
        for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9';)
            i++;
        if (i == d)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        for (d = i; i < n && s[i] >= '0' && s[i] <= '9';)
            i++;
        if (i == d)
            return false;
    }
    return i == n;
}

/* A result-table cell as SPEC section 5 renders it, the member k. */
static void jcell(jw *w, const char *k, const esc_table *t, size_t col, const esc_cell *cell) {
    bool mv = (t->mv_col && t->mv_col[col]) || cell->n > 1;
    if (mv) {
        jc(w, "[");
        for (size_t i = 0; i < cell->n; i++)
            jelem(w, k, cell->v[i], i == 0);
        jc(w, "]");
    } else if (cell->is_num && cell->n == 1 && cell->v[0] && isfinite(cell->num)) {
        size_t n = strlen(cell->v[0]);
        jput(w, cell->v[0], n);
        if (w->f && !json_number(cell->v[0], n))
            w->f->lost = true; /* the JSON is malformed: reading it says so */
        else if (w->f)
            field(w->f, k, cell->v[0], n, ESC_SINK_FIELD_NUM);
    } else {
        jstr(w, cell->v[0]);
        if (w->f && cell->v[0])
            field(w->f, k, cell->v[0], strlen(cell->v[0]), ESC_SINK_FIELD_STR);
    }
}

/* ---- what the events of one input share ------------------------------------------------------
 */

/* Worked out once per input (esc_act_rows) rather than per row or event: the detection's
 * annotations rendered, and the table's columns: which ones an event writes itself, which make
 * a row's identity by default, each one's key rendered. */
enum {
    COL_NOTABLE = 1, /* a member the notable writes itself (esc_act_notable_keys) */
    COL_RISK = 2,    /* a member the risk event writes itself (RISK_KEYS) */
    COL_ESCAPED = 4, /* the name has a byte JSON escapes */
    COL_BY = 8,      /* part of the identity when the input names no BY fields */
};

typedef struct shape {
    esc_buf annot;      /* the annotations members, `,"annotations.mitre_attack":[...],...` */
    evfields annot_f;   /* the same as fields */
    esc_arena text;     /* annot_f's numbers */
    esc_buf keys;       /* every column's key, `,"name":`, one after the other */
    size_t *key_end;    /* column c's key is keys.ptr[c ? key_end[c - 1] : 0, key_end[c]) */
    unsigned char *col; /* per column: COL_* */
    int time_col;       /* lastTime, else _time, else -1: a risk event's _time */
} shape;

/* Every field of the row the event does not write itself (COL_* in skip). */
static void jrow(jw *w, const esc_table *t, size_t row, const shape *sh, unsigned skip) {
    for (size_t c = 0; c < t->ncols; c++) {
        const esc_cell *cell = esc_table_cell(t, row, c);
        if (cell->n == 0 || (sh->col[c] & skip))
            continue;
        size_t from = c ? sh->key_end[c - 1] : 0;
        jkey_raw(w, sh->keys.ptr + from, sh->key_end[c] - from);
        if (w->f && (sh->col[c] & COL_ESCAPED))
            w->f->lost = true;
        jcell(w, t->cols[c], t, c, cell);
    }
}

/* ---- tokens ------------------------------------------------------------------------------------
 */

typedef struct rowctx {
    const esc_detection *d;
    const esc_table *t;
    size_t row;
    const esc_act_window *win;
    const char *own_field, *own_value; /* the risk object's field renders this value */
} rowctx;

static esc_status put_time(esc_buf *b, int64_t v) {
    if (v == ESC_ACT_INFINITY)
        return esc_buf_append_c(b, "+Infinity");
    return esc_buf_printf(b, "%lld", (long long)v);
}

/* Append text with $field$ tokens filled (and %name%, %description%,
 * %original_detection_search% when pct is set). A `$` that does not start a token
 * ($[A-Za-z0-9_.]+$) is copied as is. */
static esc_status subst(esc_buf *b, const char *text, const rowctx *x, bool pct) {
    esc_status st = ESC_OK;
    const char *p = text;
    while (*p && st == ESC_OK) {
        if (*p == '$' || (pct && *p == '%')) {
            char delim = *p;
            const char *q = p + 1;
            while (*q && q - p <= ESC_ACT_MAX_TOKEN &&
                   ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                    (*q >= '0' && *q <= '9') || *q == '_' || *q == '.'))
                q++;
            size_t n = (size_t)(q - p - 1);
            if (*q == delim && n > 0) {
                const char *name = p + 1;
                if (delim == '%') {
                    const char *val = NULL;
                    if (n == 4 && memcmp(name, "name", 4) == 0)
                        val = x->d->name;
                    else if (n == 11 && memcmp(name, "description", 11) == 0)
                        val = x->d->description;
                    else if (n == 25 && memcmp(name, "original_detection_search", 25) == 0)
                        val = x->d->search;
                    if (!val) {
                        st = esc_buf_putc(b, *p++);
                        continue;
                    }
                    st = esc_buf_append_c(b, val);
                } else if (n == 13 && memcmp(name, "info_min_time", 13) == 0)
                    st = put_time(b, x->win->earliest);
                else if (n == 13 && memcmp(name, "info_max_time", 13) == 0)
                    st = put_time(b, x->win->latest);
                else if (n == 16 && memcmp(name, "info_search_time", 16) == 0)
                    st = put_time(b, x->win->search_time);
                else if (x->own_field && strlen(x->own_field) == n &&
                         memcmp(x->own_field, name, n) == 0)
                    st = esc_buf_append_c(b, x->own_value);
                else {
                    int col = find_col(x->t, name, n);
                    if (col >= 0) {
                        const esc_cell *cell = esc_table_cell(x->t, x->row, (size_t)col);
                        for (size_t i = 0; i < cell->n && st == ESC_OK; i++) {
                            if (i)
                                st = esc_buf_append_c(b, ", ");
                            if (st == ESC_OK && cell->v[i])
                                st = esc_buf_append_c(b, cell->v[i]);
                        }
                    }
                    /* a field the row does not have renders empty, as Splunk does */
                }
                p = q + 1;
                continue;
            }
            st = esc_buf_putc(b, *p++); /* not a token: the delimiter as is */
            continue;
        }
        size_t run = strcspn(p, pct ? "$%" : "$");
        st = esc_buf_append(b, p, run);
        p += run;
    }
    return st;
}

/* subst into b, emptied first; b->ptr is a string (maybe empty) when ESC_OK. */
static esc_status subst_into(esc_buf *b, const char *text, const rowctx *x, bool pct) {
    esc_buf_clear(b);
    esc_status st = subst(b, text ? text : "", x, pct);
    if (st == ESC_OK && !b->ptr)
        st = esc_buf_append(b, "", 0);
    return st;
}

/* A buffer kept from one event to the next is let go after a large one. */
static void trim(esc_buf *b) {
    if (b->cap > ((size_t)1 << 20))
        esc_buf_fini(b);
}

/* subst into a fresh string (esc_malloc'd) or NULL. */
static char *subst_dup(const char *text, const rowctx *x, bool pct, esc_status *st) {
    esc_buf b;
    esc_buf_init(&b, ESC_ACT_MAX_EVENT);
    *st = subst(&b, text ? text : "", x, pct);
    if (*st == ESC_OK && !b.ptr)
        *st = esc_buf_append(&b, "", 0);
    if (*st != ESC_OK) {
        esc_buf_fini(&b);
        return NULL;
    }
    return esc_buf_take(&b);
}

/* ---- identities ------------------------------------------------------------------------------ */

static bool is_by_default(const esc_table *t, size_t c) {
    if (t->mv_col && t->mv_col[c])
        return false;
    if (strcmp(t->cols[c], "firstTime") == 0 || strcmp(t->cols[c], "lastTime") == 0)
        return false;
    for (size_t r = 0; r < t->nrows; r++)
        if (esc_table_cell(t, r, c)->is_num)
            return false;
    return true;
}

/* A cell's values into an identity, separated by 0x1e. */
static esc_status append_values(esc_buf *b, const esc_cell *cell) {
    esc_status st = ESC_OK;
    for (size_t k = 0; k < cell->n && st == ESC_OK; k++) {
        if (k)
            st = esc_buf_putc(b, 0x1e);
        if (st == ESC_OK && cell->v[k])
            st = esc_buf_append_c(b, cell->v[k]);
    }
    return st;
}

static esc_status notable_id(const esc_act_input *in, const shape *sh, size_t row, char out[65]) {
    esc_buf b;
    esc_buf_init(&b, ESC_ACT_MAX_EVENT);
    esc_status st = esc_buf_append_c(&b, in->detection->id);
    if (st == ESC_OK)
        st = esc_buf_putc(&b, 0x1f);
    if (st == ESC_OK)
        st = put_time(&b, in->window.earliest);
    if (st == ESC_OK)
        st = esc_buf_putc(&b, 0x1f);
    if (st == ESC_OK)
        st = put_time(&b, in->window.latest);
    const esc_table *t = in->rows;
    size_t nby = in->by ? in->nby : t->ncols;
    for (size_t i = 0; i < nby && st == ESC_OK; i++) {
        int col;
        if (in->by) {
            col = find_col(t, in->by[i], strlen(in->by[i]));
        } else {
            col = (int)i;
            if (!(sh->col[i] & COL_BY))
                continue;
        }
        st = esc_buf_putc(&b, 0x1f);
        if (col < 0 || st != ESC_OK) {
            if (st == ESC_OK)
                st = esc_buf_putc(&b, 0x1d); /* absent */
            continue;
        }
        const esc_cell *cell = esc_table_cell(t, row, (size_t)col);
        if (cell->n == 0)
            st = esc_buf_putc(&b, 0x1d);
        if (st == ESC_OK)
            st = append_values(&b, cell);
    }
    if (st == ESC_OK)
        esc_sha256_hex(b.ptr, b.len, out);
    esc_buf_fini(&b);
    return st;
}

/* Identity of a late update of a row that already fired: the original id and every value. */
static esc_status late_id(const esc_table *t, size_t row, const char *orig, char out[65]) {
    esc_buf b;
    esc_buf_init(&b, ESC_ACT_MAX_EVENT);
    esc_status st = esc_buf_printf(&b, "%s\x1flate", orig);
    for (size_t c = 0; c < t->ncols && st == ESC_OK; c++) {
        const esc_cell *cell = esc_table_cell(t, row, c);
        st = esc_buf_printf(&b, "\x1f%s=", t->cols[c]);
        if (st == ESC_OK)
            st = append_values(&b, cell);
    }
    if (st == ESC_OK)
        esc_sha256_hex(b.ptr, b.len, out);
    esc_buf_fini(&b);
    return st;
}

/* A risk event's identity: the hash of "<notable id>\x1f<type>\x1f<object>", from the state
 * after its row's "<notable id>\x1f" (hashed once for the row's risk events). */
static void risk_id(const esc_sha256 *row, const char *type, const char *object, char out[65]) {
    esc_sha256 s = *row;
    esc_sha256_update(&s, type, strlen(type));
    esc_sha256_update(&s, "\x1f", 1);
    esc_sha256_update(&s, object, strlen(object));
    esc_sha256_final_hex(&s, out);
}

/* The row's lastTime (else _time: sh->time_col) as epoch seconds: a number as is; else text as
 * `convert ctime` wrote it (ISO-like, in the configured zone, which esc_time_parse_iso also
 * reads); else the run time. */
static int64_t row_time(const esc_table *t, const shape *sh, size_t row, const esc_act_window *w) {
    int col = sh->time_col;
    if (col >= 0) {
        const esc_cell *c = esc_table_cell(t, row, (size_t)col);
        if (c->n >= 1 && c->v[0]) {
            if (c->is_num && isfinite(c->num) && fabs(c->num) < 1e15)
                return (int64_t)floor(c->num);
            int64_t us;
            if (esc_time_parse_iso(esc_str_c(c->v[0]), &us) ||
                esc_time_parse_epoch(esc_str_c(c->v[0]), &us))
                return esc_time_sec(us);
        }
    }
    return w->search_time;
}

/* ---- the run ----------------------------------------------------------------------------------
 */

esc_act *esc_act_new(const esc_content *content, esc_sinks *sinks, esc_error *err) {
    esc_act *a = esc_calloc(1, sizeof *a);
    if (!a) {
        esc_error_set(err, ESC_ENOMEM, "out of memory");
        return NULL;
    }
    a->c = content;
    a->sinks = sinks;
    a->max_points = ESC_ACT_MAX_POINTS;
    esc_buf_init(&a->out, ESC_ACT_MAX_EVENT);
    esc_buf_init(&a->sub, ESC_ACT_MAX_EVENT);
    esc_arena_init(&a->text, 4096, 0);
    a->fields.text = &a->text;
    return a;
}

void esc_act_set_max_points(esc_act *a, size_t n) {
    a->max_points = n ? n : ESC_ACT_MAX_POINTS;
}

void esc_act_free(esc_act *a) {
    if (!a)
        return;
    for (size_t i = 0; i < a->npts; i++) {
        esc_free((char *)a->pts[i].event_id);
        esc_free((char *)a->pts[i].object);
        esc_free((char *)a->pts[i].type);
    }
    esc_free(a->pts);
    esc_buf_fini(&a->out);
    esc_buf_fini(&a->sub);
    esc_free(a->fields.v);
    esc_arena_fini(&a->text);
    esc_free(a);
}

esc_act_counts esc_act_get_counts(const esc_act *a) {
    return a->counts;
}

static esc_status keep_point(esc_act *a, const char *id, const char *obj, const char *type,
                             int64_t t, int score, esc_error *err) {
    if (a->npts >= a->max_points)
        return esc_error_set(err, ESC_ELIMIT, "more than %zu risk events in one run",
                             a->max_points);
    if (a->npts == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        if (nc > a->max_points)
            nc = a->max_points;
        esc_risk_point *p = esc_realloc(a->pts, nc * sizeof *p);
        if (!p)
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        a->pts = p;
        a->cap = nc;
    }
    esc_risk_point *p = &a->pts[a->npts];
    p->event_id = esc_strdup(id);
    p->object = esc_strdup(obj);
    p->type = esc_strdup(type);
    p->time = t;
    p->score = score;
    if (!p->event_id || !p->object || !p->type) {
        esc_free((char *)p->event_id);
        esc_free((char *)p->object);
        esc_free((char *)p->type);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    a->npts++;
    return ESC_OK;
}

static esc_status deliver(esc_act *a, const esc_sink_event *ev, esc_error *err) {
    if (!a->sinks)
        return ESC_OK;
    return esc_sinks_put(a->sinks, ev, err);
}

static void annotations(jw *w, const esc_content *c, const esc_detection *d) {
    jklist(w, "annotations.mitre_attack", d->mitre_attack_id);
    /* union of the techniques' tactics, in first-seen order */
    jkey(w, "annotations.mitre_attack.mitre_tactic");
    jc(w, "[");
    size_t written = 0;
    for (size_t i = 0; i < d->mitre_attack_id.n; i++) {
        esc_strlist t = esc_content_tactics(c, d->mitre_attack_id.v[i]);
        for (size_t k = 0; k < t.n; k++) {
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++) {
                esc_strlist o = esc_content_tactics(c, d->mitre_attack_id.v[j]);
                for (size_t m = 0; m < o.n && !seen; m++)
                    seen = strcmp(o.v[m], t.v[k]) == 0;
            }
            for (size_t m = 0; m < k && !seen; m++)
                seen = strcmp(t.v[m], t.v[k]) == 0;
            if (!seen)
                jelem(w, "annotations.mitre_attack.mitre_tactic", t.v[k], written++ == 0);
        }
    }
    jc(w, "]");
    jklist(w, "annotations.analytic_story", d->analytic_story);
    if (d->confidence >= 0)
        jkint(w, "annotations.confidence", d->confidence);
    if (d->impact >= 0)
        jkint(w, "annotations.impact", d->impact);
    if (d->type)
        jkv(w, "annotations.type", d->type);
}

const char *const esc_act_notable_keys[] = {
    "_time",
    "event_id",
    "search_name",
    "rule_name",
    "rule_title",
    "rule_description",
    "security_domain",
    "severity",
    "urgency",
    "status",
    "owner",
    "nes_fields",
    "info_min_time",
    "info_max_time",
    "info_search_time",
    "drilldown_searches",
    "annotations.mitre_attack",
    "annotations.mitre_attack.mitre_tactic",
    "annotations.analytic_story",
    "annotations.confidence",
    "annotations.impact",
    "annotations.type",
    "late",
    "lag",
    "orig_event_id",
    "orig_time",
    "evidence_count",
    "evidence",
};
const size_t esc_act_nnotable_keys = sizeof esc_act_notable_keys / sizeof esc_act_notable_keys[0];

static const char *const RISK_KEYS[] = {
    "_time",
    "event_id",
    "search_name",
    "source",
    "risk_object",
    "risk_object_type",
    "risk_score",
    "calculated_risk_score",
    "risk_message",
    "threat_object",
    "threat_object_type",
    "analyticstories",
    "annotations.mitre_attack",
    "annotations.mitre_attack.mitre_tactic",
    "annotations.analytic_story",
    "annotations.confidence",
    "annotations.impact",
    "annotations.type",
    "orig_time",
    "evidence_count",
    "evidence",
};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

static bool is_key(const char *name, const char *const *keys, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (strcmp(keys[k], name) == 0)
            return true;
    return false;
}

static void shape_fini(shape *sh) {
    esc_buf_fini(&sh->annot);
    esc_free(sh->annot_f.v);
    esc_arena_fini(&sh->text);
    esc_buf_fini(&sh->keys);
    esc_free(sh->key_end);
    esc_free(sh->col);
}

static esc_status shape_init(shape *sh, const esc_content *c, const esc_detection *d,
                             const esc_table *t) {
    memset(sh, 0, sizeof *sh);
    esc_buf_init(&sh->annot, 0); /* an event holding it is capped */
    esc_arena_init(&sh->text, 1024, 0);
    sh->annot_f.text = &sh->text;
    esc_buf_init(&sh->keys, 0);
    jw w = {&sh->annot, false, ESC_OK, &sh->annot_f}; /* a member follows others: its comma */
    annotations(&w, c, d);
    sh->key_end = esc_malloc((t->ncols ? t->ncols : 1) * sizeof *sh->key_end);
    sh->col = esc_calloc(t->ncols ? t->ncols : 1, 1);
    if (!sh->key_end || !sh->col || sh->annot_f.lost || sh->text.failed)
        w.st = ESC_ENOMEM;
    jw kw = {&sh->keys, false, ESC_OK, NULL};
    for (size_t i = 0; i < t->ncols && w.st == ESC_OK && kw.st == ESC_OK; i++) {
        const char *name = t->cols[i];
        size_t n = strlen(name);
        jkey(&kw, name);
        sh->key_end[i] = sh->keys.len;
        sh->col[i] =
            (unsigned char)((is_key(name, esc_act_notable_keys, esc_act_nnotable_keys) ? COL_NOTABLE
                                                                                       : 0) |
                            (is_key(name, RISK_KEYS, NKEYS(RISK_KEYS)) ? COL_RISK : 0) |
                            (esc_fmt_json_scan(name, n) < n ? COL_ESCAPED : 0) |
                            (is_by_default(t, i) ? COL_BY : 0));
    }
    sh->time_col = find_col(t, "lastTime", 8);
    if (sh->time_col < 0)
        sh->time_col = find_col(t, "_time", 5);
    esc_status st = w.st != ESC_OK ? w.st : kw.st;
    if (st != ESC_OK)
        shape_fini(sh);
    return st;
}

void esc_act_set_evidence(esc_act *a, bool on) {
    a->evidence = on;
}

void esc_act_set_risk_only(esc_act *a, bool on) {
    a->risk_only = on;
}

/* The events behind the row (spl.h, docs/evidence.md): orig_time (the earliest event's _time,
 * as ES's notables carry it), their count and the references kept; only when asked
 * (esc_act_set_evidence). Nothing when the row has no evidence. Notables and risk events carry
 * the same keys, so a risk event leads to its events without its notable. */
static void evidence(const esc_act *a, jw *w, const esc_table *t, size_t row) {
    const esc_row_evidence *e = a->evidence && t->evidence ? &t->evidence[row] : NULL;
    if (!e || !e->total)
        return;
    if (e->n)
        jkint(w, "orig_time", esc_time_sec(e->refs[0].time_us));
    jkint(w, "evidence_count", (int64_t)e->total);
    jkey(w, "evidence");
    jc(w, "[");
    for (size_t i = 0; i < e->n; i++) {
        const esc_evref *r = &e->refs[i];
        char tmp[2 * ESC_FMT_MAX];
        int64_t s = esc_time_sec(r->time_us);
        if (i)
            jc(w, ",");
        size_t at = w->b->len; /* the object's text is its field */
        jc(w, "{");
        jw in = {w->b, true, ESC_OK, NULL};
        jkey(&in, "_time");
        size_t n = esc_fmt_i64(tmp, s);
        tmp[n++] = '.';
        n += esc_fmt_u64(tmp + n, (uint64_t)(r->time_us - s * ESC_US_PER_SEC), 6);
        jput(&in, tmp, n);
        jkv(&in, "source", r->path);
        jkint(&in, "offset", (int64_t)r->offset);
        if (r->record_id)
            jkint(&in, "record_id", (int64_t)r->record_id);
        if (r->line)
            jkint(&in, "line", (int64_t)r->line);
        jc(w, "}");
        if (in.st != ESC_OK)
            w->st = in.st;
        if (w->f && w->st == ESC_OK) {
            w->f->values++;
            field_copy(w->f, "evidence", w->b->ptr + at, w->b->len - at, ESC_SINK_FIELD_ELEM);
        }
    }
    jc(w, "]");
}

static esc_status emit_notable(esc_act *a, const esc_act_input *in, const shape *sh, size_t row,
                               const char *search_name, const char *id, int score,
                               const esc_act_late *lt, esc_error *err) {
    const esc_detection *d = in->detection;
    const esc_deployment *dep = d->deployment;
    rowctx x = {d, in->rows, row, &in->window, NULL, NULL};
    esc_status st = ESC_OK;
    char *title = NULL, *desc = NULL;
    esc_buf *b = &a->out;
    esc_buf_clear(b);
    title = subst_dup(dep->rule_title ? dep->rule_title : "%name%", &x, true, &st);
    if (title)
        desc = subst_dup(dep->rule_description ? dep->rule_description : "%description%", &x, true,
                         &st);
    if (!title || !desc) {
        st = st == ESC_ELIMIT ? ESC_SKIP : st; /* over ESC_ACT_MAX_EVENT: this event only */
        goto fail;
    }
    const char *sev = esc_act_severity(score), *urg = esc_act_urgency(sev);
    const char *domain = d->security_domain ? d->security_domain : "threat";
    jw w = {b, true, ESC_OK, NULL};
    jc(&w, "{");
    jkint(&w, "_time", in->window.search_time);
    jkv(&w, "event_id", id);
    jkv(&w, "search_name", search_name);
    jkv(&w, "rule_name", search_name);
    jkv(&w, "rule_title", title);
    jkv(&w, "rule_description", desc);
    jkv(&w, "security_domain", domain);
    jkv(&w, "severity", sev);
    jkv(&w, "urgency", urg);
    jkv(&w, "status", "new");
    jkv(&w, "owner", "unassigned");
    jkey(&w, "nes_fields");
    {
        esc_buf nb;
        esc_buf_init(&nb, 64 * 1024);
        for (size_t i = 0; i < dep->nes_fields.n; i++) {
            if (i)
                esc_buf_putc(&nb, ',');
            esc_buf_append_c(&nb, dep->nes_fields.v[i]);
        }
        jstrn(&w, nb.ptr ? nb.ptr : "", nb.len);
        esc_buf_fini(&nb);
    }
    jktime(&w, "info_min_time", in->window.earliest);
    jktime(&w, "info_max_time", in->window.latest);
    jktime(&w, "info_search_time", in->window.search_time);
    jkey(&w, "drilldown_searches");
    jc(&w, "[");
    for (size_t i = 0; i < d->ndrilldowns && w.st == ESC_OK; i++) {
        const esc_drilldown *dd = &d->drilldowns[i];
        const char *parts[4] = {dd->name, dd->search, dd->earliest_offset, dd->latest_offset};
        static const char *const names[4] = {"name", "search", "earliest_offset", "latest_offset"};
        if (i)
            jc(&w, ",");
        jc(&w, "{");
        jw inner = {b, true, ESC_OK, NULL};
        for (int k = 0; k < 4 && w.st == ESC_OK; k++) {
            if ((st = subst_into(&a->sub, parts[k], &x, true)) != ESC_OK) {
                w.st = st;
                break;
            }
            jkv(&inner, names[k], a->sub.ptr);
            if (inner.st != ESC_OK)
                w.st = inner.st;
        }
        jc(&w, "}");
    }
    jc(&w, "]");
    jput(&w, sh->annot.ptr, sh->annot.len);
    if (lt && lt->late) {
        jkey(&w, "late");
        jc(&w, "true");
        jkint(&w, "lag", lt->lag);
        if (lt->orig_event_id)
            jkv(&w, "orig_event_id", lt->orig_event_id);
    }
    evidence(a, &w, in->rows, row);
    jrow(&w, in->rows, row, sh, COL_NOTABLE);
    jc(&w, "}");
    if (w.st != ESC_OK) {
        st = w.st == ESC_ELIMIT ? ESC_SKIP : w.st; /* else out of memory */
        goto fail;
    }
    esc_sink_event ev = {
        .kind = ESC_SINK_NOTABLE,
        .event_id = id,
        .time = in->window.search_time,
        .search_name = search_name,
        .rule_title = title,
        .severity = sev,
        .urgency = urg,
        .status = "new",
        .owner = "unassigned",
        .security_domain = domain,
        .risk_score = score,
        .json = b->ptr,
        .json_len = b->len,
    };
    st = deliver(a, &ev, err);
    if (st == ESC_OK)
        a->counts.notables++;
fail:
    if (st == ESC_SKIP)
        esc_error_set(err, ESC_ELIMIT, "notable for %s: event larger than %u bytes", d->name,
                      ESC_ACT_MAX_EVENT);
    else if (st != ESC_OK && err && err->msg[0] == 0)
        esc_error_set(err, st, "notable for %s: %s", d->name, esc_strerror(st));
    esc_free(title);
    esc_free(desc);
    trim(&a->sub);
    trim(b);
    return st;
}

/* An observable found among the table's columns, with its type as its risk events render it. */
typedef struct observed {
    const esc_observable *o;
    int col;          /* its column in the table */
    const char *type; /* risk_object_type (a Victim), threat_object_type (an Attacker) */
    char ltype[64];   /* the lower-cased type, when type points here */
} observed;

static esc_status emit_risk(esc_act *a, const esc_act_input *in, const shape *sh, size_t row,
                            const esc_sha256 *row_id, const char *search_name, int score,
                            const observed *victim, const char *value, const observed *att,
                            size_t natt, esc_error *err) {
    const esc_detection *d = in->detection;
    rowctx x = {d, in->rows, row, &in->window, victim->o->name, value};
    esc_status st = ESC_OK;
    char id[65];
    risk_id(row_id, victim->type, value, id);
    int64_t t = row_time(in->rows, sh, row, &in->window);
    esc_buf *b = &a->out;
    esc_buf_clear(b);
    evfields *f = &a->fields;
    f->n = f->values = 0;
    f->lost = false;
    esc_arena_reset(f->text);
    if ((st = subst_into(&a->sub, d->message, &x, false)) != ESC_OK) {
        st = st == ESC_ELIMIT ? ESC_SKIP : st; /* over ESC_ACT_MAX_EVENT: this event only */
        goto fail;
    }
    const char *msg = a->sub.ptr;
    jw w = {b, true, ESC_OK, f};
    jc(&w, "{");
    jkint(&w, "_time", t);
    jkv(&w, "event_id", id);
    jkv(&w, "search_name", search_name);
    jkv(&w, "source", search_name);
    jkv(&w, "risk_object", value);
    jkv(&w, "risk_object_type", victim->type);
    jkint(&w, "risk_score", score);
    jkint(&w, "calculated_risk_score", score);
    jkv(&w, "risk_message", msg);
    /* threat objects: every value of every Attacker observable, with its type */
    for (int pass = 0; pass < 2; pass++) {
        const char *k = pass == 0 ? "threat_object" : "threat_object_type";
        size_t nthreat = 0;
        jkey(&w, k);
        jc(&w, "[");
        for (size_t i = 0; i < natt; i++) {
            const esc_cell *cell = esc_table_cell(in->rows, row, (size_t)att[i].col);
            for (size_t v = 0; v < cell->n; v++)
                jelem(&w, k, pass == 0 ? cell->v[v] : att[i].type, nthreat++ == 0);
        }
        jc(&w, "]");
    }
    jklist(&w, "analyticstories", d->analytic_story);
    jput(&w, sh->annot.ptr, sh->annot.len);
    for (size_t i = 0; i < sh->annot_f.n; i++) {
        const esc_sink_field *af = &sh->annot_f.v[i];
        field(f, af->name, af->value, af->len, af->kind);
    }
    f->values += sh->annot_f.values;
    evidence(a, &w, in->rows, row); /* as the notable's: the events behind the row */
    jrow(&w, in->rows, row, sh, COL_RISK);
    jc(&w, "}");
    if (w.st != ESC_OK) {
        st = w.st == ESC_ELIMIT ? ESC_SKIP : w.st; /* else out of memory */
        goto fail;
    }
    bool offer = !f->lost && !f->text->failed && f->values <= ACT_MAX_FIELD_VALUES;
    esc_sink_event ev = {
        .kind = ESC_SINK_RISK,
        .event_id = id,
        .time = t,
        .search_name = search_name,
        .security_domain = d->security_domain,
        .risk_object = value,
        .risk_object_type = victim->type,
        .risk_score = score,
        .json = b->ptr,
        .json_len = b->len,
        .fields = offer ? f->v : NULL,
        .nfields = offer ? f->n : 0,
    };
    st = deliver(a, &ev, err);
    if (st == ESC_OK) {
        a->counts.risk_events++;
        if (!a->risk_only)
            st = keep_point(a, id, value, victim->type, t, score, err);
    }
fail:
    if (st == ESC_SKIP)
        esc_error_set(err, ESC_ELIMIT, "risk event for %s: event larger than %u bytes", d->name,
                      ESC_ACT_MAX_EVENT);
    else if (st != ESC_OK && err && err->msg[0] == 0)
        esc_error_set(err, st, "risk event for %s: %s", d->name, esc_strerror(st));
    trim(&a->sub);
    trim(b);
    return st;
}

/* An event over ESC_ACT_MAX_EVENT (an emitter's ESC_SKIP) fails alone: its error is kept in
 * *big (the first one) and the other events of the row and the other rows are still made; rows
 * returns ESC_SKIP and it at the end. */
static esc_status oversize(esc_status st, esc_error *err, esc_error *big) {
    if (st != ESC_SKIP)
        return st;
    if (big->code == ESC_OK) {
        if (err)
            *big = *err;
        big->code = ESC_ELIMIT;
    }
    if (err)
        err->msg[0] = 0;
    return ESC_OK;
}

/* The observables of role in the table's columns, in the detection's order, with their types
 * as events render them (a risk object's mapped by esc_act_object_type, a threat object's
 * lower-cased). *out esc_malloc'd. */
static esc_status observe(const esc_detection *d, const esc_table *t, const char *role,
                          observed **out, size_t *n) {
    *n = 0;
    *out = esc_calloc(d->nobservables ? d->nobservables : 1, sizeof **out);
    if (!*out)
        return ESC_ENOMEM;
    bool victim = strcmp(role, "Victim") == 0;
    for (size_t i = 0; i < d->nobservables; i++) {
        const esc_observable *o = &d->observables[i];
        int col = has_role(o, role) ? find_col(t, o->name, strlen(o->name)) : -1;
        if (col < 0)
            continue;
        observed *v = &(*out)[(*n)++];
        v->o = o;
        v->col = col;
        if (victim)
            v->type = esc_act_object_type(o->type); /* NULL: a type of its own, lower-cased */
        if (!v->type) {
            lower_into(v->ltype, sizeof v->ltype, o->type ? o->type : "other");
            v->type = v->ltype;
        }
    }
    return ESC_OK;
}

static esc_status rows(esc_act *a, const esc_act_input *in, const esc_act_late *late,
                       esc_error *err) {
    const esc_detection *d = in->detection;
    const esc_deployment *dep = d->deployment;
    if (err)
        err->msg[0] = 0;
    if (in->window.search_time > a->last_search_time)
        a->last_search_time = in->window.search_time;
    if (!dep || (!dep->notable && !dep->rba) || !in->rows)
        return ESC_OK;
    char search_name[1024];
    snprintf(search_name, sizeof search_name, "ESCU - %s - Rule", d->name);
    int score = esc_act_score(d);
    shape sh;
    observed *victims = NULL, *att = NULL;
    size_t nvictims = 0, natt = 0;
    esc_status st = shape_init(&sh, a->c, d, in->rows);
    if (st != ESC_OK)
        return esc_error_set(err, st, "actions for %s: %s", d->name, esc_strerror(st));
    if ((st = observe(d, in->rows, "Victim", &victims, &nvictims)) != ESC_OK ||
        (st = observe(d, in->rows, "Attacker", &att, &natt)) != ESC_OK) {
        esc_error_set(err, st, "actions for %s: %s", d->name, esc_strerror(st));
        goto out;
    }
    esc_error big = {0}; /* the first event over ESC_ACT_MAX_EVENT */
    for (size_t row = 0; row < in->rows->nrows && st == ESC_OK; row++) {
        char nid[65];
        st = notable_id(in, &sh, row, nid);
        if (st != ESC_OK) {
            esc_error_set(err, st, "event identity for %s: %s", d->name, esc_strerror(st));
            break;
        }
        const esc_act_late *lt = late ? &late[row] : NULL;
        bool update = lt && lt->late && lt->orig_event_id;
        if (update && (st = late_id(in->rows, row, lt->orig_event_id, nid)) != ESC_OK) {
            esc_error_set(err, st, "event identity for %s: %s", d->name, esc_strerror(st));
            break;
        }
        if (dep->notable && !a->risk_only)
            st = oversize(emit_notable(a, in, &sh, row, search_name, nid, score, lt, err), err,
                          &big);
        if (!dep->rba || update)
            continue;
        esc_sha256 row_id; /* "<nid>\x1f", the start of each risk event's identity */
        esc_sha256_init(&row_id);
        esc_sha256_update(&row_id, nid, 64);
        esc_sha256_update(&row_id, "\x1f", 1);
        for (size_t i = 0; i < nvictims && st == ESC_OK; i++) {
            const observed *v = &victims[i];
            size_t oi = (size_t)(v->o - d->observables);
            int os = d->observable_scores && d->observable_scores[oi] >= 0
                         ? d->observable_scores[oi]
                         : score;
            const esc_cell *cell = esc_table_cell(in->rows, row, (size_t)v->col);
            for (size_t k = 0; k < cell->n && st == ESC_OK; k++) {
                const char *val = cell->v[k];
                if (!val || !*val || strcmp(val, "unknown") == 0)
                    continue;
                st = oversize(
                    emit_risk(a, in, &sh, row, &row_id, search_name, os, v, val, att, natt, err),
                    err, &big);
            }
        }
    }
    if (st == ESC_OK && big.code != ESC_OK) {
        if (err)
            *err = big;
        st = ESC_SKIP;
    }
out:
    esc_free(victims);
    esc_free(att);
    shape_fini(&sh);
    return st;
}

esc_status esc_act_rows(esc_act *a, const esc_act_input *in, esc_error *err) {
    return rows(a, in, NULL, err);
}

esc_status esc_act_rows_late(esc_act *a, const esc_act_input *in, const esc_act_late *late,
                             esc_error *err) {
    return rows(a, in, late, err);
}

esc_status esc_act_step(esc_act *a, const esc_act_input *in, size_t n, const esc_act_hooks *hooks,
                        esc_error *err) {
    static const esc_act_hooks none = {0};
    const esc_act_hooks *h = hooks ? hooks : &none;
    esc_status st = ESC_OK;
    for (size_t i = 0; i < n && st == ESC_OK; i++) {
        esc_error e = {0};
        if (h->begin)
            h->begin(h->ctx, i);
        st = rows(a, &in[i], in[i].late, &e);
        if (h->end)
            h->end(h->ctx, i);
        if (st == ESC_SKIP) {
            if (h->skipped)
                h->skipped(h->ctx, &e);
            st = ESC_OK;
        } else if (st != ESC_OK && err) {
            *err = e;
        }
    }
    return st == ESC_OK ? esc_act_finish(a, err) : st;
}

/* ---- the incident rule ------------------------------------------------------------------------
 */

static int cmp_point(const void *x, const void *y) {
    const esc_risk_point *a = x, *b = y;
    int c = strcmp(a->type, b->type);
    if (c)
        return c;
    if ((c = strcmp(a->object, b->object)) != 0)
        return c;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    return strcmp(a->event_id, b->event_id);
}

esc_status esc_act_incidents(const esc_risk_point *pts, size_t n, esc_incident_fn emit, void *ctx,
                             esc_error *err) {
    if (n == 0)
        return ESC_OK;
    esc_risk_point *s = esc_malloc(n * sizeof *s);
    if (!s)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    memcpy(s, pts, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_point);
    /* drop repeated event ids (adjacent after sorting) */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || strcmp(s[m - 1].event_id, s[i].event_id) != 0 ||
            strcmp(s[m - 1].object, s[i].object) != 0 || strcmp(s[m - 1].type, s[i].type) != 0)
            s[m++] = s[i];
    esc_status st = ESC_OK;
    size_t g = 0;
    while (g < m && st == ESC_OK) {
        size_t e = g;
        while (e < m && strcmp(s[e].type, s[g].type) == 0 && strcmp(s[e].object, s[g].object) == 0)
            e++;
        /* group [g, e): one object, in time order */
        size_t lo = g;
        long long sum = 0;
        bool fired = false;
        int64_t last_fire = 0;
        for (size_t i = g; i < e && st == ESC_OK; i++) {
            sum += s[i].score;
            if (i + 1 < e && s[i + 1].time == s[i].time)
                continue; /* evaluate once all events at this second are in */
            int64_t t = s[i].time;
            while (lo <= i && s[lo].time <= t - DAY) {
                sum -= s[lo].score;
                lo++;
            }
            if (sum > 100 && (!fired || t >= last_fire + DAY)) {
                fired = true;
                last_fire = t;
                st = emit(ctx, &s[i], sum > INT32_MAX ? INT32_MAX : (int)sum, i + 1 - lo, err);
            }
        }
        g = e;
    }
    esc_free(s);
    return st;
}

typedef struct finish_ctx {
    esc_act *a;
    const esc_risk_point *run; /* this run's points of the object, sorted by event_id */
    size_t nrun;
} finish_ctx;

static int cmp_id(const void *x, const void *y) {
    return strcmp(((const esc_risk_point *)x)->event_id, ((const esc_risk_point *)y)->event_id);
}

static esc_status emit_incident(void *vctx, const esc_risk_point *at, int sum, size_t count,
                                esc_error *err) {
    finish_ctx *fc = vctx;
    esc_act *a = fc->a;
    esc_risk_point key = *at;
    if (!bsearch(&key, fc->run, fc->nrun, sizeof key, cmp_id))
        return ESC_OK; /* triggered by history alone: emitted by an earlier run */
    char id[65], title[1024];
    esc_buf b;
    esc_buf_init(&b, ESC_ACT_MAX_EVENT);
    esc_status st = esc_buf_printf(&b, "%s\x1f%s\x1f%s\x1f%lld", INCIDENT_RULE, at->type,
                                   at->object, (long long)at->time);
    if (st != ESC_OK) {
        esc_buf_fini(&b);
        return esc_error_set(err, st, "risk incident: %s", esc_strerror(st));
    }
    esc_sha256_hex(b.ptr, b.len, id);
    esc_buf_clear(&b);
    snprintf(title, sizeof title, "24 hour risk threshold exceeded for %s=%s", at->type,
             at->object);
    const char *sev = esc_act_severity(sum), *urg = esc_act_urgency(sev);
    jw w = {&b, true, ESC_OK, NULL};
    jc(&w, "{");
    jkint(&w, "_time", at->time);
    jkv(&w, "event_id", id);
    jkv(&w, "search_name", INCIDENT_RULE);
    jkv(&w, "rule_name", INCIDENT_RULE);
    jkv(&w, "rule_title", title);
    jkv(&w, "rule_description",
        "The sum of risk scores for this risk object over 24 hours exceeded 100.");
    jkv(&w, "security_domain", "threat");
    jkv(&w, "severity", sev);
    jkv(&w, "urgency", urg);
    jkv(&w, "status", "new");
    jkv(&w, "owner", "unassigned");
    jkv(&w, "risk_object", at->object);
    jkv(&w, "risk_object_type", at->type);
    jkint(&w, "risk_score", sum);
    jkint(&w, "risk_event_count", (int64_t)count);
    jkint(&w, "info_min_time", at->time - DAY);
    jkint(&w, "info_max_time", at->time);
    jkint(&w, "info_search_time", a->last_search_time);
    jc(&w, "}");
    if (w.st != ESC_OK) {
        esc_buf_fini(&b);
        return esc_error_set(err, w.st, "risk incident: %s", esc_strerror(w.st));
    }
    esc_sink_event ev = {
        .kind = ESC_SINK_NOTABLE,
        .event_id = id,
        .time = at->time,
        .search_name = INCIDENT_RULE,
        .rule_title = title,
        .severity = sev,
        .urgency = urg,
        .status = "new",
        .owner = "unassigned",
        .security_domain = "threat",
        .risk_object = at->object,
        .risk_object_type = at->type,
        .risk_score = sum,
        .json = b.ptr,
        .json_len = b.len,
    };
    st = deliver(a, &ev, err);
    if (st == ESC_OK)
        a->counts.incidents++;
    esc_buf_fini(&b);
    return st;
}

esc_status esc_act_finish(esc_act *a, esc_error *err) {
    if (a->npts == 0)
        return ESC_OK;
    qsort(a->pts, a->npts, sizeof *a->pts, cmp_point);
    esc_status st = ESC_OK;
    size_t g = 0;
    while (g < a->npts && st == ESC_OK) {
        size_t e = g;
        while (e < a->npts && strcmp(a->pts[e].type, a->pts[g].type) == 0 &&
               strcmp(a->pts[e].object, a->pts[g].object) == 0)
            e++;
        size_t nrun = e - g;
        esc_risk_history h = {NULL, 0, NULL};
        if (a->sinks)
            st = esc_sinks_history(a->sinks, a->pts[g].type, a->pts[g].object, &h, err);
        esc_risk_point *all = NULL, *run = NULL;
        if (st == ESC_OK) {
            all = esc_malloc((nrun + h.n) * sizeof *all);
            run = esc_malloc(nrun * sizeof *run);
            if (!all || !run)
                st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        }
        if (st == ESC_OK) {
            memcpy(all, a->pts + g, nrun * sizeof *all);
            if (h.n)
                memcpy(all + nrun, h.pts, h.n * sizeof *all);
            memcpy(run, a->pts + g, nrun * sizeof *run);
            qsort(run, nrun, sizeof *run, cmp_id);
            finish_ctx fc = {a, run, nrun};
            st = esc_act_incidents(all, nrun + h.n, emit_incident, &fc, err);
        }
        esc_free(all);
        esc_free(run);
        esc_risk_history_fini(&h);
        g = e;
    }
    /* this run's points are done with: a second finish emits nothing again */
    for (size_t i = 0; i < a->npts; i++) {
        esc_free((char *)a->pts[i].event_id);
        esc_free((char *)a->pts[i].object);
        esc_free((char *)a->pts[i].type);
    }
    a->npts = 0;
    return st;
}
