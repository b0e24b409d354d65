/* libFuzzer target for the SPL front end: macro expansion, parsing, planning, explain, the
 * caret renderer, and an execution over a few fixed records.
 *
 * Input layout: the bytes up to the first NUL are the search; what follows defines macros,
 * one a line as NAME|ARG1,ARG2|DEFINITION (so the fuzzer can build recursion, cycles and
 * arity mismatches). Without a NUL a fixed macro set is used. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "spl/spl.h"

#define MAXM 16

static const char *const ONE[] = {"object"};
static const char *const FIELD[] = {"field"};

static const esc_macro fixed[] = {
    {.name = "process_net",
     .definition =
         "(Processes.process_name=\"net.exe\" OR Processes.original_file_name=\"net1.exe\")"},
    {.name = "security_content_summariesonly",
     .definition = "summariesonly=false allow_old_summaries=true fillnull_value=null"},
    {.name = "drop_dm_object_name",
     .nargs = 1,
     .args = ONE,
     .definition = "rename \"$object$.*\" as *"},
    {.name = "security_content_ctime",
     .nargs = 1,
     .args = FIELD,
     .definition = "convert timeformat=\"%Y-%m-%dT%H:%M:%S\" ctime($field$)"},
};

static void run(const char *search, const esc_macro_set *set) {
    esc_error err;
    memset(&err, 0, sizeof err);
    char *text = NULL;
    esc_plan *p = esc_plan_new_ex(search, set, &text, &err);
    esc_buf b;
    esc_buf_init(&b, 1 << 20);
    if (!p) {
        esc_spl_caret(text, &err, &b);
        esc_free(text);
        esc_buf_fini(&b);
        return;
    }
    esc_plan_explain(p, &b);
    esc_interest in;
    memset(&in, 0, sizeof in);
    esc_plan_interest(p, &in);
    (void)esc_plan_fields(p);
    esc_exec *x = esc_exec_new(p, 0, ESC_TIME_MAX, &err);
    if (x) {
        esc_record r;
        memset(&r, 0, sizeof r);
        const char *vals[] = {"net.exe", "NET1.EXE", "unknown", "a b \\ \" * share", "10", "9"};
        for (int i = 0; i < 12; i++) {
            r.time_us = (int64_t)i * 1500000 + 1607538065000000;
            for (int f = 0; f < ESC_CIM_NFIELDS; f++)
                r.v[f] = (i + f) % 7 == 0 ? ESC_STR_NULL : esc_str_c(vals[(i * 3 + f) % 6]);
            if (esc_exec_feed(x, &r, &err) != ESC_OK)
                break;
        }
        esc_table *t = NULL;
        if (esc_exec_finish(x, &t, &err) == ESC_OK)
            esc_table_free(t);
        esc_exec_free(x);
    }
    esc_buf_fini(&b);
    esc_plan_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    size_t slen = strlen(buf);
    if (slen == size) {
        esc_macro_set set = {.items = fixed, .n = sizeof fixed / sizeof fixed[0]};
        run(buf, &set);
        free(buf);
        return 0;
    }
    esc_macro ms[MAXM];
    const char *args[MAXM][4];
    size_t nm = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf + slen + 1, "\n", &save); line && nm < MAXM;
         line = strtok_r(NULL, "\n", &save)) {
        char *p1 = strchr(line, '|');
        char *p2 = p1 ? strchr(p1 + 1, '|') : NULL;
        if (!p2)
            continue;
        *p1 = 0;
        *p2 = 0;
        memset(&ms[nm], 0, sizeof ms[nm]);
        ms[nm].name = line;
        ms[nm].definition = p2 + 1;
        size_t na = 0;
        char *s2 = NULL;
        for (char *a = strtok_r(p1 + 1, ",", &s2); a && na < 4; a = strtok_r(NULL, ",", &s2))
            args[nm][na++] = a;
        ms[nm].nargs = na;
        ms[nm].args = args[nm];
        nm++;
    }
    esc_macro_set set = {.items = ms, .n = nm};
    run(buf, &set);
    free(buf);
    return 0;
}
