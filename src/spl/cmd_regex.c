/* regex FIELD[!]="PCRE" (keep the rows whose field matches, or does not) and rex field=FIELD
 * "PCRE with (?<name>...)" (named groups become columns).
 *
 * Invariants: patterns are PCRE2 (UTF), compiled once at plan time, matched under the
 * ESC_SPL_RE_* limits (a match stopped by a limit counts as no match, regex.c); regex keeps a
 * row when any value of a multivalue cell matches, and drops a row without the field unless
 * negated; rex reads the first value, takes the first match, and adds its groups' columns in
 * the order the groups appear in the pattern, leaving a column as it is when its group did not
 * take part; with max_match=N (0: no limit but ESC_SPL_MAX_MV) the groups of the first N
 * matches become multivalues; mode=sed "s/RE/REP/[g|N]" rewrites every value of the field
 * (\N in REP: group N; no flag: the first match; g: all; N: the Nth). Splunk's reference:
 * Search Reference, "rex". Deliberately not done: regex and rex on _raw (rows have none), sed's
 * y/// transliteration, offset_field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
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
    spl_skip_ws(P); /* "regex file_name = ..." as ESCU writes it */
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
    spl_skip_ws(P);
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

/* mode=sed's "s/REGEX/REPLACEMENT/FLAGS" (flags: g, or N for the Nth match; none: the
 * first) into the stage: names[0] the regex, sed_rep, sed_nth. */
static bool parse_sed(spl_parser *P, stage *st, const char *expr) {
    size_t n = strlen(expr);
    if (n < 4 || expr[0] != 's' || expr[1] != '/') {
        spl_fail(P, st->start, "rex mode=sed needs \"s/REGEX/REPLACEMENT/FLAGS\"");
        return false;
    }
    const char *part[3] = {NULL, NULL, NULL};
    size_t plen[3] = {0, 0, 0}, k = 0, from = 2;
    for (size_t i = 2; i <= n && k < 3; i++) {
        if (i < n && expr[i] == '\\' && i + 1 < n) {
            i++;
            continue;
        }
        if (i == n || (expr[i] == '/' && k < 2)) {
            part[k] = expr + from;
            plen[k++] = i - from;
            from = i + 1;
        }
    }
    if (k < 3) {
        spl_fail(P, st->start, "rex mode=sed needs \"s/REGEX/REPLACEMENT/FLAGS\"");
        return false;
    }
    char *end = NULL;
    if (plen[2] == 0)
        st->sed_nth = 1;
    else if (plen[2] == 1 && part[2][0] == 'g')
        st->sed_nth = 0;
    else if (part[2][0] >= '1' && part[2][0] <= '9' &&
             (st->sed_nth = strtoul(part[2], &end, 10)) > 0 && end == part[2] + plen[2])
        ;
    else {
        spl_fail(P, st->start, "unsupported rex mode=sed flags '%.*s' (g or a number)",
                 (int)plen[2], part[2]);
        return false;
    }
    /* the regex keeps its escapes but "\/" is a plain '/' */
    char *re = spl_alloc0(P, plen[0] + 1);
    if (!re)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < plen[0]; i++) {
        if (part[0][i] == '\\' && i + 1 < plen[0] && part[0][i + 1] == '/')
            i++;
        re[o++] = part[0][i];
    }
    st->sed_rep = spl_dup(P, part[1], plen[1]);
    return st->sed_rep && set_pattern(P, st, re);
}

/* rex [field=F] [max_match=N] [mode=sed] "PCRE with (?<name>...) groups" | "s/RE/REP/FLAGS" */
static bool parse_rex(spl_parser *P, stage *st) {
    st->regex_field = "_raw";
    st->max_match = 1;
    bool sed = false;
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
        char *end = NULL;
        if (wl == 5 && strncmp(w, "field", 5) == 0)
            st->regex_field = v;
        else if (wl == 9 && strncmp(w, "max_match", 9) == 0 && *v >= '0' && *v <= '9' &&
                 ((st->max_match = strtoul(v, &end, 10)), *end == 0))
            ;
        else if (wl == 4 && strncmp(w, "mode", 4) == 0 && strcmp(v, "sed") == 0)
            sed = true;
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
    return sed ? parse_sed(P, st, pat) : set_pattern(P, st, pat);
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
    if (st->sed_rep) { /* the field is rewritten in place */
        if (st->cols[0] >= 0)
            st->out.origin[st->cols[0]] = -1;
        return ESC_OK;
    }
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
        st->out.mv[c] = st->max_match != 1;
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

/* The next match of re in s[0..n) from *at; moves *at past it (one code point past an empty
 * match). */
static int next_match(const pcre2_code *re, const char *s, size_t n, size_t *at,
                      pcre2_match_data *md) {
    if (*at > n)
        return PCRE2_ERROR_NOMATCH;
    int m = spl_re_match_at(re, s, n, *at, md);
    if (m >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        *at = ov[1];
        if (ov[1] == ov[0]) {
            (*at)++;
            while (*at < n && ((unsigned char)s[*at] & 0xC0) == 0x80)
                (*at)++;
        }
    }
    return m;
}

/* rex with max_match != 1: each group's values over the matches, as a multivalue. */
static esc_status rex_many(const stage *st, pcre2_match_data *md, const char *s, esc_cell *row,
                           esc_error *err) {
    size_t n = strlen(s), at = 0, nm = 0, cap = 0;
    size_t limit = st->max_match && st->max_match < ESC_SPL_MAX_MV ? st->max_match : ESC_SPL_MAX_MV;
    size_t *off = NULL; /* per match, per group: start, end (SIZE_MAX: the group is unset) */
    esc_str *vals = NULL;
    int m = 0;
    while (nm < limit && (m = next_match(st->re, s, n, &at, md)) >= 0) {
        if (nm == cap) {
            cap = cap ? cap * 2 : 8;
            size_t *no = esc_realloc(off, cap * st->nmap * 2 * sizeof *off);
            if (!no)
                goto oom;
            off = no;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        uint32_t npairs = pcre2_get_ovector_count(md);
        for (size_t k = 0; k < st->nmap; k++) {
            uint32_t g = (uint32_t)st->map[k];
            bool set = g < npairs && ov[2 * g] != PCRE2_UNSET;
            off[(nm * st->nmap + k) * 2] = set ? ov[2 * g] : SIZE_MAX;
            off[(nm * st->nmap + k) * 2 + 1] = set ? ov[2 * g + 1] : SIZE_MAX;
        }
        nm++;
    }
    if (m == PCRE2_ERROR_NOMEMORY || (nm && !(vals = esc_malloc(nm * sizeof *vals))))
        goto oom;
    for (size_t k = 0; k < st->nmap && nm; k++) {
        size_t cnt = 0;
        for (size_t j = 0; j < nm; j++) {
            size_t b = off[(j * st->nmap + k) * 2], e = off[(j * st->nmap + k) * 2 + 1];
            if (b != SIZE_MAX)
                vals[cnt++] = esc_str_make(s + b, e - b);
        }
        if (cnt && !spl_cell_set(&row[st->cols2[k]], vals, cnt))
            goto oom;
    }
    esc_free(off);
    esc_free(vals);
    return ESC_OK;
oom:
    esc_free(off);
    esc_free(vals);
    return spl_exec_oom(err);
}

/* rex max_match=1: the first match's groups. */
static esc_status rex_one(const stage *st, pcre2_match_data *md, const char *s, esc_cell *row,
                          esc_error *err) {
    int m = spl_re_match(st->re, s, strlen(s), md);
    if (m == PCRE2_ERROR_NOMEMORY)
        return spl_exec_oom(err);
    if (m < 0)
        return ESC_OK;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t npairs = pcre2_get_ovector_count(md);
    for (size_t k = 0; k < st->nmap; k++) {
        uint32_t gno = (uint32_t)st->map[k];
        if (gno >= npairs || ov[2 * gno] == PCRE2_UNSET)
            continue;
        esc_str v = esc_str_make(s + ov[2 * gno], ov[2 * gno + 1] - ov[2 * gno]);
        if (!spl_cell_set(&row[st->cols2[k]], &v, 1))
            return spl_exec_oom(err);
    }
    return ESC_OK;
}

/* mode=sed: s with the chosen matches replaced (\N: group N's text, \\: a backslash). */
static bool sed_one(const stage *st, pcre2_match_data *md, const char *s, esc_buf *o) {
    size_t n = strlen(s), at = 0, last = 0, nm = 0;
    const char *rep = st->sed_rep;
    esc_buf_clear(o);
    while (nm < ESC_SPL_MAX_MV && next_match(st->re, s, n, &at, md) >= 0) {
        nm++;
        if (st->sed_nth && nm != st->sed_nth)
            continue;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        uint32_t npairs = pcre2_get_ovector_count(md);
        esc_buf_append(o, s + last, ov[0] - last);
        for (size_t i = 0; rep[i]; i++) {
            if (rep[i] == '\\' && rep[i + 1] >= '0' && rep[i + 1] <= '9') {
                uint32_t g = (uint32_t)(rep[++i] - '0');
                if (g < npairs && ov[2 * g] != PCRE2_UNSET)
                    esc_buf_append(o, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
            } else if (rep[i] == '\\' && rep[i + 1]) {
                esc_buf_putc(o, rep[++i]);
            } else {
                esc_buf_putc(o, rep[i]);
            }
        }
        last = ov[1];
        if (st->sed_nth)
            break;
    }
    return esc_buf_append(o, s + last, n - last) == ESC_OK;
}

static esc_status run_sed(const stage *st, esc_table *t, pcre2_match_data *md, esc_error *err) {
    int c = st->cols[0];
    esc_buf o;
    esc_buf_init(&o, (size_t)1 << 26);
    esc_status rc = ESC_OK;
    for (size_t r = 0; r < t->nrows && rc == ESC_OK; r++) {
        esc_cell *cell = &t->cells[r * t->ncols + (size_t)c];
        for (size_t i = 0; i < cell->n; i++) {
            if (!sed_one(st, md, cell->v[i], &o)) {
                rc = esc_error_set(err, ESC_ELIMIT, "rex mode=sed: result over 64 MiB");
                break;
            }
            char *nv = esc_strndup(o.ptr ? o.ptr : "", o.len);
            if (!nv) {
                rc = spl_exec_oom(err);
                break;
            }
            spl_cell_replace(cell, i, nv);
            cell->is_num = false;
        }
    }
    esc_buf_fini(&o);
    return rc;
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
    if (st->sed_rep) {
        rc = run_sed(st, t, md, err);
        pcre2_match_data_free(md);
        return rc;
    }
    for (size_t r = 0; r < t->nrows && rc == ESC_OK; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        if (!row[src].n)
            continue;
        if (st->max_match == 1)
            rc = rex_one(st, md, row[src].v[0], row, err);
        else
            rc = rex_many(st, md, row[src].v[0], row, err);
    }
    pcre2_match_data_free(md);
    return rc;
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
