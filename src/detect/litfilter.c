/* Multi-literal record filter (see litfilter.h).
 *
 * Every distinct (field, literal) pair of every detection's record clauses gets an id (literals
 * compared ASCII case-insensitively); each field has one Hyperscan database of its literals; a
 * detection keeps its clauses as lists of ids. Each value of a field that has literals is
 * scanned once with its field's database (caseless, one report per literal), setting a bit per
 * literal found; a detection may match when each of its clauses has a set bit. A short value
 * the scanner met recently in the same field is not scanned again: the scanner's memo (lmemo)
 * holds the literals its last scan found, the same bits a scan would set.
 *
 * Invariants: the filter never rejects a record the detection's main where clause takes: a
 * literal is a piece every matching value of its field contains (spl/plan.c), and every value
 * of that field is scanned, or its hits taken from the memo (a multivalue field: each value);
 * a bare term's literals (field "_raw") are looked for in a raw-event record's _raw, or in
 * each of its values when it has none, as the term itself is (spl/match.c). A detection is a
 * list of alternatives (esc_plan_alts: its own where clause and each subsearch's, each reading
 * one dataset): a record may reach it when an alternative of the record's dataset has no
 * clause or all of its clauses hold; a subsearch takes records of its own, which is why its
 * clauses are kept apart. A scan that fails marks every literal present. Deliberately not
 * done: event codes (the hunt's code index and esc_plan_select do that).
 *
 * Candidates: each alternative has one key clause (the one whose literals occur in the fewest
 * clauses overall); a record scan sets, per detection, a bit when the detection is open for
 * the record's dataset or a literal found is in the key clause of one of its alternatives of
 * that dataset. A detection without its bit has no alternative of that dataset whose clauses
 * all hold, so esc_litscan_may_match answers false at once: it is asked for every Processes
 * detection of every record, and most are ruled out that way. */
#include "detect/litfilter.h"

#include <hs/hs.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/hscache.h"
#include "fields/fields.h"

typedef struct lclause {
    uint32_t *id;
    size_t n;
} lclause;

/* One way into a detection's execution (esc_plan_alts): the records of one dataset that pass
 * one where clause, which needs each of these clauses. */
typedef struct lalt {
    int ds;
    lclause *c;
    size_t n;
} lalt;

typedef struct ldet {
    lalt *a; /* the alternatives with clauses */
    size_t n;
    uint32_t open; /* the datasets (1 << ds) with an alternative that has no clause */
} ldet;

/* One field and the literals its values are scanned for. */
typedef struct lfield {
    char *name; /* in a field set; NULL for a CIM field of a Processes record */
    size_t name_len;
    int cim;
    char **text;
    unsigned *id;
    size_t n, cap;
    hs_database_t *db;
} lfield;

struct esc_litfilter {
    ldet *det;
    size_t ndet, nfiltered;
    lfield *fld;
    size_t nfld, fcap;
    size_t nlit;                  /* literal ids: (field, text) pairs */
    int cim_fld[ESC_CIM_NFIELDS]; /* field index of a CIM field, or -1 */
    uint32_t *hash;               /* field set names: field index + 1, 0 empty */
    size_t hmask;
    long raw_fld; /* the field of bare terms' literals ("_raw"), or -1 */
    /* bare terms over a record without _raw: raw_fld's literals once more, matched without
     * SINGLEMATCH, for one scan of all the record's values one after another; a hit counts
     * inside one value (lit_len: per literal id, its length) */
    hs_database_t *raw_db;
    uint32_t *lit_len;
    /* the text check (esc_litscan_text): per literal id, whether it is looked for in the
     * event's text (a literal of a raw-event search that esc_fields_text_bound allows); one
     * database of those */
    uint8_t *text_ok;
    hs_database_t *text_db;
    bool *text_never; /* per detection: the text check cannot rule it out (esc_litscan_text_can) */
    /* candidates: per literal id, the (detection, dataset) pairs whose alternative of that
     * dataset has it in its key clause (key[key_at[id]] .. key[key_at[id + 1] - 1]); per
     * dataset, the detections open for it */
    uint32_t *key_at;
    struct lkey {
        uint32_t det, ds;
    } * key;
    uint32_t *open_det[ESC_DS_N];
    size_t nopen[ESC_DS_N];
};

/* The scan memo: per scanner, the literals found in recent short values of each field, so that
 * a value seen again (a host, a code, a path) costs a hash and a compare instead of a
 * Hyperscan call. Direct-mapped: a value's slot holds the last value scanned there whose hits
 * fit; a value longer than MEMO_VALUE_MAX is always scanned. */
#define MEMO_SLOTS 2048
#define MEMO_VALUE_MAX 64
#define MEMO_HITS 4
typedef struct lmemo {
    uint32_t fld; /* field index + 1; 0: empty */
    uint8_t len, nhit;
    uint32_t hit[MEMO_HITS]; /* the literal ids found in v */
    char v[MEMO_VALUE_MAX];
} lmemo;

/* One value of the record's scan buffer: bytes [start, end). */
typedef struct lseg {
    uint32_t start, end;
} lseg;

struct esc_litscan {
    const esc_litfilter *f;
    char *buf; /* the record's values to scan, one after another */
    size_t buf_len, buf_cap;
    lseg *seg;
    size_t nseg, seg_cap;
    hs_scratch_t *scratch;
    uint64_t *hit; /* one bit per literal id */
    size_t words;
    esc_dataset ds;     /* the scanned record's */
    uint64_t *text_hit; /* esc_litscan_text: one bit per literal id */
    bool text_on;       /* text_hit holds the current event's text check */
    uint64_t *cand;     /* one bit per detection: may match the scanned record (see above) */
    size_t cwords;
    uint8_t text_bound; /* the text_ok level that counts for it (esc_fields_joins: 1, else 2) */
    lmemo *memo;        /* MEMO_SLOTS (see lmemo) */
};

/* A name's hash: the field set index's (constant time, inline), asked for every field of
 * every record. */
static uint32_t name_hash(const char *p, size_t n) {
    return esc_fields_name_hash(esc_str_make(p, n));
}

/* The field of literal l, added when new; -1 on allocation failure. */
static long field_of(esc_litfilter *f, const esc_plan_rlit *l) {
    if (l->cim >= 0 && l->cim < ESC_CIM_NFIELDS && f->cim_fld[l->cim] >= 0)
        return f->cim_fld[l->cim];
    for (size_t i = 0; l->cim < 0 && i < f->nfld; i++)
        if (f->fld[i].name && strcmp(f->fld[i].name, l->field) == 0)
            return (long)i;
    if (f->nfld == f->fcap && !ESC_VEC_GROW(f->fld, f->fcap, f->nfld + 1, 64))
        return -1;
    lfield *d = &f->fld[f->nfld];
    memset(d, 0, sizeof *d);
    d->cim = l->cim;
    if (l->cim < 0 && !(d->name = esc_strdup(l->field)))
        return -1;
    d->name_len = d->name ? strlen(d->name) : 0;
    if (l->cim >= 0)
        f->cim_fld[l->cim] = (int)f->nfld;
    return (long)f->nfld++;
}

/* The id of literal l, added when new; UINT32_MAX on allocation failure. */
static uint32_t lit_id(esc_litfilter *f, const esc_plan_rlit *l) {
    long fi = field_of(f, l);
    if (fi < 0)
        return UINT32_MAX;
    lfield *d = &f->fld[fi];
    for (size_t i = 0; i < d->n; i++)
        if (strcasecmp(d->text[i], l->text) == 0)
            return d->id[i];
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 16;
        char **t = esc_realloc(d->text, cap * sizeof *t);
        if (t)
            d->text = t;
        unsigned *id = t ? esc_realloc(d->id, cap * sizeof *id) : NULL;
        if (!id)
            return UINT32_MAX;
        d->id = id;
        d->cap = cap;
    }
    if (!(d->text[d->n] = esc_strdup(l->text)))
        return UINT32_MAX;
    d->id[d->n++] = (unsigned)f->nlit;
    return (uint32_t)f->nlit++;
}

/* The clauses of p's own where clause into a. */
static esc_status add_alt(esc_litfilter *f, lalt *a, const esc_plan *p) {
    size_t nc = esc_plan_main_clauses(p);
    a->ds = esc_plan_source(p);
    if (!(a->c = esc_calloc(nc, sizeof *a->c)))
        return ESC_ENOMEM;
    a->n = nc;
    for (size_t k = 0; k < nc; k++) {
        const esc_plan_rlit *lits;
        size_t nl = esc_plan_record_clause(p, k, &lits);
        if (!(a->c[k].id = esc_calloc(nl ? nl : 1, sizeof *a->c[k].id)))
            return ESC_ENOMEM;
        for (size_t j = 0; j < nl; j++) {
            uint32_t id = lit_id(f, &lits[j]);
            if (id == UINT32_MAX)
                return ESC_ENOMEM;
            a->c[k].id[a->c[k].n++] = id;
        }
    }
    return ESC_OK;
}

/* Each alternative of p (its own where clause, its subsearches'): the datasets of those
 * without a clause are open, the others keep their clauses. */
static esc_status add_plan(esc_litfilter *f, ldet *d, const esc_plan *p) {
    size_t na = esc_plan_alts(p, NULL, 0);
    const esc_plan **alts = esc_calloc(na, sizeof *alts);
    if (!alts || !(d->a = esc_calloc(na, sizeof *d->a))) {
        esc_free(alts);
        return ESC_ENOMEM;
    }
    esc_plan_alts(p, alts, na);
    esc_status st = ESC_OK;
    for (size_t k = 0; k < na && !st; k++) {
        int ds = esc_plan_source(alts[k]);
        if (ds < 0 || ds >= ESC_DS_N)
            continue; /* inputlookup: reads no record */
        if (!esc_plan_main_clauses(alts[k]))
            d->open |= 1u << ds;
        else
            st = add_alt(f, &d->a[d->n++], alts[k]);
    }
    esc_free(alts);
    if (!st && d->n)
        f->nfiltered++;
    return st;
}

/* n literals, matched case-insensitively, once each, into *db (what names it in a message). */
static esc_status compile_literals(const char *const *text, const unsigned *ids, size_t n,
                                   unsigned single, const char *what, hs_database_t **db,
                                   esc_error *err) {
    unsigned *flags = esc_calloc(n, sizeof *flags);
    size_t *lens = esc_calloc(n, sizeof *lens);
    esc_status st = ESC_OK;
    if (!flags || !lens) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        flags[i] = HS_FLAG_CASELESS | single;
        lens[i] = strlen(text[i]);
    }
    hs_compile_error_t *cerr = NULL;
    if (esc_hs_compile(text, flags, ids, lens, n, db, &cerr) != HS_SUCCESS) {
        st = esc_error_set(err, ESC_EINTERNAL, "%s literal filter compile failed: %s", what,
                           cerr ? cerr->message : "?");
        hs_free_compile_error(cerr);
    }
out:
    esc_free(flags);
    esc_free(lens);
    return st;
}

static esc_status compile_field(lfield *d, esc_error *err) {
    return compile_literals((const char *const *)d->text, d->id, d->n, HS_FLAG_SINGLEMATCH,
                            "record", &d->db, err);
}

/* raw_db and lit_len (see struct esc_litfilter). */
static esc_status compile_raw(esc_litfilter *f, esc_error *err) {
    if (f->raw_fld < 0)
        return ESC_OK;
    const lfield *d = &f->fld[f->raw_fld];
    if (!(f->lit_len = esc_calloc(f->nlit ? f->nlit : 1, sizeof *f->lit_len)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    for (size_t k = 0; k < d->n; k++)
        f->lit_len[d->id[k]] = (uint32_t)strlen(d->text[k]);
    return compile_literals((const char *const *)d->text, d->id, d->n, 0, "record", &f->raw_db,
                            err);
}

/* Every field: its database, and the hash of field set names. */
static esc_status compile(esc_litfilter *f, esc_error *err) {
    size_t size = 16;
    while (size < 4 * f->nfld)
        size *= 2;
    if (!(f->hash = esc_calloc(size, sizeof *f->hash)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    f->hmask = size - 1;
    for (size_t i = 0; i < f->nfld; i++) {
        esc_status st = compile_field(&f->fld[i], err);
        if (st)
            return st;
        if (!f->fld[i].name)
            continue;
        if (strcmp(f->fld[i].name, "_raw") == 0)
            f->raw_fld = (long)i;
        size_t h = name_hash(f->fld[i].name, strlen(f->fld[i].name)) & f->hmask;
        while (f->hash[h])
            h = (h + 1) & f->hmask;
        f->hash[h] = (uint32_t)i + 1;
    }
    return ESC_OK;
}

/* False when the text check cannot rule d out: it has a way in without a clause, through a
 * data model, or through a raw-event search none of whose clauses has only literals the
 * check looks for (it treats 2 as 1 here: a detection it may rule out for some events). */
static bool text_can(const esc_litfilter *f, const ldet *d) {
    if (d->open)
        return false;
    for (size_t k = 0; k < d->n; k++) {
        const lalt *a = &d->a[k];
        if (a->ds != ESC_DS_RAW)
            return false;
        bool some = false;
        for (size_t c = 0; c < a->n && !some; c++) {
            bool all = a->c[c].n > 0;
            for (size_t j = 0; j < a->c[c].n && all; j++)
                all = f->text_ok[a->c[c].id[j]] != 0;
            some = all;
        }
        if (!some)
            return false;
    }
    return true;
}

/* The literals of raw-event searches' clauses that the text check looks for: text_ok and
 * text_db (left NULL when there are none). */
static esc_status compile_text(esc_litfilter *f, esc_error *err) {
    /* + 1: never an allocation of nothing, which may be NULL */
    uint8_t *used = esc_calloc(f->nlit + 1, 1);
    const char **text = esc_calloc(f->nlit + 1, sizeof *text);
    unsigned *ids = esc_calloc(f->nlit + 1, sizeof *ids);
    size_t n = 0;
    esc_status st = ESC_OK;
    if (!used || !text || !ids || !(f->text_ok = esc_calloc(f->nlit + 1, 1))) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < f->ndet; i++)
        for (size_t k = 0; k < f->det[i].n; k++)
            for (size_t c = 0; f->det[i].a[k].ds == ESC_DS_RAW && c < f->det[i].a[k].n; c++)
                for (size_t j = 0; j < f->det[i].a[k].c[c].n; j++)
                    used[f->det[i].a[k].c[c].id[j]] = 1;
    for (size_t i = 0; i < f->nfld; i++)
        for (size_t k = 0; f->fld[i].name && k < f->fld[i].n; k++) {
            unsigned id = f->fld[i].id[k];
            int bound = used[id] ? esc_fields_text_bound(f->fld[i].name, f->fld[i].text[k]) : 0;
            if (!bound)
                continue;
            f->text_ok[id] = (uint8_t)bound;
            text[n] = f->fld[i].text[k];
            ids[n++] = id;
        }
    if (!n)
        goto out;
    if (!(f->text_never = esc_calloc(f->ndet ? f->ndet : 1, sizeof *f->text_never))) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < f->ndet; i++)
        f->text_never[i] = !text_can(f, &f->det[i]);
    st = compile_literals(text, ids, n, HS_FLAG_SINGLEMATCH, "text", &f->text_db, err);
out:
    esc_free(used);
    esc_free(text);
    esc_free(ids);
    return st;
}

/* The key clause of a: the one whose literals occur in the fewest clauses (occ, per id). */
static const lclause *key_clause(const lalt *a, const uint32_t *occ) {
    const lclause *best = NULL;
    uint64_t best_w = UINT64_MAX;
    for (size_t c = 0; c < a->n; c++) {
        uint64_t w = 0;
        for (size_t j = 0; j < a->c[c].n; j++)
            w += occ[a->c[c].id[j]];
        if (w < best_w) {
            best_w = w;
            best = &a->c[c];
        }
    }
    return best;
}

/* The candidate index (see the top of the file): key_at/key and open_det. */
static esc_status compile_keys(esc_litfilter *f) {
    uint32_t *occ = esc_calloc(f->nlit + 1, sizeof *occ);
    uint32_t *fill = esc_calloc(f->nlit + 1, sizeof *fill); /* the pairs placed per id */
    if (!occ || !fill || !(f->key_at = esc_calloc(f->nlit + 1, sizeof *f->key_at)))
        goto oom;
    for (size_t i = 0; i < f->ndet; i++)
        for (size_t k = 0; k < f->det[i].n; k++)
            for (size_t c = 0; c < f->det[i].a[k].n; c++)
                for (size_t j = 0; j < f->det[i].a[k].c[c].n; j++)
                    occ[f->det[i].a[k].c[c].id[j]]++;
    size_t nkey = 0; /* key_at[id + 1]: the count of id's pairs, then the running sum */
    for (size_t i = 0; i < f->ndet; i++)
        for (size_t k = 0; k < f->det[i].n; k++) {
            const lclause *c = key_clause(&f->det[i].a[k], occ);
            for (size_t j = 0; c && j < c->n; j++, nkey++)
                f->key_at[c->id[j] + 1]++;
        }
    for (size_t id = 1; id <= f->nlit; id++)
        f->key_at[id] += f->key_at[id - 1];
    if (!(f->key = esc_calloc(nkey ? nkey : 1, sizeof *f->key)))
        goto oom;
    for (size_t i = 0; i < f->ndet; i++)
        for (size_t k = 0; k < f->det[i].n; k++) {
            const lclause *c = key_clause(&f->det[i].a[k], occ);
            for (size_t j = 0; c && j < c->n; j++) {
                uint32_t id = c->id[j];
                f->key[f->key_at[id] + fill[id]++] =
                    (struct lkey){(uint32_t)i, (uint32_t)f->det[i].a[k].ds};
            }
        }
    for (int ds = 0; ds < ESC_DS_N; ds++) {
        if (!(f->open_det[ds] = esc_calloc(f->ndet ? f->ndet : 1, sizeof *f->open_det[ds])))
            goto oom;
        for (size_t i = 0; i < f->ndet; i++)
            if (f->det[i].open & (1u << ds))
                f->open_det[ds][f->nopen[ds]++] = (uint32_t)i;
    }
    esc_free(occ);
    esc_free(fill);
    return ESC_OK;
oom:
    esc_free(occ);
    esc_free(fill);
    return ESC_ENOMEM;
}

esc_status esc_litfilter_new(esc_plan *const *plans, size_t n, esc_litfilter **out,
                             esc_error *err) {
    *out = NULL;
    esc_litfilter *f = esc_calloc(1, sizeof *f);
    if (!f || !(f->det = esc_calloc(n ? n : 1, sizeof *f->det))) {
        esc_free(f);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ESC_CIM_NFIELDS; i++)
        f->cim_fld[i] = -1;
    f->raw_fld = -1;
    f->ndet = n;
    esc_status st = ESC_OK;
    for (size_t i = 0; i < n; i++)
        if (add_plan(f, &f->det[i], plans[i]) != ESC_OK) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            goto fail;
        }
    if (!f->nlit) {
        esc_litfilter_free(f);
        return ESC_OK;
    }
    if ((st = compile(f, err)) != ESC_OK || (st = compile_raw(f, err)) != ESC_OK ||
        (st = compile_text(f, err)) != ESC_OK)
        goto fail;
    if (compile_keys(f) != ESC_OK) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    *out = f;
    return ESC_OK;
fail:
    esc_litfilter_free(f);
    return st;
}

void esc_litfilter_free(esc_litfilter *f) {
    if (!f)
        return;
    for (size_t i = 0; i < f->ndet; i++) {
        for (size_t k = 0; k < f->det[i].n; k++) {
            for (size_t c = 0; c < f->det[i].a[k].n; c++)
                esc_free(f->det[i].a[k].c[c].id);
            esc_free(f->det[i].a[k].c);
        }
        esc_free(f->det[i].a);
    }
    for (size_t i = 0; i < f->nfld; i++) {
        for (size_t k = 0; k < f->fld[i].n; k++)
            esc_free(f->fld[i].text[k]);
        esc_free(f->fld[i].text);
        esc_free(f->fld[i].id);
        esc_free(f->fld[i].name);
        hs_free_database(f->fld[i].db);
    }
    esc_free(f->fld);
    esc_free(f->hash);
    esc_free(f->text_ok);
    esc_free(f->text_never);
    esc_free(f->key_at);
    esc_free(f->key);
    for (int ds = 0; ds < ESC_DS_N; ds++)
        esc_free(f->open_det[ds]);
    hs_free_database(f->text_db);
    hs_free_database(f->raw_db);
    esc_free(f->lit_len);
    esc_free(f->det);
    esc_free(f);
}

size_t esc_litfilter_filtered(const esc_litfilter *f) {
    return f ? f->nfiltered : 0;
}

esc_status esc_litscan_new(const esc_litfilter *f, esc_litscan **out, esc_error *err) {
    *out = NULL;
    if (!f)
        return ESC_OK;
    esc_litscan *s = esc_calloc(1, sizeof *s);
    if (!s)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    s->f = f;
    s->words = (f->nlit + 63) / 64;
    bool ok = (s->hit = esc_calloc(s->words, sizeof *s->hit)) != NULL &&
              (s->text_hit = esc_calloc((f->nlit + 63) / 64 + 1, sizeof *s->text_hit)) != NULL;
    s->cwords = (f->ndet + 63) / 64;
    ok = ok && (s->cand = esc_calloc(s->cwords ? s->cwords : 1, sizeof *s->cand)) != NULL;
    ok = ok && (s->memo = esc_calloc(MEMO_SLOTS, sizeof *s->memo)) != NULL;
    for (size_t i = 0; ok && i < f->nfld; i++) /* one scratch big enough for every database */
        ok = hs_alloc_scratch(f->fld[i].db, &s->scratch) == HS_SUCCESS;
    if (ok && f->text_db)
        ok = hs_alloc_scratch(f->text_db, &s->scratch) == HS_SUCCESS;
    if (ok && f->raw_db)
        ok = hs_alloc_scratch(f->raw_db, &s->scratch) == HS_SUCCESS;
    if (!ok) {
        esc_litscan_free(s);
        return esc_error_set(err, ESC_ENOMEM, "out of memory (record literal filter)");
    }
    *out = s;
    return ESC_OK;
}

void esc_litscan_free(esc_litscan *s) {
    if (!s)
        return;
    hs_free_scratch(s->scratch);
    esc_free(s->buf);
    esc_free(s->seg);
    esc_free(s->hit);
    esc_free(s->text_hit);
    esc_free(s->cand);
    esc_free(s->memo);
    esc_free(s);
}

static int on_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ctx) {
    (void)from, (void)to, (void)flags;
    uint64_t *hit = ctx;
    hit[id / 64] |= 1ull << (id % 64);
    return 0;
}

/* The hits of one memoized scan: set in hit, and listed (n > MEMO_HITS: too many to keep). */
typedef struct lhits {
    uint64_t *hit;
    uint32_t id[MEMO_HITS];
    size_t n;
} lhits;

static int on_hit_memo(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                       void *ctx) {
    (void)from, (void)to, (void)flags;
    lhits *c = ctx;
    c->hit[id / 64] |= 1ull << (id % 64);
    if (c->n < MEMO_HITS)
        c->id[c->n] = id;
    c->n++;
    return 0;
}

/* The memo slot of value v (3 to MEMO_VALUE_MAX bytes) of field fi. */
static size_t memo_slot(size_t fi, esc_str v) {
    const char *p = v.ptr;
    size_t n = v.len;
    uint64_t h = ((uint64_t)fi + 1) * 0x9e3779b97f4a7c15ull ^ n, w;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&w, p + i, 8);
            h = (h ^ w) * 0xff51afd7ed558ccdull;
            h ^= h >> 29;
        }
        memcpy(&w, p + n - 8, 8);
    } else {
        uint32_t x = 0, y = 0;
        memcpy(&x, p, 4 <= n ? 4 : 2);
        memcpy(&y, p + n - (4 <= n ? 4 : 2), 4 <= n ? 4 : 2);
        w = (4 <= n ? x : x & 0xffff) | (uint64_t)(4 <= n ? y : y & 0xffff) << 32;
    }
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    return (size_t)(h ^ (h >> 32)) & (MEMO_SLOTS - 1);
}

/* Scan one value with field fi's literals (through the memo when short); false when the scan
 * failed. */
static bool scan(esc_litscan *s, size_t fi, esc_str v) {
    if (!v.ptr || v.len < 3 || v.len > UINT32_MAX)
        return true;
    if (v.len > MEMO_VALUE_MAX)
        return hs_scan(s->f->fld[fi].db, v.ptr, (unsigned)v.len, 0, s->scratch, on_hit, s->hit) ==
               HS_SUCCESS;
    lmemo *m = &s->memo[memo_slot(fi, v)];
    if (m->fld == fi + 1 && m->len == v.len && memcmp(m->v, v.ptr, v.len) == 0) {
        for (size_t k = 0; k < m->nhit; k++)
            s->hit[m->hit[k] / 64] |= 1ull << (m->hit[k] % 64);
        return true;
    }
    lhits c = {.hit = s->hit};
    if (hs_scan(s->f->fld[fi].db, v.ptr, (unsigned)v.len, 0, s->scratch, on_hit_memo, &c) !=
        HS_SUCCESS)
        return false;
    if (c.n <= MEMO_HITS && fi < UINT32_MAX) {
        m->fld = (uint32_t)fi + 1;
        m->len = (uint8_t)v.len;
        m->nhit = (uint8_t)c.n;
        memcpy(m->hit, c.id, c.n * sizeof *c.id);
        memcpy(m->v, v.ptr, v.len);
    }
    return true;
}

/* The field of a field set name, or -1. */
static long name_field(const esc_litfilter *f, esc_str name) {
    for (size_t h = name_hash(name.ptr, name.len) & f->hmask; f->hash[h]; h = (h + 1) & f->hmask) {
        const lfield *d = &f->fld[f->hash[h] - 1];
        if (d->name_len == name.len && memcmp(d->name, name.ptr, name.len) == 0)
            return (long)f->hash[h] - 1;
    }
    return -1;
}

/* s->cand from s->hit and the record's dataset (see the top of the file). */
static void candidates(esc_litscan *s) {
    const esc_litfilter *f = s->f;
    memset(s->cand, 0, s->cwords * sizeof *s->cand);
    for (size_t k = 0; k < f->nopen[s->ds]; k++)
        s->cand[f->open_det[s->ds][k] / 64] |= 1ull << (f->open_det[s->ds][k] % 64);
    for (size_t w = 0; w < s->words; w++)
        for (uint64_t b = s->hit[w]; b; b &= b - 1) {
            size_t id = w * 64 + (size_t)__builtin_ctzll(b);
            for (uint32_t k = f->key_at[id]; k < f->key_at[id + 1]; k++)
                if (f->key[k].ds == (uint32_t)s->ds)
                    s->cand[f->key[k].det / 64] |= 1ull << (f->key[k].det % 64);
        }
}

/* A hit of raw_db: it counts when it lies inside one value (the segment starting last at or
 * before it). */
static int on_raw(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ctx) {
    (void)from, (void)flags;
    esc_litscan *s = ctx;
    if ((s->hit[id / 64] >> (id % 64)) & 1)
        return 0;
    size_t len = s->f->lit_len[id];
    if (to < len || !s->nseg)
        return 0;
    size_t at = (size_t)to - len, lo = 0, hi = s->nseg;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->seg[mid].start <= at)
            lo = mid;
        else
            hi = mid;
    }
    const lseg *g = &s->seg[lo];
    if (g->start <= at && to <= g->end)
        s->hit[id / 64] |= 1ull << (id % 64);
    return 0;
}

/* Room for len bytes and nseg values in the record's scan buffer; false when it cannot grow. */
static bool reserve(esc_litscan *s, size_t len, size_t nseg) {
    return ESC_VEC_GROW(s->buf, s->buf_cap, len, 4096) &&
           ESC_VEC_GROW(s->seg, s->seg_cap, nseg, 64);
}

/* Each of the record's values for raw_fld's literals, in one scan (see raw_db): the values one
 * after another in the scan buffer (sized first, then filled), those shorter than three bytes
 * left out, as scan does; false when the buffer cannot hold them (over UINT32_MAX / 2 bytes,
 * or memory) or the scan failed. */
static bool scan_values(esc_litscan *s, const esc_fields *fs) {
    size_t len = 0, n = 0;
    for (size_t i = 0; i < fs->n; i++)
        if (fs->f[i].value.ptr && fs->f[i].value.len >= 3) {
            len += fs->f[i].value.len;
            n++;
        }
    s->buf_len = 0;
    s->nseg = 0;
    if (!len)
        return true;
    if (len > UINT32_MAX / 2 || !reserve(s, len, n))
        return false;
    for (size_t i = 0; i < fs->n; i++) {
        esc_str v = fs->f[i].value;
        if (!v.ptr || v.len < 3)
            continue;
        memcpy(s->buf + s->buf_len, v.ptr, v.len);
        s->seg[s->nseg++] = (lseg){(uint32_t)s->buf_len, (uint32_t)(s->buf_len + v.len)};
        s->buf_len += v.len;
    }
    return hs_scan(s->f->raw_db, s->buf, (unsigned)s->buf_len, 0, s->scratch, on_raw, s) ==
           HS_SUCCESS;
}

void esc_litscan_record(esc_litscan *s, const esc_record *r) {
    if (!s)
        return;
    const esc_litfilter *f = s->f;
    memset(s->hit, 0, s->words * sizeof *s->hit);
    s->ds = r->ds;
    bool ok = true;
    if (r->fs) {
        for (size_t i = 0; ok && i < r->fs->n; i++) {
            long fi = name_field(f, r->fs->f[i].name);
            if (fi >= 0)
                ok = scan(s, (size_t)fi, r->fs->f[i].value);
        }
        /* bare terms: the event's _raw, or without one each of its values (match.c) */
        if (f->raw_fld >= 0 && r->ds == ESC_DS_RAW && r->fs->raw.ptr)
            ok = ok && scan(s, (size_t)f->raw_fld, r->fs->raw);
        else if (f->raw_fld >= 0 && r->ds == ESC_DS_RAW)
            ok = ok && scan_values(s, r->fs);
    } else {
        for (size_t i = 0; ok && i < ESC_CIM_NFIELDS; i++)
            if (f->cim_fld[i] >= 0)
                ok = scan(s, (size_t)f->cim_fld[i], r->v[i]);
    }
    if (!ok) {
        memset(s->hit, 0xff, s->words * sizeof *s->hit);
        memset(s->cand, 0xff, s->cwords * sizeof *s->cand);
        return;
    }
    candidates(s);
}

size_t esc_litscan_saved_words(const esc_litscan *s) {
    return s ? 1 + s->words + s->cwords : 0;
}

void esc_litscan_save(const esc_litscan *s, uint64_t *to) {
    if (!s)
        return;
    to[0] = (uint64_t)s->ds;
    memcpy(to + 1, s->hit, s->words * sizeof *to);
    memcpy(to + 1 + s->words, s->cand, s->cwords * sizeof *to);
}

void esc_litscan_restore(esc_litscan *s, const uint64_t *from) {
    if (!s)
        return;
    s->ds = (esc_dataset)from[0];
    memcpy(s->hit, from + 1, s->words * sizeof *from);
    memcpy(s->cand, from + 1 + s->words, s->cwords * sizeof *from);
}

static bool alt_holds(const esc_litscan *s, const lalt *a) {
    for (size_t c = 0; c < a->n; c++) {
        bool any = false;
        for (size_t j = 0; j < a->c[c].n && !any; j++) {
            uint32_t id = a->c[c].id[j];
            any = (s->hit[id / 64] >> (id % 64)) & 1;
        }
        if (!any)
            return false;
    }
    return true;
}

bool esc_litscan_may_match(const esc_litscan *s, size_t i) {
    if (!s)
        return true;
    if (!((s->cand[i / 64] >> (i % 64)) & 1))
        return false;
    esc_dataset ds = s->ds;
    const ldet *d = &s->f->det[i];
    if (d->open & (1u << ds))
        return true;
    for (size_t k = 0; k < d->n; k++)
        if (d->a[k].ds == (int)ds && alt_holds(s, &d->a[k]))
            return true;
    return false;
}

const uint64_t *esc_litscan_candidates(const esc_litscan *s) {
    return s ? s->cand : NULL;
}

/* Whether t holds "<!" (a comment or CDATA section), found by its rare '!'. */
static bool has_markup_decl(esc_str t) {
    const char *p = t.ptr, *end = t.ptr + t.len;
    while ((p = memchr(p, '!', (size_t)(end - p))) != NULL) {
        if (p > t.ptr && p[-1] == '<')
            return true;
        p++;
    }
    return false;
}

/* Append v and a line break to s->buf (room reserved). */
static void put_line(esc_litscan *s, esc_str v) {
    if (v.len)
        memcpy(s->buf + s->buf_len, v.ptr, v.len);
    s->buf_len += v.len;
    s->buf[s->buf_len++] = '\n';
}

/* The text of an event that has none (EVTX, JSON), or whose text's values are not its bytes,
 * in s->buf: every string esc_fields_extract makes its fields from (the event's channel and
 * computer, its System and data pairs, names and values, its whole-element parts and its
 * rendering), each on a line of its own; no literal the check looks for holds a line break
 * (esc_fields_text_bound). False when it cannot be made (over UINT32_MAX / 2 bytes, memory). */
static bool values_text(esc_litscan *s, const esc_event *ev) {
    size_t len = ev->channel.len + ev->computer.len + ev->xml.len + 3 + ESC_XML_NPARTS;
    for (size_t i = 0; i < ev->nsys; i++)
        len += ev->sys[i].name.len + ev->sys[i].value.len + 2;
    for (size_t i = 0; i < ev->ndata; i++)
        len += ev->data[i].name.len + ev->data[i].value.len + 2;
    for (size_t k = 0; k < ESC_XML_NPARTS; k++)
        len += ev->parts[k].len;
    s->buf_len = 0;
    if (len > UINT32_MAX / 2 || !reserve(s, len, 0))
        return false;
    put_line(s, ev->channel);
    put_line(s, ev->computer);
    put_line(s, ev->xml);
    for (size_t i = 0; i < ev->nsys; i++) {
        put_line(s, ev->sys[i].name);
        put_line(s, ev->sys[i].value);
    }
    for (size_t i = 0; i < ev->ndata; i++) {
        put_line(s, ev->data[i].name);
        put_line(s, ev->data[i].value);
    }
    for (size_t k = 0; k < ESC_XML_NPARTS; k++)
        put_line(s, ev->parts[k]);
    return true;
}

void esc_litscan_text(esc_litscan *s, const esc_event *ev) {
    if (!s)
        return;
    const esc_litfilter *f = s->f;
    s->text_on = false;
    if (!f->text_db || ev->kind != ESC_EV_WINDOWS)
        return;
    /* the XML text as read, unless it holds an entity, a comment or CDATA section (its values
     * are then not its bytes; looked for apart, as one- and two-byte literals slowed the whole
     * scan): then, as for an event without text, the strings its fields come from */
    esc_str t = ev->text;
    if (!t.ptr || t.len > UINT32_MAX || memchr(t.ptr, '&', t.len) || has_markup_decl(t)) {
        if (!values_text(s, ev))
            return;
        t = esc_str_make(s->buf, s->buf_len);
    }
    memset(s->text_hit, 0, (f->nlit + 63) / 64 * sizeof *s->text_hit);
    if (hs_scan(f->text_db, t.ptr, (unsigned)t.len, 0, s->scratch, on_hit, s->text_hit) !=
        HS_SUCCESS)
        return;
    s->text_bound = esc_fields_joins(ev) ? 1 : 2;
    s->text_on = true;
}

/* A clause that may hold by the text check: one of its literals is not looked for in the
 * text, or is there. */
static bool text_clause(const esc_litscan *s, const lclause *c) {
    for (size_t j = 0; j < c->n; j++) {
        uint32_t id = c->id[j];
        if (!s->f->text_ok[id] || s->f->text_ok[id] > s->text_bound ||
            ((s->text_hit[id / 64] >> (id % 64)) & 1))
            return true;
    }
    return false;
}

bool esc_litscan_text_may_match(const esc_litscan *s, size_t i) {
    if (!s || !s->text_on)
        return true;
    const ldet *d = &s->f->det[i];
    if (d->open)
        return true;
    for (size_t k = 0; k < d->n; k++) {
        const lalt *a = &d->a[k];
        if (a->ds != ESC_DS_RAW)
            return true;
        size_t c = 0;
        while (c < a->n && text_clause(s, &a->c[c]))
            c++;
        if (c == a->n)
            return true;
    }
    return false;
}

bool esc_litscan_text_can(const esc_litscan *s, size_t i) {
    return s && s->f->text_db && !s->f->text_never[i];
}
