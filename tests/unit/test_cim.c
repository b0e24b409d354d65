/* CIM mapping: SPEC section 2 rules, one case each, both profiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cim/cim.h"

typedef struct fx {
    esc_kv kv[16];
    esc_event ev;
    esc_arena arena;
    esc_record rec;
} fx;

static void ev_init(fx *f, esc_event_kind kind, const char *provider, uint32_t id) {
    memset(f, 0, sizeof *f);
    f->ev.kind = kind;
    f->ev.provider = esc_str_c(provider);
    f->ev.event_id = id;
    f->ev.has_event_id = true;
    f->ev.computer = ESC_STR("HOST");
    f->ev.time_us = 1000000;
    f->ev.has_time = true;
    f->ev.data = f->kv;
    esc_arena_init(&f->arena, 0, 1 << 20);
}

static void put(fx *f, const char *k, const char *v) {
    f->kv[f->ev.ndata].name = esc_str_c(k);
    f->kv[f->ev.ndata].value = esc_str_c(v);
    f->ev.ndata++;
}

static void map(fx *f, esc_profile p) {
    esc_error err;
    assert_int_equal(esc_cim_map(&f->ev, p, NULL, &f->arena, &f->rec, NULL, &err), ESC_OK);
}

static void expect(const fx *f, esc_cim_field k, const char *want) {
    esc_str v = f->rec.v[k];
    if (!want) {
        assert_null(v.ptr);
        return;
    }
    assert_non_null(v.ptr);
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.ptr, want, v.len);
}

#define SEC "Microsoft-Windows-Security-Auditing"

static void sec_process(const char *cmd, const char *img, const char *want) {
    fx f;
    ev_init(&f, ESC_EV_WINDOWS, SEC, 4688);
    if (cmd)
        put(&f, "CommandLine", cmd);
    if (img)
        put(&f, "NewProcessName", img);
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_PROCESS, want);
    esc_arena_fini(&f.arena);
}

static void test_4688_process_rules(void **state) {
    (void)state;
    const char *net = "C:\\Windows\\System32\\net.exe";
    sec_process("net  share x /delete", net, "C:\\Windows\\System32\\net.exe share x /delete");
    sec_process("net", net, "C:\\Windows\\System32\\net.exe ");
    sec_process("\"C:\\Windows\\System32\\net.exe\" share", net,
                "\"C:\\Windows\\System32\\net.exe\" share");
    sec_process("net share\nmore", net, "C:\\Windows\\System32\\net.exe share");
    sec_process("\"my tool\" x", "C:\\t\\my tool.exe", "\"C:\\t\\my tool.exe\" x");
    sec_process(NULL, net, net);
    sec_process("-", net, net);
    sec_process("net share", NULL, "unknown");
    sec_process(NULL, NULL, "unknown");
}

static void test_4688_user(void **state) {
    (void)state;
    fx f;
    ev_init(&f, ESC_EV_WINDOWS, SEC, 4688);
    put(&f, "SubjectUserName", "WS$");
    put(&f, "SubjectDomainName", "CORP");
    put(&f, "TargetUserName", "-");
    put(&f, "NewProcessName", "C:\\x\\a.exe");
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_USER, "WS$");
    expect(&f, ESC_CIM_ORIGINAL_FILE_NAME, "unknown");
    expect(&f, ESC_CIM_PARENT_PROCESS, "unknown");
    expect(&f, ESC_CIM_PARENT_PROCESS_NAME, "unknown");
    expect(&f, ESC_CIM_PROCESS_GUID, NULL);
    expect(&f, ESC_CIM_VENDOR_PRODUCT, "Microsoft Windows");
    map(&f, ESC_PROFILE_NATIVE);
    expect(&f, ESC_CIM_USER, "CORP\\WS$");
    esc_arena_fini(&f.arena);
}

static void test_sysmon(void **state) {
    (void)state;
    fx f;
    ev_init(&f, ESC_EV_WINDOWS, "Microsoft-Windows-Sysmon", 1);
    put(&f, "UtcTime", "2020-12-09 18:21:05.120");
    put(&f, "User", "ATTACKRANGE\\Administrator");
    put(&f, "CommandLine", "net  share test=C:\\temp");
    put(&f, "ParentCommandLine", "cmd.exe /c x");
    put(&f, "IntegrityLevel", "High");
    map(&f, ESC_PROFILE_SPLUNK);
    assert_int_equal(f.rec.time_us, INT64_C(1607538065120000));
    expect(&f, ESC_CIM_USER, "Administrator");
    /* note (c): no Image, so process_name is the first token of process */
    expect(&f, ESC_CIM_PROCESS_NAME, "net");
    expect(&f, ESC_CIM_PARENT_PROCESS_NAME, "cmd.exe");
    expect(&f, ESC_CIM_PROCESS_INTEGRITY_LEVEL, "high");
    expect(&f, ESC_CIM_ORIGINAL_FILE_NAME, "unknown");
    map(&f, ESC_PROFILE_NATIVE);
    expect(&f, ESC_CIM_USER, "ATTACKRANGE\\Administrator");
    esc_arena_fini(&f.arena);
}

static void test_crowdstrike(void **state) {
    (void)state;
    fx f;
    ev_init(&f, ESC_EV_CROWDSTRIKE, "", 0);
    f.ev.has_event_id = false;
    put(&f, "event_simpleName", "ProcessRollup2");
    put(&f, "CommandLine", " \"C:\\W\\net.exe\" share x ");
    put(&f, "ImageFileName", "\\Device\\HarddiskVolume2\\W\\net.exe");
    put(&f, "aid", "a1");
    esc_hostmap *hosts = esc_hostmap_new();
    assert_int_equal(esc_hostmap_put(hosts, ESC_STR("a1"), ESC_STR("WS1")), ESC_OK);
    esc_error err;
    bool unresolved = true;
    assert_int_equal(esc_cim_map(&f.ev, ESC_PROFILE_SPLUNK, hosts, &f.arena, &f.rec, &unresolved,
                                 &err),
                     ESC_OK);
    assert_false(unresolved);
    expect(&f, ESC_CIM_DEST, "WS1");
    expect(&f, ESC_CIM_PROCESS, "C:\\W\\net.exe share x");
    /* the untrimmed command line starts with a space: the token is empty, so (c) applies */
    expect(&f, ESC_CIM_PROCESS_NAME, "C:\\W\\net.exe");
    expect(&f, ESC_CIM_USER, "unknown");
    map(&f, ESC_PROFILE_NATIVE);
    expect(&f, ESC_CIM_PROCESS_NAME, "net.exe");
    expect(&f, ESC_CIM_PROCESS, " \"C:\\W\\net.exe\" share x ");
    expect(&f, ESC_CIM_DEST, "unknown");
    esc_hostmap_free(hosts);
    esc_arena_fini(&f.arena);
}

static void test_crowdstrike_typed(void **state) {
    (void)state;
    fx f;
    ev_init(&f, ESC_EV_CROWDSTRIKE, "", 0);
    put(&f, "event_simpleName", "SyntheticProcessRollup2");
    put(&f, "CommandLine", "net share pub /delete");
    put(&f, "device_hostname", "H");
    put(&f, "UID", "1000");
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_PROCESS_NAME, "net");
    expect(&f, ESC_CIM_PROCESS_PATH, "net");
    expect(&f, ESC_CIM_DEST, "H");
    expect(&f, ESC_CIM_USER, "1000");
    esc_arena_fini(&f.arena);
}

static void test_classify(void **state) {
    (void)state;
    fx f;
    ev_init(&f, ESC_EV_WINDOWS, "microsoft-windows-sysmon", 5);
    assert_int_equal(esc_cim_classify(&f.ev), ESC_SRC_NONE);
    f.ev.event_id = 1;
    assert_int_equal(esc_cim_classify(&f.ev), ESC_SRC_SYSMON1);
    f.ev.provider = ESC_STR("Sysmon");
    assert_int_equal(esc_cim_classify(&f.ev), ESC_SRC_NONE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_4688_process_rules), cmocka_unit_test(test_4688_user),
        cmocka_unit_test(test_sysmon),             cmocka_unit_test(test_crowdstrike),
        cmocka_unit_test(test_crowdstrike_typed),  cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
