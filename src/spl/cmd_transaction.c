/* transaction [FIELD ...] [maxspan=T] [maxpause=T] [maxevents=N] [startswith=(SEARCH)]
 * [endswith=(SEARCH)] [connected=BOOL] [keepevicted=BOOL]: group event rows into transactions.
 *
 * Splunk's reference: Search Reference, "transaction" (help.splunk.com/splunk-enterprise/
 * spl-search-reference/9.4/search-commands/transaction): "Transactions are made up of the raw
 * text (the _raw field) of each member, the time and date fields of the earliest member, as
 * well as the union of all other fields of each member", plus `duration` ("the difference
 * between the timestamps for the first and last events") and `eventcount`. mvlist=false (the
 * default): "a set of unique field values ordered alphabetically". maxspan: "the events in the
 * transaction must span less than" it; maxpause: no pause "greater than" it; maxevents defaults
 * to 1,000 (SPEC section 8). The command "sees events in reverse time order", so an endswith
 * event opens a transaction and a startswith event closes it; closed_txn is 1 when maxevents,
 * maxpause, maxspan or startswith closed it; with keepevicted=false (the default) a
 * transaction that a startswith never closed is dropped.
 *
 * Invariants: rows are taken newest first (ties in table order); FIELD values must all be
 * present in a row for it to join a transaction (a row missing one joins none: docs/decisions.md);
 * rows of different FIELD values never share a transaction (connected only matters for
 * partially present fields, which this rule excludes, so it is accepted and has no effect);
 * output is one row per transaction, newest first, with `_time` the earliest member's,
 * `_raw` the members' raw texts oldest first joined by '\n', duration and eventcount added.
 * Deliberately not done: name=, mvlist=true, delim=, maxopentxn/maxopenevents eviction (the
 * input is already bounded by the execution's limits), eval() filters (an error). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "spl/cmd.h"

typedef struct txn_opts {
    int64_t maxspan_us, maxpause_us; /* < 0: no limit */
    size_t maxevents;
    snode *start, *end;
    bool keepevicted;
    int time_col, raw_col, dur_col, count_col, closed_col;
} txn_opts;

/* ---- parse ---- */

/* (SEARCH) at P->pos, parsed within the parentheses only. */
static snode *paren_search(spl_parser *P) {
    size_t open = P->pos, i = P->pos;
    int depth = 0;
    bool q = false;
    for (; i < P->end; i++) {
        char c = P->s[i];
        if (q) {
            if (c == '\\' && i + 1 < P->end)
                i++;
            else if (c == '"')
                q = false;
        } else if (c == '"')
            q = true;
        else if (c == '(')
            depth++;
        else if (c == ')' && --depth == 0)
            break;
    }
    if (i >= P->end)
        return spl_fail(P, open, "unbalanced parenthesis: '(' is not closed");
    size_t end = P->end;
    P->end = i;
    P->pos = open + 1;
    snode *n = spl_parse_search(P, false);
    if (n && !spl_at_end(P))
        n = spl_fail(P, P->pos, "unexpected text in transaction filter");
    P->end = end;
    P->pos = i + 1;
    return n;
}

static bool parse_bool(const char *v, size_t n, bool *out) {
    static const char *const t[] = {"true", "t", "1"}, *const f[] = {"false", "f", "0"};
    for (size_t i = 0; i < 3; i++) {
        if (strlen(t[i]) == n && strncasecmp(v, t[i], n) == 0)
            return (*out = true);
        if (strlen(f[i]) == n && strncasecmp(v, f[i], n) == 0)
            return !(*out = false);
    }
    return false;
}

static bool parse_opt(spl_parser *P, txn_opts *o, const char *w, size_t wl, size_t at) {
    P->pos++; /* '=' */
    if ((wl == 10 && strncmp(w, "startswith", wl) == 0) ||
        (wl == 8 && strncmp(w, "endswith", wl) == 0)) {
        if (spl_peek(P) != '(')
            return spl_fail(P, P->pos, "expected (SEARCH) after %.*s=", (int)wl, w) != NULL;
        snode *n = paren_search(P);
        *(wl == 8 ? &o->end : &o->start) = n;
        return n != NULL;
    }
    size_t vl, vs;
    const char *v = spl_word(P, "", &vl, &vs);
    if (!v)
        return spl_fail(P, at, "missing value for option '%.*s'", (int)wl, w) != NULL;
    char *e;
    bool b;
    if ((wl == 7 && strncmp(w, "maxspan", 7) == 0) || (wl == 8 && strncmp(w, "maxpause", 8) == 0)) {
        int64_t us = -1;
        if (v[0] != '-' && !spl_parse_span(v, &us))
            return spl_fail(P, vs, "bad time span '%.*s'", (int)vl, v) != NULL;
        *(wl == 7 ? &o->maxspan_us : &o->maxpause_us) = us;
    } else if (wl == 9 && strncmp(w, "maxevents", 9) == 0) {
        long n = strtol(v, &e, 10);
        if (e != v + vl || n == 0)
            return spl_fail(P, vs, "bad maxevents '%.*s'", (int)vl, v) != NULL;
        o->maxevents = n < 0 ? SIZE_MAX : (size_t)n;
    } else if (wl == 11 && strncmp(w, "keepevicted", 11) == 0) {
        if (!parse_bool(v, vl, &o->keepevicted))
            return spl_fail(P, vs, "bad boolean '%.*s'", (int)vl, v) != NULL;
    } else if (wl == 9 && strncmp(w, "connected", 9) == 0) {
        if (!parse_bool(v, vl, &b))
            return spl_fail(P, vs, "bad boolean '%.*s'", (int)vl, v) != NULL;
    } else
        return spl_fail(P, at, "unsupported transaction option '%.*s'", (int)wl, w) != NULL;
    return true;
}

static bool parse_transaction(spl_parser *P, stage *st) {
    txn_opts *o = esc_arena_alloc(&P->p->arena, sizeof *o);
    if (!o)
        return spl_fail(P, P->pos, "out of memory") != NULL;
    *o = (txn_opts){.maxspan_us = -1, .maxpause_us = -1, .maxevents = 1000};
    st->opts = o;
    const char **names = esc_arena_alloc(&P->p->arena, ESC_SPL_MAX_NAMES * sizeof *names);
    if (!names)
        return spl_fail(P, P->pos, "out of memory") != NULL;
    st->names = names;
    while (!spl_at_end(P)) {
        if (spl_peek(P) == ',') {
            P->pos++;
            continue;
        }
        size_t at = P->pos;
        size_t wl = spl_bare(P, "=,\"(");
        if (wl == 0)
            return spl_fail(P, at, "unexpected text in transaction") != NULL;
        if (spl_peek(P) == '=') {
            if (!parse_opt(P, o, P->s + at, wl, at))
                return false;
            continue;
        }
        if (st->nnames == ESC_SPL_MAX_NAMES)
            return spl_fail(P, at, "too many fields (limit %d)", ESC_SPL_MAX_NAMES) != NULL;
        names[st->nnames++] = spl_dup(P, P->s + at, wl);
    }
    return true;
}

/* ---- plan ---- */

static void resolve(snode *n, const schema *s) {
    if (!n)
        return;
    if (n->kind == SN_CMP)
        n->ref = spl_schema_find(s, n->field);
    resolve(n->l, s);
    resolve(n->r, s);
}

static esc_status plan_transaction(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    txn_opts *o = st->opts;
    resolve(o->start, in);
    resolve(o->end, in);
    st->cols = esc_arena_alloc(&p->arena, (st->nnames ? st->nnames : 1) * sizeof *st->cols);
    if (!st->cols || !spl_schema_copy(p, &st->out, in, 4))
        return spl_plan_oom(err);
    for (size_t i = 0; i < st->nnames; i++)
        st->cols[i] = spl_schema_find(in, st->names[i]);
    for (size_t c = 0; c < in->n; c++) /* unions of several members are multivalue */
        st->out.mv[c] = true;
    for (size_t i = 0; i < st->nnames; i++)
        if (st->cols[i] >= 0)
            st->out.mv[st->cols[i]] = in->mv[st->cols[i]];
    o->time_col = spl_schema_find(in, "_time");
    o->raw_col = spl_schema_find(in, "_raw");
    if (o->time_col >= 0)
        st->out.mv[o->time_col] = false;
    if (o->raw_col >= 0)
        st->out.mv[o->raw_col] = false;
    o->dur_col = spl_schema_add(&st->out, "duration");
    o->count_col = spl_schema_add(&st->out, "eventcount");
    o->closed_col = o->keepevicted ? spl_schema_add(&st->out, "closed_txn") : -1;
    st->out.mv[o->dur_col] = st->out.mv[o->count_col] = false;
    return ESC_OK;
}

/* ---- run ---- */

typedef struct txn_row {
    size_t row;
    int64_t t_us;
    char *key; /* FIELD values joined ('\n' between cells, '\x1f' between fields) */
} txn_row;

static int cmp_key_time(const void *pa, const void *pb) {
    const txn_row *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    if (c)
        return c;
    if (a->t_us != b->t_us)
        return a->t_us > b->t_us ? -1 : 1; /* newest first */
    return a->row < b->row ? -1 : a->row > b->row;
}

static int64_t row_time(const esc_table *t, const txn_opts *o, size_t r) {
    if (o->time_col < 0)
        return 0;
    const esc_cell *c = esc_table_cell(t, r, (size_t)o->time_col);
    double d;
    if (!c->n || !spl_parse_num(c->v[0], strlen(c->v[0]), &d))
        return 0;
    return (int64_t)(d * 1e6);
}

/* The rows that join transactions, sorted by key then newest first. */
static esc_status collect(const stage *st, const esc_table *t, txn_row **out, size_t *n) {
    txn_row *v = esc_calloc(t->nrows ? t->nrows : 1, sizeof *v);
    esc_buf b = {0}, k = {0};
    esc_status rc = v ? ESC_OK : ESC_ENOMEM;
    size_t m = 0;
    for (size_t r = 0; !rc && r < t->nrows; r++) {
        esc_buf_clear(&b);
        bool ok = true;
        for (size_t i = 0; ok && i < st->nnames; i++) {
            int c = st->cols[i];
            const esc_cell *cell = c >= 0 ? esc_table_cell(t, r, (size_t)c) : NULL;
            ok = cell && cell->n;
            if (ok && !(rc = spl_cell_key(cell, &k)))
                rc = esc_buf_append(&b, k.ptr, k.len);
            if (!rc && ok)
                rc = esc_buf_putc(&b, '\x1f');
        }
        if (!ok || rc)
            continue;
        char *key = esc_strndup(b.ptr ? b.ptr : "", b.len);
        if (!key)
            rc = ESC_ENOMEM;
        else
            v[m++] = (txn_row){r, row_time(t, st->opts, r), key};
    }
    esc_buf_fini(&b);
    esc_buf_fini(&k);
    if (!rc)
        qsort(v, m, sizeof *v, cmp_key_time);
    *out = v;
    *n = m;
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Union of column c over members (sorted, unique); FIELD columns keep the first member's. */
static bool merge_cell(const esc_table *t, const txn_row *m, size_t n, size_t c, bool key,
                       esc_cell *out) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += esc_table_cell(t, m[i].row, c)->n;
    if (!total)
        return true;
    const char **v = esc_malloc(total * sizeof *v);
    if (!v)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < (key ? 1 : n); i++) {
        const esc_cell *cell = esc_table_cell(t, m[i].row, c);
        for (size_t j = 0; j < cell->n; j++)
            v[k++] = cell->v[j];
    }
    if (!key)
        qsort(v, k, sizeof *v, cmp_str);
    esc_str *s = esc_malloc(k * sizeof *s);
    size_t u = 0;
    for (size_t i = 0; s && i < k; i++)
        if (key || !u || strcmp(v[i], s[u - 1].ptr) != 0)
            s[u++] = esc_str_c(v[i]);
    bool ok = s && spl_cell_set(out, s, u);
    esc_free(s);
    esc_free(v);
    return ok;
}

/* _raw of the members, oldest first, joined by '\n'. */
static bool merge_raw(const esc_table *t, const txn_row *m, size_t n, size_t c, esc_cell *out) {
    esc_buf b = {0};
    bool ok = true;
    for (size_t i = n; ok && i > 0; i--) {
        const esc_cell *cell = esc_table_cell(t, m[i - 1].row, c);
        if (!cell->n)
            continue;
        if (b.len)
            ok = esc_buf_putc(&b, '\n') == ESC_OK;
        ok = ok && esc_buf_append_c(&b, cell->v[0]) == ESC_OK;
    }
    esc_str s = esc_str_make(b.ptr ? b.ptr : "", b.len);
    ok = ok && (!b.len || spl_cell_set(out, &s, 1));
    esc_buf_fini(&b);
    return ok;
}

static bool num_cell(esc_cell *c, double v) {
    char buf[64];
    esc_str s = esc_str_make(buf, spl_num_text(v, buf, sizeof buf));
    return spl_cell_num(c, v, &s);
}

/* One output row for members m[0..n) (newest first). */
static bool emit(const stage *st, const esc_table *t, const txn_row *m, size_t n, bool closed,
                 esc_cell *row) {
    const txn_opts *o = st->opts;
    for (size_t c = 0; c < t->ncols; c++) {
        bool key = false;
        for (size_t i = 0; i < st->nnames; i++)
            key = key || st->cols[i] == (int)c;
        bool ok = (int)c == o->time_col  ? num_cell(&row[c], (double)m[n - 1].t_us / 1e6)
                  : (int)c == o->raw_col ? merge_raw(t, m, n, c, &row[c])
                                         : merge_cell(t, m, n, c, key, &row[c]);
        if (!ok)
            return false;
    }
    return num_cell(&row[o->dur_col], (double)(m[0].t_us - m[n - 1].t_us) / 1e6) &&
           num_cell(&row[o->count_col], (double)n) &&
           (o->closed_col < 0 || num_cell(&row[o->closed_col], closed));
}

typedef struct txn_out {
    size_t (*span)[3]; /* first member, members, closed */
    size_t n;
} txn_out;

static void close_txn(const txn_opts *o, txn_out *out, size_t first, size_t n, bool closed) {
    bool limits = o->maxspan_us >= 0 || o->maxpause_us >= 0 || o->maxevents != SIZE_MAX || o->start;
    if (!n || (o->start && !closed && !o->keepevicted))
        return;
    out->span[out->n][0] = first;
    out->span[out->n][1] = n;
    out->span[out->n][2] = closed && limits;
    out->n++;
}

static bool row_is(const snode *n, const esc_table *t, size_t r) {
    return n && spl_row_match(n, &t->cells[r * t->ncols], t->ncols);
}

/* Cut one key's members v[0..n) (newest first) into transactions. In reverse time order an
 * endswith row opens a transaction (rows before one are in none) and a startswith row is the
 * last member of its transaction. */
static void cut(const txn_opts *o, const esc_table *t, const txn_row *v, size_t base, size_t n,
                txn_out *out) {
    size_t first = 0, cnt = 0;
    for (size_t i = 0; i < n; i++) {
        const txn_row *e = &v[i];
        bool is_end = row_is(o->end, t, e->row);
        if (cnt) {
            int64_t span = v[first].t_us - e->t_us, pause = v[first + cnt - 1].t_us - e->t_us;
            if ((o->maxspan_us >= 0 && span >= o->maxspan_us) ||
                (o->maxpause_us >= 0 && pause > o->maxpause_us) || cnt >= o->maxevents) {
                close_txn(o, out, base + first, cnt, true);
                cnt = 0;
            } else if (is_end) { /* a new end before this one's start: this one is evicted */
                close_txn(o, out, base + first, cnt, !o->start);
                cnt = 0;
            }
        }
        if (!cnt) {
            if (o->end && !is_end)
                continue;
            first = i;
        }
        cnt++;
        if (row_is(o->start, t, e->row)) {
            close_txn(o, out, base + first, cnt, true);
            cnt = 0;
        }
    }
    close_txn(o, out, base + first, cnt, !o->start);
}

static int cmp_out(const void *pa, const void *pb, void *ctx) {
    const txn_row *v = ctx;
    const size_t *a = pa, *b = pb;
    int64_t ta = v[a[0] + a[1] - 1].t_us, tb = v[b[0] + b[1] - 1].t_us;
    if (ta != tb)
        return ta > tb ? -1 : 1; /* newest transaction first */
    return a[0] < b[0] ? -1 : a[0] > b[0];
}

static esc_status run_transaction(const stage *st, spl_run *x, esc_error *err) {
    const txn_opts *o = st->opts;
    esc_table *t = x->t;
    txn_row *v = NULL;
    size_t n = 0;
    txn_out out = {0};
    esc_table *nt = NULL;
    esc_status rc = collect(st, t, &v, &n);
    if (!rc && !(out.span = esc_malloc((n ? n : 1) * sizeof *out.span)))
        rc = ESC_ENOMEM;
    for (size_t i = 0, j; !rc && i < n; i = j) {
        for (j = i + 1; j < n && strcmp(v[j].key, v[i].key) == 0; j++)
            ;
        cut(o, t, v + i, i, j - i, &out);
    }
    if (!rc)
        qsort_r(out.span, out.n, sizeof *out.span, cmp_out, v);
    spl_lineage_seen seen = {NULL, 0, 0, false};
    if (!rc && (!(nt = spl_table_new(&st->out, out.n)) || !spl_lineage_open(nt, t) ||
                !spl_lineage_seen_start(&seen, t)))
        rc = ESC_ENOMEM;
    for (size_t k = 0; !rc && k < out.n; k++) {
        if (!emit(st, t, v + out.span[k][0], out.span[k][1], out.span[k][2],
                  &nt->cells[k * nt->ncols]))
            rc = ESC_ENOMEM;
        /* a transaction's events: its members' */
        for (size_t m = 0; !rc && m < out.span[k][1]; m++)
            if (!spl_lineage_merge(nt->lineage, k, t, v[out.span[k][0] + m].row, &seen))
                rc = ESC_ENOMEM;
    }
    spl_lineage_seen_fini(&seen);
    if (!rc)
        spl_table_swap(t, nt);
    esc_table_free(nt);
    for (size_t i = 0; v && i < n; i++)
        esc_free(v[i].key);
    esc_free(v);
    esc_free(out.span);
    return rc ? spl_exec_oom(err) : ESC_OK;
}

const spl_cmd spl_cmd_transaction = {
    .name = "transaction",
    .flags = SPL_CMD_BARRIER,
    .parse = parse_transaction,
    .plan = plan_transaction,
    .run = run_transaction,
};
