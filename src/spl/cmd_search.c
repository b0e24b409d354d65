/* search EXPRESSION after the first command: keep the rows the search expression matches.
 *
 * Invariants: terms are field=value globs (ASCII case-insensitive) over a row's columns, a
 * multivalue cell matching when any value does; a field no column has matches no term (so
 * `NOT f=x` keeps the row); an empty search keeps every row. Its literals may feed the record
 * prefilter (SPL_CMD_ROW_SEARCH, plan.c). `search [SUBSEARCH]` (the subsearch the whole
 * expression) runs the subsearch over the same records and window after them, and keeps the
 * rows that match one of its rows as Splunk's implicit format writes it (Search Manual, "About
 * subsearches"): every non-null column of the subsearch row equal to the row's field (a search
 * term: case-insensitive, `*` a wildcard; a multivalue cell any of its values), at most
 * ESC_SPL_SUBSEARCH_ROWS subsearch rows (limits.conf [subsearch] maxout); no subsearch row keeps
 * nothing; rows meet the subsearch rows through a literal per subsearch value (sub_col), not
 * one by one. Splunk's 60-second maxtime has no counterpart: the subsearch has read its records
 * when it runs. A subsearch inside a longer expression is run while planning when it reads no
 * records (parse.c), else refused. A bare word is an error here: the rows after the first
 * command have no _raw (a raw-event search's own bare terms are parse.c's and match.c's). */
#include <hs/hs.h>
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"

static bool parse_search(spl_parser *P, stage *st) {
    if (spl_at_end(P))
        return true;
    if (spl_peek(P) == '[') { /* search [SUBSEARCH] */
        size_t at = P->pos;
        if (!spl_parse_subsearch(P, st))
            return false;
        if (spl_at_end(P))
            return spl_parse_subplan(P, st);
        st->sub_text = NULL; /* more terms follow: the expression parser takes it */
        P->pos = at;
    }
    st->where = spl_parse_search(P, false);
    if (!st->where)
        return false;
    if (spl_peek(P) == ')') {
        spl_fail(P, P->pos, "unbalanced parenthesis: ')' without '('");
        return false;
    }
    return spl_expect_end(P, "search");
}

/* ---- resolution ---- */

static void resolve_snode_rows(snode *n, const schema *s) {
    if (!n)
        return;
    if (n->kind == SN_CMP)
        n->ref = spl_schema_find(s, n->field);
    resolve_snode_rows(n->l, s);
    resolve_snode_rows(n->r, s);
}

static esc_status plan_search(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    resolve_snode_rows(st->where, in);
    if (!spl_schema_copy(p, &st->out, in, 0))
        return spl_plan_oom(err);
    if (!st->sub)
        return ESC_OK;
    const schema *sub = &st->sub->stages[st->sub->nstages - 1].out;
    if (!(st->cols = esc_arena_alloc(&p->arena, (sub->n ? sub->n : 1) * sizeof *st->cols)))
        return spl_plan_oom(err);
    for (size_t c = 0; c < sub->n; c++) /* subsearch column -> the row's column, or -1 */
        st->cols[c] = spl_schema_find(in, sub->name[c]);
    st->nmap = sub->n;
    p->fields |= st->sub->fields;
    if (esc_plan_datasets(st->sub)) /* it reads records the literals know nothing of */
        p->has_join = true;
    return ESC_OK;
}

/* The subsearch rows, column by column: each distinct value of a column's cells is a pattern
 * (a search term's glob) with the rows that hold it, found through one piece of it without a
 * '*' (a Hyperscan literal, caseless: a glob cannot match a value that lacks one of its pieces;
 * which piece: choose_pieces) and then matched whole (spl_glob_imatch); patterns of no piece
 * ("", "*") are tried on every value. Table row r matches subsearch row q when each non-null
 * column of q has a pattern of q matching a value of r's cell: got[q] counts those columns for
 * r (tok_at[q], the last (row, column) counted for q, tells whether got[q] is r's, from row_tok
 * on, and keeps several values from counting a column twice). Trying each row against every
 * subsearch row took |t| x 10,000 glob matches; now a value costs one literal scan and the globs
 * whose piece it holds. */
typedef struct sub_col {
    hs_database_t *db;           /* the pieces, by literal; NULL: none */
    size_t *lit_first, *lit_pat; /* per literal: its patterns (compile_literals) */
    const char **glob;           /* per pattern */
    size_t *first; /* per pattern u: its subsearch rows are rows[first[u] .. first[u+1]) */
    size_t *rows, npat;
    size_t *bare, nbare; /* the patterns of no piece */
} sub_col;

typedef struct sub_scan {
    size_t ncols;
    sub_col *col; /* per subsearch column (no pattern: no row that can match has it) */
    hs_scratch_t *scratch;
    uint32_t *need, *got; /* per subsearch row: its non-null columns (0: matches nothing) */
    size_t *tok_at;
    size_t tok, row_tok; /* the current (row, column), numbered from 1; the row's first */
    const sub_col *at;   /* the column being scanned, */
    const char *v;       /* and its value */
    size_t vlen;
    bool hit;
} sub_scan;

/* need[q] for the first nq subsearch rows: a row with a non-null column the table rows lack,
 * or none, matches nothing. */
static void count_columns(sub_scan *m, const stage *st, const esc_table *s, size_t nq) {
    for (size_t q = 0; q < nq; q++) {
        uint32_t n = 0;
        for (size_t c = 0; c < m->ncols; c++) {
            if (!esc_table_cell(s, q, c)->n)
                continue;
            if (st->cols[c] < 0) {
                n = 0;
                break;
            }
            n++;
        }
        m->need[q] = n;
    }
}

typedef struct sub_value {
    const char *v;
    size_t q;
} sub_value;

static int cmp_value(const void *a, const void *b) {
    const sub_value *x = a, *y = b;
    int c = strcmp(x->v, y->v);
    return c ? c : (x->q > y->q) - (x->q < y->q);
}

/* A piece of a pattern: text between its '*'s, and how many patterns have a piece of the same
 * text, case aside. */
typedef struct sub_piece {
    const char *p;
    size_t len, u, shared;
} sub_piece;

/* Pieces by their text, case aside. */
static int cmp_text(const sub_piece *x, const sub_piece *y) {
    size_t n = x->len < y->len ? x->len : y->len;
    for (size_t i = 0; i < n; i++) {
        int c = esc_lower((unsigned char)x->p[i]) - esc_lower((unsigned char)y->p[i]);
        if (c)
            return c;
    }
    return (x->len > y->len) - (x->len < y->len);
}

static int cmp_piece(const void *a, const void *b) {
    const sub_piece *x = a, *y = b;
    int c = cmp_text(x, y);
    return c ? c : (x->u > y->u) - (x->u < y->u);
}

/* The pieces of the npat patterns glob[] (NULL when out of memory), *n of them: each
 * pattern's runs of bytes without '*'. */
static sub_piece *pieces_of(const char *const *glob, size_t npat, size_t *n) {
    size_t cap = 0;
    for (size_t u = 0; u < npat; u++)
        cap += strlen(glob[u]) / 2 + 1;
    sub_piece *pc = esc_malloc((cap ? cap : 1) * sizeof *pc);
    *n = 0;
    for (size_t u = 0; pc && u < npat; u++)
        for (const char *p = glob[u]; *p;) {
            size_t k = strcspn(p, "*");
            if (k)
                pc[(*n)++] = (sub_piece){p, k, u, 0};
            p += k + (p[k] == '*');
        }
    return pc;
}

/* best[u]: the piece pattern u is looked for by, the one of its pieces fewest patterns share,
 * the longest of those (len 0: it has none). A piece most patterns share (`\appdata\` of
 * `*\appdata\*\a.exe`, `*\appdata\*\b.exe`, ...) would have each value holding it try all those
 * globs; the longest piece alone was that. */
static bool choose_pieces(const char *const *glob, size_t npat, sub_piece *best) {
    size_t n;
    sub_piece *pc = pieces_of(glob, npat, &n);
    if (!pc)
        return false;
    qsort(pc, n, sizeof *pc, cmp_piece);
    for (size_t i = 0, j; i < n; i = j) { /* a run of one text: its distinct patterns */
        size_t shared = 1;
        for (j = i + 1; j < n && !cmp_text(&pc[j], &pc[i]); j++)
            shared += pc[j].u != pc[j - 1].u;
        for (size_t k = i; k < j; k++)
            pc[k].shared = shared;
    }
    for (size_t u = 0; u < npat; u++)
        best[u] = (sub_piece){glob[u], 0, u, SIZE_MAX};
    for (size_t i = 0; i < n; i++) {
        sub_piece *b = &best[pc[i].u];
        if (pc[i].shared < b->shared || (pc[i].shared == b->shared && pc[i].len > b->len))
            *b = pc[i];
    }
    esc_free(pc);
    return true;
}

/* d's database: one literal per distinct piece text, case aside, its id the literal's index;
 * lit_pat[lit_first[l] .. lit_first[l+1]) the patterns looked for by literal l (one each: many
 * patterns looked for by one text, 10,000 Hyperscan literals of it, took Hyperscan 1.5 s and
 * 230 MB to compile). The patterns of no piece go to bare. best[] (see choose_pieces) is
 * reordered. */
static esc_status compile_literals(sub_col *d, sub_piece *best, esc_error *err) {
    size_t m = 0;
    for (size_t u = 0; u < d->npat; u++)
        if (best[u].len)
            best[m++] = best[u];
        else
            d->bare[d->nbare++] = u;
    qsort(best, m, sizeof *best, cmp_piece);
    const char **text = esc_malloc((m ? m : 1) * sizeof *text);
    size_t *len = esc_malloc((m ? m : 1) * sizeof *len);
    unsigned *ids = esc_malloc((m ? m : 1) * sizeof *ids);
    unsigned *flags = esc_malloc((m ? m : 1) * sizeof *flags);
    d->lit_first = esc_malloc((m + 1) * sizeof *d->lit_first);
    d->lit_pat = esc_malloc((m ? m : 1) * sizeof *d->lit_pat);
    esc_status rc = ESC_OK;
    if (!text || !len || !ids || !flags || !d->lit_first || !d->lit_pat) {
        rc = spl_exec_oom(err);
        goto out;
    }
    size_t nlit = 0;
    for (size_t k = 0; k < m; k++) {
        d->lit_pat[k] = best[k].u;
        if (k && !cmp_text(&best[k], &best[k - 1]))
            continue;
        d->lit_first[nlit] = k;
        text[nlit] = best[k].p;
        len[nlit] = best[k].len;
        ids[nlit] = (unsigned)nlit;
        flags[nlit++] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
    }
    d->lit_first[nlit] = m;
    hs_compile_error_t *cerr = NULL; /* not esc_hs_compile: the values are data, and its cache
                                        folder would keep a database for every subsearch run */
    if (nlit && hs_compile_lit_multi(text, flags, ids, len, (unsigned)nlit, HS_MODE_BLOCK, NULL,
                                     &d->db, &cerr) != HS_SUCCESS) {
        rc = esc_error_set(err, ESC_EINTERNAL, "search [...]: subsearch values do not compile: %s",
                           cerr ? cerr->message : "?");
        hs_free_compile_error(cerr);
    }
out:
    esc_free(text);
    esc_free(len);
    esc_free(ids);
    esc_free(flags);
    return rc;
}

/* The patterns of column c (the values of the rows that can match, sorted into vals[0..n)) and
 * the database of their pieces. */
static esc_status compile_pieces(sub_col *d, const sub_value *vals, size_t n, esc_error *err) {
    sub_piece *best = esc_malloc(n * sizeof *best);
    d->glob = esc_malloc(n * sizeof *d->glob);
    d->first = esc_malloc((n + 1) * sizeof *d->first);
    d->rows = esc_malloc(n * sizeof *d->rows);
    d->bare = esc_malloc(n * sizeof *d->bare);
    esc_status rc = ESC_OK;
    if (!best || !d->glob || !d->first || !d->rows || !d->bare) {
        rc = spl_exec_oom(err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        d->rows[i] = vals[i].q;
        if (i && !strcmp(vals[i].v, vals[i - 1].v))
            continue;
        d->first[d->npat] = i;
        d->glob[d->npat++] = vals[i].v;
    }
    d->first[d->npat] = n;
    rc = choose_pieces(d->glob, d->npat, best) ? compile_literals(d, best, err) : spl_exec_oom(err);
out:
    esc_free(best);
    return rc;
}

/* Column c's patterns, from the rows that can match. */
static esc_status build_column(sub_scan *m, const esc_table *s, size_t nq, size_t c,
                               esc_error *err) {
    size_t n = 0;
    for (size_t q = 0; q < nq; q++)
        n += m->need[q] ? esc_table_cell(s, q, c)->n : 0;
    if (!n)
        return ESC_OK;
    sub_value *vals = esc_malloc(n * sizeof *vals);
    if (!vals)
        return spl_exec_oom(err);
    for (size_t q = 0, k = 0; q < nq; q++) {
        const esc_cell *v = esc_table_cell(s, q, c);
        for (size_t i = 0; m->need[q] && i < v->n; i++)
            vals[k++] = (sub_value){v->v[i], q};
    }
    qsort(vals, n, sizeof *vals, cmp_value);
    esc_status rc = compile_pieces(&m->col[c], vals, n, err);
    esc_free(vals);
    if (!rc && m->col[c].db && hs_alloc_scratch(m->col[c].db, &m->scratch) != HS_SUCCESS)
        rc = spl_exec_oom(err);
    return rc;
}

static esc_status scan_build(sub_scan *m, const stage *st, const esc_table *s, size_t nq,
                             esc_error *err) {
    m->ncols = s->ncols < st->nmap ? s->ncols : st->nmap;
    size_t rows = nq ? nq : 1;
    m->col = esc_calloc(m->ncols ? m->ncols : 1, sizeof *m->col);
    m->need = esc_calloc(rows, sizeof *m->need);
    m->got = esc_calloc(rows, sizeof *m->got);
    m->tok_at = esc_calloc(rows, sizeof *m->tok_at);
    if (!m->col || !m->need || !m->got || !m->tok_at)
        return spl_exec_oom(err);
    count_columns(m, st, s, nq);
    esc_status rc = ESC_OK;
    for (size_t c = 0; c < m->ncols && !rc; c++)
        rc = build_column(m, s, nq, c, err);
    return rc;
}

static void scan_free(sub_scan *m) {
    for (size_t c = 0; m->col && c < m->ncols; c++) {
        sub_col *d = &m->col[c];
        hs_free_database(d->db);
        esc_free(d->glob);
        esc_free(d->first);
        esc_free(d->rows);
        esc_free(d->bare);
        esc_free(d->lit_first);
        esc_free(d->lit_pat);
    }
    hs_free_scratch(m->scratch);
    esc_free(m->col);
    esc_free(m->need);
    esc_free(m->got);
    esc_free(m->tok_at);
}

/* Pattern u against the value being scanned; when it matches, its rows count this column.
 * Whether a subsearch row is now matched whole. */
static bool try_pattern(sub_scan *m, size_t u) {
    const sub_col *d = m->at;
    if (!spl_glob_imatch(d->glob[u], strlen(d->glob[u]), m->v, m->vlen))
        return false;
    for (size_t i = d->first[u]; i < d->first[u + 1]; i++) {
        size_t q = d->rows[i];
        if (m->tok_at[q] == m->tok)
            continue; /* this column of this row counted already */
        if (m->tok_at[q] < m->row_tok)
            m->got[q] = 0; /* counted for an earlier row */
        m->tok_at[q] = m->tok;
        if (++m->got[q] == m->need[q])
            return m->hit = true;
    }
    return false;
}

static int on_piece(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *arg) {
    (void)from, (void)to, (void)flags;
    sub_scan *m = arg;
    const sub_col *d = m->at;
    for (size_t k = d->lit_first[id]; k < d->lit_first[id + 1]; k++)
        if (try_pattern(m, d->lit_pat[k]))
            return 1; /* a match: stop scanning */
    return 0;
}

/* Whether a table row (its cells) matches a subsearch row: m->hit. */
static esc_status scan_row(sub_scan *m, const stage *st, const esc_cell *row, esc_error *err) {
    m->row_tok = m->tok + 1;
    m->hit = false;
    for (size_t c = 0; c < m->ncols && !m->hit; c++) {
        const sub_col *d = m->at = &m->col[c];
        if (!d->npat)
            continue;
        const esc_cell *have = &row[st->cols[c]];
        m->tok++;
        for (size_t k = 0; k < have->n && !m->hit; k++) {
            m->v = have->v[k];
            m->vlen = strlen(m->v);
            for (size_t i = 0; i < d->nbare && !m->hit; i++)
                try_pattern(m, d->bare[i]);
            hs_error_t e = m->hit || !d->db ? HS_SUCCESS
                                            : hs_scan(d->db, m->v, (unsigned)m->vlen, 0, m->scratch,
                                                      on_piece, m);
            if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED)
                return esc_error_set(err, ESC_EINTERNAL, "search [...]: scan failed (%d)", e);
        }
    }
    return ESC_OK;
}

/* Keep the rows that match a row of the subsearch. */
static esc_status run_sub(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t, *s = NULL;
    esc_status rc = esc_exec_finish(x->sub, &s, err);
    if (rc != ESC_OK)
        return rc;
    size_t nq = s->nrows < ESC_SPL_SUBSEARCH_ROWS ? s->nrows : ESC_SPL_SUBSEARCH_ROWS;
    sub_scan m = {0};
    bool *keep = esc_malloc(t->nrows ? t->nrows : 1);
    rc = keep ? scan_build(&m, st, s, nq, err) : spl_exec_oom(err);
    for (size_t r = 0; r < t->nrows && !rc; r++) {
        rc = scan_row(&m, st, &t->cells[r * t->ncols], err);
        keep[r] = m.hit;
    }
    if (!rc)
        spl_table_filter(t, keep);
    scan_free(&m);
    esc_free(keep);
    esc_table_free(s);
    return rc;
}

static esc_status run_search(const stage *st, spl_run *x, esc_error *err) {
    if (st->sub)
        return run_sub(st, x, err);
    esc_table *t = x->t;
    bool *keep = esc_malloc(t->nrows ? t->nrows : 1);
    if (!keep)
        return spl_exec_oom(err);
    for (size_t r = 0; r < t->nrows; r++)
        keep[r] = !st->where || spl_row_match(st->where, &t->cells[r * t->ncols], t->ncols);
    spl_table_filter(t, keep);
    esc_free(keep);
    return ESC_OK;
}

static void explain_search(const stage *st, esc_buf *out) {
    if (st->sub) {
        esc_buf_printf(out, "\n  rows matching a row of the subsearch: [%.*s]", (int)st->sub_len,
                       st->sub_text);
        return;
    }
    esc_buf_append_c(out, "\n  predicate: ");
    spl_explain_snode(st->where, out);
}

static void free_search(stage *st) {
    esc_plan_free(st->sub);
}

const spl_cmd spl_cmd_search = {
    .name = "search",
    .flags = SPL_CMD_ROW_SEARCH,
    .parse = parse_search,
    .plan = plan_search,
    .run = run_search,
    .explain = explain_search,
    .free = free_search,
};
