/* Notables, risk events and the risk incident rule over hand-built result tables and the
 * shipped content (the seed detection). Each field rule of SPEC section 6 is checked on its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act/act.h"
#include "core/alloc.h"
#include "content/content.h"
#include "parse/json_value.h"
#include "sink/sink.h"

#define SEED_ID "743a322c-9a68-4a0f-9c17-85d9cce2a27c"
#define SEED_SEARCH "ESCU - Create or delete windows shares using net exe - Rule"

/* ---- a sink that keeps what it is given ---------------------------------------------------- */

typedef struct kept {
    esc_sink_kind kind;
    char *id, *json, *object, *type;
    int64_t time;
    int score;
} kept;

typedef struct keep_sink {
    esc_sink base;
    kept *ev;
    size_t n;
    size_t offered; /* risk events that offered their fields */
} keep_sink;

/* The fields a risk event offers are its JSON's members read back: strings and numbers as
 * they are, arrays one per element, objects and nulls left out. */
static void check_fields(const esc_sink_event *e) {
    esc_json_object *o = NULL;
    esc_error err;
    assert_int_equal(esc_json_object_read(e->json, e->json_len, &o, &err), ESC_OK);
    size_t j = 0;
    for (size_t i = 0; i < esc_json_object_count(o); i++) {
        const esc_json_member *m = esc_json_object_member(o, i);
        if (m->type == ESC_JT_OBJ || m->type == ESC_JT_NULL)
            continue;
        size_t n = m->type == ESC_JT_ARR ? m->nitems : 1;
        for (size_t k = 0; k < n; k++, j++) {
            assert_true(j < e->nfields);
            const esc_sink_field *f = &e->fields[j];
            const char *v = m->type == ESC_JT_ARR ? m->items[k] : m->text;
            esc_sink_field_kind kind = m->type == ESC_JT_ARR   ? ESC_SINK_FIELD_ELEM
                                       : m->type == ESC_JT_NUM ? ESC_SINK_FIELD_NUM
                                                               : ESC_SINK_FIELD_STR;
            assert_string_equal(f->name, m->key);
            assert_int_equal(f->len, strlen(v));
            assert_memory_equal(f->value, v, f->len);
            assert_int_equal(f->value[f->len], 0);
            assert_int_equal(f->kind, kind);
        }
    }
    assert_int_equal(j, e->nfields);
    esc_json_object_free(o);
}

static esc_status keep_put(esc_sink *s, const esc_sink_event *e, esc_error *err) {
    (void)err;
    keep_sink *k = (keep_sink *)s;
    if (e->fields) {
        assert_int_equal(e->kind, ESC_SINK_RISK);
        check_fields(e);
        k->offered++;
    }
    k->ev = realloc(k->ev, (k->n + 1) * sizeof *k->ev);
    kept *x = &k->ev[k->n++];
    x->kind = e->kind;
    x->id = strdup(e->event_id);
    x->json = strndup(e->json, e->json_len);
    x->object = e->risk_object ? strdup(e->risk_object) : NULL;
    x->type = e->risk_object_type ? strdup(e->risk_object_type) : NULL;
    x->time = e->time;
    x->score = e->risk_score;
    return ESC_OK;
}
static esc_status keep_flush(esc_sink *s, esc_error *err) {
    (void)s;
    (void)err;
    return ESC_OK;
}
static void keep_clear(keep_sink *k) {
    for (size_t i = 0; i < k->n; i++) {
        free(k->ev[i].id);
        free(k->ev[i].json);
        free(k->ev[i].object);
        free(k->ev[i].type);
    }
    free(k->ev);
    k->ev = NULL;
    k->n = 0;
    k->offered = 0;
}
static void keep_close(esc_sink *s) {
    keep_clear((keep_sink *)s);
}
static const esc_sink_ops keep_ops = {"keep", keep_put, keep_flush, keep_close, NULL};

static size_t count_kind(const keep_sink *k, esc_sink_kind kind, const char *search) {
    size_t n = 0;
    for (size_t i = 0; i < k->n; i++)
        if (k->ev[i].kind == kind && (!search || strstr(k->ev[i].json, search)))
            n++;
    return n;
}

/* ---- tables -------------------------------------------------------------------------------- */

static char *COLS[] = {
    "process", "process_name", "parent_process_name", "original_file_name", "dest",
    "count",   "user",         "parent_process",      "firstTime",          "lastTime"};
static bool MV[] = {false, false, false, false, false, false, true, true, false, false};
#define NC 10

typedef struct rowspec {
    const char *process, *dest, *last;
    const char *users[3];
    size_t nusers;
} rowspec;

static char *sdup(const char *s) {
    return s ? strdup(s) : NULL;
}

static void set1(esc_cell *c, const char *v) {
    c->n = v ? 1 : 0;
    c->v = calloc(1, sizeof *c->v);
    c->v[0] = sdup(v);
    c->is_num = false;
}

static esc_table *make_table(const rowspec *rows, size_t n) {
    esc_table *t = calloc(1, sizeof *t);
    t->ncols = NC;
    t->cols = COLS;
    t->mv_col = MV;
    t->nrows = n;
    t->cells = calloc(n * NC, sizeof *t->cells);
    for (size_t r = 0; r < n; r++) {
        esc_cell *c = &t->cells[r * NC];
        set1(&c[0], rows[r].process);
        set1(&c[1], "net.exe");
        set1(&c[2], "cmd.exe");
        set1(&c[3], "net.exe");
        set1(&c[4], rows[r].dest);
        set1(&c[5], "2");
        c[5].is_num = true;
        c[5].num = 2;
        c[6].n = rows[r].nusers;
        c[6].v = calloc(rows[r].nusers + 1, sizeof(char *));
        for (size_t k = 0; k < rows[r].nusers; k++)
            c[6].v[k] = sdup(rows[r].users[k]);
        set1(&c[7], "cmd.exe /c \"net share x=c:\\\\\"");
        set1(&c[8], rows[r].last);
        set1(&c[9], rows[r].last);
    }
    return t;
}

static void drop_table(esc_table *t) {
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        for (size_t k = 0; k < t->cells[i].n; k++)
            free(t->cells[i].v[k]);
        free(t->cells[i].v);
    }
    free(t->cells);
    free(t);
}

typedef struct fixture {
    esc_content *c;
    const esc_detection *d;
    esc_sinks *sinks;
    keep_sink *keep;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    const char *dirs[] = {ESC_SOURCE_DIR "/content/base", ESC_SOURCE_DIR "/content"};
    esc_error err;
    if (esc_content_load(dirs, 2, &f->c, &err) != ESC_OK)
        return -1;
    f->d = esc_content_find(f->c, SEED_ID);
    esc_sink_opts none;
    memset(&none, 0, sizeof none);
    if (esc_sinks_open(&none, &f->sinks, &err) != ESC_OK)
        return -1;
    f->keep = calloc(1, sizeof *f->keep);
    f->keep->base.ops = &keep_ops;
    if (esc_sinks_add(f->sinks, &f->keep->base, &err) != ESC_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    esc_sinks_close(f->sinks, NULL);
    free(f->keep);
    esc_content_free(f->c);
    free(f);
    return 0;
}

static esc_act_counts run(fixture *f, esc_table *t, esc_act_window w) {
    esc_error err;
    esc_act *a = esc_act_new(f->c, f->sinks, &err);
    assert_non_null(a);
    esc_act_input in = {f->d, t, NULL, 0, w, NULL};
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    assert_int_equal(esc_act_finish(a, &err), ESC_OK);
    esc_act_counts c = esc_act_get_counts(a);
    esc_act_free(a);
    return c;
}

static const esc_act_window ALL = {0, ESC_ACT_INFINITY, 1700000000};

/* ---- tests --------------------------------------------------------------------------------- */

static void test_pieces(void **state) {
    (void)state;
    assert_string_equal(esc_act_severity(0), "informational");
    assert_string_equal(esc_act_severity(20), "informational");
    assert_string_equal(esc_act_severity(21), "low");
    assert_string_equal(esc_act_severity(25), "low");
    assert_string_equal(esc_act_severity(40), "low");
    assert_string_equal(esc_act_severity(41), "medium");
    assert_string_equal(esc_act_severity(60), "medium");
    assert_string_equal(esc_act_severity(61), "high");
    assert_string_equal(esc_act_severity(80), "high");
    assert_string_equal(esc_act_severity(81), "critical");
    assert_string_equal(esc_act_severity(100), "critical");
    assert_string_equal(esc_act_urgency("informational"), "informational");
    assert_string_equal(esc_act_urgency("low"), "low");
    assert_string_equal(esc_act_urgency("medium"), "low");
    assert_string_equal(esc_act_urgency("high"), "medium");
    assert_string_equal(esc_act_urgency("critical"), "high");
    assert_string_equal(esc_act_object_type("User"), "user");
    assert_string_equal(esc_act_object_type("Hostname"), "system");
    assert_string_equal(esc_act_object_type("IP Address"), "system");
    assert_string_equal(esc_act_object_type("Endpoint"), "system");
    assert_null(esc_act_object_type("Process"));
    esc_detection d;
    memset(&d, 0, sizeof d);
    d.impact = 50;
    d.confidence = 50;
    d.risk_score = 99;
    assert_int_equal(esc_act_score(&d), 25);
    d.impact = 70;
    d.confidence = 90;
    assert_int_equal(esc_act_score(&d), 63);
    d.impact = -1;
    assert_int_equal(esc_act_score(&d), 99);
    char h[65];
    esc_sha256_hex("abc", 3, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    esc_sha256_hex("", 0, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *l = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    esc_sha256_hex(l, strlen(l), h);
    assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* SHA-256 with the CPU's SHA extensions (core/sha256.c block_ni, when it has them) against the
 * portable code: the FIPS 180-2 vectors both ways (one million 'a's: many blocks), and 3,000
 * random messages of 0 to 300 bytes (every tail length, one to six blocks) fed in random
 * pieces, the same digest. */
static void test_sha256_both_ways(void **state) {
    (void)state;
    static char big[1000000];
    memset(big, 'a', sizeof big);
    bool hw = esc_sha256_hw(true);
    for (int way = 0; way < 2; way++) {
        char h[65];
        esc_sha256_hex("abc", 3, h);
        assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        esc_sha256_hex(big, sizeof big, h);
        assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        esc_sha256_hw(false);
    }
    unsigned seed = 5;
    for (int n = 0; n < 3000; n++) {
        unsigned char msg[300];
        size_t len = (size_t)rand_r(&seed) % sizeof msg;
        for (size_t i = 0; i < len; i++)
            msg[i] = (unsigned char)rand_r(&seed);
        char want[65], got[65];
        esc_sha256_hw(false);
        esc_sha256_hex(msg, len, want);
        esc_sha256_hw(true);
        esc_sha256 s;
        esc_sha256_init(&s);
        for (size_t at = 0; at < len;) {
            size_t k = 1 + (size_t)rand_r(&seed) % 90;
            k = k < len - at ? k : len - at;
            esc_sha256_update(&s, msg + at, k);
            at += k;
        }
        esc_sha256_final_hex(&s, got);
        assert_string_equal(got, want);
    }
    print_message("SHA extensions %s\n", hw ? "used" : "not on this CPU: portable code both ways");
}

static void test_notable_and_risk_fields(void **state) {
    fixture *f = *state;
    rowspec rows[] = {
        {"net  share x=c:\\", "WIN-1", "2020-12-09T18:21:05", {"Administrator", "bob"}, 2},
        {"net share y /delete", "unknown", "2020-12-09T18:22:00", {"unknown"}, 1},
    };
    esc_table *t = make_table(rows, 2);
    esc_act_counts c = run(f, t, ALL);
    assert_int_equal(c.notables, 2);    /* one per row */
    assert_int_equal(c.risk_events, 3); /* Administrator, bob, WIN-1; none for unknown */
    assert_int_equal(c.incidents, 0);
    assert_int_equal(f->keep->n, 5);
    assert_int_equal(f->keep->offered, 3); /* as fields too (checked against the JSON) */

    /* order: row 1's notable, its risk events, row 2's notable */
    assert_int_equal(f->keep->ev[0].kind, ESC_SINK_NOTABLE);
    assert_int_equal(f->keep->ev[1].kind, ESC_SINK_RISK);
    assert_int_equal(f->keep->ev[4].kind, ESC_SINK_NOTABLE);

    const char *n = f->keep->ev[0].json;
    assert_true(strncmp(n, "{\"_time\":1700000000,\"event_id\":\"", 32) == 0);
    assert_non_null(strstr(n, ",\"search_name\":\"" SEED_SEARCH "\",\"rule_name\":\"" SEED_SEARCH
                              "\",\"rule_title\":\"Create or delete windows shares using net "
                              "exe\",\"rule_description\":\"The following analytic detects"));
    assert_non_null(strstr(n, "\"security_domain\":\"endpoint\",\"severity\":\"low\","
                              "\"urgency\":\"low\",\"status\":\"new\",\"owner\":\"unassigned\","
                              "\"nes_fields\":\"user,dest\",\"info_min_time\":0,"
                              "\"info_max_time\":\"+Infinity\",\"info_search_time\":1700000000,"
                              "\"drilldown_searches\":[{\"name\":\"View the detection results "
                              "for Administrator, bob and WIN-1\",\"search\":\"| tstats "));
    assert_non_null(strstr(n, "| search  user = Administrator, bob dest = WIN-1\","
                              "\"earliest_offset\":\"0\",\"latest_offset\":\"+Infinity\"}"));
    assert_non_null(strstr(n, "\"annotations.mitre_attack\":[\"T1070\",\"T1070.005\"],"
                              "\"annotations.mitre_attack.mitre_tactic\":[\"defense-evasion\"],"
                              "\"annotations.analytic_story\":[\"Hidden Cobra Malware\",\"CISA "
                              "AA22-277A\",\"Windows Post-Exploitation\",\"Prestige "
                              "Ransomware\",\"DarkGate Malware\"],\"annotations.confidence\":50,"
                              "\"annotations.impact\":50,\"annotations.type\":\"TTP\","
                              "\"process\":\"net  share x=c:\\\\\",\"process_name\":\"net.exe\""));
    assert_non_null(strstr(n, "\"count\":2,\"user\":[\"Administrator\",\"bob\"],"
                              "\"parent_process\":[\"cmd.exe /c \\\"net share x=c:\\\\\\\\\\\"\"],"
                              "\"firstTime\":\"2020-12-09T18:21:05\","
                              "\"lastTime\":\"2020-12-09T18:21:05\"}"));
    assert_null(strstr(n, "$user$"));
    assert_null(strstr(n, "$dest$"));
    assert_null(strstr(n, "$info_"));
    assert_null(strstr(n, "%original_detection_search%"));
    assert_int_equal(f->keep->ev[0].time, 1700000000);

    /* risk events */
    const char *want_obj[3] = {"Administrator", "bob", "WIN-1"};
    const char *want_type[3] = {"user", "user", "system"};
    for (int i = 0; i < 3; i++) {
        kept *k = &f->keep->ev[1 + i];
        assert_string_equal(k->object, want_obj[i]);
        assert_string_equal(k->type, want_type[i]);
        assert_int_equal(k->score, 25);
        assert_int_equal(k->time, 1607538065); /* lastTime 2020-12-09T18:21:05 UTC */
        const char *m0 = strstr(k->json, "\"risk_message\":\"");
        const char *m1 = strstr(k->json, "\",\"threat_object\"");
        assert_true(m0 && m1 && m0 < m1);
        assert_null(memchr(m0, '$', (size_t)(m1 - m0))); /* no $token$ left */
        char head[256];
        snprintf(head, sizeof head, "{\"_time\":1607538065,\"event_id\":\"%s\",", k->id);
        assert_true(strncmp(k->json, head, strlen(head)) == 0);
        char mid[512];
        snprintf(mid, sizeof mid,
                 "\"search_name\":\"" SEED_SEARCH "\",\"source\":\"" SEED_SEARCH "\","
                 "\"risk_object\":\"%s\",\"risk_object_type\":\"%s\",\"risk_score\":25,"
                 "\"calculated_risk_score\":25,\"risk_message\":\"An instance of cmd.exe "
                 "spawning net.exe was identified on endpoint WIN-1 by user %s enumerating "
                 "Windows file shares.\",\"threat_object\":[\"cmd.exe\",\"net.exe\"],"
                 "\"threat_object_type\":[\"process\",\"process\"],\"analyticstories\":[",
                 want_obj[i], want_type[i], i < 2 ? want_obj[i] : "Administrator, bob");
        assert_non_null(strstr(k->json, mid));
        assert_non_null(strstr(k->json, "\"annotations.mitre_attack.mitre_tactic\":"
                                        "[\"defense-evasion\"]"));
        assert_non_null(strstr(k->json, "\"user\":[\"Administrator\",\"bob\"]"));
    }
    /* ids: 64 hex, all distinct */
    for (size_t i = 0; i < f->keep->n; i++) {
        assert_int_equal(strlen(f->keep->ev[i].id), 64);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(f->keep->ev[i].id, f->keep->ev[j].id);
    }
    keep_clear(f->keep);
    drop_table(t);
}

static void test_identity(void **state) {
    fixture *f = *state;
    rowspec rows[] = {
        {"net share a", "H1", "2021-01-01T00:00:00", {"u1"}, 1},
        {"net share b", "H1", "2021-01-01T00:00:00", {"u1"}, 1},
    };
    esc_table *t = make_table(rows, 2);
    run(f, t, ALL);
    assert_int_equal(f->keep->n, 6);
    char *first[6];
    for (int i = 0; i < 6; i++)
        first[i] = strdup(f->keep->ev[i].id);
    keep_clear(f->keep);
    /* same rows, same window, another run time: same ids */
    esc_act_window later = {0, ESC_ACT_INFINITY, 1800000000};
    run(f, t, later);
    for (int i = 0; i < 6; i++)
        assert_string_equal(first[i], f->keep->ev[i].id);
    keep_clear(f->keep);
    /* another window: other ids */
    esc_act_window w2 = {1609459200, 1609462800, 1609463400};
    run(f, t, w2);
    for (int i = 0; i < 6; i++)
        assert_string_not_equal(first[i], f->keep->ev[i].id);
    assert_non_null(strstr(f->keep->ev[0].json, "\"info_min_time\":1609459200,"
                                                "\"info_max_time\":1609462800,"));
    keep_clear(f->keep);
    /* identity comes from the BY values only: a different count keeps the id */
    t->cells[5].v[0][0] = '7';
    t->cells[5].num = 7;
    run(f, t, ALL);
    assert_string_equal(first[0], f->keep->ev[0].id);
    assert_non_null(strstr(f->keep->ev[0].json, "\"count\":7"));
    keep_clear(f->keep);
    /* explicit BY fields */
    esc_error err;
    esc_act *a = esc_act_new(f->c, f->sinks, &err);
    const char *by[] = {"process", "process_name", "parent_process_name", "original_file_name",
                        "dest"};
    esc_act_input in = {f->d, t, by, 5, ALL, NULL};
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    esc_act_free(a);
    assert_string_equal(first[0], f->keep->ev[0].id);
    keep_clear(f->keep);
    for (int i = 0; i < 6; i++)
        free(first[i]);
    drop_table(t);
}

static esc_table *user_rows(size_t n, int64_t start, int64_t step) {
    rowspec *rows = calloc(n, sizeof *rows);
    char(*proc)[32] = calloc(n, 32);
    char(*last)[64] = calloc(n, 64);
    for (size_t i = 0; i < n; i++) {
        snprintf(proc[i], 32, "net share s%zu", i);
        int64_t t = start + (int64_t)i * step;
        /* 2021-03-01 + t seconds, as convert ctime writes it */
        long long s = 1614556800LL + t;
        long long day = s / 86400, sec = s % 86400;
        snprintf(last[i], 64, "2021-03-%02lldT%02lld:%02lld:%02lld", 1 + (day - 18687), sec / 3600,
                 sec % 3600 / 60, sec % 60);
        rows[i] = (rowspec){proc[i], "unknown", last[i], {"alice"}, 1};
    }
    esc_table *t = make_table(rows, n);
    free(rows);
    free(proc);
    free(last);
    return t;
}

static void test_incident_rule(void **state) {
    fixture *f = *state;
    /* five rows for one user inside 24 hours: one threshold notable */
    esc_table *t = user_rows(5, 0, 3600);
    esc_act_counts c = run(f, t, ALL);
    assert_int_equal(c.risk_events, 5);
    assert_int_equal(c.incidents, 1);
    size_t inc = count_kind(f->keep, ESC_SINK_NOTABLE, "Risk - 24 Hour Risk Threshold");
    assert_int_equal(inc, 1);
    const kept *k = &f->keep->ev[f->keep->n - 1];
    assert_non_null(strstr(k->json, "\"rule_title\":\"24 hour risk threshold exceeded for "
                                    "user=alice\""));
    assert_non_null(strstr(k->json, "\"search_name\":\"Risk - 24 Hour Risk Threshold Exceeded - "
                                    "Rule\""));
    assert_non_null(strstr(k->json, "\"security_domain\":\"threat\""));
    assert_non_null(strstr(k->json, "\"risk_score\":125,\"risk_event_count\":5"));
    assert_int_equal(k->time, 1614556800 + 4 * 3600);
    keep_clear(f->keep);
    /* finish twice: the second emits nothing */
    esc_error err;
    esc_act *a = esc_act_new(f->c, f->sinks, &err);
    esc_act_input in = {f->d, t, NULL, 0, ALL, NULL};
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    assert_int_equal(esc_act_finish(a, &err), ESC_OK);
    assert_int_equal(esc_act_get_counts(a).incidents, 1);
    assert_int_equal(esc_act_finish(a, &err), ESC_OK);
    assert_int_equal(esc_act_get_counts(a).incidents, 1);
    esc_act_free(a);
    keep_clear(f->keep);
    drop_table(t);

    /* four: none */
    t = user_rows(4, 0, 3600);
    c = run(f, t, ALL);
    assert_int_equal(c.incidents, 0);
    keep_clear(f->keep);
    drop_table(t);

    /* a sixth an hour later: still one */
    t = user_rows(6, 0, 3600);
    c = run(f, t, ALL);
    assert_int_equal(c.risk_events, 6);
    assert_int_equal(c.incidents, 1);
    keep_clear(f->keep);
    drop_table(t);

    /* five spread over more than 24 hours never exceed 100 in one window */
    t = user_rows(5, 0, 7 * 3600);
    c = run(f, t, ALL);
    assert_int_equal(c.incidents, 0);
    keep_clear(f->keep);
    drop_table(t);
}

typedef struct got {
    int64_t t[8];
    int sum[8];
    size_t cnt[8];
    size_t n;
} got;
static esc_status emit_cb(void *ctx, const esc_risk_point *at, int sum, size_t n, esc_error *err) {
    (void)err;
    got *g = ctx;
    if (g->n == 8)
        return ESC_EINTERNAL;
    g->t[g->n] = at->time;
    g->sum[g->n] = sum;
    g->cnt[g->n] = n;
    g->n++;
    return ESC_OK;
}

static void test_incident_function(void **state) {
    (void)state;
    char ids[16][8];
    esc_risk_point p[16];
    /* 5 events at hours 0..4 (fires at 4), then 5 more at hours 30..34: the window at 30..33
     * holds fewer than 5; at 34 the sum is 125 again and 30 h passed since the last one */
    int hours[10] = {0, 1, 2, 3, 4, 30, 31, 32, 33, 34};
    for (int i = 0; i < 10; i++) {
        snprintf(ids[i], sizeof ids[i], "e%d", i);
        p[i] = (esc_risk_point){ids[i], "alice", "user", (int64_t)hours[i] * 3600, 25};
    }
    /* a duplicate of e3 (same id) counts once; another object's events do not mix */
    p[10] = p[3];
    snprintf(ids[11], sizeof ids[11], "x");
    p[11] = (esc_risk_point){ids[11], "alice", "system", 0, 100};
    got g = {{0}, {0}, {0}, 0};
    assert_int_equal(esc_act_incidents(p, 12, emit_cb, &g, NULL), ESC_OK);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.t[0], 4 * 3600);
    assert_int_equal(g.sum[0], 125);
    assert_int_equal(g.cnt[0], 5);
    assert_int_equal(g.t[1], 34 * 3600);
    assert_int_equal(g.sum[1], 125);
    /* exactly 24 hours before is outside the window ending at t */
    esc_risk_point q[5];
    int64_t qt[5] = {0, 86400, 86400, 86400, 86400};
    for (int i = 0; i < 5; i++) {
        snprintf(ids[i], sizeof ids[i], "q%d", i);
        q[i] = (esc_risk_point){ids[i], "bob", "user", qt[i], 25};
    }
    got g2 = {{0}, {0}, {0}, 0};
    assert_int_equal(esc_act_incidents(q, 5, emit_cb, &g2, NULL), ESC_OK);
    assert_int_equal(g2.n, 0);
    /* events at the same second are all counted before deciding */
    for (int i = 0; i < 5; i++)
        q[i].time = 100;
    assert_int_equal(esc_act_incidents(q, 5, emit_cb, &g2, NULL), ESC_OK);
    assert_int_equal(g2.n, 1);
    assert_int_equal(g2.cnt[0], 5);
}

static void test_deployment_drives_actions(void **state) {
    fixture *f = *state;
    rowspec rows[] = {{"net share a", "H1", "2021-01-01T00:00:00", {"u1"}, 1}};
    esc_table *t = make_table(rows, 1);
    esc_detection d = *f->d;
    esc_deployment dep = *f->d->deployment;
    esc_act_input in = {&d, t, NULL, 0, ALL, NULL};
    esc_error err;
    /* no deployment: nothing */
    d.deployment = NULL;
    esc_act *a = esc_act_new(f->c, f->sinks, &err);
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    esc_act_free(a);
    assert_int_equal(f->keep->n, 0);
    /* risk only (an Anomaly-style deployment) */
    dep.notable = false;
    d.deployment = &dep;
    a = esc_act_new(f->c, f->sinks, &err);
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    esc_act_free(a);
    assert_int_equal(count_kind(f->keep, ESC_SINK_NOTABLE, NULL), 0);
    assert_int_equal(count_kind(f->keep, ESC_SINK_RISK, NULL), 2);
    char risk0[4096];
    snprintf(risk0, sizeof risk0, "%s", f->keep->ev[0].json);
    keep_clear(f->keep);
    /* both, for a caller that wants the risk events alone: the same risk events, no notable */
    dep.notable = true;
    a = esc_act_new(f->c, f->sinks, &err);
    esc_act_set_risk_only(a, true);
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    assert_int_equal(esc_act_get_counts(a).notables, 0);
    esc_act_free(a);
    assert_int_equal(count_kind(f->keep, ESC_SINK_NOTABLE, NULL), 0);
    assert_int_equal(count_kind(f->keep, ESC_SINK_RISK, NULL), 2);
    assert_string_equal(f->keep->ev[0].json, risk0);
    keep_clear(f->keep);
    /* notable only, with a title built from a field */
    dep.notable = true;
    dep.rba = false;
    dep.rule_title = "%name% on $dest$";
    a = esc_act_new(f->c, f->sinks, &err);
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    esc_act_free(a);
    assert_int_equal(count_kind(f->keep, ESC_SINK_RISK, NULL), 0);
    assert_int_equal(f->keep->n, 1);
    assert_non_null(strstr(f->keep->ev[0].json, "\"rule_title\":\"Create or delete windows "
                                                "shares using net exe on H1\""));
    keep_clear(f->keep);
    drop_table(t);
}

static void test_per_object_scores(void **state) {
    fixture *f = *state;
    rowspec rows[] = {{"net share a", "H1", "2021-01-01T00:00:00", {"u1"}, 1}};
    esc_table *t = make_table(rows, 1);
    esc_detection d = *f->d;
    int scores[4] = {70, 10, -1, -1}; /* user, dest, and the two threat observables */
    d.observable_scores = scores;
    esc_error err;
    esc_act *a = esc_act_new(f->c, f->sinks, &err);
    esc_act_input in = {&d, t, NULL, 0, ALL, NULL};
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    esc_act_free(a);
    assert_int_equal(f->keep->n, 3);
    assert_int_equal(f->keep->ev[1].score, 70);
    assert_non_null(strstr(f->keep->ev[1].json, "\"risk_score\":70,\"calculated_risk_score\":70"));
    assert_int_equal(f->keep->ev[2].score, 10);
    /* the notable's severity still comes from the detection's score */
    assert_non_null(strstr(f->keep->ev[0].json, "\"severity\":\"low\""));
    keep_clear(f->keep);
    drop_table(t);
}

static void test_late_rows(void **state) {
    fixture *f = *state;
    rowspec rows[] = {{"net share a", "H1", "2021-01-01T00:00:00", {"u1"}, 1}};
    esc_table *t = make_table(rows, 1);
    esc_act_window w = {1609459200, 1609462800, 1609463400};
    run(f, t, w);
    char *orig = strdup(f->keep->ev[0].id);
    keep_clear(f->keep);
    esc_error err;
    /* a new row found late: its ordinary identity, late fields, risk events */
    esc_act_late nl = {true, 7200, NULL};
    esc_act *a = esc_act_new(f->c, f->sinks, &err);
    esc_act_input in = {f->d, t, NULL, 0, w, NULL};
    assert_int_equal(esc_act_rows_late(a, &in, &nl, &err), ESC_OK);
    esc_act_free(a);
    assert_int_equal(f->keep->n, 3);
    assert_string_equal(f->keep->ev[0].id, orig);
    assert_non_null(strstr(f->keep->ev[0].json, "\"annotations.type\":\"TTP\",\"late\":true,"
                                                "\"lag\":7200,\"process\":"));
    assert_null(strstr(f->keep->ev[0].json, "orig_event_id"));
    keep_clear(f->keep);
    /* an update of a row that fired: a new id, orig_event_id, no risk events; stable */
    esc_act_late up = {true, 60, orig};
    char *first = NULL;
    for (int i = 0; i < 2; i++) {
        a = esc_act_new(f->c, f->sinks, &err);
        assert_int_equal(esc_act_rows_late(a, &in, &up, &err), ESC_OK);
        assert_int_equal(esc_act_finish(a, &err), ESC_OK);
        esc_act_free(a);
        assert_int_equal(f->keep->n, 1);
        assert_string_not_equal(f->keep->ev[0].id, orig);
        char want[160];
        snprintf(want, sizeof want, "\"late\":true,\"lag\":60,\"orig_event_id\":\"%s\",", orig);
        assert_non_null(strstr(f->keep->ev[0].json, want));
        if (first)
            assert_string_equal(first, f->keep->ev[0].id);
        else
            first = strdup(f->keep->ev[0].id);
        keep_clear(f->keep);
    }
    /* a further change of the row gives yet another id */
    t->cells[5].v[0][0] = '9';
    a = esc_act_new(f->c, f->sinks, &err);
    assert_int_equal(esc_act_rows_late(a, &in, &up, &err), ESC_OK);
    esc_act_free(a);
    assert_string_not_equal(f->keep->ev[0].id, first);
    keep_clear(f->keep);
    free(first);
    free(orig);
    drop_table(t);
}

/* ESC_ACT_MAX_EVENT (16 MiB): a row whose values make its notable and risk events larger fails
 * alone, with the limit's message; the rows around it still give all their events. A row just
 * under the cap (one 15 MiB value) is written whole. */
static void test_event_size_limit(void **state) {
    fixture *f = *state;
    rowspec rows[] = {
        {"net share a", "H1", "2021-01-01T00:00:00", {"u1"}, 1},
        {"net share b", "H2", "2021-01-01T00:00:00", {"u2"}, 1},
        {"net share c", "H3", "2021-01-01T00:00:00", {"u3"}, 1},
    };
    esc_table *t = make_table(rows, 3);
    /* row 2's parent_process: 17 distinct values of 1 MiB (values() of one group) */
    esc_cell *pp = &t->cells[1 * NC + 7];
    free(pp->v[0]);
    free(pp->v);
    pp->n = 17;
    pp->v = calloc(17, sizeof *pp->v);
    for (size_t k = 0; k < 17; k++) {
        pp->v[k] = malloc((1u << 20) + 1);
        memset(pp->v[k], 'a' + (int)k, 1u << 20);
        pp->v[k][1u << 20] = 0;
    }
    esc_error err = {0};
    esc_act *a = esc_act_new(f->c, f->sinks, &err);
    esc_act_input in = {f->d, t, NULL, 0, ALL, NULL};
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_SKIP);
    assert_string_equal(err.msg, "notable for Create or delete windows shares using net exe: "
                                 "event larger than 16777216 bytes");
    esc_act_counts c = esc_act_get_counts(a);
    esc_act_free(a);
    /* rows 1 and 3: a notable and two risk events each; row 2: nothing */
    assert_int_equal(c.notables, 2);
    assert_int_equal(c.risk_events, 4);
    assert_int_equal(f->keep->n, 6);
    assert_int_equal(count_kind(f->keep, ESC_SINK_NOTABLE, "\"dest\":\"H1\""), 1);
    assert_int_equal(count_kind(f->keep, ESC_SINK_NOTABLE, "\"dest\":\"H2\""), 0);
    assert_int_equal(count_kind(f->keep, ESC_SINK_NOTABLE, "\"dest\":\"H3\""), 1);
    assert_int_equal(count_kind(f->keep, ESC_SINK_RISK, "\"dest\":\"H2\""), 0);
    assert_int_equal(count_kind(f->keep, ESC_SINK_RISK, "\"dest\":\"H3\""), 2);
    for (size_t i = 0; i < f->keep->n; i++)
        assert_true(strlen(f->keep->ev[i].json) < 64 * 1024);
    keep_clear(f->keep);

    /* one 15 MiB value: under the cap, every event written whole */
    for (size_t k = 0; k < 17; k++)
        free(pp->v[k]);
    pp->n = 1;
    pp->v[0] = malloc((15u << 20) + 1);
    memset(pp->v[0], 'z', 15u << 20);
    pp->v[0][15u << 20] = 0;
    a = esc_act_new(f->c, f->sinks, &err);
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    esc_act_free(a);
    assert_int_equal(f->keep->n, 9);
    assert_true(strlen(f->keep->ev[3].json) > (15u << 20));
    assert_non_null(strstr(f->keep->ev[3].json, "\"dest\":\"H2\""));
    keep_clear(f->keep);
    drop_table(t);
}

/* ESC_ACT_MAX_POINTS, lowered: the risk events kept for the incident rule stop at the cap with
 * the limit's message (the event that did not fit was delivered, not kept); exactly the cap is
 * fine. The real cap (5*10^7) is the default again with 0. */
static void test_points_limit(void **state) {
    fixture *f = *state;
    rowspec rows[] = {
        {"net share a", "H1", "2021-01-01T00:00:00", {"u1", "u2"}, 2},
        {"net share b", "H2", "2021-01-01T00:00:00", {"u3"}, 1},
    };
    esc_table *t = make_table(rows, 2); /* 3 + 2 risk events */
    esc_error err = {0};
    esc_act *a = esc_act_new(f->c, f->sinks, &err);
    esc_act_set_max_points(a, 5);
    esc_act_input in = {f->d, t, NULL, 0, ALL, NULL};
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    assert_int_equal(esc_act_finish(a, &err), ESC_OK);
    esc_act_free(a);
    assert_int_equal(count_kind(f->keep, ESC_SINK_RISK, NULL), 5);
    keep_clear(f->keep);

    a = esc_act_new(f->c, f->sinks, &err);
    esc_act_set_max_points(a, 4);
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_ELIMIT);
    assert_string_equal(err.msg, "more than 4 risk events in one run");
    assert_int_equal(esc_act_get_counts(a).risk_events, 5);
    assert_int_equal(esc_act_finish(a, &err), ESC_OK);
    esc_act_free(a);
    keep_clear(f->keep);
    /* risk events alone are not kept for the incident rule: no cap */
    a = esc_act_new(f->c, f->sinks, &err);
    esc_act_set_max_points(a, 4);
    esc_act_set_risk_only(a, true);
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    assert_int_equal(count_kind(f->keep, ESC_SINK_RISK, NULL), 5);
    esc_act_free(a);
    keep_clear(f->keep);

    /* 100 (not a power of two: the array grows to the cap exactly, not past it) */
    esc_table *many = user_rows(101, 0, 1);
    a = esc_act_new(f->c, f->sinks, &err);
    esc_act_set_max_points(a, 100);
    in.rows = many;
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_ELIMIT);
    assert_string_equal(err.msg, "more than 100 risk events in one run");
    assert_int_equal(esc_act_get_counts(a).risk_events, 101);
    esc_act_set_max_points(a, 0); /* the default again */
    esc_act_free(a);
    keep_clear(f->keep);
    a = esc_act_new(f->c, f->sinks, &err);
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    esc_act_free(a);
    keep_clear(f->keep);
    drop_table(many);
    drop_table(t);
}

/* ESC_ACT_MAX_TOKEN (256): a $token$ whose name is 256 bytes is filled; 257 bytes is kept as
 * text, even when the row has that field. */
static void test_token_limit(void **state) {
    fixture *f = *state;
    char n256[257], n257[258];
    memset(n256, 'a', 256);
    n256[256] = 0;
    memset(n257, 'b', 257);
    n257[257] = 0;
    rowspec rows[] = {{"net share a", "H1", "2021-01-01T00:00:00", {"u1"}, 1}};
    esc_table *t = make_table(rows, 1);
    /* two more columns named n256 and n257 */
    char *cols[NC + 2];
    bool mv[NC + 2];
    for (size_t i = 0; i < NC; i++) {
        cols[i] = COLS[i];
        mv[i] = MV[i];
    }
    cols[NC] = n256;
    cols[NC + 1] = n257;
    mv[NC] = mv[NC + 1] = false;
    esc_cell *cells = calloc(NC + 2, sizeof *cells);
    memcpy(cells, t->cells, NC * sizeof *cells);
    set1(&cells[NC], "V256");
    set1(&cells[NC + 1], "V257");
    free(t->cells);
    t->cells = cells;
    t->cols = cols;
    t->mv_col = mv;
    t->ncols = NC + 2;

    char text[700];
    snprintf(text, sizeof text, "A $%s$ B $%s$ C", n256, n257);
    char want[800];
    snprintf(want, sizeof want, "A V256 B $%s$ C", n257);
    esc_detection d = *f->d;
    esc_deployment dep = *f->d->deployment;
    d.message = text;
    dep.rule_title = text;
    d.deployment = &dep;
    esc_error err = {0};
    esc_act *a = esc_act_new(f->c, f->sinks, &err);
    esc_act_input in = {&d, t, NULL, 0, ALL, NULL};
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    esc_act_free(a);
    assert_int_equal(f->keep->n, 3);
    char key[900];
    snprintf(key, sizeof key, "\"rule_title\":\"%s\"", want);
    assert_non_null(strstr(f->keep->ev[0].json, key));
    snprintf(key, sizeof key, "\"risk_message\":\"%s\"", want);
    assert_non_null(strstr(f->keep->ev[1].json, key));
    assert_non_null(strstr(f->keep->ev[2].json, key));
    keep_clear(f->keep);
    drop_table(t);
}

/* Notables and risk events escape strings as every JSON escudo writes them (core/fmt): the
 * expected text is Python's json.dumps of the value (\\b and \\f short, other controls
 * \\u00xx in lower case). */
static void test_json_escapes(void **state) {
    fixture *f = *state;
    char ctl[40];
    size_t n = 0;
    for (int c = 1; c < 32; c++)
        ctl[n++] = (char)c;
    ctl[n++] = '"';
    ctl[n++] = '\\';
    ctl[n] = 0;
    rowspec rows[] = {{ctl, "WIN-1", "2020-12-09T18:21:05", {"bob"}, 1}};
    esc_table *t = make_table(rows, 1);
    run(f, t, ALL);
    const char *want =
        "\"process\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
        "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019"
        "\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\\"\\\\\"";
    assert_true(f->keep->n >= 1);
    for (size_t i = 0; i < f->keep->n; i++)
        if (f->keep->ev[i].kind == ESC_SINK_NOTABLE && !strstr(f->keep->ev[i].json, want))
            fail_msg("%s", f->keep->ev[i].json);
    keep_clear(f->keep);
    drop_table(t);
}

/* A risk event offers no fields where its JSON could read back otherwise: a column name the
 * JSON escapes, a number's text that is not JSON's. */
static void test_fields_not_offered(void **state) {
    fixture *f = *state;
    rowspec rows[] = {{"net share", "WIN-1", "2020-12-09T18:21:05", {"bob"}, 1}};
    esc_table *t = make_table(rows, 1);
    run(f, t, ALL);
    assert_int_equal(count_kind(f->keep, ESC_SINK_RISK, NULL), 2);
    assert_int_equal(f->keep->offered, 2);
    keep_clear(f->keep);

    char *cols[NC];
    memcpy(cols, COLS, sizeof cols);
    cols[2] = "parent\"process_name"; /* escaped in the JSON */
    t->cols = cols;
    run(f, t, ALL);
    assert_int_equal(count_kind(f->keep, ESC_SINK_RISK, NULL), 2);
    assert_int_equal(f->keep->offered, 0);
    keep_clear(f->keep);

    t->cols = COLS;
    free(t->cells[5].v[0]);
    t->cells[5].v[0] = strdup("2."); /* count: a number whose text JSON does not have */
    run(f, t, ALL);
    assert_int_equal(count_kind(f->keep, ESC_SINK_RISK, NULL), 2);
    assert_int_equal(f->keep->offered, 0);
    keep_clear(f->keep);
    drop_table(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_sha256_both_ways),
        cmocka_unit_test(test_notable_and_risk_fields),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_incident_rule),
        cmocka_unit_test(test_incident_function),
        cmocka_unit_test(test_deployment_drives_actions),
        cmocka_unit_test(test_late_rows),
        cmocka_unit_test(test_per_object_scores),
        cmocka_unit_test(test_event_size_limit),
        cmocka_unit_test(test_points_limit),
        cmocka_unit_test(test_token_limit),
        cmocka_unit_test(test_json_escapes),
        cmocka_unit_test(test_fields_not_offered),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
