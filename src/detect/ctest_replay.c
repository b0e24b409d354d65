/* Unit and integration tests of one detection (esc_ctest_run): its attack data replayed
 * through the engine, the result rows through the action step.
 *
 * Unit: the test's attack data files (ctest_discover.c finds them) go through esc_hunt over
 * all time ([0, +Infinity)), exactly as the `hunt` command drives the engine; the test passes
 * when one result row has every observable field present and not "null". Integration: the same
 * rows go through esc_act_step into a sink of our own that keeps the events in memory, and the
 * notables and risk events are checked against the detection: a notable when the deployment
 * makes notables, risk events with the detection's search name, stories, ATT&CK ids, score and
 * a Victim's type, no $token$ left in a risk message, every declared risk object covered. A
 * risk event is read back with parse/json_value.h.
 *
 * Invariants: every entry of `tests:` gets exactly one unit and one integration result (a test
 * that cannot run gets two skips, a search that does not compile two failures); at most
 * opts->max_capture events are kept per test; only ESC_ENOMEM / ESC_ELIMIT are errors.
 * Deliberately not done: reading, mapping or feeding records (the engine alone does, behind
 * esc_hunt), Splunk's own replay (files are read as files, with their original timestamps),
 * the risk incident rule's notables (counted, not checked). */
#include "detect/ctest_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "act/act.h"
#include "parse/json_value.h"
#include "sink/sink.h"

#define CAPTURE_MAX_EVENTS 1000000

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- in-memory capture of the actions' events ---------------------------------------------- */

typedef struct cap_event {
    esc_sink_kind kind;
    char *json;
    size_t len;
} cap_event;

typedef struct capture {
    esc_sink base;
    const char *search_name; /* the detection's; other notables are risk incidents */
    cap_event *v;
    size_t n, cap;
    size_t max; /* CAPTURE_MAX_EVENTS unless the options lower it */
    size_t incidents;
} capture;

static esc_status cap_put(esc_sink *s, const esc_sink_event *ev, esc_error *err) {
    capture *c = (capture *)s;
    if (ev->kind == ESC_SINK_NOTABLE &&
        (!ev->search_name || strcmp(ev->search_name, c->search_name) != 0)) {
        c->incidents++; /* the risk incident rule's notables are not the detection's */
        return ESC_OK;
    }
    if (c->n == c->max)
        return esc_error_set(err, ESC_ELIMIT, "more than %zu events from one test", c->max);
    if (c->n == c->cap && !ESC_VEC_GROW(c->v, c->cap, c->n + 1, 64))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    char *j = esc_strndup(ev->json, ev->json_len);
    if (!j)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    c->v[c->n++] = (cap_event){ev->kind, j, ev->json_len};
    return ESC_OK;
}

/* no flush or close: the capture is owned by the test, which frees it after the sinks */
static const esc_sink_ops CAPTURE_OPS = {"capture", cap_put, NULL, NULL, NULL};

static void capture_fini(capture *c) {
    for (size_t i = 0; i < c->n; i++)
        esc_free(c->v[i].json);
    esc_free(c->v);
}

/* ---- reading a captured risk event ------------------------------------------------------- */

/* The fields of one risk event the checks compare (the first of each key with the expected
 * type); the strings belong to obj. */
typedef struct risk_view {
    esc_json_object *obj;
    const char *search_name, *risk_object, *risk_object_type, *risk_message;
    long risk_score;
    bool has_score;
    esc_strlist stories, mitre;
} risk_view;

static const char *member_str(const esc_json_object *o, const char *key) {
    const esc_json_member *m = esc_json_object_get(o, key, ESC_JT_STR);
    return m ? m->text : NULL;
}

static esc_strlist member_list(const esc_json_object *o, const char *key) {
    const esc_json_member *m = esc_json_object_get(o, key, ESC_JT_ARR);
    return m ? (esc_strlist){m->items, m->nitems} : (esc_strlist){NULL, 0};
}

static esc_status risk_read(const char *json, size_t len, risk_view *v, esc_error *err) {
    memset(v, 0, sizeof *v);
    esc_error je = {0};
    esc_status st = esc_json_object_read(json, len, &v->obj, &je);
    if (st == ESC_ENOMEM)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (st != ESC_OK)
        return esc_error_set(err, ESC_EINTERNAL, "risk event is not valid JSON: %s", je.msg);
    v->search_name = member_str(v->obj, "search_name");
    v->risk_object = member_str(v->obj, "risk_object");
    v->risk_object_type = member_str(v->obj, "risk_object_type");
    v->risk_message = member_str(v->obj, "risk_message");
    const esc_json_member *score = esc_json_object_get(v->obj, "risk_score", ESC_JT_NUM);
    if (score) {
        v->risk_score = strtol(score->text, NULL, 10);
        v->has_score = true;
    }
    v->stories = member_list(v->obj, "analyticstories");
    v->mitre = member_list(v->obj, "annotations.mitre_attack");
    return ESC_OK;
}

static bool list_eq(const esc_strlist *a, const esc_strlist *b) {
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

static void list_text(const esc_strlist *l, char *out, size_t cap) {
    size_t n = 0;
    int w = snprintf(out, cap, "[");
    n = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < l->n && n < cap; i++) {
        w = snprintf(out + n, cap - n, "%s\"%s\"", i ? ", " : "", l->v[i]);
        if (w < 0)
            return;
        n += (size_t)w;
    }
    if (n < cap)
        snprintf(out + n, cap - n, "]");
}

/* ---- unit: the result rows ---------------------------------------------------------------- */

/* A cell counts as present when it has a value other than "null" (contentctl's rule; CIM's
 * "unknown" counts as present). */
static bool cell_present(const esc_cell *c) {
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i] && strcmp(c->v[i], "null") != 0)
            return true;
    return false;
}

static esc_status unit_check(esc_ctest_result *r, const esc_detection *d, const esc_table *t,
                             const esc_hunt_stats *hs, size_t nfiles, esc_error *err) {
    r->rows = t->nrows;
    if (t->nrows == 0)
        return esc_ctest_reason(
            r, err,
            "the search returned no rows (%zu file%s: %llu events, %llu process "
            "events)",
            nfiles, nfiles == 1 ? "" : "s", (unsigned long long)hs->events,
            (unsigned long long)hs->process_events);
    if (d->nobservables == 0)
        return ESC_OK;
    int col[64];
    size_t nf = d->nobservables < 64 ? d->nobservables : 64;
    for (size_t i = 0; i < nf; i++) {
        const char *nm = d->observables[i].name;
        col[i] = table_col_n(t, nm, strlen(nm));
    }
    for (size_t row = 0; row < t->nrows; row++) {
        bool all = true;
        for (size_t i = 0; i < nf && all; i++)
            all = col[i] >= 0 && cell_present(esc_table_cell(t, row, (size_t)col[i]));
        if (all)
            return ESC_OK;
    }
    /* say which fields are to blame */
    char detail[1024];
    size_t n = 0;
    detail[0] = 0;
    for (size_t i = 0; i < nf && n < sizeof detail; i++) {
        const char *nm = d->observables[i].name;
        int w;
        if (col[i] < 0) {
            w = snprintf(detail + n, sizeof detail - n, "%s%s: not in the search's output",
                         n ? "; " : "", nm);
        } else {
            size_t have = 0;
            for (size_t row = 0; row < t->nrows; row++)
                have += cell_present(esc_table_cell(t, row, (size_t)col[i]));
            if (have == t->nrows)
                continue;
            w = snprintf(detail + n, sizeof detail - n, "%s%s: null in %zu of %zu rows",
                         n ? "; " : "", nm, t->nrows - have, t->nrows);
        }
        if (w < 0)
            break;
        n += (size_t)w;
    }
    return esc_ctest_reason(r, err,
                            "none of the %zu rows has every observable field present and not "
                            "\"null\" (%s)",
                            t->nrows, detail);
}

/* ---- integration: the action step and its events ----------------------------------------------
 */

static bool has_role(const esc_observable *o, const char *role) {
    for (size_t i = 0; i < o->roles.n; i++)
        if (strcasecmp(o->roles.v[i], role) == 0)
            return true;
    return false;
}

static int expected_score(const esc_detection *d) {
    if (d->impact >= 0 && d->confidence >= 0)
        return (int)lround((double)d->impact * (double)d->confidence / 100.0);
    return d->risk_score >= 0 ? d->risk_score : 0;
}

/* The first event the action step could not make (over the size cap) fails the test. */
static void first_skip(void *first, const esc_error *e) {
    esc_error *f = first;
    if (f->code == ESC_OK) {
        *f = *e;
        f->code = ESC_SKIP;
    }
}

/* The rows of t through the action step (into the capture behind act). A failure of the
 * actions is a reason in r; ESC_ENOMEM is an error. */
static esc_status act_rows(esc_ctest_result *r, esc_act *act, const esc_detection *d,
                           const esc_table *t, const esc_ctest_opts *o, esc_error *err) {
    esc_error ae = {0};
    esc_act_input in = {.detection = d, .rows = t, .window = {0, ESC_ACT_INFINITY, o->search_time}};
    esc_error skipped = {0};
    esc_status ast =
        esc_act_step(act, &in, 1, &(esc_act_hooks){.skipped = first_skip, .ctx = &skipped}, &ae);
    if (ast == ESC_OK && skipped.code != ESC_OK) {
        ast = skipped.code;
        ae = skipped;
    }
    if (ast == ESC_ENOMEM) {
        if (err)
            *err = ae;
        return ast;
    }
    if (ast != ESC_OK)
        return esc_ctest_reason(r, err, "actions failed: %s", ae.msg);
    return ESC_OK;
}

/* Which kinds of mismatch were reported already: each is reported once per test. */
typedef struct seen {
    bool name, story, mitre, type, score, token;
} seen;

/* One risk event against the detection. */
static esc_status check_risk_event(esc_ctest_result *r, const esc_detection *d, const risk_view *v,
                                   const char *search_name, seen *s, esc_error *err) {
    esc_status st = ESC_OK;
    if (!s->name && (!v->search_name || strcmp(v->search_name, search_name) != 0)) {
        s->name = true;
        st = esc_ctest_reason(r, err, "risk event search_name '%s', expected '%s'",
                              v->search_name ? v->search_name : "(absent)", search_name);
    }
    if (st == ESC_OK && !s->story && !list_eq(&v->stories, &d->analytic_story)) {
        char got[512], want[512];
        list_text(&v->stories, got, sizeof got);
        list_text(&d->analytic_story, want, sizeof want);
        s->story = true;
        st = esc_ctest_reason(r, err, "risk event analyticstories %s, expected %s", got, want);
    }
    if (st == ESC_OK && !s->mitre && !list_eq(&v->mitre, &d->mitre_attack_id)) {
        char got[512], want[512];
        list_text(&v->mitre, got, sizeof got);
        list_text(&d->mitre_attack_id, want, sizeof want);
        s->mitre = true;
        st = esc_ctest_reason(r, err, "risk event annotations.mitre_attack %s, expected %s", got,
                              want);
    }
    if (st == ESC_OK && !s->type) {
        bool ok = false;
        for (size_t k = 0; k < d->nobservables && !ok; k++) {
            const esc_observable *ob = &d->observables[k];
            const char *ty = esc_act_object_type(ob->type);
            ok = has_role(ob, "Victim") && ty && v->risk_object_type &&
                 strcmp(ty, v->risk_object_type) == 0;
        }
        if (!ok) {
            s->type = true;
            st = esc_ctest_reason(r, err,
                                  "risk event risk_object_type '%s' is not the type of a Victim "
                                  "observable",
                                  v->risk_object_type ? v->risk_object_type : "(absent)");
        }
    }
    int score = expected_score(d);
    if (st == ESC_OK && !s->score && (!v->has_score || v->risk_score != score)) {
        s->score = true;
        st = esc_ctest_reason(r, err, "risk event risk_score %ld, expected %d", v->risk_score,
                              score);
    }
    if (st == ESC_OK && !s->token && v->risk_message) {
        size_t p2 = 0, a0, an;
        if (next_token(v->risk_message, &p2, &a0, &an)) {
            s->token = true;
            st = esc_ctest_reason(r, err, "risk_message has an unreplaced token $%.*s$: %s",
                                  (int)an, v->risk_message + a0, v->risk_message);
        }
    }
    return st;
}

/* Every declared risk object (a Victim observable of type user or system) covered: some row's
 * value for it (other than unknown) is the object of a risk event of that type. */
static esc_status check_coverage(esc_ctest_result *r, const esc_detection *d, const esc_table *t,
                                 const risk_view *views, size_t nviews, esc_error *err) {
    esc_status st = ESC_OK;
    for (size_t k = 0; k < d->nobservables && st == ESC_OK; k++) {
        const esc_observable *ob = &d->observables[k];
        const char *ty = esc_act_object_type(ob->type);
        if (!has_role(ob, "Victim") || !ty)
            continue;
        int col = table_col_n(t, ob->name, strlen(ob->name));
        if (col < 0) {
            st = esc_ctest_reason(r, err,
                                  "declared risk object %s (%s) is not covered: the search does "
                                  "not output %s",
                                  ob->name, ty, ob->name);
            continue;
        }
        bool covered = false, any_value = false;
        for (size_t row = 0; row < t->nrows && !covered; row++) {
            const esc_cell *cell = esc_table_cell(t, row, (size_t)col);
            for (size_t j = 0; j < cell->n && !covered; j++) {
                if (strcmp(cell->v[j], "unknown") == 0)
                    continue;
                any_value = true;
                for (size_t q = 0; q < nviews && !covered; q++)
                    covered = views[q].risk_object && views[q].risk_object_type &&
                              strcmp(views[q].risk_object_type, ty) == 0 &&
                              strcmp(views[q].risk_object, cell->v[j]) == 0;
            }
        }
        if (!covered)
            st = esc_ctest_reason(r, err,
                                  any_value ? "declared risk object %s (%s) is not covered by "
                                              "any risk event"
                                            : "declared risk object %s (%s) is not covered: no "
                                              "row has a value for it other than unknown",
                                  ob->name, ty);
    }
    return st;
}

/* The captured risk events: each read and checked, then the coverage of the risk objects. */
static esc_status check_risk_events(esc_ctest_result *r, const esc_detection *d, const esc_table *t,
                                    const capture *cap, const char *search_name, esc_error *err) {
    esc_status st = ESC_OK;
    seen s = {0};
    risk_view *views = esc_calloc(cap->n ? cap->n : 1, sizeof *views);
    if (!views)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    size_t nviews = 0;
    for (size_t i = 0; i < cap->n && st == ESC_OK; i++) {
        if (cap->v[i].kind != ESC_SINK_RISK)
            continue;
        risk_view *v = &views[nviews];
        if ((st = risk_read(cap->v[i].json, cap->v[i].len, v, err)) != ESC_OK)
            break;
        nviews++;
        st = check_risk_event(r, d, v, search_name, &s, err);
    }
    if (st == ESC_OK)
        st = check_coverage(r, d, t, views, nviews, err);
    for (size_t i = 0; i < nviews; i++)
        esc_json_object_free(views[i].obj);
    esc_free(views);
    return st;
}

/* The events of the action step, counted and checked (the sinks are still open). */
static esc_status check_events(esc_ctest_result *r, const esc_detection *d, const esc_table *t,
                               const capture *cap, const char *search_name, esc_error *err) {
    const esc_deployment *dep = d->deployment;
    esc_status st = ESC_OK;
    size_t nnotable = 0, nrisk = 0;
    for (size_t i = 0; i < cap->n; i++)
        *(cap->v[i].kind == ESC_SINK_NOTABLE ? &nnotable : &nrisk) += 1;
    r->notables = nnotable;
    r->risk_events = nrisk;
    r->incidents = cap->incidents;
    if (dep->notable && nnotable == 0 &&
        (st = esc_ctest_reason(r, err, "no notable (%zu result rows)", t->nrows)) != ESC_OK)
        return st;
    if (!dep->rba)
        return ESC_OK;
    if (nrisk == 0 && (st = esc_ctest_reason(r, err, "no risk event (%zu result rows)", t->nrows)))
        return st;
    /* message tokens the rows do not have render empty: a misspelt token */
    size_t pos = 0, s0, tn;
    while (d->message && next_token(d->message, &pos, &s0, &tn) && st == ESC_OK)
        if (table_col_n(t, d->message + s0, tn) < 0)
            st = esc_ctest_reason(r, err,
                                  "risk_message: $%.*s$ is not a field of the result rows, so it "
                                  "renders empty",
                                  (int)tn, d->message + s0);
    if (st != ESC_OK)
        return st;
    return check_risk_events(r, d, t, cap, search_name, err);
}

static esc_status integration_check(esc_ctest_result *r, const esc_content *c,
                                    const esc_detection *d, const esc_table *t,
                                    const esc_ctest_opts *o, esc_error *err) {
    esc_status st = ESC_OK;
    char search_name[1024];
    snprintf(search_name, sizeof search_name, "ESCU - %s - Rule", d->name);
    capture cap = {.base = {&CAPTURE_OPS},
                   .search_name = search_name,
                   .max = o->max_capture ? o->max_capture : CAPTURE_MAX_EVENTS};
    esc_sinks *sinks = NULL;
    esc_act *act = NULL;
    esc_error ae = {0};
    const esc_deployment *dep = d->deployment;
    if (!dep)
        return esc_ctest_reason(r, err,
                                "no deployment of type %s in the content: no notable or risk "
                                "event can be made",
                                d->type ? d->type : "(none)");
    if (!dep->notable && !dep->rba)
        return esc_ctest_reason(r, err, "deployment %s makes neither notables nor risk events",
                                dep->name ? dep->name : "?");
    if ((st = esc_sinks_open(NULL, &sinks, err)) != ESC_OK)
        return st;
    if ((st = esc_sinks_add(sinks, &cap.base, err)) != ESC_OK)
        goto out;
    if (!(act = esc_act_new(c, sinks, &ae))) {
        st = ae.code ? ae.code : ESC_ENOMEM;
        if (err)
            *err = ae;
        goto out;
    }
    if ((st = act_rows(r, act, d, t, o, err)) == ESC_OK)
        st = check_events(r, d, t, &cap, search_name, err);
out:
    esc_act_free(act);
    esc_sinks_close(sinks, NULL);
    capture_fini(&cap);
    return st;
}

/* ---- one test: replay, then actions ---------------------------------------------------------- */

static esc_status skip_both(esc_ctest_report *rep, esc_ctest_result *u, esc_ctest_result *i,
                            esc_ctest_outcome outcome, const char *why, esc_error *err) {
    esc_status st = esc_ctest_reason(u, err, "%s", why);
    if (st == ESC_OK)
        st = esc_ctest_reason(i, err, "%s", why);
    u->outcome = i->outcome = outcome;
    if (st == ESC_OK)
        st = esc_ctest_report_add(rep, u, err);
    if (st == ESC_OK)
        st = esc_ctest_report_add(rep, i, err);
    return st;
}

/* The attack data files through the engine over all time: ESC_OK with *hunt finished, or with
 * *hunt NULL when the engine cannot start on them (why says so: both results fail); else the
 * engine's error (ESC_ENOMEM, ESC_ELIMIT, ...). first_warning: the replay's first warning, or
 * empty. */
static esc_status replay(const esc_engine *engine, char **files, size_t nfiles,
                         const esc_ctest_opts *o, esc_hunt **hunt, char *why, size_t cap,
                         char *first_warning, size_t wcap, esc_error *err) {
    esc_error ee = {0};
    esc_hunt_opts ho = {.profile = o->profile, .earliest_us = 0, .latest_us = ESC_TIME_MAX};
    ho.reader.threads = o->threads;
    esc_status st = esc_hunt_new(engine, &ho, (const char *const *)files, nfiles, hunt, &ee);
    if (st == ESC_ENOMEM || st == ESC_ELIMIT) {
        if (err)
            *err = ee;
        return st;
    }
    first_warning[0] = 0;
    if (st != ESC_OK) {
        *hunt = NULL;
        snprintf(why, cap, "cannot replay the attack data: %s", ee.msg);
        return ESC_OK;
    }
    for (;;) {
        esc_error_clear(&ee);
        esc_status hs = esc_hunt_step(*hunt, &ee);
        if (hs == ESC_EOF)
            break;
        if (hs == ESC_ENOMEM) {
            if (err)
                *err = ee;
            return hs;
        }
        if (hs != ESC_OK && !first_warning[0])
            snprintf(first_warning, wcap, "%s%s%s", ee.path ? ee.path : "", ee.path ? ": " : "",
                     ee.msg);
    }
    if ((st = esc_hunt_finish(*hunt, &ee)) != ESC_OK && err)
        *err = ee;
    return st;
}

static esc_status run_test(esc_ctest_report *rep, const esc_content *c, const esc_detection *d,
                           const esc_engine *engine, const esc_detection_test *tc, size_t idx,
                           const char *broken, const char *unsupported, const esc_ctest_opts *o,
                           esc_error *err) {
    esc_ctest_result u, in;
    char tname[256], why[2048], first_warning[1024];
    char *files[ESC_CTEST_MAX_FILES];
    size_t nfiles = 0;
    esc_hunt *hunt = NULL;
    esc_status st;
    memset(&in, 0, sizeof in);
    if (tc->name && *tc->name)
        snprintf(tname, sizeof tname, "%s", tc->name);
    else
        snprintf(tname, sizeof tname, "test %zu", idx + 1);
    if ((st = esc_ctest_result_begin(&u, d->name, d->id, d->path, ESC_CTEST_UNIT, tname, err)))
        return st;
    if ((st = esc_ctest_result_begin(&in, d->name, d->id, d->path, ESC_CTEST_INTEGRATION, tname,
                                     err)))
        goto out;
    if (broken[0]) {
        snprintf(why, sizeof why, "the search does not compile: %s", broken);
        st = skip_both(rep, &u, &in, ESC_CTEST_FAIL, why, err);
        goto out;
    }
    if (unsupported[0]) {
        snprintf(why, sizeof why, "not run: search not validated: %s", unsupported);
        st = skip_both(rep, &u, &in, ESC_CTEST_SKIP, why, err);
        goto out;
    }
    bool broken_data = false;
    st = esc_ctest_attack_files(d, tc, o->data_root, files, &nfiles, &broken_data, why, sizeof why,
                                err);
    if (st != ESC_OK || nfiles == 0) {
        if (st == ESC_OK)
            st = skip_both(rep, &u, &in, broken_data ? ESC_CTEST_FAIL : ESC_CTEST_SKIP, why, err);
        goto out;
    }

    double t0 = now_mono();
    st = replay(engine, files, nfiles, o, &hunt, why, sizeof why, first_warning,
                sizeof first_warning, err);
    if (st == ESC_OK && !hunt)
        st = skip_both(rep, &u, &in, ESC_CTEST_FAIL, why, err);
    if (st != ESC_OK || !hunt)
        goto out;
    u.replayed = in.replayed = true;
    const esc_hunt_stats *hst = esc_hunt_stats_get(hunt);
    const esc_table *t = esc_hunt_table(hunt, 0);
    u.events = in.events = hst->events;
    u.process_events = in.process_events = hst->process_events;
    if (hst->inputs_unknown || hst->inputs_failed)
        st = esc_ctest_reason(&u, err, "%llu of %zu attack data files could not be read (%s)",
                              (unsigned long long)(hst->inputs_unknown + hst->inputs_failed),
                              nfiles, first_warning[0] ? first_warning : "unknown format");
    if (st == ESC_OK)
        st = unit_check(&u, d, t, hst, nfiles, err);
    u.seconds = now_mono() - t0;
    if (st != ESC_OK)
        goto out;
    double t1 = now_mono();
    in.rows = t->nrows;
    if ((st = integration_check(&in, c, d, t, o, err)) != ESC_OK)
        goto out;
    in.seconds = now_mono() - t1;
    if ((st = esc_ctest_report_add(rep, &u, err)) == ESC_OK)
        st = esc_ctest_report_add(rep, &in, err);
out:
    esc_hunt_free(hunt);
    for (size_t i = 0; i < nfiles; i++)
        esc_free(files[i]);
    esc_ctest_result_fini(&u);
    esc_ctest_result_fini(&in);
    return st;
}

esc_status esc_ctest_run(esc_ctest_report *rep, const esc_content *c, const esc_detection *d,
                         const esc_ctest_opts *o, esc_error *err) {
    char broken[CTEST_MSG_MAX], unsupported[CTEST_MSG_MAX];
    esc_engine *engine = NULL;
    esc_status st = esc_ctest_plan(c, d, &engine, broken, unsupported, err);
    if (st != ESC_OK)
        return st;
    if (d->ntests == 0) {
        esc_ctest_result u, in;
        if ((st = esc_ctest_result_begin(&u, d->name, d->id, d->path, ESC_CTEST_UNIT, NULL, err))) {
            esc_engine_free(engine);
            return st;
        }
        if ((st = esc_ctest_result_begin(&in, d->name, d->id, d->path, ESC_CTEST_INTEGRATION, NULL,
                                         err))) {
            esc_ctest_result_fini(&u);
            esc_engine_free(engine);
            return st;
        }
        st = skip_both(rep, &u, &in, ESC_CTEST_SKIP, "the detection has no tests: block", err);
        esc_ctest_result_fini(&u);
        esc_ctest_result_fini(&in);
        esc_engine_free(engine);
        return st;
    }
    for (size_t i = 0; i < d->ntests && st == ESC_OK; i++)
        st = run_test(rep, c, d, engine, &d->tests[i], i, broken, unsupported, o, err);
    esc_engine_free(engine);
    return st;
}
