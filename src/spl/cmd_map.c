/* map search="SEARCH" [maxsearches=N]: run SEARCH once per result row, $FIELD$ replaced by the
 * row's value of FIELD; the results are those of every search, one after the other.
 *
 * Splunk's reference: Search Reference, "map" (help.splunk.com/splunk-cloud-platform/
 * spl-search-reference/10.0.2503/search-commands/map): "a looping operator that runs a search
 * repeatedly for each input event or result"; search="<string>" is "an ad hoc search to run for
 * each input result" (`map search="search index=_internal earliest=$myearliest$ ..."`);
 * maxsearches is "the maximum number of searches to run", default 10 ("Zero (0) does not
 * equate to unlimited searches"). ESCU uses it as `appendpipe [| map search="search
 * `wineventlog_security` EventCode=4624 TargetLogonId=$TargetLogonId$"]`: the logon events of
 * each result's logon id.
 *
 * escudo reads each input once (docs/decisions.md): SEARCH cannot run later over the inputs,
 * so it runs as a second search over the same records while they are read, with each
 * `FIELD=$NAME$` term as `FIELD=*`, keeping the matching events (rows of every field the whole
 * search names); when the map is reached, the search of result row r keeps those of them whose
 * FIELD matches row r's NAME (Splunk's field=value: ASCII case-insensitive, `*` a wildcard).
 * That is the same set of events as running SEARCH with the values in place, because each
 * `FIELD=$NAME$` term is a top-level condition: one that every event of the search must meet on
 * its own. Rows of one search come newest first (as a search returns events); each carries its
 * event (lineage, spl/evidence.c).
 *
 * Invariants: the first maxsearches result rows run a search each (the rest run none); a row
 * without NAME, or NAME 0 searches, runs none. Only the kept events some search takes are read
 * back, none when no row runs a search (over 4 GiB of XML, Windows AD Domain Controller
 * Promotion's 4624 events made the hunt's peak, 28 MB above the rest, for no result row).
 * Refused at load time, the reason named: a saved search (map NAME), $NAME$ anywhere but the
 * whole value of a top-level FIELD=$NAME$ term, commands after SEARCH (`| ...` inside it), a
 * search that is not a raw-event search.
 * Limits: the kept events count against ESC_SPL_MAX_ROWS (docs/limits.md). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"

#define MAP_MAX_TOKENS 16

typedef struct map_opts {
    const char *search; /* as written (macros not yet expanded) */
    size_t search_at;
    size_t maxsearches;
    size_t ntok;
    const char *field[MAP_MAX_TOKENS], *name[MAP_MAX_TOKENS];
} map_opts;

static bool parse_map(spl_parser *P, stage *st) {
    map_opts *o = spl_alloc0(P, sizeof *o);
    if (!o)
        return false;
    o->maxsearches = 10;
    st->opts = o;
    while (!spl_at_end(P)) {
        size_t save = P->pos;
        size_t wl = spl_bare(P, "=\"");
        if (!wl || spl_peek(P) != '=') {
            return spl_fail(P, save,
                            "map: a saved search is not supported (only search=\"...\")") != NULL;
        }
        P->pos++;
        size_t vl, vs;
        const char *v = spl_word(P, "", &vl, &vs);
        if (!v)
            return spl_fail(P, save, "missing value for map option '%.*s'", (int)wl, P->s + save) !=
                   NULL;
        if (wl == 6 && !strncmp(P->s + save, "search", 6)) {
            o->search = v;
            o->search_at = vs;
        } else if (wl == 11 && !strncmp(P->s + save, "maxsearches", 11)) {
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            if (end == v || *end || n > 1000000)
                return spl_fail(P, vs, "map: maxsearches needs a number (0 to 1000000)") != NULL;
            o->maxsearches = n;
        } else {
            return spl_fail(P, save, "unsupported map option '%.*s'", (int)wl, P->s + save) != NULL;
        }
    }
    if (!o->search)
        return spl_fail(P, st->start, "map needs search=\"...\"") != NULL;
    st->sub_start = o->search_at;
    return true;
}

static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-' || c == ':' || c == '@' || c == '{' || c == '}';
}

/* The search with each FIELD=$NAME$ as FIELD=* (o's tokens), into out (esc_malloc'd); an error
 * names a $NAME$ anywhere else. */
static esc_status superset(esc_plan *p, map_opts *o, const char *s, char **out, esc_error *err) {
    size_t n = strlen(s);
    char *d = esc_malloc(n + 1);
    if (!d)
        return spl_plan_oom(err);
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '$') {
            d[w++] = s[i++];
            continue;
        }
        const char *e = strchr(s + i + 1, '$');
        size_t fe = i ? i - 1 : 0, fb = fe; /* FIELD before the '=' */
        while (fb > 0 && name_char(s[fb - 1]))
            fb--;
        bool ok =
            e && e > s + i + 1 && i > 1 && s[i - 1] == '=' && fb < fe && o->ntok < MAP_MAX_TOKENS;
        for (const char *k = s + i + 1; ok && k < e; k++)
            ok = name_char(*k);
        ok = ok && (!e[1] || e[1] == ' ' || e[1] == ')' || e[1] == '\t' || e[1] == '\n');
        if (!ok) {
            esc_free(d);
            return esc_error_at(err, ESC_ECONTENT, NULL, o->search_at,
                                "map: $...$ is supported only as the whole value of a "
                                "FIELD=$NAME$ term (at most %d)",
                                MAP_MAX_TOKENS);
        }
        o->field[o->ntok] = esc_arena_dup(&p->arena, esc_str_make(s + fb, fe - fb)).ptr;
        o->name[o->ntok] =
            esc_arena_dup(&p->arena, esc_str_make(s + i + 1, (size_t)(e - s) - i - 1)).ptr;
        if (!o->field[o->ntok] || !o->name[o->ntok]) {
            esc_free(d);
            return spl_plan_oom(err);
        }
        o->ntok++;
        d[w++] = '*';
        i = (size_t)(e - s) + 1;
    }
    d[w] = 0;
    *out = d;
    return ESC_OK;
}

/* FIELD=* among the conditions every event must meet (under AND only)? */
static bool top_level(const snode *n, const char *field) {
    if (!n)
        return false;
    if (n->kind == SN_AND)
        return top_level(n->l, field) || top_level(n->r, field);
    return n->kind == SN_CMP && n->op == SOP_EQ && n->val_len == 1 && n->val[0] == '*' &&
           n->field && !strcmp(n->field, field);
}

static esc_status plan_map(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    map_opts *o = st->opts;
    char *text = NULL, *exp = NULL;
    esc_status rc = esc_spl_expand(o->search, p->env ? p->env->macros : NULL, &exp, err);
    if (rc == ESC_OK)
        rc = superset(p, o, exp, &text, err);
    if (rc == ESC_OK)
        rc = spl_submap(p, st, text, err);
    esc_free(exp);
    esc_free(text);
    if (rc != ESC_OK)
        return rc;
    const esc_plan *sp = st->sub;
    if (sp->nstages != 1 || sp->stages[0].cmd != &spl_cmd_raw)
        return esc_error_at(err, ESC_ECONTENT, NULL, o->search_at,
                            "map: only a raw-event search without commands after it is "
                            "supported");
    const schema *sub = &sp->stages[0].out;
    st->cols = esc_arena_alloc(&p->arena, (o->ntok ? o->ntok : 1) * sizeof *st->cols);
    st->cols2 = esc_arena_alloc(&p->arena, (o->ntok ? o->ntok : 1) * sizeof *st->cols2);
    if (!st->cols || !st->cols2 || !spl_schema_copy(p, &st->out, sub, 0))
        return spl_plan_oom(err);
    for (size_t k = 0; k < o->ntok; k++) {
        if (!top_level(sp->stages[0].where, o->field[k]))
            return esc_error_at(err, ESC_ECONTENT, NULL, o->search_at,
                                "map: %s=$%s$ must be a condition of every event (not under OR "
                                "or NOT)",
                                o->field[k], o->name[k]);
        st->cols[k] = spl_schema_find(sub, o->field[k]);
        st->cols2[k] = spl_schema_find(in, o->name[k]);
        if (st->cols[k] < 0)
            return esc_error_at(err, ESC_EINTERNAL, NULL, o->search_at, "map: no column %s",
                                o->field[k]);
    }
    return ESC_OK;
}

/* Does an event row (its cells) meet search row r of t (each FIELD matching its $NAME$
 * value)? */
static bool meets(const stage *st, const esc_table *t, size_t r, const esc_cell *event) {
    const map_opts *o = st->opts;
    for (size_t k = 0; k < o->ntok; k++) {
        const esc_cell *want = esc_table_cell(t, r, (size_t)st->cols2[k]);
        const esc_cell *have = &event[st->cols[k]];
        bool any = false;
        for (size_t i = 0; i < have->n && !any; i++)
            any = spl_glob_imatch(want->v[0], strlen(want->v[0]), have->v[i], strlen(have->v[i]));
        if (!any)
            return false;
    }
    return true;
}

/* A row that runs a search: every $NAME$ has a value. */
static bool runs(const stage *st, const esc_table *t, size_t r) {
    const map_opts *o = st->opts;
    for (size_t k = 0; k < o->ntok; k++)
        if (st->cols2[k] < 0 || !esc_table_cell(t, r, (size_t)st->cols2[k])->n)
            return false;
    return true;
}

/* Whether any of t's first maxsearches rows runs a search. */
static bool any_runs(const stage *st, const esc_table *t) {
    const map_opts *o = st->opts;
    for (size_t r = 0; r < t->nrows && r < o->maxsearches; r++)
        if (runs(st, t, r))
            return true;
    return false;
}

typedef struct searches {
    const stage *st;
    const esc_table *t;
} searches;

/* Whether some search of the map takes the event: the others are not read back. */
static bool taken(void *ctx, const esc_cell *event) {
    const searches *x = ctx;
    const map_opts *o = x->st->opts;
    for (size_t r = 0; r < x->t->nrows && r < o->maxsearches; r++)
        if (runs(x->st, x->t, r) && meets(x->st, x->t, r, event))
            return true;
    return false;
}

static esc_status run_map(const stage *st, spl_run *x, esc_error *err) {
    const map_opts *o = st->opts;
    esc_table *t = x->t, *s = NULL, *n = NULL;
    size_t *from = NULL, cap = 0;
    if (!(n = spl_table_new(&st->out, 0)))
        return spl_exec_oom(err);
    if (!any_runs(st, t)) { /* no search: the events kept for them are not read back */
        spl_table_swap(t, n);
        esc_table_free(n);
        return ESC_OK;
    }
    searches want = {st, t};
    spl_exec_keep_rows(x->sub, taken, &want);
    esc_status rc = esc_exec_finish(x->sub, &s, err);
    spl_exec_keep_rows(x->sub, NULL, NULL); /* want is gone once this returns */
    if (rc != ESC_OK)
        goto done;
    for (size_t r = 0; r < t->nrows && r < o->maxsearches && rc == ESC_OK; r++) {
        if (!runs(st, t, r))
            continue;
        for (size_t q = 0; q < s->nrows && rc == ESC_OK; q++) {
            if (!meets(st, t, r, &s->cells[q * s->ncols]))
                continue;
            if (n->nrows == cap && !ESC_VEC_GROW(from, cap, n->nrows + 1, 16)) {
                rc = spl_exec_oom(err);
                break;
            }
            if ((rc = spl_table_add_rows(n, 1, err)) != ESC_OK)
                break;
            from[n->nrows - 1] = q;
            for (size_t c = 0; c < s->ncols; c++)
                if (!spl_cell_copy(&n->cells[(n->nrows - 1) * n->ncols + c],
                                   esc_table_cell(s, q, c)))
                    rc = spl_exec_oom(err);
        }
    }
    if (rc == ESC_OK && !spl_lineage_pick(n, s, from))
        rc = spl_exec_oom(err);
    if (rc == ESC_OK)
        spl_table_swap(t, n);
done:
    esc_free(from);
    esc_table_free(n);
    esc_table_free(s);
    return rc;
}

static void free_map(stage *st) {
    esc_plan_free(st->sub);
}

static void explain_map(const stage *st, esc_buf *out) {
    const map_opts *o = st->opts;
    esc_buf_printf(
        out, " maxsearches=%zu (second search over the same records)\n  where: ", o->maxsearches);
    spl_explain_snode(st->sub->stages[0].where, out);
}

const spl_cmd spl_cmd_map = {
    .name = "map",
    .flags = SPL_CMD_BARRIER,
    .parse = parse_map,
    .plan = plan_map,
    .run = run_map,
    .free = free_map,
    .explain = explain_map,
};
