/* Group pruning: a tstats group whose BY values fail the row-local filters right after tstats
 * can never become a result row, so its execution need not keep it (exec.c drops it).
 *
 * The prunable prefix is the longest run of stages after tstats that are row-local (rename,
 * fields, table, convert, eval, lookup, rex, bin, fillnull, makemv, replace, search, where, regex:
 * each output row depends on one input row only, and a row is either kept, unchanged in
 * number, or dropped) and whose filters (search, where, regex) read no column derived from an
 * aggregate. Columns are followed through the prefix with a taint: the aggregate columns of
 * tstats are tainted; a column a stage writes is tainted when anything it is computed from is
 * (eval: the columns of its expression, now() counting as tainted since the check runs before
 * the search's now() is set; lookup: its input fields and the output's own old value; rex: its
 * source field; convert: its source; rename/fields/table: the column moved); a stage whose
 * effect is not modelled (xmlkv) ends the prefix. The prefix ends before the first filter that
 * reads a tainted column.
 *
 * Why this is exact: within the prefix, every untainted column of a row is a function of the
 * group's BY values only, and whether a row survives the prefix depends only on its filters,
 * which read untainted columns only. So running the prefix on a row holding the BY values (and
 * empty aggregate columns) tells, once and for all, whether any row of this group survives the
 * prefix at the end of the search, whatever events the group still counts. A group that fails
 * can never produce a row, nor evidence (evidence belongs to result rows), so dropping it
 * changes no output row; a group that passes is kept whole and runs the whole pipeline at the
 * end as before. Two cases could still tell a difference, and are kept exact: a regular
 * expression stopped by its match limit during the check (its count goes to the detection's
 * warning) keeps every group of that check; an error in the check keeps them too (the full
 * run at the end meets it again).
 *
 * Remembered verdicts. Beside its taint, each column carries the BY fields it is computed from
 * in a check row (a bit mask: tstats has at most ESC_SPL_MAX_ITEMS = 64 BY fields), followed
 * through the same stages (eval: the union over the columns its expression reads; rename,
 * fields, table: moved; lookup: its input fields' and the output's old value; rex, convert, bin:
 * the source's and the old value; aggregate columns are empty in a check row and count for
 * none). The union over what stages 1..k read (every stage that runs in the check, not only the
 * filters: a regex limit or an error there is the check's too; makemv and replace count as
 * reading every column) names the BY fields whose values alone decide a group's verdict, and
 * whether its check meets a regex limit or fails. So exec.c remembers the verdicts of exact
 * checks by those values (a memo, combined over an owner and its sharers: dead only when dead
 * for each, over the union of their fields); a batch checks only the groups of values not
 * remembered, one row per distinct such values; when that check is not exact, every group of
 * the batch is kept, as a check of all of them would have done (the remembered ones were exact,
 * and their values decide that). The memo is bounded (it starts again past 65,536 entries or
 * 4 MiB of keys, and stops when rarely hit); what it holds changes no row.
 *
 * A record whose every group is remembered dead makes no group at all (spl_tstats_feed): no
 * aggregate, no evidence. A dead group's aggregates can tell only through a stage of the prefix
 * that reads an aggregate column and could meet a regex limit or fail (anything but rename,
 * fields, table, convert, bin, fillnull), in the full run of a dead group kept by a check that
 * was not exact; a plan with such a stage (spl_prune_deps.skip false) still counts every
 * record. The group cap then counts the groups of such records never (see docs/limits.md).
 *
 * A raw-event search's streamed stats (spl/exec.c) is pruned the same way, with its BY columns
 * untainted, when it spills: past the prefix, a `where` whose condition reads an aggregate
 * (`where ImageLoadedCount == 4 AND (BRC4_LoadedDllPath == 1 OR BRC4_AnomalyLoadedDll == 1)`)
 * still drops every row for which one of its top-level AND operands that reads no tainted
 * column is not true (where keeps the rows whose condition is true: false AND x and null AND
 * x are not), so those operands prune as a filter would.
 *
 * Deliberately not done: pruning through a join, a stats or any barrier (a row's fate there
 * depends on other rows), or a raw-event search's kept rows (only its streamed stats' groups). */
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"

typedef struct taint {
    bool t[ESC_SPL_MAX_COLUMNS];
    /* the BY fields (bit i: BY field i) a column's value in a check row is computed from: the
     * aggregate columns are empty there and count for none */
    uint64_t dep[ESC_SPL_MAX_COLUMNS];
} taint;

/* What stages read, as it accumulates along the prefix: the BY fields of the columns read, and
 * whether a stage that could stop a regular expression at its limit or fail (anything but
 * remap, convert, bin, fillnull) read an aggregate column. */
typedef struct reads {
    uint64_t by;
    bool tainted;
} reads;

static bool expr_tainted(const enode *e, const taint *tn) {
    if (!e)
        return false;
    if (e->kind == EN_FIELD)
        return e->col >= 0 && e->col < ESC_SPL_MAX_COLUMNS && tn->t[e->col];
    if (e->kind == EN_CALL && e->str && strcmp(e->str, "now") == 0)
        return true;
    for (size_t i = 0; i < e->nargs; i++)
        if (expr_tainted(e->args[i], tn))
            return true;
    return false;
}

static bool snode_tainted(const snode *n, const taint *tn) {
    if (!n)
        return false;
    if (n->kind == SN_TERM)
        return true; /* not a row search's node: not modelled */
    if (n->kind == SN_CMP && n->ref >= 0 && (n->ref >= ESC_SPL_MAX_COLUMNS || tn->t[n->ref]))
        return true;
    return snode_tainted(n->l, tn) || snode_tainted(n->r, tn);
}

static bool col_tainted(const taint *tn, int c) {
    return c >= 0 && c < ESC_SPL_MAX_COLUMNS && tn->t[c];
}

static uint64_t col_dep(const taint *tn, int c) {
    return c >= 0 && c < ESC_SPL_MAX_COLUMNS ? tn->dep[c] : 0;
}

static uint64_t expr_dep(const enode *e, const taint *tn) {
    if (!e)
        return 0;
    uint64_t d = e->kind == EN_FIELD ? col_dep(tn, e->col) : 0;
    for (size_t i = 0; i < e->nargs; i++)
        d |= expr_dep(e->args[i], tn);
    return d;
}

static uint64_t snode_dep(const snode *n, const taint *tn) {
    if (!n)
        return 0;
    uint64_t d = n->kind == SN_CMP ? col_dep(tn, n->ref) : 0;
    return d | snode_dep(n->l, tn) | snode_dep(n->r, tn);
}

/* A read of column c by a stage that may meet a regex limit or fail. */
static void read_col(reads *rd, const taint *tn, int c) {
    rd->by |= col_dep(tn, c);
    rd->tainted |= col_tainted(tn, c);
}

/* The taint and dependencies after stage st (in: before it; the stage's output schema st->out),
 * and what it reads added to *rd. False: the stage ends the prefix. *filter: st drops rows. */
static bool step(const stage *st, const taint *in, taint *out, bool *filter, reads *rd) {
    const spl_cmd *c = st->cmd;
    *filter = false;
    if (st->sub || st->out.n > ESC_SPL_MAX_COLUMNS)
        return false;
    memcpy(out, in, sizeof *out);
    if (c->run == spl_run_remap) { /* rename, fields, table */
        for (size_t i = 0; i < st->out.n; i++) {
            out->t[i] = st->map[i] >= 0 && col_tainted(in, st->map[i]);
            out->dep[i] = st->map[i] >= 0 ? col_dep(in, st->map[i]) : 0;
        }
        return true;
    }
    if (c == &spl_cmd_search || c == &spl_cmd_where || c == &spl_cmd_regex) {
        *filter = true;
        if (c == &spl_cmd_search) {
            rd->by |= snode_dep(st->where, in);
            return !snode_tainted(st->where, in);
        }
        if (c == &spl_cmd_where) {
            rd->by |= expr_dep(st->cond, in);
            return !expr_tainted(st->cond, in);
        }
        rd->by |= col_dep(in, st->cols[0]);
        return !col_tainted(in, st->cols[0]);
    }
    if (c == &spl_cmd_eval) { /* in order: a later item sees an earlier one's result */
        for (size_t i = 0; i < st->nevals; i++) {
            uint64_t d = expr_dep(st->evals[i].e, out);
            bool t = expr_tainted(st->evals[i].e, out);
            rd->by |= d;
            rd->tainted |= t;
            if (st->evals[i].col >= 0 && st->evals[i].col < ESC_SPL_MAX_COLUMNS) {
                out->t[st->evals[i].col] = t;
                out->dep[st->evals[i].col] = d;
            }
        }
        return true;
    }
    if (c == &spl_cmd_convert) {
        for (size_t k = 0; k < st->nmap; k++) {
            out->t[st->cols2[k]] = col_tainted(in, st->cols[k]);
            out->dep[st->cols2[k]] = col_dep(in, st->cols[k]);
            rd->by |= col_dep(in, st->cols[k]);
        }
        return true;
    }
    if (c == &spl_cmd_lookup) {
        bool any = false;
        uint64_t d = 0;
        for (size_t k = 0; k < st->nlin; k++) {
            any |= col_tainted(in, st->lin[k].row_col);
            d |= col_dep(in, st->lin[k].row_col);
            read_col(rd, in, st->lin[k].row_col);
        }
        for (size_t k = 0; k < st->nlout; k++)
            if (st->lout[k].row_col >= 0 && st->lout[k].row_col < ESC_SPL_MAX_COLUMNS) {
                int o = st->lout[k].row_col;
                out->t[o] = any || col_tainted(in, o);
                out->dep[o] = d | col_dep(in, o);
            }
        return true;
    }
    if (c == &spl_cmd_bin || c == &spl_cmd_bucket) { /* span= only: each row's own value */
        int o = st->cols2[0];
        if (o >= 0 && o < ESC_SPL_MAX_COLUMNS) {
            out->t[o] = col_tainted(in, st->cols[0]) || col_tainted(in, o);
            out->dep[o] = col_dep(in, st->cols[0]) | col_dep(in, o);
            rd->by |= out->dep[o];
        }
        return true;
    }
    if (c == &spl_cmd_rex) {
        bool src = col_tainted(in, st->cols[0]);
        uint64_t d = col_dep(in, st->cols[0]);
        read_col(rd, in, st->cols[0]);
        for (size_t k = 0; !st->sed_rep && k < st->nmap; k++) {
            out->t[st->cols2[k]] = src || col_tainted(in, st->cols2[k]);
            out->dep[st->cols2[k]] = d | col_dep(in, st->cols2[k]);
        }
        return true;
    }
    if (c == &spl_cmd_fillnull)
        return true; /* in place: a value, or a constant where there was none */
    if (c == &spl_cmd_makemv || c == &spl_cmd_replace) {
        /* in place, each value from itself and constants; new columns hold constants; which
         * columns they read is not followed: every one, as one that may meet a regex limit */
        for (size_t i = 0; i < st->out.n; i++)
            read_col(rd, in, (int)i);
        return true;
    }
    return false;
}

/* The top-level AND operands of e that read no tainted column, appended to out[*n..max). */
static void clean_operands(const enode *e, const taint *tn, const enode **out, size_t *n,
                           size_t max) {
    if (e->kind == EN_BIN && e->op == EOP_AND && e->nargs == 2) {
        clean_operands(e->args[0], tn, out, n, max);
        clean_operands(e->args[1], tn, out, n, max);
    } else if (*n < max && !expr_tainted(e, tn)) {
        out[(*n)++] = e;
    }
}

/* The prunable prefix after the grouping stage s (its BY columns untainted): the last filter
 * of it (s: none), and in pr->ops the clean AND operands of the tainted `where` that ends it,
 * if any (pr->where: its stage). *rd (may be NULL): what stages s+1..the last filter read. */
static size_t prefix(const esc_plan *p, size_t s, spl_prune *pr, reads *rd) {
    const stage *src = &p->stages[s];
    taint tn;
    memset(&tn, 0, sizeof tn);
    if (src->out.n > ESC_SPL_MAX_COLUMNS)
        return s;
    for (size_t i = 0; i < src->nby && i < 64; i++)
        tn.dep[i] = (uint64_t)1 << i;
    for (size_t i = src->nby; i < src->out.n; i++)
        tn.t[i] = true;
    size_t last_filter = s;
    reads all = {0, false};
    if (rd)
        *rd = all;
    for (size_t i = s + 1; i < p->nstages; i++) {
        taint next;
        bool filter;
        if (!step(&p->stages[i], &tn, &next, &filter, &all)) {
            if (pr && p->stages[i].cmd == &spl_cmd_where && !p->stages[i].sub)
                clean_operands(p->stages[i].cond, &tn, pr->ops, &pr->nops, SPL_PRUNE_OPS);
            if (pr && pr->nops)
                pr->where = i;
            break;
        }
        /* past the stage's schema there is no column: a column a later stage adds there starts
         * untainted (its writer taints it), not with the taint of a column a rename dropped */
        for (size_t c = p->stages[i].out.n; c < ESC_SPL_MAX_COLUMNS; c++) {
            next.t[c] = false;
            next.dep[c] = 0;
        }
        tn = next;
        if (filter) {
            last_filter = i;
            if (rd)
                *rd = all;
        }
    }
    return last_filter;
}

size_t spl_prune_stages(const esc_plan *p, spl_prune_deps *d) {
    reads rd = {0, false};
    size_t k = p->ds == ESC_DS_RAW || p->nstages < 2 ? 0 : prefix(p, 0, NULL, &rd);
    if (d) {
        d->by = rd.by;
        d->skip = k && !rd.tainted;
    }
    return k;
}

bool spl_prune_stats(const esc_plan *p, size_t s, spl_prune *pr) {
    memset(pr, 0, sizeof *pr);
    pr->s = s;
    pr->k = prefix(p, s, pr, NULL);
    return pr->k > s || pr->where;
}

/* After the n groups' rows ran the filters (rc; limited: the regex limit count before them):
 * dead[r] for each group no row of t (row_id) survived from, when the run was exact (*exact,
 * may be NULL); else none. */
static void mark_dead(const esc_table *t, size_t n, esc_status rc, uint64_t limited, bool *dead,
                      bool *exact_out) {
    bool exact = rc == ESC_OK && spl_re_limited() == limited && t->row_id && t->nrows <= n;
    spl_re_limited_set(limited); /* counted when the kept groups run the whole search */
    for (size_t r = 0; r < n; r++)
        dead[r] = exact;
    for (size_t r = 0; exact && r < t->nrows; r++)
        dead[t->row_id[r]] = false;
    if (exact_out)
        *exact_out = exact;
}

/* keep[r] false for the rows of t (row_id: their groups) the operands rule out. */
static esc_status rule_out(const spl_prune *pr, esc_table *t, bool *keep) {
    for (size_t r = 0; r < t->nrows; r++) {
        bool ok = true;
        for (size_t i = 0; i < pr->nops && ok; i++)
            if (spl_cond_true(pr->ops[i], &t->cells[r * t->ncols], t->ncols, &ok) != ESC_OK)
                return ESC_ENOMEM;
        keep[r] = ok;
    }
    spl_table_filter(t, keep);
    return ESC_OK;
}

esc_status spl_prune_check_rows(const esc_plan *p, const spl_prune *pr, esc_table *t, bool *dead,
                                esc_error *err) {
    size_t n = t->nrows, end = pr->where ? pr->where - 1 : pr->k;
    esc_status rc = ESC_OK;
    bool *keep = NULL;
    if (!(t->row_id = esc_malloc((n ? n : 1) * sizeof *t->row_id)) ||
        !(keep = esc_malloc(n ? n : 1)))
        rc = ESC_ENOMEM;
    for (size_t r = 0; rc == ESC_OK && r < n; r++)
        t->row_id[r] = r;
    uint64_t limited = spl_re_limited();
    esc_error e2 = {0};
    for (size_t i = pr->s + 1; i <= end && rc == ESC_OK; i++) {
        spl_run run = {t, NULL};
        rc = p->stages[i].cmd->run(&p->stages[i], &run, &e2);
    }
    if (rc == ESC_OK && pr->where)
        rc = rule_out(pr, t, keep);
    mark_dead(t, n, rc, limited, dead, NULL);
    esc_free(keep);
    return rc == ESC_ENOMEM ? esc_error_set(err, ESC_ENOMEM, "out of memory") : ESC_OK;
}

esc_status spl_prune_check(const esc_plan *p, size_t k, esc_agg *a, const size_t *groups, size_t n,
                           bool *dead, bool *exact, esc_error *err) {
    esc_table *t = NULL;
    *exact = false;
    esc_status rc = spl_agg_rows(a, &p->stages[0], groups, n, &t, err);
    if (rc != ESC_OK)
        return rc;
    if (!(t->row_id = esc_malloc((n ? n : 1) * sizeof *t->row_id))) {
        esc_table_free(t);
        return spl_exec_oom(err);
    }
    for (size_t r = 0; r < n; r++)
        t->row_id[r] = r;
    uint64_t limited = spl_re_limited();
    esc_error e2 = {0};
    for (size_t i = 1; i <= k && rc == ESC_OK; i++) {
        spl_run run = {t, NULL};
        rc = p->stages[i].cmd->run(&p->stages[i], &run, &e2);
    }
    mark_dead(t, n, rc, limited, dead, exact);
    esc_table_free(t);
    return rc == ESC_ENOMEM ? esc_error_set(err, ESC_ENOMEM, "out of memory") : ESC_OK;
}

/* ---- the verdicts so far, by the BY values they depend on ---- */

#define MEMO_MAX 65536               /* entries before the memo starts again */
#define MEMO_BYTES ((size_t)4 << 20) /* key bytes before the memo starts again */
#define MEMO_TRY 4096                /* entries after which a memo that is rarely hit stops */

typedef struct memo_ent {
    uint64_t h;
    uint32_t off, len; /* the key's bytes in m->bytes */
    uint8_t state;     /* 0: empty, 1: alive, 2: dead */
} memo_ent;

struct spl_prune_memo {
    uint64_t deps;
    size_t nby;
    memo_ent *tab;
    size_t cap, n;
    char *bytes;
    size_t blen, bcap;
    uint64_t hits, ndead;
    bool off; /* rarely hit: no longer looked in nor filled */
};

spl_prune_memo *spl_prune_memo_new(uint64_t deps, size_t nby) {
    spl_prune_memo *m = esc_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->deps = nby < 64 ? deps & (((uint64_t)1 << nby) - 1) : deps;
    m->nby = nby < 64 ? nby : 64;
    return m;
}

void spl_prune_memo_free(spl_prune_memo *m) {
    if (!m)
        return;
    esc_free(m->tab);
    esc_free(m->bytes);
    esc_free(m);
}

bool spl_prune_memo_on(const spl_prune_memo *m) {
    return m && !m->off;
}

bool spl_prune_memo_any_dead(const spl_prune_memo *m) {
    return m && !m->off && m->ndead;
}

void spl_prune_memo_keys(const spl_prune_memo *m, const esc_agg *a, size_t g, esc_str *keys) {
    for (size_t k = 0; k < m->nby; k++)
        if (m->deps >> k & 1)
            keys[k] = esc_agg_key(a, g, k);
}

bool spl_prune_memo_same(const spl_prune_memo *m, const esc_agg *a, size_t g, const esc_str *keys) {
    for (size_t k = 0; k < m->nby; k++)
        if (m->deps >> k & 1 && !esc_str_eq(esc_agg_key(a, g, k), keys[k]))
            return false;
    return true;
}

uint64_t spl_prune_memo_hash(const spl_prune_memo *m, const esc_str *keys) {
    return esc_agg_hash(keys, m->nby, m->deps);
}

/* The key of an entry: per BY field of deps, its length (4 bytes) and its bytes. */
static bool ent_eq(const spl_prune_memo *m, const memo_ent *e, const esc_str *keys) {
    const char *p = m->bytes + e->off, *end = p + e->len;
    for (size_t i = 0; i < m->nby; i++) {
        if (!(m->deps >> i & 1))
            continue;
        uint32_t len;
        if (end - p < 4)
            return false;
        memcpy(&len, p, 4);
        p += 4;
        if (len != keys[i].len || (size_t)(end - p) < len || (len && memcmp(p, keys[i].ptr, len)))
            return false;
        p += len;
    }
    return p == end;
}

static memo_ent *find(const spl_prune_memo *m, uint64_t h, const esc_str *keys) {
    if (!m->cap)
        return NULL;
    for (size_t j = h & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
        memo_ent *e = &m->tab[j];
        if (!e->state || (e->h == h && ent_eq(m, e, keys)))
            return e;
    }
}

int spl_prune_memo_get(spl_prune_memo *m, uint64_t h, const esc_str *keys) {
    if (!m || m->off)
        return -1;
    memo_ent *e = find(m, h, keys);
    if (!e || !e->state)
        return -1;
    m->hits++;
    return e->state == 2;
}

/* Start again, empty; or, when rarely hit, stop for good (nothing depends on what it holds). */
static void restart(spl_prune_memo *m) {
    if (m->hits * 8 < m->n) {
        m->off = true;
        esc_free(m->tab);
        esc_free(m->bytes);
        m->tab = NULL;
        m->bytes = NULL;
        m->cap = m->bcap = 0;
    } else if (m->tab) {
        memset(m->tab, 0, m->cap * sizeof *m->tab);
    }
    m->n = m->blen = 0;
    m->hits = m->ndead = 0;
}

void spl_prune_memo_put(spl_prune_memo *m, uint64_t h, const esc_str *keys, bool dead) {
    if (!m || m->off)
        return;
    size_t len = 0;
    for (size_t i = 0; i < m->nby; i++)
        if (m->deps >> i & 1)
            len += 4 + keys[i].len;
    if (len > MEMO_BYTES / 4)
        return;
    if (m->n >= MEMO_MAX || m->blen + len > MEMO_BYTES || (m->n == MEMO_TRY && m->hits * 8 < m->n))
        restart(m);
    if (m->off)
        return;
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        memo_ent *t = esc_calloc(cap, sizeof *t);
        if (!t)
            return;
        for (size_t j = 0; j < m->cap; j++)
            if (m->tab[j].state) {
                size_t q = m->tab[j].h & (cap - 1);
                while (t[q].state)
                    q = (q + 1) & (cap - 1);
                t[q] = m->tab[j];
            }
        esc_free(m->tab);
        m->tab = t;
        m->cap = cap;
    }
    if (!ESC_VEC_GROW(m->bytes, m->bcap, m->blen + len, 4096))
        return;
    memo_ent *e = find(m, h, keys);
    if (e->state)
        return;
    e->h = h;
    e->off = (uint32_t)m->blen;
    e->len = (uint32_t)len;
    e->state = dead ? 2 : 1;
    for (size_t i = 0; i < m->nby; i++)
        if (m->deps >> i & 1) {
            uint32_t l = (uint32_t)keys[i].len;
            memcpy(m->bytes + m->blen, &l, 4);
            if (l)
                memcpy(m->bytes + m->blen + 4, keys[i].ptr, l);
            m->blen += 4 + l;
        }
    m->n++;
    m->ndead += dead;
}
