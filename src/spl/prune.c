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
} taint;

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

/* The taint after stage st (in: before it; the stage's output schema st->out). False: the
 * stage ends the prefix. *filter: st drops rows. */
static bool step(const stage *st, const taint *in, taint *out, bool *filter) {
    const spl_cmd *c = st->cmd;
    *filter = false;
    if (st->sub || st->out.n > ESC_SPL_MAX_COLUMNS)
        return false;
    memcpy(out, in, sizeof *out);
    if (c->run == spl_run_remap) { /* rename, fields, table */
        for (size_t i = 0; i < st->out.n; i++)
            out->t[i] = st->map[i] >= 0 && col_tainted(in, st->map[i]);
        return true;
    }
    if (c == &spl_cmd_search || c == &spl_cmd_where || c == &spl_cmd_regex) {
        *filter = true;
        if (c == &spl_cmd_search)
            return !snode_tainted(st->where, in);
        if (c == &spl_cmd_where)
            return !expr_tainted(st->cond, in);
        return !col_tainted(in, st->cols[0]);
    }
    if (c == &spl_cmd_eval) { /* in order: a later item sees an earlier one's result */
        for (size_t i = 0; i < st->nevals; i++)
            if (st->evals[i].col >= 0 && st->evals[i].col < ESC_SPL_MAX_COLUMNS)
                out->t[st->evals[i].col] = expr_tainted(st->evals[i].e, out);
        return true;
    }
    if (c == &spl_cmd_convert) {
        for (size_t k = 0; k < st->nmap; k++)
            out->t[st->cols2[k]] = col_tainted(in, st->cols[k]);
        return true;
    }
    if (c == &spl_cmd_lookup) {
        bool any = false;
        for (size_t k = 0; k < st->nlin; k++)
            any |= col_tainted(in, st->lin[k].row_col);
        for (size_t k = 0; k < st->nlout; k++)
            if (st->lout[k].row_col >= 0)
                out->t[st->lout[k].row_col] = any || col_tainted(in, st->lout[k].row_col);
        return true;
    }
    if (c == &spl_cmd_bin || c == &spl_cmd_bucket) { /* span= only: each row's own value */
        if (st->cols2[0] >= 0)
            out->t[st->cols2[0]] = col_tainted(in, st->cols[0]) || col_tainted(in, st->cols2[0]);
        return true;
    }
    if (c == &spl_cmd_rex) {
        bool src = col_tainted(in, st->cols[0]);
        for (size_t k = 0; !st->sed_rep && k < st->nmap; k++)
            out->t[st->cols2[k]] = src || col_tainted(in, st->cols2[k]);
        return true;
    }
    /* in place, each value from itself and constants; new columns hold constants */
    return c == &spl_cmd_fillnull || c == &spl_cmd_makemv || c == &spl_cmd_replace;
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
 * if any (pr->where: its stage). */
static size_t prefix(const esc_plan *p, size_t s, spl_prune *pr) {
    const stage *src = &p->stages[s];
    taint tn = {{false}};
    if (src->out.n > ESC_SPL_MAX_COLUMNS)
        return s;
    for (size_t i = src->nby; i < src->out.n; i++)
        tn.t[i] = true;
    size_t last_filter = s;
    for (size_t i = s + 1; i < p->nstages; i++) {
        taint next;
        bool filter;
        if (!step(&p->stages[i], &tn, &next, &filter)) {
            if (pr && p->stages[i].cmd == &spl_cmd_where && !p->stages[i].sub)
                clean_operands(p->stages[i].cond, &tn, pr->ops, &pr->nops, SPL_PRUNE_OPS);
            if (pr && pr->nops)
                pr->where = i;
            break;
        }
        /* past the stage's schema there is no column: a column a later stage adds there starts
         * untainted (its writer taints it), not with the taint of a column a rename dropped */
        for (size_t c = p->stages[i].out.n; c < ESC_SPL_MAX_COLUMNS; c++)
            next.t[c] = false;
        tn = next;
        if (filter)
            last_filter = i;
    }
    return last_filter;
}

size_t spl_prune_stages(const esc_plan *p) {
    if (p->ds == ESC_DS_RAW || p->nstages < 2)
        return 0;
    return prefix(p, 0, NULL);
}

bool spl_prune_stats(const esc_plan *p, size_t s, spl_prune *pr) {
    memset(pr, 0, sizeof *pr);
    pr->s = s;
    pr->k = prefix(p, s, pr);
    return pr->k > s || pr->where;
}

/* After the n groups' rows ran the filters (rc; limited: the regex limit count before them):
 * dead[r] for each group no row of t (row_id) survived from, when the run was exact; else none. */
static void mark_dead(const esc_table *t, size_t n, esc_status rc, uint64_t limited, bool *dead) {
    bool exact = rc == ESC_OK && spl_re_limited() == limited && t->row_id && t->nrows <= n;
    spl_re_limited_set(limited); /* counted when the kept groups run the whole search */
    for (size_t r = 0; r < n; r++)
        dead[r] = exact;
    for (size_t r = 0; exact && r < t->nrows; r++)
        dead[t->row_id[r]] = false;
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
    mark_dead(t, n, rc, limited, dead);
    esc_free(keep);
    return rc == ESC_ENOMEM ? esc_error_set(err, ESC_ENOMEM, "out of memory") : ESC_OK;
}

esc_status spl_prune_check(const esc_plan *p, size_t k, esc_agg *a, size_t from, size_t to,
                           bool *dead, esc_error *err) {
    esc_table *t = NULL;
    esc_status rc = spl_agg_rows(a, &p->stages[0], from, to, &t, err);
    if (rc != ESC_OK)
        return rc;
    size_t n = to - from;
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
    mark_dead(t, n, rc, limited, dead);
    esc_table_free(t);
    return rc == ESC_ENOMEM ? esc_error_set(err, ESC_ENOMEM, "out of memory") : ESC_OK;
}
