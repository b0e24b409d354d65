/* Column liveness: which columns of a stage's output some later stage, the final table or its
 * evidence reads (spl_plan_live, run once a pipeline is planned; stage.dead holds the answer).
 *
 * The walk goes backward from the last stage, whose every column is read (it is the search's
 * output; evidence reads the final columns only, through their origins). For a stage whose reads
 * are modelled, an input column is live when the stage reads it or copies it to a live output
 * column: rename, fields, table (their column map), convert (its sources, and each column kept
 * in place), eval (every field of every expression, whether or not its target is read, and each
 * column kept), bin (its field, when the column it bins into is read, and each column
 * kept), where and row search (every field compared), eventstats (its BY and aggregate
 * fields and every column kept) and stats (its BY and aggregate fields only: its output is new).
 * Every reference was resolved to a column at plan time against the static schema (wildcards in
 * rename, fields, table, convert and stats aggregates included), so a name read later is a
 * column index here. Any other command (a join, lookup, dedup, sort, a subsearch, map,
 * appendpipe, transaction, ...) makes every column of its input live.
 *
 * What a dead column allows (spl/cmd_stats.c fill_aggs): the aggregates of a tstats, stats or
 * eventstats that land in one are not filled, so the first table of `| tstats count min(_time) as
 * firstTime ... | eventstats ... | stats max(x) by ...` holds no count, firstTime or lastTime
 * cell; a raw-event search's rows leave a dead column empty (spl/cmd_raw.c; never _time, which
 * orders them), and a search that is one is planned again without its dead columns (plan.c
 * narrow_raw: its rows are narrower, not only emptier). Nothing that reads rows can tell: a
 * dead column is by definition read by no later command, and the output and evidence are the
 * last stage's columns.
 *
 * Deliberately not done: eval items or convert conversions whose target is dead are still
 * computed (a later item of the same eval may read it); a column is not emptied at the stage
 * after which it goes dead (only the aggregates and raw fields that would fill it are skipped). */
#include <string.h>

#include "spl/cmd.h"

static void mark(bool *live, size_t n, int col) {
    if (col >= 0 && (size_t)col < n)
        live[col] = true;
}

static void mark_enode(bool *live, size_t n, const enode *e) {
    if (!e)
        return;
    if (e->kind == EN_FIELD)
        mark(live, n, e->col);
    for (size_t i = 0; i < e->nargs; i++)
        mark_enode(live, n, e->args[i]);
}

static void mark_snode(bool *live, size_t n, const snode *s) {
    if (!s)
        return;
    if (s->kind == SN_CMP)
        mark(live, n, s->ref);
    mark_snode(live, n, s->l);
    mark_snode(live, n, s->r);
}

static void keep_same(const bool *out, size_t nout, bool *in, size_t nin) {
    for (size_t c = 0; c < nin && c < nout; c++)
        in[c] = in[c] || out[c];
}

static void mark_aggs(const stage *st, bool *in, size_t nin) {
    for (size_t k = 0; k < st->nby; k++)
        mark(in, nin, st->by[k].ref);
    for (size_t i = 0; i < st->naggs; i++) {
        mark(in, nin, st->aggs[i].ref);
        mark_enode(in, nin, st->aggs[i].expr);
    }
}

/* in[c]: column c of st's input is read by st or kept by it into a column out marks live.
 * False when st's reads are not modelled (the caller then keeps every input column). */
static bool stage_reads(const stage *st, const bool *out, bool *in, size_t nin) {
    const spl_cmd *cmd = st->cmd;
    size_t nout = st->out.n;
    if (cmd == &spl_cmd_rename || cmd == &spl_cmd_fields || cmd == &spl_cmd_table) {
        if (!st->map)
            return false;
        for (size_t o = 0; o < nout; o++)
            if (out[o])
                mark(in, nin, st->map[o]);
    } else if (cmd == &spl_cmd_convert) {
        keep_same(out, nout, in, nin);
        for (size_t k = 0; k < st->nmap; k++)
            if (st->cols2[k] >= 0 && (size_t)st->cols2[k] < nout && out[st->cols2[k]])
                mark(in, nin, st->cols[k]);
    } else if (cmd == &spl_cmd_eval) {
        keep_same(out, nout, in, nin);
        for (size_t k = 0; k < st->nevals; k++)
            mark_enode(in, nin, st->evals[k].e);
    } else if (cmd == &spl_cmd_bin) { /* its column, in place or into another */
        keep_same(out, nout, in, nin);
        if (st->cols2[0] >= 0 && (size_t)st->cols2[0] < nout && out[st->cols2[0]])
            mark(in, nin, st->cols[0]);
    } else if (cmd == &spl_cmd_where) {
        keep_same(out, nout, in, nin);
        mark_enode(in, nin, st->cond);
    } else if (cmd == &spl_cmd_search && !st->sub) {
        keep_same(out, nout, in, nin);
        mark_snode(in, nin, st->where);
    } else if (cmd == &spl_cmd_eventstats) {
        keep_same(out, nout, in, nin);
        mark_aggs(st, in, nin);
    } else if (cmd == &spl_cmd_stats) {
        mark_aggs(st, in, nin);
    } else {
        return false;
    }
    return true;
}

/* The stages that leave a dead column empty (only theirs are kept: a plan of every detection is
 * held for the whole run). */
static bool fills_less(const stage *st) {
    return st->cmd == &spl_cmd_tstats || st->cmd == &spl_cmd_stats ||
           st->cmd == &spl_cmd_eventstats || st->cmd == &spl_cmd_raw;
}

esc_status spl_plan_live(esc_plan *p, esc_error *err) {
    bool a[ESC_SPL_MAX_COLUMNS], b[ESC_SPL_MAX_COLUMNS], *out = a, *in = b;
    if (p->nstages < 2 || p->stages[p->nstages - 1].out.n > ESC_SPL_MAX_COLUMNS)
        return ESC_OK;
    for (size_t c = 0; c < p->stages[p->nstages - 1].out.n; c++)
        out[c] = true;
    for (size_t i = p->nstages - 1; i > 0; i--) {
        stage *prev = &p->stages[i - 1];
        size_t nin = prev->out.n;
        if (nin > ESC_SPL_MAX_COLUMNS)
            return ESC_OK; /* (not made: schemas are capped) every column stays filled */
        memset(in, 0, sizeof a);
        bool modelled = stage_reads(&p->stages[i], out, in, nin), any_dead = false;
        for (size_t c = 0; c < nin; c++) {
            in[c] = in[c] || !modelled;
            any_dead = any_dead || !in[c];
        }
        if (any_dead && fills_less(prev)) {
            if (!(prev->dead = esc_arena_alloc(&p->arena, nin * sizeof *prev->dead)))
                return spl_plan_oom(err);
            for (size_t c = 0; c < nin; c++)
                prev->dead[c] = !in[c];
        }
        bool *t = out;
        out = in;
        in = t;
    }
    return ESC_OK;
}
