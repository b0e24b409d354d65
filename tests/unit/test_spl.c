/* Unit tests for macro expansion limits and argument splitting, and for the plan API (fields,
 * interest, record predicate) that golden files do not reach. */
#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "fields/fields.h"
#include "spl/cmd.h"
#include "spl/eval.h"
#include "spl/semijoin.h"
#include "spl/spl.h"

static char *expand(const esc_macro *ms, size_t n, const char *s, esc_error *err) {
    esc_macro_set set = {.items = ms, .n = n};
    char *out = NULL;
    memset(err, 0, sizeof *err);
    esc_status st = esc_spl_expand(s, &set, &out, err);
    if (st != ESC_OK) {
        assert_null(out);
        return NULL;
    }
    return out;
}

static const char *const A1[] = {"a"};
static const char *const A2[] = {"x", "y"};

/* An Endpoint.Processes record of host dest at _time 1 s; the callers set the other fields. */
static esc_record proc_record(const char *dest) {
    esc_record r;
    memset(&r, 0, sizeof r);
    r.time_us = 1000000;
    r.ds = ESC_DS_PROCESSES;
    r.v[ESC_CIM_DEST] = esc_str_c(dest);
    return r;
}

static void test_args(void **state) {
    (void)state;
    esc_macro ms[] = {
        {.name = "two", .nargs = 2, .args = A2, .definition = "[$x$|$y$|$x$|$z$|$$]"},
        {.name = "one", .nargs = 1, .args = A1, .definition = "<$a$>"},
    };
    esc_error err;
    char *o = expand(ms, 2, "s `two( f(a, b) , \"c, d\" )` `one(q)` e", &err);
    assert_non_null(o);
    assert_string_equal(o, "s [f(a, b)|c, d|f(a, b)|$z$|$$] <q> e");
    esc_free(o);
    /* backticks inside quotes are text */
    o = expand(ms, 2, "eval x=split(p, \"`\") `one(\"a\\\"b\")`", &err);
    assert_non_null(o);
    assert_string_equal(o, "eval x=split(p, \"`\") <\"a\\\"b\">");
    esc_free(o);
    /* an empty argument list is zero arguments */
    o = expand(ms, 2, "`one()`", &err);
    assert_null(o);
    assert_string_equal(err.msg, "macro 'one' takes 1 argument, called with 0");
    assert_int_equal(err.offset, 0);
    /* text without macros is returned as is */
    o = expand(ms, 2, "no macros here", &err);
    assert_string_equal(o, "no macros here");
    esc_free(o);
    o = expand(NULL, 0, "", &err);
    assert_string_equal(o, "");
    esc_free(o);
}

static void test_depth_limit(void **state) {
    (void)state;
    /* m0 -> m1 -> ... -> m(N): a chain deeper than the limit fails, one within it works */
    enum { N = ESC_SPL_MACRO_DEPTH + 5 };
    esc_macro *ms = calloc(N + 1, sizeof *ms);
    char(*names)[16] = calloc(N + 1, 16);
    char(*defs)[24] = calloc(N + 1, 24);
    for (int i = 0; i <= N; i++) {
        snprintf(names[i], 16, "m%d", i);
        if (i < N)
            snprintf(defs[i], 24, "`m%d`", i + 1);
        else
            snprintf(defs[i], 24, "end");
        ms[i].name = names[i];
        ms[i].definition = defs[i];
    }
    esc_error err;
    char *o = expand(ms, N + 1, "x `m0`", &err);
    assert_null(o);
    assert_int_equal(err.code, ESC_ELIMIT);
    assert_int_equal(err.offset, 2);
    char start[16];
    snprintf(start, sizeof start, "`m%d`", N + 1 - ESC_SPL_MACRO_DEPTH);
    o = expand(ms, N + 1, start, &err);
    assert_non_null(o);
    assert_string_equal(o, "end");
    esc_free(o);
    free(ms);
    free(names);
    free(defs);
}

static void test_size_limit(void **state) {
    (void)state;
    /* each level doubles: 2^25 bytes would come out */
    esc_macro ms[26];
    char names[26][8], defs[26][32];
    for (int i = 0; i < 26; i++) {
        snprintf(names[i], sizeof names[i], "d%d", i);
        if (i < 25)
            snprintf(defs[i], sizeof defs[i], "`d%d``d%d`", i + 1, i + 1);
        else
            snprintf(defs[i], sizeof defs[i], "x");
        memset(&ms[i], 0, sizeof ms[i]);
        ms[i].name = names[i];
        ms[i].definition = defs[i];
    }
    esc_error err;
    char *o = expand(ms, 26, "`d0`", &err);
    assert_null(o);
    assert_int_equal(err.code, ESC_ELIMIT);
    assert_non_null(strstr(err.msg, "exceeds"));
    /* 2^10 = 1024 bytes is fine */
    o = expand(ms, 26, "`d15`", &err);
    assert_non_null(o);
    assert_int_equal(strlen(o), 1024);
    esc_free(o);
}

static void test_last_definition_wins(void **state) {
    (void)state;
    esc_macro ms[] = {
        {.name = "f", .definition = "shipped"},
        {.name = "f", .definition = "local"},
    };
    esc_error err;
    char *o = expand(ms, 2, "`f`", &err);
    assert_string_equal(o, "local");
    esc_free(o);
}

static void test_plan_api(void **state) {
    (void)state;
    esc_error err;
    esc_plan *p = esc_plan_new("| tstats count values(Processes.user) as u from "
                               "datamodel=Endpoint.Processes where Processes.process_name=x.exe "
                               "by Processes.dest | search dest=*abc*",
                               NULL, &err);
    assert_non_null(p);
    uint32_t want = (1u << ESC_CIM_USER) | (1u << ESC_CIM_PROCESS_NAME) | (1u << ESC_CIM_DEST);
    assert_int_equal(esc_plan_fields(p), want);
    /* dest is never a literal (it may come from aidmaster), so only the where clause gives one */
    esc_interest in;
    memset(&in, 0, sizeof in);
    esc_plan_interest(p, &in);
    assert_int_equal(in.nclauses, 1);
    assert_string_equal(in.clause[0].lit[0], "x.exe");
    /* interest of a set that wants everything is left alone */
    memset(&in, 0, sizeof in);
    in.everything = true;
    esc_plan_interest(p, &in);
    assert_int_equal(in.nclauses, 0);
    esc_record r;
    memset(&r, 0, sizeof r);
    r.v[ESC_CIM_PROCESS_NAME] = esc_str_c("X.EXE");
    assert_true(esc_plan_record_matches(p, &r));
    r.v[ESC_CIM_PROCESS_NAME] = esc_str_c("y.exe");
    assert_false(esc_plan_record_matches(p, &r));
    r.v[ESC_CIM_PROCESS_NAME] = ESC_STR_NULL;
    assert_false(esc_plan_record_matches(p, &r));
    esc_plan_free(p);
    esc_plan_free(NULL);
    esc_exec_free(NULL);
    esc_table_free(NULL);
}

static void test_prefilter_never_unknown(void **state) {
    (void)state;
    /* patterns that could match a CIM default, fillnull or a constant give no literal */
    const char *s[] = {
        "| tstats count from datamodel=Endpoint.Processes where Processes.user=*own*",
        "| tstats count from datamodel=Endpoint.Processes where Processes.vendor_product=*Sysmon*",
        "| tstats fillnull_value=zzzz count from datamodel=Endpoint.Processes by "
        "Processes.process | search Processes.process=*zzz*",
        "| tstats count from datamodel=Endpoint.Processes where Processes.process!=*abc*",
        "| tstats count from datamodel=Endpoint.Processes where Processes.process=*ab*",
        "| tstats count from datamodel=Endpoint.Processes where Processes.process=abcd OR "
        "Processes.user=*",
        "| tstats count from datamodel=Endpoint.Processes by Processes.process | dedup "
        "Processes.process | search Processes.process=*abcd*",
        "| tstats count from datamodel=Endpoint.Processes by Processes.process | eval "
        "Processes.process=\"abcd\" | search Processes.process=*abcd*",
        "| tstats count from datamodel=Endpoint.Processes by Processes.process Processes.dest | "
        "eventstats dc(Processes.process) as n by Processes.dest | search Processes.process=*abcd*",
        "| tstats count from datamodel=Endpoint.Processes where Processes.process=*abcd* by "
        "Processes.dest | join Processes.dest [| tstats count from datamodel=Endpoint.Processes "
        "by Processes.dest]",
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        esc_error err;
        esc_plan *p = esc_plan_new(s[i], NULL, &err);
        if (!p)
            fail_msg("%s: %s", s[i], err.msg);
        esc_interest in;
        memset(&in, 0, sizeof in);
        esc_plan_interest(p, &in);
        if (in.nclauses)
            fail_msg("%s: unexpected literal %s", s[i], in.clause[0].lit[0]);
        esc_plan_free(p);
    }
}

/* A long IN list is a deep OR chain: it must plan (prefilter included) without exhausting the
 * stack, and a longer one hits the node limit with a clear error. */
static void test_long_in_list(void **state) {
    (void)state;
    esc_buf b;
    esc_buf_init(&b, 0);
    esc_buf_append_c(&b, "| tstats count from datamodel=Endpoint.Processes where "
                         "Processes.process_name IN (");
    for (int i = 0; i < 3000; i++)
        esc_buf_printf(&b, "%s\"p%05d.exe\"", i ? "," : "", i);
    esc_buf_append_c(&b, ") by Processes.dest");
    esc_error err;
    esc_plan *p = esc_plan_new(b.ptr, NULL, &err);
    if (!p)
        fail_msg("%s", err.msg);
    esc_interest in;
    memset(&in, 0, sizeof in);
    esc_plan_interest(p, &in);
    assert_int_equal(in.nclauses, 0); /* more than 64 literals: no clause */
    esc_plan_free(p);
    esc_buf_clear(&b);
    esc_buf_append_c(&b, "| tstats count from datamodel=Endpoint.Processes where ");
    for (int i = 0; i < ESC_SPL_MAX_NODES; i++)
        esc_buf_printf(&b, "%sProcesses.user=u%d", i ? " OR " : "", i);
    p = esc_plan_new(b.ptr, NULL, &err);
    assert_null(p);
    assert_int_equal(err.code, ESC_ECONTENT);
    assert_non_null(strstr(err.msg, "more than 10000 terms"));
    esc_buf_fini(&b);
}

/* rename's wildcards: 16 stars that cannot match a 22-character column were tried in every
 * split (about 10^8 of them, seconds); failed splits are remembered now. The search still
 * renames what does match. */
static void test_rename_stars(void **state) {
    (void)state;
    const char *search =
        "| tstats count from datamodel=Endpoint.Processes by Processes.process_name"
        " | rename Processes****************.x as y, P*s*s.*_*me as *-*-*-*";
    clock_t t0 = clock();
    esc_error err;
    esc_plan *p = esc_plan_new(search, NULL, &err);
    if (!p)
        fail_msg("%s", err.msg);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
    esc_buf b;
    esc_buf_init(&b, 0);
    assert_int_equal(esc_plan_explain(p, &b), ESC_OK);
    if (!strstr(b.ptr, "columns: roce-se-process-na count"))
        fail_msg("%s", b.ptr);
    esc_buf_fini(&b);
    esc_plan_free(p);
}

/* rename and replace read the same `X KW Y, ...` pair list; each says what is wrong in its
 * own words, at the offset of the problem. */
static void test_pair_errors(void **state) {
    (void)state;
    static const struct {
        const char *search, *msg;
        size_t offset;
    } cases[] = {
        {"search x | rename", "rename needs 'FIELD as NAME'", 11},
        {"search x | rename a", "expected 'as' in rename", 19},
        {"search x | rename a as", "expected a new name after 'as'", 22},
        {"search x | rename a as b, ,", "expected a field name", 26},
        {"search x | rename a* as b**", "rename: wildcards of 'a*' and 'b**' do not correspond",
         18},
        {"search x | replace", "replace needs \"OLD\" WITH \"NEW\"", 11},
        {"search x | replace in a", "replace needs \"OLD\" WITH \"NEW\"", 11},
        {"search x | replace x", "expected \"OLD\" WITH \"NEW\"", 20},
        {"search x | replace x with", "expected a value after WITH", 25},
        {"search x | replace x with y, ,", "expected \"OLD\" WITH \"NEW\"", 29},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        esc_error err;
        memset(&err, 0, sizeof err);
        esc_plan *p = esc_plan_new(cases[i].search, NULL, &err);
        if (p || strcmp(err.msg, cases[i].msg) != 0 || err.offset != cases[i].offset)
            fail_msg("%s: got %s at %llu", cases[i].search, err.msg,
                     (unsigned long long)err.offset);
    }
}

static void test_caret(void **state) {
    (void)state;
    esc_error err;
    memset(&err, 0, sizeof err);
    err.has_offset = 1;
    err.offset = 7;
    esc_buf b;
    esc_buf_init(&b, 0);
    esc_spl_caret("line1\n\tab cd\nx", &err, &b);
    assert_string_equal(b.ptr, "\tab cd\n\t^^\n");
    esc_buf_clear(&b);
    err.offset = 100;
    esc_spl_caret("abc", &err, &b);
    assert_string_equal(b.ptr, "abc\n   ^\n");
    esc_buf_fini(&b);
}

/* Group pruning through a rename onto an existing field (the schema shrinks: the column a
 * lookup then adds must not inherit the dropped column's aggregate taint) and between two
 * executions sharing one tstats: each keeps the groups its own lookup and search let through,
 * and only those, while 1,000 groups are fed. */
static esc_plan *prune_plan(const char *lookup, const esc_spl_env *env) {
    char search[512];
    snprintf(search, sizeof search,
             "| tstats count values(Processes.process) as process from "
             "datamodel=Endpoint.Processes by Processes.dest Processes.process"
             " | rename Processes.* as * | lookup %s name AS dest OUTPUT description"
             " | search description=*",
             lookup);
    esc_error err = {0};
    esc_plan *p = esc_plan_new_env(search, env, NULL, &err);
    assert_non_null(p);
    return p;
}

static void test_prune_shared(void **state) {
    (void)state;
    char dir[] = "/tmp/escudo-prune-XXXXXX", a[64], b[64];
    assert_non_null(mkdtemp(dir));
    snprintf(a, sizeof a, "%s/a.csv", dir);
    snprintf(b, sizeof b, "%s/b.csv", dir);
    FILE *f = fopen(a, "w");
    assert_non_null(f);
    fputs("name,description\nhost7,seven\n", f);
    fclose(f);
    assert_non_null(f = fopen(b, "w"));
    fputs("name,description\nhost9,nine\n", f);
    fclose(f);
    esc_spl_lookup lk[2] = {{.name = "la", .csv_path = a, .case_sensitive = true},
                            {.name = "lb", .csv_path = b, .case_sensitive = true}};
    esc_spl_env env = {NULL, lk, 2};
    esc_plan *pa = prune_plan("la", &env), *pb = prune_plan("lb", &env);
    esc_error err = {0};
    esc_exec *xa = esc_exec_new(pa, 0, ESC_TIME_MAX, &err),
             *xb = esc_exec_new(pb, 0, ESC_TIME_MAX, &err);
    assert_non_null(xa);
    assert_non_null(xb);
    assert_true(esc_exec_share(xb, xa));
    for (int i = 0; i < 1000; i++) {
        char host[32];
        snprintf(host, sizeof host, "host%d", i);
        esc_record r = proc_record(host);
        r.v[ESC_CIM_PROCESS] = esc_str_c("p.exe");
        assert_int_equal(esc_exec_feed(xa, &r, &err), ESC_OK);
        assert_int_equal(esc_exec_feed(xb, &r, &err), ESC_OK);
    }
    assert_true(esc_exec_groups(xa) < 300); /* pruned: 1,000 without it */
    esc_table *ta = NULL, *tb = NULL;
    assert_int_equal(esc_exec_finish(xa, &ta, &err), ESC_OK);
    esc_exec_release(xa);
    assert_int_equal(esc_exec_finish(xb, &tb, &err), ESC_OK);
    esc_exec_release(xb);
    assert_int_equal(ta->nrows, 1);
    assert_int_equal(tb->nrows, 1);
    const esc_cell *ca = esc_table_cell(ta, 0, (size_t)esc_table_col(ta, "dest"));
    const esc_cell *cb = esc_table_cell(tb, 0, (size_t)esc_table_col(tb, "dest"));
    assert_string_equal(ca->v[0], "host7");
    assert_string_equal(cb->v[0], "host9");
    esc_table_free(ta);
    esc_table_free(tb);
    esc_exec_free(xb);
    esc_exec_free(xa);
    esc_plan_free(pb);
    esc_plan_free(pa);
    remove(a);
    remove(b);
    remove(dir);
}

/* A spilled search whose inner join's subsearch finds nothing, with only row-local commands
 * before the join and a stats by a field after it, gives no rows whatever its groups: they are
 * not merged back (esc_exec_groups 0 after the finish). A left join keeps them. */
static size_t spilled_join(const char *type, size_t *groups) {
    char search[512];
    snprintf(search, sizeof search,
             "| tstats count from datamodel=Endpoint.Processes by Processes.process_guid "
             "Processes.dest | rename Processes.* as * | join %s process_guid [| tstats count "
             "from datamodel=Endpoint.Registry where Registry.registry_path=*none* by "
             "Registry.process_guid | rename Registry.* as *] | stats count by dest",
             type);
    esc_error err = {0};
    esc_plan *p = esc_plan_new(search, NULL, &err);
    assert_non_null(p);
    esc_exec *x = esc_exec_new(p, 0, ESC_TIME_MAX, &err);
    assert_non_null(x);
    for (int i = 0; i < 100; i++) {
        char guid[32], host[32];
        snprintf(guid, sizeof guid, "{g%d}", i);
        snprintf(host, sizeof host, "host%d", i % 10);
        esc_record r = proc_record(host);
        r.v[ESC_CIM_PROCESS_GUID] = esc_str_c(guid);
        assert_int_equal(esc_exec_feed(x, &r, &err), ESC_OK);
    }
    assert_int_equal(esc_exec_spill(x, 0, &err), ESC_OK);
    esc_table *t = NULL;
    assert_int_equal(esc_exec_finish(x, &t, &err), ESC_OK);
    *groups = esc_exec_groups(x);
    size_t rows = t->nrows;
    esc_table_free(t);
    esc_exec_free(x);
    esc_plan_free(p);
    return rows;
}

static void test_join_empty_spilled(void **state) {
    (void)state;
    size_t g = 0;
    assert_int_equal(spilled_join("", &g), 0);
    assert_int_equal(g, 0);
    assert_int_equal(spilled_join("type=left", &g), 10);
    assert_int_equal(g, 100);
}

/* A join on an eval'd copy of a BY field (`eval join_guid = process_guid`, as `Windows Privilege
 * Escalation Suspicious Process Elevation` joins) filters the spilled groups by that BY field
 * when the final table carries the field itself (spl/semijoin.c value_origin); a computed
 * value, a field the final table drops, or _time do not. The rows are those of a hunt that
 * spills nothing. */
static const char *eval_join(const char *eval, const char *tail) {
    static char search[768];
    snprintf(search, sizeof search,
             "| tstats count from datamodel=Endpoint.Processes by Processes.process_guid "
             "Processes.dest _time span=1s | rename Processes.* as * | eval %s | join max=0 dest "
             "join_guid [| tstats count as n from datamodel=Endpoint.Processes where "
             "Processes.dest=host3 by Processes.dest Processes.parent_process_guid | rename "
             "Processes.dest as dest, Processes.parent_process_guid as join_guid] %s",
             eval, tail);
    return search;
}

static int eval_join_by(const char *eval, const char *tail) {
    esc_error err = {0};
    esc_plan *p = esc_plan_new(eval_join(eval, tail), NULL, &err);
    assert_non_null(p);
    int b = spl_semijoin_main_by(p, 3, 1);
    esc_plan_free(p);
    return b;
}

/* The execution of search (its plan in *p), for a test to feed records. */
static esc_exec *exec_of(const char *search, esc_plan **p) {
    esc_error err = {0};
    *p = esc_plan_new(search, NULL, &err);
    assert_non_null(*p);
    esc_exec *x = esc_exec_new(*p, 0, ESC_TIME_MAX, &err);
    assert_non_null(x);
    return x;
}

/* x's table, then x and p freed. */
static esc_table *table_of(esc_exec *x, esc_plan *p) {
    esc_error err = {0};
    esc_table *t = NULL;
    assert_int_equal(esc_exec_finish(x, &t, &err), ESC_OK);
    esc_exec_free(x);
    esc_plan_free(p);
    return t;
}

static esc_table *eval_join_rows(bool spill) {
    esc_error err = {0};
    esc_plan *p;
    esc_exec *x = exec_of(eval_join("join_guid = process_guid", "| table dest process_guid"), &p);
    for (int i = 0; i < 100; i++) {
        char guid[32], parent[32], host[32];
        snprintf(guid, sizeof guid, "{g%d}", i);
        snprintf(parent, sizeof parent, "{g%d}", i - 10);
        snprintf(host, sizeof host, "host%d", i % 10);
        esc_record r = proc_record(host);
        r.v[ESC_CIM_PROCESS_GUID] = esc_str_c(guid);
        r.v[ESC_CIM_PARENT_PROCESS_GUID] = esc_str_c(parent);
        assert_int_equal(esc_exec_feed(x, &r, &err), ESC_OK);
        if (spill && i % 30 == 29)
            assert_int_equal(esc_exec_spill(x, 0, &err), ESC_OK);
    }
    return table_of(x, p);
}

static void test_join_eval_copy(void **state) {
    (void)state;
    assert_int_equal(eval_join_by("join_guid = process_guid", "| table dest process_guid"), 0);
    assert_int_equal(eval_join_by("x = 1, join_guid = process_guid", "| search dest=*"), 0);
    assert_int_equal(eval_join_by("join_guid = lower(process_guid)", ""), -1);
    assert_int_equal(eval_join_by("join_guid = process_guid", "| table dest join_guid"), -1);
    assert_int_equal(eval_join_by("process_guid = dest, join_guid = process_guid", ""), -1);
    assert_int_equal(eval_join_by("join_guid = _time", ""), -1);
    esc_table *a = eval_join_rows(false), *b = eval_join_rows(true);
    assert_int_equal(a->nrows, 9); /* host3's parents: {g3}, {g13}, ..., {g83} */
    assert_int_equal(b->nrows, a->nrows);
    for (size_t r = 0; r < a->nrows; r++)
        for (size_t c = 0; c < a->ncols; c++)
            assert_string_equal(esc_table_cell(a, r, c)->v[0], esc_table_cell(b, r, c)->v[0]);
    assert_string_equal(esc_table_cell(a, 0, 1)->v[0], "{g13}"); /* byte order */
    esc_table_free(a);
    esc_table_free(b);
}

/* A join uses the first 50,000 rows of its subsearch (Splunk's SPL reference, join: "A maximum
 * of 50,000 rows in the right-side dataset can be joined with the left-side dataset";
 * limits.conf [join] subsearch_maxout = 50000). The subsearch gives one row per dest h00000 ..
 * h50009 in byte order, so h50000 .. h50009 are past the cap and pair with nothing: the inner
 * join of the main search's rows for those ten keeps no row, the left join keeps them without
 * n, each with the 10 unused subsearch rows counted; with h49990 .. h49999 too, those ten
 * pair. Spilled, the subsearch's groups filtered by the main search's values keep only those
 * among its first 50,000 rows (join_cap.c: none, or up to h49999), not the main search's ten
 * or twenty as its first rows. Joined with every one of its 50,010 rows, the main search keeps
 * the 50,000 that pair. */
static esc_table *join_cap(const char *where, const char *type, bool spill) {
    char search[512];
    snprintf(search, sizeof search,
             "| tstats count from datamodel=Endpoint.Processes %s by Processes.dest | rename "
             "Processes.* as * | join %s dest [| tstats count as n from "
             "datamodel=Endpoint.Processes by Processes.dest | rename Processes.dest as dest]",
             where, type);
    esc_error err = {0};
    esc_plan *p;
    esc_exec *x = exec_of(search, &p);
    for (int i = 0; i < 50010; i++) {
        char dest[16];
        snprintf(dest, sizeof dest, "h%05d", i);
        esc_record r = proc_record(dest);
        assert_int_equal(esc_exec_feed(x, &r, &err), ESC_OK);
        if (spill && i % 5000 == 4999)
            assert_int_equal(esc_exec_spill(x, 0, &err), ESC_OK);
    }
    return table_of(x, p);
}

static void test_join_rows_cap(void **state) {
    (void)state;
    for (int spill = 0; spill <= 1; spill++) {
        const char *ten = "where Processes.dest=h5000*";
        esc_table *t = join_cap(ten, "", spill);
        assert_int_equal(t->nrows, 0);
        assert_int_equal(t->join_unused, 10);
        esc_table_free(t);
        t = join_cap(ten, "type=left", spill);
        assert_int_equal(t->nrows, 10);
        assert_int_equal(t->join_unused, 10);
        int n = esc_table_col(t, "n");
        for (size_t r = 0; r < t->nrows; r++)
            assert_true(n < 0 || esc_table_cell(t, r, (size_t)n)->n == 0);
        esc_table_free(t);
        /* ten under the cap and ten past it (spilled: the filter keeps up to h49999) */
        const char *twenty = "where Processes.dest=h4999* OR Processes.dest=h5000*";
        t = join_cap(twenty, "", spill);
        assert_int_equal(t->nrows, 10);
        assert_string_equal(esc_table_cell(t, 9, (size_t)esc_table_col(t, "dest"))->v[0], "h49999");
        assert_int_equal(t->join_unused, 10);
        esc_table_free(t);
        t = join_cap(twenty, "type=left", spill);
        assert_int_equal(t->nrows, 20);
        n = esc_table_col(t, "n");
        for (size_t r = 0; r < t->nrows; r++)
            assert_int_equal(esc_table_cell(t, r, (size_t)n)->n, r < 10);
        esc_table_free(t);
        /* every row against every subsearch row: the first 50,000 pair, each with its own */
        t = join_cap("", "", spill);
        assert_int_equal(t->nrows, 50000);
        n = esc_table_col(t, "n");
        int dest = esc_table_col(t, "dest");
        assert_true(n >= 0 && dest >= 0);
        for (size_t r = 0; r < t->nrows; r++) {
            char want[32];
            snprintf(want, sizeof want, "h%05zu", r);
            assert_string_equal(esc_table_cell(t, r, (size_t)dest)->v[0], want);
            assert_string_equal(esc_table_cell(t, r, (size_t)n)->v[0], "1");
        }
        esc_table_free(t);
    }
}

/* A join of every row with every row (max=0, one key): past ESC_SPL_MAX_ROWS joined rows the
 * search stops with an error, not a table of 1001 x 1001 rows. */
static void test_join_rows_made(void **state) {
    (void)state;
    const char *search =
        "| tstats count from datamodel=Endpoint.Processes by Processes.process_guid "
        "Processes.dest | rename Processes.* as * | join max=0 dest [| tstats count as n from "
        "datamodel=Endpoint.Processes by Processes.process_guid Processes.dest | rename "
        "Processes.dest as dest]";
    esc_error err = {0};
    esc_plan *p;
    esc_exec *x = exec_of(search, &p);
    for (int i = 0; i < 1001; i++) {
        char guid[16];
        snprintf(guid, sizeof guid, "{g%d}", i);
        esc_record r = proc_record("h");
        r.v[ESC_CIM_PROCESS_GUID] = esc_str_c(guid);
        assert_int_equal(esc_exec_feed(x, &r, &err), ESC_OK);
    }
    esc_table *t = NULL;
    assert_int_equal(esc_exec_finish(x, &t, &err), ESC_ELIMIT);
    assert_non_null(strstr(err.msg, "join makes more than 1000000 rows"));
    esc_table_free(t);
    esc_exec_free(x);
    esc_plan_free(p);
}

/* A raw-event search's streamed stats prunes its groups (spl/prune.c) through the row-local
 * filters after it, and through the operands of a `where` AND that read no aggregate (as
 * `Windows Remote Access Software BRC4 Loaded Dll`'s `where ImageLoadedCount == 4 AND (...)`);
 * not through an operand that reads one, nor an OR of both kinds. */
static bool stream_prune(const char *tail, spl_prune *pr) {
    char search[512];
    snprintf(search, sizeof search,
             "EventCode=7 | eval f=if(match(ImageLoaded, \"x\"), 1, 0) | stats dc(ImageLoaded) "
             "as n by Image f %s",
             tail);
    esc_error err = {0};
    esc_plan *p = esc_plan_new(search, NULL, &err);
    assert_non_null(p);
    bool on = spl_prune_stats(p, 2, pr);
    esc_plan_free(p);
    return on;
}

static void test_prune_stream(void **state) {
    (void)state;
    spl_prune pr;
    assert_true(stream_prune("| where n == 4 AND (f == 1 OR Image=\"a\")", &pr));
    assert_int_equal(pr.k, 2);
    assert_int_equal(pr.where, 3);
    assert_int_equal(pr.nops, 1);
    assert_true(stream_prune("| eval g=f*2 | where g > 1 AND n > 2 AND Image!=\"b\"", &pr));
    assert_int_equal(pr.where, 4);
    assert_int_equal(pr.nops, 2);
    assert_true(stream_prune("| search f=1 | where n > 2", &pr));
    assert_int_equal(pr.k, 3);
    assert_int_equal(pr.where, 0);
    assert_false(stream_prune("| where n == 4", &pr));
    assert_false(stream_prune("| where n == 4 OR f == 1", &pr));
    assert_false(stream_prune("| eval g=n | where g > 1 AND n > 2", &pr));
}

/* What decides a tstats group's pruning verdict (spl/prune.c): the BY fields its prefix's
 * filters (and the stages before them) read, through rename, eval, lookup and rex; whether the
 * records of a group known dead may go uncounted (no stage that could meet a regex limit reads
 * an aggregate). Then a verdict remembered by those BY values agrees with a fresh check of every
 * group, and a record whose group is remembered dead makes no group. */
#define PRUNE_HEAD                                                                                 \
    "| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes by "                 \
    "Processes.dest Processes.user Processes.process_name | rename Processes.* as * "

static uint64_t prune_deps(const char *tail, bool *skip) {
    char search[512];
    snprintf(search, sizeof search, "%s%s", PRUNE_HEAD, tail);
    esc_error err = {0};
    esc_plan *p = esc_plan_new(search, NULL, &err);
    assert_non_null(p);
    spl_prune_deps d = {0, false};
    size_t k = spl_prune_stages(p, &d);
    esc_plan_free(p);
    *skip = d.skip;
    return k ? d.by : UINT64_MAX;
}

static void test_prune_deps(void **state) {
    (void)state;
    bool skip;
    assert_int_equal(prune_deps("| search process_name=cmd.exe", &skip), 4);
    assert_true(skip);
    assert_int_equal(prune_deps("| eval u=lower(user) | where u=\"admin\"", &skip), 2);
    assert_int_equal(prune_deps("| convert ctime(firstTime) | search dest=h1 user=u", &skip), 3);
    assert_true(skip); /* convert reads an aggregate, but meets no regex limit */
    assert_int_equal(
        prune_deps("| rename user as who | rex field=who \"(?<d>x+)\" | search d=*", &skip), 2);
    assert_int_equal(prune_deps("| eval n=count+len(process_name) | search dest=h1", &skip), 5);
    assert_false(skip); /* eval reads an aggregate */
    /* the stages after the last filter are not run: what they read does not count */
    assert_int_equal(prune_deps("| search dest=h1 | eval x=user", &skip), 1);
    assert_int_equal(prune_deps("| eval y=process_name | search dest=h1", &skip), 5);
    assert_int_equal(prune_deps("| where count > 1", &skip), UINT64_MAX); /* no prefix */
}

static void test_prune_memo(void **state) {
    (void)state;
    esc_error err = {0};
    esc_plan *p = esc_plan_new(PRUNE_HEAD "| eval n=lower(process_name) "
                                          "| where n=\"cmd.exe\" OR user=\"u1\"",
                               NULL, &err);
    assert_non_null(p);
    spl_prune_deps d;
    size_t k = spl_prune_stages(p, &d);
    assert_int_equal(k, 3);
    assert_int_equal(d.by, 6);
    esc_agg *a = spl_agg_new(&p->stages[0]);
    assert_non_null(a);
    static const char *const procs[] = {"cmd.exe", "CMD.EXE", "a.exe", "b.exe"};
    for (int i = 0; i < 400; i++) {
        char host[32], user[32];
        snprintf(host, sizeof host, "host%d", i);
        snprintf(user, sizeof user, "u%d", i % 3);
        esc_record r = proc_record(host);
        r.v[ESC_CIM_USER] = esc_str_c(user);
        r.v[ESC_CIM_PROCESS_NAME] = esc_str_c(procs[i % 4]);
        assert_int_equal(spl_tstats_feed(&p->stages[0], a, &r, NULL, &err), ESC_OK);
    }
    size_t ng = esc_agg_ngroups(a);
    assert_int_equal(ng, 400);
    size_t *all = malloc(ng * sizeof *all);
    bool *dead = malloc(ng), exact = false;
    assert_non_null(all);
    assert_non_null(dead);
    for (size_t g = 0; g < ng; g++)
        all[g] = g;
    assert_int_equal(spl_prune_check(p, k, a, all, ng, dead, &exact, &err), ESC_OK);
    assert_true(exact);
    spl_prune_memo *m = spl_prune_memo_new(d.by, 3);
    assert_non_null(m);
    size_t known = 0, ndead = 0;
    esc_str keys[3];
    for (size_t g = 0; g < ng; g++) {
        ndead += dead[g];
        spl_prune_memo_keys(m, a, g, keys);
        uint64_t h = spl_prune_memo_hash(m, keys);
        int v = spl_prune_memo_get(m, h, keys);
        if (v >= 0) {
            known++;
            assert_int_equal(v, dead[g]);
        } else {
            spl_prune_memo_put(m, h, keys, dead[g]);
        }
    }
    assert_int_equal(ndead, 200 - 200 / 3); /* a.exe, b.exe, users other than u1 */
    assert_int_equal(known, 400 - 12);      /* 4 names (lowercased: 3 verdicts) x 3 users */
    /* a record of a new host whose group is remembered dead makes none; one alive does */
    esc_record r = proc_record("new");
    r.v[ESC_CIM_USER] = esc_str_c("u2");
    r.v[ESC_CIM_PROCESS_NAME] = esc_str_c("a.exe");
    assert_int_equal(spl_tstats_feed(&p->stages[0], a, &r, m, &err), ESC_OK);
    assert_int_equal(esc_agg_ngroups(a), 400);
    r.v[ESC_CIM_USER] = esc_str_c("u1");
    assert_int_equal(spl_tstats_feed(&p->stages[0], a, &r, m, &err), ESC_OK);
    assert_int_equal(esc_agg_ngroups(a), 401);
    spl_prune_memo_free(m);
    free(all);
    free(dead);
    esc_agg_free(a);
    esc_plan_free(p);
}

/* A spilled tstats whose file passes twice PART_BYTES (4 MiB, docs/limits.md "group memory")
 * makes its first table one range of keys at a time (spl/exec.c table_in_parts), each range
 * read from a file of its own; when those cannot be made ($TMPDIR gone by then), each range
 * reads the whole spill file: either way the rows, in order, and their evidence are those of
 * the same search spilling nothing. 30,000 processes of 97 hosts, 250-byte command lines,
 * spilled every 4,000 records. */
enum { RANGED_NO_SPILL, RANGED_SPILL, RANGED_NO_RANGE_FILES };
static esc_table *ranged(int mode) {
    bool spill = mode != RANGED_NO_SPILL;
    esc_error err = {0};
    esc_plan *p = esc_plan_new(
        "| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes by "
        "Processes.dest Processes.process | rename Processes.* as * | eval n=len(process) | "
        "eventstats max(n) as m by dest | where n >= m",
        NULL, &err);
    assert_non_null(p);
    esc_exec *x = esc_exec_new(p, 0, ESC_TIME_MAX, &err);
    assert_non_null(x);
    char pad[240];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = 0;
    for (int i = 0; i < 30000; i++) {
        char host[32], proc[320];
        snprintf(host, sizeof host, "host%03d", (i * 7919) % 97);
        snprintf(proc, sizeof proc, "cmd.exe /c %s %d", pad, (i * 31) % 20011);
        esc_event ev = {.path = "in.xml", .offset = (uint64_t)i * 10, .line = (uint64_t)i + 1};
        esc_record r = proc_record(host);
        r.time_us = (int64_t)(i % 50) * 1000000;
        r.ev = &ev;
        r.v[ESC_CIM_PROCESS] = esc_str_c(proc);
        assert_int_equal(esc_exec_feed(x, &r, &err), ESC_OK);
        if (spill && i % 4000 == 3999)
            assert_int_equal(esc_exec_spill(x, 0, &err), ESC_OK);
    }
    esc_table *t = NULL;
    const char *tmp = getenv("TMPDIR");
    char *was = tmp ? esc_strdup(tmp) : NULL;
    if (mode == RANGED_NO_RANGE_FILES)
        setenv("TMPDIR", "/nonexistent/escudo-test", 1);
    assert_int_equal(esc_exec_finish(x, &t, &err), ESC_OK);
    if (was)
        setenv("TMPDIR", was, 1);
    else
        unsetenv("TMPDIR");
    esc_free(was);
    esc_exec_free(x);
    esc_plan_free(p);
    return t;
}

/* '*' globs, ASCII case-insensitive (spl/match.c), against a backtracking reference over
 * random patterns and texts of a small alphabet, whose pieces fall on both sides of the
 * 16-byte steps the first byte of a piece is searched in. */
static bool ref_glob(const char *p, const char *s) {
    if (!*p)
        return !*s;
    if (*p == '*')
        return ref_glob(p + 1, s) || (*s && ref_glob(p, s + 1));
    unsigned char a = (unsigned char)*p, b = (unsigned char)*s;
    if (a >= 'A' && a <= 'Z')
        a = (unsigned char)(a + 32);
    if (b >= 'A' && b <= 'Z')
        b = (unsigned char)(b + 32);
    return *s && a == b && ref_glob(p + 1, s + 1);
}

static void test_glob_random(void **state) {
    (void)state;
    static const char abc[] = "aAbB.\\x";
    unsigned seed = 7;
    size_t matched = 0;
    for (int n = 0; n < 200000; n++) {
        char p[12], t[48];
        size_t pn = 1 + (size_t)(rand_r(&seed) % 9), tn = (size_t)(rand_r(&seed) % 47);
        for (size_t i = 0; i < pn; i++)
            p[i] = rand_r(&seed) % 3 ? abc[rand_r(&seed) % (sizeof abc - 1)] : '*';
        for (size_t i = 0; i < tn; i++)
            t[i] = abc[rand_r(&seed) % (sizeof abc - 1)];
        p[pn] = t[tn] = 0;
        bool want = ref_glob(p, t);
        matched += want;
        if (spl_glob_imatch(p, pn, t, tn) != want)
            fail_msg("glob '%s' against '%s': want %d", p, t, want);
        if (spl_glob_imatch_shaped(spl_glob_shape(p, pn), p, pn, t, tn) != want)
            fail_msg("glob of its shape '%s' against '%s': want %d", p, t, want);
    }
    assert_true(matched > 1000);
}

/* spl_parse_num against strtod (spl/match.c: a short decimal without an exponent is its digits
 * divided by a power of ten): random decimals of 1 to 24 digits, a point anywhere or none, a
 * sign or none, and some with an exponent, give strtod's value to the bit, and -0 its sign. */
static void test_parse_num_random(void **state) {
    (void)state;
    unsigned seed = 11;
    size_t fast = 0;
    for (int n = 0; n < 300000; n++) {
        char t[48];
        size_t len = 0, nd = 1 + (size_t)(rand_r(&seed) % 24), point = (size_t)rand_r(&seed) % 30;
        int sign = rand_r(&seed) % 3;
        if (sign)
            t[len++] = sign == 1 ? '-' : '+';
        for (size_t i = 0; i < nd; i++) {
            if (i == point)
                t[len++] = '.';
            /* runs of zeros and nines as well as any digit: the edges of 2^53 and rounding */
            int k = rand_r(&seed) % 4;
            t[len++] = k == 0 ? '0' : k == 1 ? '9' : (char)('0' + rand_r(&seed) % 10);
        }
        if (rand_r(&seed) % 10 == 0)
            len += (size_t)snprintf(t + len, sizeof t - len, "e%d", rand_r(&seed) % 40 - 20);
        t[len] = 0;
        double got, want = strtod(t, NULL);
        if (!spl_parse_num(t, len, &got))
            fail_msg("'%s' not read as a number", t);
        if (memcmp(&got, &want, sizeof got))
            fail_msg("'%s': %.17g, strtod %.17g", t, got, want);
        fast += nd <= 15 && !strchr(t, 'e');
    }
    assert_true(fast > 100000);
    double z;
    assert_true(spl_parse_num("-0", 2, &z) && z == 0 && signbit(z));
    assert_true(spl_parse_num("9007199254740993", 16, &z) && z == 9007199254740992.0);
    assert_false(spl_parse_num(".", 1, &z));
    assert_false(spl_parse_num("1e", 2, &z));
}

/* A plain pattern (letters, digits, ' ', '_', '-', '.') found without PCRE2 (spl/regex.c
 * spl_re_plain_find) against PCRE2 itself, compiled as match() compiles it: 200,000 random
 * patterns and subjects (dots, case, line breaks and a non-ASCII byte among them, which leave
 * the answer to PCRE2). */
static void test_plain_regex_random(void **state) {
    (void)state;
    static const char pa[] = "aAb.-_ 1", sa[] = "aAbB.-_ 1\n\r\x80";
    unsigned seed = 9;
    size_t decided = 0, found = 0;
    for (int k = 0; k < 200000; k++) {
        char p[8], t[40];
        size_t m = (size_t)(rand_r(&seed) % 5), n = (size_t)(rand_r(&seed) % 40);
        for (size_t i = 0; i < m; i++)
            p[i] = pa[rand_r(&seed) % (sizeof pa - 1)];
        for (size_t i = 0; i < n; i++)
            t[i] = rand_r(&seed) % 60 ? sa[rand_r(&seed) % 9] : sa[9 + rand_r(&seed) % 3];
        assert_true(spl_re_plain(p, m));
        int code;
        size_t off;
        pcre2_code *re = spl_re_compile(p, m, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &off);
        assert_non_null(re);
        bool ok, want = spl_re_matches(re, t, n, &ok);
        pcre2_code_free(re);
        int got = spl_re_plain_find(p, m, t, n);
        if (got >= 0 && (got == 1) != want)
            fail_msg("'%.*s' in '%.*s': PCRE2 %d", (int)m, p, (int)n, t, want);
        decided += got >= 0;
        found += got == 1;
    }
    assert_true(decided > 100000 && found > 20000);
    assert_false(spl_re_plain("a+", 2) || spl_re_plain("a\\.", 3) || spl_re_plain("(?i)a", 5));
    char big[ESC_RE_PLAIN_MAX];
    memset(big, 'a', sizeof big);
    assert_int_equal(spl_re_plain_find("a", 1, big, sizeof big), -1);
}

/* A semi-join's key set (spl/semijoin.c) keeps a group whose key, up to its first NUL (the join
 * compares cells as C strings), is one of the column's values: 20,000 random keys of a small
 * alphabet, NULs among them, against strcmp over every value. */
static void test_keyset_random(void **state) {
    (void)state;
    static const char abc[] = "ab\0";
    const char *name[] = {"k"};
    bool mv[] = {false};
    int origin[] = {-1};
    schema sc = {1, name, mv, origin};
    unsigned seed = 3;
    esc_table *t = spl_table_new(&sc, 40);
    assert_non_null(t);
    char vals[40][6];
    for (size_t r = 0; r < 40; r++) {
        size_t n = (size_t)(rand_r(&seed) % 5);
        for (size_t i = 0; i < n; i++)
            vals[r][i] = "ab"[rand_r(&seed) % 2];
        vals[r][n] = 0;
        esc_str v = esc_str_c(vals[r]);
        assert_true(spl_cell_set(&t->cells[r], &v, 1));
    }
    spl_keyset *k = spl_keyset_new(1);
    assert_non_null(k);
    assert_true(spl_keyset_add_column(k, 0, t, 0));
    size_t kept = 0;
    for (int n = 0; n < 20000; n++) {
        char key[8];
        size_t len = (size_t)(rand_r(&seed) % 7);
        for (size_t i = 0; i < len; i++)
            key[i] = abc[rand_r(&seed) % 3];
        key[len] = 0;
        bool want = false;
        for (size_t r = 0; r < 40 && !want; r++)
            want = strcmp(key, vals[r]) == 0; /* the key as a C string: up to its first NUL */
        esc_str ks = esc_str_make(key, len);
        if (spl_keyset_keep(k, &ks) != want)
            fail_msg("key '%.*s' (%zu bytes): want %d", (int)len, key, len, want);
        kept += want;
    }
    assert_true(kept > 1000 && kept < 19000);
    spl_keyset_free(k);
    esc_table_free(t);
}

/* A number's "%.15g" and "%.17g" made without printf (spl/exec.c spl_num_fixed_g) against
 * snprintf: 1,000,000 random doubles of every size from 1 to 1e15 (each a random 53-bit mantissa
 * scaled), and exact ties at the last digit kept (x.5 with 15 integer digits, x.125 with 15,
 * which glibc rounds to even), both signs. */
static void test_num_fixed_g_random(void **state) {
    (void)state;
    unsigned seed = 13;
    size_t done = 0;
    for (int k = 0; k < 1000000; k++) {
        uint64_t m =
            (uint64_t)rand_r(&seed) << 31 ^ (uint64_t)rand_r(&seed) << 10 ^ (uint64_t)rand_r(&seed);
        double v;
        if (k % 10 == 0) /* a tie: 15 integer digits and .5 or .125 */
            v = (double)(100000000000000ULL + m % 899999999999999ULL) + (k % 20 ? 0.5 : 0.125);
        else
            v = ldexp((double)((m | 1ULL << 52) & ((1ULL << 53) - 1)), -(1 + rand_r(&seed) % 52));
        if (k % 2)
            v = -v;
        for (int prec = 15; prec <= 17; prec += 2) {
            char got[32], want[40];
            size_t n = spl_num_fixed_g(v, prec, got);
            if (!n)
                continue;
            snprintf(want, sizeof want, "%.*g", prec, v);
            if (strcmp(got, want) != 0)
                fail_msg("%%.%dg of %a: '%s', printf '%s'", prec, v, got, want);
            done++;
        }
    }
    assert_true(done > 1000000);
    char out[32];
    assert_int_equal(spl_num_fixed_g(0.5, 15, out), 0);        /* under 1: printf */
    assert_int_equal(spl_num_fixed_g(1e15 + 0.5, 15, out), 0); /* 16 digits: printf */
    assert_int_equal(spl_num_fixed_g(42.0, 15, out), 0);       /* an integer: the caller's */
}

/* An OR chain of four or more field=value members is looked up in a hash table (plan.c
 * prepare_where); its answer must be the OR of its members', each planned alone (no table), for
 * any record: case-folded values, other lengths, empty and absent fields, wildcard members,
 * two fields in one chain, a chain under NOT, index (true for every raw event), multivalue
 * fields of a field set. */
static void test_or_chain_set(void **state) {
    (void)state;
    static const char *const members[] = {
        "Processes.process_name=\"a.exe\"",       "Processes.process_name=\"B.EXE\"",
        "Processes.process_name=\"c.exe\"",       "Processes.process_name=\"\"",
        "Processes.process_path=\"*\\\\e.exe\"",  "Processes.parent_process_name=\"p.exe\"",
        "Processes.parent_process_name=\"Q.exe\""};
    static const char *const names[] = {"a.exe", "A.EXE", "b.exe", "c.ex",  "xc.exe",
                                        "",      NULL,    "p.exe", "q.EXE", "d\\e.exe"};
    size_t nm = sizeof members / sizeof *members, nn = sizeof names / sizeof *names;
    char q[1024];
    esc_error err;
    esc_plan *one[8];
    for (size_t k = 0; k < nm; k++) {
        snprintf(q, sizeof q,
                 "| tstats count from datamodel=Endpoint.Processes where %s by Processes.dest",
                 members[k]);
        assert_non_null(one[k] = esc_plan_new(q, NULL, &err));
    }
    int len = snprintf(q, sizeof q, "| tstats count from datamodel=Endpoint.Processes where (");
    for (size_t k = 0; k < nm; k++)
        len += snprintf(q + len, sizeof q - (size_t)len, "%s%s", k ? " OR " : "", members[k]);
    snprintf(q + len, sizeof q - (size_t)len, ") by Processes.dest");
    esc_plan *chain = esc_plan_new(q, NULL, &err);
    snprintf(q, sizeof q,
             "| tstats count from datamodel=Endpoint.Processes where NOT Processes.user IN "
             "(\"u1\", \"U2\", \"u3\", \"u4\") by Processes.dest");
    esc_plan *not_in = esc_plan_new(q, NULL, &err);
    assert_non_null(chain);
    assert_non_null(not_in);
    size_t hits = 0;
    for (size_t a = 0; a < nn; a++)
        for (size_t b = 0; b < nn; b++)
            for (size_t c = 0; c < nn; c++) {
                esc_record r;
                memset(&r, 0, sizeof r);
                r.ds = ESC_DS_PROCESSES;
                r.v[ESC_CIM_PROCESS_NAME] = names[a] ? esc_str_c(names[a]) : ESC_STR_NULL;
                r.v[ESC_CIM_PARENT_PROCESS_NAME] = names[b] ? esc_str_c(names[b]) : ESC_STR_NULL;
                r.v[ESC_CIM_PROCESS_PATH] = names[c] ? esc_str_c(names[c]) : ESC_STR_NULL;
                bool want = false;
                for (size_t k = 0; k < nm; k++)
                    want |= esc_plan_record_matches(one[k], &r);
                hits += want;
                assert_int_equal(esc_plan_record_matches(chain, &r), want);
                r.v[ESC_CIM_USER] = r.v[ESC_CIM_PROCESS_NAME];
                assert_true(esc_plan_record_matches(not_in, &r));
            }
    assert_true(hits > 100 && hits < nn * nn * nn);
    static const char *const users[] = {"u1", "U1", "u2", "u4"};
    for (size_t k = 0; k < 4; k++) {
        esc_record r;
        memset(&r, 0, sizeof r);
        r.ds = ESC_DS_PROCESSES;
        r.v[ESC_CIM_USER] = esc_str_c(users[k]);
        assert_false(esc_plan_record_matches(not_in, &r));
    }
    for (size_t k = 0; k < nm; k++)
        esc_plan_free(one[k]);
    esc_plan_free(chain);
    esc_plan_free(not_in);

    /* a raw-event search over a field set: multivalue fields, index, a wildcard member */
    esc_plan *raw = esc_plan_new("search EventCode IN (1, 2, 3, 4) OR Image IN (\"x\", \"y\", "
                                 "\"z\", \"w\") OR CommandLine=\"*enc*\"",
                                 NULL, &err);
    esc_plan *idx = esc_plan_new("search index=main OR EventCode IN (1, 2, 3, 4)", NULL, &err);
    assert_non_null(raw);
    assert_non_null(idx);
    static const char *const vals[] = {"1", "4", "5", "X", "y", "-ENC x", "11", ""};
    size_t nv = sizeof vals / sizeof *vals;
    esc_arena ar;
    esc_arena_init(&ar, 1 << 12, 1 << 20);
    for (size_t a = 0; a < nv; a++)
        for (size_t b = 0; b < nv; b++) {
            esc_arena_reset(&ar);
            esc_fields fs = {0};
            esc_fields_add(&fs, &ar, esc_str_c("EventCode"), esc_str_c(vals[a]), false);
            esc_fields_add(&fs, &ar, esc_str_c("Image"), esc_str_c(vals[b]), false);
            esc_fields_add(&fs, &ar, esc_str_c("Image"), esc_str_c(vals[(a + b) % nv]), false);
            esc_fields_add(&fs, &ar, esc_str_c("CommandLine"), esc_str_c(vals[b]), false);
            esc_record r = {.ds = ESC_DS_RAW, .fs = &fs};
            bool code = a < 2, image = false;
            for (size_t k = 3; k < 5; k++)
                image |= b == k || (a + b) % nv == k;
            assert_int_equal(esc_plan_record_matches(raw, &r), code || image || b == 5);
            assert_true(esc_plan_record_matches(idx, &r));
        }
    esc_arena_fini(&ar);
    esc_plan_free(raw);
    esc_plan_free(idx);
}

/* now() is the search's time, the end of its window (tests/spl/eval_fn.test cites Splunk's
 * reference), in every batch of rows a raw-event search's streamed stats takes: 3,000 events
 * make several batches (STREAM_BATCH, spl/exec.c) that run while the events are fed, before the
 * search finishes, and on another thread than the one that finishes it. */
static void *feed_events(void *arg) {
    esc_exec *x = arg;
    esc_arena a;
    esc_arena_init(&a, 1 << 12, 1 << 20);
    esc_error err = {0};
    for (int i = 0; i < 3000 && !err.code; i++) {
        esc_arena_reset(&a);
        esc_fields fs = {0};
        fs.time_us = (int64_t)1577900000 * 1000000;
        esc_fields_add(&fs, &a, esc_str_c("EventCode"), esc_str_c("1"), false);
        esc_record r = {.ds = ESC_DS_RAW, .time_us = fs.time_us, .fs = &fs};
        esc_exec_feed(x, &r, &err);
    }
    esc_arena_fini(&a);
    return err.code ? arg : NULL;
}

static void test_now_while_fed(void **state) {
    (void)state;
    esc_error err = {0};
    esc_plan *p = esc_plan_new(
        "search EventCode=1 | eval t=now() | stats min(t) as lo max(t) as hi count", NULL, &err);
    assert_non_null(p);
    esc_exec *x = esc_exec_new(p, 0, (int64_t)1578000000 * 1000000, &err);
    assert_non_null(x);
    pthread_t th;
    void *failed = x;
    assert_int_equal(pthread_create(&th, NULL, feed_events, x), 0);
    assert_int_equal(pthread_join(th, &failed), 0);
    assert_null(failed);
    esc_table *t = NULL;
    assert_int_equal(esc_exec_finish(x, &t, &err), ESC_OK);
    assert_int_equal(t->nrows, 1);
    assert_int_equal(t->ncols, 3);
    assert_string_equal(t->cells[0].v[0], "1578000000");
    assert_string_equal(t->cells[1].v[0], "1578000000");
    assert_string_equal(t->cells[2].v[0], "3000");
    esc_table_free(t);
    esc_exec_free(x);
    esc_plan_free(p);
}

/* The same rows and evidence in a and b. */
static void same_ranged(const esc_table *a, const esc_table *b) {
    assert_int_equal(b->nrows, a->nrows);
    assert_int_equal(b->ncols, a->ncols);
    for (size_t i = 0; i < a->nrows * a->ncols; i++) {
        assert_int_equal(b->cells[i].n, a->cells[i].n);
        for (size_t k = 0; k < a->cells[i].n; k++)
            assert_string_equal(b->cells[i].v[k], a->cells[i].v[k]);
    }
    assert_non_null(a->evidence);
    assert_non_null(b->evidence);
    for (size_t r = 0; r < a->nrows; r++) {
        assert_int_equal(b->evidence[r].total, a->evidence[r].total);
        assert_int_equal(b->evidence[r].n, a->evidence[r].n);
        for (size_t k = 0; k < a->evidence[r].n; k++)
            assert_int_equal(b->evidence[r].refs[k].offset, a->evidence[r].refs[k].offset);
    }
}

static void test_ranged_finish(void **state) {
    (void)state;
    esc_table *a = ranged(RANGED_NO_SPILL), *b = ranged(RANGED_SPILL),
              *c = ranged(RANGED_NO_RANGE_FILES);
    assert_true(a->nrows > 97);
    same_ranged(a, b);
    same_ranged(a, c);
    esc_table_free(a);
    esc_table_free(b);
    esc_table_free(c);
}

/* A cell of one value holds it in its value array's allocation; replacing the value, growing
 * the array after spl_cell_own, copying and clearing each give back exactly what they hold
 * (valgrind and ASan see a wrong free). */
static void test_cell_one_allocation(void **state) {
    (void)state;
    esc_cell c = {0}, d = {0};
    esc_str v = esc_str_c("abc");
    assert_true(spl_cell_set(&c, &v, 1));
    assert_ptr_equal(c.v[0], (char *)(c.v + 1));
    spl_cell_replace(&c, 0, esc_strdup("xyz"));
    assert_string_equal(c.v[0], "xyz");
    spl_cell_replace(&c, 0, esc_strdup("uvw")); /* a value of its own now */
    assert_true(spl_cell_copy(&d, &c));
    assert_string_equal(d.v[0], "uvw");
    assert_ptr_equal(d.v[0], (char *)(d.v + 1));
    spl_cell_clear(&c);
    assert_true(spl_cell_set(&c, &v, 1));
    assert_true(spl_cell_own(&c));
    char **nv = esc_realloc(c.v, 2 * sizeof *nv);
    assert_non_null(nv);
    c.v = nv;
    c.v[c.n++] = esc_strdup("d");
    assert_string_equal(c.v[0], "abc");
    assert_string_equal(c.v[1], "d");
    spl_cell_clear(&c);
    spl_cell_clear(&d);
    assert_int_equal(c.n + d.n, 0);
}

/* A stats of one row per group (spl/unique.c, spl_stats_unique) against the same stats
 * grouping the rows (spl_stats_add): the same rows, cells and numbers, the BY cells moved from
 * the input rows rather than copied; rows that share their BY values, or a BY cell of several
 * values, are left to the grouping (NULL, the table untouched). */
static esc_table *unique_input(const esc_plan *p, const char *const (*rows)[3], size_t n) {
    const stage *in = &p->stages[2]; /* after the eval */
    esc_table *t = spl_table_new(&in->out, n);
    assert_non_null(t);
    int dest = esc_table_col(t, "dest"), proc = esc_table_col(t, "process");
    int count = esc_table_col(t, "count"), len = esc_table_col(t, "n");
    assert_true(dest >= 0 && proc >= 0 && count >= 0 && len >= 0);
    for (size_t r = 0; r < n; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        esc_str d = esc_str_c(rows[r][0]), pr = esc_str_c(rows[r][1]), c = esc_str_c(rows[r][2]);
        assert_true(spl_cell_set(&row[dest], &d, 1) && spl_cell_set(&row[proc], &pr, 1));
        assert_true(spl_cell_num(&row[count], atof(rows[r][2]), &c));
        assert_true(spl_cell_num(&row[len], (double)pr.len, NULL));
    }
    return t;
}

static void test_stats_unique(void **state) {
    (void)state;
    esc_error err = {0};
    esc_plan *p = esc_plan_new(
        "| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.process | "
        "rename Processes.* as * | eval n=len(process) | stats max(n) as m values(count) as c "
        "sum(count) as s stdev(n) as sd first(process) as f by process dest",
        NULL, &err);
    assert_non_null(p);
    const stage *st = &p->stages[3];
    assert_true(st->unique);
    static const char *const rows[][3] = {
        {"h2", "b.exe", "3"}, {"h1", "c.exe -x", "1"}, {"h1", "a.exe", "2"},
        {"h2", "a.exe", "7"}, {"h1", "10", "1"},       {"h1", "9", "4"},
    };
    size_t n = sizeof rows / sizeof rows[0];
    esc_table *a = unique_input(p, rows, n), *b = unique_input(p, rows, n), *ua = NULL, *ub = NULL;
    int proc = esc_table_col(a, "process");
    char **moved = a->cells[2 * a->ncols + (size_t)proc].v; /* a.exe on h1 */
    assert_int_equal(spl_stats_unique(st, a, &ua, &err), ESC_OK);
    assert_non_null(ua);
    spl_stats_acc *c = spl_stats_open(st);
    assert_non_null(c);
    assert_int_equal(spl_stats_add(c, b, &err), ESC_OK);
    assert_int_equal(spl_stats_close(c, &ub, &err), ESC_OK);
    spl_stats_free(c);
    assert_int_equal(ua->nrows, n);
    assert_int_equal(ub->nrows, n);
    assert_int_equal(ua->ncols, ub->ncols);
    for (size_t k = 0; k < ua->ncols; k++) {
        assert_string_equal(ua->cols[k], ub->cols[k]);
        assert_int_equal(ua->mv_col[k], ub->mv_col[k]);
    }
    for (size_t i = 0; i < ua->nrows * ua->ncols; i++) {
        const esc_cell *x = &ua->cells[i], *y = &ub->cells[i];
        assert_int_equal(x->n, y->n);
        assert_int_equal(x->is_num, y->is_num);
        if (x->is_num)
            assert_true(x->num == y->num);
        for (size_t k = 0; k < x->n; k++)
            assert_string_equal(x->v[k], y->v[k]);
    }
    /* rows in BY order (process first): 10, 9, a.exe h1, a.exe h2, b.exe, c.exe -x */
    assert_string_equal(ua->cells[2 * ua->ncols].v[0], "a.exe");
    assert_string_equal(ua->cells[2 * ua->ncols + 1].v[0], "h1");
    assert_ptr_equal(ua->cells[2 * ua->ncols].v, moved);
    esc_table_free(ua);
    esc_table_free(ub);
    esc_table_free(a);
    esc_table_free(b);

    static const char *const twice[][3] = {{"h1", "a.exe", "1"}, {"h1", "a.exe", "2"}};
    esc_table *t = unique_input(p, twice, 2);
    assert_int_equal(spl_stats_unique(st, t, &ua, &err), ESC_OK);
    assert_null(ua);
    assert_int_equal(t->nrows, 2);
    assert_string_equal(t->cells[(size_t)proc].v[0], "a.exe");
    int dest = esc_table_col(t, "dest");
    esc_str more[2] = {esc_str_c("h1"), esc_str_c("h2")}; /* a BY cell of two values */
    assert_true(spl_cell_set(&t->cells[t->ncols + (size_t)dest], more, 2));
    t->cells[t->ncols + (size_t)proc].v[0][0] = 'b';
    assert_int_equal(spl_stats_unique(st, t, &ua, &err), ESC_OK);
    assert_null(ua);
    esc_table_free(t);
    esc_plan_free(p);
}

/* spl_table_remap rebuilds a table where its cells are (narrower: rows move down; wider with
 * the old columns first: rows move up): the cells a copy would give, the columns not kept
 * freed (valgrind and ASan see a leak or a double free), the rows' ids kept. */
static void test_remap_in_place(void **state) {
    (void)state;
    const char *n3[] = {"a", "b", "c"}, *n2[] = {"c", "a"}, *n5[] = {"a", "b", "c", "d", "e"};
    bool mv[5] = {false, false, false, false, true};
    int o3[3] = {-1, -1, -1};
    schema s3 = {3, n3, mv, o3}, s2 = {2, n2, mv, o3}, s5 = {5, n5, mv, o3};
    esc_table *t = spl_table_new(&s3, 4);
    assert_non_null(t);
    t->row_id = esc_malloc(4 * sizeof *t->row_id);
    assert_non_null(t->row_id);
    for (size_t r = 0; r < 4; r++) {
        t->row_id[r] = 10 + r;
        for (size_t c = 0; c < 3; c++) {
            char buf[16];
            snprintf(buf, sizeof buf, "%s%zu", n3[c], r);
            esc_str v = esc_str_c(buf);
            assert_true(spl_cell_set(&t->cells[r * 3 + c], &v, 1));
        }
    }
    esc_error err = {0};
    int narrow[2] = {2, 0}; /* c, a; b goes */
    assert_int_equal(spl_table_remap(t, &s2, narrow, &err), ESC_OK);
    assert_int_equal(t->ncols, 2);
    assert_string_equal(t->cols[0], "c");
    assert_int_equal(spl_table_widen(t, &s5, &err), ESC_OK);
    assert_int_equal(t->ncols, 5);
    assert_true(t->mv_col[4]);
    for (size_t r = 0; r < 4; r++) {
        char c[16], a[16];
        snprintf(c, sizeof c, "c%zu", r);
        snprintf(a, sizeof a, "a%zu", r);
        assert_string_equal(t->cells[r * 5].v[0], c);
        assert_string_equal(t->cells[r * 5 + 1].v[0], a);
        for (size_t k = 2; k < 5; k++)
            assert_int_equal(t->cells[r * 5 + k].n, 0);
        assert_int_equal(t->row_id[r], 10 + r);
    }
    esc_table_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_last_definition_wins),
        cmocka_unit_test(test_plan_api),
        cmocka_unit_test(test_or_chain_set),
        cmocka_unit_test(test_prefilter_never_unknown),
        cmocka_unit_test(test_caret),
        cmocka_unit_test(test_long_in_list),
        cmocka_unit_test(test_rename_stars),
        cmocka_unit_test(test_pair_errors),
        cmocka_unit_test(test_prune_shared),
        cmocka_unit_test(test_join_empty_spilled),
        cmocka_unit_test(test_join_eval_copy),
        cmocka_unit_test(test_join_rows_cap),
        cmocka_unit_test(test_join_rows_made),
        cmocka_unit_test(test_prune_stream),
        cmocka_unit_test(test_prune_deps),
        cmocka_unit_test(test_prune_memo),
        cmocka_unit_test(test_ranged_finish),
        cmocka_unit_test(test_now_while_fed),
        cmocka_unit_test(test_glob_random),
        cmocka_unit_test(test_parse_num_random),
        cmocka_unit_test(test_plain_regex_random),
        cmocka_unit_test(test_keyset_random),
        cmocka_unit_test(test_num_fixed_g_random),
        cmocka_unit_test(test_cell_one_allocation),
        cmocka_unit_test(test_stats_unique),
        cmocka_unit_test(test_remap_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
