/* Actions of the run loop: firing windows and emitting late rows into the sinks (docs/run.md).
 *
 * A step opens the sinks at its first action (a session) and closes them before its checkpoint,
 * noting the committed sizes of the JSON-lines files. Every event passes through one wrapping
 * sink that counts notables and risk events, holds the crash test hook and, during a late
 * emission, rewrites the event as docs/run.md's late events are (late, lag, orig_event_id, and
 * a new event_id for a changed row, on notables and risk events alike).
 * Invariants: a window fires once (its execution is gone afterwards); firing goes through the
 * one action step (esc_act_step), late rows too; a fired window is kept for late events only with
 * late_emit.
 * Not done here: deciding what is due (the agenda, run.c), the checkpoint (run.c), keeping
 * records (run_window.c). esc_act_late is not used for late rows: its output differs from the
 * run's documented late events (ids of changed rows, risk events, field order). */
#include "sched/run_internal.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "act/act.h"
#include "core/alloc.h"

/* ---- the sinks session ------------------------------------------------------------------- */

/* A late event as docs/run.md gives it: the event_id replaced (a new one for a changed row),
 * then late, lag and (notables of changed rows) orig_event_id at the end of its JSON. */
static esc_status rewrite_late(esc_runner *r, const esc_sink_event *ev, esc_error *err) {
    char id[65], orig[65];
    snprintf(orig, sizeof orig, "%s", ev->event_id);
    if (r->late.changed) {
        char tmp[160];
        int n = snprintf(tmp, sizeof tmp, "%s\x1flate\x1f%llu", ev->event_id,
                         (unsigned long long)r->late.salt);
        esc_sha256_hex(tmp, (size_t)n, id);
    } else {
        snprintf(id, sizeof id, "%s", ev->event_id);
    }
    esc_buf b;
    esc_buf_init(&b, 0);
    const char *at = strstr(ev->json, ev->event_id);
    size_t cut = ev->json_len;
    while (cut > 0 && ev->json[cut - 1] != '}')
        cut--;
    esc_status st = ESC_OK;
    if (!at || cut == 0 || (size_t)(at - ev->json) + 64 > cut) {
        st = esc_error_set(err, ESC_EINTERNAL, "late rewrite: event_id not in the event");
        goto out;
    }
    size_t pre = (size_t)(at - ev->json);
    st = esc_buf_append(&b, ev->json, pre);
    if (!st)
        st = esc_buf_append(&b, id, 64);
    if (!st)
        st = esc_buf_append(&b, at + 64, cut - 1 - pre - 64);
    if (!st)
        st = esc_buf_printf(&b, ", \"late\": true, \"lag\": %lld", (long long)r->late.lag);
    if (!st && ev->kind == ESC_SINK_NOTABLE && r->late.changed)
        st = esc_buf_printf(&b, ", \"orig_event_id\": \"%s\"", orig);
    if (!st)
        st = esc_buf_putc(&b, '}');
    if (st) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    esc_sink_event e2 = *ev;
    e2.event_id = id;
    e2.json = b.ptr;
    e2.json_len = b.len;
    st = esc_sinks_put(r->real, &e2, err);
    if (!st && r->kafka)
        st = esc_run_kafka_output(r, &e2, err);
out:
    esc_buf_fini(&b);
    return st;
}

static esc_status rs_put(esc_sink *s, const esc_sink_event *ev, esc_error *err) {
    esc_runner *r = ((run_sink *)s)->r;
    esc_status st;
    if (ev->kind == ESC_SINK_NOTABLE) {
        r->stats.notables++;
        if (r->late.active) {
            r->stats.late_emitted++;
            r->meta_dirty = true;
        }
    } else {
        r->stats.risk_events++;
    }
    st = r->late.active ? rewrite_late(r, ev, err) : esc_sinks_put(r->real, ev, err);
    if (!st && !r->late.active && r->kafka)
        st = esc_run_kafka_output(r, ev, err);
    if (!st)
        st = esc_run_risk_note(r, ev, err);
    if (++r->puts == (uint64_t)r->crash_sink)
        raise(SIGKILL);
    return st;
}
static esc_status rs_history(esc_sink *s, const char *type, const char *object,
                             esc_risk_history *out, esc_error *err) {
    return esc_run_risk_history(((run_sink *)s)->r, type, object, out, err);
}
static const esc_sink_ops run_sink_ops = {"run", rs_put, NULL, NULL, rs_history};

static esc_status session_open(esc_runner *r, esc_error *err) {
    if (r->act)
        return ESC_OK;
    esc_status st = esc_sinks_open(&r->o.sinks, &r->real, err);
    if (!st)
        st = esc_sinks_open(NULL, &r->wrapset, err);
    if (!st) {
        r->wrap.base.ops = &run_sink_ops;
        r->wrap.r = r;
        st = esc_sinks_add(r->wrapset, &r->wrap.base, err);
    }
    if (!st && !(r->act = esc_act_new(r->o.content, r->wrapset, err)))
        st = err && err->code ? err->code : ESC_ENOMEM;
    if (!st)
        esc_act_set_evidence(r->act, r->o.evidence);
    return st;
}

uint64_t esc_run_file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

esc_status esc_run_session_close(esc_runner *r, esc_error *err) {
    if (!r->act && !r->real)
        return ESC_OK;
    esc_act_free(r->act);
    r->act = NULL;
    esc_sinks_close(r->wrapset, NULL);
    r->wrapset = NULL;
    /* batches a sink (HEC) holds spooled are no failure: the run goes on, the other sinks
     * commit, and the spool is sent first by a later step or run; a message says so */
    esc_status st = esc_sinks_flush(r->real, err);
    esc_error why = {0};
    size_t pending = st ? 0 : esc_sinks_pending(r->real, &why);
    if (pending && why.msg[0])
        esc_run_msg(r, "%s (the run goes on)", why.msg);
    else if (pending)
        esc_run_msg(r, "%zu batch(es) not delivered yet, kept spooled (the run goes on)", pending);
    esc_status cst = esc_sinks_close(r->real, st ? NULL : err);
    if (!st)
        st = cst;
    r->real = NULL;
    const char *p[2] = {r->o.sinks.notables_path, r->o.sinks.risk_path};
    for (int i = 0; i < 2; i++)
        if (r->sink_track[i])
            r->sink_size[i] = esc_run_file_size(p[i]);
    r->meta_dirty = true;
    return st;
}

void esc_run_session_free(esc_runner *r) {
    if (r->act || r->real) {
        esc_act_free(r->act);
        esc_sinks_close(r->wrapset, NULL);
        esc_sinks_close(r->real, NULL);
    }
}

/* ---- firing ------------------------------------------------------------------------------ */

static esc_status add_fired(esc_runner *r, size_t det, const esc_window *w, int64_t t,
                            esc_error *err) {
    if (r->nfired == r->capfired && !ESC_VEC_GROW(r->fired, r->capfired, r->nfired + 1, 16))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->fired[r->nfired++] = (fired_row){det, w->earliest, w->latest, t};
    return ESC_OK;
}

/* An event over the size cap is a message, not a failed step: retrying would fail the same way
 * forever. */
static void skip_msg(void *r, const esc_error *e) {
    esc_run_msg(r, "%s", e->msg[0] ? e->msg : "an event over the size cap was not made");
}

esc_status esc_run_fire(esc_runner *r, const esc_run *run, esc_error *err) {
    if (r->kafka)
        return esc_run_kafka_fire(r, run, err);
    win_state *w = esc_run_win_find(r, run->job, run->scheduled);
    esc_status st;
    if (!w && (st = esc_run_win_new(r, run->job, run->scheduled, &w, err)))
        return st;
    if (w->fired) /* kept for late events: never twice */
        return ESC_OK;
    return esc_run_fire_win(r, run, w, err);
}

esc_status esc_run_fire_win(esc_runner *r, const esc_run *run, win_state *w, esc_error *err) {
    return esc_run_fire_wins(r, run, &w, 1, err);
}

/* The table of w's records, fed into a new execution. */
static esc_status records_table(esc_runner *r, const win_state *w, esc_table **out,
                                esc_error *err) {
    esc_buf tmp;
    const esc_buf *b;
    esc_buf_init(&tmp, 0);
    esc_status st = esc_run_win_records(r, w, &tmp, &b, err);
    if (!st)
        st = esc_run_blob_table(&r->det[w->det], w, b, b->len, out, err);
    esc_buf_fini(&tmp);
    return st;
}

esc_status esc_run_fire_wins(esc_runner *r, const esc_run *run, win_state *const *w, size_t n,
                             esc_error *err) {
    size_t j = run->job;
    det_state *d = &r->det[j];
    esc_status st = ESC_OK;
    esc_act_input *in = esc_calloc(n ? n : 1, sizeof *in);
    if (!in)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    size_t k = 0;
    for (; k < n && !st; k++) {
        esc_table *t = NULL;
        if (d->two_stage) /* its partial goes to the merging worker (run_repart.c) */
            st = esc_run_repart_stash(r, w[k], err);
        else if (w[k]->x)
            st = esc_exec_finish(w[k]->x, &t, err);
        else
            st = records_table(r, w[k], &t, err);
        esc_exec_free(w[k]->x);
        w[k]->x = NULL;
        in[k] = (esc_act_input){
            d->d, t, NULL, 0, {w[k]->w.earliest, w[k]->w.latest, run->scheduled}, NULL};
    }
    if (st || (!d->two_stage && (st = session_open(r, err))))
        goto out;
    /* one action step for the run: the risk incident rule sees its events together */
    if (!d->two_stage &&
        (st = esc_act_step(r->act, in, n, &(esc_act_hooks){.skipped = skip_msg, .ctx = r}, err)))
        goto out;
    if (run->scheduled > d->last_fired) /* a Kafka catch-up window fires after later runs */
        d->last_fired = run->scheduled;
    for (size_t i = 0; i < n && !st; i++) {
        r->stats.fired++;
        r->fired_total++;
        r->meta_dirty = true;
        if ((st = add_fired(r, j, &w[i]->w, run->scheduled, err)))
            goto out;
        w[i]->fired = true;
        w[i]->dirty = true;
        if (r->o.late_emit) {
            esc_run_blob_set_fired(&w[i]->blob);
            esc_run_blob_set_emitted(&w[i]->blob, esc_run_win_len(w[i]));
        } else {
            w[i]->deleted = true;
        }
    }
out:
    for (size_t i = 0; i < k; i++)
        esc_table_free((esc_table *)in[i].rows);
    esc_free(in);
    return st;
}

esc_status esc_run_fire_merged(esc_runner *r, size_t det, int64_t sched, const esc_window *w,
                               esc_exec *x, esc_error *err) {
    esc_table *t = NULL;
    esc_status st = esc_exec_finish(x, &t, err);
    esc_exec_free(x);
    if (!st)
        st = session_open(r, err);
    esc_act_input in = {r->det[det].d, t, NULL, 0, {w->earliest, w->latest, sched}, NULL};
    if (!st)
        st = esc_act_step(r->act, &in, 1, &(esc_act_hooks){.skipped = skip_msg, .ctx = r}, err);
    if (!st) {
        r->stats.fired++;
        r->fired_total++;
        r->meta_dirty = true;
    }
    esc_table_free(t);
    return st;
}

/* ---- late emission ----------------------------------------------------------------------- */

/* Identity columns as act uses them when no BY list is given. */
static size_t id_cols(const esc_table *t, const char **by, size_t cap) {
    size_t n = 0;
    for (size_t c = 0; c < t->ncols && n < cap; c++) {
        if (t->mv_col[c] || !strcmp(t->cols[c], "firstTime") || !strcmp(t->cols[c], "lastTime"))
            continue;
        bool num = false;
        for (size_t i = 0; i < t->nrows && !num; i++)
            num = esc_table_cell(t, i, c)->is_num;
        if (!num)
            by[n++] = t->cols[c];
    }
    return n;
}

static long find_row(const esc_table *t, const esc_table *in, size_t row, const char **by,
                     size_t nby) {
    for (size_t i = 0; i < t->nrows; i++) {
        bool eq = true;
        for (size_t k = 0; k < nby && eq; k++) {
            int a = esc_table_col(t, by[k]), b = esc_table_col(in, by[k]);
            if (a < 0 || b < 0)
                eq = a == b;
            else
                eq = esc_cell_eq(esc_table_cell(t, i, (size_t)a),
                                 esc_table_cell(in, row, (size_t)b));
        }
        if (eq)
            return (long)i;
    }
    return -1;
}

/* Whether row i of cur is new (*changed false), changed (*changed true) or unchanged (false
 * returned) against the rows already emitted. */
static bool to_emit(const esc_table *old, const esc_table *cur, size_t i, const char **by,
                    size_t nby, bool *changed) {
    long o = find_row(old, cur, i, by, nby);
    *changed = o >= 0;
    if (o < 0)
        return true;
    bool same = old->ncols == cur->ncols;
    for (size_t c = 0; c < cur->ncols && same; c++)
        same = !strcmp(old->cols[c], cur->cols[c]) &&
               esc_cell_eq(esc_table_cell(old, (size_t)o, c), esc_table_cell(cur, i, c));
    return !same;
}

/* The late rows of one emission, as the action step goes through them: the wrapping sink
 * rewrites the events of a row while it is marked late (late_begin .. late_end). */
typedef struct late_rows {
    esc_runner *r;
    bool *changed; /* per input: updates a row that already fired */
    uint64_t salt; /* records in the window: new ids of changed rows differ per emission */
    int64_t lag;
} late_rows;

static void late_begin(void *ctx, size_t i) {
    late_rows *lr = ctx;
    lr->r->late.active = true;
    lr->r->late.changed = lr->changed[i];
    lr->r->late.salt = lr->salt;
    lr->r->late.lag = lr->lag;
}

static void late_skip(void *ctx, const esc_error *e) {
    skip_msg(((late_rows *)ctx)->r, e);
}

static void late_end(void *ctx, size_t i) {
    (void)i;
    ((late_rows *)ctx)->r->late.active = false;
}

/* A fired window with late records: recompute it; rows that are new or changed since its last
 * emission become late notables through the action step (one input per row, so the wrapping
 * sink knows which row an event is of), and the incident rule runs once over them. */
esc_status esc_run_emit_late(esc_runner *r, win_state *w, int64_t now, esc_error *err) {
    det_state *d = &r->det[w->det];
    if (d->two_stage) { /* its rows are the merging worker's: a partition's late records are
                           counted late, not emitted (docs/scale.md "Two stages") */
        esc_run_blob_set_emitted(&w->blob, esc_run_win_len(w));
        w->late_dirty = false;
        w->dirty = true;
        return ESC_OK;
    }
    esc_table *old = NULL, *cur = NULL;
    const char **by = NULL;
    esc_buf tmp;
    const esc_buf *b;
    esc_buf_init(&tmp, 0);
    esc_status st = esc_run_win_records(r, w, &tmp, &b, err);
    if (!st)
        st = esc_run_blob_table(d, w, b, esc_run_blob_emitted(&w->blob), &old, err);
    if (!st)
        st = esc_run_blob_table(d, w, b, b->len, &cur, err);
    if (st)
        goto out;
    if (!(by = esc_calloc(cur->ncols + 1, sizeof *by))) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    size_t nby = id_cols(cur, by, cur->ncols);
    if ((st = session_open(r, err)))
        goto out;
    late_rows lr = {r, NULL, esc_run_blob_count(b), now - w->sched};
    esc_table *one = esc_calloc(cur->nrows ? cur->nrows : 1, sizeof *one);
    esc_act_input *in = esc_calloc(cur->nrows ? cur->nrows : 1, sizeof *in);
    lr.changed = esc_calloc(cur->nrows ? cur->nrows : 1, sizeof *lr.changed);
    if (!one || !in || !lr.changed) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
    } else {
        size_t n = 0;
        for (size_t i = 0; i < cur->nrows; i++) {
            if (!to_emit(old, cur, i, by, nby, &lr.changed[n]))
                continue;
            one[n] = *cur;
            one[n].nrows = 1;
            one[n].cells = cur->cells + i * cur->ncols;
            in[n] =
                (esc_act_input){d->d, &one[n], by, nby, {w->w.earliest, w->w.latest, now}, NULL};
            n++;
        }
        esc_act_hooks hooks = {late_skip, late_begin, late_end, &lr};
        st = esc_act_step(r->act, in, n, &hooks, err);
    }
    esc_free(one);
    esc_free(in);
    esc_free(lr.changed);
    if (!st) {
        esc_run_blob_set_emitted(&w->blob, esc_run_win_len(w));
        w->late_dirty = false;
        w->dirty = true;
    }
out:
    esc_buf_fini(&tmp);
    esc_free(by);
    esc_table_free(old);
    esc_table_free(cur);
    return st;
}
