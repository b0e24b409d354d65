/* The events behind each result row (docs/evidence.md).
 *
 * While records are fed, each one that carries its event (esc_record.ev) is counted as a
 * reference in the evidence of the tstats group it went into (agg/evidence.h). When the search
 * is finished, a row's evidence is that of every tstats group whose BY values the row still
 * carries: a final column that copies a tstats BY field unchanged (the plan's schema origin,
 * renames such as drop_dm_object_name included) must hold the group's value. A row that kept
 * no BY field (`| stats count`) stands for every group. This is how a drilldown search finds
 * a notable's events, done on the references instead of searching again.
 *
 *
 * A join's subsearch rows carry their own evidence (computed when the subsearch finished); a
 * row made through a join also has the evidence of every subsearch row it still agrees with: each
 * final column that copies a subsearch column (the plan's SPL_ORIGIN_JOIN), and each join field
 * the row still carries, must hold the subsearch row's value (a subsearch cell left empty
 * constrains nothing, except a join field's: the join never pairs an empty field).
 *
 * Invariants: the references of a row are time-ordered, each once, the ESC_EVIDENCE_KEEP
 * earliest and latest of the union of its groups and subsearch rows; total is the sum of their
 * counts (an event counted by both the search and its subsearch counts twice).
 * A raw-event search has no tstats groups: its rows carry their events (lineage, at the end of
 * this file): each event is a row standing for itself, commands that keep, copy or merge rows
 * keep, copy or merge their events (cmd.h), and the finished table's lineage becomes its
 * evidence (spl_lineage_finish), before a join's subsearch rows add theirs.
 * Deliberately not done: following a value an eval or a lookup changed (such a column is not a
 * BY copy and so constrains nothing). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"
#include "spl/semijoin.h"

esc_status spl_evidence_feed(esc_evset *es, size_t g, const esc_record *r, esc_error *err) {
    const esc_event *ev = r->ev;
    esc_evref ref = {ev->path, ev->offset, ev->line, ev->record_id, r->time_us};
    if (esc_evset_add(es, g, &ref) != 0)
        return esc_error_set(err, ESC_ENOMEM, "out of memory keeping evidence");
    return ESC_OK;
}

void spl_row_evidence_free(esc_row_evidence *e) {
    for (size_t i = 0; i < e->n; i++)
        esc_free((char *)e->refs[i].path);
    esc_free(e->refs);
}

void spl_evidence_free(esc_table *t) {
    if (!t->evidence)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        spl_row_evidence_free(&t->evidence[r]);
    esc_free(t->evidence);
    t->evidence = NULL;
}

typedef struct constraint {
    size_t col;  /* final column */
    size_t key;  /* tstats BY index, or subsearch column */
    bool strict; /* a join field: an empty subsearch cell agrees with nothing */
} constraint;

/* The rows of one join's subsearch and the final columns that constrain them; the rows that
 * carry events by the values of one constraint's column (c[0]: a join field when one
 * constrains), or, without constraints, every row's events at once. */
typedef struct jside {
    const esc_table *s;
    constraint *c;
    size_t nc;
    struct jslot {
        uint64_t h;
        size_t q; /* SIZE_MAX: empty */
    } * slot;
    size_t mask;
    size_t *always, nalways; /* rows whose c[0] cell is empty and c[0] not strict */
    size_t *stamp;           /* per row: 1 + the last final row it was tried for */
    struct acc *all;         /* no constraint: every row's references */
} jside;

typedef struct ctx {
    const esc_agg *agg; /* NULL: no tstats groups hold references */
    const esc_evset *es;
    const esc_table *t;
    constraint c[ESC_SPL_MAX_ITEMS];
    size_t nc;
    struct keyed *order; /* groups sorted by their keys c[0].key, c[1].key, ... */
    size_t ng;
    jside *js;
    size_t njs;
    const esc_row_evidence *seed; /* the rows' own events (lineage), or NULL */
    struct acc *every;            /* no constraint: every group's references, taken once */
} ctx;

/* A row's references so far: the earliest and latest KEEP of what was added, and the count. */
typedef struct acc {
    esc_evref *v;
    size_t n, cap;
    uint64_t tot;
} acc;

typedef struct keyed {
    esc_str key;
    size_t g;
} keyed;

static int cmp_bytes(esc_str a, esc_str b) {
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

/* v[0..n) sorted, each reference once, and cut to the earliest and latest KEEP: the new n.
 * Taken whenever a collection grows, the result is that of all its references at once, in any
 * order of adding them. */
static size_t earliest_latest(esc_evref *v, size_t n) {
    if (n) /* v may be NULL when there is none */
        qsort(v, n, sizeof *v, esc_evref_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || !esc_evref_same(&v[m - 1], &v[i]))
            v[m++] = v[i];
    if (m > 2 * ESC_EVIDENCE_KEEP) {
        memmove(v + ESC_EVIDENCE_KEEP, v + m - ESC_EVIDENCE_KEEP, ESC_EVIDENCE_KEEP * sizeof *v);
        m = 2 * ESC_EVIDENCE_KEEP;
    }
    return m;
}

/* Add n references counting total events to the row's collection, kept bounded. */
static bool acc_add(acc *a, const esc_evref *refs, size_t n, uint64_t total) {
    a->tot += total;
    if (!n)
        return true;
    if (!ESC_VEC_GROW(a->v, a->cap, a->n + n, 4 * ESC_EVIDENCE_KEEP))
        return false;
    memcpy(a->v + a->n, refs, n * sizeof *refs);
    a->n += n;
    if (a->n > 8 * ESC_EVIDENCE_KEEP)
        a->n = earliest_latest(a->v, a->n);
    return true;
}

/* Add group g's references and count to the row's collection. */
static bool take(const ctx *x, size_t g, acc *a) {
    uint64_t gt = esc_evset_total(x->es, g);
    if (!gt)
        return true;
    esc_evref tmp[2 * ESC_EVIDENCE_KEEP];
    size_t n = esc_evset_get(x->es, g, tmp);
    return acc_add(a, tmp, n, gt);
}

/* The context of the sort below (qsort takes none); one per thread. */
static _Thread_local const ctx *sorting;

/* Groups by every constrained key in turn, so that a row with one value in each constrained
 * column finds its groups by one binary search (no scan of the groups sharing its first key). */
static int cmp_keyed(const void *x, const void *y) {
    const keyed *a = x, *b = y;
    int c = cmp_bytes(a->key, b->key);
    for (size_t k = 1; !c && k < sorting->nc; k++)
        c = cmp_bytes(esc_agg_key(sorting->agg, a->g, sorting->c[k].key),
                      esc_agg_key(sorting->agg, b->g, sorting->c[k].key));
    return c;
}

/* Group g against the row's single values v[0..nc) of the constrained columns. */
static int cmp_group_row(const ctx *x, size_t g, const esc_str *v) {
    int c = 0;
    for (size_t k = 0; !c && k < x->nc; k++)
        c = cmp_bytes(esc_agg_key(x->agg, g, x->c[k].key), v[k]);
    return c;
}

/* A row whose every constrained column holds one value: its groups are one range of order[]. */
static bool row_single(const ctx *x, size_t r, acc *a) {
    esc_str want[ESC_SPL_MAX_ITEMS];
    for (size_t k = 0; k < x->nc; k++)
        want[k] = esc_str_c(esc_table_cell(x->t, r, x->c[k].col)->v[0]);
    size_t lo = 0, hi = x->ng;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp_group_row(x, x->order[mid].g, want) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    bool ok = true;
    for (size_t k = lo; k < x->ng && ok && cmp_group_row(x, x->order[k].g, want) == 0; k++)
        ok = take(x, x->order[k].g, a);
    return ok;
}

static int cmp_str(esc_str a, const char *b) {
    size_t bl = strlen(b), n = a.len < bl ? a.len : bl;
    int c = n ? memcmp(a.ptr, b, n) : 0;
    return c ? c : (a.len > bl) - (a.len < bl);
}

static bool cell_has(const esc_cell *c, esc_str v) {
    for (size_t i = 0; i < c->n; i++)
        if (cmp_str(v, c->v[i]) == 0)
            return true;
    return false;
}

/* Does group g agree with row r on every constraint from the k-th? */
static bool agrees(const ctx *x, size_t g, size_t r, size_t from) {
    for (size_t k = from; k < x->nc; k++)
        if (!cell_has(esc_table_cell(x->t, r, x->c[k].col), esc_agg_key(x->agg, g, x->c[k].key)))
            return false;
    return true;
}

/* The kept references of a (sorted, each once, earliest and latest KEEP) into e. */
static bool finish_row(acc *a, esc_row_evidence *e) {
    esc_evref *v = a->v;
    size_t m = earliest_latest(v, a->n);
    e->total = a->tot;
    e->n = 0;
    if (!m)
        return true;
    e->refs = esc_calloc(m, sizeof *e->refs);
    if (!e->refs)
        return false;
    for (size_t i = 0; i < m; i++) {
        e->refs[i] = v[i];
        if (!(e->refs[i].path = esc_strdup(v[i].path)))
            return false;
        e->n = i + 1;
    }
    return true;
}

/* The groups behind row r. */
static bool row_groups(const ctx *x, size_t r, acc *a) {
    bool ok = true;
    bool single = x->nc > 0;
    for (size_t k = 0; k < x->nc && single; k++)
        single = esc_table_cell(x->t, r, x->c[k].col)->n == 1;
    if (!x->nc) {
        ok = acc_add(a, x->every->v, x->every->n, x->every->tot);
    } else if (single) {
        ok = row_single(x, r, a);
    } else {
        const esc_cell *c0 = esc_table_cell(x->t, r, x->c[0].col);
        for (size_t i = 0; i < c0->n && ok; i++) {
            /* the groups whose first constrained key is this value: a range of order[] */
            size_t lo = 0, hi = x->ng;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (cmp_str(x->order[mid].key, c0->v[i]) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            for (size_t k = lo; k < x->ng && ok; k++) {
                size_t g = x->order[k].g;
                if (cmp_str(x->order[k].key, c0->v[i]) != 0)
                    break;
                if (agrees(x, g, r, 1))
                    ok = take(x, g, a);
            }
        }
    }
    return ok;
}

/* Does subsearch row q agree with row r: some value of each constraining subsearch cell in the
 * row's cell? */
static bool sub_agrees(const ctx *x, const jside *j, size_t r, size_t q) {
    for (size_t k = 0; k < j->nc; k++) {
        const esc_cell *sc = esc_table_cell(j->s, q, j->c[k].key);
        if (!sc->n) {
            if (j->c[k].strict)
                return false;
            continue;
        }
        const esc_cell *fc = esc_table_cell(x->t, r, j->c[k].col);
        bool any = false;
        for (size_t i = 0; i < sc->n && !any; i++)
            any = cell_has(fc, esc_str_c(sc->v[i]));
        if (!any)
            return false;
    }
    return true;
}

/* Subsearch row q's references, once per final row r, when it agrees with r. */
static bool side_row(const ctx *x, jside *js, size_t r, size_t q, acc *a) {
    if (js->stamp[q] == r + 1)
        return true;
    js->stamp[q] = r + 1;
    const esc_row_evidence *se = &js->s->evidence[q];
    return !sub_agrees(x, js, r, q) || acc_add(a, se->refs, se->n, se->total);
}

/* The references of the subsearch rows that agree with row r: those found by r's values of
 * the indexed constraint, and those whose indexed cell is empty (a row tried against every
 * subsearch row took |t| x 50,000 checks at worst). */
static bool side_evidence(const ctx *x, jside *js, size_t r, acc *a) {
    if (js->all)
        return acc_add(a, js->all->v, js->all->n, js->all->tot);
    bool ok = true;
    for (size_t i = 0; i < js->nalways && ok; i++)
        ok = side_row(x, js, r, js->always[i], a);
    const esc_cell *fc = esc_table_cell(x->t, r, js->c[0].col);
    for (size_t i = 0; i < fc->n && ok; i++) {
        uint64_t h = esc_str_hash(esc_str_c(fc->v[i]));
        for (size_t b = h & js->mask; js->slot[b].q != SIZE_MAX && ok; b = (b + 1) & js->mask)
            if (js->slot[b].h == h)
                ok = side_row(x, js, r, js->slot[b].q, a);
    }
    return ok;
}

static bool row_evidence(const ctx *x, size_t r, esc_row_evidence *e) {
    acc a = {NULL, 0, 0, 0};
    bool ok = !x->agg || row_groups(x, r, &a);
    if (ok && x->seed)
        ok = acc_add(&a, x->seed[r].refs, x->seed[r].n, x->seed[r].total);
    for (size_t j = 0; j < x->njs && ok; j++)
        ok = side_evidence(x, &x->js[j], r, &a);
    ok = ok && finish_row(&a, e);
    esc_free(a.v);
    return ok;
}

/* The constraints: final columns that copy a tstats BY field unchanged. */
static void constraints(const esc_plan *p, const esc_table *t, ctx *x) {
    const stage *src = &p->stages[0];
    const schema *out = &p->stages[p->nstages - 1].out;
    if (out->n != t->ncols || !out->origin)
        return;
    for (size_t c = 0; c < out->n && x->nc < ESC_SPL_MAX_ITEMS; c++) {
        int o = out->origin[c];
        for (size_t k = 0; k < src->nby && o != -1; k++)
            if ((o >= 0 && src->by[k].ref == o) || o == SPL_ORIGIN_BY(k)) {
                x->c[x->nc++] = (constraint){c, k, false};
                break;
            }
    }
}

/* Final columns holding origin o constrain subsearch column scol. */
static void jside_add(const schema *out, int o, size_t scol, bool strict, jside *j) {
    for (size_t c = 0; c < out->n; c++)
        if (out->origin[c] == o)
            j->c[j->nc++] = (constraint){c, scol, strict};
}

/* The subsearch of join stage i and its constraints: final columns copying one of its columns,
 * and those still holding a join field. False when out of memory. */
static bool join_side(const esc_plan *p, size_t i, const esc_table *s, const esc_table *t,
                      jside *j) {
    const stage *st = &p->stages[i];
    const schema *out = &p->stages[p->nstages - 1].out;
    j->s = s;
    j->nc = 0;
    if (out->n != t->ncols || !out->origin)
        return true; /* nothing known: every subsearch row */
    if (!(j->c = esc_calloc(out->n * (st->nnames + 1) + 1, sizeof *j->c)))
        return false;
    for (size_t c = 0; c < s->ncols && c < ESC_SPL_MAX_COLUMNS; c++) {
        bool key = false;
        for (size_t k = 0; k < st->nnames; k++)
            key |= st->cols2[k] == (int)c;
        jside_add(out, SPL_ORIGIN_JOIN(i, c), c, key, j);
    }
    for (size_t k = 0; k < st->nnames; k++) {
        if (st->cols[k] < 0 || st->cols2[k] < 0)
            continue;
        int o = st->out.origin[st->cols[k]];
        if (o != -1 && o != SPL_ORIGIN_JOIN(i, (size_t)st->cols2[k]))
            jside_add(out, o, (size_t)st->cols2[k], true, j);
    }
    return true;
}

/* j's index (above). A strict constraint goes first: its empty cells agree with nothing. */
static bool side_index(jside *j) {
    const esc_table *s = j->s;
    if (!j->nc) { /* every row agrees with every final row */
        if (!(j->all = esc_calloc(1, sizeof *j->all)))
            return false;
        for (size_t q = 0; q < s->nrows; q++)
            if (s->evidence[q].total &&
                !acc_add(j->all, s->evidence[q].refs, s->evidence[q].n, s->evidence[q].total))
                return false;
        return true;
    }
    for (size_t k = 1; k < j->nc && !j->c[0].strict; k++)
        if (j->c[k].strict) {
            constraint t = j->c[0];
            j->c[0] = j->c[k];
            j->c[k] = t;
        }
    size_t nvals = 0, cap = 16;
    for (size_t q = 0; q < s->nrows; q++)
        nvals += esc_table_cell(s, q, j->c[0].key)->n;
    while (cap < 2 * nvals)
        cap *= 2;
    j->mask = cap - 1;
    j->slot = esc_malloc(cap * sizeof *j->slot);
    j->always = esc_malloc((s->nrows ? s->nrows : 1) * sizeof *j->always);
    j->stamp = esc_calloc(s->nrows ? s->nrows : 1, sizeof *j->stamp);
    if (!j->slot || !j->always || !j->stamp)
        return false;
    for (size_t b = 0; b < cap; b++)
        j->slot[b].q = SIZE_MAX;
    for (size_t q = 0; q < s->nrows; q++) {
        const esc_cell *c = esc_table_cell(s, q, j->c[0].key);
        if (!s->evidence[q].total)
            continue;
        if (!c->n && !j->c[0].strict)
            j->always[j->nalways++] = q;
        for (size_t i = 0; i < c->n; i++) {
            uint64_t h = esc_str_hash(esc_str_c(c->v[i]));
            size_t b = h & j->mask;
            while (j->slot[b].q != SIZE_MAX)
                b = (b + 1) & j->mask;
            j->slot[b] = (struct jslot){h, q};
        }
    }
    return true;
}

static void ctx_fini(ctx *x) {
    for (size_t j = 0; j < x->njs; j++) {
        esc_free(x->js[j].c);
        esc_free(x->js[j].slot);
        esc_free(x->js[j].always);
        esc_free(x->js[j].stamp);
        if (x->js[j].all)
            esc_free(x->js[j].all->v);
        esc_free(x->js[j].all);
    }
    esc_free(x->js);
    esc_free(x->order);
    if (x->every)
        esc_free(x->every->v);
    esc_free(x->every);
}

/* The join sides whose subsearch rows carry evidence. */
static bool join_sides(const esc_plan *p, const esc_table *const *subs, ctx *x) {
    for (size_t i = 1; subs && i < p->nstages && i < ESC_SPL_MAX_STAGES; i++) {
        const esc_table *s = subs[i];
        if (!s || !s->evidence || p->stages[i].cmd != &spl_cmd_join ||
            s->ncols != p->stages[i].sub->stages[p->stages[i].sub->nstages - 1].out.n)
            continue;
        if (!x->js && !(x->js = esc_calloc(p->nstages, sizeof *x->js)))
            return false;
        if (!join_side(p, i, s, x->t, &x->js[x->njs++]) || !side_index(&x->js[x->njs - 1]))
            return false;
    }
    return true;
}

bool spl_evidence_keys(const esc_plan *p, const esc_table *t, spl_keyset *k) {
    ctx x = {0};
    x.t = t;
    constraints(p, t, &x);
    for (size_t i = 0; i < x.nc; i++)
        if (!spl_keyset_add_column(k, x.c[i].key, t, x.c[i].col))
            return false;
    return true;
}

esc_status spl_evidence_attach(const esc_plan *p, const esc_agg *agg, const esc_evset *es,
                               bool held, const esc_table *const *subs, esc_table *t,
                               esc_error *err) {
    ctx x = {.es = es, .t = t, .ng = agg ? esc_agg_ngroups(agg) : 0, .seed = t->evidence};
    bool any = held;
    for (size_t g = 0; g < x.ng && !any; g++)
        any = esc_evset_total(es, g) > 0;
    t->evidence_truncated = t->evidence_truncated || (es && esc_evset_truncated(es));
    if (any)
        x.agg = agg;
    bool ok = join_sides(p, subs, &x);
    if (!ok || (!any && !x.njs) || !t->nrows)
        goto out;
    if (x.agg)
        constraints(p, t, &x);
    if (x.nc) {
        if (!(x.order = esc_malloc(x.ng * sizeof *x.order))) {
            ok = false;
            goto out;
        }
        for (size_t g = 0; g < x.ng; g++)
            x.order[g] = (keyed){esc_agg_key(agg, g, x.c[0].key), g};
        sorting = &x;
        qsort(x.order, x.ng, sizeof *x.order, cmp_keyed);
        sorting = NULL;
    } else if (x.agg) { /* each row stands for every group: their union once, not per row */
        ok = (x.every = esc_calloc(1, sizeof *x.every)) != NULL;
        for (size_t g = 0; g < x.ng && ok; g++)
            ok = take(&x, g, x.every);
        if (!ok)
            goto out;
    }
    t->evidence = esc_calloc(t->nrows, sizeof *t->evidence);
    ok = t->evidence != NULL;
    for (size_t r = 0; r < t->nrows && ok; r++)
        ok = row_evidence(&x, r, &t->evidence[r]);
    if (x.seed) { /* replaced by the rows' evidence with their subsearch rows' */
        esc_row_evidence *now = t->evidence;
        t->evidence = (esc_row_evidence *)x.seed;
        spl_evidence_free(t);
        t->evidence = now;
    }
out:
    ctx_fini(&x);
    if (!ok) {
        spl_evidence_free(t);
        return spl_exec_oom(err);
    }
    return ESC_OK;
}

/* ---- lineage: a raw-event search's rows carry their events ---- */

esc_status spl_lineage_event(esc_table *t, size_t row, const esc_record *r, esc_error *err) {
    t->row_id[row] = row;
    if (!r->ev)
        return ESC_OK;
    if (!t->lineage && !(t->lineage = esc_evset_new()))
        return spl_exec_oom(err);
    return spl_evidence_feed(t->lineage, row, r, err);
}

void spl_lineage_carry(esc_table *dst, esc_table *src) {
    if (dst->lineage == src->lineage)
        return;
    esc_evset_free(dst->lineage);
    dst->lineage = src->lineage;
    src->lineage = NULL;
    dst->evidence_truncated = src->evidence_truncated;
}

bool spl_lineage_pick(esc_table *dst, esc_table *src, const size_t *from) {
    if (!src->row_id)
        return true;
    esc_free(dst->row_id);
    if (!(dst->row_id = esc_malloc((dst->nrows ? dst->nrows : 1) * sizeof *dst->row_id)))
        return false;
    for (size_t r = 0; r < dst->nrows; r++)
        dst->row_id[r] = src->row_id[from[r]];
    spl_lineage_carry(dst, src);
    return true;
}

bool spl_lineage_open(esc_table *dst, const esc_table *src) {
    if (!src->lineage || !src->row_id)
        return true;
    esc_free(dst->row_id);
    esc_evset_free(dst->lineage);
    dst->row_id = esc_malloc((dst->nrows ? dst->nrows : 1) * sizeof *dst->row_id);
    dst->lineage = esc_evset_new();
    if (!dst->row_id || !dst->lineage)
        return false;
    for (size_t r = 0; r < dst->nrows; r++)
        dst->row_id[r] = r;
    dst->evidence_truncated = src->evidence_truncated || esc_evset_truncated(src->lineage);
    return true;
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

bool spl_lineage_seen_start(spl_lineage_seen *s, const esc_table *src) {
    memset(s, 0, sizeof *s);
    if (!src->lineage || !src->row_id || src->nrows < 2)
        return true;
    size_t *ids = esc_malloc(src->nrows * sizeof *ids);
    if (!ids)
        return false;
    memcpy(ids, src->row_id, src->nrows * sizeof *ids);
    qsort(ids, src->nrows, sizeof *ids, cmp_size);
    for (size_t i = 1; i < src->nrows && !s->on; i++)
        s->on = ids[i] == ids[i - 1];
    esc_free(ids);
    return true;
}

void spl_lineage_seen_fini(spl_lineage_seen *s) {
    esc_free(s->v);
    memset(s, 0, sizeof *s);
}

/* 1 the first time the pair (g, sg) is offered, 0 after, -1 out of memory (open addressing,
 * at most half full). */
static int seen_once(spl_lineage_seen *s, size_t g, size_t sg) {
    if (!s || !s->on)
        return 1;
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        size_t(*v)[2] = esc_malloc(cap * sizeof *v);
        if (!v)
            return -1;
        for (size_t i = 0; i < cap; i++)
            v[i][0] = SIZE_MAX;
        for (size_t i = 0; i < s->cap; i++) {
            if (s->v[i][0] == SIZE_MAX)
                continue;
            size_t h = (s->v[i][0] * 0x9E3779B97F4A7C15u ^ s->v[i][1]) & (cap - 1);
            while (v[h][0] != SIZE_MAX)
                h = (h + 1) & (cap - 1);
            v[h][0] = s->v[i][0];
            v[h][1] = s->v[i][1];
        }
        esc_free(s->v);
        s->v = v;
        s->cap = cap;
    }
    size_t h = (g * 0x9E3779B97F4A7C15u ^ sg) & (s->cap - 1);
    for (; s->v[h][0] != SIZE_MAX; h = (h + 1) & (s->cap - 1))
        if (s->v[h][0] == g && s->v[h][1] == sg)
            return 0;
    s->v[h][0] = g;
    s->v[h][1] = sg;
    s->n++;
    return 1;
}

bool spl_lineage_merge(esc_evset *dst, size_t g, const esc_table *src, size_t srow,
                       spl_lineage_seen *seen) {
    if (!dst || !src->lineage || !src->row_id)
        return true;
    int once = seen_once(seen, g, src->row_id[srow]);
    return once == 0 ||
           (once == 1 && esc_evset_merge(dst, g, src->lineage, src->row_id[srow]) == 0);
}

esc_status spl_lineage_finish(esc_table *t, esc_error *err) {
    esc_evset *l = t->lineage;
    bool any = false;
    for (size_t r = 0; l && t->row_id && r < t->nrows && !any; r++)
        any = esc_evset_total(l, t->row_id[r]) > 0;
    if (!any)
        goto out;
    t->evidence_truncated = t->evidence_truncated || esc_evset_truncated(l);
    spl_evidence_free(t);
    if (!(t->evidence = esc_calloc(t->nrows, sizeof *t->evidence)))
        return spl_exec_oom(err);
    for (size_t r = 0; r < t->nrows; r++) {
        acc a = {NULL, 0, 0, 0};
        esc_evref tmp[2 * ESC_EVIDENCE_KEEP];
        size_t g = t->row_id[r];
        bool ok = acc_add(&a, tmp, esc_evset_get(l, g, tmp), esc_evset_total(l, g)) &&
                  finish_row(&a, &t->evidence[r]);
        esc_free(a.v);
        if (!ok) {
            spl_evidence_free(t);
            return spl_exec_oom(err);
        }
    }
out:
    esc_evset_free(l);
    t->lineage = NULL;
    return ESC_OK;
}

bool spl_lineage_dup(esc_table *dst, const esc_table *src) {
    if (!src->row_id)
        return true;
    if (!(dst->row_id = esc_malloc((src->nrows ? src->nrows : 1) * sizeof *dst->row_id)))
        return false;
    memcpy(dst->row_id, src->row_id, src->nrows * sizeof *dst->row_id);
    if (!src->lineage)
        return true;
    spl_lineage_seen seen;
    if (!(dst->lineage = esc_evset_new()) || !spl_lineage_seen_start(&seen, src))
        return false;
    bool ok = true;
    for (size_t r = 0; r < src->nrows && ok; r++) /* the same group numbers */
        ok = spl_lineage_merge(dst->lineage, src->row_id[r], src, r, &seen);
    spl_lineage_seen_fini(&seen);
    dst->evidence_truncated = src->evidence_truncated;
    return ok;
}

bool spl_lineage_append(esc_table *t, size_t base, const esc_table *s) {
    if (!s->lineage || !s->row_id || !s->nrows)
        return true;
    if (!t->row_id) {
        if (!(t->row_id = esc_malloc(t->nrows * sizeof *t->row_id)))
            return false;
        for (size_t r = 0; r < t->nrows; r++)
            t->row_id[r] = SIZE_MAX;
    }
    if (!t->lineage && !(t->lineage = esc_evset_new()))
        return false;
    size_t g0 = esc_evset_groups(t->lineage);
    for (size_t r = 0; r < t->nrows; r++) /* above every group a row of t names */
        if (t->row_id[r] != SIZE_MAX && t->row_id[r] >= g0)
            g0 = t->row_id[r] + 1;
    for (size_t r = 0; r < s->nrows; r++) {
        t->row_id[base + r] = g0 + r;
        if (!spl_lineage_merge(t->lineage, g0 + r, s, r, NULL))
            return false;
    }
    t->evidence_truncated =
        t->evidence_truncated || s->evidence_truncated || esc_evset_truncated(s->lineage);
    return true;
}
