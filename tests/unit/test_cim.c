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

/* action, process_exec and parent_process_exec: the add-ons' own fields, which the data model
 * copies (no CIM default). Splunk_TA_microsoft_sysmon props.conf: EVAL-action = "allowed" for
 * EventCode 1 (and 3), EVAL-process_exec = the basename of Image and EVAL-parent_process_exec
 * that of ParentImage, for EventCode 1 only. Splunk_TA_windows [source::XmlWinEventLog:Security]:
 * EVAL-process_exec = new_process_name (4688: the basename of NewProcessName), that of
 * ProcessName (4689, 4673, 4674), target_process_name (4696); EVAL-action = "allowed" for a
 * 4688 whose Keywords is 0x8020000000000000 (audit success). Neither sets them elsewhere, nor
 * parent_process_exec for Security (src/fields/rules.c has the same rows). */
static void test_action_exec(void **state) {
    (void)state;
    fx f;
    ev_init(&f, ESC_EV_WINDOWS, "Microsoft-Windows-Sysmon", 1);
    put(&f, "Image", "C:\\Windows\\System32\\net.exe");
    put(&f, "ParentImage", "C:\\Windows\\System32\\cmd.exe");
    for (int p = 0; p < 2; p++) {
        map(&f, p ? ESC_PROFILE_NATIVE : ESC_PROFILE_SPLUNK);
        expect(&f, ESC_CIM_ACTION, "allowed");
        expect(&f, ESC_CIM_PROCESS_EXEC, "net.exe");
        expect(&f, ESC_CIM_PARENT_PROCESS_EXEC, "cmd.exe");
    }
    esc_arena_fini(&f.arena);

    ev_init(&f, ESC_EV_WINDOWS, "Microsoft-Windows-Sysmon", 1); /* no image: no exec */
    put(&f, "CommandLine", "net share");
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_PROCESS_EXEC, NULL);
    expect(&f, ESC_CIM_PARENT_PROCESS_EXEC, NULL);
    esc_arena_fini(&f.arena);

    ev_init(&f, ESC_EV_WINDOWS, "Microsoft-Windows-Sysmon", 10); /* other process events */
    f.ev.channel = ESC_STR("Microsoft-Windows-Sysmon/Operational");
    put(&f, "SourceImage", "C:\\Tools\\x.exe");
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_ACTION, NULL);
    expect(&f, ESC_CIM_PROCESS_EXEC, NULL);
    esc_arena_fini(&f.arena);

    esc_kv sys = {ESC_STR("Keywords"), ESC_STR("0x8020000000000000")};
    ev_init(&f, ESC_EV_WINDOWS, SEC, 4688);
    put(&f, "NewProcessName", "C:\\Windows\\System32\\whoami.exe");
    put(&f, "ParentProcessName", "C:\\Windows\\System32\\cmd.exe");
    f.ev.sys = &sys;
    f.ev.nsys = 1;
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_ACTION, "allowed");
    expect(&f, ESC_CIM_PROCESS_EXEC, "whoami.exe");
    expect(&f, ESC_CIM_PARENT_PROCESS_EXEC, NULL);
    sys.value = ESC_STR("0x8010000000000000"); /* audit failure */
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_ACTION, NULL);
    f.ev.nsys = 0;
    put(&f, "Keywords", "0x8020000000000000"); /* a JSON shape's key */
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_ACTION, "allowed");
    esc_arena_fini(&f.arena);

    ev_init(&f, ESC_EV_WINDOWS, SEC, 4689);
    f.ev.channel = ESC_STR("Security");
    put(&f, "ProcessName", "C:\\Windows\\System32\\whoami.exe");
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_PROCESS_EXEC, "whoami.exe");
    expect(&f, ESC_CIM_ACTION, NULL);
    esc_arena_fini(&f.arena);

    ev_init(&f, ESC_EV_WINDOWS, SEC, 4696);
    f.ev.channel = ESC_STR("Security");
    put(&f, "ProcessName", "C:\\Windows\\explorer.exe");
    put(&f, "TargetProcessName", "C:\\Windows\\System32\\cmd.exe");
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_PROCESS_EXEC, "cmd.exe");
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
    assert_int_equal(
        esc_cim_map(&f.ev, ESC_PROFILE_SPLUNK, hosts, &f.arena, &f.rec, &unresolved, &err), ESC_OK);
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

/* The events the add-ons tag `process report` besides Sysmon 1 and 4688 enter too:
 * Splunk_TA_microsoft_sysmon eventtypes.conf [ms-sysmon-process] EventCode 1, 5, 6, 8, 9, 10,
 * 15, 17, 18; Splunk_TA_windows eventtypes.conf [windows_endpoint_processes] EventCode 4688,
 * 4689, 4696, 4673, 4674; tags.conf gives both `process` and `report` (docs/cim.md). */
static void test_classify(void **state) {
    (void)state;
    fx f;
    ev_init(&f, ESC_EV_WINDOWS, "microsoft-windows-sysmon", 5);
    static const uint32_t sysmon_in[] = {5, 6, 9, 15, 17, 18};
    static const uint32_t sysmon_out[] = {2, 3, 4, 7, 11, 12, 13, 14, 16, 19, 22, 23};
    for (size_t i = 0; i < sizeof sysmon_in / sizeof sysmon_in[0]; i++) {
        f.ev.event_id = sysmon_in[i];
        assert_int_equal(esc_cim_classify(&f.ev), ESC_SRC_SYSMON_TAGGED);
    }
    for (size_t i = 0; i < sizeof sysmon_out / sizeof sysmon_out[0]; i++) {
        f.ev.event_id = sysmon_out[i];
        assert_int_equal(esc_cim_classify(&f.ev), ESC_SRC_NONE);
    }
    f.ev.event_id = 8; /* the source process acts (EVAL-process_* take Source*) */
    assert_int_equal(esc_cim_classify(&f.ev), ESC_SRC_SYSMON_SOURCE);
    f.ev.event_id = 10;
    assert_int_equal(esc_cim_classify(&f.ev), ESC_SRC_SYSMON_SOURCE);
    f.ev.provider = ESC_STR(SEC);
    f.ev.event_id = 4696;
    assert_int_equal(esc_cim_classify(&f.ev), ESC_SRC_SECURITY4696);
    static const uint32_t sec_in[] = {4689, 4673, 4674};
    static const uint32_t sec_out[] = {4624, 4656, 4663, 4690, 4697, 1};
    for (size_t i = 0; i < sizeof sec_in / sizeof sec_in[0]; i++) {
        f.ev.event_id = sec_in[i];
        assert_int_equal(esc_cim_classify(&f.ev), ESC_SRC_SECURITY_TAGGED);
    }
    for (size_t i = 0; i < sizeof sec_out / sizeof sec_out[0]; i++) {
        f.ev.event_id = sec_out[i];
        assert_int_equal(esc_cim_classify(&f.ev), ESC_SRC_NONE);
    }
    f.ev.provider = ESC_STR("microsoft-windows-sysmon");
    f.ev.event_id = 1;
    assert_int_equal(esc_cim_classify(&f.ev), ESC_SRC_SYSMON1);
    f.ev.provider = ESC_STR("Sysmon");
    assert_int_equal(esc_cim_classify(&f.ev), ESC_SRC_NONE);
}

/* Sysmon 10: the process that acts is the source (Splunk_TA_microsoft_sysmon props.conf
 * EVAL-process_name/process_path/process_id/process_guid take SourceImage, SourceProcessId,
 * SourceProcessGuid for EventCode 8 and 10); `process` is CommandLine for EventCode 1 only, and
 * no parent field is set, so the CIM defaults apply (docs/fields.md, Sysmon). */
static void test_sysmon_tagged(void **state) {
    (void)state;
    fx f;
    ev_init(&f, ESC_EV_WINDOWS, "Microsoft-Windows-Sysmon", 10);
    f.ev.channel = ESC_STR("Microsoft-Windows-Sysmon/Operational");
    put(&f, "SourceProcessGuid", "{A}");
    put(&f, "SourceProcessId", "4242");
    put(&f, "SourceImage", "C:\\Tools\\mimikatz.exe");
    put(&f, "TargetImage", "C:\\Windows\\system32\\lsass.exe");
    put(&f, "GrantedAccess", "0x1010");
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_PROCESS_NAME, "mimikatz.exe");
    expect(&f, ESC_CIM_PROCESS_PATH, "C:\\Tools\\mimikatz.exe");
    expect(&f, ESC_CIM_PROCESS_ID, "4242");
    expect(&f, ESC_CIM_PROCESS_GUID, "{A}");
    expect(&f, ESC_CIM_PROCESS, "unknown");
    expect(&f, ESC_CIM_PARENT_PROCESS_NAME, "unknown");
    expect(&f, ESC_CIM_USER, "unknown");
    expect(&f, ESC_CIM_DEST, "HOST");
    expect(&f, ESC_CIM_VENDOR_PRODUCT, "Microsoft Sysmon");
    assert_int_equal(f.rec.time_us, 1000000); /* the system time: UtcTime is for EventCode 1 */
    esc_arena_fini(&f.arena);

    ev_init(&f, ESC_EV_WINDOWS, "Microsoft-Windows-Sysmon", 5);
    f.ev.channel = ESC_STR("Microsoft-Windows-Sysmon/Operational");
    put(&f, "ProcessId", "8332");
    put(&f, "Image", "C:\\Windows\\System32\\whoami.exe");
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_PROCESS_NAME, "whoami.exe");
    expect(&f, ESC_CIM_PROCESS_ID, "8332");
    expect(&f, ESC_CIM_PROCESS, "unknown");
    esc_arena_fini(&f.arena);
}

/* Security 4689 (process exit) and 4696: Splunk_TA_windows props.conf
 * [source::XmlWinEventLog:Security] EVAL-process (coalesce of the ProcessName extraction; 4696:
 * TargetProcessName), EVAL-process_name (4689/4673/4674: basename of ProcessName; 4696:
 * target_process_name), EVAL-user (4689/4673/4674: SubjectUserName; 4696: user),
 * EVAL-parent_process / parent_process_name (4696: ProcessName), EXTRACT process_id
 * (ProcessId; 4696: EVAL-process_id = TargetProcessId). */
static void test_security_tagged(void **state) {
    (void)state;
    fx f;
    ev_init(&f, ESC_EV_WINDOWS, SEC, 4689);
    f.ev.channel = ESC_STR("Security");
    put(&f, "SubjectUserName", "wardog");
    put(&f, "SubjectDomainName", "WORKSTATION5");
    put(&f, "ProcessId", "0x208c");
    put(&f, "ProcessName", "C:\\Windows\\System32\\whoami.exe");
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_PROCESS, "C:\\Windows\\System32\\whoami.exe");
    expect(&f, ESC_CIM_PROCESS_NAME, "whoami.exe");
    expect(&f, ESC_CIM_PROCESS_PATH, "C:\\Windows\\System32\\whoami.exe");
    expect(&f, ESC_CIM_PROCESS_ID, "0x208c");
    expect(&f, ESC_CIM_USER, "wardog");
    expect(&f, ESC_CIM_PARENT_PROCESS, "unknown");
    expect(&f, ESC_CIM_DEST, "HOST");
    expect(&f, ESC_CIM_VENDOR_PRODUCT, "Microsoft Windows");
    esc_arena_fini(&f.arena);

    ev_init(&f, ESC_EV_WINDOWS, SEC, 4696);
    f.ev.channel = ESC_STR("Security");
    put(&f, "TargetUserName", "bob");
    put(&f, "ProcessId", "0x10");
    put(&f, "ProcessName", "C:\\Windows\\explorer.exe");
    put(&f, "TargetProcessId", "0x20");
    put(&f, "TargetProcessName", "C:\\Windows\\System32\\cmd.exe");
    map(&f, ESC_PROFILE_SPLUNK);
    expect(&f, ESC_CIM_PROCESS, "C:\\Windows\\System32\\cmd.exe");
    expect(&f, ESC_CIM_PROCESS_NAME, "cmd.exe");
    expect(&f, ESC_CIM_PROCESS_ID, "0x20");
    expect(&f, ESC_CIM_PARENT_PROCESS, "C:\\Windows\\explorer.exe");
    expect(&f, ESC_CIM_PARENT_PROCESS_NAME, "explorer.exe");
    expect(&f, ESC_CIM_PARENT_PROCESS_ID, "0x10");
    expect(&f, ESC_CIM_USER, "bob");
    esc_arena_fini(&f.arena);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_4688_process_rules),
        cmocka_unit_test(test_4688_user),
        cmocka_unit_test(test_sysmon),
        cmocka_unit_test(test_action_exec),
        cmocka_unit_test(test_crowdstrike),
        cmocka_unit_test(test_crowdstrike_typed),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_sysmon_tagged),
        cmocka_unit_test(test_security_tagged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
