/* Unit tests for the group-by table: limits, ordering, and each aggregate's edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agg/agg.h"
#include "core/alloc.h"

static esc_agg_in in_str(const char *s) {
    return (esc_agg_in){esc_str_c(s), false, 0};
}

static esc_agg_in in_num(const char *s, double v) {
    return (esc_agg_in){esc_str_c(s), true, v};
}

static void test_group_limit(void **state) {
    (void)state;
    esc_agg *a = esc_agg_new(1, NULL, 0, 3, 0);
    assert_non_null(a);
    esc_error err;
    size_t g;
    const char *k[] = {"a", "b", "c", "a", "d"};
    for (int i = 0; i < 4; i++) {
        esc_str key = esc_str_c(k[i]);
        assert_int_equal(esc_agg_group(a, &key, &g, &err), ESC_OK);
    }
    assert_int_equal(g, 0); /* "a" again */
    esc_str key = esc_str_c("d");
    assert_int_equal(esc_agg_group(a, &key, &g, &err), ESC_ELIMIT);
    assert_string_equal(err.msg, "more than 3 groups");
    assert_int_equal(esc_agg_ngroups(a), 3);
    esc_agg_free(a);
    esc_agg_free(NULL);
}

static void test_memory_limit(void **state) {
    (void)state;
    esc_agg_fn f = ESC_AGG_VALUES;
    esc_agg *a = esc_agg_new(1, &f, 1, 0, 4096);
    esc_error err;
    size_t g;
    char buf[64];
    esc_status st = ESC_OK;
    esc_str key = esc_str_c("k");
    assert_int_equal(esc_agg_group(a, &key, &g, &err), ESC_OK);
    for (int i = 0; i < 10000 && st == ESC_OK; i++) {
        snprintf(buf, sizeof buf, "value-%d-padding-padding-padding", i);
        esc_agg_in v = in_str(buf);
        st = esc_agg_add(a, g, 0, &v, 1, 0, &err);
    }
    assert_int_equal(st, ESC_ELIMIT);
    esc_agg_free(a);
}

static void test_keys_sorted_bytewise(void **state) {
    (void)state;
    esc_agg *a = esc_agg_new(2, NULL, 0, 0, 0);
    esc_error err;
    size_t g;
    const char *rows[][2] = {{"b", "1"}, {"a", "9"}, {"a", "10"}, {"B", "x"}, {"a", ""}};
    for (int i = 0; i < 5; i++) {
        esc_str k[2] = {esc_str_c(rows[i][0]), esc_str_c(rows[i][1])};
        assert_int_equal(esc_agg_group(a, k, &g, &err), ESC_OK);
    }
    size_t *order;
    assert_int_equal(esc_agg_sorted(a, &order, &err), ESC_OK);
    const char *want[][2] = {{"B", "x"}, {"a", ""}, {"a", "10"}, {"a", "9"}, {"b", "1"}};
    for (int i = 0; i < 5; i++) {
        assert_true(esc_str_eq_c(esc_agg_key(a, order[i], 0), want[i][0]));
        assert_true(esc_str_eq_c(esc_agg_key(a, order[i], 1), want[i][1]));
    }
    esc_free(order);
    esc_agg_free(a);
}

static void test_aggregates(void **state) {
    (void)state;
    esc_agg_fn f[] = {ESC_AGG_COUNT,    ESC_AGG_VALUES, ESC_AGG_DC,  ESC_AGG_MIN, ESC_AGG_MAX,
                      ESC_AGG_EARLIEST, ESC_AGG_LATEST, ESC_AGG_SUM, ESC_AGG_MIN, ESC_AGG_LIST};
    size_t n = sizeof f / sizeof f[0];
    esc_agg *a = esc_agg_new(0, f, n, 0, 0);
    esc_error err;
    size_t g;
    struct {
        esc_agg_in v;
        int64_t t;
    } recs[] = {
        {in_num("10", 10), 30}, {in_str("abc"), 10},    {in_num("9", 9), 20},
        {in_str("ABC"), 10},    {in_num("10", 10), 40},
    };
    for (size_t r = 0; r < 5; r++) {
        assert_int_equal(esc_agg_group(a, NULL, &g, &err), ESC_OK);
        for (size_t i = 0; i < n - 2; i++)
            assert_int_equal(esc_agg_add(a, g, i, &recs[r].v, 1, recs[r].t, &err), ESC_OK);
        /* min over strings only */
        esc_agg_in s = in_str(r % 2 ? "zeta" : "Alpha");
        assert_int_equal(esc_agg_add(a, g, n - 2, &s, 1, 0, &err), ESC_OK);
        assert_int_equal(esc_agg_add(a, g, n - 1, &recs[r].v, 1, 0, &err), ESC_OK);
    }
    esc_agg_out o;
    assert_int_equal(esc_agg_result(a, 0, 0, &o, &err), ESC_OK);
    assert_true(o.is_num && o.num == 5);
    esc_agg_result(a, 0, 1, &o, &err);
    assert_int_equal(o.n, 4);
    assert_true(esc_str_eq_c(o.v[0], "10") && esc_str_eq_c(o.v[1], "9") &&
                esc_str_eq_c(o.v[2], "ABC") && esc_str_eq_c(o.v[3], "abc"));
    esc_agg_result(a, 0, 2, &o, &err);
    assert_true(o.num == 4);
    esc_agg_result(a, 0, 3, &o, &err); /* numbers win over strings */
    assert_true(o.is_num && o.num == 9 && esc_str_eq_c(o.v[0], "9"));
    esc_agg_result(a, 0, 4, &o, &err);
    assert_true(o.is_num && o.num == 10);
    esc_agg_result(a, 0, 5, &o, &err); /* tie at t=10: byte-smallest */
    assert_true(!o.is_num && esc_str_eq_c(o.v[0], "ABC"));
    esc_agg_result(a, 0, 6, &o, &err);
    assert_true(esc_str_eq_c(o.v[0], "10"));
    esc_agg_result(a, 0, 7, &o, &err);
    assert_true(o.is_num && o.num == 29);
    esc_agg_result(a, 0, 8, &o, &err);
    assert_true(!o.is_num && esc_str_eq_c(o.v[0], "Alpha"));
    esc_agg_result(a, 0, 9, &o, &err); /* arrival order, duplicates kept */
    assert_int_equal(o.n, 5);
    assert_true(esc_str_eq_c(o.v[0], "10") && esc_str_eq_c(o.v[4], "10"));
    esc_agg_free(a);
}

static void test_many_groups(void **state) {
    (void)state;
    esc_agg_fn f = ESC_AGG_DC;
    esc_agg *a = esc_agg_new(1, &f, 1, 0, 0);
    esc_error err;
    char buf[32];
    for (int i = 0; i < 50000; i++) {
        size_t g;
        snprintf(buf, sizeof buf, "k%d", i % 1000);
        esc_str k = esc_str_c(buf);
        assert_int_equal(esc_agg_group(a, &k, &g, &err), ESC_OK);
        snprintf(buf, sizeof buf, "v%d", i % 7);
        esc_agg_in v = in_str(buf);
        assert_int_equal(esc_agg_add(a, g, 0, &v, 1, 0, &err), ESC_OK);
    }
    assert_int_equal(esc_agg_ngroups(a), 1000);
    esc_agg_out o;
    for (size_t g = 0; g < 1000; g++) {
        esc_agg_result(a, g, 0, &o, &err);
        assert_true(o.num == 7);
    }
    esc_agg_free(a);
}

/* ---- partial aggregates: feeding records to several tables and merging their encoded states
 * gives what one table fed them all gives (agg/partial.c) ---- */

static const esc_agg_fn merge_fns[] = {
    ESC_AGG_COUNT, ESC_AGG_COUNT_FIELD, ESC_AGG_VALUES, ESC_AGG_DC,       ESC_AGG_MIN,
    ESC_AGG_MAX,   ESC_AGG_SUM,         ESC_AGG_AVG,    ESC_AGG_EARLIEST, ESC_AGG_LATEST};
#define NMF (sizeof merge_fns / sizeof merge_fns[0])

static void feed_one(esc_agg *a, unsigned r) {
    char key[16], text[32];
    snprintf(key, sizeof key, "k%u", r % 7);
    esc_str k = esc_str_c(key);
    size_t g;
    esc_error err;
    assert_int_equal(esc_agg_group(a, &k, &g, &err), ESC_OK);
    esc_agg_in v;
    if (r % 5 == 0) { /* a string among numbers: min/max take numbers when there are any */
        snprintf(text, sizeof text, "host-%u", (r * 7919u) % 13);
        v = in_str(text);
    } else {
        snprintf(text, sizeof text, "%u", (r * 2654435761u) % 1000);
        v = in_num(text, (double)((r * 2654435761u) % 1000));
    }
    for (size_t i = 0; i < NMF; i++)
        assert_int_equal(esc_agg_add(a, g, i, &v, r % 11 ? 1 : 0, (int64_t)(r * 37u % 101), &err),
                         ESC_OK);
}

/* Every result of group g in a and b, compared as text. */
static void same_results(esc_agg *a, esc_agg *b) {
    assert_int_equal(esc_agg_ngroups(a), esc_agg_ngroups(b));
    size_t *oa, *ob;
    esc_error err;
    assert_int_equal(esc_agg_sorted(a, &oa, &err), ESC_OK);
    assert_int_equal(esc_agg_sorted(b, &ob, &err), ESC_OK);
    for (size_t r = 0; r < esc_agg_ngroups(a); r++) {
        assert_true(esc_str_eq(esc_agg_key(a, oa[r], 0), esc_agg_key(b, ob[r], 0)));
        for (size_t i = 0; i < NMF; i++) {
            esc_agg_out x, y;
            assert_int_equal(esc_agg_result(a, oa[r], i, &x, &err), ESC_OK);
            char sx[4096] = "", sy[4096] = "";
            snprintf(sx, sizeof sx, "%d %.17g %zu", x.is_num, x.num, x.n);
            for (size_t k = 0; k < x.n; k++)
                snprintf(sx + strlen(sx), sizeof sx - strlen(sx), " %.*s", (int)x.v[k].len,
                         x.v[k].ptr);
            assert_int_equal(esc_agg_result(b, ob[r], i, &y, &err), ESC_OK);
            snprintf(sy, sizeof sy, "%d %.17g %zu", y.is_num, y.num, y.n);
            for (size_t k = 0; k < y.n; k++)
                snprintf(sy + strlen(sy), sizeof sy - strlen(sy), " %.*s", (int)y.v[k].len,
                         y.v[k].ptr);
            if (strcmp(sx, sy))
                fail_msg("group %zu aggregate %zu: one table %s, merged %s", r, i, sx, sy);
        }
    }
    esc_free(oa);
    esc_free(ob);
}

static void test_merge_exact(void **state) {
    (void)state;
    for (unsigned nparts = 1; nparts <= 4; nparts++) {
        esc_agg *all = esc_agg_new(1, merge_fns, NMF, 0, 0),
                *merged = esc_agg_new(1, merge_fns, NMF, 0, 0);
        esc_agg *part[4];
        for (unsigned p = 0; p < nparts; p++)
            part[p] = esc_agg_new(1, merge_fns, NMF, 0, 0);
        for (unsigned r = 1; r <= 500; r++) {
            feed_one(all, r);
            feed_one(part[(r * 31u) % nparts], r); /* spread a key's records over the parts */
        }
        esc_error err;
        for (unsigned p = nparts; p-- > 0;) { /* merge order is not the records' order */
            esc_buf b;
            esc_buf_init(&b, 0);
            assert_int_equal(esc_agg_encode(part[p], NULL, 0, &b, &err), ESC_OK);
            assert_int_equal(esc_agg_merge(merged, b.ptr, b.len, &err), ESC_OK);
            esc_buf_fini(&b);
            esc_agg_free(part[p]);
        }
        same_results(all, merged);
        esc_agg_free(all);
        esc_agg_free(merged);
    }
}

static void test_merge_refused(void **state) {
    (void)state;
    esc_agg_fn list = ESC_AGG_LIST;
    assert_false(esc_agg_mergeable(ESC_AGG_LIST));
    for (size_t i = 0; i < NMF; i++)
        assert_true(esc_agg_mergeable(merge_fns[i]));
    esc_agg *l = esc_agg_new(1, &list, 1, 0, 0);
    esc_buf b;
    esc_buf_init(&b, 0);
    esc_error err;
    assert_int_equal(esc_agg_encode(l, NULL, 0, &b, &err), ESC_EINTERNAL);
    esc_agg_free(l);
    /* a broken partial: every truncation is ESC_EMALFORMED, and another shape is refused */
    esc_agg *a = esc_agg_new(1, merge_fns, NMF, 0, 0);
    for (unsigned r = 1; r <= 50; r++)
        feed_one(a, r);
    assert_int_equal(esc_agg_encode(a, NULL, 0, &b, &err), ESC_OK);
    for (size_t cut = 0; cut < b.len; cut++) {
        esc_agg *m = esc_agg_new(1, merge_fns, NMF, 0, 0);
        assert_int_equal(esc_agg_merge(m, b.ptr, cut, &err), ESC_EMALFORMED);
        esc_agg_free(m);
    }
    esc_agg *other = esc_agg_new(2, merge_fns, NMF, 0, 0);
    assert_int_equal(esc_agg_merge(other, b.ptr, b.len, &err), ESC_EMALFORMED);
    assert_non_null(strstr(err.msg, "not one of this search's"));
    esc_agg_free(other);
    esc_agg_free(a);
    esc_buf_fini(&b);
}

/* ---- splitting a partial by key (esc_agg_split, for spilled groups read back a range of keys
 * at a time: spl/spill.c) ---- */

/* The part of a group by its key "k<n>": n mod 3, with k6 in none (part 3 of 3). */
static size_t part_of_key(void *ctx, const esc_str *keys) {
    (void)ctx;
    size_t n = (size_t)(keys[0].ptr[1] - '0');
    return n == 6 ? 3 : n % 3;
}

static bool keep_part(void *ctx, const esc_str *keys) {
    return part_of_key(NULL, keys) == *(const size_t *)ctx;
}

/* Each part of the split, merged, is the table merging the whole partial with a filter keeping
 * that part's groups gives: the same groups, in the same order, with the same states; the
 * groups of no part go nowhere; a broken partial, or one of more groups than allowed, is
 * refused. */
static void test_split(void **state) {
    (void)state;
    esc_agg *a = esc_agg_new(1, merge_fns, NMF, 0, 0);
    for (unsigned r = 1; r <= 300; r++)
        feed_one(a, r);
    esc_buf b, outs[3];
    esc_buf_init(&b, 0);
    for (size_t p = 0; p < 3; p++)
        esc_buf_init(&outs[p], 0);
    esc_error err;
    assert_int_equal(esc_agg_encode(a, NULL, 0, &b, &err), ESC_OK);
    size_t of[16], ng = 0;
    assert_int_equal(esc_agg_split(a, b.ptr, b.len, part_of_key, NULL, outs, 3, of, 16, &ng, &err),
                     ESC_OK);
    assert_int_equal(ng, 7); /* k0..k6, in the order they were made: k1 first */
    for (size_t j = 0; j < ng; j++)
        assert_int_equal(of[j], part_of_key(NULL, (esc_str[]){esc_agg_key(a, j, 0)}));
    for (size_t p = 0; p < 3; p++) {
        esc_agg *split = esc_agg_new(1, merge_fns, NMF, 0, 0),
                *kept = esc_agg_new(1, merge_fns, NMF, 0, 0);
        assert_int_equal(esc_agg_merge(split, outs[p].ptr, outs[p].len, &err), ESC_OK);
        esc_agg_merge_cb cb = {keep_part, NULL, &p, false};
        assert_int_equal(esc_agg_merge_each(kept, b.ptr, b.len, &cb, &err), ESC_OK);
        assert_int_equal(esc_agg_ngroups(split), 2); /* k0 k3, k1 k4, k2 k5 */
        for (size_t g = 0; g < esc_agg_ngroups(split); g++)
            assert_true(esc_str_eq(esc_agg_key(split, g, 0), esc_agg_key(kept, g, 0)));
        same_results(split, kept);
        esc_agg_free(split);
        esc_agg_free(kept);
    }
    /* too many groups for the caller's room; every truncation; another shape */
    assert_int_equal(esc_agg_split(a, b.ptr, b.len, part_of_key, NULL, outs, 3, of, 6, &ng, &err),
                     ESC_EMALFORMED);
    for (size_t cut = 0; cut < b.len; cut++)
        assert_int_equal(
            esc_agg_split(a, b.ptr, cut, part_of_key, NULL, outs, 3, of, 16, &ng, &err),
            ESC_EMALFORMED);
    esc_agg *other = esc_agg_new(2, merge_fns, NMF, 0, 0);
    assert_int_equal(
        esc_agg_split(other, b.ptr, b.len, part_of_key, NULL, outs, 3, of, 16, &ng, &err),
        ESC_EMALFORMED);
    esc_agg_free(other);
    esc_agg_free(a);
    esc_buf_fini(&b);
    for (size_t p = 0; p < 3; p++)
        esc_buf_fini(&outs[p]);
}

/* Compaction keeps the chosen groups with every aggregate state (values, dc, list, min, max,
 * earliest) and their keys, renumbered in order; the table keeps working afterwards (a kept
 * key finds its group, a dropped key makes a new one). */
static void test_compact(void **state) {
    (void)state;
    esc_agg_fn fns[] = {ESC_AGG_COUNT, ESC_AGG_VALUES, ESC_AGG_DC,
                        ESC_AGG_LIST,  ESC_AGG_MIN,    ESC_AGG_EARLIEST};
    esc_agg *a = esc_agg_new(2, fns, 6, 0, 0);
    assert_non_null(a);
    esc_error err;
    char k0[16], k1[16], v[16];
    size_t g, n = 300;
    for (size_t i = 0; i < 3 * n; i++) {
        snprintf(k0, sizeof k0, "h%zu", i % n);
        snprintf(k1, sizeof k1, "p%zu", (i % n) * 7);
        esc_str keys[2] = {esc_str_c(k0), esc_str_c(k1)};
        assert_int_equal(esc_agg_group(a, keys, &g, &err), ESC_OK);
        snprintf(v, sizeof v, "v%zu", (i / n) % 2);
        esc_agg_in x = in_num(v, (double)i);
        for (size_t f = 1; f < 6; f++)
            assert_int_equal(esc_agg_add(a, g, f, &x, 1, (int64_t)(1000 - i), &err), ESC_OK);
    }
    bool keep[300];
    size_t remap[300];
    for (size_t i = 0; i < n; i++)
        keep[i] = i % 3 == 1;
    assert_int_equal(esc_agg_compact(a, keep, remap, &err), ESC_OK);
    assert_int_equal(esc_agg_ngroups(a), n / 3);
    for (size_t i = 0; i < n; i++) {
        if (!keep[i]) {
            assert_true(remap[i] == SIZE_MAX);
            continue;
        }
        size_t ng = remap[i];
        assert_int_equal(ng, i / 3);
        snprintf(k0, sizeof k0, "h%zu", i);
        esc_str key = esc_agg_key(a, ng, 0);
        assert_int_equal(key.len, strlen(k0));
        assert_memory_equal(key.ptr, k0, key.len);
        esc_agg_out o;
        assert_int_equal(esc_agg_result(a, ng, 0, &o, &err), ESC_OK);
        assert_true(o.num == 3);
        assert_int_equal(esc_agg_result(a, ng, 1, &o, &err), ESC_OK);
        assert_int_equal(o.n, 2); /* v0, v1 */
        assert_int_equal(esc_agg_result(a, ng, 2, &o, &err), ESC_OK);
        assert_true(o.num == 2);
        assert_int_equal(esc_agg_result(a, ng, 3, &o, &err), ESC_OK);
        assert_int_equal(o.n, 3);
        assert_int_equal(esc_agg_result(a, ng, 4, &o, &err), ESC_OK);
        assert_true(o.num == (double)i); /* min: the first record */
        assert_int_equal(esc_agg_result(a, ng, 5, &o, &err), ESC_OK);
        assert_string_equal(o.v[0].ptr, "v0"); /* the last record, with the smallest time */
    }
    /* a kept key finds its group; its distinct set still knows v0 */
    esc_str keys[2] = {esc_str_c("h1"), esc_str_c("p7")};
    assert_int_equal(esc_agg_group(a, keys, &g, &err), ESC_OK);
    assert_int_equal(g, 0);
    esc_agg_in x = in_str("v0");
    assert_int_equal(esc_agg_add(a, g, 2, &x, 1, 0, &err), ESC_OK);
    esc_agg_out o;
    assert_int_equal(esc_agg_result(a, g, 2, &o, &err), ESC_OK);
    assert_true(o.num == 2);
    /* a dropped key is new again */
    keys[0] = esc_str_c("h0");
    keys[1] = esc_str_c("p0");
    assert_int_equal(esc_agg_group(a, keys, &g, &err), ESC_OK);
    assert_int_equal(g, n / 3);
    esc_agg_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_limit),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_keys_sorted_bytewise),
        cmocka_unit_test(test_aggregates),
        cmocka_unit_test(test_many_groups),
        cmocka_unit_test(test_merge_exact),
        cmocka_unit_test(test_merge_refused),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
