/* Planning: expand + parse, then resolve every field reference against the column list each
 * stage produces, derive the literal prefilter clauses, and explain the result.
 *
 * Invariants: after esc_plan_new the plan is read-only (executions only read it); every
 * column reference is an index into the previous stage's output schema, or -1 for a field
 * that no row has; literal clauses are SAFE: a record that could produce a row always contains
 * one literal of every clause (docs/spl.md, "Prefilter"). Deliberately not done: cost-based
 * reordering or any optimisation that changes which rows come out. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timeutil.h"
#include "spl/ast.h"

/* ---- schemas ---- */

static bool schema_alloc(esc_plan *p, schema *s, size_t n) {
    s->n = n;
    size_t m = n ? n : 1;
    s->name = esc_arena_alloc(&p->arena, m * sizeof *s->name);
    s->mv = esc_arena_alloc(&p->arena, m * sizeof *s->mv);
    s->origin = esc_arena_alloc(&p->arena, m * sizeof *s->origin);
    return s->name && s->mv && s->origin;
}

static int schema_find(const schema *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0)
            return (int)i;
    return -1;
}

static esc_status oom(esc_error *err) {
    return esc_error_set(err, ESC_ENOMEM, "out of memory planning the search");
}

/* Match name against a pattern with '*' (case-sensitive), recording each star's text; a star
 * takes the shortest text that lets the rest match. A (star, position) that failed once is
 * remembered in dead, so the search costs at most stars * len^2 steps instead of len^stars,
 * and recursion goes one level per star. */
typedef struct capture_state {
    const char *p, *s;
    size_t slen;
    unsigned char *dead; /* bit j * (slen + 1) + i: star j cannot start at s[i] */
} capture_state;

static bool capture_from(const capture_state *c, const char *p, size_t si, esc_str *caps,
                         size_t j) {
    for (; *p && *p != '*'; p++, si++)
        if (si >= c->slen || *p != c->s[si])
            return false;
    if (!*p)
        return si == c->slen;
    size_t bit = j * (c->slen + 1) + si;
    if (c->dead[bit >> 3] & (1u << (bit & 7)))
        return false;
    for (size_t k = si; k <= c->slen; k++) {
        caps[j] = esc_str_make(c->s + si, k - si);
        if (capture_from(c, p + 1, k, caps, j + 1))
            return true;
    }
    c->dead[bit >> 3] |= (unsigned char)(1u << (bit & 7));
    return false;
}

/* caps has room for ns = stars(pat) <= 16 entries. ESC_ENOMEM when the memo cannot be made. */
static esc_status capture(const char *pat, size_t ns, const char *s, esc_str *caps, bool *out) {
    size_t slen = strlen(s), bits = (ns ? ns : 1) * (slen + 1);
    unsigned char *dead = esc_calloc((bits + 7) / 8, 1);
    if (!dead)
        return ESC_ENOMEM;
    capture_state c = {pat, s, slen, dead};
    *out = capture_from(&c, pat, 0, caps, 0);
    esc_free(dead);
    return ESC_OK;
}

static size_t stars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += *s == '*';
    return n;
}

static bool name_matches(const char *pat, const char *name) {
    return spl_glob_match(pat, strlen(pat), name, strlen(name));
}

/* ---- resolution ---- */

static void resolve_snode_rows(snode *n, const schema *s) {
    if (!n)
        return;
    if (n->kind == SN_CMP)
        n->ref = schema_find(s, n->field);
    resolve_snode_rows(n->l, s);
    resolve_snode_rows(n->r, s);
}

static void resolve_snode_cim(snode *n, uint32_t *fields) {
    if (!n)
        return;
    if (n->kind == SN_CMP) {
        n->ref = spl_cim_lookup(n->field, strlen(n->field));
        if (n->ref >= 0)
            *fields |= 1u << n->ref;
    }
    resolve_snode_cim(n->l, fields);
    resolve_snode_cim(n->r, fields);
}

static esc_status plan_tstats(esc_plan *p, stage *st, esc_error *err) {
    if (!schema_alloc(p, &st->out, st->nby + st->naggs))
        return oom(err);
    resolve_snode_cim(st->where, &p->fields);
    for (size_t i = 0; i < st->nby; i++) {
        byspec *b = &st->by[i];
        b->ref = spl_cim_lookup(b->field, strlen(b->field));
        if (b->ref >= 0)
            p->fields |= 1u << b->ref;
        st->out.name[i] = b->field;
        st->out.mv[i] = false;
        st->out.origin[i] = b->ref >= 0 ? b->ref : -1;
    }
    for (size_t i = 0; i < st->naggs; i++) {
        aggspec *a = &st->aggs[i];
        if (a->field) {
            a->ref = spl_cim_lookup(a->field, strlen(a->field));
            if (a->ref >= 0)
                p->fields |= 1u << a->ref;
        }
        size_t c = st->nby + i;
        st->out.name[c] = a->as;
        st->out.mv[c] = a->fn == AGG_VALUES || a->fn == AGG_LIST;
        st->out.origin[c] = -1;
    }
    for (size_t i = 0; i < st->out.n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(st->out.name[i], st->out.name[j]) == 0)
                return esc_error_at(err, ESC_ECONTENT, NULL,
                                    i < st->nby ? st->by[i].start : st->aggs[i - st->nby].start,
                                    "column '%s' is produced twice", st->out.name[i]);
    return ESC_OK;
}

static esc_status plan_rename(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    size_t n = in->n;
    const char **names = esc_arena_alloc(&p->arena, (n ? n : 1) * sizeof *names);
    int *map = esc_arena_alloc(&p->arena, (n ? n : 1) * sizeof *map);
    bool *keep = esc_arena_alloc(&p->arena, (n ? n : 1) * sizeof *keep);
    if (!names || !map || !keep)
        return oom(err);
    for (size_t i = 0; i < n; i++) {
        names[i] = in->name[i];
        keep[i] = true;
    }
    for (size_t k = 0; k < st->npairs; k++) {
        rename_pair *rp = &st->pairs[k];
        size_t ns = stars(rp->from);
        esc_str caps[16];
        if (ns > 16)
            return esc_error_at(err, ESC_ECONTENT, NULL, rp->start, "too many wildcards");
        for (size_t i = 0; i < n; i++) {
            bool hit = false;
            if (keep[i] && capture(rp->from, ns, names[i], caps, &hit) != ESC_OK)
                return oom(err);
            if (!hit)
                continue;
            char buf[1024];
            size_t bl = 0, ci = 0;
            for (const char *t = rp->to; *t && bl + 1 < sizeof buf; t++) {
                if (*t == '*' && ci < ns) {
                    size_t cl = caps[ci].len;
                    if (bl + cl >= sizeof buf)
                        cl = sizeof buf - 1 - bl;
                    memcpy(buf + bl, caps[ci].ptr, cl);
                    bl += cl;
                    ci++;
                } else {
                    buf[bl++] = *t;
                }
            }
            buf[bl] = 0;
            if (bl == 0)
                continue;
            const char *nn = esc_arena_strdup(&p->arena, buf);
            if (!nn)
                return oom(err);
            /* a column already called that is replaced */
            for (size_t j = 0; j < n; j++)
                if (j != i && keep[j] && strcmp(names[j], nn) == 0)
                    keep[j] = false;
            names[i] = nn;
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += keep[i];
    if (!schema_alloc(p, &st->out, m))
        return oom(err);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        st->out.name[o] = names[i];
        st->out.mv[o] = in->mv[i];
        st->out.origin[o] = in->origin[i];
        map[o++] = (int)i;
    }
    st->map = map;
    st->nmap = m;
    return ESC_OK;
}

/* Copy `in` into a fresh schema with room for `extra` more columns. */
static bool schema_copy(esc_plan *p, schema *out, const schema *in, size_t extra) {
    if (!schema_alloc(p, out, in->n + extra))
        return false;
    out->n = in->n;
    for (size_t i = 0; i < in->n; i++) {
        out->name[i] = in->name[i];
        out->mv[i] = in->mv[i];
        out->origin[i] = in->origin[i];
    }
    return true;
}

static int schema_add(schema *s, const char *name) {
    int c = schema_find(s, name);
    if (c >= 0)
        return c;
    s->name[s->n] = name;
    s->mv[s->n] = false;
    s->origin[s->n] = -1;
    return (int)s->n++;
}

static esc_status plan_convert(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    /* each item may match several columns: at most in->n each */
    size_t cap = st->nconv * (in->n + 1);
    st->cols = esc_arena_alloc(&p->arena, cap * sizeof *st->cols);
    st->cols2 = esc_arena_alloc(&p->arena, cap * sizeof *st->cols2);
    if (!st->cols || !st->cols2 || !schema_copy(p, &st->out, in, cap))
        return oom(err);
    size_t n = 0;
    for (size_t k = 0; k < st->nconv; k++) {
        convert_item *ci = &st->conv[k];
        bool wild = strchr(ci->field, '*') != NULL;
        if (wild && ci->as)
            return esc_error_at(err, ESC_ECONTENT, NULL, ci->start,
                                "convert: a wildcard field cannot be renamed with 'as'");
        size_t before = st->out.n;
        for (size_t c = 0; c < before; c++) {
            if (!(wild ? name_matches(ci->field, st->out.name[c])
                       : strcmp(ci->field, st->out.name[c]) == 0))
                continue;
            int dst = ci->as ? schema_add(&st->out, ci->as) : (int)c;
            st->out.origin[dst] = -1;
            st->out.mv[dst] = st->out.mv[c];
            st->cols[n] = (int)c;
            st->cols2[n++] = dst;
        }
    }
    st->nmap = n;
    return ESC_OK;
}

static esc_status plan_select(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    int *map = esc_arena_alloc(&p->arena, (in->n ? in->n : 1) * sizeof *map);
    bool *used = esc_arena_alloc(&p->arena, (in->n ? in->n : 1) * sizeof *used);
    if (!map || !used)
        return oom(err);
    memset(used, 0, (in->n ? in->n : 1) * sizeof *used);
    size_t m = 0;
    if (st->kind == ST_FIELDS && st->remove) {
        for (size_t c = 0; c < in->n; c++) {
            bool drop = false;
            for (size_t k = 0; k < st->nnames && !drop; k++)
                drop = name_matches(st->names[k], in->name[c]);
            if (!drop)
                map[m++] = (int)c;
        }
    } else {
        for (size_t k = 0; k < st->nnames; k++)
            for (size_t c = 0; c < in->n; c++)
                if (!used[c] && name_matches(st->names[k], in->name[c])) {
                    used[c] = true;
                    map[m++] = (int)c;
                }
    }
    if (!schema_alloc(p, &st->out, m))
        return oom(err);
    for (size_t i = 0; i < m; i++) {
        st->out.name[i] = in->name[map[i]];
        st->out.mv[i] = in->mv[map[i]];
        st->out.origin[i] = in->origin[map[i]];
    }
    st->map = map;
    st->nmap = m;
    return ESC_OK;
}

static esc_status plan_stats(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    if (!schema_alloc(p, &st->out, st->nby + st->naggs))
        return oom(err);
    for (size_t i = 0; i < st->nby; i++) {
        byspec *b = &st->by[i];
        b->ref = schema_find(in, b->field);
        st->out.name[i] = b->field;
        st->out.mv[i] = false;
        st->out.origin[i] = b->ref >= 0 ? in->origin[b->ref] : -1;
    }
    for (size_t i = 0; i < st->naggs; i++) {
        aggspec *a = &st->aggs[i];
        a->ref = a->field ? schema_find(in, a->field) : -1;
        size_t c = st->nby + i;
        st->out.name[c] = a->as;
        st->out.mv[c] = a->fn == AGG_VALUES || a->fn == AGG_LIST;
        st->out.origin[c] = -1;
    }
    return ESC_OK;
}

static esc_status plan_regex(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    int code;
    size_t off;
    pcre2_code *re = spl_re_compile(st->names[0], PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off);
    if (!re) {
        if (code == PCRE2_ERROR_HEAP_FAILED)
            return oom(err);
        char msg[200];
        pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof msg);
        return esc_error_at(err, ESC_ECONTENT, NULL, st->start, "bad regular expression: %s",
                            msg);
    }
    st->re = re;
    st->cols = esc_arena_alloc(&p->arena, sizeof *st->cols);
    if (!st->cols || !schema_copy(p, &st->out, in, 0))
        return oom(err);
    st->cols[0] = schema_find(in, st->regex_field);
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
    if (!st->cols2 || !st->map || !schema_copy(p, &st->out, in, count))
        return oom(err);
    /* columns in the order the groups appear in the pattern (the name table is sorted by
     * name) */
    uint32_t *ord = esc_arena_alloc(&p->arena, count * sizeof *ord);
    if (!ord)
        return oom(err);
    for (uint32_t k = 0; k < count; k++) {
        uint32_t j = k;
        while (j > 0 && ((table[(size_t)ord[j - 1] * size] << 8) | table[(size_t)ord[j - 1] * size + 1]) >
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
            return oom(err);
        int c = schema_add(&st->out, name);
        st->out.origin[c] = -1;
        st->out.mv[c] = false;
        st->cols2[k] = c;
        st->map[k] = (e[0] << 8) | e[1];
    }
    st->nmap = count;
    return ESC_OK;
}

static esc_status plan_eventstats(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    st->cols2 = esc_arena_alloc(&p->arena, st->naggs * sizeof *st->cols2);
    if (!st->cols2 || !schema_copy(p, &st->out, in, st->naggs))
        return oom(err);
    for (size_t i = 0; i < st->nby; i++)
        st->by[i].ref = schema_find(in, st->by[i].field);
    for (size_t i = 0; i < st->naggs; i++) {
        aggspec *a = &st->aggs[i];
        a->ref = a->field ? schema_find(in, a->field) : -1;
        int c = schema_add(&st->out, a->as);
        st->out.origin[c] = -1;
        st->out.mv[c] = a->fn == AGG_VALUES || a->fn == AGG_LIST;
        st->cols2[i] = c;
    }
    return ESC_OK;
}

static esc_status plan_join(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    const schema *sub = &st->sub->stages[st->sub->nstages - 1].out;
    st->cols = esc_arena_alloc(&p->arena, st->nnames * sizeof *st->cols);
    st->cols2 = esc_arena_alloc(&p->arena, st->nnames * sizeof *st->cols2);
    st->map = esc_arena_alloc(&p->arena, (sub->n ? sub->n : 1) * sizeof *st->map);
    if (!st->cols || !st->cols2 || !st->map || !schema_copy(p, &st->out, in, sub->n))
        return oom(err);
    for (size_t k = 0; k < st->nnames; k++) {
        st->cols[k] = schema_find(in, st->names[k]);
        st->cols2[k] = schema_find(sub, st->names[k]);
    }
    /* map: subsearch column -> output column */
    for (size_t c = 0; c < sub->n; c++) {
        int o = schema_add(&st->out, sub->name[c]);
        if ((size_t)o >= in->n) {
            st->out.mv[o] = sub->mv[c];
            st->out.origin[o] = -1;
        } else {
            bool key = false;
            for (size_t k = 0; k < st->nnames; k++)
                key |= strcmp(st->names[k], sub->name[c]) == 0;
            if (!key) /* the subsearch may overwrite it */
                st->out.origin[o] = -1;
        }
        st->map[c] = o;
    }
    st->nmap = sub->n;
    p->fields |= st->sub->fields;
    p->has_join = true;
    return ESC_OK;
}

static esc_status plan_stage(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    esc_status rc;
    switch (st->kind) {
    case ST_TSTATS: return plan_tstats(p, st, err);
    case ST_RENAME: return plan_rename(p, st, in, err);
    case ST_CONVERT: return plan_convert(p, st, in, err);
    case ST_SEARCH:
        resolve_snode_rows(st->where, in);
        return schema_copy(p, &st->out, in, 0) ? ESC_OK : oom(err);
    case ST_WHERE:
        if (!schema_copy(p, &st->out, in, 0))
            return oom(err);
        return spl_eval_compile(p, st->cond, in, err);
    case ST_EVAL:
        if (!schema_copy(p, &st->out, in, st->nevals))
            return oom(err);
        for (size_t k = 0; k < st->nevals; k++) {
            eval_item *ev = &st->evals[k];
            if ((rc = spl_eval_compile(p, ev->e, &st->out, err)) != ESC_OK)
                return rc;
            ev->col = schema_add(&st->out, ev->name);
            st->out.origin[ev->col] = -1;
            st->out.mv[ev->col] = false;
        }
        return ESC_OK;
    case ST_FIELDS:
    case ST_TABLE: return plan_select(p, st, in, err);
    case ST_DEDUP:
        st->cols = esc_arena_alloc(&p->arena, st->nnames * sizeof *st->cols);
        if (!st->cols || !schema_copy(p, &st->out, in, 0))
            return oom(err);
        for (size_t k = 0; k < st->nnames; k++)
            st->cols[k] = schema_find(in, st->names[k]);
        return ESC_OK;
    case ST_STATS: return plan_stats(p, st, in, err);
    case ST_REGEX: return plan_regex(p, st, in, err);
    case ST_REX: return plan_rex(p, st, in, err);
    case ST_EVENTSTATS: return plan_eventstats(p, st, in, err);
    case ST_LOOKUP: return spl_lookup_plan(p, st, in, err);
    case ST_JOIN: return plan_join(p, st, in, err);
    }
    return esc_error_set(err, ESC_EINTERNAL, "unknown stage");
}

/* ---- literal prefilter ---- */

typedef struct lits {
    /* clauses: each a list of literal (ptr,len) pieces */
    size_t n;
    struct {
        esc_str lit[ESC_INTEREST_MAX_LITERALS];
        size_t nlit;
    } c[ESC_INTEREST_MAX_CLAUSES];
} lits;

static bool lit_sep(unsigned char c) {
    return c <= 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '\\' || c == '/' ||
           c == '&' || c == '<' || c == '>' || c == '*';
}

/* The longest piece (>= 3 bytes) of a pattern, or {NULL,0}. */
static esc_str best_piece(const char *v, size_t n) {
    esc_str best = ESC_STR_NULL;
    size_t i = 0;
    while (i < n) {
        while (i < n && lit_sep((unsigned char)v[i]))
            i++;
        size_t s = i;
        while (i < n && !lit_sep((unsigned char)v[i]))
            i++;
        if (i - s >= 3 && i - s > best.len)
            best = esc_str_make(v + s, i - s);
    }
    return best;
}

static const char *const never_lits[] = {
    "unknown", "null", "Microsoft Sysmon", "Microsoft Windows", "CrowdStrike FDR", NULL,
};

/* Which CIM fields' values appear verbatim in the event text. dest may come from an aidmaster
 * record and vendor_product is a constant: neither can give a literal. */
static bool field_is_textual(int f) {
    return f >= 0 && f != ESC_CIM_DEST && f != ESC_CIM_VENDOR_PRODUCT;
}

static void term_lits(const snode *n, int field, const char *fill, lits *out) {
    out->n = 0;
    if (n->op != SOP_EQ || !field_is_textual(field))
        return;
    for (size_t k = 0; never_lits[k]; k++)
        if (spl_glob_imatch(n->val, n->val_len, never_lits[k], strlen(never_lits[k])))
            return;
    if (fill && spl_glob_imatch(n->val, n->val_len, fill, strlen(fill)))
        return;
    esc_str b = best_piece(n->val, n->val_len);
    if (!b.ptr)
        return;
    out->n = 1;
    out->c[0].nlit = 1;
    out->c[0].lit[0] = b;
}

/* rows: the tree is a row search; field_of maps a column to its CIM origin. */
static void tree_lits(const snode *n, const int *origin, size_t ncols, const char *fill,
                      lits *out) {
    out->n = 0;
    if (!n)
        return;
    switch (n->kind) {
    case SN_ALL:
    case SN_NOT: return;
    case SN_CMP: {
        int f = n->ref;
        if (origin)
            f = (n->ref >= 0 && (size_t)n->ref < ncols) ? origin[n->ref] : -1;
        term_lits(n, f, origin ? fill : NULL, out);
        return;
    }
    case SN_AND:
    case SN_OR: {
        /* the left side goes straight into out; only the right side needs room (on the heap:
         * a lits is large and OR chains from IN lists are deep) */
        tree_lits(n->l, origin, ncols, fill, out);
        if (n->kind == SN_OR && !out->n)
            return;
        lits *r = esc_malloc(sizeof *r);
        if (!r) {
            if (n->kind == SN_OR)
                out->n = 0; /* dropping clauses of an AND keeps it safe; an OR needs both */
            return;
        }
        tree_lits(n->r, origin, ncols, fill, r);
        if (n->kind == SN_AND) {
            for (size_t k = 0; k < r->n && out->n < ESC_INTEREST_MAX_CLAUSES; k++)
                out->c[out->n++] = r->c[k];
        } else if (!r->n || out->c[0].nlit + r->c[0].nlit > ESC_INTEREST_MAX_LITERALS) {
            out->n = 0;
        } else {
            out->n = 1;
            for (size_t k = 0; k < r->c[0].nlit; k++) {
                esc_str x = r->c[0].lit[k];
                size_t j = 0;
                while (j < out->c[0].nlit && !esc_str_ieq(out->c[0].lit[j], x))
                    j++;
                if (j == out->c[0].nlit)
                    out->c[0].lit[out->c[0].nlit++] = x;
            }
        }
        esc_free(r);
        return;
    }
    }
}

static esc_status add_lits(esc_plan *p, const lits *l, esc_error *err) {
    for (size_t k = 0; k < l->n && p->nclauses < ESC_INTEREST_MAX_CLAUSES; k++) {
        esc_literal_clause *c = &p->clauses[p->nclauses];
        c->nlit = 0;
        for (size_t j = 0; j < l->c[k].nlit; j++) {
            esc_str d = esc_arena_dup(&p->arena, l->c[k].lit[j]);
            if (!d.ptr)
                return oom(err);
            c->lit[c->nlit++] = d.ptr;
        }
        p->nclauses++;
    }
    return ESC_OK;
}

static esc_status plan_literals(esc_plan *p, esc_error *err) {
    const stage *ts = &p->stages[0];
    /* a subsearch reads records the main search's literals know nothing about: the clauses
     * would be a disjunction of conjunctions, which the interest set cannot say */
    if (p->has_join)
        return ESC_OK;
    lits l;
    tree_lits(ts->where, NULL, 0, NULL, &l);
    esc_status rc = add_lits(p, &l, err);
    if (rc != ESC_OK)
        return rc;
    /* row searches count while every stage before them keeps rows independent of each other:
     * a record lacking the literal only feeds groups whose BY value lacks it too */
    for (size_t i = 1; i < p->nstages; i++) {
        const stage *st = &p->stages[i];
        if (st->kind == ST_DEDUP || st->kind == ST_STATS || st->kind == ST_EVENTSTATS ||
            st->kind == ST_JOIN)
            break;
        if (st->kind != ST_SEARCH)
            continue;
        const schema *in = &p->stages[i - 1].out;
        tree_lits(st->where, in->origin, in->n, ts->fill ? ts->fillnull : NULL, &l);
        if ((rc = add_lits(p, &l, err)) != ESC_OK)
            return rc;
    }
    return ESC_OK;
}

/* ---- public ---- */

esc_plan *esc_plan_new_ex(const char *search, const esc_macro_set *macros, char **err_text,
                          esc_error *err) {
    esc_spl_env env = {macros, NULL, 0};
    return esc_plan_new_env(search, &env, err_text, err);
}

/* Plan the pipeline of p->expanded (already expanded). */
static esc_status plan_all(esc_plan *p, esc_error *err) {
    esc_status rc;
    if ((rc = spl_parse(p, err)) != ESC_OK)
        return rc;
    const schema *in = NULL;
    for (size_t i = 0; i < p->nstages; i++) {
        if ((rc = plan_stage(p, &p->stages[i], in, err)) != ESC_OK)
            return rc;
        in = &p->stages[i].out;
    }
    return plan_literals(p, err);
}

esc_status spl_subplan(esc_plan *parent, stage *st, esc_error *err) {
    esc_plan *p = esc_calloc(1, sizeof *p);
    if (!p)
        return oom(err);
    esc_arena_init(&p->arena, 0, 0);
    p->env = parent->env;
    p->depth = parent->depth + 1;
    esc_status rc;
    if (p->depth > 4) {
        rc = esc_error_at(err, ESC_ELIMIT, NULL, st->sub_start, "subsearches nested deeper than 4");
        goto fail;
    }
    p->expanded = esc_strndup(st->sub_text, st->sub_len);
    if (!p->expanded) {
        rc = oom(err);
        goto fail;
    }
    if ((rc = plan_all(p, err)) != ESC_OK) {
        if (err && err->has_offset)
            err->offset += st->sub_start;
        goto fail;
    }
    p->env = NULL;
    st->sub = p;
    return ESC_OK;
fail:
    esc_plan_free(p);
    return rc;
}

esc_plan *esc_plan_new_env(const char *search, const esc_spl_env *env, char **err_text,
                           esc_error *err) {
    const esc_macro_set *macros = env ? env->macros : NULL;
    esc_plan *p = esc_calloc(1, sizeof *p);
    if (err_text)
        *err_text = NULL;
    if (!p) {
        esc_error_set(err, ESC_ENOMEM, "out of memory planning the search");
        return NULL;
    }
    esc_arena_init(&p->arena, 0, 0);
    p->env = env;
    esc_status rc = esc_spl_expand(search, macros, &p->expanded, err);
    if (rc != ESC_OK) {
        if (err_text)
            *err_text = esc_strdup(search ? search : "");
        goto fail;
    }
    if ((rc = plan_all(p, err)) != ESC_OK)
        goto fail_text;
    p->env = NULL;
    return p;
fail_text:
    if (err_text)
        *err_text = esc_strdup(p->expanded);
fail:
    esc_plan_free(p);
    return NULL;
}

esc_plan *esc_plan_new(const char *search, const esc_macro_set *macros, esc_error *err) {
    return esc_plan_new_ex(search, macros, NULL, err);
}

void esc_plan_free(esc_plan *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->nstages; i++) {
        stage *st = &p->stages[i];
        if (st->re)
            pcre2_code_free(st->re);
        esc_plan_free(st->sub);
        spl_eval_free(st->cond);
        for (size_t k = 0; k < st->nevals; k++)
            spl_eval_free(st->evals[k].e);
    }
    esc_free(p->expanded);
    esc_arena_fini(&p->arena);
    esc_free(p);
}

const char *esc_plan_expanded(const esc_plan *p) {
    return p->expanded;
}

void esc_plan_interest(const esc_plan *p, esc_interest *in) {
    if (!p || !in || in->everything)
        return;
    for (size_t k = 0; k < p->nclauses && in->nclauses < ESC_INTEREST_MAX_CLAUSES; k++)
        in->clause[in->nclauses++] = p->clauses[k];
}

uint32_t esc_plan_fields(const esc_plan *p) {
    return p ? p->fields : 0;
}

/* ---- record predicate ---- */

static bool cmp_value(const snode *n, esc_str v) {
    if (n->op == SOP_EQ)
        return spl_glob_imatch(n->val, n->val_len, v.ptr, v.len);
    if (n->op == SOP_NE)
        return !spl_glob_imatch(n->val, n->val_len, v.ptr, v.len);
    double a, b;
    int c;
    if (spl_parse_num(v.ptr, v.len, &a) && spl_parse_num(n->val, n->val_len, &b))
        c = a < b ? -1 : a > b;
    else
        c = esc_str_cmp(v, esc_str_make(n->val, n->val_len));
    switch (n->op) {
    case SOP_LT: return c < 0;
    case SOP_LE: return c <= 0;
    case SOP_GT: return c > 0;
    case SOP_GE: return c >= 0;
    default: return false;
    }
}

static bool rec_match(const snode *n, const esc_record *r) {
    switch (n->kind) {
    case SN_ALL: return true;
    case SN_AND: return rec_match(n->l, r) && rec_match(n->r, r);
    case SN_OR: return rec_match(n->l, r) || rec_match(n->r, r);
    case SN_NOT: return !rec_match(n->l, r);
    case SN_CMP: {
        if (n->ref == FIELD_TIME) {
            char buf[32];
            int64_t us = r->time_us;
            int len = snprintf(buf, sizeof buf, "%lld", (long long)esc_time_sec(us));
            return cmp_value(n, esc_str_make(buf, (size_t)len));
        }
        if (n->ref < 0)
            return false;
        esc_str v = r->v[n->ref];
        if (!v.ptr)
            return false;
        return cmp_value(n, v);
    }
    }
    return false;
}

bool esc_plan_record_matches(const esc_plan *p, const esc_record *r) {
    const snode *w = p->stages[0].where;
    if (!w || rec_match(w, r))
        return true;
    /* a record a subsearch can use counts too */
    for (size_t i = 1; i < p->nstages; i++)
        if (p->stages[i].sub && esc_plan_record_matches(p->stages[i].sub, r))
            return true;
    return false;
}

/* The tstats where clause of p alone. */
bool spl_main_matches(const esc_plan *p, const esc_record *r) {
    const snode *w = p->stages[0].where;
    return !w || rec_match(w, r);
}

bool spl_row_match(const snode *n, const esc_cell *row, size_t ncols) {
    switch (n->kind) {
    case SN_ALL: return true;
    case SN_AND: return spl_row_match(n->l, row, ncols) && spl_row_match(n->r, row, ncols);
    case SN_OR: return spl_row_match(n->l, row, ncols) || spl_row_match(n->r, row, ncols);
    case SN_NOT: return !spl_row_match(n->l, row, ncols);
    case SN_CMP: {
        if (n->ref < 0 || (size_t)n->ref >= ncols)
            return false;
        const esc_cell *c = &row[n->ref];
        for (size_t k = 0; k < c->n; k++)
            if (cmp_value(n, esc_str_c(c->v[k])))
                return true;
        return false;
    }
    }
    return false;
}

/* ---- explain ---- */

static const char *sop_text(sop o) {
    static const char *const t[] = {"=", "!=", "<", "<=", ">", ">="};
    return t[o];
}

static esc_status explain_snode(const snode *n, esc_buf *out);

/* The operands of a chain of one operator, flattened: OR(a, b, c) rather than OR(OR(a, b), c).
 * Chains are left-deep, so this walks down the left spine iteratively. */
static void explain_chain(const snode *n, snode_kind k, esc_buf *out) {
    size_t depth = 0;
    for (const snode *m = n; m->kind == k && m->l; m = m->l)
        depth++;
    const snode **spine = esc_malloc(depth * sizeof *spine);
    if (!spine) {
        esc_buf_append_c(out, "...");
        return;
    }
    depth = 0;
    while (n->kind == k && n->l) {
        spine[depth++] = n;
        n = n->l;
    }
    explain_snode(n, out);
    while (depth > 0) {
        const snode *p = spine[--depth];
        esc_buf_append_c(out, ", ");
        if (p->r->kind == k)
            explain_chain(p->r, k, out);
        else
            explain_snode(p->r, out);
    }
    esc_free(spine);
}

static esc_status explain_snode(const snode *n, esc_buf *out) {
    if (!n)
        return esc_buf_append_c(out, "*");
    switch (n->kind) {
    case SN_ALL: return esc_buf_append_c(out, "*");
    case SN_NOT:
        esc_buf_append_c(out, "NOT(");
        explain_snode(n->l, out);
        return esc_buf_append_c(out, ")");
    case SN_AND:
    case SN_OR:
        esc_buf_append_c(out, n->kind == SN_AND ? "AND(" : "OR(");
        explain_chain(n, n->kind, out);
        return esc_buf_append_c(out, ")");
    case SN_CMP:
        esc_buf_append_c(out, n->field);
        if (n->ref == FIELD_ABSENT)
            esc_buf_append_c(out, "{absent}");
        esc_buf_append_c(out, sop_text(n->op));
        esc_buf_putc(out, '"');
        for (size_t i = 0; i < n->val_len; i++) {
            if (n->val[i] == '"' || n->val[i] == '\\')
                esc_buf_putc(out, '\\');
            esc_buf_putc(out, n->val[i]);
        }
        return esc_buf_putc(out, '"');
    }
    return ESC_OK;
}

static const char *aggname(aggfn f) {
    static const char *const t[] = {"count", "count", "values",   "list",  "dc",    "min",
                                    "max",   "sum",   "avg",      "earliest", "latest"};
    return t[f];
}

esc_status esc_plan_explain(const esc_plan *p, esc_buf *out) {
    esc_buf_printf(out, "expanded: %s\n", p->expanded);
    for (size_t i = 0; i < p->nstages; i++) {
        const stage *st = &p->stages[i];
        esc_buf_printf(out, "stage %zu: %s", i + 1, st->name);
        if (st->kind == ST_TSTATS) {
            esc_buf_append_c(out, " from Endpoint.Processes");
            if (st->fill)
                esc_buf_printf(out, " fillnull_value=\"%s\"", st->fillnull);
            esc_buf_append_c(out, "\n  where: ");
            explain_snode(st->where, out);
            esc_buf_append_c(out, "\n  aggregates:");
            for (size_t k = 0; k < st->naggs; k++) {
                if (st->aggs[k].field)
                    esc_buf_printf(out, " %s(%s)->%s", aggname(st->aggs[k].fn),
                                   st->aggs[k].field, st->aggs[k].as);
                else
                    esc_buf_printf(out, " %s->%s", aggname(st->aggs[k].fn), st->aggs[k].as);
            }
            esc_buf_append_c(out, "\n  by:");
            for (size_t k = 0; k < st->nby; k++)
                esc_buf_printf(out, " %s", st->by[k].field);
        } else if (st->kind == ST_SEARCH) {
            esc_buf_append_c(out, "\n  predicate: ");
            explain_snode(st->where, out);
        } else if (st->kind == ST_LOOKUP) {
            esc_buf_printf(out, " %s (%zu rows)", st->lookup_name, st->lt ? st->lt->nrows : 0);
        } else if (st->kind == ST_JOIN) {
            esc_buf_append_c(out, " on");
            for (size_t k = 0; k < st->nnames; k++)
                esc_buf_printf(out, " %s", st->names[k]);
            esc_buf_printf(out, " (%s, max=%zu)\n  subsearch where: ",
                           st->join_type ? "left" : "inner", st->join_max);
            explain_snode(st->sub->stages[0].where, out);
        }
        esc_buf_append_c(out, "\n  columns:");
        for (size_t k = 0; k < st->out.n; k++)
            esc_buf_printf(out, " %s%s", st->out.name[k], st->out.mv[k] ? "[]" : "");
        esc_buf_putc(out, '\n');
    }
    if (!p->nclauses)
        esc_buf_append_c(out, "prefilter: none (every record is evaluated)\n");
    for (size_t k = 0; k < p->nclauses; k++) {
        esc_buf_append_c(out, k ? "      AND any of:" : "prefilter: any of:");
        for (size_t j = 0; j < p->clauses[k].nlit; j++)
            esc_buf_printf(out, " \"%s\"", p->clauses[k].lit[j]);
        esc_buf_putc(out, '\n');
    }
    return out->max && out->len >= out->max ? ESC_ELIMIT : ESC_OK;
}

/* ---- caret ---- */

static size_t token_len(const char *s, size_t n, size_t off) {
    if (off >= n)
        return 1;
    char c = s[off];
    size_t i = off + 1;
    if (c == '`' || c == '"') {
        while (i < n && s[i] != c && s[i] != '\n') {
            if (c == '"' && s[i] == '\\' && i + 1 < n)
                i++;
            i++;
        }
        return (i < n && s[i] == c ? i + 1 : i) - off;
    }
    if (c == '(' || c == ')' || c == '|' || c == ',' || c == ' ')
        return 1;
    while (i < n && !strchr(" \t\r\n()|,=\"", s[i]))
        i++;
    return i - off;
}

esc_status esc_spl_caret(const char *text, const esc_error *err, esc_buf *out) {
    if (!text)
        text = "";
    size_t n = strlen(text);
    size_t off = err && err->has_offset ? (size_t)err->offset : 0;
    if (off > n)
        off = n;
    size_t ls = off, le = off;
    while (ls > 0 && text[ls - 1] != '\n')
        ls--;
    while (le < n && text[le] != '\n')
        le++;
    esc_buf_append(out, text + ls, le - ls);
    esc_buf_putc(out, '\n');
    for (size_t i = ls; i < off; i++)
        esc_buf_putc(out, text[i] == '\t' ? '\t' : ' ');
    size_t tl = token_len(text, n, off);
    if (off + tl > le)
        tl = le > off ? le - off : 1;
    for (size_t i = 0; i < tl; i++)
        esc_buf_putc(out, '^');
    return esc_buf_putc(out, '\n');
}
