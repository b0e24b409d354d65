/* JSON lines reader: the shared OTRF and crafted files, every shape, the prefilter, malformed
 * lines, and block boundaries (the same input read in 1-byte and larger pieces). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "parse/json/json.h"

static const char *otrf = ESC_SHARED_DATA "/json/otrf";
static const char *crafted = ESC_SHARED_DATA "/crafted";

/* ---- helpers --------------------------------------------------------------------------- */

typedef struct run {
    esc_buf out; /* one line per event or error */
    esc_reader_stats stats;
    size_t events, malformed, windows, cs, aid, other;
    size_t sysmon1, sec4688;
    size_t repaired;
} run;

static char *write_tmp(const char *data, size_t n) {
    char *path = strdup("/tmp/esc_json_test_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        assert_true(w > 0);
        off += (size_t)w;
    }
    close(fd);
    return path;
}

/* Values with a newline would break the one-line-per-event output: show it as \n. */
static void put_value(esc_buf *b, esc_str v) {
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] == '\n')
            esc_buf_append_c(b, "\\n");
        else
            esc_buf_putc(b, v.ptr[i]);
    }
}

static void emit_event(run *r, const esc_event *ev) {
    esc_buf_printf(&r->out, "ev kind=%d line=%llu off=%llu prov=%.*s chan=%.*s comp=%.*s", ev->kind,
                   (unsigned long long)ev->line, (unsigned long long)ev->offset,
                   ESC_STR_FMT(ev->provider), ESC_STR_FMT(ev->channel), ESC_STR_FMT(ev->computer));
    if (ev->has_event_id)
        esc_buf_printf(&r->out, " eid=%u", ev->event_id);
    if (ev->has_time)
        esc_buf_printf(&r->out, " t=%lld", (long long)ev->time_us);
    if (ev->record_id)
        esc_buf_printf(&r->out, " rid=%llu", (unsigned long long)ev->record_id);
    if (ev->repaired)
        esc_buf_printf(&r->out, " repaired=%u", ev->repaired);
    for (size_t i = 0; i < ev->ndata; i++) {
        esc_buf_printf(&r->out, " [%.*s=", ESC_STR_FMT(ev->data[i].name));
        put_value(&r->out, ev->data[i].value);
        esc_buf_putc(&r->out, ']');
    }
    esc_buf_putc(&r->out, '\n');
}

/* Read path with the given interest and block size; everything goes into r. */
static void read_path(const char *path, const esc_interest *interest, size_t block,
                      size_t max_record, run *r) {
    memset(r, 0, sizeof *r);
    esc_buf_init(&r->out, 0);
    esc_input *in = NULL;
    esc_error err;
    esc_error_clear(&err);
    assert_int_equal(esc_input_open(path, &in, &err), ESC_OK);
    esc_reader_opts opts = {0};
    opts.max_record_bytes = max_record;
    void *impl = NULL;
    assert_int_equal(esc_json_reader_open_ex(in, interest, &opts, block, &r->stats, &impl, &err),
                     ESC_OK);
    for (;;) {
        esc_event ev;
        esc_error_clear(&err);
        esc_status st = esc_json_reader_ops.next(impl, &ev, &err);
        if (st == ESC_EOF)
            break;
        if (st == ESC_EMALFORMED) {
            r->malformed++;
            assert_true(err.line > 0);
            assert_true(err.has_offset);
            esc_buf_printf(&r->out, "err line=%llu off=%llu %s\n", (unsigned long long)err.line,
                           (unsigned long long)err.offset, err.msg);
            continue;
        }
        assert_int_equal(st, ESC_OK);
        assert_ptr_equal(ev.path, esc_input_path(in));
        r->events++;
        r->repaired += ev.repaired;
        switch (ev.kind) {
        case ESC_EV_WINDOWS:
            r->windows++;
            if (ev.has_event_id && ev.event_id == 1 &&
                (esc_str_ieq_c(ev.provider, "Microsoft-Windows-Sysmon") ||
                 esc_str_ieq_c(ev.channel, "Microsoft-Windows-Sysmon/Operational")))
                r->sysmon1++;
            if (ev.has_event_id && ev.event_id == 4688 &&
                (esc_str_ieq_c(ev.provider, "Microsoft-Windows-Security-Auditing") ||
                 esc_str_ieq_c(ev.channel, "Security")))
                r->sec4688++;
            break;
        case ESC_EV_CROWDSTRIKE:
            r->cs++;
            break;
        case ESC_EV_AIDMASTER:
            r->aid++;
            break;
        case ESC_EV_OTHER:
            r->other++;
            break;
        }
        emit_event(r, &ev);
    }
    esc_json_reader_ops.free(impl);
    esc_input_free(in);
}

static void read_text(const char *text, size_t n, const esc_interest *interest, size_t block,
                      run *r) {
    char *path = write_tmp(text, n);
    read_path(path, interest, block, 0, r);
    unlink(path);
    free(path);
}

static void run_fini(run *r) {
    esc_buf_fini(&r->out);
}

static bool has(const run *r, const char *needle) {
    return strstr(r->out.ptr ? r->out.ptr : "", needle) != NULL;
}

/* ---- shared data ----------------------------------------------------------------------- */

/* Every OTRF file reads without a malformed record and gives the MANIFEST's Sysmon 1 and 4688
 * counts (flat, winlogbeat 6 and the two Azure Sentinel files); the flat and winlogbeat 6
 * files give the same events when read in 997-byte pieces. */
static void test_otrf_manifest(void **state) {
    (void)state;
    char mpath[512];
    snprintf(mpath, sizeof mpath, "%s/MANIFEST.tsv", otrf);
    FILE *m = fopen(mpath, "r");
    assert_non_null(m);
    char line[4096];
    size_t files = 0, total_s1 = 0, total_4688 = 0;
    assert_non_null(fgets(line, sizeof line, m)); /* header */
    while (fgets(line, sizeof line, m)) {
        char *col[10] = {0};
        int n = 0;
        for (char *p = line, *tok; n < 10 && (tok = strsep(&p, "\t\n")) != NULL;)
            col[n++] = tok;
        assert_true(n >= 8);
        unsigned long lines = strtoul(col[4], NULL, 10);
        unsigned long s1 = strtoul(col[5], NULL, 10), s4688 = strtoul(col[6], NULL, 10);
        const char *shape = col[7];
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", otrf, col[0]);
        run r;
        read_path(path, NULL, 0, 0, &r);
        if (r.malformed)
            fprintf(stderr, "%s:\n%s", col[0], r.out.ptr);
        assert_int_equal(r.malformed, 0);
        assert_int_equal(r.stats.records, lines);
        assert_int_equal(r.events, lines);
        if (r.sysmon1 != s1 || r.sec4688 != s4688)
            fprintf(stderr, "%s: sysmon1 %zu/%lu 4688 %zu/%lu\n", col[0], r.sysmon1, s1, r.sec4688,
                    s4688);
        assert_int_equal(r.sysmon1, s1);
        assert_int_equal(r.sec4688, s4688);
        total_s1 += r.sysmon1;
        total_4688 += r.sec4688;
        if (strcmp(shape, "flat-nxlog") == 0 || strcmp(shape, "winlogbeat6-nested") == 0) {
            assert_int_equal(r.windows, lines);
            /* block boundaries change nothing */
            run small;
            read_path(path, NULL, 997, 0, &small);
            assert_string_equal(small.out.ptr, r.out.ptr);
            run_fini(&small);
        } else {
            /* Azure Sentinel WindowsEvent / SecurityEvent rows */
            assert_string_equal(shape, "sentinel-flat");
            assert_int_equal(r.windows, lines);
        }
        run_fini(&r);
        files++;
    }
    fclose(m);
    assert_int_equal(files, 19);
    assert_int_equal(total_s1, 130);
    assert_int_equal(total_4688, 127);
}

/* Windows events: flat and winlogbeat 7 forms of the crafted events give the same events. */
static void test_crafted_same_events(void **state) {
    (void)state;
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/nxlog.json", crafted);
    snprintf(p2, sizeof p2, "%s/winlogbeat.json", crafted);
    run a, b;
    read_path(p1, NULL, 0, 0, &a);
    read_path(p2, NULL, 0, 0, &b);
    assert_int_equal(a.malformed, 0);
    assert_int_equal(b.malformed, 0);
    assert_int_equal(a.events, b.events);
    assert_int_equal(a.windows, a.events);
    assert_int_equal(b.windows, b.events);
    assert_true(a.sysmon1 > 0 && a.sec4688 > 0);
    assert_int_equal(a.sysmon1, b.sysmon1);
    assert_int_equal(a.sec4688, b.sec4688);
    /* compare event by event, without provenance, and with the data fields of the flat form
     * restricted to those of the winlogbeat form (flat events carry extra top-level keys) */
    char *sa = a.out.ptr, *sb = b.out.ptr;
    for (size_t i = 0; i < a.events; i++) {
        char *ea = strchr(sa, '\n'), *eb = strchr(sb, '\n');
        assert_non_null(ea);
        assert_non_null(eb);
        *ea = *eb = 0;
        /* system part: from "prov=" up to the first data field */
        char *pa = strstr(sa, "prov="), *pb = strstr(sb, "prov=");
        char *da = strstr(pa, " ["), *db = strstr(pb, " [");
        assert_non_null(da);
        assert_non_null(db);
        char *rida = strstr(pa, " rid="), *ridb = strstr(pb, " rid=");
        size_t la = (size_t)((rida && rida < da ? rida : da) - pa);
        size_t lb = (size_t)((ridb && ridb < db ? ridb : db) - pb);
        if (la != lb || memcmp(pa, pb, la) != 0)
            fail_msg("event %zu differs:\n%s\n%s", i, sa, sb);
        /* every winlogbeat data field is in the flat event with the same value */
        for (char *f = db; (f = strstr(f, " [")) != NULL; f++) {
            char *fe = strstr(f + 2, "] [");
            size_t fl = fe ? (size_t)(fe - f) + 1 : strlen(f);
            char field[8192];
            assert_true(fl < sizeof field);
            memcpy(field, f, fl);
            field[fl] = 0;
            if (!strstr(da, field))
                fail_msg("event %zu: %s missing in the flat form:\n%s", i, field, sa);
        }
        sa = ea + 1;
        sb = eb + 1;
    }
    run_fini(&a);
    run_fini(&b);
}

static void test_crafted_crowdstrike(void **state) {
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s/crowdstrike.json", crafted);
    run r;
    read_path(p, NULL, 0, 0, &r);
    assert_int_equal(r.malformed, 0);
    assert_int_equal(r.aid, 1);
    assert_true(r.cs >= 2);
    assert_true(has(&r, "[ComputerName=WS20]"));
    assert_true(has(&r, "t=1709716615346000"));
    run_fini(&r);

    /* with an interest set, only ProcessRollup2 events and aidmaster records come out */
    esc_interest in;
    memset(&in, 0, sizeof in);
    in.crowdstrike = true;
    run f;
    read_path(p, &in, 0, 0, &f);
    assert_int_equal(f.malformed, 0);
    assert_int_equal(f.aid, 1);
    assert_true(f.cs >= 2 && f.cs < r.cs);
    assert_int_equal(f.stats.prefiltered, r.cs - f.cs);
    assert_false(has(&f, "[event_simpleName=DnsRequest]"));
    run_fini(&f);
}

/* ---- shapes ---------------------------------------------------------------------------- */

static void test_shape_flat(void **state) {
    (void)state;
    const char *t =
        "\xEF\xBB\xBF{\"EventID\":4688,\"SourceName\":\"Microsoft-Windows-Security-Auditing\","
        "\"Hostname\":\"H1\",\"Channel\":\"Security\",\"EventTime\":\"2020-01-01 00:00:01\","
        "\"@timestamp\":\"2020-01-01T00:00:02Z\",\"NewProcessName\":\"C:\\\\x\\\\net.exe\","
        "\"CommandLine\":\"net share\",\"n\":12,\"b\":true,\"z\":null,\"o\":{\"x\":1}}\r\n"
        "\r\n"
        "\n"
        "{\"EventID\":\"1\",\"ProviderName\":\"Microsoft-Windows-Sysmon\",\"Computer\":\"H2\","
        "\"TimeCreated\":\"2020-01-01T00:00:03.5Z\",\"Image\":\"a\",\"Image\":\"b\"}\r\n";
    run r;
    read_text(t, strlen(t), NULL, 0, &r);
    assert_int_equal(r.malformed, 0);
    assert_int_equal(r.events, 2);
    assert_true(has(&r, "ev kind=1 line=1 off=3 prov=Microsoft-Windows-Security-Auditing "
                        "chan=Security comp=H1 eid=4688 t=1577836802000000 "
                        "[EventTime=2020-01-01 00:00:01] [NewProcessName=C:\\x\\net.exe] "
                        "[CommandLine=net share] [n=12] [b=true]\n"));
    /* duplicate key: the last one wins */
    assert_true(has(&r, "line=4 "));
    assert_true(has(&r, "comp=H2 eid=1 t=1577836803500000 [Image=b]\n"));
    run_fini(&r);
}

static void test_shape_winlogbeat(void **state) {
    (void)state;
    const char *t =
        "{\"@timestamp\":\"2024-03-06T09:08:47.729Z\",\"winlog\":{\"channel\":\"Security\","
        "\"event_id\":4688,\"provider_name\":\"Microsoft-Windows-Security-Auditing\","
        "\"computer_name\":\"W7\",\"record_id\":77,\"event_data\":{\"NewProcessName\":\"n\","
        "\"Deep\":{\"x\":1}},\"user_data\":{\"U\":\"u\"}},\"event_data\":{\"NotThis\":\"x\"}}\n"
        "{\"@timestamp\":\"2019-05-18T20:36:46.254Z\",\"event_id\":1,\"source_name\":"
        "\"Microsoft-Windows-Sysmon\",\"computer_name\":\"W6\",\"log_name\":\"Microsoft-Windows-"
        "Sysmon/Operational\",\"record_number\":\"5402080\",\"event_data\":{\"Image\":"
        "\"C:\\\\i.exe\",\"ProcessId\":\"292\"},\"user\":{\"name\":\"SYSTEM\"}}\n";
    run r;
    read_text(t, strlen(t), NULL, 0, &r);
    assert_int_equal(r.malformed, 0);
    assert_int_equal(r.windows, 2);
    assert_true(has(&r, "prov=Microsoft-Windows-Security-Auditing chan=Security comp=W7 "
                        "eid=4688 t=1709716127729000 rid=77 [NewProcessName=n] [U=u]\n"));
    assert_true(has(&r, "prov=Microsoft-Windows-Sysmon chan=Microsoft-Windows-Sysmon/"
                        "Operational comp=W6 eid=1 t=1558211806254000 rid=5402080 "
                        "[Image=C:\\i.exe] [ProcessId=292]\n"));
    run_fini(&r);
}

static void test_shape_dump_export_other(void **state) {
    (void)state;
    const char *t =
        "{\"escudo_dump\":1,\"kind\":\"windows\",\"provider\":\"Microsoft-Windows-Sysmon\","
        "\"channel\":\"c\",\"computer\":\"D1\",\"event_id\":1,\"record_id\":9,"
        "\"time\":\"2020-12-09T18:21:05.120Z\",\"data\":[[\"Image\",\"C:\\\\net.exe\"],"
        "[\"User\",\"A\\\\b\"]]}\n"
        "{\"escudo_dump\":1,\"kind\":\"aidmaster\",\"data\":[[\"aid\",\"a1\"],"
        "[\"ComputerName\",\"H\"]]}\n"
        "{\"preview\":false,\"result\":{\"_raw\":\"{\\\"EventID\\\":1,\\\"SourceName\\\":"
        "\\\"Microsoft-Windows-Sysmon\\\",\\\"Hostname\\\":\\\"E1\\\",\\\"Image\\\":"
        "\\\"C:\\\\\\\\x.exe\\\"}\",\"host\":\"h\"},\"lastrow\":true}\n"
        "{\"result\":{\"_raw\":\"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/"
        "event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID>"
        "<TimeCreated SystemTime='2020-12-09T18:21:05.1200000Z'/><Computer>X1</Computer>"
        "</System><EventData><Data Name='Image'>C:\\\\a&amp;b.exe</Data></EventData></Event>"
        "\"}}\n"
        "{\"hello\":\"world\"}\n"
        "{\"aid\":\"a2\",\"ComputerName\":\"H2\",\"event_simpleName\":\"AidMaster\"}\n";
    run r;
    read_text(t, strlen(t), NULL, 0, &r);
    if (r.malformed)
        fail_msg("%s", r.out.ptr);
    assert_int_equal(r.events, 6);
    assert_true(has(&r, "prov=Microsoft-Windows-Sysmon chan=c comp=D1 eid=1 "
                        "t=1607538065120000 rid=9 [Image=C:\\net.exe] [User=A\\b]\n"));
    assert_true(has(&r, "ev kind=3 line=2 "));
    assert_true(has(&r, "[aid=a1] [ComputerName=H]\n"));
    assert_true(has(&r, "line=3 off="));
    assert_true(has(&r, "prov=Microsoft-Windows-Sysmon chan= comp=E1 eid=1 [Image=C:\\x.exe]\n"));
    assert_true(has(&r, "comp=X1 eid=1 t=1607538065120000"));
    assert_true(has(&r, "[Image=C:\\a&b.exe]"));
    assert_true(has(&r, "ev kind=4 line=5 "));
    assert_true(has(&r, "ev kind=3 line=6 "));
    assert_int_equal(r.aid, 2);
    assert_int_equal(r.other, 1);
    run_fini(&r);
}

static void test_shape_sentinel(void **state) {
    (void)state;
    const char *t =
        "{\"TimeGenerated\":\"2022-05-13T08:54:05.21Z\",\"Computer\":\"W5\",\"EventSourceName\":"
        "\"Microsoft-Windows-Security-Auditing\",\"Channel\":\"Security\",\"EventID\":4688,"
        "\"NewProcessName\":\"C:\\\\n.exe\",\"EventData\":\"<EventData/>\",\"Type\":"
        "\"SecurityEvent\"}\n"
        "{\"TimeGenerated\":\"2022-05-13T08:54:06Z\",\"Provider\":\"Microsoft-Windows-Sysmon\","
        "\"Computer\":\"W6\",\"EventData\":\"{\\\"Image\\\":\\\"C:\\\\\\\\i.exe\\\"}\","
        "\"EventID\":1,\"Type\":\"WindowsEvent\"}\n"
        "{\"Provider\":\"P\",\"EventData\":{\"A\":\"b\",\"N\":2},\"EventID\":7,\"Type\":"
        "\"WindowsEvent\"}\n"
        "{\"Provider\":\"P\",\"EventData\":\"not json\",\"EventID\":8,\"Type\":\"WindowsEvent\"}\n"
        "{\"Provider\":\"P\",\"EventID\":9,\"Type\":\"Other\"}\n";
    run r;
    read_text(t, strlen(t), NULL, 0, &r);
    if (r.malformed)
        fail_msg("%s", r.out.ptr);
    assert_true(has(&r, "prov=Microsoft-Windows-Security-Auditing chan=Security comp=W5 "
                        "eid=4688 t=1652432045210000 [NewProcessName=C:\\n.exe]\n"));
    assert_true(has(&r, "prov=Microsoft-Windows-Sysmon chan= comp=W6 eid=1 t=1652432046000000 "
                        "[Image=C:\\i.exe]\n"));
    assert_true(has(&r, "prov=P chan= comp= eid=7 [A=b] [N=2]\n"));
    assert_true(has(&r, "prov=P chan= comp= eid=8\n"));
    assert_int_equal(r.windows, 4);
    assert_int_equal(r.other, 1);
    run_fini(&r);
}

/* evtx_dump JSON: every Sigma regression case's .json gives the events its .evtx gives (read
 * by the EVTX reader): same provider, id, computer, time, record id and process fields
 * (compared without leading and trailing spaces, which evtx_dump drops, and ignoring ASCII
 * case: one case's JSON says Explorer.exe where its EVTX says Explorer.EXE). */
static void collect_events(const char *path, bool json, esc_buf *out, size_t *n) {
    esc_input *in = NULL;
    esc_error err;
    esc_reader *rd = NULL;
    assert_int_equal(esc_input_open(path, &in, &err), ESC_OK);
    assert_int_equal(esc_reader_open(in, NULL, NULL, &rd, &err), ESC_OK);
    assert_int_equal(esc_reader_format(rd), json ? ESC_FMT_JSON : ESC_FMT_EVTX);
    static const char *const names[] = {"Image",           "CommandLine",       "User",
                                        "ParentImage",     "ParentCommandLine", "OriginalFileName",
                                        "UtcTime",         "IntegrityLevel",    "Hashes",
                                        "CurrentDirectory"};
    for (;;) {
        esc_event ev;
        esc_status st = esc_reader_next(rd, &ev, &err);
        if (st == ESC_EOF)
            break;
        assert_int_equal(st, ESC_OK);
        (*n)++;
        esc_buf_printf(out, "%d %.*s %u %.*s %.*s %lld %llu", ev.kind, ESC_STR_FMT(ev.provider),
                       ev.event_id, ESC_STR_FMT(ev.computer), ESC_STR_FMT(ev.channel),
                       (long long)ev.time_us, (unsigned long long)ev.record_id);
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            /* evtx_dump drops trailing spaces (a ParentCommandLine ending in a space) */
            esc_str v = esc_str_trim(esc_event_get(&ev, names[i]));
            esc_buf_printf(out, " %s=", names[i]);
            put_value(out, v);
        }
        esc_buf_putc(out, '\n');
    }
    esc_reader_free(rd);
    esc_input_free(in);
}

static void test_evtx_dump_json(void **state) {
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "find %s/sigma-regression -name '*.json' | sort", ESC_SHARED_DATA);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[2048];
    size_t files = 0, events = 0, differ = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        char evtx[2048];
        snprintf(evtx, sizeof evtx, "%.*s.evtx", (int)(strlen(line) - 5), line);
        esc_buf a, b;
        esc_buf_init(&a, 0);
        esc_buf_init(&b, 0);
        size_t na = 0, nb = 0;
        collect_events(line, true, &a, &na);
        collect_events(evtx, false, &b, &nb);
        if (na != nb || strcasecmp(a.ptr ? a.ptr : "", b.ptr ? b.ptr : "") != 0) {
            fprintf(stderr, "%s:\njson: %s\nevtx: %s\n", line, a.ptr, b.ptr);
            differ++;
        }
        events += na;
        files++;
        esc_buf_fini(&a);
        esc_buf_fini(&b);
    }
    pclose(p);
    assert_int_equal(files, 130);
    assert_int_equal(events, 139);
    assert_int_equal(differ, 0);
}

/* A top-level array (one line or pretty-printed) and pretty-printed objects one after
 * another, read in every block size from 1 byte up. */
static void test_arrays_and_pretty(void **state) {
    (void)state;
    const char *one = "[{\"EventID\":1,\"SourceName\":\"S\",\"A\":\"1\"},{\"EventID\":2,"
                      "\"SourceName\":\"S\",\"A\":\"[2]\"} , {\"EventID\":3,\"SourceName\":"
                      "\"S\",\"A\":\"{3}\"}]\n";
    const char *pretty = "[\n  {\n    \"EventID\": 1,\n    \"SourceName\": \"S\",\n    \"A\": "
                         "\"1\"\n  },\n  {\"EventID\":2,\"SourceName\":\"S\",\"A\":\"[2]\"},\n"
                         "  {\n    \"EventID\": 3, \"SourceName\": \"S\",\n \"A\": \"{3}\"\n"
                         "  }\n]\n";
    const char *concat = "{\n  \"EventID\": 1,\n  \"SourceName\": \"S\",\n  \"A\": \"1\"\n}\n"
                         "{\"EventID\":2,\"SourceName\":\"S\",\"A\":\"[2]\"}\n{\n  \"EventID\""
                         ": 3,\n  \"SourceName\": \"S\", \"A\": \"{3}\"\n}";
    const char *texts[] = {one, pretty, concat};
    for (size_t k = 0; k < 3; k++) {
        for (size_t block = 1; block < 300; block += (block < 20 ? 1 : 37)) {
            run r;
            read_text(texts[k], strlen(texts[k]), NULL, block, &r);
            if (r.malformed || r.events != 3)
                fail_msg("text %zu block %zu:\n%s", k, block, r.out.ptr);
            assert_true(has(&r, "eid=1 [A=1]\n"));
            assert_true(has(&r, "eid=2 [A=[2]]\n"));
            assert_true(has(&r, "eid=3 [A={3}]\n"));
            run_fini(&r);
        }
    }
}

/* ---- escapes and repair ---------------------------------------------------------------- */

static void test_escapes(void **state) {
    (void)state;
    const char *t = "{\"EventID\":1,\"SourceName\":\"S\",\"A\":\"\\u0041\\u00e9\\u20ac"
                    "\\ud83d\\ude00\\\"\\\\\\/\\t\",\"B\":\"x\\ud800y\",\"C\":\"\\u0000\","
                    "\"D\":\"bad\xff\xfe\",\"E\":\"\\udc00\",\"F\":\"ok\",\"N\":"
                    "123456789012345678901234567890e99999,\"M\":-0.5E-3}\n";
    run r;
    read_text(t, strlen(t), NULL, 0, &r);
    assert_int_equal(r.malformed, 0);
    assert_true(has(&r, "[A=A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"\\/\t]"));
    assert_true(has(&r, "[B=x\xEF\xBF\xBDy]"));
    assert_true(has(&r, "[C=\xEF\xBF\xBD]"));
    assert_true(has(&r, "[D=bad\xEF\xBF\xBD\xEF\xBF\xBD]"));
    assert_true(has(&r, "[E=\xEF\xBF\xBD]"));
    assert_true(has(&r, "[N=123456789012345678901234567890e99999] [M=-0.5E-3]"));
    assert_true(has(&r, "repaired=4 "));
    assert_int_equal(r.stats.repaired, 4);
    run_fini(&r);
}

/* ---- malformed lines ------------------------------------------------------------------- */

static void good_line(esc_buf *b, int n) {
    esc_buf_printf(b, "{\"EventID\":1,\"SourceName\":\"S\",\"Hostname\":\"good%d\"}\n", n);
}

static void test_malformed_lines(void **state) {
    (void)state;
    esc_buf b;
    esc_buf_init(&b, 0);
    good_line(&b, 1);
    esc_buf_append_c(&b, "{\"EventID\":1,\"SourceName\":\"S\",\"Hostname\":\"trunc\n"); /* 2 */
    good_line(&b, 3);
    esc_buf_append_c(&b, "{\"EventID\":1,\"SourceName\":\"S\",\n"); /* 4: truncated */
    good_line(&b, 5);
    esc_buf_append_c(&b, "{\"EventID\":1 \"SourceName\":\"S\"}\n"); /* 6: missing comma */
    good_line(&b, 7);
    for (int i = 0; i < 100000; i++) /* 8: deep nesting */
        esc_buf_putc(&b, '[');
    esc_buf_putc(&b, '\n');
    esc_buf_append_c(&b, "{\"a\":"); /* 9: deep nesting inside an object */
    for (int i = 0; i < 100000; i++)
        esc_buf_append_c(&b, "{\"a\":");
    esc_buf_putc(&b, '\n');
    good_line(&b, 10);
    esc_buf_append_c(&b, "{\"EventID\":1,\"SourceName\":\"S\",\"X\":\"\\q\"}\n"); /* 11 */
    esc_buf_append_c(&b, "{\"EventID\":01}\n");                                   /* 12 */
    esc_buf_append_c(&b, "not json\n");                                           /* 13 */
    good_line(&b, 14);
    esc_buf_append_c(&b, "{\"EventID\":1,\"SourceName\":\"S\",\"Hostname\":\"big"); /* 15 */
    for (int i = 0; i < 50 * 1024 * 1024 / 64; i++)
        esc_buf_append_c(&b, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    esc_buf_append_c(&b, "\"}\n");
    good_line(&b, 16);
    esc_buf_append_c(&b, "{\"EventID\":1,\"SourceName\":\"S\",\"Hostname\":\"eof"); /* 17 */
    run r;
    read_text(b.ptr, b.len, NULL, 0, &r);
    for (int i = 1; i <= 16; i++) {
        char want[64];
        snprintf(want, sizeof want, "comp=good%d ", i);
        bool is_good = i == 1 || i == 3 || i == 5 || i == 7 || i == 10 || i == 14 || i == 16;
        if (is_good != has(&r, want))
            fail_msg("line %d:\n%.4000s", i, r.out.ptr);
    }
    assert_int_equal(r.events, 7);
    assert_true(has(&r, "err line=2 off="));
    assert_true(has(&r, "line 2: unterminated string at byte"));
    assert_true(has(&r, "line 4: unterminated record (the next line starts a new one)"));
    assert_true(has(&r, "line 6: expected ',' or '}' at byte"));
    assert_true(has(&r, "line 8: expected '{'"));
    assert_true(has(&r, "line 9: nesting deeper than 64 at byte"));
    assert_true(has(&r, "line 11: invalid escape at byte"));
    assert_true(has(&r, "line 12: expected ',' or '}' at byte"));
    assert_true(has(&r, "line 13: expected '{'"));
    assert_true(has(&r, "line 15: record longer than 16777216 bytes at byte"));
    assert_true(has(&r, "line 17: unterminated string at byte"));
    assert_int_equal(r.malformed, 10);
    assert_int_equal(r.stats.records, 17);
    run_fini(&r);

    /* the same with a 4 KiB record cap and 1000-byte reads: the long line is skipped alone */
    char *path = write_tmp(b.ptr, b.len);
    run s;
    read_path(path, NULL, 1000, 4096, &s);
    assert_int_equal(s.events, 7);
    assert_true(has(&s, "line 15: record longer than 4096 bytes at byte"));
    assert_true(has(&s, "comp=good16 "));
    run_fini(&s);
    unlink(path);
    free(path);
    esc_buf_fini(&b);
}

/* A pretty-printed record longer than the cap is skipped as a whole, not line by line. */
static void test_long_pretty_record(void **state) {
    (void)state;
    esc_buf b;
    esc_buf_init(&b, 0);
    esc_buf_append_c(&b, "{\n");
    for (int i = 0; i < 2000; i++)
        esc_buf_printf(&b, "  \"k%d\": \"%s\",\n", i, "0123456789012345678901234567890123456789");
    esc_buf_append_c(&b, "  \"end\": {\"x\": [1, 2, \"}\"]}\n}\n");
    esc_buf_append_c(&b, "{\"EventID\":1,\"SourceName\":\"S\",\"Hostname\":\"after\"}\n");
    char *path = write_tmp(b.ptr, b.len);
    run r;
    read_path(path, NULL, 512, 4096, &r);
    assert_int_equal(r.malformed, 1);
    assert_true(has(&r, "line 1: record longer than 4096 bytes"));
    assert_true(has(&r, "ev kind=1 line=2004 "));
    assert_true(has(&r, "comp=after "));
    run_fini(&r);
    read_path(path, NULL, 512, 0, &r);
    assert_int_equal(r.malformed, 0);
    assert_int_equal(r.other, 1);
    assert_int_equal(r.windows, 1);
    run_fini(&r);
    unlink(path);
    free(path);
    esc_buf_fini(&b);
}

/* ---- interest set and literal prefilter ------------------------------------------------ */

static void test_prefilter(void **state) {
    (void)state;
    static const char *const fields[] = {"CommandLine", "Image", "aid", "ComputerName", NULL};
    esc_interest in;
    memset(&in, 0, sizeof in);
    in.win[0] = (esc_win_source){"Microsoft-Windows-Sysmon", 1};
    in.nwin = 1;
    in.crowdstrike = true;
    in.fields = fields;
    in.clause[0].lit[0] = "net.exe";
    in.clause[0].lit[1] = "net1.exe";
    in.clause[0].nlit = 2;
    in.nclauses = 1;
    const char *t =
        /* 1: plain match */
        "{\"EventID\":1,\"SourceName\":\"Microsoft-Windows-Sysmon\",\"Image\":\"C:\\\\NET.EXE\","
        "\"CommandLine\":\"net share\",\"Other\":\"x\"}\n"
        /* 2: no literal: prefiltered */
        "{\"EventID\":1,\"SourceName\":\"Microsoft-Windows-Sysmon\",\"Image\":\"C:\\\\cmd.exe\"}\n"
        /* 3: literal hidden by a \\u escape: found */
        "{\"EventID\":1,\"SourceName\":\"Microsoft-Windows-Sysmon\",\"Image\":\"C:\\\\net"
        "\\u002Eexe\"}\n"
        /* 4: \\u escape, still no literal after decoding: prefiltered */
        "{\"EventID\":1,\"SourceName\":\"Microsoft-Windows-Sysmon\",\"Image\":\"c\\u00e9.exe\"}\n"
        /* 5: wrong event id: skipped */
        "{\"EventID\":3,\"SourceName\":\"Microsoft-Windows-Sysmon\",\"Image\":\"net.exe\"}\n"
        /* 6: aidmaster without the literal: always yielded */
        "{\"aid\":\"a1\",\"ComputerName\":\"WS1\",\"cid\":\"c\"}\n"
        /* 7: escaped quotes around the literal */
        "{\"EventID\":1,\"SourceName\":\"Microsoft-Windows-Sysmon\",\"CommandLine\":\"\\\"net1"
        ".exe\\\" share\"}\n"
        /* 8: CrowdStrike event with the literal */
        "{\"event_simpleName\":\"ProcessRollup2\",\"timestamp\":\"1709716615346\",\"aid\":\"a1\","
        "\"CommandLine\":\"net.exe share\"}\n"
        /* 9: CrowdStrike other event with the literal: skipped */
        "{\"event_simpleName\":\"DnsRequest\",\"CommandLine\":\"net.exe\"}\n"
        /* 10: embedded XML with a numeric character reference hiding the literal */
        "{\"result\":{\"_raw\":\"<Event><System><Provider Name='Microsoft-Windows-Sysmon'/>"
        "<EventID>1</EventID><Computer>X</Computer></System><EventData><Data Name='Image'>"
        "net&#46;exe</Data></EventData></Event>\"}}\n"
        /* 11: Splunk export whose JSON _raw hides the literal behind its own \\u escape */
        "{\"result\":{\"_raw\":\"{\\\"EventID\\\":1,\\\"SourceName\\\":\\\"Microsoft-Windows-"
        "Sysmon\\\",\\\"Image\\\":\\\"nEt\\\\u002eexe\\\"}\"}}\n";
    for (size_t block = 1; block <= 4096; block *= 8) {
        run r;
        read_text(t, strlen(t), &in, block, &r);
        assert_int_equal(r.malformed, 0);
        assert_true(has(&r, "line=1 "));
        assert_true(has(&r, "[Image=C:\\NET.EXE] [CommandLine=net share]\n"));
        assert_false(has(&r, "Other"));
        assert_false(has(&r, "line=2 "));
        assert_true(has(&r, "line=3 "));
        assert_true(has(&r, "[Image=C:\\net.exe]"));
        assert_false(has(&r, "line=4 "));
        assert_false(has(&r, "line=5 "));
        assert_true(has(&r, "ev kind=3 line=6 "));
        assert_true(has(&r, "line=7 "));
        assert_true(has(&r, "ev kind=2 line=8 "));
        assert_false(has(&r, "line=9 "));
        assert_true(has(&r, "line=10 "));
        assert_true(has(&r, "[Image=net.exe]"));
        assert_true(has(&r, "line=11 "));
        assert_true(has(&r, "[Image=nEt.exe]"));
        assert_int_equal(r.events, 7);
        assert_int_equal(r.stats.records, 11);
        assert_int_equal(r.stats.prefiltered, 4);
        run_fini(&r);
    }
}

/* ---- the tokenizer and the search on their own ----------------------------------------- */

static void test_ifind(void **state) {
    (void)state;
    char hay[300];
    for (size_t i = 0; i < sizeof hay; i++)
        hay[i] = (char)('a' + i % 7);
    for (size_t pos = 0; pos + 8 <= sizeof hay; pos++) {
        char h[300];
        memcpy(h, hay, sizeof h);
        memcpy(h + pos, "NeT1.ExE", 8);
        assert_int_equal(esc_json_ifind(h, sizeof h, "net1.exe", 8), (long)pos);
        assert_int_equal(esc_json_ifind(h, pos + 7, "net1.exe", 8), -1);
    }
    /* bit-5 folding must not create matches between non-letters */
    assert_int_equal(esc_json_ifind("@[\\]", 4, "`{|}", 4), -1);
    assert_int_equal(esc_json_ifind("x", 1, "", 0), 0);
    assert_int_equal(esc_json_ifind("", 0, "a", 1), -1);
}

static void test_clause_and_flags(void **state) {
    (void)state;
    esc_literal_clause src = {{"net.exe", "net1.exe", "x"}, 2};
    esc_json_clause c;
    esc_json_clause_init(&c, &src);
    char hay[200];
    for (size_t len = 0; len < sizeof hay; len++) {
        for (size_t pos = 0; pos + 8 <= len; pos += 3) {
            memset(hay, '.', sizeof hay);
            memcpy(hay + pos, pos % 2 ? "NET1.exe" : "nEt.ExE", pos % 2 ? 8 : 7);
            assert_true(esc_json_clause_hit(&c, hay, len));
            /* cut before the last byte: no match */
            assert_false(esc_json_clause_hit(&c, hay, pos + (pos % 2 ? 7 : 6)));
        }
    }
    assert_false(esc_json_clause_hit(&c, "net.ex net1exe NET.EX", 21));
    esc_literal_clause empty = {{""}, 1};
    esc_json_clause_init(&c, &empty);
    assert_true(esc_json_clause_hit(&c, "", 0));

    const char *t1 = "{\"a\":\"C:\\\\Windows\\\\x.exe\",\"b\":\"plain text here, long enough\"}";
    assert_int_equal(esc_json_raw_flags(t1, strlen(t1)), 0);
    const char *t2 = "{\"a\":\"0123456789abcdef0123456789\\u002e\"}";
    assert_int_equal(esc_json_raw_flags(t2, strlen(t2)), ESC_JSON_RAW_UESC);
    const char *t3 = "{\"aid\":\"1\",\"ComputerName\":\"x\",\"pad\":\"0123456789abcdef\"}";
    assert_int_equal(esc_json_raw_flags(t3, strlen(t3)), ESC_JSON_RAW_COMPUTERNAME);
    const char *t4 = "{\"_raw\":\"<Data>net&#46;exe</Data> and some padding text\"}";
    assert_int_equal(esc_json_raw_flags(t4, strlen(t4)), ESC_JSON_RAW_NCR);

    esc_buf b;
    esc_buf_init(&b, 0);
    const char *u = "net\\u002eexe \\\\u002e \\ud83d\\ude00 \\ud800 \\\" \\u0000";
    bool nested = false;
    assert_int_equal(esc_json_unescape_u(&b, u, strlen(u), &nested), ESC_OK);
    assert_true(nested); /* the escaped backslash before u0002e */
    assert_string_equal(b.ptr, "net.exe \\\\u002e \xF0\x9F\x98\x80 \xEF\xBF\xBD \\\" \xEF\xBF\xBD");
    esc_buf_fini(&b);
}

static void test_tokenizer_limits(void **state) {
    (void)state;
    esc_json_doc d;
    esc_json_doc_init(&d);
    esc_arena a;
    esc_arena_init(&a, 0, 0);
    const char *end;
    const char *ok = "  {\"a\":[1,{\"b\":null}],\"c\":\"\\u00e9\"} tail";
    assert_int_equal(esc_json_tokenize(&d, ok, ok + strlen(ok), &end, &a), ESC_OK);
    assert_string_equal(end, " tail");
    assert_int_equal(d.ntok, 2);
    const char *bad[] = {"{",           "{\"a\"",    "{\"a\":}",   "{\"a\":1,}",
                         "{\"a\":tru}", "{\"a\":-}", "{\"a\":1.}", "{\"a\":\"\\u12\"}",
                         "[]",          "{\"a\":1]", "{\"a\":[1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(esc_json_tokenize(&d, bad[i], bad[i] + strlen(bad[i]), &end, &a),
                         ESC_EMALFORMED);
        assert_non_null(d.what);
    }
    /* 64 levels are fine, 65 are not */
    char deep[300];
    size_t n = 0;
    for (int i = 0; i < 63; i++)
        deep[n++] = '[';
    deep[n] = 0;
    char txt[400];
    snprintf(txt, sizeof txt, "{\"a\":%s%.*s}", deep, 63,
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    assert_int_equal(esc_json_tokenize(&d, txt, txt + strlen(txt), &end, &a), ESC_OK);
    snprintf(txt, sizeof txt, "{\"a\":[%s%.*s]}", deep, 63,
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
             "]]]]]]]]");
    assert_int_equal(esc_json_tokenize(&d, txt, txt + strlen(txt), &end, &a), ESC_EMALFORMED);
    assert_string_equal(d.what, "nesting deeper than 64");
    esc_arena_fini(&a);
    esc_json_doc_fini(&d);
}

/* Each text read by a fresh reader, or by one reader restarted for each (escudo run's Kafka
 * messages), also over one input made over each text in turn (esc_input_reopen_mem, names
 * longer and shorter than the last): the same events, errors, offsets, lines and statistics; a
 * text in another format is refused by the restart and left to a reader of its own. */
static void read_texts(const char *const *texts, size_t n, bool restart, bool reopen,
                       esc_buf *out) {
    esc_reader *rd = NULL;
    esc_input *kept = NULL;
    for (size_t i = 0; i < n; i++) {
        esc_input *in = kept;
        esc_error err;
        esc_error_clear(&err);
        char name[48];
        snprintf(name, sizeof name, "text%zu%s", i, i % 3 == 1 ? "-a-longer-name" : "");
        if (in)
            assert_int_equal(
                esc_input_reopen_mem(in, texts[i], strlen(texts[i]), name, 100 * i, &err), ESC_OK);
        else
            assert_int_equal(
                esc_input_open_mem(texts[i], strlen(texts[i]), name, 100 * i, &in, &err), ESC_OK);
        if (reopen)
            kept = in;
        if (!restart || !rd || !esc_reader_restart(rd, in)) {
            esc_reader_free(rd);
            rd = NULL;
            esc_status st = esc_reader_open(in, NULL, NULL, &rd, &err);
            if (st == ESC_SKIP) {
                esc_buf_printf(out, "%s: skip\n", name);
                if (!reopen)
                    esc_input_free(in);
                continue;
            }
            assert_int_equal(st, ESC_OK);
        }
        esc_buf_printf(out, "%s: format %d\n", name, esc_reader_format(rd));
        for (;;) {
            esc_event ev;
            esc_error_clear(&err);
            esc_status st = esc_reader_next(rd, &ev, &err);
            if (st == ESC_EOF)
                break;
            if (st == ESC_EMALFORMED) {
                esc_buf_printf(out, "err %s line=%llu off=%llu %s\n", err.path,
                               (unsigned long long)err.line, (unsigned long long)err.offset,
                               err.msg);
                continue;
            }
            assert_int_equal(st, ESC_OK);
            assert_string_equal(ev.path, name);
            esc_buf_printf(out, "ev line=%llu off=%llu eid=%u comp=%.*s\n",
                           (unsigned long long)ev.line, (unsigned long long)ev.offset, ev.event_id,
                           ESC_STR_FMT(ev.computer));
        }
        const esc_reader_stats *s = esc_reader_stats_get(rd);
        esc_buf_printf(out, "stats %llu %llu %llu\n", (unsigned long long)s->records,
                       (unsigned long long)s->malformed, (unsigned long long)s->repaired);
        if (!restart) {
            esc_reader_free(rd);
            rd = NULL;
        }
        if (!reopen)
            esc_input_free(in);
    }
    esc_reader_free(rd);
    esc_input_free(kept);
}

static void test_restart(void **state) {
    (void)state;
    static const char *const texts[] = {
        "{\"EventID\":1,\"SourceName\":\"S\",\"Hostname\":\"a\"}",
        "\n\n{\"EventID\":2,\"SourceName\":\"S\",\"Hostname\":\"b\"}\n",
        "{\"EventID\":3,\"SourceName\":\"S\",",             /* truncated */
        "[{\"EventID\":4,\"SourceName\":\"S\"},",           /* unterminated array */
        "\xEF\xBB\xBF{\"EventID\":5,\"SourceName\":\"S\"}", /* BOM */
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        "<EventID>6</EventID><Computer>x</Computer></System></Event>",
        "{\"EventID\":7,\"SourceName\":\"S\",\"Hostname\":\"c\\ud800\"}",
        "not json",
        "{\"EventID\":9,\"SourceName\":\"S\"}\n{\"EventID\":10,\"SourceName\":\"S\"}\n",
    };
    esc_buf fresh, reused, reopened;
    esc_buf_init(&fresh, 0);
    esc_buf_init(&reused, 0);
    esc_buf_init(&reopened, 0);
    read_texts(texts, sizeof texts / sizeof texts[0], false, false, &fresh);
    read_texts(texts, sizeof texts / sizeof texts[0], true, false, &reused);
    read_texts(texts, sizeof texts / sizeof texts[0], true, true, &reopened);
    assert_string_equal(reused.ptr, fresh.ptr);
    assert_string_equal(reopened.ptr, fresh.ptr);
    esc_buf_fini(&reopened);
    assert_non_null(strstr(fresh.ptr, "ev line=2 off=831 eid=10")); /* base and lines per text */
    assert_non_null(strstr(fresh.ptr, "text5: format 2")); /* the XML text: a reader of its own */
    esc_buf_fini(&fresh);
    esc_buf_fini(&reused);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_otrf_manifest),
        cmocka_unit_test(test_crafted_same_events),
        cmocka_unit_test(test_crafted_crowdstrike),
        cmocka_unit_test(test_shape_flat),
        cmocka_unit_test(test_shape_winlogbeat),
        cmocka_unit_test(test_shape_dump_export_other),
        cmocka_unit_test(test_shape_sentinel),
        cmocka_unit_test(test_evtx_dump_json),
        cmocka_unit_test(test_arrays_and_pretty),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_long_pretty_record),
        cmocka_unit_test(test_prefilter),
        cmocka_unit_test(test_ifind),
        cmocka_unit_test(test_clause_and_flags),
        cmocka_unit_test(test_tokenizer_limits),
        cmocka_unit_test(test_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
