/* Unit tests for evidence sets (agg/evidence.h) and a row's evidence through a search
 * (spl/evidence.c): the earliest and latest ESC_EVIDENCE_KEEP by time whatever the arrival
 * order, each once, the count, paths compared by content (a reused path buffer), and rows that
 * keep a BY field, rows that do not, and rows a later stats summed; a data model read by field
 * name (Endpoint.Registry) constrains its rows as Endpoint.Processes does; a row made through a
 * join carries the events of the subsearch rows it was paired with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agg/evidence.h"
#include "core/alloc.h"
#include "fields/fields.h"
#include "spl/spl.h"

static void test_keep_earliest_latest(void **state) {
    (void)state;
    esc_evset *s = esc_evset_new();
    assert_non_null(s);
    static const int order[] = {7, 2, 11, 0, 5, 9, 1, 10, 3, 8, 6, 4};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        esc_evref r = {"in.evtx", (uint64_t)order[i] * 100, 0, (uint64_t)order[i], order[i]};
        assert_int_equal(esc_evset_add(s, 3, &r), 0);
    }
    esc_evref out[2 * ESC_EVIDENCE_KEEP];
    size_t n = esc_evset_get(s, 3, out);
    assert_int_equal(n, 10);
    static const int want[] = {0, 1, 2, 3, 4, 7, 8, 9, 10, 11};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(out[i].time_us, want[i]);
    assert_int_equal(esc_evset_total(s, 3), 12);
    assert_int_equal(esc_evset_total(s, 2), 0); /* a group never given a reference */
    assert_int_equal(esc_evset_get(s, 2, out), 0);
    assert_false(esc_evset_truncated(s));
    esc_evset_free(s);
}

static void test_few_each_once(void **state) {
    (void)state;
    esc_evset *s = esc_evset_new();
    char path[16];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "f%d", i % 2); /* the same buffer, two names */
        esc_evref r = {path, (uint64_t)i, 0, 0, 100 - i};
        esc_evset_add(s, 0, &r);
    }
    esc_evref out[2 * ESC_EVIDENCE_KEEP];
    assert_int_equal(esc_evset_get(s, 0, out), 3); /* in lo and hi, listed once */
    assert_string_equal(out[0].path, "f0");        /* time 98: the third, from "f0" */
    assert_string_equal(out[1].path, "f1");
    assert_string_equal(out[2].path, "f0");
    esc_evset_free(s);
}

/* Records of three (dest, user) pairs through a search; each record carries an event. */
static esc_table *hunt(const char *search) {
    esc_error err = {0};
    esc_plan *p = esc_plan_new(search, NULL, &err);
    assert_non_null(p);
    esc_exec *x = esc_exec_new(p, 0, ESC_TIME_MAX, &err);
    static const char *const dest[] = {"a", "a", "b", "a", "b", "c"};
    static const char *const user[] = {"u", "v", "u", "u", "u", "u"};
    for (int i = 0; i < 6; i++) {
        esc_event ev = {.path = "log.xml", .offset = (uint64_t)i * 10, .line = (uint64_t)i + 1};
        esc_record r = {.time_us = (int64_t)(i + 1) * 1000000, .ev = &ev};
        r.v[ESC_CIM_DEST] = esc_str_c(dest[i]);
        r.v[ESC_CIM_USER] = esc_str_c(user[i]);
        r.v[ESC_CIM_PROCESS_NAME] = esc_str_c("net.exe");
        assert_int_equal(esc_exec_feed(x, &r, &err), ESC_OK);
    }
    esc_table *t = NULL;
    assert_int_equal(esc_exec_finish(x, &t, &err), ESC_OK);
    esc_exec_free(x);
    esc_plan_free(p);
    return t;
}

static void test_rows(void **state) {
    (void)state;
    /* by dest user, renamed: a/u has records 0 and 3 */
    esc_table *t = hunt("| tstats count from datamodel=Endpoint.Processes by Processes.dest "
                        "Processes.user | rename Processes.* as *");
    assert_non_null(t->evidence);
    assert_int_equal(t->nrows, 4);
    assert_string_equal(esc_table_cell(t, 0, 0)->v[0], "a");
    assert_string_equal(esc_table_cell(t, 0, 1)->v[0], "u");
    assert_int_equal(t->evidence[0].total, 2);
    assert_int_equal(t->evidence[0].n, 2);
    assert_int_equal(t->evidence[0].refs[0].offset, 0);
    assert_int_equal(t->evidence[0].refs[1].offset, 30);
    assert_int_equal(t->evidence[0].refs[1].line, 4);
    assert_string_equal(t->evidence[0].refs[1].path, "log.xml");
    esc_table_free(t);
    /* summed by dest: a has records 0, 1, 3 (two groups) */
    t = hunt("| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.user "
             "| rename Processes.* as * | stats sum(count) as count by dest");
    assert_int_equal(t->nrows, 3);
    assert_int_equal(t->evidence[0].total, 3);
    assert_int_equal(t->evidence[0].n, 3);
    assert_int_equal(t->evidence[0].refs[2].offset, 30);
    esc_table_free(t);
    /* no BY field kept: every group */
    t = hunt("| tstats count from datamodel=Endpoint.Processes by Processes.dest "
             "| stats sum(count) as n");
    assert_int_equal(t->nrows, 1);
    assert_int_equal(t->evidence[0].total, 6);
    assert_int_equal(t->evidence[0].n, 6);
    esc_table_free(t);
}

/* Registry records: (dest, registry_path) pairs a/x a/y b/x a/x; each row has its own events. */
static void test_named_fields(void **state) {
    (void)state;
    esc_error err = {0};
    esc_plan *p = esc_plan_new("| tstats count from datamodel=Endpoint.Registry by Registry.dest "
                               "Registry.registry_path | rename Registry.* as *",
                               NULL, &err);
    assert_non_null(p);
    esc_exec *x = esc_exec_new(p, 0, ESC_TIME_MAX, &err);
    static const char *const dest[] = {"a", "a", "b", "a"};
    static const char *const path[] = {"x", "y", "x", "x"};
    for (int i = 0; i < 4; i++) {
        esc_event ev = {.path = "r.xml", .offset = (uint64_t)i * 10};
        esc_field f[2] = {{esc_str_c("dest"), esc_str_c(dest[i])},
                          {esc_str_c("registry_path"), esc_str_c(path[i])}};
        esc_fields fs = {.f = f, .n = 2, .cap = 2, .time_us = (i + 1) * 1000000, .ev = &ev};
        esc_record r = {.time_us = (i + 1) * 1000000, .ev = &ev, .ds = ESC_DS_REGISTRY, .fs = &fs};
        assert_int_equal(esc_exec_feed(x, &r, &err), ESC_OK);
    }
    esc_table *t = NULL;
    assert_int_equal(esc_exec_finish(x, &t, &err), ESC_OK);
    assert_int_equal(t->nrows, 3);
    assert_string_equal(esc_table_cell(t, 0, 0)->v[0], "a");
    assert_string_equal(esc_table_cell(t, 0, 1)->v[0], "x");
    assert_int_equal(t->evidence[0].total, 2); /* records 0 and 3, not a/y or b/x */
    assert_int_equal(t->evidence[0].n, 2);
    assert_int_equal(t->evidence[0].refs[0].offset, 0);
    assert_int_equal(t->evidence[0].refs[1].offset, 30);
    assert_int_equal(t->evidence[1].total, 1); /* a/y: record 1 */
    assert_int_equal(t->evidence[1].refs[0].offset, 10);
    esc_table_free(t);
    esc_exec_free(x);
    esc_plan_free(p);
}

static void test_join(void **state) {
    (void)state;
    /* main: by dest user; subsearch: user v's records by dest (a: record 1); joined on dest */
    esc_table *t = hunt("| tstats count from datamodel=Endpoint.Processes by Processes.dest "
                        "Processes.user | rename Processes.* as * | join dest [| tstats count as "
                        "n from datamodel=Endpoint.Processes where Processes.user=v by "
                        "Processes.dest | rename Processes.* as *]");
    assert_int_equal(t->nrows, 2); /* a/u and a/v: b and c have no subsearch row */
    assert_string_equal(esc_table_cell(t, 0, 1)->v[0], "u");
    assert_int_equal(t->evidence[0].total, 3); /* records 0 and 3, and the subsearch's 1 */
    assert_int_equal(t->evidence[0].n, 3);
    assert_int_equal(t->evidence[0].refs[0].offset, 0);
    assert_int_equal(t->evidence[0].refs[1].offset, 10);
    assert_int_equal(t->evidence[0].refs[2].offset, 30);
    assert_int_equal(t->evidence[1].n, 1);     /* record 1 on both sides: listed once, */
    assert_int_equal(t->evidence[1].total, 2); /* counted by each */
    esc_table_free(t);
    /* a column the subsearch fills constrains its rows: main by dest, subsearch by dest user,
     * joined on dest (all pairs): the row a/v has the subsearch row a/v only, not a/u */
    t = hunt("| tstats count from datamodel=Endpoint.Processes where Processes.user=u by "
             "Processes.dest | rename Processes.* as * | join max=0 dest [| tstats count as n from "
             "datamodel=Endpoint.Processes by Processes.dest Processes.user | rename Processes.* "
             "as *] | search user=v");
    assert_int_equal(t->nrows, 1);
    assert_int_equal(t->evidence[0].total, 3); /* main a: 0 and 3; subsearch a/v: 1 */
    assert_int_equal(t->evidence[0].refs[1].offset, 10);
    esc_table_free(t);
    /* no column left to tell the rows' groups or subsearch rows: each row has every group's
     * events (0 to 5) and every subsearch row's (1 again: counted, listed once) */
    t = hunt("| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.user "
             "| rename Processes.* as * | join dest [| tstats count as n from "
             "datamodel=Endpoint.Processes where Processes.user=v by Processes.dest | rename "
             "Processes.* as *] | table count");
    assert_int_equal(t->nrows, 2);
    for (size_t r = 0; r < 2; r++) {
        assert_int_equal(t->evidence[r].total, 7);
        assert_int_equal(t->evidence[r].n, 6);
    }
    esc_table_free(t);
    /* only a column the subsearch fills, empty (no parent_process_name): it agrees with every
     * row; the main groups by user alone: u's records 0, 2, 3, 4, 5 and the subsearch's 1 */
    t = hunt("| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.user "
             "| rename Processes.* as * | join dest [| tstats count as n "
             "values(Processes.parent_process_name) as pp from datamodel=Endpoint.Processes where "
             "Processes.user=v by Processes.dest | rename Processes.* as *] | table user pp count");
    assert_int_equal(t->nrows, 2);
    assert_string_equal(esc_table_cell(t, 0, 0)->v[0], "u");
    assert_int_equal(t->evidence[0].total, 6);
    assert_int_equal(t->evidence[0].n, 6);
    assert_int_equal(t->evidence[1].total, 2); /* v: record 1, on both sides */
    assert_int_equal(t->evidence[1].n, 1);
    esc_table_free(t);
}

/* A group with one reference keeps it alone; compaction keeps the chosen groups' references
 * and totals, renumbered, and drops the others. */
static void test_compact(void **state) {
    (void)state;
    esc_evset *s = esc_evset_new();
    assert_non_null(s);
    for (size_t g = 0; g < 40; g++)
        for (size_t i = 0; i <= g % 13; i++) {
            esc_evref r = {g % 2 ? "a.xml" : "b.xml", g * 1000 + i, 0, i, (int64_t)(g + i)};
            assert_int_equal(esc_evset_add(s, g, &r), 0);
        }
    size_t remap[40], n = 0;
    for (size_t g = 0; g < 40; g++)
        remap[g] = g % 4 == 3 ? n++ : SIZE_MAX;
    assert_int_equal(esc_evset_compact(s, remap, 40, n), 0);
    esc_evref out[2 * ESC_EVIDENCE_KEEP];
    for (size_t g = 0; g < 40; g++) {
        if (remap[g] == SIZE_MAX)
            continue;
        size_t want = g % 13 + 1;
        assert_int_equal(esc_evset_total(s, remap[g]), want);
        size_t k = esc_evset_get(s, remap[g], out);
        assert_int_equal(k, want < 2 * ESC_EVIDENCE_KEEP ? want : 2 * ESC_EVIDENCE_KEEP);
        assert_string_equal(out[0].path, g % 2 ? "a.xml" : "b.xml");
        assert_int_equal(out[0].offset, g * 1000);
        assert_int_equal(out[k - 1].time_us, (int64_t)(g + want - 1));
    }
    assert_int_equal(esc_evset_total(s, n), 0);
    esc_evset_free(s);
}

/* A name per reference (escudo run names each Kafka message an input), through the index's
 * growth: each name kept once, compared by content, whatever the order names come back in. */
static void test_many_paths(void **state) {
    (void)state;
    esc_evset *s = esc_evset_new();
    char path[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(path, sizeof path, "kafka:t/%d offset %d", i % 7, i);
        esc_evref r = {path, 0, 0, 0, i};
        assert_int_equal(esc_evset_add(s, (size_t)i, &r), 0);
    }
    for (int i = 2999; i >= 0; i -= 3) { /* the same names again, from another buffer */
        char again[32];
        snprintf(again, sizeof again, "kafka:t/%d offset %d", i % 7, i);
        esc_evref r = {again, 0, 0, 0, i};
        assert_int_equal(esc_evset_add(s, 5000 + (size_t)i, &r), 0);
        esc_evref a[2 * ESC_EVIDENCE_KEEP], b[2 * ESC_EVIDENCE_KEEP];
        assert_int_equal(esc_evset_get(s, (size_t)i, a), 1);
        assert_int_equal(esc_evset_get(s, 5000 + (size_t)i, b), 1);
        assert_string_equal(a[0].path, again);
        assert_ptr_equal(a[0].path, b[0].path); /* interned once */
    }
    assert_false(esc_evset_truncated(s));
    esc_evset_free(s);
}

/* Sets a search's ranges fill (spl/exec.c table_in_parts): while esc_evset_fits_merged says
 * their memory together fits, one set merging every group's references, in file order, keeps
 * them all. Groups of two, three and one events go to four ranges in turn, until one more would
 * not fit: about 64 MiB of slots, the merged set just under its cap. */
static void test_fits_merged(void **state) {
    (void)state;
    assert_true(esc_evset_fits_merged(0));
    assert_true(esc_evset_fits_merged(ESC_EVIDENCE_MAX_BYTES / 2));
    assert_false(esc_evset_fits_merged(ESC_EVIDENCE_MAX_BYTES));
    esc_evset *range[4], *one = esc_evset_new();
    for (size_t r = 0; r < 4; r++)
        range[r] = esc_evset_new();
    size_t g = 0, mem = 0;
    for (;; g++) {
        esc_evset *s = range[g % 4];
        size_t before = esc_evset_mem(s), events = 1 + g % 3;
        for (size_t k = 0; k < events; k++) {
            esc_evref ref = {"in.xml", g * 10 + k, 0, 0, (int64_t)k};
            assert_int_equal(esc_evset_add(s, g / 4, &ref), 0);
        }
        if (!esc_evset_fits_merged(mem + esc_evset_mem(s) - before))
            break;
        mem += esc_evset_mem(s) - before;
        for (size_t k = 0; k < events; k++) {
            esc_evref ref = {"in.xml", g * 10 + k, 0, 0, (int64_t)k};
            assert_int_equal(esc_evset_add(one, g, &ref), 0);
        }
    }
    assert_true(mem > ESC_EVIDENCE_MAX_BYTES - ESC_EVIDENCE_MAX_BYTES / 32);
    for (size_t r = 0; r < 4; r++)
        assert_false(esc_evset_truncated(range[r]));
    assert_false(esc_evset_truncated(one));
    esc_evref out[2 * ESC_EVIDENCE_KEEP];
    assert_int_equal(esc_evset_get(one, g - 1, out), 1 + (g - 1) % 3);
    for (size_t r = 0; r < 4; r++)
        esc_evset_free(range[r]);
    esc_evset_free(one);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_earliest_latest),
        cmocka_unit_test(test_few_each_once),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_named_fields),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_many_paths),
        cmocka_unit_test(test_fits_merged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
