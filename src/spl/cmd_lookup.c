/* lookup [update=..] [local=..] NAME FIELD [AS F], ... [OUTPUT|OUTPUTNEW FIELD [AS F], ...] over
 * CSV tables: parsing, loading the CSV at plan time and enriching rows at exec time.
 *
 * Invariants: the CSV is read once, while the plan is built, into the plan's arena (RFC 4180:
 * quoted fields, doubled quotes, CRLF, a UTF-8 BOM); a row matches when every input field has a
 * value equal to the table's cell (ASCII case-insensitively unless case_sensitive_match; a
 * WILDCARD(column) cell is a '*' pattern); at most max_matches rows are used, in file order;
 * with fewer than min_matches matches the outputs take default_match. OUTPUT overwrites the
 * destination (with null when nothing matched and there is no default), OUTPUTNEW only fills
 * empty ones. A row missing an input field is left as it is.
 * inputlookup NAME (a pipeline's source, here for subsearches): the table's rows in file order,
 * its header the columns, an empty cell null; NAME is the definition's name or its CSV's file
 * name (`inputlookup linux_tool_discovery_process.csv`). It reads no records.
 * Limits: LOOKUP_MAX_BYTES (64 MiB) of CSV, 256 columns. Deliberately not done: KV-store
 * collections, time-based lookups, external lookups, inputlookup's options (append=, start=,
 * max=, where) which are refused by name. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "spl/cmd.h"

#define LOOKUP_MAX_BYTES (64u << 20)
#define LOOKUP_MAX_COLS 256

static esc_status oom(esc_error *err) {
    return esc_error_set(err, ESC_ENOMEM, "out of memory loading a lookup");
}

/* ---- parse ---- */

/* FIELD [AS NAME] lists of lookup, up to OUTPUT/OUTPUTNEW or the end. */
static bool lookup_fields(spl_parser *P, lk_field **out, size_t *nout, bool inputs) {
    lk_field tmp[ESC_SPL_MAX_ITEMS];
    size_t n = 0;
    while (!spl_at_end(P)) {
        if (inputs && (spl_kw_at(P, "OUTPUT", true) || spl_kw_at(P, "OUTPUTNEW", true)))
            break;
        if (n == ESC_SPL_MAX_ITEMS) {
            spl_fail(P, P->pos, "too many lookup fields");
            return false;
        }
        size_t l, s;
        const char *f = spl_word(P, ",", &l, &s);
        if (!f) {
            if (!P->failed)
                spl_fail(P, P->pos, "expected a field name");
            return false;
        }
        const char *as = f;
        if (spl_accept_kw(P, "as", true)) {
            size_t l2, s2;
            as = spl_word(P, ",", &l2, &s2);
            if (!as) {
                if (!P->failed)
                    spl_fail(P, P->pos, "expected a name after 'as'");
                return false;
            }
        }
        tmp[n++] = (lk_field){f, as, -1, -1, s};
        spl_skip_ws(P);
        if (spl_peek(P) == ',')
            P->pos++;
    }
    if (n) {
        *out = spl_alloc0(P, n * sizeof *tmp);
        if (!*out)
            return false;
        memcpy(*out, tmp, n * sizeof *tmp);
    }
    *nout = n;
    return true;
}

/* lookup [update=..] [local=..] NAME FIELD [AS F], ... [OUTPUT|OUTPUTNEW FIELD [AS F], ...] */
static bool parse_lookup(spl_parser *P, stage *st) {
    for (;;) {
        spl_skip_ws(P);
        size_t start = P->pos;
        size_t wl = spl_bare(P, "=,");
        if (wl == 0) {
            spl_fail(P, start, "lookup needs a lookup name");
            return false;
        }
        if (spl_peek(P) == '=') {
            const char *w = P->s + start;
            if (!((wl == 6 && strncmp(w, "update", 6) == 0) ||
                  (wl == 5 && strncmp(w, "local", 5) == 0))) {
                spl_fail(P, start, "unsupported lookup option '%.*s'", (int)wl, w);
                return false;
            }
            P->pos++;
            size_t vl, vs;
            if (!spl_word(P, "", &vl, &vs)) {
                if (!P->failed)
                    spl_fail(P, start, "missing option value");
                return false;
            }
            continue;
        }
        st->lookup_name = spl_dup(P, P->s + start, wl);
        st->lookup_start = start;
        if (!st->lookup_name)
            return false;
        break;
    }
    if (!lookup_fields(P, &st->lin, &st->nlin, true))
        return false;
    if (!st->nlin) {
        spl_fail(P, st->lookup_start, "lookup needs an input field");
        return false;
    }
    if (spl_accept_kw(P, "OUTPUTNEW", true))
        st->outputnew = true;
    else if (!spl_accept_kw(P, "OUTPUT", true))
        return true;
    if (!lookup_fields(P, &st->lout, &st->nlout, false))
        return false;
    if (!st->nlout) {
        spl_fail(P, P->pos, "OUTPUT needs a field");
        return false;
    }
    return true;
}

/* ---- plan: the CSV ---- */

/* Parse the CSV text into lt (strings in the arena). */
static esc_status parse_csv(esc_arena *a, const char *s, size_t n, lookup_table *lt,
                            const char *name, esc_error *err) {
    esc_buf field;
    esc_buf_init(&field, 0);
    const char **row = esc_malloc(LOOKUP_MAX_COLS * sizeof *row);
    size_t cap = 0, ncells = 0;
    const char **cells = NULL;
    size_t nf = 0, i = 0;
    esc_status rc = ESC_OK;
    if (!row) {
        rc = oom(err);
        goto done;
    }
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i <= n) {
        /* one field */
        esc_buf_clear(&field);
        if (i < n && s[i] == '"') {
            i++;
            for (;;) {
                if (i >= n) {
                    rc = esc_error_set(err, ESC_ECONTENT, "lookup '%s': unterminated quote", name);
                    goto done;
                }
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        esc_buf_putc(&field, '"');
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                esc_buf_putc(&field, s[i++]);
            }
        }
        while (i < n && s[i] != ',' && s[i] != '\n' && s[i] != '\r')
            esc_buf_putc(&field, s[i++]);
        if (nf == LOOKUP_MAX_COLS) {
            rc = esc_error_set(err, ESC_ELIMIT, "lookup '%s': more than %d columns", name,
                               LOOKUP_MAX_COLS);
            goto done;
        }
        row[nf] = esc_arena_strdup(a, field.ptr ? field.ptr : "");
        if (!row[nf]) {
            rc = oom(err);
            goto done;
        }
        nf++;
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        /* end of record */
        if (i < n && s[i] == '\r')
            i++;
        if (i < n && s[i] == '\n')
            i++;
        bool blank = nf == 1 && row[0][0] == 0;
        if (!blank) {
            if (!lt->hdr) {
                lt->ncols = nf;
                lt->hdr = esc_arena_alloc(a, nf * sizeof *lt->hdr);
                if (!lt->hdr) {
                    rc = oom(err);
                    goto done;
                }
                memcpy(lt->hdr, row, nf * sizeof *row);
            } else {
                if (!ESC_VEC_GROW(cells, cap, ncells + lt->ncols, 1024)) {
                    rc = oom(err);
                    goto done;
                }
                for (size_t k = 0; k < lt->ncols; k++)
                    cells[ncells + k] = k < nf ? row[k] : "";
                ncells += lt->ncols;
                lt->nrows++;
            }
        }
        nf = 0;
        if (i >= n)
            break;
    }
    if (!lt->hdr) {
        rc = esc_error_set(err, ESC_ECONTENT, "lookup '%s': the CSV has no header", name);
        goto done;
    }
    lt->cells = esc_arena_alloc(a, (ncells ? ncells : 1) * sizeof *lt->cells);
    if (!lt->cells) {
        rc = oom(err);
        goto done;
    }
    if (ncells)
        memcpy(lt->cells, cells, ncells * sizeof *cells);
done:
    esc_free(cells);
    esc_free(row);
    esc_buf_fini(&field);
    return rc;
}

static esc_status load(esc_plan *p, const esc_spl_lookup *def, lookup_table *lt, size_t at,
                       esc_error *err) {
    FILE *f = fopen(def->csv_path, "rb");
    if (!f)
        return esc_error_at(err, ESC_ECONTENT, NULL, at, "lookup '%s': cannot read %s", def->name,
                            def->csv_path);
    esc_buf b;
    esc_buf_init(&b, LOOKUP_MAX_BYTES);
    char chunk[65536];
    size_t got;
    esc_status rc = ESC_OK;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if ((rc = esc_buf_append(&b, chunk, got)) != ESC_OK) {
            rc = esc_error_at(err, rc, NULL, at, "lookup '%s': CSV larger than %u bytes", def->name,
                              LOOKUP_MAX_BYTES);
            break;
        }
    }
    fclose(f);
    if (rc == ESC_OK)
        rc = parse_csv(&p->arena, b.ptr ? b.ptr : "", b.len, lt, def->name, err);
    esc_buf_fini(&b);
    return rc;
}

static int hdr_find(const lookup_table *lt, const char *name) {
    for (size_t i = 0; i < lt->ncols; i++)
        if (strcmp(lt->hdr[i], name) == 0)
            return (int)i;
    return -1;
}

/* The table of definition def (NULL: none was found), read into the plan's arena: unknown
 * lookups and KV-store ones (no CSV) are refused at the stage's lookup name. */
static esc_status open_table(esc_plan *p, const stage *st, const esc_spl_lookup *def,
                             lookup_table **out, esc_error *err) {
    if (!def)
        return esc_error_at(err, ESC_ECONTENT, NULL, st->lookup_start, "unknown lookup '%s'",
                            st->lookup_name);
    if (!def->csv_path)
        return esc_error_at(err, ESC_ECONTENT, NULL, st->lookup_start,
                            "lookup '%s' has no CSV (KV-store collections are not read; a later "
                            "--content folder can give it one)",
                            def->name);
    lookup_table *lt = esc_arena_alloc(&p->arena, sizeof *lt);
    if (!lt)
        return oom(err);
    memset(lt, 0, sizeof *lt);
    *out = lt;
    return load(p, def, lt, st->lookup_start, err);
}

/* The table of external lookup ext: its fields as the header, no rows. */
static esc_status ext_table(esc_plan *p, const spl_ext_lookup *ext, lookup_table **out,
                            esc_error *err) {
    lookup_table *lt = esc_arena_alloc(&p->arena, sizeof *lt);
    if (!lt)
        return oom(err);
    memset(lt, 0, sizeof *lt);
    lt->hdr = (const char **)ext->fields;
    lt->ncols = ext->nfields;
    lt->ext = ext;
    *out = lt;
    return ESC_OK;
}

/* A cell "*X*" of a case-insensitive wildcard column whose X holds no '*'. */
static bool is_sub(const lookup_table *lt, size_t i) {
    const char *v = lt->cells[i];
    size_t n = lt->clen[i];
    return lt->ci && lt->wild[i % lt->ncols] && n >= 3 && v[0] == '*' && v[n - 1] == '*' &&
           !memchr(v + 1, '*', n - 2);
}

#define SUB_BUCKETS 256

static size_t sub_hash(const char *x) {
    return ((size_t)(unsigned char)x[0] * 31 + (unsigned char)x[1]) & (SUB_BUCKETS - 1);
}

/* lt->sub_head, lt->sub_next (left NULL when an X has one character). */
static esc_status plan_sub_index(esc_plan *p, lookup_table *lt) {
    size_t ncells = lt->nrows * lt->ncols;
    for (size_t i = 0; i < ncells; i++)
        if (lt->sub[i] && lt->clen[i] < 4)
            return ESC_OK;
    lt->sub_head = esc_arena_alloc(&p->arena, SUB_BUCKETS * sizeof *lt->sub_head);
    lt->sub_next = esc_arena_alloc(&p->arena, ncells * sizeof *lt->sub_next);
    if (!lt->sub_head || !lt->sub_next)
        return ESC_ENOMEM;
    memset(lt->sub_head, 0, SUB_BUCKETS * sizeof *lt->sub_head);
    for (size_t i = ncells; i-- > 0;) {
        lt->sub_next[i] = 0;
        if (!lt->sub[i])
            continue;
        size_t h = sub_hash(lt->sub[i]);
        lt->sub_next[i] = lt->sub_head[h];
        lt->sub_head[h] = (uint32_t)i + 1;
    }
    return ESC_OK;
}

/* Set bit i of hit for each "*X*" cell i whose X is in lv (lowercased, vl bytes): every
 * position of lv looks up the cells whose X starts with its two characters. */
static void sub_scan(const lookup_table *lt, const char *lv, size_t vl, uint64_t *hit) {
    for (size_t at = 0; at + 1 < vl; at++)
        for (uint32_t c = lt->sub_head[sub_hash(lv + at)]; c; c = lt->sub_next[c - 1]) {
            size_t i = c - 1, xl = lt->clen[i] - 2;
            if (xl <= vl - at && memcmp(lv + at, lt->sub[i], xl) == 0)
                hit[i / 64] |= 1ull << (i % 64);
        }
}

/* lt->sub: the substring patterns of its case-insensitive wildcard columns. */
static esc_status plan_subs(esc_plan *p, lookup_table *lt) {
    size_t ncells = lt->nrows * lt->ncols, any = 0;
    lt->sub = NULL;
    lt->sub_head = lt->sub_next = NULL;
    for (size_t i = 0; i < ncells; i++)
        any += is_sub(lt, i);
    if (!any)
        return ESC_OK;
    if (!(lt->sub = esc_arena_alloc(&p->arena, ncells * sizeof *lt->sub)))
        return ESC_ENOMEM;
    for (size_t i = 0; i < ncells; i++) {
        lt->sub[i] = NULL;
        if (!is_sub(lt, i))
            continue;
        size_t n = lt->clen[i];
        char *x = esc_arena_alloc(&p->arena, n - 1);
        if (!x)
            return ESC_ENOMEM;
        for (size_t k = 0; k < n - 2; k++)
            x[k] = (char)esc_lower((unsigned char)lt->cells[i][k + 1]);
        x[n - 2] = 0;
        lt->sub[i] = x;
    }
    return plan_sub_index(p, lt);
}

/* Cell i of column col is found through the key index by its first characters: not a "*X*"
 * cell (sub_scan finds those), not empty and not starting with a wildcard (key_any rows). */
static bool keyed(const lookup_table *lt, size_t col, size_t i) {
    return !(lt->sub_head && lt->sub[i]) && lt->clen[i] &&
           !(lt->wild[col] && lt->cells[i][0] == '*');
}

#define SPL_LOOKUP_KEY_LEN 8

/* The key index's bucket of the first lt->key_len characters of s (which has as many). */
static size_t key_hash(const lookup_table *lt, const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < lt->key_len; i++) {
        unsigned char c = (unsigned char)s[i];
        h = (h ^ (lt->ci ? esc_lower(c) : c)) * 0x100000001b3ULL;
    }
    return (size_t)(h ^ (h >> 32)) & lt->key_mask;
}

/* The key index of column col (see lookup_table). A row's cell can only match a value that
 * starts with its text before any '*' (all of it in a column without wildcards), so a value is
 * looked up by its first key_len characters: indexed by the first character alone, 10,000
 * cells `h00000*` ... `h49995*` were one chain, and 50,010 rows against them took 11 s. */
static esc_status plan_key(esc_plan *p, lookup_table *lt, int col) {
    size_t n = lt->nrows, nkeyed = 0;
    lt->key_len = SPL_LOOKUP_KEY_LEN;
    for (size_t r = 0; r < n; r++) {
        size_t i = r * lt->ncols + (size_t)col;
        if (!keyed(lt, (size_t)col, i))
            continue;
        size_t fixed = lt->wild[col] ? strcspn(lt->cells[i], "*") : lt->clen[i];
        lt->key_len = fixed < lt->key_len ? fixed : lt->key_len;
        nkeyed++;
    }
    size_t buckets = 256;
    while (buckets < 2 * nkeyed)
        buckets *= 2;
    lt->key_mask = buckets - 1;
    lt->key_head = esc_arena_alloc(&p->arena, buckets * sizeof *lt->key_head);
    lt->key_next = esc_arena_alloc(&p->arena, (n ? n : 1) * sizeof *lt->key_next);
    lt->key_any = esc_arena_alloc(&p->arena, (n ? n : 1) * sizeof *lt->key_any);
    if (!lt->key_head || !lt->key_next || !lt->key_any)
        return ESC_ENOMEM;
    memset(lt->key_head, 0, buckets * sizeof *lt->key_head);
    lt->nkey_any = 0;
    lt->key_sub = false;
    for (size_t r = 0; r < n; r++) {
        size_t i = r * lt->ncols + (size_t)col;
        lt->key_next[r] = 0;
        if (lt->sub_head && lt->sub[i])
            lt->key_sub = true;
        else if (!keyed(lt, (size_t)col, i))
            lt->key_any[lt->nkey_any++] = (uint32_t)r;
    }
    for (size_t r = n; r-- > 0;) {
        size_t i = r * lt->ncols + (size_t)col;
        if (!keyed(lt, (size_t)col, i))
            continue;
        size_t b = key_hash(lt, lt->cells[i]);
        lt->key_next[r] = lt->key_head[b];
        lt->key_head[b] = (uint32_t)r + 1;
    }
    lt->key_col = col;
    return ESC_OK;
}

static esc_status plan_lookup(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    const esc_spl_lookup *def = NULL;
    if (p->env)
        for (size_t i = p->env->nlookups; i > 0 && !def; i--)
            if (strcmp(p->env->lookups[i - 1].name, st->lookup_name) == 0)
                def = &p->env->lookups[i - 1];
    const spl_ext_lookup *ext = def ? NULL : spl_ext_lookup_find(st->lookup_name);
    lookup_table *lt = NULL;
    esc_status rc = ext ? ext_table(p, ext, &lt, err) : open_table(p, st, def, &lt, err);
    if (rc != ESC_OK)
        return rc;
    if (ext)
        def = &ext->def;
    lt->ci = !def->case_sensitive;
    lt->dflt = def->default_match ? esc_arena_strdup(&p->arena, def->default_match) : NULL;
    lt->min_matches = def->min_matches;
    lt->max_matches = def->max_matches ? def->max_matches : 100;
    lt->wild = esc_arena_alloc(&p->arena, lt->ncols * sizeof *lt->wild);
    size_t ncells = lt->nrows * lt->ncols;
    lt->clen = esc_arena_alloc(&p->arena, (ncells ? ncells : 1) * sizeof *lt->clen);
    if (!lt->wild || !lt->clen || (def->default_match && !lt->dflt))
        return oom(err);
    for (size_t i = 0; i < ncells; i++)
        lt->clen[i] = (uint32_t)strlen(lt->cells[i]);
    for (size_t c = 0; c < lt->ncols; c++) {
        char pat[300];
        snprintf(pat, sizeof pat, "WILDCARD(%s)", lt->hdr[c]);
        lt->wild[c] = def->match_type && strstr(def->match_type, pat) != NULL;
    }
    if ((rc = plan_subs(p, lt)) != ESC_OK)
        return oom(err);
    st->lt = lt;
    for (size_t k = 0; k < st->nlin; k++) {
        lk_field *f = &st->lin[k];
        f->csv_col = hdr_find(lt, f->csv);
        if (f->csv_col < 0)
            return esc_error_at(err, ESC_ECONTENT, NULL, f->start, "lookup '%s' has no column '%s'",
                                def->name, f->csv);
        f->row_col = -1;
        for (size_t c = 0; c < in->n; c++)
            if (strcmp(in->name[c], f->row) == 0)
                f->row_col = (int)c;
    }
    lt->key_col = -1;
    if (st->nlin && plan_key(p, lt, st->lin[0].csv_col) != ESC_OK)
        return oom(err);
    if (!st->nlout) {
        /* no OUTPUT: every column that is not an input */
        st->lout = esc_arena_alloc(&p->arena, lt->ncols * sizeof *st->lout);
        if (!st->lout)
            return oom(err);
        for (size_t c = 0; c < lt->ncols; c++) {
            bool used = false;
            for (size_t k = 0; k < st->nlin; k++)
                used |= st->lin[k].csv_col == (int)c;
            if (!used)
                st->lout[st->nlout++] = (lk_field){lt->hdr[c], lt->hdr[c], (int)c, -1, 0};
        }
    }
    /* output schema: the input columns plus the destinations */
    schema *o = &st->out;
    o->n = in->n;
    size_t m = in->n + st->nlout;
    o->name = esc_arena_alloc(&p->arena, (m ? m : 1) * sizeof *o->name);
    o->mv = esc_arena_alloc(&p->arena, (m ? m : 1) * sizeof *o->mv);
    o->origin = esc_arena_alloc(&p->arena, (m ? m : 1) * sizeof *o->origin);
    if (!o->name || !o->mv || !o->origin)
        return oom(err);
    for (size_t c = 0; c < in->n; c++) {
        o->name[c] = in->name[c];
        o->mv[c] = in->mv[c];
        o->origin[c] = in->origin[c];
    }
    for (size_t k = 0; k < st->nlout; k++) {
        lk_field *f = &st->lout[k];
        if (f->csv_col < 0)
            f->csv_col = hdr_find(lt, f->csv);
        if (f->csv_col < 0)
            return esc_error_at(err, ESC_ECONTENT, NULL, f->start, "lookup '%s' has no column '%s'",
                                def->name, f->csv);
        int c = -1;
        for (size_t j = 0; j < o->n; j++)
            if (strcmp(o->name[j], f->row) == 0)
                c = (int)j;
        if (c < 0) {
            c = (int)o->n++;
            o->name[c] = f->row;
        }
        o->mv[c] = false;
        o->origin[c] = -1;
        f->row_col = c;
    }
    return ESC_OK;
}

/* Characters a and b equal (ASCII case-insensitively when ci). */
static bool same_char(bool ci, char a, char b) {
    return ci ? esc_lower((unsigned char)a) == esc_lower((unsigned char)b) : a == b;
}

/* Cell i (of column col) matches v. cl, vl: the lengths of cell and v; lv: v lowercased, or
 * NULL; sb: the "*X*" cells found in lv (sub_scan), or NULL. The glob matches the whole value, so a
 * pattern's first character, unless '*', must be v's first, and its last, unless '*', v's last;
 * "*X*" is a substring test. */
static bool cell_matches(const lookup_table *lt, size_t col, size_t i, size_t cl, const char *v,
                         size_t vl, const char *lv, const uint64_t *sb) {
    const char *cell = lt->cells[i];
    if (lt->wild[col]) {
        if (lv && lt->sub && lt->sub[i])
            return sb ? (sb[i / 64] >> (i % 64)) & 1 : memmem(lv, vl, lt->sub[i], cl - 2) != NULL;
        if (cl && cell[0] != '*' && (!vl || !same_char(lt->ci, cell[0], v[0])))
            return false;
        if (cl && cell[cl - 1] != '*' && (!vl || !same_char(lt->ci, cell[cl - 1], v[vl - 1])))
            return false;
        return lt->ci ? spl_glob_imatch(cell, cl, v, vl) : spl_glob_match(cell, cl, v, vl);
    }
    return cl == vl && (lt->ci ? esc_str_ieq(esc_str_make(cell, cl), esc_str_make(v, vl))
                               : memcmp(cell, v, vl) == 0);
}

/* ---- run ---- */

#define LOOKUP_LENS 8 /* input fields and values per field whose lengths a row computes once */

/* One input row's values as the lookup's rows are matched against them. */
typedef struct lrow {
    const stage *st;
    const lookup_table *lt;
    esc_cell *row;
    size_t vlen[LOOKUP_LENS][LOOKUP_LENS]; /* the lengths of the first values */
    char *low[LOOKUP_LENS][LOOKUP_LENS];   /* and them lowercased, for lt->sub */
    uint64_t *sbits;                       /* per first value: the cells sub_scan found */
    size_t words;
    uint64_t *rbits; /* the rows the key index leaves (key_rows) */
    size_t rwords;
} lrow;

static const uint64_t *row_sbits(const lrow *w, size_t k, size_t i) {
    return w->sbits ? &w->sbits[(k * LOOKUP_LENS + i) * w->words] : NULL;
}

/* Lookup row lr matches: each input field has a value matching its cell. */
static bool row_matches(const lrow *w, size_t lr) {
    const lookup_table *lt = w->lt;
    const uint32_t *clen = &lt->clen[lr * lt->ncols];
    for (size_t k = 0; k < w->st->nlin; k++) {
        const lk_field *f = &w->st->lin[k];
        const esc_cell *c = &w->row[f->row_col];
        bool any = false;
        for (size_t i = 0; i < c->n && !any; i++) {
            bool first = k < LOOKUP_LENS && i < LOOKUP_LENS;
            any = cell_matches(lt, (size_t)f->csv_col, lr * lt->ncols + (size_t)f->csv_col,
                               clen[f->csv_col], c->v[i], first ? w->vlen[k][i] : strlen(c->v[i]),
                               first ? w->low[k][i] : NULL, first ? row_sbits(w, k, i) : NULL);
        }
        if (!any)
            return false;
    }
    return true;
}

/* The lengths, lowercased values and sub_scan bits of the row's first values. */
static void row_prepare(lrow *w) {
    const stage *st = w->st;
    for (size_t k = 0; k < st->nlin && k < LOOKUP_LENS; k++)
        for (size_t i = 0; i < w->row[st->lin[k].row_col].n && i < LOOKUP_LENS; i++) {
            const char *v = w->row[st->lin[k].row_col].v[i];
            size_t n = w->vlen[k][i] = strlen(v);
            w->low[k][i] = NULL;
            if (!w->lt->sub || !w->lt->wild[st->lin[k].csv_col] ||
                !(w->low[k][i] = esc_malloc(n + 1)))
                continue;
            for (size_t j = 0; j <= n; j++)
                w->low[k][i][j] = (char)esc_lower((unsigned char)v[j]);
            if (w->sbits) {
                uint64_t *sb = &w->sbits[(k * LOOKUP_LENS + i) * w->words];
                memset(sb, 0, w->words * sizeof *sb);
                sub_scan(w->lt, w->low[k][i], n, sb);
            }
        }
}

/* The first input field's values can use the key index: few enough, and with their
 * sub_scan bits when its column has "*X*" cells. */
static bool key_usable(const lrow *w) {
    if (w->lt->key_col < 0 || !w->rbits)
        return false;
    const esc_cell *c = &w->row[w->st->lin[0].row_col];
    bool ok = c->n <= LOOKUP_LENS && (!w->lt->key_sub || w->sbits);
    for (size_t i = 0; ok && w->lt->key_sub && i < c->n; i++)
        ok = w->low[0][i] != NULL;
    return ok;
}

/* Into w->rbits: the lookup rows the key index leaves for the input row. */
static void key_rows(const lrow *w) {
    const lookup_table *lt = w->lt;
    const esc_cell *c = &w->row[w->st->lin[0].row_col];
    size_t col = (size_t)lt->key_col;
    memset(w->rbits, 0, w->rwords * sizeof *w->rbits);
    for (size_t k = 0; k < lt->nkey_any; k++)
        w->rbits[lt->key_any[k] / 64] |= 1ull << (lt->key_any[k] % 64);
    for (size_t i = 0; i < c->n; i++) {
        if (w->vlen[0][i] >= lt->key_len) /* (a shorter one matches only the key_any rows) */
            for (uint32_t r = lt->key_head[key_hash(lt, c->v[i])]; r; r = lt->key_next[r - 1])
                w->rbits[(r - 1) / 64] |= 1ull << ((r - 1) % 64);
        for (size_t b = 0; lt->key_sub && b < w->words; b++)
            for (uint64_t m = row_sbits(w, 0, i)[b]; m; m &= m - 1) {
                size_t cell = b * 64 + (size_t)__builtin_ctzll(m);
                if (cell % lt->ncols == col)
                    w->rbits[cell / lt->ncols / 64] |= 1ull << (cell / lt->ncols % 64);
            }
    }
}

/* The lookup rows matching the input row, in file order, up to max_matches, into hits. */
static size_t row_hits(const lrow *w, size_t *hits) {
    const lookup_table *lt = w->lt;
    size_t nh = 0;
    if (!key_usable(w)) {
        for (size_t lr = 0; lr < lt->nrows && nh < lt->max_matches; lr++)
            if (row_matches(w, lr))
                hits[nh++] = lr;
        return nh;
    }
    key_rows(w);
    for (size_t b = 0; b < w->rwords && nh < lt->max_matches; b++)
        for (uint64_t m = w->rbits[b]; m && nh < lt->max_matches; m &= m - 1) {
            size_t lr = b * 64 + (size_t)__builtin_ctzll(m);
            if (row_matches(w, lr))
                hits[nh++] = lr;
        }
    return nh;
}

/* The output fields of the input row from its nh hits. */
static esc_status row_output(const stage *st, esc_cell *row, const size_t *hits, size_t nh,
                             esc_str *vals) {
    const lookup_table *lt = st->lt;
    for (size_t k = 0; k < st->nlout; k++) {
        const lk_field *f = &st->lout[k];
        esc_cell *dst = &row[f->row_col];
        if (st->outputnew && dst->n)
            continue;
        size_t nv = 0;
        if (nh < lt->min_matches || nh == 0) {
            if (lt->dflt && nh < lt->min_matches)
                vals[nv++] = esc_str_c(lt->dflt);
        } else {
            for (size_t h = 0; h < nh; h++) {
                const char *v = lt->cells[hits[h] * lt->ncols + (size_t)f->csv_col];
                if (*v)
                    vals[nv++] = esc_str_c(v);
            }
        }
        if (!spl_cell_set(dst, vals, nv))
            return ESC_ENOMEM;
        dst->is_num = false;
    }
    return ESC_OK;
}

/* An external lookup's outputs for each row: the computed field of each value of the input
 * field, in the order of the values; an OUTPUT of the input field itself gets its value as it
 * was (copied first, before a computed output may replace it). */
static esc_status run_ext(const stage *st, esc_table *t, esc_error *err) {
    const spl_ext_lookup *ext = st->lt->ext;
    for (size_t r = 0; r < t->nrows; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        int in = st->lin[0].row_col;
        if (in < 0 || row[in].n == 0)
            continue;
        size_t n = row[in].n;
        char *text = esc_malloc(n * SPL_EXT_OUT);
        esc_str *vals = esc_malloc(n * sizeof *vals);
        bool ok = text && vals;
        for (size_t i = 0; i < n && ok; i++)
            if ((ok = ext->compute(row[in].v[i], strlen(row[in].v[i]), text + i * SPL_EXT_OUT)))
                vals[i] = esc_str_c(text + i * SPL_EXT_OUT);
        for (int pass = 0; pass < 2; pass++) /* the input field's copies, then the computed */
            for (size_t k = 0; k < st->nlout && ok; k++) {
                esc_cell *dst = &row[st->lout[k].row_col];
                bool copy = st->lout[k].csv_col == 0;
                if (copy != (pass == 0) || (st->outputnew && dst->n) || (copy && dst == &row[in]))
                    continue;
                ok = copy ? spl_cell_copy(dst, &row[in]) : spl_cell_set(dst, vals, n);
                dst->is_num &= copy;
            }
        esc_free(text);
        esc_free(vals);
        if (!ok)
            return oom(err);
    }
    return ESC_OK;
}

static esc_status run_lookup(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    const lookup_table *lt = st->lt;
    esc_status rc = spl_table_widen(t, &st->out, err);
    if (rc != ESC_OK)
        return rc;
    if (lt->ext)
        return run_ext(st, t, err);
    lrow w = {.st = st,
              .lt = lt,
              .words = (lt->nrows * lt->ncols + 63) / 64,
              .rwords = (lt->nrows + 63) / 64};
    size_t *hits = esc_malloc(lt->max_matches * sizeof *hits);
    esc_str *vals = esc_malloc(lt->max_matches * sizeof *vals);
    if (lt->sub_head)
        w.sbits = esc_malloc(LOOKUP_LENS * LOOKUP_LENS * w.words * sizeof *w.sbits);
    if (lt->key_col >= 0)
        w.rbits = esc_malloc((w.rwords ? w.rwords : 1) * sizeof *w.rbits);
    if (!hits || !vals) {
        rc = oom(err);
        goto done;
    }
    for (size_t r = 0; r < t->nrows && rc == ESC_OK; r++) {
        w.row = &t->cells[r * t->ncols];
        bool have = true;
        for (size_t k = 0; k < st->nlin && have; k++)
            have = st->lin[k].row_col >= 0 && w.row[st->lin[k].row_col].n > 0;
        if (!have)
            continue;
        row_prepare(&w);
        size_t nh = row_hits(&w, hits);
        for (size_t k = 0; k < st->nlin && k < LOOKUP_LENS; k++)
            for (size_t i = 0; i < w.row[st->lin[k].row_col].n && i < LOOKUP_LENS; i++)
                esc_free(w.low[k][i]);
        if (row_output(st, w.row, hits, nh, vals) != ESC_OK)
            rc = oom(err);
    }
done:
    esc_free(hits);
    esc_free(vals);
    esc_free(w.sbits);
    esc_free(w.rbits);
    return rc;
}

static void explain_lookup(const stage *st, esc_buf *out) {
    esc_buf_printf(out, " %s (%zu rows)", st->lookup_name, st->lt ? st->lt->nrows : 0);
}

const spl_cmd spl_cmd_lookup = {
    .name = "lookup",
    .parse = parse_lookup,
    .plan = plan_lookup,
    .run = run_lookup,
    .explain = explain_lookup,
};

/* ---- inputlookup ---- */

static bool parse_inputlookup(spl_parser *P, stage *st) {
    size_t l, at;
    spl_skip_ws(P);
    size_t opt = P->pos;
    size_t wl = spl_bare(P, "=");
    if (spl_peek(P) == '=')
        return spl_fail(P, opt, "unsupported inputlookup option '%.*s'", (int)wl, P->s + opt) !=
               NULL;
    P->pos = opt;
    const char *name = spl_word(P, "", &l, &at);
    if (!name)
        return spl_fail(P, P->pos, "inputlookup needs a lookup name") != NULL;
    st->lookup_name = name;
    st->lookup_start = at;
    P->p->ds = ESC_DS_N; /* no dataset: it reads no records */
    return spl_expect_end(P, "inputlookup");
}

static esc_status plan_inputlookup(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    (void)in;
    const esc_spl_lookup *def = NULL;
    for (size_t i = p->env ? p->env->nlookups : 0; i > 0 && !def; i--) {
        const esc_spl_lookup *d = &p->env->lookups[i - 1];
        const char *base = d->csv_path ? strrchr(d->csv_path, '/') : NULL;
        base = base ? base + 1 : d->csv_path;
        if (!strcmp(d->name, st->lookup_name) || (base && !strcmp(base, st->lookup_name)))
            def = d;
    }
    lookup_table *lt = NULL;
    esc_status rc = open_table(p, st, def, &lt, err);
    if (rc != ESC_OK)
        return rc;
    st->lt = lt;
    if (!spl_schema_alloc(p, &st->out, lt->ncols ? lt->ncols : 1))
        return oom(err);
    st->out.n = 0;
    for (size_t c = 0; c < lt->ncols; c++)
        spl_schema_add(&st->out, lt->hdr[c]);
    return ESC_OK;
}

esc_table *spl_inputlookup_table(const stage *st) {
    const lookup_table *lt = st->lt;
    esc_table *t = spl_table_new(&st->out, lt->nrows);
    for (size_t r = 0; t && r < lt->nrows; r++)
        for (size_t c = 0; c < lt->ncols; c++) {
            const char *v = lt->cells[r * lt->ncols + c];
            esc_str s = esc_str_c(v);
            if (*v && !spl_cell_set(&t->cells[r * t->ncols + c], &s, 1)) {
                esc_table_free(t);
                return NULL;
            }
        }
    return t;
}

const spl_cmd spl_cmd_inputlookup = {
    .name = "inputlookup",
    .flags = SPL_CMD_SOURCE,
    .parse = parse_inputlookup,
    .plan = plan_inputlookup,
    .explain = explain_lookup,
};
