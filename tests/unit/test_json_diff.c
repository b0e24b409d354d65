/* Differential test of the JSON tokenizer and string decoder against Python's json module.
 *
 * Every *.json file under the shared data is tokenized here with every container recorded,
 * each string decoded, and every value written out as [path, type, text] in one JSON line
 * per record; tests/json/json_diff.py parses the same files with Python's json module and
 * compares. Numbers are compared as their literal text on both sides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "parse/json/json.h"

static bool want_all(const esc_json_doc *d, const esc_json_tok *t) {
    (void)d;
    (void)t;
    return true;
}

static void put_json_str(esc_buf *b, esc_str s) {
    esc_buf_putc(b, '"');
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\')
            esc_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            esc_buf_printf(b, "\\u%04x", c);
        else
            esc_buf_putc(b, (char)c);
    }
    esc_buf_putc(b, '"');
}

/* [path components], type letter, text */
static void put_path(esc_buf *b, const esc_json_doc *d, size_t i, const size_t *index,
                     esc_buf *scratch, esc_arena *a) {
    const esc_json_tok *t = &d->tok[i];
    if (t->parent >= 0) {
        put_path(b, d, (size_t)t->parent, index, scratch, a);
        esc_buf_putc(b, ',');
    }
    if (t->key.ptr) {
        esc_str k;
        unsigned rep = 0;
        assert_int_equal(esc_json_decode(t->key.ptr, t->key.len, false, scratch, a, &k, &rep),
                         ESC_OK);
        put_json_str(b, k);
    } else {
        esc_buf_printf(b, "%zu", index[i]);
    }
}

static void dump_file(const char *path, esc_buf *out, size_t *records) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    esc_buf text;
    esc_buf_init(&text, 0);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        esc_buf_append(&text, tmp, n);
    fclose(f);
    esc_buf_printf(out, "F\t%s\n", path);
    esc_json_doc d;
    esc_json_doc_init(&d);
    d.want = want_all;
    esc_arena a;
    esc_arena_init(&a, 0, 0);
    esc_buf scratch;
    esc_buf_init(&scratch, 0);
    const char *p = text.ptr ? text.ptr : "", *e = p + text.len;
    if (e - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    for (;;) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        if (p >= e)
            break;
        const char *end;
        esc_arena_reset(&a);
        esc_status st = esc_json_tokenize(&d, p, e, &end, &a);
        if (st)
            fail_msg("%s: %s at byte %ld", path, d.what, (long)(d.at - text.ptr));
        size_t *index = calloc(d.ntok + 1, sizeof *index);
        size_t *count = calloc(d.ntok + 1, sizeof *count);
        size_t top = 0;
        for (size_t i = 0; i < d.ntok; i++) {
            int32_t par = d.tok[i].parent;
            index[i] = par >= 0 ? count[par]++ : top++;
        }
        esc_buf_putc(out, '[');
        for (size_t i = 0; i < d.ntok; i++) {
            const esc_json_tok *t = &d.tok[i];
            if (i)
                esc_buf_putc(out, ',');
            esc_buf_append_c(out, "[[");
            put_path(out, &d, i, index, &scratch, &a);
            esc_buf_append_c(out, "],");
            esc_str v = esc_str_make(t->raw, t->rawlen);
            unsigned rep = 0;
            switch (t->type) {
            case ESC_JT_STR:
                assert_int_equal(esc_json_decode(t->raw, t->rawlen, t->esc, &scratch, &a, &v, &rep),
                                 ESC_OK);
                esc_buf_append_c(out, "\"s\",");
                break;
            /* clang-format off */
            case ESC_JT_NUM: esc_buf_append_c(out, "\"n\","); break;
            case ESC_JT_TRUE: esc_buf_append_c(out, "\"t\","); break;
            case ESC_JT_FALSE: esc_buf_append_c(out, "\"f\","); break;
            case ESC_JT_NULL: esc_buf_append_c(out, "\"z\","); break;
            case ESC_JT_OBJ: esc_buf_append_c(out, "\"o\","); v = ESC_STR(""); break;
            case ESC_JT_ARR: esc_buf_append_c(out, "\"a\","); v = ESC_STR(""); break;
            }
            /* clang-format on */
            put_json_str(out, v);
            esc_buf_putc(out, ']');
        }
        esc_buf_append_c(out, "]\n");
        free(index);
        free(count);
        (*records)++;
        p = end;
    }
    esc_buf_fini(&scratch);
    esc_arena_fini(&a);
    esc_json_doc_fini(&d);
    esc_buf_fini(&text);
}

static void walk(const char *dir, esc_buf *out, size_t *files, size_t *records) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, nm);
        struct stat sb;
        if (nm[0] != '.' && stat(path, &sb) == 0) {
            size_t l = strlen(nm);
            if (S_ISDIR(sb.st_mode))
                walk(path, out, files, records);
            else if (l > 5 && strcmp(nm + l - 5, ".json") == 0) {
                dump_file(path, out, records);
                (*files)++;
            }
        }
        free(names[i]);
    }
    free(names);
}

static void test_differential(void **state) {
    (void)state;
    esc_buf out;
    esc_buf_init(&out, 0);
    size_t files = 0, records = 0;
    walk(ESC_SHARED_DATA, &out, &files, &records);
    /* 19 OTRF files, 3 crafted, 130 sigma-regression cases */
    assert_true(files >= 152);
    assert_true(records >= 17201 + 139);
    char path[] = "/tmp/esc_json_diff_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(out.ptr, 1, out.len, f), out.len);
    fclose(f);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "python3 %s/tests/json/json_diff.py %s", ESC_SOURCE_DIR, path);
    int rc = system(cmd);
    unlink(path);
    esc_buf_fini(&out);
    assert_int_equal(rc, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
