/* regex FIELD[!]="PCRE" (keep the rows whose field matches, or does not) and rex field=FIELD
 * "PCRE with (?<name>...)" (named groups become columns).
 *
 * Invariants: patterns are PCRE2 (UTF), compiled once at plan time, matched under the
 * ESC_SPL_RE_* limits (a match stopped by a limit counts as no match, regex.c); regex keeps a
 * row when any value of a multivalue cell matches, and drops a row without the field unless
 * negated; rex reads the first value, takes the first match, and adds its groups' columns in
 * the order the groups appear in the pattern, leaving a column as it is when its group did not
 * take part. Deliberately not done: regex and rex on _raw (rows have none), rex mode=sed and
 * max_match other than 1. */
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"

static bool set_pattern(spl_parser *P, stage *st, const char *v) {
    st->names = spl_alloc0(P, sizeof *st->names);
    if (!st->names)
        return false;
    st->names[0] = v;
    st->nnames = 1;
    return true;
}

/* regex FIELD="PCRE" | regex FIELD!="PCRE". The string has the usual escapes (\\ and \"). */
static bool parse_regex(spl_parser *P, stage *st) {
    spl_skip_ws(P);
    size_t start = P->pos;
    if (spl_peek(P) == '"') {
        spl_fail(P, start, "regex without a field matches _raw, which tstats rows do not have");
        return false;
    }
    size_t fl = spl_bare(P, "!=");
    if (fl == 0 || (spl_peek(P) != '=' && spl_peek(P) != '!')) {
        spl_fail(P, start, "expected FIELD=\"REGEX\"");
        return false;
    }
    st->regex_field = spl_dup(P, P->s + start, fl);
    if (spl_peek(P) == '!') {
        if (P->pos + 1 >= P->end || P->s[P->pos + 1] != '=') {
            spl_fail(P, P->pos, "expected != or =");
            return false;
        }
        st->regex_neg = true;
        P->pos++;
    }
    P->pos++;
    size_t vl, vs;
    const char *v = spl_word(P, "", &vl, &vs);
    if (!v) {
        if (!P->failed)
            spl_fail(P, P->pos, "expected a regular expression");
        return false;
    }
    if (!set_pattern(P, st, v))
        return false;
    return spl_expect_end(P, "regex");
}

/* rex [field=F] [max_match=1] "PCRE with (?<name>...) groups" */
static bool parse_rex(spl_parser *P, stage *st) {
    st->regex_field = "_raw";
    const char *pat = NULL;
    while (!spl_at_end(P)) {
        size_t start = P->pos;
        if (spl_peek(P) == '"') {
            size_t vl;
            pat = spl_quoted(P, &vl);
            if (!pat)
                return false;
            continue;
        }
        size_t wl = spl_bare(P, "=");
        if (spl_peek(P) != '=') {
            spl_fail(P, start, "expected option=value or a quoted regular expression");
            return false;
        }
        const char *w = P->s + start;
        P->pos++;
        size_t vl, vs;
        const char *v = spl_word(P, "", &vl, &vs);
        if (!v) {
            if (!P->failed)
                spl_fail(P, start, "missing value for option '%.*s'", (int)wl, w);
            return false;
        }
        if (wl == 5 && strncmp(w, "field", 5) == 0)
            st->regex_field = v;
        else if (wl == 9 && strncmp(w, "max_match", 9) == 0 && strcmp(v, "1") == 0)
            ;
        else {
            spl_fail(P, start, "unsupported rex option '%.*s=%s'", (int)wl, w, v);
            return false;
        }
    }
    if (!pat) {
        spl_fail(P, st->start, "rex needs a quoted regular expression");
        return false;
    }
    if (strcmp(st->regex_field, "_raw") == 0) {
        spl_fail(P, st->start, "rex without field= reads _raw, which tstats rows do not have");
        return false;
    }
    return set_pattern(P, st, pat);
}

static esc_status plan_regex(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    int code;
    size_t off;
    pcre2_code *re = spl_re_compile(st->names[0], PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off);
    if (!re) {
        if (code == PCRE2_ERROR_HEAP_FAILED)
            return spl_plan_oom(err);
        char msg[200];
        pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof msg);
        return esc_error_at(err, ESC_ECONTENT, NULL, st->start, "bad regular expression: %s", msg);
    }
    st->re = re;
    st->cols = esc_arena_alloc(&p->arena, sizeof *st->cols);
    if (!st->cols || !spl_schema_copy(p, &st->out, in, 0))
        return spl_plan_oom(err);
    st->cols[0] = spl_schema_find(in, st->regex_field);
    return ESC_OK;
}

static esc_status plan_rex(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    esc_status rc = plan_regex(p, st, in, err);
    if (rc != ESC_OK)
        return rc;
    uint32_t count = 0, size = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(st->re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(st->re, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(st->re, PCRE2_INFO_NAMETABLE, &table);
    if (count == 0)
        return esc_error_at(err, ESC_ECONTENT, NULL, st->start,
                            "rex needs a named group (?<name>...)");
    st->cols2 = esc_arena_alloc(&p->arena, count * sizeof *st->cols2);
    st->map = esc_arena_alloc(&p->arena, count * sizeof *st->map);
    if (!st->cols2 || !st->map || !spl_schema_copy(p, &st->out, in, count))
        return spl_plan_oom(err);
    /* columns in the order the groups appear in the pattern (the name table is sorted by
     * name) */
    uint32_t *ord = esc_arena_alloc(&p->arena, count * sizeof *ord);
    if (!ord)
        return spl_plan_oom(err);
    for (uint32_t k = 0; k < count; k++) {
        uint32_t j = k;
        while (j > 0 &&
               ((table[(size_t)ord[j - 1] * size] << 8) | table[(size_t)ord[j - 1] * size + 1]) >
                   ((table[(size_t)k * size] << 8) | table[(size_t)k * size + 1])) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = k;
    }
    for (uint32_t k = 0; k < count; k++) {
        PCRE2_SPTR e = table + (size_t)ord[k] * size;
        const char *name = esc_arena_strdup(&p->arena, (const char *)e + 2);
        if (!name)
            return spl_plan_oom(err);
        int c = spl_schema_add(&st->out, name);
        st->out.origin[c] = -1;
        st->out.mv[c] = false;
        st->cols2[k] = c;
        st->map[k] = (e[0] << 8) | e[1];
    }
    st->nmap = count;
    return ESC_OK;
}

static esc_status run_regex(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    bool *keep = esc_malloc(t->nrows ? t->nrows : 1);
    if (!keep)
        return spl_exec_oom(err);
    for (size_t r = 0; r < t->nrows; r++) {
        const esc_cell *row = &t->cells[r * t->ncols];
        bool m = false;
        int c = st->cols[0];
        if (c >= 0) {
            pcre2_match_data *md = spl_re_data(st->re);
            int rc = 0;
            for (size_t i = 0; md && i < row[c].n && !m && rc != PCRE2_ERROR_NOMEMORY; i++)
                m = (rc = spl_re_match(st->re, row[c].v[i], strlen(row[c].v[i]), md)) >= 0;
            pcre2_match_data_free(md);
            if (!md || rc == PCRE2_ERROR_NOMEMORY) {
                esc_free(keep);
                return spl_exec_oom(err);
            }
        }
        keep[r] = st->regex_neg ? !m : m;
    }
    spl_table_filter(t, keep);
    esc_free(keep);
    return ESC_OK;
}

static esc_status run_rex(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    esc_status rc = spl_table_widen(t, &st->out, err);
    if (rc != ESC_OK)
        return rc;
    int src = st->cols[0];
    if (src < 0)
        return ESC_OK;
    pcre2_match_data *md = spl_re_data(st->re);
    if (!md)
        return spl_exec_oom(err);
    for (size_t r = 0; r < t->nrows; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        if (!row[src].n)
            continue;
        const char *s = row[src].v[0];
        int m = spl_re_match(st->re, s, strlen(s), md);
        if (m == PCRE2_ERROR_NOMEMORY) {
            pcre2_match_data_free(md);
            return spl_exec_oom(err);
        }
        if (m < 0)
            continue;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        uint32_t npairs = pcre2_get_ovector_count(md);
        for (size_t k = 0; k < st->nmap; k++) {
            uint32_t gno = (uint32_t)st->map[k];
            if (gno >= npairs || ov[2 * gno] == PCRE2_UNSET)
                continue;
            esc_str v = esc_str_make(s + ov[2 * gno], ov[2 * gno + 1] - ov[2 * gno]);
            if (!spl_cell_set(&row[st->cols2[k]], &v, 1)) {
                pcre2_match_data_free(md);
                return spl_exec_oom(err);
            }
        }
    }
    pcre2_match_data_free(md);
    return ESC_OK;
}

static void free_regex(stage *st) {
    if (st->re)
        pcre2_code_free(st->re);
}

const spl_cmd spl_cmd_regex = {
    .name = "regex",
    .parse = parse_regex,
    .plan = plan_regex,
    .run = run_regex,
    .free = free_regex,
};

const spl_cmd spl_cmd_rex = {
    .name = "rex",
    .parse = parse_rex,
    .plan = plan_rex,
    .run = run_rex,
    .free = free_regex,
};
