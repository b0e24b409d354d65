/* The second stage of a hunt: the risk events the other detections made become the records of
 * the Risk.All_Risk data model, over which the RBA correlation detections run.
 *
 * Order (docs/decisions.md): every detection that does not read Risk.All_Risk finishes first;
 * the action step (act/) turns their result rows into risk events exactly as it does for the
 * sinks (same deployment rules, same fields, same _time: the row's lastTime, else the run
 * time), table by table in detection order; each risk event, as the fields the action step
 * offers with it (its JSON read back when it offers none), is a field set that
 * esc_dm_map(ESC_DS_RISK) views as an All_Risk record, fed to every detection that reads the
 * data model, in the hunt's window [earliest, latest) applied to the risk event's _time; then
 * those detections finish. Deliberately not done: making the risk events on a thread of their
 * own beside the first-stage finishes (docs/benchmarks.md, "The risk stage beside the first
 * stage": no faster over 1 GiB, 15 MB more peak RSS).
 *
 * Invariants: a risk event is fed as it is made (nothing is kept but the second-stage
 * executions' own groups); the first-stage tables are only read. Deliberately not done: the
 * second stage's own risk events are not fed back (one level, as Enterprise Security's risk
 * incident rules read risk events and make notables); risk events of earlier runs (a --db
 * store) are not read. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "act/act.h"
#include "core/alloc.h"
#include "detect/risk_stage.h"
#include "parse/json_value.h"

/* A sink of our own: each risk event put into it is fed to the second-stage executions. */
typedef struct risk_feed {
    esc_sink base;
    esc_exec **x; /* the second-stage executions */
    size_t n;
    esc_arena arena;
} risk_feed;

/* The members of a risk event as a field set: strings and numbers as they are, an array as
 * one pair per element, objects and nulls left out (as the event offers them, esc_sink_field);
 * _time sets the record time. The values are not copied: they live as long as the put. */
static esc_status to_fields(const esc_sink_field *v, size_t n, esc_arena *a, esc_fields *fs) {
    *fs = (esc_fields){0};
    esc_status st = ESC_OK;
    for (size_t i = 0; !st && i < n; i++) {
        const esc_sink_field *m = &v[i];
        if (m->name[0] == '_' && !strcmp(m->name, "_time")) {
            char *end = NULL;
            double t = strtod(m->value, &end);
            if (m->kind == ESC_SINK_FIELD_NUM && end && !*end && t > -1e11 && t < 1e11) {
                fs->time_us = (int64_t)(t * 1e6);
                fs->has_time = true;
            }
            continue;
        }
        st = esc_fields_add(fs, a, esc_str_c(m->name), esc_str_make(m->value, m->len), false);
    }
    return st;
}

/* A risk event that does not offer its fields: its JSON read back, the members as the event
 * would have offered them (in the arena). */
static esc_status read_fields(const esc_sink_event *ev, esc_json_object **o, esc_arena *a,
                              esc_sink_field **out, size_t *n, esc_error *err) {
    esc_status st = esc_json_object_read(ev->json, ev->json_len, o, err);
    if (st)
        return st;
    size_t k = 0, cap = 0;
    for (size_t i = 0; i < esc_json_object_count(*o); i++) {
        const esc_json_member *m = esc_json_object_member(*o, i);
        cap += m->type == ESC_JT_ARR ? m->nitems : 1;
    }
    esc_sink_field *v = esc_arena_alloc(a, (cap ? cap : 1) * sizeof *v);
    if (!v)
        return esc_error_set(err, ESC_ENOMEM, "risk event fields: out of memory");
    for (size_t i = 0; i < esc_json_object_count(*o); i++) {
        const esc_json_member *m = esc_json_object_member(*o, i);
        if (m->type == ESC_JT_OBJ || m->type == ESC_JT_NULL)
            continue;
        if (m->type != ESC_JT_ARR) {
            esc_sink_field_kind kind =
                m->type == ESC_JT_NUM ? ESC_SINK_FIELD_NUM : ESC_SINK_FIELD_STR;
            v[k++] = (esc_sink_field){m->key, m->text, m->len, kind};
            continue;
        }
        for (size_t j = 0; j < m->nitems; j++)
            v[k++] =
                (esc_sink_field){m->key, m->items[j], strlen(m->items[j]), ESC_SINK_FIELD_ELEM};
    }
    *out = v;
    *n = k;
    return ESC_OK;
}

static esc_status put(esc_sink *s, const esc_sink_event *ev, esc_error *err) {
    risk_feed *f = (risk_feed *)s;
    if (ev->kind != ESC_SINK_RISK)
        return ESC_OK;
    esc_arena_reset(&f->arena);
    esc_json_object *o = NULL;
    const esc_sink_field *v = ev->fields;
    size_t n = ev->nfields;
    esc_status st = ESC_OK;
    if (!v) {
        esc_sink_field *read = NULL;
        st = read_fields(ev, &o, &f->arena, &read, &n, err);
        v = read;
    }
    if (st) {
        esc_json_object_free(o);
        return st;
    }
    esc_fields fs, view;
    if (!(st = to_fields(v, n, &f->arena, &fs)) && fs.has_time &&
        !(st = esc_dm_map(ESC_DS_RISK, &fs, &f->arena, &view))) {
        esc_record rec;
        memset(&rec, 0, sizeof rec);
        rec.time_us = view.time_us;
        rec.ds = ESC_DS_RISK;
        rec.fs = &view;
        for (size_t i = 0; !st && i < f->n; i++)
            st = esc_exec_feed(f->x[i], &rec, err);
    }
    esc_json_object_free(o);
    if (st && f->arena.failed)
        return esc_error_set(err, ESC_ENOMEM, "risk event fields: out of memory");
    return st;
}

static const esc_sink_ops feed_ops = {"risk-stage", put, NULL, NULL, NULL};

bool esc_risk_stage_reads(const esc_plan *p) {
    return (esc_plan_datasets(p) & (1u << ESC_DS_RISK)) != 0;
}

esc_status esc_risk_stage_run(const esc_risk_stage *rs, esc_error *err) {
    size_t n = 0;
    for (size_t i = 0; i < rs->n; i++)
        n += rs->second[i];
    if (!n)
        return ESC_OK;
    risk_feed *f = esc_calloc(1, sizeof *f);
    esc_exec **x = esc_malloc(n * sizeof *x);
    esc_sinks *sinks = NULL;
    esc_act *act = NULL;
    esc_status st = ESC_OK;
    if (!f || !x) {
        esc_free(f);
        esc_free(x);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    *f = (risk_feed){.base = {&feed_ops}, .x = x};
    for (size_t i = 0; i < rs->n; i++)
        if (rs->second[i])
            x[f->n++] = rs->x[i];
    esc_arena_init(&f->arena, 1 << 16, ESC_RISK_STAGE_ARENA);
    if ((st = esc_sinks_open(&(esc_sink_opts){0}, &sinks, err)))
        goto out;
    if ((st = esc_sinks_add(sinks, &f->base, err)))
        goto out;
    if (!(act = esc_act_new(rs->content, sinks, err))) {
        st = err && err->code ? err->code : ESC_ENOMEM;
        goto out;
    }
    esc_act_set_risk_only(act, true); /* the notables are the output step's */
    esc_act_window w = {rs->earliest_us / 1000000,
                        rs->latest_us == ESC_TIME_MAX ? ESC_ACT_INFINITY : rs->latest_us / 1000000,
                        rs->now ? rs->now : (int64_t)time(NULL)};
    for (size_t i = 0; !st && i < rs->n; i++) {
        if (rs->second[i] || !rs->tables[i] || !rs->tables[i]->nrows)
            continue;
        esc_act_input in = {.detection = rs->det[i], .rows = rs->tables[i], .window = w};
        esc_error e = {0};
        st = esc_act_rows(act, &in, &e);
        if (st == ESC_SKIP) /* an event over the size cap: the sinks' step reports it */
            st = ESC_OK;
        else if (st && err)
            *err = e;
    }
out:
    esc_act_free(act);
    esc_sinks_close(sinks, NULL); /* closes nothing of f: its ops have no close */
    esc_arena_fini(&f->arena);
    esc_free(f);
    esc_free(x);
    return st;
}
