/* Golden tests for the SPL subset: every .test file in tests/spl holds cases of three parts
 * (program, input, expected output), jq style.
 *
 * Case format (sections start with a line "--- NAME", cases with "### TITLE"):
 *   --- macros    one macro a line: NAME|ARG1,ARG2|DEFINITION (ARG list may be empty)
 *   --- search    the search text (several lines allowed; the final newline is dropped)
 *   --- records   one CIM record a line: FIELD=VALUE pairs separated by tabs; _time is ISO
 *                 8601 (UTC); {TAB} and {NL} in a value stand for a tab and a newline. For a
 *                 search over another dataset or raw events the pairs are the record's field
 *                 set (a name given twice is multivalue; _raw is the raw text); a first pair
 *                 #ds=N gives the record's dataset (esc_dataset; default: the search's)
 *   --- window    EARLIEST LATEST in epoch seconds (optional; default all time)
 *   --- output    expected rows as JSON lines (null cells omitted, mv columns as arrays)
 *   --- error     expected failure: the message line, then the caret rendering
 *   --- prefilter expected literal clauses, one a line, literals separated by spaces
 *                 ("none" when there are none)
 *   --- explain   (optional) text that must appear in esc_plan_explain's output
 *   --- lookups   one lookup a line: NAME|CSV (relative to tests/spl)|CASE_SENSITIVE (0/1)|
 *                 MATCH_TYPE|DEFAULT_MATCH|MIN_MATCHES|MAX_MATCHES (empty = unset)
 * A case passes when every expectation it states holds. An output is checked twice: as the
 * search reads the records, and with its groups and kept rows spilled after every record
 * (spl/spill.c), which must give the same rows. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "spl/ast.h"
#include "spl/spl.h"

#define MAXM 32
#define MAXR 256

typedef struct gcase {
    char title[256];
    char *sec[9]; /* macros search records window output error prefilter explain lookups */
    bool has[9];
} gcase;

static const char *const secnames[] = {"macros", "search",    "records", "window", "output",
                                       "error",  "prefilter", "explain", "lookups"};

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        fclose(f);
        return NULL;
    }
    b[n] = 0;
    fclose(f);
    return b;
}

static void json_str(esc_buf *b, const char *s) {
    esc_buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            esc_buf_putc(b, '\\');
            esc_buf_putc(b, (char)c);
        } else if (c == '\n')
            esc_buf_append_c(b, "\\n");
        else if (c == '\t')
            esc_buf_append_c(b, "\\t");
        else if (c < 0x20)
            esc_buf_printf(b, "\\u%04x", c);
        else
            esc_buf_putc(b, (char)c);
    }
    esc_buf_putc(b, '"');
}

static void render(const esc_table *t, esc_buf *b) {
    for (size_t r = 0; r < t->nrows; r++) {
        esc_buf_putc(b, '{');
        bool first = true;
        for (size_t c = 0; c < t->ncols; c++) {
            const esc_cell *cell = esc_table_cell(t, r, c);
            if (cell->n == 0)
                continue;
            if (!first)
                esc_buf_append_c(b, ", ");
            first = false;
            json_str(b, t->cols[c]);
            esc_buf_append_c(b, ": ");
            if (t->mv_col[c] || cell->n > 1) {
                esc_buf_putc(b, '[');
                for (size_t i = 0; i < cell->n; i++) {
                    if (i)
                        esc_buf_append_c(b, ", ");
                    json_str(b, cell->v[i]);
                }
                esc_buf_putc(b, ']');
            } else if (cell->is_num) {
                esc_buf_append_c(b, cell->v[0]);
            } else {
                json_str(b, cell->v[0]);
            }
        }
        esc_buf_append_c(b, "}\n");
    }
}

/* Replace {TAB} and {NL} in place. */
static void unescape_value(char *s) {
    char *o = s;
    while (*s) {
        if (strncmp(s, "{TAB}", 5) == 0) {
            *o++ = '\t';
            s += 5;
        } else if (strncmp(s, "{NL}", 4) == 0) {
            *o++ = '\n';
            s += 4;
        } else
            *o++ = *s++;
    }
    *o = 0;
}

static esc_arena g_arena;
static esc_fields g_fs;

static bool parse_record(char *line, esc_record *r, int ds, const char *ctx) {
    memset(r, 0, sizeof *r);
    r->ds = (esc_dataset)ds;
    if (strncmp(line, "#ds=", 4) == 0) {
        r->ds = (esc_dataset)atoi(line + 4);
        line = strchr(line, '\t') ? strchr(line, '\t') + 1 : line + strlen(line);
    }
    if (r->ds != ESC_DS_PROCESSES) {
        esc_arena_reset(&g_arena);
        memset(&g_fs, 0, sizeof g_fs);
        r->fs = &g_fs;
    }
    char *save = NULL;
    for (char *tok = strtok_r(line, "\t", &save); tok; tok = strtok_r(NULL, "\t", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            print_error("%s: bad record field '%s'\n", ctx, tok);
            return false;
        }
        *eq = 0;
        char *v = eq + 1;
        unescape_value(v);
        if (strcmp(tok, "_time") == 0) {
            if (!esc_time_parse_iso(esc_str_c(v), &r->time_us)) {
                print_error("%s: bad _time '%s'\n", ctx, v);
                return false;
            }
            g_fs.time_us = r->time_us;
            continue;
        }
        if (r->ds != ESC_DS_PROCESSES) {
            if (strcmp(tok, "_raw") == 0)
                g_fs.raw = esc_str_c(v);
            else
                esc_fields_add(&g_fs, &g_arena, esc_str_c(tok), esc_str_c(v), false);
            continue;
        }
        int id = -1;
        for (int i = 0; i < ESC_CIM_NFIELDS; i++)
            if (strcmp(spl_cim_name(i), tok) == 0)
                id = i;
        if (id < 0) {
            print_error("%s: unknown CIM field '%s'\n", ctx, tok);
            return false;
        }
        r->v[id] = esc_str_c(v);
    }
    return true;
}

static char *trim_nl(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = 0;
    return s;
}

/* The case's records fed to a new execution of p, and its table (or its error) rendered into
 * got. With spill, the execution's groups and kept rows go to a spill file after every record
 * (esc_exec_spill): the output must not change. */
static int run_records(const esc_plan *p, const gcase *c, int64_t e0, int64_t e1, bool spill,
                       const char *ctx, esc_buf *got) {
    esc_error err = {0};
    esc_exec *x = esc_exec_new(p, e0, e1, &err);
    assert_non_null(x);
    char *text = esc_strdup(c->has[2] ? c->sec[2] : ""), *save = NULL;
    assert_non_null(text);
    int failed = 0;
    esc_status rc = ESC_OK;
    for (char *line = strtok_r(text, "\n", &save); line && rc == ESC_OK;
         line = strtok_r(NULL, "\n", &save)) {
        esc_record r;
        if (!parse_record(line, &r, p->ds, ctx)) {
            failed = 1;
            break;
        }
        rc = esc_exec_feed(x, &r, &err);
        if (rc == ESC_OK && spill)
            rc = esc_exec_spill(x, 0, &err);
    }
    esc_table *t = NULL;
    if (rc == ESC_OK)
        rc = esc_exec_finish(x, &t, &err);
    if (rc != ESC_OK)
        esc_buf_printf(got, "error: %s\n", err.msg);
    else
        render(t, got);
    esc_table_free(t);
    esc_exec_free(x);
    esc_free(text);
    return failed;
}

static int run_case(const char *file, gcase *c) {
    char ctx[600];
    snprintf(ctx, sizeof ctx, "%s: %s", file, c->title);
    int failed = 0;
    /* macros */
    esc_macro ms[MAXM];
    char *argv_store[MAXM][8];
    size_t nm = 0;
    if (c->has[0]) {
        char *save = NULL;
        for (char *line = strtok_r(c->sec[0], "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            char *p1 = strchr(line, '|');
            char *p2 = p1 ? strchr(p1 + 1, '|') : NULL;
            if (!p2 || nm == MAXM) {
                print_error("%s: bad macro line '%s'\n", ctx, line);
                return 1;
            }
            *p1 = 0;
            *p2 = 0;
            esc_macro *m = &ms[nm];
            memset(m, 0, sizeof *m);
            m->name = line;
            m->definition = p2 + 1;
            size_t na = 0;
            char *s2 = NULL;
            for (char *a = strtok_r(p1 + 1, ",", &s2); a && na < 8; a = strtok_r(NULL, ",", &s2))
                argv_store[nm][na++] = a;
            m->nargs = na;
            m->args = (const char *const *)argv_store[nm];
            nm++;
        }
    }
    esc_macro_set set = {.items = ms, .n = nm};
    esc_spl_lookup lks[8];
    char lkpath[8][1024];
    size_t nl = 0;
    if (c->has[8]) {
        char *save = NULL;
        for (char *line = strtok_r(c->sec[8], "\n", &save); line && nl < 8;
             line = strtok_r(NULL, "\n", &save)) {
            char *f[7] = {0};
            size_t k = 0;
            for (char *q = line; k < 7; k++) {
                f[k] = q;
                char *bar = strchr(q, '|');
                if (!bar)
                    break;
                *bar = 0;
                q = bar + 1;
            }
            if (k < 6) {
                print_error("%s: bad lookup line\n", ctx);
                return 1;
            }
            memset(&lks[nl], 0, sizeof lks[nl]);
            lks[nl].name = f[0];
            snprintf(lkpath[nl], sizeof lkpath[nl], "%s/tests/spl/%s", ESC_SOURCE_DIR, f[1]);
            lks[nl].csv_path = *f[1] ? lkpath[nl] : NULL;
            lks[nl].case_sensitive = f[2][0] == '1';
            lks[nl].match_type = *f[3] ? f[3] : NULL;
            lks[nl].default_match = *f[4] ? f[4] : NULL;
            lks[nl].min_matches = (size_t)atoi(f[5]);
            lks[nl].max_matches = (size_t)atoi(f[6]);
            nl++;
        }
    }
    esc_spl_env env = {&set, lks, nl};
    const char *search = c->has[1] ? trim_nl(c->sec[1]) : "";
    esc_error err;
    memset(&err, 0, sizeof err);
    char *etext = NULL;
    esc_plan *p = esc_plan_new_env(search, &env, &etext, &err);
    esc_buf got;
    esc_buf_init(&got, 0);
    if (!p) {
        esc_buf_printf(&got, "%s\n", err.msg);
        esc_spl_caret(etext, &err, &got);
        esc_free(etext);
        if (!c->has[5]) {
            print_error("%s: unexpected error:\n%s", ctx, got.ptr);
            failed = 1;
        } else if (strcmp(trim_nl(got.ptr), trim_nl(c->sec[5])) != 0) {
            print_error("%s: error differs\n--- expected\n%s\n--- got\n%s\n", ctx, c->sec[5],
                        got.ptr);
            failed = 1;
        }
        esc_buf_fini(&got);
        return failed;
    }
    if (c->has[5]) {
        print_error("%s: expected an error, the search planned\n", ctx);
        failed = 1;
    }
    if (c->has[6]) {
        esc_interest in;
        memset(&in, 0, sizeof in);
        esc_plan_interest(p, &in);
        esc_buf pf;
        esc_buf_init(&pf, 0);
        if (!in.nclauses)
            esc_buf_append_c(&pf, "none\n");
        for (size_t k = 0; k < in.nclauses; k++) {
            for (size_t j = 0; j < in.clause[k].nlit; j++)
                esc_buf_printf(&pf, "%s%s", j ? " " : "", in.clause[k].lit[j]);
            esc_buf_putc(&pf, '\n');
        }
        if (strcmp(trim_nl(pf.ptr), trim_nl(c->sec[6])) != 0) {
            print_error("%s: prefilter differs\n--- expected\n%s\n--- got\n%s\n", ctx, c->sec[6],
                        pf.ptr);
            failed = 1;
        }
        esc_buf_fini(&pf);
    }
    if (c->has[7]) {
        esc_buf ex;
        esc_buf_init(&ex, 0);
        esc_plan_explain(p, &ex);
        if (!strstr(ex.ptr, trim_nl(c->sec[7]))) {
            print_error("%s: explain lacks\n%s\n--- got\n%s\n", ctx, c->sec[7], ex.ptr);
            failed = 1;
        }
        esc_buf_fini(&ex);
    }
    int64_t e0 = 0, e1 = ESC_TIME_MAX;
    if (c->has[3]) {
        long long a, b;
        if (sscanf(c->sec[3], "%lld %lld", &a, &b) == 2) {
            e0 = a * ESC_US_PER_SEC;
            e1 = b * ESC_US_PER_SEC;
        }
    }
    for (int spill = 0; c->has[4] && spill < 2; spill++) {
        esc_buf_clear(&got);
        failed |= run_records(p, c, e0, e1, spill, ctx, &got);
        const char *g = got.ptr ? trim_nl(got.ptr) : "";
        if (strcmp(g, trim_nl(c->sec[4])) != 0) {
            print_error("%s%s: output differs\n--- expected\n%s\n--- got\n%s\n", ctx,
                        spill ? " (spilled after every record)" : "", c->sec[4], g);
            failed = 1;
        }
    }
    esc_buf_fini(&got);
    esc_plan_free(p);
    return failed;
}

static int run_file(const char *path, int *ncases) {
    char *text = slurp(path);
    if (!text) {
        print_error("cannot read %s\n", path);
        return 1;
    }
    int failed = 0;
    gcase c;
    memset(&c, 0, sizeof c);
    bool open = false;
    int cur = -1;
    char *line = text;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        char *next = nl ? nl + 1 : NULL;
        if (strncmp(line, "### ", 4) == 0) {
            if (nl)
                *nl = 0;
            char title[256];
            snprintf(title, sizeof title, "%s", line + 4);
            line[0] = 0; /* ends the previous case's last section */
            if (open) {
                failed += run_case(path, &c);
                (*ncases)++;
            }
            memset(&c, 0, sizeof c);
            snprintf(c.title, sizeof c.title, "%s", title);
            open = true;
            cur = -1;
        } else if (strncmp(line, "--- ", 4) == 0) {
            if (nl)
                *nl = 0;
            cur = -1;
            for (int k = 0; k < 9; k++)
                if (strcmp(line + 4, secnames[k]) == 0)
                    cur = k;
            if (cur < 0) {
                print_error("%s: unknown section '%s'\n", path, line + 4);
                failed++;
            } else {
                c.has[cur] = true;
                c.sec[cur] = next ? next : line + strlen(line);
            }
            /* terminate the previous section: the '-' of this header line */
            line[0] = 0;
        } else if (nl && cur < 0) {
            /* text outside sections is a comment */
        }
        line = next;
    }
    if (open) {
        /* sections end where the next header begins: those bytes are already NUL */
        failed += run_case(path, &c);
        (*ncases)++;
    }
    free(text);
    return failed;
}

static int cmpstr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_golden(void **state) {
    (void)state;
    esc_arena_init(&g_arena, 4096, 1u << 20);
    const char *dir = ESC_SOURCE_DIR "/tests/spl";
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[512];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 512) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".test") == 0)
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmpstr);
    int failed = 0, ncases = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        failed += run_file(path, &ncases);
        free(names[i]);
    }
    esc_arena_fini(&g_arena);
    print_message("%d golden cases in %zu files, %d failed\n", ncases, n, failed);
    assert_true(n > 0);
    assert_int_equal(failed, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
