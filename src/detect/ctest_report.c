/* The results of `escudo test` and the report that owns them (ctest.h), and the report as JUnit
 * XML.
 *
 * A result is built in place (esc_ctest_result_begin, esc_ctest_reason) and then moved into the
 * report, which counts it by kind and outcome. JUnit: one <testsuite> per kind, one <testcase>
 * per result, a failure's reasons in its body, a skip's reason in its message.
 *
 * Invariants: the report owns every string of every result in it; at most ESC_CTEST_MAX_REASONS
 * reasons are kept per result (more are counted) and at most the report's maximum results;
 * JUnit text is XML-escaped, and bytes XML 1.0 forbids become U+FFFD.
 * Deliberately not done: printing or writing files (the caller writes the buffer), the
 * text and JSON reports of `escudo test` (src/cli/cmd_test.c builds them from the results). */
#include "detect/ctest_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"

/* ---- results and the report ---------------------------------------------------------------- */

void esc_ctest_report_init(esc_ctest_report *rep) {
    memset(rep, 0, sizeof *rep);
}

void esc_ctest_result_fini(esc_ctest_result *r) {
    esc_free(r->detection);
    esc_free(r->id);
    esc_free(r->path);
    esc_free(r->test_name);
    for (size_t i = 0; i < r->nreasons; i++)
        esc_free(r->reasons[i]);
    esc_free(r->reasons);
    memset(r, 0, sizeof *r);
}

void esc_ctest_report_fini(esc_ctest_report *rep) {
    if (!rep)
        return;
    for (size_t i = 0; i < rep->n; i++)
        esc_ctest_result_fini(&rep->r[i]);
    esc_free(rep->r);
    memset(rep, 0, sizeof *rep);
}

esc_status esc_ctest_result_begin(esc_ctest_result *r, const char *detection, const char *id,
                                  const char *path, esc_ctest_kind kind, const char *test_name,
                                  esc_error *err) {
    bool oom = false;
    memset(r, 0, sizeof *r);
    r->detection = dup_or_null(detection ? detection : "?", &oom);
    r->id = dup_or_null(id, &oom);
    r->path = dup_or_null(path, &oom);
    r->test_name = dup_or_null(test_name, &oom);
    r->kind = kind;
    r->outcome = ESC_CTEST_PASS;
    if (oom) {
        esc_ctest_result_fini(r);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    return ESC_OK;
}

esc_status esc_ctest_reason(esc_ctest_result *r, esc_error *err, const char *fmt, ...) {
    if (r->nreasons == ESC_CTEST_MAX_REASONS) {
        r->more_reasons++;
        return ESC_OK;
    }
    char buf[CTEST_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!r->reasons && !(r->reasons = esc_calloc(ESC_CTEST_MAX_REASONS, sizeof *r->reasons)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (!(r->reasons[r->nreasons] = esc_strdup(buf)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->nreasons++;
    return ESC_OK;
}

esc_status esc_ctest_report_add(esc_ctest_report *rep, esc_ctest_result *r, esc_error *err) {
    size_t max = rep->max ? rep->max : ESC_CTEST_MAX_RESULTS;
    if (rep->n >= max) {
        esc_ctest_result_fini(r);
        return esc_error_set(err, ESC_ELIMIT, "more than %zu test results", max);
    }
    if (rep->n == rep->cap && !ESC_VEC_GROW(rep->r, rep->cap, rep->n + 1, 64)) {
        esc_ctest_result_fini(r);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    if (r->outcome == ESC_CTEST_PASS && r->nreasons)
        r->outcome = ESC_CTEST_FAIL;
    rep->r[rep->n++] = *r;
    rep->count[r->kind][r->outcome]++;
    memset(r, 0, sizeof *r);
    return ESC_OK;
}

const char *esc_ctest_kind_name(esc_ctest_kind k) {
    switch (k) {
    case ESC_CTEST_STATIC:
        return "static";
    case ESC_CTEST_UNIT:
        return "unit";
    case ESC_CTEST_INTEGRATION:
        return "integration";
    }
    return "?";
}

const char *esc_ctest_outcome_name(esc_ctest_outcome o) {
    switch (o) {
    case ESC_CTEST_PASS:
        return "pass";
    case ESC_CTEST_FAIL:
        return "fail";
    case ESC_CTEST_SKIP:
        return "skip";
    }
    return "?";
}

/* ---- JUnit XML ---------------------------------------------------------------------------- */

/* XML-escaped text; bytes XML 1.0 forbids (controls other than tab, LF, CR) become U+FFFD. */
static esc_status xml_text(esc_buf *b, const char *s) {
    esc_status st = ESC_OK;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && st == ESC_OK; p++) {
        switch (*p) {
        case '&':
            st = esc_buf_append_c(b, "&amp;");
            break;
        case '<':
            st = esc_buf_append_c(b, "&lt;");
            break;
        case '>':
            st = esc_buf_append_c(b, "&gt;");
            break;
        case '"':
            st = esc_buf_append_c(b, "&quot;");
            break;
        case '\'':
            st = esc_buf_append_c(b, "&apos;");
            break;
        default:
            if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
                st = esc_buf_append_c(b, "\xEF\xBF\xBD");
            else
                st = esc_buf_putc(b, (char)*p);
        }
    }
    return st;
}

static esc_status junit_case(esc_buf *b, const esc_ctest_result *r) {
    esc_status st = esc_buf_printf(b, "    <testcase classname=\"escudo.%s\" name=\"",
                                   esc_ctest_kind_name(r->kind));
    if (st == ESC_OK)
        st = xml_text(b, r->detection);
    if (st == ESC_OK && r->test_name) {
        st = esc_buf_append_c(b, ": ");
        if (st == ESC_OK)
            st = xml_text(b, r->test_name);
    }
    if (st == ESC_OK && r->path) {
        st = esc_buf_append_c(b, "\" file=\"");
        if (st == ESC_OK)
            st = xml_text(b, r->path);
    }
    if (st == ESC_OK)
        st = esc_buf_printf(b, "\" time=\"%.3f\"", r->seconds);
    if (st != ESC_OK)
        return st;
    if (r->outcome == ESC_CTEST_PASS)
        return esc_buf_append_c(b, "/>\n");
    bool fail = r->outcome == ESC_CTEST_FAIL;
    st = esc_buf_printf(b, ">\n      <%s message=\"", fail ? "failure" : "skipped");
    if (st == ESC_OK)
        st = xml_text(b, r->nreasons ? r->reasons[0] : "");
    if (st == ESC_OK && !fail)
        return esc_buf_append_c(b, "\"/>\n    </testcase>\n");
    if (st == ESC_OK)
        st = esc_buf_append_c(b, "\" type=\"failure\">");
    for (size_t i = 0; i < r->nreasons && st == ESC_OK; i++) {
        if (i)
            st = esc_buf_putc(b, '\n');
        if (st == ESC_OK)
            st = xml_text(b, r->reasons[i]);
    }
    if (st == ESC_OK && r->more_reasons)
        st = esc_buf_printf(b, "\n(%zu more)", r->more_reasons);
    if (st == ESC_OK)
        st = esc_buf_append_c(b, "</failure>\n    </testcase>\n");
    return st;
}

esc_status esc_ctest_junit(const esc_ctest_report *rep, esc_buf *out) {
    size_t tot[3] = {0, 0, 0};
    double secs = 0;
    for (int k = 0; k < 3; k++)
        for (int o = 0; o < 3; o++)
            tot[o] += rep->count[k][o];
    for (size_t i = 0; i < rep->n; i++)
        secs += rep->r[i].seconds;
    esc_status st = esc_buf_printf(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<testsuites name=\"escudo test\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" "
        "errors=\"0\" time=\"%.3f\">\n",
        tot[0] + tot[1] + tot[2], tot[ESC_CTEST_FAIL], tot[ESC_CTEST_SKIP], secs);
    for (int k = 0; k < 3 && st == ESC_OK; k++) {
        const size_t *cnt = rep->count[k];
        double ks = 0;
        for (size_t i = 0; i < rep->n; i++)
            if (rep->r[i].kind == (esc_ctest_kind)k)
                ks += rep->r[i].seconds;
        st = esc_buf_printf(out,
                            "  <testsuite name=\"%s\" tests=\"%zu\" failures=\"%zu\" "
                            "skipped=\"%zu\" errors=\"0\" time=\"%.3f\">\n",
                            esc_ctest_kind_name((esc_ctest_kind)k), cnt[0] + cnt[1] + cnt[2],
                            cnt[ESC_CTEST_FAIL], cnt[ESC_CTEST_SKIP], ks);
        for (size_t i = 0; i < rep->n && st == ESC_OK; i++)
            if (rep->r[i].kind == (esc_ctest_kind)k)
                st = junit_case(out, &rep->r[i]);
        if (st == ESC_OK)
            st = esc_buf_append_c(out, "  </testsuite>\n");
    }
    if (st == ESC_OK)
        st = esc_buf_append_c(out, "</testsuites>\n");
    return st;
}
