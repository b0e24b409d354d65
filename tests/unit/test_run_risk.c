/* The run's risk rule state (sched/run_risk.c): what history() answers for an object, against a
 * plain list of everything noted, over random steps.
 *
 * The state keeps the entries of earlier steps sorted by object (bisected) and the current
 * step's chained by object hash in the order added. A step in which many detections fire at once
 * (escu-full over the 100 MiB benchmark file: 7,279 risk events in one step) used to be scanned
 * whole for every lookup, 8% of that run's time. Here thousands of risk events and threshold
 * notables of 60 objects are noted in steps of up to 400, most objects sharing hash buckets
 * with others while the chains grow and are rehashed, and after every step the state is pruned
 * and saved (esc_run_risk_save) and the reference becomes what survived. After every note, the
 * history of a random object must hold the reference's points: the object's last threshold
 * notable L as the synthetic point, its risk events after L, none of another object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "sched/run_internal.h"

#define NOBJ 60
#define RULE "Risk - 24 Hour Risk Threshold Exceeded - Rule"
#define FIRE_ID "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct ref_pt {
    char kind;
    int obj;
    char id[24];
    int64_t time;
    int score;
} ref_pt;

static ref_pt ref[20000];
static size_t nref;
static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(uint64_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng % n;
}

static const char *type_of(int o) {
    return o < NOBJ / 2 ? "system" : "user";
}

static void name_of(int o, char *buf, size_t n) {
    snprintf(buf, n, "host-%d", o % (NOBJ / 2)); /* with the type: two objects a name */
}

static void ref_note(char kind, int o, const char *id, int64_t t, int score) {
    for (size_t i = 0; kind == 'F' && i < nref; i++)
        if (ref[i].kind == 'F' && ref[i].obj == o) {
            if (t > ref[i].time)
                ref[i].time = t;
            return;
        }
    assert_true(nref < sizeof ref / sizeof *ref);
    ref[nref] = (ref_pt){kind, o, "", t, score};
    snprintf(ref[nref].id, sizeof ref[nref].id, "%s", kind == 'F' ? "" : id);
    nref++;
}

static int cmp_pt(const void *a, const void *b) {
    const esc_risk_point *x = a, *y = b;
    int c = strcmp(x->event_id, y->event_id);
    return c ? c : x->time < y->time ? -1 : x->time > y->time;
}

/* history(o) against the reference: the same points, whatever their order. */
static void expect_history(esc_runner *r, int o) {
    char name[32];
    name_of(o, name, sizeof name);
    esc_risk_history h;
    assert_int_equal(esc_run_risk_history(r, type_of(o), name, &h, NULL), ESC_OK);
    esc_risk_point want[2048];
    size_t n = 0;
    int64_t last = INT64_MIN;
    for (size_t i = 0; i < nref; i++)
        if (ref[i].obj == o && ref[i].kind == 'F')
            last = ref[i].time;
    if (last != INT64_MIN)
        want[n++] = (esc_risk_point){FIRE_ID, name, type_of(o), last, 0};
    for (size_t i = 0; i < nref; i++)
        if (ref[i].obj == o && ref[i].kind == 'P' && ref[i].time > last)
            want[n++] = (esc_risk_point){ref[i].id, name, type_of(o), ref[i].time, ref[i].score};
    assert_int_equal(h.n, n);
    if (!n)
        return; /* nothing allocated */
    qsort(h.pts, h.n, sizeof *h.pts, cmp_pt);
    qsort(want, n, sizeof *want, cmp_pt);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(h.pts[i].event_id, want[i].event_id);
        assert_string_equal(h.pts[i].object, name);
        assert_string_equal(h.pts[i].type, type_of(o));
        assert_int_equal(h.pts[i].time, want[i].time);
        if (strcmp(want[i].event_id, FIRE_ID))
            assert_int_equal(h.pts[i].score, want[i].score);
    }
    esc_risk_history_fini(&h);
}

/* The reference becomes the pruned state (prune's rules are t_run_risk24.py's to check). */
static void ref_from(const esc_runner *r) {
    nref = 0;
    for (size_t i = 0; i < r->nrisk; i++) {
        int o = -1;
        for (int k = 0; k < NOBJ && o < 0; k++) {
            char name[32];
            name_of(k, name, sizeof name);
            if (!strcmp(r->risk[i].type, type_of(k)) && !strcmp(r->risk[i].object, name))
                o = k;
        }
        assert_true(o >= 0);
        ref_note(r->risk[i].kind, o, r->risk[i].id, r->risk[i].time, r->risk[i].score);
    }
}

static void test_history_matches_reference(void **state) {
    (void)state;
    esc_runner *r = esc_calloc(1, sizeof *r);
    assert_non_null(r);
    int64_t t = 1709251200; /* 2024-03-01 */
    int id = 0;
    for (int step = 0; step < 40; step++) {
        int n = (int)rnd(400) + 1;
        for (int k = 0; k < n; k++) {
            int o = (int)rnd(NOBJ);
            char name[32], eid[24];
            name_of(o, name, sizeof name);
            snprintf(eid, sizeof eid, "e%d", id++);
            bool fire = rnd(10) == 0;
            t += (int64_t)rnd(120);
            esc_sink_event ev = {.kind = fire ? ESC_SINK_NOTABLE : ESC_SINK_RISK,
                                 .event_id = eid,
                                 .time = t,
                                 .search_name = fire ? RULE : "a detection",
                                 .risk_object = name,
                                 .risk_object_type = type_of(o),
                                 .risk_score = (int)rnd(50) + 10};
            assert_int_equal(esc_run_risk_note(r, &ev, NULL), ESC_OK);
            ref_note(fire ? 'F' : 'P', o, eid, t, ev.risk_score);
            expect_history(r, (int)rnd(NOBJ));
        }
        for (int o = 0; o < NOBJ; o++)
            expect_history(r, o);
        esc_buf b;
        esc_buf_init(&b, 0);
        assert_int_equal(esc_run_risk_save(r, &b), ESC_OK); /* prunes: all sorted again */
        esc_buf_fini(&b);
        assert_int_equal(r->nrisk_sorted, r->nrisk);
        ref_from(r);
        for (int o = 0; o < NOBJ; o++)
            expect_history(r, o);
    }
    esc_run_risk_free(r);
    esc_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
