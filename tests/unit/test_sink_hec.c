/* HEC sink against a real HTTP server on 127.0.0.1 (tests/act/hec_server.py, started and stopped
 * here): 503s, stalls, connections dropped before and after a batch is read, late acks, a server
 * that is down for a while and comes back after the sink was closed and opened again (a
 * restart). Counting distinct event_ids none is missing, and duplicates occur only for batches
 * whose response was lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "act/act.h"
#include "sink/sink.h"

#define TOKEN "test-token"

static char spool_root[] = "/tmp/esc_hec_XXXXXX";

typedef struct server {
    pid_t pid;
    int port;
} server;

static server start_server(int port, const char *plan) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char portarg[16];
    snprintf(portarg, sizeof portarg, "%d", port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", ESC_SOURCE_DIR "/tests/act/hec_server.py", "--port", portarg,
               "--token", TOKEN, "--plan", plan, "--stall", "2", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[64] = {0};
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t r = read(fds[0], line + n, 1);
        if (r <= 0 || line[n] == '\n')
            break;
        n++;
    }
    close(fds[0]);
    server s = {pid, 0};
    assert_int_equal(sscanf(line, "port %d", &s.port), 1);
    return s;
}

static void stop_server(server *s) {
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
    char **buf = ud;
    size_t old = *buf ? strlen(*buf) : 0;
    *buf = realloc(*buf, old + size * n + 1);
    memcpy(*buf + old, p, size * n);
    (*buf)[old + size * n] = 0;
    return size * n;
}

/* Ids in the JSON array after "key": in body (64-hex strings). */
static size_t ids_of(const char *body, const char *key, char (*out)[65], size_t max) {
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\": [", key);
    const char *p = strstr(body, pat);
    assert_non_null(p);
    p += strlen(pat);
    const char *end = strchr(p, ']');
    size_t n = 0;
    while ((p = strchr(p, '"')) && p < end) {
        assert_true(n < max);
        memcpy(out[n], p + 1, 64);
        out[n][64] = 0;
        n++;
        p += 66;
    }
    return n;
}

#define MAXEV 4096
typedef struct seen {
    char (*all)[65];
    size_t nall;
    char (*lost)[65];
    size_t nlost;
    long requests;
} seen;

static seen fetch(int port) {
    seen s = {calloc(MAXEV, 65), 0, calloc(MAXEV, 65), 0, 0};
    char url[64], *body = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/_events", port);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    assert_non_null(body);
    s.nall = ids_of(body, "events", s.all, MAXEV);
    s.nlost = ids_of(body, "lost", s.lost, MAXEV);
    const char *r = strstr(body, "\"requests\": ");
    s.requests = r ? atol(r + 12) : 0;
    free(body);
    return s;
}

static void free_seen(seen *s) {
    free(s->all);
    free(s->lost);
}

static void id_of(int i, char out[65]) {
    char k[32];
    snprintf(k, sizeof k, "event-%d", i);
    esc_sha256_hex(k, strlen(k), out);
}

static void put_events(esc_sink *s, int from, int to) {
    for (int i = from; i < to; i++) {
        char id[65], json[256];
        id_of(i, id);
        int n = snprintf(json, sizeof json, "{\"_time\":%d,\"event_id\":\"%s\",\"n\":%d}",
                         1600000000 + i, id, i);
        esc_sink_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = i % 3 ? ESC_SINK_RISK : ESC_SINK_NOTABLE;
        ev.event_id = id;
        ev.time = 1600000000 + i;
        ev.search_name = "ESCU - Test - Rule";
        ev.json = json;
        ev.json_len = (size_t)n;
        esc_error err;
        assert_int_equal(s->ops->put(s, &ev, &err), ESC_OK);
    }
}

/* Every id in [from, to) was indexed; an id indexed more than once was in a lost response. */
static void check(const seen *s, int from, int to, size_t *dups) {
    *dups = 0;
    for (int i = from; i < to; i++) {
        char id[65];
        id_of(i, id);
        size_t copies = 0;
        for (size_t k = 0; k < s->nall; k++)
            copies += strcmp(s->all[k], id) == 0;
        if (copies == 0)
            fail_msg("event %d is missing", i);
        if (copies > 1) {
            bool lost = false;
            for (size_t k = 0; k < s->nlost && !lost; k++)
                lost = strcmp(s->lost[k], id) == 0;
            if (!lost)
                fail_msg("event %d indexed %zu times without a lost response", i, copies);
            *dups += copies - 1;
        }
    }
}

static esc_sink *open_hec(int port, const char *spool, int max_wait_ms, const char *token) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    esc_sink_opts o;
    memset(&o, 0, sizeof o);
    o.hec_url = url;
    o.hec_token = token;
    o.hec_spool_dir = spool;
    o.hec_ack = true;
    o.hec_batch = 10;
    o.hec_timeout_ms = 1000;
    o.hec_max_wait_ms = max_wait_ms;
    esc_sink *s = NULL;
    esc_error err;
    assert_int_equal(esc_sink_hec_open(&o, &s, &err), ESC_OK);
    return s;
}

static size_t spooled(const char *spool) {
    DIR *d = opendir(spool);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strlen(e->d_name) == 21 && strstr(e->d_name, ".json") != NULL;
    closedir(d);
    return n;
}

static void test_misbehaving_server(void **state) {
    (void)state;
    server srv = start_server(0, "503,ok,drop_before,stall,drop_after,ok,503,503,ack_late,ok,"
                                 "drop_after,stall,ok");
    char spool[256];
    snprintf(spool, sizeof spool, "%s/s1", spool_root);
    esc_sink *s = open_hec(srv.port, spool, 30000, TOKEN);
    put_events(s, 0, 205); /* 20 full batches and a partial one */
    esc_error err;
    assert_int_equal(s->ops->flush(s, &err), ESC_OK);
    assert_int_equal(esc_sink_hec_pending(s, NULL), 0);
    s->ops->close(s);
    assert_int_equal(spooled(spool), 0);
    seen got = fetch(srv.port);
    size_t dups;
    check(&got, 0, 205, &dups);
    assert_true(dups > 0);          /* drop_after made the client resend */
    assert_true(got.nlost >= 10);   /* two lost responses */
    assert_true(got.requests > 21); /* retries happened */
    free_seen(&got);
    stop_server(&srv);
}

static void test_down_and_restart(void **state) {
    (void)state;
    /* find a free port, then take the server away */
    server srv = start_server(0, "");
    int port = srv.port;
    stop_server(&srv);
    char spool[256];
    snprintf(spool, sizeof spool, "%s/s2", spool_root);
    esc_sink *s = open_hec(port, spool, 1500, TOKEN);
    put_events(s, 1000, 1055);
    esc_error err;
    assert_int_equal(s->ops->flush(s, &err), ESC_OK); /* spooled, not yet sent: not an error */
    assert_int_equal(esc_sink_hec_pending(s, &err), 6);
    assert_non_null(strstr(err.msg, "kept in"));
    assert_null(strstr(err.msg, TOKEN));
    s->ops->close(s);
    assert_int_equal(spooled(spool), 6);

    /* escudo restarts while Splunk is still down: more events, still nothing lost */
    s = open_hec(port, spool, 1000, TOKEN);
    put_events(s, 1055, 1070);
    assert_int_equal(s->ops->flush(s, &err), ESC_OK);
    assert_int_equal(esc_sink_hec_pending(s, NULL), 8);
    s->ops->close(s);
    assert_int_equal(spooled(spool), 8);

    /* Splunk is back; the next run sends what the spool holds, then its own events */
    srv = start_server(port, "");
    s = open_hec(port, spool, 30000, TOKEN);
    put_events(s, 1070, 1080);
    assert_int_equal(s->ops->flush(s, &err), ESC_OK);
    assert_int_equal(esc_sink_hec_pending(s, NULL), 0);
    s->ops->close(s);
    assert_int_equal(spooled(spool), 0);
    seen got = fetch(port);
    size_t dups;
    check(&got, 1000, 1080, &dups);
    assert_int_equal(dups, 0);
    assert_int_equal(got.nall, 80);
    free_seen(&got);
    stop_server(&srv);
}

/* The batch files one flush lists (HEC_MAX_FILES, 10^6 in escudo's own spool) through the
 * option that lowers it: a sink opened over more spooled batches than the cap numbers its own
 * after all of them (none is overwritten), a flush sends the listed ones, the rest wait for the
 * next flush; nothing is lost or sent twice. */
static void test_spool_listing_cap(void **state) {
    (void)state;
    server srv = start_server(0, "");
    int port = srv.port;
    stop_server(&srv);
    char spool[256];
    snprintf(spool, sizeof spool, "%s/s5", spool_root);
    esc_sink *s = open_hec(port, spool, 300, TOKEN);
    put_events(s, 2000, 2100); /* 10 batches of 10 */
    esc_error err;
    assert_int_equal(s->ops->flush(s, &err), ESC_OK);
    assert_int_equal(esc_sink_hec_pending(s, NULL), 10);
    s->ops->close(s);
    assert_int_equal(spooled(spool), 10);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    esc_sink_opts o;
    memset(&o, 0, sizeof o);
    o.hec_url = url;
    o.hec_token = TOKEN;
    o.hec_spool_dir = spool;
    o.hec_ack = true;
    o.hec_batch = 10;
    o.hec_timeout_ms = 1000;
    o.hec_max_wait_ms = 300;
    o.hec_max_files = 1;
    s = NULL;
    assert_int_equal(esc_sink_hec_open(&o, &s, &err), ESC_OK);
    put_events(s, 2100, 2110);
    assert_int_equal(s->ops->flush(s, &err), ESC_OK);
    assert_int_equal(esc_sink_hec_pending(s, NULL), 1); /* the one listed */
    s->ops->close(s);
    assert_int_equal(spooled(spool), 11);
    /* Splunk is back: a flush listing 4 sends 4, the next (default cap) sends the other 7 */
    srv = start_server(port, "");
    o.hec_max_files = 4;
    o.hec_max_wait_ms = 30000;
    s = NULL;
    assert_int_equal(esc_sink_hec_open(&o, &s, &err), ESC_OK);
    assert_int_equal(s->ops->flush(s, &err), ESC_OK);
    assert_int_equal(esc_sink_hec_pending(s, NULL), 0);
    s->ops->close(s);
    assert_int_equal(spooled(spool), 7);
    s = open_hec(port, spool, 30000, TOKEN);
    assert_int_equal(s->ops->flush(s, &err), ESC_OK);
    assert_int_equal(esc_sink_hec_pending(s, NULL), 0);
    s->ops->close(s);
    assert_int_equal(spooled(spool), 0);
    seen got = fetch(port);
    size_t dups;
    check(&got, 2000, 2110, &dups);
    assert_int_equal(dups, 0);
    assert_int_equal(got.nall, 110);
    free_seen(&got);
    stop_server(&srv);
}

static void test_refused_token_keeps_spool(void **state) {
    (void)state;
    server srv = start_server(0, "");
    char spool[256];
    snprintf(spool, sizeof spool, "%s/s3", spool_root);
    esc_sink *s = open_hec(srv.port, spool, 5000, "wrong-token");
    put_events(s, 0, 5);
    esc_error err;
    assert_int_equal(s->ops->flush(s, &err), ESC_OK);
    assert_int_equal(esc_sink_hec_pending(s, &err), 1);
    assert_non_null(strstr(err.msg, "token"));
    assert_null(strstr(err.msg, "wrong-token"));
    s->ops->close(s);
    assert_int_equal(spooled(spool), 1);
    /* with the right token the same spool is delivered */
    s = open_hec(srv.port, spool, 5000, TOKEN);
    assert_int_equal(s->ops->flush(s, &err), ESC_OK);
    assert_int_equal(esc_sink_hec_pending(s, NULL), 0);
    s->ops->close(s);
    seen got = fetch(srv.port);
    size_t dups;
    check(&got, 0, 5, &dups);
    assert_int_equal(dups, 0);
    free_seen(&got);
    stop_server(&srv);
}

static void test_spool_is_exclusive(void **state) {
    (void)state;
    char spool[256];
    snprintf(spool, sizeof spool, "%s/s4", spool_root);
    esc_sink *a = open_hec(9, spool, 100, TOKEN);
    esc_sink_opts o;
    memset(&o, 0, sizeof o);
    o.hec_url = "http://127.0.0.1:9";
    o.hec_token = TOKEN;
    o.hec_spool_dir = spool;
    esc_sink *b = NULL;
    esc_error err;
    assert_int_equal(esc_sink_hec_open(&o, &b, &err), ESC_EIO);
    assert_non_null(strstr(err.msg, "in use"));
    o.hec_url = "ftp://x";
    assert_int_equal(esc_sink_hec_open(&o, &b, &err), ESC_EUSAGE);
    o.hec_url = "http://127.0.0.1:9";
    o.hec_token = NULL;
    assert_int_equal(esc_sink_hec_open(&o, &b, &err), ESC_EUSAGE);
    a->ops->close(a);
}

static int setup(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return mkdtemp(spool_root) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", spool_root);
    curl_global_cleanup();
    return system(cmd);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_misbehaving_server),        cmocka_unit_test(test_down_and_restart),
        cmocka_unit_test(test_refused_token_keeps_spool), cmocka_unit_test(test_spool_is_exclusive),
        cmocka_unit_test(test_spool_listing_cap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
