/* replace "OLD" WITH "NEW", ... [IN FIELD, ...]: replace whole field values. Splunk's
 * reference: Search Reference, "replace" (help.splunk.com/splunk-enterprise/
 * spl-search-reference/9.4/search-commands/replace).
 *
 * Invariants: a pair matches a whole value, case-sensitively, '*' in OLD matching any run of
 * bytes; each '*' of NEW takes the text the '*' of the same rank in OLD matched (a NEW with
 * more '*' than OLD keeps the extra ones literally); "non-wildcard replacement values specified
 * later take precedence over those replacements specified earlier": a value takes the last
 * pair without '*' equal to it, else the first wildcard pair that matches; without IN every
 * column is replaced; every value of a multivalue cell is replaced on its own. Options kept:
 * pairs (from = OLD, to = NEW), names / cols the IN fields. Deliberately not done: nothing
 * else the command has. */
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "spl/cmd.h"

#define MAX_STARS 16 /* '*' captured per pattern; further ones match but are not captured */

static bool parse_replace(spl_parser *P, stage *st) {
    static const spl_pair_syntax syn = {
        "with",
        "in",
        "too many replacements",
        "expected \"OLD\" WITH \"NEW\"",
        "expected \"OLD\" WITH \"NEW\"",
        "expected a value after WITH",
        "replace needs \"OLD\" WITH \"NEW\"",
        NULL,
    };
    if (!spl_parse_pairs(P, st, &syn))
        return false;
    if (spl_accept_kw(P, "in", true))
        return spl_parse_names(P, st, false);
    return true;
}

static esc_status plan_replace(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    size_t n = st->nnames ? st->nnames : in->n;
    st->cols = esc_arena_alloc(&p->arena, (n ? n : 1) * sizeof *st->cols);
    if (!st->cols || !spl_schema_copy(p, &st->out, in, 0))
        return spl_plan_oom(err);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = st->nnames ? spl_schema_find(in, st->names[i]) : (int)i;
        if (c < 0)
            continue;
        st->out.origin[c] = -1;
        st->cols[k++] = c;
    }
    st->nmap = k;
    return ESC_OK;
}

/* Does the glob pat match s whole? Captures of the first MAX_STARS stars into cap (start,
 * end pairs). The classic two-pointer match: linear in practice, O(|pat| * |s|) at worst. */
static bool glob_cap(const char *pat, const char *s, size_t cap[][2], size_t *nstar) {
    size_t p = 0, i = 0, star_p = SIZE_MAX, star_i = 0, k = 0, cur = SIZE_MAX;
    size_t plen = strlen(pat), n = strlen(s);
    while (i < n) {
        if (p < plen && pat[p] == '*') {
            cur = k++;
            if (cur < MAX_STARS)
                cap[cur][0] = cap[cur][1] = i;
            star_p = p++;
            star_i = i;
        } else if (p < plen && pat[p] == s[i]) {
            p++;
            i++;
        } else if (star_p != SIZE_MAX) {
            p = star_p + 1;
            i = ++star_i;
            k = cur + 1;
            if (cur < MAX_STARS)
                cap[cur][1] = i;
        } else {
            return false;
        }
    }
    while (p < plen && pat[p] == '*') {
        if (k < MAX_STARS)
            cap[k][0] = cap[k][1] = n;
        k++;
        p++;
    }
    *nstar = k;
    return p == plen;
}

/* The replacement of value s, or NULL when no pair matches (*oom on allocation failure). */
static char *replace_value(const stage *st, const char *s, bool *oom) {
    const rename_pair *hit = NULL;
    for (size_t k = 0; k < st->npairs; k++) /* the last literal pair equal to s */
        if (!strchr(st->pairs[k].from, '*') && strcmp(st->pairs[k].from, s) == 0)
            hit = &st->pairs[k];
    if (hit) {
        char *r = esc_strdup(hit->to);
        *oom = !r;
        return r;
    }
    size_t cap[MAX_STARS][2], nstar = 0;
    for (size_t k = 0; k < st->npairs && !hit; k++)
        if (strchr(st->pairs[k].from, '*') && glob_cap(st->pairs[k].from, s, cap, &nstar))
            hit = &st->pairs[k];
    if (!hit)
        return NULL;
    esc_buf b;
    esc_buf_init(&b, 0);
    size_t used = 0;
    for (const char *t = hit->to; *t; t++) {
        if (*t == '*' && used < nstar && used < MAX_STARS) {
            esc_buf_append(&b, s + cap[used][0], cap[used][1] - cap[used][0]);
            used++;
        } else {
            esc_buf_putc(&b, *t);
        }
    }
    char *r = esc_strndup(b.ptr ? b.ptr : "", b.len);
    esc_buf_fini(&b);
    *oom = !r;
    return r;
}

static esc_status run_replace(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t k = 0; k < st->nmap; k++) {
            esc_cell *c = &t->cells[r * t->ncols + (size_t)st->cols[k]];
            for (size_t i = 0; i < c->n; i++) {
                bool oom = false;
                char *nv = replace_value(st, c->v[i], &oom);
                if (oom)
                    return spl_exec_oom(err);
                if (!nv)
                    continue;
                spl_cell_replace(c, i, nv);
                c->is_num = false;
            }
        }
    return ESC_OK;
}

const spl_cmd spl_cmd_replace = {
    .name = "replace",
    .parse = parse_replace,
    .plan = plan_replace,
    .run = run_replace,
};
