/* Semi-join of spilled groups (docs/benchmarks.md "Peak memory"): when a search with a `join`
 * finishes and one side's tstats groups were spilled (spill.c), the groups of that side whose
 * join-field value occurs nowhere on the other side are left out as they are merged back, so a
 * join of every process with a handful of registry events holds the handful, not every process.
 *
 * When it is exact: an inner join (or, on the subsearch side, any join) pairs a row only with
 * rows whose join fields hold the same values (cmd_join.c, cells compared as C strings), so a
 * group whose value of a join field is absent from the other side gives no paired row. The
 * side's pipeline up to the join must be row-local (exec.c row_local: each row is its group's),
 * and the join field's column must copy a tstats BY field unchanged (the schema's origin, or an
 * `eval join_guid = process_guid` of such a column: value_origin), so a group's key is the
 * row's cell. Evidence (evidence.c) must not change either: a final row's
 * evidence reaches subsearch rows and groups through the columns it still carries, so a join
 * field is used only when the final table carries it (then any group or subsearch row behind a
 * final row agrees with that row, hence with the other side, on that field). Fields that fail a
 * condition constrain nothing; with none left nothing is filtered.
 * Deliberately not done: joins other than the first after the tstats, and filtering groups that
 * stayed in memory (they cost nothing more to keep). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"
#include "spl/semijoin.h"

typedef struct keyset_field {
    esc_str *v; /* sorted, distinct */
    size_t n, cap;
} keyset_field;

struct spl_keyset {
    size_t nby;
    keyset_field *f; /* per BY field; v NULL and n 0 with used false: unconstrained */
    bool *used;
};

spl_keyset *spl_keyset_new(size_t nby) {
    spl_keyset *k = esc_calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->nby = nby;
    k->f = esc_calloc(nby ? nby : 1, sizeof *k->f);
    k->used = esc_calloc(nby ? nby : 1, sizeof *k->used);
    if (!k->f || !k->used) {
        spl_keyset_free(k);
        return NULL;
    }
    return k;
}

void spl_keyset_free(spl_keyset *k) {
    if (!k)
        return;
    for (size_t b = 0; k->f && b < k->nby; b++) {
        for (size_t i = 0; i < k->f[b].n; i++)
            esc_free((char *)k->f[b].v[i].ptr);
        esc_free(k->f[b].v);
    }
    esc_free(k->f);
    esc_free(k->used);
    esc_free(k);
}

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(((const esc_str *)a)->ptr, ((const esc_str *)b)->ptr);
}

static bool push(keyset_field *f, const char *v) {
    if (f->n == f->cap && !ESC_VEC_GROW(f->v, f->cap, f->n + 1, 16))
        return false;
    char *d = esc_strdup(v);
    if (!d)
        return false;
    f->v[f->n++] = esc_str_c(d);
    return true;
}

bool spl_keyset_add_column(spl_keyset *k, size_t b, const esc_table *t, size_t col) {
    keyset_field *f = &k->f[b];
    k->used[b] = true;
    for (size_t r = 0; r < t->nrows; r++) {
        const esc_cell *c = esc_table_cell(t, r, col);
        for (size_t i = 0; i < c->n; i++) /* every value: more than the join pairs, never less */
            if (!push(f, c->v[i]))
                return false;
    }
    if (f->n > 1)
        qsort(f->v, f->n, sizeof *f->v, cmp_cstr);
    size_t o = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (o && strcmp(f->v[o - 1].ptr, f->v[i].ptr) == 0) {
            esc_free((char *)f->v[i].ptr);
            continue;
        }
        f->v[o++] = f->v[i];
    }
    f->n = o;
    return true;
}

bool spl_keyset_any(const spl_keyset *k) {
    for (size_t b = 0; k && b < k->nby; b++)
        if (k->used[b])
            return true;
    return false;
}

bool spl_keyset_none(const spl_keyset *k) {
    for (size_t b = 0; k && b < k->nby; b++)
        if (k->used[b] && !k->f[b].n)
            return true;
    return false;
}

/* key (up to its first NUL, as the join compares cells: as C strings) against the C string v,
 * in strcmp's order, without copying it out to end it. */
static int cmp_key(const char *key, size_t len, const esc_str *v) {
    int c = memcmp(key, v->ptr, len < v->len ? len : v->len);
    return c ? c : (len > v->len) - (len < v->len);
}

bool spl_keyset_keep(void *ctx, const esc_str *keys) {
    const spl_keyset *k = ctx;
    for (size_t b = 0; b < k->nby; b++) {
        if (!k->used[b])
            continue;
        const char *key = keys[b].ptr ? keys[b].ptr : "";
        size_t len = strnlen(key, keys[b].len), lo = 0, hi = k->f[b].n;
        bool hit = false;
        while (lo < hi && !hit) {
            size_t mid = lo + (hi - lo) / 2;
            int c = cmp_key(key, len, &k->f[b].v[mid]);
            hit = c == 0;
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
        if (!hit)
            return false;
    }
    return true;
}

/* ---- which fields: the conditions above ---- */

/* The tstats BY field of p whose value column origin o copies, or -1. */
static int by_of(const esc_plan *p, int o) {
    const stage *src = &p->stages[0];
    for (size_t b = 0; b < src->nby && o != -1; b++)
        if ((o >= 0 && src->by[b].ref == o) || o == SPL_ORIGIN_BY(b))
            return (int)b;
    return -1;
}

/* Whether p's final table has a column of origin o. */
static bool final_has(const esc_plan *p, int o) {
    const schema *out = &p->stages[p->nstages - 1].out;
    for (size_t c = 0; o != -1 && out->origin && c < out->n; c++)
        if (out->origin[c] == o)
            return true;
    return false;
}

/* The eval item of st that sets column c last, or NULL. */
static const eval_item *last_set(const stage *st, int c) {
    for (size_t k = st->nevals; k > 0; k--)
        if (st->evals[k - 1].col == c)
            return &st->evals[k - 1];
    return NULL;
}

/* Whether column c of eval stage st, set by item it, is a plain reference to a column the
 * stage's input holds (*from): `eval join_guid = process_guid` copies the cell, whose text the
 * join compares, unchanged (eval.c EN_FIELD: a single text value stays that text). */
static bool copies(const stage *st, const eval_item *it, int *from) {
    const enode *e = it->e;
    if (!e || e->kind != EN_FIELD || e->col < 0)
        return false;
    for (const eval_item *o = st->evals; o < it; o++)
        if (o->col == e->col)
            return false; /* an earlier item's result, not the input's */
    *from = e->col;
    return true;
}

/* The schema origin of column c of stage j's output, followed back through the row-local
 * stages before it when c has none: remaps (rename, fields, table) move it, filters keep it,
 * and an eval setting it to a plain field reference (copies) copies that field's. -1: none,
 * or a stage that changes it otherwise. A tstats BY field's cell is one text value, a number
 * only for _time (cmd_stats.c key_cells), which is left out: eval would print the number. */
static int value_origin(const esc_plan *p, size_t j, int c) {
    for (;;) {
        const stage *st = &p->stages[j];
        if (c < 0 || (size_t)c >= st->out.n || !st->out.origin)
            return -1;
        if (st->out.origin[c] != -1 || j == 0) {
            int b = by_of(p, st->out.origin[c]);
            return b >= 0 && p->stages[0].by[b].ref != FIELD_TIME ? st->out.origin[c] : -1;
        }
        const spl_cmd *cmd = st->cmd;
        const eval_item *it = cmd == &spl_cmd_eval ? last_set(st, c) : NULL;
        if (cmd->run == spl_run_remap)
            c = st->map[c];
        else if (it && !copies(st, it, &c))
            return -1;
        else if (!it && cmd != &spl_cmd_eval && cmd != &spl_cmd_where && cmd != &spl_cmd_search)
            return -1;
        j--;
    }
}

int spl_semijoin_main_by(const esc_plan *p, size_t i, size_t k) {
    const stage *st = &p->stages[i];
    if (st->join_type != 0 || st->cols[k] < 0 || st->cols2[k] < 0 || !st->out.origin ||
        !p->stages[i - 1].out.origin)
        return -1;
    for (size_t j = 1; j < i; j++)
        if (!spl_exec_row_local(&p->stages[j]))
            return -1;
    int o = p->stages[i - 1].out.origin[st->cols[k]];
    if (o != -1)
        return final_has(p, st->out.origin[st->cols[k]]) ? by_of(p, o) : -1;
    /* an eval's copy of a BY field: the final table must carry the field itself */
    o = value_origin(p, i - 1, st->cols[k]);
    return o != -1 && final_has(p, o) ? by_of(p, o) : -1;
}

int spl_semijoin_sub_by(const esc_plan *p, size_t i, size_t k) {
    const stage *st = &p->stages[i];
    const esc_plan *sp = st->sub;
    if (st->cols[k] < 0 || st->cols2[k] < 0 || !st->out.origin)
        return -1;
    for (size_t j = 1; j < sp->nstages; j++)
        if (!spl_exec_row_local(&sp->stages[j]))
            return -1;
    const schema *sout = &sp->stages[sp->nstages - 1].out;
    if (!sout->origin || (size_t)st->cols2[k] >= sout->n ||
        !final_has(p, st->out.origin[st->cols[k]]))
        return -1;
    return by_of(sp, sout->origin[st->cols2[k]]);
}
