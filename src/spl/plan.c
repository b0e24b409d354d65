/* Planning: expand + parse, then each stage's plan hook (cmd.h) in pipeline order, each
 * resolving its field references against the column list the stage before produces; then the
 * literal prefilter clauses, the record predicate, explain and the error caret.
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
#include "spl/cmd.h"

/* A plan keeps its nodes and names in its arena: most use a few KiB, and a hunt holds one plan
 * per detection (a thousand for escu-full), so blocks are small. */
#define PLAN_ARENA_BLOCK (8 * 1024)

/* ---- schemas (shared by the commands' plan hooks) ---- */

bool spl_schema_alloc(esc_plan *p, schema *s, size_t n) {
    s->n = n;
    size_t m = n ? n : 1;
    s->name = esc_arena_alloc(&p->arena, m * sizeof *s->name);
    s->mv = esc_arena_alloc(&p->arena, m * sizeof *s->mv);
    s->origin = esc_arena_alloc(&p->arena, m * sizeof *s->origin);
    return s->name && s->mv && s->origin;
}

int spl_schema_find(const schema *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0)
            return (int)i;
    return -1;
}

esc_status spl_plan_oom(esc_error *err) {
    return esc_error_set(err, ESC_ENOMEM, "out of memory planning the search");
}

bool spl_name_matches(const char *pat, const char *name) {
    return spl_glob_match(pat, strlen(pat), name, strlen(name));
}

/* Copy `in` into a fresh schema with room for `extra` more columns. */
bool spl_schema_copy(esc_plan *p, schema *out, const schema *in, size_t extra) {
    if (!spl_schema_alloc(p, out, in->n + extra))
        return false;
    out->n = in->n;
    for (size_t i = 0; i < in->n; i++) {
        out->name[i] = in->name[i];
        out->mv[i] = in->mv[i];
        out->origin[i] = in->origin[i];
    }
    return true;
}

int spl_schema_add(schema *s, const char *name) {
    int c = spl_schema_find(s, name);
    if (c >= 0)
        return c;
    s->name[s->n] = name;
    s->mv[s->n] = false;
    s->origin[s->n] = -1;
    return (int)s->n++;
}

/* ---- literal prefilter ---- */

typedef struct lits {
    /* clauses: each a list of literal (ptr,len) pieces */
    size_t n;
    struct {
        esc_str lit[ESC_INTEREST_MAX_LITERALS];
        const snode *src[ESC_INTEREST_MAX_LITERALS]; /* record literals: the term */
        size_t nlit;
    } c[ESC_INTEREST_MAX_CLAUSES];
} lits;

static bool lit_sep(unsigned char c) {
    return c <= 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '\\' || c == '/' || c == '&' ||
           c == '<' || c == '>' || c == '*';
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
 * record, vendor_product and action are constants: none can give a literal. */
static bool field_is_textual(int f) {
    return f >= 0 && f != ESC_CIM_DEST && f != ESC_CIM_VENDOR_PRODUCT && f != ESC_CIM_ACTION;
}

/* The longest piece between '*'s (>= 3 bytes) of a pattern, or {NULL,0}: glob matching a
 * value means every such piece occurs in it, ASCII case-insensitively. */
static esc_str best_glob_piece(const char *v, size_t n) {
    esc_str best = ESC_STR_NULL;
    for (size_t i = 0; i < n;) {
        const char *star = memchr(v + i, '*', n - i);
        size_t e = star ? (size_t)(star - v) : n;
        if (e - i >= 3 && e - i > best.len)
            best = esc_str_make(v + i, e - i);
        i = e + 1;
    }
    return best;
}

/* A record literal of a bare term: it matches the event's _raw (or, without one, any of its
 * values: match.c spl_term_match), so the piece is there, looked for under the name "_raw"
 * (litfilter.c scans the record's _raw for it). TERM() and CASE() terms alike: a caseless
 * literal only lets more records through. */
static void rec_bare_lits(const snode *n, lits *out) {
    out->n = 0;
    esc_str b = best_glob_piece(n->val, n->val_len);
    if (!b.ptr)
        return;
    out->n = 1;
    out->c[0].nlit = 1;
    out->c[0].lit[0] = b;
    out->c[0].src[0] = n;
}

/* A record literal: the term tests values the record itself holds (a CIM field of a Processes
 * record, or a field of its field set; not index, which every event has, nor eventtype, whose
 * fallback is computed outside the field set), so a matching value contains the piece. */
static void rec_term_lits(const snode *n, lits *out) {
    out->n = 0;
    if (n->op != SOP_EQ)
        return;
    if (n->ref < 0 && (n->ref != FIELD_NAMED || esc_str_eq_c(n->fname, "index") ||
                       esc_str_eq_c(n->fname, "eventtype")))
        return;
    rec_bare_lits(n, out);
}

/* Same field (CIM id, or name in the field set; a bare term's is _raw). */
static bool same_field(const snode *a, const snode *b) {
    if (!a || !b)
        return a == b;
    if ((a->kind == SN_TERM) != (b->kind == SN_TERM))
        return false;
    if (a->kind == SN_TERM)
        return true;
    return a->ref == b->ref && (a->ref != FIELD_NAMED || esc_str_eq(a->fname, b->fname));
}

/* A literal of an event's metadata (source, sourcetype, host, index): every event of the
 * source has it, so it tells the events of a source apart from each other no better than the
 * source selection does. */
static bool meta_literal(const snode *src) {
    static const char *const meta[] = {"source", "sourcetype", "host", "index", NULL};
    if (!src || src->kind != SN_CMP || src->ref != FIELD_NAMED)
        return false;
    for (size_t k = 0; meta[k]; k++)
        if (esc_str_ieq(src->fname, esc_str_c(meta[k])))
            return true;
    return false;
}

/* The clause of l an OR takes for its side: any one holds for every record the side takes
 * (the side's clauses are ANDed); the one likeliest to rule records out is one that names more
 * than the events' metadata (a `sysmon` macro's sources come first), then the one whose
 * shortest literal is longest. */
static size_t or_clause(const lits *l) {
    size_t best = 0, best_score = 0;
    for (size_t k = 0; k < l->n; k++) {
        size_t shortest = SIZE_MAX;
        bool meta = true;
        for (size_t j = 0; j < l->c[k].nlit; j++) {
            if (l->c[k].lit[j].len < shortest)
                shortest = l->c[k].lit[j].len;
            meta = meta && meta_literal(l->c[k].src[j]);
        }
        size_t score = (meta ? 0 : (size_t)1 << 32) + (shortest == SIZE_MAX ? 0 : shortest);
        if (k == 0 || score > best_score) {
            best = k;
            best_score = score;
        }
    }
    return best;
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
    out->c[0].src[0] = NULL;
}

/* rows: the tree is a row search; field_of maps a column to its CIM origin. rec: record
 * literals (rec_term_lits) instead of the readers' text literals. */
static void tree_lits(const snode *n, const int *origin, size_t ncols, const char *fill, bool rec,
                      lits *out) {
    out->n = 0;
    if (!n)
        return;
    switch (n->kind) {
    case SN_ALL:
    case SN_NOT:
        return;
    case SN_TERM:
        if (rec)
            rec_bare_lits(n, out);
        return;
    case SN_CMP: {
        if (rec) {
            rec_term_lits(n, out);
            return;
        }
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
        tree_lits(n->l, origin, ncols, fill, rec, out);
        if (n->kind == SN_OR && !out->n)
            return;
        if (n->kind == SN_OR) { /* the left side's clause: the first of out */
            size_t k = or_clause(out);
            out->c[0] = out->c[k];
            out->n = 1;
        }
        lits *r = esc_malloc(sizeof *r);
        if (!r) {
            if (n->kind == SN_OR)
                out->n = 0; /* dropping clauses of an AND keeps it safe; an OR needs both */
            return;
        }
        tree_lits(n->r, origin, ncols, fill, rec, r);
        if (n->kind == SN_AND) {
            for (size_t k = 0; k < r->n && out->n < ESC_INTEREST_MAX_CLAUSES; k++)
                out->c[out->n++] = r->c[k];
        } else {
            size_t rk = or_clause(r); /* (0 when r has none) */
            if (!r->n || out->c[0].nlit + r->c[rk].nlit > ESC_INTEREST_MAX_LITERALS)
                out->n = 0;
            for (size_t k = 0; out->n && k < r->c[rk].nlit; k++) {
                esc_str x = r->c[rk].lit[k];
                const snode *xs = r->c[rk].src[k];
                size_t j = 0;
                while (j < out->c[0].nlit &&
                       !(esc_str_ieq(out->c[0].lit[j], x) && same_field(out->c[0].src[j], xs)))
                    j++;
                if (j == out->c[0].nlit) {
                    out->c[0].src[out->c[0].nlit] = xs;
                    out->c[0].lit[out->c[0].nlit++] = x;
                }
            }
        }
        esc_free(r);
        return;
    }
    }
}

static esc_status add_lits(esc_plan *p, const lits *l, esc_error *err) {
    size_t n = l->n < ESC_INTEREST_MAX_CLAUSES - p->nclauses
                   ? l->n
                   : ESC_INTEREST_MAX_CLAUSES - p->nclauses;
    if (n) { /* room for the clauses so far and these */
        esc_literal_clause *c = esc_arena_alloc(&p->arena, (p->nclauses + n) * sizeof *c);
        if (!c)
            return spl_plan_oom(err);
        if (p->nclauses)
            memcpy(c, p->clauses, p->nclauses * sizeof *c);
        p->clauses = c;
    }
    for (size_t k = 0; k < n; k++) {
        esc_literal_clause *c = &p->clauses[p->nclauses];
        c->nlit = 0;
        for (size_t j = 0; j < l->c[k].nlit; j++) {
            esc_str d = esc_arena_dup(&p->arena, l->c[k].lit[j]);
            if (!d.ptr)
                return spl_plan_oom(err);
            c->lit[c->nlit++] = d.ptr;
        }
        p->nclauses++;
    }
    return ESC_OK;
}

/* ---- an OR chain's exact values, looked up at once ---- */

/* A where clause's OR chains often list tens of values of one or two fields
 * (`Processes.process_name IN (...)` of a macro): rec_match tried each in turn. A chain with
 * SET_MIN or more members of the form field=value without a wildcard keeps those in a hash
 * table keyed by field and case-folded value, so a record's value is looked up once; the
 * chain's other members are tried in turn after it. The answer is the chain's: an OR has no
 * order to keep, and each member is read as rec_match reads it. */
#define SET_MIN 4

typedef struct set_ent {
    uint64_t h; /* 0: empty */
    const snode *leaf;
} set_ent;

struct snode_set {
    set_ent *slot;
    size_t mask;
    const snode **field; /* one exact member per distinct field */
    size_t *maxlen;      /* per field, its longest value */
    size_t nfield;
    const snode **rest; /* the chain's other members */
    size_t nrest;
};

/* A member the table can hold: field=value, no wildcard, of a field rec_match reads as a
 * Processes field or from the field set by name (not index, true for every event). */
static bool exact_member(const snode *n) {
    return n->kind == SN_CMP && n->op == SOP_EQ &&
           spl_glob_shape(n->val, n->val_len) == SPL_GLOB_EXACT &&
           (n->ref >= 0 || (n->ref == FIELD_NAMED && !esc_str_eq_c(n->fname, "index")));
}

static uint64_t value_hash(const snode *field, const char *s, size_t n) {
    uint64_t h = field->ref >= 0 ? (uint64_t)field->ref + 1 : esc_str_hash(field->fname);
    return esc_str_ihash(esc_str_make(s, n), h * 0x9e3779b97f4a7c15ULL) | 1;
}

typedef struct members {
    const snode **m;
    size_t n, cap;
    bool oom;
} members;

static void chain_members(const snode *n, members *out) {
    if (n->kind == SN_OR) {
        chain_members(n->l, out);
        chain_members(n->r, out);
        return;
    }
    if (out->n == out->cap && !ESC_VEC_GROW(out->m, out->cap, out->n + 1, 16)) {
        out->oom = true;
        return;
    }
    out->m[out->n++] = n;
}

/* n's chain's table, in p's arena, from its members m (nexact of them exact). */
static struct snode_set *make_set(esc_plan *p, const members *m, size_t nexact) {
    struct snode_set *s = esc_arena_alloc(&p->arena, sizeof *s);
    size_t cap = 8;
    while (cap < 2 * nexact)
        cap *= 2;
    if (!s || !(s->slot = esc_arena_alloc(&p->arena, cap * sizeof *s->slot)) ||
        !(s->field = esc_arena_alloc(&p->arena, nexact * sizeof *s->field)) ||
        !(s->maxlen = esc_arena_alloc(&p->arena, nexact * sizeof *s->maxlen)) ||
        !(s->rest = esc_arena_alloc(&p->arena, (m->n - nexact + 1) * sizeof *s->rest)))
        return NULL;
    memset(s->slot, 0, cap * sizeof *s->slot);
    s->mask = cap - 1;
    s->nfield = s->nrest = 0;
    for (size_t i = 0; i < m->n; i++) {
        const snode *x = m->m[i];
        if (!exact_member(x)) {
            s->rest[s->nrest++] = x;
            continue;
        }
        size_t f = 0;
        while (f < s->nfield && !same_field(s->field[f], x))
            f++;
        if (f == s->nfield) {
            s->field[s->nfield] = x;
            s->maxlen[s->nfield++] = 0;
        }
        if (s->maxlen[f] < x->val_len)
            s->maxlen[f] = x->val_len;
        uint64_t h = value_hash(x, x->val, x->val_len);
        size_t j = h & s->mask;
        while (s->slot[j].h)
            j = (j + 1) & s->mask;
        s->slot[j] = (set_ent){h, x};
    }
    return s;
}

/* n's tree made ready for records (rec_match): each comparison's pattern shape, and a table
 * at the top of each OR chain with SET_MIN exact members. */
static esc_status prepare_where(esc_plan *p, snode *n) {
    if (!n)
        return ESC_OK;
    if (n->kind == SN_CMP)
        n->shape = spl_glob_shape(n->val, n->val_len);
    if (n->kind == SN_AND || n->kind == SN_NOT) {
        esc_status st = prepare_where(p, n->l);
        if (!st && n->kind == SN_AND)
            st = prepare_where(p, n->r);
        return st;
    }
    if (n->kind != SN_OR)
        return ESC_OK;
    members m = {0};
    chain_members(n, &m);
    size_t nexact = 0;
    for (size_t i = 0; i < m.n; i++)
        nexact += exact_member(m.m[i]);
    esc_status st = m.oom ? ESC_ENOMEM : ESC_OK;
    if (!st && nexact >= SET_MIN && !(n->set = make_set(p, &m, nexact)))
        st = ESC_ENOMEM;
    for (size_t i = 0; !st && i < m.n; i++) /* the members themselves, and chains under them */
        st = prepare_where(p, (snode *)m.m[i]);
    esc_free(m.m);
    return st;
}

static bool rec_match(const snode *n, const esc_record *r);

/* The values of comparison n's field in r, at most 64 (buf: room for _time's text). */
static size_t cmp_values(const snode *n, const esc_record *r, esc_str *vals, char *buf,
                         size_t bcap) {
    if (n->ref >= 0) /* the fixed Processes record */
        return (vals[0] = r->v[n->ref]).ptr != NULL;
    size_t nv = spl_rec_values(r, n->ref, n->fname, vals, 64, buf, bcap);
    return nv < 64 ? nv : 64;
}

static bool set_match(const struct snode_set *s, const esc_record *r) {
    for (size_t f = 0; f < s->nfield; f++) {
        const snode *fl = s->field[f];
        esc_str vals[64];
        char buf[32];
        size_t nv = cmp_values(fl, r, vals, buf, sizeof buf);
        for (size_t k = 0; k < nv; k++) {
            if (vals[k].len > s->maxlen[f])
                continue;
            uint64_t h = value_hash(fl, vals[k].ptr, vals[k].len);
            for (size_t j = h & s->mask; s->slot[j].h; j = (j + 1) & s->mask) {
                const snode *x = s->slot[j].leaf;
                if (s->slot[j].h == h && same_field(x, fl) && x->val_len == vals[k].len &&
                    esc_str_ieq(esc_str_make(x->val, x->val_len), vals[k]))
                    return true;
            }
        }
    }
    for (size_t i = 0; i < s->nrest; i++)
        if (rec_match(s->rest[i], r))
            return true;
    return false;
}

/* The record clauses of the main where clause (esc_plan_main_clauses; esc_plan_record_clauses
 * gives them only when no stage has a subsearch, which takes records the main where clause
 * does not). */
static esc_status plan_record_literals(esc_plan *p, esc_error *err) {
    for (size_t i = 1; i < p->nstages; i++)
        if (p->stages[i].sub)
            p->has_sub = true;
    if (prepare_where(p, p->stages[0].where) != ESC_OK)
        return spl_plan_oom(err);
    lits *l = esc_malloc(sizeof *l);
    if (!l)
        return spl_plan_oom(err);
    tree_lits(p->stages[0].where, NULL, 0, NULL, true, l);
    esc_status rc = ESC_OK;
    if (l->n && !(p->rclauses = esc_arena_alloc(&p->arena, l->n * sizeof *p->rclauses)))
        rc = spl_plan_oom(err);
    for (size_t k = 0; rc == ESC_OK && k < l->n; k++) {
        spl_rclause *c = &p->rclauses[k];
        c->nlit = 0;
        if (!(c->lit = esc_arena_alloc(&p->arena, l->c[k].nlit * sizeof *c->lit))) {
            rc = spl_plan_oom(err);
            break;
        }
        for (size_t j = 0; j < l->c[k].nlit; j++) {
            const snode *t = l->c[k].src[j];
            bool cim = t->kind == SN_CMP && t->ref >= 0;
            esc_str d = esc_arena_dup(&p->arena, l->c[k].lit[j]);
            esc_str f =
                cim ? ESC_STR_NULL
                    : esc_arena_dup(&p->arena, t->kind == SN_TERM ? esc_str_c("_raw") : t->fname);
            if (!d.ptr || (!cim && !f.ptr)) {
                rc = spl_plan_oom(err);
                break;
            }
            c->lit[c->nlit++] = (esc_plan_rlit){d.ptr, cim ? t->ref : -1, f.ptr};
        }
        p->nrclauses = k + 1;
    }
    esc_free(l);
    return rc;
}

static esc_status plan_literals(esc_plan *p, esc_error *err) {
    const stage *ts = &p->stages[0];
    esc_status rrc = plan_record_literals(p, err);
    if (rrc != ESC_OK)
        return rrc;
    /* a subsearch reads records the main search's literals know nothing about: the clauses
     * would be a disjunction of conjunctions, which the interest set cannot say */
    if (p->has_join)
        return ESC_OK;
    lits l;
    tree_lits(ts->where, NULL, 0, NULL, false, &l);
    esc_status rc = add_lits(p, &l, err);
    if (rc != ESC_OK)
        return rc;
    /* row searches count while every stage before them keeps rows independent of each other:
     * a record lacking the literal only feeds groups whose BY value lacks it too */
    for (size_t i = 1; i < p->nstages; i++) {
        const stage *st = &p->stages[i];
        if (st->cmd->flags & SPL_CMD_BARRIER)
            break;
        if (!(st->cmd->flags & SPL_CMD_ROW_SEARCH))
            continue;
        const schema *in = &p->stages[i - 1].out;
        tree_lits(st->where, in->origin, in->n, ts->fill ? ts->fillnull : NULL, false, &l);
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
        if ((rc = p->stages[i].cmd->plan(p, &p->stages[i], in, err)) != ESC_OK)
            return rc;
        in = &p->stages[i].out;
    }
    if ((rc = spl_plan_live(p, err)) != ESC_OK)
        return rc;
    spl_plan_unique(p);
    return plan_literals(p, err);
}

/* A nested plan of text (expanded already) at offset `at` of the parent's search: a subsearch,
 * appendpipe's subpipeline (pipe_in: the schema of the results it reads) or map's search
 * (names: the text whose field names its rows keep). */
static esc_status nested(esc_plan *parent, stage *st, const char *text, size_t len, size_t at,
                         const schema *pipe_in, const char *names, esc_error *err) {
    esc_plan *p = esc_calloc(1, sizeof *p);
    if (!p)
        return spl_plan_oom(err);
    esc_arena_init(&p->arena, PLAN_ARENA_BLOCK, 0);
    p->env = parent->env;
    p->depth = parent->depth + 1;
    p->pipe_in = pipe_in;
    p->names_text = names;
    esc_status rc;
    if (p->depth > 4) {
        rc = esc_error_at(err, ESC_ELIMIT, NULL, at, "subsearches nested deeper than 4");
        goto fail;
    }
    if (!(p->expanded = esc_strndup(text, len))) {
        rc = spl_plan_oom(err);
        goto fail;
    }
    if ((rc = plan_all(p, err)) != ESC_OK) {
        if (err && err->has_offset)
            err->offset += at;
        goto fail;
    }
    p->env = NULL;
    p->pipe_in = NULL; /* the parent's schema: valid while it plans */
    st->sub = p;
    return ESC_OK;
fail:
    esc_plan_free(p);
    return rc;
}

/* The whole search's commands after its source (a subpipeline keeps its root's, for a map
 * inside it). */
static const char *root_text(const esc_plan *p) {
    return p->names_text ? p->names_text : p->expanded + p->stages[0].end;
}

esc_status spl_subpipe(esc_plan *parent, stage *st, const schema *in, esc_error *err) {
    return nested(parent, st, st->sub_text, st->sub_len, st->sub_start, in, root_text(parent), err);
}

esc_status spl_submap(esc_plan *parent, stage *st, const char *text, esc_error *err) {
    return nested(parent, st, text, strlen(text), st->sub_start, NULL, root_text(parent), err);
}

esc_status spl_subplan(esc_plan *parent, stage *st, esc_error *err) {
    esc_plan *p = esc_calloc(1, sizeof *p);
    if (!p)
        return spl_plan_oom(err);
    esc_arena_init(&p->arena, PLAN_ARENA_BLOCK, 0);
    p->env = parent->env;
    p->depth = parent->depth + 1;
    esc_status rc;
    if (p->depth > 4) {
        rc = esc_error_at(err, ESC_ELIMIT, NULL, st->sub_start, "subsearches nested deeper than 4");
        goto fail;
    }
    p->expanded = esc_strndup(st->sub_text, st->sub_len);
    if (!p->expanded) {
        rc = spl_plan_oom(err);
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

/* A raw-event search's rows hold a column for every word of its later commands that may name
 * a field (cmd_raw.c), filled from each event and carried, copied and freed with the row by
 * every command up to its first stats: BRC4 Loaded Dll's 44, of which 8 are read. When the
 * first planning finds columns of the first stage that no later stage reads (spl/live.c), the
 * search is planned again without those words: the same rows (a column no later command reads,
 * nor copies into one read, has no say in them; the words inside "..." count as the first
 * planning settled), narrower. *pp is the new plan, or stays the first (out of memory
 * planning again: the first one is as good). */
static void narrow_raw(esc_plan **pp, const esc_spl_env *env) {
    const esc_plan *p = *pp;
    const stage *st = &p->stages[0];
    if (st->cmd != &spl_cmd_raw || !st->dead)
        return;
    size_t ndead = 0;
    for (size_t c = 1; c < st->out.n; c++) /* (column 0, _time, orders the rows: it stays) */
        ndead += st->dead[c];
    if (!ndead)
        return;
    esc_plan *q = esc_calloc(1, sizeof *q);
    const char **skip;
    if (q)
        esc_arena_init(&q->arena, PLAN_ARENA_BLOCK, 0);
    if (q && (skip = esc_arena_alloc(&q->arena, ndead * sizeof *skip)) != NULL &&
        (q->expanded = esc_strdup(p->expanded)) != NULL) {
        for (size_t c = 1; c < st->out.n; c++)
            if (st->dead[c] && (skip[q->nraw_skip] = esc_arena_strdup(&q->arena, st->out.name[c])))
                q->nraw_skip++;
        q->raw_skip = skip;
        q->raw_quoted = p->raw_quoted;
        q->env = env;
        if (q->nraw_skip == ndead && plan_all(q, NULL) == ESC_OK) {
            q->env = NULL;
            esc_plan_free(*pp);
            *pp = q;
            return;
        }
    }
    esc_plan_free(q);
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
    esc_arena_init(&p->arena, PLAN_ARENA_BLOCK, 0);
    p->env = env;
    esc_status rc = esc_spl_expand(search, macros, &p->expanded, err);
    if (rc != ESC_OK) {
        if (err_text)
            *err_text = esc_strdup(search ? search : "");
        goto fail;
    }
    if ((rc = plan_all(p, err)) != ESC_OK)
        goto fail_text;
    narrow_raw(&p, env);
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
        if (st->cmd->free)
            st->cmd->free(st);
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

/* A channel pattern holds for any event while meta (its source may not be its channel's). */
static bool chan_ok(const esc_plan *p, const esc_event *ev, bool meta) {
    if (p->any_chan)
        return true;
    for (size_t i = 0; i < p->nchans; i++) { /* lengths first: most channels differ there */
        if (p->chan_glob && strchr(p->chans[i], '*')) {
            if (meta ||
                spl_glob_imatch(p->chans[i], p->chan_len[i], ev->channel.ptr, ev->channel.len))
                return true;
        } else if (ev->channel.len == p->chan_len[i] &&
                   esc_str_ieq(ev->channel, esc_str_make(p->chans[i], p->chan_len[i]))) {
            return true;
        }
    }
    return false;
}

/* Whether field name n, past its first '@' when it has one (fields.c: attribute names), is
 * source, sourcetype or eventtype: the name's end first, since almost no field's matches. */
static bool meta_name(esc_str n) {
    if (n.len < 6 || n.ptr[n.len - 1] != 'e') /* all three end so */
        return false;
    const char *end = n.ptr + n.len;
    size_t l = 0;
    if (memcmp(end - 6, "source", 6) == 0)
        l = 6;
    else if (n.len >= 10 && memcmp(end - 10, "sourcetype", 10) == 0)
        l = 10;
    else if (n.len >= 9 && memcmp(end - 9, "eventtype", 9) == 0)
        l = 9;
    return l && (n.len == l || (end[-(long)l - 1] == '@' && !memchr(n.ptr, '@', n.len - l - 1)));
}

bool esc_plan_event_meta(const esc_event *ev) {
    for (size_t i = 0; i < ev->ndata + ev->nsys; i++)
        if (meta_name(i < ev->ndata ? ev->data[i].name : ev->sys[i - ev->ndata].name))
            return true;
    return false;
}

bool esc_plan_never(const esc_plan *p) {
    return p->ds == ESC_DS_RAW && p->never && !p->has_sub;
}

uint32_t esc_plan_select_meta(const esc_plan *p, const esc_event *ev, bool meta) {
    uint32_t m = 0;
    if (p->ds == ESC_DS_RAW) {
        bool code = p->any_code;
        for (size_t i = 0; !code && i < p->ncodes; i++)
            code = ev->has_event_id && ev->event_id == p->codes[i];
        if (code && (meta || !p->never) && chan_ok(p, ev, meta))
            m |= 1u << ESC_DS_RAW;
    } else if (p->ds != ESC_DS_PROCESSES && esc_dm_wants(p->ds, ev)) {
        m |= 1u << p->ds;
    }
    for (size_t i = 1; p->has_sub && i < p->nstages; i++)
        if (p->stages[i].sub)
            m |= esc_plan_select_meta(p->stages[i].sub, ev, meta);
    return m;
}

uint32_t esc_plan_select(const esc_plan *p, const esc_event *ev) {
    return esc_plan_select_meta(p, ev, esc_plan_event_meta(ev));
}

uint32_t esc_plan_datasets(const esc_plan *p) {
    uint32_t m = p->ds < ESC_DS_N ? 1u << p->ds : 0; /* inputlookup reads no dataset */
    for (size_t i = 1; i < p->nstages; i++)
        if (p->stages[i].sub)
            m |= esc_plan_datasets(p->stages[i].sub);
    return m;
}

static bool add_source(esc_win_source *out, size_t max, size_t *n, esc_win_source w) {
    for (size_t i = 0; i < *n; i++)
        if (out[i].event_id == w.event_id &&
            (!out[i].provider || (w.provider && !strcmp(out[i].provider, w.provider))))
            return true;
    if (*n == max)
        return false;
    out[(*n)++] = w;
    return true;
}

bool esc_plan_win_sources(const esc_plan *p, esc_win_source *out, size_t max, size_t *n) {
    if (p->ds == ESC_DS_RAW) {
        if (p->any_code)
            return false;
        for (size_t i = 0; i < p->ncodes; i++)
            if (!add_source(out, max, n, (esc_win_source){NULL, p->codes[i]}))
                return false;
    } else if (p->ds != ESC_DS_PROCESSES) {
        esc_win_source w[ESC_INTEREST_MAX_WIN];
        size_t k = esc_dm_sources(p->ds, w, ESC_INTEREST_MAX_WIN);
        if (k > ESC_INTEREST_MAX_WIN)
            return false;
        for (size_t i = 0; i < k; i++)
            if (!add_source(out, max, n, w[i]))
                return false;
    }
    for (size_t i = 1; i < p->nstages; i++)
        if (p->stages[i].sub && !esc_plan_win_sources(p->stages[i].sub, out, max, n))
            return false;
    return true;
}

size_t esc_plan_record_clauses(const esc_plan *p) {
    return p && !p->has_sub ? p->nrclauses : 0;
}

size_t esc_plan_main_clauses(const esc_plan *p) {
    return p ? p->nrclauses : 0;
}

int esc_plan_source(const esc_plan *p) {
    return p->ds;
}

size_t esc_plan_alts(const esc_plan *p, const esc_plan **alts, size_t max) {
    size_t n = 0;
    if (max)
        alts[0] = p;
    n++;
    for (size_t i = 1; i < p->nstages; i++)
        if (p->stages[i].sub)
            n += esc_plan_alts(p->stages[i].sub, n < max ? alts + n : NULL, n < max ? max - n : 0);
    return n;
}

size_t esc_plan_record_clause(const esc_plan *p, size_t k, const esc_plan_rlit **out) {
    *out = p->rclauses[k].lit;
    return p->rclauses[k].nlit;
}

uint32_t esc_plan_fields(const esc_plan *p) {
    return p ? p->fields : 0;
}

/* ---- record predicate ---- */

static bool cmp_value(const snode *n, esc_str v) {
    if (n->op == SOP_EQ)
        return spl_glob_imatch_shaped(n->shape, n->val, n->val_len, v.ptr, v.len);
    if (n->op == SOP_NE)
        return !spl_glob_imatch_shaped(n->shape, n->val, n->val_len, v.ptr, v.len);
    double a, b;
    int c;
    if (spl_parse_num(v.ptr, v.len, &a) && spl_parse_num(n->val, n->val_len, &b))
        c = a < b ? -1 : a > b;
    else
        c = esc_str_cmp(v, esc_str_make(n->val, n->val_len));
    switch (n->op) {
    case SOP_LT:
        return c < 0;
    case SOP_LE:
        return c <= 0;
    case SOP_GT:
        return c > 0;
    case SOP_GE:
        return c >= 0;
    default:
        return false;
    }
}

static bool rec_match(const snode *n, const esc_record *r) {
    switch (n->kind) {
    case SN_ALL:
        return true;
    case SN_AND:
        return rec_match(n->l, r) && rec_match(n->r, r);
    case SN_OR:
        if (n->set)
            return set_match(n->set, r);
        return rec_match(n->l, r) || rec_match(n->r, r);
    case SN_NOT:
        return !rec_match(n->l, r);
    case SN_TERM:
        return spl_term_match(n, r);
    case SN_CMP: {
        if (n->ref >= 0) /* one value (cmp_values's first case), tested at once: the hot path */
            return r->v[n->ref].ptr && cmp_value(n, r->v[n->ref]);
        if (r->ds == ESC_DS_RAW && n->ref == FIELD_NAMED && esc_str_eq_c(n->fname, "index"))
            return n->op == SOP_EQ; /* escudo has one index: every event is in it */
        esc_str vals[64];
        char buf[32];
        size_t nv = cmp_values(n, r, vals, buf, sizeof buf);
        if (n->op == SOP_NE) { /* the field exists and no value is the pattern */
            if (!nv)
                return false;
            for (size_t k = 0; k < nv; k++)
                if (!cmp_value(n, vals[k]))
                    return false;
            return true;
        }
        for (size_t k = 0; k < nv; k++)
            if (cmp_value(n, vals[k]))
                return true;
        return false;
    }
    }
    return false;
}

bool esc_plan_record_matches(const esc_plan *p, const esc_record *r) {
    const snode *w = p->stages[0].where;
    if (r->ds == (esc_dataset)p->ds && (!w || rec_match(w, r)))
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
    return r->ds == (esc_dataset)p->ds && (!w || rec_match(w, r));
}

bool spl_row_match(const snode *n, const esc_cell *row, size_t ncols) {
    switch (n->kind) {
    case SN_ALL:
        return true;
    case SN_AND:
        return spl_row_match(n->l, row, ncols) && spl_row_match(n->r, row, ncols);
    case SN_OR:
        return spl_row_match(n->l, row, ncols) || spl_row_match(n->r, row, ncols);
    case SN_NOT:
        return !spl_row_match(n->l, row, ncols);
    case SN_TERM:
        return false;
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
    spl_explain_snode(n, out);
    while (depth > 0) {
        const snode *p = spine[--depth];
        esc_buf_append_c(out, ", ");
        if (p->r->kind == k)
            explain_chain(p->r, k, out);
        else
            spl_explain_snode(p->r, out);
    }
    esc_free(spine);
}

esc_status spl_explain_snode(const snode *n, esc_buf *out) {
    if (!n)
        return esc_buf_append_c(out, "*");
    switch (n->kind) {
    case SN_ALL:
        return esc_buf_append_c(out, "*");
    case SN_NOT:
        esc_buf_append_c(out, "NOT(");
        spl_explain_snode(n->l, out);
        return esc_buf_append_c(out, ")");
    case SN_AND:
    case SN_OR:
        esc_buf_append_c(out, n->kind == SN_AND ? "AND(" : "OR(");
        explain_chain(n, n->kind, out);
        return esc_buf_append_c(out, ")");
    case SN_TERM:
        esc_buf_append_c(out, n->term_major ? "TERM(" : n->term_case ? "CASE(" : "term(");
        esc_buf_append(out, n->val, n->val_len);
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

esc_status esc_plan_explain(const esc_plan *p, esc_buf *out) {
    esc_buf_printf(out, "expanded: %s\n", p->expanded);
    for (size_t i = 0; i < p->nstages; i++) {
        const stage *st = &p->stages[i];
        esc_buf_printf(out, "stage %zu: %s", i + 1, st->name);
        if (st->cmd->explain)
            st->cmd->explain(st, out);
        esc_buf_append_c(out, "\n  columns:");
        for (size_t k = 0; k < st->out.n; k++)
            esc_buf_printf(out, " %s%s", st->out.name[k], st->out.mv[k] ? "[]" : "");
        if (st->dead) { /* live.c: aggregates landing here are not filled */
            esc_buf_append_c(out, "\n  unread:");
            for (size_t k = 0; k < st->out.n; k++)
                if (st->dead[k])
                    esc_buf_printf(out, " %s", st->out.name[k]);
        }
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
    if (n - off >= 3 && memcmp(s + off, "```", 3) == 0) /* a comment's opening */
        return 3;
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
